"""A separate process writing to a consent ledger, for the multi-process tests.

Run as ``python tests/consent_worker.py MODE URL [ARGS]``:

- ``mixed URL SEED OPS USERS``: OPS random grants, revokes, uses and checks; prints one JSON
  line: how many events this process appended, and how many operations of each kind it ran.
- ``grant URL``: grants forever, printing each record ID on its own line once ``grant``
  returned (so the parent knows it was acknowledged); the parent kills it.
- ``revoke URL USER``: revokes every scope of USER and prints ``done``.
- ``claim URL CLAIM RECORD...``: prints ``ready`` once the ledger is open, waits for a line
  on stdin (so that every process starts claiming together), tries to claim each record
  under CLAIM, and prints one JSON line: the records it won.
- ``hold URL RECORD CLAIM NOW UNTIL``: with its clock stopped at NOW (ISO 8601), claims
  RECORD under CLAIM until UNTIL, prints ``claimed True`` (or ``False``), and then waits,
  holding it, for the parent to kill it.
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

import twpolicy

SCOPES = ("tweet.write", "like.write", "follows.write", "dm.write")
NOTICE = twpolicy.Notice("worker-notice", "1")


def mixed(url: str, seed: int, ops: int, users: int) -> None:
    """Run a random mix of operations; report what was appended."""
    rng = random.Random(seed)  # noqa: S311  # a reproducible load, not a secret
    ledger = twpolicy.open_ledger(url)
    appended = 0
    kinds: Counter[str] = Counter()
    bound: list[str] = []
    for i in range(ops):
        user = str(1000 + rng.randrange(users))
        roll = rng.random()
        if roll < 0.25:
            content = f"{seed:08x}{i:056x}" if rng.random() < 0.25 else None
            record = ledger.grant(
                user,
                rng.sample(SCOPES, rng.randint(1, 3)),
                notice=NOTICE,
                method="worker",
                evidence=f"{seed}-{i}",
                content_sha256=content,
            )
            if content is not None:
                bound.append(record.record_id)
            appended += 1
            kinds["grant"] += 1
        elif roll < 0.40:
            scopes = None if rng.random() < 0.3 else rng.sample(SCOPES, rng.randint(1, 2))
            appended += len(ledger.revoke(user, scopes, reason="worker"))
            kinds["revoke"] += 1
        elif roll < 0.45 and bound:
            try:
                ledger.use(bound.pop(rng.randrange(len(bound))))
            except twpolicy.ConfigurationError:  # revoked meanwhile: a refused use appends nothing
                kinds["refused_use"] += 1
            else:
                appended += 1
                kinds["use"] += 1
        else:
            ledger.check(user, rng.choice(SCOPES))
            kinds["check"] += 1
    ledger.close()
    sys.stdout.write(json.dumps({"appended": appended, "kinds": kinds}) + "\n")


def grant_forever(url: str) -> None:
    """Grant until killed, acknowledging each grant after it returned."""
    ledger = twpolicy.open_ledger(url)
    i = 0
    while True:
        i += 1
        record = ledger.grant(
            str(5000 + i % 7), ["tweet.write"], notice=NOTICE, method="worker", evidence=str(i)
        )
        sys.stdout.write(record.record_id + "\n")
        sys.stdout.flush()


def revoke(url: str, user: str) -> None:
    """Withdraw every scope of ``user``."""
    with twpolicy.open_ledger(url) as ledger:
        ledger.revoke(user, reason="opt-out from another process")
    sys.stdout.write("done\n")


def claim(url: str, claim_id: str, records: list[str]) -> None:
    """Claim every record once all processes are ready; report the ones won."""
    with twpolicy.open_ledger(url) as ledger:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()  # the parent's start signal
        until = datetime.now(timezone.utc) + timedelta(hours=1)
        won = [record for record in records if ledger.claim(record, claim_id, until=until)]
    sys.stdout.write(json.dumps({"won": won}) + "\n")


def hold(url: str, record: str, claim_id: str, now: str, until: str) -> None:
    """Claim ``record`` at a stopped clock, say so, and hold it until killed."""
    at = datetime.fromisoformat(now)
    ledger = twpolicy.open_ledger(url, clock=lambda: at)
    won = ledger.claim(record, claim_id, until=datetime.fromisoformat(until))
    sys.stdout.write(f"claimed {won}\n")
    sys.stdout.flush()
    sys.stdin.readline()  # never answered: the parent kills this process


if __name__ == "__main__":
    mode, url, *rest = sys.argv[1:]
    if mode == "mixed":
        mixed(url, int(rest[0]), int(rest[1]), int(rest[2]))
    elif mode == "grant":
        grant_forever(url)
    elif mode == "revoke":
        revoke(url, rest[0])
    elif mode == "claim":
        claim(url, rest[0], rest[1:])
    elif mode == "hold":
        hold(url, *rest)
    else:
        sys.exit(f"unknown mode {mode!r}")

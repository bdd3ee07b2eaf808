"""A sample decision log, consent ledger and quota ledger for the report tests and the docs.

Deterministic (a fake clock, fixed users): ten days of posts on users' behalf, a few without
consent (warned, then refused once enforcing), unknown routes, exports to two recipients, and
consent granted and revoked along the way.
"""

import contextlib
import warnings
from datetime import datetime, timedelta, timezone

import twpolicy
from twpolicy import Action, ActionKind

START = datetime(2026, 11, 20, 8, tzinfo=timezone.utc)
NOTICE = {"notice": twpolicy.Notice("post-dialog-v1"), "method": "ui_explicit", "evidence": "r"}


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now


def post(user):
    return Action(
        kind=ActionKind.API_CALL,
        operation="POST /2/tweets",
        category="write",
        acting_user_id=user,
        scopes={"tweet.write"},
    )


def export(recipient, count, content="tweet_ids"):
    return Action(
        kind=ActionKind.EXPORT,
        operation="share_dataset",
        recipient=recipient,
        count=count,
        facts={"content": content},
        payload=[str(n) for n in range(1, count + 1)] if content == "tweet_ids" else None,
    )


def attempt(guard, action):
    """Act under a permit, as an application does; a refusal just means it did not happen."""
    with contextlib.suppress(twpolicy.PolicyViolation), guard.permit(action):
        pass


def build(folder):
    """Write decisions.jsonl, consent.db and quotas.db into ``folder``; return their names."""
    clock = Clock()
    consent = f"sqlite:///{folder / 'consent.db'}"
    quotas = f"sqlite:///{folder / 'quotas.db'}"
    ledger = twpolicy.open_ledger(consent, clock=clock)
    quota_ledger = twpolicy.open_quotas(quotas, clock=clock)
    quota_ledger.register("lab-a", entity="university-a")
    quota_ledger.register("lab-b", entity="university-b")
    log = twpolicy.DecisionFile(folder / "decisions.jsonl")
    users = [str(1000 + n) for n in range(8)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", twpolicy.TwPolicyWarning)
        for day in range(10):
            mode = "warn" if day < 5 else "enforce"
            guard = twpolicy.Guard(
                ledger=ledger, quotas=quota_ledger, mode=mode, sinks=[log], clock=clock,
                rule_modes={"endpoint.known": "enforce"},
            )  # fmt: skip
            clock.now = START + timedelta(days=day)
            if day < len(users):
                ledger.grant(users[day], ["tweet.write"], **NOTICE)
            if day == 7:
                ledger.revoke(users[1], ["tweet.write"], reason="user asked")
            for n in range(12):
                clock.now += timedelta(minutes=30)
                user = users[(day + n) % len(users)]
                attempt(guard, post(user))
            if day % 3 == 0:
                guard.check(Action(kind=ActionKind.API_CALL, operation="GET /2/unknown"))
            for recipient, count in (("lab-a", 40_000 * (day + 1)), ("lab-b", 500)):
                attempt(guard, export(recipient, count))
            if day == 4:
                guard.check(export("lab-b", 20, content="objects"))
    return {"log": folder / "decisions.jsonl", "consent": consent, "quotas": quotas}


def screenshot(target):
    """Rebuild docs/review-report.png: ``python tests/review_sample.py docs/review-report.png``."""
    import subprocess  # noqa: PLC0415  # only for the docs image
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        paths = build(Path(folder))
        page = Path(folder) / "report.html"
        subprocess.run(
            [sys.executable, "-m", "twpolicy", "report", str(paths["log"]), "--consent-db",
             paths["consent"], "--quota-db", paths["quotas"], "-o", str(page)],
            check=True,
        )  # fmt: skip
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={folder}/profile", "--window-size=1150,1900",
             f"--screenshot={Path(target).resolve()}", page.as_uri()],
            check=True, capture_output=True,
        )  # fmt: skip


if __name__ == "__main__":
    import sys

    screenshot(sys.argv[1])

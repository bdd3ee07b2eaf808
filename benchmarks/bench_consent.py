"""Benchmark the consent ledger: the cached check() hot path and grant/revoke throughput.

    python benchmarks/bench_consent.py [--quick] [--postgres URL]

The PostgreSQL rows use --postgres, else $TWPOLICY_TEST_POSTGRES_URL (a fresh schema is
created and dropped); without either they are skipped. Prints one table. The hot-path
ratios are against a plain dict lookup of the same user and scope, measured in the same
process, so they hold across machines better than the absolute figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import twpolicy

NOTICE = twpolicy.Notice("bench-notice", "1")
USERS = [str(10_000 + i) for i in range(200)]


def best_ns(function, number, repeat=5):
    """The fastest of ``repeat`` runs of ``number`` calls, in ns per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter_ns() - start) / number)
    return best


def rate(function, count):
    """Calls per second over ``count`` calls of ``function(i)``."""
    start = time.perf_counter()
    for i in range(count):
        function(i)
    return count / (time.perf_counter() - start)


def hot_path(ledger, number):
    """ns per cached check(), with and without an explicit time, and per guard decision."""
    for user in USERS:
        ledger.grant(user, ["tweet.write", "like.write"], notice=NOTICE, method="m", evidence="e")
    user = USERS[7]
    ledger.check(user, "tweet.write")  # fill the cache
    at = datetime.now(timezone.utc)
    guard = twpolicy.Guard(ledger=ledger)
    action = twpolicy.Action(
        kind="api_call",
        operation="POST /2/tweets",
        category="write",
        acting_user_id=user,
        scopes={"tweet.write"},
    )
    assert guard.check(action).allowed
    return (
        best_ns(lambda: ledger.check(user, "tweet.write", at=at), number),
        best_ns(lambda: ledger.check(user, "tweet.write"), number),
        best_ns(lambda: guard.check(action), max(1, number // 20)),
    )


def writes(url, count):
    """grants/s, revokes/s and uncached checks/s on a fresh ledger at ``url``.

    Uncached checks read users with one active record each; then ``count`` grants; then
    ``count`` revokes, each withdrawing what a user holds.
    """
    with twpolicy.open_ledger(url) as ledger, twpolicy.open_ledger(url, cache_ttl=0) as uncached:
        for user in USERS:
            ledger.grant(user, "tweet.write", notice=NOTICE, method="m", evidence="first")
        reads = rate(lambda i: uncached.check(USERS[i % len(USERS)], "tweet.write"), count)
        granted = rate(
            lambda i: ledger.grant(
                USERS[i % len(USERS)], "tweet.write", notice=NOTICE, method="m", evidence=str(i)
            ),
            count,
        )
        revoked = rate(lambda i: ledger.revoke(USERS[i % len(USERS)], "tweet.write"), count)
        assert ledger.verify()
    return granted, revoked, reads


def postgres_url(base):
    """A URL whose tables go to a fresh schema, and a function that drops it."""
    import psycopg  # noqa: PLC0415  # only for the PostgreSQL rows

    schema = f"twpolicy_bench_{uuid.uuid4().hex[:8]}"

    def drop():
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return f"{base}{'&' if '?' in base else '?'}schema={schema}", drop


#: A generous bound on the cached check's ratio to a dict lookup, for a CI smoke.
CHECK_BOUND = 200.0
#: The same for SQLite, whose check makes two system calls (about 20 dict lookups each).
SQLITE_CHECK_BOUND = 500.0


def measure(quick=False):  # noqa: FBT002  # the benchmark contract: measure(quick)
    """The cached ``check`` of an in-memory ledger against a dict lookup (lower is better).

    Returns the benchmark contract's rows: name, ratio, baseline and a gross-regression bound.
    """
    number = 20_000 if quick else 200_000
    table = {"user": USERS[7], "scope": "tweet.write"}
    records = {USERS[7]: frozenset({"tweet.write", "like.write"})}
    baseline = best_ns(lambda: table["scope"] in records.get(table["user"], ()), number)
    with twpolicy.open_ledger("memory://") as ledger:
        with_at, without_at, _ = hot_path(ledger, number)
    # SQLite's cached check also asks whether another process changed the file (a stat and
    # a pread); its bound only catches a return to a statement per check, or worse.
    with (
        tempfile.TemporaryDirectory() as directory,
        twpolicy.open_ledger(f"sqlite:///{Path(directory) / 'hot.db'}") as ledger,
    ):
        _, sqlite_check, _ = hot_path(ledger, number)
    rows = [
        {
            "name": f"consent: cached {label}, memory",
            "ratio": value / baseline,
            "baseline": "dict lookup of user and scope",
            "bound": CHECK_BOUND,
            "ns": value,
        }
        for label, value in (("check(at=)", with_at), ("check()", without_at))
    ]
    rows.append(
        {
            "name": "consent: cached check(), SQLite",
            "ratio": sqlite_check / baseline,
            "baseline": "dict lookup of user and scope",
            "bound": SQLITE_CHECK_BOUND,
            "ns": sqlite_check,
        }
    )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--postgres", default=os.environ.get("TWPOLICY_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    number = 20_000 if args.quick else 200_000
    count = 200 if args.quick else 2_000

    table = {"user": USERS[7], "scope": "tweet.write"}
    records = {USERS[7]: frozenset({"tweet.write", "like.write"})}
    baseline = best_ns(lambda: table["scope"] in records.get(table["user"], ()), number)

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        backends = [
            ("memory", "memory://", None),
            ("sqlite", f"sqlite:///{Path(directory) / 'hot.db'}", None),
        ]
        if args.postgres:
            url, drop = postgres_url(args.postgres)
            backends.append(("postgresql", url, drop))
        else:
            sys.stderr.write("no PostgreSQL URL: skipping the PostgreSQL rows\n")
        for name, url, drop in backends:
            try:
                with twpolicy.open_ledger(url) as ledger:
                    with_at, without_at, decision = hot_path(ledger, number)
                write_url = url if name != "sqlite" else url.replace("hot.db", "writes.db")
                granted, revoked, reads = (
                    writes(write_url, count) if name != "memory" else (None, None, None)
                )
            finally:
                if drop is not None:
                    drop()
            rows.append((name, with_at, without_at, decision, granted, revoked, reads))

    print(f"consent ledger benchmark  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print(f"baseline: dict lookup of user and scope = {baseline:.0f} ns\n")
    header = (
        f"{'backend':<11} {'check(at=) ns':>14} {'x dict':>7} {'check() ns':>11} {'x dict':>7}"
        f" {'guard.check ns':>15} {'grant/s':>9} {'revoke/s':>9} {'uncached check/s':>17}"
    )
    print(header)
    print("-" * len(header))
    for name, with_at, without_at, decision, granted, revoked, reads in rows:

        def show(value, width):
            return f"{'-':>{width}}" if value is None else f"{value:>{width},.0f}"

        print(
            f"{name:<11} {with_at:>14.0f} {with_at / baseline:>7.1f} {without_at:>11.0f}"
            f" {without_at / baseline:>7.1f} {decision:>15,.0f} {show(granted, 9)}"
            f" {show(revoked, 9)} {show(reads, 17)}"
        )


if __name__ == "__main__":
    main()

"""Benchmark how fast a revoke reaches other processes: acknowledged here, refused there.

    python benchmarks/bench_revoke.py [--processes 8] [--rounds 30] [--interval 0.001]
                                      [--postgres URL]

Each round, this process grants a fresh user; every checker process (``--processes`` of
them, each with its own ledger, default cache) checks that user until it sees the consent
(so it is cached), then this process revokes it and notes when ``revoke()`` returned; each
checker keeps checking, ``--interval`` seconds apart, and notes when it was first refused.
The delay is refused-at minus acknowledged-at (``time.monotonic_ns``, one clock for the
host), counted as 0 when a checker was refused before ``revoke()`` even returned here.
It includes up to one ``--interval`` of polling.

SQLite: checkers notice through ``PRAGMA data_version``; PostgreSQL: through LISTEN/NOTIFY
(rows use --postgres, else $TWPOLICY_TEST_POSTGRES_URL; a fresh schema is created and
dropped). Prints one table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import twpolicy

NOTICE = twpolicy.Notice("bench-notice", "1")


def worker(url, interval):
    """A checker: for each user named on stdin, wait to see consent, then to see it gone."""
    ledger = twpolicy.open_ledger(url)
    for line in sys.stdin:
        user = line.strip()
        while ledger.check(user, "tweet.write") is None:
            time.sleep(interval)
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        while ledger.check(user, "tweet.write") is not None:
            time.sleep(interval)
        sys.stdout.write(f"{time.monotonic_ns()}\n")
        sys.stdout.flush()
    ledger.close()


def measure(url, processes, rounds, interval):
    """Delays in ms (one per checker per round) and revoke() times in ms."""
    command = [sys.executable, __file__, "--worker", url, "--interval", str(interval)]
    checkers = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603  # this script
        for _ in range(processes)
    ]
    delays, acks = [], []
    try:
        with twpolicy.open_ledger(url) as ledger:
            for round_ in range(rounds):
                user = str(700_000 + round_)
                ledger.grant(user, "tweet.write", notice=NOTICE, method="m", evidence="e")
                for checker in checkers:
                    checker.stdin.write(user + "\n")
                    checker.stdin.flush()
                for checker in checkers:
                    assert checker.stdout.readline() == "ready\n"
                started = time.monotonic_ns()
                ledger.revoke(user)
                acknowledged = time.monotonic_ns()
                acks.append((acknowledged - started) / 1e6)
                for checker in checkers:
                    refused = int(checker.stdout.readline())
                    delays.append(max(0, refused - acknowledged) / 1e6)
    finally:
        for checker in checkers:
            checker.stdin.close()
        for checker in checkers:
            checker.wait(timeout=60)
    return delays, acks


def postgres_url(base):
    """A URL whose tables go to a fresh schema, and a function that drops it."""
    import psycopg  # noqa: PLC0415  # only for the PostgreSQL rows

    schema = f"twpolicy_bench_{uuid.uuid4().hex[:8]}"

    def drop():
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    return f"{base}{'&' if '?' in base else '?'}schema={schema}", drop


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.001)
    parser.add_argument("--postgres", default=os.environ.get("TWPOLICY_TEST_POSTGRES_URL"))
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.interval)
        return

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        backends = [("sqlite", f"sqlite:///{Path(directory) / 'revoke.db'}", None)]
        if args.postgres:
            url, drop = postgres_url(args.postgres)
            backends.append(("postgresql", url, drop))
        else:
            sys.stderr.write("no PostgreSQL URL: skipping the PostgreSQL row\n")
        for name, url, drop in backends:
            try:
                delays, acks = measure(url, args.processes, args.rounds, args.interval)
            finally:
                if drop is not None:
                    drop()
            rows.append((name, delays, acks))

    print(
        f"revoke propagation  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"{args.processes} checker processes, {args.rounds} rounds, "
        f"checks every {args.interval * 1000:g} ms)\n"
    )
    header = f"{'backend':<11} {'median ms':>10} {'p95 ms':>8} {'worst ms':>9} {'revoke() ms':>12}"
    print(header)
    print("-" * len(header))
    for name, delays, acks in rows:
        ordered = sorted(delays)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"{name:<11} {statistics.median(delays):>10.1f} {p95:>8.1f} {max(delays):>9.1f}"
            f" {statistics.median(acks):>12.1f}"
        )


if __name__ == "__main__":
    main()

"""Throughput of compliance: recording events, and applying them to a dataset vs ``dehydrate``.

Builds a JSON Lines file of v2 response pages from the shared corpus (repeated up to the size
asked for), records EVENTS Tweet deletions in a SQLite compliance ledger (most for Tweets not
in the file, as in a real compliance stream; a few hundred for Tweets in it, and some
``scrub_geo`` and ``user_suspend`` events for its authors), then times, on the same file:

- ``apply``: `twpolicy.apply_compliance` with a `JsonLinesApplier` writing to a new file
  (read, parse, walk, clean, write, fsync, replace, record);
- ``dehydrate``: ``twpolicy dehydrate`` of the same file (read, parse, walk, IDs out).

Usage: python benchmarks/bench_compliance.py [--mib 200] [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import twpolicy
from twpolicy import ComplianceEvent

PROJECT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("TWPOLICY_CORPUS", PROJECT.parent / "shared" / "corpus"))
DATA = CORPUS / "DocNow+twarc-csv" / "test-data"


def build(path: Path, mib: int) -> tuple[list[str], list[str]]:
    """Write the dataset; return some Tweet IDs and author IDs found in it."""
    lines = []
    for name in sorted(DATA.glob("*.jsonl")):
        for line in name.read_text(encoding="utf-8").splitlines():
            try:
                value = json.loads(line)
            except ValueError:  # the corpus keeps some damaged lines on purpose
                continue
            if isinstance(value, dict) and isinstance(value.get("data"), list):
                lines.append(line + "\n")
    block = "".join(lines).encode()
    tweets = twpolicy.dehydrate([json.loads(line) for line in lines])
    users = twpolicy.dehydrate([json.loads(line) for line in lines], kind="users")
    with path.open("wb") as handle:
        while handle.tell() < mib * 1024 * 1024:
            handle.write(block)
    return tweets, users


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as folder:
        dataset = Path(folder) / "data.jsonl"
        tweets, users = build(dataset, args.mib)
        size = dataset.stat().st_size
        hits = rng.sample(tweets, min(300, len(tweets)))
        events = [ComplianceEvent(type="tweet_delete", object_id=t) for t in hits]
        events += [ComplianceEvent(type="scrub_geo", object_id=u) for u in users[:20]]
        events += [ComplianceEvent(type="user_suspend", object_id=u) for u in users[20:40]]
        while len(events) < args.events:
            events.append(
                ComplianceEvent(type="tweet_delete", object_id=str(rng.randrange(10**18, 10**19)))
            )
        ledger = twpolicy.open_compliance(f"sqlite:///{folder}/compliance.db")
        started = time.perf_counter()
        ledger.record(events)
        recorded = time.perf_counter() - started

        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603  # our own command
            [sys.executable, "-m", "twpolicy", "dehydrate", str(dataset), os.devnull, "--quiet"],
            check=False,
            capture_output=True,
        )
        dehydrated = time.perf_counter() - started

        started = time.perf_counter()
        ledger.snapshot()
        snapshot = time.perf_counter() - started
        started = time.perf_counter()
        ledger.pending("nowhere")
        pending = time.perf_counter() - started

        started = time.perf_counter()
        report = twpolicy.apply_compliance(
            ledger, twpolicy.JsonLinesApplier(dataset, out=Path(folder) / "clean.jsonl")
        )
        applied = time.perf_counter() - started
        ledger.close()
    mib = size / 2**20
    print(f"dataset: {mib:,.0f} MiB, {report.records_read:,} records; events: {len(events):,}")
    print(f"record:    {recorded:7.1f} s  ({len(events) / recorded:,.0f} events/s)")
    print(f"dehydrate: {dehydrated:7.1f} s  ({mib / dehydrated:,.1f} MiB/s) rc={done.returncode}")
    print(f"apply:     {applied:7.1f} s  ({mib / applied:,.1f} MiB/s)")
    print(f"apply / dehydrate: {applied / dehydrated:.2f}")
    print(f"  of which ledger snapshot {snapshot:.1f} s, pending query {pending:.1f} s")
    print(
        f"removed {report.removed:,}, scrubbed {report.scrubbed:,}, "
        f"records dropped {report.records_dropped:,}"
    )


if __name__ == "__main__":
    main()

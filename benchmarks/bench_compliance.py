"""Throughput of compliance: recording events, and applying them to a dataset vs ``dehydrate``.

Builds a JSON Lines file of v2 response pages from the shared corpus (repeated up to the size
asked for), records EVENTS Tweet deletions in a SQLite compliance ledger (most for Tweets not
in the file, as in a real compliance stream; a few hundred for Tweets in it, and some
``scrub_geo`` and ``user_suspend`` events for its authors), then times, on the same file and
at equal numbers of processes (``--jobs 1``, and every core):

- ``apply``: `twpolicy.apply_compliance` with a `JsonLinesApplier` (``jobs=N``) writing to a
  new file (claim, snapshot, read, find the lines that may hold an affected ID, clean them,
  write, hash, fsync, replace, record);
- ``dehydrate``: ``twpolicy dehydrate --no-compliance --jobs N`` of the same file (read,
  parse, IDs out), the baseline;
- ``dehydrate`` with ``--compliance-db`` (one process: it reads the file alone), leaving out
  what the ledger says is gone;
- with ``--walker``, apply and the checked dehydrate again with the fast page cleaner switched
  off (every affected line parsed whole and walked), for a before/after in the same run.

With ``--no-hits`` every event is for a Tweet elsewhere (no line of the file holds an
affected ID: the case of a large dataset and a day of compliance stream), instead of the
hit-heavy mix where 97 % of the bytes are in lines that hold an affected ID.

Each round runs them one after the other (interleaved, so that a busy machine slows them
alike); ``--rounds`` repeats the round and the ratios of each round are printed. Each run is
timed twice: wall time (``*_s``) and the CPU seconds of its processes (``*_cpu_s``: the
``dehydrate`` command's, as its parent sees them; apply's, this process's and its workers'),
which a machine shared with other jobs disturbs far less.

`measure` is the entry point of the benchmark runner.

Usage: python benchmarks/bench_compliance.py [--mib 200] [--events 1000000] [--rounds 1]
    [--walker] [--jobs N] [--no-hits]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import twpolicy
from twpolicy import ComplianceEvent
from twpolicy._enforce import _compliance
from twpolicy._payloads._chunks import default_jobs

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
    if not lines:  # an empty block would be written forever
        raise SystemExit(f"bench_compliance: no v2 pages under {DATA} (set TWPOLICY_CORPUS)")
    block = "".join(lines).encode()
    tweets = twpolicy.dehydrate([json.loads(line) for line in lines])
    users = twpolicy.dehydrate([json.loads(line) for line in lines], kind="users")
    with path.open("wb") as handle:
        while handle.tell() < mib * 1024 * 1024:
            handle.write(block)
    return tweets, users


# `twpolicy dehydrate` with the fast page cleaner switched off (the walker cleans every line).
_WALKER_ONLY = (
    "import sys; from twpolicy._enforce import _compliance as c; "
    "c._clean_line = lambda *args: None; from twpolicy._cli._main import main; "
    "sys.exit(main(sys.argv[1:]))"
)


def _walker_only(*_: object) -> None:
    """The fast page cleaner's answer for a line it does not read: the walker cleans it."""


_SAME: Final = ("removed", "scrubbed", "records_read", "records_dropped", "changed")


def _children() -> float:
    """CPU seconds of this process's finished children (commands, worker processes)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _now() -> tuple[float, float]:
    """Wall time, and CPU seconds of this process and its finished children."""
    return time.perf_counter(), time.process_time() + _children()


def _round(
    dehydrate: Any, apply: Any, url: str, *, many: int, walker: bool
) -> tuple[dict[str, float], Any]:
    """One interleaved round: each figure (wall and CPU), and apply's report (one process)."""
    times: dict[str, float] = {}

    def timed(name: str, run: Any, *args: Any, **kwargs: Any) -> Any:
        (wall, cpu) = _now()
        result = run(*args, **kwargs)
        ended = _now()
        times[f"{name}_s"], times[f"{name}_cpu_s"] = ended[0] - wall, ended[1] - cpu
        return result

    timed("dehydrate", dehydrate, "--no-compliance")
    report = timed("apply", apply)
    timed("checked_dehydrate", dehydrate, "--compliance-db", url)
    if many > 1:
        timed(f"dehydrate_j{many}", dehydrate, "--no-compliance", jobs=many)
        in_chunks = timed(f"apply_j{many}", apply, jobs=many)
        if any(getattr(in_chunks, name) != getattr(report, name) for name in _SAME):
            raise AssertionError("one process and many applied different things")
    if walker:
        walked = timed("walker_apply", apply, fast=False)
        timed("walker_checked_dehydrate", dehydrate, "--compliance-db", url, fast=False)
        if any(getattr(walked, name) != getattr(report, name) for name in _SAME):
            raise AssertionError("the walker and the fast cleaner changed different things")
    return times, report


def run(
    mib: int,
    count: int,
    *,
    rounds: int = 1,
    walker: bool = False,
    jobs: int | None = None,
    hits: bool = True,
) -> dict[str, Any]:
    """Build the dataset and ledger, then time record, dehydrate, apply and a checked dehydrate.

    ``dehydrate_jN_s`` and ``apply_jN_s`` are timed at 1 and ``jobs`` processes (default:
    every core). Times are the fastest of ``rounds`` interleaved rounds; ``rounds`` holds
    each round's. ``hits`` false: every event is for a Tweet not in the file.
    """
    many = jobs or default_jobs()
    rng = random.Random(15)
    with tempfile.TemporaryDirectory() as folder:
        dataset = Path(folder) / "data.jsonl"
        tweets, users = build(dataset, mib)
        size = dataset.stat().st_size
        events = []
        if hits:
            found = rng.sample(tweets, min(300, len(tweets)))
            events += [ComplianceEvent(type="tweet_delete", object_id=t) for t in found]
            events += [ComplianceEvent(type="scrub_geo", object_id=u) for u in users[:20]]
            events += [ComplianceEvent(type="user_suspend", object_id=u) for u in users[20:40]]
        while len(events) < count:
            events.append(
                ComplianceEvent(type="tweet_delete", object_id=str(rng.randrange(10**18, 10**19)))
            )
        url = f"sqlite:///{folder}/compliance.db"
        ledger = twpolicy.open_compliance(url)
        started = time.perf_counter()
        ledger.record(events)
        recorded = time.perf_counter() - started

        def dehydrate(*extra: str, fast: bool = True, jobs: int = 1) -> None:
            command = ["-m", "twpolicy"] if fast else ["-c", _WALKER_ONLY]
            subprocess.run(  # noqa: S603  # our own command
                [sys.executable, *command, "dehydrate", str(dataset), os.devnull, "--quiet",
                 "--jobs", str(jobs), *extra],
                check=True,
                capture_output=True,
            )  # fmt: skip

        outputs = iter(range(1_000_000))

        def apply(*, fast: bool = True, jobs: int = 1) -> Any:
            # A new output each time: a new target, for which every event is pending.
            out = Path(folder) / f"clean-{next(outputs)}.jsonl"
            # The fast page cleaner switched off for the walker's figures.
            clean_line = _compliance._clean_line  # noqa: SLF001
            if not fast:
                _compliance._clean_line = _walker_only  # noqa: SLF001
            try:
                return twpolicy.apply_compliance(
                    ledger, twpolicy.JsonLinesApplier(dataset, out=out, jobs=jobs)
                )
            finally:
                _compliance._clean_line = clean_line  # noqa: SLF001
                out.unlink(missing_ok=True)

        started = time.perf_counter()
        ledger.snapshot()
        snapshot = time.perf_counter() - started

        each: list[dict[str, float]] = []
        for _ in range(rounds):
            times, report = _round(dehydrate, apply, url, many=many, walker=walker)
            each.append(times)
        ledger.close()
    best = {name: min(times[name] for times in each) for name in each[0]}
    return {
        "mib": size / 2**20,
        "records": report.records_read,
        "events": len(events),
        "record_s": recorded,
        **best,
        "snapshot_s": snapshot,
        "rounds": each,
        "removed": report.removed,
        "scrubbed": report.scrubbed,
        "dropped": report.records_dropped,
        "jobs": many,
    }


def measure(quick: bool = False) -> list[dict[str, object]]:  # noqa: FBT001, FBT002  # the runner's signature
    """The benchmark runner's entry: apply and a checked dehydrate, each against dehydrate.

    ``quick`` uses 20 MiB and 100,000 events instead of 200 MiB and 1,000,000. Each result
    has ``name``, ``ratio`` (seconds over the baseline's, at the same number of processes),
    ``baseline`` and ``bound``: a gross-regression bound for the CI smoke (the target is at
    most twice dehydrate; see docs/performance.md for today's ratios).
    """
    if not DATA.is_dir():
        print(f"bench_compliance: skipped: no corpus at {CORPUS} (set TWPOLICY_CORPUS)")
        return []
    figures = run(20, 100_000) if quick else run(200, 1_000_000)
    baseline = figures["dehydrate_s"]
    results: list[dict[str, object]] = [
        {
            "name": "compliance apply / dehydrate (one process each)",
            "ratio": figures["apply_s"] / baseline,
            "baseline": "twpolicy dehydrate --jobs 1 of the same file",
            "bound": 25.0,
        },
        {
            "name": "compliance apply / dehydrate, CPU seconds (one process each)",
            "ratio": figures["apply_cpu_s"] / figures["dehydrate_cpu_s"],
            "baseline": "twpolicy dehydrate --jobs 1 of the same file, its CPU seconds",
            "bound": 25.0,
        },
        {
            "name": "compliance dehydrate with ledger / dehydrate",
            "ratio": figures["checked_dehydrate_s"] / baseline,
            "baseline": "twpolicy dehydrate --jobs 1 of the same file",
            "bound": 40.0,
        },
    ]
    many = figures["jobs"]
    if many > 1:
        results.append(
            {
                "name": f"compliance apply / dehydrate ({many} processes each)",
                "ratio": figures[f"apply_j{many}_s"] / figures[f"dehydrate_j{many}_s"],
                "baseline": f"twpolicy dehydrate --jobs {many} of the same file",
                "bound": 25.0,
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--walker", action="store_true")
    parser.add_argument("--jobs", type=int, default=None, help="the many (default: all cores)")
    parser.add_argument("--no-hits", action="store_true", help="no event for a Tweet in the file")
    args = parser.parse_args()
    f = run(
        args.mib,
        args.events,
        rounds=args.rounds,
        walker=args.walker,
        jobs=args.jobs,
        hits=not args.no_hits,
    )
    mib, many = f["mib"], f["jobs"]
    print(f"dataset: {mib:,.0f} MiB, {f['records']:,} records; events: {f['events']:,}")
    print(f"record:    {f['record_s']:7.1f} s  ({f['events'] / f['record_s']:,.0f} events/s)")
    print(f"dehydrate --jobs 1: {f['dehydrate_s']:7.2f} s  ({mib / f['dehydrate_s']:,.1f} MiB/s)")
    print(f"apply, jobs=1:      {f['apply_s']:7.2f} s  ({mib / f['apply_s']:,.1f} MiB/s)")
    print(f"dehydrate, ledger checked: {f['checked_dehydrate_s']:7.2f} s")
    if many > 1:
        print(f"dehydrate --jobs {many}: {f[f'dehydrate_j{many}_s']:7.2f} s")
        print(f"apply, jobs={many}:      {f[f'apply_j{many}_s']:7.2f} s")
    for number, times in enumerate(f["rounds"], start=1):
        cpu = times["apply_cpu_s"] / times["dehydrate_cpu_s"]
        print(
            f"round {number}, CPU seconds: dehydrate {times['dehydrate_cpu_s']:.2f},"
            f" apply {times['apply_cpu_s']:.2f} (ratio {cpu:.2f})"
        )
        ratios = [
            f"apply {times['apply_s'] / times['dehydrate_s']:.2f}",
            f"checked dehydrate {times['checked_dehydrate_s'] / times['dehydrate_s']:.2f}",
        ]
        if many > 1:
            ratio = times[f"apply_j{many}_s"] / times[f"dehydrate_j{many}_s"]
            ratios.append(f"apply at {many} jobs {ratio:.2f}")
        if "walker_apply_s" in times:
            ratios.append(f"walker apply {times['walker_apply_s'] / times['dehydrate_s']:.2f}")
            walked = times["walker_checked_dehydrate_s"] / times["dehydrate_s"]
            ratios.append(f"walker checked dehydrate {walked:.2f}")
        print(f"round {number}, ratio to dehydrate at equal jobs: {', '.join(ratios)}")
    print(f"load average: {os.getloadavg()}")
    print(f"  of which ledger snapshot {f['snapshot_s']:.1f} s")
    print(f"removed {f['removed']:,}, scrubbed {f['scrubbed']:,}, records dropped {f['dropped']:,}")


if __name__ == "__main__":
    main()

"""Throughput of ``twpolicy dehydrate`` against twarc2's ``dehydrate`` and a bare JSON parse.

Builds one large JSON Lines file of v2 API response pages (twarc2's own output format) from
the shared corpus at run time, then runs, in rounds, each contender as a separate process on
the same file, interleaved so that machine noise falls on all alike:

- ``twarc2 dehydrate``: twarc2's command (stdlib json, its flattening, one ID per top-level
  Tweet, duplicates kept);
- ``twpolicy dehydrate``: ours (every ID of the kind, unique, bad lines skipped), on all
  cores (the default ``--jobs``);
- ``twpolicy dehydrate --jobs 1``: ours on one core, the per-core comparison (twarc2 uses
  one);
- ``orjson parse``: ``orjson.loads`` of every line and nothing else, the floor a full JSON
  decode sets.

Reports the best and median wall time of each and the ratios, and checks that every ID
twarc2 finds is among ours. Needs the ``bench`` extra: ``pip install -e '.[bench]'``.
``measure`` (for ``benchmarks/run.py``) compares the same contenders by CPU time of each
process (user + system), which other work on a shared machine disturbs far less than wall
time, adds the wall-time ratio of the default (all cores) to twarc2, and leaves out twarc2's
rows, saying so, when twarc is not installed.

Usage: python benchmarks/bench_dehydrate.py [--mib 100] [--rounds 5] [--kind tweets]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("TWPOLICY_CORPUS", PROJECT.parent / "shared" / "corpus"))
BIN = Path(sys.executable).parent

ORJSON = "import orjson, sys\nfor line in open(sys.argv[1], 'rb'):\n    orjson.loads(line)\n"

# The readers in one process, alternating, after start-up: throughput alone. "twpolicy
# reader" is what `twpolicy dehydrate --jobs 1` reads a plain file with (in place, mapped);
# "record reader" what it reads standard input and compressed files with (line by line).
# Two bounds on the same lines, decoded from views of one mapping: "fast decoders" is the
# generated msgspec decoders alone (no framing, extraction or de-duplication), "msgspec skip"
# msgspec decoding each line into a struct of no fields (it skips every value: the most a
# msgspec decoder can do from Python). The collector is paused for all, as `twpolicy
# dehydrate` pauses it.
IN_PROCESS = """
import gc, json, mmap, sys, time
import msgspec, orjson
from twpolicy._cli._dehydrate import IdReader, ParallelIdReader
from twpolicy._payloads._fastids import reader

gc.disable()

path, kind, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
clock = time.process_time if len(sys.argv) > 4 else time.perf_counter


class Nothing(msgspec.Struct):
    pass


def decode_each(decode):
    with open(path, "rb") as handle, mmap.mmap(
        handle.fileno(), 0, access=mmap.ACCESS_READ
    ) as data, memoryview(data) as view:
        start, size, find = 0, len(data), data.find
        while start < size:
            end = find(b"\\n", start)
            end = size if end < 0 else end
            if end > start:
                decode(view[start:end])
            start = end + 1


fast, skip = reader(kind).decoder.decode, msgspec.json.Decoder(Nothing).decode
times = {
    "twpolicy reader": [], "record reader": [], "orjson.loads": [],
    "fast decoders": [], "msgspec skip": [],
}
for _ in range(rounds):
    started = clock()
    for _ in ParallelIdReader(path, kind, 1).new_ids(None):
        pass
    times["twpolicy reader"].append(clock() - started)
    with open(path, "rb", buffering=2**18) as stream:
        started = clock()
        for _ in IdReader(kind).new_ids(stream):
            pass
        times["record reader"].append(clock() - started)
    with open(path, "rb") as stream:
        started = clock()
        for line in stream:
            orjson.loads(line)
        times["orjson.loads"].append(clock() - started)
    for name, decode in (("fast decoders", fast), ("msgspec skip", skip)):
        started = clock()
        decode_each(decode)
        times[name].append(clock() - started)
print(json.dumps(times))
"""


def twarc_reads(value: object, field: str) -> bool:
    """Whether twarc2 dehydrate gets through this page (it stops at the first it cannot)."""
    try:
        from twarc.expansions import ensure_flattened  # noqa: PLC0415  # benchmark-only
    except ImportError:  # no twarc2 row then: every page is kept
        return True

    try:
        return all(field in tweet for tweet in ensure_flattened(value))
    except (KeyError, ValueError, TypeError):
        return False


def pages(kind: str) -> list[bytes]:
    """The v2 response pages of the corpus's JSON Lines files that twarc2 can read."""
    field = {"tweets": "id", "users": "author_id"}[kind]
    logging.disable(logging.WARNING)  # twarc logs every page it cannot expand
    lines = []
    with (CORPUS / "SOURCES.tsv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["api_version"] != "v2" or not row["local_path"].endswith(".jsonl"):
                continue
            for line in (CORPUS / row["local_path"]).read_bytes().splitlines():
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                tweets = value.get("data") if isinstance(value, dict) else None
                if (
                    isinstance(tweets, list)
                    and all(isinstance(t, dict) and "text" in t for t in tweets)
                    and twarc_reads(value, field)
                ):
                    lines.append(line.strip())
    return lines


def build(path: Path, mib: int, kind: str) -> tuple[int, int]:
    """Write ``mib`` MiB of corpus pages, repeated, to ``path``; return (lines, bytes)."""
    source = pages(kind)
    if not source:
        sys.exit(f"no v2 pages found in {CORPUS} (set TWPOLICY_CORPUS)")
    written = count = 0
    with path.open("wb") as out:
        while written < mib * 2**20:
            for line in source:
                out.write(line + b"\n")
                written += len(line) + 1
                count += 1
    return count, written


def contenders(data: Path, work: Path, kind: str) -> dict[str, list[str]]:
    """The command line of each contender."""
    twarc = shutil.which("twarc2", path=str(BIN)) or "twarc2"
    id_type = {"tweets": "tweets", "users": "users"}[kind]
    return {
        "twarc2 dehydrate": [
            twarc,
            "--bearer-token",
            "unused",
            "dehydrate",
            "--id-type",
            id_type,
            "--hide-progress",
            str(data),
            str(work / "twarc.txt"),
        ],
        "twpolicy dehydrate": [
            sys.executable,
            "-m",
            "twpolicy",
            "dehydrate",
            "--kind",
            kind,
            str(data),
            str(work / "twpolicy.txt"),
        ],
        "twpolicy dehydrate --jobs 1": [
            sys.executable,
            "-m",
            "twpolicy",
            "dehydrate",
            "--jobs",
            "1",
            "--kind",
            kind,
            str(data),
            str(work / "twpolicy-1.txt"),
        ],
        "orjson parse": [sys.executable, "-c", ORJSON, str(data)],
    }


def main() -> None:
    """Build the data, run the rounds, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100, help="size of the JSON Lines file")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kind", choices=("tweets", "users"), default="tweets")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dehydrate-") as folder:
        work = Path(folder)
        data = work / "pages.jsonl"
        lines, size = build(data, args.mib, args.kind)
        print(f"{lines:,} v2 pages, {size / 2**20:,.1f} MiB, {args.kind}, {args.rounds} rounds")
        commands = contenders(data, work, args.kind)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                started = time.perf_counter()
                subprocess.run(  # noqa: S603  # our own commands
                    command, check=True, cwd=work, stdin=subprocess.DEVNULL, capture_output=True
                )
                times[name].append(time.perf_counter() - started)
        ours = set((work / "twpolicy.txt").read_text().split())
        theirs = (work / "twarc.txt").read_text().split()
        assert set(theirs) <= ours, "twpolicy missed IDs twarc2 found"
        assert theirs, "twarc2 found no IDs"
        print(
            f"IDs: twarc2 {len(theirs):,} lines ({len(set(theirs)):,} unique); "
            f"twpolicy {len(ours):,} unique"
        )
        baseline = min(times["twarc2 dehydrate"])
        parse = min(times["orjson parse"])
        print("\nWhole commands (each its own process, start-up included):\n")
        print("| contender | best s | median s | MiB/s | vs twarc2 | vs orjson parse |")
        print("|---|---|---|---|---|---|")
        for name, runs in times.items():
            best = min(runs)
            print(
                f"| {name} | {best:.2f} | {statistics.median(runs):.2f} | "
                f"{size / 2**20 / best:,.0f} | {baseline / best:.2f}x | {parse / best:.2f}x |"
            )
        inner = json.loads(
            subprocess.run(  # noqa: S603  # our own script
                [sys.executable, "-c", IN_PROCESS, str(data), args.kind, str(args.rounds)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        parse = min(inner["orjson.loads"])
        print("\nIn one process, alternating, after start-up:\n")
        print("| reader | best s | median s | MiB/s | vs orjson.loads |")
        print("|---|---|---|---|---|")
        for name, runs in inner.items():
            best = min(runs)
            print(
                f"| {name} | {best:.2f} | {statistics.median(runs):.2f} | "
                f"{size / 2**20 / best:,.0f} | {parse / best:.2f}x |"
            )


def twarc_available() -> bool:
    """Whether twarc2 (the ``bench`` extra) is installed next to this interpreter."""
    return importlib.util.find_spec("twarc") is not None and bool(
        shutil.which("twarc2", path=str(BIN))
    )


def _child_cpu(command: list[str], cwd: Path) -> tuple[float, float]:
    """Run a command; return its CPU time (user + system, its workers' too) and wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(  # noqa: S603  # our own commands
        command, check=True, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def measure(quick: bool = False) -> list[dict]:  # noqa: FBT001, FBT002  # run.py's contract
    """Whole commands and readers, by CPU time, for ``benchmarks/run.py``."""
    mib, rounds = (16, 2) if quick else (200, 3)
    if not (CORPUS / "SOURCES.tsv").exists():
        print(f"bench_dehydrate: skipped: no corpus at {CORPUS} (set TWPOLICY_CORPUS)")
        return []
    with tempfile.TemporaryDirectory(prefix="bench-dehydrate-") as folder:
        work = Path(folder)
        data = work / "pages.jsonl"
        _lines, size = build(data, mib, "tweets")
        commands = contenders(data, work, "tweets")
        if not twarc_available():
            print("bench_dehydrate: no twarc2 row: pip install twarc (the bench extra)")
            del commands["twarc2 dehydrate"]
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        wall: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                spent, took = _child_cpu(command, work)
                cpu[name].append(spent)
                wall[name].append(took)
        inner = json.loads(
            subprocess.run(  # noqa: S603  # our own script
                [sys.executable, "-c", IN_PROCESS, str(data), "tweets", str(rounds + 2), "cpu"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
    ours = statistics.median(cpu["twpolicy dehydrate"])
    one = statistics.median(cpu["twpolicy dehydrate --jobs 1"])
    gb = f"{mib} MiB of v2 pages"
    rows = []
    if "twarc2 dehydrate" in cpu:
        twarc = statistics.median(cpu["twarc2 dehydrate"])
        rows.append(
            {
                "name": f"dehydrate --jobs 1, whole command, CPU ({gb})",
                "ratio": one / twarc,
                "baseline": "twarc2 dehydrate",
                "bound": 1.0,
                "detail": f"{twarc / one:.1f}x twarc2's speed a core",
            }
        )
        rows.append(
            {
                "name": f"dehydrate, all cores, whole command, CPU ({gb})",
                "ratio": ours / twarc,
                "baseline": "twarc2 dehydrate",
                "bound": 1.0,
                "detail": f"{twarc / ours:.1f}x twarc2's speed",
            }
        )
        ours_wall = statistics.median(wall["twpolicy dehydrate"])
        rows.append(
            {
                "name": f"dehydrate, all cores, whole command, wall ({gb})",
                "ratio": ours_wall / statistics.median(wall["twarc2 dehydrate"]),
                "baseline": "twarc2 dehydrate",
                "bound": 1.0,
                "detail": f"{ours_wall:.2f} s wall",
            }
        )
    parse = statistics.median(cpu["orjson parse"])
    rows.append(
        {
            "name": f"dehydrate, whole command ({gb})",
            "ratio": ours / parse,
            "baseline": "orjson.loads of every line (a script)",
            "bound": 3.0,
            "detail": f"{ours:.2f} s CPU ({one:.2f} s with --jobs 1)",
        }
    )
    for name, label, bound in (
        ("twpolicy reader", "dehydrate reader, in process (a plain file, in place)", 2.5),
        ("record reader", "dehydrate's record reader, in process (stdin, compressed)", 3.0),
    ):
        reader = min(inner[name])
        rows.append(
            {
                "name": label,
                "ratio": reader / min(inner["orjson.loads"]),
                "baseline": "orjson.loads loop, same process",
                "bound": bound,
                "detail": f"{size / reader / 1e9:.2f} GB/s a core",
            }
        )
    # What bounds the reader: its decoders alone, and msgspec skipping every value.
    reader, decoders, skip = (
        min(inner[name]) for name in ("twpolicy reader", "fast decoders", "msgspec skip")
    )
    rows.append(
        {
            "name": "dehydrate reader, in process, against its fast decoders alone",
            "ratio": reader / decoders,
            "baseline": "the generated msgspec decoders, same lines",
            "bound": 3.0,
            "detail": f"decoders {size / decoders / 1e9:.2f} GB/s a core",
        }
    )
    rows.append(
        {
            "name": "dehydrate's fast decoders (exact), against msgspec skipping every value",
            "ratio": decoders / skip,
            "baseline": "msgspec, a struct of no fields, same lines",
            "bound": 6.0,
            "detail": f"skip {size / skip / 1e9:.2f} GB/s a core (the bound from Python)",
        }
    )
    return rows


if __name__ == "__main__":
    main()

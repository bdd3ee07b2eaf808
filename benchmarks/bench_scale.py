"""Throughput of dehydrate on Dask and Spark, on 1 and 2 workers, against the command line.

Writes a multi-file JSON Lines dataset of generated v2 response pages (twarc2's format, about
2.5 KB a line, IDs repeated across files), then times, on the same files:

- the command line's reader (`twpolicy._cli._dehydrate.IdReader`, what ``twpolicy dehydrate``
  runs after start-up), in this process: the baseline;
- ``twpolicy dehydrate FILE... -o - --jobs 1`` and ``--jobs 2`` on the same files
  (processes, end to end, start-up included: files spread over the workers, large ones
  split);
- ``twpolicy.dask.dehydrate(...).compute()`` on a distributed LocalCluster of 1, then 2,
  single-threaded worker processes, over ``dask.bag.read_text`` (lines as text) and over
  ``twpolicy.dask.read_lines`` (lines as bytes);
- ``twpolicy.spark.dehydrate(...).collect()`` on ``local[1]``, then ``local[2]`` (left out
  of the quick variant unless ``--engines`` names it: a Spark session takes tens of
  seconds to start).

Clusters and sessions are started before timing: the figures are throughput, not start-up.
Each result is checked against the baseline's IDs. Ratios are engine time over baseline
time (lower is better; below 1 means faster than one process); each run's CPU seconds (its
processes and their children: workers, the JVM) are printed beside them, which on a shared
machine say more than wall time.

Usage: python benchmarks/bench_scale.py [--mib 64] [--rounds 3] [--quick]
       [--engines jobs,dask,spark]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FILES = 4
#: The engines' partitions: Dask's block size, Spark's maxPartitionBytes (MiB).
BLOCK_MIB = 8


def _page(rng: random.Random, pool: list[str]) -> dict[str, Any]:
    users = [str(rng.randrange(10**17, 10**18)) for _ in range(3)]
    tweets = [
        {
            "id": rng.choice(pool),
            "text": "x" * rng.randrange(80, 280),
            "author_id": rng.choice(users),
            "created_at": "2026-01-01T00:00:00.000Z",
            "conversation_id": rng.choice(pool),
            "public_metrics": {"retweet_count": 1, "reply_count": 2, "like_count": 3},
            "entities": {"mentions": [{"start": 0, "end": 4, "username": "u", "id": users[0]}]},
            "referenced_tweets": [{"type": "quoted", "id": rng.choice(pool)}],
        }
        for _ in range(4)
    ]
    return {
        "data": tweets,
        "includes": {
            "users": [{"id": u, "username": "u" + u[-4:], "name": "N"} for u in users],
        },
        "meta": {"result_count": len(tweets)},
    }


def write_dataset(root: Path, mib: int) -> list[Path]:
    """Files of generated pages summing to about ``mib`` MiB; IDs repeat across files."""
    rng = random.Random(20261202)  # reproducible data, not security
    pool = [str(rng.randrange(10**18, 2 * 10**18)) for _ in range(mib * 2000)]
    paths = []
    for index in range(FILES):
        path = root / f"part-{index}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            while out.tell() < mib * 2**20 // FILES:
                out.write(json.dumps(_page(rng, pool)) + "\n")
        paths.append(path)
    return paths


def _cpu() -> float:
    """CPU seconds of this process and its children (workers, Spark's JVM and Python workers).

    Children still running are read through psutil (Dask's dependency) when it is there; on
    a shared machine CPU time says more than wall time about what a run costs.
    """
    times = os.times()
    total = times.user + times.system + times.children_user + times.children_system
    try:
        import psutil  # noqa: PLC0415
    except ImportError:  # pragma: no cover  # without Dask
        return total
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            spent = child.cpu_times()
            total += spent.user + spent.system
    return total


#: CPU seconds of each run's fastest round, by the run's name (filled by `_best`).
CPU: dict[str, float] = {}


def _best(run: Any, rounds: int, name: str = "") -> tuple[float, Any]:
    """The fastest of ``rounds`` runs (seconds) and its result; its CPU time in `CPU`."""
    best, result = float("inf"), None
    for _ in range(rounds):
        cpu = _cpu()
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
        if seconds < best:
            best, CPU[name] = seconds, _cpu() - cpu
    return best, result


def baseline(paths: list[Path], rounds: int) -> tuple[float, list[str]]:
    """The command line's reader over the files one after the other."""
    from twpolicy._cli._dehydrate import IdReader  # noqa: PLC0415

    def run() -> list[str]:
        reader = IdReader("tweets")
        out: list[str] = []
        for path in paths:
            with path.open("rb") as stream:
                for ids in reader.new_ids(stream):
                    out += ids
        return out

    return _best(run, rounds, "baseline")


def dask_times(paths: list[Path], rounds: int, expected: list[str]) -> dict[str, float]:
    """Dask's: read with ``dask.bag.read_text`` (text) and ``twpolicy.dask.read_lines`` (bytes)."""
    import dask.bag  # noqa: PLC0415
    import distributed  # noqa: PLC0415

    import twpolicy.dask  # noqa: PLC0415

    files = [str(p) for p in paths]
    inputs = {
        "read_text": lambda: dask.bag.read_text(files, blocksize=f"{BLOCK_MIB}MiB"),
        "read_lines": lambda: twpolicy.dask.read_lines(files, blocksize=f"{BLOCK_MIB}MiB"),
    }
    found = {}
    for workers in (1, 2):
        with (
            distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, dashboard_address=":0"
            ) as cluster,
            distributed.Client(cluster),
        ):
            for name, read in inputs.items():
                bag = read()
                twpolicy.dask.dehydrate(bag).compute()  # warm the workers

                def run(bag: Any = bag) -> list[str]:
                    return list(twpolicy.dask.dehydrate(bag).compute())

                label = f"{workers} ({name})"
                seconds, ids = _best(run, rounds, f"dask{label}")
                if ids != expected:
                    raise AssertionError("Dask's IDs differ from the command line's")
                found[label] = seconds
    return found


def spark_times(paths: list[Path], rounds: int, expected: list[str]) -> dict[str, float]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession  # noqa: PLC0415

    import twpolicy.spark  # noqa: PLC0415

    found = {}
    for workers in (1, 2):
        spark = (
            SparkSession.builder.master(f"local[{workers}]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(workers))
            .config("spark.sql.files.maxPartitionBytes", str(BLOCK_MIB * 2**20))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        try:
            df = spark.read.text([str(p) for p in paths])

            def run(df: Any = df) -> list[str]:
                return [row.id for row in twpolicy.spark.dehydrate(df).collect()]

            run()  # warm the Python workers
            seconds, ids = _best(run, rounds, f"spark{workers}")
            if ids != expected:
                raise AssertionError("Spark's IDs differ from the command line's")
            found[str(workers)] = seconds
        finally:
            spark.stop()
    return found


def jobs_times(paths: list[Path], rounds: int, expected: list[str]) -> dict[str, float]:
    """``twpolicy dehydrate FILE... -o - --jobs 1`` and ``--jobs 2``, end to end."""
    import subprocess  # noqa: PLC0415

    command = [sys.executable, "-m", "twpolicy", "dehydrate", "--quiet", *map(str, paths)]
    command += ["-o", "-"]
    found = {}
    for jobs in (1, 2):

        def run(jobs: int = jobs) -> list[str]:
            done = subprocess.run(  # noqa: S603  # our own command
                [*command, "--jobs", str(jobs)], capture_output=True, check=True, text=True
            )
            return done.stdout.split()

        seconds, ids = _best(run, rounds, f"jobs{jobs}")
        if ids != expected:
            raise AssertionError("--jobs changed the IDs")
        found[str(jobs)] = seconds
    return found


ENGINES = {"jobs": jobs_times, "dask": dask_times, "spark": spark_times}


def measure(
    quick: bool = False,  # noqa: FBT001, FBT002  # run.py's signature
    mib: int = 64,
    rounds: int = 3,
    engines: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The engines' time over the command line's reader, on 1 and 2 workers each."""
    if quick:
        mib, rounds = 8, 1
    if engines is None:
        engines = ["jobs", "dask"] if quick else list(ENGINES)
        if quick:
            print("bench_scale: Spark left out of the quick variant (start-up)", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_dataset(Path(tmp), mib)
        size = sum(p.stat().st_size for p in paths)
        base, expected = baseline(paths, rounds)
        label = (
            f"command line's reader, 1 process ({size / base / 1e6:.0f} MB/s, "
            f"{CPU['baseline']:.2f} s CPU)"
        )
        for engine in engines:
            try:
                found = ENGINES[engine](paths, rounds, expected)
            except ImportError as exc:
                print(f"bench_scale: {engine} not run: {exc}", file=sys.stderr)
                continue
            for label, seconds in found.items():
                workers, _, variant = label.partition(" ")
                many = "s" * (workers != "1")
                rows.append(
                    {
                        "name": f"dehydrate FILE... --jobs {workers}"
                        if engine == "jobs"
                        else f"dehydrate on {engine}, {workers} worker{many} {variant}".rstrip(),
                        "ratio": seconds / base,
                        "baseline": label,
                        "bound": 60.0,
                        "detail": f"{size / seconds / 1e6:.0f} MB/s on {size / 1e6:.0f} MB, "
                        f"{CPU[f'{engine}{label}']:.2f} s CPU",
                    }
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--engines",
        type=lambda text: [name for name in text.split(",") if name],
        help=f"comma-separated, of {','.join(ENGINES)} (default: all; quick: jobs,dask)",
    )
    args = parser.parse_args()
    unknown = set(args.engines or ()) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    rows = measure(quick=args.quick, mib=args.mib, rounds=args.rounds, engines=args.engines)
    print("| run | time / command line | throughput |")
    print("|---|---:|---:|")
    for row in rows:
        print(f"| {row['name']} | {row['ratio']:.2f} | {row['detail']} |")
    print(f"\nbaseline: {rows[0]['baseline'] if rows else '-'}")
    print(f"median ratio {statistics.median(r['ratio'] for r in rows):.2f}" if rows else "")


if __name__ == "__main__":
    main()

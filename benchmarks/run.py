"""Every benchmark in one command: each ratio against its baseline, measured in the same run.

Imports each ``benchmarks/bench_*.py`` that defines ``measure(quick: bool = False) -> list[dict]``
and prints one table. Each row is a dict with

- ``name`` (str): what was measured;
- ``ratio`` (float): twpolicy's figure over the baseline's, so lower is better;
- ``baseline`` (str): what it was measured against, in the same run;
- ``bound`` (float): the gross-regression bound the CI smoke holds it to;
- ``detail`` (str, optional): absolute figures for the reader (GB/s, ms), never checked.

A benchmark that cannot run a row (an optional tool missing, no corpus) prints why and leaves
the row out. ``--smoke`` runs the quick variants and exits 1 only when a ratio exceeds its
bound: generous bounds on ratios, no absolute times, so a loaded machine does not fail it.

    python benchmarks/run.py [--smoke] [--only dehydrate,scan]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def modules(only: set[str] | None) -> list[str]:
    """The benchmark modules, by name (``bench_scan``), sorted."""
    names = sorted(path.stem for path in HERE.glob("bench_*.py"))
    if only:
        names = [name for name in names if name.removeprefix("bench_") in only]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="quick variants; exit 1 over a bound")
    parser.add_argument("--only", help="comma-separated benchmarks (dehydrate,scan,startup...)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    only = set(args.only.split(",")) if args.only else None
    rows: list[dict] = []
    started = time.perf_counter()
    for name in modules(only):
        module = importlib.import_module(name)
        measure = getattr(module, "measure", None)
        if measure is None or "quick" not in inspect.signature(measure).parameters:
            continue  # not (yet) a run.py benchmark: run it by itself
        print(f"running {name}{' (quick)' if args.smoke else ''}...", file=sys.stderr, flush=True)
        rows += measure(quick=args.smoke)
    print()
    print("| benchmark | ratio | baseline (same run) | bound | |")
    print("|---|---:|---|---:|---|")
    over = []
    for row in rows:
        flag = ""
        if row["ratio"] > row["bound"]:
            over.append(row)
            flag = "OVER BOUND"
        detail = row.get("detail", "")
        print(
            f"| {row['name']} | {row['ratio']:.2f} | {row['baseline']} | {row['bound']:g} | "
            f"{detail}{'; ' if detail and flag else ''}{flag} |"
        )
    print(f"\n{len(rows)} ratios in {time.perf_counter() - started:.0f} s; lower is better.")
    if over:
        names = ", ".join(row["name"] for row in over)
        print(f"gross regression: {names} over its bound", file=sys.stderr)
        return 1 if args.smoke else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Start-up of ``twpolicy`` commands that talk to no API, against the bare interpreter.

Each command runs as its own process on a one-line file, interleaved round by round with
``python -c pass``; times are the children's CPU time (user + system), which other work on a
shared machine disturbs far less than wall time. Bytecode is written once first (a
``PYTHONDONTWRITEBYTECODE`` environment would otherwise compile every module on every run,
as no installed package does). Importing the package and the command line must not import
tweepy, requests or oauthlib (tests/test_public_api.py checks that); the figure here is what
is left: the command's own modules.

    python benchmarks/bench_startup.py [--rounds 15]
    python -X importtime -m twpolicy dehydrate --help   # where the time goes
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

LINE = b'{"data": [{"id": "20", "text": "hi", "author_id": "5"}]}\n'


def _cpu(command: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(  # noqa: S603  # our own commands
        command, check=True, env=env, stdin=subprocess.DEVNULL, capture_output=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def commands(work: Path) -> dict[str, list[str]]:
    """The bare interpreter, then each command on a one-line file."""
    data = work / "one.jsonl"
    data.write_bytes(LINE)
    cli = [sys.executable, "-m", "twpolicy"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "twpolicy scan": [*cli, "scan", "--exit-zero", str(data)],
        "twpolicy dehydrate": [*cli, "dehydrate", str(data), str(work / "ids.txt")],
        "twpolicy clauses": [*cli, "clauses"],
        "twpolicy quotas --help": [*cli, "quotas", "--help"],
    }


def times(rounds: int) -> dict[str, list[float]]:
    """CPU seconds of each command, per round."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        runs = commands(Path(folder))
        for command in runs.values():  # writes the bytecode, warms the page cache
            _cpu(command, env)
        found: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(rounds):
            for name, command in runs.items():
                found[name].append(_cpu(command, env))
    return found


def measure(quick: bool = False) -> list[dict]:  # noqa: FBT001, FBT002  # run.py's contract
    """Each command's start-up over the bare interpreter's (medians of interleaved rounds)."""
    found = times(5 if quick else 15)
    bare = statistics.median(found.pop("python -c pass"))
    rows = []
    for name, runs in found.items():
        median = statistics.median(runs)
        rows.append(
            {
                "name": f"start-up: {name}",
                "ratio": median / bare,
                "baseline": "python -c pass",
                # Before lazy loading, about 25 times the bare interpreter (tweepy, requests,
                # the stores and rules for every command); now about 5 to 8.
                "bound": 15.0,
                "detail": f"{median * 1000:.0f} ms CPU (bare {bare * 1000:.0f} ms)",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    found = times(args.rounds)
    bare = statistics.median(found["python -c pass"])
    print("| command | median ms CPU | best ms | x python -c pass |")
    print("|---|---:|---:|---:|")
    for name, runs in found.items():
        median = statistics.median(runs)
        print(f"| {name} | {median * 1000:.0f} | {min(runs) * 1000:.0f} | {median / bare:.1f} |")


if __name__ == "__main__":
    main()

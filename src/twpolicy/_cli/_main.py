"""The ``twpolicy`` command: the catalog, and later the dataset tools.

Each subcommand registers itself with `_COMMANDS`; ``run`` functions return the exit code.
Exit codes: 0 success, 1 a policy finding (what the command looks for was found), 2 usage or
input error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from twpolicy._clauses import ClauseStatus, clauses, coverage_markdown
from twpolicy._cli import _dehydrate, _quotas
from twpolicy._cli._consent import add_consent
from twpolicy._cli._scan import add_scan_command
from twpolicy._version import __version__
from twpolicy.exceptions import TwPolicyError

__all__ = ["main"]


def _run_clauses(args: argparse.Namespace, out: TextIO) -> int:
    selected = [
        c for c in clauses() if args.status is None or c.status is ClauseStatus(args.status)
    ]
    if args.format == "json":
        json.dump([c.to_record() for c in selected], out, indent=2)
        out.write("\n")
    elif args.format == "markdown":
        out.write(coverage_markdown())
    else:
        width = max(len(c.ref) for c in selected) if selected else 6
        out.write(f"{'clause':<{width}}  {'status':<12}  title\n")
        for c in selected:
            rules = f"  [{', '.join(c.rules)}]" if c.rules else ""
            out.write(f"{c.ref:<{width}}  {c.status.value:<12}  {c.title}{rules}\n")
        counts = {s: sum(c.status is s for c in selected) for s in ClauseStatus}
        out.write(
            f"\n{len(selected)} clauses: "
            + ", ".join(f"{counts[s]} {s.value}" for s in ClauseStatus)
            + "\n"
        )
    return 0


def _add_clauses(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "clauses",
        help="list every policy clause and what twpolicy does about it",
        description="List every rule-bearing clause of the Developer Policy and the "
        "restricted-use page, with twpolicy's status for each and the rules behind it.",
    )
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument(
        "--status", choices=[s.value for s in ClauseStatus], help="only clauses with this status"
    )
    parser.set_defaults(run=_run_clauses)


_COMMANDS: tuple[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None], ...] = (
    _add_clauses,
    add_consent,
    add_scan_command,
    _dehydrate.register,
    _quotas.register,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``twpolicy`` command."""
    parser = argparse.ArgumentParser(
        prog="twpolicy",
        description="Keep Twitter/X API applications and datasets inside the Developer Policy.",
    )
    parser.add_argument("--version", action="version", version=f"twpolicy {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``twpolicy`` command; return its exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args, out or sys.stdout)
    except TwPolicyError as exc:
        sys.stderr.write(f"twpolicy: {exc}\n")
        return 2
    except BrokenPipeError:  # pragma: no cover  # e.g. `twpolicy clauses | head`
        return 0
    return code

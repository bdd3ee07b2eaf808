"""The ``twpolicy`` command: the clause catalog, the dataset tools and the ledgers.

Each subcommand registers itself with `_COMMANDS`; ``run`` functions return the exit code.
`main` is the one place that turns errors into exit codes (`twpolicy._cli._common.Exit`):
a refusal 1, a usage or input error 2, a store that cannot be used 3. No traceback reaches
the user; ``TWPOLICY_DEBUG=1`` shows one for an internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from twpolicy._clauses import ClauseStatus, clauses, coverage_markdown
from twpolicy._cli import _compliance, _decisions, _dehydrate, _quotas, _replay
from twpolicy._cli._common import (
    CliError,
    Exit,
    Output,
    add_report_options,
    check_text_arguments,
    open_output,
    same_file,
    shown,
    warn,
)
from twpolicy._cli._consent import add_consent
from twpolicy._cli._report import register as _add_report
from twpolicy._cli._scan import add_scan_command
from twpolicy._version import __version__
from twpolicy.exceptions import PolicyViolation, StoreUnavailable, TwPolicyError

__all__ = ["main"]


def _run_clauses(args: argparse.Namespace, out: TextIO) -> int:
    selected = [
        c for c in clauses() if args.status is None or c.status is ClauseStatus(args.status)
    ]
    if args.format == "json":
        json.dump([c.to_record() for c in selected], out, indent=2, ensure_ascii=False)
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
    add_report_options(parser, ("text", "table", "json", "markdown"))
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
    _decisions.register,
    _replay.register,
    _add_report,
    _compliance.register,
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


@contextlib.contextmanager
def _report(args: argparse.Namespace, stdout: TextIO | None) -> Iterator[TextIO | None]:
    """Where the report goes: ``--output``, standard output, or nowhere with ``--quiet``.

    A report file is put in place only when the command ran to its end (whatever it found);
    an error or an interrupt leaves the file as it was.
    """
    if not hasattr(args, "output"):
        yield stdout
        return
    name = args.output or "-"
    inputs = [*getattr(args, "files", ()), getattr(args, "notice_file", None) or "-"]
    clash = same_file(inputs, name)
    if clash is not None:
        raise CliError(
            Exit.BAD_INPUT, f"refusing to write the report over the input {shown(clash)}"
        )
    output: Output = open_output(name, stdout, quiet=args.quiet and not args.output)
    try:
        yield output.handle
    except BaseException:
        output.discard()
        raise
    output.commit()


def _streams() -> None:
    """Never fail to print: characters the terminal cannot show are escaped, not fatal."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _message(exc: BaseException) -> str:
    text = str(exc)
    return text if text.startswith("twpolicy") else f"twpolicy: {text}"


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:  # noqa: PLR0911  # one return per row of the exit-code table
    """Run the ``twpolicy`` command; return its exit code."""
    _streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    stdout = out if out is not None else sys.stdout
    try:
        check_text_arguments(args, parser)
        with _report(args, stdout) as report:
            code: int = args.run(args, report)
    except CliError as exc:
        warn(_message(exc))
        return exc.code
    except PolicyViolation as exc:  # an action refused: the decision says why and what to do
        warn(str(exc))
        return Exit.FINDINGS
    except StoreUnavailable as exc:
        warn(_message(exc))
        return Exit.STORE
    except TwPolicyError as exc:
        warn(_message(exc))
        return Exit.BAD_INPUT
    except BrokenPipeError:  # e.g. `twpolicy scan data.jsonl | head`
        _silence_stdout()
        warn("twpolicy: the output was closed before everything was written")
        return Exit.BAD_INPUT
    except KeyboardInterrupt:
        warn("twpolicy: interrupted; files being written were left as they were")
        return 130
    except Exception as exc:  # noqa: BLE001  # the last line of defence: no tracebacks
        if os.environ.get("TWPOLICY_DEBUG"):
            traceback.print_exc()
        warn(
            f"twpolicy: internal error ({type(exc).__name__}: {exc}). This is a bug in "
            "twpolicy: please report it with the command line; TWPOLICY_DEBUG=1 shows the "
            "traceback."
        )
        return Exit.INTERNAL
    return code


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so that exiting does not complain."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)

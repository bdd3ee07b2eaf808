"""The ``twpolicy`` command: the clause catalog, the dataset tools and the ledgers.

Each subcommand registers itself with `_COMMANDS`; ``run`` functions return the exit code.
`main` is the one place that turns errors into exit codes (`twpolicy._cli._common.Exit`):
a refusal 1, a usage or input error 2, a store that cannot be used 3. No traceback reaches
the user; ``TWPOLICY_DEBUG=1`` shows one for an internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

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
from twpolicy._version import __version__
from twpolicy.exceptions import PolicyViolation, StoreUnavailable, TwPolicyError

__all__ = ["main"]


def _run_clauses(args: argparse.Namespace, out: TextIO) -> int:
    # Loaded here, not at the top: see _COMMANDS.
    from twpolicy._clauses import ClauseStatus, clauses, coverage_markdown  # noqa: PLC0415

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
    from twpolicy._clauses import ClauseStatus  # noqa: PLC0415  # see _COMMANDS

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


#: Each command's names, and where the function that adds it to the parser lives, in the
#: order ``twpolicy --help`` lists them. A command's module (and what it imports: stores,
#: rules, the guard) loads only when that command runs, so that start-up stays short.
_COMMANDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("clauses",), "twpolicy._cli._main", "_add_clauses"),
    (("consent",), "twpolicy._cli._consent", "add_consent"),
    (("scan",), "twpolicy._cli._scan", "add_scan_command"),
    (("dehydrate",), "twpolicy._cli._dehydrate", "register"),
    (("quotas",), "twpolicy._cli._quotas", "register"),
    (("decisions",), "twpolicy._cli._decisions", "register"),
    (("replay",), "twpolicy._cli._replay", "register"),
    (("report",), "twpolicy._cli._report", "register"),
    (("comply", "compliance"), "twpolicy._cli._compliance", "register"),
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of the ``twpolicy`` command.

    Given the arguments, only the command they name is added (the others are not imported);
    without them, or when they name no command (``--help``, a typo), every command is.
    """
    parser = argparse.ArgumentParser(
        prog="twpolicy",
        description="Keep Twitter/X API applications and datasets inside the Developer Policy.",
    )
    parser.add_argument("--version", action="version", version=f"twpolicy {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    named = [c for c in _COMMANDS if argv and argv[0] in c[0]]
    for _names, module, function in named or _COMMANDS:
        add: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] = getattr(
            importlib.import_module(module), function
        )
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
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
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
            import traceback  # noqa: PLC0415  # start-up: only for a bug, on request

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

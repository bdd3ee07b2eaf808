"""What every ``twpolicy`` command shares: exit codes, streams, outputs, stores, progress.

One module so that the commands speak one dialect: the same option and environment variable
for a store, the same ``--format``/``--output``/``--quiet`` for a report, the same exit code
for the same outcome, and the same care with files (see `open_output`).
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import io
import os
import stat
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Final, TextIO

import attrs

__all__ = [
    "COMPLIANCE",
    "CONSENT",
    "QUOTA",
    "CliError",
    "Exit",
    "Output",
    "Progress",
    "StoreKind",
    "add_report_options",
    "add_store_option",
    "check_text_arguments",
    "mebibytes",
    "open_output",
    "shown",
    "stdin_binary",
    "store_url",
    "utc_time",
    "warn",
]


class Exit(enum.IntEnum):
    """The exit codes of every command. When several apply, the highest wins."""

    OK = 0
    """Done, and nothing was found or refused."""
    FINDINGS = 1
    """What the command looks for was found (standalone location, a tampered ledger), or
    the action was refused by the policy (a quota, a missing consent)."""
    BAD_INPUT = 2
    """A usage error, or an input, record or output that could not be read or written."""
    STORE = 3
    """A store (consent, quota or compliance ledger) could not be opened, read or written."""
    INTERNAL = 4
    """A bug in twpolicy: the message says what to report."""


class CliError(Exception):
    """A command cannot go on; ``code`` is its exit code, the message says what to do."""

    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(message)
        self.code = code


def shown(name: str) -> str:
    r"""A file name as it can be printed: bytes that are not UTF-8 are shown as ``\xff``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def warn(text: str) -> None:
    """Write a diagnostic line to standard error (nothing if it is closed)."""
    stream = sys.stderr
    if stream is not None:
        stream.write(text if text.endswith("\n") else text + "\n")
        stream.flush()


def stdin_binary() -> BinaryIO:
    """Standard input, for ``-``; an input error when the shell closed it (``<&-``)."""
    stream = sys.stdin
    if stream is None:
        raise CliError(Exit.BAD_INPUT, "standard input is closed; name a file instead of -")
    return stream.buffer


# -- arguments -------------------------------------------------------------------------------

#: The most ``--max-record-mib`` accepts (64 GiB): more than any record, less than overflows.
MAX_MIB: Final = 65536


def mebibytes(text: str) -> int:
    """``--max-record-mib``: a whole number from 1 to `MAX_MIB`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)!r} is not a whole number") from None
    if not 1 <= value <= MAX_MIB:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_MIB}, got {value}")
    return value


#: The times a command accepts: past the epoch, and far enough from year 9999 that a ledger
#: can add a day or a retention period without overflowing.
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST: Final = datetime(9000, 1, 1, tzinfo=timezone.utc)


def utc_time(text: str, option: str) -> datetime:
    """An ISO 8601 time with a timezone (``Z`` or an offset), as UTC, within range.

    Raises:
        CliError: not such a time, naive, or out of range (a usage error naming ``option``).
    """
    example = "write e.g. 2030-01-31T12:00:00Z"

    def refuse(why: str) -> CliError:
        return CliError(Exit.BAD_INPUT, f"argument {option}: {shown(text)!r} {why}")

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise refuse(f"is not an ISO 8601 time; {example}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise refuse(f"has no timezone; {example}")
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise refuse(
            f"is out of range: give a time from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} (UTC)"
        )
    return utc


#: Arguments that name files: any bytes the system allows (shown escaped when printed).
PATH_ARGUMENTS: Final = frozenset({"files", "infile", "outfile", "output", "notice_file"})


def _option_names(parser: argparse.ArgumentParser, names: dict[str, str]) -> dict[str, str]:
    for action in parser._actions:  # noqa: SLF001  # argparse has no public walk
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in action.choices.values():
                _option_names(sub, names)
        elif action.dest not in names:
            name = action.option_strings[0] if action.option_strings else action.metavar
            names[action.dest] = str(name or action.dest)
    return names


def check_text_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse argument values that are not UTF-8 text (file names excepted).

    Linux hands Python undecodable argument bytes as lone surrogates, which no ledger,
    terminal or JSON document can hold: a usage error says which argument, not a traceback.
    """
    names: dict[str, str] | None = None
    for dest, value in vars(args).items():
        if dest in PATH_ARGUMENTS:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str) and _has_surrogates(item):
                names = names or _option_names(parser, {})
                raise CliError(
                    Exit.BAD_INPUT,
                    f"argument {names.get(dest, dest)}: '{shown(item)}' is not valid UTF-8 "
                    "text; retype it in UTF-8",
                )


class _Deprecated(argparse.Action):
    """An old spelling of an option: still works for one release, and says what replaces it."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        self.new: str = kwargs.pop("new")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,  # noqa: ARG002  # argparse's protocol
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        warn(
            f"twpolicy: {option_string} is deprecated and will be removed in the next "
            f"release; use {self.new}"
        )
        setattr(namespace, self.dest, values)


# -- stores ----------------------------------------------------------------------------------


@attrs.frozen
class StoreKind:
    """One kind of store and how every command names it: an option and a variable."""

    option: str
    env: str
    what: str
    example: str
    deprecated: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        """The attribute of the parsed arguments."""
        return self.option.removeprefix("--").replace("-", "_")


CONSENT: Final = StoreKind(
    "--consent-db", "TWPOLICY_CONSENT_DB", "consent ledger", "sqlite:///consent.db", ("--db",)
)
QUOTA: Final = StoreKind(
    "--quota-db", "TWPOLICY_QUOTA_DB", "quota ledger", "sqlite:///quotas.db", ("--ledger",)
)
COMPLIANCE: Final = StoreKind(
    "--compliance-db", "TWPOLICY_COMPLIANCE_DB", "compliance store", "sqlite:///compliance.db"
)


def add_store_option(parser: argparse.ArgumentParser, kind: StoreKind, *, extra: str = "") -> None:
    """Add ``kind``'s option (and its deprecated spellings) to ``parser``."""
    parser.add_argument(
        kind.option,
        dest=kind.dest,
        metavar="URL",
        help=f"the {kind.what}: sqlite:///path.db or postgresql://... (default: ${kind.env})"
        + extra,
    )
    for old in kind.deprecated:
        parser.add_argument(
            old, dest=kind.dest, metavar="URL", action=_Deprecated, new=kind.option,
            help=argparse.SUPPRESS,
        )  # fmt: skip


def store_url(args: argparse.Namespace, kind: StoreKind) -> str:
    """The URL of the ``kind`` store named by its option or variable; usage errors else.

    ``memory://`` is refused: it would hold nothing outside this one command.
    """
    url = getattr(args, kind.dest, None) or os.environ.get(kind.env) or ""
    if not url.strip():
        raise CliError(
            Exit.BAD_INPUT,
            f"no {kind.what} given: pass {kind.option} URL (e.g. {kind.option} "
            f"{kind.example}) or set {kind.env}",
        )
    if _has_surrogates(url):
        raise CliError(Exit.BAD_INPUT, f"the {kind.what} URL {shown(url)!r} is not UTF-8 text")
    if url.partition(":")[0].strip().lower() == "memory":
        raise CliError(
            Exit.BAD_INPUT,
            f"{kind.option} memory:// would keep nothing once this command ends; name a "
            f"{kind.what} that lasts, e.g. {kind.option} {kind.example}",
        )
    return url


# -- reports and outputs ---------------------------------------------------------------------


def add_report_options(
    parser: argparse.ArgumentParser, formats: Sequence[str] = ("text", "json"), default: str = ""
) -> None:
    """``--format``, ``--output`` and ``--quiet``: the same for every report."""
    parser.add_argument("--format", choices=formats, default=default or formats[0])
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the report to FILE instead of standard output (a regular file is "
        "replaced when the command ends; a FIFO or device is written in place)",
    )
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="print no report, progress or warnings on the terminal: the exit code tells "
        "(a report still goes to --output)",
    )


class _Discard(io.StringIO):
    """A report nobody asked to see (``--quiet``)."""

    def write(self, text: str) -> int:
        return len(text)


@attrs.define
class Output:
    """Where a command writes: standard output, a regular file, or a file written in place.

    A regular file is written beside itself and renamed over the old one by `commit`, so a
    failed command leaves it as it was; it keeps the old file's mode and owner, or for a new
    file the mode the umask gives. Anything else (a FIFO, a device) is written in place, and
    a symbolic link is followed to its target: the link stays a link.
    """

    name: str
    handle: TextIO
    _temp: str | None = None
    _target: str | None = None
    _closes: bool = False

    def commit(self) -> None:
        """Put what was written in place."""
        self.handle.flush()
        if self._temp is None or self._target is None:
            if self._closes:
                self.handle.close()
            return
        os.fsync(self.handle.fileno())
        self.handle.close()
        Path(self._temp).replace(self._target)
        self._temp = None
        try:
            folder = os.open(Path(self._target).parent, os.O_RDONLY)
        except OSError:  # pragma: no cover  # a directory one may write but not open
            return
        with contextlib.suppress(OSError):  # some file systems cannot sync a directory
            os.fsync(folder)
        os.close(folder)

    def discard(self) -> None:
        """Leave the target as it was (for a regular file); close what was opened."""
        if self._closes or self._temp is not None:
            with contextlib.suppress(OSError):
                self.handle.close()
        if self._temp is not None:
            Path(self._temp).unlink(missing_ok=True)
            self._temp = None

    @property
    def regular(self) -> bool:
        """Whether the target is a regular file, replaced at `commit`."""
        return self._target is not None


def _text(fd: int, encoding: str) -> TextIO:
    return open(
        fd, "w", encoding=encoding, errors="backslashreplace", newline="\n"
    )  # closed by Output


def open_output(
    name: str, stdout: TextIO | None, *, encoding: str = "utf-8", quiet: bool = False
) -> Output:
    """Open where a command writes ``name`` (``-``: standard output)."""
    if name == "-":
        if quiet:
            return Output(name, _Discard())
        if stdout is None:
            raise CliError(Exit.BAD_INPUT, "standard output is closed; name a file with --output")
        return Output(name, stdout)
    target = os.path.realpath(name)
    try:
        return _open_target(name, target, encoding)
    except OSError as exc:
        raise CliError(Exit.BAD_INPUT, f"cannot write {shown(name)}: {exc.strerror}") from None


def _open_target(name: str, target: str, encoding: str) -> Output:
    try:
        found: os.stat_result | None = Path(target).stat()
    except FileNotFoundError:
        found = None
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise CliError(Exit.BAD_INPUT, f"cannot write {shown(name)}: it is a directory")
    if found is not None and not stat.S_ISREG(found.st_mode):
        # A FIFO, a device, a terminal: written in place, never replaced or truncated.
        fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC | os.O_NOCTTY)
        return Output(name, _text(fd, encoding), closes=True)
    folder = Path(target).parent
    temp = str(folder / f".{Path(target).name}.{os.urandom(4).hex()}.tmp")
    # 0o666 less the umask for a new file, as the shell's `>` would make it.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    if found is not None:
        with contextlib.suppress(OSError):  # not ours to give: the new file is the writer's
            os.fchown(fd, found.st_uid, found.st_gid)
        os.fchmod(fd, stat.S_IMODE(found.st_mode))
    return Output(name, _text(fd, encoding), temp=temp, target=target)


def same_file(inputs: Iterable[str], output: str) -> str | None:
    """The input that ``output`` would overwrite, if any (so it can be refused)."""
    if output == "-":
        return None
    try:
        written = Path(output).stat()
    except OSError:
        return None
    for name in inputs:
        if name == "-":
            continue
        try:
            read = Path(name).stat()
        except OSError:
            continue
        if (read.st_dev, read.st_ino) == (written.st_dev, written.st_ino):
            return name
    return None


# -- progress --------------------------------------------------------------------------------

#: Seconds before a bar appears (short runs show none), and between redraws.
PROGRESS_DELAY = 0.5
PROGRESS_INTERVAL = 0.2


class Progress:
    """A progress bar on standard error (tqdm), or nothing at all.

    Shown only when asked (``--progress``) or when standard error is a terminal and the
    command is not ``--quiet``: a file or a pipe never gets a control character. Messages
    written through `write` clear the bar first, so they never share a line with it.
    """

    def __init__(self, label: str, total: int | None, *, show: bool, unit: str = "B") -> None:
        """``unit``: ``"B"`` for bytes of a file, or a word (``"record"``) to count."""
        self._bar: Any = None
        self._bytes = unit == "B"
        if show and sys.stderr is not None:
            from tqdm import tqdm  # noqa: PLC0415  # imported only when a bar is drawn

            self._bar = tqdm(
                total=total,
                desc=label,
                unit="B" if self._bytes else f" {unit}s",
                unit_scale=self._bytes,
                unit_divisor=1024,
                file=sys.stderr,
                leave=False,
                delay=PROGRESS_DELAY,
                mininterval=PROGRESS_INTERVAL,
                dynamic_ncols=True,
            )

    @staticmethod
    def wanted(args: argparse.Namespace) -> bool:
        """Whether to draw a bar for these arguments."""
        if getattr(args, "progress", False):
            return True
        if getattr(args, "quiet", False) or sys.stderr is None:
            return False
        try:
            return sys.stderr.isatty()
        except ValueError:  # pragma: no cover  # a closed stream
            return False

    def update(self, position: int, records: int) -> None:
        """Move the bar to ``position`` (bytes, or records when the size is unknown)."""
        bar = self._bar
        if bar is not None:
            if self._bytes:
                bar.set_postfix_str(f"{records:,} records", refresh=False)
            bar.update(max(position - bar.n, 0))

    def write(self, text: str) -> None:
        """A message on standard error that does not mix with the bar."""
        if self._bar is not None:
            self._bar.write(text.rstrip("\n"), file=sys.stderr)
        else:
            warn(text)

    def close(self) -> None:
        """Take the bar off the screen."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

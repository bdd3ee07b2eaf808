"""``twpolicy scan``: find location data in stored payloads, and where it stands alone.

Reads JSON, JSON Lines, concatenated (pretty-printed) JSON, gzip-compressed or not, from files
or standard input, one record at a time: memory is bounded by the largest record, not the
file. Each record is walked once (`twpolicy._geo`); unreadable records are reported one by one
and the scan goes on. Exit code 1 when standalone location is found (I.B.7), 2 when an input
or a record could not be read, 0 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import gzip
import io
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, NamedTuple, Protocol, TextIO

import attrs

from twpolicy._payloads._geo import REASONS, Hit, hits

__all__ = ["add_scan_command", "read_records", "scan"]


def _loads_fast(data: bytes) -> Any:
    """Parse with orjson where it can; what it refuses, ``json`` reads (or explains).

    orjson refuses some JSON the standard parser takes (lone surrogate escapes, integers
    past 64 bits, NaN): those records are read, and errors worded, the standard way.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


#: The JSON parser: orjson when installed (``pip install twpolicy[fast]``), else the standard one.
LOADS: Callable[[bytes], Any] = json.loads
try:
    import orjson
except ImportError:  # pragma: no cover  # exercised where orjson is not installed
    pass
else:
    LOADS = _loads_fast

#: The largest record read by default; longer ones are reported and skipped.
MAX_RECORD_BYTES: Final = 64 * 2**20
#: How many unreadable records each file lists (all are counted).
MAX_LISTED_ERRORS: Final = 20

# A complete string, a bracket, or a quote that opens a string the line does not close.
_TOKENS: Final = re.compile(rb'"(?:[^"\\\n]|\\.)*"|[\[\]{}]|"')
_OPENERS: Final = frozenset(b"{[")
_OPEN: Final = frozenset({b"{", b"["})
_CLOSE: Final = frozenset({b"}", b"]"})


class Lines(Protocol):
    """A binary stream read line by line (a file, standard input, a gzip stream)."""

    def readline(self, size: int = -1, /) -> bytes:
        """The next line, at most ``size`` bytes of it."""
        ...


class Record(NamedTuple):
    """One record of the input: its number, the line it starts on, its value or why not.

    A named tuple, not an attrs class: one is made per record, on the hot path.
    """

    number: int
    line: int
    value: Any = None
    error: str | None = None


_BLANK: Final = Record(0, 0)  # what a blank line holds


def _error(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at byte {exc.pos})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    return f"not valid JSON ({exc})"


class _Reader:
    """Cut a byte stream into records: one per line when it can, else by bracket depth."""

    def __init__(self, stream: Lines, max_bytes: int, loads: Callable[[bytes], Any]) -> None:
        self._stream = stream
        self._max = max_bytes
        self._loads = loads
        self._line = 0
        self._count = 0
        # A record spanning lines: its parts, nesting depth, first line, size (-1: too big).
        self._parts: list[bytes] = []
        self._depth = 0
        self._start = 0
        self._size = 0

    def _record(self, line: int, value: Any = None, error: str | None = None) -> Record:
        self._count += 1
        if error is None and not isinstance(value, (dict, list)):
            what = "null" if value is None else type(value).__name__
            error, value = f"a JSON {what}, not an object or array", None
        return Record(self._count, line, value, error)

    def _parse(self, line: int, data: bytes) -> Record:
        try:
            return self._record(line, self._loads(data))
        except (ValueError, RecursionError) as exc:
            return self._record(line, error=_error(exc))

    def __iter__(self) -> Iterator[Record]:
        for line in self._lines():
            if line is None:
                yield self._oversized()
            elif self._depth == 0:
                text = line.strip()
                record = self._whole(text) if text else _BLANK
                if record is None:
                    yield from self._frame(line)
                elif record is not _BLANK:
                    yield record
            elif line[:1] in _OPEN and (resumed := self._resume(line)) is not None:
                # A whole record at the start of a line inside an unfinished one: the
                # unfinished one was cut off (a truncated JSON Lines line); resume here.
                yield from resumed
            else:
                yield from self._frame(line)
        if self._depth:
            self._depth, self._parts = 0, []
            yield self._record(self._start, error="cut off: the input ends inside this record")

    def _lines(self) -> Iterator[bytes | None]:
        """Each line (``None`` for one over the size limit, which is skipped)."""
        readline = self._stream.readline
        limit = self._max + 1
        line = readline(limit)
        if line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a UTF-8 byte order mark, as some editors write
        while line:
            self._line += 1
            if len(line) == limit and not line.endswith(b"\n"):
                while line and not line.endswith(b"\n"):
                    line = readline(limit)
                yield None
            else:
                yield line
            line = readline(limit)

    def _oversized(self) -> Record:
        start = self._start if self._depth else self._line
        self._depth, self._parts = 0, []
        return self._record(start, error=f"larger than {self._max:,} bytes; skipped")

    def _whole(self, text: bytes) -> Record | None:
        """The record a line holds; ``None`` when it may begin a record spanning lines."""
        try:
            return self._record(self._line, self._loads(text))
        except (ValueError, RecursionError) as exc:
            if isinstance(exc, RecursionError) or text[0] not in _OPENERS:
                return self._record(self._line, error=_error(exc))
            return None

    def _resume(self, line: bytes) -> list[Record] | None:
        try:
            value = self._loads(line)
        except (ValueError, RecursionError):
            return None
        cut = self._record(self._start, error=f"cut off: a new record starts at line {self._line}")
        self._depth, self._parts = 0, []
        return [cut, self._record(self._line, value)]

    def _frame(self, line: bytes) -> Iterator[Record]:
        """Follow bracket depth through ``line``; yield each record that ends in it."""
        position, end = 0, len(line)
        while position < end:
            if self._depth == 0:
                while position < end and line[position] in b" \t\r\n":
                    position += 1
                if position == end:
                    return
                if line[position] not in _OPENERS:
                    yield self._record(self._line, error="not JSON: text between records")
                    return
                self._start, self._parts, self._size = self._line, [], 0
            first, position = position, self._follow(line, position)
            self._keep(line[first:position])
            if self._depth > 0:
                return
            parts, self._parts = self._parts, []
            if self._depth < 0:
                self._depth = 0
                yield self._record(
                    self._start, error="not valid JSON (cut off, or brackets unmatched)"
                )
                return
            if self._size < 0:
                yield self._record(self._start, error=f"larger than {self._max:,} bytes; skipped")
            else:
                yield self._parse(self._start, b"".join(parts))

    def _follow(self, line: bytes, position: int) -> int:
        """Track depth from ``position``; where the record closes (or breaks), else the end."""
        for token in _TOKENS.finditer(line, position):
            mark = token[0]
            if mark in _OPEN:
                self._depth += 1
                continue
            if len(mark) > 1:  # a whole string: brackets inside it do not count
                continue
            # A closing bracket, or a string the line does not close (JSON never does that).
            self._depth = self._depth - 1 if mark in _CLOSE else -1
            if self._depth <= 0:
                return token.end()
        return len(line)

    def _keep(self, part: bytes) -> None:
        if self._size < 0:
            return
        self._size += len(part)
        if self._size > self._max:
            self._size, self._parts = -1, []
        else:
            self._parts.append(part)


def read_records(
    stream: Lines, *, max_bytes: int = MAX_RECORD_BYTES, loads: Callable[[bytes], Any] = LOADS
) -> Iterator[Record]:
    """Every record of ``stream``: JSON, JSON Lines or concatenated JSON, one at a time."""
    return iter(_Reader(stream, max_bytes, loads))


@attrs.define
class FileSummary:
    """What one input held."""

    name: str
    records: int = 0
    with_location: int = 0
    standalone_records: int = 0
    standalone_data: int = 0
    unreadable: int = 0
    kinds: collections.Counter[str] = attrs.field(factory=collections.Counter)
    failure: str | None = None

    def to_record(self) -> dict[str, Any]:
        """The counts as JSON-serialisable data."""
        return {
            "records": self.records,
            "with_location": self.with_location,
            "standalone_records": self.standalone_records,
            "standalone_data": self.standalone_data,
            "unreadable": self.unreadable,
            "location_kinds": dict(sorted(self.kinds.items())),
        }


class _Report(Protocol):
    """Where results go as they are found (text or JSON); nothing is held back."""

    show_all: bool

    def start(self, name: str) -> None: ...
    def finding(self, record: Record, found: list[Hit]) -> None: ...
    def unreadable(self, record: Record, *, listed: bool) -> None: ...
    def end(self, summary: FileSummary) -> None: ...
    def close(self, summaries: list[FileSummary]) -> None: ...


def _plural(count: int, word: str, plural: str = "") -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


class _TextReport:
    def __init__(self, out: TextIO, *, show_all: bool) -> None:
        self.out = out
        self.show_all = show_all

    def start(self, name: str) -> None:
        self.out.write(f"{name}\n")

    def finding(self, record: Record, found: list[Hit]) -> None:
        for hit in found:
            if hit.standalone or self.show_all:
                state = "standalone " if hit.standalone else ""
                why = f"{hit.reason}: {REASONS[hit.reason]}" if hit.standalone else hit.reason
                self.out.write(
                    f"  record {record.number} (line {record.line}): {state}{hit.kind.value} "
                    f"at {hit.pointer or '/'} ({why})\n"
                )

    def unreadable(self, record: Record, *, listed: bool) -> None:
        if listed:
            self.out.write(
                f"  record {record.number} (line {record.line}): unreadable: {record.error}\n"
            )

    def end(self, summary: FileSummary) -> None:
        if summary.failure is not None:
            self.out.write(f"  cannot read: {summary.failure}\n")
            return
        hidden = summary.unreadable - MAX_LISTED_ERRORS
        if hidden > 0:
            self.out.write(f"  ... and {_plural(hidden, 'more unreadable record')}\n")
        self.out.write(
            f"  {_plural(summary.records, 'record')}: {summary.with_location:,} with location, "
            f"{summary.standalone_records:,} with standalone location "
            f"({_plural(summary.standalone_data, 'datum', 'data')}), "
            f"{summary.unreadable:,} unreadable\n"
        )
        if summary.kinds:
            kinds = ", ".join(f"{count:,} {kind}" for kind, count in summary.kinds.most_common())
            self.out.write(f"  location found: {kinds}\n")

    def close(self, summaries: list[FileSummary]) -> None:
        if len(summaries) > 1:
            total = _total(summaries)
            self.out.write(
                f"{_plural(len(summaries), 'file')}, {_plural(total.records, 'record')}: "
                f"{total.with_location:,} with location, {total.standalone_records:,} with "
                f"standalone location, {total.unreadable:,} unreadable\n"
            )


class _JsonReport:
    """One JSON document, written as the scan goes (so it streams)."""

    def __init__(self, out: TextIO, *, show_all: bool) -> None:
        self.out = out
        self.show_all = show_all
        self._first_file = True
        self._first_entry = True

    def _entry(self, entry: dict[str, Any]) -> None:
        self.out.write(("\n" if self._first_entry else ",\n") + "      " + json.dumps(entry))
        self._first_entry = False

    def start(self, name: str) -> None:
        self.out.write('{\n  "files": [\n' if self._first_file else ",\n")
        self.out.write(f'    {{"file": {json.dumps(name)}, "records": [')
        self._first_file, self._first_entry = False, True

    def finding(self, record: Record, found: list[Hit]) -> None:
        listed = [hit for hit in found if hit.standalone or self.show_all]
        if listed:
            self._entry(
                {
                    "record": record.number,
                    "line": record.line,
                    "findings": [
                        {
                            "pointer": hit.pointer,
                            "kind": hit.kind.value,
                            "standalone": hit.standalone,
                            "reason": hit.reason,
                        }
                        for hit in listed
                    ],
                }
            )

    def unreadable(self, record: Record, *, listed: bool) -> None:
        if listed:
            self._entry({"record": record.number, "line": record.line, "error": record.error})

    def end(self, summary: FileSummary) -> None:
        tail = {"counts": summary.to_record(), "error": summary.failure}
        self.out.write(("\n    " if not self._first_entry else "") + "], ")
        self.out.write(json.dumps(tail)[1:-1] + "}")

    def close(self, summaries: list[FileSummary]) -> None:
        if self._first_file:
            self.out.write('{\n  "files": [')
        self.out.write(f'\n  ],\n  "totals": {json.dumps(_total(summaries).to_record())}\n}}\n')


def _total(summaries: list[FileSummary]) -> FileSummary:
    total = FileSummary("total")
    for summary in summaries:
        total.records += summary.records
        total.with_location += summary.with_location
        total.standalone_records += summary.standalone_records
        total.standalone_data += summary.standalone_data
        total.unreadable += summary.unreadable
        total.kinds.update(summary.kinds)
    return total


#: Seconds before a progress line appears (short scans show none), and between updates.
PROGRESS_DELAY = 0.5
PROGRESS_INTERVAL = 0.1


class _Progress:
    """A progress line on stderr for long inputs; it never touches stdout."""

    def __init__(self, name: str, total: int | None, stream: TextIO | None) -> None:
        self._name = name
        self._total = total
        self._stream = stream
        self._next = time.monotonic() + PROGRESS_DELAY
        self._shown = False

    def update(self, raw: Any, records: int) -> None:
        if self._stream is None:
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + PROGRESS_INTERVAL
        done = raw.tell() if raw.seekable() else 0
        size = f"{done / 2**20:,.1f} MiB"
        if self._total:
            fraction = min(done / self._total, 1.0)
            bar = "#" * int(fraction * 24)
            size = f"[{bar:<24}] {fraction:4.0%} {size} of {self._total / 2**20:,.1f} MiB"
        self._stream.write(f"\r\x1b[2K{self._name}: {size}, {records:,} records")
        self._stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown and self._stream is not None:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()


def _open(name: str, stdin: BinaryIO) -> tuple[Lines, Any, int | None]:
    """Open an input: (the stream to read, the underlying file for progress, its size)."""
    if name == "-":
        raw: Any = stdin
        size = None
    else:
        raw = Path(name).open("rb")  # noqa: SIM115  # closed by scan()
        size = os.fstat(raw.fileno()).st_size
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=buffered), buffered, size
    return buffered, buffered, size


def scan(
    names: list[str],
    out: TextIO,
    *,
    output: str = "text",
    show_all: bool = False,
    progress: TextIO | None = None,
    max_bytes: int = MAX_RECORD_BYTES,
    stdin: BinaryIO | None = None,
    loads: Callable[[bytes], Any] = LOADS,
) -> list[FileSummary]:
    """Scan each named input (``-`` for standard input); write the report to ``out``."""
    report: _Report = (_JsonReport if output == "json" else _TextReport)(out, show_all=show_all)
    with _collector_paused():
        summaries = [
            _scan_file(
                name, report, progress, stdin, read_options={"max_bytes": max_bytes, "loads": loads}
            )
            for name in names
        ]
    report.close(summaries)
    return summaries


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while scanning.

    Records are JSON trees (and the walk's nodes point only upwards), freed by reference
    counting as soon as each record is done; the collector would only traverse every young
    record again and again for nothing (a third of the scan's time).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _scan_file(
    name: str,
    report: _Report,
    progress: TextIO | None,
    stdin: BinaryIO | None,
    *,
    read_options: dict[str, Any],
) -> FileSummary:
    """Scan one input, reporting as it goes."""
    summary = FileSummary(name)
    report.start(name)
    try:
        stream, raw, size = _open(name, stdin or sys.stdin.buffer)
    except OSError as exc:
        summary.failure = exc.strerror or str(exc)
        report.end(summary)
        return summary
    bar = _Progress(name, size, progress)
    try:
        for record in read_records(stream, **read_options):
            _scan_record(record, summary, report)
            bar.update(raw, record.number)
    except (OSError, EOFError) as exc:  # a device error, a broken gzip stream
        summary.failure = str(exc) or type(exc).__name__
    finally:
        bar.close()
        if name != "-":
            raw.close()
    report.end(summary)
    return summary


def _scan_record(record: Record, summary: FileSummary, report: _Report) -> None:
    summary.records += 1
    if record.error is not None:
        summary.unreadable += 1
        report.unreadable(record, listed=summary.unreadable <= MAX_LISTED_ERRORS)
        return
    found = list(hits(record.value))
    if not found:
        return
    summary.with_location += 1
    summary.kinds.update([hit.kind.value for hit in found])
    standalone = sum(hit.standalone for hit in found)
    if standalone:
        summary.standalone_records += 1
        summary.standalone_data += standalone
    if standalone or report.show_all:
        report.finding(record, found)


def _run_scan(args: argparse.Namespace, out: TextIO) -> int:
    progress = sys.stderr if args.progress or sys.stderr.isatty() else None
    summaries = scan(
        args.files,
        out,
        output=args.format,
        show_all=args.all,
        progress=progress,
        max_bytes=args.max_record_mib * 2**20,
    )
    if any(s.failure is not None for s in summaries):
        return 2
    if args.exit_zero:
        return 0
    if any(s.standalone_records for s in summaries):
        return 1
    return 2 if any(s.unreadable for s in summaries) else 0


def add_scan_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``twpolicy scan``."""
    parser = subparsers.add_parser(
        "scan",
        help="find location data in stored payloads, and where it stands alone (I.B.7)",
        description="Scan JSON, JSON Lines or concatenated JSON (gzip-compressed or not) for "
        "location data: list the records where it stands apart from the Tweet or user it "
        "belongs to, with JSON pointers, and count the rest. Exit code 1 when standalone "
        "location is found, 2 when an input or a record could not be read (an input that "
        "cannot be opened wins), 0 otherwise.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="input files; - for stdin")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--all", action="store_true", help="list every location datum, not only standalone ones"
    )
    parser.add_argument(
        "--progress", action="store_true", help="show progress on stderr even when not a TTY"
    )
    parser.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even when standalone location or unreadable records are found "
        "(report only; inputs that cannot be opened still exit 2)",
    )
    parser.add_argument(
        "--max-record-mib",
        type=int,
        default=MAX_RECORD_BYTES // 2**20,
        metavar="MIB",
        help="skip (and report) records larger than this (default %(default)s)",
    )
    parser.set_defaults(run=_run_scan)

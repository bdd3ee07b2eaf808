"""``twpolicy scan``: find location data in stored payloads, and where it stands alone.

Reads JSON, JSON Lines, concatenated (pretty-printed) JSON, compressed or not, in UTF-8, -16
or -32, from files or standard input, one record at a time with the command line's one
reader (`twpolicy._cli._records`): memory is bounded by the largest record, not the file.
Lines of the shapes most data has are judged from their bytes (`twpolicy._payloads._fastscan`,
the same findings); every other record is walked once (`twpolicy._payloads._geo`).
Unreadable spans are reported by their lines and the scan goes on. With ``--jobs``, a large
plain file is read by many processes with the same report (`twpolicy._cli._parallel`). Exit
codes follow `twpolicy._cli._common.Exit`.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple, Protocol, TextIO

import attrs

from twpolicy._cli._common import (
    CliError,
    Exit,
    Progress,
    add_report_options,
    mebibytes,
    shown,
    warn,
)
from twpolicy._cli._parallel import (
    Chunk,
    add_jobs_option,
    chunk_records,
    default_jobs,
    map_chunks,
    shift_lines,
    splittable,
)
from twpolicy._cli._records import (
    LOADS,
    MAX_RECORD_BYTES,
    Lines,
    Record,
    RecordReader,
    open_source,
    read_records,
)
from twpolicy._payloads import _chunks
from twpolicy._payloads._batch import collector_paused, record_hits
from twpolicy._payloads._geo import REASONS, LocationMemory
from twpolicy._payloads._shapes import GeoKind
from twpolicy._payloads._walker import UniqueKeys
from twpolicy.exceptions import PayloadError

__all__ = ["LOADS", "Lines", "Record", "add_scan_command", "read_records", "scan"]

#: How many unreadable records each file lists (all are counted).
MAX_LISTED_ERRORS: Final = 20
#: Bytes read before the fast location path is generated (it costs some 50 ms CPU, which
#: small inputs, and the command's start-up, do without).
FAST_AFTER: Final = 2 * 2**20
#: Records between two progress updates.
_EVERY: Final = 1024


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


class _Datum(Protocol):
    """A location datum as reports list it: a `Hit`, or a `_Found` from a worker process."""

    @property
    def pointer(self) -> str: ...
    @property
    def kind(self) -> GeoKind: ...
    @property
    def standalone(self) -> bool: ...
    @property
    def reason(self) -> str: ...


class _Found(NamedTuple):
    """A `Hit` without the record it points into: small enough to send between processes."""

    pointer: str
    kind: GeoKind
    standalone: bool
    reason: str


class _Report(Protocol):
    """Where results go as they are found (text or JSON); nothing is held back."""

    show_all: bool

    def start(self, name: str) -> None: ...
    def finding(self, record: Record, found: Sequence[_Datum]) -> None: ...
    def unreadable(self, record: Record, *, listed: bool) -> None: ...
    def end(self, summary: FileSummary) -> None: ...
    def close(self, summaries: list[FileSummary]) -> None: ...


def _plural(count: int, word: str, plural: str = "") -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def _at(pointer: str) -> str:
    return f"at {pointer}" if pointer else "as the whole record"


class _TextReport:
    def __init__(self, out: TextIO, *, show_all: bool) -> None:
        self.out = out
        self.show_all = show_all

    def start(self, name: str) -> None:
        self.out.write(f"{shown(name)}\n")

    def finding(self, record: Record, found: Sequence[_Datum]) -> None:
        for hit in found:
            if hit.standalone or self.show_all:
                state = "standalone " if hit.standalone else ""
                why = f"{hit.reason}: {REASONS[hit.reason]}" if hit.standalone else hit.reason
                self.out.write(
                    f"  record {record.number} ({record.lines}): {state}{hit.kind.value} "
                    f"{_at(hit.pointer)} ({why})\n"
                )

    def unreadable(self, record: Record, *, listed: bool) -> None:
        if listed:
            self.out.write(
                f"  record {record.number} ({record.lines}): unreadable, skipped: {record.error}\n"
            )

    def end(self, summary: FileSummary) -> None:
        hidden = summary.unreadable - MAX_LISTED_ERRORS
        if hidden > 0:
            self.out.write(f"  ... and {_plural(hidden, 'more unreadable record')}\n")
        self.out.write(
            f"  {_plural(summary.records, 'record')}: {summary.with_location:,} with location, "
            f"{summary.standalone_records:,} with standalone location "
            f"({_plural(summary.standalone_data, 'finding')}), "
            f"{summary.unreadable:,} unreadable\n"
        )
        if summary.kinds:
            kinds = ", ".join(f"{count:,} {kind}" for kind, count in summary.kinds.most_common())
            self.out.write(f"  location found: {kinds}\n")
        if summary.failure is not None:
            self.out.write(f"  stopped early: {summary.failure}\n")

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
        self.out.write(f'    {{"file": {json.dumps(shown(name))}, "records": [')
        self._first_file, self._first_entry = False, True

    def finding(self, record: Record, found: Sequence[_Datum]) -> None:
        listed = [hit for hit in found if hit.standalone or self.show_all]
        if listed:
            self._entry(
                {
                    "record": record.number,
                    "line": record.line,
                    "end_line": record.end,
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
            self._entry(
                {
                    "record": record.number,
                    "line": record.line,
                    "end_line": record.end,
                    "error": record.error,
                }
            )

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


def scan(
    names: list[str],
    out: TextIO,
    *,
    output: str = "text",
    show_all: bool = False,
    progress: bool = False,
    max_bytes: int = MAX_RECORD_BYTES,
    loads: Callable[[bytes], Any] = LOADS,
    jobs: int = 1,
) -> list[FileSummary]:
    """Scan each named input (``-`` for standard input); write the report to ``out``.

    An input that cannot be opened, or that breaks part way (damaged compression), is said
    on standard error and in the summary's ``failure``; the others are scanned all the same.
    With ``jobs`` over 1, a large plain file is read by that many processes (`_parallel`;
    ``loads`` must then be picklable), with the same report.

    A record that writes a key twice in any object is unreadable (listed, counted, and the
    exit status is 1 as for a finding).

    The place names and points of every record read are remembered for the rest of the run
    (`LocationMemory`), so that a later record keeping them apart from their Tweet (counts
    keyed by a place name, a point under neutral keys) is found; with ``jobs`` over 1, for
    the rest of each process's chunk.
    """
    memory = LocationMemory()
    report: _Report = (_JsonReport if output == "json" else _TextReport)(out, show_all=show_all)
    # A record that writes a key twice is unreadable: a reader keeps one of the two values,
    # so location in the other would go unreported (the fast path checks the same).
    loads = loads if type(loads) is UniqueKeys else UniqueKeys(loads)
    options: dict[str, Any] = {"progress": progress, "max_bytes": max_bytes, "loads": loads}
    with collector_paused():
        summaries = [
            _scan_chunks(name, report, jobs=jobs, **options)
            if jobs > 1 and splittable(name) >= 2 * _chunks.MIN_CHUNK
            else _scan_file(name, report, memory=memory, parse=_Parser(loads), **options)
            for name in names
        ]
    report.close(summaries)
    return summaries


def _scan_file(
    name: str,
    report: _Report,
    *,
    progress: bool,
    max_bytes: int,
    loads: Callable[[bytes], Any],
    memory: LocationMemory,
    parse: Callable[[bytes], Any],
) -> FileSummary:
    """Scan one input, reporting as it goes (``parse``: the fast path's, over ``loads``)."""
    summary = FileSummary(shown(name))
    try:
        source = open_source(name)
    except (OSError, CliError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        summary.failure = reason if isinstance(exc, OSError) else str(exc)
        warn(f"twpolicy: cannot read {shown(name)}: {reason}" if isinstance(exc, OSError) else
             f"twpolicy: {exc}")  # fmt: skip
        if isinstance(report, _JsonReport):
            report.start(name)
            report.end(summary)
        return summary
    report.start(name)
    bar = Progress(shown(name), source.size, show=progress, unit="B" if source.size else "record")
    reader = RecordReader(source.lines, max_bytes=max_bytes, loads=parse)
    try:
        for record in reader:
            _scan_record(record, summary, report, memory, loads)
            if not record.number % _EVERY:
                bar.update(source.position() or record.number, record.number)
        bar.update(source.position() or summary.records, summary.records)
    finally:
        bar.close()
        source.close()
    if reader.damage is not None:
        summary.failure = reader.damage.message
        warn(f"twpolicy: {shown(name)}: {reader.damage.message}")
    report.end(summary)
    return summary


class _Parser:
    """Parses records with ``loads`` until `FAST_AFTER` bytes, then on the fast path.

    Both give the same findings (`twpolicy._payloads._fastscan`); the fast path pays off
    once its decoders are generated.
    """

    def __init__(self, loads: Callable[[bytes], Any]) -> None:
        self.loads = loads
        self.read = 0
        self.fast: Callable[[bytes], Any] | None = None

    def __call__(self, data: bytes) -> Any:
        if self.fast is not None:
            return self.fast(data)
        self.read += len(data)
        if self.read < FAST_AFTER:
            return self.loads(data)
        from twpolicy._payloads._fastscan import parser  # noqa: PLC0415  # start-up: msgspec

        self.fast = parser(self.loads)
        return self.fast(data)


def _scan_chunks(
    name: str,
    report: _Report,
    *,
    jobs: int,
    progress: bool,
    max_bytes: int,
    loads: Callable[[bytes], Any],
) -> FileSummary:
    """Scan one plain file in ``jobs`` processes, reporting what one process would."""
    summary = FileSummary(shown(name))
    report.start(name)
    work = functools.partial(
        _chunk_hits, max_bytes=max_bytes, loads=loads, show_all=report.show_all
    )
    bar = Progress(shown(name), splittable(name), show=progress, unit="B")
    try:
        for part in map_chunks(name, jobs, work):
            records, kept = part.result
            for record, found in kept:
                error = None if record.error is None else shift_lines(record.error, part.lines)
                shifted = Record(
                    record.number + summary.records,
                    record.line + part.lines,
                    error=error,
                    end=record.end + part.lines,
                )
                _tally(shifted, found, summary, report)
            summary.records += records
            bar.update(part.end, summary.records)
    finally:
        bar.close()
    report.end(summary)
    return summary


def _chunk_hits(
    chunk: Chunk, *, max_bytes: int, loads: Callable[[bytes], Any], show_all: bool
) -> tuple[int, list[tuple[Record, list[_Found]]]]:
    """A worker's scan of one chunk: its record count, and the records to tally.

    Those are the records with location data or errors, without their values (only the
    datum's pointer, kind and reason cross back), numbered from the chunk's first line.
    """
    from twpolicy._payloads._fastscan import parser  # noqa: PLC0415  # start-up: msgspec

    kept: list[tuple[Record, list[_Found]]] = []
    records = 0
    memory = LocationMemory()
    with collector_paused():
        for record in chunk_records(chunk, max_bytes, parser(loads)):
            records = record.number
            walked, found = _walk(record, memory, loads)
            if walked.error is not None or found:
                listed = [
                    _Found(pointer, hit.kind, hit.standalone, hit.reason)
                    for hit in found
                    for pointer in [hit.pointer if hit.standalone or show_all else ""]
                ]
                kept.append((walked._replace(value=None), listed))
    return records, kept


def _walk(
    record: Record, memory: LocationMemory, loads: Callable[[bytes], Any]
) -> tuple[Record, Sequence[_Datum]]:
    """The record's location data; a record the walk refuses is made unreadable.

    A line the fast path decoded (`FastLine`) is judged there; what it cannot judge exactly
    is parsed with ``loads`` and walked.
    """
    if record.error is not None:
        return record, []
    value = record.value
    if type(value) is not list and type(value) is not dict:  # parsed JSON is one of them
        from twpolicy._payloads import _fastscan  # noqa: PLC0415  # start-up: msgspec

        found = _fastscan.judge(value, memory, loads)
        if found is not None:
            return record, found
        # The fast path read this line only once it wrote no key twice (`written_once`):
        # the duplicate-key check of `UniqueKeys` would only repeat that.
        value = (loads.loads if type(loads) is UniqueKeys else loads)(value.data)
    try:
        return record, record_hits(value, memory)
    except PayloadError as exc:
        return record._replace(error=str(exc), value=None), []


def _scan_record(
    record: Record,
    summary: FileSummary,
    report: _Report,
    memory: LocationMemory,
    loads: Callable[[bytes], Any],
) -> None:
    summary.records += 1
    record, found = _walk(record, memory, loads)
    _tally(record, found, summary, report)


def _tally(record: Record, found: Sequence[_Datum], summary: FileSummary, report: _Report) -> None:
    """Count and report one record (already counted in ``summary.records``)."""
    if record.error is not None:
        summary.unreadable += 1
        report.unreadable(record, listed=summary.unreadable <= MAX_LISTED_ERRORS)
        return
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
    summaries = scan(
        args.files,
        out,
        output=args.format,
        show_all=args.all,
        progress=Progress.wanted(args),
        max_bytes=args.max_record_mib * 2**20,
        jobs=default_jobs() if args.jobs is None else args.jobs,
    )
    code = Exit.OK
    if any(s.failure is not None for s in summaries):
        code = Exit.BAD_INPUT
    if not args.exit_zero:
        if any(s.unreadable for s in summaries):
            code = max(code, Exit.BAD_INPUT)
        if any(s.standalone_records for s in summaries):
            code = max(code, Exit.FINDINGS)
    return code


def add_scan_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``twpolicy scan``."""
    parser = subparsers.add_parser(
        "scan",
        help="find location data in stored payloads, and where it stands alone (I.B.7)",
        description="Scan JSON, JSON Lines or concatenated JSON (gzip, bzip2 or xz "
        "compressed or not; UTF-8, UTF-16 or UTF-32) for location data: list the records "
        "where it stands apart from the Tweet or user it belongs to, with JSON pointers, and "
        "count the rest. Unreadable records are skipped and listed by their lines. Exit "
        "code 0 when clean, 1 when standalone location is found, 2 when an input or a record "
        "could not be read (the highest applies).",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="input files; - for stdin")
    add_report_options(parser)
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
        "(report only; an input that cannot be read, or stops early, still exits 2)",
    )
    parser.add_argument(
        "--max-record-mib",
        type=mebibytes,
        default=MAX_RECORD_BYTES // 2**20,
        metavar="MIB",
        help="skip (and report) records larger than this, 1 or more (default %(default)s)",
    )
    add_jobs_option(parser)
    parser.set_defaults(run=_run_scan)

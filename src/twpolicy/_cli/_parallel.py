"""``--jobs``: one large input read by many processes, with the output of one.

A plain (uncompressed, UTF-8) file is cut into chunks at line boundaries
(`twpolicy._payloads._chunks`, shared with the compliance applier). Each chunk is read by a
worker process with the same reader and kernel as one process (`map_chunks`,
`chunk_records`); the parent takes the chunks in order and renumbers their records and
lines (`shift_lines`), so findings, messages and their order are those of one process. For
``twpolicy dehydrate`` (`parallel_ids`) each worker keeps IDs unique within its chunk and
the parent keeps each ID where it first appears; quotas are counted once, by the parent,
after the workers are done. ``twpolicy scan`` uses `map_chunks` directly, and so do
``twpolicy dehydrate FILE...`` (a large file among many) and ``twpolicy comply --jobs``,
whose workers send back their cleaned chunks for the parent to write in order.
"""

from __future__ import annotations

import argparse
import functools
import io
import re
from collections.abc import Callable, Iterator
from typing import Any, Final, NamedTuple, TypeVar

import attrs

from twpolicy._cli._records import _ENDS, LOADS, Record, RecordReader
from twpolicy._payloads import _chunks
from twpolicy._payloads._batch import IdKernel, collector_paused
from twpolicy._payloads._chunks import (
    MAX_CHUNK,
    Chunk,
    Part,
    Span,
    chunks,
    default_jobs,
    map_chunks,
    map_tasks,
    mapped,
    read_in_place,
    splittable,
)
from twpolicy.exceptions import PayloadError

__all__ = [
    "Chunk",
    "ChunkIds",
    "Part",
    "Span",
    "add_jobs_option",
    "chunk_records",
    "chunks",
    "default_jobs",
    "map_chunks",
    "parallel_ids",
    "shift_lines",
    "splittable",
]

_LINES: Final = re.compile(r"\b(lines?) (\d+)(?:-(\d+))?(?![\d-]| column)")
# A line holding one whole record: its first and last bytes (after a byte order mark,
# before a carriage return).
_WHOLE: Final = frozenset({(ord("{"), ord("}")), (ord("["), ord("]"))})
_BOM: Final = b"\xef\xbb\xbf"
_BOM0: Final = _BOM[0]
_CR: Final = ord("\r")
_T = TypeVar("_T")


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes (1 or more)")
    return value


def add_jobs_option(parser: argparse.ArgumentParser) -> None:
    """``--jobs N`` (``None`` when not given: then `default_jobs`)."""
    parser.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        default=None,
        metavar="N",
        help="processes reading a large plain (uncompressed UTF-8) file (default: all "
        "cores); the output is the same as with one",
    )


class ChunkIds(NamedTuple):
    """What one worker read from one chunk.

    ``records`` counts the chunk's records (from `parallel_ids`: the records read so far),
    ``lines`` the lines before the chunk (from `parallel_ids` only).
    """

    ids: list[str]
    records: int
    skipped: list[tuple[int, str]]
    lines: int = 0


def shift_lines(text: str, offset: int) -> str:
    """A chunk's message with every line it names numbered as in the whole file.

    (``line 1 column 5`` is a place within a record, not the file: left as it is.)
    """

    def shift(match: re.Match[str]) -> str:
        last = f"-{int(match[3]) + offset}" if match[3] else ""
        return f"{match[1]} {int(match[2]) + offset}{last}"

    return _LINES.sub(shift, text) if offset else text


def chunk_records(chunk: Chunk, max_bytes: int, loads: Callable[[bytes], Any]) -> Iterator[Record]:
    """A chunk's records, as one process reads them from the whole file.

    A record still open where a chunk ends (before another) is cut off by the line that
    opens the next chunk: one process says so, not that the input ends.
    """
    for record in RecordReader(io.BytesIO(chunk.data), max_bytes=max_bytes, loads=loads):
        if chunk.more and record.error == _ENDS:
            next_line = chunk.data.count(b"\n") + 1
            yield record._replace(error=f"cut off: a new record starts on line {next_line}")
        else:
            yield record


def _chunk_ids(span: Span, kind: str, max_bytes: int, *, strict: bool) -> tuple[ChunkIds, int]:
    """One span's IDs (unique within it), records and skipped lines, and its line count.

    It reads as `IdReader` reads. Lines that hold one whole record (``{...}``, the JSON
    Lines of twarc2) are decoded where they lie, without a copy; from the first line that is
    anything else (a record over many lines, text that is not JSON, a line with spaces
    around it) to the end of the span, the command line's reader (`chunk_records`) reads,
    numbered on from there.
    """
    kernel = IdKernel(kind, LOADS)
    with collector_paused():
        read = _whole_lines(span, kernel, max_bytes, strict=strict)
        if read.rest < span.end:
            rest = Chunk(span.data[read.rest : span.end], span.more)
            read.newlines += rest.data.count(b"\n")
            if not (strict and read.skipped):
                _read_rest(rest, read, kernel, max_bytes, strict=strict)
    return ChunkIds(read.ids, read.records, read.skipped), read.newlines


@attrs.define
class _Read:
    """What was read of a span so far, and where `_whole_lines` stopped (``rest``)."""

    ids: list[str] = attrs.field(factory=list)
    skipped: list[tuple[int, str]] = attrs.field(factory=list)
    records: int = 0
    lines: int = 0
    newlines: int = 0
    rest: int = 0


def _whole_lines(span: Span, kernel: IdKernel, max_bytes: int, *, strict: bool) -> _Read:
    """Read the lines that each hold one whole record, up to the first that does not."""
    from twpolicy._payloads._fastids import fresh_ids  # noqa: PLC0415  # start-up: msgspec

    read = _Read()
    ids, skipped, fresh, kind, seen = read.ids, read.skipped, kernel.fresh, kernel.kind, kernel.seen
    data, start, size = span.data, span.start, span.end
    find = data.find
    lines = records = 0
    with memoryview(data) as view:
        while start < size:
            end = find(b"\n", start, size)
            stop = size if end < 0 else end
            first = start + 3 if data[start] == _BOM0 and data[start : start + 3] == _BOM else start
            last = stop - 1 if stop > first and data[stop - 1] == _CR else stop
            if first == last:  # a blank line
                lines += 1
                start = stop + 1
                continue
            if (data[first], data[last - 1]) not in _WHOLE or stop - start > max_bytes:
                break
            new = fresh_ids(view[first:last], kind, seen)
            if new is None:  # not for the fast path: parsed and walked (or left to the reader)
                try:
                    value = LOADS(data[first:last])
                except (ValueError, RecursionError):
                    break
                try:
                    new = fresh(kernel.ids(value))
                except PayloadError as exc:
                    lines += 1
                    records += 1
                    start = stop + 1
                    skipped.append((lines, f"line {lines}: {str(exc).rstrip('.')}"))
                    if strict:
                        break
                    continue
            lines += 1
            records += 1
            start = stop + 1
            ids += new
    # Every line read ends with a newline but perhaps the input's last.
    read.newlines = lines - (start > size)
    read.records, read.lines, read.rest = records, lines, min(start, size)
    return read


def _read_rest(rest: Chunk, read: _Read, kernel: IdKernel, max_bytes: int, *, strict: bool) -> None:
    """The rest of a span, read by `chunk_records`, numbered on from what ``read`` read."""
    before, offset = read.records, read.lines
    for record in chunk_records(rest, max_bytes, kernel.parse):
        read.records = before + record.number
        why = record.error
        if why is None:
            try:
                read.ids += kernel.fresh(kernel.ids(record.value))
            except PayloadError as exc:
                why = str(exc)
        if why is not None:
            where = record._replace(line=record.line + offset, end=record.end + offset)
            detail = shift_lines(why.rstrip("."), offset)
            read.skipped.append((where.line, f"{where.lines}: {detail}"))
            if strict:
                break


def parallel_ids(
    path: str, kind: str, jobs: int, max_bytes: int, *, strict: bool = False
) -> Iterator[ChunkIds]:
    """Each chunk's IDs and skipped records, in order, numbered as in the whole file.

    IDs are unique within each chunk only: the caller keeps them unique across chunks.
    With ``strict``, each chunk stops at its first skipped record. With one job, or a file
    too small to share, the chunks are read here, one after the other.
    """
    from twpolicy._payloads._fastids import reader  # noqa: PLC0415  # start-up: msgspec

    reader(kind)  # generated once, before the workers start: they inherit it
    work = functools.partial(_chunk_ids, kind=kind, max_bytes=max_bytes, strict=strict)
    if jobs > 1 and splittable(path) >= 2 * _chunks.MIN_CHUNK:  # read now: tests lower it
        parts = map_tasks(path, jobs, functools.partial(read_in_place, work=work), MAX_CHUNK)
    else:
        parts = _serial(path, work)
    records = 0
    for part in parts:
        found = part.result
        skipped = [
            (line + part.lines, shift_lines(detail, part.lines)) for line, detail in found.skipped
        ]
        records += found.records
        yield ChunkIds(found.ids, records, skipped, part.lines)


def _serial(path: str, work: Callable[[Span], tuple[_T, int]]) -> Iterator[Part[_T]]:
    """`map_chunks` in this process: chunks of at most `MAX_CHUNK` bytes, one at a time."""
    with mapped(path) as data:
        ranges = chunks(data, 1, max_chunk=MAX_CHUNK) if data else []
    lines = 0
    for start, end in ranges:
        part = read_in_place(path, start, end, work)
        yield attrs.evolve(part, lines=lines)
        lines += part.lines

"""``--jobs``: one large input read by many processes, with the output of one.

A plain (uncompressed, UTF-8) file is cut into chunks at line boundaries, each where a line
opens a record at its first column (``{`` or ``[``) after a line that closes one (``}`` or
``]``), which no record of JSON Lines, or of pretty-printed JSON, continues on (an array
with its elements at the first column has a comma after each). Each chunk is read by a
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
import collections
import contextlib
import functools
import io
import itertools
import mmap
import os
import re
from collections.abc import Callable, Iterator
from typing import Any, Final, Generic, NamedTuple, TypeVar

import attrs

from twpolicy._cli._records import _ENDS, LOADS, Record, RecordReader
from twpolicy._payloads._batch import IdKernel, collector_paused
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

#: The smallest chunk worth a process of its own.
MIN_CHUNK: Final = 16 * 2**20
#: The largest chunk ``twpolicy dehydrate`` reads at once (memory holds a few of them).
MAX_CHUNK: Final = 64 * 2**20
# A cut: a line that opens a record at its first column, after a line that closes one.
_STARTS: Final = re.compile(rb"[\]}][ \t\r]*\n[\[{]")
_LINES: Final = re.compile(r"\b(lines?) (\d+)(?:-(\d+))?(?![\d-]| column)")
# Inputs a chunk cannot be cut from: compressed, or text in UTF-16/32 (with a NUL byte).
_T = TypeVar("_T")
_NOT_PLAIN: Final = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"(\xb5/\xfd", b"PK\x03\x04")
# A line holding one whole record: its first and last bytes (after a byte order mark,
# before a carriage return).
_WHOLE: Final = frozenset({(ord("{"), ord("}")), (ord("["), ord("]"))})
_BOM: Final = b"\xef\xbb\xbf"
_BOM0: Final = _BOM[0]
_CR: Final = ord("\r")


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover  # not on Linux
        return os.cpu_count() or 1


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


def splittable(path: str) -> int:
    """The size of ``path`` if it can be cut into chunks (a plain UTF-8 file), else 0."""
    if path == "-" or not os.path.isfile(path):  # noqa: PTH113  # a FIFO would block on open
        return 0
    try:
        with open(path, "rb") as probe:  # noqa: PTH123  # a path or a name from argv
            head = probe.read(4096)
            size = os.fstat(probe.fileno()).st_size
    except OSError:
        return 0
    if head.startswith(_NOT_PLAIN) or b"\x00" in head:
        return 0
    return size


def chunks(
    data: bytes | mmap.mmap, jobs: int, min_chunk: int | None = None, max_chunk: int | None = None
) -> list[tuple[int, int]]:
    """``(start, end)`` byte ranges covering ``data``, each starting a line that opens a record.

    About ``jobs * 4`` of them, none (where a cut can be found) under ``min_chunk`` bytes
    or over ``max_chunk``.
    """
    size = len(data)
    floor = MIN_CHUNK if min_chunk is None else min_chunk  # read now: tests lower it
    count = max(1, min(jobs * 4, size // max(1, floor)))
    if max_chunk is not None:
        count = max(count, -(-size // max(1, max_chunk)))
    bounds = [0]
    for index in range(1, count):
        found = _STARTS.search(data, max(bounds[-1], size * index // count))
        if found is None:
            break
        if found.end() - 1 > bounds[-1]:
            bounds.append(found.end() - 1)
    bounds.append(size)
    return list(itertools.pairwise(bounds))


class ChunkIds(NamedTuple):
    """What one worker read from one chunk.

    ``records`` counts the chunk's records (from `parallel_ids`: the records read so far),
    ``lines`` the lines before the chunk (from `parallel_ids` only).
    """

    ids: list[str]
    records: int
    skipped: list[tuple[int, str]]
    lines: int = 0


@attrs.frozen
class Part(Generic[_T]):
    """One chunk's result, with the lines before the chunk and the byte where it ends."""

    result: _T
    lines: int
    end: int


class Chunk(NamedTuple):
    """A chunk's bytes, and whether another chunk follows it."""

    data: bytes
    more: bool


def _read_chunk(path: str, start: int, end: int, work: Callable[[Chunk], _T]) -> Part[_T]:
    """``work`` over bytes ``start:end`` of ``path`` (``lines``: how many the chunk holds)."""
    with open(path, "rb") as handle:  # noqa: PTH123  # as given on the command line
        handle.seek(start)
        data = handle.read(end - start)
        more = end < os.fstat(handle.fileno()).st_size
    return Part(work(Chunk(data, more)), data.count(b"\n"), end)


def map_chunks(
    path: str,
    jobs: int,
    work: Callable[[Chunk], _T],
    *,
    max_chunk: int | None = None,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Part[_T]]:
    """``work`` over each `Chunk` of ``path`` in ``jobs`` processes, in the file's order.

    ``work`` must be picklable (a module's function, or
    a `functools.partial` of one) and read with `chunk_records`, whose records are numbered
    from the chunk's first line: `shift_lines` renumbers messages. ``initializer(*initargs)``
    runs once in each worker (what every chunk needs, sent once). At most ``2 * jobs``
    chunks are read ahead of the one the caller takes, so that results as large as their
    chunks (``max_chunk`` bounds those) do not pile up in memory.
    """
    task = functools.partial(_read_chunk, work=work)
    return _map(path, jobs, task, max_chunk, initializer=initializer, initargs=initargs)


def _map(
    path: str,
    jobs: int,
    task: Callable[[str, int, int], Part[_T]],
    max_chunk: int | None,
    *,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Part[_T]]:
    """``task(path, start, end)`` for each chunk of ``path`` in ``jobs`` processes, in order."""
    with (
        open(path, "rb") as handle,  # noqa: PTH123  # ditto
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
    ):
        ranges = chunks(data, jobs, max_chunk=max_chunk)
    import concurrent.futures  # noqa: PLC0415  # only with --jobs > 1: about 5 ms at start-up

    with concurrent.futures.ProcessPoolExecutor(
        max_workers=min(jobs, len(ranges)), initializer=initializer, initargs=initargs
    ) as pool:
        waiting = iter(ranges)
        futures: collections.deque[concurrent.futures.Future[Part[_T]]] = collections.deque(
            pool.submit(task, path, start, end)
            for start, end in itertools.islice(waiting, 2 * jobs)
        )
        lines = 0
        try:
            while futures:
                part = futures.popleft().result()
                for start, end in itertools.islice(waiting, 1):
                    futures.append(pool.submit(task, path, start, end))
                yield attrs.evolve(part, lines=lines)
                lines += part.lines
        finally:  # stopped early (--strict, an error): the chunks not started are not read
            for future in futures:
                future.cancel()


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


class Span(NamedTuple):
    """Bytes ``start:end`` of a file mapped in memory (or of any bytes); ``more``: more follow."""

    data: mmap.mmap | bytes
    start: int
    end: int
    more: bool


def _read_in_place(
    path: str, start: int, end: int, work: Callable[[Span], tuple[_T, int]]
) -> Part[_T]:
    """``work`` over bytes ``start:end`` of ``path`` mapped in memory, not copied.

    ``work`` gives its result and how many lines the span holds.
    """
    with _mapped(path) as data:
        size = len(data)
        result, lines = work(Span(data, start, min(end, size), end < size))
    return Part(result, lines, end)


@contextlib.contextmanager
def _mapped(path: str) -> Iterator[mmap.mmap | bytes]:
    """``path`` mapped in memory, read only (an empty file cannot be: then ``b""``)."""
    with open(path, "rb") as handle:  # noqa: PTH123  # as given on the command line
        if not os.fstat(handle.fileno()).st_size:
            yield b""
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield data


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
    if jobs > 1 and splittable(path) >= 2 * MIN_CHUNK:
        parts = _map(path, jobs, functools.partial(_read_in_place, work=work), MAX_CHUNK)
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
    with _mapped(path) as data:
        ranges = chunks(data, 1, max_chunk=MAX_CHUNK) if data else []
    lines = 0
    for start, end in ranges:
        part = _read_in_place(path, start, end, work)
        yield attrs.evolve(part, lines=lines)
        lines += part.lines

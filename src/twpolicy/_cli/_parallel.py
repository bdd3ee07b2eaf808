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
from twpolicy._payloads._batch import IdKernel
from twpolicy.exceptions import PayloadError

__all__ = [
    "Chunk",
    "ChunkIds",
    "Part",
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
# A cut: a line that opens a record at its first column, after a line that closes one.
_STARTS: Final = re.compile(rb"[\]}][ \t\r]*\n[\[{]")
_LINES: Final = re.compile(r"\b(lines?) (\d+)(?:-(\d+))?(?![\d-]| column)")
# Inputs a chunk cannot be cut from: compressed, or text in UTF-16/32 (with a NUL byte).
_T = TypeVar("_T")
_NOT_PLAIN: Final = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"(\xb5/\xfd", b"PK\x03\x04")


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
            pool.submit(_read_chunk, path, start, end, work)
            for start, end in itertools.islice(waiting, 2 * jobs)
        )
        lines = 0
        try:
            while futures:
                part = futures.popleft().result()
                for start, end in itertools.islice(waiting, 1):
                    futures.append(pool.submit(_read_chunk, path, start, end, work))
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


def _chunk_ids(chunk: Chunk, kind: str, max_bytes: int, *, strict: bool) -> ChunkIds:
    """One chunk's IDs (unique within it), records and skipped lines, as `IdReader` reads."""
    kernel = IdKernel(kind, LOADS)
    ids: list[str] = []
    skipped: list[tuple[int, str]] = []
    records = 0
    for record in chunk_records(chunk, max_bytes, kernel.parse):
        records = record.number
        why = record.error
        if why is None:
            try:
                ids += kernel.fresh(kernel.ids(record.value))
            except PayloadError as exc:
                why = str(exc)
        if why is not None:
            skipped.append((record.line, f"{record.lines}: {why.rstrip('.')}"))
            if strict:
                break
    return ChunkIds(ids, records, skipped)


def parallel_ids(
    path: str, kind: str, jobs: int, max_bytes: int, *, strict: bool = False
) -> Iterator[ChunkIds]:
    """Each chunk's IDs and skipped records, in order, numbered as in the whole file.

    IDs are unique within each chunk only: the caller keeps them unique across chunks.
    With ``strict``, each chunk stops at its first skipped record.
    """
    work = functools.partial(_chunk_ids, kind=kind, max_bytes=max_bytes, strict=strict)
    records = 0
    for part in map_chunks(path, jobs, work):
        found = part.result
        skipped = [
            (line + part.lines, shift_lines(detail, part.lines)) for line, detail in found.skipped
        ]
        records += found.records
        yield ChunkIds(found.ids, records, skipped, part.lines)

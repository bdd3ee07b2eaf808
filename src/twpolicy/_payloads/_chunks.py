"""Large plain files cut into chunks at line boundaries, each read by a worker process.

A plain (uncompressed, UTF-8) file is cut into chunks at line boundaries, each where a line
opens a record at its first column (``{`` or ``[``) after a line that closes one (``}`` or
``]``), which no record of JSON Lines, or of pretty-printed JSON, continues on (an array
with its elements at the first column has a comma after each). `map_chunks` gives each
chunk to a worker process and yields the results in the file's order. Used by the
compliance applier (`twpolicy.JsonLinesApplier` with ``jobs``) and by the command line
(``--jobs``: ``twpolicy scan``, ``dehydrate``, ``comply``; `twpolicy._cli._parallel`).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import mmap
import os
import re
from collections.abc import Callable, Iterator
from typing import Any, Final, Generic, NamedTuple, TypeVar

import attrs

__all__ = [
    "MAX_CHUNK",
    "MIN_CHUNK",
    "Chunk",
    "Part",
    "Span",
    "chunks",
    "default_jobs",
    "map_chunks",
    "map_tasks",
    "mapped",
    "read_in_place",
    "splittable",
]

#: The smallest chunk worth a process of its own.
MIN_CHUNK: Final = 16 * 2**20
#: The largest chunk read at once (results as large as their chunks: memory holds a few).
MAX_CHUNK: Final = 64 * 2**20
# A cut: a line that opens a record at its first column, after a line that closes one.
_STARTS: Final = re.compile(rb"[\]}][ \t\r]*\n[\[{]")
_T = TypeVar("_T")
# Inputs a chunk cannot be cut from: compressed, or text in UTF-16/32 (with a NUL byte).
_NOT_PLAIN: Final = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"(\xb5/\xfd", b"PK\x03\x04")


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover  # not on Linux
        return os.cpu_count() or 1


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
    return map_tasks(path, jobs, task, max_chunk, initializer=initializer, initargs=initargs)


def map_tasks(
    path: str,
    jobs: int,
    task: Callable[[str, int, int], Part[_T]],
    max_chunk: int | None = None,
    *,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[Part[_T]]:
    """``task(path, start, end)`` for each chunk of ``path`` in ``jobs`` processes, in order.

    `map_chunks` with the reading left to ``task`` (`read_in_place`: no copy).
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


class Span(NamedTuple):
    """Bytes ``start:end`` of a file mapped in memory (or of any bytes); ``more``: more follow."""

    data: mmap.mmap | bytes
    start: int
    end: int
    more: bool


def read_in_place(
    path: str, start: int, end: int, work: Callable[[Span], tuple[_T, int]]
) -> Part[_T]:
    """``work`` over bytes ``start:end`` of ``path`` mapped in memory, not copied.

    ``work`` gives its result and how many lines the span holds.
    """
    with mapped(path) as data:
        size = len(data)
        result, lines = work(Span(data, start, min(end, size), end < size))
    return Part(result, lines, end)


@contextlib.contextmanager
def mapped(path: str) -> Iterator[mmap.mmap | bytes]:
    """``path`` mapped in memory, read only (an empty file cannot be: then ``b""``)."""
    with open(path, "rb") as handle:  # noqa: PTH123  # as given on the command line
        if not os.fstat(handle.fileno()).st_size:
            yield b""
            return
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield data

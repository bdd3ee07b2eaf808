"""``--jobs``: one large input read by many processes, with the output of one.

A plain (uncompressed, UTF-8) file is cut into chunks at line boundaries, each where a line
opens a record at its first column (``{`` or ``[``), which no record of JSON Lines, or of
pretty-printed JSON, continues on. Each chunk is read by a worker process with the same
reader and kernel as ``twpolicy dehydrate`` (records, bad lines, IDs unique within the
chunk); the parent takes the chunks in order and keeps each ID where it first appears, so
the IDs, their order and the lines named in messages are those of one process. Quotas are
counted once, by the parent, after the workers are done.
"""

from __future__ import annotations

import concurrent.futures
import io
import itertools
import mmap
import os
import re
from collections.abc import Iterator
from typing import Final, NamedTuple

from twpolicy._cli._records import LOADS, RecordReader
from twpolicy._payloads._batch import IdKernel
from twpolicy.exceptions import PayloadError

__all__ = ["ChunkIds", "chunks", "default_jobs", "parallel_ids", "splittable"]

#: The smallest chunk worth a process of its own.
MIN_CHUNK: Final = 16 * 2**20
_STARTS: Final = re.compile(rb"\n[\[{]")
_LINES: Final = re.compile(r"^(lines?) (\d+)(?:-(\d+))?")
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


def chunks(data: bytes | mmap.mmap, jobs: int, min_chunk: int = MIN_CHUNK) -> list[tuple[int, int]]:
    """``(start, end)`` byte ranges covering ``data``, each starting a line that opens a record."""
    size = len(data)
    count = max(1, min(jobs * 4, size // max(1, min_chunk)))
    bounds = [0]
    for index in range(1, count):
        found = _STARTS.search(data, max(bounds[-1], size * index // count))
        if found is None:
            break
        if found.start() + 1 > bounds[-1]:
            bounds.append(found.start() + 1)
    bounds.append(size)
    return list(itertools.pairwise(bounds))


class ChunkIds(NamedTuple):
    """What one worker read from one chunk.

    ``records`` and ``lines`` count the chunk's records and newlines (from `parallel_ids`:
    the records read so far, and the lines before the chunk).
    """

    ids: list[str]
    records: int
    skipped: list[tuple[int, str]]
    lines: int = 0


def _read_chunk(
    path: str, start: int, end: int, kind: str, max_bytes: int, *, strict: bool
) -> ChunkIds:
    with open(path, "rb") as handle:  # noqa: PTH123  # as given on the command line
        handle.seek(start)
        data = handle.read(end - start)
    stream = io.BytesIO(data)
    kernel = IdKernel(kind, LOADS)
    ids: list[str] = []
    skipped: list[tuple[int, str]] = []
    records = 0
    for record in RecordReader(stream, max_bytes=max_bytes, loads=kernel.parse):
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
    return ChunkIds(ids, records, skipped, data.count(b"\n"))


def _shifted(line: int, detail: str, offset: int) -> tuple[int, str]:
    """A chunk's message about ``line``, numbered as in the whole file."""

    def shift(match: re.Match[str]) -> str:
        last = f"-{int(match[3]) + offset}" if match[3] else ""
        return f"{match[1]} {int(match[2]) + offset}{last}"

    return line + offset, _LINES.sub(shift, detail, count=1)


def parallel_ids(
    path: str, kind: str, jobs: int, max_bytes: int, *, strict: bool = False
) -> Iterator[ChunkIds]:
    """Each chunk's IDs and skipped records, in order, numbered as in the whole file.

    IDs are unique within each chunk only: the caller keeps them unique across chunks.
    With ``strict``, each chunk stops at its first skipped record.
    """
    with (
        open(path, "rb") as handle,  # noqa: PTH123  # ditto
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
    ):
        ranges = chunks(data, jobs)
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(ranges))) as pool:
        futures = [
            pool.submit(_read_chunk, path, start, end, kind, max_bytes, strict=strict)
            for start, end in ranges
        ]
        records = lines = 0
        try:
            for future in futures:
                part = future.result()
                skipped = [_shifted(line, detail, lines) for line, detail in part.skipped]
                records += part.records
                yield ChunkIds(part.ids, records, skipped, lines)
                lines += part.lines
        finally:  # stopped early (--strict, an error): the chunks not started are not read
            for future in futures:
                future.cancel()

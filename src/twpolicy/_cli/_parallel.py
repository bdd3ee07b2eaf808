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
from typing import Any, Final, NamedTuple

from twpolicy._cli._records import _ENDS, LOADS, Record, RecordReader
from twpolicy._payloads._batch import IdKernel
from twpolicy._payloads._chunks import (
    Chunk,
    Part,
    chunks,
    default_jobs,
    map_chunks,
    splittable,
)
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

_LINES: Final = re.compile(r"\b(lines?) (\d+)(?:-(\d+))?(?![\d-]| column)")


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

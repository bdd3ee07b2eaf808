"""Dask helpers: dehydrate, scan and export bags of JSON lines on any Dask cluster.

A bag of JSON lines, as ``dask.bag.read_text`` gives it (or `read_lines`, the same lines as
bytes, which the reader takes without decoding), one record per line::

    import twpolicy.dask

    lines = twpolicy.dask.read_lines("collection/*.jsonl", blocksize="64MiB")
    ids = twpolicy.dask.dehydrate(lines, kind="tweets")   # a bag of ID strings
    ids.to_textfiles("ids/*.txt")

Each partition goes through the batch kernel ``twpolicy dehydrate`` uses
(`twpolicy._payloads._batch`), so an ID is read the same way everywhere. IDs are then
deduplicated across partitions as the command line deduplicates across records: an ID is
kept where it first appears, in the dataset's order (partitions in order, lines in order).
That takes one exchange between workers, by a hash of the ID: no worker holds more than its
share of the IDs. What travels is compact (a share of IDs as one string, the answer as one
byte an ID) and every partition travels as one object (`_Items`): Dask's distributed
scheduler sends a plain list item by item, which cost seconds a partition.

`export` adds the recipient's quota, in two phases at the driver (`twpolicy._enforce._scale`):
count, reserve, let the workers write, commit what they wrote; a failed job releases its
reservation. Workers never touch the quota store.

Needs ``pip install 'twpolicy[dask]'``.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import attrs

try:
    import dask
    import dask.bag as db
    import fsspec
    from dask.bytes import read_bytes
    from dask.delayed import Delayed, delayed
    from fsspec.utils import infer_compression
except ImportError as exc:  # pragma: no cover  # exercised where dask is not installed
    raise ImportError("twpolicy.dask needs Dask: pip install 'twpolicy[dask]'") from exc

from twpolicy._cli._records import LOADS
from twpolicy._enforce._compliance import ApplyReport, apply_compliance
from twpolicy._enforce._scale import (
    EXPORT_LEASE,
    ComplyTally,
    EngineApplier,
    ScaledExport,
    comply_lines,
    export_in_two_phases,
    record_manifest,
    withdrawn_lines,
)
from twpolicy._guard import Guard, get_default_guard
from twpolicy._payloads._batch import (
    ExportManifest,
    Manifest,
    ScanBatch,
    collector_paused,
    dehydrate_lines,
    ids_sha256,
    merge,
    owner,
    scan_lines,
    total,
)
from twpolicy._payloads._ids import check_kind
from twpolicy._stores._compliance import ComplianceLedger, Snapshot

__all__ = ["comply", "dehydrate", "export", "manifests", "read_lines", "scan", "scan_counts"]

#: A partition after deduplication across partitions: its IDs and its manifest.
_Part = tuple["_Items", Manifest]


class _Items(list[Any]):
    """A partition's items (IDs, findings), sent between processes as one object.

    Dask's distributed scheduler sends a plain ``list`` item by item, each with its own
    header (tens of microseconds an item: seconds for a partition of IDs); a subclass is
    pickled whole, and strings with no newline travel as one newline-joined string.
    """

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        try:
            text = "\n".join(self)
        except TypeError:  # not all strings: pickled as one list
            return _items, (list(self),)
        if self and text.count("\n") != len(self) - 1:  # a string with a newline in it
            return _items, (list(self),)
        return _items, (text, len(self))


def _items(data: str | list[Any], count: int = 0) -> _Items:
    if isinstance(data, list):
        return _Items(data)
    return _Items(data.split("\n") if count else ())


def _joined(results: Iterable[Iterable[Any]]) -> _Items:
    """A bag's partitions, one after the other: what ``compute`` gives (a list)."""
    return _Items(itertools.chain.from_iterable(results))


class _Bag(db.Bag):  # type: ignore[misc]  # Dask is not typed
    """A bag whose computed result travels to the client as one object (see `_Items`)."""

    def __dask_postcompute__(self) -> tuple[Any, tuple[()]]:
        return _joined, ()


def _bag(parts: list[Delayed]) -> db.Bag:
    made = db.from_delayed(parts)
    return _Bag(made.dask, made.name, made.npartitions)


def _split_lines(block: bytes) -> _Items:
    """A block of whole lines, as the lines' bytes (no line ends)."""
    lines = block.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return _Items(lines)


def read_lines(
    urlpath: str | list[str],
    *,
    blocksize: int | str | None = "64MiB",
    compression: str | None = "infer",
    **storage_options: Any,
) -> db.Bag:
    """A bag of JSON lines as bytes, cut at line ends: what the helpers read fastest.

    As ``dask.bag.read_text(urlpath, blocksize=blocksize)`` but without decoding every
    line to text (the kernel reads bytes): files in name order, plain files cut into blocks
    of about ``blocksize`` at line ends, compressed ones (``.gz``, ``.bz2``, ... when
    ``compression`` is ``"infer"``) read whole. ``storage_options`` go to fsspec.
    """
    *_, paths = fsspec.core.get_fs_token_paths(urlpath, mode="rb", storage_options=storage_options)
    if compression == "infer" and any(infer_compression(path) for path in paths):
        blocksize = None  # a compressed file cannot be cut
    _, blocks = read_bytes(
        urlpath,
        delimiter=b"\n",
        blocksize=blocksize,
        sample=False,
        compression=compression,
        **storage_options,
    )
    return _bag([delayed(_split_lines)(block) for per_file in blocks for block in per_file])


@attrs.frozen
class _Read:
    """One partition read: its IDs (unique in it, in order), dealt out by owner, and manifest."""

    ids: list[str]
    shares: list[list[str]]
    manifest: Manifest


def _buckets(partitions: int) -> int:
    """How many owners deduplicate a dataset's IDs: one for every four partitions."""
    return max(1, -(-partitions // 4))


def _read(lines: Iterable[Any], kind: str, partition: int, buckets: int) -> _Read:
    with collector_paused():
        batch = dehydrate_lines(lines, kind, partition=partition, loads=LOADS)
        shares: list[list[str]] = [[] for _ in range(buckets)]
        if buckets == 1:
            shares[0] = batch.ids
        else:
            deal = [share.append for share in shares]
            for value in batch.ids:
                deal[owner(value, buckets)](value)
    return _Read(batch.ids, shares, batch.manifest)


def _share(read: _Read, bucket: int) -> str:
    """What a partition sends one owner: its IDs there, one per line (one string)."""
    return "\n".join(read.shares[bucket])


def _first(*shares: str) -> tuple[bytes, ...]:
    """One owner: for each partition's share, in order, which IDs an earlier partition had.

    One byte an ID (1: seen before, to be left out), so that the answer is smaller than the
    question.
    """
    seen: set[str] = set()
    flags = []
    with collector_paused():
        for share in shares:
            ids = share.split("\n") if share else []
            flags.append(bytes(map(seen.__contains__, ids)))
            seen.update(ids)  # unique within a partition already
    return tuple(flags)


def _keep(read: _Read, *flags: bytes) -> _Part:
    """A partition's IDs that first appear in it, in order, and its manifest."""
    if any(any(flag) for flag in flags):
        drop: set[str] = set()
        for share, flag in zip(read.shares, flags, strict=True):
            drop.update(itertools.compress(share, flag))
        ids = _Items(itertools.filterfalse(drop.__contains__, read.ids))
    else:
        ids = _Items(read.ids)
    got = read.manifest
    return ids, Manifest(got.partition, got.records, got.unreadable, len(ids), ids_sha256(ids))


def _ids(part: _Part) -> _Items:
    return part[0]


def _manifest(part: _Part) -> Manifest:
    return part[1]


def _parts(bag: db.Bag, kind: str) -> list[Delayed]:
    """Each partition's IDs, unique across the dataset, with its manifest (lazy).

    Each partition deals its IDs out to the owners by `owner` (a hash of the ID); each owner
    answers, for each partition in order, which of its IDs are seen there first; each
    partition keeps those, in its own order.
    """
    kind = check_kind(kind)
    lines = bag.to_delayed()
    buckets = _buckets(len(lines))
    reads = [delayed(_read)(part, kind, index, buckets) for index, part in enumerate(lines)]
    firsts = [
        delayed(_first, nout=len(reads))(*(delayed(_share)(read, bucket) for read in reads))
        for bucket in range(buckets)
    ]
    return [
        delayed(_keep)(read, *(first[index] for first in firsts))
        for index, read in enumerate(reads)
    ]


def dehydrate(bag: db.Bag, kind: str = "tweets") -> db.Bag:
    """The unique IDs of ``kind`` in a bag of JSON lines: a bag of ID strings (lazy).

    The IDs, their order and their deduplication are those of ``twpolicy dehydrate`` on the
    partitions' lines one after the other. Unreadable lines are skipped (see `manifests`).
    """
    return _bag([delayed(_ids)(part) for part in _parts(bag, kind)])


def manifests(bag: db.Bag, kind: str = "tweets") -> ExportManifest:
    """What `dehydrate` lets out of ``bag``: its partitions' manifests, merged (computed)."""
    return merge(dask.compute(*(delayed(_manifest)(part) for part in _parts(bag, kind))))


def _write(part: _Part, path: str, index: int) -> Manifest:
    """Write a partition's IDs, one per line; the manifest of what was written."""
    ids, read = part
    with fsspec.open(f"{path}/part-{index:05d}.txt", "w", encoding="ascii") as out:
        for value in ids:
            out.write(value + "\n")
    return Manifest(read.partition, read.records, read.unreadable, len(ids), ids_sha256(ids))


def export(
    bag: db.Bag,
    path: str,
    *,
    recipient: str,
    kind: str = "tweets",
    guard: Guard | None = None,
    lease: timedelta = EXPORT_LEASE,
) -> ScaledExport:
    """Dehydrate ``bag`` and write its IDs under ``path`` (``part-00000.txt``, ...), counted.

    The IDs are counted first, then reserved against ``recipient``'s quota through
    ``guard`` (the default guard if ``None``); the workers write; the reservation is
    committed if they wrote what was counted, and released if the job failed.

    Raises:
        PolicyViolation: the guard refuses the export (nothing is written or counted).
        PayloadError: the workers wrote other IDs than were counted (nothing is counted).
    """
    guard = get_default_guard() if guard is None else guard
    (parts,) = dask.persist(_parts(bag, kind))
    counted = merge(dask.compute(*(delayed(_manifest)(part) for part in parts)))

    def write() -> ExportManifest:
        fs, root = fsspec.core.url_to_fs(path)
        fs.makedirs(root, exist_ok=True)
        written = dask.compute(
            *(delayed(_write)(part, path, index) for index, part in enumerate(parts))
        )
        return merge(written)

    done = export_in_two_phases(
        guard,
        operation="twpolicy.dask.export",
        recipient=recipient,
        kind=kind,
        counted=counted,
        write=write,
        lease=lease,
    )
    record_manifest(path, done)
    return done


def _scan(lines: Iterable[Any], *, show_all: bool) -> ScanBatch:
    return scan_lines(lines, show_all=show_all, loads=LOADS)


def _findings(batch: ScanBatch, partition: int) -> _Items:
    return _Items([{"partition": partition, **row} for row in batch.findings])


def _batches(bag: db.Bag, *, show_all: bool) -> list[Delayed]:
    scan_one = functools.partial(_scan, show_all=show_all)
    return [delayed(scan_one)(part) for part in bag.to_delayed()]


def scan(bag: db.Bag, *, show_all: bool = False) -> db.Bag:
    """The location data ``twpolicy scan`` lists, for a bag of JSON lines (lazy).

    One dict per datum: ``partition``, ``line`` (from 1 in its partition), ``pointer``,
    ``kind``, ``standalone``, ``reason``, ``why``; standalone data only unless ``show_all``.
    """
    batches = _batches(bag, show_all=show_all)
    return _bag([delayed(_findings)(batch, index) for index, batch in enumerate(batches)])


def _counts(batch: ScanBatch) -> dict[str, Any]:
    return batch.counts()


def scan_counts(bag: db.Bag) -> dict[str, Any]:
    """The totals of ``twpolicy scan --format json`` for a bag of JSON lines (computed)."""
    batches = _batches(bag, show_all=False)
    return total(dask.compute(*(delayed(_counts)(batch) for batch in batches)))


def _comply(lines: Iterable[Any], snapshot: Snapshot, path: str, index: int) -> ComplyTally:
    """Clean one partition and write it as ``part-NNNNN.jsonl``; what it lost."""
    batch = comply_lines(lines, snapshot, where=f"partition {index}")
    with fsspec.open(f"{path}/part-{index:05d}.jsonl", "wb") as out:
        out.writelines(batch.lines)
    return batch.tally


def comply(
    bag: db.Bag, path: str, *, ledger: ComplianceLedger, target: str | None = None
) -> ApplyReport:
    """Rewrite a dataset of JSON lines under ``path`` without what the ledger says is gone.

    The compliance ledger's tombstones (its snapshot) are sent to each worker once; each
    partition is cleaned as the JSON Lines applier cleans a file (`twpolicy.JsonLinesApplier`)
    and written as ``part-NNNNN.jsonl``; what reversible events removed is listed, by ID, in
    ``withdrawn.jsonl``. The pending events are claimed for ``target`` (``dask:PATH`` by
    default) and recorded as applied once every partition is written; a failed job leaves
    them pending, so running it again applies them.
    """

    def run(snapshot: Snapshot) -> list[ComplyTally]:
        fs, root = fsspec.core.url_to_fs(path)
        fs.makedirs(root, exist_ok=True)
        shared = delayed(snapshot, pure=True)  # one key: each worker fetches it once
        tallies = list(
            dask.compute(
                *(
                    delayed(_comply)(part, shared, path, index)
                    for index, part in enumerate(bag.to_delayed())
                )
            )
        )
        withdrawn = [line for tally in tallies for line in withdrawn_lines(tally)]
        if withdrawn:
            with fsspec.open(f"{path}/withdrawn.jsonl", "a") as out:
                out.writelines(withdrawn)
        return tallies

    return apply_compliance(ledger, EngineApplier(target or f"dask:{path}", run))

"""Spark helpers: dehydrate, scan and export DataFrames of JSON lines, through ``mapInArrow``.

A DataFrame of JSON lines, as ``spark.read.text`` gives it (one string column, ``value``)::

    import twpolicy.spark

    lines = spark.read.text("collection/*.jsonl")
    ids = twpolicy.spark.dehydrate(lines, kind="tweets")   # one string column, id
    ids.write.text("ids")

Each partition goes through the batch kernel ``twpolicy dehydrate`` uses
(`twpolicy._payloads._batch`) as Arrow record batches, so an ID is read the same way
everywhere. IDs are then deduplicated across partitions as the command line deduplicates
across records: an ID is kept where it first appears in the dataset's order (input files by
name, then lines in order), and the result is sorted in that order.

`export` adds the recipient's quota, in two phases at the driver (`twpolicy._enforce._scale`):
count, reserve, let the executors write, commit what they wrote; a failed job releases its
reservation. Executors never touch the quota store.

Needs ``pip install 'twpolicy[spark]'`` and a Java runtime; the executors' Python
(``PYSPARK_PYTHON``) must have twpolicy installed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import attrs

try:
    import fsspec
    import pyarrow as pa
    from pyspark import TaskContext
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F  # noqa: N812  # Spark's own convention
except ImportError as exc:  # pragma: no cover  # exercised where pyspark is not installed
    raise ImportError("twpolicy.spark needs PySpark: pip install 'twpolicy[spark]'") from exc

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
    IdKernel,
    Manifest,
    collector_paused,
    dehydrate_lines,
    ids_sha256,
    merge,
    scan_lines,
    total,
)
from twpolicy._payloads._ids import check_kind
from twpolicy._stores._compliance import ComplianceLedger, Snapshot
from twpolicy.exceptions import PayloadError

__all__ = ["comply", "dehydrate", "export", "manifests", "scan", "scan_counts"]

_Batches = Iterator[Any]  # of pyarrow.RecordBatch
_TAGGED = "id string, key long, bad long"
_DIGEST = "part int, ids long, sha256 string"
_FINDINGS = (
    "file string, part int, line long, pointer string, kind string, standalone boolean, "
    "reason string, why string"
)
_FILE = "_twpolicy_file"


def _partition() -> int:
    context = TaskContext.get()
    return 0 if context is None else context.partitionId()


def _lines(df: DataFrame, column: str) -> DataFrame:
    """The lines to read, each with the file it came from (``""`` if none)."""
    return df.select(F.col(column).cast("string"), F.input_file_name().alias(_FILE))


@attrs.frozen
class _Order:
    """Where a line's IDs stand in the dataset, packed into one long (63 bits).

    The file's rank by name (``""``, for lines from no file, first), the partition, then
    the position in the partition: the order ``twpolicy dehydrate`` reads the files in. One
    long, not a struct, so that Spark finds each ID's first place with a hash aggregate.
    """

    ranks: dict[str, int]
    part_bits: int
    pos_bits: int

    @classmethod
    def of(cls, lines: DataFrame) -> _Order:
        names = sorted({"", *map(unquote, lines.inputFiles())})
        part_bits = max(1, (lines.rdd.getNumPartitions() - 1).bit_length())
        rank_bits = max(1, (len(names) - 1).bit_length())
        return cls(
            {name: rank for rank, name in enumerate(names)}, part_bits, 63 - rank_bits - part_bits
        )

    def base(self, name: str, part: int) -> int:
        """The key of a partition's first ID from ``name``.

        Raises:
            PayloadError: ``name`` is not one of the files Spark listed for the input.
        """
        rank = self.ranks.get(unquote(name))
        if rank is None:
            raise PayloadError(
                f"a line came from {name!r}, which is not among the {len(self.ranks) - 1:,} "
                "input files Spark listed for the DataFrame, so its place in the dataset's "
                "order is unknown; dehydrate a DataFrame read with spark.read.text(...)"
            )
        return ((rank << self.part_bits) | part) << self.pos_bits

    def check(self, part: int, pos: int) -> None:
        """Refuse a partition the key cannot number, or holding more IDs than its share can.

        Raises:
            PayloadError: ``part`` or ``pos`` does not fit.
        """
        if part >= 1 << self.part_bits:
            raise PayloadError(
                f"partition {part} is past the {1 << self.part_bits:,} partitions Spark planned "
                "for the input, so its place in the dataset's order is unknown; dehydrate a "
                "DataFrame read with spark.read.text(...), not repartitioned"
            )
        if pos >= 1 << self.pos_bits:
            raise PayloadError(
                f"partition {part} holds {pos:,} IDs, more than its share of the ordering key "
                f"can number ({(1 << self.pos_bits) - 1:,}); read the input in more, smaller "
                "partitions (spark.sql.files.maxPartitionBytes) and run again"
            )


def _tagger(kind: str, order: _Order) -> Callable[[_Batches], _Batches]:
    """A partition's IDs, unique per input file, each with the key of where it first appears.

    The lines come as bytes (no decoding to text and back). The last row (``id`` null)
    carries the partition's records (``key``) and unreadable records (``bad``).
    """

    def tag(batches: _Batches) -> _Batches:
        part = _partition()
        kernels: dict[str, IdKernel] = {}
        records = bad = pos = 0
        with collector_paused():
            for batch in batches:
                lines, files = batch.column(0).to_pylist(), batch.column(1).to_pylist()
                start = 0
                while start < len(lines):  # runs of lines from one file
                    name = files[start]
                    end = start
                    while end < len(lines) and files[end] == name:
                        end += 1
                    kernel = kernels.setdefault(name, IdKernel(kind, LOADS))
                    run = [line or b"" for line in lines[start:end]]
                    found = dehydrate_lines(run, kind, partition=part, kernel=kernel)
                    records += found.manifest.records
                    bad += found.manifest.unreadable
                    count = len(found.ids)
                    order.check(part, pos + count)
                    first = order.base(name, part) + pos
                    yield pa.RecordBatch.from_arrays(
                        [
                            pa.array(found.ids, pa.string()),
                            pa.array(range(first, first + count), pa.int64()),
                            pa.nulls(count, pa.int64()),
                        ],
                        names=["id", "key", "bad"],
                    )
                    pos += count
                    start = end
        yield pa.RecordBatch.from_arrays(
            [
                pa.nulls(1, pa.string()),
                pa.array([records], pa.int64()),
                pa.array([bad], pa.int64()),
            ],
            names=["id", "key", "bad"],
        )

    return tag


def _tagged(df: DataFrame, kind: str, column: str) -> DataFrame:
    lines = df.select(F.col(column).cast("binary"), F.input_file_name().alias(_FILE))
    return lines.mapInArrow(_tagger(check_kind(kind), _Order.of(lines)), _TAGGED)


def _unique(tagged: DataFrame) -> DataFrame:
    """Each ID once, where it first appears, in the dataset's order."""
    first = F.min("key").alias("first")
    return tagged.where(F.col("id").isNotNull()).groupBy("id").agg(first).orderBy("first")


def dehydrate(df: DataFrame, kind: str = "tweets", column: str = "value") -> DataFrame:
    """The unique IDs of ``kind`` in ``column``'s JSON lines: one string column, ``id`` (lazy).

    The IDs, their order and their deduplication are those of ``twpolicy dehydrate`` on the
    input files one after the other, by name. Unreadable lines are skipped (see `manifests`).
    """
    return _unique(_tagged(df, kind, column)).select("id")


def _read(tagged: DataFrame) -> tuple[int, int]:
    """``(records, unreadable)`` of the whole input, from the partitions' last rows."""
    row = tagged.where(F.col("id").isNull()).agg(F.sum("key"), F.sum("bad")).first()
    return (0, 0) if row is None or row[0] is None else (int(row[0]), int(row[1]))


def _digest(batches: _Batches) -> _Batches:
    """A partition's IDs' count and hash, as a manifest row."""
    ids = [value for batch in batches for value in batch.column(0).to_pylist()]
    yield _manifest_row(ids)


def _manifest_row(ids: list[str]) -> Any:
    return pa.RecordBatch.from_arrays(
        [
            pa.array([_partition()], pa.int32()),
            pa.array([len(ids)], pa.int64()),
            pa.array([ids_sha256(ids)], pa.string()),
        ],
        names=["part", "ids", "sha256"],
    )


def _writer(path: str) -> Callable[[_Batches], _Batches]:
    def write(batches: _Batches) -> _Batches:
        ids = [value for batch in batches for value in batch.column(0).to_pylist()]
        with fsspec.open(f"{path}/part-{_partition():05d}.txt", "w", encoding="ascii") as out:
            for value in ids:
                out.write(value + "\n")
        yield _manifest_row(ids)

    return write


def _merged(rows: list[Any], read: tuple[int, int]) -> ExportManifest:
    return merge((Manifest(row[0], 0, 0, row[1], row[2]) for row in rows), read=read)


def manifests(df: DataFrame, kind: str = "tweets", column: str = "value") -> ExportManifest:
    """What `dehydrate` lets out of ``df``: the result's partitions' manifests, merged.

    The records read and skipped are the input's; the partitions are the result's.
    """
    tagged = _tagged(df, kind, column)
    rows = _unique(tagged).select("id").mapInArrow(_digest, _DIGEST).collect()
    return _merged(rows, _read(tagged))


def export(
    df: DataFrame,
    path: str,
    *,
    recipient: str,
    kind: str = "tweets",
    column: str = "value",
    guard: Guard | None = None,
    lease: timedelta = EXPORT_LEASE,
) -> ScaledExport:
    """Dehydrate ``df`` and write its IDs under ``path`` (``part-00000.txt``, ...), counted.

    The IDs are counted first (the result is cached, so that what is written is what was
    counted), then reserved against ``recipient``'s quota through ``guard`` (the default
    guard if ``None``); the executors write; the reservation is committed if they wrote what
    was counted, and released if the job failed. ``path`` is a directory the executors can
    write to (a local or shared file system, or any fsspec URL).

    Raises:
        PolicyViolation: the guard refuses the export (nothing is written or counted).
        PayloadError: the executors wrote other IDs than were counted (nothing is counted).
    """
    guard = get_default_guard() if guard is None else guard
    tagged = _tagged(df, kind, column).persist()
    ids = _unique(tagged).select("id").persist()
    try:
        read = _read(tagged)
        counted = _merged(ids.mapInArrow(_digest, _DIGEST).collect(), read)

        def write() -> ExportManifest:
            fs, root = fsspec.core.url_to_fs(path)
            fs.makedirs(root, exist_ok=True)
            return _merged(ids.mapInArrow(_writer(path), _DIGEST).collect(), read)

        done = export_in_two_phases(
            guard,
            operation="twpolicy.spark.export",
            recipient=recipient,
            kind=kind,
            counted=counted,
            write=write,
            lease=lease,
        )
        record_manifest(path, done)
        return done
    finally:
        ids.unpersist()
        tagged.unpersist()


def _scanner(show_all: bool) -> Callable[[_Batches], _Batches]:  # noqa: FBT001  # internal
    def scan_batches(batches: _Batches) -> _Batches:
        part = _partition()
        offset = 0
        for batch in batches:
            lines, files = batch.column(0).to_pylist(), batch.column(1).to_pylist()
            found = scan_lines([line or "" for line in lines], show_all=show_all, loads=LOADS)
            rows = found.findings
            yield pa.RecordBatch.from_pylist(
                [
                    {
                        "file": files[row["line"] - 1],
                        "part": part,
                        "line": offset + row["line"],
                        **{key: row[key] for key in ("pointer", "kind", "standalone", "reason")},
                        "why": row["why"],
                    }
                    for row in rows
                ],
                schema=_FINDINGS_SCHEMA,
            )
            offset += len(lines)

    return scan_batches


_FINDINGS_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("part", pa.int32()),
        ("line", pa.int64()),
        ("pointer", pa.string()),
        ("kind", pa.string()),
        ("standalone", pa.bool_()),
        ("reason", pa.string()),
        ("why", pa.string()),
    ]
)


def scan(df: DataFrame, column: str = "value", *, show_all: bool = False) -> DataFrame:
    """The location data ``twpolicy scan`` lists, for ``column``'s JSON lines (lazy).

    One row per datum: ``file``, ``part`` (the partition), ``line`` (from 1 in the
    partition), ``pointer``, ``kind``, ``standalone``, ``reason``, ``why``; standalone data
    only unless ``show_all``.
    """
    return _lines(df, column).mapInArrow(_scanner(show_all), _FINDINGS)


def _count(batches: _Batches) -> _Batches:
    lines = (line or "" for batch in batches for line in batch.column(0).to_pylist())
    counts = scan_lines(lines, loads=LOADS).counts()
    yield pa.RecordBatch.from_arrays([pa.array([json.dumps(counts)])], names=["counts"])


def scan_counts(df: DataFrame, column: str = "value") -> dict[str, Any]:
    """The totals of ``twpolicy scan --format json`` for ``column``'s JSON lines (computed)."""
    rows = _lines(df, column).mapInArrow(_count, "counts string").collect()
    return total(json.loads(row[0]) for row in rows)


def _complier(shared: Any, path: str) -> Callable[[_Batches], _Batches]:
    def comply_partition(batches: _Batches) -> _Batches:
        part = _partition()
        lines = (line or "" for batch in batches for line in batch.column(0).to_pylist())
        done = comply_lines(lines, shared.value, where=f"partition {part}")
        with fsspec.open(f"{path}/part-{part:05d}.jsonl", "wb") as out:
            out.writelines(done.lines)
        record = attrs.asdict(done.tally)
        yield pa.RecordBatch.from_arrays([pa.array([json.dumps(record)])], names=["tally"])

    return comply_partition


def _tally(text: str) -> ComplyTally:
    record = json.loads(text)
    record["withdrawn"] = tuple(tuple(item) for item in record["withdrawn"])
    return ComplyTally(**record)


def comply(
    df: DataFrame,
    path: str,
    *,
    ledger: ComplianceLedger,
    target: str | None = None,
    column: str = "value",
) -> ApplyReport:
    """Rewrite ``column``'s JSON lines under ``path`` without what the ledger says is gone.

    The compliance ledger's tombstones (its snapshot) are broadcast to the executors; each
    partition is cleaned as the JSON Lines applier cleans a file (`twpolicy.JsonLinesApplier`)
    and written as ``part-NNNNN.jsonl``; what reversible events removed is listed, by ID, in
    ``withdrawn.jsonl``. The pending events are claimed for ``target`` (``spark:PATH`` by
    default) and recorded as applied once every partition is written; a failed job leaves
    them pending, so running it again applies them.
    """

    def run(snapshot: Snapshot) -> list[ComplyTally]:
        fs, root = fsspec.core.url_to_fs(path)
        fs.makedirs(root, exist_ok=True)
        shared = df.sparkSession.sparkContext.broadcast(snapshot)
        try:
            lines = df.select(F.col(column).cast("string"))
            rows = lines.mapInArrow(_complier(shared, path), "tally string").collect()
        finally:
            shared.unpersist()
        tallies = [_tally(row[0]) for row in rows]
        withdrawn = [line for tally in tallies for line in withdrawn_lines(tally)]
        if withdrawn:
            with fsspec.open(f"{path}/withdrawn.jsonl", "a") as out:
                out.writelines(withdrawn)
        return tallies

    return apply_compliance(ledger, EngineApplier(target or f"spark:{path}", run))

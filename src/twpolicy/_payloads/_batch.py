"""The batch kernel: raw JSON lines in, IDs or location findings out, with a manifest.

One pure function per job, over one batch (a partition of a Spark or Dask dataset, a chunk
of a file): `dehydrate_lines` gives a batch's IDs of a kind, unique and in first-seen order;
`scan_lines` gives its location findings and counts. Both read each line with the same
functions as ``twpolicy dehydrate`` and ``twpolicy scan`` (the fast ID path, the walker, the
location walk), and `IdKernel` is the very object the command line's reader deduplicates
with, so the engines and the command line agree by construction.

Each batch also gives a `Manifest`: how many records it read and skipped, how many IDs it
let out and a hash of them, so that a distributed run can be audited like a single call
(`merge` joins them, in partition order, into one `ExportManifest`). Nothing here decides,
stores or counts a quota: the driver does, once, for the whole export.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs

from twpolicy._payloads._ids import check_kind
from twpolicy._payloads._walker import UniqueKeys
from twpolicy.exceptions import PayloadError

if TYPE_CHECKING:
    from twpolicy._payloads._geo import Hit, PlaceNames

# The fast ID path (msgspec), the location walk and hashlib load with the first function
# that needs them: ``twpolicy dehydrate`` never scans, ``twpolicy scan`` reads no IDs, and
# both start faster for it (see docs/performance.md, Start-up).

__all__ = [
    "ExportManifest",
    "IdBatch",
    "IdKernel",
    "Manifest",
    "ScanBatch",
    "collector_paused",
    "dehydrate_lines",
    "ids_sha256",
    "merge",
    "owner",
    "record_hits",
    "scan_lines",
    "total",
]

_SPACE: Final = b" \t\r\n\f\v"


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while reading a batch.

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


def ids_sha256(ids: Iterable[str]) -> str:
    """The SHA-256 of IDs as written: one per line, each followed by a newline."""
    import hashlib  # noqa: PLC0415  # start-up: see the imports

    return hashlib.sha256("".join([value + "\n" for value in ids]).encode("ascii")).hexdigest()


def owner(value: str, buckets: int) -> int:
    """Which of ``buckets`` deduplicates an ID: the same on every worker (no salted hash)."""
    return int(value) % buckets


@attrs.frozen
class Manifest:
    """What one partition read and let out.

    Attributes:
        partition: its index, in the dataset's order.
        records: the records (non-blank lines) it read.
        unreadable: how many of them could not be read (not JSON, an untrustworthy ID).
        ids: how many IDs it let out (after deduplication across partitions, once known).
        sha256: the `ids_sha256` of those IDs, in order.
    """

    partition: int
    records: int
    unreadable: int
    ids: int
    sha256: str

    def to_record(self) -> dict[str, Any]:
        """The manifest as JSON-serialisable data."""
        return attrs.asdict(self)


@attrs.frozen
class ExportManifest:
    """The manifests of a whole export, merged in partition order.

    Attributes:
        partitions: each partition's manifest.
        records: the records read in all.
        unreadable: the records skipped in all.
        ids: the IDs let out in all.
        sha256: the SHA-256 of the partitions' lines ``index ids sha256``, in order: it
            changes if any partition let out other IDs, or the same IDs in another order.
    """

    partitions: tuple[Manifest, ...]
    records: int
    unreadable: int
    ids: int
    sha256: str

    def to_record(self) -> dict[str, Any]:
        """The manifest as JSON-serialisable data."""
        record = attrs.asdict(self, recurse=True)
        record["partitions"] = [part.to_record() for part in self.partitions]
        return record


def merge(manifests: Iterable[Manifest], *, read: tuple[int, int] | None = None) -> ExportManifest:
    """One manifest for an export, from its partitions' (in any order; sorted by index).

    ``read``: ``(records, unreadable)`` for the whole input, where the partitions written
    are not the partitions read (an engine that sorts between the two).
    """
    parts = tuple(sorted(manifests, key=lambda part: part.partition))
    indexes = [part.partition for part in parts]
    if len(set(indexes)) != len(indexes):
        raise ValueError(f"two manifests for one partition among {indexes}")
    import hashlib  # noqa: PLC0415  # start-up: see the imports

    digest = hashlib.sha256()
    for part in parts:
        digest.update(f"{part.partition} {part.ids} {part.sha256}\n".encode("ascii"))
    if read is None:
        read = (sum(part.records for part in parts), sum(part.unreadable for part in parts))
    return ExportManifest(
        parts,
        records=read[0],
        unreadable=read[1],
        ids=sum(part.ids for part in parts),
        sha256=digest.hexdigest(),
    )


class IdKernel:
    """IDs of one kind, record by record, unique across everything it has read.

    ``parse`` reads a record's bytes (the fast ID path where it can, else ``loads``);
    `ids` gives what the parsed record holds, `fresh` what of it is new. The command line's
    reader and every engine's partitions go through these same three steps.
    """

    __slots__ = ("_record_ids", "kind", "parse", "seen")

    def __init__(self, kind: str, loads: Callable[[bytes], Any] = json.loads) -> None:
        from twpolicy._payloads._fastids import parser, record_ids  # noqa: PLC0415  # start-up

        self.kind = check_kind(kind)
        self.parse: Callable[[bytes], Any] = parser(self.kind, loads)
        self._record_ids = record_ids
        self.seen: set[str] = set()

    def ids(self, value: Any) -> list[str]:
        """The IDs of a parsed record, repeats included.

        Raises:
            PayloadError: an ID whose digits cannot be trusted, or nesting too deep to read.
        """
        try:
            return self._record_ids(value, self.kind)
        except RecursionError:
            raise PayloadError("nested too deeply to read") from None

    def fresh(self, ids: list[str]) -> list[str]:
        """Those of ``ids`` never seen before, once each, in first-seen order."""
        seen = self.seen
        new = [value for value in ids if value not in seen]
        if not new:
            return new
        seen.update(new)
        return list(dict.fromkeys(new)) if len(new) > 1 else new


def _lines(lines: Iterable[bytes | str]) -> Iterable[tuple[int, bytes]]:
    """The non-blank lines, as stripped bytes, with their numbers (from 1)."""
    for number, line in enumerate(lines, 1):
        data = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
        data = data.strip(_SPACE)
        if data:
            yield number, data


def _not_a_record(value: Any) -> str | None:
    """Why a parsed line is no record (as the command line's reader says), or ``None``."""
    if isinstance(value, (dict, list)):
        return None
    what = "null" if value is None else type(value).__name__
    return f"a JSON {what}, not an object or array"


def _unreadable(exc: Exception) -> str:
    if isinstance(exc, PayloadError):  # a key written twice: it names the key and the remedy
        return str(exc).rstrip(".")
    if isinstance(exc, RecursionError):
        return "nested too deeply to read"
    if isinstance(exc, UnicodeDecodeError):
        return "not valid UTF-8 text"
    return f"not valid JSON ({exc})"


@attrs.frozen
class IdBatch:
    """What `dehydrate_lines` found in one batch.

    Attributes:
        ids: its IDs of the kind, unique, in first-seen order.
        errors: ``(line, why)`` for each line it skipped (numbered from 1 in the batch).
        manifest: its manifest.
    """

    ids: list[str]
    errors: list[tuple[int, str]]
    manifest: Manifest


def dehydrate_lines(
    lines: Iterable[bytes | str],
    kind: str,
    *,
    partition: int = 0,
    loads: Callable[[bytes], Any] = json.loads,
    kernel: IdKernel | None = None,
) -> IdBatch:
    """The unique IDs of ``kind`` in a batch of JSON lines (one record per line).

    Blank lines are not records; a line that is not JSON, or holds an ID whose digits cannot
    be trusted, is skipped and listed in ``errors``. Give ``kernel`` to deduplicate against
    what it has already read.
    """
    kernel = IdKernel(kind, loads) if kernel is None else kernel
    parse, ids_of, fresh = kernel.parse, kernel.ids, kernel.fresh
    out: list[str] = []
    errors: list[tuple[int, str]] = []
    records = 0
    for number, data in _lines(lines):
        records += 1
        try:
            value = parse(data)
        except (ValueError, RecursionError) as exc:
            errors.append((number, _unreadable(exc)))
            continue
        why = _not_a_record(value)
        if why is not None:
            errors.append((number, why))
            continue
        try:
            out += fresh(ids_of(value))
        except PayloadError as exc:
            errors.append((number, str(exc).rstrip(".")))
    manifest = Manifest(partition, records, len(errors), len(out), ids_sha256(out))
    return IdBatch(out, errors, manifest)


def record_hits(value: Any, memory: PlaceNames | None = None) -> list[Hit]:
    """Every location datum of a parsed record, as ``twpolicy scan`` lists them.

    ``memory``: the location read in earlier records (it learns this record's).

    Raises:
        PayloadError: nested too deeply to scan.
    """
    from twpolicy._payloads._geo import hits  # noqa: PLC0415  # start-up: see the imports

    try:
        return list(hits(value, memory))
    except RecursionError:
        raise PayloadError("nested too deeply to scan") from None


@attrs.frozen
class ScanBatch:
    """What `scan_lines` found in one batch.

    Attributes:
        findings: one row per location datum listed (standalone ones, or all with
            ``show_all``): ``line``, ``pointer``, ``kind``, ``standalone``, ``reason``.
        errors: ``(line, why)`` for each line it skipped.
        records: the records read.
        with_location: the records holding location data.
        standalone_records: the records holding location that stands alone.
        standalone_data: the standalone data found.
        kinds: how many data of each kind of location were found.
    """

    findings: list[dict[str, Any]]
    errors: list[tuple[int, str]]
    records: int
    with_location: int
    standalone_records: int
    standalone_data: int
    kinds: dict[str, int]

    def counts(self) -> dict[str, Any]:
        """The counts as ``twpolicy scan --format json`` gives them."""
        return {
            "records": self.records,
            "with_location": self.with_location,
            "standalone_records": self.standalone_records,
            "standalone_data": self.standalone_data,
            "unreadable": len(self.errors),
            "location_kinds": dict(sorted(self.kinds.items())),
        }


def scan_lines(
    lines: Iterable[bytes | str],
    *,
    show_all: bool = False,
    loads: Callable[[bytes], Any] = json.loads,
) -> ScanBatch:
    """The location data of a batch of JSON lines (one record per line)."""
    findings: list[dict[str, Any]] = []
    errors: list[tuple[int, str]] = []
    kinds: collections.Counter[str] = collections.Counter()
    records = with_location = standalone_records = standalone_data = 0
    from twpolicy._payloads._geo import LocationMemory  # noqa: PLC0415  # start-up: see the imports

    memory = LocationMemory()  # what earlier records of the batch read
    loads = UniqueKeys(loads)  # a key written twice hides what the other value holds
    for number, data in _lines(lines):
        records += 1
        try:
            value = loads(data)
        except (ValueError, RecursionError) as exc:
            errors.append((number, _unreadable(exc)))
            continue
        why = _not_a_record(value)
        if why is not None:
            errors.append((number, why))
            continue
        try:
            found = record_hits(value, memory)
        except PayloadError as exc:
            errors.append((number, str(exc)))
            continue
        if not found:
            continue
        with_location += 1
        kinds.update(hit.kind.value for hit in found)
        alone = sum(hit.standalone for hit in found)
        if alone:
            standalone_records += 1
            standalone_data += alone
        findings += _rows(number, found, show_all=show_all)
    return ScanBatch(
        findings,
        errors,
        records,
        with_location,
        standalone_records,
        standalone_data,
        dict(kinds),
    )


def _rows(number: int, found: Sequence[Hit], *, show_all: bool) -> list[dict[str, Any]]:
    from twpolicy._payloads._geo import REASONS  # noqa: PLC0415  # start-up: see the imports

    return [
        {
            "line": number,
            "pointer": hit.pointer,
            "kind": hit.kind.value,
            "standalone": hit.standalone,
            "reason": hit.reason,
            "why": REASONS[hit.reason] if hit.standalone else "",
        }
        for hit in found
        if hit.standalone or show_all
    ]


def total(counts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The sum of `ScanBatch.counts` of many batches: ``twpolicy scan``'s totals."""
    summed: dict[str, Any] = {
        "records": 0,
        "with_location": 0,
        "standalone_records": 0,
        "standalone_data": 0,
        "unreadable": 0,
    }
    kinds: collections.Counter[str] = collections.Counter()
    for part in counts:
        for key in summed:
            summed[key] += part[key]
        kinds.update(part["location_kinds"])
    summed["location_kinds"] = dict(sorted(kinds.items()))
    return summed

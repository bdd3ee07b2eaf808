"""Exports at scale: the driver's two phases around workers that never see a quota store.

A distributed export (`twpolicy.dask.export`, `twpolicy.spark.export`) runs in two phases at
the driver. First the workers count: each partition's IDs are read and deduplicated and its
`Manifest` comes back. The driver merges them and asks the guard for a permit for exactly
that many IDs (`open_export`): the recipient's quota is reserved, and the decision is logged
with the merged manifest's hash. Then the workers write and report what they wrote; the
driver commits the reservation only if that is what was counted, and releases it if the job
failed or wrote anything else (`finish_export`). The workers never touch the quota store.

A driver killed between the two phases cannot release anything: its reservation is leased
(`EXPORT_LEASE`, `QuotaLedger.lease`), so the first reservation after the lease runs out
releases it. A driver that finishes confirms the reservation (removes the lease) before it
commits; one that outlived its lease counts its IDs again, as they are out. Only then is
the export's manifest recorded as complete (`manifest_record`, the engines' ``_MANIFEST.json``).

The IDs count as the command line counts them: each one as a Tweet ID (`IdCount`'s rule
for bare IDs), so ``twpolicy dehydrate --recipient`` and an engine charge alike.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import attrs

from twpolicy._enforce._compliance import (
    # The JSON Lines applier's own steps, shared on purpose: one way to clean a line.
    Attempt,
    NotJsonLine,
    _Tally,
    clean_lines,
    not_json,
)
from twpolicy._guard import Guard, Permit
from twpolicy._model import Action, ActionKind, Decision
from twpolicy._payloads._batch import ExportManifest
from twpolicy._payloads._ids import CONTENT_OF, check_kind
from twpolicy._payloads._outbound import IdCount, remembered
from twpolicy._stores._compliance import Snapshot
from twpolicy.exceptions import PayloadError

__all__ = [
    "EXPORT_LEASE",
    "ComplyBatch",
    "ComplyTally",
    "EngineApplier",
    "ScaledExport",
    "comply_lines",
    "export_in_two_phases",
    "finish_export",
    "manifest_record",
    "open_export",
    "record_manifest",
    "withdrawn_lines",
]


_LOG = logging.getLogger("twpolicy.scale")
#: How long a distributed export's reservation may stay unconfirmed: a driver killed
#: half-way leaves it, and the first reservation after the lease releases it.
EXPORT_LEASE: Final = timedelta(hours=6)


def open_export(
    guard: Guard,
    *,
    operation: str,
    recipient: str,
    kind: str,
    counted: ExportManifest,
    lease: timedelta = EXPORT_LEASE,
) -> Permit:
    """Phase one: decide on the counted export and reserve it, leased; the permit is open.

    The action's payload is the manifest (the IDs stay on the workers); its facts carry the
    manifest's hash, partitions and records, so the logged decision names the export. The
    reservation is leased for ``lease``: if nothing confirms it by then (the driver was
    killed), the quota ledger releases it.

    Raises:
        PolicyViolation: the guard refuses the export (nothing is reserved then).
    """
    action = Action(
        kind=ActionKind.EXPORT,
        operation=operation,
        recipient=recipient,
        count=counted.ids,
        facts={
            "content": CONTENT_OF[check_kind(kind)],
            "manifest_sha256": counted.sha256,
            "partitions": len(counted.partitions),
            "records": counted.records,
        },
        payload=counted,
    )
    # The workers read the IDs off the records: bare IDs, counted as the command line does.
    reading = IdCount(counted, None, None, counted.ids, tweets=counted.ids)
    permit = guard.permit(action)
    with remembered(counted, reading):
        permit.open(full=True)
    if guard.quotas is not None:
        until = datetime.now(timezone.utc) + lease
        for reservation_id in permit.held.reservations:
            guard.quotas.lease(reservation_id, until)
    return permit


def finish_export(
    permit: Permit, counted: ExportManifest, written: ExportManifest, *, guard: Guard | None = None
) -> None:
    """Phase two: commit the reservation if exactly the counted IDs were written, else release.

    With ``guard`` (whose quota ledger holds the leased reservation), the lease is removed
    first; a reservation already released because the lease ran out is counted again
    (forced: the IDs were written) and committed, so an export is never left uncounted.

    Raises:
        PayloadError: what was written is not what was counted (the reservation is released).
    """
    if (written.ids, written.sha256) != (counted.ids, counted.sha256):
        permit.release("written differs from counted")
        raise PayloadError(
            f"the workers wrote {written.ids:,} IDs (manifest {written.sha256[:12]}) but "
            f"{counted.ids:,} were counted and reserved (manifest {counted.sha256[:12]}): the "
            "input changed during the job, or a worker lost output; nothing was counted "
            "against the quota. Run the export again on input that does not change."
        )
    quotas = None if guard is None else guard.quotas
    if quotas is not None:
        for reservation_id in permit.held.reservations:
            if not quotas.lease(reservation_id, None):
                _LOG.warning(
                    "export %s outlived its quota lease (released meanwhile): counted again",
                    counted.sha256[:12],
                )
                again = quotas.reserve(
                    permit.action.recipient or "", tweet_ids=counted.ids, force=True
                )
                if again.reservation_id is not None:
                    quotas.commit(again.reservation_id)
    permit.commit()


def manifest_record(done: ScaledExport) -> str:
    """The ``_MANIFEST.json`` an engine writes beside a finished export's parts (JSON).

    Written last, after the reservation is committed: an export directory without it is not
    complete (a job killed half-way), whatever part files it holds.
    """
    record: dict[str, Any] = {
        "complete": True,
        "manifest": done.manifest.to_record(),
        "decision": done.decision.to_record(),
    }
    return json.dumps(record, indent=2, sort_keys=True, default=str) + "\n"


def record_manifest(path: str, done: ScaledExport) -> None:
    """Write `manifest_record` as ``_MANIFEST.json`` under ``path`` (any fsspec URL), last.

    Written to a temporary name, then moved: a reader sees the whole record or none.
    """
    import fsspec  # noqa: PLC0415  # with the engines' extras only

    fs, root = fsspec.core.url_to_fs(path)
    temporary = f"{root}/._MANIFEST.json.tmp"
    fs.pipe_file(temporary, manifest_record(done).encode("utf-8"))
    fs.mv(temporary, f"{root}/_MANIFEST.json")


@attrs.frozen
class ScaledExport:
    """A finished distributed export.

    Attributes:
        manifest: what the workers wrote, merged in partition order.
        decision: the guard's decision, logged with the manifest's hash.
    """

    manifest: ExportManifest
    decision: Decision


def export_in_two_phases(
    guard: Guard,
    *,
    operation: str,
    recipient: str,
    kind: str,
    counted: ExportManifest,
    write: Callable[[], ExportManifest],
    lease: timedelta = EXPORT_LEASE,
) -> ScaledExport:
    """Reserve what was counted (leased), let ``write`` run, commit what it wrote (or release).

    A ``write`` that raises (a worker lost) releases the reservation, then the exception
    goes on; a driver killed meanwhile leaves the reservation to its lease.
    """
    permit = open_export(
        guard, operation=operation, recipient=recipient, kind=kind, counted=counted, lease=lease
    )
    try:
        written = write()
    except BaseException as exc:
        permit.release(type(exc).__name__)
        raise
    finish_export(permit, counted, written, guard=guard)
    assert permit.decision is not None  # noqa: S101  # opened with full=True
    return ScaledExport(written, permit.decision)


# -- compliance at scale --------------------------------------------------------------------


@attrs.frozen
class ComplyBatch:
    """What `comply_lines` made of one batch of a dataset.

    Attributes:
        lines: the batch as it may stay, one record per line (each ending in a newline):
            untouched lines byte for byte, changed ones rewritten, gone ones left out.
        tally: the counts (`ComplyTally`) of what changed.
    """

    lines: list[bytes]
    tally: ComplyTally


@attrs.frozen
class ComplyTally:
    """What one batch (or, summed, a whole dataset) lost to the compliance ledger.

    Attributes:
        changed: objects removed or modified, per event key.
        removed: objects removed.
        scrubbed: Tweets whose location was removed.
        read: records read.
        dropped: whole records dropped.
        withdrawn: ``(event key, type, ID)`` of what reversible events removed.
    """

    changed: Mapping[str, int]
    removed: int = 0
    scrubbed: int = 0
    read: int = 0
    dropped: int = 0
    withdrawn: tuple[tuple[str, str, str], ...] = ()

    def __add__(self, other: ComplyTally) -> ComplyTally:
        changed = dict(self.changed)
        for key, count in other.changed.items():
            changed[key] = changed.get(key, 0) + count
        return ComplyTally(
            changed,
            self.removed + other.removed,
            self.scrubbed + other.scrubbed,
            self.read + other.read,
            self.dropped + other.dropped,
            self.withdrawn + other.withdrawn,
        )


def comply_lines(
    lines: Iterable[bytes | str], snapshot: Snapshot, *, where: str = ""
) -> ComplyBatch:
    """A batch of JSON lines without what ``snapshot`` says is gone, as the JSON Lines applier.

    The JSON Lines applier's own loop (`clean_lines`): a line that cannot hold an affected ID
    is kept unparsed, a v2 page goes through the fast cleaner, the rest through
    `clean_record`. Blank lines are left out. ``where`` names the batch in errors.

    Raises:
        PayloadError: a line holds an affected ID but is not JSON (nothing may be written).
    """
    tally = _Tally()
    out: list[bytes] = []
    numbers: list[int] = []  # each line given to the applier's loop: its number in the batch

    def given() -> Iterator[bytes]:
        for number, raw in enumerate(lines, start=1):
            line = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
            if line.strip():  # a blank line is left out, as a partition of text has them
                numbers.append(number)
                yield line if line.endswith(b"\n") else line + b"\n"

    try:
        read, dropped = clean_lines(given(), out.append, snapshot, tally)
    except NotJsonLine as exc:
        raise not_json(where or "the batch", numbers[exc.number - 1], exc.why) from None
    counts = ComplyTally(
        dict(tally.changed),
        tally.removed,
        tally.scrubbed,
        read,
        dropped,
        tuple(tally.withdrawn),
    )
    return ComplyBatch(out, counts)


class EngineApplier:
    """An `Applier` whose ``apply`` is a distributed job: ``run(snapshot)`` gives its tallies.

    `apply_compliance` claims the pending events, passes the ledger's snapshot (which the
    engine broadcasts to its workers), and records the outcome; a job that fails leaves the
    events pending (the attempt is abandoned), so running it again applies them.
    """

    always = True  # the output is a new dataset: written even when no event is pending

    def __init__(self, target: str, run: Callable[[Snapshot], Iterable[ComplyTally]]) -> None:
        self.target = target
        self._run = run
        self.last: dict[str, int] = {}
        self.tally = ComplyTally({})

    def apply(self, snapshot: Snapshot, attempt: Attempt) -> Mapping[str, int]:  # noqa: ARG002  # protocol
        """Run the job; sum its partitions' tallies."""
        tally = ComplyTally({})
        for part in self._run(snapshot):
            tally += part
        self.tally = tally
        self.last = {
            "removed": tally.removed,
            "scrubbed": tally.scrubbed,
            "records_read": tally.read,
            "records_dropped": tally.dropped,
        }
        return tally.changed


def withdrawn_lines(tally: ComplyTally) -> list[str]:
    """The ``.withdrawn.jsonl`` lines of what reversible events removed (IDs only)."""
    return [
        json.dumps({"event": key, "type": target, "id": oid}) + "\n"
        for key, target, oid in tally.withdrawn
    ]

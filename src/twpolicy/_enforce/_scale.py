"""Exports at scale: the driver's two phases around workers that never see a quota store.

A distributed export (`twpolicy.dask.export`, `twpolicy.spark.export`) runs in two phases at
the driver. First the workers count: each partition's IDs are read and deduplicated and its
`Manifest` comes back. The driver merges them and asks the guard for a permit for exactly
that many IDs (`open_export`): the recipient's quota is reserved, and the decision is logged
with the merged manifest's hash. Then the workers write and report what they wrote; the
driver commits the reservation only if that is what was counted, and releases it if the job
failed or wrote anything else (`finish_export`). The workers never touch the quota store.

The IDs count as the command line counts them: each one as a Tweet ID (`IdCount`'s rule
for bare IDs), so ``twpolicy dehydrate --recipient`` and an engine charge alike.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from twpolicy._guard import Guard, Permit
from twpolicy._model import Action, ActionKind, Decision
from twpolicy._payloads._batch import ExportManifest
from twpolicy._payloads._ids import CONTENT_OF, check_kind
from twpolicy._payloads._outbound import IdCount, remembered
from twpolicy.exceptions import PayloadError

__all__ = ["ScaledExport", "export_in_two_phases", "finish_export", "open_export"]


def open_export(
    guard: Guard, *, operation: str, recipient: str, kind: str, counted: ExportManifest
) -> Permit:
    """Phase one: decide on the counted export and reserve it; the permit is open.

    The action's payload is the manifest (the IDs stay on the workers); its facts carry the
    manifest's hash, partitions and records, so the logged decision names the export.

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
    return permit


def finish_export(permit: Permit, counted: ExportManifest, written: ExportManifest) -> None:
    """Phase two: commit the reservation if exactly the counted IDs were written, else release.

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
    permit.commit()


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
) -> ScaledExport:
    """Reserve what was counted, let ``write`` run, commit what it wrote (or release).

    A ``write`` that raises (a killed job, a worker lost) releases the reservation, then
    the exception goes on.
    """
    permit = open_export(
        guard, operation=operation, recipient=recipient, kind=kind, counted=counted
    )
    try:
        written = write()
    except BaseException as exc:
        permit.release(type(exc).__name__)
        raise
    finish_export(permit, counted, written)
    assert permit.decision is not None  # noqa: S101  # opened with full=True
    return ScaledExport(written, permit.decision)

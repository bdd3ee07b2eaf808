"""Where each record stands, derived from its events: `apply` is the one definition of state.

Nothing is updated in place: the ledger, its backends and `Ledger.verify` all fold events
into `State` with `apply`, so they cannot disagree about what a history means.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import attrs

from twpolicy._stores._consent._events import ConsentEvent, ConsentEventType
from twpolicy._stores._consent._records import ConsentRecord

__all__ = ["HELD_UNTIL_RESOLVED", "ConsentState", "State", "apply", "derive"]

#: The ``until`` of a claim that never lapses by itself, only when used or released. A time
#: rather than no time, so that ledgers written by earlier versions (which need one) and
#: readers of those versions agree on what it means.
HELD_UNTIL_RESOLVED = datetime(9999, 12, 31, tzinfo=timezone.utc)


@attrs.frozen
class ConsentState:
    """Where one record stands, derived from every event about it.

    Attributes:
        record: the record as granted.
        status: ``"active"``; ``"revoked"`` (every scope withdrawn); ``"spent"`` (a
            content-bound record was used); ``"expired"``; or ``"pending"`` (granted after the
            time asked about).
        active_scopes: the scopes it covers now (empty unless active).
        revoked_scopes: the scopes withdrawn so far.
    """

    record: ConsentRecord
    status: str
    active_scopes: frozenset[str]
    revoked_scopes: frozenset[str]

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-serialisable data."""
        return {
            "status": self.status,
            "active_scopes": sorted(self.active_scopes),
            "revoked_scopes": sorted(self.revoked_scopes),
            "record": self.record.to_dict(),
        }


@attrs.frozen
class State:
    """A record and what later events did to it, time aside."""

    record: ConsentRecord
    remaining: frozenset[str]
    ended: str | None = None  # "revoked", "spent" or "expired"
    claim: str | None = None  # held by an enforcement point for one action
    claim_until: datetime | None = None

    def claimed_by_other(self, at: datetime, claims: frozenset[str] = frozenset()) -> bool:
        """Whether a live claim that is not one of ``claims`` holds the record."""
        if self.claim is None or self.claim in claims:
            return False
        return self.claim_until is None or self.claim_until > at

    def covers(self, scope: str, at: datetime, claims: frozenset[str] = frozenset()) -> bool:
        """Whether the record covers ``scope`` at ``at`` for the holder of ``claims``."""
        # Inlined (`ConsentRecord.active_at`, `claimed_by_other`): the cached check's hot path.
        if self.ended is not None or scope not in self.remaining:
            return False
        record = self.record
        if record.granted_at > at or (record.expires_at is not None and at >= record.expires_at):
            return False
        claim = self.claim
        return (
            claim is None
            or claim in claims
            or (self.claim_until is not None and self.claim_until <= at)
        )

    def at(self, at: datetime) -> ConsentState:
        """The public view of the state at time ``at``."""
        status = self.ended
        if status is None:
            if self.record.granted_at > at:
                status = "pending"
            elif self.record.expires_at is not None and at >= self.record.expires_at:
                status = "expired"
            else:
                status = "active"
        active = self.remaining if status == "active" else frozenset()
        return ConsentState(self.record, status, active, self.record.scopes - self.remaining)


def apply(states: dict[str, State], event: ConsentEvent) -> None:
    """Fold one event into ``states`` (record ID to state): the one definition of state."""
    if event.type is ConsentEventType.GRANTED:
        assert event.record is not None  # noqa: S101  # event_from_row sets it for grants
        states[event.record_id] = State(event.record, event.record.scopes)
        return
    state = states.get(event.record_id)
    if state is None or state.ended is not None:
        return
    if event.type is ConsentEventType.REVOKED:
        remaining = state.remaining - (state.remaining if event.scopes is None else event.scopes)
        ended = None if remaining else "revoked"  # a claim outlives a partial revoke
        states[event.record_id] = attrs.evolve(state, remaining=remaining, ended=ended)
    elif event.type is ConsentEventType.USED:
        if state.record.content_sha256 is not None:
            states[event.record_id] = attrs.evolve(state, ended="spent", claim=None)
    elif event.type is ConsentEventType.CLAIMED:
        states[event.record_id] = attrs.evolve(state, claim=event.claim, claim_until=event.until)
    elif event.type is ConsentEventType.RELEASED:
        if state.claim == event.claim:
            states[event.record_id] = attrs.evolve(state, claim=None, claim_until=None)
    else:
        states[event.record_id] = attrs.evolve(state, ended="expired")


def derive(events: Iterable[ConsentEvent]) -> dict[str, State]:
    """Every record's state after ``events``, in the order the records were granted."""
    states: dict[str, State] = {}
    for event in events:
        apply(states, event)
    return states

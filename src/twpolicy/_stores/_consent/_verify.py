"""`Ledger.verify`'s checks: the chain, every hash, the head, and a history that makes sense."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import attrs

from twpolicy._stores._consent._events import (
    GENESIS,
    ConsentEvent,
    ConsentEventType,
    Row,
    event_from_row,
    row_hash,
)
from twpolicy._stores._consent._state import State, apply

__all__ = ["Verification", "Verifier", "verify_rows"]

_MAX_PROBLEMS = 50


@attrs.frozen
class Verification:
    """What `Ledger.verify` found. True when the ledger is intact.

    Attributes:
        ok: no event was changed, removed, inserted or reordered, and the history is
            consistent.
        events: how many events were checked.
        head: the hash of the last event; record it elsewhere (a log, a ticket) to detect
            later a ledger rewritten wholesale.
        problems: what is wrong, one line each, the first few only.
    """

    ok: bool
    events: int
    head: str
    problems: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    def explain(self) -> str:
        """One paragraph for a person."""
        if self.ok:
            return f"ledger intact: {self.events} events, head {self.head}"
        return f"ledger TAMPERED or damaged ({self.events} events checked):\n" + "\n".join(
            f"  - {problem}" for problem in self.problems
        )


class Verifier:
    """Checks rows in order: the chain, the hashes, and that the history makes sense."""

    def __init__(self) -> None:
        self.count = 0
        self.problems: list[str] = []
        self.more = 0
        self.last: tuple[int, str] = (0, GENESIS)
        self.states: dict[str, State] = {}

    def problem(self, text: str) -> None:
        """Note a problem; past the first few, only count it."""
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)
        else:
            self.more += 1

    def feed(self, row: Row) -> None:
        """Check the next row in ledger order."""
        self.count += 1
        seq, prev = self.last
        if row.seq != seq + 1:
            self.problem(
                f"event {row.seq} comes after event {seq}: events are missing or out of order"
            )
        if row.prev_hash != prev:
            self.problem(
                f"event {row.seq} does not chain to the event before it: an event was removed, "
                "inserted or reordered"
            )
        if row_hash(row.prev_hash, row[:7]) != row.hash:
            self.problem(f"event {row.seq} does not match its hash: it was changed")
        self.last = (row.seq, row.hash)
        try:
            event = event_from_row(row)
        except (ValueError, KeyError, TypeError) as exc:
            self.problem(f"event {row.seq} cannot be read ({type(exc).__name__}: {exc})")
            return
        self._check_history(event)

    def _check_history(self, event: ConsentEvent) -> None:
        label = f"event {event.seq} ({event.type.value} {event.record_id or '-'})"
        if event.type is ConsentEventType.GRANTED:
            if event.record_id in self.states:
                self.problem(f"{label} grants a record ID granted before")
            elif event.closes:
                self.problem(f"{label} is a grant marked as closing its record")
            apply(self.states, event)
            return
        if event.type is ConsentEventType.REVOKED and not event.record_id:
            if event.closes:
                self.problem(f"{label} closes no record but says it does")
            return
        state = self.states.get(event.record_id)
        if state is None or state.record.user_id != event.user_id:
            self.problem(f"{label} refers to no earlier grant of user {event.user_id}")
            return
        check = _OUT_OF_TURN.get(event.type)
        wrong = check(state, event) if check is not None else ""
        if wrong:
            self.problem(f"{label} {wrong}")
        apply(self.states, event)
        closed = self.states[event.record_id].ended is not None
        if event.type is ConsentEventType.USED and state.ended is not None:
            closed = event.closes  # a late use of an ended record changes nothing
        if closed != event.closes:
            self.problem(f"{label} says closes={event.closes}, but the history says {closed}")

    def finish(self, head: tuple[int, str]) -> Verification:
        """The verdict, given the head the store holds."""
        last_seq, last_hash = self.last
        if head != self.last:
            if head[0] > last_seq:
                self.problem(
                    f"the ledger's head is event {head[0]}, but the last event is {last_seq}: "
                    "events were removed from the end"
                )
            elif head[0] < last_seq:
                self.problem(
                    f"the ledger's head is event {head[0]}, but events go up to {last_seq}: "
                    "events were added without going through twpolicy"
                )
            else:
                self.problem(f"the ledger's head does not match event {last_seq}: it was changed")
        if self.more:
            self.problems.append(f"... and {self.more} more problems")
        return Verification(not self.problems, self.count, last_hash, tuple(self.problems))


def _revoke_out_of_turn(state: State, event: ConsentEvent) -> str:
    if state.ended is None and event.scopes is not None and event.scopes <= state.remaining:
        return ""
    return "withdraws scopes the record no longer had"


def _claim_out_of_turn(state: State, event: ConsentEvent) -> str:
    if state.ended is not None:
        return f"claims a record already closed ({state.ended})"
    if state.record.content_sha256 is None:
        return "claims a record that is not single-use"
    if not state.record.active_at(event.at):
        return "claims a record that was not in force then"
    if not event.claim or event.until is None:
        return "claims without a claim ID or a time the claim lapses"
    if state.claimed_by_other(event.at, frozenset((event.claim,))):
        return f"claims a record while {_holder(state)}"
    return ""


def _release_out_of_turn(state: State, event: ConsentEvent) -> str:
    if state.ended is None and state.claim is not None and state.claim == event.claim:
        return ""
    return f"releases claim {event.claim!r}, which did not hold the record"


def _use_out_of_turn(state: State, event: ConsentEvent) -> str:
    if (
        state.ended is None
        and state.record.content_sha256 is not None
        and state.claimed_by_other(event.at, frozenset((event.claim,)))
    ):
        return f"spends a single-use record while {_holder(state)}"
    return ""  # a late use of an ended record is on the record with a note


#: What makes an event impossible after its record's state, by type. The ledger decides
#: revokes, claims, releases and uses inside the append's lock, from the same history and at
#: the event's own time, so an intact ledger replays to the same answers: in particular, two
#: claims never hold one record at once.
_OUT_OF_TURN: dict[ConsentEventType, Callable[[State, ConsentEvent], str]] = {
    ConsentEventType.REVOKED: _revoke_out_of_turn,
    ConsentEventType.CLAIMED: _claim_out_of_turn,
    ConsentEventType.RELEASED: _release_out_of_turn,
    ConsentEventType.USED: _use_out_of_turn,
}


def _holder(state: State) -> str:
    until = "for ever" if state.claim_until is None else state.claim_until.isoformat()
    return f"claim {state.claim!r} held it until {until}"


def verify_rows(rows: Iterable[Row], head: tuple[int, str]) -> Verification:
    """Verify ``rows`` (a whole ledger, in order) against the store's ``head``."""
    verifier = Verifier()
    for row in rows:
        verifier.feed(row)
    return verifier.finish(head)

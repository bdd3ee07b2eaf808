"""`Ledger.verify`'s checks: both chains, hashes, MACs, head, index, history and anchor.

The history must make sense, and the chain must pass through an anchor kept elsewhere.

Every kind of damage is a problem in the `Verification`, never an exception, and problems
name events by position only: nothing read from the store is repeated (a tamperer could put
anything there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

import attrs

from twpolicy._stores._consent._events import (
    GENESIS,
    ConsentEvent,
    ConsentEventType,
    Head,
    Row,
    SubjectHead,
    event_from_row,
    hash_matches,
)
from twpolicy._stores._consent._key import ConsentKey, quotable_key_id
from twpolicy._stores._consent._state import HELD_UNTIL_RESOLVED, State, apply
from twpolicy._stores._consent._values import quotable_user
from twpolicy.exceptions import ConfigurationError

__all__ = ["Verification", "Verifier", "parse_anchor", "verify_rows"]

_MAX_PROBLEMS = 50


@attrs.frozen
class Verification:
    """What `Ledger.verify` found. True when the ledger is intact.

    Attributes:
        ok: no event was changed, removed, inserted or reordered, the history is consistent,
            and (when given) the anchor is on the chain.
        events: how many events were checked.
        head: the hash of the last event.
        problems: what is wrong, one line each, the first few only.
        head_seq: the position of the last event.
        key_id: the ID of the key the ledger is sealed with (``""``: unkeyed).
        legacy: how many events are in the first format (written before the per-user chain;
            checked by this walk, but not one by one on reads).
        notes: what is not wrong but worth knowing (an unkeyed ledger, a key not yet used).
    """

    ok: bool
    events: int
    head: str
    problems: tuple[str, ...] = ()
    head_seq: int = 0
    key_id: str = ""
    legacy: int = 0
    notes: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    @property
    def anchor(self) -> str:
        """``SEQ:HASH`` of the last event: keep it elsewhere (a log, a ticket, a signed note).

        Pass it back as ``verify(expect_head=...)`` to detect a truncated or rebuilt ledger.
        """
        return f"{self.head_seq}:{self.head}"

    @property
    def status(self) -> str:
        """``"intact, keyed"``, ``"intact, unkeyed"`` or ``"tampered"``."""
        if not self.ok:
            return "tampered"
        return "intact, keyed" if self.key_id else "intact, unkeyed"

    def explain(self) -> str:
        """One paragraph for a person."""
        if self.ok:
            keying = f"keyed ({quotable_key_id(self.key_id)})" if self.key_id else "unkeyed"
            text = f"ledger intact: {self.events} events, head {self.anchor}, {keying}"
            return "\n".join((text, *(f"  note: {note}" for note in self.notes)))
        return f"ledger TAMPERED or damaged ({self.events} events checked):\n" + "\n".join(
            f"  - {problem}" for problem in self.problems
        )


def parse_anchor(anchor: object) -> tuple[int, str]:
    """An anchor as ``(seq, hash)``, from ``"SEQ:HASH"``, a `Head` or a pair.

    Raises:
        ConfigurationError: not such an anchor.
    """
    seq: object = -1
    digest: object = ""
    if isinstance(anchor, str):
        text, _, digest = anchor.strip().partition(":")
        seq = int(text) if text.isascii() and text.isdigit() else -1
    elif isinstance(anchor, tuple) and len(anchor) >= 2:  # noqa: PLR2004  # a Head or a pair
        seq, digest = anchor[0], anchor[1]
    if (
        type(seq) is not int
        or seq < 0
        or not isinstance(digest, str)
        or _SHA256.fullmatch(digest) is None
    ):
        raise ConfigurationError(
            "an anchor is SEQ:HASH, the head that verify() reported (Verification.anchor), "
            "e.g. 12:5d1f... with the 64 hex digits of the hash"
        )
    return seq, digest


_SHA256 = re.compile(r"[0-9a-f]{64}")


class Verifier:
    """Checks rows in order: both chains, the hashes and MACs, and a history that makes sense.

    Args:
        key: the consent key, to check MACs; without it keyed events are reported unchecked.
        anchor: ``(seq, hash)`` that the chain must pass through.
    """

    def __init__(
        self, key: ConsentKey | None = None, anchor: tuple[int, str] | None = None
    ) -> None:
        self.count = 0
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.more = 0
        self.last: tuple[int, str] = (0, GENESIS)
        self.states: dict[str, State] = {}
        self.users: dict[str, tuple[int, str, int]] = {}
        self.key = key
        self.anchor = anchor
        self.anchor_found = False
        self.keyed = 0
        self.unchecked = 0
        self.legacy = 0
        self.modern = False

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
        if not hash_matches(row):
            self.problem(f"event {row.seq} does not match its hash: it was changed")
        self._check_user_chain(row)
        self._check_key(row)
        self.last = (row.seq, row.hash)
        if self.anchor is not None and row.seq == self.anchor[0]:
            self.anchor_found = True
            if row.hash != self.anchor[1]:
                self.problem(
                    f"event {row.seq} does not match the anchor kept elsewhere: the ledger was "
                    "rewritten from there on (or the anchor is not this ledger's)"
                )
        try:
            event = event_from_row(row)
        except Exception as exc:  # noqa: BLE001  # whatever was stored: a finding, never raised
            self.problem(f"event {row.seq} cannot be read ({type(exc).__name__})")
            return
        try:
            self._check_history(event)
        except Exception as exc:  # noqa: BLE001  # ditto
            self.problem(f"event {row.seq} cannot be checked ({type(exc).__name__})")

    def _check_user_chain(self, row: Row) -> None:
        before = self.users.get(row.user_id)
        if row.legacy:
            self.legacy += 1
            if self.modern:
                self.problem(
                    f"event {row.seq} is in the old format, after events in the new one: it "
                    "was rewritten to avoid the per-user chain"
                )
        else:
            self.modern = True
            expected = GENESIS if before is None else before[1]
            if row.user_prev != expected:
                previous = "" if before is None else f" (event {before[0]})"
                self.problem(
                    f"event {row.seq} does not chain to its user's event before it{previous}: "
                    "an event of that user was removed, inserted or reordered"
                )
        self.users[row.user_id] = (row.seq, row.hash, 1 if before is None else before[2] + 1)

    def _check_key(self, row: Row) -> None:
        if not row.key_id and not row.mac:
            if self.keyed:
                self.problem(
                    f"event {row.seq} carries no MAC, after keyed events: it was written or "
                    "rewritten by someone without the key"
                )
            return
        self.keyed += 1
        if self.key is None:
            self.unchecked += 1
        elif row.key_id != self.key.key_id:
            self.problem(
                f"event {row.seq} is keyed with another key ({quotable_key_id(row.key_id)}): "
                "it was written by someone without this key"
            )
        elif not self.key.matches(row.mac, "event", row.hash):
            self.problem(
                f"event {row.seq} does not carry the key's MAC: it was changed by someone "
                "without the key"
            )

    def _check_history(self, event: ConsentEvent) -> None:
        label = f"event {event.seq} ({event.type.value})"
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
            self.problem(f"{label} refers to no earlier grant of {quotable_user(event.user_id)}")
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

    def finish(
        self,
        head: Head | tuple[int, str] | None,
        entries: Iterable[SubjectHead] | None = None,
    ) -> Verification:
        """The verdict, given the head the store holds and its index (``None``: no index)."""
        found = None if head is None else Head(*head)
        if found is None:
            self.problem("the ledger's head row is missing or malformed")
            found = Head(*self.last)
        self._check_head(found)
        if entries is not None:
            self._check_index(entries, found)
        self._check_anchor()
        if self.unchecked:
            self.problem(
                f"{self.unchecked} events are keyed ({quotable_key_id(found.key_id)}), but no "
                "key was given, so their MACs were not checked: set TWPOLICY_CONSENT_KEY"
            )
        if not found.key_id:
            if self.key is not None and found.seq:
                self.notes.append(
                    "a consent key was given, but the ledger was never sealed with it: verify "
                    "it against an anchor kept elsewhere, then ledger.seal()"
                )
            else:
                self.notes.append(
                    "unkeyed: the chain shows later changes, but whoever can write the store "
                    "could rebuild it whole; keep the anchor elsewhere, or use a consent key"
                )
        if self.legacy:
            self.notes.append(
                f"{self.legacy} events predate the per-user chain: reads check them one by one, "
                "this walk checks them all"
            )
        if self.more:
            self.problems.append(f"... and {self.more} more problems")
        key_id = found.key_id if not self.problems else ""
        digest = self.last[1] if _SHA256.fullmatch(self.last[1]) else ""  # never stored junk
        return Verification(
            not self.problems,
            self.count,
            digest,
            tuple(self.problems),
            head_seq=self.last[0],
            key_id=key_id,
            legacy=self.legacy,
            notes=tuple(self.notes),
        )

    def _check_head(self, head: Head) -> None:
        last_seq = self.last[0]
        if (head.seq, head.hash) != self.last:
            if head.seq > last_seq:
                self.problem(
                    f"the ledger's head is event {head.seq}, but the last event is {last_seq}: "
                    "events were removed from the end"
                )
            elif head.seq < last_seq:
                self.problem(
                    f"the ledger's head is event {head.seq}, but events go up to {last_seq}: "
                    "events were added without going through twpolicy"
                )
            else:
                self.problem(f"the ledger's head does not match event {last_seq}: it was changed")
        if not head.key_id:
            if self.keyed:
                self.problem(
                    "the ledger's head carries no key, but events do: the head was changed "
                    "behind twpolicy's back"
                )
            return
        if self.key is None:
            return
        if head.key_id != self.key.key_id:
            self.problem(
                f"the ledger is sealed with another key ({quotable_key_id(head.key_id)}): it "
                "was rebuilt by someone without this key, or the wrong key was given"
            )
        elif not self.key.matches(head.mac, "head", str(head.seq), head.hash):
            self.problem("the ledger's head does not carry the key's MAC: it was changed")

    def _check_index(self, entries: Iterable[SubjectHead], head: Head) -> None:
        expected = dict(self.users)
        for entry in entries:
            who = quotable_user(entry.user_id)
            have = expected.pop(entry.user_id, None)
            if have is None:
                self.problem(
                    f"the ledger's index has an entry for {who} (event {entry.seq}), who has "
                    "no events: events were removed, or the index changed"
                )
                continue
            if (entry.seq, entry.hash, entry.total) != have:
                self.problem(
                    f"the ledger's index says {who} has {entry.total} events up to event "
                    f"{entry.seq}, but the ledger holds {have[2]} up to event {have[0]}: "
                    "events were removed or added, or the index changed"
                )
            if (
                head.key_id
                and self.key is not None
                and (
                    entry.key_id != self.key.key_id
                    or not self.key.matches(
                        entry.mac,
                        "subject",
                        entry.user_id,
                        str(entry.seq),
                        entry.hash,
                        str(entry.total),
                    )
                )
            ):
                self.problem(
                    f"the ledger's index entry for {who} does not carry the key's MAC: it was "
                    "changed by someone without the key"
                )
        for user, (seq, _, _) in sorted(expected.items(), key=lambda item: item[1][0]):
            self.problem(
                f"{quotable_user(user)} has events up to event {seq} but no entry in the "
                "ledger's index: the index was changed"
            )

    def _check_anchor(self) -> None:
        if self.anchor is None or self.anchor_found:
            return
        seq = self.anchor[0]
        if seq == 0:
            if self.anchor[1] != GENESIS:
                self.problem("the anchor names event 0 with a hash other than the genesis")
            return
        self.problem(
            f"the anchor kept elsewhere names event {seq}, but the ledger ends at event "
            f"{self.last[0]}: events were removed from the end, or the ledger was replaced"
        )


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
    return "releases a claim that did not hold the record"


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
    if state.claim_until is None or state.claim_until >= HELD_UNTIL_RESOLVED:
        return "another claim held it until used or released"
    return f"another claim held it until {state.claim_until.isoformat()}"


def verify_rows(
    rows: Iterable[Row],
    head: Head | tuple[int, str] | None,
    *,
    entries: Iterable[SubjectHead] | None = None,
    key: ConsentKey | None = None,
    anchor: tuple[int, str] | None = None,
) -> Verification:
    """Verify ``rows`` (a whole ledger, in order) against the store's ``head`` and index."""
    verifier = Verifier(key, anchor)
    for row in rows:
        verifier.feed(row)
    return verifier.finish(head, entries)

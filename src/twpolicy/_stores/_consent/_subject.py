"""Reads that fail closed: a user's state is used only when their own events check out.

Every read of a user's consent goes through `SubjectView.extend`: the user's events must form
their own unbroken chain (each names the hash of the user's event before it), each must match
its hash (and, on a keyed ledger, its MAC), and the last must be the one the ledger's index
entry for the user names, with the count it gives. Otherwise `LedgerTampered` names the
event, and nothing derived from those events is used.

The check is incremental and cached by head: a `SubjectView` remembers the user's last event
and count, so when the user's entry moved on only the new events are read and checked; when
it did not move, nothing is. What a view has checked stays checked: a later change to those
rows in the store is found by the next fresh read (another process, or after eviction) and
by `Ledger.verify`, and is never used here in the meantime.

`check_head` does the same for the ledger's head: its MAC, its key, and that it never moves
back from where this process saw it (a truncation while it runs).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from twpolicy._stores._consent._errors import LedgerTampered
from twpolicy._stores._consent._events import (
    GENESIS,
    Head,
    Row,
    SubjectHead,
    event_from_row,
    hash_matches,
)
from twpolicy._stores._consent._key import ConsentKey, quotable_key_id
from twpolicy._stores._consent._state import State, apply

__all__ = ["SubjectView", "check_head", "empty_view"]


def check_head(head: Head | None, key: ConsentKey | None, seen: Head | None) -> None:
    """Check the ledger's head row against the key and the highest head this process saw.

    Raises:
        LedgerTampered: (for every user) the head is missing, moved back, keyed with another
            key or not with ours, or its MAC does not match.
    """
    if head is None:
        raise LedgerTampered(
            "the consent ledger's head row is missing or malformed.", user_id=None, seq=None
        )
    if seen is not None and (
        head.seq < seen.seq or (head.seq == seen.seq and head.hash != seen.hash)
    ):
        raise LedgerTampered(
            f"the consent ledger's head moved back from event {seen.seq} (seen by this "
            f"process) to event {head.seq}: events were removed from the end, or the ledger "
            "was replaced by an older copy.",
            user_id=None,
            seq=seen.seq,
        )
    if not head.key_id:
        if key is not None and head.seq > 0:
            raise LedgerTampered(
                f"the consent ledger holds {head.seq} events written without the consent key "
                f"(this process has {quotable_key_id(key.key_id)}): it was never sealed with "
                "the key, or was rebuilt without it. If it is an old ledger, verify it and "
                "seal it: ledger.seal().",
                user_id=None,
                seq=None,
            )
        return
    if key is None:
        raise LedgerTampered(
            f"the consent ledger is sealed with a consent key ({quotable_key_id(head.key_id)}) but "
            "this process has none, so nothing it holds can be checked: set "
            "TWPOLICY_CONSENT_KEY (or consent_key in the configuration).",
            user_id=None,
            seq=None,
        )
    if head.key_id != key.key_id:
        raise LedgerTampered(
            f"the consent ledger is sealed with another key ({quotable_key_id(head.key_id)}; this "
            f"process has {key.key_id}): it was rebuilt by someone without this key, or this "
            "process was given the wrong key.",
            user_id=None,
            seq=None,
        )
    if not key.matches(head.mac, "head", str(head.seq), head.hash):
        raise LedgerTampered(
            f"the consent ledger's head (event {head.seq}) does not carry the key's MAC: it "
            "was changed by someone without the key.",
            user_id=None,
            seq=head.seq,
        )


@attrs.frozen
class SubjectView:
    """What one user's checked events say: their open records, and how far they were checked.

    Attributes:
        user_id: whose.
        seq: their last event checked (0: none).
        hash: its hash (64 zeros: none).
        count: how many of their events were checked.
        keyed: whether one was keyed (so none after it may be unkeyed).
        modern: whether one had the per-user link (so none after it may lack it).
        states: their records that may still be active, in the order granted.
    """

    user_id: str
    seq: int = 0
    hash: str = GENESIS
    count: int = 0
    keyed: bool = False
    modern: bool = False
    states: tuple[State, ...] = ()

    def open_states(self) -> tuple[State, ...]:
        """The records that may still be active, newest first."""
        return tuple(reversed(self.states))

    def same_as(self, entry: SubjectHead | None) -> bool:
        """Whether ``entry`` names exactly the event this view ends with."""
        if entry is None:
            return self.count == 0
        return (entry.seq, entry.hash, entry.total) == (self.seq, self.hash, self.count)

    def _tampered(self, detail: str, seq: int | None) -> LedgerTampered:
        return LedgerTampered(
            f"the consent ledger's events about user {self.user_id} do not check out: {detail}",
            user_id=self.user_id,
            seq=seq,
        )

    def extend(
        self,
        head: Head,
        entry: SubjectHead | None,
        rows: Sequence[Row],
        key: ConsentKey | None,
        *,
        indexed: bool = True,
    ) -> SubjectView:
        """This view moved on to ``entry``, the user's index entry, through ``rows``.

        Args:
            head: the ledger's head, already checked with `check_head`.
            entry: the user's index entry, read after ``head`` (``None``: no events).
            rows: the user's events after ``self.seq`` up to ``entry.seq``, in order.
            key: the consent key, if any.
            indexed: whether the store keeps index entries (a ledger at schema version 1,
                read without migrating it, does not: its events are checked one by one).

        Raises:
            LedgerTampered: naming the first event that does not check out.
        """
        if not indexed:
            return self._fold(head, rows, key, strict=False)
        if entry is None:
            if self.count or rows:
                seq = self.seq if self.count else rows[0].seq
                raise self._tampered(
                    f"the ledger's index has no entry for them, yet event {seq} is theirs: "
                    "the index was changed behind twpolicy's back.",
                    seq,
                )
            return self
        self._check_entry(head, entry, key)
        if self.same_as(entry) and not rows:
            return self
        view = self._fold(head, rows, key, strict=True)
        if (view.seq, view.hash, view.count) != (entry.seq, entry.hash, entry.total):
            missing = entry.total - view.count
            if entry.seq == view.seq and entry.total == view.count:
                detail = (
                    f"event {entry.seq}, their last, does not match the ledger's index entry "
                    "for them: it was changed (and its hash recomputed)."
                )
            elif entry.seq > view.seq or missing > 0:
                detail = (
                    f"the ledger's index says their last event is event {entry.seq} and they "
                    f"have {entry.total}, but only {view.count} up to event {view.seq} are "
                    "there: events were removed."
                )
            else:
                detail = (
                    f"their events go up to event {view.seq}, but the ledger's index names "
                    f"event {entry.seq} as their last: events were added, or the index "
                    "changed, behind twpolicy's back."
                )
            raise self._tampered(detail, max(entry.seq, view.seq))
        return view

    def _check_entry(self, head: Head, entry: SubjectHead, key: ConsentKey | None) -> None:
        if entry.seq > head.seq or entry.seq < 1 or entry.total < 1:
            raise self._tampered(
                f"the ledger's index names event {entry.seq} as their last, which is not an "
                f"event of this ledger (its head is event {head.seq}).",
                entry.seq,
            )
        if entry.seq < self.seq or entry.total < self.count:
            raise self._tampered(
                f"the ledger's index moved back from event {self.seq} ({self.count} events, "
                f"checked by this process) to event {entry.seq} ({entry.total}): events were "
                "removed.",
                self.seq,
            )
        if entry.seq == self.seq and (entry.hash, entry.total) != (self.hash, self.count):
            raise self._tampered(
                f"event {entry.seq}, their last, changed since this process checked it.",
                entry.seq,
            )
        if head.key_id and key is not None:
            if entry.key_id != key.key_id or not key.matches(
                entry.mac, "subject", entry.user_id, str(entry.seq), entry.hash, str(entry.total)
            ):
                raise self._tampered(
                    f"the ledger's index entry for them (last event {entry.seq}) does not "
                    "carry the key's MAC: it was changed by someone without the key.",
                    entry.seq,
                )
        elif entry.key_id:
            raise self._tampered(
                "the ledger's index entry for them is keyed, but the ledger's head is not: "
                "the head was changed behind twpolicy's back.",
                entry.seq,
            )

    def _fold(
        self, head: Head, rows: Sequence[Row], key: ConsentKey | None, *, strict: bool
    ) -> SubjectView:
        states = {state.record.record_id: state for state in self.states}
        seq, digest, count = self.seq, self.hash, self.count
        keyed, modern = self.keyed, self.modern
        for row in rows:
            where = f"event {row.seq}"
            if row.user_id != self.user_id or row.seq <= seq or row.seq > head.seq:
                raise self._tampered(f"{where} is out of place in their history.", row.seq)
            if row.legacy:
                if modern:
                    raise self._tampered(
                        f"{where} is in the old format, after events in the new one: it was "
                        "rewritten to avoid the per-user chain.",
                        row.seq,
                    )
            else:
                modern = True
                if row.user_prev != digest:
                    raise self._tampered(
                        f"{where} does not chain to their event before it"
                        f"{f' (event {seq})' if seq else ''}: one of their events was "
                        "removed, inserted or reordered.",
                        row.seq,
                    )
            if not hash_matches(row):
                raise self._tampered(f"{where} does not match its hash: it was changed.", row.seq)
            keyed = self._check_key(row, head, key, keyed=keyed, strict=strict)
            try:
                event = event_from_row(row)
            except Exception:  # noqa: BLE001  # whatever was stored: refused, never raised as is
                raise self._tampered(f"{where} cannot be read: it was changed.", row.seq) from None
            apply(states, event)
            seq, digest, count = row.seq, row.hash, count + 1
        return SubjectView(
            self.user_id,
            seq,
            digest,
            count,
            keyed,
            modern,
            tuple(state for state in states.values() if state.ended is None),
        )

    def _check_key(
        self, row: Row, head: Head, key: ConsentKey | None, *, keyed: bool, strict: bool
    ) -> bool:
        where = f"event {row.seq}"
        if not row.key_id and not row.mac:
            if keyed and strict:
                raise self._tampered(
                    f"{where} carries no MAC, after their keyed events: it was written or "
                    "rewritten by someone without the key.",
                    row.seq,
                )
            return keyed
        if not head.key_id:
            raise self._tampered(
                f"{where} is keyed, but the ledger's head is not: the head was changed "
                "behind twpolicy's back.",
                row.seq,
            )
        if key is None:  # check_head refused a keyed ledger already
            return True
        if row.key_id != key.key_id:
            raise self._tampered(
                f"{where} is keyed with another key ({quotable_key_id(row.key_id)}): it was "
                "written by someone without this key.",
                row.seq,
            )
        if not key.matches(row.mac, "event", row.hash):
            raise self._tampered(
                f"{where} does not carry the key's MAC: it was changed by someone without the key.",
                row.seq,
            )
        return True


def empty_view(user_id: str) -> SubjectView:
    """A view of a user before any of their events were checked."""
    return SubjectView(user_id)

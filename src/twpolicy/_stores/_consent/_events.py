"""The ledger's events, as read (`ConsentEvent`) and as stored (`Row`), and the hash chains.

Each stored event carries the hash of the event before it in the ledger (one chain for the
whole ledger) and the hash of the same user's event before it (one chain per user, so that a
user's consent can be checked from their own events). `event_hash` is the one definition of
an event's hash (`legacy_hash` that of events written before the per-user chain), `chain`
numbers, hashes and, given a `ConsentKey`, MACs events about to be appended after a `Head`,
and returns the users' new index entries (`SubjectHead`). Both backends append what `chain`
computed, so the hashes are defined in Python only.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import attrs

from twpolicy._scopes import validate_scopes
from twpolicy._stores._consent._key import ConsentKey
from twpolicy._stores._consent._records import ConsentRecord, record_from_body
from twpolicy._stores._consent._values import (
    canonical,
    encode_parts,
    iso,
    iso_or_none,
    parse_time,
)
from twpolicy.exceptions import StoreUnavailable

__all__ = [
    "COLUMNS",
    "EMPTY_HEAD",
    "GENESIS",
    "LEGACY_COLUMNS",
    "Appended",
    "ConsentEvent",
    "ConsentEventType",
    "Head",
    "Pending",
    "Row",
    "SubjectHead",
    "chain",
    "event_from_row",
    "event_hash",
    "event_mac",
    "hash_matches",
    "head_from_db",
    "head_mac",
    "legacy_hash",
    "read_events",
    "row_from_db",
    "row_hash",
    "stored_fields",
    "subject_from_db",
    "subject_mac",
]

#: The hash before the first event: event 0's.
GENESIS = "0" * 64


class ConsentEventType(str, enum.Enum):
    """What an event of the ledger records."""

    GRANTED = "granted"
    """The user consented: the event carries the `ConsentRecord`."""
    REVOKED = "revoked"
    """The user withdrew some or all scopes of a record (or, with no record, opted out)."""
    EXPIRED = "expired"
    """A record's expiry passed and `Ledger.expire` noted it."""
    USED = "used"
    """The application acted on a record; a content-bound record is then spent."""
    CLAIMED = "claimed"
    """An enforcement point holds a content-bound record for one action about to happen."""
    RELEASED = "released"
    """The action a claim was held for did not happen: the record is available again."""

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class ConsentEvent:
    """One entry of the ledger, as it was appended.

    Attributes:
        seq: its position in the ledger, from 1, without gaps.
        type: what it records.
        record_id: the record it is about; ``""`` for a revoke that found no record.
        user_id: whose consent it is about.
        at: when it was appended (UTC).
        scopes: ``granted``: the record's scopes; ``revoked``: the scopes withdrawn (``None``:
            all, for an opt-out that found no record); otherwise ``None``.
        reason: ``revoked``: the reason given; ``used``: a note when the record was no
            longer active when used; ``released``: why the action did not happen;
            otherwise ``""``.
        claim: ``claimed``, ``released`` and ``used`` under a claim: the claim's ID.
        until: ``claimed``: when the claim lapses if neither used nor released
            (`HELD_UNTIL_RESOLVED`, year 9999: it holds until used or released);
            otherwise ``None``.
        closes: whether the event ends its record (nothing later can make it active).
        record: for ``granted``, the record.
        prev_hash: the hash of the event before it (64 zeros for the first).
        hash: SHA-256 over this event's contents and ``prev_hash``.
    """

    seq: int
    type: ConsentEventType
    record_id: str
    user_id: str
    at: datetime
    scopes: frozenset[str] | None = None
    reason: str = ""
    closes: bool = False
    record: ConsentRecord | None = None
    claim: str = ""
    until: datetime | None = None
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-serialisable data."""
        return {
            "seq": self.seq,
            "type": self.type.value,
            "record_id": self.record_id,
            "user_id": self.user_id,
            "at": iso(self.at),
            "scopes": None if self.scopes is None else sorted(self.scopes),
            "reason": self.reason,
            "closes": self.closes,
            "record": None if self.record is None else self.record.to_dict(),
            "claim": self.claim,
            "until": iso_or_none(self.until),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


class Row(NamedTuple):
    """An event as stored: its hash covers ``seq`` to ``body`` and the links before it.

    The hash covers ``prev_hash`` and, in format 2, ``user_prev`` and ``key_id`` too.

    ``user_prev`` is the hash of the same user's event before it (64 zeros for their first):
    each user's events form a chain of their own, checked whenever their consent is read.
    It is ``None`` for an event written by twpolicy before it kept that chain (format 1, its
    hash computed by `legacy_hash`). ``key_id`` and ``mac`` are empty when no key was in use.
    """

    seq: int
    event: str
    record_id: str
    user_id: str
    at: str
    closes: bool
    body: str
    prev_hash: str
    hash: str
    user_prev: str | None = None
    key_id: str = ""
    mac: str = ""

    @property
    def legacy(self) -> bool:
        """Written before events named the user's previous one (format 1)."""
        return self.user_prev is None


#: The stored columns, in `Row` order.
COLUMNS = (
    "seq, event, record_id, user_id, at, closes, body, prev_hash, hash, user_prev, key_id, mac"
)
#: The same, from a ledger still at schema version 1 (read-only: not migrated).
LEGACY_COLUMNS = "seq, event, record_id, user_id, at, closes, body, prev_hash, hash, NULL, '', ''"


class Head(NamedTuple):
    """The ledger's head row: its last event, and the key that sealed it (if any)."""

    seq: int
    hash: str
    key_id: str = ""
    mac: str = ""

    @property
    def anchor(self) -> str:
        """``SEQ:HASH``: keep it elsewhere to detect later a truncated or rebuilt ledger."""
        return f"{self.seq}:{self.hash}"


#: The head of an empty ledger.
EMPTY_HEAD = Head(0, GENESIS)


class SubjectHead(NamedTuple):
    """A user's entry in the ledger's index: their last event, and how many they have."""

    user_id: str
    seq: int
    hash: str
    total: int
    key_id: str = ""
    mac: str = ""


def legacy_hash(prev_hash: str, fields: Sequence[Any]) -> str:
    """Format 1: SHA-256 over the previous hash and an event's stored fields (seq to body).

    Each part is UTF-8, prefixed with its length in bytes and a colon and followed by a
    semicolon (`encode_parts`), so no part can be shifted into another without changing
    the hash.
    """
    seq, event, record_id, user_id, at, closes, body = fields
    return hashlib.sha256(
        encode_parts((prev_hash, seq, event, record_id, user_id, at, "1" if closes else "0", body))
    ).hexdigest()


#: Kept for callers of the first format's name.
row_hash = legacy_hash


def event_hash(prev_hash: str, fields: Sequence[Any], user_prev: str, key_id: str) -> str:
    """Format 2: SHA-256 over a tag, the previous hash, the fields, the user's link, the key ID.

    Each part is length-prefixed (`encode_parts`).
    """
    seq, event, record_id, user_id, at, closes, body = fields
    closed = "1" if closes else "0"
    return hashlib.sha256(
        encode_parts(
            (_TAG, prev_hash, seq, event, record_id, user_id, at, closed, body, user_prev, key_id)
        )
    ).hexdigest()


_TAG = "twpolicy-consent-event/2"


def hash_matches(row: Row) -> bool:
    """Whether the row's hash is the hash of its contents (in its format)."""
    fields = row[:7]
    if row.user_prev is None:
        return legacy_hash(row.prev_hash, fields) == row.hash
    return event_hash(row.prev_hash, fields, row.user_prev, row.key_id) == row.hash


def event_mac(key: ConsentKey, digest: str) -> str:
    """The MAC of an event: over its hash, which covers everything else."""
    return key.mac("event", digest)


def head_mac(key: ConsentKey, seq: int, digest: str) -> str:
    """The MAC of the head row."""
    return key.mac("head", str(seq), digest)


def subject_mac(key: ConsentKey, user_id: str, seq: int, digest: str, count: int) -> str:
    """The MAC of a user's index entry."""
    return key.mac("subject", user_id, str(seq), digest, str(count))


def _text(value: Any) -> str:
    """A stored text as a str, whatever type a tamperer stored (so its hash fails, quietly)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return "" if value is None else f"\udcff{value!r}"


def row_from_db(values: Sequence[Any]) -> Row:
    """A row as a database driver returned it (``closes`` as an integer).

    Never raises on contents: a value of the wrong type becomes text that cannot match the
    row's hash, so the damage is reported (by position) rather than raised (and quoted).
    """
    seq, event, record_id, user_id, at, closes, body, prev_hash, hash_, user_prev, key, mac = values
    return Row(
        seq if isinstance(seq, int) else -1,
        _text(event),
        _text(record_id),
        _text(user_id),
        _text(at),
        closes is True or closes == 1,
        _text(body) if closes in (0, 1) else f"\udcff{_text(body)}",
        _text(prev_hash),
        _text(hash_),
        None if user_prev is None else _text(user_prev),
        _text(key),
        _text(mac),
    )


def head_from_db(values: Sequence[Any] | None) -> Head | None:
    """The head row as a driver returned it; ``None`` if missing or malformed."""
    if values is None or not isinstance(values[0], int):
        return None
    return Head(values[0], _text(values[1]), _text(values[2]), _text(values[3]))


def subject_from_db(values: Sequence[Any]) -> SubjectHead:
    """A user's index entry as a driver returned it (never raises on contents)."""
    user_id, seq, digest, count, key, mac = values
    return SubjectHead(
        _text(user_id),
        seq if isinstance(seq, int) else -1,
        _text(digest),
        count if isinstance(count, int) else -1,
        _text(key),
        _text(mac),
    )


def event_from_row(row: Row) -> ConsentEvent:
    """Parse a stored row; raises on malformed contents (`Ledger.verify` names which)."""
    kind = ConsentEventType(row.event)
    body = json.loads(row.body)
    at = parse_time(row.at)
    record = None
    scopes: frozenset[str] | None = None
    if kind is ConsentEventType.GRANTED:
        record = record_from_body(row.record_id, row.user_id, at, body)
        scopes = record.scopes
    elif kind is ConsentEventType.REVOKED and body["scopes"] is not None:
        scopes = validate_scopes(body["scopes"])
    return ConsentEvent(
        seq=row.seq,
        type=kind,
        record_id=row.record_id,
        user_id=row.user_id,
        at=at,
        scopes=scopes,
        reason=str(body.get("reason", body.get("note", ""))),
        closes=row.closes,
        record=record,
        claim=str(body.get("claim", "")),
        until=parse_time(body["until"]) if body.get("until") else None,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def read_events(rows: Iterable[Row]) -> list[ConsentEvent]:
    """Parse rows read to serve a call; a damaged one fails closed, naming its position."""
    events: list[ConsentEvent] = []
    seq = 0
    try:
        for row in rows:
            seq = row.seq
            events.append(event_from_row(row))
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreUnavailable(
            f"consent ledger event {seq} cannot be read ({type(exc).__name__}); the ledger "
            "is damaged: run `twpolicy consent verify` and restore it from a backup"
        ) from None
    return events


@attrs.frozen
class Pending:
    """An event about to be appended: everything but its position and hashes."""

    event: ConsentEventType
    record_id: str
    user_id: str
    closes: bool
    body: Mapping[str, Any]


def stored_fields(
    item: Pending, seq: int, at: datetime
) -> tuple[int, str, str, str, str, bool, str]:
    """An event's stored fields, seq to body (the part of a `Row` before the hashes)."""
    body = canonical(dict(item.body))
    return (seq, item.event.value, item.record_id, item.user_id, iso(at), item.closes, body)


@attrs.frozen
class Appended:
    """Events chained after a head: the rows, the new head, and the users' new index entries."""

    rows: tuple[Row, ...]
    head: Head
    subjects: tuple[SubjectHead, ...]

    @property
    def users(self) -> frozenset[str]:
        """The users the events are about."""
        return frozenset(subject.user_id for subject in self.subjects)


def chain(
    pending: Sequence[Pending],
    at: datetime,
    head: Head,
    subjects: Mapping[str, SubjectHead | None],
    key: ConsentKey | None,
) -> Appended:
    """Number, hash (and with ``key``, MAC) ``pending`` as the events after ``head``.

    ``subjects`` holds the index entry of every user in ``pending`` (``None``: no event yet),
    which each new event links to.
    """
    key_id = "" if key is None else key.key_id
    seq, prev = head.seq, head.hash
    current = dict(subjects)
    rows = []
    for offset, item in enumerate(pending, 1):
        fields = stored_fields(item, seq + offset, at)
        before = current.get(item.user_id)
        user_prev, count = (GENESIS, 1) if before is None else (before.hash, before.total + 1)
        digest = event_hash(prev, fields, user_prev, key_id)
        mac = "" if key is None else event_mac(key, digest)
        rows.append(Row(*fields, prev, digest, user_prev, key_id, mac))
        entry_mac = "" if key is None else subject_mac(key, item.user_id, fields[0], digest, count)
        current[item.user_id] = SubjectHead(
            item.user_id, fields[0], digest, count, key_id, entry_mac
        )
        prev = digest
    last = seq + len(pending)
    new_head = Head(last, prev, key_id, "" if key is None else head_mac(key, last, prev))
    touched = tuple(
        entry
        for user, entry in current.items()
        if entry is not None and entry != subjects.get(user)
    )
    return Appended(tuple(rows), new_head, touched)

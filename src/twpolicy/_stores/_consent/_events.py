"""The ledger's events, as read (`ConsentEvent`) and as stored (`Row`), and the hash chain.

Each stored event carries the hash of the one before it: `row_hash` is the one definition of
that hash (the PostgreSQL function ``twpolicy_consent_append`` computes the very same), and
`chain` numbers and hashes events about to be appended after a head.
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
from twpolicy._stores._consent._records import ConsentRecord, record_from_body
from twpolicy._stores._consent._values import canonical, iso, iso_or_none, parse_time
from twpolicy.exceptions import StoreUnavailable

__all__ = [
    "COLUMNS",
    "GENESIS",
    "ConsentEvent",
    "ConsentEventType",
    "Pending",
    "Row",
    "chain",
    "event_from_row",
    "read_events",
    "row_from_db",
    "row_hash",
    "stored_fields",
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
        until: ``claimed``: when the claim lapses if neither used nor released (a crashed
            process cannot hold a consent for ever); otherwise ``None``.
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
    """An event as stored: the hash covers exactly these texts."""

    seq: int
    event: str
    record_id: str
    user_id: str
    at: str
    closes: bool
    body: str
    prev_hash: str
    hash: str


#: The stored columns, in `Row` order.
COLUMNS = "seq, event, record_id, user_id, at, closes, body, prev_hash, hash"


def row_hash(prev_hash: str, fields: Sequence[Any]) -> str:
    """SHA-256 over the previous hash and an event's stored fields (seq to body).

    Each part is UTF-8, prefixed with its length in bytes and a colon and followed by a
    semicolon, so no part can be shifted into another without changing the hash. The
    PostgreSQL function ``twpolicy_consent_append`` computes the very same.
    """
    seq, event, record_id, user_id, at, closes, body = fields
    digest = hashlib.sha256()
    for part in (prev_hash, str(seq), event, record_id, user_id, at, "1" if closes else "0", body):
        data = str(part).encode("utf-8")
        digest.update(b"%d:%s;" % (len(data), data))
    return digest.hexdigest()


def row_from_db(values: Sequence[Any]) -> Row:
    """A row as a database driver returned it (``closes`` as an integer)."""
    seq, event, record_id, user_id, at, closes, body, prev_hash, hash_ = values
    return Row(int(seq), event, record_id, user_id, at, bool(closes), body, prev_hash, hash_)


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


def chain(pending: Sequence[Pending], at: datetime, head: tuple[int, str]) -> list[Row]:
    """Number and hash ``pending`` as the events after ``head`` (its seq and hash)."""
    seq, prev = head
    rows = []
    for offset, item in enumerate(pending, 1):
        fields = stored_fields(item, seq + offset, at)
        digest = row_hash(prev, fields)
        rows.append(Row(*fields, prev, digest))
        prev = digest
    return rows

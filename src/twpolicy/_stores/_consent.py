"""Recorded consent: who agreed to what, when, after seeing which notice, and whether withdrawn.

Developer Policy I.C.1: a user authenticating is not consent; an application acts on a user's
behalf only with the user's express consent, and must be able to demonstrate it later (GDPR
Art. 7(1)). The ledger is an append-only log of events (granted, revoked, expired, used), each
carrying the hash of the one before it; the current state of every consent is derived from the
log, never updated in place, so a reviewer can replay it and `Ledger.verify` can tell whether
an event was changed, removed or reordered.

`open_ledger` opens one on ``memory://``, SQLite or PostgreSQL (see `twpolicy._stores._sql`).
Reads are cached per user for ``cache_ttl`` seconds; a revoke clears this process's cache at
once, and other processes see it within the TTL.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import attrs
import cachetools

from twpolicy._scopes import SCOPES, validate_scopes
from twpolicy._stores._sql import (
    Database,
    Migration,
    Schema,
    StoreURL,
    WriteConflict,
    open_database,
    parse_url,
)
from twpolicy.exceptions import ConfigurationError, StoreUnavailable

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "DEFAULT_CACHE_TTL",
    "ConsentEvent",
    "ConsentEventType",
    "ConsentLedger",
    "ConsentRecord",
    "ConsentState",
    "Ledger",
    "Notice",
    "Verification",
    "open_ledger",
    "validate_user_id",
]

#: Seconds a process may serve a user's consent from its cache before reading the store again:
#: the bound on how stale another process's revoke can look here.
DEFAULT_CACHE_TTL = 1.0

#: The version of the record format, in receipts and exports.
RECORD_SCHEMA = "twpolicy-consent/1"
RECEIPT_VERSION = "KI-CR-v1.1.0"
EXPORT_SCHEMA = "twpolicy-consent-export/1"

_GENESIS = "0" * 64
_CACHE_SIZE = 65_536
_SCAN_BATCH = 2_000
_MAX_PROBLEMS = 50
_SHA256 = re.compile(r"[0-9a-f]{64}")


# -- validation --------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise ConfigurationError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(f"naive datetime {value.isoformat()}: give a timezone")
    return value.astimezone(timezone.utc)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def validate_user_id(user_id: object) -> str:
    """Return ``user_id`` as a decimal string, refusing anything else."""
    if isinstance(user_id, bool) or not isinstance(user_id, (str, int)):
        raise ConfigurationError(f"user ID must be a decimal string, got {type(user_id).__name__}")
    text = str(user_id)
    if not text.isascii() or not text.isdigit() or text.startswith("0"):
        raise ConfigurationError(f"user ID must be a decimal string, got {text!r}")
    return text


def _sha256_or_none(what: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if value is not None and not (isinstance(value, str) and _SHA256.fullmatch(value)):
            raise ConfigurationError(f"{what} must be 64 lower-case hex digits, got {value!r}")

    return check


def _text(what: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{what} must be a non-empty string, got {value!r}")

    return check


def _optional_text(what: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigurationError(f"{what} must be a non-empty string or None, got {value!r}")

    return check


def _plain(what: str) -> Callable[[Any, Any, Any], None]:
    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if not isinstance(value, str):
            raise ConfigurationError(f"{what} must be a string, got {type(value).__name__}")

    return check


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else _iso(value)


def _parse_time(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- the record --------------------------------------------------------------------------------


@attrs.frozen
class Notice:
    """What the user was shown when they consented.

    A reviewer needs the exact text to judge the consent, so record its hash: build notices
    with `Notice.from_text` from the text you display. Anywhere a notice is expected, a plain
    string is shorthand for ``Notice(id=...)``.

    Attributes:
        id: your name for the notice (``"post-dialog"``).
        version: which wording of it (``"3"``).
        url: where the notice (or the privacy policy it belongs to) can be read.
        sha256: SHA-256 of the text shown, UTF-8, as 64 lower-case hex digits.
        language: the language it was shown in (``"en"``).
    """

    id: str = attrs.field(validator=_text("notice id"))
    version: str = attrs.field(default="", validator=_plain("notice version"))
    url: str = attrs.field(default="", validator=_plain("notice url"))
    sha256: str | None = attrs.field(default=None, validator=_sha256_or_none("notice sha256"))
    language: str = attrs.field(default="", validator=_plain("notice language"))

    @classmethod
    def from_text(
        cls, notice_id: str, text: str, *, version: str = "", url: str = "", language: str = ""
    ) -> Notice:
        """The notice ``notice_id`` whose displayed ``text`` is hashed into the record."""
        shown: object = text
        if not isinstance(shown, str) or not shown:
            raise ConfigurationError("the notice text must be a non-empty string")
        digest = hashlib.sha256(shown.encode("utf-8")).hexdigest()
        return cls(notice_id, version, url, digest, language)

    def to_dict(self) -> dict[str, Any]:
        """The notice as JSON-serialisable data."""
        return attrs.asdict(self)


def _notice(value: Notice | str) -> Notice:
    if isinstance(value, Notice):
        return value
    if isinstance(value, str):
        return Notice(value)
    raise ConfigurationError(f"notice must be a twpolicy.Notice or a string, got {value!r}")


@attrs.frozen(kw_only=True)
class ConsentRecord:
    """One grant of consent by one user for a set of scopes: what ``granted`` recorded.

    A record never changes; whether it is still in force is derived from the ledger's later
    events (`Ledger.status`).

    Attributes:
        record_id: a UUID, also the Kantara receipt's ``consentReceiptID``.
        user_id: the Twitter user ID of the person who consented, as a decimal string.
        scopes: what they consented to (names from `twpolicy.SCOPES`).
        granted_at: when it was recorded (UTC).
        notice: what they were shown (`Notice`).
        method: how consent was collected (``"ui_explicit"``, ``"reply_keyword"``, ...).
        evidence: what proves it: a request ID, an opt-in Tweet ID, a form submission ID.
        expires_at: when it lapses by itself, if ever (UTC).
        content_sha256: for a single-use consent, the hash of the exact content to publish;
            `Ledger.use` spends it.
        app_user_id: the user's ID in your application, if you want it recorded.
    """

    record_id: str = attrs.field(validator=_text("record_id"))
    user_id: str = attrs.field(converter=validate_user_id)
    scopes: frozenset[str] = attrs.field(converter=validate_scopes)
    granted_at: datetime = attrs.field(converter=_utc)
    notice: Notice = attrs.field(converter=_notice)
    method: str = attrs.field(validator=_text("method"))
    evidence: str = attrs.field(validator=_text("evidence"))
    expires_at: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    content_sha256: str | None = attrs.field(
        default=None, validator=_sha256_or_none("content_sha256")
    )
    app_user_id: str | None = attrs.field(default=None, validator=_optional_text("app_user_id"))

    def active_at(self, at: datetime) -> bool:
        """Whether ``at`` falls in the record's validity window (later events aside)."""
        return self.granted_at <= at and (self.expires_at is None or at < self.expires_at)

    def _body(self) -> dict[str, Any]:
        """The fields a ``granted`` event stores besides its ID, user and time."""
        return {
            "scopes": sorted(self.scopes),
            "notice": self.notice.to_dict(),
            "method": self.method,
            "evidence": self.evidence,
            "expires_at": _iso_or_none(self.expires_at),
            "content_sha256": self.content_sha256,
            "app_user_id": self.app_user_id,
        }

    @classmethod
    def _from_body(
        cls, record_id: str, user_id: str, granted_at: datetime, body: Mapping[str, Any]
    ) -> ConsentRecord:
        expires = body["expires_at"]
        return cls(
            record_id=record_id,
            user_id=user_id,
            scopes=body["scopes"],
            granted_at=granted_at,
            notice=Notice(**body["notice"]),
            method=body["method"],
            evidence=body["evidence"],
            expires_at=None if expires is None else _parse_time(expires),
            content_sha256=body["content_sha256"],
            app_user_id=body["app_user_id"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-serialisable data (the ``twpolicy`` part of its receipt)."""
        return {
            "schema": RECORD_SCHEMA,
            "record_id": self.record_id,
            "user_id": self.user_id,
            "granted_at": _iso(self.granted_at),
            **self._body(),
        }

    def to_receipt(
        self,
        *,
        jurisdiction: str = "",
        controller: Mapping[str, str] | None = None,
        service: str = "",
    ) -> dict[str, Any]:
        """The record as a Kantara Consent Receipt v1.1, JSON-serialisable.

        Each scope is one purpose of one service, with consent type ``EXPLICIT``. The receipt
        also carries the full record under ``"twpolicy"`` (exact times, notice, evidence), so
        `ConsentRecord.from_receipt` gives the record back.

        Args:
            jurisdiction: where the controller is (``"EU"``, ``"US-CA"``).
            controller: the ``piiControllers`` entry: ``piiController``, ``contact``,
                ``address``, ``email``, ``phone``, ``piiControllerUrl``.
            service: the name of your application.
        """
        termination = "withdrawable at any time"
        if self.expires_at is not None:
            termination += f"; expires {_iso(self.expires_at)}"
        if self.content_sha256 is not None:
            termination += f"; single use, for content sha256 {self.content_sha256}"
        return {
            "version": RECEIPT_VERSION,
            "jurisdiction": jurisdiction,
            "consentTimestamp": int(self.granted_at.timestamp()),
            "collectionMethod": self.method,
            "consentReceiptID": self.record_id,
            "language": self.notice.language,
            "piiPrincipalId": self.user_id,
            "piiControllers": [dict(controller)] if controller else [],
            "policyUrl": self.notice.url,
            "services": [
                {
                    "service": service or "Twitter API application",
                    "purposes": [
                        {
                            "purpose": SCOPES[name].description,
                            "purposeCategory": [name],
                            "consentType": "EXPLICIT",
                            "piiCategory": ["Twitter account"],
                            "primaryPurpose": True,
                            "termination": termination,
                            "thirdPartyDisclosure": False,
                            "thirdPartyName": "",
                        }
                        for name in sorted(self.scopes)
                    ],
                }
            ],
            "sensitive": False,
            "spiCat": [],
            "twpolicy": self.to_dict(),
        }

    @classmethod
    def from_receipt(cls, receipt: Mapping[str, Any]) -> ConsentRecord:
        """The record a receipt from `to_receipt` was made from.

        Raises:
            ConfigurationError: not such a receipt, or its parts disagree.
        """
        try:
            data = receipt["twpolicy"]
            if receipt["version"] != RECEIPT_VERSION or data["schema"] != RECORD_SCHEMA:
                raise ConfigurationError(
                    f"not a {RECEIPT_VERSION} receipt of a {RECORD_SCHEMA} record"
                )
            record = cls._from_body(
                data["record_id"], data["user_id"], _parse_time(data["granted_at"]), data
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"not a twpolicy consent receipt: {exc!r}") from None
        if (receipt.get("consentReceiptID"), receipt.get("piiPrincipalId")) != (
            record.record_id,
            record.user_id,
        ):
            raise ConfigurationError("the receipt's ID or principal disagrees with its record")
        return record


# -- events ------------------------------------------------------------------------------------


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
            "at": _iso(self.at),
            "scopes": None if self.scopes is None else sorted(self.scopes),
            "reason": self.reason,
            "closes": self.closes,
            "record": None if self.record is None else self.record.to_dict(),
            "claim": self.claim,
            "until": _iso_or_none(self.until),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


class _Row(NamedTuple):
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


_COLUMNS = "seq, event, record_id, user_id, at, closes, body, prev_hash, hash"


def _row_hash(prev_hash: str, fields: Sequence[Any]) -> str:
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


def _row_from_db(values: Sequence[Any]) -> _Row:
    seq, event, record_id, user_id, at, closes, body, prev_hash, hash_ = values
    return _Row(int(seq), event, record_id, user_id, at, bool(closes), body, prev_hash, hash_)


def _event_from_row(row: _Row) -> ConsentEvent:
    """Parse a stored row; raises on malformed contents (`Ledger.verify` names which)."""
    kind = ConsentEventType(row.event)
    body = json.loads(row.body)
    at = _parse_time(row.at)
    record = None
    scopes: frozenset[str] | None = None
    if kind is ConsentEventType.GRANTED:
        record = ConsentRecord._from_body(row.record_id, row.user_id, at, body)  # noqa: SLF001  # same module
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
        until=_parse_time(body["until"]) if body.get("until") else None,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


@attrs.frozen
class _Pending:
    """An event about to be appended: everything but its position and hashes."""

    event: ConsentEventType
    record_id: str
    user_id: str
    closes: bool
    body: Mapping[str, Any]


def _fields(item: _Pending, seq: int, at: datetime) -> tuple[int, str, str, str, str, bool, str]:
    """An event's stored fields, seq to body (the part of a `_Row` before the hashes)."""
    body = _canonical(dict(item.body))
    return (seq, item.event.value, item.record_id, item.user_id, _iso(at), item.closes, body)


def _chain(pending: Sequence[_Pending], at: datetime, head: tuple[int, str]) -> list[_Row]:
    seq, prev = head
    rows = []
    for offset, item in enumerate(pending, 1):
        fields = _fields(item, seq + offset, at)
        digest = _row_hash(prev, fields)
        rows.append(_Row(*fields, prev, digest))
        prev = digest
    return rows


# -- derived state -----------------------------------------------------------------------------


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
class _State:
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
        return (
            self.ended is None
            and scope in self.remaining
            and self.record.active_at(at)
            and not self.claimed_by_other(at, claims)
        )

    def at(self, at: datetime) -> ConsentState:
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


def _apply(states: dict[str, _State], event: ConsentEvent) -> None:
    """Fold one event into ``states`` (record ID to state): the one definition of state."""
    if event.type is ConsentEventType.GRANTED:
        assert event.record is not None  # noqa: S101  # _event_from_row sets it for grants
        states[event.record_id] = _State(event.record, event.record.scopes)
        return
    state = states.get(event.record_id)
    if state is None or state.ended is not None:
        return
    if event.type is ConsentEventType.REVOKED:
        remaining = state.remaining - (state.remaining if event.scopes is None else event.scopes)
        states[event.record_id] = _State(state.record, remaining, None if remaining else "revoked")
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


def _derive(events: Iterable[ConsentEvent]) -> dict[str, _State]:
    states: dict[str, _State] = {}
    for event in events:
        _apply(states, event)
    return states


# -- verification ------------------------------------------------------------------------------


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


class _Verifier:
    """Checks rows in order: the chain, the hashes, and that the history makes sense."""

    def __init__(self) -> None:
        self.count = 0
        self.problems: list[str] = []
        self.more = 0
        self.last: tuple[int, str] = (0, _GENESIS)
        self.states: dict[str, _State] = {}

    def problem(self, text: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(text)
        else:
            self.more += 1

    def feed(self, row: _Row) -> None:
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
        if _row_hash(row.prev_hash, row[:7]) != row.hash:
            self.problem(f"event {row.seq} does not match its hash: it was changed")
        self.last = (row.seq, row.hash)
        try:
            event = _event_from_row(row)
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
            _apply(self.states, event)
            return
        if event.type is ConsentEventType.REVOKED and not event.record_id:
            if event.closes:
                self.problem(f"{label} closes no record but says it does")
            return
        state = self.states.get(event.record_id)
        if state is None or state.record.user_id != event.user_id:
            self.problem(f"{label} refers to no earlier grant of user {event.user_id}")
            return
        if event.type is ConsentEventType.REVOKED and (
            state.ended is not None or event.scopes is None or not event.scopes <= state.remaining
        ):
            self.problem(f"{label} withdraws scopes the record no longer had")
        _apply(self.states, event)
        closed = self.states[event.record_id].ended is not None
        if event.type is ConsentEventType.USED and state.ended is not None:
            closed = event.closes  # a late use of an ended record changes nothing
        if closed != event.closes:
            self.problem(f"{label} says closes={event.closes}, but the history says {closed}")

    def finish(self, head: tuple[int, str]) -> Verification:
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


def _verify_rows(rows: Iterable[_Row], head: tuple[int, str]) -> Verification:
    verifier = _Verifier()
    for row in rows:
        verifier.feed(row)
    return verifier.finish(head)


# -- stores ------------------------------------------------------------------------------------


class _Tx(Protocol):
    """What the ledger needs of one transaction on a store."""

    def head(self) -> tuple[int, str]: ...

    def user_rows(self, user_id: str, *, open_only: bool) -> list[_Row]:
        """The user's events; ``open_only``: only those that shape open records."""
        ...

    def record_rows(self, record_id: str) -> list[_Row]: ...

    def open_rows(self) -> list[_Row]:
        """Every event that shapes an open record, all users."""
        ...

    def scan(self, after: int, limit: int) -> list[_Row]: ...


#: Decides what to append, from what a transaction reads: returns the time to stamp and the
#: events. Stores may call it more than once (PostgreSQL retries after losing a race), so it
#: must not have side effects.
_Plan = Callable[[_Tx], tuple[datetime, Sequence[_Pending]]]


@attrs.frozen
class _Append:
    """A plan, and whether what it appends depends on what it read (a grant's does not)."""

    plan: _Plan
    reads: bool = True


class _Store(Protocol):
    def reading(self, *, snapshot: bool = False) -> AbstractContextManager[_Tx]:
        """Reads; with ``snapshot``, all from one consistent state of the store."""
        ...

    def append(self, append: _Append) -> list[_Row]:
        """Run the plan and append its events atomically after the current head."""
        ...

    def close(self) -> None: ...


class _MemoryTx:
    def __init__(self, store: _MemoryStore) -> None:
        self._store = store

    def head(self) -> tuple[int, str]:
        rows = self._store.rows
        return (rows[-1].seq, rows[-1].hash) if rows else (0, _GENESIS)

    def _shapes_open(self, row: _Row) -> bool:
        return (
            bool(row.record_id)
            and row.event != ConsentEventType.USED.value
            and row.record_id not in self._store.closed
        )

    def user_rows(self, user_id: str, *, open_only: bool) -> list[_Row]:
        rows = (self._store.rows[i] for i in self._store.by_user.get(user_id, ()))
        return [r for r in rows if not open_only or self._shapes_open(r)]

    def record_rows(self, record_id: str) -> list[_Row]:
        return [self._store.rows[i] for i in self._store.by_record.get(record_id, ())]

    def open_rows(self) -> list[_Row]:
        return [r for r in self._store.rows if self._shapes_open(r)]

    def scan(self, after: int, limit: int) -> list[_Row]:
        return self._store.rows[after : after + limit]


class _MemoryStore:
    """Events held in this process: for tests, examples and the default guard."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.rows: list[_Row] = []
        self.by_user: dict[str, list[int]] = {}
        self.by_record: dict[str, list[int]] = {}
        self.closed: set[str] = set()

    @contextmanager
    def reading(self, *, snapshot: bool = False) -> Iterator[_Tx]:  # noqa: ARG002  # always one
        with self.lock:
            yield _MemoryTx(self)

    def append(self, append: _Append) -> list[_Row]:
        with self.lock:
            tx = _MemoryTx(self)
            at, pending = append.plan(tx)
            rows = _chain(pending, at, tx.head())
            for row in rows:
                self.by_user.setdefault(row.user_id, []).append(len(self.rows))
                self.by_record.setdefault(row.record_id, []).append(len(self.rows))
                self.rows.append(row)
                if row.closes:
                    self.closed.add(row.record_id)
            return rows

    def close(self) -> None:
        """Nothing to release."""


_T = "twpolicy_consent_events"
# Events that shape a record that may still be active: not a use (a use that ends a record
# closes it), and no event of the same record has closed it.
_OPEN = (
    "e.record_id <> '' AND e.event <> 'used' AND NOT EXISTS (SELECT 1 FROM"
    " twpolicy_consent_events c WHERE c.record_id = e.record_id AND c.closes = 1)"
)


class _SqlTx:
    def __init__(self, tx: Any) -> None:
        self._tx = tx

    def _rows(self, where: str, params: Sequence[Any], tail: str = "") -> list[_Row]:
        sql = f"SELECT {_COLUMNS} FROM {_T} e WHERE {where} ORDER BY e.seq{tail}"  # noqa: S608  # constant SQL; values are bound
        return [_row_from_db(values) for values in self._tx.all(sql, params)]

    def head(self, *, lock: bool = False) -> tuple[int, str]:
        """The last event's position and hash; ``lock``: hold them until the commit."""
        sql = "SELECT seq, hash FROM twpolicy_consent_head WHERE one = 1"
        if lock and self._tx.dialect == "postgresql":
            sql += " FOR UPDATE"  # SQLite's write lock already covers the whole file
        row = self._tx.one(sql)
        if row is None:
            raise StoreUnavailable("the consent ledger's head row is missing: run verify")
        return int(row[0]), str(row[1])

    def user_rows(self, user_id: str, *, open_only: bool) -> list[_Row]:
        where = "e.user_id = ?" + (f" AND {_OPEN}" if open_only else "")
        return self._rows(where, (user_id,))

    def record_rows(self, record_id: str) -> list[_Row]:
        return self._rows("e.record_id = ?", (record_id,))

    def open_rows(self) -> list[_Row]:
        return self._rows(_OPEN, ())

    def scan(self, after: int, limit: int) -> list[_Row]:
        return self._rows("e.seq > ?", (after, limit), " LIMIT ?")

    def insert(self, rows: Sequence[_Row]) -> None:
        """SQLite, under the write lock: insert the rows and move the head to the last."""
        self._tx.executemany(
            f"INSERT INTO {_T} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608  # constant SQL
            [(*row[:5], int(row.closes), *row[6:]) for row in rows],
        )
        self._tx.execute(
            "UPDATE twpolicy_consent_head SET seq = ?, hash = ? WHERE one = 1",
            (rows[-1].seq, rows[-1].hash),
        )

    def chain(
        self, pending: Sequence[_Pending], at: datetime, head: tuple[int, str] | None
    ) -> list[_Row]:
        """PostgreSQL: append in one statement that numbers and hashes the events itself.

        The head's row lock is held only inside that statement. With ``head``, the statement
        fails with a serialisation error if the head is no longer there: the events were
        planned from what the ledger held then.
        """
        columns = [list(c) for c in zip(*(_fields(p, 0, at) for p in pending), strict=True)]
        expected = (None, None) if head is None else head
        answer = self._tx.all(
            "SELECT * FROM twpolicy_consent_append(?::bigint, ?::text, ?::text[], ?::text[],"
            " ?::text[], ?::text[], ?::integer[], ?::text[])",
            (*expected, *columns[1:5], [int(c) for c in columns[5]], columns[6]),
        )
        rows = []
        for item, (seq, prev, digest) in zip(pending, answer, strict=True):
            fields = _fields(item, int(seq), at)
            if _row_hash(prev, fields) != digest:
                raise StoreUnavailable(
                    "the consent ledger's PostgreSQL function hashes events differently from "
                    "this twpolicy; nothing more can be verified. Check the database encoding "
                    "is UTF8 and that both run the same twpolicy version."
                )
            rows.append(_Row(*fields, prev, digest))
        return rows


class _SqlStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    @contextmanager
    def reading(self, *, snapshot: bool = False) -> Iterator[_Tx]:
        database = self._database
        with database.read() if snapshot else database.statements() as tx:
            yield _SqlTx(tx)

    def append(self, append: _Append) -> list[_Row]:
        database = self._database
        if database.dialect == "postgresql":
            rows = self._append_optimistically(append)
            if rows is not None:
                return rows
        # SQLite, and PostgreSQL after losing races: hold the head (SQLite's write lock, or
        # the head row's lock), read, decide and append. It cannot lose a race: nobody starves.
        try:
            with database.write(exclusive=False) as tx:
                sql = _SqlTx(tx)
                head = sql.head(lock=True)
                at, pending = append.plan(sql)
                if not pending:
                    return []
                if database.dialect == "postgresql":
                    return sql.chain(pending, at, head)
                rows = _chain(pending, at, head)
                sql.insert(rows)
        except WriteConflict:  # with the head held, only events beyond it can be in the way
            raise StoreUnavailable(
                f"consent ledger at {database.url.display} could not write: it holds events "
                "beyond its head, added behind twpolicy's back; run `twpolicy consent verify`. "
                "Nothing was written."
            ) from None
        return rows

    def _append_optimistically(self, append: _Append) -> list[_Row] | None:
        """PostgreSQL: append without holding a lock across round trips, if it can.

        A plan that reads nothing (a grant) is appended in one statement that cannot lose
        a race. Otherwise: read the head, then what the plan needs (so that any event the
        plan might have missed has moved the head), decide, and append in one statement
        that fails if the head moved meanwhile; a few tries, then ``None``.
        """
        for attempt in range(3):
            rows = self._attempt(append)
            if rows is not None:
                return rows
            # Let racing writers spread out: a random, growing pause.
            time.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311  # jitter, not a secret
        return None

    def _attempt(self, append: _Append) -> list[_Row] | None:
        try:
            with self._database.statements() as tx:
                sql = _SqlTx(tx)
                head = sql.head() if append.reads else None
                at, pending = append.plan(sql)
                return sql.chain(pending, at, head) if pending else []
        except WriteConflict:
            return None

    def close(self) -> None:
        self._database.close()


_EVENTS_TABLE = (
    "CREATE TABLE twpolicy_consent_events (seq {seq} PRIMARY KEY, event TEXT NOT NULL,"
    " record_id TEXT NOT NULL, user_id TEXT NOT NULL, at TEXT NOT NULL,"
    " closes INTEGER NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
)
_HEAD_TABLE = (
    "CREATE TABLE twpolicy_consent_head (one INTEGER PRIMARY KEY CHECK (one = 1),"
    " seq {seq} NOT NULL, hash TEXT NOT NULL)"
)
_INDEXES = (
    "CREATE INDEX twpolicy_consent_events_by_user ON twpolicy_consent_events (user_id, seq)",
    "CREATE INDEX twpolicy_consent_events_by_record ON twpolicy_consent_events (record_id, closes)",
    # The head starts at the genesis: event 0, whose hash is 64 zeros (_GENESIS).
    (
        "INSERT INTO twpolicy_consent_head (one, seq, hash) VALUES (1, 0,"
        " '0000000000000000000000000000000000000000000000000000000000000000')"
    ),
)
# The store refuses to change or delete events, so that only a deliberate act (dropping the
# trigger) can; `Ledger.verify` detects what such an act did.
SCHEMA = Schema(
    component="consent",
    what="consent ledger",
    migrations=(
        Migration(
            sqlite=(
                _EVENTS_TABLE.format(seq="INTEGER"),
                _HEAD_TABLE.format(seq="INTEGER"),
                *_INDEXES,
                (
                    "CREATE TRIGGER twpolicy_consent_events_no_update BEFORE UPDATE ON"
                    " twpolicy_consent_events BEGIN"
                    " SELECT RAISE(ABORT, 'twpolicy consent events are append-only'); END"
                ),
                (
                    "CREATE TRIGGER twpolicy_consent_events_no_delete BEFORE DELETE ON"
                    " twpolicy_consent_events BEGIN"
                    " SELECT RAISE(ABORT, 'twpolicy consent events are append-only'); END"
                ),
            ),
            postgresql=(
                _EVENTS_TABLE.format(seq="BIGINT"),
                _HEAD_TABLE.format(seq="BIGINT"),
                *_INDEXES,
                (
                    "CREATE FUNCTION twpolicy_consent_append_only() RETURNS trigger"
                    " LANGUAGE plpgsql AS $$"
                    " BEGIN RAISE EXCEPTION 'twpolicy consent events are append-only'; END $$"
                ),
                (
                    "CREATE TRIGGER twpolicy_consent_events_no_change BEFORE UPDATE OR DELETE"
                    " ON twpolicy_consent_events"
                    " FOR EACH ROW EXECUTE FUNCTION twpolicy_consent_append_only()"
                ),
                (
                    "CREATE TRIGGER twpolicy_consent_events_no_truncate BEFORE TRUNCATE"
                    " ON twpolicy_consent_events"
                    " FOR EACH STATEMENT EXECUTE FUNCTION twpolicy_consent_append_only()"
                ),
                # One event's part of the hash material: see _row_hash.
                (
                    "CREATE FUNCTION twpolicy_consent_part(part TEXT) RETURNS bytea"
                    " LANGUAGE sql IMMUTABLE STRICT AS $$"
                    " SELECT convert_to(octet_length(convert_to(part, 'UTF8'))::text || ':',"
                    " 'UTF8') || convert_to(part, 'UTF8') || convert_to(';', 'UTF8') $$"
                ),
                # Append events after the head, numbering and hashing them, in one statement;
                # with an expected head, only if the head is still there.
                (
                    "CREATE FUNCTION twpolicy_consent_append(expected_seq BIGINT,"
                    " expected_hash TEXT, events TEXT[], record_ids TEXT[], user_ids TEXT[],"
                    " ats TEXT[], closes INTEGER[], bodies TEXT[])"
                    " RETURNS TABLE (new_seq BIGINT, new_prev TEXT, new_hash TEXT)"
                    " LANGUAGE plpgsql AS $$"
                    " DECLARE head_seq BIGINT; head_hash TEXT; i INTEGER; BEGIN"
                    " SELECT h.seq, h.hash INTO head_seq, head_hash"
                    " FROM twpolicy_consent_head h WHERE h.one = 1 FOR UPDATE;"
                    " IF expected_seq IS NOT NULL AND"
                    " (head_seq <> expected_seq OR head_hash <> expected_hash) THEN"
                    " RAISE EXCEPTION 'the consent ledger moved on'"
                    " USING ERRCODE = 'serialization_failure'; END IF;"
                    " FOR i IN 1 .. cardinality(events) LOOP"
                    " new_seq := head_seq + i; new_prev := head_hash;"
                    " new_hash := encode(sha256(twpolicy_consent_part(new_prev)"
                    " || twpolicy_consent_part(new_seq::text) || twpolicy_consent_part(events[i])"
                    " || twpolicy_consent_part(record_ids[i]) || twpolicy_consent_part(user_ids[i])"
                    " || twpolicy_consent_part(ats[i]) || twpolicy_consent_part(closes[i]::text)"
                    " || twpolicy_consent_part(bodies[i])), 'hex');"
                    " INSERT INTO twpolicy_consent_events"
                    " (seq, event, record_id, user_id, at, closes, body, prev_hash, hash)"
                    " VALUES (new_seq, events[i], record_ids[i], user_ids[i], ats[i], closes[i],"
                    " bodies[i], new_prev, new_hash);"
                    " head_hash := new_hash; RETURN NEXT; END LOOP;"
                    " UPDATE twpolicy_consent_head h SET seq = head_seq + cardinality(events),"
                    " hash = head_hash WHERE h.one = 1; END $$"
                ),
            ),
        ),
    ),
)


# -- the ledger --------------------------------------------------------------------------------


class ConsentLedger(Protocol):
    """What the guard needs of a consent store: `Ledger` is one; a custom one may do."""

    def check(
        self,
        user_id: str,
        scope: str,
        *,
        content_sha256: str | None = None,
        at: datetime | None = None,
    ) -> ConsentRecord | None:
        """Return the active record that covers ``scope`` for ``user_id``, or ``None``."""
        ...


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Ledger:
    """The append-only consent ledger: record, withdraw, check and demonstrate consent.

    Open one with `twpolicy.open_ledger`. Thread-safe, and safe to share between processes
    through SQLite or PostgreSQL. Every write is one transaction: it is durable when the call
    returns, and a failed call wrote nothing.
    """

    def __init__(
        self,
        store: _Store,
        url: StoreURL,
        *,
        cache_ttl: float,
        clock: Callable[[], datetime],
        timer: Callable[[], float],
    ) -> None:
        self._store = store
        self._url = url
        self._clock = clock
        self._cache_ttl = cache_ttl
        self._cache: cachetools.TTLCache[str, tuple[_State, ...]] | None = (
            cachetools.TTLCache(_CACHE_SIZE, cache_ttl, timer=timer) if cache_ttl > 0 else None
        )
        self._cache_lock = threading.Lock()
        self._generation = 0

    def __repr__(self) -> str:
        return f"twpolicy.Ledger({self._url.display!r}, cache_ttl={self._cache_ttl:g})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The ledger's URL, any password hidden."""
        return self._url.display

    @property
    def cache_ttl(self) -> float:
        """Seconds a user's consent is served from this process's cache."""
        return self._cache_ttl

    def close(self) -> None:
        """Release the connection; a later call reconnects."""
        self._store.close()

    def _now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo is timezone.utc else _utc(now)

    def _forget(self, user_ids: Iterable[str]) -> None:
        """After a write: this process's next check of these users reads the store."""
        with self._cache_lock:
            self._generation += 1
            if self._cache is not None:
                for user_id in user_ids:
                    self._cache.pop(user_id, None)

    def _append(self, plan: _Plan, *, reads: bool = True) -> list[ConsentEvent]:
        events = _events(self._store.append(_Append(plan, reads=reads)))
        self._forget({event.user_id for event in events})
        return events

    def _open_states(self, user_id: str) -> tuple[_State, ...]:
        """The user's records that may still be active, newest first; cached."""
        cache = self._cache
        generation = 0
        if cache is not None:
            with self._cache_lock:
                generation = self._generation
                try:
                    return cache[user_id]  # cheaper than get(): that checks expiry twice
                except KeyError:
                    pass
        uid = validate_user_id(user_id)
        with self._store.reading() as tx:
            rows = tx.user_rows(uid, open_only=True)
        states = tuple(s for s in reversed(_derive(_events(rows)).values()) if s.ended is None)
        if cache is not None:
            with self._cache_lock:
                if generation == self._generation:
                    cache[uid] = states
        return states

    def grant(
        self,
        user_id: str | int,
        scopes: Iterable[str] | str,
        *,
        notice: Notice | str,
        method: str,
        evidence: str,
        expires_at: datetime | None = None,
        content_sha256: str | None = None,
        app_user_id: str | None = None,
    ) -> ConsentRecord:
        """Record that ``user_id`` consented to ``scopes`` after seeing ``notice``.

        Args:
            user_id: the Twitter user ID, as a decimal string (or int).
            scopes: names from `twpolicy.SCOPES` (one name or several).
            notice: what the user was shown: a `Notice` (best: `Notice.from_text`), or its
                ID as a string.
            method: how consent was collected (``"ui_explicit"``, ``"reply_keyword"``,
                ``"dm_keyword"``, ``"signup_handle_share"``, ...).
            evidence: what proves it (a request ID, the opt-in Tweet's ID, ...).
            expires_at: when it lapses by itself (timezone-aware, in the future).
            content_sha256: bind the consent to this exact content, for one use.
            app_user_id: the user's ID in your application.

        Returns:
            The record, already durable.

        Raises:
            ConfigurationError: a bad user ID, scope, notice, datetime or hash; nothing is
                recorded.
            StoreUnavailable: the store cannot be written; nothing is recorded.
        """
        record = ConsentRecord(
            record_id=str(uuid.uuid4()),
            user_id=user_id,
            scopes=scopes,
            granted_at=self._now(),
            notice=notice,
            method=method,
            evidence=evidence,
            expires_at=expires_at,
            content_sha256=content_sha256,
            app_user_id=app_user_id,
        )

        def plan(_tx: _Tx) -> tuple[datetime, list[_Pending]]:
            now = self._now()
            if record.expires_at is not None and record.expires_at <= now:
                raise ConfigurationError(
                    f"expires_at {_iso(record.expires_at)} is not in the future; nothing recorded"
                )
            body = record._body()  # noqa: SLF001  # same module
            closes = False  # a grant never closes its record
            return now, [
                _Pending(ConsentEventType.GRANTED, record.record_id, record.user_id, closes, body)
            ]

        (event,) = self._append(plan, reads=False)
        return attrs.evolve(record, granted_at=event.at)

    def revoke(
        self, user_id: str | int, scopes: Iterable[str] | str | None = None, *, reason: str = ""
    ) -> tuple[ConsentEvent, ...]:
        """Withdraw ``user_id``'s consent for ``scopes`` (every scope when ``None``), now.

        Every record that covers a withdrawn scope gets a ``revoked`` event. When none does,
        one ``revoked`` event without a record is appended anyway, so an opt-out is on the
        record even when there was nothing to withdraw. This process's cache forgets the user
        at once; other processes see the revoke within their ``cache_ttl``.

        Returns:
            The events appended.

        Raises:
            ConfigurationError: a bad user ID, scope or reason; nothing is recorded.
            StoreUnavailable: the store cannot be written; nothing is recorded.
        """
        uid = validate_user_id(user_id)
        wanted = None if scopes is None else validate_scopes(scopes)
        if not isinstance(reason, str):
            raise ConfigurationError(f"reason must be a string, got {type(reason).__name__}")

        def plan(tx: _Tx) -> tuple[datetime, list[_Pending]]:
            pending = []
            for state in _derive(_events(tx.user_rows(uid, open_only=True))).values():
                hit = state.remaining if wanted is None else state.remaining & wanted
                if state.ended is None and hit:
                    pending.append(
                        _Pending(
                            ConsentEventType.REVOKED,
                            state.record.record_id,
                            uid,
                            not state.remaining - hit,
                            {"scopes": sorted(hit), "reason": reason},
                        )
                    )
            if not pending:  # an opt-out with nothing to withdraw is recorded all the same
                listed = None if wanted is None else sorted(wanted)
                closes = False  # there is no record to close
                body = {"scopes": listed, "reason": reason}
                pending.append(_Pending(ConsentEventType.REVOKED, "", uid, closes, body))
            return self._now(), pending

        return tuple(self._append(plan))

    def use(self, record_id: str, *, claim: str | None = None) -> ConsentEvent:
        """Record that the application acted on ``record_id``.

        A content-bound record (``content_sha256``) is single-use: once used, `check` no
        longer returns it. Enforcement points claim such a record before acting (`claim`)
        and use it under that claim once the action succeeded. A use of a record that was no
        longer active is recorded too, with a note, except for a content-bound record:
        spending it twice, or while another live claim holds it, is refused.

        Raises:
            ConfigurationError: there is no such record, or it is content-bound and already
                spent, revoked, expired or claimed by someone else.
            StoreUnavailable: the store cannot be written.
        """
        if not record_id:
            raise ConfigurationError(f"record_id must be a non-empty string, got {record_id!r}")
        mine = frozenset() if claim is None else frozenset((claim,))

        def plan(tx: _Tx) -> tuple[datetime, list[_Pending]]:
            now = self._now()
            state = _derive(_events(tx.record_rows(record_id))).get(record_id)
            if state is None:
                raise ConfigurationError(f"the consent ledger has no record {record_id!r}")
            active = state.ended is None and state.record.active_at(now)
            bound = state.record.content_sha256 is not None
            if bound and active and state.claimed_by_other(now, mine):
                raise ConfigurationError(
                    f"consent record {record_id} is bound to one post and another action "
                    "holds it; record a new consent for this content"
                )
            if bound and not active:
                # Single use is checked here, inside the append's lock, so two processes
                # that both passed `check` cannot both spend the same consent.
                raise ConfigurationError(
                    f"consent record {record_id} is bound to one post and is no longer "
                    f"active ({state.at(now).status}); record a new consent for this content"
                )
            note = "" if active else f"record was not active when used ({state.at(now).status})"
            user = state.record.user_id
            body = {"note": note} if claim is None else {"note": note, "claim": claim}
            return now, [_Pending(ConsentEventType.USED, record_id, user, bound, body)]

        (event,) = self._append(plan)
        return event

    def claim(self, record_id: str, claim: str, *, until: datetime) -> bool:
        """Hold a content-bound record for one action about to happen; ``False`` if lost.

        Inside the append's lock, so of several processes claiming one single-use consent
        exactly one wins. The holder then `use`s it under ``claim`` when the action
        succeeded, or `release_claim`s it when it did not; a claim neither used nor released
        lapses at ``until`` (a crashed process cannot hold a consent for ever).

        Raises:
            ConfigurationError: a bad record ID or claim, or a record that is not
                content-bound (only single-use consents are claimed).
            StoreUnavailable: the store cannot be written.
        """
        if not record_id or not claim:
            raise ConfigurationError("claim needs a record ID and a claim ID")
        lapse = _utc(until)
        lost: list[bool] = []

        def plan(tx: _Tx) -> tuple[datetime, list[_Pending]]:
            lost.clear()
            now = self._now()
            state = _derive(_events(tx.record_rows(record_id))).get(record_id)
            if state is None:
                raise ConfigurationError(f"the consent ledger has no record {record_id!r}")
            if state.record.content_sha256 is None:
                raise ConfigurationError(f"consent record {record_id} is not single-use")
            mine = frozenset((claim,))
            if (
                state.ended is not None
                or not state.record.active_at(now)
                or state.claimed_by_other(now, mine)
            ):
                lost.append(True)
                return now, []
            body = {"claim": claim, "until": _iso(lapse)}
            user = state.record.user_id
            closes = False  # a claim ends nothing: it is used or released later
            return now, [_Pending(ConsentEventType.CLAIMED, record_id, user, closes, body)]

        self._append(plan)
        return not lost

    def release_claim(self, record_id: str, claim: str, *, reason: str = "") -> bool:
        """Give back a claim whose action did not happen; ``False`` if it was not held."""

        def plan(tx: _Tx) -> tuple[datetime, list[_Pending]]:
            now = self._now()
            state = _derive(_events(tx.record_rows(record_id))).get(record_id)
            if state is None or state.ended is not None or state.claim != claim:
                return now, []
            body = {"claim": claim, "reason": reason}
            user = state.record.user_id
            closes = False  # the record is available again
            return now, [_Pending(ConsentEventType.RELEASED, record_id, user, closes, body)]

        return bool(self._append(plan))

    def expire(self) -> tuple[ConsentEvent, ...]:
        """Append an ``expired`` event for every record whose expiry has passed.

        Expiry takes effect without it (`check` compares times); the event puts the lapse
        on the record for reviewers. Run it from a periodic job.
        """

        def plan(tx: _Tx) -> tuple[datetime, list[_Pending]]:
            now = self._now()
            closes = True  # an expiry ends its record
            return now, [
                _Pending(ConsentEventType.EXPIRED, rid, state.record.user_id, closes, {})
                for rid, state in _derive(_events(tx.open_rows())).items()
                if state.ended is None
                and state.record.expires_at is not None
                and state.record.expires_at <= now
            ]

        return tuple(self._append(plan))

    def check(
        self,
        user_id: str,
        scope: str,
        *,
        content_sha256: str | None = None,
        at: datetime | None = None,
        claims: frozenset[str] = frozenset(),
    ) -> ConsentRecord | None:
        """Return the newest active record covering ``scope`` for ``user_id``, or ``None``.

        A record bound to content covers only that content (``content_sha256``), and is
        preferred to a general one, so that using it spends it; one that another action
        holds (a live claim not in ``claims``) covers nothing. Revocations, uses and expiry
        events count whatever ``at`` is; ``at`` (default: now) is compared with each record's
        validity window.

        Raises:
            ConfigurationError: a bad user ID, scope or datetime.
            StoreUnavailable: the store cannot be read (and the cache has nothing fresh).
        """
        if scope not in SCOPES:
            validate_scopes([scope])
        if at is None:
            when = self._now()
        elif at.tzinfo is not timezone.utc and (at.tzinfo is None or at.utcoffset() is None):
            when = _utc(at)  # raises
        else:
            when = at
        if type(user_id) is not str:
            user_id = validate_user_id(user_id)
        general = None
        for state in self._open_states(user_id):
            if state.covers(scope, when, claims):
                bound = state.record.content_sha256
                if bound is None:
                    general = general or state.record
                elif bound == content_sha256:
                    return state.record
        return general

    def status(self, user_id: str | int, *, at: datetime | None = None) -> tuple[ConsentState, ...]:
        """Where each of the user's records stands at ``at`` (default: now), oldest first."""
        uid = validate_user_id(user_id)
        when = self._now() if at is None else _utc(at)
        return tuple(state.at(when) for state in _derive(self.history(uid)).values())

    def history(self, user_id: str | int) -> tuple[ConsentEvent, ...]:
        """Every event about ``user_id``, in ledger order."""
        uid = validate_user_id(user_id)
        with self._store.reading() as tx:
            rows = tx.user_rows(uid, open_only=False)
        return tuple(_events(rows))

    def events(self, *, after: int = 0) -> Iterator[ConsentEvent]:
        """Every event with ``seq`` greater than ``after``, in ledger order, read in batches."""
        while True:
            with self._store.reading() as tx:
                rows = tx.scan(after, _SCAN_BATCH)
            yield from _events(rows)
            if len(rows) < _SCAN_BATCH:
                return
            after = rows[-1].seq

    def verify(self, *, progress: Callable[[int], None] | None = None) -> Verification:
        """Check that no event was changed, removed, inserted or reordered.

        Walks the whole ledger in one consistent snapshot: every hash, every link to the
        event before, the head, and that each event makes sense after the ones before it.

        Args:
            progress: called with the number of events checked so far, after each batch.
        """
        verifier = _Verifier()
        with self._store.reading(snapshot=True) as tx:
            head = tx.head()
            after = 0
            while True:
                rows = tx.scan(after, _SCAN_BATCH)
                for row in rows:
                    verifier.feed(row)
                if progress is not None:
                    progress(verifier.count)
                if len(rows) < _SCAN_BATCH:
                    break
                after = rows[-1].seq
        return verifier.finish(head)

    def export_subject(self, user_id: str | int) -> dict[str, Any]:
        """Everything the ledger holds about ``user_id``, JSON-serialisable.

        For a data subject's access request (GDPR Art. 15) or a reviewer: each record with
        its status and Kantara receipt, and every event in order.
        """
        uid = validate_user_id(user_id)
        events = self.history(uid)
        now = self._now()
        states = _derive(events).values()
        return {
            "schema": EXPORT_SCHEMA,
            "exported_at": _iso(now),
            "ledger": self._url.display,
            "subject": {
                "twitter_user_id": uid,
                "app_user_ids": sorted(
                    {s.record.app_user_id for s in states if s.record.app_user_id is not None}
                ),
            },
            "records": [
                {
                    "status": current.status,
                    "active_scopes": sorted(current.active_scopes),
                    "revoked_scopes": sorted(current.revoked_scopes),
                    "receipt": current.record.to_receipt(),
                }
                for current in (state.at(now) for state in states)
            ],
            "events": [event.to_dict() for event in events],
        }


def _events(rows: Iterable[_Row]) -> list[ConsentEvent]:
    events: list[ConsentEvent] = []
    seq = 0
    try:
        for row in rows:
            seq = row.seq
            events.append(_event_from_row(row))
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreUnavailable(
            f"consent ledger event {seq} cannot be read ({type(exc).__name__}); the ledger "
            "is damaged: run `twpolicy consent verify` and restore it from a backup"
        ) from None
    return events


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"cache_ttl must be a number of seconds, got {value!r}")
    if math.isnan(value) or value < 0:
        raise ConfigurationError(f"cache_ttl must be seconds >= 0, got {value!r}")
    return float(value)


def open_ledger(
    url: str,
    *,
    cache_ttl: float | None = None,
    create: bool = True,
    clock: Callable[[], datetime] | None = None,
    timer: Callable[[], float] | None = None,
) -> Ledger:
    """Open the consent ledger at ``url``.

    Args:
        url: ``memory://`` (this process only), ``sqlite:///relative/path.db`` or
            ``sqlite:////absolute/path.db`` (the embedded default), or
            ``postgresql://user@host:port/dbname`` (needs ``twpolicy[postgresql]``).
            Query options: ``cache_ttl``, ``timeout`` (seconds a write waits for another),
            ``schema`` (PostgreSQL).
        cache_ttl: seconds a user's consent may be served from this process's cache, so the
            longest another process's revoke can go unseen here; 0 disables the cache.
            Default: the URL's ``cache_ttl``, else 1 s (for ``memory://``, which no other
            process can write, the cache never goes stale and is kept until a write).
        create: whether a ledger that does not exist yet may be created.
        clock: returns the current time (timezone-aware); events are stamped with it.
        timer: the cache's monotonic clock, in seconds; tests pass a fake one.

    Raises:
        ConfigurationError: the URL or an option is malformed, or names an unknown backend.
        StoreUnavailable: the store cannot be reached, is corrupt, or has a newer schema.
    """
    parsed = parse_url(url, what="consent ledger", options=("cache_ttl",))
    from_url = parsed.options.get("cache_ttl")
    if cache_ttl is not None and from_url is not None:
        raise ConfigurationError(
            f"cache_ttl is given twice, by the URL {parsed.display!r} and by the argument; "
            "give it once"
        )
    if cache_ttl is None:
        default = math.inf if parsed.scheme == "memory" else DEFAULT_CACHE_TTL
        ttl = parsed.number("cache_ttl", default)
    else:
        ttl = _seconds(cache_ttl)
    store: _Store = (
        _MemoryStore()
        if parsed.scheme == "memory"
        else _SqlStore(open_database(parsed, SCHEMA, create=create))
    )
    return Ledger(
        store,
        parsed,
        cache_ttl=ttl,
        clock=clock or _utcnow,
        timer=timer or time.monotonic,
    )

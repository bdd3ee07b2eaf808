"""Recorded consent: who agreed to what, when, after seeing which notice.

Developer Policy I.C.1: a user authenticating is not consent; an application acts on a user's
behalf only with the user's express consent, recorded so that it can be demonstrated later.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Protocol

import attrs

from twpolicy._scopes import validate_scopes
from twpolicy.exceptions import ConfigurationError

__all__ = ["ConsentLedger", "ConsentRecord", "MemoryLedger", "open_ledger"]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(f"naive datetime {value.isoformat()}: give a timezone")
    return value.astimezone(timezone.utc)


def validate_user_id(user_id: object) -> str:
    """Return ``user_id`` as a decimal string, refusing anything else."""
    if isinstance(user_id, bool) or not isinstance(user_id, (str, int)):
        raise ConfigurationError(f"user ID must be a decimal string, got {type(user_id).__name__}")
    text = str(user_id)
    if not text.isascii() or not text.isdigit() or text.startswith("0"):
        raise ConfigurationError(f"user ID must be a decimal string, got {text!r}")
    return text


@attrs.frozen(kw_only=True)
class ConsentRecord:
    """One grant of consent by one user for a set of scopes."""

    record_id: str
    user_id: str
    scopes: frozenset[str]
    granted_at: datetime
    notice: str
    method: str
    evidence: str
    expires_at: datetime | None = None
    content_sha256: str | None = None

    def active_at(self, at: datetime) -> bool:
        """Whether the record is within its validity window at ``at`` (revocation aside)."""
        return self.granted_at <= at and (self.expires_at is None or at < self.expires_at)


class ConsentLedger(Protocol):
    """What the guard needs of a consent store."""

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


class MemoryLedger:
    """A consent ledger held in this process only: for tests and the default guard."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, list[ConsentRecord]] = {}

    def grant(
        self,
        user_id: str | int,
        scopes: Iterable[str] | str,
        *,
        notice: str,
        method: str,
        evidence: str,
        expires_at: datetime | None = None,
        content_sha256: str | None = None,
        at: datetime | None = None,
    ) -> ConsentRecord:
        """Record that ``user_id`` consented to ``scopes`` after seeing ``notice``."""
        now = _utc(at) if at is not None else datetime.now(timezone.utc)
        if expires_at is not None and _utc(expires_at) <= now:
            raise ConfigurationError("expires_at is not in the future")
        record = ConsentRecord(
            record_id=str(uuid.uuid4()),
            user_id=validate_user_id(user_id),
            scopes=validate_scopes(scopes),
            granted_at=now,
            notice=notice,
            method=method,
            evidence=evidence,
            expires_at=None if expires_at is None else _utc(expires_at),
            content_sha256=content_sha256,
        )
        with self._lock:
            self._records.setdefault(record.user_id, []).append(record)
        return record

    def revoke(self, user_id: str | int, scopes: Iterable[str] | str | None = None) -> int:
        """Withdraw ``user_id``'s consent for ``scopes`` (all when ``None``); return how many."""
        uid = validate_user_id(user_id)
        wanted = None if scopes is None else validate_scopes(scopes)
        with self._lock:
            kept = []
            removed = 0
            for record in self._records.get(uid, []):
                if wanted is None or record.scopes & wanted:
                    removed += 1
                    rest = record.scopes - wanted if wanted is not None else frozenset()
                    if rest:
                        kept.append(attrs.evolve(record, scopes=rest))
                else:
                    kept.append(record)
            self._records[uid] = kept
        return removed

    def check(
        self,
        user_id: str,
        scope: str,
        *,
        content_sha256: str | None = None,
        at: datetime | None = None,
    ) -> ConsentRecord | None:
        """Return the newest active record covering ``scope``, or ``None``."""
        when = _utc(at) if at is not None else datetime.now(timezone.utc)
        with self._lock:
            records = list(self._records.get(user_id, ()))
        for record in reversed(records):
            if scope not in record.scopes or not record.active_at(when):
                continue
            if record.content_sha256 is None or record.content_sha256 == content_sha256:
                return record
        return None


def open_ledger(url: str) -> MemoryLedger:
    """Open the consent ledger at ``url`` (``memory://``)."""
    if url == "memory://":
        return MemoryLedger()
    raise ConfigurationError(f"unknown consent ledger URL {url!r}; expected 'memory://'")

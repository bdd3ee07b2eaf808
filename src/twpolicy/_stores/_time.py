"""Time as both ledgers take it: timezone-aware, converted to UTC, naive refused."""

from __future__ import annotations

from datetime import datetime, timezone

from twpolicy.exceptions import ConfigurationError

__all__ = ["utc", "utc_or_none", "utcnow"]


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is refused rather than guessed at."""
    if not isinstance(value, datetime):
        raise ConfigurationError(f"expected a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(f"naive datetime {value.isoformat()}: give a timezone")
    return value.astimezone(timezone.utc)


def utc_or_none(value: datetime | None) -> datetime | None:
    """`utc`, letting ``None`` through."""
    return None if value is None else utc(value)


def utcnow() -> datetime:
    """The current time, in UTC: the ledgers' default clock."""
    return datetime.now(timezone.utc)

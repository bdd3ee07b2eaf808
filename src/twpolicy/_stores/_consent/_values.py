"""The values a consent record is made of, checked: user IDs, text, hashes and times as stored."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from twpolicy._stores._time import utc
from twpolicy.exceptions import ConfigurationError

__all__ = [
    "canonical",
    "is_optional_text",
    "is_sha256_or_none",
    "is_string",
    "is_text",
    "iso",
    "iso_or_none",
    "parse_time",
    "validate_user_id",
]

_SHA256 = re.compile(r"[0-9a-f]{64}")


def validate_user_id(user_id: object) -> str:
    """Return ``user_id`` as a decimal string, refusing anything else."""
    if isinstance(user_id, bool) or not isinstance(user_id, (str, int)):
        raise ConfigurationError(f"user ID must be a decimal string, got {type(user_id).__name__}")
    text = str(user_id)
    if not text.isascii() or not text.isdigit() or text.startswith("0"):
        raise ConfigurationError(f"user ID must be a decimal string, got {text!r}")
    return text


def is_sha256_or_none(what: str) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: 64 lower-case hex digits, or ``None``."""

    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if value is not None and not (isinstance(value, str) and _SHA256.fullmatch(value)):
            raise ConfigurationError(f"{what} must be 64 lower-case hex digits, got {value!r}")

    return check


def is_text(what: str) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: a string that is not blank."""

    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"{what} must be a non-empty string, got {value!r}")

    return check


def is_optional_text(what: str) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: a string that is not blank, or ``None``."""

    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigurationError(f"{what} must be a non-empty string or None, got {value!r}")

    return check


def is_string(what: str) -> Callable[[Any, Any, Any], None]:
    """An attrs validator: any string, empty included."""

    def check(_instance: Any, _attribute: Any, value: Any) -> None:
        if not isinstance(value, str):
            raise ConfigurationError(f"{what} must be a string, got {type(value).__name__}")

    return check


def iso(value: datetime) -> str:
    """A time as the ledger stores it: UTC, to the microsecond (the hash covers this text)."""
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def iso_or_none(value: datetime | None) -> str | None:
    """`iso`, letting ``None`` through."""
    return None if value is None else iso(value)


def parse_time(text: str) -> datetime:
    """A time stored by `iso`, back as an aware UTC datetime."""
    return utc(datetime.fromisoformat(text))


def canonical(value: Any) -> str:
    """JSON with sorted keys and no spaces: one text per value, so its hash is stable."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

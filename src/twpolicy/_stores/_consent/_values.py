"""The values a consent record is made of, checked: user IDs, text, hashes and times as stored."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from twpolicy._stores._time import utc
from twpolicy.exceptions import ConfigurationError

__all__ = [
    "canonical",
    "encode_parts",
    "is_optional_text",
    "is_sha256_or_none",
    "is_string",
    "is_text",
    "iso",
    "iso_or_none",
    "parse_time",
    "quotable_user",
    "validate_user_id",
]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_LONGEST_ID = 20  # digits of a 64-bit integer
_LONGEST_ID = 20  # digits of a 64-bit integer


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


def encode_parts(parts: Iterable[object]) -> bytes:
    """Hash material: each part length-prefixed, so that no part can shift into another.

    Each part is UTF-8, prefixed with its length in bytes and a colon, and followed by a
    semicolon. Text read back from a tampered SQLite file may hold undecodable bytes (as
    surrogates): they are hashed as the bytes they were, so the hash simply does not match.
    """
    out = bytearray()
    for part in parts:
        data = str(part).encode("utf-8", "surrogateescape")
        out += b"%d:%s;" % (len(data), data)
    return bytes(out)


def quotable_user(text: str) -> str:
    """A user ID read from the store, fit to quote, or a phrase saying it is not one.

    Stored text is never repeated in messages: only a decimal ID is.
    """
    if text.isascii() and text.isdigit() and len(text) <= _LONGEST_ID:
        return f"user {text}"
    return "a user with a malformed ID"

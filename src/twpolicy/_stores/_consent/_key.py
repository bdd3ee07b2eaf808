"""The consent key: the HMAC key that makes the ledger's chain impossible to rebuild without it.

Without a key, the chain of SHA-256 hashes shows any event changed, removed or reordered
after the fact, but whoever can write the store can also recompute every hash after the
change. With a key (``TWPOLICY_CONSENT_KEY``, ``consent_key`` in the config, or
``open_ledger(key=...)``), every event, the head and each user's index entry also carry an
HMAC-SHA256 that only holders of the key can compute. The key never goes to the store: only
its ID (an HMAC of a constant, which reveals nothing about it) is stored, to tell which key
wrote what.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from pathlib import Path

from twpolicy._stores._consent._values import encode_parts
from twpolicy.exceptions import ConfigurationError

__all__ = [
    "KEY_ENV",
    "MIN_KEY_BYTES",
    "ConsentKey",
    "key_from_setting",
    "quotable_key_id",
    "resolve_key",
]

_KEY_ID = re.compile(r"[0-9a-f]{16}")

#: The environment variable holding the consent key (as text) when none is passed.
KEY_ENV = "TWPOLICY_CONSENT_KEY"

#: The shortest key accepted, in bytes (of its UTF-8 form when given as text).
MIN_KEY_BYTES = 16


class ConsentKey:
    """An HMAC-SHA256 key and its public ID; its repr shows only the ID."""

    __slots__ = ("_secret", "key_id")

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_KEY_BYTES:
            raise ConfigurationError(
                f"the consent key must be at least {MIN_KEY_BYTES} bytes long (got "
                f"{len(secret)}); generate one with: python -c 'import secrets; "
                "print(secrets.token_hex(32))'"
            )
        self._secret = secret
        self.key_id = hmac.new(secret, b"twpolicy-consent-key-id", hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"ConsentKey(id={self.key_id})"

    def mac(self, *parts: str) -> str:
        """HMAC-SHA256 over ``parts``, each length-prefixed (as the chain's hashes are)."""
        return hmac.new(self._secret, encode_parts(parts), hashlib.sha256).hexdigest()

    def matches(self, mac: str, *parts: str) -> bool:
        """Whether ``mac`` is this key's MAC over ``parts`` (compared in constant time)."""
        return hmac.compare_digest(self.mac(*parts), mac)


def resolve_key(
    key: str | bytes | ConsentKey | None, *, environ: Mapping[str, str] | None = None
) -> ConsentKey | None:
    """The key to use: ``key`` if given, else ``$TWPOLICY_CONSENT_KEY`` if set, else none."""
    if isinstance(key, ConsentKey):
        return key
    if key is None:
        key = (os.environ if environ is None else environ).get(KEY_ENV) or None
        if key is None:
            return None
    if isinstance(key, str):
        return ConsentKey(key.encode("utf-8"))
    if isinstance(key, bytes):
        return ConsentKey(key)
    raise ConfigurationError(f"the consent key must be text or bytes, got {type(key).__name__}")


def key_from_setting(value: str, where: str) -> str:
    """A ``consent_key`` configuration value: ``env:NAME``, ``file:PATH`` or the key itself.

    Prefer ``env:`` or ``file:``: a configuration file is often committed or widely readable.
    """
    if value.startswith("env:"):
        name = value[4:]
        found = os.environ.get(name)
        if not found:
            raise ConfigurationError(f"{where}: consent_key names ${name}, which is not set")
        return found
    if value.startswith("file:"):
        path = Path(value[5:])
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"{where}: cannot read the consent key from {path} ({type(exc).__name__})"
            ) from None
    return value


def quotable_key_id(found: str) -> str:
    """A stored key ID, fit to quote in a message (or a phrase saying it is not one)."""
    return f"key id {found}" if _KEY_ID.fullmatch(found) else "a malformed key id"

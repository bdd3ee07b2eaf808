"""Which use case each consumer key serves: one key per use case (I.F.5.a).

The restricted-use page allows one application per use case, apart from clearly labelled
development, staging and production instances, and never a development or staging app in
production. A key store, shared by every process and host of an application (SQLite or
PostgreSQL), binds each consumer key to one use case and one environment; binding refuses a
key already bound to another use case or environment, and a second production key for one
use case. Keys are credentials (I.A.1): the store keeps a fingerprint, never the key.
"""

from __future__ import annotations

import enum
import hashlib
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from twpolicy._stores._sql import Database, Migration, Schema, open_database, parse_url
from twpolicy._stores._time import utcnow
from twpolicy.exceptions import ConfigurationError

__all__ = ["Environment", "KeyBinding", "KeyStore", "key_fingerprint", "open_keys"]


class Environment(str, enum.Enum):
    """The instance an application key is labelled for."""

    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"

    def __str__(self) -> str:
        return self.value


def environment(value: object, where: str = "environment") -> Environment:
    """``value`` as an `Environment`, or a `ConfigurationError` naming the choices."""
    try:
        return Environment(value)
    except ValueError:
        choices = [e.value for e in Environment]
        raise ConfigurationError(
            f"{where}: unknown environment {value!r}; use one of {choices}"
        ) from None


def use_case_name(value: object, where: str = "use_case") -> str:
    """A use case name: a non-empty printable string."""
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise ConfigurationError(f"{where} must be a non-empty printable string, got {value!r}")
    return value.strip()


def key_fingerprint(key: str) -> str:
    """A stable, non-reversible name for a consumer key: what stores and decisions hold."""
    if not key.strip():
        raise ConfigurationError("a consumer key must be a non-empty string")
    return hashlib.sha256(b"twpolicy consumer key\0" + key.encode()).hexdigest()[:32]


@attrs.frozen(kw_only=True)
class KeyBinding:
    """One consumer key's use case and environment.

    Attributes:
        key_id: the key's fingerprint (`key_fingerprint`).
        use_case: the use case the key serves.
        environment: the instance the key is labelled for.
        bound_at: when the binding was recorded.
    """

    key_id: str
    use_case: str
    environment: Environment = attrs.field(converter=Environment)
    bound_at: datetime


_TABLES = (
    (
        "CREATE TABLE twpolicy_key_bindings ("
        " key_id TEXT PRIMARY KEY, use_case TEXT NOT NULL, environment TEXT NOT NULL,"
        " bound_at TEXT NOT NULL)"
    ),
    (
        "CREATE UNIQUE INDEX twpolicy_key_bindings_one_production"
        " ON twpolicy_key_bindings (use_case) WHERE environment = 'production'"
    ),
)
#: The key store's tables, version by version.
SCHEMA = Schema(
    component="keys",
    what="key store",
    migrations=(Migration(sqlite=_TABLES, postgresql=_TABLES),),
)
_BY_KEY = (
    "SELECT key_id, use_case, environment, bound_at FROM twpolicy_key_bindings WHERE key_id = ?"
)
_BY_USE_CASE = (
    "SELECT key_id, use_case, environment, bound_at FROM twpolicy_key_bindings WHERE use_case = ?"
)
_PRODUCTION = (
    "SELECT key_id, use_case, environment, bound_at FROM twpolicy_key_bindings"
    " WHERE use_case = ? AND environment = 'production'"
)
_INSERT = (
    "INSERT INTO twpolicy_key_bindings (key_id, use_case, environment, bound_at)"
    " VALUES (?, ?, ?, ?)"
)


def _binding(row: tuple[Any, ...]) -> KeyBinding:
    key_id, use_case, env, bound_at = row
    return KeyBinding(
        key_id=key_id,
        use_case=use_case,
        environment=env,
        bound_at=datetime.fromisoformat(bound_at),
    )


class KeyStore:
    """Bindings of consumer keys to use cases, in memory or in a shared database.

    Bindings are never changed or removed once made, so a binding read once is kept.
    """

    def __init__(
        self, database: Database | None, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: dict[str, KeyBinding] = {}
        self._known: dict[str, KeyBinding] = {}
        self.url = "memory://" if database is None else database.url.display

    def __repr__(self) -> str:
        return f"twpolicy.KeyStore({self.url!r})"

    def _rows(self, sql: str, value: str, column: str) -> list[KeyBinding]:
        if self._db is None:
            with self._lock:
                rows = list(self._memory.values())
            return [b for b in rows if getattr(b, column) == value]
        with self._db.read() as tx:
            found = tx.all(sql, (value,))
        return [_binding(row) for row in found]

    def binding_of(self, key_id: str) -> KeyBinding | None:
        """The binding of the key with fingerprint ``key_id``, or ``None``."""
        known = self._known.get(key_id)
        if known is not None:
            return known
        rows = self._rows(_BY_KEY, key_id, "key_id")
        if rows:
            self._known[key_id] = rows[0]
            return rows[0]
        return None

    def binding(self, key: str) -> KeyBinding | None:
        """The binding of consumer key ``key``, or ``None``."""
        return self.binding_of(key_fingerprint(key))

    def bindings(self, use_case: str) -> list[KeyBinding]:
        """Every key bound to ``use_case``."""
        return self._rows(_BY_USE_CASE, use_case, "use_case")

    def bind(self, key: str, *, use_case: str, environment: Environment | str) -> KeyBinding:
        """Bind ``key`` to ``use_case`` in ``environment``; binding the same again is a no-op.

        Raises:
            ConfigurationError: the key is bound to another use case or environment, or
                ``use_case`` already has another production key.
            StoreUnavailable: the store cannot be read or written.
        """
        key_id = key_fingerprint(key)
        use_case = use_case_name(use_case)
        env = _environment(environment)
        wanted = KeyBinding(
            key_id=key_id, use_case=use_case, environment=env, bound_at=self._clock()
        )
        if self._db is None:
            with self._lock:
                return self._bind(wanted, self._memory.get(key_id), self._production_of(use_case))
        with self._db.write() as tx:
            row = tx.one(_BY_KEY, (key_id,))
            prod = tx.one(_PRODUCTION, (use_case,))
            binding = self._bind(
                wanted,
                None if row is None else _binding(row),
                None if prod is None else _binding(prod),
            )
            if binding is wanted:
                tx.execute(_INSERT, (key_id, use_case, env.value, wanted.bound_at.isoformat()))
        return binding

    def _production_of(self, use_case: str) -> KeyBinding | None:
        return next(
            (
                b
                for b in self._memory.values()
                if b.use_case == use_case and b.environment is Environment.PRODUCTION
            ),
            None,
        )

    def _bind(
        self, wanted: KeyBinding, existing: KeyBinding | None, production: KeyBinding | None
    ) -> KeyBinding:
        if existing is not None:
            if (existing.use_case, existing.environment) == (wanted.use_case, wanted.environment):
                return existing
            raise ConfigurationError(
                f"this consumer key (fingerprint {wanted.key_id}) is bound to use case "
                f"{existing.use_case!r} ({existing.environment.value}) since "
                f"{existing.bound_at.isoformat()}, so it cannot serve {wanted.use_case!r} "
                f"({wanted.environment.value}): one application key per use case (I.F.5.a). "
                "Register a separate app for the other use case, or run this one with the "
                "use case and environment it is bound to."
            )
        if wanted.environment is Environment.PRODUCTION and production is not None:
            raise ConfigurationError(
                f"use case {wanted.use_case!r} already has a production key (fingerprint "
                f"{production.key_id}); a second production application for one use case is "
                "not allowed (restricted uses: multiple applications). Use that key, or label "
                "this one development or staging."
            )
        if self._db is None:
            self._memory[wanted.key_id] = wanted
        return wanted

    def close(self) -> None:
        """Close the connection, if any."""
        if self._db is not None:
            self._db.close()


def _environment(value: Environment | str) -> Environment:
    return environment(value)


def open_keys(url: str, *, create: bool = True, clock: Callable[[], datetime] = utcnow) -> KeyStore:
    """Open the key store at ``url``: ``memory://``, ``sqlite:///path`` or ``postgresql://...``.

    Raises:
        ConfigurationError: a malformed or unknown URL.
        StoreUnavailable: the store cannot be reached, is corrupt or has a newer schema.
    """
    parsed = parse_url(url, what="key store")
    if parsed.scheme == "memory":
        return KeyStore(None, clock=clock)
    return KeyStore(open_database(parsed, SCHEMA, create=create), clock=clock)

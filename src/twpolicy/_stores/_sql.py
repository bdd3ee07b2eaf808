"""Storage plumbing shared by twpolicy's ledgers: URLs, connections, schema versions, errors.

The consent ledger and the per-recipient quota ledger keep their data in one of three
backends named by a URL: ``memory://`` (this process only), ``sqlite:///path`` (the embedded
default, safe for many processes on one host) and ``postgresql://...`` (fleets). This module
does what every ledger needs and nothing ledger-specific:

- `parse_url` turns a URL into a `StoreURL`, keeping the options a ledger asks for;
- `open_database` connects to SQLite or PostgreSQL with durable settings, brings the ledger's
  tables to the newest version of its `Schema` (forward only) and refuses a store written by
  a newer twpolicy;
- `Database.read` runs a read-only transaction on one snapshot; `Database.write` a write
  transaction, by default one writer at a time per schema component (so a ledger can read,
  decide and append atomically), or optimistically, raising `WriteConflict` when another
  writer wins a race; `Database.statements` runs statements that each commit on their own
  (one round trip apiece, for single reads and single-statement writes);
- every other driver error is turned into `twpolicy.StoreUnavailable`, saying which file or
  server and what to do, so callers fail closed on one exception type.

SQL is written once with ``?`` placeholders; PostgreSQL gets ``%s``. psycopg is imported only
when a PostgreSQL database is opened.
"""

from __future__ import annotations

import hashlib
import logging
import math
import mmap
import os
import re
import select
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from twpolicy._version import __version__
from twpolicy.exceptions import ConfigurationError, StoreUnavailable

try:
    import fcntl
except ImportError:  # pragma: no cover  # Windows: writers wait on SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DEFAULT_TIMEOUT",
    "Database",
    "Listener",
    "Migration",
    "Schema",
    "StoreURL",
    "Transaction",
    "WriteConflict",
    "open_database",
    "parse_url",
    "redact",
    "scrub",
]

_LOG = logging.getLogger("twpolicy.stores")

#: Seconds a write waits for another process's write to finish before giving up.
DEFAULT_TIMEOUT = 10.0

#: Seconds a PostgreSQL connection attempt may take, unless the URL sets ``connect_timeout``.
CONNECT_TIMEOUT = 10
_LISTEN_CONNECT_TIMEOUT = 2

Dialect = Literal["sqlite", "postgresql"]
Scheme = Literal["memory", "sqlite", "postgresql"]

_SCHEMES: dict[str, Scheme] = {
    "memory": "memory",
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "postgresql+psycopg": "postgresql",
}
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_STORAGE_OPTIONS = {
    "memory": frozenset(),
    "sqlite": frozenset({"timeout"}),
    "postgresql": frozenset({"timeout", "schema"}),
}
_EMPTY: Mapping[str, str] = MappingProxyType({})


@attrs.frozen
class StoreURL:
    """Where a ledger lives, parsed and checked.

    Attributes:
        scheme: ``"memory"``, ``"sqlite"`` or ``"postgresql"``.
        display: the URL with every credential hidden (`redact`), for messages and reprs.
        path: the SQLite file.
        conninfo: the PostgreSQL URL handed to libpq, without twpolicy's own options (never
            shown: it may hold a password).
        schema: the PostgreSQL schema the tables live in (``None``: the search path's first).
        timeout: seconds a write waits for another writer before `StoreUnavailable`.
        options: the ledger-specific options the URL gave (``cache_ttl``), as text.
        secrets: the credentials the URL holds, to scrub from any message (never shown).
    """

    scheme: Scheme
    display: str
    path: Path | None = None
    conninfo: str | None = attrs.field(default=None, repr=False)
    schema: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    options: Mapping[str, str] = _EMPTY
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)

    def __str__(self) -> str:
        return self.display

    def scrub(self, text: str) -> str:
        """``text`` with this URL's credentials hidden, for messages quoting a driver."""
        return scrub(text, self.secrets)

    def number(self, name: str, default: float) -> float:
        """The option ``name`` as a finite number >= 0, or ``default`` when absent."""
        text = self.options.get(name)
        return default if text is None else _number(name, text, self.display)


def _number(name: str, text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{where}: {name}={text!r} must be a number of seconds >= 0")
    return value


#: Query parameters and conninfo keywords whose values are secrets: ``password``,
#: ``sslpassword``, ``passfile``, ``sslkey``, and anything else that names a pass, key,
#: secret, token or credential.
_SECRET_NAME = re.compile(r"pass|secret|token|key|auth|cred", re.IGNORECASE)
_CONNINFO_SECRET = re.compile(
    r"(?P<name>\b[A-Za-z_]*(?:pass|secret|token|key|auth|cred)[A-Za-z_]*)\s*=\s*"
    r"(?P<value>'(?:\\.|[^'\\])*'|[^\s]*)",
    re.IGNORECASE,
)
_HIDDEN = "***"
_DELIMITERS = re.compile(r"[/?#@:&=;,\s]+")
_SHORTEST_PIECE = 3


def _userinfo_end(rest: str) -> int:
    """Where the user-info of ``rest`` (a URL after ``://``) ends: its ``@``, or -1.

    The last ``@`` before the query, so that a raw ``/``, ``#`` or ``@`` in a password is
    still counted as part of it; failing that, an ``@`` after a ``?`` whose prefix reads like
    ``user:password`` (a raw ``?`` in a password) rather than like a query.
    """
    query = rest.find("?")
    head = rest if query < 0 else rest[:query]
    at = head.rfind("@")
    if at >= 0:
        return at
    at = rest.rfind("@")
    if at >= 0 and ":" in rest[:at] and "=" not in rest[:at]:
        return at
    return -1


def redact(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` (a store URL, or a libpq ``key=value`` string) with every credential hidden.

    Hides the password of the user-info, the value of every query parameter whose name,
    percent-decoded, names a secret (``password``, ``sslpassword``, ``passfile``, ``sslkey``,
    ...), any fragment, and in text that is not a URL every such ``key=value``. Returns the
    redacted text and the secrets found (raw and decoded), so that messages that quote them
    (a driver's, say) can be scrubbed with `scrub`.
    """
    secrets: list[str] = []

    def keep(value: str) -> None:
        secrets.extend(form for form in _forms(value) if form not in secrets)

    marker = text.find("://")
    if marker < 0:

        def hide(match: re.Match[str]) -> str:
            keep(match.group("value").strip("'"))
            return f"{match.group('name')}={_HIDDEN}"

        return _CONNINFO_SECRET.sub(hide, text), tuple(secrets)
    prefix, rest = text[: marker + 3], text[marker + 3 :]
    at = _userinfo_end(rest)
    if at >= 0:
        userinfo, rest = rest[:at], rest[at:]
        user, colon, password = userinfo.partition(":")
        if colon:
            keep(password)
            userinfo = f"{user}:{_HIDDEN}"
        prefix += userinfo
    fragment = ""
    if "#" in rest:
        rest, _, hidden = rest.partition("#")
        keep(hidden)
        fragment = f"#{_HIDDEN}"
    if "?" in rest:
        rest, _, query = rest.partition("?")
        rest += "?" + "&".join(_redact_parameter(piece, keep) for piece in query.split("&"))
    return prefix + rest + fragment, tuple(secrets)


def _redact_parameter(piece: str, keep: Callable[[str], None]) -> str:
    """One ``name=value`` of a query, its value hidden (and kept) if the name is a secret's."""
    name, equals, value = piece.partition("=")
    if equals and _SECRET_NAME.search(urllib.parse.unquote_plus(name)):
        keep(value)
        return f"{name}={_HIDDEN}"
    return piece


def _forms(value: str) -> list[str]:
    """A secret as written, decoded, and in the pieces a driver may quote of it."""
    forms = []
    for form in (value, urllib.parse.unquote(value), urllib.parse.unquote_plus(value)):
        if form:
            forms.append(form)
        # A driver may quote only part of a secret that held a URL delimiter.
        forms.extend(p for p in _DELIMITERS.split(form) if len(p) >= _SHORTEST_PIECE)
    return forms


def scrub(text: str, secrets: Collection[str]) -> str:
    """``text`` with every one of ``secrets`` replaced by ``***``, longest first."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, _HIDDEN)
    return text


def parse_url(url: str, *, what: str = "ledger", options: Collection[str] = ()) -> StoreURL:
    """Parse a ledger URL, SQLAlchemy style, keeping the ``options`` the caller understands.

    ``memory://``; ``sqlite:///relative/path`` or ``sqlite:////absolute/path``;
    ``postgresql://user@host:port/dbname`` (also ``postgres://``, ``postgresql+psycopg://``).
    Query parameters: ``timeout`` (SQLite and PostgreSQL), ``schema`` (PostgreSQL), the
    caller's ``options``, and for PostgreSQL any libpq parameter (``sslmode=require``).

    Raises:
        ConfigurationError: the scheme is unknown, or the URL or an option is malformed.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"{what} URL must be a string, got {type(url).__name__}")
    display, secrets = redact(url)
    try:
        parts = urllib.parse.urlsplit(url)
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        # The parser's message may quote part of the URL: say what, not how.
        raise ConfigurationError(
            f"{what} URL {display!r} is malformed: check its host, port and query "
            "(name=value pairs joined by &)"
        ) from None
    scheme = _SCHEMES.get(parts.scheme.lower())
    if scheme is None or url[: len(parts.scheme) + 3].lower() != f"{parts.scheme}://":
        raise ConfigurationError(
            f"unknown {what} URL {display!r}; expected 'memory://', 'sqlite:///path/to/file.db' "
            "or 'postgresql://user@host/dbname'"
        )
    given, passthrough = _split_query(
        pairs, scheme, _STORAGE_OPTIONS[scheme] | set(options), display
    )
    timeout = given.pop("timeout", None)
    base = StoreURL(
        scheme,
        display,
        timeout=DEFAULT_TIMEOUT if timeout is None else _number("timeout", timeout, display),
        options=MappingProxyType(given),
        secrets=secrets,
    )
    if scheme == "memory":
        if parts.netloc or parts.path:
            raise ConfigurationError(f"{what} URL {display!r}: memory:// takes no host or path")
        return base
    if scheme == "sqlite":
        return attrs.evolve(base, path=_sqlite_path(parts, display, what))
    schema = given.pop("schema", None)
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise ConfigurationError(
            f"{what} URL {display!r}: schema={schema!r} must be a lower-case SQL identifier "
            "(letters, digits, underscores)"
        )
    conninfo = urllib.parse.urlunsplit(
        parts._replace(scheme="postgresql", query=urllib.parse.urlencode(passthrough), fragment="")
    )
    return attrs.evolve(base, conninfo=conninfo, schema=schema, options=MappingProxyType(given))


def _split_query(
    pairs: list[tuple[str, str]], scheme: str, ours: Collection[str], display: str
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Split query parameters into twpolicy's options and those PostgreSQL's libpq takes."""
    given: dict[str, str] = {}
    passthrough: list[tuple[str, str]] = []
    for key, value in pairs:
        if key in given:
            raise ConfigurationError(f"URL {display!r} repeats the option {key!r}")
        if key in ours:
            given[key] = value
        elif scheme == "postgresql":
            passthrough.append((key, value))
        else:
            known = ", ".join(sorted(ours)) or "none"
            raise ConfigurationError(
                f"URL {display!r}: unknown option {key!r}; known options: {known}"
            )
    return given, passthrough


def _sqlite_path(parts: urllib.parse.SplitResult, display: str, what: str) -> Path:
    if parts.netloc:
        raise ConfigurationError(
            f"{what} URL {display!r}: a SQLite URL has no host; use sqlite:///relative/path "
            "or sqlite:////absolute/path (three or four slashes)"
        )
    path = urllib.parse.unquote(parts.path)[1:]
    if not path or path == ":memory:" or path.endswith("/"):
        raise ConfigurationError(
            f"{what} URL {display!r} names no SQLite file; use sqlite:///path/to/file.db, "
            "or memory:// for a ledger held in this process only"
        )
    return Path(path)


@attrs.frozen
class Migration:
    """One forward step of a component's tables, as statements in each dialect."""

    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


@attrs.frozen
class Schema:
    """A ledger's tables: its component name and every migration, oldest first.

    Version *n* is reached by applying ``migrations[:n]``; a store records the version it is at
    in the shared ``twpolicy_schema`` table, one row per component.

    Attributes:
        component: the row name in ``twpolicy_schema`` (``"consent"``).
        what: how messages name the store (``"consent ledger"``).
        migrations: the steps, each applied once, in order, never undone.
    """

    component: str
    what: str
    migrations: tuple[Migration, ...]

    @property
    def version(self) -> int:
        """The version this twpolicy writes."""
        return len(self.migrations)


_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS twpolicy_schema ("
    " component TEXT PRIMARY KEY,"
    " version INTEGER NOT NULL,"
    " migrated_at TEXT NOT NULL,"
    " migrated_by TEXT NOT NULL)"
)


class WriteConflict(Exception):
    """A non-exclusive write lost a race to another writer; nothing was written."""


class Transaction:
    """One open transaction: run statements written with ``?`` placeholders."""

    def __init__(self, cursor: Any, dialect: Dialect) -> None:
        self._cursor = cursor
        self.dialect: Dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one statement."""
        self._cursor.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters."""
        self._cursor.executemany(self._sql(sql), rows)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query; return every row."""
        self._cursor.execute(self._sql(sql), params)
        return list(self._cursor.fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """Run a query; return its first row, or ``None``."""
        self._cursor.execute(self._sql(sql), params)
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)


# Connections a child process inherited are never closed by it (closing a PostgreSQL
# connection would end the parent's session too), nor are broken ones whose close() failed:
# they are kept here, unused, so that the garbage collector does not try either.
_ABANDONED: list[object] = []

# How many times this process was forked into: cheaper to compare than os.getpid() on paths
# taken before every cached read.
_FORKS = [0]


def _forked() -> None:
    _FORKS[0] += 1


os.register_at_fork(after_in_child=_forked)


class Database:
    """A connection to one SQLite file or PostgreSQL database, for one `Schema`.

    Thread-safe: transactions of one `Database` run one at a time. After a fork, the child
    opens its own connection. A connection that fails is dropped and reopened on next use, so
    a server that comes back is picked up without restarting the application. Two failures
    are not forgotten that way, because retrying cannot cure them: a store that reported
    corruption accepts no more writes, and a SQLite file that was deleted or replaced while
    open is refused, reads included, until `close` (the next use then opens the file that is
    there now).

    Attributes:
        url: where the store is.
        schema: the ledger's tables.
        read_only: opened for reading only: nothing is created, migrated or written.
        version: the schema version of the store (older than ``schema.version`` only when
            read-only: a read-only open does not migrate).
    """

    dialect: Dialect

    def __init__(self, url: StoreURL, schema: Schema, *, read_only: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.read_only = read_only
        self.version = schema.version
        self._lock = threading.RLock()
        self._connection: Any = None
        self._connections = 0
        self._pid = os.getpid()
        self._corrupt: str | None = None
        self._gone: str | None = None
        self._create = True
        self._remigrate = False

    def __repr__(self) -> str:
        mode = ", read-only" if self.read_only else ""
        return f"<twpolicy {self.schema.what} database {self.url.display!r}{mode}>"

    def __del__(self) -> None:
        # A ledger dropped without close() releases its connection quietly.
        if getattr(self, "_pid", None) == os.getpid() and getattr(self, "_connection", None):
            with suppress(Exception):  # nothing useful to do while being collected
                self._connection.close()

    # -- to be provided by each dialect ----------------------------------------------------

    def _connect(self) -> Any:
        raise NotImplementedError  # pragma: no cover  # abstract: each dialect overrides it

    def _begin(self, cursor: Any, *, write: bool, lock: str | None) -> None:
        raise NotImplementedError  # pragma: no cover  # abstract: each dialect overrides it

    def _driver_errors(self) -> tuple[type[Exception], ...]:
        raise NotImplementedError  # pragma: no cover  # abstract: each dialect overrides it

    def _conflicts(self) -> tuple[type[Exception], ...]:
        """Driver errors that mean another writer got there first: retry, not fail."""
        return ()

    def _corruption(self, exc: Exception) -> bool:  # noqa: ARG002  # hook
        """Whether ``exc`` says the store's data is damaged (not merely unreachable)."""
        return False

    def _advice(self, exc: Exception) -> str:
        raise NotImplementedError  # pragma: no cover  # abstract: each dialect overrides it

    def _table_exists(self, tx: Transaction, name: str) -> bool:
        raise NotImplementedError  # pragma: no cover  # abstract: each dialect overrides it

    def _prepare(self, tx: Transaction) -> None:
        """Dialect-specific setup run once, under the migration lock, before migrating."""

    def _check_identity(self) -> None:
        """Raise `StoreUnavailable` if the store is no longer the one connected to."""

    # -- shared ----------------------------------------------------------------------------

    def _unavailable(self, doing: str, exc: Exception) -> StoreUnavailable:
        detail = str(getattr(getattr(exc, "diag", None), "message_primary", None) or exc)
        detail = self.url.scrub(" ".join(detail.split()).rstrip("."))
        return StoreUnavailable(
            f"{self.schema.what} at {self.url.display} could not {doing}: {detail}. "
            f"{self._advice(exc)}"
        )

    def _refuse(self, *, write: bool) -> None:
        """Refuse what cannot work: a vanished file; writes after corruption, or read-only."""
        if self._gone is not None:
            raise StoreUnavailable(self._gone)
        if write and self._corrupt is not None:
            raise StoreUnavailable(
                f"{self.schema.what} at {self.url.display} reported corruption earlier "
                f"({self._corrupt}), so it accepts no more writes: what it acknowledged "
                "could not be read back. Run `twpolicy consent verify`, restore the store "
                "from a backup, and reopen it. Nothing was written."
            )
        if write and self.read_only:
            raise ConfigurationError(
                f"{self.schema.what} at {self.url.display} was opened read-only "
                "(create=False); open it with create=True to record anything. "
                "Nothing was written."
            )

    def require_writable(self) -> None:
        """Raise unless a write may be tried now (see `_refuse`)."""
        with self._lock:
            self._refuse(write=True)

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001  # already broken; the error that matters was raised
                _ABANDONED.append(connection)

    def _connection_for_this_process(self) -> Any:
        if self._pid != os.getpid():
            if self._connection is not None:
                _ABANDONED.append(self._connection)
            self._connection, self._pid = None, os.getpid()
            self._lock = threading.RLock()
        if self._connection is None:
            self._connection = self._connect()
            self._connections += 1
        return self._connection

    @contextmanager
    def _use(
        self, doing: str, *, write: bool = False, lock: str | None = None, begin: bool = True
    ) -> Iterator[Transaction]:
        """Run statements on this process's connection, in one transaction.

        With ``begin`` false, each statement runs, and commits, on its own.
        """
        errors = self._driver_errors()
        with self._lock:
            self._refuse(write=write)
            if self._remigrate:  # the file there now may be new: give it the tables
                self._remigrate = False
                self.migrate(create=self._create and not self.read_only)
            connection = None
            try:
                connection = self._connection_for_this_process()
                self._check_identity()
                cursor = connection.cursor()
                if begin:
                    self._begin(cursor, write=write, lock=lock)
                yield Transaction(cursor, self.dialect)
                if begin:
                    cursor.execute("COMMIT")
            except self._conflicts() as exc:
                self._rollback(connection, begin=begin)
                raise WriteConflict(str(exc)) from exc
            except errors as exc:
                self._rollback(connection, begin=begin)
                raise self._failed(doing, exc) from None
            except BaseException:
                self._rollback(connection, begin=begin)
                raise
            finally:
                if write and begin:
                    self._end_write()

    def _end_write(self) -> None:
        """Hook run when a write transaction ended, committed or not (after `_begin`)."""

    def _failed(self, doing: str, exc: Exception) -> StoreUnavailable:
        """The error to raise for a driver error, remembering corruption."""
        if self._corruption(exc):
            self._corrupt = f"{type(exc).__name__} while trying to {doing}"
        if not self._recoverable(exc):
            self._drop_connection()
        error = self._unavailable(doing, exc)
        if self.url.scrub(str(exc)) == str(exc):  # the driver's own words are safe to chain
            error.__cause__ = exc
        return error

    def note_corruption(self, what: str) -> None:
        """Remember that data read back was not what was written: no more writes."""
        with self._lock:
            self._corrupt = what

    def _recoverable(self, exc: Exception) -> bool:  # noqa: ARG002  # hook
        """Whether the connection is still good after ``exc`` (a lock timeout, say)."""
        return False

    def _rollback(self, connection: Any, *, begin: bool) -> None:
        if not begin or connection is None or self._connection is not connection:
            return
        try:
            connection.execute("ROLLBACK")
        except self._driver_errors():
            self._drop_connection()

    def read(self) -> AbstractContextManager[Transaction]:
        """A read-only transaction that sees one consistent snapshot throughout."""
        return self._use("read")

    def write(self, *, exclusive: bool = True) -> AbstractContextManager[Transaction]:
        """A write transaction: all or nothing.

        Args:
            exclusive: writers of this component run one at a time (SQLite: always, as the
                file has one writer). Without it, PostgreSQL writers run side by side, and
                one that loses a race gets `WriteConflict`.

        Raises:
            WriteConflict: (non-exclusive only) another writer got there first; nothing was
                written; read again and retry.
            StoreUnavailable: the store failed, or another writer held the lock longer than
                the URL's ``timeout``, or it reported corruption before. Nothing was written.
            ConfigurationError: the store was opened read-only.
        """
        lock = self.schema.component if exclusive else None
        return self._use("write", write=True, lock=lock)

    def statements(self) -> AbstractContextManager[Transaction]:
        """Statements that each run, and commit, on their own: one round trip apiece.

        For a single read, or a write that is one statement (a PostgreSQL function that
        checks and appends, say: call `require_writable` first). A statement that loses a
        race to another writer raises `WriteConflict`.
        """
        return self._use("read or write", begin=False)

    def changes(self) -> object:
        """A token that differs from the last one when another connection changed the store.

        ``None`` when the dialect cannot tell (PostgreSQL: see `_PostgresDatabase.listen`).
        Cheap enough to call before every cached read.
        """
        return None

    def close(self) -> None:
        """Close the connection (a later transaction reopens it).

        Also forgets a vanished SQLite file: the next use opens the file at the path now.
        """
        with self._lock:
            if self._pid == os.getpid():
                self._drop_connection()
            if self._gone is not None:
                self._gone = None
                self._remigrate = True

    def _version(self, tx: Transaction) -> tuple[int, str] | None:
        if not self._table_exists(tx, "twpolicy_schema"):
            return None
        row = tx.one(
            "SELECT version, migrated_by FROM twpolicy_schema WHERE component = ?",
            (self.schema.component,),
        )
        return None if row is None else (int(row[0]), str(row[1]))

    def _check_not_newer(self, found: tuple[int, str] | None) -> None:
        if found is not None and found[0] > self.schema.version:
            raise StoreUnavailable(
                f"{self.schema.what} at {self.url.display} has schema version {found[0]} "
                f"(written by {found[1]}); this twpolicy {__version__} knows versions up to "
                f"{self.schema.version}. Upgrade twpolicy (pip install -U twpolicy) to use it; "
                "nothing was read or written."
            )

    def migrate(self, *, create: bool) -> None:
        """Bring the tables to `Schema.version`, forward only; read-only: just check them.

        Raises:
            StoreUnavailable: the store was written by a newer twpolicy, or holds no such
                ledger and ``create`` is false, or cannot be read or written.
        """
        with self._use("open") as tx:
            found = self._version(tx)
        self._check_not_newer(found)
        if found is not None and (found[0] == self.schema.version or self.read_only):
            self.version = found[0]
            return
        if found is None and not create:
            raise StoreUnavailable(
                f"there is no {self.schema.what} at {self.url.display}; check the URL "
                "(a new ledger is created only when one is opened to record consent)"
            )
        with self._use("migrate", write=True, lock="twpolicy_schema") as tx:
            self._prepare(tx)
            tx.execute(_VERSION_TABLE)
            found = self._version(tx)
            self._check_not_newer(found)
            current = 0 if found is None else found[0]
            for migration in self.schema.migrations[current:]:
                for statement in getattr(migration, self.dialect):
                    tx.execute(statement)
            if current < self.schema.version:
                tx.execute(
                    "DELETE FROM twpolicy_schema WHERE component = ?", (self.schema.component,)
                )
                tx.execute(
                    "INSERT INTO twpolicy_schema (component, version, migrated_at, migrated_by)"
                    " VALUES (?, ?, ?, ?)",
                    (
                        self.schema.component,
                        self.schema.version,
                        datetime.now(timezone.utc).isoformat(),
                        f"twpolicy {__version__}",
                    ),
                )
        self.version = self.schema.version


def _text(data: bytes) -> str:
    """SQLite text as a str, whatever bytes a tamperer stored.

    Undecodable bytes survive as surrogates (so hashes over them still mismatch) instead of
    raising an error that quotes them.
    """
    return data.decode("utf-8", "surrogateescape")


class _Grant:
    """One thread blocked in ``flock`` for a `_WriterTurns`, which may stop waiting for it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.granted = False
        self._ready = threading.Event()
        self._state = threading.Lock()
        self._abandoned = False

    def run(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            granted = True
        except OSError:  # no lock to be had: SQLite's busy handler decides alone
            granted = False
        with self._state:
            if not self._abandoned:
                self.granted = granted
                self._ready.set()
                return
        os.close(self.fd)  # nobody wants it any more: closing gives the turn back

    def wait(self, timeout: float) -> bool:
        """Whether the thread returned within ``timeout``; if not, it closes the file itself."""
        if self._ready.wait(timeout):
            return True
        with self._state:
            if self._ready.is_set():
                return True
            self._abandoned = True
            return False


class _WriterTurns:
    """Writers to one SQLite file take turns on a lock file beside it (``<file>-writer``).

    SQLite's busy handler polls, sleeping up to 100 ms between tries, so while processes
    write back to back a waiter loses every race that happens while it sleeps: with 8
    processes writing and 30 ms disk syncs, writers waited past a 10 s timeout. The kernel
    hands a blocking ``flock`` to a waiter as soon as it is released. SQLite's own lock still
    orders the writes; this only makes waiting fair. Where the lock file cannot be had (no
    ``fcntl``, a read-only directory), writers wait on SQLite's busy handler alone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = os.getpid()
        self._held = False

    def _file(self) -> int | None:
        if self._pid != os.getpid():  # forked: drop the parent's reference, keep its turn
            if self._fd is not None:
                with suppress(OSError):
                    os.close(self._fd)
            self._fd, self._pid, self._held = None, os.getpid(), False
        if self._fd is None and fcntl is not None:
            with suppress(OSError):
                flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
                self._fd = os.open(self.path, flags, 0o644)
        return self._fd

    def take(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for this process's turn to write.

        Raises:
            sqlite3.OperationalError: ("database is locked") the turn did not come in time.
        """
        fd = self._file()
        if fd is None or self._held:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        except OSError:
            return
        else:
            self._held = True
            return
        grant = _Grant(fd)  # wait in a thread, so that waiting can stop at the timeout
        threading.Thread(target=grant.run, name="twpolicy-writer-turn", daemon=True).start()
        if grant.wait(timeout):
            self._held = grant.granted
            return
        self._fd = None  # the waiting thread closes it when its turn comes
        message = f"database is locked (no turn to write within {timeout:g} s)"
        raise sqlite3.OperationalError(message)

    def give_back(self) -> None:
        """End this process's turn (a no-op when it holds none)."""
        if self._held and self._fd is not None and self._pid == os.getpid():
            self._held = False
            with suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (the next turn opens it again)."""
        if self._fd is not None and self._pid == os.getpid():
            self.give_back()
            with suppress(OSError):
                os.close(self._fd)
        self._fd, self._held = None, False


# Bound once: the marker's clock is the machine's, whatever a caller does to ``time``.
_monotonic = time.monotonic
_stat = os.stat  # the hot path: one global lookup, no Path overhead


class _ShmFiles:
    """One descriptor per ``-shm`` file per process, closed after its last connection.

    Why not one per marker, closed with it:
    POSIX record locks belong to a process and a file, not to a descriptor: closing *any*
    descriptor of the ``-shm`` file drops every lock this process's SQLite connections hold
    on it (``fcntl(2)``, "the lock is released when any file descriptor referring to the
    file is closed"; SQLite's ``os_unix.c`` works around it for the database file, not for
    descriptors it does not know of). Without its shared lock on the ``-shm`` file's DMS
    byte, another process opening the database takes itself for the first, truncates the
    file and builds the wal-index afresh under live connections (seen as a worker killed by
    ``SIGBUS``), and the read marks that keep a checkpoint from overwriting pages a reader
    uses are gone too. So the change markers share one descriptor per file, counted by the
    databases that connected to it, and it is closed after the last one's connection.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users: dict[str, int] = {}
        self._open: dict[str, tuple[int, mmap.mmap | None]] = {}
        self._retired: list[tuple[int, mmap.mmap | None]] = []

    def hold(self, path: str) -> None:
        """A database connected to the file whose ``-shm`` is ``path``."""
        with self._lock:
            self._users[path] = self._users.get(path, 0) + 1

    def release(self, path: str) -> None:
        """That database closed its connection: the last one closes the descriptor."""
        with self._lock:
            users = self._users.get(path, 0) - 1
            if users > 0:
                self._users[path] = users
                return
            self._users.pop(path, None)
            fd, mapped = self._open.pop(path, (None, None))
        if mapped is not None:
            mapped.close()  # closes its own copy of the descriptor
        if fd is not None:
            with suppress(OSError):
                os.close(fd)

    @staticmethod
    def _current(path: str, fd: int) -> bool:
        """Whether ``fd`` is still the file at ``path`` (only when a connection is made)."""
        try:
            now, held = os.stat(path), os.fstat(fd)  # noqa: PTH116  # a str path, as os.fstat
        except OSError:
            return False
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

    def header(self, path: str) -> tuple[int | None, mmap.mmap | None]:
        """The shared descriptor and the header's read-only mapping.

        ``None`` for both: no database holds the file, or there is no ``-shm`` file; for
        the mapping: it cannot be mapped (too short yet, or the file system cannot).
        """
        with self._lock:
            if path not in self._users:
                return None, None
            if path in self._open and not self._current(path, self._open[path][0]):
                # The file at the path is another one now (a ledger file put back): keep the
                # old descriptor open (connections may still hold locks through it), forever.
                self._retired.append(self._open.pop(path))
            if path not in self._open:
                try:
                    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                except OSError:
                    return None, None
                try:
                    mapped: mmap.mmap | None = mmap.mmap(fd, _HEADER, access=mmap.ACCESS_READ)
                except (OSError, ValueError):  # read with pread instead
                    mapped = None
                self._open[path] = (fd, mapped)
            return self._open[path]


_HEADER = 96  # bytes: both copies of the wal-index header
_SHM_FILES = _ShmFiles()


class _ChangeMarker:
    """Whether any connection committed to a SQLite file, without asking SQLite.

    In WAL mode every commit rewrites the wal-index header at the start of the ``-shm``
    file: two 48-byte copies carrying a change counter (``iChange``, moved by every header
    write), the last frame, the page count, the salts and a checksum (SQLite's "WAL-mode
    file format", section 2.1; ``walIndexWriteHdr`` in ``wal.c``). A checkpoint that
    restarts the WAL writes it too (new salts). The first 96 bytes are mapped read-only, as
    SQLite maps the file itself, so reading them is a copy in memory, no system call (one
    ``pread`` where the file cannot be mapped), where ``PRAGMA data_version`` costs a
    statement. The header only says *whether* to ask: when it moved,
    could not be read, or ``recheck`` seconds passed, `Database.changes` asks
    ``data_version`` as before. It is read before asking, so a commit between the two is
    seen on the next poll, never lost.

    The descriptor and mapping are shared and closed by `_ShmFiles`, never here: closing
    either would drop SQLite's locks on the file. The mapping adds no failure SQLite's own
    does not have: SQLite shrinks the file only to 3 bytes (the header's page stays), and
    only when no connection anywhere holds it.
    """

    recheck = 0.05  # seconds: data_version is asked at least this often regardless
    size = _HEADER

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self._seen: bytes | None = None
        self._asked = 0.0

    def open(self) -> None:
        """Start afresh on a new connection (after SQLite made its ``-shm`` file)."""
        self.close()
        self._fd, self._map = _SHM_FILES.header(self._path)
        if not hasattr(os, "pread"):
            self._fd = None

    def close(self) -> None:
        """Forget the header; the descriptor and mapping are `_ShmFiles`'s to close."""
        self._fd, self._map, self._seen = None, None, None

    def read(self) -> bytes | None:
        """The header as it is now (``None``: unreadable, so ask SQLite)."""
        mapped = self._map
        if mapped is not None:
            try:
                return mapped[:_HEADER]
            except ValueError:  # closed with the last connection meanwhile
                return None
        if self._fd is None:
            return None
        try:
            header = os.pread(self._fd, self.size, 0)
        except OSError:
            return None
        return header if len(header) == self.size else None

    def unchanged(self, header: bytes | None) -> bool:
        """The header is the one seen when SQLite was last asked, not long ago."""
        return (
            header is not None
            and header == self._seen
            and _monotonic() - self._asked < self.recheck
        )

    def asked(self, header: bytes | None) -> None:
        """SQLite was just asked, after ``header`` was read.

        The time first: a poll without the lock that sees the new header must not pair it
        with the time SQLite was asked before.
        """
        self._asked = _monotonic()
        self._seen = header


class _SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(
        self, url: StoreURL, schema: Schema, *, create: bool, read_only: bool = False
    ) -> None:
        super().__init__(url, schema, read_only=read_only)
        assert url.path is not None  # noqa: S101  # parse_url gives every sqlite URL a path
        self._path = url.path
        self._where = str(url.path)
        self._create = create and not read_only
        self._identity: tuple[int, int] | None = None
        self._poller: Any = None  # a cursor kept for PRAGMA data_version
        self._poller_of: tuple[int, int] = (-1, -1)  # (connection number, fork count)
        self._version_seen: object = None
        # Absolute, so that two spellings of one file share one descriptor (`_ShmFiles`).
        self._shm = os.path.abspath(f"{url.path}-shm")  # noqa: PTH100  # a str key, once
        self._holds_shm = False
        self._marker = _ChangeMarker(self._shm)
        self._turns = _WriterTurns(Path(f"{url.path}-writer"))

    def __del__(self) -> None:
        super().__del__()
        with suppress(Exception):  # nothing useful to do while being collected
            self._turns.close()
            self._marker.close()
            self._release_shm()

    def _release_shm(self) -> None:
        """After the connection is closed: this database no longer needs the ``-shm`` file."""
        if self._holds_shm:
            self._holds_shm = False
            _SHM_FILES.release(self._shm)

    def close(self) -> None:
        """Close the connection and the writers' lock file (a later transaction reopens them)."""
        with self._lock:
            super().close()
            self._turns.close()
            self._marker.close()
            self._release_shm()

    def _stat(self) -> tuple[int, int] | None:
        try:
            status = os.stat(self._where)  # noqa: PTH116  # the hot path: no Path overhead
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreUnavailable(
                f"{self.schema.what} at {self.url.display}: cannot look at {self._path} "
                f"({exc.strerror}); check its permissions"
            ) from None
        return status.st_dev, status.st_ino

    def _connect(self) -> sqlite3.Connection:
        if not self._create and not self._path.is_file():
            raise StoreUnavailable(
                f"there is no {self.schema.what} at {self.url.display} ({self._path} does not "
                "exist); check the URL"
            )
        for _ in range(3):
            before = self._stat()
            connection = self._open()
            after = self._stat()
            if before == after and after is not None:
                self._identity = after
                if not self._holds_shm:
                    _SHM_FILES.hold(self._shm)
                    self._holds_shm = True
                return connection
            connection.close()  # the file changed under us while opening: once more
        raise StoreUnavailable(
            f"{self.schema.what} at {self.url.display}: {self._path} keeps being replaced "
            "while it is opened; find what replaces it"
        )

    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            return self._open_read_only()
        mode = "rwc" if self._create else "rw"
        connection = self._sqlite(f"mode={mode}")
        try:
            journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
            if journal != "wal":  # a write: wait for a turn like any writer
                self._turns.take(self.url.timeout)
                try:
                    journal = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                finally:
                    self._turns.give_back()
            self._require_wal(journal)
            connection.execute("PRAGMA synchronous=FULL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _open_read_only(self) -> sqlite3.Connection:
        """Read without writing anything, on read-only media too.

        A WAL file needs its ``-shm`` index, which SQLite creates next to it; where it
        cannot (a read-only directory) and there is no ``-wal`` holding changes, the file is
        opened as immutable, which needs neither.
        """
        connection = self._sqlite("mode=ro")
        try:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            connection.close()
            wal = Path(f"{self._path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise
            connection = self._sqlite("mode=ro&immutable=1")
        return connection

    def _sqlite(self, options: str) -> sqlite3.Connection:
        target = f"file:{urllib.parse.quote(str(self._path))}?{options}"
        connection = sqlite3.connect(
            target,
            timeout=self.url.timeout,
            isolation_level=None,  # transactions are begun and ended explicitly
            check_same_thread=False,  # the Database's lock serialises use across threads
            uri=True,
        )
        connection.text_factory = _text
        return connection

    def _check_identity(self) -> None:
        """The path must still name the file this connection has open (device and inode).

        A file deleted or replaced while open would otherwise take acknowledged writes that
        no other process sees, and that vanish when this one exits.
        """
        if self._identity is None:
            return
        now = self._stat()
        if now == self._identity:
            return
        happened = "deleted" if now is None else "replaced by another file"
        self._gone = (
            f"{self.schema.what} at {self.url.display}: {self._path} was {happened} while "
            "open, so what this process would write there no other process would see; "
            "refusing reads and writes. Restore the file, then close and reopen the ledger."
        )
        self._drop_connection()
        raise StoreUnavailable(self._gone)

    def changes(self) -> object:
        """This connection's ``PRAGMA data_version``, which moves when another one commits.

        Paired with which connection it is (a new one counts afresh). Also checks that the
        file is still the one opened. SQLite is asked only when its wal-index header moved
        (`_ChangeMarker`), so an unchanged store costs a ``stat`` and a ``pread``, without the
        lock: each attribute read is atomic, the slow path stores the version
        before the header it goes with, and the fast path reads the version after the header
        matched, so a matching header never comes with an older version.
        """
        marker = self._marker
        if (
            self._gone is None
            and self._connection is not None
            and self._poller_of == (self._connections, _FORKS[0])
        ):
            try:
                status = _stat(self._where)
            except OSError:
                pass  # the locked path says what happened
            else:
                if (status.st_dev, status.st_ino) == self._identity and marker.unchanged(
                    marker.read()
                ):
                    # Read after the header matched: the version stored with it, or newer.
                    return self._connections, self._version_seen
        with self._lock:
            if self._gone is not None:
                raise StoreUnavailable(self._gone)
            try:
                if self._poller_of != (self._connections, _FORKS[0]) or self._connection is None:
                    self._poller = self._connection_for_this_process().cursor()
                    self._poller.execute("PRAGMA data_version").fetchone()  # maps the -shm
                    self._poller_of = (self._connections, _FORKS[0])
                    marker.open()
                if self._stat() != self._identity:
                    self._check_identity()
                header = marker.read()
                if marker.unchanged(header):
                    return self._connections, self._version_seen
                version = self._poller.execute("PRAGMA data_version").fetchone()[0]
                self._version_seen = version
                marker.asked(header)
            except sqlite3.Error as exc:
                raise self._failed("read", exc) from None
            return self._connections, version

    def _require_wal(self, journal: str) -> None:
        if journal != "wal":
            raise StoreUnavailable(
                f"{self.schema.what} at {self.url.display} cannot use SQLite's WAL mode "
                f"(got {journal!r}); keep the file on a local disk, not a network share"
            )

    def _begin(self, cursor: Any, *, write: bool, lock: str | None) -> None:  # noqa: ARG002  # one lock per file
        if write:
            self._turns.take(self.url.timeout)
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def _end_write(self) -> None:
        self._turns.give_back()

    def _driver_errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    def _recoverable(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def _corruption(self, exc: Exception) -> bool:
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return True
        return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
            exc, (sqlite3.OperationalError, sqlite3.IntegrityError, sqlite3.ProgrammingError)
        )

    def _advice(self, exc: Exception) -> str:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return (
                f"Another process held the write lock for more than {self.url.timeout:g} s; "
                "find it, or raise ?timeout= in the URL. Nothing was written."
            )
        if "full" in text:
            return f"The disk holding {self._path} is full: free space. Nothing was written."
        if "unable to open" in text:
            return (
                f"Check that {self._path} exists (or its directory, to create it) "
                "and is readable and writable by this user."
            )
        if "readonly" in text:
            return f"Make {self._path} and its directory writable by this user."
        if self._corruption(exc):
            return (
                f"{self._path} is corrupt or not a twpolicy ledger: restore it from a backup, "
                "or point the URL at another file. Nothing was written."
            )
        return "Nothing was written; fix the cause and retry."

    def _table_exists(self, tx: Transaction, name: str) -> bool:
        return (
            tx.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
            is not None
        )


class Listener:
    """A PostgreSQL connection that LISTENs on one channel, polled without blocking.

    `poll` is cheap (a ``select`` on the socket) so a ledger can call it before every cached
    read. When the connection fails it is reopened at most once a second; meanwhile `poll`
    says it is not listening, and the caller falls back to its TTL.
    """

    _RETRY = 1.0

    def __init__(self, database: _PostgresDatabase, channel: str) -> None:
        self._database = database
        self._channel = channel
        self._connection: Any = None
        self._pid = os.getpid()
        self._next_try = 0.0
        self._lock = threading.Lock()

    def poll(self) -> tuple[bool, list[str]]:
        """``(listening, payloads)``: the notifications received since the last poll.

        After (re)connecting, the payloads are ``["*"]``: whatever was sent while not
        listening is lost, so the caller must assume anything changed.
        """
        with self._lock:
            if self._pid != os.getpid():
                if self._connection is not None:
                    _ABANDONED.append(self._connection)
                self._connection, self._pid, self._next_try = None, os.getpid(), 0.0
            if self._connection is None:
                return self._reconnect()
            pgconn = self._connection.pgconn
            try:
                readable, _, _ = select.select([pgconn.socket], [], [], 0)
                if not readable:
                    return True, []
                pgconn.consume_input()
                payloads = []
                while (note := pgconn.notifies()) is not None:
                    payloads.append(note.extra.decode("utf-8", "replace"))
            except Exception:  # noqa: BLE001  # any failure: listen again later, use the TTL
                self._drop()
                return False, ["*"]
            if pgconn.status != 0:  # CONNECTION_OK
                self._drop()
                return False, ["*"]
            return True, payloads

    def _reconnect(self) -> tuple[bool, list[str]]:
        now = time.monotonic()
        if now < self._next_try:
            return False, []
        self._next_try = now + self._RETRY
        try:
            self._connection = self._database.connect_listener(self._channel)
        except Exception:  # noqa: BLE001  # not listening: the caller uses its TTL
            _LOG.debug("cannot LISTEN on %s", self._database.url.display)
            return False, []
        return True, ["*"]

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001  # already broken
                _ABANDONED.append(connection)

    def close(self) -> None:
        """Stop listening."""
        with self._lock:
            if self._pid == os.getpid():
                self._drop()


class _PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, url: StoreURL, schema: Schema, *, read_only: bool = False) -> None:
        super().__init__(url, schema, read_only=read_only)
        self._keys: dict[str, int] = {}
        self._namespace = url.schema

    def _raw_connect(self, *, timeout: int = CONNECT_TIMEOUT) -> psycopg.Connection[Any]:
        import psycopg  # noqa: PLC0415  # optional dependency, loaded only for PostgreSQL

        assert self.url.conninfo is not None  # noqa: S101  # parse_url sets it for postgresql
        extra: dict[str, Any] = {}
        given = psycopg.conninfo.conninfo_to_dict(self.url.conninfo)
        if "connect_timeout" not in given or timeout < CONNECT_TIMEOUT:
            extra["connect_timeout"] = timeout
        if "application_name" not in given:
            extra["application_name"] = "twpolicy"
        return psycopg.connect(self.url.conninfo, autocommit=True, **extra)

    def _connect(self) -> psycopg.Connection[Any]:
        connection = self._raw_connect()
        try:
            # Durable commits whatever the server's default: an acknowledged write is on disk.
            connection.execute("SELECT set_config('synchronous_commit', 'on', false)")
            connection.execute(
                "SELECT set_config('lock_timeout', %s, false)",
                (f"{round(self.url.timeout * 1000)}ms",),
            )
            if self.read_only:
                connection.execute(
                    "SELECT set_config('default_transaction_read_only', 'on', false)"
                )
            if self._namespace is not None:
                connection.execute(
                    "SELECT set_config('search_path', %s, false)", (self._namespace,)
                )
            else:
                row = connection.execute("SELECT current_schema()").fetchone()
                self._namespace = self._current_schema(None if row is None else row[0])
        except BaseException:
            connection.close()
            raise
        return connection

    @property
    def namespace(self) -> str:
        """The schema the tables are in (known once connected)."""
        if self._namespace is None:
            with self._use("read", begin=False):
                pass
        return self._namespace or "public"

    def listen(self, channel: str) -> Listener:
        """A `Listener` on ``channel``, connecting on its first poll."""
        return Listener(self, channel)

    def connect_listener(self, channel: str) -> psycopg.Connection[Any]:
        """A new connection that LISTENs on ``channel``."""
        import psycopg  # noqa: PLC0415  # loaded already by _connect

        # Tried from the hot path, at most once a second: never wait long (libpq's least).
        connection = self._raw_connect(timeout=_LISTEN_CONNECT_TIMEOUT)
        try:
            connection.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
        except BaseException:
            connection.close()
            raise
        return connection

    def _current_schema(self, name: str | None) -> str:
        if name is None:
            raise StoreUnavailable(
                f"{self.schema.what} at {self.url.display}: the search path names no "
                "existing schema; add ?schema=NAME to the URL"
            )
        return name

    def _key(self, lock: str) -> int:
        key = self._keys.get(lock)
        if key is None:
            digest = hashlib.sha256(f"twpolicy:{self._namespace}:{lock}".encode()).digest()
            key = self._keys[lock] = int.from_bytes(digest[:8], "big", signed=True)
        return key

    def _recoverable(self, exc: Exception) -> bool:
        import psycopg  # noqa: PLC0415  # loaded already by _connect

        return isinstance(exc, psycopg.errors.LockNotAvailable)

    def _corruption(self, exc: Exception) -> bool:
        import psycopg  # noqa: PLC0415  # loaded already by _connect

        return isinstance(exc, (psycopg.errors.DataCorrupted, psycopg.errors.IndexCorrupted))

    def _conflicts(self) -> tuple[type[Exception], ...]:
        import psycopg  # noqa: PLC0415  # loaded already by _connect

        return (
            psycopg.errors.SerializationFailure,
            psycopg.errors.UniqueViolation,
            psycopg.errors.DeadlockDetected,
        )

    def _begin(self, cursor: Any, *, write: bool, lock: str | None) -> None:
        if write:
            cursor.execute("BEGIN")
            if lock is not None:
                # One writer at a time per component and schema: a ledger can read, decide
                # and append without another writer interleaving.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self._key(lock),))
        else:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def _prepare(self, tx: Transaction) -> None:
        if self.url.schema is not None:
            tx.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.url.schema}"')

    def _driver_errors(self) -> tuple[type[Exception], ...]:
        import psycopg  # noqa: PLC0415  # loaded already by _connect

        return (psycopg.Error,)

    def _advice(self, exc: Exception) -> str:
        import psycopg  # noqa: PLC0415  # loaded already by _connect

        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return (
                f"Another writer held the lock for more than {self.url.timeout:g} s; find it, "
                "or raise ?timeout= in the URL. Nothing was written."
            )
        if isinstance(exc, psycopg.errors.DiskFull):
            return "The server's disk is full: free space there. Nothing was written."
        if isinstance(exc, psycopg.OperationalError):
            return (
                "Check that the server is running and reachable, and the URL's host, port, "
                "database and credentials. Nothing was written."
            )
        return "Nothing was written; fix the cause and retry."

    def _table_exists(self, tx: Transaction, name: str) -> bool:
        row = tx.one("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(row and row[0])


def open_database(
    url: StoreURL, schema: Schema, *, create: bool = True, read_only: bool = False
) -> Database:
    """Connect to the SQLite or PostgreSQL store at ``url`` and migrate it to ``schema``.

    Args:
        url: from `parse_url`; ``memory://`` is the caller's to handle.
        schema: the ledger's tables.
        create: whether an absent store (file, tables) may be created.
        read_only: open for reading only: nothing is created or migrated (an older schema
            is read as it is: see `Database.version`), no write is accepted, and a SQLite
            file on read-only media can be read.

    Raises:
        ConfigurationError: a PostgreSQL URL was given but psycopg is not installed.
        StoreUnavailable: the store cannot be reached, is corrupt, or has a newer schema.
    """
    database: Database
    if url.scheme == "sqlite":
        database = _SqliteDatabase(url, schema, create=create, read_only=read_only)
    elif url.scheme == "postgresql":
        try:
            import psycopg  # noqa: F401, PLC0415  # optional dependency
        except ImportError:
            raise ConfigurationError(
                f"{schema.what} URL {url.display!r} needs psycopg: "
                "pip install 'twpolicy[postgresql]'"
            ) from None
        database = _PostgresDatabase(url, schema, read_only=read_only)
    else:
        raise ConfigurationError(f"{url.display!r} is not a SQLite or PostgreSQL URL")
    try:
        database.migrate(create=create and not read_only)
    except BaseException:
        database.close()
        raise
    return database

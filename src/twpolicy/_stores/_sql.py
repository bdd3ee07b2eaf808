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
import math
import os
import re
import sqlite3
import threading
import urllib.parse
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import attrs

from twpolicy._version import __version__
from twpolicy.exceptions import ConfigurationError, StoreUnavailable

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "DEFAULT_TIMEOUT",
    "Database",
    "Migration",
    "Schema",
    "StoreURL",
    "Transaction",
    "WriteConflict",
    "open_database",
    "parse_url",
]

#: Seconds a write waits for another process's write to finish before giving up.
DEFAULT_TIMEOUT = 10.0

#: Seconds a PostgreSQL connection attempt may take, unless the URL sets ``connect_timeout``.
CONNECT_TIMEOUT = 10

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
        display: the URL with any password hidden, for messages and reprs.
        path: the SQLite file.
        conninfo: the PostgreSQL URL handed to libpq, without twpolicy's own options.
        schema: the PostgreSQL schema the tables live in (``None``: the search path's first).
        timeout: seconds a write waits for another writer before `StoreUnavailable`.
        options: the ledger-specific options the URL gave (``cache_ttl``), as text.
    """

    scheme: Scheme
    display: str
    path: Path | None = None
    conninfo: str | None = None
    schema: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    options: Mapping[str, str] = _EMPTY

    def __str__(self) -> str:
        return self.display

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


def _redact(url: str, parts: urllib.parse.SplitResult) -> str:
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return url.replace(parts.netloc, f"{parts.username or ''}:***@{host}", 1)


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
    try:
        parts = urllib.parse.urlsplit(url)
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise ConfigurationError(f"{what} URL is malformed: {exc}") from None
    display = _redact(url, parts)
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
        parts._replace(scheme="postgresql", query=urllib.parse.urlencode(passthrough))
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


class Database:
    """A connection to one SQLite file or PostgreSQL database, for one `Schema`.

    Thread-safe: transactions of one `Database` run one at a time. After a fork, the child
    opens its own connection. A connection that fails is dropped and reopened on next use, so
    a server that comes back is picked up without restarting the application.
    """

    dialect: Dialect

    def __init__(self, url: StoreURL, schema: Schema) -> None:
        self.url = url
        self.schema = schema
        self._lock = threading.RLock()
        self._connection: Any = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"<twpolicy {self.schema.what} database {self.url.display!r}>"

    def __del__(self) -> None:
        # A ledger dropped without close() releases its connection quietly.
        if getattr(self, "_pid", None) == os.getpid() and getattr(self, "_connection", None):
            with suppress(Exception):  # nothing useful to do while being collected
                self._connection.close()

    # -- to be provided by each dialect ----------------------------------------------------

    def _connect(self) -> Any:
        raise NotImplementedError

    def _begin(self, cursor: Any, *, write: bool, lock: str | None) -> None:
        raise NotImplementedError

    def _driver_errors(self) -> tuple[type[Exception], ...]:
        raise NotImplementedError

    def _conflicts(self) -> tuple[type[Exception], ...]:
        """Driver errors that mean another writer got there first: retry, not fail."""
        return ()

    def _advice(self, exc: Exception) -> str:
        raise NotImplementedError

    def _table_exists(self, tx: Transaction, name: str) -> bool:
        raise NotImplementedError

    def _prepare(self, tx: Transaction) -> None:
        """Dialect-specific setup run once, under the migration lock, before migrating."""

    # -- shared ----------------------------------------------------------------------------

    def _unavailable(self, doing: str, exc: Exception) -> StoreUnavailable:
        detail = str(getattr(getattr(exc, "diag", None), "message_primary", None) or exc)
        detail = " ".join(detail.split()).rstrip(".")
        return StoreUnavailable(
            f"{self.schema.what} at {self.url.display} could not {doing}: {detail}. "
            f"{self._advice(exc)}"
        )

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
            connection = None
            try:
                connection = self._connection_for_this_process()
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
                if not self._recoverable(exc):
                    self._drop_connection()
                raise self._unavailable(doing, exc) from exc
            except BaseException:
                self._rollback(connection, begin=begin)
                raise

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
                the URL's ``timeout``. Nothing was written.
        """
        lock = self.schema.component if exclusive else None
        return self._use("write", write=True, lock=lock)

    def statements(self) -> AbstractContextManager[Transaction]:
        """Statements that each run, and commit, on their own: one round trip apiece.

        For a single read, or a write that is one statement (a PostgreSQL function that
        checks and appends, say). A statement that loses a race to another writer raises
        `WriteConflict`.
        """
        return self._use("read or write", begin=False)

    def close(self) -> None:
        """Close the connection (a later transaction reopens it)."""
        with self._lock:
            if self._pid == os.getpid():
                self._drop_connection()

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
        """Bring the tables to `Schema.version`, forward only.

        Raises:
            StoreUnavailable: the store was written by a newer twpolicy, or holds no such
                ledger and ``create`` is false, or cannot be read or written.
        """
        with self._use("open") as tx:
            found = self._version(tx)
        self._check_not_newer(found)
        if found is not None and found[0] == self.schema.version:
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


class _SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, url: StoreURL, schema: Schema, *, create: bool) -> None:
        super().__init__(url, schema)
        assert url.path is not None  # noqa: S101  # parse_url gives every sqlite URL a path
        self._path = url.path
        self._create = create

    def _connect(self) -> sqlite3.Connection:
        if not self._create and not self._path.is_file():
            raise StoreUnavailable(
                f"there is no {self.schema.what} at {self.url.display} ({self._path} does not "
                "exist); check the URL"
            )
        mode = "rwc" if self._create else "rw"
        target = f"file:{urllib.parse.quote(str(self._path))}?mode={mode}"
        connection = sqlite3.connect(
            target,
            timeout=self.url.timeout,
            isolation_level=None,  # transactions are begun and ended explicitly
            check_same_thread=False,  # the Database's lock serialises use across threads
            uri=True,
        )
        try:
            journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
            if journal != "wal":
                journal = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._require_wal(journal)
            connection.execute("PRAGMA synchronous=FULL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _require_wal(self, journal: str) -> None:
        if journal != "wal":
            raise StoreUnavailable(
                f"{self.schema.what} at {self.url.display} cannot use SQLite's WAL mode "
                f"(got {journal!r}); keep the file on a local disk, not a network share"
            )

    def _begin(self, cursor: Any, *, write: bool, lock: str | None) -> None:  # noqa: ARG002  # one lock per file
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def _driver_errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.Error,)

    def _recoverable(self, exc: Exception) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)

    def _advice(self, exc: Exception) -> str:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return (
                f"Another process held the write lock for more than {self.url.timeout:g} s; "
                "find it, or raise ?timeout= in the URL. Nothing was written."
            )
        if "unable to open" in text:
            return (
                f"Check that {self._path} exists (or its directory, to create it) "
                "and is readable and writable by this user."
            )
        if "readonly" in text:
            return f"Make {self._path} and its directory writable by this user."
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
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


class _PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, url: StoreURL, schema: Schema) -> None:
        super().__init__(url, schema)
        self._keys: dict[str, int] = {}
        self._namespace = url.schema

    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg  # noqa: PLC0415  # optional dependency, loaded only for PostgreSQL

        assert self.url.conninfo is not None  # noqa: S101  # parse_url sets it for postgresql
        extra: dict[str, Any] = {}
        given = psycopg.conninfo.conninfo_to_dict(self.url.conninfo)
        if "connect_timeout" not in given:
            extra["connect_timeout"] = CONNECT_TIMEOUT
        if "application_name" not in given:
            extra["application_name"] = "twpolicy"
        connection = psycopg.connect(self.url.conninfo, autocommit=True, **extra)
        try:
            # Durable commits whatever the server's default: an acknowledged write is on disk.
            connection.execute("SELECT set_config('synchronous_commit', 'on', false)")
            connection.execute(
                "SELECT set_config('lock_timeout', %s, false)",
                (f"{round(self.url.timeout * 1000)}ms",),
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
        if isinstance(exc, psycopg.OperationalError):
            return (
                "Check that the server is running and reachable, and the URL's host, port, "
                "database and credentials. Nothing was written."
            )
        return "Nothing was written; fix the cause and retry."

    def _table_exists(self, tx: Transaction, name: str) -> bool:
        row = tx.one("SELECT to_regclass(?) IS NOT NULL", (name,))
        return bool(row and row[0])


def open_database(url: StoreURL, schema: Schema, *, create: bool = True) -> Database:
    """Connect to the SQLite or PostgreSQL store at ``url`` and migrate it to ``schema``.

    Args:
        url: from `parse_url`; ``memory://`` is the caller's to handle.
        schema: the ledger's tables.
        create: whether an absent store (file, tables) may be created.

    Raises:
        ConfigurationError: a PostgreSQL URL was given but psycopg is not installed.
        StoreUnavailable: the store cannot be reached, is corrupt, or has a newer schema.
    """
    database: Database
    if url.scheme == "sqlite":
        database = _SqliteDatabase(url, schema, create=create)
    elif url.scheme == "postgresql":
        try:
            import psycopg  # noqa: F401, PLC0415  # optional dependency
        except ImportError:
            raise ConfigurationError(
                f"{schema.what} URL {url.display!r} needs psycopg: "
                "pip install 'twpolicy[postgresql]'"
            ) from None
        database = _PostgresDatabase(url, schema)
    else:
        raise ConfigurationError(f"{url.display!r} is not a SQLite or PostgreSQL URL")
    try:
        database.migrate(create=create)
    except BaseException:
        database.close()
        raise
    return database

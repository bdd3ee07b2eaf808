"""The SQLite and PostgreSQL backend: the events table, the head row, each user's index entry.

Events are chained in Python (`twpolicy._stores._consent._events.chain`), so the hashes, and
the MACs under a consent key that never leaves the process, have one definition. SQLite
appends under its write lock, and reads back what it wrote before committing. PostgreSQL
appends in one statement, the PL/pgSQL function ``twpolicy_consent_append2``, that fails if
the head moved since the plan read it, and then notifies listeners (``LISTEN``) of the users
whose events changed; after losing a few races a writer holds the head row's lock. The events
table refuses ``UPDATE`` and ``DELETE``, so changing history takes a deliberate act.

Schema 2 added each event's link to its user's previous event, the key columns, and the
``twpolicy_consent_subjects`` index (each user's last event and count), filled from the
events at migration. A ledger at schema 1 opened read-only is read as it is: its events are
checked one by one, as format 1.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from twpolicy._stores._consent._backend import Append, Tx
from twpolicy._stores._consent._events import (
    COLUMNS,
    LEGACY_COLUMNS,
    Appended,
    Head,
    Row,
    SubjectHead,
    chain,
    head_from_db,
    head_mac,
    row_from_db,
    subject_from_db,
    subject_mac,
)
from twpolicy._stores._consent._key import ConsentKey
from twpolicy._stores._consent._memory_backend import check_writable
from twpolicy._stores._sql import Database, Listener, Migration, Schema, WriteConflict
from twpolicy.exceptions import ConfigurationError, StoreUnavailable

__all__ = ["SCHEMA", "SqlStore"]

_T = "twpolicy_consent_events"
_SUBJECT = "user_id, seq, hash, count, key_id, mac"
# Events that shape a record that may still be active: not a use (a use that ends a record
# closes it), and no event of the same record has closed it.
_OPEN = (
    "e.record_id <> '' AND e.event <> 'used' AND NOT EXISTS (SELECT 1 FROM"
    " twpolicy_consent_events c WHERE c.record_id = e.record_id AND c.closes = 1)"
)
_IN_BATCH = 500
# A NOTIFY payload is at most 8000 bytes: past this, say "anyone".
_PAYLOAD_LIMIT = 7000


class _SqlTx:
    def __init__(self, tx: Any, *, indexed: bool) -> None:
        self._tx = tx
        self.indexed = indexed
        self._columns = COLUMNS if indexed else LEGACY_COLUMNS

    def _rows(self, where: str, params: Sequence[Any], tail: str = "") -> list[Row]:
        sql = f"SELECT {self._columns} FROM {_T} e WHERE {where} ORDER BY e.seq{tail}"  # noqa: S608  # constant SQL; values are bound
        return [row_from_db(values) for values in self._tx.all(sql, params)]

    def head(self, *, lock: bool = False) -> Head | None:
        """The head row; ``lock``: hold it until the commit."""
        keys = "key_id, mac" if self.indexed else "'', ''"
        sql = f"SELECT seq, hash, {keys} FROM twpolicy_consent_head WHERE one = 1"  # noqa: S608  # constant SQL
        if lock and self._tx.dialect == "postgresql":
            sql += " FOR UPDATE"  # SQLite's write lock already covers the whole file
        return head_from_db(self._tx.one(sql))

    def subject(self, user_id: str) -> tuple[Head | None, SubjectHead | None]:
        if not self.indexed:
            return self.head(), None
        row = self._tx.one(
            "SELECT h.seq, h.hash, h.key_id, h.mac, s.user_id, s.seq, s.hash, s.count,"
            " s.key_id, s.mac FROM twpolicy_consent_head h LEFT JOIN twpolicy_consent_subjects s"
            " ON s.user_id = ? WHERE h.one = 1",
            (user_id,),
        )
        if row is None:
            return None, None
        return head_from_db(row[:4]), None if row[4] is None else subject_from_db(row[4:])

    def subjects(self, user_ids: Collection[str]) -> dict[str, SubjectHead | None]:
        found: dict[str, SubjectHead | None] = dict.fromkeys(user_ids)
        users = sorted(user_ids)
        for start in range(0, len(users) if self.indexed else 0, _IN_BATCH):
            batch = users[start : start + _IN_BATCH]
            marks = ", ".join("?" * len(batch))
            for values in self._tx.all(
                f"SELECT {_SUBJECT} FROM twpolicy_consent_subjects WHERE user_id IN ({marks})",  # noqa: S608  # constant SQL
                batch,
            ):
                entry = subject_from_db(values)
                found[entry.user_id] = entry
        return found

    def all_subjects(self, after: str, limit: int) -> list[SubjectHead]:
        if not self.indexed:
            return []
        return [
            subject_from_db(values)
            for values in self._tx.all(
                f"SELECT {_SUBJECT} FROM twpolicy_consent_subjects WHERE user_id > ?"  # noqa: S608  # constant SQL
                " ORDER BY user_id LIMIT ?",
                (after, limit),
            )
        ]

    def user_rows(self, user_id: str, *, after: int = 0, upto: int | None = None) -> list[Row]:
        if upto is None:
            return self._rows("e.user_id = ? AND e.seq > ?", (user_id, after))
        return self._rows("e.user_id = ? AND e.seq > ? AND e.seq <= ?", (user_id, after, upto))

    def record_rows(self, record_id: str) -> list[Row]:
        return self._rows("e.record_id = ?", (record_id,))

    def open_rows(self) -> list[Row]:
        return self._rows(_OPEN, ())

    def scan(self, after: int, limit: int) -> list[Row]:
        return self._rows("e.seq > ?", (after, limit), " LIMIT ?")

    def quick_check(self) -> list[str]:
        return [str(values[0]) for values in self._tx.all("PRAGMA quick_check")]

    def insert(self, appended: Appended) -> None:
        """SQLite, under the write lock: the rows, the head, the users' index entries."""
        self._tx.executemany(
            f"INSERT INTO {_T} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608  # constant SQL
            [(*row[:5], int(row.closes), *row[6:]) for row in appended.rows],
        )
        head = appended.head
        self._tx.execute(
            "UPDATE twpolicy_consent_head SET seq = ?, hash = ?, key_id = ?, mac = ? WHERE one = 1",
            tuple(head),
        )
        self._tx.executemany(
            f"INSERT INTO twpolicy_consent_subjects ({_SUBJECT}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608  # constant SQL
            " ON CONFLICT (user_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,"
            " count = excluded.count, key_id = excluded.key_id, mac = excluded.mac",
            [tuple(entry) for entry in appended.subjects],
        )

    def call_append(self, expected: Head, appended: Appended, channel: str, payload: str) -> None:
        """PostgreSQL: append in one statement, if the head is still ``expected``.

        The head's row lock is held only inside that statement; if the head moved, the
        statement fails with a serialisation error (`WriteConflict`).
        """
        rows = appended.rows
        columns = [list(column) for column in zip(*rows, strict=True)]
        columns[5] = [int(closes) for closes in columns[5]]
        subjects = [list(column) for column in zip(*appended.subjects, strict=True)]
        self._tx.execute(
            "SELECT twpolicy_consent_append2(?::bigint, ?::text, ?::bigint[], ?::text[],"
            " ?::text[], ?::text[], ?::text[], ?::integer[], ?::text[], ?::text[], ?::text[],"
            " ?::text[], ?::text[], ?::text[], ?::text, ?::text, ?::text[], ?::bigint[],"
            " ?::text[], ?::bigint[], ?::text[], ?::text[], ?::text, ?::text)",
            (
                expected.seq,
                expected.hash,
                *columns,
                appended.head.key_id,
                appended.head.mac,
                *subjects,
                channel,
                payload,
            ),
        )

    def seal(self, head: Head, key: ConsentKey) -> Head:
        """MAC every index entry and the head with ``key`` (under the write lock)."""
        entries: list[SubjectHead] = []
        after = ""
        while batch := self.all_subjects(after, 10_000):
            entries.extend(batch)
            after = batch[-1].user_id
        self._tx.executemany(
            "UPDATE twpolicy_consent_subjects SET key_id = ?, mac = ? WHERE user_id = ?",
            [
                (key.key_id, subject_mac(key, e.user_id, e.seq, e.hash, e.total), e.user_id)
                for e in entries
            ],
        )
        sealed = Head(head.seq, head.hash, key.key_id, head_mac(key, head.seq, head.hash))
        self._tx.execute(
            "UPDATE twpolicy_consent_head SET key_id = ?, mac = ? WHERE one = 1",
            (sealed.key_id, sealed.mac),
        )
        return sealed


class _SqliteChanges:
    """Another connection committed: SQLite's ``data_version`` moved (one cheap call)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._last: object = None

    def poll(self) -> tuple[bool, frozenset[str] | None]:
        token = self._database.changes()
        if token == self._last:
            return True, frozenset()
        self._last = token
        return True, None

    def close(self) -> None:
        """Nothing to release (the token is read on the ledger's own connection)."""


class _PostgresChanges:
    """Another process appended: the users its ``NOTIFY`` names (``*``: anyone)."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener

    def poll(self) -> tuple[bool, frozenset[str] | None]:
        listening, payloads = self._listener.poll()
        users: set[str] = set()
        for payload in payloads:
            if payload == "*":
                return listening, None
            users.update(payload.split(","))
        return listening, frozenset(users)

    def close(self) -> None:
        self._listener.close()


class SqlStore:
    """Events in a SQLite file or a PostgreSQL database, shared by processes."""

    def __init__(self, database: Database, key: ConsentKey | None = None) -> None:
        self._database = database
        self.key = key
        self._channel: str | None = None

    @property
    def indexed(self) -> bool:
        """Whether the store has each user's index entry (schema 2 or later)."""
        return self._database.version >= 2  # noqa: PLR2004  # the index came with schema 2

    def _tx(self, tx: Any) -> _SqlTx:
        return _SqlTx(tx, indexed=self.indexed)

    @contextmanager
    def reading(self, *, snapshot: bool = False) -> Iterator[Tx]:
        """Reads: one snapshot (a read-only transaction), or statements on their own."""
        database = self._database
        with database.read() if snapshot else database.statements() as tx:
            yield self._tx(tx)

    def _notice(self, appended: Appended) -> tuple[str, str]:
        """The channel and payload that tell listeners which users changed."""
        if self._channel is None:
            digest = hashlib.sha256(self._database.namespace.encode()).hexdigest()[:16]  # type: ignore[attr-defined]  # PostgreSQL only
            self._channel = f"twpolicy_consent_{digest}"
        payload = ",".join(sorted(appended.users))
        return self._channel, payload if len(payload) <= _PAYLOAD_LIMIT else "*"

    def append(self, append: Append) -> list[Row]:
        """Run the plan and append its events after the head it read from."""
        database = self._database
        database.require_writable()
        if database.dialect == "postgresql":
            rows = self._append_optimistically(append)
            if rows is not None:
                return rows
        # SQLite, and PostgreSQL after losing races: hold the head (SQLite's write lock, or
        # the head row's lock), read, decide and append. It cannot lose a race: nobody starves.
        try:
            with database.write(exclusive=False) as tx:
                sql = self._tx(tx)
                head = sql.head(lock=True)
                check_writable(head, self.key)
                assert head is not None  # noqa: S101  # check_writable refuses a missing head
                at, pending = append.plan(sql)
                if not pending:
                    return []
                subjects = sql.subjects({p.user_id for p in pending})
                appended = chain(pending, at, head, subjects, self.key)
                if database.dialect == "postgresql":
                    sql.call_append(head, appended, *self._notice(appended))
                else:
                    sql.insert(appended)
                    self._read_back(sql, appended)
        except WriteConflict:  # with the head held, only events beyond it can be in the way
            raise StoreUnavailable(
                f"consent ledger at {database.url.display} could not write: it holds events "
                "beyond its head, added behind twpolicy's back; run `twpolicy consent verify`. "
                "Nothing was written."
            ) from None
        return list(appended.rows)

    def _read_back(self, sql: _SqlTx, appended: Appended) -> None:
        """SQLite: the rows must read back as written before the commit acknowledges them."""
        first, last = appended.rows[0].seq, appended.rows[-1].seq
        if sql.scan(first - 1, last - first + 1) != list(appended.rows):
            self._database.note_corruption("events read back differ from those written")
            raise StoreUnavailable(
                f"consent ledger at {self._database.url.display}: the events just written do "
                "not read back as written, so the file is damaged; nothing was written, and "
                "no more writes are accepted. Run `twpolicy consent verify` and restore the "
                "file from a backup."
            )

    def _append_optimistically(self, append: Append) -> list[Row] | None:
        """PostgreSQL: append without holding a lock across round trips, if it can.

        Read the head, then what the plan needs (so that any event the plan might have
        missed has moved the head), decide, chain, and append in one statement that fails if
        the head moved meanwhile; a few tries, then ``None``.
        """
        for attempt in range(3):
            rows = self._attempt(append)
            if rows is not None:
                return rows
            # Let racing writers spread out: a random, growing pause.
            time.sleep(random.uniform(0, 0.002 * 2**attempt))  # noqa: S311  # jitter, not a secret
        return None

    def _attempt(self, append: Append) -> list[Row] | None:
        try:
            with self._database.statements() as tx:
                sql = self._tx(tx)
                head = sql.head()
                check_writable(head, self.key)
                assert head is not None  # noqa: S101  # check_writable refuses a missing head
                at, pending = append.plan(sql)
                if not pending:
                    return []
                subjects = sql.subjects({p.user_id for p in pending})
                appended = chain(pending, at, head, subjects, self.key)
                sql.call_append(head, appended, *self._notice(appended))
                return list(appended.rows)
        except WriteConflict:
            return None

    def seal(self, expected: Head) -> Head:
        """MAC the head and every index entry with the key, if the head is ``expected``."""
        key = self.key
        if key is None:
            raise ConfigurationError("sealing a ledger needs a consent key")
        database = self._database
        database.require_writable()
        with database.write(exclusive=False) as tx:
            sql = self._tx(tx)
            head = sql.head(lock=True)
            if head is None or head[:2] != expected[:2]:
                raise StoreUnavailable(
                    "the consent ledger moved on while it was being sealed; verify and seal again"
                )
            if head.key_id:
                check_writable(head, key)  # another key, or a head changed without it
                return head
            sealed = sql.seal(head, key)
            if database.dialect == "postgresql":
                tx.execute("SELECT pg_notify(?, '*')", (self._notice(Appended((), head, ()))[0],))
            return sealed

    def integrity(self) -> list[str]:
        """SQLite's ``quick_check`` of the file, as problems (never its messages)."""
        if self._database.dialect != "sqlite":
            return []
        try:
            with self._database.read() as tx:
                found = self._tx(tx).quick_check()
        except StoreUnavailable:
            return [
                (
                    "the SQLite file cannot be checked page by page: it is damaged; restore it "
                    "from a backup"
                )
            ]
        if found == ["ok"]:
            return []
        return [
            (
                f"the SQLite file is damaged: its own check reports {len(found)} problems with "
                "its pages; restore it from a backup"
            )
        ]

    def changes(self) -> _SqliteChanges | _PostgresChanges:
        """A watcher: SQLite's ``data_version``, or a PostgreSQL ``LISTEN``."""
        if self._database.dialect == "sqlite":
            return _SqliteChanges(self._database)
        channel = self._notice(Appended((), Head(0, ""), ()))[0]
        return _PostgresChanges(self._database.listen(channel))  # type: ignore[attr-defined]  # PostgreSQL only

    def close(self) -> None:
        """Release the connection; a later call reconnects."""
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
    # The head starts at the genesis: event 0, whose hash is 64 zeros (GENESIS).
    (
        "INSERT INTO twpolicy_consent_head (one, seq, hash) VALUES (1, 0,"
        " '0000000000000000000000000000000000000000000000000000000000000000')"
    ),
)
# Schema 2: each event's link to its user's previous one and its key; the head's key; each
# user's index entry, filled from the events already there (each user's last event and count).
_VERSION_2 = (
    "ALTER TABLE twpolicy_consent_events ADD COLUMN user_prev TEXT",
    "ALTER TABLE twpolicy_consent_events ADD COLUMN key_id TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE twpolicy_consent_events ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE twpolicy_consent_head ADD COLUMN key_id TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE twpolicy_consent_head ADD COLUMN mac TEXT NOT NULL DEFAULT ''",
    (
        "CREATE TABLE twpolicy_consent_subjects (user_id TEXT PRIMARY KEY, seq {seq} NOT NULL,"
        " hash TEXT NOT NULL, count {seq} NOT NULL, key_id TEXT NOT NULL DEFAULT '',"
        " mac TEXT NOT NULL DEFAULT '')"
    ),
    (
        "INSERT INTO twpolicy_consent_subjects (user_id, seq, hash, count)"
        " SELECT e.user_id, e.seq, e.hash, c.n FROM twpolicy_consent_events e JOIN"
        " (SELECT user_id, max(seq) AS last, count(*) AS n FROM twpolicy_consent_events"
        " GROUP BY user_id) c ON e.seq = c.last"
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
                # Schema 1's append function hashed in SQL; schema 2 drops it (below).
                (
                    "CREATE FUNCTION twpolicy_consent_part(part TEXT) RETURNS bytea"
                    " LANGUAGE sql IMMUTABLE STRICT AS $$"
                    " SELECT convert_to(octet_length(convert_to(part, 'UTF8'))::text || ':',"
                    " 'UTF8') || convert_to(part, 'UTF8') || convert_to(';', 'UTF8') $$"
                ),
                (
                    "CREATE FUNCTION twpolicy_consent_append(expected_seq BIGINT,"
                    " expected_hash TEXT, events TEXT[], record_ids TEXT[], user_ids TEXT[],"
                    " ats TEXT[], closes INTEGER[], bodies TEXT[])"
                    " RETURNS TABLE (new_seq BIGINT, new_prev TEXT, new_hash TEXT)"
                    " LANGUAGE plpgsql AS $$ BEGIN"
                    " RAISE EXCEPTION 'superseded by twpolicy_consent_append2'; END $$"
                ),
            ),
        ),
        Migration(
            sqlite=tuple(statement.format(seq="INTEGER") for statement in _VERSION_2),
            postgresql=(
                *(statement.format(seq="BIGINT") for statement in _VERSION_2),
                (
                    "DROP FUNCTION twpolicy_consent_append(BIGINT, TEXT, TEXT[], TEXT[], TEXT[],"
                    " TEXT[], INTEGER[], TEXT[])"
                ),
                "DROP FUNCTION twpolicy_consent_part(TEXT)",
                # Append events chained by the client after the expected head, move the head,
                # update the users' index entries and notify listeners, in one statement.
                (
                    "CREATE FUNCTION twpolicy_consent_append2(expected_seq BIGINT,"
                    " expected_hash TEXT, seqs BIGINT[], events TEXT[], record_ids TEXT[],"
                    " user_ids TEXT[], ats TEXT[], closes INTEGER[], bodies TEXT[], prevs TEXT[],"
                    " hashes TEXT[], user_prevs TEXT[], key_ids TEXT[], macs TEXT[],"
                    " head_key_id TEXT, head_mac TEXT, s_users TEXT[], s_seqs BIGINT[],"
                    " s_hashes TEXT[], s_counts BIGINT[], s_key_ids TEXT[], s_macs TEXT[],"
                    " channel TEXT, payload TEXT) RETURNS void LANGUAGE plpgsql AS $$"
                    " DECLARE head_seq BIGINT; head_hash TEXT; n INTEGER := cardinality(seqs);"
                    " BEGIN"
                    " SELECT h.seq, h.hash INTO head_seq, head_hash"
                    " FROM twpolicy_consent_head h WHERE h.one = 1 FOR UPDATE;"
                    " IF NOT FOUND OR head_seq <> expected_seq OR head_hash <> expected_hash THEN"
                    " RAISE EXCEPTION 'the consent ledger moved on'"
                    " USING ERRCODE = 'serialization_failure'; END IF;"
                    " INSERT INTO twpolicy_consent_events (seq, event, record_id, user_id, at,"
                    " closes, body, prev_hash, hash, user_prev, key_id, mac)"
                    " SELECT * FROM unnest(seqs, events, record_ids, user_ids, ats, closes,"
                    " bodies, prevs, hashes, user_prevs, key_ids, macs);"
                    " UPDATE twpolicy_consent_head h SET seq = seqs[n], hash = hashes[n],"
                    " key_id = head_key_id, mac = head_mac WHERE h.one = 1;"
                    " INSERT INTO twpolicy_consent_subjects (user_id, seq, hash, count, key_id,"
                    " mac) SELECT * FROM unnest(s_users, s_seqs, s_hashes, s_counts, s_key_ids,"
                    " s_macs) ON CONFLICT (user_id) DO UPDATE SET seq = excluded.seq,"
                    " hash = excluded.hash, count = excluded.count, key_id = excluded.key_id,"
                    " mac = excluded.mac;"
                    " PERFORM pg_notify(channel, payload); END $$"
                ),
            ),
        ),
    ),
)

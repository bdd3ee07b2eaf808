"""The SQLite and PostgreSQL backend: the events table, its head row, and how to append.

SQLite appends under its write lock. PostgreSQL appends in one statement, the PL/pgSQL
function ``twpolicy_consent_append``, that numbers and hashes the events itself (as
`twpolicy._stores._consent._events.row_hash` does) and, given the head a plan read, fails if
the head moved meanwhile; after losing a few such races a writer holds the head row's lock.
The tables refuse ``UPDATE`` and ``DELETE``, so changing history takes a deliberate act.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from twpolicy._stores._consent._backend import Append, Tx
from twpolicy._stores._consent._events import (
    COLUMNS,
    Pending,
    Row,
    chain,
    row_from_db,
    row_hash,
    stored_fields,
)
from twpolicy._stores._sql import Database, Migration, Schema, WriteConflict
from twpolicy.exceptions import StoreUnavailable

__all__ = ["SCHEMA", "SqlStore"]

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

    def _rows(self, where: str, params: Sequence[Any], tail: str = "") -> list[Row]:
        sql = f"SELECT {COLUMNS} FROM {_T} e WHERE {where} ORDER BY e.seq{tail}"  # noqa: S608  # constant SQL; values are bound
        return [row_from_db(values) for values in self._tx.all(sql, params)]

    def head(self, *, lock: bool = False) -> tuple[int, str]:
        """The last event's position and hash; ``lock``: hold them until the commit."""
        sql = "SELECT seq, hash FROM twpolicy_consent_head WHERE one = 1"
        if lock and self._tx.dialect == "postgresql":
            sql += " FOR UPDATE"  # SQLite's write lock already covers the whole file
        row = self._tx.one(sql)
        if row is None:
            raise StoreUnavailable("the consent ledger's head row is missing: run verify")
        return int(row[0]), str(row[1])

    def user_rows(self, user_id: str, *, open_only: bool) -> list[Row]:
        where = "e.user_id = ?" + (f" AND {_OPEN}" if open_only else "")
        return self._rows(where, (user_id,))

    def record_rows(self, record_id: str) -> list[Row]:
        return self._rows("e.record_id = ?", (record_id,))

    def open_rows(self) -> list[Row]:
        return self._rows(_OPEN, ())

    def scan(self, after: int, limit: int) -> list[Row]:
        return self._rows("e.seq > ?", (after, limit), " LIMIT ?")

    def insert(self, rows: Sequence[Row]) -> None:
        """SQLite, under the write lock: insert the rows and move the head to the last."""
        self._tx.executemany(
            f"INSERT INTO {_T} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608  # constant SQL
            [(*row[:5], int(row.closes), *row[6:]) for row in rows],
        )
        self._tx.execute(
            "UPDATE twpolicy_consent_head SET seq = ?, hash = ? WHERE one = 1",
            (rows[-1].seq, rows[-1].hash),
        )

    def chain(
        self, pending: Sequence[Pending], at: datetime, head: tuple[int, str] | None
    ) -> list[Row]:
        """PostgreSQL: append in one statement that numbers and hashes the events itself.

        The head's row lock is held only inside that statement. With ``head``, the statement
        fails with a serialisation error if the head is no longer there: the events were
        planned from what the ledger held then.
        """
        columns = [list(c) for c in zip(*(stored_fields(p, 0, at) for p in pending), strict=True)]
        expected = (None, None) if head is None else head
        answer = self._tx.all(
            "SELECT * FROM twpolicy_consent_append(?::bigint, ?::text, ?::text[], ?::text[],"
            " ?::text[], ?::text[], ?::integer[], ?::text[])",
            (*expected, *columns[1:5], [int(c) for c in columns[5]], columns[6]),
        )
        rows = []
        for item, (seq, prev, digest) in zip(pending, answer, strict=True):
            fields = stored_fields(item, int(seq), at)
            if row_hash(prev, fields) != digest:
                raise StoreUnavailable(
                    "the consent ledger's PostgreSQL function hashes events differently from "
                    "this twpolicy; nothing more can be verified. Check the database encoding "
                    "is UTF8 and that both run the same twpolicy version."
                )
            rows.append(Row(*fields, prev, digest))
        return rows


class SqlStore:
    """Events in a SQLite file or a PostgreSQL database, shared by processes."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @contextmanager
    def reading(self, *, snapshot: bool = False) -> Iterator[Tx]:
        """Reads: one snapshot (a read-only transaction), or statements on their own."""
        database = self._database
        with database.read() if snapshot else database.statements() as tx:
            yield _SqlTx(tx)

    def append(self, append: Append) -> list[Row]:
        """Run the plan and append its events after the head it read from."""
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
                rows = chain(pending, at, head)
                sql.insert(rows)
        except WriteConflict:  # with the head held, only events beyond it can be in the way
            raise StoreUnavailable(
                f"consent ledger at {database.url.display} could not write: it holds events "
                "beyond its head, added behind twpolicy's back; run `twpolicy consent verify`. "
                "Nothing was written."
            ) from None
        return rows

    def _append_optimistically(self, append: Append) -> list[Row] | None:
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

    def _attempt(self, append: Append) -> list[Row] | None:
        try:
            with self._database.statements() as tx:
                sql = _SqlTx(tx)
                head = sql.head() if append.reads else None
                at, pending = append.plan(sql)
                return sql.chain(pending, at, head) if pending else []
        except WriteConflict:
            return None

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
                # One event's part of the hash material: see row_hash.
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

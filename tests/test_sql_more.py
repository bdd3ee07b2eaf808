"""The SQL layer's small promises: a password holding a raw ``?`` is still hidden, a
database prints where it is and whether it is read-only, SQLite writers take turns, and
changes are noticed from SQLite's wal-index header."""

import fcntl
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy import ConfigurationError, StoreUnavailable
from twpolicy._stores._consent._sql_backend import SCHEMA
from twpolicy._stores._sql import _ChangeMarker, open_database, parse_url, redact


class TestPasswords:
    def test_a_raw_question_mark_in_a_password_is_hidden(self):
        """``user:pa?ss@host``: the ``@`` after the ``?`` still ends the user-info."""
        assert ("postgresql://bob:***@db.example/app", ("pa?ss",)) == redact(
            "postgresql://bob:pa?ss@db.example/app"
        )

    def test_a_malformed_url_is_refused_without_its_password(self):
        """A URL refused as malformed is quoted with its password hidden."""
        with pytest.raises(ConfigurationError) as caught:
            parse_url("postgresql://bob:pa?ss@db.example/app", what="consent ledger")
        assert "pa?ss" not in str(caught.value)
        assert "'postgresql://bob:***@db.example/app' is malformed" in str(caught.value)


def test_a_read_only_database_says_so(tmp_path):
    """A database opened read-only prints its store, URL and mode."""
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    twpolicy.open_ledger(url).close()
    database = open_database(parse_url(url), SCHEMA, create=False, read_only=True)
    try:
        assert f"<twpolicy {SCHEMA.what} database {url!r}, read-only>" == repr(database)
    finally:
        database.close()


WORKER = Path(__file__).with_name("sql_worker.py")


@contextmanager
def workers(mode, path, hold, count):
    """``count`` worker processes, each having printed its first line; killed on exit."""
    started = [
        subprocess.Popen(
            [sys.executable, str(WORKER), mode, str(path), str(hold)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        for worker in started:
            assert worker.stdout.readline().strip() in {"ready", "holding"}
        yield started
    finally:
        for worker in started:
            worker.kill()
            worker.communicate()


class TestWriterTurns:
    """Writers to one SQLite file take turns: a waiter is not starved by busy writers."""

    @pytest.mark.slow
    def test_a_writer_gets_its_turn_among_writers_writing_back_to_back(self, tmp_path):
        """3 processes write back to back, each write 20 ms; 30 writes here, 2 s timeout."""
        path = tmp_path / "store.db"
        open_database(parse_url(f"sqlite:///{path}"), SCHEMA).close()
        database = open_database(parse_url(f"sqlite:///{path}?timeout=2"), SCHEMA)
        try:
            with workers("hog", path, 0.02, 3):
                for i in range(30):
                    with database.write() as tx:
                        tx.execute(
                            "INSERT INTO twpolicy_schema (component, version, migrated_at,"
                            " migrated_by) VALUES (?, 0, '', '')",
                            (f"turn-{i}",),
                        )
            with database.read() as tx:
                rows = tx.all(
                    "SELECT component FROM twpolicy_schema WHERE component LIKE ?", ("turn-%",)
                )
            assert 30 == len(rows)
        finally:
            database.close()

    def test_a_turn_that_does_not_come_in_time_is_a_locked_store(self, tmp_path):
        """Another process holding a write: StoreUnavailable after the URL's timeout, the
        waiting thread does not keep the file open, and the next write goes through."""
        path = tmp_path / "store.db"
        open_database(parse_url(f"sqlite:///{path}"), SCHEMA).close()
        database = open_database(parse_url(f"sqlite:///{path}?timeout=0.2"), SCHEMA)
        try:
            with workers("hold", path, 3, 1) as (holder,):
                with (
                    pytest.raises(StoreUnavailable, match="raise \\?timeout= in the URL"),
                    database.write(),
                ):
                    pass
                holder.wait(timeout=30)
            for thread in threading.enumerate():  # the abandoned wait ends once the turn comes
                if thread.name == "twpolicy-writer-turn":
                    thread.join(timeout=30)
            assert not [fd for fd in Path("/proc/self/fd").iterdir() if _names(fd, path)]
            with database.write() as tx:
                tx.execute("DELETE FROM twpolicy_schema WHERE component = 'nothing'")
        finally:
            database.close()

    def test_the_turn_is_given_back_when_a_write_fails(self, tmp_path):
        """A write that raises gives its turn back: another process can write at once."""
        path = tmp_path / "store.db"
        database = open_database(parse_url(f"sqlite:///{path}"), SCHEMA)
        try:
            with pytest.raises(ZeroDivisionError), database.write():
                1 / 0  # noqa: B018  # a failure inside the transaction
            lock = os.open(f"{path}-writer", os.O_RDWR)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: nobody holds it
            finally:
                os.close(lock)
        finally:
            database.close()
        assert not [fd for fd in Path("/proc/self/fd").iterdir() if _names(fd, path)]


def _names(fd, path, suffix="-writer"):
    """Whether the open file descriptor ``fd`` (a /proc entry) is ``path`` + ``suffix``."""
    try:
        return str(fd.readlink()) == f"{path}{suffix}"
    except OSError:
        return False


def _commit_elsewhere(path):
    """One commit by a plain sqlite3 connection: a writer that is not twpolicy."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
        other.execute("INSERT INTO scratch VALUES (1)")
    finally:
        other.close()


@contextmanager
def _database(directory):
    """A SQLite store at ``directory``/store.db, kept open by another connection too (so
    its WAL stays, as with any shared store)."""
    path = Path(directory) / "store.db"
    database = open_database(parse_url(f"sqlite:///{path}"), SCHEMA)
    try:
        yield path, database
    finally:
        database.close()


def _statements(database):
    """The statements the database's connection runs from now on."""
    ran = []
    database.changes()  # the connection and its poller exist
    database._connection.set_trace_callback(ran.append)
    return ran


class TestChangeMarker:
    """`Database.changes` asks SQLite only when the wal-index header moved."""

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=12))
    def test_every_commit_elsewhere_moves_the_token(self, commits):
        """Between polls, N commits by another connection: the token moves iff N > 0."""
        with (
            tempfile.TemporaryDirectory() as directory,
            _database(directory) as (path, db),
            pytest.MonkeyPatch.context() as patch,
        ):
            patch.setattr(_ChangeMarker, "recheck", 1e9)  # the header alone decides
            before = db.changes()
            for count in commits:
                for _ in range(count):
                    _commit_elsewhere(path)
                after = db.changes()
                assert (after != before) == (count > 0)
                before = after

    def test_an_unchanged_store_asks_sqlite_nothing(self, tmp_path, monkeypatch):
        """Polls of a store nobody changed run no statement: one pread each."""
        monkeypatch.setattr(_ChangeMarker, "recheck", 1e9)
        with _database(tmp_path) as (path, db):
            ran = _statements(db)
            tokens = {db.changes() for _ in range(50)}
            assert ([], 1) == (ran, len(tokens))
            _commit_elsewhere(path)
            db.changes()
            assert ["PRAGMA data_version"] == ran

    def test_sqlite_is_asked_again_after_recheck_seconds(self, tmp_path, monkeypatch):
        """The second line: with the header unchanged, SQLite is still asked every
        ``recheck`` seconds (here: every poll)."""
        monkeypatch.setattr(_ChangeMarker, "recheck", 0.0)
        with _database(tmp_path) as (_, db):
            ran = _statements(db)
            for _ in range(5):
                db.changes()
            assert ["PRAGMA data_version"] * 5 == ran

    def test_a_commit_while_sqlite_is_asked_is_not_lost(self, tmp_path, monkeypatch):
        """A commit landing right after the header was read shows in this poll's token or,
        at the latest, in the next one's."""
        monkeypatch.setattr(_ChangeMarker, "recheck", 1e9)
        with _database(tmp_path) as (path, db):
            before = db.changes()
            read = db._marker.read

            def read_then_commit():
                header = read()
                _commit_elsewhere(path)
                return header

            monkeypatch.setattr(db._marker, "read", read_then_commit)
            during = db.changes()
            monkeypatch.setattr(db._marker, "read", read)
            after = db.changes()
            assert during in {before, after}
            assert after != before

    def test_without_a_readable_header_sqlite_is_asked_every_time(self, tmp_path):
        """No ``-shm`` to read (closed, or never made): every poll asks SQLite, and commits
        elsewhere are still seen."""
        assert _ChangeMarker(str(tmp_path / "nothing-shm")).read() is None
        with _database(tmp_path) as (path, db):
            ran = _statements(db)
            db._marker.close()
            first = db.changes()
            _commit_elsewhere(path)
            assert first != db.changes()
            assert ["PRAGMA data_version"] * 2 == ran

    def test_closing_releases_the_header(self, tmp_path):
        """The marker's descriptor goes with the database."""
        with _database(tmp_path) as (path, db):
            db.changes()
        assert not [fd for fd in Path("/proc/self/fd").iterdir() if _names(fd, path, "-shm")]


def _shm_locks(path):
    """This process's POSIX locks on ``path``-shm, from /proc/locks (Linux)."""
    inode = Path(f"{path}-shm").stat().st_ino
    with Path("/proc/locks").open() as locks:
        return [
            line for line in locks if f":{inode} " in line and f" {os.getpid()} " in f" {line} "
        ]


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads /proc/locks (Linux)")
class TestShmLocks:
    """The change marker never drops the locks SQLite holds on the ``-shm`` file."""

    def test_closing_one_database_keeps_the_others_locks(self, tmp_path):
        """Two databases on one file in one process: closing the one that polled leaves the
        other's shared lock on the ``-shm`` file (a descriptor closed would drop it)."""
        path = tmp_path / "store.db"
        url = parse_url(f"sqlite:///{path}")
        keeper = open_database(url, SCHEMA)
        poller = open_database(url, SCHEMA)
        try:
            with keeper.read() as tx:
                tx.one("SELECT 1")
            poller.changes()
            held = _shm_locks(path)
            assert held
            poller.close()
            assert held == _shm_locks(path)
        finally:
            keeper.close()
            poller.close()

    def test_reconnecting_keeps_the_locks(self, tmp_path):
        """A database that reconnects (its marker opened afresh) keeps SQLite's locks."""
        path = tmp_path / "store.db"
        database = open_database(parse_url(f"sqlite:///{path}"), SCHEMA)
        try:
            database.changes()
            database._drop_connection()
            database.changes()
            assert _shm_locks(path)
        finally:
            database.close()

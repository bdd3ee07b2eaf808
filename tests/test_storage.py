import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import twpolicy
from twpolicy._stores._sql import (
    DEFAULT_TIMEOUT,
    Migration,
    Schema,
    WriteConflict,
    open_database,
    parse_url,
)

PROJECT = Path(__file__).resolve().parent.parent

CREATE = "CREATE TABLE test_items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"
V1 = Schema("test", "test ledger", (Migration(sqlite=(CREATE,), postgresql=(CREATE,)),))
ADD = "ALTER TABLE test_items ADD COLUMN note TEXT NOT NULL DEFAULT ''"
V2 = Schema("test", "test ledger", (*V1.migrations, Migration(sqlite=(ADD,), postgresql=(ADD,))))


@pytest.fixture(
    name="url", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def _url(request, tmp_path):
    """A fresh SQLite file or PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


def database(url, schema=V1, **kwargs):
    """Open ``url`` for ``schema``."""
    return open_database(parse_url(url), schema, **kwargs)


def explode(_tx):
    """Fail in the middle of a transaction."""
    raise RuntimeError("midway")


def with_option(url, option):
    return f"{url}{'&' if '?' in url else '?'}{option}"


class TestParseUrl:
    @pytest.mark.parametrize(
        ("url", "path"),
        [
            ("sqlite:///consent.db", Path("consent.db")),
            ("sqlite:///data/consent.db", Path("data/consent.db")),
            ("sqlite:////var/lib/consent.db", Path("/var/lib/consent.db")),
            ("sqlite:////srv/my%20ledger.db", Path("/srv/my ledger.db")),
        ],
    )
    def test_sqlite_paths(self, url, path):
        """Three slashes start a relative path, four an absolute one, as in SQLAlchemy."""
        parsed = parse_url(url)
        assert ("sqlite", path, DEFAULT_TIMEOUT) == (parsed.scheme, parsed.path, parsed.timeout)

    @pytest.mark.parametrize(
        "scheme", ["postgresql", "postgres", "postgresql+psycopg", "POSTGRESQL"]
    )
    def test_postgresql_spellings(self, scheme):
        """postgres:// and SQLAlchemy's driver suffix mean the same."""
        parsed = parse_url(f"{scheme}://app@db:5433/ledger?sslmode=require&schema=tw&timeout=2")
        assert "postgresql" == parsed.scheme
        assert "postgresql://app@db:5433/ledger?sslmode=require" == parsed.conninfo
        assert ("tw", 2.0) == (parsed.schema, parsed.timeout)

    def test_caller_options(self):
        """A ledger's own options are kept for it and parsed as numbers on request."""
        parsed = parse_url("sqlite:///c.db?cache_ttl=0.5", options=("cache_ttl",))
        assert 0.5 == parsed.number("cache_ttl", 1.0)
        assert 7.0 == parse_url("memory://", options=("cache_ttl",)).number("cache_ttl", 7.0)

    def test_password_is_hidden(self):
        """The display form of a URL never shows the password."""
        parsed = parse_url("postgresql://app:s3cret@db/ledger")
        assert "postgresql://app:***@db/ledger" == str(parsed)
        assert "s3cret" in parsed.conninfo

    @pytest.mark.parametrize(
        ("url", "match"),
        [
            (3, "must be a string"),
            ("redis://localhost/0", "unknown test ledger URL"),
            ("consent.db", "unknown"),
            ("sqlite:consent.db", "unknown"),
            ("sqlite://host/consent.db", "has no host"),
            ("sqlite://", "names no SQLite file"),
            ("sqlite:///", "names no SQLite file"),
            ("sqlite:///:memory:", "memory://"),
            ("sqlite:///dir/", "names no SQLite file"),
            ("memory://somewhere", "takes no host"),
            ("sqlite:///c.db?cache=1", "unknown option 'cache'; known options: timeout"),
            ("memory://?timeout=1", "unknown option"),
            ("sqlite:///c.db?timeout=1&timeout=2", "repeats"),
            ("sqlite:///c.db?timeout=soon", "timeout='soon'"),
            ("sqlite:///c.db?timeout=-1", "timeout='-1'"),
            ("sqlite:///c.db?timeout=nan", "timeout='nan'"),
            ("postgresql://db/x?schema=Bad-Name", "lower-case SQL identifier"),
            ("sqlite:///c.db?timeout", "malformed"),
        ],
    )
    def test_bad_urls(self, url, match):
        """Malformed URLs and options are ConfigurationErrors that say what is wrong."""
        with pytest.raises(twpolicy.ConfigurationError, match=match):
            parse_url(url, what="test ledger")

    def test_memory_is_not_a_database(self):
        """open_database leaves memory:// to the ledger."""
        with pytest.raises(twpolicy.ConfigurationError):
            open_database(parse_url("memory://"), V1)


class TestDatabase:
    def test_creates_tables_and_records_the_version(self, url):
        """Opening creates the component's tables and records its version and writer."""
        db = database(url)
        with db.write() as tx:
            tx.execute("INSERT INTO test_items (id, name) VALUES (?, ?)", (1, "one"))
        with db.read() as tx:
            assert [(1, "one")] == tx.all("SELECT id, name FROM test_items")
            version, by = tx.one("SELECT version, migrated_by FROM twpolicy_schema")
        assert (1, f"twpolicy {twpolicy.__version__}") == (version, by)
        db.close()
        database(url).close()  # reopening applies nothing twice

    def test_migrates_forward_keeping_data(self, url):
        """A store at version 1 opened by a schema at version 2 gains the new column."""
        with database(url).write() as tx:
            tx.execute("INSERT INTO test_items (id, name) VALUES (1, 'kept')")
        db = database(url, V2)
        with db.read() as tx:
            assert [(1, "kept", "")] == tx.all("SELECT id, name, note FROM test_items")
            assert (2,) == tx.one("SELECT version FROM twpolicy_schema WHERE component = 'test'")
        db.close()

    def test_refuses_a_newer_store(self, url):
        """A store migrated by a newer schema is refused: upgrade, nothing read or written."""
        database(url, V2).close()
        with pytest.raises(twpolicy.StoreUnavailable, match=r"schema version 2.*up to 1.*Upgrade"):
            database(url, V1)

    def test_components_are_independent(self, url):
        """Two components share the version table, each with its own row."""
        other = Schema(
            "other",
            "other ledger",
            (
                Migration(
                    sqlite=("CREATE TABLE other_t (x INTEGER)",),
                    postgresql=("CREATE TABLE other_t (x INTEGER)",),
                ),
            ),
        )
        database(url).close()
        db = database(url, other)
        with db.read() as tx:
            assert [("other", 1), ("test", 1)] == tx.all(
                "SELECT component, version FROM twpolicy_schema ORDER BY component"
            )
        db.close()

    def test_absent_store_with_create_false(self, url):
        """create=False refuses a store that holds no such ledger."""
        with pytest.raises(twpolicy.StoreUnavailable, match="there is no test ledger"):
            database(url, create=False)

    def test_write_is_all_or_nothing(self, url):
        """An error inside a write leaves nothing behind; the database stays usable."""
        db = database(url)

        def fail_midway(then):
            with db.write() as tx:
                tx.execute("INSERT INTO test_items (id, name) VALUES (1, 'lost')")
                then(tx)

        with pytest.raises(RuntimeError):
            fail_midway(explode)
        with pytest.raises(twpolicy.StoreUnavailable, match="could not write"):
            fail_midway(lambda tx: tx.execute("INSERT INTO no_such_table VALUES (1)"))
        with db.read() as tx:
            assert [] == tx.all("SELECT * FROM test_items")
        db.close()

    def test_a_held_write_lock_times_out(self, url):
        """A writer that waits longer than ?timeout= gets StoreUnavailable, not a hang."""
        holder = database(url)
        waiter = database(with_option(url, "timeout=0.2"))
        with holder.write() as tx:
            tx.execute("INSERT INTO test_items (id, name) VALUES (1, 'held')")
            with (
                pytest.raises(twpolicy.StoreUnavailable, match=r"held the .*lock"),
                waiter.write() as other,
            ):
                other.execute("INSERT INTO test_items (id, name) VALUES (2, 'waits')")
        with waiter.write() as tx:  # the waiter's connection is still good
            tx.execute("INSERT INTO test_items (id, name) VALUES (3, 'later')")
        with waiter.read() as tx:
            assert [(1,), (3,)] == tx.all("SELECT id FROM test_items ORDER BY id")
        holder.close()
        waiter.close()

    def test_statements_commit_one_by_one(self, url):
        """statements() runs each statement in its own transaction."""
        db = database(url)

        def two_statements():
            with db.statements() as tx:
                tx.execute("INSERT INTO test_items (id, name) VALUES (1, 'stays')")
                tx.execute("INSERT INTO no_such_table VALUES (1)")

        with pytest.raises(twpolicy.StoreUnavailable):
            two_statements()
        with db.read() as tx:
            assert [(1,)] == tx.all("SELECT id FROM test_items")
        db.close()

    def test_durability_settings(self, url):
        """SQLite runs in WAL mode with synchronous=FULL; PostgreSQL commits synchronously."""
        db = database(url)
        with db.statements() as tx:
            if tx.dialect == "sqlite":
                assert ("wal",) == tx.one("PRAGMA journal_mode")
                assert (2,) == tx.one("PRAGMA synchronous")
            else:
                assert ("on",) == tx.one("SHOW synchronous_commit")
                assert ("10s",) == tx.one("SHOW lock_timeout")
        db.close()

    def test_a_forked_child_uses_its_own_connection(self, url):
        """After a fork the child opens its own connection; the parent's keeps working."""
        db = database(url)
        with db.write() as tx:
            tx.execute("INSERT INTO test_items (id, name) VALUES (1, 'parent')")
        pid = os.fork()
        if pid == 0:  # pragma: no cover  # the child
            code = 1
            try:
                with db.write() as tx:
                    tx.execute("INSERT INTO test_items (id, name) VALUES (2, 'child')")
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert 0 == os.waitstatus_to_exitcode(status)
        with db.read() as tx:
            assert [(1,), (2,)] == tx.all("SELECT id FROM test_items ORDER BY id")
        db.close()


class TestSqlite:
    def test_not_a_database(self, tmp_path):
        """A file that is not SQLite is StoreUnavailable naming it, and is left alone."""
        path = tmp_path / "store.db"
        path.write_text("hello", encoding="utf-8")
        with pytest.raises(twpolicy.StoreUnavailable, match=r"store\.db is corrupt"):
            database(f"sqlite:///{path}")
        assert "hello" == path.read_text(encoding="utf-8")

    def test_missing_directory(self, tmp_path):
        """A file in a directory that does not exist is StoreUnavailable saying so."""
        with pytest.raises(twpolicy.StoreUnavailable, match="exists"):
            database(f"sqlite:///{tmp_path}/nope/store.db")

    def test_an_empty_file_becomes_a_store(self, tmp_path):
        """A zero-byte file is an empty SQLite database: it is set up, not refused."""
        path = tmp_path / "store.db"
        path.touch()
        database(f"sqlite:///{path}").close()
        assert sqlite3.connect(path).execute("SELECT count(*) FROM test_items").fetchone() == (0,)


@pytest.mark.postgresql
class TestPostgresql:
    def test_schema_is_created(self, postgres_url):
        """?schema= puts the tables in that schema, creating it."""
        import psycopg  # noqa: PLC0415  # PostgreSQL tests only

        database(postgres_url).close()
        base, schema = postgres_url.rsplit("schema=", 1)
        with psycopg.connect(base.rstrip("?&")) as connection:
            found = connection.execute(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'test_items'"
            ).fetchall()
        assert (schema,) in found

    def test_reconnects_after_the_server_drops_it(self, postgres_url):
        """A dropped connection fails the call under way, and the next one reconnects."""
        import psycopg  # noqa: PLC0415  # PostgreSQL tests only

        db = database(postgres_url)
        with db.statements() as tx:
            (pid,) = tx.one("SELECT pg_backend_pid()")
        base = postgres_url.rsplit("schema=", 1)[0].rstrip("?&")
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(twpolicy.StoreUnavailable, match="server is running"), db.read() as tx:
            tx.all("SELECT * FROM test_items")
        with db.read() as tx:
            assert [] == tx.all("SELECT * FROM test_items")
        db.close()

    def test_non_exclusive_writers_conflict(self, postgres_url):
        """Without the lock, a writer that loses a race on a key gets WriteConflict."""
        first, second = database(postgres_url), database(postgres_url)
        with first.write(exclusive=False) as tx:
            tx.execute("INSERT INTO test_items (id, name) VALUES (1, 'first')")
        with pytest.raises(WriteConflict), second.write(exclusive=False) as tx:
            tx.execute("INSERT INTO test_items (id, name) VALUES (1, 'second')")
        first.close()
        second.close()


class TestPostgresqlWithoutServer:
    def test_unreachable_server(self):
        """No server at the address: StoreUnavailable naming it, saying what to check."""
        with pytest.raises(twpolicy.StoreUnavailable, match=r"127\.0\.0\.1:1/x could not open"):
            database("postgresql://nobody@127.0.0.1:1/x")

    def test_without_psycopg(self, monkeypatch):
        """A PostgreSQL URL without psycopg installed says which extra to install."""
        monkeypatch.setitem(sys.modules, "psycopg", None)
        with pytest.raises(twpolicy.ConfigurationError, match=r"twpolicy\[postgresql\]"):
            database("postgresql://nobody@127.0.0.1:1/x")


def test_memory_and_sqlite_do_not_import_psycopg(tmp_path):
    """psycopg is loaded only when a PostgreSQL store is opened."""
    code = (
        "import sys, twpolicy; twpolicy.open_ledger('memory://');"
        f"twpolicy.open_ledger('sqlite:///{tmp_path}/c.db').close();"
        "print('psycopg' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT / "src")},
    )
    assert "False\n" == done.stdout

"""The SQL layer's small promises: a password holding a raw ``?`` is still hidden, and a
database prints where it is and whether it is read-only."""

import pytest

import twpolicy
from twpolicy import ConfigurationError
from twpolicy._stores._consent._sql_backend import SCHEMA
from twpolicy._stores._sql import open_database, parse_url, redact


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

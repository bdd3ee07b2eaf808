"""The small stores (keys, user tokens, decision files) and the quota ledger: what they print,
what they refuse, and what survives closing, reopening and another writer."""

import json
import sqlite3

import pytest

import twpolicy
from twpolicy import Action, ActionKind, ConfigurationError, DecisionFile, Guard
from twpolicy._stores._keys import key_fingerprint, use_case_name
from twpolicy._stores._time import utc

USER = "2244994945"


def decide(guard, user=USER):
    return guard.check(
        Action(kind=ActionKind.API_CALL, operation="GET /2/users/me", acting_user_id=user)
    )


class TestKeyStore:
    def test_repr_names_the_store(self, tmp_path):
        """A key store prints its URL; memory stores say so."""
        assert "twpolicy.KeyStore('memory://')" == repr(twpolicy.open_keys("memory://"))
        path = tmp_path / "keys.db"
        store = twpolicy.open_keys(f"sqlite:///{path}")
        try:
            assert f"twpolicy.KeyStore('sqlite:///{path}')" == repr(store)
        finally:
            store.close()

    def test_a_binding_survives_closing(self, tmp_path):
        """A binding made before close is read back by a store opened afterwards."""
        url = f"sqlite:///{tmp_path / 'keys.db'}"
        store = twpolicy.open_keys(url)
        store.bind("consumer-key", use_case="bot", environment="production")
        store.close()
        again = twpolicy.open_keys(url, create=False)
        try:
            assert "bot" == again.binding("consumer-key").use_case
        finally:
            again.close()

    def test_closing_a_memory_store_is_harmless(self):
        """close() on a memory store does nothing and keeps its bindings."""
        store = twpolicy.open_keys("memory://")
        store.bind("consumer-key", use_case="bot", environment="production")
        store.close()
        assert "bot" == store.binding("consumer-key").use_case

    @pytest.mark.parametrize("value", ["", "  ", "tab\there", 7])
    def test_use_case_names_must_be_printable_text(self, value):
        """An empty, blank, unprintable or non-text use case is refused, quoting it."""
        with pytest.raises(ConfigurationError, match="must be a non-empty printable string"):
            use_case_name(value, "use_case")

    def test_an_empty_consumer_key_has_no_fingerprint(self):
        """A blank consumer key is refused rather than fingerprinted."""
        with pytest.raises(ConfigurationError, match="a consumer key must be a non-empty string"):
            key_fingerprint("   ")


class TestUserTokens:
    def test_repr_names_the_store(self):
        """A user-token store prints its URL."""
        assert "twpolicy.UserTokens('memory://')" == repr(twpolicy.open_user_tokens("memory://"))

    def test_a_user_counted_by_another_process_is_known(self, tmp_path):
        """A user recorded through one connection is known through another, and stays known."""
        url = f"sqlite:///{tmp_path / 'tokens.db'}"
        writer, reader = twpolicy.open_user_tokens(url), twpolicy.open_user_tokens(url)
        try:
            assert not reader.known(USER)
            writer.record(USER)
            assert reader.known(USER)
            writer.close()
            assert reader.known(USER)
            assert 1 == reader.count()
        finally:
            reader.close()


class TestDecisionFile:
    def test_repr_and_context_manager(self, tmp_path):
        """A decision file prints its path and closes when its with block ends."""
        path = tmp_path / "decisions.jsonl"
        with DecisionFile(path) as sink:
            assert f"twpolicy.DecisionFile({str(path)!r})" == repr(sink)
            decide(Guard(sinks=[sink], mode="monitor"))
        assert 1 == len(path.read_text().splitlines())

    def test_a_file_replaced_by_another_writer_is_reopened(self, tmp_path):
        """When another process rotates the log away, the next decision goes to the new file."""
        path = tmp_path / "decisions.jsonl"
        sink = DecisionFile(path)
        guard = Guard(sinks=[sink], mode="monitor")
        try:
            decide(guard, "1")
            path.replace(tmp_path / "decisions.jsonl.1")
            path.write_text("")
            decide(guard, "2")
        finally:
            sink.close()
        assert ["1"] == [
            json.loads(line)["acting_user_id"]
            for line in (tmp_path / "decisions.jsonl.1").read_text().splitlines()
        ]
        assert ["2"] == [
            json.loads(line)["acting_user_id"] for line in path.read_text().splitlines()
        ]


def test_quota_ledger_repr_names_its_store():
    """A quota ledger prints its URL."""
    with twpolicy.open_quotas("memory://") as ledger:
        assert "twpolicy.QuotaLedger('memory://')" == repr(ledger)


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00Z", 1_700_000_000, None])
def test_utc_refuses_what_is_not_a_datetime(value):
    """A time given as text, a number or nothing is refused, naming its type."""
    with pytest.raises(
        ConfigurationError, match=f"expected a datetime, got {type(value).__name__}"
    ):
        utc(value)


def test_closing_a_memory_token_store_keeps_its_users():
    """close() on a memory user-token store does nothing: its users are still counted."""
    tokens = twpolicy.open_user_tokens("memory://")
    tokens.record(USER)
    tokens.close()
    assert tokens.known(USER)


def test_a_damaged_reservation_is_refused(tmp_path):
    """A reservation row changed behind the ledger's back is refused, not trusted."""
    path = tmp_path / "quotas.db"
    with twpolicy.open_quotas(f"sqlite:///{path}") as ledger:
        reservation = ledger.reserve("lab", tweet_ids=5)
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE twpolicy_quota_reservations SET entries = '[[1]]'")
        connection.close()
        with pytest.raises(twpolicy.StoreUnavailable) as caught:
            ledger.release(reservation.reservation_id)
    message = str(caught.value)
    assert f"the quota ledger's reservation {reservation.reservation_id} is damaged" in message
    assert "restore the ledger from a backup. Nothing was decided." in message

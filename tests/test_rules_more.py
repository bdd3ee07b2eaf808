"""Small pieces the rules share: remedies that name a store so they run as printed, the
query texts an action carries, and the counts a quota reservation holds."""

import os
import shlex

import pytest

from twpolicy import Action, ActionKind
from twpolicy._model import ReserveQuota
from twpolicy.rules._purposes import queries
from twpolicy.rules._redistribution import reserved_counts
from twpolicy.rules._remedies import shell_store


class Store:
    """A ledger as the remedies see it: only its URL."""

    def __init__(self, url):
        self.url = url


class TestShellStore:
    def test_a_hidden_password_is_left_to_the_environment(self):
        """A URL whose password is hidden is named by its environment variable, quoted."""
        store = Store("postgresql://bob:***@db.example/app")
        assert ' --quota-db "$TWPOLICY_QUOTA_DB"' == shell_store(
            store, "--quota-db", "TWPOLICY_QUOTA_DB"
        )

    def test_a_relative_sqlite_path_is_made_absolute(self):
        """A relative SQLite path is printed absolute: the shell may be elsewhere."""
        store = Store("sqlite:///state/quotas.db?timeout=5")
        absolute = f"sqlite:///{os.path.abspath('state/quotas.db')}?timeout=5"  # noqa: PTH100
        expected = f" --quota-db {shlex.quote(absolute)}"
        assert expected == shell_store(store, "--quota-db", "TWPOLICY_QUOTA_DB")

    @pytest.mark.parametrize("url", ["memory://", "", None])
    def test_a_store_no_command_can_reach(self, url):
        """memory:// or no URL at all: no flag to print."""
        assert shell_store(Store(url), "--quota-db", "TWPOLICY_QUOTA_DB") is None


class TestQueries:
    def search(self, payload, operation="POST /2/tweets/search/stream/rules"):
        action = Action(kind=ActionKind.API_CALL, operation=operation, payload=payload)
        return list(queries(action))

    def test_rules_given_as_text_or_objects(self):
        """Stream rules given as objects or as text are read; anything else is not text."""
        payload = {"add": [{"value": "riot"}, "strike", {"value": 7}, None]}
        assert ["riot", "strike"] == self.search(payload)

    def test_a_query_that_is_not_text(self):
        """A query that is neither text nor a list of rules carries no query text."""
        assert [] == self.search({"query": 42}, "GET /2/tweets/search/recent")


def test_hydrated_objects_count_against_who_asked():
    """A reservation for a person's request counts its objects against them as well."""
    obligation = ReserveQuota("lab", tweet_ids=3, hydrated_objects=2, requested_by="ana")
    assert {"tweet_ids": 3, "hydrated_objects": 2, "requested_objects": 2} == reserved_counts(
        obligation
    )

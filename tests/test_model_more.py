"""Corners of the model and the endpoint catalog: scopes given loosely, refusals with no
remedy, the shared cache of allows, and catalog lookups that must backtrack."""

import attrs
import pytest

import twpolicy
from twpolicy import Action, ActionKind, Guard, Outcome
from twpolicy._model import _ALLOWS, _SHARED_ALLOWS
from twpolicy._payloads._catalog import EndpointCatalog, endpoint_catalog
from twpolicy._payloads._shapes import loose_key


@attrs.frozen
class DenyWithoutRemedy:
    """A rule that refuses everything and has no remedy to offer."""

    id = "test.no_remedy"
    clause = "I.F.2"
    error = twpolicy.RedistributionError

    def evaluate(self, action, guard):
        return Outcome.deny("nope", "refused for the test.", "")


class TestAction:
    def test_one_scope_as_text_is_one_scope(self):
        """A single scope given as a string is that scope, not its letters."""
        assert (
            frozenset({"tweet.write"})
            == Action(
                kind=ActionKind.API_CALL, operation="POST /2/tweets", scopes="tweet.write"
            ).scopes
        )

    def test_no_scopes(self):
        """``scopes=None`` is no scopes."""
        assert (
            frozenset()
            == Action(kind=ActionKind.API_CALL, operation="POST /2/tweets", scopes=None).scopes
        )


class TestDecision:
    def test_a_refusal_without_a_remedy_offers_none(self):
        """explain() of a refusal with no remediation ends with its message, no "To fix"."""
        decision = Guard(rules=[DenyWithoutRemedy()], mode="monitor").check(
            Action(kind=ActionKind.API_CALL, operation="GET /2/users/me")
        )
        expected = (
            "GET /2/users/me refused under I.F.2 [test.no_remedy: nope]: refused for the test."
        )
        assert expected == decision.explain()


class TestSharedAllows:
    def test_equal_allows_are_one_object(self):
        """Two equal allows are the same object; different ones are not."""
        assert Outcome.allow("same_reason") is Outcome.allow("same_reason")
        assert Outcome.allow("same_reason") is not Outcome.allow("other_reason")

    def test_the_cache_is_bounded(self):
        """Past its bound, the cache of allows starts again rather than growing."""
        for n in range(_SHARED_ALLOWS + 1):
            Outcome.allow(f"reason_{n}")
        assert len(_ALLOWS) <= _SHARED_ALLOWS
        assert "reason_5" == Outcome.allow("reason_5").reason


class TestCatalog:
    def test_lookup_backtracks_from_a_literal_dead_end(self):
        """``/2/users/by/tweets`` is a user's timeline: ``by`` taken as an ID after all."""
        found = endpoint_catalog().lookup("GET", "/2/users/by/tweets")
        assert "GET /2/users/:id/tweets" == found.operation

    def test_writes_need_consent_and_reads_do_not(self):
        """An endpoint acting on a user's behalf needs consent; a public read does not."""
        catalog = endpoint_catalog()
        assert catalog.lookup("POST", "/2/tweets").needs_consent
        assert not catalog.lookup("GET", "/2/tweets/20").needs_consent

    def test_duplicate_entries_are_refused(self):
        """A catalog with one endpoint twice is a programming error, named."""
        first = endpoint_catalog().lookup("POST", "/2/tweets")
        with pytest.raises(ValueError, match="duplicate catalog entry POST /2/tweets"):
            EndpointCatalog((first, first))


class TestLooseKeys:
    @pytest.mark.parametrize(
        ("key", "expected"),
        [
            ("coordinates", "coordinates"),
            ("attribute:Street-Address", "street_address"),
            ("nothing", None),
            (7, None),
            (None, None),
        ],
    )
    def test_spellings_of_location_keys(self, key, expected):
        """A namespace, case and dashes do not hide a location key; non-text keys are none."""
        assert expected == loose_key(key)

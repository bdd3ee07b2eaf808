"""Sensitive characteristics: refused when keyed to individuals, allowed in the aggregate."""

import asyncio

import pytest

import twpolicy
from twpolicy._payloads._sensitive import SensitiveFinding, personal_keys, sensitive_findings
from twpolicy.testing import DecisionRecorder

USER = "2244994945"


@pytest.fixture(name="recorder")
def _recorder():
    """A sink that keeps every decision."""
    return DecisionRecorder()


@pytest.fixture(name="guard")
def _guard(recorder):
    """An enforcing guard with the built-in rules."""
    return twpolicy.Guard(sinks=[recorder])


class TestVocabulary:
    def test_eight_categories_each_with_its_clause(self):
        """Every category names its restricted-use clause, a to h."""
        assert 8 == len(twpolicy.SENSITIVE_CATEGORIES)
        assert [f"RU.sensitive-information.{c}" for c in "abcdefgh"] == list(
            twpolicy.SENSITIVE_CATEGORIES.values()
        )
        assert set(twpolicy.SENSITIVE_FIELDS.values()) == set(twpolicy.SENSITIVE_CATEGORIES)

    def test_personal_keys(self):
        """User ID fields, handles, long decimal keys and Twitter objects key data to people."""
        assert ["/0/user_id"] == personal_keys([{"user_id": USER, "score": 1}])
        assert ["/@ana"] == personal_keys({"@ana": 0.9})
        assert [f"/{USER}"] == personal_keys({USER: 0.9})
        assert ["(mapping key)"] == personal_keys(twpolicy._payloads._geo.MappingKey(USER, 1))
        tweet = {"id_str": "1000000000000000010", "text": "t", "user": {"id_str": USER}}
        assert "/" in personal_keys([tweet])[0]

    def test_aggregates_name_nobody(self):
        """Counts by topic, year or hour are not personal."""
        assert [] == personal_keys({"2024": {"health": 12}, "topics": ["a"], "user_id": ""})
        assert [] == personal_keys("not json")

    def test_sensitive_fields_only_where_keyed(self):
        """A sensitive field counts only in a record keyed to a person, at any depth below it."""
        record = {"user_id": USER, "profile": {"Religion": "x", "colour": "red"}}
        assert [SensitiveFinding("/profile/Religion", "religious_or_philosophical_beliefs")] == (
            sensitive_findings(record)
        )
        assert [] == sensitive_findings({"religion": {"x": 4}})
        assert [] == sensitive_findings({"user_id": USER, "religion": None})
        assert 1 == len(sensitive_findings('{"screen_name": "ana", "ethnicity": "x"}'))
        assert 1 == len(sensitive_findings({"@ana": {"debt": True}}))


class TestInference:
    def test_aggregate_result_is_allowed(self, guard, recorder):
        """An inference whose result names nobody is allowed and logged."""

        @twpolicy.sensitive_inference("political_affiliation", guard=guard)
        def share_by_topic():
            return {"left": 40, "right": 38}

        assert {"left": 40, "right": 38} == share_by_topic()
        assert "political_affiliation" == share_by_topic.sensitive_category
        assert ("sensitive.keyed", "aggregate_only") == (
            recorder.decisions[-1].rule,
            recorder.decisions[-1].reason,
        )

    def test_result_keyed_to_users_is_refused(self, guard):
        """A per-user result is refused under the category's clause, with the remedy."""

        @twpolicy.sensitive_inference("health", guard=guard)
        def per_user():
            return [{"user_id": USER, "score": 0.8}]

        with pytest.raises(twpolicy.SensitiveDataError) as caught:
            per_user()
        decision = caught.value.decision
        assert ("RU.sensitive-information.a", "keyed_to_individuals") == (
            decision.clause,
            decision.reason,
        )
        assert "aggregate" in decision.remediation

    def test_async_functions_are_checked(self, guard):
        """An async inference's result is checked before it is returned."""

        @twpolicy.sensitive_inference("alleged_crimes", guard=guard)
        async def flagged():
            return {"@ana": True}

        with pytest.raises(twpolicy.SensitiveDataError):
            asyncio.run(flagged())

    @pytest.mark.parametrize(
        ("category", "result", "reason"),
        [("astrology", {}, "category_unknown"), ("health", None, "result_unknown")],
    )
    def test_unknown_category_or_no_result_is_refused(self, guard, category, result, reason):
        """An undeclared category, or no result to check, is refused (fail closed)."""
        with pytest.raises(twpolicy.SensitiveDataError) as caught:
            twpolicy.check_inference(result, category=category, guard=guard)
        assert reason == caught.value.decision.reason

    def test_default_guard(self):
        """check_inference asks the default guard when given none."""
        assert twpolicy.check_inference({"a": 1}, category="health").allowed


class TestStore:
    def test_user_keyed_sensitive_record_is_refused_and_not_kept(self, guard):
        """A mapping keyed by user ID refuses a record carrying a sensitive field."""
        store = {}
        with pytest.raises(twpolicy.SensitiveDataError) as caught:
            twpolicy.GeoSafeMapping(store, guard=guard)[USER] = {"sexual_orientation": "x"}
        assert {} == store
        assert "RU.sensitive-information.f" == caught.value.decision.clause
        assert "aggregates" in caught.value.decision.remediation

    def test_aggregate_record_is_stored(self, guard):
        """Counts per category, keyed to nobody, are stored."""
        store = {}
        twpolicy.GeoSafeMapping(store, guard=guard)["2024-06"] = {"religion": {"a": 3}}
        assert ["2024-06"] == list(store)

    def test_configurable_vocabulary(self):
        """A guard can use its own field names for the categories."""
        rule = twpolicy.rules.forbid_sensitive_inference({"Union-Card": "trade_union_membership"})
        guard = twpolicy.Guard(rules=[rule])
        with pytest.raises(twpolicy.SensitiveDataError):
            twpolicy.check_storable({"user_id": USER, "union_card": "yes"}, guard=guard)
        assert twpolicy.check_storable({"user_id": USER, "religion": "x"}, guard=guard).allowed
        assert "fields=<1 fields>" in repr(rule)
        assert "twpolicy.rules.forbid_sensitive_inference()" == repr(
            twpolicy.rules.forbid_sensitive_inference()
        )

    def test_unknown_category_in_vocabulary_is_refused(self):
        """A vocabulary naming an unknown category cannot be built."""
        with pytest.raises(twpolicy.ConfigurationError, match="astrology"):
            twpolicy.rules.forbid_sensitive_inference({"sign": "astrology"})

    def test_rule_is_silent_elsewhere(self):
        """The rule says nothing about exports or stores without payloads."""
        rule = twpolicy.rules.forbid_sensitive_inference()
        context = twpolicy.Guard().context()
        assert rule.evaluate(twpolicy.Action(kind="export", operation="e"), context) is None
        assert rule.evaluate(twpolicy.Action(kind="store", operation="s"), context) is None
        assert rule.static_for(twpolicy.Action(kind="store", operation="s"))


class TestEdges:
    def test_integer_keys_and_shared_containers(self):
        """Integer user-ID keys name people; a container met twice is read once."""
        assert ["/2244994945"] == personal_keys({2244994945: 1})
        assert [] == personal_keys({(1, 2): 1, 2024: 3})
        shared = {"user_id": USER}
        assert ["/0/user_id"] == personal_keys([shared, shared])

    def test_async_aggregate_is_returned(self, guard):
        """An async inference with an aggregate result returns it."""

        @twpolicy.sensitive_inference("health", guard=guard)
        async def counts():
            return {"flu": 3}

        assert {"flu": 3} == asyncio.run(counts())

"""The one storage enforcement point: every storage rule decides on every store wrapper."""

import json

import pytest

import twpolicy
from twpolicy._enforce import _geo, _storage

TWEET = {
    "id": 1000000000000000010,
    "id_str": "1000000000000000010",
    "text": "An example post.",
    "user": {"id": 1000000000000000001, "id_str": "1000000000000000001", "screen_name": "a"},
}


@pytest.fixture(name="guard")
def _guard():
    """A guard whose compliance ledger records TWEET as deleted."""
    compliance = twpolicy.open_compliance("memory://")
    compliance.record(
        twpolicy.compliance_events(
            {
                "delete": {
                    "status": {"id_str": TWEET["id_str"], "user_id_str": "1000000000000000001"}
                }
            }
        )
    )
    return twpolicy.Guard(compliance=compliance)


class TestOneEnforcementPoint:
    def test_old_module_keeps_the_public_names(self):
        """The names importable from the location module are the storage point's own."""
        assert _geo.check_storable is _storage.check_storable
        assert _geo.GeoSafeMapping is _storage.GeoSafeMapping
        assert _geo.no_standalone_geo is _storage.no_standalone_geo

    def test_mapping_refuses_deleted_content_and_keeps_nothing(self, guard):
        """A guarded mapping reaches the tombstone rule: deleted content is not kept."""
        store = {}
        with pytest.raises(twpolicy.ContentUnavailable) as caught:
            twpolicy.GeoSafeMapping(store, guard=guard)["t"] = TWEET
        assert {} == store
        assert "compliance.tombstone" == caught.value.decision.rule
        assert "twpolicy comply" in caught.value.decision.remediation

    def test_decorator_refuses_deleted_content(self, guard):
        """A decorated store function is not run with deleted content."""
        calls = []

        @twpolicy.no_standalone_geo(guard=guard)
        def save(tweet):
            calls.append(tweet)

        with pytest.raises(twpolicy.ContentUnavailable):
            save(TWEET)
        assert [] == calls

    def test_other_content_is_stored(self, guard):
        """Content not recorded as gone passes every storage rule."""
        other = {**TWEET, "id": 1000000000000000011, "id_str": "1000000000000000011"}
        decision = twpolicy.check_storable(other, guard=guard, acting_user_id=12)
        assert decision.allowed
        assert "12" == decision.acting_user_id
        rules = {outcome.rule for outcome in decision.outcomes}
        assert {"credentials.stored", "sensitive.keyed", "compliance.tombstone"} <= rules

    def test_acting_user_must_be_an_id(self):
        """An acting user that is not a decimal ID is refused when the wrapper is built."""
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.GeoSafeMapping({}, acting_user_id="@ana")
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.no_standalone_geo(acting_user_id="ana")

    def test_json_text_reaches_the_tombstone_rule(self, guard):
        """Deleted content stored as JSON text is refused like the parsed object."""
        with pytest.raises(twpolicy.ContentUnavailable):
            twpolicy.check_storable(json.dumps(TWEET), guard=guard)
        with pytest.raises(twpolicy.ContentUnavailable):
            twpolicy.check_storable(json.dumps(TWEET).encode(), guard=guard)
        assert twpolicy.check_storable("plain words", guard=guard).allowed

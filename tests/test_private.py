"""Non-public content: DMs and protected Tweets kept only with consent, shared only by consent."""

import json

import pytest

import twpolicy
from twpolicy._payloads._private import NonPublicFinding, nonpublic_findings

ACTING = "1000000000000000099"
PROTECTED = "1000000000000000003"
OTHER = "1000000000000000002"
NOTICE = {
    "notice": twpolicy.Notice.from_text("dms-v1", "We keep your DMs."),
    "method": "ui_explicit",
    "evidence": "test",
}


def dm_event_v2(sender=PROTECTED, recipient=OTHER):
    """A v2 DM event with its text."""
    return {
        "id": "1580000000000000001",
        "event_type": "MessageCreate",
        "text": "a private message",
        "sender_id": sender,
        "dm_conversation_id": f"{recipient}-{sender}",
        "participant_ids": [sender, recipient],
    }


def dm_event_v1():
    """A v1.1 DM event with its text."""
    return {
        "type": "message_create",
        "id": "1580000000000000002",
        "created_timestamp": "1700000000000",
        "message_create": {
            "target": {"recipient_id": OTHER},
            "sender_id": PROTECTED,
            "message_data": {"text": "hello"},
        },
    }


def protected_tweet_v1():
    """A v1.1 Tweet whose embedded author is protected."""
    return {
        "id": 1000000000000000010,
        "id_str": "1000000000000000010",
        "text": "for followers only",
        "user": {"id": int(PROTECTED), "id_str": PROTECTED, "screen_name": "p", "protected": True},
    }


def protected_response_v2():
    """A v2 response whose Tweet's author is protected, said in includes.users."""
    return {
        "data": [{"id": "1000000000000000011", "text": "quiet", "author_id": PROTECTED}],
        "includes": {"users": [{"id": PROTECTED, "username": "p", "name": "P", "protected": True}]},
    }


@pytest.fixture(name="ledger")
def _ledger():
    """An empty in-memory consent ledger."""
    return twpolicy.open_ledger("memory://")


@pytest.fixture(name="guard")
def _guard(ledger):
    """An enforcing guard on the ledger, counting exports in memory."""
    return twpolicy.Guard(ledger=ledger, quotas=twpolicy.open_quotas("memory://"))


class TestFindings:
    @pytest.mark.parametrize("payload", [dm_event_v2(), dm_event_v1()])
    def test_dms_with_their_participants(self, payload):
        """A DM with its text is found, with its sender and recipient."""
        assert [NonPublicFinding("", "dm", (OTHER, PROTECTED))] == nonpublic_findings(payload)

    def test_v1_protected_author(self):
        """A v1.1 Tweet whose embedded user is protected is non-public."""
        assert [NonPublicFinding("", "protected_tweet", (PROTECTED,))] == nonpublic_findings(
            protected_tweet_v1()
        )

    def test_v2_protected_author_in_includes(self):
        """A v2 Tweet whose author includes.users marks protected is non-public."""
        (finding,) = nonpublic_findings(protected_response_v2())
        assert ("/data/0", "protected_tweet") == (finding.pointer, finding.what)

    def test_public_and_id_only_content_is_public(self):
        """Public Tweets, and Tweets reduced to IDs, are not non-public content."""
        public = protected_response_v2()
        public["includes"]["users"][0]["protected"] = False
        ids_only = protected_response_v2()
        del ids_only["data"][0]["text"]
        assert [] == nonpublic_findings(public)
        assert [] == nonpublic_findings(ids_only)

    def test_flattened_and_activity_authors(self):
        """Authors given as a flattened author or an activity actor are read too."""
        flat = {
            "id": "1000000000000000012",
            "text": "t",
            "author_id": PROTECTED,
            "author": {"id": PROTECTED, "username": "p", "name": "P", "protected": True},
        }
        assert "protected_tweet" == nonpublic_findings(flat)[0].what


class TestStore:
    def test_public_content_is_stored(self, guard):
        """Public content needs no consent."""
        tweet = protected_tweet_v1()
        tweet["user"]["protected"] = False
        assert twpolicy.check_storable(tweet, guard=guard).allowed

    def test_dm_without_acting_user_is_refused(self, guard):
        """A DM stored on nobody's behalf is refused, naming the remedy."""
        with pytest.raises(twpolicy.NonPublicContentError) as caught:
            twpolicy.check_storable(dm_event_v2(), guard=guard)
        decision = caught.value.decision
        assert ("I.C.1.d", "nonpublic_no_acting_user") == (decision.clause, decision.reason)
        assert "acting_user_id=" in decision.remediation

    def test_dm_without_consent_is_refused_and_nothing_kept(self, guard):
        """Without nonpublic.store consent a guarded mapping keeps nothing."""
        store = {}
        mapping = twpolicy.GeoSafeMapping(store, guard=guard, acting_user_id=ACTING)
        with pytest.raises(twpolicy.NonPublicContentError) as caught:
            mapping["dm"] = dm_event_v1()
        assert {} == store
        assert "nonpublic_without_consent" == caught.value.decision.reason
        assert "nonpublic.store" in caught.value.decision.remediation

    def test_dm_with_consent_is_stored(self, guard, ledger):
        """With the acting user's nonpublic.store consent the DM is kept."""
        ledger.grant(ACTING, ["nonpublic.store"], **NOTICE)
        store = {}
        twpolicy.GeoSafeMapping(store, guard=guard, acting_user_id=ACTING)["dm"] = dm_event_v2()
        assert ["dm"] == list(store)

    def test_decorator_passes_the_acting_user(self, guard, ledger):
        """A decorated store function runs only once the acting user consented."""
        calls = []

        @twpolicy.no_standalone_geo(guard=guard, acting_user_id=int(ACTING))
        def save(record):
            calls.append(record)

        with pytest.raises(twpolicy.NonPublicContentError):
            save(protected_response_v2())
        assert [] == calls
        ledger.grant(ACTING, ["nonpublic.store"], **NOTICE)
        save(protected_response_v2())
        assert 1 == len(calls)

    def test_guard_without_ledger_refuses(self):
        """Without a consent ledger no consent can be found: refused."""
        guard = twpolicy.Guard()
        with pytest.raises(twpolicy.NonPublicContentError):
            twpolicy.check_storable(dm_event_v2(), guard=guard, acting_user_id=ACTING)


class TestShare:
    def export(self, payload):
        """An export action carrying ``payload``."""
        return twpolicy.Action(kind="export", operation="share", recipient="x", payload=payload)

    def outcome(self, guard, payload):
        """The nonpublic.consent outcome for exporting ``payload``."""
        decision = guard.check(self.export(payload))
        return next(o for o in decision.outcomes if o.rule == "nonpublic.consent")

    def test_protected_tweet_needs_its_authors_consent(self, guard, ledger):
        """Sharing a protected Tweet is refused under I.C.1.e until its author consents."""
        refused = self.outcome(guard, protected_tweet_v1())
        assert ("I.C.1.e", "protected_share_without_consent") == (refused.clause, refused.reason)
        assert PROTECTED == refused.facts["owner"]
        assert "protected.share" in refused.remediation
        ledger.grant(PROTECTED, ["protected.share"], **NOTICE)
        assert "protected_share_consented" == self.outcome(guard, protected_tweet_v1()).reason

    def test_dm_needs_every_participant(self, guard, ledger):
        """A DM is shared only when sender and recipient both consented."""
        ledger.grant(PROTECTED, ["protected.share"], **NOTICE)
        refused = self.outcome(guard, dm_event_v2())
        assert OTHER == refused.facts["owner"]
        ledger.grant(OTHER, ["protected.share"], **NOTICE)
        assert "protected_share_consented" == self.outcome(guard, dm_event_v2()).reason

    def test_owner_unknown_is_refused(self, guard):
        """A DM whose participants the payload does not name cannot be shared."""
        dm = {"id": "1580000000000000003", "event_type": "MessageCreate", "text": "x"}
        assert "nonpublic_owner_unknown" == self.outcome(guard, dm).reason

    def test_without_ledger_is_refused(self):
        """A guard without a ledger refuses sharing protected content."""
        assert (
            "protected_share_without_consent"
            == self.outcome(twpolicy.Guard(), protected_tweet_v1()).reason
        )

    def test_rule_shape(self):
        """The rule says nothing about other kinds, and reads as its constructor."""
        rule = twpolicy.rules.protect_nonpublic()
        other = twpolicy.Action(kind="display", operation="d", payload=dm_event_v2())
        assert rule.evaluate(other, twpolicy.Guard().context()) is None
        assert rule.static_for(other)
        assert "twpolicy.rules.protect_nonpublic()" == repr(rule)


class TestIdsOnly:
    def test_protected_tweet_ids_do_not_leave_without_consent(self, guard, ledger):
        """ids_only refuses a protected user's Tweet IDs until that user consented."""
        calls = []

        @twpolicy.ids_only(guard=guard)
        def timeline():
            calls.append(1)
            return [protected_tweet_v1()]

        with pytest.raises(twpolicy.NonPublicContentError) as caught:
            timeline()
        decision = caught.value.decision
        assert ("I.C.1.e", "protected_share_without_consent") == (decision.clause, decision.reason)
        assert PROTECTED == decision.facts["nonpublic_owners"]
        ledger.grant(PROTECTED, ["protected.share"], **NOTICE)
        assert ["1000000000000000010"] == timeline()

    def test_public_tweet_ids_leave(self, guard):
        """Public Tweets are reduced to their IDs with no consent asked."""
        tweet = protected_tweet_v1()
        tweet["user"]["protected"] = False
        assert ["1000000000000000010"] == twpolicy.ids_only(guard=guard)(lambda: [tweet])()

    def test_dm_of_unnamed_participants_is_refused(self, guard):
        """IDs reduced from a DM whose participants are unknown cannot be cleared."""
        dm = {"id": "1580000000000000003", "event_type": "MessageCreate", "text": "x"}
        with pytest.raises(twpolicy.NonPublicContentError) as caught:
            twpolicy.ids_only(kind="dms", guard=guard)(lambda: [dm])()
        assert "nonpublic_owner_unknown" == caught.value.decision.reason

    def test_json_text_is_read_when_stored(self, guard):
        """JSON text holding a DM is read as the DM it holds; other text as nothing."""
        with pytest.raises(twpolicy.NonPublicContentError):
            twpolicy.check_storable(json.dumps(dm_event_v2()), guard=guard, acting_user_id=ACTING)
        assert [] == nonpublic_findings("plain words")


def test_integer_only_author_ids_are_read():
    """An embedded author with only a numeric id is still the Tweet's author."""
    tweet = {
        "id": 10,
        "id_str": "10",
        "text": "x",
        "user": {"id": 3, "protected": True, "screen_name": "p"},
    }
    assert [NonPublicFinding("", "protected_tweet", ("3",))] == nonpublic_findings(tweet)


def test_activity_actor_ids_are_read():
    """An activity-streams actor's tagged ID names the author."""
    activity = {
        "id": "tag:search.twitter.com,2005:10",
        "objectType": "activity",
        "verb": "post",
        "body": "x",
        "actor": {
            "id": "id:twitter.com:3",
            "objectType": "person",
            "preferredUsername": "p",
            "protected": True,
        },
    }
    assert [NonPublicFinding("", "protected_tweet", ("3",))] == nonpublic_findings(activity)

"""Compliance events from every source parse into one model (twpolicy._payloads._compliance)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from twpolicy import ComplianceEvent, ComplianceEventType, compliance_events
from twpolicy._payloads._compliance import events_from_lookup_errors

T = ComplianceEventType

CORPUS_MESSAGES = [
    (
        "twitter+hbc/hbc-twitter4j/src/test/resources/status-deletion.json",
        T.TWEET_DELETE,
        "1234",
        "3",
    ),
    ("tweetstream+tweetstream/spec/fixtures/delete.json", T.TWEET_DELETE, "123", "3"),
    (
        "twitter+hbc/hbc-twitter4j/src/test/resources/direct-message-delete.json",
        T.DM_DELETE,
        "11111111111111111",
        "123123123",
    ),
    (
        "twitter+hbc/hbc-twitter4j/src/test/resources/scrub-geo.json",
        T.SCRUB_GEO,
        "14090452",
        "14090452",
    ),
    ("tweetstream+tweetstream/spec/fixtures/scrub_geo.json", T.SCRUB_GEO, "123", "123"),
    ("tweetstream+tweetstream/spec/fixtures/user_withheld.json", T.USER_WITHHELD, "123", "123"),
    (
        "tweetstream+tweetstream/spec/fixtures/status_withheld.json",
        T.TWEET_WITHHELD,
        "1234567890",
        "123",
    ),
]


class TestCorpus:
    @pytest.mark.parametrize(("path", "kind", "object_id", "user_id"), CORPUS_MESSAGES)
    def test_v1_stream_messages(self, corpus, path, kind, object_id, user_id):
        """Recorded v1.1 stream messages give one event each, IDs read as strings."""
        (event,) = compliance_events(json.loads((corpus / path).read_text()))
        assert (event.type, event.object_id, event.user_id) == (kind, object_id, user_id)
        assert event.source is twpolicy._payloads._compliance.Source.STREAM_V1

    def test_scrub_geo_reads_either_spelling_of_up_to(self, corpus):
        """hbc's ``up_to_status_id_str`` and tweetstream's ``up_to_status_id_string`` both read."""
        hbc = corpus / "twitter+hbc/hbc-twitter4j/src/test/resources/scrub-geo.json"
        ts = corpus / "tweetstream+tweetstream/spec/fixtures/scrub_geo.json"
        assert compliance_events(json.loads(hbc.read_text()))[0].up_to_tweet_id == "23260136625"
        assert compliance_events(json.loads(ts.read_text()))[0].up_to_tweet_id == "987"

    def test_withheld_countries(self, corpus):
        """Countries are kept, upper case, sorted."""
        path = corpus / "tweetstream+tweetstream/spec/fixtures/status_withheld.json"
        assert compliance_events(json.loads(path.read_text()))[0].countries == ("AR", "DE")

    def test_batch_results(self, corpus):
        """A batch job's lines: the job type decides Tweet or user; repeats share a key."""
        tweets = corpus / "DocNow+twarc-csv/test-data/tweets_compliance.jsonl"
        users = corpus / "DocNow+twarc-csv/test-data/users_compliance.jsonl"
        parsed = [
            e
            for line in tweets.read_text().splitlines()
            if line
            for e in compliance_events(json.loads(line))
        ]
        assert [e.type for e in parsed] == [T.TWEET_UNAVAILABLE, T.TWEET_UNAVAILABLE]
        assert {e.reason for e in parsed} == {"protected", "deactivated"}
        parsed = [
            e
            for line in users.read_text().splitlines()
            if line
            for e in compliance_events(json.loads(line), job_type="users")
        ]
        assert [e.type for e in parsed] == [T.USER_PROTECT, T.USER_PROTECT]
        assert parsed[0].key == parsed[1].key

    def test_an_error_response_is_no_event(self, corpus):
        """A v2 error document whose parameters mention ``delete`` is not a deletion."""
        path = corpus / "sns-sdks+python-twitter/testdata/streams/delete_error.json"
        assert compliance_events(json.loads(path.read_text())) == []


V2 = [
    ({"delete": {"tweet": {"id": "10", "author_id": "2"}}}, T.TWEET_DELETE, "10", "2"),
    ({"withheld": {"tweet": {"id": "10", "author_id": "2"}, "withheld_in_countries": ["fr"]}},
     T.TWEET_WITHHELD, "10", "2"),
    ({"drop": {"tweet": {"id": "10", "author_id": "2"}}}, T.TWEET_DROP, "10", "2"),
    ({"undrop": {"tweet": {"id": "10", "author_id": "2"}}}, T.TWEET_UNDROP, "10", "2"),
    ({"tweet_edit": {"tweet": {"id": "10", "author_id": "2"}, "initial_tweet_id": "9"}},
     T.TWEET_EDIT, "10", "2"),
    ({"user_delete": {"user": {"id": "2"}}}, T.USER_DELETE, "2", "2"),
    ({"user_undelete": {"user": {"id": "2"}}}, T.USER_UNDELETE, "2", "2"),
    ({"user_protect": {"user": {"id": "2"}}}, T.USER_PROTECT, "2", "2"),
    ({"user_unprotect": {"user": {"id": "2"}}}, T.USER_UNPROTECT, "2", "2"),
    ({"user_suspend": {"user": {"id": "2"}}}, T.USER_SUSPEND, "2", "2"),
    ({"user_unsuspend": {"user": {"id": "2"}}}, T.USER_UNSUSPEND, "2", "2"),
    ({"user_withheld": {"user": {"id": "2"}, "withheld_in_countries": ["de"]}},
     T.USER_WITHHELD, "2", "2"),
    ({"user_profile_modification": {"user": {"id": "2"}}}, T.USER_PROFILE_MODIFICATION, "2", "2"),
    ({"scrub_geo": {"user": {"id": "2"}, "up_to_tweet_id": "10"}}, T.SCRUB_GEO, "2", "2"),
]  # fmt: skip


class TestV2:
    @pytest.mark.parametrize(("body", "kind", "object_id", "user_id"), V2)
    def test_compliance_stream_events(self, body, kind, object_id, user_id):
        """Every v2 compliance-stream event, in its ``data`` wrapper, with its time."""
        name = next(iter(body))
        body[name]["event_at"] = "2022-10-01T12:00:00.000Z"
        (event,) = compliance_events({"data": body})
        assert (event.type, event.object_id, event.user_id) == (kind, object_id, user_id)
        assert event.event_at == datetime(2022, 10, 1, 12, tzinfo=timezone.utc)
        assert event.source.value == "stream_v2"

    def test_reversals_name_what_they_undo(self):
        """unprotect undoes protect; a deletion is never reversible."""
        assert T.USER_UNPROTECT.reverses is T.USER_PROTECT
        assert T.USER_PROTECT.reversible
        assert not T.TWEET_DELETE.reversible
        assert T.TWEET_DELETE.removes
        assert not T.USER_UNPROTECT.removes


class TestLookupErrors:
    def test_not_found_and_not_authorised(self):
        """A lookup's errors become unavailability events (I.C.4); other errors do not."""
        response = {
            "data": [{"id": "1", "text": "hi"}],
            "errors": [
                {
                    "value": "20",
                    "resource_type": "tweet",
                    "resource_id": "20",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                },
                {
                    "resource_type": "user",
                    "resource_id": "30",
                    "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
                },
                {"type": "https://api.twitter.com/2/problems/client-forbidden"},
            ],
        }
        events = events_from_lookup_errors(response)
        assert [(e.type, e.object_id, e.reason) for e in events] == [
            (T.TWEET_UNAVAILABLE, "20", "not_found"),
            (T.USER_UNAVAILABLE, "30", "not_authorized"),
        ]
        assert compliance_events(response) == events


class TestModel:
    def test_an_id_must_be_decimal(self):
        """Fail closed: an event cannot be recorded for an ID that is not one."""
        with pytest.raises(twpolicy.PayloadError, match="decimal string"):
            ComplianceEvent(type="tweet_delete", object_id="12a")

    def test_user_request(self):
        """A user's own request about their content is an event too."""
        event = ComplianceEvent.request("tweet_delete", "5", user_id="7")
        assert (event.source.value, event.reason) == ("request", "user_request")

    @given(
        st.sampled_from(list(T)),
        st.integers(0, 2**63),
        st.none() | st.datetimes(timezones=st.just(timezone.utc)),
    )
    def test_key_is_a_function_of_the_event(self, kind, number, when):
        """The same event built twice has one key; a terminal event's key ignores time."""
        one = ComplianceEvent(type=kind, object_id=str(number), event_at=when)
        two = ComplianceEvent(type=kind, object_id=str(number), event_at=when)
        assert one.key == two.key
        if kind is T.TWEET_DELETE:
            assert one.key == ComplianceEvent(type=kind, object_id=str(number)).key

    @given(
        st.dictionaries(
            st.sampled_from(["delete", "scrub_geo", "data", "id", "user_protect", "errors"])
            | st.text(max_size=8),
            st.recursive(
                st.none() | st.integers() | st.text(max_size=5),
                lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c),
                max_leaves=8,
            ),
            max_size=4,
        )
    )
    def test_arbitrary_json_never_crashes(self, message):
        """Any JSON object parses to a list of events, or raises PayloadError (fail closed)."""
        try:
            events = compliance_events(message)
        except twpolicy.PayloadError:
            return
        assert all(isinstance(e, ComplianceEvent) for e in events)

from datetime import timezone
from importlib.metadata import entry_points

import pytest
import tweepy
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import twpolicy
from payload_shapes import corpus_keys, kind_of, kinds_in, unseen_keys
from twpolicy import strategies as tws

V1_SAFE = 2**53


def assert_v1_ids(obj):
    """Every v1.1 integer id below 2**53 matches its id_str, recursively."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key.endswith("_str") and isinstance(value, str) and key[:-4] in obj:
                number = obj[key[:-4]]
                assert isinstance(number, int)
                assert str(number) == value
                assert 0 < number < V1_SAFE
            assert_v1_ids(value)
    elif isinstance(obj, list):
        for value in obj:
            assert_v1_ids(value)


class TestCorpusShapes:
    """Generated payloads only use keys seen on the same kind of object in real recordings."""

    def test_corpus_has_every_kind(self, corpus):
        """The corpus yields a key set for every kind checked, so the checks below can fail."""
        keys = corpus_keys(corpus)
        assert {"id", "id_str", "user", "place", "text"} <= keys["tweet_v1"]
        assert {"id", "username", "name"} <= keys["user_v2"]
        assert all(keys.values())

    @pytest.mark.parametrize(
        ("strategy", "kind"),
        [
            (tws.tweets("v1.1"), "tweet_v1"),
            (tws.tweets("v2"), "tweet_v2"),
            (tws.users("v1.1"), "user_v1"),
            (tws.users("v2"), "user_v2"),
            (tws.places("v1.1"), "place_v1"),
            (tws.places("v2"), "place_v2"),
        ],
    )
    def test_generated_keys_were_seen(self, corpus, strategy, kind):
        """Each generated object is of its kind, and nothing nested in it has unseen keys."""

        @given(strategy)
        def check(obj):
            assert kind == kind_of(obj)
            assert {} == unseen_keys(obj, corpus)

        check()

    @pytest.mark.parametrize(
        "strategy",
        [
            tws.tweets("v1.1", location=True, retweet=True, quote=True, extended=True),
            tws.api_responses(tws.tweets("v2", location=True, retweet=True, quote=True)),
            tws.dm_events("v2").filter(lambda event: event["event_type"] == "MessageCreate"),
        ],
        ids=["v1.1-every-feature", "v2-response-every-feature", "v2-message-event"],
    )
    def test_every_feature_at_once(self, corpus, strategy):
        """Payloads with every optional feature still use only keys seen in the corpus."""

        @given(strategy)
        def check(payload):
            assert {} == unseen_keys(payload, corpus)

        check()


class TestTweets:
    @given(tws.tweets("v1.1", location=True))
    def test_v1_location(self, status):
        """location=True gives a v1.1 status (or its original) a place; geo mirrors coordinates."""
        status = status.get("retweeted_status", status)
        assert status["place"] is not None
        assert "place_v1" == kind_of(status["place"])
        if status["geo"] is not None:
            assert status["geo"]["coordinates"] == status["coordinates"]["coordinates"][::-1]

    @given(tws.tweets("v1.1", location=False, retweet=False, quote=False))
    def test_v1_without_location(self, status):
        """location=False leaves every v1.1 location field null."""
        assert (None, None, None) == (status["place"], status["geo"], status["coordinates"])

    @given(tws.tweets("v1.1", retweet=True))
    def test_v1_retweet(self, status):
        """A v1.1 retweet embeds the original and carries its RT prefix."""
        original = status["retweeted_status"]
        assert status["text"].startswith(f"RT @{original['user']['screen_name']}: ")
        assert "retweeted_status" not in original

    @given(tws.tweets("v1.1", quote=True, retweet=False))
    def test_v1_quote(self, status):
        """A v1.1 quote tweet names and embeds the quoted status."""
        assert status["is_quote_status"]
        assert status["quoted_status"]["id_str"] == status["quoted_status_id_str"]

    @given(tws.tweets("v1.1", extended=True, retweet=False))
    def test_v1_extended(self, status):
        """A long tweet in compatibility mode is truncated, with the full text aside."""
        assert status["truncated"]
        full = status["extended_tweet"]["full_text"]
        assert [0, len(full)] == status["extended_tweet"]["display_text_range"]

    @given(tws.tweets("v1.1"))
    def test_v1_ids(self, status):
        """v1.1 ids are integers below 2**53, each next to the same value as a string."""
        assert_v1_ids(status)

    @given(tws.tweets("v2", location=True, retweet=True, quote=True))
    def test_v2_references_and_geo(self, tweet):
        """A v2 retweet-quote references both tweets; location is a geo.place_id."""
        assert ["retweeted", "quoted"] == [ref["type"] for ref in tweet["referenced_tweets"]]
        assert 16 == len(tweet["geo"]["place_id"])

    @given(tws.tweets("v2", location=False, retweet=False, quote=False))
    def test_v2_plain(self, tweet):
        """A plain v2 tweet has no geo and no references, and its edit history is itself."""
        assert "geo" not in tweet
        assert "referenced_tweets" not in tweet
        assert [tweet["id"]] == tweet["edit_history_tweet_ids"]

    @given(tws.tweets("v2"))
    def test_v2_parses_in_tweepy(self, tweet):
        """tweepy builds a Tweet from every generated v2 tweet."""
        assert tweet["id"] == str(tweepy.Tweet(tweet).id)

    @given(tws.tweets("v1.1"))
    def test_v1_parses_in_tweepy(self, status):
        """tweepy builds a Status, with its user and place, from every generated v1.1 status."""
        parsed = tweepy.models.Status.parse(tweepy.API(), status)
        assert status["id"] == parsed.id
        assert status["user"]["screen_name"] == parsed.user.screen_name

    def test_extended_is_v1_only(self):
        """Asking for an extended v2 tweet is an error, not a silent no-op."""
        with pytest.raises(InvalidArgument, match=r"v1\.1"):
            tws.tweets("v2", extended=True)

    def test_unknown_api(self):
        """An unknown API version is refused."""
        with pytest.raises(InvalidArgument, match="'v3'"):
            tws.tweets("v3")


class TestIds:
    @given(tws.ids())
    def test_decimal_strings(self, value):
        """IDs are decimal strings that twpolicy accepts as user IDs."""
        assert value == twpolicy._stores._consent.validate_user_id(value)
        assert int(value) < V1_SAFE


class TestResponses:
    @given(tws.api_responses(many=True))
    def test_includes_cover_expansions(self, body):
        """Every author, place and referenced tweet of the data is in includes, once."""
        includes = body.get("includes", {})
        users = [user["id"] for user in includes.get("users", [])]
        places = [place["id"] for place in includes.get("places", [])]
        tweets = {tweet["id"] for tweet in includes.get("tweets", [])} | {
            tweet["id"] for tweet in body["data"]
        }
        assert len(set(users)) == len(users)
        for tweet in body["data"]:
            if "author_id" in tweet:
                assert tweet["author_id"] in users
            if "geo" in tweet:
                assert tweet["geo"]["place_id"] in places
            for ref in tweet.get("referenced_tweets", ()):
                assert ref["id"] in tweets
        assert len(body["data"]) == body["meta"]["result_count"]

    @given(tws.api_responses(tws.users("v2"), many=False))
    def test_single_object(self, body):
        """A single-object response has a dict as data and no meta."""
        assert "user_v2" == kind_of(body["data"])
        assert "meta" not in body

    @given(tws.api_responses(many=True))
    def test_meta_ids(self, body):
        """meta.newest_id and oldest_id bound the IDs in data."""
        numbers = [int(tweet["id"]) for tweet in body["data"]]
        assert str(max(numbers)) == body["meta"]["newest_id"]
        assert str(min(numbers)) == body["meta"]["oldest_id"]

    @given(tws.api_responses(tws.tweets("v2", location=True), many=True))
    def test_places_are_expanded(self, body):
        """A response of tweets with location holds their places in includes."""
        assert {"tweet_v2", "place_v2"} <= kinds_in(body)


class TestDirectMessagesAndCompliance:
    @given(tws.dm_events("v1.1"))
    def test_v1_dm_event(self, event):
        """A v1.1 DM event is a message_create with sender, recipient and text."""
        create = event["message_create"]
        assert "message_create" == event["type"]
        assert create["sender_id"].isdigit()
        assert create["target"]["recipient_id"].isdigit()

    @given(tws.dm_events("v2"))
    def test_v2_dm_event(self, event):
        """A v2 DM event parses in tweepy; only MessageCreate events have text."""
        parsed = tweepy.DirectMessageEvent(event)
        assert event["id"] == str(parsed.id)
        assert ("text" in event) == ("MessageCreate" == event["event_type"])

    @given(tws.compliance_events("v1.1"))
    def test_v1_compliance(self, event):
        """v1.1 compliance messages have one known key with integer IDs next to strings."""
        assert 1 == len(event)
        assert next(iter(event)) in {"delete", "scrub_geo", "status_withheld", "user_withheld"}
        assert_v1_ids(event)

    @given(tws.compliance_events("v2"))
    def test_v2_compliance(self, event):
        """v2 compliance rows say what to delete and why."""
        assert "delete" == event["action"]
        assert event["id"].isdigit()

    @given(tws.compliance_events())
    def test_either(self, event):
        """With no version, events of both versions come out."""
        assert "action" in event or len(event) == 1


class TestConsentRecords:
    @given(st.from_type(twpolicy.ConsentRecord))
    def test_from_type(self, record):
        """from_type works through the entry point, with UTC times and known scopes."""
        assert timezone.utc == record.granted_at.tzinfo
        assert record.scopes <= set(twpolicy.SCOPES)
        assert record.expires_at is None or record.expires_at > record.granted_at
        assert record.active_at(record.granted_at)

    @given(tws.consent_records(user_id=783214, scopes=["like.write"]))
    def test_fixed_fields(self, record):
        """user_id and scopes can be fixed; the ID is normalised to a string."""
        assert ("783214", frozenset({"like.write"})) == (record.user_id, record.scopes)

    def test_invalid_arguments(self):
        """Unknown scopes and malformed user IDs are refused when the strategy is built."""
        with pytest.raises(twpolicy.ConfigurationError, match="nope"):
            tws.consent_records(scopes=["nope"])
        with pytest.raises(twpolicy.ConfigurationError, match="decimal"):
            tws.consent_records(user_id="@jack")

    def test_entry_point_is_registered(self):
        """The hypothesis entry point names twpolicy's setup hook."""
        hooks = {ep.name: ep.value for ep in entry_points(group="hypothesis")}
        assert "twpolicy._hypothesis_setup:_hypothesis_setup_hook" == hooks["twpolicy"]


class TestWithTheLocationRules:
    """Generated payloads exercise twpolicy's location rules (I.B.7) as real ones do."""

    @given(
        tws.tweets("v1.1", location=True)
        | tws.api_responses(tws.tweets("v2", location=True), many=True)
    )
    def test_strip_geo_leaves_no_location(self, payload):
        """Every generated location datum is found, and none survives strip_geo."""
        assert twpolicy.find_geo(payload)
        assert [] == twpolicy.find_geo(twpolicy.strip_geo(payload))

    @given(tws.tweets("v1.1", location=True) | tws.api_responses(many=True))
    def test_whole_payloads_are_storable(self, payload):
        """A whole Tweet or response, location included, may be stored."""
        # Location only: generated protected Tweets need consent to be kept (nonpublic.consent).
        guard = twpolicy.Guard(
            rules=[r for r in twpolicy.default_rules() if r.id != "nonpublic.consent"]
        )
        assert twpolicy.check_storable(payload, guard=guard).allowed

    @given(tws.places("v1.1") | tws.places("v2"))
    def test_places_alone_are_not(self, place):
        """A place kept on its own is standalone location data, refused under I.B.7."""
        with pytest.raises(twpolicy.StandaloneGeoError, match=r"I\.B\.7"):
            twpolicy.check_storable(place, guard=twpolicy.Guard())

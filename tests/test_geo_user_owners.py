"""Users and free text judged by owner (I.B.7): a place read with one Tweet is no one else's.

The guarded clients' read hook records each user it reads with their profile location
(``profile_location`` place, ``location`` text), and, once a place was read with a Tweet or a
user, the full names and IDs of such places in the free text of every Tweet and user read.
A whole user (or Tweet) keeping as its own a place read with others only is refused; the
same user or Tweet stored as read is allowed; a place never read is judged as before. Each
family is generated whole: both generations read and stored, re-cased and re-spaced names,
every stored form.
"""

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twpolicy
from geo_places import (
    GENERATIONS,
    SF,
    decide,
    geo_allowed,
    location_guard,
    named_places,
    respaced,
    v1_place,
)
from twpolicy import GeoSafeMapping, Guard, StandaloneGeoError, check_storable
from twpolicy._payloads._geo import _text_place_keys, learn_body, read_result
from twpolicy.strategies import tweets, users
from twpolicy.testing import FakeXAPI

FULL_WIDTH = (
    "\uff33\uff21\uff2e \uff26\uff32\uff21\uff2e\uff23\uff29\uff33\uff23\uff2f, \uff23\uff21"
)
MOVED = {"moved_to_another_tweet", "moved_to_another_user"}


def moved(guard, payload, reason=None):
    decision = decide(guard, payload)
    return not decision.allowed and decision.reason in ({reason} if reason else MOVED)


IDS = st.integers(10**17, 2**62).map(str)
FILLER = st.sampled_from(["", "hello from ", "Loving it in ", "(", "#"])


def tweet_with_place(generation, base, place, tweet_id, text=None):
    """A response carrying Tweet ``tweet_id`` with ``place``: a v1.1 list, or a v2 response."""
    tweet = copy.deepcopy(base)
    for key in ("geo", "coordinates", "place", "retweeted_status", "quoted_status"):
        tweet.pop(key, None)
    tweet["text"] = text or tweet.get("text") or "hello"
    if generation == "v2":
        tweet["id"] = tweet_id
        tweet["geo"] = {"place_id": place["id"]}
        return {"data": [tweet], "includes": {"places": [copy.deepcopy(place)]}}
    tweet["id"], tweet["id_str"] = int(tweet_id), tweet_id
    tweet["place"] = v1_place(place)
    tweet.pop("full_text", None)
    tweet.pop("extended_tweet", None)
    return [tweet]


def user_of(generation, base, user_id, **fields):
    user = copy.deepcopy(base)
    user.pop("status", None)
    user.pop("profile_location", None)
    user.update(fields)
    if generation == "v2":
        user["id"] = user_id
        user["name"] = user.get("name") or "someone"
    else:
        user["id"], user["id_str"] = int(user_id), user_id
        user["screen_name"] = user.get("screen_name") or "someone"
    user.setdefault("description", "")
    return user


BASES = st.fixed_dictionaries(
    {
        "tweet_v1.1": tweets("v1.1", location=False),
        "tweet_v2": tweets("v2", location=False),
        "user_v1.1": users("v1.1"),
        "user_v2": users("v2"),
    }
)


def forms(payload):
    """Every form a stored payload takes: itself, in a list, as JSON text and UTF-16 bytes."""
    text = json.dumps(payload)
    return [payload, [payload], text, text.encode("utf-16"), {"kept": payload}]


class TestUsersByOwner:
    @settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
    @given(
        read_in=GENERATIONS,
        stored_in=GENERATIONS,
        bases=BASES,
        place=named_places(),
        ids=st.lists(IDS, min_size=3, max_size=3, unique=True),
        filler=FILLER,
        which=st.sampled_from(["full_name", "name", "id", "respaced"]),
    )
    def test_a_place_read_with_a_tweet_kept_as_a_made_up_users_location(  # noqa: PLR0917  # hypothesis's
        self, read_in, stored_in, bases, place, ids, filler, which
    ):
        """Read with Tweet A; kept as made-up user U's profile location (the place, its
        full name, name or ID as text, re-cased and re-spaced), its full name in U's
        description or location sentence: refused in every form. Never read: as before."""
        tweet_id, user_id, _ = ids
        guard, unread = location_guard(), location_guard()
        read_result(
            guard.locations,
            tweet_with_place(read_in, bases[f"tweet_{read_in}"], place, tweet_id),
        )
        base = bases[f"user_{stored_in}"]
        text = {
            "full_name": place["full_name"],
            "name": place["name"],
            "id": place["id"],
            "respaced": respaced(place["full_name"]),
        }[which]
        stored = [
            user_of(stored_in, base, user_id, location=text),
            user_of(stored_in, base, user_id, location=f"{filler}{respaced(place['full_name'])}"),
            user_of(stored_in, base, user_id, description=f"{filler}{place['full_name']}!"),
        ]
        if stored_in == "v1.1":
            stored.append(user_of(stored_in, base, user_id, profile_location=v1_place(place)))
        for user in stored:
            for form in forms(user):
                assert moved(guard, form, "moved_to_another_user"), (user, form)
            assert moved(guard, {"data": [user]} if stored_in == "v2" else {"user": user})
        # A made-up Tweet's text naming it (or its ID): refused as the Tweet's.
        for tweet_text in (f"{filler}{respaced(place['full_name'])} rocks", f"at {place['id']}"):
            made_up = {"id_str": user_id, "text": tweet_text}
            assert moved(guard, made_up, "moved_to_another_tweet")
            assert decide(unread, made_up).allowed
        # A bare name in a Tweet's text is ordinary speech.
        assert geo_allowed(guard, {"id_str": user_id, "text": f"I like {place['name']}"})

    @settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
    @given(
        generation=GENERATIONS,
        bases=BASES,
        place=named_places(),
        ids=st.lists(IDS, min_size=3, max_size=3, unique=True),
        filler=FILLER,
    )
    def test_users_and_tweets_stored_as_read_keep_their_location(  # hypothesis's
        self, generation, bases, place, ids, filler
    ):
        """Tweet A at the place, its author U (location its full name, description naming
        it), and Tweet B whose text names it, read in one response: each stored as read is
        allowed; another user or Tweet keeping them is refused."""
        tweet_id, user_id, other_id = ids
        guard = location_guard()
        user = user_of(
            generation,
            bases[f"user_{generation}"],
            user_id,
            location=place["full_name"],
            description=f"{filler}{place['full_name']}",
        )
        response = tweet_with_place(generation, bases[f"tweet_{generation}"], place, tweet_id)
        mention = {"id_str": other_id, "text": f"{filler}{respaced(place['full_name'])}!"}
        if generation == "v2":
            response["includes"]["users"] = [user]
            response["data"].append({"id": other_id, "text": mention["text"]})
            stored_tweet = response["data"][0]
        else:
            response[0]["user"] = user
            response.append(mention)
            stored_tweet = response[0]
        read_result(guard.locations, response)
        assert geo_allowed(guard, user)
        assert geo_allowed(guard, response)
        assert geo_allowed(guard, stored_tweet)
        assert geo_allowed(guard, response[-1] if generation == "v1.1" else response["data"][-1])
        assert moved(guard, {**user, "id": "42", "id_str": "42"}, "moved_to_another_user")
        assert moved(guard, {**mention, "id_str": "42"}, "moved_to_another_tweet")

    @settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
    @given(
        generation=GENERATIONS,
        bases=BASES,
        read_place=named_places(),
        other=named_places(),
        ids=st.lists(IDS, min_size=2, max_size=2, unique=True),
    )
    def test_places_never_read_are_judged_as_before(  # hypothesis's
        self, generation, bases, read_place, other, ids
    ):
        if other["name"].casefold() == read_place["name"].casefold():
            other["name"] += "x"
        other["full_name"] = other["name"] + ", Elsewhere"
        if other["id"] == read_place["id"]:
            other["id"] = "f" * 16 if other["id"] != "f" * 16 else "e" * 16
        guard, unread = location_guard(), location_guard()
        read_result(
            guard.locations,
            tweet_with_place(generation, bases[f"tweet_{generation}"], read_place, ids[0]),
        )
        base = bases[f"user_{generation}"]
        for stored in (
            user_of(generation, base, ids[1], location=other["full_name"]),
            user_of(generation, base, ids[1], description=f"in {other['full_name']}"),
            {"id_str": ids[1], "text": f"in {other['full_name']} at {other['id']}"},
        ):
            assert decide(guard, stored).allowed == decide(unread, stored).allowed, (
                decide(guard, stored).outcomes[-1].facts,
                stored,
            )


class TestUsersThroughTheClients:
    @pytest.fixture(name="fake")
    def _fake(self):
        fake = FakeXAPI()
        author = fake.add_user(username="local", location="San Francisco, CA")
        other = fake.add_user(username="other", location="Oakland")
        tweet_id = fake.add_tweet("here", author_id=author, place_id=SF)
        mention = fake.add_tweet("Loving San Francisco, CA today", author_id=other)
        return fake, tweet_id, mention, author, other

    def test_every_client_records_users_and_texts(self, fake):
        fake, tweet_id, mention, author, _other = fake
        v2, v1 = location_guard(), location_guard()
        fake.client(guard=v2).get_tweets(
            [tweet_id, mention],
            tweet_fields=["geo", "author_id"],
            expansions=["geo.place_id", "author_id"],
            place_fields=["full_name", "name", "country"],
            user_fields=["location", "description"],
        )
        fake.api(guard=v1).lookup_statuses([tweet_id, mention])
        for guard in (v2, v1):
            own = {"id": str(author), "username": "local", "location": "San Francisco, CA"}
            assert geo_allowed(guard, own)
            assert geo_allowed(
                guard, {"id": str(mention), "text": "Loving San Francisco, CA today"}
            )
            made_up_user = {"id": "42", "username": "x", "location": "san francisco,  CA"}
            with pytest.raises(StandaloneGeoError, match="user's own") as refusal:
                check_storable(made_up_user, guard=guard)
            assert "twpolicy.strip_geo(payload)" in refusal.value.decision.remediation
            assert check_storable(twpolicy.strip_geo(made_up_user), guard=guard).allowed
            made_up = {"id": "42", "text": "Loving SAN FRANCISCO, ca"}
            with pytest.raises(StandaloneGeoError, match="another Tweet") as refusal:
                check_storable(made_up, guard=guard)
            assert "strip_geo removes location fields, not text" in (
                refusal.value.decision.remediation
            )
            assert check_storable({**made_up, "text": "Loving it"}, guard=guard).allowed

    def test_every_storage_point_judges_users(self, fake):
        fake, tweet_id, _mention, _author, _other = fake
        guard = location_guard()
        fake.api(guard=guard).get_status(tweet_id)
        made_up = {"id_str": "42", "screen_name": "x", "location": "San Francisco"}
        with pytest.raises(StandaloneGeoError, match="user's own"):
            GeoSafeMapping({}, guard=guard)["k"] = made_up

        @twpolicy.no_standalone_geo(guard=guard)
        def save(record):
            raise AssertionError(record)

        with pytest.raises(StandaloneGeoError, match="user's own") as refusal:
            save(made_up)
        assert refusal.value.decision.outcomes[-1].facts["pointer"] == "/record/location"
        flattened = {
            "id": "43",
            "text": "hi",
            "author": {"id": "42", "username": "x", "location": "San Francisco"},
        }
        assert moved(guard, flattened, "moved_to_another_user")


class TestTheHookAndTheSpans:
    def test_full_names_in_text(self):
        keys = set(
            _text_place_keys("Hi (San  Francisco ,CA)! and St. Louis, MO. id 5A110D312052166F", 8)
        )
        assert {"san francisco, ca", "st. louis, mo", "5a110d312052166f"} <= keys
        assert not set(_text_place_keys("just San Francisco", 8))
        assert not set(_text_place_keys(", ,", 8))

    def test_a_body_with_text_is_read_once_a_place_was_owned(self):
        memory = twpolicy.LocationMemory()
        body = b'{"data": {"id": "7", "text": "in Exampleton, EX"}}'
        assert learn_body(memory, body) is None  # nothing owned: not parsed
        learn_body(
            memory,
            b'{"data": {"id": "1", "text": "t", "geo": {"place_id": "0123456789abcdef"}},'
            b'"includes": {"places": [{"id": "0123456789abcdef", "full_name": "Exampleton, EX"}]}}',
        )
        assert learn_body(memory, body)["data"]["id"] == "7"
        guard = location_guard()
        guard = Guard(rules=guard.rules, locations=memory)
        assert geo_allowed(guard, {"id": "7", "text": "in Exampleton, EX"})
        assert moved(guard, {"id": "8", "text": "in Exampleton, EX"})

    def test_users_with_points_and_derived_locations(self):
        guard = location_guard()
        read_result(
            guard.locations,
            [
                {
                    "id_str": "1",
                    "text": "t",
                    "coordinates": {"type": "Point", "coordinates": [-122.41942, 37.77493]},
                    "user": {"id_str": "9", "screen_name": "u", "location": "37.77493,-122.41942"},
                },
                {
                    "id_str": "2",
                    "text": "t",
                    "user": {
                        "id_str": "10",
                        "screen_name": "v",
                        "derived": {"locations": [{"country": "Nowhere", "locality": "Zed"}]},
                    },
                },
            ],
        )
        assert geo_allowed(
            guard, {"id_str": "9", "screen_name": "u", "location": "37.77493,-122.41942"}
        )
        assert moved(
            guard, {"id_str": "11", "screen_name": "w", "location": "ÜT: 37.7749,-122.4194"}
        )
        derived = {"derived": {"locations": [{"country": "Nowhere"}]}}
        assert geo_allowed(guard, {"id_str": "10", "screen_name": "v", **derived})
        assert moved(guard, {"id_str": "11", "screen_name": "w", **derived})
        assert moved(guard, {"screen_name": "w", "location": "Nowhere"})  # no ID: no reading


class TestEveryStringOfItsOwnContent:
    """A place or point read with Tweet A, kept anywhere in a made-up object: refused."""

    @pytest.fixture(name="guard")
    def _guard(self):
        fake = FakeXAPI()
        tweet_id = fake.add_tweet("here", place_id=SF, coordinates=(-122.41942, 37.77493))
        guard = location_guard()
        fake.api(guard=guard).get_status(tweet_id)
        return guard

    @pytest.mark.parametrize(
        ("payload", "reason"),
        [
            (
                {
                    "id_str": "42",
                    "text": "x",
                    "entities": {"hashtags": [{"text": "San Francisco, CA"}]},
                },
                "moved_to_another_tweet",
            ),
            (
                {"id_str": "42", "text": "x", "source": "San Francisco, CA"},
                "moved_to_another_tweet",
            ),
            (
                {
                    "id_str": "42",
                    "text": "x",
                    "place": {
                        "full_name": "Nowhere, ZZ",
                        "attributes": {"note": "San Francisco, CA"},
                    },
                },
                "moved_to_another_tweet",
            ),
            (
                {
                    "id_str": "42",
                    "text": "x",
                    "place": {"a": {"b": {"c": {"d": {"e": {"full_name": "San Francisco, CA"}}}}}},
                },
                "moved_to_another_tweet",
            ),
            (
                {
                    "id_str": "42",
                    "text": " ".join(f"{i}.5" for i in range(300)) + " 37.77493 -122.41942",
                },
                "moved_to_another_tweet",
            ),
            ({"id_str": "42", "text": "San\nFrancisco,\nCA"}, "moved_to_another_tweet"),
            (
                {"id_str": "42", "text": "at 37\u00b046\u203229.7\u2033N 122\u00b025'9.9\"W"},
                "moved_to_another_tweet",
            ),
            (
                {"id_str": "42", "screen_name": "x", "location": "37.775\u00b0, -122.419\u00b0"},
                "moved_to_another_user",
            ),
            (
                {
                    "id_str": "42",
                    "text": FULL_WIDTH,
                },
                "moved_to_another_tweet",
            ),
            (
                {"id_str": "42", "screen_name": "x", "name": "San Francisco, CA"},
                "moved_to_another_user",
            ),
            (
                {"id_str": "42", "screen_name": "x", "location": "near San Francisco"},
                "moved_to_another_user",
            ),
            (
                {"id_str": "42", "screen_name": "x", "location": "37.7749,-122.4194"},
                "moved_to_another_user",
            ),
            (
                {"id_str": "42", "screen_name": "x", "description": "at 37.7749 -122.4194"},
                "moved_to_another_user",
            ),
            (
                {"id_str": "42", "screen_name": "x", "url": "https://example.com/5a110d312052166f"},
                "moved_to_another_user",
            ),
            (
                {"id_str": "42", "screen_name": "x", "location": "United States"},
                "moved_to_another_user",
            ),
            (
                {
                    "objectType": "person",
                    "id": "id:twitter.com:42",
                    "preferredUsername": "x",
                    "displayName": "X",
                    "location": {"objectType": "place", "displayName": "San Francisco, CA"},
                },
                "moved_to_another_user",
            ),
            (
                {
                    "id_str": "5",
                    "text": "at San Francisco, CA",
                    "sender_id_str": "1",
                    "recipient_id_str": "2",
                    "sender": {"id_str": "1", "screen_name": "a"},
                },
                "moved_to_another_dm",
            ),
            (
                {
                    "id": "5",
                    "event_type": "MessageCreate",
                    "text": "at San Francisco, CA",
                    "sender_id": "1",
                    "dm_conversation_id": "1-2",
                },
                "moved_to_another_dm",
            ),
            (
                {
                    "type": "message_create",
                    "id": "5",
                    "created_timestamp": "1",
                    "message_create": {
                        "target": {"recipient_id": "2"},
                        "sender_id": "1",
                        "message_data": {"text": "at San Francisco, CA"},
                    },
                },
                "moved_to_another_dm",
            ),
        ],
    )
    def test_refused(self, guard, payload, reason):
        assert moved(guard, payload, reason)
        with pytest.raises(StandaloneGeoError) as refusal:
            check_storable(payload, guard=guard)
        assert "strip_geo" in refusal.value.decision.remediation

    def test_a_dm_read_keeps_its_own_text(self):
        guard = location_guard()
        place = {"id": "0123456789abcdef", "full_name": "Exampleton, EX", "name": "Exampleton"}
        dm = {
            "id_str": "5",
            "text": "at Exampleton, EX",
            "sender_id_str": "1",
            "recipient_id_str": "2",
            "sender": {"id_str": "1", "screen_name": "a"},
        }
        read_result(guard.locations, [{"id_str": "1", "text": "t", "place": place}, dm])
        assert geo_allowed(guard, dm)
        assert moved(guard, {**dm, "id_str": "6"}, "moved_to_another_dm")

    def test_spans_as_long_as_the_longest_name_read(self):
        guard = location_guard()
        place = {
            "id": "0123456789abcdef",
            "full_name": "Santa Cruz de la Sierra del Norte, Departamento de Santa Cruz, Bolivia",
        }
        read_result(guard.locations, [{"id_str": "1", "text": "t", "place": place}])
        text = "we met in santa cruz de la sierra del norte, departamento de santa cruz,  BOLIVIA!"
        assert moved(guard, {"id_str": "2", "text": text})
        assert geo_allowed(guard, {"id_str": "2", "text": "we met in Santa Cruz"})  # a bare name


class TestProfileLocationsRead:
    def test_a_profile_location_read_is_its_users_own(self):
        """users/show: a user read with their profile_location place; objects without IDs
        in the same response record nothing."""
        guard = location_guard()
        place = {
            "id": "0123456789abcdef",
            "full_name": "Exampleton, EX",
            "name": "Exampleton",
            "bounding_box": None,
        }
        user = {"id_str": "9", "screen_name": "u", "name": "U", "profile_location": place}
        read_result(
            guard.locations,
            {
                **user,
                "status": {
                    "text": "no ID, in Exampleton, EX",
                    "place": {"full_name": "Elsewhere, ZZ"},
                },
                "friends": [
                    {"screen_name": "no_id", "location": "Exampleton"},
                    {"id": None, "screen_name": "null_id", "location": "Exampleton"},
                    {"id": None, "text": "null ID, in Exampleton, EX"},
                ],
                "empty": {
                    "id_str": "10",
                    "screen_name": "v",
                    "profile_location": {"bounding_box": None},
                },
            },
        )
        assert geo_allowed(guard, user)
        assert moved(guard, {**user, "id_str": "11"}, "moved_to_another_user")
        assert moved(guard, {"id_str": "12", "text": "t", "place": place}, "moved_to_another_tweet")
        assert moved(guard, {"screen_name": "no_id", "name": "x", "location": "Exampleton"})

"""Places judged by owner (I.B.7): a place read with one Tweet is no other Tweet's place.

The guarded clients' read hook records which Tweet each place (its ID, full name and name)
was read with. A whole Tweet carrying a place read with some Tweet is storable only when it
is that Tweet; a place never read with a Tweet is judged as before. Each family is generated
whole: the place in either generation's shape, on a made-up Tweet, on another real Tweet,
with its name re-cased and re-spaced, and on the Tweet it was read with.
"""

import asyncio
import copy
import json

import pytest
import requests
import tweepy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twpolicy
from geo_places import (
    GENERATIONS,
    PLACE_IDS,
    SF,
    decide,
    geo_allowed,
    location_guard,
    named_places,
    respaced,
    v1_place,
)
from twpolicy import GeoSafeMapping, StandaloneGeoError, check_storable
from twpolicy._payloads._geo import learn_body, read_hook, read_result
from twpolicy.strategies import tweets
from twpolicy.testing import FakeXAPI


def moved(guard, payload):
    decision = decide(guard, payload)
    return not decision.allowed and decision.reason == "moved_to_another_tweet"


TWEET_IDS = st.integers(10**17, 2**62).map(str)


def with_place(generation, base, place, tweet_id):
    """A whole Tweet ``tweet_id`` carrying ``place``: a v1.1 status, or a v2 response."""
    tweet = copy.deepcopy(base)
    tweet["text"] = tweet.get("text") or "hello"
    for key in ("geo", "coordinates", "place", "retweeted_status", "quoted_status"):
        tweet.pop(key, None)
    if generation == "v2":
        tweet["id"] = tweet_id
        tweet["geo"] = {"place_id": place["id"]}
        return {"data": [tweet], "includes": {"places": [copy.deepcopy(place)]}}
    tweet["id"], tweet["id_str"] = int(tweet_id), tweet_id
    tweet["place"] = v1_place(place)
    return tweet


def read(guard, generation, base, place, tweet_id):
    """The clients' read hook reading a Tweet with ``place`` in a response of its generation."""
    tweet = with_place(generation, base, place, tweet_id)
    read_result(guard.locations, tweet if generation == "v2" else [tweet])


BASES = st.tuples(tweets("v1.1", location=False), tweets("v2", location=False))


class TestPlacesByOwner:
    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(
        read_in=GENERATIONS,
        stored_in=GENERATIONS,
        bases=BASES,
        place=named_places(),
        ids=st.lists(TWEET_IDS, min_size=2, max_size=2, unique=True),
    )
    def test_a_place_read_with_one_tweet_is_refused_on_another(  # hypothesis's
        self, read_in, stored_in, bases, place, ids
    ):
        """Read with Tweet A; carried by B (made up, or real and read elsewhere), in either
        generation: refused. Carried by A itself, as read or reshaped: allowed."""
        base = {"v1.1": bases[0], "v2": bases[1]}
        a, b = ids
        guard = location_guard()
        read(guard, read_in, base[read_in], place, a)
        assert moved(guard, with_place(stored_in, base[stored_in], place, b))
        assert moved(guard, [with_place(stored_in, base[stored_in], place, b)])  # in a list
        assert geo_allowed(guard, with_place(stored_in, base[stored_in], place, a))

    @settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
    @given(
        read_in=GENERATIONS,
        base=tweets("v1.1", location=False),
        v2_base=tweets("v2", location=False),
        place=named_places(),
        ids=st.lists(TWEET_IDS, min_size=2, max_size=2, unique=True),
        other_id=PLACE_IDS,
    )
    def test_every_part_of_the_place_is_judged(  # noqa: PLR0917  # hypothesis's
        self, read_in, base, v2_base, place, ids, other_id
    ):
        """Its full name re-cased and re-spaced, its name or its ID alone, under a made-up
        ID, as a v2 place reference, a v1.1 place or text: each refused on another Tweet."""
        a, b = ids
        guard = location_guard()
        read(guard, read_in, base if read_in == "v1.1" else v2_base, place, a)
        v1 = {**with_place("v1.1", base, place, b)}
        v2 = {**v2_base, "id": b, "text": v2_base.get("text") or "hello"}
        v2.pop("geo", None)
        made_up_place = {**place, "id": other_id}
        for stored in (
            {**v1, "place": {"full_name": respaced(place["full_name"])}},
            {**v1, "place": {"name": place["name"], "country": "Nowhere"}},
            {**v1, "place": {"id": place["id"].upper()}},
            {**v2, "geo": {"place_id": place["id"]}},
            {**v2, "place": respaced(place["full_name"])},  # another generation's field
            {
                "data": {**v2, "geo": {"place_id": other_id}},
                "includes": {"places": [made_up_place]},
            },
        ):
            assert moved(guard, stored), stored

    @settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
    @given(
        generation=GENERATIONS,
        bases=BASES,
        read_place=named_places(),
        other=named_places(),
        ids=st.lists(TWEET_IDS, min_size=2, max_size=2, unique=True),
    )
    def test_places_never_read_with_a_tweet_are_judged_as_before(  # hypothesis's
        self, generation, bases, read_place, other, ids
    ):
        """A place no Tweet was read with: decided exactly as by a guard that read nothing."""
        base = {"v1.1": bases[0], "v2": bases[1]}
        if other["name"].casefold() == read_place["name"].casefold():
            other["name"] += "x"
            other["full_name"] = other["name"] + ", Elsewhere"
        corners = read_place["geo"]["bbox"]
        other["geo"]["bbox"] = [corner + 0.1234567 for corner in corners]  # another area
        if other["id"] == read_place["id"]:
            other["id"] = "f" + other["id"][1:] if other["id"][0] != "f" else "e" + other["id"][1:]
        guard, unread = location_guard(), location_guard()
        read(guard, generation, base[generation], read_place, ids[0])
        for stored in (
            with_place(generation, base[generation], other, ids[1]),
            with_place(generation, base[generation], other, ids[0]),
        ):
            assert decide(guard, stored).allowed == decide(unread, stored).allowed

    @given(
        base=tweets("v1.1", location=False),
        place=named_places(),
        ids=st.lists(TWEET_IDS, min_size=2, max_size=2, unique=True),
    )
    def test_storage_checks_and_observe_record_no_owner(self, base, place, ids):
        """A made-up Tweet given to check_storable, or observe, does not vouch for itself."""
        guard = location_guard()
        made_up = with_place("v1.1", base, place, ids[1])
        assert check_storable(made_up, guard=guard).allowed  # nothing read yet
        guard.locations.observe([made_up])
        assert not guard.locations.owns_any()
        assert geo_allowed(guard, made_up)
        read(guard, "v1.1", base, place, ids[0])
        assert moved(guard, made_up)

    def test_every_tweet_read_with_the_place_keeps_it(self):
        guard = location_guard()
        place = {"id": "0123456789abcdef", "full_name": "Exampleton, EX", "name": "Exampleton"}
        base = {"user": {"id_str": "1", "screen_name": "x"}}
        for tweet_id in ("100", "200"):
            read_result(
                guard.locations,
                [
                    with_place(
                        "v1.1",
                        base,
                        {
                            **place,
                            "geo": {"bbox": [1.5, 2.5, 1.6, 2.6]},
                            "place_type": "city",
                            "country": "X",
                            "country_code": "XX",
                        },
                        tweet_id,
                    )
                ],
            )
        for tweet_id in ("100", "200"):
            assert geo_allowed(guard, {"id_str": tweet_id, "text": "hi", "place": place})
        assert moved(guard, {"id_str": "300", "text": "hi", "place": place})
        assert not geo_allowed(guard, {"text": "no ID", "place": place})  # no reading names it


class TestThroughTheClients:
    @pytest.fixture(name="fake")
    def _fake(self):
        fake = FakeXAPI()
        return fake, fake.add_tweet("here", place_id=SF), fake.add_tweet("there")

    def guards(self, fake, tweet_id):
        """A guard for each guarded client that read ``tweet_id`` with its place."""
        fields = {
            "tweet_fields": ["geo"],
            "expansions": ["geo.place_id"],
            "place_fields": ["full_name", "name", "geo", "country"],
        }
        v2, v1, parsed, asynchronous = (location_guard() for _ in range(4))
        fake.client(guard=v2).get_tweet(tweet_id, **fields)
        fake.api(guard=v1).get_status(tweet_id)
        fake.client(guard=parsed, return_type=requests.Response).get_tweet(tweet_id, **fields)

        async def read_async():
            await fake.async_client(guard=asynchronous).get_tweet(tweet_id, **fields)

        asyncio.run(read_async())
        return v2, v1, parsed, asynchronous

    def test_every_client_records_the_place_with_its_tweet(self, fake):
        fake, tweet_id, other_id = fake
        place = {"id": SF, "full_name": "San Francisco, CA", "name": "San Francisco"}
        for guard in self.guards(fake, tweet_id):
            own = {"id": str(tweet_id), "text": "here", "geo": {"place_id": SF}}
            assert geo_allowed(guard, own)
            assert geo_allowed(guard, {"id_str": str(tweet_id), "text": "here", "place": place})
            for stored in (
                {"id": "42", "text": "made up", "geo": {"place_id": SF}},
                {"id": str(other_id), "text": "there", "geo": {"place_id": SF}},  # real, another
                {"id_str": "42", "text": "made up", "place": {"full_name": "SAN FRANCISCO ,CA"}},
            ):
                with pytest.raises(StandaloneGeoError, match="another Tweet") as refusal:
                    check_storable(stored, guard=guard)
                remedy = refusal.value.decision.remediation
                assert "twpolicy.strip_geo(payload)" in remedy
                assert check_storable(twpolicy.strip_geo(stored), guard=guard).allowed

    def test_every_storage_point_and_form_judges_by_owner(self, fake):
        """JSON text, bytes, a mapping's item and a function's argument: all refused."""
        fake, tweet_id, _ = fake
        guard = self.guards(fake, tweet_id)[0]
        made_up = {"id": "42", "text": "made up", "geo": {"place_id": SF}}
        for stored in (made_up, json.dumps(made_up), json.dumps(made_up).encode("utf-16")):
            assert moved(guard, stored)
        with pytest.raises(StandaloneGeoError, match="another Tweet"):
            GeoSafeMapping({}, guard=guard)["k"] = made_up

        @twpolicy.no_standalone_geo(guard=guard)
        def save(record):
            raise AssertionError(record)

        with pytest.raises(StandaloneGeoError, match="another Tweet") as refusal:
            save(made_up)
        assert refusal.value.decision.outcomes[-1].facts["pointer"] == "/record/geo"
        assert not moved(guard, "not json")  # text that is no JSON: judged by other checks


class TestHookShapes:
    def test_users_last_tweets_and_nested_quotes_record_owners(self):
        guard = location_guard()
        place = {"id": "0123456789abcdef", "full_name": "Exampleton, EX"}
        quoted = {"id_str": "3", "text": "q", "place": place}
        document = {
            "users": [
                {
                    "id_str": "9",
                    "screen_name": "u",
                    "status": {"id_str": "1", "text": "s", "place": place},
                }
            ],
        }
        read_result(guard.locations, document)
        read_result(
            guard.locations,
            [
                {
                    "id_str": "2",
                    "text": "rt",
                    "retweeted_status": {"id_str": "4", "text": "x", "quoted_status": quoted},
                }
            ],
        )
        for own in ("1", "3"):
            assert geo_allowed(guard, {"id_str": own, "text": "t", "place": place})
        assert moved(guard, {"id_str": "5", "text": "t", "place": place})

    def test_a_point_of_interest_area_is_its_tweets_own(self):
        """A place whose area is one point, that another Tweet was read at exactly."""
        guard = location_guard()
        point = [-122.41942, 37.77493]
        area = {"type": "Polygon", "coordinates": [[point, point, point, point]]}
        place = {"id": "0123456789abcdef", "full_name": "Cafe, EX", "bounding_box": area}
        exact = {"type": "Point", "coordinates": point}
        read_result(
            guard.locations,
            [
                {"id_str": "1", "text": "a", "coordinates": exact, "place": place},
                {"id_str": "2", "text": "b", "place": place},
            ],
        )
        assert geo_allowed(guard, {"id_str": "2", "text": "b", "place": place})
        assert moved(guard, {"id_str": "3", "text": "c", "place": place})


# -- the read hook learns from the body as received, whatever the application does with it --


class CustomParser(tweepy.parsers.Parser):
    """A v1.1 parser of an application's own: its results are opaque to the guard."""

    def parse(self, payload, *, api=None, payload_list=False, payload_type=None, **kwargs):
        return object()


def made_up_refused(guard):
    made_up = {"id": "42", "text": "made up", "geo": {"place_id": SF}}
    return moved(guard, made_up) and not geo_allowed(guard, {"San Francisco, CA": 3})


class TestTheHookReadsTheBody:
    FIELDS = {  # noqa: RUF012  # read only
        "tweet_fields": ["geo"],
        "expansions": ["geo.place_id"],
        "place_fields": ["full_name", "name"],
    }

    @pytest.fixture(name="fake")
    def _fake(self):
        fake = FakeXAPI()
        return fake, fake.add_tweet("here", place_id=SF)

    @pytest.mark.parametrize("use", ["nothing", "content", "text", "raw", "json"])
    def test_a_requests_response_the_application_parses_itself(self, fake, use):
        fake, tweet_id = fake
        guard = location_guard()
        client = fake.client(guard=guard, return_type=requests.Response)
        answer = client.get_tweet(tweet_id, **self.FIELDS)
        assert made_up_refused(guard)  # learned before the application touched it
        expected = json.loads(answer.content)
        got = {
            "nothing": lambda: expected,
            "content": lambda: json.loads(answer.content),
            "text": lambda: json.loads(answer.text),
            "raw": lambda: expected,  # the stream is read already; the body was learned
            "json": answer.json,
        }[use]()
        assert got == expected
        assert answer.json() == expected  # handed on once, then parsed as requests does
        assert answer.json(parse_float=str) == json.loads(answer.content, parse_float=str)

    @pytest.mark.parametrize("return_type", [None, dict])
    def test_every_v2_return_type(self, fake, return_type):
        fake, tweet_id = fake
        guard = location_guard()
        options = {} if return_type is None else {"return_type": return_type}
        answer = fake.client(guard=guard, **options).get_tweet(tweet_id, **self.FIELDS)
        assert made_up_refused(guard)
        data = answer["data"] if return_type is dict else answer.data.data
        assert data["geo"] == {"place_id": SF}  # tweepy got the document whole

    @pytest.mark.parametrize("return_type", [None, dict, "aiohttp"])
    def test_every_async_return_type(self, fake, return_type):
        aiohttp = pytest.importorskip("aiohttp")
        fake, tweet_id = fake
        guard = location_guard()
        kind = aiohttp.ClientResponse if return_type == "aiohttp" else return_type
        options = {} if kind is None else {"return_type": kind}

        async def read():
            client = fake.async_client(guard=guard, **options)
            answer = await client.get_tweet(tweet_id, **self.FIELDS)
            if return_type == "aiohttp":
                assert made_up_refused(guard)  # before the application reads it
                document = await answer.json()
                assert document == await answer.json()
                return document["data"]
            return answer["data"] if return_type is dict else answer.data.data

        assert asyncio.run(read())["geo"] == {"place_id": SF}
        assert made_up_refused(guard)

    @pytest.mark.parametrize("parser", ["model", "json", "raw", "custom"])
    def test_every_v1_parser(self, fake, parser):
        fake, tweet_id = fake
        guard = location_guard()
        parsers = {
            "model": tweepy.parsers.ModelParser(),
            "json": tweepy.parsers.JSONParser(),
            "raw": tweepy.parsers.RawParser(),
            "custom": CustomParser(),
        }
        api = fake.api(guard=guard, parser=parsers[parser])
        api.get_status(tweet_id)
        assert geo_allowed(guard, {"id_str": str(tweet_id), "text": "here", "place": {"id": SF}})
        assert moved(guard, {"id_str": "42", "text": "made up", "place": {"id": SF}})
        api.home_timeline()  # a ResultSet (a list of models) is read too
        assert not geo_allowed(guard, {"San Francisco, CA": 3})

    def test_a_body_without_location_is_not_parsed(self):
        memory = twpolicy.LocationMemory()
        for body in (
            b'{"data": {"id": "1", "text": "no location"}}',
            b'{"id_str": "1", "text": "x", "geo": null, "coordinates": null, "place": null}',
            "not JSON at all",
            12,
        ):
            assert learn_body(memory, body) is None
        assert learn_body(memory, b'{"geo": {"place_id": "x"}, "oops"') is None  # unreadable
        assert not memory.owns_any()
        document = learn_body(
            memory, '{"data": {"id": "7", "text": "t", "geo": {"place_id": "0a"}}}'
        )
        assert document["data"]["id"] == "7"
        assert memory.owns_any()

    def test_a_response_without_a_received_body_learns_on_json(self):
        """A response object of another library (no body kept): the hook falls back to json()."""

        class Answer:
            def json(self):
                return {"data": {"id": "9", "text": "t", "geo": {"place_id": SF}}}

        guard = location_guard()
        answer = read_hook(guard.locations, Answer())
        assert not guard.locations.owns_any()
        answer.json()
        assert guard.locations.owns_any()
        assert moved(guard, {"id": "42", "text": "made up", "geo": {"place_id": SF}})


class TestEveryPartOfATweet:
    """A point or place read with Tweet A, kept anywhere in made-up Tweet B: refused."""

    @pytest.fixture(name="guard")
    def _guard(self):
        fake = FakeXAPI()
        tweet_id = fake.add_tweet("here", place_id=SF, coordinates=(-122.41942, 37.77493))
        guard = location_guard()
        fake.api(guard=guard).get_status(tweet_id)
        return guard, str(tweet_id)

    @settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        places=st.integers(2, 6),
        swapped=st.booleans(),
        where=st.sampled_from(["text", "entities", "own_key", "list"]),
    )
    def test_a_point_in_a_made_up_tweets_content(self, guard, places, swapped, where):
        guard, _ = guard
        first, second = round(37.77493, places), round(-122.41942, places)
        if swapped:
            first, second = second, first
        tweet = {"id_str": "42", "text": "made up"}
        if where == "text":
            tweet["text"] = f"seen at {first}, {second}"
        elif where == "entities":
            tweet["entities"] = {"note": f"{first} {second}"}
        elif where == "own_key":
            tweet["my_index"] = {"a": first, "b": second}
        else:
            tweet["extra"] = [first, 0, second]
        assert not geo_allowed(guard, tweet)  # moved, or added to it: refused either way
        if where == "text":
            with pytest.raises(StandaloneGeoError) as refusal:
                check_storable(tweet, guard=guard)
            assert (
                "strip_geo removes location fields, not text" in refusal.value.decision.remediation
            )
            assert check_storable({**tweet, "text": "seen"}, guard=guard).allowed  # as written

    def test_an_area_and_a_country_alone(self, guard):
        guard, tweet_id = guard
        corner = [-122.514926, 37.708075]
        area = {"type": "Polygon", "coordinates": [[corner, [-122.357031, 37.833238]]]}
        for stored in (
            {"id_str": "42", "text": "x", "place": {"bounding_box": area}},
            {"id_str": "42", "text": "x", "coordinates": {"type": "Point", "coordinates": corner}},
            {"id_str": "42", "text": "x", "place": {"country": "United States"}},
            {"id_str": "42", "text": "x", "place": {"country_code": "US"}},
        ):
            assert moved(guard, stored), stored
            assert geo_allowed(guard, {**stored, "id_str": tweet_id})  # its own
        # A place of another name in the same country: judged by its name, not its country.
        other = {"id": "1234567890abcdef", "full_name": "Oakland, CA", "country": "United States"}
        assert geo_allowed(guard, {"id_str": "42", "text": "x", "place": other})

    def test_whole_numbers_and_nested_tweets_are_left_alone(self, guard):
        guard, tweet_id = guard
        assert geo_allowed(guard, {"id_str": "42", "text": "37 and -122 and 0.0"})
        retweet = {
            "id_str": "43",
            "text": "RT",
            "retweeted_status": {
                "id_str": tweet_id,
                "text": "here",
                "coordinates": {"type": "Point", "coordinates": [-122.41942, 37.77493]},
            },
        }
        assert geo_allowed(guard, retweet)  # the point is its own Tweet's, nested

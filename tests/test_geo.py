import asyncio
import copy
import json
import re
import shelve
import urllib.parse
import warnings

import cachetools
import pytest
import tweepy
from hypothesis import example, given
from hypothesis import strategies as st

import payloads
import twpolicy
from conftest import PROJECT
from corpus import load, resolve
from twpolicy import GeoKind, Guard, StandaloneGeoError, check_storable, find_geo, strip_geo
from twpolicy._payloads import _encodings, _geo
from twpolicy.testing import DecisionRecorder

PLACE_ID = "0a1b2c3d4e5f6a7b"

# The keys the reference reading below treats as location, whatever object holds them.
LOCATION_KEYS = {
    "coordinates",
    "geo",
    "place",
    "places",
    "bounding_box",
    "bbox",
    "geometry",
    "centroid",
    "polylines",
    "place_id",
    "profile_location",
    "location",
    "locations",
    "profileLocations",
    "woeid",
    "trend_location",
    "lat",
    "long",
    "lon",
    "lng",
    "latitude",
    "longitude",
    "shared_coordinate",
    "shared_place",
}


def escape(key):
    return str(key).replace("~", "~0").replace("/", "~1")


def reference_locations(payload):
    """Pointers of every non-empty value under a location key: a deliberately plain reading.

    It knows no payload shapes, only key names (and that rate-limit status lists a ``geo``
    route family), and that a search URL's ``geocode=`` parameter is location. A list of
    objects under such a key counts element by element.
    """
    found = []
    stack = [(payload, "", None)]
    while stack:
        value, pointer, key = stack.pop()
        if isinstance(value, dict):
            for name, item in value.items():
                here = f"{pointer}/{escape(name)}"
                route_family = name == "geo" and key == "resources"
                if name in LOCATION_KEYS and item not in (None, "", [], {}) and not route_family:
                    if isinstance(item, list) and all(isinstance(e, dict) for e in item):
                        found += [f"{here}/{i}" for i, element in enumerate(item) if element]
                    else:
                        found.append(here)
                stack.append((item, here, name))
        elif isinstance(value, str) and "geocode=" in urllib.parse.unquote(value):
            found.append(pointer)  # a search's location, echoed back
        elif isinstance(value, list):
            stack.extend((item, f"{pointer}/{i}", None) for i, item in enumerate(value))
    return found


def covers(outer, inner):
    return inner == outer or inner.startswith(outer + "/")


def without(payload, pointers):
    """A copy of ``payload`` with the values at ``pointers`` taken out (none inside another)."""
    if "" in pointers:
        return None  # the whole payload is location (a bare pair): strip_geo leaves nothing
    payload = json.loads(json.dumps(payload))  # unlike deepcopy, shares nothing
    targets = []
    for pointer in pointers:
        head, _, last = pointer.rpartition("/")
        parent = resolve(payload, head)
        key = last.replace("~1", "/").replace("~0", "~")
        targets.append((parent, int(key) if isinstance(parent, list) else key))
    # Parents are resolved before anything moves; list items go from the back.
    for parent, key in sorted(
        targets, key=lambda t: t[1] if isinstance(t[1], int) else -1, reverse=True
    ):
        del parent[key]
    return payload


def summary(findings):
    return [(f.pointer, f.kind.value, f.standalone, f.reason) for f in findings]


@pytest.fixture(name="recorder")
def _recorder():
    """A fresh decision recorder."""
    return DecisionRecorder()


@pytest.fixture(name="guard")
def _guard(recorder):
    """An enforcing guard that records its decisions."""
    return Guard(sinks=[recorder])


class TestFindGeo:
    def test_v1_tweet(self):
        """A v1.1 Tweet's point (twice), place and its user's profile location belong to it."""
        tweet = payloads.tweet_v1(
            coordinates=payloads.POINT, geo=payloads.LEGACY_POINT, place=payloads.place_v1()
        )
        assert [
            ("/coordinates", "point", False, "in_tweet"),
            ("/geo", "point", False, "in_tweet"),
            ("/place", "place", False, "in_tweet"),
            ("/user/location", "profile_location", False, "in_user"),
        ] == summary(find_geo(tweet))

    def test_owner_is_named(self):
        """Each finding names the object it belongs to: pointer, kind and ID."""
        found = find_geo({"statuses": [payloads.tweet_v1(place=payloads.place_v1())]})
        place = found[0]
        assert ("/statuses/0", "tweet_v1", "1000000000000000010") == (
            place.owner_pointer,
            place.owner_kind,
            place.owner_id,
        )
        assert ("/statuses/0/user", "user_v1", "1000000000000000001") == (
            found[1].owner_pointer,
            found[1].owner_kind,
            found[1].owner_id,
        )

    def test_v2_response_with_its_places(self):
        """Expanded places a Tweet refers to are part of that Tweet; others stand alone."""
        response = payloads.response_v2(
            [payloads.tweet_v2(geo={"place_id": PLACE_ID, "coordinates": payloads.POINT})],
            places=[payloads.place_v2(PLACE_ID), payloads.place_v2("ffffffffffffffff")],
            users=[payloads.user_v2()],
        )
        found = find_geo(response)
        assert [
            ("/data/0/geo", "point", False, "in_tweet"),
            ("/includes/users/0/location", "profile_location", False, "in_user"),
            ("/includes/places/0", "place", False, "referenced_by_tweet"),
            ("/includes/places/1", "place", True, "unreferenced_place"),
        ] == summary(found)
        assert "/data/0" == found[2].owner_pointer

    def test_place_reference_alone(self):
        """A v2 Tweet's ``geo`` without coordinates is a reference to a place."""
        assert [("/geo", "place_reference", False, "in_tweet")] == summary(
            find_geo(payloads.tweet_v2(geo={"place_id": PLACE_ID}))
        )

    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            (payloads.place_v1(), [("", "place", True, "on_its_own")]),
            (
                [payloads.place_v1(), payloads.place_v2()],
                [("/0", "place", True, "on_its_own"), ("/1", "place", True, "on_its_own")],
            ),
            (payloads.POINT, [("", "point", True, "on_its_own")]),
            (
                {"id_str": "1000000000000000010", "coordinates": payloads.POINT},
                [("/coordinates", "point", True, "reduced_tweet")],
            ),
            (
                {"id": "1000000000000000010", "geo": {"place_id": PLACE_ID}},
                [("/geo", "place_reference", True, "reduced_tweet")],
            ),
            (
                [{"id": "783214", "location": "Exampleton"}],
                [("/0/location", "profile_location", True, "reduced_user")],
            ),
            (
                {"783214": {"location": "Exampleton"}},
                [("/783214/location", "profile_location", True, "on_its_own")],
            ),
            (
                {"783214": {"lat": 51.5, "long": -0.12}},
                [
                    ("/783214/lat", "point", True, "on_its_own"),
                    ("/783214/long", "point", True, "on_its_own"),
                ],
            ),
            (
                {"last_seen": {"1000000000000000001": payloads.POINT}},
                [("/last_seen/1000000000000000001", "point", True, "on_its_own")],
            ),
            ({"areas": [payloads.BOX]}, [("/areas/0", "bounding_box", True, "on_its_own")]),
            (
                payloads.geo_result(),
                [
                    ("/query", "geo_query", True, "geo_endpoint"),
                    ("/result/places/0", "place", True, "geo_endpoint"),
                    ("/result/places/1", "place", True, "geo_endpoint"),
                ],
            ),
            (payloads.trends(), [("/0/locations/0", "trend_location", True, "trend_location")]),
            (
                {"places": [payloads.place_v2()], "tweets": [payloads.tweet_v2()]},
                [("/places/0", "place", True, "unreferenced_place")],
            ),
        ],
        ids=[
            "place",
            "list-of-places",
            "geojson-point",
            "tweet-reduced-to-id",
            "v2-tweet-reduced-to-id",
            "user-reduced-to-id",
            "user-id-to-location",
            "user-id-to-lat-long",
            "user-id-to-point",
            "areas",
            "geo-endpoint",
            "trends",
            "bare-expansions",
        ],
    )
    def test_standalone(self, payload, expected):
        """Location apart from the object it belongs to stands alone, and says why."""
        assert expected == summary(find_geo(payload))

    @pytest.mark.parametrize(
        "payload",
        [
            payloads.tweet_v1(user=payloads.user_v1(location="")),
            {"coordinates": None, "place": {}, "location": "", "geo": [], "id_str": "1"},
            {"scrub_geo": {"user_id_str": "1000000000000000001", "up_to_status_id_str": "9"}},
            {"rate_limit_context": {}, "resources": {"geo": {"/geo/search": {"limit": 15}}}},
            {"entities": {"hashtags": [{"text": "place", "indices": [0, 6]}]}},
        ],
        ids=["no-location", "empty-values", "scrub-geo", "rate-limits", "words"],
    )
    def test_no_location(self, payload):
        """Empty values, notices and route names are not location data."""
        assert [] == find_geo(payload)

    def test_activity_streams(self):
        """A Gnip activity's place and point belong to it; its actor's location to the actor."""
        enriched = payloads.activity()
        enriched["gnip"] = {"profileLocations": [{"displayName": "Exampleland"}]}
        assert [
            ("/location", "place", False, "in_tweet"),
            ("/geo", "point", False, "in_tweet"),
            ("/gnip/profileLocations", "derived_location", False, "in_tweet"),
            ("/actor/location", "profile_location", False, "in_user"),
        ] == summary(find_geo(enriched))

    def test_flattened_tweet(self):
        """A twarc-flattened Tweet's merged place and its inlined users' locations."""
        tweet = payloads.tweet_v2(
            author=payloads.user_v2(),
            geo={
                "place_id": PLACE_ID,
                "full_name": "Exampleton, EX",
                "geo": {"bbox": [0, 0, 1, 1]},
            },
            entities={
                "mentions": [payloads.user_v2("1000000000000000002") | {"start": 0, "end": 3}]
            },
        )
        assert [
            ("/geo", "place", False, "in_tweet"),
            ("/author/location", "profile_location", False, "in_user"),
            ("/entities/mentions/0/location", "profile_location", False, "in_user"),
        ] == summary(find_geo(tweet))

    @pytest.mark.parametrize(
        ("attachment", "kind"),
        [
            (
                {
                    "type": "location",
                    "location": {
                        "type": "shared_coordinate",
                        "shared_coordinate": {"coordinates": payloads.POINT},
                    },
                },
                "point",
            ),
            (
                {
                    "type": "location",
                    "location": {
                        "type": "shared_place",
                        "shared_place": {"place": {"id": PLACE_ID}},
                    },
                },
                "place",
            ),
        ],
    )
    def test_dm_location_attachment(self, attachment, kind):
        """A location attached to a Direct Message is part of that DM."""
        event = {
            "type": "message_create",
            "id": "5",
            "message_create": {
                "sender_id": "1",
                "message_data": {"text": "here", "attachment": attachment},
            },
        }
        assert [
            ("/message_create/message_data/attachment/location", kind, False, "in_dm")
        ] == summary(find_geo(event))

    def test_user_derived_locations(self):
        """Enrichment-derived locations belong to the user they were derived for."""
        user = payloads.user_v1() | {"derived": {"locations": [{"country": "Exampleland"}]}}
        assert [
            ("/location", "profile_location", False, "in_user"),
            ("/derived/locations", "derived_location", False, "in_user"),
        ] == summary(find_geo(user))

    def test_location_under_unknown_keys_of_a_tweet(self):
        """Under keys no table knows, a whole Tweet's own location (a copy of its place or
        point) is still that Tweet's; location from anywhere else was added to it."""
        own = payloads.tweet_v1(
            place=payloads.place_v1(),
            coordinates={"type": "Point", "coordinates": [-0.1275, 51.5072]},
            cards={"venue": {"place": payloads.place_v1(), "lat": 51.5072, "long": -0.1275}},
        )
        assert [
            ("/coordinates", "point", False, "in_tweet"),
            ("/place", "place", False, "in_tweet"),
            ("/user/location", "profile_location", False, "in_user"),
        ] == summary(find_geo(own))[:3]
        assert all(not finding.standalone for finding in find_geo(own))
        added = payloads.tweet_v1(cards={"venue": {"place": payloads.place_v1(), "lat": 51.5}})
        assert [
            ("/user/location", "profile_location", False, "in_user"),
            ("/cards/venue/place", "place", True, "added_to_tweet"),
            ("/cards/venue/lat", "point", True, "added_to_tweet"),
        ] == summary(find_geo(added))

    def test_tweepy_objects(self):
        """tweepy models and responses are read as the JSON they came from."""
        tweet = tweepy.Tweet(payloads.tweet_v2(geo={"place_id": PLACE_ID}))
        response = tweepy.Response(
            [tweet], {"places": [tweepy.Place(payloads.place_v2("ffffffffffffffff"))]}, [], {}
        )
        assert [
            ("/data/0/geo", "place_reference", False, "in_tweet"),
            ("/includes/places/0", "place", True, "unreferenced_place"),
        ] == summary(find_geo(response))

    def test_findings_are_plain_data(self):
        """Findings compare by value and hold pointers and IDs, never the location itself."""
        first, second = find_geo(payloads.place_v1()), find_geo(payloads.place_v1())
        assert first == second
        assert "Exampleton" not in repr(first)


class TestCheckStorable:
    def test_whole_tweet_is_storable(self, guard, recorder):
        """A whole Tweet with its own location is allowed, and the decision is logged."""
        decision = check_storable(payloads.tweet_v1(place=payloads.place_v1()), guard=guard)
        assert decision.allowed
        assert ("geo.standalone", "no_standalone_geo") == (decision.rule, decision.reason)
        assert [decision] == recorder.decisions

    def test_place_alone_is_refused(self, guard, recorder):
        """A place on its own raises StandaloneGeoError naming the pointer, clause and fix."""
        with pytest.raises(StandaloneGeoError) as info:
            check_storable({"cache": {"t1": payloads.place_v1()}}, guard=guard)
        decision = info.value.decision
        assert ("geo.standalone", "I.B.7", "standalone_geo") == (
            decision.rule,
            decision.clause,
            decision.reason,
        )
        assert "/cache/t1" in str(info.value)
        assert "I.B.7" in str(info.value)
        assert "strip_geo" in decision.remediation
        assert {
            "pointer": "/cache/t1",
            "geo_kind": "place",
            "geo_reason": "on_its_own",
            "standalone_count": 1,
        } == dict(decision.outcomes[-1].facts)
        assert [decision] == recorder.denied

    def test_decision_log_holds_no_location(self, guard):
        """The refusal names pointers and kinds, never the place's name or coordinates."""
        with pytest.raises(StandaloneGeoError) as info:
            check_storable(
                [{"id": "783214", "location": "Secret Street 7"}, payloads.place_v1()], guard=guard
            )
        record = json.dumps(info.value.decision.to_record())
        assert "Secret Street" not in record
        assert "Exampleton" not in record
        assert "51.3" not in record
        assert "(and 1 more)" in info.value.decision.message

    def test_default_guard(self, recorder):
        """guard=None asks the default guard."""
        twpolicy.set_default_guard(Guard(sinks=[recorder]))
        with pytest.raises(StandaloneGeoError):
            check_storable(payloads.POINT)
        assert 1 == len(recorder.denied)

    def test_warn_mode_proceeds(self):
        """In warn mode the store goes ahead with a warning; the deny is still logged."""
        guard = Guard(rule_modes={"geo.standalone": "warn"})
        with pytest.warns(twpolicy.TwPolicyWarning, match="I.B.7"):
            decision = check_storable(payloads.place_v1(), guard=guard)
        assert decision.allowed
        assert decision.denied

    @pytest.mark.parametrize("encode", [str, str.encode])
    def test_json_text_is_read(self, guard, encode):
        """JSON about to be stored as text is checked as the JSON it holds."""
        with pytest.raises(StandaloneGeoError):
            check_storable(encode(json.dumps(payloads.place_v1())), guard=guard)
        assert check_storable(encode(json.dumps(payloads.tweet_v1())), guard=guard).allowed
        assert check_storable(encode("Just some words"), guard=guard).allowed

    @pytest.mark.parametrize("payload", ['{"place": ', b"[\xff\xfe"])
    def test_unreadable_json_text_is_refused(self, guard, payload):
        """Text that looks like JSON but does not parse is refused: it cannot be checked."""
        with pytest.raises(twpolicy.PolicyViolation) as info:
            check_storable(payload, guard=guard)
        assert "rule_error" == info.value.decision.reason
        assert "cannot be read" in info.value.decision.message

    def test_cycle_is_refused(self, guard):
        """A structure that contains itself is refused (fail closed), not walked forever."""
        payload = {"a": []}
        payload["a"].append(payload)
        with pytest.raises(twpolicy.PolicyViolation, match="contains itself"):
            check_storable(payload, guard=guard)

    def test_other_actions_are_not_checked(self, guard):
        """The rule reads store actions only, and store actions with a payload."""
        rule = twpolicy.default_rules()[-1]
        assert "geo.standalone" == rule.id
        assert (
            rule.evaluate(
                twpolicy.Action(kind="export", operation="x", payload=payloads.POINT), guard
            )
            is None
        )
        assert rule.evaluate(twpolicy.Action(kind="store", operation="x"), guard) is None
        assert "twpolicy.rules.forbid_standalone_geo()" == repr(rule)

    def test_standalone_only_strip_makes_it_storable(self, guard):
        """What check_storable refuses, strip_geo(standalone_only=True) removes."""
        response = payloads.response_v2(
            [payloads.tweet_v2(geo={"place_id": PLACE_ID})],
            places=[payloads.place_v2(PLACE_ID), payloads.place_v2("ffffffffffffffff")],
        )
        with pytest.raises(StandaloneGeoError):
            check_storable(response, guard=guard)
        kept = strip_geo(response, standalone_only=True)
        assert check_storable(kept, guard=guard).allowed
        assert [payloads.place_v2(PLACE_ID)] == kept["includes"]["places"]


class TestDecorator:
    def test_bare_form(self, guard, recorder):
        """@no_standalone_geo checks every argument before the function runs."""
        twpolicy.set_default_guard(guard)
        stored = []

        @twpolicy.no_standalone_geo
        def save(key, record):
            """Save a record."""
            stored.append(key)

        save("a", payloads.tweet_v1(place=payloads.place_v1()))
        with pytest.raises(StandaloneGeoError, match="/record/place") as info:
            save("b", record={"place": payloads.place_v1()})
        assert ["a"] == stored
        assert info.value.decision.operation.endswith("save")
        assert ("save", "Save a record.") == (save.__name__, save.__doc__)
        assert save.__wrapped__ is not None

    def test_with_arguments(self, recorder):
        """Only the named arguments are checked, by the given guard."""
        guard = Guard(sinks=[recorder])

        @twpolicy.no_standalone_geo(guard=guard, arguments=["record"])
        def save(record, *, where=None):
            return record["id_str"]

        assert "1000000000000000010" == save(payloads.tweet_v1(), where=payloads.POINT)
        with pytest.raises(StandaloneGeoError, match="/record/coordinates"):
            save({"id_str": "1000000000000000010", "coordinates": payloads.POINT})
        assert ["allow", "deny"] == [d.effect.value for d in recorder]

    def test_async(self, guard):
        """Coroutine functions are checked before they are awaited."""
        ran = []

        @twpolicy.no_standalone_geo(guard=guard)
        async def save(record):
            ran.append(record)
            return "saved"

        assert "saved" == asyncio.run(save(payloads.tweet_v1()))
        with pytest.raises(StandaloneGeoError):
            asyncio.run(save(payloads.place_v1()))
        assert 1 == len(ran)
        assert asyncio.iscoroutinefunction(save)

    def test_unknown_argument_name(self):
        """Naming a parameter the function does not have is an error at decoration time."""
        with pytest.raises(TypeError, match="recrod"):

            @twpolicy.no_standalone_geo(arguments=["recrod"])
            def save(record):
                pass

    def test_monitor_mode_lets_the_call_through(self, recorder):
        """In monitor mode the refused call runs, and the deny is logged."""
        guard = Guard(mode="monitor", sinks=[recorder])
        save = twpolicy.no_standalone_geo(guard=guard)(lambda record: "ran")
        assert "ran" == save(payloads.place_v1())
        assert 1 == len(recorder.denied)

    def test_methods_and_defaults(self, guard):
        """Methods, defaults and keyword-only parameters bind as the call would."""

        class Store:
            @twpolicy.no_standalone_geo(guard=guard)
            def put(self, record=None, *extra, **more):
                return (record, extra, more)

        assert (None, (), {}) == Store().put()
        with pytest.raises(StandaloneGeoError, match="/extra/0"):
            Store().put(payloads.tweet_v1(), payloads.POINT)
        with pytest.raises(StandaloneGeoError, match="/more/spot"):
            Store().put(spot=payloads.POINT)


class TestGeoSafeMapping:
    def test_dict(self, guard):
        """Standalone location is refused and never stored; all else passes through."""
        store = {}
        cache = twpolicy.GeoSafeMapping(store, guard=guard)
        cache["t"] = payloads.tweet_v1(place=payloads.place_v1())
        with pytest.raises(StandaloneGeoError):
            cache["p"] = payloads.place_v1()
        with pytest.raises(StandaloneGeoError):
            cache.update({"q": payloads.POINT})
        assert ["t"] == list(store)
        assert ["t"] == list(cache)
        assert 1 == len(cache)
        assert "t" in cache
        assert "p" not in cache
        assert store["t"] == cache["t"]
        assert store["t"] is not cache["t"]  # a copy: reading cannot cut down what is kept
        assert cache.setdefault("u", payloads.tweet_v2()) == payloads.tweet_v2()
        del cache["t"]
        assert ["u"] == list(store)
        assert store is cache.store
        assert repr(store) in repr(cache)

    def test_shelve(self, guard, tmp_path):
        """A shelf on disk keeps only what may be kept."""
        path = str(tmp_path / "cache")
        with shelve.open(path) as shelf:  # noqa: S301  # our own file
            cache = twpolicy.GeoSafeMapping(shelf, guard=guard)
            cache["1000000000000000010"] = payloads.tweet_v1(coordinates=payloads.POINT)
            with pytest.raises(StandaloneGeoError):
                cache["1000000000000000011"] = {
                    "id_str": "1000000000000000011",
                    "coordinates": payloads.POINT,
                }
        with shelve.open(path) as shelf:  # noqa: S301  # our own file
            assert ["1000000000000000010"] == list(shelf)

    def test_cachetools(self, guard):
        """A cachetools cache keeps evicting as usual behind the wrapper."""
        cache = twpolicy.GeoSafeMapping(cachetools.LRUCache(maxsize=2), guard=guard)
        for number in range(3):
            cache[number] = payloads.tweet_v2(f"100000000000000001{number}")
        assert [1, 2] == sorted(cache)
        with pytest.raises(StandaloneGeoError):
            cache[3] = payloads.trends()


class TestStripGeo:
    def test_removes_every_datum_and_nothing_else(self):
        """Location keys go; everything else, and the original, stay as they were."""
        tweet = payloads.tweet_v1(coordinates=payloads.POINT, place=payloads.place_v1())
        original = copy.deepcopy(tweet)
        stripped = strip_geo(tweet)
        assert original == tweet
        assert [] == find_geo(stripped)
        assert without(tweet, ["/coordinates", "/place", "/user/location"]) == stripped
        stripped["user"]["name"] = "changed"
        assert "Example User" == tweet["user"]["name"]

    def test_whole_payload_that_is_location(self):
        """A payload that is location as a whole strips to None; lists of places to []."""
        assert strip_geo(payloads.place_v1()) is None
        assert [] == strip_geo([payloads.place_v1(), payloads.place_v2()])
        assert {"result": {"places": []}} == strip_geo(payloads.geo_result())

    def test_standalone_only_keeps_what_belongs(self):
        """standalone_only removes what stands alone and keeps location that belongs."""
        payload = {"keep": payloads.tweet_v1(place=payloads.place_v1()), "drop": payloads.POINT}
        assert {"keep": payloads.tweet_v1(place=payloads.place_v1())} == strip_geo(
            payload, standalone_only=True
        )

    def test_tweepy_objects_become_json(self):
        """A tweepy model strips to the plain JSON it was read from."""
        tweet = tweepy.Tweet(payloads.tweet_v2(geo={"place_id": PLACE_ID}))
        assert payloads.tweet_v2() == strip_geo(tweet)

    def test_deep_nesting(self):
        """10,000 levels strip without RecursionError."""
        payload = {"p": payloads.POINT}
        for _ in range(10_000):
            payload = {"n": payload}
        stripped = strip_geo(payload)
        for _ in range(10_000):
            stripped = stripped["n"]
        assert {} == stripped


class TestProperties:
    @given(
        payloads.filler(),
        payloads.LOCATIONS,
        st.lists(payloads.FILLER_KEYS, min_size=1, max_size=12),
        st.data(),
    )
    def test_planted_location_is_always_found(self, filler, location, path, data):
        """Location planted at any depth of arbitrary JSON is found, standing alone."""
        key, datum = location
        payload = {"root": filler}
        here = payload
        pointer = ""
        for step in path:
            if data.draw(st.booleans()):  # through a list
                here[step] = [None, {}]
                pointer += f"/{step}/1"
                here = here[step][1]
            else:
                here[step] = {}
                pointer += f"/{step}"
                here = here[step]
        here[key] = copy.deepcopy(datum)
        planted = f"{pointer}/{key}"
        found = find_geo(payload)
        hits = [f for f in found if covers(f.pointer, planted) or covers(planted, f.pointer)]
        assert hits, planted
        assert all(f.standalone for f in hits)
        with pytest.raises(StandaloneGeoError):
            check_storable(payload, guard=Guard())

    @given(payloads.whole_tweets(), payloads.filler(max_leaves=8), payloads.FILLER_KEYS)
    def test_whole_tweets_are_storable(self, tweet, filler, key):
        """A whole Tweet (or response) with its location is always storable, however wrapped."""
        guard = Guard()
        assert check_storable(tweet, guard=guard).allowed
        assert check_storable({key: [filler, tweet]}, guard=guard).allowed
        assert all(not f.standalone for f in find_geo(tweet))

    @given(payloads.whole_tweets())
    def test_location_taken_out_of_a_tweet_is_refused(self, tweet):
        """A place or coordinates taken out of a Tweet always stand alone."""
        guard = Guard()
        taken = [f for f in find_geo(tweet) if f.kind is not GeoKind.PROFILE_LOCATION]
        assert taken
        for finding in taken:
            datum = resolve(tweet, finding.pointer)
            with pytest.raises(StandaloneGeoError):
                check_storable(datum, guard=guard)
            with pytest.raises(StandaloneGeoError):
                check_storable({"1000000000000000010": datum}, guard=guard)

    @given(
        st.lists(
            payloads.whole_tweets() | payloads.filler(max_leaves=6) | payloads.STANDALONE,
            max_size=4,
        )
    )
    @example([0, 0.5])  # the whole list is a point: nothing is left
    @example([0, payloads.place_v1(), 1.5])  # the place goes, and two numbers make a point
    def test_strip_is_idempotent_and_complete(self, parts):
        """strip_geo leaves nothing to find, and stripping twice changes nothing more."""
        once = strip_geo(parts)
        assert [] == find_geo(once)
        assert once == strip_geo(once)
        expected = parts  # the oracle: remove what find_geo finds until it finds nothing
        while found := find_geo(expected):
            expected = without(expected, [f.pointer for f in found])
        assert expected == once


@pytest.fixture(name="documents")
def _documents(corpus):
    """Every parsed payload document of the shared corpus (read once per session)."""
    return [doc for doc in load(corpus) if doc.error is None]


def unreferenced_places(payload):
    """IDs of expanded places no whole Tweet of a v2 response refers to: a plain reading."""
    if not isinstance(payload, dict):
        return set()
    holder = payload.get("includes", payload)
    places = holder.get("places") if isinstance(holder, dict) else None
    if not isinstance(places, list):
        return set()
    data = payload.get("data", [])
    tweets = (data if isinstance(data, list) else [data]) + list(holder.get("tweets", []))
    referred = {
        (t.get("geo") or {}).get("place_id") for t in tweets if isinstance(t, dict) and "text" in t
    }
    return {p["id"] for p in places if p.get("id") not in referred}


@pytest.mark.corpus
class TestCorpus:
    def test_every_location_datum_is_found(self, documents):
        """find_geo covers every location the plain key reading sees, and reports nothing else."""
        for doc in documents:
            found = [f.pointer for f in find_geo(doc.value)]
            reference = reference_locations(doc.value)
            assert [] == [p for p in reference if not any(covers(f, p) for f in found)], doc.origin
            assert [] == [f for f in found if not any(covers(f, p) for p in reference)], doc.origin

    def test_strip_leaves_none_and_changes_nothing_else(self, documents):
        """strip_geo equals the payload with exactly the found pointers taken out."""
        for doc in documents:
            found = [f.pointer for f in find_geo(doc.value)]
            stripped = strip_geo(doc.value)
            assert [] == find_geo(stripped), doc.origin
            expected = None if "" in found else without(doc.value, found)
            assert expected == stripped, doc.origin

    def test_whole_tweets_and_responses_are_storable(self, documents):
        """Recorded Tweets and API responses are storable, except what the policy names.

        Refused: geo endpoint answers, trends locations, places on their own, and expanded
        places no Tweet of the same response refers to (the API sends some, e.g. for
        withheld Tweets); those become storable once the standalone parts are stripped.
        """
        # Location only: protected users' Tweets in the corpus need consent (nonpublic.consent).
        guard = Guard(rules=[r for r in twpolicy.default_rules() if r.id != "nonpublic.consent"])
        refused = {}
        for doc in documents:
            standalone = [f for f in find_geo(doc.value) if f.standalone]
            if not standalone:
                assert check_storable(doc.value, guard=guard).allowed, doc.origin
                continue
            refused[doc.origin] = {f.reason for f in standalone}
            with pytest.raises(StandaloneGeoError):
                check_storable(doc.value, guard=guard)
            assert check_storable(strip_geo(doc.value, standalone_only=True), guard=guard).allowed
            unreferenced = {
                resolve(doc.value, f.pointer)["id"]
                for f in standalone
                if f.reason == "unreferenced_place"
            }
            assert unreferenced_places(doc.value) == unreferenced, doc.origin
        reasons = set().union(*refused.values())
        expected = {"geo_endpoint", "trend_location", "on_its_own", "unreferenced_place"}
        # One recorded Tweet was trimmed of its text by its source project: with a place and
        # no content, it is a Tweet reduced to its ID and its location (whole means content).
        assert expected | {"reduced_tweet"} == reasons
        trimmed = [origin for origin, why in refused.items() if "reduced_tweet" in why]
        assert all("post_update_with_place" in origin for origin in trimmed), trimmed
        for origin, why in refused.items():
            if "on_its_own" in why:
                assert any(
                    word in origin
                    for word in (
                        "geo_id",
                        "record.json",
                        "testgeoapis",
                        "models/place",
                        "search_geocode",  # the search's geocode, echoed in search_metadata
                    )
                ), origin

    def test_places_and_points_taken_out_are_refused(self, documents):
        """Every place and point of every recorded Tweet is refused on its own."""
        guard = Guard()
        checked = 0
        for doc in documents:
            for finding in find_geo(doc.value):
                if finding.kind in {GeoKind.PLACE, GeoKind.POINT} and finding.reason == "in_tweet":
                    with pytest.raises(StandaloneGeoError):
                        check_storable(resolve(doc.value, finding.pointer), guard=guard)
                    checked += 1
        assert checked > 300

    def test_no_warnings(self, documents):
        """Walking the corpus warns about nothing."""
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for doc in documents:
                find_geo(doc.value)


class TestDocs:
    def test_examples_run(self, capsys):
        """Every Python example of docs/geo.md runs, in order, and prints what it says."""
        page = (PROJECT / "docs" / "geo.md").read_text(encoding="utf-8")
        blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
        assert len(blocks) >= 5
        namespace = {}
        for block in blocks:
            exec(compile(block, "docs/geo.md", "exec"), namespace)  # noqa: S102  # our own docs
        printed = capsys.readouterr().out
        assert "/coordinates point in_tweet\n/place place in_tweet\n" in printed
        assert "refused under I.B.7 [geo.standalone: standalone_geo]" in printed


# -- short texts: what they are on their own, cached --------------------------------------------

_GEO_ALPHABET = "0123456789.,;:-+ /°'\"NSEWnsewbcdfghjkmpqrstuvxyzCFGHJMPQRVWX=?&%()@_"


def _geo_texts():
    """Texts shaped like points, queries, codes and names, and any text at all."""
    return st.one_of(
        st.text(alphabet=_GEO_ALPHABET, max_size=40),
        st.text(max_size=300),
        st.builds(
            "{0:.5f},{1:.5f}".format,
            st.floats(-90, 90, allow_nan=False),
            st.floats(-180, 180, allow_nan=False),
        ),
        st.sampled_from(
            [
                "geocode:37.781157,-122.398720,1mi",
                "POINT (2.35 48.85)",
                "9q8yyk8yt",
                "849VCWC8+R9",
                "37 46 29.7 N 122 25 9.8 W",
                "377749300,-1224194200",
                "https://maps.google.com/?q=48.85,2.35",
                "0123456789abcdef",
            ]
        ),
    )


def _corpus_texts(corpus):
    """Every short string of the corpus, keys and values."""
    texts: set[str] = set()
    for doc in load(corpus):
        stack = [doc.value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                texts.update(key for key in item if type(key) is str)
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif type(item) is str and len(item) <= 256:
                texts.add(item)
    return sorted(texts)


class TestCachedTexts:
    """What a short text is on its own is cached: the cache answers as the work it saves."""

    @staticmethod
    def assert_cached_as_worked_out(text):
        for _ in range(2):  # worked out, then from the cache
            assert _geo._key_kind.__wrapped__(text) == _geo._key_kind(text)
            for walked in (False, True):
                assert _geo._text_kind.__wrapped__(text, walked) == _geo._text_kind(text, walked)
            assert _geo._pairs_written.__wrapped__(text) == _geo._pairs_written(text)
            tail = text[-_geo._LONGEST_WORD :]
            assert _geo._last_word.__wrapped__(tail) == _geo._last_word(tail)
            assert list(_encodings._code_tokens(text, None)) == list(_encodings.code_tokens(text))

    @given(_geo_texts())
    def test_generated(self, text):
        """Generated texts: the same answers cached as worked out."""
        self.assert_cached_as_worked_out(text)

    def test_corpus(self, corpus):
        """Short keys and texts of the corpus (one in ten of 110,000, in order): the same
        answers cached as worked out."""
        texts = _corpus_texts(corpus)[::10]
        assert len(texts) > 5_000
        for text in texts:
            self.assert_cached_as_worked_out(text)

    @given(_geo_texts())
    def test_the_steps_cached_answer_as_the_steps(self, text):
        """The cached kinds are the steps `key_location` and `scan_value` took one by one."""
        if _geo._PLACE_ID.fullmatch(text):
            expected = GeoKind.PLACE_REFERENCE
        elif _geo._geo_query_text(text):
            expected = GeoKind.GEO_QUERY
        elif _geo._text_point(text) or _geo._text_location(text):
            expected = GeoKind.POINT
        else:
            expected = None
        assert expected == _geo._key_kind(text)
        for walked in (False, True):
            if _geo._geo_query_text(text):
                expected = GeoKind.GEO_QUERY
            elif (
                _geo._text_point(text) if not walked else _geo._neutral_text_point(text)
            ) or _geo._text_location(text):
                expected = GeoKind.POINT
            else:
                expected = None
            assert expected == _geo._text_kind(text, walked)

"""The classes of hole of issue 12 (standalone location, I.B.7), each as a generated family.

Each test generates the whole family of variants (from `twpolicy.strategies` and the corpus)
and checks it against an independent oracle written here, plus the instance the issue names.
"""

import codecs
import copy
import json
import shelve

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import twpolicy
from corpus import load
from twpolicy import GeoSafeMapping, Guard, StandaloneGeoError, check_storable, find_geo, strip_geo
from twpolicy.strategies import tweets


def _location_guard():
    """The built-in rules but consent for non-public content: these tests are about location."""
    return Guard(rules=[r for r in twpolicy.default_rules() if r.id != "nonpublic.consent"])


# The oracle: a Tweet is whole when one of these holds non-blank text (nothing else counts).
CONTENT = (("text",), ("full_text",), ("extended_tweet", "full_text"), ("note_tweet", "text"))
EMPTY = st.sampled_from(["", " ", "\n\t", None, {}, [], 0, False, "\u3000"])
POINT = {"type": "Point", "coordinates": [-122.4194, 37.7749]}


def oracle_whole(tweet):
    for path in CONTENT:
        item = tweet
        for key in path:
            item = item.get(key) if isinstance(item, dict) else None
        if isinstance(item, str) and item.strip():
            return True
    return False


def reduce(tweet, blanks, drop_user):
    """A reduction: every content field blanked (or removed), keeping the location."""
    reduced = copy.deepcopy(tweet)
    for (first, *_), blank in zip(CONTENT, blanks, strict=False):
        if first in reduced or blank != "drop":
            reduced[first] = None if blank == "drop" else blank
    if "extended_tweet" in reduced and isinstance(reduced["extended_tweet"], dict):
        reduced["extended_tweet"] = {}
    if drop_user:
        reduced["user"] = None
    for key in ("retweeted_status", "quoted_status"):  # location of a whole inner Tweet
        reduced.pop(key, None)
    return reduced


def has_location(tweet):
    """The oracle's view: a place, coordinates or geo left at the top of the Tweet."""
    return any(tweet.get(key) for key in ("coordinates", "geo", "place"))


BLANKS = st.lists(EMPTY | st.just("drop"), min_size=4, max_size=4)


@pytest.fixture(name="guard")
def _guard():
    return Guard()


class TestWholeByContent:
    @settings(max_examples=40)
    @given(tweets("v1.1", location=True), BLANKS, st.booleans())
    def test_v1_reductions_are_refused(self, tweet, blanks, drop_user):
        assert oracle_whole(tweet)
        assert check_storable(tweet, guard=_location_guard()).allowed
        reduced = reduce(tweet, blanks, drop_user)
        assume(has_location(reduced))
        with pytest.raises(StandaloneGeoError):
            check_storable(reduced, guard=_location_guard())

    @settings(max_examples=40)
    @given(tweets("v2", location=True), BLANKS)
    def test_v2_reductions_are_refused(self, tweet, blanks):
        assert oracle_whole(tweet)
        assert check_storable(tweet, guard=_location_guard()).allowed
        reduced = reduce(tweet, blanks, drop_user=False)
        assume(has_location(reduced))
        with pytest.raises(StandaloneGeoError):
            check_storable(reduced, guard=_location_guard())

    @pytest.mark.parametrize(
        "reduced",
        [
            {"id_str": "1", "text": "", "coordinates": POINT},
            {"id_str": "1", "text": None, "coordinates": POINT},
            {"id_str": "1", "user": None, "coordinates": POINT},
            {"id_str": "1", "extended_tweet": {}, "coordinates": POINT},
            {"id": "1", "text": " ", "geo": {"place_id": "0a1b2c3d4e5f6a7b"}},
        ],
    )
    def test_instances(self, guard, reduced):
        with pytest.raises(StandaloneGeoError):
            check_storable(reduced, guard=guard)

    def test_corpus_oracle(self, corpus, guard):
        """Over the corpus: whole Tweets storable; every reduction of a geotagged one refused."""
        reduced_checked = 0
        for doc in load(corpus):
            if doc.error is not None or not isinstance(doc.value, dict):
                continue
            tweet = doc.value
            if not ({"id_str", "id"} & set(tweet)) or not (
                tweet.get("coordinates") or tweet.get("place") or tweet.get("geo")
            ):
                continue
            if "data" in tweet or "result" in tweet:
                continue
            if oracle_whole(tweet):
                assert check_storable(tweet, guard=guard).allowed, doc.origin
            for blank in ("", None, " ", {}):
                reduced = reduce(tweet, [blank] * 4, drop_user=True)
                if not has_location(reduced):
                    continue
                with pytest.raises(StandaloneGeoError):
                    check_storable(reduced, guard=guard)
                reduced_checked += 1
        assert reduced_checked > 40


# -- location the walker did not read ------------------------------------------------------

ATTRIBUTE_KEYS = st.sampled_from(
    ["street_address", "locality", "postal_code", "region", "iso3", "zip_code", "city"]
)
NAMESPACED = st.tuples(
    st.sampled_from(["", "attribute:", "Attribute:", "twitter:"]), ATTRIBUTE_KEYS
)
LATLONG = st.tuples(
    st.floats(-89.9, 89.9, allow_nan=False).map(lambda x: round(x, 6)),
    st.floats(-179.9, 179.9, allow_nan=False).map(lambda x: round(x, 6)),
).filter(lambda p: not (p[0].is_integer() and p[1].is_integer()))


class TestUnreadFields:
    @given(
        st.sampled_from(["coordinates", "place", "geo", "bbox", "latlong"]),
        st.text(min_size=1, max_size=4, alphabet="0123456789"),
    )
    def test_v1_fields_on_a_string_id(self, key, tweet_id):
        value = {"place": {"id": "x", "name": "Paris"}, "bbox": [1.5, 2.5, 3.5, 4.5]}.get(
            key, POINT
        )
        with pytest.raises(StandaloneGeoError):
            check_storable({"id": tweet_id, key: value}, guard=Guard())

    @given(NAMESPACED, st.text(min_size=1, max_size=20).filter(str.strip), st.booleans())
    def test_place_attributes(self, namespaced, text, in_query):
        key = "".join(namespaced)
        payload = (
            {"query": {"params": {key: text}, "type": "search"}, "result": {"places": []}}
            if in_query
            else {"id": "1", "text": "", key: text}
        )
        assert find_geo(payload)
        with pytest.raises(StandaloneGeoError):
            check_storable(payload, guard=Guard())

    @given(
        LATLONG,
        st.sampled_from(["{},{}", "{}, {}", "({}, {})", "{} {}"]),
        st.sampled_from(["metadata", "entities", "context_annotations", "note_tweet"]),
    )
    def test_points_in_inert_containers_of_a_reduced_tweet(self, pair, template, container):
        text = template.format(*(f"{x:.6f}" for x in pair))
        for hidden in ({"where": text}, {"where": list(pair)}, {"geo": POINT}, [list(pair)]):
            payload = {"id": "1", "text": "", container: hidden}
            with pytest.raises(StandaloneGeoError):
                check_storable(payload, guard=Guard())
            whole = {"id": "1", "text": "hello", container: hidden}
            if container != "metadata":
                assert check_storable(whole, guard=Guard()).allowed
            elif hidden == {"geo": POINT}:  # not a v2 Tweet's field: added, not its own
                with pytest.raises(StandaloneGeoError, match="added to a Tweet"):
                    check_storable(whole, guard=Guard())

    @given(LATLONG, st.sampled_from(["location", "coordinates", "geo", "latlong", "geocode"]))
    def test_latlong_strings_under_location_keys(self, pair, key):
        with pytest.raises(StandaloneGeoError):
            check_storable({"id": "9", key: f"{pair[0]:.6f},{pair[1]:.6f}"}, guard=Guard())


# -- bytes ---------------------------------------------------------------------------------


class TestBytes:
    @given(
        st.sampled_from(
            [
                "utf-8",
                "utf-8-sig",
                "utf-16",
                "utf-16-le",
                "utf-16-be",
                "utf-32",
                "utf-32-le",
                "utf-32-be",
            ]
        ),
        st.sampled_from(
            [
                {"coordinates": POINT},
                [{"place_id": "0a1b2c3d4e5f6a7b"}],
                {"id": "1", "text": "", "geo": POINT},
            ]
        ),
        st.booleans(),
    )
    def test_every_encoding_json_reads_is_checked(self, encoding, payload, bom):
        raw = json.dumps(payload).encode(encoding)
        if bom and encoding in ("utf-16-le", "utf-32-le"):
            raw = (codecs.BOM_UTF16_LE if "16" in encoding else codecs.BOM_UTF32_LE) + raw
        assert json.loads(raw) == payload  # json reads it: so must the guard
        for form in (raw, bytearray(raw), memoryview(raw)):
            with pytest.raises(StandaloneGeoError):
                check_storable(form, guard=Guard())

    def test_text_with_a_bom(self, guard):
        with pytest.raises(StandaloneGeoError):
            check_storable("\ufeff" + json.dumps({"coordinates": POINT}), guard=guard)

    def test_binary_that_is_not_json_passes(self, guard):
        assert check_storable(b"\x89PNG\r\n\x1a\n\xff\xfe", guard=guard).allowed
        assert check_storable(
            {"id_str": "1", "icon": b"\x89PNG\r\n\x1a\n\xff"}, guard=guard
        ).allowed

    @given(
        st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]),
        st.sampled_from([bytes, bytearray, memoryview]),
        st.sampled_from(
            [
                json.dumps({"coordinates": POINT}),
                json.dumps({"id": "1", "text": "", "geo": POINT}),
                "37.7749,-122.4194",
            ]
        ),
        st.lists(st.sampled_from(["dict", "list", "tuple"]), max_size=3),
    )
    def test_bytes_anywhere_inside_are_read_as_their_text(self, encoding, form, text, nesting):
        """Text kept as bytes inside a payload is read as the same text inside it is."""
        value = form(text.encode(encoding))
        for container in nesting:
            value = {"id_str": "1", "note": value} if container == "dict" else [value]
            value = tuple(value) if container == "tuple" else value
        with pytest.raises(StandaloneGeoError):
            check_storable(value, guard=Guard())


# -- keys, aggregation, decorator and mapping -------------------------------------------------


class TestKeysAndMappings:
    @given(LATLONG, st.sampled_from(["pair", "text", "place"]), st.integers(0, 10**6))
    def test_location_as_a_key_is_refused(self, pair, form, count):
        key = {"pair": pair, "text": f"{pair[0]:.6f},{pair[1]:.6f}", "place": "0a1b2c3d4e5f6a7b"}[
            form
        ]
        cache = GeoSafeMapping({}, guard=Guard())
        with pytest.raises(StandaloneGeoError):
            cache[key] = count
        assert 0 == len(cache)
        if form != "pair":  # a stored mapping counting per place
            with pytest.raises(StandaloneGeoError):
                check_storable({key: count}, guard=Guard())
            with pytest.raises(StandaloneGeoError):
                check_storable({"counts": {key: count}}, guard=Guard())

    def test_ior_update_setdefault_go_through_the_check(self, guard):
        cache = GeoSafeMapping({}, guard=guard)
        with pytest.raises(StandaloneGeoError):
            cache |= {"p": {"coordinates": POINT}}
        with pytest.raises(StandaloneGeoError):
            cache.setdefault("p", {"coordinates": POINT})
        cache |= {"ok": {"n": 1}}
        assert ["ok"] == list(cache)

    def test_value_cannot_be_cut_down_after_its_check(self, guard):
        store = {}
        cache = GeoSafeMapping(store, guard=guard)
        tweet = {"id_str": "1", "text": "hello", "coordinates": POINT}
        cache["t"] = tweet
        tweet["text"] = ""
        cache["t"]["text"] = ""
        assert "hello" == store["t"]["text"]

    def test_close_and_with_reach_the_store(self, guard, tmp_path):
        path = str(tmp_path / "s")
        with GeoSafeMapping(shelve.open(path), guard=guard) as cache:  # noqa: S301  # our file
            cache["t"] = {"id": "1", "text": "hi"}
        with shelve.open(path) as shelf:  # noqa: S301  # our own file
            assert "hi" == shelf["t"]["text"]
        cache = GeoSafeMapping(shelve.open(path), guard=guard)  # noqa: S301, SIM115  # closed below
        cache.close()
        with pytest.raises(ValueError, match="closed"):
            cache.store["x"] = 1

    @given(
        st.lists(
            st.sampled_from([{"coordinates": POINT}, {"id": "1", "text": "hi"}]),
            min_size=1,
            max_size=5,
        ),
        st.sampled_from(["generator", "iterator", "map"]),
    )
    def test_decorator_looks_into_iterators(self, items, form):
        stored = []

        @twpolicy.no_standalone_geo(guard=Guard())
        def save(records):
            stored.extend(records)

        source = {
            "generator": lambda: (item for item in items),
            "iterator": lambda: iter(items),
            "map": lambda: map(dict, items),
        }[form]
        standalone = any("coordinates" in item for item in items)
        if standalone:
            with pytest.raises(StandaloneGeoError):
                save(source())
            assert [] == stored
        else:
            save(source())
            assert items == stored

    def test_check_storable_refuses_an_iterator(self, guard):
        with pytest.raises(twpolicy.PolicyViolation):
            check_storable(iter([{"id": "1", "text": "hi"}]), guard=guard)

    def test_strip_geo_removes_location_keys(self):
        payload = {"counts": {"37.7749,-122.4194": 3, "plain": 1}}
        assert {"counts": {"plain": 1}} == strip_geo(payload)


# -- client caches -----------------------------------------------------------------------------


class TestClientCache:
    def test_routes_answering_with_location_are_never_cached(self):
        """Geo, trends and account-settings answers (and unknown routes) skip tweepy's cache."""
        from twpolicy._clients._plan import Plan  # noqa: PLC0415
        from twpolicy._payloads._catalog import _CATALOG  # noqa: PLC0415

        location_words = ("/geo/", "/trends/", "/account/settings")
        checked = 0
        for endpoint in _CATALOG:
            if endpoint.family != "v1.1":
                continue
            plan = Plan(endpoint, endpoint.read_action)
            if any(word in endpoint.route for word in location_words):
                assert plan.uncached, endpoint.route
                checked += 1
        assert checked >= 6
        assert Plan(None, next(iter(_CATALOG)).read_action).uncached


class TestBarePoints:
    @given(st.lists(LATLONG, min_size=1, max_size=4), st.sampled_from(["text", "list", "tuple"]))
    def test_payloads_that_are_only_points(self, pairs, form):
        make = {"text": lambda p: f"{p[0]:.6f},{p[1]:.6f}", "list": list, "tuple": tuple}[form]
        for payload in (make(pairs[0]), [make(pair) for pair in pairs]):
            assert find_geo(payload)
            with pytest.raises(StandaloneGeoError):
                check_storable(payload, guard=Guard())


class TestContainers:
    @given(st.sampled_from(["values", "keys", "tuple", "set"]))
    def test_any_collection_is_read(self, form):
        """Dict views, tuples and sets are read as the lists they hold."""
        payload = {
            "values": {"k": {"coordinates": POINT}}.values(),
            "keys": {(-122.4194, 37.7749): 1}.keys(),
            "tuple": ({"coordinates": POINT},),
            "set": {"37.774900,-122.419400"},
        }[form]
        with pytest.raises(StandaloneGeoError):
            check_storable(payload, guard=Guard())

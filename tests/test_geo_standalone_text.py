"""Location outside Tweets that no location key names (issue 12, I.B.7), each as a family.

Counts keyed by place names, bare coordinate pairs and "lat,long" texts under neutral keys,
and a search's location parameters echoed back: each test generates the whole family of
variants (spellings, containers, carriers) from `twpolicy.strategies` and checks it against
an oracle written here.
"""

import codecs
import json
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from corpus import load
from test_geo import reference_locations
from twpolicy import (
    GeoKind,
    GeoSafeMapping,
    Guard,
    StandaloneGeoError,
    check_storable,
    find_geo,
    no_standalone_geo,
    rules,
    strip_geo,
)
from twpolicy._payloads._geo import PlaceNames
from twpolicy._payloads._shapes import loose_key
from twpolicy.strategies import places, tweets

# A place named like a location field ("Zip", "Geo", "Lat") is read as that field as a key.
NAME = st.from_regex(r"[A-Z][a-z]{2,10}(?: [A-Z][a-z]{2,10})?", fullmatch=True).filter(
    lambda name: loose_key(name) is None
)
REGION = st.from_regex(r"[A-Z]{2}|[A-Z][a-z]{3,10}", fullmatch=True)
COUNT = st.integers(min_value=1, max_value=10**6)
# Keys that name nothing (the oracle: not a location word, not a field the API uses).
NEUTRAL = st.from_regex(r"[a-z]{1,3}[0-9]{0,2}", fullmatch=True).filter(
    lambda key: key not in {"lat", "lng", "lon", "geo", "zip"}
)


def location_guard():
    """The default rules but the consent for non-public content: these tests are about location
    (generated Tweets may come from protected users, which nonpublic.consent decides apart)."""
    return Guard(rules=[r for r in rules.default() if r.id != "nonpublic.consent"])


def refused(payload, guard):
    try:
        check_storable(payload, guard=guard)
    except StandaloneGeoError:
        return True
    return False


@st.composite
def named_tweets(draw):
    """A whole v1.1 Tweet whose place has a realistic name and full name."""
    tweet = draw(tweets("v1.1", location=True))
    place = draw(places("v1.1"))
    name, region = draw(NAME), draw(REGION)
    place.update(name=name, full_name=f"{name}, {region}")
    tweet["place"] = place
    return tweet


@st.composite
def spellings(draw, name):
    """The same place name as a careless program writes it."""
    form = draw(st.sampled_from(["same", "upper", "lower", "spaced", "tight", "padded"]))
    return {
        "same": name,
        "upper": name.upper(),
        "lower": name.lower(),
        "spaced": name.replace(", ", " ,  "),
        "tight": name.replace(", ", ","),
        "padded": f"  {name} ",
    }[form]


@st.composite
def carried(draw, payload):
    """``payload`` as it may reach a store: nested, as JSON text or bytes in any encoding."""
    for _ in range(draw(st.integers(0, 3))):
        payload = draw(
            st.sampled_from([{draw(NEUTRAL): payload}, [payload], {"a": 1, "b": [0, payload]}])
        )
    form = draw(st.sampled_from(["value", "text", "utf-8-sig", "utf-16", "utf-32", "bom-text"]))
    if form == "value":
        return payload
    text = json.dumps(payload)
    if form == "text":
        return text
    if form == "bom-text":
        return "\ufeff" + text
    return (codecs.BOM_UTF8 if form == "utf-8-sig" else b"") + text.encode(
        "utf-8" if form == "utf-8-sig" else form
    )


@st.composite
def aggregates(draw, names, *, respell=True):
    """Counts per place, in the forms counting code produces."""
    keys = [draw(spellings(name)) if respell else name for name in names]
    counts = {key: draw(COUNT) for key in keys}
    form = draw(
        st.sampled_from(["dict", "counter", "items", "most_common", "count_first", "lists"])
    )
    if form == "dict":
        return counts
    if form == "counter":
        return Counter(counts)
    if form == "items":
        return list(counts.items())
    if form == "most_common":
        return Counter(counts).most_common()
    if form == "count_first":
        return [(count, key) for key, count in counts.items()]
    return [[key, count] for key, count in counts.items()]


class TestCountsPerPlace:
    @settings(max_examples=60)
    @given(st.lists(named_tweets(), min_size=1, max_size=3), st.data())
    def test_counts_by_names_the_guard_has_seen_are_refused(self, stored, data):
        """After storing geotagged Tweets, counts keyed by their places' names are refused."""
        guard = location_guard()
        for tweet in stored:
            assert check_storable(tweet, guard=guard).allowed
        chosen = data.draw(
            st.lists(
                st.sampled_from(
                    [t["place"][field] for t in stored for field in ("name", "full_name")]
                ),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
        payload = data.draw(aggregates(chosen))
        assert refused(data.draw(carried(payload)), guard)

    def test_a_place_read_again_under_its_id_with_another_name(self):
        """A place ID read again with other names is learned again, not taken as read."""
        guard = location_guard()
        for name in ("Aaa", "Aaaa"):
            tweet = {
                "id_str": "1", "text": "hi",
                "place": {"id": "0000000000000000", "name": name, "full_name": f"{name}, AA"},
            }  # fmt: skip
            assert check_storable(tweet, guard=guard).allowed
        assert refused({"Aaaa": 1}, guard)
        assert refused({"Aaa": 1}, guard)

    @settings(max_examples=60)
    @given(named_tweets(), st.data())
    def test_item_by_item_in_a_mapping(self, tweet, data):
        """A guarded mapping refuses a place's name as a key, whatever it holds."""
        guard = location_guard()
        check_storable(tweet, guard=guard)
        store = GeoSafeMapping({}, guard=guard)
        field = data.draw(st.sampled_from(["name", "full_name", "country", "id"]))
        key = data.draw(spellings(tweet["place"][field])) if field != "id" else tweet["place"]["id"]
        with pytest.raises(StandaloneGeoError):
            store[key] = data.draw(COUNT | st.just({"tweets": 3}))
        assert key not in store.store

    @settings(max_examples=60)
    @given(st.lists(st.tuples(NAME, REGION), min_size=1, max_size=4), st.data())
    def test_counts_by_full_names_need_no_memory(self, names, data):
        """Counts keyed by full names ("Name, Region") are refused by a guard that saw nothing."""
        full = [f"{name}, {region}" for name, region in names]
        payload = data.draw(aggregates(full, respell=False))
        assert refused(data.draw(carried(payload)), location_guard())
        store = GeoSafeMapping({}, guard=location_guard())
        with pytest.raises(StandaloneGeoError):
            store[f"{names[0][0]}, {names[0][1]}"] = data.draw(COUNT)

    @settings(max_examples=40)
    @given(named_tweets(), st.data())
    def test_the_same_payload_names_its_places(self, tweet, data):
        """Counts stored with the Tweets they were made from are refused by a fresh guard."""
        names = [tweet["place"]["name"], tweet["place"]["full_name"]]
        payload = {"tweets": [tweet], "by_place": data.draw(aggregates(names))}
        findings = [f for f in find_geo(payload) if f.standalone]
        assert findings
        assert all(f.pointer.startswith("/by_place") for f in findings)
        assert refused(payload, location_guard())
        assert [] == [f for f in find_geo(strip_geo(payload, standalone_only=True)) if f.standalone]

    @settings(max_examples=40)
    @given(st.lists(NAME, min_size=1, max_size=4, unique=True), st.data())
    def test_a_gazetteer_names_places_no_payload_showed(self, names, data):
        """Names given to the rule are places from the start, as keys, pairs and values."""
        guard = Guard(rules=[rules.forbid_standalone_geo(names)])
        assert refused(data.draw(carried(data.draw(aggregates(names)))), guard)
        assert refused({"seen_in": data.draw(spellings(names[0]))}, guard)

    @settings(max_examples=40)
    @given(st.lists(named_tweets(), min_size=1, max_size=3), st.data())
    def test_generators_are_read(self, stored, data):
        """A generator of (name, count) pairs passed to a decorated store is read and refused."""
        guard = location_guard()
        for tweet in stored:
            check_storable(tweet, guard=guard)
        names = [t["place"]["full_name"] for t in stored]

        @no_standalone_geo(guard=guard)
        def save(rows):
            return list(rows)

        with pytest.raises(StandaloneGeoError):
            save((name, count) for name, count in zip(names, range(1, 9), strict=False))

    @settings(max_examples=60)
    @given(
        st.lists(named_tweets(), min_size=1, max_size=2),
        st.lists(st.from_regex(r"[a-z]{3,12}", fullmatch=True), min_size=1, max_size=4),
    )
    def test_counts_of_other_words_pass(self, stored, words):
        """Counts keyed by words that name no place the guard knows are storable."""
        guard = location_guard()
        for tweet in stored:
            check_storable(tweet, guard=guard)
        known = {
            str(t["place"].get(field, "")).casefold()
            for t in stored
            for field in ("name", "full_name", "country", "id")
        }
        assume(not known & set(words))
        assert check_storable(Counter(words), guard=guard).allowed
        assert check_storable(Counter(words).most_common(), guard=guard).allowed

    def test_instances(self):
        """The issue's instances."""
        guard = location_guard()
        assert refused({"Paris, France": 12, "Berlin": 3}, guard)
        assert refused(Counter({"Paris, France": 12}), guard)
        assert refused(Counter({"Paris, France": 12}).most_common(), guard)
        assert not refused({"hashtags": {"python": 3, "rust": 2}}, guard)

    def test_country_names_are_not_values(self):
        """A learned single word (a country) is a place as a key, not as any text."""
        guard = location_guard()
        tweet = {
            "id_str": "1",
            "text": "hi",
            "place": {"id": "0a1b2c3d4e5f6a7b", "full_name": "Ex, EX", "country": "Indonesia"},
        }
        check_storable(tweet, guard=guard)
        assert refused({"Indonesia": 3}, guard)
        assert not refused([{"code": "id", "local_name": "Indonesia"}], guard)
        assert refused([{"seen": "Ex, EX"}], guard)


@st.composite
def points(draw):
    """A latitude and longitude written with real precision (2 to 8 decimals)."""
    places_ = draw(st.integers(2, 8))
    scale = 10**places_

    def number(limit):
        whole = draw(st.integers(-limit * scale + 1, limit * scale - 1).filter(lambda n: n % 10))
        return whole / scale

    lat, lon = number(90), number(180)
    assume(max(abs(lat), abs(lon)) >= 1)
    return lat, lon, places_


@st.composite
def written_points(draw):
    lat, lon, decimals = draw(points())
    form = draw(st.sampled_from(["list", "tuple", "text", "spaced", "semicolon", "parens"]))
    a, b = f"{lat:.{decimals}f}", f"{lon:.{decimals}f}"  # as people write them
    return {
        "list": [lon, lat],
        "tuple": (lon, lat),
        "text": f"{a},{b}",
        "spaced": f"{a}, {b}",
        "semicolon": f"{a};{b}",
        "parens": f"({a}, {b})",
    }[form]


class TestBarePointsUnderNeutralKeys:
    @settings(max_examples=80)
    @given(written_points(), NEUTRAL, st.data())
    def test_points_anywhere_are_refused(self, point, key, data):
        """A precise coordinate pair or "lat,long" text under any key, at any depth, is found."""
        payload = data.draw(carried({key: point}))
        assert refused(payload, location_guard())

    @settings(max_examples=40)
    @given(written_points().filter(lambda p: isinstance(p, str)), st.data())
    def test_points_as_keys(self, point, data):
        """A "lat,long" text as a key is location kept (and counting by it aggregates it)."""
        assert refused(data.draw(carried({point: data.draw(COUNT)})), location_guard())

    @settings(max_examples=60)
    @given(
        st.lists(st.floats(-1, 1, allow_nan=False), min_size=2, max_size=2)
        | st.lists(st.integers(-180, 180), min_size=2, max_size=2)
        | st.lists(st.floats(-90, 90).map(lambda f: round(f, 1)), min_size=2, max_size=2),
        NEUTRAL,
    )
    def test_numbers_that_do_not_look_like_points_pass(self, pair, key):
        """Scores, integers and one-decimal numbers under neutral keys are not points."""
        assert find_geo({"stats": {key: pair}}) == []

    def test_instances(self):
        """The issue's instances."""
        assert [GeoKind.POINT] == [f.kind for f in find_geo({"a": [2.35, 48.85]})]
        assert [GeoKind.POINT] == [f.kind for f in find_geo({"x": "48.85,2.35"})]


@pytest.mark.corpus
def test_no_finding_without_location_in_the_corpus(corpus):
    """No recorded payload without location yields a finding: the heuristics stay quiet."""
    checked = 0
    for doc in load(Path(corpus)):
        if doc.error is not None or reference_locations(doc.value):
            continue
        assert [] == find_geo(doc.value), doc.origin
        checked += 1
    assert checked > 500


@st.composite
def echoes(draw):
    """A search's location parameter as an API echoes it in a URL or a query."""
    lat, lon, _ = draw(points())
    radius = f"{draw(st.integers(1, 500))}{draw(st.sampled_from(['mi', 'km']))}"
    form = draw(st.sampled_from(["url", "encoded", "operator", "point_radius", "bbox", "place"]))
    other = f"q={draw(st.from_regex(r'[a-z]{1,8}', fullmatch=True))}"
    if form in {"url", "encoded"}:
        value = f"{lat},{lon},{radius}"
        if form == "encoded":
            value = urllib.parse.quote(value)
        params = [other, f"geocode={value}", "include_entities=1"]
        params = draw(st.permutations(params))
        return "?" + "&".join(params)
    if form == "operator":
        return f"coffee geocode:{lat},{lon},{radius}"
    if form == "point_radius":
        return f"coffee point_radius:[{lon} {lat} {radius}]"
    if form == "bbox":
        return f"coffee bounding_box:[{lon} {lat} {lon + 0.5} {lat + 0.5}]"
    return f"coffee place:{draw(st.from_regex(r'[0-9a-f]{16}', fullmatch=True))}"


class TestEchoedSearchLocation:
    @settings(max_examples=80)
    @given(echoes(), st.sampled_from(["next_results", "refresh_url", "query", "x"]), st.data())
    def test_echoes_are_refused(self, echo, key, data):
        """A search's location parameter echoed anywhere outside a Tweet is refused."""
        page = {"statuses": [], "search_metadata": {"count": 15, key: echo}}
        found = [f for f in find_geo(page) if f.standalone]
        assert [GeoKind.GEO_QUERY] == [f.kind for f in found]
        assert refused(data.draw(carried(page)), location_guard())
        assert check_storable(strip_geo(page, standalone_only=True), guard=location_guard()).allowed

    @settings(max_examples=40)
    @given(st.lists(tweets("v1.1"), max_size=3), echoes())
    def test_a_whole_search_page_with_its_echo_is_refused(self, statuses, echo):
        """The Tweets of a page are whole; the echo beside them is not part of any of them."""
        page = {"statuses": statuses, "search_metadata": {"next_results": echo}}
        assert refused(page, location_guard())

    def test_query_without_location_passes(self):
        """Search metadata without location parameters is storable."""
        page = {"statuses": [], "search_metadata": {"query": "python", "next_results": "?q=x"}}
        assert find_geo(page) == []


@st.composite
def other_notations(draw):
    """A point written the other ways people write one, alone or inside longer text."""
    lat, lon, decimals = draw(points())
    a, b = f"{lat:.{decimals}f}", f"{lon:.{decimals}f}"
    hemis = ("N" if lat >= 0 else "S", "E" if lon >= 0 else "W")
    form = draw(st.sampled_from(["wkt", "wkt_srid", "degrees", "maps_q", "maps_at", "csv", "note"]))
    return {
        "wkt": f"POINT ({b} {a})",
        "wkt_srid": f"SRID=4326;POINT({b} {a})",
        "degrees": f"{abs(int(lat))}°{int(abs(lat) % 1 * 60)}\u2032{hemis[0]} "
        f"{abs(int(lon))}°{int(abs(lon) % 1 * 60)}\u2032{hemis[1]}",
        "maps_q": f"https://maps.google.com/?q={a},{b}",
        "maps_at": f"https://www.google.com/maps/@{a},{b},15z",
        "csv": f"tweet_id,lat,long\n1234,{a},{b}\n",
        "note": f"seen at {a}, {b} yesterday",
    }[form]


class TestOtherNotations:
    @settings(max_examples=80)
    @given(other_notations(), NEUTRAL, st.data())
    def test_points_in_other_notations_are_refused(self, written, key, data):
        """WKT, degrees, map links and pairs inside longer text are points wherever they are."""
        assert refused(data.draw(carried({key: written})), location_guard())

    @settings(max_examples=40)
    @given(other_notations(), st.sampled_from(["text", "utf-8", "utf-8-sig", "utf-16"]))
    def test_text_that_is_not_json_is_read_as_text(self, written, form):
        """Text stored as it is (CSV, notes), as str or bytes in any encoding, is read."""
        payload = written if form == "text" else written.encode(form)
        assert refused(payload, location_guard())

    @settings(max_examples=40)
    @given(st.tuples(NAME, REGION), st.text(max_size=10), COUNT)
    def test_composite_keys_holding_a_place(self, place, other, count):
        """A key of (place, something) counted is a count per place."""
        full = f"{place[0]}, {place[1]}"
        assert refused(Counter({(full, other): count}), location_guard())
        store = GeoSafeMapping({}, guard=location_guard())
        with pytest.raises(StandaloneGeoError):
            store[(other, full)] = count

    @settings(max_examples=40)
    @given(st.lists(st.tuples(NAME, REGION), min_size=1, max_size=3), st.data())
    def test_counts_by_full_names_in_any_case(self, names, data):
        """Numbers keyed by "name, region" count places, however the names are cased."""
        keys = [data.draw(spellings(f"{n}, {r}")) for n, r in names]
        assert refused(dict.fromkeys(keys, 1), location_guard())


class TestPlaceNames:
    def test_learned_names_are_bounded(self):
        """The oldest learned names are forgotten first, beyond the limit."""
        names = PlaceNames(limit=2)
        for name in ("Alpha", "Bravo", "Charlie"):
            names.learn({"name": name})
        assert "alpha" not in names
        assert "BRAVO" in names
        assert "charlie " in names
        assert "PlaceNames(0 given, 2 learned, 0 points)" == repr(names)

    def test_what_is_never_a_name(self):
        """Short texts, numbers, JSON field names and overlong texts are never place names."""
        names = PlaceNames(["ab", "12345", "screen_name", "x" * 300, "Exampleton"])
        assert 1 == len(names)
        assert not names.learn("not a place")
        assert 12345 not in names

    def test_a_place_in_a_tuple_is_found(self):
        """A place inside a tuple is found, and its names are read where they can be."""
        place = {"id": "0a1b2c3d4e5f6a7b", "full_name": "Ex, EX", "place_type": "city"}
        assert [GeoKind.PLACE] == [f.kind for f in find_geo((place,))]

    @pytest.mark.parametrize(
        "pair", [[float("inf"), 48.85], [float("nan"), 2.35], [1, 2.35], [2.35, 48.85, 3.1]]
    )
    def test_pairs_that_are_not_points(self, pair):
        """Non-finite numbers, integers and triples under neutral keys are not points."""
        assert [] == find_geo({"a": pair})

    def test_keys_that_echo_a_search(self):
        """A search's location parameter as a key is location kept."""
        [finding] = find_geo({"?q=x&geocode=48.85,2.35,1km": 3})
        assert GeoKind.GEO_QUERY == finding.kind
        assert [] == find_geo({"x" * 250 + ", Y": 3})

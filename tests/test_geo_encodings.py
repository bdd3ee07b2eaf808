"""Location read, written again in another notation (I.B.7, issue 12: the last way around).

A point or place the guard read is the same location however the application writes it:
a geohash, a plus code (full, padded, or shortened with a locality), integers scaled by
10**5 to 10**7, degrees and minutes (and seconds) in ASCII, and a place's full name without
its comma (other separators, its country instead of its region). Each family is generated
whole, at every precision, and carried as a value, a key, nested, as JSON text or bytes;
the same forms of location never read pass, and ordinary text is not taken for location
beyond the documented rate. Owners are kept: a Tweet's own point and place, written in its
own text, stay storable with it; in another object they are refused.
"""

import copy
import json
import random
import string
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from corpus import load
from geo_places import WORDS, decide, location_guard, named_places, v1_place, v1_tweet
from geo_spellings import (
    GRID_POINTS,
    POINTS,
    carried,
    encodings,
    grid_spellings,
    judged_by_owner,
    refused,
)
from twpolicy import Action, GeoSafeMapping, LocationMemory, StandaloneGeoError, check_storable
from twpolicy._payloads._encodings import (
    cell,
    code_tokens,
    geohash,
    plus_code,
    scaled_numbers,
    words_key,
)
from twpolicy._payloads._geo import read_result
from twpolicy._payloads._locations import LastingPoints, Points
from twpolicy.strategies import tweets

# -- independent decoders: the oracle ---------------------------------------------------------

BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
OLC = "23456789CFGHJMPQRVWX"


def geohash_cell(code):
    """The (south, north, west, east) bounds a geohash stands for (decoded, not encoded)."""
    south, north, west, east = -90.0, 90.0, -180.0, 180.0
    even = True
    for char in code.lower():
        bits = BASE32.index(char)
        for shift in range(4, -1, -1):
            bit = (bits >> shift) & 1
            if even:
                middle = (west + east) / 2
                west, east = (middle, east) if bit else (west, middle)
            else:
                middle = (south + north) / 2
                south, north = (middle, north) if bit else (south, middle)
            even = not even
    return south, north, west, east


def plus_cell(code):
    """The (south, north, west, east) bounds of a full plus code (decoded digit by digit)."""
    digits = code.replace("+", "").rstrip("0").upper()
    south, west, step = -90.0, -180.0, 20.0
    lat_step = lng_step = step
    for index in range(0, min(len(digits), 10), 2):
        lat_step = lng_step = step
        south += OLC.index(digits[index]) * step
        west += OLC.index(digits[index + 1]) * step
        step /= 20
    for char in digits[10:]:
        lat_step, lng_step = lat_step / 5, lng_step / 4
        row, column = divmod(OLC.index(char), 4)
        south += row * lat_step
        west += column * lng_step
    return south, south + lat_step, west, west + lng_step


def inside(point, bounds, slack=1e-9):
    south, north, west, east = bounds
    lat, lng = point
    return south - slack <= lat <= north + slack and west - slack <= lng <= east + slack


# -- generated points ---------------------------------------------------------------------------


TWEET_IDS = st.integers(10**17, 2**62).map(str)


def text_of(encoded):
    return encoded if isinstance(encoded, str) else json.dumps(encoded)


class TestEncoders:
    def test_known_codes(self):
        """Published examples: geohash's own, and the Open Location Code test data."""
        assert geohash(57.64911, 10.40744, 11) == "u4pruydqqvj"
        assert plus_code(47.0000625, 8.0000625, 10) == "8FVC2222+22"
        assert plus_code(20.3700625, 2.7821875, 10) == "7FG49QCJ+2V"
        assert plus_code(20.375, 2.775, 6) == "7FG49Q00+"

    @given(point=POINTS, length=st.integers(1, 12))
    def test_a_geohash_is_the_cell_of_its_point(self, point, length):
        assert inside(point, geohash_cell(geohash(*point, length)))

    @given(point=POINTS, length=st.sampled_from([2, 4, 6, 8, 10, 11, 12, 13, 14, 15]))
    def test_a_plus_code_is_the_cell_of_its_point(self, point, length):
        assert inside(point, plus_cell(plus_code(*point, length)), slack=1e-6)

    def test_tokens_of_text(self):
        tokens = list(code_tokens("at 9q8yyk8 and 849VQHFJ+X6, or QHFJ+X6 San Francisco"))
        assert {b"g9q8yyk8", b"p849VQHFJ+X6", b"pQHFJ+X6"} <= set(tokens)
        assert list(code_tokens("Mixed Case Words Only")) == []  # a geohash is one case
        cells = bytearray(32**3)
        assert list(code_tokens("9q8yyk8", cells)) == []  # in no cell read: not looked up
        cells[cell("9q8")] = 1
        assert list(code_tokens("9q8yyk8", cells)) == [b"g9q8yyk8"]

    def test_scaled_numbers_and_words(self):
        assert scaled_numbers([377749300, -1224194200]) == pytest.approx([37.77493, -122.41942])
        assert scaled_numbers([377749305, -1224194200]) == pytest.approx(
            [37.77493, 37.774931, -122.41942]
        )  # cut off or rounded: the millionths either way
        assert scaled_numbers(list(range(10_000, 10_005))) == []  # IDs or counts: no point
        assert scaled_numbers([True, 12, 10**12]) == []
        assert words_key("San Francisco (CA)") is not None
        assert words_key("San Francisco (CA)") == words_key("SAN FRANCISCO, ca")
        assert words_key("Paris") is None  # a bare name is ordinary speech

    def test_points_forget_their_codes(self):
        points = Points(1)
        points.add(37.77493, -122.41942)
        assert points.encodes([b"g9q8yy"])
        points.add(48.85, 2.35)  # forgets the first
        points.add(1.5, 2.5)
        assert points.cells() is not None
        assert not points.encodes([b"g9q8yy"])
        assert not Points(1).encodes([b"g9q8yy"])
        assert Points(1).cells() is None
        lasting = LastingPoints(10)
        assert not lasting.encodes([b"g9q8yy"])
        assert lasting.cells() is None
        lasting.add(37.77493, -122.41942)
        assert lasting.encodes([b"g9q8yy"])
        assert not lasting.encodes([b"gu4pru"])


# Each notation with the points it reaches: UTM stops at 84 degrees north, Web Mercator at 85.
NOTATIONS = {"encodings": (encodings, POINTS), "grids": (grid_spellings, GRID_POINTS)}


@pytest.mark.parametrize("notation", list(NOTATIONS))
class TestPointsReadThenWritten:
    """Every notation of a point read is refused; the same notations of a point never read
    pass (encodings here, grids and projections from `test_geo_grids`)."""

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), data=st.data())
    def test_every_notation_of_a_point_read_is_refused(self, notation, base, data):
        spell, points = NOTATIONS[notation]
        point = data.draw(points)
        guard = location_guard()
        assert check_storable(v1_tweet(base, point), guard=guard).allowed  # whole; now known
        encoded = data.draw(spell(point))
        assert refused(guard, data.draw(carried(encoded))), encoded

    @settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), data=st.data())
    def test_the_same_notations_of_a_point_never_read_pass(self, notation, base, data):
        spell, points = NOTATIONS[notation]
        point, other = data.draw(points), data.draw(points)
        assume(abs(point[0] - other[0]) > 1 or abs(point[1] - other[1]) > 1)
        assume(abs(point[0] - other[1]) > 1 or abs(point[1] - other[0]) > 1)
        guard = location_guard()
        check_storable(v1_tweet(base, point), guard=guard)
        encoded = data.draw(spell(other))
        assume(not isinstance(encoded, str) or "\u00b0" not in encoded)  # refused by its look
        assume(not (isinstance(encoded, dict) and "latE" in encoded))  # dict keys are fine
        assume(not str(encoded).startswith("POINT("))  # WKT: location by its look
        assert not refused(guard, {"v": encoded}), encoded
        if isinstance(encoded, str):
            assert not refused(guard, {"note": f"seen near {encoded} today"}), encoded


class TestPointsReadThenEncoded:
    def test_the_instances(self):
        guard = location_guard()
        tweet = {
            "id_str": "1000000000000000020",
            "text": "Hello",
            "coordinates": {"type": "Point", "coordinates": [-122.41942, 37.77493]},
        }
        check_storable(tweet, guard=guard)
        for kept in (
            {"gh": "9q8yyk8"},
            {"9q8yy": 3},
            {"code": "849VQHFJ+X6"},
            {"code": "QHFJ+X6 San Francisco"},
            {"latE7": 377749300, "lngE7": -1224194200},
            {"micro": [37774930, -122419420]},
            {"note": "37 46 29.7 N 122 25 9.9 W"},
            {"note": "37d46m29.7sN 122d25m9.9sW"},
            {"wkt": "POINT(-122.41942 37.77493)"},
            {"geojson": '{"type": "Point", "coordinates": [-122.4194, 37.7749]}'},
            {"tile": "15/5241/12665"},
            {"0230102033330": 4},
            {"grid": "CM87ss95"},
            {"mgrs": "10S EG 511 810"},
            {"utm": "10S 551100 4181000"},
            {"xy": "-13627667, 4547680"},
            {"s2": "8085809c"},
            {"h3": "8a283082800ffff"},
        ):
            with pytest.raises(StandaloneGeoError):
                check_storable(kept, guard=guard)
        assert check_storable({"tile": "15/5000/12000", "grid": "JN18eu"}, guard=guard).allowed
        places = GeoSafeMapping({}, guard=guard)
        with pytest.raises(StandaloneGeoError):
            places["9q8yyk"] = 1
        with pytest.raises(StandaloneGeoError):
            places["home"] = "849VQHFJ+X6"

    def test_within_one_payload(self):
        """A payload holding a whole Tweet and its point encoded apart from it."""
        tweet = {
            "id_str": "1000000000000000020",
            "text": "Hello",
            "coordinates": {"type": "Point", "coordinates": [-122.41942, 37.77493]},
        }
        decision = decide(location_guard(), {"tweet": tweet, "cell": "9q8yyk8"})
        assert not decision.allowed
        assert decision.outcomes[-1].facts["pointer"] == "/cell"

    def test_over_the_corpus(self, corpus):
        """Every point read in the corpus, as a geohash, a plus code and E7 integers."""
        checked = 0
        for doc in load(corpus):
            if doc.error is not None or not isinstance(doc.value, (dict, list)):
                continue
            memory = LocationMemory()
            memory.observe_all(doc.value)
            points = list(memory.points._pending)[:3]
            if not points:
                continue
            guard = location_guard()
            allowed = guard.check(Action(kind="store", operation="t", payload=doc.value)).allowed
            try:
                check_storable(doc.value, guard=guard)
            except StandaloneGeoError:
                assert not allowed
            for first, second in points:
                for lat, lng in ((first, second), (second, first)):
                    if abs(lat) > 90 or (lat.is_integer() and lng.is_integer()):
                        continue  # not this order; whole numbers are never a point
                    assert refused(guard, {"x": geohash(lat, lng, 7)}), doc.origin
                    assert refused(guard, {"x": plus_code(lat, lng, 10)}), doc.origin
                    assert refused(guard, {"x": round(lat * 1e7), "y": round(lng * 1e7)})
                checked += 1
        assert checked > 20


# Ordinary text: words, hashes, base32 strings.
ENGLISH = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dogs",
    "while",
    "seven",
    "happy",
    "people",
    "watch",
    "there",
    "where",
    "these",
    "every",
    "never",
    "under",
    "queue",
    "street",
    "tweets",
    "summer",
    "winter",
    "bright",
    "twenty",
    "thirty",
]
NOISE = st.one_of(
    st.sampled_from(ENGLISH),
    st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=12),
    st.text(alphabet=BASE32, min_size=5, max_size=12),
    st.text(alphabet="0123456789abcdef", min_size=7, max_size=40),
    st.integers(0, 10**9).map(str),
)


class TestOrdinaryText:
    @settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), read=st.lists(POINTS, min_size=1, max_size=20), data=st.data())
    def test_ordinary_text_is_not_taken_for_location(self, base, read, data):
        """Refused only when a word is the cell of a point read (the oracle decodes it)."""
        guard = location_guard()
        for index, point in enumerate(read):
            check_storable(v1_tweet(base, point, tweet_id=str(10**17 + index)), guard=guard)
        words = data.draw(st.lists(NOISE, min_size=1, max_size=30))
        for word in words:
            shaped = len(word) >= 5 and all(char in BASE32 for char in word)
            cell_read = shaped and any(
                inside(p, geohash_cell(word)) or inside(p[::-1], geohash_cell(word)) for p in read
            )
            assume(not cell_read)
        assert not refused(guard, {"note": " ".join(words), "tags": words})

    def test_the_rate_over_random_base32_words(self):
        """1,000 points read; 20,000 random five-letter geohash-shaped words: the documented
        bound is 2 x 1,000 / 32**5 (6e-5) a word, so none is expected to be refused."""
        rng = random.Random(12)  # noqa: S311  # test data
        memory = LocationMemory()
        for _ in range(1_000):
            memory.observe(
                {
                    "coordinates": {
                        "type": "Point",
                        "coordinates": [rng.uniform(-170, 170), rng.uniform(-80, 80)],
                    }
                }
            )
        words = ["".join(rng.choice(BASE32) for _ in range(5)) for _ in range(20_000)]
        taken = [word for word in words if memory.encodes_text(word)]
        assert len(taken) <= 5  # about 1.2 expected


def fullwidth(text):
    """``text`` in full-width letters (NFKC folds them back)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


SEPARATORS = ["{name} {region}", "{name} - {region}", "{name}/{region}", "{name} ({region})"]


@st.composite
def rewritten_names(draw, place):
    """A place's full name rewritten without its comma, or with its country."""
    name, region = place["full_name"].split(", ", 1)
    form = draw(st.sampled_from([*SEPARATORS, "{name}, {country}", "{name} {country}"]))
    text = form.format(name=name, region=region, country=place["country"])
    case = draw(st.sampled_from(["same", "upper", "lower", "fullwidth", "nfd"]))
    if case == "upper":
        text = text.upper()
    elif case == "lower":
        text = text.lower()
    elif case == "fullwidth":
        text = fullwidth(text)
    elif case == "nfd":
        text = unicodedata.normalize("NFD", text)
    return text


class TestNamesWithoutTheirComma:
    @settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), place=named_places(), point=POINTS, data=st.data())
    def test_a_full_name_read_is_refused_in_other_words(self, base, place, point, data):
        guard = location_guard()
        check_storable(v1_tweet(base, point, place=v1_place(place)), guard=guard)
        text = data.draw(rewritten_names(place))
        form = data.draw(st.sampled_from(["value", "key", "count_row"]))
        payload = {
            "value": {"home": text},
            "key": {text: 3},
            "count_row": [{"k": text, "n": 3}],
        }[form]
        assert refused(guard, payload), (text, form)

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), place=named_places(), point=POINTS, other=WORDS)
    def test_a_bare_name_and_names_never_read_pass(self, base, place, point, other):
        assume(other.casefold() != place["name"].casefold())
        guard = location_guard()
        check_storable(v1_tweet(base, point, place=v1_place(place)), guard=guard)
        assert not refused(guard, {"home": place["name"]})  # ordinary speech
        assert not refused(guard, {"home": f"{other} {place['full_name'].split(', ')[1]}"})
        assert not refused(guard, {"home": f"I love {place['name']}"})


class TestOwners:
    """A Tweet's own point and place, written in its own text, are its own; another's not."""

    @settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
    @given(
        base=tweets("v1.1", location=False),
        place=named_places(),
        point=POINTS,
        ids=st.lists(TWEET_IDS, min_size=2, max_size=2, unique=True),
        data=st.data(),
    )
    def test_encoded_and_renamed_location_keeps_its_owner(self, base, place, point, ids, data):
        guard = location_guard()
        tweet = v1_tweet(base, point, v1_place(place), tweet_id=ids[0])
        read_result(guard.locations, [tweet])  # through the clients' read hook: owned
        family = data.draw(st.sampled_from(["point", "name"]))
        if family == "point":
            encoded = data.draw(encodings(point))
        else:
            encoded = data.draw(rewritten_names(place))
        if not isinstance(encoded, str):  # numbers: kept under a key of the Tweet's own
            own = copy.deepcopy(tweet)
            own["mine"] = encoded
            assert decide(guard, own).allowed or decide(guard, own).rule != "geo.standalone"
            assert refused(guard, {"id_str": ids[1], "text": "seen", "mine": encoded})
            return
        judged_by_owner(guard, tweet, encoded, other_id=ids[1])
        user = {"id_str": ids[1], "screen_name": "x", "description": f"Based in {encoded}"}
        decision = decide(guard, user)
        assert (decision.allowed, decision.reason) == (False, "moved_to_another_user"), encoded

    def test_the_instance(self):
        guard = location_guard()
        tweet = {
            "id_str": "1000000000000000020",
            "text": "Hello",
            "coordinates": {"type": "Point", "coordinates": [-122.41942, 37.77493]},
            "place": {
                "id": "5a110d312052166f",
                "name": "San Francisco",
                "full_name": "San Francisco, CA",
                "country": "United States",
                "country_code": "US",
            },
        }
        read_result(guard.locations, [tweet])
        for text in (
            "at 9q8yyk8",
            "QHFJ+X6 San Francisco",
            "377749300,-1224194200",
            "San Francisco CA",
            "san francisco (ca)",
            "San Francisco, United States",
            "SAN FRANCISCO US",
        ):
            assert decide(guard, {**tweet, "text": text}).allowed
            decision = decide(guard, {"id_str": "42", "text": text})
            assert decision.reason == "moved_to_another_tweet", text
        assert decide(guard, {"id_str": "42", "text": "I love San Francisco"}).allowed

    @pytest.mark.parametrize(
        "counts",
        [
            {"id": 999991, "id_str": "999991", "statuses_count": 10000},  # ID and a count
            {"id": 1, "id_str": "1", "favourites_count": 10000, "statuses_count": 999991},
        ],
    )
    @pytest.mark.parametrize(
        "rewrite", [("mine", {"latE": 10000, "lngE": 10000}), ("text", "here: AAAA CA")]
    )
    def test_a_users_numbers_that_scale_to_its_tweets_point(self, counts, rewrite):
        """Found by hypothesis: a user read with a Tweet, whose ID and counts scaled are the
        Tweet's point (0.1, 0.1 in E5 and E7), made the Tweet's own rewrites refused."""
        guard = location_guard()
        place = {
            "id": "0000000000000000",
            "full_name": "AAAA, CA",
            "name": "AAAA",
            "country": "United States",
            "country_code": "US",
            "place_type": "poi",
            "geo": {"type": "Feature", "bbox": [0.0, 0.0, 0.0, 0.0], "properties": {}},
        }
        user = {"screen_name": "x", "followers_count": 0, "friends_count": 0, **counts}
        base = {"text": "RT @0: 0", "user": user}
        tweet = v1_tweet(base, (0.1, 0.1), v1_place(place), tweet_id="100000000000000000")
        read_result(guard.locations, [tweet])
        key, value = rewrite
        own = {**copy.deepcopy(tweet), key: value}
        assert decide(guard, own).allowed
        # Another user holding such numbers was never read with them: refused.
        other = {
            "id": 2,
            "id_str": "2",
            "screen_name": "y",
            "favourites_count": 10000,
            "statuses_count": 999991,
        }
        decision = decide(guard, other)
        assert (decision.allowed, decision.reason) == (False, "moved_to_another_user")


def test_one_integer_is_not_both_coordinates_of_a_point():
    """Found by hypothesis: 1000000 (0.1 in E7, a whole number of tenths) was counted twice,
    so ``"1000000,-9220374"`` was taken for the point (0.1, 0.1) read."""
    guard = location_guard()
    check_storable(v1_tweet({"id_str": "1", "text": "0"}, (0.1, 0.1)), guard=guard)
    assert not refused(guard, {"v": "1000000,-9220374"})
    assert refused(guard, {"v": "1000000,1000000"})


def test_a_coordinate_cut_off_one_short_is_refused():
    """Found by hypothesis: ``int(80.72437 * 10**5)`` is 8072436, one short of its digits."""
    guard = location_guard()
    tweet = {"id_str": "1", "text": "0", "geo": {"type": "Point", "coordinates": [0.1, 80.72437]}}
    assert check_storable(tweet, guard=guard).allowed
    assert int(80.72437 * 10**5) == 8072436  # the float falls short
    assert refused(guard, {"v": {"latE": 10000, "lngE": 8072436}})


def test_word_tails_and_spans_stay_small():
    """The memory keeps only the last words of names read without their comma."""
    memory = LocationMemory()
    place = {"id": "5a110d312052166f", "name": "A B", "full_name": "A B, Big Region"}
    read_result(memory, [{"id_str": "1", "text": "x", "place": place}])
    assert memory._word_tails == {"region"}
    assert memory._span_size >= 4  # "a b big region"

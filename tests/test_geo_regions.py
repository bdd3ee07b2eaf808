"""A place's full name read, written with its region or country spelled otherwise (I.B.7).

The API sends ``"San Francisco, CA"`` in ``"United States"`` (``"US"``); an application may
keep ``"San Francisco, California"``, ``"San Francisco, CA, United States"`` or
``"San Francisco CA USA"``. Each is the full name read, in any case, spacing or separator,
as a value, a key or a row of counts; judged by owner in other objects' text. A bare name,
and the same spellings of a name never read, pass.
"""

from importlib import resources

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from geo_places import WORDS, decide, location_guard, v1_place, v1_tweet
from geo_spellings import judged_by_owner
from twpolicy import check_storable
from twpolicy._payloads._encodings import spelled_otherwise, words_key
from twpolicy._payloads._geo import read_result
from twpolicy.strategies import places, tweets

# Facts written out here, apart from the package's table: the oracle.
STATES = {
    "CA": "California",
    "NY": "New York",
    "TX": "Texas",
    "WA": "Washington",
    "GA": "Georgia",
    "MA": "Massachusetts",
    "DC": "District of Columbia",
    "IL": "Illinois",
}
US = ["US", "USA", "United States", "United States of America", "U.S.A."]
COUNTRIES = [
    ("FR", "FRA", "France"),
    ("DE", "DEU", "Germany"),
    ("JP", "JPN", "Japan"),
    ("GB", "GBR", "United Kingdom"),
    ("BR", "BRA", "Brazil"),
    ("ZA", "ZAF", "South Africa"),
]
POINTS = st.tuples(st.integers(-8000, 8000), st.integers(-17000, 17000)).map(
    lambda p: (p[0] / 100 + 0.00123, p[1] / 100 + 0.00456)
)


@st.composite
def us_places(draw):
    place = draw(places("v2"))
    name = draw(WORDS)
    code = draw(st.sampled_from(sorted(STATES)))
    place.update(name=name, full_name=f"{name}, {code}", country="United States", country_code="US")
    return place, STATES[code], code


@st.composite
def foreign_places(draw):
    place = draw(places("v2"))
    name = draw(WORDS)
    alpha2, alpha3, country = draw(st.sampled_from(COUNTRIES))
    place.update(name=name, full_name=f"{name}, {country}", country=country, country_code=alpha2)
    return place, alpha2, alpha3, country


SEPARATORS = ["{a}, {b}", "{a} {b}", "{a} ({b})", "{a} - {b}", "{a}/{b}"]


@st.composite
def spelled(draw, parts):
    """``parts`` joined as people write them, in some case."""
    text = parts[0]
    for part in parts[1:]:
        text = draw(st.sampled_from(SEPARATORS)).format(a=text, b=part)
    case = draw(st.sampled_from(["same", "upper", "lower"]))
    return text.upper() if case == "upper" else text.lower() if case == "lower" else text


@st.composite
def us_rewrites(draw, name, state, code):
    form = draw(st.sampled_from(["state", "state_country", "code_country", "country"]))
    nation = draw(st.sampled_from(US))
    parts = {
        "state": [name, state],
        "state_country": [name, state, nation],
        "code_country": [name, code, nation],
        "country": [name, nation],
    }[form]
    return draw(spelled(parts))


def refused(guard, payload):
    decision = decide(guard, payload)
    return not decision.allowed and decision.rule == "geo.standalone"


def carried(text, form):
    return {"value": {"home": text}, "key": {text: 3}, "count_row": [{"k": text, "n": 3}]}[form]


FORMS = st.sampled_from(["value", "key", "count_row"])


class TestRegionsSpelledOtherwise:
    @settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), found=us_places(), point=POINTS, form=FORMS, data=st.data())
    def test_a_us_place_read_is_refused_with_its_state_or_country_spelled_otherwise(
        self, base, found, point, form, data
    ):
        place, state, code = found
        guard = location_guard()
        assert check_storable(v1_tweet(base, point, place=v1_place(place)), guard=guard).allowed
        text = data.draw(us_rewrites(place["name"], state, code))
        assert refused(guard, carried(text, form)), (text, form)

    @settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), found=foreign_places(), point=POINTS, form=FORMS, data=st.data())
    def test_a_place_read_is_refused_with_its_country_as_a_code(
        self, base, found, point, form, data
    ):
        place, alpha2, alpha3, _ = found
        guard = location_guard()
        check_storable(v1_tweet(base, point, place=v1_place(place)), guard=guard)
        text = data.draw(spelled([place["name"], data.draw(st.sampled_from([alpha2, alpha3]))]))
        assert refused(guard, carried(text, form)), (text, form)

    @settings(max_examples=80, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), found=us_places(), point=POINTS, other=WORDS, data=st.data())
    def test_a_bare_name_and_names_never_read_pass(self, base, found, point, other, data):
        place, state, code = found
        assume(other.casefold() != place["name"].casefold())
        guard = location_guard()
        check_storable(v1_tweet(base, point, place=v1_place(place)), guard=guard)
        assert not refused(guard, {"home": place["name"]})  # ordinary speech
        assert not refused(guard, {"home": data.draw(us_rewrites(other, state, code))})
        assert not refused(guard, {"home": f"I love {place['name']} in {state}"})

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1", location=False), found=us_places(), point=POINTS, data=st.data())
    def test_judged_by_owner(self, base, found, point, data):
        place, state, code = found
        guard = location_guard()
        tweet = v1_tweet(base, point, v1_place(place), tweet_id="100000000000000001")
        read_result(guard.locations, [tweet])
        judged_by_owner(guard, tweet, data.draw(us_rewrites(place["name"], state, code)))

    def test_the_instances(self):
        guard = location_guard()
        tweet = {
            "id_str": "1000000000000000020",
            "text": "Hello",
            "place": {
                "id": "5a110d312052166f",
                "name": "San Francisco",
                "full_name": "San Francisco, CA",
                "country": "United States",
                "country_code": "US",
            },
        }
        check_storable(tweet, guard=guard)  # whole: stored, and now known
        for text in (
            "San Francisco, California",
            "San Francisco, CA, United States",
            "San Francisco CA USA",
        ):
            assert refused(guard, {"home": text}), text
        assert not refused(guard, {"home": "San Francisco"})
        assert not refused(guard, {"home": "Oakland, California"})


class TestTheTable:
    def test_every_line_is_well_formed(self):
        text = resources.files("twpolicy._payloads").joinpath("regions.txt").read_text("utf-8")
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        alpha2, alpha3, states = set(), set(), set()
        for line in lines:
            country, _, spellings = line.rpartition(":")
            names = spellings.split("|")
            assert all(name.strip() == name and name for name in names), line
            if country == "US":
                states.add(names[0])
            elif not country:
                assert len(names[0]) == 2, line
                assert len(names[1]) == 3, line
                assert names[0].isupper(), line
                assert names[1].isupper(), line
                alpha2.add(names[0])
                alpha3.add(names[1])
        assert len(states) == 56  # 50 states, DC and five territories
        assert len(alpha2) == len(alpha3) == len([line for line in lines if ":" not in line])
        assert set(STATES) <= states
        assert {a for a, _, _ in COUNTRIES} <= alpha2

    def test_forms(self):
        forms = spelled_otherwise("Paris", "Paris, France", "France", "FR")
        assert words_key("Paris FRA") in forms
        assert words_key("Paris France FRA") not in forms  # its region is its country
        georgia = spelled_otherwise("Atlanta", "Atlanta, GA", "United States", "US")
        assert words_key("Atlanta Georgia") in georgia
        assert words_key("Atlanta Gabon") not in georgia  # GA is a state here, not Gabon
        assert spelled_otherwise("X", "X", "", "") == ()
        assert words_key("Oakland California") in spelled_otherwise("", "Oakland, CA", "", "US")

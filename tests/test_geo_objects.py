"""I.B.7: location kept in the application's own objects and number types is location.

Dataclasses, attrs classes, plain objects (``__dict__`` or ``__slots__``), named tuples,
sets, tuples, arrays, ``Decimal``, ``Fraction`` and complex numbers: the storage checks,
`find_geo` and `strip_geo` read each as the JSON it holds.
"""

import array
import dataclasses
import decimal
import enum
import fractions
import json
import typing

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twpolicy import (
    GeoSafeMapping,
    Guard,
    PayloadError,
    StandaloneGeoError,
    check_storable,
    find_geo,
    no_standalone_geo,
    strip_geo,
)
from twpolicy.strategies import places

POINT = [-122.41942, 37.77493]


@dataclasses.dataclass
class Row:
    id_str: str
    value: object


@attrs.define
class AttrsRow:
    id_str: str
    value: object


class Plain:
    def __init__(self, id_str, value):
        self.id_str = id_str
        self.value = value


class Slotted:
    __slots__ = ("id_str", "value")

    def __init__(self, id_str, value):
        self.id_str = id_str
        self.value = value


class Named(typing.NamedTuple):
    id_str: str
    value: object


class Colour(enum.Enum):
    HERE = "37.77493,-122.41942"


HOLDERS = st.sampled_from(
    [
        Row,
        AttrsRow,
        Plain,
        Slotted,
        Named,
        lambda id_str, value: {"id_str": id_str, "value": value},
        lambda id_str, value: (id_str, value),
        lambda id_str, value: [id_str, {"value": value}],
    ]
)


def _number(kind, x):
    return {
        "decimal": decimal.Decimal(repr(x)),
        "fraction": fractions.Fraction(repr(x)),
        "float": x,
    }[kind]


@st.composite
def located(draw):
    """A location datum written with the application's own types."""
    lat = round(draw(st.floats(-80, 80, allow_nan=False)), 5)
    lon = round(draw(st.floats(-170, 170, allow_nan=False)), 5)
    if abs(lat) < 1 or abs(lon) < 1 or lat.is_integer() or lon.is_integer():
        lat, lon = 37.77493, -122.41942
    number = draw(st.sampled_from(["decimal", "fraction", "float"]))
    pair = [_number(number, lon), _number(number, lat)]
    form = draw(st.sampled_from(["geojson", "tuple", "array", "complex", "place", "set"]))
    if form == "geojson":
        return {"coordinates": {"type": "Point", "coordinates": pair}}
    if form == "tuple":
        return {"coordinates": tuple(pair)}
    if form == "array":
        return {"coordinates": array.array("d", [lon, lat])}
    if form == "complex":
        return {"latlong": complex(lat, lon)}
    if form == "set":
        return {"places": {f"{lat},{lon}"}}
    return {"place": draw(places("v1.1"))}


class TestObjects:
    @settings(max_examples=80)
    @given(HOLDERS, located())
    def test_refused_in_any_holder(self, holder, datum):
        stored = holder("1", datum)
        with pytest.raises(StandaloneGeoError):
            check_storable(stored, guard=Guard())
        assert find_geo(stored)
        assert not find_geo(strip_geo(stored))

    @settings(max_examples=30)
    @given(HOLDERS, located())
    def test_decorator_and_mapping(self, holder, datum):
        @no_standalone_geo(guard=Guard())
        def save(row):
            return row

        with pytest.raises(StandaloneGeoError):
            save(holder("1", datum))
        store = GeoSafeMapping({}, guard=Guard())
        with pytest.raises(StandaloneGeoError):
            store["k"] = holder("1", datum)
        assert "k" not in store

    @pytest.mark.parametrize(
        "stored",
        [
            Row("1", {"coordinates": {"type": "Point", "coordinates": POINT}}),
            {"id_str": "1", "c": [decimal.Decimal("-122.41942"), decimal.Decimal("37.77493")]},
            {
                "id_str": "1",
                "c": [fractions.Fraction(-12241942, 10**5), fractions.Fraction(3777493, 10**5)],
            },
            {"id_str": "1", "c": complex(37.77493, -122.41942)},
            {"id_str": "1", "c": Colour.HERE},
            {(decimal.Decimal("37.77493"), decimal.Decimal("-122.41942")): 3},
            {Named("a", "37.77493,-122.41942"): 3},
        ],
    )
    def test_instances(self, stored):
        with pytest.raises(StandaloneGeoError):
            check_storable(stored, guard=Guard())

    def test_plain_objects_are_storable(self):
        assert check_storable(Row("1", {"n": decimal.Decimal(3)}), guard=Guard()).allowed
        assert check_storable(
            {"when": object(), "n": fractions.Fraction(1, 3)}, guard=Guard()
        ).allowed

    def test_nested_iterators_and_cycles_are_refused(self):
        with pytest.raises((PayloadError, StandaloneGeoError)):
            check_storable({"rows": iter([{"coordinates": POINT}])}, guard=Guard())
        row = Plain("1", None)
        row.value = row
        with pytest.raises((PayloadError, StandaloneGeoError)):
            check_storable(row, guard=Guard())


# -- JSON text held in a value ------------------------------------------------------------

ENCODINGS = st.sampled_from(["str", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"])


def _encoded(value, encoding):
    text = json.dumps(value)
    return text if encoding == "str" else text.encode(encoding)


class TestNestedJsonText:
    @settings(max_examples=60)
    @given(
        places("v1.1") | places("v2"),
        ENCODINGS,
        st.sampled_from(["note", "cache", "x"]),
        st.booleans(),
    )
    def test_a_place_in_json_text_stands_alone(self, place, encoding, key, listed):
        held = _encoded([place] if listed else place, encoding)
        stored = {"id_str": "1", key: held}
        with pytest.raises(StandaloneGeoError):
            check_storable(stored, guard=Guard())
        assert any(finding.standalone for finding in find_geo(stored))
        assert check_storable(strip_geo(stored), guard=Guard()).allowed

    def test_a_key_written_twice_in_json_text_is_refused(self):
        hidden = (
            '{"place": {"full_name": "San Francisco, CA", "id": "5a110d312052166f"}, "place": null}'
        )
        with pytest.raises((PayloadError, StandaloneGeoError)):
            check_storable({"note": hidden}, guard=Guard())

    @pytest.mark.parametrize("text", ['{"a": 1}', "[1, 2]", "[link] here", "{not json"])
    def test_a_tweet_whose_text_looks_like_json_is_a_tweet(self, text):
        tweet = {
            "id_str": "1",
            "text": text,
            "coordinates": {"type": "Point", "coordinates": POINT},
        }
        assert check_storable(tweet, guard=Guard()).allowed
        assert check_storable({"note": text}, guard=Guard()).allowed

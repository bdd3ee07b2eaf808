"""Points written again in the notations people use, for the I.B.7 property tests.

Shared by the tests of encodings (`test_geo_encodings`), grids and projections
(`test_geo_grids`) and regions spelled otherwise (`test_geo_regions`): the points the API
gives, each notation generated at every precision in the spellings people write, how a
notation reaches a store, and the judgements every family is held to.
"""

import copy
import json

import h3
from hypothesis import strategies as st

from geo_places import WORDS, decide
from twpolicy._payloads._encodings import (
    geohash,
    maidenhead,
    mgrs,
    plus_code,
    quadkey,
    s2_cell,
    s2_parent,
    s2_token,
    tile,
    utm,
    web_mercator,
)

# -- points -----------------------------------------------------------------------------------


def coordinates(limit):
    """Coordinates of at least 0.1 degrees, four to eight decimals (as the API gives them).

    At least 0.1 degrees: a few integers scaled are then a point.
    """
    return st.tuples(st.integers(10**7, limit * 10**8), st.booleans()).map(
        lambda t: -t[0] / 10**8 if t[1] else t[0] / 10**8
    )


def points(latitude_limit):
    """Points as the API gives them, away from the poles (``latitude_limit``) and date line."""
    return (
        st.tuples(coordinates(latitude_limit), coordinates(175), st.integers(4, 8))
        .map(lambda p: (round(p[0], p[2]), round(p[1], p[2])))
        .filter(lambda p: not (p[0].is_integer() and p[1].is_integer()))  # counts are whole
    )


#: Every notation but UTM and Web Mercator reaches past 79 degrees (UTM stops at 84 N).
POINTS = points(85)
GRID_POINTS = points(79)

# -- encodings: geohashes, plus codes, scaled integers, degrees and minutes --------------------


def dms(value, positive, negative, form):
    """``value`` in degrees, minutes and seconds, as ``form`` writes it."""
    hemisphere = positive if value >= 0 else negative
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = ((value - degrees) * 60 - minutes) * 60
    if form == "signs":
        return f"{degrees}\u00b0{minutes}'{seconds:.1f}\"{hemisphere}"
    if form == "spaces":
        return f"{degrees} {minutes} {seconds:.1f} {hemisphere}"
    if form == "letters":
        return f"{degrees}d{minutes}m{seconds:.1f}s{hemisphere}"
    if form == "colons":
        return f"{degrees}:{minutes:02d}:{seconds:04.1f}{hemisphere}"
    if form == "prefix":
        return f"{hemisphere} {degrees} {minutes + seconds / 60:.3f}"
    return f"{degrees}\u00b0 {minutes}\u2032 {seconds:.1f}\u2033 {hemisphere}"  # primes


DMS_FORMS = ["signs", "spaces", "letters", "colons", "prefix", "primes"]


def scaled(value, power, how):
    return round(value * 10**power) if how == "round" else int(value * 10**power)


@st.composite
def encodings(draw, point):
    """``point`` (lat, long) written by an application in one of the other notations."""
    lat, lng = point
    family = draw(
        st.sampled_from(["geohash", "plus", "short_plus", "scaled", "scaled_text", "dms"])
    )
    if family == "geohash":
        code = geohash(lat, lng, draw(st.integers(5, 12)))
        return code.upper() if draw(st.booleans()) else code
    if family == "plus":
        code = plus_code(lat, lng, draw(st.sampled_from([6, 8, 10, 11, 12, 13, 14, 15])))
        return code.lower() if draw(st.booleans()) else code
    if family == "short_plus":
        code = plus_code(lat, lng, draw(st.sampled_from([10, 11, 12])))
        return f"{code[draw(st.sampled_from([2, 4, 6])) :]} {draw(WORDS)}"
    power, how = draw(st.sampled_from([5, 6, 7])), draw(st.sampled_from(["round", "down"]))
    first, second = scaled(lat, power, how), scaled(lng, power, how)
    if draw(st.booleans()):
        first, second = second, first
    if family == "scaled":
        return [first, second] if draw(st.booleans()) else {"latE": first, "lngE": second}
    if family == "scaled_text":
        return f"{first},{second}"
    form = draw(st.sampled_from(DMS_FORMS))
    return f"{dms(lat, 'N', 'S', form)} {dms(lng, 'E', 'W', form)}"


# -- grids and projections ----------------------------------------------------------------------


def metres(value, how):
    return round(value) if how == "round" else int(value)


@st.composite
def tiles(draw, point):
    zoom = draw(st.integers(10, 20))
    x, y = tile(*point, zoom)
    forms = [
        "{z}/{x}/{y}",
        "{z}_{x}_{y}",
        "{z}-{x}-{y}",
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    ]
    return draw(st.sampled_from(forms)).format(z=zoom, x=x, y=y)


@st.composite
def quadkeys(draw, point):
    zoom = draw(st.integers(10, 20))
    key = quadkey(*tile(*point, zoom), zoom)
    return draw(st.sampled_from([key, f"quadkey={key}", f"/tiles/a{key}.jpeg"]))


@st.composite
def locators(draw, point):
    code = maidenhead(*point, draw(st.sampled_from([6, 8, 10])))
    case = draw(st.sampled_from(["upper", "lower", "usual"]))
    if case == "lower":
        return code.lower()
    if case == "usual":  # field upper, subsquares lower: "CM87wr12ab"
        return code[:4] + code[4:6].lower() + code[6:8] + code[8:].lower()
    return code


@st.composite
def mgrs_references(draw, point):
    zone = utm(*point)[0]
    code = mgrs(*point, draw(st.sampled_from([1, 10, 100])))
    digits = len(code) - (5 if zone >= 10 else 4)
    head, east, north = code[:-digits], code[-digits : -digits // 2], code[-digits // 2 :]
    form = draw(st.sampled_from(["glued", "spaced", "square", "zero"]))
    if form == "spaced":
        code = f"{head[:-2]} {head[-2:]} {east} {north}"
    elif form == "square":
        code = f"{head} {east} {north}"
    elif form == "zero" and zone < 10:
        code = "0" + code
    return code.lower() if draw(st.booleans()) else code


@st.composite
def utm_coordinates(draw, point):
    zone, band, easting, northing = utm(*point)
    precision, how = draw(st.sampled_from([1, 10, 100])), draw(st.sampled_from(["round", "cut"]))
    east = metres(easting / precision, how) * precision
    north = metres(northing / precision, how) * precision
    letter = draw(st.sampled_from([band, "N" if point[0] >= 0 else "S"]))
    forms = [
        "{zone}{letter} {east} {north}",
        "{zone}{letter} {east}mE {north}mN",
        "Zone {zone}, {east} E, {north} N",
        "zone {zone} {east} {north}",
    ]
    if precision == 1 and draw(st.booleans()):
        east, north = f"{easting:.2f}", f"{northing:.2f}"  # with decimals
    return draw(st.sampled_from(forms)).format(zone=zone, letter=letter, east=east, north=north)


@st.composite
def mercator_metres(draw, point):
    x, y = web_mercator(*point)
    how = draw(st.sampled_from(["round", "cut", "decimals"]))
    a, b = (f"{x:.2f}", f"{y:.2f}") if how == "decimals" else (metres(x, how), metres(y, how))
    forms = ["{a}, {b}", "{a} {b}", "{a};{b}", "POINT({a} {b})"]
    return draw(st.sampled_from(forms)).format(a=a, b=b)


@st.composite
def s2_cells(draw, point):
    parent = s2_parent(s2_cell(*point), draw(st.integers(10, 30)))
    token = s2_token(parent)
    return draw(st.sampled_from([token, token.upper(), str(parent), f"s2:{token}"]))


@st.composite
def h3_cells(draw, point):
    index = h3.latlng_to_cell(*point, draw(st.integers(6, 15)))
    return draw(st.sampled_from([index, index.upper(), f"0x{index}", str(int(index, 16))]))


SPELLINGS = {
    "tile": tiles,
    "quadkey": quadkeys,
    "maidenhead": locators,
    "mgrs": mgrs_references,
    "utm": utm_coordinates,
    "mercator": mercator_metres,
    "s2": s2_cells,
    "h3": h3_cells,
}
FAMILIES = list(SPELLINGS)


@st.composite
def grid_spellings(draw, point, family=None):
    """``point`` (lat, long) written in a grid or projection, at a precision people use."""
    return draw(SPELLINGS[family or draw(st.sampled_from(FAMILIES))](point))


# -- how a notation reaches a store, and how it is judged ---------------------------------------


@st.composite
def carried(draw, encoded):
    """An encoding as it may reach a store: a value, a key, nested, JSON text or bytes."""
    form = draw(st.sampled_from(["value", "key", "nested", "list", "text", "bytes", "note"]))
    if form == "key" and isinstance(encoded, str):
        return {encoded: draw(st.integers(1, 10**6))}
    if form == "nested":
        return {"a": 1, "b": [0, {"c": encoded}]}
    if form == "list":
        return [encoded, "x"]
    if form in {"text", "bytes"}:
        text = json.dumps({"k": encoded})
        return text if form == "text" else text.encode("utf-16")
    if form == "note" and isinstance(encoded, str):
        return {"note": f"seen near {encoded} today"}
    return {"v": encoded}


def refused(guard, payload):
    decision = decide(guard, payload)
    return not decision.allowed and decision.rule == "geo.standalone"


def judged_by_owner(guard, tweet, text, other_id="100000000000000002"):
    """A Tweet's own location written in its own text is its own; in another Tweet it moved."""
    own = copy.deepcopy(tweet)
    own["text"] = f"here: {text}"
    assert decide(guard, own).allowed or decide(guard, own).rule != "geo.standalone"
    decision = decide(guard, {"id_str": other_id, "text": f"seen: {text}"})
    assert (decision.allowed, decision.reason) == (False, "moved_to_another_tweet"), text

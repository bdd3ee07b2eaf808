"""Points read, written again as a grid cell or in projected metres (I.B.7, issue 12).

A point the guard read is the same location as its map tile or quadkey (zooms 10 to 20),
its Maidenhead locator (6, 8, 10 characters), its MGRS reference (100 m, 10 m, 1 m), its UTM
coordinates and its Web Mercator metres (cut off or rounded), its S2 cell (token or ID, levels
10 to 30) and its H3 cell (resolutions 6 to 15). Each family is generated at every precision,
in the spellings people write, carried as a value, a key, nested, in a note, as JSON text or
bytes; the same notations of a point never read pass. The encoders are checked against
independent decoders (tiles, quadkeys, Maidenhead), the reference libraries (s2sphere, h3)
and published values (UTM, MGRS).
"""

import json
import math

import h3
import pytest
import s2sphere
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from geo_places import decide, location_guard, v1_tweet
from twpolicy import StandaloneGeoError, check_storable
from twpolicy._payloads import _encodings as encodings
from twpolicy._payloads._encodings import (
    CELL_COUNT,
    cell,
    code_tokens,
    geohash,
    grid_codes,
    grid_tokens,
    maidenhead,
    mgrs,
    plus_code,
    point_cells,
    point_codes,
    quadkey,
    s2_cell,
    s2_parent,
    s2_token,
    tile,
    token_cells,
    utm,
    utm_zone,
    web_mercator,
)
from twpolicy._payloads._geo import read_result
from twpolicy.strategies import tweets


def coordinates(limit):
    """Coordinates of at least 0.1 degrees, four to eight decimals (as the API gives them)."""
    return st.tuples(st.integers(10**7, limit * 10**8), st.booleans()).map(
        lambda t: -t[0] / 10**8 if t[1] else t[0] / 10**8
    )


POINTS = (
    st.tuples(coordinates(79), coordinates(175), st.integers(4, 8))
    .map(lambda p: (round(p[0], p[2]), round(p[1], p[2])))
    .filter(lambda p: not (p[0].is_integer() and p[1].is_integer()))
)

# -- independent decoders ---------------------------------------------------------------------


def tile_bounds(zoom, x, y):
    """(south, north, west, east) of a slippy-map tile (the inverse formula)."""
    side = 2**zoom

    def lat(row):
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / side))))

    return lat(y + 1), lat(y), x / side * 360 - 180, (x + 1) / side * 360 - 180


def quadkey_tile(key):
    x = y = 0
    for digit in key:
        x, y = x * 2 + (int(digit) & 1), y * 2 + (int(digit) >> 1)
    return len(key), x, y


def maidenhead_bounds(locator):
    """(south, north, west, east) of a Maidenhead locator, decoded pair by pair."""
    west, south, width, height = -180.0, -90.0, 360.0, 180.0
    for index in range(0, len(locator), 2):
        pair = locator[index : index + 2].upper()
        radix = 10 if pair.isdigit() else (18 if index == 0 else 24)
        width, height = width / radix, height / radix
        first, second = (int(c) if c.isdigit() else ord(c) - 65 for c in pair)
        west += first * width
        south += second * height
    return south, south + height, west, west + width


def inside(point, bounds, slack=1e-7):
    south, north, west, east = bounds
    return south - slack <= point[0] <= north + slack and west - slack <= point[1] <= east + slack


class TestEncoders:
    def test_published_values(self):
        """UTM and MGRS of known points (as the utm and mgrs packages give them)."""
        zone, band, easting, northing = utm(37.77493, -122.41942)
        assert (zone, band, int(easting), int(northing)) == (10, "S", 551128, 4181002)
        assert mgrs(37.77493, -122.41942, 1) == "10SEG5112881002"
        assert mgrs(37.77493, -122.41942, 100) == "10SEG511810"
        assert mgrs(-33.85678, 151.21529, 1) == "56HLH3489952290"  # Sydney
        assert mgrs(60.0, 5.0) == "32VKM7697958157"  # zone 32 over south-west Norway
        assert mgrs(78.0, 15.0) == "33XWG0000058369"  # Svalbard's zones
        assert mgrs(89.0, 0.0) is None  # UPS, not UTM
        assert utm_zone(60.0, 5.0) == 32  # south-west Norway
        assert utm_zone(78.0, 15.0) == 33  # Svalbard
        assert maidenhead(37.77493, -122.41942, 6) == "CM87SS"
        assert tile(37.77493, -122.41942, 15) == (5241, 12665)
        assert quadkey(3, 5, 3) == "213"  # Bing's own example
        x, y = web_mercator(37.77493, -122.41942)
        assert (round(x), round(y)) == (-13627667, 4547680)

    @given(point=st.tuples(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9)))
    def test_s2_cells_are_the_reference_librarys(self, point):
        leaf = s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(*point))
        assert s2_cell(*point) == leaf.id()
        for level in (10, 17, 30):
            parent = leaf.parent(level)
            assert s2_parent(leaf.id(), level) == parent.id()
            assert s2_token(parent.id()) == parent.to_token()

    @given(point=POINTS, zoom=st.integers(10, 20))
    def test_a_tile_and_its_quadkey_are_the_cell_of_their_point(self, point, zoom):
        x, y = tile(*point, zoom)
        assert inside(point, tile_bounds(zoom, x, y))
        assert quadkey_tile(quadkey(x, y, zoom)) == (zoom, x, y)

    @given(point=POINTS, length=st.sampled_from([2, 4, 6, 8, 10]))
    def test_a_maidenhead_locator_is_the_cell_of_its_point(self, point, length):
        assert inside(point, maidenhead_bounds(maidenhead(*point, length)))

    def test_tokens_of_text(self):
        text = (
            "tile 15/5241/12665, key 0230102033, at CM87ss, 10S EG 51128 81002, "
            "cell 8085809c / 9260949627239302144, h3 8a283082800ffff, "
            "10N 551128mE 4181002mN, x/y -13627667.5, 4547679.6"
        )
        found = set(code_tokens(text))
        assert {
            b"t15/5241/12665",
            b"t10/163/395",  # the quadkey, as its tile
            b"mCM87SS",
            b"r10SEG5112881002",
            b"r10SEG5112781001",  # one metre less: another library's rounding
            b"s8085809c",
            b"s8085809e8e6284",  # the ID, as its token
            b"h8a283082800ffff",
            b"u10:551128:4181002",
            b"w-13627667:4547679",
        } <= found
        assert list(grid_tokens("at 17:33:15 on 2021-08-16")) == []  # times and dates
        assert list(grid_tokens("decade facade")) == []  # not S2 cells (level, shape)
        assert list(grid_tokens("no digits at all here")) == []
        assert b"h8a283082800ffff" in set(grid_tokens(str(int("8a283082800ffff", 16))))

    def test_a_first_look_by_coarse_cell(self):
        """A token is looked up only when its coarse cell is one a point was read in."""
        cells = bytearray(CELL_COUNT)
        for index in point_cells(37.77493, -122.41942):
            cells[index] = 1

        def spelled(lat, lng):
            zone, band, easting, northing = utm(lat, lng)
            x, y = web_mercator(lat, lng)
            leaf = s2_parent(s2_cell(lat, lng), 14)
            return " ".join(
                [
                    "15/{}/{}".format(*tile(lat, lng, 15)),
                    maidenhead(lat, lng, 8),
                    mgrs(lat, lng, 10),
                    f"{zone}{band} {int(easting)} {int(northing)}",
                    f"{int(x)}, {int(y)}",
                    s2_token(leaf),
                    h3.latlng_to_cell(lat, lng, 9),
                    plus_code(lat, lng, 10),
                ]
            )

        here = {token[:1] for token in code_tokens(spelled(37.77493, -122.41942), cells)}
        assert here == {b"t", b"m", b"r", b"u", b"w", b"s", b"h", b"p"}
        there = {token[:1] for token in code_tokens(spelled(48.85341, 2.3488), cells)}
        assert there == {b"p"}  # plus codes have no first look

    def test_without_h3_no_h3_cells_are_kept(self, monkeypatch):
        """An application without h3 makes no H3 cells: none are kept (the rest are)."""
        monkeypatch.setattr(encodings, "_H3", None)
        codes = grid_codes(37.77493, -122.41942)
        assert not any(code.startswith(b"h") for code in codes)
        assert b"t15/5241/12665" in codes

    def test_h3_is_the_librarys(self):
        codes = grid_codes(37.77493, -122.41942)
        for resolution in range(6, 16):
            assert b"h" + h3.latlng_to_cell(37.77493, -122.41942, resolution).encode() in codes


# -- the notations, as people write them --------------------------------------------------------


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


@st.composite
def carried(draw, encoded):
    """A notation as it may reach a store: a value, a key, nested, a note, JSON text, bytes."""
    form = draw(st.sampled_from(["value", "key", "nested", "list", "text", "bytes", "note"]))
    if form == "key":
        return {encoded: draw(st.integers(1, 10**6))}
    if form == "nested":
        return {"a": 1, "b": [0, {"c": encoded}]}
    if form == "list":
        return [encoded, "x"]
    if form in {"text", "bytes"}:
        text = json.dumps({"k": encoded})
        return text if form == "text" else text.encode("utf-16")
    if form == "note":
        return {"note": f"seen near {encoded} today"}
    return {"v": encoded}


def refused(guard, payload):
    decision = decide(guard, payload)
    return not decision.allowed and decision.rule == "geo.standalone"


# Points anywhere, edges included: the poles, the antimeridian, band and zone edges.
EDGES = st.sampled_from([-90.0, -89.99, -84.9, -80.0, -79.99, 0.0, 71.99, 72.0, 83.99, 84.0, 89.9])
ANYWHERE = st.one_of(
    st.tuples(st.floats(-90, 90), st.floats(-180, 180)),
    st.tuples(EDGES, st.sampled_from([-180.0, -179.999, 0.0, 2.99, 3.0, 8.99, 41.99, 179.999])),
)


class TestFirstLook:
    """Every code of a point is first looked at by a cell the point marks (`point_cells`).

    The first look only decides whether a token is looked up, so a token whose cells miss
    the point it encodes would let that point through: these are the property that it never
    does, for every family, precision and spelling kept.
    """

    @given(ANYWHERE)
    def test_a_points_geohash_cell_is_its_geohashs(self, point):
        assert encodings._geohash_cell(*point) == cell(geohash(*point)[:3])

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(ANYWHERE, POINTS))
    def test_every_code_of_a_point_read_is_first_looked_at_where_it_lies(self, point):
        marked = set(point_cells(*point))
        for code in point_codes(*point):
            found = token_cells(code)
            assert found is None or marked & set(found), code
            assert found is not None or code[:1] == b"p"  # only plus codes have no first look

    def test_only_the_cells_of_the_place_are_looked_at(self):
        """A tile, a locator, metres of San Francisco: not first looked at by Paris."""
        paris = set(point_cells(48.85341, 2.3488))
        for code in grid_codes(37.77493, -122.41942):
            assert not paris & set(token_cells(code) or ()), code

    @given(st.tuples(st.floats(-80, 84), st.floats(-180, 180)))
    def test_utm_read_back_is_the_point(self, point):
        zone, _band, easting, northing = utm(*point)
        latitude, longitude = encodings._utm_point(zone, easting, northing, north=point[0] >= 0)
        assert latitude == pytest.approx(point[0], abs=1e-5)
        assert (longitude - point[1] + 180) % 360 - 180 == pytest.approx(0, abs=1e-5)

    @given(st.tuples(st.floats(-90, 90), st.floats(-180, 180)), st.integers(0, 30))
    def test_s2_positions_at_every_level_are_the_leafs_parents(self, point, level):
        leaf = encodings._s2_position(*point, 30)
        assert encodings._s2_position(*point, level) == leaf >> 2 * (30 - level)

    def test_tokens_that_name_no_place_have_no_cells(self):
        """An MGRS square letter its zone never uses, a token not as kept: no point."""
        assert token_cells(b"r33TAA1234567890") == ()  # zone 33 uses S to Z for columns
        assert token_cells(b"t10/a/b") == ()
        assert token_cells(b"pQHFJ+X6") is None


class TestPointsReadThenGridded:
    @settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), point=POINTS, data=st.data())
    def test_every_grid_cell_of_a_point_read_is_refused(self, base, point, data):
        guard = location_guard()
        assert check_storable(v1_tweet(base, point), guard=guard).allowed  # whole; now known
        encoded = data.draw(grid_spellings(point))
        assert refused(guard, data.draw(carried(encoded))), encoded

    @settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), point=POINTS, other=POINTS, data=st.data())
    def test_the_same_notations_of_a_point_never_read_pass(self, base, point, other, data):
        assume(abs(point[0] - other[0]) > 1 or abs(point[1] - other[1]) > 1)
        assume(abs(point[0] - other[1]) > 1 or abs(point[1] - other[0]) > 1)
        guard = location_guard()
        check_storable(v1_tweet(base, point), guard=guard)
        encoded = data.draw(grid_spellings(other))
        assume(not encoded.startswith("POINT("))  # WKT: location by its look, whatever its numbers
        assert not refused(guard, {"v": encoded}), encoded
        assert not refused(guard, {"note": f"seen near {encoded} today"}), encoded

    @pytest.mark.parametrize("family", FAMILIES)
    @settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), point=POINTS, data=st.data())
    def test_each_family_judged_by_owner(self, family, base, point, data):
        """A Tweet's own point in its own text is its own; in a made-up Tweet it is not."""
        guard = location_guard()
        tweet = v1_tweet(base, point, tweet_id="100000000000000001")
        read_result(guard.locations, [tweet])
        encoded = data.draw(grid_spellings(point, family))
        own = {**tweet, "text": f"here: {encoded}"}
        assert decide(guard, own).allowed or decide(guard, own).rule != "geo.standalone"
        decision = decide(guard, {"id_str": "100000000000000002", "text": f"seen: {encoded}"})
        assert (decision.allowed, decision.reason) == (False, "moved_to_another_tweet"), encoded

    def test_the_instances(self):
        guard = location_guard()
        tweet = {
            "id_str": "1000000000000000020",
            "text": "Hello",
            "coordinates": {"type": "Point", "coordinates": [-122.41942, 37.77493]},
        }
        check_storable(tweet, guard=guard)
        for kept in (
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

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

import math

import h3
import pytest
import s2sphere
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo_places import location_guard, v1_tweet
from geo_spellings import FAMILIES, GRID_POINTS, grid_spellings, judged_by_owner
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

    @given(point=GRID_POINTS, zoom=st.integers(10, 20))
    def test_a_tile_and_its_quadkey_are_the_cell_of_their_point(self, point, zoom):
        x, y = tile(*point, zoom)
        assert inside(point, tile_bounds(zoom, x, y))
        assert quadkey_tile(quadkey(x, y, zoom)) == (zoom, x, y)

    @given(point=GRID_POINTS, length=st.sampled_from([2, 4, 6, 8, 10]))
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
        monkeypatch.setattr(encodings, "_h3", lambda: None)
        codes = grid_codes(37.77493, -122.41942)
        assert not any(code.startswith(b"h") for code in codes)
        assert b"t15/5241/12665" in codes

    def test_h3_is_the_librarys(self):
        codes = grid_codes(37.77493, -122.41942)
        for resolution in range(6, 16):
            assert b"h" + h3.latlng_to_cell(37.77493, -122.41942, resolution).encode() in codes


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
    @given(st.one_of(ANYWHERE, GRID_POINTS))
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
    """Each grid judged by owner (read, then written: `test_geo_encodings`, with the instances)."""

    @pytest.mark.parametrize("family", FAMILIES)
    @settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
    @given(base=tweets("v1.1"), point=GRID_POINTS, data=st.data())
    def test_each_family_judged_by_owner(self, family, base, point, data):
        """A Tweet's own point in its own text is its own; in a made-up Tweet it is not."""
        guard = location_guard()
        tweet = v1_tweet(base, point, tweet_id="100000000000000001")
        read_result(guard.locations, [tweet])
        judged_by_owner(guard, tweet, data.draw(grid_spellings(point, family)))

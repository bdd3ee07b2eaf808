"""The other ways an application writes a point or a place it read: encodings and word forms.

Location read in Twitter Content and written again by the application is the same location
however it is spelled (I.B.7). Beside decimals at any rounding (`twpolicy._payloads._locations`),
a point is commonly kept as a geohash (``"9q8yyk8"``), an Open Location Code or plus code
(``"849VQHFJ+X6"``, or ``"QHFJ+X6 San Francisco"`` with a locality), integers scaled by a
power of ten (``latE7``/``lngE7``, micro-degrees), or degrees, minutes and seconds in ASCII
(``37 46 29.7 N``); a place's full name ``"Name, Region"`` is written without its comma
(``"San Francisco CA"``, ``"San Francisco (CA)"``, ``"San Francisco - CA"``) or with its
country instead of its region.

Each point read is encoded as it is read (`point_codes`: every geohash of 5 to 12
characters, every plus code of 6 to 15 digits and its shortened forms), and a text is looked
up only for the tokens that have an encoding's shape (`code_tokens`: a regular expression
over the text, so ordinary text costs a scan and a few lookups). Place names are compared
as their words only (`words_key`).
"""

from __future__ import annotations

import functools
import importlib
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from importlib import resources
from typing import Any, Final

__all__ = [
    "CELL_COUNT",
    "GEOHASH_CELLS",
    "GEOHASH_LENGTHS",
    "H3_RESOLUTIONS",
    "INTEGER_PAIR",
    "MAIDENHEAD_LENGTHS",
    "S2_LEVELS",
    "SCALED_MOST",
    "TILE_ZOOMS",
    "UTM_PRECISIONS",
    "cell",
    "code_tokens",
    "geohash",
    "grid_codes",
    "grid_tokens",
    "in_cells",
    "maidenhead",
    "mgrs",
    "plus_code",
    "point_cells",
    "point_codes",
    "quadkey",
    "s2_cell",
    "s2_parent",
    "s2_token",
    "scaled_numbers",
    "spelled_otherwise",
    "text_scaled",
    "text_words",
    "tile",
    "token_cells",
    "utm",
    "utm_zone",
    "web_mercator",
    "words_key",
]

_BASE32: Final = "0123456789bcdefghjkmnpqrstuvwxyz"
_BASE32_INDEX: Final = {char: index for index, char in enumerate(_BASE32)}
#: The geohash lengths kept of a point: 5 characters (about 4.9 km) locate it within a town.
GEOHASH_LENGTHS: Final = range(5, 13)


def geohash(latitude: float, longitude: float, length: int = 12) -> str:
    """The geohash of a point, ``length`` characters (the usual bisection, ties go up)."""
    south, north, west, east = -90.0, 90.0, -180.0, 180.0
    out: list[str] = []
    value = bits = 0
    even = True
    while len(out) < length:
        if even:
            middle = (west + east) / 2
            if longitude >= middle:
                value, west = value * 2 + 1, middle
            else:
                value, east = value * 2, middle
        else:
            middle = (south + north) / 2
            if latitude >= middle:
                value, south = value * 2 + 1, middle
            else:
                value, north = value * 2, middle
        even = not even
        bits += 1
        if bits == 5:  # noqa: PLR2004  # five bits a character
            out.append(_BASE32[value])
            value = bits = 0
    return "".join(out)


def cell(token: str) -> int:
    """The index of a geohash's first three characters (its cell of about 156 km), 0 to 32767."""
    index = 0
    for char in token[:3]:
        index = index * 32 + _BASE32_INDEX[char]
    return index


_OLC: Final = "23456789CFGHJMPQRVWX"
_PAIR_PRECISION: Final = 8000  # a ten-digit code's cell: 1/8000 of a degree each way
_GRID_ROWS: Final = 5
_GRID_COLUMNS: Final = 4
_GRID_DIGITS: Final = 5
_LAT_PRECISION: Final = _PAIR_PRECISION * _GRID_ROWS**_GRID_DIGITS
_LNG_PRECISION: Final = _PAIR_PRECISION * _GRID_COLUMNS**_GRID_DIGITS
_PAIR_DIGITS: Final = 10
_SEPARATOR_AT: Final = 8


def plus_code(latitude: float, longitude: float, length: int = 10) -> str:
    """The Open Location Code (plus code) of a point, ``length`` digits (2 to 15)."""
    latitude = min(90.0, max(-90.0, latitude))
    longitude = (longitude + 180.0) % 360.0 - 180.0
    lat_value = int(round((latitude + 90.0) * _LAT_PRECISION, 6))
    lng_value = int(round((longitude + 180.0) * _LNG_PRECISION, 6))
    lat_value = min(lat_value, 180 * _LAT_PRECISION - 1)  # the north pole is in the last row
    digits: list[str] = []
    for _ in range(_GRID_DIGITS):  # the grid, least significant first
        digits.append(_OLC[(lat_value % _GRID_ROWS) * _GRID_COLUMNS + lng_value % _GRID_COLUMNS])
        lat_value //= _GRID_ROWS
        lng_value //= _GRID_COLUMNS
    pairs: list[str] = []
    for _ in range(_PAIR_DIGITS // 2):
        pairs.append(_OLC[lng_value % 20])
        pairs.append(_OLC[lat_value % 20])
        lat_value //= 20
        lng_value //= 20
    code = "".join(reversed(pairs)) + "".join(reversed(digits))
    code = code[:length]
    if length < _SEPARATOR_AT:
        return code.ljust(_SEPARATOR_AT, "0") + "+"
    return code[:_SEPARATOR_AT] + "+" + code[_SEPARATOR_AT:]


#: Plus code lengths kept in full: 6 digits (about 5.5 km, padded ``"849VQH00+"``) to 15.
_PLUS_LENGTHS: Final = (6, 8, 10, 11, 12, 13, 14, 15)
# A code of 10 digits or more may drop 2, 4 or 6 of its first digits (recovered from a
# locality or a reference point nearby: "QHFJ+X6 San Francisco").
_SHORTENED: Final = (2, 4, 6)


def _orders(first: float, second: float) -> Iterator[tuple[float, float]]:
    """``(first, second)`` as (latitude, longitude), in each order that can be one."""
    for latitude, longitude in ((first, second), (second, first)):
        if abs(latitude) <= 90 and abs(longitude) <= 180:  # noqa: PLR2004  # degrees
            yield latitude, longitude


def point_codes(first: float, second: float) -> set[bytes]:
    """Every encoding kept of a point read, either order: ``b"g"`` geohash, ``b"p"`` plus code.

    Shorter codes are prefixes of the longest (both encodings are hierarchical), so each
    is worked out once an order.
    """
    codes: set[bytes] = set()
    for latitude, longitude in _orders(first, second):
        full = geohash(latitude, longitude).encode()
        codes.update(b"g" + full[:length] for length in GEOHASH_LENGTHS)
        longest = plus_code(latitude, longitude, _PLUS_LENGTHS[-1]).replace("+", "")
        for length in _PLUS_LENGTHS:
            digits = longest[:length]
            code = (
                digits.ljust(_SEPARATOR_AT, "0") + "+"
                if length < _SEPARATOR_AT
                else digits[:_SEPARATOR_AT] + "+" + digits[_SEPARATOR_AT:]
            ).encode()
            codes.add(b"p" + code)
            if length >= _PAIR_DIGITS:
                codes.update(b"p" + code[cut:] for cut in _SHORTENED)
        codes.update(grid_codes(latitude, longitude))
    return codes


#: The cells a first look marks: geohash cells of three characters (about 156 km each way),
#: then S2 cells of level 10 (about 10 km), hashed into 2**18 slots. A token is looked up only
#: when its cell is one a point was read in. S2 tokens are common in ordinary data (colours,
#: hexadecimal and decimal IDs have their shape), so each point marks its S2 cell as it is
#: read; every other grid's token is rare, and is first looked at by the geohash cells its
#: own cell overlaps (`token_cells`), worked out from the token.
GEOHASH_CELLS: Final = 32**3
_SLOTS: Final = 2**18
CELL_COUNT: Final = GEOHASH_CELLS + _SLOTS
_S2_COARSE_SHIFT: Final = 64 - 3 - 2 * 10  # an ID's face and first ten levels
_S2_COARSE_LEVEL: Final = 10
# Each bit of a geohash cell's longitude column (8 bits) and latitude row (7 bits) spread to
# every other bit: a cell's index is the two interleaved, longitude first.
_SPREAD: Final = tuple(
    sum(((number >> bit) & 1) << (2 * bit) for bit in range(8)) for number in range(256)
)
_COLUMNS: Final = 256
_ROWS: Final = 128


_SIDE: Final = 360.0 / _COLUMNS  # 1.40625 degrees, exact in binary, as each edge is


def _geohash_cell(latitude: float, longitude: float) -> int:
    """`cell` of a point's geohash, worked out from the point (no geohash written).

    As the bisection decides: a point on an edge is in the cell above it. The quotient may
    round across an edge (a longitude of -1e-300 adds to 180.0), so each index is checked
    against its edges, which are exact.
    """
    return _SPREAD[_edge_index(longitude, -180.0, _COLUMNS)] | (
        _SPREAD[_edge_index(latitude, -90.0, _ROWS)] << 1
    )


def _edge_index(value: float, start: float, count: int) -> int:
    index = min(count - 1, max(0, int((value - start) / _SIDE)))
    if index > 0 and value < start + index * _SIDE:
        return index - 1
    if index < count - 1 and value >= start + (index + 1) * _SIDE:
        return index + 1
    return index


@functools.lru_cache(maxsize=1 << 14)
def point_cells(first: float, second: float) -> tuple[int, ...]:
    """The cells (`cell`, then S2 level 10) a point read lies in, either order: a first look.

    Remembered for the most recent points: places' boxes recur from Tweet to Tweet.
    """
    found: list[int] = []
    for latitude, longitude in _orders(first, second):
        found.append(_geohash_cell(latitude, longitude))
        position = _s2_position(latitude, longitude, _S2_COARSE_LEVEL)
        found.append(GEOHASH_CELLS + position % _SLOTS)
    return tuple(found)


def _cells_around(
    south: float, north: float, west: float, east: float, margin: float = 1e-6
) -> tuple[int, ...]:
    """The geohash cells (`cell`) an area overlaps, ``margin`` degrees of latitude around it.

    The margin widens the longitudes by as much as it is at the area's widest latitude; an
    area reaching a pole, or wider than the globe, overlaps every column of its rows.
    """
    south, north = max(-90.0, south - margin), min(90.0, north + margin)
    widest = max(abs(south), abs(north))
    stretch = math.cos(math.radians(widest))
    if stretch < 1e-3 or east - west + 2 * margin / stretch >= 360.0:  # noqa: PLR2004  # the globe
        first_column, last_column = 0, _COLUMNS - 1
    else:
        west, east = west - margin / stretch, east + margin / stretch
        first_column = math.floor((west + 180.0) * _COLUMNS / 360.0)
        last_column = math.floor((east + 180.0) * _COLUMNS / 360.0)
    first_row = min(_ROWS - 1, math.floor((south + 90.0) * _ROWS / 180.0))
    last_row = min(_ROWS - 1, math.floor((north + 90.0) * _ROWS / 180.0))
    return tuple(
        _SPREAD[column % _COLUMNS] | _SPREAD[row] << 1
        for row in range(first_row, last_row + 1)
        for column in range(first_column, last_column + 1)
    )


_NEAR: Final = 0.02  # degrees of latitude (about 2 km) around a point a token was cut from
_H3_NEAR: Final = 0.1  # degrees of latitude (about 11 km): an H3 cell of resolution 6 or finer


def _cells_near(latitude: float, longitude: float, margin: float = _NEAR) -> tuple[int, ...]:
    return _cells_around(latitude, latitude, longitude, longitude, margin)


def token_cells(token: bytes) -> tuple[int, ...] | None:
    """The cells (`point_cells`) a token kept (`code_tokens`) is first looked at by.

    A point a token encodes lies in one of them, so only the points read in them can be the
    one the token names. ``None``: the token has no first look (a plus code). A token that
    names no place (an MGRS square letter its zone does not use, metres off the map) has no
    cells: no point read is written that way.
    """
    try:
        return _token_cells(token[:1], token[1:].decode())
    except (ValueError, OverflowError, IndexError):
        return ()


def _token_cells(kind: bytes, body: str) -> tuple[int, ...] | None:  # noqa: PLR0911  # a grid each
    if kind == b"g":
        return (cell(body[:3]),)
    if kind == b"s":
        return (GEOHASH_CELLS + (int(body.ljust(16, "0"), 16) >> _S2_COARSE_SHIFT) % _SLOTS,)
    if kind == b"t":
        zoom, x, y = map(int, body.split("/"))
        north, south = _tile_latitude(y, zoom), _tile_latitude(y + 1, zoom)
        side = 360.0 / (1 << zoom)
        return _cells_around(south, north, x * side - 180.0, (x + 1) * side - 180.0)
    if kind == b"m":  # its square: 2 degrees of longitude by 1 of latitude
        west = (ord(body[0]) - 65) * 20 + int(body[2]) * 2 - 180.0
        south = (ord(body[1]) - 65) * 10 + int(body[3]) - 90.0
        return _cells_around(south, south + 1.0, west, west + 2.0)
    if kind == b"w":
        metres = [float(part) for part in body.split(":")]
        return _cells_near(
            math.degrees(math.atan(math.sinh(metres[1] / _EARTH_RADIUS))),
            math.degrees(metres[0] / _EARTH_RADIUS),
        )
    if kind == b"u":  # no band or hemisphere is kept: either hemisphere
        zone, easting, northing = map(int, body.split(":"))
        return tuple(
            index
            for north in (True, False)
            for index in _cells_near(*_utm_point(zone, easting, northing, north=north))
        )
    if kind == b"r":
        return _mgrs_cells(body)
    if kind == b"h" and _h3() is not None:
        latitude, longitude = _h3().cell_to_latlng(body)
        return _cells_near(latitude, longitude, margin=_H3_NEAR)
    return None


def _tile_latitude(y: int, zoom: int) -> float:
    """The latitude of a map tile row's top edge."""
    return math.degrees(math.atan(math.sinh(math.pi * (1.0 - 2.0 * y / (1 << zoom)))))


def _mgrs_cells(body: str) -> tuple[int, ...]:
    """The cells of an MGRS reference ``zone band square digits``, as `_mgrs` writes it.

    The square's row letter repeats every 2,000 km of northing: each repetition whose
    latitude lies in the band is one.
    """
    digits = len(body) - len(body.rstrip("0123456789"))
    head, numbers = body[: len(body) - digits], body[len(body) - digits :]
    zone, band = int(head[:-3]), head[-3]
    column, row = head[-2], head[-1]
    half = len(numbers) // 2
    unit = 10 ** (5 - half)
    easting = (_MGRS_COLUMNS[zone % 3].index(column) + 1) * 100_000 + int(numbers[:half]) * unit
    square = (_MGRS_ROWS.index(row) - (5 if zone % 2 == 0 else 0)) % 20
    north = band >= "N"
    south_edge = -80 + 8 * _BANDS.index(band)
    found: list[int] = []
    for cycle in range(5):
        northing = (square + 20 * cycle) * 100_000 + int(numbers[half:]) * unit
        latitude, longitude = _utm_point(zone, easting, northing, north=north)
        if south_edge - 1 <= latitude <= south_edge + 13:  # band X is 12 deep
            found.extend(_cells_near(latitude, longitude))
    return tuple(found)


def _utm_point(zone: int, easting: float, northing: float, *, north: bool) -> tuple[float, float]:
    """The point at UTM ``easting`` and ``northing`` in ``zone`` (Snyder's inverse series)."""
    y = northing if north else northing - 10_000_000.0
    mu = y / _K0 / (_A * (1 - _E2 / 4 - 3 * _E2**2 / 64 - 5 * _E2**3 / 256))
    e1 = (1 - math.sqrt(1 - _E2)) / (1 + math.sqrt(1 - _E2))
    phi = (
        mu
        + (3 * e1 / 2 - 27 * e1**3 / 32) * math.sin(2 * mu)
        + (21 * e1**2 / 16 - 55 * e1**4 / 32) * math.sin(4 * mu)
        + (151 * e1**3 / 96) * math.sin(6 * mu)
        + (1097 * e1**4 / 512) * math.sin(8 * mu)
    )
    sin, cos, tan = math.sin(phi), math.cos(phi), math.tan(phi)
    c, t = _EP2 * cos * cos, tan * tan
    n = _A / math.sqrt(1 - _E2 * sin * sin)
    r = _A * (1 - _E2) / (1 - _E2 * sin * sin) ** 1.5
    d = (easting - 500_000.0) / (n * _K0)
    latitude = phi - (n * tan / r) * (
        d * d / 2
        - (5 + 3 * t + 10 * c - 4 * c * c - 9 * _EP2) * d**4 / 24
        + (61 + 90 * t + 298 * c + 45 * t * t - 252 * _EP2 - 3 * c * c) * d**6 / 720
    )
    longitude = (
        d
        - (1 + 2 * t + c) * d**3 / 6
        + (5 - 2 * c + 28 * t - 3 * c * c + 8 * _EP2 + 24 * t * t) * d**5 / 120
    ) / cos
    return math.degrees(latitude), (zone - 1) * 6 - 180 + 3 + math.degrees(longitude)


# -- grids and projections --------------------------------------------------------------------
#
# A point is also kept as the cell of a grid (map tiles and quadkeys, Maidenhead locators, S2
# and H3 cells) or as projected metres (UTM and MGRS, Web Mercator). Each is worked out from
# the point read, at the precisions people use, and kept as one normalised spelling; a text's
# tokens are normalised the same way before they are looked up.

#: Map tile zooms kept (``z/x/y`` and Bing quadkeys of as many digits): 10 (about 39 km) to 20.
TILE_ZOOMS: Final = range(10, 21)
_MERCATOR_LAT: Final = 85.05112878  # the Web Mercator square's edge


def tile(latitude: float, longitude: float, zoom: int) -> tuple[int, int]:
    """The slippy-map tile ``(x, y)`` of a point at ``zoom`` (the OpenStreetMap formula)."""
    latitude = min(_MERCATOR_LAT, max(-_MERCATOR_LAT, latitude))
    side = 1 << zoom
    x = int((longitude + 180.0) / 360.0 * side)
    radians = math.radians(latitude)
    y = int((1.0 - math.asinh(math.tan(radians)) / math.pi) / 2.0 * side)
    return min(max(x, 0), side - 1), min(max(y, 0), side - 1)


def quadkey(x: int, y: int, zoom: int) -> str:
    """The Bing Maps quadkey of tile ``(x, y)`` at ``zoom``: one digit a zoom level."""
    return "".join(str(((x >> bit) & 1) + 2 * ((y >> bit) & 1)) for bit in range(zoom - 1, -1, -1))


#: Maidenhead locator lengths kept: 6 (subsquare, about 5 by 2.5 minutes) to 10 characters.
MAIDENHEAD_LENGTHS: Final = (6, 8, 10)
_MAIDENHEAD_RADICES: Final = (18, 10, 24, 10, 24)
_MAIDENHEAD_STEPS: Final = 1_036_800  # 18 x 10 x 24 x 10 x 24 cells each way


def maidenhead(latitude: float, longitude: float, length: int = 10) -> str:
    """The Maidenhead locator of a point, ``length`` characters (2 to 10), in upper case."""
    lng = min(int((longitude + 180.0) / 360.0 * _MAIDENHEAD_STEPS), _MAIDENHEAD_STEPS - 1)
    lat = min(int((latitude + 90.0) / 180.0 * _MAIDENHEAD_STEPS), _MAIDENHEAD_STEPS - 1)
    pairs: list[str] = []
    for radix in reversed(_MAIDENHEAD_RADICES):
        lng, lng_digit = divmod(lng, radix)
        lat, lat_digit = divmod(lat, radix)
        if radix == 10:  # noqa: PLR2004  # squares are digits, fields and subsquares letters
            pairs.append(f"{lng_digit}{lat_digit}")
        else:
            pairs.append(chr(65 + lng_digit) + chr(65 + lat_digit))
    return "".join(reversed(pairs))[:length]


#: S2 cell levels kept: 10 (about 10 km) to 30 (about 1 cm).
S2_LEVELS: Final = range(10, 31)
# The Hilbert curve's position of each (i, j) quadrant in each orientation, and the
# orientation a position turns the curve to (the S2 library's tables, public since 2005).
_IJ_TO_POS: Final = ((0, 1, 3, 2), (0, 3, 1, 2), (2, 3, 1, 0), (2, 1, 3, 0))
_POS_TO_ORIENTATION: Final = (1, 0, 0, 3)
_S2_MAX: Final = 1 << 30


def _st(u: float) -> float:
    """The quadratic projection S2 uses (cells of nearly equal area)."""
    if u >= 0:
        return 0.5 * math.sqrt(1.0 + 3.0 * u)
    return 1.0 - 0.5 * math.sqrt(1.0 - 3.0 * u)


def _face_uv(face: int, x: float, y: float, z: float) -> tuple[float, float]:
    """A unit vector's (u, v) on its cube face (the face's largest coordinate is not 0)."""
    if face == 0:
        return y / x, z / x
    if face == 1:
        return -x / y, z / y
    if face == 2:  # noqa: PLR2004  # the faces, as S2 numbers them
        return -x / z, -y / z
    if face == 3:  # noqa: PLR2004
        return z / x, y / x
    if face == 4:  # noqa: PLR2004
        return z / y, -x / y
    return -y / z, -x / z


def _s2_position(latitude: float, longitude: float, levels: int) -> int:
    """A point's face and Hilbert position ``levels`` levels deep (2 bits a level)."""
    lat, lng = math.radians(latitude), math.radians(longitude)
    x, y, z = math.cos(lat) * math.cos(lng), math.cos(lat) * math.sin(lng), math.sin(lat)
    ax, ay, az = abs(x), abs(y), abs(z)
    if ax >= ay and ax >= az:
        face = 0 if x >= 0 else 3
    elif ay >= az:
        face = 1 if y >= 0 else 4
    else:
        face = 2 if z >= 0 else 5  # the faces, as S2 numbers them
    u, v = _face_uv(face, x, y, z)
    i = min(max(int(_S2_MAX * _st(u)), 0), _S2_MAX - 1)
    j = min(max(int(_S2_MAX * _st(v)), 0), _S2_MAX - 1)
    position, orientation = face, face & 1
    steps, turns = _hilbert_steps()
    bit = 30
    while levels >= _STEP_LEVELS:  # five levels at a time
        bit -= _STEP_LEVELS
        entry = orientation << 10 | ((i >> bit) & 31) << 5 | ((j >> bit) & 31)
        position = position << 10 | steps[entry]
        orientation = turns[entry]
        levels -= _STEP_LEVELS
    for low in range(bit - 1, bit - 1 - levels, -1):
        step = _IJ_TO_POS[orientation][((i >> low) & 1) << 1 | ((j >> low) & 1)]
        position = position << 2 | step
        orientation ^= _POS_TO_ORIENTATION[step]
    return position


_STEP_LEVELS: Final = 5


@functools.cache
def _hilbert_steps() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Five levels of the Hilbert curve at once, worked out once level by level.

    For each orientation and five bits of i and j: ten bits of position, the orientation after.
    """
    steps: list[int] = []
    turns: list[int] = []
    for entry in range(4 << 10):
        orientation, i, j = entry >> 10, (entry >> 5) & 31, entry & 31
        position = 0
        for bit in range(_STEP_LEVELS - 1, -1, -1):
            step = _IJ_TO_POS[orientation][((i >> bit) & 1) << 1 | ((j >> bit) & 1)]
            position = position << 2 | step
            orientation ^= _POS_TO_ORIENTATION[step]
        steps.append(position)
        turns.append(orientation)
    return tuple(steps), tuple(turns)


def s2_cell(latitude: float, longitude: float) -> int:
    """The 64-bit S2 cell ID of a point at level 30 (face, quadratic projection, Hilbert curve)."""
    return _s2_position(latitude, longitude, 30) << 1 | 1


def s2_parent(cell_id: int, level: int) -> int:
    """The ID of the level ``level`` cell holding the level-30 cell ``cell_id``."""
    lowest = 1 << (2 * (30 - level))
    return (cell_id & -lowest) | lowest


def s2_token(cell_id: int) -> str:
    """An S2 cell's token: its ID in hexadecimal without trailing zeros."""
    return f"{cell_id:016x}".rstrip("0") or "X"


#: H3 resolutions kept: 6 (about 36 km2) to 15 (about 1 m2), when `h3` is importable.
H3_RESOLUTIONS: Final = range(6, 16)


@functools.cache
def _h3() -> Any:
    """`h3` when importable (an application making H3 cells has it), on first need.

    Importing it takes tens of milliseconds (it reads its own package metadata): a command
    that meets no H3-shaped token and encodes no point starts without it.
    """
    try:
        return importlib.import_module("h3")
    except ImportError:  # pragma: no cover - h3 is in the tests extra
        return None


# UTM on the WGS 84 ellipsoid (Snyder's series: a millimetre near the central meridian).
_A: Final = 6_378_137.0
_F: Final = 1 / 298.257223563
_E2: Final = _F * (2 - _F)
_EP2: Final = _E2 / (1 - _E2)
_K0: Final = 0.9996
_BANDS: Final = "CDEFGHJKLMNPQRSTUVWX"
_MGRS_COLUMNS: Final = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")  # by zone % 3
_SVALBARD: Final = ((9, 31), (21, 33), (33, 35), (42, 37))  # (east edge, zone)
_MGRS_ROWS: Final = "ABCDEFGHJKLMNPQRSTUV"
#: UTM and MGRS precisions kept, in metres (MGRS of 6, 8 and 10 digits).
UTM_PRECISIONS: Final = (100, 10, 1)


def utm_zone(latitude: float, longitude: float) -> int:
    """The UTM zone of a point, with the Norway and Svalbard exceptions MGRS uses."""
    zone = min(int((longitude + 180.0) / 6.0) + 1, 60)
    if 56 <= latitude < 64 and 3 <= longitude < 12:  # noqa: PLR2004  # south-west Norway
        return 32
    if 72 <= latitude <= 84 and 0 <= longitude < 42:  # noqa: PLR2004  # Svalbard
        return next(z for edge, z in _SVALBARD if longitude < edge)
    return zone


def utm(latitude: float, longitude: float) -> tuple[int, str, float, float] | None:
    """A point's UTM zone, latitude band, easting and northing in metres (84 S to 84 N)."""
    if not -80 <= latitude <= 84:  # noqa: PLR2004  # UTM's extent (UPS beyond)
        return None
    zone = utm_zone(latitude, longitude)
    phi = math.radians(latitude)
    sin, cos, tan = math.sin(phi), math.cos(phi), math.tan(phi)
    n = _A / math.sqrt(1 - _E2 * sin * sin)
    t, c = tan * tan, _EP2 * cos * cos
    a = cos * math.radians(longitude - ((zone - 1) * 6 - 180 + 3))
    e4, e6 = _E2 * _E2, _E2 * _E2 * _E2
    m = _A * (
        (1 - _E2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * phi
        - (3 * _E2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * math.sin(2 * phi)
        + (15 * e4 / 256 + 45 * e6 / 1024) * math.sin(4 * phi)
        - (35 * e6 / 3072) * math.sin(6 * phi)
    )
    easting = (
        _K0
        * n
        * (a + (1 - t + c) * a**3 / 6 + (5 - 18 * t + t * t + 72 * c - 58 * _EP2) * a**5 / 120)
        + 500_000.0
    )
    northing = _K0 * (
        m
        + n
        * tan
        * (
            a * a / 2
            + (5 - t + 9 * c + 4 * c * c) * a**4 / 24
            + (61 - 58 * t + t * t + 600 * c - 330 * _EP2) * a**6 / 720
        )
    )
    if latitude < 0:
        northing += 10_000_000.0
    band = _BANDS[min(int((latitude + 80) // 8), len(_BANDS) - 1)]
    return zone, band, easting, northing


def mgrs(latitude: float, longitude: float, precision: int = 1) -> str | None:
    """A point's MGRS reference at ``precision`` metres (1, 10 or 100), digits cut off."""
    found = utm(latitude, longitude)
    if found is None:
        return None
    zone, band, easting, northing = found
    return _mgrs(zone, band, int(easting), int(northing), precision)


def _mgrs(zone: int, band: str, easting: int, northing: int, precision: int) -> str:
    column = _MGRS_COLUMNS[zone % 3][easting // 100_000 - 1]
    row = _MGRS_ROWS[(northing // 100_000 + (5 if zone % 2 == 0 else 0)) % 20]
    digits = 5 - len(str(precision)) + 1
    east = (easting % 100_000) // precision
    north = (northing % 100_000) // precision
    return f"{zone}{band}{column}{row}{east:0{digits}d}{north:0{digits}d}"


_EARTH_RADIUS: Final = 6_378_137.0  # Web Mercator's sphere


def web_mercator(latitude: float, longitude: float) -> tuple[float, float]:
    """A point's EPSG:3857 (Web Mercator) x and y, in metres."""
    latitude = min(_MERCATOR_LAT, max(-_MERCATOR_LAT, latitude))
    x = math.radians(longitude) * _EARTH_RADIUS
    y = math.asinh(math.tan(math.radians(latitude))) * _EARTH_RADIUS
    return x, y


def grid_codes(latitude: float, longitude: float) -> set[bytes]:
    """Every grid cell and projection kept of one point (latitude, longitude), normalised.

    ``b"t"`` tile ``z/x/y`` (a quadkey is looked up as its tile), ``b"m"`` Maidenhead, ``b"s"``
    S2 token (an S2 ID is looked up as its token), ``b"h"`` H3 index, ``b"r"`` MGRS, ``b"u"``
    UTM ``zone:easting:northing``, ``b"w"`` Web Mercator ``x:y``: metres cut off, each
    token tried at the values that cut off, rounded or with decimals may be.
    """
    codes: set[bytes] = set()
    if abs(latitude) <= _MERCATOR_LAT:
        deepest = TILE_ZOOMS[-1]
        x, y = tile(latitude, longitude, deepest)
        for zoom in TILE_ZOOMS:  # a quadkey is looked up as its tile
            shift = deepest - zoom
            codes.add(f"t{zoom}/{x >> shift}/{y >> shift}".encode())
        mx, my = web_mercator(latitude, longitude)
        codes.add(f"w{int(mx)}:{int(my)}".encode())  # cut off (a token is tried rounded too)
    locator = maidenhead(latitude, longitude)
    codes.update(b"m" + locator[:length].encode() for length in MAIDENHEAD_LENGTHS)
    leaf = s2_cell(latitude, longitude)
    codes.update(b"s" + s2_token(s2_parent(leaf, level)).encode() for level in S2_LEVELS)
    h3 = _h3()
    if h3 is not None:
        cell_of = h3.latlng_to_cell
        codes.update(
            b"h" + cell_of(latitude, longitude, resolution).encode()
            for resolution in H3_RESOLUTIONS
        )
    found = utm(latitude, longitude)
    if found is not None:
        zone, band, easting, northing = found
        for precision in UTM_PRECISIONS:  # cut off (a token is tried one unit less too)
            east, north = int(easting) // precision, int(northing) // precision
            codes.add(f"u{zone}:{east * precision}:{north * precision}".encode())
            codes.add(
                b"r" + _mgrs(zone, band, east * precision, north * precision, precision).encode()
            )
    return codes


# Tokens shaped like a grid cell or projected metres, as `grid_codes` keeps them.
_TILE_TOKEN: Final = re.compile(r"(?<![\d.])(\d{2})([/_-])(\d{1,7})\2(\d{1,7})(?!\d|\.\d)")
# A quadkey alone, or in a Bing tile's file name ("a0230102033.jpeg": aerial, road, hybrid).
_QUADKEY_TOKEN: Final = re.compile(r"(?<![0-9A-Za-z])[arh]?([0-3]{10,20})(?![0-9A-Za-z])")
_MAIDENHEAD_TOKEN: Final = re.compile(
    r"(?<![0-9A-Za-z])[A-R]{2}[0-9]{2}[A-X]{2}(?:[0-9]{2}(?:[A-X]{2})?)?(?![0-9A-Za-z])",
    re.IGNORECASE,
)
_S2_TOKEN: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9a-b][0-9a-f]{5,15}|[0-9A-B][0-9A-F]{5,15})(?![0-9A-Za-z])"
)
_H3_TOKEN: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:0x)?(8[0-9a-f]{14})(?![0-9A-Za-z])", re.IGNORECASE
)
_DECIMAL_CELL: Final = re.compile(r"(?<![0-9A-Za-z.])\d{13,20}(?![0-9A-Za-z]|\.\d)")
_MGRS_TOKEN: Final = re.compile(
    r"(?<![0-9A-Za-z])(\d{1,2})\s?([C-HJ-NP-X])\s?([A-HJ-NP-Z][A-HJ-NP-V])\s?"
    r"(\d{5}\s\d{5}|\d{4}\s\d{4}|\d{3}\s\d{3}|\d{10}|\d{8}|\d{6})(?![0-9A-Za-z])",
    re.IGNORECASE,
)
# UTM with a band or hemisphere letter, or after "zone" (three numbers alone are too common).
_UTM_TOKEN: Final = re.compile(
    r"(?<![\w.])(?:zone\s*(\d{1,2})\s*[C-HJ-NP-X]?|(\d{1,2})\s*[C-HJ-NP-X])"
    r"\s*[,;]?\s*([1-9]\d{5}(?:\.\d+)?)\s*(?:m\s*E|E)?"
    r"\s*[,;]?\s*([1-9]\d{4,6}(?:\.\d+)?)\s*(?:m\s*N|N)?(?![\w.])",
    re.IGNORECASE,
)
_METRES_TOKEN: Final = re.compile(
    r"(?<![\w.])(-?[1-9]\d{4,7}(?:\.\d+)?)\s*[,; ]\s*(-?[1-9]\d{4,7}(?:\.\d+)?)(?![\w.])"
)
_DIGIT: Final = re.compile(r"\d")
_H3_MODE_SHIFT: Final = 59


def _s2_valid(cell_id: int) -> bool:
    """Whether an integer is an S2 cell ID of level 10 to 30."""
    if not 0 < cell_id < 1 << 64 or cell_id >> 61 > 5:  # noqa: PLR2004  # six faces
        return False
    lowest = (cell_id & -cell_id).bit_length() - 1
    return lowest % 2 == 0 and lowest <= 2 * (30 - S2_LEVELS[0])


def _h3_valid(index: str) -> bool:
    """Whether a text is an H3 cell of resolution 6 to 15 (never, without `h3`)."""
    h3 = _h3()
    if h3 is None:
        return False
    return bool(h3.is_valid_cell(index)) and int(h3.get_resolution(index)) in H3_RESOLUTIONS


def grid_tokens(text: str) -> Iterator[bytes]:
    """The tokens of ``text`` that may be a cell or projection kept by `grid_codes`, as kept."""
    for match in _S2_TOKEN.finditer(text):
        token = match.group().lower()
        if _s2_valid(int(token.ljust(16, "0"), 16)):
            yield b"s" + token.encode()
    if _DIGIT.search(text) is None:
        return  # every other notation has digits
    yield from _tile_tokens(text)
    yield from _cell_tokens(text)
    yield from _metre_tokens(text)


def _tile_tokens(text: str) -> Iterator[bytes]:
    for match in _TILE_TOKEN.finditer(text):
        zoom, x, y = int(match.group(1)), int(match.group(3)), int(match.group(4))
        if zoom in TILE_ZOOMS and x < 1 << zoom and y < 1 << zoom:
            yield f"t{zoom}/{x}/{y}".encode()
    for match in _QUADKEY_TOKEN.finditer(text):
        digits = match.group(1)
        x = y = 0
        for digit in map(int, digits):
            x, y = x << 1 | digit & 1, y << 1 | digit >> 1
        if len(digits) in TILE_ZOOMS:
            yield f"t{len(digits)}/{x}/{y}".encode()  # looked up as its tile
    for match in _MAIDENHEAD_TOKEN.finditer(text):
        yield b"m" + match.group().upper().encode()


def _cell_tokens(text: str) -> Iterator[bytes]:
    for match in _H3_TOKEN.finditer(text):
        index = match.group(1).lower()
        if _h3_valid(index):
            yield b"h" + index.encode()
    for match in _DECIMAL_CELL.finditer(text):  # S2 and H3 cells as 64-bit integers
        value = int(match.group())
        if _s2_valid(value):
            yield b"s" + s2_token(value).encode()
        if value >> _H3_MODE_SHIFT == 1 and _h3_valid(f"{value:015x}"):
            yield f"h{value:015x}".encode()


def _cut_candidates(written: str, precisions: tuple[int, ...] = (1,)) -> set[int]:
    """What a measure kept cut off to whole metres may be, written as ``written``.

    Written with decimals or rounded, it may be one unit above (toward zero: it is kept cut
    off, `int`); a whole number may be rounded at each precision it is a multiple of.
    """
    value = float(written)
    whole = int(value)
    toward = -1 if value >= 0 else 1
    found = {whole, whole + toward}
    if "." not in written:
        found.update(whole + toward * unit for unit in precisions if whole % unit == 0)
    return found


def _metre_tokens(text: str) -> Iterator[bytes]:
    for match in _MGRS_TOKEN.finditer(text):
        zone, band, square, digits = match.groups()
        digits = digits.replace(" ", "")
        half = len(digits) // 2
        head = f"r{int(zone)}{band.upper()}{square.upper()}"
        east, north = int(digits[:half]), int(digits[half:])
        for e in {east, max(east - 1, 0)}:  # one unit above: another library's rounding
            for n in {north, max(north - 1, 0)}:
                yield f"{head}{e:0{half}d}{n:0{half}d}".encode()
    for match in _UTM_TOKEN.finditer(text):
        zone = int(match.group(1) or match.group(2))
        for east in _cut_candidates(match.group(3), UTM_PRECISIONS):
            for north in _cut_candidates(match.group(4), UTM_PRECISIONS):
                yield f"u{zone}:{east}:{north}".encode()
    for match in _METRES_TOKEN.finditer(text):
        for x in _cut_candidates(match.group(1)):
            for y in _cut_candidates(match.group(2)):
                yield f"w{x}:{y}".encode()


def in_cells(token: bytes, cells: bytes | bytearray) -> bool:
    """Whether a token kept (`code_tokens`) lies in a cell a point was read in (`point_cells`).

    Plus codes are looked up without one.
    """
    found = token_cells(token)
    return found is None or any(cells[index] for index in found)


# Tokens shaped like an encoding: a geohash (5 to 12 base-32 characters, all in one case,
# alone between non-alphanumerics), a plus code (digits of its alphabet around a "+").
_GEOHASH_TOKEN: Final = re.compile(
    r"(?<![0-9A-Za-z])(?:[0-9b-hjkmnp-z]{5,12}|[0-9B-HJKMNP-Z]{5,12})(?![0-9A-Za-z])"
)
_PLUS_TOKEN: Final = re.compile(
    r"(?<![0-9A-Za-z+])[23456789CFGHJMPQRVWX]{2,8}0*\+[23456789CFGHJMPQRVWX]{0,7}(?![0-9A-Za-z+])",
    re.IGNORECASE,
)
_LONGEST_TEXT: Final = 100_000


def code_tokens(text: str, cells: bytes | bytearray | None = None) -> Iterator[bytes]:
    """The tokens of ``text`` that may be an encoding kept by `point_codes`, as kept.

    ``cells``: the geohash cells (`cell`) of the points read; a geohash-shaped token in no
    such cell is no encoding of a point read, and is not looked up.
    """
    if cells is None and len(text) <= _CACHED_LONGEST:
        return iter(_tokens_of(text))
    return _code_tokens(text, cells)


# Short texts' tokens are cached: keys and values repeat from record to record.
_CACHED_LONGEST: Final = 256


@functools.lru_cache(maxsize=8_192)
def _tokens_of(text: str) -> tuple[bytes, ...]:
    return tuple(_code_tokens(text, None))


def _code_tokens(text: str, cells: bytes | bytearray | None) -> Iterator[bytes]:
    text = text[:_LONGEST_TEXT]
    for match in _GEOHASH_TOKEN.finditer(text):
        token = match.group().lower()
        if cells is None or cells[cell(token)]:
            yield b"g" + token.encode()
    if "+" in text:
        for match in _PLUS_TOKEN.finditer(text):
            yield b"p" + match.group().upper().encode()
    for code in grid_tokens(text):
        if cells is None or in_cells(code, cells):
            yield code


#: The most integers in one container read as a point scaled to integers (a pair, a
#: latitude and longitude beside an ID or two): lists of IDs and counts are not points.
SCALED_MOST: Final = 4
_SMALLEST_SCALED: Final = 10_000  # 0.1 degrees in E5 (years, sizes and small counts are less)
_LARGEST_SCALED: Final = 1_800_000_000  # 180 degrees in E7


def _scaled_candidates(value: int) -> Iterator[float]:
    """What an integer is as a coordinate scaled by 10**5, 10**6 or 10**7 (in range).

    ``int(80.72437 * 10**5)`` is 8072436 (the product falls just short): a coordinate cut
    off to an integer may be one short of its digits, so the next one out counts too.
    """
    away = value + (1 if value >= 0 else -1)
    if abs(value) <= 18_000_000:  # noqa: PLR2004  # 180 degrees in E5
        yield value / 100_000
        yield away / 100_000
    if abs(value) <= 180_000_000:  # noqa: PLR2004  # 180 degrees in E6
        yield value / 1_000_000
        yield away / 1_000_000
    # E7: the millionths it rounds to either way (a point's copies hold one of them).
    # Once each: a whole number of tenths (1000000) is one coordinate, not the two of a point.
    down = value // 10
    yield down / 1_000_000
    if value % 10:
        yield (down + 1) / 1_000_000


def scaled_numbers(values: Iterable[Any], most: int | None = SCALED_MOST) -> list[float]:
    """The coordinates a few integers among ``values`` may be, scaled (E5, E6 or E7).

    Integers of 0.1 to 180 degrees in some scale; none when fewer than two or more than
    ``most`` qualify (one integer is no point, a list of IDs or counts neither).
    """
    found = [
        value
        for value in values
        if type(value) is int and _SMALLEST_SCALED <= abs(value) <= _LARGEST_SCALED
    ]
    if len(found) < 2 or (most is not None and len(found) > most):  # noqa: PLR2004  # a pair
        return []  # one integer is no point; many are IDs or counts
    return [number for value in found for number in _scaled_candidates(value)]


# Two integers in text: a point scaled to integers ("377749300,-1224194200").
INTEGER_PAIR: Final = re.compile(r"(?<![\w.])([-+]?\d{5,10})\s*[,;\t /]\s*([-+]?\d{5,10})(?![\w.])")


def text_scaled(text: str) -> list[float]:
    """The coordinates two integers written together in ``text`` may be, scaled."""
    found: list[float] = []
    for match in INTEGER_PAIR.finditer(text):
        found.extend(scaled_numbers((int(match.group(1)), int(match.group(2)))))
    return found


_WORDS: Final = re.compile(r"[^\W_]+")
_SHORTEST_WORDS: Final = 3


def words_key(text: Any) -> str | None:
    """How a place's name compares as words only: NFKC, no case, every separator a space.

    ``"San Francisco, CA"``, ``"San Francisco CA"``, ``"san francisco (ca)"`` and
    ``"San Francisco/CA"`` are one key; ``None`` for a single word (ordinary speech).
    """
    if type(text) is not str or len(text) > 200:  # noqa: PLR2004  # no place name is longer
        return None
    words = _WORDS.findall(unicodedata.normalize("NFKC", text).casefold())
    if len(words) < 2 or sum(map(len, words)) < _SHORTEST_WORDS:  # noqa: PLR2004  # a single name
        return None
    return "~" + " ".join(words)


def text_words(text: str) -> list[str]:
    """The words of a text, as `words_key` compares them."""
    return _WORDS.findall(unicodedata.normalize("NFKC", text).casefold())


# -- regions and countries spelled otherwise ----------------------------------------------------
#
# A place's full name is read as the API sends it ("San Francisco, CA", country "United
# States", code "US"); an application may write its region or country otherwise ("San
# Francisco, California", "San Francisco CA USA"). ``regions.txt`` lists the other spellings
# of US states, Canadian provinces and Australian states (by country) and of countries.


@functools.cache
def _region_table() -> tuple[dict[tuple[str, str], tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """(subdivisions by (country code, spelling), countries by spelling), spellings as words."""
    text = resources.files("twpolicy._payloads").joinpath("regions.txt").read_text("utf-8")
    subdivisions: dict[tuple[str, str], tuple[str, ...]] = {}
    countries: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        country, _, spellings = line.rpartition(":")
        names = tuple(spellings.split("|"))
        for spelling in names:
            key = " ".join(text_words(spelling))
            if country:
                subdivisions[country, key] = names
            else:
                countries[key] = names
    return subdivisions, countries


def _spellings(text: str, country_code: str) -> tuple[str, ...]:
    subdivisions, countries = _region_table()
    key = " ".join(text_words(text))
    return subdivisions.get((country_code, key)) or countries.get(key) or (text,)


@functools.lru_cache(maxsize=4096)
def spelled_otherwise(
    name: str, full_name: str, country: str, country_code: str
) -> tuple[str, ...]:
    """A place's full name with its region and country spelled otherwise (`words_key` forms).

    ``"San Francisco, CA"`` in the United States is also ``"San Francisco, California"``,
    ``"San Francisco, CA, United States"``, ``"San Francisco CA USA"``; ``"Paris, France"``
    is also ``"Paris FR"``. Names of one word are left out (ordinary speech).
    """
    code = country_code.strip().upper()
    nations: set[str] = set()
    for given in (country_code, country):
        if given.strip():
            nations.update(_spellings(given, ""))
    forms: list[str | None] = []
    head, comma, region = full_name.partition(",")
    if comma and region.strip():
        regions = _spellings(region.strip(), code)
        for spelling in regions:
            forms.append(words_key(f"{head} {spelling}"))
            forms.extend(
                words_key(f"{head} {spelling} {nation}")
                for nation in nations
                if nation not in regions  # "Paris, France": its region is its country
            )
    if name.strip():
        forms.extend(words_key(f"{name} {nation}") for nation in nations)
    return tuple(dict.fromkeys(form for form in forms if form is not None))

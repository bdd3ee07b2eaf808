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

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any, Final

__all__ = [
    "GEOHASH_LENGTHS",
    "INTEGER_PAIR",
    "SCALED_MOST",
    "cell",
    "code_tokens",
    "geohash",
    "plus_code",
    "point_cells",
    "point_codes",
    "scaled_numbers",
    "text_scaled",
    "text_words",
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
    return codes


def point_cells(first: float, second: float) -> list[int]:
    """The geohash cells (`cell`) a point read lies in, in either order: cheap, for a first look.

    A three-character geohash is 8 bits of longitude and 7 of latitude, interleaved.
    """
    found = []
    for latitude, longitude in _orders(first, second):
        lng = min(255, int((longitude + 180.0) * 256 / 360.0))
        lat = min(127, int((latitude + 90.0) * 128 / 180.0))
        index = 0
        for bit in range(15):
            if bit % 2 == 0:
                index = index * 2 + ((lng >> (7 - bit // 2)) & 1)
            else:
                index = index * 2 + ((lat >> (6 - bit // 2)) & 1)
        found.append(index)
    return found


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
    text = text[:_LONGEST_TEXT]
    for match in _GEOHASH_TOKEN.finditer(text):
        token = match.group().lower()
        if cells is None or cells[cell(token)]:
            yield b"g" + token.encode()
    if "+" in text:
        for match in _PLUS_TOKEN.finditer(text):
            yield b"p" + match.group().upper().encode()


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
    down = value // 10
    yield down / 1_000_000
    yield (down + (value % 10 != 0)) / 1_000_000


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

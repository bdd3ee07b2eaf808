"""Coordinates the guard has seen, at every rounding, and a gazetteer of well-known places.

Two numbers are a point only if something says so. Under a key such as ``coordinates`` the
table of shapes does; under two neutral keys (``{"a": 52.52, "b": 13.405}``) nothing in the
payload does, but where the numbers came from can: if the guard read that point in Twitter
Content, keeping it apart from its Tweet is keeping location data from Twitter Content
(I.B.7). `Points` remembers each point seen, at 1 to 6 decimals (cut off, and rounded up
and down where the digits cut off start with 5) and to the millionth of a degree, in both
orders, so that a copy kept rounded, swapped or as text is still recognised. It holds at
most ``limit`` points, forgetting the least recently seen.

The gazetteer is a floor for names the guard never saw: countries, their capitals, US states
and cities of a million people or more (``gazetteer.txt``, derived from GeoNames, CC BY 4.0).
It is read only for mapping keys that hold aggregates (counts, lists of IDs), where a place
name is what is being counted.
"""

from __future__ import annotations

import array
import functools
import hashlib
import itertools
import math
import mmap
import re
import threading
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any, Final

from twpolicy._payloads._encodings import (
    CELL_COUNT,
    point_cells,
    point_codes,
    scaled_numbers,
    token_cells,
)

__all__ = [
    "CODES_PER_POINT",
    "COPIES_PER_POINT",
    "NUMBERS_PER_POINT",
    "Bloom",
    "GrowingBloom",
    "LastingPoints",
    "Points",
    "aggregate",
    "canonical_key",
    "coordinate",
    "fold",
    "gazetteer_names",
    "in_gazetteer",
    "int_bytes",
    "numbers_of",
    "pairs_in",
    "point_copies",
]

#: Decimals a kept copy of a point may be rounded to (1: about 11 km; 6: about 11 cm).
ROUNDINGS: Final = range(1, 7)
_QUANTA: Final = tuple(Decimal(1).scaleb(-places) for places in ROUNDINGS)
# A coordinate written as text: one to three digits, a point, decimals ("52.52", "1e-06").
_NUMBER_TEXT: Final = re.compile(
    r"\s*[-+]?(?:\d{1,3}\.\d{1,17}(?:e[-+]?\d{1,3})?|\d(?:\.\d{1,17})?e-\d{1,3})\s*", re.IGNORECASE
)
_LONGEST_NUMBER_TEXT: Final = 32


def coordinate(value: Any) -> float | None:
    """``value`` as a number that may be a coordinate: a finite float, or a decimal in text."""
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) and abs(value) <= 180 else None  # noqa: PLR2004  # degrees
    if kind is str and len(value) <= _LONGEST_NUMBER_TEXT and _NUMBER_TEXT.fullmatch(value):
        number = float(value)
        return number if abs(number) <= 180 else None  # noqa: PLR2004  # degrees
    if isinstance(value, Decimal) and value.is_finite():
        return coordinate(float(value))
    return None


# Coordinates are compared in millionths of a degree (about 11 cm): a copy kept with more
# decimals than that is the same point.
_SCALE: Final = 1_000_000
_OFFSET: Final = 200_000_000  # makes every scaled coordinate positive, below 2**28
_WHOLE_LEVEL: Final = 6


def _scaled(value: float) -> int:
    return round(value * _SCALE)


def _levels(value: float) -> list[set[int]]:
    """For each of 1 to 6 decimals, ``value`` as copies kept at that precision are written.

    Cut off (``int``, ``trunc``) and rounded half-up on the decimal digits (SQL's
    ``round``), in millionths of a degree. Rounding half-even on the binary value (Python's
    ``round``, JavaScript's ``toFixed``) gives one of the two: they differ only where the
    digits cut off start with 5, and there each rounding goes up or down.
    """
    text = repr(abs(value))
    sign = -1 if value < 0 else 1
    whole, dot, fraction = text.partition(".")
    plain = bool(dot) and whole.isdigit() and fraction.isdigit()
    levels = []
    for places in ROUNDINGS:
        found: set[int] = set()
        if plain:
            step = 10 ** (_WHOLE_LEVEL - places)
            down = int(whole + fraction[:places].ljust(places, "0")) * step
            found.add(sign * down)
            rest = fraction[places:]
            if rest and rest[0] >= "5":
                found.add(sign * (down + step))
        else:  # an exponent ("1e-05"): the decimal module reads it exactly
            exact, quantum = Decimal(text), _QUANTA[places - 1]
            for mode in (ROUND_HALF_UP, ROUND_DOWN):
                found.add(sign * _scaled(float(exact.quantize(quantum, rounding=mode))))
        levels.append(found)
    levels[-1].add(_scaled(value))
    return levels


def _pair_key(first: int, second: int) -> int:
    return ((first + _OFFSET) << 30) | (second + _OFFSET)


def _copies(first: float, second: float) -> tuple[set[int], set[int]]:
    """The pair keys of every copy of ``(first, second)`` (both orders), and its numbers."""
    keys, numbers = set(), set()
    for ones, others in zip(_levels(first), _levels(second), strict=True):
        numbers.update(ones)
        numbers.update(others)
        for a in ones:
            for b in others:
                keys.add(_pair_key(a, b))
                keys.add(_pair_key(b, a))
    return keys, numbers


class Points:
    """A bounded memory of points seen: each copy of each, at every rounding, in both orders.

    Reading is cheap: a point read is only noted. Its copies are worked out (about 50 us a
    point) when a check next needs them, off the read path. About 3 KB a point; the least
    recently seen is forgotten first.

    Args:
        limit: the most points kept.
    """

    __slots__ = (
        "_cells",
        "_coded",
        "_codes",
        "_keys",
        "_limit",
        "_lock",
        "_pending",
        "_points",
        "_stale",
        "_values",
    )

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        # Each encoding of the points indexed (`point_codes`): how many points have it,
        # worked out only when a text holds a token shaped like one (`encodes`); the points
        # whose encodings are in; and the geohash cells of the points indexed (`cell`), a
        # first look at geohash-shaped words.
        self._codes: dict[bytes, int] = {}
        self._coded: set[tuple[float, float]] = set()
        self._cells = bytearray()  # sized when a point is first indexed
        # Each point, in order of last sight: whether its copies are in the index yet.
        self._points: dict[tuple[float, float], bool] = {}
        self._pending: dict[tuple[float, float], None] = {}  # read, not yet in the index
        self._stale: list[tuple[float, float]] = []  # forgotten, still in the index
        self._keys: dict[int, int] = {}  # each copy's pair key: how many points have it
        self._values: dict[int, int] = {}  # each copy's coordinates: how many points have it
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._points)

    def add(self, first: float, second: float) -> bool:
        """Remember the point ``(first, second)`` (in either order); whether it was new."""
        point = (first, second) if first <= second else (second, first)
        points = self._points
        with self._lock:
            indexed = points.pop(point, None)
            if indexed is not None:
                points[point] = indexed  # seen again: the most recent
                return False
            points[point] = False
            self._pending[point] = None
            if len(points) > self._limit:
                oldest = next(iter(points))
                if points.pop(oldest):
                    self._stale.append(oldest)
                    if len(self._stale) > self._limit:
                        self._index()
                else:
                    del self._pending[oldest]
        return True

    def _index(self) -> None:
        """Bring the index up to date (the lock held): forget the stale, add the pending."""
        for point in self._stale:
            keys, values = _copies(*point)
            _count(self._keys, keys, -1)
            _count(self._values, values, -1)
            if point in self._coded:
                self._coded.discard(point)
                _count(self._codes, point_codes(*point), -1)
        self._stale.clear()
        for point in self._pending:
            keys, values = _copies(*point)
            _count(self._keys, keys, 1)
            _count(self._values, values, 1)
            _mark_cells(self._cells, point)
            self._points[point] = True  # keeps its place in the order
        self._pending.clear()

    def _ready(self) -> None:
        if self._pending or self._stale:
            with self._lock:
                self._index()

    def absorb(self, other: Points) -> None:
        """Remember every point ``other`` remembers."""
        for first, second in list(other._points):
            self.add(first, second)

    def cells(self) -> bytearray | None:
        """The geohash cells of the points seen (`twpolicy._payloads._encodings.cell`).

        Worked out without indexing the points (a first look must stay cheap).
        """
        if not self._points:
            return None
        with self._lock:
            for point in self._pending:
                _mark_cells(self._cells, point)
        return self._cells or None

    def encodes(self, tokens: Iterable[bytes]) -> bool:
        """Whether one of ``tokens`` is an encoding of a point seen (`point_codes`)."""
        tokens = list(tokens)
        if not self._points or not tokens:
            return False
        self._ready()
        with self._lock:
            for point, indexed in self._points.items():
                if indexed and point not in self._coded:
                    self._coded.add(point)
                    _count(self._codes, point_codes(*point), 1)
        codes = self._codes
        return any(token in codes for token in tokens)

    def among(self, numbers: Sequence[float]) -> bool:
        """Whether two of ``numbers`` (at different places) are a copy of a point seen.

        Two whole numbers are never taken for a point (counts are whole).
        """
        if len(numbers) < 2 or not self._points:  # noqa: PLR2004  # a pair
            return False
        self._ready()
        values = self._values
        present: dict[int, int] = {}
        for number in numbers:
            scaled = _scaled(number)
            if scaled in values:
                present[scaled] = present.get(scaled, 0) + 1
        if not present or (len(present) == 1 and next(iter(present.values())) < 2):  # noqa: PLR2004  # twice
            return False
        keys = self._keys
        for a, times in present.items():
            for b in present:
                if (
                    (b != a or times > 1)
                    and _pair_key(a, b) in keys
                    and not (a % _SCALE == 0 and b % _SCALE == 0)
                ):
                    return True
        return False

    def pairs_with(self, number: float, others: Collection[float]) -> bool:
        """Whether ``number`` and one of ``others`` are a copy of a point seen."""
        if not others or not self._points:
            return False
        self._ready()
        scaled = _scaled(number)
        if scaled not in self._values:
            return False
        keys, values = self._keys, self._values
        for other in others:
            b = _scaled(other)
            if (
                b in values
                and _pair_key(scaled, b) in keys
                and not (scaled % _SCALE == 0 and b % _SCALE == 0)
            ):
                return True
        return False


_CELLS: Final = CELL_COUNT  # geohash cells of three characters (about 156 km), S2 of level 5


def _mark_cells(cells: bytearray, point: tuple[float, float]) -> tuple[int, ...]:
    """Mark the cells ``point`` lies in (`point_cells`); which they are."""
    if not cells:
        cells.extend(bytes(_CELLS))
    indices = point_cells(*point)
    for index in indices:
        cells[index] = 1
    return indices


def _count(counts: dict[Any, int], keys: Iterable[Any], step: int) -> None:
    for key in keys:
        left = counts.get(key, 0) + step
        if left > 0:
            counts[key] = left
        else:
            counts.pop(key, None)


def pairs_in(value: Any, limit: int = 32) -> Iterator[tuple[float, float]]:
    """The coordinate pairs in a location datum: GeoJSON positions, ``[lat, long]``, ``bbox``.

    At most ``limit`` of them (a polygon's first corners tell its place well enough).
    """
    stack: list[Any] = [value]
    found = 0
    while stack and found < limit:
        item = stack.pop()
        if isinstance(item, Mapping):
            box = item.get("bbox")
            if isinstance(box, list) and len(box) == 4:  # noqa: PLR2004  # west, south, east, north
                numbers = [coordinate(float(n)) if type(n) is int else coordinate(n) for n in box]
                if None not in numbers:
                    yield numbers[0], numbers[1]  # type: ignore[misc]  # checked above
                    yield numbers[2], numbers[3]  # type: ignore[misc]  # checked above
                    found += 2
            stack.extend(v for v in item.values() if isinstance(v, (Mapping, list)))
        elif isinstance(item, list):
            if 2 <= len(item) <= 3 and all(type(n) in (int, float) for n in item):  # noqa: PLR2004  # a position
                first, second = coordinate(float(item[0])), coordinate(float(item[1]))
                if first is not None and second is not None:
                    yield first, second
                    found += 1
                continue
            stack.extend(v for v in item if isinstance(v, (Mapping, list)))


def fold(text: str) -> str:
    """How the gazetteer compares names: NFKC, no accents, no case, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(unicodedata.normalize("NFKC", bare).casefold().split())


@functools.cache
def gazetteer_names() -> frozenset[str]:
    """The gazetteer's names, folded (`fold`)."""
    text = resources.files("twpolicy._payloads").joinpath("gazetteer.txt").read_text("utf-8")
    return frozenset(
        fold(line) for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def in_gazetteer(text: str) -> bool:
    """Whether ``text`` is a name the gazetteer holds (any case, spacing or accents)."""
    return len(text) <= 100 and fold(text) in gazetteer_names()  # noqa: PLR2004  # no name is longer


def aggregate(value: Any) -> bool:
    """Whether ``value`` is what counting something gives: a number, or a list of IDs."""
    kind = type(value)
    if kind is int or kind is float:
        return True
    if isinstance(value, (list, tuple, set, frozenset)) and value:
        return all(type(item) is int or (type(item) is str and item.isdigit()) for item in value)
    return False


def numbers_of(values: Iterable[Any]) -> list[float]:
    """The coordinates among ``values`` and the items of the lists among them (one level).

    A few integers (`scaled_numbers`) count as what they are scaled by 10**5 to 10**7.
    """
    found: list[float] = []
    integers: list[int] = []
    for value in values:
        number = coordinate(value)
        if number is not None:
            found.append(number)
        elif type(value) is int:
            integers.append(value)
        elif type(value) is list:
            found.extend(n for n in map(coordinate, value) if n is not None)
            found.extend(scaled_numbers(value))
    found.extend(scaled_numbers(integers))
    return found


class Bloom:
    """A set that never forgets and never misses, in a fixed size: a blocked Bloom filter.

    Whatever was added is always found. Something never added is found too at ``rate`` at
    most while no more than ``capacity`` were added (past it, the rate rises; nothing is
    ever missed). Where finding means refusing, that errs only towards refusing (fail
    closed). Each member sets its k bits in one 64-byte block chosen by one blake2b digest
    (which also gives the k positions, 9 bits each), so adding or asking reads one block;
    the size is chosen so that the rate holds for blocks (`blocked_rate`). The bits are an
    anonymous memory map: pages the filter never touched take no memory. `GrowingBloom`
    stacks them so that a filter starts small.

    Args:
        capacity: how many members the rate holds for.
        rate: the chance that something never added is found, up to ``capacity`` members.
    """

    __slots__ = ("_bits", "_blocks", "_hashes", "_view", "capacity", "count", "rate")

    def __init__(self, capacity: int, rate: float = 1e-6) -> None:
        self.capacity = max(1, capacity)
        self.rate = rate
        self._blocks, self._hashes = _bloom_size(self.capacity, rate)
        self._bits = mmap.mmap(-1, self._blocks * _BLOCK_BYTES)
        self._view = memoryview(self._bits)
        self.count = 0  # members added (each counted once it set a new bit)

    @property
    def nbytes(self) -> int:
        """The size of its bits, in bytes."""
        return self._blocks * _BLOCK_BYTES

    def add(self, data: bytes) -> bool:
        """Add ``data``; whether it was not found before."""
        return self._put(_digest(data))

    def _put(self, digest: bytes) -> bool:
        offset = int.from_bytes(digest[:8], "little") % self._blocks * _BLOCK_BYTES
        mask = 0
        for position in array.array("H", digest[8 : 8 + 2 * self._hashes]):
            mask |= _BIT[position & _IN_BLOCK]
        view = self._view
        block = int.from_bytes(view[offset : offset + _BLOCK_BYTES], "little")
        if block & mask == mask:
            return False
        view[offset : offset + _BLOCK_BYTES] = (block | mask).to_bytes(_BLOCK_BYTES, "little")
        self.count += 1
        return True

    def _has(self, digest: bytes) -> bool:
        """Whether every bit of ``digest`` is set, asked bit by bit.

        The first bit not set answers: most asks are for something never added, and end
        after a bit or two.
        """
        offset = int.from_bytes(digest[:8], "little") % self._blocks * _BLOCK_BYTES
        block = int.from_bytes(self._view[offset : offset + _BLOCK_BYTES], "little")
        for position in array.array("H", digest[8 : 8 + 2 * self._hashes]):
            if not block >> (position & _IN_BLOCK) & 1:
                return False
        return True

    def __contains__(self, data: object) -> bool:
        return isinstance(data, bytes) and self._has(_digest(data))

    def expected_rate(self) -> float:
        """The chance, now, that something never added is found."""
        return blocked_rate(self.count, self._blocks, self._hashes)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=64).digest()


class GrowingBloom:
    """A `Bloom` filter that starts small and grows: never forgets, never misses.

    It begins with one layer for ``initial`` members; when a layer is full, a layer
    ``growth`` times larger is added, and every layer is asked. The layers' rates shrink by
    half each (``rate / 2``, ``rate / 4``, ...), so something never added is found at
    ``rate`` at most however many members were added: an application that read little pays
    for little, one that read much pays as it reads. One digest serves every layer.

    Args:
        initial: how many members the first layer holds.
        rate: the chance that something never added is found, at any size.
        growth: how much larger each layer is than the one before.
    """

    __slots__ = ("_layers", "growth", "initial", "rate")

    def __init__(self, initial: int, rate: float = 1e-6, growth: int = 4) -> None:
        self.initial = max(1, initial)
        self.rate = rate
        self.growth = growth
        self._layers = [Bloom(self.initial, rate / 2)]

    @property
    def count(self) -> int:
        """Members added (each counted once, in the layer it went into)."""
        return sum(layer.count for layer in self._layers)

    @property
    def nbytes(self) -> int:
        """The size of its layers' bits, in bytes."""
        return sum(layer.nbytes for layer in self._layers)

    @property
    def layers(self) -> int:
        """How many layers it has grown."""
        return len(self._layers)

    def add(self, data: bytes) -> bool:
        """Add ``data``; whether it was not found before."""
        digest = _digest(data)
        layers = self._layers
        last = layers[-1]
        if len(layers) > 1:
            for layer in layers[:-1]:
                if layer._has(digest):  # noqa: SLF001  # the layers are its own
                    return False
        if not last._put(digest):  # noqa: SLF001  # ditto
            return False
        if last.count >= last.capacity:
            size = len(layers)
            layers.append(Bloom(self.initial * self.growth**size, self.rate / 2 ** (size + 1)))
        return True

    def __contains__(self, data: object) -> bool:
        if not isinstance(data, bytes):
            return False
        digest = _digest(data)
        for layer in self._layers:  # noqa: SIM110  # a loop: no generator to set up per ask
            if layer._has(digest):  # noqa: SLF001  # the layers are its own
                return True
        return False

    def expected_rate(self) -> float:
        """The chance, now, that something never added is found (at most the sum of layers')."""
        return min(1.0, sum(layer.expected_rate() for layer in self._layers))


_BLOCK_BYTES: Final = 64
_BLOCK_BITS: Final = 512
_MOST_HASHES: Final = 28  # 16 bits each (9 used), after the block's 64, in a 512-bit digest
_BIT: Final = tuple(1 << n for n in range(_BLOCK_BITS))
_IN_BLOCK: Final = _BLOCK_BITS - 1


def blocked_rate(members: int, blocks: int, hashes: int) -> float:
    """The false-positive rate of a blocked Bloom filter (members spread over blocks)."""
    load = members / blocks
    if load == 0:
        return 0.0
    rate, spread = 0.0, int(load + 12 * math.sqrt(load) + 20)
    for held in range(spread + 1):
        chance = math.exp(held * math.log(load) - load - math.lgamma(held + 1))
        rate += chance * (1 - (1 - 1 / _BLOCK_BITS) ** (held * hashes)) ** hashes
    return rate


@functools.cache
def _bloom_size(capacity: int, rate: float) -> tuple[int, int]:
    """Blocks and bits per member for ``capacity`` members at ``rate`` at most."""
    bits = -capacity * math.log(rate) / math.log(2) ** 2
    hashes = max(1, min(_MOST_HASHES, round(-math.log(rate) / math.log(2))))
    while True:
        blocks = max(1, math.ceil(bits / _BLOCK_BITS))
        if blocked_rate(capacity, blocks, hashes) <= rate:
            return blocks, hashes
        bits *= 1.03


def int_bytes(value: int) -> bytes:
    """How a number (a scaled coordinate, a pair key) is put in a `Bloom` filter."""
    return b"%d" % value


def canonical_key(first: int, second: int) -> int:
    """The pair key of two scaled coordinates, in either order."""
    return _pair_key(first, second) if first <= second else _pair_key(second, first)


def point_copies(first: float, second: float) -> tuple[set[int], set[int]]:
    """The canonical pair keys of every copy of a point (`canonical_key`), and its numbers."""
    keys: set[int] = set()
    numbers: set[int] = set()
    for ones, others in zip(_levels(first), _levels(second), strict=True):
        numbers.update(ones)
        numbers.update(others)
        keys.update(canonical_key(a, b) for a in ones for b in others)
    return keys, numbers


#: Copies kept of a point (canonical pair keys), for sizing: 12 on average (measured over
#: points of 5 to 8 decimals), at most 24.
COPIES_PER_POINT: Final = 16
#: Numbers kept of a point (both coordinates at every rounding), for sizing: 15 on average.
NUMBERS_PER_POINT: Final = 15
#: Encodings kept of a point (`point_codes`: geohashes, plus codes, grid cells and projected
#: metres), for sizing: about 130 in one order, 260 in both (measured, at most 274).
CODES_PER_POINT: Final = 260


class LastingPoints(Points):
    """`Points` that never forget: every copy of every point seen, in two Bloom filters.

    A point seen is always recognised, at every rounding, in both orders, however many
    others were seen after it. A pair never seen is taken for a point at ``rate`` at most,
    however many points were seen (the filters grow, `GrowingBloom`): a refusal of two
    neutral numbers that are no point, never a point let through. Reading only notes a
    point; a check next needing it works out its copies, kept exactly in sets while at most
    1,000 points wait (no false positive, no digest), else put in the filters with the
    others waiting; every 10,000 points read go in. Its encodings (about 260,
    `point_codes`) go in only when a text holds a token that may be one, and then only for
    the points read in that token's cell (`token_cells`): no other point can be the one it
    names.

    Args:
        limit: how many points the first filters hold.
        rate: the chance that a neutral pair never seen is taken for a point.
    """

    __slots__ = (
        "_celled",
        "_count",
        "_key_filter",
        "_overflow",
        "_uncoded",
        "_value_filter",
        "_waiting",
        "_young",
        "_young_keys",
        "_young_values",
    )

    def __init__(self, limit: int = 1_000, rate: float = 1e-6) -> None:
        super().__init__(limit)
        # Pair keys and encodings (`point_codes`, marked apart from the keys' digits): it
        # starts sized for the keys and grows as points are read.
        self._key_filter = GrowingBloom(limit * COPIES_PER_POINT, rate)
        # Numbers first: a cheap filter (1 in 100 found wrongly) before the pairs are asked.
        self._value_filter = GrowingBloom(limit * NUMBERS_PER_POINT, 1e-2)
        self._count = 0
        # How many of the pending points have their cells marked (`cells`); the points
        # marked whose encodings are not in the filter yet, with their cells; and which of
        # them each cell holds, so that a token's encodings are worked out only for the
        # points of its cell (`encodes`). Past `_WAITING_MOST` points waiting, the cells
        # are no longer kept (``_overflow``) and the next token encodes every one.
        self._celled = 0
        self._uncoded: dict[tuple[float, float], tuple[int, ...]] = {}
        self._waiting: dict[int, list[tuple[float, float]]] = {}
        self._overflow = False
        # The copies of the first ``_young`` pending points, exactly (`_YOUNG_MOST` at most):
        # a check asks these sets, and the filters only once a point went in. Putting a
        # point in the filters costs about 30 blake2b digests and block writes; a run that
        # reads a few hundred distinct points never pays it.
        self._young = 0
        self._young_keys: set[int] = set()
        self._young_values: set[int] = set()

    @property
    def nbytes(self) -> int:
        """The size of its filters, in bytes."""
        return self._key_filter.nbytes + self._value_filter.nbytes

    def __len__(self) -> int:
        return self._count + len(self._pending)

    def add(self, first: float, second: float) -> bool:
        """Note the point ``(first, second)``; whether it was not noted before (as far as known)."""
        point = (first, second) if first <= second else (second, first)
        with self._lock:
            pending = self._pending
            if point in pending:
                return False
            exact = int_bytes(canonical_key(_scaled(point[0]), _scaled(point[1])))
            if self._count and exact in self._key_filter:
                return False  # indexed already (or, at ``rate``, taken for it: no matter)
            pending[point] = None
            if len(pending) >= _BATCH:
                self._index()
        return True

    def _index(self) -> None:
        """Put the pending points in the filters (the lock held); the young copies with them."""
        keys, values = self._key_filter, self._value_filter
        for key in self._young_keys:
            keys.add(int_bytes(key))
        for number in self._young_values:
            values.add(int_bytes(number))
        for point in itertools.islice(self._pending, self._young, None):
            copies, numbers = point_copies(*point)
            for key in copies:
                keys.add(int_bytes(key))
            for number in numbers:
                values.add(int_bytes(number))
        self._mark_pending()
        self._celled = 0
        self._count += len(self._pending)
        self._pending.clear()
        self._young = 0
        self._young_keys.clear()
        self._young_values.clear()

    def _copy_young(self) -> None:
        """Work out the copies of the pending points not copied yet (the lock held)."""
        pending = self._pending
        young_keys, young_values = self._young_keys, self._young_values
        for point in itertools.islice(pending, self._young, None):
            copies, numbers = point_copies(*point)
            young_keys.update(copies)
            young_values.update(numbers)
        self._young = len(pending)

    def _mark_pending(self) -> None:
        """Mark the cells of the pending points not marked yet (the lock held)."""
        pending = self._pending
        if len(pending) <= self._celled:
            return
        cells, uncoded, waiting = self._cells, self._uncoded, self._waiting
        for point in itertools.islice(pending, self._celled, None):
            indices = _mark_cells(cells, point)
            if point in uncoded:
                continue
            if self._overflow:
                uncoded[point] = ()
            elif len(uncoded) >= _WAITING_MOST:
                self._overflow = True
                waiting.clear()
                for other in uncoded:
                    uncoded[other] = ()
                uncoded[point] = ()
            else:
                uncoded[point] = indices
                for index in indices:
                    waiting.setdefault(index, []).append(point)
        self._celled = len(pending)

    def _ready(self) -> None:
        """Make every point read askable: copied exactly while few, else in the filters."""
        if len(self._pending) > self._young:
            with self._lock:
                if len(self._pending) > _YOUNG_MOST:
                    self._index()
                else:
                    self._copy_young()

    def absorb(self, other: Points) -> None:
        """Remember every point ``other`` remembers (a `Points`: its own are kept in order)."""
        for first, second in list(other._points) + list(other._pending):  # noqa: SLF001  # same family
            self.add(first, second)

    def _known(self) -> bool:
        return bool(self._count or self._pending)

    def cells(self) -> bytearray | None:
        """The geohash cells of the points seen (`twpolicy._payloads._encodings.cell`)."""
        if not self._known():
            return None
        if len(self._pending) > self._celled:
            with self._lock:
                self._mark_pending()
        return self._cells or None

    def encodes(self, tokens: Iterable[bytes]) -> bool:
        """Whether one of ``tokens`` is an encoding of a point seen (at ``rate`` if never)."""
        tokens = list(tokens)
        if not self._known() or not tokens:
            return False
        keys = self._key_filter
        with self._lock:  # the encodings of the points that may be named, not their copies
            self._mark_pending()
            for point in self._named(tokens):
                for code in point_codes(*point):
                    keys.add(code)
        return any(token in keys for token in tokens)

    def _named(self, tokens: list[bytes]) -> list[tuple[float, float]]:
        """The points waiting (the lock held) that one of ``tokens`` may encode, no longer waiting.

        A token names a point only if the point lies in one of the token's cells (`token_cells`);
        a token without one (a plus code), or cells no longer kept, may name any.
        """
        uncoded, waiting = self._uncoded, self._waiting
        if not uncoded:
            return []
        found = [token_cells(token) for token in tokens]
        if self._overflow or None in found:
            named = list(uncoded)
            uncoded.clear()
            waiting.clear()
            self._overflow = False
            return named
        named = []
        for index in {index for indices in found if indices is not None for index in indices}:
            for point in waiting.pop(index, ()):
                if uncoded.pop(point, None) is not None:
                    named.append(point)
        return named

    def among(self, numbers: Sequence[float]) -> bool:
        """Whether two of ``numbers`` (at different places) are a copy of a point seen."""
        if len(numbers) < 2 or not self._known():  # noqa: PLR2004  # a pair
            return False
        self._ready()
        # With no point in the filters, no number or pair key was put in them (encodings
        # are marked apart from digits): only a false positive could be found there.
        filled = self._count > 0
        values, young_values = self._value_filter, self._young_values
        present: dict[int, int] = {}
        for number in numbers:
            scaled = _scaled(number)
            if scaled in young_values or (filled and int_bytes(scaled) in values):
                present[scaled] = present.get(scaled, 0) + 1
        keys, young_keys = self._key_filter, self._young_keys
        for a, times in present.items():
            for b in present:
                if (
                    a <= b
                    and (b != a or times > 1)
                    and not (a % _SCALE == 0 and b % _SCALE == 0)
                    and (
                        (key := _pair_key(a, b)) in young_keys
                        or (filled and int_bytes(key) in keys)
                    )
                ):
                    return True
        return False

    def pairs_with(self, number: float, others: Collection[float]) -> bool:
        """Whether ``number`` and one of ``others`` are a copy of a point seen."""
        if not others or not self._known():
            return False
        self._ready()
        filled = self._count > 0  # as in `among`
        scaled = _scaled(number)
        values, keys = self._value_filter, self._key_filter
        young_values, young_keys = self._young_values, self._young_keys
        if scaled not in young_values and not (filled and int_bytes(scaled) in values):
            return False
        for other in others:
            b = _scaled(other)
            if (
                not (scaled % _SCALE == 0 and b % _SCALE == 0)
                and (b in young_values or (filled and int_bytes(b) in values))
                and (
                    (key := canonical_key(scaled, b)) in young_keys
                    or (filled and int_bytes(key) in keys)
                )
            ):
                return True
        return False


_BATCH: Final = 10_000
#: The most pending points copied exactly (`LastingPoints._young_keys`): about 2 KB a
#: point (some 25 numbers in two sets; measured 1.8 MB for 1,000 points), so 2 MB at most;
#: past it, a check puts them in the filters.
_YOUNG_MOST: Final = 1_000
#: The most points waiting for their encodings with their cells kept (about 1.5 KB a point).
_WAITING_MOST: Final = 10_000

"""Coordinates the guard has seen, at every rounding, and a gazetteer of well-known places.

Two numbers are a point only if something says so. Under a key such as ``coordinates`` the
table of shapes does; under two neutral keys (``{"a": 52.52, "b": 13.405}``) nothing in the
payload does, but where the numbers came from can: if the guard read that point in Twitter
Content, keeping it apart from its Tweet is keeping location data from Twitter Content
(I.B.7). `Points` remembers each point seen, at 1 to 6 decimals (rounded half-even, half-up
and cut off) and exactly, in both orders, so that a copy kept rounded, swapped or as text is
still recognised. It holds at most ``limit`` points, forgetting the least recently seen.

The gazetteer is a floor for names the guard never saw: countries, their capitals, US states
and cities of a million people or more (``gazetteer.txt``, derived from GeoNames, CC BY 4.0).
It is read only for mapping keys that hold aggregates (counts, lists of IDs), where a place
name is what is being counted.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from importlib import resources
from typing import Any, Final

__all__ = [
    "Points",
    "aggregate",
    "coordinate",
    "fold",
    "gazetteer_names",
    "in_gazetteer",
    "numbers_of",
    "pairs_in",
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


def _variants(value: float) -> set[float]:
    """``value`` exactly, and as rounded copies of it are written at each precision."""
    found = {value}
    try:
        exact = Decimal(repr(value))
    except InvalidOperation:  # pragma: no cover  # repr of a finite float always parses
        return found
    for places, quantum in zip(ROUNDINGS, _QUANTA, strict=True):
        found.add(round(value, places))
        found.add(float(exact.quantize(quantum, rounding=ROUND_HALF_UP)))
        found.add(float(exact.quantize(quantum, rounding=ROUND_DOWN)))
    return found


class Points:
    """A bounded memory of points seen: ``(a, b)`` pairs at every rounding, in both orders.

    Args:
        limit: the most points kept; the least recently seen is forgotten first.
    """

    __slots__ = ("_limit", "_lock", "_partners", "_points")

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        # Each point seen (exact), in order of last sight, with the pairs it stands for.
        self._points: dict[tuple[float, float], tuple[tuple[float, float], ...]] = {}
        # For each number, the numbers it was seen paired with, and how many points say so.
        self._partners: dict[float, dict[float, int]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._points)

    def add(self, first: float, second: float) -> bool:
        """Remember the point ``(first, second)`` (in either order); whether it was new."""
        point = (first, second) if first <= second else (second, first)
        if point in self._points:
            with self._lock:
                pairs = self._points.pop(point, None)
                if pairs is not None:
                    self._points[point] = pairs  # seen again: the most recent
            return False
        ones, others = _variants(first), _variants(second)
        pairs = tuple(
            {(a, b) for a in ones for b in others} | {(b, a) for a in ones for b in others}
        )
        with self._lock:
            if point in self._points:
                return False
            self._points[point] = pairs
            partners = self._partners
            for a, b in pairs:
                mates = partners.setdefault(a, {})
                mates[b] = mates.get(b, 0) + 1
            while len(self._points) > self._limit:
                self._forget(next(iter(self._points)))
        return True

    def _forget(self, point: tuple[float, float]) -> None:
        partners = self._partners
        for a, b in self._points.pop(point):
            mates = partners[a]
            left = mates[b] - 1
            if left:
                mates[b] = left
            else:
                del mates[b]
                if not mates:
                    del partners[a]

    def absorb(self, other: Points) -> None:
        """Remember every point ``other`` remembers."""
        for first, second in list(other._points):  # same class
            self.add(first, second)

    def among(self, numbers: Sequence[float]) -> bool:
        """Whether two of ``numbers`` (at different places) are a point seen, in any order.

        Two whole numbers are never taken for a point (counts are whole).
        """
        if len(numbers) < 2 or not self._partners:  # noqa: PLR2004  # a pair
            return False
        present: dict[float, int] = {}
        for number in numbers:
            present[number] = present.get(number, 0) + 1
        with self._lock:
            partners = self._partners
            for a, times in present.items():
                mates = partners.get(a)
                if not mates:
                    continue
                small, large = (mates, present) if len(mates) <= len(present) else (present, mates)
                for b in small:
                    if b not in large or (b == a and times < 2):  # noqa: PLR2004  # twice
                        continue
                    if not (a.is_integer() and b.is_integer()):
                        return True
        return False

    def pairs_with(self, number: float, others: Collection[float]) -> bool:
        """Whether ``number`` and one of ``others`` are a point seen, in either order."""
        if not others:
            return False
        with self._lock:
            mates = self._partners.get(number)
            if not mates:
                return False
            return any(
                mate in others and not (mate.is_integer() and number.is_integer()) for mate in mates
            )


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
    """The coordinates among ``values`` and the items of the lists among them (one level)."""
    found: list[float] = []
    for value in values:
        number = coordinate(value)
        if number is not None:
            found.append(number)
        elif type(value) is list:
            found.extend(n for n in map(coordinate, value) if n is not None)
    return found

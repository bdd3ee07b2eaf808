"""Location data in payloads: find it everywhere, tell what stands alone, strip it on demand.

Developer Policy I.B.7: "Do not (and do not allow others to) aggregate, cache, or store
location data and other geographic information contained in the Twitter Content, except as
part of a Tweet or Periscope Broadcast. Any use of location data or geographic information on
a standalone basis is prohibited."

`find_geo` lists every location datum of a payload with its JSON pointer, its kind and the
object that owns it; a datum *stands alone* when it is not part of that object: a place or
coordinates on their own, geo endpoint results, trend locations, a Tweet or user reduced to
its ID plus its location, an expanded place no Tweet of the payload refers to. The
``geo.standalone`` rule (`twpolicy.rules`) refuses storing such payloads; `strip_geo`
removes every datum.
"""

from __future__ import annotations

import dataclasses
import decimal
import enum
import functools
import json
import math
import numbers
import re
import threading
import unicodedata
import urllib.parse
from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any, Final

import attrs

from twpolicy._payloads._encodings import (
    code_tokens,
    in_cells,
    point_codes,
    scaled_numbers,
    spelled_otherwise,
    text_scaled,
    text_words,
    words_key,
)
from twpolicy._payloads._locations import (
    COPIES_PER_POINT,
    NUMBERS_PER_POINT,
    GrowingBloom,
    LastingPoints,
    Points,
    aggregate,
    canonical_key,
    coordinate,
    in_gazetteer,
    int_bytes,
    numbers_of,
    pairs_in,
    point_copies,
)
from twpolicy._payloads._shapes import (
    CONTENT_FAMILY,
    LOCATION_FIELDS,
    LOOSE_KEYS,
    SHAPES,
    GeoKind,
    Kind,
    Path,
    Segment,
    loose_key,
)
from twpolicy._payloads._walker import (
    Node,
    adapt,
    classify,
    is_empty,
    location_kind,
    place_reference,
    pointer_of,
    read_json,
    walk,
)
from twpolicy.exceptions import PayloadError

__all__ = [
    "CLAUSE",
    "REASONS",
    "Arguments",
    "Finder",
    "GeoFinding",
    "LocationMemory",
    "MappingKey",
    "PlaceNames",
    "Probe",
    "find_geo",
    "hits",
    "key_location",
    "parsed_text",
    "read_hook",
    "read_hook_async",
    "read_result",
    "scan_value",
    "strip_geo",
]

CLAUSE: Final = "I.B.7"

# Why a datum is, or is not, part of the object it belongs to: its family (the table).
_PART_OF: Final[Mapping[Kind, str]] = CONTENT_FAMILY
#: What each standalone reason means, for messages.
REASONS: Final[Mapping[str, str]] = {
    "reduced_tweet": "a Tweet reduced to its ID and its location",
    "reduced_user": "a user reduced to their ID and their location",
    "reduced_dm": "a Direct Message reduced to its ID and its location",
    "on_its_own": "location on its own, outside any Tweet",
    "unreferenced_place": "an expanded place that no Tweet of the payload refers to",
    "geo_endpoint": "a geo endpoint's answer, which belongs to no Tweet",
    "trend_location": "a trends location, which belongs to no Tweet",
    "location_key": "location used as a mapping key (keeping or counting by it aggregates it)",
    "added_to_tweet": "location added to a Tweet under a key of its own, not the Tweet's own",
    "added_to_user": "location added to a user under a key of its own, not the user's own",
    "added_to_dm": "location added to a Direct Message under a key of its own, not its own",
    "moved_to_another_tweet": (
        "a point or place read as the location of another Tweet, kept as this Tweet's own"
    ),
    "moved_to_another_dm": (
        "a point or place read as the location of another Tweet, kept as this Direct Message's own"
    ),
    "moved_to_another_user": (
        "a point or place read as the location of another Tweet or user, kept as this user's own"
    ),
}


@attrs.frozen
class GeoFinding:
    """One location datum in a payload.

    Attributes:
        pointer: its RFC 6901 JSON pointer (``"/data/0/geo"``; ``""`` for the whole payload).
        kind: what sort of location it is.
        standalone: whether it stands apart from the object it belongs to (I.B.7 forbids
            keeping it so).
        reason: why: ``in_tweet``, ``in_user``, ``in_dm``, ``referenced_by_tweet`` when it is
            part of its object; ``reduced_tweet``, ``reduced_user``, ``reduced_dm``,
            ``on_its_own``, ``unreferenced_place``, ``geo_endpoint`` or ``trend_location``
            when it stands alone.
        owner_pointer: the pointer of the object it belongs to (the Tweet, user or DM; for an
            expanded place, the Tweet that refers to it), or ``None``.
        owner_kind: that object's kind (``tweet_v1``, ``user_v2``, ...), or ``None``.
        owner_id: that object's ID, or ``None``.
    """

    pointer: str
    kind: GeoKind
    standalone: bool
    reason: str
    owner_pointer: str | None = None
    owner_kind: str | None = None
    owner_id: str | None = None


class Hit:
    """A datum found by the walk, before its pointer is spelled out (most never need it).

    The internal form of a `GeoFinding`, for hot paths (``twpolicy scan``, the rule).
    """

    __slots__ = ("kind", "node", "owner", "path", "reason", "standalone")

    def __init__(
        self,
        node: Node | None,
        path: Path,
        kind: GeoKind,
        owner: Node | None,
        reason: str,
        *,
        standalone: bool,
    ) -> None:
        self.node = node
        self.path = path
        self.kind = kind
        self.owner = owner
        self.reason = reason
        self.standalone = standalone

    @property
    def pointer(self) -> str:
        return (self.node.pointer if self.node is not None else "") + pointer_of(self.path)

    @property
    def full_path(self) -> Path:
        return (self.node.full_path if self.node is not None else ()) + self.path

    def finding(self, prefix: str = "") -> GeoFinding:
        owner = self.owner
        if owner is None:
            return GeoFinding(prefix + self.pointer, self.kind, self.standalone, self.reason)
        return GeoFinding(
            prefix + self.pointer,
            self.kind,
            self.standalone,
            self.reason,
            prefix + owner.pointer,
            owner.kind.value,
            owner.read_id().value,
        )


def _added(node: Node, path: Path, kind: GeoKind, owner: Node) -> Hit:
    """Location under a key Twitter does not send, on a whole object, that is not its own."""
    return Hit(node, path, kind, owner, f"added_to_{_PART_OF[owner.kind]}", standalone=True)


def _datum_at(value: Any, path: Path) -> Any:
    for segment in path:
        if isinstance(value, Mapping):
            value = value.get(segment)
        elif isinstance(value, (list, tuple)) and type(segment) is int and segment < len(value):
            value = value[segment]
        else:
            return None
    return value


def _own_location(owner: Node) -> PlaceNames:
    """The object's own location, as its table fields hold it: place names, IDs, points."""
    own = PlaceNames(points=64)
    value = owner.value
    for first, rest, _path, _default in _FIELD_READS.get(owner.kind, ()):
        field = value.get(first)
        for key in rest:
            field = field.get(key) if isinstance(field, Mapping) else None
        if field is None:
            continue
        for place in field if isinstance(field, list) else [field]:
            if isinstance(place, Mapping):
                own.learn(place)
                own.learn({"id": place.get("place_id")})
            elif type(place) is str:
                own.learn({"name": place})
        own.learn_points(field)
    return own


def _is_own(datum: Any, own: PlaceNames) -> bool:
    """Whether ``datum`` is a copy of an object's own location (its point, its place).

    An application may keep a copy of a Tweet's own location under a key of its own (to
    index it); location from anywhere else added to a Tweet is not part of that Tweet.
    """
    if type(datum) is str:
        return datum in own or _text_pair_known(datum, own)
    if isinstance(datum, (Mapping, list, tuple)):
        items = list(datum.values()) + list(datum) if isinstance(datum, Mapping) else list(datum)
        numbers = [number for pair in pairs_in(datum) for number in pair]
        numbers.extend(numbers_of(items))
        if own.knows_pair(numbers):
            return True
        return any(type(item) is str and item in own for item in items)
    return False


def _key_under(node: Node, owner: Node) -> Segment | None:
    """The key of ``owner`` that ``node`` sits under (``None`` when it is ``owner``)."""
    current: Node | None = node
    while current is not None and current.parent is not owner:
        current = current.parent
    if current is None or current is owner or not current.path:
        return None
    return current.path[0]


def _owned(node: Node | None, path: Path, kind: GeoKind, owner: Node | None) -> Hit:
    """A datum inside ``owner`` (or inside nothing): standalone unless its owner is whole."""
    if owner is None:
        return Hit(node, path, kind, None, "on_its_own", standalone=True)
    part = _PART_OF[owner.kind]
    if owner.whole:
        return Hit(node, path, kind, owner, f"in_{part}", standalone=False)
    return Hit(node, path, kind, owner, f"reduced_{part}", standalone=True)


class Finder:
    """One pass over a payload's walk, reporting each location datum once."""

    def __init__(self, names: PlaceNames | None = None) -> None:
        self.names = names
        # What has been reported: the keys of each node, and the nodes inside reported data.
        self.covered_fields: dict[Node, set[str]] = {}
        self.covered_nodes: set[Node] = set()
        # Places outside any Tweet, judged at the end: part of a Tweet if one refers to them.
        self.free_places: list[tuple[Node, Path, Any]] = []
        self.referenced: dict[str, Node] = {}
        self.own: dict[Node, PlaceNames] = {}

    def own_of(self, owner: Node) -> PlaceNames:
        own = self.own.get(owner)
        if own is None:
            own = self.own[owner] = _own_location(owner)
        return own

    def added(self, owner: Node, key: Segment) -> bool:
        """Whether ``key`` of a whole content object is one Twitter does not send there.

        A location key of another format (``coordinates`` on a v2-looking Tweet) counts as
        the object's own when it has no location in its table fields.
        """
        kind = owner.kind
        if (
            type(key) is not str
            or kind not in _PART_OF
            or not owner.whole
            or key in _READ_KEYS[kind]
            or key in _SLOT_KEYS[kind]
            or key in _KNOWN[kind]
        ):
            return False
        if loose_key(key) is None:
            return True
        own = self.own_of(owner)
        return len(own.points) > 0 or len(own) > 0

    def placed(self, node: Node, path: Path, geo_kind: GeoKind, owner: Node | None) -> Hit:
        """`_owned`, unless the datum was added to a whole object and is not its own."""
        if owner is not None and owner.whole and owner.kind in _PART_OF:
            key = path[0] if node is owner and path else _key_under(node, owner)
            if key is not None and self.added(owner, key):
                own = self.own_of(owner)
                last = path[-1] if path else None
                if not _is_own(_datum_at(node.value, path), own) and not (
                    type(last) is str and _is_own(last, own)  # the datum is this key
                ):
                    return _added(node, path, geo_kind, owner)
        return _owned(node, path, geo_kind, owner)

    def run(self, payload: Any) -> Iterator[Hit]:  # noqa: C901, PLR0912  # the hot loop, one frame
        covered_nodes, covered_fields = self.covered_nodes, self.covered_fields
        fields_of, whole_kinds = _FIELD_READS, _PART_OF
        for node in walk(payload):
            parent = node.parent
            if parent is not None:
                if parent in covered_nodes:
                    covered_nodes.add(node)
                    continue
                keys = covered_fields.get(parent)
                if keys is not None and node.path[0] in keys:
                    covered_nodes.add(node)
                    continue
            kind = node.kind
            fields = fields_of.get(kind)
            if fields is None:
                if kind in _DATUM_KINDS:
                    yield from self.datum(node)
                elif kind is Kind.OTHER:
                    yield from self.loose(node)
                elif kind not in _UNREAD_KINDS:
                    yield from self.beyond_fields(node)
                continue
            value = node.value
            reported = None
            for first, rest, path, default in fields:
                datum = value.get(first)
                if datum is None:
                    continue
                for key in rest:
                    datum = datum.get(key) if isinstance(datum, Mapping) else None
                geo_kind = location_kind(datum, default)
                if geo_kind is None:
                    continue
                if type(datum) is not str:  # only objects and lists can hold nodes
                    if reported is None:
                        reported = covered_fields[node] = set()
                    reported.add(first)
                if kind in whole_kinds:
                    yield _owned(node, path, geo_kind, node)
                else:
                    reason = "geo_endpoint" if kind is Kind.GEO_RESULT else "trend_location"
                    yield Hit(node, path, geo_kind, None, reason, standalone=True)
            yield from self.beyond_fields(node)
            if kind is Kind.TWEET_V2:
                place_id = place_reference(value)
                if place_id is not None and node.whole:
                    self.referenced.setdefault(place_id, node)
        yield from self.judge_free_places()

    def root(self, payload: Any) -> Iterator[Hit]:
        """Location in the parts of a payload no recognised object holds (walked or not)."""
        value = adapt(payload)
        if isinstance(value, Mapping) and classify(value) is not None:
            return
        # A payload that is nothing but points: a "lat,long" text, a pair, a list of pairs.
        if (type(value) is str and _text_point(value)) or (
            isinstance(value, (list, tuple)) and _pair(value)
        ):
            yield Hit(None, (), GeoKind.POINT, None, "on_its_own", standalone=True)
            return
        if (
            isinstance(value, list)
            and value
            and all(
                (type(item) is str and _text_point(item))
                or (isinstance(item, (list, tuple)) and _pair(item))
                for item in value
            )
        ):
            for index in range(len(value)):
                yield Hit(None, (index,), GeoKind.POINT, None, "on_its_own", standalone=True)
            return
        for path, geo_kind in scan_value(
            value, (), walked=True, skip=frozenset(), names=self.names
        ):
            yield Hit(None, path, geo_kind, None, "on_its_own", standalone=True)

    def beyond_fields(self, node: Node) -> Iterator[Hit]:  # noqa: C901, PLR0912  # one pass over the keys
        """Location a node holds beyond its kind's location fields.

        Location-like keys the table does not list for the kind (``coordinates`` and
        ``place`` on a v2-looking Tweet, ``attribute:street_address``...), mapping keys
        and values that are themselves location (``"37.77,-122.41"``, a coordinate pair),
        and, when a content object is not whole, anything in the keys the walk treats as
        inert (``entities``, ``metadata``, ``note_tweet``...): without its content, nothing
        the object holds can make location part of it.
        """
        kind, value = node.kind, node.value
        fields, known, slot_keys = _READ_KEYS[kind], _KNOWN[kind], _SLOT_KEYS[kind]
        content = kind in _PART_OF
        whole = not content or node.whole
        owner = node.owner()
        skip: frozenset[int] | None = None
        if not whole and self.names is not None and _pair_known(value, self.names):
            yield _owned(node, (), GeoKind.POINT, owner)  # a point read, beside a bare ID
        for key, item in value.items():
            if key in fields:
                continue
            if key not in known or not whole:
                loose = loose_key(key)
                if loose is not None and key not in slot_keys:
                    geo_kind = location_kind(item, LOOSE_KEYS[loose])
                    if geo_kind is not None:
                        self.covered_fields.setdefault(node, set()).add(key)
                        yield self.placed(node, (key,), geo_kind, owner)
                    continue
            else:
                continue
            if _plain(item) and type(item) is not str:
                continue
            key_kind = key_location(key, self.names)
            if key_kind is not None:
                self.covered_fields.setdefault(node, set()).add(key)
                if owner is node and self.added(node, key) and not _is_own(key, self.own_of(node)):
                    yield _added(node, (key,), key_kind, node)
                else:
                    yield _owned(node, (key,), key_kind, owner)
                continue
            if content and not whole:
                if skip is None:
                    skip = _slot_objects(kind, value)
                found = list(scan_value(item, (key,), walked=False, skip=skip, names=self.names))
                if found:  # what the walk would find under the key is reported here
                    self.covered_fields.setdefault(node, set()).add(key)
            elif key not in known:
                found = list(
                    scan_value(item, (key,), walked=True, skip=frozenset(), names=self.names)
                )
            else:
                continue
            for path, geo_kind in found:
                yield self.placed(node, path, geo_kind, owner)

    def datum(self, node: Node) -> list[Hit]:
        """A place, trends location or GeoJSON object that is location data as a whole."""
        self.covered_nodes.add(node)
        kind, parent = node.kind, node.parent
        if is_empty(node.value):
            return []
        if kind is Kind.TREND_LOCATION:
            return [Hit(node, (), GeoKind.TREND_LOCATION, None, "trend_location", standalone=True)]
        if parent is not None and parent.kind is Kind.GEO_RESULT:
            return [Hit(node, (), GeoKind.PLACE, None, "geo_endpoint", standalone=True)]
        owner = parent.owner() if parent is not None else None
        if kind is Kind.PLACE and owner is None:
            self.free_places.append((node, (), node.value))
            return []
        geo_kind = GeoKind.PLACE if kind is Kind.PLACE else location_kind(node.value, None)
        return [self.placed(node, (), geo_kind or GeoKind.GEOMETRY, owner)]

    def loose(self, node: Node) -> list[Hit]:
        """Location-like keys of an object of no known family."""
        found = []
        owner = node.owner()
        if self.names is not None and _pair_known(node.value, self.names):
            self.covered_nodes.add(node)
            return [self.placed(node, (), GeoKind.POINT, owner)]
        for key, datum in node.value.items():
            loose = loose_key(key)
            if loose is None:
                key_kind = key_location(key, self.names)
                if key_kind is not None:
                    self.covered_fields.setdefault(node, set()).add(key)
                    found.append(self.placed(node, (key,), key_kind, owner))
                    continue
                found.extend(
                    self.placed(node, path, geo_kind, owner)
                    for path, geo_kind in scan_value(
                        datum, (key,), walked=True, skip=frozenset(), names=self.names
                    )
                )
                continue
            geo_kind = location_kind(datum, LOOSE_KEYS[loose])
            if geo_kind is None:
                continue
            self.covered_fields.setdefault(node, set()).add(key)
            if key == "places" and owner is None and isinstance(datum, list):
                places = [((key, index), item) for index, item in enumerate(datum)]
                self.free_places.extend((node, path, item) for path, item in places if item)
            else:
                found.append(self.placed(node, (key,), geo_kind, owner))
        return found

    def judge_free_places(self) -> Iterator[Hit]:
        """Places outside any Tweet: part of the Tweet that refers to them, else standalone."""
        for node, path, place in self.free_places:
            place_id = place.get("id") if isinstance(place, Mapping) else None
            tweet = self.referenced.get(place_id) if isinstance(place_id, str) else None
            if tweet is not None:
                yield Hit(node, path, GeoKind.PLACE, tweet, "referenced_by_tweet", standalone=False)
                continue
            expanded = path or (node.parent is not None and node.parent.kind is Kind.RESPONSE_V2)
            reason = "unreferenced_place" if expanded else "on_its_own"
            yield Hit(node, path, GeoKind.PLACE, None, reason, standalone=True)


_DATUM_KINDS: Final = frozenset({Kind.PLACE, Kind.TREND_LOCATION, Kind.GEOMETRY})
# LOCATION_FIELDS as the hot loop reads them: first key, the rest of the path, path, kind.
_FIELD_READS: Final = {
    kind: tuple((path[0], path[1:], path, default) for path, default in fields)
    for kind, fields in LOCATION_FIELDS.items()
}
# Kinds whose keys hold no location beyond what their table rows say.
_UNREAD_KINDS: Final = frozenset({Kind.RATE_LIMITS})
_READ_KEYS: Final[Mapping[Kind, frozenset[str]]] = {
    kind: frozenset(path[0] for path, _ in LOCATION_FIELDS.get(kind, ())) for kind in SHAPES
}
_KNOWN: Final[Mapping[Kind, frozenset[str]]] = {
    kind: shape.known if shape.search_rest else frozenset() for kind, shape in SHAPES.items()
}
_SLOT_KEYS: Final[Mapping[Kind, frozenset[str]]] = {
    kind: frozenset(slot.path[0] for slot in shape.children) for kind, shape in SHAPES.items()
}
_SLOT_PATHS: Final[Mapping[Kind, tuple[tuple[str, ...], ...]]] = {
    kind: tuple(slot.path for slot in shape.children) for kind, shape in SHAPES.items()
}


def _slot_objects(kind: Kind, value: Mapping[str, Any]) -> frozenset[int]:
    """The identities of the objects the walk visits in ``value``'s child slots."""
    found: set[int] = set()
    for path in _SLOT_PATHS[kind]:
        item: Any = value
        for key in path:
            item = item.get(key) if isinstance(item, Mapping) else None
        if isinstance(item, list):
            found.update(id(element) for element in item)
        if item is not None:
            found.add(id(item))
    return frozenset(found)


_NUMBER: Final = r"[-+]?\d{1,3}(?:\.\d+)?"
# "lat,long" (or "long lat", "(lat, long)", a search geocode's "lat,long,radius").
_LATLONG: Final = re.compile(
    rf"\s*[(\[]?\s*({_NUMBER})(?:\s*[,;]\s*|\s+)({_NUMBER})\s*(?:,\s*\d+(?:\.\d+)?\s*(?:mi|km)?)?"
    r"\s*[)\]]?\s*",
    re.IGNORECASE,
)
_LONGEST_POINT: Final = 64
# A place ID: 16 hexadecimal digits.
_PLACE_ID: Final = re.compile(r"[0-9a-f]{16}")


def _in_range(first: float, second: float) -> bool:
    return (abs(first) <= 90 and abs(second) <= 180) or (abs(first) <= 180 and abs(second) <= 90)  # noqa: PLR2004  # degrees


def _text_point(text: str) -> bool:
    """Whether ``text`` is a coordinate pair written out (``"37.77,-122.41"``)."""
    if len(text) > _LONGEST_POINT or not any(char.isdigit() for char in text[:8]):
        return False
    match = _LATLONG.fullmatch(text)
    if match is None or "." not in match.group(1) + match.group(2):
        return False
    return _in_range(float(match.group(1)), float(match.group(2)))


def _pair(value: Any) -> bool:
    """Whether a list or tuple is a coordinate pair (or triple): numbers, one a fraction."""
    if not 2 <= len(value) <= 3:  # noqa: PLR2004  # longitude, latitude, altitude
        return False
    numbers = value[:2]
    if not all(type(item) in (int, float) for item in value):
        return False
    if not any(type(item) is float and not item.is_integer() for item in numbers):
        return False
    if not all(math.isfinite(item) for item in value):
        return False
    return _in_range(float(numbers[0]), float(numbers[1]))


# A search's location parameter, echoed in a URL or a query: v1.1 ``geocode=lat,long,radius``
# (and the ``geocode:`` operator), v2 ``point_radius:[...]`` and ``bounding_box:[...]``,
# ``place:``, ``place_country:`` and ``near:`` operators, and geo endpoints' own parameters
# in a URL's query.
_GEO_QUERY: Final = re.compile(
    r"""(?:^|[?&;\s"'(])geocode\s*[=:]\s*["']?[-+]?\d"""
    r"|\b(?:point_radius|bounding_box):\s*\["
    r"""|(?:^|[\s("'])-?(?:place|place_country|near):["']?\w"""
    r"|[?&](?:lat|long|lon|lng|latitude|longitude|place_id|attribute:\w+)=[^&#\s]",
    re.IGNORECASE,
)
_QUERY_MARKS: Final = frozenset(":=%")


def _geo_query_text(text: str) -> bool:
    """Whether ``text`` echoes a search's location parameter (URL-encoded or not)."""
    if len(text) < 7 or _QUERY_MARKS.isdisjoint(text):  # noqa: PLR2004  # "near:xy"
        return False
    if "%" in text or "+" in text:
        text = urllib.parse.unquote_plus(text)
    return _GEO_QUERY.search(text) is not None


# Where the walk recognises objects (outside content objects that are not whole), a pair or
# a "lat,long" text is taken for a point only when it looks like one: two fractions, each
# with at least two decimals (the API's points have four to eight), in range, and not both
# below 1 in size (shares, scores and probabilities are; the points they exclude lie in the
# sea off West Africa).
_DECIMALS: Final = 2


def _decimals(text: str) -> int:
    """How many decimals a number written as ``text`` has (``"1e-05"`` has five)."""
    exponent = decimal.Decimal(text).normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _neutral_numbers(first: str, second: str) -> bool:
    if _decimals(first) < _DECIMALS or _decimals(second) < _DECIMALS:
        return False
    a, b = float(first), float(second)
    return _in_range(a, b) and not (abs(a) < 1 and abs(b) < 1)


def _neutral_pair(value: Any) -> bool:
    """Whether a list or tuple under a neutral key is a point: `_pair`, with real precision."""
    if len(value) != 2 or not all(type(item) is float for item in value):  # noqa: PLR2004  # a pair
        return False
    if not all(math.isfinite(item) for item in value):
        return False
    return _neutral_numbers(repr(value[0]), repr(value[1]))


def _neutral_text_point(text: str) -> bool:
    """Whether a text under a neutral key is a "lat,long" pair with real precision."""
    if not _text_point(text):
        return False
    match = _LATLONG.fullmatch(text)
    return match is not None and _neutral_numbers(match.group(1), match.group(2))


# Location written out in other notations, found inside any text: WKT geometries
# ("POINT (2.35 48.85)"), degrees with hemispheres ("48°51'N 2°21'E"), map links carrying a
# point ("maps.google.com/?q=48.85,2.35", ".../@48.85,2.35,15z"), and "lat,long" pairs with
# real precision inside longer text (a CSV row "1,48.8566,2.3522").
_WKT: Final = re.compile(
    r"\b(?:SRID=\d+;\s*)?(?:MULTI)?(?:POINT|LINESTRING|POLYGON)\s*(?:Z|M|ZM)?\s*\(\s*\(?\s*"
    r"[-+]?\d",
    re.IGNORECASE,
)
_DEGREES: Final = re.compile(
    r"\d{1,3}(?:\.\d+)?\s*°[^°]{0,20}?[NS]\b[^°]{0,12}?\d{1,3}(?:\.\d+)?\s*°", re.IGNORECASE
)
_MAP_LINK: Final = re.compile(
    r"(?:[?&](?:q|ll|center|query|mlat|lat)=|/@)\s*[-+]?\d{1,3}\.\d+\s*(?:,|%2C|&m?lon=)\s*"
    r"[-+]?\d{1,3}\.\d+",
    re.IGNORECASE,
)
_PAIR_IN_TEXT: Final = re.compile(
    r"(?<![\w.])([-+]?\d{1,3}\.\d{2,})\s*[,;\t ]\s*([-+]?\d{1,3}\.\d{2,})(?![\w.])"
)
_SHORTEST_LOCATION: Final = 7


def _text_location(text: str) -> bool:
    """Whether ``text`` holds a point or shape in any notation `_text_location` reads."""
    if len(text) < _SHORTEST_LOCATION or not any(char.isdigit() for char in text):
        return False
    if _WKT.search(text) or _DEGREES.search(text) or _MAP_LINK.search(text):
        return True
    return any(
        _neutral_numbers(match.group(1), match.group(2)) for match in _PAIR_IN_TEXT.finditer(text)
    )


# Counts per place: a place's full name as Twitter writes it ("Paris, France", "Austin, TX")
# keying numbers, or a pair of such a name (or a known place name) and a number.
_NAME_PART: Final = re.compile(r"[^\W\d_][^\W_]*(?:[ '.-]+[^\W_]+)*")
_LONGEST_NAME: Final = 200


def _full_name(text: str, *, any_case: bool = False) -> bool:
    """Whether ``text`` is written as a place's full name: ``"Name, Region"``.

    Both parts capitalised, unless ``any_case`` (where numbers keyed by it say it is counted).
    """
    if len(text) > _LONGEST_NAME:
        return False
    name, comma, region = text.strip().partition(",")
    name, region = name.strip(), region.strip()
    return (
        bool(comma)
        and (any_case or (name[:1].isupper() and region[:1].isupper()))
        and _NAME_PART.fullmatch(name) is not None
        and _NAME_PART.fullmatch(region) is not None
    )


_COUNTS: Final = frozenset({int, float})


def _place_count(value: Any, names: PlaceNames | None) -> bool:
    """Whether a list or tuple is ``(place name, count)``: one item of counts per place."""
    if len(value) != 2:  # noqa: PLR2004  # a pair
        return False
    first, second = value
    if type(first) in _COUNTS:
        first, second = second, first
    if type(first) is not str or type(second) not in _COUNTS:
        return False
    return (
        _full_name(first, any_case=True)
        or (names is not None and first in names)
        or in_gazetteer(first)
    )


def _pair_known(value: Mapping[Any, Any], names: PlaceNames) -> bool:
    """Whether two of a mapping's numbers (values, items of its lists, keys) are a point read."""
    numbers = numbers_of(value.values())
    numbers.extend(n for n in map(coordinate, value) if n is not None)
    return names.knows_pair(numbers)


# Two numbers with decimals in text ("52.5, 13.4", "52.5 13.4", "52.5/13.4").
_A_DECIMAL: Final = r"[-+]?(?:\d{1,3}\.\d+(?:e[-+]?\d{1,3})?|\d(?:\.\d+)?e-\d{1,3})"
_ANY_PAIR_IN_TEXT: Final = re.compile(
    rf"(?<![\w.])({_A_DECIMAL})\s*[,;\t /]\s*({_A_DECIMAL})(?![\w.])", re.IGNORECASE
)


# Texts of at most this many characters have what they are on their own (apart from the
# place names and points read) cached: keys and values repeat from record to record.
_CACHED_LONGEST: Final = 256
_CACHED_TEXTS: Final = 8_192


def _text_pair_known(text: str, names: PlaceNames) -> bool:
    """Whether a text writes out a point read (at any rounding, in either order).

    Decimals, two integers scaled by 10**5 to 10**7 (``"377749300,-1224194200"``), degrees
    and minutes (and seconds) with a hemisphere, in ASCII (``37 46 29.7 N``) or with signs.
    """
    if len(text) > _LONGEST_TEXT:
        text = text[:_LONGEST_TEXT]
    if _DIGIT.search(text) is None:
        return False
    pairs, scaled, degrees = (
        _pairs_written(text) if len(text) <= _CACHED_LONGEST else _pairs_written.__wrapped__(text)
    )
    if any(names.knows_pair(list(pair)) for pair in pairs):
        return True
    if scaled and names.knows_pair(list(scaled)):
        return True
    return len(degrees) > 1 and names.knows_pair(list(degrees))


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _pairs_written(
    text: str,
) -> tuple[tuple[tuple[float, float], ...], tuple[float, ...], tuple[float, ...]]:
    """What `_text_pair_known` asks about a text: its decimal pairs, scaled integers, degrees."""
    pairs: tuple[tuple[float, float], ...] = ()
    if "." in text or "e-" in text or "E-" in text:
        pairs = tuple(
            (float(match.group(1)), float(match.group(2)))
            for match in _ANY_PAIR_IN_TEXT.finditer(text)
        )
    return pairs, tuple(text_scaled(text)), tuple(_degrees(text))


_LONGEST_TEXT: Final = 100_000


def key_location(key: Any, names: PlaceNames | None = None) -> GeoKind | None:
    """What location a mapping key is, or ``None``.

    A coordinate pair, a "lat,long" text, a place ID (16 hexadecimal digits), a search's
    location parameter, or a place name ``names`` knows.
    """
    if type(key) is str:
        static = _key_kind(key) if len(key) <= _CACHED_LONGEST else _key_kind.__wrapped__(key)
        if static is not None:
            return static
        if names is not None and (_text_pair_known(key, names) or names.encodes_text(key)):
            return GeoKind.POINT
        return GeoKind.PLACE if names is not None and key in names else None
    if isinstance(key, tuple):
        if _pair(key) or (
            names is not None
            and names.knows_pair(
                [*(n for n in map(coordinate, key) if n is not None), *scaled_numbers(key)]
            )
        ):
            return GeoKind.POINT
        # A composite key: (place, day), (user, "Paris, France"), ((lat, long), hour) ...
        return next(
            (kind for kind in (key_location(part, names) for part in key) if kind is not None),
            GeoKind.PLACE if any(type(p) is str and _full_name(p) for p in key) else None,
        )
    return None


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _key_kind(key: str) -> GeoKind | None:
    """What a mapping key is as location whatever was read (`key_location`), or ``None``."""
    if _PLACE_ID.fullmatch(key):
        return GeoKind.PLACE_REFERENCE
    if _geo_query_text(key):
        return GeoKind.GEO_QUERY
    if _text_point(key) or _text_location(key):
        return GeoKind.POINT
    return None


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _text_kind(text: str, walked: bool) -> GeoKind | None:  # noqa: FBT001  # cached: positional
    """What a text value is as location whatever was read (`scan_value`), or ``None``."""
    if _geo_query_text(text):
        return GeoKind.GEO_QUERY
    if (_text_point(text) if not walked else _neutral_text_point(text)) or _text_location(text):
        return GeoKind.POINT
    return None


def scan_value(  # noqa: C901, PLR0912, PLR0915  # one iterative reader of any JSON
    value: Any,
    base: Path,
    *,
    walked: bool,
    skip: frozenset[int],
    names: PlaceNames | None = None,
) -> Iterator[tuple[Path, GeoKind]]:
    """Location in JSON no table row describes: location keys, and keys that are location.

    ``walked``: the walk recognises objects here (it searches these values), so objects it
    recognises are left to it. Otherwise (what a content object without its content holds)
    everything is read but the ``skip`` objects (the ones the walk visits through child
    slots), and bare coordinate pairs and "lat,long" texts count too: with no content
    around them, numbers shaped like a point are taken for one. Where the walk recognises
    objects, only pairs and texts shaped like real coordinates (`_neutral_pair`) count.
    Texts that echo a search's location parameter (`_geo_query_text`), and texts and keys
    that are known place names (``names``), are location in both.
    """
    stack: list[tuple[Any, Path]] = [(value, base)]
    seen: set[int] = set()  # containers read (a shared one once; a cycle ends)
    while stack:
        item, path = stack.pop()
        if id(item) in skip:
            continue
        kind = type(item)
        if kind is str:
            static = (
                _text_kind(item, walked)
                if len(item) <= _CACHED_LONGEST
                else _text_kind.__wrapped__(item, walked)
            )
            if static is not None:
                yield path, static
            elif names and names.names_value(item):
                yield path, GeoKind.PLACE
            elif names is not None and (_text_pair_known(item, names) or names.encodes_text(item)):
                yield path, GeoKind.POINT  # a point read: decimals, scaled, degrees, encoded
            continue
        if kind in _SCALAR_TYPES:
            continue
        if kind in _BYTES_TYPES:  # text kept as bytes is read as the text it is
            text = _bytes_text(item)
            if text is not None:
                stack.append((text, path))
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        item = adapt(item)
        if isinstance(item, Mapping):
            if walked and classify(item) is not None:
                continue
            if names is not None and _pair_known(item, names):
                yield path, GeoKind.POINT  # two neutral numbers that are a point read
                continue
            if len(item) == 2 and _place_count(tuple(item.values()), names):  # noqa: PLR2004  # a row
                yield path, GeoKind.PLACE  # a row of counts per place: {"name": ..., "n": 3}
                continue
            counts = bool(item) and all(type(element) in _COUNTS for element in item.values())
            for key, element in item.items():
                if counts and type(key) is str and _full_name(key, any_case=True):
                    yield (*path, key), GeoKind.PLACE  # counts per place ("Paris, France": 12)
                    continue
                if type(key) is str and aggregate(element) and in_gazetteer(key):
                    yield (*path, key), GeoKind.PLACE  # counts (or IDs) per well-known place
                    continue
                loose = loose_key(key)
                if loose is not None:
                    geo_kind = location_kind(element, LOOSE_KEYS[loose])
                    if geo_kind is not None:
                        yield (*path, key), geo_kind
                    continue
                key_kind = key_location(key, names)
                if key_kind is not None:
                    yield (*path, key), key_kind
                    continue
                stack.append((element, (*path, key)))
        elif isinstance(item, (list, tuple)):
            if _pair(item) if not walked else _neutral_pair(item):
                yield path, GeoKind.POINT
                continue
            if _place_count(item, names):
                yield path, GeoKind.PLACE  # one item of counts per place, as pairs
                continue
            if names is not None and names.knows_pair(
                [*(n for n in map(coordinate, item) if n is not None), *scaled_numbers(item)]
            ):
                yield path, GeoKind.POINT  # a point read, rounded, swapped, as text, scaled
                continue
            stack.extend((element, (*path, index)) for index, element in enumerate(item))
        elif isinstance(item, (set, frozenset)):
            stack.extend((element, (*path, index)) for index, element in enumerate(item))


_SCALAR_TYPES: Final = frozenset({int, float, bool, type(None)})
_BYTES_TYPES: Final = frozenset({bytes, bytearray, memoryview})


def _bytes_text(data: bytes | bytearray | memoryview) -> str | None:
    """Bytes as the text they hold, decoded as `json.loads` decodes; ``None``: not text."""
    raw = bytes(data)
    try:
        return raw.decode(json.detect_encoding(raw))
    except UnicodeDecodeError:
        return None  # binary (an image, compressed data): no text to read


# Places read with a Tweet, in the owners' filters, apart from points.
_PLACE_MARK: Final = b"p:"
# The last word of a text (a name written as words only ends "CA", "(CA)", "CA."...).
_LAST_WORD: Final = re.compile(r"([^\W_]+)[\W_]*$")
_LONGEST_WORD: Final = 64


@functools.lru_cache(maxsize=8192)  # the same texts recur in every record
def _last_word(tail: str) -> str | None:
    """The last word of a text's end, without case (`PlaceNames._words_known`)."""
    last = _LAST_WORD.search(unicodedata.normalize("NFKC", tail))
    return None if last is None else last.group(1).casefold()


_CODE_MARK: Final = b"c:"  # a point read with a Tweet, encoded (`point_codes`)
_AREA_MARK: Final = b"a:"
_NO_NAMES: Final[Mapping[str, list[str]]] = {}
_NO_AREAS: Final[Mapping[str, list[tuple[float, float]]]] = {}


class PlaceNames:
    """Location known to come from Twitter Content: place names, place IDs and points.

    Text alone cannot tell ``"Exampleton"`` from any other word, nor two numbers from a
    point; having read them in a place or a Tweet's coordinates can. The names of each
    place read (its ``full_name``, ``name``, ``country`` or ID, a Gnip place's
    ``displayName``, a trends location's ``name``) are kept, up to ``limit`` of them, the
    oldest forgotten first, and the points read (`twpolicy._payloads._locations.Points`),
    up to ``points`` of them. Names compare after NFKC, without case and spacing
    (``"paris ,France"`` is ``"Paris, France"``); JSON field names and texts shorter than
    three characters are never taken for places.

    Args:
        names: names known from the start (a gazetteer of your own).
        limit: the most learned names to keep.
        base: what is also known (read, never changed): one `PlaceNames` or several.
        points: the most points to keep.
    """

    __slots__ = ("_bases", "_given", "_learned", "_limit", "_lock", "_word_ends", "points")

    def __init__(
        self,
        names: Iterable[str] = (),
        *,
        limit: int = 100_000,
        base: PlaceNames | Iterable[PlaceNames] | None = None,
        points: int = 10_000,
    ) -> None:
        self._given = frozenset(key for key in map(_name_key, names) if key is not None)
        self._learned: dict[str, None] = {}
        self._limit = limit
        self._bases: tuple[PlaceNames, ...] = (
            () if base is None else (base,) if isinstance(base, PlaceNames) else tuple(base)
        )
        self._lock = threading.Lock()
        self.points = Points(points)
        # The last word of each name learned as words only (`words_key`): a text ending in
        # none of them is not looked up as one.
        self._word_ends: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self._given)} given, {len(self._learned)} learned, "
            f"{len(self.points)} points)"
        )

    def __len__(self) -> int:
        return len(self._given) + len(self._learned) + sum(len(base) for base in self._bases)

    def __contains__(self, text: object) -> bool:
        key = _name_key(text)
        if key is not None and self._has(key):
            return True
        return self._words_known(text)

    def names_value(self, text: object) -> bool:
        """Whether a text on its own (not a key, not counted) names a known place.

        Only full names (``"Exampleton, EX"``, also as words without the comma:
        ``"Exampleton EX"``, ``"Exampleton (EX)"``, or with the place's country), place IDs
        and given names count: a single name such as a country's is too often something
        else (a language is called "Indonesia" too).
        """
        key = _name_key(text)
        if key is None:
            return False
        if self._has(key):
            return "," in key or _PLACE_ID.fullmatch(key) is not None or self._given_has(key)
        return self._words_known(text)

    def _word_ended(self, word: str) -> bool:
        return word in self._word_ends or any(
            base._word_ended(word)  # noqa: SLF001  # same class
            for base in self._bases
        )

    def _words_known(self, text: object) -> bool:
        """Whether ``text`` is, as words only, a full name learned (`words_key`)."""
        if type(text) is not str:
            return False
        last = _last_word(text[-_LONGEST_WORD:])
        if last is None or not self._word_ended(last):
            return False
        words = words_key(text)
        return words is not None and self._has(words)

    def encodes_text(self, text: str) -> bool:
        """Whether ``text`` holds an encoding of a point read: a geohash, a plus code."""
        tokens = list(code_tokens(text))
        return bool(tokens) and self._encodes(tokens)

    def _encodes(self, tokens: list[bytes]) -> bool:
        cells = self.points.cells()
        if cells is not None:
            mine = [t for t in tokens if in_cells(t, cells)]
            if mine and self.points.encodes(mine):
                return True
        return any(base._encodes(tokens) for base in self._bases)  # noqa: SLF001  # same class

    def knows_pair(self, numbers: Sequence[float]) -> bool:
        """Whether two of ``numbers`` are a point read before (rounded, swapped: any copy)."""
        return self.points.among(numbers) or any(base.knows_pair(numbers) for base in self._bases)

    def pairs_with(self, number: float, others: Collection[float]) -> bool:
        """Whether ``number`` and one of ``others`` are a point read before."""
        return self.points.pairs_with(number, others) or any(
            base.pairs_with(number, others) for base in self._bases
        )

    def _given_has(self, key: str) -> bool:
        return key in self._given or any(
            base._given_has(key)  # noqa: SLF001  # same class
            for base in self._bases
        )

    def _has(self, key: str) -> bool:
        return (
            key in self._given
            or key in self._learned
            or any(base._has(key) for base in self._bases)  # noqa: SLF001  # same class
        )

    def _add(self, keys: Iterable[str]) -> bool:
        new = [key for key in keys if not self._has(key)]
        if not new:
            return False
        with self._lock:
            learned = self._learned
            for key in new:
                learned.pop(key, None)
                learned[key] = None
            while len(learned) > self._limit:
                del learned[next(iter(learned))]
        return True

    def learn(self, place: Any) -> bool:
        """Learn the names of a place (a mapping); whether any was new."""
        if not isinstance(place, Mapping):
            return False
        found = [_name_key(place.get(field)) for field in _NAME_FIELDS]
        forms = _word_forms(place)
        if forms:
            self._word_ends.update(form.rsplit(" ", 1)[-1] for form in forms)
            found.extend(forms)
        return self._add(key for key in found if key is not None)

    def learn_points(self, datum: Any) -> bool:
        """Learn the points of a location datum (coordinates, a place); whether any was new."""
        if type(datum) is str:
            match = _LATLONG.fullmatch(datum) if len(datum) <= _LONGEST_POINT else None
            pairs: Iterable[tuple[float, float]] = (
                [(float(match.group(1)), float(match.group(2)))] if match else []
            )
        else:
            pairs = pairs_in(datum)
        fresh = False
        for first, second in pairs:
            fresh = self.points.add(first, second) or fresh
        return fresh

    def absorb(self, other: PlaceNames) -> None:
        """Learn what ``other`` learned."""
        self._add(list(other._learned))
        self._word_ends |= other._word_ends
        self.points.absorb(other.points)


#: The most names `LocationMemory` also keeps exactly (about 100 bytes a name, so 0.5 MB).
_EXACT_NAMES_MOST: Final = 5_000


def _word_forms(place: Mapping[str, Any]) -> list[str]:
    """A place's full name as words only, and its name with its country (`words_key`).

    Only names of more than one part: a place's bare name is ordinary speech.
    """
    forms = []
    full_name = place.get("full_name")
    if type(full_name) is str and "," in full_name:
        forms.append(words_key(full_name))
    name = place.get("name")
    if type(name) is str and name.strip():
        for field in _COUNTRY_FIELDS:
            country = place.get(field)
            if type(country) is str and country.strip() and _name_key(country) != _name_key(name):
                forms.append(words_key(f"{name} {country}"))
    if type(full_name) is str and type(name) is str:  # its region and country spelled otherwise
        country, code = place.get("country"), place.get("country_code")
        forms.extend(
            spelled_otherwise(
                name,
                full_name,
                country if type(country) is str else "",
                code if type(code) is str else "",
            )
        )
    return [form for form in forms if form is not None]


class LocationMemory(PlaceNames):
    """The guard's memory of the location it has read in Twitter Content (I.B.7).

    Fed by the enforcement points, never by rules: every response a guarded client reads
    (`observe`: only where the table of shapes says location lives, v2 ``includes.places``
    and ``geo``, v1.1 ``place``, ``coordinates`` and ``geo``), and every payload
    `check_storable`, ``@no_standalone_geo``, `GeoSafeMapping`, ``dehydrate`` and
    ``twpolicy scan`` are given (`observe_all`). The ``geo.standalone`` rule reads it (through
    the rule context) and refuses storing any of it apart from its whole Tweet: a place name
    as a mapping key, two neutral numbers that are a point read, at any rounding, swapped or
    as text; and a Tweet's exact point read with one Tweet kept as the location of another
    (`moved`).

    It never forgets: names, points and owners (points and places read with a Tweet, with
    its ID) are kept in Bloom filters that start small and grow
    (`twpolicy._payloads._locations.GrowingBloom`), so whatever was read is recognised
    however much was read after it, and an application that read little holds little
    (about 0.3 MB at the defaults until more is read; while few were read, they are also
    kept exactly, about 2.5 MB at most, so that asking costs no digest). Something never
    read is taken for something read at ``rate`` at most (a refusal, never a miss), however
    much was read.
    The filters are anonymous memory maps sized for 16 copies a point (8 to 13.4 on average
    for points of 4 to 8 decimals).

    Args:
        names: how many place names (and place IDs) the first filter holds.
        points: how many points the first filters hold.
        owned: how many (point, Tweet) readings the first filters hold.
        rate: the chance that something never read is taken for something read.
    """

    __slots__ = (
        "_exact_names",
        "_names",
        "_owned",
        "_owned_values",
        "_owners",
        "_pending_owners",
        "_place_owned",
        "_places_read",
        "_span_size",
        "_tails",
        "_uncoded_owners",
        "_word_tails",
    )

    def __init__(
        self,
        *,
        names: int = 10_000,
        points: int = 1_000,
        owned: int = 1_000,
        rate: float = 1e-6,
    ) -> None:
        super().__init__(limit=names, points=0)
        self.points = LastingPoints(points, rate)
        self._names = GrowingBloom(names, rate)
        # Every name in the filter, while they are few (`_EXACT_NAMES_MOST`): asked here, a
        # name costs no digest and is never found wrongly; past the bound, the filter only.
        self._exact_names: set[str] | None = set()
        # Points read as a Tweet's own (every copy), and each copy with the Tweet's ID.
        self._owned = GrowingBloom(owned * COPIES_PER_POINT, rate)
        self._owners = GrowingBloom(owned * COPIES_PER_POINT, rate)
        # Their numbers (every rounding): a cheap first look at numbers kept in a Tweet.
        self._owned_values = GrowingBloom(owned * NUMBERS_PER_POINT, 1e-2)
        self._pending_owners: list[tuple[float, float, str]] = []
        # Owned points whose encodings are not in the filters yet: put in only when a text
        # holds a token shaped like one (`_code_moved`).
        self._uncoded_owners: list[tuple[float, float, bytes]] = []
        # Whether a place was read with a Tweet or a user: only then is free text looked up.
        self._place_owned = False
        # The most words and commas of a place name read with an owner: how long a span of
        # free text can name one.
        self._span_size = 0
        # The first word after each comma of those names: a comma in text followed by any
        # other word starts no full name read (a set as small as the regions read).
        self._tails: set[str] = set()
        # The last word of each of those names as words only (`words_key`): a word of free
        # text that ends none ends no name written without its comma.
        self._word_tails: set[str] = set()
        # The places read lately (names and area), by ID, with their points: read again,
        # they are not worked out again. Only a cache: the filters keep everything.
        self._places_read: dict[tuple[str, ...], None] = {}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._names.count} names, {len(self.points)} points, "
            f"{self._owners.count} owned copies)"
        )

    def __len__(self) -> int:
        return len(self._given) + self._names.count

    @property
    def nbytes(self) -> int:
        """The size of its filters, in bytes (pages never touched take no memory)."""
        assert isinstance(self.points, LastingPoints)  # noqa: S101  # set in __init__
        return (
            self.points.nbytes
            + self._names.nbytes
            + self._owned.nbytes
            + self._owners.nbytes
            + self._owned_values.nbytes
        )

    def _has(self, key: str) -> bool:
        exact = self._exact_names
        if exact is not None:
            return key in self._given or key in exact
        return key in self._given or key.encode() in self._names

    def _add(self, keys: Iterable[str]) -> bool:
        fresh = False
        with self._lock:
            exact = self._exact_names
            for key in keys:
                if exact is not None:
                    if key in exact:
                        continue  # in the filter already: adding it again finds it
                    exact.add(key)
                fresh = self._names.add(key.encode()) or fresh
            if exact is not None and len(exact) > _EXACT_NAMES_MOST:
                self._exact_names = None
        return fresh

    def observe(self, document: Any) -> None:
        """Learn the location of an API response, reading only where location lives.

        Cheap enough for every read: a v2 response's ``includes.places`` and its Tweets'
        ``geo``; a v1.1 Tweet's (or a list's, or a search's ``statuses``') ``place``,
        ``coordinates`` and ``geo``, and those of its retweeted and quoted Tweet; a geo
        endpoint's ``result.places``; a trends answer's ``locations``. Nothing else of the
        response is visited. What is learned here has no owner: only the guarded clients'
        own read hook says which Tweet a point was read with (see `moved`).
        """
        self._observe(document, owned=False)

    def _observe(self, document: Any, *, owned: bool) -> None:
        self._observe_locations(document, owned=owned)
        if owned:
            self._own_users_and_texts(document)

    def _own_users_and_texts(self, document: Any) -> None:
        """Record each user read with their location, and each place named in text read.

        Users are judged by owner as Tweets are: a user's ``profile_location`` place and
        ``location`` text are recorded with the user's ID. Once a place was read with a
        Tweet or a user, the full names and IDs of such places written in the free text of
        every Tweet and user read (`_text_place_keys`) are recorded with their object's ID,
        so that a Tweet read as it is keeps the names its own text holds.
        """
        holders = list(_holders(document))
        for family, holder in holders:
            if family == "user":
                self._user(holder)
        self._own_numbers(holders)
        if not self._place_owned:
            return
        owned, owners, size, tails = self._owned, self._owners, self._span_size, self._tails
        word_tails = self._word_tails
        for family, holder in holders:
            holder_id = _tweet_id(holder)
            if holder_id is None:
                continue
            tail = b"|" + _token(family, holder_id).encode()
            own = holder
            if family == "user" and "location" in holder:  # recorded as read (`_user`)
                own = {key: item for key, item in holder.items() if key != "location"}
            keys = {
                key
                for text in _content_strings(own, every=bool(word_tails))
                for key in _text_place_keys(text, size, tails, word_tails)
            }
            mine = [data for key in keys if (data := _PLACE_MARK + key.encode()) in owned]
            if mine:
                with self._lock:
                    for data in mine:
                        owners.add(data + tail)

    def _own_numbers(self, holders: list[tuple[str, Mapping[str, Any]]]) -> None:
        """Record the points each Tweet and user read holds in its own content as its own.

        A user read with a Tweet may hold, in its counts, numbers that scaled are that
        Tweet's point (``statuses_count`` 999991 and ``favourites_count`` 10000 are 0.1 and
        0.1): read as it is, that object keeps them (`_moved_numbers`), as it keeps the
        names its own text holds. Only pairs that are a point or area read with some object.
        """
        if not self.owns_any():
            return
        self._ready_owners()
        values, owned = self._owned_values, self._owned
        mine: list[bytes] = []
        for family, holder in holders:
            holder_id = _tweet_id(holder)
            if holder_id is None:
                continue
            tail = b"|" + _token(family, holder_id).encode()
            numbers = _content_numbers(holder)
            found = [n for n in numbers if int_bytes(_scaled_coordinate(n)) in values]
            for index, first in enumerate(found):
                for second in found[index + 1 :]:
                    if _whole(first) and _whole(second):
                        continue  # never judged (`_moved_numbers`)
                    scaled = _scaled_coordinate(first), _scaled_coordinate(second)
                    data = int_bytes(canonical_key(*scaled))
                    mine.extend(key + tail for key in (data, _AREA_MARK + data) if key in owned)
        if mine:
            with self._lock:
                for data in mine:
                    self._owners.add(data)

    def _user(self, user: Mapping[str, Any]) -> None:
        """Record a user read with their location: ``profile_location`` and ``location``."""
        user_id = _tweet_id(user)
        if user_id is None:
            return
        token = _USER_PREFIX + user_id
        for _key, place in _user_places(user):
            if isinstance(place, Mapping):
                self._place(place)
            keys = list(_place_keys_in(place, _NO_NAMES, record=True))
            if keys:
                self._own_place(keys, token, pairs_in(place))
        location = user.get("location")
        if type(location) is not str:
            return
        key = _place_key(location)
        if key is not None:  # their location as read: theirs, whatever place it names
            with self._lock:
                self._owners.add(_TEXT_MARK + key.encode() + b"|" + token.encode())
        numbers = [n for n in map(coordinate, _TEXT_NUMBER.findall(location)) if n is not None]
        if len(numbers) == 2:  # noqa: PLR2004  # a point written as the user's location
            self._pending_owners.append((numbers[0], numbers[1], token))

    def _observe_locations(self, document: Any, *, owned: bool, depth: int = 0) -> None:
        value = document if type(document) is dict else adapt(document)
        if isinstance(value, (list, tuple)):
            for item in value:  # v1.1 timelines and lookups, geo and trends lists
                item_value = item if type(item) is dict else adapt(item)
                if type(item_value) is dict or isinstance(item_value, Mapping):
                    self._tweet(item_value, owned=owned)
                    if "place_type" in item_value or "locations" in item_value:
                        self._observe_one(item_value, owned=owned)
                elif isinstance(item_value, (list, tuple)) and depth == 0:
                    self._observe_locations(item_value, owned=owned, depth=1)  # a page, cursors
            return
        if type(value) is dict or isinstance(value, Mapping):
            self._observe_one(value, owned=owned)

    def _observe_one(self, value: Mapping[str, Any], *, owned: bool) -> None:  # noqa: C901, PLR0912  # one look per shape
        get = value.get
        includes = get("includes")
        named: Mapping[str, list[str]] = _NO_NAMES
        areas: Mapping[str, list[tuple[float, float]]] = _NO_AREAS
        if includes and isinstance(includes, Mapping):
            places = _listed(includes.get("places"))
            for place in places:
                self._place(place)
            if owned and places:
                named = _names_by_id(places)  # a v2 Tweet's place_id, to its place's names
                areas = {
                    key: list(pairs_in(place))
                    for place in places
                    if isinstance(place, Mapping)
                    and (key := _place_key(place.get("id"))) is not None
                }
            for tweet in _listed(includes.get("tweets")):
                self._v2_tweet(tweet, owned=owned, named=named, areas=areas)
        data = get("data")
        if data:
            if type(data) is list:
                for tweet in data:  # v2 Tweets: their location is in ``geo``
                    self._v2_tweet(tweet, owned=owned, named=named, areas=areas)
            else:
                self._tweet(data, owned=owned, named=named, areas=areas)
        statuses = get("statuses")
        if statuses:
            for tweet in _listed(statuses):
                self._tweet(tweet, owned=owned)
        users = get("users")
        if users:
            for user in _listed(users):  # v1.1 user lists: each user's last Tweet
                self._tweet(user, owned=owned)
        result = get("result")
        if result and isinstance(result, Mapping):
            for place in _listed(result.get("places")):
                self._place(place)
        locations = get("locations")
        if locations:
            for location in _listed(locations):
                self.learn(location)
        if "place_type" in value and "full_name" in value:  # a place on its own (geo/id)
            self._place(value)
        self._tweet(value, owned=owned)

    def _v2_tweet(
        self,
        tweet: Any,
        *,
        owned: bool,
        named: Mapping[str, list[str]] = _NO_NAMES,
        areas: Mapping[str, list[tuple[float, float]]] = _NO_AREAS,
    ) -> None:
        geo = tweet.get("geo") if type(tweet) is dict else None
        if geo:
            self._geo(geo, _tweet_id(tweet) if owned else None, named, areas)

    def _geo(
        self,
        geo: Any,
        owner: str | None = None,
        named: Mapping[str, list[str]] = _NO_NAMES,
        areas: Mapping[str, list[tuple[float, float]]] = _NO_AREAS,
    ) -> None:
        """A Tweet's ``geo``: v2 ``{place_id, coordinates}``, v1.1 ``{type, coordinates}``."""
        if not isinstance(geo, Mapping):
            return
        self._point(geo, owner)
        place_id = geo.get("place_id")
        if place_id is not None:
            key = _name_key(place_id)
            if key is not None:
                self._add([key])
            own = _place_key(place_id)
            if owner is not None and own is not None:
                # The place's names and area: from includes (v2), or in ``geo`` (flattened).
                keys = [*_place_keys_in(geo, named, record=True)]
                area = [*areas.get(own, ()), *(pairs_in(geo) if len(geo) > 2 else ())]  # noqa: PLR2004  # more than place_id and coordinates
                self._own_place(keys, owner, area)

    def _own_place(
        self, keys: Iterable[str], owner: str, area: Iterable[tuple[float, float]] = ()
    ) -> None:
        """Record that the Tweet ``owner`` was read with the place named by ``keys``.

        The corners of its area (``area``, as read) are recorded as the Tweet's too: a
        point of interest's area is one point, which may be another Tweet's exact point.
        """
        tail = b"|" + owner.encode()
        with self._lock:
            owned, owners = self._owned, self._owners
            self._place_owned = True
            for key in keys:
                if key.startswith("~"):  # as words only (`words_key`)
                    words = key[1:].split(" ")
                    self._span_size = max(self._span_size, len(words))
                    self._word_tails.add(words[-1])
                elif "," in key:
                    self._span_size = max(self._span_size, len(_SPAN_PIECE.findall(key)))
                    self._tails.update(
                        part.split(" ", 1)[0] for part in key.split(", ")[1:] if part
                    )
                data = _PLACE_MARK + key.encode()
                owned.add(data)
                owners.add(data + tail)
            for first, second in area:
                scaled = _scaled_coordinate(first), _scaled_coordinate(second)
                data = int_bytes(canonical_key(*scaled))
                owners.add(data + tail)  # a point of interest's area: the Tweet's own point
                owned.add(_AREA_MARK + data)  # the area as read with a Tweet
                owners.add(_AREA_MARK + data + tail)
                for number in scaled:
                    self._owned_values.add(int_bytes(number))

    def _point(self, holder: Mapping[str, Any], owner: str | None = None) -> None:
        """The point of a GeoJSON ``Point`` (or of v2 ``geo``'s), read directly if it can be."""
        position = holder.get("coordinates")
        if type(position) is dict:
            position = position.get("coordinates")
        if type(position) is list and len(position) == 2:  # noqa: PLR2004  # a position
            first, second = position
            if type(first) is float and type(second) is float:
                if math.isfinite(first) and math.isfinite(second):
                    self.points.add(first, second)
                    if owner is not None:
                        self._pending_owners.append((first, second, owner))
                return
        pairs = list(pairs_in(holder))
        for first, second in pairs:
            self.points.add(first, second)
            if owner is not None:
                self._pending_owners.append((first, second, owner))

    def _place(self, place: Any) -> None:
        if not isinstance(place, Mapping):
            return
        place_id = place.get("id")
        if type(place_id) is not str:
            self.learn(place)
            self.learn_points(place)
            return
        read = self._places_read
        # A place by its ID and what it says (names, country, area): a place read again under
        # its ID with other names or another area is learned again, not taken as read.
        key = (place_id, *(repr(place.get(field)) for field in _PLACE_LEARNED))
        if key in read:
            return  # read already: the filters hold it
        self.learn(place)
        self.learn_points(place)
        read[key] = None
        if len(read) > _PLACES_CACHED:
            read.pop(next(iter(read)), None)

    def _tweet(
        self,
        tweet: Any,
        depth: int = 0,
        *,
        owned: bool = False,
        named: Mapping[str, list[str]] = _NO_NAMES,
        areas: Mapping[str, list[tuple[float, float]]] = _NO_AREAS,
    ) -> None:
        if type(tweet) is not dict and not isinstance(tweet, Mapping):
            return
        get = tweet.get
        geo, coordinates, place = get("geo"), get("coordinates"), get("place")
        owner = _tweet_id(tweet) if owned and (geo or coordinates or place) else None
        if geo:
            self._geo(geo, owner, named, areas)
        if coordinates and isinstance(coordinates, Mapping):
            self._point(coordinates, owner)
        if place:
            self._place(place)
            if owner is not None and isinstance(place, Mapping):
                keys = _place_keys_in(place, _NO_NAMES, record=True)
                self._own_place(keys, owner, pairs_in(place))
        if depth < _NESTED_TWEETS:
            # A Retweet's, a quote's and a user's last Tweet (a Retweet of a quote: two deep).
            retweeted, quoted, status = (
                get("retweeted_status"),
                get("quoted_status"),
                get("status"),
            )
            if retweeted:
                self._tweet(retweeted, depth + 1, owned=owned)
            if quoted:
                self._tweet(quoted, depth + 1, owned=owned)
            if status:
                self._tweet(status, depth + 1, owned=owned)

    def _ready_owners(self) -> None:
        """Put the owners read since the last check into the filters (every copy)."""
        if not self._pending_owners:
            return
        with self._lock:
            pending, self._pending_owners = self._pending_owners, []
            owned, owners, values = self._owned, self._owners, self._owned_values
            for first, second, tweet_id in pending:
                copies, numbers = point_copies(first, second)
                tail = b"|" + tweet_id.encode()
                for key in copies:
                    data = int_bytes(key)
                    owned.add(data)
                    owners.add(data + tail)
                for number in numbers:
                    values.add(int_bytes(number))
                self._uncoded_owners.append((first, second, tail))  # `_code_moved`
                exact = canonical_key(_scaled_coordinate(first), _scaled_coordinate(second))
                owned.add(b"=" + int_bytes(exact))  # the point as read, for places' areas

    def moved(
        self, first: float, second: float, tweet_id: str | None, *, exact: bool = False
    ) -> bool:
        """Whether ``(first, second)``, kept as a Tweet's own location, was read with others.

        True when the point (at any rounding, in either order; with ``exact``, only as read)
        was read through a guarded client as the exact location of some Tweet and never with
        the Tweet ``tweet_id`` (``None``: a Tweet without an ID, which no reading names).
        Points read without an owner (in a place's area, in a payload checked for storage)
        are not judged so.
        """
        self._ready_owners()
        if not self._owned.count:
            return False
        first_scaled, second_scaled = _scaled_coordinate(first), _scaled_coordinate(second)
        if first_scaled % _MILLION == 0 and second_scaled % _MILLION == 0:
            return False  # two whole numbers are never taken for a point
        data = int_bytes(canonical_key(first_scaled, second_scaled))
        if (b"=" + data if exact else data) not in self._owned:
            return False
        return tweet_id is None or data + b"|" + tweet_id.encode() not in self._owners

    def owns_any(self) -> bool:
        """Whether any point was read with its Tweet (whether `moved` can say yes)."""
        return bool(self._pending_owners or self._owned.count)

    def place_moved(self, key: str, tweet_id: str | None) -> bool:
        """Whether a place was read with some Tweet, and never with the Tweet ``tweet_id``.

        ``key``: the place's ID, full name or name as recorded (`_place_key`); read through
        a guarded client only.
        """
        data = _PLACE_MARK + key.encode()
        if data not in self._owned:
            return False
        return tweet_id is None or data + b"|" + tweet_id.encode() not in self._owners

    def moved_findings(self, payload: Any) -> list[GeoFinding]:
        """The Tweets of ``payload`` whose own point or place was read as another Tweet's.

        ``payload`` as a store action carries it: JSON text is read as the JSON it holds, a
        function's arguments and a mapping's item each as what is stored.
        """
        if not self.owns_any():
            return []
        found = []
        for prefix, stored in _stored_parts(payload):
            try:
                nodes = list(walk(_json_text(stored)))
            except (PayloadError, RecursionError):
                continue  # the other checks refuse what cannot be read or walked
            named = _names_in(nodes)
            for node in nodes:
                family = CONTENT_FAMILY.get(node.kind)
                if family in {"tweet", "dm"}:
                    tweet_id = node.read_id().value
                    where = (
                        self._moved_point(node, tweet_id)
                        or self._moved_place(node, tweet_id, named)
                        or self._moved_text(node.value, tweet_id, family)
                    )
                elif family == "user":
                    tweet_id = node.read_id().value
                    where = self._moved_user(node, tweet_id, named)
                else:
                    continue
                if where is not None:
                    path, geo_kind = where
                    found.append(
                        GeoFinding(
                            prefix + node.pointer + pointer_of(path),
                            geo_kind,
                            True,  # noqa: FBT003  # the dataclass field
                            f"moved_to_another_{family}",
                            prefix + node.pointer,
                            node.kind.value,
                            tweet_id,
                        )
                    )
        return found

    def _moved_text(
        self, value: Mapping[str, Any], object_id: str | None, family: str
    ) -> tuple[Path, GeoKind] | None:
        """Whether an object's own text names a place read with other objects only.

        Every string of its own content (its text, a user's description and name, its
        entities, keys of its own; nested Tweets and users are judged as themselves): full
        names (``"Name, Region"``, any case or spacing) and place IDs, looked up only once
        some place was read with a Tweet or a user.
        """
        if not self._place_owned:
            return None
        token = None if object_id is None else _token(family, object_id)
        size, tails, word_tails = self._span_size, self._tails, self._word_tails
        for text in _content_strings(value, every=bool(word_tails)):
            for key in _text_place_keys(text, size, tails, word_tails):
                if self._key_moved(_PLACE_MARK + key.encode(), token):
                    return (), GeoKind.PLACE
        return None

    def _key_moved(self, data: bytes, token: str | None) -> bool:
        """Whether a place key was read with some Tweet or user, and never with ``token``."""
        if data not in self._owned:
            return False
        return token is None or data + b"|" + token.encode() not in self._owners

    def _moved_user(
        self, node: Node, user_id: str | None, named: Mapping[str, list[str]]
    ) -> tuple[Path, GeoKind] | None:
        """Where a user keeps as their own a place or point read with others only, if they do.

        Their ``profile_location`` (and any location key), their ``location`` text (as a
        whole: a place's ID, full name or name; a place's full name inside it; a point read
        as another's), and full names and IDs in their ``description``.
        """
        token = None if user_id is None else _USER_PREFIX + user_id
        value = node.value
        location = value.get("location")
        whole = _place_key(location) if type(location) is str else None
        if (
            whole is not None
            and token is not None
            and _TEXT_MARK + whole.encode() + b"|" + token.encode() in self._owners
        ):
            value = {key: item for key, item in value.items() if key != "location"}  # as read
        elif type(location) is str and self._place_owned:
            # A location field: the place's name in it counts, in any words around it.
            keys = (whole, *_word_runs(location, self._span_size))
            if any(
                key is not None and self._key_moved(_PLACE_MARK + key.encode(), token)
                for key in keys
            ) or self._moved_text({"location": location}, user_id, "user"):
                return ("location",), GeoKind.PROFILE_LOCATION
        places = _user_places(value)
        places.extend(
            (key, datum)
            for key, datum in value.items()
            if datum and type(key) is str and loose_key(key) is not None
        )
        for key, datum in places:
            for place_key in _place_keys_in(datum, named):
                if self._key_moved(_PLACE_MARK + place_key.encode(), token):
                    return (key,), GeoKind.PROFILE_LOCATION
        return self._moved_text(value, user_id, "user") or self._moved_numbers(node, token, ())

    def _moved_point(self, node: Node, tweet_id: str | None) -> tuple[Path, GeoKind] | None:
        """Where a Tweet keeps as its own a point read as another Tweet's, if it does."""
        if not self._owned.count and not self._pending_owners:
            return None
        for first, rest, path, _default in _FIELD_READS.get(node.kind, ()):
            datum = node.value.get(first)
            for key in rest:
                datum = datum.get(key) if isinstance(datum, Mapping) else None
            if not datum or type(datum) is str:
                continue
            # A Tweet's own point at any rounding; a place's area only as read exactly
            # (a real place's corner is never exactly a Tweet's point, but may be a
            # rounding of one).
            position = _own_position(datum)
            if (position is not None and self.moved(*position, tweet_id)) or any(
                self.moved(a, b, tweet_id, exact=True) or self.area_moved(a, b, tweet_id)
                for a, b in pairs_in(datum)
            ):
                return path, GeoKind.POINT
        return self._moved_numbers(node, tweet_id)

    def area_moved(self, first: float, second: float, tweet_id: str | None) -> bool:
        """Whether ``(first, second)`` is exactly a corner of an area read with others only.

        The area of a place read with some Tweet, and never with the Tweet ``tweet_id``.
        """
        scaled = canonical_key(_scaled_coordinate(first), _scaled_coordinate(second))
        data = _AREA_MARK + int_bytes(scaled)
        if data not in self._owned:
            return False
        return tweet_id is None or data + b"|" + tweet_id.encode() not in self._owners

    def _moved_numbers(
        self, node: Node, tweet_id: str | None, fields: Collection[str] | None = None
    ) -> tuple[Path, GeoKind] | None:
        """Where a Tweet keeps, in its own content, a point read as another Tweet's, if it does.

        Anywhere in it (its text, its entities, a key of its own), two numbers that are such
        a point at any rounding (decimals, integers scaled by 10**5 to 10**7, degrees), or
        an encoding of it (a geohash, a plus code): a Tweet made up for storage can hold any
        text, and a point read with another Tweet is no part of it. Nested Tweets and users
        are judged as themselves.
        """
        self._ready_owners()
        values = self._owned_values
        if not values.count:
            return None
        if fields is None:
            fields = _PLACE_HOLDERS.get(node.kind, ())
        texts: list[str] = []
        numbers = _content_numbers(node.value, fields, texts)
        if self._code_moved(texts, tweet_id):
            return (), GeoKind.POINT  # a point read as another's, encoded
        found = [n for n in numbers if int_bytes(_scaled_coordinate(n)) in values]
        for index, first in enumerate(found):
            for second in found[index + 1 :]:
                if _whole(first) and _whole(second):
                    continue  # counts are whole (to the millionth)
                if self.moved(first, second, tweet_id) or self.area_moved(first, second, tweet_id):
                    return (), GeoKind.POINT
        return None

    def _code_moved(self, texts: Iterable[str], token: str | None) -> bool:
        """Whether a text encodes a point read with some Tweet or user, never with ``token``."""
        cells = self.points.cells()
        if cells is None:
            return False
        codes = [code for text in texts for code in code_tokens(text, cells)]
        if not codes:
            return False
        if self._uncoded_owners:
            with self._lock:
                uncoded, self._uncoded_owners = self._uncoded_owners, []
                owned, owners = self._owned, self._owners
                for first, second, tail in uncoded:
                    for code in point_codes(first, second):
                        owned.add(_CODE_MARK + code)
                        owners.add(_CODE_MARK + code + tail)
        return any(self._key_moved(_CODE_MARK + code, token) for code in codes)

    def _moved_place(
        self, node: Node, tweet_id: str | None, named: Mapping[str, list[str]]
    ) -> tuple[Path, GeoKind] | None:
        """Where a Tweet keeps as its own a place read with other Tweets only, if it does.

        Every location key of the Tweet is read (its table fields, and a place kept in
        another generation's field), and in it each place's ID, full name and name; a v2
        ``place_id`` stands for the names of the place the payload expands it to.
        """
        holders = _PLACE_HOLDERS.get(node.kind, frozenset())
        for key, datum in node.value.items():
            if not datum or type(key) is not str:
                continue
            if key not in holders and loose_key(key) is None:
                continue
            for place_key in _place_keys_in(datum, named):
                if self.place_moved(place_key, tweet_id):
                    return (key,), GeoKind.PLACE
        return None

    def observe_all(self, payload: Any) -> None:
        """Learn every place and point of ``payload``, wherever the walk finds them.

        For payloads handed to the storage and dehydration enforcement points, which may be
        shaped any way; a payload that cannot be walked (a cycle) teaches nothing. Nothing
        learned here has an owner (a Tweet made up for storage must not vouch for itself).
        """
        try:
            nodes = list(walk(payload))
        except (PayloadError, RecursionError):
            return
        place, geo = self._place, self._geo
        for node in nodes:
            kind = node.kind
            if kind in _NAMED_NODE_KINDS:
                place(node.value)
                continue
            for first, rest, _path, _default in _FIELD_READS.get(kind, ()):
                datum = node.value.get(first)
                for key in rest:
                    datum = datum.get(key) if isinstance(datum, Mapping) else None
                if not datum or type(datum) is str:
                    continue
                for item in datum if type(datum) is list else (datum,):
                    if not isinstance(item, Mapping):
                        continue
                    if "coordinates" in item or "place_id" in item:
                        geo(item)
                    else:
                        place(item)

    def watch(self, response: Any) -> Any:
        """Have ``response.json()`` (of `requests`) teach this memory what it reads.

        The JSON is parsed once, by whoever asks for it first (tweepy, or the application),
        and then `observe` reads where location lives. The hook removes itself at that first
        call, so the response holds no reference to itself and is freed as soon as it is
        dropped. What is learned has no owner (`read_hook` is the clients' own).
        """
        return _hook(self, response, owned=False)

    def watch_async(self, response: Any) -> Any:
        """`watch` for `aiohttp` responses, whose ``json()`` is a coroutine."""
        return _hook_async(self, response, owned=False)


_PLACES_CACHED: Final = 10_000
_NESTED_TWEETS: Final = 2


def _own_position(datum: Any) -> tuple[float, float] | None:
    """The position of a Tweet's ``coordinates`` or ``geo`` (v1.1, v2, flattened, Gnip)."""
    if not isinstance(datum, Mapping):
        return None
    position = datum.get("coordinates")
    if isinstance(position, Mapping):
        position = position.get("coordinates")
    if type(position) is list and len(position) == 2:  # noqa: PLR2004  # a position
        first, second = (
            coordinate(float(n)) if type(n) is int else coordinate(n) for n in position
        )
        if first is not None and second is not None:
            return first, second
    return None


def _scaled_coordinate(value: float) -> int:
    return round(value * 1_000_000)


def _whole(value: float) -> bool:
    return _scaled_coordinate(value) % _MILLION == 0


_MILLION: Final = 1_000_000


def _tweet_id(tweet: Mapping[str, Any]) -> str | None:
    """A Tweet's ID as read: ``id_str``, else ``id`` (v2's text, v1.1's number)."""
    found = tweet.get("id_str")
    if type(found) is str:
        return found
    found = tweet.get("id")
    if type(found) is str:
        return found.rpartition(":")[2]  # an activity's "tag:search.twitter.com,2005:123"
    if type(found) is int:
        return str(found)
    return None


# The fields that name a place, as a place read with a Tweet is recorded and judged.
_PLACE_READ_FIELDS: Final = ("id", "place_id", "full_name", "name", "displayName")
_PLACE_DEPTH: Final = 10_000  # iterative: deep enough for any place however it is nested
_COUNTRY_FIELDS: Final = ("country", "country_code")
# Numbers written in text: a coordinate's digits ("37.7749", "-122.4194").
_TEXT_NUMBER: Final = re.compile(r"(?<![\d.])[-+]?\d{1,3}\.\d{1,17}(?![\d.])")


def _content_numbers(
    tweet: Mapping[str, Any], fields: Collection[str] = (), texts: list[str] | None = None
) -> list[float]:
    """The numbers a Tweet holds in its own content, as floats (texts' decimals included).

    Its location ``fields`` (judged as such), and nested content objects (a retweeted or
    quoted Tweet, a user: judged as themselves) are left out. Integers count as what they
    are scaled (`scaled_numbers`); ``texts`` collects the strings read.
    """
    found: list[float] = []
    integers: list[int] = []
    stack: list[Any] = [
        value
        for key, value in tweet.items()
        if key not in fields and not _declared_id(tweet, key, value)
    ]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if CONTENT_FAMILY.get(classify(item)) is not None:  # type: ignore[arg-type]
                continue
            stack.extend(value for key, value in item.items() if not _declared_id(item, key, value))
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif type(item) is float:
            number = coordinate(item)
            if number is not None:
                found.append(number)
        elif type(item) is int:
            integers.append(item)
        elif type(item) is str:
            found.extend(_text_numbers(item))
            if texts is not None:
                texts.append(item)
    found.extend(scaled_numbers(integers, most=None))
    return found


def _declared_id(holder: Mapping[str, Any], key: Any, value: Any) -> bool:
    """Whether ``value`` is an ID as v1.1 declares one: an integer beside its text twin.

    ``"id": 999991`` beside ``"id_str": "999991"`` (and ``in_reply_to_user_id``,
    ``quoted_status_id``, an entity's ``id``) names an object; it is no coordinate scaled,
    and taken for one it would pair with a count into a point (``statuses_count`` 10000 and
    ID 999991 are 0.1 and 0.1 scaled).
    """
    return type(value) is int and type(key) is str and holder.get(key + "_str") == str(value)


def _text_numbers(text: str) -> Iterator[float]:
    """The coordinates a text may write: decimals, degrees, two integers scaled."""
    for number in map(coordinate, _TEXT_NUMBER.findall(text)):
        if number is not None:
            yield number
    yield from _degrees(text)
    yield from text_scaled(text)


# Degrees, minutes and seconds with a hemisphere (37 degrees 46 minutes 29.7 seconds N, with
# their signs or ASCII quotes), read as decimals.
_DMS: Final = re.compile(
    r"(\d{1,3}(?:\.\d+)?)\s*[\u00b0\u00ba]\s*(?:(\d{1,2}(?:\.\d+)?)\s*['\u2032\u2019]\s*)?"
    r"(?:(\d{1,2}(?:\.\d+)?)\s*(?:[\"\u2033\u201d]|'')\s*)?([NSEWnsew])?"
)
_DEGREE_DECIMALS: Final = range(1, 7)
# The same in ASCII: degrees and minutes (and seconds) apart by spaces, colons or d/m/s marks,
# with a hemisphere before or after ("37 46 29.7 N", "37:46:29.7N", "37d46m29.7s N",
# "N 37 46.495"); without a hemisphere, numbers in a row are no coordinate.
_DMS_ASCII_PARTS: Final = (
    r"(?<![\w.])(?:([NSEWnsew])\s*)?(\d{1,3})\s*(?:d|deg|:|\s)\s*(\d{1,2}(?:\.\d+)?)"
    r"(?:\s*(?:m|min|'|\u2032|\u2019|:|\s)\s*(?!\d{1,3}\s*(?:d|deg|:|\s)\s*\d)"
    r"(\d{1,2}(?:\.\d+)?)\s*(?:s|sec|\"|\u2033|\u201d|'')?)?\s*(?:m|min|'|\u2032|\u2019)?"
    r"\s*(?:([NSEWnsew])(?![a-zA-Z])AHEAD)?"
)
# A hemisphere between two coordinates ends the first or starts the second: both readings.
_DMS_ASCII: Final = tuple(
    re.compile(_DMS_ASCII_PARTS.replace("AHEAD", ahead)) for ahead in ("", r"(?!\s*[-+]?\d)")
)
_DIGIT: Final = re.compile(r"\d")


def _degrees(text: str) -> Iterator[float]:
    """The coordinates a text writes in degrees, at each rounding a point is known at.

    A point read is known at 1 to 6 decimals; its degrees, minutes and seconds are the same
    point at the rounding they are precise to. Without a hemisphere, both signs.
    """
    matches: list[tuple[str, str | None, str | None, str | None]] = []
    if "\u00b0" in text or "\u00ba" in text:
        matches.extend(match.groups() for match in _DMS.finditer(text))  # type: ignore[misc]  # four groups
    if _DIGIT.search(text):
        for pattern in _DMS_ASCII:
            for match in pattern.finditer(text):
                before, degrees, minutes, seconds, after = match.groups()
                if before or after:
                    matches.append((degrees, minutes, seconds, before or after))
    for degrees, minutes, seconds, hemisphere in matches:
        value = float(degrees) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
        signs = (-1,) if hemisphere and hemisphere in "SWsw" else (1,) if hemisphere else (1, -1)
        for sign in signs:
            for decimals in _DEGREE_DECIMALS:
                number = coordinate(round(sign * value, decimals))
                if number is not None:
                    yield number


# A user's token in the owners' filters (Tweet and user IDs are kept apart), and the mark
# of a user's location text as read with them.
_USER_PREFIX: Final = "u:"
_TEXT_MARK: Final = b"l:"
# How deep Tweets, users and DMs are looked for in a response read.
_HOLDER_DEPTH: Final = 12


def _user_places(user: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A user's places (``profile_location``, an actor's ``location``, derived locations)."""
    found = [
        (key, place)
        for key in ("profile_location", "location")
        if (place := user.get(key)) and isinstance(place, (Mapping, list))
    ]
    derived = user.get("derived")
    if isinstance(derived, Mapping) and derived.get("locations"):
        found.append(("derived", derived["locations"]))
    return found


def _token(family: str, object_id: str) -> str:
    """How an object is named in the owners' filters: a Tweet or DM by its ID, a user apart."""
    return _USER_PREFIX + object_id if family == "user" else object_id


def _holders(document: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The Tweets, users and DMs of a response read (``(family, object)``), wherever they sit.

    Expanded users sit in many places (a flattened Tweet's ``author`` and
    ``entities.mentions``, v2 ``includes.users``, v1.1 ``user``): every object is visited,
    and told apart as the stored payloads' walk tells them apart.
    """
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        item, depth = stack.pop()
        value = item if type(item) is dict else adapt(item)
        if isinstance(value, (list, tuple)):
            if depth < _HOLDER_DEPTH:
                stack.extend((element, depth + 1) for element in value)
            continue
        if not isinstance(value, Mapping):
            continue
        if "id" in value or "id_str" in value:  # content objects have IDs
            family = CONTENT_FAMILY.get(classify(value))  # type: ignore[arg-type]
            if family is not None:
                yield family, value
        if depth < _HOLDER_DEPTH:
            stack.extend(
                (child, depth + 1)
                for child in value.values()
                if child and not isinstance(child, (str, int, float))
            )


def _content_strings(value: Mapping[str, Any], *, every: bool = False) -> Iterator[str]:
    """Every string of an object's own content that may name a place (a comma, 16 digits).

    ``every``: every string (a name read as words only needs no comma). Nested content
    objects (a retweeted or quoted Tweet, a user) are left out: they are judged, and
    recorded, as themselves.
    """
    stack: list[Any] = list(value.values())
    while stack:
        item = stack.pop()
        if type(item) is str:
            if every or "," in item or len(item) >= _PLACE_ID_DIGITS:
                yield item
        elif isinstance(item, Mapping):
            if ("id" not in item and "id_str" not in item) or CONTENT_FAMILY.get(
                classify(item)  # type: ignore[arg-type]
            ) is None:
                stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


# Free text is split into words and commas; a full name is words, a comma, words.
_SPAN_PIECE: Final = re.compile(r",|[^\s,]+")
_PLACE_ID_DIGITS: Final = 16
_EDGE_MARKS: Final = "\"'()[]{}<>.!?;:\u201c\u201d\u2018\u2019\u00ab\u00bb\u00bf\u00a1#@*_~"
_TEXT_PLACE_ID: Final = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{16}(?![0-9A-Za-z])")
_LONGEST_RUN: Final = 12


def _spans(pieces: Sequence[str], size: int, *, comma: bool) -> Iterator[str]:
    """Runs of at most ``size`` pieces that start and end with a word (``comma``: hold one)."""
    count = len(pieces)
    for start in range(count):
        if pieces[start] == ",":
            continue
        seen_comma = False
        for end in range(start, min(count, start + size)):
            piece = pieces[end]
            if piece == ",":
                seen_comma = True
                continue
            if seen_comma or not comma:
                key = _name_key(
                    " ".join(pieces[start : end + 1])
                    .strip()
                    .lstrip(_EDGE_MARKS)
                    .rstrip(_EDGE_MARKS)
                )
                if key is not None and (not comma or "," in key):
                    yield key


def _text_place_keys(
    text: str,
    size: int,
    tails: Collection[str] | None = None,
    word_tails: Collection[str] = (),
) -> Iterator[str]:
    """The place keys free text may hold: place IDs, and full names (``"Name, Region"``).

    Every run of words holding a comma, of at most ``size`` words and commas (the longest
    full name read), in any case or spacing, marks at either end left out; with ``tails``,
    only around a comma followed by a word that follows a comma in a full name read. A
    single name is not a candidate: a bare city's name in a text is ordinary speech.
    With ``word_tails``, full names written as words only (`words_key`: ``"San Francisco
    CA"``, ``"San Francisco (CA)"``, with the country): every run of two to ``size`` words
    ending with a word that ends such a name read.
    """
    for match in _TEXT_PLACE_ID.finditer(text):
        yield match.group().casefold()
    if word_tails:
        words = text_words(text)
        for end, word in enumerate(words):
            if word in word_tails:
                for start in range(max(0, end - size + 1), end):
                    yield "~" + " ".join(words[start : end + 1])
    if "," not in text or size < 3:  # noqa: PLR2004  # a word, a comma, a word
        return
    pieces = _SPAN_PIECE.findall(unicodedata.normalize("NFKC", text))
    commas = [
        index
        for index, piece in enumerate(pieces)
        if piece == ","
        and (
            tails is None
            or (
                index + 1 < len(pieces) and pieces[index + 1].strip(_EDGE_MARKS).casefold() in tails
            )
        )
    ]
    # Only the pieces near a comma can be part of a full name.
    near = sorted({i for c in commas for i in range(max(0, c - size), min(len(pieces), c + size))})
    run: list[str] = []
    last = -2
    for index in near:
        if index != last + 1 and run:
            yield from _spans(run, size, comma=True)
            run = []
        run.append(pieces[index])
        last = index
    if run:
        yield from _spans(run, size, comma=True)


def _word_runs(text: str, size: int = _LONGEST_RUN) -> Iterator[str]:
    """Every run of words of a location field (a place's name, in any words around it)."""
    pieces = _SPAN_PIECE.findall(unicodedata.normalize("NFKC", text))
    yield from _spans(pieces, max(1, min(size, _LONGEST_RUN)), comma=False)


def _names_by_id(places: Iterable[Any], *, record: bool = True) -> dict[str, list[str]]:
    """Each expanded place's ID, to its other keys (how v2 joins a Tweet to its place).

    ``record``: as read with a Tweet (its country too), or as judged (see `_place_keys_in`).
    """
    named: dict[str, list[str]] = {}
    for place in places:
        if isinstance(place, Mapping):
            place_id = _place_key(place.get("id"))
            if place_id is not None:
                keys = _place_keys_in(place, _NO_NAMES, record=record)
                named.setdefault(place_id, []).extend(k for k in keys if k != place_id)
    return named


def _names_in(nodes: Iterable[Node]) -> dict[str, list[str]]:
    """`_names_by_id` over the places a stored payload holds."""
    return _names_by_id((node.value for node in nodes if node.kind is Kind.PLACE), record=False)


def _place_keys_in(
    datum: Any, named: Mapping[str, list[str]], *, record: bool = False
) -> Iterator[str]:
    """The place keys a Tweet's location datum holds, however it is shaped.

    A text is a place's ID or name; in mappings (a v1.1 ``place`` and the places it is
    ``contained_within``, a v2 ``geo``, a flattened ``geo``, an activity's ``location``,
    nested a few levels) the fields that name a place: ``id``, ``place_id``, ``full_name``,
    ``name``, ``displayName``. An ID stands for the names the payload gives its place too.
    A place read with a Tweet is recorded under the same keys it is judged by, and under
    its country (``record``); a country is judged only on a place that holds nothing more
    precise (the API never sends one: it was cut down to its country).
    """
    stack: list[tuple[Any, int]] = [(datum, 0)]
    while stack:
        item, depth = stack.pop()
        texts: Iterable[Any]
        if type(item) is str:
            texts = (item,)
        elif isinstance(item, Mapping):
            texts = _place_texts(item, record=record)
            if depth < _PLACE_DEPTH:
                nested = (v for v in item.values() if isinstance(v, (Mapping, list)))
                stack.extend((v, depth + 1) for v in nested)
        elif isinstance(item, list):
            if depth < _PLACE_DEPTH:
                stack.extend((v, depth + 1) for v in item if isinstance(v, (Mapping, list, str)))
            continue
        else:
            continue
        for text in texts:
            key = _place_key(text)
            if key is not None:
                yield key
                yield from named.get(key, ())


def _place_texts(place: Mapping[str, Any], *, record: bool) -> list[Any]:
    """The texts that name a place (`_place_keys_in`); recorded, its word forms too."""
    texts = [place.get(field) for field in _PLACE_READ_FIELDS]
    if record or not any(type(text) is str and text.strip() for text in texts):
        texts.extend(place.get(field) for field in _COUNTRY_FIELDS)
    if record:
        texts.extend(_word_forms(place))  # how free text may write it without a comma
    return texts


def _place_key(text: object) -> str | None:
    """How a place's ID or name is recorded with its Tweet: `_name_key`, or the ID as text."""
    key = _name_key(text)
    if key is None and type(text) is str and 0 < len(text) <= _LONGEST_NAME:
        key = text.strip().casefold() or None  # an ID of digits, a short name
    return key


def _stored_parts(payload: Any) -> list[tuple[str, Any]]:
    """What a store action stores, each with the pointer prefix its findings take."""
    if isinstance(payload, Arguments):
        return [(pointer_of((name,)), value) for name, value in payload.items()]
    if isinstance(payload, MappingKey):
        return [("", payload.value)]
    return [("", payload)]


def _hook(memory: LocationMemory, response: Any, *, owned: bool) -> Any:
    parse = getattr(type(response), "json", None)
    if parse is None:
        return response

    def read(*args: Any, **kwargs: Any) -> Any:
        vars(response).pop("json", None)
        document = parse(response, *args, **kwargs)
        memory._observe(document, owned=owned)  # noqa: SLF001  # same module
        return document

    response.json = read
    return response


def _hook_async(memory: LocationMemory, response: Any, *, owned: bool) -> Any:
    parse = getattr(type(response), "json", None)
    if parse is None:
        return response

    async def read(*args: Any, **kwargs: Any) -> Any:
        vars(response).pop("json", None)
        document = await parse(response, *args, **kwargs)
        memory._observe(document, owned=owned)  # noqa: SLF001  # same module
        return document

    response.json = read
    return response


# A location key holding something (not null): only a body with one is parsed to learn.
_LOCATION_MARK: Final = re.compile(
    rb'"(?:geo|coordinates|place|places|place_id|locations|place_type|bounding_box'
    rb'|profile_location)"\s*:\s*[^n\s]'
    rb'|"location"\s*:\s*(?:"[^"]|\{)'
)
# Free text that may name a place (a comma, or a place ID's 16 hexadecimal digits): once a
# place was read with a Tweet or a user, a body holding it is read for the names it holds.
_TEXT_MARK_IN_BODY: Final = re.compile(
    rb'"(?:text|full_text|description|location|body)"\s*:\s*"(?:[^"\\]|\\.)*'
    rb"(?:,|[0-9A-Fa-f]{16})"
)


def learn_body(memory: LocationMemory, body: Any) -> Any:
    """The clients' hook on a response body as received (bytes or text): what it teaches.

    Reads stay cheap: a body is parsed only when a location key in it holds something
    (a regular expression over the bytes); the parsed document is returned (``None`` when
    nothing was parsed) so the client can hand it on instead of parsing it again. Each
    Tweet's point and place are recorded with its ID (`LocationMemory.moved`).
    """
    data = body.encode() if type(body) is str else body
    if not isinstance(data, (bytes, bytearray)):
        return None
    if _LOCATION_MARK.search(data) is None and not (
        memory._place_owned and _TEXT_MARK_IN_BODY.search(data) is not None  # noqa: SLF001  # same module
    ):
        return None
    try:
        document = json.loads(data)
    except ValueError:
        return None  # not JSON: the client will not read it either
    memory._observe(document, owned=True)  # noqa: SLF001  # same module
    return document


def _received(response: Any) -> bytes | None:
    """A response's body as received (`requests`), without reading a stream not yet read."""
    content = vars(response).get("_content") if hasattr(response, "__dict__") else None
    return content if isinstance(content, bytes) else None


def read_hook(memory: LocationMemory, response: Any) -> Any:
    """The guarded sync clients' read hook: learn from the body as it was received.

    Whatever the application then does with the response (``json()``, ``content``,
    ``text``, ``raw``), the memory has read it. Each exact point and place of a Tweet read
    is recorded with that Tweet's ID, so the Tweet alone may keep it as its own location
    (`LocationMemory.moved`). A body parsed here is handed to the first ``json()`` call, so
    it is not parsed twice. A response without a received body learns on ``json()``. Not
    public: an application that could call it could vouch for a Tweet it made up.
    """
    body = _received(response)
    if body is None:
        return _hook(memory, response, owned=True)
    document = learn_body(memory, body)
    if document is not None and not isinstance(getattr(type(response), "json", None), property):
        parse = type(response).json

        def handed(*args: Any, **kwargs: Any) -> Any:
            vars(response).pop("json", None)
            return document if not args and not kwargs else parse(response, *args, **kwargs)

        response.json = handed
    return response


def read_hook_async(memory: LocationMemory, response: Any) -> Any:
    """`read_hook` for the async clients (`aiohttp`, whose body tweepy has read already)."""
    body = getattr(response, "_body", None)  # where aiohttp keeps the body it read
    if not isinstance(body, bytes):
        return _hook_async(memory, response, owned=True)
    document = learn_body(memory, body)
    parse = getattr(type(response), "json", None)
    if document is not None and parse is not None:

        async def handed(*args: Any, **kwargs: Any) -> Any:
            vars(response).pop("json", None)
            return document if not args and not kwargs else await parse(response, *args, **kwargs)

        response.json = handed
    return response


def read_result(memory: LocationMemory, document: Any, response: Any = None) -> None:
    """`read_hook` for what the v1.1 API returns, as its parser gave it.

    Models and JSON are read as they are; raw text (``RawParser``) as a body; anything else
    (a parser of the application's own) through the body of ``response`` as received.
    """
    if isinstance(document, (str, bytes, bytearray)):
        learn_body(memory, document)
        return
    value = adapt(document)
    if isinstance(value, (Mapping, list, tuple)):
        memory._observe(value, owned=True)  # noqa: SLF001  # same module
        return
    body = _received(response) if response is not None else None
    if body is not None:
        learn_body(memory, body)


_AREA_FIELDS: Final = ("bounding_box", "geo", "centroid", "geometry", "polylines")
#: What a place says that the memory learns: read again with any of it changed, it is new.
_PLACE_LEARNED: Final = ("name", "full_name", "country", "country_code", *_AREA_FIELDS)


def _listed(value: Any) -> list[Any]:
    return value if type(value) is list else []


_NAMED_NODE_KINDS: Final = frozenset({Kind.PLACE, Kind.TREND_LOCATION})
# The fields of each Tweet kind where the table says its location lives.
_PLACE_HOLDERS: Final[Mapping[Kind, frozenset[str]]] = {
    kind: frozenset(first for first, _rest, _path, _default in fields)
    for kind, fields in _FIELD_READS.items()
}


_NAME_FIELDS: Final = ("full_name", "name", "country", "id", "displayName")
_SHORTEST_NAME: Final = 3
# JSON field names are never place names (a place called "Home" must not make a key "home"
# location).
_FIELD_WORDS: Final = frozenset(
    word.casefold()
    for shape in SHAPES.values()
    for word in (*shape.known, *(slot.path[0] for slot in shape.children))
) | frozenset(key.casefold() for key in LOOSE_KEYS)


def _name_key(text: object) -> str | None:
    """How a place name compares: NFKC, without case, with one space after each comma."""
    if type(text) is not str or not _SHORTEST_NAME <= len(text) <= _LONGEST_NAME:
        return None
    return _text_key(text)


@functools.lru_cache(maxsize=8192)  # the same keys and names recur in every record
def _text_key(text: str) -> str | None:
    folded = unicodedata.normalize("NFKC", text).casefold()
    key = ", ".join(" ".join(part.split()) for part in folded.split(",")).strip(" ,.")
    if len(key) < _SHORTEST_NAME or key.isdigit() or key in _FIELD_WORDS:
        return None
    return key


_NAMED_KINDS: Final = frozenset({GeoKind.PLACE, GeoKind.TREND_LOCATION})


def _datum(payload: Any, hit: Hit) -> Any:
    item: Any = hit.node.value if hit.node is not None else adapt(payload)
    for segment in hit.path:
        if isinstance(item, Mapping):
            item = item.get(segment)
        elif isinstance(item, list) and isinstance(segment, int) and segment < len(item):
            item = item[segment]
        else:
            return None
    return item


def hits(payload: Any, names: PlaceNames | None = None, *, learn: bool = True) -> list[Hit]:
    """Every location datum of ``payload``, each once (never again inside another datum).

    Place names and points are location wherever they stand apart from their place or
    Tweet (a mapping key, a list of counts, two neutral numbers): those of the places and
    coordinates in ``payload`` itself, and those ``names`` knows. With ``learn``, ``names``
    learns the payload's place names and points (an enforcement point's memory; a rule
    passes ``learn=False``, as rules change nothing).
    """
    probe = Probe(names)
    found = _hits(payload, probe)
    learned = PlaceNames(base=names)
    fresh_names = fresh_points = False
    for hit in found:
        kind = hit.kind
        if kind in _NAMED_KINDS:
            datum = _datum(payload, hit)
            for item in datum if isinstance(datum, list) else [datum]:
                fresh_names = learned.learn(item) or fresh_names
        if kind in _POINTED_KINDS and _tabled(hit):
            fresh_points = learned.learn_points(_datum(payload, hit)) or fresh_points
    if fresh_names or fresh_points:
        if (fresh_names and not probe.asked.isdisjoint(learned._learned)) or (  # noqa: SLF001  # same module
            fresh_points and probe.asked_pairs
        ):
            found = _hits(payload, learned)  # it names one of its places or points: read again
        if learn and names is not None:
            names.absorb(learned)
    return found


_POINTED_KINDS: Final = frozenset(
    {GeoKind.POINT, GeoKind.BOUNDING_BOX, GeoKind.GEOMETRY, GeoKind.PLACE}
)


def _tabled(hit: Hit) -> bool:
    """Whether a datum sits where the table of shapes (or a location key) says location is.

    Only such data teach points: numbers recognised as a point by their look alone (under a
    neutral key) are refused, but not learned.
    """
    node = hit.node
    if node is None:
        return False
    if not hit.path:
        return node.kind in _DATUM_KINDS
    first = hit.path[0]
    return type(first) is str and (first in _READ_KEYS[node.kind] or loose_key(first) is not None)


class Probe(PlaceNames):
    """The names and points of ``base``, noting which names and whether pairs were asked.

    A payload is read again only if one of them turns out to be one of its places or points.
    """

    __slots__ = ("asked", "asked_pairs")

    def __init__(self, base: PlaceNames | None) -> None:
        super().__init__(base=base, points=0)
        self.asked: set[str] = set()
        self.asked_pairs = False

    def __len__(self) -> int:
        return 1  # always asked

    def _has(self, key: str) -> bool:
        self.asked.add(key)
        return super()._has(key)

    def knows_pair(self, numbers: Sequence[float]) -> bool:
        self.asked_pairs = True
        return super().knows_pair(numbers)

    def encodes_text(self, text: str) -> bool:
        tokens = list(code_tokens(text))
        if not tokens:
            return False
        self.asked_pairs = True  # an encoding of a point the payload itself holds?
        return self._encodes(tokens)


def _hits(payload: Any, names: PlaceNames | None) -> list[Hit]:
    finder = Finder(names)
    return [*finder.root(payload), *finder.run(payload)]


def find_geo(payload: Any) -> list[GeoFinding]:
    """Every non-empty location datum of ``payload``, in walk order.

    ``payload`` is parsed JSON of any Twitter/X payload family (or a tweepy model or
    response). Each finding names its pointer, its kind, the object it belongs to, and
    whether it stands alone (see `GeoFinding`).

    Raises:
        PayloadError: the payload contains itself (a reference cycle).
    """
    return [hit.finding() for hit in hits(stored_form(payload))]


class Arguments(dict[str, Any]):
    """A function's arguments, each checked as a payload of its own (pointers start /name)."""


@attrs.frozen
class MappingKey:
    """A mapping item about to be stored: its key is checked as well as its value.

    ``siblings``: the numbers the mapping already holds under other keys, so that a point
    read cannot be kept as two items (``m["a"] = 52.52; m["b"] = 13.405``).
    """

    key: Any
    value: Any
    siblings: Collection[float] = ()


def _refuse_iterators(payload: Any) -> None:
    """A one-shot iterator cannot be checked without using up what is to be stored."""
    if isinstance(payload, (AsyncIterator, Iterator)) and not isinstance(
        payload, (Mapping, Sequence)
    ):
        raise PayloadError(
            f"the payload is an iterator ({type(payload).__name__}), which cannot be checked "
            "without using it up: collect it into a list and store the list"
        )


def standalone_findings(
    payload: Any, names: PlaceNames | None = None, *, learn: bool = True
) -> list[GeoFinding]:
    """What the ``geo.standalone`` rule refuses in ``payload``.

    ``names``: the location known to come from Twitter Content; with ``learn`` it learns the
    payload's places and points (the rule passes ``learn=False``).
    """
    _refuse_iterators(payload)
    if isinstance(payload, Arguments):
        for value in payload.values():
            _refuse_iterators(value)
        values = {name: _json_text(value) for name, value in payload.items()}
        found = [
            hit.finding(pointer_of((name,)))
            for name, value in values.items()
            for hit in hits(value, names, learn=learn)
            if hit.standalone
        ]
        if names is not None and names.knows_pair(numbers_of(values.values())):
            found.append(GeoFinding("", GeoKind.POINT, standalone=True, reason="on_its_own"))
        return found
    if isinstance(payload, MappingKey):
        value = _json_text(payload.value)
        found = [hit.finding() for hit in hits(value, names, learn=learn) if hit.standalone]
        key = _key_form(payload.key)
        key_kind = _mapping_key(key, value, names)
        if key_kind is None and names is not None:
            mine = numbers_of([key, value])
            if names.knows_pair(mine) or any(
                names.pairs_with(number, payload.siblings) for number in mine
            ):
                key_kind = GeoKind.POINT  # with a number the mapping holds, a point read
        if key_kind is not None:
            found.insert(0, GeoFinding("", key_kind, standalone=True, reason="location_key"))
        return found
    return [
        hit.finding() for hit in hits(_json_text(payload), names, learn=learn) if hit.standalone
    ]


def _mapping_key(key: Any, value: Any, names: PlaceNames | None) -> GeoKind | None:
    """What location a stored item's key is: as a key, as JSON it holds, or keying a count."""
    key_kind = key_location(key, names)
    if key_kind is None and isinstance(key, (tuple, frozenset)):
        key_kind = next(
            (kind for _, kind in scan_value(key, (), walked=True, skip=frozenset(), names=names)),
            None,
        )
    if key_kind is None and isinstance(key, str):
        key_kind = next(
            (
                kind
                for _, kind in scan_value(
                    _json_text(key), (), walked=True, skip=frozenset(), names=names
                )
            ),
            None,
        )
    if (
        key_kind is None
        and type(key) is str
        and aggregate(value)
        and (_full_name(key, any_case=True) or in_gazetteer(key))
    ):
        key_kind = GeoKind.PLACE  # a count (or IDs) per place, kept item by item
    return key_kind


def _json_text(payload: Any) -> Any:
    """Parse JSON text about to be stored as text; other values are returned as they are.

    Bytes are decoded as `json.loads` decodes them (UTF-8 with or without a BOM, UTF-16 and
    UTF-32 by their BOM or their zero bytes); a leading BOM in text is skipped. Text that
    starts like JSON but does not parse, and bytes that look like JSON but do not decode, are
    refused: they cannot be checked. Text that is not JSON (CSV, notes) is returned as text,
    so that the location written in it is read; bytes that are not text are returned as
    they are.
    """
    if isinstance(payload, (bytes, bytearray, memoryview)):
        raw = bytes(payload)
        encoding = json.detect_encoding(raw)
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            if raw.decode(encoding, errors="replace").lstrip(_BLANKS).startswith(("{", "[")):
                raise PayloadError(
                    f"the payload looks like JSON but cannot be read as {encoding}: {exc}"
                ) from None
            return payload
    elif isinstance(payload, str):
        text = payload
    else:
        return stored_form(payload)
    body = text.lstrip(_BLANKS)
    if not body.startswith(("{", "[")):
        if body.startswith('"'):
            try:
                return read_json(body)
            except (ValueError, RecursionError):
                return body
        return body  # text (CSV, notes): read as text
    try:
        return read_json(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"the payload looks like JSON but cannot be read: {exc}") from None


_LEAVES: Final = frozenset({str, int, float, bool, type(None), bytes, bytearray, memoryview})
_KEYS: Final = frozenset({str, int, float, bool, type(None)})


# Text fields are read as text, whatever they hold: a Tweet whose text is JSON is a Tweet.
_PROSE: Final = frozenset(
    {"text", "full_text", "body", "description", "name", "screen_name", "username"}
)


def _is_plain(payload: Any) -> bool:  # noqa: C901  # one iterative pass, kept in one frame
    """Whether ``payload`` is parsed JSON: dicts and lists of plain values, no JSON text."""
    stack = [payload]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict or kind is list:
            if id(item) in seen:
                return False  # shared or holding itself: read (and judged) the long way
            seen.add(id(item))
        if kind is dict:
            for key, value in item.items():
                if type(key) not in _KEYS or (
                    type(value) is str and key not in _PROSE and _json_like(value)
                ):
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is str:
            if _json_like(item):
                return False
        elif kind not in _LEAVES or (kind is not str and kind in _BYTES_TYPES):
            return False
    return True


def _json_like(text: str) -> bool:
    return text[:1] in _OPENERS or text.lstrip(_BLANKS)[:1] in _OPENERS


_OPENERS: Final = ("{", "[")


def _nested_json(text: str) -> Any:
    """JSON text held in a value, as the objects it holds; other text as it is.

    Only text holding an object (or a list holding one) is read: a list of numbers stays text
    (the text checks read its numbers). Text that writes a key twice is refused.
    """
    if not _json_like(text):
        return text
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if not (
        type(value) is dict or (type(value) is list and any(type(i) in {dict, list} for i in value))
    ):
        return text
    return read_json(text)  # raises PayloadError on a key written twice


def stored_form(payload: Any) -> Any:
    """``payload`` as the JSON it holds, however the application's objects hold it.

    Location kept in a dataclass, an attrs or pydantic-like object, a named tuple, a set, an
    array, a `Decimal` or a `Fraction` is location all the same: objects are read as the
    mapping of their attributes, named tuples as mappings, collections and arrays as lists,
    numbers as floats (a complex number as its two parts), enums as their values, and
    anything else as its text. tweepy models become the JSON they were read from. A one-shot
    iterator inside the payload is refused: it cannot be read without using it up. Parsed
    JSON is returned as it is.

    Raises:
        PayloadError: an iterator inside ``payload``, or an object that contains itself.
    """
    if _is_plain(payload):
        return payload
    try:
        return _form(payload, set())
    except RecursionError:
        raise PayloadError("the payload nests too deeply to be read") from None


def _form(value: Any, active: set[int], *, prose: bool = False) -> Any:  # noqa: C901, PLR0911, PLR0912  # one answer per sort of value
    kind = type(value)
    if isinstance(value, str):
        return str(value) if prose else _form_of_text(str(value), active)
    if isinstance(value, (bytes, bytearray, memoryview)):
        text = _bytes_text(value)
        return bytes(value) if text is None else _form(text, active, prose=prose)
    if kind in _LEAVES:
        return value
    if isinstance(value, (bool, int)):
        return int(value) if not isinstance(value, bool) else bool(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, enum.Enum):
        return _form(value.value, active)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, numbers.Number) and not isinstance(value, Collection):
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real):
            return float(value)
        if isinstance(value, numbers.Complex):
            return [float(value.real), float(value.imag)]
    if id(value) in active:
        raise PayloadError(f"the payload contains itself (a {kind.__name__} holds itself)")
    active.add(id(value))
    try:
        return _form_of_object(value, active)
    finally:
        active.discard(id(value))


def _form_of_object(value: Any, active: set[int]) -> Any:  # noqa: PLR0911  # one answer per sort of object
    adapted = adapt(value)
    if adapted is not value and not isinstance(adapted, list):
        return _form(adapted, active)  # a tweepy model or response
    if isinstance(value, Mapping):
        return {
            _key_form(key): _form(item, active, prose=key in _PROSE) for key, item in value.items()
        }
    fields = getattr(type(value), "_fields", None)
    if isinstance(value, tuple) and isinstance(fields, tuple) and len(fields) == len(value):
        return {str(name): _form(item, active) for name, item in zip(fields, value, strict=True)}
    if callable(getattr(value, "tolist", None)) and not isinstance(value, Collection | type):
        return _form(value.tolist(), active)  # an array's scalar
    if isinstance(value, Collection) and not isinstance(value, type):
        return [_form(item, active) for item in value]
    if isinstance(value, (Iterator, AsyncIterator)):
        raise PayloadError(
            f"the payload holds an iterator ({type(value).__name__}), which cannot be checked "
            "without using it up: collect it into a list and store the list"
        )
    attributes = _attributes(value)
    if attributes is not None:
        return {name: _form(item, active) for name, item in attributes.items()}
    return str(value)


def _form_of_text(text: str, active: set[int]) -> Any:
    value = _nested_json(text)
    return text if value is text else _form(value, active)


def _attributes(value: Any) -> dict[str, Any] | None:
    """The attributes an application's object holds (dataclass, attrs, slots, ``__dict__``)."""
    if isinstance(value, type) or callable(value):
        return None
    if dataclasses.is_dataclass(value):
        return {field.name: getattr(value, field.name, None) for field in dataclasses.fields(value)}
    if attrs.has(type(value)):
        return {field.name: getattr(value, field.name, None) for field in attrs.fields(type(value))}
    found: dict[str, Any] = {}
    for klass in type(value).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in {"__dict__", "__weakref__"} and hasattr(value, name):
                found[name] = getattr(value, name)
    own = getattr(value, "__dict__", None)
    if isinstance(own, Mapping):
        found.update({str(name): item for name, item in own.items()})
    return found if found or hasattr(value, "__dict__") else None


def _key_form(key: Any) -> Any:
    """A mapping key as a JSON key, or a tuple or frozenset of such (hashable)."""
    if type(key) in _KEYS:
        return key
    if isinstance(key, tuple) and not hasattr(type(key), "_fields"):
        return tuple(_key_form(item) for item in key)
    if isinstance(key, frozenset):
        return frozenset(_key_form(item) for item in key)
    form = _form(key, set())
    if isinstance(form, list):
        return tuple(_key_form(item) for item in form)
    if isinstance(form, dict):
        return tuple(_key_form(item) for item in form.values())
    return form


def parsed_text(payload: Any) -> Any:
    """``payload`` as the rule reads it (JSON text parsed), or ``None`` if it cannot be read."""
    try:
        return _json_text(payload)
    except PayloadError:
        return None


# What may precede JSON text: whitespace, and byte order marks (which `json.loads` refuses).
_BLANKS: Final = " \t\r\n\ufeff\ufffe\u200b"


_REMOVE: Final = object()
_MISSING: Final = object()


def strip_geo(payload: Any, *, standalone_only: bool = False) -> Any:
    """A deep copy of ``payload`` with every location datum removed and nothing else changed.

    Removes what `find_geo` finds, again until it finds nothing (dropping a place from
    ``[0, <place>, 1.5]`` leaves a point): object keys are deleted, list elements dropped (a
    list of places becomes empty). A payload that is location data as a whole (a place) becomes
    ``None``. For data minimisation, and for honouring ``scrub_geo`` notices on stored
    Tweets. The copy is plain JSON (tweepy models become the dicts they were read from).

    Args:
        payload: parsed JSON, or a tweepy model or response.
        standalone_only: remove only the data that stand alone (what `check_storable`
            refuses), and keep location that is part of its Tweet or user.
    """
    payload = stored_form(payload)
    while True:  # until nothing is found: a removal can make what is left location
        trie: dict[Any, Any] = {}
        for hit in hits(payload):
            if standalone_only and not hit.standalone:
                continue
            path = hit.full_path
            if not path:
                return None
            node = trie
            for segment in path[:-1]:
                node = node.setdefault(segment, {})
                if node is _REMOVE:
                    break
            else:
                node[path[-1]] = _REMOVE
        payload = _copy_without(payload, trie)
        if not trie:  # ``[0, <place>, 1.5]`` is ``[0, 1.5]`` once the place goes: a point
            return payload


def _copy_without(payload: Any, trie: dict[Any, Any]) -> Any:
    """Copy JSON iteratively (any depth), leaving out the trie's removed paths."""
    box: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, Any]] = [(payload, trie, box, 0)]
    while stack:
        source, removed, target, slot = stack.pop()
        source = adapt(source)
        if isinstance(source, Mapping):
            copy: dict[Any, Any] = {}
            for key, item in source.items():
                sub = removed.get(key, _MISSING) if removed else _MISSING
                if sub is _REMOVE:
                    continue
                copy[key] = item
                if not _plain(item):
                    stack.append((item, None if sub is _MISSING else sub, copy, key))
            target[slot] = copy
        elif isinstance(source, list):
            items: list[Any] = []
            for index, item in enumerate(source):
                sub = removed.get(index, _MISSING) if removed else _MISSING
                if sub is _REMOVE:
                    continue
                items.append(item)
                if not _plain(item):
                    stack.append((item, None if sub is _MISSING else sub, items, len(items) - 1))
            target[slot] = items
        else:
            target[slot] = source
    return box[0]


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))

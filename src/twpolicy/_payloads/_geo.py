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

import json
import math
import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any, Final

import attrs

from twpolicy._payloads._shapes import (
    CONTENT_FAMILY,
    LOCATION_FIELDS,
    LOOSE_KEYS,
    SHAPES,
    GeoKind,
    Kind,
    Path,
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
    walk,
)
from twpolicy.exceptions import PayloadError

__all__ = [
    "CLAUSE",
    "REASONS",
    "Arguments",
    "GeoFinding",
    "MappingKey",
    "find_geo",
    "hits",
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


def _owned(node: Node | None, path: Path, kind: GeoKind, owner: Node | None) -> Hit:
    """A datum inside ``owner`` (or inside nothing): standalone unless its owner is whole."""
    if owner is None:
        return Hit(node, path, kind, None, "on_its_own", standalone=True)
    part = _PART_OF[owner.kind]
    if owner.whole:
        return Hit(node, path, kind, owner, f"in_{part}", standalone=False)
    return Hit(node, path, kind, owner, f"reduced_{part}", standalone=True)


class _Finder:
    """One pass over a payload's walk, reporting each location datum once."""

    def __init__(self) -> None:
        # What has been reported: the keys of each node, and the nodes inside reported data.
        self.covered_fields: dict[Node, set[str]] = {}
        self.covered_nodes: set[Node] = set()
        # Places outside any Tweet, judged at the end: part of a Tweet if one refers to them.
        self.free_places: list[tuple[Node, Path, Any]] = []
        self.referenced: dict[str, Node] = {}

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
        for path, geo_kind in _scan(value, (), walked=True, skip=frozenset()):
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
        for key, item in value.items():
            if key in fields:
                continue
            if key not in known or not whole:
                loose = loose_key(key)
                if loose is not None and key not in slot_keys:
                    geo_kind = location_kind(item, LOOSE_KEYS[loose])
                    if geo_kind is not None:
                        self.covered_fields.setdefault(node, set()).add(key)
                        yield _owned(node, (key,), geo_kind, owner)
                    continue
            else:
                continue
            if _plain(item) and type(item) is not str:
                continue
            key_kind = _key_location(key)
            if key_kind is not None:
                self.covered_fields.setdefault(node, set()).add(key)
                yield _owned(node, (key,), key_kind, owner)
                continue
            if content and not whole:
                if skip is None:
                    skip = _slot_objects(kind, value)
                found = list(_scan(item, (key,), walked=False, skip=skip))
                if found:  # what the walk would find under the key is reported here
                    self.covered_fields.setdefault(node, set()).add(key)
            elif key not in known:
                found = list(_scan(item, (key,), walked=True, skip=frozenset()))
            else:
                continue
            for path, geo_kind in found:
                yield _owned(node, path, geo_kind, owner)

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
        return [_owned(node, (), geo_kind or GeoKind.GEOMETRY, owner)]

    def loose(self, node: Node) -> list[Hit]:
        """Location-like keys of an object of no known family."""
        found = []
        owner = node.owner()
        for key, datum in node.value.items():
            loose = loose_key(key)
            if loose is None:
                key_kind = _key_location(key)
                if key_kind is not None:
                    self.covered_fields.setdefault(node, set()).add(key)
                    found.append(_owned(node, (key,), key_kind, owner))
                    continue
                found.extend(
                    _owned(node, path, geo_kind, owner)
                    for path, geo_kind in _scan(datum, (key,), walked=True, skip=frozenset())
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
                found.append(_owned(node, (key,), geo_kind, owner))
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


def _key_location(key: Any) -> GeoKind | None:
    """What location a mapping key is, or ``None``: a pair, a "lat,long" text, a place ID."""
    if type(key) is str:
        if _PLACE_ID.fullmatch(key):
            return GeoKind.PLACE_REFERENCE
        return GeoKind.POINT if _text_point(key) else None
    if isinstance(key, tuple):
        return GeoKind.POINT if _pair(key) else None
    return None


def _scan(  # noqa: C901, PLR0912  # one iterative reader of any JSON
    value: Any, base: Path, *, walked: bool, skip: frozenset[int]
) -> Iterator[tuple[Path, GeoKind]]:
    """Location in JSON no table row describes: location keys, and keys that are location.

    ``walked``: the walk recognises objects here (it searches these values), so objects it
    recognises are left to it. Otherwise (what a content object without its content holds)
    everything is read but the ``skip`` objects (the ones the walk visits through child
    slots), and bare coordinate pairs and "lat,long" texts count too: with no content
    around them, numbers shaped like a point are taken for one.
    """
    stack: list[tuple[Any, Path]] = [(value, base)]
    seen: set[int] = set()  # containers read (a shared one once; a cycle ends)
    while stack:
        item, path = stack.pop()
        if id(item) in skip:
            continue
        kind = type(item)
        if kind is str:
            if not walked and _text_point(item):
                yield path, GeoKind.POINT
            continue
        if kind in _SCALAR_TYPES:
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        item = adapt(item)
        if isinstance(item, Mapping):
            if walked and classify(item) is not None:
                continue
            for key, element in item.items():
                loose = loose_key(key)
                if loose is not None:
                    geo_kind = location_kind(element, LOOSE_KEYS[loose])
                    if geo_kind is not None:
                        yield (*path, key), geo_kind
                    continue
                key_kind = _key_location(key)
                if key_kind is not None:
                    yield (*path, key), key_kind
                    continue
                stack.append((element, (*path, key)))
        elif isinstance(item, (list, tuple)):
            if not walked and _pair(item):
                yield path, GeoKind.POINT
                continue
            stack.extend((element, (*path, index)) for index, element in enumerate(item))
        elif isinstance(item, (set, frozenset)):
            stack.extend((element, (*path, index)) for index, element in enumerate(item))


_SCALAR_TYPES: Final = frozenset({int, float, bool, type(None), bytes})


def hits(payload: Any) -> Iterator[Hit]:
    """Every location datum of ``payload``, each once (never again inside another datum)."""
    finder = _Finder()
    yield from finder.root(payload)
    yield from finder.run(payload)


def find_geo(payload: Any) -> list[GeoFinding]:
    """Every non-empty location datum of ``payload``, in walk order.

    ``payload`` is parsed JSON of any Twitter/X payload family (or a tweepy model or
    response). Each finding names its pointer, its kind, the object it belongs to, and
    whether it stands alone (see `GeoFinding`).

    Raises:
        PayloadError: the payload contains itself (a reference cycle).
    """
    return [hit.finding() for hit in hits(payload)]


class Arguments(dict[str, Any]):
    """A function's arguments, each checked as a payload of its own (pointers start /name)."""


@attrs.frozen
class MappingKey:
    """A mapping item about to be stored: its key is checked as well as its value."""

    key: Any
    value: Any


def _refuse_iterators(payload: Any) -> None:
    """A one-shot iterator cannot be checked without using up what is to be stored."""
    if isinstance(payload, (AsyncIterator, Iterator)) and not isinstance(
        payload, (Mapping, Sequence)
    ):
        raise PayloadError(
            f"the payload is an iterator ({type(payload).__name__}), which cannot be checked "
            "without using it up: collect it into a list and store the list"
        )


def standalone_findings(payload: Any) -> list[GeoFinding]:
    _refuse_iterators(payload)
    if isinstance(payload, Arguments):
        for value in payload.values():
            _refuse_iterators(value)
        return [
            hit.finding(pointer_of((name,)))
            for name, value in payload.items()
            for hit in hits(_json_text(value))
            if hit.standalone
        ]
    if isinstance(payload, MappingKey):
        found = [hit.finding() for hit in hits(_json_text(payload.value)) if hit.standalone]
        key_kind = _key_location(payload.key)
        if key_kind is None and isinstance(payload.key, (tuple, frozenset)):
            key_kind = next(
                (kind for _, kind in _scan(payload.key, (), walked=True, skip=frozenset())), None
            )
        if key_kind is None and isinstance(payload.key, str):
            key_kind = next(
                (
                    kind
                    for _, kind in _scan(_json_text(payload.key), (), walked=True, skip=frozenset())
                ),
                None,
            )
        if key_kind is not None:
            found.insert(0, GeoFinding("", key_kind, standalone=True, reason="location_key"))
        return found
    return [hit.finding() for hit in hits(_json_text(payload)) if hit.standalone]


def _json_text(payload: Any) -> Any:
    """Parse JSON text about to be stored as text; other values are returned as they are.

    Bytes are decoded as `json.loads` decodes them (UTF-8 with or without a BOM, UTF-16 and
    UTF-32 by their BOM or their zero bytes); a leading BOM in text is skipped. Text that
    starts like JSON but does not parse, and bytes that do not decode, are refused: they
    cannot be checked.
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
        return payload
    body = text.lstrip(_BLANKS)
    if not body.startswith(("{", "[")):
        if body.startswith('"'):
            try:
                return json.loads(body)
            except (ValueError, RecursionError):
                return payload
        return payload
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"the payload looks like JSON but cannot be read: {exc}") from None


# What may precede JSON text: whitespace, and byte order marks (which `json.loads` refuses).
_BLANKS: Final = " \t\r\n\ufeff\ufffe\u200b"


_REMOVE: Final = object()
_MISSING: Final = object()


def strip_geo(payload: Any, *, standalone_only: bool = False) -> Any:
    """A deep copy of ``payload`` with every location datum removed and nothing else changed.

    Removes what `find_geo` finds: object keys are deleted, list elements dropped (a list of
    places becomes empty). A payload that is location data as a whole (a place) becomes
    ``None``. For data minimisation, and for honouring ``scrub_geo`` notices on stored
    Tweets. The copy is plain JSON (tweepy models become the dicts they were read from).

    Args:
        payload: parsed JSON, or a tweepy model or response.
        standalone_only: remove only the data that stand alone (what `check_storable`
            refuses), and keep location that is part of its Tweet or user.
    """
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
    return _copy_without(payload, trie)


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

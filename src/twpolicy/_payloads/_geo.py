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
from collections.abc import Iterator, Mapping
from typing import Any, Final

import attrs

from twpolicy._payloads._shapes import (
    CONTENT_FAMILY,
    LOCATION_FIELDS,
    LOOSE_KEYS,
    GeoKind,
    Kind,
    Path,
)
from twpolicy._payloads._walker import (
    Node,
    adapt,
    is_empty,
    location_kind,
    place_reference,
    pointer_of,
    walk,
)
from twpolicy.exceptions import PayloadError

__all__ = ["CLAUSE", "REASONS", "Arguments", "GeoFinding", "find_geo", "hits", "strip_geo"]

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
            if kind is Kind.TWEET_V2:
                place_id = place_reference(value)
                if place_id is not None and node.whole:
                    self.referenced.setdefault(place_id, node)
        yield from self.judge_free_places()

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
            default = LOOSE_KEYS.get(key, _NOT_LOOSE)
            if default is _NOT_LOOSE:
                continue
            geo_kind = location_kind(datum, default)  # type: ignore[arg-type]  # not the marker
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
_NOT_LOOSE: Final = object()


def hits(payload: Any) -> Iterator[Hit]:
    """Every location datum of ``payload``, each once (never again inside another datum)."""
    return _Finder().run(payload)


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


def standalone_findings(payload: Any) -> list[GeoFinding]:
    if isinstance(payload, Arguments):
        return [
            hit.finding(pointer_of((name,)))
            for name, value in payload.items()
            for hit in hits(_json_text(value))
            if hit.standalone
        ]
    return [hit.finding() for hit in hits(_json_text(payload)) if hit.standalone]


def _json_text(payload: Any) -> Any:
    """Parse JSON text about to be stored as text; other values are returned as they are.

    Text that starts like JSON but does not parse is refused: it cannot be checked.
    """
    if isinstance(payload, (bytes, bytearray, memoryview)):
        text = bytes(payload).decode("utf-8", errors="replace")
    elif isinstance(payload, str):
        text = payload
    else:
        return payload
    if not text.lstrip().startswith(("{", "[")):
        return payload
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise PayloadError(f"the payload looks like JSON but cannot be read: {exc}") from None


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

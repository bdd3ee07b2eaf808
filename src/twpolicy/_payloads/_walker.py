"""The one place payload shapes are known: walk any Twitter/X payload, object by object.

`walk` yields every object of a known family in a payload (Tweets of every API version and
container, users, places, DMs, activity streams, twarc-flattened Tweets, stream and compliance
messages, API response envelopes) as a `Node`: its kind, the object, the recognised object
that contains it, and a lazily built RFC 6901 JSON pointer. Everything that needs to know
where things sit in a payload (the location rules, dehydration) reads nodes and the per-kind
field tables here, never payload paths of its own.

Speed matters: the walker sits on hot paths (stores, streams, ``twpolicy scan``). Known
families are expanded through per-kind tables of child slots, so most of a payload's values
(text, entities, metrics) are never visited; only keys no table knows are searched generically,
so shapes added by the API later are still found. The walk is iterative: nesting depth is
limited by memory, not by Python's recursion limit.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final, TypeAlias

import attrs

from twpolicy.exceptions import PayloadError

__all__ = [
    "CONTENT_KINDS",
    "LOCATION_FIELDS",
    "LOOSE_KEYS",
    "GeoKind",
    "IdReading",
    "Kind",
    "Node",
    "Reference",
    "adapt",
    "is_empty",
    "location_kind",
    "place_reference",
    "pointer_of",
    "walk",
]

Segment: TypeAlias = "str | int"
#: Keys and list indexes leading from one JSON value to another.
Path: TypeAlias = "tuple[Segment, ...]"
#: Object keys only, leading into nested objects.
Keys: TypeAlias = "tuple[str, ...]"

#: The largest integer every JSON reader holds exactly (JavaScript's ``Number``).
SAFE_INTEGER: Final = 2**53


class Kind(str, enum.Enum):
    """The payload families the walker recognises."""

    TWEET_V1 = "tweet_v1"
    """A v1.1 (or older) Tweet: ``id_str``, ``text``/``full_text``, an embedded ``user``."""
    TWEET_V2 = "tweet_v2"
    """A v2 Tweet: string ``id``, ``text``, references by ID (``author_id``, ...)."""
    TWEET_FLAT = "tweet_flattened"
    """A twarc2-flattened v2 Tweet: expansions inlined (``author``, ``geo`` place, ...)."""
    ACTIVITY = "activity"
    """A Gnip activity-streams activity (a Tweet or a Retweet)."""
    USER_V1 = "user_v1"
    USER_V2 = "user_v2"
    ACTOR = "actor"
    """A Gnip activity-streams person."""
    MENTION = "mention"
    """A user mentioned in a Tweet's entities (v1.1 ``user_mentions``, v2 ``mentions``)."""
    PLACE = "place"
    """A place: v1.1 (``bounding_box``), v2 (``geo`` Feature) or activity streams."""
    TREND_LOCATION = "trend_location"
    """A trends location (``woeid``, ``name``, ...)."""
    GEOMETRY = "geometry"
    """A GeoJSON object (Point, Polygon, Feature, ...) outside any place or Tweet field."""
    DM_V1 = "dm_v1"
    """A legacy direct message (``sender``, ``recipient``, ``text``)."""
    DM_EVENT_V1 = "dm_event_v1"
    """A v1.1 DM event (``type: message_create``)."""
    DM_EVENT_V2 = "dm_event_v2"
    """A v2 DM event (``event_type``, ``dm_conversation_id``)."""
    MEDIA = "media"
    POLL = "poll"
    SPACE = "space"
    LIST = "list"
    RESPONSE_V2 = "response_v2"
    """A v2 response or stream message: ``data``, ``includes``, ``errors``, ``meta``."""
    PAGE = "page"
    """A v1.1 or premium response wrapping many objects: search results, cursored pages,
    ``statuses/lookup`` maps, collections, DM event lists."""
    ENVELOPE = "envelope"
    """A stream or webhook wrapper: user- and site-stream events, Account Activity."""
    GEO_RESULT = "geo_result"
    """A geo endpoint's response: ``query`` (echoing the request's point) and ``result``."""
    TRENDS = "trends"
    """A trends response entry: ``trends`` and the ``locations`` they are for."""
    ACCOUNT_SETTINGS = "account_settings"
    """``account/settings``: the account's options, and its ``trend_location``."""
    RATE_LIMITS = "rate_limits"
    """``application/rate_limit_status``: route names only (its ``geo`` key is no location)."""
    DELETE = "delete"
    """A deletion notice: v1.1 stream ``delete``, v2 compliance ``delete``/``user_delete``."""
    SCRUB_GEO = "scrub_geo"
    """A notice to delete a user's location data up to a Tweet (v1.1 and v2)."""
    WITHHELD = "withheld"
    """A withholding notice for a Tweet or user."""
    COMPLIANCE = "compliance"
    """Another v2 compliance event, or a batch compliance result line."""
    CONTROL = "control"
    """A stream control message: ``limit``, ``disconnect``, ``warning``, ``friends``, ..."""
    OTHER = "other"
    """An object of no known family that holds location-like keys."""

    def __str__(self) -> str:
        return self.value


class GeoKind(str, enum.Enum):
    """What sort of location datum sits at a pointer."""

    POINT = "point"
    """Exact coordinates: a GeoJSON Point, ``lat``/``long``, a DM's shared coordinate."""
    PLACE = "place"
    """A place object (its name, country, bounding box ...)."""
    BOUNDING_BOX = "bounding_box"
    """An area without its place: a Polygon, a ``bbox``, a Feature."""
    GEOMETRY = "geometry"
    """Other GeoJSON shapes (lines, collections)."""
    PLACE_REFERENCE = "place_reference"
    """A place ID standing for a place (v2 ``geo.place_id``)."""
    PROFILE_LOCATION = "profile_location"
    """A user's own description of where they are (``location``, ``profile_location``)."""
    DERIVED_LOCATION = "derived_location"
    """A location inferred by an enrichment (Gnip ``profileLocations``)."""
    TREND_LOCATION = "trend_location"
    """A place trends are reported for (``woeid``)."""
    GEO_QUERY = "geo_query"
    """A geo endpoint's echo of the point it was asked about."""

    def __str__(self) -> str:
        return self.value


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Kinds whose location belongs to them: Tweets, users and DMs (and their activity forms).
CONTENT_KINDS: Final = frozenset(
    {
        Kind.TWEET_V1,
        Kind.TWEET_V2,
        Kind.TWEET_FLAT,
        Kind.ACTIVITY,
        Kind.USER_V1,
        Kind.USER_V2,
        Kind.ACTOR,
        Kind.MENTION,
        Kind.DM_V1,
        Kind.DM_EVENT_V1,
        Kind.DM_EVENT_V2,
    }
)

# Keys that make a content object whole: without one, an object that carries location is
# "reduced to its ID plus its location", which I.B.7 forbids keeping.
_WHOLE: Final[Mapping[Kind, frozenset[str]]] = {
    Kind.TWEET_V1: _keys("text full_text extended_tweet user"),
    Kind.TWEET_V2: _keys("text"),
    Kind.TWEET_FLAT: _keys("text author"),
    Kind.ACTIVITY: _keys("body actor"),
    Kind.USER_V1: _keys("screen_name name"),
    Kind.USER_V2: _keys("username name"),
    Kind.ACTOR: _keys("preferredUsername displayName"),
    Kind.MENTION: _keys("username screen_name"),
    Kind.DM_V1: _keys("text"),
    Kind.DM_EVENT_V1: _keys("message_create"),
    Kind.DM_EVENT_V2: _keys("text event_type"),
}

#: Where each kind keeps location data, and what sort (``None``: read it off the value).
LOCATION_FIELDS: Final[Mapping[Kind, tuple[tuple[Keys, GeoKind | None], ...]]] = {
    Kind.TWEET_V1: (
        (("coordinates",), GeoKind.POINT),
        (("geo",), GeoKind.POINT),
        (("place",), GeoKind.PLACE),
    ),
    Kind.TWEET_V2: ((("geo",), None),),
    Kind.TWEET_FLAT: ((("geo",), None),),
    Kind.ACTIVITY: (
        (("location",), GeoKind.PLACE),
        (("geo",), GeoKind.POINT),
        (("gnip", "profileLocations"), GeoKind.DERIVED_LOCATION),
    ),
    Kind.USER_V1: (
        (("location",), GeoKind.PROFILE_LOCATION),
        (("profile_location",), GeoKind.PROFILE_LOCATION),
        (("derived", "locations"), GeoKind.DERIVED_LOCATION),
    ),
    Kind.USER_V2: ((("location",), GeoKind.PROFILE_LOCATION),),
    Kind.ACTOR: ((("location",), GeoKind.PROFILE_LOCATION),),
    Kind.MENTION: ((("location",), GeoKind.PROFILE_LOCATION),),
    Kind.DM_EVENT_V1: ((("message_create", "message_data", "attachment", "location"), None),),
    Kind.GEO_RESULT: ((("query",), GeoKind.GEO_QUERY),),
    Kind.TRENDS: ((("woeid",), GeoKind.TREND_LOCATION),),
}

#: Location-like keys of objects of no known family, and what their values are.
LOOSE_KEYS: Final[Mapping[str, GeoKind | None]] = {
    "coordinates": GeoKind.POINT,
    "geo": GeoKind.POINT,
    "place": GeoKind.PLACE,
    "places": GeoKind.PLACE,
    "bounding_box": GeoKind.BOUNDING_BOX,
    "bbox": GeoKind.BOUNDING_BOX,
    "geometry": None,
    "centroid": GeoKind.POINT,
    "polylines": GeoKind.GEOMETRY,
    "place_id": GeoKind.PLACE_REFERENCE,
    "location": GeoKind.PROFILE_LOCATION,
    "profile_location": GeoKind.PROFILE_LOCATION,
    "locations": GeoKind.DERIVED_LOCATION,
    "profileLocations": GeoKind.DERIVED_LOCATION,
    "woeid": GeoKind.TREND_LOCATION,
    "trend_location": GeoKind.TREND_LOCATION,
    "lat": GeoKind.POINT,
    "long": GeoKind.POINT,
    "lon": GeoKind.POINT,
    "lng": GeoKind.POINT,
    "latitude": GeoKind.POINT,
    "longitude": GeoKind.POINT,
    "shared_coordinate": GeoKind.POINT,
    "shared_place": GeoKind.PLACE,
}

_LOOSE_KEY_SET: Final = frozenset(LOOSE_KEYS)
_GEOJSON_KINDS: Final[Mapping[str, GeoKind]] = {
    "Point": GeoKind.POINT,
    "MultiPoint": GeoKind.POINT,
    "Polygon": GeoKind.BOUNDING_BOX,
    "MultiPolygon": GeoKind.BOUNDING_BOX,
    "Feature": GeoKind.BOUNDING_BOX,
    "FeatureCollection": GeoKind.BOUNDING_BOX,
    "LineString": GeoKind.GEOMETRY,
    "MultiLineString": GeoKind.GEOMETRY,
    "GeometryCollection": GeoKind.GEOMETRY,
}
# What an object holding location says it is, by its keys, in order.
_INNER_KINDS: Final = (
    ("coordinates", GeoKind.POINT),
    ("shared_coordinate", GeoKind.POINT),
    ("shared_place", GeoKind.PLACE),
    ("full_name", GeoKind.PLACE),
    ("place_type", GeoKind.PLACE),
    ("place_id", GeoKind.PLACE_REFERENCE),
)
_SIZED: Final = frozenset({str, dict, list})
_LATLONG_IN_URL: Final = re.compile(r"[?&](?:lat|long)=")


def is_empty(value: Any) -> bool:
    """Whether a field holds no datum: absent, ``null``, ``""``, ``[]`` or ``{}``."""
    if value is None:
        return True
    if type(value) in _SIZED:
        return not value
    return isinstance(value, (Mapping, Sequence)) and not value


def location_kind(value: Any, default: GeoKind | None) -> GeoKind | None:
    """The sort of location ``value`` is, ``default`` unless it tells; ``None`` if it is empty.

    GeoJSON objects say what they are; without a default, a v2 Tweet's ``geo`` is a point
    when it has coordinates, else a reference to a place, and a DM attachment is a point or
    a place. A geo endpoint's query holds location only when it echoes a point.
    """
    if not value if type(value) in _SIZED else is_empty(value):
        return None
    if not isinstance(value, Mapping):
        return default or GeoKind.POINT
    shape = value.get("type")
    if type(shape) is str and shape in _GEOJSON_KINDS:
        return _GEOJSON_KINDS[shape]
    if default is GeoKind.GEO_QUERY:
        return default if _query_has_location(value) else None
    if default is not None:
        return default
    return next((kind for key, kind in _INNER_KINDS if key in value), GeoKind.POINT)


def place_reference(tweet: Mapping[str, Any]) -> str | None:
    """The ID of the place a v2 Tweet refers to (``geo.place_id``), or ``None``."""
    geo = tweet.get("geo")
    place_id = geo.get("place_id") if isinstance(geo, Mapping) else None
    return place_id if isinstance(place_id, str) and place_id else None


def _query_has_location(query: Mapping[str, Any]) -> bool:
    params = query.get("params")
    if isinstance(params, Mapping) and not is_empty(params.get("coordinates")):
        return True
    url = query.get("url")
    return isinstance(url, str) and _LATLONG_IN_URL.search(url) is not None


@attrs.frozen
class IdReading:
    """What an object's ID field holds, read the safe way.

    Attributes:
        value: the ID as a string (decimal for Tweets, users and DMs), or ``None``.
        field: the key it was read from (``"id_str"``, ``"id"``, ...).
        problem: ``None`` when the reading is safe; otherwise ``"float"`` (a float ID, maybe
            rounded), ``"unsafe_integer"`` (an integer of 2**53 or more with no string twin:
            JSON readers outside Python round it), ``"mismatch"`` (the string and number
            disagree; the string is kept) or ``"missing"``.
    """

    value: str | None
    field: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the ID was read without a problem."""
        return self.problem is None and self.value is not None


@attrs.frozen
class Reference:
    """An ID a node refers to without embedding the object (``author_id``, ``place_id``)."""

    pointer: str
    target: str
    """What is referred to: ``tweet``, ``user``, ``place``, ``media``, ``poll``, ``dm``."""
    id: IdReading


# Where each kind keeps its own ID, in order of preference: dotted paths, ``*`` for every
# element of a list. A ``_str`` (or ``_string``) field is read with its numeric twin.
_ID_FIELDS: Final[Mapping[Kind, tuple[str, ...]]] = {
    Kind.MEDIA: ("media_key", "id_str", "media_id_string"),
    Kind.DM_EVENT_V2: ("id", "dm_event_id"),
    Kind.DELETE: (
        "delete.status.id_str",
        "delete.direct_message.id_str",
        "delete.tweet.id",
        "user_delete.user.id",
    ),
    Kind.SCRUB_GEO: ("scrub_geo.user_id_str", "scrub_geo.user.id"),
    Kind.WITHHELD: (
        "status_withheld.id_str",
        "user_withheld.id_str",
        "withheld.tweet.id",
        "user_withheld.user.id",
    ),
}
_DEFAULT_ID: Final = ("id_str",)

# The IDs each kind refers to without embedding the object, and what they refer to.
_TWEET_V2_REFERENCES: Final = (
    ("author_id", "user"),
    ("in_reply_to_user_id", "user"),
    ("conversation_id", "tweet"),
    ("referenced_tweets.*.id", "tweet"),
    ("edit_history_tweet_ids.*", "tweet"),
    ("geo.place_id", "place"),
    ("attachments.media_keys.*", "media"),
    ("attachments.poll_ids.*", "poll"),
)
_REFERENCES: Final[Mapping[Kind, tuple[tuple[str, str], ...]]] = {
    Kind.TWEET_V1: (
        ("in_reply_to_status_id_str", "tweet"),
        ("in_reply_to_user_id_str", "user"),
        ("quoted_status_id_str", "tweet"),
        ("current_user_retweet.id_str", "tweet"),
    ),
    Kind.TWEET_V2: _TWEET_V2_REFERENCES,
    Kind.TWEET_FLAT: _TWEET_V2_REFERENCES,
    Kind.DM_V1: (("sender_id_str", "user"), ("recipient_id_str", "user")),
    Kind.DM_EVENT_V1: (
        ("message_create.sender_id", "user"),
        ("message_create.target.recipient_id", "user"),
    ),
    Kind.DM_EVENT_V2: (
        ("sender_id", "user"),
        ("participant_ids.*", "user"),
        ("referenced_tweets.*.id", "tweet"),
    ),
    Kind.USER_V2: (("pinned_tweet_id", "tweet"),),
    # twarc2-flattened Tweets expand their mentions into whole users.
    Kind.MENTION: (("pinned_tweet_id", "tweet"),),
    Kind.DELETE: (
        ("delete.status.user_id_str", "user"),
        ("delete.direct_message.user_id_str", "user"),
        ("delete.tweet.author_id", "user"),
    ),
    Kind.SCRUB_GEO: (
        ("scrub_geo.up_to_status_id_str", "tweet"),
        ("scrub_geo.up_to_status_id_string", "tweet"),
        ("scrub_geo.up_to_tweet_id", "tweet"),
    ),
    Kind.WITHHELD: (
        ("status_withheld.user_id_str", "user"),
        ("withheld.tweet.author_id", "user"),
    ),
    Kind.SPACE: (
        ("creator_id", "user"),
        ("host_ids.*", "user"),
        ("speaker_ids.*", "user"),
        ("invited_user_ids.*", "user"),
    ),
    Kind.LIST: (("owner_id", "user"),),
}


def _escape(segment: Segment) -> str:
    text = str(segment)
    if "~" in text or "/" in text:
        text = text.replace("~", "~0").replace("/", "~1")
    return text


def pointer_of(path: Path) -> str:
    """The RFC 6901 JSON pointer of ``path`` (``("data", 0, "geo")`` → ``/data/0/geo``)."""
    return "".join("/" + _escape(segment) for segment in path)


def _reading(value: Any, twin: Any, field: str, twin_field: str) -> IdReading | None:
    """Read an ID from its string form and its numeric twin; ``None`` if neither holds one."""
    if value is None or value == "":
        value, twin, field = twin, None, twin_field
    if isinstance(value, str) and value:
        mismatch = (
            type(twin) is int and value.isascii() and value.isdecimal() and int(value) != twin
        )
        return IdReading(value, field, "mismatch" if mismatch else None)
    if type(value) is int:
        return IdReading(
            str(value), field, "unsafe_integer" if abs(value) >= SAFE_INTEGER else None
        )
    if type(value) is float:
        exact = value.is_integer() and abs(value) < SAFE_INTEGER
        return IdReading(str(int(value)) if exact else None, field, "float")
    return None


def _id_fields(value: Any, dotted: str) -> Iterator[tuple[Path, IdReading]]:
    """Each ID at ``dotted`` in ``value`` (several where a ``*`` crosses a list)."""
    found: list[tuple[Path, Any]] = [((), value)]
    *parents, last = dotted.split(".")
    for segment in parents:
        found = [
            step
            for path, item in found
            for step in (
                [((*path, index), element) for index, element in enumerate(item)]
                if segment == "*" and isinstance(item, list)
                else [((*path, segment), item.get(segment))]
                if isinstance(item, Mapping)
                else []
            )
        ]
    twin_name = last.removesuffix("_string").removesuffix("_str")
    for path, item in found:
        if last == "*":
            elements = enumerate(item) if isinstance(item, list) else iter(())
            for index, element in elements:
                reading = _reading(element, None, str(path[-1]), str(path[-1]))
                if reading is not None:
                    yield (*path, index), reading
        elif isinstance(item, Mapping):
            twin = item.get(twin_name) if twin_name != last else None
            reading = _reading(item.get(last), twin, last, twin_name)
            if reading is not None:
                yield (*path, last if reading.field == last else twin_name), reading


class Node:
    """One recognised object in a payload.

    Attributes:
        kind: its family.
        value: the object itself (a mapping), by reference.
        parent: the recognised object that contains it, or ``None`` at the top.
        path: the keys and indexes from ``parent`` (or from the payload's root) to it.
    """

    # The pointer and full path are filled in when first asked for: most nodes never are.
    __slots__ = ("_full_path", "_pointer", "kind", "parent", "path", "value")

    _pointer: str
    _full_path: Path

    def __init__(
        self, kind: Kind, value: Mapping[str, Any], parent: Node | None, path: Path
    ) -> None:
        self.kind = kind
        self.value = value
        self.parent = parent
        self.path = path

    def __repr__(self) -> str:
        return f"Node({self.kind.value}, {self.pointer!r})"

    @property
    def pointer(self) -> str:
        """The RFC 6901 JSON pointer of the object within the payload (``""`` at the root)."""
        try:
            return self._pointer
        except AttributeError:
            base = self.parent.pointer if self.parent is not None else ""
            self._pointer = base + pointer_of(self.path)
            return self._pointer

    @property
    def full_path(self) -> Path:
        """The keys and indexes from the payload's root to the object."""
        try:
            return self._full_path
        except AttributeError:
            base = self.parent.full_path if self.parent is not None else ()
            self._full_path = base + self.path
            return self._full_path

    def pointer_to(self, path: Path) -> str:
        """The JSON pointer of a field of this object."""
        return self.pointer + pointer_of(path)

    @property
    def whole(self) -> bool:
        """Whether a content object carries its content, not just its ID (and location)."""
        keys = _WHOLE.get(self.kind)
        return keys is None or not keys.isdisjoint(self.value)

    def owner(self) -> Node | None:
        """The nearest content object (Tweet, user, DM) this node is, or sits in."""
        node: Node | None = self
        while node is not None and node.kind not in CONTENT_KINDS:
            node = node.parent
        return node

    def read_id(self) -> IdReading:
        """The object's own ID, preferring the string form (``id_str``) to the number.

        Activity-streams IDs (``tag:search.twitter.com,2005:123``) read as their number.
        """
        for dotted in _ID_FIELDS.get(self.kind, _DEFAULT_ID):
            for _, reading in _id_fields(self.value, dotted):
                if self.kind is Kind.ACTIVITY or self.kind is Kind.ACTOR:
                    return attrs.evolve(reading, value=(reading.value or "").rpartition(":")[2])
                return reading
        return IdReading(None, None, "missing")

    def references(self) -> Iterator[Reference]:
        """Every ID this object refers to without embedding the object (``author_id``, ...)."""
        for dotted, target in _REFERENCES.get(self.kind, ()):
            for path, reading in _id_fields(self.value, dotted):
                yield Reference(self.pointer_to(path), target, reading)


# ---------------------------------------------------------------------------------------
# Recognising objects
# ---------------------------------------------------------------------------------------

_RESPONSE_KEYS: Final = frozenset(
    {"data", "includes", "errors", "meta", "matching_rules", "__twarc", "title", "detail", "type"}
)
_CONTROL_KEYS: Final[Mapping[str, Kind]] = {
    "delete": Kind.DELETE,
    "user_delete": Kind.DELETE,
    "scrub_geo": Kind.SCRUB_GEO,
    "status_withheld": Kind.WITHHELD,
    "user_withheld": Kind.WITHHELD,
    "withheld": Kind.WITHHELD,
    "drop": Kind.COMPLIANCE,
    "undrop": Kind.COMPLIANCE,
    "user_undelete": Kind.COMPLIANCE,
    "user_protect": Kind.COMPLIANCE,
    "user_unprotect": Kind.COMPLIANCE,
    "user_suspend": Kind.COMPLIANCE,
    "user_unsuspend": Kind.COMPLIANCE,
    "user_profile_modification": Kind.COMPLIANCE,
    "limit": Kind.CONTROL,
    "disconnect": Kind.CONTROL,
    "warning": Kind.CONTROL,
    "control": Kind.CONTROL,
    "friends": Kind.CONTROL,
    "friends_str": Kind.CONTROL,
    "close": Kind.CONTROL,
    "info": Kind.CONTROL,
    "follow": Kind.CONTROL,
}
_PAGE_KEYS: Final = frozenset(
    {
        "statuses",
        "search_metadata",
        "next_cursor",
        "next_cursor_str",
        "previous_cursor",
        "requestParameters",
        "objects",
    }
)
_ENVELOPE_KEYS: Final = frozenset(
    {"for_user", "for_user_id", "target_object", "tweet_create_events"}
)


def _id_is_number(value: Mapping[str, Any]) -> bool:
    return "id_str" in value or isinstance(value.get("id"), int)


def _classify(value: Mapping[str, Any]) -> Kind | None:  # noqa: C901, PLR0911, PLR0912  # one flat decision list reads best
    """Recognise an object by its keys alone (no slot tells what it is)."""
    if "indices" in value:  # an entity of v1.1 text: hashtag, URL, mention, media
        if "screen_name" in value:
            return Kind.MENTION
        return Kind.MEDIA if "media_url_https" in value or "media_url" in value else None
    if ("text" in value or "full_text" in value or "extended_tweet" in value) and (
        "id" in value or "id_str" in value
    ):
        if "event_type" in value or "dm_conversation_id" in value:
            return Kind.DM_EVENT_V2
        if "sender" in value or "recipient" in value or "recipient_id" in value:
            return Kind.DM_V1
        if "user" in value or _id_is_number(value) or "full_text" in value:
            return Kind.TWEET_V1
        return Kind.TWEET_FLAT if isinstance(value.get("author"), Mapping) else Kind.TWEET_V2
    object_type = value.get("objectType")
    if object_type is not None:
        if object_type == "activity":
            return Kind.ACTIVITY
        if object_type == "person":
            return Kind.ACTOR
        if object_type == "place":
            return Kind.PLACE
    if "screen_name" in value:
        if "indices" in value:
            return Kind.MENTION
        return Kind.ACCOUNT_SETTINGS if "sleep_time" in value else Kind.USER_V1
    if "username" in value:
        return Kind.MENTION if "start" in value and "end" in value else Kind.USER_V2
    if "place_type" in value or "bounding_box" in value:
        return Kind.PLACE
    if "full_name" in value:
        if "slug" in value or "member_count" in value or "mode" in value:
            return Kind.LIST
        return Kind.PLACE
    if value.get("type") == "message_create":
        return Kind.DM_EVENT_V1
    if "dm_event_id" in value:
        return Kind.DM_EVENT_V2
    if "woeid" in value:
        return Kind.TRENDS if "trends" in value else Kind.TREND_LOCATION
    if "trends" in value and "locations" in value:
        return Kind.TRENDS
    if "result" in value and "query" in value:
        return Kind.GEO_RESULT
    shape = value.get("type")
    if type(shape) is str and shape in _GEOJSON_KINDS:
        return Kind.GEOMETRY
    if ("data" in value or "errors" in value or "includes" in value) and _RESPONSE_KEYS.issuperset(
        value
    ):
        return Kind.RESPONSE_V2
    if len(value) == 1:
        control = _CONTROL_KEYS.get(next(iter(value)))
        if control is not None:
            return control
    if not _PAGE_KEYS.isdisjoint(value) or isinstance(value.get("events"), list):
        return Kind.PAGE
    if "resources" in value and "rate_limit_context" in value:
        return Kind.RATE_LIMITS
    if not _ENVELOPE_KEYS.isdisjoint(value) or isinstance(value.get("event"), Mapping):
        return Kind.ENVELOPE
    if "media_key" in value or "media_id_string" in value:
        return Kind.MEDIA
    if "action" in value and "reason" in value:
        return Kind.COMPLIANCE
    if "id" in value or "id_str" in value:
        if "coordinates" in value or "place" in value or "geo" in value:
            return Kind.TWEET_V1 if _id_is_number(value) else Kind.TWEET_V2
        if "location" in value or "profile_location" in value:
            return Kind.USER_V1 if _id_is_number(value) else Kind.USER_V2
        if "options" in value and "voting_status" in value:
            return Kind.POLL
        if "state" in value and ("host_ids" in value or "creator_id" in value):
            return Kind.SPACE
        if "owner_id" in value and ("member_count" in value or "follower_count" in value):
            return Kind.LIST
    if not _LOOSE_KEY_SET.isdisjoint(value):
        return Kind.OTHER
    return None


# ---------------------------------------------------------------------------------------
# Expanding objects: each kind's child slots, and the keys that need no search
# ---------------------------------------------------------------------------------------


@attrs.frozen
class _Spec:
    # Child slots: the path to each, and the kind its objects are (None: recognise by keys).
    # A dict there is one object, a list holds many.
    children: tuple[tuple[Path, Kind | None], ...] = ()
    # Keys whose values hold nothing to find; any other key is searched.
    inert: frozenset[str] = frozenset()
    search_rest: bool = True
    # The slots as the walk reads them, grouped by their first key (read once): the rest of
    # each path, the path, the kind; in reverse, as they go on a stack.
    slots: tuple[tuple[str, tuple[tuple[Path, Path, Kind | None], ...]], ...] = attrs.field(
        init=False
    )
    # Keys not to search: the inert ones and those the slots start with.
    known: frozenset[str] = attrs.field(init=False)

    @slots.default
    def _slots(self) -> tuple[tuple[str, tuple[tuple[Path, Path, Kind | None], ...]], ...]:
        groups: dict[str, list[tuple[Path, Path, Kind | None]]] = {}
        for path, kind in reversed(self.children):
            groups.setdefault(str(path[0]), []).append((path[1:], path, kind))
        return tuple((first, tuple(branches)) for first, branches in groups.items())

    @known.default
    def _known(self) -> frozenset[str]:
        return self.inert | {str(path[0]) for path, _ in self.children}


_TWEET_V1_INERT: Final = _keys(
    """
    created_at id id_str text full_text source truncated in_reply_to_status_id
    in_reply_to_status_id_str in_reply_to_user_id in_reply_to_user_id_str
    in_reply_to_screen_name coordinates geo contributors is_quote_status quoted_status_id
    quoted_status_id_str quoted_status_permalink quote_count reply_count retweet_count
    favorite_count favorited retweeted possibly_sensitive possibly_sensitive_appealable
    filter_level lang timestamp_ms display_text_range withheld_in_countries withheld_copyright
    withheld_scope scopes matching_rules metadata current_user_retweet entities
    extended_entities extended_tweet user retweeted_status quoted_status place
    collection_source __twarc
    """
)
_USER_V1_INERT: Final = _keys(
    """
    id id_str name screen_name location profile_location description url entities protected
    followers_count fast_followers_count normal_followers_count friends_count listed_count
    created_at favourites_count utc_offset time_zone geo_enabled verified statuses_count
    media_count lang status contributors_enabled is_translator is_translation_enabled
    profile_background_color profile_background_image_url profile_background_image_url_https
    profile_background_tile profile_image_url profile_image_url_https profile_banner_url
    profile_link_color profile_sidebar_border_color profile_sidebar_fill_color
    profile_text_color profile_use_background_image has_extended_profile default_profile
    default_profile_image following follow_request_sent notifications translator_type
    withheld_in_countries pinned_tweet_ids pinned_tweet_ids_str has_custom_timelines
    advertiser_account_type advertiser_account_service_levels business_profile_state
    require_some_consent muting blocking blocked_by live_following email
    needs_phone_verification suspended derived
    """
)
# v2 Tweets, and the twarc-flattened ones (whose inlined expansions are child slots).
_TWEET_V2_INERT: Final = _keys(
    """
    id text author_id created_at conversation_id in_reply_to_user_id referenced_tweets
    attachments geo context_annotations entities public_metrics non_public_metrics
    organic_metrics promoted_metrics possibly_sensitive lang source reply_settings withheld
    edit_history_tweet_ids edit_controls note_tweet community_id display_text_range
    media_metadata scopes article __twarc author in_reply_to_user matching_rules
    """
)
_USER_V2_INERT: Final = _keys(
    """
    id name username created_at description entities location pinned_tweet_id
    profile_image_url profile_banner_url protected public_metrics url verified verified_type
    withheld most_recent_tweet_id connection_status subscription_type receives_your_dm
    affiliation is_identity_verified parody verified_followers_count __twarc
    """
)
_MENTIONS_V1: Final = ((("entities", "user_mentions"), Kind.MENTION),)
_MEDIA_V1: Final = (
    (("entities", "media"), Kind.MEDIA),
    (("extended_entities", "media"), Kind.MEDIA),
)

_SPECS: Final[Mapping[Kind, _Spec]] = {
    Kind.TWEET_V1: _Spec(
        (
            (("user",), Kind.USER_V1),
            (("place",), Kind.PLACE),
            (("retweeted_status",), Kind.TWEET_V1),
            (("quoted_status",), Kind.TWEET_V1),
            *_MENTIONS_V1,
            *_MEDIA_V1,
            (("extended_tweet", "entities", "user_mentions"), Kind.MENTION),
            (("extended_tweet", "entities", "media"), Kind.MEDIA),
            (("extended_tweet", "extended_entities", "media"), Kind.MEDIA),
        ),
        _TWEET_V1_INERT,
    ),
    Kind.USER_V1: _Spec(
        ((("status",), Kind.TWEET_V1), (("profile_location",), Kind.PLACE)), _USER_V1_INERT
    ),
    Kind.TWEET_V2: _Spec(
        (
            (("entities", "mentions"), Kind.MENTION),
            (("note_tweet", "entities", "mentions"), Kind.MENTION),
        ),
        _TWEET_V2_INERT,
    ),
    Kind.TWEET_FLAT: _Spec(
        (
            (("author",), Kind.USER_V2),
            (("in_reply_to_user",), Kind.USER_V2),
            (("geo",), Kind.PLACE),
            (("entities", "mentions"), Kind.MENTION),
            (("referenced_tweets",), Kind.TWEET_FLAT),
            (("attachments", "media"), Kind.MEDIA),
            (("attachments", "poll"), Kind.POLL),
        ),
        _TWEET_V2_INERT,
    ),
    Kind.USER_V2: _Spec(((("entities", "description", "mentions"), Kind.MENTION),), _USER_V2_INERT),
    Kind.MENTION: _Spec(
        ((("entities", "description", "mentions"), Kind.MENTION),),
        _USER_V2_INERT | _USER_V1_INERT | _keys("indices start end"),
    ),
    Kind.ACTIVITY: _Spec(
        (
            (("actor",), Kind.ACTOR),
            (("object",), None),
            (("twitter_quoted_status",), Kind.ACTIVITY),
            (("twitter_entities", "user_mentions"), Kind.MENTION),
            (("long_object", "twitter_entities", "user_mentions"), Kind.MENTION),
            (("location",), Kind.PLACE),
        ),
        _keys(
            """
            id body link postedTime verb objectType generator provider favoritesCount
            retweetCount twitter_lang twitter_filter_level display_text_range twitter_entities
            twitter_extended_entities long_object inReplyTo geo gnip actor object
            twitter_quoted_status location
            """
        ),
    ),
    Kind.ACTOR: _Spec(
        (),
        _keys(
            """
            id objectType displayName preferredUsername link links image summary postedTime
            languages location twitterTimeZone utcOffset verified favoritesCount
            followersCount friendsCount listedCount statusesCount
            """
        ),
    ),
    Kind.PLACE: _Spec(((("contained_within",), Kind.PLACE),), search_rest=False),
    Kind.TREND_LOCATION: _Spec(search_rest=False),
    Kind.GEOMETRY: _Spec(search_rest=False),
    Kind.TRENDS: _Spec(
        ((("locations",), Kind.TREND_LOCATION),), _keys("trends as_of created_at woeid")
    ),
    Kind.GEO_RESULT: _Spec(((("result", "places"), Kind.PLACE),), _keys("query result")),
    Kind.DM_V1: _Spec(
        ((("sender",), Kind.USER_V1), (("recipient",), Kind.USER_V1), *_MENTIONS_V1),
        _keys(
            """
            id id_str text created_at sender_id sender_id_str sender_screen_name recipient_id
            recipient_id_str recipient_screen_name entities sender recipient
            """
        ),
    ),
    Kind.DM_EVENT_V1: _Spec(
        ((("message_create", "message_data", "entities", "user_mentions"), Kind.MENTION),),
        _keys("type id created_timestamp message_create initiated_via"),
    ),
    Kind.DM_EVENT_V2: _Spec(
        (),
        _keys(
            """
            id text event_type dm_conversation_id dm_event_id created_at sender_id
            participant_ids referenced_tweets attachments entities
            """
        ),
    ),
    Kind.LIST: _Spec(((("user",), Kind.USER_V1),)),
    Kind.MEDIA: _Spec(
        ((("additional_media_info", "source_user"), Kind.USER_V1),),
        _keys(
            """
            id id_str media_key type indices url display_url expanded_url media_url
            media_url_https preview_image_url sizes original_info video_info variants
            duration_ms height width alt_text ext_alt_text ext_media_availability
            ext_media_color features source_status_id source_status_id_str source_user_id
            source_user_id_str public_metrics non_public_metrics organic_metrics
            promoted_metrics image video processing_info media_id media_id_string size
            expires_after_secs description_source
            """
        ),
    ),
    Kind.POLL: _Spec(search_rest=False),
    Kind.SPACE: _Spec(search_rest=False),
    Kind.RATE_LIMITS: _Spec(search_rest=False),
    Kind.RESPONSE_V2: _Spec(
        (
            (("data",), None),
            (("includes", "tweets"), Kind.TWEET_V2),
            (("includes", "users"), Kind.USER_V2),
            (("includes", "places"), Kind.PLACE),
            (("includes", "media"), Kind.MEDIA),
            (("includes", "polls"), Kind.POLL),
        ),
        _keys("data includes meta errors matching_rules __twarc title detail type"),
    ),
}
_SEARCH_ALL: Final = _Spec()
# What the walk reads for each kind: (slots, keys not to search, whether to search the rest).
_EXPANSIONS: Final[Mapping[Kind, tuple[Any, frozenset[str], bool]]] = {
    kind: (spec.slots, spec.known, spec.search_rest)
    for kind in Kind
    for spec in [_SPECS.get(kind, _SEARCH_ALL)]
}


# ---------------------------------------------------------------------------------------
# Foreign objects: tweepy models and responses, read as the JSON they came from
# ---------------------------------------------------------------------------------------

_RESPONSE_FIELDS: Final = ("data", "includes", "errors", "meta")


def adapt(value: Any) -> Any:
    """The JSON form of ``value``: tweepy models and responses become what they were parsed from.

    tweepy's v1.1 models keep their JSON in ``_json``; its v2 models (``Tweet``, ``User``,
    ``Place``...) in ``data``; ``tweepy.Response`` is a named tuple of ``data``,
    ``includes``, ``errors`` and ``meta``; other sequences read as lists. Anything else is
    returned as it is.
    """
    if type(value) in _JSON_TYPES:
        return value
    form: Any = value
    if getattr(type(value), "_fields", None) == _RESPONSE_FIELDS:
        form = {key: adapt(item) for key, item in zip(_RESPONSE_FIELDS, value, strict=True) if item}
    elif isinstance(getattr(value, "_json", None), Mapping):
        form = value._json  # noqa: SLF001  # where tweepy's v1.1 models keep their JSON
    elif isinstance(getattr(value, "data", None), Mapping):
        form = value.data  # tweepy's v2 models (which are also mappings, of converted values)
    elif isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray)):
        form = [adapt(item) for item in value]
    return form


_JSON_TYPES: Final = frozenset({dict, list, str, int, float, bool, type(None)})


# ---------------------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------------------

# Nesting deeper than this is unusual for JSON: the walk then checks once for a reference
# cycle (which would otherwise never end) before going on.
_DEEP: Final = 200


def walk(payload: Any) -> Iterator[Node]:  # noqa: C901, PLR0912  # the hot loop, kept in one frame
    """Yield every recognised object of ``payload``, parents before children.

    ``payload`` is parsed JSON (dicts, lists, scalars; any `Mapping` or sequence works) or a
    tweepy model or response. Objects in slots the tables know are taken to be what the
    slot holds; everything else is recognised by its keys, at any depth.

    Raises:
        PayloadError: the payload contains itself (a reference cycle), which no JSON does.
    """
    # Stack entries: (value, parent node, path from the parent, kind the slot holds, depth).
    stack: list[tuple[Any, Node | None, Path, Kind | None, int]] = [(payload, None, (), None, 0)]
    pop, push = stack.pop, stack.append
    expansions, scalars, dict_, list_ = _EXPANSIONS, _SCALARS, dict, list
    checked = False
    while stack:
        value, parent, path, hint, depth = pop()
        shape: type = type(value)
        if shape is not dict_ and shape is not list_:
            value = adapt(value)
            if not isinstance(value, (Mapping, list)):
                continue
            shape = list_ if isinstance(value, list) else dict_
        if depth > _DEEP and not checked:
            _refuse_cycles(payload)
            checked = True
        depth += 1
        if shape is list_:
            for index in range(len(value) - 1, -1, -1):
                item = value[index]
                if type(item) not in scalars:
                    push((item, parent, (*path, index), hint, depth))
            continue
        kind = hint or _classify(value)
        if kind is None:
            # An object of no known family: search its values.
            for key in reversed(list(value)):
                item = value[key]
                if type(item) not in scalars:
                    push((item, parent, (*path, key), None, depth))
            continue
        node = Node(kind, value, parent, path)
        yield node
        slots, known, search_rest = expansions[kind]
        if search_rest and not known.issuperset(value):
            # Keys no table knows: search them, in document order.
            for key in reversed([key for key in value if key not in known]):
                item = value[key]
                if type(item) not in scalars:
                    push((item, node, (key,), None, depth))
        for first, branches in slots:
            top = value.get(first)
            if top is None:
                continue
            for rest, child_path, child_kind in branches:
                item = top
                for segment in rest:
                    if type(item) is dict_ or isinstance(item, Mapping):
                        item = item.get(segment)
                        if item is not None:
                            continue
                    item = None
                    break
                if type(item) not in scalars:
                    push((item, node, child_path, child_kind, depth))


def _refuse_cycles(payload: Any) -> None:
    """Raise `PayloadError` if ``payload`` contains itself; iterative, so any depth works."""
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(payload, False)]
    while stack:
        value, leaving = stack.pop()
        if leaving:
            active.discard(id(value))
            continue
        value = adapt(value)
        if isinstance(value, Mapping):
            items: Any = value.values()
        elif isinstance(value, list):
            items = value
        else:
            continue
        if id(value) in active:
            raise PayloadError("the payload contains itself (a reference cycle)")
        active.add(id(value))
        stack.append((value, True))
        stack.extend((item, False) for item in items if type(item) not in _SCALARS)


_SCALARS: Final = frozenset({str, int, float, bool, bytes, type(None)})

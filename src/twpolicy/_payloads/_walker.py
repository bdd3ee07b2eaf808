"""Walk any Twitter/X payload, object by object, as the table of shapes says.

`walk` yields every object of a known family in a payload (Tweets of every API version and
container, users, places, DMs, activity streams, twarc-flattened Tweets, stream and compliance
messages, API response envelopes) as a `Node`: its kind, the object, the recognised object
that contains it, and a lazily built RFC 6901 JSON pointer. What each kind holds where (its
IDs, references, child slots, location fields) is in one table, `twpolicy._payloads._shapes`;
everything that needs to know where things sit in a payload (the location rules,
dehydration) reads nodes and that table, never payload paths of its own.

Speed matters: the walker sits on hot paths (stores, streams, ``twpolicy scan``). Known
families are expanded through per-kind tables of child slots, so most of a payload's values
(text, entities, metrics) are never visited; only keys no table knows are searched generically,
so shapes added by the API later are still found. The walk is iterative: nesting depth is
limited by memory, not by Python's recursion limit.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any, Final

import attrs

from twpolicy._payloads._shapes import (
    CONTENT_KINDS,
    LOCATION_FIELDS,
    LOOSE_KEYS,
    SHAPES,
    GeoKind,
    Kind,
    Path,
    Segment,
    loose_key,
    twin,
)
from twpolicy.exceptions import PayloadError

__all__ = [
    "CONTENT_KINDS",
    "INVISIBLE",
    "LOCATION_FIELDS",
    "LOOSE_KEYS",
    "MEDIA_PATHS",
    "GeoKind",
    "IdReading",
    "Kind",
    "Node",
    "Reference",
    "UniqueKeys",
    "adapt",
    "classify",
    "has_content",
    "is_empty",
    "is_whole",
    "location_kind",
    "place_reference",
    "pointer_of",
    "read_json",
    "unique_keys",
    "walk",
    "written_once",
]

#: The largest integer every JSON reader holds exactly (JavaScript's ``Number``).
SAFE_INTEGER: Final = 2**53

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
_QUERY_IN_URL: Final = re.compile(r"[?&][^=&#]+=[^&#]")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of JSON text as a dict, refusing a key written twice (see `read_json`)."""
    made = dict(pairs)
    if len(made) != len(pairs):
        twice = next(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
        raise PayloadError(
            f"the JSON text holds the key {twice!r} twice in one object: a JSON reader keeps "
            "only one of the two values, so what is kept would differ from what was checked; "
            "write each key once"
        )
    return made


def read_json(text: str | bytes | bytearray, loads: Callable[[bytes], Any] | None = None) -> Any:
    """JSON text as what it holds, read as every enforcement point must read it.

    Exactly `json.loads` (bytes in UTF-8, -16 or -32, with or without a BOM), except that an
    object holding a key twice is refused: readers keep one of the two values (Python's the
    last, others the first), so text whose first ``"coordinates"`` holds a point and whose
    second holds ``null`` would be judged empty and stored with the point. Refusing is the
    only reading that judges what is kept.

    ``loads``, a faster parser of UTF-8 bytes (orjson's, msgspec's), reads small documents
    first: each key of JSON text ends in a quote and a colon, so when the text holds no more
    of those than the parsed value holds keys, no key was written twice; otherwise the text
    is read the exact way (a quote and colon inside a string only costs that second read).

    Raises:
        PayloadError: a key written twice in one object (a `ValueError`, as bad JSON is).
        ValueError, UnicodeDecodeError: not JSON, as `json.loads` raises them.
    """
    if loads is not None and isinstance(text, bytes):
        try:
            value = loads(text)
        except ValueError:
            pass  # read (or explained) the exact way below
        else:
            return unique_keys(text, value)
    return json.loads(text, object_pairs_hook=_unique_keys)


def unique_keys(text: bytes | memoryview, value: Any) -> Any:
    """``value``, parsed from ``text`` by any JSON reader, once ``text`` writes no key twice.

    Each key ends in a quote and a colon: text holding no more of those than ``value`` holds
    keys wrote none twice. Otherwise the text is read again the exact way (see `read_json`).

    Raises:
        PayloadError: a key written twice in one object.
    """
    if _written_compactly(text, value):
        return value
    if len(_KEY_ENDS.findall(text)) != _keys(value):
        # raises on a key written twice (``bytes``: json reads no view of a buffer)
        json.loads(bytes(text), object_pairs_hook=_unique_keys)
    return value


def _written_compactly(text: bytes | memoryview, value: Any) -> bool:
    r"""Whether ``text`` surely wrote no key twice: as many colons as ``value`` written again.

    As `written_once` counts them, with orjson's writer (C, no walk in Python) where it is
    installed and writes ``value``; ``False`` leaves the question to the key count.
    """
    if _WRITE is None:  # pragma: no cover  # exercised where orjson is not installed
        return False
    data = text if type(text) is bytes else bytes(text)
    if b"\\u003" in data:
        return False
    try:
        written = _WRITE(value)
    except TypeError:  # what it cannot write (integers past 64 bits, deep nesting)
        return False
    return data.count(b":") == written.count(b":")


def written_once(
    text: bytes | memoryview,
    decode: Callable[[Any], Any],
    encode: Callable[[Any], bytes],
) -> bool:
    r"""Whether ``text`` writes no key twice, for a fast path that decodes only some fields.

    ``False`` sends the line to the exact path (`UniqueKeys`), which names the key.
    ``decode`` and ``encode`` (msgspec's) read ``text`` and write what they read compactly:
    each kept key once, a colon in a string as a colon.

    Exact, and cheap where it can be (two one-byte counts besides the decode and encode):
    outside strings, JSON text holds one colon per key written. Where ``text`` spells no
    colon as an escape (no ``\u003`` in it), each string ``encode`` writes holds no more colons
    than the string of ``text`` it came from, so equal counts of colons leave ``text`` no
    more keys than were kept: none was written twice. Otherwise the text is read the exact
    way.
    """
    data = text if type(text) is bytes else bytes(text)  # (a view of a mapped file: copied)
    try:
        written = encode(decode(data))
        if b"\\u003" not in data and data.count(b":") == written.count(b":"):
            return True
        json.loads(data, object_pairs_hook=_unique_keys)
    except (ValueError, TypeError, RecursionError):  # the exact path refuses or explains it
        return False
    return True


@attrs.frozen
class UniqueKeys:
    """``loads``, refusing JSON text that writes a key twice in any object (`unique_keys`).

    The parser every dataset reader wraps its JSON parser in (``twpolicy dehydrate``,
    ``scan``, ``comply --dataset``); picklable when ``loads`` is, for worker processes.
    """

    loads: Callable[[bytes], Any]

    def __call__(self, data: bytes) -> Any:
        """``data`` read by ``loads``; `PayloadError` (a `ValueError`) for a key written twice."""
        return unique_keys(data, self.loads(data))


# JSON text written compactly, to count the keys of a parsed value (`unique_keys`).
_WRITE: Callable[[Any], bytes] | None
try:
    import orjson

    _WRITE = orjson.dumps
except ImportError:  # pragma: no cover  # exercised where orjson is not installed
    _WRITE = None

#: Where a key of JSON text may end: a quote, JSON whitespace, a colon.
_KEY_ENDS: Final = re.compile(rb'"[ \t\r\n]*:')


def _keys(value: Any) -> int:
    """How many keys the objects of a parsed JSON value hold, at every depth."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            count += len(item)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return count


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
    a place. A geo endpoint's query holds location when it echoes any request parameter.
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
    # Whatever the request asked about (a point, a name, an address, an IP) is location.
    params = query.get("params")
    if isinstance(params, Mapping) and any(not is_empty(item) for item in params.values()):
        return True
    url = query.get("url")
    return isinstance(url, str) and _QUERY_IN_URL.search(url) is not None


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


# Where each kind keeps its own ID, and the IDs it refers to: from the table.
_ID_FIELDS: Final[Mapping[Kind, tuple[str, ...]]] = {
    kind: shape.ids for kind, shape in SHAPES.items()
}
_TAGGED: Final = frozenset(kind for kind, shape in SHAPES.items() if shape.tagged)
_REFERENCES: Final[Mapping[Kind, tuple[tuple[str, str], ...]]] = {
    kind: shape.references for kind, shape in SHAPES.items()
}
_WHOLE: Final[Mapping[Kind, tuple[tuple[str, ...], ...] | None]] = {
    kind: None if shape.whole is None else tuple(tuple(p.split(".")) for p in shape.whole)
    for kind, shape in SHAPES.items()
}


# Characters that print as nothing: Unicode's default-ignorable code points (joiners,
# Hangul fillers, variation selectors, tags...) that `str.isprintable` lets through, and the
# blank Braille pattern. A text of these alone is as empty as ``""``.
INVISIBLE: Final = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_VISIBLE_ASCII: Final = re.compile(r"[!-~]")
# Characters that are content in every Unicode version Python has shipped (all letters,
# digits, symbols or punctuation, none in `INVISIBLE`; a test checks each one): most text
# holds one, which spares it the walk over every character's category.
_SURELY_CONTENT: Final = re.compile(
    "[!-~\u00c0-\u017f\u0391-\u03a1\u03a3-\u03c9\u0410-\u044f\u0621-\u063a"
    "\u0641-\u064a\u0e01-\u0e2e\u3041-\u3094\u30a1-\u30fa\u4e00-\u9fa5\uac00-\ud7a3"
    "\U0001f600-\U0001f64f]"
)
# Ten decimal digits (as ``\d`` reads them), the fewest `_ONLY_DIGITS` matches: a text with
# fewer is never only an ID, whatever filtering it goes through.
_TEN_DIGITS: Final = re.compile(r"(?:\D*\d){10}")
# Letters, numbers, symbols (emoji) and punctuation are content; separators, controls,
# format characters and combining marks on their own are not.
_CONTENT_CATEGORIES: Final = frozenset("LNSP")
_URL: Final = re.compile(r"(?:https?://|www\.)\S*", re.IGNORECASE)
_ONLY_DIGITS: Final = re.compile(r"[\s\x00-\x1f]*\d{10,}[\s\x00-\x1f]*")
TEXT_FIELDS: Final = frozenset({"text", "full_text", "body"})


def has_content(value: Any) -> bool:
    """Whether ``value`` is content: a string with a character that prints.

    Whitespace, control and format characters, invisible code points and combining marks
    on their own print nothing: ``"\u200b"`` holds no more content than ``""``.
    """
    if not isinstance(value, str) or not value:
        return False
    if value.isascii():
        return _VISIBLE_ASCII.search(value) is not None
    if _SURELY_CONTENT.search(value) is not None:
        return True
    return any(
        unicodedata.category(char)[0] in _CONTENT_CATEGORIES for char in INVISIBLE.sub("", value)
    )


#: Where a Tweet carries media (a non-empty list), in itself or in its ``extended_tweet``.
MEDIA_PATHS: Final = tuple(
    (*holder, container, key)
    for holder in ((), ("extended_tweet",))
    for container, key in (
        ("entities", "media"),
        ("extended_entities", "media"),
        ("attachments", "media_keys"),
    )
)


def _has_media(value: Mapping[str, Any]) -> bool:
    """Whether a Tweet carries media, the content of a Tweet whose text is only its link."""
    for path in MEDIA_PATHS:
        media: Any = value
        for key in path:
            media = media.get(key) if isinstance(media, Mapping) else None
        if isinstance(media, list) and media:
            return True
    return False


def _text_content(value: Mapping[str, Any], text: str) -> bool:
    """Whether a text field holds content of its own: more than links, or than an ID.

    A text that is only links is the link to the Tweet's media (content only with the
    media); a text that is only a run of digits of an ID's length is an ID, not content.
    """
    found = text_content(text)
    return _has_media(value) if found is None else found


def text_content(text: str) -> bool | None:
    """Whether a text field's text is content of its own (see `is_whole`).

    ``None``: the text is only links, content only if its object carries their media.
    """
    rest = _URL.sub("", text) if ("/" in text or "www" in text.lower()) else text
    if rest is not text and not has_content(rest):
        return None
    if not rest.isascii():
        if _TEN_DIGITS.match(rest) is None:
            return True  # what the filter keeps holds fewer digits still: never only an ID
        rest = "".join(
            char
            for char in INVISIBLE.sub("", rest)
            if char.isspace() or unicodedata.category(char)[0] in _CONTENT_CATEGORIES
        )
    return _ONLY_DIGITS.fullmatch(rest) is None


def is_whole(kind: Kind, value: Mapping[str, Any]) -> bool:
    """Whether an object of ``kind`` carries its content (not merely the keys for it).

    Judged by the values, never by which keys are present: a content field holds a text
    with a character that prints (`has_content`); a text field (``text``, ``full_text``,
    ``body``) that is only links counts only with the media they link to, and one that is
    only an ID (10 digits or more) does not count.
    """
    paths = _WHOLE[kind]
    if paths is None:
        return True
    for path in paths:
        item: Any = value
        for key in path:
            item = item.get(key) if isinstance(item, Mapping) else None
        if has_content(item) and (path[-1] not in TEXT_FIELDS or _text_content(value, item)):
            return True
    return False


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
    twin_name = twin(last) or last
    for path, item in found:
        if last == "*":
            elements = enumerate(item) if isinstance(item, list) else iter(())
            for index, element in elements:
                reading = _reading(element, None, str(path[-1]), str(path[-1]))
                if reading is not None:
                    yield (*path, index), reading
        elif isinstance(item, Mapping):
            number = item.get(twin_name) if twin_name != last else None
            reading = _reading(item.get(last), number, last, twin_name)
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
        """Whether a content object carries its content, not just its ID (and location).

        Decided by content, not key presence: see `is_whole`.
        """
        return is_whole(self.kind, self.value)

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
        for dotted in _ID_FIELDS[self.kind]:
            for _, reading in _id_fields(self.value, dotted):
                if self.kind in _TAGGED:
                    return attrs.evolve(reading, value=(reading.value or "").rpartition(":")[2])
                return reading
        return IdReading(None, None, "missing")

    def references(self) -> Iterator[Reference]:
        """Every ID this object refers to without embedding the object (``author_id``, ...)."""
        for dotted, target in _REFERENCES[self.kind]:
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


def classify(value: Mapping[str, Any]) -> Kind | None:  # noqa: C901, PLR0911, PLR0912  # one flat decision list reads best
    """Recognise an object by its keys alone (no slot tells what it is); ``None``: no family.

    The walker's own recognition, for readers beside the walk (the location and outbound
    readers) that meet objects no slot of the table reaches. The table's signatures
    (`twpolicy._payloads._shapes.Signature`, which the fast ID path reads) must agree with
    this list: a property test holds them to it.
    """
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
    if not _LOOSE_KEY_SET.isdisjoint(value) or any(loose_key(key) for key in value):
        return Kind.OTHER
    return None


# ---------------------------------------------------------------------------------------
# Expanding objects: each kind's child slots, and the keys that need no search (the table)
# ---------------------------------------------------------------------------------------

# What the walk reads for each kind: (slots, keys not to search, whether to search the rest).
_EXPANSIONS: Final[Mapping[Kind, tuple[Any, frozenset[str], bool]]] = {
    kind: (shape.slots, shape.known, shape.search_rest) for kind, shape in SHAPES.items()
}


# ---------------------------------------------------------------------------------------
# Foreign objects: tweepy models and responses, read as the JSON they came from
# ---------------------------------------------------------------------------------------

_RESPONSE_FIELDS: Final = ("data", "includes", "errors", "meta")


def adapt(value: Any) -> Any:
    """The JSON form of ``value``: tweepy models and responses become what they were parsed from.

    tweepy's v1.1 models keep their JSON in ``_json``; its v2 models (``Tweet``, ``User``,
    ``Place``...) in ``data``; ``tweepy.Response`` is a named tuple of ``data``,
    ``includes``, ``errors`` and ``meta``; other sequences, sets and dict views read as
    lists. Anything else (iterators included: reading them would use them up) is returned
    as it is.
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
    elif isinstance(value, Collection) and not isinstance(
        value, (str, bytes, bytearray, memoryview, Mapping)
    ):
        form = [adapt(item) for item in value]  # sequences, sets, dict views
    return form


_JSON_TYPES: Final = frozenset({dict, list, str, int, float, bool, type(None)})


# ---------------------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------------------

# Nesting deeper than this is unusual for JSON: the walk then checks once for a reference
# cycle (which would otherwise never end) before going on.
_DEEP: Final = 200


def walk(payload: Any, kind: Kind | None = None) -> Iterator[Node]:  # noqa: C901, PLR0912  # the hot loop, kept in one frame
    """Yield every recognised object of ``payload``, parents before children.

    ``payload`` is parsed JSON (dicts, lists, scalars; any `Mapping` or sequence works) or a
    tweepy model or response. Objects in slots the table knows are taken to be what the
    slot holds; everything else is recognised by its keys, at any depth. ``kind``, when the
    caller knows it, is what the payload (or each object of a list) is, as a slot would say.

    Raises:
        PayloadError: the payload contains itself (a reference cycle), which no JSON does.
    """
    # Stack entries: (value, parent node, path from the parent, kind the slot holds, depth).
    stack: list[tuple[Any, Node | None, Path, Kind | None, int]] = [(payload, None, (), kind, 0)]
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
        kind = hint or classify(value)
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

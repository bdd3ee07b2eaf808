"""The fast location path of ``twpolicy scan``: lines of known shape judged from their bytes.

Most stored data is v2 response pages (twarc2), v1.1 Tweets, timelines, users and search or
cursored pages, and twarc2's flattened Tweets; their location sits in a few fields of whole
Tweets and users. For these shapes a decoder and a judging function are generated from the
table of shapes (`twpolicy._payloads._shapes`), the table the walker and the location
finder read:

- a msgspec Struct per kind of object, declaring every key the table knows for it (any other
  key refuses the line), decoding only what location judging reads: the whole-making fields
  (text, names), the location fields (parsed with the scanner's own parser), the child
  slots, and a v1.1 Tweet's ``id`` where the kind must be recognised from keys; every other
  key is skipped unparsed;
- a judging function per kind that reports each location field as the finder does (same
  pointer, kind and reason, in walk order), and places outside any Tweet as referenced or
  not. Parts the finder reads key by key (a page's metadata and cursors, v2 polls, the
  ``type`` twarc2 keeps in flattened Tweets) are read by the finder's own functions.

Only what the finder decides without looking beyond the table is judged here: every content
object must be whole, every key known, every object where a slot puts it. Anything else (an
unknown key at any depth, an object that is not whole, a value of another type, a line the
finder would read a second time with what it learned) makes `judge` answer ``None``, and the
record goes to the full scanner. The run's location memory learns exactly what the full
scanner would teach it (`judge` feeds it through the same `PlaceNames` calls), so later
records are judged the same way. A property test holds both paths to the same findings and
memory on every corpus payload and on generated ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
import msgspec

from twpolicy._payloads._encodings import scaled_numbers
from twpolicy._payloads._geo import Finder, PlaceNames, Probe, key_location, scan_value
from twpolicy._payloads._shapes import (
    CONTENT_FAMILY,
    LOCATION_FIELDS,
    SHAPES,
    GeoKind,
    Kind,
    Path,
    loose_key,
)
from twpolicy._payloads._structs import (
    CROSSED,
    SKIPPED,
    Field,
    Keys,
    Unsupported,
    declared,
    defstruct,
)
from twpolicy._payloads._walker import (
    MEDIA_PATHS,
    TEXT_FIELDS,
    Node,
    classify,
    has_content,
    location_kind,
    place_reference,
    pointer_of,
    text_content,
    written_once,
)

__all__ = ["FastHit", "FastLine", "judge", "parser"]

# Every value of a line, read and written again, for `written_once` (the structs skip most):
# with orjson where installed, whose writing costs some 0.6 of msgspec's (what it refuses,
# integers past 64 bits or lone surrogates, `written_once` reads the exact way).
try:
    import orjson

    _GENERIC: Callable[[bytes], Any] = orjson.loads
    _WRITE: Callable[[Any], bytes] = orjson.dumps
except ImportError:  # pragma: no cover  # exercised where orjson is not installed
    _GENERIC = msgspec.json.Decoder().decode
    _WRITE = msgspec.json.Encoder().encode

#: Kinds the fast path judges; objects of other kinds must be absent where slots hold them.
SUPPORTED: Final = frozenset(
    {
        Kind.TWEET_V1,
        Kind.TWEET_V2,
        Kind.TWEET_FLAT,
        Kind.USER_V1,
        Kind.USER_V2,
        Kind.MENTION,
        Kind.MEDIA,
        Kind.RESPONSE_V2,
    }
)
#: Kinds outside content that the finder reads key by key (no table fields, no slots, no
#: search of their keys by the walk): where nothing content holds them, read by the finder.
_READ_KINDS: Final = frozenset(
    kind
    for kind, shape in SHAPES.items()
    if not shape.search_rest
    and not shape.children
    and kind not in CONTENT_FAMILY
    and kind not in LOCATION_FIELDS
    and kind not in {Kind.PLACE, Kind.TREND_LOCATION, Kind.GEOMETRY, Kind.RATE_LIMITS}
)
#: Keys the table does not know for a kind that its objects carry all the same, read here by
#: the finder's own functions: twarc2 keeps each referenced Tweet's ``type`` (``quoted``,
#: ``replied_to``) in the flattened Tweet that inlines it.
_EXTRA: Final[Mapping[Kind, tuple[str, ...]]] = {Kind.TWEET_FLAT: ("type",)}
#: How deep objects may nest in one another (a Retweet of a quote, their users, mentions).
_DEPTH: Final = 6

_NAMED_KINDS: Final = frozenset({GeoKind.PLACE, GeoKind.TREND_LOCATION})
_POINTED_KINDS: Final = frozenset(
    {GeoKind.POINT, GeoKind.BOUNDING_BOX, GeoKind.GEOMETRY, GeoKind.PLACE}
)
_READ_KEYS: Final[Mapping[Kind, frozenset[str]]] = {
    kind: frozenset(path[0] for path, _ in LOCATION_FIELDS.get(kind, ())) for kind in SHAPES
}
# What a slot of no supported kind may hold: nothing the walker makes an object of. An empty
# content object is not whole (the finder reads it), so only null and [] for those.
_EMPTY: Final = frozenset({b"null", b"[]"})
_EMPTY_OBJECT: Final = frozenset({b"null", b"[]", b"{}"})
# Stands for each v1.1 Tweet of a timeline or search page where the finder's own functions
# read the list around them: an object it recognises as a Tweet and leaves to the walk.
_A_TWEET: Final = {"id_str": "1", "text": "x"}
# ``list`` of element types built at run time, which a type checker cannot see.
_LIST: Any = list


class _Fallback(Exception):  # an internal signal: never leaves `judge`
    """The line cannot be judged here exactly: the full scanner reads it."""


class FastHit:
    """A location datum the fast path found: what `twpolicy._payloads._geo.Hit` reports."""

    __slots__ = ("datum", "kind", "path", "reason", "standalone", "tabled")

    def __init__(
        self,
        path: Path,
        kind: GeoKind,
        reason: str,
        standalone: bool,  # noqa: FBT001  # positional in generated code
        datum: Any,
        *,
        tabled: bool = True,
    ) -> None:
        self.path = path
        self.kind = kind
        self.reason = reason
        self.standalone = standalone
        self.datum = datum
        self.tabled = tabled

    @property
    def pointer(self) -> str:
        return pointer_of(self.path)

    def __repr__(self) -> str:
        state = "standalone " if self.standalone else ""
        return f"FastHit({state}{self.kind.value} at {self.pointer!r}: {self.reason})"


# What a generated field holds.
_SKIP: Final = SKIPPED  # a known key: skipped unparsed
_TEXT: Final = "text"  # a whole-making field: a string, null or absent
_ID: Final = "id"  # a v1.1 Tweet's id, where its kind is recognised from its keys
_LOCATION: Final = "location"  # a location field: parsed with the record's parser
_SLOT: Final = "slot"  # objects of a supported kind
_PLACES: Final = "places"  # places outside any content object (a response's includes)
_EMPTY_ROLE: Final = "empty"  # objects of another kind: must be absent, null or empty
_INNER: Final = CROSSED  # an object a path crosses (unknown keys skipped)
_READ: Final = "read"  # objects outside content the finder reads key by key (v2 polls)
_EXTRA_ROLE: Final = "extra"  # a key the table does not know, read by the finder (`_EXTRA`)


@attrs.frozen
class _Compiled:
    struct: Any
    name: str
    asks: bool  # whether it asks the finder's functions (which read the names known)


class _Generator:
    """Generates the structs and the judging functions, one per kind and depth."""

    def __init__(self) -> None:
        self.done: dict[tuple[Kind, int, bool, bool], _Compiled | None] = {}
        self.source: list[str] = []
        self.constants: dict[str, Any] = {}
        self.count = 0

    def constant(self, value: Any) -> str:
        self.count += 1
        name = f"c{self.count}"
        self.constants[name] = value
        return name

    def compile(
        self, kind: Kind, depth: int, *, recognised: bool = False, wide: bool = False
    ) -> _Compiled:
        """The struct and function for ``kind`` (``wide``: every key the table knows)."""
        key = (kind, depth, recognised, wide)
        if key not in self.done:
            try:
                self.done[key] = self._compile(kind, depth, recognised=recognised, wide=wide)
            except Unsupported:
                self.done[key] = None
        compiled = self.done[key]
        if compiled is None:
            raise Unsupported
        return compiled

    def _compile(self, kind: Kind, depth: int, *, recognised: bool, wide: bool) -> _Compiled:  # noqa: C901, PLR0912, PLR0915  # one pass per part of the table
        shape = SHAPES[kind]
        if kind not in SUPPORTED or depth <= 0 or not shape.search_rest:
            raise Unsupported
        family = CONTENT_FAMILY.get(kind)
        if (family is None) != (shape.whole is None):
            raise Unsupported
        keys = Keys()
        for dotted in shape.whole or ():
            entry = keys.at(tuple(dotted.split(".")))
            if entry.role not in (_SKIP, _TEXT):
                raise Unsupported
            entry.role = _TEXT
        locations = []
        for path, default in shape.location:
            entry = keys.at(path)
            if entry.role != _SKIP:
                raise Unsupported
            entry.role = _LOCATION
            locations.append((path, default))
        firsts = {path[0] for path, _ in shape.location}
        slots = []
        for slot in shape.visits:
            entry = keys.at(slot.path)
            if entry.role == _LOCATION and len(slot.path) == 1 and slot.kind is Kind.PLACE:
                continue  # a location field the finder covers whole: read as location only
            if entry.role != _SKIP or slot.path[0] in firsts:
                raise Unsupported
            held = slot.kind or slot.usually
            if slot.kind is Kind.PLACE and family is None and kind is Kind.RESPONSE_V2:
                entry.role = _PLACES
            elif kind is Kind.RESPONSE_V2 and held in _READ_KINDS:
                entry.role, entry.kind = _READ, held
            elif held is not None and held in SUPPORTED:
                try:
                    entry.child = self.compile(
                        held,
                        depth - 1,
                        recognised=slot.kind is None,
                        wide=kind is Kind.TWEET_FLAT,  # twarc2 expands mentions into users
                    )
                    entry.role = _SLOT
                except Unsupported:
                    if slot.kind is None:
                        raise
                    entry.role, entry.kind = _EMPTY_ROLE, held
            elif slot.kind is None:
                raise Unsupported
            else:
                entry.role, entry.kind = _EMPTY_ROLE, held
            slots.append((slot, entry))
        signature = shape.signature if recognised else None
        if recognised and kind in (Kind.TWEET_V1, Kind.TWEET_FLAT):
            keys.field("id").role = _ID
        elif recognised and signature is None and kind not in _RECOGNISED:
            raise Unsupported
        excluded = signature.excluded if signature is not None else frozenset()
        # In twarc2's flattened Tweets, mentions are expanded into users, with every key.
        for key in (shape.known if wide else declared(kind, shape)) - excluded:
            keys.field(key)
        for key in _EXTRA.get(kind, ()):
            entry = keys.field(key)
            if entry.role != _SKIP or key in shape.known or loose_key(key) is not None:
                raise Unsupported
            entry.role = _EXTRA_ROLE
        if not excluded.isdisjoint(keys.fields):
            raise Unsupported
        for key, required in signature.required if signature is not None else ():
            entry = keys.field(key)
            entry.required = required
        media = self._media(keys) if family is not None else "False"
        suffix = f"{depth}{'_r' if recognised else ''}{'_w' if wide else ''}"
        struct = defstruct(f"{kind.value}{suffix}", keys, self._held, forbid=True)
        name = f"judge_{kind.value}_{suffix}"
        self._function(name, kind, family, keys=keys, locations=locations, slots=slots, media=media)
        asks = kind in _EXTRA or any(
            entry.role == _READ or (entry.child is not None and entry.child.asks)
            for _slot, entry in slots
        )
        return _Compiled(struct, name, asks)

    def _held(self, entry: Field, name: str) -> tuple[Any, Any]:
        """What a field decodes to (`twpolicy._payloads._structs.defstruct`); absent: unset."""
        role = entry.role
        if role in (_TEXT, _EXTRA_ROLE):
            return str | None, msgspec.UNSET
        if role == _ID:
            return int | str | None, msgspec.UNSET
        if role == _SLOT:
            assert entry.child is not None  # noqa: S101  # set with the role
            return entry.child.struct | _LIST[entry.child.struct] | None, msgspec.UNSET
        if role == _INNER:
            assert entry.below is not None  # noqa: S101  # set with the role
            return defstruct(name, entry.below, self._held, forbid=False) | None, msgspec.UNSET
        return msgspec.Raw, msgspec.UNSET

    def _media(self, keys: Keys) -> str:
        """An expression for whether the object carries media (`_has_media`'s paths).

        Declares what it reads where the struct would skip it: a key of an inner object (its
        struct takes unknown keys) as raw JSON, read with the record's parser when asked. A
        key the object's own struct does not declare is absent (it refuses unknown keys).
        """
        tests = []
        for path in MEDIA_PATHS:
            below: Keys | None = keys
            for index, segment in enumerate(path):
                assert below is not None  # noqa: S101  # set for each inner object crossed
                entry = below.fields.get(segment)
                if entry is None and index == 0:
                    break  # absent: the struct refuses keys it does not declare
                if entry is None:
                    entry = below.field(segment)  # skipped until now: read as raw JSON
                if entry.role == _INNER and index < len(path) - 1:
                    below = entry.below
                    continue
                if entry.role == _SLOT and index < len(path) - 1:
                    tests.append("unknown()")  # objects decoded as structs: not read here
                    break
                rest = self.constant(path[index + 1 :])
                read = self._read(keys, path[: index + 1], "o")
                tests.append(f"media({read}, {rest}, ld)")
                break
        return " or ".join(tests) or "False"

    def _read(self, keys: Keys, path: tuple[str, ...], var: str) -> str:
        """An expression for the value at ``path`` (falsy when absent or null on the way)."""
        parts, expression = [], var
        for segment in path[:-1]:
            entry = keys.fields[segment]
            assert entry.below is not None  # noqa: S101  # declared by `at`
            self.count += 1
            parts.append(f"(x{self.count} := {expression}.{entry.attribute})")
            expression, keys = f"x{self.count}", entry.below
        parts.append(f"{expression}.{keys.fields[path[-1]].attribute}")
        return f"({' and '.join(parts)})"

    def _function(  # noqa: C901  # one part of the table after another
        self,
        name: str,
        kind: Kind,
        family: str | None,
        *,
        keys: Keys,
        locations: list[tuple[tuple[str, ...], GeoKind | None]],
        slots: list[tuple[Any, Field]],
        media: str,
    ) -> None:
        lines = [f"def {name}(o, p, out, free, refs, ld, nm):"]
        shape = SHAPES[kind]
        if family is not None:
            tests = []
            for dotted in shape.whole or ():
                self.count += 1
                text = f"t{self.count}"
                read = self._read(keys, tuple(dotted.split(".")), "o")
                # as `is_whole` judges: a text of links only (whole with its media) is left
                # to the full scanner, which sees the media
                printed = f"type({text} := {read}) is str and content({text})"
                if dotted.rsplit(".", 1)[-1] in TEXT_FIELDS:
                    # links only: content with the media they link to (`is_whole`)
                    printed += f" and ((w := own({text})) or (w is None and ({media})))"
                tests.append(f"({printed})")
            whole = " or ".join(tests)
            lines += [f"    if not ({whole}):", "        raise Fallback"]
        if locations and family is None:
            raise Unsupported
        reason = f"in_{family}"
        for path, default in locations:
            where, geo = self.constant(path), self.constant(default)
            lines += [
                f"    d = {self._read(keys, path, 'o')}",
                "    if d and d != NULL:",
                "        v = ld(bytes(d))",
                f"        g = kind(v, {geo})",
                "        if g is not None:",
                f"            out.append(Hit(p + {where}, g, {reason!r}, False, v))",
            ]
            if kind is Kind.TWEET_V2 and path == ("geo",):
                lines += [
                    "        r = reference({'geo': v})",
                    "        if r:",
                    "            refs.add(r)",
                ]
        for key in _EXTRA.get(kind, ()):
            lines += [f"    extra({key!r}, o.{keys.fields[key].attribute}, nm)"]
        for slot, entry in slots:
            where = self.constant(slot.path)
            lines.append(f"    c = {self._read(keys, slot.path, 'o')}")
            if entry.role == _SLOT:
                assert entry.child is not None  # noqa: S101  # set with the role
                child = entry.child.name
                lines += [
                    "    if c:",
                    "        if type(c) is list:",
                    "            for i, e in enumerate(c):",
                    f"                {child}(e, p + {where} + (i,), out, free, refs, ld, nm)",
                    "        else:",
                    f"            {child}(c, p + {where}, out, free, refs, ld, nm)",
                ]
            elif entry.role == _PLACES:
                lines += ["    if c:", f"        places(ld(bytes(c)), p + {where}, free)"]
            elif entry.role == _READ:
                held = self.constant(entry.kind)
                lines += ["    if c:", f"        read(ld(bytes(c)), p + {where}, {held}, out, nm)"]
            else:
                empty = "EMPTY" if entry.kind in CONTENT_FAMILY else "EMPTY_OBJECT"
                lines += [f"    if c and bytes(c) not in {empty}:", "        raise Fallback"]
        self.source.append("\n".join([*lines, "    return None", ""]))


def _media(value: Any, rest: Path, loads: Callable[[bytes], Any]) -> bool:
    """Whether a decoded value (or the value at ``rest`` in it) is a non-empty list."""
    if type(value) is msgspec.Raw:
        value = loads(bytes(value))
        for key in rest:
            value = value.get(key) if type(value) is dict else None
        return type(value) is list and bool(value)
    return not rest and type(value) is list and bool(value)


def _unknown() -> bool:
    raise _Fallback


def _places(value: Any, path: Path, free: list[tuple[Path, Any]]) -> None:
    """Places the walk finds outside any content object: judged once the payload is read."""
    if type(value) is dict:
        if value:
            free.append((path, value))
        return
    if type(value) is list:
        for index, item in enumerate(value):
            if type(item) is dict:
                if item:
                    free.append(((*path, index), item))
            elif type(item) is list:
                raise _Fallback


# Kinds recognised from their keys by a check of their own (`_RECOGNISED`), not a signature.
_RECOGNISED: Final[dict[Kind, Callable[[Any], bool]]] = {}


def _extra(key: str, value: str | msgspec.UnsetType | None, names: PlaceNames) -> None:
    """A key the table does not know, on a whole content object, as `beyond_fields` reads it.

    Only a key with nothing found in it is judged here (the findings would depend on the
    object's own location): the finder's functions are asked what they would ask.
    """
    if value is None or value is msgspec.UNSET:
        return
    if key_location(key, names) is not None:
        raise _Fallback
    if any(scan_value(value, (key,), walked=True, skip=frozenset(), names=names)):
        raise _Fallback


def _read_objects(
    value: Any, path: Path, kind: Kind, out: list[FastHit], names: PlaceNames
) -> None:
    """Objects of ``kind`` outside any content object, read by the finder key by key."""
    parent = Node(Kind.RESPONSE_V2, {}, None, ())
    items = [(path, value)] if type(value) is dict else []
    if type(value) is list:
        for index, item in enumerate(value):
            if type(item) is dict:
                items.append(((*path, index), item))
            elif type(item) is list:
                raise _Fallback
    for where, item in items:
        node = Node(kind, item, parent, where)
        for hit in Finder(names).beyond_fields(node):
            first = hit.path[0] if hit.path else None
            tabled = type(first) is str and loose_key(first) is not None
            datum = _datum(item, hit.path)
            path = (*where, *hit.path)
            out.append(FastHit(path, hit.kind, hit.reason, hit.standalone, datum, tabled=tabled))


def _datum(value: Any, path: Path) -> Any:
    for segment in path:
        if isinstance(value, Mapping):
            value = value.get(segment)
        elif isinstance(value, list) and type(segment) is int and segment < len(value):
            value = value[segment]
        else:
            return None
    return value


@attrs.frozen
class _Readers:
    """The generated decoders (each root shape the fast path reads) and judging functions."""

    decoders: tuple[tuple[Kind | None, Kind, msgspec.json.Decoder[Any]], ...]
    judges: Mapping[Kind, Callable[..., None]]
    asks: frozenset[Kind]  # roots whose judging asks the finder's functions
    source: str


#: A v1.1 page's keys holding objects the walker recognises, and what they are.
_PAGE_LISTS: Final[Mapping[str, Kind]] = {"statuses": Kind.TWEET_V1, "users": Kind.USER_V1}
#: Its other keys: cursors and search metadata, read by the finder's own functions.
_PAGE_OTHERS: Final = (
    "search_metadata",
    "next_cursor",
    "next_cursor_str",
    "previous_cursor",
    "previous_cursor_str",
    "total_count",
    "ids",
)


@functools.cache
def readers() -> _Readers:
    """The fast path's decoders and functions, generated once from the table."""
    generator = _Generator()
    response = generator.compile(Kind.RESPONSE_V2, _DEPTH, recognised=True)
    tweet = generator.compile(Kind.TWEET_V1, _DEPTH, recognised=True)
    user = generator.compile(Kind.USER_V1, _DEPTH, recognised=True)
    flat = generator.compile(Kind.TWEET_FLAT, _DEPTH, recognised=True)
    roots = {
        Kind.RESPONSE_V2: response,
        Kind.TWEET_V1: tweet,
        Kind.USER_V1: user,
        Kind.TWEET_FLAT: flat,
    }
    unset = (msgspec.UnsetType, msgspec.UNSET)
    page = msgspec.defstruct(
        "page",
        [
            ("statuses", list[tweet.struct] | None | unset[0], unset[1]),  # type: ignore[name-defined]
            ("users", list[user.struct] | None | unset[0], unset[1]),  # type: ignore[name-defined]
            *((key, msgspec.Raw | unset[0], unset[1]) for key in _PAGE_OTHERS),
        ],
        forbid_unknown_fields=True,
        kw_only=True,
        gc=False,
    )
    namespace: dict[str, Any] = {
        **generator.constants,
        "Fallback": _Fallback,
        "Hit": FastHit,
        "EMPTY": _EMPTY,
        "EMPTY_OBJECT": _EMPTY_OBJECT,
        "NULL": msgspec.Raw(b"null"),
        "kind": location_kind,
        "places": _places,
        "read": _read_objects,
        "extra": _extra,
        "reference": place_reference,
        "content": has_content,
        "own": text_content,
        "media": _media,
        "unknown": _unknown,
    }
    source = "\n".join(generator.source)
    exec(compile(source, "<twpolicy fast scan>", "exec"), namespace)  # noqa: S102  # our own generated code
    decoder = msgspec.json.Decoder
    return _Readers(
        (
            (Kind.RESPONSE_V2, Kind.RESPONSE_V2, decoder(response.struct)),
            (Kind.TWEET_V1, Kind.TWEET_V1, decoder(tweet.struct)),
            (Kind.PAGE, Kind.PAGE, decoder(page)),
            (Kind.USER_V1, Kind.USER_V1, decoder(user.struct)),
            (Kind.TWEET_FLAT, Kind.TWEET_FLAT, decoder(flat.struct)),
            (None, Kind.TWEET_V1, decoder(list[tweet.struct])),  # type: ignore[name-defined]
            (None, Kind.USER_V1, decoder(list[user.struct])),  # type: ignore[name-defined]
        ),
        {kind: namespace[root.name] for kind, root in roots.items()},
        frozenset(kind for kind, root in roots.items() if root.asks),
        source,
    )


class FastLine(list[Any]):
    """A line the fast path decoded: its root's kind, the decoded structs, and its bytes.

    ``kind`` is ``None`` for a list (a timeline, a users lookup) of ``element`` objects. A
    list, so that a record reader carries it as it carries parsed arrays.
    """

    __slots__ = ()

    def __init__(self, kind: Kind | None, element: Kind, value: Any, data: bytes) -> None:
        super().__init__((kind, element, value, data))

    @property
    def kind(self) -> Kind | None:
        return self[0]  # type: ignore[no-any-return]

    @property
    def element(self) -> Kind:
        return self[1]  # type: ignore[no-any-return]

    @property
    def value(self) -> Any:
        return self[2]

    @property
    def data(self) -> bytes:
        return self[3]  # type: ignore[no-any-return]


def _decode(data: bytes) -> FastLine | None:
    """The line decoded for the fast path, or ``None`` when it is of no shape it reads."""
    if not data.isascii():
        try:
            data.decode("utf-8")  # the full parsers refuse what is not UTF-8: so must this
        except UnicodeDecodeError:
            return None
    listed = data[:1] == b"["
    for kind, element, decoder in readers().decoders:
        if (kind is None) is listed:
            try:
                value = decoder.decode(data)
            except msgspec.DecodeError:
                continue
            if not written_once(data, _GENERIC, _WRITE):
                return None  # a key written twice: ``loads`` (`UniqueKeys`) refuses the line
            return FastLine(kind, element, value, data) if value or not listed else None
    return None


def parser(loads: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    """A record parser: a `FastLine` where the fast path reads the line, else ``loads``.

    A line that writes a key twice is never read on the fast path: ``loads`` reads it, and
    refuses it (`PayloadError`) when it is a `UniqueKeys` (``twpolicy scan`` passes one).
    """

    def parse(data: bytes) -> Any:
        fast = _decode(data)
        return loads(data) if fast is None else fast

    return parse


def _tweet_v1(tweet: Any) -> bool:
    """Whether the walker recognises a decoded v1.1 Tweet as one (`classify`'s rule)."""
    unset = msgspec.UNSET
    return (
        (
            tweet.text is not unset
            or tweet.full_text is not unset
            or tweet.extended_tweet is not unset
        )
        and (tweet.id is not unset or tweet.id_str is not unset)
        and (
            tweet.user is not unset
            or tweet.id_str is not unset
            or type(tweet.id) is int
            or tweet.full_text is not unset
        )
    )


def _user_v1(user: Any) -> bool:
    """Whether the walker recognises a decoded v1.1 user as one (`classify`'s rule)."""
    return user.screen_name is not msgspec.UNSET


def _tweet_flat(tweet: Any) -> bool:
    """Whether the walker recognises a decoded twarc-flattened Tweet as one (`classify`'s rule)."""
    unset = msgspec.UNSET
    return (
        tweet.text is not unset
        and tweet.id is not unset
        and type(tweet.id) is not int
        and isinstance(tweet.author, msgspec.Struct)
    )


_RECOGNISED.update({Kind.TWEET_V1: _tweet_v1, Kind.USER_V1: _user_v1, Kind.TWEET_FLAT: _tweet_flat})
# Stand-ins for recognised objects where the finder's own functions read the list around
# them: objects it recognises (and leaves to the walk).
_STAND_INS: Final[Mapping[Kind, Mapping[str, str]]] = {
    Kind.TWEET_V1: {"id_str": "1", "text": "x"},
    Kind.USER_V1: {"id_str": "1", "screen_name": "x"},
}
_SCALARS: Final = (str, int, float, bool, type(None))
# Values `scan_value` never takes for coordinates, places or counted names (`coordinate`).
_NOT_COORDINATES: Final = frozenset({int, bool, type(None)})


def _holds_objects(value: Any) -> bool:
    """Whether the walk would find objects in ``value`` (a cursor or metadata of a page)."""
    if isinstance(value, list):
        return any(not isinstance(item, _SCALARS) for item in value)
    if isinstance(value, dict):
        return classify(value) is not None or any(
            not isinstance(item, _SCALARS) for item in value.values()
        )
    return False


def _ids_only(items: list[Any]) -> bool:
    """Whether `scan_value` reads a list as it reads ``[]``: numbers no coordinate is, or IDs.

    Whole numbers (and null, booleans) are never coordinates, place names or counted
    names, but for a few of them (`scaled_numbers`: a point as integers); decimal texts of
    four digits or more not starting with 0 are over 180 as numbers
    (no coordinate), are never taken for a place name, a point or a search parameter. A
    list of one sort only: a pair of a text and a number could be a row of counts.
    """
    if all(type(item) in _NOT_COORDINATES for item in items):
        return not scaled_numbers(items)  # a few integers may be a point scaled (latE7)
    return all(
        type(item) is str
        and len(item) >= 4  # noqa: PLR2004  # over 180 as a number
        and item.isascii()
        and item.isdecimal()
        and item[0] != "0"
        for item in items
    )


def _page(  # noqa: C901, PLR0912  # the finder's steps, one by one
    page: Any, probe: PlaceNames | None, out: list[FastHit], ld: Callable[[bytes], Any]
) -> tuple[str, Kind, list[Any]] | None:
    """A v1.1 page's own keys, read by the finder's functions (as `beyond_fields` does).

    Returns the key of the objects it holds, their kind and the objects.
    """
    items: dict[str, Any] = {}
    held = None
    for key, kind in _PAGE_LISTS.items():
        objects = getattr(page, key)
        if objects is not msgspec.UNSET:
            if held is not None:
                raise _Fallback  # in the walk, their order is the document's
            held = (key, kind, objects or [])
            items[key] = None if objects is None else [_STAND_INS[kind]] * len(objects)
    for key in _PAGE_OTHERS:
        raw = getattr(page, key)
        if raw is not msgspec.UNSET:
            items[key] = ld(bytes(raw))
            if _holds_objects(items[key]):
                raise _Fallback
    if classify(items) is not Kind.PAGE:
        raise _Fallback
    reporting = None
    for key, item in items.items():
        if item is None or (type(item) is not str and isinstance(item, _SCALARS)):
            continue
        if type(item) is list and _ids_only(item):
            # A list of IDs: `scan_value` finds nothing in it, and asks only whether any two of its
            # coordinates (none) are a point read, as it does for an empty list.
            item = []  # noqa: PLW2901  # read as what it is worth
        if key_location(key, probe) is not None:
            raise _Fallback
        for path, geo_kind in scan_value(item, (key,), walked=True, skip=frozenset(), names=probe):
            if reporting not in (None, key):
                raise _Fallback  # in the finder, their order is the document's
            reporting = key
            datum = _at(items, path)
            out.append(FastHit(path, geo_kind, "on_its_own", True, datum, tabled=False))  # noqa: FBT003  # the hit's field
    return held


def _at(value: Any, path: Path) -> Any:
    for segment in path:
        value = value[segment]
    return value


def judge(
    line: FastLine, memory: PlaceNames | None, loads: Callable[[bytes], Any]
) -> list[FastHit] | None:
    """Every location datum of a decoded line, as the full scanner finds them; ``None`` if not.

    ``memory`` learns the line's place names and points as the full scanner teaches it; on
    ``None`` it is left untouched, for the full scanner to read the line.
    """
    # Only what asks the finder's functions needs to note what they asked (as `hits` does).
    kind = line.kind
    probe = Probe(memory) if kind in (Kind.PAGE, None) or kind in readers().asks else None
    try:
        found = _judge(line, probe, loads)
        learned = _learn(found, memory)
        if learned is not None and probe is not None and _again(learned, probe):
            # The finder reads the payload again with what it learned (`hits`): so does this.
            found = _judge(line, learned, loads)
    except _Fallback:
        return None
    if learned is not None and memory is not None:
        memory.absorb(learned)
    return found


def _judge(
    line: FastLine, names: PlaceNames | None, loads: Callable[[bytes], Any]
) -> list[FastHit]:
    fast = readers()
    out: list[FastHit] = []
    free: list[tuple[Path, Any]] = []
    refs: set[str] = set()
    kind, element = line.kind, line.element
    if kind is Kind.RESPONSE_V2:
        fast.judges[kind](line.value, (), out, free, refs, loads, names)
    else:
        prefix: Path = ()
        objects = [line.value] if kind is not None else line.value
        if kind is Kind.PAGE:
            held = _page(line.value, names, out, loads)
            if held is None:
                objects = []
            else:
                key, element, objects = held
                prefix = (key,)
        elif kind is None and list(Finder(names).root([_STAND_INS[element]] * len(objects))):
            raise _Fallback
        judge_object = fast.judges.get(element)
        recognised = _RECOGNISED.get(element)
        for index, item in enumerate(objects):
            assert judge_object is not None  # noqa: S101  # as decoded
            assert recognised is not None  # noqa: S101  # the same
            if not recognised(item):
                raise _Fallback
            path = (*prefix, index) if kind is None or kind is Kind.PAGE else ()
            judge_object(item, path, out, free, refs, loads, names)
    for path, place in free:
        place_id = place.get("id")
        if type(place_id) is str and place_id in refs:
            out.append(FastHit(path, GeoKind.PLACE, "referenced_by_tweet", False, place))  # noqa: FBT003  # the hit's field
        else:
            out.append(FastHit(path, GeoKind.PLACE, "unreferenced_place", True, place))  # noqa: FBT003  # the hit's field
    return out


def _learn(found: list[FastHit], memory: PlaceNames | None) -> PlaceNames | None:
    """What `twpolicy._payloads._geo.hits` learns from the findings; ``None``: nothing new."""
    learned = None
    fresh = False
    for hit in found:
        kind, datum = hit.kind, hit.datum
        named, pointed = kind in _NAMED_KINDS, kind in _POINTED_KINDS and hit.tabled
        if learned is None and (named or pointed):
            learned = PlaceNames(base=memory)  # only when there is something to learn
        if named:
            for item in datum if isinstance(datum, list) else [datum]:
                fresh = learned.learn(item) or fresh  # type: ignore[union-attr]
        if pointed:
            fresh = learned.learn_points(datum) or fresh  # type: ignore[union-attr]
    return learned if fresh else None


def _again(learned: PlaceNames, probe: Probe) -> bool:
    """Whether `hits` reads the payload again: it asked about names or points it then learned.

    (Only names the payload itself held count; learned points count if any pair was asked.)
    """
    names = learned._learned  # noqa: SLF001  # as `hits` reads it
    return (bool(names) and not probe.asked.isdisjoint(names)) or (
        len(learned.points) > 0 and probe.asked_pairs
    )

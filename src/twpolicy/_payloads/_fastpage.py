"""The fast page reader: a v2 response line's Tweets and users, read as the table of shapes says.

Cleaning a dataset line that holds something gone (`twpolicy._enforce._compliance`) needs, of
each Tweet and user, only a few fields: its ID, its author, what it refers to, its location
and attachments. Most of a twarc2 page (texts, entities, metrics) is neither read nor changed.
`read_page` decodes a v2 response line with msgspec, once, into a struct generated for the
response: only those fields (`FACTS`) of the Tweets and users in its slots are decoded, and
they are returned in the walker's order with their paths, so the cleaner decides exactly as
it does on a walked record. Only when cleaning changes the page is it cut into objects whose
values stay unparsed (`Page.materialise`: `msgspec.Raw`, written out again as they came).

Which slots hold what, which keys each kind knows and which kinds may hold content comes from
the table (`twpolicy._payloads._shapes`), as for the walker and the fast ID path. The reader
refuses (returns ``None``) every line where the walker could find more than it reads: a key
written twice in any object (msgspec keeps the last value: a Tweet in the first would go
unseen), a key the walker would search, an object of a slot of no fixed kind that the walker
would not recognise as the usual kind, content (a Tweet, a user, a DM) anywhere but in the
slots read, bytes that are not UTF-8. The cleaner then parses and walks the line as before.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import keyword
import operator
import typing
from collections.abc import Callable, Collection, Container, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Final

import attrs
import msgspec

from twpolicy._payloads._shapes import SHAPES, Kind, Path, Slot
from twpolicy._payloads._walker import Node, written_once

__all__ = ["FACTS", "PAGE_KINDS", "PAGE_ROOT", "Item", "Page", "read_page"]

#: The kind of line read: a v2 response (a twarc2 line).
PAGE_ROOT: Final = Kind.RESPONSE_V2
#: The kinds of object read, field by field; objects of other kinds are checked to hold none.
PAGE_KINDS: Final = frozenset({Kind.TWEET_V2, Kind.USER_V2})
#: The fields a compliance cleaner reads or changes in a Tweet or user: IDs, the author, the
#: Tweets it refers to, its location and its attachments.
FACTS: Final = frozenset(
    {
        "id", "id_str", "user", "author", "actor", "author_id", "retweeted_status",
        "referenced_tweets", "quoted_status_id", "quoted_status_id_str",
        "quoted_status_permalink", "geo", "coordinates", "place", "location", "attachments",
    }
)  # fmt: skip

_OBJECT: Final = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode
_ARRAY: Final = msgspec.json.Decoder(list[msgspec.Raw]).decode
_VALUE: Final = msgspec.json.Decoder().decode
_ENCODE: Final = msgspec.json.Encoder().encode

# One parse of a line for both the check for keys written twice and the facts (`_decoded`),
# with orjson where installed (its reader and writer, in C, cost less than msgspec's).
_LOADS: Callable[[bytes], Any] | None
_DUMPS: Callable[[Any], bytes]
try:
    import orjson

    _LOADS, _DUMPS = orjson.loads, orjson.dumps
except ImportError:  # pragma: no cover  # exercised where orjson is not installed
    _LOADS, _DUMPS = None, _ENCODE


class Item:
    """A Tweet or user of a page (or of a walked record), as the cleaner reads it.

    Attributes:
        full_path: the keys and indexes from the record's root to the object.
        kind: its kind.
        value: the fields the cleaner reads and changes (on a page: `FACTS`, decoded; on a
            walked record: the object itself).
        raw: the object in the record (on a page: unparsed, `msgspec.Raw`, until the
            cleaner writes back to it).
        oid: its own ID, read as `Node.read_id` reads it.
        doomed: whether cleaning removes it (or what holds it).
        container: on a page, the list or object holding it.
    """

    __slots__ = ("container", "doomed", "full_path", "kind", "oid", "raw", "value")

    def __init__(
        self,
        full_path: Path,
        kind: Kind,
        value: Any,
        raw: Any,
        oid: str | None,
        *,
        container: Any = None,
    ) -> None:
        self.full_path = full_path
        self.kind = kind
        self.value = value
        self.raw = raw
        self.oid = oid
        self.doomed = False
        self.container = container

    def write_back(self) -> None:
        """Carry the fields the cleaner changed (or removed) into the object in the record."""
        raw = self.raw
        if isinstance(raw, msgspec.Raw):
            # Its keys are needed now: decoded, and put in its place (found by identity, as
            # objects before it in a list may have been removed).
            container = self.container
            at = (
                next(n for n, element in enumerate(container) if element is raw)
                if type(container) is list
                else self.full_path[-1]
            )
            raw = self.raw = container[at] = _OBJECT(raw)
        self._merge(raw)

    def rewritten(self, raw: msgspec.Raw) -> bytes:
        """``raw``, this item's object as read, written again with the cleaner's changes.

        The bytes `write_back` and encoding the record give: the object's keys in their
        order, every value but the changed facts as it came.
        """
        found: dict[str, Any] = _OBJECT(raw)
        self._merge(found)
        return _ENCODE(found)

    def _merge(self, found: dict[str, Any]) -> None:
        value = self.value
        for key in [key for key in found if key in FACTS and key not in value]:
            del found[key]
        found.update(value)


class Page:
    """A v2 response line read by `read_page`.

    Attributes:
        items: its Tweets and users in the walker's order, their facts read (built when
            first asked for: `ids` decides most pages without them; their objects in the
            line are read by `materialise`, which cleaning needs only to change it).
        record: after `materialise`: the response, objects as dicts, every value the cleaner
            does not read `msgspec.Raw` (encode it with msgspec to write the line again).
    """

    __slots__ = ("_grouped", "_groups", "_items", "_reads", "_slots", "record")

    def __init__(
        self,
        reads: list[tuple[_Slot, list[Any], bool]],
        slots: tuple[_Slot, ...],
    ) -> None:
        self._reads = reads
        self._groups = [(slot, len(values), many) for slot, values, many in reads]
        self._slots = slots
        self._items: list[Item] | None = None
        self._grouped: list[list[Item]] = []
        self.record: dict[str, Any] = {}

    @property
    def items(self) -> list[Item]:
        """Its Tweets and users, their facts read (`_items`), in the walker's order."""
        if self._items is None:
            self.select({})
        assert self._items is not None  # noqa: S101  # (select sets it)
        return self._items

    def select(self, by_id: Mapping[Kind, Container[str]]) -> list[Item]:
        """Build `items`, leaving out objects the cleaner can only act on by their own ID.

        ``by_id``: for a kind whose objects cleaning changes only when their own ID is in the
        given container (a user: removed by its ID, never changed), only those objects are
        built; objects of other kinds all are (as are those whose ID is read otherwise than
        from a string ``id``). `items` is then this selection.
        """
        chosen: list[list[int] | None] = []
        for slot, values, _ in self._reads:
            wanted = by_id.get(slot.kind)
            ids = None if wanted is None else _plain_ids(values, slot.reader)
            chosen.append(
                None
                if wanted is None or ids is None
                else [n for n, oid in enumerate(ids) if oid in wanted]
            )
        return self.pick(chosen)

    def pick(self, chosen: Sequence[Sequence[int] | None]) -> list[Item]:
        """Build `items` of only the ``chosen`` objects: per slot read, their indexes, in order.

        ``None`` for a slot: all its objects. `items` is then this selection; the objects
        left out stay as the line has them (`splice`, `materialise` leave them alone).
        """
        grouped: list[list[Item]] = []
        for (slot, values, many), keep in zip(self._reads, chosen, strict=True):
            numbers = range(len(values)) if keep is None else keep
            reads = values if keep is None else [values[n] for n in keep]
            paths: list[Path] = (
                [(*slot.path, n) for n in numbers] if many else [slot.path] * len(reads)
            )
            objects = [None] * len(reads)
            grouped.append(
                _items(objects, reads, slot.kind, paths, reader=slot.reader, container=None)
            )
        self._grouped = grouped
        self._items = [item for group in grouped for item in group]
        return self._items

    def kinds(self) -> list[Kind]:
        """The kind of the objects of each slot read, in the walker's order."""
        return [slot.kind for slot, _, _ in self._reads]

    def plain_ids(self, group: int) -> list[str] | None:
        """The own IDs of a slot's objects, each a string ``id`` (``None``: read otherwise)."""
        slot, values, _ = self._reads[group]
        return _plain_ids(values, slot.reader)

    def column(self, group: int, fact: str) -> list[Any]:
        """One fact of each object of a slot, as decoded (`msgspec.UNSET` where absent)."""
        slot, values, _ = self._reads[group]
        if fact not in slot.reader.facts:
            return [msgspec.UNSET] * len(values)
        return list(map(operator.attrgetter(fact), values))

    def ids(self) -> set[str] | None:
        """Every ID the cleaner would look up for this page (``None``: it cannot tell so).

        Each object's own ID and its author's, read from the decoded facts without building
        the items. Where the cleaner would read an ID some other way (an ``id`` that is not a
        string, an author object, an ``id_str``), ``None``: the items must be built.
        A page none of whose IDs is affected is left as it is, as `items` would decide.
        """
        found: set[str] = set()
        for slot, values, _ in self._reads:
            facts = slot.reader.facts
            ids = _plain_ids(values, slot.reader)
            if ids is None:
                return None
            found.update(ids)
            if "author_id" in facts:
                for author in map(_AUTHOR_ID, values):
                    if type(author) is str:
                        found.add(author)
                    elif type(author) is int:
                        found.add(str(author))
        return found

    def materialise(self, line: bytes) -> dict[str, Any]:
        """Cut the response (``line``, as read) into raw values, each item's object its own.

        Each slot read is one object or a list of them (objects only): the list is cut into
        its elements, each item's ``raw`` and ``container`` set to its own.
        """
        record: dict[str, Any] = _OBJECT(line)
        for slot in self._slots:  # every object on the way to a slot read, as a dict
            parent: Any = record
            for segment in slot.path[:-1]:
                if parent is None or parent.get(segment) is None:
                    break
                parent[segment] = parent = _object(parent[segment])
        self.items  # noqa: B018  # (built, if not selected yet)
        for (slot, count, many), items in zip(self._groups, self._grouped, strict=True):
            *parents, last = slot.path
            parent = record
            for segment in parents:
                parent = parent[segment]
            if many:
                elements: list[Any] = _ARRAY(parent[last])
                if len(elements) != count:  # pragma: no cover  # (one line, read twice)
                    raise AssertionError(slot.path)
                parent[last] = elements
                for item in items:
                    item.raw, item.container = elements[int(item.full_path[-1])], elements
            else:
                for item in items:
                    item.raw, item.container = parent[last], parent
        self.record = record
        return record

    def splice(
        self,
        line: bytes,
        touched: Collection[Item],
        prune: Mapping[tuple[str, ...], tuple[str, AbstractSet[str]]],
    ) -> bytes | None:
        """The line, less its doomed items, with the ``touched`` ones written anew (and a newline).

        Everything else stays the line's own bytes: a doomed object is cut out with the comma
        and blanks that part it from the next (or, last in its list, from the one before), a
        changed one is replaced by what `Item.rewritten` writes, and the rest of the line
        is copied. One more msgspec pass cuts the slots into raw values, which are views of
        ``line``: their place in it is their address. ``prune``: lists to filter as well,
        each by a field whose value must be one of those given (objects only: other values
        stay). ``None``: a single object (not in a list) changes, or a place cannot be told;
        the caller cuts the page with `materialise` instead.
        """
        cutter = _cutter(tuple(slot.path for slot, _, _ in self._groups), tuple(prune))
        base = _address(line)
        if cutter is None or base is None:
            return None
        decoder, names = cutter
        cut = decoder.decode(line)
        changed = {id(item) for item in touched}
        edits: list[tuple[int, int, bytes]] = []
        self.items  # noqa: B018  # (built, if not selected yet)
        for (_, count, many), group, path in zip(self._groups, self._grouped, names, strict=False):
            if not any(item.doomed or id(item) in changed for item in group):
                continue
            raws = _value(cut, path)
            if not many or type(raws) is not list or len(raws) != count:
                return None
            if not _changes(line, base, group, raws, changed=changed, edits=edits):
                return None
        for (field, keep), path in zip(prune.values(), names[len(self._groups) :], strict=True):
            raw = _value(cut, path)
            if not isinstance(raw, msgspec.Raw) or _first(raw) != ord("["):
                continue
            elements = _ARRAY(raw)
            held = _held(field)
            dropped = [_first(e) == ord("{") and not _kept(held(e), keep) for e in elements]
            if not _cut(line, base, elements, dropped, edits):
                return None
        edits.sort()
        pieces: list[bytes] = []
        at = len(line) - len(line.lstrip())
        for start, end, replacement in edits:
            pieces += (line[at:start], replacement)
            at = end
        pieces += (line[at : len(line.rstrip())], b"\n")
        return b"".join(pieces)


class _Refused(Exception):  # an internal signal: the walker must read this line
    pass


#: A slot of a changed page, cut into its objects' raw values (or an object, or nothing).
_CUT_SLOT: Final[Any] = list[msgspec.Raw] | dict[str, msgspec.Raw] | None


@functools.cache
def _cutter(
    slots: tuple[tuple[str, ...], ...], extra: tuple[tuple[str, ...], ...]
) -> tuple[msgspec.json.Decoder[Any], tuple[tuple[str, ...], ...]] | None:
    """A decoder cutting a page at ``slots`` (lists of raw values) and ``extra`` (raw).

    Returns it and the attributes leading to each, in that order; every other key of the
    line is skipped unparsed (the line was read and checked already).
    """
    try:
        struct = _defstruct(
            "cut",
            _fields(
                [(path, _CUT_SLOT) for path in slots] + [(path, msgspec.Raw) for path in extra],
                {},
                "cut",
            ),
        )
    except _Unsupported:
        return None
    return msgspec.json.Decoder(struct), tuple(_names(struct, p) for p in (*slots, *extra))


def _value(struct: Any, names: tuple[str, ...]) -> Any:
    """The value at ``names`` in a decoded struct, ``None`` where it is absent or null."""
    for name in names:
        struct = getattr(struct, name)
        if struct is None or struct is msgspec.UNSET:
            return None
    return struct


class _Buffer(ctypes.Structure):  # CPython's Py_buffer
    _fields_ = (  # ctypes reads it
        ("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
        ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
        ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
        ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p),
    )  # fmt: skip


def _buffers() -> tuple[Any, Any] | None:
    """CPython's ``PyObject_GetBuffer`` and ``PyBuffer_Release``, if this Python has them."""
    api = getattr(ctypes, "pythonapi", None)
    if api is None or not hasattr(api, "PyObject_GetBuffer"):  # pragma: no cover  # PyPy
        return None
    get, release = api.PyObject_GetBuffer, api.PyBuffer_Release
    get.argtypes = (ctypes.py_object, ctypes.POINTER(_Buffer), ctypes.c_int)
    get.restype = ctypes.c_int
    release.argtypes = (ctypes.POINTER(_Buffer),)
    release.restype = None
    return get, release


_BUFFERS: Final = _buffers()


def _address(value: Any) -> int | None:
    """Where the bytes of ``value`` (a bytes-like object) start in memory, if known."""
    if _BUFFERS is None:  # pragma: no cover  # PyPy
        return None
    get, release = _BUFFERS
    view = _Buffer()
    get(value, ctypes.byref(view), 0)
    try:
        return view.buf or 0
    finally:
        release(ctypes.byref(view))


def _place(line: bytes, base: int, raw: msgspec.Raw) -> tuple[int, int] | None:
    """Where ``raw``, a raw value decoded from ``line`` (at address ``base``), lies in it.

    A raw value is a view of the bytes it was decoded from (msgspec copies nothing), so its
    place is its address. Only a view of ``line`` can lie within it (a copy is elsewhere:
    ``None``); it is checked to hold the same bytes all the same.
    """
    at = (_address(raw) or 0) - base
    size = len(raw)
    if 0 <= at <= len(line) - size and line.startswith(raw, at):
        return at, at + size
    return None


def _changes(
    line: bytes,
    base: int,
    group: list[Item],
    raws: list[msgspec.Raw],
    *,
    changed: AbstractSet[int],
    edits: list[tuple[int, int, bytes]],
) -> bool:
    """Add to ``edits`` what changes in a list of items (their objects: ``raws``).

    The ``changed`` (by `id`) that stay are written anew, the doomed cut out (`_cut`).
    False: a place could not be told.
    """
    doomed = [False] * len(raws)
    for item in group:
        at = int(item.full_path[-1])  # (an index: the group is a list's)
        raw = raws[at]
        if item.doomed:
            doomed[at] = True
        elif id(item) in changed:
            place = _place(line, base, raw)
            if place is None:
                return False
            edits.append((*place, item.rewritten(raw)))
    return _cut(line, base, raws, doomed, edits)


def _cut(
    line: bytes,
    base: int,
    elements: list[msgspec.Raw],
    doomed: list[bool],
    edits: list[tuple[int, int, bytes]],
) -> bool:
    """Add to ``edits`` the cuts that take the ``doomed`` of ``elements`` out of their list.

    Each run of doomed elements goes with what parts it from the next element, or, at the
    end of the list, from the one before it; a list left empty is written ``[]``. Only the
    places of the elements around each run are read. False: a place could not be told.
    """
    count = len(elements)
    n = 0
    while n < count:
        if not doomed[n]:
            n += 1
            continue
        last = n
        while last + 1 < count and doomed[last + 1]:
            last += 1
        after = last + 1 < count
        start = _place(line, base, elements[n - 1] if n and not after else elements[n])
        stop = _place(line, base, elements[last + 1] if after else elements[last])
        if start is None or stop is None:
            return False
        if after:  # up to the next element
            edits.append((start[0], stop[0], b""))
        elif n:  # from the end of the element before
            edits.append((start[1], stop[1], b""))
        else:  # all of them: the list's brackets close up, as JSON writers write []
            edits.append((line.rfind(b"[", 0, start[0]) + 1, line.find(b"]", stop[1]), b""))
        n = last + 1
    return True


@functools.cache
def _held(field: str) -> Any:
    """A decoder of one field of an object (``UNSET`` without it), skipping the rest."""
    return msgspec.json.Decoder(_defstruct("held", {field: _ANY})).decode


def _kept(read: Any, keep: AbstractSet[str]) -> bool:
    """Whether an object whose field reads ``read`` stays (its value is one of ``keep``)."""
    value = msgspec.structs.astuple(read)[0]
    return type(value) is str and value in keep


#: Facts through which the cleaner would read an object's ID or author otherwise than from
#: a string ``id`` and ``author_id`` (`Page.ids` leaves such pages to `Page.items`).
_INDIRECT: Final = ("id_str", "user", "author", "actor")


def _plain_ids(values: list[Any], reader: _Reader) -> list[str] | None:
    """The own IDs of a slot's objects, each a string ``id`` (``None``: read otherwise)."""
    facts = reader.facts
    unset = itertools.repeat(msgspec.UNSET)
    if "id" not in facts or any(
        any(map(operator.is_not, map(operator.attrgetter(name), values), unset))
        for name in _INDIRECT
        if name in facts
    ):
        return None
    ids = list(map(_ID, values))
    return ids if all(type(oid) is str for oid in ids) else None


_ID: Final = operator.attrgetter("id")
_AUTHOR_ID: Final = operator.attrgetter("author_id")


def _first(raw: msgspec.Raw) -> int:
    """The first byte of a raw JSON value (``{``, ``[``, ``"``, a digit, ``n`` ...).

    msgspec cuts raw values without the blanks around them.
    """
    return memoryview(raw)[0]


def _object(value: Any) -> dict[str, Any] | None:
    """``value`` as an object of raw values, or ``None`` if it is no object."""
    if type(value) is dict:
        return value
    if isinstance(value, msgspec.Raw) and _first(value) == ord("{"):
        found: dict[str, Any] = _OBJECT(value)
        return found
    return None


@functools.cache
def _static_closed(
    kind: Kind, relevant: frozenset[Kind], seen: frozenset[Kind] = frozenset()
) -> bool:
    """Whether no object of ``kind`` can hold an object of a ``relevant`` kind at all."""
    if kind in seen:
        return True
    if kind in relevant:
        return False
    shape = SHAPES[kind]
    if shape.search_rest:
        return False
    return all(
        slot.kind is not None and _static_closed(slot.kind, relevant, seen | {kind})
        for slot in shape.children
    )


class _Unsupported(Exception):  # an internal signal: never leaves the generator
    """No struct reads this kind exactly: its objects go to the walker."""


_SKIP: Final = msgspec.Raw | msgspec.UnsetType
_ANY: Final[Any] = Any


def _plain(key: str) -> bool:
    return key.isidentifier() and not keyword.iskeyword(key) and not key.startswith("_")


def _defstruct(name: str, fields: dict[str, Any], *, forbid: bool = False) -> Any:
    """A struct of the JSON keys ``fields`` (key: type, each absent by default)."""
    rename = {(key if _plain(key) else f"key{n}_"): key for n, key in enumerate(fields)}
    return msgspec.defstruct(
        name,
        [
            (attribute, fields[key] | msgspec.UnsetType, msgspec.UNSET)
            for attribute, key in rename.items()
        ],
        kw_only=True,
        gc=False,
        forbid_unknown_fields=forbid,
        rename=rename,
    )


def _fields(
    paths: list[tuple[tuple[str, ...], Any]], own: dict[str, Any], name: str
) -> dict[str, Any]:
    """Struct fields: ``own`` keys with their types, and nested objects leading to ``paths``.

    ``paths``: (keys, type of the value there). An object a path crosses reads no other key.
    """
    groups: dict[str, list[tuple[tuple[str, ...], Any]]] = {}
    for path, held in paths:
        groups.setdefault(path[0], []).append((path[1:], held))
    fields = dict(own)
    for key, rests in groups.items():
        if key in own or (len(rests) > 1 and any(not rest for rest, _ in rests)):
            raise _Unsupported  # a key both read and crossed, or both crossed and held
        if len(rests) == 1 and not rests[0][0]:
            fields[key] = rests[0][1]
        else:
            inner = f"{name}_{key}"
            fields[key] = _defstruct(inner, _fields(rests, {}, inner)) | None
    return fields


@functools.cache
def _holding(kind: Kind | None, relevant: frozenset[Kind], within: frozenset[Kind]) -> Any:
    """The type of a slot of ``kind`` whose decoding succeeds only if it holds no content.

    Content here is an object of a ``relevant`` kind, or one the walker would recognise by
    its keys (``kind`` ``None``): such a slot must be null or absent, as must one of a kind
    already being read (``within``: a mention's own mentions).
    """
    if kind is None or kind in relevant or kind in within:
        return None
    struct = _struct(kind, relevant, within | {kind}, {})
    return struct | _LIST[struct] | None


def _struct(
    kind: Kind, relevant: frozenset[Kind], within: frozenset[Kind], own: dict[str, Any]
) -> Any:
    """A struct for ``kind``: ``own`` fields read, known keys skipped, slots held closed.

    Where the walker searches keys it does not know, the struct refuses them.
    """
    shape = SHAPES[kind]
    slots = [
        (slot.path, _holding(slot.kind, relevant, within))
        for slot in shape.children
        if slot.kind is None or not _static_closed(slot.kind, relevant)
    ]
    crossed = {path[0] for path, _ in slots}
    skipped = dict.fromkeys(sorted(shape.known - crossed - set(own)), _SKIP)
    return _defstruct(
        kind.value, _fields(slots, {**own, **skipped}, kind.value), forbid=shape.search_rest
    )


@attrs.frozen
class _Reader:
    """The generated reading of one kind: its `FACTS`, in one decode that also checks it.

    Attributes:
        one: decodes one object; ``many``: a list of them (objects only).
        facts: the facts it reads, which are the struct's first fields.
        required: where the object is recognised by its keys (the kind's `Signature`): the
            positions of the fields it must have, and the type each must hold (``None``:
            any); ``None`` when the struct cannot tell (it is then never recognised).
        excluded: the positions of the fields it must not have.
    """

    one: msgspec.json.Decoder[Any]
    many: msgspec.json.Decoder[Any]
    facts: tuple[str, ...]
    required: tuple[tuple[int, type | None], ...] | None
    excluded: tuple[int, ...]


_LIST: Any = list


@functools.cache
def _reader(kind: Kind, relevant: frozenset[Kind]) -> _Reader | None:
    """The struct reading an object of ``kind`` for the cleaner, generated from the table.

    It reads the `FACTS` the kind may hold (a key it does not know is refused where the
    walker would search it), skips its other keys unparsed, and refuses content in its slots.
    """
    shape = SHAPES[kind]
    facts = tuple(sorted(FACTS & shape.known))
    try:
        struct = _struct(kind, relevant, frozenset({kind}), dict.fromkeys(facts, _ANY))
    except _Unsupported:
        return None
    position = {f.encode_name: n for n, f in enumerate(msgspec.structs.fields(struct))}
    signature = shape.signature
    required: tuple[tuple[int, type | None], ...] | None = None
    excluded: tuple[int, ...] = ()
    # Recognised by the struct only where it refuses keys the kind does not know, and reads
    # (as a fact) every key whose type the signature says.
    if (
        signature is not None
        and shape.search_rest
        and all(
            key in position and (held is object or key in facts) for key, held in signature.required
        )
    ):
        required = tuple(
            (position[key], None if held is object else held) for key, held in signature.required
        )
        excluded = tuple(position[key] for key in signature.excluded if key in position)
    return _Reader(
        msgspec.json.Decoder(struct),
        msgspec.json.Decoder(_LIST[struct]),
        facts,
        required,
        excluded,
    )


def _recognise(reads: list[Any], reader: _Reader) -> None:
    """Refuse (`_Refused`) unless the walker would recognise each of ``reads`` by its keys.

    Checked on the few fields the table's signature names (the kind's `Signature`).
    """
    required = reader.required
    if required is None:
        raise _Refused
    names = reader.one.type.__struct_fields__
    unset = msgspec.UNSET
    for at, held in required:
        values = list(map(operator.attrgetter(names[at]), reads))
        if any(value is unset for value in values) or (
            held is not None and not all(isinstance(value, held) for value in values)
        ):
            raise _Refused
    for at in reader.excluded:
        if any(getattr(read, names[at]) is not unset for read in reads):
            raise _Refused


def _items(
    objects: list[Any], reads: list[Any], kind: Kind, paths: list[Path], *,
    reader: _Reader, container: Any,
) -> list[Item]:  # fmt: skip
    """The Tweets or users of a slot, their facts read (recognised already: `_recognise`)."""
    unset, astuple = msgspec.UNSET, msgspec.structs.astuple
    keys = reader.facts
    found: list[Item] = []
    for obj, read, path in zip(objects, reads, paths, strict=True):
        values = astuple(read)
        facts = {key: value for key, value in zip(keys, values, strict=False) if value is not unset}
        oid = facts.get("id")
        if type(oid) is not str or "id_str" in facts:
            oid = Node(kind, facts, None, ()).read_id().value
        found.append(Item(path, kind, facts, obj, oid or None, container=container))
    return found


@attrs.frozen
class _Slot:
    """A slot of a response whose Tweets or users the page decoder reads.

    Attributes:
        path: its keys from the response's root.
        names: the struct attributes leading to it.
        kind: the kind of object it holds.
        recognised: whether its objects are recognised by their keys (a slot of no fixed
            kind), as the walker recognises them.
        reader: the kind's reader.
    """

    path: tuple[str, ...]
    names: tuple[str, ...]
    kind: Kind
    recognised: bool
    reader: _Reader


@attrs.frozen
class _PageReader:
    """The generated reading of a whole response line: one msgspec decode, every slot read.

    Attributes:
        decoder: decodes the line into a struct of its slots, each Tweet or user as its
            kind's reader reads it (`_reader`), every other slot held closed; it refuses a
            key the response does not know.
        converted: the same struct for `msgspec.convert` of the line already parsed
            (`_parsed`: each value the decoder skips unparsed is taken as it was parsed).
        slots: the slots of Tweets and users, in the walker's order.
        required: the attributes of the keys the response's signature requires.
        excluded: the attributes of the keys it excludes.
    """

    decoder: msgspec.json.Decoder[Any]
    converted: Any
    slots: tuple[_Slot, ...]
    required: tuple[str, ...]
    excluded: tuple[str, ...]


def _names(struct: Any, path: tuple[str, ...]) -> tuple[str, ...]:
    """The attributes of ``struct`` (and the structs nested in it) that spell ``path``."""
    names = []
    for depth, key in enumerate(path):
        field = next(f for f in msgspec.structs.fields(struct) if f.encode_name == key)
        names.append(field.name)
        if depth + 1 < len(path):
            struct = next(
                held
                for held in typing.get_args(field.type)
                if isinstance(held, type) and issubclass(held, msgspec.Struct)
            )
    return tuple(names)


@functools.cache
def _page_reader(relevant: frozenset[Kind]) -> _PageReader | None:
    """The reading of a response line, generated from the table as the walker visits it.

    Where the walker visits a slot of Tweets or users, the struct holds one object or a list
    of objects of the kind's reader; where it visits a slot that may hold other content, the
    slot must hold none (`_holding`); slots that cannot hold content are skipped unparsed.
    """
    root = SHAPES[PAGE_ROOT]
    signature = root.signature
    assert signature is not None  # noqa: S101  # the table gives the root one
    paths: list[tuple[tuple[str, ...], Any]] = []
    read: list[tuple[Slot, Kind, _Reader]] = []
    for slot in root.visits:
        kind = slot.kind or slot.usually
        if kind in PAGE_KINDS:
            reader = _reader(kind, relevant)
            if reader is None:
                return None
            struct = reader.one.type
            paths.append((slot.path, struct | _LIST[struct] | None))
            read.append((slot, kind, reader))
        elif kind is None or not _static_closed(kind, relevant):
            paths.append((slot.path, _holding(slot.kind, relevant, frozenset())))
    crossed = {path[0] for path, _ in paths}
    skipped = dict.fromkeys(sorted(root.known - crossed), _SKIP)
    try:
        struct = _defstruct("page", _fields(paths, skipped, "page"), forbid=True)
    except _Unsupported:
        return None
    top = {f.encode_name: f.name for f in msgspec.structs.fields(struct)}
    return _PageReader(
        msgspec.json.Decoder(struct),
        _parsed(struct),
        tuple(
            _Slot(slot.path, _names(struct, slot.path), kind, slot.kind is None, reader)
            for slot, kind, reader in read
        ),
        tuple(top[key] for key, _ in signature.required),
        tuple(top[key] for key in signature.excluded if key in top),
    )


@functools.cache
def _parsed(struct: Any) -> Any:
    """``struct`` with every field `msgspec.Raw` (skipped unparsed) taken as any value.

    The struct `msgspec.convert` turns a parsed line into: the same names, keys, defaults,
    refusal of unknown keys and nested structs (each made over), so it accepts exactly the
    values the decoder accepts, and gives the same facts.
    """
    fields = msgspec.structs.fields(struct)
    config = struct.__struct_config__
    return msgspec.defstruct(
        f"{struct.__name__}_parsed",
        [(f.name, _parsed_type(f.type), f.default) for f in fields],
        kw_only=True,
        gc=False,
        forbid_unknown_fields=config.forbid_unknown_fields,
        rename={f.name: f.encode_name for f in fields},
    )


def _parsed_type(held: Any) -> Any:
    """A field's type in `_parsed`: `msgspec.Raw` as `typing.Any`, structs made over."""
    if held is msgspec.Raw:
        return _ANY
    if isinstance(held, type) and issubclass(held, msgspec.Struct):
        return _parsed(held)
    args = typing.get_args(held)
    if not args:
        return held
    made = tuple(_parsed_type(arg) for arg in args)
    if typing.get_origin(held) is list:
        return _LIST[made[0]]
    return functools.reduce(operator.or_, made)


def read_page(line: bytes, relevant: frozenset[Kind]) -> Page | None:
    """Read a v2 response line for cleaning; ``None`` if the walker must read it instead.

    ``relevant``: the kinds whose objects the cleaner acts on (Tweets, users, DMs); every one
    the walker would meet in the line must be one of the Tweets and users read here. One
    parse of the line serves both the check for keys written twice and the facts of every
    Tweet and user (`_decoded`; the rest of the line is checked to hold no other content);
    the page's objects themselves are cut out of the line only if cleaning changes it
    (`Page.materialise`).
    """
    page = _page_reader(relevant)
    if page is None:
        return None
    unset = msgspec.UNSET
    try:
        if not line.isascii():  # (twarc writes ASCII: the check is then free)
            line.decode("utf-8")
        record = _decoded(line, page)
        if record is None:
            return None  # a key written twice: the walker's path refuses the line, naming it
        if any(getattr(record, name) is unset for name in page.required) or any(
            getattr(record, name) is not unset for name in page.excluded
        ):
            return None
        found: list[tuple[_Slot, list[Any], bool]] = []
        for slot in page.slots:
            value = record
            for name in slot.names:
                value = getattr(value, name)
                if value is None or value is unset:
                    break
            else:
                many = type(value) is list
                reads = value if many else [value]
                if slot.recognised:
                    _recognise(reads, slot.reader)
                found.append((slot, reads, many))
    except (_Refused, msgspec.DecodeError, UnicodeDecodeError):
        return None
    return Page(found, page.slots)


#: From this length on, a line's colons are counted by numpy where it is installed (the
#: ``fast`` extra): ten times `bytes.count`'s speed ...
_COUNTED: Final = 1 << 16
#: ... once this many bytes of such lines were counted by `bytes.count` in this process:
#: importing numpy (about 0.25 s of CPU) pays only on a large dataset.
_NUMPY_AFTER: Final = 256 << 20
#: Bytes of large lines counted by `bytes.count` so far.
_counted: list[int] = [0]


@functools.cache
def _numpy() -> Any:
    """numpy, or ``None`` where it is not installed."""
    try:
        import numpy as np  # noqa: PLC0415  # optional, and only large lines need it
    except ImportError:  # pragma: no cover  # exercised where numpy is not installed
        return None
    return np


def _colons(data: bytes) -> int:
    """How many bytes of ``data`` are ``:`` (`bytes.count`, or numpy: `_NUMPY_AFTER`)."""
    size = len(data)
    if size >= _COUNTED:
        if _counted[0] >= _NUMPY_AFTER:
            np = _numpy()
            if np is not None:
                return int(np.count_nonzero(np.frombuffer(data, np.uint8) == ord(":")))
        else:
            _counted[0] += size
    return data.count(b":")


def _decoded(line: bytes, page: _PageReader) -> Any:
    r"""``line`` as the page's struct, once it writes no key twice (``None``: it does).

    The check for keys written twice (`written_once`) needs the whole line parsed; with
    orjson installed, that one parse (``_LOADS``, faster than msgspec's) also gives the
    facts, turned into the page's struct by `msgspec.convert` (``page.converted``: the same
    struct, every value skipped unparsed by the decoder taken as parsed) instead of decoding
    the line a second time. What orjson does not read or write (integers past 64 bits, a
    lone surrogate, deep nesting) is decoded and checked the other way, as is the rare line
    whose colons do not tally at once (``\u003`` in it, a key written twice): same result.

    Raises:
        msgspec.DecodeError: the line is not what the page's struct reads.
    """
    if _LOADS is not None:
        try:
            value = _LOADS(line)
            written = _DUMPS(value)
        except (ValueError, TypeError):  # (orjson's errors are both)
            pass
        else:
            # Outside strings one colon per key written: as in `written_once`.
            if (b"\\u003" not in line and _colons(line) == _colons(written)) or written_once(
                line, _VALUE, _ENCODE
            ):
                return msgspec.convert(value, page.converted)
            return None
    record = page.decoder.decode(line)
    if not written_once(line, _VALUE, _ENCODE):
        return None
    return record

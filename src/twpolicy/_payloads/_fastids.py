"""The fast ID path: the IDs of a v2 response line read from its bytes, generated from the table.

Most datasets researchers dehydrate are twarc2 output: one v2 API response page per line.
Decoding all of a page (texts, entities, metrics) costs far more than reading its IDs, so for
each kind of ID a decoder and an extraction function are generated from the table of shapes
(`twpolicy._payloads._shapes`), the table the walker reads:

- a msgspec Struct per kind of object reachable from a response, reading only the fields
  that hold IDs of the kind or lead to objects that may, skipping the keys the table calls
  inert unparsed and refusing every other key where the walker would search it;
- an object in a slot of no fixed kind (a response's ``data``) is read as the kind the table
  says is usual there, only when it carries that kind's signature;
- the extraction code visits the objects in the walker's order and reads each one's own ID
  and its references in the table's order, so the IDs come out as the walker gives them.

Every key a struct declares costs each decoded object a slot (and a ``msgspec.Raw`` when
present), so a kind whose table entry knows many keys its objects in v2 pages never carry
declares only the usual ones (`twpolicy._payloads._structs.USUAL`, shared with the fast
location path, as is the model of declared keys): a mention knows every key of a user
(twarc2's flattened Tweets expand mentions into users), while a v2 page's mentions hold
four. A line with another key is refused like one with an unknown key: read by the walker,
slower, exact.

A line the decoders refuse (another family, a key the walker would search, a number or
anything but a decimal string where an ID is) gets ``None``: the walker reads it instead
(`record_ids`), and names any bad ID. Objects of a kind met again below itself (a mention's
own mentions) are left to the walker too.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

import attrs
import msgspec

from twpolicy._payloads._ids import LARGEST_ID, TARGET, check_kind, ids_in
from twpolicy._payloads._shapes import SHAPES, Family, Kind, Shape, Signature, Slot, twin
from twpolicy._payloads._structs import (
    CROSSED,
    SKIPPED,
    Field,
    Keys,
    Unsupported,
    declared,
    defstruct,
)

__all__ = [
    "FAST_ROOT",
    "FastIds",
    "fast_ids",
    "fresh_ids",
    "parser",
    "reader",
    "record_ids",
]

#: The kind of object a line must be for the fast path: a v2 response (a twarc2 line).
FAST_ROOT: Final = Kind.RESPONSE_V2


def at_most(bound: int) -> str:
    """A regular expression for the decimal numbers from 0 to ``bound``, without leading zeros."""
    digits = str(bound)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}" if len(digits) > 1 else ""
    same = []  # as many digits as the bound: below it at the first digit that differs
    for at, digit in enumerate(digits):
        low = "1" if at == 0 else "0"
        if digit > low:
            top = chr(ord(digit) - 1)
            step = low if top == low else f"[{low}-{top}]"
            same.append(f"{digits[:at]}{step}[0-9]{{{len(digits) - at - 1}}}")
    same.append(digits)
    return "(?:" + "|".join(["0", *filter(None, [shorter]), *same]) + ")"


_DECIMAL_ID: Final = at_most(LARGEST_ID)
# Decimal IDs (`twpolicy._payloads._ids.is_id`: 0 to 2**64 - 1), one per line.
_DECIMALS: Final = re.compile(f"{_DECIMAL_ID}(?:\n{_DECIMAL_ID})*")
# ``list`` of element types built at run time, which a type checker cannot see.
_LIST: Any = list


def _closed(kind: Kind | None, family: Family, seen: frozenset[Kind] = frozenset()) -> bool:
    """Whether the walker can find no ``family`` ID in an object of ``kind``, at any depth."""
    if kind is None:
        return False
    if kind in seen:
        return True
    shape = SHAPES[kind]
    if shape.search_rest or any(shape.ids_of(family)):
        return False
    return all(_closed(slot.kind, family, seen | {kind}) for slot in shape.children)


# What a generated field holds.
_SKIPPED: Final = SKIPPED  # a key the table knows: skipped unparsed
_ID: Final = "id"  # an ID: a string, or null
_IDS: Final = "ids"  # a list of IDs
_OBJECT: Final = CROSSED  # an object an ID path or a slot crosses
_OBJECTS: Final = "objects"  # a list of them
_SLOT: Final = "slot"  # a child slot: one object of a generated kind, or a list of them
_ABSENT: Final = "absent"  # a slot the fast path cannot read exactly: null or absent only


@attrs.frozen
class _Compiled:
    """A generated struct, and the code appending its IDs from the object in ``var``."""

    struct: Any
    var: str
    code: tuple[tuple[int, str], ...]


def _indent(code: Iterable[tuple[int, str]], by: int = 1) -> list[tuple[int, str]]:
    return [(depth + by, line) for depth, line in code]


class _Generator:
    """Generates the structs and the extraction code for one family of ID."""

    def __init__(self, family: Family) -> None:
        self.family = family
        self.count = 0
        self.reaches: dict[Kind, frozenset[Kind]] = {}
        self.done: dict[tuple[Kind, bool, frozenset[Kind]], _Compiled | None] = {}

    def _name(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def _reach(self, kind: Kind) -> frozenset[Kind]:
        """``kind`` and every kind its slots may hold, at any depth."""
        if kind not in self.reaches:
            found, todo = {kind}, [kind]
            while todo:
                for slot in SHAPES[todo.pop()].children:
                    for held in (slot.kind, slot.usually):
                        if held is not None and held not in found:
                            found.add(held)
                            todo.append(held)
            self.reaches[kind] = frozenset(found)
        return self.reaches[kind]

    def compile(self, kind: Kind, stack: tuple[Kind, ...], *, recognised: bool) -> _Compiled:
        """The struct and code for an object of ``kind``; `Unsupported` if none is exact.

        ``recognised``: the object sits where the walker recognises it by its keys, so the
        struct also requires its kind's signature. ``stack``: the kinds it sits in; only
        those it may hold again matter, so objects of a kind are mostly generated once.
        """
        key = (kind, recognised, frozenset(stack) & self._reach(kind))
        if key not in self.done:
            try:
                self.done[key] = self._compile(kind, stack, recognised=recognised)
            except Unsupported:
                self.done[key] = None
        compiled = self.done[key]
        if compiled is None:
            raise Unsupported
        return compiled

    @staticmethod
    def _admitted(
        kind: Kind, stack: tuple[Kind, ...], *, recognised: bool
    ) -> tuple[Shape, Signature | None, frozenset[str]]:
        """``kind``'s shape, signature and excluded keys; `Unsupported` if none is exact."""
        shape = SHAPES[kind]
        signature = shape.signature if recognised else None
        if kind in stack or (recognised and (signature is None or not shape.search_rest)):
            raise Unsupported
        # Keys the signature excludes are absent: there is nothing to read in them.
        excluded = signature.excluded if signature is not None else frozenset()
        return shape, signature, excluded

    @staticmethod
    def _required(keys: Keys, signature: Signature | None) -> None:
        """Require the signature's keys (`Unsupported` if one is read as other than an ID)."""
        for key, required in signature.required if signature is not None else ():
            entry = keys.field(key)
            if required is not object and entry.role not in (_SKIPPED, _ID):
                raise Unsupported
            entry.required = required

    def _compile(self, kind: Kind, stack: tuple[Kind, ...], *, recognised: bool) -> _Compiled:
        shape, signature, excluded = self._admitted(kind, stack, recognised=recognised)
        own, references = self._id_paths(shape, excluded)
        keys = Keys()
        for dotted in [*own, *references]:
            self._read(keys, dotted.split("."), excluded)
        open_slots = [slot for slot in shape.children if not _closed(slot.kind, self.family)]
        for slot in open_slots:
            self._slot(keys, slot.path, slot.kind or slot.usually, (*stack, kind), slot.kind)
        # Every key the table knows is declared (and skipped unless read): with unknown keys
        # forbidden, any other key, which the walker would search, refuses the line.
        if shape.search_rest:
            for key in declared(kind, shape) - excluded:
                keys.field(key)
        if not excluded.isdisjoint(keys.fields):
            raise Unsupported
        self._required(keys, signature)
        struct = defstruct(kind.value, keys, self._held, forbid=shape.search_rest)
        visits = [slot for slot in shape.visits if slot in open_slots]
        var = self._name()
        return _Compiled(struct, var, self._code(keys, var, own, references, visits))

    def _code(
        self, keys: Keys, var: str, own: list[str], references: list[str], visits: list[Slot]
    ) -> tuple[tuple[int, str], ...]:
        """Code passing on the object's own ID, its references, then its objects' IDs."""
        code: list[tuple[int, str]] = []
        own_id = " or ".join(filter(None, (self._value(keys, var, d) for d in own)))
        if own_id:
            code.append((0, f"append({own_id})"))
        for dotted in references:
            code += self._read_code(keys, dotted.split("."), var)
        code += self._slots_code(keys, [slot.path for slot in visits], var)
        return tuple(code)

    def _id_paths(self, shape: Shape, excluded: frozenset[str]) -> tuple[list[str], list[str]]:
        """The paths of the object's own ID and of its references, for this family."""
        own = list(shape.ids if shape.family == self.family and not shape.notice else ())
        if own and (shape.tagged or any("." in dotted for dotted in own)):
            raise Unsupported
        references = [
            dotted
            for dotted, family in shape.references
            if family == self.family and dotted.split(".")[0] not in excluded
        ]
        return own, references

    def _read(self, keys: Keys, segments: list[str], excluded: frozenset[str]) -> None:
        """Declare the fields an ID path crosses; IDs are accepted as strings only."""
        key, rest = segments[0], segments[1:]
        if not rest:
            for name in (key, twin(key)):
                if name is not None and name not in excluded:
                    entry = keys.field(name)
                    if entry.role not in (_SKIPPED, _ID):
                        raise Unsupported  # a key both read and expanded: left to the walker
                    entry.role = _ID
            return
        entry = keys.field(key)
        role = _IDS if rest == ["*"] else _OBJECTS if rest[0] == "*" else _OBJECT
        if entry.role not in (_SKIPPED, role):
            raise Unsupported
        entry.role = role
        if role in (_OBJECT, _OBJECTS):
            entry.below = entry.below or Keys()
            self._read(entry.below, rest[1:] if role == _OBJECTS else rest, frozenset())

    def _slot(
        self,
        keys: Keys,
        path: tuple[str, ...],
        kind: Kind | None,
        stack: tuple[Kind, ...],
        fixed: Kind | None,
    ) -> None:
        """Declare a child slot: objects of ``kind`` (or, when it cannot be read, null only)."""
        entry = keys.at(path)  # the objects before the slot's key are crossed
        if entry.role != _SKIPPED:
            raise Unsupported
        entry.role = _ABSENT
        if kind is not None:
            with contextlib.suppress(Unsupported):
                entry.child = self.compile(kind, stack, recognised=fixed is None)
                entry.role = _SLOT

    def _held(self, entry: Field, name: str) -> tuple[Any, Any]:
        """What a field decodes to (`twpolicy._payloads._structs.defstruct`); absent: ``None``."""
        role = entry.role
        if role == _SKIPPED:
            return msgspec.Raw, msgspec.UNSET
        if role == _ID:
            return str | None, None
        if role == _IDS:
            return list[str] | None, None
        if role in (_OBJECT, _OBJECTS):
            assert entry.below is not None  # noqa: S101  # set with the role
            inner = defstruct(name, entry.below, self._held, forbid=False)
            return (inner if role == _OBJECT else _LIST[inner]) | None, None
        if role == _SLOT:
            assert entry.child is not None  # noqa: S101  # set with the role
            return entry.child.struct | _LIST[entry.child.struct] | None, None
        return None, None  # a slot read as null or absent only

    @staticmethod
    def _value(keys: Keys, var: str, key: str) -> str:
        """The expression reading an ID field (or, empty, its numeric twin)."""
        number = twin(key)
        fields = [key, number] if number is not None else [key]
        return " or ".join(f"{var}.{keys.fields[f].attribute}" for f in fields if f in keys.fields)

    def _read_code(self, keys: Keys, segments: list[str], expr: str) -> list[tuple[int, str]]:
        """Code appending the IDs at an ID path, in the walker's order."""
        key, rest = segments[0], segments[1:]
        if not rest:
            value = self._value(keys, expr, key)
            return [(0, f"append({value})")] if value else []
        entry = keys.fields[key]
        read = f"{expr}.{entry.attribute}"
        if rest == ["*"]:
            return [(0, f"extend({read} or ())")]
        assert entry.below is not None  # noqa: S101  # declared by _read
        var = self._name()
        if rest[0] == "*" and len(rest) == 2:  # noqa: PLR2004  # one ID per element
            value = self._value(entry.below, var, rest[1])
            return [(0, f"for {var} in {read} or ():"), (1, f"append({value})")]
        if rest[0] == "*":
            inner = self._read_code(entry.below, rest[1:], var)
            return [(0, f"for {var} in {read} or ():"), *_indent(inner)]
        inner = self._read_code(entry.below, rest, var)
        return [(0, f"{var} = {read}"), (0, f"if {var} is not None:"), *_indent(inner)]

    def _slots_code(
        self, keys: Keys, paths: list[tuple[str, ...]], expr: str
    ) -> list[tuple[int, str]]:
        """Code walking slots' objects in order, each object's IDs before the next object's.

        Slots that lie in one object one after another (``includes.tweets``,
        ``includes.users``) read that object once.
        """
        code: list[tuple[int, str]] = []
        for first, group in itertools.groupby(paths, key=lambda path: path[0]):
            rests = [path[1:] for path in group]
            entry = keys.fields[first]
            var = self._name()
            head = [(0, f"{var} = {expr}.{entry.attribute}"), (0, f"if {var} is not None:")]
            if rests == [()]:
                code += self._objects_code(entry, var, head)
                continue
            assert entry.below is not None  # noqa: S101  # declared by _slot
            inner = self._slots_code(entry.below, rests, var)
            code += [*head, *_indent(inner)] if inner else []
        return code

    @staticmethod
    def _objects_code(entry: Field, var: str, head: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Code walking the objects of one slot (one object or a list of them) in ``var``."""
        child = entry.child
        if entry.role != _SLOT or child is None or not child.code:
            return []
        each = f"for {child.var} in ({var} if type({var}) is list else ({var},))"
        return [*head, (1, f"{each}:"), *_indent(child.code, 2)]


@attrs.frozen
class Reader:
    """The generated fast path for one kind of ID.

    Attributes:
        decoder: decodes a line into the generated structs, or raises `msgspec.DecodeError`.
        extract: ``extract(page, append, extend)`` passes on the page's IDs in walk order
            (with ``None`` and ``""`` where the walker would find no ID).
        source: the extraction function's generated source, for reading and debugging.
    """

    decoder: msgspec.json.Decoder[Any]
    extract: Callable[[Any, Callable[[Any], None], Callable[[Any], None]], None]
    source: str


@functools.cache
def reader(kind: str) -> Reader:
    """The fast path for ``kind`` IDs (``tweets``, ``users`` or ``dms``), generated once."""
    generator = _Generator(TARGET[check_kind(kind)])
    root = generator.compile(FAST_ROOT, (), recognised=True)
    body = [f"{'    ' * (depth + 1)}{line}" for depth, line in root.code] or ["    pass"]
    source = "\n".join([f"def extract({root.var}, append, extend):", *body, ""])
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<twpolicy fast {kind} IDs>", "exec"), namespace)  # noqa: S102  # our own generated code
    return Reader(msgspec.json.Decoder(root.struct), namespace["extract"], source)


def fast_ids(line: bytes | memoryview, kind: str) -> list[str] | None:
    """The ``kind`` IDs of one v2 response line, with repeats; ``None`` if not such a line.

    ``line`` may be a view of a larger buffer (a file mapped in memory): nothing read from
    it outlives the call.

    ``None`` also when an ID is not a decimal string: the walker's path names it.
    """
    out = _extracted(line, kind)
    if out is None:
        return None
    ids: list[str] = [value for value in out if value]
    return ids if _decimal(ids) else None


def fresh_ids(line: bytes | memoryview, kind: str, seen: set[str]) -> list[str] | None:
    """`fast_ids` of ``line`` that are not in ``seen``, once each, in first-seen order.

    ``seen`` learns them. It must hold only IDs (decimal strings, as the walker and
    `fast_ids` let out): an ID in it is not checked again. ``None`` where `fast_ids`
    gives ``None``; then ``seen`` is left as it was.
    """
    out = _extracted(line, kind)
    if out is None:
        return None
    new: list[str] = [value for value in out if value and value not in seen]
    if not new:
        return new
    if not _decimal(new):
        return None
    seen.update(new)
    return list(dict.fromkeys(new)) if len(new) > 1 else new


def _extracted(line: bytes | memoryview, kind: str) -> list[str | None] | None:
    """What the generated reader extracts from ``line`` (``None``: not such a line).

    The decoded page is gone when this returns, before the caller's buffer is released.
    """
    fast = reader(kind)
    try:
        page = fast.decoder.decode(line)
    except msgspec.DecodeError:
        return None
    out: list[str | None] = []
    fast.extract(page, out.append, out.extend)
    return out


def _decimal(ids: list[str]) -> bool:
    """Whether every one of ``ids`` is a decimal ID (`twpolicy._payloads._ids.is_id`)."""
    joined = "\n".join(ids)  # one regular-expression match checks every ID at once
    return not ids or (
        joined.count("\n") == len(ids) - 1 and _DECIMALS.fullmatch(joined) is not None
    )


class FastIds(list[str]):
    """IDs the fast path read from a record's bytes: a list, so a record reader carries it."""

    __slots__ = ()


def parser(kind: str, loads: Callable[[bytes], Any] = json.loads) -> Callable[[bytes], Any]:
    """A record parser for ``kind`` IDs: `FastIds` where the fast path reads the line, else JSON.

    A line that writes a key twice is read as ``json`` reads it, the last value winning,
    on both paths. Only IDs leave, and each is counted: a key written twice can leave IDs
    out, never let anything else out (scan and comply, where it could hide location or gone
    content, refuse such lines). An exact check would cost this path 4x its time.
    """
    check_kind(kind)

    def parse(data: bytes) -> Any:
        ids = fast_ids(data, kind)
        return loads(data) if ids is None else FastIds(ids)

    return parse


def record_ids(value: Any, kind: str) -> list[str]:
    """The ``kind`` IDs of what `parser` gave: as the fast path read them, or as walked.

    Raises:
        PayloadError: the walker found an ID whose digits cannot be trusted.
    """
    if type(value) is FastIds:
        return value
    return list(ids_in(value, kind))

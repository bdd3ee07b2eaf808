"""The ID hook's fast path: a v2 page decoded once for its Tweet, user and DM IDs.

The fast ID path (`twpolicy._payloads._fastids`) generates a decoder per kind of ID, so a
hook reading all three kinds decoded each page three times: about 60 % of its cost on a
large page. Here one struct per kind of object is generated for the three families at once
from the same table, with one extraction function per family, and a page is decoded once.

The struct accepts a page only where each family's own struct accepts it, and each family's
extraction reads what its own would: a key one family reads and another's struct refuses
(``id_str`` in a v2 Tweet is read as the Tweet's ID, and refused by the user IDs' struct)
is left undeclared, so refused; a key read two ways, or a kind no struct reads exactly, is
read as null only. A page refused goes to the walker, which finds what the fast path would
have (the fast path's own property), so nothing but speed depends on how often it refuses.
Imported on the first read (it generates code and needs msgspec), not at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec

from twpolicy._payloads._fastids import (  # the generator's parts, reused for the three families
    _ID,
    _SLOT,
    FAST_ROOT,
    _closed,
    _Compiled,
    _Generator,
    _indent,
)
from twpolicy._payloads._shapes import SHAPES, Family, Kind, Signature
from twpolicy._payloads._structs import Field, Keys, Unsupported, declared, defstruct

__all__ = ["FAMILIES", "Extract", "all_kinds"]

#: The families read, in the order `all_kinds` gives their extraction functions.
FAMILIES: Final[tuple[Family, ...]] = ("tweet", "user", "dm")

#: ``extract(page, append, extend)``: passes on one family's IDs of a decoded page.
Extract = Callable[[Any, Callable[[Any], None], Callable[[Any], None]], None]


class _AllKinds(_Generator):
    """`_Generator` for the three families at once: one struct, one code per family."""

    def __init__(self) -> None:
        super().__init__(FAMILIES[0])  # ``family``: the one whose code is being written
        #: Each compiled object's code per family, by its variable.
        self.codes: dict[str, dict[Family, tuple[tuple[int, str], ...]]] = {}

    def _compile(self, kind: Kind, stack: tuple[Kind, ...], *, recognised: bool) -> _Compiled:
        shape, signature, excluded = self._admitted(kind, stack, recognised=recognised)
        paths: dict[Family, tuple[list[str], list[str]]] = {}
        for family in FAMILIES:
            self.family = family
            paths[family] = self._id_paths(shape, excluded)
        keys = Keys()
        for own, references in paths.values():
            for dotted in [*own, *references]:
                self._read(keys, dotted.split("."), excluded)
        open_for = {
            family: [slot for slot in shape.children if not _closed(slot.kind, family)]
            for family in FAMILIES
        }
        for slot in shape.children:
            if any(slot in open_for[family] for family in FAMILIES):
                self._slot(keys, slot.path, slot.kind or slot.usually, (*stack, kind), slot.kind)
        if shape.search_rest:
            self._declare(kind, keys, signature, excluded)
        if not excluded.isdisjoint(keys.fields):
            raise Unsupported
        self._required(keys, signature)
        struct = defstruct(kind.value, keys, self._held, forbid=shape.search_rest)
        var = self._name()
        self.codes[var] = {}
        for family in FAMILIES:  # each family's code, as its own generator writes it
            self.family = family
            own, references = paths[family]
            visits = [slot for slot in shape.visits if slot in open_for[family]]
            self.codes[var][family] = self._code(keys, var, own, references, visits)
        return _Compiled(struct, var, ())

    def _declare(
        self, kind: Kind, keys: Keys, signature: Signature | None, excluded: frozenset[str]
    ) -> None:
        """Declare the keys the table knows; leave out those one family's struct refuses.

        Only an ID may be left out (its code then reads it as absent); a family whose IDs
        no object of ``kind`` can hold reads the object unparsed and refuses nothing in it.
        """
        shape = SHAPES[kind]
        known = declared(kind, shape) - excluded
        required = {key for key, _ in signature.required} if signature is not None else set()
        for family in FAMILIES:
            if _closed(kind, family):
                continue
            self.family = family
            own, references = self._id_paths(shape, excluded)
            mine = Keys()
            for dotted in [*own, *references]:
                self._read(mine, dotted.split("."), excluded)
            heads = {slot.path[0] for slot in shape.children if not _closed(slot.kind, family)}
            for key in [key for key in keys.fields if key not in known | required | heads]:
                if key in mine.fields:
                    continue
                if keys.fields[key].role != _ID:
                    raise Unsupported
                del keys.fields[key]  # undeclared, so refused: as that family's struct does
        for key in known:
            keys.field(key)
        if len({entry.attribute for entry in keys.fields.values()}) != len(keys.fields):
            raise Unsupported  # a name given twice once keys were left out: never so far

    def _objects_code(  # type: ignore[override]  # the family's code, not the one code
        self, entry: Field, var: str, head: list[tuple[int, str]]
    ) -> list[tuple[int, str]]:
        child = entry.child
        code = self.codes[child.var][self.family] if child is not None else ()
        if entry.role != _SLOT or not code:
            return []
        each = f"for {child.var} in ({var} if type({var}) is list else ({var},))"
        return [*head, (1, f"{each}:"), *_indent(code, 2)]


def all_kinds() -> tuple[msgspec.json.Decoder[Any], tuple[Extract | None, ...]] | None:
    """A decoder for v2 pages and each family's extraction function, or ``None`` if none.

    A family no page the decoder takes can hold IDs of (DMs, so far) gets ``None``.
    """
    generator = _AllKinds()
    try:
        root = generator.compile(FAST_ROOT, (), recognised=True)
    except Unsupported:  # pragma: no cover  # the table's v2 pages are read: tested
        return None
    extracts: list[Extract | None] = []
    for family in FAMILIES:
        code = generator.codes[root.var][family]
        if not code:  # a page the struct takes holds none of this family's IDs
            extracts.append(None)
            continue
        body = [f"{'    ' * (depth + 1)}{line}" for depth, line in code]
        source = "\n".join([f"def extract({root.var}, append, extend):", *body, ""])
        namespace: dict[str, Any] = {}
        exec(compile(source, f"<twpolicy fast {family} IDs, one decode>", "exec"), namespace)  # noqa: S102  # our own generated code
        extracts.append(namespace["extract"])
    return msgspec.json.Decoder(root.struct), tuple(extracts)

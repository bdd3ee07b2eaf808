"""What the fast paths' generated structs declare: one model, read off the table of shapes.

The fast ID path (`twpolicy._payloads._fastids`) and the fast location path
(`twpolicy._payloads._fastscan`) each generate, from the table of shapes, a msgspec Struct
per kind of object they read: the keys they read, typed; the objects a dotted path crosses;
and every other key the table knows for the kind, skipped unparsed, so that with unknown keys
refused a struct accepts only objects in which the walker would find nothing more. What they
share is here, once: which known keys a struct declares (`declared`, narrowed by `USUAL`),
the declaration of keys and paths (`Keys`, `Field`), and the struct built from them
(`defstruct`). What each path reads, and the code it generates, stays with it.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
import msgspec

from twpolicy._payloads._shapes import Kind, Shape

__all__ = ["CROSSED", "SKIPPED", "USUAL", "Field", "Keys", "Unsupported", "declared", "defstruct"]

#: A known key: skipped unparsed (a `msgspec.Raw`, or absent).
SKIPPED: Final = "skipped"
#: An object a dotted path crosses: only the keys the path needs, the others ignored.
CROSSED: Final = "crossed"

#: For these kinds, the keys the table knows that a fast path declares besides those that
#: hold the kind's IDs, references and slots, and those the path reads: the keys their
#: objects carry in v2 pages and in v1.1 Tweets. Any other key the table knows sends the
#: line to the exact path. Only speed depends on this table, never what is found.
USUAL: Final[Mapping[Kind, frozenset[str]]] = {
    # v2 ``entities.mentions``: start end username id; v1.1 ``user_mentions``: the rest. A
    # mention knows every key of a user (twarc2's flattened Tweets expand mentions into
    # users), and a struct costs each object it decodes a slot per key it declares.
    Kind.MENTION: frozenset(
        {"start", "end", "username", "id", "id_str", "indices", "name", "screen_name"}
    ),
}


class Unsupported(Exception):  # an internal signal: never leaves a generator
    """This kind cannot be read exactly by a struct: its objects go to the exact path."""


def declared(kind: Kind, shape: Shape) -> frozenset[str]:
    """The keys the table knows for ``kind`` that a fast path's struct declares, skipped.

    Every known key, but for a kind in `USUAL`: its usual keys and those holding its IDs,
    references and slots (a path declares, besides, the keys it reads). ``shape`` is the
    kind's entry in the table the generator reads.
    """
    usual = USUAL.get(kind)
    if usual is None:
        return shape.known
    paths = [*shape.ids, *(dotted for dotted, _family in shape.references)]
    heads = {path.split(".")[0] for path in paths} | {slot.path[0] for slot in shape.children}
    return shape.known & (usual | heads)


@attrs.define
class Field:
    """One key of a generated struct: what it holds (``role``, a generator's own names).

    Attributes:
        attribute: the struct's attribute for the key (a key that is no plain identifier
            gets a name no key of the table has).
        role: what the key holds, as the generator reads it (`SKIPPED` by default).
        below: for an object a path crosses (or any object read key by key), its keys.
        child: the generator's compiled kind held here (a slot's objects).
        kind: the kind of object held here, where the generator needs it.
        required: where the object must carry the key (its kind's signature): the type the
            value must have, ``object`` for any; ``None`` when it may be absent.
    """

    attribute: str
    role: str = SKIPPED
    below: Keys | None = None
    child: Any = None
    kind: Kind | None = None
    required: Any = None


@attrs.define
class Keys:
    """The keys of one object (or of an object a path crosses) a struct declares."""

    fields: dict[str, Field] = attrs.field(factory=dict)

    def field(self, key: str) -> Field:
        """The field of ``key``, declared (skipped) if new."""
        found = self.fields.get(key)
        if found is None:
            plain = key.isidentifier() and not key.startswith("_") and not keyword.iskeyword(key)
            found = self.fields[key] = Field(key if plain else f"key{len(self.fields)}_")
        return found

    def at(self, segments: tuple[str, ...] | list[str]) -> Field:
        """The field at the end of a path, declaring the objects it crosses (`CROSSED`).

        Raises:
            Unsupported: a key on the way is read as something else.
        """
        keys = self
        for segment in segments[:-1]:
            entry = keys.field(segment)
            if entry.role not in (SKIPPED, CROSSED):
                raise Unsupported
            entry.role, entry.below = CROSSED, entry.below or Keys()
            keys = entry.below
        return keys.field(segments[-1])


#: A generator's reading of a field: ``held(field, name)`` gives the type its value decodes
#: to and what stands for the key when absent (`msgspec.UNSET`, or ``None`` where the type
#: holds ``None``); ``name`` names a struct made for it.
Held = Callable[[Field, str], tuple[Any, Any]]


def defstruct(name: str, keys: Keys, held: Held, *, forbid: bool) -> Any:
    """The struct of ``keys``: each field typed by ``held``, required ones as required.

    ``forbid``: refuse keys not declared (where the walker would search them).
    """
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for key, entry in sorted(keys.fields.items()):
        rename[entry.attribute] = key
        value, absent = held(entry, f"{name}_{key}")
        if entry.required is not None:
            fields.append((entry.attribute, value if entry.required is object else entry.required))
        elif absent is msgspec.UNSET:
            fields.append((entry.attribute, value | msgspec.UnsetType, msgspec.UNSET))
        else:
            fields.append((entry.attribute, value, absent))
    return msgspec.defstruct(
        name, fields, forbid_unknown_fields=forbid, kw_only=True, rename=rename, gc=False
    )

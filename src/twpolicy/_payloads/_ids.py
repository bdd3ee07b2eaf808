"""IDs in payloads: which IDs a payload holds, and whether a value is nothing but IDs.

Developer Policy I.F.2 limits what leaves to Tweet, User and DM IDs. These functions read
payloads only; the rules that decide and the enforcement points that export live above.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from twpolicy._payloads._shapes import CONTENT_FAMILY, ID_KEYS, SHAPES, Family, Kind
from twpolicy._payloads._walker import SAFE_INTEGER, IdReading, Node, Reference, adapt, walk
from twpolicy.exceptions import ConfigurationError, PayloadError

__all__ = [
    "CONTENTS",
    "CONTENT_OF",
    "DMS",
    "LARGEST_ID",
    "TARGET",
    "TWEETS",
    "USERS",
    "IdKind",
    "check_kind",
    "content_kind",
    "dehydrate",
    "ids_in",
    "ids_only_check",
    "is_id",
    "is_id_key",
    "references",
]


#: What an export may carry, as ``facts["content"]``.
CONTENTS = ("tweet_ids", "user_ids", "dm_ids", "objects")

#: The kinds of ID that may leave.
IdKind = Literal["tweets", "users", "dms"]
CONTENT_OF: Mapping[str, str] = {"tweets": "tweet_ids", "users": "user_ids", "dms": "dm_ids"}

#: What each kind of ID names, in the table of shapes.
TARGET: Mapping[str, Family] = {"tweets": "tweet", "users": "user", "dms": "dm"}
_OWN: Mapping[str, frozenset[Kind]] = {
    kind: frozenset(k for k, family in CONTENT_FAMILY.items() if family == target)
    for kind, target in TARGET.items()
}
_TWEETS, _USERS, _DMS = _OWN["tweets"], _OWN["users"], _OWN["dms"]
_CONTENT = frozenset(CONTENT_FAMILY)
#: The kinds of node that are Tweets, users and DMs.
TWEETS, USERS, DMS = _TWEETS, _USERS, _DMS
# Notices about content (deletions, withholdings, geo scrubs) name IDs that must not be
# passed on as a dataset: they are not dehydrated.
_NOTICES = frozenset(kind for kind, shape in SHAPES.items() if shape.notice)
_PROBLEMS = {
    "float": "a JSON float",
    "unsafe_integer": "a JSON integer of 2**53 or more",
}


#: The largest ID: Tweet, user and DM IDs are unsigned 64-bit integers.
LARGEST_ID = 2**64 - 1
_LARGEST_DIGITS = len(str(LARGEST_ID))  # 20


def is_id(value: object) -> bool:
    """Whether ``value`` is an ID as it may leave: a decimal string from 0 to 2**64 - 1."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= _LARGEST_DIGITS
        and value.isascii()
        and value.isdigit()
        and (value[0] != "0" or value == "0")
        and (len(value) < _LARGEST_DIGITS or int(value) <= LARGEST_ID)
    )


def is_id_key(key: object) -> bool:
    """Whether ``key`` names Tweet, User or DM IDs: one of the table's `ID_KEYS`, exactly."""
    return isinstance(key, str) and key in ID_KEYS


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _walk_ids(value: object, pointer: str) -> Iterator[str | None]:
    """Yield ``None`` per ID in an ID-only value, and the pointer of the first thing that is not.

    An ID-only value is an ID, a list, tuple or set of ID-only values, or a mapping whose keys
    all name IDs and whose values are ID-only. The keys that name IDs are a fixed vocabulary
    from the table of shapes (`ID_KEYS`: ``id``, ``ids``, ``tweet_ids``, ``author_id``...):
    a key merely ending in ``_id`` names nothing, and may hide text.
    """
    if is_id(value):
        yield None
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk_ids(item, f"{pointer}/{index}")
    elif isinstance(value, (set, frozenset)):
        for item in value:
            yield from _walk_ids(item, f"{pointer}/-")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{pointer}/{_escape(str(key))}"
            if not is_id_key(key):
                yield here
                return
            yield from _walk_ids(item, here)
    else:
        yield pointer


def ids_only_check(value: object) -> tuple[str | None, int]:
    """``(pointer of the first non-ID, or None; how many IDs)`` for an outbound value."""
    count = 0
    for offence in _walk_ids(value, ""):
        if offence is not None:
            return offence, count
        count += 1
    return None, count


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is a kind of ID that may leave, else raise ConfigurationError."""
    if kind not in _OWN:
        raise ConfigurationError(f"unknown ID kind {kind!r}; use one of {sorted(_OWN)}")
    return kind


def _checked(value: str | None, problem: str | None, field: str | None, where: str) -> str | None:
    """The ID a reading gave, or ``None``; raise when its digits cannot be trusted."""
    if problem in _PROBLEMS:
        raise PayloadError(
            f"{where}: the ID in {field!r} arrived as {_PROBLEMS[problem]} with no string "
            "twin, so its digits may already be wrong (JSON readers round such numbers); "
            "it was refused. Re-export the data keeping string IDs (id_str, or v2's string id)."
        )
    if value is None:
        return None
    if not is_id(value):
        raise PayloadError(
            f"{where}: {field!r} holds a {len(value)}-character string that is not a decimal "
            "ID; it was refused."
        )
    # A str subclass may say something else when printed, or carry attributes: a plain copy.
    return value if type(value) is str else str.__str__(value)


# Keys only a direct message has. An object with text and an ID is taken for a Tweet by its
# keys alone; with one of these it is a DM (a legacy DM may carry only sender_id_str and
# recipient_id_str), and its ID is a DM ID, never a Tweet ID.
_DM_MARKERS = frozenset(
    {
        "sender",
        "recipient",
        "sender_id",
        "sender_id_str",
        "recipient_id",
        "recipient_id_str",
        "sender_screen_name",
        "recipient_screen_name",
        "dm_conversation_id",
        "dm_event_id",
        "event_type",
        "message_create",
        "message_data",
    }
)
# IDs the walker's tables do not list: the legacy Search API's authors and addressees.
_LEGACY_SEARCH = (("from_user_id", "user"), ("to_user_id", "user"))
_EXTRA_REFERENCES: Mapping[Kind, tuple[tuple[str, str], ...]] = dict.fromkeys(
    TWEETS, _LEGACY_SEARCH
)
_LEGACY_KEYS = frozenset(f"{name}{end}" for name, _ in _LEGACY_SEARCH for end in ("", "_str"))
# What a legacy DM taken for a Tweet refers to (the walker reads it as a Tweet).
_AS_DM: tuple[tuple[str, str], ...] = (("sender_id", "user"), ("recipient_id", "user"))


def content_kind(node: Node) -> Kind:
    """The node's kind, except that a "Tweet" with a DM's keys is the legacy DM it is."""
    if node.kind in TWEETS and not node.value.keys().isdisjoint(_DM_MARKERS):
        return Kind.DM_V1
    return node.kind


def _field_id(value: Any, twin: Any, name: str) -> IdReading | None:
    """Read an ID from ``name_str`` and its numeric twin ``name``, as the walker does."""
    if isinstance(value, str) and value:
        mismatch = type(twin) is int and value.isascii() and value.isdecimal()
        return IdReading(
            value, f"{name}_str", "mismatch" if mismatch and int(value) != twin else None
        )
    if type(twin) is int:
        return IdReading(str(twin), name, "unsafe_integer" if abs(twin) >= SAFE_INTEGER else None)
    if type(twin) is float:
        exact = twin.is_integer() and abs(twin) < SAFE_INTEGER
        return IdReading(str(int(twin)) if exact else None, name, "float")
    if isinstance(twin, str) and twin:
        return IdReading(twin, name)
    return None


def references(node: Node, kind: Kind) -> Iterator[Reference]:
    """Every ID ``node`` refers to, read as a node of ``kind`` (its `content_kind`).

    The walker's references, and those its tables do not list (the legacy Search API's
    ``from_user_id`` and ``to_user_id``); a legacy DM taken for a Tweet refers to its sender
    and recipient only.
    """
    if kind is node.kind:
        yield from node.references()
        fields = _EXTRA_REFERENCES.get(kind, ())
        if not fields or node.value.keys().isdisjoint(_LEGACY_KEYS):
            return
    else:
        fields = _AS_DM
    value = node.value
    for name, target in fields:
        reading = _field_id(value.get(f"{name}_str"), value.get(name), name)
        if reading is not None:
            yield Reference(node.pointer_to((reading.field or name,)), target, reading)


def ids_in(payload: Any, kind: str, record: str = "") -> Iterator[str]:
    """Yield every ``kind`` ID in one payload, in walk order, with repeats.

    An object's own ID comes first, then the IDs it refers to, then its children's.

    Raises:
        PayloadError: an ID arrived as a float or an unsafe integer, or is not decimal.
    """
    own, target = _OWN[kind], TARGET[kind]
    for node in walk(payload):
        if node.kind in _NOTICES:
            continue
        node_kind = content_kind(node)
        if node_kind in own:
            reading = node.read_id()
            found = _checked(reading.value, reading.problem, reading.field, _where(record, node))
            if found is not None:
                yield found
        for reference in references(node, node_kind):
            if reference.target == target:
                reading = reference.id
                at = f"at {reference.pointer}" if reference.pointer else "at the top level"
                where = f"{record} {at}" if record else at
                found = _checked(reading.value, reading.problem, reading.field, where)
                if found is not None:
                    yield found


def _where(record: str, node: Node) -> str:
    at = f"the {node.kind.value} object" + (f" at {node.pointer}" if node.pointer else "")
    return f"{record} {at}" if record else at


def _payloads(payload_or_iterable: Any) -> Iterator[tuple[Any, str]]:
    """One payload, or each payload of an iterable (a generator, a file's parsed lines)."""
    value = adapt(payload_or_iterable)
    if isinstance(value, (Mapping, list)):
        yield value, ""
    elif isinstance(value, (str, bytes, bytearray)):
        raise PayloadError("dehydrate takes parsed JSON, not text; parse it first (json.loads)")
    elif isinstance(value, Iterable):
        for number, item in enumerate(value, start=1):
            yield item, f"record {number}"
    else:
        raise PayloadError(f"dehydrate takes parsed JSON, got {type(value).__name__}")


def dehydrate(payload_or_iterable: Any, *, kind: IdKind = "tweets") -> list[str]:
    """Every ID of ``kind`` in a payload (or an iterable of payloads), unique, first seen first.

    Every family the walker knows is searched: v1.1 and v2 Tweets with their retweeted,
    quoted and referenced Tweets and ``includes``, twarc-flattened Tweets, activity streams,
    users (authors, mentioned, included, embedded), DMs. IDs are returned as decimal strings,
    read from ``id_str`` where there is one. Notices (deletions, withholdings) are skipped.

    Args:
        payload_or_iterable: parsed JSON, a tweepy model or response, or an iterable of them.
        kind: ``"tweets"``, ``"users"`` or ``"dms"``.

    Raises:
        PayloadError: an ID arrived as a float or as an integer of 2**53 or more with no
            string twin (its digits may be wrong), naming the record and pointer.
        ConfigurationError: an unknown ``kind``.
    """
    check_kind(kind)
    seen: dict[str, None] = {}
    for payload, record in _payloads(payload_or_iterable):
        seen.update(dict.fromkeys(ids_in(payload, kind, record)))
    return list(seen)

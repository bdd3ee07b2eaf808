"""IDs in payloads: which IDs a payload holds, and whether a value is nothing but IDs.

Developer Policy I.F.2 limits what leaves to Tweet, User and DM IDs. These functions read
payloads only; the rules that decide and the enforcement points that export live above.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal

from twpolicy._payloads._shapes import CONTENT_FAMILY, ID_KEYS, SHAPES, Family, Kind
from twpolicy._payloads._walker import Node, adapt, walk
from twpolicy.exceptions import ConfigurationError, PayloadError

__all__ = [
    "CONTENTS",
    "CONTENT_OF",
    "TARGET",
    "IdKind",
    "check_kind",
    "dehydrate",
    "ids_in",
    "ids_only_check",
    "is_id",
    "is_id_key",
    "objects_of",
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
# Notices about content (deletions, withholdings, geo scrubs) name IDs that must not be
# passed on as a dataset: they are not dehydrated.
_NOTICES = frozenset(kind for kind, shape in SHAPES.items() if shape.notice)
_PROBLEMS = {
    "float": "a JSON float",
    "unsafe_integer": "a JSON integer of 2**53 or more",
}


def is_id(value: object) -> bool:
    """Whether ``value`` is an ID as it may leave: a decimal string of at most 20 digits."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 20  # noqa: PLR2004  # 2**64 has 20 digits
        and value.isascii()
        and value.isdigit()
        and (value[0] != "0" or value == "0")
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
    return value


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
        if node.kind in own:
            reading = node.read_id()
            found = _checked(reading.value, reading.problem, reading.field, _where(record, node))
            if found is not None:
                yield found
        for reference in node.references():
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


def _top(node: Node) -> bool:
    """Whether ``node`` is an object of its own, not part of a Tweet, user or DM."""
    parent = node.parent
    while parent is not None:
        if parent.kind in _CONTENT:
            return False
        parent = parent.parent
    return True


def objects_of(payload: Any) -> tuple[int, int, list[tuple[str, str]]]:
    """Count the objects of a manual export and find what may not go.

    Returns ``(objects, tweet_ids, problems)``: the Tweet and User objects that stand on
    their own (a retweeted Tweet or an author embedded in a Tweet is part of it), the Tweet
    IDs the export carries, and each problem as a reason code and a JSON pointer: DMs,
    protected users and their Tweets, and objects whose author's protection is not known (a
    v2 Tweet without its author in ``includes``, a user without ``protected``).
    """
    objects = 0
    problems: list[tuple[str, str]] = []
    protected: set[str | None] = set()
    public: set[str | None] = set()
    authored: list[tuple[str | None, str]] = []
    for node in walk(payload):
        pointer = node.pointer or "/"
        if node.kind in _DMS:
            problems.append(("direct_message", pointer))
        elif node.kind in _USERS and node.kind is not Kind.MENTION:
            objects += _top(node)
            uid, flag = node.read_id().value, node.value.get("protected")
            if flag is True:
                protected.add(uid)
                problems.append(("protected_user", pointer))
            elif flag is False:
                public.add(uid)
            else:
                problems.append(("protection_unknown", pointer))
        elif node.kind in _TWEETS:
            objects += _top(node)
            authored.append((_author(node), pointer))
    for author, pointer in authored:
        if author in protected:
            problems.append(("protected_tweet", pointer))
        elif author is None or author not in public:
            problems.append(("protection_unknown", pointer))
    return objects, len(set(ids_in(payload, "tweets"))), problems


def _author(node: Node) -> str | None:
    embedded = node.value.get("user") or node.value.get("author") or node.value.get("actor")
    if isinstance(embedded, Mapping):
        return next((n.read_id().value for n in walk(embedded) if n.kind in _USERS), None)
    return next((r.id.value for r in node.references() if r.target == "user"), None)

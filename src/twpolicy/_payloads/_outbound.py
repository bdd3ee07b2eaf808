"""What an outbound value holds: its IDs, by kind, and the hydrated objects in it.

Exports are counted from the payload, never from the caller's word. A bare ID says nothing
that can be checked (a field name is the caller's word as much as a declared kind), so it
counts as a Tweet ID, the kind that is capped, and a field naming Tweet IDs in an export said
to be of another kind is a contradiction to refuse. An ID read off a user or DM object counts
as a Tweet ID too unless the guarded clients read it as a user's or a DM's and never as a
Tweet's (`twpolicy._payloads._seen`): an object's keys are the application's word. A manual
export of objects is read in full, wherever objects are nested and whatever field hides
them, with every ID it holds in any field or form. Whatever cannot be classified is
reported, so that the rules can refuse it. These functions read payloads only;
the rules decide.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any, Final

import attrs

from twpolicy._payloads._ids import (
    DMS,
    LARGEST_ID,
    TWEETS,
    USERS,
    content_kind,
    dehydrate,
    ids_in,
    ids_only_check,
    is_id,
    references,
)
from twpolicy._payloads._seen import process_evidence
from twpolicy._payloads._shapes import FIELD_KINDS, ID_KEYS, SHAPES, Segment, fields, twin
from twpolicy._payloads._walker import (
    SAFE_INTEGER,
    Kind,
    Node,
    adapt,
    classify,
    pointer_of,
    walk,
)
from twpolicy.exceptions import PayloadError

__all__ = [
    "FIELD_KINDS",
    "FIELD_OF",
    "IdCount",
    "ObjectCount",
    "count_ids",
    "count_objects",
    "recall",
    "remembered",
    "snapshot",
    "typed_ids",
]


#: The field an export of one kind of ID puts its IDs under, so that it says what they are.
FIELD_OF: Final[Mapping[str, str]] = {"tweets": "tweet_ids", "users": "user_ids", "dms": "dm_ids"}


def field_kind(key: object) -> str | None:
    """The kind of ID the field ``key`` names (``author_id`` → users), or ``None``."""
    if not isinstance(key, str):
        return None
    return FIELD_KINDS.get(key.removesuffix("_str").removesuffix("_string"))


# ---------------------------------------------------------------------------------------
# Copies: what was checked is what leaves
# ---------------------------------------------------------------------------------------

_NUMBERS: Final = (int, float)


def _is_number(value: object) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, bool)


def _is_exact(value: object) -> bool:
    """Whether a number is an ID every JSON reader keeps exactly: an integer below 2**53."""
    return type(value) is int and 0 <= value < SAFE_INTEGER


def _rebuild(value: Any, leaf: Any) -> Any:
    """A copy of ``value``'s lists, tuples, sets and mappings, with ``leaf`` applied to scalars.

    Iterative, so that nesting depth is limited by memory only; tweepy models are read as
    the JSON they came from, tuples become lists. A value that contains itself is refused.
    """
    root: list[Any] = [None]
    active: set[int] = set()
    same = leaf is _same
    scalars = _JSON_SCALARS
    # (value, container of the copy, slot in it), or (None, None, id) on leaving a container
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, into, slot = pop()
        if into is None:
            active.discard(slot)
            continue
        if type(item) in scalars:
            into[slot] = item if same else leaf(item)
            continue
        item = adapt(item)
        if isinstance(item, (Mapping, list, tuple)):
            if id(item) in active:
                raise PayloadError("the payload contains itself (a reference cycle)")
            if isinstance(item, Mapping):
                copy: Any = _copy_mapping(item, None if same else leaf)
                slots: Any = copy.items()
            else:
                copy = list(item) if same else [leaf(child) for child in item]
                slots = enumerate(copy)
            inner = [(child, slot) for slot, child in slots if type(child) not in scalars]
            if inner:  # a container of scalars only is copied whole, and cannot be a cycle
                active.add(id(item))
                push((None, None, id(item)))
                for child, at in inner:
                    push((child, copy, at))
            into[slot] = copy
        elif isinstance(item, AbstractSet):
            # A set's members are hashable scalars: converted directly.
            members = (leaf(plain(member)) for member in item)
            into[slot] = frozenset(members) if isinstance(item, frozenset) else set(members)
        else:
            into[slot] = leaf(plain(item))
    return root[0]


def _copy_mapping(item: Mapping[Any, Any], leaf: Any) -> dict[Any, Any]:
    """A dict copy of ``item``, its keys plain (see `plain`), ``leaf`` applied to its values."""
    copy = dict(item) if leaf is None else {key: leaf(child) for key, child in item.items()}
    if all(type(key) is str for key in copy):
        return copy
    return {plain(key): child for key, child in copy.items()}


def plain(value: Any) -> Any:
    """``value`` as its exact JSON type, if it is a subclass of one; anything else as it is.

    A subclass of ``str``, ``int`` or ``float`` can print as something else (``__str__``) or
    carry attributes: what leaves is a plain copy, with nothing but its value.
    """
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    return value


_JSON_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _same(leaf: Any) -> Any:
    return leaf


def snapshot(value: Any) -> Any:
    """A copy of ``value`` as JSON-like data: what is checked is what is handed over.

    Raises:
        PayloadError: the value contains itself.
    """
    return _rebuild(value, _same)


def _exact_leaf(leaf: Any) -> Any:
    return str(leaf) if _is_exact(leaf) else leaf


def _probe_leaf(leaf: Any) -> Any:
    # Stands in for a number where an ID belongs, to ask whether that is where it sits.
    if _is_exact(leaf):
        return str(leaf)
    return "0" if _is_number(leaf) else leaf


# ---------------------------------------------------------------------------------------
# Bare IDs
# ---------------------------------------------------------------------------------------


@attrs.frozen
class IdCount:
    """What an outbound value of bare IDs holds.

    Attributes:
        value: the value as it may leave: a copy, with integer IDs below 2**53 written as
            decimal strings (the same IDs, that no reader can round).
        offence: the JSON pointer of the first thing that is not an ID, or ``None``.
        imprecise: the pointer of a number standing where an ID belongs that may already be
            rounded (a float, or an integer of 2**53 or more), when the value is otherwise
            nothing but IDs; ``None`` if there is none.
        ids: the IDs counted (every occurrence) up to the offence, or in all.
        tweets: how many count as Tweet IDs: every bare ID (the capped kind is the safe
            guess), and of IDs read off objects, those of Tweets and those of users or DMs
            no guarded client of this process read as such (and never as a Tweet's).
        users: how many their field names user IDs (or, read off objects, are).
        dms: how many their field names DM IDs (or, read off objects, are).
        named: for each kind, the pointer of the first ID a field names that kind.
    """

    value: Any = attrs.field(repr=False)
    offence: str | None
    imprecise: str | None
    ids: int
    tweets: int = 0
    users: int = 0
    dms: int = 0
    named: Mapping[str, str] = attrs.field(factory=dict)
    source: Any = attrs.field(default=None, repr=False, eq=False)

    @classmethod
    def derived(cls, value: Any, kind: str, count: int, source: Any = None) -> IdCount:
        """The count of ``count`` IDs of ``kind`` read off objects: ``value``'s IDs.

        An object's kind is what its keys say, and an application can make up a user
        object around a Tweet ID: so a user or DM ID counts as a Tweet ID too unless a
        guarded client read it as a user's (or a DM's) and never as a Tweet's
        (`twpolicy._payloads._seen.IdEvidence.proven`). ``source`` is the value they were
        read off, whose Tweets and users the export is about (`subjects`).
        """
        tweets = count if kind == "tweets" else process_evidence().unproven(_flat(value), kind)
        return cls(
            value,
            None,
            None,
            count,
            tweets=tweets,
            users=count if kind == "users" else 0,
            dms=count if kind == "dms" else 0,
            source=source,
        )

    def subjects(self) -> tuple[frozenset[str], frozenset[str]]:
        """The Tweet and user IDs the export is about, to check none of them is gone.

        IDs reduced from objects: every Tweet and user ID the objects hold. Bare IDs: each
        both as a Tweet and as a user ID, since nothing shows which it is.
        """
        if self.source is not None:
            return (
                frozenset(dehydrate(self.source, kind="tweets")),
                frozenset(dehydrate(self.source, kind="users")),
            )
        found = frozenset(
            item for _, _, group in typed_ids(self.value) for item in group if is_id(item)
        )
        return found, found

    @property
    def only_ids(self) -> bool:
        """Whether the value is nothing but IDs that may leave."""
        return self.offence is None and self.imprecise is None


def _flat(value: Any) -> Iterator[Any]:
    """The IDs of a reduced export: a list or set of them, or a mapping of such lists."""
    if isinstance(value, Mapping):
        for group in value.values():
            yield from _flat(group)
    elif isinstance(value, (list, tuple, AbstractSet)):
        for item in value:
            if isinstance(item, (Mapping, list, tuple, AbstractSet)):
                yield from _flat(item)
            else:
                yield item
    else:
        yield value


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _maybe_number(value: Any, pointer: str) -> bool:
    """Whether the value at ``pointer`` may be a number (so an ID written as one)."""
    item = value
    for token in (_unescape(t) for t in pointer.split("/")[1:]):
        if isinstance(item, Mapping):
            item = next((child for key, child in item.items() if str(key) == token), None)
        elif isinstance(item, (list, tuple)) and token.isdecimal() and int(token) < len(item):
            item = item[int(token)]
        else:
            return True  # in a set, or not found: do not guess
    return _is_number(item)


def count_ids(value: Any) -> IdCount:
    """Read an outbound value that should be nothing but IDs: which, how many, of what kind.

    Raises:
        PayloadError: the value contains itself, or is nested too deeply to read.
    """
    try:
        offence, ids = ids_only_check(value)
    except RecursionError:
        raise PayloadError("the value is nested too deeply (or contains itself)") from None
    if offence is None:
        exact = snapshot(value)
    elif _maybe_number(value, offence):
        exact = _rebuild(value, _exact_leaf)
        offence, ids = ids_only_check(exact)
        if offence is not None and ids_only_check(_rebuild(value, _probe_leaf))[0] is None:
            return IdCount(exact, None, offence, ids)
        if offence is not None:
            return IdCount(exact, offence, None, ids)
    else:
        return IdCount(value, offence, None, ids)
    tally = {"tweets": 0, "users": 0, "dms": 0}
    named: dict[str, str] = {}
    for named_kind, path, found in typed_ids(exact):
        if named_kind is not None:
            tally[named_kind] += len(found)
            named.setdefault(named_kind, pointer_of(path))
    # Every bare ID counts as a Tweet ID: its field is no evidence of its kind.
    return IdCount(
        exact, None, None, ids, tweets=ids, users=tally["users"], dms=tally["dms"], named=named
    )


def typed_ids(value: Any) -> Iterator[tuple[str | None, tuple[Segment, ...], list[str]]]:
    """The IDs of an ID-only value in groups: ``(kind named, path, IDs)``.

    An ID's kind is named by the nearest field above it (``{"user_ids": [...]}``), or
    ``None``. ``path`` leads to the group's first ID.
    """
    stack: list[tuple[Any, str | None, tuple[Segment, ...]]] = [(value, None, ())]
    seen: set[int] = set()
    while stack:
        item, kind, path = stack.pop()
        if isinstance(item, str):
            yield kind, path, [item]
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, Mapping):
            stack.extend(
                (child, field_kind(key) or kind, (*path, str(key)))
                for key, child in reversed(list(item.items()))
            )
        elif isinstance(item, (list, tuple)):
            strings = [child for child in item if type(child) is str]
            if strings and len(strings) == len(item):
                yield kind, (*path, 0), strings  # a list of IDs, at once
            else:
                stack.extend(
                    (child, kind, (*path, index))
                    for index, child in reversed(list(enumerate(item)))
                )
        elif isinstance(item, AbstractSet):
            members = sorted(child for child in item if isinstance(child, str))
            if members:
                yield kind, (*path, "-"), members


# ---------------------------------------------------------------------------------------
# Hydrated objects (manual exports)
# ---------------------------------------------------------------------------------------


@attrs.frozen
class ObjectCount:
    """What a manual export holds.

    Attributes:
        objects: the hydrated Tweet and User objects in it, wherever nested (a retweet with
            its original and both authors is four), each distinct object once.
        tweet_ids: the distinct IDs it carries that count as Tweet IDs: its Tweets', their
            references, bare IDs and ``{type, id}`` stubs (IDs are always shareable, but
            counted), and its users' IDs (their own, authors', mentions') and every other ID
            it holds in any field or form (`id_forms`) that no guarded client of this
            process read as a user's only (`IdEvidence.proven`).
        problems: what may not go, each as a reason code and a JSON pointer:
            ``direct_message``, ``protected_user``, ``protected_tweet``,
            ``protection_unknown``, ``not_an_object`` (text, reshaped rows, anything that is
            neither a Tweet or User object, nor an ID, nor the envelope around them),
            ``extra_text`` (text in a field no Tweet or User object has), ``not_an_id``
            (text where an object's ID or a reference to one belongs) and ``imprecise_id``.
    """

    objects: int
    tweet_ids: int
    problems: tuple[tuple[str, str], ...]
    tweets: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    def subjects(self) -> tuple[frozenset[str], frozenset[str]]:
        """The Tweet and user IDs the export is about.

        Its Tweets, users and authors, every Tweet ID they refer to (a quoted Tweet's ID
        leaves with the quote), and the bare IDs and stubs in it.
        """
        return self.tweets, self.users


# Envelopes around objects: the keys whose values hold objects, and the metadata keys whose
# values are numbers, IDs or tokens. Anything else outside an object is not exported by hand.
_HOLDERS: Final = fields("data includes tweets users statuses results events id ids objects")
_EXPANSIONS: Final[Mapping[str, frozenset[Kind]]] = {
    "places": frozenset({Kind.PLACE}),
    "media": frozenset({Kind.MEDIA}),
    "polls": frozenset({Kind.POLL}),
}
_METADATA: Final = fields("meta search_metadata __twarc matching_rules")
_META_FIELDS: Final = fields(
    """
    result_count newest_id oldest_id next_token previous_token pagination_token next_cursor
    next_cursor_str previous_cursor previous_cursor_str total_count completed_in max_id
    max_id_str since_id since_id_str count query refresh_url next_results next_page
    previous_page page results_per_page url version retrieved_at sent
    """
)
_TOKEN_LENGTH: Final = 4096
_TAG_LENGTH: Final = 256
_REFERENCE_TYPES: Final = frozenset({"retweeted", "quoted", "replied_to"})
_STUB_KEYS: Final = frozenset({"id", "id_str", "type"})
_USER_STUB_KEYS: Final = frozenset({"id", "id_str"})
# The fields of a mention entity; a "mention" with more is a hydrated user (twarc's flattened
# mentions are, and so is a user object hidden among a Tweet's mentions).
_ENTITY_FIELDS: Final = fields("id id_str screen_name name indices username start end")
_USER_OBJECTS: Final = frozenset({Kind.USER_V1, Kind.USER_V2, Kind.ACTOR})
_TEXTUAL: Final = fields("text full_text body message_data message_create event_type")


def _metadata_scalar(value: object) -> bool:
    """Whether a scalar outside objects is envelope metadata: a number, an ID or a token."""
    if value is None or isinstance(value, (bool, int, float)):
        return True
    return (
        isinstance(value, str)
        and len(value) <= _TOKEN_LENGTH
        and value.isascii()
        and value.isprintable()
        and not any(char.isspace() for char in value)
    )


def _looks_like_dm(value: Mapping[str, Any]) -> bool:
    keys = value.keys()
    return not keys.isdisjoint(_DM_KEYS) and not keys.isdisjoint(_DM_BODY)


_DM_KEYS: Final = fields(
    """
    sender recipient sender_id sender_id_str recipient_id recipient_id_str sender_screen_name
    recipient_screen_name dm_conversation_id dm_event_id message_create message_data
    """
)
_DM_BODY: Final = _TEXTUAL | fields("id id_str dm_event_id attachments")


def _stub_id(value: Mapping[str, Any]) -> str | None:
    """The Tweet ID of a ``{type, id}`` reference stub, or ``None`` if ``value`` is not one."""
    if not value.keys() <= _STUB_KEYS or not ("id" in value or "id_str" in value):
        return None
    kind = value.get("type")
    if kind is not None and kind not in _REFERENCE_TYPES:
        return None
    found = value.get("id_str", value.get("id"))
    if _is_exact(found):
        return str(found)
    return found if is_id(found) else None


def _own_id(value: Mapping[str, Any]) -> str | None:
    found = value.get("id_str") or value.get("id")
    if _is_exact(found):
        return str(found)
    if isinstance(found, str) and found:
        return found.rpartition(":")[2]  # activity streams: id:twitter.com:123
    return None


@attrs.define
class _Reading:
    """The state of one manual-export reading."""

    index: dict[int, Node] = attrs.field(factory=dict)
    seen: set[int] = attrs.field(factory=set)
    groups: dict[tuple[str, str | None], dict[int, Mapping[str, Any]]] = attrs.field(factory=dict)
    tweet_ids: set[str] = attrs.field(factory=set)
    # IDs read as users' (objects' own, authors, mentions): Tweet IDs until proven users'.
    user_ids: set[str] = attrs.field(factory=set)
    # Every ID the objects hold in any field or form (`id_forms`): the same.
    id_forms: set[str] = attrs.field(factory=set)
    problems: list[tuple[str, str]] = attrs.field(factory=list)
    public: set[str] = attrs.field(factory=set)
    protected: set[str] = attrs.field(factory=set)
    authored: list[tuple[str | None, str]] = attrs.field(factory=list)
    # Expansions (places, media, polls) by what refers to them, and the text outside objects.
    referenced: set[tuple[str, str]] = attrs.field(factory=set)
    expansions: list[tuple[str, str | None, str]] = attrs.field(factory=list)
    loose: list[tuple[int, str]] = attrs.field(factory=list)
    # What the export is about, for the compliance check: own IDs, bare IDs, stubs.
    subject_tweets: set[str] = attrs.field(factory=set)
    subject_users: set[str] = attrs.field(factory=set)

    def learn(self, value: Any) -> None:
        for node in walk(value):
            self.index.setdefault(id(node.value), node)

    def node(self, value: Mapping[str, Any], owner: object) -> Node | None:
        """The node the walker found ``value`` to be; outside objects, what its keys make it.

        Inside an object, a mapping the walker did not reach is read by `_family`'s keys.
        """
        found = self.index.get(id(value))
        if found is not None and found.value is value:
            return found
        if owner is not None or value.keys().isdisjoint(_MAY_BE_SOMETHING):
            return None
        kind = classify(value)
        return None if kind is None else Node(kind, value, None, ())

    def problem(self, reason: str, path: tuple[Segment, ...]) -> None:
        self.problems.append((reason, pointer_of(path) or "/"))

    def count(self, family: str, value: Mapping[str, Any]) -> None:
        own = _own_id(value)
        self.groups.setdefault((family, own), {})[id(value)] = value
        if own is not None:  # what the export is about, for the compliance check
            (self.subject_tweets if family == "tweet" else self.subject_users).add(own)

    def ids_of(self, node: Node, kind: Kind, path: tuple[Segment, ...]) -> None:
        """Record the Tweet IDs ``node`` carries; an ID whose digits may be wrong is a problem."""
        own = node.read_id()
        if own.problem in {"float", "unsafe_integer"}:
            self.problem("imprecise_id", path)
        elif own.value is not None and not is_id(own.value):
            self.problem("not_an_id", (*path, own.field or "id"))  # text where the ID belongs
        elif kind in TWEETS and own.value is not None:
            self.tweet_ids.add(own.value)
        elif kind in USERS and own.value is not None:
            self.user_ids.add(own.value)
        for reference in references(node, kind):
            if reference.id.problem in {"float", "unsafe_integer"}:
                self.problems.append(("imprecise_id", reference.pointer))
            elif (
                reference.target in _ID_TARGETS
                and reference.id.value is not None
                and not is_id(reference.id.value)
            ):
                self.problems.append(("not_an_id", reference.pointer))
            elif reference.id.value is not None:
                self.referred(reference.target, reference.id.value)

    def referred(self, target: str, value: str) -> None:
        """Record an ID a node refers to: a Tweet's or a user's ID, or an expansion's."""
        if target == "tweet":
            self.tweet_ids.add(value)
        elif target == "user":
            self.user_ids.add(value)
        elif target in _EXPANDED:
            self.referenced.add((target, value))

    def expansion(
        self, node: Node | None, value: Mapping[str, Any], path: tuple[Segment, ...]
    ) -> None:
        """An expansion of the Tweets (a place, a medium, a poll): theirs, if one refers to it.

        Its text is text outside the counted objects; a field no such expansion has, holding
        text, is text smuggled out.
        """
        kind = node.kind if node is not None else Kind.OTHER
        vocabulary = _VOCABULARY.get(kind, frozenset()) | _EXPANSION_FIELDS.get(kind, frozenset())
        for key, child in value.items():
            if key not in vocabulary:
                extra = _text_in(child)
                if extra is not None:
                    self.problem("extra_text", (*path, str(key), *extra))
        found = node.read_id().value if node is not None else None
        self.expansions.append((_EXPANDED.get(kind.value, ""), found, pointer_of(path) or "/"))
        size, forms = own_content(value)
        self.loose_text(size, path)
        # IDs in an alt text or a poll option count like any ID (and a medium's key, "3_"
        # and its media ID, counts once, as its Tweet's media_keys do: the cost of one rule).
        self.id_forms |= forms

    def loose_text(self, size: int, path: tuple[Segment, ...]) -> None:
        """Text outside the counted objects: metadata, rule tags, expansions."""
        if size:
            self.loose.append((size, pointer_of(path) or "/"))

    def settle(self) -> None:
        """The checks that need the whole export read: expansions and text outside objects."""
        for target, found, pointer in self.expansions:
            if found is None or (target, found) not in self.referenced:
                self.problems.append(("not_an_object", pointer))  # no Tweet here refers to it
        allowed, used = _LOOSE_TEXT * self.objects(), 0
        for size, pointer in self.loose:
            used += size
            if used > allowed:
                self.problems.append(("extra_text", pointer))
                break

    def objects(self) -> int:
        return sum(_distinct(group) for group in self.groups.values())


def _distinct(group: dict[int, Mapping[str, Any]]) -> int:
    """How many different objects share one ID: the same object copied is counted once."""
    if len(group) == 1:
        return 1
    kept: list[Mapping[str, Any]] = []
    members = list(group.values())
    for index, member in enumerate(members):
        if any(member == other for other in kept):
            continue
        kept.append(member)
        if len(kept) > _FEW:  # many versions of one ID: compare digests instead
            rest = {_digest(m) for m in members[index + 1 :]} - {_digest(m) for m in kept}
            return len(kept) + len(rest)
    return len(kept)


_FEW: Final = 8
# The expansions a Tweet refers to by ID, by the kind of node they are.
_EXPANDED: Final[Mapping[str, str]] = {"place": "place", "media": "media", "poll": "poll"}
# Text outside the counted objects (envelope metadata, rule tags, the places, media and polls
# the Tweets refer to) per counted object: a page's tokens and URLs, four media's alt texts,
# a place's names, with room to spare. An export counting nothing carries no text.
_LOOSE_TEXT: Final = 8_192
# The fields of v2 expansions (and of v1.1 places) the table of shapes does not list.
_EXPANSION_FIELDS: Final[Mapping[Kind, frozenset[str]]] = {
    Kind.PLACE: fields(
        """
        id full_name name country country_code geo place_type contained_within url
        bounding_box attributes centroid polylines
        """
    ),
    Kind.MEDIA: fields(
        """
        media_key type url duration_ms height width preview_image_url public_metrics
        non_public_metrics organic_metrics promoted_metrics alt_text variants
        """
    ),
    Kind.POLL: fields("id options duration_minutes end_datetime voting_status"),
}


def _digest(value: Mapping[str, Any]) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys of mixed types, a cycle: never taken for a repeat
        return str(id(value))


def count_objects(payload: Any) -> ObjectCount:  # noqa: C901, PLR0912  # the hot loop, in one frame
    """Read a manual export in full: its objects, the Tweet IDs it carries, what may not go.

    Every mapping is read, including those in fields the walker does not expand
    (``metadata``, ``entities``, unknown keys), so objects cannot hide in a carrier. Outside
    objects only envelopes (``data``, ``includes``, ``statuses`` ...), their metadata, IDs and
    ``{type, id}`` stubs may stand; anything else is ``not_an_object``.

    Raises:
        PayloadError: the payload contains itself.
    """
    reading = _Reading()
    reading.learn(payload)
    stack: list[Step] = [(payload, (), None, _NONE)]
    pop, push, extend = stack.pop, stack.append, stack.extend
    seen, index, scalars = reading.seen, reading.index, _JSON_SCALARS
    while stack:
        value, path, owner, expected = pop()
        shape = type(value)
        if shape is dict and owner is not None:
            if id(value) in seen:
                continue
            seen.add(id(value))
            if id(value) not in index and _family_by_keys(value)[0] is None:
                if _looks_like_dm(value):
                    reading.problem("direct_message", path)
                    continue
                # Part of its object and no object itself (the common case): read inside.
                for key, child in reversed(value.items()):
                    if type(child) not in scalars:
                        push((child, (*path, key), owner, _NONE))
                continue
            extend(reversed(list(_mapping(reading, value, path, owner, expected))))
        elif shape is list and owner is not None:
            if id(value) not in seen:
                seen.add(id(value))
                for at in range(len(value) - 1, -1, -1):
                    if type(value[at]) not in scalars:
                        push((value[at], (*path, at), owner, expected))
        else:
            extend(_step(reading, value, path, owner, expected))
    reading.settle()
    for author, pointer in reading.authored:
        if author in reading.protected:
            reading.problems.append(("protected_tweet", pointer))
        elif author is None or author not in reading.public:
            reading.problems.append(("protection_unknown", pointer))
    # A user ID is a Tweet ID to the cap unless a guarded client read it as a user's only:
    # every user ID the walker finds (mentions, authors, users), and those read above.
    try:
        reading.user_ids.update(ids_in(payload, "users"))
    except PayloadError:
        reading.problem("not_an_id", ())  # a user ID whose digits cannot be trusted
    evidence = process_evidence()
    others = (reading.user_ids | reading.id_forms) - reading.tweet_ids
    counted = reading.tweet_ids | {uid for uid in others if not evidence.proven(uid, "users")}
    return ObjectCount(
        reading.objects(),
        len(counted),
        tuple(reading.problems),
        frozenset(reading.subject_tweets | reading.tweet_ids),  # every Tweet ID that leaves
        frozenset(author for author, _ in reading.authored if author) | reading.subject_users,
    )


def _step(
    reading: _Reading,
    value: Any,
    path: tuple[Segment, ...],
    owner: Mapping[str, Any] | None,
    expected: frozenset[Kind],
) -> Iterator[Step]:
    """Read one value of a manual export; yield what to read next, in document order."""
    shape = type(value)
    if shape is not dict and shape is not list:
        value = adapt(value) if shape not in _JSON_SCALARS else value
        if not isinstance(value, (Mapping, list, tuple, AbstractSet)):
            if owner is None:
                _loose_scalar(reading, value, path)
            elif type(value) not in _JSON_SCALARS:
                # Bytes, a Decimal, an object of the application's: not what the API sent,
                # and whatever it holds would leave uncounted inside a counted object.
                reading.problem("not_an_object", path)
            return
        shape = dict if isinstance(value, Mapping) else list
    if id(value) in reading.seen:
        return  # the same object twice (or a cycle): read once
    reading.seen.add(id(value))
    if shape is dict:
        yield from reversed(list(_mapping(reading, value, path, owner, expected)))
    elif isinstance(value, (list, tuple)):
        scalars = _JSON_SCALARS
        for index in range(len(value) - 1, -1, -1):
            child = value[index]
            if owner is None or type(child) not in scalars:  # in an object, scalars are its own
                yield child, (*path, index), owner, expected
    else:
        yield from ((child, (*path, "-"), owner, expected) for child in value)


def _loose_scalar(reading: _Reading, value: Any, path: tuple[Segment, ...]) -> None:
    """A scalar outside any object: an ID (counted as a Tweet ID), a null, or refused."""
    if value is None:
        return
    if is_id(value) or _is_exact(value):
        reading.tweet_ids.add(str(value))  # a bare ID: counted as a Tweet ID
        reading.subject_tweets.add(str(value))
        reading.subject_users.add(str(value))  # and checked as either kind
    elif _is_number(value):
        reading.problem("imprecise_id", path)
    else:
        reading.problem("not_an_object", path)


Step = tuple[Any, tuple[Segment, ...], "Mapping[str, Any] | None", frozenset[Kind]]


def _family(node: Node | None, value: Mapping[str, Any], owner: object) -> tuple[str | None, Kind]:
    """Whether ``value`` is a DM, a Tweet or a user object, and the kind to read it as.

    The walker's kind first; but a slot's hint (an object under ``place`` or
    ``entities.media``) or an entity's ``indices`` cannot hide an object: keys that make a
    Tweet (an ID and its text, author or location) or a user (a handle and more than a
    mention's fields) do.
    """
    kind = content_kind(node) if node is not None else Kind.OTHER
    if kind in DMS or _looks_like_dm(value):
        return "dm", kind
    if kind in TWEETS:
        return "tweet", kind
    if kind in _USER_OBJECTS or (
        kind is Kind.MENTION and (owner is None or not value.keys() <= _ENTITY_FIELDS)
    ):
        return "user", kind
    family, by_keys = _family_by_keys(value)
    return (family, by_keys) if family is not None else (None, kind)


def _family_by_keys(value: Mapping[str, Any]) -> tuple[str | None, Kind]:
    """What ``value``'s keys make it, whatever slot it sits in: a Tweet, a user, or neither."""
    keys = value.keys()
    if not keys.isdisjoint(_USER_STUB_KEYS) and (
        not keys.isdisjoint(_TWEET_TEXT)
        or (not keys.isdisjoint(_TWEET_PARTS) and keys.isdisjoint(_PLACE_KEYS))
    ):
        return "tweet", Kind.TWEET_V1 if "id_str" in keys else Kind.TWEET_V2
    shape = value.get("objectType")
    if (not keys.isdisjoint(_HANDLES) and not keys <= _ENTITY_FIELDS) or shape == "person":
        return "user", Kind.USER_V1 if "screen_name" in keys else Kind.USER_V2
    if shape == "activity":
        return "tweet", Kind.ACTIVITY
    return None, Kind.OTHER


_TWEET_PARTS: Final = fields("user place coordinates geo")
_PLACE_KEYS: Final = fields("place_type full_name bounding_box")
_TWEET_TEXT: Final = fields("text full_text extended_tweet")
_NONE: Final[frozenset[Kind]] = frozenset()
# Keys without one of which no mapping is an object of a known kind (for the walker's
# recognition by keys); a mapping with none is only part of its object, or an envelope.
_MAY_BE_SOMETHING: Final = fields(
    """
    id id_str screen_name username objectType type media_key media_id_string place_type
    bounding_box full_name woeid trends result query coordinates geo place location
    event_type dm_event_id message_create sender recipient recipient_id text full_text
    extended_tweet indices statuses events data errors includes delete user_delete
    scrub_geo status_withheld user_withheld withheld drop undrop limit disconnect warning
    friends friends_str for_user for_user_id target_object tweet_create_events event
    search_metadata next_cursor resources action
    """
)
_HANDLES: Final = fields("screen_name username")


def _mapping(
    reading: _Reading,
    value: Mapping[str, Any],
    path: tuple[Segment, ...],
    owner: Mapping[str, Any] | None,
    expected: frozenset[Kind],
) -> Iterator[Step]:
    """Classify one mapping of a manual export; yield what to read next."""
    node = reading.node(value, owner)
    family, kind = _family(node, value, owner)
    if family == "dm":
        reading.problem("direct_message", path)
        return
    if family is not None:
        if node is None or node.kind is not kind:
            node = Node(kind, value, None, path)  # read as what its keys say it is
        yield from _object(reading, node, family=family, kind=kind, path=path, owner=owner)
        return
    if owner is not None:
        yield from _children(value, path, owner)  # part of its object: look for nested ones
        return
    if kind in expected:
        reading.expansion(node, value, path)
        yield from _children(value, path, value)  # an expansion of the Tweets (a place)
        return
    yield from _outside(reading, value, path)


def _outside(
    reading: _Reading, value: Mapping[str, Any], path: tuple[Segment, ...]
) -> Iterator[Step]:
    """A mapping outside any object: a reference stub, IDs, an envelope, or refused."""
    stub = _stub_id(value)
    if stub is not None:
        reading.tweet_ids.add(stub)
        reading.subject_tweets.add(stub)
        return
    ids = count_ids(value)
    if ids.only_ids:
        for _, _, found in typed_ids(ids.value):
            reading.tweet_ids.update(found)  # bare IDs: counted as Tweet IDs
            reading.subject_tweets.update(found)
            reading.subject_users.update(found)  # and checked as either kind
        return
    if ids.imprecise is not None:
        reading.problems.append(("imprecise_id", pointer_of(path) + ids.imprecise))
        return
    yield from _envelope(reading, value, path)


def _object(
    reading: _Reading,
    node: Node,
    *,
    family: str,
    kind: Kind,
    path: tuple[Segment, ...],
    owner: Mapping[str, Any] | None,
) -> Iterator[Step]:
    """Count a Tweet or user object, check it is public, and read inside it."""
    value = node.value
    vocabulary = _VOCABULARY[kind]
    for key, child in value.items():
        if key not in vocabulary:
            extra = _text_in(child)
            if extra is not None:  # text smuggled out in a field no such object has
                reading.problem("extra_text", (*path, str(key), *extra))
    size, forms = own_content(value)
    if size > _most_text(family):  # more than any one Tweet or user holds
        reading.problem("extra_text", path)
    reading.id_forms |= forms  # IDs in any field or form: Tweet IDs until proven users'
    if family == "tweet":
        stub = _stub_id(value)
        if stub is not None:
            reading.tweet_ids.add(stub)  # a {type, id} reference: an ID, always shareable
            reading.subject_tweets.add(stub)
            return
        reading.count("tweet", value)
        reading.ids_of(node, kind, path)
        reading.authored.append((_author(value, path, owner), pointer_of(path) or "/"))
    else:
        reading.ids_of(node, kind, path)
        if value.keys() <= _USER_STUB_KEYS:
            return  # a user's ID: shareable, and no Tweet ID
        reading.count("user", value)
        uid, flag = node.read_id().value, value.get("protected")
        if flag is True:
            reading.protected.add(uid or "")
            reading.problem("protected_user", path)
        elif flag is False and uid is not None:
            reading.public.add(uid)
        else:
            reading.problem("protection_unknown", path)
    yield from _children(value, path, value)


def _envelope(
    reading: _Reading, value: Mapping[str, Any], path: tuple[Segment, ...]
) -> Iterator[Step]:
    """The keys of an envelope around objects: holders, expansions, metadata, or refused."""
    if not any(
        key in _HOLDERS or key in _EXPANSIONS or key in _METADATA or is_id(key) for key in value
    ):
        reading.problem("not_an_object", path)  # no envelope: a row, a list, a notice ...
        return
    for key, child in value.items():
        here = (*path, str(key))
        if key in _HOLDERS or is_id(key):
            yield child, here, None, frozenset()
        elif key in _EXPANSIONS:
            yield child, here, None, _EXPANSIONS[key]
        elif key == "matching_rules" and _rule_tags(child):
            reading.loose_text(sum(len(rule.get("tag") or "") for rule in child), here)
        elif key in _METADATA and isinstance(child, Mapping):
            for field, item in child.items():
                if field not in _META_FIELDS or not _metadata_scalar(item):
                    reading.problem("not_an_object", (*here, str(field)))
                else:
                    reading.loose_text(_token_size(item), (*here, str(field)))
                    id_forms(item, reading.id_forms)  # a page's newest_id: an ID, counted
        elif key not in _META_FIELDS or not _metadata_scalar(child):
            reading.problem("not_an_object", here)
        else:
            reading.loose_text(_token_size(child), here)
            id_forms(child, reading.id_forms)


def _token_size(value: object) -> int:
    """How much a metadata scalar could say: a token's length; numbers and IDs say nothing."""
    if not isinstance(value, str) or is_id(value.removeprefix("-")):
        return 0  # a number, an ID, a cursor (v1.1's are signed)
    return len(value)


def _rule_tags(value: object) -> bool:
    """Whether ``value`` is a stream's ``matching_rules``: the application's own rule tags."""
    return isinstance(value, list) and all(
        isinstance(rule, Mapping)
        and rule.keys() <= {"id", "tag"}
        and (rule.get("id") is None or is_id(rule["id"]) or type(rule["id"]) is int)
        and (rule.get("tag") is None or _short_text(rule.get("tag")))
        for rule in value
    )


def _short_text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= _TAG_LENGTH and value.isprintable()


# The fields each kind of object has: the table's (the walker's known keys, child slots,
# location fields, IDs and references), and fields of older or neighbouring APIs the corpus
# shows (the 2010 API's relative dates, the syndication API's media and labels).
_OTHER_FIELDS: Final = fields(
    """
    relative_created_at media mediaDetails video photos birdwatch_pivot highlighted_label
    quoted_tweet parent edit_control from_user to_user from_user_name to_user_name
    iso_language_code profile_image_url profile_image_url_https
    """
)


def _vocabulary(kind: Kind) -> frozenset[str]:
    shape = SHAPES[kind]
    found = set(shape.known) | {slot.path[0] for slot in shape.children}
    found.update(path[0] for path, _ in shape.location)
    found.update(dotted.split(".")[0] for dotted in shape.ids)
    found.update(dotted.split(".")[0] for dotted, _ in shape.references)
    found.update(twin(name) or name for name in list(found))
    return frozenset(found | _OTHER_FIELDS | ID_KEYS)


_VOCABULARY: Final[Mapping[Kind, frozenset[str]]] = {kind: _vocabulary(kind) for kind in SHAPES}
_OBJECT_KINDS: Final = TWEETS | USERS | DMS
# References whose IDs are decimal (media keys and place IDs are not).
_ID_TARGETS: Final = frozenset({"tweet", "user", "dm"})
_LONGEST_TOKEN: Final = 256


def _is_text(value: object) -> bool:
    """Whether a string is text (not an ID, a token or a URL): spaces, non-ASCII, or long."""
    return isinstance(value, str) and (
        len(value) > _LONGEST_TOKEN or not value.isascii() or any(char.isspace() for char in value)
    )


def _text_in(value: Any) -> tuple[Segment, ...] | None:
    """Where ``value`` holds text outside any Tweet or User object in it, or ``None``.

    Objects in it are counted on their own (their text is theirs): only what is outside
    them is read.
    """
    stack: list[tuple[Any, tuple[Segment, ...]]] = [(value, ())]
    seen: set[int] = set()
    while stack:
        item, path = stack.pop()
        if _is_text(item):
            return path
        item = adapt(item) if type(item) not in _JSON_SCALARS else item
        if id(item) in seen:
            continue
        if isinstance(item, Mapping):
            seen.add(id(item))
            if _family_by_keys(item)[0] is not None or classify(item) in _OBJECT_KINDS:
                continue
            stack.extend((child, (*path, str(key))) for key, child in item.items())
        elif isinstance(item, (list, tuple, AbstractSet)):
            seen.add(id(item))
            stack.extend((child, (*path, index)) for index, child in enumerate(item))
        elif isinstance(item, (bytes, bytearray)):
            return path
    return None


# The most text one object holds of its own, outside the objects nested in it, by family. A
# Tweet: a long post's 25,000 characters (twice, v1.1's text and extended_tweet or v2's text
# and note_tweet hold its start twice) with its entities' URLs and context annotations, with
# room to spare (the recorded corpus's largest holds 6,855). A user: a 50-character name, a
# 160-character bio, a 30-character location, their URLs and image links (the corpus's
# largest holds 1,248). An object holding more carries text that is not its own.
_MOST_TEXT: Final[Mapping[str, int]] = {"tweet": 40_000, "user": 8_192}


def _most_text(family: str) -> int:
    return _MOST_TEXT[family]


# A run of 10 digits or more inside a string (a Tweet ID in a URL, IDs listed in text or run
# together): one ID, or, longer than an ID, one per 20 digits.
_DIGIT_RUN: Final = re.compile(r"[0-9]{10,}")
_ID_DIGITS: Final = 20
# An object's own fields holding a time in milliseconds: 13 digits, which no Tweet or user ID
# has had (sequential IDs stopped at 11 digits, snowflakes start at 15).
_TIMES: Final = fields("timestamp_ms created_timestamp editable_until_msecs")
_TIME_DIGITS: Final = 13


# Keys of prose (a Tweet's text, a name): a short number in it is prose, a long run an ID.
_PROSE: Final = fields(
    """
    text full_text name description title location screen_name username label tag alt_text
    display_url expanded_url url
    """
)


def _keyed_forms(key: object, item: object, into: set[str]) -> None:
    """`id_forms` of a scalar in one of the object's own fields (``key``; ``None`` deeper).

    Only two numbers there name no Tweet or user: a time in milliseconds (13 digits) in a
    field of times (``timestamp_ms``), and a number shorter than 10 digits that is all of a
    field of prose (``"2024"`` as a Tweet's text). Deeper in the object nothing is exempt:
    keys there are the application's to choose, as many as it likes.
    """
    if isinstance(key, str):
        text = str(item) if type(item) is int else item
        if type(text) is str and text.isdigit():
            if key in _TIMES and len(text) == _TIME_DIGITS:
                return
            if key in _PROSE and len(text) < 10:  # noqa: PLR2004  # see the docstring
                return
    id_forms(item, into)


# Integers at least this large in an object's content may be IDs (counts never get there).
_WIDE: Final = 2**32


def id_forms(item: object, into: set[str]) -> None:
    """Add to ``into`` the IDs ``item`` holds in the forms an ID takes.

    A decimal string, a run of 10 to 20 digits in a string (a Tweet's URL, a list of IDs
    written as text), or an integer from 2**32 to 2**64 - 1 (counts never get there).
    """
    if type(item) is str:
        if is_id(item):
            into.add(item)
        elif len(item) >= 10:  # noqa: PLR2004  # the shortest run of digits read as an ID
            for run in _DIGIT_RUN.findall(item):
                digits = run.lstrip("0") or "0"
                if is_id(digits):
                    into.add(digits)
                else:  # IDs run together: each 20 digits counts as one
                    into.update(
                        f"run:{digits[at : at + _ID_DIGITS]}"
                        for at in range(0, len(digits), _ID_DIGITS)
                    )
    elif type(item) is int and _WIDE <= item <= LARGEST_ID:
        into.add(str(item))


def own_content(value: Mapping[str, Any]) -> tuple[int, set[str]]:
    """The characters of text ``value`` holds outside the objects nested in it, and its IDs.

    Its IDs are every ID in it in any form an ID takes (`id_forms`), in any field, except
    a time or a short number of prose in one of its own fields (`_keyed_forms`).
    """
    total = 0
    found: set[str] = set()
    stack: list[tuple[object, Any]] = list(value.items())
    seen: set[int] = {id(value)}
    while stack:
        key, item = stack.pop()
        if type(item) in _JSON_SCALARS:
            total += len(item) if type(item) is str else 0
            _keyed_forms(key, item, found)
            continue
        if id(item) in seen:
            continue
        seen.add(id(item))
        item = adapt(item)
        if isinstance(item, Mapping):
            if _family_by_keys(item)[0] is None and classify(item) not in _OBJECT_KINDS:
                stack.extend((None, child) for child in item.values())  # no key exempts here
        elif isinstance(item, (list, tuple, AbstractSet)):
            stack.extend((None, child) for child in item)  # a list's numbers: IDs
        elif isinstance(item, (bytes, bytearray)):
            total += len(item)
    return total, found


def _children(
    value: Mapping[str, Any], path: tuple[Segment, ...], owner: Mapping[str, Any]
) -> Iterator[Step]:
    for key, child in value.items():
        if type(child) not in _JSON_SCALARS:
            yield child, (*path, str(key)), owner, frozenset()


def _author(
    value: Mapping[str, Any], path: tuple[Segment, ...], owner: Mapping[str, Any] | None
) -> str | None:
    """Who wrote a Tweet: its embedded user, its ``author_id``, or the user it is the status of."""
    for key in ("user", "author", "actor"):
        embedded = value.get(key)
        if isinstance(embedded, Mapping):
            return _own_id(embedded)
    for key in ("author_id", "from_user_id_str", "from_user_id"):
        found = value.get(key)
        if is_id(found) or _is_exact(found):
            return str(found)
    if owner is not None and path and path[-1] == "status" and owner is not value:
        return _own_id(owner)  # a v1.1 user's latest status
    return None


# Keys one of which a mapping needs to be an object or a DM; inside an object, a mapping with
# none is only part of it.
_INTERESTING: Final = _MAY_BE_SOMETHING | _DM_KEYS | _HANDLES | _TWEET_TEXT


# ---------------------------------------------------------------------------------------
# Reading once per export
# ---------------------------------------------------------------------------------------

# Readings of values an enforcement point copied and is deciding on now; nobody else holds
# those copies until the decision is made, so a reading cannot go stale.
_REMEMBERED: dict[tuple[str, int], tuple[Any, Any]] = {}


@contextlib.contextmanager
def remembered(value: Any, reading: IdCount | ObjectCount) -> Iterator[None]:
    """Let the rules reuse ``reading`` of ``value`` while it is decided on."""
    key = (type(reading).__name__, id(value))
    _REMEMBERED[key] = (value, reading)
    try:
        yield
    finally:
        _REMEMBERED.pop(key, None)


def recall(value: Any, what: type[IdCount | ObjectCount]) -> Any:
    """The remembered reading of ``value``, or a fresh one."""
    found = _REMEMBERED.get((what.__name__, id(value)))
    if found is not None and found[0] is value:
        return found[1]
    return count_ids(value) if what is IdCount else count_objects(value)

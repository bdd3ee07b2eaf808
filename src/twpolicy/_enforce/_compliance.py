"""Appliers: carry the compliance ledger's tombstones into the application's data (I.C.3).

An applier takes the ledger's `Snapshot` of everything that is gone and makes one target
(a JSON Lines dataset, a SQLite table, a mapping, anything a callback reaches) agree with it.
`apply_compliance` claims the events pending for the applier's target in the ledger (so two
workers never apply one event twice), applies, and records what changed, per event.

The JSON Lines applier rewrites the dataset into a temporary file beside it and replaces it
atomically; before the replacement the ledger is told the new file's digest, so after a crash
`recover` can tell whether the old or the new file is in place and finish or abandon the
attempt accordingly.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import itertools
import json
import operator
import os
import queue
import sqlite3
import threading
from collections.abc import (
    Callable,
    Container,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final, NamedTuple, Protocol

import attrs
import msgspec

from twpolicy._guard import Guard, get_default_guard
from twpolicy._model import Action, ActionKind
from twpolicy._payloads import _chunks
from twpolicy._payloads._batch import collector_paused
from twpolicy._payloads._chunks import Chunk, default_jobs, map_chunks, mapped, splittable
from twpolicy._payloads._compliance import ComplianceEvent
from twpolicy._payloads._fastids import FastIds, fast_ids
from twpolicy._payloads._fastpage import Item, Page, read_page
from twpolicy._payloads._ids import check_kind, ids_in
from twpolicy._payloads._walker import Kind, adapt, read_json, unique_keys, walk
from twpolicy._stores._compliance import ComplianceLedger, Snapshot, id_sets
from twpolicy._stores._time import utc
from twpolicy.exceptions import ConfigurationError, PayloadError

__all__ = [
    "Applier",
    "ApplyReport",
    "Attempt",
    "CallbackApplier",
    "ExportTombstones",
    "JsonLinesApplier",
    "MappingApplier",
    "SqliteTableApplier",
    "apply_compliance",
    "attempt_outcomes",
    "clean_record",
    "displayable",
]

_TWEETS: Final = frozenset({Kind.TWEET_V1, Kind.TWEET_V2, Kind.TWEET_FLAT, Kind.ACTIVITY})
_USERS: Final = frozenset({Kind.USER_V1, Kind.USER_V2, Kind.ACTOR})
_DMS: Final = frozenset({Kind.DM_V1, Kind.DM_EVENT_V1, Kind.DM_EVENT_V2})
#: The kinds of object cleaning acts on.
_CLEANED: Final = _TWEETS | _USERS | _DMS
_GZIP_MAGIC: Final = b"\x1f\x8b"
_BLOCK: Final = 1 << 20
#: A line this long is written on its own rather than joined into a block.
_LARGE: Final = 1 << 16
_DECODE: Final = msgspec.json.Decoder().decode
_ENCODE: Final = msgspec.json.Encoder().encode
#: A JSON escape of a digit (backslash, u0031) could spell an ID the digit search misses.
_ESCAPES: Final = (b"\\u003", b"\\U003")
#: How much of a dataset is read at a time.
_READ: Final = 8 << 20


def _escapes_digit(line: bytes) -> bool:
    """Whether ``line`` may escape a digit in JSON (or ``:`` to ``?``: found too, in C)."""
    return any(escape in line for escape in _ESCAPES)


#: Every byte but an ASCII digit becomes a space: what is left splits into the digit runs.
_DIGIT_RUNS: Final = bytes(byte if chr(byte) in "0123456789" else 0x20 for byte in range(256))


def _runs(data: bytes) -> list[str]:
    """The maximal runs of ASCII digits in ``data`` (latin-1: each run reads as itself)."""
    return data.translate(_DIGIT_RUNS).decode("latin-1").split()


#: Bytes of a dataset cleaned before the share of them in lines that hold an affected ID
#: decides which test comes first (`_Wanted.filter_first`).
_WARM: Final = 8 << 20


class _Wanted:
    """Every ID a snapshot acts on, and a quick test of whether a line may hold one.

    One set (one lookup per digit run), made with one copy of the snapshot's million
    deletions; a line's maximal runs of ASCII digits are looked up, cut in C by one
    `bytes.translate` and one split (a regular expression's ``findall`` took three times
    longer), read as latin-1 so each run reads as itself.

    Also what decides the order of the tests (`filter_first`): ``seen``, the bytes of the
    lines cleaned so far, and ``held``, those of the lines among them that held an affected
    ID (or, read by the fast cleaner first, changed).
    """

    def __init__(self, snapshot: Snapshot) -> None:
        deleted, others = id_sets(snapshot.tweets)
        self.ids: set[str] = set(deleted)
        self.ids.update(
            others, snapshot.users, snapshot.dms, snapshot.scrub_geo, snapshot.tweet_geo
        )
        self.seen = 0
        self.held = 0

    def filter_first(self) -> bool:
        """Whether to test a line's digits before the fast cleaner reads it.

        Either order writes the same bytes (a line the digit test clears is one the fast
        cleaner leaves as it is, or refuses for a key written twice and hands to the digit
        test); only the cost differs. The digit test costs about a third of what the fast
        cleaner's reading does (its facts and the check for keys written twice), which it
        saves on every line it clears: first while fewer than about two thirds of the bytes
        seen held an affected ID (and over the first few mebibytes), second otherwise.
        """
        return self.seen < _WARM or 3 * self.held < 2 * self.seen

    def __bool__(self) -> bool:
        return bool(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, value: str) -> None:
        """Want ``value`` too."""
        self.ids.add(value)

    def may_hold(self, line: bytes) -> bool:
        """Whether ``line`` may hold a wanted ID (no: it is copied unparsed)."""
        if _escapes_digit(line):
            return True
        return not self.ids.isdisjoint(_runs(line))


def _loads(data: bytes) -> Any:
    """Parse a line: msgspec's fast parser, the standard one for what it refuses.

    Raises:
        PayloadError: the line writes a key twice in an object (`read_json`).
        ValueError: not JSON.
    """
    try:
        value = _DECODE(data)
    except (msgspec.DecodeError, ValueError):
        return read_json(data)
    return unique_keys(data, value)


def _dumps(value: Any) -> bytes:
    """Serialise a cleaned record compactly, keeping non-ASCII text as UTF-8."""
    try:
        return _ENCODE(value)
    except (msgspec.EncodeError, TypeError, OverflowError):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@attrs.define
class Attempt:
    """One claimed application of events to a target, as an applier sees it.

    ``count`` events are claimed; their keys (`keys`) are read from the ledger only when an
    applier asks, as a dataset applier needs only the snapshot.
    """

    ledger: ComplianceLedger
    attempt_id: str
    target: str
    count: int
    _keys: list[str] | None = None

    @property
    def keys(self) -> list[str]:
        """The claimed events' keys, oldest first."""
        if self._keys is None:
            self._keys = self.ledger.claimed(self.attempt_id)
        return self._keys

    def events(self) -> list[ComplianceEvent]:
        """The claimed events."""
        return self.ledger.events(self.keys)

    def written(self, sha256: str, changed: Mapping[str, int]) -> None:
        """Say the new data is durable and about to replace the old (atomic appliers)."""
        self.ledger.written(self.attempt_id, sha256, changed)


class Applier(Protocol):
    """What `apply_compliance` needs: a stable target name and an ``apply`` method.

    ``apply`` makes the target agree with ``snapshot`` (every active tombstone, not only the
    claimed ones: applying is idempotent) and returns how many objects each event key changed.
    It may also define ``lock()`` (a context manager held around claim, apply and record) and
    ``recover(ledger)`` (settle attempts a crash left open).
    """

    @property
    def target(self) -> str: ...

    def apply(self, snapshot: Snapshot, attempt: Attempt) -> Mapping[str, int]:
        """Apply; return objects changed per event key."""
        ...


@attrs.frozen(kw_only=True)
class ApplyReport:
    """What one `apply_compliance` call did.

    Attributes:
        target: where it applied.
        attempt_id: the ledger's attempt, or ``None`` when nothing was pending.
        events: how many events it applied (recorded as applied to ``target``).
        changed: objects removed or modified, per event key, for the events claimed by this
            call that changed something (the others changed nothing).
        removed: objects removed in all.
        scrubbed: Tweets whose location was removed.
        records_read: records read (datasets).
        records_dropped: whole records dropped (datasets).
    """

    target: str
    attempt_id: str | None
    events: int
    changed: Mapping[str, int]
    removed: int = 0
    scrubbed: int = 0
    records_read: int = 0
    records_dropped: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "target": self.target,
            "attempt_id": self.attempt_id,
            "events": self.events,
            "removed": self.removed,
            "scrubbed": self.scrubbed,
            "records_read": self.records_read,
            "records_dropped": self.records_dropped,
            "changed": dict(self.changed),
        }


def apply_compliance(ledger: ComplianceLedger, applier: Applier) -> ApplyReport:
    """Apply the events pending for ``applier.target``, each once, and record the outcome.

    Raises whatever the applier raises; the attempt is then abandoned (its events stay
    pending) unless the applier already replaced the data, which `recover` settles.
    """
    lock = getattr(applier, "lock", None)
    with lock() if lock is not None else contextlib.nullcontext():
        recover = getattr(applier, "recover", None)
        if recover is not None:
            recover(ledger)
        claimed = ledger.claim_all(applier.target)
        force = bool(getattr(applier, "always", False))
        if claimed is None and not force:
            return ApplyReport(target=applier.target, attempt_id=None, events=0, changed={})
        if claimed is None:
            attempt = Attempt(ledger, ledger.begin(applier.target, []), applier.target, 0, [])
        else:
            attempt = Attempt(ledger, claimed[0], applier.target, claimed[1])
        attempt_id = attempt.attempt_id
        try:
            with collector_paused():  # a snapshot holds a million strings
                changed = applier.apply(ledger.snapshot(), attempt)
        except BaseException:
            if ledger.attempt_state(attempt_id) == "started":
                ledger.abandon(attempt_id)
            raise
        counts = {key: int(n) for key, n in changed.items() if int(n)}
        mine = {key: counts[key] for key in ledger.held(attempt_id, list(counts))}
        ledger.finish(attempt_id, mine)
        stats = getattr(applier, "last", None) or {}
        return ApplyReport(
            target=applier.target,
            attempt_id=attempt_id,
            events=attempt.count,
            changed=mine,
            removed=int(stats.get("removed", sum(changed.values()))),
            scrubbed=int(stats.get("scrubbed", 0)),
            records_read=int(stats.get("records_read", 0)),
            records_dropped=int(stats.get("records_dropped", 0)),
        )


# -- cleaning one record ------------------------------------------------------------------


def _id_of(value: Any) -> str | None:
    if type(value) is str:  # (most IDs: the test below, without its three isinstance)
        return value if value.isdecimal() else None
    if value is None:  # (most optional IDs: absent)
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.isdecimal():
        return value
    return None


def _author(value: Mapping[str, Any]) -> str | None:
    user = value.get("user") or value.get("author") or value.get("actor")
    if user is None:  # (most v2 Tweets: no author object)
        return _id_of(value.get("author_id"))
    if isinstance(user, Mapping):
        found = _id_of(user.get("id_str")) or _id_of(user.get("id"))
        if found is None and isinstance(user.get("id"), str):  # activity streams: id:123
            found = _id_of(user["id"].rpartition(":")[2])
        return found
    return _id_of(value.get("author_id"))


def _retweeted(value: Mapping[str, Any]) -> str | None:
    inner = value.get("retweeted_status")
    if inner is not None and isinstance(inner, Mapping):
        return _id_of(inner.get("id_str")) or _id_of(inner.get("id"))
    refs = value.get("referenced_tweets")
    if not isinstance(refs, list):  # (a number here was a TypeError)
        return None
    for ref in refs:
        if (type(ref) is dict or isinstance(ref, Mapping)) and ref.get("type") == "retweeted":
            return _id_of(ref.get("id"))
    return None


_V1_GEO: Final = ("geo", "coordinates", "place")


def _scrub(tweet: MutableMapping[str, Any], kind: Kind) -> bool:
    """Remove a Tweet's own location; whether anything was there."""
    found = False
    if kind is Kind.TWEET_V1:
        for key in _V1_GEO:
            if tweet.get(key) is not None:
                tweet[key] = None
                found = True
        return found
    for key in ("geo", "location"):
        if key in tweet:
            del tweet[key]
            found = True
    return found


def _inside(removed: set[tuple[Any, ...]]) -> Callable[[tuple[Any, ...]], bool]:
    """A test of whether a path lies strictly inside one of the ``removed`` paths.

    Only the prefixes as long as a removed path are looked up (on a page: one or none).
    """
    depths = sorted({len(path) for path in removed})

    def under(path: tuple[Any, ...]) -> bool:
        size = len(path)
        for depth in depths:
            if depth >= size:
                return False
            if path[:depth] in removed:
                return True
        return False

    return under


def _container(record: Any, path: tuple[Any, ...]) -> Any:
    value = record
    for segment in path:
        value = value[segment]
    return value


def _prune_includes(record: MutableMapping[str, Any]) -> int:
    """Drop places and media that no Tweet left in a v2 response refers to."""
    includes = record.get("includes")
    if not isinstance(includes, MutableMapping):
        return 0
    return _prune(includes, [node.value for node in walk(record) if node.kind in _TWEETS])


def _referenced(tweets: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, set[str]]]:
    """What of ``includes`` ``tweets`` refer to: list name -> (field, values of it)."""
    places: set[str] = set()
    media: set[str] = set()
    for tweet in tweets:
        geo = tweet.get("geo")
        if geo is not None and isinstance(geo, Mapping) and isinstance(geo.get("place_id"), str):
            places.add(geo["place_id"])
        attachments = tweet.get("attachments")
        if attachments is not None and isinstance(attachments, Mapping):
            media.update(k for k in attachments.get("media_keys") or () if isinstance(k, str))
    return {"places": ("id", places), "media": ("media_key", media)}


def _prune(includes: MutableMapping[str, Any], tweets: Iterable[Mapping[str, Any]]) -> int:
    """Drop the places and media of ``includes`` that none of ``tweets`` refers to."""
    dropped = 0
    for name, (field, keep) in _referenced(tweets).items():
        items = includes.get(name)
        if isinstance(items, msgspec.Raw):  # a page read by the fast reader
            items = _DECODE(items)
        if isinstance(items, list):
            kept = [i for i in items if not isinstance(i, Mapping) or i.get(field) in keep]
            dropped += len(items) - len(kept)
            includes[name] = kept
    return dropped


@attrs.define
class _Tally:
    changed: dict[str, int] = attrs.field(factory=dict)
    removed: int = 0
    scrubbed: int = 0
    withdrawn: list[tuple[str, str, str]] = attrs.field(factory=list)

    def hit(self, key: str) -> None:
        self.changed[key] = self.changed.get(key, 0) + 1


Removal = tuple[tuple[Any, ...], str, str, str]


def _find(
    items: list[Item], snapshot: Snapshot
) -> tuple[list[Removal], list[tuple[Item, str]], dict[str, str]]:
    """What is gone among ``items``: removals (path, key, type, ID), scrubs, gone Tweet IDs."""
    removals: list[Removal] = []
    scrubs: list[tuple[Item, str]] = []
    gone: dict[str, str] = {}
    for node in items:
        kind = node.kind
        if kind in _TWEETS:
            tid = node.oid
            author = _author(node.value)
            key = (tid is not None and snapshot.tweets.get(tid)) or (
                author is not None and snapshot.users.get(author)
            )
            if key:
                removals.append((node.full_path, key, "tweet", tid or ""))
                gone[tid or ""] = key
                continue
            scrub = snapshot.scrub_geo.get(author) if author else None
            if scrub is not None and tid and _covered(tid, scrub[0]):
                scrubs.append((node, scrub[1]))
            elif tid and tid in snapshot.tweet_geo:
                scrubs.append((node, snapshot.tweet_geo[tid]))
            continue
        index = snapshot.users if kind in _USERS else snapshot.dms if kind in _DMS else None
        if index is not None:
            oid = node.oid
            key = index.get(oid) if oid else None
            if key:
                removals.append(
                    (node.full_path, key, "user" if kind in _USERS else "dm", oid or "")
                )
    _cascade(items, gone, removals)
    return removals, scrubs, gone


def _covered(tid: str, limit: int | None) -> bool:
    """Whether a ``scrub_geo`` up to ``limit`` covers Tweet ``tid``.

    Fail closed: an ID that is no number, which cannot be compared, is covered (it was a
    `ValueError`).
    """
    if limit is None:
        return True
    try:
        return int(tid) <= limit
    except ValueError:
        return True


def _cascade(nodes: list[Item], gone: dict[str, str], removals: list[Removal]) -> None:
    """Retweets of removed Tweets go with them (X deletes them too), until nothing changes."""
    if not gone:
        return
    retweets = [
        (node, source)
        for node in nodes
        if node.kind in _TWEETS and (source := _retweeted(node.value)) is not None
    ]
    grew = True
    while grew:
        grew = False
        for node, source in retweets:
            if source in gone:
                tid = node.oid or ""
                if tid not in gone:
                    gone[tid] = gone[source]
                    removals.append((node.full_path, gone[source], "tweet", tid))
                    grew = True


def _drop_references(nodes: list[Item], gone: Mapping[str, str]) -> list[Item]:
    """Remove references to removed Tweets from the Tweets that stay (lists changed in place).

    A reference that is itself an embedded Tweet (twarc-flattened) goes here too; `_remove`
    finds it gone already, as it removes objects by identity. Returns the Tweets changed.
    """
    changed: list[Item] = []
    if not gone:
        return changed
    for node in nodes:
        if node.kind not in _TWEETS or node.doomed:
            continue
        value: Any = node.value
        refs = value.get("referenced_tweets")
        if isinstance(refs, list):
            kept = [
                r
                for r in refs
                if not (
                    (type(r) is dict or isinstance(r, Mapping))
                    and (_id_of(r.get("id")) or "") in gone
                )
            ]
            if len(kept) != len(refs):
                refs[:] = kept
                changed.append(node)
        quoted = _id_of(value.get("quoted_status_id_str")) or _id_of(value.get("quoted_status_id"))
        if quoted is not None and quoted in gone:
            for field in ("quoted_status_id", "quoted_status_id_str", "quoted_status_permalink"):
                value.pop(field, None)
            changed.append(node)
    return changed


def _count(tally: _Tally, snapshot: Snapshot, removal: Removal) -> None:
    _, key, target, oid = removal
    tally.hit(key)
    tally.removed += 1
    if key in snapshot.reversible:
        tally.withdrawn.append((key, target, oid))


def _outermost(removals: list[Removal], paths: set[tuple[Any, ...]]) -> list[Removal]:
    """The removals of objects that no other removed object holds."""
    under = _inside(paths)
    return [removal for removal in removals if not under(removal[0])]


def _plan(record: Any, removals: list[Removal]) -> list[tuple[Any, Any, Any]]:
    """The objects to remove, as (container, key or index, object).

    Resolved before anything changes, so that no index has moved.
    """
    plan = []
    for removal in removals:
        path = removal[0]
        parent = _container(record, path[:-1])
        plan.append((parent, path[-1], parent[path[-1]]))
    return plan


def _remove(plan: list[tuple[Any, Any, Any]]) -> None:
    """Remove the planned objects by identity, so earlier changes to a list do not matter."""
    doomed: dict[int, tuple[list[Any], set[int]]] = {}
    for parent, last, value in plan:
        if isinstance(parent, list):
            doomed.setdefault(id(parent), (parent, set()))[1].add(id(value))
        elif parent.get(last) is value:
            del parent[last]
    for items, ids in doomed.values():
        items[:] = [item for item in items if id(item) not in ids]


def clean_record(record: Any, snapshot: Snapshot, tally: _Tally | None = None) -> tuple[Any, bool]:
    """``record`` with what ``snapshot`` says is gone removed, and whether it changed.

    Returns ``(None, True)`` when the record as a whole must go (a deleted Tweet, a removed
    user's Tweet or profile, a retweet of a removed Tweet). Otherwise removes, anywhere in
    it, Tweets, users and DMs that are gone (in ``includes``, as quoted or retweeted
    statuses, as author objects), references to removed Tweets (``referenced_tweets``, a
    quoted status's ID), places and media left unreferenced, and the location of Tweets a
    ``scrub_geo`` covers. The record is modified in place.
    """
    tally = tally if tally is not None else _Tally()
    if not snapshot or not isinstance(record, (MutableMapping, list)):
        return record, False
    items = [
        Item(node.full_path, node.kind, node.value, node.value, node.read_id().value)
        for node in walk(record)
        if node.kind in _CLEANED
    ]
    cleaned, changed, _ = _clean(record, items, snapshot, tally)
    if cleaned is not None and changed and isinstance(record, MutableMapping):
        _prune_includes(record)
    return cleaned, changed


def _clean(
    record: Any,
    items: list[Item],
    snapshot: Snapshot,
    tally: _Tally,
    found: tuple[list[Removal], list[tuple[Item, str]], dict[str, str]] | None = None,
) -> tuple[Any, bool, list[Item]]:
    """Remove from ``record`` what is gone among its ``items``; scrub; drop references.

    Returns the record (``None``: it goes as a whole), whether it changed, and the items that
    stay but changed; marks the items removed (`Item.doomed`). Unreferenced places and media
    are the caller's to prune. ``found``: what `_find` found among ``items``, if known.
    ``record`` ``None``: the items are cleaned and counted, marked doomed or changed, and
    nothing else is done (the caller writes the record: `Page.splice`, `_remove_doomed`).
    """
    removals, scrubs, gone = _find(items, snapshot) if found is None else found
    paths = {removal[0] for removal in removals}
    if () in paths:
        for removal in removals:
            _count(tally, snapshot, removal)
        return None, True, []
    if paths:
        under = _inside(paths)
        for item in items:
            item.doomed = item.full_path in paths or under(item.full_path)
    outermost = _outermost(removals, paths)
    plan = [] if record is None else _plan(record, outermost)
    for removal in outermost:
        _count(tally, snapshot, removal)
    touched = _drop_references(items, gone)
    for item, key in scrubs:
        if item.doomed:
            continue
        if _scrub(item.value, item.kind):
            tally.hit(key)
            tally.scrubbed += 1
            touched.append(item)
    _remove(plan)
    return record, bool(touched or outermost), touched


def _may_find(ids: set[str], snapshot: Snapshot) -> bool:
    """Whether `_find` may find anything among objects whose own and authors' IDs are ``ids``.

    (A Tweet is removed or scrubbed by its own ID or its author's, a user by its own.)
    """
    deleted, others = id_sets(snapshot.tweets)
    return not (
        deleted.isdisjoint(ids)
        and others.isdisjoint(ids)
        and snapshot.users.keys().isdisjoint(ids)
        and snapshot.scrub_geo.keys().isdisjoint(ids)
        and snapshot.tweet_geo.keys().isdisjoint(ids)
    )


def _among(values: list[Any], *containers: Container[Any]) -> set[Any]:
    """Those of ``values`` that one of ``containers`` holds (looked up in C, not one by one)."""
    found: set[Any] = set()
    for container in containers:
        found.update(filter(container.__contains__, values))
    return found


def _where(values: list[Any], wanted: Any, *, same: bool = True) -> list[int]:
    """The indexes of those of ``values`` in the set ``wanted``, tested in C.

    ``same`` false: of those that are not the object ``wanted``.
    """
    if same:
        if not wanted:
            return []
        tests = map(wanted.__contains__, values)
    else:
        tests = map(operator.is_not, values, itertools.repeat(wanted))
    return list(itertools.compress(range(len(values)), tests))


def _author_ids(authors: list[Any]) -> list[Any]:
    """``author_id`` values as `_author` reads them (an integer as its digits)."""
    if set(map(type, authors)) <= {str}:
        return authors
    return [a if type(a) is str else str(a) if type(a) is int else None for a in authors]


_GET_ID: Final = operator.methodcaller("get", "id")
#: What stands for an element of ``referenced_tweets`` that is no object: no reference.
_NO_REFERENCE: Final = {"id": ""}


def _references(page: Page, group: int) -> tuple[set[int], list[int], list[str]]:
    """Which Tweet of a slot refers to which, as `_cascade` and `_drop_references` read it.

    Returns the Tweets that refer in a way not read further here (an embedded retweeted
    status, a ``referenced_tweets`` that is no list): they are built whatever they name;
    and, for every other reference (in ``referenced_tweets``, a quoted status's ID), the
    Tweet that makes it and the ID it names, as two lists (looked up in C). An ID that
    `_id_of` would not read is kept as it is spelled: it can only match more than the
    cleaner would, which builds a Tweet more, never one fewer.
    """
    unset = msgspec.UNSET
    always = set(_where(page.column(group, "retweeted_status"), unset, same=False))
    lists: list[list[Any]] = []
    makers: list[int] = []
    for n, listed in enumerate(page.column(group, "referenced_tweets")):
        if type(listed) is list:
            if listed:
                lists.append(listed)
                makers.append(n)
        elif listed is not unset and listed is not None:
            always.add(n)
    flat = list(itertools.chain.from_iterable(lists))
    owners = list(itertools.chain.from_iterable(map(itertools.repeat, makers, map(len, lists))))
    if not set(map(type, flat)) <= {dict}:  # (not a reference: read as none, as the cleaner)
        flat = [ref if type(ref) is dict else _NO_REFERENCE for ref in flat]
    named = list(map(_GET_ID, flat))
    for name in ("quoted_status_id", "quoted_status_id_str"):
        values = page.column(group, name)
        quoting = _where(values, unset, same=False)
        owners += quoting
        named += [values[n] for n in quoting]
    if not set(map(type, named)) <= {str}:  # (a number, as its digits; no ID, as "")
        named = [oid if type(oid) is str else _id_of(oid) or "" for oid in named]
    return always, owners, named


def _involved(page: Page, snapshot: Snapshot) -> list[list[int]] | None:
    """The objects of a page cleaning may remove or change, per slot read (their indexes).

    What `_find`, `_cascade` and `_drop_references` act on, decided from the decoded IDs by
    set lookups done in C, so that only those objects are built (`Page.pick`): a user whose
    own ID is removed; a Tweet whose own ID or author's is affected; then, until nothing is
    added, a Tweet that refers to one of the Tweets chosen (a retweet or a reference that
    may go with it). Every other object is left as it is by the cleaner, which therefore
    decides the same on the objects chosen as on all. ``None``: an ID is read otherwise
    than from a string ``id`` (every object is built).
    """
    deleted, others = id_sets(snapshot.tweets)
    users, scrub = snapshot.users.keys(), snapshot.scrub_geo.keys()
    single = snapshot.tweet_geo.keys()
    chosen: list[list[int]] = []
    tweets: list[tuple[int, list[str]]] = []
    named: set[str] = set()
    for group, kind in enumerate(page.kinds()):
        ids = page.plain_ids(group)
        if ids is None:  # pragma: no cover  # (`Page.ids` has read every one already)
            return None
        if kind in _USERS:
            chosen.append(_where(ids, _among(ids, users)))
            continue
        authors = _author_ids(page.column(group, "author_id"))
        hit = set(_where(ids, _among(ids, deleted, others, single)))
        hit.update(_where(authors, _among(authors, users, scrub)))
        chosen.append(sorted(hit))
        tweets.append((group, ids))
        named.update(ids[n] or "" for n in hit)
    if named:
        _follow(page, tweets, chosen, named)
    return chosen


def _follow(
    page: Page, tweets: list[tuple[int, list[str]]], chosen: list[list[int]], named: set[str]
) -> None:
    """Add to ``chosen`` the Tweets that refer to one ``named``, until none is added.

    (Where a Tweet with no readable ID is chosen, ``""`` is named, which every reference
    `_id_of` does not read matches: every Tweet that refers to anything is then chosen.)
    """
    groups = []
    for group, ids in tweets:
        always, owners, refs = _references(page, group)
        taken = set(chosen[group]) | always
        named.update(ids[n] or "" for n in always)
        groups.append((group, ids, owners, refs, taken))
    grew = True
    while grew:
        grew = False
        for _, ids, owners, refs, taken in groups:
            found = owners if "" in named else [owners[n] for n in _where(refs, named)]
            added = set(found) - taken
            if added:
                taken.update(added)
                named.update(ids[n] or "" for n in added)
                grew = True
    for group, _, _, _, taken in groups:
        chosen[group] = sorted(taken)


def _unbuilt(page: Page, chosen: list[list[int]]) -> list[dict[str, Any]]:
    """The places and media the Tweets left unbuilt refer to (their ``geo``, ``attachments``)."""
    unset = msgspec.UNSET
    found: list[dict[str, Any]] = []
    for group, kind in enumerate(page.kinds()):
        if kind not in _TWEETS:
            continue
        built = set(chosen[group])
        for n, (geo, attachments) in enumerate(
            zip(page.column(group, "geo"), page.column(group, "attachments"), strict=True)
        ):
            if n not in built and (geo is not unset or attachments is not unset):
                found.append({"geo": geo, "attachments": attachments})
    return found


def _clean_line(line: bytes, snapshot: Snapshot, tally: _Tally) -> tuple[bytes, bool] | None:
    """A v2 response line cleaned through the fast reader: the line and whether it changed.

    The same decisions as `clean_record` on the parsed line, made on the few fields the fast
    reader decodes (`twpolicy._payloads._fastpage`). A page where nothing is gone is decided
    without cutting it into objects and given back as it came; of one where something may
    be, only the objects that may change are built (`_involved`). One that changes is
    spliced (`Page.splice`: its own bytes less what goes, ending in a newline), or, where a
    single object changes, cut into objects and written again (no newline). ``None``: not a
    line the fast reader reads; `clean_record` must.
    """
    page = read_page(line, _CLEANED)
    if page is None:
        return None
    ids = page.ids()
    if ids is not None and not _may_find(ids, snapshot):
        return line, False  # no ID of the page is affected: `_find` would find nothing
    chosen = None if ids is None else _involved(page, snapshot)
    if chosen is None:
        # Users are removed by their own ID only: of them, only those gone are built.
        items = page.select(dict.fromkeys(_USERS, snapshot.users))
    else:
        items = page.pick(chosen)
    found = _find(items, snapshot)
    if not found[0] and not found[1]:
        return line, False  # nothing removed, nothing scrubbed, no reference to drop
    _, changed, touched = _clean(None, items, snapshot, tally, found)
    if not changed:
        return line, False
    tweets = [item.value for item in items if not item.doomed and item.kind in _TWEETS]
    if chosen is not None:
        tweets += _unbuilt(page, chosen)
    referenced = _referenced(tweets)
    # The line's own bytes, less what goes and with what changed written anew.
    spliced = page.splice(
        line, touched, {("includes", name): held for name, held in referenced.items()}
    )
    if spliced is not None:
        return spliced, True
    # A single object changed: the page is cut into objects and written whole.
    record = page.materialise(line)
    _remove(_plan(record, _outermost(found[0], {removal[0] for removal in found[0]})))
    for item in touched:
        item.write_back()
    includes = record.get("includes")
    if isinstance(includes, dict):
        _prune(includes, tweets)
    return _ENCODE(record), True  # msgspec writes whatever it read


# -- JSON Lines datasets ------------------------------------------------------------------


class _HashingWriter:
    """A binary file that hashes what is written to it, both done by a thread of its own.

    Hashing and writing release the GIL, so a block is hashed and written while the next is
    cleaned. `close` waits for the last block; `check` raises what the thread met.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        # Two blocks ahead at most: a chunk of --jobs is up to 64 MiB.
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="twpolicy-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._blocks.get()) is not None:
            if self._error is None:
                try:
                    self.digest.update(data)
                    self.raw.write(data)
                except BaseException as exc:  # noqa: BLE001  # raised by check, in the caller
                    self._error = exc

    def write(self, data: bytes) -> int:
        self.check()
        self._blocks.put(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to do until `close` (a gzip stream flushes as it closes)."""

    def close(self) -> None:
        """Wait until every block is hashed and written (or given up on)."""
        if self._thread.is_alive():
            self._blocks.put(None)
            self._thread.join()

    def check(self) -> None:
        """Raise what hashing or writing met."""
        if self._error is not None:
            raise self._error


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def _lines(read: Callable[[int], bytes]) -> Iterator[bytes]:
    """The lines of a stream (``read``) as iterating it gives them, read in large blocks.

    (A file object reads a line of a twarc2 page, 100 KiB or more, in many small pieces.)
    """
    rest = b""
    while block := read(_READ):
        data = rest + block if rest else block
        at = 0
        # Each line cut once, with its newline (splitting, then adding the newline back,
        # copied each line twice).
        while (end := data.find(b"\n", at) + 1) > 0:
            yield data[at:end]
            at = end
        rest = data[at:]
    if rest:
        yield rest


def _open_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as raw:
        gzipped = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if gzipped:
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield from _lines(unzipped.read)
        else:
            yield from _lines(raw.read)


class NotJsonLine(ValueError):
    """Line ``number`` (from 1) may hold an affected ID but is not JSON.

    ``why``: what is wrong with it when that is more than not being JSON (a key written
    twice), else ``None``.
    """

    def __init__(self, number: int, why: str | None = None) -> None:
        super().__init__(number)
        self.number = number
        self.why = why


def not_json(source: object, number: int, why: str | None = None) -> PayloadError:
    """The refusal of a dataset whose line ``number`` cannot be checked."""
    if why is not None:
        # A key written twice: each JSON reader keeps one of the two values, so what this
        # command removes and what a later reader keeps could differ.
        return PayloadError(
            f"{source} line {number} cannot be checked for deleted content: {why.rstrip('.')} "
            "(or remove the line), and run again (nothing was changed)"
        )
    return PayloadError(
        f"{source} line {number} is not JSON, so it cannot be checked for deleted content; "
        "fix or remove the line and run again (nothing was changed)"
    )


def _walk_line(
    line: bytes, number: int, snapshot: Snapshot, tally: _Tally
) -> tuple[bytes, bool] | None:
    """A line parsed whole and cleaned by `clean_record`; ``None``: it goes as a whole."""
    try:
        record = _loads(line)
    except PayloadError as exc:
        raise NotJsonLine(number, str(exc)) from None
    except ValueError:
        raise NotJsonLine(number) from None
    cleaned, changed = clean_record(record, snapshot, tally)
    return None if cleaned is None else (_dumps(cleaned), changed)


def clean_lines(
    lines: Iterable[bytes], write: Callable[[bytes], object], snapshot: Snapshot, tally: _Tally
) -> tuple[int, int]:
    """Write every line, cleaned; return the records read and dropped.

    The JSON Lines applier's one way to clean a dataset, whether one process reads it or
    many read its chunks (``twpolicy comply --jobs``). Lines are written in blocks of about
    a mebibyte: one write (and one hash update) per block, not per line.

    Raises:
        NotJsonLine: a line that may hold an affected ID is not JSON (numbered from 1).
    """
    wanted: list[_Wanted] = []  # made for the first line the fast cleaner does not read
    read = dropped = 0
    block: list[bytes] = []
    size = 0
    for number, line in enumerate(lines, start=1):
        out = line
        if not line.isspace():
            read += 1
            cleaned = _cleaned_line(line, number, snapshot, tally, wanted)
            if cleaned is None:
                dropped += 1
                continue
            out = cleaned if cleaned is not line or line.endswith(b"\n") else line + b"\n"
        if len(out) >= _LARGE:  # a large line (a page) goes out as it is, not copied again
            if block:
                write(b"".join(block))
                block, size = [], 0
            write(out)
            continue
        block.append(out)
        size += len(out)
        if size >= _BLOCK:
            write(b"".join(block))
            block, size = [], 0
    if block:
        write(b"".join(block))
    return read, dropped


def _tested(
    line: bytes, snapshot: Snapshot, tally: _Tally, test: _Wanted
) -> tuple[bytes, bool] | None:
    """``line`` cleaned by the fast reader, or copied unread; ``None``: to be walked.

    A line where no affected ID appears as digits (nor escaped) is copied unparsed: no
    reader can find anything gone in it, whichever copy of a key written twice it keeps,
    so neither its facts nor the check for keys written twice (more than half the cost of
    reading a page) are needed. The rest: a v2 page goes to the fast cleaner, which decides
    from its IDs; any other line is to be parsed whole and walked. Where most bytes hold an
    affected ID, a page goes to the fast cleaner first (`_Wanted.filter_first`): the same
    bytes result, for less.
    """
    size = len(line)
    test.seen += size
    if test.filter_first():
        if not test.may_hold(line):
            return line, False
        test.held += size
        return _clean_line(line, snapshot, tally)
    fast = _clean_line(line, snapshot, tally)
    if fast is None:
        if not test.may_hold(line):
            return line, False
        test.held += size
    elif fast[1]:
        test.held += size
    return fast


def _cleaned_line(
    line: bytes, number: int, snapshot: Snapshot, tally: _Tally, wanted: list[_Wanted]
) -> bytes | None:
    """What to write for ``line`` (``line`` itself: unchanged; ``None``: dropped).

    ``wanted``: the `_Wanted` of ``snapshot``, made for the first line (at most once).
    """
    if not snapshot:
        return line
    if not wanted:
        wanted.append(_Wanted(snapshot))
    fast = _tested(line, snapshot, tally, wanted[0])
    if fast is None:
        fast = _walk_line(line, number, snapshot, tally)
        if fast is None:
            return None
    if not fast[1]:
        return line
    return fast[0] if fast[0].endswith(b"\n") else fast[0] + b"\n"  # (spliced: it has one)


def clean_edits(
    data: bytes, snapshot: Snapshot, tally: _Tally, wanted: list[_Wanted] | None = None
) -> tuple[list[tuple[int, int, bytes]], int, int]:
    """`clean_lines` of ``data`` as edits ``(start, end, replacement)``, and the counts.

    Bytes ``start:end`` of ``data`` (whole lines) become ``replacement`` (``b""``: the line
    is dropped); the rest stays as it is (`splice`). A worker of ``jobs`` sends these back
    instead of the whole cleaned chunk, which the parent copies from the file itself.

    ``wanted``: as `_cleaned_line`'s, kept from chunk to chunk by a worker (``None``: made
    for this chunk).

    Raises:
        NotJsonLine: as `clean_lines`.
    """
    wanted = [] if wanted is None else wanted
    edits: list[tuple[int, int, bytes]] = []
    read = dropped = start = 0
    for number, line in enumerate(io.BytesIO(data), start=1):
        end = start + len(line)
        if not line.isspace():
            read += 1
            out = _cleaned_line(line, number, snapshot, tally, wanted)
            if out is None:
                dropped += 1
                edits.append((start, end, b""))
            elif out is not line:
                edits.append((start, end, out))
            elif not line.endswith(b"\n"):
                edits.append((start, end, line + b"\n"))
        start = end
    return edits, read, dropped


def splice(
    data: Any, start: int, end: int, edits: Iterable[tuple[int, int, bytes]]
) -> Iterator[bytes]:
    """Bytes ``start:end`` of ``data``, with ``edits`` (offsets from ``start``) made."""
    at = start
    for begin, stop, replacement in edits:
        if start + begin > at:
            yield data[at : start + begin]
        if replacement:
            yield replacement
        at = start + stop
    if end > at:
        yield data[at:end]


class _Cleaned(NamedTuple):
    """One chunk, cleaned, as edits (`clean_edits`); ``bad``: its first non-JSON line."""

    edits: list[tuple[int, int, bytes]]
    tally: _Tally
    read: int = 0
    dropped: int = 0
    bad: int | None = None
    why: str | None = None


#: The snapshot a worker process cleans with, sent once (`_receive`), not with every chunk.
_snapshot: list[Snapshot] = []
#: Its `_Wanted`, made once per worker (a copy of a million IDs), not once per chunk.
_wanted: list[_Wanted] = []


def _receive(snapshot: Snapshot) -> None:
    _snapshot[:] = [snapshot]
    _wanted.clear()


def _clean_chunk(chunk: Chunk) -> _Cleaned:
    """One chunk cleaned as the applier cleans (`clean_edits`), in a worker process."""
    tally = _Tally()
    try:
        edits, read, dropped = clean_edits(chunk.data, _snapshot[0], tally, _wanted)
    except NotJsonLine as exc:
        return _Cleaned([], _Tally(), bad=exc.number, why=exc.why)
    return _Cleaned(edits, tally, read, dropped)


def _add(tally: _Tally, other: _Tally) -> None:
    """A chunk's counts into the whole file's, in the file's order."""
    for key, count in other.changed.items():
        tally.changed[key] = tally.changed.get(key, 0) + count
    tally.removed += other.removed
    tally.scrubbed += other.scrubbed
    tally.withdrawn += other.withdrawn


class JsonLinesApplier:
    """A JSON Lines dataset (plain or gzip), rewritten atomically.

    Each line is one record: a Tweet, a user, a v2 response (``data`` and ``includes``), a
    twarc-flattened Tweet. Lines that `clean_record` drops are left out; changed lines are
    written again; untouched lines are copied byte for byte. A line holds an affected object
    only if an affected ID appears in it as digits (or it escapes a digit in JSON), so the
    others are copied without being parsed; a v2 response page that may hold one is decided
    from the IDs the fast page reader decodes in one pass (`_clean_line`). Where most of the
    bytes read so far held an affected ID, pages go to the fast reader before the digit
    test, which then sees only the lines it does not read (`_tested`: the same bytes).
    A line that holds an affected ID but is not JSON is refused (nothing is changed). The
    output keeps the input's compression. IDs of what a reversible event removed (protect,
    suspend, withheld, unavailable) are appended to ``<output>.withdrawn.jsonl`` (IDs only),
    so that the content can be fetched afresh once the event is reversed.

    A large plain (uncompressed) dataset can be cleaned by several processes (``jobs``): it
    is cut at line boundaries (`twpolicy._payloads._chunks`, as ``twpolicy comply --jobs``
    cuts it), each worker cleans its chunks with the same loop (`clean_lines`), and this
    process writes them in order into the one temporary file it hashes and renames, so the
    output, the ledger's record and the atomic replacement are those of one process. Only
    this process touches the ledger.

    Args:
        path: the dataset.
        out: where to write the result; ``None`` replaces ``path`` in place.
        jobs: processes cleaning a large plain dataset (``None``: every core this process
            may use); a gzip dataset, or one under 32 MiB, is cleaned by this process.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        out: str | os.PathLike[str] | None = None,
        jobs: int | None = 1,
    ) -> None:
        self.jobs = default_jobs() if jobs is None else jobs
        if self.jobs < 1:
            raise ConfigurationError(f"jobs={jobs!r}: give a number of processes, 1 or more")
        self.source = Path(path)
        self.output = Path(out) if out is not None else self.source
        if not self.source.is_file():
            raise ConfigurationError(f"dataset {self.source} does not exist or is not a file")
        self.target = f"file:{self.output.resolve()}"
        self.always = out is not None and self.output.resolve() != self.source.resolve()
        self.last: dict[str, int] = {}

    def __repr__(self) -> str:
        return (
            f"twpolicy.JsonLinesApplier({str(self.source)!r}, out={str(self.output)!r},"
            f" jobs={self.jobs})"
        )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on the output while claiming, applying and recording."""
        lock_path = self.output.with_name(f".{self.output.name}.twpolicy-lock")
        with lock_path.open("a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _temp(self, attempt_id: str) -> Path:
        return self.output.with_name(f".{self.output.name}.{attempt_id}.tmp")

    def recover(self, ledger: ComplianceLedger) -> list[tuple[str, str]]:
        """Settle attempts a crash left open: ``(attempt ID, "applied" | "abandoned")``.

        An attempt marked written whose digest is the output's current digest replaced the
        file before it died: it is finished. Any other open attempt left the old file.
        """
        settled = []
        current: str | None = None
        for attempt_id, _, state, digest in ledger.open_attempts(self.target):
            if state == "written" and digest is not None:
                current = current or _sha256(self.output)
                if current == digest:
                    ledger.finish(attempt_id)
                    settled.append((attempt_id, "applied"))
                    continue
            ledger.abandon(attempt_id)
            self._temp(attempt_id).unlink(missing_ok=True)
            settled.append((attempt_id, "abandoned"))
        return settled

    def _rewrite(self, sink: Any, snapshot: Snapshot, tally: _Tally) -> tuple[int, int]:
        """Write every line, cleaned (`clean_lines`); return the records read and dropped."""
        if self.jobs > 1 and splittable(str(self.source)) >= 2 * _chunks.MIN_CHUNK:
            return self._rewrite_chunks(sink, snapshot, tally)
        try:
            return clean_lines(_open_lines(self.source), sink.write, snapshot, tally)
        except NotJsonLine as exc:
            raise not_json(self.source, exc.number, exc.why) from None

    def _rewrite_chunks(self, sink: Any, snapshot: Snapshot, tally: _Tally) -> tuple[int, int]:
        """`_rewrite` by ``jobs`` processes, each cleaning chunks of the file."""
        read = dropped = start = 0
        block: list[bytes] = []
        size = 0
        # Workers send back only the lines that change; the rest is copied from the file.
        with mapped(str(self.source)) as source:
            for part in map_chunks(
                str(self.source),
                self.jobs,
                _clean_chunk,
                max_chunk=_chunks.MAX_CHUNK,
                initializer=_receive,
                initargs=(snapshot,),
            ):
                cleaned = part.result
                if cleaned.bad is not None:
                    raise not_json(self.source, cleaned.bad + part.lines, cleaned.why)
                for piece in splice(source, start, part.end, cleaned.edits):
                    block.append(piece)
                    size += len(piece)
                    if size >= _BLOCK:  # (a long run of unchanged lines goes out as it is)
                        sink.write(b"".join(block) if len(block) > 1 else piece)
                        block, size = [], 0
                start = part.end
                _add(tally, cleaned.tally)
                read += cleaned.read
                dropped += cleaned.dropped
        if block:
            sink.write(b"".join(block))
        return read, dropped

    def apply(self, snapshot: Snapshot, attempt: Attempt) -> Mapping[str, int]:
        """Rewrite the dataset without what ``snapshot`` says is gone; replace it atomically."""
        tally = _Tally()
        with self.source.open("rb") as probe:
            gzipped = probe.read(2) == _GZIP_MAGIC
        temp = self._temp(attempt.attempt_id)
        mode = self.source.stat().st_mode & 0o777
        try:
            with temp.open("xb") as raw:
                hashing = _HashingWriter(raw)
                try:
                    sink: Any = (
                        gzip.GzipFile(fileobj=hashing, mode="wb", mtime=0) if gzipped else hashing
                    )
                    read, dropped = self._rewrite(sink, snapshot, tally)
                    if gzipped:
                        sink.close()
                finally:
                    hashing.close()
                hashing.check()
                raw.flush()
                os.fsync(raw.fileno())
            temp.chmod(mode)
            attempt.written(hashing.digest.hexdigest(), tally.changed)
            temp.replace(self.output)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        directory = os.open(self.output.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        if tally.withdrawn:
            withdrawn = self.output.with_name(f"{self.output.name}.withdrawn.jsonl")
            with withdrawn.open("a", encoding="utf-8") as handle:
                for key, target, oid in tally.withdrawn:
                    handle.write(json.dumps({"event": key, "type": target, "id": oid}) + "\n")
        self.last = {
            "removed": tally.removed,
            "scrubbed": tally.scrubbed,
            "records_read": read,
            "records_dropped": dropped,
        }
        return tally.changed


def attempt_outcomes(ledger: ComplianceLedger) -> list[dict[str, str]]:
    """Open (interrupted) attempts, and which data a file target holds: old, new or unknown.

    A dataset attempt marked written holds the new file's digest: if the file has it, the
    new data is in place (the next apply records the attempt as applied), else the old.
    """
    found = []
    for attempt_id, target, state, digest in ledger.open_attempts():
        in_place = "unknown"
        if target.startswith("file:"):
            if state == "written" and digest is not None:
                in_place = "new" if _sha256(Path(target[5:])) == digest else "old"
            else:
                in_place = "old"
        found.append(
            {"attempt_id": attempt_id, "target": target, "state": state, "in_place": in_place}
        )
    return found


# -- ID-only exports -------------------------------------------------------------------------


class ExportTombstones:
    """Leaves out of an ID-only export what the compliance ledger says is gone (I.C.3).

    No deleted, protected, suspended, withheld or unavailable Tweet, user or DM ID is
    distributed: a record that may hold one (an affected ID appears in its bytes) is parsed
    and cleaned as `clean_record` cleans it for a dataset (so a protected user's Tweets and
    retweets of deleted Tweets go too), and its remaining IDs are read from what is left.
    Other records are read as before, unparsed by this filter. ``dropped`` holds the IDs left
    out.

    Args:
        snapshot: the ledger's `Snapshot` (`ComplianceLedger.snapshot`).
        kind: ``"tweets"``, ``"users"`` or ``"dms"``: the IDs exported.
    """

    def __init__(self, snapshot: Snapshot, kind: str) -> None:
        self.kind = check_kind(kind)
        # Location scrubs change no ID: they are not needed to decide what is gone.
        self.snapshot = attrs.evolve(snapshot, scrub_geo={}, tweet_geo={})
        index = {"tweets": snapshot.tweets, "users": snapshot.users, "dms": snapshot.dms}
        self.gone: Mapping[str, str] = index[self.kind]
        self._wanted = _Wanted(self.snapshot)
        self.dropped: set[str] = set()

    @classmethod
    def from_ledger(cls, ledger: ComplianceLedger, kind: str) -> ExportTombstones:
        """The filter for ``ledger``'s active tombstones, read once."""
        return cls(ledger.snapshot(), kind)

    def __repr__(self) -> str:
        return f"<twpolicy.ExportTombstones {self.kind}: {len(self._wanted)} gone>"

    def ids(self, ids: Iterable[str]) -> list[str]:
        """``ids`` without those gone by ID (a plain list of IDs: no record to read authors)."""
        kept = []
        for value in ids:
            if value in self.gone:
                self.dropped.add(value)
            else:
                kept.append(value)
        return kept

    def loads(self, parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
        """Wrap a record parser: a record that holds something gone gives its kept IDs.

        The IDs come as the fast ID path gives them (`twpolicy._payloads._fastids.parser`).
        A record that may hold something gone has its IDs read by that same fast path
        before and after cleaning where it can (the walker reads the same IDs, slower), and
        one that cleaning left as it was keeps them all.
        """
        if not self._wanted:
            return parse

        def parse_kept(data: bytes) -> Any:
            if not self._wanted.may_hold(data):
                return parse(data)
            fast = fast_ids(data, self.kind)
            try:
                page = None if fast is None else _clean_line(data, self.snapshot, _Tally())
                if page is not None and fast is not None:
                    # A page the fast reader cleaned: its IDs before and after, both read
                    # by the fast ID path where it can.
                    before = fast
                    after = set(before) if not page[1] else set(self._line_ids(page[0]))
                else:
                    record = read_json(data)  # refuses a key written twice
                    before = list(ids_in(record, self.kind)) if fast is None else fast
                    cleaned, changed = clean_record(record, self.snapshot)
                    after = (
                        set()
                        if cleaned is None
                        else set(before)
                        if not changed
                        else set(self._ids(cleaned, fast is not None))
                    )
            except PayloadError:
                # the reader reports the bad ID (or the key written twice) as it would have
                return read_json(data)
            kept = []
            for value in before:
                if value in after and value not in self.gone and value not in self.dropped:
                    kept.append(value)
                else:
                    # Left out here, so left out of later records too (a retweet that names
                    # a protected user's Tweet without its author).
                    self.dropped.add(value)
                    self._wanted.add(value)
            return FastIds(kept)

        return parse_kept

    def _line_ids(self, line: bytes) -> list[str]:
        """A cleaned line's IDs: by the fast path, else walked."""
        fast = fast_ids(line, self.kind)
        return list(ids_in(json.loads(line), self.kind)) if fast is None else fast

    def _ids(self, cleaned: Any, page: bool) -> list[str]:  # noqa: FBT001  # private
        """A cleaned record's IDs: a v2 page's written out and read by the fast path."""
        fast = fast_ids(_dumps(cleaned), self.kind) if page else None
        return list(ids_in(cleaned, self.kind)) if fast is None else fast


# -- other targets ------------------------------------------------------------------------


class MappingApplier:
    """A mutable mapping of stored objects (ID -> Tweet, user or response), cleaned in place.

    Args:
        store: the mapping (a dict, a shelve, a cache client with the mapping protocol).
        target: a stable name for the ledger (``"cache:tweets"``).
    """

    def __init__(self, store: MutableMapping[str, Any], *, target: str) -> None:
        self.store = store
        self.target = target
        self.last: dict[str, int] = {}

    def apply(self, snapshot: Snapshot, attempt: Attempt) -> Mapping[str, int]:  # noqa: ARG002  # protocol
        """Drop or rewrite every value that holds something gone."""
        tally = _Tally()
        dropped = 0
        for name in list(self.store):
            cleaned, changed = clean_record(self.store[name], snapshot, tally)
            if cleaned is None:
                del self.store[name]
                dropped += 1
            elif changed:
                self.store[name] = cleaned
        self.last = {
            "removed": tally.removed,
            "scrubbed": tally.scrubbed,
            "records_read": 0,
            "records_dropped": dropped,
        }
        return tally.changed


_IDENTIFIER: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _name(value: str, what: str) -> str:
    if not value or not set(value) <= _IDENTIFIER or value[0].isdigit():
        raise ConfigurationError(f"{what} {value!r} must be a plain SQL identifier")
    return value


class SqliteTableApplier:
    """A table in a SQLite file: rows of removed Tweets deleted, scrubbed rows' location nulled.

    Args:
        path: the SQLite file.
        table: the table.
        id_column: the column holding the Tweet ID (or user ID, with ``user_table=True``).
        author_column: the column holding the Tweet's author's user ID, if any.
        geo_columns: columns holding the Tweet's location, set to NULL by ``scrub_geo``.
        user_table: the rows are users, not Tweets.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str,
        id_column: str = "id",
        author_column: str | None = None,
        geo_columns: Sequence[str] = (),
        user_table: bool = False,
    ) -> None:
        self.path = Path(path)
        self.table = _name(table, "table")
        self.id_column = _name(id_column, "column")
        self.author_column = None if author_column is None else _name(author_column, "column")
        self.geo_columns = tuple(_name(c, "column") for c in geo_columns)
        self.user_table = user_table
        self.target = f"sqlite:{self.path.resolve()}#{table}"
        self.last: dict[str, int] = {}

    def apply(self, snapshot: Snapshot, attempt: Attempt) -> Mapping[str, int]:  # noqa: ARG002, C901, PLR0912  # protocol; one transaction, read top to bottom
        """Delete and update in one SQLite transaction."""
        changed: dict[str, int] = {}
        scrubbed = 0
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            table, idc = self.table, self.id_column
            deletes: list[tuple[str, Mapping[str, str]]] = []
            if self.user_table:
                deletes.append((idc, snapshot.users))
            else:
                deletes.append((idc, snapshot.tweets))
                if self.author_column is not None:
                    deletes.append((self.author_column, snapshot.users))
            for column, index in deletes:
                for oid, key in index.items():
                    cursor.execute(f"DELETE FROM {table} WHERE CAST({column} AS TEXT) = ?", (oid,))  # noqa: S608  # checked identifiers
                    if cursor.rowcount > 0:
                        changed[key] = changed.get(key, 0) + cursor.rowcount
            if self.geo_columns and not self.user_table:
                nulls = ", ".join(f"{c} = NULL" for c in self.geo_columns)
                if self.author_column is not None:
                    for uid, (limit, key) in snapshot.scrub_geo.items():
                        cursor.execute(
                            f"UPDATE {table} SET {nulls} WHERE CAST({self.author_column} AS TEXT)"  # noqa: S608  # checked identifiers
                            f" = ? AND (? IS NULL OR CAST({idc} AS INTEGER) <= ?)",
                            (uid, limit, limit),
                        )
                        if cursor.rowcount > 0:
                            changed[key] = changed.get(key, 0) + cursor.rowcount
                            scrubbed += cursor.rowcount
                for tid, key in snapshot.tweet_geo.items():
                    cursor.execute(
                        f"UPDATE {table} SET {nulls} WHERE CAST({idc} AS TEXT) = ?",  # noqa: S608  # checked identifiers
                        (tid,),
                    )
                    if cursor.rowcount > 0:
                        changed[key] = changed.get(key, 0) + cursor.rowcount
                        scrubbed += cursor.rowcount
            cursor.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise
        finally:
            connection.close()
        self.last = {"removed": sum(changed.values()) - scrubbed, "scrubbed": scrubbed}
        return changed


class CallbackApplier:
    """Anything else: a callback called once per claimed event, returning objects changed.

    Args:
        callback: ``callback(event) -> int``; raising leaves the events pending.
        target: a stable name for the ledger (``"search-index"``).
    """

    def __init__(self, callback: Callable[[ComplianceEvent], int], *, target: str) -> None:
        self.callback = callback
        self.target = target

    def apply(self, snapshot: Snapshot, attempt: Attempt) -> Mapping[str, int]:  # noqa: ARG002  # protocol
        """Call back for each claimed event."""
        return {event.key: int(self.callback(event)) for event in attempt.events()}


# -- the display point --------------------------------------------------------------------


def displayable(
    payload: Any,
    *,
    fetched_at: datetime,
    guard: Guard | None = None,
    country: str | None = None,
    operation: str = "display",
) -> Any:
    """Return ``payload`` if it may be shown to end users now; refuse otherwise (I.C.4).

    Content may be shown only as the current version fetched from the API: ``fetched_at``
    must be recent (``compliance.display``), and nothing in it may be deleted, protected,
    suspended, withheld in ``country`` or otherwise gone by the guard's compliance ledger
    (``compliance.tombstone``); content whose removal was reversed must have been fetched
    after the reversal.

    Raises:
        ContentUnavailable: the content may not be shown; the message says why and what to do.
    """
    when = utc(fetched_at)
    value = adapt(payload)
    action = Action(
        kind=ActionKind.DISPLAY,
        operation=operation,
        count=1,
        facts={"fetched_at": when.isoformat(), "country": country},
        payload=value,
    )
    with (guard or get_default_guard()).permit(action):
        pass
    return payload

"""The compliance ledger: every deletion-type event recorded once, with its 24-hour clock.

Developer Policy I.C.3 asks that content deleted, protected, suspended, withheld, modified or
stripped of its location on X be deleted or modified in the application's data "as soon as
reasonably possible, and in any case within 24 hours after a request". The ledger records each
event once (a stream's backfill, a repeated batch job and a lookup error may all say the same
thing), when it arrived and its deadline, and where it was applied and how much that changed.
A later event that undoes an earlier one (unprotect after protect) marks it reversed.

Appliers (twpolicy's dataset, SQLite table, mapping and callback appliers, or your own) apply
through *attempts*: an attempt names its target, is marked written (with the digest of the
new data) before the new data replaces the old, and finished after; so a process killed half
way leaves a record that says whether the old or the new data is in place.

Kept in ``memory://`` (an in-process SQLite database), a SQLite file or PostgreSQL, on the same
plumbing as the consent and quota ledgers.
"""

from __future__ import annotations

import json
import sqlite3
import typing
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import attrs

from twpolicy._payloads._compliance import ComplianceEvent, ComplianceEventType, Source
from twpolicy._stores._sql import (
    Database,
    Migration,
    Schema,
    StoreURL,
    Transaction,
    _SqliteDatabase,
    open_database,
    parse_url,
)
from twpolicy._stores._time import utc, utcnow
from twpolicy.exceptions import StoreUnavailable

__all__ = [
    "DEADLINE",
    "AppliedRecord",
    "ComplianceLedger",
    "EventStatus",
    "RecordResult",
    "Snapshot",
    "Tombstone",
    "id_sets",
    "open_compliance",
]

#: I.C.3: at most 24 hours from the request to the deletion or modification.
DEADLINE: Final = timedelta(hours=24)

_REMOVING = tuple(t.value for t in ComplianceEventType if t.removes)
_SCRUBS = (ComplianceEventType.SCRUB_GEO.value, ComplianceEventType.TWEET_SCRUB_GEO.value)
_ACTIONABLE = (*_REMOVING, *_SCRUBS)
_CHUNK = 500


def _iso(value: datetime) -> str:
    return utc(value).isoformat(timespec="microseconds")


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@attrs.frozen(kw_only=True)
class RecordResult:
    """What `ComplianceLedger.record` did: events new to the ledger, and repeats ignored."""

    new: int
    duplicates: int
    reversed: int = 0


@attrs.frozen(kw_only=True)
class Tombstone:
    """Content the ledger knows is gone (or was gone, if ``reversed_at`` is set).

    Attributes:
        target: ``"tweet"``, ``"user"`` or ``"dm"``.
        object_id: its ID.
        type: the event that removed it.
        key: that event's ledger key.
        arrived_at: when the ledger learnt of it.
        reversed_at: when a later event (unprotect, a fresh successful fetch) undid it; the
            content is eligible again only in a copy fetched after that time.
        countries: for a withholding, where it is withheld.
    """

    target: str
    object_id: str
    type: ComplianceEventType
    key: str
    arrived_at: datetime
    reversed_at: datetime | None = None
    countries: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class AppliedRecord:
    """Where an event was applied, and how many objects that changed."""

    target: str
    changed: int
    applied_at: datetime


@attrs.frozen(kw_only=True)
class EventStatus:
    """One event as the ledger holds it, with its 24-hour clock at ``now``.

    ``state`` is ``"pending"``, ``"applied"`` or ``"reversed"``; ``overdue`` is a pending
    event past its deadline.
    """

    event: ComplianceEvent
    key: str
    arrived_at: datetime
    deadline: datetime
    state: str
    applied: tuple[AppliedRecord, ...]
    reversed_at: datetime | None
    now: datetime

    @property
    def age(self) -> timedelta:
        """How long ago the event arrived."""
        return self.now - self.arrived_at

    @property
    def overdue(self) -> bool:
        """A pending event whose 24 hours have passed: a breach of I.C.3 to report."""
        return self.state == "pending" and self.now > self.deadline


class _Deleted(Mapping[str, str]):
    """Tweet ID -> key for a snapshot: deletions held as a set of IDs, others as a dict.

    A deletion's key is ``tweet_delete:<ID>`` (deletions are terminal: their key holds no
    time), so a million of them are kept as the IDs alone.
    """

    __slots__ = ("_ids", "_others")

    def __init__(self, ids: set[str], others: dict[str, str]) -> None:
        self._ids = ids
        self._others = others

    def __getitem__(self, key: str) -> str:
        if key in self._ids:
            return f"{ComplianceEventType.TWEET_DELETE.value}:{key}"
        return self._others[key]

    def get(self, key: str, default: Any = None) -> Any:
        """The key of the event that removes ``key``, else ``default`` (no Python lookups)."""
        if key in self._ids:
            return f"{ComplianceEventType.TWEET_DELETE.value}:{key}"
        return self._others.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._ids or key in self._others

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids.union(self._others))

    def __len__(self) -> int:
        return len(self._ids.union(self._others))

    def __bool__(self) -> bool:
        return bool(self._ids or self._others)

    def parts(self) -> tuple[AbstractSet[str], Mapping[str, str]]:
        """The deleted IDs and the other removals, as held (not copied: a million IDs)."""
        return self._ids, self._others


def id_sets(index: Mapping[str, Any]) -> tuple[AbstractSet[str], AbstractSet[str]]:
    """The IDs of a snapshot's ``index``: the large set of deletions as it is, and the rest."""
    if isinstance(index, _Deleted):
        return index.parts()[0], index.parts()[1].keys()
    return frozenset(), index.keys()


@attrs.frozen(kw_only=True)
class Snapshot:
    """Every active tombstone, indexed the way an applier walks a dataset.

    Attributes:
        tweets: Tweet ID -> key of the event that removes it.
        users: user ID -> key of the event that removes the user and their content.
        dms: DM ID -> key.
        scrub_geo: user ID -> (newest Tweet ID to lose its location, or ``None`` for all;
            key).
        tweet_geo: Tweet ID -> key, for Tweets that lose their location alone.
        reversible: keys of events whose removal may be undone later (protect, suspend,
            withheld, unavailable), so appliers keep an ID-only record of what they removed.
    """

    tweets: Mapping[str, str]
    users: Mapping[str, str]
    dms: Mapping[str, str]
    scrub_geo: Mapping[str, tuple[int | None, str]]
    tweet_geo: Mapping[str, str]
    reversible: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.tweets or self.users or self.dms or self.scrub_geo or self.tweet_geo)


_TABLES = (
    (
        "CREATE TABLE twpolicy_compliance_events ("
        " key TEXT PRIMARY KEY, type TEXT NOT NULL, object_id TEXT NOT NULL, user_id TEXT,"
        " up_to TEXT, countries TEXT NOT NULL, reason TEXT, source TEXT NOT NULL,"
        " event_at TEXT, arrived_at TEXT NOT NULL, deadline TEXT NOT NULL,"
        " reversed_by TEXT, reversed_at TEXT)"
    ),
    "CREATE INDEX twpolicy_compliance_events_object ON twpolicy_compliance_events (object_id)",
    (
        "CREATE TABLE twpolicy_compliance_attempts ("
        " attempt_id TEXT PRIMARY KEY, target TEXT NOT NULL, state TEXT NOT NULL,"
        " keys TEXT NOT NULL, started_at TEXT NOT NULL, sha256 TEXT, changed TEXT,"
        " finished_at TEXT)"
    ),
    (
        "CREATE TABLE twpolicy_compliance_applied ("
        " key TEXT NOT NULL, target TEXT NOT NULL, attempt_id TEXT NOT NULL,"
        " changed BIGINT NOT NULL, applied_at TEXT NOT NULL, PRIMARY KEY (key, target))"
    ),
)
# Version 2: events get a sequence number in arrival order, and an attempt that claims every
# pending event claims them as ranges of it (one row, however many events), not key by key.
_RANGES = (
    "ALTER TABLE twpolicy_compliance_events ADD COLUMN seq BIGINT",
    "CREATE INDEX twpolicy_compliance_events_seq ON twpolicy_compliance_events (seq)",
    "CREATE INDEX twpolicy_compliance_events_type ON twpolicy_compliance_events (type)",
    (
        "CREATE TABLE twpolicy_compliance_ranges ("
        " attempt_id TEXT NOT NULL, low BIGINT NOT NULL, high BIGINT NOT NULL)"
    ),
    "CREATE INDEX twpolicy_compliance_ranges_attempt ON twpolicy_compliance_ranges (attempt_id)",
)
#: The compliance ledger's tables, version by version.
SCHEMA = Schema(
    component="compliance",
    what="compliance ledger",
    migrations=(
        Migration(sqlite=_TABLES, postgresql=_TABLES),
        Migration(
            sqlite=(*_RANGES, "UPDATE twpolicy_compliance_events SET seq = rowid"),
            postgresql=(
                *_RANGES,
                (
                    "UPDATE twpolicy_compliance_events SET seq = t.n FROM (SELECT key,"
                    " ROW_NUMBER() OVER (ORDER BY arrived_at, key) AS n FROM"
                    " twpolicy_compliance_events) t WHERE twpolicy_compliance_events.key = t.key"
                ),
            ),
        ),
    ),
)
_LIVE = "('started', 'written', 'done')"
_DONE = "('done')"
# An event is covered by a range of one of the target's attempts in the given states.
_IN_RANGE = (
    "EXISTS (SELECT 1 FROM twpolicy_compliance_ranges r JOIN twpolicy_compliance_attempts t"
    " ON t.attempt_id = r.attempt_id WHERE t.target = ? AND t.state IN {states}"
    " AND e.seq > r.low AND e.seq <= r.high)"
)
# An event has a row of its own for the target (claimed or applied key by key).
_KEYED = (
    "EXISTS (SELECT 1 FROM twpolicy_compliance_applied a WHERE a.key = e.key"
    " AND a.target = ?{extra})"
)


def _lock(tx: Transaction) -> None:
    """Serialise sequence numbers and claims (SQLite's write transactions already are)."""
    if tx.dialect == "postgresql":
        tx.execute("LOCK TABLE twpolicy_compliance_events IN SHARE ROW EXCLUSIVE MODE")


_COLUMNS = (
    "key, type, object_id, user_id, up_to, countries, reason, source, event_at, arrived_at,"
    " deadline, reversed_by, reversed_at"
)


def _scan(tx: Transaction, column: str) -> str:
    """``column`` in a condition that SQLite must check row by row in a scan of the table.

    (Read through an index, a condition met by most of a million rows costs a lookup per
    row: several times a scan. PostgreSQL's planner decides for itself.)
    """
    return f"+{column}" if tx.dialect == "sqlite" else column


def _in(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _gaps(live: Sequence[tuple[int, int]], high: int) -> list[tuple[int, int]]:
    """The parts of ``(0, high]`` that no range of ``live`` (sorted by low) covers."""
    gaps = []
    cursor = 0
    for low, top in live:
        if low > cursor:
            gaps.append((cursor, min(low, high)))
        cursor = max(cursor, top)
    if cursor < high:
        gaps.append((cursor, high))
    return [(low, top) for low, top in gaps if top > low]


def _event(row: Sequence[Any]) -> ComplianceEvent:
    try:
        return ComplianceEvent(
            type=row[1],
            object_id=row[2],
            user_id=row[3],
            up_to_tweet_id=row[4],
            countries=tuple(json.loads(row[5])),
            reason=row[6],
            source=Source(row[7]),
            event_at=_when(row[8]),
        )
    except (TypeError, ValueError) as exc:
        raise StoreUnavailable(
            f"the compliance ledger's record of event {row[0]!r} is damaged ({exc}); restore "
            "the ledger from a backup. Nothing was decided."
        ) from None


class _MemoryDatabase(_SqliteDatabase):
    """``memory://``: the same tables in an SQLite database private to this process."""

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)


@typing.final
class ComplianceLedger:
    """Compliance events, their deadlines and where they were applied, over one database.

    Open one with `twpolicy.open_compliance`; give it to ``Guard(compliance=...)`` so the
    compliance rules refuse storing, exporting or displaying content that is gone.

    Args:
        database: where the ledger lives.
        clock: returns the current, timezone-aware time when a call gives no ``at``.
    """

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._clock = clock

    def __repr__(self) -> str:
        return f"twpolicy.ComplianceLedger({self.url!r})"

    def __enter__(self) -> ComplianceLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Where the ledger is kept."""
        return self._db.url.display

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def now(self) -> datetime:
        """The ledger's current time."""
        return utc(self._clock())

    # -- recording ---------------------------------------------------------------------

    def record(
        self, events: Iterable[ComplianceEvent], *, at: datetime | None = None
    ) -> RecordResult:
        """Record events, each once; repeats (backfill, a second job) change nothing.

        An event's 24 hours run from ``at`` (default: now), its arrival. A reversing event
        (unprotect, unsuspend, undelete, undrop) marks the removals it undoes as reversed,
        whichever of the two arrived first.
        """
        arrived = utc(at or self._clock())
        rows: dict[str, tuple[Any, ...]] = {}
        seen = 0
        for event in events:
            seen += 1
            rows.setdefault(event.key, self._row(event, arrived))
        reversed_count = 0
        with self._db.write() as tx:
            _lock(tx)
            before = self._count(tx)
            top = tx.one("SELECT COALESCE(MAX(seq), 0) FROM twpolicy_compliance_events")
            base = int(top[0]) if top else 0
            numbered = [(*row, base + n) for n, row in enumerate(rows.values(), start=1)]
            for start in range(0, len(numbered), _CHUNK):
                tx.executemany(
                    f"INSERT INTO twpolicy_compliance_events ({_COLUMNS}, seq)"  # noqa: S608  # fixed text
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (key) DO NOTHING",
                    numbered[start : start + _CHUNK],
                )
            new = self._count(tx) - before
            for row in rows.values():
                reversed_count += self._reverse(tx, row, arrived)
        return RecordResult(new=new, duplicates=seen - new, reversed=reversed_count)

    @staticmethod
    def _count(tx: Transaction) -> int:
        row = tx.one("SELECT COUNT(*) FROM twpolicy_compliance_events")
        return int(row[0]) if row else 0

    @staticmethod
    def _row(event: ComplianceEvent, arrived: datetime) -> tuple[Any, ...]:
        return (
            event.key,
            event.type.value,
            event.object_id,
            event.user_id,
            event.up_to_tweet_id,
            json.dumps(list(event.countries)),
            event.reason,
            event.source.value,
            None if event.event_at is None else _iso(event.event_at),
            _iso(arrived),
            _iso(arrived + DEADLINE),
            None,
            None,
        )

    @staticmethod
    def _reverse(tx: Transaction, row: tuple[Any, ...], arrived: datetime) -> int:
        key, kind, object_id, event_at = row[0], ComplianceEventType(row[1]), row[2], row[8]
        undone = kind.reverses
        count = 0
        if undone is not None:
            # Undo every earlier removal of this kind (an undated one counts as earlier).
            sql = (
                "SELECT key FROM twpolicy_compliance_events WHERE type = ? AND object_id = ?"
                " AND reversed_by IS NULL"
            )
            params: tuple[Any, ...] = (undone.value, object_id)
            if event_at is not None:
                sql += " AND (event_at IS NULL OR event_at <= ?)"
                params = (*params, event_at)
            found = tx.all(sql, params)
            for (removed,) in found:
                tx.execute(
                    "UPDATE twpolicy_compliance_events SET reversed_by = ?, reversed_at = ?"
                    " WHERE key = ?",
                    (key, _iso(arrived), removed),
                )
                count += 1
        elif kind.reversible and event_at is not None:
            # A removal that arrives after the event that undid it (backfill out of order).
            later = [k for k, v in _REVERSERS.items() if v is kind]
            if later:
                hit = tx.one(
                    f"SELECT key FROM twpolicy_compliance_events WHERE type IN ({_in(later)})"  # noqa: S608  # placeholders only
                    " AND object_id = ? AND event_at IS NOT NULL AND event_at >= ?",
                    (*[t.value for t in later], object_id, event_at),
                )
                if hit is not None:
                    tx.execute(
                        "UPDATE twpolicy_compliance_events SET reversed_by = ?, reversed_at = ?"
                        " WHERE key = ? AND reversed_by IS NULL",
                        (hit[0], _iso(arrived), key),
                    )
                    count += 1
        return count

    def mark_available(
        self,
        *,
        tweet_ids: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        at: datetime | None = None,
    ) -> int:
        """A fresh fetch returned these objects: undo their *unavailable* records (I.C.4).

        Availability is not monotonic (an account reactivates, a lookup fails and later
        succeeds); deletions are never undone. Returns how many records were reversed.
        """
        when = _iso(at or self._clock())
        count = 0
        with self._db.write() as tx:
            for kind, ids in (
                (ComplianceEventType.TWEET_UNAVAILABLE, list(tweet_ids)),
                (ComplianceEventType.USER_UNAVAILABLE, list(user_ids)),
            ):
                for chunk in _chunks(ids):
                    rows = tx.all(
                        "SELECT key FROM twpolicy_compliance_events WHERE type = ?"  # noqa: S608  # placeholders only
                        f" AND reversed_by IS NULL AND object_id IN ({_in(chunk)})",
                        (kind.value, *chunk),
                    )
                    for (key,) in rows:
                        tx.execute(
                            "UPDATE twpolicy_compliance_events SET reversed_by = ?,"
                            " reversed_at = ? WHERE key = ?",
                            ("fresh_fetch", when, key),
                        )
                        count += 1
        return count

    # -- reading -------------------------------------------------------------------------

    def tombstones(
        self, *, tweet_ids: Iterable[str] = (), user_ids: Iterable[str] = ()
    ) -> tuple[Tombstone, ...]:
        """What the ledger says is gone (or was, until a reversal) among these IDs.

        Tweet events are matched by Tweet ID, user events (delete, protect, suspend,
        withheld, unavailable) by user ID: pass a Tweet's author among ``user_ids``.
        """
        found: list[Tombstone] = []
        with self._db.read() as tx:
            for target, ids in (("tweet", tweet_ids), ("user", user_ids)):
                types = [t.value for t in ComplianceEventType if t.removes and t.target == target]
                unique = sorted(set(ids))
                for chunk in _chunks(unique):
                    rows = tx.all(
                        f"SELECT {_COLUMNS} FROM twpolicy_compliance_events"  # noqa: S608  # placeholders only
                        f" WHERE object_id IN ({_in(chunk)}) AND type IN ({_in(types)})",
                        (*chunk, *types),
                    )
                    found.extend(_tombstone(row) for row in rows)
        return tuple(found)

    def snapshot(self) -> Snapshot:
        """Every active tombstone and scrub, for an applier to walk a dataset once.

        Read index by index, each built by the database driver and ``dict`` in C: a ledger of
        a million events is read in about a second.
        """
        with self._db.read() as tx:

            def index(
                types: Sequence[str], columns: str = "object_id, key", column: str = "type"
            ) -> list[Any]:
                return tx.all(
                    f"SELECT {columns} FROM twpolicy_compliance_events"  # noqa: S608  # fixed text
                    f" WHERE reversed_by IS NULL AND {column} IN ({_in(types)})",
                    tuple(types),
                )

            # Deletions, the bulk of a ledger, as one text split in C; the rest as dicts,
            # reversed so that where two events remove one object the first recorded names it.
            joined = (
                "string_agg(object_id, ' ')"
                if tx.dialect == "postgresql"
                else ("group_concat(object_id, ' ')")
            )
            # Most rows: read in one scan, not row by row through the index of types.
            deleted = index((ComplianceEventType.TWEET_DELETE.value,), joined, _scan(tx, "type"))
            others = dict(reversed(index(_TWEET_REMOVALS[1:])))
            tweets = _Deleted(set((deleted[0][0] or "").split()) if deleted else set(), others)
            users = dict(reversed(index(_USER_REMOVALS)))
            dms = dict(reversed(index(_DM_REMOVALS)))
            tweet_geo = dict(reversed(index((ComplianceEventType.TWEET_SCRUB_GEO.value,))))
            scrubs = index((ComplianceEventType.SCRUB_GEO.value,), "object_id, key, up_to")
            reversible = frozenset(row[0] for row in index(_REVERSIBLE, "key"))
        scrub: dict[str, tuple[int | None, str]] = {}
        for object_id, key, up_to in scrubs:
            limit = None if up_to is None else int(up_to)
            old = scrub.get(object_id)
            if old is None or (old[0] is not None and (limit is None or limit > old[0])):
                scrub[object_id] = (limit, key)
        return Snapshot(
            tweets=tweets,
            users=users,
            dms=dms,
            scrub_geo=scrub,
            tweet_geo=tweet_geo,
            reversible=reversible,
        )

    def pending(self, target: str) -> list[str]:
        """Keys of active events not yet applied to ``target`` (claimed ones included)."""
        with self._db.read() as tx:
            rows = tx.all(
                "SELECT e.key FROM twpolicy_compliance_events e"  # noqa: S608  # placeholders only
                f" WHERE e.reversed_by IS NULL AND e.type IN ({_in(_ACTIONABLE)})"
                f" AND NOT {_KEYED.format(extra=' AND a.changed >= 0')}"
                f" AND NOT {_IN_RANGE.format(states=_DONE)}"
                " ORDER BY e.arrived_at, e.key",
                (*_ACTIONABLE, target, target),
            )
        return [str(row[0]) for row in rows]

    def status(self, *, at: datetime | None = None) -> tuple[EventStatus, ...]:
        """Every event with its state, age and deadline at ``at`` (default: now)."""
        now = utc(at or self._clock())
        with self._db.read() as tx:
            rows = tx.all(
                f"SELECT {_COLUMNS}, seq FROM twpolicy_compliance_events"  # noqa: S608  # fixed text
                " ORDER BY arrived_at, key"
            )
            ranges = tx.all(
                "SELECT t.target, r.low, r.high, t.finished_at FROM twpolicy_compliance_ranges r"
                " JOIN twpolicy_compliance_attempts t ON t.attempt_id = r.attempt_id"
                " WHERE t.state = 'done' ORDER BY t.finished_at"
            )
            applied: dict[str, list[AppliedRecord]] = {}
            for key, target, changed, applied_at in tx.all(
                "SELECT key, target, changed, applied_at FROM twpolicy_compliance_applied"
                " WHERE changed >= 0 ORDER BY applied_at"
            ):
                applied.setdefault(key, []).append(
                    AppliedRecord(
                        target=target, changed=int(changed), applied_at=_when(applied_at) or now
                    )
                )
        result = []
        for row in rows:
            key = str(row[0])
            kind = ComplianceEventType(row[1])
            own = applied.get(key, [])
            targets = {a.target for a in own}
            seq = row[13]
            covered = [
                AppliedRecord(target=str(t), changed=0, applied_at=_when(f) or now)
                for t, low, high, f in ranges
                if seq is not None and low < seq <= high and t not in targets
                and kind in (*_REMOVING_TYPES, *_SCRUB_TYPES)
            ]  # fmt: skip
            done = (*own, *covered)
            if row[11] is not None:
                state = "reversed"
            elif done or kind not in (*_REMOVING_TYPES, *_SCRUB_TYPES):
                state = "applied"
            else:
                state = "pending"
            result.append(
                EventStatus(
                    event=_event(row),
                    key=key,
                    arrived_at=datetime.fromisoformat(row[9]),
                    deadline=datetime.fromisoformat(row[10]),
                    state=state,
                    applied=done,
                    reversed_at=_when(row[12]),
                    now=now,
                )
            )
        return tuple(result)

    # -- attempts ------------------------------------------------------------------------

    def begin(self, target: str, keys: Sequence[str], *, at: datetime | None = None) -> str:
        """Start applying ``keys`` to ``target``; returns the attempt's ID."""
        attempt = str(uuid.uuid4())
        with self._db.write() as tx:
            tx.execute(
                "INSERT INTO twpolicy_compliance_attempts (attempt_id, target, state, keys,"
                " started_at) VALUES (?, ?, 'started', ?, ?)",
                (attempt, target, json.dumps(list(keys)), _iso(at or self._clock())),
            )
        return attempt

    def claim_all(self, target: str, *, at: datetime | None = None) -> tuple[str, int] | None:
        """Atomically take every event pending for ``target`` that no other attempt holds.

        The claim is a few rows however many events there are: the ranges of sequence
        numbers (events in arrival order) that no live attempt on ``target`` covers yet. Two
        workers applying the same events to one target each get a disjoint share (or
        ``None``: nothing left), so every event is applied once. Returns the attempt ID and
        how many events it holds.
        """
        attempt = str(uuid.uuid4())
        when = _iso(at or self._clock())
        with self._db.write() as tx:
            _lock(tx)
            top = tx.one("SELECT COALESCE(MAX(seq), 0) FROM twpolicy_compliance_events")
            high = int(top[0]) if top else 0
            live = tx.all(
                "SELECT r.low, r.high FROM twpolicy_compliance_ranges r"  # noqa: S608  # fixed text
                " JOIN twpolicy_compliance_attempts t ON t.attempt_id = r.attempt_id"
                f" WHERE t.target = ? AND t.state IN {_LIVE} ORDER BY r.low",
                (target,),
            )
            gaps = _gaps([(int(lo), int(hi)) for lo, hi in live], high)
            count = 0
            # Events in the gaps, less those with a row of their own for the target (at
            # most one each): counted from that row's side, so that the million events are
            # read once, in order (SQLite: by a scan, `_scan`), without a lookup each.
            active = f"e.reversed_by IS NULL AND {_scan(tx, 'e.type')} IN ({_in(_ACTIONABLE)})"
            # (SQLite: the rows of the target first, as written.)
            join = "CROSS JOIN" if tx.dialect == "sqlite" else "JOIN"
            for low, top_of in gaps:
                row = tx.one(
                    "SELECT COUNT(*) FROM twpolicy_compliance_events e"  # noqa: S608  # placeholders only
                    f" WHERE {_scan(tx, 'e.seq')} > ? AND {_scan(tx, 'e.seq')} <= ? AND {active}",
                    (low, top_of, *_ACTIONABLE),
                )
                keyed = tx.one(
                    f"SELECT COUNT(*) FROM twpolicy_compliance_applied a {join}"  # noqa: S608  # placeholders only
                    " twpolicy_compliance_events e ON e.key = a.key WHERE a.target = ?"
                    f" AND e.seq > ? AND e.seq <= ? AND {active}",
                    (target, low, top_of, *_ACTIONABLE),
                )
                count += (int(row[0]) if row else 0) - (int(keyed[0]) if keyed else 0)
            if not count:
                return None
            tx.execute(
                "INSERT INTO twpolicy_compliance_attempts (attempt_id, target, state, keys,"
                " started_at) VALUES (?, ?, 'started', '[]', ?)",
                (attempt, target, when),
            )
            tx.executemany(
                "INSERT INTO twpolicy_compliance_ranges (attempt_id, low, high) VALUES (?, ?, ?)",
                [(attempt, low, top_of) for low, top_of in gaps],
            )
        return attempt, count

    def claimed(self, attempt: str) -> list[str]:
        """The keys an attempt holds, oldest event first."""
        with self._db.read() as tx:
            found = tx.one(
                "SELECT target FROM twpolicy_compliance_attempts WHERE attempt_id = ?",
                (attempt,),
            )
            if found is None:
                return []
            target = str(found[0])
            rows = tx.all(
                "SELECT e.key FROM twpolicy_compliance_events e"  # noqa: S608  # placeholders only
                " WHERE (EXISTS (SELECT 1 FROM twpolicy_compliance_applied a"
                " WHERE a.key = e.key AND a.attempt_id = ?)"
                " OR (EXISTS (SELECT 1 FROM twpolicy_compliance_ranges r"
                " WHERE r.attempt_id = ? AND e.seq > r.low AND e.seq <= r.high)"
                f" AND e.reversed_by IS NULL AND e.type IN ({_in(_ACTIONABLE)})"
                f" AND NOT {_KEYED.format(extra=' AND a.attempt_id <> ?')}))"
                " ORDER BY e.arrived_at, e.key",
                (attempt, attempt, *_ACTIONABLE, target, attempt),
            )
        return [str(row[0]) for row in rows]

    def held(self, attempt: str, keys: Sequence[str]) -> list[str]:
        """Those of ``keys`` the attempt holds, in the order given."""
        wanted = set(keys)
        if not wanted:
            return []
        found = set(self.claimed(attempt)) if len(wanted) > _CHUNK else None
        if found is None:
            found = set()
            with self._db.read() as tx:
                row = tx.one(
                    "SELECT target FROM twpolicy_compliance_attempts WHERE attempt_id = ?",
                    (attempt,),
                )
                target = "" if row is None else str(row[0])
                chunk = sorted(wanted)
                for key, seq in tx.all(
                    "SELECT key, seq FROM twpolicy_compliance_events"  # noqa: S608  # placeholders only
                    f" WHERE key IN ({_in(chunk)})",
                    tuple(chunk),
                ):
                    own = tx.one(
                        "SELECT attempt_id FROM twpolicy_compliance_applied"
                        " WHERE key = ? AND target = ?",
                        (key, target),
                    )
                    if own is not None:
                        if own[0] == attempt:
                            found.add(str(key))
                        continue
                    inside = tx.one(
                        "SELECT 1 FROM twpolicy_compliance_ranges WHERE attempt_id = ?"
                        " AND ? > low AND ? <= high",
                        (attempt, seq, seq),
                    )
                    if inside is not None:
                        found.add(str(key))
        return [key for key in keys if key in found]

    def claim(
        self, target: str, keys: Sequence[str] | None = None, *, at: datetime | None = None
    ) -> tuple[str, list[str]] | None:
        """Atomically take the events pending for ``target`` that no open attempt holds.

        As `claim_all`, returning the attempt ID and its keys; with ``keys``, only those
        events are taken.
        """
        if keys is None:
            claimed = self.claim_all(target, at=at)
            return None if claimed is None else (claimed[0], self.claimed(claimed[0]))
        attempt = str(uuid.uuid4())
        when = _iso(at or self._clock())
        wanted = set(keys)
        with self._db.write() as tx:
            _lock(tx)
            rows = tx.all(
                "SELECT e.key FROM twpolicy_compliance_events e"  # noqa: S608  # placeholders only
                f" WHERE e.reversed_by IS NULL AND e.type IN ({_in(_ACTIONABLE)})"
                f" AND NOT {_KEYED.format(extra='')} AND NOT {_IN_RANGE.format(states=_LIVE)}"
                " ORDER BY e.arrived_at, e.key",
                (*_ACTIONABLE, target, target),
            )
            mine = [str(k) for (k,) in rows if k in wanted]
            if not mine:
                return None
            tx.execute(
                "INSERT INTO twpolicy_compliance_attempts (attempt_id, target, state, keys,"
                " started_at) VALUES (?, ?, 'started', '[]', ?)",
                (attempt, target, when),
            )
            tx.executemany(
                "INSERT INTO twpolicy_compliance_applied (key, target, attempt_id, changed,"
                " applied_at) VALUES (?, ?, ?, -1, ?)",
                [(key, target, attempt, when) for key in mine],
            )
        return attempt, mine

    def written(self, attempt: str, sha256: str, changed: Mapping[str, int]) -> None:
        """The new data is complete and durable (digest ``sha256``), about to replace the old.

        ``changed`` (objects changed per event key) is kept, so that an attempt whose process
        died after the replacement can still be finished with its counts (`recover`).
        """
        with self._db.write() as tx:
            tx.execute(
                "UPDATE twpolicy_compliance_attempts SET state = 'written', sha256 = ?,"
                " changed = ? WHERE attempt_id = ?",
                (sha256, json.dumps(dict(changed)), attempt),
            )

    def finish(
        self, attempt: str, changed: Mapping[str, int] | None = None, *, at: datetime | None = None
    ) -> None:
        """The new data is in place: record every key of the attempt as applied.

        ``changed`` defaults to the counts given to `written`.
        """
        when = _iso(at or self._clock())
        with self._db.write() as tx:
            row = tx.one(
                "SELECT target, keys, changed FROM twpolicy_compliance_attempts"
                " WHERE attempt_id = ?",
                (attempt,),
            )
            if row is None:
                raise StoreUnavailable(f"compliance attempt {attempt} is not in the ledger")
            target, keys = str(row[0]), json.loads(row[1])
            counts = dict(changed) if changed is not None else json.loads(row[2] or "{}")
            # Attempts begun with their keys listed (`begin`) record them now; claimed ones
            # turn their claimed rows into applied ones, in one statement.
            tx.executemany(
                "INSERT INTO twpolicy_compliance_applied (key, target, attempt_id, changed,"
                " applied_at) VALUES (?, ?, ?, 0, ?) ON CONFLICT (key, target) DO NOTHING",
                [(key, target, attempt, when) for key in keys],
            )
            tx.execute(
                "UPDATE twpolicy_compliance_applied SET changed = 0, applied_at = ?"
                " WHERE attempt_id = ? AND changed < 0",
                (when, attempt),
            )
            tx.executemany(
                "UPDATE twpolicy_compliance_applied SET changed = ?"
                " WHERE key = ? AND target = ? AND attempt_id = ?",
                [(int(n), key, target, attempt) for key, n in counts.items() if int(n)],
            )
            # Events claimed as a range that changed something get a row with their count.
            tx.executemany(
                "INSERT INTO twpolicy_compliance_applied (key, target, attempt_id, changed,"
                " applied_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (key, target) DO NOTHING",
                [(key, target, attempt, int(n), when) for key, n in counts.items() if int(n)],
            )
            tx.execute(
                "UPDATE twpolicy_compliance_attempts SET state = 'done', finished_at = ?"
                " WHERE attempt_id = ?",
                (when, attempt),
            )

    def events(self, keys: Sequence[str]) -> list[ComplianceEvent]:
        """The recorded events with these keys, in the order given (unknown keys skipped)."""
        found: dict[str, ComplianceEvent] = {}
        with self._db.read() as tx:
            for chunk in _chunks(list(keys)):
                for row in tx.all(
                    f"SELECT {_COLUMNS} FROM twpolicy_compliance_events"  # noqa: S608  # placeholders only
                    f" WHERE key IN ({_in(chunk)})",
                    tuple(chunk),
                ):
                    found[str(row[0])] = _event(row)
        return [found[key] for key in keys if key in found]

    def abandon(self, attempt: str, *, at: datetime | None = None) -> None:
        """The attempt left the old data in place: its keys are pending again."""
        with self._db.write() as tx:
            tx.execute(
                "UPDATE twpolicy_compliance_attempts SET state = 'abandoned', finished_at = ?"
                " WHERE attempt_id = ? AND state IN ('started', 'written')",
                (_iso(at or self._clock()), attempt),
            )
            tx.execute(
                "DELETE FROM twpolicy_compliance_applied WHERE attempt_id = ? AND changed < 0",
                (attempt,),
            )

    def open_attempts(self, target: str | None = None) -> list[tuple[str, str, str, str | None]]:
        """Attempts neither finished nor abandoned: (attempt ID, target, state, digest)."""
        with self._db.read() as tx:
            rows = tx.all(
                "SELECT attempt_id, target, state, sha256 FROM twpolicy_compliance_attempts"
                " WHERE state IN ('started', 'written') ORDER BY started_at",
            )
        return [
            (str(a), str(t), str(s), None if d is None else str(d))
            for a, t, s, d in rows
            if target is None or t == target
        ]

    def attempt_state(self, attempt: str) -> str | None:
        """``"started"``, ``"written"``, ``"done"`` or ``"abandoned"``; ``None`` if unknown."""
        with self._db.read() as tx:
            row = tx.one(
                "SELECT state FROM twpolicy_compliance_attempts WHERE attempt_id = ?", (attempt,)
            )
        return None if row is None else str(row[0])


_REMOVING_TYPES = tuple(t for t in ComplianceEventType if t.removes)
# Deletions first: the snapshot reads them apart.
_TWEET_REMOVALS = (
    ComplianceEventType.TWEET_DELETE.value,
    *(
        t.value
        for t in _REMOVING_TYPES
        if t.target == "tweet" and t is not ComplianceEventType.TWEET_DELETE
    ),
)
_USER_REMOVALS = tuple(t.value for t in _REMOVING_TYPES if t.target == "user")
_DM_REMOVALS = tuple(t.value for t in _REMOVING_TYPES if t.target == "dm")
_REVERSIBLE = tuple(
    t.value
    for t in _REMOVING_TYPES
    if t.reversible or t in (ComplianceEventType.TWEET_WITHHELD, ComplianceEventType.USER_WITHHELD)
)
_SCRUB_TYPES = (ComplianceEventType.SCRUB_GEO, ComplianceEventType.TWEET_SCRUB_GEO)
_REVERSERS = {t: t.reverses for t in ComplianceEventType if t.reverses is not None}


def _tombstone(row: Sequence[Any]) -> Tombstone:
    kind = ComplianceEventType(row[1])
    return Tombstone(
        target=kind.target,
        object_id=str(row[2]),
        type=kind,
        key=str(row[0]),
        arrived_at=datetime.fromisoformat(row[9]),
        reversed_at=_when(row[12]),
        countries=tuple(json.loads(row[5])),
    )


def open_compliance(
    url: str, *, clock: Callable[[], datetime] = utcnow, create: bool = True
) -> ComplianceLedger:
    """Open the compliance ledger at ``url``, creating it if needed (and ``create``).

    Args:
        url: ``memory://`` (this process only), ``sqlite:///path/to/compliance.db`` (the
            embedded default, shared by processes on one host) or
            ``postgresql://user@host/dbname`` (needs ``twpolicy[postgresql]``).
        clock: returns the current, timezone-aware time when a call gives none.
        create: whether a ledger that does not exist yet may be created.

    Raises:
        ConfigurationError: a malformed or unknown URL.
        StoreUnavailable: the store cannot be reached, is corrupt, has a newer schema, or
            does not exist and ``create`` is false.
    """
    parsed = parse_url(url, what="compliance ledger")
    if parsed.scheme == "memory":
        memory = _MemoryDatabase(
            StoreURL("sqlite", "memory://", path=Path(":memory:")), SCHEMA, create=True
        )
        memory.migrate(create=True)
        return ComplianceLedger(memory, clock=clock)
    return ComplianceLedger(open_database(parsed, SCHEMA, create=create), clock=clock)

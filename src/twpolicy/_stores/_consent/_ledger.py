"""The `Ledger` facade: record, withdraw, claim, check and demonstrate consent; `open_ledger`.

Every method that writes decides what to append by a plan run inside the backend's append
(so the decision and the append are one atomic step). Every read of a user's consent goes
through their `SubjectView`, which uses their events only when those check out
(`LedgerTampered` otherwise), and is cached: a view is reused until the store says it changed
(SQLite's ``data_version``, checked before every cached read; PostgreSQL's ``NOTIFY``), with
``cache_ttl`` as the bound when the store cannot say. A revoke that fails to be recorded is
held in this process, which refuses the user's withdrawn scopes until it is recorded.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from twpolicy._scopes import SCOPES, validate_scopes
from twpolicy._stores._consent._backend import Append, Changes, Plan, Store, Tx
from twpolicy._stores._consent._errors import LedgerTampered, RevokeNotRecorded
from twpolicy._stores._consent._events import (
    ConsentEvent,
    ConsentEventType,
    Head,
    Pending,
    SubjectHead,
    read_events,
)
from twpolicy._stores._consent._key import ConsentKey, resolve_key
from twpolicy._stores._consent._memory_backend import MemoryStore
from twpolicy._stores._consent._records import ConsentRecord, Notice, grant_body
from twpolicy._stores._consent._sql_backend import SCHEMA, SqlStore
from twpolicy._stores._consent._state import HELD_UNTIL_RESOLVED, ConsentState, State, derive
from twpolicy._stores._consent._subject import SubjectView, check_head, empty_view
from twpolicy._stores._consent._values import iso, validate_user_id
from twpolicy._stores._consent._verify import Verification, Verifier, parse_anchor
from twpolicy._stores._sql import StoreURL, open_database, parse_url
from twpolicy._stores._time import utc, utcnow
from twpolicy.exceptions import ConfigurationError, StoreUnavailable

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "DEFAULT_CACHE_TTL",
    "EXPORT_SCHEMA",
    "ConsentLedger",
    "Ledger",
    "open_ledger",
]

#: Seconds a process may serve a user's consent from its cache before reading the store again,
#: when the store cannot say it changed (a PostgreSQL server it cannot LISTEN to): the bound on
#: how stale another process's revoke can look here then.
DEFAULT_CACHE_TTL = 1.0

#: The version of the format of `Ledger.export_subject`.
EXPORT_SCHEMA = "twpolicy-consent-export/1"

_CACHE_SIZE = 65_536
_SCAN_BATCH = 2_000
#: Seconds between retries of a revoke that could not be recorded, from the hot path.
_RETRY_REVOKE = 1.0
#: Users marked changed one by one before the whole cache is marked instead.
_TOUCHED = 10_000

_LOG = logging.getLogger("twpolicy.consent")


class _Entry:
    """A cached view: fresh while current, read after its user's last change, within its TTL."""

    __slots__ = ("epoch", "expires", "generation", "view")

    def __init__(self, view: SubjectView, generation: int, epoch: int, expires: float) -> None:
        self.view = view
        self.generation = generation
        self.epoch = epoch
        self.expires = expires


@attrs.frozen
class _Unrecorded:
    """A revoke this process could not record yet."""

    scopes: frozenset[str] | None
    reason: str
    error: str
    next_try: float


class ConsentLedger(Protocol):
    """What the guard needs of a consent store: `Ledger` is one; a custom one may do."""

    def check(
        self,
        user_id: str,
        scope: str,
        *,
        content_sha256: str | None = None,
        at: datetime | None = None,
    ) -> ConsentRecord | None:
        """Return the active record that covers ``scope`` for ``user_id``, or ``None``."""
        ...


class Ledger:
    """The append-only consent ledger: record, withdraw, check and demonstrate consent.

    Open one with `twpolicy.open_ledger`. Thread-safe, and safe to share between processes
    through SQLite or PostgreSQL. Every write is one transaction: it is durable when the call
    returns, and a failed call wrote nothing.
    """

    def __init__(
        self,
        store: Store,
        url: StoreURL,
        *,
        cache_ttl: float,
        clock: Callable[[], datetime],
        timer: Callable[[], float],
    ) -> None:
        self._store = store
        self._url = url
        self._clock = clock
        self._timer = timer
        self._cache_ttl = cache_ttl
        # A plain dict (a lookup costs a hash, not a Python-level LRU update), emptied oldest
        # first when full: the hot path is the cached check.
        self._cache: dict[str, _Entry] | None = {} if cache_ttl > 0 else None
        # Only this process writes to a memory store, and it marks its own writes: no polling.
        self._polls = not isinstance(store, MemoryStore)
        self._cache_lock = threading.Lock()
        self._generation = 0
        self._epoch = 0
        self._touched: dict[str, int] = {}
        self._changes: Changes | None = None
        self._seen: Head | None = None
        self._unrecorded: dict[str, _Unrecorded] = {}
        self._unrecorded_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"twpolicy.Ledger({self._url.display!r}, cache_ttl={self._cache_ttl:g})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def url(self) -> str:
        """The ledger's URL, every credential hidden."""
        return self._url.display

    @property
    def cache_ttl(self) -> float:
        """Seconds a user's consent is served from this process's cache at most."""
        return self._cache_ttl

    @property
    def key_id(self) -> str:
        """The ID of the consent key this ledger uses (``""``: none): never the key itself."""
        key = self._store.key
        return "" if key is None else key.key_id

    def close(self) -> None:
        """Release the connection; a later call reconnects (and reads everything afresh).

        A revoke still unrecorded is tried once more; if it still fails it is logged as an
        error, as it is lost when the process exits.
        """
        if self._unrecorded:
            self.retry_revocations()
            for user, held in self._unrecorded.items():
                _LOG.error(
                    "consent ledger %s closed with the revoke of user %s's consent for %s "
                    "unrecorded (%s)",
                    self.url,
                    user,
                    _scopes(held.scopes),
                    held.error,
                )
        changes, self._changes = self._changes, None
        if changes is not None:
            changes.close()
        self._store.close()
        # What is reopened may legitimately be another file (a backup put back): start afresh.
        self._seen = None
        self._invalidate(None)
        if self._cache is not None:
            with self._cache_lock:
                self._cache.clear()

    def _now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo is timezone.utc else utc(now)

    # -- the cache -------------------------------------------------------------------------

    def _invalidate(self, user_ids: Iterable[str] | None) -> None:
        """These users' cached views (``None``: everyone's) must be checked again."""
        with self._cache_lock:
            self._epoch += 1
            users = None if user_ids is None else list(user_ids)
            if users is None or len(self._touched) + len(users) > _TOUCHED:
                self._generation += 1
                self._touched.clear()
            else:
                for user in users:
                    self._touched[user] = self._epoch

    def _forget(self, user_ids: Iterable[str]) -> None:
        """After a write: this process's next check of these users reads the store."""
        self._invalidate(user_ids)

    def _poll(self) -> None:
        """Mark stale what other processes changed: one cheap call.

        On SQLite it also checks that the file is still the one opened.
        """
        changes = self._changes
        if changes is None:
            changes = self._changes = self._store.changes()
        _, changed = changes.poll()
        if changed is None:
            self._invalidate(None)
        elif changed:
            self._invalidate(changed)

    def _note_head(self, seq: int, digest: str) -> None:
        """Remember the furthest head seen: it must never move back."""
        seen = self._seen
        if seen is None or seq > seen.seq:
            self._seen = Head(seq, digest)

    def _checked_head(self, head: Head | None, seen: Head | None) -> Head:
        """``head``, read after ``seen`` was noted, checked; the furthest head is noted.

        Heads only move on, so a thread's older read is never held against a newer one.
        """
        check_head(head, self._store.key, seen)
        assert head is not None  # noqa: S101  # check_head refuses a missing head
        self._note_head(head.seq, head.hash)
        return head

    def _read_view(self, tx: Tx, uid: str, prior: SubjectView) -> SubjectView:
        """``prior`` brought up to date from the store: only the user's new events are read."""
        seen = self._seen
        found, entry = tx.subject(uid)
        head = self._checked_head(found, seen)
        if not tx.indexed:
            return empty_view(uid).extend(head, None, tx.user_rows(uid), None, indexed=False)
        if entry is None:
            rows = tx.user_rows(uid, after=prior.seq)
        elif prior.same_as(entry):
            rows = []
        else:
            rows = tx.user_rows(uid, after=prior.seq, upto=entry.seq)
        return prior.extend(head, entry, rows, self._store.key)

    def _cached(self, uid: str) -> _Entry | None:
        cache = self._cache
        if cache is None:
            return None
        with self._cache_lock:
            return cache.get(uid)

    def _view(self, user_id: str) -> SubjectView:
        """The user's checked view; cached until the store says it changed (or the TTL)."""
        cache = self._cache
        entry = None
        if cache is not None:
            if self._polls:
                self._poll()
            # No lock on a hit: each read below is atomic, and an invalidation changes the
            # epoch before it marks users and is made after its write, so a view stored
            # before it fails the test once it is done. Generation before epoch: a view
            # read from the store while an invalidation runs is stored as stale (below).
            generation = self._generation
            epoch = self._epoch
            entry = cache.get(user_id)
            if (
                entry is not None
                and entry.generation == generation
                and entry.epoch >= self._touched.get(user_id, 0)
                and (entry.expires == math.inf or entry.expires > self._timer())
            ):
                return entry.view
        uid = validate_user_id(user_id)
        started = self._timer()
        prior = entry.view if entry is not None else empty_view(uid)
        # One snapshot: the index entry and the rows it vouches for must be read together, or a
        # write landing between the two reads looks like tampering.
        with self._store.reading(snapshot=True) as tx:
            view = self._read_view(tx, uid, prior)
        if cache is not None:
            with self._cache_lock:
                if generation != self._generation or self._touched.get(uid, 0) > epoch:
                    generation = -1  # changed while reading: keep the view, as a start only
                if uid not in cache and len(cache) >= _CACHE_SIZE:
                    del cache[next(iter(cache))]  # the oldest entry
                cache[uid] = _Entry(view, generation, epoch, started + self._cache_ttl)
        return view

    def _subject_events(self, uid: str) -> tuple[ConsentEvent, ...]:
        """Every event of the user, checked as a fresh view (not cached)."""
        seen = self._seen
        with self._store.reading(snapshot=True) as tx:
            found, entry = tx.subject(uid)
            head = self._checked_head(found, seen)
            if tx.indexed and entry is not None:
                rows = tx.user_rows(uid, upto=entry.seq)
            else:
                rows = tx.user_rows(uid)
            empty_view(uid).extend(head, entry, rows, self._store.key, indexed=tx.indexed)
        return tuple(read_events(rows))

    def _append(self, plan: Plan, *, reads: bool = True) -> list[ConsentEvent]:
        if self._unrecorded:
            self.retry_revocations()
        events = read_events(self._store.append(Append(plan, reads=reads)))
        if events:
            self._note_head(events[-1].seq, events[-1].hash)
        self._forget({event.user_id for event in events})
        return events

    # -- revokes that could not be recorded -------------------------------------------------

    @property
    def unrecorded_revocations(self) -> dict[str, frozenset[str] | None]:
        """Revokes this process could not record yet: user ID to scopes (``None``: all).

        Until each is recorded, `check` refuses those scopes of that user
        (`RevokeNotRecorded`), in this process only.
        """
        with self._unrecorded_lock:
            return {user: held.scopes for user, held in self._unrecorded.items()}

    def retry_revocations(self) -> int:
        """Try again to record every revoke that could not be; return how many were."""
        recorded = 0
        for user in list(self._unrecorded):
            recorded += self._retry(user)
        return recorded

    def _retry(self, uid: str) -> bool:
        with self._unrecorded_lock:
            held = self._unrecorded.get(uid)
            if held is None:
                return False
            try:
                self._record_revoke(uid, held.scopes, held.reason)
            except Exception as exc:  # noqa: BLE001  # still unrecorded: try again later
                self._unrecorded[uid] = attrs.evolve(
                    held, error=_cause(exc), next_try=self._timer() + _RETRY_REVOKE
                )
                return False
            del self._unrecorded[uid]
            _LOG.warning("recorded the revoke of user %s's consent, held since it failed", uid)
            return True

    def _hold(
        self, uid: str, scopes: frozenset[str] | None, reason: str, exc: Exception
    ) -> _Unrecorded:
        with self._unrecorded_lock:
            held = self._unrecorded.get(uid)
            if held is not None:
                scopes = None if scopes is None or held.scopes is None else held.scopes | scopes
                reason = held.reason or reason
            held = _Unrecorded(scopes, reason, _cause(exc), self._timer() + _RETRY_REVOKE)
            self._unrecorded[uid] = held
        self._forget([uid])
        return held

    def _refuse_unrecorded(self, uid: str, scope: str) -> None:
        held = self._unrecorded.get(uid)
        if held is None:
            return
        if self._timer() >= held.next_try and self._retry(uid):
            return
        held = self._unrecorded.get(uid)
        if held is not None and (held.scopes is None or scope in held.scopes):
            raise RevokeNotRecorded(
                f"user {uid} withdrew their consent for {_scopes(held.scopes)}, but the "
                f"consent ledger could not record it ({held.error}); this process refuses "
                "it until the revoke is recorded.",
                user_id=uid,
                scopes=held.scopes,
            )

    def grant(
        self,
        user_id: str | int,
        scopes: Iterable[str] | str,
        *,
        notice: Notice | str,
        method: str,
        evidence: str,
        expires_at: datetime | None = None,
        content_sha256: str | None = None,
        app_user_id: str | None = None,
    ) -> ConsentRecord:
        """Record that ``user_id`` consented to ``scopes`` after seeing ``notice``.

        Args:
            user_id: the Twitter user ID, as a decimal string (or int).
            scopes: names from `twpolicy.SCOPES` (one name or several).
            notice: what the user was shown: a `Notice` (best: `Notice.from_text`), or its
                ID as a string.
            method: how consent was collected (``"ui_explicit"``, ``"reply_keyword"``,
                ``"dm_keyword"``, ``"signup_handle_share"``, ...).
            evidence: what proves it (a request ID, the opt-in Tweet's ID, ...).
            expires_at: when it lapses by itself (timezone-aware, in the future).
            content_sha256: bind the consent to this exact content, for one use.
            app_user_id: the user's ID in your application.

        Returns:
            The record, already durable.

        Raises:
            ConfigurationError: a bad user ID, scope, notice, datetime or hash; nothing is
                recorded.
            StoreUnavailable: the store cannot be written; nothing is recorded.
        """
        record = ConsentRecord(
            record_id=str(uuid.uuid4()),
            user_id=user_id,
            scopes=scopes,
            granted_at=self._now(),
            notice=notice,
            method=method,
            evidence=evidence,
            expires_at=expires_at,
            content_sha256=content_sha256,
            app_user_id=app_user_id,
        )

        def plan(_tx: Tx) -> tuple[datetime, list[Pending]]:
            now = self._now()
            if record.expires_at is not None and record.expires_at <= now:
                raise ConfigurationError(
                    f"expires_at {iso(record.expires_at)} is not in the future; nothing recorded"
                )
            body = grant_body(record)
            closes = False  # a grant never closes its record
            return now, [
                Pending(ConsentEventType.GRANTED, record.record_id, record.user_id, closes, body)
            ]

        (event,) = self._append(plan, reads=False)
        return attrs.evolve(record, granted_at=event.at)

    def revoke(
        self, user_id: str | int, scopes: Iterable[str] | str | None = None, *, reason: str = ""
    ) -> tuple[ConsentEvent, ...]:
        """Withdraw ``user_id``'s consent for ``scopes`` (every scope when ``None``), now.

        Every record that covers a withdrawn scope gets a ``revoked`` event. When none does
        (or the user's events do not check out), one ``revoked`` event without a record is
        appended anyway, so an opt-out is on the record even when there was nothing to
        withdraw. This process's next check of the user sees it; other processes see it at
        their next check (SQLite) or as soon as PostgreSQL notifies them.

        If the store cannot record it, the revoke is held in this process, which refuses the
        user's withdrawn scopes (`check` raises `RevokeNotRecorded`) until it is recorded: it
        is retried on the next check of the user (at most once a second), before any other
        write, and by `retry_revocations`.

        Returns:
            The events appended.

        Raises:
            ConfigurationError: a bad user ID, scope or reason; nothing is recorded or held.
            RevokeNotRecorded: (a `StoreUnavailable`) the store could not record it; it is
                held, as above.
        """
        uid = validate_user_id(user_id)
        wanted = None if scopes is None else validate_scopes(scopes)
        if not isinstance(reason, str):
            raise ConfigurationError(f"reason must be a string, got {type(reason).__name__}")
        try:
            if uid in self._unrecorded:  # an earlier revoke of theirs goes first
                held = self._hold(uid, wanted, reason, StoreUnavailable("not yet retried"))
                wanted, reason = held.scopes, held.reason
            events = self._record_revoke(uid, wanted, reason)
        except Exception as exc:
            held = self._hold(uid, wanted, reason, exc)
            raise RevokeNotRecorded(
                f"the revoke of user {uid}'s consent for {_scopes(wanted)} could not be "
                f"recorded ({held.error}); until it is, this process refuses user {uid}'s "
                f"consent for {_scopes(held.scopes)}.",
                user_id=uid,
                scopes=held.scopes,
            ) from exc
        with self._unrecorded_lock:
            self._unrecorded.pop(uid, None)
        return events

    def _record_revoke(
        self, uid: str, wanted: frozenset[str] | None, reason: str
    ) -> tuple[ConsentEvent, ...]:
        cached = self._cached(uid)
        prior = cached.view if cached is not None else empty_view(uid)

        def plan(tx: Tx) -> tuple[datetime, list[Pending]]:
            try:
                states: Iterable[State] = self._read_view(tx, uid, prior).states
            except LedgerTampered:
                states = ()  # the opt-out is recorded all the same, without a record
            pending = []
            for state in states:
                hit = state.remaining if wanted is None else state.remaining & wanted
                if state.ended is None and hit:
                    pending.append(
                        Pending(
                            ConsentEventType.REVOKED,
                            state.record.record_id,
                            uid,
                            not state.remaining - hit,
                            {"scopes": sorted(hit), "reason": reason},
                        )
                    )
            if not pending:  # an opt-out with nothing to withdraw is recorded all the same
                listed = None if wanted is None else sorted(wanted)
                closes = False  # there is no record to close
                body = {"scopes": listed, "reason": reason}
                pending.append(Pending(ConsentEventType.REVOKED, "", uid, closes, body))
            return self._now(), pending

        events = tuple(read_events(self._store.append(Append(plan))))
        if events:
            self._note_head(events[-1].seq, events[-1].hash)
        self._forget([uid])
        return events

    def use(self, record_id: str, *, claim: str | None = None) -> ConsentEvent:
        """Record that the application acted on ``record_id``.

        A content-bound record (``content_sha256``) is single-use: once used, `check` no
        longer returns it. Enforcement points claim such a record before acting (`claim`)
        and use it under that claim once the action succeeded. A use of a record that was no
        longer active is recorded too, with a note, except for a content-bound record:
        spending it twice, or while another live claim holds it, is refused.

        Raises:
            ConfigurationError: there is no such record, or it is content-bound and already
                spent, revoked, expired or claimed by someone else.
            StoreUnavailable: the store cannot be written.
        """
        if not record_id:
            raise ConfigurationError(f"record_id must be a non-empty string, got {record_id!r}")
        mine = frozenset() if claim is None else frozenset((claim,))

        def plan(tx: Tx) -> tuple[datetime, list[Pending]]:
            now = self._now()
            state = derive(read_events(tx.record_rows(record_id))).get(record_id)
            if state is None:
                raise ConfigurationError(f"the consent ledger has no record {record_id!r}")
            active = state.ended is None and state.record.active_at(now)
            bound = state.record.content_sha256 is not None
            if bound and active and state.claimed_by_other(now, mine):
                raise ConfigurationError(
                    f"consent record {record_id} is bound to one post and another action "
                    "holds it; record a new consent for this content"
                )
            if bound and not active:
                # Single use is checked here, inside the append's lock, so two processes
                # that both passed `check` cannot both spend the same consent.
                raise ConfigurationError(
                    f"consent record {record_id} is bound to one post and is no longer "
                    f"active ({state.at(now).status}); record a new consent for this content"
                )
            note = "" if active else f"record was not active when used ({state.at(now).status})"
            user = state.record.user_id
            body = {"note": note} if claim is None else {"note": note, "claim": claim}
            return now, [Pending(ConsentEventType.USED, record_id, user, bound, body)]

        (event,) = self._append(plan)
        return event

    def claim(self, record_id: str, claim: str, *, until: datetime | None = None) -> bool:
        """Hold a content-bound record for one action about to happen; ``False`` if lost.

        Inside the append's lock, so of several processes claiming one single-use consent
        exactly one wins. The holder then `use`s it under ``claim`` when the action
        succeeded, or `release_claim`s it when it did not. With ``until`` (``None``: never)
        a claim neither used nor released lapses then. The guard claims without it: whether
        the action of a claim that was never resolved happened cannot be known, so the
        consent stays held (fail closed) until someone who knows releases it.

        Raises:
            ConfigurationError: a bad record ID or claim, or a record that is not
                content-bound (only single-use consents are claimed).
            StoreUnavailable: the store cannot be written.
        """
        if not record_id or not claim:
            raise ConfigurationError("claim needs a record ID and a claim ID")
        lapse = HELD_UNTIL_RESOLVED if until is None else utc(until)
        lost: list[bool] = []

        def plan(tx: Tx) -> tuple[datetime, list[Pending]]:
            lost.clear()
            now = self._now()
            rows = tx.record_rows(record_id)
            state = derive(read_events(rows)).get(record_id)
            if state is None:
                raise ConfigurationError(f"the consent ledger has no record {record_id!r}")
            # A single-use consent is taken only from a user whose events check out.
            user = state.record.user_id
            cached = self._cached(user)
            self._read_view(tx, user, cached.view if cached is not None else empty_view(user))
            if state.record.content_sha256 is None:
                raise ConfigurationError(f"consent record {record_id} is not single-use")
            mine = frozenset((claim,))
            if (
                state.ended is not None
                or not state.record.active_at(now)
                or state.claimed_by_other(now, mine)
            ):
                lost.append(True)
                return now, []
            body = {"claim": claim, "until": iso(lapse)}
            user = state.record.user_id
            closes = False  # a claim ends nothing: it is used or released later
            return now, [Pending(ConsentEventType.CLAIMED, record_id, user, closes, body)]

        self._append(plan)
        return not lost

    def release_claim(self, record_id: str, claim: str, *, reason: str = "") -> bool:
        """Give back a claim whose action did not happen; ``False`` if it was not held."""

        def plan(tx: Tx) -> tuple[datetime, list[Pending]]:
            now = self._now()
            state = derive(read_events(tx.record_rows(record_id))).get(record_id)
            if state is None or state.ended is not None or state.claim != claim:
                return now, []
            body = {"claim": claim, "reason": reason}
            user = state.record.user_id
            closes = False  # the record is available again
            return now, [Pending(ConsentEventType.RELEASED, record_id, user, closes, body)]

        return bool(self._append(plan))

    def expire(self) -> tuple[ConsentEvent, ...]:
        """Append an ``expired`` event for every record whose expiry has passed.

        Expiry takes effect without it (`check` compares times); the event puts the lapse
        on the record for reviewers. Run it from a periodic job.
        """

        def plan(tx: Tx) -> tuple[datetime, list[Pending]]:
            now = self._now()
            closes = True  # an expiry ends its record
            return now, [
                Pending(ConsentEventType.EXPIRED, rid, state.record.user_id, closes, {})
                for rid, state in derive(read_events(tx.open_rows())).items()
                if state.ended is None
                and state.record.expires_at is not None
                and state.record.expires_at <= now
            ]

        return tuple(self._append(plan))

    def check(
        self,
        user_id: str,
        scope: str,
        *,
        content_sha256: str | None = None,
        at: datetime | None = None,
        claims: frozenset[str] = frozenset(),
    ) -> ConsentRecord | None:
        """Return the newest active record covering ``scope`` for ``user_id``, or ``None``.

        A record bound to content covers only that content (``content_sha256``), and is
        preferred to a general one, so that using it spends it; one that another action
        holds (a live claim not in ``claims``) covers nothing. Revocations, uses and expiry
        events count whatever ``at`` is; ``at`` (default: now) is compared with each record's
        validity window.

        Raises:
            ConfigurationError: a bad user ID, scope or datetime.
            LedgerTampered: the user's events (or the ledger's head) do not check out; the
                message names the event.
            RevokeNotRecorded: the user withdrew ``scope`` but the store could not record it.
            StoreUnavailable: the store cannot be read (and the cache has nothing fresh), or
                its SQLite file was deleted or replaced while open.
        """
        if scope not in SCOPES:
            validate_scopes([scope])
        if at is None:
            when = self._now()
        elif at.tzinfo is not timezone.utc and (at.tzinfo is None or at.utcoffset() is None):
            when = utc(at)  # raises
        else:
            when = at
        if type(user_id) is not str:
            user_id = validate_user_id(user_id)
        if self._unrecorded:
            self._refuse_unrecorded(user_id, scope)
        general = None
        for state in reversed(self._view(user_id).states):  # newest first
            if state.covers(scope, when, claims):
                bound = state.record.content_sha256
                if bound is None:
                    general = general or state.record
                elif bound == content_sha256:
                    return state.record
        return general

    def status(self, user_id: str | int, *, at: datetime | None = None) -> tuple[ConsentState, ...]:
        """Where each of the user's records stands at ``at`` (default: now), oldest first.

        Raises:
            LedgerTampered: the user's events do not check out.
        """
        uid = validate_user_id(user_id)
        when = self._now() if at is None else utc(at)
        return tuple(state.at(when) for state in derive(self.history(uid)).values())

    def history(self, user_id: str | int) -> tuple[ConsentEvent, ...]:
        """Every event about ``user_id``, in ledger order, once they checked out.

        Raises:
            LedgerTampered: the user's events do not check out (`verify` says more).
        """
        return self._subject_events(validate_user_id(user_id))

    def anchor(self) -> str:
        """``SEQ:HASH`` of the ledger's last event, to keep elsewhere (a log, a ticket).

        Pass it back as ``verify(expect_head=...)`` (``twpolicy consent verify
        --expect-head``) later: a ledger truncated since, or rebuilt, fails.
        """
        seen = self._seen
        with self._store.reading() as tx:
            head = self._checked_head(tx.head(), seen)
        return head.anchor

    def events(self, *, after: int = 0) -> Iterator[ConsentEvent]:
        """Every event with ``seq`` greater than ``after``, in ledger order, read in batches.

        The raw log, as stored: `verify` it before relying on it.
        """
        while True:
            with self._store.reading() as tx:
                rows = tx.scan(after, _SCAN_BATCH)
            yield from read_events(rows)
            if len(rows) < _SCAN_BATCH:
                return
            after = rows[-1].seq

    def verify(
        self,
        *,
        expect_head: object = None,
        progress: Callable[[int], None] | None = None,
    ) -> Verification:
        """Check that no event was changed, removed, inserted or reordered.

        Walks the whole ledger in one consistent snapshot: every hash, both chains (the
        ledger's and each user's), every MAC (given the key), the head, each user's index
        entry, that each event makes sense after the ones before it, and the store's own
        page checks (SQLite). Damage of every kind is reported in the result, never raised,
        and never quoted: problems name events by position.

        Args:
            expect_head: an anchor kept elsewhere (``"SEQ:HASH"``, from `anchor` or
                `Verification.anchor`): the chain must still pass through it, so a ledger
                truncated since, or rebuilt, fails.
            progress: called with the number of events checked so far, after each batch.

        Raises:
            ConfigurationError: ``expect_head`` is not an anchor.
        """
        anchor = None if expect_head is None else parse_anchor(expect_head)
        key = self._store.key
        head: Head | tuple[int, str] | None
        try:
            with self._store.reading(snapshot=True) as tx:
                verifier = Verifier(key, anchor)
                head = tx.head()
                self._walk(tx, verifier, progress)
                entries = self._entries(tx) if tx.indexed else None
        except StoreUnavailable:
            # Something could not be read: read what can be, piece by piece, to say what.
            verifier, head, entries = self._salvage(Verifier(key, anchor), progress)
        for problem in self._store.integrity():
            verifier.problem(problem)
        return verifier.finish(head, entries)

    @staticmethod
    def _walk(tx: Tx, verifier: Verifier, progress: Callable[[int], None] | None) -> None:
        after = 0
        while True:
            rows = tx.scan(after, _SCAN_BATCH)
            for row in rows:
                verifier.feed(row)
            if progress is not None:
                progress(verifier.count)
            if len(rows) < _SCAN_BATCH:
                return
            after = rows[-1].seq

    @staticmethod
    def _entries(tx: Tx) -> list[SubjectHead]:
        entries: list[SubjectHead] = []
        after = ""
        while batch := tx.all_subjects(after, _SCAN_BATCH):
            entries.extend(batch)
            after = batch[-1].user_id
        return entries

    def _salvage(
        self, verifier: Verifier, progress: Callable[[int], None] | None
    ) -> tuple[Verifier, Head | tuple[int, str] | None, list[SubjectHead] | None]:
        """The walk of `verify`, each part in its own read, failures as problems."""
        try:
            with self._store.reading(snapshot=True) as tx:
                self._walk(tx, verifier, progress)
        except StoreUnavailable as exc:
            verifier.problem(
                f"the store failed while reading events past event {verifier.last[0]} "
                f"({_cause(exc)}): it is damaged; restore it from a backup"
            )
        head: Head | tuple[int, str] | None = verifier.last
        try:
            with self._store.reading() as tx:
                head = tx.head()
        except StoreUnavailable:
            verifier.problem("the ledger's head row cannot be read: it was removed or damaged")
        entries = None
        try:
            with self._store.reading() as tx:
                entries = self._entries(tx) if tx.indexed else None
        except StoreUnavailable:
            verifier.problem("the ledger's index of users cannot be read: it was removed")
        return verifier, head, entries

    def seal(self) -> Verification:
        """Start using the consent key on a ledger written without it.

        Verifies the ledger first (compare its anchor with one kept elsewhere, if you have
        one), then MACs its head and every user's index entry with the key; from then on
        every event is keyed, and processes without the key refuse it. Events written before
        are covered by the first keyed event's hash chain.

        Returns:
            The verification after sealing.

        Raises:
            ConfigurationError: the ledger has no key (``key=`` or $TWPOLICY_CONSENT_KEY).
            LedgerTampered: the ledger does not verify, or is sealed with another key.
        """
        if self._store.key is None:
            raise ConfigurationError(
                "sealing needs a consent key: open the ledger with key=... or set "
                "TWPOLICY_CONSENT_KEY"
            )
        before = self.verify()
        if not before:
            raise LedgerTampered(
                "the consent ledger cannot be sealed, as it does not verify: "
                + "; ".join(before.problems[:3]),
                user_id=None,
                seq=None,
            )
        self._store.seal(Head(before.head_seq, before.head))
        self._invalidate(None)
        return self.verify()

    def export_subject(self, user_id: str | int) -> dict[str, Any]:
        """Everything the ledger holds about ``user_id``, JSON-serialisable.

        For a data subject's access request (GDPR Art. 15) or a reviewer: each record with
        its status and Kantara receipt, and every event in order.
        """
        uid = validate_user_id(user_id)
        events = self.history(uid)
        now = self._now()
        states = derive(events).values()
        return {
            "schema": EXPORT_SCHEMA,
            "exported_at": iso(now),
            "ledger": self._url.display,
            "subject": {
                "twitter_user_id": uid,
                "app_user_ids": sorted(
                    {s.record.app_user_id for s in states if s.record.app_user_id is not None}
                ),
            },
            "records": [
                {
                    "status": current.status,
                    "active_scopes": sorted(current.active_scopes),
                    "revoked_scopes": sorted(current.revoked_scopes),
                    "receipt": current.record.to_receipt(),
                }
                for current in (state.at(now) for state in states)
            ],
            "events": [event.to_dict() for event in events],
        }


def _scopes(scopes: frozenset[str] | None) -> str:
    return "every scope" if scopes is None else ", ".join(sorted(scopes))


def _cause(exc: BaseException) -> str:
    """What went wrong, briefly: twpolicy's own message (never a driver's quoting data)."""
    if isinstance(exc, (StoreUnavailable, ConfigurationError)):
        return str(exc).rstrip(".")
    return type(exc).__name__


def _seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"cache_ttl must be a number of seconds, got {value!r}")
    if math.isnan(value) or value < 0:
        raise ConfigurationError(f"cache_ttl must be seconds >= 0, got {value!r}")
    return float(value)


def open_ledger(
    url: str,
    *,
    cache_ttl: float | None = None,
    create: bool = True,
    read_only: bool | None = None,
    key: str | bytes | ConsentKey | None = None,
    clock: Callable[[], datetime] | None = None,
    timer: Callable[[], float] | None = None,
) -> Ledger:
    """Open the consent ledger at ``url``.

    Args:
        url: ``memory://`` (this process only), ``sqlite:///relative/path.db`` or
            ``sqlite:////absolute/path.db`` (the embedded default), or
            ``postgresql://user@host:port/dbname`` (needs ``twpolicy[postgresql]``).
            Query options: ``cache_ttl``, ``timeout`` (seconds a write waits for another),
            ``schema`` (PostgreSQL).
        cache_ttl: the longest a user's consent may be served from this process's cache
            when the store cannot say it changed (SQLite always can; PostgreSQL can while
            this process LISTENs); 0 disables the cache. Default: the URL's ``cache_ttl``,
            else 1 s (for ``memory://``, which no other process can write, no limit).
        create: whether a ledger that does not exist yet may be created.
        read_only: open for reading only (``verify``, ``show``, ``export``): nothing is
            created, migrated or written, and a SQLite file on read-only media can be read.
            Default: ``not create``.
        key: the consent key (text or bytes, 16 bytes or more) that MACs every event, so
            that the ledger cannot be rebuilt without it. Default: $TWPOLICY_CONSENT_KEY if
            set, else none. Every process that uses a keyed ledger needs the same key.
        clock: returns the current time (timezone-aware); events are stamped with it.
        timer: the cache's monotonic clock, in seconds; tests pass a fake one.

    Raises:
        ConfigurationError: the URL, an option or the key is malformed, or names an unknown
            backend.
        StoreUnavailable: the store cannot be reached, is corrupt, or has a newer schema.
    """
    parsed = parse_url(url, what="consent ledger", options=("cache_ttl",))
    from_url = parsed.options.get("cache_ttl")
    if cache_ttl is not None and from_url is not None:
        raise ConfigurationError(
            f"cache_ttl is given twice, by the URL {parsed.display!r} and by the argument; "
            "give it once"
        )
    if cache_ttl is None:
        default = math.inf if parsed.scheme == "memory" else DEFAULT_CACHE_TTL
        ttl = parsed.number("cache_ttl", default)
    else:
        ttl = _seconds(cache_ttl)
    consent_key = resolve_key(key)
    only_read = not create if read_only is None else read_only
    store: Store = (
        MemoryStore(consent_key)
        if parsed.scheme == "memory"
        else SqlStore(
            open_database(parsed, SCHEMA, create=create, read_only=only_read), consent_key
        )
    )
    return Ledger(
        store,
        parsed,
        cache_ttl=ttl,
        clock=clock or utcnow,
        timer=timer or time.monotonic,
    )

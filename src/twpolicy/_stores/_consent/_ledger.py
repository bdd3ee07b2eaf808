"""The `Ledger` facade: record, withdraw, claim, check and demonstrate consent; `open_ledger`.

Every method that writes decides what to append by a plan run inside the backend's append
(so the decision and the append are one atomic step), and every read derives state from
events with `twpolicy._stores._consent._state.derive`. Reads are cached per user for
``cache_ttl`` seconds; a write clears this process's cache at once.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import cachetools

from twpolicy._scopes import SCOPES, validate_scopes
from twpolicy._stores._consent._backend import Append, Plan, Store, Tx
from twpolicy._stores._consent._events import (
    ConsentEvent,
    ConsentEventType,
    Pending,
    read_events,
)
from twpolicy._stores._consent._memory_backend import MemoryStore
from twpolicy._stores._consent._records import ConsentRecord, Notice, grant_body
from twpolicy._stores._consent._sql_backend import SCHEMA, SqlStore
from twpolicy._stores._consent._state import ConsentState, State, derive
from twpolicy._stores._consent._values import iso, validate_user_id
from twpolicy._stores._consent._verify import Verification, Verifier
from twpolicy._stores._sql import StoreURL, open_database, parse_url
from twpolicy._stores._time import utc, utcnow
from twpolicy.exceptions import ConfigurationError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "DEFAULT_CACHE_TTL",
    "EXPORT_SCHEMA",
    "ConsentLedger",
    "Ledger",
    "open_ledger",
]

#: Seconds a process may serve a user's consent from its cache before reading the store again:
#: the bound on how stale another process's revoke can look here.
DEFAULT_CACHE_TTL = 1.0

#: The version of the format of `Ledger.export_subject`.
EXPORT_SCHEMA = "twpolicy-consent-export/1"

_CACHE_SIZE = 65_536
_SCAN_BATCH = 2_000


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
        self._cache_ttl = cache_ttl
        self._cache: cachetools.TTLCache[str, tuple[State, ...]] | None = (
            cachetools.TTLCache(_CACHE_SIZE, cache_ttl, timer=timer) if cache_ttl > 0 else None
        )
        self._cache_lock = threading.Lock()
        self._generation = 0

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
        """The ledger's URL, any password hidden."""
        return self._url.display

    @property
    def cache_ttl(self) -> float:
        """Seconds a user's consent is served from this process's cache."""
        return self._cache_ttl

    def close(self) -> None:
        """Release the connection; a later call reconnects."""
        self._store.close()

    def _now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo is timezone.utc else utc(now)

    def _forget(self, user_ids: Iterable[str]) -> None:
        """After a write: this process's next check of these users reads the store."""
        with self._cache_lock:
            self._generation += 1
            if self._cache is not None:
                for user_id in user_ids:
                    self._cache.pop(user_id, None)

    def _append(self, plan: Plan, *, reads: bool = True) -> list[ConsentEvent]:
        events = read_events(self._store.append(Append(plan, reads=reads)))
        self._forget({event.user_id for event in events})
        return events

    def _open_states(self, user_id: str) -> tuple[State, ...]:
        """The user's records that may still be active, newest first; cached."""
        cache = self._cache
        generation = 0
        if cache is not None:
            with self._cache_lock:
                generation = self._generation
                try:
                    return cache[user_id]  # cheaper than get(): that checks expiry twice
                except KeyError:
                    pass
        uid = validate_user_id(user_id)
        with self._store.reading() as tx:
            rows = tx.user_rows(uid, open_only=True)
        states = tuple(s for s in reversed(derive(read_events(rows)).values()) if s.ended is None)
        if cache is not None:
            with self._cache_lock:
                if generation == self._generation:
                    cache[uid] = states
        return states

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

        Every record that covers a withdrawn scope gets a ``revoked`` event. When none does,
        one ``revoked`` event without a record is appended anyway, so an opt-out is on the
        record even when there was nothing to withdraw. This process's cache forgets the user
        at once; other processes see the revoke within their ``cache_ttl``.

        Returns:
            The events appended.

        Raises:
            ConfigurationError: a bad user ID, scope or reason; nothing is recorded.
            StoreUnavailable: the store cannot be written; nothing is recorded.
        """
        uid = validate_user_id(user_id)
        wanted = None if scopes is None else validate_scopes(scopes)
        if not isinstance(reason, str):
            raise ConfigurationError(f"reason must be a string, got {type(reason).__name__}")

        def plan(tx: Tx) -> tuple[datetime, list[Pending]]:
            pending = []
            for state in derive(read_events(tx.user_rows(uid, open_only=True))).values():
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

        return tuple(self._append(plan))

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

    def claim(self, record_id: str, claim: str, *, until: datetime) -> bool:
        """Hold a content-bound record for one action about to happen; ``False`` if lost.

        Inside the append's lock, so of several processes claiming one single-use consent
        exactly one wins. The holder then `use`s it under ``claim`` when the action
        succeeded, or `release_claim`s it when it did not; a claim neither used nor released
        lapses at ``until`` (a crashed process cannot hold a consent for ever).

        Raises:
            ConfigurationError: a bad record ID or claim, or a record that is not
                content-bound (only single-use consents are claimed).
            StoreUnavailable: the store cannot be written.
        """
        if not record_id or not claim:
            raise ConfigurationError("claim needs a record ID and a claim ID")
        lapse = utc(until)
        lost: list[bool] = []

        def plan(tx: Tx) -> tuple[datetime, list[Pending]]:
            lost.clear()
            now = self._now()
            state = derive(read_events(tx.record_rows(record_id))).get(record_id)
            if state is None:
                raise ConfigurationError(f"the consent ledger has no record {record_id!r}")
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
            StoreUnavailable: the store cannot be read (and the cache has nothing fresh).
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
        general = None
        for state in self._open_states(user_id):
            if state.covers(scope, when, claims):
                bound = state.record.content_sha256
                if bound is None:
                    general = general or state.record
                elif bound == content_sha256:
                    return state.record
        return general

    def status(self, user_id: str | int, *, at: datetime | None = None) -> tuple[ConsentState, ...]:
        """Where each of the user's records stands at ``at`` (default: now), oldest first."""
        uid = validate_user_id(user_id)
        when = self._now() if at is None else utc(at)
        return tuple(state.at(when) for state in derive(self.history(uid)).values())

    def history(self, user_id: str | int) -> tuple[ConsentEvent, ...]:
        """Every event about ``user_id``, in ledger order."""
        uid = validate_user_id(user_id)
        with self._store.reading() as tx:
            rows = tx.user_rows(uid, open_only=False)
        return tuple(read_events(rows))

    def events(self, *, after: int = 0) -> Iterator[ConsentEvent]:
        """Every event with ``seq`` greater than ``after``, in ledger order, read in batches."""
        while True:
            with self._store.reading() as tx:
                rows = tx.scan(after, _SCAN_BATCH)
            yield from read_events(rows)
            if len(rows) < _SCAN_BATCH:
                return
            after = rows[-1].seq

    def verify(self, *, progress: Callable[[int], None] | None = None) -> Verification:
        """Check that no event was changed, removed, inserted or reordered.

        Walks the whole ledger in one consistent snapshot: every hash, every link to the
        event before, the head, and that each event makes sense after the ones before it.

        Args:
            progress: called with the number of events checked so far, after each batch.
        """
        verifier = Verifier()
        with self._store.reading(snapshot=True) as tx:
            head = tx.head()
            after = 0
            while True:
                rows = tx.scan(after, _SCAN_BATCH)
                for row in rows:
                    verifier.feed(row)
                if progress is not None:
                    progress(verifier.count)
                if len(rows) < _SCAN_BATCH:
                    break
                after = rows[-1].seq
        return verifier.finish(head)

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
        cache_ttl: seconds a user's consent may be served from this process's cache, so the
            longest another process's revoke can go unseen here; 0 disables the cache.
            Default: the URL's ``cache_ttl``, else 1 s (for ``memory://``, which no other
            process can write, the cache never goes stale and is kept until a write).
        create: whether a ledger that does not exist yet may be created.
        clock: returns the current time (timezone-aware); events are stamped with it.
        timer: the cache's monotonic clock, in seconds; tests pass a fake one.

    Raises:
        ConfigurationError: the URL or an option is malformed, or names an unknown backend.
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
    store: Store = (
        MemoryStore()
        if parsed.scheme == "memory"
        else SqlStore(open_database(parsed, SCHEMA, create=create))
    )
    return Ledger(
        store,
        parsed,
        cache_ttl=ttl,
        clock=clock or utcnow,
        timer=timer or time.monotonic,
    )

"""Per-recipient redistribution quotas, counted in coarse time buckets.

Developer Policy I.F.2.a allows at most 50,000 hydrated public Tweet and User objects per
user of the Service per day, by non-automated export (the restricted-use page says per
recipient: both are counted); I.F.2.b.i allows at most 1,500,000 Tweet IDs per entity in any
30 days, unless the distribution is on behalf of an academic institution for non-commercial
research or Twitter gave written permission.

Names are compared as people mean them: recipients, entities and requesters are normalised
(Unicode NFKC, case folded, surrounding whitespace dropped, inner runs of spaces made one),
so "Acme", "acme " and a full-width "ACME" are one entity. Every export is counted against
someone: a recipient nobody can name is `PUBLIC`, one entity with the standard caps.

Counts are kept per window in buckets (an hour wide for 30 days, a quarter of an hour for 24
hours), never one entry per ID. A bucket that overlaps the rolling window at all is counted in
full, so the ledger can only over-count, by at most one bucket's worth of the oldest units. A
whole batch is checked and counted in one atomic step, and can be released if the send fails.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import json
import math
import re
import threading
import typing
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final, Protocol

import attrs

from twpolicy._model import Scalar
from twpolicy._payloads._walker import INVISIBLE
from twpolicy._stores._sql import Database, Migration, Schema, Transaction, open_database, parse_url
from twpolicy._stores._time import utc, utcnow
from twpolicy.exceptions import ConfigurationError, StoreUnavailable

__all__ = [
    "HYDRATED_OBJECTS",
    "PUBLIC",
    "REQUESTED_OBJECTS",
    "TWEET_IDS",
    "QuotaLedger",
    "QuotaSpec",
    "QuotaUsage",
    "Recipient",
    "Reservation",
    "SqlQuotaStore",
    "Standing",
    "normal_name",
    "open_quotas",
]


class Standing(str, enum.Enum):
    """Why a recipient may, or may not, receive Tweet IDs beyond the 30-day cap."""

    STANDARD = "standard"
    """No exemption: at most 1,500,000 Tweet IDs per entity in any 30 days."""
    ACADEMIC_NONCOMMERCIAL = "academic_noncommercial"
    """On behalf of an academic institution, solely for non-commercial research (I.F.2.b.i)."""
    WRITTEN_PERMISSION = "written_permission"
    """Twitter's express written permission (I.F.2.b.i)."""

    def __str__(self) -> str:
        return self.value

    @property
    def exempt(self) -> bool:
        """Whether the 30-day Tweet-ID cap does not apply (the daily object cap always does)."""
        return self is not Standing.STANDARD


@attrs.frozen(kw_only=True)
class QuotaSpec:
    """One rolling quota: what it counts, how much, over how long, per whom.

    Attributes:
        name: ``"tweet_ids"`` or ``"hydrated_objects"``.
        clause: the policy clause that sets it.
        limit: the most that may be counted within ``window``.
        window: the rolling window.
        bucket: the width of a counting bucket; the error of the count is at most one bucket.
        per: ``"entity"`` (every recipient of one entity together), ``"recipient"``, or
            ``"requester"`` (the user of the Service who asked for the export).
        exemptible: whether an exempt `Standing` lifts the limit.
    """

    name: str
    clause: str
    limit: int
    window: timedelta
    bucket: timedelta
    per: str
    exemptible: bool

    def bucket_of(self, at: datetime) -> int:
        """The start, in whole seconds since the epoch, of the bucket holding ``at``."""
        width = int(self.bucket.total_seconds())
        return int(at.timestamp()) // width * width

    def first_counted(self, at: datetime) -> int:
        """The oldest bucket still counted at ``at``: any bucket overlapping the window."""
        return self.bucket_of(at - self.window)

    def leaves_at(self, bucket: int) -> datetime:
        """When ``bucket`` stops being counted."""
        return datetime.fromtimestamp(bucket, timezone.utc) + self.bucket + self.window


#: I.F.2.b.i: Tweet IDs per entity in any 30 days.
TWEET_IDS = QuotaSpec(
    name="tweet_ids",
    clause="I.F.2.b.i",
    limit=1_500_000,
    window=timedelta(days=30),
    bucket=timedelta(hours=1),
    per="entity",
    exemptible=True,
)
#: I.F.2.a: hydrated public Tweet and User objects per recipient per day.
HYDRATED_OBJECTS = QuotaSpec(
    name="hydrated_objects",
    clause="I.F.2.a",
    limit=50_000,
    window=timedelta(days=1),
    bucket=timedelta(minutes=15),
    per="recipient",
    exemptible=False,
)
#: I.F.2.a: hydrated public Tweet and User objects per user of the Service per day.
REQUESTED_OBJECTS = QuotaSpec(
    name="requested_objects",
    clause="I.F.2.a",
    limit=50_000,
    window=timedelta(days=1),
    bucket=timedelta(minutes=15),
    per="requester",
    exemptible=False,
)
_SPECS = {spec.name: spec for spec in (TWEET_IDS, HYDRATED_OBJECTS, REQUESTED_OBJECTS)}
# The specs read for a recipient; the requester's is read only when one is named.
_RECIPIENT_SPECS = (TWEET_IDS, HYDRATED_OBJECTS)
# Not a limit: the Tweet IDs each recipient itself received, so that its window's count goes
# with it when it is registered under another entity.
_RECEIVED = attrs.evolve(TWEET_IDS, name="tweet_ids_received", per="recipient")

#: The recipient of exports nobody can name (a public download, an anonymous API caller):
#: one entity with the standard caps, which cannot be registered as exempt.
PUBLIC = "<public>"


def _spec(quota: str | QuotaSpec) -> QuotaSpec:
    if isinstance(quota, QuotaSpec):
        return quota
    try:
        return _SPECS[quota]
    except KeyError:
        raise ConfigurationError(f"unknown quota {quota!r}; known: {sorted(_SPECS)}") from None


_SPACES = re.compile(r" {2,}")


def normal_name(value: object, what: str = "recipient") -> str:
    """``value`` as the ledger keys it: NFKC, case folded, spaces trimmed and collapsed.

    Raises:
        ConfigurationError: ``value`` is not a string, is blank, or holds control or
            invisible characters (a tab, a newline, a zero-width space) once trimmed.
    """
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a non-empty printable string, got {value!r}")
    text = unicodedata.normalize("NFKC", value).strip()
    text = unicodedata.normalize("NFKC", text.casefold())
    if not text or not text.isprintable() or _INVISIBLE.search(text):
        raise ConfigurationError(
            f"{what} must be a non-empty printable string without invisible characters, "
            f"got {value!r}"
        )
    return _SPACES.sub(" ", text)


# Characters that print as nothing but make a different name (`INVISIBLE`): Unicode's
# default-ignorable code points that `str.isprintable` lets through, and the blank Braille
# pattern.
_INVISIBLE: Final = INVISIBLE


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise ConfigurationError(f"{what} must be a non-empty printable string, got {value!r}")
    return value


@attrs.frozen(kw_only=True)
class Recipient:
    """Who receives data that leaves, and on what standing.

    Attributes:
        name: the recipient as the application names it (an account, an email, a team),
            normalised (`normal_name`): ``"Acme "`` and ``"acme"`` are one recipient.
        entity: the organisation it belongs to, normalised; the 30-day Tweet-ID cap counts
            every recipient of one entity together (I.F.2.b.i: "inclusive of multiple
            individual users associated with a single entity"). Defaults to ``name``.
        standing: `Standing`; an exempt standing lifts the 30-day Tweet-ID cap.
        approved_by: who approved the standing (required for an exempt one).
        reference: where the approval is written down: a ticket, a letter, a grant number.
        terms_evidence: where the recipient's acceptance of Twitter's terms is recorded
            (I.F.2.b), if the application keeps it.
        registered_at: when the record was made; ``None`` for a recipient never registered,
            who is treated as a standard recipient that is its own entity.
    """

    name: str
    entity: str
    standing: Standing = attrs.field(default=Standing.STANDARD, converter=Standing)
    approved_by: str | None = None
    reference: str | None = None
    terms_evidence: str | None = None
    registered_at: datetime | None = None

    @classmethod
    def unregistered(cls, name: str) -> Recipient:
        """The standing of a recipient nobody registered: standard, its own entity."""
        key = normal_name(name, "recipient")
        return cls(name=key, entity=key)

    @property
    def registered(self) -> bool:
        """Whether a record of this recipient exists in the ledger."""
        return self.registered_at is not None

    def facts(self) -> dict[str, Scalar]:
        """What every export decision records about the recipient."""
        return {
            "recipient": self.name,
            "entity": self.entity,
            "standing": self.standing.value,
            "registered": self.registered,
            "approved_by": self.approved_by,
            "reference": self.reference,
            "terms_evidence": self.terms_evidence,
        }


@attrs.frozen(kw_only=True)
class QuotaUsage:
    """How much of one quota one recipient (or its entity) has used at one time.

    Attributes:
        quota: the quota's name.
        clause: the clause that sets it.
        key: the entity or recipient counted.
        used: the units counted in the rolling window (never fewer than were sent).
        limit: the limit, or ``None`` when the recipient's standing lifts it.
        at: the time the usage was read for.
        next_release_at: when the oldest counted units leave the window (``None`` if none).
        resets_at: when every unit counted now has left the window (``None`` if none).
    """

    quota: str
    clause: str
    key: str
    used: int
    limit: int | None
    at: datetime
    next_release_at: datetime | None
    resets_at: datetime | None

    @property
    def remaining(self) -> int | None:
        """Units that may still be sent now; ``None`` means no limit."""
        return None if self.limit is None else max(0, self.limit - self.used)

    def facts(self) -> dict[str, Scalar]:
        """The usage as decision facts, prefixed with the quota's name."""
        when = None if self.resets_at is None else self.resets_at.isoformat()
        return {
            f"{self.quota}_used": self.used,
            f"{self.quota}_limit": self.limit,
            f"{self.quota}_remaining": self.remaining,
            f"{self.quota}_resets_at": when,
        }


@attrs.frozen(kw_only=True)
class Reservation:
    """The answer to one `QuotaLedger.reserve` call.

    Attributes:
        reservation_id: names what was counted, for `QuotaLedger.release`; ``None`` when
            nothing was counted.
        granted: whether the batch fit every limit.
        recipient: the recipient as the ledger knows it.
        usage: each quota's usage: after counting when counted, before when refused.
        exceeded: the names of the quotas the batch would have gone over.
    """

    reservation_id: str | None
    granted: bool
    recipient: Recipient
    usage: tuple[QuotaUsage, ...]
    exceeded: tuple[str, ...] = ()


# (quota name, key, bucket start, amount): one line of a reservation.
Entry = tuple[str, str, int, int]


class QuotaTransaction(Protocol):
    """The primitive operations of a quota store, run inside one atomic transaction."""

    def buckets(self, quota: str, key: str, since: int) -> list[tuple[int, int]]:
        """``(bucket, count)`` of every non-empty bucket of ``(quota, key)`` from ``since``."""
        ...

    def add(self, quota: str, key: str, bucket: int, amount: int) -> None:
        """Add ``amount`` (possibly negative) to a bucket, creating it when positive."""
        ...

    def prune(self, quota: str, key: str, before: int) -> None:
        """Forget the buckets of ``(quota, key)`` older than ``before``."""
        ...

    def save_reservation(self, reservation_id: str, at: datetime, entries: list[Entry]) -> None:
        """Remember what a reservation counted, so that it can be released."""
        ...

    def take_reservation(self, reservation_id: str) -> list[Entry] | None:
        """Forget a reservation and return what it counted; ``None`` if unknown or released."""
        ...

    def prune_reservations(self, before: datetime) -> None:
        """Forget reservations made before ``before``: their buckets are gone."""
        ...

    def set_lease(self, reservation_id: str, expires_at: datetime | None) -> bool:
        """Give a reservation a lease (``None``: none); ``False`` if unknown or released."""
        ...

    def expired(self, at: datetime) -> list[str]:
        """The reservations whose lease ran out at or before ``at``."""
        ...

    def get_recipient(self, name: str) -> Recipient | None:
        """The registered recipient called ``name``, if any."""
        ...

    def put_recipient(self, recipient: Recipient) -> None:
        """Register ``recipient``, replacing any record of the same name."""
        ...

    def list_recipients(self) -> list[Recipient]:
        """Every registered recipient, by name."""
        ...


class QuotaStore(Protocol):
    """A place quota counts live: memory, SQLite or PostgreSQL.

    A write transaction's body runs atomically with respect to every other write transaction
    (across threads and, for databases, processes); everything done in a body that raises is
    undone.
    """

    url: str

    def transaction(
        self, *, write: bool = True
    ) -> contextlib.AbstractContextManager[QuotaTransaction]:
        """An atomic transaction; writers run one at a time, readers see one snapshot."""
        ...

    def close(self) -> None:
        """Release connections; the store cannot be used afterwards."""
        ...


@typing.final
class QuotaLedger:
    """Per-recipient quota counts and the recipients registry, over one store.

    Open one with `twpolicy.open_quotas`; give it to ``Guard(quotas=...)`` so the
    ``redistribution.quota`` rule counts every export against it.

    Args:
        store: where counts and recipients are kept.
        clock: returns the current, timezone-aware time when a call gives no ``at``.
    """

    def __init__(self, store: QuotaStore, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    def __repr__(self) -> str:
        return f"twpolicy.QuotaLedger({self._store.url!r})"

    def __enter__(self) -> QuotaLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """Where the ledger is kept."""
        return self._store.url

    def close(self) -> None:
        """Close the underlying store."""
        self._store.close()

    def _at(self, at: datetime | None) -> datetime:
        return utc(self._clock() if at is None else at)

    def register(
        self,
        recipient: str,
        *,
        entity: str | None = None,
        standing: Standing | str = Standing.STANDARD,
        approved_by: str | None = None,
        reference: str | None = None,
        terms_evidence: str | None = None,
        at: datetime | None = None,
    ) -> Recipient:
        """Register ``recipient`` (or replace its record) with its entity and standing.

        An exempt standing must say who approved it and where that is written down: the
        exemption is recorded in every decision that relies on it. Moving a recipient to
        another entity carries the Tweet IDs it received in the rolling 30 days into the new
        entity's count (the old entity keeps them too: they were sent to it).

        Raises:
            ConfigurationError: an unknown standing, an exempt one without approval, or
                `PUBLIC`, which is one entity with the standard caps and cannot be registered.
        """
        try:
            standing = Standing(standing)
        except ValueError:
            known = ", ".join(s.value for s in Standing)
            raise ConfigurationError(f"unknown standing {standing!r}; use one of {known}") from None
        if standing.exempt:
            _name(approved_by, f"standing {standing.value}: approved_by")
            _name(reference, f"standing {standing.value}: reference")
        name = normal_name(recipient, "recipient")
        if name == PUBLIC:
            raise ConfigurationError(
                f"{PUBLIC} stands for recipients nobody can name (a public download, an "
                "anonymous caller); it has the standard caps and cannot be registered. Register "
                "the recipients you can name instead."
            )
        when = self._at(at)
        record = Recipient(
            name=name,
            entity=normal_name(recipient if entity is None else entity, "entity"),
            standing=standing,
            approved_by=approved_by,
            reference=reference,
            terms_evidence=terms_evidence,
            registered_at=when,
        )
        with self._store.transaction() as txn:
            before = txn.get_recipient(name) or Recipient.unregistered(name)
            if before.entity != record.entity:
                self._carry(txn, name, record.entity, when)
            txn.put_recipient(record)
        return record

    @staticmethod
    def _carry(txn: QuotaTransaction, name: str, entity: str, at: datetime) -> None:
        """Count the Tweet IDs ``name`` received in the window against ``entity`` as well."""
        for bucket, count in txn.buckets(_RECEIVED.name, name, _RECEIVED.first_counted(at)):
            txn.add(TWEET_IDS.name, entity, bucket, count)

    def recipient(self, name: str) -> Recipient:
        """The recipient called ``name``; an unregistered one is a standard, own entity."""
        key = normal_name(name, "recipient")
        with self._store.transaction(write=False) as txn:
            found = txn.get_recipient(key)
        return found or Recipient.unregistered(key)

    def recipients(self) -> tuple[Recipient, ...]:
        """Every registered recipient, by name."""
        with self._store.transaction(write=False) as txn:
            return tuple(txn.list_recipients())

    @staticmethod
    def _key(spec: QuotaSpec, recipient: Recipient, requester: str | None) -> str:
        if spec.per == "entity":
            return recipient.entity
        if spec.per == "requester":
            if requester is None:  # pragma: no cover  # read only with a requester
                raise ConfigurationError(f"{spec.name} is counted per requester: name one")
            return requester
        return recipient.name

    @staticmethod
    def _usage(
        txn: QuotaTransaction,
        spec: QuotaSpec,
        recipient: Recipient,
        at: datetime,
        requester: str | None = None,
    ) -> QuotaUsage:
        key = QuotaLedger._key(spec, recipient, requester)
        rows = txn.buckets(spec.name, key, spec.first_counted(at))
        limit = None if spec.exemptible and recipient.standing.exempt else spec.limit
        return QuotaUsage(
            quota=spec.name,
            clause=spec.clause,
            key=key,
            used=sum(count for _, count in rows),
            limit=limit,
            at=at,
            next_release_at=spec.leaves_at(min(b for b, _ in rows)) if rows else None,
            resets_at=spec.leaves_at(max(b for b, _ in rows)) if rows else None,
        )

    @staticmethod
    def _specs(requester: str | None) -> tuple[QuotaSpec, ...]:
        return _RECIPIENT_SPECS if requester is None else (*_RECIPIENT_SPECS, REQUESTED_OBJECTS)

    def usage(
        self,
        recipient: str,
        *,
        at: datetime | None = None,
        requested_by: str | None = None,
    ) -> tuple[QuotaUsage, ...]:
        """Every quota's usage for ``recipient`` at ``at`` (now by default).

        Tweet IDs (per entity) and hydrated objects (per recipient) always; with
        ``requested_by``, also the hydrated objects that user of the Service asked for.
        """
        when = self._at(at)
        key = normal_name(recipient, "recipient")
        requester = None if requested_by is None else normal_name(requested_by, "requested_by")
        with self._store.transaction(write=False) as txn:
            record = txn.get_recipient(key) or Recipient.unregistered(key)
            return tuple(
                self._usage(txn, spec, record, when, requester) for spec in self._specs(requester)
            )

    def _one(self, name: str, quota: str | QuotaSpec, at: datetime | None) -> QuotaUsage:
        spec = _spec(quota)
        if spec.per == "requester":
            # Counted per user of the Service: ``name`` is the requester, not a recipient.
            return self.usage(PUBLIC, at=at, requested_by=name)[-1]
        return next(u for u in self.usage(name, at=at) if u.quota == spec.name)

    def remaining(
        self,
        recipient: str,
        quota: str | QuotaSpec = TWEET_IDS,
        *,
        at: datetime | None = None,
    ) -> int | None:
        """Units of ``quota`` ``recipient`` may still receive now; ``None`` means no limit.

        For ``"requested_objects"``, counted per user of the Service, ``recipient`` names the
        user who asks for exports.
        """
        return self._one(recipient, quota, at).remaining

    def resets_at(
        self,
        recipient: str,
        quota: str | QuotaSpec = TWEET_IDS,
        *,
        at: datetime | None = None,
    ) -> datetime | None:
        """When everything counted so far against ``quota`` has left its window."""
        return self._one(recipient, quota, at).resets_at

    def reserve(
        self,
        recipient: str,
        *,
        tweet_ids: int = 0,
        hydrated_objects: int = 0,
        requested_by: str | None = None,
        at: datetime | None = None,
        force: bool = False,
    ) -> Reservation:
        """Check and count a whole batch in one atomic step.

        Either every count fits its limit and all are counted, or nothing is (unless
        ``force``, which counts a batch that goes out anyway, as in ``monitor`` mode).
        Hydrated objects count against ``recipient`` and, when given, against the user of
        the Service who asked for them (``requested_by``), each with 50,000 a day.

        Raises:
            ConfigurationError: a negative count, or a name that is blank or unprintable.
            StoreUnavailable: the store cannot be read or written.
        """
        amounts = {TWEET_IDS.name: tweet_ids, HYDRATED_OBJECTS.name: hydrated_objects}
        for quota, amount in amounts.items():
            if type(amount) is not int or amount < 0:
                raise ConfigurationError(f"{quota} must be a count >= 0, got {amount!r}")
        amounts[REQUESTED_OBJECTS.name] = hydrated_objects if requested_by is not None else 0
        amounts[_RECEIVED.name] = tweet_ids
        when = self._at(at)
        name = normal_name(recipient, "recipient")
        requester = None if requested_by is None else normal_name(requested_by, "requested_by")
        with self._store.transaction() as txn:
            self._expire(txn, when)  # leases that ran out (a job that died) count no more
            record = txn.get_recipient(name) or Recipient.unregistered(name)
            return self._reserve(txn, record, requester, amounts, when, force=force)

    def _reserve(
        self,
        txn: QuotaTransaction,
        record: Recipient,
        requester: str | None,
        amounts: Mapping[str, int],
        when: datetime,
        *,
        force: bool,
    ) -> Reservation:
        specs = self._specs(requester)
        before = tuple(self._usage(txn, spec, record, when, requester) for spec in specs)
        exceeded = tuple(
            u.quota
            for u in before
            if amounts[u.quota] and u.limit is not None and u.used + amounts[u.quota] > u.limit
        )
        if exceeded and not force:
            return Reservation(
                reservation_id=None,
                granted=False,
                recipient=record,
                usage=before,
                exceeded=exceeded,
            )
        entries: list[Entry] = []
        for spec in (*specs, _RECEIVED):
            key = self._key(spec, record, requester)
            txn.prune(spec.name, key, spec.first_counted(when))
            if amounts[spec.name]:
                entries.append((spec.name, key, spec.bucket_of(when), amounts[spec.name]))
        reservation_id = None
        if entries:
            reservation_id = str(uuid.uuid4())
            for quota, key, bucket, amount in entries:
                txn.add(quota, key, bucket, amount)
            txn.save_reservation(reservation_id, when, entries)
        txn.prune_reservations(when - TWEET_IDS.window - TWEET_IDS.bucket)
        return Reservation(
            reservation_id=reservation_id,
            granted=not exceeded,
            recipient=record,
            usage=tuple(self._usage(txn, spec, record, when, requester) for spec in specs),
            exceeded=exceeded,
        )

    def lease(self, reservation_id: str, expires_at: datetime | None) -> bool:
        """Let a reservation be released by itself at ``expires_at`` unless committed first.

        A reservation made by a job that may die without releasing it (a distributed
        export's driver, killed) is leased: once ``expires_at`` has passed, the next
        `reserve` (or `expire`) releases it, as if its send had failed. ``None`` removes
        the lease (the reservation then stays until committed or released). Returns
        ``False`` if the reservation is unknown, committed or already released (a lease
        that ran out releases it).
        """
        when = None if expires_at is None else utc(expires_at)
        with self._store.transaction() as txn:
            return txn.set_lease(reservation_id, when)

    def expire(self, at: datetime | None = None) -> int:
        """Release every reservation whose lease has run out by ``at`` (now); return how many."""
        with self._store.transaction() as txn:
            return self._expire(txn, self._at(at))

    @staticmethod
    def _expire(txn: QuotaTransaction, when: datetime) -> int:
        released = 0
        for reservation_id in txn.expired(when):
            for quota, key, bucket, amount in txn.take_reservation(reservation_id) or ():
                txn.add(quota, key, bucket, -amount)
            released += 1
        return released

    def commit(self, reservation_id: str) -> bool:
        """Make a reservation final: the data was handed over, so it can no longer be released.

        Returns ``False`` if the reservation is unknown or was already committed or released.
        """
        with self._store.transaction() as txn:
            return txn.take_reservation(reservation_id) is not None

    def release(self, reservation_id: str) -> bool:
        """Uncount a reservation whose send failed; ``False`` if unknown or already released.

        Only the counts still inside their windows are taken back.
        """
        with self._store.transaction() as txn:
            entries = txn.take_reservation(reservation_id)
            if entries is None:
                return False
            for quota, key, bucket, amount in entries:
                txn.add(quota, key, bucket, -amount)
        return True


class _MemoryTransaction:
    """The quota operations on dictionaries, each logging how to undo itself."""

    def __init__(self, store: MemoryQuotaStore) -> None:
        self._s = store
        self.undo: list[Callable[[], object]] = []

    def buckets(self, quota: str, key: str, since: int) -> list[tuple[int, int]]:
        counts = self._s.counts.get((quota, key), {})
        return sorted((b, n) for b, n in counts.items() if b >= since and n > 0)

    def add(self, quota: str, key: str, bucket: int, amount: int) -> None:
        counts = self._s.counts.setdefault((quota, key), {})
        if bucket in counts:
            before = counts[bucket]
            self.undo.append(lambda: counts.__setitem__(bucket, before))
        elif amount > 0:
            self.undo.append(lambda: counts.pop(bucket, None))
        else:
            return
        counts[bucket] = max(0, counts.get(bucket, 0) + amount)

    def prune(self, quota: str, key: str, before: int) -> None:
        counts = self._s.counts.get((quota, key), {})
        gone = {b: counts.pop(b) for b in [b for b in counts if b < before]}
        if gone:
            self.undo.append(lambda: counts.update(gone))

    def save_reservation(self, reservation_id: str, at: datetime, entries: list[Entry]) -> None:
        self._s.reservations[reservation_id] = (at, list(entries))
        self.undo.append(lambda: self._s.reservations.pop(reservation_id, None))

    def take_reservation(self, reservation_id: str) -> list[Entry] | None:
        found = self._s.reservations.pop(reservation_id, None)
        if found is None:
            return None
        self.undo.append(lambda: self._s.reservations.__setitem__(reservation_id, found))
        self.set_lease(reservation_id, None, known=False)
        return found[1]

    def set_lease(
        self, reservation_id: str, expires_at: datetime | None, *, known: bool = True
    ) -> bool:
        if known and reservation_id not in self._s.reservations:
            return False
        leases = self._s.leases
        before = leases.get(reservation_id)
        if expires_at is None:
            leases.pop(reservation_id, None)
        else:
            leases[reservation_id] = expires_at
        self.undo.append(
            lambda: (
                leases.pop(reservation_id, None)
                if before is None
                else leases.__setitem__(reservation_id, before)
            )
        )
        return True

    def expired(self, at: datetime) -> list[str]:
        return sorted(r for r, until in self._s.leases.items() if until <= at)

    def prune_reservations(self, before: datetime) -> None:
        # Reservations are kept in the order they were made: stop at the first young one.
        reservations = self._s.reservations
        while reservations:
            oldest = next(iter(reservations))
            made, entries = reservations[oldest]
            if made >= before:
                break
            del reservations[oldest]
            self.undo.append(functools.partial(reservations.__setitem__, oldest, (made, entries)))
            self.set_lease(oldest, None, known=False)

    def get_recipient(self, name: str) -> Recipient | None:
        return self._s.recipients.get(name)

    def put_recipient(self, recipient: Recipient) -> None:
        recipients = self._s.recipients
        before = recipients.get(recipient.name)
        recipients[recipient.name] = recipient
        if before is None:
            self.undo.append(lambda: recipients.pop(recipient.name, None))
        else:
            self.undo.append(lambda: recipients.__setitem__(recipient.name, before))

    def list_recipients(self) -> list[Recipient]:
        return [self._s.recipients[name] for name in sorted(self._s.recipients)]


class MemoryQuotaStore:
    """Quota counts held in this process only: for tests and the default guard."""

    url = "memory://"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.counts: dict[tuple[str, str], dict[int, int]] = {}
        self.reservations: dict[str, tuple[datetime, list[Entry]]] = {}
        self.leases: dict[str, datetime] = {}
        self.recipients: dict[str, Recipient] = {}

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[QuotaTransaction]:  # noqa: ARG002  # one lock serves readers and writers
        """Run the body under the store's lock; undo its changes if it raises."""
        with self._lock:
            txn = _MemoryTransaction(self)
            try:
                yield txn
            except BaseException:
                for step in reversed(txn.undo):
                    step()
                raise

    def close(self) -> None:
        """Nothing to release."""


_TABLES = (
    (
        "CREATE TABLE twpolicy_quota_buckets ("
        " quota TEXT NOT NULL, key TEXT NOT NULL, bucket BIGINT NOT NULL, units BIGINT NOT NULL,"
        " PRIMARY KEY (quota, key, bucket))"
    ),
    (
        "CREATE TABLE twpolicy_quota_reservations ("
        " reservation_id TEXT PRIMARY KEY, made_at BIGINT NOT NULL, entries TEXT NOT NULL)"
    ),
    "CREATE INDEX twpolicy_quota_reservations_made_at ON twpolicy_quota_reservations (made_at)",
    (
        "CREATE TABLE twpolicy_quota_recipients ("
        " name TEXT PRIMARY KEY, entity TEXT NOT NULL, standing TEXT NOT NULL,"
        " approved_by TEXT, reference TEXT, terms_evidence TEXT, registered_at TEXT NOT NULL)"
    ),
)
#: Version 2: a reservation may hold a lease (`QuotaLedger.lease`), in seconds since the epoch.
_LEASES = (
    "ALTER TABLE twpolicy_quota_reservations ADD COLUMN expires_at BIGINT",
    (
        "CREATE INDEX twpolicy_quota_reservations_expires_at"
        " ON twpolicy_quota_reservations (expires_at)"
    ),
)
#: The quota ledger's tables, version by version.
SCHEMA = Schema(
    component="quotas",
    what="quota ledger",
    migrations=(
        Migration(sqlite=_TABLES, postgresql=_TABLES),
        Migration(sqlite=_LEASES, postgresql=_LEASES),
    ),
)


class _SqlTransaction:
    """The quota operations as SQL, the same text for SQLite and PostgreSQL."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def buckets(self, quota: str, key: str, since: int) -> list[tuple[int, int]]:
        rows = self._tx.all(
            "SELECT bucket, units FROM twpolicy_quota_buckets"
            " WHERE quota = ? AND key = ? AND bucket >= ? AND units > 0 ORDER BY bucket",
            (quota, key, since),
        )
        try:
            return [(int(bucket), int(units)) for bucket, units in rows]
        except (TypeError, ValueError) as exc:
            raise _damaged(f"counts of {quota} for {key!r}", exc) from None

    def add(self, quota: str, key: str, bucket: int, amount: int) -> None:
        if amount > 0:
            self._tx.execute(
                "INSERT INTO twpolicy_quota_buckets (quota, key, bucket, units)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (quota, key, bucket)"
                " DO UPDATE SET units = twpolicy_quota_buckets.units + excluded.units",
                (quota, key, bucket, amount),
            )
        else:
            self._tx.execute(
                "UPDATE twpolicy_quota_buckets"
                " SET units = CASE WHEN units + ? < 0 THEN 0 ELSE units + ? END"
                " WHERE quota = ? AND key = ? AND bucket = ?",
                (amount, amount, quota, key, bucket),
            )

    def prune(self, quota: str, key: str, before: int) -> None:
        self._tx.execute(
            "DELETE FROM twpolicy_quota_buckets WHERE quota = ? AND key = ? AND bucket < ?",
            (quota, key, before),
        )

    def save_reservation(self, reservation_id: str, at: datetime, entries: list[Entry]) -> None:
        self._tx.execute(
            "INSERT INTO twpolicy_quota_reservations (reservation_id, made_at, entries)"
            " VALUES (?, ?, ?)",
            (reservation_id, int(at.timestamp()), json.dumps(entries)),
        )

    def take_reservation(self, reservation_id: str) -> list[Entry] | None:
        row = self._tx.one(
            "SELECT entries FROM twpolicy_quota_reservations WHERE reservation_id = ?",
            (reservation_id,),
        )
        if row is None:
            return None
        self._tx.execute(
            "DELETE FROM twpolicy_quota_reservations WHERE reservation_id = ?", (reservation_id,)
        )
        try:
            return [(str(q), str(k), int(b), int(n)) for q, k, b, n in json.loads(row[0])]
        except (TypeError, ValueError) as exc:
            raise _damaged(f"reservation {reservation_id}", exc) from None

    def prune_reservations(self, before: datetime) -> None:
        self._tx.execute(
            "DELETE FROM twpolicy_quota_reservations WHERE made_at < ?", (int(before.timestamp()),)
        )

    def set_lease(self, reservation_id: str, expires_at: datetime | None) -> bool:
        known = self._tx.one(
            "SELECT 1 FROM twpolicy_quota_reservations WHERE reservation_id = ?",
            (reservation_id,),
        )
        if known is None:
            return False
        self._tx.execute(
            "UPDATE twpolicy_quota_reservations SET expires_at = ? WHERE reservation_id = ?",
            (None if expires_at is None else math.ceil(expires_at.timestamp()), reservation_id),
        )
        return True

    def expired(self, at: datetime) -> list[str]:
        rows = self._tx.all(
            "SELECT reservation_id FROM twpolicy_quota_reservations"
            " WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY reservation_id",
            (int(at.timestamp()),),
        )
        return [str(row[0]) for row in rows]

    def get_recipient(self, name: str) -> Recipient | None:
        row = self._tx.one(
            "SELECT name, entity, standing, approved_by, reference, terms_evidence, registered_at"
            " FROM twpolicy_quota_recipients WHERE name = ?",
            (name,),
        )
        return None if row is None else _recipient(row)

    def put_recipient(self, recipient: Recipient) -> None:
        self._tx.execute("DELETE FROM twpolicy_quota_recipients WHERE name = ?", (recipient.name,))
        self._tx.execute(
            "INSERT INTO twpolicy_quota_recipients (name, entity, standing, approved_by,"
            " reference, terms_evidence, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                recipient.name,
                recipient.entity,
                recipient.standing.value,
                recipient.approved_by,
                recipient.reference,
                recipient.terms_evidence,
                (recipient.registered_at or utcnow()).isoformat(),
            ),
        )

    def list_recipients(self) -> list[Recipient]:
        rows = self._tx.all(
            "SELECT name, entity, standing, approved_by, reference, terms_evidence, registered_at"
            " FROM twpolicy_quota_recipients ORDER BY name"
        )
        return [_recipient(row) for row in rows]


def _recipient(row: tuple[Any, ...]) -> Recipient:
    name, entity, standing, approved_by, reference, terms, registered_at = row
    try:
        return Recipient(
            name=name,
            entity=entity,
            standing=standing,
            approved_by=approved_by,
            reference=reference,
            terms_evidence=terms,
            registered_at=datetime.fromisoformat(registered_at),
        )
    except (TypeError, ValueError) as exc:
        raise _damaged(f"record of recipient {name!r}", exc) from None


def _damaged(what: str, exc: Exception) -> StoreUnavailable:
    """A row changed behind twpolicy's back: refuse to decide on it."""
    return StoreUnavailable(
        f"the quota ledger's {what} is damaged ({exc}); restore the ledger from a backup. "
        "Nothing was decided."
    )


class SqlQuotaStore:
    """Quota counts in a SQLite file or a PostgreSQL database, shared by processes."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self.url = database.url.display

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[QuotaTransaction]:
        """One database transaction; writers hold the quota component's lock."""
        with self._db.write() if write else self._db.read() as tx:
            yield _SqlTransaction(tx)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def open_quotas(
    url: str, *, clock: Callable[[], datetime] = utcnow, create: bool = True
) -> QuotaLedger:
    """Open the quota ledger at ``url``, creating it if needed (and ``create``).

    Args:
        url: ``memory://`` (this process only), ``sqlite:///path/to/quotas.db`` (the
            embedded default, shared by processes on one host) or
            ``postgresql://user@host/dbname`` (needs ``twpolicy[postgresql]``); query options
            ``timeout`` and, for PostgreSQL, ``schema``, as for the consent ledger.
        clock: returns the current, timezone-aware time when a call gives none.
        create: whether a ledger that does not exist yet may be created (readers pass
            ``False``, so that a mistyped URL is an error, not a new empty ledger).

    Raises:
        ConfigurationError: a malformed or unknown URL.
        StoreUnavailable: the store cannot be reached, is corrupt, has a newer schema, or
            does not exist and ``create`` is false.
    """
    parsed = parse_url(url, what="quota ledger")
    if parsed.scheme == "memory":
        return QuotaLedger(MemoryQuotaStore(), clock=clock)
    return QuotaLedger(SqlQuotaStore(open_database(parsed, SCHEMA, create=create)), clock=clock)

"""Sliding windows of write actions, shared by processes: bulk caps and duplicate content.

The restricted-use page forbids "bulk, aggressive, or spammy actions, including bulk
following" and posting "identical or substantially similar content across multiple
accounts". Both are limits on what many processes do together, so they are counted here, in
one store (``memory://`` for one process, SQLite or PostgreSQL for many), one row per action:
the ``automation.bulk_limit`` and ``automation.no_duplicates`` rules read the counts (pure),
and the permit reserves a row atomically (`WindowLedger.reserve`: check and insert in one
write transaction), keeps it when the action happened and deletes it when it did not.

Near-identical text is found by the exact Jaccard similarity of character 5-gram sets of the
normalised text (case folded, URLs, mentions, punctuation and runs of whitespace removed):
for short texts such as posts a word changed, added or reordered moves only a few of a
few hundred shingles, while unrelated texts share almost none. Sets are at most 280 small
integers, so comparing exactly (no MinHash estimate, no error bound to argue) is cheap.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import json
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Protocol

import attrs

from twpolicy._stores._sql import Database, Migration, Schema, Transaction, open_database, parse_url
from twpolicy._stores._time import utc, utcnow
from twpolicy.exceptions import ConfigurationError, StoreUnavailable

__all__ = [
    "SHINGLE",
    "WindowLedger",
    "WindowReader",
    "WindowUsage",
    "WindowVerdict",
    "fingerprint",
    "jaccard",
    "normalise_text",
    "open_windows",
]

#: Characters per shingle: long enough that unrelated texts share few, short enough that one
#: changed word changes few.
SHINGLE = 5
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)[@\uff20]\w{1,15}")
_PUNCT = re.compile(r"[^\w\s]+")


def normalise_text(text: str) -> str:
    """``text`` as compared for duplicates: folded case, no URLs, mentions or punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _MENTION.sub(" ", _URL.sub(" ", folded))
    return " ".join(_PUNCT.sub(" ", folded).split())


def fingerprint(text: str) -> tuple[int, ...]:
    """The sorted 32-bit hashes of ``text``'s normalised character 5-grams (stable anywhere)."""
    norm = normalise_text(text)
    grams = {norm[i : i + SHINGLE] for i in range(max(1, len(norm) - SHINGLE + 1))}
    return tuple(
        sorted(
            {
                int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "big")
                for g in grams
            }
        )
    )


def jaccard(first: tuple[int, ...], second: tuple[int, ...]) -> float:
    """Shared shingles over all shingles of two fingerprints (1.0 for two empty ones)."""
    a, b = set(first), set(second)
    union = len(a | b)
    return 1.0 if union == 0 else len(a & b) / union


@attrs.frozen
class WindowUsage:
    """How much of one window is used at one time.

    Attributes:
        key: the window (``"follows:1234"``).
        used: actions counted in the window.
        frees_at: when the oldest counted action leaves the window (``None`` if none).
    """

    key: str
    used: int
    frees_at: datetime | None


@attrs.frozen
class WindowVerdict:
    """The answer to one `WindowLedger.reserve`.

    Attributes:
        reservation_id: the row counted, for `WindowLedger.release`; ``None`` if refused.
        usage: the window's usage before counting.
        similar_account: the other account that posted similar content, when refused so.
        similarity: that content's Jaccard similarity.
        similar_frees_at: when that content leaves the window.
    """

    reservation_id: str | None
    usage: WindowUsage
    similar_account: str | None = None
    similarity: float = 0.0
    similar_frees_at: datetime | None = None

    @property
    def granted(self) -> bool:
        """Whether the action was counted."""
        return self.reservation_id is not None


class WindowReader(Protocol):
    """The read side of a window ledger: what rules may ask of it."""

    def usage(
        self, key: str, window: timedelta, *, at: datetime, excluding: frozenset[str] = ...
    ) -> WindowUsage:
        """Actions counted in ``key`` within ``window`` before ``at``, but ``excluding``."""
        ...

    def similar(
        self,
        key: str,
        content: tuple[int, ...],
        window: timedelta,
        *,
        at: datetime,
        account: str,
        threshold: float,
    ) -> tuple[str, float, datetime] | None:
        """Another account's content in ``key`` at least ``threshold`` similar, if any."""
        ...


# A row: (event id, account, at in ms, fingerprint).
_Row = tuple[str, str, int, tuple[int, ...]]


class _Tx(Protocol):
    def rows(self, key: str, since_ms: int) -> list[_Row]: ...
    def count(self, key: str, since_ms: int) -> tuple[int, int | None]: ...
    def others(self, key: str, since_ms: int, account: str) -> list[_Row]: ...
    def insert(
        self, event_id: str, key: str, account: str, at_ms: int, fp: tuple[int, ...]
    ) -> None: ...
    def delete(self, event_id: str) -> bool: ...
    def prune(self, key: str, before_ms: int) -> None: ...


class _Window:
    """One key's rows in time order, with how many each account has: reads cost O(answer).

    Counting is a binary search; other accounts' rows are not looked for when only the asking
    account has any (the common case of one account's own caps).
    """

    __slots__ = ("accounts", "rows", "times")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.rows: list[_Row] = []
        self.accounts: dict[str, int] = {}

    def since(self, since_ms: int) -> int:
        return bisect.bisect_left(self.times, since_ms)

    def add(self, row: _Row) -> None:
        at_ms = row[2]
        if not self.times or self.times[-1] <= at_ms:
            self.times.append(at_ms)
            self.rows.append(row)
        else:  # an earlier time than the last (a clock set back): keep the order
            index = bisect.bisect_right(self.times, at_ms)
            self.times.insert(index, at_ms)
            self.rows.insert(index, row)
        self.accounts[row[1]] = self.accounts.get(row[1], 0) + 1

    def _uncount(self, account: str) -> None:
        left = self.accounts[account] - 1
        if left:
            self.accounts[account] = left
        else:
            del self.accounts[account]

    def remove(self, event_id: str) -> bool:
        for index, row in enumerate(self.rows):
            if row[0] == event_id:
                del self.rows[index], self.times[index]
                self._uncount(row[1])
                return True
        return False  # pragma: no cover  # the store's index names only rows it holds

    def cut(self, before_ms: int) -> list[_Row]:
        index = self.since(before_ms)
        gone = self.rows[:index]
        del self.rows[:index], self.times[:index]
        for row in gone:
            self._uncount(row[1])
        return gone


class _MemoryTx:
    def __init__(self, store: _MemoryStore) -> None:
        self._s = store

    def _window(self, key: str) -> _Window:
        window = self._s.windows.get(key)
        return _Window() if window is None else window

    def rows(self, key: str, since_ms: int) -> list[_Row]:
        window = self._window(key)
        return window.rows[window.since(since_ms) :]

    def count(self, key: str, since_ms: int) -> tuple[int, int | None]:
        window = self._window(key)
        index = window.since(since_ms)
        used = len(window.times) - index
        return used, window.times[index] if used else None

    def others(self, key: str, since_ms: int, account: str) -> list[_Row]:
        window = self._window(key)
        accounts = window.accounts
        if not accounts or (len(accounts) == 1 and account in accounts):
            return []
        return [r for r in window.rows[window.since(since_ms) :] if r[1] != account]

    def insert(
        self, event_id: str, key: str, account: str, at_ms: int, fp: tuple[int, ...]
    ) -> None:
        self._s.windows.setdefault(key, _Window()).add((event_id, account, at_ms, fp))
        self._s.keys[event_id] = key

    def delete(self, event_id: str) -> bool:
        key = self._s.keys.pop(event_id, None)
        return key is not None and self._s.windows[key].remove(event_id)

    def prune(self, key: str, before_ms: int) -> None:
        window = self._s.windows.get(key)
        if window is not None and window.times and window.times[0] < before_ms:
            for row in window.cut(before_ms):
                self._s.keys.pop(row[0], None)


class _MemoryScope:
    """One lock around the in-memory store: a plain context manager, reused (no generator)."""

    __slots__ = ("_lock", "_tx")

    def __init__(self, tx: _MemoryTx) -> None:
        self._lock = threading.Lock()
        self._tx = tx

    def __enter__(self) -> _MemoryTx:
        self._lock.acquire()
        return self._tx

    def __exit__(self, *_: object) -> None:
        self._lock.release()


class _MemoryStore:
    url = "memory://"

    def __init__(self) -> None:
        self._scope = _MemoryScope(_MemoryTx(self))
        self.windows: dict[str, _Window] = {}
        self.keys: dict[str, str] = {}

    def transaction(self, *, write: bool = True) -> _MemoryScope:  # noqa: ARG002  # one lock
        # Every change is made after the checks that can fail: nothing to undo.
        return self._scope

    def close(self) -> None:
        """Nothing to release."""


_TABLES = (
    (
        "CREATE TABLE twpolicy_window_events ("
        " event_id TEXT PRIMARY KEY, window_key TEXT NOT NULL, account TEXT NOT NULL,"
        " at_ms BIGINT NOT NULL, fingerprint TEXT NOT NULL)"
    ),
    "CREATE INDEX twpolicy_window_events_key_at ON twpolicy_window_events (window_key, at_ms)",
)
#: The window ledger's tables, version by version.
SCHEMA = Schema(
    component="windows",
    what="action window ledger",
    migrations=(Migration(sqlite=_TABLES, postgresql=_TABLES),),
)


class _SqlTx:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def rows(self, key: str, since_ms: int) -> list[_Row]:
        found = self._tx.all(
            "SELECT event_id, account, at_ms, fingerprint FROM twpolicy_window_events"
            " WHERE window_key = ? AND at_ms >= ? ORDER BY at_ms",
            (key, since_ms),
        )
        try:
            return [(str(e), str(a), int(t), tuple(json.loads(f))) for e, a, t, f in found]
        except (TypeError, ValueError) as exc:
            raise StoreUnavailable(
                f"the action window ledger's rows for {key!r} are damaged ({exc}); restore it "
                "from a backup. Nothing was decided."
            ) from None

    def count(self, key: str, since_ms: int) -> tuple[int, int | None]:
        row = self._tx.one(
            "SELECT COUNT(*), MIN(at_ms) FROM twpolicy_window_events"
            " WHERE window_key = ? AND at_ms >= ?",
            (key, since_ms),
        )
        used, oldest = row if row is not None else (0, None)  # an aggregate always has a row
        return int(used), None if oldest is None else int(oldest)

    def others(self, key: str, since_ms: int, account: str) -> list[_Row]:
        return [r for r in self.rows(key, since_ms) if r[1] != account]

    def insert(
        self, event_id: str, key: str, account: str, at_ms: int, fp: tuple[int, ...]
    ) -> None:
        self._tx.execute(
            "INSERT INTO twpolicy_window_events (event_id, window_key, account, at_ms, fingerprint)"
            " VALUES (?, ?, ?, ?, ?)",
            (event_id, key, account, at_ms, json.dumps(list(fp))),
        )

    def delete(self, event_id: str) -> bool:
        row = self._tx.one("SELECT 1 FROM twpolicy_window_events WHERE event_id = ?", (event_id,))
        self._tx.execute("DELETE FROM twpolicy_window_events WHERE event_id = ?", (event_id,))
        return row is not None

    def prune(self, key: str, before_ms: int) -> None:
        self._tx.execute(
            "DELETE FROM twpolicy_window_events WHERE window_key = ? AND at_ms < ?",
            (key, before_ms),
        )


class _SqlStore:
    def __init__(self, database: Database) -> None:
        self._db = database
        self.url = database.url.display

    @contextlib.contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[_Tx]:
        with self._db.write() if write else self._db.read() as tx:
            yield _SqlTx(tx)

    def close(self) -> None:
        self._db.close()


class _Store(Protocol):
    url: str

    def transaction(self, *, write: bool = True) -> contextlib.AbstractContextManager[_Tx]: ...
    def close(self) -> None: ...


def _ms(at: datetime) -> int:
    return int((at if at.tzinfo is timezone.utc else utc(at)).timestamp() * 1000)


class _RowIds:
    """Row IDs shaped as UUIDs: a random per-process prefix and a counter (cheaper than uuid4).

    Unique across processes sharing a store: the prefix is drawn again in a forked child.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"


_ROW_IDS = _RowIds()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ROW_IDS.reset)


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


class WindowLedger:
    """Write actions per window key, one row each, in a store shared by processes.

    Open one with `open_windows` and give it to ``Guard(windows=...)``.
    """

    def __init__(self, store: _Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock

    def __repr__(self) -> str:
        return f"twpolicy.WindowLedger({self._store.url!r})"

    @property
    def url(self) -> str:
        """Where the ledger is kept."""
        return self._store.url

    def close(self) -> None:
        """Close the underlying store."""
        self._store.close()

    @staticmethod
    def _usage(rows: list[_Row], key: str, window: timedelta) -> WindowUsage:
        oldest = min((r[2] for r in rows), default=None)
        return WindowLedger._counted(key, len(rows), oldest, window)

    @staticmethod
    def _counted(key: str, used: int, oldest: int | None, window: timedelta) -> WindowUsage:
        frees = None if oldest is None else _from_ms(oldest) + window
        return WindowUsage(key, used, frees)

    def usage(
        self,
        key: str,
        window: timedelta,
        *,
        at: datetime | None = None,
        excluding: frozenset[str] = frozenset(),
    ) -> WindowUsage:
        """Actions counted in ``key`` within ``window`` before ``at`` (now by default).

        ``excluding``: reservation IDs not to count (a retry's own first try).
        """
        when = _ms(self._clock() if at is None else at)
        since = when - int(window.total_seconds() * 1000)
        with self._store.transaction(write=False) as tx:
            if not excluding:
                return self._counted(key, *tx.count(key, since), window)
            rows = tx.rows(key, since)
        return self._usage([r for r in rows if r[0] not in excluding], key, window)

    @staticmethod
    def _similar(
        rows: list[_Row],
        content: tuple[int, ...],
        window: timedelta,
        account: str,
        threshold: float,
    ) -> tuple[str, float, datetime] | None:
        mine = set(content)
        size = len(mine)
        for _, other, at_ms, fp in rows:
            # |A n B| / |A u B| <= min/max of the sizes: most unlike texts are skipped unread.
            if other == account or not fp or min(size, len(fp)) < threshold * max(size, len(fp)):
                continue
            shared = len(mine.intersection(fp))
            score = shared / (size + len(fp) - shared)
            if score >= threshold:
                return other, score, _from_ms(at_ms) + window
        return None

    def similar(
        self,
        key: str,
        content: tuple[int, ...],
        window: timedelta,
        *,
        at: datetime | None = None,
        account: str,
        threshold: float,
    ) -> tuple[str, float, datetime] | None:
        """Another account's content in ``key`` within ``window`` at least ``threshold`` alike."""
        when = _ms(self._clock() if at is None else at)
        with self._store.transaction(write=False) as tx:
            rows = tx.others(key, when - int(window.total_seconds() * 1000), account)
        return self._similar(rows, content, window, account, threshold)

    def reserve(  # one atomic step takes every condition
        self,
        key: str,
        *,
        account: str,
        window: timedelta,
        limit: int | None = None,
        content: tuple[int, ...] = (),
        threshold: float = 1.0,
        at: datetime | None = None,
        force: bool = False,
    ) -> WindowVerdict:
        """Check and count one action in one atomic step.

        Refused (nothing counted) when ``limit`` actions are counted in ``window`` already,
        or when ``content`` is given and another account's content in the window is at
        least ``threshold`` similar; ``force`` counts it anyway (a rule in warn mode).
        """
        if limit is not None and (type(limit) is not int or limit < 0):
            raise ConfigurationError(f"a window limit must be a count >= 0, got {limit!r}")
        when = _ms(self._clock() if at is None else at)
        since = when - int(window.total_seconds() * 1000)
        with self._store.transaction() as tx:
            tx.prune(key, since)
            usage = self._counted(key, *tx.count(key, since), window)
            if not force:
                if limit is not None and usage.used >= limit:
                    return WindowVerdict(None, usage)
                if content:
                    rows = tx.others(key, since, account)
                    hit = self._similar(rows, content, window, account, threshold)
                    if hit is not None:
                        return WindowVerdict(None, usage, hit[0], hit[1], hit[2])
            event_id = _ROW_IDS.next()
            tx.insert(event_id, key, account, when, content)
        return WindowVerdict(event_id, usage)

    def release(self, reservation_id: str) -> bool:
        """Uncount an action that did not happen; ``False`` if unknown or released already."""
        with self._store.transaction() as tx:
            return tx.delete(reservation_id)


def open_windows(
    url: str, *, clock: Callable[[], datetime] = utcnow, create: bool = True
) -> WindowLedger:
    """Open the action window ledger at ``url`` (``memory://``, ``sqlite:///...``, ``postgresql://...``).

    Every process that acts for the same accounts must use the same store (and the same
    limits), or the caps count each process apart.

    Raises:
        ConfigurationError: a malformed or unknown URL.
        StoreUnavailable: the store cannot be reached, is corrupt or has a newer schema.
    """
    parsed = parse_url(url, what="action window ledger")
    if parsed.scheme == "memory":
        return WindowLedger(_MemoryStore(), clock=clock)
    return WindowLedger(_SqlStore(open_database(parsed, SCHEMA, create=create)), clock=clock)

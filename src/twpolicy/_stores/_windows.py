"""Sliding windows of write actions, shared by processes: bulk caps and duplicate content.

The restricted-use page forbids "bulk, aggressive, or spammy actions, including bulk
following" and posting "identical or substantially similar content across multiple
accounts". Both are limits on what many processes do together, so they are counted here, in
one store (``memory://`` for one process, SQLite or PostgreSQL for many), one row per action:
the ``automation.bulk_limit`` and ``automation.no_duplicates`` rules read the counts (pure),
and the permit reserves a row atomically (`WindowLedger.reserve`: check and insert in one
write transaction), keeps it when the action happened and deletes it when it did not.

Near-identical text is found by the Jaccard similarity of character 5-gram sets of the
normalised text (case folded, URLs, mentions, punctuation and runs of whitespace removed):
for short texts such as posts a word changed, added or reordered moves only a few of a
few hundred shingles, while unrelated texts share almost none. Which stored posts are
compared is found through an index, so the cost of a check does not grow with the window:
each post is stored with `BANDS` band keys of a MinHash signature (`ROWS` minimum hashes
each); only posts sharing at least `SHARED_BANDS` band keys are read and compared,
exactly. With p = J**ROWS the chance that one band agrees, two posts of similarity J share
two or more of the 96 with probability 1 - (1-p)**96 - 96 p (1-p)**95: 0.99996 at the 0.5
threshold, 1 - 5e-7 at 0.55, 1 - 2e-9 at 0.6, and 1 for identical normalised text (every
band agrees). Unrelated posts (J about 0.03, 0.07 at most) share two with probability under
4e-4, so a check reads a handful of posts whatever the window holds.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import hashlib
import json
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

import attrs

from twpolicy._stores._ids import CountedIds
from twpolicy._stores._ratelimits import RATE_TABLES, RateWindow, SpentWindow
from twpolicy._stores._sql import Database, Migration, Schema, Transaction, open_database, parse_url
from twpolicy._stores._time import utc, utcnow
from twpolicy.exceptions import ConfigurationError, StoreUnavailable

__all__ = [
    "BANDS",
    "ROWS",
    "SHARED_BANDS",
    "SHINGLE",
    "WindowLedger",
    "WindowReader",
    "WindowUsage",
    "WindowVerdict",
    "band_keys",
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
_INNER_PUNCT = re.compile(r"(?<=\w)[^\w\s]+(?=\w)")


#: Unicode categories dropped before comparing: marks (accents stacked on letters) and format
#: characters (zero-width spaces and joiners, soft hyphens, direction marks).
_INVISIBLE = frozenset({"Mn", "Me", "Cf"})


def _joined(words: list[str]) -> list[str]:
    """Runs of three or more one-character words made one word ("s a l e" is "sale")."""
    out: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        out.extend(["".join(run)] if len(run) >= 3 else run)  # noqa: PLR2004  # a run
        run = []
        if word:
            out.append(word)
    return out


def normalise_text(text: str) -> str:
    """``text`` as compared for duplicates: folded case, no URLs, mentions or punctuation.

    Compatibility forms are folded (full-width letters, ligatures), accents and invisible
    characters dropped, punctuation inside a word ("s.a.l.e") and a word spelt out in
    single letters ("s a l e") joined, so that none of them can make a copy look new.
    """
    if text.isascii():
        # Both normal forms leave ASCII as it is, and it has no mark or format character.
        folded = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        visible = "".join(c for c in decomposed if unicodedata.category(c) not in _INVISIBLE)
        folded = unicodedata.normalize("NFKC", visible).casefold()
    folded = _MENTION.sub(" ", _URL.sub(" ", folded))
    folded = _INNER_PUNCT.sub("", folded)
    return " ".join(_joined(_PUNCT.sub(" ", folded).split()))


def _gram_hash(gram: str) -> int:
    """A 5-gram's 32-bit hash: the first 4 bytes of its BLAKE2b (what stores hold)."""
    return int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=4).digest(), "big")


#: 5-gram hashes already computed: posts share most of their 5-grams with earlier posts
#: (words, endings, spaces), and a dictionary hit costs a twentieth of a BLAKE2b. Bounded:
#: emptied when full, so it holds at most a few MB of short text fragments.
_GRAM_HASHES: dict[str, int] = {}
_GRAM_SLOTS = 1 << 16


def fingerprint(text: str) -> tuple[int, ...]:
    """The sorted 32-bit hashes of ``text``'s normalised character 5-grams (stable anywhere)."""
    norm = normalise_text(text)
    grams = {norm[i : i + SHINGLE] for i in range(max(1, len(norm) - SHINGLE + 1))}
    known = _GRAM_HASHES
    if len(known) + len(grams) > _GRAM_SLOTS:
        known.clear()
    hashes = set()
    for gram in grams:
        value = known.get(gram)
        if value is None:
            value = known[gram] = _gram_hash(gram)
        hashes.add(value)
    return tuple(sorted(hashes))


#: Bands of the MinHash signature a post is indexed under, and minimum hashes per band: posts
#: sharing one band key are compared. 96 bands of 3 find a pair at the 0.5 threshold with
#: probability 1 - (1 - 0.5**3)**96 > 1 - 3e-6 (see the module docstring).
BANDS = 96
ROWS = 3
#: Band keys a stored post must share with a new one to be compared with it.
SHARED_BANDS = 2
_MASK = (1 << 64) - 1


def _hash_parameters() -> tuple[tuple[int, int], ...]:
    """Odd multipliers and offsets of the BANDS * ROWS hash functions (the same everywhere)."""
    found = []
    for n in range(BANDS * ROWS):
        digest = hashlib.blake2b(f"twpolicy-minhash-{n}".encode(), digest_size=16).digest()
        found.append((int.from_bytes(digest[:8], "big") | 1, int.from_bytes(digest[8:], "big")))
    return tuple(found)


_HASHES = _hash_parameters()


def _minima_python(content: tuple[int, ...]) -> list[int]:
    """The ``BANDS * ROWS`` minimum hashes of a fingerprint, in Python (about 3 ms a post)."""
    return [min(((a * x + c) & _MASK) >> 32 for x in content) for a, c in _HASHES]


def _minima_numpy(content: tuple[int, ...]) -> list[int]:
    """The same minima with numpy's wrapping ``uint64`` arithmetic (about 50x faster)."""
    np = _numpy()
    multipliers, offsets = _numpy_hashes()
    shingles = np.fromiter(content, dtype=np.uint64, count=len(content))
    values = np.multiply.outer(multipliers, shingles)  # wraps modulo 2**64, as _MASK does
    values += offsets[:, None]
    minima: list[int] = (values.min(axis=1) >> np.uint64(32)).tolist()
    return minima


@functools.cache
def _numpy() -> Any:
    """numpy, if installed (the ``fast`` extra), else ``None``; imported on the first post."""
    try:
        import numpy as np  # noqa: PLC0415  # optional, and only writes need it
    except ImportError:
        return None
    return np


@functools.cache
def _numpy_hashes() -> tuple[Any, Any]:
    np = _numpy()
    return (
        np.array([a for a, _ in _HASHES], dtype=np.uint64),
        np.array([c for _, c in _HASHES], dtype=np.uint64),
    )


def signature(content: tuple[int, ...]) -> list[int]:
    """The MinHash signature of a non-empty fingerprint: numpy when installed, else Python.

    Both give the same integers (a property test holds them equal), so band keys stored by a
    process with numpy match those of one without.
    """
    return _minima_numpy(content) if _numpy() is not None else _minima_python(content)


@functools.lru_cache(maxsize=256)
def band_keys(content: tuple[int, ...]) -> tuple[int, ...]:
    """The band keys a fingerprint is indexed under: ``BANDS`` 56-bit integers (``()`` if empty).

    Each band hashes its ``ROWS`` minimum hashes (multiply-shift hashing of the 32-bit
    shingle hashes) with the band's number, so equal keys mean equal minima in one band.
    """
    if not content:
        return ()
    minima = signature(content)
    # b"band:min:min:min" for every band, formatted in one C call: the same bytes the keys
    # were always hashed from.
    fields: list[int] = [0] * (BANDS * (ROWS + 1))
    fields[0 :: ROWS + 1] = _BAND_NUMBERS
    for row in range(ROWS):
        fields[row + 1 :: ROWS + 1] = minima[row::ROWS]
    texts = (_BAND_TEXTS % tuple(fields)).split(b"\n")
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    keys = {from_bytes(blake2b(text, digest_size=7).digest(), "big") for text in texts[:BANDS]}
    return tuple(sorted(keys))


_BAND_NUMBERS = list(range(BANDS))
_BAND_TEXTS = (b":".join([b"%d"] * (ROWS + 1)) + b"\n") * BANDS


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
        usage: the window's usage before counting (counted only when a limit was given:
            content alone is found through its index, never by reading the window).
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

    def spent(self, who: RateWindow, *, at: datetime) -> tuple[SpentWindow, ...]:
        """X's windows recorded as spent at ``at`` for ``who``'s route and any of its holders."""
        ...


# A row: (event id, account, at in ms, fingerprint).
_Row = tuple[str, str, int, tuple[int, ...]]


class _Tx(Protocol):
    def version(self, key: str) -> int | None: ...
    def count(
        self, key: str, since_ms: int, excluding: frozenset[str]
    ) -> tuple[int, int | None]: ...
    def shared(self, key: str, bands: tuple[int, ...], account: str) -> dict[str, int]: ...
    def candidates(
        self, key: str, bands: tuple[int, ...], since_ms: int, account: str
    ) -> list[_Row]: ...
    def insert(
        self,
        event_id: str,
        key: str,
        account: str,
        at_ms: int,
        fp: tuple[int, ...],
        *,
        bands: tuple[int, ...] = (),
    ) -> None: ...
    def delete(self, event_id: str) -> bool: ...
    def prune(self, key: str, before_ms: int) -> None: ...
    def spent(
        self, route: str, holders: tuple[tuple[str, str], ...], now_ms: int
    ) -> list[_Spent]: ...
    def put_spent(self, row: _Spent, now_ms: int) -> None: ...


# A spent rate window: (route, scope, holder, credential, reset in ms, limit, source).
_Spent = tuple[str, str, str, str, int, "int | None", str]


class _MemoryTx:
    def __init__(self, store: _MemoryStore) -> None:
        self._s = store

    def version(self, key: str) -> int | None:
        """How many rows were ever added to ``key``: the same number, none was meanwhile."""
        return self._s.added.get(key, 0)

    def count(self, key: str, since_ms: int, excluding: frozenset[str]) -> tuple[int, int | None]:
        # The key's rows in time order: what is in the window is a slice, found by bisection.
        ages = self._s.ages.get(key)
        if not ages:
            return 0, None
        start = bisect.bisect_left(ages, (since_ms,))
        used = len(ages) - start
        if excluding:
            kept = [at for at, event_id in ages[start:] if event_id not in excluding]
            return len(kept), kept[0] if kept else None
        return used, ages[start][0] if used else None

    def shared(self, key: str, bands: tuple[int, ...], account: str) -> dict[str, int]:
        posters = self._s.posters.get(key)
        if not posters or (len(posters) == 1 and account in posters):
            return {}  # every indexed post is the account's own: nothing to read
        index = self._index(key)
        # The index keeps each band's posts by account, so one account's own posts (an account
        # may repeat itself: the rule is about copies across accounts) are never read.
        shared: dict[str, int] = {}
        for band in bands:
            holders = index.get(band)
            if holders is None or (account in holders and len(holders) == 1):
                continue
            for owner, ids in holders.items():
                if owner != account:
                    for event_id in ids:
                        shared[event_id] = shared.get(event_id, 0) + 1
        return shared

    def candidates(
        self, key: str, bands: tuple[int, ...], since_ms: int, account: str
    ) -> list[_Row]:
        shared = self.shared(key, bands, account)
        if not shared:
            return []
        rows = self._s.rows[key]
        picked = (rows[e] for e, count in shared.items() if count >= SHARED_BANDS)
        return sorted(r for r in picked if r[2] >= since_ms)

    def insert(
        self,
        event_id: str,
        key: str,
        account: str,
        at_ms: int,
        fp: tuple[int, ...],
        *,
        bands: tuple[int, ...] = (),
    ) -> None:
        store = self._s
        store.added[key] = store.added.get(key, 0) + 1
        store.rows.setdefault(key, {})[event_id] = (event_id, account, at_ms, fp)
        store.keys[event_id] = key
        ages = store.ages.setdefault(key, [])
        if not ages or ages[-1] < (at_ms, event_id):
            ages.append((at_ms, event_id))  # the common case: time moves on
        else:
            bisect.insort(ages, (at_ms, event_id))
        if bands:
            posters = store.posters.get(key)
            if posters is None:
                posters = store.posters[key] = {}
            posters[account] = posters.get(account, 0) + 1
            store.indexed[event_id] = bands
            index = store.bands.get(key)
            if index is not None:
                self._add(index, event_id, account, bands)
            elif len(posters) > 1:
                self._index(key)  # a second account: its posts can now be copies of another's

    def _index(self, key: str) -> dict[int, dict[str, set[str]]]:
        """The band index of ``key``'s posts, built from their band keys on first need.

        While one account alone has indexed posts under a key, no check ever reads the index
        (an account may repeat itself), so it is not kept: a post then costs one entry, not
        `BANDS`. It is built when a second account's post or check needs it, and kept,
        entry by entry, until the key holds no indexed post.
        """
        store = self._s
        index = store.bands.get(key)
        if index is None:
            index = store.bands[key] = {}
            indexed = store.indexed
            for event_id, row in store.rows.get(key, {}).items():
                bands = indexed.get(event_id)
                if bands:
                    self._add(index, event_id, row[1], bands)
        return index

    @staticmethod
    def _add(
        index: dict[int, dict[str, set[str]]], event_id: str, account: str, bands: tuple[int, ...]
    ) -> None:
        for band in bands:  # no throwaway dict and set per band, as setdefault would make
            holders = index.get(band)
            if holders is None:
                index[band] = {account: {event_id}}
            elif account in holders:
                holders[account].add(event_id)
            else:
                holders[account] = {event_id}

    def delete(self, event_id: str) -> bool:
        store = self._s
        key = store.keys.get(event_id)
        if key is None:
            return False
        ages = store.ages[key]
        del ages[bisect.bisect_left(ages, (store.rows[key][event_id][2], event_id))]
        self._forget(event_id)
        return True

    def _forget(self, event_id: str) -> None:
        """Drop a row and its index entries (its place in the time order is gone already)."""
        store = self._s
        key = store.keys.pop(event_id)
        account = store.rows[key].pop(event_id)[1]
        bands = store.indexed.pop(event_id, ())
        if not bands:
            return
        posters = store.posters[key]
        left = posters[account] - 1
        if left:
            posters[account] = left
        else:
            del posters[account]
            if not posters:  # no indexed post left: the index is empty, and not kept
                del store.posters[key]
                store.bands.pop(key, None)
                return
        index = store.bands.get(key)
        if index is None:
            return  # not built (one account alone): nothing to remove
        for band in bands:
            holders = index[band]
            ids = holders[account]
            ids.discard(event_id)
            if not ids:
                del holders[account]
                if not holders:
                    del index[band]

    def prune(self, key: str, before_ms: int) -> None:
        # The oldest rows, a head of the time-ordered list: pruning costs what it removes.
        ages = self._s.ages.get(key)
        if not ages or ages[0][0] >= before_ms:
            return
        cut = bisect.bisect_left(ages, (before_ms,))
        gone = ages[:cut]
        del ages[:cut]
        for _, event_id in gone:
            self._forget(event_id)

    def spent(self, route: str, holders: tuple[tuple[str, str], ...], now_ms: int) -> list[_Spent]:
        found = (self._s.rates.get((route, scope, holder)) for scope, holder in holders)
        return [row for row in found if row is not None and row[4] > now_ms]

    def put_spent(self, row: _Spent, now_ms: int) -> None:
        rates = self._s.rates
        for key in [k for k, r in rates.items() if r[4] <= now_ms]:
            del rates[key]
        known = rates.get(row[:3])
        if known is None or known[4] < row[4]:
            rates[row[:3]] = row


class _MemoryStore:
    url = "memory://"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.rows: dict[str, dict[str, _Row]] = {}
        self.keys: dict[str, str] = {}
        self.ages: dict[str, list[tuple[int, str]]] = {}
        # The band index by window key (`_MemoryTx._index`: only where two accounts posted).
        self.bands: dict[str, dict[int, dict[str, set[str]]]] = {}
        self.indexed: dict[str, tuple[int, ...]] = {}
        # Indexed posts per account, by window key: a check by the only account posting reads
        # nothing, and needs no index.
        self.posters: dict[str, dict[str, int]] = {}
        self.rates: dict[tuple[str, str, str], _Spent] = {}
        self.added: dict[str, int] = {}
        self._transaction = _MemoryTransaction(self)

    def transaction(self, *, write: bool = True) -> _MemoryTransaction:  # noqa: ARG002  # one lock
        # Every change is made after the checks that can fail: nothing to undo.
        return self._transaction

    def close(self) -> None:
        """Nothing to release."""


class _MemoryTransaction:
    """The store's lock around a transaction view of it, fresh for each transaction.

    A plain context manager, not a generator one: five of them open a post, and a
    generator's frame and wrapper cost more than the lock.
    """

    __slots__ = ("_lock", "_store")

    def __init__(self, store: _MemoryStore) -> None:
        self._store = store
        self._lock = store._lock  # noqa: SLF001  # the store's own lock

    def __enter__(self) -> _MemoryTx:
        self._lock.acquire()
        return _MemoryTx(self._store)

    def __exit__(self, *_: object) -> None:
        self._lock.release()


_TABLES = (
    (
        "CREATE TABLE twpolicy_window_events ("
        " event_id TEXT PRIMARY KEY, window_key TEXT NOT NULL, account TEXT NOT NULL,"
        " at_ms BIGINT NOT NULL, fingerprint TEXT NOT NULL)"
    ),
    "CREATE INDEX twpolicy_window_events_key_at ON twpolicy_window_events (window_key, at_ms)",
)
_BAND_TABLES = (
    (
        "CREATE TABLE twpolicy_window_bands ("
        " window_key TEXT NOT NULL, band BIGINT NOT NULL, event_id TEXT NOT NULL)"
    ),
    "CREATE INDEX twpolicy_window_bands_key_band ON twpolicy_window_bands (window_key, band)",
    "CREATE INDEX twpolicy_window_bands_event ON twpolicy_window_bands (event_id)",
)
# Each band entry names its post's account, in an index that leads with it after the band, so
# a check reads only other accounts' entries: an account repeating itself (allowed) is never
# read, however often it posts. Entries made before are given their post's account.
_BAND_ACCOUNTS = (
    "ALTER TABLE twpolicy_window_bands ADD COLUMN account TEXT NOT NULL DEFAULT ''",
    (
        "UPDATE twpolicy_window_bands SET account = COALESCE((SELECT e.account FROM"
        " twpolicy_window_events e WHERE e.event_id = twpolicy_window_bands.event_id), '')"
    ),
    "DROP INDEX twpolicy_window_bands_key_band",
    (
        "CREATE INDEX twpolicy_window_bands_key_band_account"
        " ON twpolicy_window_bands (window_key, band, account, event_id)"
    ),
)
#: The window ledger's tables, version by version.
SCHEMA = Schema(
    component="windows",
    what="action window ledger",
    migrations=(
        Migration(sqlite=_TABLES, postgresql=_TABLES),
        Migration(sqlite=RATE_TABLES, postgresql=RATE_TABLES),
        Migration(sqlite=_BAND_TABLES, postgresql=_BAND_TABLES),
        Migration(sqlite=_BAND_ACCOUNTS, postgresql=_BAND_ACCOUNTS),
    ),
)


class _SqlTx:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    @staticmethod
    def version(key: str) -> int | None:  # noqa: ARG004  # the protocol's signature
        """None: other processes add rows unseen, so there is no version to compare."""
        return None

    def count(self, key: str, since_ms: int, excluding: frozenset[str]) -> tuple[int, int | None]:
        skip = ""
        if excluding:
            skip = f" AND event_id NOT IN ({', '.join('?' * len(excluding))})"
        used, oldest = self._tx.one(
            "SELECT COUNT(*), MIN(at_ms) FROM twpolicy_window_events"  # noqa: S608  # only "?" marks are formatted in
            f" WHERE window_key = ? AND at_ms >= ?{skip}",
            (key, since_ms, *excluding),
        ) or (0, None)
        if oldest is None or type(oldest) is int:
            return int(used), oldest
        raise StoreUnavailable(
            f"the action window ledger's rows for {key!r} are damaged; restore it from a "
            "backup. Nothing was decided."
        )

    @staticmethod
    def _decoded(key: str, found: list[tuple[object, ...]]) -> list[_Row]:
        try:
            return [
                (str(e), str(a), int(str(t)), tuple(json.loads(str(f)))) for e, a, t, f in found
            ]
        except (TypeError, ValueError):
            raise StoreUnavailable(
                f"the action window ledger's rows for {key!r} are damaged; restore it from a "
                "backup. Nothing was decided."
            ) from None

    def shared(self, key: str, bands: tuple[int, ...], account: str) -> dict[str, int]:
        if not bands:
            return {}
        marks = ", ".join("?" * len(bands))
        # Two ranges of the (window_key, band, account) index, below and above the account:
        # its own entries are skipped in the index, never read. Counted here, not with GROUP
        # BY: that tempts SQLite to walk the event_id index (every row of the window).
        part = (
            "SELECT event_id FROM twpolicy_window_bands"  # noqa: S608  # only "?" marks are formatted in
            f" WHERE window_key = ? AND band IN ({marks}) AND account {{}} ?"
        )
        hits = self._tx.all(
            f"{part.format('<')} UNION ALL {part.format('>')}",
            (key, *bands, account, key, *bands, account),
        )
        return Counter(str(row[0]) for row in hits)

    def candidates(
        self, key: str, bands: tuple[int, ...], since_ms: int, account: str
    ) -> list[_Row]:
        shared = self.shared(key, bands, account)
        ids = [event_id for event_id, count in shared.items() if count >= SHARED_BANDS]
        if not ids:
            return []
        found = self._tx.all(
            "SELECT event_id, account, at_ms, fingerprint FROM twpolicy_window_events"  # noqa: S608  # ditto
            f" WHERE event_id IN ({', '.join('?' * len(ids))}) AND at_ms >= ? AND account <> ?"
            " ORDER BY at_ms",
            (*ids, since_ms, account),
        )
        return self._decoded(key, found)

    def insert(
        self,
        event_id: str,
        key: str,
        account: str,
        at_ms: int,
        fp: tuple[int, ...],
        *,
        bands: tuple[int, ...] = (),
    ) -> None:
        self._tx.execute(
            "INSERT INTO twpolicy_window_events (event_id, window_key, account, at_ms, fingerprint)"
            " VALUES (?, ?, ?, ?, ?)",
            (event_id, key, account, at_ms, json.dumps(list(fp))),
        )
        if bands:
            self._tx.executemany(
                "INSERT INTO twpolicy_window_bands (window_key, band, account, event_id)"
                " VALUES (?, ?, ?, ?)",
                [(key, band, account, event_id) for band in bands],
            )

    def delete(self, event_id: str) -> bool:
        row = self._tx.one("SELECT 1 FROM twpolicy_window_events WHERE event_id = ?", (event_id,))
        self._tx.execute("DELETE FROM twpolicy_window_bands WHERE event_id = ?", (event_id,))
        self._tx.execute("DELETE FROM twpolicy_window_events WHERE event_id = ?", (event_id,))
        return row is not None

    def prune(self, key: str, before_ms: int) -> None:
        self._tx.execute(
            "DELETE FROM twpolicy_window_bands WHERE event_id IN (SELECT event_id FROM"
            " twpolicy_window_events WHERE window_key = ? AND at_ms < ?)",
            (key, before_ms),
        )
        self._tx.execute(
            "DELETE FROM twpolicy_window_events WHERE window_key = ? AND at_ms < ?",
            (key, before_ms),
        )

    def spent(self, route: str, holders: tuple[tuple[str, str], ...], now_ms: int) -> list[_Spent]:
        found: list[_Spent] = []
        for scope, holder in holders:
            row = self._tx.one(
                "SELECT credential, reset_ms, lim, source FROM twpolicy_rate_windows"
                " WHERE route = ? AND scope = ? AND holder = ? AND reset_ms > ?",
                (route, scope, holder, now_ms),
            )
            if row is not None:
                credential, reset_ms, lim, source = row
                limit = None if lim is None else int(lim)
                found.append((route, scope, holder, str(credential), int(reset_ms), limit, source))
        return found

    def put_spent(self, row: _Spent, now_ms: int) -> None:
        route, scope, holder, credential, reset_ms, limit, source = row
        self._tx.execute("DELETE FROM twpolicy_rate_windows WHERE reset_ms <= ?", (now_ms,))
        known = self._tx.one(
            "SELECT reset_ms FROM twpolicy_rate_windows"
            " WHERE route = ? AND scope = ? AND holder = ?",
            (route, scope, holder),
        )
        if known is not None and int(known[0]) >= reset_ms:
            return  # an answer about the same or a later window was recorded already
        self._tx.execute(
            "DELETE FROM twpolicy_rate_windows WHERE route = ? AND scope = ? AND holder = ?",
            (route, scope, holder),
        )
        self._tx.execute(
            "INSERT INTO twpolicy_rate_windows"
            " (route, scope, holder, credential, reset_ms, lim, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (route, scope, holder, credential, reset_ms, limit, source),
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


#: What a duplicate check asks: window key, content, account and threshold.
_Query = tuple[str, tuple[int, ...], str, float]


#: Row IDs (reservation IDs): unique across processes sharing a store, shaped as UUIDs.
_ROW_IDS = CountedIds()


def _ms(at: datetime) -> int:
    if type(at) is datetime and at.tzinfo is timezone.utc:
        return int(at.timestamp() * 1000)  # the usual clock's time: nothing to check
    return int(utc(at).timestamp() * 1000)  # refuses a naive datetime


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


class WindowLedger:
    """Write actions per window key, one row each, in a store shared by processes.

    Open one with `open_windows` and give it to ``Guard(windows=...)``.
    """

    def __init__(self, store: _Store, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock
        # The last `similar` that found nothing: (store version, key, content, account,
        # threshold, since), for the reserve that usually follows it.
        self._unlike: tuple[int, _Query, int] | None = None

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
        frees = None if oldest is None else _from_ms(oldest) + window
        return WindowUsage(key, len(rows), frees)

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
        with self._store.transaction(write=False) as tx:
            used, oldest = tx.count(key, when - int(window.total_seconds() * 1000), excluding)
        return WindowUsage(key, used, None if oldest is None else _from_ms(oldest) + window)

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
        since = when - int(window.total_seconds() * 1000)
        with self._store.transaction(write=False) as tx:
            rows = tx.candidates(key, band_keys(content), since, account)
            found = self._similar(rows, content, window, account, threshold)
            version = tx.version(key)
            if found is None and version is not None:
                # Nothing alike, in a store that says when it gains a row: a reserve of the same
                # content before it gains one, no earlier in time, need not search again.
                self._unlike = (version, (key, content, account, threshold), since)
        return found

    def _known_unlike(self, tx: _Tx, query: _Query, since: int) -> bool:
        """Whether `similar` found nothing alike to ``query`` in the store as it is now.

        Rows only leave a window as time moves on (or are released), so an answer about an
        earlier or equal ``since`` still holds while no row was added.
        """
        known = self._unlike
        if known is None or known[2] > since or known[0] != tx.version(query[0]):
            return False
        asked = known[1]
        return asked is query or asked == query

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
        bands = band_keys(content) if content else ()
        with self._store.transaction() as tx:
            tx.prune(key, since)
            usage = WindowUsage(key, 0, None)
            if limit is not None:
                used, oldest = tx.count(key, since, frozenset())
                frees = None if oldest is None else _from_ms(oldest) + window
                usage = WindowUsage(key, used, frees)
            if not force:
                if limit is not None and usage.used >= limit:
                    return WindowVerdict(None, usage)
                query = (key, content, account, threshold)
                if content and not self._known_unlike(tx, query, since):
                    rows = tx.candidates(key, bands, since, account)
                    hit = self._similar(rows, content, window, account, threshold)
                    if hit is not None:
                        return WindowVerdict(None, usage, hit[0], hit[1], hit[2])
            event_id = _ROW_IDS.next()
            tx.insert(event_id, key, account, when, content, bands=bands)
        return WindowVerdict(event_id, usage)

    def release(self, reservation_id: str) -> bool:
        """Uncount an action that did not happen; ``False`` if unknown or released already."""
        with self._store.transaction() as tx:
            return tx.delete(reservation_id)

    def spent(self, who: RateWindow, *, at: datetime | None = None) -> tuple[SpentWindow, ...]:
        """X's windows recorded as spent at ``at`` (now) for ``who``'s route and holders.

        The latest reset first: the one a refusal must name.
        """
        when = _ms(self._clock() if at is None else at)
        with self._store.transaction(write=False) as tx:
            rows = tx.spent(who.route, who.holders(), when)
        found = [
            SpentWindow(route, scope, holder, credential, _from_ms(reset), limit, source)
            for route, scope, holder, credential, reset, limit, source in rows
        ]
        return tuple(sorted(found, key=lambda w: w.resets_at, reverse=True))

    def record_spent(self, windows: tuple[SpentWindow, ...], *, at: datetime | None = None) -> None:
        """Keep X's spent windows until they reset (an answer said so); one transaction."""
        if not windows:
            return
        when = _ms(self._clock() if at is None else at)
        with self._store.transaction() as tx:
            for w in windows:
                row = (
                    w.route,
                    w.scope,
                    w.holder,
                    w.credential,
                    _ms(w.resets_at),
                    w.limit,
                    w.source,
                )
                tx.put_spent(row, when)


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

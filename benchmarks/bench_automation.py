"""The duplicate-content check costs the same whatever the window holds.

Fills a window ledger with N unrelated posts from N accounts, then times `similar` (what
``automation.no_duplicates`` asks before each post) for fresh, unrelated posts, at N and at
10 N. ``ratio`` is the large window's time over the small one's: about 1 when the cost does
not grow with the window. ``baseline`` is the same ratio for reading the whole window and
comparing every post (what the check did before it was indexed), about 10 or more. ``bound``
is the ratio the indexed check must stay under: SQLite's lookups slow a little as its B-tree
deepens and its page cache cools, though no more posts are compared.

    python benchmarks/bench_automation.py [--quick]
"""

from __future__ import annotations

import gc
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import twpolicy
from twpolicy._stores._windows import WindowLedger, band_keys, fingerprint

DAY = timedelta(days=1)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
THRESHOLD = 0.5
BOUND = 5.0
_SYLLABLES = [
    *[
        "ka",
        "ri",
        "mon",
        "te",
        "sol",
        "an",
        "ber",
        "li",
        "qu",
        "os",
        "ve",
        "dra",
        "pi",
        "na",
        "ul",
        "gor",
        "ex",
        "tha",
        "mi",
    ],
    *["zo", "ce", "fa", "lu", "ro", "si", "ne", "bi", "ta"],
]


def _posts(seed: int, count: int) -> list[str]:
    """``count`` unrelated posts of 10 to 30 words, a third of them common words."""
    rng = random.Random(seed)
    words = sorted(
        {"".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(6000)}
    )
    common = words[:40]
    return [
        " ".join(
            rng.choice(common) if rng.random() < 0.35 else rng.choice(words)
            for _ in range(rng.randint(10, 30))
        )
        for _ in range(count)
    ]


def _filled(url: str, count: int) -> WindowLedger:
    ledger = twpolicy.open_windows(url, clock=lambda: T0)
    for n, text in enumerate(_posts(1, count)):
        ledger.reserve(
            "content", account=f"a{n}", window=DAY, content=fingerprint(text), threshold=THRESHOLD
        )
    return ledger


def _timed(run: Callable[[], None]) -> int:
    """CPU nanoseconds of ``run``, from a collected heap with the cyclic collector off.

    CPU time, so that other processes on a shared machine do not count; the collector off,
    because the larger window's heap makes its passes longer, charged to whichever check
    triggers them (a quick smoke once measured 9.9 against a bound of 5 that way, and 1.6
    alone).
    """
    gc.collect()
    gc.disable()
    try:
        started = time.process_time_ns()
        run()
        return time.process_time_ns() - started
    finally:
        gc.enable()


def _indexed(ledger: WindowLedger, queries: list[tuple[int, ...]]) -> float:
    def run() -> None:
        for content in queries:
            found = ledger.similar("content", content, DAY, account="q", threshold=THRESHOLD)
            assert found is None

    return _timed(run) / len(queries)


def _every_row(ledger: WindowLedger, key: str, since_ms: int) -> list[Any]:
    """Every post of the window with its fingerprint, as the old check read them."""
    store = ledger._store  # noqa: SLF001  # the old path, rebuilt for the comparison
    if store.url == "memory://":
        return [r for r in store.rows.get(key, {}).values() if r[2] >= since_ms]  # type: ignore[attr-defined]
    with store.transaction(write=False) as tx:
        found = tx._tx.all(  # type: ignore[attr-defined]  # noqa: SLF001
            "SELECT event_id, account, at_ms, fingerprint FROM twpolicy_window_events"
            " WHERE window_key = ? AND at_ms >= ? ORDER BY at_ms, event_id",
            (key, since_ms),
        )
    return [(e, a, int(t), tuple(json.loads(fp))) for e, a, t, fp in found]


def _whole_window(ledger: WindowLedger, queries: list[tuple[int, ...]]) -> float:
    """The check as it was: read every post of the window, compare each."""
    since = int((T0 - DAY).timestamp() * 1000)

    def run() -> None:
        for content in queries:
            rows = _every_row(ledger, "content", since)
            assert ledger._similar(rows, content, DAY, "q", THRESHOLD) is None  # noqa: SLF001

    return _timed(run) / len(queries)


def measure(quick: bool = False) -> list[dict[str, object]]:  # noqa: FBT001, FBT002  # the benchmark protocol
    """One row per backend: the indexed check's growth from N to 10 N posts, and the old one's.

    Both windows stay open and are timed in turns, the best of several rounds each, so that
    a busy machine slows both alike.
    """
    small = 100 if quick else 1000
    repeats = 5 if quick else 9
    queries = [fingerprint(text) for text in _posts(2, 50)]
    for content in queries:
        band_keys(content)  # computed once per post in real use too (cached)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for backend in ("memory", "sqlite"):
            ledgers = {
                count: _filled(
                    "memory://"
                    if backend == "memory"
                    else f"sqlite:///{Path(directory) / f'windows-{count}.db'}",
                    count,
                )
                for count in (small, 10 * small)
            }
            best = {(count, how): float("inf") for count in ledgers for how in ("new", "old")}
            # Each way in rounds of its own: reading a whole window evicts the caches the
            # indexed check would otherwise find warm.
            for how, check in (("new", _indexed), ("old", _whole_window)):
                for _ in range(repeats):
                    for count, ledger in ledgers.items():
                        best[count, how] = min(best[count, how], check(ledger, queries))
            for ledger in ledgers.values():
                ledger.close()
            large = 10 * small
            rows.append(
                {
                    "name": f"duplicate check, {backend}: {small} -> {large} posts in window",
                    "ratio": round(best[large, "new"] / best[small, "new"], 2),
                    "baseline": round(best[large, "old"] / best[small, "old"], 2),
                    "bound": BOUND,
                    "indexed_us": round(best[large, "new"] / 1000, 1),
                    "whole_window_us": round(best[large, "old"] / 1000, 1),
                }
            )
    return rows


if __name__ == "__main__":
    for row in measure(quick="--quick" in sys.argv[1:]):
        print(row)

"""The in-memory window store keeps rows in time order: it must count exactly as a plain list."""

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy._stores._windows import band_keys

START = datetime(2030, 1, 1, tzinfo=timezone.utc)
WINDOW = timedelta(minutes=10)

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("reserve"),
            st.sampled_from(["a", "a", "b", "c"]),  # "a" often alone in the window
            st.integers(0, 40),  # minutes after START, in any order (a clock set back)
            st.sampled_from([(), (1, 2, 3), (1, 2, 4), (7, 8, 9)]),
        ),
        st.tuples(st.just("release"), st.integers(0, 30)),
    ),
    max_size=40,
)


def naive(rows, at, account=None):
    """Rows in the window before ``at``, optionally only other accounts' (a plain list)."""
    since = at - WINDOW
    return [r for r in rows if r[2] >= since and (account is None or r[1] != account)]


def built_index(rows):
    """The band index of ``rows`` built from scratch: band -> account -> row IDs."""
    index = {}
    for event_id, account, _, content in rows:
        for band in band_keys(content):
            index.setdefault(band, {}).setdefault(account, set()).add(event_id)
    return index


@settings(max_examples=150, deadline=None)
@given(steps=steps)
def test_memory_windows_agree_with_a_plain_list(steps):
    """Usage, similarity and refusals match a list-scan model for any order of times."""
    ledger = twpolicy.open_windows("memory://")
    rows = []  # (id, account, at, fingerprint)
    for step in steps:
        if step[0] == "release":
            if rows:
                gone = rows.pop(step[1] % len(rows))
                assert ledger.release(gone[0])
            continue
        _, account, minutes, content = step
        at = START + timedelta(minutes=minutes)
        alive = naive(rows, at)
        others = naive(rows, at, account)
        expected = len(alive), min((r[2] for r in alive), default=None)
        usage = ledger.usage("k", WINDOW, at=at)
        assert expected == (usage.used, None if usage.frees_at is None else usage.frees_at - WINDOW)
        similar = ledger.similar("k", content, WINDOW, at=at, account=account, threshold=0.5)
        match = [r for r in others if content and r[3] and len(set(content) & set(r[3])) >= 2]
        assert bool(match) == (similar is not None)
        verdict = ledger.reserve(
            "k", account=account, window=WINDOW, limit=3, content=content, threshold=0.5, at=at
        )
        assert (len(alive) < 3 and not match) == verdict.granted
        # The reserve pruned what left the window before ``at``: so does the model.
        rows = [r for r in rows if r[2] >= at - WINDOW]
        if verdict.granted:
            rows.append((verdict.reservation_id, account, at, content))
        # Who has indexed posts (a check by the only one reads nothing): exactly the model's.
        posters = ledger._store.posters.get("k", {})  # the store's bookkeeping
        assert posters == dict(Counter(r[1] for r in rows if r[3]))
        # The band index, once two accounts posted, holds exactly the indexed posts.
        index = ledger._store.bands.get("k")
        assert index is not None or len(posters) < 2
        if index is not None:
            assert index == built_index(r for r in rows if r[3])
    assert not ledger.release("no-such-row")


def test_row_ids_are_unique_and_uuid_shaped():
    """Reservation IDs look like UUIDs and never repeat."""
    ledger = twpolicy.open_windows("memory://")
    ids = [
        ledger.reserve("k", account="a", window=WINDOW, at=START).reservation_id for _ in range(100)
    ]
    assert 100 == len(set(ids))
    assert all(len(i) == 36 and i.count("-") == 4 for i in ids)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sql_counts_agree(backend, url_for):
    """The SQL store counts with an aggregate: the same usage as the memory store."""
    stores = [twpolicy.open_windows("memory://"), twpolicy.open_windows(url_for(backend))]
    for minutes in (0, 3, 5, 12):
        at = START + timedelta(minutes=minutes)
        for store in stores:
            store.reserve("k", account="a", window=WINDOW, at=at)
    at = START + timedelta(minutes=13)
    first, second = (s.usage("k", WINDOW, at=at) for s in stores)
    assert first == second
    assert 3 == first.used
    assert [None, None] == [
        s.similar("k", (1,), WINDOW, at=at, account="a", threshold=0.1) for s in stores
    ]

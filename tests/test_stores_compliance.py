"""The compliance ledger on every backend (twpolicy._stores._compliance)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twpolicy
from conftest import BACKENDS
from twpolicy import ComplianceEvent, ComplianceEventType, open_compliance
from twpolicy._stores._compliance import SCHEMA, ComplianceLedger, _gaps
from twpolicy._stores._sql import Schema, open_database, parse_url

T = ComplianceEventType
T0 = datetime(2030, 1, 1, 12, tzinfo=timezone.utc)


def ev(kind, object_id, *, at=None, up_to=None, user_id=None):
    return ComplianceEvent(
        type=kind, object_id=object_id, event_at=at, up_to_tweet_id=up_to, user_id=user_id
    )


@pytest.fixture(name="ledger", params=BACKENDS)
def _ledger(request, url_for):
    ledger = open_compliance(url_for(request.param), clock=lambda: T0)
    yield ledger
    ledger.close()


class TestRecording:
    def test_each_event_is_recorded_once(self, ledger):
        """Duplicates within a batch and across batches (backfill) change nothing."""
        events = [ev(T.TWEET_DELETE, "1"), ev(T.TWEET_DELETE, "1"), ev(T.USER_PROTECT, "2")]
        first = ledger.record(events)
        assert (first.new, first.duplicates) == (2, 1)
        again = ledger.record(events)
        assert (again.new, again.duplicates) == (0, 3)
        assert len(ledger.status()) == 2

    def test_deadline_is_24_hours_after_arrival(self, ledger):
        """The clock runs from arrival; overdue once the 24 hours are past, while pending."""
        ledger.record([ev(T.TWEET_DELETE, "1")], at=T0 - timedelta(hours=25))
        ledger.record([ev(T.TWEET_DELETE, "2")], at=T0 - timedelta(hours=1))
        by_key = {s.key: s for s in ledger.status()}
        old, new = by_key["tweet_delete:1"], by_key["tweet_delete:2"]
        assert old.deadline == T0 - timedelta(hours=1)
        assert (old.state, old.overdue, new.overdue) == ("pending", True, False)
        assert new.age == timedelta(hours=1)

    def test_a_repeat_keeps_the_first_arrival(self, ledger):
        """Backfill of an old event does not restart its clock."""
        ledger.record([ev(T.TWEET_DELETE, "1")], at=T0 - timedelta(hours=30))
        ledger.record([ev(T.TWEET_DELETE, "1")], at=T0)
        (status,) = ledger.status()
        assert status.overdue


class TestReversal:
    def test_unprotect_reverses_protect(self, ledger):
        """A later unprotect marks the protect reversed: no longer an active tombstone."""
        ledger.record([ev(T.USER_PROTECT, "2", at=T0 - timedelta(hours=2))])
        assert ledger.snapshot().users == {"2": ledger.status()[0].key}
        result = ledger.record([ev(T.USER_UNPROTECT, "2", at=T0 - timedelta(hours=1))])
        assert result.reversed == 1
        assert ledger.snapshot().users == {}
        (tomb,) = ledger.tombstones(user_ids=["2"])
        assert tomb.reversed_at == T0

    def test_backfill_out_of_order(self, ledger):
        """A protect that arrives after the unprotect that followed it is born reversed."""
        ledger.record([ev(T.USER_UNPROTECT, "2", at=T0 - timedelta(hours=1))])
        ledger.record([ev(T.USER_PROTECT, "2", at=T0 - timedelta(hours=2))])
        assert ledger.snapshot().users == {}

    def test_a_later_protect_is_not_undone_by_an_earlier_unprotect(self, ledger):
        """Protect, unprotect, protect: the last one stands."""
        ledger.record(
            [
                ev(T.USER_PROTECT, "2", at=T0 - timedelta(hours=3)),
                ev(T.USER_UNPROTECT, "2", at=T0 - timedelta(hours=2)),
                ev(T.USER_PROTECT, "2", at=T0 - timedelta(hours=1)),
            ]
        )
        assert list(ledger.snapshot().users) == ["2"]

    def test_deletions_are_never_reversed(self, ledger):
        """A fresh fetch undoes unavailability, never a deletion."""
        ledger.record([ev(T.TWEET_DELETE, "1"), ev(T.TWEET_UNAVAILABLE, "3")])
        assert ledger.mark_available(tweet_ids=["1", "3"]) == 1
        assert set(ledger.snapshot().tweets) == {"1"}


class TestAttempts:
    def test_claims_are_disjoint(self, ledger):
        """A second claim while the first is open gets nothing: each event applied once."""
        ledger.record([ev(T.TWEET_DELETE, "1"), ev(T.TWEET_DELETE, "2")])
        first = ledger.claim("t")
        assert first is not None
        assert sorted(first[1]) == ["tweet_delete:1", "tweet_delete:2"]
        assert ledger.claim("t") is None
        ledger.finish(first[0], {"tweet_delete:1": 3})
        assert ledger.claim("t") is None
        assert ledger.pending("t") == []
        assert ledger.pending("other") == ["tweet_delete:1", "tweet_delete:2"]
        states = {s.key: (s.state, [a.changed for a in s.applied]) for s in ledger.status()}
        assert states == {"tweet_delete:1": ("applied", [3]), "tweet_delete:2": ("applied", [0])}

    def test_an_abandoned_attempt_gives_its_events_back(self, ledger):
        """The old data stayed in place: the events are pending again."""
        ledger.record([ev(T.TWEET_DELETE, "1")])
        attempt, _ = ledger.claim("t")
        ledger.abandon(attempt)
        assert ledger.attempt_state(attempt) == "abandoned"
        assert ledger.claim("t") is not None

    def test_written_keeps_the_counts_for_recovery(self, ledger):
        """An attempt finished after a crash records the counts given when it was written."""
        ledger.record([ev(T.TWEET_DELETE, "1")])
        attempt, keys = ledger.claim("t")
        ledger.written(attempt, "ab" * 32, {keys[0]: 4})
        assert ledger.open_attempts("t") == [(attempt, "t", "written", "ab" * 32)]
        ledger.finish(attempt)
        assert ledger.status()[0].applied[0].changed == 4


class TestSnapshot:
    def test_scrub_geo_keeps_the_widest(self, ledger):
        """Several scrubs of one user: the highest ID wins, and no ID (all Tweets) beats any."""
        ledger.record([ev(T.SCRUB_GEO, "2", up_to="10"), ev(T.SCRUB_GEO, "2", up_to="30")])
        assert ledger.snapshot().scrub_geo["2"][0] == 30
        ledger.record([ev(T.SCRUB_GEO, "2")])
        assert ledger.snapshot().scrub_geo["2"][0] is None


class TestOpening:
    def test_reader_does_not_create(self, tmp_path):
        """``create=False`` refuses a ledger that does not exist (a mistyped URL)."""
        with pytest.raises(twpolicy.StoreUnavailable):
            open_compliance(f"sqlite:///{tmp_path / 'none.db'}", create=False)

    def test_sqlite_is_shared_by_connections(self, tmp_path):
        """Two openings of one file see one ledger."""
        url = f"sqlite:///{tmp_path / 'c.db'}"
        with open_compliance(url) as one, open_compliance(url) as two:
            one.record([ev(T.TWEET_DELETE, "1")])
            assert two.snapshot().tweets == {"1": "tweet_delete:1"}


@settings(max_examples=30)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([T.USER_PROTECT, T.USER_UNPROTECT]),
            st.integers(0, 20),
        ),
        max_size=8,
    )
)
def test_protection_follows_the_latest_event(steps):
    """Whatever the arrival order, a user is removed iff their latest event is a protect."""
    ledger = open_compliance("memory://", clock=lambda: T0)
    events = [ev(kind, "2", at=T0 - timedelta(hours=100 - hour)) for kind, hour in steps]
    for event in events:
        ledger.record([event])
    latest: dict[datetime, set] = {}
    for event in events:
        latest.setdefault(event.event_at, set()).add(event.type)
    if not latest:
        assert ledger.snapshot().users == {}
        return
    last = latest[max(latest)]
    if T.USER_UNPROTECT in last:  # an unprotect at the same time undoes the protect
        assert ledger.snapshot().users == {}
    else:
        assert list(ledger.snapshot().users) == ["2"]


class TestRanges:
    """Claims of every pending event are ranges of arrival numbers (schema 2)."""

    def test_gaps(self):
        """The uncovered parts of (0, high] between live ranges."""
        assert [(0, 10)] == _gaps([], 10)
        assert [(0, 2), (5, 7), (9, 10)] == _gaps([(2, 5), (4, 5), (7, 9)], 10)
        assert [] == _gaps([(0, 10)], 10)
        assert [] == _gaps([], 0)

    def test_abandoned_range_is_claimed_again_and_new_events_after(self, ledger):
        """An abandoned claim's events come back; later events form a new range."""
        ledger.record([ev(T.TWEET_DELETE, str(n)) for n in range(1, 4)])
        first, count = ledger.claim_all("t")
        assert 3 == count
        ledger.record([ev(T.TWEET_DELETE, "4")])
        second, count = ledger.claim_all("t")
        assert (1, ["tweet_delete:4"]) == (count, ledger.claimed(second))
        ledger.abandon(first)
        third, count = ledger.claim_all("t")
        assert 3 == count
        assert ["tweet_delete:1", "tweet_delete:2", "tweet_delete:3"] == ledger.claimed(third)
        assert ["tweet_delete:2"] == ledger.held(third, ["tweet_delete:2", "tweet_delete:4"])
        ledger.finish(third, {"tweet_delete:2": 5})
        ledger.finish(second)
        assert ledger.claim_all("t") is None
        applied = {s.key: [(a.target, a.changed) for a in s.applied] for s in ledger.status()}
        assert [("t", 5)] == applied["tweet_delete:2"]
        assert [("t", 0)] == applied["tweet_delete:1"]
        assert [] == ledger.claimed("no-such-attempt")

    def test_keyed_and_ranged_claims_do_not_overlap(self, ledger):
        """Events claimed by key are left out of a range claim, and the other way round."""
        ledger.record([ev(T.TWEET_DELETE, "1"), ev(T.TWEET_DELETE, "2")])
        keyed, keys = ledger.claim("t", ["tweet_delete:1"])
        assert ["tweet_delete:1"] == keys
        ledger.claim("u", ["tweet_delete:2"])  # another target's claim counts for nothing here
        ranged, count = ledger.claim_all("t")
        assert (1, ["tweet_delete:2"]) == (count, ledger.claimed(ranged))
        assert ledger.claim("t", ["tweet_delete:2"]) is None
        assert ["tweet_delete:1"] == ledger.held(keyed, ["tweet_delete:1", "tweet_delete:2"])

    def test_held_many(self, ledger):
        """Which of many keys an attempt holds."""
        ledger.record([ev(T.TWEET_DELETE, str(n)) for n in range(1, 601)])
        attempt, _ = ledger.claim_all("t")
        keys = [f"tweet_delete:{n}" for n in range(1, 700)]
        assert keys[:600] == ledger.held(attempt, keys)
        assert [] == ledger.held(attempt, [])


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def test_schema_1_is_migrated(url_for, backend):
    """A ledger made by schema 1 gets arrival numbers; its events can be claimed as ranges."""
    url = url_for(backend)
    old = Schema(component=SCHEMA.component, what=SCHEMA.what, migrations=SCHEMA.migrations[:1])
    database = open_database(parse_url(url, what="compliance ledger"), old, create=True)
    with database.write() as tx:
        for n in (1, 2):
            tx.execute(
                "INSERT INTO twpolicy_compliance_events (key, type, object_id, countries,"
                " source, arrived_at, deadline) VALUES (?, 'tweet_delete', ?, '[]', 'request',"
                " ?, ?)",
                (f"tweet_delete:{n}", str(n), f"2030-01-01T00:00:0{n}+00:00", "2030-01-02"),
            )
    ComplianceLedger(database).close()
    with open_compliance(url) as ledger:
        attempt, count = ledger.claim_all("t")
        assert (2, ["tweet_delete:1", "tweet_delete:2"]) == (count, ledger.claimed(attempt))
        ledger.record([ev(T.TWEET_DELETE, "3")])
        assert ["tweet_delete:3"] == ledger.claimed(ledger.claim_all("t")[0])

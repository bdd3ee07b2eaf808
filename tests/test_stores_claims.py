"""Claims on single-use consents: one holder at a time, on every backend and across processes.

An enforcement point claims a content-bound record before acting (`Ledger.claim`), then uses
it under the claim when the action happened (`Ledger.use`) or gives it back when it did not
(`Ledger.release_claim`); a claim neither used nor released lapses at its ``until``, if it has
one (the guard's claims have none: they hold until used or released).
"""

import hashlib
import json
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twpolicy
from conftest import BACKENDS
from twpolicy import ConsentEventType
from twpolicy._stores._consent._backend import Append
from twpolicy._stores._consent._events import Pending
from twpolicy._stores._consent._values import iso

USER = "2244994945"
START = datetime(2030, 1, 1, 12, tzinfo=timezone.utc)
CONTENT = hashlib.sha256(b"the post the user approved").hexdigest()
NOTICE = {"notice": "post-dialog-v1", "method": "ui_explicit", "evidence": "req-1"}
WORKER = Path(__file__).with_name("consent_worker.py")
SHARED = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self, start=START):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture(name="clock")
def _clock():
    return FakeClock()


@pytest.fixture(name="url", params=BACKENDS)
def _url(request, url_for):
    return url_for(request.param)


@pytest.fixture(name="shared_url", params=SHARED)
def _shared_url(request, url_for):
    """A fresh URL of a backend several processes can share."""
    return url_for(request.param)


@pytest.fixture(name="ledger")
def _ledger(url, clock):
    with twpolicy.open_ledger(url, clock=clock) as ledger:
        yield ledger


def bound(ledger, scopes="tweet.write", **extra):
    """A single-use consent for CONTENT."""
    return ledger.grant(USER, scopes, content_sha256=CONTENT, **NOTICE, **extra)


def later(**delta):
    return START + timedelta(**delta)


def kinds(ledger):
    return [event.type.value for event in ledger.events()]


def covers(ledger, claims=frozenset()):
    """The record check() returns for the single-use content, for the holder of ``claims``."""
    return ledger.check(USER, "tweet.write", content_sha256=CONTENT, claims=frozenset(claims))


def forge(ledger, kind, record, *, closes=False, at=START, **body):
    """Append an event the Ledger itself would refuse, through the backend's own append."""

    def plan(_tx):
        return at, [Pending(kind, record.record_id, record.user_id, closes, body)]

    ledger._store.append(Append(plan))
    ledger._forget([record.user_id])


class TestClaims:
    def test_a_claim_wins_once(self, ledger):
        """The first claim wins; a second, by another, loses and appends nothing."""
        record = bound(ledger)
        assert ledger.claim(record.record_id, "a", until=later(minutes=10))
        assert not ledger.claim(record.record_id, "b", until=later(minutes=10))
        assert ["granted", "claimed"] == kinds(ledger)
        (claimed,) = (e for e in ledger.events() if e.type is ConsentEventType.CLAIMED)
        assert ("a", later(minutes=10)) == (claimed.claim, claimed.until)
        assert covers(ledger) is None  # held: covers nothing for anyone else
        assert record == covers(ledger, {"a"})  # ... but does for its holder
        assert ledger.verify()

    def test_a_second_claim_loses_until_released(self, ledger):
        """Once the holder releases it, the record covers again and the next claim wins."""
        record = bound(ledger)
        assert ledger.claim(record.record_id, "a", until=later(minutes=10))
        assert not ledger.claim(record.record_id, "b", until=later(minutes=10))
        assert ledger.release_claim(record.record_id, "a", reason="the post failed")
        assert record == covers(ledger)
        assert ledger.claim(record.record_id, "b", until=later(minutes=10))
        assert not ledger.claim(record.record_id, "a", until=later(minutes=10))
        released = [e for e in ledger.events() if e.type is ConsentEventType.RELEASED]
        assert [("a", "the post failed")] == [(e.claim, e.reason) for e in released]
        assert ledger.verify()

    @pytest.mark.parametrize(
        ("elapsed", "held"),
        [
            (timedelta(minutes=10) - timedelta(microseconds=1), True),
            (timedelta(minutes=10), False),
            (timedelta(days=3), False),
        ],
    )
    def test_a_claim_lapses_at_its_until(self, ledger, clock, elapsed, held):
        """A claim neither used nor released holds the record until ``until``, not after."""
        record = bound(ledger)
        assert ledger.claim(record.record_id, "a", until=later(minutes=10))
        clock.now = START + elapsed
        assert (None if held else record) == covers(ledger)
        assert held != ledger.claim(record.record_id, "b", until=later(days=5))
        assert ledger.verify()

    def test_a_claim_without_until_holds_until_used_or_released(self, ledger, clock):
        """Without ``until`` a claim never lapses: years later only its holder may spend it."""
        record = bound(ledger)
        assert ledger.claim(record.record_id, "a")
        clock.advance(days=3650)
        assert covers(ledger) is None
        assert record == covers(ledger, {"a"})
        assert not ledger.claim(record.record_id, "b")
        with pytest.raises(twpolicy.ConfigurationError, match="another action holds it"):
            ledger.use(record.record_id, claim="b")
        ledger.use(record.record_id, claim="a")
        assert ["granted", "claimed", "used"] == kinds(ledger)
        assert ledger.verify()

    def test_verify_names_a_claim_held_until_resolved(self, ledger):
        """A forged takeover of a claim without a lapse is reported as such."""
        record = bound(ledger)
        ledger.claim(record.record_id, "a")
        forge(ledger, ConsentEventType.CLAIMED, record, claim="b", until=iso(later(days=1)))
        result = ledger.verify()
        assert not result
        problem = "claims a record while another claim held it until used or released"
        assert any(problem in line for line in result.problems), result.problems

    def test_until_in_the_past_lapses_at_once(self, ledger):
        """A claim whose ``until`` has passed holds nothing: the next claim wins at once."""
        record = bound(ledger)
        ledger.claim(record.record_id, "a", until=later(seconds=-1))
        assert record == covers(ledger)
        assert ledger.claim(record.record_id, "b", until=later(minutes=10))
        assert covers(ledger) is None
        assert ledger.verify()

    def test_use_under_the_claim_spends_it(self, ledger):
        """The holder's use spends the record: no one can claim, use or release it again."""
        record = bound(ledger)
        assert ledger.claim(record.record_id, "a", until=later(minutes=10))
        event = ledger.use(record.record_id, claim="a")
        assert (ConsentEventType.USED, "a", True) == (event.type, event.claim, event.closes)
        assert covers(ledger, {"a"}) is None
        (state,) = ledger.status(USER)
        assert "spent" == state.status
        assert not ledger.claim(record.record_id, "b", until=later(minutes=10))
        assert not ledger.release_claim(record.record_id, "a")
        with pytest.raises(twpolicy.ConfigurationError, match="no longer active"):
            ledger.use(record.record_id, claim="a")
        assert ["granted", "claimed", "used"] == kinds(ledger)
        assert ledger.verify()

    @pytest.mark.parametrize("other", [None, "b"])
    def test_use_by_someone_else_while_claimed_is_refused(self, ledger, other):
        """A use without the live claim is refused and appends nothing; after release, it works."""
        record = bound(ledger)
        assert ledger.claim(record.record_id, "a", until=later(minutes=10))
        with pytest.raises(twpolicy.ConfigurationError, match="another action holds it"):
            ledger.use(record.record_id, claim=other)
        assert ["granted", "claimed"] == kinds(ledger)
        assert ledger.release_claim(record.record_id, "a")
        ledger.use(record.record_id, claim=other)
        assert "spent" == ledger.status(USER)[0].status
        assert ledger.verify()

    def test_use_after_the_claim_lapsed(self, ledger, clock):
        """A lapsed claim holds nothing: anyone may spend the record."""
        record = bound(ledger)
        assert ledger.claim(record.record_id, "a", until=later(minutes=10))
        clock.advance(minutes=10)
        ledger.use(record.record_id)
        assert "spent" == ledger.status(USER)[0].status
        assert ledger.verify()

    def test_release_only_by_the_holder(self, ledger, clock):
        """Releasing a claim that does not hold the record is refused and appends nothing."""
        record = bound(ledger)
        assert not ledger.release_claim(record.record_id, "a")  # nothing held
        assert not ledger.release_claim("no-such-record", "a")
        assert ledger.claim(record.record_id, "a", until=later(minutes=10))
        assert not ledger.release_claim(record.record_id, "b")
        clock.advance(minutes=20)  # a lapses, and b takes the record over
        assert ledger.claim(record.record_id, "b", until=later(minutes=30))
        assert not ledger.release_claim(record.record_id, "a")
        assert not ledger.claim(record.record_id, "c", until=later(minutes=30))
        assert ["granted", "claimed", "claimed"] == kinds(ledger)
        assert ledger.verify()

    def test_only_single_use_records_are_claimed(self, ledger):
        """A general record, an unknown one, an empty claim or a naive until is refused."""
        general = ledger.grant(USER, "tweet.write", **NOTICE)
        record = bound(ledger)
        with pytest.raises(twpolicy.ConfigurationError, match="not single-use"):
            ledger.claim(general.record_id, "a", until=later(minutes=1))
        with pytest.raises(twpolicy.ConfigurationError, match="no record"):
            ledger.claim("no-such-record", "a", until=later(minutes=1))
        with pytest.raises(twpolicy.ConfigurationError):
            ledger.claim(record.record_id, "", until=later(minutes=1))
        with pytest.raises(twpolicy.ConfigurationError, match="naive"):
            ledger.claim(record.record_id, "a", until=datetime(2030, 1, 2))  # noqa: DTZ001  # the point
        assert ["granted", "granted"] == kinds(ledger)

    @pytest.mark.parametrize("end", ["spent", "revoked", "lapsed", "expired"])
    def test_an_ended_record_cannot_be_claimed(self, ledger, clock, end):
        """A record spent, revoked, past its expiry, or marked expired loses every claim."""
        record = bound(ledger, expires_at=later(hours=1))
        if end == "spent":
            ledger.use(record.record_id)
        elif end == "revoked":
            ledger.revoke(USER)
        else:
            clock.advance(hours=1)
            if end == "expired":
                ledger.expire()
        before = kinds(ledger)
        assert not ledger.claim(record.record_id, "a", until=later(hours=2))
        assert before == kinds(ledger)

    def test_a_partial_revoke_keeps_the_claim(self, ledger):
        """Withdrawing one scope of a claimed record does not free it for a second claim."""
        record = bound(ledger, scopes=["tweet.write", "media.write"])
        assert ledger.claim(record.record_id, "a", until=later(minutes=10))
        ledger.revoke(USER, "media.write")
        assert not ledger.claim(record.record_id, "b", until=later(minutes=10))
        assert covers(ledger) is None
        with pytest.raises(twpolicy.ConfigurationError, match="another action holds it"):
            ledger.use(record.record_id)
        ledger.use(record.record_id, claim="a")
        assert ledger.verify()

    def test_verify_accepts_histories_with_claims(self, ledger, clock):
        """Claims, releases, lapses, takeovers and uses under a claim make an intact ledger."""
        first, second, third = bound(ledger), bound(ledger), bound(ledger)
        ledger.claim(first.record_id, "a", until=later(minutes=5))
        ledger.release_claim(first.record_id, "a", reason="rate limited")
        ledger.claim(first.record_id, "b", until=later(minutes=5))
        ledger.claim(second.record_id, "c", until=later(minutes=1))
        clock.advance(minutes=2)
        ledger.claim(second.record_id, "d", until=later(minutes=9))  # c lapsed
        ledger.use(second.record_id, claim="d")
        ledger.use(first.record_id, claim="b")
        ledger.claim(third.record_id, "e", until=later(minutes=9))
        ledger.release_claim(third.record_id, "e")
        ledger.revoke(USER)
        result = ledger.verify()
        assert result, result.explain()
        assert 13 == result.events
        statuses = sorted(s.status for s in ledger.status(USER))
        assert ["revoked", "spent", "spent"] == statuses

    @pytest.mark.parametrize(
        ("forged", "problem"),
        [
            ("claim after use", "claims a record already closed (spent)"),
            (
                "claim while held",
                "claims a record while another claim held it until 2030-01-01T12:10",
            ),
            ("release not held", "releases a claim that did not hold the record"),
            ("use while held", "spends a single-use record while another claim held it"),
            ("claim of a general record", "claims a record that is not single-use"),
            ("claim without until", "claims without a claim ID or a time the claim lapses"),
        ],
    )
    def test_verify_flags_claims_out_of_turn(self, ledger, forged, problem):
        """An event the Ledger would have refused, appended by someone else, fails verify."""
        record = bound(ledger)
        until = iso(later(minutes=10))
        if forged == "claim after use":
            ledger.use(record.record_id)
            forge(ledger, ConsentEventType.CLAIMED, record, claim="z", until=until)
        elif forged == "claim of a general record":
            general = ledger.grant(USER, "tweet.write", **NOTICE)
            forge(ledger, ConsentEventType.CLAIMED, general, claim="z", until=until)
        elif forged == "claim without until":
            forge(ledger, ConsentEventType.CLAIMED, record, claim="z")
        else:
            ledger.claim(record.record_id, "a", until=later(minutes=10))
            if forged == "claim while held":
                forge(ledger, ConsentEventType.CLAIMED, record, claim="b", until=until)
            elif forged == "release not held":
                forge(ledger, ConsentEventType.RELEASED, record, claim="b", reason="")
            else:
                forge(ledger, ConsentEventType.USED, record, closes=True, note="")
        result = ledger.verify()
        assert not result
        assert any(problem in line for line in result.problems), result.problems
        assert not any("'a'" in line or "'b'" in line for line in result.problems)

    def test_claims_survive_reopening(self, shared_url, clock):
        """A claim is durable: a ledger reopened from the URL still sees the record held."""
        with twpolicy.open_ledger(shared_url, clock=clock) as ledger:
            record = bound(ledger)
            assert ledger.claim(record.record_id, "a", until=later(minutes=10))
        with twpolicy.open_ledger(shared_url, clock=clock) as reopened:
            assert not reopened.claim(record.record_id, "b", until=later(minutes=10))
            assert record == covers(reopened, {"a"})
            reopened.use(record.record_id, claim="a")
            assert reopened.verify()


# -- against a model ---------------------------------------------------------------------------

WHO = ("a", "b", "c")
claim_ops = st.lists(
    st.one_of(
        st.tuples(st.just("claim"), st.sampled_from(WHO), st.integers(-2, 10)),
        st.tuples(st.just("release"), st.sampled_from(WHO)),
        st.tuples(st.just("use"), st.none() | st.sampled_from(WHO)),
        st.tuples(st.just("wait"), st.integers(1, 6)),
    ),
    max_size=25,
)


class Model:
    """One single-use record: who claimed it last, until when, and whether it is spent."""

    def __init__(self):
        self.holder = None
        self.until = None
        self.spent = False

    def held_against(self, who, now):
        return self.holder is not None and self.holder != who and self.until > now


def run_claims(ledger, clock, ops):
    """Apply ops to the ledger and the model; after each, every claimant's check agrees."""
    record = bound(ledger)
    model = Model()
    for name, *args in ops:
        now = clock()
        if name == "claim":
            who, minutes = args
            until = now + timedelta(minutes=minutes)
            won = not model.spent and not model.held_against(who, now)
            assert won == ledger.claim(record.record_id, who, until=until)
            if won:
                model.holder, model.until = who, until
        elif name == "release":
            (who,) = args
            freed = not model.spent and model.holder == who
            assert freed == ledger.release_claim(record.record_id, who)
            if freed:
                model.holder = None
        elif name == "use":
            (who,) = args
            if model.spent or model.held_against(who, now):
                with pytest.raises(twpolicy.ConfigurationError):
                    ledger.use(record.record_id, claim=who)
            else:
                ledger.use(record.record_id, claim=who)
                model.spent = True
        else:
            clock.advance(minutes=args[0])
        for who in (None, *WHO):
            mine = frozenset() if who is None else {who}
            free = not model.spent and not model.held_against(who, clock())
            assert (record if free else None) == covers(ledger, mine)


class TestClaimProperties:
    @given(ops=claim_ops)
    def test_memory_claims_match_a_simple_model(self, ops):
        """Any sequence of claims, releases, uses and waits: the ledger agrees with the model."""
        clock = FakeClock()
        with twpolicy.open_ledger("memory://", clock=clock) as ledger:
            run_claims(ledger, clock, ops)
            assert ledger.verify()

    @settings(max_examples=10)
    @given(ops=claim_ops)
    def test_sqlite_claims_match_a_simple_model(self, ops, tmp_path_factory):
        """The same on SQLite, through its open-records query and its cache."""
        clock = FakeClock()
        path = tmp_path_factory.mktemp("claims") / "c.db"
        with twpolicy.open_ledger(f"sqlite:///{path}", clock=clock) as ledger:
            run_claims(ledger, clock, ops)
            assert ledger.verify()


# -- across processes --------------------------------------------------------------------------


def start(*args):
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
class TestClaimsAcrossProcesses:
    PROCESSES = 8
    RECORDS = 40

    def test_exactly_one_claim_wins_per_record(self, shared_url):
        """8 processes claim the same 40 records at once: each record has exactly one winner."""
        with twpolicy.open_ledger(shared_url, cache_ttl=0) as ledger:
            records = [
                ledger.grant(USER, "tweet.write", content_sha256=f"{i:064x}", **NOTICE).record_id
                for i in range(self.RECORDS)
            ]
        workers = [start("claim", shared_url, f"p{n}", *records) for n in range(self.PROCESSES)]
        for worker in workers:
            assert "ready" == worker.stdout.readline().strip()
        for worker in workers:  # every process is connected: let them race
            worker.stdin.write("go\n")
            worker.stdin.flush()
        winners = {}
        for n, worker in enumerate(workers):
            out, _ = worker.communicate(timeout=300)
            assert 0 == worker.returncode
            for record in json.loads(out)["won"]:
                winners.setdefault(record, []).append(f"p{n}")
        assert dict.fromkeys(records, 1) == {r: len(w) for r, w in winners.items()}
        with twpolicy.open_ledger(shared_url, cache_ttl=0) as ledger:
            claimed = [e for e in ledger.events() if e.type is ConsentEventType.CLAIMED]
            assert sorted(records) == sorted(e.record_id for e in claimed)
            assert ledger.verify()
            for record in records:
                (holder,) = winners[record]
                loser = next(f"p{n}" for n in range(self.PROCESSES) if f"p{n}" != holder)
                with pytest.raises(twpolicy.ConfigurationError, match="another action"):
                    ledger.use(record, claim=loser)
                ledger.use(record, claim=holder)
            assert ledger.verify()

    def test_a_killed_holder_keeps_the_record_until_its_claim_lapses(self, shared_url):
        """SIGKILL while holding a claim: the record stays held until ``until``, then frees."""
        clock = FakeClock()
        with twpolicy.open_ledger(shared_url, clock=clock, cache_ttl=0) as ledger:
            record = bound(ledger)
            worker = start(
                "hold", shared_url, record.record_id, "dead", later(minutes=1).isoformat(),
                later(minutes=10).isoformat(),
            )  # fmt: skip
            assert "claimed True" == worker.stdout.readline().strip()
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=60)
            worker.stdin.close()
            worker.stdout.close()
            assert -signal.SIGKILL == worker.returncode

            clock.now = later(minutes=10) - timedelta(microseconds=1)
            assert covers(ledger) is None
            assert not ledger.claim(record.record_id, "alive", until=later(minutes=20))
            with pytest.raises(twpolicy.ConfigurationError, match="another action holds it"):
                ledger.use(record.record_id)
            assert "active" == ledger.status(USER)[0].status

            clock.now = later(minutes=10)
            assert record == covers(ledger)
            assert ledger.claim(record.record_id, "alive", until=later(minutes=20))
            ledger.use(record.record_id, claim="alive")
            assert ["granted", "claimed", "claimed", "used"] == kinds(ledger)
            assert ledger.verify()

"""Fail closed after the action: a spend (or release) the ledger refuses never reopens a consent.

The guard claims a single-use consent without a lapse, so when the ledger will not record
its spend after the post went out, the consent stays held: no later permit, in this process
or another, at any later time, can use it again. The process keeps the spend and retries it
before its next permits; quota counts whose commit fails stay counted.
"""

import itertools
from datetime import datetime, timedelta, timezone

import pytest

import twpolicy
from twpolicy import Action, ActionKind, Guard
from twpolicy.testing._replay import RecordedResponse, ReplayTransport

USER = "2244994945"
NOTICE = {"notice": "post-dialog-v1", "method": "ui_explicit", "evidence": "req-1"}
DIGEST = "c" * 64
START = datetime(2030, 1, 1, 12, tzinfo=timezone.utc)


class Clock:
    """A wall clock that moves only when told to."""

    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now


class Faulty:
    """Delegates to a ledger; ``use`` or ``release_claim`` raises ``failures`` times."""

    def __init__(self, inner, *, use=0, release=0):
        self.inner = inner
        self.failures = {"use": use, "release": release}
        self.calls = {"use": 0, "release": 0}

    def _maybe_fail(self, name):
        self.calls[name] += 1
        if self.failures[name]:
            self.failures[name] -= 1
            raise twpolicy.StoreUnavailable(f"the store is down ({name})")

    def check(self, *args, **kwargs):
        return self.inner.check(*args, **kwargs)

    def claim(self, record_id, claim, *, until):
        return self.inner.claim(record_id, claim, until=until)

    def use(self, record_id, *, claim=None):
        self._maybe_fail("use")
        return self.inner.use(record_id, claim=claim)

    def release_claim(self, record_id, claim, *, reason=""):
        self._maybe_fail("release")
        return self.inner.release_claim(record_id, claim, reason=reason)


def bound_post():
    """A v2 write on USER's behalf of the content the consent is bound to."""
    return Action(
        kind=ActionKind.API_CALL,
        operation="DELETE /2/tweets/:id",
        category="write",
        acting_user_id=USER,
        scopes={"tweet.write"},
        content_sha256=DIGEST,
    )


def kinds(ledger):
    return [e.type.value for e in ledger.events() if e.type.value != "granted"]


def post_once(guard):
    """Enter and leave a permit for the bound post: the post went out."""
    with guard.permit(bound_post()):
        pass


@pytest.fixture(name="url")
def _url(url_for):
    """A fresh SQLite ledger another "process" (a fresh ledger object) can open."""
    return url_for("sqlite")


@pytest.fixture(name="clock")
def _clock():
    """The guard's and ledger's clock."""
    return Clock()


@pytest.fixture(name="ledger")
def _ledger(url, clock):
    """The ledger, holding one single-use consent for DIGEST."""
    with twpolicy.open_ledger(url, clock=clock) as ledger:
        ledger.grant(USER, ["tweet.write"], content_sha256=DIGEST, **NOTICE)
        yield ledger


class TestSpendFails:
    def test_use_raising_once_is_retried_and_the_consent_is_never_reused(self, ledger, clock):
        """A spend refused once is recorded on the next permit; the consent never covers again."""
        faulty = Faulty(ledger, use=1)
        guard = Guard(ledger=faulty, clock=clock)
        post_once(guard)
        assert ["claimed"] == kinds(ledger)
        with pytest.raises(twpolicy.ConsentRequired):
            post_once(guard)
        assert ["claimed", "used"] == kinds(ledger)
        assert 2 == faulty.calls["use"]
        with pytest.raises(twpolicy.ConsentRequired):
            post_once(guard)
        assert ["claimed", "used"] == kinds(ledger)

    def test_use_always_raising_never_reopens_the_consent(self, ledger, clock, caplog):
        """A spend that keeps failing leaves the consent held, and the failure logged."""
        guard = Guard(ledger=Faulty(ledger, use=10**6), clock=clock)
        post_once(guard)
        assert "could not spend single-use consent" in caplog.text
        for hours in (0, 1, 24 * 30):
            clock.now = START + timedelta(hours=hours)
            with pytest.raises(twpolicy.ConsentRequired):
                post_once(guard)
        assert ["claimed"] == kinds(ledger)

    def test_a_new_process_after_the_old_lease_cannot_use_it(self, ledger, url, clock):
        """Another process, long after, finds the consent still held: refused, nothing claimed."""
        post_once(Guard(ledger=Faulty(ledger, use=10**6), clock=clock))
        later = Clock()
        later.now = START + timedelta(days=2)
        with twpolicy.open_ledger(url, clock=later) as fresh:
            guard = Guard(ledger=fresh, clock=later)
            with pytest.raises(twpolicy.ConsentRequired) as info:
                post_once(guard)
            assert ["claimed"] == kinds(fresh)
            assert fresh.verify()
        assert "single_use_consent_taken" == info.value.decision.reason

    def test_an_explicit_release_reopens_it(self, ledger, clock):
        """Someone who knows the post never went out gives the claim back: usable once more."""
        post_once(Guard(ledger=Faulty(ledger, use=10**6), clock=clock))
        (claimed,) = [e for e in ledger.history(USER) if e.type.value == "claimed"]
        assert ledger.release_claim(claimed.record_id, claimed.claim, reason="never sent")
        post_once(Guard(ledger=ledger, clock=clock))
        assert ["claimed", "released", "claimed", "used"] == kinds(ledger)

    def test_the_refusal_names_the_release(self, ledger, clock):
        """A claim lost to one that never resolves names how to give that claim back."""

        class Raced(Faulty):
            def claim(self, record_id, claim, *, until):
                self.inner.claim(record_id, "a-stopped-process", until=None)  # it wins
                return self.inner.claim(record_id, claim, until=until)

        guard = Guard(ledger=Raced(ledger), clock=clock)
        with pytest.raises(twpolicy.ConsentRequired) as info:
            post_once(guard)
        assert "single_use_consent_taken" == info.value.decision.reason
        assert "guard.consent.release_claim(" in info.value.decision.remediation
        (record,) = ledger.status(USER)
        assert ledger.release_claim(record.record.record_id, "a-stopped-process")
        post_once(Guard(ledger=ledger, clock=clock))
        assert ["claimed", "released", "claimed", "used"] == kinds(ledger)

    def test_a_guarded_read_retries_the_spend(self, ledger, clock):
        """A remembered read skips its permit, but not the pending spend's retry."""
        faulty = Faulty(ledger, use=1)
        guard = Guard(ledger=faulty, clock=clock)
        client = twpolicy.Client("bearer", guard=guard)
        tweet = {"data": {"id": "20", "text": "hi", "edit_history_tweet_ids": ["20"]}}
        ReplayTransport(lambda _: RecordedResponse.json(tweet)).install(client)
        assert 20 == client.get_tweet(20).data.id  # from now on a remembered read
        post_once(guard)
        assert ["claimed"] == kinds(ledger)
        assert 20 == client.get_tweet(20).data.id
        assert ["claimed", "used"] == kinds(ledger)
        assert 2 == faulty.calls["use"]


class TestReleaseFails:
    def test_release_raising_once_is_retried(self, ledger, clock):
        """A release refused once is retried before the next permit, which may then use it."""
        guard = Guard(ledger=Faulty(ledger, release=1), clock=clock)
        with guard.permit(bound_post()) as permit:
            permit.fail("HTTP 503")
        assert ["claimed"] == kinds(ledger)
        post_once(guard)
        assert ["claimed", "released", "claimed", "used"] == kinds(ledger)

    def test_retries_are_at_most_once_a_second(self, ledger, clock, monkeypatch):
        """After a failed retry, permits try again only once a second has passed."""
        ticks = itertools.chain([100.0, 100.0, 100.5, 101.5, 101.5], itertools.repeat(500.0))
        monkeypatch.setattr(twpolicy._guard.time, "monotonic", lambda: next(ticks))
        faulty = Faulty(ledger, use=2)
        guard = Guard(ledger=faulty, clock=clock)
        post_once(guard)  # the spend fails: the next permit retries
        read = Action(kind=ActionKind.API_CALL, operation="GET /2/tweets", category="public_read")
        with guard.permit(read):  # 100.0: retried, fails again; next at 101.0
            pass
        with guard.permit(read):  # 100.5: not yet
            pass
        assert (["claimed"], 2) == (kinds(ledger), faulty.calls["use"])
        with guard.permit(read):  # 101.5: retried, spent
            pass
        assert (["claimed", "used"], 3) == (kinds(ledger), faulty.calls["use"])
        assert {} == guard._unresolved

    def test_a_ledger_whose_claims_lapse_is_refused_while_the_spend_is_pending(self, clock):
        """With a custom ledger that lets claims lapse, this process still refuses the record."""
        inner = twpolicy.open_ledger("memory://", clock=clock)
        inner.grant(USER, ["tweet.write"], content_sha256=DIGEST, **NOTICE)

        class Lapsing(Faulty):
            def claim(self, record_id, claim, *, until):
                return self.inner.claim(record_id, claim, until=clock.now + timedelta(minutes=30))

        faulty = Lapsing(inner, use=10**6)
        guard = Guard(ledger=faulty, clock=clock)
        post_once(guard)
        clock.now = START + timedelta(days=2)
        with pytest.raises(twpolicy.ConsentRequired) as info:
            post_once(guard)
        assert "single_use_consent_taken" == info.value.decision.reason
        assert ["claimed"] == kinds(inner)
        assert 3 == faulty.calls["use"]  # the spend, the retry before deciding, the forced one


class TestQuotaCommitFails:
    def test_counts_stay_counted(self, monkeypatch):
        """A reservation whose commit fails stays counted: the quota is never given back."""
        quotas = twpolicy.open_quotas("memory://")
        guard = Guard(ledger=twpolicy.open_ledger("memory://"), quotas=quotas)

        def broken(_reservation_id):
            raise twpolicy.StoreUnavailable("the store is down")

        monkeypatch.setattr(quotas, "commit", broken)
        export = Action(
            kind=ActionKind.EXPORT,
            operation="export",
            recipient="Acme",
            count=10,
            facts={"content": "tweet_ids"},
            payload=[str(n) for n in range(1, 11)],
        )
        quotas.reserve("Acme", tweet_ids=1_500_000 - 10)
        with guard.permit(export) as permit:
            pass
        assert permit.held.reservations
        with pytest.raises(twpolicy.QuotaExceeded), guard.permit(export):
            pass

"""Every try tweepy makes is decided: its rate-limit retries (v2) and its retry loop (v1.1).

A retry is decided within the first try's permit, so the single-use consent the first try
claimed counts as held; a consent revoked while tweepy waits refuses the retry, and nothing
more is sent.
"""

import asyncio
import time

import pytest
import requests
import tweepy

import twpolicy
from test_clients import NOTICE, USER, make_v1, make_v2
from twpolicy.testing import DecisionRecorder
from twpolicy.testing._replay import RecordedResponse, ReplayTransport

TEXT = {"text": "hello"}
STATUS = {"status": "hello"}
LIMITED = RecordedResponse(429, "Too Many Requests", (("x-rate-limit-reset", "0"),), b"{}")
POSTED = RecordedResponse.json({"data": {"id": "1", "text": "hello"}}, 201)
UPDATED = RecordedResponse.json({"id": 1, "id_str": "1", "text": "hello"})
UNAVAILABLE = RecordedResponse(503, "Service Unavailable", (), b"{}")


def limited_for(seconds):
    """A 429 whose reset lies ``seconds`` ahead, so tweepy waits before retrying."""
    reset = str(int(time.time()) + seconds)
    headers = (("x-rate-limit-reset", reset), ("x-rate-limit-remaining", "0"))
    return RecordedResponse(429, "Too Many Requests", headers, b"{}")


def scripted(*answers):
    """A transport answering each request with the next of ``answers``."""
    queue = list(answers)
    return ReplayTransport(lambda request: queue.pop(0))


def single_use(content, *, recorder=None, ledger=None):
    """A guard whose ledger holds USER's consent to post exactly ``content``, once."""
    ledger = ledger or twpolicy.open_ledger("memory://")
    record = ledger.grant(
        USER, ["tweet.write"], content_sha256=twpolicy.content_sha256(content), **NOTICE
    )
    guard = twpolicy.Guard(ledger=ledger, sinks=[] if recorder is None else [recorder])
    return guard, record


def events(ledger):
    return [e.type.value for e in ledger.events() if e.type.value != "granted"]


class Waits:
    """Stands in for tweepy's sleep: records each wait and runs ``during`` in it."""

    def __init__(self, during=None):
        self.waits = []
        self.during = during

    def __call__(self, seconds):
        self.waits.append(seconds)
        if self.during is not None:
            self.during()


@pytest.fixture(name="waits")
def _waits(monkeypatch):
    waits = Waits()
    monkeypatch.setattr(time, "sleep", waits)  # tweepy's v2 and v1.1 waits both call it
    return waits


@pytest.fixture(name="async_waits")
def _async_waits(monkeypatch):
    waits = Waits()
    real_sleep = asyncio.sleep

    async def sleep(seconds, *args, **kwargs):
        if seconds:  # tweepy's rate-limit wait; the replay transport's sleep(0) passes
            waits(seconds)
            seconds = 0
        return await real_sleep(seconds, *args, **kwargs)

    monkeypatch.setattr(tweepy.asynchronous.client.asyncio, "sleep", sleep)
    return waits


#: /2/users/me's answer: the OAuth 2.0 token's owner is USER (asked once, before the first write).
WHO = RecordedResponse.json({"data": {"id": USER, "name": "Dev", "username": "dev"}})


def async_client(guard):
    """An AsyncClient with an OAuth 2.0 user token (tweepy's async OAuth 1.0a retry is broken:
    it re-sends with the query parameters it cleared after signing)."""
    return twpolicy.AsyncClient(
        "oauth2-user-token", guard=guard, acting_user_id=USER, wait_on_rate_limit=True
    )


def revoke(guard):
    def during():
        guard.consent.revoke(USER, reason="changed their mind while the client waited")

    return during


class TestV2:
    def test_revoked_during_the_wait_refuses_the_retry(self, waits):
        """A consent withdrawn while tweepy waits out a 429: the retry is refused, not sent."""
        recorder = DecisionRecorder()
        guard, record = single_use(TEXT, recorder=recorder)
        waits.during = revoke(guard)
        transport = scripted(limited_for(30), POSTED)
        client = transport.install(make_v2(twpolicy.Client, guard=guard, wait_on_rate_limit=True))
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.create_tweet(text="hello")
        assert "no_consent_record" == info.value.decision.reason
        assert 1 == len(waits.waits)
        assert ["/2/tweets"] == [r.path for r in transport.requests]
        assert ["allow", "deny"] == [d.effect.value for d in recorder]
        assert ["claimed", "revoked"] == events(guard.consent)[:2]
        assert "used" not in events(guard.consent)
        assert not guard.consent.check(USER, "tweet.write", content_sha256=record.content_sha256)

    def test_a_general_consent_revoked_during_the_wait_refuses_too(self, waits):
        """Not only single-use consents: any consent is checked again before the retry."""
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"))
        guard.consent.grant(USER, ["tweet.write"], **NOTICE)
        waits.during = revoke(guard)
        transport = scripted(limited_for(30), POSTED)
        client = transport.install(make_v2(twpolicy.Client, guard=guard, wait_on_rate_limit=True))
        with pytest.raises(twpolicy.ConsentRequired):
            client.create_tweet(text="hello")
        assert 1 == len(transport.requests)

    def test_retry_is_decided_and_the_consent_spent_once(self, waits):
        """Each try is decided; the single-use consent the first try claimed covers the retry."""
        recorder = DecisionRecorder()
        guard, _ = single_use(TEXT, recorder=recorder)
        transport = scripted(limited_for(30), limited_for(30), POSTED)
        client = transport.install(make_v2(twpolicy.Client, guard=guard, wait_on_rate_limit=True))
        assert "1" == client.create_tweet(text="hello").data["id"]
        assert 3 == len(transport.requests) == len(recorder)
        assert 2 == len(waits.waits)
        assert all(d.allowed for d in recorder)
        assert ["claimed", "used"] == events(guard.consent)

    def test_async_revoked_during_the_wait_refuses_the_retry(self, async_waits, loop):
        """AsyncClient: the same, with tweepy's asyncio wait."""
        recorder = DecisionRecorder()
        guard, _ = single_use(TEXT, recorder=recorder)
        async_waits.during = revoke(guard)
        transport = scripted(WHO, limited_for(30), POSTED)
        client = transport.install(async_client(guard))
        with pytest.raises(twpolicy.ConsentRequired):
            loop.run_until_complete(client.create_tweet(text="hello", user_auth=False))
        assert 1 == len(async_waits.waits)
        assert 2 == len(transport.requests)  # the owner lookup, then the first try
        posts = [d for d in recorder if d.operation == "POST /2/tweets"]
        assert ["allow", "deny"] == [d.effect.value for d in posts]
        assert "used" not in events(guard.consent)

    def test_async_retry_spends_the_consent_once(self, async_waits, loop):
        """AsyncClient: a retry after the wait goes out under the first try's claim."""
        guard, _ = single_use(TEXT)
        transport = scripted(WHO, limited_for(30), POSTED)
        client = transport.install(async_client(guard))
        loop.run_until_complete(client.create_tweet(text="hello", user_auth=False))
        assert 3 == len(transport.requests)  # the owner lookup and two tries
        assert 1 == len(async_waits.waits)
        assert ["claimed", "used"] == events(guard.consent)


class TestV1:
    def api(self, transport, guard, **options):
        return transport.install(make_v1(twpolicy.API, guard=guard, **options))

    def test_revoked_during_the_rate_limit_wait_refuses_the_retry(self, waits):
        """API(wait_on_rate_limit=True): a revoke during tweepy's wait refuses its next try."""
        recorder = DecisionRecorder()
        guard, _ = single_use(STATUS, recorder=recorder)
        waits.during = revoke(guard)
        transport = scripted(limited_for(30), UPDATED)
        api = self.api(transport, guard, wait_on_rate_limit=True)
        with pytest.raises(twpolicy.ConsentRequired) as info:
            api.update_status("hello")
        assert "no_consent_record" == info.value.decision.reason
        assert waits.waits
        assert ["/1.1/statuses/update.json"] == [r.path for r in transport.requests]
        assert ["allow", "deny"] == [d.effect.value for d in recorder]
        assert "used" not in events(guard.consent)

    def test_revoked_between_retries_refuses(self, waits):
        """API(retry_count=...): each try of tweepy's loop is decided; a revoke stops it."""
        guard, _ = single_use(STATUS)
        transport = scripted(UNAVAILABLE, UNAVAILABLE, UPDATED)
        api = self.api(transport, guard, retry_count=3, retry_delay=5, retry_errors={503})
        assert "hello" == api.update_status("hello").text
        assert 3 == len(transport.requests)
        assert ["claimed", "used"] == events(guard.consent)

        guard, _ = single_use(STATUS)
        waits.waits.clear()
        waits.during = revoke(guard)
        transport = scripted(UNAVAILABLE, UNAVAILABLE, UPDATED)
        api = self.api(transport, guard, retry_count=3, retry_delay=5, retry_errors={503})
        with pytest.raises(twpolicy.ConsentRequired):
            api.update_status("hello")
        assert 1 == len(transport.requests)
        assert "used" not in events(guard.consent)

    def test_each_try_is_decided(self, waits):
        """One decision per try on the wire, each allowed, the consent spent once at the end."""
        recorder = DecisionRecorder()
        guard, _ = single_use(STATUS, recorder=recorder)
        transport = scripted(UNAVAILABLE, limited_for(30), UPDATED)
        api = self.api(
            transport,
            guard,
            retry_count=2,
            retry_errors={503},
            wait_on_rate_limit=True,
        )
        api.update_status("hello")
        assert 3 == len(transport.requests) == len(recorder)
        assert all(d.allowed for d in recorder)
        assert ["claimed", "used"] == events(guard.consent)
        assert waits.waits

    def test_tries_exhausted_give_the_consent_back(self, waits):
        """tweepy gives up after its retries: the claim is released, the consent still there."""
        guard, record = single_use(STATUS)
        transport = scripted(UNAVAILABLE, UNAVAILABLE)
        api = self.api(transport, guard, retry_count=1, retry_errors={503})
        with pytest.raises(tweepy.TwitterServerError):
            api.update_status("hello")
        assert 2 == len(transport.requests)
        assert ["claimed", "released"] == events(guard.consent)
        assert guard.consent.check(USER, "tweet.write", content_sha256=record.content_sha256)
        assert waits.waits

    def test_reads_retry_without_consent(self, waits):
        """A retried read is decided each time too, and needs nothing."""
        recorder = DecisionRecorder()
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[recorder])
        status = RecordedResponse.json({"id": 20, "id_str": "20", "text": "x"})
        transport = scripted(UNAVAILABLE, status)
        api = self.api(transport, guard, retry_count=1, retry_errors={503})
        assert "x" == api.get_status(20).text
        assert ["GET /1.1/statuses/show.json"] * 2 == [d.operation for d in recorder]
        assert waits.waits == [0]

    def test_a_replaced_session_is_still_guarded(self, waits):
        """The retry view wraps whatever session the application puts on the client."""
        guard, _ = single_use(STATUS)
        waits.during = revoke(guard)
        api = make_v1(twpolicy.API, guard=guard, retry_count=2, retry_errors={503})
        api.session = requests.Session()
        transport = scripted(UNAVAILABLE, UPDATED)
        transport.install(api)
        with pytest.raises(twpolicy.ConsentRequired):
            api.update_status("hello")
        assert 1 == len(transport.requests)
        assert isinstance(api.session, requests.Session)

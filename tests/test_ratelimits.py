"""X's rate limits are neither exceeded nor circumvented (I.B.5), through the fake X API."""

import logging
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import tweepy
from hypothesis import given, settings
from hypothesis import strategies as st

import twpolicy
from conftest import BACKENDS
from twpolicy._clients._plan import Policy
from twpolicy._clients._sending import (
    Sending,
    _credentials,
    observe_response,
    watch_rate_limits,
)
from twpolicy._stores._ratelimits import RateWindow, SpentWindow, credential_id, observe
from twpolicy.testing import DEFAULT_USER_ID, FakeXAPI

ME = DEFAULT_USER_ID
POST = "POST /2/tweets"
WORKER = Path(__file__).with_name("automation_worker.py")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
RESET = T0 + timedelta(minutes=15)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture(name="clock")
def _clock():
    return Clock()


@pytest.fixture(name="windows_url", params=BACKENDS)
def _windows_url(request, url_for):
    return url_for(request.param)


def guard_on(clock, windows_url="memory://"):
    ledger = twpolicy.open_ledger("memory://", cache_ttl=0, clock=clock)
    ledger.grant(ME, ["tweet.write", "like.write"], notice="n", method="ui_explicit", evidence="e")
    return twpolicy.Guard(
        ledger=ledger, windows=twpolicy.open_windows(windows_url, clock=clock), clock=clock
    )


def refusal_of(raised):
    decision = raised.value.decision
    (outcome,) = [o for o in decision.outcomes if o.rule == "ratelimit.respect"]
    return decision, outcome


class TestSpentWindow:
    def test_a_429_refuses_the_next_send_until_the_reset(self, clock, windows_url, request):
        fake = FakeXAPI(clock=clock)
        guard = guard_on(clock, windows_url)
        request.addfinalizer(guard.windows.close)
        client = fake.client(guard=guard)
        fake.exhaust_rate_limit(POST)
        with pytest.raises(tweepy.TooManyRequests):
            client.create_tweet(text="one")  # X answers 429: the window is recorded
        with pytest.raises(twpolicy.RateLimited) as refused:
            client.create_tweet(text="two")
        assert len(fake.calls(POST)) == 1  # nothing more on the wire
        decision, outcome = refusal_of(refused)
        assert (decision.reason, decision.clause) == ("rate_limit_spent", "I.B.5")
        assert f"spent until {RESET.isoformat()}" in decision.message
        assert f"wait until {RESET.isoformat()}" in decision.remediation
        assert "wait_on_rate_limit=True" in decision.remediation
        assert outcome.facts["source"] == "429"
        clock.now = RESET + timedelta(seconds=1)  # X reset the window
        client.create_tweet(text="three")
        assert len(fake.calls(POST)) == 2

    def test_remaining_zero_refuses_before_any_429(self, clock):
        fake = FakeXAPI(clock=clock)
        guard = guard_on(clock)
        client = fake.client(guard=guard)
        tweet = fake.add_tweet("like me", author_id=ME)
        route = "POST /2/users/:id/likes"
        for _ in range(1000):  # the fake's window for likes; the last answer says 0 remain
            try:
                client.like(tweet)
            except twpolicy.RateLimited:  # noqa: PERF203  # the loop ends here
                break
        sent = len(fake.calls(route))
        assert sent < 1000
        assert all(r.status == 200 for r in fake.calls(route))  # never a 429
        with pytest.raises(twpolicy.RateLimited, match=r"of \d+ requests"):
            client.like(tweet)
        assert len(fake.calls(route)) == sent

    def test_a_client_that_waits_is_not_refused_its_own_window(self, clock):
        guard = guard_on(clock)
        credential = credential_id("tok")
        guard.windows.record_spent(
            (SpentWindow(POST, "token", credential, credential, RESET, 300, "429"),)
        )
        action = twpolicy.Action(
            kind="api_call",
            operation=POST,
            category="write",
            acting_user_id=ME,
            scopes={"tweet.write"},
            facts={"token_owner": ME, "rate_credential": credential},
        )
        assert guard.check(action).reason == "rate_limit_spent"
        waits = twpolicy.Action(
            kind="api_call",
            operation=POST,
            category="write",
            acting_user_id=ME,
            scopes={"tweet.write"},
            facts={"token_owner": ME, "rate_credential": credential, "rate_waits": True},
        )
        assert guard.check(waits).allowed

    def test_the_v1_api_and_the_async_client_record_and_refuse(self, clock, loop):
        fake = FakeXAPI(clock=clock)
        guard = guard_on(clock)
        api = fake.api(guard=guard)
        fake.exhaust_rate_limit("POST /1.1/statuses/update.json")
        with pytest.raises(tweepy.TooManyRequests):
            api.update_status("one")
        with pytest.raises(twpolicy.RateLimited):
            api.update_status("two")
        assert len(fake.calls("POST /1.1/statuses/update.json")) == 1

        client = fake.async_client(guard=guard)
        fake.exhaust_rate_limit(POST)
        with pytest.raises(tweepy.TooManyRequests):
            loop.run_until_complete(client.create_tweet(text="one"))
        with pytest.raises(twpolicy.RateLimited):
            loop.run_until_complete(client.create_tweet(text="two"))
        assert len(fake.calls(POST)) == 1

    def test_reads_are_recorded_under_their_token(self, clock):
        fake = FakeXAPI(clock=clock)
        guard = guard_on(clock)
        client = fake.client(guard=guard)
        fake.exhaust_rate_limit("GET /2/users/me")
        with pytest.raises(tweepy.TooManyRequests):
            client.get_me(user_auth=True)
        who = RateWindow(
            "GET /2/users/me", credential_id(fake.access_token()), app=credential_id("x")
        )
        (spent,) = guard.windows.spent(who)
        assert (spent.scope, spent.resets_at) == ("token", RESET)

    def test_a_store_that_cannot_record_is_logged_not_raised(self, clock, caplog, monkeypatch):
        fake = FakeXAPI(clock=clock)
        guard = guard_on(clock)
        client = fake.client(guard=guard)

        def broken(*_args, **_kwargs):
            raise twpolicy.StoreUnavailable("disk full")

        monkeypatch.setattr(guard.windows, "record_spent", broken)
        fake.exhaust_rate_limit(POST)
        with caplog.at_level(logging.ERROR, "twpolicy"), pytest.raises(tweepy.TooManyRequests):
            client.create_tweet(text="one")
        assert "could not record the rate-limit windows of POST /2/tweets" in caplog.text


class TestRotation:
    def test_another_token_for_the_same_user_is_refused(self, clock):
        fake = FakeXAPI(clock=clock)
        guard = guard_on(clock)
        fake.exhaust_rate_limit(POST)
        with pytest.raises(tweepy.TooManyRequests):
            fake.client(guard=guard).create_tweet(text="one")
        other_app = fake.client(
            guard=guard, consumer_key="another-app", access_token=f"{ME}-anotherToken"
        )
        with pytest.raises(twpolicy.RateLimited) as refused:
            other_app.create_tweet(text="two")
        oauth2 = fake.client(guard=guard, bearer_token=fake.user_token())
        with pytest.raises(twpolicy.RateLimited, match="circumvent"):
            oauth2.create_tweet(text="three", user_auth=False)
        assert len(fake.calls(POST)) == 1
        decision, outcome = refusal_of(refused)
        assert decision.reason == "rate_limit_rotation"
        assert f"user {ME}'s rate-limit window of {POST} is spent" in decision.message
        assert outcome.facts["credential"] == credential_id(fake.access_token())
        assert f"wait until {RESET.isoformat()}" in decision.remediation

    def test_another_user_or_another_route_is_not_rotation(self, clock):
        fake = FakeXAPI(clock=clock)
        guard = guard_on(clock)
        other = fake.add_user(username="other")
        guard.consent.grant(other, ["tweet.write"], notice="n", method="m", evidence="e")
        fake.exhaust_rate_limit(POST)
        with pytest.raises(tweepy.TooManyRequests):
            fake.client(guard=guard).create_tweet(text="one")
        fake.client(guard=guard).like(fake.add_tweet("x", author_id=other))
        FakeXAPI(me=other, clock=clock).client(guard=guard).create_tweet(text="mine")

    def test_an_apps_spent_daily_window_refuses_its_other_tokens(self, clock):
        guard = guard_on(clock)
        app = credential_id("consumer")
        first = RateWindow(POST, credential_id("a"), ME, app)
        headers = {"x-app-limit-24hour-remaining": "0", "x-app-limit-24hour-reset": "1767312000"}
        guard.windows.record_spent(observe(first, 200, headers, now=T0))
        action = twpolicy.Action(
            kind="api_call",
            operation=POST,
            category="write",
            acting_user_id=ME,
            scopes={"tweet.write"},
            facts={"token_owner": ME, "rate_credential": credential_id("b"), "rate_app": app},
        )
        decision = guard.check(action)
        assert decision.reason == "rate_limit_rotation"
        assert f"app {app}'s" in decision.message


class TestRuleEdges:
    def test_repr_and_no_window_store(self):
        rule = twpolicy.rules.respect_rate_limits()
        assert repr(rule) == "twpolicy.rules.respect_rate_limits()"
        context = twpolicy.RuleContext(now=T0, windows=None)
        outcome = rule.evaluate(_write(credential_id("t")), context)
        assert outcome.reason == "no_window_store"
        assert "open_windows" in outcome.remediation
        assert rule.static_for(_write(credential_id("t"))) is False

    def test_a_read_without_credentials_is_not_recorded(self, clock):
        guard = guard_on(clock)
        read = twpolicy.Action(kind="api_call", operation="GET /2/users/me", category="read")
        sending = Sending(object(), Policy(guard, None), read, None, recursive=True)
        sending.observe(429, {}, None)
        assert guard.windows.spent(RateWindow("GET /2/users/me", "x")) == ()


class TestAcrossProcesses:
    def test_a_window_spent_in_one_process_refuses_the_next_send_in_another(self, tmp_path):
        windows = f"sqlite:///{tmp_path / 'windows.db'}"
        consent = f"sqlite:///{tmp_path / 'consent.db'}"
        ledger = twpolicy.open_ledger(consent)
        ledger.grant(ME, ["tweet.write"], notice="n", method="ui_explicit", evidence="e")
        done = subprocess.run(  # our own worker: it posts into an exhausted window
            [sys.executable, str(WORKER), "spend", consent, windows],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        assert done.stdout.strip() == "429"
        fake = FakeXAPI()
        guard = twpolicy.Guard(ledger=ledger, windows=twpolicy.open_windows(windows))
        with pytest.raises(twpolicy.RateLimited, match="spent until"):
            fake.client(guard=guard).create_tweet(text="from here")
        assert fake.requests == []


class TestHeaders:
    def test_windows_with_room_record_nothing(self):
        who = RateWindow(POST, "c", ME)
        assert observe(who, 200, {"x-rate-limit-remaining": "3"}, now=T0) == ()
        assert observe(who, 200, {}, now=T0) == ()

    def test_a_past_reset_records_nothing(self):
        who = RateWindow(POST, "c", ME)
        headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(T0.timestamp()))}
        assert observe(who, 200, headers, now=T0) == ()
        assert observe(who, 200, {"x-rate-limit-remaining": "0"}, now=T0) == ()

    def test_a_429_without_reset_is_kept_for_fifteen_minutes(self):
        spent = observe(RateWindow(POST, "c", ME), 429, {"X-Rate-Limit-Limit": "x"}, now=T0)
        assert {(w.scope, w.resets_at, w.limit) for w in spent} == {
            ("token", RESET, None),
            ("user", RESET, None),
        }

    def test_user_daily_window(self):
        reset = int((T0 + timedelta(hours=5)).timestamp())
        headers = {
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(reset),
            "x-user-limit-24hour-limit": "17",
        }
        spent = observe(RateWindow(POST, "c", None, "app"), 200, headers, now=T0)
        assert [(w.scope, w.limit, w.source) for w in spent] == [
            ("token", 17, "x-user-limit-24hour")
        ]

    def test_a_later_window_replaces_an_earlier_one_not_the_reverse(self, windows_url, clock):
        windows = twpolicy.open_windows(windows_url, clock=clock)
        early = SpentWindow(POST, "token", "c", "c", RESET, 1, "429")
        late = SpentWindow(POST, "token", "c", "c", RESET + timedelta(minutes=5), 2, "429")
        windows.record_spent((late,))
        windows.record_spent((early,))
        assert windows.spent(RateWindow(POST, "c")) == (late,)
        clock.now = RESET + timedelta(minutes=6)
        assert windows.spent(RateWindow(POST, "c")) == ()
        windows.record_spent(())
        windows.record_spent((early,))  # reset already: pruned on the way in
        assert windows.spent(RateWindow(POST, "c")) == ()
        windows.close()

    def test_credentials_are_read_off_the_authorization_header(self):
        assert _credentials("Bearer abc") == (credential_id("abc"), None)
        oauth = b'OAuth oauth_consumer_key="k%2B", oauth_token="1-t", oauth_nonce="n"'
        assert _credentials(oauth) == (credential_id("1-t"), credential_id("k+"))
        assert _credentials(None) == (None, None)
        assert _credentials("Basic xyz") == (None, None)

    def test_the_hook_ignores_answers_outside_a_send_and_non_sessions(self):
        class Answer:
            status_code = 429
            headers = {}  # noqa: RUF012

        assert observe_response(Answer()) is None
        watch_rate_limits(object())  # no hooks: nothing to do
        session = tweepy.Client().session
        watch_rate_limits(session)
        watch_rate_limits(session)
        assert session.hooks["response"].count(observe_response) == 1

    @given(st.integers(min_value=1, max_value=10**6), st.sampled_from([200, 201, 429]))
    @settings(deadline=None)
    def test_spent_exactly_when_x_says_so(self, seconds, status):
        """Whatever the header spelling, a window is kept iff it is spent and resets later."""
        reset = int(T0.timestamp()) + seconds
        for remaining in ("0", "1"):
            headers = {"X-Rate-Limit-Remaining": remaining, "x-rate-limit-RESET": str(reset)}
            spent = observe(RateWindow(POST, "c", ME), status, headers, now=T0)
            expected = remaining == "0" or status == 429
            assert bool(spent) is expected
            assert all(w.resets_at == T0 + timedelta(seconds=seconds) for w in spent)


def _write(credential, *, user=ME, app=None, waits=False):
    facts = {"token_owner": user, "rate_credential": credential}
    if app is not None:
        facts["rate_app"] = app
    if waits:
        facts["rate_waits"] = True
    return twpolicy.Action(
        kind="api_call",
        operation=POST,
        category="write",
        acting_user_id=user,
        scopes={"tweet.write"},
        facts=facts,
    )


class TestAdversarialRotation:
    @given(
        tokens=st.lists(
            st.text(alphabet="abcdef0123456789", min_size=8, max_size=16),
            min_size=2,
            max_size=6,
            unique=True,
        ),
        spent_by=st.integers(0, 5),
        waits=st.booleans(),
        later=st.integers(0, 30 * 60),
    )
    @settings(deadline=None)
    def test_no_token_of_the_user_gets_past_a_spent_window(self, tokens, spent_by, waits, later):
        """Whichever token spent it, every other token of the user is refused until the reset."""
        clock = Clock()
        guard = guard_on(clock)
        spender = credential_id(tokens[spent_by % len(tokens)])
        headers = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(RESET.timestamp()))}
        guard.windows.record_spent(observe(RateWindow(POST, spender, ME), 200, headers, now=T0))
        clock.now = T0 + timedelta(seconds=later)
        for token in tokens:
            credential = credential_id(token)
            decision = guard.check(_write(credential, waits=waits))
            if clock.now >= RESET:
                assert decision.allowed
            elif credential != spender:
                assert decision.reason == "rate_limit_rotation"
            else:
                assert decision.allowed is waits
                assert waits or decision.reason == "rate_limit_spent"
        other_user = guard.check(_write(credential_id(tokens[0]), user="1500000000000000002"))
        assert other_user.reason != "rate_limit_rotation"

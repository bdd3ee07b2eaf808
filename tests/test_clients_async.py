"""The asynchronous clients never touch a store on the event loop.

Decisions (which read the consent ledger), claims of single-use consents and their commits or
releases run in a worker thread. A detector wraps the ledger's store and records, for every
read and write, whether an event loop was running in the thread that made it.
"""

import asyncio
import logging
import threading

import pytest
import tweepy

import twpolicy
from test_clients import NOTICE, USER, make_v2, responder
from twpolicy.testing import DecisionRecorder
from twpolicy.testing._replay import RecordedResponse, ReplayTransport

BOUND = {"text": "hello"}
POSTED = {("POST", "/2/tweets"): {"data": {"id": "1", "text": "hello"}}}


def on_a_loop():
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class Detector:
    """Wraps a ledger's store: notes each access and whether it ran on an event loop."""

    def __init__(self, store):
        self._store = store
        self.accesses = []

    def reading(self, *args, **kwargs):
        self.accesses.append(("reading", on_a_loop()))
        return self._store.reading(*args, **kwargs)

    def append(self, *args, **kwargs):
        self.accesses.append(("append", on_a_loop()))
        return self._store.append(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._store, name)


@pytest.fixture(name="ledger")
def _ledger(tmp_path):
    ledger = twpolicy.open_ledger(f"sqlite:///{tmp_path / 'consent.db'}", cache_ttl=0)
    ledger.grant(USER, ["like.write"], **NOTICE)
    ledger.grant(USER, ["tweet.write"], content_sha256=twpolicy.content_sha256(BOUND), **NOTICE)
    ledger._store = Detector(ledger._store)
    return ledger


def answer(request):
    """The fake API of these tests: a Tweet, the user, posts (``"fail"`` fails), likes."""
    if request.path == "/2/users/me":
        return RecordedResponse.json({"data": {"id": USER, "name": "Dev", "username": "dev"}})
    if request.path == "/2/tweets/20":
        tweet = {"id": "20", "text": "x", "edit_history_tweet_ids": ["20"]}
        return RecordedResponse.json({"data": tweet})
    if request.path == "/2/tweets":
        if request.json()["text"] == "fail":
            return RecordedResponse(503, "Service Unavailable", (), b"{}")
        return RecordedResponse.json({"data": {"id": "1", "text": "hello"}}, 201)
    return RecordedResponse.json({"data": {"liked": True}})


def test_no_ledger_io_on_the_event_loop(ledger, loop):
    """Reads, a lookup, writes with general and single-use consent, a failed post: off-loop."""
    ledger.grant(
        USER, ["tweet.write"], content_sha256=twpolicy.content_sha256({"text": "fail"}), **NOTICE
    )
    detector = ledger._store
    detector.accesses.clear()
    recorder = DecisionRecorder()
    guard = twpolicy.Guard(ledger=ledger, sinks=[recorder])
    transport = ReplayTransport(answer)
    client = transport.install(twpolicy.AsyncClient("oauth2-user-token", guard=guard))

    async def run():
        await client.get_tweet(20)
        await client.create_tweet(text="hello", user_auth=False)  # lookup, claim, use
        with pytest.raises(tweepy.TwitterServerError):
            await client.create_tweet(text="fail", user_auth=False)  # claim, release
        await client.like(1, user_auth=False)  # a general consent, read
        with pytest.raises(twpolicy.ConsentRequired):
            await client.create_tweet(text="hello", user_auth=False)  # spent

    loop.run_until_complete(run())
    assert 5 == len(transport.requests)
    assert {"reading", "append"} == {kind for kind, _ in detector.accesses}
    assert [] == [access for access in detector.accesses if access[1]]
    assert ["claimed", "used", "claimed", "released"] == [
        e.type.value for e in ledger.events() if e.type.value in {"claimed", "used", "released"}
    ]


def test_stream_decisions_off_the_loop(ledger, loop):
    """AsyncStreamingClient: opening the stream and each payload are decided off the loop."""

    class ReadsConsent:
        """A stream rule that asks the consent ledger about each payload."""

        id = "test.stream_reads_ledger"
        clause = "I.C.1.a"
        error = twpolicy.ConsentRequired
        kinds = frozenset({twpolicy.ActionKind.STREAM_DATA, twpolicy.ActionKind.API_CALL})

        def evaluate(self, action, context):
            context.consent.check(USER, "like.write")

    seen = []

    class Listener(twpolicy.AsyncStreamingClient):
        async def on_tweet(self, tweet):
            seen.append(tweet.id)

        async def on_closed(self, response):
            self.disconnect()

    guard = twpolicy.Guard(ledger=ledger, rules=[*twpolicy.default_rules(), ReadsConsent()])
    body = b'{"data": {"id": "1", "text": "one", "edit_history_tweet_ids": ["1"]}}\n'
    answered = []

    def respond(request):
        if not answered:
            answered.append(request)
            return RecordedResponse(200, "OK", (), body)
        return None

    client = Listener("bearer", guard=guard)
    ReplayTransport(respond).install(client)

    async def run():
        await client.sample()

    loop.run_until_complete(run())
    assert [1] == seen
    detector = ledger._store
    assert len(detector.accesses) >= 2  # the connect decision and the payload's
    assert [] == [access for access in detector.accesses if access[1]]


class Gated:
    """A ledger whose claims wait for a gate: the test cancels the caller meanwhile."""

    def __init__(self, inner):
        self.inner = inner
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.released = threading.Event()

    def check(self, *args, **kwargs):
        return self.inner.check(*args, **kwargs)

    def claim(self, record_id, claim, *, until):
        self.entered.set()
        assert self.gate.wait(10), "the test never opened the gate"
        return self.inner.claim(record_id, claim, until=until)

    def use(self, record_id, *, claim=None):
        return self.inner.use(record_id, claim=claim)

    def release_claim(self, record_id, claim, *, reason=""):
        try:
            return self.inner.release_claim(record_id, claim, reason=reason)
        finally:
            self.released.set()


def test_cancelled_while_deciding_gives_the_claim_back(loop):
    """A caller cancelled while its decision claims a consent: the claim is released."""
    inner = twpolicy.open_ledger("memory://")
    record = inner.grant(
        USER, ["tweet.write"], content_sha256=twpolicy.content_sha256(BOUND), **NOTICE
    )
    ledger = Gated(inner)
    transport = responder(POSTED)
    client = transport.install(make_v2(twpolicy.AsyncClient, guard=twpolicy.Guard(ledger=ledger)))

    async def run():
        task = asyncio.ensure_future(client.create_tweet(text="hello"))
        await loop.run_in_executor(None, ledger.entered.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        ledger.gate.set()
        await loop.run_in_executor(None, ledger.released.wait, 10)

    loop.run_until_complete(run())
    assert [] == transport.requests
    kinds = [e.type.value for e in inner.events()]
    assert ["granted", "claimed", "released"] == kinds
    assert inner.check(USER, "tweet.write", content_sha256=record.content_sha256)


def test_sinks_hear_async_decisions_off_the_loop(loop):
    """An audit sink may write to disk: the async clients call it from a worker thread."""
    heard = []
    guard = twpolicy.Guard(
        ledger=twpolicy.open_ledger("memory://"), sinks=[lambda d: heard.append(on_a_loop())]
    )
    guard.consent.grant(USER, ["tweet.write"], **NOTICE)
    transport = ReplayTransport(answer)
    client = transport.install(make_v2(twpolicy.AsyncClient, guard=guard))

    async def run():
        await client.get_tweet(20)
        await client.get_tweet(20)
        await client.create_tweet(text="hello")

    loop.run_until_complete(run())
    assert [False, False, False] == heard


def test_remembered_reads_are_decided_on_the_loop():
    """Only a read every rule calls static, allowed, unobserved, skips the worker thread."""
    ledger = twpolicy.open_ledger("memory://")
    quiet = twpolicy.Guard(ledger=ledger)
    read = twpolicy.endpoint_catalog().lookup("GET", "/2/tweets/20").read_action
    write = twpolicy.Action(
        kind="api_call",
        operation="POST /2/tweets",
        category="write",
        acting_user_id=USER,
        scopes={"tweet.write"},
    )
    assert not quiet.remembers(read)  # not decided yet
    with quiet.permit(read):
        pass
    assert quiet.remembers(read)
    with pytest.raises(twpolicy.ConsentRequired), quiet.permit(write):
        pass
    assert not quiet.remembers(write)
    observed = twpolicy.Guard(ledger=ledger, sinks=[DecisionRecorder()])
    with observed.permit(read):
        pass
    assert not observed.remembers(read)


def test_in_memory_guards_decide_writes_on_the_loop(loop):
    """With every store in memory and nobody observing, a write skips the worker thread."""
    guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"))
    guard.consent.grant(USER, ["tweet.write"], **NOTICE)
    assert guard.in_memory()
    threads = []
    permit = guard.permit

    def noting(action, **kwargs):
        threads.append(on_a_loop())
        return permit(action, **kwargs)

    guard.permit = noting
    transport = ReplayTransport(answer)
    client = transport.install(make_v2(twpolicy.AsyncClient, guard=guard))

    async def run():
        await client.create_tweet(text="hello")
        with pytest.raises(tweepy.TwitterServerError):
            await client.create_tweet(text="fail")  # released, on the loop too

    loop.run_until_complete(run())
    assert [True, True] == threads
    assert 2 == len(transport.requests)
    assert 1 == guard.windows.usage(f"posts:{USER}", twpolicy.rules.BULK_LIMITS["posts"][1]).used


def test_what_counts_as_in_memory(tmp_path):
    """A store on disk, a rule of the application's, a sink or the logger at INFO: not in memory."""
    memory = twpolicy.open_ledger("memory://")
    assert twpolicy.Guard(ledger=memory).in_memory()
    assert twpolicy.Guard().in_memory()  # no ledger at all: writes are refused, in memory
    on_disk = twpolicy.open_ledger(f"sqlite:///{tmp_path / 'c.db'}")
    assert not twpolicy.Guard(ledger=on_disk).in_memory()
    windows = twpolicy.open_windows(f"sqlite:///{tmp_path / 'w.db'}")
    assert not twpolicy.Guard(ledger=memory, windows=windows).in_memory()

    class Custom:
        id = "app.rule"
        clause = "I.A.1"
        error = twpolicy.PolicyViolation

        def evaluate(self, action, context):
            return None

    assert not twpolicy.Guard(rules=[*twpolicy.default_rules(), Custom()]).in_memory()
    tokens = twpolicy.open_user_tokens(f"sqlite:///{tmp_path / 't.db'}")
    on_disk_rule = twpolicy.rules.user_token_thresholds(tokens)
    assert not twpolicy.Guard(rules=[*twpolicy.default_rules(), on_disk_rule]).in_memory()
    in_memory_rule = twpolicy.rules.user_token_thresholds(twpolicy.open_user_tokens("memory://"))
    assert twpolicy.Guard(rules=[*twpolicy.default_rules(), in_memory_rule]).in_memory()
    guard = twpolicy.Guard(ledger=memory)
    guard.add_sink(DecisionRecorder())
    assert not guard.in_memory()
    decisions = logging.getLogger("twpolicy.decisions")
    level = decisions.level
    decisions.setLevel(logging.INFO)
    try:
        assert not twpolicy.Guard(ledger=memory).in_memory()
    finally:
        decisions.setLevel(level)

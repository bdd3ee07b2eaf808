"""No stream payload outlives its decision, on either streaming client.

Payloads handed to ``on_data`` are decided on, passed to the callbacks (or dropped), and then
nothing of twpolicy's keeps them: not the client, not the guard, not the decision log. The
payloads here are weakly referenceable (a `bytearray` subclass, which tweepy parses as it
parses bytes), so a weak reference tells whether anything still holds them.
"""

import gc
import weakref

import pytest

import twpolicy
from test_clients import STREAM, StreamDenied
from twpolicy.testing import DecisionRecorder
from twpolicy.testing._replay import RecordedResponse, ReplayTransport


class Payload(bytearray):
    """Stream bytes that can be weakly referenced."""


class Remembers:
    """A stream rule that notes (weakly) every action it judges."""

    id = "test.remembers"
    clause = "I.B.7"
    error = twpolicy.StandaloneGeoError
    kinds = frozenset({twpolicy.ActionKind.STREAM_DATA})

    def __init__(self):
        self.seen = []

    def evaluate(self, action, context):
        self.seen.append(weakref.ref(action))


def stream_guard(recorder, remembers):
    return twpolicy.Guard(
        ledger=twpolicy.open_ledger("memory://"),
        rules=[*twpolicy.default_rules(), StreamDenied(), remembers],
        sinks=[recorder],
    )


def payloads():
    """An admitted and a refused payload, each weakly referenced."""
    admitted = Payload(b'{"data": {"id": "1", "text": "one", "edit_history_tweet_ids": ["1"]}}')
    refused = Payload(b'{"data": {"id": "2", "text": "refuse", "edit_history_tweet_ids": ["2"]}}')
    return [admitted, refused]


def collected(refs):
    gc.collect()
    return all(ref() is None for ref in refs)


@pytest.mark.parametrize("override", [False, True])
def test_sync_payloads_are_not_retained(override):
    """StreamingClient: after on_data returns, the payloads and their actions are gone."""
    seen = []

    class Listener(twpolicy.StreamingClient):
        def on_tweet(self, tweet):
            seen.append(tweet.id)

    if override:

        class Listener(Listener):
            def on_data(self, raw_data):
                super().on_data(raw_data)

    recorder, remembers = DecisionRecorder(), Remembers()
    client = Listener("bearer", guard=stream_guard(recorder, remembers))
    sent = payloads()
    refs = [weakref.ref(p) for p in sent]
    for payload in sent:
        client.on_data(payload)
    del sent, payload
    assert [1] == seen
    assert ["allow", "deny"] == [d.effect.value for d in recorder]
    assert 2 == len(remembers.seen)
    assert collected(refs)
    assert collected(remembers.seen)


@pytest.mark.parametrize("override", [False, True])
def test_async_payloads_are_not_retained(override, loop):
    """AsyncStreamingClient: the same, with the decision made in a worker thread."""
    seen = []

    class Listener(twpolicy.AsyncStreamingClient):
        async def on_tweet(self, tweet):
            seen.append(tweet.id)

    if override:

        class Listener(Listener):
            async def on_data(self, raw_data):
                await super().on_data(raw_data)

    recorder, remembers = DecisionRecorder(), Remembers()
    client = Listener("bearer", guard=stream_guard(recorder, remembers))
    sent = payloads()
    refs = [weakref.ref(p) for p in sent]

    async def feed(items):
        for item in items:
            await client.on_data(item)

    loop.run_until_complete(feed(sent))
    del sent
    assert [1] == seen
    assert ["allow", "deny"] == [d.effect.value for d in recorder]
    assert collected(refs)
    assert collected(remembers.seen)


def test_a_live_stream_keeps_no_payload(loop):
    """Through tweepy's own stream loops (sync and async): every judged action is collected."""
    answered = []

    def respond(request):
        if request.path.endswith("/stream") and len(answered) < 2:
            answered.append(request)
            return RecordedResponse(200, "OK", (), STREAM)
        return None

    class Sync(twpolicy.StreamingClient):
        def on_closed(self, response):
            self.disconnect()

    class Async(twpolicy.AsyncStreamingClient):
        async def on_closed(self, response):
            self.disconnect()

    remembers = Remembers()
    for cls in (Sync, Async):
        client = cls("bearer", guard=stream_guard(DecisionRecorder(), remembers))
        ReplayTransport(respond).install(client)
        if cls is Sync:
            client.filter()
        else:
            loop.run_until_complete(_run(client))
        assert client._twpolicy_admitted is None
    assert 4 == len(remembers.seen)
    assert collected(remembers.seen)


async def _run(client):
    await client.sample()

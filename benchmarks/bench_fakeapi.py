"""The fake X API against a constant stub: what realism costs a test per request.

Both run below tweepy, as the transport of the same kind of client, so the difference is the
fake's own work (routing, authentication, rate limits, state, rendering, recording). The stub
is `twpolicy.testing._replay.ReplayTransport` answering every request with one fixed response: the
floor of tweepy's and requests' (or aiohttp's) own cost. Batches alternate (which one goes
first alternates too) in one process; each pair gives a ratio and the median is reported.
Times are CPU time of this process, so other processes' load is not counted.

    python benchmarks/bench_fakeapi.py [--calls 200] [--rounds 21]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

import tweepy
from tweepy.asynchronous import AsyncClient

from twpolicy.testing import FakeXAPI
from twpolicy.testing._replay import RecordedResponse, ReplayTransport

TWEET = {"data": {"id": "20", "text": "just setting up", "edit_history_tweet_ids": ["20"]}}
POSTED = {"data": {"id": "21", "text": "hello", "edit_history_tweet_ids": ["21"]}}


def stub() -> ReplayTransport:
    read = RecordedResponse.json(TWEET)
    write = RecordedResponse.json(POSTED, 201, "Created")
    return ReplayTransport(lambda request: write if request.method == "POST" else read)


def clients(factory: Callable[..., object]) -> tuple[object, object, FakeXAPI]:
    """The same client class on the fake and on the stub."""
    fake = FakeXAPI(rate_limits=False)
    on_fake = fake.install(factory(**fake.credentials()))
    on_stub = stub().install(factory(**fake.credentials()))
    return on_fake, on_stub, fake


def batch(call: Callable[[int], object], calls: int) -> float:
    """CPU seconds per call over ``calls`` calls."""
    started = time.process_time()
    for number in range(calls):
        call(number)
    return (time.process_time() - started) / calls


def compare(
    name: str,
    fake_call: Callable[[int], object],
    stub_call: Callable[[int], object],
    calls: int,
    rounds: int,
    *,
    per: int = 1,
) -> None:
    """Alternate batches of the two calls; print medians per request and the median ratio."""
    ratios: list[float] = []
    fake_times: list[float] = []
    stub_times: list[float] = []
    for round_number in range(rounds):
        order = [(fake_call, fake_times), (stub_call, stub_times)]
        if round_number % 2:
            order.reverse()
        for call, times in order:
            times.append(batch(call, calls))
        ratios.append(fake_times[-1] / stub_times[-1])
    print(
        f"{name:<34} stub {statistics.median(stub_times) / per * 1e6:7.0f} µs   "
        f"fake {statistics.median(fake_times) / per * 1e6:7.0f} µs   "
        f"ratio {statistics.median(ratios):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=21)
    arguments = parser.parse_args()
    calls, rounds = arguments.calls, arguments.rounds

    on_fake, on_stub, fake = clients(tweepy.Client)
    tweet = fake.add_tweet("just setting up")
    compare(
        "get_tweet (sync)",
        lambda _: on_fake.get_tweet(tweet),  # type: ignore[attr-defined]
        lambda _: on_stub.get_tweet(tweet),  # type: ignore[attr-defined]
        calls,
        rounds,
    )
    compare(
        "create_tweet (sync, OAuth 1.0a)",
        lambda n: on_fake.create_tweet(text=f"hello {time.perf_counter_ns()} {n}"),  # type: ignore[attr-defined]
        lambda n: on_stub.create_tweet(text=f"hello {n}"),  # type: ignore[attr-defined]
        calls,
        rounds,
    )
    async_fake, async_stub, fake = clients(AsyncClient)
    tweet = fake.add_tweet("just setting up")

    def run(client: object) -> Callable[[int], object]:
        async def many() -> None:
            for _ in range(calls):
                await client.get_tweet(tweet)  # type: ignore[attr-defined]

        return lambda _: asyncio.run(many())

    compare("get_tweet (async)", run(async_fake), run(async_stub), 1, rounds, per=calls)


if __name__ == "__main__":
    main()

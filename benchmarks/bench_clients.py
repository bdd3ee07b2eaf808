"""Guarded vs bare tweepy on a stub transport: the cost of the policy check per call.

Both clients send through the same in-memory transport (no network), so the difference is
twpolicy's work: catalog lookup, describing the action, the guard's decision and its logging.
Runs are interleaved in one process (bare, guarded, bare, ...) and the medians compared.

    python benchmarks/bench_clients.py [--calls 2000] [--rounds 15] [--ledger memory://]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

import tweepy

import twpolicy
from twpolicy.testing._replay import RecordedResponse, ReplayTransport

USER = "2244994945"
TWEET = {"data": {"id": "1445880548472328192", "text": "hi", "edit_history_tweet_ids": ["1"]}}
POSTED = {"data": {"id": "1445880548472328192", "text": "hello"}}


def page(size: int = 100) -> dict[str, object]:
    """A full page of a search (``max_results=100``): Tweets with entities and metrics, authors."""
    first = 1445880548472328192
    users = [
        {"id": str(2244994945 + n), "name": f"Walker {n}", "username": f"w{n}"} for n in range(40)
    ]
    tweets = [
        {
            "id": str(first + n),
            "text": f"Day {n} of the walk: {n % 97} km along the river, lunch by the water",
            "author_id": users[n % 40]["id"],
            "conversation_id": str(first + n - n % 5),
            "created_at": "2026-12-03T10:00:00.000Z",
            "edit_history_tweet_ids": [str(first + n)],
            "lang": "en",
            "public_metrics": {
                "retweet_count": n,
                "reply_count": 1,
                "like_count": 2,
                "quote_count": 0,
            },
            "entities": {
                "mentions": [
                    {"start": 60, "end": 64, "username": f"w{n % 40}", "id": users[n % 40]["id"]}
                ]
            },
        }
        for n in range(size)
    ]
    return {"data": tweets, "includes": {"users": users}, "meta": {"result_count": size}}


def stub(body: object = None) -> ReplayTransport:
    read = RecordedResponse.json(TWEET if body is None else body)
    write = RecordedResponse.json(POSTED, 201, "Created")
    return ReplayTransport(lambda request: write if request.method == "POST" else read)


_TRANSPORTS: list[ReplayTransport] = []


def client(cls: type, guard: twpolicy.Guard | None, body: object = None) -> tweepy.Client:
    kwargs = {} if guard is None else {"guard": guard}
    made = cls("bearer", "key", "secret", f"{USER}-token", "token-secret", **kwargs)
    _TRANSPORTS.append(stub(body))
    _TRANSPORTS[-1].install(made)
    return made


class Pacer:
    """The guard's clock: it moves on by ``step`` at each `tick`, as the benchmark posts.

    The default bulk cap allows 200 posts a day per account; posting at that pace (one every
    ``step``) keeps the windows as full as a busy account's, steadily, however long it runs.
    """

    def __init__(self, step: timedelta = timedelta(seconds=450)) -> None:
        self.now = datetime.now(timezone.utc)
        self.step = step

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += self.step


def discard(decision: twpolicy.Decision) -> None:
    """An audit sink that drops what it is given."""
    del decision


def per_call(call, calls: int) -> float:
    """CPU seconds per call, over ``calls`` calls (CPU time: other processes' load is not ours)."""
    for transport in _TRANSPORTS:
        # The stub keeps every request; a growing heap would make the garbage collector's
        # passes, charged to whichever client triggers them, ever longer.
        transport.requests.clear()
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls


def compare(name: str, bare, guarded, calls: int, rounds: int) -> dict[str, float]:
    """Interleave short batches of both clients; compare each batch pair, then take medians."""
    for warm in (bare, guarded):
        per_call(warm, max(calls, 10))
    bare_times, guarded_times, ratios = [], [], []
    for index in range(rounds):
        # Alternate which goes first, so drift in machine speed favours neither.
        first, second = (bare, guarded) if index % 2 == 0 else (guarded, bare)
        one, two = per_call(first, calls), per_call(second, calls)
        bare_time, guarded_time = (one, two) if first is bare else (two, one)
        bare_times.append(bare_time)
        guarded_times.append(guarded_time)
        ratios.append(guarded_time / bare_time)
    bare_us = statistics.median(bare_times) * 1e6
    guarded_us = statistics.median(guarded_times) * 1e6
    result = {
        "bare_us": bare_us,
        "guarded_us": guarded_us,
        "overhead_us": guarded_us - bare_us,
        "ratio": statistics.median(ratios),
    }
    print(
        f"{name:<16} bare {bare_us:8.1f} us  guarded {guarded_us:8.1f} us  "
        f"overhead {result['overhead_us']:6.2f} us  ratio {result['ratio']:.4f} "
        f"(median of {rounds} paired batches of {calls} calls)"
    )
    return result


def guard_only(guard: twpolicy.Guard, pacer: Pacer, calls: int, rounds: int) -> None:
    """The decision alone, per action, for a read and a write."""
    endpoint = twpolicy.endpoint_catalog().lookup("POST", "/2/tweets")
    write = twpolicy.Action(
        kind="api_call",
        operation=endpoint.operation,
        category="write",
        acting_user_id=USER,
        scopes={"tweet.write"},
    )
    read = twpolicy.endpoint_catalog().lookup("GET", "/2/tweets/1").read_action

    def permit(action: twpolicy.Action) -> None:
        with guard.permit(action):
            pass

    for name, action in (("read", read), ("write", write)):
        for method in (permit, guard.check):

            def once(a: twpolicy.Action = action, m=method) -> None:
                pacer.tick()
                m(a)

            times = [per_call(once, calls) for _ in range(rounds)]
            label = f"guard.{method.__name__}({name})"
            print(f"{label:<20} {statistics.median(times) * 1e6:6.2f} us")


def share(pair: Pair, calls: int, rounds: int) -> dict[str, float]:
    """twpolicy's share alone: plan a request, enter and leave its sending scope, no send.

    What a guarded call adds to tweepy's, measured without tweepy's own work around it, so
    other processes' load moves it less than the whole-call ratio. Best of ``rounds``; the
    plan (catalog lookup, `Action`) and the scope (decision, window counts) also apart.
    """
    from twpolicy._clients._plan import plan_v2  # noqa: PLC0415  # internal

    client = pair.guarded
    policy = client._twpolicy  # noqa: SLF001  # the client's own state
    ids = itertools.count(1445880548472328192)
    texts = itertools.cycle(
        f"A walk of {n} km along the river, lunch by the water" for n in range(9999)
    )
    found = {}
    for name, method, route, body in (
        ("read", "GET", lambda: f"/2/tweets/{next(ids)}", lambda: None),
        ("write", "POST", lambda: "/2/tweets", lambda: {"text": "hello"}),
        ("write, new text", "POST", lambda: "/2/tweets", lambda: {"text": next(texts)}),
    ):
        tick = pair.pacer.tick if method == "POST" else (lambda: None)

        def plan(m: str = method, r=route, b=body) -> object:
            return plan_v2(policy, client, m, r(), b(), user_auth=True, params={"id": 1})

        def whole(m: str = method, r=route, b=body, t=tick) -> None:
            t()
            path = r()
            planned = plan_v2(policy, client, m, path, b(), user_auth=True, params={"id": 1})
            with planned.sending(client, policy, m, "https://api.twitter.com" + path):
                pass

        for label, case in ((name, whole), (name + " (plan)", plan)):
            per_call(case, max(calls, 10))
            found[label] = min(per_call(case, calls) for _ in range(rounds)) * 1e6
            print(f"{'share: ' + label:<28} {found[label]:7.2f} us")
    return found


#: What the ratios are against, for `measure`.
BASELINE = "bare tweepy, stub transport"
#: Generous bounds for a CI smoke: only a gross regression crosses them (no absolute times).
BOUNDS = {
    "read": 2.5,
    "write": 5.0,
    "write, new text": 8.0,
    "read, audit sink": 2.5,
    "read, 100 Tweets": 2.5,
}


class Pair:
    """A bare and a guarded client on stub transports, and the calls that are compared."""

    def __init__(self, ledger_url: str = "memory://") -> None:
        self.pacer = pacer = Pacer()
        self.guard = twpolicy.Guard(ledger=twpolicy.open_ledger(ledger_url), clock=pacer)
        self.guard.consent.grant(  # type: ignore[attr-defined]  # a twpolicy.Ledger
            USER, ["tweet.write"], notice="bench", method="ui_explicit", evidence="bench"
        )
        bare, guarded = client(tweepy.Client, None), client(twpolicy.Client, self.guard)
        self.guarded = guarded
        # The same read with an audit sink attached: every decision is built and delivered
        # (to a sink that drops it).
        audited = twpolicy.Guard(ledger=self.guard.consent, sinks=[discard])
        observed = client(twpolicy.Client, audited)
        # A full search page: what the read hooks cost grows with the page, as tweepy's does.
        full = page()
        bare_page, guarded_page = (
            client(tweepy.Client, None, full),
            client(twpolicy.Client, self.guard, full),
        )
        # Different Tweet IDs call after call, as an application reading Tweets sends them.
        ids = itertools.cycle(range(1445880548472328192, 1445880548472338192))
        texts = itertools.cycle(
            f"Day {n} of the {word} walk: {n % 97} km along the river, lunch at the "
            f"{n % 13}th bridge, {word[::-1]} by the water"
            for n in range(20_000)
            for word in (f"w{n * 7919 % 100_003:x}",)
        )
        self.calls = {
            "read": (lambda: bare.get_tweet(next(ids)), lambda: guarded.get_tweet(next(ids))),
            "write": (
                lambda: (pacer.tick(), bare.create_tweet(text="hello")),
                lambda: (pacer.tick(), guarded.create_tweet(text="hello")),
            ),
            # Text never posted before, as an application posts: the duplicate check hashes
            # each new text (its band keys are cached only for text seen recently).
            "write, new text": (
                lambda: (pacer.tick(), bare.create_tweet(text=next(texts))),
                lambda: (pacer.tick(), guarded.create_tweet(text=next(texts))),
            ),
            "read, audit sink": (
                lambda: bare.get_tweet(next(ids)),
                lambda: observed.get_tweet(next(ids)),
            ),
            "read, 100 Tweets": (
                lambda: bare_page.search_recent_tweets("walk", max_results=100),
                lambda: guarded_page.search_recent_tweets("walk", max_results=100),
            ),
        }


def measure(quick: bool = False) -> list[dict[str, object]]:  # noqa: FBT001, FBT002  # the benchmark contract: measure(quick)
    """Every ratio guarded/bare (lower is better) with its baseline and a gross-regression bound.

    ``quick`` takes a few seconds (fewer, shorter batches), for a CI smoke.
    """
    calls, rounds = (50, 7) if quick else (200, 101)
    pair = Pair()
    results = []
    for name, (bare, guarded) in pair.calls.items():
        result = compare(name, bare, guarded, calls, rounds)
        results.append(
            {
                "name": f"clients: {name}",
                "ratio": result["ratio"],
                "baseline": BASELINE,
                "bound": BOUNDS[name],
                "bare_us": result["bare_us"],
                "guarded_us": result["guarded_us"],
            }
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per timed batch")
    parser.add_argument("--rounds", type=int, default=101, help="paired batches per client")
    parser.add_argument("--ledger", default="memory://", help="consent ledger URL")
    parser.add_argument("--max-ratio", type=float, default=None, help="exit 1 above this ratio")
    args = parser.parse_args(argv)

    pair = Pair(args.ledger)
    print(f"tweepy {tweepy.__version__}, twpolicy {twpolicy.__version__}, ledger {args.ledger}")
    results = {
        name: compare(name, bare, guarded, args.calls, args.rounds)
        for name, (bare, guarded) in pair.calls.items()
    }
    guard_only(pair.guard, pair.pacer, args.calls * 10, 15)
    share(pair, args.calls * 10, 9)
    worst = max(results[name]["ratio"] for name in ("read", "write"))
    if args.max_ratio is not None and worst > args.max_ratio:
        print(f"ratio {worst:.4f} is above {args.max_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

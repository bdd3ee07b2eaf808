"""Deciding changes nothing; acting spends a single-use consent exactly once, on success.

``guard.check`` on any action the clients describe (and on exports) leaves the consent ledger
and the quota ledger as they were. A single-use consent claimed for a post survives every way
a send can fail (5xx, connection error, timeout) and is spent exactly once when a send
succeeds, on every client; losing it to another process refuses the post as
``single_use_consent_taken`` with one decision logged.
"""

import asyncio
import itertools
import types
from datetime import datetime, timezone

import aiohttp
import pytest
import requests
from hypothesis import event, given
from hypothesis import strategies as st

import twpolicy
from test_clients import NOTICE, USER, RacedLedger, make_v1, make_v2
from twpolicy._clients._plan import Policy, plan_v1, plan_v2
from twpolicy.strategies import ids
from twpolicy.testing import DecisionRecorder
from twpolicy.testing._replay import RecordedResponse, ReplayTransport

OTHER = "783214"
NOW = datetime.now(timezone.utc)
BOUND = {"text": "the post the user saw"}
PARTNER = "partner-lab"

# -- check() is pure --------------------------------------------------------------------


@pytest.fixture(name="world", scope="module")
def _world(tmp_path_factory):
    """A guard over a SQLite consent ledger (general and single-use consents) and quotas."""
    path = tmp_path_factory.mktemp("pure") / "consent.db"
    ledger = twpolicy.open_ledger(f"sqlite:///{path}", cache_ttl=0)
    ledger.grant(USER, ["tweet.write", "like.write"], **NOTICE)
    for content in (BOUND, {"status": "the post the user saw"}):
        ledger.grant(
            USER,
            ["tweet.write", "geo.write"],
            content_sha256=twpolicy.content_sha256(content),
            **NOTICE,
        )
    ledger.grant(OTHER, ["dm.write"], content_sha256=twpolicy.content_sha256(BOUND), **NOTICE)
    quotas = twpolicy.open_quotas("memory://")
    quotas.register(PARTNER)
    reservation = quotas.reserve(PARTNER, tweet_ids=400_000, at=NOW)
    quotas.commit(reservation.reservation_id)
    return twpolicy.Guard(ledger=ledger, quotas=quotas)


def concrete(route, users):
    """``route`` with each ``:parameter`` replaced by a drawn ID."""
    return "/".join(next(users) if part.startswith(":") else part for part in route.split("/"))


ENDPOINTS = sorted(twpolicy.endpoint_catalog(), key=lambda e: e.operation)
#: Posts, which a single-use consent can cover: drawn often, so check() meets claims to make.
POSTS = [
    twpolicy.endpoint_catalog().lookup("POST", route)
    for route in ("/2/tweets", "/1.1/statuses/update.json", f"/2/users/{USER}/likes")
]
TOKENS = st.sampled_from([f"{USER}-token"] * 3 + [f"{OTHER}-token", "opaque-token"])


@st.composite
def client_actions(draw):
    """Actions as the clients describe requests: any catalog endpoint, body and credentials."""
    endpoint = draw(st.sampled_from(POSTS) | st.sampled_from(ENDPOINTS))
    drawn = draw(st.lists(st.sampled_from([USER, OTHER]) | ids(), max_size=4))
    users = itertools.chain(drawn, itertools.repeat(USER))
    route = concrete(endpoint.route, users)
    policy = Policy(None, draw(st.sampled_from([None, None, USER, OTHER])))
    token = draw(TOKENS)
    client = types.SimpleNamespace(
        access_token=token,
        consumer_key="key",
        bearer_token=draw(st.none() | st.just("bearer")),
        auth=types.SimpleNamespace(access_token=token),
    )
    if endpoint.family == "v2":
        body = draw(st.sampled_from([None, BOUND, BOUND]) | st.builds(dict, text=st.text()))
        if body is not None and draw(st.booleans()):
            body = {**body, "geo": {"place_id": "5a110d312052166f"}}
        plan = plan_v2(policy, client, endpoint.method, route, body, user_auth=draw(st.booleans()))
    else:
        path = route.removeprefix("/1.1/").removesuffix(".json")
        kwargs = draw(
            st.fixed_dictionaries(
                {"status": st.just("the post the user saw") | st.text()},
                optional={"lat": st.just(1.5), "place_id": st.just("5a110d312052166f")},
            )
        )
        plan = plan_v1(policy, client, endpoint.method, path, kwargs)
    return plan.action


exports = st.builds(
    lambda recipient, content, count, payload: twpolicy.Action(
        kind="export",
        operation="export",
        recipient=recipient,
        count=count,
        facts={"content": content},
        payload=payload,
    ),
    st.none() | st.sampled_from([PARTNER, "unregistered-lab"]),
    st.sampled_from(["tweet_ids", "user_ids", "objects", "bogus"]),
    st.integers(0, 2_000_000) | st.integers(0, 3),
    st.lists(ids(), max_size=3),
)


def snapshot(guard):
    return (
        [event.to_dict() for event in guard.consent.events()],
        [guard.quotas.usage(name, at=NOW) for name in (PARTNER, "unregistered-lab")],
    )


@given(action=client_actions() | exports)
def test_check_changes_no_store(world, action):
    """Whatever is decided, check() claims, spends and counts nothing."""
    before = snapshot(world)
    decision = world.check(action)
    assert snapshot(world) == before
    event(f"{decision.reason}, {'obliges' if decision.obligations else 'no obligation'}")


def test_check_would_have_claimed(world):
    """The property above is not vacuous: check() sees a single-use consent it does not take."""
    action = plan_v2(
        Policy(None, None),
        types.SimpleNamespace(access_token=f"{USER}-token", consumer_key="key"),
        "POST",
        "/2/tweets",
        BOUND,
        user_auth=True,
    ).action
    before = snapshot(world)
    decision = world.check(action)
    assert decision.allowed
    assert decision.obligations
    assert snapshot(world) == before


# -- single use, on every client --------------------------------------------------------

POSTED = RecordedResponse.json({"data": {"id": "1", "text": "the post the user saw"}}, 201)
UPDATED = RecordedResponse.json({"id": 1, "id_str": "1", "text": "the post the user saw"})
UNAVAILABLE = RecordedResponse(503, "Service Unavailable", (), b"{}")


def _connection_error(flavour):
    if flavour == "async":
        return aiohttp.ClientConnectionError("connection reset by peer")
    return requests.ConnectionError("connection reset by peer")


def _timeout(flavour):
    if flavour == "async":
        return asyncio.TimeoutError()
    return requests.ReadTimeout("read timed out")


FAILURES = {
    "5xx": lambda flavour: UNAVAILABLE,
    "connection": _connection_error,
    "timeout": _timeout,
}


def answering(*answers):
    """A transport answering with each of ``answers`` in turn; an exception is raised."""
    queue = list(answers)

    def respond(request):
        answer = queue.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return ReplayTransport(respond)


class Flavour:
    """One client class, driven the same way: post the bound content, synchronously."""

    def __init__(self, name, loop):
        self.name = name
        self.loop = loop

    @property
    def content(self):
        return {"status": BOUND["text"]} if self.name == "v1.1" else BOUND

    def client(self, guard, transport):
        if self.name == "v1.1":
            return transport.install(make_v1(twpolicy.API, guard=guard))
        cls = twpolicy.AsyncClient if self.name == "async" else twpolicy.Client
        return transport.install(make_v2(cls, guard=guard))

    def post(self, client):
        if self.name == "v1.1":
            return client.update_status(BOUND["text"])
        if self.name == "async":
            return self.loop.run_until_complete(client.create_tweet(text=BOUND["text"]))
        return client.create_tweet(text=BOUND["text"])

    def success(self):
        return UPDATED if self.name == "v1.1" else POSTED


@pytest.fixture(name="flavour", params=["sync", "async", "v1.1"])
def _flavour(request, loop):
    return Flavour(request.param, loop)


def uses(ledger):
    return [
        e.type.value for e in ledger.events() if e.type.value in {"claimed", "released", "used"}
    ]


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_single_use_consent_survives_a_failed_send(flavour, failure):
    """A failed send gives the consent back; the next success spends it, once."""
    recorder = DecisionRecorder()
    guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[recorder])
    record = guard.consent.grant(
        USER,
        ["tweet.write"],
        content_sha256=twpolicy.content_sha256(flavour.content),
        **NOTICE,
    )
    transport = answering(FAILURES[failure](flavour.name), flavour.success())
    client = flavour.client(guard, transport)
    with pytest.raises((Exception, asyncio.TimeoutError)) as info:
        flavour.post(client)
    assert not isinstance(info.value, twpolicy.PolicyViolation)
    assert ["claimed", "released"] == uses(guard.consent)
    assert guard.consent.check(USER, "tweet.write", content_sha256=record.content_sha256)

    flavour.post(client)
    assert ["claimed", "released", "claimed", "used"] == uses(guard.consent)

    with pytest.raises(twpolicy.ConsentRequired):
        flavour.post(client)
    assert 2 == len(transport.requests)
    assert ["allow", "allow", "deny"] == [d.effect.value for d in recorder]


def test_a_lost_race_is_consent_required(flavour):
    """Another process took the single-use consent first: refused, one decision, nothing sent."""
    ledger = twpolicy.open_ledger("memory://")
    ledger.grant(
        USER, ["tweet.write"], content_sha256=twpolicy.content_sha256(flavour.content), **NOTICE
    )
    recorder = DecisionRecorder()
    guard = twpolicy.Guard(ledger=RacedLedger(ledger), sinks=[recorder])
    transport = answering(flavour.success())
    client = flavour.client(guard, transport)
    with pytest.raises(twpolicy.ConsentRequired) as info:
        flavour.post(client)
    assert "single_use_consent_taken" == info.value.decision.reason
    assert [info.value.decision] == recorder.decisions
    assert [] == transport.requests
    assert ["claimed"] == uses(ledger)  # the other process's claim only

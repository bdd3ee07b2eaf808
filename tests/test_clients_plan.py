"""The clients plan without the lookup generator when no lookup is wanted: the same plans."""

import tweepy
from hypothesis import given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy._clients._plan import (
    Policy,
    drive,
    plan_v1,
    plan_v2,
    planning,
    planning_v2,
    settled,
)

CATALOG = list(twpolicy.endpoint_catalog())
V2 = [e for e in CATALOG if e.family == "v2"]
V1 = [e for e in CATALOG if e.family == "v1.1"]
_DIGITS = st.from_regex(r"[1-9][0-9]{0,18}", fullmatch=True)
_BODIES = st.one_of(
    st.none(),
    st.fixed_dictionaries({"text": st.text(max_size=40)}),
    st.fixed_dictionaries({"text": st.text(max_size=20), "geo": st.just({"place_id": "p"})}),
    st.fixed_dictionaries({"reply": st.fixed_dictionaries({"in_reply_to_tweet_id": _DIGITS})}),
)


def _unasked():
    raise AssertionError("a settled plan asks for no lookup")


@st.composite
def _route(draw, endpoint):
    parts = [draw(_DIGITS) if p.startswith(":") else p for p in endpoint.route.split("/")]
    return "/".join(parts)


def _same(fast, slow):
    assert fast.endpoint is slow.endpoint
    assert fast.action == slow.action
    assert (fast.learns, fast.looks_up, fast.resolves) == (
        slow.learns,
        slow.looks_up,
        slow.resolves,
    )


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    endpoint=st.sampled_from(V2),
    body=_BODIES,
    user_auth=st.booleans(),
    token=st.sampled_from(["2244994945-token", "token-without-owner", None]),
    acting=st.sampled_from([None, "2244994945", "12"]),
    automated=st.booleans(),
)
def test_v2_fast_plan_is_plannings(data, endpoint, body, user_auth, token, acting, automated):  # noqa: PLR0917  # hypothesis draws
    """Whenever `settled` says a first plan needs no lookup, `planning` returns an equal one."""
    client = tweepy.Client("bearer", "key", "secret", token, "token-secret")
    policy = Policy(twpolicy.Guard(), acting, automated)
    route = data.draw(_route(endpoint))
    args = (policy, client, endpoint.method, route, body)
    fast = plan_v2(*args, user_auth=user_auth, params=None)
    if settled(fast):
        _same(fast, drive(planning_v2(*args, user_auth=user_auth, params=None), _unasked, _unasked))
    else:  # a lookup is wanted: planning from the first plan asks exactly as from nothing
        asked = next(planning_v2(*args, user_auth=user_auth, params=None, first=fast))
        assert asked == next(planning_v2(*args, user_auth=user_auth, params=None))


@settings(max_examples=200, deadline=None)
@given(
    endpoint=st.sampled_from(V1),
    status=st.one_of(st.none(), st.text(max_size=30)),
    lat=st.sampled_from([None, 1.5]),
    token=st.sampled_from(["2244994945-token", "token-without-owner"]),
)
def test_v1_fast_plan_is_plannings(endpoint, status, lat, token):
    auth = tweepy.OAuth1UserHandler("key", "secret", token, "token-secret")
    client = tweepy.API(auth)
    policy = Policy(twpolicy.Guard(), None)
    path = endpoint.route.removeprefix("/1.1/").removesuffix(".json").replace(":id", "20")
    kwargs = {"status": status, "lat": lat}
    fast = plan_v1(policy, client, endpoint.method, path, kwargs)
    steps = planning(
        lambda found, resolved: plan_v1(
            policy, client, endpoint.method, path, kwargs, found=found, resolved=resolved
        )
    )
    if settled(fast):
        _same(fast, drive(steps, _unasked, _unasked))
    else:
        assert next(steps) is None  # whom the token is: asked the same way

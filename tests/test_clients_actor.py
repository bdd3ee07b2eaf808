"""The acting user is the token's owner, on every client (I.C.1.a, ``actor.token_owner``).

Consent is checked for the user a request acts as; a request acts as the user whose token
signs it. When the client knows that owner (an OAuth 1.0a token's prefix, an answer from
``/2/users/me`` or ``verify_credentials``) or the route names a user, an ``acting_user_id``
that disagrees is refused, even when the user it names has consented.
"""

import pytest
import tweepy
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from test_clients import ME, NOTICE, POSTED, UPDATED, USER, VERIFIED, make_v1, make_v2, responder
from twpolicy.strategies import ids
from twpolicy.testing import DecisionRecorder

OTHER = "783214"
LIKE = {"tweet_id": "1293593516040269825"}
LIKED = {"data": {"liked": True}}


def consenting(recorder):
    """A guard where both USER and OTHER consented to everything: only the actor can refuse."""
    guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[recorder])
    for user in (USER, OTHER):
        guard.consent.grant(user, list(twpolicy.SCOPES), **NOTICE)
    return guard


def likes(user):
    return {("POST", f"/2/users/{user}/likes"): LIKED}


def refused(info, recorder, witness):
    """The refusal is actor_mismatch under I.C.1.a, the one decision logged for the call."""
    decision = info.value.decision
    assert isinstance(info.value, twpolicy.ConsentRequired)
    assert ("actor.token_owner", "I.C.1.a", "actor_mismatch") == (
        decision.rule,
        decision.clause,
        decision.reason,
    )
    assert [decision] == recorder.denied
    mismatch = next(o for o in decision.outcomes if o.reason == "actor_mismatch")
    assert witness in mismatch.facts
    return decision


class TestRule:
    @given(actor=ids(), owner=st.none() | ids(), route=st.none() | ids())
    def test_refuses_exactly_a_disagreeing_actor(self, actor, owner, route):
        """Denied iff a named owner or route user differs from the acting user."""
        facts = {"token_owner": owner, "route_user": route}
        action = twpolicy.Action(
            kind="api_call",
            operation="POST /2/tweets",
            category="write",
            acting_user_id=actor,
            scopes={"tweet.write"},
            facts={k: v for k, v in facts.items() if v is not None},
        )
        rule = twpolicy.rules.match_token_owner()
        outcome = rule.evaluate(action, None)
        witnesses = {owner, route} - {None}
        if not witnesses:
            assert outcome is None
        elif witnesses == {actor}:
            assert "allow" == outcome.effect.value
        else:
            assert ("deny", "actor_mismatch") == (outcome.effect.value, outcome.reason)
        assert rule.static_for(action)

    def test_is_a_default_rule_before_consent(self):
        """It runs before consent.required, so a mismatch is what the refusal names."""
        order = [rule.id for rule in twpolicy.default_rules()]
        assert order.index("actor.token_owner") < order.index("consent.required")


class TestClient:
    def test_acting_user_other_than_the_token_owner(self):
        """OAuth 1.0a: the token's prefix is its owner; another acting_user_id is refused."""
        recorder = DecisionRecorder()
        transport = responder(POSTED)
        client = transport.install(
            make_v2(twpolicy.Client, guard=consenting(recorder), acting_user_id=OTHER)
        )
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.create_tweet(text="hello")
        refused(info, recorder, "token_owner")
        assert [] == transport.requests

    def test_route_user_other_than_the_token_owner(self):
        """A v2 route naming another user than the token's owner is refused."""
        recorder = DecisionRecorder()
        transport = responder(likes(OTHER))
        client = transport.install(make_v2(twpolicy.Client, guard=consenting(recorder)))
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.request("POST", f"/2/users/{OTHER}/likes", json=LIKE, user_auth=True)
        refused(info, recorder, "token_owner")
        assert [] == transport.requests

    def test_the_owner_acting_goes_through(self):
        """acting_user_id naming the token's owner, the route naming them: sent."""
        recorder = DecisionRecorder()
        transport = responder({**POSTED, **likes(USER)})
        client = transport.install(
            make_v2(twpolicy.Client, guard=consenting(recorder), acting_user_id=USER)
        )
        client.create_tweet(text="hello")
        client.like(LIKE["tweet_id"])
        assert ["/2/tweets", f"/2/users/{USER}/likes"] == [r.path for r in transport.requests]
        assert not recorder.denied

    def test_oauth2_token_is_bound_before_the_first_write(self):
        """OAuth 2.0 user token: /2/users/me is asked before the first write; it must match."""
        recorder = DecisionRecorder()
        transport = responder({**ME, **POSTED})
        client = transport.install(
            twpolicy.Client("oauth2-user-token", guard=consenting(recorder), acting_user_id=OTHER)
        )
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.create_tweet(text="the owner is asked first", user_auth=False)
        refused(info, recorder, "token_owner")
        with pytest.raises(twpolicy.ConsentRequired):
            client.create_tweet(text="hello", user_auth=False)
        assert ["/2/users/me"] == [r.path for r in transport.requests]

    def test_oauth2_tweepys_own_lookup_binds_the_token(self):
        """tweepy's like() asks /2/users/me itself: the route user and owner must match."""
        recorder = DecisionRecorder()
        transport = responder({**ME, **likes(USER)})
        client = transport.install(
            twpolicy.Client("oauth2-user-token", guard=consenting(recorder), acting_user_id=OTHER)
        )
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.like(LIKE["tweet_id"], user_auth=False)
        refused(info, recorder, "token_owner")
        assert ["/2/users/me"] == [r.path for r in transport.requests]


class TestAsyncClient:
    def test_acting_user_other_than_the_token_owner(self, loop):
        recorder = DecisionRecorder()
        transport = responder(POSTED)
        client = transport.install(
            make_v2(twpolicy.AsyncClient, guard=consenting(recorder), acting_user_id=OTHER)
        )
        with pytest.raises(twpolicy.ConsentRequired) as info:
            loop.run_until_complete(client.create_tweet(text="hello"))
        refused(info, recorder, "token_owner")
        assert [] == transport.requests

    def test_route_user_other_than_the_token_owner(self, loop):
        recorder = DecisionRecorder()
        transport = responder(likes(OTHER))
        client = transport.install(make_v2(twpolicy.AsyncClient, guard=consenting(recorder)))
        with pytest.raises(twpolicy.ConsentRequired) as info:
            loop.run_until_complete(
                client.request("POST", f"/2/users/{OTHER}/likes", {}, LIKE, user_auth=True)
            )
        refused(info, recorder, "token_owner")
        assert [] == transport.requests

    def test_oauth2_token_is_bound_by_get_me(self, loop):
        recorder = DecisionRecorder()
        transport = responder({**ME, **POSTED})
        client = transport.install(
            twpolicy.AsyncClient("oauth2-token", guard=consenting(recorder), acting_user_id=OTHER)
        )

        async def run():
            await client.get_me(user_auth=False)
            await client.create_tweet(text="hello", user_auth=False)

        with pytest.raises(twpolicy.ConsentRequired) as info:
            loop.run_until_complete(run())
        refused(info, recorder, "token_owner")
        assert ["/2/users/me"] == [r.path for r in transport.requests]


class TestAPI:
    def test_acting_user_other_than_the_token_owner(self):
        recorder = DecisionRecorder()
        transport = responder(UPDATED)
        api = transport.install(
            make_v1(twpolicy.API, guard=consenting(recorder), acting_user_id=OTHER)
        )
        with pytest.raises(twpolicy.ConsentRequired) as info:
            api.update_status("hello")
        refused(info, recorder, "token_owner")
        assert [] == transport.requests

    def test_owner_learned_from_verify_credentials(self):
        """A token without the user prefix: verify_credentials binds it."""
        recorder = DecisionRecorder()
        transport = responder({**VERIFIED, **UPDATED})
        api = transport.install(
            twpolicy.API(
                tweepy.OAuth1UserHandler("k", "s", "opaque-token", "secret"),
                guard=consenting(recorder),
                acting_user_id=OTHER,
            )
        )
        api.verify_credentials()
        with pytest.raises(twpolicy.ConsentRequired) as info:
            api.update_status("hello")
        refused(info, recorder, "token_owner")
        assert ["/1.1/account/verify_credentials.json"] == [r.path for r in transport.requests]


class TestStreamingClients:
    def test_sync_route_user_other_than_the_acting_user(self):
        """A streaming client's own requests are checked the same way."""
        recorder = DecisionRecorder()
        transport = responder({**ME, **likes(OTHER)})
        client = transport.install(
            twpolicy.StreamingClient("bearer", guard=consenting(recorder), acting_user_id=USER)
        )
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.request("POST", f"/2/users/{OTHER}/likes", json=LIKE)
        refused(info, recorder, "route_user")
        assert ["/2/users/me"] == [r.path for r in transport.requests]

    def test_async_route_user_other_than_the_acting_user(self, loop):
        recorder = DecisionRecorder()
        transport = responder({**ME, **likes(OTHER)})
        client = transport.install(
            twpolicy.AsyncStreamingClient("bearer", guard=consenting(recorder), acting_user_id=USER)
        )
        with pytest.raises(twpolicy.ConsentRequired) as info:
            loop.run_until_complete(client.request("POST", f"/2/users/{OTHER}/likes", {}, LIKE))
        refused(info, recorder, "route_user")
        assert ["/2/users/me"] == [r.path for r in transport.requests]

"""User-token counts: tokens.thresholds and the UserTokens sink (I.A.3, I.G.2.a)."""

import pytest

import twpolicy
from twpolicy import Action, TwPolicyWarning
from twpolicy.rules import CONTACT_TOKENS, CORE_CLIENT_TOKENS, default, user_token_thresholds


def call(user):
    return Action(
        kind="api_call",
        operation="GET /2/users/:id/tweets",
        category="public_read",
        acting_user_id=user,
    )


class Counted:
    """A user-token reader that reports a given count (no million-row fixture needed)."""

    def __init__(self, count, known=()):
        self._count, self._known = count, set(known)

    def count(self):
        return self._count

    def known(self, user_id):
        return user_id in self._known


def guard(tokens, **kwargs):
    rule = user_token_thresholds(tokens, core_client=kwargs.pop("core_client", False))
    return twpolicy.Guard(
        ledger=twpolicy.open_ledger("memory://"), rules=[*default(), rule], **kwargs
    )


class TestStore:
    @pytest.mark.parametrize(
        "kind", ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
    )
    def test_sink_counts_distinct_allowed_users(self, tmp_path, kind, request):
        """Fed as a sink, the store counts each acting user of an allowed decision once."""
        url = "memory://" if kind == "memory" else f"sqlite:///{tmp_path / 't.db'}"
        if kind == "postgresql":
            url = request.getfixturevalue("postgres_url")
        tokens = twpolicy.open_user_tokens(url)
        g = guard(tokens, sinks=[tokens])
        for user in ("1", "2", "1", "3"):
            with g.permit(call(user)):
                pass
        refused = Action(
            kind="api_call",
            operation="POST /2/tweets",
            category="write",
            acting_user_id="4",
            scopes={"tweet.write"},
        )
        assert not g.check(refused).allowed
        assert 3 == tokens.count()
        assert tokens.known("2")
        assert not tokens.known("4")

    def test_shared_between_processes(self, tmp_path):
        """Two stores on one file count the same users."""
        url = f"sqlite:///{tmp_path / 't.db'}"
        twpolicy.open_user_tokens(url).record("7")
        other = twpolicy.open_user_tokens(url)
        other.record("7")
        other.record("8")
        assert 2 == twpolicy.open_user_tokens(url).count()


class TestRule:
    def test_within_thresholds(self):
        """Below the threshold the decision records the count."""
        decision = guard(Counted(10)).check(call("1"))
        assert decision.allowed
        outcome = next(o for o in decision.outcomes if o.rule == "tokens.thresholds")
        assert 11 == outcome.facts["user_tokens"]

    def test_one_user_past_a_million_warns(self):
        """The user who would pass 1,000,000 is flagged under I.A.3, with a warning by default."""
        g = guard(Counted(CONTACT_TOKENS))
        with pytest.warns(TwPolicyWarning, match="contact Twitter"), g.permit(call("new")):
            pass
        assert guard(Counted(CONTACT_TOKENS, known={"old"})).check(call("old")).allowed

    def test_enforced_on_request(self):
        """rule_modes enforce the threshold: the call is refused, with a remedy."""
        g = guard(Counted(CONTACT_TOKENS), rule_modes={"tokens.thresholds": "enforce"})
        with pytest.raises(twpolicy.PolicyViolation) as info, g.permit(call("new")):
            pass
        assert ("I.A.3", "over_1m_user_tokens") == (
            info.value.decision.clause,
            info.value.decision.reason,
        )

    def test_core_client_threshold(self):
        """A Twitter-like client is flagged past 100,000 under I.G.2.a; others are not."""
        core = guard(Counted(CORE_CLIENT_TOKENS), core_client=True, mode="monitor")
        decision = core.check(call("new"))
        assert ("I.G.2.a", "over_100k_user_tokens") == (decision.clause, decision.reason)
        assert guard(Counted(CORE_CLIENT_TOKENS)).check(call("new")).allowed

    def test_app_only_calls_are_not_counted(self):
        """A call for no user says nothing about user tokens."""
        decision = guard(Counted(CONTACT_TOKENS)).check(call(None))
        assert "tokens.thresholds" not in [o.rule for o in decision.outcomes]

    def test_config(self, tmp_path):
        """user_token_store adds the rule and its sink; core_client sets the lower threshold."""
        path = tmp_path / "twpolicy.toml"
        url = f"sqlite:///{tmp_path / 't.db'}"
        path.write_text(
            f'[twpolicy]\nuser_token_store = "{url}"\ncore_client = true\n', encoding="utf-8"
        )
        g = twpolicy.Guard.from_config(path)
        rule = next(r for r in g.rules if r.id == "tokens.thresholds")
        assert rule.core_client
        with g.permit(call("5")):
            pass
        assert 1 == twpolicy.open_user_tokens(url).count()

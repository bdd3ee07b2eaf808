import threading
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
import twpolicy.testing
from twpolicy import Action, Mode
from twpolicy.testing import (
    DEFAULT_USER_ID,
    ConsentHelper,
    DecisionLog,
    DecisionRecorder,
    TwPolicyOptions,
    fresh_guard,
)


def like(user=DEFAULT_USER_ID):
    """A v2 like on ``user``'s behalf."""
    return Action(
        kind="api_call",
        operation="POST /2/users/:id/likes",
        category="write",
        acting_user_id=user,
        scopes={"like.write"},
    )


class TestDecisionRecorder:
    def test_records_from_many_threads(self):
        """Decisions recorded concurrently are all kept."""
        recorder = DecisionRecorder()
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[recorder])
        threads = [threading.Thread(target=guard.check, args=(like(),)) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert 20 == len(recorder) == len(recorder.denied)
        recorder.clear()
        assert [] == recorder.decisions

    def test_repr_counts(self):
        """The repr says how many decisions and denies were kept."""
        log = DecisionLog()
        twpolicy.Guard(sinks=[log]).check(like())
        assert "DecisionLog(1 decisions, 1 denied)" == repr(log)


class TestDecisionLog:
    @pytest.fixture(name="log")
    def _log(self):
        """A decision log fed by an enforcing guard that has consent for user 1 only."""
        log = DecisionLog()
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[log])
        ConsentHelper(guard.consent, user_id="1").grant("like.write")
        guard.check(like("1"))
        guard.check(like("2"))
        return log

    def test_assertions_return_matches(self, log):
        """assert_denied and assert_allowed return the decisions they matched."""
        [deny] = log.assert_denied(rule="consent.required", acting_user_id="2")
        [allow] = log.assert_allowed(acting_user_id="1")
        assert ("no_consent_record", "consent_active") == (deny.reason, allow.reason)
        assert [deny] == log.find(reason="no_consent_record")

    def test_failures_list_every_decision(self, log):
        """A failing assertion says what was asked for and lists what was recorded."""
        with pytest.raises(AssertionError, match=r"no deny matching \(clause='I\.B\.7'\)") as info:
            log.assert_denied(clause="I.B.7")
        assert "deny  POST /2/users/:id/likes refused under I.C.1.a" in str(info.value)
        with pytest.raises(AssertionError, match="1 deny\\(s\\) recorded"):
            log.assert_no_denials()
        with pytest.raises(AssertionError, match="no allow matching"):
            log.assert_allowed(acting_user_id="2")

    def test_expected_denies_are_reported(self):
        """Denies matched by assert_denied are passed to on_expected, others are not."""
        expected = []
        log = DecisionLog(on_expected=expected.append)
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[log])
        first, second = guard.check(like("1")), guard.check(like("2"))
        log.assert_denied(acting_user_id="2")
        assert [second.decision_id] == expected
        assert first.decision_id not in expected

    def test_by_clause(self, log):
        """by_clause counts decisions per clause and effect."""
        assert {("I.C.1.a", "allow"): 1, ("I.C.1.a", "deny"): 1} == log.by_clause()

    def test_empty_report(self):
        """With nothing recorded, a failure says so."""
        with pytest.raises(AssertionError, match="no decisions were recorded"):
            DecisionLog().assert_allowed()


class TestOptions:
    def test_defaults(self):
        """By default: enforce, nothing granted, the default acting user, strictness unset."""
        options = TwPolicyOptions()
        assert (Mode.ENFORCE, frozenset(), DEFAULT_USER_ID, None) == (
            options.mode,
            options.granted,
            options.acting_user_id,
            options.strict,
        )

    def test_merge_later_layers_win(self):
        """merge applies layers in order; values are converted and checked."""
        options = TwPolicyOptions.merge(
            [{"mode": "warn", "granted": "tweet.write"}, {"acting_user_id": 7, "mode": "monitor"}]
        )
        assert (Mode.MONITOR, frozenset({"tweet.write"}), "7") == (
            options.mode,
            options.granted,
            options.acting_user_id,
        )

    @pytest.mark.parametrize(
        ("layer", "error", "match"),
        [
            ({"scope": "tweet.write"}, TypeError, "unknown twpolicy option"),
            ({"mode": "loud"}, twpolicy.ConfigurationError, "unknown mode"),
            ({"granted": ["nope"]}, twpolicy.ConfigurationError, "unknown consent scope"),
            ({"acting_user_id": "@me"}, twpolicy.ConfigurationError, "decimal"),
            ({"rule_modes": {"consent.required": "off"}}, twpolicy.ConfigurationError, "'off'"),
            ({"strict": "yes"}, TypeError, "strict"),
        ],
    )
    def test_bad_values(self, layer, error, match):
        """Unknown options and bad values are refused, naming the problem."""
        with pytest.raises(error, match=match):
            TwPolicyOptions.merge([layer])

    def test_keyword_only(self):
        """Options are keyword-only, so positional values cannot be mistaken."""
        with pytest.raises(TypeError):
            TwPolicyOptions("warn")


class TestFreshGuard:
    def test_installs_and_restores_the_default(self):
        """The fresh guard is the default inside the block; the previous one comes back."""
        before = twpolicy.Guard()
        twpolicy.set_default_guard(before)
        with fresh_guard() as guard:
            assert guard is twpolicy.get_default_guard()
            assert guard is not before
        assert before is twpolicy.get_default_guard()

    def test_restores_after_an_error(self):
        """An exception in the block still restores the previous default."""
        before = twpolicy.get_default_guard()
        with pytest.raises(RuntimeError), fresh_guard():
            raise RuntimeError
        assert before is twpolicy.get_default_guard()

    def test_unbuilt_default_stays_unbuilt(self):
        """When no default existed, none is left behind (the next use builds one)."""
        twpolicy.set_default_guard(None)
        with fresh_guard():
            pass
        assert twpolicy._guard._default_guard is None

    def test_ledgers_are_in_memory_and_fresh(self):
        """Each fresh guard has its own empty consent and quota ledgers."""
        with fresh_guard() as first:
            first.consent.grant("5", "dm.write", notice="n", method="m", evidence="e")
        with fresh_guard() as second:
            assert second.consent.check("5", "dm.write") is None
            assert second.quotas is not first.quotas
            assert "memory://" == second.quotas.url

    def test_options_apply(self):
        """Mode, rule modes and granted scopes of the options are applied."""
        options = TwPolicyOptions(
            mode="warn", rule_modes={"endpoint.known": "monitor"}, granted=["like.write"]
        )
        log = DecisionLog()
        with fresh_guard(options, sinks=[log]) as guard:
            assert (Mode.WARN, Mode.MONITOR) == (guard.mode, guard.mode_of("endpoint.known"))
            assert guard.check(like()).allowed
        log.assert_allowed(reason="consent_active")


class TestConsentHelper:
    @given(scopes=st.sets(st.sampled_from(sorted(twpolicy.SCOPES)), min_size=1))
    def test_grant_then_revoke(self, scopes):
        """Whatever scopes are granted, each is active until revoked."""
        ledger = twpolicy.open_ledger("memory://")
        helper = ConsentHelper(ledger, user_id="5", evidence="pytest test_grant")
        record = helper.grant(*scopes)
        assert ("pytest test_grant", frozenset(scopes)) == (record.evidence, record.scopes)
        assert all(ledger.check("5", scope) for scope in scopes)
        assert 1 == len(helper.revoke())
        assert not any(ledger.check("5", scope) for scope in scopes)

    def test_other_user_and_fields(self):
        """A grant can name another user and pass record fields on to the ledger."""
        ledger = twpolicy.open_ledger("memory://")
        expires = datetime.now(timezone.utc) + timedelta(hours=1)
        record = ConsentHelper(ledger, user_id="5").grant(
            "dm.write", user_id=6, expires_at=expires, notice="dm-dialog-v2"
        )
        assert ("6", expires, "dm-dialog-v2") == (
            record.user_id,
            record.expires_at,
            record.notice.id,
        )
        assert ledger.check("5", "dm.write") is None

    def test_revoke_some_scopes(self):
        """Revoking named scopes leaves the others."""
        ledger = twpolicy.open_ledger("memory://")
        helper = ConsentHelper(ledger, user_id="5")
        helper.grant("dm.write", "like.write")
        helper.revoke("dm.write")
        assert ledger.check("5", "dm.write") is None
        assert ledger.check("5", "like.write") is not None


class TestExports:
    def test_all_is_exactly_the_public_names(self):
        """twpolicy.testing exports the names in __all__, each once, and no other public name."""
        exported = twpolicy.testing.__all__
        assert len(set(exported)) == len(exported)
        assert set(exported) == {name for name in dir(twpolicy.testing) if name[0] != "_"}

    def test_exports_show_the_public_path(self):
        """Classes and functions say twpolicy.testing in reprs, whatever module defines them."""
        for name in twpolicy.testing.__all__:
            obj = getattr(twpolicy.testing, name)
            assert getattr(obj, "__module__", "twpolicy.testing") == "twpolicy.testing", name

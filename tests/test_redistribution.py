import contextlib
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from twpolicy import Action, Effect, Guard
from twpolicy._redistribution import ids_only_check, is_id, release, reservation_of
from twpolicy.testing import DecisionRecorder

T0 = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)
APPROVAL = {"approved_by": "dpo@example.org", "reference": "IRB-2024-117"}


class FakeClock:
    """A clock that only moves when told."""

    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture(name="recorder")
def _recorder():
    """A fresh decision recorder."""
    return DecisionRecorder()


@pytest.fixture(name="clock")
def _clock():
    """A fake clock at T0."""
    return FakeClock()


@pytest.fixture(name="guard")
def _guard(recorder, clock):
    """An enforcing guard with in-memory consent and quota ledgers on the fake clock."""
    return Guard(
        ledger=twpolicy.open_ledger("memory://"),
        quotas=twpolicy.open_quotas("memory://", clock=clock),
        sinks=[recorder],
        clock=clock,
    )


def export(ids=("20", "21"), content="tweet_ids", recipient="lab", **changes):
    """An export of ``ids`` to ``recipient``."""
    fields = {
        "kind": "export",
        "operation": "test export",
        "recipient": recipient,
        "count": len(ids) if isinstance(ids, (list, tuple)) else 1,
        "facts": {"content": content},
        "payload": list(ids) if isinstance(ids, tuple) else ids,
    }
    fields.update(changes)
    return Action(**fields)


class TestIsId:
    @pytest.mark.parametrize("value", ["0", "20", "1234567890123456789", "18446744073709551615"])
    def test_ids(self, value):
        """Decimal strings of up to 20 digits are IDs."""
        assert is_id(value)

    @pytest.mark.parametrize(
        "value", [20, 2.0, "", "020", "1e5", "-1", " 1", "١٢", "123456789012345678901", None]
    )
    def test_not_ids(self, value):
        """Numbers, padded, signed, non-ASCII and over-long strings are not."""
        assert not is_id(value)


class TestIdsOnlyCheck:
    @pytest.mark.parametrize(
        ("value", "count"),
        [
            ("20", 1),
            (["20", "21"], 2),
            ({"ids": ["1", "2"], "author_id": "3"}, 3),
            ([{"id": "1", "author_id": "2"}], 2),
            ({"tweet_ids": {"1"}}, 1),
            ([], 0),
        ],
    )
    def test_id_only_values(self, value, count):
        """Lists, sets and mappings of ID keys pass, and every ID is counted."""
        assert (None, count) == ids_only_check(value)

    @pytest.mark.parametrize(
        ("value", "pointer"),
        [
            ({"id": "1", "text": "hello"}, "/text"),
            ([{"id": "1"}, {"id": "2", "user": {"id": "3"}}], "/1/user"),
            ({"data": [{"id": "1"}]}, "/data"),
            (["1", 2], "/1"),
            ({"a/b": "1"}, "/a~1b"),
            (iter(["1"]), ""),
            (b"1", ""),
        ],
    )
    def test_first_offence_is_named(self, value, pointer):
        """The JSON pointer of the first non-ID is reported."""
        assert pointer == ids_only_check(value)[0]


class TestIdsOnlyRule:
    def test_ids_pass(self, guard):
        """An export of decimal-string IDs is allowed and logged."""
        decision = guard.enforce(export())
        assert decision.allowed
        assert "redistribution.ids_only" in {o.rule for o in decision.outcomes}

    def test_text_is_refused_naming_the_pointer(self, guard):
        """More than IDs is refused under I.F.2, naming where, never quoting the content."""
        payload = [{"id": "1", "text": "a secret tweet"}]
        with pytest.raises(twpolicy.RedistributionError) as info:
            guard.enforce(export(payload, count=1))
        decision = info.value.decision
        assert ("redistribution.ids_only", "I.F.2", "not_ids") == (
            decision.rule,
            decision.clause,
            decision.reason,
        )
        assert "/0/text" in decision.message
        assert "secret" not in str(decision.to_record())

    def test_hydrated_objects_are_not_an_automated_export(self, guard):
        """Objects declared as such are refused unless exported by hand."""
        decision = guard.check(export([{"id": "1"}], content="objects"))
        assert "hydrated_objects" == decision.reason
        assert "manual_export" in decision.remediation

    def test_undeclared_content_is_refused(self, guard):
        """An export that does not say what it carries is refused (fail closed)."""
        decision = guard.check(export(facts={}))
        assert "export_content_unknown" == decision.reason

    def test_other_actions_are_ignored(self, guard):
        """Only exports are the redistribution rules' business."""
        decision = guard.check(Action(kind="store", operation="save"))
        assert "no_rule_applies" == decision.reason


class TestQuotaRule:
    def test_counts_and_records_the_recipient(self, guard):
        """An allowed export is counted; the decision records recipient, standing and usage."""
        decision = guard.enforce(export())
        quota = next(o for o in decision.outcomes if o.rule == "redistribution.quota")
        assert "within_quota" == quota.reason
        assert "standard" == quota.facts["standing"]
        assert 2 == quota.facts["tweet_ids_used"]
        assert 1_499_998 == guard.quotas.remaining("lab")
        assert reservation_of(decision) == quota.facts["reservation_id"]

    def test_over_the_cap_is_refused_and_not_counted(self, guard):
        """Over 1,500,000 Tweet IDs is QuotaExceeded under I.F.2.b.i, saying when it frees up."""
        guard.quotas.reserve("lab", tweet_ids=1_500_000 - 1)
        with pytest.raises(twpolicy.QuotaExceeded) as info:
            guard.enforce(export())
        decision = info.value.decision
        assert ("redistribution.quota", "I.F.2.b.i", "quota_exceeded") == (
            decision.rule,
            decision.clause,
            decision.reason,
        )
        assert "1 remaining" in decision.message
        assert "academic_noncommercial" in decision.remediation
        assert 1 == guard.quotas.remaining("lab")
        assert isinstance(info.value, twpolicy.RedistributionError)

    def test_academic_exemption_is_explicit_and_logged(self, guard, recorder):
        """An exempt recipient's export is allowed with the exemption, approver and reference."""
        guard.quotas.register("uni", standing="academic_noncommercial", **APPROVAL)
        guard.quotas.reserve("uni", tweet_ids=1_500_000)
        decision = guard.enforce(export(recipient="uni"))
        assert "exempt_academic_noncommercial" == decision.reason
        record = recorder.decisions[-1].to_record()
        facts = next(r["facts"] for r in record["rules"] if r["rule"] == "redistribution.quota")
        assert APPROVAL == {k: facts[k] for k in APPROVAL}
        assert facts["tweet_ids_limit"] is None

    def test_daily_cap_cites_its_clause(self, guard):
        """Objects over 50,000 a day are refused under I.F.2.a."""
        guard.quotas.reserve("alice", hydrated_objects=50_000)
        decision = guard.check(export([{"id": "1"}], content="objects", recipient="alice"))
        quota = next(o for o in decision.outcomes if o.rule == "redistribution.quota")
        assert ("I.F.2.a", "quota_exceeded") == (quota.clause, quota.reason)

    @pytest.mark.parametrize("mode", ["warn", "monitor"])
    def test_non_enforcing_modes_still_count(self, clock, mode):
        """In warn and monitor modes an export over the cap goes out, so it is counted."""
        guard = Guard(
            quotas=twpolicy.open_quotas("memory://", clock=clock),
            rule_modes={"redistribution.quota": mode},
            clock=clock,
        )
        guard.quotas.reserve("lab", tweet_ids=1_500_000)
        with pytest.warns(twpolicy.TwPolicyWarning) if mode == "warn" else contextlib.nullcontext():
            decision = guard.enforce(export())
        assert decision.allowed
        assert Effect.DENY == decision.effect
        assert 1_500_002 == guard.quotas.usage("lab")[0].used

    def test_no_ledger_fails_closed(self):
        """A named recipient with no quota ledger to count against is refused."""
        decision = Guard().check(export())
        assert "no_quota_ledger" == decision.reason

    def test_no_recipient_is_logged_as_uncounted(self, guard):
        """An export to nobody in particular cannot be counted, and the log says so."""
        decision = guard.enforce(export(recipient=None))
        assert "uncounted_no_recipient" == decision.outcomes[-1].reason

    def test_store_failure_fails_closed(self, guard, monkeypatch):
        """A quota store that fails turns into a deny, never an allow."""

        def broken(*args, **kwargs):
            raise twpolicy.StoreUnavailable("quota store is down")

        monkeypatch.setattr(guard.quotas, "reserve", broken)
        decision = guard.check(export())
        assert ("rule_error", False) == (decision.reason, decision.allowed)
        assert "quota store is down" in decision.message

    def test_release_after_a_failed_send(self, guard):
        """release() takes back what an allowed decision counted."""
        decision = guard.enforce(export())
        assert release(guard, decision)
        assert 1_500_000 == guard.quotas.remaining("lab")
        assert not release(guard, decision)

    def test_window_moves_with_the_guard_clock(self, guard, clock):
        """The rule reads time from the guard's clock."""
        guard.quotas.reserve("lab", tweet_ids=1_500_000)
        reset = guard.quotas.resets_at("lab")
        clock.now = reset - timedelta(seconds=1)
        assert not guard.check(export()).allowed
        clock.now = reset
        assert guard.enforce(export()).allowed


@st.composite
def _ids(draw):
    return str(draw(st.integers(1, 2**63 - 1)))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | _ids(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


class TestProperties:
    @given(value=_json)
    def test_allowed_exports_hold_only_ids(self, value):
        """Whatever the payload, an export the rule allows holds nothing but IDs."""
        guard = Guard(quotas=twpolicy.open_quotas("memory://"))
        decision = guard.check(export(value, count=0, recipient=None))
        if decision.allowed:
            assert ids_only_check(value)[0] is None
            leaves = _leaves(value)
            assert all(is_id(leaf) for leaf in leaves)


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]

"""The compliance rules: tombstones (I.C.3), fresh display (I.C.4), the deadline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import twpolicy
from twpolicy import ComplianceEvent, open_compliance

NOW = datetime(2030, 1, 1, 12, tzinfo=timezone.utc)


@pytest.fixture(name="ledger")
def _ledger():
    ledger = open_compliance("memory://", clock=lambda: NOW)
    ledger.record(
        [
            ComplianceEvent(type="tweet_delete", object_id="1"),
            ComplianceEvent(type="user_suspend", object_id="7"),
            ComplianceEvent(type="tweet_withheld", object_id="3", countries=("DE",)),
        ]
    )
    return ledger


@pytest.fixture(name="guard")
def _guard(ledger):
    # Every export is counted (against twpolicy.PUBLIC by default), so the guard has quotas.
    return twpolicy.Guard(
        compliance=ledger, quotas=twpolicy.open_quotas("memory://"), clock=lambda: NOW
    )


def store(payload):
    return twpolicy.Action(kind="store", operation="save", payload=payload)


class TestTombstones:
    def test_storing_a_deleted_tweet_is_refused(self, guard):
        """I.C.3: content deleted on X is not kept."""
        action = store({"id": "1", "text": "x", "author_id": "2"})
        with pytest.raises(twpolicy.ContentUnavailable, match="was deleted") as caught:
            guard.permit(action).open()
        decision = caught.value.decision
        assert (decision.rule, decision.clause) == ("compliance.tombstone", "I.C.3")
        assert "twpolicy comply" in decision.remediation

    def test_a_suspended_authors_tweet_is_refused(self, guard):
        """A v1.1 Tweet whose embedded user is suspended is refused too."""
        tweet = {
            "id_str": "9",
            "id": 9,
            "text": "x",
            "user": {"id_str": "7", "id": 7, "screen_name": "a"},
        }
        decision = guard.check(store(tweet))
        assert decision.denied
        (outcome,) = [o for o in decision.outcomes if o.rule == "compliance.tombstone"]
        assert outcome.facts["event"] == "user_suspend"

    def test_other_content_is_allowed(self, guard):
        """Nothing gone: the rule allows."""
        decision = guard.check(store({"id": "5", "text": "x", "author_id": "2"}))
        assert decision.allowed
        assert any(o.reason == "nothing_gone" for o in decision.outcomes)

    def test_no_deleted_id_is_exported(self, guard):
        """IDs of deleted Tweets are not distributed (ids_only, dehydrate)."""

        @twpolicy.ids_only(guard=guard)
        def share(ids):
            return ids

        with pytest.raises(twpolicy.ContentUnavailable):
            share(["5", "1"])
        assert share(["5", "6"]) == ["5", "6"]

    def test_withheld_depends_on_the_country(self, guard):
        """Withheld in DE: refused for DE (or an unknown country), allowed for FR."""
        tweet = {"id": "3", "text": "x", "author_id": "2"}
        fetched = NOW - timedelta(minutes=1)
        with pytest.raises(twpolicy.ContentUnavailable, match="withheld"):
            twpolicy.displayable(tweet, fetched_at=fetched, guard=guard, country="de")
        with pytest.raises(twpolicy.ContentUnavailable):
            twpolicy.displayable(tweet, fetched_at=fetched, guard=guard)
        assert twpolicy.displayable(tweet, fetched_at=fetched, guard=guard, country="FR") is tweet

    def test_without_a_ledger_the_rule_is_silent(self):
        """A guard with no compliance ledger knows of nothing gone."""
        decision = twpolicy.Guard().check(store({"id": "1", "text": "x", "author_id": "2"}))
        assert decision.allowed

    def test_an_unreadable_ledger_refuses(self, ledger):
        """Fail closed: a ledger that cannot be read refuses the action."""
        guard = twpolicy.Guard(compliance=ledger)
        ledger.close()
        ledger._db._connect = lambda: (_ for _ in ()).throw(twpolicy.StoreUnavailable("gone"))
        decision = guard.check(store({"id": "5", "text": "x", "author_id": "2"}))
        assert decision.denied
        assert decision.reason == "rule_error"


class TestDisplay:
    def test_a_fresh_copy_is_shown(self, guard):
        """I.C.4: fetched just now, nothing gone."""
        tweet = {"id": "5", "text": "x", "author_id": "2"}
        assert twpolicy.displayable(tweet, fetched_at=NOW, guard=guard) is tweet

    def test_a_stale_copy_is_refused(self, guard):
        """Older than the rule's max age: fetch it again."""
        tweet = {"id": "5", "text": "x", "author_id": "2"}
        with pytest.raises(twpolicy.ContentUnavailable, match="fetch the content again") as caught:
            twpolicy.displayable(tweet, fetched_at=NOW - timedelta(hours=2), guard=guard)
        assert caught.value.decision.clause == "I.C.4"

    def test_gone_content_is_refused_under_i_c_4(self, guard):
        """A display of gone content names I.C.4."""
        with pytest.raises(twpolicy.ContentUnavailable) as caught:
            twpolicy.displayable({"id": "1", "text": "x"}, fetched_at=NOW, guard=guard)
        assert caught.value.decision.clause == "I.C.4"

    def test_a_lookup_error_makes_content_unavailable_until_fetched_again(self, ledger, guard):
        """Not found in a lookup: not shown; found again later: shown from the fresh copy."""
        response = {
            "errors": [
                {
                    "resource_type": "tweet",
                    "resource_id": "8",
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }
            ]
        }
        ledger.record(twpolicy.compliance_events(response))
        tweet = {"id": "8", "text": "x", "author_id": "2"}
        with pytest.raises(twpolicy.ContentUnavailable, match="no longer available"):
            twpolicy.displayable(tweet, fetched_at=NOW, guard=guard)
        ledger.mark_available(tweet_ids=["8"], at=NOW)
        later = NOW + timedelta(seconds=1)
        guard = twpolicy.Guard(compliance=ledger, clock=lambda: later)
        assert twpolicy.displayable(tweet, fetched_at=later, guard=guard) is tweet

    def test_max_age_is_checked(self):
        """A negative max age is a configuration error."""
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.rules.fresh_display(timedelta(seconds=-1))


class TestDeadline:
    def test_overdue_is_a_refusal(self):
        """The deadline rule refuses when any event is overdue; allows otherwise."""
        guard = twpolicy.Guard(rules=[twpolicy.rules.compliance_deadline()])
        action = twpolicy.Action(
            kind="delete_content", operation="status", facts={"overdue": 2, "oldest_key": "k"}
        )
        decision = guard.check(action)
        assert (decision.denied, decision.reason, decision.clause) == (
            True,
            "deadline_missed",
            "I.C.3",
        )
        fine = twpolicy.Action(kind="delete_content", operation="status", facts={"overdue": 0})
        assert guard.check(fine).allowed


class TestConfig:
    def test_compliance_ledger_key(self, tmp_path):
        """``compliance_ledger`` in the TOML config opens the ledger for the guard."""
        path = tmp_path / "twpolicy.toml"
        url = f"sqlite:///{tmp_path / 'c.db'}"
        path.write_text(f'[twpolicy]\ncompliance_ledger = "{url}"\n')
        guard = twpolicy.Guard.from_config(path)
        assert guard.compliance is not None
        assert guard.compliance.url == url


class TestRequiredLedger:
    """``honour_tombstones(require_ledger=True)``: exports fail closed without a ledger."""

    def export(self):
        return twpolicy.Action(
            kind="export",
            operation="export_ids",
            count=1,
            facts={"content": "tweet_ids"},
            payload=["5"],
        )

    def test_export_without_ledger_is_refused(self):
        """With compliance required, an export with no ledger is refused with the remedy."""
        guard = twpolicy.Guard(rules=[twpolicy.rules.honour_tombstones(require_ledger=True)])
        decision = guard.check(self.export())
        assert (True, "compliance_ledger_missing", "I.C.3") == (
            decision.denied,
            decision.reason,
            decision.clause,
        )
        assert "Guard(compliance=twpolicy.open_compliance(" in decision.remediation

    def test_only_exports_and_only_when_required(self, ledger):
        """Stores are not refused for want of a ledger; a ledger or no requirement allows."""
        required = twpolicy.rules.honour_tombstones(require_ledger=True)
        assert "require_ledger=True" in repr(required)
        guard = twpolicy.Guard(rules=[required])
        assert not guard.check(store({"id": "5", "text": "x"})).denied
        assert not twpolicy.Guard(rules=[required], compliance=ledger).check(self.export()).denied
        plain = twpolicy.Guard(rules=[twpolicy.rules.honour_tombstones()])
        assert not plain.check(self.export()).denied
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.rules.honour_tombstones(require_ledger="yes")

    def test_from_config(self, tmp_path):
        """``require_compliance = true`` in the [twpolicy] table turns the requirement on."""
        config = tmp_path / "twpolicy.toml"
        config.write_text("[twpolicy]\nrequire_compliance = true\n")
        decision = twpolicy.Guard.from_config(config).check(self.export())
        assert "compliance_ledger_missing" == decision.reason
        config.write_text(
            f'[twpolicy]\nrequire_compliance = true\ncompliance_ledger = "sqlite:///{tmp_path}/c.db"\n'
        )
        assert (
            "compliance_ledger_missing"
            != twpolicy.Guard.from_config(config).check(self.export()).reason
        )

"""Recipients' terms, retention and public recipients: redistribution.terms (I.F.2.b)."""

import re
import shlex
from io import StringIO

import pytest
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from twpolicy import Action, TermsNotAccepted
from twpolicy._cli._main import main
from twpolicy.rules import MAX_RETENTION_DAYS, default, require_recipient_terms

LAB = "lab@example.edu"


def export(days=10, content="tweet_ids", recipient=LAB, **facts):
    return Action(
        kind="export",
        operation="share",
        recipient=recipient,
        count=2,
        facts={"content": content, "retention_days": days, **facts},
        payload=["20", "21"],
    )


def guard(quotas):
    return twpolicy.Guard(
        ledger=twpolicy.open_ledger("memory://"),
        quotas=quotas,
        rules=[*default(), require_recipient_terms()],
    )


def terms_outcome(decision):
    return next(o for o in decision.outcomes if o.rule == "redistribution.terms")


@pytest.fixture(name="quotas")
def _quotas():
    return twpolicy.open_quotas("memory://")


class TestTerms:
    def test_accepted_terms_allow(self, quotas):
        """A recipient with recorded acceptance and a declared retention gets the export."""
        quotas.register(LAB, terms_evidence="signed form 17")
        decision = guard(quotas).check(export())
        assert decision.allowed
        assert "signed form 17" == terms_outcome(decision).facts["terms_evidence"]

    def test_no_acceptance_is_refused(self, quotas):
        """Without recorded acceptance, the export is refused (TermsNotAccepted)."""
        g = guard(quotas)
        with pytest.raises(TermsNotAccepted) as info, g.permit(export()):
            pass
        decision = info.value.decision
        assert ("I.F.2.b", "terms_not_accepted") == (decision.clause, decision.reason)
        assert "terms_evidence='EVIDENCE'" in decision.remediation

    def test_shell_remedy_runs_as_written(self, tmp_path):
        """With a SQLite ledger the remedy is a command; run, it makes the export pass."""
        url = f"sqlite:///{tmp_path / 'quotas.db'}"
        quotas = twpolicy.open_quotas(url)
        quotas.register(
            LAB,
            entity="Example University",
            standing="academic_noncommercial",
            approved_by="dpo",
            reference="IRB-1",
        )
        g = guard(quotas)
        decision = g.check(export())
        command = re.search(r"`(twpolicy [^`]+)`", decision.remediation)[1]
        argv = shlex.split(command.replace("EVIDENCE", "signed-form-17"))[1:]
        assert 0 == main(argv, out=StringIO())
        assert g.check(export()).allowed
        kept = quotas.recipient(LAB)
        assert ("example university", "academic_noncommercial", "IRB-1") == (  # normalised
            kept.entity,
            kept.standing.value,
            kept.reference,
        )

    def test_no_ledger_fails_closed(self):
        """Without a recipients registry nothing can be shown: refused."""
        g = twpolicy.Guard(
            ledger=twpolicy.open_ledger("memory://"), rules=[require_recipient_terms()]
        )
        assert "no_recipients_registry" == g.check(export()).reason

    def test_exports_without_a_recipient_are_not_judged(self, quotas):
        """The rule judges exports to someone; other rules govern the rest."""
        decision = guard(quotas).check(export(recipient=None))
        assert "redistribution.terms" not in [o.rule for o in decision.outcomes]


class TestRetention:
    @pytest.mark.parametrize("days", [None, "30", -1, True, 2.5])
    def test_retention_must_be_declared(self, quotas, days):
        """No whole number of days declared: refused, saying how to declare it."""
        quotas.register(LAB, terms_evidence="form")
        decision = guard(quotas).check(export(days=days))
        assert "retention_undeclared" == decision.reason
        assert "retention_days" in decision.remediation

    @given(st.integers(min_value=0, max_value=10_000))
    def test_over_30_days_needs_standing(self, days):
        """Over 30 days is refused for a standard recipient and allowed for an exempt one."""
        quotas = twpolicy.open_quotas("memory://")
        quotas.register(LAB, terms_evidence="form")
        quotas.register(
            "uni",
            terms_evidence="form",
            standing="written_permission",
            approved_by="x",
            reference="y",
        )
        g = guard(quotas)
        standard = g.check(export(days=days))
        assert standard.allowed == (days <= MAX_RETENTION_DAYS)
        if not standard.allowed:
            assert ("I.F.2.b.ii", "retention_over_30_days") == (standard.clause, standard.reason)
        assert g.check(export(days=days, recipient="uni")).allowed


class TestPublic:
    def test_hydrated_objects_never_go_to_a_public_recipient(self, quotas):
        """Hydrated objects for a recipient not declared private are refused."""
        quotas.register(LAB, terms_evidence="form")
        for public in (True, None):
            facts = {} if public is None else {"public": public}
            outcome = terms_outcome(guard(quotas).check(export(content="objects", **facts)))
            assert ("RU.redistribution.2", "hydrated_to_public") == (outcome.clause, outcome.reason)

    def test_private_hydrated_export_passes_this_rule(self, quotas):
        """A private recipient with terms passes the terms rule (the other rules still apply)."""
        quotas.register(LAB, terms_evidence="form")
        outcome = terms_outcome(guard(quotas).check(export(content="objects", public=False)))
        assert "terms_accepted" == outcome.reason

    def test_ids_may_be_published(self, quotas):
        """IDs are what may be shared publicly: public does not matter for them."""
        quotas.register(LAB, terms_evidence="form")
        assert guard(quotas).check(export(public=True)).allowed


class TestConfig:
    def test_require_terms(self, tmp_path):
        """require_terms = true adds the rule to a configured guard; it is off by default."""
        path = tmp_path / "twpolicy.toml"
        path.write_text("[twpolicy]\nrequire_terms = true\n", encoding="utf-8")
        assert "redistribution.terms" in [r.id for r in twpolicy.Guard.from_config(path).rules]
        path.write_text("[twpolicy]\n", encoding="utf-8")
        assert "redistribution.terms" not in [r.id for r in twpolicy.Guard.from_config(path).rules]

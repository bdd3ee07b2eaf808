"""Off-platform identity links (I.C.2): allowed on a basis, recorded, exportable, deletable."""

import pytest

import twpolicy
from conftest import BACKENDS
from twpolicy.testing import DecisionRecorder

USER = "2244994945"
OTHER = "783214"
NOTICE = {
    "notice": twpolicy.Notice.from_text("link-v1", "We link your account to your shop login."),
    "method": "ui_explicit",
    "evidence": "settings page toggle",
}


@pytest.fixture(name="recorder")
def _recorder():
    """A sink that keeps every decision."""
    return DecisionRecorder()


@pytest.fixture(name="guard")
def _guard(recorder):
    """An enforcing guard with an empty consent ledger."""
    return twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[recorder])


@pytest.fixture(name="links", params=BACKENDS)
def _links(request, url_for):
    """An empty identity-link store on each backend."""
    store = twpolicy.open_identity_links(url_for(request.param))
    yield store
    store.close()


class TestLinkIdentity:
    @pytest.mark.parametrize("basis", ["user_provided", "public", twpolicy.LinkBasis.PUBLIC])
    def test_basis_with_evidence_is_recorded(self, guard, links, basis):
        """A link the user gave, or public data, with evidence is allowed and recorded."""
        link = twpolicy.link_identity(
            USER, "shop-4411", basis=basis, evidence="signup form #18", links=links, guard=guard
        )
        assert [link] == links.links(USER)
        assert (USER, "shop-4411") == (link.user_id, link.external_id)

    @pytest.mark.parametrize("basis", ["third_party", "purchased"])
    def test_no_prior_relationship_is_refused_and_nothing_recorded(self, guard, links, basis):
        """Third-party or purchased records are refused with the remedy; nothing is written."""
        with pytest.raises(twpolicy.IdentityLinkError) as caught:
            twpolicy.link_identity(
                USER, "broker-77", basis=basis, evidence="list.csv", links=links, guard=guard
            )
        decision = caught.value.decision
        assert ("I.C.2", "no_prior_relationship") == (decision.clause, decision.reason)
        assert "basis='opt_in'" in decision.remediation
        assert [] == links.links(USER)

    def test_opt_in_needs_recorded_consent(self, guard, links):
        """An opt-in basis is allowed only once identity.link consent is recorded."""
        with pytest.raises(twpolicy.IdentityLinkError) as caught:
            twpolicy.link_identity(
                USER, "shop-1", basis="opt_in", evidence="toggle", links=links, guard=guard
            )
        assert "opt_in_missing" == caught.value.decision.reason
        assert [] == links.links(USER)
        guard.consent.grant(USER, ["identity.link"], **NOTICE)
        twpolicy.link_identity(
            USER, "shop-1", basis="opt_in", evidence="toggle", links=links, guard=guard
        )
        assert 1 == len(links.links(USER))

    @pytest.mark.parametrize(
        ("basis", "evidence", "reason"),
        [
            ("user_provided", " ", "evidence_missing"),
            ("user_provided", None, "evidence_missing"),
            ("scraped", "x", "basis_unknown"),
            (7, "x", "basis_unknown"),
        ],
    )
    def test_missing_evidence_or_unknown_basis_is_refused(
        self, guard, links, basis, evidence, reason
    ):
        """A basis without evidence, or one the policy does not know, is refused."""
        with pytest.raises(twpolicy.IdentityLinkError) as caught:
            twpolicy.link_identity(
                USER, "x-1", basis=basis, evidence=evidence, links=links, guard=guard
            )
        assert reason == caught.value.decision.reason
        assert [] == links.links(USER)

    def test_default_guard_and_no_ledger(self, links):
        """Without a ledger an opt-in cannot be shown; the default guard is asked."""
        twpolicy.set_default_guard(twpolicy.Guard())
        with pytest.raises(twpolicy.IdentityLinkError):
            twpolicy.link_identity(USER, "s", basis="opt_in", evidence="e", links=links)

    def test_malformed_input_is_refused_before_deciding(self, guard, links, recorder):
        """A user ID that is not one, or an empty external ID, is a configuration error."""
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.link_identity("@ana", "x", basis="public", evidence="e", links=links)
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.link_identity(
                USER, " ", basis="public", evidence="e", links=links, guard=guard
            )
        assert [] == links.links(USER)


class TestSubjects:
    def test_export_and_delete_per_subject(self, guard, links, recorder):
        """A subject's links are exported and deleted without touching anyone else's."""
        for user, external in ((USER, "a"), (USER, "b"), (OTHER, "c")):
            twpolicy.link_identity(
                user, external, basis="public", evidence="profile URL", links=links, guard=guard
            )
        exported = links.export_subject(USER)
        assert ["a", "b"] == [row["external_id"] for row in exported]
        assert {"public"} == {row["basis"] for row in exported}
        assert 2 == twpolicy.delete_identity_links(USER, links=links, guard=guard)
        assert [] == links.export_subject(USER)
        assert ["c"] == [link.external_id for link in links.links(OTHER)]
        assert "deletion_allowed" == recorder.decisions[-1].reason
        assert "delete_identity_links" == recorder.decisions[-1].operation

    def test_delete_with_default_guard(self, links):
        """Deleting uses the default guard when none is given."""
        assert 0 == twpolicy.delete_identity_links(USER, links=links)

    def test_repr_names_the_store(self):
        """The store's repr names its URL."""
        assert "twpolicy.IdentityLinks('memory://')" == repr(
            twpolicy.open_identity_links("memory://")
        )


class TestRules:
    def test_rules_say_nothing_about_other_kinds(self):
        """Both rules are silent outside their kinds and read as their constructors."""
        context = twpolicy.Guard().context()
        store = twpolicy.Action(kind="store", operation="s")
        link = twpolicy.rules.govern_identity_links()
        deletion = twpolicy.rules.allow_deletion()
        assert link.evaluate(store, context) is None
        assert deletion.evaluate(store, context) is None
        assert link.static_for(store)
        assert deletion.static_for(store)
        assert "twpolicy.rules.govern_identity_links()" == repr(link)
        assert "twpolicy.rules.allow_deletion()" == repr(deletion)

    def test_no_acting_user_is_refused(self):
        """A link action naming no user is refused."""
        action = twpolicy.Action(
            kind="link_identities", operation="l", facts={"basis": "public", "evidence": True}
        )
        assert "no_acting_user" == twpolicy.Guard().check(action).reason

    def test_kinds_no_rule_decided_are_decided(self):
        """infer_attribute, link_identities and delete_content each meet a rule."""
        guard = twpolicy.Guard()
        for kind in ("link_identities", "delete_content", "infer_attribute"):
            decision = guard.check(twpolicy.Action(kind=kind, operation="x"))
            assert "no_rule_applies" != decision.reason, kind


def test_basis_reads_as_its_value():
    """A basis prints as the value link_identity accepts."""
    assert "public" == str(twpolicy.LinkBasis.PUBLIC)

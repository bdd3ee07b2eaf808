"""Republishing and promotion: only with the authors' consent (I.C.1.b, I.C.1.c)."""

import pytest

import twpolicy

AUTHOR = "2244994945"
NOTICE = {
    "notice": twpolicy.Notice.from_text("promo-v1", "May we feature your post in our ads?"),
    "method": "ui_explicit",
    "evidence": "reply to our DM",
}
TWEET = {
    "id_str": "1000000000000000010",
    "text": "love this coffee",
    "user": {"id_str": AUTHOR, "screen_name": "ana"},
}


@pytest.fixture(name="guard")
def _guard():
    """An enforcing guard with an empty consent ledger."""
    return twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"))


class TestRepublish:
    def test_api_content_is_republished(self, guard):
        """Content obtained through the API needs no republishing consent."""
        decision = twpolicy.check_publishable([TWEET], source="api", guard=guard)
        assert ("publication.consent", "obtained_through_the_api") == (
            decision.rule,
            decision.reason,
        )

    def test_other_sources_need_the_authors_consent(self, guard):
        """Scraped content is refused under I.C.1.b until its author consents."""
        with pytest.raises(twpolicy.PublicationError) as caught:
            twpolicy.check_publishable(TWEET, source="scraped", guard=guard)
        decision = caught.value.decision
        assert ("I.C.1.b", "author_consent_missing") == (decision.clause, decision.reason)
        assert "content.republish" in decision.remediation
        guard.consent.grant(AUTHOR, ["content.republish"], **NOTICE)
        assert twpolicy.check_publishable(TWEET, source="Scraped ", guard=guard).allowed

    def test_unknown_authors_are_refused(self, guard):
        """Text whose authors nobody names cannot be shown to have consent."""
        with pytest.raises(twpolicy.PublicationError) as caught:
            twpolicy.check_publishable("a quote", source="screenshot", guard=guard)
        assert "author_unknown" == caught.value.decision.reason
        guard.consent.grant(AUTHOR, ["content.republish"], **NOTICE)
        decision = twpolicy.check_publishable(
            "a quote", source="screenshot", authors=[int(AUTHOR)], guard=guard
        )
        assert "authors_consented" == decision.reason

    def test_source_must_be_said(self, guard):
        """A missing source is a configuration error, before anything is decided."""
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.check_publishable(TWEET, source=" ", guard=guard)


class TestPromote:
    def test_promotion_needs_content_promote_even_from_the_api(self, guard):
        """Using a Tweet in an ad is refused under I.C.1.c without its author's consent."""
        with pytest.raises(twpolicy.PublicationError) as caught:
            twpolicy.check_publishable(TWEET, source="api", promotional=True, guard=guard)
        assert "I.C.1.c" == caught.value.decision.clause
        guard.consent.grant(AUTHOR, ["content.promote"], **NOTICE)
        assert twpolicy.check_publishable(TWEET, source="api", promotional=True, guard=guard)

    def test_decorator_checks_before_running(self, guard):
        """A decorated publishing function never runs with refused content."""
        shown = []

        @twpolicy.publishes(source="api", promotional=True, guard=guard)
        def put_in_ad(tweet, size=1):
            shown.append(tweet)

        with pytest.raises(twpolicy.PublicationError):
            put_in_ad(TWEET)
        assert [] == shown
        guard.consent.grant(AUTHOR, ["content.promote"], **NOTICE)
        put_in_ad(size=2, tweet=TWEET)
        assert [TWEET] == shown

    def test_decorator_needs_a_parameter(self):
        """Naming a parameter the function lacks is an error when decorating."""
        with pytest.raises(TypeError):
            twpolicy.publishes(source="api", argument="nope")(lambda tweet: None)
        with pytest.raises(TypeError):
            twpolicy.publishes(source="api")(lambda: None)

    def test_protected_content_needs_its_owner(self, guard):
        """Publishing a protected Tweet also needs its author's protected.share consent."""
        protected = {**TWEET, "user": {**TWEET["user"], "protected": True}}
        with pytest.raises(twpolicy.NonPublicContentError):
            twpolicy.check_publishable(protected, source="api", guard=guard)

    def test_rule_shape(self):
        """The rule is silent about other kinds; default guard used when none is given."""
        rule = twpolicy.rules.publication_consent()
        store = twpolicy.Action(kind="store", operation="s")
        assert rule.evaluate(store, twpolicy.Guard().context()) is None
        assert rule.static_for(store)
        assert not rule.static_for(twpolicy.Action(kind="publish", operation="p"))
        assert "twpolicy.rules.publication_consent()" == repr(rule)
        assert twpolicy.check_publishable([TWEET], source="api").allowed


def test_content_authors_reads_v2_and_skips_the_rest():
    """Authors come from author_id and user objects; places and bare Tweets add none."""
    response = {
        "data": [{"id": "11", "text": "t", "author_id": AUTHOR}, {"id": "12", "text": "u"}],
        "includes": {"places": [{"id": "p1", "full_name": "X", "geo": {"type": "Feature"}}]},
    }
    assert {AUTHOR} == twpolicy.rules._publication.content_authors(response)
    assert set() == twpolicy.rules._publication.content_authors({"id_str": "", "screen_name": "a"})

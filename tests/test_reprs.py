"""What twpolicy's objects print: rules read like the call that made them, stores name their
URL, and enums print their value, so decisions, logs and messages read as written."""

import pytest

import twpolicy
from twpolicy import Action, ActionKind, rules
from twpolicy._clauses import ClauseStatus, Source
from twpolicy._model import Effect, Mode
from twpolicy._payloads._catalog import EndpointCategory
from twpolicy._payloads._shapes import GeoKind, Kind
from twpolicy._stores._consent._events import ConsentEventType
from twpolicy._stores._keys import Environment
from twpolicy._stores._quotas import Standing


class Tokens:
    """A user-token reader that knows nobody."""

    def known(self, user_id):
        return False

    def count(self):
        return 0


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (rules.match_token_owner, "twpolicy.rules.match_token_owner()"),
        (rules.require_consent, "twpolicy.rules.require_consent()"),
        (rules.known_endpoint, "twpolicy.rules.known_endpoint()"),
        (rules.flag_platform_counts, "twpolicy.rules.flag_platform_counts()"),
        (rules.redistribute_ids_only, "twpolicy.rules.redistribute_ids_only()"),
        (rules.recipient_quota, "twpolicy.rules.recipient_quota()"),
        (rules.require_recipient_terms, "twpolicy.rules.require_recipient_terms()"),
        (
            lambda: rules.declared_purposes(["academic_research"]),
            "twpolicy.rules.declared_purposes(['academic_research'])",
        ),
        (
            lambda: rules.screen_queries(["riot", "strike"]),
            "twpolicy.rules.screen_queries(terms=2)",
        ),
        (
            lambda: rules.user_token_thresholds(Tokens(), core_client=True),
            "twpolicy.rules.user_token_thresholds(core_client=True)",
        ),
        (
            lambda: rules.one_key_per_use_case(
                twpolicy.open_keys("memory://"), key="k", use_case="bot", environment="staging"
            ),
            "twpolicy.rules.one_key_per_use_case(use_case='bot', environment='staging')",
        ),
    ],
)
def test_rules_read_like_their_factory_call(make, expected):
    """A rule's repr is the call that makes it (its store arguments left out)."""
    assert expected == repr(make())


class TestRulesOutsideTheirKinds:
    """A rule asked about an action of a kind it does not judge has nothing to say."""

    def test_export_rules_ignore_api_calls(self):
        """The export rules return no outcome for an API call, and leave it to static rules."""
        call = Action(kind=ActionKind.API_CALL, operation="GET /2/users/me", category="read")
        for rule in (rules.redistribute_ids_only(), rules.recipient_quota()):
            assert rule.evaluate(call, None) is None
        assert rules.require_recipient_terms().static_for(call)

    def test_known_endpoint_ignores_exports(self):
        """known_endpoint returns no outcome for an export."""
        export = Action(kind=ActionKind.EXPORT, operation="share", recipient="lab", count=1)
        assert rules.known_endpoint().evaluate(export, None) is None
        assert not rules.require_recipient_terms().static_for(export)


def test_a_single_purpose_name_is_one_purpose():
    """declared_purposes given one name as a string declares that purpose, not its letters."""
    assert ("academic_research",) == tuple(
        p.name for p in rules.declared_purposes("academic_research").declared
    )


@pytest.mark.parametrize(
    "member",
    [
        ClauseStatus.ENFORCED,
        next(iter(Source)),
        ActionKind.EXPORT,
        Mode.WARN,
        Effect.DENY,
        next(iter(EndpointCategory)),
        next(iter(Kind)),
        next(iter(GeoKind)),
        ConsentEventType.GRANTED,
        Environment.PRODUCTION,
        next(iter(Standing)),
    ],
)
def test_enums_print_their_value(member):
    """str() and f-strings of twpolicy's enums give the value written in logs and configs."""
    assert member.value == str(member) == f"{member}"

"""Declared purposes, query screening and platform-wide counts (restricted uses, I.F.5.d/e)."""

import pytest
import tweepy
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from twpolicy import Action, ConfigurationError, ProhibitedPurpose, TwPolicyWarning
from twpolicy.rules import PURPOSES, SENSITIVE_EVENT_TERMS, declared_purposes, default
from twpolicy.testing import FakeXAPI

PROHIBITED = sorted(name for name, p in PURPOSES.items() if p.prohibited)
ALLOWED = sorted(name for name, p in PURPOSES.items() if not p.prohibited)
SEARCH = "GET /2/tweets/search/recent"
COUNTS = "GET /2/tweets/counts/recent"
BEARER = "app-only-bearer"


def guard(**kwargs):
    return twpolicy.Guard(
        ledger=twpolicy.open_ledger("memory://"), quotas=twpolicy.open_quotas("memory://"), **kwargs
    )


def search(query, operation=SEARCH):
    return Action(
        kind="api_call", operation=operation, category="public_read", payload={"query": query}
    )


def config(tmp_path, body):
    path = tmp_path / "twpolicy.toml"
    path.write_text("[twpolicy]\n" + body, encoding="utf-8")
    return path


class TestVocabulary:
    def test_issue_list_is_prohibited(self):
        """Every purpose the restricted-use page and I.F.5.d/e forbid is in the vocabulary."""
        assert {
            "surveillance",
            "tracking_sensitive_events",
            "tracking_sensitive_groups",
            "background_checks",
            "credit_or_insurance_risk",
            "individual_profiling",
            "facial_recognition",
            "benchmarking",
            "platform_metrics",
            "off_platform_ad_targeting",
        } <= set(PROHIBITED)

    def test_prohibited_purposes_cite_catalog_clauses(self):
        """Each prohibited purpose names a clause of the catalog."""
        refs = {c.ref for c in twpolicy.clauses()}
        for name in PROHIBITED:
            assert PURPOSES[name].clause in refs, name

    def test_docs_list_every_purpose(self):
        """docs/purposes.md documents the whole vocabulary."""
        from conftest import PROJECT  # noqa: PLC0415

        page = (PROJECT / "docs" / "purposes.md").read_text(encoding="utf-8")
        for name in PURPOSES:
            assert f"`{name}`" in page, name


class TestConfiguration:
    @pytest.mark.parametrize("name", PROHIBITED)
    def test_prohibited_purpose_stops_the_guard(self, name):
        """A prohibited purpose is refused when the rules are built, naming its clause."""
        with pytest.raises(ConfigurationError, match=PURPOSES[name].clause):
            default(purposes=[name])

    def test_unknown_purpose(self):
        """A purpose outside the vocabulary is refused, listing the allowed ones."""
        with pytest.raises(ConfigurationError, match="aggregate_analysis"):
            declared_purposes(["spying-ish"])

    def test_config_file(self, tmp_path):
        """purposes in the [twpolicy] table are checked before anything is built."""
        bad = config(tmp_path, 'purposes = ["publishing", "background_checks"]\n')
        with pytest.raises(ConfigurationError, match=r"twpolicy\.toml.*RU\.surveillance\.b"):
            twpolicy.Guard.from_config(bad)
        good = config(tmp_path, 'purposes = ["publishing", "customer_care"]\n')
        built = twpolicy.Guard.from_config(good)
        rule = next(r for r in built.rules if r.id == "purpose.declared")
        assert ["publishing", "customer_care"] == [p.name for p in rule.declared]

    def test_config_types(self, tmp_path):
        """purposes must be a list; sensitive_terms a list of strings."""
        with pytest.raises(ConfigurationError, match="purposes must be a list"):
            twpolicy.Guard.from_config(config(tmp_path, 'purposes = "publishing"\n'))
        with pytest.raises(ConfigurationError, match="sensitive_terms"):
            twpolicy.Guard.from_config(config(tmp_path, 'sensitive_terms = ["", "x"]\n'))


class TestPerAction:
    def act(self, g, purpose):
        return g.check(Action(kind="store", operation="save", facts={"purpose": purpose}))

    @pytest.mark.parametrize("name", PROHIBITED)
    def test_prohibited_purpose_is_refused(self, name):
        """An action done for a prohibited purpose is refused under that purpose's clause."""
        g = guard()
        decision = self.act(g, name)
        assert (decision.allowed, decision.reason, decision.clause) == (
            False,
            "prohibited_purpose",
            PURPOSES[name].clause,
        )
        with pytest.raises(ProhibitedPurpose), g.permit(decision_action(name)):
            pass

    def test_undeclared_purpose_names_the_fix(self):
        """With purposes declared, another (allowed) purpose is refused; the remedy adds it."""
        g = guard(rules=default(purposes=["publishing"]))
        decision = self.act(g, "brand_monitoring")
        assert "undeclared_purpose" == decision.reason
        assert "['publishing', 'brand_monitoring']" in decision.remediation
        assert self.act(
            guard(rules=default(purposes=["publishing", "brand_monitoring"])), "brand_monitoring"
        ).allowed

    def test_declared_purpose_is_allowed(self):
        """A declared purpose is allowed and recorded."""
        decision = self.act(
            guard(rules=default(purposes=["aggregate_analysis"])), "aggregate_analysis"
        )
        assert decision.allowed
        assert any(o.facts.get("purpose") == "aggregate_analysis" for o in decision.outcomes)

    def test_unknown_purpose_fails_closed(self):
        """A purpose the vocabulary does not know cannot be checked, so it is refused."""
        assert "unknown_purpose" == self.act(guard(), "vibes").reason

    def test_no_purpose_is_not_judged(self):
        """An action that names no purpose is left to the other rules."""
        decision = guard().check(Action(kind="store", operation="save"))
        assert "purpose.declared" not in [o.rule for o in decision.outcomes]


def decision_action(purpose):
    return Action(kind="store", operation="save", facts={"purpose": purpose})


class TestQueryScreen:
    def test_sensitive_term_warns_by_default(self):
        """A query naming a protest warns (default mode warn) and goes ahead."""
        g = guard()
        with (
            pytest.warns(TwPolicyWarning, match="sensitive-event term 'protest'"),
            g.permit(search("protest downtown lang:en")),
        ):
            pass
        assert "warn" == g.mode_of("purpose.query_screen").value

    def test_enforced_on_request(self):
        """rule_modes enforce it: the query is refused, naming the clause and a remedy."""
        g = guard(rule_modes={"purpose.query_screen": "enforce"})
        with pytest.raises(ProhibitedPurpose) as info, g.permit(search("#Rally at city hall")):
            pass
        decision = info.value.decision
        assert ("RU.surveillance.2", "sensitive_event_terms") == (decision.clause, decision.reason)
        assert "rule_modes" in decision.remediation

    def test_monitor_guard_stays_monitor(self):
        """A guard in monitor mode is not made louder by the rule's warn default."""
        assert "monitor" == guard(mode="monitor").mode_of("purpose.query_screen").value

    def test_single_account(self):
        """A query that follows one account alone is flagged; several, or a topic, are not."""
        g = guard(rule_modes={"purpose.query_screen": "enforce"})
        assert "single_account_tracking" == g.check(search("from:someone -is:retweet")).reason
        assert g.check(search("from:a OR from:b")).allowed
        assert g.check(search("release notes from:someone")).allowed

    def test_configurable_terms(self, tmp_path):
        """sensitive_terms replaces the list: its words are flagged, the default ones not."""
        path = config(
            tmp_path,
            'sensitive_terms = ["sit-in"]\n[twpolicy.rules]\n"purpose.query_screen" = "enforce"\n',
        )
        g = twpolicy.Guard.from_config(path)
        assert "sensitive_event_terms" == g.check(search("the sit-in today")).reason
        assert g.check(search("protest")).allowed

    def test_stream_rules_through_the_client(self):
        """Each stream rule added through the guarded client is screened before it is sent."""
        g = guard(rule_modes={"purpose.query_screen": "enforce"})
        fake = FakeXAPI()
        client = fake.install(twpolicy.StreamingClient("bearer", guard=g))
        with pytest.raises(ProhibitedPurpose, match="query 2 names"):
            client.add_rules(
                [tweepy.StreamRule("cats"), tweepy.StreamRule("union meeting tonight")]
            )
        assert not fake.requests

    def test_search_through_the_client(self):
        """Search queries sent through twpolicy.Client are screened; clean ones go out."""
        g = guard(rule_modes={"purpose.query_screen": "enforce"})
        fake = FakeXAPI()
        client = fake.install(twpolicy.Client(fake.app_token(), guard=g))
        fake.add_tweet("needle in a haystack")
        assert client.search_recent_tweets("needle").data
        with pytest.raises(ProhibitedPurpose):
            client.search_recent_tweets("protesters needle")

    def test_v1_search_through_the_api(self):
        """v1.1 search (q=) through twpolicy.API is screened before it is sent."""
        g = guard(rule_modes={"purpose.query_screen": "enforce"})
        fake = FakeXAPI()
        auth = tweepy.OAuth1UserHandler("key", "secret", fake.access_token(), "token-secret")
        api = fake.install(twpolicy.API(auth, guard=g))
        with pytest.raises(ProhibitedPurpose, match="'rallies'"):
            api.search_tweets("rallies this weekend")
        assert not fake.requests

    @given(
        st.sampled_from(SENSITIVE_EVENT_TERMS),
        st.lists(
            st.sampled_from(["cats", "news", "lang:en", "-is:retweet", "#python"]), max_size=4
        ),
        st.booleans(),
    )
    def test_terms_are_found_anywhere(self, term, words, upper):
        """A sensitive term is found wherever it stands in the query, in any case."""
        g = guard(rule_modes={"purpose.query_screen": "enforce"})
        query = " ".join([*words, term.upper() if upper else term, *words])
        assert "sensitive_event_terms" == g.check(search(query)).reason

    @given(
        st.lists(
            st.sampled_from(["cats", "news", "lang:en", "-is:retweet", "#python", "marching band"]),
            min_size=1,
            max_size=5,
        )
    )
    def test_ordinary_queries_pass(self, words):
        """Queries of ordinary words are not flagged."""
        g = guard(rule_modes={"purpose.query_screen": "enforce"})
        assert g.check(search(" ".join(words))).allowed


class TestPlatformCounts:
    def test_topicless_count_is_flagged(self):
        """A count query with only filters measures the platform: flagged under RU.measuring.b."""
        g = guard(rule_modes={"purpose.platform_counts": "enforce"})
        decision = g.check(search("lang:en -is:retweet", COUNTS))
        assert ("RU.measuring.b", "platform_wide_count") == (decision.clause, decision.reason)
        assert "topic" in decision.remediation

    def test_topic_count_is_allowed(self):
        """Counting Tweets about a topic is allowed."""
        g = guard(rule_modes={"purpose.platform_counts": "enforce"})
        assert g.check(search("#python lang:en", COUNTS)).allowed

    def test_warns_by_default_through_the_client(self):
        """Through the client, a platform-wide count warns; enforced, it is not sent."""
        fake = FakeXAPI()
        client = fake.install(
            twpolicy.Client(BEARER, guard=guard(rule_modes={"purpose.platform_counts": "enforce"}))
        )
        with pytest.raises(ProhibitedPurpose):
            client.get_recent_tweets_count("lang:en")
        assert not fake.requests
        with (
            pytest.warns(TwPolicyWarning, match="platform itself"),
            guard().permit(search("lang:en", COUNTS)),
        ):
            pass

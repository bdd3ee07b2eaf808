"""The pytest plugin, run inside pytester sessions."""

import json
import re
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent

pytest_plugins = ["pytester"]


class TestFixtures:
    def test_guard_is_fresh_default_and_restored(self, pytester):
        """twpolicy_guard is an enforcing guard, installed as the default for the test only."""
        pytester.makepyfile(
            """
            import twpolicy

            seen = []

            def test_guard(twpolicy_guard):
                assert twpolicy.get_default_guard() is twpolicy_guard
                assert twpolicy.Mode.ENFORCE == twpolicy_guard.mode
                seen.append(twpolicy_guard)

            def test_restored():
                assert twpolicy.get_default_guard() is not seen[0]
            """
        )
        pytester.runpytest().assert_outcomes(passed=2)

    def test_consent_in_one_line(self, pytester):
        """twpolicy_consent grants and revokes the acting user's consent."""
        pytester.makepyfile(
            """
            import twpolicy
            from twpolicy.testing import DEFAULT_USER_ID

            def like(guard):
                return guard.check(twpolicy.Action(kind="api_call",
                    operation="POST /2/users/:id/likes", category="write",
                    acting_user_id=DEFAULT_USER_ID, scopes={"like.write"}))

            def test_consent(twpolicy_guard, twpolicy_consent):
                assert not like(twpolicy_guard).allowed
                record = twpolicy_consent.grant("like.write")
                assert DEFAULT_USER_ID == record.user_id
                assert like(twpolicy_guard).allowed
                assert 1 == len(twpolicy_consent.revoke())
                assert not like(twpolicy_guard).allowed
            """
        )
        pytester.runpytest().assert_outcomes(passed=1)

    def test_decisions_helpers(self, pytester):
        """assert_denied, assert_allowed and assert_no_denials pass and fail as they say."""
        pytester.makepyfile(
            """
            import pytest
            import twpolicy

            def post(guard):
                return guard.check(twpolicy.Action(kind="api_call", operation="POST /2/tweets",
                    category="write", acting_user_id="12", scopes={"tweet.write"}))

            def test_helpers(twpolicy_guard, twpolicy_decisions):
                twpolicy_decisions.assert_no_denials()
                post(twpolicy_guard)
                [deny] = twpolicy_decisions.assert_denied(rule="consent.required", clause="I.C.1.a")
                assert "no_consent_record" == deny.reason
                with pytest.raises(AssertionError, match="no allow matching"):
                    twpolicy_decisions.assert_allowed(operation="POST /2/tweets")

            def test_failure_lists_decisions(twpolicy_guard, twpolicy_decisions):
                post(twpolicy_guard)
                twpolicy_decisions.assert_no_denials()
            """
        )
        result = pytester.runpytest()
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            ["*1 deny(s) recorded*", "*POST /2/tweets refused under I.C.1.a*"]
        )

    def test_decisions_alone_install_the_guard(self, pytester):
        """Asking for twpolicy_decisions alone records what the default guard decides."""
        pytester.makepyfile(
            """
            import twpolicy

            def test_default_guard_is_recorded(twpolicy_decisions):
                twpolicy.get_default_guard().check(twpolicy.Action(kind="api_call",
                    operation="POST /2/made/up"))
                twpolicy_decisions.assert_denied(reason="unknown_route")
            """
        )
        pytester.runpytest("--twpolicy-strict").assert_outcomes(passed=1)

    def test_fake_api_acts_as_the_acting_user(self, pytester):
        """twpolicy_fake_api authenticates the marker's acting user."""
        pytester.makepyfile(
            """
            import pytest

            @pytest.mark.twpolicy(acting_user_id="42")
            def test_fake(twpolicy_fake_api):
                assert "42" == twpolicy_fake_api.me
                assert "42" in twpolicy_fake_api.users
            """
        )
        pytester.runpytest().assert_outcomes(passed=1)


class TestClientFixtures:
    def test_guarded_clients_on_the_fake(self, pytester):
        """The client fixtures are twpolicy's clients on the fake API, decided by the guard."""
        pytester.makepyfile(
            """
            import asyncio
            import pytest
            import twpolicy

            @pytest.mark.twpolicy(granted=["tweet.write"])
            def test_write_with_consent(twpolicy_client, twpolicy_fake_api, twpolicy_decisions):
                tweet_id = twpolicy_client.create_tweet(text="hi").data["id"]
                assert "hi" == twpolicy_client.get_tweet(tweet_id).data.text
                twpolicy_fake_api.assert_called("POST /2/tweets", times=1)
                twpolicy_decisions.assert_allowed(operation="POST /2/tweets")

            def test_refused_without_consent(twpolicy_client, twpolicy_fake_api,
                                             twpolicy_decisions):
                with pytest.raises(twpolicy.ConsentRequired):
                    twpolicy_client.create_tweet(text="hi")
                twpolicy_fake_api.assert_not_called("POST /2/tweets")
                twpolicy_decisions.assert_denied(clause="I.C.1.a")

            @pytest.mark.twpolicy(granted=["like.write"], acting_user_id="42")
            def test_async(twpolicy_async_client, twpolicy_fake_api):
                tweet = twpolicy_fake_api.add_tweet("likeable")
                asyncio.run(twpolicy_async_client.like(tweet))
                [like] = twpolicy_fake_api.calls("POST /2/users/:id/likes")
                assert ("42", 200) == (like.user_id, like.status)

            @pytest.mark.twpolicy(granted=["tweet.write"])
            def test_api(twpolicy_api, twpolicy_fake_api):
                status = twpolicy_api.update_status("v1")
                assert status.id_str in twpolicy_fake_api.tweets

            def test_default_guard(twpolicy_guard, twpolicy_fake_api, twpolicy_decisions):
                client = twpolicy_fake_api.client()  # no guard=: the default guard decides
                with pytest.raises(twpolicy.ConsentRequired):
                    client.create_tweet(text="x")
                twpolicy_decisions.assert_denied(operation="POST /2/tweets")
            """
        )
        pytester.runpytest("--twpolicy-strict").assert_outcomes(passed=5)

    def test_cassette_option(self, pytester):
        """cassette= makes the fake API answer from a recording next to the test module."""
        tweet = {"id": "20", "text": "just setting up", "edit_history_tweet_ids": ["20"]}
        interaction = {
            "request": {"method": "GET", "uri": "https://api.twitter.com/2/tweets/20"},
            "response": {
                "status": {"code": 200, "message": "OK"},
                "headers": {"content-type": ["application/json"]},
                "body": {"string": json.dumps({"data": tweet})},
            },
        }
        pytester.makefile(".json", recorded=json.dumps({"interactions": [interaction]}))
        pytester.makepyfile(
            """
            import pytest

            @pytest.mark.twpolicy(cassette="recorded.json")
            def test_replayed(twpolicy_client):
                assert "just setting up" == twpolicy_client.get_tweet(20).data.text
            """
        )
        pytester.runpytest().assert_outcomes(passed=1)


class TestMarker:
    def test_layers_merge_closest_wins(self, pytester):
        """ini, module, class and test settings merge; the closest one wins."""
        pytester.makeini(
            """
            [pytest]
            twpolicy_mode = monitor
            twpolicy_granted = tweet.write
            """
        )
        pytester.makepyfile(
            """
            import pytest

            pytestmark = pytest.mark.twpolicy(mode="warn", acting_user_id="7")

            @pytest.mark.twpolicy(granted=["like.write"])
            class TestLayers:
                @pytest.mark.twpolicy(acting_user_id="8")
                def test_test_level(self, twpolicy_options):
                    assert ("warn", {"like.write"}, "8") == (
                        twpolicy_options.mode.value, set(twpolicy_options.granted),
                        twpolicy_options.acting_user_id)

            def test_module_level(twpolicy_options, twpolicy_guard):
                assert "warn" == twpolicy_guard.mode.value
                assert ("7", {"tweet.write"}) == (
                    twpolicy_options.acting_user_id, set(twpolicy_options.granted))
            """
        )
        pytester.runpytest("--strict-markers").assert_outcomes(passed=2)

    def test_granted_scopes_are_consented(self, pytester):
        """Scopes the marker grants are recorded for the acting user before the test."""
        pytester.makepyfile(
            """
            import pytest

            @pytest.mark.twpolicy(granted=["dm.write"], acting_user_id="99")
            def test_granted(twpolicy_guard):
                assert twpolicy_guard.consent.check("99", "dm.write") is not None
                assert twpolicy_guard.consent.check("99", "tweet.write") is None
            """
        )
        pytester.runpytest().assert_outcomes(passed=1)

    @pytest.mark.parametrize(
        ("marker", "message"),
        [
            ("grantd=['tweet.write']", "*unknown twpolicy option(s) ?'grantd'?; the options are*"),
            ("mode='loud'", "*unknown mode 'loud'*"),
            ("granted=['tweet.writ']", "*unknown consent scope(s) 'tweet.writ'*"),
            ("'warn'", "*takes keyword arguments only*"),
            ("strict='yes'", "*'strict' must be*"),
        ],
    )
    def test_bad_marker_is_an_error(self, pytester, marker, message):
        """A typo or a bad value in the marker errors the test, saying what is wrong."""
        pytester.makepyfile(
            f"""
            import pytest

            @pytest.mark.twpolicy({marker})
            def test_bad(twpolicy_guard):
                pass
            """
        )
        result = pytester.runpytest()
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines([message])

    def test_marker_is_registered(self, pytester):
        """The marker is documented in --markers, with a link to the docs."""
        result = pytester.runpytest("--markers")
        result.stdout.fnmatch_lines(["@pytest.mark.twpolicy(*, mode='enforce'*testing/*"])


STRICT_TESTS = """
import pytest
import twpolicy

def post(guard):
    return guard.check(twpolicy.Action(kind="api_call", operation="POST /2/tweets",
        category="write", acting_user_id="12", scopes={"tweet.write"}))

@pytest.mark.twpolicy(mode="monitor")
def test_unexpected(twpolicy_guard):
    assert post(twpolicy_guard).allowed  # monitor mode lets it through

def test_expected(twpolicy_guard, twpolicy_decisions):
    post(twpolicy_guard)
    twpolicy_decisions.assert_denied(reason="no_consent_record")

@pytest.mark.twpolicy(mode="monitor", strict=False)
def test_opted_out(twpolicy_guard):
    post(twpolicy_guard)

def test_own_guard():
    guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), mode="monitor")
    post(guard)

def test_caught(twpolicy_guard):
    with pytest.raises(twpolicy.ConsentRequired):
        twpolicy_guard.enforce(twpolicy.Action(kind="api_call", operation="POST /2/tweets",
            category="write", acting_user_id="12", scopes={"tweet.write"}))

def test_clean(twpolicy_guard):
    pass
"""


class TestStrict:
    def test_strict_fails_unexpected_denies(self, pytester):
        """--twpolicy-strict fails tests with unexpected denies, in any mode and any guard."""
        pytester.makepyfile(STRICT_TESTS)
        result = pytester.runpytest("--twpolicy-strict")
        result.assert_outcomes(passed=4, failed=2)
        result.stdout.fnmatch_lines(
            [
                "*--twpolicy-strict: 1 policy deny(s) recorded during *test_unexpected*",
                "*POST /2/tweets refused under I.C.1.a ?consent.required: no_consent_record? (*",
                "*run with -v for each refusal's message and remedy*",
                "FAILED *test_unexpected*",
                "FAILED *test_own_guard*",
            ]
        )
        result.stdout.no_fnmatch_line("*authenticating is not consent*")

    def test_verbose_gives_the_message_and_remedy(self, pytester):
        """With -v each unexpected refusal also shows its message and remedy."""
        pytester.makepyfile(STRICT_TESTS)
        result = pytester.runpytest("--twpolicy-strict", "-v")
        result.stdout.fnmatch_lines(
            [
                "*POST /2/tweets refused under I.C.1.a*",
                "*user 12 has no recorded, unrevoked consent*",
                "*remedy: show the user what will be done*",
            ]
        )

    def test_a_refusal_caught_by_pytest_raises_is_expected(self, pytester):
        """pytest.raises(<a PolicyViolation>) says the refusal is expected."""
        path = pytester.makepyfile(STRICT_TESTS)
        result = pytester.runpytest("--twpolicy-strict", f"{path}::test_caught")
        result.assert_outcomes(passed=1)

    def test_a_refusal_caught_otherwise_is_not(self, pytester):
        """Catching a refusal some other way still fails strict mode: it was not asserted."""
        pytester.makepyfile(
            """
            import twpolicy

            def test_swallowed(twpolicy_guard):
                try:
                    twpolicy_guard.enforce(twpolicy.Action(kind="api_call",
                        operation="POST /2/made/up"))
                except twpolicy.PolicyViolation:
                    pass
            """
        )
        pytester.runpytest("--twpolicy-strict").assert_outcomes(failed=1)

    def test_without_strict_denies_do_not_fail(self, pytester):
        """Without the option, a deny in monitor mode does not fail a test."""
        pytester.makepyfile(STRICT_TESTS)
        pytester.runpytest().assert_outcomes(passed=6)

    def test_strict_from_ini(self, pytester):
        """twpolicy_strict = true in the ini file turns strict mode on for the suite."""
        pytester.makeini("[pytest]\ntwpolicy_strict = true\n")
        pytester.makepyfile(STRICT_TESTS)
        pytester.runpytest().assert_outcomes(passed=4, failed=2)

    def test_marker_turns_strict_on(self, pytester):
        """strict=True on the marker makes one test strict without the option."""
        pytester.makepyfile(
            """
            import pytest
            import twpolicy

            @pytest.mark.twpolicy(mode="monitor", strict=True)
            def test_strict_here(twpolicy_guard):
                twpolicy_guard.check(twpolicy.Action(kind="api_call", operation="POST /2/made/up"))
            """
        )
        result = pytester.runpytest()
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*POST /2/made/up refused*unknown_route*"])


class TestSummary:
    def test_summary_counts_per_clause(self, pytester):
        """The run ends with decisions per clause, denies not enforced in brackets."""
        pytester.makepyfile(STRICT_TESTS)
        result = pytester.runpytest()
        result.stdout.fnmatch_lines(
            [
                "*twpolicy decisions per clause*",
                "clause*allowed*denied*(not enforced)",
                "I.C.1.a*0*5*(3)",
            ]
        )

    def test_no_decisions_no_summary(self, pytester):
        """A run without decisions prints no summary."""
        pytester.makepyfile("def test_nothing():\n    pass\n")
        result = pytester.runpytest()
        assert "twpolicy decisions" not in result.stdout.str()


class TestImportHygiene:
    def test_disabled_plugin_imports_nothing(self, pytester):
        """With -p no:twpolicy, a run does not import twpolicy."""
        pytester.makepyfile(
            """
            import sys

            def test_not_imported(request):
                assert not request.config.pluginmanager.has_plugin("twpolicy")
                assert "twpolicy" not in sys.modules
            """
        )
        pytester.runpytest_subprocess("-p", "no:twpolicy").assert_outcomes(passed=1)

    def test_loaded_plugin_imports_nothing_until_used(self, pytester):
        """Loading the plugin imports neither twpolicy nor tweepy; a fixture does."""
        pytester.makepyfile(
            """
            import sys

            def test_loaded_but_not_imported(request):
                assert request.config.pluginmanager.has_plugin("twpolicy")
                assert "twpolicy" not in sys.modules
                assert "tweepy" not in sys.modules

            def test_fixture_imports(twpolicy_guard):
                assert "twpolicy" in sys.modules
            """
        )
        pytester.runpytest_subprocess().assert_outcomes(passed=2)


def doc_blocks(name):
    """The Python code blocks of a docs page, as (file name or None, source) pairs."""
    text = (PROJECT / "docs" / name).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    return [(m[1] if (m := re.match(r"# (test_\w+\.py)\n", b)) else None, b) for b in blocks]


class TestDocs:
    def test_test_modules_in_the_docs_pass(self, pytester):
        """Every test module shown in docs/testing.md runs and passes."""
        modules = {name: source for name, source in doc_blocks("testing.md") if name}
        assert 6 <= len(modules)
        pytester.makepyfile(**{name[: -len(".py")]: source for name, source in modules.items()})
        tests = sum(source.count("def test_") for source in modules.values())
        result = pytester.runpytest("-p", "no:cacheprovider", "--twpolicy-strict")
        result.assert_outcomes(passed=tests)

    def test_other_examples_run(self):
        """The docs' plain Python examples run as shown."""
        for name, source in doc_blocks("testing.md"):
            if name is None:
                exec(compile(source, "docs/testing.md", "exec"), {})  # noqa: S102  # our own docs


class TestFactory:
    def test_works_under_given_without_health_check_failures(self, pytester):
        """twpolicy_factory is session-scoped: @given tests use it with every health check on."""
        pytester.makepyfile(
            """
            from hypothesis import given, settings, strategies as st
            import twpolicy

            @settings(max_examples=5, database=None)
            @given(text=st.text(min_size=1, max_size=20).filter(str.strip))
            def test_each_example_is_fresh(twpolicy_factory, text):
                with twpolicy_factory.guard(granted=["tweet.write"]) as guard:
                    fake = twpolicy_factory.fake_api()
                    client = fake.client(guard=guard, acting_user_id=fake.me)
                    client.create_tweet(text=text)
                    assert [text] == [t.text for t in fake.tweets.values()
                                      if t.author_id == fake.me]
                    assert twpolicy.get_default_guard() is guard
            """
        )
        pytester.runpytest("--twpolicy-strict").assert_outcomes(passed=1)

    def test_its_denies_count_in_strict_mode(self, pytester):
        """A factory guard's unexpected deny fails a strict test like a fixture guard's."""
        pytester.makepyfile(
            """
            import twpolicy

            def test_denied(twpolicy_factory):
                with twpolicy_factory.guard(mode="monitor") as guard:
                    guard.check(twpolicy.Action(kind="api_call", operation="POST /2/made/up"))
            """
        )
        result = pytester.runpytest("--twpolicy-strict")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*POST /2/made/up refused*unknown_route*"])


class TestUnexpectedRequests:
    TESTS = """
        import pytest

        pytestmark = pytest.mark.twpolicy(granted=["tweet.write"],
                                          assert_all_requests_expected=True)

        def test_announced(twpolicy_client, twpolicy_fake_api):
            twpolicy_fake_api.expect("POST /2/tweets", times=1)
            twpolicy_client.create_tweet(text="hello")

        def test_one_too_many(twpolicy_client, twpolicy_fake_api):
            twpolicy_fake_api.expect("POST /2/tweets", times=1)
            twpolicy_client.create_tweet(text="hello")
            twpolicy_client.create_tweet(text="again")

        def test_not_announced(twpolicy_client, twpolicy_fake_api):
            twpolicy_client.create_tweet(text="hello")

        @pytest.mark.twpolicy(assert_all_requests_expected=False)
        def test_opted_out(twpolicy_client, twpolicy_fake_api):
            twpolicy_client.create_tweet(text="hello")
    """

    def test_teardown_fails_on_unexpected_requests(self, pytester):
        """With assert_all_requests_expected, unannounced requests fail the test at teardown."""
        pytester.makepyfile(self.TESTS)
        result = pytester.runpytest()
        result.assert_outcomes(passed=4, errors=2)
        result.stdout.fnmatch_lines(
            [
                "*ERROR at teardown of test_one_too_many*",
                "*1 request(s) the test did not expect*",
                "*POST /2/tweets (POST /2/tweets) -> 201*",
                "*ERROR at teardown of test_not_announced*",
            ]
        )

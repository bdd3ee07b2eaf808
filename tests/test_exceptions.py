import subprocess
import sys
import textwrap

import pytest
import tweepy

import twpolicy
from conftest import PROJECT
from twpolicy import exceptions


class TestHierarchy:
    @pytest.mark.parametrize("name", exceptions.__all__)
    def test_one_root(self, name):
        """Every error descends from TwPolicyError; the warning from UserWarning."""
        cls = getattr(exceptions, name)
        if name == "TwPolicyWarning":
            assert issubclass(cls, UserWarning)
        else:
            assert issubclass(cls, twpolicy.TwPolicyError)

    @pytest.mark.parametrize(
        "cls",
        [
            twpolicy.ConsentRequired,
            twpolicy.StandaloneGeoError,
            twpolicy.RedistributionError,
            twpolicy.QuotaExceeded,
            twpolicy.UnknownRoute,
            twpolicy.AutomationError,
            twpolicy.BulkLimitExceeded,
            twpolicy.DuplicateContent,
            twpolicy.RateLimited,
        ],
    )
    def test_refusals_are_tweepy_exceptions_once_a_client_loads(self, cls):
        """Existing `except tweepy.TweepyException` handlers catch every refusal of a client."""
        assert twpolicy.Client is not None  # loads the clients, which join tweepy's base
        assert issubclass(cls, twpolicy.PolicyViolation)
        assert issubclass(cls, tweepy.TweepyException)

    def test_quota_is_a_redistribution_error(self):
        """QuotaExceeded is caught by handlers of RedistributionError."""
        assert issubclass(twpolicy.QuotaExceeded, twpolicy.RedistributionError)

    def test_configuration_error_is_a_value_error(self):
        """ConfigurationError is also a ValueError, like other bad arguments."""
        assert issubclass(twpolicy.ConfigurationError, ValueError)

    def test_tree_is_drawn_in_the_docs(self):
        """docs/exceptions.md names every exception."""
        page = (PROJECT / "docs" / "exceptions.md").read_text(encoding="utf-8")
        for name in exceptions.__all__:
            assert name in page


def _python(*parts):
    """Run code in a fresh interpreter (modules not yet imported); return its stdout's words."""
    code = "\n".join(textwrap.dedent(part) for part in parts)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert 0 == done.returncode, done.stderr
    return done.stdout.split()


REFUSE = """
    guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"))
    action = twpolicy.Action(
        kind="api_call",
        operation="POST /2/users/:id/likes",
        category="write",
        acting_user_id="12",
        scopes={"like.write"},
    )
"""


class TestTweepyBase:
    """tweepy loads only with a client, yet its handlers catch every refusal."""

    def test_no_tweepy_until_needed(self):
        """Refusals raised without tweepy are PolicyViolations, and tweepy stays unloaded."""
        out = _python(
            "import sys, twpolicy",
            REFUSE,
            """
            try:
                guard.enforce(action)
            except twpolicy.ConsentRequired as refusal:
                print(type(refusal).__name__, "tweepy" in sys.modules)
            """,
        )
        assert ["ConsentRequired", "False"] == out

    def test_tweepy_imported_after_twpolicy_catches(self):
        """A refusal created once tweepy is imported is caught as a tweepy.TweepyException."""
        out = _python(
            "import twpolicy\nimport tweepy",
            REFUSE,
            """
            try:
                guard.enforce(action)
            except tweepy.TweepyException as refusal:
                print(type(refusal).__name__, type(refusal).__module__)
                print(isinstance(refusal, twpolicy.ConsentRequired))
            """,
        )
        assert ["ConsentRequired", "twpolicy.exceptions", "True"] == out

    def test_refusal_created_before_tweepy_is_caught_after_a_client_loads(self):
        """Joining the base changes the class: refusals made earlier are caught too."""
        out = _python(
            "import twpolicy",
            REFUSE,
            """
            try:
                guard.enforce(action)
            except twpolicy.ConsentRequired as exc:
                refusal = exc
            import tweepy
            twpolicy.Client
            try:
                raise refusal
            except tweepy.TweepyException as caught:
                print(caught is refusal)
            """,
        )
        assert ["True"] == out

    def test_tweepy_imported_first_joins_at_import(self):
        """With tweepy already loaded, the classes subclass it as soon as they exist."""
        out = _python(
            """
            import tweepy, twpolicy
            print(issubclass(twpolicy.DuplicateContent, tweepy.TweepyException))
            """
        )
        assert ["True"] == out

    def test_join_is_idempotent(self):
        """Joining twice keeps one tweepy base."""
        assert exceptions._join_tweepy()
        assert exceptions._join_tweepy()
        assert 1 == twpolicy.PolicyViolation.__mro__.count(tweepy.TweepyException)

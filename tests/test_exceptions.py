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
    def test_refusals_are_tweepy_exceptions(self, cls):
        """Existing `except tweepy.TweepyException` handlers catch every refusal."""
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

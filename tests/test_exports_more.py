"""manual_export's handle: what it prints, that a ``with`` block ending cleanly hands the
data over (counted for good), that a generator of objects is counted, and that a missing
recipient is refused before anything is decided."""

import pytest

import twpolicy
from twpolicy import ConfigurationError, Guard

DAY = 50_000


def user(n):
    return {"id_str": str(n), "screen_name": f"u{n}", "name": f"U{n}", "protected": False}


@pytest.fixture(name="guard")
def _guard():
    """A guard with an empty in-memory quota ledger."""
    return Guard(quotas=twpolicy.open_quotas("memory://"))


def test_repr_names_recipient_and_count(guard):
    """An export prints its operation, recipient and count."""
    export = twpolicy.manual_export([user(1)], recipient="ana", requested_by="ana", guard=guard)
    try:
        assert "twpolicy.Export('manual_export', recipient='ana', count=1)" == repr(export)
    finally:
        export.release()


def test_a_clean_with_block_hands_the_data_over(guard):
    """Leaving the with block without an exception makes the counts final."""
    with twpolicy.manual_export(
        [user(1), user(2)], recipient="ana", requested_by="ana", guard=guard
    ) as export:
        assert 2 == export.decision.count
    assert DAY - 2 == guard.quotas.remaining("ana", "hydrated_objects")
    assert not export.release()  # handed over: nothing to give back


def test_a_generator_of_objects_is_counted(guard):
    """Objects given as a generator are each counted, and handed over as a list."""
    export = twpolicy.manual_export(
        (user(n) for n in range(3)), recipient="ana", requested_by="ana", guard=guard
    )
    assert 3 == export.decision.count
    assert [user(n) for n in range(3)] == export.value


@pytest.mark.parametrize("recipient", ["", "   ", None])
def test_a_recipient_is_required(guard, recipient):
    """Without a recipient, manual_export is refused as a configuration error."""
    with pytest.raises(ConfigurationError, match="manual_export needs a recipient"):
        twpolicy.manual_export([user(1)], recipient=recipient, requested_by="ana", guard=guard)

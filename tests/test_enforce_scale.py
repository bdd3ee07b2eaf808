import pytest

import twpolicy
from twpolicy._enforce._scale import finish_export, open_export
from twpolicy._payloads._batch import Manifest, merge
from twpolicy.exceptions import PayloadError

COUNTED = merge([Manifest(0, 10, 1, 4, "a" * 64), Manifest(1, 5, 0, 2, "b" * 64)])


@pytest.fixture(name="ledger")
def _ledger():
    """A quota ledger with one registered recipient, acme."""
    ledger = twpolicy.open_quotas("memory://")
    ledger.register("acme")
    yield ledger
    ledger.close()


def used(ledger):
    return next(u.used for u in ledger.usage("acme") if u.quota == "tweet_ids")


class TestTwoPhases:
    def test_reserves_the_count_and_logs_the_manifest(self, ledger):
        """Opening reserves the counted IDs; the decision carries the manifest's hash."""
        permit = open_export(
            twpolicy.Guard(quotas=ledger),
            operation="test",
            recipient="acme",
            kind="tweets",
            counted=COUNTED,
        )
        assert 6 == used(ledger)
        assert COUNTED.sha256 == permit.decision.facts["manifest_sha256"]
        assert (2, 15) == (permit.decision.facts["partitions"], permit.decision.facts["records"])
        finish_export(permit, COUNTED, COUNTED)
        assert 6 == used(ledger)

    def test_other_output_than_counted_is_released(self, ledger):
        """Writing other IDs than were counted commits nothing, and says why."""
        permit = open_export(
            twpolicy.Guard(quotas=ledger),
            operation="test",
            recipient="acme",
            kind="users",
            counted=COUNTED,
        )
        other = merge([Manifest(0, 10, 1, 4, "a" * 64), Manifest(1, 5, 0, 2, "c" * 64)])
        with pytest.raises(PayloadError, match="6 were counted and reserved"):
            finish_export(permit, COUNTED, other)
        assert 0 == used(ledger)

    def test_a_refused_export_reserves_nothing(self):
        """Without a quota ledger the export is refused before anything is held."""
        with pytest.raises(twpolicy.PolicyViolation):
            open_export(
                twpolicy.Guard(), operation="test", recipient="acme", kind="tweets", counted=COUNTED
            )

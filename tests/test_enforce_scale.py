import pytest

import twpolicy
from scale_data import applied, concatenated, gone_events, write_dataset
from twpolicy._enforce._scale import (
    ComplyTally,
    comply_lines,
    finish_export,
    open_export,
    withdrawn_lines,
)
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


class TestComplyLines:
    def test_same_output_as_the_json_lines_applier(self, tmp_path):
        """A batch is cleaned exactly as the JSON Lines applier cleans the file."""
        paths = write_dataset(tmp_path)
        whole = concatenated(paths, tmp_path / "whole.jsonl")
        events = gone_events(whole)
        expected, report = applied(whole, events, tmp_path)
        ledger = twpolicy.open_compliance("memory://")
        ledger.record(events)
        batch = comply_lines([*whole.read_text().splitlines(), ""], ledger.snapshot())
        assert expected == b"".join(batch.lines)
        # The report lists every claimed event, those that changed nothing with 0.
        assert {key: n for key, n in report.changed.items() if n} == batch.tally.changed
        assert report.removed == batch.tally.removed > 0
        assert report.scrubbed == batch.tally.scrubbed
        assert (report.records_read, report.records_dropped) == (
            batch.tally.read,
            batch.tally.dropped,
        )
        assert batch.tally.dropped >= 1

    def test_a_line_that_may_hold_gone_content_must_be_json(self):
        """A line holding an affected ID that is not JSON stops the batch, naming it."""
        ledger = twpolicy.open_compliance("memory://")
        ledger.record(
            twpolicy.compliance_events({"delete": {"status": {"id_str": "42", "user_id_str": "1"}}})
        )
        with pytest.raises(PayloadError, match="partition 3 line 2 is not JSON"):
            comply_lines(["{}", "{42"], ledger.snapshot(), where="partition 3")

    def test_tallies_add_up(self):
        """Tallies sum counts, changed objects per event and withdrawn IDs."""
        one = ComplyTally({"a": 1}, 1, 0, 2, 1, (("a", "tweet", "1"),))
        two = ComplyTally({"a": 2, "b": 1}, 3, 1, 4, 0, ())
        assert ComplyTally({"a": 3, "b": 1}, 4, 1, 6, 1, (("a", "tweet", "1"),)) == one + two
        assert ['{"event": "a", "type": "tweet", "id": "1"}\n'] == withdrawn_lines(one)

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import twpolicy
from scale_data import applied, cli_ids, concatenated, files, gone_events, write_dataset
from twpolicy._enforce._scale import (
    EXPORT_LEASE,
    ComplyTally,
    comply_lines,
    export_in_two_phases,
    finish_export,
    open_export,
    record_manifest,
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


def later(**delta):
    """A moment past the export lease (and ``delta`` more)."""
    return datetime.now(timezone.utc) + EXPORT_LEASE + timedelta(seconds=1, **delta)


class TestLease:
    def open(self, ledger):
        guard = twpolicy.Guard(quotas=ledger)
        permit = open_export(
            guard, operation="test", recipient="acme", kind="tweets", counted=COUNTED
        )
        return guard, permit

    def test_an_unfinished_export_is_released_when_its_lease_is_up(self, ledger):
        """A driver that never finishes: its reservation is released once the lease is up."""
        self.open(ledger)
        assert 0 == ledger.expire(later(minutes=-1))
        assert 6 == used(ledger)
        assert 1 == ledger.expire(later())
        assert 0 == used(ledger)

    def test_a_finished_export_is_confirmed(self, ledger):
        """Finishing removes the lease before committing: the count stays for good."""
        guard, permit = self.open(ledger)
        finish_export(permit, COUNTED, COUNTED, guard=guard)
        assert 0 == ledger.expire(later(days=1))
        assert 6 == used(ledger)

    def test_an_export_that_outlived_its_lease_is_counted_again(self, ledger, caplog):
        """Released meanwhile (the lease ran out), the written IDs are counted once more."""
        guard, permit = self.open(ledger)
        assert 1 == ledger.expire(later())
        finish_export(permit, COUNTED, COUNTED, guard=guard)
        assert 6 == used(ledger)
        assert 0 == ledger.expire(later(days=1))
        assert "outlived its quota lease" in caplog.text

    def test_the_manifest_is_recorded_last(self, ledger, tmp_path):
        """``_MANIFEST.json`` names the written manifest and the decision, complete."""
        guard = twpolicy.Guard(quotas=ledger)
        done = export_in_two_phases(
            guard, operation="test", recipient="acme", kind="tweets", counted=COUNTED,
            write=lambda: COUNTED,
        )  # fmt: skip
        record_manifest(str(tmp_path), done)
        record = json.loads((tmp_path / "_MANIFEST.json").read_text())
        assert record["complete"]
        assert COUNTED.sha256 == record["manifest"]["sha256"]
        assert COUNTED.sha256 == record["decision"]["facts"]["manifest_sha256"]
        assert ["_MANIFEST.json"] == [p.name for p in tmp_path.iterdir()]

    def test_a_failed_write_releases_at_once(self, ledger):
        """A write that raises releases the reservation without waiting for the lease."""
        with pytest.raises(OSError, match="lost"):
            export_in_two_phases(
                twpolicy.Guard(quotas=ledger), operation="test", recipient="acme",
                kind="tweets", counted=COUNTED, write=_lost,
            )  # fmt: skip
        assert 0 == used(ledger)


def _lost():
    raise OSError("a worker was lost")


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


WORKER = Path(__file__).with_name("scale_worker.py")


@pytest.mark.parametrize("engine", ["dask", "spark"])
def test_a_killed_driver_releases_its_reservation(engine, tmp_path):
    """SIGKILL to the driver between its phases: nothing recorded complete, the lease frees.

    The driver (a real Dask LocalCluster of two workers, or Spark ``local[2]``) reserves,
    lets the workers write every part, says so on its standard output and is killed. Its
    reservation is still counted; once its lease is up the next reservation releases it,
    and no ``_MANIFEST.json`` says the export is complete.
    """
    if not os.environ.get("CI"):  # pragma: no cover  # in CI a missing engine fails
        pytest.importorskip("distributed" if engine == "dask" else "pyspark")
        if engine == "spark" and shutil.which("java") is None and "JAVA_HOME" not in os.environ:
            pytest.skip("Spark needs a Java runtime")
    dataset = tmp_path / "data"
    dataset.mkdir()
    write_dataset(dataset)
    url = f"sqlite:///{tmp_path / 'quotas.db'}"
    with twpolicy.open_quotas(url) as ledger:
        ledger.register("acme")
    out = tmp_path / "out"
    with (
        (tmp_path / "stderr.txt").open("w") as errors,
        subprocess.Popen(  # this interpreter, a test helper
            [sys.executable, str(WORKER), engine, str(dataset), str(out), url],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            start_new_session=True,  # its workers (and Spark's JVM) are in its group
        ) as driver,
    ):
        try:
            said = driver.stdout.readline()  # type: ignore[union-attr]
            assert "written\n" == said, (tmp_path / "stderr.txt").read_text()[-3000:]
            os.kill(driver.pid, signal.SIGKILL)
            assert -signal.SIGKILL == driver.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(driver.pid, signal.SIGKILL)  # the driver's workers, if any remain
    expected = cli_ids(files(dataset))
    assert sorted(expected) == sorted(
        value for part in out.glob("part-*.txt") for value in part.read_text().split()
    )
    assert [] == list(out.glob("*MANIFEST*"))  # never recorded as complete
    with twpolicy.open_quotas(url) as ledger:
        assert len(expected) == used(ledger)  # held: the lease is not up yet
        after = datetime.now(timezone.utc) + EXPORT_LEASE + timedelta(seconds=1)
        again = ledger.reserve("acme", tweet_ids=1, at=after)
        assert 1 == next(u.used for u in again.usage if u.quota == "tweet_ids")

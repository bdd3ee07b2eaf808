"""``twpolicy comply`` and ``twpolicy compliance status``."""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from twpolicy import ComplianceEvent, open_compliance
from twpolicy._cli import _compliance
from twpolicy._cli._main import main
from twpolicy.testing import FakeXAPI

TWEETS = [
    {"id": "1", "text": "deleted", "author_id": "9"},
    {"id": "2", "text": "kept", "author_id": "9"},
    {"id": "3", "text": "by a protected user", "author_id": "7"},
    {"id": "4", "text": "geo", "author_id": "8", "geo": {"place_id": "p"}},
]


def run(*argv, capsys):
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture(autouse=True)
def _no_store_variables(monkeypatch):
    monkeypatch.delenv("TWPOLICY_COMPLIANCE_DB", raising=False)


@pytest.fixture(name="files")
def _files(tmp_path):
    dataset = tmp_path / "data.jsonl.gz"
    dataset.write_bytes(gzip.compress("".join(json.dumps(t) + "\n" for t in TWEETS).encode()))
    stream = tmp_path / "stream.jsonl"
    stream.write_text(
        json.dumps({"delete": {"status": {"id_str": "1", "user_id_str": "9"}}})
        + "\n"
        + json.dumps({"data": {"scrub_geo": {"user": {"id": "8"}, "up_to_tweet_id": "4"}}})
        + "\n"
    )
    users = tmp_path / "users.jsonl"
    users.write_text(json.dumps({"id": "7", "action": "delete", "reason": "protected"}) + "\n")
    return dataset, stream, users, f"sqlite:///{tmp_path / 'c.db'}"


def read(path):
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


class TestComply:
    def test_records_and_applies(self, files, capsys):
        """Events of every kind recorded and applied to a gzip dataset, in place."""
        dataset, stream, users, url = files
        code, out, _ = run(
            "comply", str(stream), "--users-job", str(users), "--dataset", str(dataset),
            "--compliance-db", url, "--format", "json", capsys=capsys,
        )  # fmt: skip
        assert code == 0
        report = json.loads(out)
        assert (report["events_new"], report["events"]) == (3, 3)
        assert (report["removed"], report["scrubbed"], report["records_dropped"]) == (2, 1, 2)
        assert read(dataset) == [TWEETS[1], {"id": "4", "text": "geo", "author_id": "8"}]

    def test_twice_changes_nothing(self, files, capsys):
        """The second run records nothing new and leaves the dataset as it was."""
        dataset, stream, _, url = files
        run("comply", str(stream), "--dataset", str(dataset), "--compliance-db", url,
            capsys=capsys)  # fmt: skip
        before = dataset.read_bytes()
        code, out, _ = run(
            "comply", str(stream), "--dataset", str(dataset), "--compliance-db", url,
            capsys=capsys,
        )  # fmt: skip
        assert code == 0
        assert "0 new event(s)" in out
        assert "nothing pending" in out
        assert dataset.read_bytes() == before

    def test_out(self, files, tmp_path, capsys):
        """``--out`` writes elsewhere and leaves the input."""
        dataset, stream, _, url = files
        before = dataset.read_bytes()
        out_path = tmp_path / "clean.jsonl.gz"
        code, _, _ = run(
            "comply", str(stream), "--dataset", str(dataset), "--out", str(out_path),
            "--compliance-db", url, capsys=capsys,
        )  # fmt: skip
        assert code == 0
        assert dataset.read_bytes() == before
        assert [t["id"] for t in read(out_path)] == ["2", "3", "4"]

    def test_a_bad_record_is_reported_and_the_rest_applied(self, files, capsys):
        """An unreadable event line: exit 2, named; the readable events still apply."""
        dataset, stream, _, url = files
        stream.write_text(stream.read_text() + "{not json\n")
        code, _, err = run(
            "comply", str(stream), "--dataset", str(dataset), "--compliance-db", url,
            capsys=capsys,
        )  # fmt: skip
        assert code == 2
        assert "line 3" in err
        assert "1" not in [t["id"] for t in read(dataset)]

    def test_an_event_writing_a_key_twice_is_reported_not_half_read(self, files, capsys):
        """An event line writing a key twice would lose one of its values: exit 2, named."""
        dataset, stream, _, url = files
        twice = '{"delete": {"status": {"id_str": "2", "id_str": "3", "user_id_str": "7"}}}'
        stream.write_text(stream.read_text() + twice + "\n")
        code, _, err = run(
            "comply", str(stream), "--dataset", str(dataset), "--compliance-db", url,
            capsys=capsys,
        )  # fmt: skip
        assert code == 2
        assert "line 3" in err
        assert "'id_str' twice" in err
        assert "1" not in [t["id"] for t in read(dataset)]

    def test_needs_a_ledger(self, files, capsys):
        """No ledger named: a usage error naming the option and the variable."""
        dataset, stream, _, _ = files
        code, _, err = run("comply", str(stream), "--dataset", str(dataset), capsys=capsys)
        assert code == 2
        assert "--compliance-db" in err
        assert "TWPOLICY_COMPLIANCE_DB" in err

    def test_missing_dataset(self, files, tmp_path, capsys):
        """A dataset that does not exist: exit 2."""
        _, stream, _, url = files
        code, _, err = run(
            "comply", str(stream), "--dataset", str(tmp_path / "none.jsonl"),
            "--compliance-db", url, capsys=capsys,
        )  # fmt: skip
        assert code == 2
        assert "does not exist" in err


class TestStatus:
    def test_overdue_is_a_refusal(self, tmp_path, capsys, caplog):
        """An event pending for more than 24 hours: exit 1 and a logged decision (I.C.3)."""
        url = f"sqlite:///{tmp_path / 'c.db'}"
        with open_compliance(url) as ledger:
            ledger.record(
                [ComplianceEvent(type="tweet_delete", object_id="1")],
                at=datetime.now(timezone.utc) - timedelta(hours=30),
            )
            ledger.record([ComplianceEvent(type="tweet_delete", object_id="2")])
        with caplog.at_level("WARNING", logger="twpolicy.decisions"):
            code, out, _ = run(
                "compliance", "status", "--compliance-db", url, "--format", "json",
                capsys=capsys,
            )  # fmt: skip
        assert code == 1
        report = json.loads(out)
        assert report["counts"]["overdue"] == 1
        assert report["counts"]["pending"] == 1
        assert report["decision"]["reason"] == "deadline_missed"
        assert report["decision"]["clause"] == "I.C.3"
        assert any("deadline_missed" in r.getMessage() for r in caplog.records)
        (overdue,) = [e for e in report["events"] if e["state"] == "overdue"]
        assert overdue["age_s"] >= 30 * 3600

    def test_all_applied(self, files, capsys):
        """After comply: nothing pending, exit 0; --all lists the applied events."""
        dataset, stream, _, url = files
        run("comply", str(stream), "--dataset", str(dataset), "--compliance-db", url,
            capsys=capsys)  # fmt: skip
        code, out, _ = run("compliance", "status", "--all", "--compliance-db", url, capsys=capsys)
        assert code == 0
        assert out.startswith("0 pending, 0 overdue, 2 applied, 0 reversed")
        assert "tweet_delete:1" in out

    def test_no_ledger_is_not_created(self, tmp_path, capsys):
        """Status only reads: a mistyped ledger URL is exit 3, and no file appears."""
        path = tmp_path / "typo.db"
        code, _, _ = run("compliance", "status", "--compliance-db", f"sqlite:///{path}",
                         capsys=capsys)  # fmt: skip
        assert code == 3
        assert not path.exists()


class TestJobCommand:
    """``twpolicy compliance job`` and ``compliance stream`` against the fake X API."""

    @pytest.fixture(name="fake")
    def _fake(self, monkeypatch):
        """A fake X API on a hand-moved clock; the commands' client and sleep use it."""
        now = [datetime(2030, 1, 1, tzinfo=timezone.utc)]
        fake = FakeXAPI(clock=lambda: now[0])
        fake.add_user("7", username="seven")
        fake.add_user("9", username="nine")
        slept = []

        def sleep(seconds):
            slept.append(seconds)
            now[0] += timedelta(seconds=seconds)

        monkeypatch.setattr(_compliance, "sleep", sleep)
        monkeypatch.setattr(
            _compliance, "make_client", lambda token: fake.client(bearer_token=token)
        )
        monkeypatch.setenv("TWITTER_BEARER_TOKEN", fake.app_token())
        fake.slept = slept
        return fake

    def test_job_from_dataset_applies(self, fake, tmp_path, capsys):
        """A dataset's IDs are checked, results recorded with deadlines, and applied at once."""
        kept = fake.add_tweet("kept", author_id="9")
        gone = fake.add_tweet("gone", author_id="9")
        hidden = fake.add_tweet("protected", author_id="7")
        fake.delete_tweet(gone)
        fake.protect("7")
        dataset = tmp_path / "d.jsonl"
        dataset.write_text(
            "".join(
                json.dumps({"id": t, "text": "x", "author_id": a}) + "\n"
                for t, a in ((kept, "9"), (gone, "9"), (hidden, "7"))
            )
        )
        url = f"sqlite:///{tmp_path / 'c.db'}"
        code, out, err = run(
            "compliance", "job", "--dataset", str(dataset), "--apply", str(dataset),
            "--compliance-db", url, "--interval", "20", "--format", "json", capsys=capsys,
        )  # fmt: skip
        assert 0 == code, err
        record = json.loads(out)
        assert (3, 2, 2) == (record["uploaded"], record["results"], record["events_new"])
        assert 2 == record["applied"]["events"]
        assert "compliance job: in_progress after 20 s" in err
        assert [20, 30, 45] == fake.slept[:3]
        assert [kept] == [json.loads(line)["id"] for line in dataset.read_text().splitlines()]
        with open_compliance(url) as ledger:
            assert {"applied"} == {s.state for s in ledger.status()}

    def test_job_from_ids_text(self, fake, tmp_path, capsys):
        """A file of IDs; the text report; nothing applied without --apply."""
        gone = fake.add_tweet("gone", author_id="9")
        fake.delete_tweet(gone)
        ids = tmp_path / "ids.txt"
        ids.write_text(f"{gone}\n\n{gone}\n")
        url = f"sqlite:///{tmp_path / 'c.db'}"
        code, out, _ = run(
            "compliance", "job", "--ids", str(ids), "--compliance-db", url, capsys=capsys
        )
        assert 0 == code
        assert "1 ID(s) checked, 1 result(s); recorded 1 new event(s)" in out
        code, out, _ = run("compliance", "status", "--compliance-db", url, capsys=capsys)
        assert out.startswith("1 pending")

    def test_job_usage_errors(self, fake, tmp_path, capsys, monkeypatch):
        """Bad or missing inputs and credentials are usage errors that name the fix."""
        url = f"sqlite:///{tmp_path / 'c.db'}"
        ids = tmp_path / "ids.txt"
        ids.write_text("12\nabc\n")
        base = ("compliance", "job", "--compliance-db", url)
        assert 2 == run(*base, capsys=capsys)[0]
        code, _, err = run(*base, "--ids", str(ids), capsys=capsys)
        assert (2, True) == (code, "line 2: not an ID" in err)
        assert 2 == run(*base, "--ids", str(tmp_path / "none"), capsys=capsys)[0]
        assert 2 == run(*base, "--ids", str(ids), "--out", "x", capsys=capsys)[0]
        ids.write_text("12\n")
        assert 2 == run(*base, "--ids", str(ids), "--interval", "0", capsys=capsys)[0]
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"id": "1"}\nnot json\n')
        code, _, err = run(*base, "--dataset", str(bad), capsys=capsys)
        assert (2, True) == (code, "unreadable record" in err)
        code, _, err = run(
            *base, "--ids", str(ids), "--apply", str(tmp_path / "none"), capsys=capsys
        )
        assert 2 == code
        monkeypatch.delenv("TWITTER_BEARER_TOKEN")
        code, _, err = run(*base, "--ids", str(ids), capsys=capsys)
        assert (2, True) == (code, "TWITTER_BEARER_TOKEN" in err)

    def test_job_timeout_is_a_finding(self, fake, tmp_path, capsys):
        """A job that does not complete in time ends with exit 1 and records nothing."""
        ids = tmp_path / "ids.txt"
        ids.write_text("12\n")
        url = f"sqlite:///{tmp_path / 'c.db'}"
        code, _, err = run(
            "compliance", "job", "--ids", str(ids), "--compliance-db", url,
            "--interval", "5", "--max-interval", "5", "--timeout", "30", capsys=capsys,
        )  # fmt: skip
        assert (1, True) == (code, "did not finish in time" in err)

    def test_stream_records_and_applies(self, fake, tmp_path, capsys):
        """Stream events are recorded once (backfill repeats too) and applied with --apply."""
        tweet = fake.add_tweet("gone", author_id="9")
        fake.delete_tweet(tweet)
        dataset = tmp_path / "d.jsonl"
        dataset.write_text(json.dumps({"id": tweet, "text": "x", "author_id": "9"}) + "\n")
        url = f"sqlite:///{tmp_path / 'c.db'}"
        argv = ("compliance", "stream", "--compliance-db", url, "--backfill-minutes", "5")
        code, out, _ = run(*argv, "--apply", str(dataset), capsys=capsys)
        assert 0 == code
        assert "recorded 1 new event(s) (0 already known" in out
        assert "" == dataset.read_text()
        code, out, _ = run(
            *argv, "--format", "json", "--start-time", "2029-12-31T23:00:00Z",
            "--end-time", "2030-01-01T01:00:00Z", "--partition", "1", "--partition", "2",
            "--partition", "3", "--partition", "4", capsys=capsys,
        )  # fmt: skip
        assert (0, 1, None) == (code, json.loads(out)["duplicates"], json.loads(out)["applied"])
        assert 2 == run(*argv, "--out", "x", capsys=capsys)[0]

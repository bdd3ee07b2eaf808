"""``twpolicy comply`` and ``twpolicy compliance status``."""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from twpolicy import ComplianceEvent, open_compliance
from twpolicy._cli._main import main

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

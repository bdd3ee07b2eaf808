"""``twpolicy dehydrate`` leaves out what the compliance ledger says is gone (I.C.3)."""

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy import ComplianceEvent, open_compliance
from twpolicy._cli._dehydrate import IdReader
from twpolicy._cli._main import main
from twpolicy._enforce._compliance import ExportTombstones, clean_record
from twpolicy._stores._compliance import Snapshot

# A v2 response page (read by the fast ID path) and flat Tweets (read by the walker).
PAGE = {
    "data": [
        {"id": "101", "text": "deleted on X", "author_id": "9"},
        {"id": "102", "text": "kept", "author_id": "9"},
        {"id": "103", "text": "by a protected user", "author_id": "7"},
        {
            "id": "104",
            "text": "RT deleted",
            "author_id": "9",
            "referenced_tweets": [{"type": "retweeted", "id": "101"}],
        },
    ],
    "includes": {"users": [{"id": "9", "username": "nine"}, {"id": "7", "username": "seven"}]},
}
FLAT = [
    {"id": "105", "text": "kept too", "author_id": "9"},
    {"id": "106", "text": "protected again", "author_id": "7"},
]


def run(*argv, capsys):
    out = io.StringIO()
    code = main(["dehydrate", *map(str, argv)], out=out)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture(autouse=True)
def _no_variables(monkeypatch):
    """No store or requirement from the environment unless a test sets it."""
    monkeypatch.delenv("TWPOLICY_COMPLIANCE_DB", raising=False)
    monkeypatch.delenv("TWPOLICY_REQUIRE_COMPLIANCE", raising=False)


@pytest.fixture(name="files")
def _files(tmp_path):
    """A dataset, and a ledger that knows 101 deleted and user 7 protected."""
    dataset = tmp_path / "data.jsonl"
    dataset.write_text("".join(json.dumps(r) + "\n" for r in [PAGE, *FLAT]))
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with open_compliance(url) as ledger:
        ledger.record(
            [
                ComplianceEvent(type="tweet_delete", object_id="101"),
                ComplianceEvent(type="user_protect", object_id="7"),
            ]
        )
    return dataset, url, tmp_path / "ids.txt"


class TestDehydrate:
    def test_leaves_out_what_is_gone(self, files, capsys):
        """Deleted Tweets, retweets of them and a protected user's Tweets are not written."""
        dataset, url, out = files
        code, _, err = run(dataset, out, "--compliance-db", url, capsys=capsys)
        assert 0 == code
        assert ["102", "105"] == out.read_text().split()
        assert "2 unique Tweet IDs from 3 records" in err
        assert "4 gone IDs left out (compliance)" in err

    def test_users_and_environment(self, files, capsys, monkeypatch):
        """User IDs too; the ledger may come from the environment; JSON says what was left out."""
        dataset, url, out = files
        monkeypatch.setenv("TWPOLICY_COMPLIANCE_DB", url)
        code, _, err = run(dataset, out, "--kind", "users", "--format", "json", capsys=capsys)
        assert (0, ["9"]) == (code, out.read_text().split())
        summary = json.loads(err)
        assert (True, 1) == (summary["compliance_checked"], summary["gone_left_out"])

    def test_opt_out_is_explicit(self, files, capsys, monkeypatch):
        """Only --no-compliance skips a configured ledger, and the summary says it was skipped."""
        dataset, url, out = files
        monkeypatch.setenv("TWPOLICY_COMPLIANCE_DB", url)
        code, _, err = run(dataset, out, "--no-compliance", capsys=capsys)
        assert 0 == code
        assert 6 == len(out.read_text().split())
        assert "not checked against a compliance ledger" in err
        code, _, err = run(dataset, out, "--no-compliance", "--compliance-db", url, capsys=capsys)
        assert (2, True) == (code, "contradict" in err)

    def test_required_ledger_fails_closed(self, files, capsys, monkeypatch):
        """With compliance required and no ledger, nothing is written and the fix is named."""
        dataset, _, out = files
        code, _, err = run(dataset, out, "--require-compliance", capsys=capsys)
        assert (3, False) == (code, out.exists())
        assert "--compliance-db URL" in err
        monkeypatch.setenv("TWPOLICY_REQUIRE_COMPLIANCE", "1")
        assert 3 == run(dataset, out, capsys=capsys)[0]

    def test_missing_ledger_is_refused(self, files, capsys):
        """A ledger URL that names nothing is an error, not an empty ledger."""
        dataset, _, out = files
        code, _, _ = run(
            dataset, out, "--compliance-db", f"sqlite:///{out.parent / 'no.db'}", capsys=capsys
        )
        assert (3, False) == (code, out.exists())

    def test_empty_ledger_changes_nothing(self, files, tmp_path, capsys):
        """An empty ledger leaves every ID in."""
        dataset, _, out = files
        url = f"sqlite:///{tmp_path / 'empty.db'}"
        open_compliance(url).close()
        code, _, err = run(dataset, out, "--compliance-db", url, capsys=capsys)
        assert (0, 6) == (code, len(out.read_text().split()))
        assert "0 gone IDs left out" in err


class TestExportTombstones:
    def test_plain_ids(self):
        """A list of IDs loses the ones gone by ID."""
        snapshot = Snapshot(
            tweets={"1": "k"}, users={}, dms={}, scrub_geo={}, tweet_geo={}, reversible=frozenset()
        )
        tombstones = ExportTombstones(snapshot, "tweets")
        assert ["2"] == tombstones.ids(["1", "2"])
        assert {"1"} == tombstones.dropped
        assert "1 gone" in repr(tombstones)

    def test_bad_ids_are_reported_as_before(self, tmp_path):
        """A record with an ID that cannot be trusted is skipped and reported, not let through."""
        with open_compliance("memory://") as ledger:
            ledger.record([ComplianceEvent(type="tweet_delete", object_id="1")])
            tombstones = ExportTombstones.from_ledger(ledger, "tweets")
        errors = []
        reader = IdReader("tweets", tombstones=tombstones, on_error=lambda n, e: errors.append(e))
        data = io.BytesIO(b'{"id": "1", "text": "x"}\n{"id": 1.5, "text": "1"}\n')
        assert [] == list(reader.new_ids(data))
        assert 1 == len(errors)


IDS = st.sampled_from([str(n) for n in range(1, 9)])
REFERENCES = st.lists(
    st.fixed_dictionaries({"type": st.sampled_from(["retweeted", "quoted"]), "id": IDS}),
    max_size=2,
)


def _tweet(tweet_id: str, references: list[dict[str, str]] | None) -> dict[str, object]:
    # A Tweet has one author wherever it appears: the author follows from the ID (data in
    # which one Tweet has two authors cannot come from the API).
    tweet: dict[str, object] = {"id": tweet_id, "author_id": str(int(tweet_id) * 5 % 8 + 1)}
    tweet["text"] = "t"
    if references is not None:
        tweet["referenced_tweets"] = references
    return tweet


TWEET = st.builds(_tweet, IDS, st.none() | REFERENCES)
RECORD = st.one_of(TWEET, st.fixed_dictionaries({"data": st.lists(TWEET, min_size=1, max_size=3)}))


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    records=st.lists(RECORD, min_size=1, max_size=5),
    deleted=st.sets(IDS, max_size=3),
    protected=st.sets(IDS, max_size=2),
)
def test_no_gone_id_is_written(records, deleted, protected):
    """Whatever the dataset, no ID the ledger removes is written, and the rest is as cleaned."""
    with open_compliance("memory://") as ledger:
        ledger.record(
            [ComplianceEvent(type="tweet_delete", object_id=i) for i in deleted]
            + [ComplianceEvent(type="user_protect", object_id=i) for i in protected]
        )
        snapshot = ledger.snapshot()
    reader = IdReader("tweets", tombstones=ExportTombstones(snapshot, "tweets"))
    data = io.BytesIO(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    written = [i for batch in reader.new_ids(data) for i in batch]
    assert set() == set(written) & deleted
    expected = set()
    for record in records:
        cleaned, _ = clean_record(json.loads(json.dumps(record)), snapshot)
        expected |= set(twpolicy.dehydrate(cleaned)) - deleted if cleaned is not None else set()
    assert expected >= set(written)
    # A protected user's Tweet is recognised where a record carries it with its author: it
    # is written only if a record before that named it without its author.
    for index, record in enumerate(records):
        for tweet in record.get("data", [record]):
            if tweet["author_id"] in protected and tweet["id"] in written:
                earlier = [json.dumps(r) for r in records[:index]]
                assert any(f'"id": "{tweet["id"]}"' in text for text in earlier)

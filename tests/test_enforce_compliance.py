"""Appliers: the ledger's tombstones carried into datasets, tables, mappings, callbacks."""

from __future__ import annotations

import gzip
import io
import json
import signal
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy import (
    ComplianceEvent,
    JsonLinesApplier,
    MappingApplier,
    apply_compliance,
    compliance_events,
    open_compliance,
)
from twpolicy._enforce import _compliance as _enforce_compliance
from twpolicy._enforce._compliance import _Wanted, attempt_outcomes, clean_record
from twpolicy._payloads import _chunks
from twpolicy._payloads._walker import Kind, walk
from twpolicy._stores._compliance import Snapshot

HERE = Path(__file__).resolve().parent
DATA = "DocNow+twarc-csv/test-data"

# Events about objects of the corpus dataset, from every source.
RETWEETED = "1391677057810288641"  # retweeted by 1394735776701816833 (two_tweets.jsonl)
QUOTED = "1576994746135764992"  # quoted by 1576995594388000768 (quoted_edit.jsonl)
PROTECTED_USER = "1494167419413094401"  # author in quoted_edit.jsonl
SUSPENDED_USER = "2718660392"  # author of a Tweet retweeted in flat.jsonl line 1
SCRUBBED_USER, SCRUB_UP_TO = "2344192110", "1249702384659554308"  # geo_tweets.jsonl line 1
PLACE_USER, PLACE_UP_TO = "495430242", "1501963039859363843"  # geo_tweets.jsonl line 2

STREAM_V1 = [
    {"delete": {"status": {"id_str": RETWEETED, "user_id_str": "1"}}},
    {"scrub_geo": {"user_id_str": SCRUBBED_USER, "up_to_status_id_str": SCRUB_UP_TO}},
]
STREAM_V2 = [
    {
        "data": {
            "user_protect": {"user": {"id": PROTECTED_USER}, "event_at": "2022-10-01T00:00:00.000Z"}
        }
    },
    {
        "data": {
            "scrub_geo": {
                "user": {"id": PLACE_USER},
                "up_to_tweet_id": PLACE_UP_TO,
                "event_at": "2022-10-01T00:00:00.000Z",
            }
        }
    },
]
JOB_TWEETS = [
    {
        "id": QUOTED,
        "action": "delete",
        "created_at": "2022-10-01T00:00:00.000Z",
        "redacted_at": "2022-10-02T00:00:00.000Z",
        "reason": "deleted",
    }
]
JOB_USERS = [{"id": SUSPENDED_USER, "action": "delete", "created_at": "2014-08-09T05:17:14.000Z",
              "reason": "suspended"}]  # fmt: skip


def corpus_lines(corpus: Path) -> list[str]:
    lines = []
    for name in ("geo_tweets.jsonl", "two_tweets.jsonl", "quoted_edit.jsonl"):
        lines += [line for line in (corpus / DATA / name).read_text().splitlines() if line]
    with (corpus / DATA / "flat.jsonl").open() as handle:
        lines += [next(handle).rstrip("\n") for _ in range(5)]
    return lines


def corpus_dataset(corpus: Path, path: Path, *, compress: bool = False) -> list[str]:
    lines = corpus_lines(corpus)
    text = "\n".join(lines) + "\n"
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return lines


def all_events() -> list[ComplianceEvent]:
    events = [e for m in [*STREAM_V1, *STREAM_V2, *JOB_TWEETS] for e in compliance_events(m)]
    events += [e for m in JOB_USERS for e in compliance_events(m, job_type="users")]
    return events


def read(path: Path) -> list[dict]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return [json.loads(line) for line in raw.decode().splitlines() if line.strip()]


def tweets_and_users(records):
    """Every Tweet (ID, author) and every user ID anywhere in the records."""
    tweets, users = [], set()
    for record in records:
        for node in walk(record):
            if node.kind in {Kind.TWEET_V1, Kind.TWEET_V2, Kind.TWEET_FLAT}:
                author = node.value.get("author_id") or (node.value.get("author") or {}).get("id")
                tweets.append((node.read_id().value, author, node.value))
            elif node.kind in {Kind.USER_V1, Kind.USER_V2}:
                users.add(node.read_id().value)
    return tweets, users


@pytest.fixture(name="ledger")
def _ledger(tmp_path):
    ledger = open_compliance(f"sqlite:///{tmp_path / 'compliance.db'}")
    yield ledger
    ledger.close()


class TestEndToEnd:
    @pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
    def test_nothing_gone_remains(self, corpus, tmp_path, ledger, compress):
        """After applying: no deleted, protected or suspended content; scrubbed Tweets lose
        their location; everything else is byte for byte as it was."""
        dataset = tmp_path / ("data.jsonl.gz" if compress else "data.jsonl")
        original = corpus_dataset(corpus, dataset, compress=compress)
        before_tweets, _ = tweets_and_users(json.loads(line) for line in original)
        assert {RETWEETED, QUOTED} <= {t for t, _, _ in before_tweets}
        ledger.record(all_events())
        report = apply_compliance(ledger, JsonLinesApplier(dataset))
        assert report.events == 6
        assert (dataset.read_bytes()[:2] == b"\x1f\x8b") is compress
        records = read(dataset)
        tweets, users = tweets_and_users(records)
        ids = {t for t, _, _ in tweets}
        assert RETWEETED not in ids
        assert "1394735776701816833" not in ids  # its retweet
        assert QUOTED not in ids
        assert all(a not in {PROTECTED_USER, SUSPENDED_USER} for _, a, _ in tweets)
        assert not users & {PROTECTED_USER, SUSPENDED_USER}
        for _, _, tweet in tweets:  # no reference to a removed Tweet either
            refs = {r["id"] for r in tweet.get("referenced_tweets") or ()}
            assert not refs & {RETWEETED, QUOTED}
        scrubbed = [t for t_id, a, t in tweets if a in {SCRUBBED_USER, PLACE_USER}]
        assert len(scrubbed) == 2
        assert all("geo" not in t for t in scrubbed)
        assert all(not r.get("includes", {}).get("places") for r in records)
        affected = (RETWEETED, QUOTED, PROTECTED_USER, SUSPENDED_USER, SCRUBBED_USER, PLACE_USER)
        kept = [line for line in original if not any(i in line for i in affected)]
        assert kept
        text = dataset.read_bytes()
        text = gzip.decompress(text) if compress else text
        for line in kept:
            assert line.encode() + b"\n" in text

    def test_applying_twice_changes_nothing(self, corpus, tmp_path, ledger):
        """A second apply finds nothing pending and leaves the file untouched."""
        dataset = tmp_path / "data.jsonl"
        corpus_dataset(corpus, dataset)
        ledger.record(all_events())
        apply_compliance(ledger, JsonLinesApplier(dataset))
        after = dataset.read_bytes()
        stat = dataset.stat()
        ledger.record(all_events())  # backfill: the same events again
        report = apply_compliance(ledger, JsonLinesApplier(dataset))
        assert (report.events, report.attempt_id) == (0, None)
        assert dataset.read_bytes() == after
        assert dataset.stat().st_mtime_ns == stat.st_mtime_ns

    def test_reapplying_the_snapshot_is_idempotent(self, corpus, tmp_path, ledger):
        """Cleaning an already clean dataset (a new target) rewrites the same bytes."""
        dataset, copy = tmp_path / "data.jsonl", tmp_path / "copy.jsonl"
        corpus_dataset(corpus, dataset)
        ledger.record(all_events())
        apply_compliance(ledger, JsonLinesApplier(dataset))
        apply_compliance(ledger, JsonLinesApplier(dataset, out=copy))
        assert copy.read_bytes() == dataset.read_bytes()

    def test_out_leaves_the_input(self, corpus, tmp_path, ledger):
        """With ``out`` the input is left as it was."""
        dataset, out = tmp_path / "data.jsonl", tmp_path / "out.jsonl"
        corpus_dataset(corpus, dataset)
        before = dataset.read_bytes()
        ledger.record(all_events())
        apply_compliance(ledger, JsonLinesApplier(dataset, out=out))
        assert dataset.read_bytes() == before
        assert len(read(out)) == len(read(dataset)) - 1

    def test_ledger_says_where_and_how_much(self, corpus, tmp_path, ledger):
        """Every event is recorded as applied to the dataset, with the objects it changed."""
        dataset = tmp_path / "data.jsonl"
        corpus_dataset(corpus, dataset)
        ledger.record(all_events())
        apply_compliance(ledger, JsonLinesApplier(dataset))
        states = {s.event.type.value: s for s in ledger.status()}
        assert {s.state for s in states.values()} == {"applied"}
        target = f"file:{dataset.resolve()}"
        assert states["tweet_delete"].applied[0].target == target
        assert states["user_protect"].applied[0].changed == 3
        assert states["scrub_geo"].applied[0].changed == 1

    def test_protected_content_is_eligible_again_only_after_unprotect(self, corpus, tmp_path):
        """Unprotect reverses the removal; the rule still wants a copy fetched afterwards."""
        now = datetime(2030, 1, 1, tzinfo=timezone.utc)
        ledger = open_compliance("memory://", clock=lambda: now)
        dataset = tmp_path / "data.jsonl"
        corpus_dataset(corpus, dataset)
        ledger.record(all_events())
        apply_compliance(ledger, JsonLinesApplier(dataset))
        withdrawn = dataset.with_name("data.jsonl.withdrawn.jsonl").read_text().splitlines()
        assert {json.loads(line)["id"] for line in withdrawn} >= {PROTECTED_USER}
        ledger.record(compliance_events({"data": {"user_unprotect": {
            "user": {"id": PROTECTED_USER}, "event_at": "2029-12-31T00:00:00.000Z"}}}))  # fmt: skip
        guard = twpolicy.Guard(compliance=ledger, clock=lambda: now)
        tweet = {"id": "5", "text": "back", "author_id": PROTECTED_USER}
        with pytest.raises(twpolicy.ContentUnavailable, match="fetched afterwards"):
            twpolicy.displayable(tweet, fetched_at=now - timedelta(minutes=1), guard=guard)
        later = now + timedelta(minutes=5)
        guard = twpolicy.Guard(compliance=ledger, clock=lambda: later)
        assert twpolicy.displayable(tweet, fetched_at=later, guard=guard) is tweet


class TestCrash:
    def _worker(self, mode, url, dataset):
        return subprocess.Popen(
            [sys.executable, str(HERE / "compliance_worker.py"), mode, url, str(dataset)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    @pytest.mark.parametrize("case", [("stop-written", "old"), ("stop-replaced", "new")])
    @pytest.mark.parametrize(
        "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
    )
    def test_kill_leaves_old_or_new_and_the_ledger_says_which(
        self, corpus, tmp_path, case, backend, url_for
    ):
        """SIGKILL before or after the replacement: never half a file; recovery settles it."""
        mode, in_place = case
        url = url_for(backend)
        dataset = tmp_path / "data.jsonl"
        corpus_dataset(corpus, dataset)
        old = dataset.read_bytes()
        with open_compliance(url) as ledger:
            ledger.record(all_events())
        worker = self._worker(mode, url, dataset)
        assert worker.stdout.readline().strip() == "ready"
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        worker.stdin.close()
        worker.stdout.close()
        with open_compliance(url) as ledger:
            (outcome,) = attempt_outcomes(ledger)
            assert outcome["in_place"] == in_place
            assert (dataset.read_bytes() == old) is (in_place == "old")
            pending = ledger.pending(f"file:{dataset.resolve()}")
            assert len(pending) == 6  # not recorded as applied: the ledger did not finish
            report = apply_compliance(ledger, JsonLinesApplier(dataset))
            assert attempt_outcomes(ledger) == []
            assert ledger.pending(f"file:{dataset.resolve()}") == []
            # Recovery finished the interrupted attempt (new) or applied afresh (old).
            assert (report.events == 6) is (in_place == "old")
        assert not list(tmp_path.glob(".data.jsonl.*.tmp"))
        assert RETWEETED not in dataset.read_text()


class TestWorkers:
    @pytest.mark.parametrize(
        "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
    )
    def test_two_workers_apply_each_event_once(self, tmp_path, url_for, backend):
        """Two processes applying the same events through one ledger: each event once."""
        url = url_for(backend)
        log = tmp_path / "applied.log"
        events = [ComplianceEvent(type="tweet_delete", object_id=str(n)) for n in range(200)]
        with open_compliance(url) as ledger:
            ledger.record(events)
        workers = [
            subprocess.Popen(
                [sys.executable, str(HERE / "compliance_worker.py"), "callback", url, str(log)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for worker in workers:
            assert worker.stdout.readline().strip() == "waiting"
        for worker in workers:
            worker.stdin.write("go\n")
            worker.stdin.flush()
        counts = [int(worker.communicate()[0].strip()) for worker in workers]
        assert sum(counts) == 200
        keys = [line.split()[1] for line in log.read_text().splitlines()]
        assert sorted(keys) == sorted(e.key for e in events)

    def test_two_workers_on_one_dataset(self, corpus, tmp_path):
        """Two processes applying to one dataset: one applies, the other finds it done."""
        url = f"sqlite:///{tmp_path / 'compliance.db'}"
        dataset = tmp_path / "data.jsonl"
        corpus_dataset(corpus, dataset)
        with open_compliance(url) as ledger:
            ledger.record(all_events())
        workers = [
            subprocess.Popen(
                [sys.executable, str(HERE / "compliance_worker.py"), "apply", url, str(dataset)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        counts = sorted(int(w.communicate()[0].strip()) for w in workers)
        assert counts == [0, 6]
        assert RETWEETED not in dataset.read_text()


class TestOtherAppliers:
    def test_mapping(self, ledger):
        """A mapping of stored objects: gone values dropped, others cleaned in place."""
        store = {
            "1": {"id": "1", "text": "a", "author_id": "9"},
            "2": {"id": "2", "text": "b", "author_id": "8", "geo": {"place_id": "p"}},
            "3": {"id": "3", "text": "c", "author_id": "7"},
        }
        ledger.record(
            [
                ComplianceEvent(type="tweet_delete", object_id="1"),
                ComplianceEvent(type="scrub_geo", object_id="8"),
                ComplianceEvent(type="user_suspend", object_id="7"),
            ]
        )
        report = apply_compliance(ledger, MappingApplier(store, target="cache"))
        assert report.events == 3
        assert store == {"2": {"id": "2", "text": "b", "author_id": "8"}}

    def test_sqlite_table(self, tmp_path, ledger):
        """A table: rows of removed Tweets and authors deleted, scrubbed rows' location nulled."""
        path = tmp_path / "app.db"
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE tweets (id TEXT, author TEXT, lat REAL, lon REAL)")
            db.executemany(
                "INSERT INTO tweets VALUES (?, ?, ?, ?)",
                [("1", "9", 1.0, 2.0), ("2", "8", 3.0, 4.0), ("30", "8", 5.0, 6.0),
                 ("4", "7", None, None), ("5", "6", 7.0, 8.0)],
            )  # fmt: skip
        db.close()
        ledger.record(
            [
                ComplianceEvent(type="tweet_delete", object_id="1"),
                ComplianceEvent(type="scrub_geo", object_id="8", up_to_tweet_id="10"),
                ComplianceEvent(type="user_protect", object_id="7"),
            ]
        )
        applier = twpolicy.SqliteTableApplier(
            path, table="tweets", author_column="author", geo_columns=["lat", "lon"]
        )
        apply_compliance(ledger, applier)
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT * FROM tweets ORDER BY id").fetchall()
        db.close()
        assert rows == [("2", "8", None, None), ("30", "8", 5.0, 6.0), ("5", "6", 7.0, 8.0)]

    def test_sqlite_table_refuses_odd_names(self, tmp_path):
        """Names are interpolated into SQL: only plain identifiers."""
        with pytest.raises(twpolicy.ConfigurationError, match="identifier"):
            twpolicy.SqliteTableApplier(tmp_path / "x.db", table="t; DROP TABLE x")

    def test_callback_failure_leaves_events_pending(self, ledger):
        """A callback that raises abandons the attempt: the events are pending again."""
        ledger.record([ComplianceEvent(type="tweet_delete", object_id="1")])

        def boom(event):
            raise RuntimeError(event.key)

        with pytest.raises(RuntimeError):
            apply_compliance(ledger, twpolicy.CallbackApplier(boom, target="index"))
        assert ledger.pending("index") == ["tweet_delete:1"]
        seen = []
        apply_compliance(
            ledger, twpolicy.CallbackApplier(lambda e: seen.append(e.key) or 1, target="index")
        )
        assert seen == ["tweet_delete:1"]

    def test_lines_without_affected_ids_are_copied_unparsed(self, tmp_path, ledger):
        """Only lines that hold an affected ID are parsed; digits escaped in JSON count."""
        dataset = tmp_path / "data.jsonl"
        dataset.write_text(
            "no JSON, and no ID of interest: 2 3\n"
            '{"id": "\\u0031", "text": "deleted, ID escaped", "author_id": "2"}\n'
            '{"id": "4", "text": "kept", "author_id": "2"}\n'
        )
        ledger.record([ComplianceEvent(type="tweet_delete", object_id="1")])
        report = apply_compliance(ledger, JsonLinesApplier(dataset))
        assert report.records_dropped == 1
        assert dataset.read_text().splitlines() == [
            "no JSON, and no ID of interest: 2 3",
            '{"id": "4", "text": "kept", "author_id": "2"}',
        ]

    def test_unreadable_line_changes_nothing(self, tmp_path, ledger):
        """A line that is not JSON cannot be checked: refused, the dataset untouched."""
        dataset = tmp_path / "data.jsonl"
        dataset.write_text('{"id": "1", "text": "a", "author_id": "2"}\n{"id": "1", not json\n')
        ledger.record([ComplianceEvent(type="tweet_delete", object_id="1")])
        with pytest.raises(twpolicy.PayloadError, match="line 2"):
            apply_compliance(ledger, JsonLinesApplier(dataset))
        assert "not json" in dataset.read_text()
        assert dataset.read_text().startswith('{"id": "1"')
        assert ledger.pending(f"file:{dataset.resolve()}") == ["tweet_delete:1"]


class TestProperties:
    # The corpus fixture is a path, the same for every example.
    @settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def test_cleaning_removes_every_tombstone_and_is_idempotent(self, corpus, data):
        """Any set of deleted Tweets and removed users: none is left, and a second clean
        changes nothing."""
        lines = corpus_lines(corpus)
        records = [json.loads(line) for line in lines]
        tweet_ids = sorted(twpolicy.dehydrate(records))
        user_ids = sorted(twpolicy.dehydrate(records, kind="users"))
        gone_tweets = data.draw(st.sets(st.sampled_from(tweet_ids), max_size=6))
        gone_users = data.draw(st.sets(st.sampled_from(user_ids), max_size=3))
        ledger = open_compliance("memory://")
        ledger.record(
            [ComplianceEvent(type="tweet_delete", object_id=t) for t in gone_tweets]
            + [ComplianceEvent(type="user_suspend", object_id=u) for u in gone_users]
        )
        snapshot = ledger.snapshot()
        cleaned = []
        for record in records:
            value, _ = clean_record(record, snapshot)
            if value is not None:
                cleaned.append(value)
        tweets, users = tweets_and_users(cleaned)
        assert not {t for t, _, _ in tweets} & gone_tweets
        assert not {a for _, a, _ in tweets} & gone_users
        assert not users & gone_users
        again = json.loads(json.dumps(cleaned))
        assert all(clean_record(r, snapshot) == (r, False) for r in again)


class TestRewriteDetails:
    """The rewrite's fast paths and their fallbacks."""

    def test_fallback_parser_and_writer(self):
        """What msgspec refuses (a huge integer) is read and written by the standard module."""
        huge = b'{"id": "1", "n": 123456789012345678901234567890}'
        assert 123456789012345678901234567890 == _enforce_compliance._loads(huge)["n"]
        assert b'{"n":123456789012345678901234567890}' == _enforce_compliance._dumps(
            {"n": 123456789012345678901234567890}
        )

    def test_blank_lines_blocks_and_short_ids(self, tmp_path, ledger, monkeypatch):
        """Blank lines stay, output is written in blocks, and short wanted IDs are found."""
        monkeypatch.setattr(_enforce_compliance, "_BLOCK", 10)
        dataset = tmp_path / "d.jsonl"
        dataset.write_bytes(b'{"id": "7", "text": "x"}\n\n{"id": "70", "text": "y"}')
        ledger.record([ComplianceEvent(type="tweet_delete", object_id="7")])
        apply_compliance(ledger, JsonLinesApplier(dataset))
        assert b'\n{"id": "70", "text": "y"}\n' == dataset.read_bytes()

    def test_a_failed_write_is_raised_where_written(self):
        """The writer thread's error reaches the applier, at its next write or at the end."""

        class Full(io.BytesIO):
            def write(self, data):
                raise OSError(28, "No space left on device")

        writer = _enforce_compliance._HashingWriter(Full())
        writer.write(b"x")
        writer.close()
        writer.close()  # once is enough
        with pytest.raises(OSError, match="No space"):
            writer.check()
        with pytest.raises(OSError, match="No space"):
            writer.write(b"y")

    def test_wanted_grows(self):
        """Wanting a shorter ID widens the digit runs looked at."""
        snapshot = Snapshot(
            tweets={"12345": "k"}, users={}, dms={}, scrub_geo={}, tweet_geo={},
            reversible=frozenset(),
        )  # fmt: skip
        wanted = _Wanted(snapshot)
        assert (True, 1) == (bool(wanted), len(wanted))
        assert not wanted.may_hold(b'{"id": "12"}')
        wanted.add("12")
        wanted.add("123")
        assert wanted.may_hold(b'{"id": "12"}')

    def test_wanted_joins_a_ledgers_deletions_and_the_rest(self, ledger):
        """The snapshot's deletions (held apart) and its other IDs are all wanted."""
        ledger.record(
            [
                ComplianceEvent(type="tweet_delete", object_id="11"),
                ComplianceEvent(type="tweet_withheld", object_id="12", countries=("DE",)),
                ComplianceEvent(type="user_suspend", object_id="11"),
            ]
        )
        wanted = _Wanted(ledger.snapshot())
        assert 2 == len(wanted)
        assert [True, True, False] == [
            wanted.may_hold(b'{"id": "%s"}' % n) for n in (b"11", b"12", b"13")
        ]

    def test_the_digit_test_comes_first_while_few_bytes_hold_an_affected_id(self, monkeypatch):
        """Over the first bytes, and while under two thirds of them held an affected ID."""
        monkeypatch.setattr(_enforce_compliance, "_WARM", 100)
        snapshot = Snapshot(
            tweets={"12345": "k"}, users={}, dms={}, scrub_geo={}, tweet_geo={},
            reversible=frozenset(),
        )  # fmt: skip
        wanted = _Wanted(snapshot)
        decided = []
        for seen, held in ((0, 0), (99, 99), (300, 199), (300, 200), (300, 300)):
            wanted.seen, wanted.held = seen, held
            decided.append(wanted.filter_first())
        assert decided == [True, True, True, False, False]

    def test_a_worker_makes_its_wanted_ids_once(self, ledger):
        """A worker keeps one `_Wanted` (a copy of every ID) for all its chunks."""
        ledger.record([ComplianceEvent(type="tweet_delete", object_id="11")])
        _enforce_compliance._receive(ledger.snapshot())
        line = b'{"id": "11", "text": "a"}\n{"id": "12", "text": "b"}\n'
        made = []
        for _ in range(2):
            cleaned = _enforce_compliance._clean_chunk(_chunks.Chunk(line, more=False))
            assert (cleaned.edits, cleaned.read, cleaned.dropped) == ([(0, 26, b"")], 2, 1)
            made.append(list(_enforce_compliance._wanted))
        assert len(made[0]) == 1
        assert made[0] == made[1]
        assert made[0][0].seen == 2 * len(line)
        _enforce_compliance._receive(ledger.snapshot())
        assert not _enforce_compliance._wanted


class TestJobs:
    """A large plain dataset cleaned by several processes: what one process writes."""

    def test_jobs_are_checked(self, tmp_path):
        dataset = tmp_path / "d.jsonl"
        dataset.write_text("{}\n")
        with pytest.raises(twpolicy.ConfigurationError, match="jobs=0"):
            JsonLinesApplier(dataset, jobs=0)
        applier = JsonLinesApplier(dataset, jobs=None)
        assert applier.jobs == _enforce_compliance.default_jobs()
        assert f"jobs={applier.jobs}" in repr(applier)

    def test_chunks_write_what_one_process_writes(self, corpus, tmp_path, monkeypatch):
        monkeypatch.setattr(_chunks, "MIN_CHUNK", 4 * 1024)
        dataset = tmp_path / "data.jsonl"
        corpus_dataset(corpus, dataset)
        dataset.write_bytes(dataset.read_bytes() * 3)
        assert dataset.stat().st_size >= 4 * _chunks.MIN_CHUNK  # several chunks
        results = []
        for jobs in (1, 2):
            out = tmp_path / f"out-{jobs}.jsonl"
            with open_compliance(f"sqlite:///{tmp_path}/c{jobs}.db") as ledger:
                ledger.record(all_events())
                report = apply_compliance(ledger, JsonLinesApplier(dataset, out=out, jobs=jobs))
            withdrawn = out.with_name(f"{out.name}.withdrawn.jsonl")
            results.append(
                (
                    out.read_bytes(),
                    withdrawn.read_bytes(),
                    {
                        k: v
                        for k, v in report.to_dict().items()
                        if k not in ("attempt_id", "target")
                    },
                )
            )
        assert results[0] == results[1]
        assert results[0][2]["removed"] > 0


class TestEdits:
    """A worker of ``jobs`` sends back edits; spliced into its chunk they are `clean_lines`."""

    def test_edits_spliced_are_the_cleaned_lines(self, corpus):
        lines = corpus_lines(corpus)
        # A blank line, and a last line without its newline (both kept as one process keeps them).
        data = ("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:])).encode()
        ledger = open_compliance("memory://")
        ledger.record(all_events())
        snapshot = ledger.snapshot()
        whole: list[bytes] = []
        expected = _enforce_compliance.clean_lines(
            io.BytesIO(data), whole.append, snapshot, _enforce_compliance._Tally()
        )
        tally = _enforce_compliance._Tally()
        edits, read, dropped = _enforce_compliance.clean_edits(data, snapshot, tally)
        assert (read, dropped) == expected
        assert dropped > 0  # some lines go whole
        assert any(out and out != data[start:end] for start, end, out in edits)  # some change
        assert edits[-1][1] == len(data)  # the last line gets its newline
        assert b"".join(whole) == b"".join(_enforce_compliance.splice(data, 0, len(data), edits))
        # Spliced at an offset (a chunk of a file): the same bytes.
        padded = b"x" * 7 + data + b"y" * 5
        assert b"".join(whole) == b"".join(
            _enforce_compliance.splice(padded, 7, 7 + len(data), edits)
        )

    @given(
        st.lists(
            st.tuples(st.integers(0, 30), st.integers(0, 5), st.binary(max_size=3)), max_size=6
        )
    )
    def test_splice_replaces_exactly_the_edited_bytes(self, cuts):
        data = bytes(range(40))
        edits, at = [], 0
        for gap, length, replacement in cuts:
            start = min(at + gap, len(data))
            end = min(start + length, len(data))
            edits.append((start, end, replacement))
            at = end
        expected, at = b"", 0
        for start, end, replacement in edits:
            expected += data[at:start] + replacement
            at = end
        expected += data[at:]
        assert expected == b"".join(_enforce_compliance.splice(data, 0, len(data), edits))


class _Text(str):
    __slots__ = ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("123", "123"), ("12a", None), (True, None), (7, "7"), (_Text("45"), "45"), (1.5, None)],
)
def test_ids_are_read_as_the_walker_reads_them(value, expected):
    """An ID is a decimal string or an integer (not a boolean), whatever its class."""
    assert _enforce_compliance._id_of(value) == expected


@pytest.mark.parametrize(
    ("tweet", "expected"),
    [
        ({"author_id": "5"}, "5"),
        ({"user": {"id_str": "6"}, "author_id": "5"}, "6"),
        ({"actor": {"id": "id:twitter.com:8"}}, "8"),
        ({"user": "not an object", "author_id": "5"}, "5"),
        ({"user": {}, "author_id": 9}, "9"),
    ],
)
def test_a_tweet_s_author_is_read_from_its_object_or_its_author_id(tweet, expected):
    """The author object first (v1.1, activity streams), the ``author_id`` without one."""
    assert _enforce_compliance._author(tweet) == expected


def test_paths_inside_removed_ones_are_found_by_the_lengths_removed():
    """A path lies inside a removed one if a prefix of a removed length is removed."""
    under = _enforce_compliance._inside({("data", 1), ("includes", "tweets", 0)})
    assert under(("data", 1, "quoted"))
    assert not under(("data", 1))  # strictly inside only
    assert not under(("data", 2, "x"))
    assert under(("includes", "tweets", 0, "author"))
    assert not under(("meta",))

"""The decision log on disk (twpolicy.DecisionFile) and Action.from_record."""

import json
import multiprocessing
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from twpolicy import Action, ActionKind, DecisionFile, Guard

USER = "2244994945"


def post(**changes):
    fields = {
        "kind": ActionKind.API_CALL,
        "operation": "POST /2/tweets",
        "category": "write",
        "acting_user_id": USER,
        "scopes": {"tweet.write", "users.read"},
        "facts": {"media_count": 2, "reply_to": "1460323737035677698"},
    }
    fields.update(changes)
    return Action(**fields)


def guard(sink, mode="enforce"):
    return Guard(
        ledger=twpolicy.open_ledger("memory://"),
        quotas=twpolicy.open_quotas("memory://"),
        sinks=[sink],
        mode=mode,
    )


def lines(*paths):
    return [json.loads(line) for p in paths for line in Path(p).read_text().splitlines()]


class TestRecords:
    def test_a_record_carries_the_action_and_the_policy_version(self, tmp_path):
        log = DecisionFile(tmp_path / "decisions.jsonl")
        g = guard(log)
        decision = g.check(post(payload={"text": "SECRET PAYLOAD TEXT"}))
        (record,) = lines(tmp_path / "decisions.jsonl")
        assert decision.decision_id == record["decision_id"]
        assert g.policy_version == record["policy_version"]
        assert ["tweet.write", "users.read"] == record["scopes"]
        assert "write" == record["category"]
        assert {"media_count": 2, "reply_to": "1460323737035677698"} == record["facts"]
        assert "SECRET PAYLOAD TEXT" not in (tmp_path / "decisions.jsonl").read_text()

    def test_from_record_rebuilds_the_action_without_its_payload(self, tmp_path):
        action = post(content_sha256="ab" * 32, payload={"text": "x"})
        guard(DecisionFile(tmp_path / "d.jsonl")).check(action)
        (record,) = lines(tmp_path / "d.jsonl")
        rebuilt = Action.from_record(record)
        assert action == rebuilt  # payload is not compared...
        assert rebuilt.payload is None  # ...and never logged

    @given(
        kind=st.sampled_from(list(ActionKind)),
        user=st.none() | st.from_regex(r"[1-9][0-9]{0,18}", fullmatch=True),
        scopes=st.frozensets(st.sampled_from(sorted(twpolicy.SCOPES))),
        count=st.integers(0, 10**9),
        facts=st.dictionaries(
            st.text(min_size=1, max_size=8),
            st.none() | st.booleans() | st.integers() | st.text(max_size=8),
            max_size=4,
        ),
    )
    def test_every_action_survives_the_round_trip(self, kind, user, scopes, count, facts):
        action = Action(
            kind=kind,
            operation="op",
            acting_user_id=user,
            scopes=scopes,
            count=count,
            facts=facts,
        )
        g = Guard(ledger=twpolicy.open_ledger("memory://"), mode="monitor")
        record = json.loads(json.dumps(g.check(action).to_record()))
        assert action == Action.from_record(record)

    @pytest.mark.parametrize(
        "damage",
        [
            {"scopes": None},
            {"scopes": "tweet.write"},
            {"facts": {"nested": {"a": 1}}},
            {"count": "3"},
            {"action": "launch"},
            {"acting_user_id": 12},
        ],
    )
    def test_a_malformed_record_is_refused(self, damage, tmp_path):
        guard(DecisionFile(tmp_path / "d.jsonl")).check(post())
        (record,) = lines(tmp_path / "d.jsonl")
        with pytest.raises(ValueError):  # noqa: PT011  # any of several messages
            Action.from_record({**record, **damage})

    def test_a_decision_with_facts_and_no_outcomes_stays_hashable(self):
        decision = Guard(rules=[]).check(post())
        assert {"media_count": 2, "reply_to": "1460323737035677698"} == dict(decision.facts)
        assert {decision} == {decision}

    def test_an_old_record_without_scopes_cannot_be_replayed(self):
        with pytest.raises(ValueError, match="scopes"):
            Action.from_record({"action": "api_call", "operation": "GET /2/users/me"})


class TestRotation:
    def test_rotates_by_size_and_keeps_the_backups(self, tmp_path):
        path = tmp_path / "d.jsonl"
        log = DecisionFile(path, rotate_bytes=4000, backups=2)
        g = guard(log, mode="monitor")
        decisions = [g.check(post()) for _ in range(40)]
        files = [path, path.with_name("d.jsonl.1"), path.with_name("d.jsonl.2")]
        assert all(p.exists() for p in files)
        assert not path.with_name("d.jsonl.3").exists()
        for p in files:
            assert p.stat().st_size <= 4000
        kept = [r["decision_id"] for r in lines(*reversed(files))]
        # The newest decisions are kept, in order, oldest file first; older ones are dropped.
        assert [d.decision_id for d in decisions[-len(kept) :]] == kept
        assert len(kept) < len(decisions)

    def test_no_backups_starts_the_file_afresh(self, tmp_path):
        path = tmp_path / "d.jsonl"
        g = guard(DecisionFile(path, rotate_bytes=3000, backups=0), mode="monitor")
        for _ in range(20):
            g.check(post())
        assert [path.name, "d.jsonl.lock"] == sorted(p.name for p in tmp_path.iterdir())
        assert 0 < len(lines(path)) < 20

    def test_zero_never_rotates(self, tmp_path):
        path = tmp_path / "d.jsonl"
        g = guard(DecisionFile(path, rotate_bytes=0), mode="monitor")
        for _ in range(30):
            g.check(post())
        assert 30 == len(lines(path))
        assert [path] == list(tmp_path.iterdir())

    def test_a_record_larger_than_the_limit_is_still_written_whole(self, tmp_path):
        path = tmp_path / "d.jsonl"
        log = DecisionFile(path, rotate_bytes=10, backups=1)
        log.write({"n": 1, "pad": "x" * 100})
        log.write({"n": 2, "pad": "x" * 100})
        assert [2] == [r["n"] for r in lines(path)]
        assert [1] == [r["n"] for r in lines(path.with_name("d.jsonl.1"))]

    def test_negative_sizes_are_a_configuration_error(self, tmp_path):
        with pytest.raises(twpolicy.ConfigurationError, match="rotate_bytes"):
            DecisionFile(tmp_path / "d.jsonl", rotate_bytes=-1)

    def test_a_removed_file_is_created_again(self, tmp_path):
        path = tmp_path / "d.jsonl"
        log = DecisionFile(path, fsync=True)
        log.write({"n": 1})
        path.unlink()
        log.write({"n": 2})
        assert [{"n": 2}] == lines(path)
        log.close()


def _write_many(path, worker, count):
    log = DecisionFile(path, rotate_bytes=20_000, backups=1000)
    for n in range(count):
        log.write({"worker": worker, "n": n, "pad": "y" * (n % 50)})
    log.close()


class TestConcurrentWriters:
    def test_threads_never_interleave_or_lose_records(self, tmp_path):
        path = tmp_path / "d.jsonl"
        log = DecisionFile(path, rotate_bytes=20_000, backups=1000)
        barrier = threading.Barrier(4)

        def run(worker):
            barrier.wait()
            for n in range(300):
                log.write({"worker": worker, "n": n})

        threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        records = lines(*(p for p in tmp_path.iterdir() if not p.name.endswith(".lock")))
        assert sorted((w, n) for w in range(4) for n in range(300)) == sorted(
            (r["worker"], r["n"]) for r in records
        )

    @pytest.mark.slow
    def test_processes_never_interleave_or_lose_records(self, tmp_path):
        path = tmp_path / "d.jsonl"
        context = multiprocessing.get_context("spawn")
        workers = [context.Process(target=_write_many, args=(path, w, 400)) for w in range(4)]
        for p in workers:
            p.start()
        for p in workers:
            p.join()
        assert [0, 0, 0, 0] == [p.exitcode for p in workers]
        files = [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
        assert len(files) > 3  # it rotated while all four wrote
        records = lines(*files)  # every line parses: no torn or interleaved record
        assert sorted((w, n) for w in range(4) for n in range(400)) == sorted(
            (r["worker"], r["n"]) for r in records
        )
        for p in files:
            # A file is rotated before it would pass the limit; a writer that had not yet
            # seen a rotation may add a record or two to the renamed file.
            assert p.stat().st_size <= 20_000 + 4 * 200


class TestConfiguration:
    def test_decision_log_in_the_toml_file(self, tmp_path):
        config = tmp_path / "twpolicy.toml"
        config.write_text('[twpolicy]\nmode = "monitor"\ndecision_log = "logs/decisions.jsonl"\n')
        g = Guard.from_config(config)
        decision = g.check(post())
        (record,) = lines(tmp_path / "logs" / "decisions.jsonl")
        assert decision.decision_id == record["decision_id"]

    def test_sinks_given_replace_the_configured_log(self, tmp_path):
        config = tmp_path / "twpolicy.toml"
        config.write_text('[twpolicy]\ndecision_log = "decisions.jsonl"\n')
        Guard.from_config(config, sinks=()).check(post())
        assert not (tmp_path / "decisions.jsonl").exists()

    def test_decision_log_must_be_a_path(self, tmp_path):
        config = tmp_path / "twpolicy.toml"
        config.write_text("[twpolicy]\ndecision_log = 3\n")
        with pytest.raises(twpolicy.ConfigurationError, match="decision_log must be a str"):
            Guard.from_config(config)

"""Batch compliance jobs and compliance streams: the fake X API, and recording them."""

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests
import tweepy

import twpolicy
from twpolicy import ConfigurationError, PayloadError
from twpolicy._enforce import _compliance_jobs
from twpolicy._enforce._compliance_jobs import (
    PollPolicy,
    ingest_compliance_stream,
    run_compliance_job,
)
from twpolicy.exceptions import TwPolicyError
from twpolicy.testing import FakeXAPI

START = datetime(2030, 1, 1, tzinfo=timezone.utc)


class Clock:
    """A clock tests move by hand; its ``sleep`` moves it instead of waiting."""

    def __init__(self) -> None:
        self.now = START
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


@pytest.fixture(name="clock")
def _clock():
    """A hand-moved clock."""
    return Clock()


@pytest.fixture(name="fake")
def _fake(clock):
    """A fake X API on the hand-moved clock, with four tweets by two more users."""
    fake = FakeXAPI(clock=clock)
    fake.add_user("11", username="alice")
    fake.add_user("12", username="bob")
    return fake


@pytest.fixture(name="client")
def _client(fake):
    """A plain tweepy.Client (app-only bearer) on the fake."""
    return fake.install(tweepy.Client(bearer_token=fake.app_token()))


@pytest.fixture(name="ledger")
def _ledger(clock):
    """A compliance ledger in memory on the same clock."""
    with twpolicy.open_compliance("memory://", clock=clock) as ledger:
        yield ledger


def _tweets(fake):
    return [
        fake.add_tweet(f"tweet {n}", author_id=a) for n, a in enumerate(["11", "11", "12", "12"])
    ]


class TestFakeJobs:
    def test_job_shape(self, client, clock):
        """A created job has X's fields, signed URLs and the status created."""
        job = client.create_compliance_job(type="tweets", name="nightly").data
        assert {
            "id", "type", "name", "resumable", "created_at", "status", "upload_url",
            "upload_expires_at", "download_url", "download_expires_at",
        } == set(job)  # fmt: skip
        assert ("created", "tweets", "nightly") == (job["status"], job["type"], job["name"])
        assert job["upload_url"].startswith("https://storage.googleapis.com/")
        assert job == client.get_compliance_job(job["id"]).data
        listed = client.get_compliance_jobs(type="tweets").data
        assert [job["id"]] == [j["id"] for j in listed]
        assert client.get_compliance_jobs(type="users").data is None

    def test_lifecycle(self, fake, client, clock):
        """Upload, in progress for a minute of the fake's clock, then results for what is gone."""
        a1, a2, b1, b2 = _tweets(fake)
        fake.delete_tweet(a1)
        fake.protect("12")
        job = client.create_compliance_job(type="tweets").data
        session = requests.Session()
        fake.install(type("C", (), {"session": session})())
        assert 200 == session.put(job["upload_url"], data=f"{a1}\n{a2}\n{b1}\n{b2}\n").status_code
        assert "in_progress" == client.get_compliance_job(job["id"]).data["status"]
        assert 404 == session.get(job["download_url"]).status_code
        clock.sleep(60)
        assert "complete" == client.get_compliance_job(job["id"]).data["status"]
        lines = [json.loads(line) for line in session.get(job["download_url"]).text.splitlines()]
        assert [(a1, "deleted"), (b1, "protected"), (b2, "protected")] == [
            (line["id"], line["reason"]) for line in lines
        ]
        assert {"id", "action", "created_at", "redacted_at", "reason"} == set(lines[0])
        assert 400 == session.put(job["upload_url"], data="1\n").status_code  # once only
        assert 403 == session.get(job["download_url"].split("?")[0]).status_code  # unsigned
        assert 405 == session.post(job["download_url"]).status_code

    def test_one_active_job_and_explicit_completion(self, fake, client):
        """A second job of a type waits for the first; a test may complete jobs at once."""
        job = client.create_compliance_job(type="users").data
        with pytest.raises(tweepy.BadRequest):
            client.create_compliance_job(type="users")
        session = fake.install(tweepy.Client(bearer_token=fake.app_token())).session
        session.put(job["upload_url"], data="11\n12\n")
        assert 1 == fake.complete_compliance_jobs()
        assert "complete" == client.get_compliance_job(job["id"]).data["status"]
        assert client.create_compliance_job(type="users").data["status"] == "created"

    def test_upload_window_expires(self, client, clock):
        """A job not uploaded within 15 minutes expires."""
        job = client.create_compliance_job(type="tweets").data
        clock.sleep(16 * 60)
        assert "expired" == client.get_compliance_job(job["id"]).data["status"]
        assert client.get_compliance_jobs(type="tweets", status="created").data is None

    def test_bad_requests(self, client):
        """Unknown types, statuses and jobs are answered as X answers them."""
        with pytest.raises(tweepy.BadRequest):
            client.create_compliance_job(type="spaces")
        with pytest.raises(tweepy.BadRequest):
            client.get_compliance_jobs(type="tweets", status="done")
        with pytest.raises(tweepy.NotFound):
            client.get_compliance_job("1")


class TestRunJob:
    def test_end_to_end(self, fake, client, ledger, clock):
        """Creates, uploads, polls with a growing interval, downloads and records."""
        a1, a2, b1, b2 = _tweets(fake)
        fake.delete_tweet(a1)
        fake.suspend("12")
        seen = []
        report = run_compliance_job(
            client,
            [a1, a2, b1, b2],
            ledger=ledger,
            poll=PollPolicy(interval=10, factor=2, max_interval=40, timeout=600),
            sleep=clock.sleep,
            progress=lambda status, waited: seen.append((status, waited)),
        )
        assert [10, 20, 40] == clock.slept
        assert [("in_progress", 10), ("in_progress", 30), ("complete", 70)] == seen
        assert (4, 3, 3, 3) == (report.uploaded, report.results, report.events, report.recorded.new)
        pending = {s.event.object_id: s for s in ledger.status() if s.state == "pending"}
        assert {a1, b1, b2} == set(pending)
        assert START + timedelta(seconds=70, hours=24) == pending[a1].deadline
        again = run_compliance_job(client, [a1], ledger=ledger, sleep=clock.sleep)
        assert (0, 1) == (again.recorded.new, again.recorded.duplicates)
        assert "duplicates" in again.to_dict()

    def test_users_job(self, fake, client, ledger, clock):
        """A users job records user events."""
        fake.protect("11")
        fake.scrub_geo("12")
        report = run_compliance_job(
            client, ["11", "12"], type="users", ledger=ledger, sleep=clock.sleep
        )
        assert {("user_protect", "11"), ("scrub_geo", "12")} == {
            (s.event.type.value, s.event.object_id) for s in ledger.status()
        }
        assert 2 == report.events

    def test_timeout(self, fake, client, ledger, clock):
        """A job that does not finish in time is an error and nothing is recorded."""
        with pytest.raises(TwPolicyError, match="did not finish in time"):
            run_compliance_job(
                client, ["1"], ledger=ledger, sleep=lambda s: None, poll=PollPolicy(timeout=30)
            )
        assert () == ledger.status()

    def test_bad_input(self, client, ledger):
        """IDs and types are checked before anything is sent."""
        with pytest.raises(PayloadError):
            run_compliance_job(client, ["12a"], ledger=ledger)
        with pytest.raises(ConfigurationError):
            run_compliance_job(client, ["1"], ledger=ledger, type="spaces")
        with pytest.raises(ConfigurationError):
            run_compliance_job(object(), ["1"], ledger=ledger)
        with pytest.raises(ConfigurationError):
            PollPolicy(interval=0)

    def test_twpolicy_client_dict_return(self, fake, ledger, clock):
        """The guarded client works too, with any return type."""
        tid = fake.add_tweet("x", author_id="11")
        fake.delete_tweet(tid)
        client = fake.client(return_type=dict)
        report = run_compliance_job(client, [tid], ledger=ledger, sleep=clock.sleep)
        assert 1 == report.recorded.new


class TestStream:
    def test_ingest_with_backfill_duplicates(self, fake, client, ledger, clock):
        """Events of every partition are recorded once; a backfill repeats them harmlessly."""
        a1, a2, b1, _ = _tweets(fake)
        fake.delete_tweet(a1)
        fake.withhold(tweet_id=b1, countries=["de"])
        fake.protect("11")
        fake.unprotect("11")
        fake.scrub_geo("12", up_to_tweet_id=a2)
        fake.withhold(user_id="12", countries=["fr"])
        tweets = ingest_compliance_stream(client, ledger=ledger, type="tweets")
        users = ingest_compliance_stream(client, ledger=ledger, type="users")
        assert (2, 2) == (tweets.lines, tweets.recorded.new)
        assert (4, 4, 1) == (users.lines, users.recorded.new, users.recorded.reversed)
        clock.sleep(120)
        assert 0 == ingest_compliance_stream(client, ledger=ledger).lines
        backfill = ingest_compliance_stream(client, ledger=ledger, backfill_minutes=5)
        assert (2, 0, 2) == (backfill.lines, backfill.recorded.new, backfill.recorded.duplicates)
        window = ingest_compliance_stream(
            client, ledger=ledger, type="users", start_time=START, end_time=START
        )
        assert 4 == window.recorded.duplicates
        assert "events_new" in window.to_dict()

    def test_stream_errors(self, fake, client, ledger):
        """Bad partitions and backfills are refused; a stream needs a bearer token."""
        with pytest.raises(requests.HTTPError):
            ingest_compliance_stream(client, ledger=ledger, partitions=[5])
        with pytest.raises(requests.HTTPError):
            ingest_compliance_stream(client, ledger=ledger, backfill_minutes=6)
        with pytest.raises(ConfigurationError):
            ingest_compliance_stream(client, ledger=ledger, type="dms")
        keys = fake.credentials()
        del keys["bearer_token"]
        oauth = fake.install(tweepy.Client(**keys))
        with pytest.raises(ConfigurationError):
            ingest_compliance_stream(oauth, ledger=ledger)


class TestFakeHelpers:
    def test_helpers_refuse_unknown(self, fake):
        """Helpers refuse what the fake does not hold."""
        with pytest.raises(ConfigurationError):
            fake.delete_tweet("1")
        with pytest.raises(ConfigurationError):
            fake.protect("99")
        with pytest.raises(ConfigurationError):
            fake.withhold(tweet_id="1", countries=["de"])
        with pytest.raises(ConfigurationError):
            fake.withhold(countries=["de"])

    def test_facts_and_state(self, fake):
        """Facts are logged in order and change the fake's records."""
        tid = fake.add_tweet("x", author_id="11", place_id="5a110d312052166f")
        fake.scrub_geo("11")
        fake.protect("11")
        fake.delete_user("12")
        fake.unsuspend("12")
        assert fake.tweets[tid].place_id is None
        assert fake.users["11"].protected
        assert ["scrub_geo", "user_protect", "user_delete", "user_unsuspend"] == [
            f.kind for f in fake.compliance_facts
        ]


class TestReading:
    def test_response_shapes(self, fake, ledger, clock):
        """Jobs run through clients of every return type; an answer without a job is refused."""
        tid = fake.add_tweet("x", author_id="11")
        fake.delete_tweet(tid)
        client = fake.install(
            tweepy.Client(bearer_token=fake.app_token(), return_type=requests.Response)
        )
        assert 1 == run_compliance_job(client, [tid], ledger=ledger, sleep=clock.sleep).events
        with pytest.raises(PayloadError):
            _compliance_jobs._data({"errors": []})

    def test_lines_in_batches(self, ledger):
        """Many lines are recorded in batches; blank lines are skipped; a bad line stops."""
        totals = _compliance_jobs._Totals()
        lines = [
            json.dumps({"id": str(n), "action": "delete", "reason": "deleted"}).encode()
            for n in range(1, 10_002)
        ]
        assert 10_001 == _compliance_jobs._record_lines(ledger, [*lines, b""], "tweets", totals)
        assert 10_001 == totals.result().new
        with pytest.raises(PayloadError, match="cannot be read"):
            _compliance_jobs._record_lines(ledger, [b"{"], "tweets", totals)
        # A line writing a key twice: one of the two IDs would be lost, so it is refused.
        twice = b'{"id": "5", "id": "6", "action": "delete", "reason": "deleted"}'
        with pytest.raises(PayloadError, match="'id' twice"):
            _compliance_jobs._record_lines(ledger, [twice], "tweets", totals)

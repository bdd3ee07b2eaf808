"""X's batch compliance job and compliance streams, carried into the compliance ledger (I.C.3).

`run_compliance_job` runs a batch compliance job end to end through a tweepy (or twpolicy)
client: create the job, upload the IDs to its signed URL, poll its status with a growing
interval (never a busy loop), download the results and record them in the ledger, where
each gets its 24-hour deadline. `ingest_compliance_stream` reads the v2 compliance streams
(every partition) into the ledger; the ledger's idempotence absorbs the stream's backfill
duplicates.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, Final, Literal

import attrs

from twpolicy._payloads._compliance import ComplianceEvent, compliance_events
from twpolicy._payloads._walker import read_json
from twpolicy._stores._compliance import ComplianceLedger, RecordResult
from twpolicy.exceptions import ConfigurationError, PayloadError, TwPolicyError

__all__ = [
    "JobReport",
    "PollPolicy",
    "StreamReport",
    "ingest_compliance_stream",
    "run_compliance_job",
]

JobType = Literal["tweets", "users"]
_BATCH: Final = 10_000
#: Partitions of each v2 compliance stream.
PARTITIONS: Final = 4


@attrs.frozen(kw_only=True)
class PollPolicy:
    """How to wait for a job: the first interval, its growth, its cap, and the time limit.

    X processes a job in minutes to hours; polling more often than every few seconds only
    spends the rate limit (150 requests per 15 minutes).
    """

    interval: float = 15.0
    factor: float = 1.5
    max_interval: float = 300.0
    timeout: float = 6 * 3600.0

    def __attrs_post_init__(self) -> None:
        if not (0 < self.interval <= self.max_interval and self.factor >= 1 and self.timeout > 0):
            raise ConfigurationError(
                "PollPolicy needs 0 < interval <= max_interval, factor >= 1 and timeout > 0: "
                f"{self!r}"
            )

    def delays(self) -> Iterator[float]:
        """The waits between polls, growing to ``max_interval``, until ``timeout`` is spent."""
        spent, delay = 0.0, self.interval
        while spent + delay <= self.timeout:
            yield delay
            spent += delay
            delay = min(delay * self.factor, self.max_interval)


@attrs.frozen(kw_only=True)
class JobReport:
    """What `run_compliance_job` did.

    Attributes:
        job_id: X's job ID.
        type: ``"tweets"`` or ``"users"``.
        uploaded: IDs uploaded.
        polls: status requests made after the upload.
        waited: seconds slept between them.
        results: result lines downloaded.
        events: compliance events read from them.
        recorded: what the ledger made of them (new, duplicates, reversed).
    """

    job_id: str
    type: str
    uploaded: int
    polls: int
    waited: float
    results: int
    events: int
    recorded: RecordResult

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "job_id": self.job_id,
            "type": self.type,
            "uploaded": self.uploaded,
            "polls": self.polls,
            "waited_s": self.waited,
            "results": self.results,
            "events": self.events,
            "events_new": self.recorded.new,
            "duplicates": self.recorded.duplicates,
            "reversed": self.recorded.reversed,
        }


def _data(response: Any) -> dict[str, Any]:
    """The ``data`` of a tweepy response, whatever the client's ``return_type``."""
    if hasattr(response, "json") and callable(response.json):  # requests.Response
        response = response.json()
    data = response.get("data") if isinstance(response, dict) else getattr(response, "data", None)
    if not isinstance(data, dict):
        raise PayloadError(f"X answered a compliance job request without a job: {response!r}")
    return data


def _session(client: Any) -> Any:
    session = getattr(client, "session", None)
    if session is None or not hasattr(session, "put"):
        raise ConfigurationError(
            "run_compliance_job needs a tweepy.Client (or twpolicy.Client): its requests "
            "session uploads to and downloads from the job's signed URLs"
        )
    return session


class _Totals:
    def __init__(self) -> None:
        self.new = self.duplicates = self.reversed = self.events = 0

    def add(self, ledger: ComplianceLedger, events: list[ComplianceEvent]) -> None:
        if events:
            result = ledger.record(events)
            self.new += result.new
            self.duplicates += result.duplicates
            self.reversed += result.reversed
            self.events += len(events)

    def result(self) -> RecordResult:
        return RecordResult(new=self.new, duplicates=self.duplicates, reversed=self.reversed)


def _record_lines(
    ledger: ComplianceLedger, lines: Iterable[bytes], job_type: JobType, totals: _Totals
) -> int:
    """Record the events of JSON lines in batches (one ledger transaction each)."""
    count = 0
    batch: list[ComplianceEvent] = []
    for line in lines:
        if not line.strip():
            continue
        count += 1
        try:
            message = read_json(line, loads=json.loads)
        except ValueError as exc:
            raise PayloadError(
                f"X sent a compliance line that cannot be read ({line[:80]!r}: {exc}); nothing "
                "after it was recorded: run again (recording is idempotent)"
            ) from None
        batch.extend(compliance_events(message, job_type=job_type))
        if len(batch) >= _BATCH:
            totals.add(ledger, batch)
            batch = []
    totals.add(ledger, batch)
    return count


def run_compliance_job(
    client: Any,
    ids: Iterable[str],
    *,
    ledger: ComplianceLedger,
    type: JobType = "tweets",  # noqa: A002  # X's parameter name
    name: str | None = None,
    poll: PollPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str, float], None] | None = None,
) -> JobReport:
    """Run one batch compliance job for ``ids`` and record its results in ``ledger``.

    Args:
        client: a `tweepy.Client` or `twpolicy.Client` with an app-only bearer token.
        ids: Tweet IDs (``type="tweets"``) or user IDs (``"users"``), decimal strings.
        ledger: where the results go, each with its 24-hour deadline from now.
        type: the job's type.
        name: the job's name on X.
        poll: how to wait for the job (`PollPolicy`).
        sleep: waits between polls (tests pass one that advances a fake clock).
        progress: called with the job's status and the seconds waited after each poll.

    Raises:
        TwPolicyError: the job failed, expired, or did not finish within ``poll.timeout``.
        PayloadError: an ID is not a decimal string, or X's answer is not readable.
    """
    if type not in ("tweets", "users"):
        raise ConfigurationError(f"a compliance job's type is 'tweets' or 'users', not {type!r}")
    wanted = [str(i).strip() for i in ids]
    bad = next((i for i in wanted if not (i.isdecimal() and i.isascii())), None)
    if bad is not None:
        raise PayloadError(f"a compliance job uploads decimal IDs only, got {bad!r}")
    policy = poll or PollPolicy()
    session = _session(client)
    job = _data(client.create_compliance_job(type=type, name=name))
    job_id = str(job["id"])
    upload = session.put(
        job["upload_url"],
        data="".join(f"{i}\n" for i in wanted).encode(),
        headers={"Content-Type": "text/plain"},
    )
    upload.raise_for_status()
    polls, waited, status = 0, 0.0, str(job.get("status"))
    for delay in policy.delays():
        sleep(delay)
        waited += delay
        job = _data(client.get_compliance_job(job_id))
        polls += 1
        status = str(job.get("status"))
        if progress is not None:
            progress(status, waited)
        if status in ("complete", "failed", "expired"):
            break
    if status != "complete":
        why = "did not finish in time" if status in ("created", "in_progress") else status
        raise TwPolicyError(
            f"compliance job {job_id} {why} (status {status!r} after {waited:.0f} s); its "
            "IDs are not checked: run the job again (recording its results is idempotent)"
        )
    totals = _Totals()
    download = session.get(job["download_url"], stream=True)
    download.raise_for_status()
    try:
        results = _record_lines(ledger, download.iter_lines(), type, totals)
    finally:
        download.close()
    return JobReport(
        job_id=job_id,
        type=type,
        uploaded=len(wanted),
        polls=polls,
        waited=waited,
        results=results,
        events=totals.events,
        recorded=totals.result(),
    )


@attrs.frozen(kw_only=True)
class StreamReport:
    """What `ingest_compliance_stream` read and recorded, per stream and in all."""

    lines: int
    events: int
    recorded: RecordResult

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "lines": self.lines,
            "events": self.events,
            "events_new": self.recorded.new,
            "duplicates": self.recorded.duplicates,
            "reversed": self.recorded.reversed,
        }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ingest_compliance_stream(
    client: Any,
    *,
    ledger: ComplianceLedger,
    type: JobType = "tweets",  # noqa: A002  # as the job's
    partitions: Iterable[int] = range(1, PARTITIONS + 1),
    backfill_minutes: int = 0,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
) -> StreamReport:
    """Read the v2 compliance stream of ``type`` (every partition) into ``ledger``.

    Each partition is read until X closes the connection (use ``end_time`` to bound a
    catch-up read); run it from a supervisor that reconnects with ``backfill_minutes`` (up
    to 5) or ``start_time``, so nothing is missed across a reconnection. Events seen twice
    (backfill) are recorded once.
    """
    if type not in ("tweets", "users"):
        raise ConfigurationError(f"a compliance stream is 'tweets' or 'users', not {type!r}")
    session = _session(client)
    token = getattr(client, "bearer_token", None)
    if not token:
        raise ConfigurationError("the compliance streams need an app-only bearer token")
    totals = _Totals()
    lines = 0
    for partition in partitions:
        params: dict[str, str] = {"partition": str(partition)}
        if backfill_minutes:
            params["backfill_minutes"] = str(backfill_minutes)
        if start_time is not None:
            params["start_time"] = _iso(start_time)
        if end_time is not None:
            params["end_time"] = _iso(end_time)
        response = session.get(
            f"https://api.twitter.com/2/{type}/compliance/stream",
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            stream=True,
        )
        try:
            response.raise_for_status()
            lines += _record_lines(ledger, response.iter_lines(), type, totals)
        finally:
            response.close()
    return StreamReport(lines=lines, events=totals.events, recorded=totals.result())

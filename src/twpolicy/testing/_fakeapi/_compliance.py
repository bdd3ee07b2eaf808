"""Batch compliance jobs and the compliance streams, as X serves them (I.C.3 in tests).

What happens to content on X is recorded as a `Fact` (``FakeXAPI.delete_tweet``,
``protect``, ``suspend``, ``withhold``, ``scrub_geo``...). Both ways X tells an application
read those facts:

- batch compliance jobs: ``POST /2/compliance/jobs`` gives signed upload and download URLs
  (on ``storage.googleapis.com``, answered by the fake, no credentials); the IDs are ``PUT``
  to the upload URL; the job is ``in_progress`` until ``JOB_SECONDS`` of the fake's clock
  have passed since the upload (or a test calls ``complete_compliance_jobs``), then
  ``complete``, and the download URL serves JSON Lines results (``id``, ``action``,
  ``created_at``, ``redacted_at``, ``reason``) for the uploaded IDs X knows are gone;
- the compliance streams ``/2/tweets/compliance/stream`` and ``/2/users/compliance/stream``
  (``partition`` 1 to 4, ``backfill_minutes`` up to 5, or ``start_time``/``end_time``):
  the events of the facts in the window, as newline-delimited JSON, then the connection ends
  (a fake has no future to wait for). Connecting again with a backfill that covers events
  already sent sends them again, as X's backfill does: consumers must be idempotent.
"""

from __future__ import annotations

import json
import urllib.parse
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import attrs

from twpolicy.testing._fakeapi import _v2
from twpolicy.testing._fakeapi._routing import V2_PROBLEMS, Call, Reply, RouteGroup, invalid, refuse
from twpolicy.testing._fakeapi._state import FakeXState, Json

ROUTES = RouteGroup()

#: The host of the signed upload and download URLs, as X's (Google Cloud Storage).
STORAGE_HOST: Final = "storage.googleapis.com"
#: Seconds of the fake's clock a job stays ``in_progress`` after its upload.
JOB_SECONDS: Final = 60
#: How many partitions each compliance stream has.
PARTITIONS: Final = 4
_UPLOAD_WINDOW = timedelta(minutes=15)
_DOWNLOAD_WINDOW = timedelta(days=7)
_MAX_BACKFILL = 5
_TWEET_FACTS: Final = frozenset({"delete", "withheld", "drop", "undrop", "tweet_edit"})
_JOB_STATUSES: Final = frozenset({"created", "in_progress", "failed", "complete", "expired"})


@attrs.frozen(kw_only=True)
class Fact:
    """Something that happened to a Tweet or a user on X, when."""

    kind: str  # the v2 compliance-stream event name: delete, user_protect, scrub_geo ...
    at: datetime
    tweet_id: str | None = None
    user_id: str | None = None
    tweet_created_at: datetime | None = None
    up_to_tweet_id: str | None = None
    countries: tuple[str, ...] = ()

    @property
    def object_id(self) -> str:
        found = self.tweet_id if self.kind in _TWEET_FACTS else self.user_id
        return found or ""

    def event(self) -> Json:
        """The compliance-stream event, with its ``data`` wrapper."""
        body: Json = {"event_at": _v2.timestamp(self.at)}
        if self.kind in _TWEET_FACTS:
            body["tweet"] = {"id": self.tweet_id, "author_id": self.user_id}
        else:
            body["user"] = {"id": self.user_id}
        if self.countries:
            body["withheld_in_countries"] = list(self.countries)
        if self.up_to_tweet_id is not None:
            body["up_to_tweet_id"] = self.up_to_tweet_id
        return {"data": {self.kind: body}}


@attrs.define
class Job:
    """One batch compliance job."""

    id: str
    type: str
    name: str | None
    resumable: bool
    created_at: datetime
    ids: list[str] | None = None
    uploaded_at: datetime | None = None
    completed: bool = False

    def status(self, now: datetime) -> str:
        if self.uploaded_at is None:
            return "expired" if now > self.created_at + _UPLOAD_WINDOW else "created"
        if self.completed or now >= self.uploaded_at + timedelta(seconds=JOB_SECONDS):
            self.completed = True
            return "complete"
        return "in_progress"

    def render(self, now: datetime) -> Json:
        stem = f"https://{STORAGE_HOST}/twttr-{self.type[:-1]}-compliance/{self.id}"
        body: Json = {
            "id": self.id,
            "type": self.type,
            "resumable": self.resumable,
            "created_at": _v2.timestamp(self.created_at),
            "status": self.status(now),
            "upload_url": f"{stem}/submission?X-Goog-Signature=fake",
            "upload_expires_at": _v2.timestamp(self.created_at + _UPLOAD_WINDOW),
            "download_url": f"{stem}/delivery?X-Goog-Signature=fake",
            "download_expires_at": _v2.timestamp(self.created_at + _DOWNLOAD_WINDOW),
        }
        if self.name is not None:
            body["name"] = self.name
        return body


@attrs.define
class ComplianceState:
    """The facts and jobs of one fake, kept on its `FakeXState`."""

    facts: list[Fact] = attrs.Factory(list)
    jobs: dict[str, Job] = attrs.Factory(dict)


def of(state: FakeXState) -> ComplianceState:
    """The compliance records of ``state`` (made on first use)."""
    found: ComplianceState | None = getattr(state, "compliance", None)
    if found is None:
        found = ComplianceState()
        state.compliance = found  # type: ignore[attr-defined]  # kept beside the other records
    return found


def _user_fact(records: ComplianceState, user_id: str) -> Fact | None:
    """The user's standing removal (the last delete, protect or suspend not undone)."""
    standing: dict[str, Fact] = {}
    undo = {"user_unprotect": "user_protect", "user_unsuspend": "user_suspend",
            "user_undelete": "user_delete"}  # fmt: skip
    for fact in records.facts:
        if fact.user_id != user_id or fact.kind in _TWEET_FACTS:
            continue
        if fact.kind in ("user_protect", "user_suspend", "user_delete"):
            standing[fact.kind] = fact
        elif fact.kind in undo:
            standing.pop(undo[fact.kind], None)
    for kind in ("user_delete", "user_suspend", "user_protect"):
        if kind in standing:
            return standing[kind]
    return None


_REASONS: Final = {
    "user_delete": "deactivated",
    "user_suspend": "suspended",
    "user_protect": "protected",
}


def _result(object_id: str, fact: Fact, reason: str, action: str = "delete") -> Json:
    created = fact.tweet_created_at or fact.at
    return {
        "id": object_id,
        "action": action,
        "created_at": _v2.timestamp(created),
        "redacted_at": _v2.timestamp(fact.at),
        "reason": reason,
    }


def job_results(state: FakeXState, job: Job) -> list[Json]:
    """The result lines of a complete job: the uploaded IDs X knows are gone."""
    records = of(state)
    lines: list[Json] = []
    for object_id in job.ids or ():
        if job.type == "tweets":
            deleted = next(
                (f for f in records.facts if f.kind == "delete" and f.tweet_id == object_id), None
            )
            if deleted is not None:
                lines.append(_result(object_id, deleted, "deleted"))
                continue
            tweet = state.tweets.get(object_id)
            author = tweet.author_id if tweet is not None else None
            standing = None if author is None else _user_fact(records, author)
            if standing is not None and tweet is not None:
                fact = attrs.evolve(standing, tweet_created_at=tweet.created_at)
                lines.append(_result(object_id, fact, _REASONS[standing.kind]))
                continue
            scrub = _scrub_for(records, author, object_id)
            if scrub is not None and tweet is not None:
                fact = attrs.evolve(scrub, tweet_created_at=tweet.created_at)
                lines.append(_result(object_id, fact, "scrub_geo", "scrub_geo"))
        else:
            standing = _user_fact(records, object_id)
            if standing is not None:
                lines.append(_result(object_id, standing, _REASONS[standing.kind]))
                continue
            scrub = _scrub_for(records, object_id, None)
            if scrub is not None:
                lines.append(_result(object_id, scrub, "scrub_geo", "scrub_geo"))
    return lines


def _scrub_for(records: ComplianceState, user_id: str | None, tweet_id: str | None) -> Fact | None:
    for fact in records.facts:
        if fact.kind != "scrub_geo" or fact.user_id != user_id:
            continue
        if tweet_id is None or fact.up_to_tweet_id is None:
            return fact
        if int(tweet_id) <= int(fact.up_to_tweet_id):
            return fact
    return None


# -- the routes ---------------------------------------------------------------------------------


def _job_type(value: Any, parameter: str) -> str:
    if value not in ("tweets", "users"):
        raise invalid(
            parameter,
            str(value),
            f"The `{parameter}` value [{value}] is not one of [tweets,users]",
        )
    return str(value)


@ROUTES.route("POST", "/2/compliance/jobs", limit=150)
def create_job(state: FakeXState, call: Call) -> Json:
    kind = _job_type(_v2.body_field(call, "type"), "type")
    body = call.json if isinstance(call.json, dict) else {}
    records = of(state)
    now = state.clock()
    if any(j.type == kind and j.status(now) in ("created", "in_progress")
           for j in records.jobs.values()):  # fmt: skip
        raise refuse(
            400,
            "Invalid Request",
            f"You already have an active {kind} compliance job: run one job at a time.",
        )
    job = Job(state.new_id(), kind, body.get("name"), bool(body.get("resumable", False)), now)
    records.jobs[job.id] = job
    return {"data": job.render(now)}


@ROUTES.route("GET", "/2/compliance/jobs/:id", limit=150)
def get_job(state: FakeXState, call: Call) -> Json:
    job = of(state).jobs.get(call.args["id"])
    if job is None:
        raise refuse(
            404,
            "Not Found Error",
            f"Could not find compliance job with id: [{call.args['id']}].",
            V2_PROBLEMS + "resource-not-found",
        )
    return {"data": job.render(state.clock())}


@ROUTES.route("GET", "/2/compliance/jobs", limit=150)
def list_jobs(state: FakeXState, call: Call) -> Json:
    kind = _job_type(call.params.get("type"), "type")
    status = call.params.get("status")
    if status is not None and status not in _JOB_STATUSES:
        raise invalid("status", status, f"The `status` value [{status}] is not valid")
    now = state.clock()
    jobs = [j.render(now) for j in reversed(of(state).jobs.values()) if j.type == kind]
    jobs = [j for j in jobs if status is None or j["status"] == status]
    return (
        {"data": jobs, "meta": {"result_count": len(jobs)}}
        if jobs
        else {"meta": {"result_count": 0}}
    )


def _parse_time(value: str, parameter: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        raise invalid(
            parameter, value, f"The `{parameter}` value [{value}] is not a time"
        ) from None


@ROUTES.route("GET", "/2/tweets/compliance/stream", "/2/users/compliance/stream", limit=50)
def stream(state: FakeXState, call: Call) -> Reply:
    partition = call.params.get("partition", "")
    if partition not in {str(n) for n in range(1, PARTITIONS + 1)}:
        raise invalid(
            "partition", partition, f"The `partition` query parameter must be 1 to {PARTITIONS}"
        )
    backfill = call.params.get("backfill_minutes", "0")
    if not backfill.isdigit() or int(backfill) > _MAX_BACKFILL:
        raise invalid("backfill_minutes", backfill, "The `backfill_minutes` value must be 0 to 5")
    now = state.clock()
    start = (
        _parse_time(call.params["start_time"], "start_time")
        if "start_time" in call.params
        else now - timedelta(minutes=int(backfill))
    )
    end = _parse_time(call.params["end_time"], "end_time") if "end_time" in call.params else now
    tweets = call.route.endswith("/2/tweets/compliance/stream")
    lines = []
    for fact in of(state).facts:
        if (fact.kind in _TWEET_FACTS) != tweets or not start <= fact.at <= end:
            continue
        if int(fact.object_id) % PARTITIONS + 1 != int(partition):
            continue
        lines.append(json.dumps(fact.event()).encode() + b"\r\n")
    return Reply(200, b"".join(lines), {"content-type": "application/json"})


def storage(
    state: FakeXState, method: str, url: str, body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Answer a request to a signed upload or download URL."""
    parts = urllib.parse.urlsplit(url)
    segments = parts.path.strip("/").split("/")
    records = of(state)
    job = records.jobs.get(segments[1]) if len(segments) == 3 else None  # noqa: PLR2004  # bucket/id/file
    if job is None or "X-Goog-Signature" not in parts.query:
        return 403, {"content-type": "application/xml"}, b"<Error><Code>AccessDenied</Code></Error>"
    now = state.clock()
    if method == "PUT" and segments[2] == "submission":
        if job.uploaded_at is not None or job.status(now) == "expired":
            return 400, {"content-type": "application/xml"}, b"<Error><Code>Expired</Code></Error>"
        text = body.decode("utf-8", "replace")
        job.ids = [line.strip() for line in text.splitlines() if line.strip().isdecimal()]
        job.uploaded_at = now
        return 200, {"content-type": "text/plain"}, b""
    if method == "GET" and segments[2] == "delivery":
        if job.status(now) != "complete":
            return (
                404,
                {"content-type": "application/xml"},
                b"<Error><Code>NoSuchKey</Code></Error>",
            )
        data = b"".join(json.dumps(line).encode() + b"\n" for line in job_results(state, job))
        return 200, {"content-type": "application/octet-stream"}, data
    return 405, {"content-type": "application/xml"}, b"<Error><Code>MethodNotAllowed</Code></Error>"


def complete_jobs(state: FakeXState) -> int:
    """Complete every uploaded job now; return how many were completed."""
    count = 0
    for job in of(state).jobs.values():
        if job.uploaded_at is not None and not job.completed:
            job.completed = True
            count += 1
    return count


def record(state: FakeXState, fact: Fact) -> Fact:
    """Add a fact to the compliance log."""
    of(state).facts.append(fact)
    return fact

"""``twpolicy comply`` and ``twpolicy compliance status|job|stream``: the 24-hour clock of I.C.3.

``comply`` records compliance events (batch compliance-job results, captured v1.1 stream
messages, v2 compliance-stream events, in any mix, as JSON Lines files, plain or compressed)
in the compliance ledger and applies everything the ledger says is gone to a JSON Lines
dataset, atomically. ``compliance status`` lists pending, applied, reversed and overdue
events with their ages; an overdue event is a refusal the guard logs, and exit code 1.
``compliance job`` runs X's batch compliance job for a file of IDs or a dataset's IDs and
records (and with ``--apply``, applies) its results; ``compliance stream`` reads the v2
compliance streams into the ledger.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, Literal, TextIO

from twpolicy._cli._common import (
    COMPLIANCE,
    CliError,
    Exit,
    add_report_options,
    add_store_option,
    shown,
    store_url,
    utc_time,
    warn,
)
from twpolicy._cli._parallel import add_jobs_option, default_jobs
from twpolicy._cli._records import LOADS, RecordReader, open_source
from twpolicy._enforce._compliance import (
    ApplyReport,
    JsonLinesApplier,
    apply_compliance,
    attempt_outcomes,
)
from twpolicy._enforce._compliance_jobs import (
    PollPolicy,
    ingest_compliance_stream,
    run_compliance_job,
)
from twpolicy._guard import Guard
from twpolicy._model import Action, ActionKind
from twpolicy._payloads._compliance import ComplianceEvent, compliance_events
from twpolicy._payloads._walker import unique_keys
from twpolicy._stores._compliance import ComplianceLedger, EventStatus, open_compliance
from twpolicy.exceptions import ConfigurationError, PayloadError, TwPolicyError
from twpolicy.rules import compliance_deadline

__all__ = ["register"]


def _read_event(data: bytes) -> Any:
    """An event line, refused if it writes a key twice (one of two values would be lost)."""
    return unique_keys(data, LOADS(data))


def _read(
    name: str, job_type: Literal["tweets", "users"], bad: list[str]
) -> Iterator[ComplianceEvent]:
    try:
        source = open_source(name)
    except OSError as exc:
        raise CliError(Exit.BAD_INPUT, f"cannot read {shown(name)}: {exc.strerror}") from None
    try:
        reader = RecordReader(source.lines, loads=_read_event)
        for record in reader:
            if record.error is not None:
                bad.append(f"{shown(name)} {record.lines}: {record.error}")
                continue
            yield from compliance_events(record.value, job_type=job_type)
        if reader.damage is not None:
            bad.append(f"{shown(name)} after line {reader.damage.line}: {reader.damage.message}")
    finally:
        source.close()


def _age(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m"


def _run_comply(args: argparse.Namespace, out: TextIO) -> int:
    url = store_url(args, COMPLIANCE)
    try:
        jobs = default_jobs() if args.jobs is None else args.jobs
        applier = JsonLinesApplier(args.dataset, out=args.out, jobs=jobs)
    except Exception as exc:  # noqa: BLE001  # a configuration error names the dataset
        raise CliError(Exit.BAD_INPUT, str(exc)) from None
    bad: list[str] = []
    events = [e for name in args.files for e in _read(name, "tweets", bad)]
    events += [e for name in args.users_job or () for e in _read(name, "users", bad)]
    with open_compliance(url) as ledger:
        recorded = ledger.record(events)
        report = apply_compliance(ledger, applier)
    record: dict[str, Any] = {
        "events_read": len(events),
        "events_new": recorded.new,
        "duplicates": recorded.duplicates,
        "reversed": recorded.reversed,
        "dataset": shown(args.dataset),
        "out": shown(args.out or args.dataset),
        **report.to_dict(),
        "unreadable": bad,
    }
    if args.format == "json":
        json.dump(record, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(
            f"recorded {recorded.new} new event(s) ({recorded.duplicates} already known, "
            f"{recorded.reversed} removal(s) reversed)\n"
        )
        if report.attempt_id is None:
            out.write(f"{record['out']}: nothing pending; unchanged\n")
        else:
            out.write(
                f"{record['out']}: applied {report.events} event(s): {report.removed} object(s) "
                f"removed, {report.scrubbed} Tweet(s) lost their location, "
                f"{report.records_dropped} of {report.records_read} record(s) dropped\n"
            )
    for line in bad:
        warn(f"twpolicy: skipped unreadable input: {line}")
    return Exit.BAD_INPUT if bad else Exit.OK


def _status_record(status: EventStatus) -> dict[str, Any]:
    event = status.event
    return {
        "key": status.key,
        "type": event.type.value,
        "id": event.object_id,
        "source": event.source.value,
        "state": "overdue" if status.overdue else status.state,
        "arrived_at": status.arrived_at.isoformat(),
        "deadline": status.deadline.isoformat(),
        "age_s": round(status.age.total_seconds()),
        "applied": [
            {"target": a.target, "changed": a.changed, "applied_at": a.applied_at.isoformat()}
            for a in status.applied
        ],
        "reversed_at": None if status.reversed_at is None else status.reversed_at.isoformat(),
    }


def _deadline_decision(ledger: ComplianceLedger, statuses: tuple[EventStatus, ...]) -> Any:
    """The guard's decision on the 24-hour deadline: a logged refusal when any is overdue."""
    pending = [s for s in statuses if s.state == "pending"]
    overdue = [s for s in pending if s.overdue]
    oldest = max(overdue, key=lambda s: s.age, default=None)
    action = Action(
        kind=ActionKind.DELETE_CONTENT,
        operation="twpolicy compliance status",
        count=len(pending),
        facts={
            "overdue": len(overdue),
            "oldest_key": None if oldest is None else oldest.key,
            "oldest_age_s": None if oldest is None else round(oldest.age.total_seconds()),
        },
    )
    return Guard(compliance=ledger, rules=[compliance_deadline()]).check(action)


def _run_status(args: argparse.Namespace, out: TextIO) -> int:
    url = store_url(args, COMPLIANCE)
    with open_compliance(url, create=False) as ledger:
        statuses = ledger.status()
        decision = _deadline_decision(ledger, statuses)
        interrupted = attempt_outcomes(ledger)
    rows = [_status_record(s) for s in statuses]
    counts = {state: sum(r["state"] == state for r in rows) for state in
              ("pending", "overdue", "applied", "reversed")}  # fmt: skip
    shown_rows = rows if args.all else [r for r in rows if r["state"] in ("pending", "overdue")]
    if args.format == "json":
        json.dump(
            {
                "counts": counts,
                "events": shown_rows,
                "interrupted": interrupted,
                "decision": decision.to_record(),
            },
            out,
            indent=2,
            ensure_ascii=False,
        )
        out.write("\n")
    else:
        out.write(", ".join(f"{n} {state}" for state, n in counts.items()) + "\n")
        for row in shown_rows:
            age = _age(timedelta(seconds=row["age_s"]))
            where = ", ".join(f"{a['target']} ({a['changed']})" for a in row["applied"])
            out.write(f"{row['state']:<8} {age:>8}  {row['key']}{'  ' + where if where else ''}\n")
        out.writelines(
            f"interrupted apply {item['attempt_id']} on {item['target']}: the "
            f"{item['in_place']} data is in place\n"
            for item in interrupted
        )
        if decision.denied:
            out.write(decision.explain() + "\n")
    return Exit.FINDINGS if decision.denied else Exit.OK


#: The variable that holds the app-only bearer token of ``compliance job`` and ``stream``.
BEARER_ENV = "TWITTER_BEARER_TOKEN"
#: How the job command waits between polls (tests put a fake clock's in its place).
sleep: Callable[[float], None] = time.sleep


def make_client(token: str) -> Any:
    """The guarded client the job and stream commands use (tests connect it to a fake)."""
    from twpolicy._clients._sync import Client  # noqa: PLC0415  # tweepy loads only when used

    return Client(bearer_token=token)


def _client() -> Any:
    token = os.environ.get(BEARER_ENV, "").strip()
    if not token:
        raise CliError(
            Exit.BAD_INPUT,
            f"no X credentials: set {BEARER_ENV} to the app-only bearer token of your App "
            "(compliance jobs and streams use app-only authentication)",
        )
    return make_client(token)


def _job_ids(args: argparse.Namespace) -> list[str]:
    """The IDs to check: a file of IDs (one a line), or a dataset's IDs (dehydrated)."""
    from twpolicy._cli._dehydrate import IdReader  # noqa: PLC0415  # only this command needs it

    if (args.ids is None) == (args.dataset is None):
        raise CliError(Exit.BAD_INPUT, "give the IDs to check: --ids FILE or --dataset PATH")
    name = args.ids or args.dataset
    try:
        source = open_source(name)
    except OSError as exc:
        raise CliError(Exit.BAD_INPUT, f"cannot read {shown(name)}: {exc.strerror}") from None
    try:
        if args.ids is not None:
            ids = []
            for number, raw in enumerate(iter(source.lines.readline, b""), start=1):
                text = raw.decode("utf-8", "replace").strip()
                if text and not (text.isdecimal() and text.isascii()):
                    raise CliError(
                        Exit.BAD_INPUT, f"{shown(name)} line {number}: not an ID: {text[:40]!r}"
                    )
                if text:
                    ids.append(text)
            return list(dict.fromkeys(ids))
        reader = IdReader(args.type)
        found = [i for batch in reader.new_ids(source.lines) for i in batch]
        if reader.bad or reader.damage is not None:
            raise CliError(
                Exit.BAD_INPUT,
                f"{shown(name)}: {reader.bad} unreadable record(s); their IDs could not be "
                "checked. Fix the dataset (twpolicy dehydrate shows where) and run again",
            )
        return found
    finally:
        source.close()


def _apply_to(ledger: ComplianceLedger, args: argparse.Namespace) -> ApplyReport | None:
    if args.apply is None:
        return None
    try:
        applier = JsonLinesApplier(args.apply, out=args.out)
    except ConfigurationError as exc:
        raise CliError(Exit.BAD_INPUT, str(exc)) from None
    return apply_compliance(ledger, applier)


def _applied_line(name: str, report: ApplyReport | None) -> str:
    if report is None:
        return ""
    if report.attempt_id is None:
        return f"{name}: nothing pending; unchanged\n"
    return (
        f"{name}: applied {report.events} event(s): {report.removed} object(s) removed, "
        f"{report.scrubbed} Tweet(s) lost their location, {report.records_dropped} of "
        f"{report.records_read} record(s) dropped\n"
    )


def _run_job(args: argparse.Namespace, out: TextIO) -> int:
    url = store_url(args, COMPLIANCE)
    if args.out is not None and args.apply is None:
        raise CliError(Exit.BAD_INPUT, "--out names where --apply writes: give --apply PATH too")
    ids = _job_ids(args)
    try:
        poll = PollPolicy(
            interval=args.interval, max_interval=args.max_interval, timeout=args.timeout
        )
    except ConfigurationError as exc:
        raise CliError(Exit.BAD_INPUT, str(exc)) from None
    client = _client()

    def progress(status: str, waited: float) -> None:
        if not args.quiet:
            warn(f"compliance job: {status} after {waited:.0f} s")

    with open_compliance(url) as ledger:
        try:
            report = run_compliance_job(
                client, ids, ledger=ledger, type=args.type, name=args.name, poll=poll,
                progress=progress, sleep=sleep,
            )  # fmt: skip
        except (TwPolicyError, PayloadError) as exc:
            raise CliError(Exit.FINDINGS, str(exc)) from None
        applied = _apply_to(ledger, args)
    summary = (
        f"compliance job {report.job_id} ({report.type}): {report.uploaded} ID(s) checked, "
        f"{report.results} result(s); recorded {report.recorded.new} new event(s) "
        f"({report.recorded.duplicates} already known), each due within 24 hours"
    )
    return _report(args, out, report.to_dict(), applied, summary)


def _run_stream(args: argparse.Namespace, out: TextIO) -> int:
    url = store_url(args, COMPLIANCE)
    if args.out is not None and args.apply is None:
        raise CliError(Exit.BAD_INPUT, "--out names where --apply writes: give --apply PATH too")
    start = None if args.start_time is None else utc_time(args.start_time, "--start-time")
    end = None if args.end_time is None else utc_time(args.end_time, "--end-time")
    client = _client()
    with open_compliance(url) as ledger:
        report = ingest_compliance_stream(
            client, ledger=ledger, type=args.type, partitions=args.partition or range(1, 5),
            backfill_minutes=args.backfill_minutes, start_time=start, end_time=end,
        )  # fmt: skip
        applied = _apply_to(ledger, args)
    summary = (
        f"compliance stream ({args.type}): {report.lines} line(s), recorded "
        f"{report.recorded.new} new event(s) ({report.recorded.duplicates} already known, "
        f"{report.recorded.reversed} removal(s) reversed)"
    )
    return _report(args, out, report.to_dict(), applied, summary)


def _report(
    args: argparse.Namespace,
    out: TextIO,
    fetched: dict[str, Any],
    applied: ApplyReport | None,
    summary: str,
) -> int:
    """What a job or stream recorded (and applied): JSON, or a summary line and an applied line."""
    if args.format == "json":
        record = {**fetched, "applied": applied and applied.to_dict()}
        json.dump(record, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        out.write(summary + "\n")
        out.write(_applied_line(shown(args.out or args.apply or ""), applied))
    return Exit.OK


def _add_apply_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--apply", metavar="PATH", help="then apply the ledger to this JSON Lines dataset"
    )
    parser.add_argument(
        "--out", metavar="PATH", help="write the applied dataset here (default: in place)"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twpolicy comply`` and ``twpolicy compliance`` to the command line."""
    comply = subparsers.add_parser(
        "comply",
        help="record compliance events and apply them to a JSON Lines dataset (I.C.3)",
        description="Record compliance events (batch compliance-job results, v1.1 stream "
        "messages, v2 compliance-stream events, in any mix) in the compliance ledger and "
        "remove from a JSON Lines dataset (plain or gzip) everything the ledger says is "
        "deleted, protected, suspended, withheld or stripped of its location. The dataset is "
        f"rewritten atomically. The ledger is {COMPLIANCE.option} URL or ${COMPLIANCE.env}.",
    )
    comply.add_argument(
        "files", nargs="*", metavar="EVENTS", help="files of events (a Tweets job's results)"
    )
    comply.add_argument(
        "--users-job",
        action="append",
        metavar="FILE",
        help="results of a users batch compliance job (a result line does not say its type)",
    )
    comply.add_argument("--dataset", required=True, metavar="PATH", help="the JSON Lines dataset")
    comply.add_argument(
        "--out", metavar="PATH", help="write the result here (default: rewrite --dataset)"
    )
    add_jobs_option(comply)
    add_store_option(comply, COMPLIANCE)
    add_report_options(comply)
    comply.set_defaults(run=_run_comply)

    compliance = subparsers.add_parser(
        "compliance",
        help="the compliance ledger: pending, applied and overdue events",
        description="Read the compliance ledger.",
    )
    actions = compliance.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser(
        "status",
        help="list pending and overdue events with their age (exit 1 when any is overdue)",
        description="List pending and overdue compliance events with their age and deadline "
        "(with --all, applied and reversed ones too). An event still pending 24 hours after "
        "it arrived is overdue (I.C.3): the guard logs the refusal and the exit code is 1.",
    )
    status.add_argument("--all", action="store_true", help="list applied and reversed too")
    add_store_option(status, COMPLIANCE)
    add_report_options(status)
    status.set_defaults(run=_run_status)

    job = actions.add_parser(
        "job",
        help="run X's batch compliance job for IDs or a dataset and record the results",
        description="Create a batch compliance job on X, upload the IDs (--ids FILE, one a "
        "line, or the IDs of --dataset PATH), poll until it completes (growing interval, "
        f"progress on stderr), download the results and record them in the compliance "
        f"ledger, each due within 24 hours; with --apply PATH, apply them at once. "
        f"Authenticates with the app-only bearer token in ${BEARER_ENV}.",
    )
    job.add_argument("--ids", metavar="FILE", help="a file of IDs, one a line")
    job.add_argument("--dataset", metavar="PATH", help="a dataset whose IDs to check")
    job.add_argument("--type", choices=("tweets", "users"), default="tweets")
    job.add_argument("--name", help="the job's name on X")
    job.add_argument(
        "--interval", type=float, default=15.0, metavar="S", help="first wait between polls"
    )
    job.add_argument("--max-interval", type=float, default=300.0, metavar="S", help="longest wait")
    job.add_argument(
        "--timeout", type=float, default=6 * 3600.0, metavar="S", help="give up after this"
    )
    _add_apply_options(job)
    add_store_option(job, COMPLIANCE)
    add_report_options(job)
    job.set_defaults(run=_run_job)

    stream = actions.add_parser(
        "stream",
        help="read X's v2 compliance stream into the ledger",
        description="Read the v2 compliance stream of Tweets or users (every partition, or "
        "--partition N) until X closes it, recording each event once (a backfill's repeats "
        "are recognised). Run it under a supervisor that reconnects with --backfill-minutes "
        f"5. Authenticates with the app-only bearer token in ${BEARER_ENV}.",
    )
    stream.add_argument("--type", choices=("tweets", "users"), default="tweets")
    stream.add_argument(
        "--partition", type=int, choices=range(1, 5), action="append", help="1 to 4 (all)"
    )
    stream.add_argument("--backfill-minutes", type=int, choices=range(6), default=0, metavar="0-5")
    stream.add_argument("--start-time", metavar="TIME", help="ISO 8601, e.g. 2030-01-31T12:00:00Z")
    stream.add_argument("--end-time", metavar="TIME", help="ISO 8601")
    _add_apply_options(stream)
    add_store_option(stream, COMPLIANCE)
    add_report_options(stream)
    stream.set_defaults(run=_run_stream)

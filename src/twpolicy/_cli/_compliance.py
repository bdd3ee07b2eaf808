"""``twpolicy comply`` and ``twpolicy compliance status``: the 24-hour clock of I.C.3.

``comply`` records compliance events (batch compliance-job results, captured v1.1 stream
messages, v2 compliance-stream events, in any mix, as JSON Lines files, plain or compressed)
in the compliance ledger and applies everything the ledger says is gone to a JSON Lines
dataset, atomically. ``compliance status`` lists pending, applied, reversed and overdue
events with their ages; an overdue event is a refusal the guard logs, and exit code 1.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
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
    warn,
)
from twpolicy._cli._records import RecordReader, open_source
from twpolicy._enforce._compliance import JsonLinesApplier, apply_compliance, attempt_outcomes
from twpolicy._guard import Guard
from twpolicy._model import Action, ActionKind
from twpolicy._payloads._compliance import ComplianceEvent, compliance_events
from twpolicy._stores._compliance import ComplianceLedger, EventStatus, open_compliance
from twpolicy.rules import compliance_deadline

__all__ = ["register"]


def _read(
    name: str, job_type: Literal["tweets", "users"], bad: list[str]
) -> Iterator[ComplianceEvent]:
    try:
        source = open_source(name)
    except OSError as exc:
        raise CliError(Exit.BAD_INPUT, f"cannot read {shown(name)}: {exc.strerror}") from None
    try:
        reader = RecordReader(source.lines)
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
        applier = JsonLinesApplier(args.dataset, out=args.out)
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

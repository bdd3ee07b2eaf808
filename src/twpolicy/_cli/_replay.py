"""``twpolicy replay``: what a candidate configuration would have decided about a logged past.

Each recorded action (`twpolicy.Action.from_record`) is decided again by a guard built from
``--config`` (`twpolicy.Guard.from_config`, with no sinks, so replaying writes no log), with
the guard's clock set to the time the decision was recorded. `Guard.check` changes no store.
Rules that read stores (consent, quotas) read the stores the configuration names as they are
now. Rules that read the payload (``geo.standalone``, ``redistribution.ids_only``) cannot
run again, as the payload was never logged: their recorded outcome is carried over.

A decision that now lets through what was refused (or warned about) widens the policy; one
that now refuses what was let through narrows it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

import attrs

from twpolicy._cli._common import Exit, add_report_options, shown, warn
from twpolicy._cli._decisions import (
    MAX_LISTED,
    DecisionLog,
    add_log_files,
    add_log_filters,
    log_filter,
    status_of,
)
from twpolicy._guard import Guard
from twpolicy._model import Action, ActionKind, Effect, Outcome
from twpolicy.rules import Rule, RuleContext, default

__all__ = ["PAYLOAD_RULES", "register"]

#: The default rules that decide on the payload, which no log holds.
PAYLOAD_RULES = frozenset({"geo.standalone", "redistribution.ids_only"})
_RANK = {"refused": 0, "warned": 1, "allowed": 2}


class _Replaying:
    """The record being replayed: the guard's clock and the payload rules read it."""

    def __init__(self) -> None:
        self.record: dict[str, Any] = {}
        self.at: datetime | None = None

    def now(self) -> datetime:
        assert self.at is not None  # noqa: S101  # set before every check
        return self.at


@attrs.frozen(repr=False)
class _Recorded:
    """A payload rule replayed by its recorded outcome (or silence, if it had none)."""

    rule: Rule
    replaying: _Replaying

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def clause(self) -> str:
        return self.rule.clause

    @property
    def error(self) -> Any:
        return self.rule.error

    @property
    def kinds(self) -> frozenset[ActionKind]:
        return getattr(self.rule, "kinds", frozenset(ActionKind))

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        record = self.replaying.record
        for entry in record.get("rules") or ():
            if isinstance(entry, dict) and entry.get("rule") == self.rule.id:
                deciding = record.get("rule") == self.rule.id
                facts = entry.get("facts") if isinstance(entry.get("facts"), dict) else {}
                return Outcome(
                    Effect(entry["effect"]),
                    str(entry.get("reason", "")),
                    str(record.get("message", "")) if deciding else "",
                    str(record.get("remediation", "")) if deciding else "",
                    facts=facts,
                    clause=str(entry.get("clause", "")),
                )
        return None


def replay_guard(config: str, rules: Iterable[Rule] | None = None) -> tuple[Guard, _Replaying]:
    """A guard from ``config`` that replays: no sinks, the recorded time, payload rules kept."""
    replaying = _Replaying()
    chosen = [
        _Recorded(rule, replaying) if rule.id in PAYLOAD_RULES else rule
        for rule in (default() if rules is None else rules)
    ]
    guard = Guard.from_config(config, sinks=(), clock=replaying.now, rules=chosen)
    return guard, replaying


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": status_of(record),
        "effect": record["effect"],
        "rule": record.get("rule"),
        "clause": record.get("clause"),
        "reason": record.get("reason"),
        "policy_version": record.get("policy_version"),
    }


def _run(args: argparse.Namespace, out: TextIO) -> int:  # one pass, three outputs
    keep = log_filter(args)
    guard, replaying = replay_guard(args.config)
    log = DecisionLog(args.files, quiet=args.quiet)
    counts = {"replayed": 0, "unchanged": 0, "narrowing": 0, "widening": 0, "not_replayable": 0}
    changes: list[dict[str, Any]] = []
    for entry in log:
        if not keep(entry):
            continue
        try:
            action = Action.from_record(entry.record)
        except (ValueError, TypeError, KeyError) as exc:
            counts["not_replayable"] += 1
            if not args.quiet and counts["not_replayable"] <= MAX_LISTED:
                warn(f"twpolicy: {entry.where}: {exc}; not replayed")
            continue
        replaying.record, replaying.at = entry.record, entry.at
        now = guard.check(action).to_record()
        counts["replayed"] += 1
        was, then = status_of(entry.record), status_of(now)
        # The status says both what the policy said and whether it let the action through.
        if then == was:
            counts["unchanged"] += 1
            if not args.all:
                continue
            change = "unchanged"
        else:
            change = "widening" if _RANK[then] > _RANK[was] else "narrowing"
            counts[change] += 1
        item = {
            "change": change,
            "decision_id": entry.record["decision_id"],
            "timestamp": entry.record["timestamp"],
            "operation": entry.record.get("operation"),
            "acting_user_id": entry.record.get("acting_user_id"),
            "recipient": entry.record.get("recipient"),
            "was": _summary(entry.record),
            "now": _summary(now),
            "now_message": now["message"],
            "now_remediation": now["remediation"],
        }
        changes.append(item)
        if args.format == "text":
            _line(item, out)
    if args.format == "json":
        json.dump(
            {
                "config": shown(args.config),
                "policy_version": guard.policy_version,
                **counts,
                "read": log.read,
                "unreadable": log.unreadable,
                "changes": changes,
            },
            out,
            indent=2,
            ensure_ascii=False,
        )
        out.write("\n")
    else:
        out.write(
            f"\nreplayed {counts['replayed']:,} decisions against {shown(args.config)} "
            f"({guard.policy_version}): {counts['narrowing']:,} narrowing (now refused or "
            f"warned), {counts['widening']:,} WIDENING (now allowed), {counts['unchanged']:,} "
            f"unchanged, {counts['not_replayable']:,} not replayable; {log.summary()}\n"
        )
    code = Exit.FINDINGS if counts["narrowing"] or counts["widening"] else Exit.OK
    if counts["not_replayable"]:
        code = Exit.BAD_INPUT
    return max(code, log.exit)


def _line(item: dict[str, Any], out: TextIO) -> None:
    was, now = item["was"], item["now"]
    flag = {"widening": "WIDENS", "narrowing": "NARROWS", "unchanged": "same"}[item["change"]]
    who = item["acting_user_id"] or "-"
    if item["recipient"]:
        who += f" -> {item['recipient']}"
    out.write(
        f"{flag:<8} {item['timestamp'][:19]}Z  {item['operation']}  {who}: was {was['status']} "
        f"({was['rule']}: {was['reason']}), now {now['status']} ({now['rule']}: "
        f"{now['reason']})\n"
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twpolicy replay`` to the command line."""
    parser = subparsers.add_parser(
        "replay",
        help="re-decide the actions of a decision log under another configuration",
        description="Decide every recorded action again with a guard built from --config, "
        "as of the time it was recorded, and list what would now be decided differently: "
        "newly allowed actions are flagged as WIDENING. Rules that read the consent and "
        "quota ledgers read the stores the configuration names, as they are now; rules "
        "that read the payload keep their recorded outcome. Exit code 0 when nothing "
        "changes, 1 when something does, 2 when a record could not be read or replayed.",
    )
    add_log_files(parser)
    parser.add_argument(
        "--config",
        required=True,
        metavar="FILE.toml",
        help="the candidate configuration ([twpolicy] table, as for Guard.from_config)",
    )
    parser.add_argument(
        "--all", action="store_true", help="list unchanged decisions too, not only changes"
    )
    add_log_filters(parser)
    add_report_options(parser)
    parser.set_defaults(run=_run)

"""``twpolicy decisions``: read a decision log (`twpolicy.DecisionFile`) and filter it.

A reviewer asks "what was refused under I.C.2 last week, and for whom?": the log is read
with the shared record reader (any compression, damage reported by line), each record is
checked to be a decision, and the filters keep those that match every option given (an
option given twice matches either value). ``--format jsonl`` writes the matching records
as a smaller log that ``twpolicy replay`` and ``twpolicy report`` read like the original.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TextIO

import attrs

from twpolicy._cli._common import CliError, Exit, add_report_options, shown, utc_time, warn
from twpolicy._cli._records import RecordReader, open_source

__all__ = [
    "DecisionLog",
    "LogEntry",
    "add_log_files",
    "add_log_filters",
    "log_filter",
    "register",
    "status_of",
]

#: Unreadable records listed one by one on standard error; later ones are only counted.
MAX_LISTED = 20
_STATUSES = ("allowed", "refused", "warned")


@attrs.frozen
class LogEntry:
    """One decision of a log: its record, when it was made, and where it was read."""

    record: dict[str, Any]
    at: datetime
    where: str


def status_of(record: dict[str, Any]) -> str:
    """What happened: ``refused`` (blocked), ``warned`` (denied, let through), ``allowed``."""
    if not record["allowed"]:
        return "refused"
    return "warned" if record["effect"] == "deny" else "allowed"


def _problem(value: Any) -> str | None:
    """Why ``value`` is not a decision record, or ``None`` when it is one."""
    if not isinstance(value, dict):
        return "not a decision record (a JSON object)"
    for key, kind in (("decision_id", str), ("timestamp", str), ("effect", str)):
        if not isinstance(value.get(key), kind):
            return f"not a decision record (no {key})"
    if value["effect"] not in ("allow", "deny") or not isinstance(value.get("allowed"), bool):
        return "not a decision record (effect or allowed malformed)"
    for key in ("rule", "clause", "reason", "operation"):
        if not isinstance(value.get(key, ""), str):
            return f"not a decision record ({key} is not text)"
    return None


def _time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


class DecisionLog:
    """The decisions of one or more log files, in file order; what could not be read is counted.

    Iterate once. ``unreadable`` (records that are not decisions) and ``failed`` (files that
    could not be opened or broke off) are known afterwards; either makes the exit code 2.
    """

    def __init__(self, names: Sequence[str], *, quiet: bool = False) -> None:
        self.names = list(names)
        self.quiet = quiet
        self.read = 0
        self.unreadable = 0
        self.failed: list[str] = []

    @property
    def exit(self) -> Exit:
        """``BAD_INPUT`` when anything could not be read, else ``OK``."""
        return Exit.BAD_INPUT if self.unreadable or self.failed else Exit.OK

    def _say(self, text: str) -> None:
        if not self.quiet:
            warn(text)

    def __iter__(self) -> Iterator[LogEntry]:
        for name in self.names:
            yield from self._file(name)

    def _file(self, name: str) -> Iterator[LogEntry]:
        try:
            source = open_source(name)
        except OSError as exc:
            self.failed.append(name)
            self._say(f"twpolicy: cannot read {shown(name)}: {exc.strerror or exc}")
            return
        except CliError as exc:
            self.failed.append(name)
            self._say(str(exc) if str(exc).startswith("twpolicy") else f"twpolicy: {exc}")
            return
        reader = RecordReader(source.lines)
        try:
            for record in reader:
                self.read += 1
                why = record.error if record.error is not None else _problem(record.value)
                at = None if why is not None else _time(record.value["timestamp"])
                if why is None and at is None:
                    why = "not a decision record (timestamp is not an ISO time with a timezone)"
                if why is not None or at is None:
                    self.unreadable += 1
                    if self.unreadable <= MAX_LISTED:
                        self._say(f"twpolicy: {shown(name)}, {record.lines}: {why}; skipped")
                    continue
                yield LogEntry(record.value, at, f"{shown(name)}:{record.line}")
        finally:
            source.close()
        if reader.damage is not None:
            self.failed.append(name)
            self._say(f"twpolicy: {shown(name)}: {reader.damage.message}")

    def summary(self) -> str:
        """One line: what was read and skipped."""
        text = f"{self.read:,} records read from {len(self.names)} file(s)"
        if self.unreadable:
            text += f", {self.unreadable:,} not decisions (skipped)"
        if self.failed:
            text += f", {len(self.failed)} file(s) could not be read to the end"
        return text


# -- filters ---------------------------------------------------------------------------------


def add_log_filters(parser: argparse.ArgumentParser) -> None:
    """The options that select decisions from a log (shared by decisions, replay, report)."""
    group = parser.add_argument_group("which decisions (an option given twice matches either)")
    for option, what in (
        ("--clause", "the deciding clause, or a section of it (I.C matches I.C.2)"),
        ("--rule", "the deciding rule id (consent.required)"),
        ("--reason", "the deciding reason code (no_consent_record)"),
        ("--user", "the acting user ID"),
        ("--recipient", "the recipient of an export"),
        ("--operation", "the route or operation (POST /2/tweets)"),
    ):
        group.add_argument(option, action="append", metavar="VALUE", help=what)
    group.add_argument(
        "--effect", action="append", choices=("allow", "deny"), help="what the policy said"
    )
    group.add_argument(
        "--status",
        action="append",
        choices=_STATUSES,
        help="what happened: refused (blocked), warned (denied in warn or monitor mode, let "
        "through) or allowed",
    )
    group.add_argument("--since", metavar="TIME", help="decisions at or after TIME (ISO 8601)")
    group.add_argument("--until", metavar="TIME", help="decisions before TIME (ISO 8601)")


def _clause_matches(clause: str, wanted: list[str]) -> bool:
    return any(clause == w or clause.startswith(w.rstrip(".") + ".") for w in wanted)


def log_filter(args: argparse.Namespace) -> Callable[[LogEntry], bool]:
    """A predicate keeping the entries that match every filter option in ``args``."""
    since = utc_time(args.since, "--since") if args.since else None
    until = utc_time(args.until, "--until") if args.until else None
    exact = [
        (key, set(values))
        for key, values in (
            ("rule", args.rule),
            ("reason", args.reason),
            ("acting_user_id", args.user),
            ("recipient", args.recipient),
            ("operation", args.operation),
            ("effect", args.effect),
        )
        if values
    ]
    statuses = set(args.status or ())
    clauses = list(args.clause or ())

    def keep(entry: LogEntry) -> bool:
        record = entry.record
        if since is not None and entry.at < since:
            return False
        if until is not None and entry.at >= until:
            return False
        if any(record.get(key) not in values for key, values in exact):
            return False
        if statuses and status_of(record) not in statuses:
            return False
        return not clauses or _clause_matches(str(record.get("clause") or ""), clauses)

    return keep


# -- the command -----------------------------------------------------------------------------

_COLUMNS = (
    ("time", 20),
    ("status", 8),
    ("clause", 14),
    ("rule", 24),
    ("reason", 26),
    ("operation", 30),
    ("user", 20),
)


def _row(entry: LogEntry) -> list[str]:
    r = entry.record
    user = r.get("acting_user_id") or ""
    if r.get("recipient"):
        user = f"{user} -> {r['recipient']}" if user else f"-> {r['recipient']}"
    return [
        entry.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        status_of(r),
        str(r.get("clause") or "-"),
        str(r.get("rule") or "-"),
        str(r.get("reason") or "-"),
        str(r.get("operation") or "-"),
        str(user or "-"),
    ]


def _run(args: argparse.Namespace, out: TextIO) -> int:
    keep = log_filter(args)
    log = DecisionLog(args.files, quiet=args.quiet)
    counts = dict.fromkeys(_STATUSES, 0)
    matched: list[dict[str, Any]] = []
    if args.format == "table":
        out.write("  ".join(f"{name:<{width}}" for name, width in _COLUMNS).rstrip() + "\n")
    for entry in log:
        if not keep(entry):
            continue
        counts[status_of(entry.record)] += 1
        if args.format == "table":
            cells = _row(entry)
            line = "  ".join(
                f"{c:<{w}}" for c, (_, w) in zip(cells[:-1], _COLUMNS[:-1], strict=True)
            )
            out.write(f"{line}  {cells[-1]}\n")
        elif args.format == "jsonl":
            out.write(json.dumps(entry.record, ensure_ascii=False) + "\n")
        else:
            matched.append(entry.record)
    total = sum(counts.values())
    if args.format == "json":
        report = {
            "matched": total,
            **counts,
            "read": log.read,
            "unreadable": log.unreadable,
            "failed_files": [shown(n) for n in log.failed],
            "decisions": matched,
        }
        json.dump(report, out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif args.format == "table":
        out.write(
            f"\n{total:,} decisions matched ({counts['allowed']:,} allowed, "
            f"{counts['refused']:,} refused, {counts['warned']:,} warned); {log.summary()}\n"
        )
    return log.exit


def add_log_files(parser: argparse.ArgumentParser) -> None:
    """The LOG... arguments: decision-log files, compressed or not, ``-`` for stdin."""
    parser.add_argument(
        "files",
        nargs="+",
        metavar="LOG",
        help="decision logs written by twpolicy.DecisionFile (rotated files too, compressed "
        "or not; - reads standard input)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twpolicy decisions`` to the command line."""
    parser = subparsers.add_parser(
        "decisions",
        help="filter a decision log by clause, rule, reason, user, recipient, effect and time",
        description="List the decisions of decision logs (twpolicy.DecisionFile) that match "
        "every filter given. --format jsonl writes the matching records as a smaller log "
        "that replay and report read. Exit code 0, or 2 when a file or record could not be "
        "read.",
    )
    add_log_files(parser)
    add_log_filters(parser)
    add_report_options(parser, ("table", "json", "jsonl"))
    parser.set_defaults(run=_run)

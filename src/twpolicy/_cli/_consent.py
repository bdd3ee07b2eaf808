"""The ``twpolicy consent`` command: record, withdraw, inspect, verify and export consent.

For support staff and reviewers who work from a shell: the same ledger the application uses,
named by ``--consent-db URL`` or ``$TWPOLICY_CONSENT_DB``. Commands that only read open the
ledger without creating it; commands that write check their arguments before the ledger is
touched (a refused ``grant`` creates nothing). Exit codes follow `twpolicy._cli._common.Exit`:
1 when ``verify`` finds the ledger tampered with, 2 a usage error, 3 a ledger that cannot be
used.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from twpolicy._cli._common import (
    CONSENT,
    CliError,
    Exit,
    Progress,
    add_report_options,
    add_store_option,
    shown,
    store_url,
    utc_time,
)
from twpolicy._stores._consent import ConsentEvent, Ledger, Notice, open_ledger
from twpolicy.exceptions import ConfigurationError

__all__ = ["DB_ENV", "add_consent"]

#: The environment variable naming the consent ledger when ``--consent-db`` is not given.
DB_ENV = CONSENT.env


def _open(args: argparse.Namespace, *, create: bool) -> Ledger:
    return open_ledger(store_url(args, CONSENT), create=create)


def _dump(value: Any, out: TextIO) -> None:
    json.dump(value, out, indent=2, ensure_ascii=False)
    out.write("\n")


def _scopes(names: frozenset[str] | None) -> str:
    return "all scopes" if names is None else ", ".join(sorted(names))


def _notice(args: argparse.Namespace) -> Notice:
    if args.notice_file is not None:
        try:
            text = Path(args.notice_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConfigurationError(
                f"cannot read the notice text from {shown(args.notice_file)}: {why}"
            ) from None
        return Notice.from_text(
            args.notice,
            text,
            version=args.notice_version,
            url=args.notice_url,
            language=args.notice_language,
        )
    return Notice(
        args.notice, args.notice_version, args.notice_url, args.notice_sha256, args.notice_language
    )


def _grant(ledger: Ledger, args: argparse.Namespace, notice: Notice) -> Any:
    expires = None if args.expires_at is None else utc_time(args.expires_at, "--expires-at")
    if expires is not None and expires <= datetime.now(timezone.utc):
        raise CliError(
            Exit.BAD_INPUT,
            f"argument --expires-at: {args.expires_at} is not in the future; nothing recorded",
        )
    return ledger.grant(
        args.user_id,
        args.scopes,
        notice=notice,
        method=args.method,
        evidence=args.evidence,
        expires_at=expires,
        content_sha256=args.content_sha256,
        app_user_id=args.app_user_id,
    )


def _rehearse(args: argparse.Namespace, write: Any) -> None:
    """Run a write on a throwaway ledger first, so that bad arguments touch no real one."""
    url = store_url(args, CONSENT)  # a missing or unusable URL is said before anything else
    del url
    with open_ledger("memory://") as scratch:
        write(scratch)


def _run_grant(args: argparse.Namespace, out: TextIO) -> int:
    notice = _notice(args)
    _rehearse(args, lambda ledger: _grant(ledger, args, notice))
    with _open(args, create=True) as ledger:
        record = _grant(ledger, args, notice)
    if args.format == "json":
        _dump(record.to_dict(), out)
    else:
        out.write(
            f"recorded consent {record.record_id} of user {record.user_id} for "
            f"{_scopes(record.scopes)}\n"
        )
    return 0


def _run_revoke(args: argparse.Namespace, out: TextIO) -> int:
    _rehearse(args, lambda ledger: ledger.revoke(args.user_id, args.scopes or None))
    with _open(args, create=True) as ledger:
        events = ledger.revoke(args.user_id, args.scopes or None, reason=args.reason)
    if args.format == "json":
        _dump([event.to_dict() for event in events], out)
        return 0
    for event in events:
        if event.record_id:
            out.write(f"revoked {_scopes(event.scopes)} of consent {event.record_id}\n")
        else:
            out.write(
                f"user {event.user_id} had no active consent for {_scopes(event.scopes)}; "
                f"the opt-out is recorded as event {event.seq}\n"
            )
    return 0


def _run_show(args: argparse.Namespace, out: TextIO) -> int:
    at = None if args.at is None else utc_time(args.at, "--at")
    with _open(args, create=False) as ledger:
        states = ledger.status(args.user_id, at=at)
    if args.format == "json":
        _dump([state.to_dict() for state in states], out)
        return 0
    if not states:
        out.write(f"no consent recorded for user {args.user_id}\n")
        return 0
    out.write(f"{'record':<36}  {'status':<8}  {'granted_at':<32}  {'notice':<20}  scopes\n")
    for state in states:
        record = state.record
        notice = record.notice.id + (f" v{record.notice.version}" if record.notice.version else "")
        scopes = _scopes(state.active_scopes) if state.active_scopes else "-"
        out.write(
            f"{record.record_id:<36}  {state.status:<8}  {record.granted_at.isoformat():<32}  "
            f"{notice:<20}  {scopes}\n"
        )
    return 0


def _describe(event: ConsentEvent) -> str:
    text = event.type.value
    if event.scopes is not None or event.record_id == "":
        text += f" {_scopes(event.scopes)}"
    if event.reason:
        text += f" ({event.reason})"
    return text


def _run_history(args: argparse.Namespace, out: TextIO) -> int:
    with _open(args, create=False) as ledger:
        events = ledger.history(args.user_id)
    if args.format == "json":
        _dump([event.to_dict() for event in events], out)
        return 0
    out.write(f"{'seq':>6}  {'at':<32}  {'record':<36}  event\n")
    out.writelines(
        f"{event.seq:>6}  {event.at.isoformat():<32}  {event.record_id or '-':<36}  "
        f"{_describe(event)}\n"
        for event in events
    )
    return 0


def _run_verify(args: argparse.Namespace, out: TextIO) -> int:
    with _open(args, create=False) as ledger:
        bar = Progress("verify", None, show=Progress.wanted(args), unit="event")
        try:
            result = ledger.verify(
                expect_head=args.expect_head, progress=lambda count: bar.update(count, count)
            )
        finally:
            bar.close()
    if args.format == "json":
        _dump(
            {
                "ok": result.ok,
                "status": result.status,
                "events": result.events,
                "head": result.head,
                "anchor": result.anchor,
                "problems": list(result.problems),
            },
            out,
        )
    else:
        out.write(result.explain() + "\n")
    return 0 if result.ok else 1


def _run_export(args: argparse.Namespace, out: TextIO) -> int:
    with _open(args, create=False) as ledger:
        _dump(ledger.export_subject(args.user_id), out)
    return 0


def add_consent(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``twpolicy consent`` and its actions."""
    parser = subparsers.add_parser(
        "consent",
        help="record, revoke, show, verify and export users' consent",
        description="Work with the consent ledger (Developer Policy I.C.1): record and "
        "withdraw consent, show where a user's consent stands, check that the ledger was not "
        "tampered with, and export what it holds about a user. "
        f"The ledger is --consent-db URL or ${DB_ENV}.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    add_store_option(common, CONSENT)
    formats = argparse.ArgumentParser(add_help=False)
    add_report_options(formats)
    json_only = argparse.ArgumentParser(add_help=False)
    add_report_options(json_only, ("json",))

    grant = actions.add_parser(
        "grant",
        parents=[common, formats],
        help="record that a user consented",
        description="Record that USER_ID consented to SCOPEs after seeing a notice.",
    )
    grant.add_argument("user_id", metavar="USER_ID", help="the Twitter user ID")
    grant.add_argument("scopes", nargs="+", metavar="SCOPE", help="scope names (twpolicy.SCOPES)")
    grant.add_argument("--notice", required=True, metavar="ID", help="the notice shown")
    grant.add_argument("--notice-version", default="", metavar="VERSION")
    grant.add_argument("--notice-url", default="", metavar="URL")
    grant.add_argument("--notice-language", default="", metavar="LANG")
    text = grant.add_mutually_exclusive_group()
    text.add_argument(
        "--notice-file", metavar="PATH", help="a file holding the exact text shown (hashed)"
    )
    text.add_argument("--notice-sha256", metavar="HEX", help="SHA-256 of the text shown")
    grant.add_argument("--method", required=True, help="how consent was collected")
    grant.add_argument("--evidence", required=True, help="what proves it (request or Tweet ID)")
    grant.add_argument("--expires-at", metavar="TIME", help="ISO 8601 with a timezone")
    grant.add_argument("--content-sha256", metavar="HEX", help="bind to this content, one use")
    grant.add_argument("--app-user-id", metavar="ID", help="the user's ID in your application")
    grant.set_defaults(run=_run_grant)

    revoke = actions.add_parser(
        "revoke",
        parents=[common, formats],
        help="withdraw a user's consent",
        description="Withdraw USER_ID's consent for SCOPEs (all scopes if none given). "
        "With nothing to withdraw, the opt-out is recorded anyway.",
    )
    revoke.add_argument("user_id", metavar="USER_ID")
    revoke.add_argument("scopes", nargs="*", metavar="SCOPE")
    revoke.add_argument("--reason", default="", help="why (recorded)")
    revoke.set_defaults(run=_run_revoke)

    show = actions.add_parser(
        "show",
        parents=[common, formats],
        help="show where a user's consent stands",
        description="Show each of USER_ID's consent records and its status.",
    )
    show.add_argument("user_id", metavar="USER_ID")
    show.add_argument("--at", metavar="TIME", help="as of this time (ISO 8601; default now)")
    show.set_defaults(run=_run_show)

    history = actions.add_parser(
        "history",
        parents=[common, formats],
        help="list every event about a user",
        description="List every ledger event about USER_ID, in order.",
    )
    history.add_argument("user_id", metavar="USER_ID")
    history.set_defaults(run=_run_history)

    verify = actions.add_parser(
        "verify",
        parents=[common, formats],
        help="check the ledger was not tampered with (exit 1 if it was)",
        description="Check every event's hash and link, and that the history is consistent. "
        "Exit 0 when intact, 1 when an event was changed, removed, inserted or reordered.",
    )
    verify.add_argument(
        "--progress", action="store_true", help="report progress on stderr even if not a TTY"
    )
    verify.add_argument(
        "--expect-head",
        metavar="SEQ:HASH",
        help="an anchor kept elsewhere (the head a past verify reported): exit 1 unless the "
        "chain still passes through it, so a truncated or rebuilt ledger is caught",
    )
    verify.set_defaults(run=_run_verify)

    export = actions.add_parser(
        "export",
        parents=[common, json_only],
        help="export everything held about a user, as JSON",
        description="Print, as JSON, every record (with its status and Kantara consent "
        "receipt) and every event the ledger holds about USER_ID.",
    )
    export.add_argument("user_id", metavar="USER_ID")
    export.set_defaults(run=_run_export)

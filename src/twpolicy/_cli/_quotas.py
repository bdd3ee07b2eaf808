"""``twpolicy quotas``: register recipients and read their quotas from the command line.

So that a researcher who charges ``twpolicy dehydrate --recipient`` runs to a ledger can
record a recipient's entity and standing, and see what is left, without writing Python.
The ledger is ``--quota-db URL`` or ``$TWPOLICY_QUOTA_DB``; ``show`` and ``list`` only read
it and never create one.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from twpolicy._cli._common import QUOTA, CliError, Exit, add_report_options, add_store_option
from twpolicy._cli._common import store_url as _store_url
from twpolicy._stores._quotas import QuotaLedger, QuotaUsage, Recipient, Standing, open_quotas

__all__ = ["register"]

_EXEMPT = frozenset(s.value for s in Standing if s.exempt)


def _recipient_record(recipient: Recipient) -> dict[str, Any]:
    when = recipient.registered_at
    return {**recipient.facts(), "registered_at": None if when is None else when.isoformat()}


def _usage_record(usage: QuotaUsage) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "quota": usage.quota,
        "clause": usage.clause,
        "counted_for": usage.key,
        "used": usage.used,
        "limit": usage.limit,
        "remaining": usage.remaining,
        "next_release_at": iso(usage.next_release_at),
        "resets_at": iso(usage.resets_at),
    }


def _register(quotas: QuotaLedger, args: argparse.Namespace) -> Recipient:
    return quotas.register(
        args.name,
        entity=args.entity,
        standing=args.standing,
        approved_by=args.approved_by,
        reference=args.reference,
        terms_evidence=args.terms_evidence,
    )


def _check_register(args: argparse.Namespace) -> None:
    """Refuse a registration before any ledger is touched, naming the missing flags."""
    if args.standing in _EXEMPT and not (args.approved_by and args.reference):
        raise CliError(
            Exit.BAD_INPUT,
            f"--standing {args.standing} exempts the recipient from the ID cap: say who "
            "approved it and where that is written down, with --approved-by NAME and "
            "--reference WHERE",
        )
    with open_quotas("memory://") as scratch:  # the library's own checks, on a scratch ledger
        _register(scratch, args)


def _run(args: argparse.Namespace, out: TextIO) -> int:
    url = _store_url(args, QUOTA)
    if args.action == "register":
        _check_register(args)
    with open_quotas(url, create=args.action == "register") as quotas:
        if args.action == "register":
            record: Any = _recipient_record(_register(quotas, args))
        elif args.action == "show":
            record = {
                **_recipient_record(quotas.recipient(args.name)),
                "quotas": [_usage_record(u) for u in quotas.usage(args.name)],
            }
        else:
            record = [_recipient_record(r) for r in quotas.recipients()]
    if args.format == "json":
        json.dump(record, out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        _text(args.action, record, out)
    return Exit.OK


def _text(action: str, record: Any, out: TextIO) -> None:
    if action == "list":
        if not record:
            out.write("no recipients registered\n")
        out.writelines(
            f"{item['recipient']}  {item['standing']}  entity {item['entity']}\n" for item in record
        )
        return
    verb = "registered" if action == "register" else "recipient"
    out.write(f"{verb} {record['recipient']}: {record['standing']}, entity {record['entity']}\n")
    if record.get("approved_by"):
        out.write(f"  approved by {record['approved_by']} ({record.get('reference') or '-'})\n")
    for usage in record.get("quotas", ()):
        limit = "no limit" if usage["limit"] is None else f"limit {usage['limit']:,}"
        out.write(
            f"  {usage['quota']} ({usage['clause']}): {usage['used']:,} used, {limit}"
            f", counted for {usage['counted_for']}\n"
        )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twpolicy quotas`` to the command line."""
    parser = subparsers.add_parser(
        "quotas",
        help="register redistribution recipients and show their quotas",
        description="Register who receives exported IDs (their entity and standing) and show "
        f"how much of each rolling quota they have used. The ledger is {QUOTA.option} URL or "
        f"${QUOTA.env}.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("register", "register a recipient, or replace its record"),
        ("show", "show a recipient's standing and quota usage"),
        ("list", "list the registered recipients"),
    ):
        sub = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        add_store_option(sub, QUOTA)
        add_report_options(sub)
        if name == "list":
            continue
        sub.add_argument("name", metavar="RECIPIENT")
        if name == "register":
            sub.add_argument("--entity", help="the organisation it belongs to (default: itself)")
            sub.add_argument(
                "--standing", choices=[s.value for s in Standing], default=Standing.STANDARD.value
            )
            sub.add_argument("--approved-by", help="who approved an exempt standing")
            sub.add_argument("--reference", help="where the approval is written down")
            sub.add_argument(
                "--terms-evidence", help="where the recipient accepted Twitter's terms"
            )
    parser.set_defaults(run=_run)

"""``twpolicy quotas``: register recipients and read their quotas from the command line.

So that a researcher who charges ``twpolicy dehydrate --recipient`` runs to a ledger can
record a recipient's entity and standing, and see what is left, without writing Python.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from twpolicy._stores._quotas import QuotaUsage, Recipient, Standing, open_quotas

__all__ = ["register"]


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


def _run(args: argparse.Namespace, out: TextIO) -> int:
    with open_quotas(args.ledger) as quotas:
        if args.action == "register":
            record: Any = _recipient_record(
                quotas.register(
                    args.name,
                    entity=args.entity,
                    standing=args.standing,
                    approved_by=args.approved_by,
                    reference=args.reference,
                    terms_evidence=args.terms_evidence,
                )
            )
        elif args.action == "show":
            record = {
                **_recipient_record(quotas.recipient(args.name)),
                "quotas": [_usage_record(u) for u in quotas.usage(args.name)],
            }
        else:
            record = [_recipient_record(r) for r in quotas.recipients()]
    json.dump(record, out, indent=2)
    out.write("\n")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twpolicy quotas`` to the command line."""
    parser = subparsers.add_parser(
        "quotas",
        help="register redistribution recipients and show their quotas",
        description="Register who receives exported IDs (their entity and standing) and show "
        "how much of each rolling quota they have used. Prints JSON.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("register", "register a recipient, or replace its record"),
        ("show", "show a recipient's standing and quota usage"),
        ("list", "list the registered recipients"),
    ):
        sub = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        sub.add_argument("--ledger", required=True, help="the quota ledger's URL")
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

"""Automated contact needs the recipient's opt-in (restricted uses, "Automation"; I.E.2).

"Always get a user's explicit consent before sending them automated replies or messages;
immediately respect user requests to opt out." An automated client (``automated=True``, or
code under `twpolicy.automated()`) marks its requests with the ``automated`` fact and the
people they reach (``automated_recipients``: a DM's participant, the author of the Tweet
replied to, mentioned users). ``automation.opt_in`` allows such a request only when every
recipient has a recorded, unrevoked ``automated.write`` consent; a recipient who could not
be resolved is refused (fail closed). The consent is the recipient's, not the acting user's:
it is read from the ledger for each recipient, so an opt-out (a revoke) refuses the next
automated contact in this process at once and in others within the ledger's ``cache_ttl``.
"""

from __future__ import annotations

import shlex
from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy.exceptions import ConsentRequired, PolicyViolation
from twpolicy.rules._context import Rule, RuleContext
from twpolicy.rules._remedies import shell_store

__all__ = ["AUTOMATED_SCOPE", "require_recipient_opt_in"]

#: The scope a recipient records to receive automated replies, mentions and messages.
AUTOMATED_SCOPE = "automated.write"


@attrs.frozen(repr=False)
class _RequireRecipientOptIn:
    id: ClassVar[str] = "automation.opt_in"
    clause: ClassVar[str] = "RU.automation.a"
    error: ClassVar[type[PolicyViolation]] = ConsentRequired
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})

    def __repr__(self) -> str:
        return "twpolicy.rules.require_recipient_opt_in()"

    def static_for(self, action: Action) -> bool:
        """Only automated requests read the ledger."""
        return not action.facts.get("automated")

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        facts = action.facts
        if not facts.get("automated"):
            return None
        unresolved = facts.get("automated_unresolved")
        if unresolved:
            return Outcome.deny(
                "recipient_unknown",
                f"automated {action.operation} contacts {unresolved}, whose user ID could not "
                "be found, so their opt-in to automated contact cannot be checked; it was "
                "refused (fail closed).",
                "address the recipient by user ID (a DM to participant_id=, a reply to a "
                "Tweet the client can look up), or check that the Tweet and handles exist.",
                facts={"unresolved": str(unresolved)},
            )
        recipients = str(facts.get("automated_recipients") or "").split()
        if not recipients:
            return None
        ledger = context.consent
        if ledger is None:
            return Outcome.deny(
                "no_consent_ledger",
                f"automated {action.operation} needs its recipients' opt-in, but the guard "
                "has no consent ledger.",
                "build the guard with a ledger: twpolicy.Guard(ledger=twpolicy.open_ledger(url)).",
            )
        for recipient in recipients:
            if ledger.check(recipient, AUTOMATED_SCOPE, at=context.now) is None:
                return self._missing(action, recipient, ledger)
        return Outcome.allow("recipients_opted_in", facts={"recipients": len(recipients)})

    def _missing(self, action: Action, recipient: str, ledger: object) -> Outcome:
        python = (
            f"guard.consent.grant({recipient!r}, [{AUTOMATED_SCOPE!r}], "
            "notice=twpolicy.Notice('NOTICE_ID'), method='METHOD', evidence='EVIDENCE')"
        )
        how = f"in Python {python}"
        store = shell_store(ledger, "--consent-db", "TWPOLICY_CONSENT_DB")
        if store is not None:
            how += (
                f", or from a shell `twpolicy consent grant {shlex.quote(recipient)} "
                f"{AUTOMATED_SCOPE} --notice NOTICE_ID --method METHOD --evidence "
                f"EVIDENCE{store}`"
            )
        return Outcome.deny(
            "no_automated_opt_in",
            f"user {recipient} has not opted in to automated replies, mentions or messages "
            f"(no recorded, unrevoked {AUTOMATED_SCOPE!r} consent of theirs), or has opted "
            f"out; automated {action.operation} to them was refused.",
            f"send only to users who asked for it: when user {recipient} opts in (a keyword "
            f"reply or DM, a sign-up form), record it {how}; replace NOTICE_ID, METHOD and "
            "EVIDENCE with the notice shown, how they opted in and what proves it. Do not "
            "contact a user who opted out.",
            facts={"recipient": recipient, "scope": AUTOMATED_SCOPE},
        )


def require_recipient_opt_in() -> Rule:
    """Refuse automated replies, mentions and DMs to anyone who has not opted in (RU.automation)."""
    return _RequireRecipientOptIn()

"""Redistribution terms: who may receive exports, for how long, and never the public.

I.F.2.b: content given to a third party stays under the policy, and the recipient must have
agreed to Twitter's terms, privacy policy, Developer Agreement and Policy before receiving
it. I.F.2.b.ii: IDs are not handed out so that others keep Tweets beyond 30 days, unless for
an academic institution's non-commercial research or with Twitter's written permission.
The restricted-use page: hydrated content is never made publicly available (a blog post, a
public repository).

``redistribution.terms`` reads the recipient's record in the quota ledger (`Recipient`:
``terms_evidence``, ``standing``) and what the export declares in its facts:
``retention_days`` (how long the recipient keeps the data) and ``public`` (whether the
recipient publishes what it receives). It writes nothing.
"""

from __future__ import annotations

import shlex
from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._stores._quotas import Recipient
from twpolicy.exceptions import PolicyViolation, TermsNotAccepted
from twpolicy.rules._context import RuleContext
from twpolicy.rules._remedies import shell_store

__all__ = ["MAX_RETENTION_DAYS", "require_recipient_terms"]

#: Days a recipient may keep redistributed content without an exempt standing (I.F.2.b.ii).
MAX_RETENTION_DAYS = 30


def _register(ledger: object, recipient: Recipient, **changes: str) -> str:
    """The command that re-registers ``recipient`` with ``changes``, keeping the rest."""
    fields = {
        "entity": recipient.entity if recipient.entity != recipient.name else None,
        "standing": recipient.standing.value if recipient.standing.exempt else None,
        "approved_by": recipient.approved_by,
        "reference": recipient.reference,
        "terms_evidence": recipient.terms_evidence,
        **changes,
    }
    given = {k: v for k, v in fields.items() if v is not None and v}
    store = shell_store(ledger, "--quota-db", "TWPOLICY_QUOTA_DB")
    if store is not None:
        options = "".join(f" --{k.replace('_', '-')} {shlex.quote(v)}" for k, v in given.items())
        return f"`twpolicy quotas register {shlex.quote(recipient.name)}{options}{store}`"
    keywords = "".join(f", {k}={v!r}" for k, v in given.items())
    return f"quotas.register({recipient.name!r}{keywords})"


@attrs.frozen(repr=False)
class _RecipientTerms:
    id: ClassVar[str] = "redistribution.terms"
    clause: ClassVar[str] = "I.F.2.b"
    error: ClassVar[type[PolicyViolation]] = TermsNotAccepted
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.EXPORT})

    def __repr__(self) -> str:
        return "twpolicy.rules.require_recipient_terms()"

    def static_for(self, action: Action) -> bool:
        """Exports read the recipients registry each time; anything else is not judged."""
        return action.kind is not ActionKind.EXPORT

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: PLR0911  # one return per refusal
        if action.kind is not ActionKind.EXPORT or action.recipient is None:
            return None
        who = action.recipient
        if action.facts.get("content") == "objects" and action.facts.get("public") is not False:
            outcome = Outcome.deny(
                "hydrated_to_public",
                f"{action.operation} would give hydrated objects to {who}, who is public or "
                "not declared private (facts['public'] is "
                f"{action.facts.get('public')!r}); hydrated content may never be made "
                "publicly available (a blog post, a public repository).",
                "share IDs (twpolicy.dehydrate) for public release; for a private recipient, "
                "say so: facts={..., 'public': False}.",
            )
            return attrs.evolve(outcome, clause="RU.redistribution.2")
        ledger = context.quotas
        if ledger is None:
            return Outcome.deny(
                "no_recipients_registry",
                f"{action.operation} exports to {who}, but the guard has no quota ledger, "
                "whose recipients registry records acceptance of the terms.",
                "build the guard with one: twpolicy.Guard(quotas=twpolicy.open_quotas(url)).",
            )
        recipient = ledger.recipient(who)
        facts = recipient.facts()
        if not recipient.terms_evidence:
            return Outcome.deny(
                "terms_not_accepted",
                f"{action.operation} exports to {who}, who has no recorded acceptance of "
                "Twitter's Terms of Service, Privacy Policy, Developer Agreement and Policy; "
                "recipients must accept them before receiving Twitter content.",
                "once the recipient has accepted them, record where that is written down "
                "(EVIDENCE: a signed form, a ticket, a click-through record): "
                + _register(ledger, recipient, terms_evidence="EVIDENCE")
                + ".",
                facts=facts,
            )
        days = action.facts.get("retention_days")
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            return Outcome.deny(
                "retention_undeclared",
                f"{action.operation} exports to {who} without declaring how long the recipient "
                f"keeps the data (facts['retention_days'] is {days!r}); past "
                f"{MAX_RETENTION_DAYS} days needs academic standing or written permission.",
                "declare it: facts={..., 'retention_days': N}, a whole number of days.",
                facts=facts,
            )
        if days > MAX_RETENTION_DAYS and not recipient.standing.exempt:
            outcome = Outcome.deny(
                "retention_over_30_days",
                f"{action.operation} lets {who} keep the data {days} days, over "
                f"{MAX_RETENTION_DAYS}, and {who} has standing {recipient.standing.value}: "
                "Tweet IDs may not be handed out to keep and analyse Tweets past 30 days.",
                f"declare at most {MAX_RETENTION_DAYS} days; if the recipient is an academic "
                "institution doing non-commercial research, or Twitter permitted it in "
                "writing, register that standing: "
                + _register(
                    ledger,
                    recipient,
                    standing="academic_noncommercial",
                    approved_by="APPROVER",
                    reference="REFERENCE",
                )
                + " (standing written_permission instead, for Twitter's written permission).",
                facts={**facts, "retention_days": days},
            )
            return attrs.evolve(outcome, clause="I.F.2.b.ii")
        return Outcome.allow("terms_accepted", facts={**facts, "retention_days": days})


def require_recipient_terms() -> _RecipientTerms:
    """Export only to recipients who accepted the terms, for a declared retention, in private."""
    return _RecipientTerms()

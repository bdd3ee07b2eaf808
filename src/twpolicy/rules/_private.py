"""Non-public content: kept only with consent (I.C.1.d), shared only with its owner's (I.C.1.e).

``nonpublic.consent`` reads what the payload shows (`twpolicy._payloads._private`): a store
of DMs or protected users' Tweets needs the acting user's recorded ``nonpublic.store``
consent; an export of them needs ``protected.share`` consent from every user they belong to
(a DM's sender and recipients, a protected Tweet's author).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._payloads._private import NonPublicFinding, nonpublic_findings
from twpolicy.exceptions import NonPublicContentError, PolicyViolation
from twpolicy.rules._context import Rule, RuleContext

__all__ = ["protect_nonpublic"]

_WHAT = {
    "dm": "a Direct Message",
    "protected_tweet": "a protected user's Tweet",
    "ids": "IDs reduced from non-public content",
}
#: The export fact naming whose non-public content IDs were reduced from (`ids_only`).
OWNERS_FACT = "nonpublic_owners"


def _grant(user: str, scope: str) -> str:
    return (
        f"guard.consent.grant({user!r}, [{scope!r}], notice=twpolicy.Notice.from_text(ID, TEXT), "
        "method=..., evidence=...)"
    )


@attrs.frozen(repr=False)
class _ProtectNonPublic:
    id: ClassVar[str] = "nonpublic.consent"
    clause: ClassVar[str] = "I.C.1.d"
    error: ClassVar[type[PolicyViolation]] = NonPublicContentError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset(
        {ActionKind.STORE, ActionKind.EXPORT, ActionKind.PUBLISH}
    )

    def __repr__(self) -> str:
        return "twpolicy.rules.protect_nonpublic()"

    def static_for(self, action: Action) -> bool:
        """Silent for actions of other kinds or without content; else it reads the ledger."""
        return action.kind not in self.kinds or (
            action.payload is None and OWNERS_FACT not in action.facts
        )

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        if self.static_for(action):
            return None
        findings = [] if action.payload is None else nonpublic_findings(action.payload)
        noted = action.facts.get(OWNERS_FACT)
        if action.kind is ActionKind.EXPORT and isinstance(noted, str) and noted:
            owners = tuple(o for o in noted.split(",") if o != "unknown")
            findings.append(NonPublicFinding("", "ids", owners if "unknown" not in noted else ()))
        if not findings:
            return None  # nothing non-public: no opinion (the more specific rules report)
        if action.kind is ActionKind.STORE:
            return self._store(action, context, findings)
        return self._share(action, context, findings)

    @staticmethod
    def _facts(first: NonPublicFinding, count: int) -> dict[str, str | int | None]:
        return {"pointer": first.pointer, "nonpublic": first.what, "found": count}

    def _store(
        self, action: Action, context: RuleContext, findings: list[NonPublicFinding]
    ) -> Outcome:
        first = findings[0]
        user = action.acting_user_id
        held = f"{_WHAT[first.what]} at {first.pointer or '/'}"
        facts = self._facts(first, len(findings))
        if user is None:
            return Outcome.deny(
                "nonpublic_no_acting_user",
                f"{action.operation} would keep {held}, which is not public, without saying on "
                "whose behalf: keeping it needs that user's consent.",
                "pass acting_user_id= to check_storable, @no_standalone_geo or GeoSafeMapping, "
                "and record that user's nonpublic.store consent.",
                facts=facts,
            )
        if context.consent is None or context.consent.check(user, "nonpublic.store") is None:
            return Outcome.deny(
                "nonpublic_without_consent",
                f"{action.operation} would keep {held} for user {user}, who has not consented "
                "to keeping non-public content.",
                f"ask the user and record it: {_grant(user, 'nonpublic.store')}; or leave the "
                "non-public content out.",
                facts=facts,
            )
        return Outcome.allow("nonpublic_store_consented", facts={"found": len(findings)})

    def _share(
        self, action: Action, context: RuleContext, findings: list[NonPublicFinding]
    ) -> Outcome:
        ledger = context.consent
        for finding in findings:
            facts = self._facts(finding, len(findings))
            held = f"{_WHAT[finding.what]} at {finding.pointer or '/'}"
            if not finding.owners:
                outcome = Outcome.deny(
                    "nonpublic_owner_unknown",
                    f"{action.operation} would share {held}, but the payload does not say "
                    "whose it is, so their consent cannot be checked.",
                    "include the author or participants' IDs, or leave the content out.",
                    facts=facts,
                )
                return attrs.evolve(outcome, clause="I.C.1.e")
            for owner in finding.owners:
                if ledger is None or ledger.check(owner, "protected.share") is None:
                    outcome = Outcome.deny(
                        "protected_share_without_consent",
                        f"{action.operation} would share {held}; user {owner}, whose content "
                        "it is, has not consented to its being shared or published.",
                        f"ask that user and record it: {_grant(owner, 'protected.share')}; or "
                        "leave the content out.",
                        facts={**facts, "owner": owner},
                    )
                    return attrs.evolve(outcome, clause="I.C.1.e")
        return Outcome.allow("protected_share_consented", facts={"found": len(findings)})


def protect_nonpublic() -> Rule:
    """Keep DMs and protected Tweets only with consent; share them only with their owners'."""
    return _ProtectNonPublic()

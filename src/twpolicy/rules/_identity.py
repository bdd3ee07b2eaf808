"""Off-platform identity (I.C.2, RU.off-twitter-matching) and deletion (I.C.3).

``identity.link`` decides on linking a Twitter account to an identity elsewhere: allowed
with the user's express opt-in (recorded ``identity.link`` consent), or with a basis of
information the user gave directly or public data, backed by evidence; refused for records
about people with no prior relationship (third-party or purchased data) and anything else.
``deletion.allowed`` lets a deletion through: removing data never breaks the policy, and
the decision log then shows it happened.
"""

from __future__ import annotations

from typing import ClassVar, Final

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy.exceptions import IdentityLinkError, PolicyViolation
from twpolicy.rules._context import Rule, RuleContext

__all__ = ["LINK_BASES", "allow_deletion", "govern_identity_links"]

#: The bases `link_identity` knows; only the first three can allow a link.
LINK_BASES: Final = ("opt_in", "user_provided", "public", "third_party", "purchased")
_EVIDENCED: Final = frozenset({"user_provided", "public"})
_NO_RELATIONSHIP: Final = frozenset({"third_party", "purchased"})


@attrs.frozen(repr=False)
class _GovernIdentityLinks:
    id: ClassVar[str] = "identity.link"
    clause: ClassVar[str] = "I.C.2"
    error: ClassVar[type[PolicyViolation]] = IdentityLinkError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.LINK_IDENTITIES})

    def __repr__(self) -> str:
        return "twpolicy.rules.govern_identity_links()"

    def static_for(self, action: Action) -> bool:
        """Only an opt-in reads the ledger; every other basis is judged on the facts."""
        return action.kind is not ActionKind.LINK_IDENTITIES or action.facts.get("basis") != (
            "opt_in"
        )

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: PLR0911  # one return per basis
        if action.kind is not ActionKind.LINK_IDENTITIES:
            return None
        basis = action.facts.get("basis")
        user = action.acting_user_id
        facts = {"basis": basis if isinstance(basis, str) else None}
        if basis in _NO_RELATIONSHIP:
            return Outcome.deny(
                "no_prior_relationship",
                f"{action.operation} would tie user {user}'s Twitter account to {basis} "
                "records: data about people with no prior relationship to the application "
                "may not be matched to their Twitter accounts.",
                "link only identities the user gave you, public data they would expect to be "
                "used this way, or after their express opt-in: record it with "
                f"guard.consent.grant({user!r}, ['identity.link'], notice=..., method=..., "
                "evidence=...) and link with basis='opt_in'.",
                facts=facts,
            )
        if basis not in LINK_BASES:
            return Outcome.deny(
                "basis_unknown",
                f"{action.operation} gives no known basis for linking ({basis!r}), so it "
                "cannot be shown to be allowed.",
                f"pass basis= one of {', '.join(LINK_BASES[:3])} (with evidence=).",
                facts=facts,
            )
        if user is None:
            return Outcome.deny(
                "no_acting_user",
                f"{action.operation} does not say whose Twitter account is linked.",
                "pass the Twitter user ID as link_identity's first argument.",
                facts=facts,
            )
        if not action.facts.get("evidence"):
            return Outcome.deny(
                "evidence_missing",
                f"{action.operation} claims basis {basis!r} for user {user} without evidence.",
                "pass evidence= naming where the basis is shown (the form the user filled in, "
                "the public page, the consent record).",
                facts=facts,
            )
        if basis in _EVIDENCED:
            return Outcome.allow(f"link_{basis}", facts=facts)
        if context.consent is None or context.consent.check(user, "identity.link") is None:
            return Outcome.deny(
                "opt_in_missing",
                f"{action.operation} relies on user {user}'s opt-in, but no active "
                "identity.link consent is recorded for them.",
                f"record it when the user opts in: guard.consent.grant({user!r}, "
                "['identity.link'], notice=..., method=..., evidence=...).",
                facts=facts,
            )
        return Outcome.allow("link_opt_in", facts=facts)


def govern_identity_links() -> Rule:
    """Allow off-platform identity links only on a basis the policy accepts (I.C.2)."""
    return _GovernIdentityLinks()


@attrs.frozen(repr=False)
class _AllowDeletion:
    id: ClassVar[str] = "deletion.allowed"
    clause: ClassVar[str] = "I.C.3"
    error: ClassVar[type[PolicyViolation]] = PolicyViolation
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.DELETE_CONTENT})

    def __repr__(self) -> str:
        return "twpolicy.rules.allow_deletion()"

    def static_for(self, action: Action) -> bool:  # noqa: ARG002  # protocol
        """Judged on the kind alone."""
        return True

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        if action.kind is not ActionKind.DELETE_CONTENT:
            return None
        return Outcome.allow("deletion_allowed")


def allow_deletion() -> Rule:
    """Let deletions through, logged: removing data never breaks the policy (I.C.3)."""
    return _AllowDeletion()

"""The rules the guard evaluates: each small, each naming its clause.

A rule looks at one `Action` and returns an `Outcome` (or ``None`` when it has nothing to say
about that action). It never raises on purpose: a rule that raises is turned into a deny with
reason ``rule_error`` by the guard, so a broken rule can only refuse, never let through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Protocol

import attrs

from twpolicy._geo import forbid_standalone_geo
from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._redistribution import recipient_quota, redistribute_ids_only
from twpolicy._scopes import SCOPES
from twpolicy.exceptions import ConsentRequired, PolicyViolation, UnknownRoute

if TYPE_CHECKING:
    from twpolicy._guard import Guard

__all__ = ["Rule", "default_rules", "forbid_standalone_geo", "known_endpoint", "require_consent"]


class Rule(Protocol):
    """What the guard needs of a rule.

    Attributes:
        id: a stable identifier (``"consent.required"``), used for per-rule modes and logs.
        clause: the policy clause the rule enforces (``"I.C.1.a"``).
        error: the `PolicyViolation` subclass raised when the rule's enforced deny decides.

    A rule may also define ``static_for(action) -> bool``: ``True`` promises that its outcome
    for that action object never changes (it reads nothing but the action), so the guard may
    reuse it. Rules without it are evaluated every time.
    """

    @property
    def id(self) -> str: ...

    @property
    def clause(self) -> str: ...

    @property
    def error(self) -> type[PolicyViolation]: ...

    def evaluate(self, action: Action, guard: Guard) -> Outcome | None:
        """Return this rule's outcome for ``action``, or ``None`` when it does not apply."""
        ...


@attrs.frozen(repr=False)
class _RequireConsent:
    id: ClassVar[str] = "consent.required"
    clause: ClassVar[str] = "I.C.1.a"
    error: ClassVar[type[PolicyViolation]] = ConsentRequired

    def __repr__(self) -> str:
        return "twpolicy.rules.require_consent()"

    def static_for(self, action: Action) -> bool:
        """Without scopes the rule says nothing, whatever the ledger holds."""
        return not action.scopes

    def evaluate(self, action: Action, guard: Guard) -> Outcome | None:
        if not action.scopes:
            return None
        user = action.acting_user_id
        if user is None:
            return Outcome.deny(
                "no_acting_user",
                f"{action.operation} acts on a user's behalf, but no acting user is known.",
                "pass acting_user_id= to the client or decorator, so that the user's recorded "
                "consent can be checked.",
            )
        ledger = guard.consent
        if ledger is None:
            return Outcome.deny(
                "no_consent_ledger",
                f"{action.operation} needs consent, but the guard has no consent ledger.",
                "build the guard with a ledger: twpolicy.Guard(ledger=twpolicy.open_ledger(url)).",
            )
        now = guard.now()
        record_ids = []
        content_bound = []
        for scope in sorted(action.scopes):
            record = ledger.check(user, scope, content_sha256=action.content_sha256, at=now)
            if record is None:
                known = SCOPES.get(scope)
                outcome = Outcome.deny(
                    "no_consent_record",
                    f"user {user} has no recorded, unrevoked consent for scope {scope!r} "
                    f"needed by {action.operation}; authenticating is not consent.",
                    f"show the user what will be done and record their consent: "
                    f"guard.consent.grant({user!r}, [{scope!r}], notice=..., method=..., "
                    f"evidence=...), or `twpolicy consent grant {user} {scope}`.",
                    facts={"scope": scope},
                )
                if known is not None and known.clause != self.clause:
                    outcome = attrs.evolve(outcome, clause=known.clause)
                return outcome
            if record.record_id not in record_ids:  # one record may cover several scopes
                record_ids.append(record.record_id)
                if record.content_sha256 is not None:
                    content_bound.append(record.record_id)
        facts = {"consent_record_ids": ",".join(record_ids)}
        if content_bound:
            # Single-use consents the enforcement point spends once the action goes ahead.
            facts["content_bound_record_ids"] = ",".join(content_bound)
        return Outcome.allow("consent_active", facts=facts)


@attrs.frozen(repr=False)
class _KnownEndpoint:
    id: ClassVar[str] = "endpoint.known"
    clause: ClassVar[str] = "I.C.1.a"
    error: ClassVar[type[PolicyViolation]] = UnknownRoute

    def __repr__(self) -> str:
        return "twpolicy.rules.known_endpoint()"

    def static_for(self, action: Action) -> bool:  # noqa: ARG002  # protocol
        """The outcome depends only on the action's kind and category."""
        return True

    def evaluate(self, action: Action, guard: Guard) -> Outcome | None:  # noqa: ARG002  # protocol
        if action.kind is not ActionKind.API_CALL:
            return None
        if action.category is not None:
            return Outcome.allow("route_known", facts={"category": action.category})
        return Outcome.deny(
            "unknown_route",
            f"{action.operation} is not in twpolicy's endpoint catalog, so whether it acts on "
            "a user's behalf cannot be told; it was refused (fail closed).",
            "upgrade twpolicy, or report the route so the catalog can classify it.",
        )


def require_consent() -> Rule:
    """Refuse actions on a user's behalf without active consent for every scope (I.C.1.a)."""
    return _RequireConsent()


def known_endpoint() -> Rule:
    """Refuse API calls to routes the endpoint catalog does not know (fail closed)."""
    return _KnownEndpoint()


def default_rules() -> tuple[Rule, ...]:
    """Every built-in rule, in evaluation order."""
    return (
        known_endpoint(),
        require_consent(),
        redistribute_ids_only(),
        recipient_quota(),
        forbid_standalone_geo(),
    )

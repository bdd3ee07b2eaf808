"""Consent before acting for a user (I.C.1.a), and the endpoint catalog that says who acts.

``consent.required`` allows an action on a user's behalf only when every scope it needs is
covered by that user's recorded, unrevoked consent; a single-use (content-bound) consent it
relies on becomes a `SpendConsent` obligation. ``endpoint.known`` refuses requests the
endpoint catalog cannot classify (fail closed).
"""

from __future__ import annotations

import shlex
from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome, SpendConsent
from twpolicy._scopes import SCOPES
from twpolicy._stores._consent import ConsentUnusable
from twpolicy.exceptions import ConsentRequired, PolicyViolation, UnknownRoute
from twpolicy.rules._context import ConsentReader, ConsentStatusReader, Rule, RuleContext
from twpolicy.rules._remedies import shell_store

__all__ = ["known_endpoint", "require_consent"]

# Every kind of action may act on a user's behalf, but a stream payload arriving: it needs none.
_ACTING_KINDS = frozenset(ActionKind) - {ActionKind.STREAM_DATA}


@attrs.frozen(repr=False)
class _RequireConsent:
    id: ClassVar[str] = "consent.required"
    clause: ClassVar[str] = "I.C.1.a"
    error: ClassVar[type[PolicyViolation]] = ConsentRequired
    kinds: ClassVar[frozenset[ActionKind]] = _ACTING_KINDS

    def __repr__(self) -> str:
        return "twpolicy.rules.require_consent()"

    def static_for(self, action: Action) -> bool:
        """Without scopes the rule says nothing, whatever the ledger holds."""
        return not action.scopes

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
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
        ledger = context.consent
        if ledger is None:
            return Outcome.deny(
                "no_consent_ledger",
                f"{action.operation} needs consent, but the guard has no consent ledger.",
                "build the guard with a ledger: twpolicy.Guard(ledger=twpolicy.open_ledger(url)).",
            )
        record_ids: list[str] = []
        spend: list[SpendConsent] = []
        try:
            return self._covered(action, context, user, record_ids, spend)
        except ConsentUnusable as exc:  # a tampered ledger, an unrecorded revoke: say which
            return Outcome.deny(
                exc.reason,
                f"{action.operation} acts for user {user}, whose recorded consent cannot be "
                f"relied on: {exc.detail}",
                exc.remedy,
                facts=dict(exc.facts),
            )

    def _covered(
        self,
        action: Action,
        context: RuleContext,
        user: str,
        record_ids: list[str],
        spend: list[SpendConsent],
    ) -> Outcome:
        ledger = context.consent
        assert ledger is not None  # noqa: S101  # evaluate checked it
        for scope in sorted(action.scopes):
            if context.claims:
                record = ledger.check(  # type: ignore[call-arg]  # twpolicy.Ledger takes claims
                    user,
                    scope,
                    content_sha256=action.content_sha256,
                    at=context.now,
                    claims=context.claims,
                )
            else:
                record = ledger.check(
                    user, scope, content_sha256=action.content_sha256, at=context.now
                )
            if record is None:
                single_use = self._single_use(action, user, scope, ledger, context)
                return single_use or self._missing(action, user, scope, ledger)
            if record.record_id not in record_ids:  # one record may cover several scopes
                record_ids.append(record.record_id)
                if record.content_sha256 is not None:
                    spend.append(SpendConsent(record.record_id, user))
        return Outcome.allow(
            "consent_active",
            facts={"consent_record_ids": " ".join(record_ids)},
            obligations=spend,
        )

    def _single_use(
        self,
        action: Action,
        user: str,
        scope: str,
        ledger: ConsentReader,
        context: RuleContext,
    ) -> Outcome | None:
        """Why a single-use consent for ``scope`` did not cover this action, if one exists.

        The user consented to some exact content, but not to this: it was already used, it
        lapsed, or the content differs (edited text, a geotag the user never saw). Asking
        for a general grant would widen what the user agreed to, so the remedy re-asks the
        user for this very content. ``None`` when the ledger cannot tell, or holds no
        single-use record for the scope.
        """
        if not isinstance(ledger, ConsentStatusReader):
            return None
        states = [
            state
            for state in ledger.status(user, at=context.now)
            if state.record.content_sha256 is not None and scope in state.record.scopes
        ]
        wanted = action.content_sha256
        same = [s for s in states if s.record.content_sha256 == wanted]
        if any(s.status == "spent" for s in same):
            reason, what = "single_use_consent_spent", "was already used once"
        elif any(s.status == "expired" for s in same):
            reason, what = "single_use_consent_expired", "has expired"
        elif any(s.status == "active" for s in same):
            reason, what = "single_use_consent_taken", "is held by another action in progress"
        elif any(s.status == "active" for s in states):
            reason, what = (
                "single_use_consent_mismatch",
                (
                    "was given for different content (edited text, or a field such as a "
                    "geotag the user did not see)"
                ),
            )
        else:
            return None
        hashed = "None" if wanted is None else repr(wanted)
        python = (
            f"guard.consent.grant({user!r}, [{scope!r}], content_sha256={hashed}, "
            "notice=twpolicy.Notice('NOTICE_ID'), method='METHOD', evidence='EVIDENCE')"
        )
        how = f"in Python {python}"
        store = shell_store(ledger, "--consent-db", "TWPOLICY_CONSENT_DB")
        if store is not None and wanted is not None:
            how += (
                f", or from a shell `twpolicy consent grant {shlex.quote(user)} "
                f"{shlex.quote(scope)} --content-sha256 {wanted} --notice NOTICE_ID "
                f"--method METHOD --evidence EVIDENCE{store}`"
            )
        outcome = Outcome.deny(
            reason,
            f"user {user}'s single-use consent for scope {scope!r} {what}, so it does not "
            f"cover {action.operation} with this content.",
            f"show the user this exact content and ask again; if they agree, record consent "
            f"bound to it, {how}. A general grant would widen what the user agreed to.",
            facts={"scope": scope},
        )
        known = SCOPES.get(scope)
        if known is not None and known.clause != self.clause:
            outcome = attrs.evolve(outcome, clause=known.clause)
        return outcome

    def _missing(self, action: Action, user: str, scope: str, ledger: object) -> Outcome:
        python = (
            f"guard.consent.grant({user!r}, [{scope!r}], notice=twpolicy.Notice('NOTICE_ID'), "
            "method='METHOD', evidence='EVIDENCE')"
        )
        store = shell_store(ledger, "--consent-db", "TWPOLICY_CONSENT_DB")
        how = f"in Python {python}"
        if store is not None:
            how += (
                f", or from a shell `twpolicy consent grant {shlex.quote(user)} "
                f"{shlex.quote(scope)} --notice NOTICE_ID --method METHOD --evidence "
                f"EVIDENCE{store}`"
            )
        outcome = Outcome.deny(
            "no_consent_record",
            f"user {user} has no recorded, unrevoked consent for scope {scope!r} needed by "
            f"{action.operation}; authenticating is not consent.",
            f"show the user what will be done and record their consent, {how}; replace "
            "NOTICE_ID, METHOD and EVIDENCE with the notice shown, how consent was given and "
            "what proves it.",
            facts={"scope": scope},
        )
        known = SCOPES.get(scope)
        if known is not None and known.clause != self.clause:
            outcome = attrs.evolve(outcome, clause=known.clause)
        return outcome


@attrs.frozen(repr=False)
class _KnownEndpoint:
    id: ClassVar[str] = "endpoint.known"
    clause: ClassVar[str] = "I.C.1.a"
    error: ClassVar[type[PolicyViolation]] = UnknownRoute
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})

    def __repr__(self) -> str:
        return "twpolicy.rules.known_endpoint()"

    def static_for(self, action: Action) -> bool:  # noqa: ARG002  # protocol
        """The outcome depends only on the action's kind and category."""
        return True

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
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

"""The acting user is the token's owner (I.C.1.a): consent is checked for whoever really acts.

A request acts as the user whose token signs it; the consent that matters is that user's.
``acting_user_id=`` on a client, or a route that names another user (``/2/users/:id/likes``),
could make the guard check someone else's consent for an action the token's owner performs.
Enforcement points put what they know into the action's facts: ``token_owner`` (read off an
OAuth 1.0a token, or learned from ``/2/users/me`` or ``verify_credentials``) and
``route_user`` (the user a v2 route names); ``actor.token_owner`` refuses the action when the
acting user is not each of them.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy.exceptions import ConsentRequired, PolicyViolation
from twpolicy.rules._context import Rule, RuleContext

__all__ = ["match_token_owner"]

#: The facts naming who else the action says acts, and how to describe each.
_WITNESSES = (
    ("token_owner", "the token the request is sent with belongs to user"),
    ("route_user", "the route names user"),
)


@attrs.frozen(repr=False)
class _MatchTokenOwner:
    id: ClassVar[str] = "actor.token_owner"
    clause: ClassVar[str] = "I.C.1.a"
    error: ClassVar[type[PolicyViolation]] = ConsentRequired
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})

    def __repr__(self) -> str:
        return "twpolicy.rules.match_token_owner()"

    def static_for(self, action: Action) -> bool:  # noqa: ARG002  # protocol
        """The outcome depends on the action alone."""
        return True

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        facts = action.facts
        if not facts:
            return None
        actor = action.acting_user_id
        if facts.get("token_owner_known") is False and action.scopes:
            return Outcome.deny(
                "actor_unverified",
                f"{action.operation} acts on a user's behalf, but whose credentials these are "
                "could not be established (no user-context token, or the API did not say), so "
                f"acting for user {actor} cannot be checked.",
                "send writes with the user's own credentials: an OAuth 1.0a access token "
                "('<user id>-...') or an OAuth 2.0 user-context token whose owner "
                "GET /2/users/me can name; an app-only bearer token cannot act for a user.",
            )
        checked = False
        for name, says in _WITNESSES:
            other = facts.get(name)
            if other is None:
                continue
            checked = True
            if other != actor:
                return Outcome.deny(
                    "actor_mismatch",
                    f"{action.operation} would be checked against the consent of user "
                    f"{actor}, but {says} {other}: consent is checked for the user who "
                    "really acts.",
                    f"act for user {other} (acting_user_id={other!r}, whose consent is then "
                    f"checked), or send with user {actor}'s own credentials.",
                    facts={name: str(other), "acting_user_id": actor},
                )
        return Outcome.allow("actor_is_token_owner") if checked else None


def match_token_owner() -> Rule:
    """Refuse an API call whose acting user is not its token's owner, or not the route's user."""
    return _MatchTokenOwner()

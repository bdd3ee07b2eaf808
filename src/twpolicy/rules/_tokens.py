"""User-token thresholds: warn before the application acts for more users than allowed.

I.A.3: above 1,000,000 user tokens, contact Twitter first. I.G.2.a: a service that
replicates Twitter's core experience needs permission above 100,000. ``tokens.thresholds``
reads how many distinct users the application has acted for (a `UserTokens` store, fed as a
decision sink) and flags the action that would act for one user more than a threshold. It
warns by default: passing a threshold obliges a conversation with Twitter, not a stop.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import attrs

from twpolicy._model import Action, ActionKind, Mode, Outcome
from twpolicy.exceptions import PolicyViolation
from twpolicy.rules._context import RuleContext

__all__ = ["CONTACT_TOKENS", "CORE_CLIENT_TOKENS", "UserTokenReader", "user_token_thresholds"]

#: I.A.3: contact Twitter before needing more user tokens than this.
CONTACT_TOKENS = 1_000_000
#: I.G.2.a: a Twitter-like client needs permission for more user tokens than this.
CORE_CLIENT_TOKENS = 100_000


class UserTokenReader(Protocol):
    """The read side of a user-token store."""

    def known(self, user_id: str) -> bool:
        """Whether ``user_id`` is already counted."""
        ...

    def count(self) -> int:
        """How many distinct users are counted."""
        ...


@attrs.frozen(repr=False)
class _UserTokenThresholds:
    id: ClassVar[str] = "tokens.thresholds"
    clause: ClassVar[str] = "I.A.3"
    error: ClassVar[type[PolicyViolation]] = PolicyViolation
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})
    default_mode: ClassVar[Mode] = Mode.WARN

    tokens: UserTokenReader
    core_client: bool = False

    def __repr__(self) -> str:
        return f"twpolicy.rules.user_token_thresholds(core_client={self.core_client})"

    def static_for(self, action: Action) -> bool:
        """Only actions for a user read the count."""
        return action.acting_user_id is None

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        user = action.acting_user_id
        if user is None:
            return None
        total = self.tokens.count() + (0 if self.tokens.known(user) else 1)
        facts = {"user_tokens": total}
        if total > CONTACT_TOKENS:
            return Outcome.deny(
                "over_1m_user_tokens",
                f"{action.operation} would make {total:,} users the application acts for, over "
                f"{CONTACT_TOKENS:,} user tokens; Twitter asks to be contacted first and may "
                "set additional terms.",
                "contact Twitter (the API policy support form) and keep its answer; then set "
                "rule_modes={'tokens.thresholds': 'monitor'}.",
                facts=facts,
            )
        if self.core_client and total > CORE_CLIENT_TOKENS:
            outcome = Outcome.deny(
                "over_100k_user_tokens",
                f"{action.operation} would make {total:,} users of a service replicating "
                f"Twitter's core experience, over {CORE_CLIENT_TOKENS:,} user tokens, which "
                "needs Twitter's permission.",
                "ask Twitter for permission (the API policy support form) and keep its answer; "
                "then set rule_modes={'tokens.thresholds': 'monitor'}.",
                facts=facts,
            )
            return attrs.evolve(outcome, clause="I.G.2.a")
        return Outcome.allow("within_user_token_thresholds", facts=facts)


def user_token_thresholds(
    tokens: UserTokenReader, *, core_client: bool = False
) -> _UserTokenThresholds:
    """Flag acting for more users than I.A.3 (and, for a Twitter-like client, I.G.2.a) allow.

    ``tokens`` is the store the guard's sink feeds: ``Guard(sinks=[tokens], rules=[...,
    user_token_thresholds(tokens)])``.
    """
    return _UserTokenThresholds(tokens, core_client)

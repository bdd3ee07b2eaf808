"""Neither exceed nor circumvent X's rate limits (I.B.5).

The drop-in clients hand every answer's rate-limit headers to the window ledger, which keeps
the windows X reports as spent (`twpolicy._stores._ratelimits`), shared by every process on
the same store. ``ratelimit.respect`` reads them (pure) for each write, whose action names
the credential it is sent with (``rate_credential``, a hash of the token), its app
(``rate_app``, a hash of the consumer key, when the client has one) and whether tweepy waits
for a reset (``rate_waits``), and refuses:

- ``rate_limit_spent``: a send with a token into the route's window X said is spent, unless
  the client waits for the reset (``wait_on_rate_limit=True``: tweepy sleeps, then retries);
- ``rate_limit_rotation``: a send for a user on a route whose window is spent under another
  of that user's tokens (another app's key, a fresh token), or with another token of an app
  whose daily window for the route is spent: switching credentials to keep one route going
  is circumventing the limit, whether the client waits or not.

What it cannot see: tokens of users it is not told about (an application that posts for
*different* users is not rotating), windows no answer reported yet (the first request of a
process on a route), and reads (their plans are shared per endpoint and carry no credential:
tweepy's own ``wait_on_rate_limit`` and X's 429 keep reads within the limit).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._stores._ratelimits import RateWindow, SpentWindow
from twpolicy.exceptions import PolicyViolation, RateLimited
from twpolicy.rules._context import Rule, RuleContext

__all__ = ["respect_rate_limits"]


@attrs.frozen(repr=False)
class _RespectRateLimits:
    id: ClassVar[str] = "ratelimit.respect"
    clause: ClassVar[str] = "I.B.5"
    error: ClassVar[type[PolicyViolation]] = RateLimited
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})

    def __repr__(self) -> str:
        return "twpolicy.rules.respect_rate_limits()"

    def static_for(self, action: Action) -> bool:
        """Only requests that name their credential read the window ledger."""
        return "rate_credential" not in action.facts

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        facts = action.facts
        credential = facts.get("rate_credential")
        if not isinstance(credential, str):
            return None
        app = facts.get("rate_app")
        who = RateWindow(
            action.operation,
            credential,
            action.acting_user_id,
            app if isinstance(app, str) else None,
        )
        if context.windows is None:
            return Outcome.deny(
                "no_window_store",
                f"{action.operation} must be checked against the rate-limit windows X "
                "reported, but the guard has no window ledger.",
                "build the guard with one: twpolicy.Guard(windows=twpolicy.open_windows(url)).",
            )
        waits = facts.get("rate_waits") is True
        for window in context.windows.spent(who, at=context.now):
            if window.credential != credential:
                return self._rotation(action, window)
            if not waits:
                return self._spent(action, window)
        return Outcome.allow("rate_window_open")

    @staticmethod
    def _facts(window: SpentWindow) -> dict[str, str | int | None]:
        return {
            "route": window.route,
            "scope": window.scope,
            "holder": window.holder,
            "credential": window.credential,
            "resets_at": window.resets_at.isoformat(),
            "limit": window.limit,
            "source": window.source,
        }

    def _spent(self, action: Action, window: SpentWindow) -> Outcome:
        when = window.resets_at.isoformat()
        size = "" if window.limit is None else f" of {window.limit} requests"
        return Outcome.deny(
            "rate_limit_spent",
            f"X's answers say the rate-limit window{size} of {action.operation} for this "
            f"token (credential {window.credential}) is spent until {when} ({window.source}); "
            "sending now would exceed the limit.",
            f"wait until {when} before sending {action.operation} again, or build the client "
            "with wait_on_rate_limit=True so that tweepy waits for the reset; do not switch "
            "to another token or key for this route.",
            facts=self._facts(window),
        )

    def _rotation(self, action: Action, window: SpentWindow) -> Outcome:
        when = window.resets_at.isoformat()
        whose = f"user {window.holder}'s" if window.scope == "user" else f"app {window.holder}'s"
        return Outcome.deny(
            "rate_limit_rotation",
            f"{whose} rate-limit window of {action.operation} is spent until {when} under "
            f"another token (credential {window.credential}); sending it with a different "
            "token or key would circumvent the limit.",
            f"wait until {when} and send {action.operation} with one token; the limit is "
            "the same whichever token or app key carries the request.",
            facts=self._facts(window),
        )


def respect_rate_limits() -> Rule:
    """Refuse sends into windows X said are spent, and token rotation past them (I.B.5)."""
    return _RespectRateLimits()

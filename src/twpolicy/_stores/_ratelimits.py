"""X's rate-limit windows as its answers report them, shared by processes (I.B.5).

"Do not ... exceed or circumvent rate limits". X reports each window in the headers of every
answer: ``x-rate-limit-limit``, ``-remaining`` and ``-reset`` (epoch seconds) for the
15-minute window of a route and token, ``x-user-limit-24hour-*`` and ``x-app-limit-24hour-*``
for the daily windows of posting, and a ``429`` when a window is spent. The enforcement point
hands every answer to `observe`; what it keeps is only the **spent** windows (remaining 0, or
a 429), one row per route and holder, until their reset: a window with requests left refuses
nothing, so nothing else is worth a write. The ``ratelimit.respect`` rule reads them (pure).

Holders of a window, and what each lets the rule refuse:

- ``token``: the credential (a hash of the bearer or OAuth access token, never the token):
  a send with it into its spent window;
- ``user``: the acting user: a send for that user with *another* token (or another app's
  token) on the same route while one of theirs is spent: rotating tokens or keys;
- ``app``: the consumer key (hashed) whose daily app-wide window is spent: any of its tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timezone

import attrs

__all__ = [
    "RATE_TABLES",
    "RateWindow",
    "SpentWindow",
    "credential_id",
    "observe",
]

#: The rate-limit table, added as the window ledger's second migration.
RATE_TABLES = (
    (
        "CREATE TABLE twpolicy_rate_windows ("
        " route TEXT NOT NULL, scope TEXT NOT NULL, holder TEXT NOT NULL,"
        " credential TEXT NOT NULL, reset_ms BIGINT NOT NULL, lim BIGINT,"
        " source TEXT NOT NULL, PRIMARY KEY (route, scope, holder))"
    ),
)


def credential_id(token: object) -> str | None:
    """A short, stable name for a token (its SHA-256, 16 hex digits): never the token itself."""
    if not isinstance(token, str) or not token:
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@attrs.frozen
class SpentWindow:
    """One spent window, as recorded: who holds it and when X resets it.

    Attributes:
        route: the operation (``"POST /2/tweets"``).
        scope: ``"token"``, ``"user"`` or ``"app"``.
        holder: the credential ID, user ID or app ID.
        credential: the credential whose answer reported it.
        resets_at: when X resets the window.
        limit: the window's size, if X said.
        source: the header family that said so (``"x-rate-limit"``, ``"x-user-limit-24hour"``,
            ``"x-app-limit-24hour"``) or ``"429"``.
    """

    route: str
    scope: str
    holder: str
    credential: str
    resets_at: datetime
    limit: int | None = None
    source: str = "x-rate-limit"


@attrs.frozen
class RateWindow:
    """Who a request is sent as, for recording and checking its windows.

    Attributes:
        route: the operation.
        credential: the credential ID (`credential_id`).
        user: the acting user, if known.
        app: the app ID (a consumer key's `credential_id`), if known.
    """

    route: str
    credential: str
    user: str | None = None
    app: str | None = None

    def holders(self) -> tuple[tuple[str, str], ...]:
        """Every (scope, holder) this request's windows may be kept under."""
        found = [("token", self.credential)]
        if self.user is not None:
            found.append(("user", self.user))
        if self.app is not None:
            found.append(("app", self.app))
        return tuple(found)


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def observe(
    who: RateWindow, status: int, headers: Mapping[str, str], *, now: datetime
) -> tuple[SpentWindow, ...]:
    """The spent windows an answer reports, to record; ``()`` when every window has room.

    A 429 without a usable reset is kept for 15 minutes (X's window); a reset in the past
    reports nothing (the window has reset already).
    """
    lower = {str(k).lower(): v for k, v in headers.items()}
    spent: list[SpentWindow] = []
    families = (
        ("x-rate-limit", ("token", "user")),
        ("x-user-limit-24hour", ("token", "user")),
        ("x-app-limit-24hour", ("app",)),
    )
    for family, scopes in families:
        remaining = _int(lower.get(f"{family}-remaining"))
        reset = _int(lower.get(f"{family}-reset"))
        limited = status == 429 and family == "x-rate-limit"  # noqa: PLR2004  # Too Many Requests
        if not (limited or (remaining is not None and remaining <= 0)):
            continue
        if reset is None:
            if not limited:
                continue
            reset = int(now.timestamp()) + 15 * 60
        resets_at = _at(reset)
        if resets_at <= now:
            continue
        source = "429" if limited else family
        limit = _int(lower.get(f"{family}-limit"))
        for scope, holder in who.holders():
            if scope in scopes:
                spent.append(
                    SpentWindow(who.route, scope, holder, who.credential, resets_at, limit, source)
                )
    return tuple(spent)

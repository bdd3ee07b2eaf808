"""The users an application acts for: a count of user tokens in use (I.A.3, I.G.2.a).

I.A.3 asks an application that expects to need more than 1,000,000 user tokens to talk to
Twitter first; I.G.2.a needs Twitter's permission for a Twitter-like client to hold more
than 100,000. The application's user tokens are not visible in-process, but the users it
acts for are: `UserTokens` records each distinct acting user of an allowed decision (it is a
decision sink, so recording happens after the decision, outside the pure rules), and
``tokens.thresholds`` reads the count. The count is of users seen acting, a lower bound of
the tokens held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from twpolicy._stores._sql import Database, Migration, Schema, open_database, parse_url
from twpolicy._stores._time import utcnow

if TYPE_CHECKING:
    from twpolicy._model import Decision

__all__ = ["UserTokens", "open_user_tokens"]

_TABLES = (
    "CREATE TABLE twpolicy_user_tokens (user_id TEXT PRIMARY KEY, first_seen TEXT NOT NULL)",
)
#: The user-token store's tables, version by version.
SCHEMA = Schema(
    component="user_tokens",
    what="user-token store",
    migrations=(Migration(sqlite=_TABLES, postgresql=_TABLES),),
)
_COUNT = "SELECT COUNT(*) FROM twpolicy_user_tokens"
_KNOWN = "SELECT 1 FROM twpolicy_user_tokens WHERE user_id = ?"
_INSERT = (
    "INSERT INTO twpolicy_user_tokens (user_id, first_seen) VALUES (?, ?)"
    " ON CONFLICT (user_id) DO NOTHING"
)


class UserTokens:
    """Distinct users the application has acted for, in memory or a shared database.

    Add it to the guard's sinks so that every allowed action on a user's behalf is recorded;
    a user once recorded stays recorded.
    """

    def __init__(
        self, database: Database | None, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._clock = clock
        self._lock = threading.Lock()
        self._users: set[str] = set()
        self.url = "memory://" if database is None else database.url.display

    def __repr__(self) -> str:
        return f"twpolicy.UserTokens({self.url!r})"

    def __call__(self, decision: Decision) -> None:
        """Sink: record the acting user of an allowed decision."""
        if decision.allowed and decision.acting_user_id is not None:
            self.record(decision.acting_user_id)

    def record(self, user_id: str) -> None:
        """Count ``user_id`` as a user the application acts for (once)."""
        if self._db is None:
            with self._lock:
                self._users.add(user_id)
            return
        if user_id in self._users:
            return
        with self._db.statements() as tx:
            tx.execute(_INSERT, (user_id, self._clock().isoformat()))
        self._users.add(user_id)

    def known(self, user_id: str) -> bool:
        """Whether ``user_id`` is already counted."""
        if user_id in self._users or self._db is None:
            return user_id in self._users
        with self._db.read() as tx:
            found = tx.one(_KNOWN, (user_id,)) is not None
        if found:
            self._users.add(user_id)
        return found

    def count(self) -> int:
        """How many distinct users are counted."""
        if self._db is None:
            with self._lock:
                return len(self._users)
        with self._db.read() as tx:
            row = tx.one(_COUNT)
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the connection, if any."""
        if self._db is not None:
            self._db.close()


def open_user_tokens(
    url: str, *, create: bool = True, clock: Callable[[], datetime] = utcnow
) -> UserTokens:
    """Open the user-token store at ``url``: ``memory://``, ``sqlite:///path``, ``postgresql://``.

    Raises:
        ConfigurationError: a malformed or unknown URL.
        StoreUnavailable: the store cannot be reached, is corrupt or has a newer schema.
    """
    parsed = parse_url(url, what="user-token store")
    if parsed.scheme == "memory":
        return UserTokens(None, clock=clock)
    return UserTokens(open_database(parsed, SCHEMA, create=create), clock=clock)

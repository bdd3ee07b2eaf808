"""What the ledger needs of a backend: read in a transaction, and append what a plan decides.

`Ledger` decides what to append by a `Plan` that reads through a `Tx`; a `Store` runs the plan,
chains its events after the head it read from (`twpolicy._stores._consent._events.chain`,
with the store's key) and appends them, the new head and the users' index entries atomically.
Backends: `twpolicy._stores._consent._memory_backend` and
`twpolicy._stores._consent._sql_backend`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

import attrs

from twpolicy._stores._consent._events import Head, Pending, Row, SubjectHead
from twpolicy._stores._consent._key import ConsentKey

__all__ = ["Append", "Changes", "Plan", "Store", "Tx"]


class Tx(Protocol):
    """What the ledger needs of one transaction on a store."""

    #: Whether the store keeps each user's index entry (schema 2; not a ledger at schema 1
    #: read without migrating it).
    indexed: bool

    def head(self) -> Head | None:
        """The head row (``None``: missing or malformed)."""
        ...

    def subject(self, user_id: str) -> tuple[Head | None, SubjectHead | None]:
        """The head row and the user's index entry, read together."""
        ...

    def subjects(self, user_ids: Collection[str]) -> dict[str, SubjectHead | None]:
        """The index entries of ``user_ids`` (``None``: the user has none)."""
        ...

    def all_subjects(self, after: str, limit: int) -> list[SubjectHead]:
        """Index entries by user ID, after ``after``: for `Ledger.verify`."""
        ...

    def user_rows(self, user_id: str, *, after: int = 0, upto: int | None = None) -> list[Row]:
        """The user's events with ``after < seq <= upto``, in order."""
        ...

    def record_rows(self, record_id: str) -> list[Row]: ...

    def open_rows(self) -> list[Row]:
        """Every event that shapes an open record, all users."""
        ...

    def scan(self, after: int, limit: int) -> list[Row]: ...


#: Decides what to append, from what a transaction reads: returns the time to stamp and the
#: events. Stores may call it more than once (PostgreSQL retries after losing a race), so it
#: must not have side effects.
Plan = Callable[[Tx], tuple[datetime, Sequence[Pending]]]


@attrs.frozen
class Append:
    """A plan, and whether what it appends depends on what it read (a grant's does not)."""

    plan: Plan
    reads: bool = True


class Changes(Protocol):
    """How a store says that another process changed it, checked before cached reads."""

    def poll(self) -> tuple[bool, frozenset[str] | None]:
        """``(watching, changed)``: who changed since the last poll.

        ``changed`` is the users whose events changed, or ``None`` for anything may have;
        ``watching`` is false when the store cannot tell (then only the TTL bounds staleness).
        """
        ...

    def close(self) -> None: ...


class Store(Protocol):
    """A backend: where the events are kept."""

    #: The consent key events are MACed with (``None``: unkeyed).
    key: ConsentKey | None

    def reading(self, *, snapshot: bool = False) -> AbstractContextManager[Tx]:
        """Reads; with ``snapshot``, all from one consistent state of the store."""
        ...

    def append(self, append: Append) -> list[Row]:
        """Run the plan and append its events atomically after the current head."""
        ...

    def seal(self, expected: Head) -> Head:
        """MAC the head and every index entry with the key, if the head is ``expected``."""
        ...

    def integrity(self) -> list[str]:
        """Damage the store itself reports (a SQLite ``quick_check``), as problems."""
        ...

    def changes(self) -> Changes:
        """A new watcher of changes made by other processes."""
        ...

    def close(self) -> None: ...

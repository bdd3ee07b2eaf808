"""What the ledger needs of a backend: read in a transaction, and append what a plan decides.

`Ledger` decides what to append by a `Plan` that reads through a `Tx`; a `Store` runs the plan
and appends its events atomically after the head it read from. Backends:
`twpolicy._stores._consent._memory_backend` and `twpolicy._stores._consent._sql_backend`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

import attrs

from twpolicy._stores._consent._events import Pending, Row

__all__ = ["Append", "Plan", "Store", "Tx"]


class Tx(Protocol):
    """What the ledger needs of one transaction on a store."""

    def head(self) -> tuple[int, str]: ...

    def user_rows(self, user_id: str, *, open_only: bool) -> list[Row]:
        """The user's events; ``open_only``: only those that shape open records."""
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


class Store(Protocol):
    """A backend: where the events are kept."""

    def reading(self, *, snapshot: bool = False) -> AbstractContextManager[Tx]:
        """Reads; with ``snapshot``, all from one consistent state of the store."""
        ...

    def append(self, append: Append) -> list[Row]:
        """Run the plan and append its events atomically after the current head."""
        ...

    def close(self) -> None: ...

"""The ``memory://`` backend: events held in this process, for tests, examples and defaults."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from twpolicy._stores._consent._backend import Append, Tx
from twpolicy._stores._consent._events import GENESIS, ConsentEventType, Row, chain

__all__ = ["MemoryStore"]


class _MemoryTx:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def head(self) -> tuple[int, str]:
        rows = self._store.rows
        return (rows[-1].seq, rows[-1].hash) if rows else (0, GENESIS)

    def _shapes_open(self, row: Row) -> bool:
        return (
            bool(row.record_id)
            and row.event != ConsentEventType.USED.value
            and row.record_id not in self._store.closed
        )

    def user_rows(self, user_id: str, *, open_only: bool) -> list[Row]:
        rows = (self._store.rows[i] for i in self._store.by_user.get(user_id, ()))
        return [r for r in rows if not open_only or self._shapes_open(r)]

    def record_rows(self, record_id: str) -> list[Row]:
        return [self._store.rows[i] for i in self._store.by_record.get(record_id, ())]

    def open_rows(self) -> list[Row]:
        return [r for r in self._store.rows if self._shapes_open(r)]

    def scan(self, after: int, limit: int) -> list[Row]:
        return self._store.rows[after : after + limit]


class MemoryStore:
    """Events held in this process: for tests, examples and the default guard."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.rows: list[Row] = []
        self.by_user: dict[str, list[int]] = {}
        self.by_record: dict[str, list[int]] = {}
        self.closed: set[str] = set()

    @contextmanager
    def reading(self, *, snapshot: bool = False) -> Iterator[Tx]:  # noqa: ARG002  # always one
        """Reads under the store's lock."""
        with self.lock:
            yield _MemoryTx(self)

    def append(self, append: Append) -> list[Row]:
        """Run the plan and append its events, under the store's lock."""
        with self.lock:
            tx = _MemoryTx(self)
            at, pending = append.plan(tx)
            rows = chain(pending, at, tx.head())
            for row in rows:
                self.by_user.setdefault(row.user_id, []).append(len(self.rows))
                self.by_record.setdefault(row.record_id, []).append(len(self.rows))
                self.rows.append(row)
                if row.closes:
                    self.closed.add(row.record_id)
            return rows

    def close(self) -> None:
        """Nothing to release."""

"""The ``memory://`` backend: events held in this process, for tests, examples and defaults."""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from twpolicy._stores._consent._backend import Append, Tx
from twpolicy._stores._consent._events import (
    EMPTY_HEAD,
    ConsentEventType,
    Head,
    Row,
    SubjectHead,
    chain,
    head_mac,
    subject_mac,
)
from twpolicy._stores._consent._key import ConsentKey
from twpolicy._stores._consent._subject import check_head
from twpolicy.exceptions import ConfigurationError, StoreUnavailable

__all__ = ["MemoryStore", "check_writable"]


def check_writable(head: Head | None, key: ConsentKey | None) -> None:
    """Refuse to append after a head that does not check out with this store's key.

    An empty ledger may be written with a key it was not sealed with: its first keyed
    append seals it.
    """
    if head is not None and key is not None and not head.key_id and head.seq == 0:
        return
    check_head(head, key, None)


class _MemoryTx:
    indexed = True

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def head(self) -> Head | None:
        return self._store.head

    def subject(self, user_id: str) -> tuple[Head | None, SubjectHead | None]:
        return self._store.head, self._store.subjects.get(user_id)

    def subjects(self, user_ids: Collection[str]) -> dict[str, SubjectHead | None]:
        return {user: self._store.subjects.get(user) for user in user_ids}

    def all_subjects(self, after: str, limit: int) -> list[SubjectHead]:
        users = sorted(user for user in self._store.subjects if user > after)[:limit]
        return [self._store.subjects[user] for user in users]

    def _shapes_open(self, row: Row) -> bool:
        return (
            bool(row.record_id)
            and row.event != ConsentEventType.USED.value
            and row.record_id not in self._store.closed
        )

    def user_rows(self, user_id: str, *, after: int = 0, upto: int | None = None) -> list[Row]:
        rows = (self._store.rows[i] for i in self._store.by_user.get(user_id, ()))
        return [r for r in rows if r.seq > after and (upto is None or r.seq <= upto)]

    def record_rows(self, record_id: str) -> list[Row]:
        return [self._store.rows[i] for i in self._store.by_record.get(record_id, ())]

    def open_rows(self) -> list[Row]:
        return [r for r in self._store.rows if self._shapes_open(r)]

    def scan(self, after: int, limit: int) -> list[Row]:
        return [r for r in self._store.rows[after : after + limit] if r.seq > after]


class _NoChanges:
    """Nothing but this process writes to memory, and it tells the ledger itself."""

    def poll(self) -> tuple[bool, frozenset[str] | None]:
        return True, frozenset()

    def close(self) -> None:
        """Nothing to release."""


class MemoryStore:
    """Events held in this process: for tests, examples and the default guard."""

    def __init__(self, key: ConsentKey | None = None) -> None:
        self.key = key
        self.lock = threading.RLock()
        self.rows: list[Row] = []
        self.head: Head | None = EMPTY_HEAD
        self.subjects: dict[str, SubjectHead] = {}
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
            check_writable(self.head, self.key)
            tx = _MemoryTx(self)
            at, pending = append.plan(tx)
            if not pending:
                return []
            assert self.head is not None  # noqa: S101  # check_writable refuses a missing head
            appended = chain(
                pending, at, self.head, tx.subjects({p.user_id for p in pending}), self.key
            )
            for row in appended.rows:
                self.by_user.setdefault(row.user_id, []).append(len(self.rows))
                self.by_record.setdefault(row.record_id, []).append(len(self.rows))
                self.rows.append(row)
                if row.closes:
                    self.closed.add(row.record_id)
            self.head = appended.head
            self.subjects.update((entry.user_id, entry) for entry in appended.subjects)
            return list(appended.rows)

    def seal(self, expected: Head) -> Head:
        """MAC the head and every index entry with the key."""
        key = self.key
        if key is None:
            raise ConfigurationError("sealing a ledger needs a consent key")
        with self.lock:
            head = self.head
            if head is None or head[:2] != expected[:2]:
                raise StoreUnavailable(
                    "the consent ledger moved on while it was being sealed; verify and seal again"
                )
            if head.key_id:
                check_head(head, key, None)  # another key, or a head changed without it
                return head
            for user, entry in list(self.subjects.items()):
                mac = subject_mac(key, user, entry.seq, entry.hash, entry.total)
                self.subjects[user] = entry._replace(key_id=key.key_id, mac=mac)
            self.head = Head(head.seq, head.hash, key.key_id, head_mac(key, head.seq, head.hash))
            return self.head

    def integrity(self) -> list[str]:
        """Nothing beyond the events to check."""
        return []

    def changes(self) -> _NoChanges:
        """Nothing else writes to this store."""
        return _NoChanges()

    def close(self) -> None:
        """Nothing to release."""

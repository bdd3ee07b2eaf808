"""Unique IDs shaped as UUIDs, for records made on a hot path (decisions, window rows)."""

from __future__ import annotations

import itertools
import os
import uuid

__all__ = ["CountedIds"]


class CountedIds:
    """IDs shaped as UUIDs: a random per-process prefix and a counter.

    Much cheaper than a random UUID each (no ``os.urandom`` call), still unique across
    processes: the prefix holds 74 random bits of a UUID4, and is drawn again in a forked
    child (`register_at_fork` below registers each instance made).
    """

    def __init__(self) -> None:
        self.reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        """Draw a new prefix (what a forked child runs) and start counting again."""
        self._prefix = str(uuid.uuid4())[:24]  # a counter fills in the last 12 characters
        self._counter = itertools.count()

    def next(self) -> str:
        """A new ID, never given before by any process."""
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFF:012x}"

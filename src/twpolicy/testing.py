"""Helpers for testing applications that use twpolicy."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from twpolicy._fakeapi import DEFAULT_USER_ID, FakeXAPI, RecordedRequest
from twpolicy._model import Decision, Effect

__all__ = ["DEFAULT_USER_ID", "DecisionRecorder", "FakeXAPI", "RecordedRequest"]


class DecisionRecorder:
    """A decision sink that keeps every decision it is given, for assertions.

    Pass it to ``Guard(sinks=[recorder])`` or ``guard.add_sink(recorder)``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions: list[Decision] = []

    def __call__(self, decision: Decision) -> None:
        """Record ``decision`` (the sink interface)."""
        with self._lock:
            self._decisions.append(decision)

    def __iter__(self) -> Iterator[Decision]:
        return iter(self.decisions)

    def __len__(self) -> int:
        return len(self._decisions)

    def __repr__(self) -> str:
        return f"DecisionRecorder({len(self)} decisions, {len(self.denied)} denied)"

    @property
    def decisions(self) -> list[Decision]:
        """Every decision recorded so far, oldest first."""
        with self._lock:
            return list(self._decisions)

    @property
    def denied(self) -> list[Decision]:
        """The decisions whose effect is deny, whatever the mode."""
        return [d for d in self.decisions if d.effect is Effect.DENY]

    @property
    def allowed(self) -> list[Decision]:
        """The decisions that let the action proceed."""
        return [d for d in self.decisions if d.allowed]

    def clear(self) -> None:
        """Forget every decision recorded so far."""
        with self._lock:
            self._decisions.clear()

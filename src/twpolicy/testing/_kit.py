"""The test helpers `twpolicy.testing` exports, but the fake X API: recorders, options, guards.

- `DecisionRecorder` and `DecisionLog` collect decisions (the ``twpolicy_decisions``
  fixture is a `DecisionLog`);
- `fresh_guard` makes an isolated guard (in-memory consent and quota ledgers) and installs it
  as the default guard for a block (the ``twpolicy_guard`` fixture);
- `ConsentHelper` grants and revokes consent in one line (``twpolicy_consent``);
- `TwPolicyOptions` holds what the ``@pytest.mark.twpolicy(...)`` marker can set.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from twpolicy import _guard
from twpolicy._guard import Guard
from twpolicy._model import Decision, Effect, Mode
from twpolicy._scopes import validate_scopes
from twpolicy._stores._consent import (
    ConsentEvent,
    ConsentRecord,
    Ledger,
    open_ledger,
    validate_user_id,
)
from twpolicy._stores._quotas import open_quotas
from twpolicy.exceptions import ConfigurationError
from twpolicy.testing._fakeapi._state import DEFAULT_USER_ID

__all__ = ["ConsentHelper", "DecisionLog", "DecisionRecorder", "TwPolicyOptions", "fresh_guard"]


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
        return f"{type(self).__name__}({len(self)} decisions, {len(self.denied)} denied)"

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


def _matches(decision: Decision, criteria: Mapping[str, object]) -> bool:
    return all(getattr(decision, name) == value for name, value in criteria.items())


class DecisionLog(DecisionRecorder):
    """A `DecisionRecorder` with assertions: the type of the ``twpolicy_decisions`` fixture.

    Criteria are keyword arguments compared with the decision's attributes of the same name
    (``rule``, ``clause``, ``reason``, ``operation``, ``acting_user_id``, ``mode``, ...); a
    failing assertion lists every decision recorded.

    Args:
        on_expected: called with the ID of each deny that `assert_denied` matched; the pytest
            plugin uses it so that ``--twpolicy-strict`` does not fail on denies a test expects.
    """

    def __init__(self, *, on_expected: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self._on_expected = on_expected

    def _report(self) -> str:
        lines = [f"  {d.effect.value:5} {d.explain()}" for d in self.decisions]
        return "\n".join(lines) or "  (no decisions were recorded)"

    def find(self, **criteria: object) -> list[Decision]:
        """The decisions matching every criterion, oldest first."""
        return [d for d in self.decisions if _matches(d, criteria)]

    def assert_denied(self, **criteria: object) -> list[Decision]:
        """Assert that at least one deny matching ``criteria`` was recorded; return the matches.

        Matched denies count as expected: ``--twpolicy-strict`` does not fail the test for them.
        """
        __tracebackhide__ = True
        found = [d for d in self.denied if _matches(d, criteria)]
        if not found:
            wanted = ", ".join(f"{key}={value!r}" for key, value in criteria.items())
            raise AssertionError(f"no deny matching ({wanted}); decisions:\n{self._report()}")
        if self._on_expected is not None:
            for decision in found:
                self._on_expected(decision.decision_id)
        return found

    def assert_allowed(self, **criteria: object) -> list[Decision]:
        """Assert that at least one allowed decision matches ``criteria``; return the matches."""
        __tracebackhide__ = True
        found = [d for d in self.allowed if _matches(d, criteria)]
        if not found:
            wanted = ", ".join(f"{key}={value!r}" for key, value in criteria.items())
            raise AssertionError(f"no allow matching ({wanted}); decisions:\n{self._report()}")
        return found

    def assert_no_denials(self) -> None:
        """Assert that no deny was recorded, in any mode."""
        __tracebackhide__ = True
        if self.denied:
            raise AssertionError(f"{len(self.denied)} deny(s) recorded:\n{self._report()}")

    def by_clause(self) -> Counter[tuple[str, str]]:
        """How many decisions each (clause, effect) pair had."""
        return Counter((d.clause, d.effect.value) for d in self.decisions)


def _mode(value: Mode | str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        raise ConfigurationError(
            f"unknown mode {value!r}; use one of {', '.join(m.value for m in Mode)}"
        ) from None


def _scopes(value: Iterable[str] | str) -> frozenset[str]:
    return frozenset() if not value else validate_scopes(value)


def _rule_modes(value: Mapping[str, Mode | str] | None) -> Mapping[str, Mode]:
    return {rule: _mode(mode) for rule, mode in (value or {}).items()}


@attrs.frozen(kw_only=True)
class TwPolicyOptions:
    """What the ``twpolicy`` marker sets, checked when built: a typo is an error.

    Attributes:
        mode: the guard's mode: ``"enforce"`` (the default), ``"warn"`` or ``"monitor"``.
        rule_modes: per-rule modes, by rule ID.
        granted: consent scopes granted to the acting user before the test runs.
        acting_user_id: the user the clients act for (`DEFAULT_USER_ID`).
        strict: fail the test on any unexpected deny (``True``), never (``False``), or as
            ``--twpolicy-strict`` says (``None``).
        cassette: a VCR cassette the fake X API replays (a path relative to the test module).
        assert_all_requests_expected: fail the test at teardown if the fake X API answered a
            request no ``twpolicy_fake_api.expect(route)`` announced (pytest-httpx style).
    """

    mode: Mode = attrs.field(default=Mode.ENFORCE, converter=_mode)
    rule_modes: Mapping[str, Mode] = attrs.field(factory=dict, converter=_rule_modes)
    granted: frozenset[str] = attrs.field(factory=frozenset, converter=_scopes)
    acting_user_id: str = attrs.field(default=DEFAULT_USER_ID, converter=validate_user_id)
    strict: bool | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.instance_of(bool))
    )
    cassette: str | None = attrs.field(default=None, converter=attrs.converters.optional(str))
    assert_all_requests_expected: bool = attrs.field(
        default=False, validator=attrs.validators.instance_of(bool)
    )

    @classmethod
    def merge(cls, layers: Iterable[Mapping[str, Any]]) -> TwPolicyOptions:
        """Build options from layers of keyword arguments, later layers winning.

        Raises:
            TypeError: a layer names an option that does not exist.
            twpolicy.ConfigurationError: a value is not valid (an unknown mode or scope).
        """
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update(layer)
        known = sorted(field.name for field in attrs.fields(cls))
        unknown = sorted(set(merged) - set(known))
        if unknown:
            raise TypeError(f"unknown twpolicy option(s) {unknown}; the options are {known}")
        return cls(**merged)


class ConsentHelper:
    """Grants and revokes consent in one line: the type of the ``twpolicy_consent`` fixture.

    Args:
        ledger: the consent ledger to write to (a `twpolicy.Ledger`: the fixture's guard's).
        user_id: the user a call acts for unless it names another (the acting user).
        evidence: recorded as the consent's evidence (the test's node ID).
    """

    def __init__(self, ledger: Any, *, user_id: str, evidence: str = "test") -> None:
        self._ledger = ledger
        self._user_id = validate_user_id(user_id)
        self._evidence = evidence

    def grant(self, *scopes: str, user_id: str | int | None = None, **fields: Any) -> ConsentRecord:
        """Record consent to ``scopes`` for ``user_id`` (the acting user); return the record.

        ``fields`` pass on to the ledger's ``grant`` (``expires_at``, ``content_sha256``,
        ``notice``, ...).
        """
        record: dict[str, Any] = {
            "notice": "pytest",
            "method": "test_fixture",
            "evidence": self._evidence,
        }
        record.update(fields)
        user = self._user_id if user_id is None else user_id
        granted: ConsentRecord = self._ledger.grant(user, list(scopes), **record)
        return granted

    def revoke(self, *scopes: str, user_id: str | int | None = None) -> tuple[ConsentEvent, ...]:
        """Withdraw consent to ``scopes`` (every scope when none is named); return the events."""
        user = self._user_id if user_id is None else user_id
        events: tuple[ConsentEvent, ...] = self._ledger.revoke(user, list(scopes) or None)
        return events


@contextlib.contextmanager
def fresh_guard(
    options: TwPolicyOptions | None = None, *, sinks: Iterable[_guard.Sink] = ()
) -> Iterator[Guard]:
    """A fresh guard, installed as the default guard for the ``with`` block.

    It has an empty in-memory consent ledger (then the consent ``options.granted`` names, for
    the acting user), an empty in-memory quota ledger, the mode and rule modes of
    ``options``, and ``sinks``. The previous default guard is restored afterwards, whatever
    happens in the block.
    """
    options = options or TwPolicyOptions()
    ledger: Ledger = open_ledger("memory://")
    guard = Guard(
        ledger=ledger,
        quotas=open_quotas("memory://"),
        mode=options.mode,
        rule_modes=dict(options.rule_modes),
        sinks=sinks,
    )
    if options.granted:
        ConsentHelper(ledger, user_id=options.acting_user_id, evidence="twpolicy marker").grant(
            *sorted(options.granted)
        )
    with _guard._default_lock:  # noqa: SLF001  # swap the process default without building one
        previous = _guard._default_guard  # noqa: SLF001  # ditto
    _guard.set_default_guard(guard)
    try:
        yield guard
    finally:
        _guard.set_default_guard(previous)

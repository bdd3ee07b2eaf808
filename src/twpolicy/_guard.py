"""The decision point: one guard asks every rule and logs every decision.

Enforcement points describe an action, call `Guard.enforce` (or `Guard.check`), and act on the
answer. The guard never lets an error turn into an allow: a rule that raises denies with
reason ``rule_error``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from twpolicy._compat import tomllib
from twpolicy._consent import ConsentLedger, open_ledger
from twpolicy._model import Action, Decision, Effect, Mode, Outcome
from twpolicy._quotas import QuotaLedger, open_quotas
from twpolicy._rules import Rule, default_rules
from twpolicy._version import __version__
from twpolicy.exceptions import (
    ConfigurationError,
    PolicyViolation,
    TwPolicyError,
    TwPolicyWarning,
)

__all__ = ["CONFIG_ENV", "Guard", "Sink", "get_default_guard", "set_default_guard"]

#: The environment variable naming a TOML file that configures the default guard.
CONFIG_ENV = "TWPOLICY_CONFIG"

#: A callable that receives every decision, after it is made and before it is acted on.
Sink = Callable[[Decision], None]

_DECISIONS = logging.getLogger("twpolicy.decisions")
_LOG = logging.getLogger("twpolicy")
_LOG.addHandler(logging.NullHandler())

_DEFAULT_RULE = "twpolicy.default"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _mode(value: Mode | str, where: str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        choices = ", ".join(m.value for m in Mode)
        raise ConfigurationError(f"{where}: unknown mode {value!r}; use one of {choices}") from None


class Guard:
    """The one place a policy decision is made.

    Args:
        ledger: the consent ledger rules ask (`twpolicy.open_ledger`); ``None`` means writes
            on a user's behalf are refused, as no consent can be found.
        quotas: the per-recipient quota ledger (`twpolicy.open_quotas`) that the
            ``redistribution.quota`` rule counts exports against; ``None`` means exports to
            a named recipient are refused, as they cannot be counted.
        mode: how denies are acted on by default: ``"enforce"``, ``"warn"`` or ``"monitor"``.
        rules: the rules to evaluate, in order; `twpolicy.default_rules` when ``None``.
        sinks: callables that receive every decision (a `twpolicy.testing.DecisionRecorder`,
            an audit writer). A sink that raises is reported on the ``twpolicy`` logger and
            does not change the decision.
        rule_modes: per-rule overrides of ``mode``, by rule id.
        clock: returns the current time (timezone-aware); tests pass a fake one.
    """

    def __init__(
        self,
        *,
        ledger: ConsentLedger | None = None,
        quotas: QuotaLedger | None = None,
        mode: Mode | str = Mode.ENFORCE,
        rules: Iterable[Rule] | None = None,
        sinks: Iterable[Sink] = (),
        rule_modes: Mapping[str, Mode | str] | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._ledger = ledger
        self._quotas = quotas
        self._mode = _mode(mode, "Guard(mode=)")
        self._rules = tuple(default_rules() if rules is None else rules)
        ids = [rule.id for rule in self._rules]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise ConfigurationError(f"rule ids must be unique; repeated: {duplicates}")
        overrides = dict(rule_modes or {})
        unknown = sorted(set(overrides) - set(ids))
        if unknown:
            raise ConfigurationError(f"rule_modes names unknown rule(s) {unknown}; known: {ids}")
        self._modes = {
            rule.id: _mode(overrides.get(rule.id, self._mode), f"rule_modes[{rule.id!r}]")
            for rule in self._rules
        }
        self._sinks = tuple(sinks)
        self._clock = clock
        digest = hashlib.sha256(
            json.dumps([[r.id, r.clause, self._modes[r.id].value] for r in self._rules]).encode()
        ).hexdigest()
        self._policy_version = f"twpolicy {__version__}+rules.{digest[:12]}"

    def __repr__(self) -> str:
        return (
            f"twpolicy.Guard(mode={self._mode.value!r}, rules={[r.id for r in self._rules]}, "
            f"ledger={self._ledger!r})"
        )

    @property
    def consent(self) -> ConsentLedger | None:
        """The consent ledger rules ask."""
        return self._ledger

    @property
    def quotas(self) -> QuotaLedger | None:
        """The per-recipient quota ledger."""
        return self._quotas

    @property
    def mode(self) -> Mode:
        """The default mode."""
        return self._mode

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules, in evaluation order."""
        return self._rules

    @property
    def policy_version(self) -> str:
        """The package version and a hash of the rule set and modes, stamped on decisions."""
        return self._policy_version

    def mode_of(self, rule_id: str) -> Mode:
        """The mode a rule's denies are acted on in."""
        return self._modes.get(rule_id, self._mode)

    def now(self) -> datetime:
        """The guard's current time, from its clock."""
        return self._clock()

    def add_sink(self, sink: Sink) -> None:
        """Send every later decision to ``sink`` as well."""
        self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: Sink) -> None:
        """Stop sending decisions to ``sink``."""
        self._sinks = tuple(s for s in self._sinks if s is not sink)

    def _evaluate(self, rule: Rule, action: Action) -> Outcome | None:
        try:
            outcome = rule.evaluate(action, self)
        except Exception as exc:  # noqa: BLE001  # fail closed: any error in a rule is a deny
            # Only twpolicy's own messages are repeated: others may quote the payload.
            detail = str(exc) if isinstance(exc, TwPolicyError) else type(exc).__name__
            _LOG.debug("rule %s raised %s", rule.id, type(exc).__name__)
            outcome = Outcome.deny(
                "rule_error",
                f"rule {rule.id} could not decide on {action.operation} ({detail}), so the "
                "action was refused (fail closed).",
                "fix the cause named above (a store that cannot be read, a malformed payload) "
                "and retry.",
            )
        if outcome is None:
            return None
        return Outcome(
            outcome.effect,
            outcome.reason,
            outcome.message,
            outcome.remediation,
            outcome.facts,
            rule.id,
            outcome.clause or rule.clause,
            self._modes[rule.id],
        )

    def check(self, action: Action) -> Decision:
        """Decide on ``action`` and log the decision; never raises for a deny.

        Rules run in order, general to specific. The first enforced deny decides, else the
        first deny in a non-enforcing mode; an allow is reported by the last (most specific)
        rule that allowed.
        """
        started = time.perf_counter_ns()
        outcomes = tuple(o for o in (self._evaluate(r, action) for r in self._rules) if o)
        deciding = (
            next((o for o in outcomes if o.enforced), None)
            or next((o for o in outcomes if o.effect is Effect.DENY), None)
            or (outcomes[-1] if outcomes else None)
        )
        if deciding is None:
            deciding = Outcome(
                Effect.ALLOW, "no_rule_applies", rule=_DEFAULT_RULE, clause="", mode=self._mode
            )
        decision = Decision(
            allowed=not deciding.enforced,
            effect=deciding.effect,
            rule=deciding.rule,
            clause=deciding.clause,
            reason=deciding.reason,
            message=deciding.message,
            remediation=deciding.remediation,
            decision_id=str(uuid.uuid4()),
            mode=deciding.mode,
            enforced=deciding.enforced,
            policy_version=self._policy_version,
            timestamp=self._clock(),
            evaluation_ns=time.perf_counter_ns() - started,
            action_kind=action.kind,
            operation=action.operation,
            acting_user_id=action.acting_user_id,
            recipient=action.recipient,
            count=action.count,
            content_sha256=action.content_sha256,
            outcomes=outcomes,
        )
        self._log(decision)
        return decision

    def enforce(self, action: Action) -> Decision:
        """Decide on ``action``; raise on an enforced deny, warn on a deny in ``warn`` mode.

        Raises:
            PolicyViolation: the subclass named by the deciding rule (`ConsentRequired`, ...).
        """
        decision = self.check(action)
        if decision.effect is Effect.DENY:
            if decision.enforced:
                raise self._error_for(decision.rule)(decision)
            if decision.mode is Mode.WARN:
                warnings.warn(TwPolicyWarning(decision.explain()), stacklevel=2)
        return decision

    def _error_for(self, rule_id: str) -> type[PolicyViolation]:
        for rule in self._rules:
            if rule.id == rule_id:
                return rule.error
        return PolicyViolation  # pragma: no cover  # a deciding deny always has a rule

    def _log(self, decision: Decision) -> None:
        for sink in self._sinks:
            try:
                sink(decision)
            except Exception:  # noqa: BLE001, PERF203  # a failing audit sink must not change the decision
                _LOG.exception("decision sink %r failed for %s", sink, decision.decision_id)
        level = logging.WARNING if decision.effect is Effect.DENY else logging.INFO
        if _DECISIONS.isEnabledFor(level):
            record = decision.to_record()
            _DECISIONS.log(level, "%s", json.dumps(record), extra={"decision": record})

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], **overrides: Any) -> Guard:
        """Build a guard from a TOML file (a ``[twpolicy]`` or ``[tool.twpolicy]`` table).

        The whole file is read and checked before anything is built, so a bad file changes
        nothing.

        Raises:
            ConfigurationError: the file is missing, not TOML, or names unknown keys or values.
        """
        settings = _read_config(Path(path))
        ledger_url = settings.get("consent_ledger", "memory://")
        kwargs: dict[str, Any] = {
            "mode": settings.get("mode", Mode.ENFORCE),
            "rule_modes": settings.get("rules", {}),
        }
        kwargs.update(overrides)
        if "ledger" not in kwargs:
            kwargs["ledger"] = open_ledger(ledger_url)
        if "quotas" not in kwargs:
            kwargs["quotas"] = open_quotas(settings.get("quota_ledger", "memory://"))
        return cls(**kwargs)


_KEYS = {"mode": str, "consent_ledger": str, "quota_ledger": str, "rules": dict}


def _read_config(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read twpolicy config {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"twpolicy config {path} is not valid TOML: {exc}") from exc
    settings = document.get("twpolicy", document.get("tool", {}).get("twpolicy"))
    if not isinstance(settings, dict):
        raise ConfigurationError(f"twpolicy config {path} has no [twpolicy] table")
    for key, value in settings.items():
        expected = _KEYS.get(key)
        if expected is None:
            raise ConfigurationError(
                f"twpolicy config {path}: unknown key {key!r}; known keys: {sorted(_KEYS)}"
            )
        if not isinstance(value, expected):
            raise ConfigurationError(
                f"twpolicy config {path}: {key} must be a {expected.__name__}, "
                f"got {type(value).__name__}"
            )
    _mode(settings.get("mode", Mode.ENFORCE), f"twpolicy config {path}: mode")
    for rule_id, rule_mode in settings.get("rules", {}).items():
        _mode(rule_mode, f"twpolicy config {path}: rules.{rule_id}")
    return settings


_default_lock = threading.Lock()
_default_guard: Guard | None = None


def get_default_guard() -> Guard:
    """The guard clients and decorators use when given none.

    Built on first use: from the TOML file named by ``TWPOLICY_CONFIG`` when set, otherwise
    enforcing with an empty in-memory consent ledger, so writes are refused until consent is
    recorded, and an in-memory quota ledger.
    """
    global _default_guard  # noqa: PLW0603  # the process-wide default is the point
    with _default_lock:
        if _default_guard is None:
            path = os.environ.get(CONFIG_ENV)
            _default_guard = (
                Guard.from_config(path)
                if path
                else Guard(ledger=open_ledger("memory://"), quotas=open_quotas("memory://"))
            )
        return _default_guard


def set_default_guard(guard: Guard | None) -> None:
    """Replace the default guard; ``None`` rebuilds it on next use."""
    global _default_guard  # noqa: PLW0603  # the process-wide default is the point
    with _default_lock:
        _default_guard = guard

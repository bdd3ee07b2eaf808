"""The decision point: one guard asks every rule and logs every decision.

Enforcement points describe an action and act under ``with guard.permit(action):``; the
guard decides with pure rules, holds what the decision obliges (a single-use consent claimed,
a quota reserved) and, once the action has happened, commits it, or gives it back when the
action failed. `Guard.check` only decides: it changes no store. The guard never lets an error
turn into an allow: a rule that raises denies with reason ``rule_error``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from twpolicy._compat import tomllib
from twpolicy._model import (
    Action,
    ActionKind,
    CountAction,
    Decision,
    Effect,
    Mode,
    Obligation,
    Outcome,
    ReserveQuota,
    SpendConsent,
)
from twpolicy._payloads._geo import LocationMemory
from twpolicy._stores._compliance import ComplianceLedger, open_compliance
from twpolicy._stores._consent import ConsentLedger, key_from_setting, open_ledger
from twpolicy._stores._decisions import DecisionFile
from twpolicy._stores._ids import CountedIds
from twpolicy._stores._keys import environment, open_keys, use_case_name
from twpolicy._stores._quotas import QuotaLedger, open_quotas
from twpolicy._stores._secrets import SecretRegistry, install_log_filter, process_secrets
from twpolicy._stores._tokens import open_user_tokens
from twpolicy._stores._windows import WindowLedger, open_windows
from twpolicy._version import __version__
from twpolicy.exceptions import (
    ConfigurationError,
    PolicyViolation,
    TwPolicyError,
    TwPolicyWarning,
)
from twpolicy.rules import (
    SENSITIVE_EVENT_TERMS,
    Rule,
    RuleContext,
    bulk_limit,
    default,
    honour_tombstones,
    one_key_per_use_case,
    require_recipient_terms,
    user_token_thresholds,
)
from twpolicy.rules._purposes import check_purposes
from twpolicy.rules._redistribution import quota_denial, reserved_counts

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["CONFIG_ENV", "Guard", "Permit", "Sink", "get_default_guard", "set_default_guard"]

#: The environment variable naming a TOML file that configures the default guard.
CONFIG_ENV = "TWPOLICY_CONFIG"

#: A callable that receives every decision, after it is made and before it is acted on.
Sink = Callable[[Decision], None]

_DECISIONS = logging.getLogger("twpolicy.decisions")
_LOG = logging.getLogger("twpolicy")
_LOG.addHandler(logging.NullHandler())
install_log_filter()  # registered secrets never reach a handler through these loggers

_DEFAULT_RULE = "twpolicy.default"
_ALL_KINDS = frozenset(ActionKind)
_STAMPED_SLOTS = 4096
_STATIC_SLOTS = 1024
#: Seconds between retries of a spend or release the consent ledger refused, from the hot path.
_RETRY_UNRESOLVED = 1.0


_DecisionIds = CountedIds
_IDS = _DecisionIds()


#: The default clock: the current time in UTC (a partial, to save a call on every check).
_utcnow: Callable[[], datetime] = functools.partial(datetime.now, timezone.utc)


def _mode(value: Mode | str, where: str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        choices = ", ".join(m.value for m in Mode)
        raise ConfigurationError(f"{where}: unknown mode {value!r}; use one of {choices}") from None


_SEVERITY = {Mode.MONITOR: 0, Mode.WARN: 1, Mode.ENFORCE: 2}


def _softer(mode: Mode, rule: Rule) -> Mode:
    """The guard's mode, or the rule's own ``default_mode`` when that is softer.

    A rule whose deny is evidence rather than proof (a query naming a protest) warns by
    default; ``rule_modes`` enforces it on request.
    """
    preferred = getattr(rule, "default_mode", None)
    if isinstance(preferred, Mode) and _SEVERITY[preferred] < _SEVERITY[mode]:
        return preferred
    return mode


class Guard:
    """The one place a policy decision is made.

    Args:
        ledger: the consent ledger rules ask (`twpolicy.open_ledger`); ``None`` means writes
            on a user's behalf are refused, as no consent can be found.
        quotas: the per-recipient quota ledger (`twpolicy.open_quotas`) that the
            ``redistribution.quota`` rule counts exports against; ``None`` means exports to
            a named recipient are refused, as they cannot be counted.
        compliance: the compliance ledger (`twpolicy.open_compliance`) whose tombstones the
            ``compliance.tombstone`` rule refuses to store, export or display; ``None``
            means that rule is silent (nothing is known to be gone).
        mode: how denies are acted on by default: ``"enforce"``, ``"warn"`` or ``"monitor"``.
        rules: the rules to evaluate, in order; `twpolicy.rules.default` when ``None``.
        sinks: callables that receive every decision (a `twpolicy.testing.DecisionRecorder`,
            an audit writer). A sink that raises is reported on the ``twpolicy`` logger and
            does not change the decision.
        rule_modes: per-rule overrides of ``mode``, by rule id.
        clock: returns the current time (timezone-aware); tests pass a fake one.
        windows: the action window ledger (`twpolicy.open_windows`) that bulk caps and
            duplicate-content checks count writes in; ``None``: a fresh ``memory://`` one,
            which counts this process only (give every process the same SQLite or
            PostgreSQL URL to cap them together).
        locations: the memory of location read in Twitter Content that the
            ``geo.standalone`` rule reads (`twpolicy.LocationMemory`); ``None``: a fresh one.
            The guarded clients and the storage enforcement points feed it.
    """

    def __init__(
        self,
        *,
        ledger: ConsentLedger | None = None,
        quotas: QuotaLedger | None = None,
        compliance: ComplianceLedger | None = None,
        mode: Mode | str = Mode.ENFORCE,
        rules: Iterable[Rule] | None = None,
        sinks: Iterable[Sink] = (),
        rule_modes: Mapping[str, Mode | str] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        windows: WindowLedger | None = None,
        locations: LocationMemory | None = None,
    ) -> None:
        self._ledger = ledger
        self._quotas = quotas
        self._compliance = compliance
        self._windows = windows if windows is not None else open_windows("memory://")
        self._locations = locations if locations is not None else LocationMemory()
        self._mode = _mode(mode, "Guard(mode=)")
        self._rules = tuple(default() if rules is None else rules)
        ids = [rule.id for rule in self._rules]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise ConfigurationError(f"rule ids must be unique; repeated: {duplicates}")
        overrides = dict(rule_modes or {})
        unknown = sorted(set(overrides) - set(ids))
        if unknown:
            raise ConfigurationError(f"rule_modes names unknown rule(s) {unknown}; known: {ids}")
        self._modes = {
            rule.id: _mode(
                overrides.get(rule.id, _softer(self._mode, rule)), f"rule_modes[{rule.id!r}]"
            )
            for rule in self._rules
        }
        self._sinks = tuple(sinks)
        self._clock = clock
        # The rules that may judge each kind of action: a rule without ``kinds`` judges all.
        self._by_kind: dict[ActionKind, tuple[Rule, ...]] = {
            kind: tuple(r for r in self._rules if kind in getattr(r, "kinds", _ALL_KINDS))
            for kind in ActionKind
        }
        self._errors = {rule.id: rule.error for rule in self._rules}
        self._by_id = {rule.id: rule for rule in self._rules}
        # Allow outcomes stamped with their rule, by content: rules repeat them call after call.
        self._stamped: dict[tuple[str, int], tuple[Outcome, Outcome]] = {}
        self._clean = _CleanOutcomes()
        # Outcomes of actions every rule calls static (rule.static_for), by action object:
        # the clients reuse one action per read endpoint. Each entry holds its action, so the
        # id cannot be reused while the entry lives.
        checks = [getattr(rule, "static_for", None) for rule in self._rules]
        self._static_checks: tuple[Callable[[Action], bool], ...] | None = (
            tuple(c for c in checks if c is not None) if None not in checks else None
        )
        # The last field: the outcome is an allow that obliges nothing (a read, usually).
        self._static: dict[int, tuple[Action, tuple[Outcome, ...], Outcome, bool]] = {}
        self._default = Outcome(
            Effect.ALLOW, "no_rule_applies", rule=_DEFAULT_RULE, clause="", mode=self._mode
        )
        # Claims whose spend (or release) could not be written, by record: retried before
        # later permits; until then this process refuses the record.
        self._unresolved: dict[str, tuple[str, bool, str]] = {}
        self._unresolved_lock = threading.Lock()
        self._retry_at = 0.0
        # Whether every store the rules may read is in memory (no file, socket or server).
        self._memory_only = all(
            _in_memory(store) for store in (ledger, quotas, compliance, self._windows)
        ) and all(_memory_rule(rule) for rule in self._rules)
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
    def compliance(self) -> ComplianceLedger | None:
        """The compliance ledger."""
        return self._compliance

    @property
    def secrets(self) -> SecretRegistry:
        """The application's own API secrets, known by keyed hash only (`register_secrets`)."""
        return process_secrets()

    def register_secrets(self, *values: object) -> int:
        """Know ``values`` as the application's own secrets; return how many were new.

        The guarded clients register their consumer secret, access token secret and bearer
        token when they are built. Only a keyed hash of each is kept. From then on the
        ``credentials.stored`` rule refuses storing or exporting them, and every decision,
        error and twpolicy log line shows them as ``[redacted secret]``. Secrets are known
        process-wide: a log line or a store anywhere in the process must keep them out.
        Strings shorter than 12 characters are ignored (they would match ordinary text).
        """
        return process_secrets().register(values)

    @property
    def locations(self) -> LocationMemory:
        """The location this guard has read in Twitter Content (I.B.7's provenance memory)."""
        return self._locations

    @property
    def windows(self) -> WindowLedger:
        """The action window ledger (bulk caps, duplicate content)."""
        return self._windows

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

    def _rule_error(self, rule: Rule, action: Action, exc: Exception) -> Outcome:
        # Only twpolicy's own messages are repeated: others may quote the payload.
        detail = str(exc) if isinstance(exc, TwPolicyError) else type(exc).__name__
        _LOG.debug("rule %s raised %s", rule.id, type(exc).__name__)
        return Outcome.deny(
            "rule_error",
            f"rule {rule.id} could not decide on {action.operation} ({detail}), so the "
            "action was refused (fail closed).",
            "fix the cause named above (a store that cannot be read, a malformed payload) "
            "and retry.",
        )

    def _stamped_allow(self, rule: Rule, outcome: Outcome) -> Outcome:
        # Allows are shared objects (Outcome.allow), so stamp each once: the entry holds the
        # outcome itself, so its id cannot be reused while the entry lives.
        key = (rule.id, id(outcome))
        entry = self._stamped.get(key)
        if entry is not None and entry[0] is outcome:
            return entry[1]
        if len(self._stamped) >= _STAMPED_SLOTS:
            self._stamped.clear()
        stamped = self._stamp(rule, outcome)
        self._stamped[key] = (outcome, stamped)
        return stamped

    def _stamp(self, rule: Rule, outcome: Outcome) -> Outcome:
        return Outcome(
            outcome.effect,
            outcome.reason,
            outcome.message,
            outcome.remediation,
            outcome.facts,
            rule.id,
            outcome.clause or rule.clause,
            self._modes[rule.id],
            outcome.obligations,
        )

    def _outcomes(
        self, action: Action, claims: frozenset[str] = frozenset()
    ) -> tuple[tuple[Outcome, ...], Outcome]:
        """Every rule's outcome and the deciding one; reused when every rule calls it static.

        Only actions without a payload are remembered, so no payload outlives its decision.
        """
        checks = self._static_checks
        if checks is None or action.payload is not None or claims:
            return self._evaluate(action, claims)[:2]
        entry = self._static.get(id(action))
        if entry is not None and entry[0] is action:
            return entry[1], entry[2]
        outcomes, deciding, failed = self._evaluate(action)
        if not failed and self._all_static(checks, action):
            if len(self._static) >= _STATIC_SLOTS:
                self._static.clear()
            plain = deciding.effect is Effect.ALLOW and not any(o.obligations for o in outcomes)
            self._static[id(action)] = (action, outcomes, deciding, plain)
        return outcomes, deciding

    def remembers(self, action: Action) -> bool:
        """Whether entering ``permit(action)`` would touch no store, sink or log handler.

        True when every rule's outcome for this very action object is remembered (all call
        it static), it is an allow that obliges nothing, and nobody receives allows. An
        asynchronous enforcement point may then decide on the event loop; otherwise it
        decides in a worker thread.
        """
        entry = self._static.get(id(action))
        return entry is not None and entry[0] is action and entry[3] and not self._observed()

    def in_memory(self) -> bool:
        """Whether any decision touches only memory: no file, database, socket or sink.

        True when every store (consent, quotas, compliance, windows, and any a built-in rule
        holds) is a ``memory://`` one, every rule is a built-in one, and nobody receives
        allows (no sink, the decision logger below ``INFO``). An asynchronous enforcement
        point then decides, claims and commits on the event loop, saving the hop to a
        worker thread; otherwise it does all three in a worker thread.
        """
        return self._memory_only and not self._observed()

    def judges(self, kind: ActionKind | str) -> bool:
        """Whether any rule may say something about actions of ``kind``.

        Enforcement points skip deciding on kinds no rule judges (a stream payload, today),
        rather than log a decision no rule made.
        """
        return bool(self._by_kind[ActionKind(kind)])

    def context(self, *, claims: frozenset[str] = frozenset()) -> RuleContext:
        """The read-only view rules decide with: the time now, consent and quota readers."""
        return RuleContext(
            now=self._clock(),
            consent=self._ledger,
            quotas=self._quotas,
            compliance=self._compliance,
            windows=self._windows,
            mode_of=self.mode_of,
            claims=claims,
            secrets=process_secrets(),
            locations=self._locations,
        )

    def _evaluate(
        self, action: Action, claims: frozenset[str] = frozenset()
    ) -> tuple[tuple[Outcome, ...], Outcome, bool]:
        """Every rule's outcome, the deciding one, and whether a rule raised.

        Rules run in order, general to specific. The first enforced deny decides, else the
        first deny in a non-enforcing mode; an allow is reported by the last (most specific)
        rule that allowed.
        """
        outcomes = []
        enforced = first_deny = None
        failed = False
        rules = self._by_kind[action.kind]
        context = self.context(claims=claims) if rules else None
        for rule in rules:
            try:
                outcome = rule.evaluate(action, context)  # type: ignore[arg-type]  # set when rules
            except Exception as exc:  # noqa: BLE001  # fail closed: any error in a rule is a deny
                outcome = self._rule_error(rule, action, exc)
                failed = True
            if outcome is None:
                continue
            if outcome.effect is Effect.ALLOW:
                outcomes.append(self._stamped_allow(rule, outcome))
                continue
            outcome = self._stamp(rule, outcome)
            outcomes.append(outcome)
            if enforced is None and outcome.mode is Mode.ENFORCE:
                enforced = outcome
            if first_deny is None:
                first_deny = outcome
        deciding = enforced or first_deny or (outcomes[-1] if outcomes else self._default)
        return tuple(outcomes), deciding, failed

    @staticmethod
    def _all_static(checks: tuple[Callable[[Action], bool], ...], action: Action) -> bool:
        try:
            return all(check(action) for check in checks)
        except Exception:  # noqa: BLE001  # a rule that cannot tell is not static
            return False

    def _decision(
        self, action: Action, outcomes: tuple[Outcome, ...], deciding: Outcome, started: int
    ) -> Decision:
        decision = self._build(
            action, outcomes, deciding, time.perf_counter_ns() - started, self._clock()
        )
        self._log(decision)
        return decision

    def _build(
        self,
        action: Action,
        outcomes: tuple[Outcome, ...],
        deciding: Outcome,
        evaluation_ns: int,
        timestamp: datetime,
    ) -> Decision:
        """The decision record, with every registered secret cut out of its text."""
        decision = Decision(
            allowed=not deciding.enforced,
            effect=deciding.effect,
            rule=deciding.rule,
            clause=deciding.clause,
            reason=deciding.reason,
            message=deciding.message,
            remediation=deciding.remediation,
            decision_id=_IDS.next(),
            mode=deciding.mode,
            enforced=deciding.enforced,
            policy_version=self._policy_version,
            timestamp=timestamp,
            evaluation_ns=evaluation_ns,
            action_kind=action.kind,
            operation=action.operation,
            acting_user_id=action.acting_user_id,
            recipient=action.recipient,
            count=action.count,
            content_sha256=action.content_sha256,
            outcomes=outcomes,
            category=action.category,
            scopes=action.scopes,
            facts=action.facts,
        )
        secrets = process_secrets()
        if len(secrets):
            decision = _redacted(decision, deciding, secrets, self._clean)
        return decision

    def check(self, action: Action) -> Decision:
        """Decide on ``action`` and log the decision; never raises for a deny.

        Deciding changes nothing: no consent is spent and no quota counted, whatever the
        decision obliges (`Decision.obligations` lists it). Rules run in order, general to
        specific. The first enforced deny decides, else the first deny in a non-enforcing
        mode; an allow is reported by the last (most specific) rule that allowed.
        """
        started = time.perf_counter_ns()
        outcomes, deciding = self._outcomes(action)
        return self._decision(action, outcomes, deciding, started)

    def enforce(self, action: Action) -> Decision:
        """Decide on ``action``; raise on an enforced deny, warn on a deny in ``warn`` mode.

        For actions whose decision obliges nothing (storing, reading). An action that would
        spend a single-use consent or count against a quota must go through `permit`, which
        carries the obligations out; `enforce` refuses it rather than let it through
        uncounted.

        Raises:
            PolicyViolation: the subclass named by the deciding rule (`ConsentRequired`, ...).
            ConfigurationError: the decision carries obligations; use `permit`.
        """
        decision = self.check(action)
        self._act_on(decision)
        if decision.obligations:
            raise ConfigurationError(
                f"{action.operation}: the decision obliges the caller to "
                f"{', '.join(sorted({type(o).__name__ for o in decision.obligations}))}"
                "; act under `with guard.permit(action):` so that is carried out."
            )
        return decision

    def permit(self, action: Action, *, within: Permit | None = None) -> Permit:
        """Decide on ``action`` and hold what the decision obliges while the action happens.

        Use it as a context manager around the action::

            with guard.permit(action) as permit:
                response = send()          # raises: everything held is given back
                if not response.ok:
                    permit.fail("HTTP 503")  # ... or say so

        Entering decides (raising the deciding rule's `PolicyViolation` on an enforced
        deny), claims each single-use consent the decision relies on and reserves each quota
        count, atomically against other processes; a lost race refuses the action like any
        other deny. Leaving without an exception commits: the consent is spent, the
        reservation final. Leaving with one, or after `Permit.fail`, gives both back.

        Args:
            action: what is about to happen.
            within: the permit of the action this one retries (a request re-sent after a
                rate-limit wait): what that permit holds counts as held for this decision,
                which is made afresh, so a consent revoked meanwhile refuses the retry.
        """
        return Permit(self, action, within)

    def _observed(self) -> bool:
        """Whether anyone receives an allow: a sink, or the decision logger at ``INFO``."""
        return bool(self._sinks) or _DECISIONS.isEnabledFor(logging.INFO)

    def _act_on(self, decision: Decision, stacklevel: int = 3) -> None:
        if decision.effect is Effect.DENY:
            if decision.enforced:
                raise self._error_for(decision.rule)(decision)
            if decision.mode is Mode.WARN:
                warnings.warn(TwPolicyWarning(decision.explain()), stacklevel=stacklevel)

    def _error_for(self, rule_id: str) -> type[PolicyViolation]:
        return self._errors.get(rule_id, PolicyViolation)

    def _fulfil(self, held: Held, ok: bool, reason: str) -> None:  # noqa: FBT001  # internal
        """Commit (``ok``) or give back what a permit holds; report failures, never raise.

        A claim the ledger would not spend (or release) stays held there: the guard claims
        without a lapse, so the consent covers nothing until it is resolved. This process
        keeps it and tries again before later permits (`_settle`).
        """
        for record_id, claim in held.claims:
            if not self._resolve(record_id, claim, ok, reason):
                with self._unresolved_lock:
                    self._unresolved[record_id] = (claim, ok, reason)
                    self._retry_at = 0.0  # the next permit tries again
        for counted in held.counted:
            if ok:
                continue  # the row is the count: nothing more to write
            try:
                self._windows.release(counted)
            except Exception:  # noqa: BLE001  # over-counting is the safe failure
                _LOG.exception("could not release window count %s; it stays counted", counted)
        for reservation in held.reservations:
            try:
                if ok:
                    self._quotas.commit(reservation)  # type: ignore[union-attr]  # held only with quotas
                else:
                    self._quotas.release(reservation)  # type: ignore[union-attr]  # ditto
            except Exception:  # noqa: BLE001, PERF203  # over-counting is the safe failure
                _LOG.exception(
                    "could not %s quota reservation %s; it stays counted",
                    "commit" if ok else "release",
                    reservation,
                )

    def _resolve(self, record_id: str, claim: str, ok: bool, reason: str) -> bool:  # noqa: FBT001  # internal
        """Spend (``ok``) or release a claimed consent; ``False``, logged, if it failed."""
        try:
            if ok:
                self._ledger.use(record_id, claim=claim)  # type: ignore[union-attr]  # held only with a ledger
            else:
                self._ledger.release_claim(record_id, claim, reason=reason)  # type: ignore[union-attr]  # ditto
        except Exception:  # noqa: BLE001  # the action has happened (or not) already
            _LOG.exception(
                "could not %s single-use consent %s (claim %s); it stays held, and this "
                "process tries again before its next permit",
                "spend" if ok else "release",
                record_id,
                claim,
            )
            return False
        return True

    def _settle(self, *, force: bool = False) -> None:
        """Try again to spend or release the claims the ledger refused.

        At once after a failure, then at most once a second (unless ``force``), so an outage
        costs permits one failing write a second, not one each.
        """
        if not force and time.monotonic() < self._retry_at:
            return
        with self._unresolved_lock:
            pending = list(self._unresolved.items())
            self._retry_at = time.monotonic() + _RETRY_UNRESOLVED
        for record_id, (claim, ok, reason) in pending:
            if self._resolve(record_id, claim, ok, reason):
                with self._unresolved_lock:
                    if self._unresolved.get(record_id, (None,))[0] == claim:
                        del self._unresolved[record_id]

    def _hold(
        self, action: Action, outcomes: tuple[Outcome, ...], within: Permit | None, held: Held
    ) -> Outcome | None:
        """Take what ``outcomes`` oblige; return a deny outcome if something cannot be had."""
        outer = within.held.claims if within is not None else ()
        outer_records = {record_id for record_id, _ in outer}
        for outcome in outcomes:
            if not outcome.obligations or (
                outcome.effect is Effect.DENY and outcome.mode is Mode.ENFORCE
            ):
                continue
            rule = self._by_id[outcome.rule]
            for obligation in outcome.obligations:
                if within is not None and isinstance(obligation, CountAction):
                    continue  # a retry: the first try counted the action already
                try:
                    refusal = self._take(action, rule, obligation, outer_records, held)
                except Exception as exc:  # noqa: BLE001  # fail closed: nothing held, refuse
                    refusal = self._rule_error(rule, action, exc)
                    refusal = self._stamp(rule, attrs.evolve(refusal, reason="obligation_failed"))
                if refusal is not None:
                    return refusal
        return None

    def _take(  # noqa: C901  # one branch per obligation type
        self,
        action: Action,
        rule: Rule,
        obligation: Obligation,
        outer_records: set[str],
        held: Held,
    ) -> Outcome | None:
        if isinstance(obligation, SpendConsent):
            if obligation.record_id in outer_records:
                return None  # the action this one retries holds it already
            if not all(hasattr(self._ledger, name) for name in ("claim", "use", "release_claim")):
                raise ConfigurationError(
                    "the consent ledger cannot hold a single-use consent (it has no claim, "
                    "use and release_claim), so it could be used twice; use twpolicy.Ledger"
                )
            if obligation.record_id in self._unresolved:
                self._settle(force=True)
            claim = str(uuid.uuid4())
            ledger: Any = self._ledger  # has claim, use and release_claim (checked above)
            # No lapse: a claim whose action may have happened must not reopen by itself.
            if obligation.record_id not in self._unresolved and ledger.claim(
                obligation.record_id, claim, until=None
            ):
                held.claims.append((obligation.record_id, claim))
                return None
            return self._stamp(
                rule,
                Outcome.deny(
                    "single_use_consent_taken",
                    f"user {obligation.user_id}'s single-use consent "
                    f"{obligation.record_id} for this exact content was spent, or is held, by "
                    f"another action before {action.operation} could use it; it covers one "
                    "post only.",
                    "ask the user again for this content and record their consent: "
                    f"guard.consent.grant({obligation.user_id!r}, [...], notice=..., "
                    "method=..., evidence=..., content_sha256=twpolicy.content_sha256(...)). "
                    "If you know the action holding it never happened (its process stopped "
                    "before sending), give it back instead: "
                    f"guard.consent.release_claim({obligation.record_id!r}, claim), with the "
                    "claim of its last 'claimed' event in "
                    f"guard.consent.history({obligation.user_id!r}).",
                    facts={"record_id": obligation.record_id},
                ),
            )
        if isinstance(obligation, ReserveQuota):
            if self._quotas is None:
                raise ConfigurationError("an export must be counted, but the guard has no quotas")
            reservation = self._quotas.reserve(
                obligation.recipient,
                tweet_ids=obligation.tweet_ids,
                hydrated_objects=obligation.hydrated_objects,
                requested_by=obligation.requested_by,
                at=self._clock(),
                force=obligation.force,
            )
            if reservation.reservation_id is not None:
                held.reservations.append(reservation.reservation_id)
            if reservation.granted or obligation.force:
                return None
            counts = reserved_counts(obligation)
            facts = {**reservation.recipient.facts()}
            for usage in reservation.usage:
                facts.update(usage.facts())
            return self._stamp(
                rule,
                quota_denial(
                    action,
                    reservation.usage,
                    reservation.exceeded,
                    counts=counts,
                    facts=facts,
                    ledger=self._quotas,
                ),
            )
        if isinstance(obligation, CountAction):
            return self._count(rule, obligation, held)
        raise ConfigurationError(f"unknown obligation {obligation!r}")  # pragma: no cover

    def _count(self, rule: Rule, obligation: CountAction, held: Held) -> Outcome | None:
        """Reserve a window count atomically; a refusal is the rule's own denial, re-checked."""
        window = timedelta(seconds=obligation.window_seconds)
        verdict = self._windows.reserve(
            obligation.window_key,
            account=obligation.account,
            window=window,
            limit=obligation.limit,
            content=obligation.content,
            threshold=obligation.threshold,
            at=self._clock(),
            force=obligation.force,
        )
        if verdict.reservation_id is not None:
            held.counted.append(verdict.reservation_id)
            return None
        refusal = getattr(rule, "refusal", None)
        if refusal is None:  # pragma: no cover  # the built-in rules define it
            raise ConfigurationError(f"rule {rule.id} cannot explain a full window")
        outcome: Outcome = refusal(obligation, verdict)
        return self._stamp(rule, outcome)

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
        key = settings.get("consent_key")  # else $TWPOLICY_CONSENT_KEY, read by open_ledger
        kwargs: dict[str, Any] = {
            "mode": settings.get("mode", Mode.ENFORCE),
            "rule_modes": settings.get("rules", {}),
        }
        kwargs.update(overrides)
        if "ledger" not in kwargs:
            where = f"twpolicy config {path}"
            consent_key = None if key is None else key_from_setting(key, where)
            kwargs["ledger"] = open_ledger(ledger_url, key=consent_key)
        if "quotas" not in kwargs:
            kwargs["quotas"] = open_quotas(settings.get("quota_ledger", "memory://"))
        if "decision_log" in settings and "sinks" not in overrides:
            # A relative path is relative to the configuration file, wherever the app runs.
            kwargs["sinks"] = [DecisionFile(Path(path).parent / settings["decision_log"])]
        if "rules" not in kwargs:
            kwargs["rules"] = _configured_rules(settings)
            if "user_token_store" in settings:
                tokens = open_user_tokens(settings["user_token_store"])
                core = settings.get("core_client", False)
                kwargs["rules"].append(user_token_thresholds(tokens, core_client=core))
                kwargs["sinks"] = [*kwargs.get("sinks", ()), tokens]
        if "compliance" not in kwargs and "compliance_ledger" in settings:
            kwargs["compliance"] = open_compliance(settings["compliance_ledger"])
        if "windows" not in kwargs:
            kwargs["windows"] = open_windows(settings.get("window_ledger", "memory://"))
        return cls(**kwargs)


def _in_memory(store: object) -> bool:
    """Whether ``store`` is absent or a ``memory://`` one (reading it blocks on nothing)."""
    return store is None or getattr(store, "url", None) == "memory://"


def _memory_rule(rule: Rule) -> bool:
    """Whether ``rule`` is a built-in one whose own stores, if any, are in memory.

    A rule of the application's may do any I/O: it is never counted as in memory.
    """
    kind = type(rule)
    if not kind.__module__.startswith("twpolicy.rules.") or not attrs.has(kind):
        return False
    return all(
        _in_memory(value) or not hasattr(value, "url")
        for value in (getattr(rule, field.name) for field in attrs.fields(kind))
    )


def _redacted_facts(facts: Mapping[str, Any], secrets: SecretRegistry) -> Mapping[str, Any]:
    if not any(isinstance(v, str) and secrets.contains(v) for v in facts.values()):
        return facts
    return {k: secrets.redact(v) if isinstance(v, str) else v for k, v in facts.items()}


class _CleanOutcomes:
    """Outcomes known to quote no registered secret, by identity, while the secrets stand.

    A guard's allows are shared stamped objects, repeated decision after decision, so each
    is checked once rather than at every decision (a third of a write decision's cut-out
    cost). Each entry holds its outcome, so the id cannot be reused while the entry lives;
    the registry's generation is read before the check, so a secret registered meanwhile
    makes the next decision check again.
    """

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[int, tuple[Outcome, int]] = {}

    def clean(self, outcome: Outcome, secrets: SecretRegistry) -> bool:
        generation = secrets.generation()
        entry = self._known.get(id(outcome))
        if entry is not None and entry[0] is outcome and entry[1] == generation:
            return True
        texts = (outcome.message, outcome.remediation, outcome.reason, *outcome.facts.values())
        if any(isinstance(v, str) and secrets.contains(v) for v in texts):
            return False
        if len(self._known) >= _STAMPED_SLOTS:
            self._known.clear()
        self._known[id(outcome)] = (outcome, generation)
        return True


def _redacted(
    decision: Decision, deciding: Outcome, secrets: SecretRegistry, known: _CleanOutcomes
) -> Decision:
    """``decision`` with every registered secret in its text replaced (I.A.1).

    ``deciding`` is the outcome the decision's message, remediation and reason come from.
    """
    texts: tuple[str, ...] = ("operation", "recipient", "acting_user_id")
    if not known.clean(deciding, secrets):
        texts += ("message", "remediation", "reason")
    changes: dict[str, Any] = {
        name: secrets.redact(value)
        for name in texts
        if isinstance(value := getattr(decision, name), str) and secrets.contains(value)
    }
    facts = _redacted_facts(decision.facts, secrets)
    if facts is not decision.facts:
        changes["facts"] = facts
    outcomes = tuple(
        outcome
        if known.clean(outcome, secrets)
        else attrs.evolve(
            outcome,
            message=secrets.redact(outcome.message),
            remediation=secrets.redact(outcome.remediation),
            reason=secrets.redact(outcome.reason),
            facts=_redacted_facts(outcome.facts, secrets),
        )
        for outcome in decision.outcomes
    )
    if any(a is not b for a, b in zip(outcomes, decision.outcomes, strict=True)):
        changes["outcomes"] = outcomes
    return attrs.evolve(decision, **changes) if changes else decision


_KEYS = {
    "mode": str,
    "consent_ledger": str,
    "consent_key": str,  # the key, or env:NAME, or file:PATH
    "decision_log": str,
    "quota_ledger": str,
    "compliance_ledger": str,
    "require_compliance": bool,
    "window_ledger": str,
    "rules": dict,
    "purposes": list,
    "sensitive_terms": list,
    "require_terms": bool,
    "use_case": str,
    "environment": str,
    "key_store": str,
    "consumer_key_env": str,
    "user_token_store": str,
    "core_client": bool,
    "bulk_limits": dict,
}
#: The environment variable holding the consumer key, unless ``consumer_key_env`` names another.
CONSUMER_KEY_ENV = "TWPOLICY_CONSUMER_KEY"


def _configured_rules(settings: Mapping[str, Any]) -> list[Rule]:
    """The built-in rules as the ``[twpolicy]`` table configures them.

    With ``use_case`` set, the process's consumer key (from the environment, never the file)
    is bound in the key store at once, so a key bound elsewhere stops the guard being built.
    """
    rules = list(
        default(
            purposes=settings.get("purposes", ()),
            sensitive_terms=settings.get("sensitive_terms", SENSITIVE_EVENT_TERMS),
        )
    )
    if "bulk_limits" in settings:  # checked by _read_config; the defaults for the rest
        limits = bulk_limit(_bulk_limits(settings["bulk_limits"]))
        rules = [limits if r.id == limits.id else r for r in rules]
    if settings.get("require_terms", False):
        rules.append(require_recipient_terms())
    if settings.get("require_compliance", False):  # fail closed: exports need the ledger
        rules = [
            honour_tombstones(require_ledger=True) if r.id == "compliance.tombstone" else r
            for r in rules
        ]
    if "use_case" in settings:
        variable = settings.get("consumer_key_env", CONSUMER_KEY_ENV)
        key = os.environ.get(variable)
        if not key:
            raise ConfigurationError(
                f"use_case is set, but ${variable} holds no consumer key to bind to it; "
                f"export the app's consumer key as {variable} (or name the variable that "
                "holds it with consumer_key_env)."
            )
        store = open_keys(settings.get("key_store", "memory://"))
        environment = settings.get("environment", "production")
        store.bind(key, use_case=settings["use_case"], environment=environment)
        rules.append(
            one_key_per_use_case(
                store, key=key, use_case=settings["use_case"], environment=environment
            )
        )
    return rules


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
    _check_declarations(settings, path)
    return settings


#: Units of a window in ``[twpolicy.bulk_limits]``: ``"30m"``, ``"12h"``, ``"1d"``.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _bulk_limits(table: Mapping[str, Any]) -> dict[str, tuple[int, timedelta]]:
    """``{kind = { max = N, window = "1d" }}`` as `bulk_limit` takes it (``(N, timedelta)``).

    Raises:
        ConfigurationError: a value that is not such a table, or a window not like ``"12h"``.
    """
    limits = {}
    for kind, value in table.items():
        shape = f'bulk_limits.{kind} must be {{ max = 20, window = "1d" }}, got {value!r}'
        if not isinstance(value, dict) or set(value) != {"max", "window"}:
            raise ConfigurationError(shape)
        count, window = value["max"], value["window"]
        number, unit = (window[:-1], window[-1:]) if isinstance(window, str) else ("", "")
        if type(count) is not int or not number.isdigit() or unit not in _UNITS:
            raise ConfigurationError(shape + " (window: a whole number then s, m, h or d)")
        limits[kind] = (count, timedelta(seconds=int(number) * _UNITS[unit]))
    return limits


def _check_declarations(settings: Mapping[str, Any], path: Path) -> None:
    """Purposes, use case, environment and sensitive terms: checked before anything is built."""
    try:
        check_purposes(settings.get("purposes", ()))
        if "environment" in settings or "use_case" in settings:
            use_case_name(settings.get("use_case"), "use_case")
            environment(settings.get("environment", "production"))
    except ConfigurationError as exc:
        raise ConfigurationError(f"twpolicy config {path}: {exc}") from None
    try:  # built once here, so that a bad cap stops the file before anything is built
        bulk_limit(_bulk_limits(settings.get("bulk_limits", {})))
    except ConfigurationError as exc:
        raise ConfigurationError(f"twpolicy config {path}: {exc}") from None
    terms = settings.get("sensitive_terms", [])
    if not all(isinstance(t, str) and t.strip() for t in terms):
        raise ConfigurationError(
            f"twpolicy config {path}: sensitive_terms must be a list of non-empty strings"
        )


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


def built_default_guard() -> Guard | None:
    """The default guard if it was built already, else ``None`` (building it may do I/O)."""
    return _default_guard


def set_default_guard(guard: Guard | None) -> None:
    """Replace the default guard; ``None`` rebuilds it on next use."""
    global _default_guard  # noqa: PLW0603  # the process-wide default is the point
    with _default_lock:
        _default_guard = guard


@attrs.define
class Held:
    """What a permit holds: claimed consents, quota reservations and window counts."""

    claims: list[tuple[str, str]] = attrs.field(factory=list)
    reservations: list[str] = attrs.field(factory=list)
    counted: list[str] = attrs.field(factory=list)

    def __bool__(self) -> bool:
        return bool(self.claims or self.reservations or self.counted)


#: What a permit holds while its decision obliges nothing (shared: never added to).
_NOTHING_HELD = Held()


class Permit:
    """An action decided on and the obligations held for it; see `Guard.permit`.

    Attributes:
        action: the action.
        decision: the guard's decision, once entered (``None`` before, and on the quiet
            path of an allow nobody observes and that obliges nothing).
        held: what is held until the permit is left.
    """

    __slots__ = (
        "_decision",
        "_done",
        "_failure",
        "_guard",
        "_unbuilt",
        "_within",
        "action",
        "held",
    )

    def __init__(self, guard: Guard, action: Action, within: Permit | None) -> None:
        self._guard = guard
        self.action = action
        self._within = within
        self._decision: Decision | None = None
        # An allow nobody observed: what its decision is built from, if it is ever asked for.
        self._unbuilt: tuple[tuple[Outcome, ...], Outcome, int, datetime] | None = None
        self.held = _NOTHING_HELD  # replaced by a fresh one when the decision obliges
        self._failure: str | None = None
        self._done = False

    @property
    def decision(self) -> Decision | None:
        """The guard's decision, once entered (built on first use when nobody observed it)."""
        unbuilt = self._unbuilt
        if unbuilt is not None:
            self._unbuilt = None
            outcomes, deciding, evaluation_ns, timestamp = unbuilt
            self._decision = self._guard._build(  # noqa: SLF001  # the guard's own helper
                self.action, outcomes, deciding, evaluation_ns, timestamp
            )
        return self._decision

    def __repr__(self) -> str:
        state = "done" if self._done else "open"
        return f"twpolicy.Permit({self.action.operation!r}, {state}, held={self.held!r})"

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self.release(exc_type.__name__)
        elif self._failure is not None:
            self.release(self._failure)
        else:
            self.commit()

    def open(self, *, stacklevel: int = 3, full: bool = False) -> None:
        """Decide and hold (what ``with`` does on entering).

        ``full`` builds and logs the decision even for an unobserved allow that obliges
        nothing, so that `decision` is set.

        Raises:
            PolicyViolation: the decision refuses the action (nothing is held then).
        """
        guard = self._guard
        if guard._unresolved:  # noqa: SLF001  # the guard's own state
            guard._settle()  # noqa: SLF001  # ditto
        elif not full and guard.remembers(self.action):
            return  # a remembered allow that obliges nothing, and nobody to tell: the quiet path
        started = time.perf_counter_ns()
        within = self._within
        # A retry's rules see what its first try holds: claimed consents, counted actions.
        claims = (
            frozenset((*(c for _, c in within.held.claims), *within.held.counted))
            if within
            else frozenset()
        )
        outcomes, deciding = guard._outcomes(self.action, claims)  # noqa: SLF001  # the guard's own helper
        obliged = not deciding.enforced and any(o.obligations for o in outcomes)
        if obliged:
            self.held = Held()
            refusal = guard._hold(self.action, outcomes, self._within, self.held)  # noqa: SLF001  # ditto
            if refusal is not None:
                outcomes = (*outcomes, refusal)
                if refusal.enforced or deciding.effect is Effect.ALLOW:
                    deciding = refusal
        if deciding.effect is Effect.ALLOW and not full and not guard._observed():  # noqa: SLF001  # ditto
            if obliged:
                # Held, and nobody to tell: the record is built only if someone asks for it.
                evaluation_ns = time.perf_counter_ns() - started
                self._unbuilt = (outcomes, deciding, evaluation_ns, guard._clock())  # noqa: SLF001  # ditto
            return  # nothing to act on, nobody to tell
        try:
            self._decision = guard._decision(self.action, outcomes, deciding, started)  # noqa: SLF001  # ditto
            guard._act_on(self._decision, stacklevel=stacklevel)  # noqa: SLF001  # ditto
        except BaseException:
            self.release("refused")
            raise

    def fail(self, reason: str = "failed") -> None:
        """Say the action did not happen (a non-2xx answer): leaving gives everything back."""
        self._failure = reason

    def commit(self) -> None:
        """The action happened: spend the claimed consents, make the reservations final."""
        if not self._done:
            self._done = True
            held = self.held
            if held is not _NOTHING_HELD and held:
                self._guard._fulfil(held, True, "")  # noqa: SLF001, FBT003  # the guard's own helper

    def release(self, reason: str = "released") -> bool:
        """The action did not happen: give back what is held. ``False`` once committed."""
        if self._done:
            return False
        self._done = True
        held = self.held
        if held is not _NOTHING_HELD and held:
            self._guard._fulfil(held, False, reason)  # noqa: SLF001, FBT003  # ditto
        return True

"""The data that crosses the decision point: actions in, decisions out.

Enforcement points (clients, decorators, stores, the CLI) describe what the application is
about to do as an `Action`; the guard answers with a `Decision`. Both are plain frozen data
so they can be logged, compared and replayed. The payload an action refers to is held by
reference only and never enters a decision or a log record.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeAlias

import attrs

__all__ = [
    "Action",
    "ActionKind",
    "CountAction",
    "Decision",
    "Effect",
    "Mode",
    "Obligation",
    "Outcome",
    "ReserveQuota",
    "Scalar",
    "SpendConsent",
]

#: A value allowed in the facts of an action, outcome or decision: never free text.
Scalar: TypeAlias = "str | int | float | bool | None"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class ActionKind(str, enum.Enum):
    """What sort of thing the application is about to do."""

    API_CALL = "api_call"
    """A request to the X API (``operation`` is ``"VERB /route"``)."""
    STREAM_DATA = "stream_data"
    """A payload arriving from a stream, before the application's callbacks see it."""
    STORE = "store"
    """Persisting Twitter Content."""
    EXPORT = "export"
    """Twitter Content leaving the system for a third party."""
    LINK_IDENTITIES = "link_identities"
    """Associating a Twitter account with an off-platform identity (I.C.2)."""
    INFER_ATTRIBUTE = "infer_attribute"
    """Deriving a sensitive characteristic about a user (restricted uses)."""
    DELETE_CONTENT = "delete_content"
    """Honouring a deletion or other compliance event (I.C.3)."""
    DISPLAY = "display"
    """Showing Twitter Content to end users (I.C.4)."""
    PUBLISH = "publish"
    """Republishing Twitter Content, or using it to promote something (I.C.1.b, I.C.1.c)."""

    def __str__(self) -> str:
        return self.value


class Mode(str, enum.Enum):
    """How a rule's deny is acted on. Every decision is logged in every mode."""

    ENFORCE = "enforce"
    """A deny raises; nothing is sent."""
    WARN = "warn"
    """A deny is logged and warned about (`twpolicy.TwPolicyWarning`); the action proceeds."""
    MONITOR = "monitor"
    """A deny is logged only; the action proceeds."""

    def __str__(self) -> str:
        return self.value


class Effect(str, enum.Enum):
    """What the policy says about an action, whatever the mode makes of it."""

    ALLOW = "allow"
    DENY = "deny"

    def __str__(self) -> str:
        return self.value


def _kind(value: ActionKind | str) -> ActionKind:
    return value if type(value) is ActionKind else ActionKind(value)


def _frozen_scopes(value: Iterable[str] | str | None) -> frozenset[str]:
    if type(value) is frozenset:  # the common case, first: nothing to convert
        return value
    if isinstance(value, str):
        return frozenset((value,))
    if value is None:
        return frozenset()
    return frozenset(value)


def _frozen_facts(value: Mapping[str, Scalar] | None) -> Mapping[str, Scalar]:
    if not value:
        return _EMPTY
    return MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class Action:
    """What the application is about to do, described as data.

    Attributes:
        kind: the sort of action.
        operation: the route (``"POST /2/tweets"``) or operation name (``"dehydrate"``).
        acting_user_id: the Twitter user on whose behalf it acts, as a decimal string.
        scopes: the consent scopes it needs (names from `twpolicy.SCOPES`).
        category: how the endpoint catalog classifies an API call (``"write"``,
            ``"public_read"``, ...); ``None`` for an API call means the route is unknown.
        content_sha256: hash of the canonical content about to be published, if any.
        recipient: who receives data that leaves (exports).
        count: how many objects or IDs the action carries.
        facts: further IDs, hashes, counts and codes that rules read; never free text.
        payload: the data itself, by reference; never logged, never compared.
    """

    kind: ActionKind = attrs.field(converter=_kind)
    operation: str
    acting_user_id: str | None = None
    scopes: frozenset[str] = attrs.field(factory=frozenset, converter=_frozen_scopes)
    category: str | None = None
    content_sha256: str | None = None
    recipient: str | None = None
    count: int = 0
    facts: Mapping[str, Scalar] = attrs.field(factory=dict, converter=_frozen_facts)
    payload: Any = attrs.field(default=None, repr=False, eq=False)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Action:
        """The action a decision-log record (`Decision.to_record`) describes, for replay.

        The payload is never logged, so the action has none: rules that read it cannot be
        re-run on it.

        Raises:
            ValueError: the record lacks what replay needs (``scopes``, a kind, an operation);
                records written before twpolicy logged actions in full cannot be replayed.
        """
        missing = [key for key in _REPLAYED if key not in record]
        if missing:
            raise ValueError(f"the record has no {', '.join(missing)}, so it cannot be replayed")
        scopes, facts, count = record["scopes"], record.get("facts") or {}, record.get("count")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ValueError("the record's scopes are not a list of names")
        if not isinstance(facts, dict) or not all(_is_scalar(v) for v in facts.values()):
            raise ValueError("the record's facts are not a mapping of scalars")
        if not isinstance(record["operation"], str) or type(count or 0) is not int:
            raise ValueError("the record's operation or count is malformed")
        return cls(
            kind=ActionKind(record["action"]),
            operation=record["operation"],
            acting_user_id=_text_or_none(record.get("acting_user_id")),
            scopes=frozenset(scopes),
            category=_text_or_none(record.get("category")),
            content_sha256=_text_or_none(record.get("content_sha256")),
            recipient=_text_or_none(record.get("recipient")),
            count=count or 0,
            facts=facts,
        )


#: What a decision-log record must hold for its action to be replayed.
_REPLAYED = ("action", "operation", "scopes")


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _text_or_none(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"expected a string or null in the record, got {type(value).__name__}")


@attrs.frozen
class SpendConsent:
    """Obligation: spend a single-use (content-bound) consent once the action has happened.

    The enforcement point claims the record before acting (so no other process can use it
    meanwhile), spends it when the action succeeded, and gives the claim back when it failed.
    """

    record_id: str
    user_id: str

    def to_record(self) -> dict[str, Scalar]:
        """A JSON-serialisable summary for the decision log."""
        return {"obligation": "spend_consent", "record_id": self.record_id, "user_id": self.user_id}


@attrs.frozen
class ReserveQuota:
    """Obligation: count an export against its recipient's quotas while it is handed over.

    The enforcement point reserves the counts atomically before the data leaves, commits the
    reservation once it has been handed over, and releases it when it was not. Hydrated
    objects count against the recipient and against ``requested_by``, the user of the Service
    who asked for them. ``force`` counts an export that goes out although it is over a limit
    (a rule in warn or monitor mode).
    """

    recipient: str
    tweet_ids: int = 0
    hydrated_objects: int = 0
    force: bool = False
    requested_by: str | None = None

    def to_record(self) -> dict[str, Scalar]:
        """A JSON-serialisable summary for the decision log."""
        return {
            "obligation": "reserve_quota",
            "recipient": self.recipient,
            "tweet_ids": self.tweet_ids,
            "hydrated_objects": self.hydrated_objects,
            "requested_by": self.requested_by,
            "force": self.force,
        }


@attrs.frozen
class CountAction:
    """Obligation: count a write action in a sliding window shared by processes.

    The enforcement point reserves the count atomically before acting (refused when the
    window is full, or when ``content`` is at least ``threshold`` similar to another
    account's content in the window), keeps it once the action happened and deletes it when
    it did not. ``force`` counts an action that goes ahead over the limit (warn or monitor).

    Attributes:
        window_key: the window (``"follows:1234"``, ``"content"``).
        account: the acting account.
        window_seconds: how far back the window reaches.
        limit: the most actions the window may hold, or ``None`` for no count limit.
        content: the fingerprint of the posted text, to refuse near-duplicates (or ``()``).
        threshold: the similarity at or above which content counts as a duplicate.
        force: count even when over the limit.
    """

    window_key: str
    account: str
    window_seconds: int
    limit: int | None = None
    content: tuple[int, ...] = attrs.field(default=(), repr=False)
    threshold: float = 1.0
    force: bool = False

    def to_record(self) -> dict[str, Scalar]:
        """A JSON-serialisable summary for the decision log (no content, only its size)."""
        return {
            "obligation": "count_action",
            "window_key": self.window_key,
            "account": self.account,
            "window_seconds": self.window_seconds,
            "limit": self.limit,
            "shingles": len(self.content),
            "force": self.force,
        }


#: What an allowing decision obliges its enforcement point to do once the action happened.
Obligation: TypeAlias = SpendConsent | ReserveQuota | CountAction


def _obligations(value: Iterable[Obligation] | None) -> tuple[Obligation, ...]:
    if not value:
        return ()
    return tuple(value)


@attrs.frozen
class Outcome:
    """One rule's verdict on one action, before the guard applies modes.

    Rules build these with `Outcome.allow` and `Outcome.deny`; the guard fills in the rule id,
    clause and mode.
    """

    effect: Effect
    reason: str
    message: str = ""
    remediation: str = ""
    facts: Mapping[str, Scalar] = attrs.field(factory=dict, converter=_frozen_facts)
    rule: str = ""
    clause: str = ""
    mode: Mode = Mode.ENFORCE
    obligations: tuple[Obligation, ...] = attrs.field(default=(), converter=_obligations)

    @classmethod
    def allow(
        cls,
        reason: str,
        *,
        facts: Mapping[str, Scalar] | None = None,
        obligations: Iterable[Obligation] = (),
    ) -> Outcome:
        """The rule lets the action through; ``reason`` says why (``"consent_active"``).

        ``obligations`` are what the enforcement point must do once the action has happened
        (spend a single-use consent, commit a quota reservation); the rule itself writes
        nothing. Outcomes are immutable, and rules allow with the same few reasons and facts
        call after call, so equal allows are one shared object.
        """
        if obligations:
            return cls(Effect.ALLOW, reason, facts=facts or _EMPTY, obligations=obligations)
        key = (cls, reason, *facts.items()) if facts else (cls, reason)
        try:
            return _ALLOWS[key]
        except KeyError:
            pass
        except TypeError:  # a fact that cannot be hashed: nothing to share
            return cls(Effect.ALLOW, reason, facts=facts or _EMPTY)
        if len(_ALLOWS) >= _SHARED_ALLOWS:
            _ALLOWS.clear()
        outcome = _ALLOWS[key] = cls(Effect.ALLOW, reason, facts=facts or _EMPTY)
        return outcome

    @classmethod
    def deny(
        cls,
        reason: str,
        message: str,
        remediation: str,
        *,
        facts: Mapping[str, Scalar] | None = None,
        obligations: Iterable[Obligation] = (),
    ) -> Outcome:
        """The rule refuses the action: a machine code, what was refused, and how to fix it.

        ``obligations`` apply only when the deny is not enforced (warn or monitor mode) and
        the action goes ahead anyway: an export over its quota is still counted.
        """
        return cls(
            Effect.DENY,
            reason,
            message,
            remediation,
            facts=facts or _EMPTY,
            obligations=obligations,
        )

    @property
    def enforced(self) -> bool:
        """Whether this outcome blocks the action."""
        return self.effect is Effect.DENY and self.mode is Mode.ENFORCE

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable summary for the decision log."""
        return {
            "rule": self.rule,
            "clause": self.clause,
            "effect": self.effect.value,
            "reason": self.reason,
            "mode": self.mode.value,
            "facts": dict(self.facts),
        }


_SHARED_ALLOWS = 4096
_ALLOWS: dict[tuple[Any, ...], Outcome] = {}


@attrs.frozen(kw_only=True)
class Decision:
    """The guard's answer about one action, and the record a reviewer reads later.

    ``effect`` is what the policy says; ``allowed`` is whether the action may proceed, which
    differs from ``effect`` only when a deny comes from a rule in ``warn`` or ``monitor``
    mode. ``rule``, ``clause``, ``reason``, ``message`` and ``remediation`` come from the rule
    that decided: the first enforced deny, else the first deny, else the first allow.
    """

    allowed: bool
    effect: Effect
    rule: str
    clause: str
    reason: str
    message: str
    remediation: str
    decision_id: str
    mode: Mode
    enforced: bool
    policy_version: str
    timestamp: datetime
    evaluation_ns: int
    action_kind: ActionKind
    operation: str
    acting_user_id: str | None = None
    recipient: str | None = None
    count: int = 0
    content_sha256: str | None = None
    outcomes: tuple[Outcome, ...] = ()
    category: str | None = None
    scopes: frozenset[str] = attrs.field(factory=frozenset, converter=_frozen_scopes)
    # Compared, not hashed (a mapping cannot be): a decision without outcomes stays hashable.
    facts: Mapping[str, Scalar] = attrs.field(factory=dict, converter=_frozen_facts, hash=False)

    @property
    def obligations(self) -> tuple[Obligation, ...]:
        """What the enforcement point must do once the action happened; empty when refused.

        An enforced deny obliges nothing (the action does not happen); otherwise every
        rule's obligations apply, in rule order.
        """
        if self.enforced:
            return ()
        return tuple(o for outcome in self.outcomes for o in outcome.obligations)

    @property
    def denied(self) -> bool:
        """Whether the policy says no (whether or not the mode enforces it)."""
        return self.effect is Effect.DENY

    def explain(self) -> str:
        """One paragraph for a person: what, which clause, why, and how to fix it."""
        if self.effect is Effect.ALLOW:
            return f"{self.operation} allowed by {self.rule} ({self.clause}): {self.reason}."
        text = f"{self.operation} refused under {self.clause} [{self.rule}: {self.reason}]: "
        text += self.message
        if self.remediation:
            text += f" To fix: {self.remediation}"
        return text

    def to_record(self) -> dict[str, Any]:
        """The decision as one JSON-serialisable log record: IDs, hashes, counts, codes only.

        It carries the action's kind, operation, user, recipient, count, hash, category,
        scopes and facts (never its payload), so `Action.from_record` can rebuild it for
        replay against another policy.
        """
        return {
            "decision_id": self.decision_id,
            "timestamp": self.timestamp.isoformat(),
            "policy_version": self.policy_version,
            "action": self.action_kind.value,
            "operation": self.operation,
            "acting_user_id": self.acting_user_id,
            "recipient": self.recipient,
            "count": self.count,
            "content_sha256": self.content_sha256,
            "category": self.category,
            "scopes": sorted(self.scopes),
            "facts": dict(self.facts),
            "effect": self.effect.value,
            "allowed": self.allowed,
            "enforced": self.enforced,
            "mode": self.mode.value,
            "rule": self.rule,
            "clause": self.clause,
            "reason": self.reason,
            "message": self.message,
            "remediation": self.remediation,
            "evaluation_ns": self.evaluation_ns,
            "rules": [outcome.to_record() for outcome in self.outcomes],
            "obligations": [obligation.to_record() for obligation in self.obligations],
        }

"""What a rule is, and the read-only view of the world it decides with.

Rules are pure: ``evaluate(action, context)`` reads the action and what ``context`` lets it
read (the clock, consent, quota usage) and returns an `Outcome`. It writes nothing; whatever
must happen once the action has happened (spend a single-use consent, count an export) is an
obligation on the outcome, carried out by the enforcement point through `Guard.permit`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import attrs

from twpolicy._model import Action, ActionKind, Mode, Outcome
from twpolicy.exceptions import PolicyViolation

if TYPE_CHECKING:
    from twpolicy._payloads._geo import PlaceNames
    from twpolicy._stores._compliance import Tombstone
    from twpolicy._stores._consent import ConsentRecord, ConsentState
    from twpolicy._stores._quotas import QuotaUsage, Recipient
    from twpolicy._stores._windows import WindowReader

__all__ = [
    "ComplianceReader",
    "ConsentReader",
    "ConsentStatusReader",
    "QuotaReader",
    "Rule",
    "RuleContext",
    "SecretReader",
]


class ConsentReader(Protocol):
    """The read side of a consent ledger: what rules may ask of it."""

    def check(
        self,
        user_id: str,
        scope: str,
        *,
        content_sha256: str | None = None,
        at: datetime | None = None,
    ) -> ConsentRecord | None:
        """The active record that covers ``scope`` for ``user_id``, or ``None``."""
        ...


@runtime_checkable
class ConsentStatusReader(Protocol):
    """A consent ledger that can also say where each record stands (`twpolicy.Ledger` can).

    Optional: with it, a refusal can tell a spent, expired or mismatched single-use consent
    from no consent at all, and re-ask the user for that content.
    """

    def status(self, user_id: str, *, at: datetime | None = None) -> tuple[ConsentState, ...]:
        """Where each of the user's records stands at ``at``, oldest first."""
        ...


class QuotaReader(Protocol):
    """The read side of a quota ledger: what rules may ask of it."""

    def usage(
        self, recipient: str, *, at: datetime | None = None, requested_by: str | None = None
    ) -> tuple[QuotaUsage, ...]:
        """Every quota's usage for ``recipient`` (and the user who asked, if named) at ``at``."""
        ...

    def recipient(self, name: str) -> Recipient:
        """The recipient as registered (its entity and standing), or as unregistered."""
        ...


class ComplianceReader(Protocol):
    """The read side of a compliance ledger: what rules may ask of it."""

    def tombstones(
        self, *, tweet_ids: Iterable[str] = (), user_ids: Iterable[str] = ()
    ) -> tuple[Tombstone, ...]:
        """What is gone (or was, until a reversal) among these Tweets and users."""
        ...


class SecretReader(Protocol):
    """The guard's own credentials, known by hash only: what rules may ask of them."""

    def __len__(self) -> int:
        """How many secrets are known (none: nothing to look for)."""
        ...

    def is_secret(self, value: object) -> bool:
        """Whether ``value`` is exactly a registered secret."""
        ...

    def contains(self, text: object) -> bool:
        """Whether a registered secret occurs anywhere in ``text``."""
        ...

    def spaced(self) -> bool:
        """Whether a registered secret holds whitespace (it may span words of a text)."""
        ...


@attrs.frozen(kw_only=True)
class RuleContext:
    """Everything a rule may read besides the action; nothing in it can write.

    Attributes:
        now: the decision's time, read once per decision so every rule sees the same.
        consent: the consent ledger's read side, or ``None`` when the guard has none.
        quotas: the quota ledger's read side, or ``None`` when the guard has none.
        compliance: the compliance ledger's read side, or ``None`` when the guard has none.
        windows: the action window ledger's read side (bulk caps, duplicate content), or
            ``None`` when the guard has none.
        modes: each rule's mode, so a rule can say whether its deny will be enforced.
        claims: single-use consent claims the enforcement point already holds for this
            action (a retry of a request whose first try claimed them).
        secrets: the guard's own clients' credentials (by hash), or ``None``.
        locations: the location the guard has read in Twitter Content (place names, place
            IDs, points), fed by the enforcement points; ``None`` when none is known.
    """

    now: datetime
    consent: ConsentReader | None = None
    quotas: QuotaReader | None = None
    compliance: ComplianceReader | None = None
    windows: WindowReader | None = None
    mode_of: Callable[[str], Mode] = attrs.field(default=lambda _rule: Mode.ENFORCE)
    claims: frozenset[str] = frozenset()
    secrets: SecretReader | None = None
    locations: PlaceNames | None = None


class Rule(Protocol):
    """What the guard needs of a rule.

    Attributes:
        id: a stable identifier (``"consent.required"``), used for per-rule modes and logs.
        clause: the policy clause the rule enforces (``"I.C.1.a"``).
        error: the `PolicyViolation` subclass raised when the rule's enforced deny decides.
        kinds: the kinds of action the rule may say something about; the guard asks it
            about no other kind, and an enforcement point may skip deciding on a kind no
            rule judges (stream payloads, today).

    A rule may also define ``static_for(action) -> bool``: ``True`` promises that its outcome
    for that action object never changes (it reads nothing but the action), so the guard may
    reuse it. Rules without it are evaluated every time.
    """

    @property
    def id(self) -> str: ...

    @property
    def clause(self) -> str: ...

    @property
    def error(self) -> type[PolicyViolation]: ...

    @property
    def kinds(self) -> frozenset[ActionKind]: ...

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        """Return this rule's outcome for ``action``, or ``None`` when it does not apply."""
        ...

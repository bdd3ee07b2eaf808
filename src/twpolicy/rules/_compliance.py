"""The compliance rules: tombstones (I.C.3), fresh display (I.C.4), the 24-hour clock.

``compliance.tombstone`` refuses storing, exporting or displaying a Tweet, a user or a
user's content that the compliance ledger says is deleted, protected, suspended, withheld or
unavailable; content whose removal was reversed (unprotect, a successful lookup) is allowed
again only in a copy fetched after the reversal. ``compliance.display`` refuses showing
content not fetched recently from the API. ``compliance.deadline`` turns an event still
pending after its 24 hours into a logged refusal.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._payloads._compliance import ComplianceEventType
from twpolicy._payloads._geo import MappingKey
from twpolicy._payloads._ids import CONTENTS
from twpolicy._payloads._outbound import IdCount, ObjectCount, recall
from twpolicy._payloads._walker import Kind, read_json, walk
from twpolicy._stores._compliance import Tombstone
from twpolicy.exceptions import ConfigurationError, ContentUnavailable, PolicyViolation
from twpolicy.rules._context import Rule, RuleContext
from twpolicy.rules._remedies import shell_store

__all__ = ["compliance_deadline", "fresh_display", "honour_tombstones"]

_TWEETS = frozenset({Kind.TWEET_V1, Kind.TWEET_V2, Kind.TWEET_FLAT, Kind.ACTIVITY})
_USERS = frozenset({Kind.USER_V1, Kind.USER_V2, Kind.ACTOR})
_WITHHELD = frozenset({ComplianceEventType.TWEET_WITHHELD, ComplianceEventType.USER_WITHHELD})
_WHAT = {
    ComplianceEventType.TWEET_DELETE: "was deleted",
    ComplianceEventType.TWEET_UNAVAILABLE: "is no longer available",
    ComplianceEventType.TWEET_WITHHELD: "is withheld",
    ComplianceEventType.TWEET_EDIT: "was edited (this copy is stale)",
    ComplianceEventType.TWEET_DROP: "was dropped",
    ComplianceEventType.DM_DELETE: "was deleted",
    ComplianceEventType.USER_DELETE: "deleted their account",
    ComplianceEventType.USER_PROTECT: "protected their account",
    ComplianceEventType.USER_SUSPEND: "is suspended",
    ComplianceEventType.USER_WITHHELD: "is withheld",
    ComplianceEventType.USER_UNAVAILABLE: "is no longer available",
}


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else None
    return None


def _stored(payload: Any) -> Any:
    """What a store keeps: a mapping item's value; JSON text as what it holds."""
    if isinstance(payload, MappingKey):  # a mapping item (GeoSafeMapping): its value is kept
        payload = payload.value
    if isinstance(payload, (str, bytes, bytearray)):  # JSON text, stored as text
        try:
            return read_json(payload)
        except (ValueError, UnicodeDecodeError):
            return None  # not JSON: no object in it (the geo rule refuses malformed JSON)
    return payload


def _ids(action: Action) -> tuple[set[str], set[str]]:
    """The Tweet and user IDs ``action`` keeps, sends or shows (authors count as users)."""
    content = action.facts.get("content")
    if action.kind is ActionKind.EXPORT and content in CONTENTS:
        # What the export is about, read by the export's own reading: bare IDs both as
        # Tweets and users (nothing shows which they are), reduced IDs with the objects'.
        what = ObjectCount if content == "objects" else IdCount
        about_tweets, about_users = recall(action.payload, what).subjects()
        return set(about_tweets), set(about_users)
    tweets: set[str] = set()
    users: set[str] = set()
    for node in walk(_stored(action.payload)):
        if node.kind in _TWEETS:
            tid = node.read_id().value
            if tid:
                tweets.add(tid)
            author = node.value.get("author_id")
            if isinstance(author, str) and author.isdecimal():
                users.add(author)
        elif node.kind in _USERS:
            uid = node.read_id().value
            if uid:
                users.add(uid)
    return tweets, users


def _denial(first: Tombstone, count: int, action: Action, clause: str, ledger: object) -> Outcome:
    more = f" (and {count - 1} more)" if count > 1 else ""
    what = "Tweet" if first.target == "tweet" else "user"
    store = shell_store(ledger, "--compliance-db", "TWPOLICY_COMPLIANCE_DB") or ""
    outcome = Outcome.deny(
        "content_gone",
        f"{action.operation} would {_VERB[action.kind]} {what} {first.object_id}, which "
        f"{_WHAT.get(first.type, first.type.value)} ({first.type.value}, recorded "
        f"{first.arrived_at.isoformat(timespec='seconds')}){more}; such content must be "
        "deleted or modified within 24 hours and not kept, shared or shown.",
        "leave it out: remove it from the data with `twpolicy comply EVENTS --dataset PATH"
        f"{store}` (or twpolicy.apply_compliance), and fetch the rest afresh.",
        facts={
            "object_id": first.object_id,
            "target": first.target,
            "event": first.type.value,
            "event_key": first.key,
            "gone": count,
        },
    )
    return attrs.evolve(outcome, clause=clause)


def _partition(
    tombstones: tuple[Tombstone, ...], country: object, fetched: datetime | None
) -> tuple[list[Tombstone], list[Tombstone]]:
    """Split tombstones into what is gone and what was reversed after this copy was fetched.

    A withholding does not count where the action says it happens in another country.
    """
    gone: list[Tombstone] = []
    stale: list[Tombstone] = []
    for tomb in tombstones:
        if tomb.reversed_at is None:
            elsewhere = isinstance(country, str) and country.upper() not in tomb.countries
            if not (tomb.type in _WITHHELD and elsewhere):
                gone.append(tomb)
        elif fetched is None or fetched <= tomb.reversed_at:
            stale.append(tomb)
    return gone, stale


_VERB = {
    ActionKind.STORE: "store",
    ActionKind.EXPORT: "export",
    ActionKind.DISPLAY: "display",
}


@attrs.frozen(repr=False)
class _HonourTombstones:
    require_ledger: bool = False
    id: ClassVar[str] = "compliance.tombstone"
    clause: ClassVar[str] = "I.C.3"
    error: ClassVar[type[PolicyViolation]] = ContentUnavailable
    kinds: ClassVar[frozenset[ActionKind]] = frozenset(
        {ActionKind.STORE, ActionKind.EXPORT, ActionKind.DISPLAY}
    )

    def __repr__(self) -> str:
        if self.require_ledger:
            return "twpolicy.rules.honour_tombstones(require_ledger=True)"
        return "twpolicy.rules.honour_tombstones()"

    def static_for(self, action: Action) -> bool:
        """Stores, exports and displays read the ledger; for anything else it is silent."""
        return action.kind not in self.kinds

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        if action.kind not in self.kinds or action.payload is None:
            return None
        if context.compliance is None:
            required = self.require_ledger and action.kind is ActionKind.EXPORT
            return _no_ledger(action) if required else None
        tweets, users = _ids(action)
        if not tweets and not users:
            return None
        clause = "I.C.4" if action.kind is ActionKind.DISPLAY else "I.C.3"
        gone, stale = _partition(
            context.compliance.tombstones(tweet_ids=tweets, user_ids=users),
            action.facts.get("country"),
            _when(action.facts.get("fetched_at")),
        )
        if gone:
            return _denial(gone[0], len(gone), action, clause, context.compliance)
        if stale:
            first = stale[0]
            outcome = Outcome.deny(
                "fetch_after_reversal",
                f"{action.operation} would {_VERB[action.kind]} a copy of "
                f"{first.target} {first.object_id} older than the reversal of its "
                f"{first.type.value} ({first.reversed_at}); only a copy fetched afterwards may "
                "be used again.",
                "fetch it again from the API and pass the fetch time as "
                "facts={'fetched_at': ...} (twpolicy.displayable(..., fetched_at=...)).",
                facts={"object_id": first.object_id, "event_key": first.key},
            )
            return attrs.evolve(outcome, clause=clause)
        return Outcome.allow("nothing_gone")


def _no_ledger(action: Action) -> Outcome:
    """Fail closed: an export cannot be checked for deleted content without the ledger."""
    outcome = Outcome.deny(
        "compliance_ledger_missing",
        f"{action.operation} would export content, and compliance is required, but the "
        "guard has no compliance ledger: nothing shows whether any of it was deleted, "
        "protected, suspended or withheld on X.",
        "give the guard its compliance ledger: Guard(compliance=twpolicy.open_compliance("
        "'sqlite:///compliance.db')), or compliance_ledger = \"sqlite:///compliance.db\" in "
        "the [twpolicy] table; record events into it with `twpolicy comply` or "
        "`twpolicy compliance job`.",
    )
    return attrs.evolve(outcome, clause="I.C.3")


def honour_tombstones(*, require_ledger: bool = False) -> Rule:
    """Refuse keeping, sharing or showing content that is gone (I.C.3, I.C.4).

    Args:
        require_ledger: refuse every export when the guard has no compliance ledger (fail
            closed: ``require_compliance = true`` in the ``[twpolicy]`` table). Without it,
            a guard with no ledger knows of nothing gone and the rule is silent.
    """
    given: object = require_ledger  # callers may pass anything
    if not isinstance(given, bool):
        raise ConfigurationError(f"honour_tombstones(require_ledger=) must be a bool: {given!r}")
    return _HonourTombstones(require_ledger)


@attrs.frozen(repr=False)
class _FreshDisplay:
    max_age: timedelta = timedelta(hours=1)
    id: ClassVar[str] = "compliance.display"
    clause: ClassVar[str] = "I.C.4"
    error: ClassVar[type[PolicyViolation]] = ContentUnavailable
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.DISPLAY})

    def __repr__(self) -> str:
        return f"twpolicy.rules.fresh_display(max_age={self.max_age!r})"

    def static_for(self, action: Action) -> bool:
        """Displays depend on the clock; for anything else the rule is silent."""
        return action.kind is not ActionKind.DISPLAY

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        if action.kind is not ActionKind.DISPLAY:
            return None
        fetched = _when(action.facts.get("fetched_at"))
        if fetched is None:
            return Outcome.deny(
                "fetch_time_unknown",
                f"{action.operation} would show content without saying when it was fetched "
                "from the API, so it cannot be known to be the current version.",
                "fetch the content from the API just before showing it and pass the fetch "
                "time: twpolicy.displayable(payload, fetched_at=datetime.now(timezone.utc)).",
            )
        age = context.now - fetched
        if age > self.max_age:
            return Outcome.deny(
                "stale_copy",
                f"{action.operation} would show a copy fetched {age} ago, older than "
                f"{self.max_age}; only the current version from the API may be shown.",
                "fetch the content again from the API before showing it.",
                facts={"age_s": round(age.total_seconds())},
            )
        return Outcome.allow("fresh_copy")


def fresh_display(max_age: timedelta = timedelta(hours=1)) -> Rule:
    """Refuse showing content fetched longer than ``max_age`` ago, or at an unknown time."""
    given: object = max_age  # callers may pass anything
    if not (isinstance(given, timedelta) and given >= timedelta(0)):
        raise ConfigurationError(f"fresh_display(max_age=) must be a timedelta >= 0: {max_age!r}")
    return _FreshDisplay(max_age)


@attrs.frozen(repr=False)
class _Deadline:
    id: ClassVar[str] = "compliance.deadline"
    clause: ClassVar[str] = "I.C.3"
    error: ClassVar[type[PolicyViolation]] = ContentUnavailable
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.DELETE_CONTENT})

    def __repr__(self) -> str:
        return "twpolicy.rules.compliance_deadline()"

    def static_for(self, action: Action) -> bool:
        """Judged on the action's facts alone."""
        return True if action.kind is not ActionKind.DELETE_CONTENT else not action.payload

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        if action.kind is not ActionKind.DELETE_CONTENT:
            return None
        overdue = action.facts.get("overdue")
        if not isinstance(overdue, int) or isinstance(overdue, bool):
            return None
        if overdue == 0:
            return Outcome.allow("within_deadline", facts={"pending": action.count})
        oldest = action.facts.get("oldest_key")
        return Outcome.deny(
            "deadline_missed",
            f"{overdue} compliance event(s) are still not applied more than 24 hours after "
            f"they arrived (oldest: {oldest}); I.C.3 allows 24 hours at most.",
            "apply them now: twpolicy comply EVENTS --dataset PATH --compliance-db URL (or "
            "twpolicy.apply_compliance(ledger, applier) for each of your stores).",
            facts={
                "overdue": overdue,
                "oldest_key": oldest if isinstance(oldest, str) else None,
                "oldest_age_s": action.facts.get("oldest_age_s"),
            },
        )


def compliance_deadline() -> Rule:
    """Report compliance events still pending after 24 hours as a refusal (I.C.3)."""
    return _Deadline()

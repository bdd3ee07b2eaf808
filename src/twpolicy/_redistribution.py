"""Only IDs leave: the redistribution rules and the enforcement points that feed them.

Developer Policy I.F.2: Twitter Content given to third parties is limited to Tweet IDs, Direct
Message IDs and User IDs, with two allowances: non-automated exports of up to 50,000 public
Tweet and User objects per recipient per day (I.F.2.a), and no more than 1,500,000 Tweet IDs
to one entity in any 30 days unless academic non-commercial or permitted in writing
(I.F.2.b.i).

An export is described as ``Action(kind="export", recipient=..., count=..., facts={"content":
...}, payload=...)``. ``redistribution.ids_only`` checks that the payload holds what
``content`` says (nothing but IDs, or public Tweet and User objects by hand), and
``redistribution.quota`` counts it against the recipient's quotas in the guard's quota ledger.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Decision, Mode, Outcome, Scalar
from twpolicy._quotas import HYDRATED_OBJECTS, TWEET_IDS, QuotaUsage, Reservation
from twpolicy.exceptions import PolicyViolation, QuotaExceeded, RedistributionError

if TYPE_CHECKING:
    from twpolicy._guard import Guard

__all__ = [
    "CONTENTS",
    "ids_only_check",
    "is_id",
    "recipient_quota",
    "redistribute_ids_only",
    "release",
    "reservation_of",
]

#: What an export may carry, as ``facts["content"]``.
CONTENTS = ("tweet_ids", "user_ids", "dm_ids", "objects")

_ID_KEYS = frozenset(("id", "id_str", "ids"))


def is_id(value: object) -> bool:
    """Whether ``value`` is an ID as it may leave: a decimal string of at most 20 digits."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= 20  # noqa: PLR2004  # 2**64 has 20 digits
        and value.isascii()
        and value.isdigit()
        and (value[0] != "0" or value == "0")
    )


def _is_id_key(key: object) -> bool:
    return isinstance(key, str) and (key in _ID_KEYS or key.endswith(("_id", "_ids", "_id_str")))


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _walk_ids(value: object, pointer: str) -> Iterator[str | None]:
    """Yield ``None`` per ID in an ID-only value, and the pointer of the first thing that is not.

    An ID-only value is an ID, a list, tuple or set of ID-only values, or a mapping whose keys
    all name IDs (``id``, ``ids``, ``*_id``, ``*_ids``) and whose values are ID-only.
    """
    if is_id(value):
        yield None
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _walk_ids(item, f"{pointer}/{index}")
    elif isinstance(value, (set, frozenset)):
        for item in value:
            yield from _walk_ids(item, f"{pointer}/-")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{pointer}/{_escape(str(key))}"
            if not _is_id_key(key):
                yield here
                return
            yield from _walk_ids(item, here)
    else:
        yield pointer


def ids_only_check(value: object) -> tuple[str | None, int]:
    """``(pointer of the first non-ID, or None; how many IDs)`` for an outbound value."""
    count = 0
    for offence in _walk_ids(value, ""):
        if offence is not None:
            return offence, count
        count += 1
    return None, count


@attrs.frozen(repr=False)
class _IdsOnly:
    id: ClassVar[str] = "redistribution.ids_only"
    clause: ClassVar[str] = "I.F.2"
    error: ClassVar[type[PolicyViolation]] = RedistributionError

    def __repr__(self) -> str:
        return "twpolicy.rules.redistribute_ids_only()"

    def evaluate(self, action: Action, guard: Guard) -> Outcome | None:  # noqa: ARG002  # protocol
        if action.kind is not ActionKind.EXPORT:
            return None
        content = action.facts.get("content")
        if content not in CONTENTS:
            return Outcome.deny(
                "export_content_unknown",
                f"{action.operation} exports data without saying what it is "
                f"(facts['content'] is {content!r}), so it cannot be checked; refused.",
                f"describe the export with facts={{'content': ...}}, one of {list(CONTENTS)}.",
            )
        if content == "objects":
            return Outcome.deny(
                "hydrated_objects",
                f"{action.operation} would give {action.count} hydrated objects to "
                f"{action.recipient or 'a third party'}; only Tweet, User and DM IDs may be "
                "distributed.",
                "share IDs (twpolicy.dehydrate) for the recipient to rehydrate; a person may "
                "export up to 50,000 public objects a day by hand with twpolicy.manual_export.",
            )
        offence, count = ids_only_check(action.payload)
        if offence is not None:
            return Outcome.deny(
                "not_ids",
                f"{action.operation} would let more than IDs leave: the value at JSON pointer "
                f"{offence!r} is not a decimal-string ID under an ID key.",
                "return nothing but decimal-string IDs (a list, or a mapping of id/ids/*_id "
                "keys), or let @twpolicy.ids_only reduce the value (strict=False).",
                facts={"pointer": offence},
            )
        return Outcome.allow("ids_only", facts={"ids": count})


def _counts(action: Action) -> dict[str, int]:
    content = action.facts.get("content")
    tweets = action.count if content == "tweet_ids" else 0
    hydrated = 0
    if content == "objects":
        hydrated = action.count
        tweet_objects = action.facts.get("tweet_objects")
        tweets = tweet_objects if isinstance(tweet_objects, int) else action.count
    return {TWEET_IDS.name: tweets, HYDRATED_OBJECTS.name: hydrated}


_WHAT = {TWEET_IDS.name: "Tweet IDs", HYDRATED_OBJECTS.name: "hydrated objects"}
_PER = {TWEET_IDS.name: "in any 30 days", HYDRATED_OBJECTS.name: "in any 24 hours"}


def _usage_facts(usage: tuple[QuotaUsage, ...]) -> dict[str, Scalar]:
    facts: dict[str, Scalar] = {}
    for u in usage:
        facts.update(u.facts())
    return facts


@attrs.frozen(repr=False)
class _RecipientQuota:
    id: ClassVar[str] = "redistribution.quota"
    clause: ClassVar[str] = TWEET_IDS.clause
    error: ClassVar[type[PolicyViolation]] = QuotaExceeded

    def __repr__(self) -> str:
        return "twpolicy.rules.recipient_quota()"

    def evaluate(self, action: Action, guard: Guard) -> Outcome | None:
        if action.kind is not ActionKind.EXPORT:
            return None
        counts = _counts(action)
        if action.recipient is None:
            return Outcome.allow("uncounted_no_recipient", facts={"count": action.count})
        ledger = guard.quotas
        if ledger is None:
            return Outcome.deny(
                "no_quota_ledger",
                f"{action.operation} exports to {action.recipient}, but the guard has no quota "
                "ledger to count it against.",
                "build the guard with one: twpolicy.Guard(quotas=twpolicy.open_quotas(url)).",
            )
        force = guard.mode_of(self.id) is not Mode.ENFORCE
        reservation = ledger.reserve(
            action.recipient,
            tweet_ids=counts[TWEET_IDS.name],
            hydrated_objects=counts[HYDRATED_OBJECTS.name],
            at=guard.now(),
            force=force,
        )
        facts = {
            **reservation.recipient.facts(),
            **_usage_facts(reservation.usage),
            "reservation_id": reservation.reservation_id,
        }
        if reservation.exceeded:
            return self._deny(action, reservation, counts, facts)
        standing = reservation.recipient.standing
        if counts[TWEET_IDS.name] and standing.exempt:
            return Outcome.allow(f"exempt_{standing.value}", facts=facts)
        return Outcome.allow("within_quota", facts=facts)

    @staticmethod
    def _deny(
        action: Action,
        reservation: Reservation,
        counts: Mapping[str, int],
        facts: Mapping[str, Scalar],
    ) -> Outcome:
        quota = reservation.exceeded[0]
        usage = next(u for u in reservation.usage if u.quota == quota)
        recipient = reservation.recipient
        who = recipient.name
        if usage.key != recipient.name:
            who += f" (entity {usage.key})"
        when = usage.next_release_at.isoformat() if usage.next_release_at else "later"
        remaining = usage.remaining or 0
        if not reservation.granted:
            usage_text = f"{usage.used:,} already counted, {remaining:,} remaining"
        else:  # counted anyway, in warn or monitor mode
            usage_text = f"{usage.used:,} counted with this export"
        message = (
            f"{action.operation} would send {counts[quota]:,} {_WHAT[quota]} to {who}, over the "
            f"limit of {usage.limit:,} {_PER[quota]} ({usage_text}); refused."
        )
        if quota == TWEET_IDS.name:
            remediation = (
                f"send at most {remaining:,} now or wait until {when}, when the oldest count "
                "leaves the window; if the IDs go to an academic institution for non-commercial "
                "research, or Twitter permitted it in writing, register the recipient: "
                f"quotas.register({recipient.name!r}, standing='academic_noncommercial', "
                "approved_by=..., reference=...)."
            )
        else:
            remediation = (
                f"export at most {remaining:,} objects now or wait until {when}; share IDs "
                "(twpolicy.dehydrate) instead, which the recipient can rehydrate."
            )
        outcome = Outcome.deny("quota_exceeded", message, remediation, facts=facts)
        return attrs.evolve(outcome, clause=usage.clause)


def redistribute_ids_only() -> _IdsOnly:
    """Let exports carry only what they declare: IDs, or public objects exported by hand (I.F.2)."""
    return _IdsOnly()


def recipient_quota() -> _RecipientQuota:
    """Count exports against the recipient's rolling quotas (I.F.2.a, I.F.2.b.i)."""
    return _RecipientQuota()


def reservation_of(decision: Decision) -> str | None:
    """The quota reservation a decision made, if any."""
    for outcome in decision.outcomes:
        if outcome.rule == _RecipientQuota.id:
            value = outcome.facts.get("reservation_id")
            return value if isinstance(value, str) else None
    return None


def release(guard: Guard, decision: Decision) -> bool:
    """Uncount what ``decision`` reserved, when the data did not leave after all."""
    reservation = reservation_of(decision)
    if reservation is None or guard.quotas is None:
        return False
    return guard.quotas.release(reservation)

"""The redistribution rules: only IDs leave (I.F.2), within the recipient's caps.

An export is described as ``Action(kind="export", recipient=..., count=..., facts={"content":
...}, payload=...)``. ``redistribution.ids_only`` checks that the payload holds what
``content`` says; ``redistribution.quota`` reads the recipient's usage and, when the export
fits, obliges the enforcement point to reserve it (the rule itself writes nothing).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome, ReserveQuota, Scalar
from twpolicy._payloads._ids import CONTENTS, ids_only_check, objects_of
from twpolicy._stores._quotas import HYDRATED_OBJECTS, TWEET_IDS, QuotaUsage
from twpolicy.exceptions import PolicyViolation, QuotaExceeded, RedistributionError
from twpolicy.rules._context import RuleContext
from twpolicy.rules._remedies import shell_store

__all__ = ["quota_denial", "recipient_quota", "redistribute_ids_only"]


@attrs.frozen(repr=False)
class _IdsOnly:
    id: ClassVar[str] = "redistribution.ids_only"
    clause: ClassVar[str] = "I.F.2"
    error: ClassVar[type[PolicyViolation]] = RedistributionError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.EXPORT})

    def __repr__(self) -> str:
        return "twpolicy.rules.redistribute_ids_only()"

    def static_for(self, action: Action) -> bool:
        """Only exports are judged, on their payload; for anything else the rule is silent."""
        return action.kind is not ActionKind.EXPORT

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
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
        if content == "objects" and action.facts.get("manual") is True:
            return _manual_check(action)
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
                "return nothing but decimal-string IDs (a list, or a mapping of ID keys: ids, "
                "tweet_ids, user_ids, dm_ids, id, author_id ...), or let @twpolicy.ids_only "
                "reduce the value (strict=False).",
                facts={"pointer": offence},
            )
        return Outcome.allow("ids_only", facts={"ids": count})


def _counts(action: Action) -> dict[str, int]:
    content = action.facts.get("content")
    tweets = action.count if content == "tweet_ids" else 0
    hydrated = 0
    if content == "objects":
        hydrated = action.count
        carried = action.facts.get("tweet_ids")
        tweets = carried if isinstance(carried, int) else action.count
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
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.EXPORT})

    def __repr__(self) -> str:
        return "twpolicy.rules.recipient_quota()"

    def static_for(self, action: Action) -> bool:
        """Exports are counted each time; for anything else the rule is silent."""
        return action.kind is not ActionKind.EXPORT

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        if action.kind is not ActionKind.EXPORT:
            return None
        counts = _counts(action)
        if action.recipient is None:
            return Outcome.allow("uncounted_no_recipient", facts={"count": action.count})
        ledger = context.quotas
        if ledger is None:
            return Outcome.deny(
                "no_quota_ledger",
                f"{action.operation} exports to {action.recipient}, but the guard has no quota "
                "ledger to count it against.",
                "build the guard with one: twpolicy.Guard(quotas=twpolicy.open_quotas(url)).",
            )
        recipient = ledger.recipient(action.recipient)
        usage = ledger.usage(action.recipient, at=context.now)
        exceeded = tuple(
            u.quota
            for u in usage
            if counts.get(u.quota) and u.limit is not None and u.used + counts[u.quota] > u.limit
        )
        facts: dict[str, Scalar] = {**recipient.facts(), **_usage_facts(usage)}
        reserve = ReserveQuota(
            action.recipient,
            tweet_ids=counts[TWEET_IDS.name],
            hydrated_objects=counts[HYDRATED_OBJECTS.name],
            force=bool(exceeded),
        )
        if exceeded:
            # In warn or monitor mode the export goes out all the same, so it is counted.
            return quota_denial(
                action,
                usage,
                exceeded,
                counts=counts,
                facts=facts,
                obligations=(reserve,),
                ledger=ledger,
            )
        obligations = (reserve,) if reserve.tweet_ids or reserve.hydrated_objects else ()
        standing = recipient.standing
        if counts[TWEET_IDS.name] and standing.exempt:
            return Outcome.allow(f"exempt_{standing.value}", facts=facts, obligations=obligations)
        return Outcome.allow("within_quota", facts=facts, obligations=obligations)


def quota_denial(
    action: Action,
    usage: tuple[QuotaUsage, ...],
    exceeded: tuple[str, ...],
    *,
    counts: Mapping[str, int],
    facts: Mapping[str, Scalar],
    obligations: tuple[ReserveQuota, ...] = (),
    ledger: object = None,
) -> Outcome:
    """The deny for an export over a quota: what, how much is left, when it frees, what to do.

    Used by the rule, and by the guard when a reservation loses a race to another process.
    ``ledger`` (the quota ledger) lets the remedy name it in a runnable shell command.
    """
    quota = exceeded[0]
    used = next(u for u in usage if u.quota == quota)
    who = action.recipient or "the recipient"
    if used.key != who:
        who += f" (entity {used.key})"
    when = used.next_release_at.isoformat() if used.next_release_at else "later"
    remaining = used.remaining or 0
    message = (
        f"{action.operation} would send {counts[quota]:,} {_WHAT[quota]} to {who}, over the "
        f"limit of {used.limit:,} {_PER[quota]} ({used.used:,} already counted, "
        f"{remaining:,} remaining); refused."
    )
    if quota == TWEET_IDS.name:
        store = shell_store(ledger, "--quota-db", "TWPOLICY_QUOTA_DB")
        name = action.recipient or "RECIPIENT"
        if store is not None:
            register = (
                f"`twpolicy quotas register {shlex.quote(name)} --standing "
                "academic_noncommercial --approved-by APPROVER --reference REFERENCE"
                f"{store}`"
            )
        else:
            register = (
                f"quotas.register({name!r}, standing='academic_noncommercial', "
                "approved_by='APPROVER', reference='REFERENCE')"
            )
        remediation = (
            f"send at most {remaining:,} now or wait until {when}, when the oldest count "
            "leaves the window; if the IDs go to an academic institution for non-commercial "
            "research, or Twitter permitted it in writing, register the recipient, with "
            f"APPROVER and REFERENCE replaced by who approved it and where that is written "
            f"down: {register} (standing written_permission instead, for Twitter's written "
            "permission)."
        )
    else:
        remediation = (
            f"export at most {remaining:,} objects now or wait until {when}; share IDs "
            "(twpolicy.dehydrate) instead, which the recipient can rehydrate."
        )
    outcome = Outcome.deny(
        "quota_exceeded", message, remediation, facts=facts, obligations=obligations
    )
    return attrs.evolve(outcome, clause=used.clause)


def redistribute_ids_only() -> _IdsOnly:
    """Let exports carry only what they declare: IDs, or public objects exported by hand (I.F.2)."""
    return _IdsOnly()


def recipient_quota() -> _RecipientQuota:
    """Count exports against the recipient's rolling quotas (I.F.2.a, I.F.2.b.i)."""
    return _RecipientQuota()


_WHY = {
    "direct_message": "a direct message, which may never be exported",
    "protected_user": "a protected user, whose content is not public",
    "protected_tweet": "a Tweet by a protected user, which is not public",
    "protection_unknown": "an object whose author's protection is not known, so it cannot be "
    "shown to be public",
}


def _manual_check(action: Action) -> Outcome:
    objects, tweet_ids, problems = objects_of(action.payload)
    if problems:
        reason, pointer = problems[0]
        outcome = Outcome.deny(
            reason,
            f"{action.operation} for {action.recipient} includes {_WHY[reason]} at JSON "
            f"pointer {pointer!r} ({len(problems)} such object(s) in all); refused.",
            "export only public Tweet and User objects: leave out DMs and protected accounts, "
            "and fetch Tweets with their authors (expansions=author_id, "
            "user.fields=protected) so that being public can be checked.",
            facts={"pointer": pointer, "problems": len(problems)},
        )
    else:
        outcome = Outcome.allow(
            "public_objects", facts={"objects": objects, "tweet_ids": tweet_ids}
        )
    return attrs.evolve(outcome, clause=HYDRATED_OBJECTS.clause)

"""The redistribution rules: only IDs leave (I.F.2), within the recipient's caps.

An export is described as ``Action(kind="export", recipient=..., count=..., facts={"content":
...}, payload=...)``. ``redistribution.ids_only`` checks that the payload holds what
``content`` says; ``redistribution.quota`` reads the recipient's usage and, when the export
fits, obliges the enforcement point to reserve it (the rule itself writes nothing).

Both read the counts off the payload, never off the caller's word (``count`` and the declared
kind are only recorded): a bare ID counts as a Tweet ID, the capped kind, and so does an ID
read off a user or DM object unless a guarded client of this process read it as a user's or
a DM's, never as a Tweet's (`twpolicy._payloads._seen`); objects are counted wherever they
are nested, with every ID they hold in any field or form.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome, ReserveQuota, Scalar
from twpolicy._payloads._ids import CONTENTS
from twpolicy._payloads._outbound import IdCount, ObjectCount, recall
from twpolicy._stores._quotas import (
    HYDRATED_OBJECTS,
    PUBLIC,
    REQUESTED_OBJECTS,
    TWEET_IDS,
    QuotaUsage,
    normal_name,
)
from twpolicy.exceptions import (
    ConfigurationError,
    PolicyViolation,
    QuotaExceeded,
    RedistributionError,
)
from twpolicy.rules._context import RuleContext
from twpolicy.rules._remedies import shell_store

__all__ = [
    "export_counts",
    "quota_denial",
    "recipient_quota",
    "redistribute_ids_only",
    "reserved_counts",
]

# The kind of ID each ``content`` declares.
_DECLARED = {"tweet_ids": "tweets", "user_ids": "users", "dm_ids": "dms"}


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
        return _ids_check(action, content)


def _ids_check(action: Action, content: str) -> Outcome:
    """An export of bare IDs: nothing else, exact, and of the kind it says it is."""
    ids: IdCount = recall(action.payload, IdCount)
    if ids.imprecise is not None:
        return Outcome.deny(
            "imprecise_id",
            f"{action.operation} would let out an ID at JSON pointer {ids.imprecise!r} "
            "written as a JSON float or an integer of 2**53 or more, whose digits may "
            "already be wrong (JSON readers round such numbers); refused.",
            "send IDs as decimal strings (id_str, or v2's string id), read from the "
            "original payload.",
            facts={"pointer": ids.imprecise},
        )
    if ids.offence is not None:
        return Outcome.deny(
            "not_ids",
            f"{action.operation} would let more than IDs leave: the value at JSON pointer "
            f"{ids.offence!r} is not an ID under an ID field.",
            "return nothing but IDs (a list of decimal strings, or a mapping of ID fields "
            "such as tweet_ids, user_ids, author_id), or let @twpolicy.ids_only reduce the "
            "value (strict=False).",
            facts={"pointer": ids.offence},
        )
    declared = _DECLARED[content]
    pointer = ids.named.get("tweets")
    if declared != "tweets" and pointer is not None:
        return Outcome.deny(
            "id_kind_mismatch",
            f"{action.operation} says it exports {content}, but the field at JSON pointer "
            f"{pointer!r} holds Tweet IDs: the kind of an export is what its payload says, "
            "and Tweet IDs are counted against the recipient's cap.",
            "declare the export as Tweet IDs (kind='tweets', content 'tweet_ids'), or leave "
            "the Tweet IDs out.",
            facts={"pointer": pointer, "declared": content},
        )
    return Outcome.allow("ids_only", facts={"ids": ids.ids, "tweet_ids": ids.tweets})


def export_counts(action: Action) -> dict[str, int]:
    """What an export counts against its quotas, read off its payload (never off ``count``).

    Objects count as the hydrated Tweets and Users in them, wherever nested, and every ID
    they hold as a Tweet ID unless it is proven a user's; bare IDs count as Tweet IDs,
    whatever their fields or the declared content say; IDs reduced from user or DM objects
    count as Tweet IDs unless proven users' or DMs' (`IdCount.derived`).
    """
    if action.facts.get("content") == "objects":
        objects: ObjectCount = recall(action.payload, ObjectCount)
        return {TWEET_IDS.name: objects.tweet_ids, HYDRATED_OBJECTS.name: objects.objects}
    ids: IdCount = recall(action.payload, IdCount)
    return {TWEET_IDS.name: ids.tweets, HYDRATED_OBJECTS.name: 0}


def reserved_counts(obligation: ReserveQuota) -> dict[str, int]:
    """The counts a `ReserveQuota` obligation reserves, by quota name."""
    counts = {
        TWEET_IDS.name: obligation.tweet_ids,
        HYDRATED_OBJECTS.name: obligation.hydrated_objects,
    }
    if obligation.requested_by is not None:
        counts[REQUESTED_OBJECTS.name] = obligation.hydrated_objects
    return counts


_WHAT = {
    TWEET_IDS.name: "Tweet IDs",
    HYDRATED_OBJECTS.name: "hydrated objects",
    REQUESTED_OBJECTS.name: "hydrated objects",
}
_PER = {
    TWEET_IDS.name: "in any 30 days",
    HYDRATED_OBJECTS.name: "per recipient in any 24 hours",
    REQUESTED_OBJECTS.name: "per user of the Service in any 24 hours",
}


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
        ledger = context.quotas
        if action.recipient is None or ledger is None:
            return _uncountable(action)
        counts = export_counts(action)
        requester = _requester(action) if counts[HYDRATED_OBJECTS.name] else None
        if requester is not None:
            counts[REQUESTED_OBJECTS.name] = counts[HYDRATED_OBJECTS.name]
        elif counts[HYDRATED_OBJECTS.name] and action.facts.get("manual") is True:
            # Objects are counted against the user of the Service who asked for them too: a
            # requester whose name cannot be counted (blank, hidden characters) is refused.
            outcome = Outcome.deny(
                "no_requester",
                f"{action.operation} exports {counts[HYDRATED_OBJECTS.name]:,} hydrated "
                f"objects for requested_by={action.facts.get('requested_by')!r}, a name that "
                "cannot be counted (blank, not a string, or holding control or invisible "
                "characters); the 50,000 a day are counted per user of the Service.",
                "pass requested_by as the printable name of the person who asked "
                "(requested_by='ana').",
            )
            return attrs.evolve(outcome, clause=HYDRATED_OBJECTS.clause)
        recipient = ledger.recipient(action.recipient)
        usage = ledger.usage(action.recipient, at=context.now, requested_by=requester)
        exceeded = tuple(
            u.quota
            for u in usage
            if counts.get(u.quota) and u.limit is not None and u.used + counts[u.quota] > u.limit
        )
        facts: dict[str, Scalar] = {**recipient.facts(), **_usage_facts(usage)}
        if requester is not None:
            facts["requested_by"] = requester
        reserve = ReserveQuota(
            action.recipient,
            tweet_ids=counts[TWEET_IDS.name],
            hydrated_objects=counts[HYDRATED_OBJECTS.name],
            force=bool(exceeded),
            requested_by=requester,
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


def _uncountable(action: Action) -> Outcome:
    """The deny for an export with nobody, or no ledger, to count it against."""
    if action.recipient is None:
        return Outcome.deny(
            "no_recipient",
            f"{action.operation} exports data without naming who receives it, so it cannot "
            "be counted; every export is counted against its recipient.",
            "name the recipient (recipient='acme'), or, for a public download or an "
            "anonymous caller, recipient=twpolicy.PUBLIC, which has one entity's caps.",
        )
    return Outcome.deny(
        "no_quota_ledger",
        f"{action.operation} exports to {action.recipient}, but the guard has no quota "
        "ledger to count it against.",
        "build the guard with one: twpolicy.Guard(quotas=twpolicy.open_quotas(url)).",
    )


def _requester(action: Action) -> str | None:
    """The user of the Service who asked for a manual export, normalised; ``None`` if unnamed."""
    try:
        return normal_name(action.facts.get("requested_by"), "requested_by")
    except ConfigurationError:
        return None


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
    if quota == REQUESTED_OBJECTS.name:
        who += f" at the request of {used.key}"
    elif used.key not in {who, _normal(who)}:
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
        if quota == REQUESTED_OBJECTS.name:
            remediation = f"{used.key} has asked for the most a user may export in a day: " + (
                remediation
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


def _normal(name: str) -> str:
    try:
        return normal_name(name)
    except ConfigurationError:
        return name


_WHY = {
    "direct_message": "a direct message, which may never be exported",
    "protected_user": "a protected user, whose content is not public",
    "protected_tweet": "a Tweet by a protected user, which is not public",
    "protection_unknown": "an object whose author's protection is not known, so it cannot be "
    "shown to be public",
    "not_an_object": "something that is neither a Tweet or User object, nor an ID, nor the "
    "envelope around them (text, CSV, reshaped rows, a place or notice on its own), so it "
    "cannot be counted",
    "imprecise_id": "an ID written as a JSON float or an integer of 2**53 or more, whose "
    "digits may already be wrong",
    "extra_text": "text in a field that no Tweet or User object has, which would leave "
    "uncounted inside a counted object",
    "not_an_id": "text where an object's ID, or the ID it refers to, belongs",
}
_REMEDY = {
    "direct_message": "leave DMs out: they may never be exported.",
    "protected_user": "leave protected accounts and their Tweets out.",
    "protected_tweet": "leave protected accounts and their Tweets out.",
    "protection_unknown": "fetch Tweets with their authors (expansions=author_id, "
    "user.fields=protected) so that being public can be checked, or leave them out.",
    "not_an_object": "export the Tweet and User objects as the API returned them (parsed JSON "
    "or tweepy models), not text or rows made from them; turn them into a spreadsheet after "
    "the export is cleared.",
    "imprecise_id": "keep the IDs as decimal strings (id_str, or v2's string id), as the API "
    "sent them.",
    "extra_text": "export the objects with the fields the API gave them; add your own notes "
    "after the export is cleared, or export them separately as your own content.",
    "not_an_id": "keep each object's IDs as the API sent them (decimal strings).",
}


def _manual_check(action: Action) -> Outcome:
    found: ObjectCount = recall(action.payload, ObjectCount)
    if found.problems:
        reason, pointer = found.problems[0]
        same = sum(1 for problem in found.problems if problem[0] == reason)
        outcome = Outcome.deny(
            reason,
            f"{action.operation} for {action.recipient} includes {_WHY[reason]} at JSON "
            f"pointer {pointer!r} ({same} such in all, {len(found.problems)} problem(s)); "
            "refused.",
            _REMEDY[reason],
            facts={"pointer": pointer, "problems": len(found.problems)},
        )
    elif action.recipient is not None and _normal(action.recipient) == PUBLIC:
        outcome = Outcome.deny(
            "made_public",
            f"{action.operation} would make {found.objects:,} hydrated objects public; objects "
            "exported by hand go to a person and may not be made publicly available.",
            "name the recipient (recipient='ana@lab.example'); for a public dataset, share IDs "
            "(twpolicy.dehydrate).",
        )
    else:
        outcome = Outcome.allow(
            "public_objects", facts={"objects": found.objects, "tweet_ids": found.tweet_ids}
        )
    return attrs.evolve(outcome, clause=HYDRATED_OBJECTS.clause)

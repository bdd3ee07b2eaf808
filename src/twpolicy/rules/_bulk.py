"""No bulk actions, no duplicate content across accounts (restricted uses, "Automation").

"Never perform bulk, aggressive, or spammy actions, including bulk following" and "never post
identical or substantially similar content across multiple accounts". ``automation.bulk_limit``
caps each account's follows, unfollows, likes, unlikes, retweets, unretweets, posts, DMs,
list additions and removals and spam reports in sliding windows (a v1.1 ``create_all`` or
``destroy_all`` of many members counts once per member); ``automation.no_duplicates``
refuses a post whose text is near-identical to one another account posted within a window.
Both read the shared window ledger (pure) and oblige the permit to count the action there
atomically (`CountAction`), so many processes on one store cannot together go over a cap or
post a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, CountAction, Outcome
from twpolicy._stores._windows import WindowVerdict, fingerprint
from twpolicy.exceptions import (
    BulkLimitExceeded,
    ConfigurationError,
    DuplicateContent,
    PolicyViolation,
)
from twpolicy.rules._context import Rule, RuleContext

__all__ = [
    "BULK_LIMITS",
    "DUPLICATE_THRESHOLD",
    "DUPLICATE_WINDOW",
    "bulk_limit",
    "no_duplicates",
]

#: Conservative defaults, per account: well under X's own daily limits (400 follows, 1,000
#: likes, 2,400 posts, 500 DMs a day), because the policy forbids bulk behaviour, not only
#: exceeding limits. Each is (most actions, sliding window).
BULK_LIMITS: Mapping[str, tuple[int, timedelta]] = {
    "follows": (50, timedelta(days=1)),
    "unfollows": (50, timedelta(days=1)),
    "likes": (200, timedelta(days=1)),
    # Undoing in bulk is as much a burst as doing: the same caps as their counterparts.
    "unlikes": (200, timedelta(days=1)),
    "retweets": (100, timedelta(days=1)),
    "unretweets": (100, timedelta(days=1)),
    "posts": (200, timedelta(days=1)),
    "dms": (200, timedelta(days=1)),
    "list_additions": (100, timedelta(days=1)),
    "list_removals": (100, timedelta(days=1)),
    # Reporting accounts in bulk is the aggressive action par excellence: a few a day.
    "reports": (20, timedelta(days=1)),
}

#: Which writes count against which cap.
_KIND_OF = {
    "POST /2/users/:id/following": "follows",
    "POST /1.1/friendships/create.json": "follows",
    "DELETE /2/users/:source_user_id/following/:target_user_id": "unfollows",
    "POST /1.1/friendships/destroy.json": "unfollows",
    "POST /2/users/:id/likes": "likes",
    "POST /1.1/favorites/create.json": "likes",
    "DELETE /2/users/:id/likes/:tweet_id": "unlikes",
    "POST /1.1/favorites/destroy.json": "unlikes",
    "POST /2/users/:id/retweets": "retweets",
    "POST /1.1/statuses/retweet/:id.json": "retweets",
    "DELETE /2/users/:id/retweets/:source_tweet_id": "unretweets",
    "POST /1.1/statuses/unretweet/:id.json": "unretweets",
    "POST /2/tweets": "posts",
    "POST /1.1/statuses/update.json": "posts",
    "POST /1.1/statuses/update_with_media.json": "posts",
    "POST /2/dm_conversations/with/:participant_id/messages": "dms",
    "POST /2/dm_conversations/:dm_conversation_id/messages": "dms",
    "POST /2/dm_conversations": "dms",
    "POST /1.1/direct_messages/events/new.json": "dms",
    "POST /2/lists/:id/members": "list_additions",
    "POST /1.1/lists/members/create.json": "list_additions",
    "POST /1.1/lists/members/create_all.json": "list_additions",
    "DELETE /2/lists/:id/members/:user_id": "list_removals",
    "POST /1.1/lists/members/destroy.json": "list_removals",
    "POST /1.1/lists/members/destroy_all.json": "list_removals",
    "POST /1.1/users/report_spam.json": "reports",
}
#: Writes that name many accounts at once (up to 100): each named account counts.
_BATCHES = frozenset(
    {"POST /1.1/lists/members/create_all.json", "POST /1.1/lists/members/destroy_all.json"}
)
_POSTS = {
    "POST /2/tweets": "text",
    "POST /1.1/statuses/update.json": "status",
    "POST /1.1/statuses/update_with_media.json": "status",
}

#: How long a post's text stays reserved to its account (24 hours).
DUPLICATE_WINDOW = timedelta(days=1)
#: Jaccard similarity of 5-gram sets at or above which two texts are near-identical. Measured
#: on 15-16 word posts: one word changed 0.84, two words 0.74, the same words rephrased about
#: 0.6; unrelated posts, even of the same shape, 0.04-0.07. 0.5 sits between, with room on
#: both sides (tests/test_automation.py checks examples of each).
DUPLICATE_THRESHOLD = 0.5


def _batch_size(action: Action) -> int:
    """How many accounts a write names: the members of a ``create_all``, else one."""
    payload = action.payload
    if action.operation not in _BATCHES or not isinstance(payload, Mapping):
        return 1
    named = 0
    for field in ("user_id", "screen_name"):
        value = payload.get(field)
        if isinstance(value, str):
            named += len([part for part in value.split(",") if part.strip()])
        elif isinstance(value, (list, tuple)):
            named += len(value)
    return max(1, named)


def _seconds(window: timedelta) -> int:
    return max(1, int(window.total_seconds()))


def _limits(given: Mapping[str, tuple[int, timedelta]] | None) -> dict[str, tuple[int, timedelta]]:
    limits = dict(BULK_LIMITS)
    for kind, value in (given or {}).items():
        if kind not in BULK_LIMITS:
            raise ConfigurationError(f"unknown bulk cap {kind!r}; known: {sorted(BULK_LIMITS)}")
        count, window = value
        if type(count) is not int or count < 0 or not isinstance(window, timedelta):
            raise ConfigurationError(
                f"bulk cap {kind!r} must be (count >= 0, timedelta), got {value!r}"
            )
        if window <= timedelta(0):
            raise ConfigurationError(f"bulk cap {kind!r}: the window must be positive")
        limits[kind] = (count, window)
    return limits


@attrs.frozen(repr=False)
class _BulkLimit:
    id: ClassVar[str] = "automation.bulk_limit"
    clause: ClassVar[str] = "RU.automation.c"
    error: ClassVar[type[PolicyViolation]] = BulkLimitExceeded
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})
    limits: dict[str, tuple[int, timedelta]] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        return "twpolicy.rules.bulk_limit()"

    def static_for(self, action: Action) -> bool:
        """Only the capped writes read the window ledger."""
        return action.operation not in _KIND_OF

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        kind = _KIND_OF.get(action.operation)
        account = action.acting_user_id
        if kind is None or account is None:
            return None  # not capped; no acting user: consent.required refuses it already
        limit, window = self.limits[kind]
        key = f"{kind}:{account}"
        count = CountAction(key, account, _seconds(window), limit=limit)
        if context.windows is None:
            return Outcome.deny(
                "no_window_store",
                f"{action.operation} must be counted against account {account}'s {kind} cap, "
                "but the guard has no window ledger.",
                "build the guard with one: twpolicy.Guard(windows=twpolicy.open_windows(url)).",
            )
        # A retry (claims held) does not count its own first try against itself.
        usage = context.windows.usage(key, window, at=context.now, excluding=context.claims)
        size = _batch_size(action)
        if usage.used + size > limit:
            return self._full(action, count, usage.frees_at, kind, used=usage.used, size=size)
        return Outcome.allow("under_bulk_limit", facts={"window": kind}, obligations=[count] * size)

    def refusal(self, obligation: CountAction, verdict: WindowVerdict) -> Outcome:
        """The denial when the window filled up between the check and the count."""
        kind = obligation.window_key.partition(":")[0]
        operation = f"a {kind} action"
        return self._deny(
            operation, obligation, verdict.usage.frees_at, kind, used=verdict.usage.used
        )

    def _full(
        self,
        action: Action,
        count: CountAction,
        frees_at: object,
        kind: str,
        *,
        used: int = 0,
        size: int = 1,
    ) -> Outcome:
        operation = action.operation if size == 1 else f"{action.operation} of {size} accounts"
        return self._deny(operation, count, frees_at, kind, used=used)

    @staticmethod
    def _deny(
        operation: str, count: CountAction, frees_at: object, kind: str, *, used: int
    ) -> Outcome:
        when = "" if frees_at is None else f"; the window frees a slot at {frees_at.isoformat()}"  # type: ignore[attr-defined]  # a datetime
        return Outcome.deny(
            "bulk_limit",
            f"account {count.account} has done {used} {kind} in the last "
            f"{timedelta(seconds=count.window_seconds)}, the most allowed "
            f"({count.limit}); {operation} would be a bulk action{when}.",
            f"wait until {frees_at.isoformat() if frees_at is not None else 'the window frees'}"  # type: ignore[attr-defined]  # ditto
            " and spread the actions out; if a lower or higher cap is justified, set it with "
            f"twpolicy.rules.bulk_limit({{{kind!r}: (LIMIT, timedelta(...))}}) or, in the "
            f"configuration file, [twpolicy.bulk_limits] {kind} = "
            '{ max = LIMIT, window = "1d" }.',
            facts={
                "window": kind,
                "used": used,
                "limit": count.limit,
                "frees_at": None if frees_at is None else frees_at.isoformat(),  # type: ignore[attr-defined]  # ditto
            },
        )


@attrs.frozen(repr=False)
class _NoDuplicates:
    id: ClassVar[str] = "automation.no_duplicates"
    clause: ClassVar[str] = "RU.automation.d"
    error: ClassVar[type[PolicyViolation]] = DuplicateContent
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})
    window: timedelta = DUPLICATE_WINDOW
    threshold: float = DUPLICATE_THRESHOLD

    def __repr__(self) -> str:
        return "twpolicy.rules.no_duplicates()"

    def static_for(self, action: Action) -> bool:
        """Only posts read the window ledger."""
        return action.operation not in _POSTS

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        field = _POSTS.get(action.operation)
        account = action.acting_user_id
        payload = action.payload
        if field is None or account is None or not isinstance(payload, Mapping):
            return None
        text = payload.get(field)
        if not isinstance(text, str) or not text.strip():
            return None  # media only, or a retweet: no text to compare
        content = fingerprint(text)
        count = CountAction(
            "content", account, _seconds(self.window), content=content, threshold=self.threshold
        )
        if context.windows is None:
            return self._deny(count, None, 0.0, None)
        hit = context.windows.similar(
            "content",
            content,
            self.window,
            at=context.now,
            account=account,
            threshold=self.threshold,
        )
        if hit is not None:
            return self._deny(count, hit[0], hit[1], hit[2])
        return Outcome.allow("content_unique", obligations=[count])

    def refusal(self, obligation: CountAction, verdict: WindowVerdict) -> Outcome:
        """The denial when another account posted alike between the check and the count."""
        return self._deny(
            obligation, verdict.similar_account, verdict.similarity, verdict.similar_frees_at
        )

    @staticmethod
    def _deny(count: CountAction, other: str | None, score: float, frees_at: object) -> Outcome:
        if other is None:
            return Outcome.deny(
                "no_window_store",
                "duplicate content across accounts cannot be checked: the guard has no window "
                "ledger.",
                "build the guard with one: twpolicy.Guard(windows=twpolicy.open_windows(url)).",
            )
        when = frees_at.isoformat()  # type: ignore[attr-defined]  # a datetime
        return Outcome.deny(
            "duplicate_content",
            f"account {other} posted near-identical text (similarity {score:.2f}) within the "
            f"last {timedelta(seconds=count.window_seconds)}; posting it from account "
            f"{count.account} too would be duplicate content across accounts.",
            f"write a post of its own for account {count.account} (not the same text with "
            f"small changes), or post it after {when}.",
            facts={"other_account": other, "similarity": round(score, 3), "frees_at": when},
        )


def bulk_limit(limits: Mapping[str, tuple[int, timedelta]] | None = None) -> Rule:
    """Cap each account's follows, likes, posts, DMs... in sliding windows (RU.automation).

    ``limits`` overrides `BULK_LIMITS` by kind: ``{"follows": (20, timedelta(hours=1))}``.
    Every process sharing the window store should use the same limits.
    """
    return _BulkLimit(_limits(limits))


def no_duplicates(
    window: timedelta = DUPLICATE_WINDOW, threshold: float = DUPLICATE_THRESHOLD
) -> Rule:
    """Refuse a post near-identical to another account's within ``window`` (RU.automation)."""
    return _NoDuplicates(window, threshold)

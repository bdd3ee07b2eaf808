"""Compliance events from every source, as one model (Developer Policy I.C.3, I.C.4).

X tells an application that content went away in several shapes: v1.1 stream messages
(``delete``, ``scrub_geo``, ``status_withheld``, ``user_withheld``, ``user_protect`` ...), v2
compliance-stream events (``{"data": {"user_suspend": {...}}}``), batch compliance-job result
lines (``{"id", "action": "delete", "reason": "protected", ...}``), and the errors of a lookup
that no longer finds an object. `compliance_events` turns any of them into frozen
`ComplianceEvent` values that the ledger records once and the appliers act on.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any, Final, Literal

import attrs

from twpolicy.exceptions import PayloadError

__all__ = [
    "ComplianceEvent",
    "ComplianceEventType",
    "Source",
    "compliance_events",
    "events_from_lookup_errors",
    "iter_events",
]

Target = Literal["tweet", "user", "dm"]


class Source(str, enum.Enum):
    """Where an event came from."""

    STREAM_V1 = "stream_v1"
    STREAM_V2 = "stream_v2"
    BATCH_TWEETS = "batch_tweets"
    BATCH_USERS = "batch_users"
    LOOKUP = "lookup"
    REQUEST = "request"
    """A user's own request about their content, recorded by the application."""

    def __str__(self) -> str:
        return self.value


class ComplianceEventType(str, enum.Enum):
    """What happened to a Tweet, a user or a DM."""

    TWEET_DELETE = "tweet_delete"
    TWEET_UNAVAILABLE = "tweet_unavailable"
    """No longer served (author protected, suspended or deactivated; not found)."""
    TWEET_WITHHELD = "tweet_withheld"
    TWEET_EDIT = "tweet_edit"
    """The Tweet was edited: a stored copy is stale and must be fetched again."""
    TWEET_DROP = "tweet_drop"
    TWEET_UNDROP = "tweet_undrop"
    TWEET_SCRUB_GEO = "tweet_scrub_geo"
    """Location removed from one Tweet (a batch result with reason ``scrub_geo``)."""
    DM_DELETE = "dm_delete"
    SCRUB_GEO = "scrub_geo"
    """Location removed from a user's Tweets up to a Tweet ID (all, without one)."""
    USER_DELETE = "user_delete"
    USER_UNDELETE = "user_undelete"
    USER_PROTECT = "user_protect"
    USER_UNPROTECT = "user_unprotect"
    USER_SUSPEND = "user_suspend"
    USER_UNSUSPEND = "user_unsuspend"
    USER_WITHHELD = "user_withheld"
    USER_UNAVAILABLE = "user_unavailable"
    USER_PROFILE_MODIFICATION = "user_profile_modification"

    def __str__(self) -> str:
        return self.value

    @property
    def target(self) -> Target:
        """What the event's ``object_id`` names."""
        if self is ComplianceEventType.DM_DELETE:
            return "dm"
        return "tweet" if self.value.startswith("tweet_") else "user"

    @property
    def removes(self) -> bool:
        """Whether the content the event names must go (or be fetched afresh)."""
        return self in _REMOVING

    @property
    def reverses(self) -> ComplianceEventType | None:
        """The removing event this one undoes (unprotect undoes protect), if any."""
        return _REVERSES.get(self)

    @property
    def reversible(self) -> bool:
        """Whether a later event may make the content eligible again (never a deletion)."""
        return self in _REVERSES.values() or self in _UNAVAILABLE


#: Keys longer than this (many withholding countries) end in a digest instead.
_KEY_LENGTH: Final = 120
_UNAVAILABLE: Final = frozenset(
    {ComplianceEventType.TWEET_UNAVAILABLE, ComplianceEventType.USER_UNAVAILABLE}
)
_REMOVING: Final = frozenset(
    {
        ComplianceEventType.TWEET_DELETE,
        ComplianceEventType.TWEET_UNAVAILABLE,
        ComplianceEventType.TWEET_WITHHELD,
        ComplianceEventType.TWEET_EDIT,
        ComplianceEventType.TWEET_DROP,
        ComplianceEventType.DM_DELETE,
        ComplianceEventType.USER_DELETE,
        ComplianceEventType.USER_PROTECT,
        ComplianceEventType.USER_SUSPEND,
        ComplianceEventType.USER_WITHHELD,
        ComplianceEventType.USER_UNAVAILABLE,
    }
)
_REVERSES: Final = {
    ComplianceEventType.TWEET_UNDROP: ComplianceEventType.TWEET_DROP,
    ComplianceEventType.USER_UNDELETE: ComplianceEventType.USER_DELETE,
    ComplianceEventType.USER_UNPROTECT: ComplianceEventType.USER_PROTECT,
    ComplianceEventType.USER_UNSUSPEND: ComplianceEventType.USER_SUSPEND,
}
# Terminal events are recorded once whenever they are seen again; the others can recur
# (protect, unprotect, protect), so the time they happened is part of their identity.
_TERMINAL: Final = frozenset(
    {
        ComplianceEventType.TWEET_DELETE,
        ComplianceEventType.DM_DELETE,
        ComplianceEventType.SCRUB_GEO,
        ComplianceEventType.TWEET_SCRUB_GEO,
    }
)


def _countries(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(sorted({str(c).upper() for c in value if isinstance(c, str)}))


@attrs.frozen(kw_only=True)
class ComplianceEvent:
    """One thing that happened to content on X, whatever shape it arrived in.

    Attributes:
        type: what happened.
        object_id: the Tweet, user or DM it happened to, as a decimal string.
        user_id: the Tweet's author, or the user, when known.
        up_to_tweet_id: for ``scrub_geo``: the newest Tweet to lose its location (``None``:
            every Tweet of the user).
        countries: for withholdings: the upper-case country codes.
        event_at: when it happened on X, when the message says.
        source: where it came from.
        reason: the source's own reason code (``"protected"``, ``"not_found"`` ...).
    """

    type: ComplianceEventType = attrs.field(converter=ComplianceEventType)
    object_id: str = attrs.field()
    user_id: str | None = None
    up_to_tweet_id: str | None = None
    countries: tuple[str, ...] = ()
    event_at: datetime | None = None
    source: Source = attrs.field(default=Source.REQUEST, converter=Source)
    reason: str | None = None

    @object_id.validator
    def _check_id(self, _: object, value: str) -> None:
        text: object = value  # callers may pass anything; refuse what is not an ID
        if not (isinstance(text, str) and text.isdecimal() and text.isascii()):
            raise PayloadError(f"a compliance event's ID must be a decimal string, got {value!r}")

    @property
    def key(self) -> str:
        """The event's identity: the same event seen twice (backfill, repeats) has one key."""
        parts = [self.type.value, self.object_id]
        if self.up_to_tweet_id is not None:
            parts.append(self.up_to_tweet_id)
        if self.type not in _TERMINAL and self.event_at is not None:
            parts.append(self.event_at.astimezone(timezone.utc).isoformat(timespec="seconds"))
        if self.countries:
            parts.append(",".join(self.countries))
        text = ":".join(parts)
        if len(text) <= _KEY_LENGTH:
            return text
        return (
            f"{self.type.value}:{self.object_id}:{hashlib.sha256(text.encode()).hexdigest()[:24]}"
        )

    @classmethod
    def request(
        cls,
        type: ComplianceEventType | str,  # noqa: A002  # the attribute's name
        object_id: str,
        *,
        user_id: str | None = None,
        up_to_tweet_id: str | None = None,
        event_at: datetime | None = None,
    ) -> ComplianceEvent:
        """An event for a user's own request about their content (I.C.3 "a Twitter user")."""
        return cls(
            type=type,
            object_id=object_id,
            user_id=user_id,
            up_to_tweet_id=up_to_tweet_id,
            event_at=event_at,
            source=Source.REQUEST,
            reason="user_request",
        )


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value < 2**53:
        return str(value)
    if isinstance(value, str) and value.isdecimal() and value.isascii():
        return value
    return None


def _id_of(body: Mapping[str, Any], *names: str) -> str | None:
    """The first readable ID among ``names``: ``x_str`` before ``x``, dotted paths allowed."""
    for name in names:
        value: Any = body
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        found = _id(value)
        if found is not None:
            return found
    return None


def _time(value: object) -> datetime | None:
    if isinstance(value, str) and value:
        text = value.replace("Z", "+00:00")
        if text.isdecimal():
            return datetime.fromtimestamp(int(text) / 1000, timezone.utc)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, timezone.utc)
    return None


_V2_TYPES: Final[Mapping[str, ComplianceEventType]] = {
    "delete": ComplianceEventType.TWEET_DELETE,
    "withheld": ComplianceEventType.TWEET_WITHHELD,
    "drop": ComplianceEventType.TWEET_DROP,
    "undrop": ComplianceEventType.TWEET_UNDROP,
    "tweet_edit": ComplianceEventType.TWEET_EDIT,
    "scrub_geo": ComplianceEventType.SCRUB_GEO,
    "user_delete": ComplianceEventType.USER_DELETE,
    "user_undelete": ComplianceEventType.USER_UNDELETE,
    "user_protect": ComplianceEventType.USER_PROTECT,
    "user_unprotect": ComplianceEventType.USER_UNPROTECT,
    "user_suspend": ComplianceEventType.USER_SUSPEND,
    "user_unsuspend": ComplianceEventType.USER_UNSUSPEND,
    "user_withheld": ComplianceEventType.USER_WITHHELD,
    "user_profile_modification": ComplianceEventType.USER_PROFILE_MODIFICATION,
    "status_withheld": ComplianceEventType.TWEET_WITHHELD,
}
_BATCH: Final[Mapping[tuple[str, str], ComplianceEventType]] = {
    ("tweets", "deleted"): ComplianceEventType.TWEET_DELETE,
    ("tweets", "deactivated"): ComplianceEventType.TWEET_UNAVAILABLE,
    ("tweets", "protected"): ComplianceEventType.TWEET_UNAVAILABLE,
    ("tweets", "suspended"): ComplianceEventType.TWEET_UNAVAILABLE,
    ("tweets", "scrub_geo"): ComplianceEventType.TWEET_SCRUB_GEO,
    ("users", "deleted"): ComplianceEventType.USER_DELETE,
    ("users", "deactivated"): ComplianceEventType.USER_DELETE,
    ("users", "protected"): ComplianceEventType.USER_PROTECT,
    ("users", "suspended"): ComplianceEventType.USER_SUSPEND,
    ("users", "scrub_geo"): ComplianceEventType.SCRUB_GEO,
}


def _message(name: str, body: Mapping[str, Any], source: Source) -> ComplianceEvent | None:  # noqa: C901, PLR0911  # one case per shape
    """One v1.1 stream message or v2 compliance event, by its single key and body."""
    at = _time(body.get("event_at") or body.get("timestamp_ms") or body.get("timestamp"))
    if name == "delete":
        if isinstance(body.get("direct_message"), Mapping):
            dm = body["direct_message"]
            found = _id_of(dm, "id_str", "id")
            if found is None:
                return None
            user = _id_of(dm, "user_id_str", "user_id")
            return ComplianceEvent(
                type=ComplianceEventType.DM_DELETE,
                object_id=found,
                user_id=user,
                event_at=at,
                source=source,
            )
        tweet = body.get("status") or body.get("tweet")
        if not isinstance(tweet, Mapping):
            return None
        found = _id_of(tweet, "id_str", "id")
        if found is None:
            return None
        return ComplianceEvent(
            type=ComplianceEventType.TWEET_DELETE,
            object_id=found,
            user_id=_id_of(tweet, "user_id_str", "user_id", "author_id"),
            event_at=at,
            source=source,
        )
    kind = _V2_TYPES.get(name)
    if kind is None:
        return None
    countries = _countries(body.get("withheld_in_countries"))
    if kind is ComplianceEventType.SCRUB_GEO:
        user = _id_of(body, "user_id_str", "user_id", "user.id", "user.id_str")
        if user is None:
            return None
        return ComplianceEvent(
            type=kind,
            object_id=user,
            user_id=user,
            up_to_tweet_id=_id_of(
                body, "up_to_status_id_str", "up_to_status_id_string", "up_to_status_id",
                "up_to_tweet_id",
            ),
            event_at=at,
            source=source,
        )  # fmt: skip
    if kind.target == "tweet":
        found = _id_of(body, "tweet.id", "id_str", "id", "initial_tweet_id")
        user = _id_of(body, "tweet.author_id", "user_id_str", "user_id")
    else:
        found = _id_of(body, "user.id", "user.id_str", "id_str", "id")
        user = found
    if found is None:
        return None
    return ComplianceEvent(
        type=kind, object_id=found, user_id=user, countries=countries, event_at=at, source=source
    )


def _batch(line: Mapping[str, Any], job_type: str) -> ComplianceEvent | None:
    reason = line.get("reason")
    found = _id(line.get("id"))
    if found is None or not isinstance(reason, str):
        return None
    kind = _BATCH.get((job_type, reason))
    if kind is None:
        kind = (
            ComplianceEventType.TWEET_UNAVAILABLE
            if job_type == "tweets"
            else ComplianceEventType.USER_UNAVAILABLE
        )
    at = _time(line.get("redacted_at")) or _time(line.get("created_at"))
    return ComplianceEvent(
        type=kind,
        object_id=found,
        user_id=found if kind.target == "user" else None,
        event_at=at,
        source=Source.BATCH_TWEETS if job_type == "tweets" else Source.BATCH_USERS,
        reason=reason,
    )


def compliance_events(
    message: object, *, job_type: Literal["tweets", "users"] = "tweets"
) -> list[ComplianceEvent]:
    """The compliance events one parsed JSON message holds (none when it holds none).

    Reads v1.1 stream messages, v2 compliance-stream events (with or without their ``data``
    wrapper), batch compliance-job result lines (a Tweets job unless ``job_type`` says
    ``"users"``: a result line does not say which) and v2 lookup responses' ``errors``.

    Raises:
        PayloadError: an ID is present but not a decimal string or safe integer.
    """
    if not isinstance(message, Mapping):
        return []
    data = message.get("data")
    if isinstance(data, Mapping) and len(data) == 1 and next(iter(data)) in _V2_TYPES:
        message = data
        source = Source.STREAM_V2
    elif isinstance(message.get("errors"), list) and "title" not in message:
        return events_from_lookup_errors(message)
    else:
        source = Source.STREAM_V1
    if "action" in message and "reason" in message:
        event = _batch(message, job_type)
        return [] if event is None else [event]
    events = []
    for name, body in message.items():
        if isinstance(body, Mapping):
            event = _message(str(name), body, source)
            if event is not None:
                if source is Source.STREAM_V1 and "event_at" in body:
                    event = attrs.evolve(event, source=Source.STREAM_V2)
                events.append(event)
    return events


_LOOKUP_PROBLEMS: Final = {
    "https://api.twitter.com/2/problems/resource-not-found": "not_found",
    "https://api.twitter.com/2/problems/not-authorized-for-resource": "not_authorized",
}


def events_from_lookup_errors(response: Mapping[str, Any]) -> list[ComplianceEvent]:
    """Unavailability events for the objects a v2 lookup could not return (I.C.4).

    A Tweet or user that a lookup answers with ``resource-not-found`` or
    ``not-authorized-for-resource`` is no longer available through the API and may not be
    displayed; it is recorded as unavailable (reversible: availability comes back).
    """
    events = []
    for error in response.get("errors") or ():
        if not isinstance(error, Mapping):
            continue
        reason = _LOOKUP_PROBLEMS.get(str(error.get("type")))
        resource = error.get("resource_type")
        found = _id(error.get("resource_id")) or _id(error.get("value"))
        if reason is None or found is None or resource not in ("tweet", "user"):
            continue
        kind = (
            ComplianceEventType.TWEET_UNAVAILABLE
            if resource == "tweet"
            else ComplianceEventType.USER_UNAVAILABLE
        )
        events.append(
            ComplianceEvent(
                type=kind,
                object_id=found,
                user_id=found if resource == "user" else None,
                source=Source.LOOKUP,
                reason=reason,
            )
        )
    return events


def iter_events(
    messages: Iterable[object], *, job_type: Literal["tweets", "users"] = "tweets"
) -> Iterator[ComplianceEvent]:
    """`compliance_events` over many messages."""
    for message in messages:
        yield from compliance_events(message, job_type=job_type)

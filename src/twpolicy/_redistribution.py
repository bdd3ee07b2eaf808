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

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast, overload

import attrs

from twpolicy._model import Action, ActionKind, Decision, Mode, Outcome, Scalar
from twpolicy._quotas import HYDRATED_OBJECTS, TWEET_IDS, QuotaUsage, Reservation
from twpolicy._walker import Kind, Node, adapt, walk
from twpolicy.exceptions import (
    ConfigurationError,
    PayloadError,
    PolicyViolation,
    QuotaExceeded,
    RedistributionError,
)

if TYPE_CHECKING:
    from twpolicy._guard import Guard

__all__ = [
    "CONTENTS",
    "CONTENT_OF",
    "Export",
    "IdKind",
    "check_kind",
    "dehydrate",
    "ids_only",
    "ids_only_check",
    "is_id",
    "manual_export",
    "recipient_quota",
    "redistribute_ids_only",
    "release",
    "reservation_of",
    "send_export",
]

#: What an export may carry, as ``facts["content"]``.
CONTENTS = ("tweet_ids", "user_ids", "dm_ids", "objects")

#: The kinds of ID that may leave.
IdKind = Literal["tweets", "users", "dms"]
CONTENT_OF: Mapping[str, str] = {"tweets": "tweet_ids", "users": "user_ids", "dms": "dm_ids"}

_TWEETS = frozenset({Kind.TWEET_V1, Kind.TWEET_V2, Kind.TWEET_FLAT, Kind.ACTIVITY})
_USERS = frozenset({Kind.USER_V1, Kind.USER_V2, Kind.ACTOR, Kind.MENTION})
_DMS = frozenset({Kind.DM_V1, Kind.DM_EVENT_V1, Kind.DM_EVENT_V2})
_CONTENT = _TWEETS | _USERS | _DMS
_OWN: Mapping[str, frozenset[Kind]] = {"tweets": _TWEETS, "users": _USERS, "dms": _DMS}
_TARGET: Mapping[str, str] = {"tweets": "tweet", "users": "user", "dms": "dm"}
# Notices about content (deletions, withholdings, geo scrubs) name IDs that must not be
# passed on as a dataset: they are not dehydrated.
_NOTICES = frozenset({Kind.DELETE, Kind.SCRUB_GEO, Kind.WITHHELD, Kind.COMPLIANCE})
_PROBLEMS = {
    "float": "a JSON float",
    "unsafe_integer": "a JSON integer of 2**53 or more",
}

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

    def static_for(self, action: Action) -> bool:
        """Only exports are judged, on their payload; for anything else the rule is silent."""
        return action.kind is not ActionKind.EXPORT

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

    def __repr__(self) -> str:
        return "twpolicy.rules.recipient_quota()"

    def static_for(self, action: Action) -> bool:
        """Exports are counted each time; for anything else the rule is silent."""
        return action.kind is not ActionKind.EXPORT

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


# ---------------------------------------------------------------------------------------
# Dehydration: every ID of one kind, on the walker
# ---------------------------------------------------------------------------------------


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is a kind of ID that may leave, else raise ConfigurationError."""
    if kind not in _OWN:
        raise ConfigurationError(f"unknown ID kind {kind!r}; use one of {sorted(_OWN)}")
    return kind


def _checked(value: str | None, problem: str | None, field: str | None, where: str) -> str | None:
    """The ID a reading gave, or ``None``; raise when its digits cannot be trusted."""
    if problem in _PROBLEMS:
        raise PayloadError(
            f"{where}: the ID in {field!r} arrived as {_PROBLEMS[problem]} with no string "
            "twin, so its digits may already be wrong (JSON readers round such numbers); "
            "it was refused. Re-export the data keeping string IDs (id_str, or v2's string id)."
        )
    if value is None:
        return None
    if not is_id(value):
        raise PayloadError(
            f"{where}: {field!r} holds a {len(value)}-character string that is not a decimal "
            "ID; it was refused."
        )
    return value


def ids_in(payload: Any, kind: str, record: str = "") -> Iterator[str]:
    """Yield every ``kind`` ID in one payload, in walk order, with repeats.

    An object's own ID comes first, then the IDs it refers to, then its children's.

    Raises:
        PayloadError: an ID arrived as a float or an unsafe integer, or is not decimal.
    """
    own, target = _OWN[kind], _TARGET[kind]
    for node in walk(payload):
        if node.kind in _NOTICES:
            continue
        if node.kind in own:
            reading = node.read_id()
            found = _checked(reading.value, reading.problem, reading.field, _where(record, node))
            if found is not None:
                yield found
        for reference in node.references():
            if reference.target == target:
                reading = reference.id
                where = f"{record}{' ' if record else ''}at {reference.pointer or '/'}"
                found = _checked(reading.value, reading.problem, reading.field, where)
                if found is not None:
                    yield found


def _where(record: str, node: Node) -> str:
    at = f"the {node.kind.value} at {node.pointer or '/'}"
    return f"{record} {at}" if record else at


def _payloads(payload_or_iterable: Any) -> Iterator[tuple[Any, str]]:
    """One payload, or each payload of an iterable (a generator, a file's parsed lines)."""
    value = adapt(payload_or_iterable)
    if isinstance(value, (Mapping, list)):
        yield value, ""
    elif isinstance(value, (str, bytes, bytearray)):
        raise PayloadError("dehydrate takes parsed JSON, not text; parse it first (json.loads)")
    elif isinstance(value, Iterable):
        for number, item in enumerate(value, start=1):
            yield item, f"record {number}"
    else:
        raise PayloadError(f"dehydrate takes parsed JSON, got {type(value).__name__}")


def dehydrate(payload_or_iterable: Any, *, kind: IdKind = "tweets") -> list[str]:
    """Every ID of ``kind`` in a payload (or an iterable of payloads), unique, first seen first.

    Every family the walker knows is searched: v1.1 and v2 Tweets with their retweeted,
    quoted and referenced Tweets and ``includes``, twarc-flattened Tweets, activity streams,
    users (authors, mentioned, included, embedded), DMs. IDs are returned as decimal strings,
    read from ``id_str`` where there is one. Notices (deletions, withholdings) are skipped.

    Args:
        payload_or_iterable: parsed JSON, a tweepy model or response, or an iterable of them.
        kind: ``"tweets"``, ``"users"`` or ``"dms"``.

    Raises:
        PayloadError: an ID arrived as a float or as an integer of 2**53 or more with no
            string twin (its digits may be wrong), naming the record and pointer.
        ConfigurationError: an unknown ``kind``.
    """
    check_kind(kind)
    seen: dict[str, None] = {}
    for payload, record in _payloads(payload_or_iterable):
        seen.update(dict.fromkeys(ids_in(payload, kind, record)))
    return list(seen)


# ---------------------------------------------------------------------------------------
# Enforcement points
# ---------------------------------------------------------------------------------------


def _guard(guard: Guard | None) -> Guard:
    if guard is not None:
        return guard
    from twpolicy._guard import get_default_guard  # noqa: PLC0415  # _guard imports this module

    return get_default_guard()


@typing.final
class Export:
    """What an export let out, and the decision that let it.

    Use it as a context manager so a send that fails gives the quota back::

        with twpolicy.manual_export(rows, recipient="ana", requested_by="ana") as export:
            write_spreadsheet(export.value)

    Attributes:
        value: the data cleared to leave.
        decision: the guard's decision, with the recipient's standing and quota usage.
    """

    __slots__ = ("_guard", "_released", "decision", "value")

    def __init__(self, value: Any, decision: Decision, guard: Guard) -> None:
        self.value = value
        self.decision = decision
        self._guard = guard
        self._released = False

    def __repr__(self) -> str:
        return (
            f"twpolicy.Export({self.decision.operation!r}, recipient={self.decision.recipient!r}, "
            f"count={self.decision.count})"
        )

    def __enter__(self) -> Export:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self.release()

    def release(self) -> bool:
        """Give the quota back because the data did not leave; ``False`` if nothing to give."""
        if self._released:
            return False
        self._released = True
        return release(self._guard, self.decision)


def send_export(action: Action, guard: Guard) -> Decision:
    """Enforce an export; if refused, give back anything a rule counted for it."""
    try:
        return guard.enforce(action)
    except PolicyViolation as exc:
        release(guard, exc.decision)
        raise


def export_ids(
    value: Any,
    *,
    kind: IdKind = "tweets",
    recipient: str | None = None,
    strict: bool = False,
    guard: Guard | None = None,
    operation: str = "export",
) -> Export:
    """Clear ``value`` to leave as IDs of ``kind``: reduce it (or, ``strict``, refuse it).

    Raises:
        RedistributionError: ``strict`` and ``value`` holds more than IDs.
        QuotaExceeded: the recipient's quota would be exceeded.
        PayloadError: an ID in ``value`` cannot be read safely.
    """
    check_kind(kind)
    out = value
    if not strict and ids_only_check(value)[0] is not None:
        out = dehydrate(value, kind=kind)
    action = Action(
        kind=ActionKind.EXPORT,
        operation=operation,
        recipient=recipient,
        count=ids_only_check(out)[1],
        facts={"content": CONTENT_OF[kind], "strict": strict},
        payload=out,
    )
    chosen = _guard(guard)
    return Export(out, send_export(action, chosen), chosen)


_F = TypeVar("_F", bound=Callable[..., Any])
Recipient = str | Callable[..., str | None] | None


@attrs.frozen
class IdsOnlySettings:
    """How an `ids_only` function's value is let out (``wrapper.ids_only``)."""

    kind: IdKind
    recipient: Recipient
    strict: bool
    guard: Guard | None


@overload
def ids_only(func: _F, /) -> _F: ...


@overload
def ids_only(
    *,
    kind: IdKind = "tweets",
    recipient: Recipient = None,
    strict: bool = False,
    guard: Guard | None = None,
) -> Callable[[_F], _F]: ...


def ids_only(
    func: Callable[..., Any] | None = None,
    /,
    *,
    kind: IdKind = "tweets",
    recipient: Recipient = None,
    strict: bool = False,
    guard: Guard | None = None,
) -> Any:
    """Let only IDs out of a function whose value leaves the system (I.F.2).

    The value is reduced to the IDs of ``kind`` it holds (a value of nothing but IDs is
    kept as it is), or, with ``strict``, refused with `RedistributionError` naming the
    first JSON pointer that is not an ID. Each call is checked by the guard, logged, and
    counted against ``recipient``'s quotas. Works on plain and ``async`` functions.

    Args:
        func: the function, when used bare (``@ids_only``).
        kind: ``"tweets"``, ``"users"`` or ``"dms"``.
        recipient: who receives the value: a name, or a callable given the function's
            arguments that returns one (``lambda request: request.user.org``).
        strict: refuse anything but IDs instead of reducing it.
        guard: the guard to ask; the default guard when ``None``.
    """
    check_kind(kind)
    settings = IdsOnlySettings(kind, recipient, strict, guard)

    def decorate(function: _F) -> _F:
        if inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function):
            raise ConfigurationError(
                f"@ids_only cannot check {function.__qualname__}: it is a generator, whose "
                "items leave one by one; return a list instead."
            )
        operation = f"ids_only {function.__module__}.{function.__qualname__}"

        def leave(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            who = recipient(*args, **kwargs) if callable(recipient) else recipient
            return export_ids(
                value, kind=kind, recipient=who, strict=strict, guard=guard, operation=operation
            ).value

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                value = await cast("Callable[..., Awaitable[Any]]", function)(*args, **kwargs)
                return leave(value, args, kwargs)

            wrapper: Any = async_wrapper
        else:

            @functools.wraps(function)
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                return leave(function(*args, **kwargs), args, kwargs)

            wrapper = sync_wrapper
        wrapper.ids_only = settings
        return cast("_F", wrapper)

    return decorate if func is None else decorate(func)


def _top(node: Node) -> bool:
    """Whether ``node`` is an object of its own, not part of a Tweet, user or DM."""
    parent = node.parent
    while parent is not None:
        if parent.kind in _CONTENT:
            return False
        parent = parent.parent
    return True


def _objects(payload: Any) -> tuple[int, int, list[tuple[str, str]]]:
    """Count the objects of a manual export and find what may not go.

    Returns ``(objects, tweet_ids, problems)``: the Tweet and User objects that stand on
    their own (a retweeted Tweet or an author embedded in a Tweet is part of it), the Tweet
    IDs the export carries, and each problem as a reason code and a JSON pointer: DMs,
    protected users and their Tweets, and objects whose author's protection is not known (a
    v2 Tweet without its author in ``includes``, a user without ``protected``).
    """
    objects = 0
    problems: list[tuple[str, str]] = []
    protected: set[str | None] = set()
    public: set[str | None] = set()
    authored: list[tuple[str | None, str]] = []
    for node in walk(payload):
        pointer = node.pointer or "/"
        if node.kind in _DMS:
            problems.append(("direct_message", pointer))
        elif node.kind in _USERS and node.kind is not Kind.MENTION:
            objects += _top(node)
            uid, flag = node.read_id().value, node.value.get("protected")
            if flag is True:
                protected.add(uid)
                problems.append(("protected_user", pointer))
            elif flag is False:
                public.add(uid)
            else:
                problems.append(("protection_unknown", pointer))
        elif node.kind in _TWEETS:
            objects += _top(node)
            authored.append((_author(node), pointer))
    for author, pointer in authored:
        if author in protected:
            problems.append(("protected_tweet", pointer))
        elif author is None or author not in public:
            problems.append(("protection_unknown", pointer))
    return objects, len(set(ids_in(payload, "tweets"))), problems


def _author(node: Node) -> str | None:
    embedded = node.value.get("user") or node.value.get("author") or node.value.get("actor")
    if isinstance(embedded, Mapping):
        return next((n.read_id().value for n in walk(embedded) if n.kind in _USERS), None)
    return next((r.id.value for r in node.references() if r.target == "user"), None)


_WHY = {
    "direct_message": "a direct message, which may never be exported",
    "protected_user": "a protected user, whose content is not public",
    "protected_tweet": "a Tweet by a protected user, which is not public",
    "protection_unknown": "an object whose author's protection is not known, so it cannot be "
    "shown to be public",
}


def _manual_check(action: Action) -> Outcome:
    objects, tweet_ids, problems = _objects(action.payload)
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


def manual_export(
    objects: Any,
    *,
    recipient: str,
    requested_by: str,
    guard: Guard | None = None,
) -> Export:
    """Clear a non-automated export of hydrated public objects (a spreadsheet, a "save as").

    I.F.2.a allows a person to export up to 50,000 public Tweet and User objects per
    recipient per day by hand. DMs, protected users' content and objects whose author's
    protection cannot be told are refused. The objects that stand on their own (a retweeted
    Tweet or an embedded author is part of its Tweet) are counted against the recipient's
    daily quota, and every Tweet ID the export carries against the 30-day Tweet-ID cap.

    Args:
        objects: the Tweets and users to export, as parsed JSON or tweepy models.
        recipient: who receives the file.
        requested_by: the person who asked for it (a non-automated export has one).
        guard: the guard to ask; the default guard when ``None``.

    Raises:
        RedistributionError: the export holds something that may not be exported.
        QuotaExceeded: the recipient's daily quota would be exceeded.
    """
    if not str(requested_by).strip():
        raise ConfigurationError("manual_export needs requested_by: the person who asked")
    value = adapt(objects)
    if not isinstance(value, (Mapping, list)):
        value = [adapt(item) for item in value]
    objects, tweet_ids, _ = _objects(value)
    action = Action(
        kind=ActionKind.EXPORT,
        operation="manual_export",
        recipient=recipient,
        count=objects,
        facts={
            "content": "objects",
            "manual": True,
            "requested_by": requested_by,
            "tweet_ids": tweet_ids,
        },
        payload=value,
    )
    chosen = _guard(guard)
    return Export(value, send_export(action, chosen), chosen)

"""Exports: the enforcement points through which Twitter Content leaves (I.F.2).

`ids_only` and `manual_export` describe an export as an `Action`, ask the guard for a permit,
and hand the value over only under it; a refused or abandoned export counts nothing. What is
decided on is a copy of the value, made before deciding, and that copy is what is handed
over: the value cannot change between the check and the hand-over.
"""

from __future__ import annotations

import functools
import inspect
import threading
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, cast, overload

import attrs

from twpolicy._guard import Guard, Permit, get_default_guard
from twpolicy._model import Action, ActionKind, Decision, Scalar
from twpolicy._payloads._ids import CONTENT_OF, IdKind, check_kind, dehydrate
from twpolicy._payloads._outbound import (
    FIELD_OF,
    IdCount,
    count_ids,
    count_objects,
    remembered,
    snapshot,
)
from twpolicy._payloads._private import nonpublic_owners
from twpolicy._payloads._walker import adapt
from twpolicy._stores._quotas import PUBLIC, normal_name
from twpolicy.exceptions import ConfigurationError, PayloadError

__all__ = ["Export", "IdsOnlySettings", "clear_export", "export_ids", "ids_only", "manual_export"]


def _guard(guard: Guard | None) -> Guard:
    return guard if guard is not None else get_default_guard()


@typing.final
class Export:
    """What an export lets out, and the permit it leaves under.

    The quota counts are reserved when the export is cleared and become final when the data
    is handed over: when `value` is first read, when `commit` is called, or when the ``with``
    block ends without an exception. Until then `release` gives them back; after hand-over
    nothing can be given back::

        with twpolicy.manual_export(rows, recipient="ana", requested_by="ana") as export:
            if export.decision.count > 10_000:
                export.release()  # changed our mind before reading the value: not counted
            else:
                write_spreadsheet(export.value)  # handed over: counted for good

    Attributes:
        decision: the guard's decision, with the recipient's standing and quota usage.
    """

    __slots__ = ("_lock", "_permit", "_released", "_value", "decision")

    def __init__(self, value: Any, permit: Permit) -> None:
        self._value = value
        self._released = False
        # Reading and releasing from two threads at once: one of them wins, never both.
        self._lock = threading.Lock()
        self._permit = permit
        assert permit.decision is not None  # noqa: S101  # exports always log their decision
        self.decision: Decision = permit.decision

    def __repr__(self) -> str:
        return (
            f"twpolicy.Export({self.decision.operation!r}, recipient={self.decision.recipient!r}, "
            f"count={self.decision.count})"
        )

    def __copy__(self) -> typing.NoReturn:
        raise TypeError(_NO_COPY)

    def __deepcopy__(self, memo: object) -> typing.NoReturn:
        raise TypeError(_NO_COPY)

    def __reduce__(self) -> typing.NoReturn:
        raise TypeError(_NO_COPY)

    def __enter__(self) -> Export:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self.release()
        else:
            self.commit()

    @property
    def value(self) -> Any:
        """The data cleared to leave. Reading it hands it over: the counts become final.

        Raises:
            ConfigurationError: the export was released: its counts were given back, so
                its data may not leave.
        """
        with self._lock:
            if self._released:
                raise ConfigurationError(
                    f"{self.decision.operation} for {self.decision.recipient} was released "
                    "(not handed over), so its counts were given back and its value cannot be "
                    "read; clear the export again to hand it over."
                )
            self._permit.commit()
            return self._value

    def commit(self) -> None:
        """The data was handed over: the quota counts are final."""
        with self._lock:
            self._permit.commit()

    def release(self) -> bool:
        """The data did not leave: give the counts back. ``False`` once handed over.

        A released export's value can no longer be read: it was not counted.
        """
        with self._lock:
            released = self._permit.release("not handed over")
            if released:
                self._released = True
                self._value = None  # what was not counted is not kept either
            return released


# A copy would share one reservation: released through one, read through the other, the
# data would leave uncounted.
_NO_COPY = (
    "an Export holds a quota reservation and cannot be copied or pickled; read its value "
    "(the hand-over) and copy that"
)


def clear_export(action: Action, guard: Guard, value: Any) -> Export:
    """Decide on an export and hold its quota reservation until it is handed over.

    Raises:
        PolicyViolation: the export is refused (nothing is counted).
    """
    # Exports are always decided in full, so the decision is there to attach to the Export.
    permit = guard.permit(action)
    permit.open(stacklevel=4, full=True)
    return Export(value, permit)


def export_ids(
    value: Any,
    *,
    kind: IdKind = "tweets",
    recipient: str | None = PUBLIC,
    strict: bool = False,
    guard: Guard | None = None,
    operation: str = "export",
) -> Export:
    """Clear ``value`` to leave as IDs of ``kind``: reduce it (or, ``strict``, refuse it).

    Anything but IDs is reduced to the IDs of ``kind`` its objects hold; user and DM IDs
    count as Tweet IDs unless a guarded client of this process read them as users' or DMs'
    (and never as Tweets'): an object's keys are the application's word. A value that is
    already nothing but IDs leaves as it is (integer IDs below 2**53 as decimal strings),
    and every ID in it counts as a Tweet ID, whatever ``kind`` or its fields say: nothing
    shows what a bare ID is. A field naming Tweet IDs in an export of
    another kind is refused. ``recipient`` ``None`` is `PUBLIC`.

    Raises:
        RedistributionError: ``strict`` and ``value`` holds more than IDs, or it holds Tweet
            IDs but says it is of another kind.
        QuotaExceeded: the recipient's quota would be exceeded.
        PayloadError: an ID in ``value`` cannot be read safely.
    """
    check_kind(kind)
    ids = count_ids(value)
    if ids.imprecise is not None:
        raise PayloadError(
            f"the ID at JSON pointer {ids.imprecise!r} is a JSON float or an integer of 2**53 "
            "or more, whose digits may already be wrong; it was refused. Keep IDs as decimal "
            "strings (id_str, or v2's string id)."
        )
    out, payload = ids.value, ids.value
    facts: dict[str, Scalar] = {"content": CONTENT_OF[kind], "strict": strict}
    if ids.offence is not None and not strict:
        # Whose non-public content the objects are: the IDs left do not say (I.C.1.e).
        owners = nonpublic_owners(value)
        if owners:
            facts["nonpublic_owners"] = ",".join(owners)
        out = dehydrate(value, kind=kind)
        payload = {FIELD_OF[kind]: out}
        # Read off objects: their kind is known, and so is what they are about.
        ids = IdCount.derived(payload, kind, len(out), source=value)
    action = Action(
        kind=ActionKind.EXPORT,
        operation=operation,
        recipient=PUBLIC if recipient is None else recipient,
        count=ids.ids,
        facts=facts,
        payload=payload,
    )
    with remembered(payload, ids):
        return clear_export(action, _guard(guard), out)


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
    recipient: Recipient = PUBLIC,
    strict: bool = False,
    guard: Guard | None = None,
) -> Callable[[_F], _F]: ...


def ids_only(
    func: Callable[..., Any] | None = None,
    /,
    *,
    kind: IdKind = "tweets",
    recipient: Recipient = PUBLIC,
    strict: bool = False,
    guard: Guard | None = None,
) -> Any:
    """Let only IDs out of a function whose value leaves the system (I.F.2).

    The value is reduced to the IDs of ``kind`` it holds (a value of nothing but IDs is
    kept as it is), or, with ``strict``, refused with `RedistributionError` naming the
    first JSON pointer that is not an ID. Each call is checked by the guard, logged, and
    counted against ``recipient``'s quotas. Works on plain and ``async`` functions.

    IDs are counted by what the guard has evidence of: IDs returned as they are count as
    Tweet IDs, whatever ``kind`` or their field names say; IDs reduced from user or DM
    objects count as Tweet IDs too unless a guarded client of this process read them as
    users' or DMs' (read the users with a guarded ``get_users`` to export their IDs
    uncounted).

    Args:
        func: the function, when used bare (``@ids_only``).
        kind: ``"tweets"``, ``"users"`` or ``"dms"``.
        recipient: who receives the value: a name, or a callable given the function's
            arguments that returns one (``lambda request: request.user.org``). By default,
            and when the callable returns ``None``, `twpolicy.PUBLIC`: recipients nobody
            can name, counted together as one entity.
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
            export = export_ids(
                value, kind=kind, recipient=who, strict=strict, guard=guard, operation=operation
            )
            export.commit()  # returned to the caller: handed over
            return export.value

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


def _named(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def manual_export(
    objects: Any,
    *,
    recipient: str,
    requested_by: str,
    guard: Guard | None = None,
) -> Export:
    """Clear a non-automated export of hydrated public objects (a spreadsheet, a "save as").

    I.F.2.a allows a person to export up to 50,000 public Tweet and User objects a day by
    hand; the policy counts them per user of the Service, the restricted-use page per
    recipient, so both are counted: against ``requested_by`` and against ``recipient``. Every
    hydrated Tweet and User counts, wherever it is nested (a retweet with its original and
    both authors is four objects), and every ID carried, in any field or form, counts
    against the 30-day Tweet-ID cap unless a guarded client of this process read it as a
    user's (never as a Tweet's). DMs, protected users' content, objects whose author's
    protection cannot be told, and anything that is not a Tweet or User object, an ID, or
    the envelope around them (text, CSV, reshaped rows) are refused, as is a recipient of
    `twpolicy.PUBLIC`.
    ``{type, id}`` stubs and bare IDs are IDs, always shareable.

    What is decided on is a copy of ``objects``, and that copy is what `Export.value` hands
    over.

    Args:
        objects: the Tweets and users to export, as parsed JSON or tweepy models.
        recipient: who receives the file.
        requested_by: the person who asked for it (a non-automated export has one).
        guard: the guard to ask; the default guard when ``None``.

    Raises:
        RedistributionError: the export holds something that may not be exported.
        QuotaExceeded: the recipient's, or the requester's, daily quota would be exceeded.
        PayloadError: the objects contain themselves.
    """
    if not _named(requested_by):
        raise ConfigurationError("manual_export needs requested_by: the person who asked")
    normal_name(requested_by, "requested_by")  # counted against: a name that can be counted
    if not _named(recipient):
        raise ConfigurationError(
            "manual_export needs a recipient: hydrated objects go to a person, never to the public"
        )
    value = adapt(objects)
    if not isinstance(value, (Mapping, list, str, bytes, bytearray)) and isinstance(
        value, Iterable
    ):
        value = list(value)  # a generator or another iterable of objects
    value = snapshot(value)
    found = count_objects(value)
    action = Action(
        kind=ActionKind.EXPORT,
        operation="manual_export",
        recipient=recipient,
        count=found.objects,
        facts={
            "content": "objects",
            "manual": True,
            "requested_by": requested_by,
            "tweet_ids": found.tweet_ids,
        },
        payload=value,
    )
    with remembered(value, found):
        return clear_export(action, _guard(guard), value)

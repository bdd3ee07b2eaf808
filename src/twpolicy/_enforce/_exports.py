"""Exports: the enforcement points through which Twitter Content leaves (I.F.2).

`ids_only` and `manual_export` describe an export as an `Action`, ask the guard for a permit,
and hand the value over only under it; a refused or abandoned export counts nothing.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast, overload

import attrs

from twpolicy._guard import Guard, Permit, get_default_guard
from twpolicy._model import Action, ActionKind, Decision
from twpolicy._payloads._ids import (
    CONTENT_OF,
    IdKind,
    check_kind,
    dehydrate,
    ids_only_check,
    objects_of,
)
from twpolicy._payloads._walker import adapt
from twpolicy.exceptions import ConfigurationError

__all__ = ["Export", "IdsOnlySettings", "clear_export", "export_ids", "ids_only", "manual_export"]


def _guard(guard: Guard | None) -> Guard:
    return guard if guard is not None else get_default_guard()


@typing.final
class Export:
    """What an export lets out, and the permit it leaves under.

    The recipient's quota is reserved when the export is cleared and becomes final when the
    data is handed over: leaving the ``with`` block without an exception, or `commit`. Until
    then `release` gives it back; after hand-over it cannot be given back::

        with twpolicy.manual_export(rows, recipient="ana", requested_by="ana") as export:
            write_spreadsheet(export.value)  # raises: nothing is counted

    Attributes:
        value: the data cleared to leave.
        decision: the guard's decision, with the recipient's standing and quota usage.
    """

    __slots__ = ("_permit", "decision", "value")

    def __init__(self, value: Any, permit: Permit) -> None:
        self.value = value
        self._permit = permit
        assert permit.decision is not None  # noqa: S101  # exports always log their decision
        self.decision: Decision = permit.decision

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
        else:
            self.commit()

    def commit(self) -> None:
        """The data was handed over: the quota count is final."""
        self._permit.commit()

    def release(self) -> bool:
        """The data did not leave: give the quota back. ``False`` once handed over."""
        return self._permit.release("not handed over")


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
    objects, tweet_ids, _ = objects_of(value)
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
    return clear_export(action, _guard(guard), value)

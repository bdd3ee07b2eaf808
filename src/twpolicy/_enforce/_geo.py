"""Stores that refuse standalone location: `check_storable`, a decorator, a mapping (I.B.7)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from typing import Any, ParamSpec, TypeVar, overload

from twpolicy._guard import Guard, get_default_guard
from twpolicy._model import Action, ActionKind, Decision
from twpolicy._payloads._geo import Arguments

_P = ParamSpec("_P")
_R = TypeVar("_R")
_K = TypeVar("_K")
_V = TypeVar("_V")


__all__ = ["GeoSafeMapping", "check_storable", "no_standalone_geo"]


def _guard_or_default(guard: Guard | None) -> Guard:
    return guard if guard is not None else get_default_guard()


def check_storable(
    payload: Any, *, guard: Guard | None = None, operation: str = "check_storable"
) -> Decision:
    """Ask the guard whether ``payload`` may be stored; refuse standalone location data.

    A whole Tweet, user or API response with its own location is storable; a place or
    coordinates on their own, geo endpoint results, trend locations, a Tweet or user reduced
    to its ID plus its location, or an expanded place no Tweet refers to are not. JSON text
    (``str`` or ``bytes``) is read as the JSON it holds.

    Args:
        payload: what is about to be stored.
        guard: the guard that decides and logs; the default guard when ``None``.
        operation: the name the decision log gives this store.

    Returns:
        The decision (it allows, or denies in a non-enforcing mode).

    Raises:
        StandaloneGeoError: the payload holds standalone location data (rule ``geo.standalone``).
        PolicyViolation: another rule refused the store, or the payload could not be read
            (fail closed).
    """
    action = Action(kind=ActionKind.STORE, operation=operation, payload=payload)
    return _guard_or_default(guard).enforce(action)


@overload
def no_standalone_geo(function: Callable[_P, _R], /) -> Callable[_P, _R]: ...


@overload
def no_standalone_geo(
    *, guard: Guard | None = None, arguments: Sequence[str] | None = None
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def no_standalone_geo(
    function: Callable[_P, _R] | None = None,
    /,
    *,
    guard: Guard | None = None,
    arguments: Sequence[str] | None = None,
) -> Callable[_P, _R] | Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Refuse calls of a function that persists data when an argument holds standalone location.

    Works on plain and ``async`` functions, bare (``@no_standalone_geo``) or with arguments
    (``@no_standalone_geo(guard=guard, arguments=["record"])``). The check runs before the
    function: a refused call never runs.

    Args:
        function: the function to wrap (bare form).
        guard: the guard that decides; the default guard (at call time) when ``None``.
        arguments: the names of the parameters to check; all of them when ``None``.

    Raises:
        StandaloneGeoError: at call time, naming the argument and the pointer.
    """
    if arguments is not None and isinstance(arguments, str):
        arguments = [arguments]

    def decorate(function: Callable[_P, _R]) -> Callable[_P, _R]:
        signature = inspect.signature(function)
        unknown = sorted(set(arguments or ()) - set(signature.parameters))
        if unknown:
            raise TypeError(f"{function.__qualname__} has no parameter(s) {unknown}")
        operation = f"{function.__module__}.{function.__qualname__}"

        def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            bound = signature.bind(*args, **kwargs)
            checked = Arguments(
                (name, value)
                for name, value in bound.arguments.items()
                if arguments is None or name in arguments
            )
            check_storable(checked, guard=guard, operation=operation)

        if inspect.iscoroutinefunction(function):

            async def run_async(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                check(args, kwargs)
                return await function(*args, **kwargs)

            wrapper: Callable[..., Any] = run_async
        else:

            def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
                check(args, kwargs)
                return function(*args, **kwargs)

            wrapper = run
        wrapped: Callable[_P, _R] = functools.wraps(function)(wrapper)
        return wrapped

    if function is not None:
        return decorate(function)
    return decorate


class GeoSafeMapping(MutableMapping[_K, _V]):
    """A mapping that refuses to keep standalone location data; everything else passes through.

    Wraps any `MutableMapping`: a ``dict``, a `shelve` shelf, a ``cachetools`` cache. Each
    value set is checked by the guard (`check_storable`) before it reaches the store.

    Args:
        store: the mapping that keeps the data.
        guard: the guard that decides; the default guard (at each write) when ``None``.

    Raises:
        StandaloneGeoError: on a write whose value holds standalone location data.
    """

    def __init__(self, store: MutableMapping[_K, _V], *, guard: Guard | None = None) -> None:
        self._store = store
        self._guard = guard

    def __repr__(self) -> str:
        return f"twpolicy.GeoSafeMapping({self._store!r})"

    @property
    def store(self) -> MutableMapping[_K, _V]:
        """The wrapped mapping."""
        return self._store

    def __getitem__(self, key: _K) -> _V:
        return self._store[key]

    def __setitem__(self, key: _K, value: _V) -> None:
        check_storable(value, guard=self._guard, operation=f"{type(self._store).__name__} item")
        self._store[key] = value

    def __delitem__(self, key: _K) -> None:
        del self._store[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key: object) -> bool:
        return key in self._store

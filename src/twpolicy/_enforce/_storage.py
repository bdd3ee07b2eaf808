"""The one storage enforcement point: `check_storable`, a decorator, a mapping.

Each describes the write as an action of kind ``store`` and asks the guard, so every rule
that judges stores decides on it: standalone location (I.B.7), content that is gone
(I.C.3), passwords and the app's own secrets (I.C.10, I.A.1), non-public content (I.C.1.d)
and sensitive characteristics keyed to people (restricted uses). A refused write never
reaches the store; a refused call never runs.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import (
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, overload

from twpolicy._guard import Guard, get_default_guard
from twpolicy._model import Action, ActionKind, Decision
from twpolicy._payloads._geo import Arguments, MappingKey, parsed_text
from twpolicy._payloads._locations import coordinate
from twpolicy._stores._consent import validate_user_id
from twpolicy.exceptions import PayloadError

_P = ParamSpec("_P")
_R = TypeVar("_R")
_K = TypeVar("_K")
_V = TypeVar("_V")


__all__ = ["GeoSafeMapping", "check_storable", "no_standalone_geo"]


def _guard_or_default(guard: Guard | None) -> Guard:
    return guard if guard is not None else get_default_guard()


def _acting(user_id: str | int | None) -> str | None:
    return None if user_id is None else validate_user_id(user_id)


def check_storable(
    payload: Any,
    *,
    guard: Guard | None = None,
    operation: str = "check_storable",
    acting_user_id: str | int | None = None,
) -> Decision:
    """Ask the guard whether ``payload`` may be stored, under every storage rule.

    The rules that judge stores all decide (docs/storage-rules.md). For location: a whole
    Tweet, user or API response with its own location is storable; a place or coordinates
    on their own, geo endpoint results, trend locations, a Tweet or user reduced to its ID
    plus its location, or an expanded place no Tweet refers to are not. JSON text (``str``
    or ``bytes``) is read as the JSON it holds.

    Args:
        payload: what is about to be stored.
        guard: the guard that decides and logs; the default guard when ``None``.
        operation: the name the decision log gives this store.
        acting_user_id: the user of the application on whose behalf it is stored; keeping
            non-public content (DMs, protected Tweets) needs that user's recorded consent.

    Returns:
        The decision (it allows, or denies in a non-enforcing mode).

    Raises:
        StandaloneGeoError: the payload holds standalone location data (rule ``geo.standalone``).
        CredentialError: it holds a password or the app's own secret (``credentials.stored``).
        ContentUnavailable: it holds content recorded as gone (``compliance.tombstone``).
        PolicyViolation: another rule refused the store, or the payload could not be read
            (fail closed).
    """
    action = Action(
        kind=ActionKind.STORE,
        operation=operation,
        acting_user_id=_acting(acting_user_id),
        payload=payload,
    )
    chosen = _guard_or_default(guard)
    _learn(chosen, payload)
    return chosen.enforce(action)


def _learn(guard: Guard, payload: Any) -> None:
    """Teach the guard the location of what is about to be stored (its provenance memory).

    Before the decision: a Tweet's own place and coordinates, read here, are then known to be
    location wherever else the payload (or a later one) keeps them.
    """
    if isinstance(payload, MappingKey):
        items: Iterable[Any] = (payload.value,)
    elif isinstance(payload, Arguments):
        items = payload.values()
    else:
        items = (payload,)
    memory = guard.locations
    for item in items:
        if isinstance(item, (str, bytes, bytearray, memoryview)):
            item = parsed_text(item)  # noqa: PLW2901  # the JSON it holds
        if item is not None and not isinstance(item, (str, int, float)):
            memory.observe_all(item)


@overload
def no_standalone_geo(function: Callable[_P, _R], /) -> Callable[_P, _R]: ...


@overload
def no_standalone_geo(
    *,
    guard: Guard | None = None,
    arguments: Sequence[str] | None = None,
    acting_user_id: str | int | None = None,
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def no_standalone_geo(  # noqa: C901  # the decorator and its two wrappers
    function: Callable[_P, _R] | None = None,
    /,
    *,
    guard: Guard | None = None,
    arguments: Sequence[str] | None = None,
    acting_user_id: str | int | None = None,
) -> Callable[_P, _R] | Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """Refuse calls of a function that persists data when any storage rule refuses an argument.

    Every rule that judges stores decides (`check_storable`), standalone location first
    among them, whence the name.

    Works on plain and ``async`` functions, bare (``@no_standalone_geo``) or with arguments
    (``@no_standalone_geo(guard=guard, arguments=["record"])``). The check runs before the
    function: a refused call never runs.

    Args:
        function: the function to wrap (bare form).
        guard: the guard that decides; the default guard (at call time) when ``None``.
        arguments: the names of the parameters to check; all of them when ``None``.
        acting_user_id: the user on whose behalf the function stores (see `check_storable`).

    Raises:
        StandaloneGeoError: at call time, naming the argument and the pointer.
        PolicyViolation: at call time, another storage rule refused an argument.
    """
    if arguments is not None and isinstance(arguments, str):
        arguments = [arguments]
    acting = _acting(acting_user_id)

    def decorate(function: Callable[_P, _R]) -> Callable[_P, _R]:
        signature = inspect.signature(function)
        unknown = sorted(set(arguments or ()) - set(signature.parameters))
        if unknown:
            raise TypeError(f"{function.__qualname__} has no parameter(s) {unknown}")
        operation = f"{function.__module__}.{function.__qualname__}"

        def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
            bound = signature.bind(*args, **kwargs)
            for name, value in bound.arguments.items():
                if arguments is None or name in arguments:
                    bound.arguments[name] = _materialised(name, value)
            checked = Arguments(
                (name, value)
                for name, value in bound.arguments.items()
                if arguments is None or name in arguments
            )
            check_storable(checked, guard=guard, operation=operation, acting_user_id=acting)
            return bound

        if inspect.iscoroutinefunction(function):

            async def run_async(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                bound = check(args, kwargs)
                return await function(*_fresh(bound.args), **_fresh(bound.kwargs))

            wrapper: Callable[..., Any] = run_async
        else:

            def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
                bound = check(args, kwargs)
                return function(*_fresh(bound.args), **_fresh(bound.kwargs))

            wrapper = run
        wrapped: Callable[_P, _R] = functools.wraps(function)(wrapper)
        return wrapped

    if function is not None:
        return decorate(function)
    return decorate


class _Consumed(list[Any]):
    """The items of an iterator an argument was, read to be checked; passed on as an iterator."""


def _materialised(name: str, value: Any) -> Any:
    """An argument as it can be checked: a one-shot iterator is read into a list.

    The function then gets an iterator over exactly what was checked. Asynchronous iterators
    cannot be read before the call: they are refused.
    """
    if isinstance(value, AsyncIterator) or inspect.isasyncgen(value):
        raise PayloadError(
            f"argument {name!r} is an asynchronous iterator, which cannot be checked before "
            "the call: collect it into a list first"
        )
    if isinstance(value, Iterator) and not isinstance(value, (Mapping, Sequence)):
        return _Consumed(value)
    return value


def _fresh(values: Any) -> Any:
    if isinstance(values, dict):
        return {
            key: iter(value) if type(value) is _Consumed else value for key, value in values.items()
        }
    return [iter(value) if type(value) is _Consumed else value for value in values]


def _frozen(value: Any) -> Any:
    """A deep copy of a value to store, so what was checked is what is kept."""
    if value is None or type(value) in (str, int, float, bool, bytes):
        return value
    try:
        return copy.deepcopy(value)
    except Exception as exc:  # noqa: BLE001  # anything deepcopy raises means "cannot copy"
        raise PayloadError(
            f"the value cannot be copied to be stored as checked ({type(exc).__name__}: {exc})"
        ) from None


class GeoSafeMapping(MutableMapping[_K, _V]):
    """A mapping that keeps only what every storage rule allows; reads pass through.

    Wraps any `MutableMapping`: a ``dict``, a `shelve` shelf, a ``cachetools`` cache. Each
    item set (``m[k] = v``, ``update``, ``setdefault``, ``|=``) is checked by the guard
    (`check_storable`) before it reaches the store: its value, and its key, since location
    used as a key (a coordinate pair, ``"37.77,-122.41"``, a place ID) is location kept,
    and counting by it is aggregating it. What is kept is a copy of what was checked, and
    reads return copies, so a value cannot be cut down after its check. ``close()``,
    ``sync()`` and ``with`` reach the wrapped store.

    Every rule that judges stores decides on each write (docs/storage-rules.md); location
    came first, whence the name.

    Args:
        store: the mapping that keeps the data.
        guard: the guard that decides; the default guard (at each write) when ``None``.
        acting_user_id: the user on whose behalf the mapping stores (see `check_storable`).

    Raises:
        StandaloneGeoError: on a write whose value holds standalone location data.
        PolicyViolation: on a write another storage rule refuses.
    """

    def __init__(
        self,
        store: MutableMapping[_K, _V],
        *,
        guard: Guard | None = None,
        acting_user_id: str | int | None = None,
    ) -> None:
        self._store = store
        self._guard = guard
        self._acting = _acting(acting_user_id)
        # The numbers written under each key, and how many keys hold each: a point read
        # cannot be kept as two items.
        self._numbers: dict[Any, float] = {}
        self._held: dict[float, int] = {}

    def __repr__(self) -> str:
        return f"twpolicy.GeoSafeMapping({self._store!r})"

    @property
    def store(self) -> MutableMapping[_K, _V]:
        """The wrapped mapping."""
        return self._store

    def __getitem__(self, key: _K) -> _V:
        # A copy: changing what was read cannot cut down what is kept after its check.
        return _frozen(self._store[key])  # type: ignore[no-any-return]

    def __setitem__(self, key: _K, value: _V) -> None:
        if isinstance(value, Iterator) and not isinstance(value, (Mapping, Sequence)):
            raise PayloadError("an iterator cannot be stored as checked: store a list")
        kept = _frozen(value)
        check_storable(
            MappingKey(key, kept, self._held),
            guard=self._guard,
            operation=f"{type(self._store).__name__} item",
            acting_user_id=self._acting,
        )
        self._store[key] = kept
        self._forget_number(key)
        number = coordinate(kept)
        if number is not None:
            self._numbers[key] = number
            self._held[number] = self._held.get(number, 0) + 1

    def _forget_number(self, key: Any) -> None:
        number = self._numbers.pop(key, None)
        if number is not None:
            left = self._held[number] - 1
            if left:
                self._held[number] = left
            else:
                del self._held[number]

    def __ior__(self, other: Mapping[_K, _V] | Iterable[tuple[_K, _V]]) -> GeoSafeMapping[_K, _V]:
        self.update(other)
        return self

    def __enter__(self) -> GeoSafeMapping[_K, _V]:
        enter = getattr(self._store, "__enter__", None)
        if enter is not None:
            enter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        leave = getattr(self._store, "__exit__", None)
        if leave is not None:
            leave(kind, error, traceback)

    def close(self) -> None:
        """Close the wrapped store, if it can be closed (a `shelve` shelf, a ``dbm`` file)."""
        close = getattr(self._store, "close", None)
        if close is not None:
            close()

    def sync(self) -> None:
        """Write the wrapped store's cache back, if it has one (a `shelve` shelf)."""
        sync = getattr(self._store, "sync", None)
        if sync is not None:
            sync()

    def __delitem__(self, key: _K) -> None:
        del self._store[key]
        self._forget_number(key)

    def __iter__(self) -> Iterator[_K]:
        return iter(self._store)

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key: object) -> bool:
        return key in self._store

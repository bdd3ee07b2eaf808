"""Declaring inference of a sensitive characteristic, and checking its result (restricted uses).

`check_inference` and the `sensitive_inference` decorator describe the inference as an
action of kind ``infer_attribute`` naming its category; the guard (rule
``sensitive.keyed``) allows a result that names nobody and refuses one keyed to individuals.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from twpolicy._guard import Guard, get_default_guard
from twpolicy._model import Action, ActionKind, Decision

__all__ = ["check_inference", "sensitive_inference"]

_F = TypeVar("_F", bound=Callable[..., Any])


def check_inference(
    result: Any, *, category: str, guard: Guard | None = None, operation: str = "check_inference"
) -> Decision:
    """Ask the guard whether an inference of ``category`` may produce ``result``.

    Args:
        result: what the inference produced (a table, counts, a model's output).
        category: one of `twpolicy.SENSITIVE_CATEGORIES`.
        guard: the guard to ask; the default guard when ``None``.
        operation: the name the decision log gives the inference.

    Raises:
        SensitiveDataError: the result names individuals, or the category is unknown.
    """
    action = Action(
        kind=ActionKind.INFER_ATTRIBUTE,
        operation=operation,
        facts={"category": category},
        payload=result,
    )
    return (guard if guard is not None else get_default_guard()).enforce(action)


def sensitive_inference(category: str, *, guard: Guard | None = None) -> Callable[[_F], _F]:
    """Declare that a function infers ``category``; its result is returned only if aggregate.

    The function runs, and its result is checked (`check_inference`) before the caller gets
    it: a result keyed to individuals raises `twpolicy.SensitiveDataError` instead. Works on
    plain and ``async`` functions; the category is kept on the wrapper as
    ``wrapper.sensitive_category``.
    """

    def decorate(function: _F) -> _F:
        operation = f"infer {category} {function.__module__}.{function.__qualname__}"
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                result = await cast("Callable[..., Awaitable[Any]]", function)(*args, **kwargs)
                check_inference(result, category=category, guard=guard, operation=operation)
                return result

            wrapper: Any = async_wrapper
        else:

            @functools.wraps(function)
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                result = function(*args, **kwargs)
                check_inference(result, category=category, guard=guard, operation=operation)
                return result

            wrapper = sync_wrapper
        wrapper.sensitive_category = category
        return cast("_F", wrapper)

    return decorate

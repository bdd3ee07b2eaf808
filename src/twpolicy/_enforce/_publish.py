"""Republishing and promotion, through the guard (I.C.1.b, I.C.1.c).

`check_publishable` and the `publishes` decorator describe publishing as an action of kind
``publish``: where the content came from (``source``: ``"api"`` when fetched through the X
API, anything else otherwise), whether it promotes a product or service, and whose it is.
The guard (rules ``publication.consent`` and ``nonpublic.consent``) decides.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from twpolicy._guard import Guard, get_default_guard
from twpolicy._model import Action, ActionKind, Decision
from twpolicy._stores._consent import validate_user_id
from twpolicy.exceptions import ConfigurationError

__all__ = ["check_publishable", "publishes"]

_F = TypeVar("_F", bound=Callable[..., Any])


def _source(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"source must say where the content came from ('api', 'scraped', ...), got {value!r}"
        )
    return value.strip().lower()


def check_publishable(
    content: Any,
    *,
    source: str,
    promotional: bool = False,
    authors: Iterable[str | int] = (),
    guard: Guard | None = None,
    operation: str = "publish",
) -> Decision:
    """Ask the guard whether ``content`` may be republished (or used to promote something).

    Args:
        content: what is about to be published (Tweets, users, text with its authors named).
        source: ``"api"`` if it was obtained through the X API; anything else (``"scraped"``,
            ``"export"``, ``"screenshot"``) needs every author's ``content.republish`` consent.
        promotional: it promotes a product or service (an ad, merchandise): every author's
            ``content.promote`` consent is needed, whatever the source.
        authors: user IDs of authors the content does not show (plain text).
        guard: the guard to ask; the default guard when ``None``.
        operation: the name the decision log gives this publication.

    Raises:
        PublicationError: an author has not consented, or none can be told.
        NonPublicContentError: it holds protected content its owner did not agree to share.
    """
    named = sorted({validate_user_id(a) for a in authors})
    action = Action(
        kind=ActionKind.PUBLISH,
        operation=operation,
        facts={
            "source": _source(source),
            "promotional": bool(promotional),
            "authors": ",".join(named),
        },
        payload=content,
    )
    return (guard if guard is not None else get_default_guard()).enforce(action)


def publishes(
    *,
    source: str,
    promotional: bool = False,
    argument: str | None = None,
    guard: Guard | None = None,
) -> Callable[[_F], _F]:
    """Check the content a publishing function is given before it runs (`check_publishable`).

    Args:
        source: where the content came from (see `check_publishable`).
        promotional: the function uses it to promote a product or service.
        argument: the parameter holding the content; the first one when ``None``.
        guard: the guard to ask; the default guard when ``None``.
    """
    _source(source)

    def decorate(function: _F) -> _F:
        signature = inspect.signature(function)
        names = list(signature.parameters)
        name = argument if argument is not None else (names[0] if names else "")
        if name not in signature.parameters:
            raise TypeError(f"{function.__qualname__} has no parameter {name!r} to check")
        operation = f"publish {function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            check_publishable(
                bound.arguments.get(name),
                source=source,
                promotional=promotional,
                guard=guard,
                operation=operation,
            )
            return function(*args, **kwargs)

        return cast("_F", wrapper)

    return decorate

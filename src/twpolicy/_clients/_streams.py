"""What both streaming clients share: opening a stream and each payload pass the guard first.

A payload is described as a ``stream_data`` action and decided on before tweepy's ``on_data``
hands it to ``on_tweet``, ``on_response`` and the other callbacks, also when an application's
subclass overrides ``on_data``. It is decided only when a rule judges stream payloads, and
nothing keeps it once its callbacks returned: the action that carries it is dropped with its
permit, and the client forgets it on the way out. The asynchronous client decides in a worker
thread, off the event loop.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, TypeVar

from twpolicy._clients._plan import Policy, plan_stream
from twpolicy._clients._sending import Sending, off_loop
from twpolicy._model import Action, ActionKind
from twpolicy._payloads._geo import LocationMemory, learn_body
from twpolicy._payloads._seen import read_body
from twpolicy.exceptions import PolicyViolation

if TYPE_CHECKING:
    from collections.abc import Callable

    from twpolicy._payloads._catalog import Endpoint

__all__ = ["Admission", "StreamMixin", "admitting"]

_F = TypeVar("_F", bound="Callable[..., Any]")


class StreamMixin:
    """Stream state and decisions of a guarded streaming client."""

    _twpolicy: Policy
    #: The payload whose callbacks are running (so a subclass's ``on_data`` calling
    #: ``super().on_data`` is not decided twice); ``None`` between payloads.
    _twpolicy_admitted: Any = None
    _twpolicy_stream: Endpoint | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("on_data")
        if own is not None and not getattr(own, "__twpolicy_guarded__", False):
            cls.on_data = admitting(own)  # type: ignore[attr-defined]  # keeps the guard first

    #: The stream just decided on (by ``filter``/``sample``), which tweepy connects next.
    _twpolicy_opened: str | None = None

    def _twpolicy_connect(self, endpoint: str) -> None:
        """Decide on opening the stream at ``endpoint`` (``"search"``, ``"sample"``)."""
        plan = plan_stream(endpoint)
        with self._twpolicy.guard.permit(plan.action):
            pass  # the stream is opened by tweepy right after
        self._twpolicy_stream = plan.endpoint
        self._twpolicy_opened = endpoint

    def _twpolicy_streaming(self, method: str, endpoint: str) -> Sending:
        """The scope tweepy connects and reconnects the stream in, in this thread (or task).

        Decided by ``filter``/``sample`` just before, or now (tweepy's ``_connect`` called
        directly); tweepy's reconnections of the open stream are not decided again.
        """
        if self._twpolicy_opened != endpoint:
            self._twpolicy_connect(endpoint)
        self._twpolicy_opened = None
        return Sending(
            self,
            self._twpolicy,
            plan_stream(endpoint).action,
            None,
            recursive=False,
            method=method,
            url=f"https://api.twitter.com/2/tweets/{endpoint}/stream",
            decided=True,
        )

    def _twpolicy_admit(self, raw_data: Any) -> bool:
        """Whether a stream payload may reach the callbacks; the decision is logged."""
        guard = self._twpolicy.guard
        _read_location(guard.locations, raw_data)  # the location hook (I.B.7)
        read_body(raw_data)  # the ID hook (I.F.2.b.i): what each ID was read as
        if not guard.judges(ActionKind.STREAM_DATA):
            return True  # no rule judges stream payloads: nothing to decide, nothing to log
        stream = self._twpolicy_stream
        action = Action(
            kind=ActionKind.STREAM_DATA,
            operation=stream.operation if stream is not None else "GET /2/tweets/stream",
            count=1,
            payload=raw_data,
        )
        try:
            with guard.permit(action):
                pass  # the callbacks run once the payload is admitted
        except PolicyViolation:
            # A refused payload is dropped; the stream goes on (the decision is logged).
            return False
        return True


class Admission:
    """One payload on its way to the callbacks: ``with`` (or ``async with``) around them.

    Entering decides (unless an outer ``on_data`` of the same client already did, for this
    payload) and says whether the callbacks may run; leaving forgets the payload.
    """

    __slots__ = ("_client", "_outer", "_payload")

    def __init__(self, client: StreamMixin, payload: Any) -> None:
        self._client = client
        self._payload = payload
        self._outer: Any = None

    def __enter__(self) -> bool:
        client, payload = self._client, self._payload
        return self._enter(client._twpolicy_admitted is payload or client._twpolicy_admit(payload))  # noqa: SLF001  # the mixin's own

    async def __aenter__(self) -> bool:
        client, payload = self._client, self._payload
        if client._twpolicy_admitted is payload:  # noqa: SLF001  # the mixin's own
            return self._enter(True)  # noqa: FBT003  # decided by the outer on_data
        return self._enter(await off_loop(client._twpolicy_admit, payload))  # noqa: SLF001  # ditto

    def _enter(self, admitted: bool) -> bool:  # noqa: FBT001  # internal
        client = self._client
        self._outer = client._twpolicy_admitted  # noqa: SLF001  # the mixin's own
        if admitted:
            client._twpolicy_admitted = self._payload  # noqa: SLF001  # ditto
        return admitted

    def __exit__(self, *exc: object) -> None:
        self._client._twpolicy_admitted = self._outer  # noqa: SLF001  # the mixin's own
        self._payload = self._outer = None

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__()


def _read_location(memory: LocationMemory, raw_data: Any) -> None:
    """Teach the guard the location of a stream payload (only one that carries any is parsed)."""
    learn_body(memory, raw_data)


def admitting(on_data: _F) -> _F:
    """Wrap a stream's ``on_data`` (sync or async) so the guard sees each payload first."""
    if inspect.iscoroutinefunction(on_data):

        @functools.wraps(on_data)
        async def admit_async(self: Any, raw_data: Any) -> Any:
            async with Admission(self, raw_data) as admitted:
                return await on_data(self, raw_data) if admitted else None

        guarded: Any = admit_async
    else:

        @functools.wraps(on_data)
        def admit(self: Any, raw_data: Any) -> Any:
            with Admission(self, raw_data) as admitted:
                return on_data(self, raw_data) if admitted else None

        guarded = admit
    guarded.__twpolicy_guarded__ = True  # marks the wrapper
    return guarded  # type: ignore[no-any-return]  # same call signature

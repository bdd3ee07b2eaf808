"""The asynchronous drop-in clients, loaded only on first use (they need aiohttp).

`twpolicy.AsyncClient` and `twpolicy.AsyncStreamingClient` resolve here through the package's
module ``__getattr__``, so ``import twpolicy`` works without the ``async`` extra.
"""

from __future__ import annotations

import functools
from typing import Any

import tweepy
from tweepy.asynchronous import AsyncClient as _TweepyAsyncClient
from tweepy.asynchronous import AsyncStreamingClient as _TweepyAsyncStreamingClient

from twpolicy._clients._sync import (
    _CATALOG,
    _ME,
    _SENDING,
    Policy,
    StreamMixin,
    _me_id,
    read_action,
    unknown_route,
    v2_identity,
    v2_known_actor,
    v2_scopes,
    with_guard_signature,
)
from twpolicy._guard import Guard

__all__ = ["AsyncClient", "AsyncStreamingClient"]


class _AsyncGuardedV2:
    """The v2 choke point of the asynchronous clients: ``AsyncBaseClient.request``."""

    _twpolicy: Policy

    async def request(
        self,
        method: str,
        route: str,
        params: Any = None,
        json: Any = None,  # tweepy's parameter name
        user_auth: bool = False,  # noqa: FBT001, FBT002  # tweepy's signature
    ) -> Any:
        """Decide on the request, then send it exactly as tweepy would."""
        send = super().request  # type: ignore[misc]  # tweepy's AsyncBaseClient.request
        sending = _SENDING.get()
        within = sending[1] if sending is not None and sending[0] is self else None
        endpoint = _CATALOG.lookup(method, route)
        if endpoint is None:
            action = unknown_route(method, route, json)
        elif endpoint.scopes:
            scopes = v2_scopes(endpoint, json)
            actor = v2_known_actor(self, endpoint, route, user_auth=user_auth)
            if actor is None:
                actor = await self._twpolicy_look_up(user_auth)
            action = self._twpolicy.write_action(endpoint, scopes, actor, json)
        else:
            action = read_action(endpoint, params if json is None else json)
        with self._twpolicy.permit(action, within) as permit:
            token = _SENDING.set((self, permit))
            try:
                response = await send(method, route, params, json, user_auth)
            finally:
                _SENDING.reset(token)
        if endpoint is _ME:
            self._twpolicy.learn(
                v2_identity(self, user_auth=user_auth), _me_id(await response.json())
            )
        return response

    async def _twpolicy_look_up(self, user_auth: bool) -> str | None:  # noqa: FBT001  # internal
        """Ask the API, once, whom the credentials belong to: tweepy's own lookup."""
        try:
            if not user_auth and hasattr(self, "_get_oauth_2_authenticating_user_id"):
                if self.bearer_token is None:  # type: ignore[attr-defined]  # tweepy's attribute
                    return None
                found = await self._get_oauth_2_authenticating_user_id(self.bearer_token)  # type: ignore[attr-defined]  # tweepy's cached lookup
            else:
                response = await self.request("GET", "/2/users/me", {}, None, user_auth)
                found = _me_id(await response.json())
        except (tweepy.TweepyException, TypeError, ValueError, KeyError):
            return None
        self._twpolicy.learn(v2_identity(self, user_auth=user_auth), found)
        return self._twpolicy.learned(v2_identity(self, user_auth=user_auth))


class AsyncClient(_AsyncGuardedV2, _TweepyAsyncClient):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.asynchronous.AsyncClient` with every request decided on by the guard first.

    The asynchronous twin of `twpolicy.Client`: the same constructor plus keyword-only
    ``guard`` and ``acting_user_id``, the same coroutines, return values and exceptions.
    """

    @with_guard_signature(_TweepyAsyncClient.__init__)
    def __init__(
        self,
        *args: Any,
        guard: Guard | None = None,
        acting_user_id: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        self._twpolicy = Policy(guard, acting_user_id)
        super().__init__(*args, **kwargs)


def _admitting(on_data: Any) -> Any:
    """Wrap an async ``on_data`` so the guard sees each payload before the callbacks run."""

    @functools.wraps(on_data)
    async def admit(self: Any, raw_data: Any) -> Any:
        if self._twpolicy_admitted is raw_data:
            return await on_data(self, raw_data)
        if not self._twpolicy_admit(raw_data):
            return None
        outer = self._twpolicy_admitted
        self._twpolicy_admitted = raw_data
        try:
            return await on_data(self, raw_data)
        finally:
            self._twpolicy_admitted = outer

    admit.__twpolicy_guarded__ = True  # type: ignore[attr-defined]  # marks the wrapper
    return admit


class AsyncStreamingClient(StreamMixin, _AsyncGuardedV2, _TweepyAsyncStreamingClient):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.asynchronous.AsyncStreamingClient` whose rule calls and payloads pass the guard.

    As `twpolicy.StreamingClient`: opening a stream is decided on like any read, and each
    payload is decided on before the callbacks run, also when a subclass overrides
    ``on_data``; a refused payload is dropped and the stream goes on.
    """

    @with_guard_signature(_TweepyAsyncStreamingClient.__init__)
    def __init__(
        self,
        *args: Any,
        guard: Guard | None = None,
        acting_user_id: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        self._twpolicy = Policy(guard, acting_user_id)
        super().__init__(*args, **kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("on_data")
        if own is not None and not getattr(own, "__twpolicy_guarded__", False):
            cls.on_data = _admitting(own)  # keeps the guard first

    def filter(self, **params: Any) -> Any:
        """Open the filtered stream, as tweepy does, once the guard agrees."""
        if self.task is None or self.task.done():
            self._twpolicy_connect("search")
        return super().filter(**params)

    def sample(self, **params: Any) -> Any:
        """Open the sample stream, as tweepy does, once the guard agrees."""
        if self.task is None or self.task.done():
            self._twpolicy_connect("sample")
        return super().sample(**params)

    on_data = _admitting(_TweepyAsyncStreamingClient.on_data)

"""The asynchronous drop-in clients, loaded only on first use (they need aiohttp).

`twpolicy.AsyncClient` and `twpolicy.AsyncStreamingClient` resolve here through the package's
module ``__getattr__``, so ``import twpolicy`` works without the ``async`` extra. They plan
each request exactly as the synchronous clients do (`twpolicy._clients._plan`); what differs
is only the waiting: decisions, consent claims and their commits run in a worker thread, so
no store is read or written on the event loop (unless every store is in memory,
`twpolicy.Guard.in_memory`: then nothing can block, and they run on the loop).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tweepy
from requests.structures import CaseInsensitiveDict
from tweepy.asynchronous import AsyncClient as _TweepyAsyncClient
from tweepy.asynchronous import AsyncStreamingClient as _TweepyAsyncStreamingClient
from yarl import URL

from twpolicy._clients._contact import Contact
from twpolicy._clients._plan import (
    LOOKUP_ERRORS,
    Ask,
    Guarded,
    Plan,
    me_id,
    plan_v2,
    planning_v2,
    settled,
    v2_identity,
)
from twpolicy._clients._sending import Sending, off_loop
from twpolicy._clients._streams import StreamMixin, admitting
from twpolicy._clients._wire import (
    GuardedAioSession,
    SessionProperty,
    planned_scope,
    read_sent_v2,
)
from twpolicy._payloads._geo import read_hook_async
from twpolicy._payloads._seen import read_response

__all__ = ["AsyncClient", "AsyncStreamingClient"]

_V2_HOST = "https://api.twitter.com"  # tweepy's, for every v2 request


async def _observe(sending: Sending, response: Any) -> None:
    """Keep the windows an answer says are spent (I.B.5), off the loop when there are any."""
    status, headers = getattr(response, "status", None), getattr(response, "headers", None)
    if isinstance(status, int) and headers is not None and sending.spends(status, headers):
        authorization = getattr(getattr(response, "request_info", None), "headers", {})
        await off_loop(sending.observe, status, headers, authorization.get("Authorization"))


def _view(self: Any) -> GuardedAioSession:
    view: GuardedAioSession | None = self.__dict__.get("_twpolicy_view")
    if view is None or view._owner is not self:  # noqa: SLF001  # a copied client: its own view
        view = GuardedAioSession(self.__dict__.get("_twpolicy_session"), self)
        self.__dict__["_twpolicy_view"] = view
    return view


def _assign(self: Any, value: Any) -> None:
    if isinstance(value, GuardedAioSession):
        value = value._session  # noqa: SLF001  # another client's view: its session
    self.__dict__["_twpolicy_session"] = value
    self.__dict__["_twpolicy_view"] = GuardedAioSession(value, self)


class _AsyncGuardedV2(Guarded):
    """The v2 choke point of the asynchronous clients: ``AsyncBaseClient.request``."""

    #: What tweepy and the application reach: a view of the aiohttp session (or of none, as
    #: tweepy's default) that lets through only what the client decided on.
    session = SessionProperty(_view, _assign, doc="The HTTP session every request passes.")

    async def request(
        self,
        method: str,
        route: str,
        params: Any = None,
        json: Any = None,  # tweepy's parameter name
        user_auth: bool = False,  # noqa: FBT001, FBT002  # tweepy's signature
    ) -> Any:
        """Decide on the request (off the event loop), then send it exactly as tweepy would."""
        policy = self._twpolicy
        plan = await self._twpolicy_plan(method, route, params, json, user_auth)
        async with plan.sending(self, policy, method, _V2_HOST + route) as sending:
            try:
                sent = await super().request(method, route, params, json, user_auth)  # type: ignore[misc]  # tweepy's
            except tweepy.HTTPException as failed:
                await _observe(sending, failed.response)
                raise
            await _observe(sending, sent)
        read_hook_async(policy.guard.locations, sent)  # the location hook (I.B.7): the body read
        read_response(sent)  # the ID hook (I.F.2.b.i): what each ID was read as
        if plan.learns:
            document = await sent.json()
            policy.learn(v2_identity(self, user_auth=user_auth), me_id(document))
        return sent

    async def _twpolicy_plan(
        self,
        method: str,
        route: str,
        params: Any,
        json: Any,
        user_auth: bool,  # noqa: FBT001  # tweepy's order
    ) -> Plan:
        """Plan a v2 request, awaiting the lookups the plan asks for (through the guard)."""
        policy = self._twpolicy
        plan = plan_v2(policy, self, method, route, json, user_auth=user_auth, params=params)
        if settled(plan):
            return plan
        return await self._twpolicy_planned(  # a lookup first: whom the token is, or whom to
            planning_v2(
                policy, self, method, route, json, user_auth=user_auth, params=params, first=plan
            ),
            user_auth,
        )

    async def _twpolicy_scope_async(
        self, method: str, url: Any, kwargs: Mapping[str, Any], defaults: Mapping[str, Any]
    ) -> Sending | None:
        """Plan a request the session was asked to send unplanned: as `request` would."""
        policy = self._twpolicy
        target = url if isinstance(url, URL) else URL(str(url))
        if kwargs.get("params"):
            target = target.extend_query(kwargs["params"])
        headers = CaseInsensitiveDict({**defaults, **(kwargs.get("headers") or {})})
        if kwargs.get("auth") is not None:
            headers["Authorization"] = "Basic"  # aiohttp's own auth: not the client's
        data = kwargs.get("data")
        form = data if isinstance(data, Mapping) else None
        sent = read_sent_v2(
            policy,
            self,
            method,
            str(target),
            headers=headers,
            body=None if form is not None else data,
            form=form,
            document=kwargs.get("json"),
        )
        if sent is None:
            return None
        plan = await self._twpolicy_plan(
            sent.method, sent.path, sent.params or None, sent.body, sent.user_auth
        )
        return planned_scope(self, policy, plan, sent.method, str(target))

    async def _twpolicy_planned(self, steps: Ask, user_auth: bool) -> Plan:  # noqa: FBT001  # internal
        """Drive `planning` with awaited lookups: whom the token is, whom a bot contacts."""
        answer: object = None
        try:
            while True:
                wanted = steps.send(answer)
                if wanted is None:
                    answer = await self._twpolicy_identify(user_auth)
                else:
                    await self._twpolicy_resolve(wanted, user_auth)
                    answer = None
        except StopIteration as done:
            plan: Plan = done.value
            return plan

    async def _twpolicy_identify(self, user_auth: bool) -> object:  # noqa: FBT001  # internal
        """Ask the API, once, whom the credentials belong to: tweepy's own cached lookup."""
        try:
            if not user_auth and hasattr(self, "_get_oauth_2_authenticating_user_id"):
                return await self._get_oauth_2_authenticating_user_id(self.bearer_token)  # type: ignore[attr-defined]  # tweepy's
            response = await self.request("GET", "/2/users/me", {}, None, user_auth)
            return me_id(await response.json())
        except LOOKUP_ERRORS:
            return None  # no lookup, no known user: the consent rule refuses (fail closed)

    async def _twpolicy_resolve(self, wanted: Contact, user_auth: bool) -> None:  # noqa: FBT001  # internal
        """Look up, once each and through the guard, whom an automated request contacts."""
        contacts = self._twpolicy.contacts
        for tweet_id in wanted.tweets:
            try:
                sent = await self.request(
                    "GET", f"/2/tweets/{tweet_id}", {"tweet.fields": "author_id"}, None, user_auth
                )
                answer = await sent.json()
            except LOOKUP_ERRORS:
                continue
            data = answer.get("data") if isinstance(answer, Mapping) else None
            if isinstance(data, Mapping):
                contacts.learn_author(tweet_id, data.get("author_id"))
        if wanted.handles:
            try:
                sent = await self.request(
                    "GET", "/2/users/by", {"usernames": ",".join(wanted.handles)}, None, user_auth
                )
                answer = await sent.json()
            except LOOKUP_ERRORS:
                return
            users = answer.get("data") if isinstance(answer, Mapping) else None
            for user in users if isinstance(users, list) else ():
                if isinstance(user, Mapping):
                    contacts.learn_handle(user.get("username"), user.get("id"))


class AsyncClient(_AsyncGuardedV2, _TweepyAsyncClient):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.asynchronous.AsyncClient` with every request decided on by the guard first.

    The asynchronous twin of `twpolicy.Client`: the same constructor plus keyword-only
    ``guard`` and ``acting_user_id``, the same coroutines, return values and exceptions.
    """


class AsyncStreamingClient(StreamMixin, _AsyncGuardedV2, _TweepyAsyncStreamingClient):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.asynchronous.AsyncStreamingClient` whose rule calls and payloads pass the guard.

    As `twpolicy.StreamingClient`: opening a stream is decided on like any read (in the
    stream's task: a refusal is raised by awaiting it), and each payload is decided on before
    the callbacks run, also when a subclass overrides ``on_data``; a refused payload is
    dropped and the stream goes on.
    """

    async def _connect(self, method: str, endpoint: str, **kwargs: Any) -> None:
        await off_loop(self._twpolicy_connect, endpoint)
        async with self._twpolicy_streaming(method, endpoint):  # tweepy reconnects in it
            await super()._connect(method, endpoint, **kwargs)

    on_data = admitting(_TweepyAsyncStreamingClient.on_data)

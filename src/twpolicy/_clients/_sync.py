"""Drop-in tweepy clients: one changed import puts every request through the guard.

Each class subclasses its tweepy counterpart and overrides only the narrowest point every
request passes: ``BaseClient.request`` for v2, ``API.request`` for v1.1 (which still sees the
parameters before they become strings), and ``on_data`` for stream payloads. There the request
is planned (`twpolicy._clients._plan`, shared with the asynchronous clients) and decided on by
the guard before any byte leaves; everything else is tweepy's own code, so return types,
exceptions, pagination and the requests on the wire stay exactly tweepy's.

tweepy retries inside those points: v2 calls ``request`` again after a rate-limit wait, and
v1.1 loops inside ``API.request`` (``retry_count``, ``wait_on_rate_limit``). The first lands
in the same override and is decided again; for the second, `API` hands tweepy a view of its
session during the call that decides every try after the first before it is sent.

The asynchronous classes live in `twpolicy._clients._async`, imported only on first use because
``tweepy.asynchronous`` needs the ``async`` extra (aiohttp).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tweepy
from tweepy.parsers import JSONParser

from twpolicy._clients._contact import Contact
from twpolicy._clients._plan import (
    LOOKUP_ERRORS,
    Guarded,
    drive,
    me_id,
    plan_v1,
    plan_v2,
    planning,
    planning_v2,
    settled,
    v1_identity,
    v2_identity,
)
from twpolicy._clients._sending import Sending, sending_now, watch_rate_limits
from twpolicy._clients._streams import StreamMixin, admitting
from twpolicy._payloads._geo import read_hook, read_result
from twpolicy._payloads._seen import read_parsed, read_response

__all__ = ["API", "Client", "StreamingClient"]


class _GuardedV2(Guarded):
    """The v2 choke point, shared by `Client` and `StreamingClient`."""

    def _twpolicy_started(self) -> None:
        watch_rate_limits(self.session)  # type: ignore[attr-defined]  # tweepy's; spent windows X reports are kept (I.B.5)

    def request(
        self,
        method: str,
        route: str,
        params: Any = None,
        json: Any = None,  # tweepy's parameter name
        user_auth: bool = False,  # noqa: FBT001, FBT002  # tweepy's signature
    ) -> Any:
        """Decide on the request, then send it exactly as tweepy would."""
        policy = self._twpolicy
        plan = plan_v2(policy, self, method, route, json, user_auth=user_auth, params=params)
        if not settled(plan):  # a lookup first: whom the token is, or whom a bot contacts
            plan = drive(
                planning_v2(
                    policy,
                    self,
                    method,
                    route,
                    json,
                    user_auth=user_auth,
                    params=params,
                    first=plan,
                ),
                lambda: self._twpolicy_identify(user_auth),
                lambda wanted: self._twpolicy_resolve(wanted, user_auth),
            )
        with plan.sending(self, policy):
            response = super().request(method, route, params, json, user_auth)  # type: ignore[misc]  # tweepy's
        read_hook(policy.guard.locations, response)  # the location hook (I.B.7): the body read
        read_response(response)  # the ID hook (I.F.2.b.i): what each ID was read as
        if plan.learns:
            policy.learn(v2_identity(self, user_auth=user_auth), me_id(response.json()))
        return response

    def _twpolicy_identify(self, user_auth: bool) -> object:  # noqa: FBT001  # internal
        """Ask the API, once, whom the credentials belong to: tweepy's own lookup if it has one."""
        try:
            if user_auth or not hasattr(self, "_get_oauth_2_authenticating_user_id"):
                return me_id(self.request("GET", "/2/users/me", {}, None, user_auth).json())
            return self._get_oauth_2_authenticating_user_id(self.bearer_token)  # type: ignore[attr-defined]  # tweepy's cached lookup
        except LOOKUP_ERRORS:
            return None  # no lookup, no known user: the consent rule refuses (fail closed)

    def _twpolicy_resolve(self, wanted: Contact, user_auth: bool) -> None:  # noqa: FBT001  # internal
        """Look up, once each and through the guard, whom an automated request contacts.

        What cannot be found stays unresolved, and ``automation.opt_in`` refuses the request.
        """
        contacts = self._twpolicy.contacts
        for tweet_id in wanted.tweets:
            try:
                answer = self.request(
                    "GET", f"/2/tweets/{tweet_id}", {"tweet.fields": "author_id"}, None, user_auth
                ).json()
            except LOOKUP_ERRORS:
                continue
            data = answer.get("data") if isinstance(answer, Mapping) else None
            if isinstance(data, Mapping):
                contacts.learn_author(tweet_id, data.get("author_id"))
        if wanted.handles:
            try:
                answer = self.request(
                    "GET", "/2/users/by", {"usernames": ",".join(wanted.handles)}, None, user_auth
                ).json()
            except LOOKUP_ERRORS:
                return
            users = answer.get("data") if isinstance(answer, Mapping) else None
            for user in users if isinstance(users, list) else ():
                if isinstance(user, Mapping):
                    contacts.learn_handle(user.get("username"), user.get("id"))


class Client(_GuardedV2, tweepy.Client):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.Client` with every request decided on by the guard first.

    A drop-in replacement: the same constructor plus keyword-only ``guard`` (the default
    guard, looked up at each call, when ``None``) and ``acting_user_id``; the same methods,
    return values and exceptions. Writes on a user's behalf raise `twpolicy.ConsentRequired`
    before anything is sent unless that user consented to every scope they need and is the
    one whose token the client holds; requests the endpoint catalog does not know raise
    `twpolicy.UnknownRoute`.
    """


class StreamingClient(StreamMixin, _GuardedV2, tweepy.StreamingClient):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.StreamingClient` whose rule calls and stream payloads pass the guard.

    Opening a stream is decided on like any read; each payload is described as a
    ``stream_data`` action and decided on before ``on_tweet``, ``on_response`` and the other
    callbacks run, also when a subclass overrides ``on_data``. A refused payload is dropped
    and the stream goes on. Rule management (``add_rules``...) is an application-level call.
    """

    def filter(self, **params: Any) -> Any:
        """Open the filtered stream, as `tweepy.StreamingClient.filter`, once the guard agrees."""
        if not self.running:
            self._twpolicy_connect("search")
        return super().filter(**params)

    def sample(self, **params: Any) -> Any:
        """Open the sample stream, as `tweepy.StreamingClient.sample`, once the guard agrees."""
        if not self.running:
            self._twpolicy_connect("sample")
        return super().sample(**params)

    on_data = admitting(tweepy.StreamingClient.on_data)


class _Tries:
    """The session `API.request` sends through while a call is on the wire.

    tweepy's retry loop sends each try with ``session.request``; this view has the call's
    `Sending` decide every try after the first before it goes, and passes everything else to
    the session.
    """

    __slots__ = ("_sending", "_session")

    def __init__(self, session: Any, sending: Sending) -> None:
        self._session = session
        self._sending = sending

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """Decide on the try (unless it is the first), then send it."""
        self._sending.retry()
        return self._session.request(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class API(Guarded, tweepy.API):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.API` (v1.1) with every request, and every retry, decided on by the guard first.

    A drop-in replacement: the same constructor plus keyword-only ``guard`` and
    ``acting_user_id``. The check sits in ``API.request``, which sees the parameters before
    they become strings, so a stray ``lat=``/``long=``/``place_id=`` on any call needs the
    ``geo.write`` scope as well. Responses of geo endpoints never enter tweepy's cache.
    """

    @property
    def session(self) -> Any:
        """The session tweepy sends through; during a call, a view that decides each retry."""
        session = self._twpolicy_session
        sending = sending_now()
        if sending is not None and sending.client is self:
            return _Tries(session, sending)
        return session

    @session.setter
    def session(self, value: Any) -> None:
        self._twpolicy_session = value
        watch_rate_limits(value)  # spent windows X reports are kept (I.B.5)

    def request(self, method: str, endpoint: str, **kwargs: Any) -> Any:
        """Decide on the request, then send it exactly as tweepy would."""
        policy = self._twpolicy
        plan = plan_v1(policy, self, method, endpoint, kwargs)
        if not settled(plan):  # a lookup first: whom the token is, or whom a bot contacts
            plan = drive(
                planning(
                    lambda found, resolved: plan_v1(
                        policy, self, method, endpoint, kwargs, found=found, resolved=resolved
                    ),
                    plan,
                ),
                self._twpolicy_identify,
                self._twpolicy_resolve,
            )
        if plan.uncached:
            kwargs["use_cache"] = False
        with plan.sending(self, policy, recursive=False) as sending:
            try:
                result = super().request(method, endpoint, **kwargs)
            except tweepy.TweepyException:
                sending.raise_refusal()  # a refused retry, which tweepy wrapped
                raise
        if plan.learns and not self.cached_result:
            self._twpolicy_learn(self.last_response)
        read_result(policy.guard.locations, result, self.last_response)  # location hook (I.B.7)
        read_parsed(result, self.last_response)  # the ID hook (I.F.2.b.i)
        return result

    def _twpolicy_learn(self, response: Any) -> None:
        try:
            document = response.json()
        except ValueError:
            return
        if isinstance(document, Mapping):
            self._twpolicy.learn(v1_identity(self), document.get("id_str"))

    def _twpolicy_identify(self) -> object:
        """Ask the API, once, whom the credentials belong to (``verify_credentials``)."""
        try:
            document = self.request(
                "GET", "account/verify_credentials", parser=JSONParser(), use_cache=False
            )
        except tweepy.TweepyException:
            return None
        return document.get("id_str") if isinstance(document, Mapping) else None

    def _twpolicy_resolve(self, wanted: Contact) -> None:
        """Look up, once each and through the guard, whom an automated request contacts."""
        contacts = self._twpolicy.contacts
        for tweet_id in wanted.tweets:
            try:
                status = self.request(
                    "GET", "statuses/show", params={"id": tweet_id}, parser=JSONParser()
                )
            except LOOKUP_ERRORS:
                continue
            if isinstance(status, Mapping) and isinstance(status.get("user"), Mapping):
                contacts.learn_author(tweet_id, status["user"].get("id_str"))
        if wanted.handles:
            try:
                users = self.request(
                    "GET",
                    "users/lookup",
                    params={"screen_name": ",".join(wanted.handles)},
                    parser=JSONParser(),
                )
            except LOOKUP_ERRORS:
                return
            for user in users if isinstance(users, list) else ():
                if isinstance(user, Mapping):
                    contacts.learn_handle(user.get("screen_name"), user.get("id_str"))

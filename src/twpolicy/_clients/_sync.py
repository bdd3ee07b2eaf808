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
    Plan,
    drive,
    me_id,
    plan_v1,
    plan_v2,
    planning,
    planning_v2,
    settled,
    unknown_route,
    v1_identity,
    v2_identity,
)
from twpolicy._clients._sending import Sending, watch_rate_limits
from twpolicy._clients._streams import StreamMixin, admitting
from twpolicy._clients._wire import (
    SessionProperty,
    bind_session,
    planned_scope,
    read_sent,
    read_sent_v2,
    refuse,
)
from twpolicy._payloads._geo import read_hook, read_result
from twpolicy._payloads._seen import read_parsed, read_response

__all__ = ["API", "Client", "StreamingClient"]

_V2_HOST = "https://api.twitter.com"  # tweepy's, for every v2 request
_NOT_V1 = "a v2 request through a v1.1 client's session"


def guarded_session() -> SessionProperty:
    """The ``session`` of a synchronous guarded client: guarded as assigned, and as read.

    Whatever ``requests.Session`` is assigned (tweepy's own, or the application's) gains the
    check (`twpolicy._clients._wire`) and reports spent rate-limit windows (I.B.5). Reading
    it rebinds a session copied with the client (``copy.copy``, ``pickle``) to the client
    it is read from.
    """

    def get(self: Any) -> Any:
        session = self.__dict__.get("_twpolicy_session")
        if session is None or getattr(session, "_twpolicy_owner", None) is self:  # bound: guarded
            return session
        return bind_session(session, self)

    def put(self: Any, value: Any) -> None:
        self.__dict__["_twpolicy_session"] = bind_session(value, self)
        watch_rate_limits(value)  # spent windows X reports are kept (I.B.5)

    return SessionProperty(get, put, doc="The HTTP session every request of this client passes.")


class _GuardedV2(Guarded):
    """The v2 choke point, shared by `Client` and `StreamingClient`."""

    session = guarded_session()

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
        plan = self._twpolicy_plan(method, route, params, json, user_auth)
        with plan.sending(self, policy, method, _V2_HOST + route):
            response = super().request(method, route, params, json, user_auth)  # type: ignore[misc]  # tweepy's
        read_hook(policy.guard.locations, response)  # the location hook (I.B.7): the body read
        read_response(response)  # the ID hook (I.F.2.b.i): what each ID was read as
        if plan.learns:
            policy.learn(v2_identity(self, user_auth=user_auth), me_id(response.json()))
        return response

    def _twpolicy_plan(
        self,
        method: str,
        route: str,
        params: Any,
        json: Any,
        user_auth: bool,  # noqa: FBT001  # tweepy's order
    ) -> Plan:
        """Plan a v2 request, making the lookups the plan asks for (through the guard)."""
        policy = self._twpolicy
        plan = plan_v2(policy, self, method, route, json, user_auth=user_auth, params=params)
        if settled(plan):
            return plan
        return drive(  # a lookup first: whom the token is, or whom a bot contacts
            planning_v2(
                policy, self, method, route, json, user_auth=user_auth, params=params, first=plan
            ),
            lambda: self._twpolicy_identify(user_auth),
            lambda wanted: self._twpolicy_resolve(wanted, user_auth),
        )

    def _twpolicy_scope(self, request: Any) -> Sending | None:
        """Plan a request the session was asked to send unplanned: as `request` would."""
        policy, url = self._twpolicy, str(request.url)
        sent = read_sent_v2(
            policy, self, str(request.method), url, headers=request.headers, body=request.body
        )
        if sent is None:
            return None
        plan = self._twpolicy_plan(
            sent.method, sent.path, sent.params or None, sent.body, sent.user_auth
        )
        return planned_scope(self, policy, plan, sent.method, url)

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

    def _connect(self, method: str, endpoint: str, **kwargs: Any) -> None:
        """Hold the stream's decision while tweepy connects, and reconnects, in this thread."""
        with self._twpolicy_streaming(method, endpoint):
            super()._connect(method, endpoint, **kwargs)

    on_data = admitting(tweepy.StreamingClient.on_data)


class API(Guarded, tweepy.API):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.API` (v1.1) with every request, and every retry, decided on by the guard first.

    A drop-in replacement: the same constructor plus keyword-only ``guard`` and
    ``acting_user_id``. The check sits in ``API.request``, which sees the parameters before
    they become strings, so a stray ``lat=``/``long=``/``place_id=`` on any call needs the
    ``geo.write`` scope as well. Responses of geo endpoints never enter tweepy's cache.
    """

    session = guarded_session()

    def request(self, method: str, endpoint: str, **kwargs: Any) -> Any:
        """Decide on the request, then send it exactly as tweepy would."""
        policy = self._twpolicy
        plan = self._twpolicy_plan(method, endpoint, kwargs)
        if plan.uncached:
            kwargs["use_cache"] = False
        host = self.upload_host if kwargs.get("upload_api") else self.host
        url = f"https://{host}/1.1/{endpoint}.json"
        with plan.sending(self, policy, method, url, recursive=False) as sending:
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

    def _twpolicy_plan(self, method: str, endpoint: str, kwargs: dict[str, Any]) -> Plan:
        """Plan a v1.1 request, making the lookups the plan asks for (through the guard)."""
        policy = self._twpolicy
        plan = plan_v1(policy, self, method, endpoint, kwargs)
        if settled(plan):
            return plan
        return drive(  # a lookup first: whom the token is, or whom a bot contacts
            planning(
                lambda found, resolved: plan_v1(
                    policy, self, method, endpoint, kwargs, found=found, resolved=resolved
                ),
                plan,
            ),
            self._twpolicy_identify,
            self._twpolicy_resolve,
        )

    def _twpolicy_scope(self, request: Any) -> Sending | None:
        """Plan a request the session was asked to send unplanned: as `request` would."""
        policy, url, auth = self._twpolicy, str(request.url), self.auth
        credentials = (
            getattr(auth, "bearer_token", None) or getattr(auth, "_bearer_token", None),
            getattr(auth, "access_token", None),
            getattr(auth, "consumer_key", None),
        )
        sent = read_sent(
            policy,
            credentials,
            str(request.method),
            url,
            headers=request.headers,
            body=request.body,
        )
        if sent is None:
            return None
        path = sent.path
        if path.startswith("/2/"):
            raise refuse(policy, sent.method, url, "other_api_version", _NOT_V1)
        if path.startswith("/1.1/") and path.endswith(".json"):
            kwargs: dict[str, Any] = {"params": sent.params}
            if sent.body is not None:
                kwargs["json_payload"] = sent.body
            plan = self._twpolicy_plan(sent.method, path[5:-5], kwargs)
        else:
            plan = unknown_route(sent.method, path, sent.params)
        return planned_scope(self, policy, plan, sent.method, url)

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

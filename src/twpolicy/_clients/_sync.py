"""Drop-in tweepy clients: one changed import puts every request through the guard.

Each class subclasses its tweepy counterpart and overrides only the narrowest point every
request passes: ``BaseClient.request`` for v2, ``API.request`` for v1.1 (which still sees the
parameters before they become strings), and ``on_data`` for stream payloads. There the request
is looked up in the endpoint catalog, described as an `Action` and decided on by the guard
before any byte leaves; everything else is tweepy's own code, so return types, exceptions,
pagination and the requests on the wire stay exactly tweepy's.

The asynchronous classes live in `twpolicy._clients._async`, imported only on first use because
``tweepy.asynchronous`` needs the ``async`` extra (aiohttp).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import tweepy
from tweepy.parsers import JSONParser

from twpolicy._guard import Guard, Permit, get_default_guard
from twpolicy._model import Action, ActionKind
from twpolicy._payloads._catalog import (
    GEO_PARAMETERS,
    Endpoint,
    EndpointCategory,
    canonical_json,
    endpoint_catalog,
)
from twpolicy._stores._consent import validate_user_id
from twpolicy.exceptions import PolicyViolation
from twpolicy.rules._purposes import QUERY_OPERATIONS

__all__ = ["API", "Client", "StreamingClient"]

_CATALOG = endpoint_catalog()
_ME = _CATALOG.lookup("GET", "/2/users/me")
_VERIFY = _CATALOG.lookup("GET", "/1.1/account/verify_credentials.json")
_GEO_SCOPE = frozenset({"geo.write"})
_IDENTITY_SLOTS = 16

#: The client whose request is on the wire in this context, and its permit: tweepy retries a
#: rate-limited v2 request by calling ``request`` again from inside it; the retry is decided
#: afresh, within the first try's permit (which holds its single-use consents).
_SENDING: ContextVar[tuple[object, Permit] | None] = ContextVar("twpolicy_sending", default=None)

_F = TypeVar("_F", bound=Callable[..., Any])


def _user_id(text: object) -> str | None:
    """``text`` if it is a user ID (a decimal string without leading zero), else ``None``."""
    if isinstance(text, str) and text.isascii() and text.isdigit() and text[0] != "0":
        return text
    return None


def _token_owner(access_token: object) -> str | None:
    """The user an OAuth 1.0a access token belongs to: its ``"<user_id>-..."`` prefix."""
    if not isinstance(access_token, str):
        return None
    return _user_id(access_token.partition("-")[0])


def _digest(content: Any) -> str | None:
    try:
        return hashlib.sha256(canonical_json(content)).hexdigest()
    except (TypeError, ValueError):
        # Not JSON-serialisable (bytes, files): no content-bound consent can match it.
        return None


def with_guard_signature(base: Callable[..., Any]) -> Callable[[_F], _F]:
    """Give a constructor ``base``'s signature plus keyword-only ``guard`` and ``acting_user_id``.

    The constructors take ``*args, **kwargs`` and pass them to tweepy untouched, so tweepy's
    defaults stay tweepy's; the advertised signature is tweepy's own, extended.
    """
    signature = inspect.signature(base)
    extra = [
        inspect.Parameter("guard", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("acting_user_id", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]
    parameters = list(signature.parameters.values())
    tail = [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
    head = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extended = signature.replace(parameters=[*head, *extra, *tail])

    def decorate(init: _F) -> _F:
        init.__signature__ = extended  # type: ignore[attr-defined]  # read by inspect
        return init

    return decorate


class Policy:
    """The per-client state of a guarded client: its guard, and whom it acts for.

    Args:
        guard: the guard to ask; the default guard (looked up at each call, so that
            `twpolicy.set_default_guard` after construction is honoured) when ``None``.
        acting_user_id: the user on whose behalf the client acts, if the application knows
            it; otherwise it is read from the request or the access token, or looked up once.
    """

    __slots__ = ("_guard", "_identities", "acting_user_id")

    def __init__(self, guard: Guard | None, acting_user_id: str | int | None) -> None:
        given: object = guard
        if given is not None and not isinstance(given, Guard):
            msg = f"guard must be a twpolicy.Guard, got {type(given).__name__}"
            raise TypeError(msg)
        self._guard = guard
        self.acting_user_id = None if acting_user_id is None else validate_user_id(acting_user_id)
        self._identities: dict[tuple[str, object, object], str] = {}

    @property
    def guard(self) -> Guard:
        """The guard deciding on this client's requests."""
        return self._guard if self._guard is not None else get_default_guard()

    def learned(self, key: tuple[str, object, object]) -> str | None:
        """The user ID an earlier identity lookup found for ``key``."""
        return self._identities.get(key)

    def learn(self, key: tuple[str, object, object], user_id: object) -> None:
        """Remember whom the credentials ``key`` belong to."""
        found = _user_id(str(user_id)) if isinstance(user_id, (str, int)) else None
        if found is None:
            return
        if len(self._identities) >= _IDENTITY_SLOTS:
            self._identities.clear()
        self._identities[key] = found

    def permit(self, action: Action, within: Permit | None = None) -> Permit:
        """The guard's permit for ``action``: decide, hold, then commit or give back."""
        return self.guard.permit(action, within=within)

    def write_action(
        self,
        endpoint: Endpoint,
        scopes: frozenset[str],
        actor: str | None,
        content: Any,
    ) -> Action:
        """The action for a request that needs consent."""
        return Action(
            kind=ActionKind.API_CALL,
            operation=endpoint.operation,
            category=endpoint.category.value,
            acting_user_id=actor,
            scopes=scopes,
            content_sha256=None if content is None else _digest(content),
            payload=content,
        )


def read_action(endpoint: Endpoint, query: Any) -> Action:
    """The action for a request needing no consent; one carrying a query holds it by reference.

    Search and count queries and stream rules are read by the purpose rules
    (``purpose.query_screen``, ``purpose.platform_counts``); other reads share one action.
    """
    if endpoint.operation in QUERY_OPERATIONS and query is not None:
        return Action(
            kind=ActionKind.API_CALL,
            operation=endpoint.operation,
            category=endpoint.category.value,
            payload=query,
        )
    return endpoint.read_action


def unknown_route(method: str, route: str, payload: Any) -> Action:
    """The action for a request the catalog does not know: refused by ``endpoint.known``."""
    return Action(
        kind=ActionKind.API_CALL,
        operation=f"{method.upper()} {route.partition('?')[0]}",
        payload=payload,
    )


def v2_scopes(endpoint: Endpoint, body: Any) -> frozenset[str]:
    """The scopes a v2 request needs: the endpoint's, and ``geo.write`` for a geotag."""
    if (type(body) is dict or isinstance(body, Mapping)) and body.get("geo") is not None:
        return endpoint.scopes | _GEO_SCOPE
    return endpoint.scopes


def route_actor(endpoint: Endpoint, route: str) -> str | None:
    """The user ID a v2 route names as the authenticated user (``/2/users/:id/likes``)."""
    if endpoint.actor is None:
        return None
    segments = route.partition("?")[0].split("/")
    return _user_id(segments[endpoint.actor]) if len(segments) > endpoint.actor else None


def v2_known_actor(client: Any, endpoint: Endpoint, route: str, *, user_auth: bool) -> str | None:
    """The acting user of a v2 request, when it is known without asking the API."""
    policy: Policy = client._twpolicy  # noqa: SLF001  # the mixin's own state
    if policy.acting_user_id is not None:
        return policy.acting_user_id
    found = route_actor(endpoint, route)
    if found is not None:
        return found
    if user_auth:
        found = _token_owner(client.access_token)
        if found is not None:
            return found
    return policy.learned(v2_identity(client, user_auth=user_auth))


def v2_identity(client: Any, *, user_auth: bool) -> tuple[str, object, object]:
    """The key under which a v2 client's current credentials' owner is remembered."""
    if user_auth:
        return ("oauth1", client.consumer_key, client.access_token)
    return ("oauth2", None, client.bearer_token)


class _GuardedV2:
    """The v2 choke point, shared by `Client` and `StreamingClient`."""

    _twpolicy: Policy

    def request(
        self,
        method: str,
        route: str,
        params: Any = None,
        json: Any = None,  # tweepy's parameter name
        user_auth: bool = False,  # noqa: FBT001, FBT002  # tweepy's signature
    ) -> Any:
        """Decide on the request, then send it exactly as tweepy would."""
        send = super().request  # type: ignore[misc]  # tweepy's BaseClient.request
        sending = _SENDING.get()
        within = sending[1] if sending is not None and sending[0] is self else None
        endpoint = _CATALOG.lookup(method, route)
        if endpoint is None:
            action = unknown_route(method, route, json)
        elif endpoint.scopes:
            scopes = v2_scopes(endpoint, json)
            actor = v2_known_actor(self, endpoint, route, user_auth=user_auth)
            if actor is None:
                actor = self._twpolicy_look_up(user_auth)
            action = self._twpolicy.write_action(endpoint, scopes, actor, json)
        else:
            action = read_action(endpoint, params if json is None else json)
        with self._twpolicy.permit(action, within) as permit:
            token = _SENDING.set((self, permit))
            try:
                response = send(method, route, params, json, user_auth)
            finally:
                _SENDING.reset(token)
        if endpoint is _ME:
            self._twpolicy.learn(v2_identity(self, user_auth=user_auth), _me_id(response.json()))
        return response

    def _twpolicy_look_up(self, user_auth: bool) -> str | None:  # noqa: FBT001  # internal
        """Ask the API, once, whom the credentials belong to: tweepy's own lookup."""
        try:
            if not user_auth and hasattr(self, "_get_oauth_2_authenticating_user_id"):
                if self.bearer_token is None:  # type: ignore[attr-defined]  # tweepy's attribute
                    return None
                found = self._get_oauth_2_authenticating_user_id(self.bearer_token)  # type: ignore[attr-defined]  # tweepy's cached lookup
            else:
                response = self.request("GET", "/2/users/me", {}, None, user_auth)
                found = _me_id(response.json())
        except (tweepy.TweepyException, TypeError, ValueError, KeyError):
            # No lookup, no known user: the consent rule refuses (fail closed).
            return None
        self._twpolicy.learn(v2_identity(self, user_auth=user_auth), found)
        return self._twpolicy.learned(v2_identity(self, user_auth=user_auth))


def _me_id(document: Any) -> object:
    if isinstance(document, Mapping):
        data = document.get("data")
        if isinstance(data, Mapping):
            return data.get("id")
    return None


class Client(_GuardedV2, tweepy.Client):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.Client` with every request decided on by the guard first.

    A drop-in replacement: the same constructor plus keyword-only ``guard`` (the default
    guard, looked up at each call, when ``None``) and ``acting_user_id``; the same methods,
    return values and exceptions. Writes on a user's behalf raise `twpolicy.ConsentRequired`
    before anything is sent unless that user consented to every scope they need; requests the
    endpoint catalog does not know raise `twpolicy.UnknownRoute`.
    """

    @with_guard_signature(tweepy.Client.__init__)
    def __init__(
        self,
        *args: Any,
        guard: Guard | None = None,
        acting_user_id: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        self._twpolicy = Policy(guard, acting_user_id)
        super().__init__(*args, **kwargs)


def _admitting(on_data: _F) -> _F:
    """Wrap a stream's ``on_data`` so the guard sees each payload before the callbacks run."""

    @functools.wraps(on_data)
    def admit(self: Any, raw_data: Any) -> Any:
        if self._twpolicy_admitted is raw_data:
            return on_data(self, raw_data)
        if not self._twpolicy_admit(raw_data):
            return None
        outer = self._twpolicy_admitted
        self._twpolicy_admitted = raw_data
        try:
            return on_data(self, raw_data)
        finally:
            self._twpolicy_admitted = outer

    admit.__twpolicy_guarded__ = True  # type: ignore[attr-defined]  # marks the wrapper
    return admit  # type: ignore[return-value]  # same call signature


class StreamMixin:
    """What both streaming clients share: stream payloads pass the guard before callbacks."""

    _twpolicy: Policy
    _twpolicy_admitted: Any = None
    _twpolicy_stream: Endpoint | None = None

    def _twpolicy_connect(self, endpoint: str) -> None:
        """Decide on opening the stream at ``endpoint`` (``"search"``, ``"sample"``)."""
        route = f"/2/tweets/{endpoint}/stream"
        found = _CATALOG.lookup("GET", route)
        action = unknown_route("GET", route, None) if found is None else found.read_action
        with self._twpolicy.permit(action):
            pass  # the stream is opened by tweepy right after
        self._twpolicy_stream = found

    def _twpolicy_admit(self, raw_data: Any) -> bool:
        """Whether a stream payload may reach the callbacks; the decision is logged."""
        guard = self._twpolicy.guard
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


class StreamingClient(StreamMixin, _GuardedV2, tweepy.StreamingClient):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.StreamingClient` whose rule calls and stream payloads pass the guard.

    Opening a stream is decided on like any read; each payload is described as a
    ``stream_data`` action and decided on before ``on_tweet``, ``on_response`` and the other
    callbacks run, also when a subclass overrides ``on_data``. A refused payload is dropped
    and the stream goes on. Rule management (``add_rules``...) is an application-level call.
    """

    @with_guard_signature(tweepy.StreamingClient.__init__)
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
        """Open the filtered stream, as `tweepy.StreamingClient.filter`, once the guard agrees."""
        if not self.running:
            self._twpolicy_connect("search")
        return super().filter(**params)

    def sample(self, **params: Any) -> Any:
        """Open the sample stream, as `tweepy.StreamingClient.sample`, once the guard agrees."""
        if not self.running:
            self._twpolicy_connect("sample")
        return super().sample(**params)

    on_data = _admitting(tweepy.StreamingClient.on_data)


# The keyword-only options of API.request; every other keyword is an API parameter.
_V1_OPTIONS = frozenset(
    name
    for name, parameter in inspect.signature(tweepy.API.request).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)


def v1_parameters(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The API parameters of a v1.1 call, as the strings tweepy sends."""
    sent = dict(kwargs.get("params") or {})
    for key, value in kwargs.items():
        if key not in _V1_OPTIONS and value is not None:
            sent[key] = str(value)
    return sent


def v1_geotagged(endpoint: Endpoint, kwargs: Mapping[str, Any]) -> bool:
    """Whether a v1.1 call attaches a location (a stray ``lat=`` counts, on any endpoint)."""
    if endpoint.location_lookup:
        return False
    params = kwargs.get("params") or {}
    return any(
        kwargs.get(name) is not None or params.get(name) is not None for name in GEO_PARAMETERS
    )


class API(tweepy.API):  # type: ignore[misc]  # tweepy is untyped
    """`tweepy.API` (v1.1) with every request decided on by the guard first.

    A drop-in replacement: the same constructor plus keyword-only ``guard`` and
    ``acting_user_id``. The check sits in ``API.request``, which sees the parameters before
    they become strings, so a stray ``lat=``/``long=``/``place_id=`` on any call needs the
    ``geo.write`` scope as well. Responses of geo endpoints never enter tweepy's cache.
    """

    @with_guard_signature(tweepy.API.__init__)
    def __init__(
        self,
        *args: Any,
        guard: Guard | None = None,
        acting_user_id: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        self._twpolicy = Policy(guard, acting_user_id)
        super().__init__(*args, **kwargs)

    def request(self, method: str, endpoint: str, **kwargs: Any) -> Any:
        """Decide on the request, then send it exactly as tweepy would."""
        entry = _CATALOG.lookup(method, f"/1.1/{endpoint}")
        if entry is None:
            action = unknown_route(method, f"/1.1/{endpoint}.json", v1_parameters(kwargs))
        else:
            geotag = v1_geotagged(entry, kwargs)
            if entry.scopes or geotag:
                scopes = entry.scopes | _GEO_SCOPE if geotag else entry.scopes
                content = kwargs.get("json_payload")
                if content is None:
                    content = v1_parameters(kwargs)
                actor = self._twpolicy_actor()
                action = self._twpolicy.write_action(entry, scopes, actor, content)
            else:
                action = read_action(entry, v1_parameters(kwargs))
            if entry.category is EndpointCategory.GEO or entry.location_lookup:
                kwargs["use_cache"] = False
        with self._twpolicy.permit(action):
            result = super().request(method, endpoint, **kwargs)
        if entry is _VERIFY and not self.cached_result:
            self._twpolicy_learn_from(self.last_response)
        return result

    def _twpolicy_identity(self) -> tuple[str, object, object]:
        auth = self.auth
        token = getattr(auth, "access_token", None) or getattr(auth, "bearer_token", None)
        return ("v1.1", id(auth), token)

    def _twpolicy_learn_from(self, response: Any) -> None:
        try:
            document = response.json()
        except ValueError:
            return
        if isinstance(document, Mapping):
            self._twpolicy.learn(self._twpolicy_identity(), document.get("id_str"))

    def _twpolicy_actor(self) -> str | None:
        """The acting user: given, the access token's prefix, learned, or looked up once."""
        policy = self._twpolicy
        if policy.acting_user_id is not None:
            return policy.acting_user_id
        found = _token_owner(getattr(self.auth, "access_token", None))
        if found is not None:
            return found
        key = self._twpolicy_identity()
        found = policy.learned(key)
        if found is not None:
            return found
        try:
            document = self.request(
                "GET", "account/verify_credentials", parser=JSONParser(), use_cache=False
            )
        except tweepy.TweepyException:
            return None
        if isinstance(document, Mapping):
            policy.learn(key, document.get("id_str"))
        return policy.learned(key)

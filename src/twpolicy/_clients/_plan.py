"""The one request path of every drop-in client: plan, decide, send, learn.

The clients differ only in how they wait (a call, an ``await``) and in which tweepy method
they sit on. Everything else is shared: `plan_v2` and `plan_v1` turn a request into a `Plan`
(catalog entry, scopes, acting user, token owner, content hash, `Action`) without any I/O;
when the acting user can only be found by asking the API, the plan says so (``Plan.looks_up``)
and the client shell makes that lookup and plans again. The shells then send under the plan's
`twpolicy._clients._sending.Sending`, which decides, holds, decides each retry and settles.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Generator, Mapping
from typing import Any, Final, TypeVar

import attrs
import tweepy

from twpolicy._clients._contact import Contact, Contacts, automated_now, contact
from twpolicy._clients._sending import Sending
from twpolicy._clients._wire import SessionProperty
from twpolicy._guard import Guard, built_default_guard, get_default_guard
from twpolicy._model import Action, ActionKind
from twpolicy._payloads._catalog import (
    GEO_PARAMETERS,
    Endpoint,
    EndpointCategory,
    canonical_json,
    endpoint_catalog,
)
from twpolicy._stores._consent import validate_user_id
from twpolicy._stores._ratelimits import credential_id
from twpolicy._stores._secrets import process_secrets
from twpolicy.rules._purposes import QUERY_OPERATIONS

__all__ = [
    "LOOKUP_ERRORS",
    "UNASKED",
    "Ask",
    "Guarded",
    "Identity",
    "Plan",
    "Policy",
    "drive",
    "me_id",
    "plan_stream",
    "plan_v1",
    "plan_v2",
    "planning",
    "planning_v2",
    "settled",
    "with_guard_signature",
]

_CATALOG = endpoint_catalog()
_ME = _CATALOG.lookup("GET", "/2/users/me")
_VERIFY = _CATALOG.lookup("GET", "/1.1/account/verify_credentials.json")
_GEO_SCOPE = frozenset({"geo.write"})
_UPLOAD = _CATALOG.lookup("POST", "/1.1/media/upload.json")
_SHARED_MEDIA = frozenset({"dm.media.shared"})

#: What a failed identity lookup may raise: the user stays unknown, and the write is refused.
LOOKUP_ERRORS = (tweepy.TweepyException, TypeError, ValueError, KeyError)
_IDENTITY_SLOTS = 16

_F = TypeVar("_F", bound=Callable[..., Any])

#: Sent to a planner to say that no lookup was made yet.
_UNASKED: Any = object()
UNASKED: Any = _UNASKED


def user_id_or_none(text: object) -> str | None:
    """``text`` if it is a user ID (a decimal string without leading zero), else ``None``."""
    if isinstance(text, int) and not isinstance(text, bool) and text > 0:
        text = str(text)
    if isinstance(text, str) and text.isascii() and text.isdigit() and text[0] != "0":
        return text
    return None


def token_owner(access_token: object) -> str | None:
    """The user an OAuth 1.0a access token belongs to: its ``"<user_id>-..."`` prefix."""
    if not isinstance(access_token, str):
        return None
    return user_id_or_none(access_token.partition("-")[0])


def me_id(document: Any) -> object:
    """The user ID in a ``/2/users/me`` answer."""
    if isinstance(document, Mapping):
        data = document.get("data")
        if isinstance(data, Mapping):
            return data.get("id")
    return None


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
        inspect.Parameter("automated", inspect.Parameter.KEYWORD_ONLY, default=False),
    ]
    parameters = list(signature.parameters.values())
    tail = [p for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
    head = [p for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extended = signature.replace(parameters=[*head, *extra, *tail])

    def decorate(init: _F) -> _F:
        init.__signature__ = extended  # type: ignore[attr-defined]  # read by inspect
        return init

    return decorate


class Guarded:
    """The constructor every drop-in client shares, written once.

    Takes keyword-only ``guard``, ``acting_user_id`` and ``automated`` (see `Policy`) and
    passes everything else to the tweepy class untouched, so tweepy's defaults stay
    tweepy's. Each subclass that defines no constructor of its own advertises its tweepy
    class's signature extended with those three (`with_guard_signature`).
    """

    _twpolicy: Policy

    def __init__(
        self,
        *args: Any,
        guard: Guard | None = None,
        acting_user_id: str | int | None = None,
        automated: bool = False,
        **kwargs: Any,
    ) -> None:
        self._twpolicy = Policy(guard, acting_user_id, automated)
        super().__init__(*args, **kwargs)
        register_secrets(self._twpolicy, self)  # refused in stores, redacted in logs (I.A.1)
        self._twpolicy_started()

    def _twpolicy_started(self) -> None:
        """What a client does once tweepy's constructor has run (nothing, by default)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("session")
        if own is not None and not isinstance(own, SessionProperty):
            msg = (
                f"{cls.__qualname__} may not define its own `session`: every request of a "
                "guarded client is checked at its session; assign one to the instance "
                "instead (client.session = requests.Session())"
            )
            raise TypeError(msg)
        tweepy_class = next(
            (b for b in cls.__mro__ if b.__module__.partition(".")[0] == "tweepy"), None
        )
        if tweepy_class is None or "__init__" in cls.__dict__:
            return  # a mixin, or a constructor of its own

        base_init = getattr(tweepy_class, "__init__")  # noqa: B009  # mypy refuses cls.__init__

        @with_guard_signature(base_init)
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            Guarded.__init__(self, *args, **kwargs)

        init.__name__ = "__init__"
        init.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = init  # type: ignore[method-assign]  # the signature, per class


#: What planning asks its shell for: ``None``, the identity lookup's answer; a `Contact`, to
#: have those recipients looked up (the answer is ignored).
Ask = Generator["Contact | None", object, "Plan"]


def planning(replan: Callable[[object, bool], Plan], first: Plan | None = None) -> Ask:
    """Plan a request, asking the shell (sync or async) for the lookups the plan needs.

    ``replan(found, resolved)`` plans with a lookup's answer (``UNASKED``: none yet) and
    whether the recipients were looked up. The shell drives it with `drive` or its own loop
    (``await``-ing each lookup), so both kinds of client plan the same way. ``first``: the
    plan ``replan(UNASKED, False)`` made already (a shell that tried `settled` first).
    """
    plan = replan(_UNASKED, False) if first is None else first  # noqa: FBT003  # positional: a two-argument callable
    found: object = _UNASKED
    if plan.looks_up:
        found = yield None
        plan = replan(found, False)  # noqa: FBT003  # ditto
    if plan.resolves is not None:
        yield plan.resolves
        plan = replan(found, True)  # noqa: FBT003  # ditto
    return plan


def settled(plan: Plan) -> bool:
    """Whether ``plan`` asks for no lookup: `planning` would return it as it is.

    The shells plan first without the generator (a read, most writes), and drive `planning`,
    from that plan, only when a lookup is wanted.
    """
    return not plan.looks_up and plan.resolves is None


def planning_v2(
    policy: Policy,
    client: Any,
    method: str,
    route: str,
    body: Any,
    *,
    user_auth: bool,
    params: Any,
    first: Plan | None = None,
) -> Ask:
    """`planning` of a v2 request (``BaseClient.request``'s arguments), sync or async."""

    def replan(found: object, resolved: bool) -> Plan:  # noqa: FBT001  # positional by design
        return plan_v2(
            policy,
            client,
            method,
            route,
            body,
            user_auth=user_auth,
            found=found,
            params=params,
            resolved=resolved,
        )

    return planning(replan, first)


def drive(steps: Ask, identify: Callable[[], object], resolve: Callable[[Contact], object]) -> Plan:
    """Run `planning` synchronously: look up whom it asks for, and return the plan."""
    answer: object = None
    try:
        while True:
            wanted = steps.send(answer)
            answer = identify() if wanted is None else resolve(wanted)
    except StopIteration as done:
        plan: Plan = done.value
        return plan


@attrs.frozen
class Identity:
    """Whose credentials a request is sent with, as far as the client can tell unasked.

    Attributes:
        key: what the owner is remembered under (the kind of credentials and the token).
        owner: the owner read off the token itself (an OAuth 1.0a ``"<user_id>-..."`` prefix).
        askable: whether the API can be asked who the owner is (there is a token to ask with).
    """

    key: tuple[str, object, object]
    owner: str | None = None
    askable: bool = True


def v2_identity(client: Any, *, user_auth: bool) -> Identity:
    """The credentials a v2 request is sent with: OAuth 1.0a user context, or a bearer token."""
    if user_auth:
        token = client.access_token
        return Identity(("oauth1", client.consumer_key, token), token_owner(token))
    bearer = client.bearer_token
    return Identity(("oauth2", None, bearer), None, askable=bearer is not None)


def v1_identity(client: Any) -> Identity:
    """The credentials of a v1.1 `API`: its auth handler's token."""
    auth = client.auth
    access = getattr(auth, "access_token", None)
    token = access or getattr(auth, "bearer_token", None)
    return Identity(("v1.1", id(auth), token), token_owner(access))


def rate_facts(identity: Identity, app_key: object, client: Any) -> dict[str, str | bool]:
    """Who a write is sent as, for ``ratelimit.respect`` (I.B.5): hashes, never the tokens."""
    credential = credential_id(identity.key[2])
    if credential is None:
        return {}
    facts: dict[str, str | bool] = {"rate_credential": credential}
    app = credential_id(app_key)
    if app is not None:
        facts["rate_app"] = app
    if getattr(client, "wait_on_rate_limit", False) is True:
        facts["rate_waits"] = True
    return facts


class Policy:
    """The per-client state of a guarded client: its guard, whom it acts for, whom it learned.

    Args:
        guard: the guard to ask; the default guard (looked up at each call, so that
            `twpolicy.set_default_guard` after construction is honoured) when ``None``.
        acting_user_id: the user on whose behalf the client acts, if the application knows
            it; otherwise it is read from the request or the access token, or looked up once.
        automated: whether the client acts automatically (a bot): its replies, mentions and
            DMs then need each recipient's recorded ``automated.write`` opt-in.
    """

    __slots__ = ("_automated", "_guard", "_identities", "acting_user_id", "contacts")

    def __init__(
        self,
        guard: Guard | None,
        acting_user_id: str | int | None,
        automated: bool = False,  # noqa: FBT001, FBT002  # internal
    ) -> None:
        given: object = guard
        if given is not None and not isinstance(given, Guard):
            msg = f"guard must be a twpolicy.Guard, got {type(given).__name__}"
            raise TypeError(msg)
        flag: object = automated
        if not isinstance(flag, bool):
            msg = f"automated must be True or False, got {flag!r}"
            raise TypeError(msg)
        self._guard = guard
        self._automated = automated
        self.acting_user_id = None if acting_user_id is None else validate_user_id(acting_user_id)
        self._identities: dict[tuple[str, object, object], str] = {}
        #: Authors of replied-to Tweets and owners of mentioned handles, once looked up.
        self.contacts = Contacts()

    @property
    def automated(self) -> bool:
        """Whether requests now are automated: the client says so, or the block does."""
        return self._automated or automated_now()

    @property
    def guard(self) -> Guard:
        """The guard deciding on this client's requests."""
        return self._guard if self._guard is not None else get_default_guard()

    def guard_at_hand(self) -> Guard | None:
        """The guard, if finding it needs no I/O (given, or the default one already built)."""
        return self._guard if self._guard is not None else built_default_guard()

    def owner(self, identity: Identity) -> str | None:
        """The owner of ``identity``'s token: read off the token, or learned from the API."""
        return identity.owner or self._identities.get(identity.key)

    def learn(self, identity: Identity, user_id: object) -> None:
        """Remember whom the credentials of ``identity`` belong to (an API answer said so)."""
        found = user_id_or_none(user_id)
        if found is None:
            return
        if len(self._identities) >= _IDENTITY_SLOTS:
            self._identities.clear()
        self._identities[identity.key] = found


#: The attributes of a tweepy client or auth handler that hold a secret (never the keys).
_SECRET_ATTRIBUTES: Final = ("consumer_secret", "access_token_secret", "bearer_token")


def register_secrets(policy: Policy, client: Any) -> None:
    """Make the client's own secrets known to the guard, by hash (I.A.1).

    Read off the client and its auth handler (`tweepy.API` keeps them on ``auth``); from
    then on storing or exporting them is refused and they are redacted from every decision,
    error and twpolicy log line.
    """
    holders = [client, getattr(client, "auth", None)]  # getattr(None, ...) gives None
    values = [getattr(h, name, None) for h in holders for name in _SECRET_ATTRIBUTES]
    guard = policy.guard_at_hand()
    if guard is not None:
        guard.register_secrets(*values)
    else:
        process_secrets().register(values)


class Plan:
    """What a request is, for the guard: its catalog entry and `Action`, and what else to do.

    Attributes:
        endpoint: the catalog entry, ``None`` for a route the catalog does not know.
        action: what the guard decides on.
        looks_up: the acting user is unknown but the API can be asked: the shell makes the
            identity lookup and plans again with its answer.
        learns: the answer names the credentials' owner (``/2/users/me``,
            ``verify_credentials``): the shell hands it to `Policy.learn`.
        resolves: an automated request whose recipients the API can tell (a replied-to
            Tweet's author, mentioned handles): the shell looks them up once, hands the
            answers to `Policy.contacts`, and plans again with ``resolved=True``.
    """

    __slots__ = ("action", "endpoint", "learns", "looks_up", "resolves")

    def __init__(
        self,
        endpoint: Endpoint | None,
        action: Action,
        *,
        looks_up: bool = False,
        resolves: Contact | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.action = action
        self.looks_up = looks_up
        self.resolves = resolves
        self.learns = endpoint is _ME or endpoint is _VERIFY

    @property
    def uncached(self) -> bool:
        """Whether the answer must stay out of tweepy's cache (geo data, I.B.7)."""
        endpoint = self.endpoint
        # An unknown route may answer with location: it stays out too (fail closed).
        return (
            endpoint is None
            or endpoint.category is EndpointCategory.GEO
            or endpoint.location_lookup
            or endpoint.route.removesuffix(".json") in _LOCATION_ROUTES
        )

    def sending(
        self, client: object, policy: Policy, method: str, url: str, *, recursive: bool = True
    ) -> Sending:
        """The scope the request is sent in; ``with`` (or ``async with``) it around the send.

        ``method`` and ``url`` (without the query): the one request the client's session may
        send in it. ``recursive``: tweepy retries by calling ``request`` again (v2); see
        `Sending.start`.
        """
        return Sending.start(
            client, policy, self.action, recursive=recursive, method=method, url=url
        )


# Routes outside the geo category whose answers carry location of their own (trends
# locations, an account's trend location): never cached (I.B.7).
_LOCATION_ROUTES: Final = frozenset({"/1.1/trends/place", "/1.1/account/settings"})


# Reads are described by one action per endpoint, so one plan per endpoint serves them all.
_READS: dict[int, tuple[Endpoint, Plan]] = {}


def _read_plan(endpoint: Endpoint, query: Any = None) -> Plan:
    """The plan for a request needing no consent; one carrying a query holds it by reference.

    Search and count queries and stream rules are read by the purpose rules
    (``purpose.query_screen``, ``purpose.platform_counts``); other reads share one plan.
    """
    if query is not None and endpoint.operation in QUERY_OPERATIONS:
        action = Action(
            kind=ActionKind.API_CALL,
            operation=endpoint.operation,
            category=endpoint.category.value,
            payload=query,
        )
        return Plan(endpoint, action)
    entry = _READS.get(id(endpoint))
    if entry is not None and entry[0] is endpoint:
        return entry[1]
    plan = Plan(endpoint, endpoint.read_action)
    _READS[id(endpoint)] = (endpoint, plan)
    return plan


def unknown_route(method: str, route: str, payload: Any) -> Plan:
    """The plan for a request the catalog does not know: refused by ``endpoint.known``."""
    action = Action(
        kind=ActionKind.API_CALL,
        operation=f"{method.upper()} {route.partition('?')[0]}",
        payload=payload,
    )
    return Plan(None, action)


def route_user(endpoint: Endpoint, route: str) -> str | None:
    """The user ID a v2 route names as the authenticated user (``/2/users/:id/likes``)."""
    if endpoint.actor is None:
        return None
    segments = route.partition("?")[0].split("/")
    return user_id_or_none(segments[endpoint.actor]) if len(segments) > endpoint.actor else None


def _write_plan(
    policy: Policy,
    endpoint: Endpoint,
    content: Any,
    *,
    scopes: frozenset[str],
    identity: Identity,
    named: str | None,
    found: object,
    route: str,
    resolved: bool,
    rate: Mapping[str, str | bool] | None = None,
) -> Plan:
    """The plan for a request on a user's behalf: who acts, whose token it is, what is sent.

    The acting user is ``acting_user_id=``, else the user the route names, else the token's
    owner (read off the token, or learned); the owner and the route's user go into the
    action's facts, where the ``actor.token_owner`` rule compares them with the acting user.
    An automated request adds ``automated`` and whom it contacts (``automated_recipients``,
    and ``automated_unresolved`` for whom it could not tell), for ``automation.opt_in``.
    """
    if found is not _UNASKED:
        policy.learn(identity, found)
    owner = policy.owner(identity)
    actor = policy.acting_user_id or named or owner
    facts: dict[str, str | bool] = dict(rate or {})
    if owner is not None:
        facts["token_owner"] = owner
    elif found is not _UNASKED or not identity.askable:
        # Asked, or nobody to ask: whose token this is cannot be told, so whoever the
        # application says acts cannot be checked against it (the rule refuses).
        facts["token_owner_known"] = False
    if named is not None:
        facts["route_user"] = named
    resolves = None
    if policy.automated:
        facts["automated"] = True
        reached = contact(endpoint.operation, route, content, actor, policy.contacts)
        if reached is not None:
            facts["automated_recipients"] = " ".join(reached.recipients)
            unresolved = [f"tweet:{t}" for t in reached.tweets]
            unresolved += [f"@{h}" for h in reached.handles]
            if reached.unknowable:
                unresolved.append(reached.unknowable)
            if unresolved:
                facts["automated_unresolved"] = " ".join(unresolved)
            if reached.pending and not resolved:
                resolves = reached
    action = Action(
        kind=ActionKind.API_CALL,
        operation=endpoint.operation,
        category=endpoint.category.value,
        acting_user_id=actor,
        scopes=scopes,
        content_sha256=None if content is None else _digest(content),
        facts=facts,
        payload=content,
    )
    # The owner is always established before acting: an `acting_user_id` or a route's user
    # is the application's word, which the token's owner must confirm.
    looks_up = owner is None and found is _UNASKED and identity.askable
    return Plan(endpoint, action, looks_up=looks_up, resolves=resolves)


def plan_v2(
    policy: Policy,
    client: Any,
    method: str,
    route: str,
    body: Any,
    *,
    user_auth: bool,
    found: object = _UNASKED,
    params: Any = None,
    resolved: bool = False,
) -> Plan:
    """Plan a v2 request (``BaseClient.request``'s arguments); ``found``: a lookup's answer.

    ``resolved``: the recipients of an automated request were looked up already.
    """
    endpoint = _CATALOG.lookup(method, route)
    if endpoint is None:
        return unknown_route(method, route, body)
    if not endpoint.scopes:
        return _read_plan(endpoint, params if body is None else body)
    scopes = endpoint.scopes
    if (type(body) is dict or isinstance(body, Mapping)) and body.get("geo") is not None:
        scopes |= _GEO_SCOPE  # a geotag: the user saw the location before it was published
    identity = v2_identity(client, user_auth=user_auth)
    named = route_user(endpoint, route)
    app_key = client.consumer_key if user_auth else None
    return _write_plan(
        policy,
        endpoint,
        body,
        scopes=scopes,
        identity=identity,
        named=named,
        found=found,
        route=route,
        resolved=resolved,
        rate=rate_facts(identity, app_key, client),
    )


# The keyword-only options of tweepy's API.request; every other keyword is an API parameter.
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


def _v1_geotagged(endpoint: Endpoint, kwargs: Mapping[str, Any]) -> bool:
    """Whether a v1.1 call attaches a location (a stray ``lat=`` counts, on any endpoint)."""
    if endpoint.location_lookup:
        return False
    params = kwargs.get("params") or {}
    return any(
        kwargs.get(name) is not None or params.get(name) is not None for name in GEO_PARAMETERS
    )


def _marked_shared(kwargs: Mapping[str, Any]) -> bool:
    """Whether a media upload asks for ``shared=true`` (DM media reusable by URL, I.C.1.f)."""
    value = v1_parameters(kwargs).get("shared")
    return value is not None and str(value).strip().lower() not in {"false", "0", ""}


def plan_v1(
    policy: Policy,
    client: Any,
    method: str,
    path: str,
    kwargs: Mapping[str, Any],
    *,
    found: object = _UNASKED,
    resolved: bool = False,
) -> Plan:
    """Plan a v1.1 request (``API.request``'s arguments: ``path`` without ``/1.1/``)."""
    endpoint = _CATALOG.lookup(method, f"/1.1/{path}")
    if endpoint is None:
        return unknown_route(method, f"/1.1/{path}.json", v1_parameters(kwargs))
    geotag = _v1_geotagged(endpoint, kwargs)
    if not (endpoint.scopes or geotag):
        return _read_plan(endpoint, v1_parameters(kwargs))
    scopes = endpoint.scopes | _GEO_SCOPE if geotag else endpoint.scopes
    if endpoint is _UPLOAD and _marked_shared(kwargs):
        scopes |= _SHARED_MEDIA  # viewable by anyone with the URL: the user must agree (I.C.1.f)
    content = kwargs.get("json_payload")
    if content is None:
        content = v1_parameters(kwargs)
    identity = v1_identity(client)
    app_key = getattr(client.auth, "consumer_key", None)
    return _write_plan(
        policy,
        endpoint,
        content,
        scopes=scopes,
        identity=identity,
        named=None,
        found=found,
        route=f"/1.1/{path}",
        resolved=resolved,
        rate=rate_facts(identity, app_key, client),
    )


def plan_stream(endpoint: str) -> Plan:
    """Plan opening the v2 stream ``endpoint`` (``"search"``, ``"sample"``)."""
    route = f"/2/tweets/{endpoint}/stream"
    found = _CATALOG.lookup("GET", route)
    return unknown_route("GET", route, None) if found is None else _read_plan(found)

"""The guarded clients' HTTP sessions: the lowest point every send of a guarded client passes.

A guarded client's ``session`` (``requests.Session`` for `Client`, `StreamingClient` and `API`;
the aiohttp session of the asynchronous clients) lets a request leave only if it is the one
request the client's current `Sending` was decided for, in the thread (and task) that opened
it (`Sending.covers`). Any other request through it (``client.session.post(...)``, tweepy's
base ``request`` called on the guarded instance, a subclass's override, a redirect) is read off
the wire, planned and decided there exactly as ``client.request`` would plan and decide it; what
cannot be decided (another host, credentials other than the client's own, a body twpolicy
cannot read, the other API version) is refused with `twpolicy.UnplannedRequest` before any
byte leaves.

The check sits above the transport adapters (``session.mount(...)`` of any adapter changes
nothing) and follows the session object: a session assigned to ``client.session`` is guarded
as it is assigned, in place (its class gains the check), so the application's own reference to
it is guarded too. Calling ``requests.Session.send(session, ...)`` unbound, a transport adapter
directly, or building a new HTTP client from the credentials is writing an HTTP client of one's
own, which no in-process library can stop.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from typing import TYPE_CHECKING, Any, Final

import requests

from twpolicy._clients._sending import Sending, sending_now
from twpolicy._model import ActionKind, Decision, Effect, Mode
from twpolicy.exceptions import ConfigurationError, UnplannedRequest

if TYPE_CHECKING:
    from collections.abc import Mapping

    from twpolicy._clients._plan import Plan, Policy

__all__ = [
    "X_HOSTS",
    "AioRequest",
    "GuardedAioSession",
    "GuardedSession",
    "Sent",
    "SessionProperty",
    "bind_session",
    "planned_scope",
    "read_sent",
    "refuse",
]

#: The hosts of the X API; a guarded client's session sends to no other.
X_HOSTS: Final = frozenset({"api.twitter.com", "upload.twitter.com", "api.x.com", "upload.x.com"})
_REMEDY: Final = (
    "send it with the client's own call, which plans and decides it: "
    "client.request(method, route, params, json, user_auth) for v2 "
    "(route such as '/2/tweets'), api.request(method, endpoint, ...) for v1.1 "
    "(endpoint such as 'statuses/update'); for another host or other credentials use "
    "an HTTP session of your own, or a guarded client built with those credentials"
)


class SessionProperty(property):
    """The ``session`` of a guarded client (a subclass may not replace it)."""


class Sent:
    """A request read off the wire, as the planner needs it.

    Attributes:
        method: upper case.
        path: the URL's path (``/2/tweets``, ``/1.1/statuses/update.json``).
        params: the query (and, v1.1, a form body's fields), the last of repeated names.
        body: the JSON body, or ``None``.
        user_auth: signed with the client's OAuth 1.0a user credentials (else its bearer).
    """

    __slots__ = ("body", "method", "params", "path", "user_auth")

    def __init__(
        self, method: str, path: str, params: dict[str, str], body: Any, *, user_auth: bool
    ) -> None:
        self.method = method
        self.path = path
        self.params = params
        self.body = body
        self.user_auth = user_auth


def refuse(policy: Policy, method: str, url: str, reason: str, why: str) -> UnplannedRequest:
    """The refusal of a request through the session that cannot be decided; logged."""
    guard = policy.guard
    path = urllib.parse.urlsplit(url).path
    decision = Decision(
        allowed=False,
        effect=Effect.DENY,
        rule="client.session",
        clause="I.C.1.a",
        reason=reason,
        message=f"{method} {url.partition('?')[0]} through a guarded client's session: {why}.",
        remediation=_REMEDY,
        decision_id=str(uuid.uuid4()),
        mode=Mode.ENFORCE,
        enforced=True,
        policy_version=guard.policy_version,
        timestamp=guard.now(),
        evaluation_ns=0,
        action_kind=ActionKind.API_CALL,
        operation=f"{method} {path}",
    )
    guard._log(decision)  # noqa: SLF001  # every decision is logged, this one too
    return UnplannedRequest(decision)


def _authorization(value: str | bytes | None) -> tuple[str, dict[str, str]]:
    """The scheme of an ``Authorization`` header and its fields (``token`` for a bearer)."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    scheme, _, rest = (value or "").strip().partition(" ")
    if scheme == "Bearer":
        return scheme, {"token": rest.strip()}
    if scheme == "OAuth":
        fields = {}
        for part in rest.split(","):
            name, _, quoted = part.strip().partition("=")
            fields[name] = urllib.parse.unquote(quoted.strip('"'))
        return scheme, fields
    return scheme, {}


def _user_auth(credentials: tuple[object, object, object], header: str | bytes | None) -> bool:
    """Whether the header signs with the client's user credentials; `ValueError`: not its own.

    ``credentials``: the client's bearer token, access token and consumer key.
    """
    bearer, access, consumer = credentials
    scheme, fields = _authorization(header)
    if scheme == "Bearer" and bearer is not None and fields["token"] == bearer:
        return False
    if (
        scheme == "OAuth"
        and access is not None
        and fields.get("oauth_token") == access
        and fields.get("oauth_consumer_key") == consumer
    ):
        return True
    raise ValueError(scheme or "none")


def _form(text: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))


def _readable(body: object, content_type: object) -> tuple[str, str] | None:
    """The media type and text of a body that can be read as it is; ``None``: it cannot."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")  # requests-oauthlib leaves it as bytes
    kind = str(content_type or "").partition(";")[0].strip().lower()
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or kind.startswith("multipart/"):
        return None  # a stream, a file, parts: not readable before it is sent
    return kind, body


def read_sent_v2(policy: Policy, client: Any, method: str, url: str, **reading: Any) -> Sent | None:
    """`read_sent` for a v2 client (sync or async), whose session sends no v1.1 request.

    Raises:
        UnplannedRequest: as `read_sent`, and a v1.1 path.
    """
    credentials = (client.bearer_token, client.access_token, client.consumer_key)
    sent = read_sent(policy, credentials, method, url, **reading)
    if sent is not None and sent.path.startswith("/1.1/"):
        why = "a v1.1 request through a v2 client's session"
        raise refuse(policy, sent.method, url, "other_api_version", why)
    return sent


def read_sent(  # what a request on the wire is made of
    policy: Policy,
    credentials: tuple[object, object, object],
    method: str,
    url: str,
    *,
    headers: Mapping[str, Any],
    body: object,
    form: Mapping[str, Any] | None = None,
    document: Any = None,
) -> Sent | None:
    """Read a request the session is about to send; refuse what cannot be decided.

    ``body``: the raw body (``requests``); ``form`` and ``document``: a form or JSON body
    given as such (aiohttp's ``data=`` mapping, ``json=``). ``None``: a request to another
    host carrying no credentials (a compliance job's signed upload URL), which acts for
    nobody on X and is sent as it is.

    Raises:
        UnplannedRequest: credentials sent to another host, other credentials, or a body
            that cannot be read.
    """
    method = method.upper()
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or host not in X_HOSTS or parts.port not in {None, 443}:
        if headers.get("Authorization") is None and headers.get("Cookie") is None:
            return None
        why = "credentials sent to another host than the X API"
        raise refuse(policy, method, url, "not_x_api", why)
    try:
        user_auth = _user_auth(credentials, headers.get("Authorization"))
    except ValueError as scheme:
        why = f"its credentials ({scheme}) are not the client's own"
        raise refuse(policy, method, url, "foreign_credentials", why) from None
    params = _form(parts.query)
    if form is not None:
        params.update({str(k): str(v) for k, v in form.items()})
    elif body not in {None, b"", ""}:
        readable = _readable(body, headers.get("Content-Type"))
        if readable is None:
            why = "its body cannot be read before it is sent"
            raise refuse(policy, method, url, "unreadable_body", why)
        kind, text = readable
        if kind == "application/x-www-form-urlencoded":
            params.update(_form(text))
        else:
            try:
                document = json.loads(text)
            except ValueError:
                why = "its body is neither JSON nor a form"
                raise refuse(policy, method, url, "unreadable_body", why) from None
    return Sent(method, parts.path, params, document, user_auth=user_auth)


class GuardedSession(requests.Session):
    """The check a guarded client's ``requests`` session gains (its class is extended).

    Every send, however it was started (``request``, ``get``, ``post``, ``send``), passes
    `send`, above the transport adapters.
    """

    _twpolicy_owner: Any = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Send ``request`` if the client's current scope covers it; else plan and decide it."""
        sending = sending_now()
        if sending is not None and sending.covers(request.method, request.url):
            sending.retry()  # each try after the first is decided afresh (v1.1 retries)
            return super().send(request, **kwargs)
        owner = self._twpolicy_owner
        if owner is None:
            msg = (
                "this session was copied off a guarded client and belongs to none: "
                f"{_REMEDY}, or assign it to a client (client.session = session)"
            )
            raise ConfigurationError(msg)
        scope = owner._twpolicy_scope(request)  # noqa: SLF001  # the owner's planner
        if scope is None:  # another host, no credentials: acts for nobody on X
            return super().send(request, **kwargs)
        with scope:
            response = super().send(request, **kwargs)
            if not 200 <= response.status_code < 300:  # noqa: PLR2004  # success
                scope.failed(f"http_{response.status_code}")
        return response

    def __reduce__(self) -> tuple[Any, ...]:
        """Copies and pickles stay guarded; they belong to no client until assigned to one."""
        return (_revive, (_plain(type(self)), self.__getstate__()))


def _plain(cls: type) -> type:
    """The session class a guarded class extends."""
    for base in cls.__mro__[1:]:
        if not issubclass(base, GuardedSession):
            return base
    return requests.Session  # pragma: no cover  # every guarded class extends a session


def _revive(cls: type[requests.Session], state: dict[str, Any]) -> GuardedSession:
    session = cls.__new__(cls)
    session.__setstate__(state)
    return _guarded(session)


_CLASSES: dict[type, type] = {requests.Session: GuardedSession}


def _guarded(session: requests.Session) -> GuardedSession:
    """``session``, its class extended in place with the check."""
    if isinstance(session, GuardedSession):
        return session
    cls = type(session)
    extended = _CLASSES.get(cls)
    if extended is None:
        extended = type(f"Guarded{cls.__name__}", (GuardedSession, cls), {})
        _CLASSES[cls] = extended
    session.__class__ = extended  # same layout: the extension adds no slots
    return session  # type: ignore[return-value]  # its class now is


def bind_session(value: object, owner: object) -> GuardedSession | None:
    """Guard ``value`` for ``owner``: the session every send of ``owner`` passes.

    Raises:
        ConfigurationError: ``value`` is not a ``requests.Session`` (nor ``None``).
    """
    if value is None:
        return None
    if not isinstance(value, requests.Session):
        msg = (
            "a guarded client's session must be a requests.Session (or a subclass), got "
            f"{type(value).__name__}: twpolicy checks every request at the session"
        )
        raise ConfigurationError(msg)
    session = _guarded(value)
    session._twpolicy_owner = owner  # noqa: SLF001  # its own attribute
    return session


class GuardedAioSession:
    """The guarded view of an asynchronous client's aiohttp session (or of none).

    tweepy's asynchronous clients send through ``session.request``; so does everything else
    that reaches the session through the client. Every request is let through only if the
    client's current scope covers it in this task; otherwise it is planned and decided as
    ``client.request`` would. Without a session of its own the client sends each request
    through a new ``aiohttp.ClientSession``, closed after it, as tweepy does.
    """

    __slots__ = ("_owner", "_session")

    def __init__(self, session: Any, owner: Any) -> None:
        self._session = session
        self._owner = owner

    def request(self, method: str, url: Any, **kwargs: Any) -> AioRequest:
        """``method url``, checked: use as ``async with`` or ``await``, as aiohttp's."""
        return AioRequest(self, method, url, kwargs)

    def get(self, url: Any, **kwargs: Any) -> AioRequest:  # aiohttp's
        return self.request("GET", url, **kwargs)

    def post(self, url: Any, **kwargs: Any) -> AioRequest:  # aiohttp's
        return self.request("POST", url, **kwargs)

    def put(self, url: Any, **kwargs: Any) -> AioRequest:  # aiohttp's
        return self.request("PUT", url, **kwargs)

    def patch(self, url: Any, **kwargs: Any) -> AioRequest:  # aiohttp's
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: Any, **kwargs: Any) -> AioRequest:  # aiohttp's
        return self.request("DELETE", url, **kwargs)

    def head(self, url: Any, **kwargs: Any) -> AioRequest:  # aiohttp's
        return self.request("HEAD", url, **kwargs)

    def options(self, url: Any, **kwargs: Any) -> AioRequest:  # aiohttp's
        return self.request("OPTIONS", url, **kwargs)

    @property
    def closed(self) -> bool:
        """Whether there is no open session (tweepy's streams then make one)."""
        return self._session is None or bool(self._session.closed)

    async def close(self) -> None:
        """Close the session, if there is one."""
        if self._session is not None:
            await self._session.close()

    def __getattr__(self, name: str) -> Any:
        session = object.__getattribute__(self, "_session")
        if session is None:
            raise AttributeError(name)
        return getattr(session, name)


class AioRequest:
    """One request through a `GuardedAioSession`: checked, decided if need be, then sent."""

    __slots__ = ("_context", "_kwargs", "_method", "_own", "_scope", "_url", "_view")

    def __init__(self, view: GuardedAioSession, method: str, url: Any, kwargs: Any) -> None:
        self._view = view
        self._method = method
        self._url = url
        self._kwargs = kwargs
        self._scope: Sending | None = None
        self._own: Any = None
        self._context: Any = None

    async def _open(self) -> None:
        """Check (plan and decide, if not covered), then start the request."""
        view = self._view
        method, url = self._method.upper(), str(self._url)
        sending = sending_now()
        if sending is not None and sending.covers_task(method, url):
            sending.retry()
        else:
            scope = await view._owner._twpolicy_scope_async(  # noqa: SLF001  # the owner's planner
                method,
                self._url,
                self._kwargs,
                getattr(view._session, "headers", None) or {},  # noqa: SLF001  # ditto
            )
            if scope is not None:  # None: another host, no credentials
                await scope.__aenter__()
                self._scope = scope
        session = view._session  # noqa: SLF001  # its own view
        if session is None:
            import aiohttp  # noqa: PLC0415  # the async extra, present when this runs

            session = self._own = aiohttp.ClientSession()
        self._context = session.request(self._method, self._url, **self._kwargs)

    async def __aenter__(self) -> Any:
        await self._open()
        try:
            response = await self._context.__aenter__()
        except BaseException as exc:
            await self._close(type(exc))
            raise
        self._failed(response)
        return response

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._context.__aexit__(*exc)
        finally:
            await self._close(exc[0] if isinstance(exc[0], type) else None)

    def __await__(self) -> Any:
        return self._awaited().__await__()

    async def _awaited(self) -> Any:
        await self._open()
        try:
            response = await self._context.__aenter__()
            if self._own is not None:
                await response.read()  # its session closes right after
        except BaseException as exc:
            await self._close(type(exc))
            raise
        self._failed(response)
        await self._close(None)
        return response

    def _failed(self, response: Any) -> None:
        status = getattr(response, "status", 200)
        if self._scope is not None and not 200 <= status < 300:  # noqa: PLR2004  # success
            self._scope.failed(f"http_{status}")

    async def _close(self, exc_type: type[BaseException] | None) -> None:
        own, scope = self._own, self._scope
        self._own = self._scope = None
        try:
            if own is not None:
                await own.close()
        finally:
            if scope is not None:
                await scope.__aexit__(exc_type)


def planned_scope(owner: Any, policy: Policy, plan: Plan, method: str, url: str) -> Sending:
    """The scope an unplanned request is sent in, once planned: its own, never a retry."""
    return Sending(
        owner, policy, plan.action, None, recursive=False, method=method, url=url.partition("?")[0]
    )

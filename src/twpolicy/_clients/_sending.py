"""Sending a planned request: decide, hold, decide each retry, settle; off the loop if async.

A `Sending` is the scope a client sends one request in (``with`` for the synchronous clients,
``async with`` for the asynchronous ones). Entering decides, opening the guard's permit, which
claims what the decision obliges (a single-use consent); tweepy's own retries from inside the
call are decided afresh within the first try's permit; leaving commits (the consent is spent)
or gives back. The asynchronous form finds the guard, decides and writes to the stores in
twpolicy's worker threads, never on the event loop, unless every store is in memory
(`twpolicy.Guard.in_memory`): then nothing can block, and it saves the hop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
import urllib.parse
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from twpolicy._stores._ratelimits import RateWindow, credential_id, observe
from twpolicy.exceptions import PolicyViolation

if TYPE_CHECKING:
    from typing_extensions import Self

    from twpolicy._clients._plan import Policy
    from twpolicy._guard import Guard, Permit
    from twpolicy._model import Action

__all__ = ["Sending", "observe_response", "off_loop", "sending_now", "watch_rate_limits"]

_LOG = logging.getLogger("twpolicy")
#: The headers whose value ``"0"`` says a window is spent (with a 429, all X says of limits).
_REMAINING = (
    "x-rate-limit-remaining",
    "x-user-limit-24hour-remaining",
    "x-app-limit-24hour-remaining",
)
_TOO_MANY = 429

#: The request on the wire in this context: tweepy retries a rate-limited v2 request by
#: calling ``request`` again from inside it, and a v1.1 request by sending again from inside
#: ``API.request``; either way the retry finds the first try's `Sending` here.
_SENDING: ContextVar[Sending | None] = ContextVar("twpolicy_sending", default=None)


def sending_now() -> Sending | None:
    """The request on the wire in this context, if any."""
    return _SENDING.get()


class Sending:
    """A request on the wire under its permit, and the tries tweepy makes of it.

    ``with`` it (synchronous clients) or ``async with`` it (asynchronous ones) around the
    send. Entering decides and holds what the decision obliges (a claimed single-use
    consent); leaving without an exception commits (the consent is spent), leaving with one
    gives everything back. Each further try tweepy makes from inside (`retry`) is decided
    afresh within the first try's permit, so the consent it holds counts as held, while a
    consent revoked during the wait refuses the retry. The asynchronous forms find the guard,
    decide and write to the stores in a worker thread (the context is copied), never on the
    event loop, unless the guard's stores are all in memory (`twpolicy.Guard.in_memory`).
    """

    __slots__ = (
        "_action",
        "_decided",
        "_guard",
        "_policy",
        "_retries",
        "_task",
        "_thread",
        "_token",
        "_within",
        "client",
        "first",
        "method",
        "permit",
        "recursive",
        "refusal",
        "tries",
        "url",
    )

    def __init__(  # internal
        self,
        client: object,
        policy: Policy,
        action: Action,
        within: Permit | None,
        *,
        recursive: bool,
        method: str = "",
        url: str = "",
        decided: bool = False,
    ) -> None:
        self.client = client
        #: The one request this scope lets the client's session send: its method (upper
        #: case) and its URL without the query (`covers`).
        self.method = method.upper()
        self.url = url
        #: Decided by the caller already (a stream opened by ``filter``): entering and each
        #: send it covers decide nothing more.
        self._decided = decided
        self._thread = 0
        self._task: object = None
        self._policy = policy
        self._guard: Guard | None = None
        self._action = action
        self._within = within
        #: Whether tweepy retries by calling the client's ``request`` again (v2).
        self.recursive = recursive
        #: The permit of this try, once decided.
        self.permit: Permit | None = None
        #: The permit of the call's first try, which its retries are decided within.
        self.first: Permit | None = within
        self.tries = 0
        #: The refusal of a retry, when tweepy turned it into an exception of its own.
        self.refusal: PolicyViolation | None = None
        self._retries: list[Permit] = []
        self._token: Token[Sending | None] | None = None

    @classmethod
    def start(  # internal
        cls,
        client: object,
        policy: Policy,
        action: Action,
        *,
        recursive: bool,
        method: str = "",
        url: str = "",
    ) -> Sending:
        """The scope for ``action``: a retry of ``client``'s request on the wire, if one is.

        ``recursive``: tweepy retries by calling the client's ``request`` again (v2), so a
        request made while this client's earlier one is on the wire is that one's retry,
        decided within the first try's permit (which holds the claims), however deep.
        ``method`` and ``url``: the request the client's session may send in this scope.
        """
        current = _SENDING.get()
        within = (
            current.first
            if current is not None
            and current.client is client
            and current.recursive
            and current._token is not None  # noqa: SLF001  # its own kind: still on the wire
            and current._thread == threading.get_ident()  # noqa: SLF001  # ditto
            else None
        )
        return cls(client, policy, action, within, recursive=recursive, method=method, url=url)

    def covers(self, method: str | None, url: str | None) -> bool:
        """Whether this scope lets ``method url`` leave now: the request it was decided for.

        Only while the scope is open, only in the thread (and, asynchronously, the task) that
        opened it: a thread or task started inside it inherits the context variable, never
        the permit. The query is not compared (tweepy adds it after planning; the planner
        read the parameters).
        """
        return (
            self._token is not None
            and method == self.method
            and self._thread == threading.get_ident()
            and url is not None
            and url.partition("?")[0] == self.url
        )

    def covers_task(self, method: str, url: str) -> bool:
        """`covers`, for a send from a coroutine: also only in the task that opened it."""
        return self._task is _current_task() and self.covers(method, url)

    def _decide(self) -> None:
        """Find the guard, decide and hold (I/O: run off the event loop when there is one)."""
        self._guard = guard = self._policy.guard
        if self._decided:
            return  # decided by the caller (a stream opened by filter)
        if self._within is None and not guard._unresolved and guard.remembers(self._action):  # noqa: SLF001  # the permit's own first test
            # A remembered allow that obliges nothing, and nobody to tell (a read): a permit
            # would hold nothing and decide nothing, and a retry is decided afresh anyway.
            return
        permit = guard.permit(self._action, within=self._within)
        self.permit = permit
        self.first = self._within or permit
        permit.open()

    def __enter__(self) -> Self:
        self._decide()
        self._thread = threading.get_ident()
        self._token = _SENDING.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._leave()
        self._settle(exc_type)

    async def __aenter__(self) -> Self:
        guard = self._policy.guard_at_hand()
        if self._decided:
            pass  # decided by the caller (a stream opened by filter)
        elif guard is not None and (guard.remembers(self._action) or guard.in_memory()):
            # A remembered allow (a read), or stores all in memory: no file, socket or sink
            # to wait on, so no hop to a worker thread.
            self._decide()
        else:
            await _decide_off_loop(self)
        self._thread = threading.get_ident()
        self._task = _current_task()
        self._token = _SENDING.set(self)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        self._leave()
        if self._holds() and not (self._guard is not None and self._guard.in_memory()):
            await off_loop(self._settle, exc_type)
        else:
            self._settle(exc_type)  # nothing held, or held in memory: nothing to wait on

    def _holds(self) -> bool:
        permits = [self.permit, *self._retries]
        return any(permit is not None and permit.held for permit in permits)

    def _leave(self) -> None:
        if self._token is not None:
            _SENDING.reset(self._token)
            self._token = None

    def _settle(self, exc_type: type[BaseException] | None) -> None:
        """Commit or give back, the retries first: the call's outcome is theirs too."""
        for retry in self._retries:
            retry.__exit__(exc_type)
        if self.permit is not None:
            self.permit.__exit__(exc_type)

    def give_back(self, reason: str) -> None:
        """Release what this try holds: its caller went away before sending."""
        if self.permit is not None:
            self.permit.release(reason)

    def failed(self, reason: str) -> None:
        """The answer says the request failed (an error status): give back on leaving."""
        for permit in (self.permit, *self._retries):
            if permit is not None:
                permit.fail(reason)

    def retry(self) -> None:
        """Before each try tweepy sends from inside one call: decide every try after the first.

        Raises:
            PolicyViolation: the retry is refused (also kept in `refusal`, for when tweepy
                wraps it in an exception of its own); nothing more may be sent.
        """
        self.tries += 1
        if self.tries == 1 or self._decided:
            return  # the first try was decided on entering (a stream: by the caller)
        guard = self._guard or self._policy.guard
        retry = guard.permit(self._action, within=self.first)
        try:
            retry.open()
        except PolicyViolation as refused:
            self.refusal = refused
            raise
        self._retries.append(retry)

    def spends(self, status: int, headers: Any) -> bool:
        """Whether an answer says a window is spent (cheap: most answers say nothing to keep)."""
        if status == _TOO_MANY:
            return True
        get = headers.get  # the three names written out: no generator on every answer
        return bool(
            get(_REMAINING[0]) == "0" or get(_REMAINING[1]) == "0" or get(_REMAINING[2]) == "0"
        )

    def observe(self, status: int, headers: Any, authorization: str | bytes | None) -> None:
        """Keep the rate-limit windows an answer says are spent, in the guard's window ledger.

        Who sent it: the credential and app the plan named, else the ``Authorization``
        header's token and consumer key (hashed). A store that cannot be written is
        reported on the ``twpolicy`` logger: the answer has arrived, and X enforces its own
        limits anyway.
        """
        guard = self._guard or self._policy.guard
        facts = self._action.facts
        credential, app = facts.get("rate_credential"), facts.get("rate_app")
        if not isinstance(credential, str):
            credential, app = _credentials(authorization)
            if credential is None:
                return
        who = RateWindow(
            self._action.operation,
            credential,
            self._action.acting_user_id,
            app if isinstance(app, str) else None,
        )
        try:
            spent = observe(who, status, headers, now=guard.now())
            guard.windows.record_spent(spent)
        except Exception:  # noqa: BLE001  # the answer is in; a lost record is logged
            _LOG.exception("could not record the rate-limit windows of %s", who.route)

    def raise_refusal(self) -> None:
        """Raise the refusal of a retry, if there was one (tweepy wrapped it)."""
        refusal = self.refusal
        if refusal is not None:
            raise refusal from None


def _current_task() -> object:
    """The running task, or ``None`` outside a running event loop."""
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _credentials(authorization: str | bytes | None) -> tuple[str | None, str | None]:
    """The hashed token and consumer key an ``Authorization`` header carries."""
    if isinstance(authorization, bytes):
        authorization = authorization.decode("latin-1")
    scheme, _, value = (authorization or "").partition(" ")
    if scheme == "Bearer":
        return credential_id(value.strip()), None
    if scheme == "OAuth":
        fields = {}
        for part in value.split(","):
            name, _, quoted = part.strip().partition("=")
            fields[name] = urllib.parse.unquote(quoted.strip('"'))
        return credential_id(fields.get("oauth_token")), credential_id(
            fields.get("oauth_consumer_key")
        )
    return None, None


def observe_response(response: Any, *_: Any, **__: Any) -> None:
    """A ``requests`` response hook: hand a spent window to the request's `Sending`."""
    sending = _SENDING.get()
    if sending is None or not sending.spends(response.status_code, response.headers):
        return
    request = getattr(response, "request", None)
    headers = getattr(request, "headers", None) or {}
    sending.observe(response.status_code, response.headers, headers.get("Authorization"))


def watch_rate_limits(session: Any) -> None:
    """Have ``session`` (a ``requests.Session``) report every answer's spent windows."""
    hooks = getattr(session, "hooks", None)
    if isinstance(hooks, dict):
        answers = hooks.setdefault("response", [])
        if observe_response not in answers:
            answers.append(observe_response)


_workers: ThreadPoolExecutor | None = None
_workers_lock = threading.Lock()


def _forget_workers() -> None:
    global _workers  # noqa: PLW0603  # a forked child has none of its parent's threads
    _workers = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _in_thread(function: Callable[..., Any], *args: Any) -> Future[Any]:
    """Run ``function`` in twpolicy's worker threads, in a copy of the caller's context."""
    global _workers  # noqa: PLW0603  # made on first use
    if _workers is None:
        with _workers_lock:
            if _workers is None:
                _workers = ThreadPoolExecutor(thread_name_prefix="twpolicy")
    return _workers.submit(contextvars.copy_context().run, function, *args)


async def off_loop(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function`` in a worker thread and wait for it without blocking the loop."""
    return await asyncio.wrap_future(_in_thread(function, *args))


async def _decide_off_loop(sending: Sending) -> None:
    """Decide in a worker thread; if the caller is cancelled meanwhile, give back.

    The decision may claim a single-use consent; a cancelled caller never sends, so whatever
    the thread ends up holding is released (in a worker thread too) once it is done.
    """
    deciding = _in_thread(sending._decide)  # noqa: SLF001  # its own
    try:
        await asyncio.wrap_future(deciding)
    except asyncio.CancelledError:

        def give_back(done: Future[None]) -> None:
            if not done.cancelled():  # it ran: release what it may hold, off the loop
                _in_thread(sending.give_back, "cancelled")

        deciding.add_done_callback(give_back)
        raise

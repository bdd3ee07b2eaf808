"""The routing table of the fake X API, and the vocabulary its handlers answer in.

A handler is a function of the state and a `Call` (the request, matched and authenticated)
that returns a body (answered 200) or a `Reply`, or raises `Reject` to end the request with
an error shaped as X shapes it. Each group of handlers registers its routes on a
`RouteGroup`; a `RouteTable` joins the groups and finds the route of a request.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeAlias

import attrs

from twpolicy.testing._fakeapi._state import FakeXState, Json

V2_PROBLEMS = "https://api.twitter.com/2/problems/"
RATE_WINDOW = 15 * 60  # seconds: X's rate limits count per 15-minute window


@attrs.frozen
class Reply:
    status: int
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)


class Reject(Exception):
    """Ends a request early with ``reply`` (an error response)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@attrs.frozen
class Call:
    """A request as its handler sees it."""

    method: str
    route: str
    api: Literal["v1.1", "v2"]
    args: Mapping[str, str]  # the path parameters
    params: Mapping[str, str]  # the query (and form body) parameters
    json: Any
    user_id: str | None  # the authenticated user; None for app-only requests
    body: bytes


Handler: TypeAlias = Callable[[FakeXState, Call], "Reply | Json | list[Any]"]


# -- X's error shapes -----------------------------------------------------------------------------


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> Reply:
    """A v2 error in the problem-details shape X uses."""
    return Reply(status, {"title": title, "detail": detail, "type": kind, "status": status})


def refuse(status: int, title: str, detail: str, kind: str = "about:blank") -> Reject:
    """End a v2 request with a `problem`."""
    return Reject(problem(status, title, detail, kind))


def invalid(parameter: str, value: str, message: str) -> Reject:
    """A v2 400 for one invalid parameter, as X words it."""
    return Reject(
        Reply(
            400,
            {
                "errors": [{"parameters": {parameter: [value]}, "message": message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": V2_PROBLEMS + "invalid-request",
            },
        )
    )


def missing(resource: str, parameter: str, value: str) -> Reject:
    """A v2 404 for a write (or a List read) that names a resource that does not exist."""
    return refuse(
        404,
        "Not Found Error",
        f"Could not find {resource} with {parameter}: [{value}].",
        V2_PROBLEMS + "resource-not-found",
    )


def forbidden(detail: str) -> Reject:
    """A v2 403."""
    return refuse(403, "Forbidden", detail)


def lookup_error(resource: str, parameter: str, value: str) -> Json:
    """One v2 ``errors`` entry for a resource that does not exist (sent with HTTP 200)."""
    return {
        "value": value,
        "detail": f"Could not find {resource} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource,
        "parameter": parameter,
        "resource_id": value,
        "type": V2_PROBLEMS + "resource-not-found",
    }


def v1_error(status: int, code: int, message: str) -> Reject:
    """A v1.1 error: the ``errors`` array with X's numeric code."""
    return Reject(Reply(status, {"errors": [{"code": code, "message": message}]}))


# -- routes ---------------------------------------------------------------------------------------


@attrs.frozen
class Route:
    """One verb and path pattern (``:name`` segments are parameters), and its handler.

    v1.1 patterns end in ``.json``, as X's URLs do and as guard decisions name them; the path
    of a request matches with or without it.
    """

    method: str
    pattern: str
    handler: Handler
    user_context: bool
    acting: str | None  # the path parameter that must name the authenticated user
    limit: int  # requests per user (or app) per 15-minute window
    segments: tuple[str, ...] = attrs.field(init=False)

    @segments.default
    def _split(self) -> tuple[str, ...]:
        return tuple(self.pattern.removesuffix(".json").split("/"))

    @property
    def name(self) -> str:
        return f"{self.method} {self.pattern}"

    @property
    def api(self) -> Literal["v1.1", "v2"]:
        return "v2" if self.pattern.startswith("/2/") else "v1.1"

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """The path parameters, if ``segments`` (of a path of the same length) match."""
        args = {}
        for expected, actual in zip(self.segments, segments, strict=True):
            if expected.startswith(":"):
                if not actual:
                    return None
                args[expected[1:]] = urllib.parse.unquote(actual)
            elif expected != actual:
                return None
        return args


class RouteGroup:
    """The routes of one group of handlers, registered with the `route` decorator."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def route(
        self,
        method: str,
        *patterns: str,
        user_context: bool = False,
        acting: str | None = None,
        limit: int | None = None,
    ) -> Callable[[Handler], Handler]:
        """Register the decorated function as the handler of ``method`` on each of ``patterns``.

        Args:
            method: the HTTP verb.
            patterns: paths, parameters written ``:name``; v1.1 paths end in ``.json``. A
                handler of several reads `Call.route` to tell them apart.
            user_context: app-only (bearer token) requests are refused.
            acting: the path parameter that must be the authenticated user (implies
                ``user_context``).
            limit: requests per 15-minute window (900 for reads, 300 for writes).
        """
        user_context = user_context or acting is not None
        limit = limit or (900 if method == "GET" else 300)

        def register(handler: Handler) -> Handler:
            self.routes.extend(
                Route(method, pattern, handler, user_context, acting, limit) for pattern in patterns
            )
            return handler

        return register


class RouteTable:
    """Every route of some groups, found by verb and path."""

    def __init__(self, *groups: RouteGroup) -> None:
        self.routes = tuple(route for group in groups for route in group.routes)
        # By verb and number of path segments, the routes with fewer parameters first
        # ("/2/users/by" before "/2/users/:id"), so adding routes does not slow lookups.
        self._by_shape: dict[tuple[str, int], list[Route]] = {}
        for route in sorted(self.routes, key=lambda route: route.pattern.count("/:")):
            self._by_shape.setdefault((route.method, len(route.segments)), []).append(route)

    @property
    def names(self) -> tuple[str, ...]:
        """Every route, as ``"VERB /pattern"``, in the order registered."""
        return tuple(route.name for route in self.routes)

    def find(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        """The route of ``method path`` and its path parameters; ``None`` for no route."""
        if path.startswith("/1.1/"):
            path = path.removesuffix(".json")
        segments = path.split("/")
        for route in self._by_shape.get((method, len(segments)), ()):
            args = route.match(segments)
            if args is not None:
                return route, args
        return None, {}


class RateLimits:
    """Per route and user (or app) request counts over X's 15-minute windows.

    Args:
        enforced: answer 429 once a window's requests are spent; otherwise only the headers
            count down (and stop at one), unless `exhaust` empties the window.
        clock: the fake's clock: a window resets once it passes the window's reset time.
    """

    def __init__(self, *, enforced: bool, clock: Callable[[], datetime]) -> None:
        self._enforced = enforced
        self._clock = clock
        self._buckets: dict[tuple[str, str], list[int]] = {}  # [remaining, reset time]

    def spend(self, route: Route, user_id: str | None) -> dict[str, str]:
        """Count one request; return the ``x-rate-limit-*`` headers, or raise the 429."""
        now = int(self._clock().timestamp())
        key = (route.name, user_id or "app")
        bucket = self._buckets.get(key)
        if bucket is None or bucket[1] <= now:
            bucket = self._buckets[key] = [route.limit, now + RATE_WINDOW]
        headers = {"x-rate-limit-limit": str(route.limit), "x-rate-limit-reset": str(bucket[1])}
        if bucket[0] <= 0:
            headers["x-rate-limit-remaining"] = "0"
            if route.api == "v1.1":
                reply = Reply(429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]})
            else:
                reply = problem(429, "Too Many Requests", "Too Many Requests")
            raise Reject(attrs.evolve(reply, headers=headers))
        if self._enforced or bucket[0] > 1:
            bucket[0] -= 1
        headers["x-rate-limit-remaining"] = str(bucket[0])
        return headers

    def exhaust(self, route_name: str, key: str) -> None:
        """Spend the window of ``route_name`` for ``key`` (a user ID, or ``"app"``)."""
        self._buckets[(route_name, key)] = [0, int(self._clock().timestamp()) + RATE_WINDOW]

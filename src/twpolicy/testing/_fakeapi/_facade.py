"""`FakeXAPI`, the public face of the fake X API: seeding, clients, inspection, dispatch.

A request comes in through `FakeXAPI.handle` (the transports call it): it is recorded,
answered from a replayed cassette if one has it, else matched against the routing table,
authenticated as X authenticates, counted against the route's rate limit, failed if a test
asked for that, and handed to the route's handler with the shared state.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import attrs

from twpolicy._stores._consent import validate_user_id
from twpolicy.exceptions import ConfigurationError
from twpolicy.testing._fakeapi import _compliance, _v1, _v2, _v2_tweets, _v2_users
from twpolicy.testing._fakeapi._routing import (
    V2_PROBLEMS,
    Call,
    RateLimits,
    Reject,
    Reply,
    Route,
    RouteTable,
    forbidden,
    refuse,
    v1_error,
)
from twpolicy.testing._fakeapi._state import DEFAULT_USER_ID, OTHER_USER_ID, FakeXState, Place, User
from twpolicy.testing._fakeapi._transports import install
from twpolicy.testing._replay import Cassette, ReplayError, ReplayTransport, SentRequest

if TYPE_CHECKING:
    from twpolicy._clients._async import AsyncClient
    from twpolicy._clients._sync import API, Client

__all__ = ["FakeXAPI", "RecordedRequest"]

_Client = TypeVar("_Client")
_APP_BEARER = "twpolicy-fake-app-only-bearer"  # the app-only token of `credentials()`
_ROUTES = RouteTable(_compliance.ROUTES, _v2_tweets.ROUTES, _v2_users.ROUTES, _v1.ROUTES)


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request the fake X API answered, for assertions.

    Attributes:
        method: the HTTP verb.
        url: the full URL, with its query.
        route: the route it matched, as ``"POST /2/users/:id/likes"``; ``None`` when the fake
            does not know it.
        params: the query (and form body) parameters.
        json: the JSON body, decoded; ``None`` when there was none.
        user_id: the authenticated user; ``None`` for app-only (bearer token) requests.
        status: the HTTP status the fake answered with.
    """

    method: str
    url: str
    route: str | None
    params: Mapping[str, str]
    json: Any
    user_id: str | None
    status: int

    @property
    def path(self) -> str:
        """The URL's path (``"/2/tweets"``, ``"/1.1/statuses/update.json"``)."""
        return urllib.parse.urlsplit(self.url).path


class FakeXAPI:
    """An in-memory X API that tweepy clients talk to instead of the network.

    ``install(client)`` connects a `tweepy.Client`, `tweepy.API` or
    `tweepy.asynchronous.AsyncClient` (or twpolicy's drop-in subclasses) to it; nothing else
    about the client changes. Seed data with `add_user`, `add_tweet` and `add_place`; inspect
    what was sent with `requests`, `calls` and `assert_called`.

    Args:
        me: the ID of the user the fixtures authenticate as (``DEFAULT_USER_ID``).
        clock: returns the current, timezone-aware time; tests pass a fake one.
        rate_limits: answer 429 once a route's 15-minute limit is spent, as X does; with
            ``False`` the ``x-rate-limit-*`` headers are still sent but never enforced
            (`exhaust_rate_limit` still works). A spent window is lifted once ``clock``
            passes its reset time.
        app_tokens: app-only bearer tokens accepted besides `app_token()`. Any other
            bearer token that is not a `user_token` is answered 401, as X does.

    Besides ``me``, it starts with one other account (``another_account``) and three places
    (San Francisco, Dogpatch, Austin). Its state is readable for assertions; treat it as
    read-only and seed through the ``add_*`` methods:

    - ``users``, ``tweets``, ``places``, ``lists``: records by ID (a tweet has ``text``,
      ``author_id``, ``created_at``, ``in_reply_to_tweet_id``, ``quote_of``, ``retweet_of``,
      ``place_id``, ``coordinates``, ``media_ids``);
    - ``likes``, ``bookmarks``, ``following``, ``muting``, ``blocking``, ``pinned_lists``,
      ``followed_lists``: the IDs each user has, newest first;
    - ``dm_events``: every DM event, newest first.

    Example::

        fake = FakeXAPI()
        client = fake.install(tweepy.Client(bearer_token="app", consumer_key="k",
            consumer_secret="s", access_token=fake.access_token(), access_token_secret="t"))
        tweet_id = client.create_tweet(text="hello").data["id"]
        assert client.get_tweet(tweet_id).data.text == "hello"
    """

    #: Every route the fake answers, as ``"VERB /pattern"``: named as guard decisions name
    #: their ``operation`` (v1.1 routes end in ``.json``).
    routes: ClassVar[tuple[str, ...]] = _ROUTES.names

    def __init__(
        self,
        *,
        me: str | int = DEFAULT_USER_ID,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        rate_limits: bool = True,
        app_tokens: Iterable[str] = (),
    ) -> None:
        self._state = state = FakeXState(clock)
        self._lock = state.lock
        self._rate_limits = RateLimits(enforced=rate_limits, clock=clock)
        self.me = validate_user_id(me)
        # The state the routes change, readable under the names the class docstring gives:
        # records by ID; the IDs each user has, newest first; DM events and uploads.
        self.users, self.tweets, self.places, self.lists = (
            state.users,
            state.tweets,
            state.places,
            state.lists,
        )
        self.likes, self.bookmarks, self.pinned_lists, self.followed_lists = (
            state.likes,
            state.bookmarks,
            state.pinned_lists,
            state.followed_lists,
        )
        self.following, self.muting, self.blocking = state.following, state.muting, state.blocking
        self.dm_events, self.media = state.dm_events, state.media
        self._user_tokens: dict[str, str] = {}
        self._app_tokens = frozenset({_APP_BEARER, *app_tokens})
        self._requests: list[RecordedRequest] = []
        self._failures: dict[str, list[tuple[int, Any]]] = {}
        self._replay: ReplayTransport | None = None
        self._expected: dict[str, int | None] = {}
        self.add_user(self.me, username="twpolicy_tester", name="twpolicy tester")
        self.add_user(OTHER_USER_ID, username="another_account", name="Another Account")
        self._seed_places()

    def __repr__(self) -> str:
        return (
            f"<FakeXAPI me={self.me} {len(self.users)} users, {len(self.tweets)} tweets, "
            f"{len(self._requests)} requests>"
        )

    # -- seeding ---------------------------------------------------------------------------

    def new_id(self) -> str:
        """A fresh snowflake-like ID, larger than every ID handed out before."""
        return self._state.new_id()

    def add_user(
        self,
        user_id: str | int | None = None,
        *,
        username: str,
        name: str | None = None,
        protected: bool = False,
        description: str = "",
        location: str = "",
    ) -> str:
        """Create an account and return its ID."""
        uid = self.new_id() if user_id is None else validate_user_id(user_id)
        with self._lock:
            if self._state.user_by_name(username) is not None:
                raise ConfigurationError(f"username {username!r} is taken in the fake X API")
            self.users[uid] = User(
                uid,
                username,
                name or username,
                self._state.clock(),
                description=description,
                location=location,
                protected=protected,
            )
        return uid

    def add_tweet(
        self,
        text: str,
        *,
        author_id: str | int | None = None,
        reply_to: str | None = None,
        quote_of: str | None = None,
        place_id: str | None = None,
        coordinates: tuple[float, float] | None = None,
        created_at: datetime | None = None,
    ) -> str:
        """Post a tweet as ``author_id`` (the other seeded account by default); return its ID.

        ``coordinates`` are ``(longitude, latitude)``, as in GeoJSON.
        """
        author = OTHER_USER_ID if author_id is None else validate_user_id(author_id)
        with self._lock:
            if author not in self.users:
                raise ConfigurationError(f"no user {author} in the fake X API; add_user() first")
            if place_id is not None and place_id not in self.places:
                raise ConfigurationError(
                    f"no place {place_id} in the fake X API; add_place() first"
                )
            tweet = self._state.new_tweet(
                text, author, reply_to=reply_to, quote_of=quote_of, place_id=place_id
            )
            tweet.coordinates = coordinates
            if created_at is not None:
                tweet.created_at = created_at
            return tweet.id

    def add_place(
        self,
        place_id: str,
        *,
        full_name: str,
        bbox: tuple[float, float, float, float],
        place_type: str = "city",
        country_code: str = "US",
        country: str = "United States",
        contained_within: Iterable[str] = (),
    ) -> str:
        """Add a place (``bbox`` is west, south, east, north) and return its ID."""
        with self._lock:
            self.places[place_id] = Place(
                place_id,
                full_name.split(",", maxsplit=1)[0],
                full_name,
                place_type,
                country_code,
                country,
                bbox,
                tuple(contained_within),
            )
        return place_id

    # -- compliance: what happens to content on X -------------------------------------------

    def _fact(self, kind: str, **fields: Any) -> None:
        _compliance.record(
            self._state, _compliance.Fact(kind=kind, at=self._state.clock(), **fields)
        )

    def delete_tweet(self, tweet_id: str) -> None:
        """The author deletes a tweet on X: it goes, and compliance reports it ``deleted``."""
        with self._lock:
            tweet = self.tweets.get(tweet_id)
            if tweet is None:
                raise ConfigurationError(f"no tweet {tweet_id} in the fake X API")
            self._state.remove_tweet(tweet_id)
            self._fact(
                "delete",
                tweet_id=tweet_id,
                user_id=tweet.author_id,
                tweet_created_at=tweet.created_at,
            )

    def _user_event(self, kind: str, user_id: str | int, *, protected: bool | None = None) -> None:
        uid = validate_user_id(user_id)
        with self._lock:
            if uid not in self.users:
                raise ConfigurationError(f"no user {uid} in the fake X API; add_user() first")
            if protected is not None:
                self.users[uid].protected = protected
            self._fact(kind, user_id=uid)

    def delete_user(self, user_id: str | int) -> None:
        """The user deactivates their account (``user_delete``)."""
        self._user_event("user_delete", user_id)

    def protect(self, user_id: str | int) -> None:
        """The user protects their account (``user_protect``)."""
        self._user_event("user_protect", user_id, protected=True)

    def unprotect(self, user_id: str | int) -> None:
        """The user makes their account public again (``user_unprotect``)."""
        self._user_event("user_unprotect", user_id, protected=False)

    def suspend(self, user_id: str | int) -> None:
        """X suspends the account (``user_suspend``)."""
        self._user_event("user_suspend", user_id)

    def unsuspend(self, user_id: str | int) -> None:
        """X lifts the suspension (``user_unsuspend``)."""
        self._user_event("user_unsuspend", user_id)

    def withhold(
        self,
        *,
        countries: Iterable[str],
        tweet_id: str | None = None,
        user_id: str | int | None = None,
    ) -> None:
        """A tweet or an account is withheld in ``countries`` (``withheld``, ``user_withheld``)."""
        codes = tuple(sorted(c.upper() for c in countries))
        if tweet_id is not None:
            with self._lock:
                tweet = self.tweets.get(tweet_id)
                if tweet is None:
                    raise ConfigurationError(f"no tweet {tweet_id} in the fake X API")
                self._fact("withheld", tweet_id=tweet_id, user_id=tweet.author_id, countries=codes)
        elif user_id is not None:
            uid = validate_user_id(user_id)
            with self._lock:
                self._fact("user_withheld", user_id=uid, countries=codes)
        else:
            raise ConfigurationError("withhold() needs tweet_id= or user_id=")

    def scrub_geo(self, user_id: str | int, *, up_to_tweet_id: str | None = None) -> None:
        """The user removes the location of their tweets up to ``up_to_tweet_id`` (all)."""
        uid = validate_user_id(user_id)
        with self._lock:
            for tweet in self.tweets.values():
                if tweet.author_id == uid and (
                    up_to_tweet_id is None or int(tweet.id) <= int(up_to_tweet_id)
                ):
                    tweet.place_id = None
                    tweet.coordinates = None
            self._fact("scrub_geo", user_id=uid, up_to_tweet_id=up_to_tweet_id)

    def complete_compliance_jobs(self) -> int:
        """Finish every uploaded batch compliance job now; return how many."""
        with self._lock:
            return _compliance.complete_jobs(self._state)

    @property
    def compliance_facts(self) -> list[_compliance.Fact]:
        """What happened to content so far, oldest first (read-only)."""
        with self._lock:
            return list(_compliance.of(self._state).facts)

    def _seed_places(self) -> None:
        # Real, public place records (as geo/id returns them): no personal data.
        self.add_place(
            "5a110d312052166f",
            full_name="San Francisco, CA",
            bbox=(-122.514926, 37.708075, -122.357031, 37.833238),
        )
        self.add_place(
            "1ffd3558f2e98349",
            full_name="Dogpatch, San Francisco",
            place_type="neighborhood",
            bbox=(-122.39307792, 37.75617303, -122.38228, 37.76530006),
            contained_within=["5a110d312052166f"],
        )
        self.add_place(
            "c3f37afa9efcf94b",
            full_name="Austin, TX",
            bbox=(-97.928935, 30.127892, -97.5805133, 30.5187994),
        )

    def access_token(self, user_id: str | int | None = None) -> str:
        """An OAuth 1.0a access token for ``user_id`` (the fake's ``me`` by default).

        Like X's, it starts with the user's ID, which is how tweepy learns who is acting.
        """
        uid = self.me if user_id is None else validate_user_id(user_id)
        return f"{uid}-twpolicyFakeAccessToken"

    def app_token(self) -> str:
        """An app-only (OAuth 2.0) bearer token this fake accepts."""
        return _APP_BEARER

    def user_token(self, user_id: str | int | None = None) -> str:
        """An OAuth 2.0 user-context bearer token for ``user_id`` (``me`` by default)."""
        uid = self.me if user_id is None else validate_user_id(user_id)
        with self._lock:
            token = f"twpolicy-fake-user-token-{uid}"
            self._user_tokens[token] = uid
        return token

    def credentials(self, user_id: str | int | None = None) -> dict[str, str]:
        """The tweepy constructor arguments for ``user_id`` (``me`` by default).

        An app-only bearer token plus OAuth 1.0a credentials of the user, as
        ``tweepy.Client(**fake.credentials())`` takes them.
        """
        return {
            "bearer_token": _APP_BEARER,
            "consumer_key": "twpolicy-fake-consumer-key",
            "consumer_secret": "twpolicy-fake-consumer-secret",
            "access_token": self.access_token(user_id),
            "access_token_secret": "twpolicy-fake-access-token-secret",
        }

    def client(self, **options: Any) -> Client:
        """A `twpolicy.Client` with ``me``'s credentials, on this fake.

        ``options`` pass on to the constructor (``guard``, ``acting_user_id``,
        ``return_type``, ``wait_on_rate_limit``, ...).
        """
        from twpolicy._clients._sync import Client  # noqa: PLC0415  # tweepy loads only when used

        return self.install(Client(**{**self.credentials(), **options}))

    def async_client(self, **options: Any) -> AsyncClient:
        """A `twpolicy.AsyncClient` with ``me``'s credentials, on this fake."""
        from twpolicy._clients._async import AsyncClient  # noqa: PLC0415  # needs aiohttp

        return self.install(AsyncClient(**{**self.credentials(), **options}))

    def api(self, **options: Any) -> API:
        """A `twpolicy.API` (v1.1) with ``me``'s OAuth 1.0a credentials, on this fake."""
        import tweepy  # noqa: PLC0415  # loads only when used

        from twpolicy._clients._sync import API  # noqa: PLC0415  # ditto

        keys = self.credentials()
        auth = tweepy.OAuth1UserHandler(
            keys["consumer_key"],
            keys["consumer_secret"],
            keys["access_token"],
            keys["access_token_secret"],
        )
        return self.install(API(auth, **options))

    def replay(
        self,
        cassette: str | Path | Cassette,
        *,
        match_on: Sequence[str] = ("method", "host", "path", "query"),
        repeat: bool = False,
    ) -> ReplayTransport:
        """Answer requests that match a recorded VCR cassette from the recording.

        Requests the cassette does not answer fall through to the fake's own routes, so a
        recording and seeded state can serve one test. Returns the replay transport (its
        ``unplayed`` lists the interactions no request used). Later calls replace the
        cassette.

        Args:
            cassette: a cassette file (YAML or JSON, as vcrpy writes them) or a loaded one.
            match_on: what a request must share with a recorded one (see
                ``ReplayTransport``).
            repeat: whether an interaction may answer more than once.
        """
        loaded = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        transport = ReplayTransport(loaded, match_on=match_on, repeat=repeat)
        with self._lock:
            self._replay = transport
        return transport

    def install(self, client: _Client) -> _Client:
        """Connect ``client`` (a tweepy or twpolicy client) to this fake; return it.

        `tweepy.Client` and `tweepy.API` get a transport mounted on their `requests` session;
        `tweepy.asynchronous.AsyncClient` gets an aiohttp session whose connector talks to the
        fake. Any request to a host other than X's fails instead of reaching the network.
        """
        return install(self.handle, client)

    # -- inspection and fault injection ----------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def calls(self, route: str) -> list[RecordedRequest]:
        """The requests that matched ``route`` (``"POST /2/users/:id/likes"``)."""
        name = self._route_name(route)
        return [request for request in self.requests if request.route == name]

    def assert_called(self, route: str, *, times: int | None = None) -> list[RecordedRequest]:
        """Assert ``route`` was requested (``times`` times, if given); return those requests."""
        __tracebackhide__ = True
        found = self.calls(route)
        if not found or (times is not None and len(found) != times):
            sent = "\n".join(f"  {r.method} {r.path} -> {r.status}" for r in self.requests)
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(
                f"expected {route} {wanted}, got {len(found)}; requests sent:\n{sent or '  none'}"
            )
        return found

    def assert_not_called(self, route: str) -> None:
        """Assert ``route`` was never requested."""
        __tracebackhide__ = True
        found = self.calls(route)
        if found:
            raise AssertionError(f"expected no {route}, got {len(found)}: {found}")

    def expect(self, route: str, *, times: int | None = None) -> None:
        """Announce that the test expects requests to ``route`` (at most ``times`` of them).

        Requests to routes never announced are listed by `unexpected_requests` and fail
        `assert_all_requests_expected` (the ``twpolicy`` marker's
        ``assert_all_requests_expected=True`` calls it at teardown).
        """
        name = self._route_name(route)
        with self._lock:
            self._expected[name] = times

    def unexpected_requests(self) -> list[RecordedRequest]:
        """The requests to routes no `expect` announced, and those beyond an expected count."""
        with self._lock:
            seen: dict[str | None, int] = {}
            unexpected = []
            for request in self._requests:
                seen[request.route] = seen.get(request.route, 0) + 1
                if request.route not in self._expected:
                    unexpected.append(request)
                    continue
                limit = self._expected[request.route]
                if limit is not None and seen[request.route] > limit:
                    unexpected.append(request)
            return unexpected

    def assert_all_requests_expected(self) -> None:
        """Assert that every request answered was announced with `expect`."""
        __tracebackhide__ = True
        unexpected = self.unexpected_requests()
        if unexpected:
            lines = "\n".join(
                f"  {r.method} {r.path} ({r.route or 'no such route'}) -> {r.status}"
                for r in unexpected
            )
            raise AssertionError(
                f"the fake X API answered {len(unexpected)} request(s) the test did not "
                f"expect (announce them with fake.expect(route, times=...)):\n{lines}"
            )

    def fail(self, route: str, *, status: int = 503, times: int = 1, body: Any = None) -> None:
        """Make the next ``times`` requests to ``route`` fail with ``status`` (and ``body``)."""
        name = self._route_name(route)
        with self._lock:
            self._failures.setdefault(name, []).extend([(status, body)] * times)

    def exhaust_rate_limit(self, route: str, user_id: str | None = None) -> None:
        """Use up ``route``'s rate limit for ``user_id`` (``me``; ``"app"`` for app-only)."""
        name = self._route_name(route)
        with self._lock:
            self._rate_limits.exhaust(name, user_id or self.me)

    def reset_requests(self) -> None:
        """Forget the recorded requests (state is kept)."""
        with self._lock:
            self._requests.clear()

    @staticmethod
    def _route_name(route: str) -> str:
        method, _, pattern = route.strip().partition(" ")
        name = f"{method.upper()} {pattern.strip()}"
        if name not in _ROUTES.names:
            raise ConfigurationError(f"the fake X API has no route {route!r}; see FakeXAPI.routes")
        return name

    # -- the transport-facing entry point --------------------------------------------------

    def handle(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: return the status, headers and body of the response."""
        method = method.upper()
        parts = urllib.parse.urlsplit(url)
        params = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        header = {key.lower(): value for key, value in headers.items()}
        content_type = header.get("content-type", "")
        payload: Any = None
        if body and content_type.startswith("application/json"):
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
        elif body and content_type.startswith("application/x-www-form-urlencoded"):
            params.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        path = parts.path
        if parts.hostname == _compliance.STORAGE_HOST:
            return self._storage(method, url, params, body)
        with self._lock:
            route, args = _ROUTES.find(method, path)
            user_id: str | None = None
            recorded = self._replayed(method, url, header, body)
            if recorded is not None:
                reply = recorded
                user_id = self._identify(header)
            elif route is None:
                reply = self._unknown_route(method, path)
            else:
                try:
                    user_id = self._authenticate(route, header)
                    call = Call(method, route.name, route.api, args, params, payload, user_id, body)
                    reply = self._answer(route, call)
                except Reject as rejected:
                    reply = rejected.reply
            self._requests.append(
                RecordedRequest(
                    method=method,
                    url=url,
                    route=route.name if route else None,
                    params=params,
                    json=payload,
                    user_id=user_id,
                    status=reply.status,
                )
            )
        response_headers = {"content-type": "application/json;charset=utf-8", **reply.headers}
        if isinstance(reply.body, bytes):  # a recorded body, served as it was recorded
            data = reply.body
        else:
            data = b"" if reply.body is None else json.dumps(reply.body).encode("utf-8")
        return reply.status, response_headers, data

    def _storage(
        self, method: str, url: str, params: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """A signed URL of a batch compliance job: no credentials, no rate limit."""
        with self._lock:
            status, headers, data = _compliance.storage(self._state, method, url, body)
            self._requests.append(
                RecordedRequest(
                    method=method,
                    url=url,
                    route=None,
                    params=params,
                    json=None,
                    user_id=None,
                    status=status,
                )
            )
        return status, headers, data

    def _replayed(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Reply | None:
        """The recorded answer to this request, if a replayed cassette has one."""
        if self._replay is None:
            return None
        try:
            answer = self._replay.respond(SentRequest(method, url, dict(headers), body or None))
        except ReplayError:
            return None
        merged: dict[str, str] = {}
        for name, value in answer.headers:
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return Reply(answer.status, answer.body, merged)

    def _answer(self, route: Route, call: Call) -> Reply:
        """Check who acts and the rate limit, apply injected failures, then run the handler."""
        if route.acting is not None and call.args[route.acting] != call.user_id:
            raise self._not_you(route, call.args[route.acting], call.user_id)
        if route.api == "v2":
            _v2.check_fields(call)
        limit_headers = self._rate_limits.spend(route, call.user_id)
        failures = self._failures.get(route.name)
        if failures:
            status, failure_body = failures.pop(0)
            body = failure_body or self._failure_body(route, status)
            raise Reject(Reply(status, body, limit_headers))
        result = route.handler(self._state, call)
        reply = result if isinstance(result, Reply) else Reply(200, result)
        return attrs.evolve(reply, headers={**limit_headers, **reply.headers})

    def _unknown_route(self, method: str, path: str) -> Reply:
        version = "/2/" if path.startswith("/2/") else "/1.1/"
        known = [name for name in self.routes if name.split(" ", 1)[1].startswith(version)]
        message = (
            f"Sorry, that page does not exist: twpolicy's fake X API does not answer "
            f"{method} {path}. It answers: {', '.join(known)}."
        )
        return Reply(404, {"errors": [{"code": 34, "message": message}], "known_routes": known})

    def _identify(self, headers: Mapping[str, str]) -> str | None:
        """The user the credentials belong to: ``None`` for app-only or unknown ones."""
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme == "OAuth":
            token = urllib.parse.unquote(_oauth_param(credentials, "oauth_token") or "")
            uid = token.partition("-")[0]
            return uid if uid in self.users else None
        return self._user_tokens.get(credentials) if scheme == "Bearer" else None

    def _authenticate(self, route: Route, headers: Mapping[str, str]) -> str | None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        user_id = self._identify(headers)
        if (scheme == "OAuth" and user_id is None) or scheme not in ("OAuth", "Bearer"):
            raise self._unauthorized(route)
        if scheme == "Bearer" and user_id is None and credentials not in self._app_tokens:
            raise self._unauthorized(route)
        if route.user_context and user_id is None:
            if route.api == "v1.1":
                raise v1_error(403, 220, "Your credentials do not allow access to this resource.")
            raise refuse(
                403,
                "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                "endpoint.  Supported authentication types are [OAuth 1.0a User Context, "
                "OAuth 2.0 User Context].",
                V2_PROBLEMS + "unsupported-authentication",
            )
        return user_id

    @staticmethod
    def _unauthorized(route: Route) -> Reject:
        if route.api == "v1.1":
            return v1_error(401, 89, "Invalid or expired token.")
        return refuse(401, "Unauthorized", "Unauthorized")

    @staticmethod
    def _not_you(route: Route, named: str, user_id: str | None) -> Reject:
        return forbidden(
            f"The `{route.acting}` path parameter value [{named}] is not the same as the "
            f"authenticated user [{user_id}]: an application can only act as the user "
            "who authorized it."
        )

    @staticmethod
    def _failure_body(route: Route, status: int) -> Any:
        if route.api == "v1.1":
            return {"errors": [{"code": 131, "message": "Internal error"}]}
        title = {500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
        return {"title": title, "detail": title, "type": "about:blank", "status": status}


def _oauth_param(credentials: str, name: str) -> str | None:
    for part in credentials.split(","):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip('"')
    return None

"""A fake X API for tests: the v2 and v1.1 routes tweepy uses, answered in memory.

It sits *below* tweepy, as the transport of the client's HTTP session (a requests adapter for
`tweepy.Client` and `tweepy.API`, an aiohttp connector for `tweepy.asynchronous.AsyncClient`),
so every line of tweepy and twpolicy runs as in production: nothing but the network is fake.

It is stateful (a tweet created can be read, liked, deleted), answers with payloads shaped like
recorded ones (status codes, ``errors`` arrays, ``meta.next_token``, ``x-rate-limit-*``
headers), checks authentication the way X does (app-only bearer versus user context, acting
only as the authenticated user), and records every request for assertions. A route it does not
know answers 404 with a message listing the ones it does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
import inspect
import io
import itertools
import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias, TypeVar

import attrs
import requests
import requests.adapters
import urllib3

from twpolicy._stores._consent import validate_user_id
from twpolicy.exceptions import ConfigurationError

if TYPE_CHECKING:
    from twpolicy._clients._async import AsyncClient
    from twpolicy._clients._sync import API, Client
    from twpolicy.testing._replay import Cassette, ReplayTransport

__all__ = ["DEFAULT_USER_ID", "FakeXAPI", "RecordedRequest"]

Json: TypeAlias = dict[str, Any]
_Client = TypeVar("_Client")

#: The user the fake authenticates by default: the acting user of the pytest fixtures.
DEFAULT_USER_ID = "1500000000000000001"
_OTHER_USER_ID = "1500000000000000002"

#: The hosts the fake answers for; any other host is refused by the transports.
HOSTS = frozenset({"api.twitter.com", "upload.twitter.com", "api.x.com", "upload.x.com"})

_V2_PROBLEMS = "https://api.twitter.com/2/problems/"
_APP_BEARER = "twpolicy-fake-app-only-bearer"  # any bearer token not a user's is app-only
_RATE_WINDOW = 15 * 60
_ID_STEP = 1 << 22  # snowflake IDs made in the same millisecond differ by the sequence bits
_MAX_TEXT = 280
_MAX_IDS = 100  # IDs or usernames one v2 lookup takes
_EDIT_WINDOW = timedelta(hours=1)
_PAGE_MARK = "7140dibdnow9c7btw"

_TWEET_FIELDS = frozenset(
    {
        "attachments",
        "author_id",
        "context_annotations",
        "conversation_id",
        "created_at",
        "edit_controls",
        "edit_history_tweet_ids",
        "entities",
        "geo",
        "id",
        "in_reply_to_user_id",
        "lang",
        "possibly_sensitive",
        "public_metrics",
        "referenced_tweets",
        "reply_settings",
        "source",
        "text",
        "withheld",
    }
)
_USER_FIELDS = frozenset(
    {
        "created_at",
        "description",
        "entities",
        "id",
        "location",
        "name",
        "pinned_tweet_id",
        "profile_image_url",
        "protected",
        "public_metrics",
        "url",
        "username",
        "verified",
        "withheld",
    }
)
_PLACE_FIELDS = frozenset(
    {"contained_within", "country", "country_code", "full_name", "geo", "id", "name", "place_type"}
)
_LIST_FIELDS = frozenset(
    {
        "created_at",
        "description",
        "follower_count",
        "id",
        "member_count",
        "name",
        "owner_id",
        "private",
    }
)
_DM_FIELDS = frozenset(
    {"attachments", "created_at", "dm_conversation_id", "event_type", "id", "participant_ids",
     "referenced_tweets", "sender_id", "text"}
)  # fmt: skip
_MEDIA_FIELDS = frozenset(
    {"alt_text", "duration_ms", "height", "media_key", "non_public_metrics", "organic_metrics",
     "preview_image_url", "promoted_metrics", "public_metrics", "type", "url", "variants", "width"}
)  # fmt: skip
_POLL_FIELDS = frozenset({"duration_minutes", "end_datetime", "id", "options", "voting_status"})
_TWEET_EXPANSIONS = frozenset(
    {
        "attachments.media_keys",
        "attachments.poll_ids",
        "author_id",
        "edit_history_tweet_ids",
        "entities.mentions.username",
        "geo.place_id",
        "in_reply_to_user_id",
        "referenced_tweets.id",
        "referenced_tweets.id.author_id",
    }
)
#: Every ``*.fields`` parameter and the values X accepts for it.
_FIELDS: Mapping[str, frozenset[str]] = {
    "tweet.fields": _TWEET_FIELDS,
    "user.fields": _USER_FIELDS,
    "place.fields": _PLACE_FIELDS,
    "list.fields": _LIST_FIELDS,
    "dm_event.fields": _DM_FIELDS,
    "media.fields": _MEDIA_FIELDS,
    "poll.fields": _POLL_FIELDS,
}
_EXPANSIONS: Mapping[str, frozenset[str]] = {
    "tweet": _TWEET_EXPANSIONS,
    "user": frozenset({"pinned_tweet_id"}),
    "list": frozenset({"owner_id"}),
    "dm": frozenset(
        {"sender_id", "participant_ids", "referenced_tweets.id", "attachments.media_keys"}
    ),
}


@attrs.define
class _User:
    id: str
    username: str
    name: str
    created_at: datetime
    description: str = ""
    location: str = ""
    url: str = ""
    protected: bool = False
    verified: bool = False
    pinned_tweet_id: str | None = None


@attrs.define
class _Tweet:
    id: str
    text: str
    author_id: str
    created_at: datetime
    conversation_id: str
    source: str = "twpolicy-tests"
    lang: str = "en"
    reply_settings: str = "everyone"
    in_reply_to_tweet_id: str | None = None
    in_reply_to_user_id: str | None = None
    retweet_of: str | None = None
    quote_of: str | None = None
    place_id: str | None = None
    coordinates: tuple[float, float] | None = None  # (longitude, latitude), as GeoJSON
    media_ids: tuple[str, ...] = ()
    hidden: bool = False


@attrs.define
class _Place:
    id: str
    name: str
    full_name: str
    place_type: str
    country_code: str
    country: str
    bbox: tuple[float, float, float, float]  # west, south, east, north
    contained_within: tuple[str, ...] = ()

    def contains(self, longitude: float, latitude: float) -> bool:
        west, south, east, north = self.bbox
        return west <= longitude <= east and south <= latitude <= north

    def area(self) -> float:
        west, south, east, north = self.bbox
        return (east - west) * (north - south)


@attrs.define
class _List:
    id: str
    name: str
    owner_id: str
    created_at: datetime
    description: str = ""
    private: bool = False
    members: list[str] = attrs.Factory(list)
    followers: list[str] = attrs.Factory(list)


@attrs.define
class _DMEvent:
    id: str
    event_type: str
    conversation_id: str
    created_at: datetime
    sender_id: str | None = None
    text: str | None = None
    participant_ids: tuple[str, ...] = ()
    recipient_id: str | None = None


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


class _Reject(Exception):
    """Ends a request early with ``reply`` (an error response)."""

    def __init__(self, reply: _Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@attrs.frozen
class _Reply:
    status: int
    body: Any = None
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class _Call:
    method: str
    route: str
    api: Literal["v1.1", "v2"]
    args: Mapping[str, str]
    params: Mapping[str, str]
    json: Any
    user_id: str | None
    body: bytes


Handler: TypeAlias = Callable[["FakeXAPI", _Call], "_Reply | Json | list[Any]"]


@attrs.frozen
class _Route:
    method: str
    pattern: str
    handler: Handler
    user_context: bool
    acting: str | None  # the path parameter that must name the authenticated user
    limit: int
    segments: tuple[str, ...] = attrs.field(init=False)

    @segments.default
    def _split(self) -> tuple[str, ...]:
        return tuple(self.pattern.split("/"))

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


_ROUTES: list[_Route] = []
# The routes by verb and number of path segments, the ones with fewer parameters first
# ("/2/users/by" before "/2/users/:id"): built once every route is registered.
_BY_SHAPE: dict[tuple[str, int], list[_Route]] = {}


def _route(
    method: str,
    pattern: str,
    *,
    user_context: bool = False,
    acting: str | None = None,
    limit: int | None = None,
) -> Callable[[Handler], Handler]:
    """Register the decorated method as the handler of ``method pattern``."""

    def register(handler: Handler) -> Handler:
        default = 900 if method == "GET" else 300
        _ROUTES.append(
            _Route(
                method,
                pattern,
                handler,
                user_context or acting is not None,
                acting,
                limit or default,
            )
        )
        return handler

    return register


def _v2_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _v1_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%a %b %d %H:%M:%S +0000 %Y")


def _problem(status: int, title: str, detail: str, kind: str = "about:blank") -> _Reply:
    """A v2 error in the problem-details shape X uses."""
    return _Reply(status, {"title": title, "detail": detail, "type": kind, "status": status})


def _invalid(parameter: str, value: str, message: str) -> _Reject:
    """A v2 400 for one invalid parameter, as X words it."""
    return _Reject(
        _Reply(
            400,
            {
                "errors": [{"parameters": {parameter: [value]}, "message": message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": _V2_PROBLEMS + "invalid-request",
            },
        )
    )


def _v1_error(status: int, code: int, message: str) -> _Reject:
    return _Reject(_Reply(status, {"errors": [{"code": code, "message": message}]}))


def _not_found(resource: str, parameter: str, value: str) -> Json:
    """One v2 ``errors`` entry for a resource that does not exist (sent with HTTP 200)."""
    return {
        "value": value,
        "detail": f"Could not find {resource} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource,
        "parameter": parameter,
        "resource_id": value,
        "type": _V2_PROBLEMS + "resource-not-found",
    }


_HASHTAG = re.compile(r"(?<!\w)#(\w+)")
_MENTION = re.compile(r"(?<!\w)@(\w{1,15})")


def _entities_v2(text: str) -> Json:
    found: Json = {}
    hashtags = [{"start": m.start(), "end": m.end(), "tag": m[1]} for m in _HASHTAG.finditer(text)]
    mentions = [
        {"start": m.start(), "end": m.end(), "username": m[1]} for m in _MENTION.finditer(text)
    ]
    if hashtags:
        found["hashtags"] = hashtags
    if mentions:
        found["mentions"] = mentions
    return found


def _token(offset: int) -> str:
    return _PAGE_MARK + format(offset, "x")


def _offset(token: str | None, parameter: str) -> int:
    if token is None:
        return 0
    if not token.startswith(_PAGE_MARK):
        raise _invalid(
            parameter, token, f"The `{parameter}` query parameter value [{token}] is not valid"
        )
    try:
        return int(token[len(_PAGE_MARK) :], 16)
    except ValueError:
        raise _invalid(
            parameter, token, f"The `{parameter}` query parameter value [{token}] is not valid"
        ) from None


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
            (`exhaust_rate_limit` still works).

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

    #: Every route the fake answers, as ``"VERB /pattern"``.
    routes: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        *,
        me: str | int = DEFAULT_USER_ID,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        rate_limits: bool = True,
    ) -> None:
        self._lock = threading.RLock()
        self._rate_limits = rate_limits
        self._clock = clock
        self._ids = itertools.count(1_750_000_000_000_000_000, _ID_STEP)
        self.me = validate_user_id(me)
        self.users: dict[str, _User] = {}
        self.tweets: dict[str, _Tweet] = {}
        self.places: dict[str, _Place] = {}
        self.lists: dict[str, _List] = {}
        self.dm_events: list[_DMEvent] = []
        self.media: dict[str, Json] = {}
        self.likes: dict[str, list[str]] = {}
        self.bookmarks: dict[str, list[str]] = {}
        self.following: dict[str, list[str]] = {}
        self.muting: dict[str, list[str]] = {}
        self.blocking: dict[str, list[str]] = {}
        self.pinned_lists: dict[str, list[str]] = {}
        self.followed_lists: dict[str, list[str]] = {}
        self._user_tokens: dict[str, str] = {}
        self._requests: list[RecordedRequest] = []
        self._failures: dict[str, list[tuple[int, Any]]] = {}
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._replay: ReplayTransport | None = None
        self._posted: dict[tuple[str, str], int] = {}  # live tweets per (author, text)
        self.add_user(self.me, username="twpolicy_tester", name="twpolicy tester")
        self.add_user(_OTHER_USER_ID, username="another_account", name="Another Account")
        self._seed_places()

    def __repr__(self) -> str:
        return (
            f"<FakeXAPI me={self.me} {len(self.users)} users, {len(self.tweets)} tweets, "
            f"{len(self._requests)} requests>"
        )

    # -- seeding ---------------------------------------------------------------------------

    def new_id(self) -> str:
        """A fresh snowflake-like ID, larger than every ID handed out before."""
        with self._lock:
            return str(next(self._ids))

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
            if self._user_by_name(username) is not None:
                raise ConfigurationError(f"username {username!r} is taken in the fake X API")
            self.users[uid] = _User(
                uid,
                username,
                name or username,
                self._clock(),
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
        author = _OTHER_USER_ID if author_id is None else validate_user_id(author_id)
        with self._lock:
            if author not in self.users:
                raise ConfigurationError(f"no user {author} in the fake X API; add_user() first")
            if place_id is not None and place_id not in self.places:
                raise ConfigurationError(
                    f"no place {place_id} in the fake X API; add_place() first"
                )
            tweet = self._new_tweet(
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
            self.places[place_id] = _Place(
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
        # Imported here: only replaying needs the replay transport (and what it imports).
        from twpolicy.testing._replay import Cassette, ReplayTransport  # noqa: PLC0415

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
        session = getattr(client, "session", None)
        if isinstance(session, requests.Session):
            _install_requests(self, session)
        elif inspect.iscoroutinefunction(getattr(client, "request", None)):
            client.session = _AiohttpSession(self)  # type: ignore[attr-defined]  # tweepy's AsyncClient
        else:
            raise ConfigurationError(
                f"cannot install the fake X API on {type(client).__name__}: expected a "
                "tweepy.Client, tweepy.API or tweepy.asynchronous.AsyncClient"
            )
        return client

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

    def fail(self, route: str, *, status: int = 503, times: int = 1, body: Any = None) -> None:
        """Make the next ``times`` requests to ``route`` fail with ``status`` (and ``body``)."""
        name = self._route_name(route)
        with self._lock:
            self._failures.setdefault(name, []).extend([(status, body)] * times)

    def exhaust_rate_limit(self, route: str, user_id: str | None = None) -> None:
        """Use up ``route``'s rate limit for ``user_id`` (``me``; ``"app"`` for app-only)."""
        name = self._route_name(route)
        with self._lock:
            self._buckets[(name, user_id or self.me)] = [0, int(time.time()) + _RATE_WINDOW]

    def reset_requests(self) -> None:
        """Forget the recorded requests (state is kept)."""
        with self._lock:
            self._requests.clear()

    @staticmethod
    def _route_name(route: str) -> str:
        method, _, pattern = route.strip().partition(" ")
        name = f"{method.upper()} {pattern.strip()}"
        if name not in FakeXAPI.routes:
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
        if path.startswith("/1.1/") and path.endswith(".json"):
            path = path[: -len(".json")]
        with self._lock:
            route, args = self._match(method, path)
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
                    call = _Call(
                        method, route.name, route.api, args, params, payload, user_id, body
                    )
                    reply = self._answer(route, call)
                except _Reject as rejected:
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

    def _replayed(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> _Reply | None:
        """The recorded answer to this request, if a replayed cassette has one."""
        if self._replay is None:
            return None
        from twpolicy.testing._replay import ReplayError, SentRequest  # noqa: PLC0415  # loaded by replay()

        try:
            answer = self._replay.respond(SentRequest(method, url, dict(headers), body or None))
        except ReplayError:
            return None
        merged: dict[str, str] = {}
        for name, value in answer.headers:
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return _Reply(answer.status, answer.body, merged)

    @staticmethod
    def _match(method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        segments = path.split("/")
        for route in _BY_SHAPE.get((method, len(segments)), ()):
            args = route.match(segments)
            if args is not None:
                return route, args
        return None, {}

    def _answer(self, route: _Route, call: _Call) -> _Reply:
        """Check who acts and the rate limit, apply injected failures, then run the handler."""
        if route.acting is not None and call.args[route.acting] != call.user_id:
            raise self._not_you(route, call.args[route.acting], call.user_id)
        if route.api == "v2":
            for name in call.params.keys() & _FIELDS.keys():
                self._wanted(call, name, _FIELDS[name])
        limit_headers = self._spend(route, call.user_id)
        failures = self._failures.get(route.name)
        if failures:
            status, failure_body = failures.pop(0)
            body = failure_body or self._failure_body(route, status)
            raise _Reject(_Reply(status, body, limit_headers))
        result = route.handler(self, call)
        reply = result if isinstance(result, _Reply) else _Reply(200, result)
        return attrs.evolve(reply, headers={**limit_headers, **reply.headers})

    def _unknown_route(self, method: str, path: str) -> _Reply:
        version = "/2/" if path.startswith("/2/") else "/1.1/"
        known = [name for name in self.routes if name.split(" ", 1)[1].startswith(version)]
        message = (
            f"Sorry, that page does not exist: twpolicy's fake X API does not answer "
            f"{method} {path}. It answers: {', '.join(known)}."
        )
        return _Reply(404, {"errors": [{"code": 34, "message": message}], "known_routes": known})

    def _identify(self, headers: Mapping[str, str]) -> str | None:
        """The user the credentials belong to: ``None`` for app-only or unknown ones."""
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme == "OAuth":
            token = urllib.parse.unquote(_oauth_param(credentials, "oauth_token") or "")
            uid = token.partition("-")[0]
            return uid if uid in self.users else None
        return self._user_tokens.get(credentials) if scheme == "Bearer" else None

    def _authenticate(self, route: _Route, headers: Mapping[str, str]) -> str | None:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        user_id = self._identify(headers)
        if (scheme == "OAuth" and user_id is None) or scheme not in ("OAuth", "Bearer"):
            raise self._unauthorized(route)
        if scheme == "Bearer" and credentials in ("", "None"):
            raise self._unauthorized(route)
        if route.user_context and user_id is None:
            if route.api == "v1.1":
                raise _v1_error(403, 220, "Your credentials do not allow access to this resource.")
            raise _Reject(
                _problem(
                    403,
                    "Unsupported Authentication",
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this "
                    "endpoint.  Supported authentication types are [OAuth 1.0a User Context, "
                    "OAuth 2.0 User Context].",
                    _V2_PROBLEMS + "unsupported-authentication",
                )
            )
        return user_id

    @staticmethod
    def _unauthorized(route: _Route) -> _Reject:
        if route.api == "v1.1":
            return _v1_error(401, 89, "Invalid or expired token.")
        return _Reject(_problem(401, "Unauthorized", "Unauthorized"))

    @staticmethod
    def _not_you(route: _Route, named: str, user_id: str | None) -> _Reject:
        return _Reject(
            _problem(
                403,
                "Forbidden",
                f"The `{route.acting}` path parameter value [{named}] is not the same as the "
                f"authenticated user [{user_id}]: an application can only act as the user "
                "who authorized it.",
            )
        )

    def _spend(self, route: _Route, user_id: str | None) -> dict[str, str]:
        now = int(time.time())
        key = (route.name, user_id or "app")
        bucket = self._buckets.get(key)
        if bucket is None or bucket[1] <= now:
            bucket = self._buckets[key] = [route.limit, now + _RATE_WINDOW]
        headers = {"x-rate-limit-limit": str(route.limit), "x-rate-limit-reset": str(bucket[1])}
        if bucket[0] <= 0:
            headers["x-rate-limit-remaining"] = "0"
            if route.api == "v1.1":
                reply = _Reply(429, {"errors": [{"code": 88, "message": "Rate limit exceeded"}]})
            else:
                reply = _problem(429, "Too Many Requests", "Too Many Requests")
            raise _Reject(attrs.evolve(reply, headers=headers))
        if self._rate_limits or bucket[0] > 1:
            bucket[0] -= 1
        headers["x-rate-limit-remaining"] = str(bucket[0])
        return headers

    @staticmethod
    def _failure_body(route: _Route, status: int) -> Any:
        if route.api == "v1.1":
            return {"errors": [{"code": 131, "message": "Internal error"}]}
        title = {500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
        return {"title": title, "detail": title, "type": "about:blank", "status": status}

    # -- lookups shared by the handlers ----------------------------------------------------

    def _user_by_name(self, username: str) -> _User | None:
        wanted = username.lower()
        return next((u for u in self.users.values() if u.username.lower() == wanted), None)

    def _new_tweet(
        self,
        text: str,
        author_id: str,
        *,
        reply_to: str | None = None,
        quote_of: str | None = None,
        retweet_of: str | None = None,
        place_id: str | None = None,
    ) -> _Tweet:
        tid = self.new_id()
        conversation = tid
        reply_user = None
        if reply_to is not None:
            parent = self.tweets[reply_to]
            conversation, reply_user = parent.conversation_id, parent.author_id
        tweet = _Tweet(
            tid,
            text,
            author_id,
            self._clock(),
            conversation,
            in_reply_to_tweet_id=reply_to,
            in_reply_to_user_id=reply_user,
            quote_of=quote_of,
            retweet_of=retweet_of,
            place_id=place_id,
        )
        self.tweets[tid] = tweet
        if retweet_of is None:
            key = (author_id, text)
            self._posted[key] = self._posted.get(key, 0) + 1
        return tweet

    def _visible_tweets(self) -> list[_Tweet]:
        """Every tweet, newest first (IDs grow with creation, so insertion order is ID order)."""
        return list(reversed(self.tweets.values()))

    def _counts(self, tweet: _Tweet) -> Json:
        others = self.tweets.values()
        return {
            "retweet_count": sum(1 for t in others if t.retweet_of == tweet.id),
            "reply_count": sum(1 for t in others if t.in_reply_to_tweet_id == tweet.id),
            "like_count": sum(1 for liked in self.likes.values() if tweet.id in liked),
            "quote_count": sum(1 for t in others if t.quote_of == tweet.id),
        }

    def _duplicate(self, author_id: str, text: str) -> bool:
        return self._posted.get((author_id, text), 0) > 0

    # -- v2 rendering ----------------------------------------------------------------------

    @staticmethod
    def _wanted(call: _Call, name: str, allowed: frozenset[str]) -> frozenset[str]:
        values = frozenset(v for v in call.params.get(name, "").split(",") if v)
        unknown = sorted(values - allowed)
        if unknown:
            raise _invalid(
                name,
                unknown[0],
                f"The `{name}` query parameter value [{unknown[0]}] is not one of "
                f"[{','.join(sorted(allowed))}]",
            )
        return values

    def _v2_tweet(self, tweet: _Tweet, fields: frozenset[str]) -> Json:
        out: Json = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
        optional: dict[str, Callable[[], Any]] = {
            "author_id": lambda: tweet.author_id,
            "created_at": lambda: _v2_time(tweet.created_at),
            "conversation_id": lambda: tweet.conversation_id,
            "lang": lambda: tweet.lang,
            "source": lambda: tweet.source,
            "reply_settings": lambda: tweet.reply_settings,
            "possibly_sensitive": lambda: False,
            "public_metrics": lambda: self._counts(tweet),
            "edit_controls": lambda: {
                "edits_remaining": 5,
                "is_edit_eligible": tweet.retweet_of is None,
                "editable_until": _v2_time(tweet.created_at + _EDIT_WINDOW),
            },
        }
        for name in sorted(fields & optional.keys()):
            out[name] = optional[name]()
        if "in_reply_to_user_id" in fields and tweet.in_reply_to_user_id is not None:
            out["in_reply_to_user_id"] = tweet.in_reply_to_user_id
        references = self._references(tweet)
        if "referenced_tweets" in fields and references:
            out["referenced_tweets"] = [{"type": kind, "id": tid} for kind, tid in references]
        if "entities" in fields and (entities := _entities_v2(tweet.text)):
            out["entities"] = entities
        if "attachments" in fields and tweet.media_ids:
            out["attachments"] = {"media_keys": [f"3_{media}" for media in tweet.media_ids]}
        if "geo" in fields and (tweet.place_id or tweet.coordinates):
            geo: Json = {}
            if tweet.place_id:
                geo["place_id"] = tweet.place_id
            if tweet.coordinates:
                geo["coordinates"] = {"type": "Point", "coordinates": list(tweet.coordinates)}
            out["geo"] = geo
        return out

    @staticmethod
    def _references(tweet: _Tweet) -> list[tuple[str, str]]:
        found = []
        if tweet.retweet_of:
            found.append(("retweeted", tweet.retweet_of))
        if tweet.quote_of:
            found.append(("quoted", tweet.quote_of))
        if tweet.in_reply_to_tweet_id:
            found.append(("replied_to", tweet.in_reply_to_tweet_id))
        return found

    def _v2_user(self, user: _User, fields: frozenset[str]) -> Json:
        out: Json = {"id": user.id, "name": user.name, "username": user.username}
        optional: dict[str, Callable[[], Any]] = {
            "created_at": lambda: _v2_time(user.created_at),
            "description": lambda: user.description,
            "location": lambda: user.location,
            "profile_image_url": lambda: (
                f"https://pbs.twimg.com/profile_images/{user.id}/avatar_normal.jpg"
            ),
            "protected": lambda: user.protected,
            "public_metrics": lambda: self._user_counts(user.id),
            "url": lambda: user.url,
            "verified": lambda: user.verified,
        }
        for name in sorted(fields & optional.keys()):
            out[name] = optional[name]()
        if "pinned_tweet_id" in fields and user.pinned_tweet_id:
            out["pinned_tweet_id"] = user.pinned_tweet_id
        return out

    def _user_counts(self, user_id: str) -> Json:
        return {
            "followers_count": sum(1 for f in self.following.values() if user_id in f),
            "following_count": len(self.following.get(user_id, ())),
            "tweet_count": sum(1 for t in self.tweets.values() if t.author_id == user_id),
            "listed_count": sum(1 for lst in self.lists.values() if user_id in lst.members),
        }

    @staticmethod
    def _v2_place(place: _Place, fields: frozenset[str]) -> Json:
        out: Json = {"id": place.id, "full_name": place.full_name}
        optional: Json = {
            "name": place.name,
            "country": place.country,
            "country_code": place.country_code,
            "place_type": place.place_type,
            "geo": {"type": "Feature", "bbox": list(place.bbox), "properties": {}},
        }
        out.update({name: optional[name] for name in sorted(fields & optional.keys())})
        if "contained_within" in fields and place.contained_within:
            out["contained_within"] = list(place.contained_within)
        return out

    def _v2_list(self, lst: _List, fields: frozenset[str]) -> Json:
        out: Json = {"id": lst.id, "name": lst.name}
        optional: Json = {
            "created_at": _v2_time(lst.created_at),
            "description": lst.description,
            "follower_count": len(lst.followers),
            "member_count": len(lst.members),
            "owner_id": lst.owner_id,
            "private": lst.private,
        }
        out.update({name: optional[name] for name in sorted(fields & optional.keys())})
        return out

    @staticmethod
    def _v2_dm(event: _DMEvent, fields: frozenset[str]) -> Json:
        out: Json = {"id": event.id, "event_type": event.event_type}
        if event.text is not None:
            out["text"] = event.text
        optional: Json = {
            "created_at": _v2_time(event.created_at),
            "dm_conversation_id": event.conversation_id,
            "sender_id": event.sender_id,
            "participant_ids": list(event.participant_ids),
        }
        for name in sorted(fields & optional.keys()):
            if optional[name]:
                out[name] = optional[name]
        return out

    def _expanded_users(self, tweet: _Tweet, expansions: frozenset[str]) -> list[str]:
        """The IDs of the users ``expansions`` pull in for ``tweet``."""
        found = []
        if "author_id" in expansions:
            found.append(tweet.author_id)
        if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
            found.append(tweet.in_reply_to_user_id)
        if "entities.mentions.username" in expansions:
            mentioned = (self._user_by_name(name) for name in _MENTION.findall(tweet.text))
            found.extend(user.id for user in mentioned if user is not None)
        if "referenced_tweets.id.author_id" in expansions:
            referenced = (self.tweets.get(tid) for _, tid in self._references(tweet))
            found.extend(t.author_id for t in referenced if t is not None)
        return [uid for uid in found if uid in self.users]

    def _tweet_includes(self, call: _Call, tweets: list[_Tweet]) -> Json:
        expansions = self._wanted(call, "expansions", _TWEET_EXPANSIONS)
        shown = {t.id for t in tweets}
        users = {uid: None for t in tweets for uid in self._expanded_users(t, expansions)}
        places = {
            t.place_id: None
            for t in tweets
            if "geo.place_id" in expansions and t.place_id in self.places
        }
        included = {
            tid: None
            for t in tweets
            for _, tid in self._references(t)
            if "referenced_tweets.id" in expansions and tid in self.tweets and tid not in shown
        }
        includes: Json = {}
        if users:
            fields = self._wanted(call, "user.fields", _USER_FIELDS)
            includes["users"] = [self._v2_user(self.users[u], fields) for u in users]
        if places:
            fields = self._wanted(call, "place.fields", _PLACE_FIELDS)
            includes["places"] = [self._v2_place(self.places[p], fields) for p in places if p]
        if included:
            fields = self._wanted(call, "tweet.fields", _TWEET_FIELDS)
            includes["tweets"] = [self._v2_tweet(self.tweets[t], fields) for t in included]
        return includes

    def _tweets_body(
        self,
        call: _Call,
        tweets: list[_Tweet],
        *,
        many: bool = True,
        errors: list[Json] | None = None,
        meta: Json | None = None,
    ) -> Json:
        fields = self._wanted(call, "tweet.fields", _TWEET_FIELDS)
        body: Json = {}
        if tweets:
            rendered = [self._v2_tweet(t, fields) for t in tweets]
            body["data"] = rendered if many else rendered[0]
            if includes := self._tweet_includes(call, tweets):
                body["includes"] = includes
        if errors:
            body["errors"] = errors
        if meta is not None:
            if tweets:
                meta = {"newest_id": tweets[0].id, "oldest_id": tweets[-1].id, **meta}
            body["meta"] = meta
        return body

    def _users_body(
        self,
        call: _Call,
        users: list[_User],
        *,
        many: bool = True,
        errors: list[Json] | None = None,
        meta: Json | None = None,
    ) -> Json:
        fields = self._wanted(call, "user.fields", _USER_FIELDS)
        expansions = self._wanted(call, "expansions", _EXPANSIONS["user"])
        body: Json = {}
        if users:
            rendered = [self._v2_user(u, fields) for u in users]
            body["data"] = rendered if many else rendered[0]
            pinned = [
                self.tweets[u.pinned_tweet_id]
                for u in users
                if "pinned_tweet_id" in expansions and u.pinned_tweet_id in self.tweets
            ]
            if pinned:
                tweet_fields = self._wanted(call, "tweet.fields", _TWEET_FIELDS)
                body["includes"] = {"tweets": [self._v2_tweet(t, tweet_fields) for t in pinned]}
        if errors:
            body["errors"] = errors
        if meta is not None:
            body["meta"] = meta
        return body

    def _lists_body(
        self, call: _Call, lists: list[_List], *, many: bool, meta: Json | None
    ) -> Json:
        fields = self._wanted(call, "list.fields", _LIST_FIELDS)
        expansions = self._wanted(call, "expansions", _EXPANSIONS["list"])
        body: Json = {}
        if lists:
            rendered = [self._v2_list(lst, fields) for lst in lists]
            body["data"] = rendered if many else rendered[0]
            if "owner_id" in expansions:
                user_fields = self._wanted(call, "user.fields", _USER_FIELDS)
                owners = {lst.owner_id: self.users[lst.owner_id] for lst in lists}
                body["includes"] = {
                    "users": [self._v2_user(u, user_fields) for u in owners.values()]
                }
        if meta is not None:
            body["meta"] = meta
        return body

    def _page(
        self,
        call: _Call,
        items: list[Any],
        *,
        default: int = 100,
        minimum: int = 1,
        maximum: int = 100,
        cursor: str = "pagination_token",
    ) -> tuple[list[Any], Json]:
        raw = call.params.get("max_results")
        size = default
        if raw is not None:
            if not raw.isdigit() or not minimum <= int(raw) <= maximum:
                raise _invalid(
                    "max_results",
                    raw,
                    f"The `max_results` query parameter value [{raw}] is not between "
                    f"{minimum} and {maximum}",
                )
            size = int(raw)
        start = _offset(call.params.get(cursor), cursor)
        page = items[start : start + size]
        meta: Json = {"result_count": len(page)}
        if start + size < len(items):
            meta["next_token"] = _token(start + size)
        if start > 0:
            meta["previous_token"] = _token(max(0, start - size))
        return page, meta

    # -- v2 lookups ------------------------------------------------------------------------

    def _tweet(self, tweet_id: str, parameter: str = "id") -> _Tweet:
        """The tweet, or a 404 for writes that name a tweet that does not exist."""
        tweet = self.tweets.get(tweet_id)
        if tweet is None:
            raise _Reject(
                _problem(
                    404,
                    "Not Found Error",
                    f"Could not find tweet with {parameter}: [{tweet_id}].",
                    _V2_PROBLEMS + "resource-not-found",
                )
            )
        return tweet

    def _user(self, user_id: str, parameter: str = "id") -> _User:
        user = self.users.get(user_id)
        if user is None:
            raise _Reject(
                _problem(
                    404,
                    "Not Found Error",
                    f"Could not find user with {parameter}: [{user_id}].",
                    _V2_PROBLEMS + "resource-not-found",
                )
            )
        return user

    def _subject(self, call: _Call) -> _User:
        """The user a v2 read is about; an unknown one answers 200 with an error, as X does."""
        user = self.users.get(call.args["id"])
        if user is None:
            raise _Reject(_Reply(200, {"errors": [_not_found("user", "id", call.args["id"])]}))
        return user

    def _list(self, list_id: str, *, owner: str | None = None) -> _List:
        lst = self.lists.get(list_id)
        if lst is None:
            raise _Reject(
                _problem(
                    404,
                    "Not Found Error",
                    f"Could not find list with id: [{list_id}].",
                    _V2_PROBLEMS + "resource-not-found",
                )
            )
        if owner is not None and lst.owner_id != owner:
            raise _Reject(
                _problem(403, "Forbidden", "You are not allowed to modify a List you do not own.")
            )
        return lst

    @staticmethod
    def _body_field(call: _Call, name: str) -> Any:
        if not isinstance(call.json, dict) or call.json.get(name) in (None, ""):
            raise _invalid(name, "", f"The `{name}` field is required")
        return call.json[name]

    # -- v2: tweets ------------------------------------------------------------------------

    @_route("POST", "/2/tweets", user_context=True, limit=200)
    def _create_tweet(self, call: _Call) -> _Reply:
        body = call.json if isinstance(call.json, dict) else {}
        text = body.get("text", "")
        author = call.user_id or ""
        media = tuple(body.get("media", {}).get("media_ids", ()))
        if not text and not media:
            raise _invalid("text", "", "The `text` field is required unless media is attached")
        if len(text) > _MAX_TEXT:
            raise _Reject(_problem(400, "Invalid Request", "Your Tweet text is too long."))
        if self._duplicate(author, text):
            raise _Reject(
                _problem(
                    403,
                    "Forbidden",
                    "You are not allowed to create a Tweet with duplicate content.",
                )
            )
        reply_to = body.get("reply", {}).get("in_reply_to_tweet_id")
        quote_of = body.get("quote_tweet_id")
        for referenced in (reply_to, quote_of):
            if referenced is not None:
                self._tweet(referenced)
        place_id = body.get("geo", {}).get("place_id")
        tweet = self._new_tweet(
            text, author, reply_to=reply_to, quote_of=quote_of, place_id=place_id
        )
        tweet.media_ids = media
        if "reply_settings" in body:
            tweet.reply_settings = body["reply_settings"]
        data: Json = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
        if "community_id" in body:
            data["community_id"] = body["community_id"]
        location = f"https://api.twitter.com/2/tweets/{tweet.id}"
        return _Reply(201, {"data": data}, {"location": location})

    @_route("DELETE", "/2/tweets/:id", user_context=True, limit=50)
    def _delete_tweet(self, call: _Call) -> Json:
        tweet = self._tweet(call.args["id"])
        if tweet.author_id != call.user_id:
            raise _Reject(_problem(403, "Forbidden", "You are not allowed to delete this Tweet."))
        self._remove_tweet(tweet.id)
        return {"data": {"deleted": True}}

    def _remove_tweet(self, tweet_id: str) -> None:
        tweet = self.tweets.pop(tweet_id)
        if tweet.retweet_of is None:
            self._posted[(tweet.author_id, tweet.text)] -= 1
        for collection in (self.likes, self.bookmarks):
            for tweet_ids in collection.values():
                if tweet_id in tweet_ids:
                    tweet_ids.remove(tweet_id)

    @_route("GET", "/2/tweets/:id")
    def _get_tweet(self, call: _Call) -> Json:
        tweet = self.tweets.get(call.args["id"])
        if tweet is None:
            return {"errors": [_not_found("tweet", "id", call.args["id"])]}
        return self._tweets_body(call, [tweet], many=False)

    @_route("GET", "/2/tweets")
    def _get_tweets(self, call: _Call) -> Json:
        ids = [i for i in call.params.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= _MAX_IDS:
            raise _invalid(
                "ids", call.params.get("ids", ""), "The `ids` query parameter needs 1 to 100 IDs"
            )
        found = [self.tweets[i] for i in ids if i in self.tweets]
        errors = [_not_found("tweet", "ids", i) for i in ids if i not in self.tweets]
        return self._tweets_body(call, found, errors=errors)

    def _search(self, call: _Call) -> list[_Tweet]:
        query = call.params.get("query")
        if not query:
            raise _invalid("query", "", "The `query` query parameter can not be empty")
        matchers = [self._matcher(term) for term in query.split()]
        return [t for t in self._visible_tweets() if all(match(t) for match in matchers)]

    @staticmethod
    def _window(call: _Call, tweets: list[_Tweet]) -> list[_Tweet]:
        """The tweets within ``since_id``/``until_id`` (exclusive), as timelines and search do."""
        bounds = {}
        for name in ("since_id", "until_id"):
            value = call.params.get(name)
            if value is not None and not value.isdigit():
                raise _invalid(
                    name, value, f"The `{name}` query parameter value [{value}] is not valid"
                )
            bounds[name] = None if value is None else int(value)
        since, until = bounds["since_id"], bounds["until_id"]
        return [
            t
            for t in tweets
            if (since is None or int(t.id) > since) and (until is None or int(t.id) < until)
        ]

    def _matcher(self, term: str) -> Callable[[_Tweet], bool]:
        """One search term: a word, ``from:``, ``to:``, ``is:``, ``has:geo``, or negated (``-``)."""
        if term.startswith("-") and len(term) > 1:
            inner = self._matcher(term[1:])
            return lambda t: not inner(t)
        operator, _, value = term.partition(":")
        if operator == "from" and value:
            author = self._user_by_name(value)
            return lambda t: author is not None and t.author_id == author.id
        if operator == "to" and value:
            target = self._user_by_name(value)
            return lambda t: target is not None and t.in_reply_to_user_id == target.id
        checks: dict[str, Callable[[_Tweet], bool]] = {
            "is:retweet": lambda t: t.retweet_of is not None,
            "is:reply": lambda t: t.in_reply_to_tweet_id is not None,
            "is:quote": lambda t: t.quote_of is not None,
            "has:geo": lambda t: t.place_id is not None or t.coordinates is not None,
        }
        if term in checks:
            return checks[term]
        word = term.lower()
        return lambda t: word in t.text.lower()

    @_route("GET", "/2/tweets/search/recent", limit=450)
    def _search_recent(self, call: _Call) -> Json:
        found = self._window(call, self._search(call))
        page, meta = self._page(call, found, default=10, minimum=10, cursor="next_token")
        meta.pop("previous_token", None)
        return self._tweets_body(call, page, meta=meta)

    @_route("GET", "/2/tweets/search/all", limit=300)
    def _search_all(self, call: _Call) -> Json:
        found = self._window(call, self._search(call))
        page, meta = self._page(
            call, found, default=10, minimum=10, maximum=500, cursor="next_token"
        )
        meta.pop("previous_token", None)
        return self._tweets_body(call, page, meta=meta)

    @_route("GET", "/2/tweets/:id/quote_tweets", limit=75)
    def _quote_tweets(self, call: _Call) -> Json:
        quotes = [t for t in self._visible_tweets() if t.quote_of == call.args["id"]]
        page, meta = self._page(call, quotes, default=10, minimum=10)
        return self._tweets_body(call, page, meta=meta)

    @_route("PUT", "/2/tweets/:id/hidden", user_context=True, limit=50)
    def _hide_reply(self, call: _Call) -> Json:
        tweet = self._tweet(call.args["id"])
        root = self.tweets.get(tweet.conversation_id)
        if tweet.in_reply_to_tweet_id is None or root is None or root.author_id != call.user_id:
            raise _Reject(
                _problem(
                    403, "Forbidden", "You can only hide replies to conversations you started."
                )
            )
        tweet.hidden = bool(self._body_field(call, "hidden"))
        return {"data": {"hidden": tweet.hidden}}

    @_route("GET", "/2/users/:id/tweets")
    def _user_tweets(self, call: _Call) -> Json:
        self._subject(call)
        exclude = set(call.params.get("exclude", "").split(","))
        tweets = [
            t
            for t in self._visible_tweets()
            if t.author_id == call.args["id"]
            and not ("retweets" in exclude and t.retweet_of)
            and not ("replies" in exclude and t.in_reply_to_tweet_id)
        ]
        page, meta = self._page(call, self._window(call, tweets), default=10, minimum=5)
        return self._tweets_body(call, page, meta=meta)

    def _mentioning(self, user: _User) -> list[_Tweet]:
        """The tweets that mention ``user``, newest first."""
        handle = user.username.lower()
        return [
            t
            for t in self._visible_tweets()
            if handle in (m.lower() for m in _MENTION.findall(t.text))
        ]

    @_route("GET", "/2/users/:id/mentions", limit=300)
    def _mentions(self, call: _Call) -> Json:
        tweets = self._window(call, self._mentioning(self._subject(call)))
        page, meta = self._page(call, tweets, default=10, minimum=5)
        return self._tweets_body(call, page, meta=meta)

    @_route("GET", "/2/users/:id/timelines/reverse_chronological", acting="id", limit=180)
    def _home_timeline(self, call: _Call) -> Json:
        page, meta = self._page(call, self._window(call, self._home(call.args["id"])))
        return self._tweets_body(call, page, meta=meta)

    def _home(self, user_id: str) -> list[_Tweet]:
        authors = {user_id, *self.following.get(user_id, ())}
        return [t for t in self._visible_tweets() if t.author_id in authors]

    # -- v2: likes, retweets, bookmarks ----------------------------------------------------

    def _toggle(self, collection: dict[str, list[str]], owner: str, item: str, *, on: bool) -> bool:
        """Add or remove ``item`` in ``owner``'s ``collection``, newest first; True if changed."""
        items = collection.setdefault(owner, [])
        if on and item not in items:
            items.insert(0, item)
            return True
        if not on and item in items:
            items.remove(item)
            return True
        return False

    @_route("POST", "/2/users/:id/likes", acting="id", limit=50)
    def _like(self, call: _Call) -> Json:
        tweet = self._tweet(str(self._body_field(call, "tweet_id")), "tweet_id")
        self._toggle(self.likes, call.args["id"], tweet.id, on=True)
        return {"data": {"liked": True}}

    @_route("DELETE", "/2/users/:id/likes/:tweet_id", acting="id", limit=50)
    def _unlike(self, call: _Call) -> Json:
        self._toggle(self.likes, call.args["id"], call.args["tweet_id"], on=False)
        return {"data": {"liked": False}}

    @_route("GET", "/2/tweets/:id/liking_users", limit=75)
    def _liking_users(self, call: _Call) -> Json:
        users = [self.users[u] for u, liked in self.likes.items() if call.args["id"] in liked]
        page, meta = self._page(call, users)
        return self._users_body(call, page, meta=meta)

    @_route("GET", "/2/users/:id/liked_tweets", limit=75)
    def _liked_tweets(self, call: _Call) -> Json:
        self._subject(call)
        tweets = [self.tweets[t] for t in self.likes.get(call.args["id"], ()) if t in self.tweets]
        page, meta = self._page(call, tweets, minimum=5)
        return self._tweets_body(call, page, meta=meta)

    @_route("POST", "/2/users/:id/retweets", acting="id", limit=50)
    def _retweet(self, call: _Call) -> Json:
        original = self._tweet(str(self._body_field(call, "tweet_id")), "tweet_id")
        if not self._find_retweet(call.args["id"], original.id):
            author = self.users[original.author_id].username
            text = f"RT @{author}: {original.text}"
            self._new_tweet(text, call.args["id"], retweet_of=original.id)
        return {"data": {"retweeted": True}}

    def _find_retweet(self, user_id: str, tweet_id: str) -> _Tweet | None:
        return next(
            (
                t
                for t in self.tweets.values()
                if t.author_id == user_id and t.retweet_of == tweet_id
            ),
            None,
        )

    @_route("DELETE", "/2/users/:id/retweets/:source_tweet_id", acting="id", limit=50)
    def _unretweet(self, call: _Call) -> Json:
        retweet = self._find_retweet(call.args["id"], call.args["source_tweet_id"])
        if retweet is not None:
            self._remove_tweet(retweet.id)
        return {"data": {"retweeted": False}}

    @_route("GET", "/2/tweets/:id/retweeted_by", limit=75)
    def _retweeted_by(self, call: _Call) -> Json:
        users = [
            self.users[t.author_id]
            for t in self._visible_tweets()
            if t.retweet_of == call.args["id"]
        ]
        page, meta = self._page(call, users)
        return self._users_body(call, page, meta=meta)

    @_route("POST", "/2/users/:id/bookmarks", acting="id", limit=50)
    def _bookmark(self, call: _Call) -> Json:
        tweet = self._tweet(str(self._body_field(call, "tweet_id")), "tweet_id")
        self._toggle(self.bookmarks, call.args["id"], tweet.id, on=True)
        return {"data": {"bookmarked": True}}

    @_route("DELETE", "/2/users/:id/bookmarks/:tweet_id", acting="id", limit=50)
    def _remove_bookmark(self, call: _Call) -> Json:
        self._toggle(self.bookmarks, call.args["id"], call.args["tweet_id"], on=False)
        return {"data": {"bookmarked": False}}

    @_route("GET", "/2/users/:id/bookmarks", acting="id", limit=180)
    def _bookmarks(self, call: _Call) -> Json:
        ids = self.bookmarks.get(call.args["id"], [])
        page, meta = self._page(call, [self.tweets[t] for t in ids if t in self.tweets])
        return self._tweets_body(call, page, meta=meta)

    # -- v2: users, follows, mutes, blocks -------------------------------------------------

    @_route("GET", "/2/users/me", user_context=True, limit=75)
    def _me(self, call: _Call) -> Json:
        return self._users_body(call, [self.users[call.user_id or ""]], many=False)

    @_route("GET", "/2/users/:id")
    def _get_user(self, call: _Call) -> Json:
        user = self.users.get(call.args["id"])
        if user is None:
            return {"errors": [_not_found("user", "id", call.args["id"])]}
        return self._users_body(call, [user], many=False)

    @_route("GET", "/2/users")
    def _get_users(self, call: _Call) -> Json:
        ids = [i for i in call.params.get("ids", "").split(",") if i]
        if not 1 <= len(ids) <= _MAX_IDS:
            raise _invalid(
                "ids", call.params.get("ids", ""), "The `ids` query parameter needs 1 to 100 IDs"
            )
        found = [self.users[i] for i in ids if i in self.users]
        errors = [_not_found("user", "ids", i) for i in ids if i not in self.users]
        return self._users_body(call, found, errors=errors)

    @_route("GET", "/2/users/by/username/:username")
    def _get_user_by_name(self, call: _Call) -> Json:
        user = self._user_by_name(call.args["username"])
        if user is None:
            return {"errors": [_not_found("user", "username", call.args["username"])]}
        return self._users_body(call, [user], many=False)

    @_route("GET", "/2/users/by")
    def _get_users_by_name(self, call: _Call) -> Json:
        names = [n for n in call.params.get("usernames", "").split(",") if n]
        if not 1 <= len(names) <= _MAX_IDS:
            raise _invalid(
                "usernames",
                call.params.get("usernames", ""),
                "The `usernames` query parameter needs 1 to 100 names",
            )
        found = [u for n in names if (u := self._user_by_name(n)) is not None]
        errors = [
            _not_found("user", "usernames", n) for n in names if self._user_by_name(n) is None
        ]
        return self._users_body(call, found, errors=errors)

    @_route("POST", "/2/users/:id/following", acting="id", limit=50)
    def _follow(self, call: _Call) -> Json:
        target = self._user(str(self._body_field(call, "target_user_id")), "target_user_id")
        if target.protected:
            return {"data": {"following": False, "pending_follow": True}}
        self._toggle(self.following, call.args["id"], target.id, on=True)
        return {"data": {"following": True, "pending_follow": False}}

    @_route(
        "DELETE",
        "/2/users/:source_user_id/following/:target_user_id",
        acting="source_user_id",
        limit=50,
    )
    def _unfollow(self, call: _Call) -> Json:
        self._toggle(
            self.following, call.args["source_user_id"], call.args["target_user_id"], on=False
        )
        return {"data": {"following": False}}

    @_route("GET", "/2/users/:id/followers", limit=15)
    def _followers(self, call: _Call) -> Json:
        self._subject(call)
        users = [self.users[u] for u, f in self.following.items() if call.args["id"] in f]
        page, meta = self._page(call, users, maximum=1000)
        return self._users_body(call, page, meta=meta)

    @_route("GET", "/2/users/:id/following", limit=15)
    def _following(self, call: _Call) -> Json:
        self._subject(call)
        users = [self.users[u] for u in self.following.get(call.args["id"], ())]
        page, meta = self._page(call, users, maximum=1000)
        return self._users_body(call, page, meta=meta)

    @_route("POST", "/2/users/:id/muting", acting="id", limit=50)
    def _mute(self, call: _Call) -> Json:
        target = self._user(str(self._body_field(call, "target_user_id")), "target_user_id")
        self._toggle(self.muting, call.args["id"], target.id, on=True)
        return {"data": {"muting": True}}

    @_route(
        "DELETE",
        "/2/users/:source_user_id/muting/:target_user_id",
        acting="source_user_id",
        limit=50,
    )
    def _unmute(self, call: _Call) -> Json:
        self._toggle(
            self.muting, call.args["source_user_id"], call.args["target_user_id"], on=False
        )
        return {"data": {"muting": False}}

    @_route("GET", "/2/users/:id/muting", acting="id", limit=15)
    def _muted(self, call: _Call) -> Json:
        page, meta = self._page(
            call, [self.users[u] for u in self.muting.get(call.args["id"], ())], maximum=1000
        )
        return self._users_body(call, page, meta=meta)

    @_route("GET", "/2/users/:id/blocking", acting="id", limit=15)
    def _blocked(self, call: _Call) -> Json:
        page, meta = self._page(
            call, [self.users[u] for u in self.blocking.get(call.args["id"], ())], maximum=1000
        )
        return self._users_body(call, page, meta=meta)

    # -- v2: lists -------------------------------------------------------------------------

    @_route("GET", "/2/lists/:id", limit=75)
    def _get_list(self, call: _Call) -> Json:
        return self._lists_body(call, [self._list(call.args["id"])], many=False, meta=None)

    @_route("GET", "/2/users/:id/owned_lists", limit=15)
    def _owned_lists(self, call: _Call) -> Json:
        lists = [lst for lst in self.lists.values() if lst.owner_id == call.args["id"]]
        page, meta = self._page(call, lists)
        return self._lists_body(call, page, many=True, meta=meta)

    @_route("POST", "/2/lists", user_context=True, limit=300)
    def _create_list(self, call: _Call) -> _Reply:
        name = str(self._body_field(call, "name"))
        body = call.json
        lst = _List(
            self.new_id(),
            name,
            call.user_id or "",
            self._clock(),
            description=str(body.get("description", "")),
            private=bool(body.get("private", False)),
        )
        self.lists[lst.id] = lst
        return _Reply(201, {"data": {"id": lst.id, "name": lst.name}})

    @_route("PUT", "/2/lists/:id", user_context=True, limit=300)
    def _update_list(self, call: _Call) -> Json:
        lst = self._list(call.args["id"], owner=call.user_id)
        body = call.json if isinstance(call.json, dict) else {}
        lst.name = str(body.get("name", lst.name))
        lst.description = str(body.get("description", lst.description))
        lst.private = bool(body.get("private", lst.private))
        return {"data": {"updated": True}}

    @_route("DELETE", "/2/lists/:id", user_context=True, limit=300)
    def _delete_list(self, call: _Call) -> Json:
        self._list(call.args["id"], owner=call.user_id)
        del self.lists[call.args["id"]]
        for collection in (self.pinned_lists, self.followed_lists):
            for ids in collection.values():
                if call.args["id"] in ids:
                    ids.remove(call.args["id"])
        return {"data": {"deleted": True}}

    @_route("POST", "/2/lists/:id/members", user_context=True, limit=300)
    def _add_member(self, call: _Call) -> Json:
        lst = self._list(call.args["id"], owner=call.user_id)
        user = self._user(str(self._body_field(call, "user_id")), "user_id")
        if user.id not in lst.members:
            lst.members.append(user.id)
        return {"data": {"is_member": True}}

    @_route("DELETE", "/2/lists/:id/members/:user_id", user_context=True, limit=300)
    def _remove_member(self, call: _Call) -> Json:
        lst = self._list(call.args["id"], owner=call.user_id)
        if call.args["user_id"] in lst.members:
            lst.members.remove(call.args["user_id"])
        return {"data": {"is_member": False}}

    @_route("GET", "/2/lists/:id/members", limit=900)
    def _list_members(self, call: _Call) -> Json:
        lst = self._list(call.args["id"])
        page, meta = self._page(call, [self.users[u] for u in lst.members], maximum=100)
        return self._users_body(call, page, meta=meta)

    @_route("GET", "/2/users/:id/list_memberships", limit=75)
    def _memberships(self, call: _Call) -> Json:
        lists = [lst for lst in self.lists.values() if call.args["id"] in lst.members]
        page, meta = self._page(call, lists)
        return self._lists_body(call, page, many=True, meta=meta)

    @_route("POST", "/2/users/:id/followed_lists", acting="id", limit=50)
    def _follow_list(self, call: _Call) -> Json:
        lst = self._list(str(self._body_field(call, "list_id")))
        self._toggle(self.followed_lists, call.args["id"], lst.id, on=True)
        if call.args["id"] not in lst.followers:
            lst.followers.append(call.args["id"])
        return {"data": {"following": True}}

    @_route("DELETE", "/2/users/:id/followed_lists/:list_id", acting="id", limit=50)
    def _unfollow_list(self, call: _Call) -> Json:
        self._toggle(self.followed_lists, call.args["id"], call.args["list_id"], on=False)
        lst = self.lists.get(call.args["list_id"])
        if lst is not None and call.args["id"] in lst.followers:
            lst.followers.remove(call.args["id"])
        return {"data": {"following": False}}

    @_route("GET", "/2/lists/:id/followers", limit=180)
    def _list_followers(self, call: _Call) -> Json:
        lst = self._list(call.args["id"])
        page, meta = self._page(call, [self.users[u] for u in lst.followers])
        return self._users_body(call, page, meta=meta)

    @_route("GET", "/2/users/:id/followed_lists", limit=15)
    def _followed_lists(self, call: _Call) -> Json:
        ids = self.followed_lists.get(call.args["id"], [])
        page, meta = self._page(call, [self.lists[i] for i in ids if i in self.lists])
        return self._lists_body(call, page, many=True, meta=meta)

    @_route("POST", "/2/users/:id/pinned_lists", acting="id", limit=50)
    def _pin_list(self, call: _Call) -> Json:
        lst = self._list(str(self._body_field(call, "list_id")))
        self._toggle(self.pinned_lists, call.args["id"], lst.id, on=True)
        return {"data": {"pinned": True}}

    @_route("DELETE", "/2/users/:id/pinned_lists/:list_id", acting="id", limit=50)
    def _unpin_list(self, call: _Call) -> Json:
        self._toggle(self.pinned_lists, call.args["id"], call.args["list_id"], on=False)
        return {"data": {"pinned": False}}

    @_route("GET", "/2/users/:id/pinned_lists", acting="id", limit=15)
    def _pinned(self, call: _Call) -> Json:
        ids = self.pinned_lists.get(call.args["id"], [])
        lists = [self.lists[i] for i in ids if i in self.lists]
        return self._lists_body(call, lists, many=True, meta={"result_count": len(lists)})

    @_route("GET", "/2/lists/:id/tweets", limit=900)
    def _list_tweets(self, call: _Call) -> Json:
        lst = self._list(call.args["id"])
        tweets = [t for t in self._visible_tweets() if t.author_id in lst.members]
        page, meta = self._page(call, tweets)
        return self._tweets_body(call, page, meta=meta)

    # -- v2: direct messages ---------------------------------------------------------------

    @staticmethod
    def _conversation_id(first: str, second: str) -> str:
        low, high = sorted((first, second), key=int)
        return f"{low}-{high}"

    def _send_dm(self, call: _Call, conversation_id: str, recipient: str | None) -> _Reply:
        body = call.json if isinstance(call.json, dict) else {}
        message = body.get("message", body)
        text = message.get("text")
        if not text and not message.get("attachments"):
            raise _invalid("text", "", "The `text` field is required unless media is attached")
        event = _DMEvent(
            self.new_id(),
            "MessageCreate",
            conversation_id,
            self._clock(),
            sender_id=call.user_id,
            text=text or "",
            recipient_id=recipient,
        )
        self.dm_events.insert(0, event)
        return _Reply(
            201, {"data": {"dm_conversation_id": conversation_id, "dm_event_id": event.id}}
        )

    @_route(
        "POST", "/2/dm_conversations/with/:participant_id/messages", user_context=True, limit=200
    )
    def _dm_with(self, call: _Call) -> _Reply:
        recipient = self._user(call.args["participant_id"], "participant_id")
        return self._send_dm(
            call, self._conversation_id(call.user_id or "", recipient.id), recipient.id
        )

    @_route(
        "POST", "/2/dm_conversations/:dm_conversation_id/messages", user_context=True, limit=200
    )
    def _dm_in(self, call: _Call) -> _Reply:
        conversation = call.args["dm_conversation_id"]
        if not any(e.conversation_id == conversation for e in self._dms_of(call.user_id)):
            raise _Reject(
                _problem(
                    404,
                    "Not Found Error",
                    f"Could not find dm_conversation with id: [{conversation}].",
                    _V2_PROBLEMS + "resource-not-found",
                )
            )
        return self._send_dm(call, conversation, None)

    @_route("POST", "/2/dm_conversations", user_context=True, limit=200)
    def _dm_group(self, call: _Call) -> _Reply:
        body = call.json if isinstance(call.json, dict) else {}
        participants = [str(p) for p in body.get("participant_ids", ())]
        if body.get("conversation_type") != "Group" or not participants:
            raise _invalid("participant_ids", "", "A Group conversation needs participant_ids")
        for participant in participants:
            self._user(participant, "participant_ids")
        conversation = self.new_id()
        joined = _DMEvent(
            self.new_id(),
            "ParticipantsJoin",
            conversation,
            self._clock(),
            participant_ids=(call.user_id or "", *participants),
        )
        self.dm_events.insert(0, joined)
        return self._send_dm(call, conversation, None)

    def _dms_of(self, user_id: str | None) -> list[_DMEvent]:
        """The events of every conversation ``user_id`` takes part in, newest first."""
        mine = {
            e.conversation_id
            for e in self.dm_events
            if user_id in (e.sender_id, e.recipient_id, *e.participant_ids)
            or user_id in e.conversation_id.split("-")
        }
        return [e for e in self.dm_events if e.conversation_id in mine]

    def _dm_body(self, call: _Call, events: list[_DMEvent]) -> Json:
        types = set(call.params.get("event_types", "").split(",")) - {""}
        if types:
            events = [e for e in events if e.event_type in types]
        page, meta = self._page(call, events)
        fields = self._wanted(call, "dm_event.fields", _DM_FIELDS)
        expansions = self._wanted(call, "expansions", _EXPANSIONS["dm"])
        body: Json = {"meta": meta}
        if page:
            body["data"] = [self._v2_dm(e, fields) for e in page]
            people = {
                uid
                for e in page
                for uid in (
                    ([e.sender_id] if "sender_id" in expansions else [])
                    + (list(e.participant_ids) if "participant_ids" in expansions else [])
                )
                if uid in self.users
            }
            if people:
                user_fields = self._wanted(call, "user.fields", _USER_FIELDS)
                body["includes"] = {
                    "users": [self._v2_user(self.users[u], user_fields) for u in sorted(people)]
                }
        return body

    @_route("GET", "/2/dm_events", user_context=True, limit=300)
    def _dm_events(self, call: _Call) -> Json:
        return self._dm_body(call, self._dms_of(call.user_id))

    @_route(
        "GET", "/2/dm_conversations/with/:participant_id/dm_events", user_context=True, limit=300
    )
    def _dm_events_with(self, call: _Call) -> Json:
        conversation = self._conversation_id(call.user_id or "", call.args["participant_id"])
        return self._dm_body(
            call, [e for e in self._dms_of(call.user_id) if e.conversation_id == conversation]
        )

    @_route(
        "GET", "/2/dm_conversations/:dm_conversation_id/dm_events", user_context=True, limit=300
    )
    def _dm_events_in(self, call: _Call) -> Json:
        conversation = call.args["dm_conversation_id"]
        return self._dm_body(
            call, [e for e in self._dms_of(call.user_id) if e.conversation_id == conversation]
        )

    # -- v1.1 rendering --------------------------------------------------------------------

    def _v1_user(self, user: _User, viewer: str | None) -> Json:
        counts = self._user_counts(user.id)
        image = f"https://pbs.twimg.com/profile_images/{user.id}/avatar_normal.jpg"
        return {
            "id": int(user.id),
            "id_str": user.id,
            "name": user.name,
            "screen_name": user.username,
            "location": user.location,
            "description": user.description,
            "url": user.url or None,
            "entities": {"description": {"urls": []}},
            "protected": user.protected,
            "followers_count": counts["followers_count"],
            "friends_count": counts["following_count"],
            "listed_count": counts["listed_count"],
            "created_at": _v1_time(user.created_at),
            "favourites_count": len(self.likes.get(user.id, ())),
            "utc_offset": None,
            "time_zone": None,
            "geo_enabled": False,
            "verified": user.verified,
            "statuses_count": counts["tweet_count"],
            "lang": None,
            "contributors_enabled": False,
            "is_translator": False,
            "is_translation_enabled": False,
            "profile_background_color": "F5F8FA",
            "profile_background_image_url": None,
            "profile_background_image_url_https": None,
            "profile_background_tile": False,
            "profile_image_url": image.replace("https:", "http:"),
            "profile_image_url_https": image,
            "profile_link_color": "1DA1F2",
            "profile_sidebar_border_color": "C0DEED",
            "profile_sidebar_fill_color": "DDEEF6",
            "profile_text_color": "333333",
            "profile_use_background_image": True,
            "has_extended_profile": False,
            "default_profile": True,
            "default_profile_image": False,
            "following": viewer is not None and user.id in self.following.get(viewer, ()),
            "follow_request_sent": False,
            "notifications": False,
            "translator_type": "none",
        }

    def _v1_place(self, place: _Place, *, nested: bool = False) -> Json:
        west, south, east, north = place.bbox
        out: Json = {
            "id": place.id,
            "url": f"https://api.twitter.com/1.1/geo/id/{place.id}.json",
            "place_type": place.place_type,
            "name": place.name,
            "full_name": place.full_name,
            "country_code": place.country_code,
            "country": place.country,
        }
        if not nested:
            out["contained_within"] = [
                self._v1_place(self.places[p], nested=True)
                for p in place.contained_within
                if p in self.places
            ]
        out["centroid"] = [(west + east) / 2, (south + north) / 2]
        out["bounding_box"] = {
            "type": "Polygon",
            "coordinates": [
                [[west, south], [west, north], [east, north], [east, south], [west, south]]
            ],
        }
        out["attributes"] = {}
        return out

    def _v1_entities(self, text: str) -> Json:
        mentions = []
        for match in _MENTION.finditer(text):
            user = self._user_by_name(match[1])
            if user is not None:
                mentions.append(
                    {
                        "screen_name": user.username,
                        "name": user.name,
                        "id": int(user.id),
                        "id_str": user.id,
                        "indices": [match.start(), match.end()],
                    }
                )
        return {
            "hashtags": [
                {"text": m[1], "indices": [m.start(), m.end()]} for m in _HASHTAG.finditer(text)
            ],
            "symbols": [],
            "user_mentions": mentions,
            "urls": [],
        }

    def _v1_status(self, tweet: _Tweet, call: _Call, *, embedded: bool = False) -> Json:
        viewer = call.user_id
        extended = call.params.get("tweet_mode") == "extended"
        out: Json = {
            "created_at": _v1_time(tweet.created_at),
            "id": int(tweet.id),
            "id_str": tweet.id,
        }
        if extended:
            out["full_text"] = tweet.text
            out["display_text_range"] = [0, len(tweet.text)]
        else:
            out["text"] = tweet.text
        parent = self.tweets.get(tweet.in_reply_to_tweet_id or "")
        reply_user = self.users.get(tweet.in_reply_to_user_id or "")
        user = self.users[tweet.author_id]
        out.update(
            {
                "truncated": False,
                "entities": self._v1_entities(tweet.text),
                "source": f'<a href="https://twpolicy.invalid" rel="nofollow">{tweet.source}</a>',
                "in_reply_to_status_id": int(parent.id) if parent else None,
                "in_reply_to_status_id_str": parent.id if parent else None,
                "in_reply_to_user_id": int(reply_user.id) if reply_user else None,
                "in_reply_to_user_id_str": reply_user.id if reply_user else None,
                "in_reply_to_screen_name": reply_user.username if reply_user else None,
                "user": (
                    {"id": int(user.id), "id_str": user.id}
                    if _truthy(call.params.get("trim_user"))
                    else self._v1_user(user, viewer)
                ),
                "geo": None,
                "coordinates": None,
                "place": None,
                "contributors": None,
            }
        )
        if tweet.coordinates is not None:
            longitude, latitude = tweet.coordinates
            out["geo"] = {"type": "Point", "coordinates": [latitude, longitude]}
            out["coordinates"] = {"type": "Point", "coordinates": [longitude, latitude]}
        if tweet.place_id in self.places:
            out["place"] = self._v1_place(self.places[tweet.place_id or ""])
        original = self.tweets.get(tweet.retweet_of or "")
        if original is not None and not embedded:
            out["retweeted_status"] = self._v1_status(original, call, embedded=True)
        quoted = self.tweets.get(tweet.quote_of or "")
        out["is_quote_status"] = quoted is not None
        if quoted is not None:
            out["quoted_status_id"] = int(quoted.id)
            out["quoted_status_id_str"] = quoted.id
            if not embedded:
                out["quoted_status"] = self._v1_status(quoted, call, embedded=True)
        counts = self._counts(tweet)
        out.update(
            {
                "retweet_count": counts["retweet_count"],
                "favorite_count": counts["like_count"],
                "favorited": viewer is not None and tweet.id in self.likes.get(viewer, ()),
                "retweeted": viewer is not None
                and self._find_retweet(viewer, tweet.id) is not None,
                "lang": tweet.lang,
            }
        )
        return out

    # -- v1.1 lookups ----------------------------------------------------------------------

    def _v1_tweet(self, tweet_id: str | None) -> _Tweet:
        tweet = self.tweets.get(tweet_id or "")
        if tweet is None:
            raise _v1_error(404, 144, "No status found with that ID.")
        return tweet

    def _v1_target(
        self, call: _Call, id_param: str = "user_id", name_param: str = "screen_name"
    ) -> _User:
        """The user a v1.1 call names by ID or screen name (the caller when neither is given)."""
        if id_param in call.params:
            user = self.users.get(call.params[id_param])
        elif name_param in call.params:
            user = self._user_by_name(call.params[name_param])
        else:
            user = self.users.get(call.user_id or "")
        if user is None:
            raise _v1_error(404, 50, "User not found.")
        return user

    def _v1_timeline(self, call: _Call, tweets: list[_Tweet]) -> list[Json]:
        count = min(int(call.params.get("count", "20") or 20), 200)
        since, until = call.params.get("since_id"), call.params.get("max_id")
        if not _truthy(call.params.get("include_rts", "true")):
            tweets = [t for t in tweets if t.retweet_of is None]
        if _truthy(call.params.get("exclude_replies")):
            tweets = [t for t in tweets if t.in_reply_to_tweet_id is None]
        selected = [
            t
            for t in tweets
            if (since is None or int(t.id) > int(since))
            and (until is None or int(t.id) <= int(until))
        ]
        return [self._v1_status(t, call) for t in selected[:count]]

    def _v1_cursor(self, call: _Call, items: list[Any], *, size: int) -> tuple[list[Any], Json]:
        cursor = int(call.params.get("cursor", "-1") or -1)
        start = max(cursor, 0)
        size = min(int(call.params.get("count", str(size)) or size), 5000)
        page = items[start : start + size]
        following = start + size if start + size < len(items) else 0
        previous = -max(start - size, 0) if start else 0
        return page, {
            "next_cursor": following,
            "next_cursor_str": str(following),
            "previous_cursor": previous,
            "previous_cursor_str": str(previous),
        }

    # -- v1.1: statuses --------------------------------------------------------------------

    @_route("POST", "/1.1/statuses/update", user_context=True, limit=300)
    def _update_status(self, call: _Call) -> Json:
        text = call.params.get("status", "")
        media = tuple(m for m in call.params.get("media_ids", "").split(",") if m)
        if not text and not media:
            raise _v1_error(400, 170, "Missing required parameter: status.")
        if len(text) > _MAX_TEXT:
            raise _v1_error(403, 186, "Tweet needs to be a bit shorter.")
        author = call.user_id or ""
        if self._duplicate(author, text):
            raise _v1_error(403, 187, "Status is a duplicate.")
        reply_to = call.params.get("in_reply_to_status_id")
        if reply_to is not None:
            self._v1_tweet(reply_to)
        quote_of = call.params.get("attachment_url", "").rstrip("/").rpartition("/")[2] or None
        place_id = call.params.get("place_id")
        tweet = self._new_tweet(
            text,
            author,
            reply_to=reply_to,
            quote_of=quote_of if quote_of in self.tweets else None,
            place_id=place_id if place_id in self.places else None,
        )
        tweet.media_ids = media
        if "lat" in call.params and "long" in call.params:
            tweet.coordinates = (float(call.params["long"]), float(call.params["lat"]))
        return self._v1_status(tweet, call)

    @_route("POST", "/1.1/statuses/destroy/:id", user_context=True, limit=300)
    def _destroy_status(self, call: _Call) -> Json:
        tweet = self._v1_tweet(call.args["id"])
        if tweet.author_id != call.user_id:
            raise _v1_error(403, 183, "You may not delete another user's status.")
        rendered = self._v1_status(tweet, call)
        self._remove_tweet(tweet.id)
        return rendered

    @_route("GET", "/1.1/statuses/show")
    def _show_status(self, call: _Call) -> Json:
        return self._v1_status(self._v1_tweet(call.params.get("id")), call)

    @_route("GET", "/1.1/statuses/lookup")
    def _lookup_statuses(self, call: _Call) -> list[Json]:
        ids = [i for i in call.params.get("id", "").split(",") if i]
        return [self._v1_status(self.tweets[i], call) for i in ids if i in self.tweets]

    @_route("GET", "/1.1/statuses/user_timeline")
    def _user_timeline(self, call: _Call) -> list[Json]:
        user = self._v1_target(call)
        return self._v1_timeline(
            call, [t for t in self._visible_tweets() if t.author_id == user.id]
        )

    @_route("GET", "/1.1/statuses/home_timeline", user_context=True, limit=15)
    def _v1_home_timeline(self, call: _Call) -> list[Json]:
        return self._v1_timeline(call, self._home(call.user_id or ""))

    @_route("GET", "/1.1/statuses/mentions_timeline", user_context=True, limit=75)
    def _mentions_timeline(self, call: _Call) -> list[Json]:
        return self._v1_timeline(call, self._mentioning(self.users[call.user_id or ""]))

    @_route("POST", "/1.1/statuses/retweet/:id", user_context=True, limit=300)
    def _v1_retweet(self, call: _Call) -> Json:
        original = self._v1_tweet(call.args["id"])
        if self._find_retweet(call.user_id or "", original.id) is not None:
            raise _v1_error(403, 327, "You have already retweeted this Tweet.")
        author = self.users[original.author_id].username
        retweet = self._new_tweet(
            f"RT @{author}: {original.text}", call.user_id or "", retweet_of=original.id
        )
        return self._v1_status(retweet, call)

    @_route("POST", "/1.1/statuses/unretweet/:id", user_context=True, limit=300)
    def _v1_unretweet(self, call: _Call) -> Json:
        original = self._v1_tweet(call.args["id"])
        retweet = self._find_retweet(call.user_id or "", original.id)
        if retweet is not None:
            self._remove_tweet(retweet.id)
        return self._v1_status(original, call)

    @_route("GET", "/1.1/search/tweets", limit=180)
    def _search_tweets(self, call: _Call) -> Json:
        query = call.params.get("q", "")
        if not query:
            raise _v1_error(400, 25, "Query parameters are missing.")
        found = self._v1_timeline(
            call, self._search(attrs.evolve(call, params={**call.params, "query": query}))
        )
        newest = found[0]["id"] if found else 0
        return {
            "statuses": found,
            "search_metadata": {
                "completed_in": 0.001,
                "max_id": newest,
                "max_id_str": str(newest),
                "query": urllib.parse.quote_plus(query),
                "count": len(found),
                "since_id": 0,
                "since_id_str": "0",
            },
        }

    # -- v1.1: favorites -------------------------------------------------------------------

    @_route("GET", "/1.1/favorites/list", limit=75)
    def _favorites(self, call: _Call) -> list[Json]:
        user = self._v1_target(call)
        return self._v1_timeline(
            call, [self.tweets[t] for t in self.likes.get(user.id, ()) if t in self.tweets]
        )

    @_route("POST", "/1.1/favorites/create", user_context=True, limit=300)
    def _create_favorite(self, call: _Call) -> Json:
        tweet = self._v1_tweet(call.params.get("id"))
        if not self._toggle(self.likes, call.user_id or "", tweet.id, on=True):
            raise _v1_error(403, 139, "You have already favorited this status.")
        return self._v1_status(tweet, call)

    @_route("POST", "/1.1/favorites/destroy", user_context=True, limit=300)
    def _destroy_favorite(self, call: _Call) -> Json:
        tweet = self._v1_tweet(call.params.get("id"))
        if not self._toggle(self.likes, call.user_id or "", tweet.id, on=False):
            raise _v1_error(404, 144, "No status found with that ID.")
        return self._v1_status(tweet, call)

    # -- v1.1: users, friendships, blocks, mutes -------------------------------------------

    @_route("GET", "/1.1/account/verify_credentials", user_context=True, limit=75)
    def _verify_credentials(self, call: _Call) -> Json:
        return self._v1_user(self.users[call.user_id or ""], call.user_id)

    @_route("GET", "/1.1/users/show")
    def _show_user(self, call: _Call) -> Json:
        if "user_id" not in call.params and "screen_name" not in call.params:
            raise _v1_error(403, 50, "User not found.")
        return self._v1_user(self._v1_target(call), call.user_id)

    def _lookup_users(self, call: _Call) -> list[Json]:
        ids = [i for i in call.params.get("user_id", "").split(",") if i]
        names = [n for n in call.params.get("screen_name", "").split(",") if n]
        found = [self.users[i] for i in ids if i in self.users]
        found += [u for n in names if (u := self._user_by_name(n)) is not None]
        if not found:
            raise _v1_error(404, 17, "No user matches for specified terms.")
        return [self._v1_user(u, call.user_id) for u in found]

    _route("GET", "/1.1/users/lookup")(_lookup_users)
    _route("POST", "/1.1/users/lookup")(_lookup_users)

    def _relate(self, call: _Call, collection: dict[str, list[str]], *, on: bool) -> Json:
        target = self._v1_target(call)
        if target.id == call.user_id:
            raise _v1_error(403, 158, "You can't do that to yourself.")
        if not (on and collection is self.following and target.protected):
            self._toggle(collection, call.user_id or "", target.id, on=on)
        return self._v1_user(target, call.user_id)

    @_route("POST", "/1.1/friendships/create", user_context=True, limit=50)
    def _create_friendship(self, call: _Call) -> Json:
        return self._relate(call, self.following, on=True)

    @_route("POST", "/1.1/friendships/destroy", user_context=True, limit=50)
    def _destroy_friendship(self, call: _Call) -> Json:
        return self._relate(call, self.following, on=False)

    @_route("POST", "/1.1/blocks/create", user_context=True, limit=50)
    def _create_block(self, call: _Call) -> Json:
        user = self._relate(call, self.blocking, on=True)
        # Blocking also ends following, in both directions.
        self._toggle(self.following, call.user_id or "", user["id_str"], on=False)
        self._toggle(self.following, user["id_str"], call.user_id or "", on=False)
        return user

    @_route("POST", "/1.1/blocks/destroy", user_context=True, limit=50)
    def _destroy_block(self, call: _Call) -> Json:
        return self._relate(call, self.blocking, on=False)

    @_route("POST", "/1.1/mutes/users/create", user_context=True, limit=50)
    def _create_mute(self, call: _Call) -> Json:
        return self._relate(call, self.muting, on=True)

    @_route("POST", "/1.1/mutes/users/destroy", user_context=True, limit=50)
    def _destroy_mute(self, call: _Call) -> Json:
        return self._relate(call, self.muting, on=False)

    @_route("GET", "/1.1/friendships/show", limit=180)
    def _show_friendship(self, call: _Call) -> Json:
        source = self._v1_target(call, "source_id", "source_screen_name")
        target = self._v1_target(call, "target_id", "target_screen_name")

        def side(one: _User, other: _User, *, full: bool) -> Json:
            out: Json = {
                "id": int(one.id),
                "id_str": one.id,
                "screen_name": one.username,
                "following": other.id in self.following.get(one.id, ()),
                "followed_by": one.id in self.following.get(other.id, ()),
                "following_received": False,
                "following_requested": False,
            }
            if full:
                out.update(
                    notifications_enabled=False,
                    can_dm=one.id in self.following.get(other.id, ()),
                    blocking=other.id in self.blocking.get(one.id, ()),
                    blocked_by=one.id in self.blocking.get(other.id, ()),
                    muting=other.id in self.muting.get(one.id, ()),
                    want_retweets=True,
                    all_replies=False,
                    marked_spam=False,
                )
            return out

        full = source.id == call.user_id
        return {
            "relationship": {
                "source": side(source, target, full=full),
                "target": side(target, source, full=False),
            }
        }

    def _friend_ids(self, user_id: str) -> list[str]:
        return list(self.following.get(user_id, ()))

    def _follower_ids(self, user_id: str) -> list[str]:
        return [u for u, followed in self.following.items() if user_id in followed]

    def _ids_page(self, call: _Call, ids: list[str]) -> Json:
        page, cursors = self._v1_cursor(call, ids, size=5000)
        values: list[Any] = (
            page if _truthy(call.params.get("stringify_ids")) else [int(i) for i in page]
        )
        return {"ids": values, **cursors, "total_count": None}

    def _users_page(self, call: _Call, ids: list[str]) -> Json:
        page, cursors = self._v1_cursor(call, ids, size=20)
        return {"users": [self._v1_user(self.users[i], call.user_id) for i in page], **cursors}

    @_route("GET", "/1.1/friends/ids", limit=15)
    def _get_friend_ids(self, call: _Call) -> Json:
        return self._ids_page(call, self._friend_ids(self._v1_target(call).id))

    @_route("GET", "/1.1/followers/ids", limit=15)
    def _get_follower_ids(self, call: _Call) -> Json:
        return self._ids_page(call, self._follower_ids(self._v1_target(call).id))

    @_route("GET", "/1.1/friends/list", limit=15)
    def _get_friends(self, call: _Call) -> Json:
        return self._users_page(call, self._friend_ids(self._v1_target(call).id))

    @_route("GET", "/1.1/followers/list", limit=15)
    def _get_followers(self, call: _Call) -> Json:
        return self._users_page(call, self._follower_ids(self._v1_target(call).id))

    # -- v1.1: geo -------------------------------------------------------------------------

    @_route("GET", "/1.1/geo/id/:place_id", limit=75)
    def _geo_id(self, call: _Call) -> Json:
        place = self.places.get(call.args["place_id"])
        if place is None:
            raise _v1_error(404, 34, "Sorry, that page does not exist.")
        return self._v1_place(place)

    def _geo_result(self, call: _Call, places: list[_Place], query: Json) -> Json:
        limit = int(call.params.get("max_results", "20") or 20)
        found = sorted(places, key=_Place.area)[:limit]
        return {"result": {"places": [self._v1_place(p) for p in found]}, "query": query}

    def _point(self, call: _Call) -> tuple[float, float] | None:
        if "lat" not in call.params or "long" not in call.params:
            return None
        try:
            latitude, longitude = float(call.params["lat"]), float(call.params["long"])
        except ValueError:
            raise _v1_error(400, 3, "Invalid coordinates.") from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # noqa: PLR2004  # degrees
            raise _v1_error(400, 3, "Invalid coordinates.")
        return longitude, latitude

    @_route("GET", "/1.1/geo/search", limit=15)
    def _geo_search(self, call: _Call) -> Json:
        point = self._point(call)
        text = call.params.get("query", "").lower()
        if point is None and not text:
            raise _v1_error(400, 25, "Query parameters are missing.")
        places = [
            p
            for p in self.places.values()
            if (point is None or p.contains(*point)) and text in p.full_name.lower()
        ]
        return self._geo_result(call, places, {"type": "search", "params": dict(call.params)})

    @_route("GET", "/1.1/geo/reverse_geocode", limit=15)
    def _reverse_geocode(self, call: _Call) -> Json:
        point = self._point(call)
        if point is None:
            raise _v1_error(400, 25, "Query parameters are missing.")
        places = [p for p in self.places.values() if p.contains(*point)]
        return self._geo_result(
            call, places, {"type": "reverse_geocode", "params": dict(call.params)}
        )

    # -- v1.1: direct messages -------------------------------------------------------------

    def _v1_dm(self, event: _DMEvent) -> Json:
        return {
            "type": "message_create",
            "id": event.id,
            "created_timestamp": str(int(event.created_at.timestamp() * 1000)),
            "message_create": {
                "target": {"recipient_id": event.recipient_id},
                "sender_id": event.sender_id,
                "message_data": {
                    "text": event.text,
                    "entities": self._v1_entities(event.text or ""),
                },
            },
        }

    @_route("POST", "/1.1/direct_messages/events/new", user_context=True, limit=1000)
    def _send_direct_message(self, call: _Call) -> Json:
        event = call.json.get("event", {}) if isinstance(call.json, dict) else {}
        create = event.get("message_create", {})
        recipient = str(create.get("target", {}).get("recipient_id", ""))
        if recipient not in self.users:
            raise _v1_error(404, 108, "Cannot find specified user.")
        text = create.get("message_data", {}).get("text", "")
        created = _DMEvent(
            self.new_id(),
            "MessageCreate",
            self._conversation_id(call.user_id or "", recipient),
            self._clock(),
            sender_id=call.user_id,
            text=text,
            recipient_id=recipient,
        )
        self.dm_events.insert(0, created)
        return {"event": self._v1_dm(created)}

    def _v1_dms(self, call: _Call) -> list[_DMEvent]:
        return [
            e
            for e in self._dms_of(call.user_id)
            if e.event_type == "MessageCreate" and e.recipient_id
        ]

    @_route("GET", "/1.1/direct_messages/events/list", user_context=True, limit=15)
    def _list_direct_messages(self, call: _Call) -> Json:
        page, cursors = self._v1_cursor(call, self._v1_dms(call), size=20)
        body: Json = {"events": [self._v1_dm(e) for e in page]}
        if cursors["next_cursor"]:
            body["next_cursor"] = cursors["next_cursor_str"]
        return body

    @_route("GET", "/1.1/direct_messages/events/show", user_context=True, limit=15)
    def _show_direct_message(self, call: _Call) -> Json:
        event = next((e for e in self._v1_dms(call) if e.id == call.params.get("id")), None)
        if event is None:
            raise _v1_error(404, 34, "Sorry, that page does not exist.")
        return {"event": self._v1_dm(event)}

    @_route("DELETE", "/1.1/direct_messages/events/destroy", user_context=True, limit=300)
    def _destroy_direct_message(self, call: _Call) -> _Reply:
        event = next((e for e in self._v1_dms(call) if e.id == call.params.get("id")), None)
        if event is None:
            raise _v1_error(404, 34, "Sorry, that page does not exist.")
        self.dm_events.remove(event)
        return _Reply(204)

    # -- v1.1: media -----------------------------------------------------------------------

    @_route("POST", "/1.1/media/upload", user_context=True, limit=500)
    def _upload(self, call: _Call) -> Json:
        command = call.params.get("command")
        if command == "APPEND":
            return {}
        if command == "FINALIZE":
            media = self.media.get(call.params.get("media_id", ""))
            if media is None:
                raise _v1_error(400, 324, "Invalid media id.")
            return media
        media_id = self.new_id()
        size = int(call.params.get("total_bytes", "0") or 0) or len(call.body)
        self.media[media_id] = {
            "media_id": int(media_id),
            "media_id_string": media_id,
            "size": size,
            "expires_after_secs": 86400,
        }
        return self.media[media_id]

    @_route("GET", "/1.1/media/upload", user_context=True, limit=500)
    def _upload_status(self, call: _Call) -> Json:
        media = self.media.get(call.params.get("media_id", ""))
        if media is None:
            raise _v1_error(400, 324, "Invalid media id.")
        return {**media, "processing_info": {"state": "succeeded", "progress_percent": 100}}


FakeXAPI.routes = tuple(route.name for route in _ROUTES)
for _registered in sorted(_ROUTES, key=lambda route: route.pattern.count("/:")):
    _BY_SHAPE.setdefault((_registered.method, len(_registered.segments)), []).append(_registered)
del _registered


# -- transports ------------------------------------------------------------------------------


def _refusal(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname
    return (
        f"twpolicy's fake X API does not answer {host!r} ({url}): tests that use it never "
        f"reach the network. It answers for {', '.join(sorted(HOSTS))}."
    )


class _RequestsAdapter(requests.adapters.HTTPAdapter):
    """A requests transport that answers from the fake, with real `requests.Response` objects.

    Mounted on a session for every URL, so a request to any other host fails instead of
    reaching the network.
    """

    def __init__(self, fake: FakeXAPI) -> None:
        super().__init__()
        self._fake = fake

    def send(  # noqa: PLR0917  # requests' transport signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,  # noqa: ARG002, FBT001, FBT002  # ditto
        timeout: Any = None,  # noqa: ARG002  # ditto
        verify: Any = True,  # noqa: ARG002, FBT002  # ditto
        cert: Any = None,  # noqa: ARG002  # ditto
        proxies: Any = None,  # noqa: ARG002  # ditto
    ) -> requests.Response:
        url = request.url or ""
        if urllib.parse.urlsplit(url).hostname not in HOSTS:
            raise requests.ConnectionError(_refusal(url), request=request)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):  # a streamed upload: a file or an iterable of chunks
            chunks = body.read() if hasattr(body, "read") else b"".join(body)  # type: ignore[arg-type]  # bytes chunks, as requests streams them
            body = chunks.encode("utf-8") if isinstance(chunks, str) else chunks
        headers = {
            key: value.decode("latin-1") if isinstance(value, bytes) else value
            for key, value in request.headers.items()
        }
        status, response_headers, data = self._fake.handle(
            request.method or "GET", url, headers, body
        )
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(data),
            headers=response_headers,
            status=status,
            reason=http.HTTPStatus(status).phrase,
            preload_content=False,
            request_method=request.method,
            request_url=url,
        )
        return self.build_response(request, raw)


def _install_requests(fake: FakeXAPI, session: requests.Session) -> None:
    adapter = _RequestsAdapter(fake)
    session.mount("https://", adapter)
    session.mount("http://", adapter)


class _AiohttpSession:
    """Stands in for the `aiohttp.ClientSession` of a tweepy `AsyncClient`.

    Each request runs through a real `aiohttp.ClientSession` whose connector talks to the fake
    over a local socket pair, made inside the running event loop and closed after the
    response is read, as tweepy does when it has no session of its own.
    """

    def __init__(self, fake: FakeXAPI) -> None:
        self._fake = fake

    def request(self, method: str, url: Any, **kwargs: Any) -> _AiohttpRequest:
        """Start ``method url``: use as ``async with session.request(...) as response``."""
        return _AiohttpRequest(self._fake, method, url, kwargs)

    async def close(self) -> None:
        """Nothing to close: every request has its own session."""


class _AiohttpRequest:
    def __init__(self, fake: FakeXAPI, method: str, url: Any, kwargs: Mapping[str, Any]) -> None:
        self._fake, self._method, self._url, self._kwargs = fake, method, url, kwargs
        self._session: Any = None
        self._context: Any = None

    async def __aenter__(self) -> Any:
        import aiohttp  # noqa: PLC0415  # aiohttp is optional (the async extra)

        self._session = aiohttp.ClientSession(connector=_connector_class()(self._fake))
        self._context = self._session.request(self._method, self._url, **self._kwargs)
        try:
            return await self._context.__aenter__()
        except BaseException:
            await self._session.close()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._context.__aexit__(*exc_info)
        finally:
            await self._session.close()


@functools.cache
def _connector_class() -> type[Any]:
    """The aiohttp connector class, built on first use so aiohttp stays optional."""
    import aiohttp  # noqa: PLC0415  # optional dependency

    class FakeConnector(aiohttp.BaseConnector):
        """Connects every request to the fake over a socket pair: no network, real HTTP."""

        def __init__(self, fake: FakeXAPI) -> None:
            super().__init__(force_close=True)
            self._fake = fake
            self._serving: set[asyncio.Task[None]] = set()

        async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ARG002  # aiohttp's signature
            if req.url.host not in HOSTS:
                raise aiohttp.ClientConnectionError(_refusal(str(req.url)))
            ours, theirs = socket.socketpair()
            task = asyncio.get_running_loop().create_task(_serve(self._fake, theirs))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)
            _, protocol = await asyncio.get_running_loop().create_connection(
                self._factory, sock=ours
            )
            return protocol

        def close(self, **kwargs: Any) -> Any:
            return self._finish(super().close(**kwargs))

        async def _finish(self, closing: Any) -> None:
            if closing is not None:
                await closing
            await asyncio.gather(*self._serving, return_exceptions=True)

    return FakeConnector


async def _serve(fake: FakeXAPI, sock: socket.socket) -> None:
    """Answer the one HTTP/1.1 request that arrives on ``sock`` from the fake."""
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.rstrip("\r\n").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = dict(line.split(":", 1) for line in lines if ":" in line)
        headers = {key.strip().lower(): value.strip() for key, value in headers.items()}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                body += await reader.readexactly(size + 2)
                body = body[:-2]
            await reader.readuntil(b"\r\n")
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        url = f"https://{headers.get('host', 'api.twitter.com')}{target}"
        status, response_headers, data = fake.handle(method, url, headers, body)
        lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"]
        lines += [f"{key}: {value}" for key, value in response_headers.items()]
        lines += [f"content-length: {len(data)}", "connection: close", "", ""]
        writer.write("\r\n".join(lines).encode("latin-1") + data)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client went away before sending a whole request: nothing to answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in {"1", "t", "true"}


def _oauth_param(credentials: str, name: str) -> str | None:
    for part in credentials.split(","):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip('"')
    return None

"""The endpoint catalog: every request tweepy 4.x can send, and what it means for the policy.

HTTP verbs mislead (``API.lookup_users`` is a POST that only reads; a compliance job is a POST
that acts for no user), so the guarded clients never classify a request by its verb: they look
its (verb, route) up here. A request that matches no entry is an unknown route, which the
``endpoint.known`` rule refuses (fail closed).

Lookup walks a tree of route segments keyed by verb, literal segments before parameters, so
its cost is a handful of dict lookups whatever the size of the catalog.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from twpolicy._model import Action, ActionKind
from twpolicy._scopes import validate_scopes

__all__ = [
    "GEO_PARAMETERS",
    "Endpoint",
    "EndpointCatalog",
    "EndpointCategory",
    "canonical_json",
    "content_sha256",
    "endpoint_catalog",
]


class EndpointCategory(str, enum.Enum):
    """How the catalog classifies an endpoint (``Action.category``)."""

    PUBLIC_READ = "public_read"
    """Reads public content: Tweets, users, lists, Spaces, search, streams."""
    PRIVATE_READ = "private_read"
    """Reads what only the authenticated user may see: DMs, bookmarks, blocks, home timeline."""
    WRITE = "write"
    """Acts on behalf of a user; needs the user's consent for the endpoint's scopes."""
    APP = "app"
    """Acts for the application, not a user: stream rules, compliance jobs, rate limits."""
    GEO = "geo"
    """Looks up places and locations (v1.1 geo and trend-location endpoints)."""
    MEDIA_UPLOAD = "media_upload"
    """Uploads media to the user's account, or reads an upload's status."""

    def __str__(self) -> str:
        return self.value


#: The v1.1 parameters that attach a location to what is sent (I.C.5, I.C.9).
GEO_PARAMETERS = frozenset({"lat", "long", "place_id", "display_coordinates"})


@attrs.frozen
class Endpoint:
    """One (verb, route) tweepy can send, classified.

    Attributes:
        method: the HTTP verb.
        route: the route pattern, parameters written ``:name`` (``"/2/users/:id/likes"``;
            v1.1 routes end in ``.json``).
        category: how the endpoint is classified.
        scopes: the consent scopes a request needs (writes on a user's behalf only).
        methods: the tweepy methods that send it (``"like"``), for the family's clients.
        family: ``"v2"`` (Client, AsyncClient and the streaming clients) or ``"v1.1"`` (API).
        actor: the index of the route segment that holds the acting user's ID, if one does
            (``/2/users/:id/likes``: the API only accepts the authenticated user there).
        location_lookup: whether ``lat``/``long`` are the endpoint's own lookup parameters
            rather than a geotag attached to what is sent.
    """

    method: str
    route: str
    category: EndpointCategory
    scopes: frozenset[str] = attrs.field(converter=frozenset, factory=frozenset)
    methods: tuple[str, ...] = ()
    family: str = "v2"
    actor: int | None = None
    location_lookup: bool = False
    read_action: Action = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.scopes:
            validate_scopes(self.scopes)
        # Requests that need no consent are described by the same action every time.
        object.__setattr__(
            self,
            "read_action",
            Action(
                kind=ActionKind.API_CALL,
                operation=self.operation,
                category=self.category.value,
            ),
        )

    @property
    def operation(self) -> str:
        """``"VERB /route"``, as decisions name it."""
        return f"{self.method} {self.route}"

    @property
    def needs_consent(self) -> bool:
        """Whether a request acts on a user's behalf."""
        return bool(self.scopes)


def _v2(
    method: str, route: str, category: EndpointCategory, *methods: str, **extra: Any
) -> Endpoint:
    return Endpoint(method, route, category, methods=methods, family="v2", **extra)


def _v1(
    method: str, path: str, category: EndpointCategory, *methods: str, **extra: Any
) -> Endpoint:
    return Endpoint(method, f"/1.1/{path}.json", category, methods=methods, family="v1.1", **extra)


_PUB, _PRIV, _WRITE = (
    EndpointCategory.PUBLIC_READ,
    EndpointCategory.PRIVATE_READ,
    EndpointCategory.WRITE,
)
_APP, _GEO, _MEDIA = EndpointCategory.APP, EndpointCategory.GEO, EndpointCategory.MEDIA_UPLOAD
_DM_EVENTS = ("get_direct_message_events", "get_dm_events")
_DM_SEND = ("create_direct_message", "create_dm")
_UPLOAD = ("media_upload", "simple_upload", "chunked_upload")
_TWEET = frozenset({"tweet.write"})
_LIKE = frozenset({"like.write"})
_FOLLOW = frozenset({"follows.write"})
_MUTE = frozenset({"mute.write"})
_BLOCK = frozenset({"block.write"})
_LIST = frozenset({"list.write"})
_BOOKMARK = frozenset({"bookmark.write"})
_DM = frozenset({"dm.write"})
_PROFILE = frozenset({"profile.write"})
_SEARCH = frozenset({"saved_search.write"})
_UPLOADS = frozenset({"media.write"})

_ENDPOINTS = (
    # v2 Tweets
    _v2("GET", "/2/tweets", _PUB, "get_tweets"),
    _v2("GET", "/2/tweets/:id", _PUB, "get_tweet"),
    _v2("GET", "/2/tweets/:id/liking_users", _PUB, "get_liking_users"),
    _v2("GET", "/2/tweets/:id/quote_tweets", _PUB, "get_quote_tweets"),
    _v2("GET", "/2/tweets/:id/retweeted_by", _PUB, "get_retweeters"),
    _v2("GET", "/2/tweets/search/all", _PUB, "search_all_tweets"),
    _v2("GET", "/2/tweets/search/recent", _PUB, "search_recent_tweets"),
    _v2("GET", "/2/tweets/counts/all", _PUB, "get_all_tweets_count"),
    _v2("GET", "/2/tweets/counts/recent", _PUB, "get_recent_tweets_count"),
    _v2("POST", "/2/tweets", _WRITE, "create_tweet", scopes=_TWEET),
    _v2("DELETE", "/2/tweets/:id", _WRITE, "delete_tweet", scopes=_TWEET),
    _v2(
        "PUT",
        "/2/tweets/:id/hidden",
        _WRITE,
        "hide_reply",
        "unhide_reply",
        scopes={"tweet.moderate.write"},
    ),
    # v2 users
    _v2("GET", "/2/users", _PUB, "get_users"),
    _v2("GET", "/2/users/by", _PUB, "get_users"),
    _v2("GET", "/2/users/:id", _PUB, "get_user"),
    _v2("GET", "/2/users/by/username/:username", _PUB, "get_user"),
    _v2("GET", "/2/users/me", _PRIV, "get_me"),
    _v2("GET", "/2/users/:id/tweets", _PUB, "get_users_tweets"),
    _v2("GET", "/2/users/:id/mentions", _PUB, "get_users_mentions"),
    _v2("GET", "/2/users/:id/liked_tweets", _PUB, "get_liked_tweets"),
    _v2("GET", "/2/users/:id/followers", _PUB, "get_users_followers"),
    _v2("GET", "/2/users/:id/following", _PUB, "get_users_following"),
    _v2("GET", "/2/users/:id/followed_lists", _PUB, "get_followed_lists"),
    _v2("GET", "/2/users/:id/owned_lists", _PUB, "get_owned_lists"),
    _v2("GET", "/2/users/:id/list_memberships", _PUB, "get_list_memberships"),
    _v2("GET", "/2/users/:id/timelines/reverse_chronological", _PRIV, "get_home_timeline"),
    _v2("GET", "/2/users/:id/bookmarks", _PRIV, "get_bookmarks"),
    _v2("GET", "/2/users/:id/blocking", _PRIV, "get_blocked"),
    _v2("GET", "/2/users/:id/muting", _PRIV, "get_muted"),
    _v2("GET", "/2/users/:id/pinned_lists", _PRIV, "get_pinned_lists"),
    # v2 writes whose route names the authenticated user
    _v2("POST", "/2/users/:id/likes", _WRITE, "like", scopes=_LIKE, actor=3),
    _v2("DELETE", "/2/users/:id/likes/:tweet_id", _WRITE, "unlike", scopes=_LIKE, actor=3),
    _v2("POST", "/2/users/:id/retweets", _WRITE, "retweet", scopes=_TWEET, actor=3),
    _v2(
        "DELETE",
        "/2/users/:id/retweets/:source_tweet_id",
        _WRITE,
        "unretweet",
        scopes=_TWEET,
        actor=3,
    ),
    _v2("POST", "/2/users/:id/following", _WRITE, "follow_user", "follow", scopes=_FOLLOW, actor=3),
    _v2(
        "DELETE",
        "/2/users/:source_user_id/following/:target_user_id",
        _WRITE,
        "unfollow_user",
        "unfollow",
        scopes=_FOLLOW,
        actor=3,
    ),
    _v2("POST", "/2/users/:id/muting", _WRITE, "mute", scopes=_MUTE, actor=3),
    _v2(
        "DELETE",
        "/2/users/:source_user_id/muting/:target_user_id",
        _WRITE,
        "unmute",
        scopes=_MUTE,
        actor=3,
    ),
    _v2("POST", "/2/users/:id/bookmarks", _WRITE, "bookmark", scopes=_BOOKMARK, actor=3),
    _v2(
        "DELETE",
        "/2/users/:id/bookmarks/:tweet_id",
        _WRITE,
        "remove_bookmark",
        scopes=_BOOKMARK,
        actor=3,
    ),
    _v2("POST", "/2/users/:id/followed_lists", _WRITE, "follow_list", scopes=_LIST, actor=3),
    _v2(
        "DELETE",
        "/2/users/:id/followed_lists/:list_id",
        _WRITE,
        "unfollow_list",
        scopes=_LIST,
        actor=3,
    ),
    _v2("POST", "/2/users/:id/pinned_lists", _WRITE, "pin_list", scopes=_LIST, actor=3),
    _v2(
        "DELETE",
        "/2/users/:id/pinned_lists/:list_id",
        _WRITE,
        "unpin_list",
        scopes=_LIST,
        actor=3,
    ),
    # v2 lists
    _v2("GET", "/2/lists/:id", _PUB, "get_list"),
    _v2("GET", "/2/lists/:id/tweets", _PUB, "get_list_tweets"),
    _v2("GET", "/2/lists/:id/followers", _PUB, "get_list_followers"),
    _v2("GET", "/2/lists/:id/members", _PUB, "get_list_members"),
    _v2("POST", "/2/lists", _WRITE, "create_list", scopes=_LIST),
    _v2("PUT", "/2/lists/:id", _WRITE, "update_list", scopes=_LIST),
    _v2("DELETE", "/2/lists/:id", _WRITE, "delete_list", scopes=_LIST),
    _v2("POST", "/2/lists/:id/members", _WRITE, "add_list_member", scopes=_LIST),
    _v2("DELETE", "/2/lists/:id/members/:user_id", _WRITE, "remove_list_member", scopes=_LIST),
    # v2 Spaces
    _v2("GET", "/2/spaces", _PUB, "get_spaces"),
    _v2("GET", "/2/spaces/by/creator_ids", _PUB, "get_spaces"),
    _v2("GET", "/2/spaces/search", _PUB, "search_spaces"),
    _v2("GET", "/2/spaces/:id", _PUB, "get_space"),
    _v2("GET", "/2/spaces/:id/tweets", _PUB, "get_space_tweets"),
    _v2("GET", "/2/spaces/:id/buyers", _PRIV, "get_space_buyers"),
    # v2 Direct Messages
    _v2("GET", "/2/dm_events", _PRIV, *_DM_EVENTS),
    _v2("GET", "/2/dm_conversations/:dm_conversation_id/dm_events", _PRIV, *_DM_EVENTS),
    _v2("GET", "/2/dm_conversations/with/:participant_id/dm_events", _PRIV, *_DM_EVENTS),
    _v2(
        "POST",
        "/2/dm_conversations",
        _WRITE,
        "create_direct_message_conversation",
        "create_dm_conversation",
        scopes=_DM,
    ),
    _v2("POST", "/2/dm_conversations/:dm_conversation_id/messages", _WRITE, *_DM_SEND, scopes=_DM),
    _v2("POST", "/2/dm_conversations/with/:participant_id/messages", _WRITE, *_DM_SEND, scopes=_DM),
    # v2 application-level
    _v2("GET", "/2/compliance/jobs", _APP, "get_compliance_jobs"),
    _v2("GET", "/2/compliance/jobs/:id", _APP, "get_compliance_job"),
    _v2("POST", "/2/compliance/jobs", _APP, "create_compliance_job"),
    # compliance streams: no tweepy method; twpolicy's ingest_compliance_stream reads them
    _v2("GET", "/2/tweets/compliance/stream", _APP),
    _v2("GET", "/2/users/compliance/stream", _APP),
    _v2("GET", "/2/tweets/search/stream/rules", _APP, "get_rules"),
    _v2("POST", "/2/tweets/search/stream/rules", _APP, "add_rules", "delete_rules"),
    # v2 streams
    _v2("GET", "/2/tweets/search/stream", _PUB, "filter"),
    _v2("GET", "/2/tweets/sample/stream", _PUB, "sample"),
    # v1.1 timelines and Tweets
    _v1("GET", "statuses/home_timeline", _PRIV, "home_timeline"),
    _v1("GET", "statuses/mentions_timeline", _PUB, "mentions_timeline"),
    _v1("GET", "statuses/user_timeline", _PUB, "user_timeline"),
    _v1("GET", "statuses/retweets_of_me", _PUB, "get_retweets_of_me"),
    _v1("GET", "statuses/lookup", _PUB, "lookup_statuses"),
    _v1("GET", "statuses/oembed", _PUB, "get_oembed"),
    _v1("GET", "statuses/retweeters/ids", _PUB, "get_retweeter_ids"),
    _v1("GET", "statuses/retweets/:id", _PUB, "get_retweets"),
    _v1("GET", "statuses/show", _PUB, "get_status"),
    _v1("GET", "search/tweets", _PUB, "search_tweets"),
    _v1("GET", "favorites/list", _PUB, "get_favorites"),
    _v1("POST", "statuses/update", _WRITE, "update_status", scopes=_TWEET),
    _v1(
        "POST",
        "statuses/update_with_media",
        _WRITE,
        "update_status_with_media",
        scopes=_TWEET | _UPLOADS,
    ),
    _v1("POST", "statuses/destroy/:id", _WRITE, "destroy_status", scopes=_TWEET),
    _v1("POST", "statuses/retweet/:id", _WRITE, "retweet", scopes=_TWEET),
    _v1("POST", "statuses/unretweet/:id", _WRITE, "unretweet", scopes=_TWEET),
    _v1("POST", "favorites/create", _WRITE, "create_favorite", scopes=_LIKE),
    _v1("POST", "favorites/destroy", _WRITE, "destroy_favorite", scopes=_LIKE),
    # v1.1 lists
    _v1("GET", "lists/list", _PUB, "get_lists"),
    _v1("GET", "lists/members", _PUB, "get_list_members"),
    _v1("GET", "lists/members/show", _PUB, "get_list_member"),
    _v1("GET", "lists/memberships", _PUB, "get_list_memberships"),
    _v1("GET", "lists/ownerships", _PUB, "get_list_ownerships"),
    _v1("GET", "lists/show", _PUB, "get_list"),
    _v1("GET", "lists/statuses", _PUB, "list_timeline"),
    _v1("GET", "lists/subscribers", _PUB, "get_list_subscribers"),
    _v1("GET", "lists/subscribers/show", _PUB, "get_list_subscriber"),
    _v1("GET", "lists/subscriptions", _PUB, "get_list_subscriptions"),
    _v1("POST", "lists/create", _WRITE, "create_list", scopes=_LIST),
    _v1("POST", "lists/destroy", _WRITE, "destroy_list", scopes=_LIST),
    _v1("POST", "lists/update", _WRITE, "update_list", scopes=_LIST),
    _v1("POST", "lists/members/create", _WRITE, "add_list_member", scopes=_LIST),
    _v1("POST", "lists/members/create_all", _WRITE, "add_list_members", scopes=_LIST),
    _v1("POST", "lists/members/destroy", _WRITE, "remove_list_member", scopes=_LIST),
    _v1("POST", "lists/members/destroy_all", _WRITE, "remove_list_members", scopes=_LIST),
    _v1("POST", "lists/subscribers/create", _WRITE, "subscribe_list", scopes=_LIST),
    _v1("POST", "lists/subscribers/destroy", _WRITE, "unsubscribe_list", scopes=_LIST),
    # v1.1 users and relationships
    _v1("GET", "followers/ids", _PUB, "get_follower_ids"),
    _v1("GET", "followers/list", _PUB, "get_followers"),
    _v1("GET", "friends/ids", _PUB, "get_friend_ids"),
    _v1("GET", "friends/list", _PUB, "get_friends"),
    _v1("GET", "users/search", _PUB, "search_users"),
    _v1("GET", "users/show", _PUB, "get_user"),
    _v1("GET", "users/profile_banner", _PUB, "get_profile_banner"),
    _v1("POST", "users/lookup", _PUB, "lookup_users"),
    _v1("GET", "friendships/incoming", _PRIV, "incoming_friendships"),
    _v1("GET", "friendships/outgoing", _PRIV, "outgoing_friendships"),
    _v1("GET", "friendships/lookup", _PRIV, "lookup_friendships"),
    _v1("GET", "friendships/no_retweets/ids", _PRIV, "no_retweets_friendships"),
    _v1("GET", "friendships/show", _PRIV, "get_friendship"),
    _v1("POST", "friendships/create", _WRITE, "create_friendship", scopes=_FOLLOW),
    _v1("POST", "friendships/destroy", _WRITE, "destroy_friendship", scopes=_FOLLOW),
    _v1("POST", "friendships/update", _WRITE, "update_friendship", scopes=_FOLLOW),
    # v1.1 blocks, mutes, spam reports (a report also blocks, by default)
    _v1("GET", "blocks/ids", _PRIV, "get_blocked_ids"),
    _v1("GET", "blocks/list", _PRIV, "get_blocks"),
    _v1("GET", "mutes/users/ids", _PRIV, "get_muted_ids"),
    _v1("GET", "mutes/users/list", _PRIV, "get_mutes"),
    _v1("POST", "blocks/create", _WRITE, "create_block", scopes=_BLOCK),
    _v1("POST", "blocks/destroy", _WRITE, "destroy_block", scopes=_BLOCK),
    _v1("POST", "users/report_spam", _WRITE, "report_spam", scopes=_BLOCK),
    _v1("POST", "mutes/users/create", _WRITE, "create_mute", scopes=_MUTE),
    _v1("POST", "mutes/users/destroy", _WRITE, "destroy_mute", scopes=_MUTE),
    # v1.1 account
    _v1("GET", "account/verify_credentials", _PRIV, "verify_credentials"),
    _v1("GET", "account/settings", _PRIV, "get_settings"),
    _v1("POST", "account/settings", _WRITE, "set_settings", scopes=_PROFILE),
    _v1("POST", "account/update_profile", _WRITE, "update_profile", scopes=_PROFILE),
    _v1("POST", "account/update_profile_banner", _WRITE, "update_profile_banner", scopes=_PROFILE),
    _v1("POST", "account/update_profile_image", _WRITE, "update_profile_image", scopes=_PROFILE),
    _v1("POST", "account/remove_profile_banner", _WRITE, "remove_profile_banner", scopes=_PROFILE),
    _v1("GET", "saved_searches/list", _PRIV, "get_saved_searches"),
    _v1("GET", "saved_searches/show/:id", _PRIV, "get_saved_search"),
    _v1("POST", "saved_searches/create", _WRITE, "create_saved_search", scopes=_SEARCH),
    _v1("POST", "saved_searches/destroy/:id", _WRITE, "destroy_saved_search", scopes=_SEARCH),
    # v1.1 Direct Messages
    _v1("GET", "direct_messages/events/list", _PRIV, "get_direct_messages"),
    _v1("GET", "direct_messages/events/show", _PRIV, "get_direct_message"),
    _v1("POST", "direct_messages/events/new", _WRITE, "send_direct_message", scopes=_DM),
    _v1("DELETE", "direct_messages/events/destroy", _WRITE, "delete_direct_message", scopes=_DM),
    _v1(
        "POST",
        "direct_messages/indicate_typing",
        _WRITE,
        "indicate_direct_message_typing",
        scopes=_DM,
    ),
    _v1(  # read receipts: the user must have been told they are sent (I.C.5)
        "POST",
        "direct_messages/mark_read",
        _WRITE,
        "mark_direct_message_read",
        scopes=_DM | {"dm.read_receipts"},
    ),
    # v1.1 media (upload host)
    _v1(
        "POST",
        "media/upload",
        _MEDIA,
        *_UPLOAD,
        "chunked_upload_init",
        "chunked_upload_append",
        "chunked_upload_finalize",
        scopes=_UPLOADS,
    ),
    _v1("GET", "media/upload", _MEDIA, "get_media_upload_status"),
    _v1("POST", "media/metadata/create", _MEDIA, "create_media_metadata", scopes=_UPLOADS),
    # v1.1 geo and trends
    _v1("GET", "geo/id/:place_id", _GEO, "geo_id"),
    _v1("GET", "geo/reverse_geocode", _GEO, "reverse_geocode", location_lookup=True),
    _v1("GET", "geo/search", _GEO, "search_geo", location_lookup=True),
    _v1("GET", "trends/available", _GEO, "available_trends"),
    _v1("GET", "trends/closest", _GEO, "closest_trends", location_lookup=True),
    _v1("GET", "trends/place", _PUB, "get_place_trends"),
    # v1.1 application-level and help
    _v1("GET", "application/rate_limit_status", _APP, "rate_limit_status"),
    _v1("GET", "help/languages", _PUB, "supported_languages"),
)

#: Public methods that send no request of their own, and why they need no entry.
NO_REQUEST: Mapping[str, str] = {
    "request": "the low-level call every other method goes through; each route it is given "
    "is looked up in the catalog",
    "disconnect": "closes a stream; sends nothing",
    "on_*": "stream callbacks; every payload passes the guard before they run",
}

_PARAMETER = ":"


class _Node:
    __slots__ = ("endpoint", "literal", "parameter")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.parameter: _Node | None = None
        self.endpoint: Endpoint | None = None


def _segments(route: str) -> list[str]:
    """The segments of ``route``, without query string, trailing slash or ``.json``."""
    if "?" in route:
        route = route.partition("?")[0]
    if route.endswith((".json", "/")):
        route = route.removesuffix(".json")
        if route.endswith("/") and len(route) > 1:
            route = route[:-1]
    return route.split("/")[1:] if route.startswith("/") else [""]


class EndpointCatalog:
    """Every endpoint twpolicy knows, and lookup of concrete requests among them."""

    def __init__(self, endpoints: tuple[Endpoint, ...]) -> None:
        self._endpoints = endpoints
        self._roots: dict[str, _Node] = {}
        for endpoint in endpoints:
            node = self._roots.setdefault(endpoint.method, _Node())
            for segment in _segments(endpoint.route):
                if segment.startswith(_PARAMETER):
                    if node.parameter is None:
                        node.parameter = _Node()
                    node = node.parameter
                else:
                    node = node.literal.setdefault(segment, _Node())
            if node.endpoint is not None:
                msg = f"duplicate catalog entry {endpoint.operation}"
                raise ValueError(msg)
            node.endpoint = endpoint

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self._endpoints)

    def __len__(self) -> int:
        return len(self._endpoints)

    def lookup(self, method: str, route: str) -> Endpoint | None:
        """The entry a concrete request matches (``"GET"``, ``"/2/tweets/20"``), or ``None``.

        Literal segments win over parameters (``/2/users/me`` is not ``/2/users/:id``); a
        parameter matches one non-empty segment.
        """
        root = self._roots.get(method) or self._roots.get(method.upper())
        if root is None:
            return None
        segments = _segments(route)
        # Literal-first descent finds almost every route; backtrack only when it fails.
        node = root
        for segment in segments:
            child = node.literal.get(segment)
            if child is None:
                child = node.parameter if segment else None
                if child is None:
                    return _walk(root, segments, 0)
            node = child
        if node.endpoint is not None:
            return node.endpoint
        return _walk(root, segments, 0)

    def methods(self, family: str) -> frozenset[str]:
        """The tweepy method names the catalog covers for a family (``"v2"``, ``"v1.1"``)."""
        return frozenset(
            name
            for endpoint in self._endpoints
            if endpoint.family == family
            for name in endpoint.methods
        )


def _walk(node: _Node, segments: list[str], index: int) -> Endpoint | None:
    if index == len(segments):
        return node.endpoint
    segment = segments[index]
    child = node.literal.get(segment)
    if child is not None:
        found = _walk(child, segments, index + 1)
        if found is not None:
            return found
    if node.parameter is not None and segment:
        return _walk(node.parameter, segments, index + 1)
    return None


_CATALOG = EndpointCatalog(_ENDPOINTS)


def endpoint_catalog() -> EndpointCatalog:
    """The endpoint catalog the guarded clients use."""
    return _CATALOG


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _unserialisable(value: object) -> Any:
    msg = f"Object of type {type(value).__name__} is not JSON serializable"
    raise TypeError(msg)


def _c_encoder() -> Any:
    # The C encoder JSONEncoder builds anew on every call, built once: every write is hashed.
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover  # CPython without the _json accelerator
        return None
    sort_keys, skip_keys, allow_nan = True, False, False  # positional in the C signature
    return make(
        None,  # no circular check: a shared markers dict would race between threads
        _unserialisable,
        json.encoder.encode_basestring,
        None,
        ":",
        ",",
        sort_keys,
        skip_keys,
        allow_nan,
    )


_C_CANONICAL = _c_encoder()


def canonical_json(content: Any) -> bytes:
    """``content`` as canonical JSON: sorted keys, no spaces, UTF-8, no ASCII escaping."""
    if _C_CANONICAL is None or isinstance(content, str):  # pragma: no cover  # no accelerator
        return _CANONICAL.encode(content).encode("utf-8")
    return "".join(_C_CANONICAL(content, 0)).encode("utf-8")


def content_sha256(content: Any) -> str:
    """The hash a content-bound consent is recorded with, for what a request will publish.

    ``content`` is the JSON body of a v2 request as tweepy sends it (``create_tweet(text="hi")``
    sends ``{"text": "hi"}``), or for v1.1 the JSON payload when there is one
    (``send_direct_message``) and otherwise the parameters as the strings tweepy sends
    (``update_status("hi", lat=1.5)`` sends ``{"status": "hi", "lat": "1.5"}``). The hash is the
    hex SHA-256 of its `canonical_json`, so key order and spacing do not matter.
    """
    return hashlib.sha256(canonical_json(content)).hexdigest()

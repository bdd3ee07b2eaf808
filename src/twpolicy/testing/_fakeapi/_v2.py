"""What every v2 route shares: the fields and expansions X accepts, rendering, pages, lookups.

Objects render with ``id`` and the defaults X always sends, plus the ``*.fields`` the request
asked for; expansions add ``includes``. A lookup of unknown IDs answers 200 with an
``errors`` entry per ID, while a write naming an unknown resource is a 404, as X does.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from twpolicy.testing._fakeapi._routing import (
    Call,
    Reject,
    Reply,
    forbidden,
    invalid,
    lookup_error,
    missing,
)
from twpolicy.testing._fakeapi._state import (
    HASHTAG,
    MENTION,
    FakeXState,
    Json,
    Place,
    Tweet,
    User,
    XList,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

_Record = TypeVar("_Record")

MAX_IDS = 100  # IDs or usernames one v2 lookup takes
_EDIT_WINDOW = timedelta(hours=1)
_PAGE_MARK = "7140dibdnow9c7btw"

TWEET_FIELDS = frozenset(
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
USER_FIELDS = frozenset(
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
PLACE_FIELDS = frozenset(
    {"contained_within", "country", "country_code", "full_name", "geo", "id", "name", "place_type"}
)
LIST_FIELDS = frozenset(
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
DM_FIELDS = frozenset(
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
    "tweet.fields": TWEET_FIELDS,
    "user.fields": USER_FIELDS,
    "place.fields": PLACE_FIELDS,
    "list.fields": LIST_FIELDS,
    "dm_event.fields": DM_FIELDS,
    "media.fields": _MEDIA_FIELDS,
    "poll.fields": _POLL_FIELDS,
}
EXPANSIONS: Mapping[str, frozenset[str]] = {
    "tweet": _TWEET_EXPANSIONS,
    "user": frozenset({"pinned_tweet_id"}),
    "list": frozenset({"owner_id"}),
    "dm": frozenset(
        {"sender_id", "participant_ids", "referenced_tweets.id", "attachments.media_keys"}
    ),
}


def timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# -- parameters -----------------------------------------------------------------------------------


def wanted(call: Call, name: str, allowed: frozenset[str]) -> frozenset[str]:
    """The values of the comma-separated parameter ``name``; a 400 for one X does not know."""
    values = frozenset(v for v in call.params.get(name, "").split(",") if v)
    unknown = sorted(values - allowed)
    if unknown:
        raise invalid(
            name,
            unknown[0],
            f"The `{name}` query parameter value [{unknown[0]}] is not one of "
            f"[{','.join(sorted(allowed))}]",
        )
    return values


def check_fields(call: Call) -> None:
    """A 400 for any ``*.fields`` value X does not know, whether the route renders it or not."""
    for name in call.params.keys() & _FIELDS.keys():
        wanted(call, name, _FIELDS[name])


def body_field(call: Call, name: str) -> Any:
    """The required field ``name`` of the JSON body."""
    if not isinstance(call.json, dict) or call.json.get(name) in (None, ""):
        raise invalid(name, "", f"The `{name}` field is required")
    return call.json[name]


def lookup(
    call: Call,
    parameter: str,
    resource: str,
    find: Callable[[str], _Record | None],
    body: Callable[..., Json],
) -> Json:
    """Answer a lookup of one record or of many, with an error for each one not found.

    One is named by the path parameter ``parameter`` (``/2/users/:id``); when the route has
    none, many are named by the comma-separated query parameter of the plural
    (``/2/users?ids=``). ``body`` renders what was found (`tweets_body`, `users_body`).
    """
    if parameter in call.args:
        value = call.args[parameter]
        record = find(value)
        if record is None:
            return {"errors": [lookup_error(resource, parameter, value)]}
        return body([record], many=False)
    plural = parameter + "s"
    values = [v for v in call.params.get(plural, "").split(",") if v]
    if not 1 <= len(values) <= MAX_IDS:
        noun = "IDs" if parameter == "id" else "names"
        raise invalid(
            plural,
            call.params.get(plural, ""),
            f"The `{plural}` query parameter needs 1 to 100 {noun}",
        )
    found = [(value, find(value)) for value in values]
    return body(
        [record for _, record in found if record is not None],
        errors=[lookup_error(resource, plural, value) for value, record in found if record is None],
    )


def _token(offset: int) -> str:
    return _PAGE_MARK + format(offset, "x")


def _offset(token: str | None, parameter: str) -> int:
    if token is None:
        return 0
    if token.startswith(_PAGE_MARK):
        with contextlib.suppress(ValueError):
            return int(token[len(_PAGE_MARK) :], 16)
    raise invalid(
        parameter, token, f"The `{parameter}` query parameter value [{token}] is not valid"
    )


def page(
    call: Call,
    items: list[_Record],
    *,
    default: int = 100,
    minimum: int = 1,
    maximum: int = 100,
    cursor: str = "pagination_token",
) -> tuple[list[_Record], Json]:
    """The page of ``items`` that ``max_results`` and the ``cursor`` token ask for, and its meta."""
    raw = call.params.get("max_results")
    size = default
    if raw is not None:
        if not raw.isdigit() or not minimum <= int(raw) <= maximum:
            raise invalid(
                "max_results",
                raw,
                f"The `max_results` query parameter value [{raw}] is not between "
                f"{minimum} and {maximum}",
            )
        size = int(raw)
    start = _offset(call.params.get(cursor), cursor)
    found = items[start : start + size]
    meta: Json = {"result_count": len(found)}
    if start + size < len(items):
        meta["next_token"] = _token(start + size)
    if start > 0:
        meta["previous_token"] = _token(max(0, start - size))
    return found, meta


# -- lookups that refuse what does not exist ------------------------------------------------------


def existing_tweet(state: FakeXState, tweet_id: str, parameter: str = "id") -> Tweet:
    """The tweet, or a 404 for writes that name a tweet that does not exist."""
    tweet = state.tweets.get(tweet_id)
    if tweet is None:
        raise missing("tweet", parameter, tweet_id)
    return tweet


def existing_user(state: FakeXState, user_id: str, parameter: str = "id") -> User:
    """The user, or a 404 for writes that name a user that does not exist."""
    user = state.users.get(user_id)
    if user is None:
        raise missing("user", parameter, user_id)
    return user


def existing_list(state: FakeXState, list_id: str, *, owner: str | None = None) -> XList:
    """The List, or a 404; a 403 unless ``owner`` (when given) owns it."""
    lst = state.lists.get(list_id)
    if lst is None:
        raise missing("list", "id", list_id)
    if owner is not None and lst.owner_id != owner:
        raise forbidden("You are not allowed to modify a List you do not own.")
    return lst


def subject(state: FakeXState, call: Call) -> User:
    """The user a v2 read is about; an unknown one answers 200 with an error, as X does."""
    user = state.users.get(call.args["id"])
    if user is None:
        raise Reject(Reply(200, {"errors": [lookup_error("user", "id", call.args["id"])]}))
    return user


# -- rendering ------------------------------------------------------------------------------------


def _chosen(fields: frozenset[str], optional: Mapping[str, Callable[[], Any]]) -> Json:
    """The optional attributes ``fields`` asks for, in name order, computed only then."""
    return {name: optional[name]() for name in sorted(fields & optional.keys())}


def _entities(text: str) -> Json:
    found: Json = {}
    hashtags = [{"start": m.start(), "end": m.end(), "tag": m[1]} for m in HASHTAG.finditer(text)]
    mentions = [
        {"start": m.start(), "end": m.end(), "username": m[1]} for m in MENTION.finditer(text)
    ]
    if hashtags:
        found["hashtags"] = hashtags
    if mentions:
        found["mentions"] = mentions
    return found


def render_tweet(state: FakeXState, tweet: Tweet, fields: frozenset[str]) -> Json:
    out: Json = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
    out |= _chosen(
        fields,
        {
            "author_id": lambda: tweet.author_id,
            "created_at": lambda: timestamp(tweet.created_at),
            "conversation_id": lambda: tweet.conversation_id,
            "lang": lambda: tweet.lang,
            "source": lambda: tweet.source,
            "reply_settings": lambda: tweet.reply_settings,
            "possibly_sensitive": lambda: False,
            "public_metrics": lambda: state.tweet_counts(tweet),
            "edit_controls": lambda: {
                "edits_remaining": 5,
                "is_edit_eligible": tweet.retweet_of is None,
                "editable_until": timestamp(tweet.created_at + _EDIT_WINDOW),
            },
        },
    )
    if "in_reply_to_user_id" in fields and tweet.in_reply_to_user_id is not None:
        out["in_reply_to_user_id"] = tweet.in_reply_to_user_id
    references = tweet.references()
    if "referenced_tweets" in fields and references:
        out["referenced_tweets"] = [{"type": kind, "id": tid} for kind, tid in references]
    if "entities" in fields and (entities := _entities(tweet.text)):
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


def render_user(state: FakeXState, user: User, fields: frozenset[str]) -> Json:
    out: Json = {"id": user.id, "name": user.name, "username": user.username}
    out |= _chosen(
        fields,
        {
            "created_at": lambda: timestamp(user.created_at),
            "description": lambda: user.description,
            "location": lambda: user.location,
            "profile_image_url": lambda: (
                f"https://pbs.twimg.com/profile_images/{user.id}/avatar_normal.jpg"
            ),
            "protected": lambda: user.protected,
            "public_metrics": lambda: state.user_counts(user.id),
            "url": lambda: user.url,
            "verified": lambda: user.verified,
        },
    )
    if "pinned_tweet_id" in fields and user.pinned_tweet_id:
        out["pinned_tweet_id"] = user.pinned_tweet_id
    return out


def _render_place(place: Place, fields: frozenset[str]) -> Json:
    out: Json = {"id": place.id, "full_name": place.full_name}
    out |= _chosen(
        fields,
        {
            "name": lambda: place.name,
            "country": lambda: place.country,
            "country_code": lambda: place.country_code,
            "place_type": lambda: place.place_type,
            "geo": lambda: {"type": "Feature", "bbox": list(place.bbox), "properties": {}},
        },
    )
    if "contained_within" in fields and place.contained_within:
        out["contained_within"] = list(place.contained_within)
    return out


def _render_list(lst: XList, fields: frozenset[str]) -> Json:
    out: Json = {"id": lst.id, "name": lst.name}
    return out | _chosen(
        fields,
        {
            "created_at": lambda: timestamp(lst.created_at),
            "description": lambda: lst.description,
            "follower_count": lambda: len(lst.followers),
            "member_count": lambda: len(lst.members),
            "owner_id": lambda: lst.owner_id,
            "private": lambda: lst.private,
        },
    )


def _expanded_users(state: FakeXState, tweet: Tweet, expansions: frozenset[str]) -> list[str]:
    """The IDs of the users ``expansions`` pull in for ``tweet``."""
    found = []
    if "author_id" in expansions:
        found.append(tweet.author_id)
    if "in_reply_to_user_id" in expansions and tweet.in_reply_to_user_id:
        found.append(tweet.in_reply_to_user_id)
    if "entities.mentions.username" in expansions:
        mentioned = (state.user_by_name(name) for name in MENTION.findall(tweet.text))
        found.extend(user.id for user in mentioned if user is not None)
    if "referenced_tweets.id.author_id" in expansions:
        referenced = (state.tweets.get(tid) for _, tid in tweet.references())
        found.extend(t.author_id for t in referenced if t is not None)
    return [uid for uid in found if uid in state.users]


def _tweet_includes(state: FakeXState, call: Call, tweets: list[Tweet]) -> Json:
    expansions = wanted(call, "expansions", _TWEET_EXPANSIONS)
    shown = {t.id for t in tweets}
    users = {uid: None for t in tweets for uid in _expanded_users(state, t, expansions)}
    places = {
        t.place_id: None
        for t in tweets
        if "geo.place_id" in expansions and t.place_id in state.places
    }
    included = {
        tid: None
        for t in tweets
        for _, tid in t.references()
        if "referenced_tweets.id" in expansions and tid in state.tweets and tid not in shown
    }
    includes: Json = {}
    if users:
        includes["users"] = included_users(state, call, users)
    if places:
        found_places = [state.places[p] for p in places if p]
        includes["places"] = _rendered(call, "place", found_places, _render_place)
    if included:
        found_tweets = [state.tweets[t] for t in included]
        render = functools.partial(render_tweet, state)
        includes["tweets"] = _rendered(call, "tweet", found_tweets, render)
    return includes


def _rendered(
    call: Call,
    kind: str,
    records: Iterable[_Record],
    render: Callable[[_Record, frozenset[str]], Json],
) -> list[Json]:
    """``records`` rendered with the ``<kind>.fields`` the request asks for."""
    parameter = f"{kind}.fields"
    fields = wanted(call, parameter, _FIELDS[parameter])
    return [render(record, fields) for record in records]


def included_users(state: FakeXState, call: Call, user_ids: Iterable[str]) -> list[Json]:
    """The users an expansion pulls in, with the ``user.fields`` asked for."""
    users = (state.users[u] for u in user_ids)
    return _rendered(call, "user", users, functools.partial(render_user, state))


class BodyParts(TypedDict, total=False):
    """What a v2 response body has besides the objects rendered and what they include."""

    many: bool  # ``data`` is a list (the default), else the one object
    errors: list[Json] | None  # resources not found
    meta: Json | None  # ``result_count`` and the tokens of a page


def _body(
    rendered: list[Json],
    includes: Json | None,
    *,
    many: bool = True,
    errors: list[Json] | None = None,
    meta: Json | None = None,
) -> Json:
    """A v2 response body: ``data`` (one object or a list), ``includes``, ``errors``, ``meta``."""
    body: Json = {}
    if rendered:
        body["data"] = rendered if many else rendered[0]
        if includes:
            body["includes"] = includes
    if errors:
        body["errors"] = errors
    if meta is not None:
        body["meta"] = meta
    return body


def tweets_body(
    state: FakeXState, call: Call, tweets: list[Tweet], **parts: Unpack[BodyParts]
) -> Json:
    data = _rendered(call, "tweet", tweets, functools.partial(render_tweet, state))
    includes = _tweet_includes(state, call, tweets) if tweets else None
    meta = parts.get("meta")
    if meta is not None and tweets:
        parts["meta"] = {"newest_id": tweets[0].id, "oldest_id": tweets[-1].id, **meta}
    return _body(data, includes, **parts)


def users_body(
    state: FakeXState, call: Call, users: list[User], **parts: Unpack[BodyParts]
) -> Json:
    expansions = wanted(call, "expansions", EXPANSIONS["user"])
    pinned = [
        state.tweets[u.pinned_tweet_id]
        for u in users
        if "pinned_tweet_id" in expansions and u.pinned_tweet_id in state.tweets
    ]
    includes = None
    if pinned:
        includes = {
            "tweets": _rendered(call, "tweet", pinned, functools.partial(render_tweet, state))
        }
    data = _rendered(call, "user", users, functools.partial(render_user, state))
    return _body(data, includes, **parts)


def lists_body(
    state: FakeXState, call: Call, lists: list[XList], **parts: Unpack[BodyParts]
) -> Json:
    owners = {lst.owner_id: None for lst in lists}
    includes = None
    if "owner_id" in wanted(call, "expansions", EXPANSIONS["list"]) and owners:
        includes = {"users": included_users(state, call, owners)}
    return _body(_rendered(call, "list", lists, _render_list), includes, **parts)

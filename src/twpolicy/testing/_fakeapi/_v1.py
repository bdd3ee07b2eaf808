"""The v1.1 routes tweepy's `API` uses, and the v1.1 shapes of statuses, users, places, DMs.

v1.1 differs from v2 in more than shape: errors carry numeric codes, lookups of unknown IDs
answer 404, lists page by ``cursor`` or ``since_id``/``max_id``, and a status embeds its
author, place, and the status it retweets or quotes.
"""

from __future__ import annotations

import urllib.parse
from datetime import datetime, timezone
from typing import Any

from twpolicy.testing._fakeapi._routing import Call, Reply, RouteGroup, v1_error
from twpolicy.testing._fakeapi._state import (
    HASHTAG,
    MAX_TEXT,
    MENTION,
    DMEvent,
    FakeXState,
    Json,
    Place,
    Tweet,
    User,
    toggle,
)

ROUTES = RouteGroup()


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%a %b %d %H:%M:%S +0000 %Y")


def _truthy(value: str | None) -> bool:
    """A v1.1 boolean parameter's value (``true``, ``t`` or ``1``)."""
    return (value or "").lower() in {"1", "t", "true"}


# -- rendering ------------------------------------------------------------------------------------


def _render_user(state: FakeXState, user: User, viewer: str | None) -> Json:
    counts = state.user_counts(user.id)
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
        "created_at": _timestamp(user.created_at),
        "favourites_count": len(state.likes.get(user.id, ())),
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
        "following": viewer is not None and user.id in state.following.get(viewer, ()),
        "follow_request_sent": False,
        "notifications": False,
        "translator_type": "none",
    }


def _render_place(state: FakeXState, place: Place, *, nested: bool = False) -> Json:
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
            _render_place(state, state.places[p], nested=True)
            for p in place.contained_within
            if p in state.places
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


def _entities(state: FakeXState, text: str) -> Json:
    mentions = []
    for match in MENTION.finditer(text):
        user = state.user_by_name(match[1])
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
            {"text": m[1], "indices": [m.start(), m.end()]} for m in HASHTAG.finditer(text)
        ],
        "symbols": [],
        "user_mentions": mentions,
        "urls": [],
    }


def _render_status(state: FakeXState, tweet: Tweet, call: Call, *, embedded: bool = False) -> Json:
    viewer = call.user_id
    extended = call.params.get("tweet_mode") == "extended"
    out: Json = {
        "created_at": _timestamp(tweet.created_at),
        "id": int(tweet.id),
        "id_str": tweet.id,
    }
    if extended:
        out["full_text"] = tweet.text
        out["display_text_range"] = [0, len(tweet.text)]
    else:
        out["text"] = tweet.text
    parent = state.tweets.get(tweet.in_reply_to_tweet_id or "")
    reply_user = state.users.get(tweet.in_reply_to_user_id or "")
    user = state.users[tweet.author_id]
    out.update(
        {
            "truncated": False,
            "entities": _entities(state, tweet.text),
            "source": f'<a href="https://twpolicy.invalid" rel="nofollow">{tweet.source}</a>',
            "in_reply_to_status_id": int(parent.id) if parent else None,
            "in_reply_to_status_id_str": parent.id if parent else None,
            "in_reply_to_user_id": int(reply_user.id) if reply_user else None,
            "in_reply_to_user_id_str": reply_user.id if reply_user else None,
            "in_reply_to_screen_name": reply_user.username if reply_user else None,
            "user": (
                {"id": int(user.id), "id_str": user.id}
                if _truthy(call.params.get("trim_user"))
                else _render_user(state, user, viewer)
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
    if tweet.place_id in state.places:
        out["place"] = _render_place(state, state.places[tweet.place_id or ""])
    original = state.tweets.get(tweet.retweet_of or "")
    if original is not None and not embedded:
        out["retweeted_status"] = _render_status(state, original, call, embedded=True)
    quoted = state.tweets.get(tweet.quote_of or "")
    out["is_quote_status"] = quoted is not None
    if quoted is not None:
        out["quoted_status_id"] = int(quoted.id)
        out["quoted_status_id_str"] = quoted.id
        if not embedded:
            out["quoted_status"] = _render_status(state, quoted, call, embedded=True)
    counts = state.tweet_counts(tweet)
    out.update(
        {
            "retweet_count": counts["retweet_count"],
            "favorite_count": counts["like_count"],
            "favorited": viewer is not None and tweet.id in state.likes.get(viewer, ()),
            "retweeted": viewer is not None and state.find_retweet(viewer, tweet.id) is not None,
            "lang": tweet.lang,
        }
    )
    return out


# -- parameters and lookups -----------------------------------------------------------------------


def _existing_tweet(state: FakeXState, tweet_id: str | None) -> Tweet:
    tweet = state.tweets.get(tweet_id or "")
    if tweet is None:
        raise v1_error(404, 144, "No status found with that ID.")
    return tweet


def _target(
    state: FakeXState, call: Call, id_param: str = "user_id", name_param: str = "screen_name"
) -> User:
    """The user a v1.1 call names by ID or screen name (the caller when neither is given)."""
    if id_param in call.params:
        user = state.users.get(call.params[id_param])
    elif name_param in call.params:
        user = state.user_by_name(call.params[name_param])
    else:
        user = state.users.get(call.user_id or "")
    if user is None:
        raise v1_error(404, 50, "User not found.")
    return user


def _timeline(state: FakeXState, call: Call, tweets: list[Tweet]) -> list[Json]:
    count = min(int(call.params.get("count", "20") or 20), 200)
    since, until = call.params.get("since_id"), call.params.get("max_id")
    if not _truthy(call.params.get("include_rts", "true")):
        tweets = [t for t in tweets if t.retweet_of is None]
    if _truthy(call.params.get("exclude_replies")):
        tweets = [t for t in tweets if t.in_reply_to_tweet_id is None]
    selected = [
        t
        for t in tweets
        if (since is None or int(t.id) > int(since)) and (until is None or int(t.id) <= int(until))
    ]
    return [_render_status(state, t, call) for t in selected[:count]]


def _cursor(call: Call, items: list[Any], *, size: int) -> tuple[list[Any], Json]:
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


# -- statuses -------------------------------------------------------------------------------------


@ROUTES.route("POST", "/1.1/statuses/update.json", user_context=True, limit=300)
def update_status(state: FakeXState, call: Call) -> Json:
    text = call.params.get("status", "")
    media = tuple(m for m in call.params.get("media_ids", "").split(",") if m)
    if not text and not media:
        raise v1_error(400, 170, "Missing required parameter: status.")
    if len(text) > MAX_TEXT:
        raise v1_error(403, 186, "Tweet needs to be a bit shorter.")
    author = call.user_id or ""
    if state.is_duplicate(author, text):
        raise v1_error(403, 187, "Status is a duplicate.")
    reply_to = call.params.get("in_reply_to_status_id")
    if reply_to is not None:
        _existing_tweet(state, reply_to)
    quote_of = call.params.get("attachment_url", "").rstrip("/").rpartition("/")[2] or None
    place_id = call.params.get("place_id")
    tweet = state.new_tweet(
        text,
        author,
        reply_to=reply_to,
        quote_of=quote_of if quote_of in state.tweets else None,
        place_id=place_id if place_id in state.places else None,
    )
    tweet.media_ids = media
    if "lat" in call.params and "long" in call.params:
        tweet.coordinates = (float(call.params["long"]), float(call.params["lat"]))
    return _render_status(state, tweet, call)


@ROUTES.route("POST", "/1.1/statuses/destroy/:id.json", user_context=True, limit=300)
def destroy_status(state: FakeXState, call: Call) -> Json:
    tweet = _existing_tweet(state, call.args["id"])
    if tweet.author_id != call.user_id:
        raise v1_error(403, 183, "You may not delete another user's status.")
    rendered = _render_status(state, tweet, call)
    state.remove_tweet(tweet.id)
    return rendered


@ROUTES.route("GET", "/1.1/statuses/show.json")
def show_status(state: FakeXState, call: Call) -> Json:
    return _render_status(state, _existing_tweet(state, call.params.get("id")), call)


@ROUTES.route("GET", "/1.1/statuses/lookup.json")
def lookup_statuses(state: FakeXState, call: Call) -> list[Json]:
    ids = [i for i in call.params.get("id", "").split(",") if i]
    return [_render_status(state, state.tweets[i], call) for i in ids if i in state.tweets]


@ROUTES.route("GET", "/1.1/statuses/user_timeline.json")
def user_timeline(state: FakeXState, call: Call) -> list[Json]:
    user = _target(state, call)
    return _timeline(state, call, [t for t in state.visible_tweets() if t.author_id == user.id])


@ROUTES.route("GET", "/1.1/statuses/home_timeline.json", user_context=True, limit=15)
def home_timeline(state: FakeXState, call: Call) -> list[Json]:
    return _timeline(state, call, state.home_timeline(call.user_id or ""))


@ROUTES.route("GET", "/1.1/statuses/mentions_timeline.json", user_context=True, limit=75)
def mentions_timeline(state: FakeXState, call: Call) -> list[Json]:
    return _timeline(state, call, state.mentioning(state.users[call.user_id or ""]))


@ROUTES.route("POST", "/1.1/statuses/retweet/:id.json", user_context=True, limit=300)
def retweet(state: FakeXState, call: Call) -> Json:
    original = _existing_tweet(state, call.args["id"])
    if state.find_retweet(call.user_id or "", original.id) is not None:
        raise v1_error(403, 327, "You have already retweeted this Tweet.")
    return _render_status(state, state.retweet(call.user_id or "", original), call)


@ROUTES.route("POST", "/1.1/statuses/unretweet/:id.json", user_context=True, limit=300)
def unretweet(state: FakeXState, call: Call) -> Json:
    original = _existing_tweet(state, call.args["id"])
    found = state.find_retweet(call.user_id or "", original.id)
    if found is not None:
        state.remove_tweet(found.id)
    return _render_status(state, original, call)


@ROUTES.route("GET", "/1.1/search/tweets.json", limit=180)
def search_tweets(state: FakeXState, call: Call) -> Json:
    query = call.params.get("q", "")
    if not query:
        raise v1_error(400, 25, "Query parameters are missing.")
    found = _timeline(state, call, state.search(query))
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


# -- favorites ------------------------------------------------------------------------------------


@ROUTES.route("GET", "/1.1/favorites/list.json", limit=75)
def favorites(state: FakeXState, call: Call) -> list[Json]:
    user = _target(state, call)
    return _timeline(
        state, call, [state.tweets[t] for t in state.likes.get(user.id, ()) if t in state.tweets]
    )


@ROUTES.route("POST", "/1.1/favorites/create.json", user_context=True, limit=300)
@ROUTES.route("POST", "/1.1/favorites/destroy.json", user_context=True, limit=300)
def favorite(state: FakeXState, call: Call) -> Json:
    """Like a tweet (``create``), or take it back (``destroy``)."""
    on = call.route.endswith("/create.json")
    tweet = _existing_tweet(state, call.params.get("id"))
    if toggle(state.likes, call.user_id or "", tweet.id, on=on):
        return _render_status(state, tweet, call)
    if on:
        raise v1_error(403, 139, "You have already favorited this status.")
    raise v1_error(404, 144, "No status found with that ID.")


# -- users, friendships, blocks, mutes ------------------------------------------------------------


@ROUTES.route("GET", "/1.1/account/verify_credentials.json", user_context=True, limit=75)
def verify_credentials(state: FakeXState, call: Call) -> Json:
    return _render_user(state, state.users[call.user_id or ""], call.user_id)


@ROUTES.route("GET", "/1.1/users/show.json")
def show_user(state: FakeXState, call: Call) -> Json:
    if "user_id" not in call.params and "screen_name" not in call.params:
        raise v1_error(403, 50, "User not found.")
    return _render_user(state, _target(state, call), call.user_id)


@ROUTES.route("POST", "/1.1/users/lookup.json")
@ROUTES.route("GET", "/1.1/users/lookup.json")
def lookup_users(state: FakeXState, call: Call) -> list[Json]:
    ids = [i for i in call.params.get("user_id", "").split(",") if i]
    names = [n for n in call.params.get("screen_name", "").split(",") if n]
    found = [state.users[i] for i in ids if i in state.users]
    found += [u for n in names if (u := state.user_by_name(n)) is not None]
    if not found:
        raise v1_error(404, 17, "No user matches for specified terms.")
    return [_render_user(state, u, call.user_id) for u in found]


@ROUTES.route(
    "POST",
    "/1.1/friendships/create.json",
    "/1.1/friendships/destroy.json",
    "/1.1/blocks/create.json",
    "/1.1/blocks/destroy.json",
    "/1.1/mutes/users/create.json",
    "/1.1/mutes/users/destroy.json",
    user_context=True,
    limit=50,
)
def change_relationship(state: FakeXState, call: Call) -> Json:
    """Follow, block or mute a user (``.../create``), or stop (``.../destroy``)."""
    resource, _, action = call.route.removeprefix("POST /1.1/").rpartition("/")
    relations = {"friendships": state.following, "blocks": state.blocking}
    collection = relations.get(resource, state.muting)
    on = action == "create.json"
    me = call.user_id or ""
    target = _target(state, call)
    if target.id == me:
        raise v1_error(403, 158, "You can't do that to yourself.")
    if not (on and collection is state.following and target.protected):
        toggle(collection, me, target.id, on=on)
    rendered = _render_user(state, target, call.user_id)  # as it was when the change was made
    if on and collection is state.blocking:  # blocking also ends following, both ways
        toggle(state.following, me, target.id, on=False)
        toggle(state.following, target.id, me, on=False)
    return rendered


@ROUTES.route("GET", "/1.1/friendships/show.json", limit=180)
def show_friendship(state: FakeXState, call: Call) -> Json:
    source = _target(state, call, "source_id", "source_screen_name")
    target = _target(state, call, "target_id", "target_screen_name")

    def side(one: User, other: User, *, full: bool) -> Json:
        out: Json = {
            "id": int(one.id),
            "id_str": one.id,
            "screen_name": one.username,
            "following": other.id in state.following.get(one.id, ()),
            "followed_by": one.id in state.following.get(other.id, ()),
            "following_received": False,
            "following_requested": False,
        }
        if full:
            out.update(
                notifications_enabled=False,
                can_dm=one.id in state.following.get(other.id, ()),
                blocking=other.id in state.blocking.get(one.id, ()),
                blocked_by=one.id in state.blocking.get(other.id, ()),
                muting=other.id in state.muting.get(one.id, ()),
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


@ROUTES.route(
    "GET",
    "/1.1/friends/ids.json",
    "/1.1/followers/ids.json",
    "/1.1/friends/list.json",
    "/1.1/followers/list.json",
    limit=15,
)
def connections(state: FakeXState, call: Call) -> Json:
    """Whom a user follows (``friends``) or who follows them (``followers``): IDs or users."""
    who, _, form = call.route.removeprefix("GET /1.1/").rpartition("/")
    user_id = _target(state, call).id
    if who == "friends":
        ids = list(state.following.get(user_id, ()))
    else:
        ids = [u for u, followed in state.following.items() if user_id in followed]
    if form == "list.json":
        page, cursors = _cursor(call, ids, size=20)
        users = [_render_user(state, state.users[i], call.user_id) for i in page]
        return {"users": users, **cursors}
    page, cursors = _cursor(call, ids, size=5000)
    values: list[Any] = (
        page if _truthy(call.params.get("stringify_ids")) else [int(i) for i in page]
    )
    return {"ids": values, **cursors, "total_count": None}


# -- geo ------------------------------------------------------------------------------------------


@ROUTES.route("GET", "/1.1/geo/id/:place_id.json", limit=75)
def geo_id(state: FakeXState, call: Call) -> Json:
    place = state.places.get(call.args["place_id"])
    if place is None:
        raise v1_error(404, 34, "Sorry, that page does not exist.")
    return _render_place(state, place)


def _geo_result(state: FakeXState, call: Call, places: list[Place], query: Json) -> Json:
    limit = int(call.params.get("max_results", "20") or 20)
    found = sorted(places, key=Place.area)[:limit]
    return {"result": {"places": [_render_place(state, p) for p in found]}, "query": query}


def _point(call: Call) -> tuple[float, float] | None:
    if "lat" not in call.params or "long" not in call.params:
        return None
    try:
        latitude, longitude = float(call.params["lat"]), float(call.params["long"])
    except ValueError:
        raise v1_error(400, 3, "Invalid coordinates.") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):  # noqa: PLR2004  # degrees
        raise v1_error(400, 3, "Invalid coordinates.")
    return longitude, latitude


@ROUTES.route("GET", "/1.1/geo/search.json", limit=15)
def geo_search(state: FakeXState, call: Call) -> Json:
    point = _point(call)
    text = call.params.get("query", "").lower()
    if point is None and not text:
        raise v1_error(400, 25, "Query parameters are missing.")
    places = [
        p
        for p in state.places.values()
        if (point is None or p.contains(*point)) and text in p.full_name.lower()
    ]
    return _geo_result(state, call, places, {"type": "search", "params": dict(call.params)})


@ROUTES.route("GET", "/1.1/geo/reverse_geocode.json", limit=15)
def reverse_geocode(state: FakeXState, call: Call) -> Json:
    point = _point(call)
    if point is None:
        raise v1_error(400, 25, "Query parameters are missing.")
    places = [p for p in state.places.values() if p.contains(*point)]
    return _geo_result(
        state, call, places, {"type": "reverse_geocode", "params": dict(call.params)}
    )


# -- direct messages ------------------------------------------------------------------------------


def _render_dm(state: FakeXState, event: DMEvent) -> Json:
    return {
        "type": "message_create",
        "id": event.id,
        "created_timestamp": str(int(event.created_at.timestamp() * 1000)),
        "message_create": {
            "target": {"recipient_id": event.recipient_id},
            "sender_id": event.sender_id,
            "message_data": {
                "text": event.text,
                "entities": _entities(state, event.text or ""),
            },
        },
    }


@ROUTES.route("POST", "/1.1/direct_messages/events/new.json", user_context=True, limit=1000)
def send_direct_message(state: FakeXState, call: Call) -> Json:
    event = call.json.get("event", {}) if isinstance(call.json, dict) else {}
    create = event.get("message_create", {})
    recipient = str(create.get("target", {}).get("recipient_id", ""))
    if recipient not in state.users:
        raise v1_error(404, 108, "Cannot find specified user.")
    text = create.get("message_data", {}).get("text", "")
    conversation = state.conversation_id(call.user_id or "", recipient)
    return {"event": _render_dm(state, state.send_dm(conversation, call.user_id, text, recipient))}


def _dms(state: FakeXState, call: Call) -> list[DMEvent]:
    """The caller's one-to-one messages: all v1.1 knows of DMs."""
    return [
        e for e in state.dms_of(call.user_id) if e.event_type == "MessageCreate" and e.recipient_id
    ]


def _named_dm(state: FakeXState, call: Call) -> DMEvent:
    """The caller's message the ``id`` parameter names, or a 404."""
    event = next((e for e in _dms(state, call) if e.id == call.params.get("id")), None)
    if event is None:
        raise v1_error(404, 34, "Sorry, that page does not exist.")
    return event


@ROUTES.route("GET", "/1.1/direct_messages/events/list.json", user_context=True, limit=15)
def list_direct_messages(state: FakeXState, call: Call) -> Json:
    page, cursors = _cursor(call, _dms(state, call), size=20)
    body: Json = {"events": [_render_dm(state, e) for e in page]}
    if cursors["next_cursor"]:
        body["next_cursor"] = cursors["next_cursor_str"]
    return body


@ROUTES.route("GET", "/1.1/direct_messages/events/show.json", user_context=True, limit=15)
def show_direct_message(state: FakeXState, call: Call) -> Json:
    return {"event": _render_dm(state, _named_dm(state, call))}


@ROUTES.route("DELETE", "/1.1/direct_messages/events/destroy.json", user_context=True, limit=300)
def destroy_direct_message(state: FakeXState, call: Call) -> Reply:
    state.dm_events.remove(_named_dm(state, call))
    return Reply(204)


# -- media ----------------------------------------------------------------------------------------


@ROUTES.route("POST", "/1.1/media/upload.json", user_context=True, limit=500)
def upload(state: FakeXState, call: Call) -> Json:
    command = call.params.get("command")
    if command == "APPEND":
        return {}
    if command == "FINALIZE":
        media = state.media.get(call.params.get("media_id", ""))
        if media is None:
            raise v1_error(400, 324, "Invalid media id.")
        return media
    media_id = state.new_id()
    size = int(call.params.get("total_bytes", "0") or 0) or len(call.body)
    state.media[media_id] = {
        "media_id": int(media_id),
        "media_id_string": media_id,
        "size": size,
        "expires_after_secs": 86400,
    }
    return state.media[media_id]


@ROUTES.route("GET", "/1.1/media/upload.json", user_context=True, limit=500)
def upload_status(state: FakeXState, call: Call) -> Json:
    media = state.media.get(call.params.get("media_id", ""))
    if media is None:
        raise v1_error(400, 324, "Invalid media id.")
    return {**media, "processing_info": {"state": "succeeded", "progress_percent": 100}}

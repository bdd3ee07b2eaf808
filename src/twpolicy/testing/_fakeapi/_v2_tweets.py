"""The v2 routes of tweets, and of what users do to them (likes, retweets, bookmarks).

Posting, deleting, lookups, search, quote tweets, hiding replies, and the timelines of a
user's tweets, mentions and home.
"""

from __future__ import annotations

import functools

from twpolicy.testing._fakeapi import _v2
from twpolicy.testing._fakeapi._routing import Call, Reply, RouteGroup, forbidden, invalid, refuse
from twpolicy.testing._fakeapi._state import MAX_TEXT, FakeXState, Json, Tweet, toggle

ROUTES = RouteGroup()


@ROUTES.route("POST", "/2/tweets", user_context=True, limit=200)
def create_tweet(state: FakeXState, call: Call) -> Reply:
    body = call.json if isinstance(call.json, dict) else {}
    text = body.get("text", "")
    author = call.user_id or ""
    media = tuple(body.get("media", {}).get("media_ids", ()))
    if not text and not media:
        raise invalid("text", "", "The `text` field is required unless media is attached")
    if len(text) > MAX_TEXT:
        raise refuse(400, "Invalid Request", "Your Tweet text is too long.")
    if state.is_duplicate(author, text):
        raise forbidden("You are not allowed to create a Tweet with duplicate content.")
    reply_to = body.get("reply", {}).get("in_reply_to_tweet_id")
    quote_of = body.get("quote_tweet_id")
    for referenced in (reply_to, quote_of):
        if referenced is not None:
            _v2.existing_tweet(state, referenced)
    place_id = body.get("geo", {}).get("place_id")
    tweet = state.new_tweet(text, author, reply_to=reply_to, quote_of=quote_of, place_id=place_id)
    tweet.media_ids = media
    if "reply_settings" in body:
        tweet.reply_settings = body["reply_settings"]
    data: Json = {"id": tweet.id, "text": tweet.text, "edit_history_tweet_ids": [tweet.id]}
    if "community_id" in body:
        data["community_id"] = body["community_id"]
    location = f"https://api.twitter.com/2/tweets/{tweet.id}"
    return Reply(201, {"data": data}, {"location": location})


@ROUTES.route("DELETE", "/2/tweets/:id", user_context=True, limit=50)
def delete_tweet(state: FakeXState, call: Call) -> Json:
    tweet = _v2.existing_tweet(state, call.args["id"])
    if tweet.author_id != call.user_id:
        raise forbidden("You are not allowed to delete this Tweet.")
    state.remove_tweet(tweet.id)
    return {"data": {"deleted": True}}


@ROUTES.route("GET", "/2/tweets/:id", "/2/tweets")
def get_tweets(state: FakeXState, call: Call) -> Json:
    body = functools.partial(_v2.tweets_body, state, call)
    return _v2.lookup(call, "id", "tweet", state.tweets.get, body)


def _window(call: Call, tweets: list[Tweet]) -> list[Tweet]:
    """The tweets within ``since_id``/``until_id`` (exclusive), as timelines and search do."""
    bounds = {}
    for name in ("since_id", "until_id"):
        value = call.params.get(name)
        if value is not None and not value.isdigit():
            raise invalid(name, value, f"The `{name}` query parameter value [{value}] is not valid")
        bounds[name] = None if value is None else int(value)
    since, until = bounds["since_id"], bounds["until_id"]
    return [
        t
        for t in tweets
        if (since is None or int(t.id) > since) and (until is None or int(t.id) < until)
    ]


def _timeline(
    state: FakeXState, call: Call, tweets: list[Tweet], *, default: int = 100, minimum: int = 1
) -> Json:
    """A page of ``tweets`` (newest first) within the request's ``since_id``/``until_id``."""
    found, meta = _v2.page(call, _window(call, tweets), default=default, minimum=minimum)
    return _v2.tweets_body(state, call, found, meta=meta)


def _search(state: FakeXState, call: Call, *, maximum: int) -> Json:
    query = call.params.get("query")
    if not query:
        raise invalid("query", "", "The `query` query parameter can not be empty")
    found = _window(call, state.search(query))
    tweets, meta = _v2.page(
        call, found, default=10, minimum=10, maximum=maximum, cursor="next_token"
    )
    meta.pop("previous_token", None)
    return _v2.tweets_body(state, call, tweets, meta=meta)


@ROUTES.route("GET", "/2/tweets/search/recent", limit=450)
def search_recent(state: FakeXState, call: Call) -> Json:
    return _search(state, call, maximum=100)


@ROUTES.route("GET", "/2/tweets/search/all", limit=300)
def search_all(state: FakeXState, call: Call) -> Json:
    return _search(state, call, maximum=500)


@ROUTES.route("GET", "/2/tweets/:id/quote_tweets", limit=75)
def quote_tweets(state: FakeXState, call: Call) -> Json:
    quotes = [t for t in state.visible_tweets() if t.quote_of == call.args["id"]]
    found, meta = _v2.page(call, quotes, default=10, minimum=10)
    return _v2.tweets_body(state, call, found, meta=meta)


@ROUTES.route("PUT", "/2/tweets/:id/hidden", user_context=True, limit=50)
def hide_reply(state: FakeXState, call: Call) -> Json:
    tweet = _v2.existing_tweet(state, call.args["id"])
    root = state.tweets.get(tweet.conversation_id)
    if tweet.in_reply_to_tweet_id is None or root is None or root.author_id != call.user_id:
        raise forbidden("You can only hide replies to conversations you started.")
    tweet.hidden = bool(_v2.body_field(call, "hidden"))
    return {"data": {"hidden": tweet.hidden}}


@ROUTES.route("GET", "/2/users/:id/tweets")
def user_tweets(state: FakeXState, call: Call) -> Json:
    _v2.subject(state, call)
    exclude = set(call.params.get("exclude", "").split(","))
    tweets = [
        t
        for t in state.visible_tweets()
        if t.author_id == call.args["id"]
        and not ("retweets" in exclude and t.retweet_of)
        and not ("replies" in exclude and t.in_reply_to_tweet_id)
    ]
    return _timeline(state, call, tweets, default=10, minimum=5)


@ROUTES.route("GET", "/2/users/:id/mentions", limit=300)
def mentions(state: FakeXState, call: Call) -> Json:
    tweets = state.mentioning(_v2.subject(state, call))
    return _timeline(state, call, tweets, default=10, minimum=5)


@ROUTES.route("GET", "/2/users/:id/timelines/reverse_chronological", acting="id", limit=180)
def home_timeline(state: FakeXState, call: Call) -> Json:
    return _timeline(state, call, state.home_timeline(call.args["id"]))


# -- likes, retweets, bookmarks -------------------------------------------------------------------


def _named_tweet(state: FakeXState, call: Call) -> Tweet:
    """The tweet the body's ``tweet_id`` names, or a 404."""
    return _v2.existing_tweet(state, str(_v2.body_field(call, "tweet_id")), "tweet_id")


@ROUTES.route("POST", "/2/users/:id/likes", "/2/users/:id/bookmarks", acting="id", limit=50)
@ROUTES.route("DELETE", "/2/users/:id/likes/:tweet_id", acting="id", limit=50)
@ROUTES.route("DELETE", "/2/users/:id/bookmarks/:tweet_id", acting="id", limit=50)
def like_or_bookmark(state: FakeXState, call: Call) -> Json:
    """Like or bookmark a tweet (``POST``), or take it back (``DELETE``)."""
    likes = call.route.split("/")[4] == "likes"  # "POST /2/users/:id/likes"
    collection, key = (state.likes, "liked") if likes else (state.bookmarks, "bookmarked")
    on = call.method == "POST"
    tweet_id = _named_tweet(state, call).id if on else call.args["tweet_id"]
    toggle(collection, call.args["id"], tweet_id, on=on)
    return {"data": {key: on}}


@ROUTES.route("GET", "/2/tweets/:id/liking_users", limit=75)
def liking_users(state: FakeXState, call: Call) -> Json:
    users = [state.users[u] for u, liked in state.likes.items() if call.args["id"] in liked]
    found, meta = _v2.page(call, users)
    return _v2.users_body(state, call, found, meta=meta)


def _tweets_of(state: FakeXState, tweet_ids: list[str]) -> list[Tweet]:
    """The tweets of ``tweet_ids`` that still exist, in that order."""
    return [state.tweets[t] for t in tweet_ids if t in state.tweets]


@ROUTES.route("GET", "/2/users/:id/liked_tweets", limit=75)
def liked_tweets(state: FakeXState, call: Call) -> Json:
    _v2.subject(state, call)
    found, meta = _v2.page(call, _tweets_of(state, state.likes.get(call.args["id"], [])), minimum=5)
    return _v2.tweets_body(state, call, found, meta=meta)


@ROUTES.route("POST", "/2/users/:id/retweets", acting="id", limit=50)
def retweet(state: FakeXState, call: Call) -> Json:
    original = _named_tweet(state, call)
    if not state.find_retweet(call.args["id"], original.id):
        state.retweet(call.args["id"], original)
    return {"data": {"retweeted": True}}


@ROUTES.route("DELETE", "/2/users/:id/retweets/:source_tweet_id", acting="id", limit=50)
def unretweet(state: FakeXState, call: Call) -> Json:
    found = state.find_retweet(call.args["id"], call.args["source_tweet_id"])
    if found is not None:
        state.remove_tweet(found.id)
    return {"data": {"retweeted": False}}


@ROUTES.route("GET", "/2/tweets/:id/retweeted_by", limit=75)
def retweeted_by(state: FakeXState, call: Call) -> Json:
    users = [
        state.users[t.author_id] for t in state.visible_tweets() if t.retweet_of == call.args["id"]
    ]
    found, meta = _v2.page(call, users)
    return _v2.users_body(state, call, found, meta=meta)


@ROUTES.route("GET", "/2/users/:id/bookmarks", acting="id", limit=180)
def bookmarks(state: FakeXState, call: Call) -> Json:
    found, meta = _v2.page(call, _tweets_of(state, state.bookmarks.get(call.args["id"], [])))
    return _v2.tweets_body(state, call, found, meta=meta)

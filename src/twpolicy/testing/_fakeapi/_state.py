"""What the fake X API holds: accounts, tweets, places, Lists, DMs, media, and how they relate.

One `FakeXState` serves the route handlers of both API versions, so a like made through v2
shows in a v1.1 status and a tweet deleted through v1.1 leaves v2 search. Its operations are
the ones the two versions share; how each version renders a record is its own business.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeAlias

import attrs

Json: TypeAlias = dict[str, Any]

#: The user the fake authenticates by default: the acting user of the pytest fixtures.
DEFAULT_USER_ID = "1500000000000000001"
#: The other seeded account: the author of seeded tweets unless a test names another.
OTHER_USER_ID = "1500000000000000002"

#: The most characters a tweet may have.
MAX_TEXT = 280

_FIRST_ID = 1_750_000_000_000_000_000
_ID_STEP = 1 << 22  # snowflake IDs made in the same millisecond differ by the sequence bits

HASHTAG = re.compile(r"(?<!\w)#(\w+)")
MENTION = re.compile(r"(?<!\w)@(\w{1,15})")


@attrs.define
class User:
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
class Tweet:
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

    def references(self) -> list[tuple[str, str]]:
        """The tweets this one refers to, as (v2 reference type, tweet ID) pairs."""
        found = []
        if self.retweet_of:
            found.append(("retweeted", self.retweet_of))
        if self.quote_of:
            found.append(("quoted", self.quote_of))
        if self.in_reply_to_tweet_id:
            found.append(("replied_to", self.in_reply_to_tweet_id))
        return found


@attrs.define
class Place:
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
class XList:
    """A List (X's curated group of accounts)."""

    id: str
    name: str
    owner_id: str
    created_at: datetime
    description: str = ""
    private: bool = False
    members: list[str] = attrs.Factory(list)
    followers: list[str] = attrs.Factory(list)


@attrs.define
class DMEvent:
    id: str
    event_type: str
    conversation_id: str
    created_at: datetime
    sender_id: str | None = None
    text: str | None = None
    participant_ids: tuple[str, ...] = ()
    recipient_id: str | None = None


def toggle(collection: dict[str, list[str]], owner: str, item: str, *, on: bool) -> bool:
    """Add or remove ``item`` in ``owner``'s ``collection``, newest first; True if changed."""
    items = collection.setdefault(owner, [])
    if on and item not in items:
        items.insert(0, item)
        return True
    if not on and item in items:
        items.remove(item)
        return True
    return False


class FakeXState:
    """The records and relations of the fake, and the operations the route handlers share.

    Collections of IDs (``likes``, ``following``, ...) map a user to the IDs they have,
    newest first; ``dm_events`` is newest first too. Callers hold ``lock`` while they read
    or change anything.
    """

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self._ids = itertools.count(_FIRST_ID, _ID_STEP)
        self.users: dict[str, User] = {}
        self.tweets: dict[str, Tweet] = {}
        self.places: dict[str, Place] = {}
        self.lists: dict[str, XList] = {}
        self.dm_events: list[DMEvent] = []
        self.media: dict[str, Json] = {}
        self.likes: dict[str, list[str]] = {}
        self.bookmarks: dict[str, list[str]] = {}
        self.following: dict[str, list[str]] = {}
        self.muting: dict[str, list[str]] = {}
        self.blocking: dict[str, list[str]] = {}
        self.pinned_lists: dict[str, list[str]] = {}
        self.followed_lists: dict[str, list[str]] = {}
        self._posted: dict[tuple[str, str], int] = {}  # live tweets per (author, text)

    def new_id(self) -> str:
        """A fresh snowflake-like ID, larger than every ID handed out before."""
        with self.lock:
            return str(next(self._ids))

    # -- accounts --------------------------------------------------------------------------

    def user_by_name(self, username: str) -> User | None:
        wanted = username.lower()
        return next((u for u in self.users.values() if u.username.lower() == wanted), None)

    def user_counts(self, user_id: str) -> Json:
        return {
            "followers_count": sum(1 for f in self.following.values() if user_id in f),
            "following_count": len(self.following.get(user_id, ())),
            "tweet_count": sum(1 for t in self.tweets.values() if t.author_id == user_id),
            "listed_count": sum(1 for lst in self.lists.values() if user_id in lst.members),
        }

    # -- tweets ----------------------------------------------------------------------------

    def new_tweet(
        self,
        text: str,
        author_id: str,
        *,
        reply_to: str | None = None,
        quote_of: str | None = None,
        retweet_of: str | None = None,
        place_id: str | None = None,
    ) -> Tweet:
        """Post a tweet (``reply_to`` must exist); the caller has checked the rest."""
        tid = self.new_id()
        conversation = tid
        reply_user = None
        if reply_to is not None:
            parent = self.tweets[reply_to]
            conversation, reply_user = parent.conversation_id, parent.author_id
        tweet = Tweet(
            tid,
            text,
            author_id,
            self.clock(),
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

    def remove_tweet(self, tweet_id: str) -> None:
        """Delete a tweet, and the likes and bookmarks of it."""
        tweet = self.tweets.pop(tweet_id)
        if tweet.retweet_of is None:
            self._posted[(tweet.author_id, tweet.text)] -= 1
        for collection in (self.likes, self.bookmarks):
            for tweet_ids in collection.values():
                if tweet_id in tweet_ids:
                    tweet_ids.remove(tweet_id)

    def is_duplicate(self, author_id: str, text: str) -> bool:
        """Whether ``author_id`` has a live tweet with this text (X refuses a second one)."""
        return self._posted.get((author_id, text), 0) > 0

    def visible_tweets(self) -> list[Tweet]:
        """Every tweet, newest first (IDs grow with creation, so insertion order is ID order)."""
        return list(reversed(self.tweets.values()))

    def tweet_counts(self, tweet: Tweet) -> Json:
        others = self.tweets.values()
        return {
            "retweet_count": sum(1 for t in others if t.retweet_of == tweet.id),
            "reply_count": sum(1 for t in others if t.in_reply_to_tweet_id == tweet.id),
            "like_count": sum(1 for liked in self.likes.values() if tweet.id in liked),
            "quote_count": sum(1 for t in others if t.quote_of == tweet.id),
        }

    def find_retweet(self, user_id: str, tweet_id: str) -> Tweet | None:
        return next(
            (
                t
                for t in self.tweets.values()
                if t.author_id == user_id and t.retweet_of == tweet_id
            ),
            None,
        )

    def retweet(self, user_id: str, original: Tweet) -> Tweet:
        """Retweet ``original`` as ``user_id``, with the text X gives a retweet."""
        author = self.users[original.author_id].username
        return self.new_tweet(f"RT @{author}: {original.text}", user_id, retweet_of=original.id)

    def home_timeline(self, user_id: str) -> list[Tweet]:
        """The tweets of ``user_id`` and of whom they follow, newest first."""
        authors = {user_id, *self.following.get(user_id, ())}
        return [t for t in self.visible_tweets() if t.author_id in authors]

    def mentioning(self, user: User) -> list[Tweet]:
        """The tweets that mention ``user``, newest first."""
        handle = user.username.lower()
        return [
            t
            for t in self.visible_tweets()
            if handle in (m.lower() for m in MENTION.findall(t.text))
        ]

    def search(self, query: str) -> list[Tweet]:
        """The tweets matching every term of ``query``, newest first."""
        matchers = [self._matcher(term) for term in query.split()]
        return [t for t in self.visible_tweets() if all(match(t) for match in matchers)]

    def _matcher(self, term: str) -> Callable[[Tweet], bool]:
        """One search term: a word, ``from:``, ``to:``, ``is:``, ``has:geo``, or negated (``-``)."""
        if term.startswith("-") and len(term) > 1:
            inner = self._matcher(term[1:])
            return lambda t: not inner(t)
        operator, _, value = term.partition(":")
        if operator == "from" and value:
            author = self.user_by_name(value)
            return lambda t: author is not None and t.author_id == author.id
        if operator == "to" and value:
            target = self.user_by_name(value)
            return lambda t: target is not None and t.in_reply_to_user_id == target.id
        checks: dict[str, Callable[[Tweet], bool]] = {
            "is:retweet": lambda t: t.retweet_of is not None,
            "is:reply": lambda t: t.in_reply_to_tweet_id is not None,
            "is:quote": lambda t: t.quote_of is not None,
            "has:geo": lambda t: t.place_id is not None or t.coordinates is not None,
        }
        if term in checks:
            return checks[term]
        word = term.lower()
        return lambda t: word in t.text.lower()

    # -- direct messages -------------------------------------------------------------------

    def send_dm(
        self, conversation: str, sender_id: str | None, text: str, recipient_id: str | None
    ) -> DMEvent:
        """Add a message to ``conversation``; return its event."""
        event = DMEvent(
            self.new_id(),
            "MessageCreate",
            conversation,
            self.clock(),
            sender_id=sender_id,
            text=text,
            recipient_id=recipient_id,
        )
        self.dm_events.insert(0, event)
        return event

    @staticmethod
    def conversation_id(first: str, second: str) -> str:
        """The ID of the one-to-one DM conversation of two users, as X forms it."""
        low, high = sorted((first, second), key=int)
        return f"{low}-{high}"

    def dms_of(self, user_id: str | None) -> list[DMEvent]:
        """The events of every conversation ``user_id`` takes part in, newest first."""
        mine = {
            e.conversation_id
            for e in self.dm_events
            if user_id in (e.sender_id, e.recipient_id, *e.participant_ids)
            or user_id in e.conversation_id.split("-")
        }
        return [e for e in self.dm_events if e.conversation_id in mine]

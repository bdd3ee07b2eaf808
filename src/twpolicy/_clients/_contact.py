"""Who an automated request contacts: the recipients whose opt-in it needs (RU.automation).

An automated client's replies, mentions and direct messages reach other people, and each of
them must have opted in to automated contact (the ``automated.write`` scope, recorded for
the recipient). `contact` reads the recipients off the request without I/O: a DM's
participant from the route or body, the replied-to Tweet's author and the mentioned handles
from what the client has learned. What it cannot tell yet, it lists (`Contact.tweets`,
`Contact.handles`), so the client shell can look it up once, through the guard, and plan again.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import attrs

__all__ = ["Contact", "Contacts", "automated", "automated_now", "contact", "mentions"]

#: A mention as X parses one: ``@`` or the full-width at sign and 1-15 word characters, not
#: inside a word, an e-mail address or a longer handle.
_MENTION = re.compile(
    "(?<![A-Za-z0-9_!@#$%&*\uff20])[@\uff20]([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_@\uff20])"
)
_SLOTS = 4096

_AUTOMATED: ContextVar[bool] = ContextVar("twpolicy_automated", default=False)


@contextlib.contextmanager
def automated() -> Iterator[None]:
    """Declare a block automated: every guarded client's contact in it needs the opt-in.

    For code that decides by itself whom to reply to or message (a bot's handler), when
    the client it uses is shared with code that acts on a person's explicit command.
    """
    token = _AUTOMATED.set(True)
    try:
        yield
    finally:
        _AUTOMATED.reset(token)


def automated_now() -> bool:
    """Whether the current context was declared automated (`automated`)."""
    return _AUTOMATED.get()


def mentions(text: object) -> tuple[str, ...]:
    """The handles ``text`` mentions, lower-cased, each once, in order."""
    if not isinstance(text, str):
        return ()
    return tuple(dict.fromkeys(m.lower() for m in _MENTION.findall(text)))


@attrs.frozen
class Contact:
    """The people a request contacts, as far as can be told without asking the API.

    Attributes:
        recipients: their user IDs.
        tweets: replied-to Tweets whose author is not known yet.
        handles: mentioned handles (lower-case) whose user ID is not known yet.
        unknowable: why some recipient can never be told from the request (a group DM
            conversation addressed by its ID), or ``""``.
    """

    recipients: tuple[str, ...] = ()
    tweets: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()
    unknowable: str = ""

    @property
    def pending(self) -> bool:
        """Whether a lookup could still resolve a recipient."""
        return bool(self.tweets or self.handles)


class Contacts:
    """What a client learned about authors of Tweets and owners of handles; bounded."""

    __slots__ = ("authors", "handles")

    def __init__(self) -> None:
        self.authors: dict[str, str] = {}
        self.handles: dict[str, str] = {}

    def learn_author(self, tweet_id: object, author_id: object) -> None:
        """Remember that ``author_id`` wrote ``tweet_id`` (an API answer said so)."""
        if _is_id(tweet_id) and _is_id(author_id):
            _put(self.authors, str(tweet_id), str(author_id))

    def learn_handle(self, handle: object, user_id: object) -> None:
        """Remember that ``handle`` belongs to ``user_id`` (an API answer said so)."""
        if isinstance(handle, str) and _is_id(user_id):
            _put(self.handles, handle.lower(), str(user_id))


def _put(table: dict[str, str], key: str, value: str) -> None:
    if len(table) >= _SLOTS:
        table.clear()
    table[key] = value


def _is_id(value: object) -> bool:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return isinstance(text, str) and text.isascii() and text.isdigit() and text[:1] != "0"


def _get(document: object, *path: str) -> object:
    for key in path:
        if not isinstance(document, Mapping):
            return None
        document = document.get(key)
    return document


def _segment(route: str, index: int) -> str:
    segments = route.partition("?")[0].split("/")
    return segments[index] if len(segments) > index else ""


def _post(
    operation: str, content: Any, known: Contacts, found: list[str]
) -> tuple[list[str], list[str]]:
    """A post reaches the author of the Tweet it replies to and the users it mentions."""
    if operation == "POST /2/tweets":
        replied = _get(content, "reply", "in_reply_to_tweet_id")
        text = _get(content, "text")
    else:
        replied = _get(content, "in_reply_to_status_id")
        text = _get(content, "status")
    tweets: list[str] = []
    handles: list[str] = []
    if replied is not None:
        author = known.authors.get(str(replied))
        if author is None:
            tweets.append(str(replied))
        else:
            found.append(author)
    for handle in mentions(text):
        user = known.handles.get(handle)
        if user is None:
            handles.append(handle)
        else:
            found.append(user)
    return tweets, handles


def _message(
    operation: str, route: str, content: Any, acting_user_id: str | None, found: list[str]
) -> str:
    """A direct message reaches its participants; returns why they cannot be told, or ``""``."""
    if operation == "POST /2/dm_conversations/with/:participant_id/messages":
        found.append(_segment(route, 4))
    elif operation == "POST /2/dm_conversations/:dm_conversation_id/messages":
        conversation = _segment(route, 3)
        pair = conversation.split("-")
        if len(pair) != 2 or acting_user_id not in pair:  # noqa: PLR2004  # a one-to-one ID
            return f"DM conversation {conversation}"
        found.extend(p for p in pair if p != acting_user_id)
    elif operation == "POST /2/dm_conversations":
        participants = _get(content, "participant_ids")
        if not isinstance(participants, (list, tuple)):
            return "DM conversation without participant_ids"
        found.extend(str(p) for p in participants)
    else:  # POST /1.1/direct_messages/events/new.json
        found.append(str(_get(content, "event", "message_create", "target", "recipient_id")))
    return ""


_POSTS = frozenset({"POST /2/tweets", "POST /1.1/statuses/update.json"})
_MESSAGES = frozenset(
    {
        "POST /2/dm_conversations/with/:participant_id/messages",
        "POST /2/dm_conversations/:dm_conversation_id/messages",
        "POST /2/dm_conversations",
        "POST /1.1/direct_messages/events/new.json",
    }
)


def contact(
    operation: str, route: str, content: Any, acting_user_id: str | None, known: Contacts
) -> Contact | None:
    """Whom the request ``operation`` (at the concrete ``route``) contacts; ``None``: nobody.

    The acting user contacting themselves (a reply in their own thread) needs no opt-in.
    """
    found: list[str] = []
    tweets: list[str] = []
    handles: list[str] = []
    unknowable = ""
    if operation in _POSTS:
        tweets, handles = _post(operation, content, known, found)
    elif operation in _MESSAGES:
        unknowable = _message(operation, route, content, acting_user_id, found)
    else:
        return None
    recipients = tuple(dict.fromkeys(r for r in found if r != acting_user_id))
    bad = [r for r in recipients if not _is_id(r)]
    if bad:
        unknowable = unknowable or f"recipient {bad[0]!r}"
        recipients = tuple(r for r in recipients if _is_id(r))
    if not (recipients or tweets or handles or unknowable):
        return None
    return Contact(recipients, tuple(tweets), tuple(handles), unknowable)

"""Opt-outs from what users write: "stop" in a DM or mention revokes automated contact at once.

The restricted-use page says to "immediately respect user requests to opt-out of being
contacted by you". A user says so in words, in a DM or a reply; `record_opt_out` turns such
a message into a consent revoke of ``automated.write`` with the message as its evidence, so
``automation.opt_in`` refuses the next automated contact (here at once, in other processes
within the ledger's ``cache_ttl``). `OptOutHook` does it for every payload of a stream.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from twpolicy._guard import Guard
from twpolicy._stores._consent import ConsentEvent, Ledger
from twpolicy.exceptions import ConfigurationError

__all__ = ["OPT_OUT_WORDS", "OptOutHook", "opt_out_keyword", "record_opt_out"]

#: Words and phrases that mean "stop contacting me" wherever they appear as whole words.
#: Erring towards an opt-out is the safe side: a false one only stops automated contact.
OPT_OUT_WORDS: tuple[str, ...] = (
    "stop",
    "unsubscribe",
    "opt out",
    "opt-out",
    "optout",
    "cancel",
    "remove me",
)

_SCOPE = "automated.write"
_WORD = re.compile(r"[^\w\s-]+")


def _normal(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.sub(" ", folded).split())


def opt_out_keyword(text: object, vocabulary: Iterable[str] = OPT_OUT_WORDS) -> str | None:
    """The opt-out word or phrase ``text`` contains (case and punctuation aside), or ``None``."""
    if not isinstance(text, str):
        return None
    words = f" {_normal(text)} "
    for phrase in vocabulary:
        wanted = _normal(phrase)
        if wanted and f" {wanted} " in words:
            return phrase
    return None


def _ledger(where: Guard | Ledger) -> Ledger:
    ledger = where.consent if isinstance(where, Guard) else where
    if not isinstance(ledger, Ledger):
        raise ConfigurationError(
            "an opt-out must be recorded in a twpolicy.Ledger (twpolicy.open_ledger(url)); "
            f"got {type(ledger).__name__}"
        )
    return ledger


def record_opt_out(
    where: Guard | Ledger,
    user_id: str | int,
    *,
    evidence: str,
    text: str | None = None,
    vocabulary: Iterable[str] = OPT_OUT_WORDS,
) -> tuple[ConsentEvent, ...]:
    """Record that ``user_id`` opted out of automated contact; ``()`` if ``text`` does not say so.

    Args:
        where: the guard (its consent ledger) or the ledger to record in.
        user_id: who opted out.
        evidence: what proves it (``"dm_event:1234"``, ``"tweet:5678"``, a request ID).
        text: the message they sent; when given, it must contain a word of ``vocabulary``,
            else nothing is recorded. ``None``: they opted out some other way (a button).
        vocabulary: the words and phrases that mean opt-out (`OPT_OUT_WORDS` by default).

    Returns:
        The ledger's ``revoked`` events (at least one: an opt-out with no consent to withdraw
        is recorded too, so it is on the record), or ``()``.
    """
    proof: object = evidence
    if not isinstance(proof, str) or not proof:
        raise ConfigurationError("an opt-out needs its evidence (a DM event or Tweet ID, ...)")
    keyword = "" if text is None else opt_out_keyword(text, vocabulary)
    if keyword is None:
        return ()
    said = f" (said {keyword!r})" if keyword else ""
    return _ledger(where).revoke(user_id, [_SCOPE], reason=f"opt-out{said}; evidence: {evidence}")


def _fields(payload: Any) -> Mapping[str, Any]:
    """The object of a stream payload: a v2 ``{"data": ...}`` document, a tweepy object, a dict."""
    data = getattr(payload, "data", payload)
    if isinstance(data, Mapping) and isinstance(data.get("data"), Mapping):
        data = data["data"]
    return data if isinstance(data, Mapping) else {}


class OptOutHook:
    """A stream callback that records the opt-outs in incoming mentions and DMs.

    Call it with each Tweet or DM event (``on_tweet``, a DM listener, a webhook handler):
    one whose text contains an opt-out word revokes its author's ``automated.write``
    consent, with the Tweet or DM event ID as evidence. The bot's own messages (``bot_user_id``)
    are ignored, so "reply STOP to unsubscribe" does not opt anyone out.
    """

    __slots__ = ("_bot", "_vocabulary", "_where")

    def __init__(
        self,
        where: Guard | Ledger,
        *,
        bot_user_id: str | int | None = None,
        vocabulary: Iterable[str] = OPT_OUT_WORDS,
    ) -> None:
        _ledger(where)  # fail at construction, not on the first opt-out
        self._where = where
        self._bot = None if bot_user_id is None else str(bot_user_id)
        self._vocabulary = tuple(vocabulary)

    def __call__(self, payload: Any) -> tuple[ConsentEvent, ...]:
        """Record the opt-out ``payload`` carries, if it does; return the events."""
        fields = _fields(payload)
        author = fields.get("sender_id") or fields.get("author_id")
        if author is None or str(author) == self._bot:
            return ()
        kind = "dm_event" if "sender_id" in fields else "tweet"
        evidence = f"{kind}:{fields.get('id')}"
        return record_opt_out(
            self._where,
            str(author),
            evidence=evidence,
            text=fields.get("text"),
            vocabulary=self._vocabulary,
        )

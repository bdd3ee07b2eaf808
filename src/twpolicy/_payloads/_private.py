"""Telling public from non-public content: Direct Messages and protected users' Tweets.

Keeping DMs or other non-public content needs the user's consent (I.C.1.d), and sharing or
publishing protected content needs the protected user's (I.C.1.e). What the payload itself
shows is read here, from the one table of shapes (`twpolicy._payloads._shapes`) through the
walker: a DM with its text (v1.1 messages and events, v2 DM events), and a Tweet whose
author is marked ``protected`` anywhere in the same payload (an embedded v1.1 ``user``, a
flattened ``author``, or a v2 response's ``includes.users``). IDs alone are not content.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

import attrs

from twpolicy._payloads._geo import MappingKey
from twpolicy._payloads._shapes import Kind
from twpolicy._payloads._walker import Node, read_json, walk

__all__ = ["NonPublicFinding", "nonpublic_findings", "nonpublic_owners"]

_DMS: Final = frozenset({Kind.DM_V1, Kind.DM_EVENT_V1, Kind.DM_EVENT_V2})
_TWEETS: Final = frozenset({Kind.TWEET_V1, Kind.TWEET_V2, Kind.TWEET_FLAT, Kind.ACTIVITY})
_USERS: Final = frozenset({Kind.USER_V1, Kind.USER_V2, Kind.ACTOR})


@attrs.frozen
class NonPublicFinding:
    """One non-public object: where it is, what it is, and whose it is.

    Attributes:
        pointer: the JSON pointer of the object.
        what: ``"dm"``, ``"protected_tweet"``, or ``"ids"`` (IDs reduced from such content,
            which no longer show what they were).
        owners: the users whose consent it needs: a DM's sender and recipients, a protected
            Tweet's author (empty when the payload does not say).
    """

    pointer: str
    what: Literal["dm", "protected_tweet", "ids"]
    owners: tuple[str, ...]


def _decimal(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.isdecimal():
        return value
    return None


def _author(node: Node) -> str | None:
    """The ID of a Tweet's author, however its shape says it."""
    value = node.value
    for key in ("user", "author", "actor"):
        inner = value.get(key)
        if isinstance(inner, Mapping):
            found = _decimal(inner.get("id_str")) or _decimal(inner.get("id"))
            if found is not None:
                return found
            if isinstance(inner.get("id"), str):  # activity streams: id:twitter.com:123
                return _decimal(inner["id"].rpartition(":")[2])
    return _decimal(value.get("author_id"))


def _protected(nodes: Iterable[Node]) -> set[str]:
    return {
        uid
        for node in nodes
        if node.kind in _USERS and node.value.get("protected") is True
        for uid in (node.read_id().value,)
        if uid
    }


def _participants(node: Node) -> tuple[str, ...]:
    users = {ref.id.value for ref in node.references() if ref.target == "user"}
    return tuple(sorted(uid for uid in users if uid))


def nonpublic_findings(payload: Any) -> list[NonPublicFinding]:
    """Every DM (with its content) and every protected user's Tweet in ``payload``.

    Raises:
        PayloadError: the payload contains itself.
    """
    if isinstance(payload, MappingKey):  # a mapping item: its value is what is kept
        payload = payload.value
    if isinstance(payload, (str, bytes, bytearray)):
        try:
            payload = read_json(payload)
        except (ValueError, UnicodeDecodeError):
            return []  # not JSON: no object to tell apart (the geo rule refuses bad JSON)
    nodes = list(walk(payload))
    protected = _protected(nodes)
    found: list[NonPublicFinding] = []
    for node in nodes:
        if node.kind in _DMS and node.whole:
            found.append(NonPublicFinding(node.pointer, "dm", _participants(node)))
        elif node.kind in _TWEETS and node.whole:
            author = _author(node)
            if author is not None and author in protected:
                found.append(NonPublicFinding(node.pointer, "protected_tweet", (author,)))
    return found


def nonpublic_owners(payload: Any) -> tuple[str, ...]:
    """The users whose non-public content ``payload`` holds, sorted (for an export's facts).

    A finding whose owners the payload does not name counts as ``"unknown"``.
    """
    owners = {
        owner
        for finding in nonpublic_findings(payload)
        for owner in (finding.owners or ("unknown",))
    }
    return tuple(sorted(owners))

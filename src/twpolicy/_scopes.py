"""The one scope vocabulary consent is recorded and checked in.

X's OAuth 2.0 scope names are used where one fits, so a consent record reads like the
permission the user gave; twpolicy adds its own names for what OAuth has no scope for (adding
location to a post, changing the profile, keeping non-public content, ...). Each scope names
the clause it serves, so a refusal can cite it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from twpolicy.exceptions import ConfigurationError

__all__ = ["SCOPES", "Scope", "validate_scopes"]


@attrs.frozen
class Scope:
    """One thing a user can consent to.

    Attributes:
        name: the scope's name, as recorded and checked.
        clause: the policy clause that makes consent necessary.
        description: what the user agrees to, in one line.
        oauth: whether X's OAuth 2.0 has a scope of this name.
    """

    name: str
    clause: str
    description: str
    oauth: bool = True


_ALL = (
    Scope("tweet.write", "I.C.1.a", "Post, reply, quote, delete and retweet on the user's behalf."),
    Scope("tweet.moderate.write", "I.C.1.a", "Hide and unhide replies to the user's Tweets."),
    Scope("like.write", "I.C.1.a", "Like and unlike Tweets as the user."),
    Scope("follows.write", "I.C.1.a", "Follow and unfollow accounts as the user."),
    Scope("mute.write", "I.C.1.a", "Mute and unmute accounts as the user."),
    Scope("block.write", "I.C.1.a", "Block and unblock accounts as the user."),
    Scope("list.write", "I.C.1.a", "Create, change, follow and pin lists as the user."),
    Scope("bookmark.write", "I.C.1.a", "Add and remove the user's bookmarks."),
    Scope("dm.write", "I.C.1.a", "Send Direct Messages and read receipts as the user."),
    Scope(
        "dm.read_receipts",
        "I.C.5",
        "Send read receipts for the user's Direct Messages, after telling them they are sent.",
        oauth=False,
    ),
    Scope("media.write", "I.C.1.a", "Upload media for the user's posts."),
    Scope(
        "saved_search.write",
        "I.C.1.a",
        "Save and delete searches in the user's account.",
        oauth=False,
    ),
    Scope(
        "geo.write",
        "I.C.5",
        "Add location (a place or exact coordinates) to the user's posts; "
        "the user saw the geotag before it was published.",
        oauth=False,
    ),
    Scope(
        "profile.write",
        "I.C.1.a",
        "Change the user's profile: name, bio, location, URL, images, settings.",
        oauth=False,
    ),
    Scope(
        "nonpublic.store",
        "I.C.1.d",
        "Keep the user's Direct Messages and other non-public content.",
        oauth=False,
    ),
    Scope(
        "protected.share",
        "I.C.1.e",
        "Share or publish the user's protected content.",
        oauth=False,
    ),
    Scope(
        "dm.media.shared",
        "I.C.1.f",
        "Send DM media as 'shared', viewable by anyone with its URL.",
        oauth=False,
    ),
    Scope(
        "automated.write",
        "RU.automation.a",
        "Receive automated replies, mentions or messages from the application.",
        oauth=False,
    ),
    Scope(
        "identity.link",
        "I.C.2",
        "Link the user's Twitter account to an identity outside Twitter.",
        oauth=False,
    ),
    Scope(
        "content.promote",
        "I.C.1.c",
        "Use the user's content to promote a product or service.",
        oauth=False,
    ),
    Scope(
        "content.republish",
        "I.C.1.b",
        "Republish the user's content obtained other than through the API.",
        oauth=False,
    ),
)

#: Every scope twpolicy knows, by name.
SCOPES: Mapping[str, Scope] = MappingProxyType({scope.name: scope for scope in _ALL})


def validate_scopes(scopes: Iterable[str] | str) -> frozenset[str]:
    """Return ``scopes`` as a set, refusing names that are not in `SCOPES`."""
    names = frozenset((scopes,)) if isinstance(scopes, str) else frozenset(scopes)
    unknown = sorted(name for name in names if name not in SCOPES)
    if unknown:
        raise ConfigurationError(
            f"unknown consent scope(s) {', '.join(map(repr, unknown))}; "
            f"known scopes: {', '.join(sorted(SCOPES))}"
        )
    if not names:
        raise ConfigurationError("at least one consent scope is needed")
    return names

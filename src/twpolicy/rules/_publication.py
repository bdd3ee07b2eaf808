"""Republishing and promotion: consent of the content's authors (I.C.1.b, I.C.1.c).

``publication.consent`` decides on actions of kind ``publish``: content not obtained
through the API (its declared ``source``) is republished only when every author recorded
``content.republish`` consent; content used to promote a product or service
(``promotional``) needs every author's ``content.promote`` consent. Authors are those the
walker finds (Tweet authors, users) plus those the caller names.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._payloads._shapes import Kind
from twpolicy._payloads._walker import walk
from twpolicy.exceptions import PolicyViolation, PublicationError
from twpolicy.rules._context import Rule, RuleContext

__all__ = ["content_authors", "publication_consent"]

_TWEETS = frozenset({Kind.TWEET_V1, Kind.TWEET_V2, Kind.TWEET_FLAT, Kind.ACTIVITY})
_USERS = frozenset({Kind.USER_V1, Kind.USER_V2, Kind.ACTOR})


def content_authors(payload: object) -> set[str]:
    """The users whose content ``payload`` holds: Tweet authors and user objects."""
    authors: set[str] = set()
    for node in walk(payload):
        if node.kind in _USERS:
            uid = node.read_id().value
            if uid:
                authors.add(uid)
        elif node.kind in _TWEETS:
            author = node.value.get("author_id")
            if isinstance(author, str) and author.isdecimal():
                authors.add(author)
    return authors


@attrs.frozen(repr=False)
class _PublicationConsent:
    id: ClassVar[str] = "publication.consent"
    clause: ClassVar[str] = "I.C.1.b"
    error: ClassVar[type[PolicyViolation]] = PublicationError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.PUBLISH})

    def __repr__(self) -> str:
        return "twpolicy.rules.publication_consent()"

    def static_for(self, action: Action) -> bool:
        """Silent for anything but publishing (which reads the consent ledger)."""
        return action.kind is not ActionKind.PUBLISH

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        if action.kind is not ActionKind.PUBLISH:
            return None
        promotional = action.facts.get("promotional") is True
        from_api = action.facts.get("source") == "api"
        if from_api and not promotional:
            return Outcome.allow("obtained_through_the_api")
        named = action.facts.get("authors")
        authors = content_authors(action.payload)
        if isinstance(named, str) and named:
            authors.update(named.split(","))
        scope, clause = (
            ("content.promote", "I.C.1.c")
            if promotional
            else (
                "content.republish",
                "I.C.1.b",
            )
        )
        purpose = "promote a product or service" if promotional else "republish it"
        if not authors:
            outcome = Outcome.deny(
                "author_unknown",
                f"{action.operation} would {purpose} with content whose authors are not "
                "known, so their consent cannot be checked.",
                "pass authors=[user IDs] (or the Tweets with their authors), and record each "
                f"author's {scope} consent.",
                facts={"scope": scope},
            )
            return attrs.evolve(outcome, clause=clause)
        for author in sorted(authors):
            if context.consent is None or context.consent.check(author, scope) is None:
                outcome = Outcome.deny(
                    "author_consent_missing",
                    f"{action.operation} would {purpose} with user {author}'s content, and "
                    f"they have not consented ({scope}).",
                    f"ask them and record it: guard.consent.grant({author!r}, [{scope!r}], "
                    "notice=..., method=..., evidence=...); or leave their content out.",
                    facts={"scope": scope, "author": author, "authors": len(authors)},
                )
                return attrs.evolve(outcome, clause=clause)
        outcome = Outcome.allow("authors_consented", facts={"scope": scope})
        return attrs.evolve(outcome, clause=clause)


def publication_consent() -> Rule:
    """Republish non-API content and promote with content only with its authors' consent."""
    return _PublicationConsent()

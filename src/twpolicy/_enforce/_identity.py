"""Linking Twitter accounts to identities elsewhere, through the guard (I.C.2).

`link_identity` asks the guard (rule ``identity.link``) and records the link only when it
is allowed; `delete_identity_links` removes a subject's links, logged as a deletion. Links
are read and exported with `twpolicy.IdentityLinks.links` and ``export_subject``.
"""

from __future__ import annotations

from twpolicy._guard import Guard, get_default_guard
from twpolicy._model import Action, ActionKind
from twpolicy._stores._consent import validate_user_id
from twpolicy._stores._identity import IdentityLink, IdentityLinks, LinkBasis

__all__ = ["delete_identity_links", "link_identity"]


def link_identity(
    user_id: str | int,
    external_id: str,
    *,
    basis: LinkBasis | str,
    evidence: str,
    links: IdentityLinks,
    guard: Guard | None = None,
) -> IdentityLink:
    """Tie a Twitter account to an identity outside Twitter, if the policy allows it.

    Allowed with the user's express opt-in (``basis="opt_in"``, with their ``identity.link``
    consent recorded), or with information the user gave directly (``"user_provided"``) or
    public data they would expect to be used this way (``"public"``), each with evidence.
    Refused for ``"third_party"`` and ``"purchased"`` records (people with no prior
    relationship) and any other basis.

    Args:
        user_id: the Twitter user.
        external_id: the identity elsewhere.
        basis: why the link is allowed (a `LinkBasis` or its value).
        evidence: where that basis is shown (a form submission, a consent record, a URL).
        links: the store the link is recorded in (`twpolicy.open_identity_links`).
        guard: the guard to ask; the default guard when ``None``.

    Returns:
        The recorded link.

    Raises:
        IdentityLinkError: the link is refused (rule ``identity.link``); nothing is recorded.
        ConfigurationError: a malformed user ID or an empty external ID.
    """
    uid = validate_user_id(user_id)
    given: object = basis
    named = given.value if isinstance(given, LinkBasis) else given
    shown: object = evidence
    action = Action(
        kind=ActionKind.LINK_IDENTITIES,
        operation="link_identity",
        acting_user_id=uid,
        facts={
            "basis": named if isinstance(named, str) else None,
            "evidence": isinstance(shown, str) and bool(shown.strip()),
        },
    )
    with (guard if guard is not None else get_default_guard()).permit(action):
        return links.record(uid, external_id, basis=basis, evidence=evidence)


def delete_identity_links(
    user_id: str | int, *, links: IdentityLinks, guard: Guard | None = None
) -> int:
    """Delete every link recorded about ``user_id``; return how many there were.

    The deletion is decided on (rule ``deletion.allowed``) so the decision log shows it.
    """
    uid = validate_user_id(user_id)
    action = Action(
        kind=ActionKind.DELETE_CONTENT, operation="delete_identity_links", acting_user_id=uid
    )
    with (guard if guard is not None else get_default_guard()).permit(action):
        return links.delete_subject(uid)

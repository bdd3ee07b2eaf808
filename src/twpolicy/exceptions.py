"""Every error twpolicy raises, under one root.

The tree::

    TwPolicyError
    ├── PolicyViolation (also tweepy.TweepyException, *)  .decision
    │   ├── ConsentRequired            no active consent for a write on a user's behalf
    │   ├── StandaloneGeoError         location data outside the Tweet it belongs to
    │   ├── RedistributionError        more than IDs about to leave
    │   │   ├── QuotaExceeded          a recipient's rolling quota would be exceeded
    │   │   └── TermsNotAccepted       a recipient without terms, retention or privacy
    │   ├── UnknownRoute               a request the endpoint catalog does not know
    │   ├── UnplannedRequest           sent through a guarded client's session, undecidable
    │   ├── ProhibitedPurpose          done for a purpose the policy forbids outright
    │   ├── KeyUseCaseError            a consumer key not bound to this use case
    │   ├── RateLimited                a send into a spent rate-limit window (I.B.5)
    │   ├── AutomationError            an automated write breaks the automation rules
    │   │   ├── BulkLimitExceeded      an account's sliding-window cap is reached
    │   │   └── DuplicateContent       another account posted near-identical text
    │   ├── CredentialError            a password or the app's own secret kept or sent
    │   ├── NonPublicContentError      a DM or protected Tweet kept or shared without consent
    │   ├── IdentityLinkError          an account tied to an identity elsewhere without a basis
    │   ├── SensitiveDataError         a sensitive characteristic inferred or kept about people
    │   └── PublicationError           content republished or promoted without its authors' consent
    ├── ConfigurationError (also ValueError)
    ├── PayloadError (also ValueError) a payload cannot be read as JSON
    └── StoreUnavailable               a ledger cannot be read or written safely

    TwPolicyWarning (UserWarning)      a deny in ``warn`` mode

(*) `PolicyViolation` subclasses `tweepy.TweepyException` so that an application's existing
``except tweepy.TweepyException`` handlers also catch refusals. tweepy (with requests and
oauthlib) costs about 0.3 s to import, and commands that talk to no API must not pay it,
so the base is joined when tweepy is loaded rather than here: importing a twpolicy client
joins it, and so does creating any refusal while tweepy is imported. A handler that names
``tweepy.TweepyException`` has tweepy imported, so it catches every refusal.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twpolicy._model import Decision

__all__ = [
    "AutomationError",
    "BulkLimitExceeded",
    "ConfigurationError",
    "ConsentRequired",
    "ContentUnavailable",
    "CredentialError",
    "DuplicateContent",
    "IdentityLinkError",
    "KeyUseCaseError",
    "NonPublicContentError",
    "PayloadError",
    "PolicyViolation",
    "ProhibitedPurpose",
    "PublicationError",
    "QuotaExceeded",
    "RateLimited",
    "RedistributionError",
    "SensitiveDataError",
    "StandaloneGeoError",
    "StoreUnavailable",
    "TermsNotAccepted",
    "TwPolicyError",
    "TwPolicyWarning",
    "UnknownRoute",
    "UnplannedRequest",
]


class TwPolicyError(Exception):
    """Root of every exception twpolicy raises."""


class PolicyViolation(TwPolicyError):
    """An action was refused by an enforced rule.

    The message says what was refused, under which clause, and how to fix it; ``decision``
    holds the full `twpolicy.Decision` for handlers and logs. Also a
    ``tweepy.TweepyException`` whenever tweepy is imported (see the module docstring).
    """

    def __init__(self, decision: Decision) -> None:
        _join_tweepy()
        self.decision = decision
        super().__init__(decision.explain())


#: Placeholder in `PolicyViolation.__bases__` until tweepy's exception replaces it.
_TWEEPY_BASE: type[Exception] = Exception


def _join_tweepy() -> bool:
    """Make `PolicyViolation` a subclass of ``tweepy.TweepyException`` if tweepy is loaded.

    Cheap and idempotent; called as this module loads, as `twpolicy.Client` and the other
    clients load, and as every refusal is created. Returns whether the base is joined.
    """
    global _TWEEPY_BASE  # noqa: PLW0603  # the one switch, flipped once per process
    errors = sys.modules.get("tweepy.errors")
    base = getattr(errors, "TweepyException", None)
    if base is None:
        return False
    if _TWEEPY_BASE is not base:
        # Both bases are plain Exception subclasses (same layout), so CPython allows the swap;
        # every subclass and every existing instance follows it.
        PolicyViolation.__bases__ = (TwPolicyError, base)
        _TWEEPY_BASE = base
    return True


class ConsentRequired(PolicyViolation):
    """A write on a user's behalf has no recorded, unrevoked consent (I.C.1.a)."""


class StandaloneGeoError(PolicyViolation):
    """Location data is about to be kept apart from the Tweet it came with (I.B.7)."""


class RedistributionError(PolicyViolation):
    """Something other than Tweet, User or DM IDs is about to leave (I.F.2)."""


class QuotaExceeded(RedistributionError):
    """Sending would exceed a recipient's rolling quota (I.F.2.a, I.F.2.b.i)."""


class TermsNotAccepted(RedistributionError):
    """An export's recipient has not accepted the terms, declared a retention, or is public."""


class KeyUseCaseError(PolicyViolation):
    """The consumer key is not bound to this use case and environment (I.F.5.a)."""


class ContentUnavailable(PolicyViolation):
    """Content gone from X, or a stale copy, would be kept, shared or shown (I.C.3, I.C.4)."""


class UnknownRoute(PolicyViolation):
    """A request matches no entry of the endpoint catalog, so it is refused (fail closed)."""


class UnplannedRequest(PolicyViolation):
    """A request through a guarded client's HTTP session that cannot be decided (I.C.1.a).

    Credentials sent to another host than the X API, credentials other than the client's
    own, a body twpolicy cannot read, or the other API version: ``client.request(...)``
    (``api.request(...)``) sends it planned and decided.
    """


class ProhibitedPurpose(PolicyViolation):
    """An action serves a purpose the policy forbids (surveillance, benchmarking, ...)."""


class AutomationError(PolicyViolation):
    """A write breaks the automation rules (restricted uses, "Automation")."""


class BulkLimitExceeded(AutomationError):
    """An account's follows, likes, posts, DMs... reached their sliding-window cap."""


class DuplicateContent(AutomationError):
    """Another account posted identical or near-identical text within the window."""


class RateLimited(PolicyViolation):
    """X's answers said the request's rate-limit window is spent, or it rotates tokens (I.B.5)."""


class ConfigurationError(TwPolicyError, ValueError):
    """A guard, ledger or rule was configured with a value that cannot work."""


class PayloadError(TwPolicyError, ValueError):
    """A payload cannot be read as JSON: invalid text, a reference cycle, nesting too deep.

    Checks that meet one deny (fail closed): what cannot be read cannot be shown to comply.
    """


class StoreUnavailable(TwPolicyError):
    """A ledger is unreachable, corrupt, or written by a newer schema; writes are denied."""


class TwPolicyWarning(UserWarning):
    """A rule in ``warn`` mode would have refused an action; the action went ahead."""


class CredentialError(PolicyViolation):
    """A password or the application's own API secret would be kept, sent or asked for.

    Raised by ``credentials.stored`` (I.C.10, I.A.1) and ``credentials.xauth`` (I.C.10).
    """


class NonPublicContentError(PolicyViolation):
    """A DM or protected Tweet would be kept or shared without consent (I.C.1.d, I.C.1.e)."""


class IdentityLinkError(PolicyViolation):
    """A Twitter account would be tied to an off-platform identity without a basis (I.C.2)."""


class SensitiveDataError(PolicyViolation):
    """A sensitive characteristic would be inferred or kept about individuals (restricted uses)."""


class PublicationError(PolicyViolation):
    """Content would be republished or used in promotion without its authors' consent."""


_join_tweepy()  # tweepy may have been imported first

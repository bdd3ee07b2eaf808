"""The built-in rules, to compose with your own.

``Guard(rules=[*twpolicy.rules.default(), my_rule])`` keeps every built-in rule and adds
yours; a rule is any object with ``id``, ``clause``, ``error``, ``kinds`` and a pure
``evaluate(action, context)`` (see `Rule` and docs/writing-rules.md).
"""

from collections.abc import Iterable

from twpolicy.rules._actor import match_token_owner
from twpolicy.rules._automation import require_recipient_opt_in
from twpolicy.rules._bulk import (
    BULK_LIMITS,
    DUPLICATE_THRESHOLD,
    DUPLICATE_WINDOW,
    bulk_limit,
    no_duplicates,
)
from twpolicy.rules._compliance import compliance_deadline, fresh_display, honour_tombstones
from twpolicy.rules._consent import known_endpoint, require_consent
from twpolicy.rules._context import (
    ComplianceReader,
    ConsentReader,
    QuotaReader,
    Rule,
    RuleContext,
    SecretReader,
)
from twpolicy.rules._credentials import XAUTH_PARAMETERS, forbid_credentials, refuse_xauth
from twpolicy.rules._geo import forbid_standalone_geo
from twpolicy.rules._identity import LINK_BASES, allow_deletion, govern_identity_links
from twpolicy.rules._keys import KeyReader, one_key_per_use_case
from twpolicy.rules._private import protect_nonpublic
from twpolicy.rules._publication import publication_consent
from twpolicy.rules._purposes import (
    PURPOSES,
    SENSITIVE_EVENT_TERMS,
    Purpose,
    declared_purposes,
    flag_platform_counts,
    screen_queries,
)
from twpolicy.rules._ratelimits import respect_rate_limits
from twpolicy.rules._redistribution import recipient_quota, redistribute_ids_only
from twpolicy.rules._sensitive import forbid_sensitive_inference
from twpolicy.rules._terms import MAX_RETENTION_DAYS, require_recipient_terms
from twpolicy.rules._tokens import (
    CONTACT_TOKENS,
    CORE_CLIENT_TOKENS,
    UserTokenReader,
    user_token_thresholds,
)

__all__ = [
    "BULK_LIMITS",
    "CONTACT_TOKENS",
    "CORE_CLIENT_TOKENS",
    "DUPLICATE_THRESHOLD",
    "DUPLICATE_WINDOW",
    "LINK_BASES",
    "MAX_RETENTION_DAYS",
    "PURPOSES",
    "SENSITIVE_EVENT_TERMS",
    "XAUTH_PARAMETERS",
    "ComplianceReader",
    "ConsentReader",
    "KeyReader",
    "Purpose",
    "QuotaReader",
    "Rule",
    "RuleContext",
    "SecretReader",
    "UserTokenReader",
    "allow_deletion",
    "bulk_limit",
    "compliance_deadline",
    "declared_purposes",
    "default",
    "flag_platform_counts",
    "forbid_credentials",
    "forbid_sensitive_inference",
    "forbid_standalone_geo",
    "fresh_display",
    "govern_identity_links",
    "honour_tombstones",
    "known_endpoint",
    "match_token_owner",
    "no_duplicates",
    "one_key_per_use_case",
    "protect_nonpublic",
    "publication_consent",
    "recipient_quota",
    "redistribute_ids_only",
    "refuse_xauth",
    "require_consent",
    "require_recipient_opt_in",
    "require_recipient_terms",
    "respect_rate_limits",
    "screen_queries",
    "user_token_thresholds",
]


def default(
    *,
    purposes: Iterable[str] = (),
    sensitive_terms: Iterable[str] = SENSITIVE_EVENT_TERMS,
) -> tuple[Rule, ...]:
    """Every built-in rule, in evaluation order (general to specific).

    Args:
        purposes: the application's declared purposes, from `PURPOSES` (docs/purposes.md).
        sensitive_terms: the words that mark a query as about a sensitive event or group.

    Raises:
        ConfigurationError: a purpose is unknown or prohibited.
    """
    return (
        refuse_xauth(),
        known_endpoint(),
        match_token_owner(),
        declared_purposes(purposes),
        screen_queries(sensitive_terms),
        flag_platform_counts(),
        respect_rate_limits(),
        bulk_limit(),
        no_duplicates(),
        require_consent(),
        require_recipient_opt_in(),
        forbid_credentials(),
        forbid_sensitive_inference(),
        honour_tombstones(),
        fresh_display(),
        allow_deletion(),
        compliance_deadline(),
        govern_identity_links(),
        publication_consent(),
        redistribute_ids_only(),
        recipient_quota(),
        protect_nonpublic(),
        forbid_standalone_geo(),
    )


for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("twpolicy.rules._"):
        _obj.__module__ = "twpolicy.rules"  # reprs and docs name the public path
del _name, _obj

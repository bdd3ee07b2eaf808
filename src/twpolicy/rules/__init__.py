"""The built-in rules, to compose with your own.

``Guard(rules=[*twpolicy.rules.default(), my_rule])`` keeps every built-in rule and adds
yours; a rule is any object with ``id``, ``clause``, ``error``, ``kinds`` and a pure
``evaluate(action, context)`` (see `Rule` and docs/writing-rules.md).
"""

from twpolicy.rules._actor import match_token_owner
from twpolicy.rules._automation import require_recipient_opt_in
from twpolicy.rules._bulk import (
    BULK_LIMITS,
    DUPLICATE_THRESHOLD,
    DUPLICATE_WINDOW,
    bulk_limit,
    no_duplicates,
)
from twpolicy.rules._consent import known_endpoint, require_consent
from twpolicy.rules._context import ConsentReader, QuotaReader, Rule, RuleContext
from twpolicy.rules._geo import forbid_standalone_geo
from twpolicy.rules._redistribution import recipient_quota, redistribute_ids_only

__all__ = [
    "BULK_LIMITS",
    "DUPLICATE_THRESHOLD",
    "DUPLICATE_WINDOW",
    "ConsentReader",
    "QuotaReader",
    "Rule",
    "RuleContext",
    "bulk_limit",
    "default",
    "forbid_standalone_geo",
    "known_endpoint",
    "match_token_owner",
    "no_duplicates",
    "recipient_quota",
    "redistribute_ids_only",
    "require_consent",
    "require_recipient_opt_in",
]


def default() -> tuple[Rule, ...]:
    """Every built-in rule, in evaluation order (general to specific).

    The bulk and duplicate rules come before ``consent.required`` so that an allowed write
    is still reported by the consent rules (the last allow reports), and a write without
    consent is refused for that first (the first enforced deny decides).
    """
    return (
        known_endpoint(),
        match_token_owner(),
        bulk_limit(),
        no_duplicates(),
        require_consent(),
        require_recipient_opt_in(),
        redistribute_ids_only(),
        recipient_quota(),
        forbid_standalone_geo(),
    )


for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("twpolicy.rules._"):
        _obj.__module__ = "twpolicy.rules"  # reprs and docs name the public path
del _name, _obj

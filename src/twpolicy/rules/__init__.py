"""The built-in rules, to compose with your own.

``Guard(rules=[*twpolicy.rules.default(), my_rule])`` keeps every built-in rule and adds
yours; a rule is any object with ``id``, ``clause``, ``error``, ``kinds`` and a pure
``evaluate(action, context)`` (see `Rule` and docs/writing-rules.md).
"""

from twpolicy.rules._compliance import compliance_deadline, fresh_display, honour_tombstones
from twpolicy.rules._consent import known_endpoint, require_consent
from twpolicy.rules._context import (
    ComplianceReader,
    ConsentReader,
    QuotaReader,
    Rule,
    RuleContext,
)
from twpolicy.rules._geo import forbid_standalone_geo
from twpolicy.rules._redistribution import recipient_quota, redistribute_ids_only

__all__ = [
    "ComplianceReader",
    "ConsentReader",
    "QuotaReader",
    "Rule",
    "RuleContext",
    "compliance_deadline",
    "default",
    "forbid_standalone_geo",
    "fresh_display",
    "honour_tombstones",
    "known_endpoint",
    "recipient_quota",
    "redistribute_ids_only",
    "require_consent",
]


def default() -> tuple[Rule, ...]:
    """Every built-in rule, in evaluation order (general to specific)."""
    return (
        known_endpoint(),
        require_consent(),
        honour_tombstones(),
        fresh_display(),
        compliance_deadline(),
        redistribute_ids_only(),
        recipient_quota(),
        forbid_standalone_geo(),
    )


for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("twpolicy.rules._"):
        _obj.__module__ = "twpolicy.rules"  # reprs and docs name the public path
del _name, _obj

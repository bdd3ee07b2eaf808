"""Sensitive characteristics keyed to individuals (restricted uses, "Sensitive information").

``sensitive.keyed`` refuses an inference of one of the eight categories whose result names
people (user IDs, usernames, Twitter users or Tweets), and a store of records that carry a
sensitive field and are keyed to a person. Aggregate results, holding no personal data, are
allowed (RU.sensitive-information.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._payloads._sensitive import (
    CATEGORIES,
    SENSITIVE_FIELDS,
    normal_field,
    personal_keys,
    sensitive_findings,
)
from twpolicy.exceptions import ConfigurationError, PolicyViolation, SensitiveDataError
from twpolicy.rules._context import Rule, RuleContext

__all__ = ["forbid_sensitive_inference"]

_REMEDY = (
    "keep the analysis aggregate: drop user IDs, usernames and Twitter objects from the "
    "result (counts per topic, per day), or do not derive the characteristic at all."
)


@attrs.frozen(repr=False)
class _ForbidSensitive:
    fields: Mapping[str, str] = SENSITIVE_FIELDS
    id: ClassVar[str] = "sensitive.keyed"
    clause: ClassVar[str] = "RU.sensitive-information"
    error: ClassVar[type[PolicyViolation]] = SensitiveDataError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset(
        {ActionKind.INFER_ATTRIBUTE, ActionKind.STORE}
    )

    def __repr__(self) -> str:
        if self.fields is SENSITIVE_FIELDS:
            return "twpolicy.rules.forbid_sensitive_inference()"
        return f"twpolicy.rules.forbid_sensitive_inference(fields=<{len(self.fields)} fields>)"

    def static_for(self, action: Action) -> bool:  # noqa: ARG002  # protocol
        """Judged on the action and its payload alone."""
        return True

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        if action.kind is ActionKind.INFER_ATTRIBUTE:
            return self._inference(action)
        if action.kind is not ActionKind.STORE or action.payload is None:
            return None
        findings = sensitive_findings(action.payload, self.fields)
        if not findings:
            return Outcome.allow("no_sensitive_fields")
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        outcome = Outcome.deny(
            "sensitive_keyed_store",
            f"{action.operation} would keep {first.category.replace('_', ' ')} at "
            f"{first.pointer} in a record keyed to a person{more}; a user's sensitive "
            "characteristics may not be derived, inferred or stored.",
            "remove the field, or keep only aggregates that name nobody.",
            facts={"pointer": first.pointer, "category": first.category, "found": len(findings)},
        )
        return attrs.evolve(outcome, clause=CATEGORIES[first.category])

    @staticmethod
    def _inference(action: Action) -> Outcome:
        category = action.facts.get("category")
        if not isinstance(category, str) or category not in CATEGORIES:
            return Outcome.deny(
                "category_unknown",
                f"{action.operation} declares no known sensitive category ({category!r}).",
                f"declare one of: {', '.join(CATEGORIES)}.",
            )
        if action.payload is None:
            return Outcome.deny(
                "result_unknown",
                f"{action.operation} infers {category.replace('_', ' ')} but gives no result "
                "to check, so it cannot be shown to be aggregate (fail closed).",
                "pass the result: twpolicy.check_inference(result, category=...).",
                facts={"category": category},
            )
        keys = personal_keys(action.payload)
        if not keys:
            return Outcome.allow("aggregate_only", facts={"category": category})
        outcome = Outcome.deny(
            "keyed_to_individuals",
            f"{action.operation} infers {category.replace('_', ' ')} and its result names "
            f"individuals (at {keys[0]}, {len(keys)} in all); sensitive characteristics may "
            "not be derived or inferred about users.",
            _REMEDY,
            facts={"category": category, "pointer": keys[0], "found": len(keys)},
        )
        return attrs.evolve(outcome, clause=CATEGORIES[category])


def forbid_sensitive_inference(fields: Mapping[str, str] | None = None) -> Rule:
    """Refuse sensitive characteristics keyed to individuals; allow aggregates.

    Args:
        fields: the field names that carry a characteristic, each mapped to its category
            (`twpolicy.SENSITIVE_CATEGORIES`); the built-in vocabulary when ``None``.

    Raises:
        ConfigurationError: a field maps to an unknown category.
    """
    if fields is None:
        return _ForbidSensitive()
    unknown = sorted({c for c in fields.values() if c not in CATEGORIES})
    if unknown:
        raise ConfigurationError(
            f"unknown sensitive categories {unknown}; use: {', '.join(CATEGORIES)}"
        )
    return _ForbidSensitive({normal_field(name): cat for name, cat in fields.items()})

"""The location rule: no location data apart from its Tweet (I.B.7)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._payloads._geo import CLAUSE, REASONS, PlaceNames, standalone_findings
from twpolicy.exceptions import PolicyViolation, StandaloneGeoError
from twpolicy.rules._context import Rule, RuleContext

__all__ = ["forbid_standalone_geo"]


@attrs.frozen(repr=False)
class _ForbidStandaloneGeo:
    id: ClassVar[str] = "geo.standalone"
    clause: ClassVar[str] = CLAUSE
    error: ClassVar[type[PolicyViolation]] = StandaloneGeoError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.STORE})

    names: PlaceNames = attrs.field(factory=PlaceNames, eq=False)
    """The place names the rule knows: given, and learned from every payload it read."""

    def __repr__(self) -> str:
        return "twpolicy.rules.forbid_standalone_geo()"

    def static_for(self, action: Action) -> bool:
        """Only stores are judged, on their payload; for anything else the rule is silent."""
        return action.kind is not ActionKind.STORE

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        if action.kind is not ActionKind.STORE or action.payload is None:
            return None
        findings = standalone_findings(action.payload, self.names)
        if not findings:
            return Outcome.allow("no_standalone_geo")
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        return Outcome.deny(
            "standalone_geo",
            f"{action.operation} would store {first.kind.value.replace('_', ' ')} at "
            f"{first.pointer or '/'}: {REASONS[first.reason]}{more}. Location data may be "
            "kept only as part of the Tweet it came with.",
            "store the whole Tweet (or the whole API response) the location came with, or "
            "remove what stands alone first: twpolicy.strip_geo(payload, standalone_only=True).",
            facts={
                "pointer": first.pointer,
                "geo_kind": first.kind.value,
                "geo_reason": first.reason,
                "standalone_count": len(findings),
            },
        )


def forbid_standalone_geo(place_names: Iterable[str] = (), *, remember: int = 100_000) -> Rule:
    """Refuse storing location data apart from the Tweet it belongs to (I.B.7).

    Place names are recognised when they stand apart from their place (keys of counts,
    ``(name, count)`` pairs, values on their own): those of the places in the payload
    itself, those of the places in every payload this rule read before (it remembers up to
    ``remember`` of them), and ``place_names``, a gazetteer of your own.

    Args:
        place_names: names of places to recognise from the start (cities, regions, ...).
        remember: the most place names to remember from payloads read.
    """
    return _ForbidStandaloneGeo(PlaceNames(place_names, limit=remember))

"""The location rule: no location data apart from its Tweet (I.B.7)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._payloads._geo import (
    CLAUSE,
    REASONS,
    LocationMemory,
    PlaceNames,
    standalone_findings,
)
from twpolicy.exceptions import PolicyViolation, StandaloneGeoError
from twpolicy.rules._context import Rule, RuleContext

__all__ = ["forbid_standalone_geo"]

_MOVED = frozenset({"moved_to_another_tweet", "moved_to_another_user", "moved_to_another_dm"})
_OWNERS = {"moved_to_another_user": "user", "moved_to_another_dm": "Direct Message"}


@attrs.frozen(repr=False)
class _ForbidStandaloneGeo:
    id: ClassVar[str] = "geo.standalone"
    clause: ClassVar[str] = CLAUSE
    error: ClassVar[type[PolicyViolation]] = StandaloneGeoError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.STORE})

    names: PlaceNames = attrs.field(factory=PlaceNames, eq=False)
    """The place names the rule is given; what the guard read comes through the context."""

    def __repr__(self) -> str:
        return "twpolicy.rules.forbid_standalone_geo()"

    def static_for(self, action: Action) -> bool:
        """Only stores are judged, on their payload; for anything else the rule is silent."""
        return action.kind is not ActionKind.STORE

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        if action.kind is not ActionKind.STORE or action.payload is None:
            return None
        memory = context.locations
        names = self.names
        if memory is not None:
            names = PlaceNames(base=(names, memory), points=0) if len(names) else memory
        findings = standalone_findings(action.payload, names, learn=False)
        if isinstance(memory, LocationMemory):
            findings = [*findings, *memory.moved_findings(action.payload)]
        if not findings:
            return Outcome.allow("no_standalone_geo")
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        moved = first.reason in _MOVED
        owner = _OWNERS.get(first.reason, "Tweet")
        return Outcome.deny(
            first.reason if moved else "standalone_geo",
            f"{action.operation} would store {first.kind.value.replace('_', ' ')} at "
            f"{first.pointer or '/'}: {REASONS[first.reason]}{more}. Location data may be "
            "kept only as part of the Tweet it came with.",
            (
                f"store the {owner} the location was read with, as it was read (a Tweet or "
                "user read through a guarded client keeps its own point and place), or "
                f"remove this {owner}'s location first: twpolicy.strip_geo(payload)."
            )
            if moved and first.pointer != first.owner_pointer
            else (
                f"store the {owner} the point or place was read with, as it was read, or take "
                f"the point's numbers or the place's full name and ID out of this {owner}'s "
                "content (its text, its description, its entities, keys of your own) before "
                "storing it: strip_geo removes location fields, not text."
            )
            if moved
            else (
                "store the whole Tweet (or the whole API response) the location came with, or "
                "remove what stands alone first: twpolicy.strip_geo(payload, standalone_only=True)."
            ),
            facts={
                "pointer": first.pointer,
                "geo_kind": first.kind.value,
                "geo_reason": first.reason,
                "standalone_count": len(findings),
            },
        )


def forbid_standalone_geo(place_names: Iterable[str] = ()) -> Rule:
    """Refuse storing location data apart from the Tweet it belongs to (I.B.7).

    Location is recognised wherever it stands apart from its Tweet: by where it sits (the
    table of shapes), by how it looks (a "lat,long" text, a coordinate pair), and by where
    it came from: the place names, place IDs and points of the payload itself and of every
    payload the guard read or checked (`twpolicy.LocationMemory`, read through the rule
    context), at any rounding, in any case or spacing. Counts or IDs keyed by a place name
    the built-in gazetteer holds (countries, capitals, US states, cities of a million) or
    ``place_names`` holds are refused too.

    Args:
        place_names: further names of places to recognise (your own gazetteer).
    """
    return _ForbidStandaloneGeo(PlaceNames(place_names))

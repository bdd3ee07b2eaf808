"""Registers twpolicy's types with Hypothesis, through its ``hypothesis`` entry point.

Hypothesis runs `_hypothesis_setup_hook` when it is imported, so
``st.from_type(twpolicy.ConsentRecord)`` works in any test suite that has twpolicy installed,
with no setup; nothing here runs unless Hypothesis is imported.
"""

from __future__ import annotations

from hypothesis import strategies as st

from twpolicy import strategies
from twpolicy._stores._consent import ConsentRecord

__all__ = ["_hypothesis_setup_hook"]


def _hypothesis_setup_hook() -> None:
    """Register a strategy for every twpolicy type a property test may ask for by type."""
    # A function, not a strategy: nothing is built until a test asks for the type.
    st.register_type_strategy(ConsentRecord, lambda _: strategies.consent_records())

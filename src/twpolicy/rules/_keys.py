"""One key per use case (I.F.5.a; restricted uses: multiple applications).

``keys.use_case`` checks, before every API call, that the consumer key the application runs
with is bound in the shared key store to the application's declared use case and
environment, and that no development or staging key serves production. The rule holds the
key's fingerprint and the store's read side; binding is done once, at configuration
(`twpolicy.open_keys(url).bind(...)`, or ``use_case`` in the ``[twpolicy]`` table).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

import attrs

from twpolicy._model import Action, ActionKind, Outcome
from twpolicy._stores._keys import (
    Environment,
    KeyBinding,
    environment,
    key_fingerprint,
    use_case_name,
)
from twpolicy.exceptions import KeyUseCaseError, PolicyViolation
from twpolicy.rules._context import RuleContext

__all__ = ["KeyReader", "one_key_per_use_case"]


class KeyReader(Protocol):
    """The read side of a key store."""

    def binding_of(self, key_id: str) -> KeyBinding | None:
        """The binding of the key with fingerprint ``key_id``, or ``None``."""
        ...


@attrs.frozen(repr=False)
class _OneKeyPerUseCase:
    id: ClassVar[str] = "keys.use_case"
    clause: ClassVar[str] = "I.F.5.a"
    error: ClassVar[type[PolicyViolation]] = KeyUseCaseError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})

    store: KeyReader
    key_id: str
    use_case: str
    environment: Environment

    def __repr__(self) -> str:
        return (
            f"twpolicy.rules.one_key_per_use_case(use_case={self.use_case!r}, "
            f"environment={self.environment.value!r})"
        )

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        binding = self.store.binding_of(self.key_id)
        facts = {"key_id": self.key_id, "use_case": self.use_case}
        bind = (
            f"bind it once: twpolicy.open_keys(URL).bind(KEY, use_case={self.use_case!r}, "
            f"environment={self.environment.value!r}), with URL the shared key store"
        )
        if binding is None:
            return Outcome.deny(
                "key_not_bound",
                f"{action.operation}: the consumer key (fingerprint {self.key_id}) is bound to "
                "no use case in the key store, so one key per use case cannot be shown.",
                f"{bind}.",
                facts=facts,
            )
        if binding.use_case != self.use_case:
            return Outcome.deny(
                "key_bound_to_another_use_case",
                f"{action.operation}: the consumer key (fingerprint {self.key_id}) is bound to "
                f"use case {binding.use_case!r}, not {self.use_case!r}; one key serves one use "
                "case.",
                f"register a separate app for {self.use_case!r} and run with its key, or set "
                f"use_case = {binding.use_case!r} if that is what this application does.",
                facts=facts,
            )
        if self.environment is Environment.PRODUCTION and binding.environment is not (
            Environment.PRODUCTION
        ):
            outcome = Outcome.deny(
                "nonproduction_key_in_production",
                f"{action.operation}: the consumer key (fingerprint {self.key_id}) is labelled "
                f"{binding.environment.value}, and development or staging apps may not be "
                "used for production.",
                f"run production with the production key of {self.use_case!r}.",
                facts=facts,
            )
            return attrs.evolve(outcome, clause="RU.multiple-applications.3")
        if binding.environment is not self.environment:
            return Outcome.deny(
                "key_environment_mismatch",
                f"{action.operation}: the consumer key (fingerprint {self.key_id}) is labelled "
                f"{binding.environment.value}, but this application runs as "
                f"{self.environment.value}.",
                f"set environment = {binding.environment.value!r}, or use the "
                f"{self.environment.value} key of {self.use_case!r}.",
                facts=facts,
            )
        return Outcome.allow("key_bound_to_use_case", facts=facts)


def one_key_per_use_case(
    store: KeyReader,
    *,
    key: str,
    use_case: str,
    environment: Environment | str = Environment.PRODUCTION,
) -> _OneKeyPerUseCase:
    """Refuse API calls unless ``key`` is bound to ``use_case`` in ``environment``.

    Raises:
        ConfigurationError: an empty key or use case, or an unknown environment.
    """
    return _OneKeyPerUseCase(
        store, key_fingerprint(key), use_case_name(use_case), _environment(environment)
    )


def _environment(value: Environment | str) -> Environment:
    return environment(value)

"""Why a user's recorded consent cannot be relied on right now, for the guard to say so.

Both are `twpolicy.StoreUnavailable` (so code that fails closed on it keeps doing so) with a
``reason`` the consent rule reports instead of a generic ``rule_error``:

- `LedgerTampered` (``ledger_tampered``): the user's events, the ledger's head or its keys
  do not check out, so their state is not used; the message names the event.
- `RevokeNotRecorded` (``revoke_not_recorded``): the user withdrew consent, the store failed
  to record it, and this process refuses their scopes until it is recorded.

Messages quote only what twpolicy computed or was asked (positions, user IDs passed in),
never text read from the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

from twpolicy.exceptions import StoreUnavailable

__all__ = ["ConsentUnusable", "LedgerTampered", "RevokeNotRecorded"]


class ConsentUnusable(StoreUnavailable):
    """A user's consent cannot be relied on: the consent rule denies with `reason`.

    Attributes:
        reason: the decision's reason code.
        user_id: whose consent (``None``: anybody's, the whole ledger is affected).
        detail: what is wrong, one sentence, for the decision's message.
        remedy: what to do, as written.
        facts: for the decision record (strings).
    """

    reason: ClassVar[str] = "consent_unusable"

    def __init__(
        self,
        detail: str,
        *,
        user_id: str | None,
        remedy: str,
        facts: Mapping[str, str] | None = None,
    ) -> None:
        self.user_id = user_id
        self.detail = detail
        self.remedy = remedy
        self.facts: Mapping[str, str] = MappingProxyType(dict(facts or {}))
        super().__init__(f"{detail} {remedy}")


class LedgerTampered(ConsentUnusable):
    """The ledger's events about a user (or its head, or its keys) do not check out.

    Attributes:
        seq: the event named, if one can be (``None``: the head or the key).
    """

    reason: ClassVar[str] = "ledger_tampered"

    def __init__(self, detail: str, *, user_id: str | None, seq: int | None) -> None:
        self.seq = seq
        facts = {} if seq is None else {"event": str(seq)}
        super().__init__(
            detail,
            user_id=user_id,
            remedy=(
                "Their recorded consent is not used until this is resolved: run "
                "`twpolicy consent verify` (with --expect-head if you keep the head "
                "elsewhere), and restore the ledger from a backup."
            ),
            facts=facts,
        )


class RevokeNotRecorded(ConsentUnusable):
    """A revoke failed to be recorded; this process refuses the scopes until it is.

    Attributes:
        scopes: the scopes withdrawn (``None``: all).
    """

    reason: ClassVar[str] = "revoke_not_recorded"

    def __init__(self, detail: str, *, user_id: str, scopes: frozenset[str] | None) -> None:
        self.scopes = scopes
        super().__init__(
            detail,
            user_id=user_id,
            remedy=(
                "Fix the store (the error above says how); the revoke is retried on the next "
                "check of this user, or by ledger.retry_revocations(). Other processes may "
                "not know of it until then."
            ),
            facts={"scopes": "all" if scopes is None else " ".join(sorted(scopes))},
        )

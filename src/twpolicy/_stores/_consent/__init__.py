"""Recorded consent: who agreed to what, when, after seeing which notice, and whether withdrawn.

Developer Policy I.C.1: a user authenticating is not consent; an application acts on a user's
behalf only with the user's express consent, and must be able to demonstrate it later (GDPR
Art. 7(1)). The ledger is an append-only log of events (granted, revoked, expired, used,
claimed, released), each carrying the hash of the one before it; the current state of every
consent is derived from the log, never updated in place, so a reviewer can replay it and
`Ledger.verify` can tell whether an event was changed, removed or reordered.

`open_ledger` opens one on ``memory://``, SQLite or PostgreSQL (see `twpolicy._stores._sql`).
Reads are cached per user for ``cache_ttl`` seconds; a revoke clears this process's cache at
once, and other processes see it within the TTL.

The modules, each importing only from those above it:

- ``_values``: checked values (user IDs, text, hashes) and times as stored;
- ``_records``: `Notice`, `ConsentRecord` and its Kantara receipt;
- ``_events``: `ConsentEvent`, the stored row and the hash chain;
- ``_state``: what events did to each record (`ConsentState`);
- ``_verify``: `Ledger.verify`'s checks (`Verification`);
- ``_backend``: what the ledger needs of a backend; ``_memory_backend`` and ``_sql_backend``
  (SQLite and PostgreSQL, with the PL/pgSQL append function) provide it;
- ``_ledger``: the `Ledger` facade and `open_ledger`.
"""

from twpolicy._stores._consent._events import ConsentEvent, ConsentEventType
from twpolicy._stores._consent._ledger import (
    DEFAULT_CACHE_TTL,
    ConsentLedger,
    Ledger,
    open_ledger,
)
from twpolicy._stores._consent._records import ConsentRecord, Notice
from twpolicy._stores._consent._state import ConsentState
from twpolicy._stores._consent._values import validate_user_id
from twpolicy._stores._consent._verify import Verification

__all__ = [
    "DEFAULT_CACHE_TTL",
    "ConsentEvent",
    "ConsentEventType",
    "ConsentLedger",
    "ConsentRecord",
    "ConsentState",
    "Ledger",
    "Notice",
    "Verification",
    "open_ledger",
    "validate_user_id",
]

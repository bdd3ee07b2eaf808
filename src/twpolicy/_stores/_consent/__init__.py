"""Recorded consent: who agreed to what, when, after seeing which notice, and whether withdrawn.

Developer Policy I.C.1: a user authenticating is not consent; an application acts on a user's
behalf only with the user's express consent, and must be able to demonstrate it later (GDPR
Art. 7(1)). The ledger is an append-only log of events (granted, revoked, expired, used,
claimed, released), each carrying the hash of the one before it; the current state of every
consent is derived from the log, never updated in place, so a reviewer can replay it and
`Ledger.verify` can tell whether an event was changed, removed or reordered.

`open_ledger` opens one on ``memory://``, SQLite or PostgreSQL (see `twpolicy._stores._sql`).
A user's consent is used only when their own events check out (else `LedgerTampered`); with a
consent key (HMAC) the chain cannot be rebuilt without it. Reads are cached per user until the
store says it changed (SQLite's ``data_version``, PostgreSQL's ``NOTIFY``; ``cache_ttl`` bounds
it otherwise). A revoke that cannot be recorded is held, and refused on, in this process.

The modules, each importing only from those above it:

- ``_values``: checked values (user IDs, text, hashes) and times as stored; ``_errors``: why
  a user's consent cannot be relied on (`LedgerTampered`, `RevokeNotRecorded`);
- ``_key``: the consent key (`ConsentKey`); ``_records``: `Notice`, `ConsentRecord` and its
  Kantara receipt;
- ``_events``: `ConsentEvent`, the stored row, the head, the index entries, both hash chains;
- ``_state``: what events did to each record (`ConsentState`);
- ``_verify``: `Ledger.verify`'s checks (`Verification`); ``_subject``: the per-user check on
  reads (`SubjectView`);
- ``_backend``: what the ledger needs of a backend; ``_memory_backend`` and ``_sql_backend``
  (SQLite and PostgreSQL, with the PL/pgSQL append function) provide it;
- ``_ledger``: the `Ledger` facade and `open_ledger`.
"""

from twpolicy._stores._consent._errors import ConsentUnusable, LedgerTampered, RevokeNotRecorded
from twpolicy._stores._consent._events import ConsentEvent, ConsentEventType
from twpolicy._stores._consent._key import KEY_ENV, ConsentKey, key_from_setting
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
    "KEY_ENV",
    "ConsentEvent",
    "ConsentEventType",
    "ConsentKey",
    "ConsentLedger",
    "ConsentRecord",
    "ConsentState",
    "ConsentUnusable",
    "Ledger",
    "LedgerTampered",
    "Notice",
    "RevokeNotRecorded",
    "Verification",
    "key_from_setting",
    "open_ledger",
    "validate_user_id",
]

"""Links between Twitter accounts and off-platform identities, recorded per subject (I.C.2).

Every link `twpolicy.link_identity` allows is written here with its basis and evidence, so
it can be shown to a reviewer, handed to the user it is about (`IdentityLinks.export_subject`)
and deleted on request (`IdentityLinks.delete_subject`). ``memory://`` keeps the links in
this process; SQLite and PostgreSQL share them between processes.
"""

from __future__ import annotations

import enum
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs

from twpolicy._stores._consent import validate_user_id
from twpolicy._stores._sql import Database, Migration, Schema, open_database, parse_url
from twpolicy._stores._time import utcnow
from twpolicy.exceptions import ConfigurationError

__all__ = ["IdentityLink", "IdentityLinks", "LinkBasis", "open_identity_links"]


class LinkBasis(str, enum.Enum):
    """Why an application may tie a Twitter account to an identity elsewhere (I.C.2)."""

    OPT_IN = "opt_in"
    """The user expressly opted in (recorded as ``identity.link`` consent)."""
    USER_PROVIDED = "user_provided"
    """The user gave the application the other identity themselves (a sign-up form)."""
    PUBLIC = "public"
    """Public data the user would expect to be used this way (their own public profile link)."""
    THIRD_PARTY = "third_party"
    """Records about the person from someone else (a data broker, another company): refused."""
    PURCHASED = "purchased"
    """Bought records about people with no prior relationship: refused."""

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class IdentityLink:
    """One recorded link.

    Attributes:
        link_id: the link's own ID.
        user_id: the Twitter user.
        external_id: the identity elsewhere (an e-mail hash, a CRM ID, a device ID).
        basis: why the link is allowed.
        evidence: where the basis is shown (a form submission ID, a consent record).
        linked_at: when it was recorded.
    """

    link_id: str
    user_id: str
    external_id: str
    basis: LinkBasis = attrs.field(converter=LinkBasis)
    evidence: str
    linked_at: datetime

    def to_dict(self) -> dict[str, str]:
        """The link as JSON-serialisable data (for a subject's export)."""
        return {
            "link_id": self.link_id,
            "user_id": self.user_id,
            "external_id": self.external_id,
            "basis": self.basis.value,
            "evidence": self.evidence,
            "linked_at": self.linked_at.isoformat(),
        }


_TABLES = (
    (
        "CREATE TABLE twpolicy_identity_links ("
        " link_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, external_id TEXT NOT NULL,"
        " basis TEXT NOT NULL, evidence TEXT NOT NULL, linked_at TEXT NOT NULL)"
    ),
    "CREATE INDEX twpolicy_identity_links_user ON twpolicy_identity_links (user_id)",
)
#: The identity-link store's tables, version by version.
SCHEMA = Schema(
    component="identity_links",
    what="identity-link store",
    migrations=(Migration(sqlite=_TABLES, postgresql=_TABLES),),
)
_COLUMNS = "link_id, user_id, external_id, basis, evidence, linked_at"
_INSERT = f"INSERT INTO twpolicy_identity_links ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608  # fixed text
_BY_USER = (
    f"SELECT {_COLUMNS} FROM twpolicy_identity_links WHERE user_id = ? ORDER BY linked_at, link_id"  # noqa: S608  # fixed text
)
_DELETE = "DELETE FROM twpolicy_identity_links WHERE user_id = ?"


def _link(row: tuple[Any, ...]) -> IdentityLink:
    link_id, user_id, external_id, basis, evidence, linked_at = row
    return IdentityLink(
        link_id=link_id,
        user_id=user_id,
        external_id=external_id,
        basis=basis,
        evidence=evidence,
        linked_at=datetime.fromisoformat(linked_at),
    )


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


class IdentityLinks:
    """The recorded links, in memory or in a shared database."""

    def __init__(
        self, database: Database | None, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = database
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: list[IdentityLink] = []
        self.url = "memory://" if database is None else database.url.display

    def __repr__(self) -> str:
        return f"twpolicy.IdentityLinks({self.url!r})"

    def record(
        self, user_id: str | int, external_id: str, *, basis: LinkBasis | str, evidence: str
    ) -> IdentityLink:
        """Write one link (the guard has allowed it: use `twpolicy.link_identity`).

        Raises:
            ConfigurationError: a malformed user ID, empty external ID or evidence.
            StoreUnavailable: the store cannot be written.
        """
        link = IdentityLink(
            link_id=str(uuid.uuid4()),
            user_id=validate_user_id(user_id),
            external_id=_text(external_id, "external_id"),
            basis=basis,
            evidence=_text(evidence, "evidence"),
            linked_at=self._clock(),
        )
        if self._db is None:
            with self._lock:
                self._memory.append(link)
            return link
        with self._db.write() as tx:
            tx.execute(
                _INSERT,
                (
                    link.link_id,
                    link.user_id,
                    link.external_id,
                    link.basis.value,
                    link.evidence,
                    link.linked_at.isoformat(),
                ),
            )
        return link

    def links(self, user_id: str | int) -> list[IdentityLink]:
        """Every link recorded for ``user_id``, oldest first."""
        uid = validate_user_id(user_id)
        if self._db is None:
            with self._lock:
                return [link for link in self._memory if link.user_id == uid]
        with self._db.read() as tx:
            return [_link(row) for row in tx.all(_BY_USER, (uid,))]

    def export_subject(self, user_id: str | int) -> list[dict[str, str]]:
        """Every link about ``user_id``, as data to hand to that user."""
        return [link.to_dict() for link in self.links(user_id)]

    def delete_subject(self, user_id: str | int) -> int:
        """Delete every link about ``user_id``; return how many there were."""
        uid = validate_user_id(user_id)
        if self._db is None:
            with self._lock:
                before = len(self._memory)
                self._memory = [link for link in self._memory if link.user_id != uid]
                return before - len(self._memory)
        with self._db.write() as tx:
            count = len(tx.all(_BY_USER, (uid,)))
            tx.execute(_DELETE, (uid,))
        return count

    def close(self) -> None:
        """Close the connection, if any."""
        if self._db is not None:
            self._db.close()


def open_identity_links(
    url: str, *, create: bool = True, clock: Callable[[], datetime] = utcnow
) -> IdentityLinks:
    """Open the identity-link store at ``url``: ``memory://``, ``sqlite:///path``, ``postgresql://``.

    Raises:
        ConfigurationError: a malformed or unknown URL.
        StoreUnavailable: the store cannot be reached, is corrupt or has a newer schema.
    """
    parsed = parse_url(url, what="identity-link store")
    if parsed.scheme == "memory":
        return IdentityLinks(None, clock=clock)
    return IdentityLinks(open_database(parsed, SCHEMA, create=create), clock=clock)

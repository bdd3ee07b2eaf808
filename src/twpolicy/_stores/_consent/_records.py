"""What a user agreed to: the `Notice` they saw, the `ConsentRecord`, and its Kantara receipt.

A record never changes once granted; what later happened to it is the business of the
ledger's events (`twpolicy._stores._consent._state`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from twpolicy._scopes import SCOPES, validate_scopes
from twpolicy._stores._consent._values import (
    is_optional_text,
    is_sha256_or_none,
    is_string,
    is_text,
    iso,
    iso_or_none,
    parse_time,
    validate_user_id,
)
from twpolicy._stores._time import utc, utc_or_none
from twpolicy.exceptions import ConfigurationError

__all__ = [
    "RECEIPT_VERSION",
    "RECORD_SCHEMA",
    "ConsentRecord",
    "Notice",
    "grant_body",
    "record_from_body",
]

#: The version of the record format, in receipts and exports.
RECORD_SCHEMA = "twpolicy-consent/1"
RECEIPT_VERSION = "KI-CR-v1.1.0"


@attrs.frozen
class Notice:
    """What the user was shown when they consented.

    A reviewer needs the exact text to judge the consent, so record its hash: build notices
    with `Notice.from_text` from the text you display. Anywhere a notice is expected, a plain
    string is shorthand for ``Notice(id=...)``.

    Attributes:
        id: your name for the notice (``"post-dialog"``).
        version: which wording of it (``"3"``).
        url: where the notice (or the privacy policy it belongs to) can be read.
        sha256: SHA-256 of the text shown, UTF-8, as 64 lower-case hex digits.
        language: the language it was shown in (``"en"``).
    """

    id: str = attrs.field(validator=is_text("notice id"))
    version: str = attrs.field(default="", validator=is_string("notice version"))
    url: str = attrs.field(default="", validator=is_string("notice url"))
    sha256: str | None = attrs.field(default=None, validator=is_sha256_or_none("notice sha256"))
    language: str = attrs.field(default="", validator=is_string("notice language"))

    @classmethod
    def from_text(
        cls, notice_id: str, text: str, *, version: str = "", url: str = "", language: str = ""
    ) -> Notice:
        """The notice ``notice_id`` whose displayed ``text`` is hashed into the record."""
        shown: object = text
        if not isinstance(shown, str) or not shown:
            raise ConfigurationError("the notice text must be a non-empty string")
        digest = hashlib.sha256(shown.encode("utf-8")).hexdigest()
        return cls(notice_id, version, url, digest, language)

    def to_dict(self) -> dict[str, Any]:
        """The notice as JSON-serialisable data."""
        return attrs.asdict(self)


def _notice(value: Notice | str) -> Notice:
    if isinstance(value, Notice):
        return value
    if isinstance(value, str):
        return Notice(value)
    raise ConfigurationError(f"notice must be a twpolicy.Notice or a string, got {value!r}")


@attrs.frozen(kw_only=True)
class ConsentRecord:
    """One grant of consent by one user for a set of scopes: what ``granted`` recorded.

    A record never changes; whether it is still in force is derived from the ledger's later
    events (`Ledger.status`).

    Attributes:
        record_id: a UUID, also the Kantara receipt's ``consentReceiptID``.
        user_id: the Twitter user ID of the person who consented, as a decimal string.
        scopes: what they consented to (names from `twpolicy.SCOPES`).
        granted_at: when it was recorded (UTC).
        notice: what they were shown (`Notice`).
        method: how consent was collected (``"ui_explicit"``, ``"reply_keyword"``, ...).
        evidence: what proves it: a request ID, an opt-in Tweet ID, a form submission ID.
        expires_at: when it lapses by itself, if ever (UTC).
        content_sha256: for a single-use consent, the hash of the exact content to publish;
            `Ledger.use` spends it.
        app_user_id: the user's ID in your application, if you want it recorded.
    """

    record_id: str = attrs.field(validator=is_text("record_id"))
    user_id: str = attrs.field(converter=validate_user_id)
    scopes: frozenset[str] = attrs.field(converter=validate_scopes)
    granted_at: datetime = attrs.field(converter=utc)
    notice: Notice = attrs.field(converter=_notice)
    method: str = attrs.field(validator=is_text("method"))
    evidence: str = attrs.field(validator=is_text("evidence"))
    expires_at: datetime | None = attrs.field(default=None, converter=utc_or_none)
    content_sha256: str | None = attrs.field(
        default=None, validator=is_sha256_or_none("content_sha256")
    )
    app_user_id: str | None = attrs.field(default=None, validator=is_optional_text("app_user_id"))

    def active_at(self, at: datetime) -> bool:
        """Whether ``at`` falls in the record's validity window (later events aside)."""
        return self.granted_at <= at and (self.expires_at is None or at < self.expires_at)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-serialisable data (the ``twpolicy`` part of its receipt)."""
        return {
            "schema": RECORD_SCHEMA,
            "record_id": self.record_id,
            "user_id": self.user_id,
            "granted_at": iso(self.granted_at),
            **grant_body(self),
        }

    def to_receipt(
        self,
        *,
        jurisdiction: str = "",
        controller: Mapping[str, str] | None = None,
        service: str = "",
    ) -> dict[str, Any]:
        """The record as a Kantara Consent Receipt v1.1, JSON-serialisable.

        Each scope is one purpose of one service, with consent type ``EXPLICIT``. The receipt
        also carries the full record under ``"twpolicy"`` (exact times, notice, evidence), so
        `ConsentRecord.from_receipt` gives the record back.

        Args:
            jurisdiction: where the controller is (``"EU"``, ``"US-CA"``).
            controller: the ``piiControllers`` entry: ``piiController``, ``contact``,
                ``address``, ``email``, ``phone``, ``piiControllerUrl``.
            service: the name of your application.
        """
        termination = "withdrawable at any time"
        if self.expires_at is not None:
            termination += f"; expires {iso(self.expires_at)}"
        if self.content_sha256 is not None:
            termination += f"; single use, for content sha256 {self.content_sha256}"
        return {
            "version": RECEIPT_VERSION,
            "jurisdiction": jurisdiction,
            "consentTimestamp": int(self.granted_at.timestamp()),
            "collectionMethod": self.method,
            "consentReceiptID": self.record_id,
            "language": self.notice.language,
            "piiPrincipalId": self.user_id,
            "piiControllers": [dict(controller)] if controller else [],
            "policyUrl": self.notice.url,
            "services": [
                {
                    "service": service or "Twitter API application",
                    "purposes": [
                        {
                            "purpose": SCOPES[name].description,
                            "purposeCategory": [name],
                            "consentType": "EXPLICIT",
                            "piiCategory": ["Twitter account"],
                            "primaryPurpose": True,
                            "termination": termination,
                            "thirdPartyDisclosure": False,
                            "thirdPartyName": "",
                        }
                        for name in sorted(self.scopes)
                    ],
                }
            ],
            "sensitive": False,
            "spiCat": [],
            "twpolicy": self.to_dict(),
        }

    @classmethod
    def from_receipt(cls, receipt: Mapping[str, Any]) -> ConsentRecord:
        """The record a receipt from `to_receipt` was made from.

        Raises:
            ConfigurationError: not such a receipt, or its parts disagree.
        """
        try:
            data = receipt["twpolicy"]
            if receipt["version"] != RECEIPT_VERSION or data["schema"] != RECORD_SCHEMA:
                raise ConfigurationError(
                    f"not a {RECEIPT_VERSION} receipt of a {RECORD_SCHEMA} record"
                )
            record = cls(
                **_fields_from_body(
                    data["record_id"], data["user_id"], parse_time(data["granted_at"]), data
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"not a twpolicy consent receipt: {exc!r}") from None
        if (receipt.get("consentReceiptID"), receipt.get("piiPrincipalId")) != (
            record.record_id,
            record.user_id,
        ):
            raise ConfigurationError("the receipt's ID or principal disagrees with its record")
        return record


def grant_body(record: ConsentRecord) -> dict[str, Any]:
    """The fields a ``granted`` event stores besides the record's ID, user and time."""
    return {
        "scopes": sorted(record.scopes),
        "notice": record.notice.to_dict(),
        "method": record.method,
        "evidence": record.evidence,
        "expires_at": iso_or_none(record.expires_at),
        "content_sha256": record.content_sha256,
        "app_user_id": record.app_user_id,
    }


def _fields_from_body(
    record_id: str, user_id: str, granted_at: datetime, body: Mapping[str, Any]
) -> dict[str, Any]:
    expires = body["expires_at"]
    return {
        "record_id": record_id,
        "user_id": user_id,
        "scopes": body["scopes"],
        "granted_at": granted_at,
        "notice": Notice(**body["notice"]),
        "method": body["method"],
        "evidence": body["evidence"],
        "expires_at": None if expires is None else parse_time(expires),
        "content_sha256": body["content_sha256"],
        "app_user_id": body["app_user_id"],
    }


def record_from_body(
    record_id: str, user_id: str, granted_at: datetime, body: Mapping[str, Any]
) -> ConsentRecord:
    """The record a ``granted`` event stored (its `grant_body`, ID, user and time)."""
    return ConsentRecord(**_fields_from_body(record_id, user_id, granted_at, body))

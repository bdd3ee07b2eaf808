"""twpolicy: keep applications built on the Twitter/X API inside the Developer Policy.

Enforcement points (drop-in tweepy clients, decorators, stores, the CLI) describe what the
application is about to do as an `Action`; one `Guard` decides, logs, and refuses with an
error that names the clause and the fix.
"""

from typing import Any as _Any

from twpolicy._clauses import Clause, ClauseStatus, clauses
from twpolicy._clients._contact import automated
from twpolicy._clients._sync import API, Client, StreamingClient
from twpolicy._enforce._compliance import (
    ApplyReport,
    CallbackApplier,
    JsonLinesApplier,
    MappingApplier,
    SqliteTableApplier,
    apply_compliance,
    displayable,
)
from twpolicy._enforce._exports import Export, ids_only, manual_export
from twpolicy._enforce._identity import delete_identity_links, link_identity
from twpolicy._enforce._optout import OPT_OUT_WORDS, OptOutHook, opt_out_keyword, record_opt_out
from twpolicy._enforce._publish import check_publishable, publishes
from twpolicy._enforce._sensitive import check_inference, sensitive_inference
from twpolicy._enforce._storage import GeoSafeMapping, check_storable, no_standalone_geo
from twpolicy._guard import Guard, Permit, Sink, get_default_guard, set_default_guard
from twpolicy._model import (
    Action,
    ActionKind,
    CountAction,
    Decision,
    Effect,
    Mode,
    Obligation,
    Outcome,
    ReserveQuota,
    SpendConsent,
)
from twpolicy._payloads._catalog import (
    Endpoint,
    EndpointCatalog,
    EndpointCategory,
    content_sha256,
    endpoint_catalog,
)
from twpolicy._payloads._compliance import (
    ComplianceEvent,
    ComplianceEventType,
    compliance_events,
)
from twpolicy._payloads._geo import GeoFinding, find_geo, strip_geo
from twpolicy._payloads._ids import dehydrate
from twpolicy._payloads._sensitive import CATEGORIES as SENSITIVE_CATEGORIES
from twpolicy._payloads._sensitive import SENSITIVE_FIELDS
from twpolicy._payloads._walker import GeoKind
from twpolicy._scopes import SCOPES, Scope
from twpolicy._stores._compliance import ComplianceLedger, open_compliance
from twpolicy._stores._consent import (
    ConsentEvent,
    ConsentEventType,
    ConsentLedger,
    ConsentRecord,
    ConsentState,
    Ledger,
    LedgerTampered,
    Notice,
    RevokeNotRecorded,
    Verification,
    open_ledger,
)
from twpolicy._stores._decisions import DecisionFile
from twpolicy._stores._identity import (
    IdentityLink,
    IdentityLinks,
    LinkBasis,
    open_identity_links,
)
from twpolicy._stores._keys import Environment, KeyBinding, KeyStore, key_fingerprint, open_keys
from twpolicy._stores._quotas import (
    PUBLIC,
    QuotaLedger,
    QuotaUsage,
    Recipient,
    Reservation,
    Standing,
    open_quotas,
)
from twpolicy._stores._tokens import UserTokens, open_user_tokens
from twpolicy._stores._windows import WindowLedger, open_windows
from twpolicy._version import __version__
from twpolicy.exceptions import (
    AutomationError,
    BulkLimitExceeded,
    ConfigurationError,
    ConsentRequired,
    ContentUnavailable,
    CredentialError,
    DuplicateContent,
    IdentityLinkError,
    KeyUseCaseError,
    NonPublicContentError,
    PayloadError,
    PolicyViolation,
    ProhibitedPurpose,
    PublicationError,
    QuotaExceeded,
    RedistributionError,
    SensitiveDataError,
    StandaloneGeoError,
    StoreUnavailable,
    TermsNotAccepted,
    TwPolicyError,
    TwPolicyWarning,
    UnknownRoute,
)
from twpolicy.rules import Rule, RuleContext
from twpolicy.rules import default as default_rules

__all__ = [
    "API",
    "OPT_OUT_WORDS",
    "PUBLIC",
    "SCOPES",
    "SENSITIVE_CATEGORIES",
    "SENSITIVE_FIELDS",
    "Action",
    "ActionKind",
    "ApplyReport",
    "AsyncClient",
    "AsyncStreamingClient",
    "AutomationError",
    "BulkLimitExceeded",
    "CallbackApplier",
    "Clause",
    "ClauseStatus",
    "Client",
    "ComplianceEvent",
    "ComplianceEventType",
    "ComplianceLedger",
    "ConfigurationError",
    "ConsentEvent",
    "ConsentEventType",
    "ConsentLedger",
    "ConsentRecord",
    "ConsentRequired",
    "ConsentState",
    "ContentUnavailable",
    "CountAction",
    "CredentialError",
    "Decision",
    "DecisionFile",
    "DuplicateContent",
    "Effect",
    "Endpoint",
    "EndpointCatalog",
    "EndpointCategory",
    "Environment",
    "Export",
    "GeoFinding",
    "GeoKind",
    "GeoSafeMapping",
    "Guard",
    "IdentityLink",
    "IdentityLinkError",
    "IdentityLinks",
    "JsonLinesApplier",
    "KeyBinding",
    "KeyStore",
    "KeyUseCaseError",
    "Ledger",
    "LedgerTampered",
    "LinkBasis",
    "MappingApplier",
    "Mode",
    "NonPublicContentError",
    "Notice",
    "Obligation",
    "OptOutHook",
    "Outcome",
    "PayloadError",
    "Permit",
    "PolicyViolation",
    "ProhibitedPurpose",
    "PublicationError",
    "QuotaExceeded",
    "QuotaLedger",
    "QuotaUsage",
    "Recipient",
    "RedistributionError",
    "Reservation",
    "ReserveQuota",
    "RevokeNotRecorded",
    "Rule",
    "RuleContext",
    "Scope",
    "SensitiveDataError",
    "Sink",
    "SpendConsent",
    "SqliteTableApplier",
    "StandaloneGeoError",
    "Standing",
    "StoreUnavailable",
    "StreamingClient",
    "TermsNotAccepted",
    "TwPolicyError",
    "TwPolicyWarning",
    "UnknownRoute",
    "UserTokens",
    "Verification",
    "WindowLedger",
    "__version__",
    "apply_compliance",
    "automated",
    "check_inference",
    "check_publishable",
    "check_storable",
    "clauses",
    "compliance_events",
    "content_sha256",
    "default_rules",
    "dehydrate",
    "delete_identity_links",
    "displayable",
    "endpoint_catalog",
    "find_geo",
    "get_default_guard",
    "ids_only",
    "key_fingerprint",
    "link_identity",
    "manual_export",
    "no_standalone_geo",
    "open_compliance",
    "open_identity_links",
    "open_keys",
    "open_ledger",
    "open_quotas",
    "open_user_tokens",
    "open_windows",
    "opt_out_keyword",
    "publishes",
    "record_opt_out",
    "sensitive_inference",
    "set_default_guard",
    "strip_geo",
]

# Loaded on first use: tweepy.asynchronous needs the `async` extra (aiohttp).
_LAZY = {
    "AsyncClient": "twpolicy._clients._async",
    "AsyncStreamingClient": "twpolicy._clients._async",
}


#: What tweepy.asynchronous needs besides tweepy: the `async` extra.
_ASYNC_NEEDS = ("aiohttp", "async_lru", "oauthlib")


def _public(obj: _Any) -> _Any:
    """Show a public object under the public path in reprs and tracebacks."""
    if isinstance(obj, type) and obj.__module__.startswith("twpolicy._"):
        obj.__module__ = "twpolicy"
    return obj


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'twpolicy' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib  # noqa: PLC0415  # only for the lazy names
    import importlib.util  # noqa: PLC0415  # ditto

    try:
        loaded = importlib.import_module(module)
    except Exception as exc:
        # tweepy.asynchronous raises a bare TweepyException when its extras are missing.
        missing = [m for m in _ASYNC_NEEDS if importlib.util.find_spec(m) is None]
        if not missing:
            raise
        raise ConfigurationError(
            f"twpolicy.{name} needs {', '.join(missing)} (the 'async' extra): "
            "pip install 'twpolicy[async]'"
        ) from exc
    value = _public(getattr(loaded, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY} - {"_Any"})


for _name in __all__:
    if _name not in _LAZY:
        _public(globals()[_name])
del _name

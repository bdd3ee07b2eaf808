"""twpolicy: keep applications built on the Twitter/X API inside the Developer Policy.

Enforcement points (drop-in tweepy clients, decorators, stores, the CLI) describe what the
application is about to do as an `Action`; one `Guard` decides, logs, and refuses with an
error that names the clause and the fix.
"""

# Names load on first use (PEP 562): `import twpolicy` and the CLI's commands that talk to no
# API stay fast, and tweepy, requests and oauthlib are imported only when a client is used.
# The exceptions load eagerly: they are cheap, and every handler names them.

from typing import TYPE_CHECKING
from typing import Any as _Any

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
    RateLimited,
    RedistributionError,
    SensitiveDataError,
    StandaloneGeoError,
    StoreUnavailable,
    TermsNotAccepted,
    TwPolicyError,
    TwPolicyWarning,
    UnknownRoute,
    UnplannedRequest,
    _join_tweepy,
)

if TYPE_CHECKING:
    from twpolicy._clauses import Clause, ClauseStatus, clauses
    from twpolicy._clients._async import AsyncClient, AsyncStreamingClient
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
    from twpolicy._enforce._compliance_jobs import (
        JobReport,
        PollPolicy,
        StreamReport,
        ingest_compliance_stream,
        run_compliance_job,
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
    from twpolicy._payloads._geo import GeoFinding, LocationMemory, find_geo, strip_geo
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
    "JobReport",
    "JsonLinesApplier",
    "KeyBinding",
    "KeyStore",
    "KeyUseCaseError",
    "Ledger",
    "LedgerTampered",
    "LinkBasis",
    "LocationMemory",
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
    "PollPolicy",
    "ProhibitedPurpose",
    "PublicationError",
    "QuotaExceeded",
    "QuotaLedger",
    "QuotaUsage",
    "RateLimited",
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
    "StreamReport",
    "StreamingClient",
    "TermsNotAccepted",
    "TwPolicyError",
    "TwPolicyWarning",
    "UnknownRoute",
    "UnplannedRequest",
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
    "ingest_compliance_stream",
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
    "run_compliance_job",
    "sensitive_inference",
    "set_default_guard",
    "strip_geo",
]

#: Where each lazily loaded public name lives: name -> (module, attribute).
_LAZY: dict[str, tuple[str, str]] = {
    "delete_identity_links": ("twpolicy._enforce._identity", "delete_identity_links"),
    "link_identity": ("twpolicy._enforce._identity", "link_identity"),
    "check_publishable": ("twpolicy._enforce._publish", "check_publishable"),
    "publishes": ("twpolicy._enforce._publish", "publishes"),
    "check_inference": ("twpolicy._enforce._sensitive", "check_inference"),
    "sensitive_inference": ("twpolicy._enforce._sensitive", "sensitive_inference"),
    "IdentityLink": ("twpolicy._stores._identity", "IdentityLink"),
    "IdentityLinks": ("twpolicy._stores._identity", "IdentityLinks"),
    "LinkBasis": ("twpolicy._stores._identity", "LinkBasis"),
    "open_identity_links": ("twpolicy._stores._identity", "open_identity_links"),
    "SENSITIVE_FIELDS": ("twpolicy._payloads._sensitive", "SENSITIVE_FIELDS"),
    "SENSITIVE_CATEGORIES": ("twpolicy._payloads._sensitive", "CATEGORIES"),
    "JobReport": ("twpolicy._enforce._compliance_jobs", "JobReport"),
    "PollPolicy": ("twpolicy._enforce._compliance_jobs", "PollPolicy"),
    "StreamReport": ("twpolicy._enforce._compliance_jobs", "StreamReport"),
    "ingest_compliance_stream": ("twpolicy._enforce._compliance_jobs", "ingest_compliance_stream"),
    "run_compliance_job": ("twpolicy._enforce._compliance_jobs", "run_compliance_job"),
    "Action": ("twpolicy._model", "Action"),
    "ActionKind": ("twpolicy._model", "ActionKind"),
    "API": ("twpolicy._clients._sync", "API"),
    "apply_compliance": ("twpolicy._enforce._compliance", "apply_compliance"),
    "ApplyReport": ("twpolicy._enforce._compliance", "ApplyReport"),
    # tweepy.asynchronous needs the `async` extra (aiohttp): a clear error if it is missing.
    "AsyncClient": ("twpolicy._clients._async", "AsyncClient"),
    "AsyncStreamingClient": ("twpolicy._clients._async", "AsyncStreamingClient"),
    "automated": ("twpolicy._clients._contact", "automated"),
    "CallbackApplier": ("twpolicy._enforce._compliance", "CallbackApplier"),
    "check_storable": ("twpolicy._enforce._storage", "check_storable"),
    "Clause": ("twpolicy._clauses", "Clause"),
    "clauses": ("twpolicy._clauses", "clauses"),
    "ClauseStatus": ("twpolicy._clauses", "ClauseStatus"),
    "Client": ("twpolicy._clients._sync", "Client"),
    "compliance_events": ("twpolicy._payloads._compliance", "compliance_events"),
    "ComplianceEvent": ("twpolicy._payloads._compliance", "ComplianceEvent"),
    "ComplianceEventType": ("twpolicy._payloads._compliance", "ComplianceEventType"),
    "ComplianceLedger": ("twpolicy._stores._compliance", "ComplianceLedger"),
    "ConsentEvent": ("twpolicy._stores._consent", "ConsentEvent"),
    "ConsentEventType": ("twpolicy._stores._consent", "ConsentEventType"),
    "ConsentLedger": ("twpolicy._stores._consent", "ConsentLedger"),
    "ConsentRecord": ("twpolicy._stores._consent", "ConsentRecord"),
    "ConsentState": ("twpolicy._stores._consent", "ConsentState"),
    "content_sha256": ("twpolicy._payloads._catalog", "content_sha256"),
    "CountAction": ("twpolicy._model", "CountAction"),
    "Decision": ("twpolicy._model", "Decision"),
    "DecisionFile": ("twpolicy._stores._decisions", "DecisionFile"),
    "default_rules": ("twpolicy.rules", "default"),
    "dehydrate": ("twpolicy._payloads._ids", "dehydrate"),
    "displayable": ("twpolicy._enforce._compliance", "displayable"),
    "Effect": ("twpolicy._model", "Effect"),
    "Endpoint": ("twpolicy._payloads._catalog", "Endpoint"),
    "endpoint_catalog": ("twpolicy._payloads._catalog", "endpoint_catalog"),
    "EndpointCatalog": ("twpolicy._payloads._catalog", "EndpointCatalog"),
    "EndpointCategory": ("twpolicy._payloads._catalog", "EndpointCategory"),
    "Environment": ("twpolicy._stores._keys", "Environment"),
    "Export": ("twpolicy._enforce._exports", "Export"),
    "find_geo": ("twpolicy._payloads._geo", "find_geo"),
    "GeoFinding": ("twpolicy._payloads._geo", "GeoFinding"),
    "LocationMemory": ("twpolicy._payloads._geo", "LocationMemory"),
    "GeoKind": ("twpolicy._payloads._walker", "GeoKind"),
    "GeoSafeMapping": ("twpolicy._enforce._storage", "GeoSafeMapping"),
    "get_default_guard": ("twpolicy._guard", "get_default_guard"),
    "Guard": ("twpolicy._guard", "Guard"),
    "ids_only": ("twpolicy._enforce._exports", "ids_only"),
    "JsonLinesApplier": ("twpolicy._enforce._compliance", "JsonLinesApplier"),
    "key_fingerprint": ("twpolicy._stores._keys", "key_fingerprint"),
    "KeyBinding": ("twpolicy._stores._keys", "KeyBinding"),
    "KeyStore": ("twpolicy._stores._keys", "KeyStore"),
    "Ledger": ("twpolicy._stores._consent", "Ledger"),
    "LedgerTampered": ("twpolicy._stores._consent", "LedgerTampered"),
    "manual_export": ("twpolicy._enforce._exports", "manual_export"),
    "MappingApplier": ("twpolicy._enforce._compliance", "MappingApplier"),
    "Mode": ("twpolicy._model", "Mode"),
    "no_standalone_geo": ("twpolicy._enforce._storage", "no_standalone_geo"),
    "Notice": ("twpolicy._stores._consent", "Notice"),
    "Obligation": ("twpolicy._model", "Obligation"),
    "open_compliance": ("twpolicy._stores._compliance", "open_compliance"),
    "open_keys": ("twpolicy._stores._keys", "open_keys"),
    "open_ledger": ("twpolicy._stores._consent", "open_ledger"),
    "open_quotas": ("twpolicy._stores._quotas", "open_quotas"),
    "open_user_tokens": ("twpolicy._stores._tokens", "open_user_tokens"),
    "open_windows": ("twpolicy._stores._windows", "open_windows"),
    "opt_out_keyword": ("twpolicy._enforce._optout", "opt_out_keyword"),
    "OPT_OUT_WORDS": ("twpolicy._enforce._optout", "OPT_OUT_WORDS"),
    "OptOutHook": ("twpolicy._enforce._optout", "OptOutHook"),
    "Outcome": ("twpolicy._model", "Outcome"),
    "Permit": ("twpolicy._guard", "Permit"),
    "PUBLIC": ("twpolicy._stores._quotas", "PUBLIC"),
    "QuotaLedger": ("twpolicy._stores._quotas", "QuotaLedger"),
    "QuotaUsage": ("twpolicy._stores._quotas", "QuotaUsage"),
    "Recipient": ("twpolicy._stores._quotas", "Recipient"),
    "record_opt_out": ("twpolicy._enforce._optout", "record_opt_out"),
    "Reservation": ("twpolicy._stores._quotas", "Reservation"),
    "ReserveQuota": ("twpolicy._model", "ReserveQuota"),
    "RevokeNotRecorded": ("twpolicy._stores._consent", "RevokeNotRecorded"),
    "Rule": ("twpolicy.rules", "Rule"),
    "RuleContext": ("twpolicy.rules", "RuleContext"),
    "Scope": ("twpolicy._scopes", "Scope"),
    "SCOPES": ("twpolicy._scopes", "SCOPES"),
    "set_default_guard": ("twpolicy._guard", "set_default_guard"),
    "Sink": ("twpolicy._guard", "Sink"),
    "SpendConsent": ("twpolicy._model", "SpendConsent"),
    "SqliteTableApplier": ("twpolicy._enforce._compliance", "SqliteTableApplier"),
    "Standing": ("twpolicy._stores._quotas", "Standing"),
    "StreamingClient": ("twpolicy._clients._sync", "StreamingClient"),
    "strip_geo": ("twpolicy._payloads._geo", "strip_geo"),
    "UserTokens": ("twpolicy._stores._tokens", "UserTokens"),
    "Verification": ("twpolicy._stores._consent", "Verification"),
    "WindowLedger": ("twpolicy._stores._windows", "WindowLedger"),
}

#: The public subpackage reachable as an attribute, as when __init__ imported it eagerly.
_SUBMODULES = frozenset({"rules"})

#: What tweepy.asynchronous needs besides tweepy: the `async` extra.
_ASYNC_NEEDS = ("aiohttp", "async_lru", "oauthlib")


def _public(obj: _Any) -> _Any:
    """Show a public object under the public path in reprs and tracebacks."""
    if isinstance(obj, type) and obj.__module__.startswith("twpolicy._"):
        obj.__module__ = "twpolicy"
    return obj


def _load(module: str, name: str) -> _Any:
    import importlib  # noqa: PLC0415  # only for the lazy names
    import importlib.util  # noqa: PLC0415  # ditto

    try:
        return importlib.import_module(module)
    except Exception as exc:
        if not module.endswith("._async"):
            raise
        # tweepy.asynchronous raises a bare TweepyException when its extras are missing.
        missing = [m for m in _ASYNC_NEEDS if importlib.util.find_spec(m) is None]
        if not missing:
            raise
        raise ConfigurationError(
            f"twpolicy.{name} needs {', '.join(missing)} (the 'async' extra): "
            "pip install 'twpolicy[async]'"
        ) from exc


def _submodule(name: str) -> _Any:
    """``twpolicy.rules`` (and the private modules) without an import, as before lazy loading."""
    import importlib  # noqa: PLC0415  # only for the lazy names
    import importlib.util  # noqa: PLC0415  # ditto

    if name.isidentifier() and not name.startswith("__"):
        qualified = f"{__name__}.{name}"
        if importlib.util.find_spec(qualified) is not None:
            return importlib.import_module(qualified)
    msg = f"module 'twpolicy' has no attribute {name!r}"
    raise AttributeError(msg)


def __getattr__(name: str) -> _Any:
    where = _LAZY.get(name)
    if where is None:
        return _submodule(name)
    loaded = _load(where[0], name)
    if where[0].startswith("twpolicy._clients"):
        # The clients import tweepy: refusals become tweepy.TweepyExceptions from here on.
        _join_tweepy()
    # Every public name of the module at once, so that reprs do not depend on access order.
    for other, (module, attribute) in _LAZY.items():
        if module == where[0]:
            globals()[other] = _public(getattr(loaded, attribute))
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES} - {"_Any", "TYPE_CHECKING"})

"""twpolicy: keep applications built on the Twitter/X API inside the Developer Policy.

Enforcement points (drop-in tweepy clients, decorators, stores, the CLI) describe what the
application is about to do as an `Action`; one `Guard` decides, logs, and refuses with an
error that names the clause and the fix.
"""

from typing import Any as _Any

from twpolicy._clauses import Clause, ClauseStatus, clauses
from twpolicy._clients._sync import API, Client, StreamingClient
from twpolicy._enforce._exports import Export, ids_only, manual_export
from twpolicy._enforce._geo import GeoSafeMapping, check_storable, no_standalone_geo
from twpolicy._guard import Guard, Permit, Sink, get_default_guard, set_default_guard
from twpolicy._model import (
    Action,
    ActionKind,
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
from twpolicy._payloads._geo import GeoFinding, find_geo, strip_geo
from twpolicy._payloads._ids import dehydrate
from twpolicy._payloads._walker import GeoKind
from twpolicy._scopes import SCOPES, Scope
from twpolicy._stores._consent import (
    ConsentEvent,
    ConsentEventType,
    ConsentLedger,
    ConsentRecord,
    ConsentState,
    Ledger,
    Notice,
    Verification,
    open_ledger,
)
from twpolicy._stores._quotas import (
    PUBLIC,
    QuotaLedger,
    QuotaUsage,
    Recipient,
    Reservation,
    Standing,
    open_quotas,
)
from twpolicy._version import __version__
from twpolicy.exceptions import (
    ConfigurationError,
    ConsentRequired,
    PayloadError,
    PolicyViolation,
    QuotaExceeded,
    RedistributionError,
    StandaloneGeoError,
    StoreUnavailable,
    TwPolicyError,
    TwPolicyWarning,
    UnknownRoute,
)
from twpolicy.rules import Rule, RuleContext
from twpolicy.rules import default as default_rules

__all__ = [
    "API",
    "PUBLIC",
    "SCOPES",
    "Action",
    "ActionKind",
    "AsyncClient",
    "AsyncStreamingClient",
    "Clause",
    "ClauseStatus",
    "Client",
    "ConfigurationError",
    "ConsentEvent",
    "ConsentEventType",
    "ConsentLedger",
    "ConsentRecord",
    "ConsentRequired",
    "ConsentState",
    "Decision",
    "Effect",
    "Endpoint",
    "EndpointCatalog",
    "EndpointCategory",
    "Export",
    "GeoFinding",
    "GeoKind",
    "GeoSafeMapping",
    "Guard",
    "Ledger",
    "Mode",
    "Notice",
    "Obligation",
    "Outcome",
    "PayloadError",
    "Permit",
    "PolicyViolation",
    "QuotaExceeded",
    "QuotaLedger",
    "QuotaUsage",
    "Recipient",
    "RedistributionError",
    "Reservation",
    "ReserveQuota",
    "Rule",
    "RuleContext",
    "Scope",
    "Sink",
    "SpendConsent",
    "StandaloneGeoError",
    "Standing",
    "StoreUnavailable",
    "StreamingClient",
    "TwPolicyError",
    "TwPolicyWarning",
    "UnknownRoute",
    "Verification",
    "__version__",
    "check_storable",
    "clauses",
    "content_sha256",
    "default_rules",
    "dehydrate",
    "endpoint_catalog",
    "find_geo",
    "get_default_guard",
    "ids_only",
    "manual_export",
    "no_standalone_geo",
    "open_ledger",
    "open_quotas",
    "set_default_guard",
    "strip_geo",
]

# Loaded on first use: tweepy.asynchronous needs the `async` extra (aiohttp).
_LAZY = {
    "AsyncClient": "twpolicy._clients._async",
    "AsyncStreamingClient": "twpolicy._clients._async",
}


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

    value = _public(getattr(importlib.import_module(module), name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY} - {"_Any"})


for _name in __all__:
    if _name not in _LAZY:
        _public(globals()[_name])
del _name

"""twpolicy: keep applications built on the Twitter/X API inside the Developer Policy.

Enforcement points (drop-in tweepy clients, decorators, stores, the CLI) describe what the
application is about to do as an `Action`; one `Guard` decides, logs, and refuses with an
error that names the clause and the fix.
"""

from twpolicy._clauses import Clause, ClauseStatus, clauses
from twpolicy._consent import (
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
from twpolicy._geo import (
    GeoFinding,
    GeoSafeMapping,
    check_storable,
    find_geo,
    no_standalone_geo,
    strip_geo,
)
from twpolicy._guard import Guard, Sink, get_default_guard, set_default_guard
from twpolicy._model import Action, ActionKind, Decision, Effect, Mode, Outcome
from twpolicy._quotas import (
    QuotaLedger,
    QuotaUsage,
    Recipient,
    Reservation,
    Standing,
    open_quotas,
)
from twpolicy._redistribution import Export, dehydrate, ids_only, manual_export
from twpolicy._rules import Rule, default_rules
from twpolicy._scopes import SCOPES, Scope
from twpolicy._version import __version__
from twpolicy._walker import GeoKind
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

__all__ = [
    "SCOPES",
    "Action",
    "ActionKind",
    "Clause",
    "ClauseStatus",
    "ConfigurationError",
    "ConsentEvent",
    "ConsentEventType",
    "ConsentLedger",
    "ConsentRecord",
    "ConsentRequired",
    "ConsentState",
    "Decision",
    "Effect",
    "Export",
    "GeoFinding",
    "GeoKind",
    "GeoSafeMapping",
    "Guard",
    "Ledger",
    "Mode",
    "Notice",
    "Outcome",
    "PayloadError",
    "PolicyViolation",
    "QuotaExceeded",
    "QuotaLedger",
    "QuotaUsage",
    "Recipient",
    "RedistributionError",
    "Reservation",
    "Rule",
    "Scope",
    "Sink",
    "StandaloneGeoError",
    "Standing",
    "StoreUnavailable",
    "TwPolicyError",
    "TwPolicyWarning",
    "UnknownRoute",
    "Verification",
    "__version__",
    "check_storable",
    "clauses",
    "default_rules",
    "dehydrate",
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

# Show public objects under the public path in reprs and tracebacks.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("twpolicy._"):
        _obj.__module__ = "twpolicy"
del _name, _obj

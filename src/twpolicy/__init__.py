"""twpolicy: keep applications built on the Twitter/X API inside the Developer Policy.

Enforcement points (drop-in tweepy clients, decorators, stores, the CLI) describe what the
application is about to do as an `Action`; one `Guard` decides, logs, and refuses with an
error that names the clause and the fix.
"""

from twpolicy._clauses import Clause, ClauseStatus, clauses
from twpolicy._consent import ConsentLedger, ConsentRecord, open_ledger
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
from twpolicy._rules import Rule, default_rules
from twpolicy._scopes import SCOPES, Scope
from twpolicy._version import __version__
from twpolicy.exceptions import (
    ConfigurationError,
    ConsentRequired,
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
    "ConsentLedger",
    "ConsentRecord",
    "ConsentRequired",
    "Decision",
    "Effect",
    "Guard",
    "Mode",
    "Outcome",
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
    "__version__",
    "clauses",
    "default_rules",
    "get_default_guard",
    "open_ledger",
    "open_quotas",
    "set_default_guard",
]

# Show public objects under the public path in reprs and tracebacks.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("twpolicy._"):
        _obj.__module__ = "twpolicy"
del _name, _obj

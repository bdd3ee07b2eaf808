"""Helpers for testing applications that use twpolicy.

The pytest plugin's fixtures are thin wrappers around what is here, so the same tools work in
any test runner:

- `DecisionRecorder` and `DecisionLog` collect decisions (the ``twpolicy_decisions``
  fixture is a `DecisionLog`);
- `fresh_guard` makes an isolated guard (in-memory consent and quota ledgers) and installs it
  as the default guard for a block (the ``twpolicy_guard`` fixture);
- `ConsentHelper` grants and revokes consent in one line (``twpolicy_consent``);
- `FakeXAPI` answers tweepy's requests in memory (``twpolicy_fake_api``);
- `TwPolicyOptions` holds what the ``@pytest.mark.twpolicy(...)`` marker can set.
"""

from twpolicy.testing._fakeapi._facade import FakeXAPI, RecordedRequest
from twpolicy.testing._fakeapi._state import DEFAULT_USER_ID
from twpolicy.testing._kit import (
    ConsentHelper,
    DecisionLog,
    DecisionRecorder,
    TwPolicyOptions,
    fresh_guard,
)

__all__ = [
    "DEFAULT_USER_ID",
    "ConsentHelper",
    "DecisionLog",
    "DecisionRecorder",
    "FakeXAPI",
    "RecordedRequest",
    "TwPolicyOptions",
    "fresh_guard",
]

for _name in __all__:
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("twpolicy.testing._"):
        _obj.__module__ = "twpolicy.testing"  # reprs and docs name the public path
del _name, _obj

"""The credential rules: no passwords kept (I.C.10), the app's own secrets kept private (I.A.1).

``credentials.stored`` refuses storing or exporting data holding a password or secret field
(``password``, ``consumer_secret``, ...) or a value equal to, or containing, a secret of the
guard's own clients (registered by hash when a guarded client is built). ``credentials.xauth``
refuses the xAuth flow, in which an application handles the user's Twitter password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Final

import attrs

from twpolicy._model import Action, ActionKind, Outcome, Scalar
from twpolicy._payloads._credentials import credential_findings
from twpolicy._payloads._walker import adapt
from twpolicy.exceptions import CredentialError, PolicyViolation
from twpolicy.rules._context import Rule, RuleContext, SecretReader

__all__ = ["forbid_credentials", "refuse_xauth"]

_VERB: Final = {ActionKind.STORE: "store", ActionKind.EXPORT: "export"}


_SCALARS: Final = frozenset({int, float, bool, type(None)})
_CONTAINERS: Final = frozenset({dict, list, tuple})
#: A line of joined texts that starts (after whitespace) like JSON text.
_JSON_START: Final = re.compile(r"^\s*[\[{]", re.MULTILINE)


def _texts(payload: Any) -> list[str] | None:
    """Every string and key in a payload of plain dicts, lists and tuples; else ``None``.

    ``None`` for anything the full pass would adapt first (bytes, tweepy models, other
    containers): the full pass then decides. No pointer is built.
    """
    texts: list[str] = []
    stack = [payload]
    seen: set[int] = set()
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind not in _CONTAINERS:
            if kind is str:
                texts.append(value)
            elif kind not in _SCALARS:
                return None
            continue
        if id(value) in seen:
            continue
        seen.add(id(value))
        if kind is dict:
            texts.extend(value)  # keys (a key that is not a string fails the join: full pass)
            value = value.values()
        texts.extend([item for item in value if type(item) is str])
        stack.extend([item for item in value if type(item) in _CONTAINERS])
        if any(type(item) not in _SCALARS_AND_TEXT for item in value):
            return None
    return texts


_SCALARS_AND_TEXT: Final = _SCALARS | _CONTAINERS | {str}


def _without(payload: Any, secrets: SecretReader) -> bool:
    """Whether no registered secret occurs in any string or key of ``payload`` (quick pass).

    One scan of the payload's texts joined by newlines (a secret without whitespace cannot
    span two of them) instead of a check per string. ``False`` when the quick pass cannot
    tell (JSON text in a string, which the full pass reads; a secret holding whitespace;
    values the full pass adapts), and the full pass decides.
    """
    if secrets.spaced():
        return False  # a secret with whitespace in it is looked for at every position
    texts = _texts(payload)
    if texts is None:
        return False
    try:
        joined = "\n".join(texts)
    except TypeError:  # a key that is not a string
        return False
    return _JSON_START.search(joined) is None and not secrets.contains(joined)


@attrs.frozen(repr=False)
class _ForbidCredentials:
    id: ClassVar[str] = "credentials.stored"
    clause: ClassVar[str] = "I.C.10"
    error: ClassVar[type[PolicyViolation]] = CredentialError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.STORE, ActionKind.EXPORT})

    def __repr__(self) -> str:
        return "twpolicy.rules.forbid_credentials()"

    def static_for(self, action: Action) -> bool:
        """Judged on the payload: silent for actions of other kinds or without one."""
        return action.kind not in self.kinds or action.payload is None

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:
        if action.kind not in self.kinds or action.payload is None:
            return None
        secrets = context.secrets
        if secrets is None or not len(secrets) or _without(action.payload, secrets):
            findings = credential_findings(action.payload)
        else:
            findings = credential_findings(
                action.payload, is_secret=secrets.is_secret, contains_secret=secrets.contains
            )
        if not findings:
            return Outcome.allow("no_credentials")
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        verb = _VERB[action.kind]
        where = first.pointer or "/"
        facts: dict[str, Scalar] = {
            "pointer": first.pointer,
            "credential": first.what,
            "found": len(findings),
        }
        if first.what == "password_field":
            return Outcome.deny(
                "password_field",
                f"{action.operation} would {verb} a field named as holding a password or "
                f"secret, at {where}{more}. Twitter passwords must never be kept, and API "
                "secrets never leave the application's configuration.",
                "remove the field before storing or sending: never ask users for their Twitter "
                "password (use OAuth), and keep API credentials in the environment or a "
                "secret manager.",
                facts=facts,
            )
        outcome = Outcome.deny(
            "client_secret",
            f"{action.operation} would {verb} a secret of this application's own API "
            f"credentials (consumer secret, access token secret or bearer token), at "
            f"{where}{more}. API keys, tokens and secrets must be kept private.",
            "leave the credential out of the data: read it from the environment or a secret "
            "manager where it is needed, and never copy it into stored or shared records.",
            facts=facts,
        )
        return attrs.evolve(outcome, clause="I.A.1")


def forbid_credentials() -> Rule:
    """Refuse storing or exporting passwords and the guard's own clients' secrets."""
    return _ForbidCredentials()


#: Request parameters that only the xAuth password flow sends.
XAUTH_PARAMETERS: Final = frozenset({"x_auth_password", "x_auth_username", "x_auth_mode"})


def _xauth_parameters(payload: Any) -> list[str]:
    value = adapt(payload)
    if not isinstance(value, Mapping):
        return []
    found = set()
    for key, item in value.items():
        if isinstance(key, str) and key.lower() in XAUTH_PARAMETERS:
            found.add(key.lower())
        elif isinstance(item, Mapping):  # tweepy's params=, post_data=, json=
            names = (k.lower() for k in item if isinstance(k, str))
            found.update(name for name in names if name in XAUTH_PARAMETERS)
    return sorted(found)


@attrs.frozen(repr=False)
class _RefuseXAuth:
    id: ClassVar[str] = "credentials.xauth"
    clause: ClassVar[str] = "I.C.10"
    error: ClassVar[type[PolicyViolation]] = CredentialError
    kinds: ClassVar[frozenset[ActionKind]] = frozenset({ActionKind.API_CALL})

    def __repr__(self) -> str:
        return "twpolicy.rules.refuse_xauth()"

    def static_for(self, action: Action) -> bool:  # noqa: ARG002  # protocol
        """Judged on the request's parameters alone."""
        return True

    def evaluate(self, action: Action, context: RuleContext) -> Outcome | None:  # noqa: ARG002  # protocol
        if action.kind is not ActionKind.API_CALL:
            return None
        found = _xauth_parameters(action.payload)
        if not found:
            return None
        return Outcome.deny(
            "xauth_password_flow",
            f"{action.operation} sends the xAuth password flow "
            f"({', '.join(found)}): the application would handle the "
            "user's Twitter password, which must never be asked for or kept.",
            "sign users in with OAuth instead (3-legged OAuth 1.0a or OAuth 2.0 with PKCE), "
            "so the password is typed only on X's own pages.",
            facts={"parameters": ",".join(found)},
        )


def refuse_xauth() -> Rule:
    """Refuse the xAuth password flow (I.C.10): users' passwords go to X only."""
    return _RefuseXAuth()

"""Finding credentials in data about to be kept or sent: password fields and known secrets.

Twitter passwords are never to be kept (I.C.10), and an application's API keys, tokens and
secrets stay private (I.A.1). Two things are looked for at any depth: a field whose name
says it holds a password or a secret (``password``, ``x_auth_password``,
``consumer_secret``, ``access_token_secret``, ``bearer_token``...) with a value in it, and a
key or text equal to, or containing, a secret the guard knows (its own clients' credentials,
known by hash only). Findings name where they are, never what was found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs

from twpolicy._payloads._fields import field_names, normal_field
from twpolicy._payloads._walker import adapt, pointer_of, read_json

__all__ = ["CREDENTIAL_FIELDS", "CredentialFinding", "credential_findings"]

#: Field names (lower case, without ``_``, ``-``, ``.`` or spaces) that hold a credential.
CREDENTIAL_FIELDS: Final = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "userpassword",
        "currentpassword",
        "oldpassword",
        "newpassword",
        "xauthpassword",
        "twitterpassword",
        "consumersecret",
        "consumerkeysecret",
        "apisecret",
        "apikeysecret",
        "apisecretkey",
        "clientsecret",
        "accesstokensecret",
        "oauthtokensecret",
        "tokensecret",
        "bearertoken",
    }
)
#: The placeholder a pointer shows for a key that is itself a secret.
_HIDDEN: Final = "[secret]"


def _never(_value: object) -> bool:
    return False


@attrs.frozen
class CredentialFinding:
    """One credential: where it is and what sort it is (never its value).

    Attributes:
        pointer: the JSON pointer of the field or key (a secret key reads ``[secret]``).
        what: ``"password_field"`` (a field named as holding a password or secret) or
            ``"known_secret"`` (a value or key that is a secret the guard knows).
    """

    pointer: str
    what: str


def _normal(key: str) -> str:
    return normal_field(key)


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, (str, bytes, list, dict)) and not value)


def _parsed(text: str | bytes) -> Any:
    """JSON text as what it holds, or ``None`` when it is not JSON."""
    stripped = text.lstrip()
    if not stripped or stripped[:1] not in ("{", "[", b"{", b"["):
        return None
    try:
        return read_json(text)
    except (ValueError, UnicodeDecodeError):
        return None


def _children(value: Any) -> Iterator[tuple[Any, Any]]:
    """A container's ``(key, value)`` pairs: mappings, sequences and stored mapping items."""
    if isinstance(value, Mapping):
        yield from value.items()
    elif isinstance(value, (list, tuple)):
        yield from enumerate(value)
    elif attrs.has(type(value)) and hasattr(value, "key") and hasattr(value, "value"):
        yield ("key", value.key)  # a mapping item: its key is stored as well
        yield ("value", value.value)


def credential_findings(
    payload: Any,
    *,
    is_secret: Callable[[object], bool] | None = None,
    contains_secret: Callable[[object], bool] | None = None,
) -> list[CredentialFinding]:
    """Every credential in ``payload``, ordered by JSON pointer.

    Args:
        payload: parsed JSON, tweepy models, JSON text, or any nesting of mappings and lists.
        is_secret: whether a value is exactly a known secret (``None``: no secret is known).
        contains_secret: whether a text contains a known secret.
    """
    if is_secret is None or contains_secret is None:
        names = field_names(payload)
        if names is not None and names.isdisjoint(CREDENTIAL_FIELDS):
            return []  # the usual case, decided in one quick pass
        return _findings(payload, _never, _never)
    return _findings(payload, is_secret, contains_secret)


def _findings(
    payload: Any, is_secret: Callable[[object], bool], contains_secret: Callable[[object], bool]
) -> list[CredentialFinding]:
    found: list[CredentialFinding] = []
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(payload, ())]
    seen: set[int] = set()
    while stack:
        value, path = stack.pop()
        if isinstance(value, (str, bytes, bytearray)):
            text = value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")
            if is_secret(text) or contains_secret(text):
                found.append(CredentialFinding(pointer_of(path), "known_secret"))
                continue
            inner = _parsed(text)
            if inner is not None:
                stack.append((inner, path))
            continue
        value = adapt(value)
        if id(value) in seen:
            continue  # a container met twice (or a cycle): its findings are listed already
        children = list(_children(value))
        if not children:
            continue
        seen.add(id(value))
        for key, item in reversed(children):
            hidden = isinstance(key, str) and (is_secret(key) or contains_secret(key))
            where = (*path, _HIDDEN if hidden else key)
            if hidden:
                found.append(CredentialFinding(pointer_of(where), "known_secret"))
                continue
            if isinstance(key, str) and _normal(key) in CREDENTIAL_FIELDS and _filled(item):
                found.append(CredentialFinding(pointer_of(where), "password_field"))
                continue
            stack.append((item, where))
    return sorted(found, key=lambda f: f.pointer) if len(found) > 1 else found

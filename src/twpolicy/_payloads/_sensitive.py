"""Sensitive characteristics and whether data is keyed to individuals (restricted uses).

The restricted-use page forbids deriving, inferring or storing a user's health, negative
financial status, political affiliation, racial or ethnic origin, religious or philosophical
beliefs, sex life or sexual orientation, trade-union membership, or alleged crimes; analysis
in the aggregate, holding no personal data, is allowed. Two things are read here: which
fields of a record carry such a characteristic (a vocabulary of field names, replaceable),
and whether data is keyed to people: Twitter users or Tweets the walker recognises, fields
named as user IDs or usernames, or mapping keys that are IDs or ``@handles``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, Final

import attrs

from twpolicy._payloads._fields import field_names, normal_field
from twpolicy._payloads._geo import MappingKey
from twpolicy._payloads._shapes import Kind
from twpolicy._payloads._walker import adapt, pointer_of, read_json, walk

__all__ = [
    "CATEGORIES",
    "SENSITIVE_FIELDS",
    "SensitiveFinding",
    "normal_field",
    "personal_keys",
    "sensitive_findings",
]

#: The eight categories, each with the restricted-use clause that names it.
CATEGORIES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "health": "RU.sensitive-information.a",
        "negative_financial_status": "RU.sensitive-information.b",
        "political_affiliation": "RU.sensitive-information.c",
        "racial_or_ethnic_origin": "RU.sensitive-information.d",
        "religious_or_philosophical_beliefs": "RU.sensitive-information.e",
        "sex_life_or_sexual_orientation": "RU.sensitive-information.f",
        "trade_union_membership": "RU.sensitive-information.g",
        "alleged_crimes": "RU.sensitive-information.h",
    }
)


def _vocabulary(table: Mapping[str, tuple[str, ...]]) -> Mapping[str, str]:
    return MappingProxyType({normal_field(f): cat for cat, names in table.items() for f in names})


#: Field names (normalised with `normal_field`) that carry a sensitive characteristic.
SENSITIVE_FIELDS: Final[Mapping[str, str]] = _vocabulary(
    {
        "health": (
            "health",
            "health_condition",
            "medical_condition",
            "diagnosis",
            "disability",
            "illness",
            "mental_health",
            "pregnant",
            "pregnancy",
        ),
        "negative_financial_status": (
            "debt",
            "in_debt",
            "bankrupt",
            "bankruptcy",
            "insolvency",
            "arrears",
            "credit_default",
            "financial_distress",
        ),
        "political_affiliation": (
            "political_affiliation",
            "political_party",
            "political_leaning",
            "political_view",
            "voting_intention",
        ),
        "racial_or_ethnic_origin": ("race", "ethnicity", "ethnic_origin", "racial_origin"),
        "religious_or_philosophical_beliefs": (
            "religion",
            "religious_belief",
            "religious_affiliation",
            "philosophical_belief",
            "philosophical_beliefs",
        ),
        "sex_life_or_sexual_orientation": ("sexual_orientation", "sexuality", "sex_life"),
        "trade_union_membership": ("trade_union", "union_member", "union_membership"),
        "alleged_crimes": (
            "criminal_record",
            "alleged_crime",
            "conviction",
            "arrest_record",
            "offence",
            "offense",
        ),
    }
)

#: Field names (normalised) whose value names a person.
_PERSON_FIELDS: Final = frozenset(
    normal_field(f)
    for f in (
        "user_id",
        "author_id",
        "account_id",
        "twitter_id",
        "username",
        "screen_name",
        "handle",
        "user",
        "author",
    )
)
_PEOPLE_KINDS: Final = frozenset(
    {
        Kind.USER_V1,
        Kind.USER_V2,
        Kind.ACTOR,
        Kind.MENTION,
        Kind.TWEET_V1,
        Kind.TWEET_V2,
        Kind.TWEET_FLAT,
        Kind.ACTIVITY,
        Kind.DM_V1,
        Kind.DM_EVENT_V1,
        Kind.DM_EVENT_V2,
    }
)
_HANDLE: Final = re.compile(r"@?[A-Za-z0-9_]{1,15}")


@attrs.frozen
class SensitiveFinding:
    """A sensitive field in a record keyed to a person.

    Attributes:
        pointer: the JSON pointer of the field.
        category: which of the eight categories it carries.
    """

    pointer: str
    category: str


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, (str, list, dict)) and not value)


#: Decimal keys shorter than this are read as years, hours or codes, not user IDs.
_MIN_ID_DIGITS: Final = 6


def _person_key(key: object) -> bool:
    """A mapping key naming a person: a user ID (6 digits or more) or an ``@handle``."""
    if isinstance(key, int) and not isinstance(key, bool):
        key = str(key)
    if not isinstance(key, str):
        return False
    if key.isdecimal():
        return len(key) >= _MIN_ID_DIGITS
    return key.startswith("@") and bool(_HANDLE.fullmatch(key))


def _unwrapped(payload: Any) -> tuple[Any, bool]:
    """The data a store keeps, and whether its mapping key names a person."""
    keyed = False
    if isinstance(payload, MappingKey):
        keyed = _person_key(payload.key)
        payload = payload.value
    if isinstance(payload, (str, bytes, bytearray)):
        try:
            payload = read_json(payload)
        except (ValueError, UnicodeDecodeError):
            payload = None
    return payload, keyed


def _mappings(payload: Any) -> Iterator[tuple[tuple[str | int, ...], Mapping[Any, Any]]]:
    """Every mapping in ``payload`` with its path, parents first."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(payload, ())]
    seen: set[int] = set()
    while stack:
        value, path = stack.pop()
        value = adapt(value)
        if id(value) in seen:
            continue
        if isinstance(value, Mapping):
            seen.add(id(value))
            yield path, value
            stack.extend((item, (*path, key)) for key, item in reversed(list(value.items())))
        elif isinstance(value, list):
            seen.add(id(value))
            stack.extend((item, (*path, i)) for i, item in reversed(list(enumerate(value))))


def personal_keys(payload: Any) -> list[str]:
    """JSON pointers of what keys ``payload`` to individuals; empty for aggregate data."""
    payload, keyed = _unwrapped(payload)
    found = ["(mapping key)"] if keyed else []
    found.extend(node.pointer or "/" for node in walk(payload) if node.kind in _PEOPLE_KINDS)
    for path, mapping in _mappings(payload):
        for key, value in mapping.items():
            if (
                isinstance(key, str) and normal_field(key) in _PERSON_FIELDS and _filled(value)
            ) or _person_key(key):
                found.append(pointer_of((*path, key)))
    return sorted(set(found))


def _names_person(mapping: Mapping[Any, Any]) -> bool:
    return any(
        (isinstance(k, str) and normal_field(k) in _PERSON_FIELDS and _filled(v)) or _person_key(k)
        for k, v in mapping.items()
    )


def _has_sensitive_field(payload: Any, vocabulary: Mapping[str, str]) -> bool:
    """Whether any filled field of the vocabulary occurs anywhere (the usual answer: no)."""
    names = field_names(payload)
    if names is not None and not any(name in vocabulary for name in names):
        return False
    return any(
        isinstance(key, str) and normal_field(key) in vocabulary and _filled(value)
        for _, mapping in _mappings(payload)
        for key, value in mapping.items()
    )


def sensitive_findings(
    payload: Any, vocabulary: Mapping[str, str] = SENSITIVE_FIELDS
) -> list[SensitiveFinding]:
    """Filled sensitive fields in records keyed to a person, ordered by pointer.

    A record is keyed to a person when it, or a record containing it, names one (a user
    ID, username or handle field, a Twitter user or Tweet the walker recognises, a key that
    is a user ID or ``@handle``), or when the whole payload is stored under such a key.
    """
    payload, keyed = _unwrapped(payload)
    if not _has_sensitive_field(payload, vocabulary):
        return []
    people = {id(node.value) for node in walk(payload) if node.kind in _PEOPLE_KINDS}
    found: list[SensitiveFinding] = []
    stack: list[tuple[Any, tuple[str | int, ...], bool]] = [(payload, (), keyed)]
    seen: set[int] = set()
    while stack:
        value, path, above = stack.pop()
        value = adapt(value)
        if id(value) in seen or not isinstance(value, (Mapping, list)):
            continue
        seen.add(id(value))
        if isinstance(value, list):
            stack.extend((item, (*path, i), above) for i, item in enumerate(value))
            continue
        here = (
            above
            or id(value) in people
            or (bool(path) and _person_key(path[-1]))
            or _names_person(value)
        )
        for key, item in value.items():
            if here and isinstance(key, str) and _filled(item):
                category = vocabulary.get(normal_field(key))
                if category is not None:
                    found.append(SensitiveFinding(pointer_of((*path, key)), category))
            stack.append((item, (*path, key), here))
    return sorted(found, key=lambda f: f.pointer)

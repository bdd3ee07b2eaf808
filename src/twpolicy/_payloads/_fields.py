"""The field names a payload holds, in one quick pass: the fast path of field-name rules.

Rules that look for fields by name (credentials, sensitive characteristics) first ask which
names occur at all; the usual answer (none of theirs) ends their work without building a
single JSON pointer.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

from twpolicy._payloads._walker import adapt

__all__ = ["field_names", "normal_field"]

_SEPARATORS: Final = str.maketrans("", "", "_-. ")
_SCALARS: Final = frozenset({int, float, bool, type(None)})
_OPENERS: Final = ("{", "[")


@functools.lru_cache(maxsize=8192)
def normal_field(name: str) -> str:
    """A field name compared without case, ``_``, ``-``, ``.`` or spaces."""
    return name.lower().translate(_SEPARATORS)


def field_names(payload: Any) -> frozenset[str] | None:  # noqa: C901  # one flat loop, one frame
    """Every field name in ``payload`` (normalised), or ``None`` when a quick pass cannot tell.

    ``None`` for JSON text (which may hold fields once parsed) and for containers other
    than mappings, lists and tuples (a stored mapping item): callers then do the full pass.
    """
    keys: set[Any] = set()
    stack = [payload]
    seen: set[int] = set()
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is not dict and kind is not list:
            if isinstance(value, (str, bytes, bytearray)):
                if value.lstrip()[:1] in ("{", "[", b"{", b"["):
                    return None
                continue
            value = adapt(value)
            if type(value) in _SCALARS:
                continue
            if not isinstance(value, (Mapping, list, tuple)):
                return None
        if id(value) in seen:
            continue
        seen.add(id(value))
        items = value.values() if kind is dict or isinstance(value, Mapping) else value
        if items is not value:
            keys.update(value.keys())  # raw keys, in C; normalised once each at the end
        for item in items:
            leaf = type(item)
            if leaf is str:
                if item[:1] in _OPENERS or item.lstrip()[:1] in _OPENERS:
                    return None  # JSON text: left to the full pass
            elif leaf not in _SCALARS:
                stack.append(item)
    return frozenset(normal_field(key) for key in keys if isinstance(key, str))

"""JSON text that writes one key twice, for the tests of every reader that must refuse it.

The key is one of any object of a payload, at any depth; its second copy goes first or
last, holds the same value or a decoy, and is spelled plainly, with its first character
escaped, with whitespace before the colon, or (as ``"colons"``) with a decoy of colons
spelled as escapes, which a count of colons in the text would miss.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

SPELLINGS = ("plain", "escaped", "spaced", "colons")


def objects(value: Any) -> list[dict[str, Any]]:
    """Every non-empty object in ``value``, outermost first."""
    found: list[dict[str, Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item:
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def spelled(key: str, how: str) -> str:
    """``key`` as JSON text: plainly, with its first character escaped, or with a space before
    the colon (all read as the same key)."""
    if how == "escaped" and key:
        return '"' + f"\\u{ord(key[0]):04x}" + json.dumps(key)[2:]
    if how == "spaced":
        return json.dumps(key) + " \t"
    return json.dumps(key)


def dump_twice(
    value: Any, target: dict[str, Any], key: str, extra: Any, how: tuple[bool, str]
) -> str:
    """``value`` as JSON text, with ``key`` of ``target`` written twice (``extra`` too).

    ``how``: whether the extra copy goes first, and how its key is spelled (`SPELLINGS`).
    """
    first, spelling = how
    if isinstance(value, dict):
        pairs = [(json.dumps(k), dump_twice(v, target, key, extra, how)) for k, v in value.items()]
        if value is target:
            at = list(value).index(key)
            written = '"\\u003a\\u003A"' if spelling == "colons" else json.dumps(extra)
            pairs.insert(at + (0 if first else 1), (spelled(key, spelling), written))
        return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump_twice(v, target, key, extra, how) for v in value) + "]"
    return json.dumps(value)


@st.composite
def written_twice(
    draw: st.DrawFn,
    payloads: st.SearchStrategy[Any],
    decoys: tuple[Any, ...],
    *,
    same: bool = True,
    spellings: tuple[str, ...] = SPELLINGS,
) -> str:
    """A payload as JSON text with one key of one of its objects written twice: its own value
    again (``same``) or one of ``decoys``."""
    payload = draw(payloads)
    target = draw(st.sampled_from(objects(payload)))
    key = draw(st.sampled_from(sorted(target)))
    extra = draw(st.sampled_from(((target[key],) if same else ()) + decoys))
    how = (draw(st.booleans()), draw(st.sampled_from(spellings)))
    return dump_twice(payload, target, key, extra, how)

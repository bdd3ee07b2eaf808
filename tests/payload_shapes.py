"""What real payloads look like: the keys each kind of object has in the recorded corpus.

Generated payloads (twpolicy.strategies, the fake X API) are checked against these key sets:
every key they use must have been seen on the same kind of object in a real recording.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import corpus


def _v2_id(obj: dict[str, Any]) -> bool:
    return isinstance(obj.get("id"), str) and "id_str" not in obj


# Each kind with the test that recognises it, most specific first.
_KIND_TESTS: tuple[tuple[str, Callable[[dict[str, Any]], bool]], ...] = (
    ("tweet_v1", lambda o: "id_str" in o and ("text" in o or "full_text" in o) and "user" in o),
    ("user_v1", lambda o: "screen_name" in o and "followers_count" in o),
    (
        "place_v1",
        lambda o: "place_type" in o and "full_name" in o and ("bounding_box" in o or "url" in o),
    ),
    ("dm_event_v2", lambda o: _v2_id(o) and "event_type" in o),
    ("tweet_v2", lambda o: _v2_id(o) and ("edit_history_tweet_ids" in o or "text" in o)),
    ("user_v2", lambda o: _v2_id(o) and "username" in o and "name" in o),
    ("place_v2", lambda o: _v2_id(o) and "full_name" in o),
)


def kind_of(obj: dict[str, Any]) -> str | None:
    """The kind of a JSON object (``"tweet_v1"``, ``"user_v2"``, ...), or ``None``."""
    return next((kind for kind, test in _KIND_TESTS if test(obj)), None)


def objects(document: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``document``, outermost first."""
    if isinstance(document, dict):
        yield document
        for value in document.values():
            yield from objects(value)
    elif isinstance(document, list):
        for value in document:
            yield from objects(value)


@functools.cache
def corpus_keys(root: Path) -> dict[str, frozenset[str]]:
    """The keys seen on each kind of object in the corpus's raw API payloads."""
    seen: dict[str, set[str]] = {kind: set() for kind, _ in _KIND_TESTS}
    for document in corpus.load(root):
        # twarc's flattened output and deliberately broken payloads are not raw API shapes.
        if "flattened" in document.source.get("notes", "") or "broken" in document.path:
            continue
        for obj in objects(document.value):
            kind = kind_of(obj)
            if kind is not None:
                seen[kind].update(obj)
    return {kind: frozenset(keys) for kind, keys in seen.items()}


def unseen_keys(document: Any, corpus: Path) -> dict[str, set[str]]:
    """For each kind of object in ``document``, the keys never seen on that kind in the corpus."""
    known = corpus_keys(corpus)
    unseen: dict[str, set[str]] = {}
    for obj in objects(document):
        kind = kind_of(obj)
        if kind is not None and not known[kind].issuperset(obj):
            unseen.setdefault(kind, set()).update(set(obj) - known[kind])
    return unseen


def kinds_in(document: Any) -> set[str]:
    """The kinds of object found anywhere in ``document``."""
    return {kind for obj in objects(document) if (kind := kind_of(obj)) is not None}

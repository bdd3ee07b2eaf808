"""What real payloads look like: the keys each kind of object has in the recorded corpus.

Generated payloads (twpolicy.strategies, the fake X API) are checked against these key sets:
every key they use must have been seen on the same kind of object in a real recording.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import functools
import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml


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


def _body(body: Any) -> Any:
    """A cassette's response body, decoded (plain JSON, or gzip, maybe base64)."""
    if isinstance(body, dict):
        body = body.get("string", body.get("base64_string"))
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            try:
                body = base64.b64decode(body, validate=True)
            except binascii.Error:
                return None
    if isinstance(body, bytes):
        with contextlib.suppress(OSError):  # not gzipped
            body = gzip.decompress(body)
        try:
            return json.loads(body)
        except ValueError:
            return None
    return body


def _documents(path: Path) -> Iterator[Any]:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".yaml":
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506  # a safe loader
    else:
        try:
            document = json.loads(text)
        except ValueError:
            yield from _concatenated(text)
            return
    if isinstance(document, dict) and "interactions" in document:
        for interaction in document["interactions"]:
            body = _body(interaction.get("response", {}).get("body"))
            if body is not None:
                yield body
    else:
        yield document


def _concatenated(text: str) -> Iterator[Any]:
    """JSON Lines, or JSON documents written one after another."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return
        try:
            document, position = decoder.raw_decode(text, position)
        except ValueError:
            return
        yield document


@functools.cache
def corpus_keys(corpus: Path) -> dict[str, frozenset[str]]:
    """The keys seen on each kind of object in the corpus's raw API payloads."""
    seen: dict[str, set[str]] = {kind: set() for kind, _ in _KIND_TESTS}
    with (corpus / "SOURCES.tsv").open(encoding="utf-8") as sources:
        rows = list(csv.DictReader(sources, delimiter="\t"))
    for row in rows:
        # twarc's flattened output and deliberately broken payloads are not raw API shapes.
        if "flattened" in row["notes"] or "broken" in row["local_path"]:
            continue
        documents = _documents(corpus / row["local_path"])
        if "[*].normalized is twitwi output" in row["notes"]:
            documents = ([item["source"] for item in doc] for doc in documents)  # raw tweets only
        for document in documents:
            for obj in objects(document):
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

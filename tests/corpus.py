"""Read the shared corpus of recorded payloads: every payload document, with where it came from.

The corpus keeps recorded API responses in the carriers their source projects used: whole JSON
files, JSON Lines, concatenated (pretty-printed) stream messages, a JSONP callback, VCR cassettes
(YAML or JSON, bodies gzip-compressed and base64-encoded by YAML's ``!!binary``), an older
recorder's quoted-printable bodies, a Postman collection whose example responses are strings,
and twitwi's ``{normalized, source}`` pairs. `documents` unwraps all of them into payload
documents, so tests over "every payload" need not care. Payloads that cannot be parsed are
yielded too, with ``error`` set and ``value`` ``None``: they make good bad-input tests.

Files are read in place and never copied (they hold real people's content).
"""

from __future__ import annotations

import csv
import functools
import gzip
import json
import quopri
import re
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

__all__ = ["Document", "Request", "documents", "load", "resolve"]

# Files of the corpus that are not payloads.
_NOT_PAYLOADS = {"README.md", "SOURCES.tsv"}
_JSONP = re.compile(rb"^\s*(?:/\*\*/)?\s*[A-Za-z_$][\w$.]*\s*\((?P<body>.*)\)\s*;?\s*$", re.DOTALL)


@attrs.frozen
class Request:
    """The request a recorded response answered, where the carrier kept it."""

    method: str
    uri: str
    status: int | None = None


@attrs.frozen
class Document:
    """One payload document of the corpus.

    Attributes:
        path: the file, relative to the corpus root (``owner+repo/...``).
        locator: where in the file: ``""`` for a whole file, ``"line 3"``, ``"document 2"``,
            ``"interaction 4"``, ``"/item/0/item/2/response/1"`` (Postman), ``"/3/source"``.
        carrier: how it was stored: ``json``, ``jsonl``, ``concatenated``, ``jsonp``,
            ``vcr-yaml``, ``vcr-json``, ``recording``, ``postman`` or ``twitwi``.
        raw: the document's bytes as stored (after unwrapping gzip, base64 or quoting).
        value: the parsed JSON, or ``None`` when ``error`` is set.
        error: why the document could not be parsed, or ``None``.
        request: the request, for cassettes, recordings and Postman examples.
        source: the file's row of ``SOURCES.tsv`` (license, API version, notes ...).
    """

    path: str
    locator: str
    carrier: str
    raw: bytes = attrs.field(repr=False)
    value: Any = attrs.field(repr=False)
    error: str | None = None
    request: Request | None = None
    source: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    @property
    def origin(self) -> str:
        """``path#locator``: names the document in test output."""
        return f"{self.path}#{self.locator}" if self.locator else self.path


def _parse(raw: bytes) -> tuple[Any, str | None]:
    try:
        return json.loads(raw), None
    except (ValueError, RecursionError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _split(raw: bytes) -> Iterator[tuple[int, bytes, Any, str | None]]:
    """Split back-to-back JSON values (JSON Lines or pretty-printed, maybe between text lines).

    Yields ``(line, bytes, value, error)``; text that is not JSON becomes one error per line.
    """
    text = raw.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return
        start = position
        line = text.count("\n", 0, start) + 1
        try:
            value, position = decoder.raw_decode(text, position)
        except (ValueError, RecursionError) as exc:
            end = text.find("\n", start)
            position = len(text) if end < 0 else end
            yield line, text[start:position].encode(), None, f"{type(exc).__name__}: {exc}"
        else:
            yield line, text[start:position].encode(), value, None


def _whole_files(path: str, raw: bytes, source: Mapping[str, str]) -> Iterator[Document]:
    value, error = _parse(raw)
    if error is None:
        yield from _unwrap(path, raw, value, source)
        return
    jsonp = _JSONP.match(raw)
    if jsonp is not None:
        body = jsonp["body"]
        value, error = _parse(body)
        yield Document(path, "", "jsonp", body, value, error, source=source)
        return
    carrier = "jsonl" if path.endswith(".jsonl") else "concatenated"
    for line, piece, value, error in _split(raw):
        yield Document(path, f"line {line}", carrier, piece, value, error, source=source)


def _unwrap(path: str, raw: bytes, value: Any, source: Mapping[str, str]) -> Iterator[Document]:
    """Yield the payloads a parsed file holds: itself, or what its carrier wraps."""
    if isinstance(value, dict) and isinstance(value.get("interactions"), list):
        for number, interaction in enumerate(value["interactions"]):
            yield from _interaction(path, "vcr-json", number, interaction, source)
    elif isinstance(value, dict) and "item" in value and "info" in value:
        yield from _postman(path, value["item"], "/item", source)
    elif _is_recording(value):
        for number, exchange in enumerate(value):
            body = quopri.decodestring(exchange["response"]["body_quoted_printable"].encode())
            request = Request(
                exchange["request"]["method"],
                exchange["request"]["url"],
                exchange["response"]["status"]["code"],
            )
            if body.strip():
                yield _body(
                    path, f"exchange {number}", "recording", body, request=request, source=source
                )
    elif isinstance(value, list) and value and all(_is_twitwi_pair(v) for v in value):
        for number, pair in enumerate(value):
            piece = json.dumps(pair["source"]).encode()
            yield Document(
                path, f"/{number}/source", "twitwi", piece, pair["source"], None, source=source
            )
    else:
        yield Document(path, "", "json", raw, value, None, source=source)


def _is_recording(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(v, dict) and "body_quoted_printable" in v.get("response", {}) for v in value
        )
    )


def _is_twitwi_pair(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"normalized", "source"}


def _interaction(
    path: str, carrier: str, number: int, interaction: Mapping[str, Any], source: Mapping[str, str]
) -> Iterator[Document]:
    response = interaction["response"]
    body = response["body"]["string"]
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    encoding = headers.get("content-encoding") or []
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    elif "deflate" in encoding and body:
        body = zlib.decompress(body)
    request = Request(
        interaction["request"]["method"],
        interaction["request"]["uri"],
        (response.get("status") or {}).get("code"),
    )
    if body.strip():
        yield _body(path, f"interaction {number}", carrier, body, request=request, source=source)


def _postman(
    path: str, items: list[Any], pointer: str, source: Mapping[str, str]
) -> Iterator[Document]:
    for number, item in enumerate(items):
        here = f"{pointer}/{number}"
        if "item" in item:
            yield from _postman(path, item["item"], f"{here}/item", source)
            continue
        for index, response in enumerate(item.get("response") or []):
            original = response.get("originalRequest") or {}
            url = original.get("url")
            uri = url.get("raw", "") if isinstance(url, dict) else str(url or "")
            request = Request(original.get("method", ""), uri, response.get("code"))
            body = (response.get("body") or "").encode("utf-8")
            if body.strip():
                yield _body(
                    path,
                    f"{here}/response/{index}",
                    "postman",
                    body,
                    request=request,
                    source=source,
                )


def _body(
    path: str,
    locator: str,
    carrier: str,
    body: bytes,
    *,
    request: Request,
    source: Mapping[str, str],
) -> Document:
    value, error = _parse(body)
    return Document(path, locator, carrier, body, value, error, request, source)


def _file(root: Path, file: Path, source: Mapping[str, str]) -> Iterator[Document]:
    path = file.relative_to(root).as_posix()
    raw = file.read_bytes()
    if file.suffix == ".yaml":
        cassette = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506  # a safe loader
        for number, interaction in enumerate(cassette["interactions"]):
            yield from _interaction(path, "vcr-yaml", number, interaction, source)
    else:
        yield from _whole_files(path, raw, source)


def documents(root: Path) -> Iterator[Document]:
    """Every payload document under ``root``, in file order."""
    with (root / "SOURCES.tsv").open(encoding="utf-8", newline="") as table:
        sources = {row["local_path"]: row for row in csv.DictReader(table, delimiter="\t")}
    for file in sorted(root.rglob("*")):
        if file.is_file() and file.name not in _NOT_PAYLOADS:
            yield from _file(root, file, sources.get(file.relative_to(root).as_posix(), {}))


@functools.cache
def load(root: Path) -> tuple[Document, ...]:
    """Every payload document under ``root``, read once per test session."""
    return tuple(documents(root))


def resolve(document: Any, pointer: str) -> Any:
    """The value at RFC 6901 ``pointer`` in ``document`` (``KeyError`` if there is none)."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    value = document
    for token in pointer[1:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, list):
            if not key.isdigit() or int(key) >= len(value):
                raise KeyError(pointer)
            value = value[int(key)]
        elif isinstance(value, dict):
            value = value[key]
        else:
            raise KeyError(pointer)
    return value

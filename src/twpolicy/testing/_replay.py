"""Replay recorded HTTP traffic to tweepy clients, and record every request they send.

A `ReplayTransport` answers requests from a VCR cassette (YAML or JSON, as vcrpy writes them;
bodies may be gzip-compressed, base64-encoded or, for aiohttp recordings, stored as decoded
JSON) or from a callable, and keeps every request it was asked, answered or not. It plugs into
the two HTTP stacks tweepy uses: a `requests` transport adapter mounted on a session (Client,
API, StreamingClient) and a stand-in for the ``aiohttp.ClientSession`` tweepy's asynchronous
clients use. Nothing leaves the process, so tests can assert that a refused call sent nothing.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs
import requests
import requests.adapters
import urllib3

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "Cassette",
    "Interaction",
    "RecordedResponse",
    "ReplayError",
    "ReplayTransport",
    "RespondingAdapter",
    "SentRequest",
]

_GZIP_MAGIC = b"\x1f\x8b"
_ERROR_STATUS = 400
# Describe the stored body, not the decoded one the transport serves.
_BODY_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class ReplayError(LookupError):
    """A request has no recorded response (or a cassette cannot be read)."""


def _as_bytes(body: Any) -> bytes | None:
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        data = body.encode("utf-8")
    elif isinstance(body, (bytearray, memoryview)):
        data = bytes(body)
    elif isinstance(body, (Mapping, list)):
        data = json.dumps(body).encode("utf-8")
    elif hasattr(body, "read"):  # a file-like body: read, as the wire would
        data = _as_bytes(body.read()) or b""
    elif isinstance(body, Iterable):  # a streamed body: its chunks, joined
        data = b"".join(_as_bytes(chunk) or b"" for chunk in body)
    else:
        data = str(body).encode("utf-8")
    return data


def _decoded(body: bytes) -> bytes:
    """A stored response body as the client sees it: gunzipped when it was stored gzipped."""
    if body.startswith(_GZIP_MAGIC):
        try:
            return gzip.decompress(body)
        except (OSError, EOFError):
            return body
    return body


def _stored_body(stored: Any) -> bytes:
    """The bytes of a cassette's ``body`` entry (``{"string": ...}``, base64, or raw)."""
    if isinstance(stored, Mapping):
        if "base64_string" in stored:
            return _decoded(base64.b64decode(stored["base64_string"]))
        stored = stored.get("string")
    data = _as_bytes(stored)
    return _decoded(data) if data is not None else b""


def _header_pairs(headers: Any) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for name, value in (headers or {}).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend((str(name), str(item)) for item in values)
    return tuple(pairs)


@attrs.frozen
class RecordedResponse:
    """A response to serve: status, reason, headers (in order, repeats allowed), body."""

    status: int
    reason: str = "OK"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def json(cls, document: Any, status: int = 200, reason: str = "OK") -> RecordedResponse:
        """A JSON response, for responders written by hand."""
        return cls(
            status,
            reason,
            (("content-type", "application/json; charset=utf-8"),),
            json.dumps(document).encode("utf-8"),
        )

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


@attrs.frozen
class SentRequest:
    """A request a client sent through the transport, as it would have gone on the wire."""

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    body: bytes | None = attrs.field(default=None, repr=False)

    @property
    def host(self) -> str:
        """The host the request was for."""
        return urlsplit(self.url).hostname or ""

    @property
    def path(self) -> str:
        """The URL path, without query string."""
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        """The query parameters, each with its values in order."""
        found: dict[str, list[str]] = {}
        for key, value in parse_qsl(urlsplit(self.url).query, keep_blank_values=True):
            found.setdefault(key, []).append(value)
        return found

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for no body)."""
        return None if not self.body else json.loads(self.body)


@attrs.frozen
class Interaction:
    """One recorded exchange: the request that was made and the response it got."""

    method: str
    uri: str
    response: RecordedResponse
    body: bytes | None = attrs.field(default=None, repr=False)

    @property
    def request(self) -> SentRequest:
        """The recorded request, in the shape of a sent one."""
        return SentRequest(self.method, self.uri, {}, self.body)


def _interaction(raw: Mapping[str, Any]) -> Interaction:
    request, response = raw["request"], raw["response"]
    status = response.get("status", {})
    headers = tuple(
        (name, value)
        for name, value in _header_pairs(response.get("headers"))
        if name.lower() not in _BODY_HEADERS
    )
    return Interaction(
        method=str(request["method"]).upper(),
        uri=str(request["uri"]),
        body=_as_bytes(request.get("body")),
        response=RecordedResponse(
            status=int(status.get("code", 200)),
            reason=str(status.get("message", "")),
            headers=headers,
            body=_stored_body(response.get("body")),
        ),
    )


@attrs.frozen
class Cassette:
    """The interactions of a recording, in the order they were made."""

    interactions: tuple[Interaction, ...]
    name: str = ""

    @classmethod
    def load(cls, path: str | Path) -> Cassette:
        """Read a vcrpy cassette: ``.json``, else YAML (needs PyYAML).

        Raises:
            ReplayError: the file cannot be read or is not a cassette.
        """
        path = Path(path)
        try:
            text = path.read_bytes()
            document = json.loads(text) if path.suffix == ".json" else _load_yaml(text)
            interactions = tuple(_interaction(raw) for raw in document["interactions"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReplayError(f"cannot read cassette {path}: {exc}") from exc
        return cls(interactions, path.name)


def _load_yaml(text: bytes) -> Any:
    try:
        import yaml  # noqa: PLC0415  # optional: only YAML cassettes need it
    except ImportError as exc:  # pragma: no cover  # PyYAML is a test dependency
        raise ReplayError("reading YAML cassettes needs PyYAML: pip install pyyaml") from exc
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506  # a safe loader
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from exc


def _canonical_body(body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)) or body


_MATCHERS: Mapping[str, Callable[[SentRequest, SentRequest], bool]] = {
    "method": lambda a, b: a.method.upper() == b.method.upper(),
    "host": lambda a, b: a.host == b.host,
    "path": lambda a, b: a.path == b.path,
    "query": lambda a, b: a.query == b.query,
    "body": lambda a, b: _canonical_body(a.body) == _canonical_body(b.body),
}

Responder = Callable[[SentRequest], "RecordedResponse | None"]


class ReplayTransport:
    """Answers requests from recorded interactions or a responder; records every request.

    Args:
        source: a `Cassette`, interactions, or a callable that returns the response for a
            `SentRequest` (``None`` for none).
        match_on: what a request must share with a recorded one: any of ``"method"``,
            ``"host"``, ``"path"``, ``"query"`` (order-insensitive) and ``"body"`` (JSON- or
            form-equal).
        repeat: whether a recorded interaction may answer more than once; by default each
            answers once, in recorded order, as vcrpy plays them.

    Attributes:
        requests: every request the transport was asked, in order, answered or not.
    """

    def __init__(
        self,
        source: Cassette | Iterable[Interaction] | Responder = (),
        *,
        match_on: Sequence[str] = ("method", "host", "path", "query"),
        repeat: bool = False,
    ) -> None:
        unknown = sorted(set(match_on) - set(_MATCHERS))
        if unknown:
            raise ValueError(f"unknown match_on {unknown}; known: {sorted(_MATCHERS)}")
        self._matchers = tuple(_MATCHERS[name] for name in match_on)
        self._responder: Responder | None = None
        self._interactions: tuple[Interaction, ...] = ()
        if callable(source):
            self._responder = source
        else:
            items = source.interactions if isinstance(source, Cassette) else source
            self._interactions = tuple(items)
        self._played = [False] * len(self._interactions)
        self._repeat = repeat
        self._lock = threading.Lock()
        self.requests: list[SentRequest] = []

    def __repr__(self) -> str:
        return (
            f"ReplayTransport({len(self._interactions)} interactions, "
            f"{len(self.requests)} requests seen)"
        )

    @property
    def unplayed(self) -> list[Interaction]:
        """The recorded interactions no request has used yet."""
        with self._lock:
            return [
                i for i, played in zip(self._interactions, self._played, strict=False) if not played
            ]

    def respond(self, request: SentRequest) -> RecordedResponse:
        """Record ``request`` and return its response.

        Raises:
            ReplayError: nothing answers the request.
        """
        with self._lock:
            self.requests.append(request)
            if self._responder is not None:
                found = self._responder(request)
                if found is not None:
                    return found
            else:
                index = self._match(request)
                if index is not None:
                    self._played[index] = True
                    return self._interactions[index].response
        raise ReplayError(f"no recorded response for {request.method} {request.url}")

    def _match(self, request: SentRequest) -> int | None:
        fallback = None
        for index, interaction in enumerate(self._interactions):
            recorded = interaction.request
            if all(match(request, recorded) for match in self._matchers):
                if not self._played[index]:
                    return index
                if self._repeat and fallback is None:
                    fallback = index
        return fallback

    def adapter(self) -> requests.adapters.HTTPAdapter:
        """A `requests` transport adapter that sends through this transport."""
        return RespondingAdapter(self.respond)

    def mount(self, session: requests.Session) -> requests.Session:
        """Send every ``http(s)://`` request of ``session`` through this transport."""
        adapter = self.adapter()
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def aiohttp_session(self) -> ReplaySession:
        """A stand-in for the ``aiohttp.ClientSession`` tweepy's async clients send through."""
        return ReplaySession(self)

    def install(self, client: Any) -> Any:
        """Route a tweepy client's requests through this transport; return the client.

        Sync clients (``requests`` sessions) get the adapter mounted; asynchronous clients get
        a `ReplaySession` as their ``session``.
        """
        session = getattr(client, "session", None)
        if isinstance(session, requests.Session):
            self.mount(session)
        else:
            client.session = self.aiohttp_session()
        return client


class RespondingAdapter(requests.adapters.HTTPAdapter):
    """A `requests` transport adapter that asks a function instead of the network.

    It hands ``respond`` each request as it would have gone on the wire (the body read
    whole, even a streamed one) and builds real, streamable `requests.Response` objects from
    the answers. Exceptions of ``respond`` propagate: a `requests.RequestException` refers
    to the request, as the network's would.
    """

    def __init__(self, respond: Callable[[SentRequest], RecordedResponse]) -> None:
        super().__init__()
        self._respond = respond

    def send(  # noqa: PLR0917  # requests' adapter signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,  # noqa: FBT001, FBT002, ARG002  # requests' signature
        timeout: Any = None,  # noqa: ARG002  # requests' signature
        verify: Any = True,  # noqa: FBT002, ARG002  # requests' signature
        cert: Any = None,  # noqa: ARG002  # requests' signature
        proxies: Any = None,  # noqa: ARG002  # requests' signature
    ) -> requests.Response:
        sent = SentRequest(
            method=str(request.method),
            url=str(request.url),
            headers={
                str(k): v.decode("latin-1") if isinstance(v, bytes) else str(v)
                for k, v in request.headers.items()
            },
            body=_as_bytes(request.body),
        )
        try:
            answer = self._respond(sent)
        except requests.RequestException as exc:
            exc.request = exc.request or request
            raise
        headers = urllib3.HTTPHeaderDict()
        for name, value in answer.headers:
            headers.add(name, value)
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(answer.body),
            headers=headers,
            status=answer.status,
            reason=answer.reason,
            preload_content=False,
            decode_content=False,
            request_method=sent.method,
            request_url=sent.url,
        )
        return self.build_response(request, raw)


class ReplaySession:
    """The part of ``aiohttp.ClientSession`` tweepy's asynchronous clients and streams use."""

    def __init__(self, transport: ReplayTransport) -> None:
        self._transport = transport
        self.headers: dict[str, str] = {}
        self.closed = False

    def request(
        self,
        method: str,
        url: Any,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,  # aiohttp's parameter name
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,  # noqa: ARG002  # proxy=, timeout=...: nothing to do offline
    ) -> _RequestContext:
        """Send a request; use as ``async with session.request(...) as response``."""
        import yarl  # noqa: PLC0415  # an aiohttp dependency, present when this is used

        target = url if isinstance(url, yarl.URL) else yarl.URL(str(url))
        if params:
            target = target.extend_query({k: str(v) for k, v in params.items()})
        if json is not None:
            body: bytes | None = _json_dumps(json)
        elif isinstance(data, Mapping):
            body = urlencode(data).encode("utf-8")
        else:
            body = _as_bytes(data)
        sent = SentRequest(
            method=method.upper(),
            url=str(target),
            headers={**self.headers, **(headers or {})},
            body=body,
        )
        return _RequestContext(sent, self._transport)

    async def close(self) -> None:
        """Mark the session closed (tweepy's streams close theirs when they stop)."""
        self.closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _json_dumps(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


class _RequestContext:
    def __init__(self, sent: SentRequest, transport: ReplayTransport) -> None:
        self._sent = sent
        self._transport = transport

    async def __aenter__(self) -> ReplayResponse:
        import asyncio  # noqa: PLC0415  # only the async path needs it

        # Yield to the loop as real I/O would, so cancellation (a stream's disconnect) lands.
        await asyncio.sleep(0)
        return ReplayResponse(self._sent, self._transport.respond(self._sent))

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __await__(self) -> Iterator[Any]:
        return self.__aenter__().__await__()


class ReplayResponse:
    """The part of ``aiohttp.ClientResponse`` tweepy reads: status, headers, body, lines."""

    def __init__(self, sent: SentRequest, answer: RecordedResponse) -> None:
        import yarl  # noqa: PLC0415  # an aiohttp dependency
        from multidict import CIMultiDict, CIMultiDictProxy  # noqa: PLC0415  # aiohttp's

        self.method = sent.method
        self.url = yarl.URL(sent.url, encoded=True)
        self.status = answer.status
        self.reason = answer.reason
        self.headers = CIMultiDictProxy(CIMultiDict(answer.headers))
        self._body = answer.body

    def __repr__(self) -> str:
        return f"<ReplayResponse({self.url}) [{self.status} {self.reason}]>"

    @property
    def ok(self) -> bool:
        """Whether the status is below 400."""
        return self.status < _ERROR_STATUS

    @property
    def content_type(self) -> str:
        """The media type of the body."""
        return (self.headers.get("content-type") or "application/octet-stream").split(";")[0]

    @property
    def content(self) -> _Lines:
        """The body as a stream of lines (``async for line in response.content``)."""
        return _Lines(self._body)

    async def read(self) -> bytes:
        """The body."""
        return self._body

    async def text(self, encoding: str = "utf-8") -> str:
        """The body as text."""
        return self._body.decode(encoding, "replace")

    async def json(self, **kwargs: Any) -> Any:  # noqa: ARG002  # aiohttp's signature
        """The body parsed as JSON; ``None`` when empty, as aiohttp does."""
        stripped = self._body.strip()
        return json.loads(stripped) if stripped else None

    def release(self) -> None:
        """Nothing to release: the body is in memory."""

    def close(self) -> None:
        """Nothing to close: the body is in memory."""

    def raise_for_status(self) -> None:
        """Raise `ReplayError` for a status of 400 or more, as aiohttp raises its own."""
        if not self.ok:
            raise ReplayError(f"{self.status} {self.reason} for {self.method} {self.url}")


class _Lines:
    def __init__(self, body: bytes) -> None:
        self._lines = body.splitlines(keepends=True)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        for line in self._lines:
            yield line

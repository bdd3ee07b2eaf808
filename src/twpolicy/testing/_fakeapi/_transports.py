"""How clients reach the fake X API: transports below tweepy, so nothing but the network is fake.

`install` gives a `tweepy.Client` or `tweepy.API` a requests transport adapter (the one
replayed cassettes use too), and a `tweepy.asynchronous.AsyncClient` an aiohttp session whose
connector talks HTTP/1.1 to the fake over a local socket pair. Both hand each request to a
`Handle` (`FakeXAPI.handle`) and refuse any host other than X's, so a test never reaches the
network.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
import inspect
import socket
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, TypeVar

import requests

from twpolicy.exceptions import ConfigurationError
from twpolicy.testing._replay import RecordedResponse, RespondingAdapter, SentRequest

#: Answers one request (method, URL, headers, body) with (status, headers, body).
Handle: TypeAlias = Callable[
    [str, str, Mapping[str, str], bytes], tuple[int, dict[str, str], bytes]
]
_Client = TypeVar("_Client")

#: The hosts the fake answers for; any other host is refused by the transports.
HOSTS = frozenset(
    {
        "api.twitter.com",
        "upload.twitter.com",
        "api.x.com",
        "upload.x.com",
        "storage.googleapis.com",  # the signed URLs of batch compliance jobs
    }
)


def install(handle: Handle, client: _Client) -> _Client:
    """Connect ``client`` (a tweepy or twpolicy client) to ``handle``; return it."""
    session = getattr(client, "session", None)
    if isinstance(session, requests.Session):
        adapter = RespondingAdapter(functools.partial(_respond, handle))
        session.mount("https://", adapter)
        session.mount("http://", adapter)
    elif inspect.iscoroutinefunction(getattr(client, "request", None)):
        client.session = _AiohttpSession(handle)  # type: ignore[attr-defined]  # tweepy's AsyncClient
    else:
        raise ConfigurationError(
            f"cannot install the fake X API on {type(client).__name__}: expected a "
            "tweepy.Client, tweepy.API or tweepy.asynchronous.AsyncClient"
        )
    return client


def _refusal(url: str) -> str:
    host = urllib.parse.urlsplit(url).hostname
    return (
        f"twpolicy's fake X API does not answer {host!r} ({url}): tests that use it never "
        f"reach the network. It answers for {', '.join(sorted(HOSTS))}."
    )


def _respond(handle: Handle, sent: SentRequest) -> RecordedResponse:
    """Answer a request a requests session sent, refusing any host but X's."""
    if urllib.parse.urlsplit(sent.url).hostname not in HOSTS:
        raise requests.ConnectionError(_refusal(sent.url))
    status, headers, data = handle(sent.method, sent.url, sent.headers, sent.body or b"")
    return RecordedResponse(status, http.HTTPStatus(status).phrase, tuple(headers.items()), data)


class _AiohttpSession:
    """Stands in for the `aiohttp.ClientSession` of a tweepy `AsyncClient`.

    Each request runs through a real `aiohttp.ClientSession` whose connector talks to the fake
    over a local socket pair, made inside the running event loop and closed after the
    response is read, as tweepy does when it has no session of its own.
    """

    def __init__(self, handle: Handle) -> None:
        self._handle = handle

    def request(self, method: str, url: Any, **kwargs: Any) -> _AiohttpRequest:
        """Start ``method url``: use as ``async with session.request(...) as response``."""
        return _AiohttpRequest(self._handle, method, url, kwargs)

    async def close(self) -> None:
        """Nothing to close: every request has its own session."""


class _AiohttpRequest:
    def __init__(self, handle: Handle, method: str, url: Any, kwargs: Mapping[str, Any]) -> None:
        self._handle, self._method, self._url, self._kwargs = handle, method, url, kwargs
        self._session: Any = None
        self._context: Any = None

    async def __aenter__(self) -> Any:
        import aiohttp  # noqa: PLC0415  # aiohttp is optional (the async extra)

        self._session = aiohttp.ClientSession(connector=_connector_class()(self._handle))
        self._context = self._session.request(self._method, self._url, **self._kwargs)
        try:
            return await self._context.__aenter__()
        except BaseException:
            await self._session.close()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._context.__aexit__(*exc_info)
        finally:
            await self._session.close()


@functools.cache
def _connector_class() -> type[Any]:
    """The aiohttp connector class, built on first use so aiohttp stays optional."""
    import aiohttp  # noqa: PLC0415  # optional dependency

    class FakeConnector(aiohttp.BaseConnector):
        """Connects every request to the fake over a socket pair: no network, real HTTP."""

        def __init__(self, handle: Handle) -> None:
            super().__init__(force_close=True)
            self._handle = handle
            self._serving: set[asyncio.Task[None]] = set()

        async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ARG002  # aiohttp's signature
            if req.url.host not in HOSTS:
                raise aiohttp.ClientConnectionError(_refusal(str(req.url)))
            ours, theirs = socket.socketpair()
            task = asyncio.get_running_loop().create_task(_serve(self._handle, theirs))
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)
            _, protocol = await asyncio.get_running_loop().create_connection(
                self._factory, sock=ours
            )
            return protocol

        def close(self, **kwargs: Any) -> Any:
            return self._finish(super().close(**kwargs))

        async def _finish(self, closing: Any) -> None:
            if closing is not None:
                await closing
            await asyncio.gather(*self._serving, return_exceptions=True)

    return FakeConnector


async def _serve(handle: Handle, sock: socket.socket) -> None:
    """Answer the one HTTP/1.1 request that arrives on ``sock`` from the fake."""
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.rstrip("\r\n").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = dict(line.split(":", 1) for line in lines if ":" in line)
        headers = {key.strip().lower(): value.strip() for key, value in headers.items()}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                body += await reader.readexactly(size + 2)
                body = body[:-2]
            await reader.readuntil(b"\r\n")
        else:
            body = await reader.readexactly(int(headers.get("content-length", "0")))
        url = f"https://{headers.get('host', 'api.twitter.com')}{target}"
        status, response_headers, data = handle(method, url, headers, body)
        lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}"]
        lines += [f"{key}: {value}" for key, value in response_headers.items()]
        lines += [f"content-length: {len(data)}", "connection: close", "", ""]
        writer.write("\r\n".join(lines).encode("latin-1") + data)
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client went away before sending a whole request: nothing to answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

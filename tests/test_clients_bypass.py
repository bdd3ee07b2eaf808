"""Nothing a guarded client's guard did not allow reaches the wire, whichever way it is sent.

Every guarded client is checked at its HTTP session, the lowest point each of its sends
passes: tweepy's base ``request`` called on the guarded instance, the session used directly,
a subclass's override, a replaced session, an extra mounted adapter, a copied client, a thread
or a task started while the client has a request on the wire. A write without consent and a
route the catalog does not know never reach the transport; a read, and a consented write, do
(so each way of sending really sends).
"""

import asyncio
import contextvars
import copy
import pickle
import threading
from typing import ClassVar

import aiohttp
import oauthlib.oauth1
import pytest
import requests
import tweepy
import tweepy.asynchronous
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from requests_oauthlib import OAuth1
from tweepy.asynchronous.client import AsyncBaseClient
from tweepy.client import BaseClient

import twpolicy
from twpolicy.testing import DecisionRecorder
from twpolicy.testing._replay import RecordedResponse, ReplayTransport, RespondingAdapter

USER = "2244994945"
TOKEN = f"{USER}-token"
BEARER = "bearer"
V2_HOST = "https://api.twitter.com"
ME = {"data": {"id": USER, "username": "u", "name": "n"}}
TWEET = {"data": {"id": "20", "text": "x", "edit_history_tweet_ids": ["20"]}}
STATUS = {"id": 20, "id_str": "20", "text": "x", "user": {"id": 1, "id_str": "1"}}

#: route kind -> (method, v2 route, JSON body)
V2 = {
    "write": ("POST", "/2/tweets", {"text": "hi"}),
    "delete": ("DELETE", "/2/tweets/1445880548472328192", None),
    "unknown": ("POST", "/2/made/up", {"x": 1}),
    "read": ("GET", f"/2/users/{USER}", None),
}
#: route kind -> (method, v1.1 endpoint, parameters)
V1 = {
    "write": ("POST", "statuses/update", {"status": "hi"}),
    "delete": ("POST", "statuses/destroy/1445880548472328192", {}),
    "unknown": ("GET", "made/up", {"x": "1"}),
    "read": ("GET", "users/show", {"user_id": "1"}),
}
#: The read the client has on the wire while a thread or task is started (not an attack).
HOST_READ = {"v2": ("GET", "/2/tweets/20"), "v1": ("GET", "/1.1/statuses/show.json")}
KINDS = ["Client", "AsyncClient", "StreamingClient", "API"]
WAYS = [
    "base",
    "session",
    "session_verb",
    "subclass",
    "replaced",
    "mounted",
    "copied",
    "thread",
    "task",
]


class Wire:
    """The transport's record of what reached it, and the hook run during the host read."""

    def __init__(self):
        self.sent = []
        self.during = None

    def answer(self, request):
        path = request.path
        self.sent.append((request.method, path))
        if path == "/2/users/me":
            return RecordedResponse.json(ME)
        if path.startswith("/1.1/"):
            return RecordedResponse.json(STATUS)
        if request.method == "POST":
            return RecordedResponse.json({"data": {"id": "1", "text": "hi"}}, 201, "Created")
        return RecordedResponse.json(TWEET)

    def count(self, method, path):
        return sum(1 for sent in self.sent if sent == (method, path))


class HookedAdapter(RespondingAdapter):
    """A transport adapter that runs ``wire.during`` inside the host read's send."""

    def __init__(self, transport, wire):
        super().__init__(transport.respond)
        self._wire = wire

    def send(self, request, *args, **kwargs):
        path = request.path_url.partition("?")[0]
        if (request.method, path) in {HOST_READ["v2"], HOST_READ["v1"]}:
            hook, self._wire.during = self._wire.during, None
            if hook is not None:
                hook()
        return super().send(request, *args, **kwargs)


def mount(session, transport, wire):
    adapter = HookedAdapter(transport, wire)
    session.mount("https://", adapter)
    return session


class HookedAio:
    """An aiohttp stand-in that awaits ``wire.during_async`` inside the host read's send."""

    def __init__(self, transport, wire):
        self._inner = transport.aiohttp_session()
        self._wire = wire
        self.headers = {}
        self.closed = False

    def request(self, method, url, **kwargs):
        return _HookedRequest(self._inner.request(method, url, **kwargs), self._wire, url)

    async def close(self):
        self.closed = True


class _HookedRequest:
    #: The URL (without query) whose send runs the hook.
    trigger = V2_HOST + HOST_READ["v2"][1]

    def __init__(self, inner, wire, url):
        self._inner, self._wire, self._url = inner, wire, str(url)

    async def __aenter__(self):
        hook = getattr(self._wire, "during_async", None)
        if hook is not None and self._url.partition("?")[0] == self.trigger:
            self._wire.during_async = None
            await hook()
        return await self._inner.__aenter__()

    async def __aexit__(self, *exc):
        return await self._inner.__aexit__(*exc)


def make_guard(*, consented):
    guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[DecisionRecorder()])
    if consented:
        guard.consent.grant(USER, ["tweet.write"], notice="n", method="ui_explicit", evidence="e")
    return guard


def build(kind, guard, cls=None):
    """A guarded client of ``kind`` on a fresh wire; returns (client, wire, transport)."""
    wire = Wire()
    transport = ReplayTransport(wire.answer)
    if kind == "API":
        auth = tweepy.OAuth1UserHandler("key", "secret", TOKEN, "ts")
        client = (cls or twpolicy.API)(auth, guard=guard)
    elif kind == "StreamingClient":
        client = (cls or twpolicy.StreamingClient)(BEARER, guard=guard)
    else:
        client = (cls or getattr(twpolicy, kind))(BEARER, "key", "secret", TOKEN, "ts", guard=guard)
    if kind == "AsyncClient":
        client.session = HookedAio(transport, wire)
    else:
        mount(client.session, transport, wire)
    return client, wire, transport


def target(kind, route):
    """(method, path on the wire) of ``route`` for a client of ``kind``."""
    if kind == "API":
        method, endpoint, _ = V1[route]
        return method, f"/1.1/{endpoint}.json"
    method, path, _ = V2[route]
    return method, path


def base_call(kind, client, route):
    """Call tweepy's own request on the guarded instance (an awaitable for async)."""
    if kind == "API":
        method, endpoint, params = V1[route]
        return tweepy.API.request(client, method, endpoint, params=dict(params))
    method, path, body = V2[route]
    if kind == "AsyncClient":
        return AsyncBaseClient.request(client, method, path, {}, body, True)
    user_auth = kind == "Client"
    return BaseClient.request(client, method, path, None, body, user_auth)


def session_call(kind, client, route, *, verb):
    """Send through ``client.session`` with the client's own credentials."""
    method, path = target(kind, route)
    url = V2_HOST + path
    if kind == "API":
        params, body = V1[route][2], None
    else:
        params, body = None, V2[route][2]
    kwargs = {"params": params, "json": body}
    if kind in {"Client", "API"}:
        kwargs["auth"] = OAuth1("key", "secret", TOKEN, "ts")
    elif kind == "AsyncClient":
        # Signed as tweepy signs (no lookup of the token's owner: one event loop per run).
        _, headers, _ = oauthlib.oauth1.Client("key", "secret", TOKEN, "ts").sign(url, method)
        kwargs["headers"] = headers
    else:
        kwargs["headers"] = {"Authorization": f"Bearer {BEARER}"}
    session = client.session
    if verb:
        return getattr(session, method.lower())(url, **kwargs)
    return session.request(method, url, **kwargs)


def subclass_of(kind):
    """A subclass whose request skips twpolicy's override, calling tweepy's directly."""
    base = getattr(twpolicy, kind)
    if kind == "API":

        class Sub(base):
            def request(self, method, endpoint, **kwargs):
                return tweepy.API.request(self, method, endpoint, **kwargs)

    elif kind == "AsyncClient":

        class Sub(base):
            async def request(self, *args, **kwargs):
                return await AsyncBaseClient.request(self, *args, **kwargs)

    else:

        class Sub(base):
            def request(self, *args, **kwargs):
                return BaseClient.request(self, *args, **kwargs)

    return Sub


def run(result):
    """Run a call, awaiting it if it is a coroutine; swallow what it raises."""
    try:
        if asyncio.iscoroutine(result):
            return asyncio.run(result)
    except Exception:  # noqa: BLE001  # refusals and parse errors alike: the wire tells
        return None
    return result


def attempt(call):
    try:
        return run(call())
    except Exception:  # noqa: BLE001  # ditto
        return None


def host_read(kind, client):
    """An allowed read through the guarded client (its send is where hooks run)."""
    if kind == "API":
        return client.request("GET", "statuses/show", params={"id": "20"})
    return client.request("GET", HOST_READ["v2"][1], None, None, False)


def send_way(kind, way, route, guard, *, verb):  # noqa: C901, PLR0912, PLR0915  # one branch per way
    """Send ``route`` the ``way`` named; return the wire."""
    if way == "subclass":
        client, wire, _ = build(kind, guard, subclass_of(kind))
        attempt(lambda: client.request(*_request_args(kind, route)))
        return wire
    client, wire, transport = build(kind, guard)
    if way == "base":
        attempt(lambda: base_call(kind, client, route))
    elif way in {"session", "session_verb"}:
        if kind == "AsyncClient":

            async def through_session():
                async with session_call(kind, client, route, verb=verb) as response:
                    await response.read()

            attempt(through_session)
        else:
            attempt(lambda: session_call(kind, client, route, verb=verb))
    elif way == "replaced":
        if kind == "AsyncClient":
            client.session = HookedAio(transport, wire)
        else:
            client.session = mount(requests.Session(), transport, wire)
        attempt(lambda: base_call(kind, client, route))
    elif way == "mounted":
        if kind != "AsyncClient":
            client.session.mount(f"{V2_HOST}/", RespondingAdapter(transport.respond))
        attempt(lambda: base_call(kind, client, route))
    elif way == "copied":
        twin = copy.copy(client)
        attempt(lambda: base_call(kind, twin, route))
    elif way == "thread":

        def in_thread():
            attempt(lambda: base_call(kind, client, route))

        def during():
            worker = threading.Thread(target=contextvars.copy_context().run, args=(in_thread,))
            worker.start()
            worker.join()

        if kind == "AsyncClient":

            async def during_async():
                await asyncio.to_thread(in_thread)

            wire.during_async = during_async
        else:
            wire.during = during
        attempt(lambda: host_read(kind, client))
    elif way == "task":
        if kind == "AsyncClient":

            async def during_async():
                await asyncio.get_running_loop().create_task(
                    _swallow(base_call(kind, client, route))
                )

            wire.during_async = during_async
            attempt(lambda: host_read(kind, client))
        else:
            # A synchronous client inside a coroutine: a task started during its send.
            async def scenario():
                async def attack():
                    attempt(lambda: base_call(kind, client, route))

                tasks = []

                def during():
                    tasks.append(asyncio.get_running_loop().create_task(attack()))

                wire.during = during
                attempt(lambda: host_read(kind, client))
                await asyncio.gather(*tasks)

            asyncio.run(scenario())
    return wire


async def _swallow(awaitable):
    try:
        await awaitable
    except Exception:  # noqa: BLE001  # the wire tells
        return


def _request_args(kind, route):
    if kind == "API":
        method, endpoint, _ = V1[route]
        return (method, endpoint)
    method, path, body = V2[route]
    if kind == "AsyncClient":
        return (method, path, {}, body, True)
    return (method, path, None, body, kind == "Client")


def expected(route, *, consented):
    """How many times ``route`` may reach the wire: once if the guard allows it, else never."""
    if route == "read":
        return 1
    if route == "unknown":
        return 0
    return 1 if consented else 0


@pytest.fixture(autouse=True)
def _default_guard():
    """No test here falls back on the default guard."""
    twpolicy.set_default_guard(make_guard(consented=False))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(KINDS),
    way=st.sampled_from(WAYS),
    route=st.sampled_from(["write", "delete", "unknown", "read"]),
    consented=st.booleans(),
    verb=st.booleans(),
)
def test_the_wire_carries_only_what_the_guard_allowed(kind, way, route, consented, verb):
    """Whichever way a guarded client sends, a route reaches the wire only if it is allowed."""
    wire = send_way(kind, way, route, make_guard(consented=consented), verb=verb)
    method, path = target(kind, route)
    assert expected(route, consented=consented) == wire.count(method, path)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("way", WAYS)
def test_no_unconsented_write_on_the_wire(kind, way):
    """A write without consent never reaches the wire, whichever way it is sent."""
    wire = send_way(kind, way, "write", make_guard(consented=False), verb=False)
    assert 0 == wire.count(*target(kind, "write"))


class TestTheLeadsInstances:
    """The ways around the client's override found with ``import twpolicy`` alone."""

    def client(self):
        client, wire, _ = build("Client", make_guard(consented=False))
        return client, wire

    def test_tweepy_base_request(self):
        """tweepy.Client.request on the guarded instance is decided: ConsentRequired."""
        client, wire = self.client()
        with pytest.raises(twpolicy.ConsentRequired):
            tweepy.Client.request(client, "POST", "/2/tweets", None, {"text": "hi"}, True)
        assert [] == wire.sent

    def test_session_post_with_the_clients_credentials(self):
        """client.session.post with the client's own credentials is planned like request."""
        client, wire = self.client()
        with pytest.raises(twpolicy.ConsentRequired):
            client.session.post(
                f"{V2_HOST}/2/tweets",
                json={"text": "hi"},
                auth=OAuth1("key", "secret", TOKEN, "ts"),
            )
        assert [] == wire.sent

    def test_session_request_without_credentials(self):
        """A request through the session without the client's credentials is refused."""
        client, wire = self.client()
        with pytest.raises(twpolicy.UnplannedRequest, match=r"I\.C\.1\.a") as refused:
            client.session.request("POST", f"{V2_HOST}/2/tweets", json={"text": "hi"})
        assert "foreign_credentials" == refused.value.decision.reason
        assert "client.request(method, route" in refused.value.decision.remediation
        assert [] == wire.sent

    def test_v1_base_request(self):
        """tweepy.API.request on the guarded instance sends nothing without consent."""
        api, wire, _ = build("API", make_guard(consented=False))
        with pytest.raises(tweepy.TweepyException, match="no_consent_record"):
            tweepy.API.request(
                api, "POST", "statuses/update", endpoint_parameters=("status",), status="hi"
            )
        assert [] == wire.sent

    def test_v1_session(self):
        """api.session.request with the API's own OAuth 1.0a credentials is decided."""
        api, wire, _ = build("API", make_guard(consented=False))
        with pytest.raises(twpolicy.ConsentRequired):
            api.session.request(
                "POST",
                "https://api.twitter.com/1.1/statuses/update.json",
                params={"status": "hi"},
                auth=api.auth.apply_auth(),
            )
        assert [] == wire.sent

    def test_consented_session_post_goes_out_once_and_spends(self):
        """With consent, client.session.post goes out exactly like client.request would."""
        guard = make_guard(consented=True)
        client, wire, _ = build("Client", guard)
        response = client.session.post(
            f"{V2_HOST}/2/tweets", json={"text": "hi"}, auth=OAuth1("key", "secret", TOKEN, "ts")
        )
        assert 201 == response.status_code
        assert [("POST", "/2/tweets")] == wire.sent


class TestSessionProperty:
    def test_an_assigned_session_is_guarded_in_place(self):
        """The application's own reference to an assigned session is guarded too."""
        client, wire, transport = build("Client", make_guard(consented=False))
        mine = transport.mount(requests.Session())
        client.session = mine
        assert mine is client.session
        assert isinstance(mine, requests.Session)
        with pytest.raises(twpolicy.ConsentRequired):
            mine.post(
                f"{V2_HOST}/2/tweets",
                json={"text": "hi"},
                auth=OAuth1("key", "secret", TOKEN, "ts"),
            )
        assert [] == wire.sent

    def test_a_session_subclass_is_guarded(self):
        """A requests.Session subclass keeps its own behaviour and gains the check."""

        class Mine(requests.Session):
            def marker(self):
                return "mine"

        client, wire, transport = build("Client", make_guard(consented=False))
        client.session = transport.mount(Mine())
        assert "mine" == client.session.marker()
        with pytest.raises(twpolicy.ConsentRequired):
            BaseClient.request(client, "POST", "/2/tweets", None, {"text": "hi"}, True)
        assert [] == wire.sent

    def test_anything_but_a_session_is_refused(self):
        """Assigning something that is not a requests.Session raises ConfigurationError."""
        client, _, _ = build("Client", make_guard(consented=False))
        with pytest.raises(twpolicy.ConfigurationError, match=r"requests\.Session"):
            client.session = object()

    def test_a_copied_session_belongs_to_no_client(self):
        """A session copied (or unpickled) off a client stays guarded and sends nothing to X."""
        client, wire, _ = build("Client", make_guard(consented=False))
        pickled = pickle.loads(pickle.dumps(client.session))  # noqa: S301  # our own bytes
        for twin in (copy.copy(client.session), pickled):
            with pytest.raises(twpolicy.ConfigurationError, match="belongs to none"):
                twin.get(f"{V2_HOST}/2/tweets/20")
        assert [] == wire.sent

    def test_credentials_to_another_host_are_refused(self):
        """Credentials go to the X API only; without any, another host is reached as asked."""
        client, wire, _ = build("Client", make_guard(consented=False))
        for kwargs in (
            {"auth": OAuth1("key", "secret", TOKEN, "ts")},
            {"headers": {"Cookie": "auth_token=1"}},
            {"headers": {"Authorization": f"Bearer {BEARER}"}},
        ):
            with pytest.raises(twpolicy.UnplannedRequest) as refused:
                client.session.post("https://104.244.42.1/2/tweets", json={"t": 1}, **kwargs)
            assert "not_x_api" == refused.value.decision.reason
        assert [] == wire.sent
        client.session.put("https://storage.example/upload?signature=x", data=b"1\n2")
        assert [("PUT", "/upload")] == wire.sent

    def test_the_other_api_version_is_refused(self):
        """A v1.1 request through a v2 client's session (and back) is refused."""
        client, _, _ = build("Client", make_guard(consented=False))
        with pytest.raises(twpolicy.UnplannedRequest, match="other_api_version"):
            client.session.get(
                f"{V2_HOST}/1.1/statuses/show.json", headers={"Authorization": f"Bearer {BEARER}"}
            )
        api, _, _ = build("API", make_guard(consented=False))
        with pytest.raises(twpolicy.UnplannedRequest, match="other_api_version"):
            api.session.get(f"{V2_HOST}/2/tweets/20", auth=api.auth.apply_auth())

    @pytest.mark.parametrize(
        ("kwargs", "reason"),
        [
            ({"data": b"\x00not json"}, "unreadable_body"),
            ({"files": {"media": b"x"}}, "unreadable_body"),
        ],
    )
    def test_an_unreadable_body_is_refused(self, kwargs, reason):
        """A body twpolicy cannot read before it is sent is refused."""
        client, wire, _ = build("Client", make_guard(consented=True))
        with pytest.raises(twpolicy.UnplannedRequest, match=reason):
            client.session.post(
                f"{V2_HOST}/2/tweets", auth=OAuth1("key", "secret", TOKEN, "ts"), **kwargs
            )
        assert [] == wire.sent

    def test_a_failed_answer_gives_the_consent_back(self):
        """An error status through the session gives a single-use consent back."""
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"))
        body = {"text": "once"}
        guard.consent.grant(
            USER,
            ["tweet.write"],
            notice="n",
            method="ui_explicit",
            evidence="e",
            content_sha256=twpolicy.content_sha256(body),
        )
        answers = iter([RecordedResponse.json({"title": "x"}, 503, "Unavailable")])
        transport = ReplayTransport(
            lambda r: next(answers, RecordedResponse.json({"data": {"id": "1"}}, 201, "Created"))
        )
        client = transport.install(
            twpolicy.Client(BEARER, "key", "secret", TOKEN, "ts", guard=guard)
        )
        auth = OAuth1("key", "secret", TOKEN, "ts")
        assert 503 == client.session.post(f"{V2_HOST}/2/tweets", json=body, auth=auth).status_code
        assert 201 == client.session.post(f"{V2_HOST}/2/tweets", json=body, auth=auth).status_code
        with pytest.raises(twpolicy.ConsentRequired, match="single_use_consent_spent"):
            client.session.post(f"{V2_HOST}/2/tweets", json=body, auth=auth)

    def test_a_subclass_may_not_replace_the_session(self):
        """A subclass defining its own ``session`` attribute is refused at class creation."""
        with pytest.raises(TypeError, match="session"):

            class Sub(twpolicy.Client):
                session = requests.Session()


class TestStreams:
    def stream(self, guard):
        lines = b'{"data": {"id": "1", "text": "one", "edit_history_tweet_ids": ["1"]}}\r\n'
        wire = Wire()

        def answer(request):
            if request.path.endswith("/stream"):
                wire.sent.append((request.method, request.path))
                return RecordedResponse(200, "OK", (("content-type", "application/json"),), lines)
            return wire.answer(request)

        transport = ReplayTransport(answer)
        return transport, wire

    def test_a_callback_cannot_send_under_the_streams_scope(self):
        """on_tweet posting through the session is decided on its own: no consent, not sent."""
        transport, wire = self.stream(None)
        refused = []

        class Listener(twpolicy.StreamingClient):
            def on_tweet(self, tweet):
                try:
                    self.session.post(f"{V2_HOST}/2/tweets", json={"text": "hi"})
                except twpolicy.PolicyViolation as exc:
                    refused.append(exc)
                self.disconnect()

        client = transport.install(Listener(BEARER, guard=make_guard(consented=False)))
        client.filter()
        assert 1 == len(refused)
        assert 0 == wire.count("POST", "/2/tweets")
        assert 1 == wire.count("GET", "/2/tweets/search/stream")

    def test_tweepys_connect_called_directly_is_decided(self):
        """tweepy's _connect on a guarded streaming client decides the connection."""
        transport, wire = self.stream(None)
        recorder = DecisionRecorder()
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[recorder])

        class Listener(twpolicy.StreamingClient):
            def on_tweet(self, tweet):
                self.disconnect()

        client = transport.install(Listener(BEARER, guard=guard))
        tweepy.StreamingClient._connect(client, "GET", "sample")  # the way around
        assert 1 == wire.count("GET", "/2/tweets/sample/stream")
        assert ["GET /2/tweets/sample/stream"] == [d.operation for d in recorder.decisions]


def single_use_guard(body):
    guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"))
    guard.consent.grant(
        USER,
        ["tweet.write"],
        notice="n",
        method="ui_explicit",
        evidence="e",
        content_sha256=twpolicy.content_sha256(body),
    )
    return guard


class TestScopeStaysWithItsSender:
    """The scope of a request on the wire covers that request, in its own thread or task."""

    BODY: ClassVar[dict[str, str]] = {"text": "only once"}

    def test_a_thread_started_during_a_send_does_not_inherit_it(self):
        """The same post from a thread started (with the context) during the send is decided."""
        client, wire, transport = build("Client", single_use_guard(self.BODY))
        refused = []

        def again():
            try:
                client.session.post(
                    f"{V2_HOST}/2/tweets", json=self.BODY, auth=OAuth1("key", "secret", TOKEN, "ts")
                )
            except twpolicy.ConsentRequired as exc:
                refused.append(exc.decision.reason)

        started = []

        class During(RespondingAdapter):
            def send(self, request, *args, **kwargs):
                if request.method == "POST" and not started:
                    started.append(True)
                    worker = threading.Thread(target=contextvars.copy_context().run, args=(again,))
                    worker.start()
                    worker.join()
                return super().send(request, *args, **kwargs)

        client.session.mount("https://", During(transport.respond))
        client.create_tweet(text="only once")
        assert ["single_use_consent_taken"] == refused
        assert 1 == wire.count("POST", "/2/tweets")

    def test_a_task_spawned_during_a_send_does_not_inherit_it(self):
        """The same post from a task created during an async send is decided on its own."""
        client, wire, transport = build("AsyncClient", single_use_guard(self.BODY))
        refused = []

        async def again():
            try:
                await AsyncBaseClient.request(client, "POST", "/2/tweets", {}, self.BODY, True)
            except twpolicy.ConsentRequired as exc:
                refused.append(exc.decision.reason)

        started = []

        async def during():
            await asyncio.get_running_loop().create_task(again())

        class During(HookedAio):
            def request(self, method, url, **kwargs):
                self._wire.during_async = None if started else during
                started.append(True)
                return _HookedRequest(self._inner.request(method, url, **kwargs), self._wire, url)

        async def post():
            await client.create_tweet(text="only once")

        client.session = During(transport, wire)
        HOST = V2_HOST + "/2/tweets"  # noqa: N806  # the hook's trigger
        _HookedRequest.trigger = HOST
        try:
            asyncio.run(post())
        finally:
            del _HookedRequest.trigger
        assert ["single_use_consent_taken"] == refused
        assert 1 == wire.count("POST", "/2/tweets")


class TestReadingTheWire:
    def test_a_v1_form_body_is_read(self):
        """A v1.1 form body is read as parameters: a status in it needs consent."""
        api, wire, _ = build("API", make_guard(consented=False))
        with pytest.raises(twpolicy.ConsentRequired):
            api.session.post(
                "https://api.twitter.com/1.1/statuses/update.json",
                data={"status": "hi"},
                auth=api.auth.apply_auth(),
            )
        assert [] == wire.sent

    def test_a_v1_path_off_the_catalog_is_unknown(self):
        """A v1.1 session path that is no endpoint is refused as an unknown route."""
        api, wire, _ = build("API", make_guard(consented=False))
        with pytest.raises(twpolicy.UnknownRoute):
            api.session.get("https://api.twitter.com/oauth/authorize", auth=api.auth.apply_auth())
        assert [] == wire.sent

    def test_no_session_sends_nothing(self):
        """A client whose session was set to None has none to send through."""
        client, wire, _ = build("Client", make_guard(consented=False))
        client.session = None
        assert client.session is None
        with pytest.raises(AttributeError):
            client.get_tweet(20)
        assert [] == wire.sent

    def test_our_own_connect_decides_when_filter_did_not(self):
        """Calling the guarded _connect directly decides the stream it opens."""
        transport, wire = TestStreams().stream(None)
        recorder = DecisionRecorder()
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[recorder])

        class Listener(twpolicy.StreamingClient):
            def on_tweet(self, tweet):
                self.disconnect()

        client = transport.install(Listener(BEARER, guard=guard))
        client._connect("GET", "sample")  # the way around filter()
        assert 1 == wire.count("GET", "/2/tweets/sample/stream")
        assert ["GET /2/tweets/sample/stream"] == [d.operation for d in recorder.decisions]


def signed(url, method="GET"):
    """OAuth 1.0a headers of the test user, as tweepy's asynchronous client signs."""
    return oauthlib.oauth1.Client("key", "secret", TOKEN, "ts").sign(url, method)[1]


class TestAsyncSession:
    def client(self, *, consented=False, answer=None):
        guard = make_guard(consented=consented)
        wire = Wire()
        transport = ReplayTransport(answer or wire.answer)
        client = twpolicy.AsyncClient(BEARER, "key", "secret", TOKEN, "ts", guard=guard)
        client.session = transport.aiohttp_session()
        return client, wire, transport

    @pytest.mark.parametrize("verb", ["get", "post", "put", "patch", "delete", "head", "options"])
    def test_every_verb_is_decided(self, verb):
        """Each aiohttp verb through the view is planned: an unknown route is refused."""
        client, wire, _ = self.client()
        url = f"{V2_HOST}/2/made/up"

        async def send():
            async with getattr(client.session, verb)(url, headers=signed(url, verb.upper())):
                pass

        with pytest.raises(twpolicy.UnknownRoute):
            asyncio.run(send())
        assert [] == wire.sent

    def test_awaited_read_with_params_goes_out(self):
        """``await session.get(url, params=...)`` of a read goes out, decided."""
        client, wire, _ = self.client()
        url = f"{V2_HOST}/2/tweets/20"

        async def send():
            response = await client.session.get(url, params={"a": "1"}, headers=signed(url))
            return response.status

        assert 200 == asyncio.run(send())
        assert [("GET", "/2/tweets/20")] == wire.sent

    @pytest.mark.parametrize(
        ("kwargs", "reason"),
        [
            ({"auth": object()}, "foreign_credentials"),
            ({"data": {"text": "hi"}}, "foreign_credentials"),
        ],
    )
    def test_what_cannot_be_decided_is_refused(self, kwargs, reason):
        """aiohttp's own auth, or no credentials, is refused before anything leaves."""
        client, wire, _ = self.client(consented=True)

        async def send():
            async with client.session.post(f"{V2_HOST}/2/tweets", **kwargs):
                pass

        with pytest.raises(twpolicy.UnplannedRequest, match=reason):
            asyncio.run(send())
        assert [] == wire.sent

    def test_the_other_version_is_refused(self):
        """A v1.1 request through the asynchronous client's session is refused."""
        client, wire, _ = self.client()
        url = f"{V2_HOST}/1.1/statuses/show.json"

        async def send():
            await client.session.get(url, headers=signed(url))

        with pytest.raises(twpolicy.UnplannedRequest, match="other_api_version"):
            asyncio.run(send())
        assert [] == wire.sent

    def test_a_failed_send_gives_back(self):
        """An error status, or a failing transport, gives a single-use consent back."""
        body = {"text": "once"}
        guard = single_use_guard(body)
        answers = iter([None, RecordedResponse.json({"title": "x"}, 503, "Unavailable")])

        def answer(request):
            found = next(answers, RecordedResponse.json({"data": {"id": "1"}}, 201, "Created"))
            if found is None:
                raise requests.ConnectionError("down")
            return found

        transport = ReplayTransport(answer)
        client = twpolicy.AsyncClient(BEARER, "key", "secret", TOKEN, "ts", guard=guard)
        client.session = transport.aiohttp_session()
        url = f"{V2_HOST}/2/tweets"

        async def post():
            async with client.session.post(url, json=body, headers=signed(url, "POST")) as r:
                return r.status

        with pytest.raises(requests.ConnectionError):
            asyncio.run(post())
        assert 503 == asyncio.run(post())
        assert 201 == asyncio.run(post())
        with pytest.raises(twpolicy.ConsentRequired, match="single_use_consent_spent"):
            asyncio.run(post())

    def test_without_a_session_each_request_has_its_own(self, monkeypatch):
        """No session of its own: each request gets a new one, closed after it (as tweepy)."""
        client, wire, transport = self.client()
        made = []

        def session():
            made.append(transport.aiohttp_session())
            return made[-1]

        monkeypatch.setattr(aiohttp, "ClientSession", session)
        client.session = None
        assert client.session.closed
        with pytest.raises(AttributeError):
            _ = client.session.headers
        url = f"{V2_HOST}/2/tweets/20"

        async def send():
            response = await client.session.get(url, headers=signed(url))
            await client.session.close()
            return await response.read()

        assert b"edit_history_tweet_ids" in asyncio.run(send())
        assert [True] == [s.closed for s in made]
        assert [("GET", "/2/tweets/20")] == wire.sent

    def test_another_clients_view_is_unwrapped(self):
        """Assigning another client's session view hands over its session, checked for this one."""
        client, wire, _ = self.client()
        other = twpolicy.AsyncClient(
            BEARER, "key", "secret", TOKEN, "ts", guard=make_guard(consented=False)
        )
        other.session = client.session
        assert other.session._owner is other  # the view is the other's own
        with pytest.raises(twpolicy.ConsentRequired):
            asyncio.run(other.create_tweet(text="hi", user_auth=True))
        assert [] == wire.sent

    def test_a_form_body_is_planned(self):
        """An aiohttp ``data=`` mapping is read as parameters, and the request decided."""
        client, wire, _ = self.client(consented=True)
        url = f"{V2_HOST}/2/tweets"

        async def send():
            response = await client.session.post(
                url, data={"text": "hi"}, headers=signed(url, "POST")
            )
            return response.status

        assert 201 == asyncio.run(send())
        assert [("POST", "/2/tweets")] == wire.sent

    def test_an_awaited_request_that_fails_gives_back(self):
        """A transport failure of an awaited request propagates to the caller."""

        def down(request):
            raise requests.ConnectionError("down")

        client, _, _ = self.client(answer=down)
        url = f"{V2_HOST}/2/tweets/20"

        async def send():
            await client.session.get(url, headers=signed(url))

        with pytest.raises(requests.ConnectionError):
            asyncio.run(send())

import hashlib
import inspect
import io
import json
import warnings

import pytest
import tweepy
from hypothesis import given
from hypothesis import strategies as st
from tweepy.asynchronous import AsyncClient as TweepyAsyncClient
from tweepy.asynchronous import AsyncStreamingClient as TweepyAsyncStreamingClient

import twpolicy
from twpolicy._payloads._catalog import NO_REQUEST, canonical_json
from twpolicy.testing._replay import RecordedResponse, ReplayTransport

CATALOG = twpolicy.endpoint_catalog()
USER = "1072250532645998596"
FAMILIES = {
    tweepy.Client: "v2",
    TweepyAsyncClient: "v2",
    tweepy.StreamingClient: "v2",
    TweepyAsyncStreamingClient: "v2",
    tweepy.API: "v1.1",
}

#: Arguments by parameter name, for calling every method once.
ARGUMENTS = {
    "add": tweepy.StreamRule("from:TwitterDev"),
    "ids": [1, 2],
    "participant_ids": [1, 2],
    "media": ("chunk.bin", b"\x00" * 8),
    "segment_index": 0,
    "total_bytes": 8,
    "media_type": "image/png",
    "filename": "image.png",
    "lat": 37.78,
    "long": -122.4,
    "url": "https://twitter.com/Twitter/status/1",
    "type": "tweets",
}
#: Methods that need one of several optional arguments, or a file.
EXTRA = {
    "get_user": {"id": 1},
    "get_users": {"ids": [1]},
    "get_spaces": {"ids": ["1a"]},
    "create_direct_message": {"participant_id": 1, "text": "t"},
    "create_dm": {"participant_id": 1, "text": "t"},
    "update_status_with_media": {"file": b"png"},
    "update_profile_banner": {"file": b"png"},
    "update_profile_image": {"file": b"png"},
    "simple_upload": {"file": b"png"},
    "media_upload": {"file": b"\x89PNG\r\n\x1a\n" + bytes(32)},
    "chunked_upload": {"file": b"\x00" * 8, "file_type": "video/mp4"},
}
#: The other routes of methods whose route depends on their arguments.
VARIANTS = [
    ("get_user", {"username": "TwitterDev"}),
    ("get_users", {"usernames": ["TwitterDev"]}),
    ("get_spaces", {"user_ids": [1]}),
    ("create_direct_message", {"dm_conversation_id": "1-2", "text": "t"}),
    ("get_direct_message_events", {"dm_conversation_id": "1-2"}),
    ("get_direct_message_events", {"participant_id": 1}),
]


def public_methods(cls):
    """The public callables of a tweepy class, by name."""
    return sorted(
        name
        for name, value in inspect.getmembers(cls)
        if not name.startswith("_") and callable(value)
    )


def covered(name, family):
    """Whether the catalog (or its list of methods that send nothing) covers a method."""
    return name in CATALOG.methods(family) or name in NO_REQUEST or name.startswith("on_")


def arguments(method, name):
    """Positional and keyword arguments that let ``method`` send its request."""
    args, kwargs = [], {}
    for parameter in inspect.signature(method).parameters.values():
        if parameter.default is not inspect.Parameter.empty or parameter.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            continue
        value = ARGUMENTS.get(parameter.name, "1")
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[parameter.name] = value
        else:
            args.append(value)
    for key, value in EXTRA.get(name, {}).items():
        kwargs[key] = io.BytesIO(value) if key == "file" else value
    if name == "chunked_upload":
        kwargs["wait_for_async_finalize"] = False
    return args, kwargs


def stub():
    """A transport that answers every request with a document most parsers accept."""
    me = RecordedResponse.json({"data": {"id": USER}})
    anything = RecordedResponse.json(
        {"data": {"id": "1"}, "id": 1, "id_str": "1", "media_id": 1, "media_id_string": "1"}
    )
    return ReplayTransport(lambda request: me if request.path == "/2/users/me" else anything)


def sent_by(client, transport, name, args, kwargs, *, loop=None):
    """The requests one call put on the wire (tweepy may fail to parse the stub's answer)."""
    before = len(transport.requests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = getattr(client, name)(*args, **kwargs)
            if inspect.isawaitable(result):
                loop.run_until_complete(result)
        except Exception:  # noqa: BLE001, S110  # only what was sent matters here
            pass
    return transport.requests[before:]


def assert_listed(name, requests):
    assert requests, f"{name} sent nothing"
    for request in requests:
        endpoint = CATALOG.lookup(request.method, request.path)
        assert endpoint is not None, f"{name}: {request.method} {request.path} not in the catalog"
        # bookmarks always look the user up first: tweepy's own GET /2/users/me
        assert name in endpoint.methods or endpoint.route == "/2/users/me", (name, endpoint)


class TestCompleteness:
    @pytest.mark.parametrize("cls", list(FAMILIES), ids=lambda cls: cls.__name__)
    def test_every_public_method_is_covered(self, cls):
        """Every public method of every tweepy client is in the catalog (or sends nothing)."""
        missing = [name for name in public_methods(cls) if not covered(name, FAMILIES[cls])]
        assert [] == missing

    def test_every_listed_method_exists(self):
        """Each method the catalog names is a method of a client of its family."""
        for family in ("v2", "v1.1"):
            names = {n for cls, f in FAMILIES.items() if f == family for n in public_methods(cls)}
            assert set() == CATALOG.methods(family) - names

    @pytest.mark.parametrize(
        "name", sorted(CATALOG.methods("v1.1") & set(public_methods(tweepy.API)))
    )
    def test_v1_method_sends_what_the_catalog_says(self, name):
        """Called for real, each API method sends a request listed under its name."""
        transport = stub()
        api = transport.install(tweepy.API(tweepy.OAuth1UserHandler("k", "s", f"{USER}-t", "x")))
        args, kwargs = arguments(getattr(api, name), name)
        assert_listed(name, sent_by(api, transport, name, args, kwargs))

    @pytest.mark.parametrize(
        "name", sorted(CATALOG.methods("v2") & set(public_methods(tweepy.Client)))
    )
    def test_v2_method_sends_what_the_catalog_says(self, name):
        """Called for real, each Client method sends a request listed under its name."""
        transport = stub()
        client = transport.install(tweepy.Client("bearer", "k", "s", f"{USER}-t", "x"))
        args, kwargs = arguments(getattr(client, name), name)
        assert_listed(name, sent_by(client, transport, name, args, kwargs))

    @pytest.mark.parametrize(
        "name", sorted(CATALOG.methods("v2") & set(public_methods(TweepyAsyncClient)))
    )
    def test_async_method_sends_what_the_catalog_says(self, name, loop):
        """Called for real, each AsyncClient coroutine sends a request listed under its name."""
        transport = stub()
        client = transport.install(TweepyAsyncClient("bearer", "k", "s", f"{USER}-t", "x"))
        args, kwargs = arguments(getattr(client, name), name)
        assert_listed(name, sent_by(client, transport, name, args, kwargs, loop=loop))

    @pytest.mark.parametrize(("name", "kwargs"), VARIANTS)
    def test_route_variants(self, name, kwargs):
        """Methods whose route depends on their arguments are listed under each route."""
        transport = stub()
        client = transport.install(tweepy.Client("bearer", "k", "s", f"{USER}-t", "x"))
        assert_listed(name, sent_by(client, transport, name, (), kwargs))

    @pytest.mark.parametrize("name", ["get_rules", "add_rules", "delete_rules", "sample"])
    def test_streaming_client(self, name):
        """The streaming client's rule calls and stream connections are listed."""
        transport = stub()
        client = transport.install(tweepy.StreamingClient("bearer", max_retries=0))
        args, kwargs = arguments(getattr(client, name), name)
        assert_listed(name, sent_by(client, transport, name, args, kwargs))


class TestLookup:
    def test_literal_segments_win(self):
        """/2/users/me is get_me, not get_user; /2/users/by is get_users."""
        assert ("get_me",) == CATALOG.lookup("GET", "/2/users/me").methods
        assert ("get_users",) == CATALOG.lookup("GET", "/2/users/by").methods
        assert ("get_user",) == CATALOG.lookup("GET", "/2/users/783214").methods

    def test_verbs_mislead_the_catalog_does_not(self):
        """lookup_users is a POST that reads; a compliance job is a POST for the app."""
        assert (
            twpolicy.EndpointCategory.PUBLIC_READ
            == CATALOG.lookup("POST", "/1.1/users/lookup").category
        )
        assert (
            twpolicy.EndpointCategory.APP == CATALOG.lookup("POST", "/2/compliance/jobs").category
        )

    @pytest.mark.parametrize(
        ("method", "route"),
        [
            ("POST", "/2/made/up"),
            ("PATCH", "/2/tweets"),
            ("GET", "/2/tweets//hidden"),
            ("GET", "2/tweets"),
            ("GET", "/1.1/geo/similar_places.json"),
            ("DELETE", "/2/users/1/likes"),
        ],
    )
    def test_unknown(self, method, route):
        """Routes and verbs tweepy does not send match nothing."""
        assert CATALOG.lookup(method, route) is None

    def test_query_string_and_trailing_slash_are_ignored(self):
        """The route is matched on its path."""
        assert ("get_tweets",) == CATALOG.lookup("get", "/2/tweets/?ids=1,2").methods

    @given(data=st.data())
    def test_every_pattern_matches_its_own_instances(self, data):
        """Any concrete request built from an entry's pattern finds that entry."""
        endpoint = data.draw(st.sampled_from(list(CATALOG)))
        ids = st.integers(min_value=1, max_value=2**63).map(str)
        route = "/".join(
            data.draw(ids) if part.startswith(":") else part
            for part in endpoint.route.removesuffix(".json").split("/")
        )
        assert endpoint is CATALOG.lookup(endpoint.method, route)

    def test_classification_is_consistent(self):
        """Writes need scopes; reads, geo and app-level calls need none."""
        for endpoint in CATALOG:
            if endpoint.category is twpolicy.EndpointCategory.WRITE:
                assert endpoint.scopes, endpoint
            elif endpoint.category is not twpolicy.EndpointCategory.MEDIA_UPLOAD:
                assert not endpoint.scopes, endpoint
            assert endpoint.scopes <= set(twpolicy.SCOPES)

    def test_actor_segment_is_the_user(self):
        """Where a route names the authenticated user, the catalog knows which segment."""
        for endpoint in CATALOG:
            if endpoint.actor is not None:
                assert endpoint.route.split("/")[endpoint.actor] in {":id", ":source_user_id"}


class TestContentHash:
    @given(st.dictionaries(st.text(), st.one_of(st.text(), st.integers(), st.booleans())))
    def test_key_order_does_not_matter(self, content):
        """The hash is of canonical JSON: reordering keys changes nothing."""
        reordered = dict(reversed(list(content.items())))
        assert twpolicy.content_sha256(content) == twpolicy.content_sha256(reordered)

    def test_definition(self):
        """SHA-256 of sorted-key, compact, UTF-8 JSON."""
        content = {"text": "café", "geo": {"place_id": "1"}}
        canonical = '{"geo":{"place_id":"1"},"text":"café"}'.encode()
        assert hashlib.sha256(canonical).hexdigest() == twpolicy.content_sha256(content)
        assert json.loads(canonical) == content


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


class TestCanonicalJson:
    @given(JSON)
    def test_same_as_the_standard_library(self, content):
        """canonical_json is json.dumps with sorted keys, compact separators, UTF-8."""
        expected = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert expected.encode("utf-8") == canonical_json(content)

    @pytest.mark.parametrize("content", [{"a": float("nan")}, {"a": b"bytes"}, {"a": object()}])
    def test_not_json(self, content):
        """What JSON cannot carry is refused, not hashed some other way."""
        with pytest.raises((TypeError, ValueError)):
            twpolicy.content_sha256(content)

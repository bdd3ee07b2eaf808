"""The replay transport of twpolicy.testing: bodies of every form are matched as the bytes
they would send, cassettes that cannot be read say so, and the aiohttp stand-in behaves like
the parts of aiohttp tweepy uses."""

import base64
import gzip
import io
import json

import pytest
import requests

from twpolicy.testing._replay import (
    Cassette,
    Interaction,
    RecordedResponse,
    ReplayError,
    ReplayTransport,
)

URL = "https://api.twitter.com/2/tweets"
OK = RecordedResponse.json({"data": {"id": "1"}})


def recorded(body, method="POST", url=URL, response=OK):
    return Interaction(method=method, uri=url, response=response, body=body)


def session(transport):
    return transport.mount(requests.Session())


class TestBodies:
    @pytest.mark.parametrize(
        "body",
        [
            b'{"text": "hi"}',
            bytearray(b'{"text": "hi"}'),
            io.BytesIO(b'{"text": "hi"}'),
            (chunk for chunk in (b'{"text": ', b'"hi"}')),
        ],
        ids=["bytes", "bytearray", "file", "chunks"],
    )
    def test_any_body_matches_the_bytes_it_sends(self, body):
        """Bytes, a bytearray, a file or a stream of chunks match the JSON recorded."""
        transport = ReplayTransport([recorded(b'{"text":"hi"}')], match_on=("method", "body"))
        response = session(transport).post(URL, data=body)
        assert {"data": {"id": "1"}} == response.json()
        assert b'{"text": "hi"}' == transport.requests[0].body

    def test_form_bodies_match_in_any_order(self):
        """Form bodies match whatever the order of their fields."""
        transport = ReplayTransport([recorded(b"b=2&a=1")], match_on=("method", "body"))
        assert 200 == session(transport).post(URL, data="a=1&b=2").status_code

    def test_an_empty_body_matches_none(self):
        """A request with no body matches one recorded without a body, not one with a body."""
        transport = ReplayTransport(
            [recorded(b"x=1"), recorded(None)], match_on=("method", "body"), repeat=True
        )
        session(transport).post(URL)
        assert [recorded(b"x=1")] == transport.unplayed

    def test_an_unanswered_request_is_an_error(self):
        """A responder that has no answer makes the request fail, naming it."""
        transport = ReplayTransport(lambda request: None)
        with pytest.raises(ReplayError, match=f"no recorded response for GET {URL}"):
            session(transport).get(URL)
        assert "ReplayTransport(0 interactions, 1 requests seen)" == repr(transport)


class TestCassettes:
    def test_a_body_that_only_looks_gzipped_is_served_as_stored(self, tmp_path):
        """A stored body that starts like gzip but is not is served as it was stored."""
        stored = b"\x1f\x8bnot really gzip"
        cassette = {
            "interactions": [
                {
                    "request": {"method": "GET", "uri": URL},
                    "response": {
                        "status": {"code": 200, "message": "OK"},
                        "headers": {"X-Thing": ["a", "b"]},
                        "body": {"base64_string": base64.b64encode(stored).decode()},
                    },
                }
            ]
        }
        path = tmp_path / "c.json"
        path.write_text(json.dumps(cassette))
        (interaction,) = Cassette.load(path).interactions
        assert stored == interaction.response.body
        assert "a" == interaction.response.header("x-thing")
        assert interaction.response.header("x-other") is None

    def test_a_gzipped_body_is_served_unzipped(self, tmp_path):
        """A body stored gzipped is served as the client would see it."""
        cassette = {
            "interactions": [
                {
                    "request": {"method": "GET", "uri": URL},
                    "response": {
                        "body": {"base64_string": base64.b64encode(gzip.compress(b"{}")).decode()}
                    },
                }
            ]
        }
        path = tmp_path / "c.json"
        path.write_text(json.dumps(cassette))
        assert b"{}" == Cassette.load(path).interactions[0].response.body

    def test_a_yaml_cassette_that_is_not_yaml(self, tmp_path):
        """A YAML cassette that does not parse is a ReplayError naming the file."""
        path = tmp_path / "c.yaml"
        path.write_text("interactions: [unclosed\n")
        with pytest.raises(ReplayError, match=r"cannot read cassette .*c\.yaml"):
            Cassette.load(path)


class TestAiohttpStandIn:
    def test_a_session_answers_like_aiohttp(self, loop):
        """Form data, ``async with`` and ``await`` work; the response reads as aiohttp's."""
        answer = RecordedResponse(
            404, "Not Found", (("content-type", "text/plain; charset=utf-8"),), b"gone"
        )
        transport = ReplayTransport(
            [recorded(b"a=1", response=answer)], match_on=("method", "path", "body")
        )

        async def scenario():
            async with transport.aiohttp_session() as stand_in:
                response = await stand_in.request("POST", URL, data={"a": "1"})
            assert stand_in.closed
            return response, await response.text()

        response, text = loop.run_until_complete(scenario())
        assert (404, False, "text/plain", "gone") == (
            response.status,
            response.ok,
            response.content_type,
            text,
        )
        assert f"<ReplayResponse({URL}) [404 Not Found]>" == repr(response)
        with pytest.raises(ReplayError, match=f"404 Not Found for POST {URL}"):
            response.raise_for_status()

    def test_a_body_without_a_content_type(self, loop):
        """A response without a content type is taken as bytes, as aiohttp does."""
        transport = ReplayTransport(lambda request: RecordedResponse(200, "OK", (), b"x"))

        async def scenario():
            return await transport.aiohttp_session().request("GET", URL)

        response = loop.run_until_complete(scenario())
        assert ("application/octet-stream", True) == (response.content_type, response.ok)
        response.raise_for_status()

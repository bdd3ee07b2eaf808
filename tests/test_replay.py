import base64
import gzip
import json

import pytest
import requests
import tweepy
from tweepy.asynchronous import AsyncClient

from twpolicy.testing._replay import Cassette, RecordedResponse, ReplayError, ReplayTransport

URI = "https://api.twitter.com/2/tweets?ids=1%2C2&expansions=author_id"


def cassette_file(tmp_path, body, *, request_body=None, suffix=".json", encoding=None):
    """A one-interaction cassette with the given stored response body."""
    headers = {"content-type": ["application/json"]}
    if encoding:
        headers["content-encoding"] = [encoding]
    document = {
        "interactions": [
            {
                "request": {"method": "GET", "uri": URI, "body": request_body, "headers": {}},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": headers,
                    "body": body,
                },
            }
        ],
        "version": 1,
    }
    path = tmp_path / f"cassette{suffix}"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def get(transport, url=URI, **kwargs):
    session = transport.mount(requests.Session())
    return session.get(url, **kwargs)


class TestCassette:
    def test_plain_json(self, tmp_path):
        """A JSON cassette's string body is served as is."""
        path = cassette_file(tmp_path, {"string": '{"data": []}'})
        assert {"data": []} == get(ReplayTransport(Cassette.load(path))).json()

    def test_base64_gzip(self, tmp_path):
        """A base64 body holding gzip is decoded; encoding headers no longer apply."""
        stored = base64.b64encode(gzip.compress(b'{"data": [1]}')).decode()
        path = cassette_file(tmp_path, {"base64_string": stored}, encoding="gzip")
        response = get(ReplayTransport(Cassette.load(path)))
        assert {"data": [1]} == response.json()
        assert "content-encoding" not in response.headers

    def test_yaml_binary_gzip(self, corpus):
        """vcrpy YAML cassettes with !!binary gzip bodies load."""
        cassettes = corpus / "tweepy+tweepy" / "cassettes"
        cassette = Cassette.load(cassettes / "test_client_create_and_delete_tweet.yaml")
        assert 2 == len(cassette.interactions)
        assert b"Test Tweet" in cassette.interactions[0].response.body
        assert 201 == cassette.interactions[0].response.status

    def test_every_corpus_cassette_loads(self, corpus):
        """All of tweepy's recorded cassettes load and decode."""
        paths = sorted((corpus / "tweepy+tweepy").rglob("*.yaml")) + sorted(
            (corpus / "tweepy+tweepy").rglob("cassettes/*.json")
        )
        assert len(paths) > 100
        for path in paths:
            for interaction in Cassette.load(path).interactions:
                assert not interaction.response.body.startswith(b"\x1f\x8b"), path

    @pytest.mark.parametrize("text", ["{", '{"no": "interactions"}', "[1]"])
    def test_bad_cassette(self, tmp_path, text):
        """A file that is not a cassette raises ReplayError naming it."""
        path = tmp_path / "bad.json"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ReplayError, match=r"bad\.json"):
            Cassette.load(path)

    def test_missing_cassette(self, tmp_path):
        """A missing file raises ReplayError."""
        with pytest.raises(ReplayError):
            Cassette.load(tmp_path / "absent.yaml")


class TestMatching:
    def test_query_order_does_not_matter_and_every_request_is_recorded(self, tmp_path):
        """Queries match as multisets; answered and unanswered requests are both recorded."""
        transport = ReplayTransport(Cassette.load(cassette_file(tmp_path, {"string": "{}"})))
        url = "https://api.twitter.com/2/tweets?expansions=author_id&ids=1%2C2"
        assert 200 == get(transport, url).status_code
        with pytest.raises(ReplayError, match="no recorded response for GET"):
            get(transport, url)
        assert 2 == len(transport.requests)
        assert {"ids": ["1,2"], "expansions": ["author_id"]} == transport.requests[0].query
        assert [] == transport.unplayed

    def test_repeat(self, tmp_path):
        """With repeat=True an interaction answers again."""
        cassette = Cassette.load(cassette_file(tmp_path, {"string": "{}"}))
        transport = ReplayTransport(cassette, repeat=True)
        for _ in range(3):
            assert 200 == get(transport).status_code

    def test_body_matching(self, tmp_path):
        """match_on body compares JSON bodies by value, not spelling."""
        path = cassette_file(tmp_path, {"string": "{}"}, request_body={"text": "a", "n": 1})
        transport = ReplayTransport(Cassette.load(path), match_on=("method", "path", "body"))
        session = transport.mount(requests.Session())
        with pytest.raises(ReplayError):
            session.get(URI, json={"text": "b", "n": 1})
        assert 200 == session.get(URI, data=b'{"n":1,"text":"a"}').status_code

    def test_unknown_matcher(self):
        """A typo in match_on is refused."""
        with pytest.raises(ValueError, match="unknown match_on"):
            ReplayTransport(match_on=("verb",))

    def test_responder(self):
        """A callable answers instead of a cassette."""
        transport = ReplayTransport(lambda request: RecordedResponse.json({"path": request.path}))
        assert {"path": "/2/x"} == get(transport, "https://api.twitter.com/2/x").json()


class TestAsync:
    def test_async_client_reads_through_the_session(self, loop):
        """install() gives an async client a session that answers from the transport."""
        transport = ReplayTransport(
            lambda request: RecordedResponse.json(
                {"data": {"id": "1", "text": "x", "edit_history_tweet_ids": ["1"]}}
            )
        )
        client = transport.install(AsyncClient("bearer", return_type=dict))
        document = loop.run_until_complete(client.get_tweet(1, tweet_fields=["lang"]))
        assert "1" == document["data"]["id"]
        assert {"tweet.fields": ["lang"]} == transport.requests[0].query
        assert "Bearer bearer" == transport.requests[0].headers["Authorization"]

    def test_async_errors_are_tweepys(self, loop):
        """A recorded error status raises tweepy's exception, with the API's message."""
        body = json.dumps({"errors": [{"message": "nope"}]}).encode()
        transport = ReplayTransport(lambda request: RecordedResponse(404, "Not Found", (), body))
        client = transport.install(AsyncClient("bearer"))
        with pytest.raises(tweepy.NotFound, match="nope"):
            loop.run_until_complete(client.get_tweet(1))

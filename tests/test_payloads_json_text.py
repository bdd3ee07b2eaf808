"""JSON text with a key written twice: what a reader keeps is not what was checked.

A JSON reader keeps one value of a key written twice in one object (Python's the last, others
the first), so ``{"coordinates": <point>, "coordinates": null}`` was judged empty and stored
with the point. Every enforcement point that takes JSON text reads it with
`twpolicy._payloads._walker.read_json`, which refuses such text. Each test generates the family
(every object of generated and corpus payloads, the key written first or last, every decoy,
every encoding) and checks it against the instance's oracle.
"""

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twice
from corpus import load
from twpolicy import Guard, PolicyViolation, check_storable
from twpolicy._payloads._walker import read_json, unique_keys
from twpolicy.exceptions import PayloadError
from twpolicy.strategies import api_responses, dm_events, tweets, users

ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32")
DECOYS = (None, {}, [], "", 0, False)
SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)
PAYLOADS = (
    tweets("v1.1", location=True)
    | tweets("v2", location=True)
    | users("v1.1")
    | dm_events()
    | api_responses()
)


def written_twice(payloads: st.SearchStrategy[Any] = PAYLOADS) -> st.SearchStrategy[str]:
    """A payload as JSON text with one key of one of its objects written twice: a decoy."""
    return twice.written_twice(payloads, DECOYS, same=False, spellings=("plain",))


class TestReadJson:
    @given(DOCUMENTS)
    def test_text_with_each_key_once_reads_as_json_loads_reads_it(self, document):
        text = json.dumps(document)
        assert read_json(text) == json.loads(text)
        assert read_json(text.encode("utf-16")) == json.loads(text)

    @given(written_twice())
    def test_a_key_written_twice_anywhere_is_refused(self, text):
        with pytest.raises(PayloadError, match="twice in one object"):
            read_json(text)

    @given(DOCUMENTS, st.sampled_from([json.loads, orjson.loads]))
    def test_a_faster_reader_gives_the_same_value(self, document, loads):
        text = json.dumps(document).encode()
        assert read_json(text, loads=loads) == json.loads(text)

    @given(written_twice(), st.sampled_from([json.loads, orjson.loads]))
    def test_a_faster_reader_refuses_a_key_written_twice(self, text, loads):
        with pytest.raises(PayloadError, match="twice in one object"):
            read_json(text.encode(), loads=loads)

    def test_a_quote_and_colon_inside_a_string_is_read_again_and_passes(self):
        text = b'{"a": "say \\"x\\": y", "b": 1}'
        assert unique_keys(text, orjson.loads(text)) == {"a": 'say "x": y', "b": 1}
        assert read_json(b"\xef\xbb\xbf{}", loads=orjson.loads) == {}  # orjson refuses a BOM

    def test_the_error_names_the_key_and_the_remedy(self):
        with pytest.raises(PayloadError) as caught:
            read_json('{"a": {"coordinates": [1, 2], "coordinates": null}}')
        message = str(caught.value)
        assert "'coordinates' twice" in message
        assert "write each key once" in message
        assert isinstance(caught.value, ValueError)  # refused where bad JSON is


class TestCheckStorable:
    @settings(max_examples=60)
    @given(written_twice(), st.sampled_from(ENCODINGS), st.booleans())
    def test_text_and_bytes_with_a_key_written_twice_are_refused(self, text, encoding, as_bytes):
        payload: str | bytes = text.encode(encoding) if as_bytes else text
        with pytest.raises(PolicyViolation, match="twice in one object"):
            check_storable(payload)

    @pytest.mark.parametrize(
        "text",
        [
            (
                '{"id_str": "1", "coordinates": {"type": "Point", "coordinates": [-122.4, 37.7]},'
                ' "coordinates": null}'
            ),
            (
                '{"data": {"id": "1", "text": "hi", "geo": {"coordinates": {"type": "Point",'
                ' "coordinates": [-122.4, 37.7]}}}, "data": {"id": "2", "text": "x"}}'
            ),
            '{"password": "hunter2", "password": null}',
        ],
    )
    def test_instances(self, text):
        for payload in (text, text.encode(), text.encode("utf-16")):
            with pytest.raises(PolicyViolation, match="twice in one object"):
                check_storable(payload)

    def test_corpus_text_is_decided_as_its_parsed_form(self, corpus):
        """Real payloads write each key once: as text they are decided as when parsed."""
        checked = 0
        for doc in load(Path(corpus)):
            if doc.error is not None:
                continue
            text = json.dumps(doc.value)
            assert outcome(doc.value) == outcome(text) == outcome(text.encode()), doc.origin
            checked += 1
        assert checked > 500


def outcome(payload: Any) -> str:
    """What a fresh guard's `check_storable` says of ``payload``: allowed, or the refusal."""
    try:
        check_storable(payload, guard=Guard())
    except PolicyViolation as refusal:
        return type(refusal).__name__
    return "allowed"

"""Dataset lines that write a key twice: refused by ``scan`` and ``comply``, read as JSON
reads them by ``dehydrate``.

msgspec and ``json`` keep the last value of a key written twice, so a line
``{"data": [<deleted Tweet>], "data": [<kept Tweet>]}`` kept the deleted Tweet after apply,
and a point in a first ``"geo"`` went unreported by scan. Both refuse such a line on their
fast and general paths, at one and two jobs. dehydrate lets out only IDs, each counted, so
it reads the line as ``json`` does on every path (a key written twice can leave IDs out,
never let anything else out); with a compliance ledger it still refuses a line whose copies
may hold something gone. Each test generates the family: a decoy key written twice in any
object at any depth of generated and corpus lines, first or last, same or other value,
escaped spellings of the key and whitespace before the colon.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twice
from corpus import load
from twpolicy import JsonLinesApplier, apply_compliance, compliance_events, open_compliance
from twpolicy._cli._main import main
from twpolicy._cli._parallel import parallel_ids
from twpolicy._cli._records import LOADS
from twpolicy._cli._scan import scan
from twpolicy._payloads import _chunks, _fastpage, _fastscan
from twpolicy._payloads._batch import dehydrate_lines, scan_lines
from twpolicy._payloads._ids import ids_in
from twpolicy._payloads._walker import UniqueKeys, read_json, written_once
from twpolicy.exceptions import PayloadError
from twpolicy.strategies import api_responses, tweets

GENERIC = msgspec.json.Decoder().decode
WRITE = msgspec.json.Encoder().encode
SEVEN = b'{"data": [{"id": "7", "text": "a Tweet"}]}'
DECOYS = (None, {}, [], "", 0, "x", ":", '":')
PAGES = api_responses(tweets("v2", location=True), many=True)
LINES = PAGES | tweets("v1.1", location=True)


def written_twice(payloads: st.SearchStrategy[Any] = LINES) -> st.SearchStrategy[bytes]:
    """A dataset line with one key of one of its objects written twice."""
    return twice.written_twice(payloads, DECOYS).map(str.encode)


def corpus_pages(root: Path) -> list[Any]:
    """The corpus's v2 response pages (twarc2 lines): the fast paths' data."""
    found = []
    for document in load(root):
        value = document.value
        if isinstance(value, dict) and isinstance(value.get("data"), list) and value["data"]:
            found.append(value)
    return found[:40]


@pytest.fixture
def pages(corpus: Path) -> list[Any]:
    return corpus_pages(corpus)


class TestWrittenOnce:
    @given(written_twice())
    def test_a_key_written_twice_is_never_cleared(self, line):
        assert not written_once(line, GENERIC, WRITE)
        with pytest.raises(PayloadError, match="twice in one object"):
            UniqueKeys(json.loads)(line)

    @given(LINES)
    def test_a_line_with_each_key_once_reads_as_before(self, payload):
        line = json.dumps(payload).encode()
        assert UniqueKeys(LOADS)(line) == json.loads(line)
        assert written_once(line, GENERIC, WRITE)
        assert written_once(memoryview(line), GENERIC, WRITE)  # (a mapped file's lines)

    def test_a_quote_and_colon_in_a_string_is_read_the_exact_way(self):
        assert written_once(memoryview(b'{"a": "x\\": y", "b" : 1}'), GENERIC, WRITE)
        assert not written_once(memoryview(b'{"a": "x\\": y", "a" : 1}'), GENERIC, WRITE)
        assert not written_once(b"[" * 5000 + b"]" * 5000, GENERIC, WRITE)  # too deep

    def test_colons_spelled_as_escapes_are_read_the_exact_way(self):
        assert not written_once(b'{"a": "\\u003a", "a": "::"}', GENERIC, WRITE)
        assert written_once(b'{"a": "\\u003a", "b": "::"}', GENERIC, WRITE)

    def test_what_the_fast_parser_refuses_goes_to_the_exact_path(self):
        assert not written_once(b'{"a": 1e999999}', GENERIC, WRITE)


def test_every_corpus_document_reads_as_before(corpus):
    """No false refusals: every corpus payload (each line of its JSON Lines) reads as before."""
    read = 0
    for document in load(corpus):
        if document.value is None:
            continue
        assert UniqueKeys(LOADS)(document.raw) == document.value, document
        try:
            GENERIC(document.raw)
        except (msgspec.DecodeError, RecursionError):
            continue  # not what a fast path reads (a BOM, UTF-16, deep nesting)
        assert written_once(document.raw, GENERIC, WRITE), document
        read += 1
    assert read > 100


class TestDehydrate:
    """dehydrate lets only IDs out, each counted: a key written twice can only leave IDs out,
    so the line is read as ``json`` reads it (the last copy wins), on every path."""

    @given(written_twice())
    def test_the_line_reads_as_json_reads_it(self, line):
        once = json.dumps(json.loads(line)).encode()  # the last copy of each key
        batch = dehydrate_lines([SEVEN, line], "tweets")
        expected = dehydrate_lines([SEVEN, once], "tweets")
        assert expected.ids == batch.ids
        assert [n for n, _ in expected.errors] == [n for n, _ in batch.errors]
        try:
            walked = set(ids_in(json.loads(line), "tweets"))
        except PayloadError:  # an ID the walker refuses: dehydrate reports the line
            assert [2] == [n for n, _ in batch.errors]
        else:
            assert set(batch.ids) <= walked | {"7"}

    @settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(written_twice(PAGES), min_size=1, max_size=4), st.sampled_from([1, 2]))
    def test_jobs_read_every_such_line_as_one_job(self, tmp_path, monkeypatch, lines, jobs):
        monkeypatch.setattr(_chunks, "MIN_CHUNK", 64)

        def ids_of(name, records, count):
            path = tmp_path / name
            path.write_bytes(b"".join(SEVEN + b"\n" + line + b"\n" for line in records))
            parts = list(parallel_ids(str(path), "tweets", count, 2**26))
            return (  # which IDs (the parent drops repeats across parts) and skipped lines
                {value for part in parts for value in part.ids},
                [number for part in parts for number, _ in part.skipped],
            )

        once = [json.dumps(json.loads(line)).encode() for line in lines]
        assert ids_of("once.jsonl", once, 1) == ids_of(f"d{jobs}.jsonl", lines, jobs)

    def test_corpus_pages_read_as_before(self, pages):
        for page in pages:
            line = json.dumps(page).encode()
            assert dehydrate_lines([line], "tweets").errors == []
            assert scan_lines([line]).errors == []
            assert UniqueKeys(LOADS)(line) == page


class TestScan:
    @given(written_twice())
    def test_the_line_is_unreadable(self, line):
        batch = scan_lines([line])
        assert [number for number, _ in batch.errors] == [1]
        assert batch.findings == []
        assert _fastscan._decode(line) is None
        with pytest.raises(PayloadError, match="twice"):
            _fastscan.parser(UniqueKeys(LOADS))(line)

    @settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(written_twice(), min_size=1, max_size=4), st.sampled_from([1, 2]))
    def test_the_command_lists_each_and_fails(self, tmp_path, monkeypatch, lines, jobs):
        monkeypatch.setattr(_chunks, "MIN_CHUNK", 64)
        monkeypatch.setattr("twpolicy._cli._scan.FAST_AFTER", 0)  # the fast path at once
        path = tmp_path / f"s{jobs}.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        out = io.StringIO()
        (summary,) = scan([str(path)], out, jobs=jobs)
        assert summary.unreadable == len(lines)
        assert out.getvalue().count("twice in one object") == len(lines)

    def test_a_point_in_the_first_copy_is_not_missed(self):
        line = (
            b'{"data": [{"id": "1", "text": "hi", "geo": {"coordinates": {"type": "Point", '
            b'"coordinates": [-122.4, 37.7]}}}], "data": [{"id": "2", "text": "x"}]}'
        )
        out = io.StringIO()
        (summary,) = scan_file_of(line, out)
        assert summary.unreadable == 1
        assert "line 1" in out.getvalue()
        assert "'data' twice" in out.getvalue()


def scan_file_of(line: bytes, out: io.StringIO) -> Any:
    stream = io.BytesIO(line + b"\n")
    import sys  # noqa: PLC0415  # standard input stands in for a file

    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(stream)
    try:
        return scan(["-"], out)
    finally:
        sys.stdin = saved


def deleted_event(tweet_id: str) -> dict[str, Any]:
    return {"delete": {"status": {"id_str": tweet_id, "user_id_str": "1"}}}


class TestComply:
    @settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.data(),
        st.booleans(),
        st.sampled_from(["plain", "escaped", "spaced"]),
        st.sampled_from([1, 2]),
    )
    def test_a_gone_tweet_in_either_copy_refuses_the_dataset(  # noqa: PLR0917  # hypothesis
        self, tmp_path_factory, monkeypatch, data, first, spelling, jobs
    ):
        monkeypatch.setattr(_chunks, "MIN_CHUNK", 64)
        page = data.draw(PAGES)
        gone = page["data"][0]
        kept = data.draw(tweets("v2").filter(lambda tweet: tweet["id"] != gone["id"]))
        folder = tmp_path_factory.mktemp("comply")
        dataset = folder / "data.jsonl"
        original = (
            json.dumps({"data": [kept]}).encode() + b"\n" + twice_line(gone, kept, first, spelling)
        )
        dataset.write_bytes(original)
        ledger = open_compliance(f"sqlite:///{folder / 'c.db'}")
        try:
            ledger.record(compliance_events(deleted_event(gone["id"])))
            with pytest.raises(PayloadError) as caught:
                apply_compliance(ledger, JsonLinesApplier(dataset, jobs=jobs))
        finally:
            ledger.close()
        message = str(caught.value)
        assert "line 2" in message
        assert "'data' twice" in message
        assert "nothing was changed" in message
        assert dataset.read_bytes() == original

    def test_the_fast_reader_leaves_such_a_line_to_the_walker(self):
        line = twice_line({"id": "1", "text": "a"}, {"id": "2", "text": "b"}, True, "plain")
        assert _fastpage.read_page(line, frozenset(_fastpage.PAGE_KINDS)) is None
        assert read_json(json.dumps({"data": []})) == {"data": []}


def twice_line(gone: dict[str, Any], kept: dict[str, Any], first: bool, spelling: str) -> bytes:
    """A v2 page whose ``data`` is written twice: the gone Tweet first or last."""
    copies = [
        f"{twice.spelled('data', spelling)}: {json.dumps([gone])}",
        f'"data": {json.dumps([kept])}',
    ]
    if not first:
        copies.reverse()
    return ("{" + ", ".join(copies) + "}\n").encode()


class TestCheckedDehydrate:
    """``dehydrate --compliance-db``: the tombstones' parser refuses the line too."""

    @pytest.mark.parametrize("first", [True, False], ids=["gone-first", "gone-last"])
    @pytest.mark.parametrize("spelling", ["plain", "escaped", "spaced", "colons"])
    def test_a_gone_tweet_in_either_copy_is_not_let_out(self, tmp_path, capsys, first, spelling):
        gone = {"id": "1391677057810288641", "text": "deleted", "author_id": "9"}
        kept = {"id": "1391677057810288600", "text": "kept", "author_id": "9"}
        dataset, out = tmp_path / "data.jsonl", tmp_path / "ids.txt"
        dataset.write_bytes(SEVEN + b"\n" + twice_line(gone, kept, first, spelling))
        url = f"sqlite:///{tmp_path / 'c.db'}"
        with open_compliance(url) as ledger:
            ledger.record(compliance_events(deleted_event(gone["id"])))
        code = main(
            ["dehydrate", str(dataset), str(out), "--compliance-db", url], out=io.StringIO()
        )
        err = capsys.readouterr().err
        assert code == 2  # an unreadable record
        assert out.read_text().split() == ["7"]
        assert "line 2" in err
        assert "'data' twice" in err


class TestScansOwnReader:
    """`written_once` with the reader and writer the fast scan passes it (orjson's)."""

    read, write = _fastscan._GENERIC, _fastscan._WRITE  # what scan uses

    @given(written_twice())
    def test_a_key_written_twice_is_never_cleared(self, line):
        assert not written_once(line, self.read, self.write)

    @given(LINES)
    def test_a_line_with_each_key_once_is_cleared(self, payload):
        line = json.dumps(payload).encode()
        assert written_once(line, self.read, self.write)
        assert written_once(memoryview(line), self.read, self.write)

    @pytest.mark.parametrize(
        "line",
        [
            b'{"a": %d, "a": 1}' % 2**70,  # past 64 bits: orjson refuses, json reads
            b'{"a": "\\ud800", "a": 1}',  # a lone surrogate
            b'{"a": NaN, "a": 1}',
            b'{"a": "\\u003a", "a": "::"}',
            b'{"a": "x\\": y", "a" : 1}',
            b'{"b": {"a": 1, "a": 2}}',
        ],
    )
    def test_what_orjson_refuses_or_cannot_count_is_read_the_exact_way(self, line):
        assert not written_once(line, self.read, self.write)
        with pytest.raises(PayloadError, match="twice in one object"):
            UniqueKeys(LOADS)(line)
        once = line.replace(b'"a"', b'"c"', 1)  # not cleared when orjson refuses it: read whole
        assert UniqueKeys(LOADS)(once) == json.loads(once)

    def test_every_corpus_document_is_cleared(self, corpus):
        """No false refusals on the corpus with scan's own reader."""
        read = 0
        for document in load(corpus):
            if document.value is None or not isinstance(document.raw, bytes):
                continue
            try:
                self.read(document.raw)
            except ValueError:
                continue  # not what the fast path reads (a BOM, UTF-16)
            assert written_once(document.raw, self.read, self.write), document
            read += 1
        assert read > 100

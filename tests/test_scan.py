import gzip
import io
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

import payloads
from conftest import PROJECT, require
from corpus import load
from twpolicy import find_geo
from twpolicy._cli import _common, _records, _scan
from twpolicy._cli._main import main
from twpolicy._cli._scan import read_records, scan
from twpolicy._payloads import _fastscan

SAMPLE = PROJECT / "examples" / "geo-sample.jsonl"


def jsonl(*values):
    return b"".join(json.dumps(value).encode() + b"\n" for value in values)


def records(data, **kwargs):
    """(line, error or None, value) of every record of ``data``."""
    kwargs.setdefault("loads", _scan.LOADS)
    return [(r.line, r.error, r.value) for r in read_records(io.BytesIO(data), **kwargs)]


@pytest.fixture(name="parse", params=["json", "orjson"])
def _parse(request):
    """Each parser scan can use: the standard one, and orjson (the ``fast`` extra)."""
    if request.param == "orjson":
        try:
            import orjson  # noqa: F401, PLC0415  # only to see whether it is installed
        except ImportError:
            require("orjson is not installed (pip install -e '.[tests]')")
        return _records._loads_fast
    return json.loads


def run(argv, capsys):
    """Run ``twpolicy`` in this process: (exit code, stdout, stderr)."""
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class TestReader:
    @pytest.fixture(autouse=True)
    def _use(self, parse, monkeypatch):
        """Read with each parser."""
        monkeypatch.setattr(_scan, "LOADS", parse)

    def test_json_lines(self):
        """One record per line; blank lines and CRLF endings are fine."""
        data = b'{"a": 1}\r\n\n  [1, 2]  \n{"b": {"c": []}}'
        assert [(1, None, {"a": 1}), (3, None, [1, 2]), (4, None, {"b": {"c": []}})] == records(
            data
        )

    def test_pretty_printed_and_concatenated(self):
        """Records spanning lines, and several on one line, are cut at their closing bracket."""
        tricky = {"t": '}{][ " \\', "u": [{"v": "]"}]}
        data = (
            json.dumps(tricky, indent=2).encode()
            + b'\n{"x": 1} {"y": 2}\n'
            + json.dumps([tricky], indent=1).encode()
        )
        assert [
            (1, None, tricky),
            (9, None, {"x": 1}),
            (9, None, {"y": 2}),
            (10, None, [tricky]),
        ] == records(data)

    def test_json_the_standard_parser_reads(self):
        """Lone surrogates, huge integers and NaN read as the standard parser reads them."""
        data = b'{"t": "\\ud800", "n": 123456789012345678901234567890, "f": NaN}\n'
        [(_, error, value)] = records(data)
        assert error is None
        assert ("\ud800", 123456789012345678901234567890) == (value["t"], value["n"])

    def test_byte_order_mark(self):
        """A UTF-8 byte order mark at the start is skipped."""
        assert [(1, None, {"a": 1})] == records(b'\xef\xbb\xbf{"a": 1}\n')

    @pytest.mark.parametrize(
        ("line", "error"),
        [
            (b"42", "a JSON int, not an object or array"),
            (b'"text"', "a JSON str, not an object or array"),
            (b"null", "a JSON null, not an object or array"),
            (b"Some heading", "not JSON: text between records"),
            (b'{"a": tru}', "not valid JSON"),
            (b'{"a": "cut off', "cut off: a new record starts on line 2"),
            (b"]", "not JSON: text between records"),
            (b"[" * 10_000 + b"]" * 10_000, ""),
            (bytes(range(256)).replace(b"\n", b""), "not"),
        ],
        ids=[
            "number",
            "string",
            "null",
            "text",
            "bad-token",
            "unterminated",
            "closer",
            "deep",
            "binary",
        ],
    )
    def test_bad_records_are_reported_and_skipped(self, line, error):
        """Each bad record gets its own clear error; the next record is still read."""
        found = records(line + b'\n{"ok": true}\n')
        assert 2 == len(found)
        (first_line, message, value), last = found
        assert (1, None) == (first_line, value)
        assert message is not None
        assert error in message
        assert (2, None, {"ok": True}) == last

    def test_huge_array(self):
        """A record holding a million-element array is read like any other."""
        huge = b"[" + b"1," * 1_000_000 + b"1]\n"
        found = records(huge + b'{"ok": 1}\n')
        assert [(1, None), (2, None)] == [(line, error) for line, error, _ in found]
        assert 1_000_001 == len(found[0][2])

    def test_cut_off_json_line_does_not_swallow_the_next(self):
        """A truncated JSON Lines record is reported; reading resumes at the next line."""
        data = jsonl({"a": 1}) + b'{"data": [{"id": "1", \n' + jsonl({"b": 2}, [3])
        assert [
            (1, None, {"a": 1}),
            (2, "cut off: a new record starts on line 3", None),
            (3, None, {"b": 2}),
            (4, None, [3]),
        ] == records(data)

    def test_cut_off_at_the_end(self):
        """A record the input ends inside is reported where it starts."""
        assert [
            (1, None, {"a": 1}),
            (2, "cut off: the input ends inside it", None),
        ] == records(b'{"a": 1}\n{\n  "b": [1,\n')

    def test_record_size_limit(self):
        """Records over the size limit are reported and skipped, on one line or many."""
        big = json.dumps({"a": "x" * 100}).encode()
        data = (
            big + b"\n" + json.dumps({"a": ["y" * 40] * 3}, indent=1).encode() + b'\n{"small": 1}\n'
        )
        found = records(data, max_bytes=64)
        assert ["larger than 64 bytes", "larger than 64 bytes", None] == [
            error for _, error, _ in found
        ]
        assert (9, None, {"small": 1}) == found[-1]

    def test_binary_junk_is_survived(self):
        """Random bytes cost an error per line, never a crash, and reading goes on."""
        junk = bytes((i * 97 + 13) % 256 for i in range(20_000))
        found = records(junk + b'\n{"ok": 1}\n')
        assert all(error for _, error, _ in found[:-1])
        assert (None, {"ok": 1}) == found[-1][1:]


class TestCommand:
    def write(self, tmp_path, data, name="input.jsonl"):
        path = tmp_path / name
        path.write_bytes(data)
        return str(path)

    def test_sample(self, capsys):
        """The shipped sample: four records with standalone location, one unreadable."""
        code, out, err = run(["scan", str(SAMPLE)], capsys)
        assert 2 == code  # findings (1) and an unreadable record (2): the highest wins
        assert "" == err
        assert (
            "9 records: 7 with location, 4 with standalone location (6 findings), 1 unreadable"
            in out
        )
        assert (
            "record 3 (line 3): standalone place at /includes/places/0 (unreferenced_place" in out
        )
        assert "record 4 (line 4): standalone point at /coordinates (reduced_tweet" in out
        assert "record 9 (line 66): unreadable, skipped: cut off" in out

    def test_exit_codes(self, tmp_path, capsys):
        """0 when all is storable, 1 for standalone location, 2 for unreadable input only."""
        clean = self.write(
            tmp_path, jsonl(payloads.tweet_v1(place=payloads.place_v1())), "clean.jsonl"
        )
        found = self.write(tmp_path, jsonl(payloads.place_v1()), "found.jsonl")
        broken = self.write(tmp_path, b"{nope\n", "broken.jsonl")
        assert 0 == run(["scan", clean], capsys)[0]
        assert 1 == run(["scan", found], capsys)[0]
        assert 0 == run(["scan", "--exit-zero", found], capsys)[0]
        assert 2 == run(["scan", broken], capsys)[0]
        assert 2 == run(["scan", broken, found], capsys)[0]  # the highest code wins
        assert 0 == run(["scan", "--exit-zero", broken, found], capsys)[0]
        assert 2 == run(["scan", "--exit-zero", found, str(tmp_path / "missing")], capsys)[0]

    def test_all_lists_location_that_belongs(self, tmp_path, capsys):
        """--all lists every location datum, not only standalone ones."""
        path = self.write(tmp_path, jsonl(payloads.tweet_v1(place=payloads.place_v1())))
        assert "place" not in run(["scan", path], capsys)[1].split("\n")[1]
        out = run(["scan", "--all", path], capsys)[1]
        assert "record 1 (line 1): place at /place (in_tweet)" in out
        assert "record 1 (line 1): profile_location at /user/location (in_user)" in out

    def test_json_format(self, tmp_path, capsys):
        """--format json is one JSON document: each file's listed records, counts and totals."""
        first = self.write(
            tmp_path, jsonl(payloads.place_v1(), payloads.tweet_v1()) + b"[oops\n", "a.jsonl"
        )
        second = self.write(tmp_path, jsonl(payloads.tweet_v2()), "b.jsonl")
        code, out, _ = run(
            ["scan", "--format", "json", first, second, str(tmp_path / "gone")], capsys
        )
        report = json.loads(out)
        assert 2 == code  # an input could not be opened
        assert [first, second, str(tmp_path / "gone")] == [f["file"] for f in report["files"]]
        assert [
            {
                "record": 1,
                "line": 1,
                "end_line": 1,
                "findings": [
                    {"pointer": "", "kind": "place", "standalone": True, "reason": "on_its_own"}
                ],
            },
            {
                "record": 3,
                "line": 3,
                "end_line": 3,
                "error": "cut off: the input ends inside it",
            },
        ] == report["files"][0]["records"]
        assert {
            "records": 3,
            "with_location": 2,
            "standalone_records": 1,
            "standalone_data": 1,
            "unreadable": 1,
        } == {k: v for k, v in report["files"][0]["counts"].items() if k != "location_kinds"}
        assert [] == report["files"][1]["records"]
        assert "No such file or directory" == report["files"][2]["error"]
        assert 4 == report["totals"]["records"]

    def test_stdin_and_gzip(self, tmp_path, capsys, monkeypatch):
        """``-`` reads standard input; gzip-compressed input is read as it is."""
        data = gzip.compress(jsonl(payloads.POINT, payloads.tweet_v1()))
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        code, out, _ = run(["scan", "-", self.write(tmp_path, data, "x.jsonl.gz")], capsys)
        assert 1 == code
        assert 2 == out.count("record 1 (line 1): standalone point as the whole record (on_its_own")
        assert (
            "2 files, 4 records: 4 with location, 2 with standalone location, 0 unreadable" in out
        )

    def test_unreadable_files(self, tmp_path, capsys):
        """A missing file or a directory is reported; the other files are still scanned."""
        good = self.write(tmp_path, jsonl(payloads.POINT))
        code, out, err = run(["scan", str(tmp_path / "missing.json"), str(tmp_path), good], capsys)
        assert 2 == code
        assert "missing.json: No such file or directory" in err
        assert f"{tmp_path}: Is a directory" in err
        assert "cannot read" not in out
        assert "standalone point" in out

    def test_errors_listed_are_capped(self, tmp_path, capsys):
        """A file of junk lists its first errors and counts the rest."""
        path = self.write(tmp_path, b"{nope}\n" * 100)
        out = run(["scan", path], capsys)[1]
        assert _scan.MAX_LISTED_ERRORS == out.count("unreadable, skipped: ")
        assert "... and 80 more unreadable records" in out

    def test_progress_goes_to_stderr_only(self, tmp_path, capsys, monkeypatch):
        """--progress draws on stderr; stdout carries the report alone."""
        monkeypatch.setattr(_common, "PROGRESS_DELAY", 0)
        monkeypatch.setattr(_common, "PROGRESS_INTERVAL", 0)
        path = self.write(tmp_path, jsonl(*[payloads.tweet_v1()] * 50))
        quiet = run(["scan", path], capsys)
        loud = run(["scan", "--progress", path], capsys)
        assert "" == quiet[2]
        assert quiet[1] == loud[1]
        assert f"{path}: 100%" in loud[2]
        assert "50 records" in loud[2]

    def test_memory_is_bounded_by_the_largest_record(self, tmp_path):
        """Scanning holds one record at a time, not the file."""
        tweet = payloads.tweet_v1(place=payloads.place_v1(), text="x" * 2000)
        path = self.write(tmp_path, jsonl(tweet) * 2000)  # about 6 MB
        assert Path(path).stat().st_size > 5_000_000
        # The fast location path's decoders, generated once a process (some 8 MB), are not
        # records: generate them first, so that what is measured is what records hold.
        _fastscan.readers()
        tracemalloc.start()
        try:
            [summary] = scan([path], io.StringIO())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert 2000 == summary.records
        assert peak < 1_000_000

    def test_console_script(self):
        """The installed command scans the sample, as the README shows."""
        result = subprocess.run(
            [sys.executable, "-m", "twpolicy", "scan", "--exit-zero", str(SAMPLE)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "4 with standalone location" in result.stdout


@pytest.mark.corpus
class TestCorpus:
    def test_scan_agrees_with_the_loader(self, corpus, capsys):
        """For files that are JSON as stored, scan reads the same records and findings."""
        documents = {}
        for doc in load(corpus):
            if doc.carrier in {"json", "jsonl", "concatenated"}:
                documents.setdefault(doc.path, []).append(doc)
        for path, docs in documents.items():
            [summary] = scan([str(corpus / path)], io.StringIO())
            expected = [doc for doc in docs if doc.error is None]
            assert len(docs) == summary.records, path
            assert len(docs) - len(expected) == summary.unreadable, path
            standalone = sum(f.standalone for doc in expected for f in find_geo(doc.value))
            assert standalone == summary.standalone_data, path


class TestFastPath:
    """Past `FAST_AFTER` bytes, scan reads known lines on the fast location path: same report."""

    @pytest.mark.corpus
    @pytest.mark.parametrize("output", ["text", "json"])
    def test_same_report_either_way(self, corpus, tmp_path, monkeypatch, output):
        values = [doc.value for doc in load(corpus) if doc.error is None]
        data = SAMPLE.read_bytes() + jsonl(*values) + SAMPLE.read_bytes()
        path = tmp_path / "mixed.jsonl"
        path.write_bytes(data)
        reports = []
        for after in (len(data) + 1, 0):  # never, then from the first byte
            monkeypatch.setattr(_scan, "FAST_AFTER", after)
            out = io.StringIO()
            summaries = scan([str(path)], out, output=output, show_all=True)
            reports.append((out.getvalue(), [s.to_record() for s in summaries]))
        assert reports[0] == reports[1]
        assert reports[1][1][0]["with_location"] > 0

    def test_small_inputs_never_generate_it(self, monkeypatch, tmp_path):
        """The fast path is generated only once an input is large: start-up stays small."""
        parse = _scan._Parser(json.loads)
        assert parse(b'{"a": 1}') == {"a": 1}
        assert parse.fast is None
        monkeypatch.setattr(_scan, "FAST_AFTER", 10)
        line = jsonl({"id_str": "1", "text": "hi", "user": {"screen_name": "a"}}).strip()
        assert type(parse(line)).__name__ == "FastLine"
        assert type(parse(line)).__name__ == "FastLine"
        assert parse.fast is not None

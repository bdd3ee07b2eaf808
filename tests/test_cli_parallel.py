"""``--jobs``: a large plain file read by many processes gives what one process gives."""

import contextlib
import functools
import gzip
import io
import itertools
import json
import os
import re
import signal
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twpolicy
from conftest import PROJECT
from corpus import load
from scale_data import applied, cli_ids, concatenated, used, write_dataset
from twpolicy._cli import _dehydrate as dehydrate
from twpolicy._cli import _parallel, _scan
from twpolicy._cli._dehydrate import IdReader, ParallelIdReader
from twpolicy._cli._main import main
from twpolicy._cli._parallel import chunks, default_jobs, shift_lines, splittable
from twpolicy._enforce import _compliance as _enforce_compliance
from twpolicy._payloads import _chunks
from twpolicy._payloads import _fastids as fastids

PAGE = {
    "data": [{"id": "21", "text": "...", "author_id": "5"}],
    "includes": {"users": [{"id": "5", "username": "e", "name": "E"}]},
}
LOSSY = {"id": 1.5e17, "text": "x", "user": {"id": 1, "screen_name": "a"}}
#: A record cut off over several lines: its message names a line of the file.
BROKEN = ["{", '  "data": [', '    {"id": "5",', "  ]", "}"]
SAMPLE = (PROJECT / "examples" / "geo-sample.jsonl").read_text()


@pytest.fixture(name="big")
def _big(tmp_path, monkeypatch):
    """A file of a few hundred records, cut into many chunks (the chunk floor is lowered)."""
    monkeypatch.setattr(_chunks, "MIN_CHUNK", 1024)
    lines = []
    for index in range(300):
        page = json.loads(json.dumps(PAGE))
        page["data"][0]["id"] = str(1000 + index % 97)  # repeats across chunks
        page["data"][0]["author_id"] = str(index % 13)
        lines.append(json.dumps(page))
        if index % 50 == 7:
            lines += ["not json", json.dumps(LOSSY), "", *BROKEN]
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys, *argv):
    out = io.StringIO()
    code = main(["dehydrate", "--format", "json", *map(str, argv)], out=out)
    err = capsys.readouterr().err.splitlines()
    return code, out.getvalue(), json.loads(next(line for line in err if line.startswith("{")))


class TestJobs:
    @pytest.mark.parametrize("kind", ["tweets", "users"])
    def test_same_output_as_one_process(self, big, capsys, kind):
        """IDs, order, counts and the lines of skipped records are those of one process."""
        one = run(capsys, "--jobs", "1", "--kind", kind, big, "-")
        two = run(capsys, "--jobs", "2", "--kind", kind, big, "-")
        assert len(chunks(big.read_bytes(), 2, 1024)) > 2
        assert one == two
        assert 2 == one[0]
        assert len(one[2]["skipped"]) >= 6  # every junk line at least (lossy IDs: by kind)

    def test_strict_stops_as_one_process(self, big, capsys):
        """--strict names the same first bad line with any number of processes."""
        one = run(capsys, "--jobs", "1", "--strict", big, "-")
        two = run(capsys, "--jobs", "3", "--strict", big, "-")
        assert 2 == one[0]
        assert one == two

    def test_quota_is_counted_once(self, big, tmp_path, capsys):
        """The parent charges the recipient once, for every unique ID."""
        url = f"sqlite:///{tmp_path / 'quotas.db'}"
        with twpolicy.open_quotas(url) as ledger:
            ledger.register("acme")
        _, out, summary = run(
            capsys, "--jobs", "2", "--recipient", "acme", "--quota-db", url, big, "-"
        )
        with twpolicy.open_quotas(url) as ledger:
            used = next(u.used for u in ledger.usage("acme") if u.quota == "tweet_ids")
        assert summary["unique_ids"] == len(out.split()) == used == 97

    def test_jobs_must_be_positive(self, capsys):
        """--jobs 0 is refused by the argument parser."""
        with pytest.raises(SystemExit):
            main(["dehydrate", "--jobs", "0", "-", "-"])
        assert "not a number of processes" in capsys.readouterr().err


class TestChunk:
    @pytest.mark.parametrize("strict", [False, True])
    def test_a_chunk_reads_as_one_process(self, big, strict):
        """A worker's chunk gives one process's IDs and skipped lines for that span."""
        reader = IdReader("tweets", on_error=lambda line, detail: None)
        with big.open("rb") as stream:
            expected = [value for ids in reader.new_ids(stream) for value in ids]
        work = functools.partial(
            _parallel._chunk_ids, kind="tweets", max_bytes=2**20, strict=strict
        )
        part = _chunks.read_in_place(str(big), 0, big.stat().st_size, work)
        assert expected[: len(part.result.ids)] == part.result.ids
        assert 1 if strict else len(part.result.skipped) > 1
        assert big.read_text().count("\n") == part.lines


class TestSplitting:
    def test_chunks_start_records_and_cover_the_file(self):
        """Chunks cover the data, each starting at a line that opens a record."""
        data = b"".join(b'{"a": %d}\n  {"b": 1}\n' % i for i in range(500))
        found = chunks(data, 4, min_chunk=100)
        assert (0, len(data)) == (found[0][0], found[-1][1])
        assert all(end == start for (_, end), (start, _) in itertools.pairwise(found))
        assert all(data[start : start + 1] == b"{" for start, _ in found)
        assert [(0, 5)] == chunks(b"[1]\n\n", 4, min_chunk=1)
        array = b"[\n" + b'{"a": 1},\n' * 100 + b'{"a": 1}\n]\n'  # elements at column 0
        assert [(0, len(array))] == chunks(array, 4, min_chunk=10)

    def test_only_plain_files_are_split(self, tmp_path):
        """Standard input, compressed files, UTF-16 and directories are read by one process."""
        plain = tmp_path / "a.jsonl"
        plain.write_text("{}\n")
        packed = tmp_path / "a.jsonl.gz"
        packed.write_bytes(gzip.compress(b"{}\n"))
        wide = tmp_path / "w.jsonl"
        wide.write_text("{}\n", encoding="utf-16")
        assert 3 == splittable(str(plain))
        assert [0, 0, 0, 0, 0] == [
            splittable(name)
            for name in ("-", str(packed), str(wide), str(tmp_path), str(tmp_path / "none"))
        ]
        assert default_jobs() >= 1


def is_json(text):
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.fixture(name="spied")
def _spied(monkeypatch):
    """The chunks each parallel scan was cut into (lists of byte ends)."""
    runs = []

    def spy(*args):
        runs.append([])
        for part in _parallel.map_chunks(*args):
            runs[-1].append(part.end)
            yield part

    monkeypatch.setattr(_scan, "map_chunks", spy)
    return runs


def scan_run(capsys, *argv):
    """``twpolicy scan``: (exit code, report, standard error)."""
    out = io.StringIO()
    code = main(["scan", *map(str, argv)], out=out)
    return code, out.getvalue(), capsys.readouterr().err


class TestScanJobs:
    @pytest.fixture(name="geo")
    def _geo(self, tmp_path, monkeypatch):
        """A few MiB of location data, then pretty-printed records, junk and cut-off ones.

        The bad records come last: a report lists only each file's first 20.
        """
        monkeypatch.setattr(_chunks, "MIN_CHUNK", 256 * 1024)
        good = [line for line in SAMPLE.splitlines() if line.startswith("{") and is_json(line)]
        bad = [SAMPLE, "not json", json.dumps(LOSSY), "", *BROKEN, "42"]
        path = tmp_path / "geo.jsonl"
        path.write_text("\n".join(good * 700 + bad * 3) + "\n")
        return path

    @pytest.mark.parametrize("options", [[], ["--all"], ["--format", "json", "--all"]])
    def test_same_report_as_one_process(self, geo, capsys, spied, options):
        """Findings, their order, record numbers, lines, messages, counts and exit code."""
        one = scan_run(capsys, "--jobs", "1", *options, geo)
        two = scan_run(capsys, "--jobs", "2", *options, geo)
        assert geo.stat().st_size > 2 * 2**20
        assert [len(ends) for ends in spied] == [8]  # --jobs 1 cut nothing
        assert one == two
        assert 2 == one[0]
        assert 6 == one[1].count("unreadable, skipped") + one[1].count('"error": "')
        cut = re.findall(r"(\d+)\D{,40}cut off: a new record starts on line (\d+)", one[1])
        before_last_chunk = geo.read_bytes()[: spied[0][-2]].count(b"\n")
        assert len(cut) >= 3  # in the last chunk, numbered as in the file
        assert all(int(start) == int(end) + 1 > before_last_chunk for end, start in cut)

    def test_many_files_and_exit_zero(self, geo, tmp_path, capsys, spied):
        """Small files are read in the parent, large ones split, totals as one process's."""
        small = tmp_path / "small.jsonl"
        small.write_text(SAMPLE)
        argv = ("--exit-zero", "--format", "json", geo, small, geo)
        assert scan_run(capsys, "--jobs", "1", *argv) == scan_run(capsys, "--jobs", "3", *argv)
        assert 2 == len(spied)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        pieces=st.lists(
            st.sampled_from(
                [*SAMPLE.splitlines(), "not json", *BROKEN, "", "[1]", "{", "[", '{"a": 1},', "]"]
            ),
            max_size=120,
        ),
        jobs=st.integers(2, 4),
    )
    def test_any_input_reads_as_one_process(self, pieces, jobs, tmp_path, monkeypatch):
        """Whatever lines a file holds, and wherever it is cut, --jobs changes no report."""
        monkeypatch.setattr(_chunks, "MIN_CHUNK", 64)
        path = tmp_path / "any.jsonl"
        path.write_text("\n".join(["{}", *pieces]) + "\n")
        reports = []
        for count in (1, jobs):
            out = io.StringIO()
            summaries = _scan.scan([str(path)], out, output="json", show_all=True, jobs=count)
            reports.append((out.getvalue(), [summary.to_record() for summary in summaries]))
        assert reports[0] == reports[1]
        one = IdReader("tweets")
        many = ParallelIdReader(str(path), "tweets", jobs)
        assert read_ids(one, path) == read_ids(many, path)


#: Lines the in-place reader meets: v2 pages it decodes (one with an unknown key, read by the
#: walker; one with an ID that is no decimal string, skipped), byte order marks, carriage
#: returns, blank and spaced lines, records over many lines, text that is not JSON.
PLACE_LINES = [
    json.dumps(PAGE),
    json.dumps({**PAGE, "data": [{"id": "77", "text": "x"}]}),
    json.dumps({**PAGE, "unknown": {"id_str": "88"}}),
    json.dumps({**PAGE, "data": [{"id": "0x1f", "text": "x"}]}),
    json.dumps(LOSSY),
    "\ufeff" + json.dumps(PAGE),
    json.dumps(PAGE) + "\r",
    "\r",
    "\ufeff",
    "",
    "   ",
    " " + json.dumps(PAGE),
    json.dumps(PAGE) + " ",
    '{"a": 1} {"b": 2}',
    '[{"id": "9", "text": "x"}]',
    "[1]",
    "{}",
    "not json",
    *BROKEN,
    "{",
    "[",
    "]",
    "x" * 300,
    json.dumps({**PAGE, "meta": {"padding": "x" * 300}}),
]


class TestInPlace:
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        pieces=st.lists(st.sampled_from(PLACE_LINES), max_size=60),
        form=st.tuples(
            st.sampled_from(["\n", ""]), st.sampled_from(["tweets", "users"]), st.booleans()
        ),
    )
    def test_reads_as_the_record_reader(self, pieces, form, tmp_path, monkeypatch):
        """Lines decoded in place give the record reader's IDs, records and skipped lines.

        With one job (chunks read here, one after the other) and with two (workers), the
        chunk floor lowered so that a small file is cut; lines over the size limit too.
        """
        monkeypatch.setattr(_chunks, "MIN_CHUNK", 256)
        end, kind, strict = form
        path = tmp_path / "any.jsonl"
        path.write_text("\n".join(pieces) + end, encoding="utf-8")
        options = {"strict": strict, "max_bytes": 250}
        found = [
            read_or_stop(reader, path)
            for reader in (
                IdReader(kind, **options),
                ParallelIdReader(str(path), kind, 1, **options),
                ParallelIdReader(str(path), kind, 2, **options),
            )
        ]
        assert found[0] == found[1] == found[2]

    def test_whole_lines_are_read_in_place(self, tmp_path, monkeypatch):
        """v2 lines, with a byte order mark or a carriage return, are decoded by the fast ID
        path from a view of the mapped file; the record reader reads none of them."""
        seen, fallback = [], []
        real = fastids.fresh_ids

        def spy(line, kind, known):
            seen.append(type(line))
            return real(line, kind, known)

        monkeypatch.setattr(fastids, "fresh_ids", spy)
        monkeypatch.setattr(_parallel, "chunk_records", lambda *args: fallback.append(args))
        page = json.dumps(PAGE)
        path = tmp_path / "pages.jsonl"
        path.write_text(f"{page}\n\ufeff{page}\n{page}\r\n\n{page}", encoding="utf-8")
        reader = ParallelIdReader(str(path), "tweets", 1)
        assert (["21"], [], 4, 0) == read_ids(reader, path)
        assert [memoryview] * 4 == seen
        assert [] == fallback
        work = functools.partial(_parallel._chunk_ids, kind="tweets", max_bytes=2**20, strict=False)
        assert 4 == _chunks.read_in_place(str(path), 0, path.stat().st_size, work).lines

    @pytest.mark.parametrize("strict", [False, True])
    def test_a_walked_line_then_a_record_cut_off_by_a_chunk(self, tmp_path, monkeypatch, strict):
        """A whole line the walker refuses, then a record a chunk's end cuts off: named as
        one process names them (the chunk floor lowered so that the file is cut there)."""
        monkeypatch.setattr(_chunks, "MIN_CHUNK", 16)
        path = tmp_path / "cut.jsonl"
        path.write_text(json.dumps(LOSSY) + '\n{\n"a": [1,\n2]\n{"b": 1}\n' + json.dumps(PAGE))
        assert len(chunks(path.read_bytes(), 1, 16)) > 1
        one = read_or_stop(IdReader("tweets", strict=strict), path)
        assert one == read_or_stop(ParallelIdReader(str(path), "tweets", 1, strict=strict), path)
        if not strict:
            assert "lines 2-4: cut off: a new record starts on line 5" == one[1][1][1]
        # A chunk ending before line 5, as a worker reads it.
        work = functools.partial(
            _parallel._chunk_ids, kind="tweets", max_bytes=2**20, strict=strict
        )
        cut = path.read_bytes().index(b'{"b"')
        found = _chunks.read_in_place(str(path), 0, cut, work).result
        every = read_ids(IdReader("tweets"), path)[1]
        assert every[: 1 if strict else 2] == found.skipped
        part = _chunks._read_chunk(str(path), 0, 8, lambda chunk: chunk)
        assert (_parallel.Chunk(path.read_bytes()[:8], True), 0) == (part.result, part.lines)

    def test_an_empty_file(self, tmp_path):
        """An empty file (which cannot be mapped) holds no record."""
        path = tmp_path / "empty.jsonl"
        path.write_bytes(b"")
        assert ([], [], 0, 0) == read_ids(ParallelIdReader(str(path), "tweets", 1), path)


def read_or_stop(reader, path):
    """`read_ids`, or why ``--strict`` stopped."""
    try:
        return read_ids(reader, path)
    except twpolicy.PayloadError as exc:
        return str(exc)


def read_ids(reader, path):
    """What a dehydrate reader gives: IDs, skipped records, records and bad ones."""
    skipped = []
    reader.on_error = lambda line, detail: skipped.append((line, detail))
    with path.open("rb") as stream:
        ids = [value for new in reader.new_ids(stream) for value in new]
    return ids, skipped, reader.records, reader.bad


def test_shift_lines():
    """Lines of the file move with the chunk; places within a record do not."""
    message = "lines 3-9: not valid JSON (Expecting value: line 2 column 5 (char 9), line 4)"
    assert "lines 13-19: not valid JSON (Expecting value: line 2 column 5 (char 9), line 14)" == (
        shift_lines(message, 10)
    )
    assert "cut off: a new record starts on line 12" == shift_lines(
        "cut off: a new record starts on line 2", 10
    )


# -- twpolicy comply --jobs ------------------------------------------------------------------


@pytest.fixture(name="recorded")
def _recorded(corpus, tmp_path, monkeypatch):
    """A JSON Lines dataset of recorded payloads (a few MiB, cut into many chunks), and events.

    The events delete every fifth Tweet, delete one user (a reversible removal: its IDs are
    withdrawn) and strip another user's location, all taken from the dataset itself.
    """
    monkeypatch.setattr(_chunks, "MIN_CHUNK", 64 * 1024)
    lines = []
    for document in load(corpus):
        text = json.dumps(document.value) if document.error is None else ""
        if text.startswith("{") and len(text) < 100_000:
            lines.append(text)
        if len(lines) % 97 == 5:
            lines.append("   ")  # whitespace lines are kept as they are
    dataset = tmp_path / "recorded.jsonl"
    dataset.write_text("\n".join(lines * 2) + "\n")
    tweets = cli_ids(dataset)
    users = cli_ids(dataset, "users")
    messages = [{"delete": {"status": {"id_str": i, "user_id_str": "1"}}} for i in tweets[::5]]
    placed = located(lines)
    assert placed, "the corpus holds geotagged Tweets"
    messages += [
        {"scrub_geo": {"user_id_str": author, "up_to_status_id_str": tweet}}
        for author, tweet in placed[::3]
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(message) + "\n" for message in messages))
    gone = tmp_path / "users.jsonl"
    gone.write_text(json.dumps({"id": users[1], "action": "delete", "reason": "protected"}) + "\n")
    return dataset, events, gone


def located(lines):
    """(author, Tweet ID) of Tweets with a location (v1.1 or v2) among JSON ``lines``."""
    found = []
    for record in (json.loads(line) for line in lines if line.strip()):
        if record.get("coordinates") or record.get("place"):
            author = (record.get("user") or {}).get("id_str")
            found += [(author, record.get("id_str"))] if author else []
        data = record.get("data")
        for tweet in data if isinstance(data, list) else [data]:
            if isinstance(tweet, dict) and tweet.get("geo") and tweet.get("author_id"):
                found.append((tweet["author_id"], tweet["id"]))
    return found


def comply_run(capsys, dataset, jobs, *events, before=None):
    """``twpolicy comply --jobs`` on a copy of ``dataset`` (or of ``before``, its bytes).

    Returns (exit code, report, the copy, ledger URL).
    """
    copy = dataset.with_name(f"jobs-{jobs}.jsonl")
    copy.write_bytes(dataset.read_bytes() if before is None else before)
    url = f"sqlite:///{dataset.with_name(f'jobs-{jobs}.db')}"
    out = io.StringIO()
    code = main(
        ["comply", "--jobs", str(jobs), "--format", "json", "--dataset", str(copy),
         "--compliance-db", url, *map(str, events)],
        out=out,
    )  # fmt: skip
    capsys.readouterr()
    report = json.loads(out.getvalue()) if out.getvalue() else None
    return code, report, copy, url


def ledger_state(url):
    """Every event's state and what it changed, without where or when."""
    with twpolicy.open_compliance(url, create=False) as ledger:
        return [
            (s.key, s.state, [a.changed for a in s.applied], len(s.applied))
            for s in ledger.status()
        ]


class TestComplyJobs:
    def test_same_dataset_report_and_ledger(self, recorded, capsys):
        """Two processes write the bytes one writes, report the same and mark each event once."""
        dataset, events, gone = recorded
        one = comply_run(capsys, dataset, 1, events, "--users-job", gone)
        two = comply_run(capsys, dataset, 2, events, "--users-job", gone)
        assert len(chunks(dataset.read_bytes(), 2, 64 * 1024)) > 4
        assert (0, 0) == (one[0], two[0])
        assert one[2].read_bytes() == two[2].read_bytes() != dataset.read_bytes()
        withdrawn = [p.with_name(p.name + ".withdrawn.jsonl").read_text() for p in (one[2], two[2])]
        assert withdrawn[0] == withdrawn[1] != ""
        ignored = {"dataset", "out", "target", "attempt_id"}
        assert {k: v for k, v in one[1].items() if k not in ignored} == {
            k: v for k, v in two[1].items() if k not in ignored
        }
        assert one[1]["records_dropped"] > 0
        assert one[1]["scrubbed"] > 0
        state = ledger_state(one[3])
        assert state == ledger_state(two[3])
        assert all(s[1] == "applied" and s[3] == 1 for s in state)

    def test_a_line_that_is_not_json_in_a_late_chunk(self, recorded, capsys):
        """The refusal names the line in the whole file; nothing changes, nothing is applied."""
        dataset, events, _ = recorded
        doomed = json.loads(events.read_text().splitlines()[0])["delete"]["status"]["id_str"]
        with dataset.open("a") as handle:
            handle.write('{"id": "%s", "text": broken\n' % doomed)  # noqa: UP031  # JSON braces
        number = dataset.read_text().count("\n")
        one = comply_run(capsys, dataset, 1, events)
        two = comply_run(capsys, dataset, 3, events)
        for code, _, copy, url in (one, two):
            assert code != 0
            assert copy.read_bytes() == dataset.read_bytes()
            assert {s[1] for s in ledger_state(url)} == {"pending"}
            assert [] == list(copy.parent.glob(".*.tmp"))  # no temporary file is left
        errors = []
        for jobs in (1, 3):
            copy = dataset.with_name(f"jobs-{jobs}.jsonl")
            with pytest.raises(twpolicy.PayloadError) as caught:
                twpolicy.apply_compliance(
                    twpolicy.open_compliance(f"sqlite:///{copy.with_suffix('.db')}"),
                    twpolicy.JsonLinesApplier(str(copy), out=None, jobs=jobs),
                )
            errors.append(str(caught.value).replace(f"jobs-{jobs}", "jobs-N"))
        assert errors[0] == errors[1]
        assert f"line {number} is not JSON" in errors[0]

    def test_jobs_must_be_positive(self, capsys):
        """--jobs 0 is refused by comply's argument parser too."""
        with pytest.raises(SystemExit):
            main(["comply", "--jobs", "0", "--dataset", "x"])
        assert "not a number of processes" in capsys.readouterr().err

    def test_a_chunk_cleans_as_one_process(self, recorded, tmp_path):
        """A worker's chunk is cleaned as the applier cleans it; a bad line is numbered in it."""
        dataset, _, _ = recorded
        text = dataset.read_text()
        tweet = cli_ids(dataset)[0]
        events = twpolicy.compliance_events({"delete": {"status": {"id_str": tweet}}})
        expected, report = applied(dataset, events, tmp_path)
        ledger = twpolicy.open_compliance("memory://")
        ledger.record(events)
        _enforce_compliance._receive(ledger.snapshot())
        cleaned = _enforce_compliance._clean_chunk(_chunks.Chunk(text.encode(), more=False))
        data = text.encode()
        assert cleaned.bad is None
        assert expected == b"".join(_enforce_compliance.splice(data, 0, len(data), cleaned.edits))
        assert all(replacement != data[start:end] for start, end, replacement in cleaned.edits)
        assert (cleaned.read, cleaned.dropped) == (report.records_read, report.records_dropped)
        bad = _enforce_compliance._clean_chunk(
            _chunks.Chunk(b'{}\n{"id": %s\n' % tweet.encode(), True)
        )
        assert ([], 2) == (bad.edits, bad.bad)


def test_a_killed_comply_leaves_the_old_dataset(recorded, capsys):
    """SIGKILL half-way through ``comply --jobs 2``: the old dataset stays, whole; the next
    run settles the attempt and writes what one process writes, each event applied once."""
    dataset, events, _ = recorded
    before = dataset.read_bytes()
    url = f"sqlite:///{dataset.with_name('killed.db')}"
    worker = PROJECT / "tests" / "scale_worker.py"
    with subprocess.Popen(  # this interpreter, a test helper
        [sys.executable, str(worker), "comply", str(dataset), str(events), url],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its worker processes are in its group
    ) as parent:
        try:
            assert "written\n" == parent.stdout.readline()
            assert list(dataset.parent.glob(f".{dataset.name}.*.tmp"))  # half written
            os.kill(parent.pid, signal.SIGKILL)
            assert -signal.SIGKILL == parent.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(parent.pid, signal.SIGKILL)
    assert before == dataset.read_bytes()
    assert {"pending"} == {s[1] for s in ledger_state(url)}
    out = io.StringIO()
    assert 0 == main(["comply", "--jobs", "2", "--dataset", str(dataset), "--compliance-db", url],
                     out=out)  # fmt: skip
    one = comply_run(capsys, dataset.with_name("original.jsonl"), 1, events, before=before)
    assert one[2].read_bytes() == dataset.read_bytes()
    assert [] == list(dataset.parent.glob(".*.tmp"))
    assert all(s[1] == "applied" and s[3] == 1 for s in ledger_state(url))


# -- twpolicy dehydrate FILE [FILE ...] -------------------------------------------------------


@pytest.fixture(name="parts")
def _parts(tmp_path, monkeypatch, big):
    """Small files (read whole by workers), a large one (split), a gzip one; the floor lowered."""
    monkeypatch.setattr(_chunks, "MIN_CHUNK", 32 * 1024)
    small = write_dataset(tmp_path, files=3, per_file=8)
    large = tmp_path / "large.jsonl"
    large.write_bytes(big.read_bytes() * 4)
    assert max(p.stat().st_size for p in small) < 64 * 1024 < large.stat().st_size
    packed = tmp_path / "packed.jsonl.gz"
    packed.write_bytes(gzip.compress(small[0].read_bytes()))
    return [small[0], large, small[1], packed, small[2]]


class TestManyFiles:
    @pytest.mark.parametrize("jobs", ["1", "2", "3"])
    def test_as_one_file(self, parts, tmp_path, capsys, jobs):
        """IDs, order and counts of the files one after the other, read by any processes."""
        whole = concatenated(
            [p if p.suffix != ".gz" else p.with_name("part-0.jsonl") for p in parts],
            tmp_path / "whole.jsonl",
        )
        alone = run(capsys, "--jobs", "1", whole, "-")
        many = run(capsys, "--jobs", jobs, *parts, "-o", "-")
        assert alone[:2] == many[:2]
        assert {k: v for k, v in alone[2].items() if k != "skipped"} == {
            k: v for k, v in many[2].items() if k != "skipped"
        }
        skipped = [(s["lines"].split()[0], s["error"]) for s in many[2]["skipped"]]
        numbered = [re.sub(r"\d+", "N", s["error"]) for s in alone[2]["skipped"]]  # in its file
        assert numbered == [re.sub(r"\d+", "N", why) for _, why in skipped]
        assert {str(p) for p in parts} == {name for name, _ in skipped}

    def test_same_report_with_any_jobs(self, parts, capsys):
        """Skipped records are named by file and line, the same with one process or three."""
        one = run(capsys, "--jobs", "1", *parts, "-o", "-")
        three = run(capsys, "--jobs", "3", *parts, "-o", "-")
        assert one == three
        assert any(s["lines"].startswith(f"{parts[1]} line") for s in one[2]["skipped"])

    def test_strict_stops_at_the_first_file_with_a_bad_record(self, parts, capsys):
        """--strict names the same file and line, and counts the same, with any processes."""
        one = run(capsys, "--jobs", "1", "--strict", *parts, "-o", "-")
        two = run(capsys, "--jobs", "2", "--strict", *parts, "-o", "-")
        assert one == two
        assert 2 == one[0]
        assert one[2]["records"] < 16

    def test_damage_stops_and_names_the_file(self, parts, tmp_path, capsys):
        """A damaged compressed file stops the run there, named, whatever the processes."""
        broken = tmp_path / "broken.jsonl.gz"
        broken.write_bytes(parts[3].read_bytes()[:-12])
        files = [parts[0], broken, parts[2]]
        outcomes = []
        for jobs in ("1", "2"):
            outcomes.append(run(capsys, "--jobs", jobs, *files, "-o", tmp_path / "ids.txt"))
            assert not (tmp_path / "ids.txt").exists()
        assert outcomes[0] == outcomes[1]
        assert outcomes[0][2]["damage"]

    def test_stdin_among_files(self, parts, monkeypatch, capsys):
        """``-`` reads standard input in its place among the files."""
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(parts[2].read_bytes())))
        from_stdin = run(capsys, "--jobs", "2", parts[0], "-", "-o", "-")
        named = run(capsys, "--jobs", "2", parts[0], parts[2], "-o", "-")
        assert from_stdin[:2] == named[:2]

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["a.jsonl"], "say where the IDs go"),
            (["a.jsonl", "b.jsonl", "c.jsonl"], "say where the IDs go"),
            (["-", "-", "-o", "-"], "standard input (-) can be read once"),
        ],
    )
    def test_refused(self, argv, message, capsys):
        """An output must be named; standard input can be read once."""
        assert 2 == main(["dehydrate", *argv])
        assert message in capsys.readouterr().err

    @pytest.mark.parametrize("jobs", ["1", "2"])
    def test_a_missing_file(self, parts, tmp_path, capsys, jobs):
        """A file that cannot be read is named; nothing is written."""
        out = tmp_path / "ids.txt"
        argv = ["dehydrate", "--jobs", jobs, parts[0], tmp_path / "none.jsonl", "-o", out]
        assert 2 == main(list(map(str, argv)))
        assert "cannot read" in capsys.readouterr().err
        assert not out.exists()

    def test_quota_and_compliance_over_files(self, parts, tmp_path, capsys):
        """The recipient is charged once for the files' unique IDs; gone IDs are left out."""
        quotas = f"sqlite:///{tmp_path / 'quotas.db'}"
        with twpolicy.open_quotas(quotas) as ledger:
            ledger.register("acme")
        ids = run(capsys, "--jobs", "1", *parts, "-o", "-")[1].split()
        compliance = f"sqlite:///{tmp_path / 'compliance.db'}"
        with twpolicy.open_compliance(compliance) as ledger:
            ledger.record(twpolicy.compliance_events({"delete": {"status": {"id_str": ids[1]}}}))
        alone = run(capsys, "--jobs", "1", "--compliance-db", compliance, *parts, "-o", "-")
        code, out, summary = run(
            capsys, "--jobs", "2", "--recipient", "acme", "--quota-db", quotas,
            "--compliance-db", compliance, *parts, "-o", "-",
        )  # fmt: skip
        assert (2, alone[1]) == (code, out)
        assert ids[1] not in out.split()
        assert summary["gone_left_out"] == alone[2]["gone_left_out"] >= 1  # retweets go too
        with twpolicy.open_quotas(quotas) as ledger:
            assert len(out.split()) == used(ledger, "acme") < len(ids)

    @pytest.mark.parametrize("strict", [False, True])
    def test_a_whole_file_reads_as_one_process(self, parts, strict):
        """A worker's whole file gives one process's IDs, skipped lines and damage."""
        alone = IdReader("tweets", strict=strict, on_error=lambda line, detail: None)
        ids = []
        with contextlib.suppress(twpolicy.PayloadError), parts[0].open("rb") as stream:
            for new in alone.new_ids(stream):
                ids += new
        found = dehydrate._file_ids(str(parts[0]), "tweets", 2**20, strict=strict)
        assert (ids, alone.records, None) == (found.ids, found.records, found.damage)
        assert bool(found.failed) == strict != bool(found.skipped)

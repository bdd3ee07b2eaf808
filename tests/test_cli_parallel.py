"""``--jobs``: a large plain file read by many processes gives what one process gives."""

import gzip
import io
import itertools
import json

import pytest

import twpolicy
from twpolicy._cli import _parallel
from twpolicy._cli._dehydrate import IdReader
from twpolicy._cli._main import main
from twpolicy._cli._parallel import chunks, default_jobs, splittable

PAGE = {
    "data": [{"id": "21", "text": "...", "author_id": "5"}],
    "includes": {"users": [{"id": "5", "username": "e", "name": "E"}]},
}
LOSSY = {"id": 1.5e17, "text": "x", "user": {"id": 1, "screen_name": "a"}}


@pytest.fixture(name="big")
def _big(tmp_path, monkeypatch):
    """A file of a few hundred records, cut into many chunks (the chunk floor is lowered)."""
    monkeypatch.setattr(_parallel, "MIN_CHUNK", 1024)
    lines = []
    for index in range(300):
        page = json.loads(json.dumps(PAGE))
        page["data"][0]["id"] = str(1000 + index % 97)  # repeats across chunks
        page["data"][0]["author_id"] = str(index % 13)
        lines.append(json.dumps(page))
        if index % 50 == 7:
            lines += ["not json", json.dumps(LOSSY), ""]
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
        part = _parallel._read_chunk(
            str(big), 0, big.stat().st_size, "tweets", 2**20, strict=strict
        )
        assert expected[: len(part.ids)] == part.ids
        assert 1 if strict else len(part.skipped) > 1
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

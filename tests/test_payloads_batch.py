import gc
import hashlib
import io
import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twpolicy import strategies as tws
from twpolicy._cli._dehydrate import IdReader
from twpolicy._cli._scan import scan
from twpolicy._payloads._batch import (
    IdKernel,
    Manifest,
    collector_paused,
    dehydrate_lines,
    ids_sha256,
    merge,
    owner,
    scan_lines,
    total,
)
from twpolicy._payloads._ids import ids_in
from twpolicy.exceptions import PayloadError

PAGE = {
    "data": [{"id": "21", "text": "...", "author_id": "5"}],
    "includes": {"users": [{"id": "5", "username": "e", "name": "E", "pinned_tweet_id": "19"}]},
}
V1 = {"id": 30, "id_str": "30", "text": "x", "user": {"id": 1, "id_str": "1", "screen_name": "a"}}
LOSSY = {"id": 1.5e17, "text": "x", "user": {"id": 1, "screen_name": "a"}}
GEO = {"type": "Point", "coordinates": [1.5, 2.5]}  # location standing alone


def cli_ids(text, kind="tweets"):
    """What `twpolicy dehydrate`'s reader gives for ``text``."""
    reader = IdReader(kind)
    return [value for ids in reader.new_ids(io.BytesIO(text.encode())) for value in ids]


lines = st.lists(
    st.one_of(tws.api_responses(), tws.tweets("v1.1"), tws.users("v2")).map(json.dumps),
    min_size=1,
    max_size=6,
)


class TestDehydrateLines:
    def test_ids_unique_in_first_seen_order(self):
        """IDs come once each, first seen first, as the command line gives them."""
        text = "".join(json.dumps(p) + "\n" for p in (PAGE, V1, PAGE))
        batch = dehydrate_lines(text.splitlines(keepends=True), "tweets")
        assert cli_ids(text) == batch.ids == ["21", "19", "30"]
        assert Manifest(0, 3, 0, 3, ids_sha256(["21", "19", "30"])) == batch.manifest

    def test_bad_lines_are_listed_and_skipped(self):
        """Lines that are not JSON, or hold an untrustworthy ID, are skipped by number."""
        raw = [json.dumps(PAGE), "", "{not json", json.dumps(LOSSY), "7", b"\xff{", json.dumps(V1)]
        batch = dehydrate_lines(raw, "tweets", partition=3)
        assert ["21", "19", "30"] == batch.ids
        assert [3, 4, 5, 6] == [line for line, _ in batch.errors]
        assert batch.errors[0][1].startswith("not valid JSON (")
        assert "not valid UTF-8 text" == batch.errors[3][1]
        assert (3, 6, 4) == (batch.manifest.partition, batch.manifest.records, 4)

    def test_too_deep_is_unreadable(self):
        """A record nested past the parser's limit is skipped, not fatal."""
        batch = dehydrate_lines(["[" * 100_000 + "]" * 100_000], "tweets")
        assert [(1, "nested too deeply to read")] == batch.errors

    def test_kernel_dedupes_across_batches(self):
        """One kernel given to many batches keeps IDs unique across them."""
        kernel = IdKernel("users")
        first = dehydrate_lines([json.dumps(PAGE)], "users", kernel=kernel)
        second = dehydrate_lines([json.dumps(PAGE), json.dumps(V1)], "users", kernel=kernel)
        assert (["5"], ["1"]) == (first.ids, second.ids)

    def test_kernel_ids_refuses_deep_values(self, monkeypatch):
        """A value the walker cannot get through is a PayloadError naming why."""

        def too_deep(value, kind):
            raise RecursionError

        monkeypatch.setattr("twpolicy._payloads._fastids.record_ids", too_deep)
        with pytest.raises(PayloadError, match="nested too deeply"):
            IdKernel("tweets").ids({})

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(lines, st.sampled_from(["tweets", "users", "dms"]))
    def test_same_ids_as_the_command_line(self, docs, kind):
        """On any JSON lines, the kernel and `twpolicy dehydrate`'s reader agree."""
        text = "".join(doc + "\n" for doc in docs)
        assert cli_ids(text, kind) == dehydrate_lines(docs, kind).ids


class TestSixtyFourBits:
    @given(
        number=st.one_of(st.integers(2**64 - 50, 2**64 + 50), st.integers(10**19, 10**20 - 1)),
        kind=st.sampled_from(["tweets", "users"]),
        compact=st.booleans(),
    )
    def test_batch_and_walker_agree_at_the_edge(self, number, kind, compact):
        """A line holding an ID past 2**64 - 1 is skipped by the batch (fast path or not) as
        the walker refuses it; IDs up to it are read alike."""
        page = {"data": [{"id": str(number), "text": "t", "author_id": str(number)}]}
        line = json.dumps(page, separators=(",", ":") if compact else None)
        batch = dehydrate_lines([line], kind)
        if number > 2**64 - 1:
            assert [] == batch.ids
            assert [1] == [n for n, _ in batch.errors]
            with pytest.raises(PayloadError):
                list(ids_in(page, kind))
        else:
            assert list(ids_in(page, kind)) == batch.ids == [str(number)]


class TestManifests:
    def test_hash_is_the_written_files(self):
        """A manifest's hash is the SHA-256 of the IDs as written, one per line."""
        assert hashlib.sha256(b"1\n22\n").hexdigest() == ids_sha256(["1", "22"])

    def test_merge_orders_and_sums(self):
        """Merging sorts by partition and sums; the hash depends on every partition."""
        a, b = Manifest(0, 5, 1, 2, "aa"), Manifest(1, 4, 0, 3, "bb")
        merged = merge([b, a])
        assert ((a, b), 9, 1, 5) == (merged.partitions, merged.records, 1, merged.ids)
        assert merged.sha256 != merge([a, Manifest(1, 4, 0, 3, "cc")]).sha256
        assert [0, 1] == [p["partition"] for p in merged.to_record()["partitions"]]
        assert (7, 2) == (merge([a], read=(7, 2)).records, merge([a], read=(7, 2)).unreadable)

    def test_merge_refuses_a_partition_twice(self):
        """Two manifests for one partition mean a job ran a partition twice: refused."""
        with pytest.raises(ValueError, match="two manifests"):
            merge([Manifest(0, 1, 0, 0, "x"), Manifest(0, 1, 0, 0, "x")])

    def test_owner_is_stable(self):
        """The bucket of an ID depends on the ID alone (no per-process hash salt)."""
        assert 1 == owner("1000000000000000001", 4)


class TestScanLines:
    def test_counts_match_the_command_line(self, tmp_path):
        """The kernel's counts are `twpolicy scan`'s, on the same JSON lines."""
        docs = [json.dumps(d) for d in (GEO, PAGE, GEO, V1)] + ["{bad"]
        path = tmp_path / "in.jsonl"
        path.write_text("\n".join(docs) + "\n")
        (summary,) = scan([str(path)], io.StringIO(), output="json")
        batch = scan_lines(docs)
        assert summary.to_record() == batch.counts()
        assert [1, 3] == [row["line"] for row in batch.findings]
        assert batch.findings[0]["why"]

    def test_show_all_lists_every_datum(self):
        """With show_all, data that does not stand alone is listed too."""
        tweet = {**GEO, "user": {"id_str": "1", "screen_name": "a"}}
        assert len(scan_lines([json.dumps(tweet)], show_all=True).findings) >= len(
            scan_lines([json.dumps(tweet)]).findings
        )

    def test_too_deep_is_unreadable(self, monkeypatch):
        """A record too deep to parse or walk is counted unreadable."""

        def too_deep(value, *_memory):
            raise RecursionError

        monkeypatch.setattr("twpolicy._payloads._geo.hits", too_deep)
        batch = scan_lines(["{}", "[" * 100_000 + "]" * 100_000, "null"])
        assert [
            (1, "nested too deeply to scan"),
            (2, "nested too deeply to read"),
            (3, "a JSON null, not an object or array"),
        ] == batch.errors

    def test_total_sums_batches(self):
        """Totals add counts and location kinds across batches."""
        one = scan_lines([json.dumps(GEO)]).counts()
        both = total([one, one])
        assert 2 * one["records"] == both["records"]
        assert {k: 2 * v for k, v in one["location_kinds"].items()} == both["location_kinds"]


def _modules_after(argv, names):
    """Which of ``names`` a fresh interpreter has imported after running ``twpolicy argv``."""
    code = (
        "import io, sys\nfrom twpolicy._cli._main import main\n"
        f"assert main({argv!r}, out=io.StringIO()) == 0\n"
        f"print(*[m for m in {names!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert 0 == done.returncode, done.stderr
    return done.stdout.split()


class TestStartUp:
    """Each command imports what it reads with, and not what the other one does."""

    def test_dehydrate_loads_no_location_walk(self, tmp_path):
        data = tmp_path / "data.jsonl"
        data.write_text(json.dumps(PAGE) + "\n", encoding="utf-8")
        argv = ["dehydrate", str(data), str(tmp_path / "ids.txt")]
        names = ("twpolicy._payloads._geo", "twpolicy._cli._scan", "hashlib", "msgspec")
        assert ["msgspec"] == _modules_after(argv, names)

    def test_scan_loads_no_id_path(self, tmp_path):
        data = tmp_path / "data.jsonl"
        data.write_text(json.dumps(V1) + "\n", encoding="utf-8")
        names = ("twpolicy._payloads._geo", "twpolicy._payloads._fastids", "msgspec")
        assert ["twpolicy._payloads._geo"] == _modules_after(["scan", str(data)], names)
        # (hashlib it does load: the location memory's Bloom filters hash what they hold.)


class TestCollectorPaused:
    def test_pauses_and_restores(self):
        """The collector is off inside, and as it was found afterwards (on, or off)."""
        assert gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        try:
            with collector_paused():
                assert not gc.isenabled()
            assert not gc.isenabled()
        finally:
            gc.enable()

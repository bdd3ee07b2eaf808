"""twpolicy.spark end to end, on a real local Spark (``local[2]``), and the Spark docs examples.

Starting Spark costs tens of seconds, so this module starts one session for all its tests.
"""

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

# Not run without the extra or Java, except in CI, where that is a failure (.ci/run has both).
if not os.environ.get("CI"):  # pragma: no cover
    pytest.importorskip("pyspark", reason="needs twpolicy[spark]")
    if shutil.which("java") is None and "JAVA_HOME" not in os.environ:
        pytest.skip("Spark needs a Java runtime", allow_module_level=True)

from pyspark.errors import PythonException
from pyspark.sql import SparkSession

import twpolicy
import twpolicy.spark
from scale_data import (
    applied,
    cli_ids,
    cli_scan_totals,
    concatenated,
    files,
    gone_events,
    used,
    write_dataset,
)
from twpolicy._payloads._batch import total

ROOT = Path(__file__).resolve().parents[1]
SPARK_BLOCK = re.compile(r'^```python title="spark"\n(.*?)^```', re.DOTALL | re.MULTILINE)


@pytest.fixture(name="spark", scope="module")
def _spark():
    """One local Spark session with two cores; its Python workers run this interpreter."""
    saved = os.environ.get("PYSPARK_PYTHON")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("twpolicy-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    if saved is None:
        del os.environ["PYSPARK_PYTHON"]
    else:
        os.environ["PYSPARK_PYTHON"] = saved


@pytest.fixture(name="dataset", scope="module")
def _dataset(tmp_path_factory):
    """Three JSON Lines files, and the same lines as one file for the command line."""
    root = tmp_path_factory.mktemp("scale")
    paths = write_dataset(root)
    return root, concatenated(paths, root / "all.jsonl.txt")


@pytest.fixture(name="ledger")
def _ledger():
    """A quota ledger with one registered recipient, acme."""
    ledger = twpolicy.open_quotas("memory://")
    ledger.register("acme")
    yield ledger
    ledger.close()


def lines(spark, root):
    return spark.read.text(str(root / "part-*.jsonl"))


class TestSpark:
    def test_dehydrate_matches_the_command_line(self, spark, dataset):
        """The DataFrame's one ``id`` column holds the command line's IDs, in its order."""
        root, _ = dataset
        ids = twpolicy.spark.dehydrate(lines(spark, root), kind="tweets", column="value")
        assert ["id"] == ids.columns
        assert cli_ids(files(root), jobs=2) == [row.id for row in ids.collect()]

    def test_file_names_that_need_quoting(self, spark, dataset, tmp_path):
        """Files whose names Spark quotes in URLs keep their place in the order."""
        root, _ = dataset
        quoted = tmp_path / "with space"
        quoted.mkdir()
        for index, path in enumerate(files(root)):
            (quoted / f"part {index}%.jsonl").write_bytes(path.read_bytes())
        df = spark.read.text(str(quoted / "part *.jsonl"))
        assert cli_ids(sorted(quoted.glob("part *.jsonl"))) == [
            row.id for row in twpolicy.spark.dehydrate(df).collect()
        ]

    def test_scan_matches_the_command_line(self, spark, dataset):
        """Scan totals are `twpolicy scan`'s; each finding names its file."""
        root, whole = dataset
        df = lines(spark, root)
        assert cli_scan_totals(whole) == twpolicy.spark.scan_counts(df)
        found = twpolicy.spark.scan(df).collect()
        assert 3 == len({row.file for row in found})
        assert all(row.standalone for row in found)

    def test_export_counts_exactly_and_a_failed_job_releases(
        self, spark, dataset, ledger, tmp_path
    ):
        """The export charges exactly what was written; a job that fails counts nothing."""
        root, _ = dataset
        guard = twpolicy.Guard(quotas=ledger)
        broken = tmp_path / "broken"
        (broken / "part-00001.txt").mkdir(parents=True)  # an executor cannot write it
        with pytest.raises(PythonException, match="IsADirectoryError"):
            twpolicy.spark.export(lines(spark, root), str(broken), recipient="acme", guard=guard)
        assert 0 == used(ledger, "acme")
        assert not (broken / "_MANIFEST.json").exists()
        done = twpolicy.spark.export(
            lines(spark, root), str(tmp_path / "out"), recipient="acme", guard=guard
        )
        written = [
            line
            for path in sorted((tmp_path / "out").glob("part-*.txt"))
            for line in path.read_text().split()
        ]
        assert cli_ids(files(root)) == written
        assert len(written) == used(ledger, "acme") == done.manifest.ids
        assert done.manifest.records == twpolicy.spark.manifests(lines(spark, root)).records
        record = json.loads((tmp_path / "out" / "_MANIFEST.json").read_text())
        assert (True, done.manifest.sha256) == (record["complete"], record["manifest"]["sha256"])

    def test_comply_rewrites_the_dataset_as_the_applier_does(self, spark, dataset, tmp_path):
        """The partitions, rewritten, hold what the JSON Lines applier leaves of the files."""
        root, whole = dataset
        events = gone_events(whole)
        expected, report = applied(whole, events, tmp_path)
        ledger = twpolicy.open_compliance("memory://")
        ledger.record(events)
        out = tmp_path / "clean"
        done = twpolicy.spark.comply(lines(spark, root), str(out), ledger=ledger)
        # Spark packs files into partitions by size: the same lines, in partitions' order.
        written = b"".join(p.read_bytes() for p in sorted(out.glob("part-*.jsonl")))
        assert sorted(expected.splitlines()) == sorted(written.splitlines())
        assert (report.changed, report.removed, len(events)) == (
            done.changed,
            done.removed,
            done.events,
        )

    def test_docs_examples_run(self, spark, tmp_path, monkeypatch):
        """docs/scale.md's Spark examples run, on this session."""
        blocks = SPARK_BLOCK.findall((ROOT / "docs" / "scale.md").read_text(encoding="utf-8"))
        assert blocks
        monkeypatch.chdir(tmp_path)
        namespace = {"spark": spark}
        exec(compile("\n\n".join(blocks), "docs/scale.md", "exec"), namespace)  # noqa: S102


class TestExecutorSide:
    """What the executors run, on Arrow batches in this process (coverage sees it here)."""

    def test_tagging_scanning_and_writing(self, dataset, tmp_path):
        """A partition's tagged IDs, findings, counts and written file agree with the CLI."""
        import pyarrow as pa  # noqa: PLC0415  # with the extra only

        _, whole = dataset
        text = whole.read_text().splitlines()
        batch = pa.RecordBatch.from_arrays(
            [pa.array([*text, None]), pa.array(["f"] * (len(text) + 1))], names=["value", "f"]
        )
        binary = pa.RecordBatch.from_arrays(
            [batch.column(0).cast(pa.binary()), batch.column(1)], names=["value", "f"]
        )
        order = twpolicy.spark._Order({"": 0, "f": 1}, 1, 61)
        tagger = twpolicy.spark._tagger("tweets", order)
        tagged = pa.Table.from_batches(list(tagger(iter([binary]))))
        ids = [value for value in tagged.column("id").to_pylist() if value is not None]
        assert cli_ids(whole) == ids
        keys = tagged.column("key").to_pylist()
        assert list(range(1 << 62, (1 << 62) + len(ids))) == keys[:-1]  # file 1, partition 0
        assert len(text) == keys[-1]  # the records row
        out = tmp_path / "w"
        out.mkdir()
        id_batch = pa.RecordBatch.from_arrays([pa.array(ids)], names=["id"])
        (row,) = list(twpolicy.spark._writer(str(out))(iter([id_batch])))
        assert ids == (out / "part-00000.txt").read_text().split()
        assert row.to_pylist() == next(twpolicy.spark._digest(iter([id_batch]))).to_pylist()
        (counts,) = list(twpolicy.spark._count(iter([batch])))
        expected = cli_scan_totals(whole)
        assert expected == total([json.loads(counts.column(0)[0].as_py())])
        found = list(twpolicy.spark._scanner(show_all=False)(iter([batch])))
        assert expected["standalone_data"] == sum(b.num_rows for b in found)

    def test_complying_a_partition(self, dataset, tmp_path):
        """A partition is cleaned as the JSON Lines applier cleans the file, and written."""
        import types  # noqa: PLC0415

        import pyarrow as pa  # noqa: PLC0415  # with the extra only

        _, whole = dataset
        events = gone_events(whole)
        expected, report = applied(whole, events, tmp_path)
        ledger = twpolicy.open_compliance("memory://")
        ledger.record(events)
        batch = pa.RecordBatch.from_arrays([pa.array(whole.read_text().splitlines())], ["value"])
        shared = types.SimpleNamespace(value=ledger.snapshot())  # what a broadcast gives
        (row,) = list(twpolicy.spark._complier(shared, str(tmp_path))(iter([batch])))
        assert expected == (tmp_path / "part-00000.jsonl").read_bytes()
        assert report.removed == twpolicy.spark._tally(row.column(0)[0].as_py()).removed


class TestOrder:
    """The ordering key: the file's rank, the partition, the place in it, in one long."""

    def test_a_file_spark_did_not_list_is_refused(self):
        """A line from a file missing from the input's list cannot be placed: refused."""
        order = twpolicy.spark._Order({"": 0, "file:///a.jsonl": 1}, 1, 61)
        assert (1 << 62) | (1 << 61) == order.base("file:///a.jsonl", 1)
        assert order.base("file:///a%2Ejsonl", 0) == 1 << 62  # the same name, quoted
        with pytest.raises(twpolicy.PayloadError, match="not among the 1 input files"):
            order.base("file:///b.jsonl", 0)

    def test_a_partition_with_more_ids_than_its_share_is_refused(self):
        """Positions past what the key can number are refused, with the remedy."""
        order = twpolicy.spark._Order({"": 0}, 1, 4)
        order.check(1, 15)
        with pytest.raises(twpolicy.PayloadError, match="maxPartitionBytes"):
            order.check(1, 16)
        with pytest.raises(twpolicy.PayloadError, match="past the 2 partitions"):
            order.check(2, 0)

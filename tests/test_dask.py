"""twpolicy.dask end to end, on a real distributed LocalCluster of two worker processes."""

import gzip
import json
import os
import pickle

import pytest

# Not run without the extra, except in CI, where that is a failure (.ci/run installs it).
if not os.environ.get("CI"):  # pragma: no cover
    pytest.importorskip("distributed", reason="needs twpolicy[dask]")

import dask
import dask.bag as dask_bag
import distributed

import twpolicy
import twpolicy.dask
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
from twpolicy._payloads._batch import ids_sha256


@pytest.fixture(name="client", scope="module")
def _client():
    """A distributed client on a local cluster of two single-threaded worker processes."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(name="dataset", scope="module")
def _dataset(tmp_path_factory):
    """Three JSON Lines files, and the same lines as one file for the command line."""
    root = tmp_path_factory.mktemp("scale")
    paths = write_dataset(root)
    return root, concatenated(paths, root / "all.jsonl.txt")


def lines(root, blocksize=None):
    """The dataset's files as a bag of lines, as users read it."""
    return dask_bag.read_text(str(root / "part-*.jsonl"), blocksize=blocksize)


class TestDehydrate:
    @pytest.mark.parametrize("kind", ["tweets", "users"])
    def test_same_ids_as_the_command_line(self, client, dataset, kind):
        """The bag's IDs are the command line's: same IDs, order and deduplication."""
        root, _ = dataset
        assert cli_ids(files(root), kind) == twpolicy.dask.dehydrate(lines(root), kind).compute()

    def test_same_ids_on_split_files(self, client, dataset):
        """Files cut into many partitions give the same IDs as whole files."""
        root, _ = dataset
        bag = lines(root, blocksize=2048)
        assert bag.npartitions > 3
        assert cli_ids(files(root), jobs=2) == twpolicy.dask.dehydrate(bag).compute()

    def test_manifests_count_what_leaves(self, client, dataset):
        """The merged manifest counts every record, skipped line and ID let out."""
        root, whole = dataset
        manifest = twpolicy.dask.manifests(lines(root))
        expected = cli_ids(whole)
        records = sum(1 for line in whole.read_text().splitlines() if line.strip())
        assert (records, 3, len(expected)) == (manifest.records, manifest.unreadable, manifest.ids)
        assert len(expected) > 20  # the dataset is not trivially small
        parts = [part.compute() for part in twpolicy.dask.dehydrate(lines(root)).to_delayed()]
        assert [ids_sha256(part) for part in parts] == [p.sha256 for p in manifest.partitions]


class TestScan:
    def test_same_counts_as_the_command_line(self, client, dataset):
        """The totals are `twpolicy scan`'s on the same lines."""
        root, whole = dataset
        assert cli_scan_totals(whole) == twpolicy.dask.scan_counts(lines(root))

    def test_findings_name_their_line(self, client, dataset):
        """Each standalone datum is listed with its partition and line."""
        root, _ = dataset
        found = twpolicy.dask.scan(lines(root)).compute()
        assert len(found) >= 3
        assert all(row["standalone"] and row["line"] >= 1 for row in found)


@pytest.fixture(name="ledger")
def _ledger():
    """A quota ledger with one registered recipient, acme."""
    ledger = twpolicy.open_quotas("memory://")
    ledger.register("acme")
    yield ledger
    ledger.close()


class TestExport:
    def test_quota_counts_exactly_what_was_written(self, client, dataset, ledger, tmp_path):
        """The export charges the recipient exactly the IDs written, once."""
        root, _ = dataset
        guard = twpolicy.Guard(quotas=ledger)
        done = twpolicy.dask.export(
            lines(root), str(tmp_path / "out"), recipient="acme", guard=guard
        )
        written = [
            line
            for path in sorted((tmp_path / "out").glob("part-*.txt"))
            for line in path.read_text().split()
        ]
        assert cli_ids(files(root)) == written
        assert len(written) == used(ledger, "acme") == done.manifest.ids
        assert done.manifest.sha256 == done.decision.facts["manifest_sha256"]
        record = json.loads((tmp_path / "out" / "_MANIFEST.json").read_text())
        assert (True, done.manifest.sha256) == (record["complete"], record["manifest"]["sha256"])

    def test_a_failed_job_releases_its_reservation(self, client, dataset, ledger, tmp_path):
        """A job that dies half-way (one partition cannot be written) counts nothing."""
        root, _ = dataset
        (tmp_path / "out" / "part-00001.txt").mkdir(parents=True)  # a worker cannot write it
        guard = twpolicy.Guard(quotas=ledger)
        with pytest.raises(IsADirectoryError):
            twpolicy.dask.export(lines(root), str(tmp_path / "out"), recipient="acme", guard=guard)
        assert 0 == used(ledger, "acme")
        assert not (tmp_path / "out" / "_MANIFEST.json").exists()


class TestComply:
    def test_rewrites_the_dataset_as_the_applier_does(self, client, dataset, tmp_path):
        """The partitions, rewritten, hold what the JSON Lines applier leaves of the files."""
        root, whole = dataset
        events = gone_events(whole)
        expected, report = applied(whole, events, tmp_path)
        ledger = twpolicy.open_compliance("memory://")
        ledger.record(events)
        out = tmp_path / "clean"
        done = twpolicy.dask.comply(lines(root, blocksize=2048), str(out), ledger=ledger)
        assert expected == b"".join(p.read_bytes() for p in sorted(out.glob("part-*.jsonl")))
        assert (report.changed, report.removed) == (done.changed, done.removed)
        assert (len(events), f"dask:{out}") == (done.events, done.target)
        assert 0 == twpolicy.dask.comply(lines(root), str(out), ledger=ledger).events


class TestInProcess:
    """The same helpers on Dask's synchronous scheduler: what the workers run, measured here."""

    def test_same_results_without_a_cluster(self, dataset, tmp_path):
        """Dehydrate, scan and export agree with the command line on the local scheduler."""
        root, whole = dataset
        ledger = twpolicy.open_quotas("memory://")
        with dask.config.set(scheduler="sync"):
            bag = lines(root, blocksize=4096)
            assert cli_ids(whole) == twpolicy.dask.dehydrate(bag).compute()
            assert cli_scan_totals(whole) == twpolicy.dask.scan_counts(bag)
            assert all(row["standalone"] for row in twpolicy.dask.scan(bag).compute())
            done = twpolicy.dask.export(
                bag, str(tmp_path / "o"), recipient="acme", guard=twpolicy.Guard(quotas=ledger)
            )
            compliance = twpolicy.open_compliance("memory://")
            compliance.record(
                twpolicy.compliance_events(
                    {
                        "data": {
                            "user_protect": {
                                "user": {"id": cli_ids(whole, "users")[0]},
                                "event_at": "2026-01-01T00:00:00.000Z",
                            }
                        }
                    }
                )
            )
            report = twpolicy.dask.comply(bag, str(tmp_path / "c"), ledger=compliance)
            assert report.removed > 0
            assert (tmp_path / "c" / "withdrawn.jsonl").read_text()
        assert len(cli_ids(whole)) == done.manifest.ids == used(ledger, "acme")


class TestTransport:
    """What the workers send each other and the client: one object a partition, exact."""

    @pytest.mark.parametrize(
        "items",
        [[], ["1"], ["20", "21", "22"], [""], ["a\nb", "c"], [{"line": 1}, "x"], [1, 2]],
    )
    def test_items_survive_pickling(self, items):
        """IDs travel as one joined string; anything else as one list; both come back equal."""
        sent = twpolicy.dask._Items(items)
        back = pickle.loads(pickle.dumps(sent))  # noqa: S301  # our own bytes
        assert (items, twpolicy.dask._Items) == (back, type(back))

    def test_owners_answer_with_one_byte_an_id(self):
        """An owner flags, per partition in order, the IDs an earlier partition had."""
        assert (b"\x00\x00", b"", b"\x01\x00") == twpolicy.dask._first("1\n2", "", "2\n3")
        assert [1, 1, 1, 2, 2] == [twpolicy.dask._buckets(n) for n in (0, 1, 4, 5, 8)]
        page = json.dumps({"data": [{"id": "20", "text": "x"}, {"id": "21", "text": "y"}]})
        assert [["20", "21"]] == twpolicy.dask._read([page], "tweets", 0, 1).shares
        assert [["20"], ["21"]] == twpolicy.dask._read([page], "tweets", 0, 2).shares

    def test_a_computed_bag_is_a_list(self, client, dataset):
        """The bag's result is a list (sent as one object), also after mapping it."""
        root, _ = dataset
        ids = twpolicy.dask.dehydrate(lines(root))
        computed = ids.compute()
        assert isinstance(computed, list)
        assert [len(value) for value in computed] == ids.map(len).compute()


class TestReadLines:
    def test_same_results_as_read_text(self, client, dataset):
        """Lines read as bytes give the IDs, manifests and scan totals of read_text's."""
        root, whole = dataset
        raw = twpolicy.dask.read_lines(str(root / "part-*.jsonl"), blocksize=2048)
        assert raw.npartitions > 3
        assert cli_ids(files(root)) == twpolicy.dask.dehydrate(raw).compute()
        assert twpolicy.dask.manifests(lines(root)).records == twpolicy.dask.manifests(raw).records
        assert cli_scan_totals(whole) == twpolicy.dask.scan_counts(raw)
        assert whole.read_bytes().splitlines() == raw.compute()

    def test_compressed_files_are_read_whole(self, dataset, tmp_path):
        """A gzip file cannot be cut: it is one partition, whatever the block size."""
        _, whole = dataset
        (tmp_path / "all.jsonl.gz").write_bytes(gzip.compress(whole.read_bytes()))
        with dask.config.set(scheduler="sync"):
            raw = twpolicy.dask.read_lines(str(tmp_path / "*.gz"), blocksize=2048)
            assert 1 == raw.npartitions
            assert cli_ids(whole) == twpolicy.dask.dehydrate(raw).compute()


def test_all_names_the_public_helpers():
    """The module's public names are its helpers."""
    public = {
        name
        for name, value in vars(twpolicy.dask).items()
        if getattr(value, "__module__", "") == "twpolicy.dask" and not name.startswith("_")
    }
    assert set(twpolicy.dask.__all__) == public

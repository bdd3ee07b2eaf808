"""Jobs that stop for good half-way, to be killed with SIGKILL by the test that runs them.

Run as ``python tests/scale_worker.py ENGINE DATASET OUT QUOTA_URL`` (ENGINE ``dask`` or
``spark``): exports the dataset's ``part-*.jsonl`` to OUT for recipient ``acme`` on a real
Dask LocalCluster (two worker processes) or a local Spark (``local[2]``). Once the workers
have written every part and the reservation is held, the driver prints ``written`` and waits
for ever, for the parent to kill it (no sleep: the line is the signal).

``python tests/scale_worker.py comply DATASET EVENTS COMPLIANCE_URL``: ``twpolicy comply
--jobs 2`` (chunks of 64 KiB), which prints ``written`` once the first chunk is in the
temporary file, and waits for ever.
"""

from __future__ import annotations

import os
import signal
import sys

import twpolicy
from twpolicy._enforce import _compliance, _scale
from twpolicy._payloads import _chunks


def _stop(*_: object, **__: object) -> None:
    """In place of phase two: say the parts are written, then never return."""
    sys.stdout.write("written\n")
    sys.stdout.flush()
    while True:
        signal.pause()


def _comply(dataset: str, events: str, url: str) -> None:
    from twpolicy._cli._main import main as cli  # noqa: PLC0415

    chunks = _chunks.map_chunks

    def first_only(*args: object, **options: object) -> object:
        parts = chunks(*args, **options)  # type: ignore[arg-type]
        yield next(parts)  # written to the temporary file when the next one is asked for
        _stop()

    _chunks.MIN_CHUNK = 64 * 1024
    _compliance.map_chunks = first_only  # type: ignore[assignment]
    cli(["comply", "--jobs", "2", "--dataset", dataset, "--compliance-db", url, events])


def main() -> None:
    """Run the job named on the command line."""
    engine, dataset, out, url = sys.argv[1:]
    if engine == "comply":
        _comply(dataset, out, url)
        return
    _scale.finish_export = _stop  # export_in_two_phases looks it up when it gets there
    guard = twpolicy.Guard(quotas=twpolicy.open_quotas(url))
    lines = f"{dataset}/part-*.jsonl"
    if engine == "dask":
        import dask.bag  # noqa: PLC0415  # with the extra only
        import distributed  # noqa: PLC0415

        from twpolicy.dask import export  # noqa: PLC0415

        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        with distributed.Client(cluster):
            export(dask.bag.read_text(lines), out, recipient="acme", guard=guard)
    else:
        from pyspark.sql import SparkSession  # noqa: PLC0415  # with the extra only

        from twpolicy.spark import export as spark_export  # noqa: PLC0415

        os.environ["PYSPARK_PYTHON"] = sys.executable
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("twpolicy-kill")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        spark_export(spark.read.text(lines), out, recipient="acme", guard=guard)


if __name__ == "__main__":
    main()

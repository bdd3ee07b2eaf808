"""A distributed export whose driver stops for good between its two phases, to be killed.

Run as ``python tests/scale_worker.py ENGINE DATASET OUT QUOTA_URL`` (ENGINE ``dask`` or
``spark``): exports the dataset's ``part-*.jsonl`` to OUT for recipient ``acme`` on a real
Dask LocalCluster (two worker processes) or a local Spark (``local[2]``). Once the workers
have written every part and the reservation is held, the driver prints ``written`` and waits
for ever, for the parent to kill it with SIGKILL (no sleep: the line is the signal).
"""

from __future__ import annotations

import os
import signal
import sys

import twpolicy
from twpolicy._enforce import _scale


def _stop(*_: object, **__: object) -> None:
    """In place of phase two: say the parts are written, then never return."""
    sys.stdout.write("written\n")
    sys.stdout.flush()
    while True:
        signal.pause()


def main() -> None:
    """Run the export named on the command line."""
    engine, dataset, out, url = sys.argv[1:]
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

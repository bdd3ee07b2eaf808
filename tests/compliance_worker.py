"""A worker process for the compliance tests: apply, or stop dead at a chosen point.

``python compliance_worker.py apply LEDGER DATASET`` applies the ledger to the dataset and
prints the report's event count. ``... stop-written`` and ``... stop-replaced`` print
``ready`` and wait on standard input at that point of an apply, so that the test can kill
the process there (SIGKILL: nothing runs after it). ``... callback LEDGER LOG``
applies through a callback that appends each event's key to LOG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import twpolicy
from twpolicy._stores._compliance import ComplianceLedger


def _say(value: object) -> None:
    sys.stdout.write(f"{value}\n")
    sys.stdout.flush()


def _stop_after(name: str) -> None:
    original = getattr(ComplianceLedger, name)

    def stop(self, *args, **kwargs):
        if name == "finish":  # stop before recording: the new file is in place
            _say("ready")
            sys.stdin.read()
        result = original(self, *args, **kwargs)
        if name == "written":  # stop before the replacement: the old file is in place
            _say("ready")
            sys.stdin.read()
        return result

    setattr(ComplianceLedger, name, stop)


def main() -> None:
    mode, url, target = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "stop-written":
        _stop_after("written")
    elif mode == "stop-replaced":
        _stop_after("finish")
    ledger = twpolicy.open_compliance(url)
    if mode == "callback":
        log = Path(target)

        def record(event):
            with log.open("a") as handle:
                handle.write(f"{os.getpid()} {event.key}\n")
            return 1

        # The test starts both workers together: each says it is ready, then waits for "go".
        _say("waiting")
        sys.stdin.readline()
        report = twpolicy.apply_compliance(
            ledger, twpolicy.CallbackApplier(record, target="search-index")
        )
    else:
        report = twpolicy.apply_compliance(ledger, twpolicy.JsonLinesApplier(target))
    _say(report.events)


if __name__ == "__main__":
    main()

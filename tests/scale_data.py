"""A small multi-file dataset for the engine tests, and what the command line makes of it.

Pages drawn from `twpolicy.strategies` with a fixed seed (no real person's content), with
IDs repeated within and across files, an unreadable line and location standing alone, so
that deduplication across partitions and skipped records are exercised.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from twpolicy import strategies as tws
from twpolicy._cli._main import main

PLACE = {"type": "Point", "coordinates": [1.5, 2.5]}  # location standing alone


def _pages(count: int) -> list[Any]:
    found: list[Any] = []

    @seed(20261202)
    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(tws.api_responses(), tws.tweets("v1.1")))
    def draw(value: Any) -> None:
        found.append(value)

    draw()
    return found


def write_dataset(root: Path, files: int = 3, per_file: int = 12) -> list[Path]:
    """Write ``files`` JSON Lines files under ``root``; return their paths, sorted."""
    pages = [json.dumps(page) for page in _pages(files * per_file)]
    paths = []
    for index in range(files):
        own = pages[index * per_file : (index + 1) * per_file]
        # Repeats: the previous file's first page, and this file's own first page again.
        lines = [*own[:6], pages[max(0, index - 1) * per_file], "{not json", *own[6:], own[0]]
        lines.append(json.dumps(PLACE))
        path = root / f"part-{index}.jsonl"
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        paths.append(path)
    return paths


def concatenated(paths: list[Path], target: Path) -> Path:
    """The files one after the other, as one input for the command line."""
    target.write_bytes(b"".join(path.read_bytes() for path in paths))
    return target


def files(root: Path) -> list[Path]:
    """The dataset's files under ``root``, in the order the engines read them."""
    return sorted(root.glob("part-*.jsonl"))


def cli_ids(paths: Path | list[Path], kind: str = "tweets", jobs: int = 1) -> list[str]:
    """What ``twpolicy dehydrate`` writes for one file, or for many as one dataset."""
    names = [str(path) for path in (paths if isinstance(paths, list) else [paths])]
    out = io.StringIO()
    main(["dehydrate", "--quiet", "--jobs", str(jobs), "--kind", kind, *names, "-o", "-"], out=out)
    return out.getvalue().split()


def cli_scan_totals(path: Path) -> dict[str, Any]:
    """The totals of ``twpolicy scan --format json`` for ``path``."""
    out = io.StringIO()
    main(["scan", "--format", "json", "--exit-zero", str(path)], out=out)
    totals: dict[str, Any] = json.loads(out.getvalue())["totals"]
    return totals


def used(ledger: Any, recipient: str) -> int:
    """The Tweet IDs counted against ``recipient`` now."""
    return next(u.used for u in ledger.usage(recipient) if u.quota == "tweet_ids")


def gone_events(path: Path) -> list[Any]:
    """Compliance events deleting two Tweets and scrubbing one user's location, from ``path``."""
    from twpolicy import compliance_events  # noqa: PLC0415

    ids = cli_ids(path)
    users = cli_ids(path, "users")
    messages = [
        {"delete": {"status": {"id_str": ids[0], "user_id_str": "1"}}},
        {"delete": {"status": {"id_str": ids[len(ids) // 2], "user_id_str": "1"}}},
        {"scrub_geo": {"user_id_str": users[-1], "up_to_status_id_str": ids[-1]}},
    ]
    return [event for message in messages for event in compliance_events(message)]


def applied(whole: Path, events: list[Any], tmp: Path) -> tuple[bytes, Any]:
    """The JSON Lines applier's output for ``whole`` and its report, on a fresh ledger."""
    from twpolicy import JsonLinesApplier, apply_compliance, open_compliance  # noqa: PLC0415

    ledger = open_compliance("memory://")
    ledger.record(events)
    report = apply_compliance(ledger, JsonLinesApplier(whole, out=tmp / "applied.jsonl"))
    ledger.close()
    return (tmp / "applied.jsonl").read_bytes(), report

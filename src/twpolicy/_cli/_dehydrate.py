"""``twpolicy dehydrate``: a dataset in, its unique IDs out, streaming.

Input is read record by record by `twpolicy scan`'s reader (JSON Lines, JSON, concatenated
JSON, gzip-compressed or not), so memory holds one record and the set of IDs seen. Each
record's IDs come from the payloads layer: v2 response lines (twarc2 output) through the
fast ID path generated from the table of shapes, anything else through the walker
(`twpolicy._payloads._fastids`); both give the same IDs in the same order.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TextIO

from twpolicy._cli._scan import (
    LOADS,
    Lines,
    Record,
    _collector_paused,
    _open,
    _Progress,
    read_records,
)
from twpolicy._guard import Guard
from twpolicy._model import Action, ActionKind
from twpolicy._payloads._fastids import parser, record_ids
from twpolicy._payloads._ids import CONTENT_OF, check_kind
from twpolicy._stores._quotas import open_quotas
from twpolicy.exceptions import ConfigurationError, PayloadError, PolicyViolation

__all__ = ["IdReader", "register"]


class IdReader:
    """Read records (JSON Lines, JSON, concatenated JSON), yielding their new IDs of a kind.

    Records are cut and parsed by `twpolicy scan`'s reader, with the fast ID path as the
    parser; IDs are kept unique across records. A bad record (not JSON, an ID whose
    digits cannot be trusted) is reported to ``on_error`` with its line and skipped, or,
    when ``strict``, raises `PayloadError`.
    """

    def __init__(
        self,
        kind: str,
        *,
        strict: bool = False,
        on_error: Callable[[int, str], None] | None = None,
    ) -> None:
        self.kind = check_kind(kind)
        self.strict = strict
        self.on_error = on_error
        self.seen: set[str] = set()
        self.records = 0
        self.bad = 0
        self._parse = parser(self.kind, LOADS)

    def _ids(self, record: Record) -> list[str]:
        if record.error is not None:
            raise PayloadError(record.error)
        try:
            return record_ids(record.value, self.kind)
        except RecursionError:
            raise PayloadError("nested too deeply to read") from None

    def new_ids(self, stream: Lines) -> Iterator[list[str]]:
        """Yield, per record, the IDs no earlier record had, in first-seen order."""
        seen = self.seen
        for record in read_records(stream, loads=self._parse):
            self.records = record.number
            try:
                ids = self._ids(record)
            except PayloadError as exc:
                self.bad += 1
                if self.strict:
                    raise PayloadError(f"line {record.line}: {exc}") from None
                if self.on_error is not None:
                    self.on_error(record.line, str(exc))
                continue
            fresh = [value for value in ids if value not in seen]
            if fresh:
                seen.update(fresh)
                yield list(dict.fromkeys(fresh))


def _same_file(infile: str, outfile: str) -> bool:
    if "-" in (infile, outfile):
        return False
    try:
        return Path(infile).samefile(outfile)
    except OSError:
        return Path(infile).resolve() == Path(outfile).resolve()


def _staging(outfile: str, out: TextIO, *, staged: bool) -> IO[str]:
    """Where IDs are written first: beside OUTFILE (renamed into place at the end)."""
    if not staged:
        return out
    folder = Path(outfile).parent if outfile != "-" else None
    try:
        return tempfile.NamedTemporaryFile(  # closed by the caller
            "w", encoding="ascii", dir=folder, prefix=".dehydrate-", suffix=".tmp", delete=False
        )
    except OSError as exc:
        raise ConfigurationError(f"cannot write beside {outfile}: {exc.strerror}") from exc


_LABEL = {"tweets": "Tweet", "users": "User", "dms": "DM"}


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``twpolicy dehydrate``; return the exit code."""
    err = sys.stderr
    if _same_file(args.infile, args.outfile):
        err.write(f"twpolicy: refusing to write over the input {args.infile}\n")
        return 2
    if (args.recipient is None) != (args.ledger is None):
        err.write("twpolicy: --recipient and --ledger go together\n")
        return 2
    try:
        stream, raw, size = _open(args.infile, sys.stdin.buffer)
    except OSError as exc:
        err.write(f"twpolicy: cannot read {args.infile}: {exc.strerror or exc}\n")
        return 2

    def report(line: int, detail: str) -> None:
        err.write(f"\r\x1b[2Kline {line}: {detail}; skipped\n")

    reader = IdReader(args.kind, strict=args.strict, on_error=report)
    staged = args.recipient is not None or args.outfile != "-"
    bar = _Progress("dehydrate", size, err if args.progress or err.isatty() else None)
    try:
        target = _staging(args.outfile, out, staged=staged)
        try:
            with _collector_paused():
                for fresh in reader.new_ids(stream):
                    target.write("\n".join(fresh))
                    target.write("\n")
                    bar.update(raw, reader.records)
            bar.close()
            code = 0
            if staged:
                target.close()
                code = _deliver(args, reader, target.name, out)
        finally:
            if staged:
                target.close()
                Path(target.name).unlink(missing_ok=True)
    except (OSError, EOFError) as exc:  # a device error, a broken gzip stream
        bar.close()
        err.write(f"twpolicy: reading {args.infile} failed: {exc}; nothing was written\n")
        return 2
    finally:
        if args.infile != "-":
            raw.close()
    skipped = f", {reader.bad:,} bad records skipped" if reader.bad else ""
    err.write(
        f"dehydrate: {len(reader.seen):,} unique {_LABEL[args.kind]} IDs from "
        f"{reader.records:,} records{skipped}\n"
    )
    return code


def _deliver(args: argparse.Namespace, reader: IdReader, staged: str, out: TextIO) -> int:
    """Charge the recipient's quota (if any), then move the IDs into place."""
    permit: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if args.recipient is not None:
        guard = Guard(quotas=open_quotas(args.ledger))
        action = Action(
            kind=ActionKind.EXPORT,
            operation="twpolicy dehydrate",
            recipient=args.recipient,
            count=len(reader.seen),
            facts={"content": CONTENT_OF[args.kind]},
            payload=reader.seen,
        )
        permit = guard.permit(action)
    try:
        with permit:  # the reservation becomes final only once the IDs are in place
            if args.outfile == "-":
                with Path(staged).open(encoding="ascii") as handle:
                    out.writelines(handle)
                Path(staged).unlink()
            else:
                Path(staged).replace(args.outfile)
    except PolicyViolation as exc:
        Path(staged).unlink(missing_ok=True)
        sys.stderr.write(f"twpolicy: {exc}\nNothing was written.\n")
        return 1
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twpolicy dehydrate`` to the command line."""
    parser = subparsers.add_parser(
        "dehydrate",
        help="reduce a JSON Lines dataset to its unique Tweet, User or DM IDs",
        description="Read a JSON Lines dataset (twarc2 output, v1.1 or v2 API payloads, "
        "activity streams, DMs) and write every unique ID of one kind, one per line, in "
        "first-seen order. Bad lines are reported with their number and skipped.",
    )
    parser.add_argument("infile", metavar="INFILE", help="JSON Lines input, or - for stdin")
    parser.add_argument("outfile", metavar="OUTFILE", help="IDs output, or - for stdout")
    parser.add_argument("--kind", choices=sorted(CONTENT_OF), default="tweets")
    parser.add_argument("--strict", action="store_true", help="stop at the first bad line")
    parser.add_argument(
        "--progress", action="store_true", help="show progress on stderr even when not a TTY"
    )
    parser.add_argument("--recipient", help="charge the IDs to this recipient's quota")
    parser.add_argument("--ledger", help="the quota ledger's URL (with --recipient)")
    parser.set_defaults(run=run)

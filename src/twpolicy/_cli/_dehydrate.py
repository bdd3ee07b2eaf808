"""``twpolicy dehydrate``: a dataset in, its unique IDs out, streaming.

Input is read record by record by the command line's one reader (`twpolicy._cli._records`:
JSON Lines, JSON, concatenated JSON, compressed or not, any UTF), so memory holds one record
and the set of IDs seen. Each record's IDs come from the payloads layer: v2 response lines
(twarc2 output) through the fast ID path generated from the table of shapes, anything else
through the walker (`twpolicy._payloads._fastids`); both give the same IDs in the same order.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from twpolicy._cli import _parallel
from twpolicy._cli._common import (
    COMPLIANCE,
    QUOTA,
    CliError,
    Exit,
    Output,
    Progress,
    add_store_option,
    mebibytes,
    open_output,
    same_file,
    shown,
    store_url,
    warn,
)
from twpolicy._cli._parallel import add_jobs_option, default_jobs, parallel_ids, splittable
from twpolicy._cli._records import (
    LOADS,
    MAX_RECORD_BYTES,
    DamagedInput,
    Lines,
    Record,
    RecordReader,
    Source,
    open_source,
)
from twpolicy._payloads._batch import IdKernel, collector_paused
from twpolicy._payloads._ids import CONTENT_OF, check_kind
from twpolicy.exceptions import PayloadError, PolicyViolation, StoreUnavailable

if TYPE_CHECKING:
    # The guard, its rules and the quota ledger load only with --recipient, the compliance
    # ledger only when one is configured (start-up).
    from twpolicy._enforce._compliance import ExportTombstones
    from twpolicy._stores._quotas import QuotaLedger

__all__ = ["IdReader", "ParallelIdReader", "register"]


class IdReader:
    """Read records (JSON Lines, JSON, concatenated JSON), yielding their new IDs of a kind.

    Records are cut and parsed by the command line's reader, with the fast ID path as the
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
        max_bytes: int = MAX_RECORD_BYTES,
        tombstones: ExportTombstones | None = None,
    ) -> None:
        self.kind = check_kind(kind)
        self.strict = strict
        self.on_error = on_error
        self.max_bytes = max_bytes
        #: The batch kernel the engines use too (`twpolicy._payloads._batch`): same IDs.
        self.kernel = IdKernel(self.kind, LOADS)
        self.seen: set[str] = self.kernel.seen
        self.records = 0
        self.bad = 0
        #: Why the last input stopped before its end (damaged compression), or ``None``.
        self.damage: DamagedInput | None = None
        if tombstones is not None:  # what the compliance ledger says is gone is left out
            self.kernel.parse = tombstones.loads(self.kernel.parse)

    def _ids(self, record: Record) -> list[str]:
        if record.error is not None:
            raise PayloadError(record.error)
        return self.kernel.ids(record.value)

    def new_ids(self, stream: Lines) -> Iterator[list[str]]:
        """Yield, per record, the IDs no earlier record had, in first-seen order."""
        fresh = self.kernel.fresh
        reader = RecordReader(stream, max_bytes=self.max_bytes, loads=self.kernel.parse)
        for record in reader:
            self.records = record.number
            try:
                ids = self._ids(record)
            except PayloadError as exc:
                self.bad += 1
                if self.strict:
                    raise PayloadError(f"{record.lines}: {exc}") from None
                if self.on_error is not None:
                    self.on_error(record.line, f"{record.lines}: {str(exc).rstrip('.')}")
                continue
            new = fresh(ids)
            if new:
                yield new
        self.damage = reader.damage


class ParallelIdReader(IdReader):
    """`IdReader` over a plain file read by ``jobs`` processes (`twpolicy._cli._parallel`).

    Gives what `IdReader` gives on the same file: the same IDs in the same order, the same
    records counted and skipped, named by the same lines.
    """

    def __init__(self, path: str, kind: str, jobs: int, **options: Any) -> None:
        super().__init__(kind, **options)
        self.path = path
        self.jobs = jobs

    def new_ids(self, stream: Lines) -> Iterator[list[str]]:  # noqa: ARG002  # reads the file itself
        """Yield, per chunk, the IDs no earlier chunk had, in first-seen order."""
        fresh = self.kernel.fresh
        for part in parallel_ids(
            self.path, self.kind, self.jobs, self.max_bytes, strict=self.strict
        ):
            self.records = part.records
            new = fresh(part.ids)  # with --strict, the IDs before the bad record only
            if new:
                yield new
            for line, detail in part.skipped:
                self.bad += 1
                if self.strict:
                    raise PayloadError(detail)
                if self.on_error is not None:
                    self.on_error(line, detail)


def _reader(
    args: argparse.Namespace,
    on_error: Callable[[int, str], None],
    tombstones: ExportTombstones | None = None,
) -> IdReader:
    """One process's reader, or, for a large plain file and ``--jobs`` over 1, many's.

    With a compliance ledger's tombstones, one process reads: they clean each record where
    it is read, which the worker processes do not do.
    """
    options: dict[str, Any] = {
        "strict": args.strict,
        "on_error": on_error,
        "max_bytes": args.max_record_mib * 2**20,
    }
    jobs = default_jobs() if args.jobs is None else args.jobs
    if tombstones is None and jobs > 1 and splittable(args.infile) >= 2 * _parallel.MIN_CHUNK:
        return ParallelIdReader(args.infile, args.kind, jobs, **options)
    return IdReader(args.kind, tombstones=tombstones, **options)


_LABEL = {"tweets": "Tweet", "users": "User", "dms": "DM"}


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


class _Run:
    """One ``twpolicy dehydrate``: read, write the IDs, charge the quota, report."""

    def __init__(self, args: argparse.Namespace, stdout: TextIO | None) -> None:
        self.args = args
        self.stdout = stdout
        self.skipped: list[dict[str, Any]] = []
        self.quiet = args.quiet
        self.json = args.format == "json"
        self.bar = Progress("dehydrate", None, show=False)
        self.tombstones: ExportTombstones | None = None

    def skip(self, line: int, detail: str) -> None:
        where, _, why = detail.partition(": ")
        self.skipped.append({"line": line, "lines": where, "error": why})
        if not (self.quiet or self.json):
            self.bar.write(f"twpolicy: {where}: skipped: {why}")

    def summary(self, reader: IdReader, code: Exit, note: str = "") -> None:
        if self.quiet:
            return
        if self.json:
            record = {
                "kind": self.args.kind,
                "records": reader.records,
                "unique_ids": len(reader.seen),
                "skipped": self.skipped,
                "damage": None if reader.damage is None else reader.damage.message,
                "compliance_checked": self.tombstones is not None,
                "gone_left_out": None if self.tombstones is None else len(self.tombstones.dropped),
                "written": code in (Exit.OK, Exit.BAD_INPUT) and not note,
                "exit_code": int(code),
            }
            warn(json.dumps(record))
            return
        skipped = f"; {_plural(reader.bad, 'unreadable record')} skipped" if reader.bad else ""
        gone = (
            "; not checked against a compliance ledger"
            if self.tombstones is None
            else f"; {_plural(len(self.tombstones.dropped), 'gone ID')} left out (compliance)"
        )
        warn(
            f"dehydrate: {_plural(len(reader.seen), 'unique ' + _LABEL[self.args.kind] + ' ID')}"
            f" from {_plural(reader.records, 'record')}{skipped}{gone}{note}"
        )


def run(args: argparse.Namespace, out: TextIO | None) -> int:
    """Run ``twpolicy dehydrate``; return the exit code."""
    if args.quota_db is not None and args.recipient is None:
        raise CliError(Exit.BAD_INPUT, "--quota-db charges a --recipient: give both, or neither")
    clash = same_file([args.infile], args.outfile)
    if clash is not None:
        raise CliError(Exit.BAD_INPUT, f"refusing to write over the input {shown(clash)}")
    with contextlib.ExitStack() as stack:
        quotas = None
        if args.recipient is not None:
            quotas = stack.enter_context(_open_quotas(args))
        try:
            source = open_source(args.infile)
        except OSError as exc:
            raise CliError(
                Exit.BAD_INPUT, f"cannot read {shown(args.infile)}: {exc.strerror or exc}"
            ) from None
        stack.callback(source.close)
        return _dehydrate(args, source, quotas, out)
    raise AssertionError  # pragma: no cover  # mypy: ExitStack may swallow exceptions


def _open_quotas(args: argparse.Namespace) -> QuotaLedger:
    """The quota ledger to charge; it must exist, so that a mistyped URL charges nothing."""
    import shlex  # noqa: PLC0415  # start-up: only with --recipient

    from twpolicy._stores._quotas import open_quotas  # noqa: PLC0415  # only with --recipient

    url = store_url(args, QUOTA)
    try:
        return open_quotas(url, create=False)
    except StoreUnavailable as exc:
        if "there is no" not in str(exc):
            raise
        raise CliError(
            Exit.STORE,
            f"{exc}. To create it, register the recipient: "
            f"`twpolicy quotas register {shlex.quote(args.recipient)} "
            f"--quota-db {shlex.quote(url)}`",
        ) from None


def _tombstones(args: argparse.Namespace) -> ExportTombstones | None:
    """The compliance ledger's tombstones, unless ``--no-compliance`` says not to read them.

    A ledger named by ``--compliance-db`` or ``$TWPOLICY_COMPLIANCE_DB`` must exist (a
    mistyped URL would check nothing); with ``--require-compliance`` (or
    ``$TWPOLICY_REQUIRE_COMPLIANCE=1``) a run without one is refused.
    """
    named = getattr(args, COMPLIANCE.dest, None)
    if args.no_compliance:
        if named:
            raise CliError(Exit.BAD_INPUT, "--no-compliance and --compliance-db contradict")
        return None
    url = named or os.environ.get(COMPLIANCE.env, "").strip()
    if not url:
        if args.require_compliance or os.environ.get("TWPOLICY_REQUIRE_COMPLIANCE") == "1":
            raise CliError(
                Exit.STORE,
                "compliance is required (I.C.3: no deleted, protected, suspended or withheld "
                "ID may be distributed) but no compliance ledger is given: pass "
                f"{COMPLIANCE.option} URL (e.g. {COMPLIANCE.option} {COMPLIANCE.example}) or "
                f"set {COMPLIANCE.env}; record events with `twpolicy comply` or "
                "`twpolicy compliance job`",
            )
        return None
    from twpolicy._enforce._compliance import ExportTombstones  # noqa: PLC0415  # start-up
    from twpolicy._stores._compliance import open_compliance  # noqa: PLC0415  # ditto

    with open_compliance(store_url(args, COMPLIANCE), create=False) as ledger:
        return ExportTombstones.from_ledger(ledger, args.kind)


def _dehydrate(
    args: argparse.Namespace, source: Source, quotas: QuotaLedger | None, out: TextIO | None
) -> int:
    state = _Run(args, out)
    state.tombstones = _tombstones(args)
    reader = _reader(args, state.skip, state.tombstones)
    # IDs charged to a quota wait in a temporary file, written out only once it allows.
    sink = _stage() if quotas is not None else open_output(args.outfile, out)
    lost = (
        "nothing was written"
        if quotas is not None or sink.regular
        else f"the IDs read before it were written to {shown(args.outfile)}"
        if args.outfile != "-"
        else "the IDs read before it went to standard output"
    )
    state.bar = Progress(
        "dehydrate", source.size, show=Progress.wanted(args), unit="B" if source.size else "record"
    )
    try:
        with collector_paused():
            for fresh in reader.new_ids(source.lines):
                sink.handle.write("\n".join(fresh))
                sink.handle.write("\n")
                if not reader.records % 1024:
                    state.bar.update(source.position() or reader.records, reader.records)
        state.bar.update(source.position() or reader.records, reader.records)
    except PayloadError as exc:  # --strict: the first bad record ends the run
        sink.discard()
        state.summary(reader, Exit.BAD_INPUT, note="; stopped at it (--strict)")
        raise CliError(Exit.BAD_INPUT, f"{exc}; {lost}") from None
    except BaseException:
        sink.discard()
        raise
    finally:
        state.bar.close()
    if reader.damage is not None:
        sink.discard()
        state.summary(reader, Exit.BAD_INPUT, note="; stopped early")
        raise CliError(Exit.BAD_INPUT, f"{shown(args.infile)}: {reader.damage.message}; {lost}")
    if quotas is None:
        sink.commit()
        code = Exit.OK
    else:
        code = _deliver(args, reader, sink, quotas, out)
    if reader.bad:
        code = max(code, Exit.BAD_INPUT)
    state.summary(reader, code, note="; nothing was written" if code == Exit.FINDINGS else "")
    return code


def _stage() -> Output:
    import tempfile  # noqa: PLC0415  # start-up: only with --recipient

    handle = tempfile.TemporaryFile("w+", encoding="ascii")  # noqa: SIM115  # closed by Output
    return Output("(staged)", handle, closes=True)


def _deliver(
    args: argparse.Namespace,
    reader: IdReader,
    staged: Output,
    quotas: QuotaLedger,
    out: TextIO | None,
) -> Exit:
    """Charge the recipient's quota, then write the IDs to OUTFILE (all, or none)."""
    from twpolicy._guard import Guard  # noqa: PLC0415  # only with --recipient
    from twpolicy._model import Action, ActionKind  # noqa: PLC0415  # ditto
    from twpolicy._payloads._outbound import IdCount, remembered  # noqa: PLC0415  # ditto

    action = Action(
        kind=ActionKind.EXPORT,
        operation="twpolicy dehydrate",
        recipient=args.recipient,
        count=len(reader.seen),
        facts={"content": CONTENT_OF[args.kind]},
        payload=reader.seen,
    )
    # The IDs were read off objects of the kind asked for, so their kind is known: User and
    # DM IDs are not counted against the recipient's Tweet ID cap (bare IDs would be).
    counted = IdCount.derived(reader.seen, args.kind, len(reader.seen))
    try:
        # The reservation becomes final only once the IDs are in place.
        with remembered(reader.seen, counted), Guard(quotas=quotas).permit(action):
            target = open_output(args.outfile, out)
            try:
                staged.handle.seek(0)
                shutil.copyfileobj(staged.handle, target.handle)
            except BaseException:
                target.discard()
                raise
            target.commit()
    except PolicyViolation as exc:
        warn(f"{exc}\nNothing was written.")
        return Exit.FINDINGS
    finally:
        staged.discard()
    return Exit.OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twpolicy dehydrate`` to the command line."""
    parser = subparsers.add_parser(
        "dehydrate",
        help="reduce a dataset to its unique Tweet, User or DM IDs",
        description="Read a dataset (twarc2 output, v1.1 or v2 API payloads, activity "
        "streams, DMs; JSON Lines, JSON or concatenated JSON, compressed or not) and write "
        "every unique ID of one kind, one per line, in first-seen order. Unreadable records "
        "are reported by their lines and skipped (exit 2 once done). With --recipient the "
        "IDs are charged to the recipient's quota first, and written only if it allows.",
    )
    parser.add_argument("infile", metavar="INFILE", help="the dataset, or - for stdin")
    parser.add_argument(
        "outfile",
        metavar="OUTFILE",
        help="the IDs, or - for stdout (a regular file is replaced when done; a FIFO or "
        "device is written in place)",
    )
    parser.add_argument("--kind", choices=sorted(CONTENT_OF), default="tweets")
    parser.add_argument(
        "--strict", action="store_true", help="stop at the first unreadable record (exit 2)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="the summary on stderr: a line of text, or one JSON object",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no summary, warnings or progress on stderr"
    )
    parser.add_argument(
        "--progress", action="store_true", help="show progress on stderr even when not a TTY"
    )
    parser.add_argument(
        "--max-record-mib",
        type=mebibytes,
        default=MAX_RECORD_BYTES // 2**20,
        metavar="MIB",
        help="skip (and report) records larger than this, 1 or more (default %(default)s)",
    )
    add_jobs_option(parser)
    parser.add_argument("--recipient", help="charge the IDs to this recipient's quota")
    add_store_option(parser, QUOTA, extra="; used with --recipient")
    add_store_option(
        parser, COMPLIANCE, extra="; IDs it says are gone (deleted, protected...) are left out"
    )
    parser.add_argument(
        "--no-compliance",
        action="store_true",
        help="do not read the compliance ledger (only where it is read elsewhere)",
    )
    parser.add_argument(
        "--require-compliance",
        action="store_true",
        help="refuse to run without a compliance ledger (also $TWPOLICY_REQUIRE_COMPLIANCE=1)",
    )
    parser.set_defaults(run=run)

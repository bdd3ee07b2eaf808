"""``twpolicy dehydrate``: a dataset in, its unique IDs out, streaming.

Input is read record by record by the command line's one reader (`twpolicy._cli._records`:
JSON Lines, JSON, concatenated JSON, compressed or not, any UTF), so memory holds one record
and the set of IDs seen. Each record's IDs come from the payloads layer: v2 response lines
(twarc2 output) through the fast ID path generated from the table of shapes, anything else
through the walker (`twpolicy._payloads._fastids`); both give the same IDs in the same order.
A plain (uncompressed UTF-8) file is read in chunks instead (`ParallelIdReader`), by many
processes when large, with the same result.
Many files (``twpolicy dehydrate FILE [FILE ...] -o OUTFILE``) are read as one dataset by
`MultiIdReader`, each file by the reader it would have alone.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

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
from twpolicy._payloads import _chunks
from twpolicy._payloads._batch import IdKernel, collector_paused
from twpolicy._payloads._ids import CONTENT_OF, check_kind
from twpolicy.exceptions import PayloadError, PolicyViolation, StoreUnavailable

if TYPE_CHECKING:
    # The guard, its rules and the quota ledger load only with --recipient, the compliance
    # ledger only when one is configured (start-up).
    from twpolicy._enforce._compliance import ExportTombstones
    from twpolicy._stores._quotas import QuotaLedger

__all__ = ["FileIds", "IdReader", "MultiIdReader", "ParallelIdReader", "register"]


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
                    raise PayloadError(f"{record.lines}: {str(exc).rstrip('.')}") from None
                if self.on_error is not None:
                    self.on_error(record.line, f"{record.lines}: {str(exc).rstrip('.')}")
                continue
            new = fresh(ids)
            if new:
                yield new
        self.damage = reader.damage


class ParallelIdReader(IdReader):
    """`IdReader` over a plain file, read in chunks (`twpolicy._cli._parallel`).

    A large file is read by ``jobs`` processes, a smaller one (or with one job) here, chunk
    after chunk; either way each line holding a whole record is decoded where it lies, not
    copied first. Gives what `IdReader` gives on the same file: the same IDs in the same
    order, the same records counted and skipped, named by the same lines.
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


class FileIds(NamedTuple):
    """What one worker read from one whole file (`IdReader`'s counts, IDs unique within it)."""

    ids: list[str]
    records: int
    skipped: list[tuple[int, str]]
    damage: DamagedInput | None
    #: With ``strict``: why the first unreadable record stopped the file.
    failed: str | None = None


def _file_ids(path: str, kind: str, max_bytes: int, *, strict: bool) -> FileIds:
    """One whole file read by `IdReader` in a worker process (many small files, ``--jobs``)."""
    skipped: list[tuple[int, str]] = []
    options: dict[str, Any] = {"strict": strict, "max_bytes": max_bytes}
    options["on_error"] = lambda *where: skipped.append(where)
    plain = splittable(path) > 0  # read in place, in this worker
    reader = ParallelIdReader(path, kind, 1, **options) if plain else IdReader(kind, **options)
    ids: list[str] = []
    source = open_source(path)
    try:
        for new in reader.new_ids(source.lines):
            ids += new
    except PayloadError as exc:  # strict: the IDs before it, and why
        return FileIds(ids, reader.records, skipped, None, str(exc))
    finally:
        source.close()
    return FileIds(ids, reader.records, skipped, reader.damage)


class MultiIdReader(IdReader):
    """`IdReader` over many files, one after the other, deduplicated as one file.

    Each file is read as it would be alone: by one process, by many (`ParallelIdReader`, a
    large plain file), or whole by a worker of a pool (smaller files, ``jobs`` over 1 and no
    tombstones); the parent takes them in the order given and keeps each ID where it first
    appears. Messages name the file; records are counted over all files; the first damaged
    file stops the run (`damaged` names it), as it would alone.
    """

    def __init__(
        self, paths: list[str], kind: str, jobs: int, *, name: Callable[[str], str], **options: Any
    ) -> None:
        self.tombstones: ExportTombstones | None = options.pop("tombstones", None)
        super().__init__(kind, **options)
        self.paths = paths
        self.jobs = jobs
        self.name = name
        #: The file whose damage stopped the run, or ``None``.
        self.damaged: str | None = None

    def _one(self, path: str) -> IdReader:
        """A reader of ``path`` alone, sharing this reader's IDs seen."""
        options: dict[str, Any] = {"strict": self.strict, "max_bytes": self.max_bytes}
        options["on_error"] = lambda line, detail: self._skip(path, line, detail)
        if self.tombstones is None and splittable(path):
            reader: IdReader = ParallelIdReader(path, self.kind, self.jobs, **options)
        else:
            reader = IdReader(self.kind, tombstones=self.tombstones, **options)
        reader.kernel.seen = reader.seen = self.seen
        return reader

    def _split(self, path: str) -> bool:
        if self.tombstones is not None or self.jobs == 1:
            return False
        return splittable(path) >= 2 * _chunks.MIN_CHUNK

    def _skip(self, path: str, line: int, detail: str) -> None:
        self.bad += 1
        if self.on_error is not None:
            self.on_error(line, f"{self.name(path)} {detail}")

    def _pooled(self, pool: Any) -> dict[int, Any]:
        """Futures of the files a pool's workers read whole, by their place in the list."""
        if pool is None:
            return {}
        work = functools.partial(
            _file_ids, kind=self.kind, max_bytes=self.max_bytes, strict=self.strict
        )
        return {
            index: pool.submit(work, path)
            for index, path in enumerate(self.paths)
            if path != "-" and not self._split(path)
        }

    def new_ids(self, stream: Lines) -> Iterator[list[str]]:  # noqa: ARG002  # reads the files itself
        """Yield, per file (or chunk), the IDs no earlier one had, in first-seen order."""
        pool = None
        if self.jobs > 1 and self.tombstones is None and len(self.paths) > 1:
            import concurrent.futures  # noqa: PLC0415  # only for many files: ~5 ms at start-up

            pool = concurrent.futures.ProcessPoolExecutor(max_workers=self.jobs)
        try:
            pooled = self._pooled(pool)
            for index, path in enumerate(self.paths):
                if index in pooled:
                    try:
                        found = pooled[index].result()
                    except OSError as exc:
                        raise self._unreadable(path, exc) from None
                    yield from self._whole(path, found)
                else:
                    yield from self._read(path)
                if self.damage is not None:
                    self.damaged = path
                    return
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    def _unreadable(self, path: str, exc: OSError) -> CliError:
        return CliError(Exit.BAD_INPUT, f"cannot read {self.name(path)}: {exc.strerror or exc}")

    def _whole(self, path: str, found: FileIds) -> Iterator[list[str]]:
        """A file a worker read: its IDs, then its skipped records (as `IdReader` reports)."""
        new = self.kernel.fresh(found.ids)
        self.records += found.records
        if new:
            yield new
        if found.failed is not None:  # --strict: the IDs before the bad record only
            raise PayloadError(f"{self.name(path)} {found.failed}")
        for line, detail in found.skipped:
            self._skip(path, line, detail)
        self.damage = found.damage

    def _read(self, path: str) -> Iterator[list[str]]:
        """A file read here (or split by `ParallelIdReader`)."""
        reader = self._one(path)
        before = self.records
        try:
            source = open_source(path)
        except OSError as exc:
            raise self._unreadable(path, exc) from None
        try:
            for new in reader.new_ids(source.lines):
                self.records = before + reader.records
                yield new
        except PayloadError as exc:  # --strict
            raise PayloadError(f"{self.name(path)} {exc}") from None
        finally:
            self.records = before + reader.records
            source.close()
        self.damage = reader.damage


def _reader(
    args: argparse.Namespace,
    on_error: Callable[[int, str], None],
    tombstones: ExportTombstones | None = None,
) -> IdReader:
    """The reader of the input: `ParallelIdReader` for a plain file, else `IdReader`.

    A plain file is read in place, by many processes when large and ``--jobs`` is over 1.
    With a compliance ledger's tombstones, the record reader reads: they clean each record
    where it is read, which the chunk readers do not do.
    """
    options: dict[str, Any] = {
        "strict": args.strict,
        "on_error": on_error,
        "max_bytes": args.max_record_mib * 2**20,
    }
    jobs = default_jobs() if args.jobs is None else args.jobs
    if len(args.infiles) > 1:
        return MultiIdReader(args.infiles, args.kind, jobs, name=shown, tombstones=tombstones,
                             **options)  # fmt: skip
    if tombstones is None and splittable(args.infile):
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
    _inputs(args)
    clash = same_file(args.infiles, args.outfile)
    if clash is not None:
        raise CliError(Exit.BAD_INPUT, f"refusing to write over the input {shown(clash)}")
    with contextlib.ExitStack() as stack:
        quotas = None
        if args.recipient is not None:
            quotas = stack.enter_context(_open_quotas(args))
        try:
            source = open_source(args.infile) if len(args.infiles) == 1 else _Files()
        except OSError as exc:
            raise CliError(
                Exit.BAD_INPUT, f"cannot read {shown(args.infile)}: {exc.strerror or exc}"
            ) from None
        stack.callback(source.close)
        return _dehydrate(args, source, quotas, out)
    raise AssertionError  # pragma: no cover  # mypy: ExitStack may swallow exceptions


def _inputs(args: argparse.Namespace) -> None:
    """``FILE [FILE ...] -o OUTFILE``, or the older ``INFILE OUTFILE``: the inputs and output."""
    files: list[str] = args.files
    if args.outfile is None:
        if len(files) != 2:  # noqa: PLR2004  # INFILE OUTFILE
            raise CliError(
                Exit.BAD_INPUT,
                "say where the IDs go: `twpolicy dehydrate FILE [FILE ...] -o OUTFILE` "
                "(- for stdout), or `twpolicy dehydrate INFILE OUTFILE`",
            )
        files, args.outfile = files[:1], files[1]
    if files.count("-") > 1:
        raise CliError(Exit.BAD_INPUT, "standard input (-) can be read once: name it once")
    args.infiles, args.infile = files, files[0]


class _Files:
    """The source of a run over many files: each is opened by `MultiIdReader` in turn."""

    size = None
    lines: Any = None

    def position(self) -> None:
        """Progress is counted in records."""

    def close(self) -> None:
        """Each file is closed by its reader."""


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
    args: argparse.Namespace,
    source: Source | _Files,
    quotas: QuotaLedger | None,
    out: TextIO | None,
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
        damaged = getattr(reader, "damaged", None) or args.infile
        raise CliError(Exit.BAD_INPUT, f"{shown(damaged)}: {reader.damage.message}; {lost}")
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
    # The IDs were read off objects of the kind asked for; User and DM IDs still count against
    # the Tweet ID cap unless this process's guarded clients read them as such (IdCount.derived).
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
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="the dataset's files (- for stdin), deduplicated as one; without -o, the "
        "older form INFILE OUTFILE",
    )
    parser.add_argument(
        "--output",
        "-o",
        dest="outfile",  # not `output`: that names a report (`twpolicy._cli._main`)
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

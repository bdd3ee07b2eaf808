"""``twpolicy dehydrate``: a dataset in, its unique IDs out, streaming.

Input is read record by record by the command line's one reader (`twpolicy._cli._records`:
JSON Lines, JSON, concatenated JSON, compressed or not, any UTF), so memory holds one record
and the set of IDs seen.

Most datasets researchers dehydrate are twarc2 output: one v2 API response page per line.
Decoding all of a page (texts, entities, metrics) costs far more than reading its IDs, so
such lines take a fast path: a decoder compiled from the walker's own field tables reads only
the fields that hold or lead to IDs and skips the rest unparsed. It accepts a line only when
every key of every object it reads is one the walker's tables know and every ID is a decimal
string; anything else (another family, a key the walker would search, a number where an ID
should be a string) goes through `twpolicy.dehydrate` on the walker, so both give the same
IDs in the same order. A test holds the two equal over the corpus.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import keyword
import re
import shlex
import shutil
import tempfile
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import msgspec

from twpolicy._cli._common import (
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
from twpolicy._cli._scan import _collector_paused
from twpolicy._guard import Guard
from twpolicy._model import Action, ActionKind
from twpolicy._payloads import _walker
from twpolicy._payloads._ids import CONTENT_OF, check_kind, ids_in
from twpolicy._payloads._walker import Kind
from twpolicy._stores._quotas import QuotaLedger, open_quotas
from twpolicy.exceptions import PayloadError, PolicyViolation, StoreUnavailable

__all__ = ["IdReader", "fast_ids", "register"]

_Scalar = str | int | float | bool | None
_Raw = msgspec.Raw


def _struct(name: str, keys: frozenset[str], typed: dict[str, tuple[Any, Any]]) -> Any:
    """A struct reading ``typed`` fields, skipping the other ``keys``, refusing any other key.

    ``typed`` maps a key to its type and default (``...``: required). Keys that are not
    plain identifiers (``__twarc``) get a neutral attribute name.
    """
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for index, key in enumerate(sorted(keys | set(typed))):
        plain = key.isidentifier() and not key.startswith("_") and not keyword.iskeyword(key)
        attribute = key if plain else f"field_{index}"
        rename[attribute] = key
        kind, default = typed.get(key, (_Raw | msgspec.UnsetType, msgspec.UNSET))
        fields.append((attribute, kind) if default is ... else (attribute, kind, default))
    return msgspec.defstruct(
        name, fields, forbid_unknown_fields=True, kw_only=True, rename=rename, gc=False
    )


def _spec(kind: Kind) -> Any:
    return _walker._SPECS[kind]  # noqa: SLF001  # the fast path is compiled from the walker's tables


# Decimal IDs (`twpolicy._redistribution.is_id`), one per line.
_DECIMALS = re.compile(r"(?:0|[1-9][0-9]{0,19})(?:\n(?:0|[1-9][0-9]{0,19}))*")


_SKIP = (_Raw | msgspec.UnsetType, msgspec.UNSET)
# ``list`` for element types built at run time, which a type checker cannot see.
_LIST: Any = list
# The ID fields each kind reads; the others are skipped unparsed.
_READS: dict[str, frozenset[str]] = {
    "tweets": frozenset(
        {
            "tweet.id",
            "tweet.conversation_id",
            "tweet.referenced_tweets",
            "tweet.edit_history_tweet_ids",
            "mention.pinned_tweet_id",
            "user.pinned_tweet_id",
        }
    ),
    "users": frozenset(
        {"tweet.author_id", "tweet.in_reply_to_user_id", "mention.id", "mention.id_str", "user.id"}
    ),
    "dms": frozenset(),
}


class _Variant(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    bit_rate: int | None = None
    content_type: str | None = None
    url: str | None = None


_Metrics = dict[str, int | float | str | None]
# Media objects are searched by the walker key by key: only these keys, holding nothing it
# recognises, may take the fast path.
_MEDIA = _struct(
    "MediaV2",
    frozenset(),
    {
        **dict.fromkeys(
            ("media_key", "type", "url", "preview_image_url", "width", "height"), (_Scalar, None)
        ),
        "duration_ms": (_Scalar, None),
        "alt_text": (_Scalar, None),
        **dict.fromkeys(
            ("public_metrics", "non_public_metrics", "organic_metrics", "promoted_metrics"),
            (_Metrics, None),
        ),
        "variants": (list[_Variant], None),
    },
)


@functools.cache
def _decoder(kind: str) -> msgspec.json.Decoder[Any]:
    """The fast decoder for one kind of ID: it parses only the fields that kind reads."""
    reads = _READS[kind]
    mention: Any
    entities: Any
    note: Any
    user_entities: Any
    reference: Any
    tweet: Any
    user: Any
    includes: Any

    def field(owner: str, name: str, kind: Any = str | None, default: Any = None) -> Any:
        return (kind, default) if f"{owner}.{name}" in reads else _SKIP

    # Mentions inside v2 pages are small ({start, end, username, id}); one that carries
    # ``entities`` is an expanded user whose own mentions the walker follows: walker's path.
    mention = _struct(
        "Mention",
        _spec(Kind.MENTION).known - {"entities"},
        {name: field("mention", name) for name in ("id", "id_str", "pinned_tweet_id")},
    )
    # ``entities`` (of a Tweet, or a user's ``entities.description``): only mentions are
    # walked; its other keys are not searched.
    entities = msgspec.defstruct("Entities", [("mentions", _LIST[mention], [])], gc=False)
    note = msgspec.defstruct("NoteTweet", [("entities", entities | None, None)], gc=False)
    user_entities = msgspec.defstruct(
        "UserEntities", [("description", entities | None, None)], gc=False
    )
    reference = msgspec.defstruct("Reference", [("id", str | None, None)], gc=False)
    tweet = _struct(
        "TweetV2",
        _spec(Kind.TWEET_V2).known - {"author", "in_reply_to_user"},
        {
            # A string id and a text make the walker read it as a v2 Tweet.
            "id": (str, ...),
            "text": (_Raw, ...),
            "author_id": field("tweet", "author_id"),
            "in_reply_to_user_id": field("tweet", "in_reply_to_user_id"),
            "conversation_id": field("tweet", "conversation_id"),
            "referenced_tweets": field("tweet", "referenced_tweets", _LIST[reference]),
            "edit_history_tweet_ids": field("tweet", "edit_history_tweet_ids", list[str]),
            "entities": (entities | None, None),
            "note_tweet": (note | None, None),
        },
    )
    user = _struct(
        "UserV2",
        _spec(Kind.USER_V2).known,
        {
            "id": field("user", "id"),
            "pinned_tweet_id": field("user", "pinned_tweet_id"),
            "entities": (user_entities | None, None),
        },
    )
    includes = msgspec.defstruct(
        "Includes",
        [("tweets", _LIST[tweet], []), ("users", _LIST[user], []), ("media", _LIST[_MEDIA], [])],
        gc=False,
    )
    page = _struct(
        "ResponseV2",
        _spec(Kind.RESPONSE_V2).known - {"type", "title", "detail"},
        {"data": (_LIST[tweet], ...), "includes": (includes | None, None)},
    )
    return msgspec.json.Decoder(page)


def _mentions(entities: Any) -> Any:
    return entities.mentions if entities is not None else ()


def _tweet_ids(tweets: Any, users: Any, out: list[str | None]) -> None:
    """Append the Tweet IDs the walker reads from v2 Tweets and users, in its order."""
    append, extend = out.append, out.extend
    for tweet in tweets:
        append(tweet.id)
        append(tweet.conversation_id)
        if tweet.referenced_tweets:
            extend([ref.id for ref in tweet.referenced_tweets])
        if tweet.edit_history_tweet_ids:
            extend(tweet.edit_history_tweet_ids)
        if tweet.entities is not None:
            extend([m.pinned_tweet_id for m in tweet.entities.mentions])
        if tweet.note_tweet is not None:
            extend([m.pinned_tweet_id for m in _mentions(tweet.note_tweet.entities)])
    for user in users:
        append(user.pinned_tweet_id)
        if user.entities is not None:
            extend([m.pinned_tweet_id for m in _mentions(user.entities.description)])


def _user_ids(tweets: Any, users: Any, out: list[str | None]) -> None:
    """Append the user IDs the walker reads from v2 Tweets and users, in its order."""
    append, extend = out.append, out.extend
    for tweet in tweets:
        append(tweet.author_id)
        append(tweet.in_reply_to_user_id)
        if tweet.entities is not None:
            extend([m.id_str or m.id for m in tweet.entities.mentions])
        if tweet.note_tweet is not None:
            extend([m.id_str or m.id for m in _mentions(tweet.note_tweet.entities)])
    for user in users:
        append(user.id)
        if user.entities is not None:
            extend([m.id_str or m.id for m in _mentions(user.entities.description)])


def _no_ids(tweets: Any, users: Any, out: list[str | None]) -> None:
    """v2 Tweet pages hold no DM IDs."""


_EXTRACT = {"tweets": _tweet_ids, "users": _user_ids, "dms": _no_ids}


def fast_ids(line: bytes, kind: str) -> list[str] | None:
    """The ``kind`` IDs of one v2 response line, with repeats; ``None`` if not such a line."""
    try:
        page = _decoder(kind).decode(line)
    except msgspec.DecodeError:
        return None
    out: list[str | None] = []
    extract = _EXTRACT[kind]
    extract(page.data, (), out)
    if page.includes is not None:
        extract(page.includes.tweets, page.includes.users, out)
    ids = [value for value in out if value]
    joined = "\n".join(ids)  # one regular-expression match checks every ID at once
    if ids and (joined.count("\n") != len(ids) - 1 or _DECIMALS.fullmatch(joined) is None):
        return None  # the walker's path names the bad ID
    return ids


class _FastIds(list[str]):
    """The IDs the fast path read from a record: a list, so the record reader takes it."""

    __slots__ = ()


class IdReader:
    """Read records (JSON Lines, JSON, concatenated JSON), yielding their new IDs of a kind.

    Records are cut and parsed by `twpolicy scan`'s reader, with this module's fast path as
    the parser; IDs are kept unique across records. A bad record (not JSON, an ID whose
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
    ) -> None:
        self.kind = check_kind(kind)
        self.strict = strict
        self.on_error = on_error
        self.max_bytes = max_bytes
        self.seen: set[str] = set()
        self.records = 0
        self.bad = 0
        #: Why the last input stopped before its end (damaged compression), or ``None``.
        self.damage: DamagedInput | None = None

    def _loads(self, data: bytes) -> Any:
        ids = fast_ids(data, self.kind)
        return LOADS(data) if ids is None else _FastIds(ids)

    def _ids(self, record: Record) -> list[str]:
        if record.error is not None:
            raise PayloadError(record.error)
        if type(record.value) is _FastIds:
            return record.value
        try:
            return list(ids_in(record.value, self.kind))
        except RecursionError:
            raise PayloadError("nested too deeply to read") from None

    def new_ids(self, stream: Lines) -> Iterator[list[str]]:
        """Yield, per record, the IDs no earlier record had, in first-seen order."""
        seen = self.seen
        reader = RecordReader(stream, max_bytes=self.max_bytes, loads=self._loads)
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
            fresh = [value for value in ids if value not in seen]
            if fresh:
                seen.update(fresh)
                yield list(dict.fromkeys(fresh))
        self.damage = reader.damage


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
                "written": code in (Exit.OK, Exit.BAD_INPUT) and not note,
                "exit_code": int(code),
            }
            warn(json.dumps(record))
            return
        skipped = f"; {_plural(reader.bad, 'unreadable record')} skipped" if reader.bad else ""
        warn(
            f"dehydrate: {_plural(len(reader.seen), 'unique ' + _LABEL[self.args.kind] + ' ID')}"
            f" from {_plural(reader.records, 'record')}{skipped}{note}"
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


def _dehydrate(
    args: argparse.Namespace, source: Source, quotas: QuotaLedger | None, out: TextIO | None
) -> int:
    state = _Run(args, out)
    reader = IdReader(
        args.kind, strict=args.strict, on_error=state.skip, max_bytes=args.max_record_mib * 2**20
    )
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
        with _collector_paused():
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
    action = Action(
        kind=ActionKind.EXPORT,
        operation="twpolicy dehydrate",
        recipient=args.recipient,
        count=len(reader.seen),
        facts={"content": CONTENT_OF[args.kind]},
        payload=reader.seen,
    )
    try:
        # The reservation becomes final only once the IDs are in place.
        with Guard(quotas=quotas).permit(action):
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
    parser.add_argument("--recipient", help="charge the IDs to this recipient's quota")
    add_store_option(parser, QUOTA, extra="; used with --recipient")
    parser.set_defaults(run=run)

"""``twpolicy dehydrate``: a dataset in, its unique IDs out, streaming.

Input is read record by record by `twpolicy scan`'s reader (JSON Lines, JSON, concatenated
JSON, gzip-compressed or not), so memory holds one record and the set of IDs seen.

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
import keyword
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TextIO

import msgspec

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
from twpolicy._payloads import _walker
from twpolicy._payloads._ids import CONTENT_OF, check_kind, ids_in
from twpolicy._payloads._walker import Kind
from twpolicy._stores._quotas import open_quotas
from twpolicy.exceptions import ConfigurationError, PayloadError, PolicyViolation

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
    ) -> None:
        self.kind = check_kind(kind)
        self.strict = strict
        self.on_error = on_error
        self.seen: set[str] = set()
        self.records = 0
        self.bad = 0

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
        for record in read_records(stream, loads=self._loads):
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

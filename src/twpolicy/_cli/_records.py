"""The one record reader of the command line: any JSON layout, any encoding, any damage.

Every command that reads a dataset (``scan``, ``dehydrate``) reads it here, so they agree on
what a record is and on what was skipped. Input is JSON Lines, one JSON document, or
concatenated JSON (indented, pretty-printed over many lines); gzip, bzip2 or xz compressed or
not; UTF-8 (with or without a byte order mark), UTF-16 or UTF-32. Memory holds one record.

A bad record never takes good ones with it. A record that spans lines is followed by bracket
depth; when a line starting with ``{`` or ``[`` cannot continue it (JSON allows a value there
only after ``[``, ``:`` or an array's ``,``), the record was cut off and a new one starts on
that line. Whatever ends up unreadable is searched again for record starts (lines that open
a record at its indentation or less, or hold a whole record): every later record is read,
and every skipped span is reported by its lines. Damage to the compression stops the input
at the damage, with everything before it read and counted.
"""

from __future__ import annotations

import bz2
import codecs
import collections
import errno
import gzip
import io
import json
import lzma
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Final, NamedTuple, Protocol

from twpolicy._cli._common import CliError, Exit, shown, stdin_binary
from twpolicy.exceptions import PayloadError

__all__ = [
    "LOADS",
    "MAX_RECORD_BYTES",
    "DamagedInput",
    "Lines",
    "Record",
    "RecordReader",
    "Source",
    "open_input",
    "open_source",
    "read_records",
]


def _loads(data: bytes) -> Any:
    """Parse UTF-8 JSON; bytes that are not UTF-8 are refused, not let through.

    (``json.loads`` given bytes lets encoded surrogates through, which no UTF allows.)
    """
    return json.loads(data.decode("utf-8"))


def _loads_fast(data: bytes) -> Any:
    """Parse with orjson where it can; what it refuses, ``json`` reads (or explains).

    orjson refuses some JSON the standard parser takes (lone surrogate escapes, integers
    past 64 bits, NaN): those records are read, and errors worded, the standard way.
    """
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return _loads(data)


#: The JSON parser: orjson when installed (``pip install twpolicy[fast]``), else the standard one.
LOADS: Callable[[bytes], Any] = _loads
try:
    import orjson
except ImportError:  # pragma: no cover  # exercised where orjson is not installed
    pass
else:
    LOADS = _loads_fast

#: The largest record read by default; longer ones are reported and skipped.
MAX_RECORD_BYTES: Final = 64 * 2**20

#: How often a line of an unreadable span may be read again while looking for record starts.
#: Bounds the work on adversarial input (a million lines of ``[``) to a few passes.
MAX_REREADS: Final = 2

# A complete string, a bracket, or a quote that opens a string the line does not close.
_TOKENS: Final = re.compile(rb'"(?:[^"\\\n]|\\.)*"|[\[\]{}]|"')
_OPENERS: Final = frozenset(b"{[")
_SPACE: Final = b" \t\r\n\f\v"
_BUFFER: Final = 2**18
_OPENED: Final = (b"{", b"[")
_CLOSED: Final = (b"}\n", b"]\n")
_BOM: Final = b"\xef\xbb\xbf"
_VALUE_AFTER: Final = frozenset(b"[:")  # a value may begin after these...
_COMMA: Final = ord(",")  # ...and after an array's comma
# The errors a decompressor or the device under it raises mid-stream.
_STREAM_ERRORS: Final = (OSError, EOFError, zlib.error, lzma.LZMAError)


class Lines(Protocol):
    """A binary stream read line by line (a file, standard input, a decompressed stream)."""

    def readline(self, size: int = -1, /) -> bytes:
        """The next line, at most ``size`` bytes of it."""
        ...


class Record(NamedTuple):
    """One record of the input: its number, its first and last lines, its value or why not.

    A named tuple, not an attrs class: one is made per record, on the hot path. An
    unreadable record is a span of lines that was skipped (``error`` says why).
    """

    number: int
    line: int
    value: Any = None
    error: str | None = None
    end: int = 0

    @property
    def lines(self) -> str:
        """``line 7`` or ``lines 7-12``: where the record is, for messages."""
        last = max(self.end, self.line)
        return f"line {self.line}" if last == self.line else f"lines {self.line}-{last}"


class DamagedInput(NamedTuple):
    """Why an input stopped early: its stream broke after ``line``."""

    line: int
    message: str


def _error(exc: Exception, data: bytes, first: int) -> str:
    """Why ``data`` (starting on line ``first``) is not a record, naming the line."""
    if isinstance(exc, PayloadError):  # a key written twice: it names the key and the remedy
        return str(exc).rstrip(".")
    if isinstance(exc, RecursionError) or "recursion" in str(exc).lower():
        return "nested too deeply to read"
    if isinstance(exc, UnicodeDecodeError):
        line = first + data.count(b"\n", 0, exc.start)
        return f"not valid text in the input's encoding (line {line})"
    if isinstance(exc, json.JSONDecodeError):
        if first and data.count(b"\n", 0, exc.pos):
            return f"not valid JSON ({exc.msg}, line {exc.lineno - 1 + first})"
        return f"not valid JSON ({exc.msg}, column {exc.colno})"
    return f"not valid JSON ({exc})"


def _last(lines: list[_Line]) -> int:
    """The last line of ``lines`` with something on it (a span ends there, not at a blank)."""
    for line in reversed(lines):
        if line.data.strip(_SPACE):
            return line.number
    return lines[0].number


def _indent(line: bytes) -> int:
    return len(line) - len(line.lstrip(b" \t"))


class _Line(NamedTuple):
    number: int
    data: bytes
    rereads: int = 0


class _Pending:
    """A record that spans lines, followed until its brackets close."""

    __slots__ = ("broken", "indent", "last", "lines", "oversize", "size", "stack", "start")

    def __init__(self, line: _Line, indent: int) -> None:
        self.start = line.number
        self.indent = indent
        self.lines: list[_Line] = []
        self.stack = bytearray()
        self.last = 0  # the last significant byte so far
        self.size = 0
        self.oversize = False
        self.broken = 0  # the line of a string it did not close (JSON never does that)

    def accepts_value(self) -> bool:
        """Whether JSON allows a value to begin here: after ``[``, ``:`` or an array's ``,``."""
        last = self.last
        return last in _VALUE_AFTER or (last == _COMMA and self.stack[-1:] == b"[")


_END: Final = _Line(0, b"")
_CUT: Final = "cut off"
_ENDS: Final = "cut off: the input ends inside it"


class _Reader:
    """Cut a byte stream into records, resynchronising after every bad one."""

    def __init__(self, stream: Lines, max_bytes: int, loads: Callable[[bytes], Any]) -> None:
        self._stream = stream
        self._max = max_bytes
        self._loads = loads
        self._count = 0
        self._line = 0
        self._queue: collections.deque[_Line] = collections.deque()
        self._pending: _Pending | None = None
        self._junk: tuple[int, int] | None = None  # a span of text between records
        self._reread_lines = 0
        self.damage: DamagedInput | None = None

    # -- output ------------------------------------------------------------------------------

    def _record(self, first: int, last: int, value: Any = None, error: str | None = None) -> Record:
        self._count += 1
        if error is None and not isinstance(value, (dict, list)):
            what = "null" if value is None else type(value).__name__
            error, value = f"a JSON {what}, not an object or array", None
        return Record(self._count, first, value, error, last)

    def _flush_junk(self) -> Iterator[Record]:
        if self._junk is not None:
            first, last = self._junk
            self._junk = None
            yield self._record(first, last, error="not JSON: text between records")

    # -- input -------------------------------------------------------------------------------

    def _source(self) -> Iterator[_Line | None]:
        """Each line (``None`` for one over the size limit, which is skipped unread)."""
        readline = self._stream.readline
        limit = self._max + 1
        try:
            line = readline(limit)
            while line:
                self._line += 1
                if len(line) >= limit and not line.endswith(b"\n"):
                    while line and not line.endswith(b"\n"):
                        line = readline(limit)
                    yield None
                else:
                    yield _Line(self._line, line[3:] if line.startswith(_BOM) else line)
                line = readline(limit)
        except _STREAM_ERRORS as exc:
            self.damage = DamagedInput(self._line, _damage(exc, self._line))

    # -- the state machine -------------------------------------------------------------------

    def __iter__(self) -> Iterator[Record]:
        source = self._source()
        queue = self._queue
        while True:
            line = queue.popleft() if queue else next(source, _END)
            if line is _END:
                if self._pending is None:
                    break
                yield from self._give_up(self._pending, _ENDS)
            elif line is None:
                yield from self._oversized_line(self._line)
            elif line.rereads < 0:  # an oversized line, put back behind a record read again
                yield from self._oversized_line(line.number)
            elif self._pending is None:
                yield from self._fresh(line, line.data)
            else:
                yield from self._continue(self._pending, line)
        yield from self._flush_junk()

    def _oversized_line(self, number: int) -> Iterator[Record]:
        """A line over the size limit (skipped unread): it ends any record open before it."""
        pending = self._pending
        if pending is not None:
            self._queue.appendleft(_Line(number, b"", -1))
            yield from self._give_up(pending, _CUT)
            return
        yield from self._flush_junk()
        yield self._record(number, number, error=f"larger than {self._max:,} bytes")

    def _fresh(self, line: _Line, text: bytes) -> Iterator[Record]:
        """``text`` (a line, or what follows a record on it) with no record open."""
        # A JSON Lines record as written ("{...}\n") is parsed as it is: no copy of the line
        # (JSON allows the trailing newline).
        ends = text[-2:]
        stripped = text if ends in _CLOSED and text[:1] in _OPENED else text.strip(_SPACE)
        if not stripped:
            return
        if stripped[0] not in _OPENERS:
            yield from self._text(line.number, stripped)
            return
        yield from self._flush_junk()
        try:
            value = self._loads(stripped)
        except (ValueError, RecursionError):
            pass  # a record spanning lines, or a bad one: follow its brackets
        else:
            yield self._record(line.number, line.number, value)
            return
        self._pending = _Pending(line, _indent(text))
        yield from self._feed(self._pending, line, text)

    def _text(self, number: int, stripped: bytes) -> Iterator[Record]:
        """A line that does not open a record: a bare JSON value, or text between records."""
        if stripped[0] in b'"-0123456789tfn':
            try:
                value = self._loads(stripped)
            except (ValueError, RecursionError):
                pass
            else:
                yield from self._flush_junk()
                yield self._record(number, number, value)
                return
        if self._junk is not None and self._junk[1] >= number - 1:
            self._junk = (self._junk[0], number)
        else:
            yield from self._flush_junk()
            self._junk = (number, number)

    def _continue(self, pending: _Pending, line: _Line) -> Iterator[Record]:
        stripped = line.data.lstrip(_SPACE)
        if stripped[:1] and stripped[0] in _OPENERS:
            indent = _indent(line.data)
            if not pending.accepts_value() or (pending.broken and indent <= pending.indent):
                # JSON cannot go on like this: the open record was cut off; one starts here.
                self._queue.appendleft(line)
                yield from self._give_up(pending, _CUT, indent)
                return
        yield from self._feed(pending, line, line.data)

    def _feed(self, pending: _Pending, line: _Line, text: bytes) -> Iterator[Record]:
        """Follow brackets through ``text``; finish the record if they close."""
        stack = pending.stack
        closed = -1
        for token in _TOKENS.finditer(text):
            mark = token[0]
            if len(mark) > 1:  # a whole string: brackets inside it do not count
                continue
            if mark == b'"':  # the rest of the line is inside a string it does not close
                pending.broken = pending.broken or line.number
                break
            if mark in b"{[":
                stack.append(mark[0])
                continue
            stack.pop()
            if not stack:
                closed = token.end()
                break
        part = text if closed < 0 else text[:closed]
        tail = part.rstrip(_SPACE)
        if tail:
            pending.last = tail[-1]
        self._keep(pending, line, part)
        if closed >= 0:
            yield from self._close(pending, line, text[closed:])

    def _keep(self, pending: _Pending, line: _Line, part: bytes) -> None:
        if pending.oversize:
            return
        pending.size += len(part)
        if pending.size > self._max:
            pending.oversize, pending.lines = True, []
        else:
            pending.lines.append(_Line(line.number, part, line.rereads))

    def _close(self, pending: _Pending, line: _Line, rest: bytes) -> Iterator[Record]:
        """The brackets closed on ``line``: parse the record, then read what follows it."""
        self._pending = None
        if rest.strip(_SPACE):  # read after whatever is read again from this record
            self._queue.appendleft(_Line(line.number, rest, MAX_REREADS))
        if pending.oversize:
            yield self._record(pending.start, line.number, error=f"larger than {self._max:,} bytes")
        elif pending.broken:
            why = f"not valid JSON (a string is not closed on line {pending.broken})"
            yield from self._reread(pending, line.number, why)
        else:
            data = b"".join(part.data for part in pending.lines)
            try:
                value = self._loads(data)
            except (ValueError, RecursionError) as exc:
                yield from self._reread(pending, line.number, _error(exc, data, pending.start))
            else:
                yield self._record(pending.start, line.number, value)

    def _give_up(self, pending: _Pending, why: str, indent: int | None = None) -> Iterator[Record]:
        """The open record is unreadable: skip it, reading its lines again for record starts."""
        self._pending = None
        last = _last(pending.lines) if pending.lines else self._line
        if pending.oversize:
            yield self._record(pending.start, last, error=f"larger than {self._max:,} bytes")
            return
        yield from self._reread(pending, last, why, indent)

    def _reread(
        self, pending: _Pending, last: int, why: str, indent: int | None = None
    ) -> Iterator[Record]:
        """Report the lines of ``pending`` up to its first record start; read the rest again."""
        level = pending.indent if indent is None else max(pending.indent, indent)
        lines = pending.lines
        # Reading again is bounded: a few times the input, however it is built.
        budget = 3 * self._line + 1000 - self._reread_lines
        for index in range(1, min(len(lines), budget)):
            if self._starts_record(lines[index], level):
                if why in (_CUT, _ENDS):
                    why = f"cut off: a new record starts on line {lines[index].number}"
                yield self._record(pending.start, _last(lines[:index]), error=why)
                again = [_Line(x.number, x.data, x.rereads + 1) for x in lines[index:]]
                self._reread_lines += len(again)
                self._queue.extendleft(reversed(again))
                return
        if why == _CUT:
            why = f"cut off: a new record starts on line {self._queue[0].number}"
        yield self._record(pending.start, last, error=why)

    def _starts_record(self, line: _Line, level: int) -> bool:
        """Whether a line of an unreadable span may begin a record of its own."""
        stripped = line.data.strip(_SPACE)
        if line.rereads >= MAX_REREADS or not stripped or stripped[0] not in _OPENERS:
            return False
        if _indent(line.data) <= level:
            return True
        try:  # deeper, but a whole record on its own line (a pretty-printer's lines never are)
            return bool(self._loads(stripped))
        except (ValueError, RecursionError):
            return False


def _damage(exc: BaseException, line: int) -> str:
    """What broke in a compressed or device stream, for a person."""
    where = f"after line {line:,}" if line else "at its start"
    text = str(exc)
    if isinstance(exc, EOFError):
        return f"the compressed input is cut off {where}; the rest is missing"
    if "CRC" in text or ("length" in text.lower() and isinstance(exc, gzip.BadGzipFile)):
        return f"the gzip checksum does not match ({text}): the data read may be damaged"
    if isinstance(exc, (zlib.error, lzma.LZMAError, gzip.BadGzipFile)) or (
        isinstance(exc, OSError) and exc.errno is None
    ):
        return f"the compressed data is damaged {where} ({text}); the rest cannot be read"
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else text
    return f"reading failed {where}: {reason}"


def read_records(
    stream: Lines, *, max_bytes: int = MAX_RECORD_BYTES, loads: Callable[[bytes], Any] = LOADS
) -> Iterator[Record]:
    """Every record of ``stream``: JSON, JSON Lines or concatenated JSON, one at a time.

    A stream that breaks (damaged compression, a device error) ends early; `RecordReader`
    says why.
    """
    return iter(RecordReader(stream, max_bytes=max_bytes, loads=loads))


class RecordReader:
    """`read_records`, keeping what stopped the input early (``damage``) once iterated."""

    def __init__(
        self,
        stream: Lines,
        *,
        max_bytes: int = MAX_RECORD_BYTES,
        loads: Callable[[bytes], Any] = LOADS,
    ) -> None:
        self._reader = _Reader(stream, max_bytes, loads)

    def __iter__(self) -> Iterator[Record]:
        return iter(self._reader)

    @property
    def damage(self) -> DamagedInput | None:
        """Why the input stopped before its end, or ``None``."""
        return self._reader.damage


# -- opening an input ------------------------------------------------------------------------

_MAGIC: Final = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"(\xb5/\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
)
_UNSUPPORTED: Final = {
    "zstd": "zstd-compressed, which twpolicy does not read: decompress it first (zstd -d)",
    "zip": "a zip archive, which twpolicy does not read: extract its files first (unzip)",
}
# With a byte order mark, the codec reads (and drops) it itself: a line's length is never
# miscounted by one character.
_BOMS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class UnreadableInput(Exception):  # internal: becomes a usage message
    """An input that cannot be read at all (a format twpolicy does not read)."""


def _invalid(error: UnicodeDecodeError) -> tuple[str, int]:
    """Undecodable bytes become a NUL, which no JSON text may hold: the record is refused."""
    return "\x00", error.end


codecs.register_error("twpolicy.invalid", _invalid)  # type: ignore[arg-type]  # decode only


class _Transcoded:
    """UTF-16 or UTF-32 text read as UTF-8 lines, so one reader serves every encoding."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self._text = io.TextIOWrapper(
            raw,
            encoding=encoding,
            errors="twpolicy.invalid",
            newline="\n",
        )

    def readline(self, size: int = -1, /) -> bytes:
        return self._text.readline(size).encode("utf-8", "surrogatepass")


class _Broken:
    """An input whose first bytes could not be decompressed: reading it says why."""

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def readline(self, size: int = -1, /) -> bytes:  # noqa: ARG002  # the Lines protocol
        raise self._error


def _peek(stream: Any, size: int) -> bytes:
    data: bytes = stream.peek(size)
    return data[:size]


def open_input(raw: BinaryIO) -> Lines:
    """Wrap an opened binary input: decompress it, and read it as UTF-8 lines.

    Raises:
        UnreadableInput: a compression twpolicy cannot read (zstd, zip).
        OSError: the first bytes cannot be read.
    """
    buffered: Any = raw if hasattr(raw, "peek") else io.BufferedReader(raw)
    head = _peek(buffered, 6)
    stream: Any = buffered
    for magic, name in _MAGIC:
        if head.startswith(magic):
            if name in _UNSUPPORTED:
                raise UnreadableInput(f"the input is {_UNSUPPORTED[name]}")
            opener = {"gzip": gzip.GzipFile, "bzip2": bz2.BZ2File, "xz": lzma.LZMAFile}[name]
            stream = opener(fileobj=buffered) if name == "gzip" else opener(buffered)
            break
    try:
        first = _peek(stream, 4)
    except _STREAM_ERRORS as exc:
        return _Broken(exc)  # the reader reports the damage
    encoding = _encoding(first)
    if encoding is None:
        return stream  # type: ignore[no-any-return]
    return _Transcoded(stream, encoding)


def _encoding(first: bytes) -> str | None:
    """UTF-16 or UTF-32 by byte order mark or by the NULs of an ASCII start; else ``None``."""
    for bom, name in _BOMS:
        if first.startswith(bom):
            return name
    if len(first) >= 4:  # noqa: PLR2004  # JSON text starts with ASCII (RFC 4627, 3)
        if first[:3] == b"\x00\x00\x00" and first[3]:
            return "utf-32-be"
        if first[0] and first[1:4] == b"\x00\x00\x00":
            return "utf-32-le"
    if len(first) >= 2:  # noqa: PLR2004
        if not first[0] and first[1]:
            return "utf-16-be"
        if first[0] and not first[1]:
            return "utf-16-le"
    return None


class Source:
    """One named input, opened: ``-`` is standard input (and only ``-`` reads it)."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name == "-":
            self.raw: Any = stdin_binary()
            self.size: int | None = None
        else:
            # A large buffer: records of v2 pages run to hundreds of kilobytes a line.
            self.raw = open(name, "rb", buffering=_BUFFER)  # noqa: PTH123, SIM115  # closed by close()
            info = os.fstat(self.raw.fileno())
            self.size = info.st_size if stat.S_ISREG(info.st_mode) else None
            if stat.S_ISDIR(info.st_mode):
                self.raw.close()
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name)
        try:
            self.lines = open_input(self.raw)
        except BaseException:
            self.close()
            raise

    def position(self) -> int | None:
        """Bytes read so far (of the file as stored, compressed or not), if it can tell."""
        if self.size is None:
            return None
        try:
            return int(self.raw.tell())
        except (OSError, ValueError):  # pragma: no cover  # a file closed under us
            return None

    def close(self) -> None:
        """Close the file (never standard input)."""
        if self.name != "-":
            self.raw.close()


def open_source(name: str) -> Source:
    """Open ``name`` for `read_records`.

    Raises:
        CliError: standard input is closed, or the input is compressed in a way twpolicy
            cannot read.
        OSError: the file cannot be opened or its first bytes read.
    """
    try:
        return Source(name)
    except UnreadableInput as exc:
        raise CliError(Exit.BAD_INPUT, f"cannot read {shown(name)}: {exc}") from None

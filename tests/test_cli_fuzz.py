"""The CLI fuzz suite: files with bad records anywhere, in every encoding and compression.

Hypothesis builds datasets of good records (one per line, indented, pretty-printed) with bad
records dropped in at random places (cut-off records, junk text, invalid JSON, bare values,
bytes that are not text, records too large or too deep), writes them in every encoding the
reader takes and every compression, and runs the reader and the commands over them. Every
good record must be read and counted, every line accounted for (in a record or in a skipped
span), no run may end in a traceback, and the exit code must follow the table.
"""

import bz2
import gzip
import io
import json
import lzma
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twpolicy._cli._main import main
from twpolicy._cli._records import RecordReader, open_input
from twpolicy._cli._scan import scan

MAX_BYTES = 4096
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-16", "utf-32-le", "utf-32"]
COMPRESSIONS = {
    "none": lambda data: data,
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}

_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12
)  # any Unicode, emoji and all
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40), _text)
_extra = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["x_a", "x_b", "x_c", "x_d"]), inner, max_size=3),
    ),
    max_leaves=8,
)


@st.composite
def _layout(draw):
    """How one record is written: compact on a line, or pretty-printed with some indent."""
    return draw(st.sampled_from([None, None, 1, 2, 4, "\t"]))


def _dump(value, indent, base):
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return "".join(base + line + "\n" for line in text.split("\n"))


@st.composite
def _bad(draw, good_text, base, *, large=True):  # noqa: PLR0911  # one return per class
    """Text that is not a record, in one of the classes the reader must survive.

    ``large``: include records over `MAX_BYTES` (the reader's limit in these tests; the
    command's smallest is 1 MiB, too slow to write in every example).
    """
    kinds = ["cut", "cut", "junk", "literal", "bare", "closers", "deep", "surrogate"]
    kind = draw(st.sampled_from([*kinds, "large"] if large else kinds))
    if kind == "cut":  # a record cut off anywhere before its end
        body = good_text.rstrip("\n")
        start = len(body) - len(body.lstrip())
        return kind, body[: draw(st.integers(start + 1, len(body) - 1))] + "\n"
    if kind == "junk":
        # No line breaks of any kind (a junk line is one line), nor record openers.
        breaks = "\n\r{[ \t\f\v\x1c\x1d\x1e\x85\u2028\u2029"
        characters = st.characters(codec="utf-8", exclude_characters=breaks)
        junk = draw(st.text(characters, min_size=1, max_size=30))
        return kind, base + "#" + junk + "\n"
    if kind == "literal":  # brackets balanced, a bad token inside
        return kind, good_text.replace('": ', '": tru', 1)
    if kind == "bare":
        return kind, base + draw(st.sampled_from(["42", '"str"', "null", "true", "-1.5"])) + "\n"
    if kind == "closers":
        return kind, base + draw(st.sampled_from(["]", "}", "]}", "}]]"])) + "\n"
    if kind == "deep":
        depth = draw(st.integers(2000, 6000))
        return kind, base + "[" * depth + "]" * depth + "\n"
    if kind == "large":
        return kind, base + json.dumps({"x_pad": "y" * (MAX_BYTES + 10)}) + "\n"
    return kind, good_text.replace('"text": "', '"text": "\ud800', 1)  # not text in any UTF


@st.composite
def datasets(draw, *, large=True):
    """(text, the good records in order, how many bad chunks, whether they hold bad text)."""
    base = draw(st.sampled_from(["", "", "  "]))
    count = draw(st.integers(1, 8))
    first = draw(st.integers(10**17, 10**18))
    good, chunks, bad = [], [], 0

    def add_bad(good_text):
        # Bad chunks next to each other, or closers after a cut, could make valid JSON
        # together (a cut `{` and a `}`): a junk line between them keeps each one bad.
        kind, text = draw(_bad(good_text, base, large=large))
        if chunks and (kind == "closers" or bad_last[0]):
            chunks.append(base + "#\n")
        chunks.append(text)
        bad_last[0] = True

    bad_last = [False]
    for n in range(count):
        record = {"id": first + n, "id_str": str(first + n), "text": draw(_text)}
        record["x_extra"] = draw(_extra)
        text = _dump(record, draw(_layout()), base)
        while draw(st.integers(0, 3)) == 3:  # a bad record before this one, often none
            add_bad(text)
            bad += 1
        if draw(st.booleans()):
            chunks.append("\n")  # blank lines between records are nothing
        chunks.append(text)
        bad_last[0] = False
        good.append(record)
    while draw(st.integers(0, 3)) == 3:  # and at the end
        add_bad(_dump(good[-1], None, base))
        bad += 1
    return "".join(chunks), good, bad


def _encode(text, encoding):
    return text.encode(encoding, "surrogatepass")


def _read(data, max_bytes=MAX_BYTES):
    reader = RecordReader(open_input(io.BufferedReader(io.BytesIO(data))), max_bytes=max_bytes)
    return list(reader), reader.damage


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestReader:
    @_SETTINGS
    @given(
        datasets(), st.sampled_from(ENCODINGS), st.sampled_from(sorted(COMPRESSIONS))
    )  # fmt: skip
    def test_every_good_record_is_read_and_every_line_accounted_for(
        self, dataset, encoding, compression
    ):
        text, good, bad = dataset
        data = COMPRESSIONS[compression](_encode(text, encoding))
        records, damage = _read(data)
        assert damage is None
        assert good == [r.value for r in records if r.error is None]
        unreadable = [r for r in records if r.error is not None]
        assert bool(unreadable) == bool(bad)
        # Every line with something on it is in a good record or in a reported span.
        covered = set()
        for record in records:
            covered.update(range(record.line, max(record.end, record.line) + 1))
        lines = text.split("\n")
        assert {i for i, line in enumerate(lines, 1) if line.strip()} <= covered
        numbers = [r.number for r in records]
        assert list(range(1, len(records) + 1)) == numbers

    @_SETTINGS
    @given(datasets(), st.sampled_from(["gzip", "bzip2", "xz"]), st.data())
    def test_damaged_compression_stops_cleanly(self, dataset, compression, data):
        """Cut or corrupt compressed input: what was read is true, and the damage is said."""
        text, good, _ = dataset
        packed = bytearray(COMPRESSIONS[compression](_encode(text, "utf-8")))
        if data.draw(st.booleans(), label="truncate"):
            # Past the magic number (without it, the bytes are plain text, read as such).
            del packed[data.draw(st.integers(6, len(packed) - 1), label="at") :]
        else:
            at = data.draw(st.integers(0, len(packed) - 1), label="at")
            packed[at] ^= data.draw(st.integers(1, 255), label="xor")
        try:
            records, damage = _read(bytes(packed))
        except OSError:  # the header itself is unreadable: the command says so (tested below)
            return
        # Damage is either said, or left the records as they were: never silently changed.
        if damage is None and not any(r.error for r in records):
            assert good == [r.value for r in records]


class TestCommands:
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(datasets(large=False), st.sampled_from(ENCODINGS), st.sampled_from(sorted(COMPRESSIONS)))
    def test_scan_and_dehydrate_count_every_good_record(
        self, tmp_path_factory, dataset, encoding, compression
    ):
        text, good, bad = dataset
        folder = tmp_path_factory.mktemp("fuzz")
        path = folder / "data"
        path.write_bytes(COMPRESSIONS[compression](_encode(text, encoding)))
        out = io.StringIO()
        code = main(["scan", "--format", "json", str(path)], out=out)
        report = json.loads(out.getvalue())
        counts = report["files"][0]["counts"]
        assert len(good) == counts["records"] - counts["unreadable"]
        assert bool(bad) == bool(counts["unreadable"])
        assert (2 if bad else 0) == code  # the records carry no location
        ids = folder / "ids.txt"
        code = main(["dehydrate", "--quiet", str(path), str(ids)], out=io.StringIO())
        assert (2 if bad else 0) == code
        assert [r["id_str"] for r in good] == ids.read_text().split()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32-be"])
@pytest.mark.parametrize("compression", sorted(COMPRESSIONS))
def test_console_script_over_a_damaged_dataset(tmp_path, encoding, compression):
    """The installed command: no traceback, every good record counted, exit code 2."""
    good = [{"id": 10**17 + n, "id_str": str(10**17 + n), "text": "ü"} for n in range(3)]
    text = (
        json.dumps(good[0])
        + '\n{"data": [\n'  # cut off
        + json.dumps(good[1], indent=2)
        + "\n  junk\n"
        + "  "
        + json.dumps(good[2])
        + "\n"
    )
    path = tmp_path / f"data.{compression}"
    path.write_bytes(COMPRESSIONS[compression](_encode(text, encoding)))
    done = subprocess.run(
        [sys.executable, "-m", "twpolicy", "scan", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in done.stderr
    assert 2 == done.returncode
    counts = json.loads(done.stdout)["files"][0]["counts"]
    assert 3 == counts["records"] - counts["unreadable"]
    assert [] == scan([str(path)], io.StringIO(), max_bytes=MAX_BYTES)[0].kinds.most_common()

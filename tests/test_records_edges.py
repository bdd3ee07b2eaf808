"""The record reader at its edges: oversized lines inside records, strings that never close,
numbers JSON cannot hold, and streams that fail while being read."""

import errno
import io

from twpolicy._cli._records import RecordReader, read_records


def records(data, **options):
    """Each record of ``data`` as (first line, last line, value, error)."""
    return [(r.line, r.end, r.value, r.error) for r in read_records(io.BytesIO(data), **options)]


class TestOversized:
    def test_an_oversized_line_cuts_off_the_open_record(self):
        """A line over the limit inside a record ends it; the record after it is read."""
        data = b'{"a":\n' + b"x" * 100 + b'\n{"b": 1}\n'
        assert [
            (1, 1, None, "cut off: a new record starts on line 2"),
            (2, 2, None, "larger than 20 bytes"),
            (3, 3, {"b": 1}, None),
        ] == records(data, max_bytes=20)

    def test_a_record_that_grows_past_the_limit_and_never_ends(self):
        """A record still open at the end, already over the limit, is reported as too large."""
        data = b'{"a": [\n' + b'"0123456789",\n' * 5
        assert [(1, 6, None, "larger than 40 bytes")] == records(data, max_bytes=40)


class TestUnreadable:
    def test_a_string_that_is_not_closed(self):
        """Brackets that close after an unclosed string name the line the string began on."""
        data = b'{"a": "open\n}\n'
        assert [(1, 2, None, "not valid JSON (a string is not closed on line 1)")] == records(data)

    def test_a_number_too_long_for_json(self):
        """An integer of thousands of digits is refused with the parser's own reason."""
        (record,) = records(b'{"a": ' + b"1" * 5000 + b"}\n")
        assert record[3].startswith("not valid JSON (Exceeds the limit (4300 digits)")

    def test_a_bad_record_then_a_good_one_inside_its_brackets(self):
        """An invalid record whose lines hold a whole record is reported up to it; it is read."""
        assert [
            (1, 1, None, "not valid JSON (Expecting ',' delimiter, line 3)"),
            (2, 2, {"b": 2}, None),
            (3, 3, None, "not JSON: text between records"),
        ] == records(b'[1,\n{"b": 2}\n}\n')


class Failing(io.BytesIO):
    """A stream that fails with an I/O error after its first line."""

    def readline(self, size=-1):
        if self.tell():
            raise OSError(errno.EIO, "Input/output error")
        return super().readline(size)


class TestDamage:
    def test_a_device_error_stops_reading_and_says_where(self):
        """A stream that fails mid-way keeps what was read and says what failed, and where."""
        reader = RecordReader(Failing(b'{"a": 1}\n{"b": 2}\n'))
        assert [{"a": 1}] == [r.value for r in reader]
        assert (1, "reading failed after line 1: Input/output error") == reader.damage

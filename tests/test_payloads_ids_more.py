"""IDs read from the legacy Search API's fields, and ID-only values with something else in
them: what is counted, what is refused and where."""

import pytest

from twpolicy import PayloadError
from twpolicy._payloads._ids import ids_in, ids_only_check

LEGACY = {
    "id_str": "1",
    "text": "hi",
    "from_user": "bob",
    "created_at": "Thu, 01 Jan 2015 00:00:00 +0000",
}


class TestLegacySearch:
    def test_an_author_id_given_as_text_only(self):
        """from_user_id as a string, with no _str twin, is the author's ID."""
        assert ["12"] == list(ids_in({**LEGACY, "from_user_id": "12"}, "users"))

    @pytest.mark.parametrize("value", [12.0, 12.5])
    def test_an_author_id_given_as_a_float_is_refused(self, value):
        """from_user_id as a JSON float is refused where it is: its digits may be wrong."""
        with pytest.raises(
            PayloadError, match="at /from_user_id: the ID in 'from_user_id' arrived"
        ):
            list(ids_in({**LEGACY, "from_user_id": value}, "users"))

    def test_an_empty_author_id_is_no_id(self):
        """An empty from_user_id refers to nobody."""
        assert [] == list(ids_in({**LEGACY, "from_user_id": ""}, "users"))


def test_a_mapping_of_ids_with_a_note_in_it():
    """An ID-only mapping with another key is not ID-only: the first such key is named."""
    assert ("/note", 2) == ids_only_check({"ids": ["1", "2"], "note": "x"})

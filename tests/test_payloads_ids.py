"""The ID-only check: a fixed vocabulary of ID keys from the table, and nothing but IDs."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twpolicy import strategies as tws
from twpolicy._payloads._ids import ids_only_check, is_id, is_id_key
from twpolicy._payloads._shapes import ID_KEYS

ID_KEY = st.sampled_from(sorted(ID_KEYS))
# Any other key, often one that looks like an ID key (text hidden in ``..._id``).
LOOKALIKE = st.builds(
    str.__add__, st.text(max_size=12), st.sampled_from(["_id", "_ids", "_id_str", "id", "ids"])
)
OTHER_KEY = (st.text(max_size=12) | LOOKALIKE).filter(lambda key: key not in ID_KEYS)
NOT_ID = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=25).filter(lambda text: not is_id(text))
)


def id_only_values():
    """Values holding nothing but IDs: lists and mappings of vocabulary keys, at any depth."""
    return st.recursive(
        tws.ids(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ID_KEY, inner, max_size=3),
        max_leaves=12,
    )


def escape(token):
    """An RFC 6901 reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def containers(value, pointer=""):
    """Every list and mapping in ``value``, with its JSON pointer."""
    if isinstance(value, (dict, list)):
        yield pointer, value
    items = value.items() if isinstance(value, dict) else enumerate(value)
    if isinstance(value, (dict, list)):
        for key, item in items:
            yield from containers(item, f"{pointer}/{escape(str(key))}")


def count(value):
    """How many IDs ``value`` holds."""
    if isinstance(value, dict):
        return sum(map(count, value.values()))
    if isinstance(value, list):
        return sum(map(count, value))
    return 1


class TestVocabulary:
    @pytest.mark.parametrize(
        ("value", "pointer"),
        [
            ({"secret_id": "hello"}, "/secret_id"),
            ({"secret_id": "123"}, "/secret_id"),
            ({"my message to you_id": "1"}, "/my message to you_id"),
            ({"ids": {"hello there_ids": ["1"]}}, "/ids/hello there_ids"),
            ({"place_id": "123"}, "/place_id"),
            ({"media_key": "3"}, "/media_key"),
            ([{"id": "1", "text_id_str": "2"}], "/0/text_id_str"),
            ({1: "1"}, "/1"),
        ],
    )
    def test_keys_that_only_look_like_ids_are_refused(self, value, pointer):
        """A key ending in ``_id`` names no ID unless the table says so: text can hide there."""
        assert pointer == ids_only_check(value)[0]

    @pytest.mark.parametrize("key", sorted(ID_KEYS))
    def test_every_key_of_the_vocabulary_holds_ids(self, key):
        """Each ID key of the table takes an ID, or a list of them."""
        assert (None, 2) == ids_only_check({key: ["1", "2"]})
        assert is_id_key(key)


class TestProperties:
    @given(value=id_only_values())
    def test_id_only_values_pass_and_every_id_counts(self, value):
        """Lists and vocabulary mappings of IDs, at any depth, pass; each ID is counted once."""
        assert (None, count(value)) == ids_only_check(value)

    @given(value=id_only_values(), data=st.data())
    def test_a_key_outside_the_vocabulary_is_refused(self, value, data):
        """One key outside the vocabulary, anywhere, is refused and named, whatever it holds."""
        mappings = [(p, c) for p, c in containers(value) if isinstance(c, dict)]
        if not mappings:
            value = {"ids": [value]}
            mappings = [("", value)]
        pointer, mapping = data.draw(st.sampled_from(mappings))
        key = data.draw(OTHER_KEY)
        mapping[key] = data.draw(tws.ids() | id_only_values())
        assert f"{pointer}/{escape(key)}" == ids_only_check(value)[0]

    @given(value=id_only_values(), data=st.data())
    def test_a_value_that_is_not_an_id_is_refused(self, value, data):
        """One non-ID value, anywhere, under a vocabulary key or in a list, is refused and named."""
        if not isinstance(value, (dict, list)):
            value = [value]
        pointer, container = data.draw(st.sampled_from(list(containers(value))))
        bad = data.draw(NOT_ID)
        if isinstance(container, dict):
            key = data.draw(ID_KEY.filter(lambda k: k not in container))
            container[key] = bad
            where = f"{pointer}/{escape(key)}"
        else:
            container.append(bad)
            where = f"{pointer}/{len(container) - 1}"
        assert where == ids_only_check(value)[0]

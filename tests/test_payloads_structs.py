"""The model of declared keys the fast ID and location paths share (`_payloads/_structs`)."""

from __future__ import annotations

import typing

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twpolicy._payloads import _fastids, _fastscan
from twpolicy._payloads._shapes import SHAPES, Kind
from twpolicy._payloads._structs import (
    CROSSED,
    SKIPPED,
    USUAL,
    Field,
    Keys,
    Unsupported,
    declared,
    defstruct,
)


def _raw(field: Field, name: str) -> tuple[typing.Any, typing.Any]:  # a Held
    """Every field skipped unparsed, absent as unset."""
    return msgspec.Raw, msgspec.UNSET


class TestDeclared:
    @pytest.mark.parametrize("kind", sorted(set(SHAPES) - set(USUAL)))
    def test_every_known_key_of_other_kinds(self, kind):
        assert declared(kind, SHAPES[kind]) == SHAPES[kind].known

    def test_a_mention_declares_its_usual_keys_and_those_holding_ids_and_slots(self):
        shape = SHAPES[Kind.MENTION]
        keys = declared(Kind.MENTION, shape)
        assert keys <= shape.known
        assert USUAL[Kind.MENTION] & shape.known <= keys
        assert {"id_str", "pinned_tweet_id", "entities"} <= keys
        assert "followers_count" in shape.known - keys  # a user's key: the exact path's

    def test_both_fast_paths_declare_the_same_mention_keys(self):
        """One table: a v2 page's mention declares the same keys on both paths."""

        def mention_keys(struct):
            found = []

            def visit(tp, seen):
                if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
                    if tp in seen:
                        return
                    seen.add(tp)
                    names = {field.encode_name for field in msgspec.structs.fields(tp)}
                    if {"start", "end", "username"} <= names:
                        found.append(names)
                    for field in msgspec.structs.fields(tp):
                        visit(field.type, seen)
                for arg in typing.get_args(tp):
                    visit(arg, seen)

            visit(struct, set())
            return found

        ids = mention_keys(_fastids.reader("users").decoder.type)
        scan = mention_keys(_fastscan.readers().decoders[0][2].type)
        assert ids
        assert scan
        expected = declared(Kind.MENTION, SHAPES[Kind.MENTION])
        # each path adds what it reads (the scan its location, whole-making names) to the table's
        for names in ids + scan:
            assert expected <= names <= expected | {"location", "username", "screen_name"}


class TestKeys:
    def test_a_path_crosses_objects(self):
        keys = Keys()
        entry = keys.at(("entities", "description", "mentions"))
        assert entry.role == SKIPPED
        assert keys.fields["entities"].role == CROSSED
        assert keys.fields["entities"].below is not None
        assert "mentions" in keys.fields["entities"].below.fields["description"].below.fields

    def test_a_key_read_otherwise_cannot_be_crossed(self):
        keys = Keys()
        keys.field("geo").role = "location"
        with pytest.raises(Unsupported):
            keys.at(("geo", "place_id"))

    # Keys as JSON spells them (msgspec renames to no quote, backslash or control character).
    @given(
        st.text(
            st.characters(exclude_categories=["Cc", "Cs"], exclude_characters='"\\'),
            min_size=1,
            max_size=12,
        )
    )
    def test_any_key_gets_an_attribute_and_round_trips(self, key):
        keys = Keys()
        keys.field(key)
        keys.field("id")
        struct = defstruct("s", keys, _raw, forbid=True)
        value = msgspec.json.Decoder(struct).decode(msgspec.json.encode({key: [1], "id": "2"}))
        assert bytes(getattr(value, keys.fields[key].attribute)) == b"[1]"


class TestDefstruct:
    def test_unknown_keys_are_refused_where_forbidden(self):
        keys = Keys()
        keys.field("text")
        forbid = msgspec.json.Decoder(defstruct("s", keys, _raw, forbid=True))
        ignore = msgspec.json.Decoder(defstruct("s", keys, _raw, forbid=False))
        with pytest.raises(msgspec.ValidationError):
            forbid.decode(b'{"text": "t", "other": {"id_str": "1"}}')
        assert ignore.decode(b'{"text": "t", "other": 1}').text == msgspec.Raw(b'"t"')
        assert forbid.decode(b"{}").text is msgspec.UNSET

    def test_required_keys_and_their_types(self):
        keys = Keys()
        keys.field("data").required = object  # any value
        keys.field("id").required = str  # a string only
        decode = msgspec.json.Decoder(defstruct("s", keys, _raw, forbid=True)).decode
        assert decode(b'{"data": 1, "id": "5"}').id == "5"
        for refused in (b'{"id": "5"}', b'{"data": 1}', b'{"data": 1, "id": 5}'):
            with pytest.raises(msgspec.ValidationError):
                decode(refused)

    def test_absent_as_none_where_held_says(self):
        keys = Keys()
        keys.field("id").role = "id"

        def held(field, name):  # a Held
            return (str | None, None) if field.role == "id" else (msgspec.Raw, msgspec.UNSET)

        decode = msgspec.json.Decoder(defstruct("s", keys, held, forbid=True)).decode
        assert decode(b"{}").id is None
        assert decode(b'{"id": "3"}').id == "3"

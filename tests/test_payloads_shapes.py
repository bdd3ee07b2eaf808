"""The table of shapes: complete, and what the walker does is what it says."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twpolicy._payloads._shapes import (
    CONTENT_KINDS,
    EXPORT_KEYS,
    FAMILIES,
    FIELD_KINDS,
    ID_KEYS,
    SHAPES,
    Kind,
    leaf,
    twin,
)
from twpolicy._payloads._walker import classify, walk

SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=4,
)
JSON_TYPES = {str: st.text(max_size=5), object: VALUES}


def test_every_kind_has_a_shape():
    """The walker can recognise no kind the table does not describe."""
    assert set(Kind) == set(SHAPES)


def test_content_is_tweets_users_and_dms():
    """Content kinds are exactly those whose own ID names a Tweet, user or DM."""
    assert {
        Kind.TWEET_V1, Kind.TWEET_V2, Kind.TWEET_FLAT, Kind.ACTIVITY,
        Kind.USER_V1, Kind.USER_V2, Kind.ACTOR, Kind.MENTION,
        Kind.DM_V1, Kind.DM_EVENT_V1, Kind.DM_EVENT_V2,
    } == CONTENT_KINDS  # fmt: skip


def _filled(shape):
    """An object with one recognisable object in each of ``shape``'s slots."""
    value = {}
    for slot in shape.children:
        *parents, last = slot.path
        holder = value
        for key in parents:
            holder = holder.setdefault(key, {})
        holder[last] = {"id": "1", "text": "t"} if slot.kind is None else {"slot": slot.path}
    return value


@pytest.mark.parametrize("kind", [kind for kind, shape in SHAPES.items() if shape.children])
def test_the_walk_visits_slots_in_the_tables_order(kind):
    """The walker visits a kind's slots in the order `Shape.visits` says (the fast path's)."""
    shape = SHAPES[kind]
    nodes = list(walk(_filled(shape), kind))
    children = [node.path for node in nodes if node.parent is nodes[0]]
    assert [slot.path for slot in shape.visits] == children
    assert [slot.kind or Kind.TWEET_V2 for slot in shape.visits] == [
        node.kind for node in nodes if node.parent is nodes[0]
    ]


def _signature_objects(kind):
    """Objects with the kind's signature: required keys, others it knows, none excluded."""
    shape = SHAPES[kind]
    signature = shape.signature
    required = dict(signature.required)
    read = {leaf(dotted).split(".")[0] for family in FAMILIES for dotted in shape.ids_of(family)}
    read |= {twin(key) or key for key in read}
    optional = sorted((shape.known | read) - signature.excluded - set(required))
    return st.fixed_dictionaries(
        {key: JSON_TYPES[kind_of] for key, kind_of in required.items()},
        optional=dict.fromkeys(optional, VALUES),
    )


@pytest.mark.parametrize("kind", [kind for kind, shape in SHAPES.items() if shape.signature])
@given(data=st.data())
def test_signatures_are_what_the_walker_recognises(kind, data):
    """An object with a kind's signature is recognised as that kind, whatever else it holds."""
    assert kind == classify(data.draw(_signature_objects(kind)))


@pytest.mark.parametrize(
    ("kind", "obj"),
    [
        (Kind.TWEET_V1, {"id": "1", "id_str": "1", "text": "t"}),
        (Kind.TWEET_FLAT, {"id": "1", "text": "t", "author": {"id": "2"}}),
        (Kind.TWEET_V1, {"id": 1, "text": "t"}),
        (Kind.GEOMETRY, {"data": [], "type": "Point"}),
        (None, {"meta": {}}),
    ],
)
def test_what_signatures_exclude_is_another_kind(kind, obj):
    """The keys and types signatures rule out do make the walker see something else."""
    assert kind == classify(obj)


class TestIdKeys:
    def test_derived_from_the_table(self):
        """ID keys: each ID field and reference naming a Tweet, user or DM, its twin, exports.

        And the fields an outbound value names its IDs by (FIELD_KINDS), in the same table.
        """
        derived = set(EXPORT_KEYS) | set(FIELD_KINDS)
        for shape in SHAPES.values():
            for family in FAMILIES:
                for dotted in shape.ids_of(family):
                    derived |= {leaf(dotted), twin(leaf(dotted)) or leaf(dotted)}
        assert derived == ID_KEYS

    @pytest.mark.parametrize(
        "key",
        [
            "id", "id_str", "ids", "tweet_ids", "user_ids", "dm_ids", "tweet_id", "author_id",
            "in_reply_to_user_id", "in_reply_to_user_id_str", "conversation_id",
            "edit_history_tweet_ids", "pinned_tweet_id", "participant_ids", "sender_id",
            "dm_event_id", "quoted_status_id_str",
        ],
    )  # fmt: skip
    def test_ids_of_tweets_users_and_dms(self, key):
        """Keys that hold Tweet, User and DM IDs are in the vocabulary."""
        assert key in ID_KEYS

    @pytest.mark.parametrize(
        "key",
        [
            "secret_id", "text_id", "place_id", "media_key", "media_keys", "poll_ids",
            "dm_conversation_id", "community_id", "Id", "id ", "text", "referenced_tweets",
        ],
    )  # fmt: skip
    def test_nothing_else(self, key):
        """Keys that merely look like IDs, and IDs of places, media and polls, are not."""
        assert key not in ID_KEYS

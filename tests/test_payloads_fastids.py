"""The fast ID path, generated from the table of shapes, gives the walker's IDs exactly."""

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from corpus import load
from twpolicy import strategies as tws
from twpolicy._payloads import _fastids, _shapes, _structs
from twpolicy._payloads._fastids import (
    FastIds,
    fast_ids,
    fresh_ids,
    parser,
    reader,
    record_ids,
)
from twpolicy._payloads._ids import ids_in, is_id
from twpolicy._payloads._shapes import SHAPES, Kind

KINDS = ["tweets", "users", "dms"]
PAGE = {
    "data": [
        {
            "id": "21",
            "text": "...",
            "author_id": "5",
            "conversation_id": "21",
            "referenced_tweets": [{"type": "quoted", "id": "20"}],
            "entities": {"mentions": [{"start": 0, "end": 2, "username": "g", "id": "7"}]},
        }
    ],
    "includes": {
        "tweets": [{"id": "20", "text": "...", "author_id": "7"}],
        "users": [{"id": "5", "username": "e", "name": "E", "pinned_tweet_id": "19"}],
    },
    "__twarc": {"url": "https://api.twitter.com/2/tweets/search/all", "version": "2.14.0"},
}


def walked(payload, kind):
    """The walker's IDs, or ``None`` where it refuses the payload."""
    try:
        return list(ids_in(payload, kind))
    except twpolicy.PayloadError:
        return None


def agrees(payload, kind):
    """Assert the fast path gives the walker's IDs or leaves the payload to it; return which."""
    fast = fast_ids(json.dumps(payload).encode(), kind)
    if fast is not None:
        assert walked(payload, kind) == fast
    return fast is not None


@st.composite
def _pages(draw, *, clean=False):
    """v2 response pages; unless ``clean``, with keys or values the fast path leaves alone."""
    ids = st.integers(1, 2**63 - 1).map(str)
    odd = st.nothing() if clean else st.sampled_from([None, 5, "", "x1", 2**60])
    unusual = st.nothing() if clean else st.just(None)
    expanded = unusual.map(lambda _: {"description": {"mentions": [{"username": "v", "id": "9"}]}})
    mentions = st.lists(
        st.fixed_dictionaries(
            {"username": st.just("u"), "id": ids | odd},
            optional={"id_str": ids, "pinned_tweet_id": ids | odd, "entities": expanded},
        ),
        max_size=3,
    )
    tweet = st.fixed_dictionaries(
        {"id": ids, "text": st.just("t")},
        optional={
            "author_id": ids | odd,
            "conversation_id": ids,
            "in_reply_to_user_id": ids,
            "referenced_tweets": st.lists(
                st.fixed_dictionaries({"type": st.just("quoted"), "id": ids | odd}), max_size=3
            ),
            "edit_history_tweet_ids": st.lists(ids, max_size=2),
            "entities": st.fixed_dictionaries({"mentions": mentions}),
            "note_tweet": st.fixed_dictionaries(
                {"text": st.just("long")},
                optional={"entities": st.fixed_dictionaries({"mentions": mentions})},
            ),
            "unexpected": unusual.map(lambda _: {"user": {"id_str": "3", "screen_name": "x"}}),
            "author": unusual.map(lambda _: {"id": "4", "username": "y"}),
        },
    )
    user = st.fixed_dictionaries(
        {"id": ids, "username": st.just("u"), "name": st.just("n")},
        optional={
            "pinned_tweet_id": ids | odd,
            "protected": st.booleans(),
            "status": unusual.map(lambda _: {"id_str": "8", "text": "z"}),
            "entities": st.fixed_dictionaries(
                {},
                optional={
                    "description": st.fixed_dictionaries({"mentions": mentions}),
                    "url": st.just({"urls": []}),
                },
            ),
        },
    )
    page = st.fixed_dictionaries(
        {"data": st.lists(tweet, max_size=4)},
        optional={
            "includes": st.fixed_dictionaries(
                {},
                optional={
                    "tweets": st.lists(tweet, max_size=3),
                    "users": st.lists(user, max_size=3),
                    "media": st.just([{"media_key": "3_1", "type": "photo", "width": 5}]),
                },
            ),
            "meta": st.just({"result_count": 1}),
            "errors": st.just([{"resource_id": "99", "title": "Not Found Error"}]),
        },
    )
    return draw(page)


# Keys and values to plant anywhere in a page: known and unknown keys, IDs in every form,
# objects the walker recognises, and nothing.
_PLANTED_KEYS = st.sampled_from(
    [
        "id", "id_str", "text", "author", "author_id", "user", "status", "entities",
        "mentions", "data", "includes", "tweets", "users", "media", "type", "novel",
        "referenced_tweets", "edit_history_tweet_ids", "pinned_tweet_id", "event_type",
        "in_reply_to_user_id", "note_tweet", "description", "conversation_id", "indices",
        "name", "screen_name", "location", "followers_count", "public_metrics", "start",
    ]
)  # fmt: skip
_PLANTED_VALUES = st.sampled_from(
    [
        None, 5, 2**60, 1.5e17, "", "x1", "12", "012", True, [], {}, ["13"], [None],
        {"id_str": "3", "text": "t", "user": {"id_str": "4", "screen_name": "s"}},
        [{"id": "6", "username": "u", "start": 0, "end": 1}],
        {"id": "8", "username": "v", "name": "V"},
        {"mentions": [{"id": "9", "username": "w", "start": 0, "end": 1}]},
        [{"type": "quoted", "id": "10"}],
    ]
)  # fmt: skip


def _objects(value):
    if isinstance(value, dict):
        yield value
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from _objects(item)


@st.composite
def planted(draw, pages):
    """A page with a few keys planted (or replaced) in objects anywhere in it."""
    page = copy.deepcopy(draw(pages))
    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(list(_objects(page))))
        target[draw(_PLANTED_KEYS)] = copy.deepcopy(draw(_PLANTED_VALUES))
    return page


class TestAgreesWithTheWalker:
    @pytest.mark.corpus
    @pytest.mark.parametrize("kind", KINDS)
    def test_every_corpus_payload(self, corpus, kind):
        """Every corpus document the fast path takes gives the walker's IDs, in its order."""
        taken = 0
        for document in load(corpus):
            if document.error is not None:
                continue
            fast = fast_ids(document.raw, kind)
            if fast is None:
                continue
            taken += 1
            assert list(ids_in(document.value, kind)) == fast, document.origin
        assert taken > 20

    @given(page=_pages(), kind=st.sampled_from(KINDS))
    def test_generated_pages(self, page, kind):
        """On any v2 page, the fast path gives the walker's IDs, or leaves the page to it."""
        line = json.dumps(page).encode()
        fast = fast_ids(line, kind)
        expected = walked(page, kind)
        if expected is None:
            assert fast is None
        else:
            assert fast is None or expected == fast

    @given(page=tws.api_responses(), kind=st.sampled_from(KINDS))
    def test_strategy_responses_take_the_fast_path(self, page, kind):
        """v2 responses of Tweets (`twpolicy.strategies`) take the fast path, and agree."""
        assert agrees(page, kind)

    @given(
        page=tws.api_responses(
            st.one_of(
                tws.tweets("v2"),
                tws.tweets("v1.1"),
                tws.users("v2"),
                tws.users("v1.1"),
                tws.dm_events("v2"),
                tws.dm_events("v1.1"),
                tws.compliance_events(),
                tws.places("v2"),
            )
        ),
        kind=st.sampled_from(KINDS),
    )
    def test_responses_of_every_family(self, page, kind):
        """Responses of any family: the walker's IDs, or left to the walker."""
        agrees(page, kind)

    @given(page=planted(tws.api_responses() | _pages(clean=True)), kind=st.sampled_from(KINDS))
    def test_pages_with_keys_planted_anywhere(self, page, kind):
        """Whatever is planted wherever, a page the fast path takes gives the walker's IDs."""
        agrees(page, kind)

    @given(page=tws.api_responses() | _pages(clean=True), kind=st.sampled_from(KINDS))
    def test_unknown_keys_at_every_depth(self, page, kind):
        """An unknown key holding IDs, planted in each object in turn, is never dropped."""
        searched = 0
        for index in range(len(list(_objects(page)))):
            planted = copy.deepcopy(page)
            target = list(_objects(planted))[index]
            target["novel_key"] = {"id_str": "77", "text": "t", "user": {"id_str": "78"}}
            expected = walked(planted, kind)
            assert fast_ids(json.dumps(planted).encode(), kind) in (None, expected)
            searched += expected is not None and bool({"77", "78"} & set(expected))
        assert searched or kind == "dms"  # the walker finds them where it searches

    @given(page=_pages(clean=True), kind=st.sampled_from(KINDS))
    def test_takes_ordinary_pages(self, page, kind):
        """Ordinary v2 pages do take the fast path, and give the walker's IDs."""
        assert list(ids_in(page, kind)) == fast_ids(json.dumps(page).encode(), kind)

    def test_order_is_the_walkers(self):
        """Own ID, references, then the objects within, Tweets before includes."""
        assert ["21", "21", "20", "20", "19"] == fast_ids(json.dumps(PAGE).encode(), "tweets")
        assert ["5", "7", "7", "5"] == fast_ids(json.dumps(PAGE).encode(), "users")
        assert [] == fast_ids(json.dumps(PAGE).encode(), "dms")

    def test_a_single_object_as_data(self):
        """A lookup's ``data`` is one Tweet, not a list: read all the same."""
        page = {"data": PAGE["data"][0]}
        assert ["21", "21", "20"] == fast_ids(json.dumps(page).encode(), "tweets")


class TestFresh:
    @given(
        page=_pages() | tws.api_responses(),
        kind=st.sampled_from(KINDS),
        known=st.lists(st.sampled_from(["21", "20", "19", "5", "7", "1"]), unique=True),
        share=st.integers(0, 3),
    )
    def test_the_new_ids_of_fast_ids(self, page, kind, known, share):
        """`fresh_ids` gives `fast_ids` less what was seen, once each; ``seen`` learns them.

        IDs already seen are not checked again: only decimal IDs are ever seen.
        """
        line = json.dumps(page).encode()
        fast = fast_ids(line, kind)
        seen = {*known, *(fast or [])[:share]}
        before = set(seen)
        new = fresh_ids(memoryview(line), kind, seen)
        if fast is None:
            assert new is None
            assert before == seen
        else:
            assert list(dict.fromkeys(v for v in fast if v not in before)) == new
            assert before | set(fast) == seen

    def test_a_bad_id_among_seen_ones_leaves_the_fast_path(self):
        """However many IDs were seen, one that is not decimal sends the line to the walker."""
        page = {**PAGE, "data": [{**PAGE["data"][0], "conversation_id": "12x"}]}
        seen = {"21", "20", "19"}
        assert fresh_ids(json.dumps(page).encode(), "tweets", seen) is None
        assert {"21", "20", "19"} == seen
        assert [] == fresh_ids(json.dumps(PAGE).encode(), "tweets", seen)
        assert fresh_ids(b"[]", "tweets", seen) is None


class TestRefusals:
    @pytest.mark.parametrize("bad", ["12\n34", "12x", "012", "1" * 21])
    def test_bad_ids_leave_the_fast_path(self, bad):
        """A value that is not one decimal ID, even one hiding a line break, is not passed on."""
        page = {**PAGE, "data": [{**PAGE["data"][0], "conversation_id": bad}]}
        assert fast_ids(json.dumps(page).encode(), "tweets") is None

    @pytest.mark.parametrize("value", [21, 2**60, 1.5e17])
    def test_numbers_where_ids_are_leave_the_fast_path(self, value):
        """An ID as a JSON number is the walker's to read (and, if unsafe, to refuse)."""
        page = {**PAGE, "data": [{**PAGE["data"][0], "author_id": value}]}
        assert fast_ids(json.dumps(page).encode(), "users") is None

    def test_unknown_keys_leave_the_fast_path(self):
        """A key the walker would search sends the line down the walker's path."""
        page = {**PAGE, "data": [{**PAGE["data"][0], "novel": {"id": "1"}}]}
        assert fast_ids(json.dumps(page).encode(), "tweets") is None
        assert fast_ids(json.dumps(PAGE).encode(), "tweets") is not None

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("id_str", "21"),  # a v1.1 Tweet to the walker
            ("author", {"id": "5", "username": "e"}),  # a twarc-flattened Tweet
        ],
    )
    def test_data_of_another_kind_leaves_the_fast_path(self, key, value):
        """``data`` holding what the walker recognises as another kind is the walker's."""
        page = {"data": [{**PAGE["data"][0], key: value}]}
        assert fast_ids(json.dumps(page).encode(), "tweets") is None
        assert walked(page, "tweets") is not None

    @pytest.mark.parametrize(("key", "value"), [("location", "Paris"), ("followers_count", 5)])
    def test_a_key_the_fast_path_does_not_declare_is_the_walkers(self, key, value):
        """A user's key in a mention (known to the walker, not declared): the walker reads it."""
        mention = {**PAGE["data"][0]["entities"]["mentions"][0], key: value}
        page = {"data": [{**PAGE["data"][0], "entities": {"mentions": [mention]}}]}
        assert key not in _structs.USUAL[Kind.MENTION]
        assert key in SHAPES[Kind.MENTION].known
        assert fast_ids(json.dumps(page).encode(), "users") is None
        assert ["5", "7"] == walked(page, "users")

    def test_not_a_response(self):
        """Lines that are not v2 responses: left to the walker."""
        for line in [b"[]", b"{}", b'{"meta": {}}', b'{"data": [], "type": "Point"}', b"{bad"]:
            assert fast_ids(line, "tweets") is None

    def test_a_kind_within_itself_is_the_walkers(self):
        """A mention's own mentions (a twarc-flattened user) are left to the walker."""
        mention = {"username": "g", "id": "7", "start": 0, "end": 2}
        mention["entities"] = {"description": {"mentions": [{"username": "h", "id": "8"}]}}
        page = {"data": [{"id": "1", "text": "t", "entities": {"mentions": [mention]}}]}
        assert fast_ids(json.dumps(page).encode(), "users") is None
        assert ["7", "8"] == walked(page, "users")


LARGEST = 2**64 - 1
# Numbers around the largest ID, and around every place its digits can first differ.
near_largest = st.one_of(
    st.integers(LARGEST - 1000, LARGEST + 1000),
    st.integers(0, 19).flatmap(
        lambda at: st.integers(-(10**at) * 3, 10**at * 3).map(lambda d: LARGEST + d)
    ),
    st.integers(10**19, 10**20 - 1),
).filter(lambda n: n >= 0)


class TestSixtyFourBits:
    @given(number=near_largest, kind=st.sampled_from(KINDS), field=st.sampled_from(["id", "ref"]))
    def test_ids_past_64_bits_are_refused_alike(self, number, kind, field):
        """The fast path and the walker agree at the 64-bit edge: IDs up to 2**64 - 1 are
        read, larger ones are refused (the walker names them)."""
        tweet = {**PAGE["data"][0]}
        if field == "id":
            tweet["id"] = str(number)
        else:
            tweet["author_id"] = str(number)
            tweet["conversation_id"] = str(number)
        page = {**PAGE, "data": [tweet]}
        fast = fast_ids(json.dumps(page).encode(), kind)
        walked_ids = walked(page, kind)
        if number > LARGEST:
            assert not is_id(str(number))
            assert fast is None or str(number) not in fast
            assert walked_ids is None or str(number) not in walked_ids
        else:
            assert is_id(str(number))
            assert fast is None or fast == walked_ids
        assert fast is None or fast == walked_ids

    @given(number=near_largest)
    def test_is_id_and_the_regular_expression_agree(self, number):
        """`is_id` and the fast path's expression say the same of every number near the edge."""
        text = str(number)
        assert is_id(text) == (number <= LARGEST)
        assert is_id(text) == (_fastids._DECIMALS.fullmatch(text) is not None)
        assert _fastids._DECIMALS.fullmatch(f"{text}\n{text}") is not None or not is_id(text)


class TestGeneratedFromTheTable:
    def test_structs_skip_the_inert_keys_and_read_the_ids(self):
        """A v2 Tweet's struct declares every key the table knows, and reads only ID fields."""
        source = reader("users").source
        assert "author_id" in source
        assert "conversation_id" not in source
        assert "conversation_id" in reader("tweets").source
        assert "def extract(" in reader("dms").source

    def test_a_reference_added_to_the_table_is_read(self, monkeypatch):
        """Add a reference to the table, and the regenerated fast path reads it in place."""
        tweet = SHAPES[Kind.TWEET_V2]
        references = (*tweet.references[:3], ("community_id", "tweet"), *tweet.references[3:])
        shapes = {**SHAPES, Kind.TWEET_V2: _shapes.attrs.evolve(tweet, references=references)}
        monkeypatch.setattr(_fastids, "SHAPES", shapes)
        regenerated = _fastids.reader.__wrapped__("tweets")
        page = {"data": [{"id": "1", "text": "t", "conversation_id": "2", "community_id": "3"}]}
        assert regenerated.decoder.decode(json.dumps(page).encode()).data[0].community_id == "3"
        out = []
        regenerated.extract(
            regenerated.decoder.decode(json.dumps(page).encode()), out.append, out.extend
        )
        assert ["1", "2", "3"] == [value for value in out if value]

    def test_a_key_the_table_drops_leaves_the_fast_path(self, monkeypatch):
        """Remove a key from a kind's inert keys, and lines holding it go to the walker."""
        tweet = SHAPES[Kind.TWEET_V2]
        shapes = {
            **SHAPES,
            Kind.TWEET_V2: _shapes.attrs.evolve(tweet, inert=tweet.inert - {"lang"}),
        }
        monkeypatch.setattr(_fastids, "SHAPES", shapes)
        regenerated = _fastids.reader.__wrapped__("tweets")
        line = json.dumps({"data": [{"id": "1", "text": "t", "lang": "en"}]}).encode()
        with pytest.raises(_fastids.msgspec.ValidationError):
            regenerated.decoder.decode(line)
        assert fast_ids(line, "tweets") == ["1"]


class TestRecords:
    def test_parser_reads_fast_or_parses(self):
        """The record parser gives the IDs where the fast path reads the line, JSON otherwise."""
        parse = parser("tweets")
        fast = parse(json.dumps(PAGE).encode())
        assert type(fast) is FastIds
        assert ["21", "21", "20", "20", "19"] == record_ids(fast, "tweets")
        v1 = {"id": 30, "id_str": "30", "text": "x", "user": {"id_str": "1", "screen_name": "a"}}
        parsed = parse(json.dumps(v1).encode())
        assert v1 == parsed
        assert ["30"] == record_ids(parsed, "tweets")

    def test_unknown_kind(self):
        """An unknown kind of ID is a configuration error, before any line is read."""
        with pytest.raises(twpolicy.ConfigurationError):
            parser("places")

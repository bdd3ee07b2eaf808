"""The fast location path of ``twpolicy scan`` gives the full scanner's findings and memory."""

import copy
import io
import json

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import load
from twpolicy import strategies as tws
from twpolicy._cli._records import LOADS, RecordReader
from twpolicy._payloads import _fastscan, _structs
from twpolicy._payloads._batch import record_hits
from twpolicy._payloads._encodings import geohash, plus_code
from twpolicy._payloads._fastscan import FastLine, judge, parser, readers
from twpolicy._payloads._geo import LocationMemory
from twpolicy._payloads._shapes import SHAPES, Kind
from twpolicy._payloads._walker import classify

PARSE = parser(LOADS)


def memory():
    """A small memory (its filters are compared byte for byte)."""
    return LocationMemory(names=5_000, points=5_000, owned=10)


def full(line, remembered):
    """What the full scanner finds in a line (and teaches ``remembered``)."""
    return [
        (h.pointer, h.kind, h.standalone, h.reason) for h in record_hits(LOADS(line), remembered)
    ]


def fast(line, remembered):
    """What scan finds through the fast path; also whether the fast path judged the line."""
    value = PARSE(line)
    judged = None
    if type(value) is FastLine:
        judged = judge(value, remembered, LOADS)
        if judged is None:
            value = LOADS(line)
    found = judged if judged is not None else record_hits(value, remembered)
    return [(h.pointer, h.kind, h.standalone, h.reason) for h in found], judged is not None


def contents(remembered):
    """Everything a memory holds: its filters' bytes and counts, and its places' cache."""
    points = remembered.points
    points.among([1.5, 2.5])  # puts pending points into the filters
    points.encodes([b"-"])  # and their encodings
    filters = [
        remembered._names,
        points._key_filter,
        points._value_filter,
        remembered._owned,
        remembered._owners,
        remembered._owned_values,
    ]
    return (
        [[(bytes(layer._bits), layer.count) for layer in growing._layers] for growing in filters],
        len(points),
        list(remembered._places_read),
    )


def agree(lines):
    """Assert the fast path and the full scanner agree on every line, in order; count fast."""
    slow_memory, fast_memory = memory(), memory()
    judged = 0
    for line in lines:
        expected = full(line, slow_memory)
        found, took = fast(line, fast_memory)
        assert found == expected, line
        judged += took
    assert contents(fast_memory) == contents(slow_memory)
    return judged


def line_of(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# -- payloads -------------------------------------------------------------------------------

_SEARCH = st.fixed_dictionaries(
    {"count": st.integers(0, 100), "query": st.sampled_from(["python", "near:Paris", "%23a"])},
    optional={"next_results": st.just("?max_id=1&q=a&geocode=37.781157,-122.398720,1mi")},
)


@st.composite
def payloads(draw):
    """Payloads of the shapes the fast path reads (v2 pages, v1.1 Tweets, users, lists, pages)."""
    v1 = tws.tweets("v1.1")
    return draw(
        st.one_of(
            tws.api_responses(),
            v1,
            tws.users("v1.1"),
            st.lists(v1, min_size=1, max_size=3),
            st.lists(tws.users("v1.1"), min_size=1, max_size=3),
            st.fixed_dictionaries(
                {"statuses": st.lists(v1, max_size=3)}, optional={"search_metadata": _SEARCH}
            ),
            st.fixed_dictionaries(
                {"users": st.lists(tws.users("v1.1"), max_size=3)},
                optional={"next_cursor": st.integers(0, 9), "next_cursor_str": st.just("0")},
            ),
        )
    )


def _objects(value, path=()):
    """Every object of a payload, with its path."""
    if isinstance(value, dict):
        yield path, value
        for key, item in value.items():
            yield from _objects(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _objects(item, (*path, index))


_ODD_KEYS = st.sampled_from(
    ["my_index", "lat", "coordinates", "place", "location", "type", "37.77,-122.41", "x", "n"]
)
_ODD_VALUES = st.one_of(
    st.sampled_from(
        [
            [-122.4194, 37.7749],
            "48.8566,2.3522",
            {"lat": 48.85, "long": 2.35},
            3,
            None,
            "",
            " ",
            {},
            [],
            "plain words",
            {"full_name": "Exampleton, EX", "place_type": "city"},
        ]
    ),
    st.floats(-90, 90, allow_nan=False),
).map(copy.deepcopy)  # a later change may change the value itself: never the shared one


def _encoded(draw, point):
    """A point read in an earlier record, as an application may write it again."""
    lat, lng = point if abs(point[0]) <= 90 else point[::-1]  # degrees
    return draw(
        st.sampled_from(
            [
                geohash(lat, lng, 7),
                plus_code(lat, lng, 10),
                f"{plus_code(lat, lng, 10)[4:]} Exampleton",
                [round(lat * 1e7), round(lng * 1e7)],
                f"{round(lat * 1e6)},{round(lng * 1e6)}",
            ]
        )
    )


@st.composite
def mutated(draw, earlier_names=(), earlier_points=()):
    """A payload, perhaps changed where the fast path must notice: unknown keys at any depth,
    location in odd places, objects made not whole, values of another type, names read in
    earlier records used as keys (also without their comma), points read in earlier records
    encoded (geohash, plus code, scaled integers)."""
    payload = draw(payloads())
    for _ in range(draw(st.integers(0, 2))):
        objects = list(_objects(payload))
        if not objects:
            break
        _path, target = draw(st.sampled_from(objects))
        action = draw(st.sampled_from(["add", "blank", "replace", "name", "renamed", "encoded"]))
        if action == "add":
            target[draw(_ODD_KEYS)] = draw(_ODD_VALUES)
        elif action == "blank":
            for key in ("text", "full_text", "screen_name", "name", "username"):
                if key in target:
                    target[key] = draw(st.sampled_from(["", " ", None]))
        elif action == "replace" and target:
            target[draw(st.sampled_from(sorted(target)))] = draw(_ODD_VALUES)
        elif action == "name" and earlier_names:
            target[draw(st.sampled_from(sorted(earlier_names)))] = draw(st.integers(1, 9))
        else:
            _rewrite(draw, target, action, earlier_names, earlier_points)
    return payload


def _rewrite(draw, target, action, earlier_names, earlier_points):
    """A name read kept without its comma, or a point read kept encoded, in ``target``."""
    if action == "renamed" and earlier_names:
        name = draw(st.sampled_from(sorted(earlier_names))).replace(",", " ")
        target[draw(_ODD_KEYS)] = name
    elif action == "encoded" and earlier_points:
        encoded = _encoded(draw, draw(st.sampled_from(sorted(earlier_points))))
        if isinstance(encoded, str) and draw(st.booleans()):
            target[encoded] = draw(st.integers(1, 9))
        else:
            target[draw(_ODD_KEYS)] = encoded


def _place_names(payload):
    return {
        item[key]
        for _path, item in _objects(payload)
        for key in ("full_name", "name", "country")
        if isinstance(item.get(key), str) and "place_type" in item
    }


@st.composite
def runs(draw):
    """A few records, later ones perhaps keeping places read in earlier ones as keys."""
    records = [draw(mutated())]
    for _ in range(draw(st.integers(0, 3))):
        names = set().union(*map(_place_names, records))
        read = LocationMemory()
        for record in records:
            read.observe_all(record)
        points = set(read.points._pending)
        records.append(draw(mutated(earlier_names=names, earlier_points=points)))
    return records


class TestAgreement:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(runs())
    def test_generated(self, records):
        """Same findings, same memory, on generated payloads however they are changed."""
        agree([line_of(record) for record in records])

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(payloads(), min_size=1, max_size=4))
    def test_unchanged_payloads_are_judged_fast(self, records):
        """The shapes the fast path reads are judged there (most of them: not a vacuous test)."""
        lines = [line_of(record) for record in records]
        agree(lines)
        assert all(type(PARSE(line)) is FastLine for line in lines)

    @pytest.mark.corpus
    def test_every_corpus_payload(self, corpus):
        """Every parsed corpus document, one after another in one run: same findings, memory."""
        values = [document.value for document in load(corpus) if document.error is None]
        lines = [line_of(value) for value in values]
        judged = agree(lines)
        assert judged > len(lines) // 2
        # Pretty-printed documents (each read as one record) and ASCII-escaped ones too.
        agree([json.dumps(value, indent=1).encode() for value in values[:200]])

    def test_each_corpus_shape_alone(self, corpus):
        """A fresh memory for every document: nothing learned before changes the answer."""
        for document in load(corpus):
            if document.error is None:
                agree([line_of(document.value)])


# -- the parts ---------------------------------------------------------------------------------

TWEET = {
    "id_str": "1000000000000000010",
    "id": 1000000000000000010,
    "text": "Hello from the park",
    "user": {"id_str": "1", "screen_name": "example", "location": "Exampleton"},
    "coordinates": {"type": "Point", "coordinates": [-0.1275, 51.5072]},
    "place": {"id": "0a1b2c3d4e5f6a7b", "full_name": "Exampleton, EX", "place_type": "city"},
}


class TestFastPath:
    def test_a_tweet(self):
        value = PARSE(line_of(TWEET))
        assert type(value) is FastLine
        assert value.kind is Kind.TWEET_V1
        found = judge(value, memory(), LOADS)
        assert [(h.pointer, h.kind.value, h.reason) for h in found] == [
            ("/coordinates", "point", "in_tweet"),
            ("/place", "place", "in_tweet"),
            ("/user/location", "profile_location", "in_user"),
        ]
        assert "standalone" not in repr(found[0])
        assert "/coordinates" in repr(found[0])

    def test_records_read_it_as_an_array(self):
        """A record reader keeps what the fast path decoded (it is a list, like an array)."""
        [record] = RecordReader(io.BytesIO(line_of(TWEET) + b"\n"), loads=PARSE)
        assert type(record.value) is FastLine
        assert record.error is None

    @pytest.mark.parametrize(
        "changed",
        [
            {**TWEET, "my_index": 1},  # a key the table does not know
            {**TWEET, "user": {**TWEET["user"], "my_index": 1}},  # the same, deeper
            {**TWEET, "text": 5},  # a value of another type
            [],  # an empty timeline
            {"x": 1},  # no shape it reads
        ],
    )
    def test_what_it_does_not_read_is_parsed(self, changed):
        assert PARSE(line_of(changed)) == changed

    def test_not_utf8_is_left_to_the_parser(self):
        line = line_of(TWEET).replace(b"park", b"p\xffrk")
        with pytest.raises(UnicodeDecodeError):
            PARSE(line)

    @pytest.mark.parametrize(
        "changed",
        [
            {**TWEET, "text": " "},  # not whole
            {**TWEET, "user": {}},  # an empty user is not whole either
            {"id": "1", "text": "x", "coordinates": TWEET["coordinates"]},  # a v2-looking Tweet
            {"statuses": [TWEET], "users": []},  # two lists: their order matters
            {"statuses": [TWEET], "search_metadata": {"data": [1]}},  # objects in metadata
            # Two keys of a page reporting: their order in the finder is the document's.
            {
                "statuses": [],
                "search_metadata": "Exampleton, EX",
                "next_cursor_str": "Exampleton, EX",
            },
            {"users": [{"id_str": "1", "location": "x"}], "next_cursor": 0},  # no screen name
            {"data": [], "includes": {"polls": [[{"id": "1"}]]}},  # a list in a list
            {"data": [], "includes": {"places": [[{"id": "1"}]]}},
        ],
    )
    def test_what_it_cannot_judge_goes_to_the_full_scanner(self, changed):
        """``None``, and the memory untouched: the full scanner reads the line."""
        line = line_of(changed)
        remembered = memory()
        remembered.observe({"place": {"id": "0a1b2c3d4e5f6a7b", "full_name": "Exampleton, EX"}})
        before = contents(remembered)
        value = PARSE(line)
        if type(value) is FastLine:
            assert judge(value, remembered, LOADS) is None
        assert contents(remembered) == before
        agree([line])

    def test_a_page_read_again_with_what_it_taught(self):
        """A page keeping a point of its own Tweets outside them: the finder reads it twice."""
        tweet = {**TWEET, "coordinates": {"type": "Point", "coordinates": [13.404954, 52.520008]}}
        page = {"statuses": [tweet], "search_metadata": {"note": "52.520008 13.404954"}}
        assert agree([line_of(page)]) == 1
        found, took = fast(line_of(page), memory())
        assert took
        assert ("/search_metadata/note", "point", True, "on_its_own") in [
            (p, k.value, s, r) for p, k, s, r in found
        ]

    @pytest.mark.parametrize(
        "ids",
        [[1, 2, 3], [1, 2], ["1234", "5678"], [5, "1234"], ["12", "0123"], ["48.85", "2.35"]],
    )
    def test_pages_of_ids(self, ids):
        """Cursored pages of IDs (numbers or texts), and lists that only look like them."""
        page = {"ids": ids, "next_cursor": 0, "next_cursor_str": "0"}
        assert agree([line_of(TWEET), line_of(page)]) == 2

    def test_page_metadata_is_read_by_the_finder(self):
        page = {"statuses": [TWEET], "search_metadata": "Exampleton, EX"}
        assert agree([line_of(TWEET), line_of(page)]) == 2

    def test_polls_are_read_by_the_finder(self):
        response = {
            "data": [{"id": "1", "text": "a poll", "attachments": {"poll_ids": ["9"]}}],
            "includes": {"polls": [{"id": "9", "options": [{"label": "48.8566,2.3522"}]}]},
        }
        assert agree([line_of(response)]) == 1

    def test_generated_once_from_the_table(self):
        fast = readers()
        assert fast is readers()
        assert "def judge_response_v2_" in fast.source
        assert set(fast.judges) == {Kind.RESPONSE_V2, Kind.TWEET_V1, Kind.USER_V1, Kind.TWEET_FLAT}


# -- recognition: the fast path's checks are the walker's ---------------------------------------


def _struct_for(kind):
    for root, _element, decoder in readers().decoders:
        if root is kind:
            return decoder
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", [Kind.TWEET_V1, Kind.USER_V1, Kind.TWEET_FLAT])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_recognised_as_the_walker_does(kind, data):
    """Objects of any of a kind's keys: what the fast path's check takes, `classify` does."""
    known = sorted(SHAPES[kind].known - {"author", "user", "retweeted_status", "quoted_status"})
    keys = data.draw(st.sets(st.sampled_from(known), max_size=6))
    value = {key: data.draw(st.sampled_from(["t", None, 7])) for key in keys}
    for key in ("extended_tweet", "entities", "note_tweet", "derived", "attachments"):
        if key in value:
            value[key] = data.draw(st.sampled_from([None, {}]))
    if kind is not Kind.USER_V1 and data.draw(st.booleans()):
        value["author" if kind is Kind.TWEET_FLAT else "user"] = data.draw(
            st.sampled_from([None, {"id": "1", "username": "u"}, {"screen_name": "u"}])
        )
    try:
        decoded = _struct_for(kind).decode(line_of(value))
    except msgspec.DecodeError:
        return  # a value of another type: not read on the fast path at all
    if _fastscan._RECOGNISED[kind](decoded):  # never another kind (the others go the long way)
        assert classify(value) is kind


def test_stand_ins_are_recognised():
    for kind, stand_in in _fastscan._STAND_INS.items():
        assert classify(copy.deepcopy(stand_in)) is kind


@pytest.mark.parametrize("kind", sorted(set(Kind) - _fastscan.SUPPORTED))
def test_other_kinds_are_not_generated(kind):
    """Kinds the fast path does not judge get no struct: where slots hold them, they must be
    empty (or the line goes to the full scanner)."""
    with pytest.raises(_structs.Unsupported):
        _fastscan._Generator().compile(kind, 3)
    with pytest.raises(_structs.Unsupported):
        _fastscan._Generator().compile(Kind.TWEET_V1, 0)


@pytest.mark.parametrize(
    "includes",
    [
        {"places": {"id": "0a1b2c3d4e5f6a7b", "full_name": "Exampleton, EX"}},  # one object
        {"places": [{}, None, {"id": "0a1b2c3d4e5f6a7b", "name": "Exampleton"}]},
        {"places": {}},
        {"polls": {"id": "9", "options": [{"label": "Exampleton, EX", "votes": 3}]}},
        {"polls": [{"id": "9"}, None]},
    ],
)
def test_includes_in_any_form(includes):
    response = {"data": {"id": "1", "text": "t", "geo": {"place_id": "0a1b2c3d4e5f6a7b"}}}
    assert agree([line_of({**response, "includes": includes})]) == 1


def test_arrays_of_other_things_are_parsed():
    assert PARSE(b"[1, 2]") == [1, 2]
    assert PARSE(b'[{"x": 1}]') == [{"x": 1}]


@pytest.mark.parametrize(
    "line",
    [
        b'{"id_str":"1","text":"","text":"hi","user":{"screen_name":"a","location":"x"}}',
        (
            b'{"id_str":"1","text":"hi","text":" ",'
            b'"coordinates":{"type":"Point","coordinates":[1.5,2.5]}}'
        ),
        (
            b'{"data":[{"id":"1","text":"t","geo":null,"geo":{"place_id":"0a1b2c3d4e5f6a7b"}}],'
            b'"includes":{"places":[{"id":"0a1b2c3d4e5f6a7b","full_name":"Exampleton, EX"}]}}'
        ),
    ],
)
def test_repeated_keys_read_as_json_reads_them(line):
    """A key given twice: the last one counts, on both paths."""
    agree([line])


_TEXTS = st.sampled_from(
    [
        "\u200b",
        "\u3164\u200d",
        "\u2800",
        "\x00",
        "\u0301",
        "https://t.co/abc",
        "www.example.com/x https://t.co/y",
        "1445880548472328192",
        "\u200b1445880548472328192\u200b",
        "see https://t.co/abc",
        "12345",
        "héllo",
        "ok",
    ]
)


def _texts_replaced(value, draw):
    """``value`` with each text field's text drawn from `_TEXTS` (content or not)."""
    if isinstance(value, dict):
        return {
            key: draw(_TEXTS)
            if key in {"text", "full_text", "name", "description"} and isinstance(item, str)
            else _texts_replaced(item, draw)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_texts_replaced(item, draw) for item in value]
    return value


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_wholeness_judged_as_the_walker_judges_it(data):
    """Text that prints nothing, links only (with media or not) or only an ID: the fast
    path judges wholeness as `is_whole` does, or leaves the line to the full scanner."""
    records = data.draw(st.lists(payloads(), min_size=1, max_size=3))
    agree([line_of(_texts_replaced(record, data.draw)) for record in records])


class TestMediaOfLinksOnlyText:
    """How the generated code reads a Tweet's media (`is_whole`: links only need them)."""

    def test_media_read_from_structs_or_raw_json(self):
        media = _fastscan._media
        assert media([1], (), LOADS)
        assert not media([], (), LOADS)
        assert not media(None, (), LOADS)
        assert not media([1], ("media",), LOADS)  # a list where an object should be
        assert media(msgspec.Raw(b'{"media": [{"id": 1}]}'), ("media",), LOADS)
        assert not media(msgspec.Raw(b'{"media": []}'), ("media",), LOADS)
        assert not media(msgspec.Raw(b"[1]"), ("media",), LOADS)
        assert media(msgspec.Raw(b" [ 1 ] "), (), LOADS)

    def test_media_under_decoded_objects_is_left_to_the_full_scanner(self):
        """A media path crossing objects decoded as structs is not read: the line falls back."""
        keys = _structs.Keys()
        keys.field("entities").role = _fastscan._SLOT
        assert "unknown()" in _fastscan._Generator()._media(keys)
        with pytest.raises(_fastscan._Fallback):
            _fastscan._unknown()

    def test_a_links_only_tweet_with_media_is_judged_on_the_fast_path(self):
        tweet = {
            "id": "1000000000000000001",
            "text": "https://t.co/abc",
            "author_id": "2",
            "attachments": {"media_keys": ["3_1"]},
        }
        line = json.dumps({"data": [tweet]}).encode()
        fast = parser(LOADS)(line)
        assert isinstance(fast, FastLine)
        assert judge(fast, LocationMemory(), LOADS) == []
        tweet["attachments"]["media_keys"] = []  # links to nothing: not whole
        fast = parser(LOADS)(json.dumps({"data": [tweet]}).encode())
        assert judge(fast, LocationMemory(), LOADS) is None

"""The fast page reader: cleaning a v2 page through it gives what the walker's cleaning gives."""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import attrs
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twice
import twpolicy
from corpus import load
from twpolicy import ComplianceEvent, JsonLinesApplier, apply_compliance, open_compliance
from twpolicy._cli._dehydrate import IdReader
from twpolicy._enforce import _compliance
from twpolicy._enforce._compliance import (
    _CLEANED,
    ExportTombstones,
    _clean_line,
    _Tally,
    clean_record,
)
from twpolicy._payloads import _fastpage
from twpolicy._payloads._fastpage import PAGE_KINDS, read_page
from twpolicy._payloads._shapes import SHAPES, Kind
from twpolicy._payloads._walker import classify
from twpolicy._stores._compliance import Snapshot

TWEETS = [str(n) for n in range(1000, 1012)]
USERS = [str(n) for n in range(50, 56)]
PLACES = ["p1", "p2", "p3"]
MEDIA = ["3_1", "3_2", "3_3"]


def snapshot_of(events: list[ComplianceEvent]) -> Snapshot:
    ledger = open_compliance("memory://")
    try:
        ledger.record(events)
        return ledger.snapshot()
    finally:
        ledger.close()


def tallied(tally: _Tally) -> tuple[Any, ...]:
    return tally.changed, tally.removed, tally.scrubbed, tally.withdrawn


def same(line: bytes, snapshot: Snapshot) -> bool:
    """Clean ``line`` both ways and compare; whether the fast reader read it."""
    fast_tally, walked_tally = _Tally(), _Tally()
    fast = _clean_line(line, snapshot, fast_tally)
    try:
        record = json.loads(line)
    except ValueError:
        assert fast is None
        return False
    cleaned, changed = clean_record(record, snapshot, walked_tally)
    if fast is None:
        assert tallied(fast_tally) == tallied(_Tally())
        return False
    out, fast_changed = fast
    # A page decided from its IDs alone (`Page.ids`) is one where nothing would be found.
    page = read_page(line, _CLEANED)
    assert page is not None
    ids = page.ids()
    if ids is not None and not _compliance._may_find(ids, snapshot):
        removals, scrubs, _ = _compliance._find(page.items, snapshot)
        assert (removals, scrubs, fast_changed) == ([], [], False)
    assert fast_changed == changed
    assert json.loads(out) == cleaned
    assert tallied(fast_tally) == tallied(walked_tally)
    if not changed:
        assert out is line
    return True


# -- generated pages ----------------------------------------------------------------------

mentions = st.lists(
    st.fixed_dictionaries(
        {"start": st.just(0), "end": st.just(3), "username": st.just("ana")},
        optional={"id": st.sampled_from(USERS)},
    ),
    max_size=2,
)
tweets = st.fixed_dictionaries(
    {"id": st.sampled_from(TWEETS), "text": st.text(max_size=5)},
    optional={
        "author_id": st.one_of(st.sampled_from(USERS), st.integers(50, 55), st.none()),
        "referenced_tweets": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(["retweeted", "quoted", "replied_to"]),
                    "id": st.sampled_from(TWEETS),
                }
            ),
            max_size=2,
        ),
        "geo": st.one_of(
            st.fixed_dictionaries({"place_id": st.sampled_from(PLACES)}),
            st.fixed_dictionaries(
                {"coordinates": st.just({"type": "Point", "coordinates": [1.5, 2.0]})},
                optional={"place_id": st.sampled_from(PLACES)},
            ),
        ),
        "attachments": st.fixed_dictionaries(
            {"media_keys": st.lists(st.sampled_from(MEDIA), max_size=2)}
        ),
        "entities": st.fixed_dictionaries({"mentions": mentions}),
        "public_metrics": st.just({"like_count": 1.25e3}),
        "__twarc": st.just({"url": "u"}),
    },
)
users = st.fixed_dictionaries(
    {"id": st.one_of(st.sampled_from(USERS), st.integers(50, 55)), "username": st.just("u")},
    optional={
        "name": st.text(max_size=3),
        "location": st.just("Lisboa"),
        "entities": st.fixed_dictionaries(
            {"description": st.fixed_dictionaries({"mentions": mentions})}
        ),
    },
)
v1_user = st.just({"id_str": "50", "screen_name": "s", "name": "n"})
# What the fast reader must leave to the walker: a key the walker searches, content in a slot
# it does not read, a Tweet it does not recognise, lists in lists, scalars in a list.
odd = st.one_of(
    st.just(("extra", {"id_str": TWEETS[0], "text": "t", "user": {"id_str": "50"}})),
    st.just(("nested", [[{"id": TWEETS[1], "text": "t"}]])),
    st.just(("scalar", 7)),
    st.just(("int_id", {"id": 1001, "text": "t"})),
    st.just(("flat", {"id": TWEETS[2], "text": "t", "author": {"id": "50", "username": "x"}})),
)
includes = st.fixed_dictionaries(
    {},
    optional={
        "tweets": st.lists(tweets, max_size=3),
        "users": st.lists(users, max_size=3),
        "places": st.lists(
            st.fixed_dictionaries({"id": st.sampled_from(PLACES), "full_name": st.just("Here")}),
            max_size=3,
        ),
        "media": st.lists(
            st.fixed_dictionaries(
                {"media_key": st.sampled_from(MEDIA), "type": st.just("photo")},
                optional={"additional_media_info": st.fixed_dictionaries({"source_user": v1_user})},
            ),
            max_size=3,
        ),
        "polls": st.just([{"id": "9", "options": []}]),
        "topics": st.just([{"id": "1"}]),
    },
)


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    data: Any = draw(st.lists(tweets, max_size=4))
    if draw(st.booleans()) and data:
        data = data[0]  # one Tweet, not a list (a lookup by ID)
    page: dict[str, Any] = {"data": data}
    if draw(st.booleans()):
        page["includes"] = draw(includes)
    if draw(st.booleans()):
        page["meta"] = {"result_count": 3, "newest_id": TWEETS[0]}
    if draw(st.integers(0, 5)) == 0:
        name, value = draw(odd)
        if name == "extra":
            page["errors"] = [{"value": "x"}]
            (page["data"] if isinstance(page["data"], dict) else {"x": 1})["extra"] = value
            page["includes"] = {"tweets": [value]}
        elif name == "scalar":
            page["data"] = [*data, value] if isinstance(data, list) else value
        else:
            page["data"] = [*data, value] if isinstance(data, list) else [data, value]
    if draw(st.integers(0, 9)) == 0:
        page["includes"] = draw(st.sampled_from([None, [], "x"]))
    return page


@st.composite
def events(draw: st.DrawFn) -> list[ComplianceEvent]:
    found = []
    for tid in draw(st.sets(st.sampled_from(TWEETS), max_size=3)):
        kind = draw(st.sampled_from(["tweet_delete", "tweet_withheld", "tweet_scrub_geo"]))
        found.append(ComplianceEvent(type=kind, object_id=tid))
    for uid in draw(st.sets(st.sampled_from(USERS), max_size=3)):
        kind = draw(
            st.sampled_from(
                ["user_delete", "user_protect", "user_suspend", "user_withheld", "scrub_geo"]
            )
        )
        up_to = draw(st.one_of(st.none(), st.sampled_from(TWEETS))) if kind == "scrub_geo" else None
        countries = ("DE",) if kind == "user_withheld" else ()
        found.append(
            ComplianceEvent(type=kind, object_id=uid, up_to_tweet_id=up_to, countries=countries)
        )
    return found


@st.composite
def changed_pages(draw: st.DrawFn) -> tuple[dict[str, Any], list[ComplianceEvent]]:
    """A page the fast reader reads, and events about its own Tweets and users."""
    data: Any = draw(st.lists(tweets, min_size=1, max_size=5))
    if draw(st.integers(0, 5)) == 0:
        data = data[0]
    page: dict[str, Any] = {"data": data}
    if draw(st.booleans()):
        page["includes"] = draw(includes)
    if draw(st.booleans()):
        page["meta"] = {"result_count": 3, "next_token": '\u00e9"/'}
    tweet_ids = sorted({t["id"] for t in objects(page) if "text" in t})
    user_ids = sorted(
        {
            str(t.get("author_id") or t["id"])
            for t in objects(page)
            if "username" in t or "text" in t
        }
    )
    found = [
        ComplianceEvent(
            type=draw(st.sampled_from(["tweet_delete", "tweet_scrub_geo"])), object_id=t
        )
        for t in draw(st.sets(st.sampled_from(tweet_ids), min_size=1, max_size=3))
    ]
    for uid in draw(st.sets(st.sampled_from(user_ids), max_size=2)):
        kind = draw(st.sampled_from(["user_suspend", "scrub_geo"]))
        found.append(ComplianceEvent(type=kind, object_id=uid))
    return page, found


def encode(page: Any, style: int) -> bytes:
    if style == 0:
        return json.dumps(page).encode()
    if style == 1:
        return json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    return json.dumps(page, indent=1).encode()


def objects(page: Any) -> list[Any]:
    """The objects of a page's slots that cleaning removes or changes, as they are."""
    found = page.get("data") if isinstance(page, dict) else None
    held = [found] if isinstance(found, dict) else list(found or ())
    includes = page.get("includes") if isinstance(page, dict) else None
    if isinstance(includes, dict):
        for name in ("tweets", "users", "places", "media"):
            held += includes.get(name) or ()
    return held


def modified(page: Any, cleaned: Any) -> bool:
    """Whether an object that stays in ``cleaned`` is not one of ``page`` as it was."""
    before = {json.dumps(value) for value in objects(page)}
    return any(json.dumps(value) not in before for value in objects(cleaned))


class TestGenerated:
    @settings(max_examples=300, deadline=None)
    @given(page=pages(), found=events(), style=st.integers(0, 2))
    def test_fast_and_walked_cleaning_agree(self, page, found, style):
        """Any page, any events: the same cleaned page, the same counts, or the walker."""
        same(encode(page, style), snapshot_of(found))

    @settings(max_examples=300, deadline=None)
    @given(case=changed_pages(), style=st.integers(0, 2))
    def test_a_changed_page_keeps_its_own_bytes(self, case, style):
        """A page that changes is its own line less what went: the rest keeps its bytes.

        Whatever the writer's blanks and escapes (``style``), the line cleaned fast is the
        walked page written the same way, each object that changed written compactly.
        """
        page, found = case
        line = encode(page, style)
        snapshot = snapshot_of(found)
        same(line, snapshot)
        out, changed = _clean_line(line, snapshot, _Tally()) or (b"", False)
        if not changed:
            return
        cleaned, _ = clean_record(json.loads(line), snapshot)
        spliced = isinstance(page["data"], list)  # (a single Tweet is written whole)
        if style == 1 or (spliced and not modified(page, cleaned)):
            assert out.strip() == encode(cleaned, style).strip()

    def test_an_escaped_id_is_read_as_its_value(self):
        """An author ID spelled with JSON escapes is read as the ID it spells, as walked."""
        line = b'{"data": [{"id": "1000", "text": "a", "author_id": "\\u0035\\u0030"}]}'
        found = snapshot_of([ComplianceEvent(type="user_suspend", object_id="50")])
        assert same(line, found)
        out, changed = _clean_line(line, found, _Tally())
        assert (changed, json.loads(out)) == (True, {"data": []})

    def test_a_page_with_no_affected_id_is_copied_unread(self, tmp_path):
        """Digits tested first, a page where no affected ID appears is copied without the
        fast reader (nor its check for keys written twice); the fast reader first (where
        most bytes hold an affected ID), the digit test sees only the lines it does not
        read. The same bytes either way."""
        kept = json.dumps({"data": [{"id": "1000", "text": "a", "author_id": "50"}]}).encode()
        gone = json.dumps({"data": [{"id": "1002", "text": "c", "author_id": "50"}]}).encode()
        v1 = json.dumps({"id_str": "1001", "text": "b", "user": {"id_str": "51"}}).encode()
        dataset = tmp_path / "data.jsonl"
        dataset.write_bytes(kept + b"\n" + v1 + b"\n" + gone + b"\n")
        results = []
        for first in (True, False):
            tested: list[bytes] = []
            read: list[bytes] = []

            def may_hold(
                self: Any,
                line: bytes,
                tested: list[bytes] = tested,
                real: Any = _compliance._Wanted.may_hold,
            ) -> bool:
                tested.append(line)
                return real(self, line)

            def reading(
                line: bytes, *args: Any, read: list[bytes] = read, real: Any = read_page
            ) -> Any:
                read.append(line)
                return real(line, *args)

            ledger = open_compliance("memory://")
            ledger.record(
                [ComplianceEvent(type="tweet_delete", object_id=n) for n in ("1001", "1002")]
            )
            out = tmp_path / f"out-{first}.jsonl"
            with (
                mock.patch.object(_compliance._Wanted, "may_hold", may_hold),
                mock.patch.object(_compliance, "read_page", reading),
                mock.patch.object(_compliance._Wanted, "filter_first", return_value=first),
            ):
                report = apply_compliance(ledger, JsonLinesApplier(dataset, out=out))
            results.append((out.read_bytes(), report.records_read, report.records_dropped))
            if first:  # digits first: the page that holds no affected ID is not read
                assert tested == [kept + b"\n", v1 + b"\n", gone + b"\n"]
                assert read == [v1 + b"\n", gone + b"\n"]
            else:  # the fast reader first: the digit test sees the v1.1 line only
                assert tested == [v1 + b"\n"]
                assert read == [kept + b"\n", v1 + b"\n", gone + b"\n"]
        assert results[0] == results[1] == (kept + b'\n{"data": []}\n', 3, 1)

    def test_a_tweet_gone_without_an_id(self):
        """Gone without an ID (``""``), it takes references that name no ID with it."""
        page = {
            "data": [
                {"id": "1000", "text": "a", "referenced_tweets": [{"type": "quoted", "id": "x"}]},
                {"id": "1001", "text": "b", "author_id": "51"},
            ],
            "includes": {"tweets": [{"text": "no id", "author_id": "50"}]},
        }
        found = snapshot_of([ComplianceEvent(type="user_suspend", object_id="50")])
        line = json.dumps(page).encode()
        assert same(line, found)
        out, changed = _clean_line(line, found, _Tally())
        cleaned = json.loads(out)
        assert changed
        assert ([], []) == (cleaned["data"][0]["referenced_tweets"], cleaned["includes"]["tweets"])

    def test_plain_pages_are_read_fast(self):
        """A twarc2 page with includes is read by the fast reader, and cleaned as walked."""
        page = {
            "data": [
                {"id": "1000", "text": "a", "author_id": "50", "geo": {"place_id": "p1"}},
                {"id": "1001", "text": "b", "author_id": "51",
                 "referenced_tweets": [{"type": "retweeted", "id": "1002"}]},
                {"id": "1003", "text": "c", "author_id": "52",
                 "referenced_tweets": [{"type": "quoted", "id": "1002"}],
                 "attachments": {"media_keys": ["3_1"]}},
            ],
            "includes": {
                "tweets": [{"id": "1002", "text": "d", "author_id": "53"}],
                "users": [{"id": "50", "username": "a"}, {"id": "53", "username": "d"}],
                "places": [{"id": "p1", "full_name": "Here"}],
                "media": [{"media_key": "3_1", "type": "photo"}],
            },
        }  # fmt: skip
        line = json.dumps(page).encode()
        for found in (
            [ComplianceEvent(type="tweet_delete", object_id="1002")],
            [ComplianceEvent(type="user_suspend", object_id="50")],
            [ComplianceEvent(type="scrub_geo", object_id="50", up_to_tweet_id="1000")],
            [ComplianceEvent(type="user_protect", object_id="52")],
            [ComplianceEvent(type="tweet_delete", object_id="999")],
        ):
            assert same(line, snapshot_of(found))
        tally = _Tally()
        deleted = snapshot_of([ComplianceEvent(type="tweet_delete", object_id="1002")])
        cleaned = _clean_line(line, deleted, tally)
        assert cleaned is not None
        value = json.loads(cleaned[0])
        assert ["1000", "1003"] == [t["id"] for t in value["data"]]  # the retweet went too
        assert [] == value["data"][1]["referenced_tweets"]  # the quote's reference went
        assert [] == value["includes"]["tweets"]
        assert {"tweet_delete:1002": 2} == tally.changed  # the Tweet and its retweet

    SPLICED = (
        b'{"data": [{"id": "1000", "text": "a\\u00e9", "author_id": "50",'
        b' "geo": {"place_id": "p1"}}, {"id": "1001", "text": "b", "author_id": "51",'
        b' "referenced_tweets": [{"type": "quoted", "id": "1000"}]}],'
        b' "includes": {"users": [ {"id": "50", "username": "a"} , {"id": "51", "username": "b"} ],'
        b' "places": [{"id": "p1", "full_name": "S\\u00e3o"}]}, "meta": {"result_count": 2}}\n'
    )

    def test_a_changed_page_is_spliced(self):
        """Only what went (and the reference to it) is cut; blanks and escapes stay."""
        found = snapshot_of([ComplianceEvent(type="user_suspend", object_id="50")])
        assert same(self.SPLICED, found)
        out, changed = _clean_line(self.SPLICED, found, _Tally()) or (b"", False)
        assert changed
        assert out == (
            b'{"data": [{"id":"1001","text":"b","author_id":"51","referenced_tweets":[]}],'
            b' "includes": {"users": [ {"id": "51", "username": "b"} ],'
            b' "places": []}, "meta": {"result_count": 2}}\n'
        )

    @pytest.mark.parametrize("fails", ["address", "places", "slots", "cutter"])
    def test_a_page_that_cannot_be_spliced_is_written_whole(self, fails):
        """Where a place cannot be told, the page is cut into objects and written again."""
        found = snapshot_of([ComplianceEvent(type="user_suspend", object_id="50")])
        real = _fastpage._address

        def address(value: Any) -> int | None:
            if fails == "address" or (fails == "slots" and type(value) is not bytes):
                return None
            if fails == "places" and bytes(value).startswith(b'{"id": "p1"'):
                return 1
            return real(value)

        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.object(_fastpage, "_address", address))
            if fails == "cutter":
                _fastpage._cutter.cache_clear()
                stack.callback(_fastpage._cutter.cache_clear)
                stack.enter_context(
                    mock.patch.object(_fastpage, "_fields", side_effect=_fastpage._Unsupported)
                )
            assert same(self.SPLICED, found)
            out, changed = _clean_line(self.SPLICED, found, _Tally()) or (b"", False)
        assert changed
        assert out.startswith(b'{"data":[{"id":"1001","text":"b"')  # msgspec writes it all

    @pytest.mark.parametrize(
        "line",
        [
            b'{"data": [], "type": "Feature"}',  # GeoJSON, not a response
            b'{"data": [], "other": {}}',  # a key the walker searches
            b'{"includes": {}}',  # no data
            b'[{"data": []}]',
            b'{"data": [], "meta": "\xff"}',  # not UTF-8
            b'{"data": [{"id": "1", "text": "t", "id_str": "1"}]}',  # a v1.1 Tweet
            b'{"data": [{"id": "1", "text": "t", "bogus": {}}]}',  # a key a Tweet does not know
            b'{"data": [{"id": "1", "text": 5, "entities": {"mentions": [{"x": {}}]}}]}',
            b'{"data": {"id": "1"}}',  # no text: not recognised as a Tweet
        ],
    )
    def test_left_to_the_walker(self, line):
        """Lines the walker could read differently are refused."""
        assert read_page(line, _CLEANED) is None

    def test_generated_structs_follow_the_table(self):
        """The readers read the table's keys: a Tweet's facts, everything else skipped."""
        for kind in PAGE_KINDS:
            reader = _fastpage._reader(kind, _CLEANED)
            assert reader is not None
            assert set(reader.facts) <= SHAPES[kind].known
            fields = {f.encode_name for f in msgspec.structs.fields(reader.one.type)}
            assert SHAPES[kind].known == fields
        assert _fastpage._static_closed(Kind.PLACE, _CLEANED)
        assert not _fastpage._static_closed(Kind.MEDIA, _CLEANED)
        # A kind whose slot holds objects recognised by their keys has no reader.
        assert _fastpage._reader(Kind.ACTIVITY, _CLEANED) is None
        assert _fastpage._holding(None, _CLEANED, frozenset()) is None

    def test_kinds_the_reader_cannot_recognise_are_refused(self):
        """A kind without a reader, or recognised where its signature cannot be checked."""
        reader = _fastpage._reader(Kind.USER_V2, _CLEANED)
        assert reader is not None
        read = reader.one.decode(b'{"id": "1", "username": "u"}')
        blind = attrs.evolve(reader, required=None)
        with pytest.raises(_fastpage._Refused):
            _fastpage._recognise([read], blind)
        (user,) = _fastpage._items(
            [None], [read], Kind.USER_V2, [("x", 0)], reader=reader, container=None
        )
        assert ("1", ("x", 0)) == (user.oid, user.full_path)

    def test_pages_the_table_cannot_make_into_one_struct_are_refused(self):
        """No reader for a kind of the page's slots, or slots that conflict: no page read."""
        line = b'{"data": []}'
        try:
            with mock.patch.object(_fastpage, "_reader", return_value=None):
                _fastpage._page_reader.cache_clear()
                assert read_page(line, _CLEANED) is None
            with mock.patch.object(_fastpage, "_fields", side_effect=_fastpage._Unsupported):
                _fastpage._page_reader.cache_clear()
                assert read_page(line, _CLEANED) is None
        finally:
            _fastpage._page_reader.cache_clear()
        page = read_page(line, _CLEANED)
        assert page is not None
        assert page.items == []

    @pytest.mark.parametrize(
        ("line", "ids"),
        [
            (b'{"data": [{"id": "1", "text": "t", "author_id": 50}]}', {"1", "50"}),
            (b'{"data": [{"id": "1", "text": "t", "author_id": null}]}', {"1"}),
            (b'{"data": [{"id": "1", "text": "t", "author_id": true}]}', {"1"}),
            (b'{"data": [], "includes": {"users": [{"id": "7", "username": "u"}]}}', {"7"}),
            # Read otherwise than from a string ID: the items decide.
            (b'{"data": [], "includes": {"users": [{"id": 7, "username": "u"}]}}', None),
            (b'{"data": [], "includes": {"tweets": [{"id": "2", "author": {"id": "5"}}]}}', None),
        ],
    )
    def test_a_page_s_ids_are_read_without_its_items(self, line, ids):
        """`Page.ids`: each object's own and author's IDs, or ``None`` where read otherwise."""
        page = read_page(line, _CLEANED)
        assert page is not None
        assert ids == page.ids()
        snapshot = snapshot_of([ComplianceEvent(type="user_delete", object_id="7")])
        assert (ids is not None and "7" in ids) == _compliance._may_find(ids or set(), snapshot)

    def test_a_page_is_cut_into_objects_only_when_asked(self):
        """Reading decides from the facts; `materialise` gives each item its own object."""
        line = (
            b'{"data": {"id": "1", "text": "t", "author_id": "50"},'
            b' "includes": {"users": [{"id": "50", "username": "u"}], "places": []}}'
        )
        page = read_page(line, _CLEANED)
        assert page is not None
        assert [item.raw for item in page.items] == [None, None]
        record = page.materialise(line)
        tweet, user = page.items
        assert (tweet.full_path, tweet.container) == (("data",), record)
        assert json.loads(bytes(tweet.raw)) == json.loads(line)["data"]
        assert user.full_path == ("includes", "users", 0)
        assert user.container is record["includes"]["users"]
        assert json.loads(bytes(user.raw)) == {"id": "50", "username": "u"}

    @pytest.mark.parametrize(("uid", "built"), [(b'"51"', ["1", "51"]), (b"51", ["1", "50", "51"])])
    def test_only_the_users_gone_are_built(self, uid, built):
        """`Page.select`: users whose IDs are plain strings are built only if wanted."""
        line = (
            b'{"data": [{"id": "1", "text": "t", "author_id": "50"}], "includes": {"users":'
            b' [{"id": "50", "username": "a"}, {"id": ' + uid + b', "username": "b"}]}}'
        )
        page = read_page(line, _CLEANED)
        assert page is not None
        items = page.select({Kind.USER_V2: {"51"}})
        assert [item.oid for item in items] == built
        assert page.items is items
        assert items[-1].full_path == ("includes", "users", 1)

    def test_an_item_written_back_twice_is_written_in_place(self):
        """`Item.write_back` decodes its object once; includes that are null stay."""
        line = b'{"data": [{"id": "1", "text": "t", "geo": {"place_id": "p"}}], "includes": null}'
        page = read_page(line, _CLEANED)
        assert page is not None
        record = page.materialise(line)
        assert record["includes"] is None  # (written null again)
        (tweet,) = page.items
        del tweet.value["geo"]
        tweet.write_back()
        tweet.value["lang"] = "pt"
        tweet.write_back()
        assert msgspec.json.decode(msgspec.json.encode(record["data"])) == [
            {"id": "1", "text": "t", "lang": "pt"}
        ]

    def test_unnamed_keys_and_conflicts_are_unsupported(self):
        """Keys that are no names are renamed; keys both read and crossed are refused."""
        assert (
            "key0_"
            in msgspec.structs.fields(_fastpage._defstruct("x", {"__twarc": msgspec.Raw}))[0].name
        )
        with pytest.raises(_fastpage._Unsupported):
            _fastpage._fields([(("a", "b"), int)], {"a": int}, "x")
        with pytest.raises(_fastpage._Unsupported):
            _fastpage._fields([(("a",), int), (("a", "b"), int)], {}, "x")


# -- the corpus ---------------------------------------------------------------------------


def corpus_snapshot(documents) -> Snapshot:
    """Tombstones for about a third of the corpus's Tweets and a quarter of its users."""
    tweets: set[str] = set()
    users: set[str] = set()
    for doc in documents:
        if doc.value is None:
            continue
        try:
            tweets.update(twpolicy.dehydrate([doc.value]))
            users.update(twpolicy.dehydrate([doc.value], kind="users"))
        except twpolicy.exceptions.TwPolicyError:
            continue
    found = [
        ComplianceEvent(type="tweet_delete", object_id=t) for t in sorted(tweets) if int(t) % 3 == 0
    ]
    kinds = ["user_suspend", "scrub_geo", "user_protect", "user_withheld"]
    for uid in sorted(users):
        kind = kinds[int(uid) % 8] if int(uid) % 8 < len(kinds) else None
        if kind is not None:
            found.append(
                ComplianceEvent(
                    type=kind,
                    object_id=uid,
                    countries=("DE",) if kind == "user_withheld" else (),
                )
            )
    return snapshot_of(found)


@pytest.mark.corpus
def test_every_corpus_payload_is_cleaned_alike(corpus):
    """Every payload of the corpus: the fast reader cleans it as the walker does, or refuses."""
    documents = load(corpus)
    snapshot = corpus_snapshot(documents)
    read = sum(same(doc.raw, snapshot) for doc in documents)
    pages = [
        doc
        for doc in documents
        if isinstance(doc.value, dict)
        and classify(doc.value) is Kind.RESPONSE_V2
        and isinstance(doc.value.get("data"), list)
    ]
    assert pages
    assert read >= len(pages) // 2  # the twarc2 pages, at least


@functools.cache
def corpus_pages(corpus) -> list[tuple[Any, list[str], list[str]]]:
    """The corpus's v2 responses whose IDs can be read, with their Tweet and user IDs."""
    found = []
    for doc in load(corpus):
        if isinstance(doc.value, dict) and classify(doc.value) is Kind.RESPONSE_V2:
            try:
                tweet_ids = sorted(twpolicy.dehydrate([doc.value])) or ["1"]
                user_ids = sorted(twpolicy.dehydrate([doc.value], kind="users")) or ["2"]
            except twpolicy.exceptions.TwPolicyError:
                continue
            found.append((doc, tweet_ids, user_ids))
    return found


@pytest.mark.corpus
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_corpus_pages_with_any_events(corpus, data):
    """Corpus v2 pages, any events about their own Tweets and users: cleaned alike."""
    doc, tweet_ids, user_ids = data.draw(st.sampled_from(corpus_pages(corpus)))
    found = [
        ComplianceEvent(type=data.draw(st.sampled_from(["tweet_delete", "tweet_withheld"])),
                        object_id=t)
        for t in data.draw(st.sets(st.sampled_from(tweet_ids), max_size=4))
    ]  # fmt: skip
    for uid in data.draw(st.sets(st.sampled_from(user_ids), max_size=3)):
        kind = data.draw(
            st.sampled_from(["user_delete", "user_protect", "user_suspend", "scrub_geo"])
        )
        up_to = data.draw(st.sampled_from([None, *tweet_ids])) if kind == "scrub_geo" else None
        found.append(ComplianceEvent(type=kind, object_id=uid, up_to_tweet_id=up_to))
    same(doc.raw, snapshot_of(found))


# -- one parse for the check and the facts ------------------------------------------------


def read_both(line: bytes) -> tuple[Any, Any]:
    """``line`` read by the one parse (orjson, converted) and by the decoder and check."""
    parsed = read_page(line, _CLEANED)
    with mock.patch.object(_fastpage, "_LOADS", None):
        decoded = read_page(line, _CLEANED)
    return facts_of(parsed), facts_of(decoded)


def facts_of(page: Any) -> Any:
    """What the cleaner reads of a page: its slots' kinds, IDs and every fact of each object."""
    if page is None:
        return None
    names = sorted(_fastpage.FACTS)
    return (
        page.kinds(),
        page.ids(),
        [[page.column(group, name) for name in names] for group in range(len(page.kinds()))],
    )


@pytest.mark.skipif(_fastpage._LOADS is None, reason="orjson is not installed")
class TestOneParse:
    """With orjson, one parse of a line serves the check for keys written twice and the facts
    (`_fastpage._decoded`); it reads every line as the decoder and the check do."""

    @settings(max_examples=300, deadline=None)
    @given(page=pages(), style=st.integers(0, 2))
    def test_pages_are_read_alike(self, page, style):
        parsed, decoded = read_both(encode(page, style))
        assert parsed == decoded

    @settings(max_examples=200, deadline=None)
    @given(line=twice.written_twice(pages(), (None, {}, [], "", 0, "x", ":", '":')))
    def test_a_key_written_twice_is_refused_alike(self, line):
        assert read_both(line.encode()) == (None, None)

    @settings(max_examples=100, deadline=None)
    @given(page=pages(), found=events(), style=st.integers(0, 2))
    def test_pages_are_cleaned_alike(self, page, found, style):
        line, snapshot = encode(page, style), snapshot_of(found)
        parsed_tally, decoded_tally = _Tally(), _Tally()
        parsed = _clean_line(line, snapshot, parsed_tally)
        with mock.patch.object(_fastpage, "_LOADS", None):
            decoded = _clean_line(line, snapshot, decoded_tally)
        assert parsed == decoded
        assert tallied(parsed_tally) == tallied(decoded_tally)

    @pytest.mark.parametrize(
        "line",
        [
            b'{"data": [{"id": "1", "text": "a", "x_count": %d}]}' % 2**70,  # past 64 bits
            b'{"data": [{"id": "1", "text": "\\ud800"}]}',  # a lone surrogate
            b'{"data": [{"id": "1", "text": NaN}]}',
            b'{"data": [{"id": "1", "text": "\\u003a"}], "meta": {"a": 1, "a": 2}}',
            b'{"data": [{"id": "1", "text": "x\\": y"}], "meta": {"a" : 1}}',
            b'{"data": [{"id": "1", "text": "x\\": y"}], "meta": {"a" : 1, "a": 2}}',
            b'{"data": [{"id": "1", "text": "::", "author_id": "5"}]}' + b" " * (1 << 16),
            b'{"data": [{"id": "1", "text": "a"}], "meta": {"a": 1, "a": 1}}' + b" " * (1 << 16),
            b"[" * 300 + b"]" * 300,
            b'{"data": [{"id": "1", "text": "a", "entities": {"mentions": [1]}}]}',
        ],
    )
    def test_what_orjson_cannot_read_or_count_is_read_alike(self, line):
        parsed, decoded = read_both(line)
        assert parsed == decoded

    def test_a_plain_page_is_parsed_once(self):
        line = b'{"data": [{"id": "1", "text": "a: b", "author_id": "5"}], "meta": {"n": 1}}'
        loads = mock.Mock(wraps=_fastpage._LOADS)
        with (
            mock.patch.object(_fastpage, "_LOADS", loads),
            mock.patch.object(_fastpage, "written_once", side_effect=AssertionError),
        ):
            page = read_page(line, _CLEANED)
        assert loads.call_count == 1
        assert page is not None
        assert page.ids() == {"1", "5"}

    @pytest.mark.parametrize("counted", [0, _fastpage._NUMPY_AFTER])
    @pytest.mark.parametrize("size", [10, 1 << 16, 1 << 17])
    def test_colons_are_counted_alike(self, monkeypatch, counted, size):
        """A large line's colons counted by numpy (once a dataset is large) or by bytes."""
        monkeypatch.setattr(_fastpage, "_counted", [counted])
        data = (b'{"a": "b:c", "d\\"": 1}' * size)[:size]
        assert _fastpage._colons(data) == data.count(b":")

    @pytest.mark.corpus
    def test_corpus_pages_are_read_alike(self, corpus):
        read = 0
        for document in load(corpus):
            if isinstance(document.raw, bytes):
                parsed, decoded = read_both(document.raw)
                assert parsed == decoded, document
                read += parsed is not None
        assert read > 20


# -- through the appliers -----------------------------------------------------------------


@contextlib.contextmanager
def walker_only() -> Iterator[None]:
    """The fast page cleaner switched off: every affected line is parsed and walked."""
    with mock.patch.object(_compliance, "_clean_line", return_value=None):
        yield


@settings(max_examples=60, deadline=None)
@given(records=st.lists(pages(), min_size=1, max_size=4), found=events())
def test_dehydrate_writes_the_same_ids(records, found):
    """`dehydrate --compliance-db`'s reader gives the same IDs with and without the cleaner."""
    snapshot = snapshot_of(found)
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    results = []
    for context in (contextlib.nullcontext(), walker_only()):
        with context:
            tombstones = ExportTombstones(snapshot, "tweets")
            reader = IdReader("tweets", tombstones=tombstones)
            try:
                written = [i for batch in reader.new_ids(io.BytesIO(data)) for i in batch]
            except twpolicy.exceptions.TwPolicyError as error:
                written = [type(error).__name__]
            results.append((written, tombstones.dropped))
    assert results[0] == results[1]


@st.composite
def dataset_lines(draw: st.DrawFn) -> bytes:
    """A line of a dataset: a page, a page writing a key twice, a v1.1 Tweet, or no JSON."""
    tid, uid = draw(st.sampled_from(TWEETS)), draw(st.sampled_from(USERS))
    form = draw(st.integers(0, 5))
    if form <= 1:
        return encode(draw(pages()), draw(st.integers(0, 2))).rstrip(b"\n")
    if form == 2:  # a key written twice: the data, or a Tweet's ID or author
        first, second = draw(pages()), draw(pages())
        return draw(
            st.sampled_from(
                [
                    b'{"data": %s, "data": %s}'
                    % (json.dumps(first["data"]).encode(), json.dumps(second["data"]).encode()),
                    b'{"data": [{"id": "%s", "text": "a", "id": "1011"}]}' % tid.encode(),
                    b'{"data": [{"id": "1011", "author_id": "%s", "author_id": "55"}]}'
                    % uid.encode(),
                    b'{"data": [{"id": "1011", "text": "a", "text": "b"}]}',
                ]
            )
        )
    if form == 3:
        return json.dumps({"id_str": tid, "text": "b", "user": {"id_str": uid}}).encode()
    if form == 4:
        return b"not JSON: " + draw(st.sampled_from([tid.encode(), b"7"]))
    return b"{}"


def cleaned_in_order(lines: list[bytes], snapshot: Snapshot, first: bool | None) -> Any:
    """`clean_lines` with the digit test first, the fast reader first, or as it decides."""
    order = (
        contextlib.nullcontext()
        if first is None
        else mock.patch.object(_compliance._Wanted, "filter_first", return_value=first)
    )
    out: list[bytes] = []
    tally = _Tally()
    with order:
        try:
            counts = _compliance.clean_lines(lines, out.append, snapshot, tally)
        except _compliance.NotJsonLine as refused:
            return "refused", refused.number, refused.why
    return b"".join(out), counts, tallied(tally)


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(dataset_lines(), min_size=1, max_size=6), found=events())
def test_either_order_writes_the_same_bytes(lines, found):
    """The digit test first or the fast reader first: the same bytes, counts and refusals,
    also for lines that write a key twice, with or without an affected ID."""
    snapshot = snapshot_of(found)
    data = [line + b"\n" for line in lines]
    results = [cleaned_in_order(data, snapshot, first) for first in (True, False, None)]
    assert results[0] == results[1] == results[2]


@pytest.mark.corpus
@pytest.mark.parametrize("sparse", [False, True])
def test_a_corpus_dataset_is_cleaned_alike_in_either_order(corpus, sparse):
    """Every corpus payload as a line of a dataset: the same bytes in either order, where
    about a third of the Tweets are gone (most lines hit) and where only a few are."""
    documents = [doc for doc in load(corpus) if b"\n" not in doc.raw.strip()]
    snapshot = corpus_snapshot(documents)
    if sparse:
        few = sorted(_compliance._Wanted(snapshot).ids)[::50]
        snapshot = snapshot_of([ComplianceEvent(type="tweet_delete", object_id=i) for i in few])
    lines = [doc.raw.strip() + b"\n" for doc in documents if doc.raw.strip()]
    results = [cleaned_in_order(lines, snapshot, first) for first in (True, False)]
    assert results[0] == results[1]
    written, _, (_, removed, _, _) = results[0]
    assert removed > 0
    assert written != b"".join(lines)


def parsed(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


@pytest.mark.corpus
@pytest.mark.parametrize("gzipped", [False, True])
def test_a_corpus_dataset_is_applied_alike(corpus, tmp_path, gzipped):
    """A dataset of every twarc2 test file: the same output and report either way."""
    folder = corpus / "DocNow+twarc-csv" / "test-data"
    lines = [
        line
        for name in sorted(folder.glob("*.jsonl"))
        for line in name.read_bytes().splitlines(keepends=True)
        if line.strip()
    ]
    dataset = tmp_path / "data.jsonl"
    text = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
    # The corpus keeps damaged lines on purpose: they are left out here.
    good = [(line, value) for line in text.splitlines(keepends=True) if (value := parsed(line))]
    payload = b"".join(line for line, _ in good)
    dataset.write_bytes(gzip.compress(payload) if gzipped else payload)
    records = [value for _, value in good]
    tweets, users = set(), set()
    for record in records:
        with contextlib.suppress(twpolicy.exceptions.TwPolicyError):
            tweets.update(twpolicy.dehydrate(record))
            users.update(twpolicy.dehydrate(record, kind="users"))
    tweets, users = sorted(tweets), sorted(users)
    found = [ComplianceEvent(type="tweet_delete", object_id=t) for t in tweets[::7]]
    found += [ComplianceEvent(type="scrub_geo", object_id=u) for u in users[::11]]
    found += [ComplianceEvent(type="user_suspend", object_id=u) for u in users[3::13]]
    outputs = []
    cleaned_fast = []
    real = _compliance._clean_line

    def counted(*args: Any) -> Any:
        found = real(*args)
        cleaned_fast.append(found is not None)
        return found

    fast = mock.patch.object(_compliance, "_clean_line", counted)
    for name, context in (("fast", fast), ("walked", walker_only())):
        with context, open_compliance(f"sqlite:///{tmp_path / name}.db") as ledger:
            ledger.record(found)
            out = tmp_path / f"{name}.jsonl"
            report = apply_compliance(ledger, JsonLinesApplier(dataset, out=out))
            raw = out.read_bytes()
            raw = gzip.decompress(raw) if gzipped else raw
            outputs.append(
                (
                    [json.loads(line) for line in raw.splitlines()],
                    {
                        k: v
                        for k, v in report.to_dict().items()
                        if k not in ("attempt_id", "target")
                    },
                )
            )
    assert outputs[0] == outputs[1]
    assert outputs[0][1]["removed"] > 0
    assert sum(cleaned_fast) >= 5  # the twarc2 pages that may hold something gone


# -- building only the objects that may change (`_involved`) -------------------------------

# References of every form the cleaner reads: lists of objects, and what it reads as none.
odd_references = st.one_of(
    st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {"type": st.sampled_from(["retweeted", "quoted"])},
                optional={
                    "id": st.one_of(
                        st.sampled_from(TWEETS), st.integers(1000, 1003), st.just(""), st.none()
                    )
                },
            ),
            st.sampled_from(["1000", 1001, None, ["1002"]]),
        ),
        max_size=3,
    ),
    st.sampled_from([None, "1000", {"id": "1000"}, 7]),
)
chained_tweets = st.fixed_dictionaries(
    {
        "id": st.one_of(st.sampled_from(TWEETS[:6]), st.sampled_from(["", "x1", "1000 "])),
        "text": st.just("t"),
    },
    optional={
        "author_id": st.one_of(st.sampled_from(USERS), st.integers(50, 55), st.none()),
        "referenced_tweets": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "type": st.sampled_from(["retweeted", "quoted", "replied_to"]),
                        "id": st.sampled_from(TWEETS[:6]),
                    }
                ),
                max_size=2,
            ),
            odd_references,
        ),
        "geo": st.fixed_dictionaries({"place_id": st.sampled_from(PLACES)}),
        "attachments": st.fixed_dictionaries(
            {"media_keys": st.lists(st.sampled_from(MEDIA), max_size=2)}
        ),
    },
)


@st.composite
def chained_pages(draw: st.DrawFn) -> tuple[bytes, list[ComplianceEvent]]:
    """A page of Tweets that retweet and quote each other, and events at any of its slots."""
    page: dict[str, Any] = {"data": draw(st.lists(chained_tweets, max_size=6))}
    if draw(st.integers(0, 7)) == 0 and page["data"]:
        page["data"] = page["data"][0]
    page["includes"] = {
        "tweets": draw(st.lists(chained_tweets, max_size=4)),
        "users": draw(st.lists(users, max_size=3)),
        "places": [{"id": p} for p in draw(st.lists(st.sampled_from(PLACES), max_size=3))],
        "media": [{"media_key": m} for m in draw(st.lists(st.sampled_from(MEDIA), max_size=3))],
    }
    found = draw(events())
    found += [ComplianceEvent(type="tweet_delete", object_id=t) for t in draw(
        st.sets(st.sampled_from(TWEETS[:6]), max_size=2)
    )]  # fmt: skip
    return encode(page, draw(st.integers(0, 2))), found


RETWEET = {"type": "retweeted"}


def every_object_built() -> Any:
    return mock.patch.object(_compliance, "_involved", return_value=None)


class TestInvolved:
    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=chained_pages())
    def test_building_only_the_objects_chosen_decides_as_building_all(self, case):
        """The same line, change and counts as when every object of the page is built.

        On pages whose Tweets retweet and quote each other in chains, with references of
        every form (IDs that are numbers, empty or no IDs, lists that are none), hits at
        every slot (``data``, ``includes.tweets``, ``includes.users``, by ID and by author).
        """
        line, found = case
        snapshot = snapshot_of(found)
        chosen_tally, all_tally = _Tally(), _Tally()
        chosen = _clean_line(line, snapshot, chosen_tally)
        with every_object_built():
            built = _clean_line(line, snapshot, all_tally)
        assert chosen == built
        assert tallied(chosen_tally) == tallied(all_tally)
        same(line, snapshot)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(case=chained_pages())
    def test_every_object_the_cleaner_acts_on_is_chosen(self, case):
        """What `_find` and `_clean` remove or change among all objects is among those chosen."""
        line, found = case
        snapshot = snapshot_of(found)
        page = read_page(line, _CLEANED)
        if page is None or page.ids() is None:
            return
        chosen = _compliance._involved(page, snapshot)
        assert chosen is not None
        picked = {item.full_path for item in page.pick(chosen)}
        items = page.pick([None] * len(chosen))
        _, _, touched = _compliance._clean(None, items, snapshot, _Tally())
        acted = {item.full_path for item in items if item.doomed} | {
            item.full_path for item in touched
        }
        assert acted <= picked

    def test_a_chain_of_retweets_is_followed(self):
        """A retweet of a retweet of a deleted Tweet is chosen, and goes, as walked."""
        line = json.dumps(
            {
                "data": [
                    {"id": "3", "text": "c", "referenced_tweets": [RETWEET | {"id": "2"}]},
                    {"id": "9", "text": "other"},
                ],
                "includes": {
                    "tweets": [
                        {"id": "2", "text": "b", "referenced_tweets": [RETWEET | {"id": "1"}]},
                        {"id": "1", "text": "a"},
                    ]
                },
            }
        ).encode()  # fmt: skip
        snapshot = snapshot_of([ComplianceEvent(type="tweet_delete", object_id="1")])
        page = read_page(line, _CLEANED)
        assert page is not None
        assert _compliance._involved(page, snapshot) == [[0], [0, 1]]
        out, changed = _clean_line(line, snapshot, _Tally()) or (b"", False)
        assert changed
        assert json.loads(out) == {
            "data": [{"id": "9", "text": "other"}],
            "includes": {"tweets": []},
        }
        assert same(line, snapshot)

    @pytest.mark.parametrize(
        ("refs", "chosen"),
        [
            ([{"type": "quoted", "id": 1000}], [0, 1]),  # a number: read as its digits
            ([{"type": "quoted", "id": 1001}], [0]),
            ({"id": "1000"}, [0, 1]),  # not a list: built
            (["1000", None], [0]),  # no objects: refers to nothing
            ([{"type": "quoted", "id": "1001"}], [0]),  # names a Tweet that stays
        ],
    )
    def test_references_not_read_further_are_built(self, refs, chosen):
        """References are read as the cleaner reads them; one that is no list is built anyway."""
        line = json.dumps(
            {
                "data": [
                    {"id": "1000", "text": "a"},
                    {"id": "7", "text": "b"} | {"referenced_tweets": refs},
                ]
            }
        ).encode()
        snapshot = snapshot_of([ComplianceEvent(type="tweet_delete", object_id="1000")])
        page = read_page(line, _CLEANED)
        assert page is not None
        assert _compliance._involved(page, snapshot) == [chosen]
        assert same(line, snapshot)

    def test_a_tweet_gone_without_an_id_chooses_every_tweet_that_refers(self):
        """A removed Tweet whose ID is empty names ``""``: every reference may match it."""
        line = json.dumps(
            {
                "data": [
                    {"id": "", "text": "a", "author_id": "50"},
                    {"id": "7", "text": "b", "referenced_tweets": [{"type": "quoted", "id": "x"}]},
                    {"id": "8", "text": "c"},
                ]
            }
        ).encode()
        snapshot = snapshot_of([ComplianceEvent(type="user_suspend", object_id="50")])
        page = read_page(line, _CLEANED)
        assert page is not None
        assert _compliance._involved(page, snapshot) == [[0, 1]]
        assert same(line, snapshot)

    def test_odd_ids_and_references_are_cleaned_on_the_safe_side(self):
        """A Tweet ID that is no number is under any ``scrub_geo`` limit; a non-list refers to
        nothing (both raised before, walked or read fast)."""
        line = json.dumps(
            {
                "data": [
                    {"id": "x1", "text": "a", "author_id": "54", "geo": {"place_id": "p1"}},
                    {"id": "1000", "text": "b", "referenced_tweets": 7},
                    {"id": "1001", "text": "c", "author_id": "50"},
                ]
            }
        ).encode()
        snapshot = snapshot_of(
            [
                ComplianceEvent(type="scrub_geo", object_id="54", up_to_tweet_id="1000"),
                ComplianceEvent(type="user_suspend", object_id="50"),
            ]
        )
        assert same(line, snapshot)
        cleaned, changed = clean_record(json.loads(line), snapshot)
        assert changed
        assert cleaned["data"] == [
            {"id": "x1", "text": "a", "author_id": "54"},
            {"id": "1000", "text": "b", "referenced_tweets": 7},
        ]

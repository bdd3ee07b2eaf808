"""Adversarial families against the exports (I.F.2, I.F.2.a): what leaves is plain JSON.

Each class of hole is generated as a family of variants over `twpolicy.strategies` payloads:
values whose scalars are subclasses that print as something else or carry attributes, and
objects of the application's own riding inside counted objects.
"""

from __future__ import annotations

import copy
import decimal
import pickle
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy import strategies as tws

HIDDEN = "HIDDEN TEXT OF MANY TWEETS"


class Str(str):
    """A string that prints as something else and carries an attribute."""

    __slots__ = ("payload",)

    def __str__(self) -> str:
        return HIDDEN

    __repr__ = __str__


class Int(int):
    """An integer that prints as something else."""

    def __str__(self) -> str:
        return HIDDEN

    __repr__ = __str__


def disguise(value: Any) -> Any:
    """``value`` with every string and integer (keys too) replaced by a look-alike subclass."""
    if isinstance(value, dict):
        return {disguise(key): disguise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [disguise(item) for item in value]
    if type(value) is str:
        found = Str(value)
        found.payload = HIDDEN * 10
        return found
    if type(value) is int:
        return Int(value)
    return value


def plain_json(value: Any) -> bool:
    """Whether ``value`` is built of exact JSON types only."""
    if type(value) is dict:
        return all(type(key) is str and plain_json(item) for key, item in value.items())
    if type(value) in {list, tuple, set, frozenset}:
        return all(plain_json(item) for item in value)
    return type(value) in {str, int, float, bool, type(None)}


def _guard() -> twpolicy.Guard:
    return twpolicy.Guard(quotas=twpolicy.open_quotas("memory://"))


def _ids_only(value: Any, kind: str = "tweets", *, strict: bool = False) -> Any:
    guard = _guard()
    leave = twpolicy.ids_only(kind=kind, strict=strict, recipient="acme", guard=guard)(
        lambda: value
    )
    try:
        return leave(), guard.quotas.remaining("acme")
    except twpolicy.PolicyViolation as refused:  # a protected author's IDs, say
        return ("refused", refused.decision.reason if refused.decision else None)


def _manual(value: Any) -> tuple[Any, ...]:
    guard = _guard()
    try:
        with twpolicy.manual_export(
            value, recipient="ana", requested_by="ana", guard=guard
        ) as export:
            out = export.value
    except twpolicy.PolicyViolation as refused:
        return ("refused", refused.decision.reason if refused.decision else None)
    return (out, export.decision.count, guard.quotas.remaining("ana"))


PAYLOADS = st.one_of(
    tws.api_responses(),
    st.lists(tws.tweets(api="v1.1"), max_size=3),
    st.lists(tws.tweets(), max_size=3),
)
ID_VALUES = st.one_of(
    st.lists(tws.ids(), max_size=5),
    st.dictionaries(
        st.sampled_from(["tweet_ids", "user_ids", "ids", "author_id"]),
        st.lists(tws.ids(), max_size=3),
        max_size=3,
    ),
)
FEW = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class TestLookAlikeScalarsLeavePlain:
    """A str or int subclass may print as text or carry attributes: only plain copies leave."""

    @SLOW
    @given(ID_VALUES, st.sampled_from(["tweets", "users"]))
    def test_ids_only_kept_values_are_plain(self, value, kind):
        """A value of nothing but IDs leaves as the same plain IDs, counted the same."""
        if kind == "users" and isinstance(value, dict) and "tweet_ids" in value:
            kind = "tweets"
        assert _ids_only(value, kind) == _ids_only(disguise(value), kind)
        out, _ = _ids_only(disguise(value), kind)
        assert plain_json(out)
        assert HIDDEN not in str(out)

    @SLOW
    @given(PAYLOADS, st.sampled_from(["tweets", "users"]))
    def test_reduced_values_are_plain(self, payload, kind):
        """IDs read off look-alike objects are the plain IDs, as from the plain payload."""
        disguised = disguise(payload)
        assert twpolicy.dehydrate(payload, kind=kind) == twpolicy.dehydrate(disguised, kind=kind)
        out = twpolicy.dehydrate(disguised, kind=kind)
        assert all(type(found) is str for found in out)
        assert _ids_only(payload, kind) == _ids_only(disguised, kind)
        assert plain_json(_ids_only(disguised, kind)[0])

    @SLOW
    @given(PAYLOADS)
    def test_manual_export_copies_are_plain(self, payload):
        """A manual export of look-alikes is decided and handed over as the plain payload."""
        plain, disguised = _manual(payload), _manual(disguise(payload))
        assert plain == disguised
        if disguised[0] != "refused":
            assert plain_json(disguised[0])

    def test_instance_str_subclass_with_attribute(self):
        """The instance: an ID whose subclass prints text and carries a payload."""
        found = Str("1445880548472328192")
        found.payload = HIDDEN
        out, remaining = _ids_only([found])
        assert ["1445880548472328192"] == out
        assert type(out[0]) is str
        assert 1_500_000 - 1 == remaining


class Float(float):
    """A float that prints as something else."""

    def __str__(self) -> str:
        return HIDDEN


def test_every_scalar_subclass_leaves_plain():
    """Floats, set members and odd keys are copied plain too."""
    out, _ = _ids_only({"tweet_ids": {Str("5"), Str("6")}})
    assert ["5", "6"] == sorted(out["tweet_ids"])  # a set leaves as a list
    assert all(type(member) is str for member in out["tweet_ids"])
    user = {**_user(1), "followers_count": Float(3.0), "withheld_in": {True: Int(1)}}
    value, count, _ = _manual([user])
    assert 1 == count
    assert [{**_user(1), "followers_count": 3.0, "withheld_in": {True: 1}}] == value
    assert plain_json({**value[0], "withheld_in": {}})
    assert type(value[0]["followers_count"]) is float
    assert [bool, int] == [type(k) for k in value[0]["withheld_in"]] + [
        type(v) for v in value[0]["withheld_in"].values()
    ]


class Carrier:
    """An object of the application's, holding text in its attributes."""

    text = HIDDEN


ODD_LEAVES = st.sampled_from(
    [Carrier(), b"bytes of text", bytearray(b"text"), decimal.Decimal(5), object(), 3j]
)


class TestForeignObjectsInsideCountedObjects:
    """Nothing but JSON rides inside a counted object: the application's objects are refused."""

    @FEW
    @given(tws.tweets(api="v1.1"), ODD_LEAVES, st.sampled_from(["text", "source", "notes"]))
    def test_refused_in_any_field(self, tweet, leaf, field):
        """An odd value in a known or unknown field of a Tweet is refused, naming it."""
        tweet = {**tweet, "user": {**tweet["user"], "protected": False}}
        assume("refused" != _manual([tweet])[0])  # the Tweet alone may go
        refused, reason = _manual([{**tweet, field: leaf}])
        assert "refused" == refused
        assert reason in {"not_an_object", "extra_text"}  # bytes are text where none belongs

    @FEW
    @given(tws.users(api="v1.1"), ODD_LEAVES)
    def test_refused_nested_in_a_user(self, user, leaf):
        """Deeper in: a list inside a user object."""
        user = {**user, "protected": False}
        assume("refused" != _manual([user])[0])
        refused, reason = _manual([{**user, "entities": {"x": [leaf]}}])
        assert "refused" == refused
        assert reason in {"not_an_object", "extra_text"}


@st.composite
def pages(draw: st.DrawFn) -> dict[str, Any]:
    """A v2 page of public Tweets with their authors and the places, media, polls they name."""
    size = draw(st.integers(1, 4))
    data, users, places, media, polls = [], [], [], [], []
    for n in range(size):
        tweet: dict[str, Any] = {"id": str(1000 + n), "text": f"tweet {n}", "author_id": str(n + 1)}
        users.append({"id": str(n + 1), "username": f"u{n}", "name": f"U {n}", "protected": False})
        if draw(st.booleans()):
            place = draw(tws.places("v2"))
            places.append({**place, "id": f"p{n}"})
            tweet["geo"] = {"place_id": f"p{n}"}
        attachments: dict[str, Any] = {}
        if draw(st.booleans()):
            media.append({"media_key": f"3_{n}", "type": "photo", "alt_text": "a cat on a mat"})
            attachments["media_keys"] = [f"3_{n}"]
        if draw(st.booleans()):
            polls.append(
                {
                    "id": str(500 + n),
                    "options": [{"position": 1, "label": "yes", "votes": 3}],
                    "voting_status": "closed",
                }
            )
            attachments["poll_ids"] = [str(500 + n)]
        if attachments:
            tweet["attachments"] = attachments
        data.append(tweet)
    includes = {"users": users, "places": places, "media": media, "polls": polls}
    page = {"data": data, "includes": {k: v for k, v in includes.items() if v}}
    page["meta"] = {
        "result_count": size,
        "next_token": draw(
            st.sampled_from(["b26v89c19zqg8o3", "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i"])
        ),
    }
    return page


TOKEN_FIELDS = (
    "next_token",
    "previous_token",
    "pagination_token",
    "query",
    "url",
    "refresh_url",
    "next_results",
    "next_page",
    "previous_page",
    "version",
)
LOOSE_TEXT = 8_192


class TestTextOutsideCountedObjects:
    """Envelopes, expansions and rule tags carry no text of their own beyond what belongs."""

    @SLOW
    @given(pages())
    def test_a_genuine_page_goes(self, page):
        """The page as the API sends it: every Tweet and author counted, nothing refused."""
        out, count, _ = _manual(page)
        assert page == out
        assert 2 * len(page["data"]) == count

    @SLOW
    @given(pages(), st.sampled_from(["places", "media", "polls"]))
    def test_an_expansion_no_tweet_refers_to_is_refused(self, page, part):
        """A place, medium or poll on its own is not part of a counted Tweet."""
        assume(part in page["includes"])
        loose = {**page, "includes": {**page["includes"]}}
        loose["data"] = [
            {k: v for k, v in t.items() if k not in {"geo", "attachments"}} for t in page["data"]
        ]
        assert ("refused", "not_an_object") == _manual(loose)

    @SLOW
    @given(
        pages(), st.sampled_from(["places", "media", "polls"]), st.sampled_from(["notes", "x_text"])
    )
    def test_an_expansion_field_holding_text_is_refused(self, page, part, field):
        """Text in a field no place, medium or poll has."""
        assume(part in page["includes"])
        parts = page["includes"][part]
        smuggled = {
            **page,
            "includes": {
                **page["includes"],
                part: [{**parts[0], field: "the text of a Tweet"}, *parts[1:]],
            },
        }
        assert ("refused", "extra_text") == _manual(smuggled)

    @SLOW
    @given(
        pages(),
        st.sampled_from(["meta", "search_metadata", "__twarc", "matching_rules"]),
        st.integers(1, len(TOKEN_FIELDS)),
    )
    def test_envelope_text_beyond_the_counted_objects_is_refused(self, page, where, fields):
        """Tokens and rule tags say at most a page's worth per counted object."""
        token = "QUJD" * 1024  # 4,096 characters: a token in form, text in substance
        extra: Any = dict.fromkeys(TOKEN_FIELDS[:fields], token)
        if where == "matching_rules":
            extra = [{"id": str(n + 1), "tag": "a rule tag " * 20} for n in range(fields * 20)]
        size = fields * len(token) if where != "matching_rules" else fields * 20 * 220
        if where == "meta":
            extra = {**page["meta"], **extra}
        outcome = _manual({**page, where: extra})
        budget = LOOSE_TEXT * 2 * len(page["data"])  # each Tweet and its author
        if size > budget:
            assert ("refused", "extra_text") == outcome
        elif size + len(token) <= budget:  # room for the page's own tokens and places
            assert "refused" != outcome[0]

    @pytest.mark.parametrize(
        "page",
        [
            {"data": [], "meta": {"next_token": "QUJD" * 100}},
            {"data": [], "matching_rules": [{"id": "1", "tag": "secret text"}]},
            {"includes": {"places": [{"id": "p", "full_name": "text", "name": "more"}]}},
            {"data": [], "search_metadata": {"query": "the text of a Tweet"}},
        ],
    )
    def test_instances_counting_nothing_carry_no_text(self, page):
        """The instances: an export that counts nothing carries no text either."""
        assert "refused" == _manual(page)[0]

    def test_numbers_and_cursors_are_not_text(self):
        """A v1.1 follower-ID page, signed cursors and all, goes."""
        page = {
            "ids": [1, 2, 3],
            "next_cursor": 0,
            "next_cursor_str": "0",
            "previous_cursor_str": "-1482172157213781578",
        }
        assert page == _manual(page)[0]


def _user(n: int) -> dict[str, Any]:
    return {"id_str": str(n), "screen_name": f"u{n}", "name": f"U {n}", "protected": False}


HIDDEN_CHARS = st.sampled_from(["\u200b", "\u3164", "\u034f", "\ufeff", "\u2800", "\u00ad", "\t"])


class TestCountsCannotBeShed:
    """What was cleared is counted against the recipient and the requester, or does not leave."""

    @SLOW
    @given(st.integers(1, 5), st.booleans())
    def test_a_released_export_cannot_be_read(self, size, with_block):
        """Releasing gives the counts back, so the value can no longer be handed over."""
        guard = _guard()
        export = twpolicy.manual_export(
            [_user(n) for n in range(size)], recipient="bob", requested_by="ana", guard=guard
        )
        if with_block:
            with pytest.raises(RuntimeError), export:
                raise RuntimeError  # leaving with an exception releases
        else:
            assert export.release()
        with pytest.raises(twpolicy.ConfigurationError, match="released"):
            _ = export.value
        assert 50_000 == guard.quotas.remaining("bob", "hydrated_objects")
        assert 50_000 == guard.quotas.remaining("ana", "requested_objects")

    @SLOW
    @given(st.permutations(["read", "release", "commit", "read"]))
    def test_threads_reading_and_releasing_agree(self, steps):
        """Reading, committing and releasing from threads at once: counted iff it left."""
        guard = _guard()
        export = twpolicy.manual_export(
            [_user(1)], recipient="bob", requested_by="ana", guard=guard
        )
        left: list[bool] = []
        barrier = threading.Barrier(len(steps))

        def act(step: str) -> None:
            barrier.wait()
            if step == "read":
                try:
                    _ = export.value
                    left.append(True)
                except twpolicy.ConfigurationError:
                    left.append(False)
            elif step == "commit":
                export.commit()
            else:
                export.release()

        threads = [threading.Thread(target=act, args=(step,)) for step in steps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counted = 50_000 - guard.quotas.remaining("bob", "hydrated_objects")
        if any(left):
            assert 1 == counted  # what left is counted, whoever released
        else:
            assert export.release() is False  # released already, or committed by commit()

    @pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy, pickle.dumps])
    def test_an_export_cannot_be_copied(self, duplicate):
        """A copy would share the reservation: released through one, read through the other."""
        guard = _guard()
        export = twpolicy.manual_export(
            [_user(1)], recipient="bob", requested_by="ana", guard=guard
        )
        with pytest.raises(TypeError, match="cannot be copied"):
            duplicate(export)
        assert export.release()
        assert 50_000 == guard.quotas.remaining("bob", "hydrated_objects")

    @SLOW
    @given(HIDDEN_CHARS, st.integers(0, 3))
    def test_a_requester_is_counted_however_written(self, hidden, at):
        """A requester written with a hidden character is refused or counted as the person."""
        guard = _guard()
        name = "ana"[:at] + hidden + "ana"[at:]
        try:
            with twpolicy.manual_export(
                [_user(1)], recipient="bob", requested_by=name, guard=guard
            ) as export:
                _ = export.value
        except twpolicy.ConfigurationError:
            assert 50_000 == guard.quotas.remaining("bob", "hydrated_objects")
            return
        assert 49_999 == guard.quotas.remaining("ana", "requested_objects")

    @pytest.mark.parametrize("requester", ["ana\u200b", "", 7, None])
    def test_an_uncountable_requester_is_refused_by_the_rule(self, requester):
        """An Action built by hand with a requester that cannot be counted is refused."""
        guard = _guard()
        action = twpolicy.Action(
            kind="export",
            operation="hand-made",
            recipient="bob",
            count=1,
            facts={"content": "objects", "manual": True, "requested_by": requester},
            payload=[_user(1)],
        )
        decision = guard.check(action)
        assert not decision.allowed
        assert ("no_requester", "I.F.2.a") == (decision.reason, decision.clause)


GONE_TWEET, GONE_USER = "111", "7"


def _ledger_guard() -> twpolicy.Guard:
    """A guard whose compliance ledger knows Tweet 111 deleted and user 7 protected."""
    ledger = twpolicy.open_compliance("memory://")
    ledger.record(
        twpolicy.compliance_events(
            {"delete": {"status": {"id_str": GONE_TWEET, "user_id_str": "9"}}}
        )
    )
    ledger.record(
        twpolicy.compliance_events(
            {
                "data": {
                    "user_protect": {"user": {"id": GONE_USER}, "event_at": "2030-01-01T00:00:00Z"}
                }
            }
        )
    )
    return twpolicy.Guard(quotas=twpolicy.open_quotas("memory://"), compliance=ledger)


ID_FIELDS = st.sampled_from(["tweet_ids", "user_ids", "ids", "author_id", "dm_ids", "status_ids"])


@st.composite
def carriers(draw: st.DrawFn, gone: str) -> Any:
    """``gone`` among other IDs, bare, under an ID field, or in an object that holds it."""
    others = draw(st.lists(tws.ids(), max_size=3))
    ids = [*others, gone]
    objects = ["tweet", "quote"] if gone == GONE_TWEET else ["author", "user"]
    shape = draw(st.sampled_from(["list", "field", *objects]))
    if shape == "list":
        return ids
    if shape == "field":
        return {draw(ID_FIELDS): ids}
    if shape == "tweet":
        return [{"id": gone, "text": "hi", "author_id": "5"}]
    if shape == "author":
        return [{"id": "12", "text": "hi", "author_id": gone}]
    if shape == "user":
        return [{"id": gone, "username": "x", "name": "X"}]
    return [
        {
            "id": "12",
            "text": "hi",
            "author_id": "5",
            "referenced_tweets": [{"type": "quoted", "id": gone}],
        }
    ]


class TestGoneIdsDoNotLeave:
    """An ID the compliance ledger knows gone leaves through no export, whatever its kind says."""

    @SLOW
    @given(
        st.sampled_from([GONE_TWEET, GONE_USER]),
        st.data(),
        st.sampled_from(["tweets", "users", "dms"]),
    )
    def test_ids_only_refuses_gone_ids_in_any_carrier(self, gone, data, kind):
        """Bare IDs are checked as Tweets and as users; reduced ones with all their objects'."""
        value = data.draw(carriers(gone))
        guard = _ledger_guard()
        leave = twpolicy.ids_only(kind=kind, recipient="acme", guard=guard)(lambda: value)
        with pytest.raises(twpolicy.PolicyViolation) as refused:
            leave()
        assert refused.value.decision is not None
        assert refused.value.decision.reason in {"content_gone", "id_kind_mismatch"}

    @SLOW
    @given(st.sampled_from([GONE_TWEET, GONE_USER]), st.sampled_from(["bare", "stub", "field"]))
    def test_manual_export_refuses_gone_ids_left_as_ids(self, gone, shape):
        """IDs and stubs in a hand-made export are checked too (a stub names a Tweet)."""
        assume(shape != "stub" or gone == GONE_TWEET)
        value = {
            "bare": [gone],
            "stub": [{"type": "quoted", "id": gone}],
            "field": {"ids": [gone]},
        }[shape]
        with pytest.raises(twpolicy.PolicyViolation) as refused:
            twpolicy.manual_export(
                value, recipient="bob", requested_by="ana", guard=_ledger_guard()
            )
        assert refused.value.decision is not None
        assert "content_gone" == refused.value.decision.reason

    @pytest.mark.parametrize(
        "field", ["quoted_status_id_str", "in_reply_to_status_id_str", "retweeted_status"]
    )
    def test_manual_export_refuses_references_to_gone_tweets(self, field):
        """A Tweet referring to a deleted one carries its ID out: refused, as ids_only does."""
        user = _user(8)
        tweet: dict[str, Any] = {"id_str": "5", "text": "a quote", "user": user}
        if field == "retweeted_status":
            tweet[field] = {"id_str": GONE_TWEET, "text": "gone", "user": user}
        else:
            tweet[field] = GONE_TWEET
        with pytest.raises(twpolicy.ContentUnavailable):
            twpolicy.manual_export(
                [tweet], recipient="bob", requested_by="ana", guard=_ledger_guard()
            )
        assert "refused" != _manual([tweet])[0]  # without the ledger it may go

    def test_instance_tweet_ids_declared_as_users(self):
        """The instance: a deleted Tweet's ID exported as a user ID."""
        leave = twpolicy.ids_only(kind="users", recipient="acme", guard=_ledger_guard())(
            lambda: [GONE_TWEET]
        )
        with pytest.raises(twpolicy.ContentUnavailable):
            leave()

"""I.F.2.b.i: an ID counts as what the guard has evidence it names, failing closed.

An ID alone does not say whether it names a Tweet or a user. Tweet IDs read through a
guarded client and then exported in any wrapper (made-up user or DM objects, bare IDs
declared as users or DMs, mixed batches, nested carriers) count against the Tweet-ID cap;
user IDs read through a guarded client as users leave uncounted.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy._payloads._outbound import IdCount, own_content
from twpolicy._payloads._seen import (
    ExactIds,
    IdEvidence,
    id_key,
    process_evidence,
    read_body,
    read_document,
    read_parsed,
    read_response,
)
from twpolicy.testing import FakeXAPI

MONTH = 1_500_000
SENDER = "5"
# User IDs of these tests: far above every ID the fake API hands out, drawn at random so that
# no other test of this process reads them as anything.
user_ids = st.integers(min_value=8_000_000_000_000_000_000, max_value=9_200_000_000_000_000_000)
_names = itertools.count()


def _guard() -> twpolicy.Guard:
    """A guard with a quota ledger, and the consent of the DM sender the tests make up."""
    ledger = twpolicy.open_ledger("memory://")
    notice = twpolicy.Notice.from_text("dms-v1", "We share your DMs' IDs.")
    ledger.grant(SENDER, ["protected.share"], notice=notice, method="ui_explicit", evidence="t")
    return twpolicy.Guard(quotas=twpolicy.open_quotas("memory://"), ledger=ledger)


def _counted(guard: twpolicy.Guard, recipient: str = "acme") -> int:
    assert guard.quotas is not None
    return MONTH - guard.quotas.remaining(recipient)


@pytest.fixture(name="fake", scope="module")
def _fake() -> FakeXAPI:
    return FakeXAPI(rate_limits=False)


def _read_tweets(fake: FakeXAPI, n: int) -> list[str]:
    """``n`` new Tweets, read through a guarded client: their IDs are known Tweet IDs."""
    ids = [fake.add_tweet(f"tweet {next(_names)}") for _ in range(n)]
    fake.client(guard=_guard()).get_tweets(ids=ids)
    return ids


def _read_users(fake: FakeXAPI, numbers: list[int]) -> list[str]:
    ids = [fake.add_user(n, username=f"u{next(_names)}") for n in numbers]
    fake.client(guard=_guard()).get_users(ids=ids, user_fields=["protected"])
    return ids


# The wrappers an application can put Tweet IDs in to have them read as user or DM IDs.
def _v2_users(ids: list[str]) -> Any:
    return {
        "data": [
            {"id": i, "username": f"x{n}", "name": "X", "protected": False}
            for n, i in enumerate(ids)
        ]
    }


def _v1_users(ids: list[str]) -> Any:
    return [{"id_str": i, "screen_name": f"x{n}", "protected": False} for n, i in enumerate(ids)]


def _authors(ids: list[str]) -> Any:
    tweets = [{"id": "1", "text": "t", "author_id": i} for i in ids]
    return {"data": tweets}


def _mentions(ids: list[str]) -> Any:
    mentions = [{"id_str": i, "screen_name": "m", "indices": [0, 1]} for i in ids]
    return {"id_str": "1", "text": "t", "entities": {"user_mentions": mentions}}


def _v2_dms(ids: list[str]) -> Any:
    event = {"event_type": "MessageCreate", "text": "t", "sender_id": SENDER}
    return {"data": [{"id": i, **event} for i in ids]}


def _v1_dms(ids: list[str]) -> Any:
    return [{"id_str": i, "text": "t", "sender_id_str": SENDER} for i in ids]


def _nested(ids: list[str]) -> Any:
    return {"data": [{"id": "1", "text": "t", "metadata": {"carrier": _v2_users(ids)}}]}


def _mixed(ids: list[str]) -> Any:
    half = len(ids) // 2
    return [_v2_users(ids[:half]), _v1_users(ids[half:])]


WRAPPERS = {
    "users": [_v2_users, _v1_users, _authors, _mentions, _nested, _mixed],
    "dms": [_v2_dms, _v1_dms],
}


class TestTweetIdsInAnyWrapperCount:
    @given(
        n=st.integers(min_value=1, max_value=6),
        data=st.data(),
        how=st.sampled_from(["reduced", "strict_bare", "mapping"]),
    )
    @settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_wrapped_tweet_ids_count_against_the_cap(self, fake, n, data, how):
        """Tweet IDs read through a guarded client, exported as users' or DMs' IDs (wrapped
        in objects, or bare and declared so), count as Tweet IDs."""
        ids = _read_tweets(fake, n)
        kind = data.draw(st.sampled_from(["users", "dms"]))
        wrap = data.draw(st.sampled_from(WRAPPERS[kind]))
        guard = _guard()
        if how == "reduced":
            out = twpolicy.ids_only(kind=kind, recipient="acme", guard=guard)(lambda: wrap(ids))()
        elif how == "strict_bare":
            out = twpolicy.ids_only(kind=kind, strict=True, recipient="acme", guard=guard)(
                lambda: list(ids)
            )()
        else:
            field = {"users": "user_ids", "dms": "dm_ids"}[kind]
            out = twpolicy.ids_only(kind=kind, recipient="acme", guard=guard)(
                lambda: {field: ids}
            )()[field]
        assert set(ids) <= set(out)
        assert _counted(guard) >= len(ids)

    @given(n=st.integers(min_value=1, max_value=5), data=st.data())
    @settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_manual_export_counts_tweet_ids_wrapped_as_users(self, fake, n, data):
        """A manual export of made-up users (and mentions, authors) around Tweet IDs counts
        each of those IDs against the Tweet-ID cap."""
        ids = _read_tweets(fake, n)
        wrap = data.draw(st.sampled_from([_v1_users, _mentions, _mixed]))
        payload = wrap(ids)
        if wrap is _mentions:
            payload = {**payload, "user": {"id_str": "7", "screen_name": "a", "protected": False}}
        guard = _guard()
        export = twpolicy.manual_export(payload, recipient="acme", requested_by="ana", guard=guard)
        export.commit()
        assert _counted(guard) >= len(ids)

    def test_tweet_read_wins_over_user_read(self):
        """An ID read both as a Tweet's and as a user's counts as a Tweet ID."""
        evidence = IdEvidence()
        evidence.learn(users=["42", "43"], tweets=["43"])
        assert evidence.proven("42", "users")
        assert not evidence.proven("43", "users")
        assert not evidence.proven("42", "dms")
        assert not evidence.proven("42", "tweets")
        assert 1 == evidence.unproven(["42", "43"], "users")
        assert 2 == evidence.unproven(["42", "43"], "tweets")

    @given(number=user_ids)
    def test_representations_of_one_id_are_one_id(self, number):
        """``"123"`` and ``123`` are one ID; ``"0123"``, signs and text are no ID."""
        evidence = IdEvidence()
        evidence.learn(users=[number])
        assert evidence.proven(str(number), "users")
        assert evidence.proven(number, "users")
        for other in (f"0{number}", f"+{number}", f" {number}", float(number), str(number) + "x"):
            assert not evidence.proven(other, "users")
        evidence.learn(tweets=[str(number)])
        assert not evidence.proven(number, "users")
        assert evidence.read_as_tweet(number)


class TestUsersReadAsUsersLeaveUncounted:
    @given(numbers=st.lists(user_ids, min_size=1, max_size=5, unique=True))
    @settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_user_ids_read_as_users_are_not_counted(self, fake, numbers):
        """Users read through a guarded client: their IDs leave uncounted, reduced from the
        user objects, from Tweets' authors, or exported by hand."""
        ids = _read_users(fake, numbers)
        guard = _guard()
        out = twpolicy.ids_only(kind="users", recipient="acme", guard=guard)(
            lambda: _v2_users(ids)
        )()
        assert ids == out
        assert 0 == _counted(guard)
        twpolicy.ids_only(kind="users", recipient="acme", guard=guard)(lambda: _authors(ids))()
        assert 0 == _counted(guard)
        users = [{**user, "protected": False} for user in _v1_users(ids)]
        export = twpolicy.manual_export(users, recipient="acme", requested_by="a", guard=guard)
        export.commit()
        assert 0 == _counted(guard)
        # Bare IDs say nothing: they count as Tweet IDs whatever they were read as.
        twpolicy.ids_only(kind="users", recipient="acme", guard=guard)(lambda: list(ids))()
        assert len(ids) == _counted(guard)

    @pytest.mark.parametrize("size", [1, 3])
    def test_unread_user_ids_count_until_read(self, fake, size):
        """The fail-closed cost: user IDs not read through a guarded client count as Tweet
        IDs; reading them through ``get_users`` is the remedy."""
        base = 8_300_000_000_000_000_000 + next(_names) * 16  # read by no other test
        numbers = [base + n for n in range(size)]
        ids = [str(n) for n in numbers]
        guard = _guard()
        twpolicy.ids_only(kind="users", recipient="acme", guard=guard)(lambda: _v2_users(ids))()
        assert len(ids) == _counted(guard)
        _read_users(fake, numbers)
        twpolicy.ids_only(kind="users", recipient="acme", guard=guard)(lambda: _v2_users(ids))()
        assert len(ids) == _counted(guard)

    def test_every_client_records_what_it_read(self):
        """The v2 client (JSON and requests responses), the v1.1 API and the async client
        record users as users and Tweets as Tweets."""
        fake = FakeXAPI(rate_limits=False)
        base = 8_100_000_000_000_000_000 + next(_names) * 16
        users = [fake.add_user(base + n, username=f"cl{base}{n}") for n in range(4)]
        tweets = [fake.add_tweet("t", author_id=uid) for uid in users]
        fake.client(guard=_guard()).get_user(id=users[0])
        fake.client(guard=_guard(), return_type=requests.Response).get_users(ids=[users[1]])
        fake.api(guard=_guard()).lookup_users(user_id=[users[2]])

        async def read_async() -> None:
            await fake.async_client(guard=_guard()).get_user(id=users[3])

        asyncio.run(read_async())
        fake.client(guard=_guard()).get_tweets(ids=tweets)
        evidence = process_evidence()
        assert all(evidence.proven(uid, "users") for uid in users)
        assert all(evidence.read_as_tweet(tid) for tid in tweets)


class TestTheHooks:
    def test_bodies_that_are_not_json_teach_nothing(self):
        evidence = IdEvidence()
        read_body(b"not json", evidence)
        read_body(12, evidence)
        read_body('{"data": {"id": "5", "username": "a"}}', evidence)  # text, v2: learned
        read_document({"x": 1}, evidence)
        assert evidence.proven("5", "users")
        # A place a Tweet refers to is no Tweet, user or DM; bytes in a bytearray are read.
        read_body(
            bytearray(b'[{"id": "6", "text": "t", "geo": {"place_id": "01a9a39529b27f36"}}]'),
            evidence,
        )
        assert evidence.read_as_tweet("6")
        assert not evidence.read_as_tweet("01a9a39529b27f36")
        cycle: dict[str, Any] = {}
        cycle["data"] = cycle
        read_document(cycle, evidence)  # cannot be walked: nothing learned
        assert 1 == len(evidence.users)
        assert 1 == len(evidence.tweets)

    def test_v1_results_and_responses(self):
        evidence = IdEvidence()

        class Received:
            def __init__(self) -> None:
                self._content = b'[{"id_str": "11", "screen_name": "a"}]'

        read_response(Received(), evidence)
        read_response(object(), evidence)  # nothing received: nothing learned
        read_parsed([{"id_str": "12", "screen_name": "b"}], None, evidence)
        read_parsed('[{"id_str": "13", "screen_name": "c"}]', None, evidence)
        read_parsed(None, Received(), evidence)
        read_body(b'{"id_str": "14", "text": "t", "user": {"id_str": "15"}}', evidence)
        assert all(evidence.proven(i, "users") for i in ("11", "12", "13", "15"))
        assert evidence.read_as_tweet("14")
        assert "IdEvidence(0 Tweet IDs, 0 user IDs" not in repr(evidence)
        evidence.learn(users=range(1, 5001))
        assert evidence.nbytes >= 8 * 4096  # merged into the sorted array: 8 bytes an ID

    def test_dm_events_are_dm_evidence(self):
        evidence = IdEvidence()
        body = b'{"data": [{"id": "21", "event_type": "MessageCreate", "text": "hi", '
        body += b'"sender_id": "22"}]}'
        read_body(body, evidence)
        assert evidence.proven("21", "dms")
        assert evidence.proven("22", "users")
        assert not evidence.proven("21", "users")


class TestExactIds:
    @given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=300), st.data())
    def test_membership_is_exact(self, numbers, data):
        """Whatever was added is found, nothing else is: no false positives either way."""
        exact = ExactIds(batch=7)  # merge often
        for at in range(0, len(numbers), 13):
            exact.update(numbers[at : at + 13])
        assert len(set(numbers)) == len(exact)
        assert all(n in exact for n in numbers)
        other = data.draw(st.integers(min_value=0, max_value=2**64 - 1))
        assert (other in exact) == (other in set(numbers))
        assert "1" not in exact

    def test_concurrent_updates_lose_nothing(self):
        exact = ExactIds()
        chunks = [range(start, start + 5000) for start in range(0, 40_000, 5000)]
        threads = [threading.Thread(target=exact.update, args=(chunk,)) for chunk in chunks]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert 40_000 == len(exact)
        assert all(n in exact for n in range(0, 40_000, 997))
        assert exact.nbytes >= 8 * 32_000


def test_id_keys_stop_at_64_bits():
    assert 2**64 - 1 == id_key(str(2**64 - 1))
    assert id_key(str(2**64)) is None
    assert id_key(2**64) is None
    assert id_key(-1) is None
    assert id_key(True) is None


def _manual_counted(payload: Any) -> int:
    guard = _guard()
    export = twpolicy.manual_export(payload, recipient="acme", requested_by="ana", guard=guard)
    export.commit()
    return _counted(guard)


USER = {"id_str": "7", "screen_name": "a", "name": "A", "protected": False}


def _tweet(**extra: Any) -> dict[str, Any]:
    return {"id_str": "30", "text": "hi", "user": USER, **extra}


class TestIdsInAnyFieldOrFormCount:
    """A counted object carries IDs in other fields, in its text, as integers, run together:
    each counts as a Tweet ID (unless a guarded client read it as a user's only)."""

    @given(
        ids=st.lists(st.integers(10**17, 2**64 - 1), min_size=1, max_size=30, unique=True),
        how=st.sampled_from(["field", "known_field", "text", "ints", "run", "nested", "meta"]),
    )
    @settings(max_examples=60)
    def test_ids_anywhere_in_an_export_count(self, ids, how):
        texts = [str(i) for i in ids]
        if how == "field":
            payload: Any = _tweet(tweet_ids=texts)
        elif how == "known_field":
            payload = _tweet(entities={"hashtags": [{"text": t} for t in texts]})
        elif how == "text":
            payload = _tweet(text="see " + " ".join(texts))
        elif how == "ints":
            payload = _tweet(entities={"indices": ids})
        elif how == "run":
            payload = _tweet(text="".join(texts))
        elif how == "nested":
            payload = {"data": [{**_tweet(), "metadata": {"more": {"deeper": texts}}}]}
        else:
            payload = [_tweet(), *({"meta": {"newest_id": t}} for t in texts)]
        baseline = _manual_counted(_tweet())
        if how == "run":  # run together: each 20 digits count as one
            assert _manual_counted(payload) >= baseline + len("".join(texts)) // 20
        else:
            assert _manual_counted(payload) >= baseline + len(ids)

    def test_numbers_that_name_no_id_do_not_count(self):
        """A time in an object's own time field is not an ID, nor a short number that is all
        of its text; deeper, under keys the application chooses, both count."""
        plain = _manual_counted(_tweet())
        assert plain == _manual_counted(_tweet(text="2024", timestamp_ms="1591110000000"))
        nested = [
            {"timestamp_ms": str(1591110000000 + n), "text": str(1000 + n)} for n in range(50)
        ]
        assert plain + 100 <= _manual_counted(_tweet(entities={"hashtags": nested}))
        user = {**USER, "profile_text_color": "333333", "profile_link_color": "333333"}
        assert plain + 1 == _manual_counted(_tweet(user=user))  # once per distinct value

    def test_text_past_what_an_object_holds_is_refused(self):
        """A Tweet holds at most 40,000 characters of its own, a user 8,192."""
        ok = _tweet(text="word " * 7_999)
        assert _manual_counted(ok) >= 2
        for payload in (
            _tweet(text="word " * 8_001),
            [{**USER, "description": "word " * 1_700}],
        ):
            with pytest.raises(twpolicy.RedistributionError) as refused:
                _manual_counted(payload)
            assert "extra_text" == refused.value.decision.reason
        assert 1 == _manual_counted([{**USER, "description": "word " * 1_600}])


class TestReadingTheCounts:
    def test_derived_counts_read_every_shape_of_reduced_ids(self):
        """`IdCount.derived` reads the IDs of a reduced export however they are held."""
        held = {"user_ids": [["1", "2"], ("3",)], "more": {"4"}, "one": "5"}
        counted = IdCount.derived(held, "users", 5)
        assert 5 == counted.tweets  # none proven users'
        assert 5 == counted.users

    def test_an_object_held_twice_is_read_once(self):
        """The same list twice in one object: its IDs once, its text twice."""
        shared = ["1445880548472328192"]
        size, found = own_content({"a": shared, "b": shared, "c": {"d": shared}})
        assert {"1445880548472328192"} == found
        assert 19 == size


class TestRepresentations:
    @given(n=st.integers(min_value=1, max_value=3), data=st.data())
    @settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def test_another_spelling_of_a_tweet_id_is_refused_or_counted(self, fake, n, data):
        """A Tweet ID read, then exported as a user's in another spelling (an integer, a
        leading zero, padding, a v1.1 twin pair): refused, or counted as a Tweet ID."""
        ids = _read_tweets(fake, n)
        spell = data.draw(
            st.sampled_from(
                [
                    lambda i: {"id": int(i), "username": "x"},
                    lambda i: {"id": "0" + i, "username": "x"},
                    lambda i: {"id": " " + i, "username": "x"},
                    lambda i: {"id": int(i), "id_str": i, "screen_name": "x"},
                    lambda i: {"id_str": i, "screen_name": "x", "id": int(i) + 1},
                ]
            )
        )
        guard = _guard()
        leave = twpolicy.ids_only(kind="users", recipient="acme", guard=guard)
        try:
            leave(lambda: {"data": [spell(i) for i in ids]})()
        except (twpolicy.PayloadError, twpolicy.PolicyViolation):
            assert 0 == _counted(guard)  # refused: nothing left
        else:
            assert _counted(guard) >= len(ids)

import asyncio
import contextlib
import inspect
from datetime import datetime, timedelta, timezone

import pytest
import tweepy
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from corpus import load
from twpolicy import Action, Effect, Guard
from twpolicy._model import ReserveQuota
from twpolicy._payloads._ids import ids_only_check, is_id
from twpolicy.exceptions import PayloadError
from twpolicy.testing import DecisionRecorder

T0 = datetime(2024, 3, 1, 12, tzinfo=timezone.utc)
APPROVAL = {"approved_by": "dpo@example.org", "reference": "IRB-2024-117"}


class FakeClock:
    """A clock that only moves when told."""

    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture(name="recorder")
def _recorder():
    """A fresh decision recorder."""
    return DecisionRecorder()


@pytest.fixture(name="clock")
def _clock():
    """A fake clock at T0."""
    return FakeClock()


@pytest.fixture(name="guard")
def _guard(recorder, clock):
    """An enforcing guard with in-memory consent and quota ledgers on the fake clock."""
    return Guard(
        ledger=twpolicy.open_ledger("memory://"),
        quotas=twpolicy.open_quotas("memory://", clock=clock),
        sinks=[recorder],
        clock=clock,
    )


def permitted(guard, action):
    """Let ``action`` happen under the guard's permit; return its decision."""
    with guard.permit(action) as permit:
        pass
    return permit.decision


def export(ids=("20", "21"), content="tweet_ids", recipient="lab", **changes):
    """An export of ``ids`` to ``recipient``."""
    fields = {
        "kind": "export",
        "operation": "test export",
        "recipient": recipient,
        "count": len(ids) if isinstance(ids, (list, tuple)) else 1,
        "facts": {"content": content},
        "payload": list(ids) if isinstance(ids, tuple) else ids,
    }
    fields.update(changes)
    return Action(**fields)


class TestIsId:
    @pytest.mark.parametrize("value", ["0", "20", "1234567890123456789", "18446744073709551615"])
    def test_ids(self, value):
        """Decimal strings of up to 20 digits are IDs."""
        assert is_id(value)

    @pytest.mark.parametrize(
        "value", [20, 2.0, "", "020", "1e5", "-1", " 1", "١٢", "123456789012345678901", None]
    )
    def test_not_ids(self, value):
        """Numbers, padded, signed, non-ASCII and over-long strings are not."""
        assert not is_id(value)


class TestIdsOnlyCheck:
    @pytest.mark.parametrize(
        ("value", "count"),
        [
            ("20", 1),
            (["20", "21"], 2),
            ({"ids": ["1", "2"], "author_id": "3"}, 3),
            ([{"id": "1", "author_id": "2"}], 2),
            ({"tweet_ids": {"1"}}, 1),
            ([], 0),
        ],
    )
    def test_id_only_values(self, value, count):
        """Lists, sets and mappings of ID keys pass, and every ID is counted."""
        assert (None, count) == ids_only_check(value)

    @pytest.mark.parametrize(
        ("value", "pointer"),
        [
            ({"id": "1", "text": "hello"}, "/text"),
            ([{"id": "1"}, {"id": "2", "user": {"id": "3"}}], "/1/user"),
            ({"data": [{"id": "1"}]}, "/data"),
            (["1", 2], "/1"),
            ({"a/b": "1"}, "/a~1b"),
            ({"ids": ["1"], "secret_id": "2"}, "/secret_id"),  # not an ID key of the table
            (iter(["1"]), ""),
            (b"1", ""),
        ],
    )
    def test_first_offence_is_named(self, value, pointer):
        """The JSON pointer of the first non-ID is reported."""
        assert pointer == ids_only_check(value)[0]


class TestIdsOnlyRule:
    def test_ids_pass(self, guard):
        """An export of decimal-string IDs is allowed and logged."""
        decision = permitted(guard, export())
        assert decision.allowed
        assert "redistribution.ids_only" in {o.rule for o in decision.outcomes}

    def test_text_is_refused_naming_the_pointer(self, guard):
        """More than IDs is refused under I.F.2, naming where, never quoting the content."""
        payload = [{"id": "1", "text": "a secret tweet"}]
        with pytest.raises(twpolicy.RedistributionError) as info:
            guard.enforce(export(payload, count=1))
        decision = info.value.decision
        assert ("redistribution.ids_only", "I.F.2", "not_ids") == (
            decision.rule,
            decision.clause,
            decision.reason,
        )
        assert "/0/text" in decision.message
        assert "secret" not in str(decision.to_record())

    def test_text_in_an_id_like_key_is_refused(self, guard):
        """A key is not an ID key for ending in ``_id``: text hidden in one is refused."""
        decision = guard.check(export({"tweet_ids": ["1"], "call me at 555_id": "2"}, count=2))
        assert "not_ids" == decision.reason
        assert "'/call me at 555_id'" in decision.message
        assert "tweet_ids" in decision.remediation

    def test_hydrated_objects_are_not_an_automated_export(self, guard):
        """Objects declared as such are refused unless exported by hand."""
        decision = guard.check(export([{"id": "1"}], content="objects"))
        assert "hydrated_objects" == decision.reason
        assert "manual_export" in decision.remediation

    def test_undeclared_content_is_refused(self, guard):
        """An export that does not say what it carries is refused (fail closed)."""
        decision = guard.check(export(facts={}))
        assert "export_content_unknown" == decision.reason

    def test_exports_are_never_reused(self, guard):
        """The same export action let out twice is counted twice: its outcome is not static."""
        action = export()
        permitted(guard, action)
        permitted(guard, action)
        assert 1_500_000 - 4 == guard.quotas.remaining("lab")
        read = Action(kind="api_call", operation="GET /2/tweets", category="public_read")
        assert all(rule.static_for(read) for rule in guard.rules)
        redistribution = [r for r in guard.rules if r.id.startswith("redistribution.")]
        assert not any(rule.static_for(action) for rule in redistribution)

    def test_other_actions_are_ignored(self, guard):
        """Only exports are the redistribution rules' business."""
        decision = guard.check(Action(kind="store", operation="save"))
        assert "no_rule_applies" == decision.reason


class TestQuotaRule:
    def test_counts_and_records_the_recipient(self, guard):
        """An allowed export is counted; the decision records recipient, standing and usage."""
        decision = permitted(guard, export())
        quota = next(o for o in decision.outcomes if o.rule == "redistribution.quota")
        assert "within_quota" == quota.reason
        assert "standard" == quota.facts["standing"]
        assert 0 == quota.facts["tweet_ids_used"]  # usage as read before this export
        assert 1_499_998 == guard.quotas.remaining("lab")
        assert [ReserveQuota("lab", tweet_ids=2)] == list(decision.obligations)

    def test_check_counts_nothing(self, guard):
        """Deciding is pure: check() says what would be reserved and reserves nothing."""
        decision = guard.check(export())
        assert decision.allowed
        assert [ReserveQuota("lab", tweet_ids=2)] == list(decision.obligations)
        assert 1_500_000 == guard.quotas.remaining("lab")

    def test_enforce_refuses_to_skip_the_count(self, guard):
        """enforce() cannot carry obligations out, so it refuses an export instead of leaking it."""
        with pytest.raises(twpolicy.ConfigurationError, match="permit"):
            guard.enforce(export())
        assert 1_500_000 == guard.quotas.remaining("lab")

    def test_over_the_cap_is_refused_and_not_counted(self, guard):
        """Over 1,500,000 Tweet IDs is QuotaExceeded under I.F.2.b.i, saying when it frees up."""
        guard.quotas.reserve("lab", tweet_ids=1_500_000 - 1)
        with pytest.raises(twpolicy.QuotaExceeded) as info:
            permitted(guard, export())
        decision = info.value.decision
        assert ("redistribution.quota", "I.F.2.b.i", "quota_exceeded") == (
            decision.rule,
            decision.clause,
            decision.reason,
        )
        assert "1 remaining" in decision.message
        assert "academic_noncommercial" in decision.remediation
        assert 1 == guard.quotas.remaining("lab")
        assert isinstance(info.value, twpolicy.RedistributionError)

    def test_academic_exemption_is_explicit_and_logged(self, guard, recorder):
        """An exempt recipient's export is allowed with the exemption, approver and reference."""
        guard.quotas.register("uni", standing="academic_noncommercial", **APPROVAL)
        guard.quotas.reserve("uni", tweet_ids=1_500_000)
        decision = permitted(guard, export(recipient="uni"))
        assert "exempt_academic_noncommercial" == decision.reason
        record = recorder.decisions[-1].to_record()
        facts = next(r["facts"] for r in record["rules"] if r["rule"] == "redistribution.quota")
        assert APPROVAL == {k: facts[k] for k in APPROVAL}
        assert facts["tweet_ids_limit"] is None

    def test_daily_cap_cites_its_clause(self, guard):
        """Objects over 50,000 a day are refused under I.F.2.a."""
        guard.quotas.reserve("alice", hydrated_objects=50_000)
        user = {"id": "5", "username": "e", "name": "E", "protected": False}
        decision = guard.check(export([user], content="objects", recipient="alice"))
        quota = next(o for o in decision.outcomes if o.rule == "redistribution.quota")
        assert ("I.F.2.a", "quota_exceeded") == (quota.clause, quota.reason)

    @pytest.mark.parametrize("mode", ["warn", "monitor"])
    def test_non_enforcing_modes_still_count(self, clock, mode):
        """In warn and monitor modes an export over the cap goes out, so it is counted."""
        guard = Guard(
            quotas=twpolicy.open_quotas("memory://", clock=clock),
            rule_modes={"redistribution.quota": mode},
            clock=clock,
        )
        guard.quotas.reserve("lab", tweet_ids=1_500_000)
        with pytest.warns(twpolicy.TwPolicyWarning) if mode == "warn" else contextlib.nullcontext():
            decision = permitted(guard, export())
        assert decision.allowed
        assert Effect.DENY == decision.effect
        assert 1_500_002 == guard.quotas.usage("lab")[0].used

    def test_no_ledger_fails_closed(self):
        """A named recipient with no quota ledger to count against is refused."""
        decision = Guard().check(export())
        assert "no_quota_ledger" == decision.reason

    def test_no_recipient_is_refused(self, guard):
        """An export to nobody in particular cannot be counted, so it is refused."""
        with pytest.raises(twpolicy.RedistributionError, match="PUBLIC") as info:
            permitted(guard, export(recipient=None))
        assert "no_recipient" == info.value.decision.reason

    def test_public_is_one_counted_entity(self, guard):
        """twpolicy.PUBLIC is counted like any recipient: anonymous exports share its caps."""
        permitted(guard, export(recipient=twpolicy.PUBLIC))
        permitted(guard, export(recipient=twpolicy.PUBLIC))
        assert 1_500_000 - 4 == guard.quotas.remaining(twpolicy.PUBLIC)

    def test_store_failure_fails_closed(self, guard, monkeypatch):
        """A quota store that fails turns into a deny, never an allow."""

        def broken(*args, **kwargs):
            raise twpolicy.StoreUnavailable("quota store is down")

        monkeypatch.setattr(guard.quotas, "usage", broken)
        decision = guard.check(export())
        assert ("rule_error", False) == (decision.reason, decision.allowed)
        assert "quota store is down" in decision.message

    def test_reservation_failure_fails_closed(self, guard, monkeypatch):
        """A quota store that cannot reserve refuses the export; nothing leaves."""

        def broken(*args, **kwargs):
            raise twpolicy.StoreUnavailable("quota store is down")

        monkeypatch.setattr(guard.quotas, "reserve", broken)
        with pytest.raises(twpolicy.QuotaExceeded) as info:
            permitted(guard, export())
        assert "obligation_failed" == info.value.decision.reason

    def test_a_failed_send_gives_the_count_back(self, guard):
        """An exception inside the permit releases the reservation; a refusal reserves nothing."""
        with pytest.raises(OSError, match="down"), guard.permit(export()):
            raise OSError("the recipient's server is down")
        assert 1_500_000 == guard.quotas.remaining("lab")
        guard.quotas.reserve("lab", tweet_ids=1_500_000 - 1)
        with pytest.raises(twpolicy.QuotaExceeded):
            permitted(guard, export())
        assert 1 == guard.quotas.remaining("lab")

    def test_released_only_before_it_is_committed(self, guard):
        """After the permit commits, the count can no longer be given back."""
        with guard.permit(export()) as permit:
            pass
        assert not permit.release()
        assert 1_499_998 == guard.quotas.remaining("lab")

    def test_a_lost_race_for_the_quota_is_refused(self, guard, monkeypatch):
        """Another process fills the quota between the decision and the reservation."""
        reserve = guard.quotas.reserve

        def raced(recipient, **kwargs):
            reserve(recipient, tweet_ids=1_500_000 - 1)  # the other process wins
            return reserve(recipient, **kwargs)

        monkeypatch.setattr(guard.quotas, "reserve", raced)
        with pytest.raises(twpolicy.QuotaExceeded) as info:
            permitted(guard, export())
        assert "quota_exceeded" == info.value.decision.reason
        assert 1 == guard.quotas.remaining("lab")

    def test_window_moves_with_the_guard_clock(self, guard, clock):
        """The rule reads time from the guard's clock."""
        guard.quotas.reserve("lab", tweet_ids=1_500_000)
        reset = guard.quotas.resets_at("lab")
        clock.now = reset - timedelta(seconds=1)
        assert not guard.check(export()).allowed
        clock.now = reset
        assert permitted(guard, export()).allowed


@st.composite
def _ids(draw):
    return str(draw(st.integers(1, 2**63 - 1)))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | _ids(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


class TestProperties:
    @given(value=_json)
    def test_allowed_exports_hold_only_ids(self, value):
        """Whatever the payload, an export the rule allows holds nothing but IDs."""
        guard = Guard(quotas=twpolicy.open_quotas("memory://"))
        decision = guard.check(export(value, count=0, recipient=None))
        if decision.allowed:
            assert ids_only_check(value)[0] is None
            leaves = _leaves(value)
            assert all(is_id(leaf) for leaf in leaves)


def _leaves(value):
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


# ---------------------------------------------------------------------------------------
# Dehydration
# ---------------------------------------------------------------------------------------

# An independent reference walk: what a researcher would list by hand, family by family,
# written without the walker, to check that dehydrate finds every ID of each kind.
NOTICES = {"delete", "scrub_geo", "status_withheld", "user_withheld", "withheld", "user_delete"}
NOTICES |= {f"user_{e}" for e in ("undelete", "protect", "unprotect", "suspend", "unsuspend")}
NOTICES |= {"drop", "undrop", "user_profile_modification"}
DM_KEYS = {"event_type", "dm_conversation_id", "sender", "recipient", "recipient_id"}
DM_KEYS |= {"sender_id", "message_create", "dm_event_id", "sender_id_str", "recipient_id_str"}
DM_KEYS |= {"sender_screen_name", "recipient_screen_name"}
LIST_KEYS = {"slug", "member_count", "mode"}


def _dicts(value):
    """Every object in ``value``, except those inside compliance notices."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict) and not (len(item) <= 2 and NOTICES & set(item)):
            yield item
            stack.extend(item.values())


def _id(obj, *keys):
    """The first ID among ``keys``: strings as given (activity IDs after the colon), ints."""
    for key in keys:
        value = obj.get(key) if isinstance(obj, dict) else None
        if isinstance(value, str) and value:
            return value.rpartition(":")[2]
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _is_dm(v):
    return bool(DM_KEYS & set(v)) and bool(
        {"text", "message_create", "event_type", "dm_event_id"} & set(v)
    )


def _is_tweet(v):
    if _is_dm(v) or not ({"id", "id_str"} & set(v)):
        return False
    if {"text", "full_text", "extended_tweet"} & set(v):
        return True
    return bool({"user", "place"} & set(v)) and not LIST_KEYS & set(v)


def _is_user(v):
    return not _is_tweet(v) and (
        "screen_name" in v or "username" in v or v.get("objectType") == "person"
    )


def _tweet_ids(v):
    if _is_tweet(v) or v.get("objectType") == "activity" or v.get("verb") in {"post", "share"}:
        yield _id(v, "id_str", "id")
    if _is_tweet(v) or _is_dm(v):
        yield _id(v, "in_reply_to_status_id_str", "in_reply_to_status_id")
        yield _id(v, "quoted_status_id_str", "quoted_status_id")
        yield _id(v, "conversation_id")
        yield from (_id(r, "id") for r in v.get("referenced_tweets") or [])
        yield from v.get("edit_history_tweet_ids") or []
        yield _id(v.get("current_user_retweet"), "id_str", "id")
    if _is_user(v):
        yield _id(v, "pinned_tweet_id")


def _user_ids(v):
    if _is_user(v):
        yield _id(v, "id_str", "id")
    if _is_tweet(v):
        yield _id(v, "author_id")
        yield _id(v, "in_reply_to_user_id_str", "in_reply_to_user_id")
        yield _id(v, "from_user_id_str", "from_user_id")  # the legacy Search API
        yield _id(v, "to_user_id_str", "to_user_id")
    if _is_dm(v):
        yield _id(v, "sender_id_str", "sender_id")
        yield _id(v, "recipient_id_str", "recipient_id")
        yield from v.get("participant_ids") or []
        create = v.get("message_create") or {}
        yield _id(create, "sender_id")
        yield _id(create.get("target"), "recipient_id")
    if _is_tweet(v) or _is_dm(v) or LIST_KEYS & set(v):
        for key in ("user", "sender", "recipient", "author", "in_reply_to_user"):
            yield _id(v.get(key), "id_str", "id")
    if LIST_KEYS & set(v):
        yield _id(v, "owner_id")
    if "state" in v and ("host_ids" in v or "creator_id" in v):  # a Space
        yield _id(v, "creator_id")
        for key in ("host_ids", "speaker_ids", "invited_user_ids"):
            yield from v.get(key) or []


def _dm_ids(v):
    if _is_dm(v):
        yield _id(v, "id_str", "id", "dm_event_id")


def reference_ids(value, kind):
    """Every ``kind`` ID in ``value``, by simple rules of our own."""
    rule = {"tweets": _tweet_ids, "users": _user_ids, "dms": _dm_ids}[kind]
    return {str(i) for obj in _dicts(value) for i in rule(obj) if i}


V1_RETWEET = {
    "id": 30,
    "id_str": "30",
    "text": "RT ...",
    "user": {"id": 1, "id_str": "1", "screen_name": "a", "protected": False},
    "retweeted_status": {
        "id": 20,
        "id_str": "20",
        "text": "...",
        "user": {"id": 2, "id_str": "2", "screen_name": "b", "protected": False},
        "quoted_status_id_str": "10",
        "entities": {
            "user_mentions": [{"id": 3, "id_str": "3", "screen_name": "c", "indices": [0, 2]}]
        },
    },
}
V2_PAGE = {
    "data": [
        {
            "id": "21",
            "text": "...",
            "author_id": "5",
            "conversation_id": "21",
            "referenced_tweets": [{"type": "quoted", "id": "20"}],
            "edit_history_tweet_ids": ["21"],
        },
        {"id": "22", "text": "...", "author_id": "6", "in_reply_to_user_id": "5"},
    ],
    "includes": {
        "tweets": [{"id": "20", "text": "...", "author_id": "7"}],
        "users": [
            {"id": "5", "username": "e", "name": "E", "protected": False},
            {"id": "6", "username": "f", "name": "F", "protected": False, "pinned_tweet_id": "19"},
            {"id": "7", "username": "g", "name": "G", "protected": False},
        ],
    },
}
DM_EVENTS = {
    "data": [
        {
            "id": "900",
            "event_type": "MessageCreate",
            "text": "hi",
            "sender_id": "5",
            "dm_conversation_id": "5-6",
            "participant_ids": ["5", "6"],
        },
        {
            "id": "901",
            "event_type": "MessageCreate",
            "text": "ho",
            "sender_id": "6",
            "dm_conversation_id": "5-6",
        },
    ]
}


class TestDehydrate:
    @pytest.mark.corpus
    @pytest.mark.parametrize("kind", ["tweets", "users", "dms"])
    def test_corpus_matches_the_reference_walk(self, corpus, kind):
        """Over every recorded payload, dehydrate finds exactly the reference walk's IDs."""
        documents = [d for d in load(corpus) if d.error is None]
        mismatches = []
        found = 0
        for document in documents:
            try:
                got = twpolicy.dehydrate(document.value, kind=kind)
            except PayloadError:
                continue  # placeholders such as "<string>" where an ID belongs
            assert len(set(got)) == len(got)
            found += len(got)
            if set(got) != reference_ids(document.value, kind):
                mismatches.append(document.origin)
        assert [] == mismatches
        assert found > {"tweets": 10_000, "users": 10_000, "dms": 50}[kind]

    def test_unique_in_first_seen_order(self):
        """Each ID appears once, where it was first seen: own ID, references, then children."""
        assert ["21", "20", "22", "19"] == twpolicy.dehydrate(V2_PAGE)
        assert ["5", "6", "7"] == twpolicy.dehydrate(V2_PAGE, kind="users")

    def test_v1_retweets_quotes_and_mentions(self):
        """Retweeted and quoted Tweets, authors and mentioned users are all found."""
        assert ["30", "20", "10"] == twpolicy.dehydrate(V1_RETWEET)
        assert ["1", "2", "3"] == twpolicy.dehydrate(V1_RETWEET, kind="users")

    def test_dm_ids(self):
        """DM events give DM IDs; their senders and participants are users."""
        assert ["900", "901"] == twpolicy.dehydrate(DM_EVENTS, kind="dms")
        assert ["5", "6"] == twpolicy.dehydrate(DM_EVENTS, kind="users")
        assert [] == twpolicy.dehydrate(DM_EVENTS)

    def test_id_str_is_preferred(self):
        """When the number and the string disagree (a rounded number), the string wins."""
        tweet = {"id": 1050118621198921728, "id_str": "1050118621198921729", "text": "x"}
        assert ["1050118621198921729"] == twpolicy.dehydrate(tweet)

    @pytest.mark.parametrize("value", [1.0501186211989217e18, 2**53, 2**63 - 1])
    def test_lossy_ids_are_refused_naming_the_record(self, value):
        """A float or an integer of 2**53 or more with no string twin is refused, with where."""
        payload = {
            "data": [{"id": "1", "text": "x"}],
            "includes": {
                "tweets": [{"id": "2", "text": "y", "user": {"id": value, "screen_name": "z"}}]
            },
        }
        with pytest.raises(PayloadError, match="/includes/tweets/0/user") as info:
            twpolicy.dehydrate(payload, kind="users")
        assert "string" in str(info.value)

    def test_small_integer_ids_are_exact(self):
        """Integers below 2**53 are exact in every JSON reader and are accepted."""
        assert ["12"] == twpolicy.dehydrate({"id": 12, "screen_name": "x"}, kind="users")

    def test_iterables_name_the_record(self):
        """An iterable of payloads is dehydrated as one dataset; errors name the record."""
        assert ["21", "20", "22", "19", "30", "10"] == twpolicy.dehydrate(
            iter([V2_PAGE, V1_RETWEET])
        )
        bad = {"id": 2.5e17, "text": "x", "user": {"id": 1, "screen_name": "a"}}
        with pytest.raises(PayloadError, match="record 2"):
            twpolicy.dehydrate(iter([V2_PAGE, bad]))

    def test_notices_are_not_dehydrated(self):
        """Deletion notices name Tweets that must go, not Tweets to share."""
        notice = {"delete": {"status": {"id": 5, "id_str": "5", "user_id": 1, "user_id_str": "1"}}}
        assert [] == twpolicy.dehydrate(notice)

    @pytest.mark.parametrize("value", ['{"id": "1"}', b"{}", 12, None])
    def test_not_parsed_json(self, value):
        """Text, bytes and scalars are refused: dehydrate reads parsed JSON."""
        with pytest.raises(PayloadError):
            twpolicy.dehydrate(value)

    def test_unknown_kind(self):
        """Only tweets, users and dms are kinds of ID."""
        with pytest.raises(twpolicy.ConfigurationError, match="dms"):
            twpolicy.dehydrate(V2_PAGE, kind="places")

    def test_tweepy_response(self):
        """tweepy's Response and models are read as the JSON they came from."""
        response = tweepy.Response(
            [tweepy.Tweet({"edit_history_tweet_ids": [], **t}) for t in V2_PAGE["data"]],
            {"users": [tweepy.User(u) for u in V2_PAGE["includes"]["users"]]},
            [],
            {},
        )
        assert ["21", "20", "22", "19"] == twpolicy.dehydrate(response)


# ---------------------------------------------------------------------------------------
# @ids_only
# ---------------------------------------------------------------------------------------


class TestIdsOnlyDecorator:
    def test_bare_reduces_to_tweet_ids(self):
        """Bare @ids_only reduces the value to its Tweet IDs and keeps the function's name."""

        @twpolicy.ids_only
        def handler(query):
            """Search and return the page."""
            return V2_PAGE

        assert ["21", "20", "22", "19"] == handler("q")
        assert "handler" == handler.__name__
        assert "Search and return the page." == handler.__doc__
        assert handler.__wrapped__("q") is V2_PAGE
        assert "tweets" == handler.ids_only.kind

    def test_ids_pass_unchanged(self):
        """A value of nothing but IDs leaves as it is."""
        value = {"tweet_ids": ["1", "2"]}
        assert value == twpolicy.ids_only(lambda: value)()

    def test_strict_refuses_naming_the_pointer(self, guard, recorder):
        """strict mode refuses anything but IDs, through the guard, naming where."""

        @twpolicy.ids_only(kind="users", strict=True, recipient="lab", guard=guard)
        def users():
            return [{"id": "1", "name": "Someone"}]

        with pytest.raises(twpolicy.RedistributionError, match="/0/name") as info:
            users()
        assert "redistribution.ids_only" == info.value.decision.rule
        assert [info.value.decision] == recorder.denied
        assert 1_500_000 == guard.quotas.remaining("lab")

    def test_counts_against_the_recipient(self, guard):
        """Each call is counted against the recipient, found from the call's arguments."""

        @twpolicy.ids_only(recipient=lambda request: request["org"], guard=guard)
        def handler(request):
            return V2_PAGE

        handler({"org": "acme"})
        handler({"org": "acme"})
        assert 1_500_000 - 8 == guard.quotas.remaining("acme")
        guard.quotas.reserve("acme", tweet_ids=guard.quotas.remaining("acme") - 3)
        with pytest.raises(twpolicy.QuotaExceeded):
            handler({"org": "acme"})

    def test_async(self, guard):
        """Coroutine functions are awaited, then reduced and counted."""

        @twpolicy.ids_only(kind="users", recipient="lab", guard=guard)
        async def handler():
            return V2_PAGE

        assert inspect.iscoroutinefunction(handler)
        assert ["5", "6", "7"] == asyncio.run(handler())
        # No guarded client read them as users: they count as Tweet IDs (fail closed).
        assert 1_500_000 - 3 == guard.quotas.remaining("lab")

    def test_async_strict_refusal(self, guard):
        """An async function's refusal raises from the awaited call."""

        @twpolicy.ids_only(strict=True, guard=guard)
        async def handler():
            return V2_PAGE

        with pytest.raises(twpolicy.RedistributionError):
            asyncio.run(handler())

    def test_generators_are_refused(self):
        """A generator's items would leave one by one, unchecked: refused when decorated."""
        with pytest.raises(twpolicy.ConfigurationError, match="generator"):

            @twpolicy.ids_only
            def rows():
                yield "1"

    def test_default_guard(self, recorder):
        """Without a guard the default one decides and logs."""
        twpolicy.get_default_guard().add_sink(recorder)
        twpolicy.ids_only(recipient="lab")(lambda: V2_PAGE)()
        assert "within_quota" == recorder.decisions[-1].reason

    @given(value=_json)
    def test_only_ids_leave(self, value):
        """Whatever a function returns, what leaves an @ids_only function holds only IDs.

        Or nothing leaves: refused as not IDs, as unreadable, or (a key named like a secret,
        ``{"CONSUMERSECRET": False}``, which hypothesis found) by the credentials clause.
        """
        guard = Guard(quotas=twpolicy.open_quotas("memory://"))
        for strict in (False, True):
            handler = twpolicy.ids_only(strict=strict, guard=guard)(lambda: value)
            try:
                out = handler()
            except (twpolicy.RedistributionError, twpolicy.CredentialError, PayloadError):
                continue
            assert all(is_id(leaf) for leaf in _leaves(out))
            assert ids_only_check(out)[0] is None


# ---------------------------------------------------------------------------------------
# manual_export
# ---------------------------------------------------------------------------------------


class TestManualExport:
    def test_public_objects_are_counted(self, guard):
        """Public Tweets and users go, counted against the daily cap and the Tweet-ID cap."""
        export = twpolicy.manual_export(V2_PAGE, recipient="ana", requested_by="ana", guard=guard)
        assert V2_PAGE == export.value
        assert V2_PAGE is not export.value  # what was checked is a copy: it cannot change
        assert 6 == export.decision.count
        assert 50_000 - 6 == guard.quotas.remaining("ana", "hydrated_objects")
        # Four Tweet IDs, and three user IDs no guarded client read as users' (fail closed).
        assert 1_500_000 - 4 - 3 == guard.quotas.remaining("ana")

    def test_embedded_objects_count_too(self, guard):
        """A retweet with its original and both authors is four objects; its IDs all count."""
        export = twpolicy.manual_export(
            V1_RETWEET, recipient="ana", requested_by="ana", guard=guard
        )
        assert 4 == export.decision.count
        # Three Tweet IDs, and three user IDs (authors, a mention) not proven users'.
        assert 1_500_000 - 3 - 3 == guard.quotas.remaining("ana")

    def test_daily_cap(self, guard):
        """Past 50,000 objects a day the export is refused under I.F.2.a."""
        guard.quotas.reserve("ana", hydrated_objects=49_995)
        with pytest.raises(twpolicy.QuotaExceeded) as info:
            twpolicy.manual_export(V2_PAGE, recipient="ana", requested_by="ana", guard=guard)
        assert "I.F.2.a" == info.value.decision.clause
        assert 5 == guard.quotas.remaining("ana", "hydrated_objects")

    @pytest.mark.parametrize(
        ("payload", "reason", "pointer"),
        [
            (DM_EVENTS, "direct_message", "/data/0"),
            (
                {**V1_RETWEET, "user": {**V1_RETWEET["user"], "protected": True}},
                "protected_user",
                "/user",
            ),
            (
                {"data": [{"id": "1", "text": "x", "author_id": "9"}]},
                "protection_unknown",
                "/data/0",
            ),
            ({"id": "5", "username": "e", "name": "E"}, "protection_unknown", "/"),
        ],
    )
    def test_what_may_not_go(self, guard, payload, reason, pointer):
        """DMs, protected accounts and objects not shown to be public are refused."""
        with pytest.raises(twpolicy.RedistributionError) as info:
            twpolicy.manual_export(payload, recipient="ana", requested_by="ana", guard=guard)
        decision = info.value.decision
        assert (reason, "I.F.2.a") == (decision.reason, decision.clause)
        assert pointer in decision.message
        assert 50_000 == guard.quotas.remaining("ana", "hydrated_objects")

    def test_protected_authors_tweets(self, guard):
        """A v2 Tweet whose included author is protected is refused."""
        page = {
            "data": [{"id": "1", "text": "x", "author_id": "9"}],
            "includes": {"users": [{"id": "9", "username": "p", "name": "P", "protected": True}]},
        }
        with pytest.raises(twpolicy.RedistributionError, match="protected"):
            twpolicy.manual_export(page, recipient="ana", requested_by="ana", guard=guard)

    def test_failed_send_gives_the_quota_back(self, guard):
        """Used as a context manager, a failure while writing releases the reservation."""
        with (
            pytest.raises(OSError, match="disk full"),
            twpolicy.manual_export(V2_PAGE, recipient="ana", requested_by="ana", guard=guard),
        ):
            raise OSError("disk full")
        assert 50_000 == guard.quotas.remaining("ana", "hydrated_objects")

    def test_requested_by_is_required(self, guard):
        """A non-automated export names the person who asked."""
        with pytest.raises(twpolicy.ConfigurationError, match="requested_by"):
            twpolicy.manual_export(V2_PAGE, recipient="ana", requested_by=" ", guard=guard)

    def test_automated_objects_are_refused(self, guard):
        """The same objects sent by an @ids_only-free automated path are refused."""
        decision = guard.check(export(V2_PAGE, content="objects", recipient="ana", count=6))
        assert "hydrated_objects" == decision.reason

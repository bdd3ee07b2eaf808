"""Only IDs leave (I.F.2), counted by what the payload says they are (I.F.2.b.i).

Adversarial families: the kind of ID declared against the payload, IDs written as numbers,
and exports that name no recipient. Each family is generated whole, with the instance the
issue names beside it.
"""

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import twpolicy
from test_redistribution import reference_ids  # the one independent reference walk
from twpolicy import Action, Guard
from twpolicy import strategies as tws
from twpolicy._payloads._ids import ids_only_check, is_id
from twpolicy._payloads._outbound import FIELD_KINDS, count_ids
from twpolicy._payloads._seen import process_evidence
from twpolicy.exceptions import PayloadError

MONTH = 1_500_000
KINDS = ("tweets", "users", "dms")


def fresh_guard():
    """An enforcing guard with an empty in-memory quota ledger.

    Consent to share protected content (nonpublic.consent) is left out: these tests count IDs.
    """
    rules = [r for r in twpolicy.default_rules() if r.id != "nonpublic.consent"]
    return Guard(quotas=twpolicy.open_quotas("memory://"), rules=rules)


def tweet_ids_counted(guard, recipient):
    """How many Tweet IDs the recipient's entity has been counted for."""
    return guard.quotas.usage(recipient)[0].used


def leaves(value):
    """Every scalar in a value."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


# Fields by the kind they name, as an independent table: the names the API itself uses.
TWEET_FIELDS = ["tweet_ids", "status_ids", "conversation_id", "pinned_tweet_id", "since_id"]
USER_FIELDS = ["user_ids", "author_id", "follower_ids", "participant_ids", "from_user_id"]
DM_FIELDS = ["dm_ids", "dm_event_id", "direct_message_id"]
UNTYPED_FIELDS = ["id", "ids", "id_str"]


@st.composite
def shaped_ids(draw):
    """``(value, tweets, typed_tweets)``: IDs in one of many shapes, and what they count as.

    ``tweets`` is how many count as Tweet IDs: all of them, whatever their field says (a
    field name is no evidence); ``typed_tweets`` whether a field names some Tweet IDs.
    """
    ids = draw(st.lists(tws.ids(), min_size=1, max_size=8))
    field_kind = draw(st.sampled_from(["tweets", "users", "dms", None]))
    fields = {
        "tweets": TWEET_FIELDS,
        "users": USER_FIELDS,
        "dms": DM_FIELDS,
        None: UNTYPED_FIELDS,
    }[field_kind]
    field = draw(st.sampled_from(fields))
    if field.endswith("_str") or not field.endswith("s"):
        shape = draw(st.sampled_from(["rows", "nested_rows"]))
    else:
        shape = draw(st.sampled_from(["bare", "tuple", "set", "field", "rows", "nested_rows"]))
    if shape == "bare":
        value, field_kind = list(ids), None
    elif shape == "tuple":
        value, field_kind = tuple(ids), None
    elif shape == "set":
        ids = sorted(set(ids))
        value = {field: set(ids)}
    elif shape == "field":
        value = {field: list(ids)}
    elif shape == "rows":
        value = [{field: i} for i in ids]
    else:
        value = {"ids": [{field: i} for i in ids]} if field_kind else [{"id": i} for i in ids]
    return value, len(ids), field_kind == "tweets"


class TestKindIsReadOffThePayload:
    @given(case=shaped_ids(), kind=st.sampled_from(KINDS), strict=st.booleans())
    def test_declared_kind_never_lowers_the_count(self, case, kind, strict):
        """Whatever kind is declared and whatever field the IDs sit under, every bare ID is
        counted as a Tweet ID; a field of Tweet IDs in an export declared as users or DMs is
        refused and counts nothing."""
        value, tweets, typed_tweets = case
        guard = fresh_guard()
        handler = twpolicy.ids_only(kind=kind, recipient="acme", strict=strict, guard=guard)(
            lambda: value
        )
        if typed_tweets and kind != "tweets":
            with pytest.raises(twpolicy.RedistributionError) as info:
                handler()
            assert "id_kind_mismatch" == info.value.decision.reason
            assert 0 == tweet_ids_counted(guard, "acme")
            return
        out = handler()
        assert tweets == tweet_ids_counted(guard, "acme")
        assert all(is_id(leaf) for leaf in leaves(out))

    @given(
        payload=st.one_of(
            tws.api_responses(),
            tws.tweets("v1.1", retweet=None, quote=None),
            tws.api_responses(tws.dm_events("v2")),
        ),
        kind=st.sampled_from(KINDS),
    )
    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    def test_reduced_ids_count_as_the_kind_read(self, payload, kind):
        """Objects are reduced to IDs of the kind asked for, read off the objects by the
        walker; Tweet IDs, and user or DM IDs no guarded client read as such, are counted
        against the Tweet-ID cap."""
        guard = fresh_guard()
        out = twpolicy.ids_only(kind=kind, recipient="acme", guard=guard)(lambda: payload)()
        assert twpolicy.dehydrate(payload, kind=kind) == out
        evidence = process_evidence()
        unproven = [i for i in out if kind == "tweets" or not evidence.proven(i, kind)]
        assert len(unproven) == tweet_ids_counted(guard, "acme")

    @given(case=shaped_ids(), content=st.sampled_from(["tweet_ids", "user_ids", "dm_ids"]))
    def test_own_enforcement_points_are_counted_the_same(self, case, content):
        """An Action of the application's own declares its content; the rules read the payload."""
        value, tweets, typed_tweets = case
        guard = fresh_guard()
        action = Action(
            kind="export",
            operation="nightly dump",
            recipient="acme",
            count=0,
            facts={"content": content},
            payload=value,
        )
        if typed_tweets and content != "tweet_ids":
            assert "id_kind_mismatch" == guard.check(action).reason
            return
        with guard.permit(action):
            pass
        assert tweets == tweet_ids_counted(guard, "acme")

    def test_two_million_tweet_ids_declared_as_users(self):
        """The instance: 2,000,000 Tweet IDs declared as users are counted, so refused."""
        guard = fresh_guard()
        ids = [str(1_000_000_000_000_000_000 + n) for n in range(2_000_000)]
        handler = twpolicy.ids_only(kind="users", recipient="acme", guard=guard)(lambda: ids)
        with pytest.raises(twpolicy.QuotaExceeded) as info:
            handler()
        assert ("I.F.2.b.i", "quota_exceeded") == (
            info.value.decision.clause,
            info.value.decision.reason,
        )
        assert MONTH == guard.quotas.remaining("acme")
        typed = twpolicy.ids_only(kind="users", recipient="acme", guard=guard)(
            lambda: {"tweet_ids": ids}
        )
        with pytest.raises(twpolicy.RedistributionError, match="/tweet_ids"):
            typed()

    def test_a_field_name_is_no_evidence(self):
        """2,000,000 Tweet IDs under user_ids are still counted: a field is the caller's word."""
        guard = fresh_guard()
        ids = [str(1_000_000_000_000_000_000 + n) for n in range(2_000_000)]
        handler = twpolicy.ids_only(kind="users", recipient="a", guard=guard)(
            lambda: {"user_ids": ids}
        )
        with pytest.raises(twpolicy.QuotaExceeded):
            handler()

    def test_user_ids_read_off_made_up_users_are_counted(self):
        """User objects are the application's word: their IDs count as Tweet IDs until a
        guarded client read them as users' (tests/test_exports_evidence.py)."""
        guard = fresh_guard()
        users = [{"id": "1", "username": "a", "name": "A"}, {"id": "2", "username": "b"}]
        out = twpolicy.ids_only(kind="users", recipient="a", guard=guard)(lambda: users)()
        assert ["1", "2"] == out
        assert 2 == tweet_ids_counted(guard, "a")


def test_field_table_is_fixed():
    """Field names come from a fixed table, and never lower the count."""
    assert "users" == FIELD_KINDS["author_id"]
    assert "tweets" == FIELD_KINDS["conversation_id"]
    assert 0 == count_ids({"secret_user_ids": ["1"]}).users
    assert 2 == count_ids({"user_ids": ["1"], "dm_ids": ["2"]}).tweets


# ---------------------------------------------------------------------------------------
# Integer IDs
# ---------------------------------------------------------------------------------------

safe_ints = st.integers(min_value=0, max_value=2**53 - 1)
unsafe_numbers = st.one_of(
    st.integers(min_value=2**53, max_value=2**64 - 1),
    st.floats(min_value=1, max_value=2**63, allow_nan=False),
)


@st.composite
def id_containers(draw, element):
    """A value of IDs in one of the usual shapes, drawn with ``element`` as every ID."""
    ids = draw(st.lists(element, min_size=1, max_size=6))
    field = draw(st.sampled_from(["tweet_ids", "ids", "user_ids"]))
    shape = draw(st.sampled_from(["bare", "field", "rows"]))
    if shape == "bare":
        return ids
    if shape == "field":
        return {field: ids}
    return [{"id": i} for i in ids]


class TestIntegerIds:
    @given(value=id_containers(safe_ints), strict=st.booleans())
    def test_safe_integers_are_ids(self, value, strict):
        """Integers below 2**53 are exact everywhere: accepted as IDs, handed over as strings."""
        guard = fresh_guard()
        out = twpolicy.ids_only(strict=strict, recipient="a", guard=guard)(lambda: value)()
        assert ids_only_check(out)[0] is None
        assert sorted(map(str, leaves(value))) == sorted(leaves(out))

    @given(
        value=id_containers(st.one_of(safe_ints, unsafe_numbers)).filter(
            lambda v: any(type(leaf) is float or leaf >= 2**53 for leaf in leaves(v))
        ),
        strict=st.booleans(),
    )
    def test_imprecise_numbers_are_refused(self, value, strict):
        """A float or an integer of 2**53 or more where an ID belongs is refused; nothing counts."""
        guard = fresh_guard()
        handler = twpolicy.ids_only(strict=strict, recipient="a", guard=guard)(lambda: value)
        with pytest.raises(PayloadError, match="2\\*\\*53"):
            handler()
        assert MONTH == guard.quotas.remaining("a")
        action = Action(
            kind="export",
            operation="dump",
            recipient="a",
            facts={"content": "tweet_ids"},
            payload=value,
        )
        assert "imprecise_id" == guard.check(action).reason

    @given(
        tweet=tws.tweets("v1.1", retweet=False, quote=False),
        number=st.integers(min_value=2**53, max_value=2**63 - 1),
        field=st.sampled_from(["id", "in_reply_to_status_id", "quoted_status_id", "user.id"]),
    )
    def test_imprecise_numbers_in_objects_are_refused(self, tweet, number, field):
        """In a hydrated object too: a number with no string twin whose digits may be wrong."""
        target = tweet["user"] if field == "user.id" else tweet
        name = field.rpartition(".")[2]
        target.pop(f"{name}_str", None)
        target[name] = number
        kind = "users" if field == "user.id" else "tweets"
        with pytest.raises(PayloadError):
            twpolicy.dehydrate(tweet, kind=kind)
        guard = fresh_guard()
        with pytest.raises(PayloadError):
            twpolicy.ids_only(kind=kind, recipient="a", guard=guard)(lambda: tweet)()
        assert MONTH == guard.quotas.remaining("a")


# ---------------------------------------------------------------------------------------
# Every export is counted against someone
# ---------------------------------------------------------------------------------------

recipients = st.one_of(
    st.none(),
    st.just(twpolicy.PUBLIC),
    st.sampled_from(["acme", "Acme ", "ACME"]),
    st.sampled_from([lambda: None, lambda: "acme", lambda: twpolicy.PUBLIC]),
)


class TestEveryExportIsCounted:
    @given(recipient=recipients, ids=st.lists(tws.ids(), min_size=1, max_size=5))
    def test_ids_only_counts_every_call(self, recipient, ids):
        """No recipient, or one that says None, is the public: counted like anyone."""
        guard = fresh_guard()
        twpolicy.ids_only(recipient=recipient, guard=guard)(lambda: ids)()
        named = recipient() if callable(recipient) else recipient
        who = twpolicy.PUBLIC if named is None else named
        assert len(ids) == tweet_ids_counted(guard, who)

    def test_bare_decorator_counts_against_the_public(self):
        """The decorator's default is twpolicy.PUBLIC, not an uncounted export."""
        guard = fresh_guard()
        twpolicy.set_default_guard(guard)
        try:
            assert ["1", "2"] == twpolicy.ids_only(lambda: ["1", "2"])()
        finally:
            twpolicy.set_default_guard(None)
        assert 2 == tweet_ids_counted(guard, twpolicy.PUBLIC)

    @pytest.mark.parametrize("recipient", ["", "  ", "a\tb", "zero\u200bwidth"])
    def test_unnamable_recipients_are_refused(self, recipient):
        """A recipient that normalises to nothing, or hides characters, is refused."""
        guard = fresh_guard()
        with pytest.raises(twpolicy.RedistributionError):
            twpolicy.ids_only(recipient=recipient, guard=guard)(lambda: ["1"])()

    def test_public_shares_one_entity_cap(self):
        """Anonymous exports together get one entity's 1,500,000 Tweet IDs."""
        guard = fresh_guard()
        guard.quotas.reserve(twpolicy.PUBLIC, tweet_ids=MONTH - 1)
        with pytest.raises(twpolicy.QuotaExceeded):
            twpolicy.ids_only(guard=guard)(lambda: ["1", "2"])()

    def test_public_cannot_be_registered(self):
        """The public is never an academic institution: it cannot be registered at all."""
        guard = fresh_guard()
        with pytest.raises(twpolicy.ConfigurationError, match="cannot be registered"):
            guard.quotas.register(
                " <PUBLIC> ",
                standing="academic_noncommercial",
                approved_by="dpo",
                reference="IRB-1",
            )


# ---------------------------------------------------------------------------------------
# The fixed vocabulary of ID fields (from the table of shapes)
# ---------------------------------------------------------------------------------------


@given(
    words=st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=3, max_size=40),
    suffix=st.sampled_from(["_id", "_ids", "_id_str"]),
)
def test_text_in_keys_never_leaves(words, suffix):
    """A made-up key ending in _id carries text out; only the fixed vocabulary is accepted."""
    key = words.strip().replace(" ", "_") + "_secret" + suffix
    guard = fresh_guard()
    out = twpolicy.ids_only(recipient="a", guard=guard)(lambda: {key: "1"})()
    assert key not in str(out)


# ---------------------------------------------------------------------------------------
# IDs in every payload generation
# ---------------------------------------------------------------------------------------


def id_field(draw, name, value, *, allow_missing=False):
    """``name`` and ``name_str`` as a payload of some generation writes them."""
    how = draw(st.sampled_from(["both", "str", "int"] + (["none"] if allow_missing else [])))
    if how == "none" or value is None:
        return {name: None, f"{name}_str": None} if draw(st.booleans()) else {}
    fields = {}
    if how in {"both", "int"}:
        fields[name] = int(value)
    if how in {"both", "str"}:
        fields[f"{name}_str"] = value
    return fields


@st.composite
def legacy_search_results(draw):
    """A page of the legacy Search API (search.twitter.com): authors as from_user_id."""
    results = []
    for _ in range(draw(st.integers(1, 4))):
        result = {
            "text": draw(st.text(min_size=1, max_size=20)),
            "from_user": draw(st.text(min_size=1, max_size=8)),
            "created_at": "Thu, 06 Oct 2011 19:36:17 +0000",
            "iso_language_code": "en",
            "metadata": {"result_type": "recent"},
        }
        result |= id_field(draw, "id", draw(tws.ids()))
        result |= id_field(draw, "from_user_id", draw(tws.ids()))
        result |= id_field(draw, "to_user_id", draw(st.none() | tws.ids()), allow_missing=True)
        assume("id" in result or "id_str" in result)
        results.append(result)
    return {"results": results, "max_id": 1, "query": "twitter", "page": 1}


@st.composite
def legacy_dms(draw):
    """Legacy direct messages, with their parties as IDs only, as numbers, strings or both."""
    dm = {"text": draw(st.text(min_size=1, max_size=20)), "created_at": "Mon Oct 10 2011"}
    dm |= id_field(draw, "id", draw(tws.ids()))
    dm |= id_field(draw, "sender_id", draw(tws.ids()))
    dm |= id_field(draw, "recipient_id", draw(tws.ids()))
    assume({"id", "id_str"} & set(dm))
    assume({"sender_id", "sender_id_str", "recipient_id_str"} & set(dm))
    return dm


def reference(value, kind):
    """The IDs the independent reference walk of test_redistribution finds."""
    return reference_ids(value, kind)


class TestGenerations:
    @given(page=legacy_search_results(), kind=st.sampled_from(KINDS))
    def test_legacy_search_api(self, page, kind):
        """The legacy Search API's authors and addressees are user IDs: all found."""
        assert reference(page, kind) == set(twpolicy.dehydrate(page, kind=kind))

    @given(dm=legacy_dms(), kind=st.sampled_from(KINDS), many=st.booleans())
    def test_legacy_dms_are_dms(self, dm, kind, many):
        """A DM known only by its parties' IDs is a DM: its ID is a DM ID, never a Tweet ID."""
        payload = [dm, dm] if many else dm
        found = set(twpolicy.dehydrate(payload, kind=kind))
        assert reference(payload, kind) == found
        if kind == "tweets":
            assert set() == found

    @given(
        payload=st.one_of(legacy_search_results(), legacy_dms()),
        number=st.integers(min_value=2**53, max_value=2**63 - 1),
    )
    def test_imprecise_numbers_in_every_generation(self, payload, number):
        """An ID with no string twin that is 2**53 or more is refused wherever it sits."""
        target = payload["results"][0] if "results" in payload else payload
        name = "from_user_id" if "results" in payload else "sender_id"
        kind = "users"
        target.pop(f"{name}_str", None)
        target.pop("recipient_id_str", None)
        target[name] = number
        with pytest.raises(PayloadError, match=name):
            twpolicy.dehydrate(payload, kind=kind)

    def test_the_instances(self):
        """The legacy Search API's from_user_id, and a DM with only *_id_str parties."""
        legacy = {"results": [{"id_str": "5", "text": "hi", "from_user_id": 7, "to_user_id": 8}]}
        assert ["7", "8"] == twpolicy.dehydrate(legacy, kind="users")
        dm = {"id_str": "9", "text": "hi", "sender_id_str": "1", "recipient_id_str": "2"}
        assert ([], ["9"], ["1", "2"]) == (
            twpolicy.dehydrate(dm),
            twpolicy.dehydrate(dm, kind="dms"),
            twpolicy.dehydrate(dm, kind="users"),
        )


def test_the_docs_name_exactly_the_fields_that_type_ids():
    """docs/redistribution.md lists the ID fields of each kind exactly as the code has them."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "redistribution.md").read_text()
    rows = {"Tweet IDs": "tweets", "User IDs": "users", "DM IDs": "dms"}
    documented = {}
    for line in page.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 3 and cells[1] in rows:
            for field in re.findall(r"`([a-z_]+)`", cells[2]):
                documented[field] = rows[cells[1]]
    assert dict(FIELD_KINDS) == documented

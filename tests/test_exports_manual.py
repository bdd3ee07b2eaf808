"""Non-automated exports of hydrated objects (I.F.2.a): what goes, and how much it counts.

An independent oracle, written without the walker, says which mappings are Tweets, users and
DMs; over generated payloads, adversarial variants of them and the corpus, an export that
manual_export lets through holds no DM, no text outside an object, and counts at least every
distinct hydrated object the oracle finds.
"""

import csv
import io
import json
import re
from functools import cache

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import twpolicy
from corpus import load
from twpolicy import Guard
from twpolicy import strategies as tws
from twpolicy._payloads._ids import is_id
from twpolicy._payloads._seen import process_evidence

DAY = 50_000
MONTH = 1_500_000
SLOW = settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------
# The oracle
# ---------------------------------------------------------------------------------------

ORACLE_DM_KEYS = {
    "sender",
    "recipient",
    "sender_id",
    "sender_id_str",
    "recipient_id",
    "recipient_id_str",
    "sender_screen_name",
    "recipient_screen_name",
    "dm_conversation_id",
    "dm_event_id",
    "message_create",
    "message_data",
}
ORACLE_DM_BODY = {"text", "message_data", "message_create", "event_type", "id", "id_str"}
MENTION_FIELDS = {"id", "id_str", "screen_name", "name", "indices", "username", "start", "end"}
EXPANSIONS = {"places", "media", "polls"}
METADATA = {"meta", "search_metadata", "__twarc", "matching_rules"}


def oracle_kind(obj):
    """``"dm"``, ``"tweet"``, ``"user"`` or None, by simple rules of our own."""
    keys = set(obj)
    place = keys & {"place_type", "full_name", "bounding_box"}
    handle = keys & {"screen_name", "username"} or obj.get("objectType") == "person"
    rules = [
        ("dm", bool(keys & ORACLE_DM_KEYS and keys & ORACLE_DM_BODY)),
        ("dm", bool(obj.get("event_type") or obj.get("type") == "message_create")),
        ("tweet", bool(keys & {"id", "id_str"} and keys & {"text", "full_text", "extended_tweet"})),
        ("tweet", obj.get("objectType") == "activity"),
        # a Tweet reduced to its ID, author and location is still one
        ("tweet", bool(keys & {"id", "id_str"} and keys & {"user", "place", "geo"} and not place)),
        ("tweet", bool(keys & {"id", "id_str"} and "coordinates" in keys and not place)),
        ("user", bool(handle and not keys <= MENTION_FIELDS)),
    ]
    return next((kind for kind, matches in rules if matches), None)


def is_stub(obj):
    """A ``{type, id}`` reference or a bare ``{id}``: an ID, not an object."""
    return set(obj) <= {"id", "id_str", "type"}


def oracle(value):
    """``(objects, dms, loose_text)``: distinct hydrated objects, DMs, text outside objects."""
    objects, loose = set(), []
    dms = 0
    stack = [(value, False, ())]
    while stack:
        item, inside, path = stack.pop()
        if isinstance(item, dict):
            kind = oracle_kind(item)
            dms += kind == "dm"
            if kind == "dm":
                continue
            if kind in {"tweet", "user"} and not is_stub(item):
                own = item.get("id_str") or item.get("id")
                objects.add((kind, str(own), json.dumps(item, sort_keys=True, default=repr)))
                inside = True
            here = inside or bool(EXPANSIONS & set(path[-2:]) and "includes" in path)
            stack.extend(
                (child, here, (*path, key))
                for key, child in item.items()
                if here or key not in METADATA
            )
        elif isinstance(item, (list, tuple)):
            stack.extend((child, inside, path) for child in item)
        elif not inside and is_text(item):
            loose.append(path)
    return len(objects), dms, loose


def is_text(item):
    """Text (not an ID or a token): whitespace or non-ASCII in a string, or any bytes."""
    if isinstance(item, (bytes, bytearray)):
        return True
    return (
        isinstance(item, str)
        and not item.isdecimal()
        and any(c.isspace() or not c.isascii() for c in item)
    )


def check_export(payload, recipient="ana", requested_by="ana"):
    """Run manual_export on a fresh guard: ``(export or None, error or None, guard)``."""
    guard = Guard(quotas=twpolicy.open_quotas("memory://"))
    try:
        export = twpolicy.manual_export(
            payload, recipient=recipient, requested_by=requested_by, guard=guard
        )
    except twpolicy.RedistributionError as exc:
        return None, exc, guard
    return export, None, guard


def assert_sound(payload):
    """The property every manual export must have, whatever the payload."""
    objects, dms, loose = oracle(payload)
    export, error, guard = check_export(payload)
    used = DAY - guard.quotas.remaining("ana", "hydrated_objects")
    if export is None:
        assert 0 == used, "a refused export counted something"
        assert MONTH == guard.quotas.remaining("ana")
        return error.decision.reason
    assert 0 == dms, f"a DM left: {error}"
    assert [] == loose, f"text outside any object left: {loose[:3]}"
    assert export.decision.count >= objects
    assert used == export.decision.count
    return None


# ---------------------------------------------------------------------------------------
# Payloads: public objects, and the adversary's variants of them
# ---------------------------------------------------------------------------------------


def public(value):
    """``value`` with every user object made public (protected: false)."""
    if isinstance(value, dict):
        out = {k: public(v) for k, v in value.items()}
        if oracle_kind(out) == "user" or ("screen_name" in out and "protected" in out):
            out["protected"] = False
        return out
    if isinstance(value, list):
        return [public(v) for v in value]
    return value


@st.composite
def v2_pages(draw):
    """A v2 page whose every Tweet's author is included and public."""
    authors = draw(st.lists(tws.ids(), min_size=1, max_size=3, unique=True))
    tweets = [
        {**draw(tws.tweets("v2", location=False)), "author_id": draw(st.sampled_from(authors))}
        for _ in range(draw(st.integers(1, 4)))
    ]
    users = [
        {"id": a, "username": f"u{a}", "name": draw(st.text(max_size=10)), "protected": False}
        for a in authors
    ]
    return {"data": tweets, "includes": {"users": users}}


v1_tweets = tws.tweets("v1.1", retweet=None, quote=None).map(public)
valid_exports = st.one_of(
    v1_tweets,
    st.lists(v1_tweets, min_size=1, max_size=4),
    v2_pages(),
    st.lists(tws.users("v1.1").map(public), min_size=1, max_size=3),
    v1_tweets.map(lambda t: {"statuses": [t], "search_metadata": {"count": 1, "max_id": 5}}),
)

# Keys of a Tweet the walker does not expand, and keys nobody knows: hiding places.
HIDING_PLACES = [
    ("metadata",),
    ("metadata", "more"),
    ("entities", "media"),
    ("entities", "hashtags"),
    ("extended_entities", "media"),
    ("scopes",),
    ("__twarc",),
    ("place",),
    ("place", "attributes"),
    ("user", "entities"),
    ("user", "status"),
    ("withheld_scope",),
    ("x_unknown",),
    ("context_annotations",),
    ("note_tweet",),
]


def hide(carrier, path, payload):
    """Put ``payload`` at ``path`` inside a copy of ``carrier``."""
    carrier = json.loads(json.dumps(carrier))
    here = carrier
    for key in path[:-1]:
        if not isinstance(here.get(key), dict):
            here[key] = {}
        here = here[key]
    here[path[-1]] = payload
    return carrier


@st.composite
def carriers(draw):
    """A public Tweet carrying other public objects in a field no one reads."""
    carrier = draw(tws.tweets("v1.1", retweet=False, quote=False).map(public))
    hidden = draw(st.lists(v1_tweets, min_size=1, max_size=5))
    shape = draw(st.sampled_from(["list", "one", "mapping", "disguised"]))
    if shape == "one":
        hidden = hidden[:1]
        payload = hidden[0]
    elif shape == "mapping":
        payload = {f"k{n}": tweet for n, tweet in enumerate(hidden)}
    elif shape == "disguised":  # an entity's indices, or a place's keys, on each
        extra = draw(st.sampled_from([{"indices": [0, 1]}, {"place_type": "city"}]))
        payload = [{**tweet, **extra} for tweet in hidden]
    else:
        payload = hidden
    distinct = len({json.dumps(tweet, sort_keys=True) for tweet in hidden})
    return hide(carrier, draw(st.sampled_from(HIDING_PLACES)), payload), distinct


def render_csv(tweets):
    out = io.StringIO()
    writer = csv.writer(out)
    for tweet in tweets:
        writer.writerow([tweet["id_str"], tweet["text"], tweet["user"]["screen_name"]])
    return out.getvalue()


RENAMES = {"text": "body_text", "id_str": "tweet", "id": "tweet_number", "user": "author"}


@st.composite
def reshaped(draw):
    """Rows made from Tweets: fields renamed, dropped, flattened, or the whole turned to text."""
    tweets = draw(st.lists(v1_tweets, min_size=1, max_size=3))
    how = draw(
        st.sampled_from(["rename", "drop_id", "flatten", "csv", "json", "rows", "bytes", "lines"])
    )
    if how == "csv":
        return render_csv(tweets)
    if how == "json":
        return json.dumps(tweets)
    if how == "bytes":
        return render_csv(tweets).encode()
    if how == "lines":
        return render_csv(tweets).splitlines()
    if how == "rows":
        return [[t["id_str"], t["text"], t["user"]["screen_name"]] for t in tweets]
    rows = []
    for tweet in tweets:
        if how == "rename":
            key = draw(st.sampled_from(sorted(RENAMES)))
            row = {RENAMES.get(k, k) if k == key else k: v for k, v in tweet.items()}
            if key in {"id", "id_str"}:
                row.pop("id" if key == "id_str" else "id_str", None)
        elif how == "drop_id":
            row = {k: v for k, v in tweet.items() if k not in {"id", "id_str"}}
        else:
            row = {
                "id": tweet["id_str"],
                "says": tweet["text"],
                "by": tweet["user"]["screen_name"],
            }
        rows.append(row)
    return rows


DM_REDUCTIONS = ["none", "drop_id", "only_str", "drop_type", "message_create", "in_tweet"]


@st.composite
def direct_messages(draw):
    """DMs of every generation, reduced as an adversary would, alone or among Tweets."""
    how = draw(st.sampled_from(DM_REDUCTIONS))
    if how in {"none", "drop_id", "drop_type"}:
        dm = draw(st.one_of(tws.dm_events("v1.1"), tws.dm_events("v2")))
        dm = {k: v for k, v in dm.items() if not (how == "drop_id" and k == "id")}
        dm = {k: v for k, v in dm.items() if not (how == "drop_type" and k == "type")}
    elif how == "message_create":
        dm = draw(tws.dm_events("v1.1"))["message_create"]
    else:
        dm_id = draw(tws.ids())
        dm = {
            "id": int(dm_id),
            "id_str": dm_id,
            "text": draw(st.text(min_size=1, max_size=20)),
            "sender_id_str": draw(tws.ids()),
            "recipient_id_str": draw(tws.ids()),
        }
    if how == "in_tweet":
        carrier = draw(tws.tweets("v1.1", retweet=False, quote=False).map(public))
        return hide(carrier, draw(st.sampled_from(HIDING_PLACES)), dm)
    return dm if draw(st.booleans()) else [dm]


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------


class TestSound:
    @given(payload=valid_exports)
    @SLOW
    def test_public_objects_go_and_all_count(self, payload):
        """Public Tweets and users are let out, each distinct object counted."""
        assert assert_sound(payload) is None

    @given(case=carriers())
    @SLOW
    def test_objects_hidden_in_a_carrier_count(self, case):
        """Objects nested anywhere in a Tweet count, however they are disguised."""
        payload, hidden = case
        assert assert_sound(payload) is None
        export, _, _ = check_export(payload)
        assert export.decision.count >= hidden  # at least each distinct hidden Tweet

    @given(payload=reshaped())
    @SLOW
    def test_what_cannot_be_classified_is_refused(self, payload):
        """Rows, text, CSV, JSON text and bytes are refused, never counted as nothing; a row
        that is still a Tweet by its keys (an ID and its author) counts as one."""
        reason = assert_sound(payload)
        if oracle(payload)[0] == 0:
            assert "not_an_object" == reason

    @given(payload=direct_messages())
    @SLOW
    def test_dms_are_refused_in_every_shape(self, payload):
        """DMs, with or without their ID, type or envelope, alone or hidden, never go."""
        assert assert_sound(payload) == "direct_message"

    @given(data=st.data())
    @settings(
        max_examples=60,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @pytest.mark.corpus
    def test_corpus_and_its_variants(self, corpus, data):
        """Every recorded payload, alone or hidden in a carrier, is refused or counted in full."""
        document = data.draw(st.sampled_from(corpus_documents(corpus)))
        payload = document.value
        if data.draw(st.booleans()):
            carrier = data.draw(tws.tweets("v1.1", retweet=False, quote=False).map(public))
            payload = hide(carrier, data.draw(st.sampled_from(HIDING_PLACES)), payload)
        assert_sound(payload)

    @pytest.mark.corpus
    def test_corpus(self, corpus):
        """Over every recorded payload: refused, or counted at least as the oracle counts."""
        outcomes = {}
        for document in corpus_documents(corpus):
            try:
                reason = assert_sound(document.value)
            except twpolicy.PayloadError:
                reason = "payload_error"
            outcomes[reason] = outcomes.get(reason, 0) + 1
        assert outcomes[None] > 300  # many recorded payloads are fine exports
        assert outcomes["direct_message"] >= 20


@cache
def _corpus(path):
    return tuple(d for d in load(path) if d.error is None)


def corpus_documents(path):
    """Every parsed corpus document (loaded once)."""
    return _corpus(path)


class TestInstances:
    def test_sixty_thousand_in_one_carrier(self):
        """One carrier Tweet holding 60,000 Tweets counts 60,000 and more: over the cap."""
        user = {"id_str": "1", "screen_name": "a", "name": "A", "protected": False}
        stash = [{"id_str": str(100 + n), "text": "t", "user": user} for n in range(60_000)]
        carrier = {"id_str": "99", "text": "x", "user": user, "metadata": {"stash": stash}}
        guard = Guard(quotas=twpolicy.open_quotas("memory://"))
        with pytest.raises(twpolicy.QuotaExceeded) as info:
            twpolicy.manual_export(carrier, recipient="ana", requested_by="ana", guard=guard)
        assert "I.F.2.a" == info.value.decision.clause
        assert "60,00" in info.value.decision.message
        assert DAY == guard.quotas.remaining("ana", "hydrated_objects")

    @pytest.mark.parametrize(
        "payload",
        [
            "id,text\n1,hello",
            b"id,text\n1,hello",
            ["1,hello", "2,bye"],
            [{"tweet_id": "1", "text_body": "hello", "user": "jack"}],
            [{"text": "a DM without an id", "sender_id": "5", "recipient_id": "6"}],
            {"id": 9, "id_str": "9", "text": "hi", "sender_id_str": "1", "recipient_id_str": "2"},
            {"data": [], "errors": [{"detail": "the text of a Tweet, tucked into an error"}]},
            True,
            [1.0501186211989217e18],
        ],
    )
    def test_the_reported_holes(self, payload):
        """The issue's instances: all refused, none counted as nothing."""
        export, error, guard = check_export(payload)
        assert export is None
        assert error.decision.reason in {"not_an_object", "direct_message", "imprecise_id"}
        assert DAY == guard.quotas.remaining("ana", "hydrated_objects")


# ---------------------------------------------------------------------------------------
# Stubs are IDs
# ---------------------------------------------------------------------------------------


@st.composite
def flattened_with_stubs(draw):
    """twarc-flattened Tweets whose referenced Tweets are only ``{type, id}`` stubs."""
    author = {"id": draw(tws.ids()), "username": "u", "name": "U", "protected": False}
    stubs = [
        {"type": draw(st.sampled_from(["quoted", "replied_to", "retweeted"])), "id": i}
        for i in draw(st.lists(tws.ids(), min_size=1, max_size=3, unique=True))
    ]
    tweet = {
        "id": draw(tws.ids()),
        "text": draw(st.text(min_size=1, max_size=20)),
        "author_id": author["id"],
        "author": author,
        "referenced_tweets": stubs,
    }
    return tweet, [s["id"] for s in stubs]


class TestStubs:
    @given(case=flattened_with_stubs(), loose=st.booleans())
    def test_reference_stubs_are_ids(self, case, loose):
        """A ``{type, id}`` stub is an ID, shareable: not refused, not an object, still counted
        against the Tweet-ID cap."""
        tweet, stub_ids = case
        assume(tweet["id"] not in stub_ids)
        assume(re.search("[0-9]{10}", tweet["text"]) is None)  # a run of digits: an ID
        payload = [tweet, *({"type": "quoted", "id": i} for i in stub_ids)] if loose else tweet
        export, error, guard = check_export(payload)
        assert error is None, error
        assert 2 == export.decision.count  # the Tweet and its author
        # The author's ID counts too, unless a guarded client read it as a user's only.
        author = tweet["author_id"]
        counted = {tweet["id"], *stub_ids}
        if not process_evidence().proven(author, "users"):
            counted.add(author)
        assert MONTH - len(counted) == guard.quotas.remaining("ana")


# ---------------------------------------------------------------------------------------
# Hand-over
# ---------------------------------------------------------------------------------------

STEPS = st.lists(st.sampled_from(["read", "release", "commit"]), min_size=1, max_size=4)


class TestHandOver:
    @given(steps=STEPS)
    def test_release_only_before_hand_over(self, steps):
        """Once the value was read or committed, release gives nothing back; once released,
        the value cannot be read."""
        user = {"id_str": "1", "screen_name": "a", "name": "A", "protected": False}
        export, _, guard = check_export([user])
        handed_over = released = False
        for step in steps:
            if step == "read" and released:
                with pytest.raises(twpolicy.ConfigurationError, match="released"):
                    export.value  # noqa: B018  # what was given back may not leave
            elif step == "read":
                export.value  # noqa: B018  # reading is the hand-over
                handed_over = True
            elif step == "commit":
                export.commit()
                handed_over = handed_over or not released
            else:
                gave_back = export.release()
                assert gave_back == (not handed_over and not released)
                released = released or gave_back
        counted = DAY - guard.quotas.remaining("ana", "hydrated_objects")
        assert counted == (0 if released else 1)

    def test_value_is_what_was_checked(self):
        """Changing the objects after the export was cleared changes nothing that leaves."""
        user = {"id_str": "1", "screen_name": "a", "name": "A", "protected": False}
        rows = [user]
        export, _, _ = check_export(rows)
        rows.append({"id_str": "2", "text": "a DM", "sender_id": "1"})
        rows[0]["protected"] = True
        assert [{**user, "protected": False}] == export.value


# ---------------------------------------------------------------------------------------
# Caps: per user of the Service and per recipient
# ---------------------------------------------------------------------------------------


class TestBothCaps:
    @given(
        batches=st.lists(
            st.tuples(
                st.sampled_from(["ana", "Ana ", "bob"]),
                st.sampled_from(["lab", "LAB", "uni"]),
                st.integers(0, 30_000),
            ),
            min_size=1,
            max_size=8,
        )
    )
    def test_no_requester_and_no_recipient_over_the_cap(self, batches):
        """Whatever the split, no requester and no recipient gets over 50,000 a day."""
        quotas = twpolicy.open_quotas("memory://")
        by_requester, by_recipient = {}, {}
        for requester, recipient, count in batches:
            granted = quotas.reserve(
                recipient, hydrated_objects=count, requested_by=requester
            ).granted
            if granted:
                key, to = requester.strip().lower(), recipient.lower()
                by_requester[key] = by_requester.get(key, 0) + count
                by_recipient[to] = by_recipient.get(to, 0) + count
        assert all(n <= DAY for n in by_requester.values())
        assert all(n <= DAY for n in by_recipient.values())

    def test_the_person_asking_is_capped_across_recipients(self):
        """50,000 a day per user of the Service, however many recipients they send to."""
        guard = Guard(quotas=twpolicy.open_quotas("memory://"))
        guard.quotas.reserve("first", hydrated_objects=DAY - 1, requested_by="ana")
        user = {"id_str": "1", "screen_name": "a", "name": "A", "protected": False}
        other = {**user, "id_str": "2"}
        with pytest.raises(twpolicy.QuotaExceeded) as info:
            twpolicy.manual_export(
                [user, other], recipient="someone new", requested_by=" ANA", guard=guard
            )
        decision = info.value.decision
        assert ("I.F.2.a", "quota_exceeded") == (decision.clause, decision.reason)
        assert "request of ana" in decision.message
        assert DAY == guard.quotas.remaining("someone new", "hydrated_objects")
        assert 1 == guard.quotas.remaining("ana", "requested_objects")

    def test_the_recipient_is_capped_across_requesters(self):
        """... and 50,000 a day per recipient, however many people ask."""
        guard = Guard(quotas=twpolicy.open_quotas("memory://"))
        guard.quotas.reserve("lab", hydrated_objects=DAY, requested_by="bob")
        user = {"id_str": "1", "screen_name": "a", "name": "A", "protected": False}
        with pytest.raises(twpolicy.QuotaExceeded):
            twpolicy.manual_export([user], recipient="Lab", requested_by="ana", guard=guard)

    def test_no_hydrated_objects_for_the_public(self):
        """Objects exported by hand go to a person, never to the public."""
        user = {"id_str": "1", "screen_name": "a", "name": "A", "protected": False}
        export, error, _ = check_export([user], recipient=twpolicy.PUBLIC)
        assert export is None
        assert "made_public" == error.decision.reason


# ---------------------------------------------------------------------------------------
# Text stuffed into a counted object's own fields
# ---------------------------------------------------------------------------------------

# Text, as the oracle reads it (spaces or non-ASCII), or a string too long for a token.
TEXT = st.text(min_size=1, max_size=40).filter(is_text) | st.text(
    alphabet="abcdefgh", min_size=257, max_size=400
)
MADE_UP = st.from_regex(r"(?:x_|my|notes?_?)[a-z]{1,8}", fullmatch=True)


@st.composite
def stuffed(draw):
    """A public object (a v1.1 Tweet, a v2 page's Tweet, a user) with text smuggled into it."""
    how = draw(st.sampled_from(["field", "nested", "id", "reference"]))
    shape = draw(st.sampled_from(["v1", "v2", "user"]))
    if shape == "v1":
        payload = draw(tws.tweets("v1.1", retweet=False, quote=False).map(public))
        obj = payload
    elif shape == "v2":
        payload = draw(v2_pages())
        obj = payload["data"][0]
    else:
        payload = public(draw(tws.users("v1.1")))
        obj = payload
    text = draw(TEXT)
    if how == "field":
        obj[draw(MADE_UP)] = text
    elif how == "nested":
        obj[draw(MADE_UP)] = draw(
            st.sampled_from([[text], {"a": text}, [{"b": [text]}], {"a": {"b": text}}])
        )
    elif how == "id":
        obj["id_str" if "id_str" in obj else "id"] = text
    else:
        field = {"v1": "in_reply_to_status_id_str", "v2": "author_id"}.get(shape, "id_str")
        obj[field] = text
    return payload


class TestStuffedObjects:
    @given(payload=stuffed())
    @SLOW
    def test_text_in_an_objects_own_fields_is_refused(self, payload):
        """Text in a made-up field, in an ID, or in a reference of a counted object is refused,
        and nothing is counted: a counted object carries only what such an object has."""
        reason = assert_sound(payload)
        assert reason in {"extra_text", "not_an_id", "protection_unknown"}

    @given(payload=stuffed(), strict=st.booleans())
    @SLOW
    def test_ids_only_lets_out_nothing_but_ids(self, payload, strict):
        """@ids_only reduces or refuses a stuffed object: only decimal IDs leave, each counted."""
        guard = Guard(quotas=twpolicy.open_quotas("memory://"))

        @twpolicy.ids_only(guard=guard, recipient="acme", strict=strict)
        def share():
            return payload

        try:
            out = share()
        except (twpolicy.RedistributionError, twpolicy.PayloadError):
            assert MONTH == guard.quotas.remaining("acme")
            return
        assert all(is_id(item) for item in out)
        assert MONTH - len(out) == guard.quotas.remaining("acme")

    def test_instances(self):
        """Text in a made-up field, and text as the ID, of one Tweet."""
        user = {"id_str": "1", "screen_name": "a", "name": "A", "protected": False}
        tweet = {"id_str": "2", "text": "t", "user": user}
        for payload, reason in [
            ({**tweet, "notes": "the text of 60,000 Tweets"}, "extra_text"),
            ({**tweet, "id_str": "the text of 60,000 Tweets"}, "not_an_id"),
            ({**tweet, "x": {"y": ["the text of 60,000 Tweets"]}}, "extra_text"),
            ({**tweet, "text": "the text of 60,000 Tweets " * 5000}, "extra_text"),
            ({**tweet, "entities": {"hashtags": [{"text": "x" * 200_000}]}}, "extra_text"),
        ]:
            export, error, guard = check_export(payload)
            assert export is None
            assert reason == error.decision.reason
            assert DAY == guard.quotas.remaining("ana", "hydrated_objects")
        export, error, _ = check_export({**tweet, "x_unknown": [{**tweet, "id_str": "3"}]})
        assert error is None
        assert 3 == export.decision.count  # two Tweets (the hidden one counts) and the author


class TestStuffedCarriers:
    def test_shared_and_binary_values_in_made_up_fields(self):
        """A made-up field holding the same list twice, or bytes, is read once, and bytes are
        text that is not the object's own."""
        user = {"id_str": "1", "screen_name": "a", "name": "A", "protected": False}
        shared = ["token"]
        tweet = {"id_str": "2", "text": "t", "user": user, "x": [shared, shared, 3]}
        export, error, _ = check_export(tweet)
        assert error is None
        assert 2 == export.decision.count
        for payload in ({**tweet, "x": [b"bytes"]}, {**tweet, "entities": {"x": b"y" * 200_001}}):
            export, error, _ = check_export(payload)
            assert export is None
            assert "extra_text" == error.decision.reason

import inspect
import io
import json
import subprocess
import sys
import warnings

import pytest
import tweepy
from tweepy.asynchronous import AsyncClient as TweepyAsyncClient

import twpolicy
from twpolicy.testing import DecisionRecorder
from twpolicy.testing._replay import Cassette, RecordedResponse, ReplayTransport

#: The account tweepy's cassettes were recorded with (@TweepyDev).
USER = "1072250532645998596"
TWEET = "266367358078169089"
LIST = {"owner_screen_name": "Twitter", "slug": "Official-Twitter-Accounts"}
NOTICE = {"notice": "test-notice", "method": "ui_explicit", "evidence": "test"}

#: The tweepy methods that act on the user's behalf, written out independently of the catalog.
WRITES = {
    # v2
    "bookmark",
    "remove_bookmark",
    "create_tweet",
    "delete_tweet",
    "follow_list",
    "unfollow_list",
    "follow_user",
    "unfollow_user",
    "hide_reply",
    "unhide_reply",
    "like",
    "unlike",
    "create_list",
    "add_list_member",
    "pin_list",
    "remove_list_member",
    "unpin_list",
    "update_list",
    "delete_list",
    "mute",
    "unmute",
    "retweet",
    "unretweet",
    "create_direct_message",
    "create_direct_message_conversation",
    # v1.1
    "indicate_direct_message_typing",
    "add_list_members",
    "remove_list_members",
    "create_block",
    "destroy_block",
    "create_friendship",
    "destroy_friendship",
    "create_favorite",
    "destroy_favorite",
    "destroy_list",
    "simple_upload",
    "chunked_upload",
    "create_saved_search",
    "destroy_saved_search",
    "send_direct_message",
    "delete_direct_message",
    "subscribe_list",
    "unsubscribe_list",
    "update_status",
    "destroy_status",
    "update_profile",
    "update_status_with_media",
}


class Fresh:
    """A file argument made anew for each call (tweepy closes the files it uploads)."""

    def __init__(self, size):
        self.size = size

    def __eq__(self, other):
        return isinstance(other, Fresh) and other.size == self.size

    def __hash__(self):
        return self.size

    def make(self):
        return io.BytesIO(b"\x89PNG\r\n\x1a\n" + bytes(self.size))


def fresh(args, kwargs):
    """``args`` and ``kwargs`` with each `Fresh` replaced by a new file."""
    args = [a.make() if isinstance(a, Fresh) else a for a in args]
    kwargs = {k: v.make() if isinstance(v, Fresh) else v for k, v in kwargs.items()}
    return args, kwargs


def call(method, /, *args, **kwargs):
    """A step of a scenario: call a client method."""
    return ("call", method, args, kwargs)


def single(*steps):
    """A scenario of fixed steps."""

    def script():
        for step in steps:  # noqa: UP028  # `yield from` would forward send() to the tuple
            yield step

    return script


def v2_scenarios(flavour):
    """Each v2 cassette's calls, as generators that receive each call's result."""
    sync = flavour == "client"

    def create_and_delete():
        response = yield call("create_tweet", text="Test Tweet")
        yield call("delete_tweet", response.data["id"])

    def compliance():
        response = yield call("create_compliance_job", "tweets")
        yield call("get_compliance_job", response.data["id"])
        yield call("get_compliance_jobs", "tweets")

    def pinned_lists():
        response = yield call("create_list", "Test List", private=True)
        list_id = response.data["id"]
        yield call("add_list_member", list_id, 783214)
        yield call("pin_list", list_id)
        yield call("get_pinned_lists")
        yield call("remove_list_member", list_id, 783214)
        yield call("unpin_list", list_id)
        yield call("update_list", list_id, description="Test List Description")
        yield call("delete_list", list_id)

    def direct_messages():
        yield call("create_direct_message", participant_id=750362064426721281, text="Testing 1")
        conversation = "750362064426721281-1072250532645998596"
        yield call("create_direct_message", dm_conversation_id=conversation, text="Testing 2")
        yield call(
            "create_direct_message_conversation",
            text="Testing",
            participant_ids=[145336962, 750362064426721281],
        )
        yield call("get_direct_message_events")
        yield call("get_direct_message_events", dm_conversation_id=conversation)
        yield call("get_direct_message_events", participant_id=750362064426721281)

    spaces = ["1YpKkzBgBlVxj", "1OwGWzarWnNKQ"] if sync else ["1ynKOZVRyOwxR", "1mrGmanRNNkGy"]
    creators = [1065249714214457345, 2328002822] if sync else [357750891, 1517225601463205888]
    scenarios = {
        "bookmarks": single(
            call("bookmark", 1507070437557096461),
            call("get_bookmarks"),
            call("remove_bookmark", 1507070437557096461),
        ),
        "create_and_delete_tweet": create_and_delete,
        "create_and_get_compliance_job_and_jobs": compliance,
        "follow_and_unfollow_list": single(
            call("follow_list", 84839422), call("unfollow_list", 84839422)
        ),
        "follow_and_unfollow_user": single(
            call("follow_user", 17874544), call("unfollow_user", 17874544)
        ),
        "get_all_tweets_count": single(call("get_all_tweets_count", "Tweepy")),
        "get_followed_lists": single(call("get_followed_lists", 372575989 if sync else 3015271772)),
        "get_home_timeline": single(call("get_home_timeline")),
        "get_liked_tweets": single(call("get_liked_tweets", 783214)),
        "get_liking_users": single(call("get_liking_users", 1293593516040269825)),
        "get_list": single(call("get_list", 84839422)),
        "get_list_followers": single(call("get_list_followers", 84839422)),
        "get_list_members": single(call("get_list_members", 84839422)),
        "get_list_memberships": single(call("get_list_memberships", 783214)),
        "get_list_tweets": single(call("get_list_tweets", 84839422)),
        "get_me": single(call("get_me")),
        "get_owned_lists": single(call("get_owned_lists", 783214)),
        "get_quote_tweets": single(call("get_quote_tweets", 1293593516040269825)),
        "get_recent_tweets_count": single(call("get_recent_tweets_count", "Tweepy")),
        "get_retweeters": single(call("get_retweeters", 1415348607813832708)),
        "get_space": single(call("get_space", spaces[0])),
        "get_spaces": single(call("get_spaces", ids=spaces), call("get_spaces", user_ids=creators)),
        "get_tweet": single(call("get_tweet", 1293593516040269825)),
        "get_tweets": single(call("get_tweets", [1293593516040269825, 1293595870563381249])),
        "get_user": single(call("get_user", username="Twitter")),
        "get_users": single(call("get_users", usernames=["Twitter", "TwitterDev"])),
        "get_users_followers": single(call("get_users_followers", 783214)),
        "get_users_following": single(call("get_users_following", 783214 if sync else 2244994945)),
        "get_users_mentions": single(call("get_users_mentions", 783214)),
        "get_users_tweets": single(call("get_users_tweets", 783214)),
        "hide_and_unhide_reply": single(
            call("hide_reply", 1344794616005066752), call("unhide_reply", 1344794616005066752)
        ),
        "like_and_unlike": single(
            call("like", 1293593516040269825), call("unlike", 1293593516040269825)
        ),
        "manage_and_get_pinned_lists": pinned_lists,
        "mute_get_muted_and_unmute": single(
            call("mute", 17874544), call("get_muted"), call("unmute", 17874544)
        ),
        "retweet_and_unretweet": single(
            call("retweet", 1415348607813832708), call("unretweet", 1415348607813832708)
        ),
        "search_all_tweets": single(call("search_all_tweets", "Tweepy")),
        "search_recent_tweets": single(call("search_recent_tweets", "Tweepy")),
        "search_spaces": single(call("search_spaces", "Twitter")),
    }
    prefix = "test_client_" if sync else "test_asyncclient_"
    found = {f"{prefix}{name}.yaml": script for name, script in scenarios.items()}
    dms = "test_manage_and_lookup_direct_messages.yaml"
    found[dms if sync else f"test_asyncclient_{dms[5:]}"] = direct_messages
    if sync:
        found["test_client_create_tweet_with_community.yaml"] = single(
            call("create_tweet", text="Test tweet in community", community_id="123456789")
        )
    return found


def v1_scenarios():
    """Each v1.1 cassette's calls."""
    media = Fresh(64)

    return {
        "test_api_indicate_direct_message_typing.yaml": single(
            call("verify_credentials"), call("indicate_direct_message_typing", USER)
        ),
        "testaddremovelistmember.json": single(
            call(
                "add_list_member", slug="test", owner_screen_name="TweepyDev", screen_name="twitter"
            ),
            call(
                "remove_list_member",
                slug="test",
                owner_screen_name="TweepyDev",
                screen_name="twitter",
            ),
        ),
        "testaddremovelistmembers.json": single(
            call(
                "add_list_members",
                screen_name=["Twitter", "TwitterAPI"],
                slug="test",
                owner_screen_name="TweepyDev",
            ),
            call(
                "remove_list_members",
                screen_name=["Twitter", "TwitterAPI"],
                slug="test",
                owner_screen_name="TweepyDev",
            ),
        ),
        "testcachedresult.yaml": single(
            ("cache",),
            call("get_user", screen_name="TweepyDev"),
            ("cached_result",),
            call("get_user", screen_name="Twitter"),
            call("home_timeline"),
            ("cached_result",),
            call("home_timeline"),
            ("cached_result",),
        ),
        "testcreatedestroyblock.yaml": single(
            call("create_block", screen_name="twitter"),
            call("destroy_block", screen_name="twitter"),
            call("create_friendship", screen_name="twitter"),
        ),
        "testcreatedestroyfavorite.json": single(
            call("create_favorite", 145344012), call("destroy_favorite", 145344012)
        ),
        "testcreatedestroyfriendship.yaml": single(
            call("destroy_friendship", screen_name="Twitter"),
            call("create_friendship", screen_name="Twitter"),
        ),
        "testcreateupdatedestroylist.yaml": single(
            call("create_list", name="tweeps"),
            call("update_list", list_id=1442585319442984960, description="updated!"),
            call("destroy_list", list_id=1442585319442984960),
        ),
        "testcursorcursoritems.yaml": single(
            ("items", "get_friend_ids", (), {}, 2),
            ("items", "get_follower_ids", (), {"screen_name": "TweepyDev"}, 1),
        ),
        "testcursorcursorpages.yaml": single(
            ("pages", "get_friend_ids", (), {}, 1),
            ("pages", "get_follower_ids", (), {"screen_name": "TweepyDev"}, 1),
        ),
        "testcursornext.yaml": single(("next", "user_timeline", (), {"screen_name": "Twitter"}, 5)),
        "testgeoapis.json": single(
            call("geo_id", place_id="1ffd3558f2e98349"),
            call("reverse_geocode", lat=30.2673701685, long=-97.7426147461),
        ),
        "testgetblockedids.json": single(call("get_blocked_ids")),
        "testgetblocks.json": single(call("get_blocks")),
        "testgetdirectmessages.json": single(call("get_direct_messages")),
        "testgetfavorites.json": single(call("get_favorites")),
        "testgetfollowerids.yaml": single(call("get_follower_ids", screen_name="TweepyDev")),
        "testgetfollowers.yaml": single(call("get_followers", screen_name="TweepyDev")),
        "testgetfriendids.yaml": single(call("get_friend_ids", screen_name="TweepyDev")),
        "testgetfriends.yaml": single(call("get_friends", screen_name="TweepyDev")),
        "testgetfriendship.json": single(call("get_friendship", target_screen_name="twitter")),
        "testgetlist.json": single(call("get_list", **LIST)),
        "testgetlistmember.json": single(call("get_list_member", **LIST, screen_name="TwitterAPI")),
        "testgetlistmembers.json": single(call("get_list_members", **LIST)),
        "testgetlistmemberships.json": single(call("get_list_memberships")),
        "testgetlistownerships.json": single(call("get_list_ownerships")),
        "testgetlists.json": single(call("get_lists")),
        "testgetlistsubscriber.json": single(
            call("get_list_subscriber", **LIST, screen_name="TwitterMktg")
        ),
        "testgetlistsubscribers.json": single(call("get_list_subscribers", **LIST)),
        "testgetlistsubscriptions.json": single(call("get_list_subscriptions")),
        "testgetoembed.json": single(
            call("get_oembed", f"https://twitter.com/Twitter/status/{TWEET}")
        ),
        "testgetretweeterids.json": single(call("get_retweeter_ids", TWEET)),
        "testgetretweets.json": single(call("get_retweets", TWEET)),
        "testgetretweetsofme.json": single(call("get_retweets_of_me")),
        "testgetstatus.json": single(call("get_status", id=TWEET)),
        "testgetuser.yaml": single(
            call("get_user", screen_name="Twitter"), call("get_user", user_id=783214)
        ),
        "testhometimeline.json": single(call("home_timeline")),
        "testidcursoritems.json": single(("items", "user_timeline", (), {}, 2)),
        "testidcursorpages.json": single(("pages", "user_timeline", (), {"count": 1}, 2)),
        "testlisttimeline.json": single(call("list_timeline", **LIST)),
        "testlookupusers.json": single(
            call("lookup_users", user_id=[6844292, 6253282]),
            call("lookup_users", screen_name=["twitterapi", "twitter"]),
        ),
        "testme.json": single(
            call("verify_credentials"), call("get_user", screen_name="TweepyDev")
        ),
        "testmediauploadgif.yaml": single(call("simple_upload", "animated.gif", file=media)),
        "testmediauploadmp4.yaml": single(
            call(
                "chunked_upload",
                "video.mp4",
                file=Fresh(1577963 - 8),
                file_type="video/mp4",
                wait_for_async_finalize=False,
            )
        ),
        "testmediauploadpng.yaml": single(call("simple_upload", "banner.png", file=media)),
        "testmentionstimeline.json": single(call("mentions_timeline")),
        "testratelimitstatus.json": single(call("rate_limit_status")),
        "testretweetandunretweet.json": single(call("retweet", TWEET), call("unretweet", TWEET)),
        "testsavedsearches.json": single(
            call("create_saved_search", "test"),
            call("get_saved_searches"),
            call("get_saved_search", 1149868003661684736),
            call("destroy_saved_search", 1149868003661684736),
        ),
        "testsearchtweets.json": single(call("search_tweets", "tweepy")),
        "testsearchusers.json": single(call("search_users", "twitter")),
        "testsendanddeletedirectmessage.json": single(
            call("verify_credentials"),
            call("get_user", screen_name="TweepyDev"),
            call("send_direct_message", int(USER), text="test message"),
            call("delete_direct_message", 1150493286110552068),
        ),
        "testsubscribeunsubscribelist.json": single(
            call("subscribe_list", **LIST), call("unsubscribe_list", **LIST)
        ),
        "testsupportedlanguages.json": single(call("supported_languages")),
        "testupdateanddestroystatus.json": single(
            call("update_status", "testing 1000"),
            call("destroy_status", 1149868020346556416),
            call("update_status", status="testing 1000"),
            call("destroy_status", 1149868022850609159),
        ),
        "testupdateprofile.json": single(
            call("verify_credentials"),
            call("get_user", screen_name="TweepyDev"),
            call(
                "update_profile",
                name="Tweepy test 123",
                location="pytopia",
                description="just testing things out",
            ),
            call(
                "update_profile",
                name="Tweepy Testing",
                url="https://t.co/XRfax6xExn",
                location="",
                description="Account used to test Tweepy",
            ),
        ),
        "testupdateprofilecolors.json": single(
            call("verify_credentials"),
            call("get_user", screen_name="TweepyDev"),
            call("update_profile", profile_link_color="D0F900"),
            call("update_profile", profile_link_color="1DA1F2"),
        ),
        "testupdatestatuswithmedia.yaml": single(
            call("update_status_with_media", "testing 1000", "banner.png", file=Fresh(8))
        ),
        "testusertimeline.json": single(
            call("user_timeline"), call("user_timeline", screen_name="Twitter")
        ),
        "testverifycredentials.json": single(
            call("verify_credentials"),
            call("verify_credentials", include_entities=True),
            call("verify_credentials", skip_status=True),
        ),
    }


def normalize(value):  # noqa: PLR0911  # one case per shape tweepy returns
    """A comparable, plain-data form of whatever tweepy returned."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return (type(value).__name__, *(normalize(v) for v in value))
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if hasattr(value, "_json"):
        return (type(value).__name__, value._json)
    if hasattr(value, "data") and hasattr(value, "__slots__"):
        return (type(value).__name__, normalize(value.data))
    if hasattr(value, "__dict__") and type(value).__module__.startswith("tweepy"):
        return (
            type(value).__name__,
            normalize({k: v for k, v in vars(value).items() if k != "_api"}),
        )
    if isinstance(value, BaseException):
        return ("raised", type(value).__name__)
    return value


def wire(request):
    """What a request put on the wire, less what changes each time (OAuth nonces)."""
    content_type = request.headers.get("Content-Type", "")
    body = None if content_type.startswith("multipart/") else request.body
    return (request.method, request.url, body)


def consenting_guard(recorder=None, *, mode="enforce"):
    """A guard whose ledger holds USER's consent for every scope."""
    guard = twpolicy.Guard(
        ledger=twpolicy.open_ledger("memory://"),
        sinks=[] if recorder is None else [recorder],
        mode=mode,
    )
    guard.consent.grant(USER, list(twpolicy.SCOPES), **NOTICE)
    return guard


def empty_guard(recorder=None):
    """An enforcing guard with no consent recorded."""
    return twpolicy.Guard(
        ledger=twpolicy.open_ledger("memory://"), sinks=[] if recorder is None else [recorder]
    )


def make_v1(cls, **kwargs):
    return cls(tweepy.OAuth1UserHandler("key", "secret", f"{USER}-token", "token-secret"), **kwargs)


def make_v2(cls, **kwargs):
    return cls("bearer", "key", "secret", f"{USER}-token", "token-secret", **kwargs)


def run_sync(client, transport, script):
    """Run a scenario; return its concrete steps, each with its result and requests."""
    steps = []
    generator = script()
    result = None
    while True:
        try:
            step = generator.send(result)
        except StopIteration:
            return steps
        before = len(transport.requests)
        result = perform(client, step)
        steps.append((step, normalize(result), [wire(r) for r in transport.requests[before:]]))


def perform(client, step):  # noqa: PLR0911  # one case per kind of step
    op = step[0]
    if op == "cache":
        client.cache = tweepy.MemoryCache()
        return None
    if op == "cached_result":
        return client.cached_result
    _, name, args, kwargs, *limit = step
    method = getattr(client, name)
    args, kwargs = fresh(args, kwargs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if op == "call":
                return method(*args, **kwargs)
            cursor = tweepy.Cursor(method, *args, **kwargs)
            if op == "items":
                return list(cursor.items(limit[0]))
            if op == "pages":
                return list(cursor.pages(limit[0]))
            return next(cursor.items(limit[0]))
    except tweepy.TweepyException as exc:
        return exc


async def run_async(client, transport, script):
    steps = []
    generator = script()
    result = None
    while True:
        try:
            step = generator.send(result)
        except StopIteration:
            return steps
        _, name, args, kwargs = step
        before = len(transport.requests)
        try:
            result = await getattr(client, name)(*args, **kwargs)
        except tweepy.TweepyException as exc:
            result = exc
        steps.append((step, normalize(result), [wire(r) for r in transport.requests[before:]]))


@pytest.fixture(name="cassettes")
def _cassettes(corpus):
    return corpus / "tweepy+tweepy" / "cassettes"


def replay(cassettes, name):
    return ReplayTransport(Cassette.load(cassettes / name))


def check_without_consent(bare_steps, run_one):
    """Run each concrete step alone: exactly the writes are refused, and they send nothing."""
    for step, expected, sent in bare_steps:
        result, requests = run_one(step)
        if step[0] == "call" and step[1] in WRITES:
            assert ("raised", "ConsentRequired") == result, step
            # Only tweepy's own identity lookup (bookmarks) may go before the refused write.
            assert sent[: len(requests)] == requests, step
            assert all(method == "GET" for method, _, _ in requests), step
        else:
            assert (expected, sent) == (result, requests), step


class TestReplayV1:
    @pytest.mark.parametrize("name", sorted(v1_scenarios()))
    def test_same_results_and_requests_as_tweepy(self, cassettes, name):
        """With consent, API returns what tweepy.API returns and sends the same requests."""
        script = v1_scenarios()[name]
        bare = replay(cassettes, name)
        expected = run_sync(bare.install(make_v1(tweepy.API)), bare, script)
        guarded = replay(cassettes, name)
        recorder = DecisionRecorder()
        client = guarded.install(make_v1(twpolicy.API, guard=consenting_guard(recorder)))
        assert expected == run_sync(client, guarded, script)
        assert not recorder.denied
        assert len(recorder) >= len(bare.requests)

    @pytest.mark.parametrize("name", sorted(v1_scenarios()))
    def test_without_consent_only_writes_are_refused(self, cassettes, name):
        """Without consent exactly the write calls raise ConsentRequired, sending nothing."""
        script = v1_scenarios()[name]
        bare = replay(cassettes, name)
        bare_steps = run_sync(bare.install(make_v1(tweepy.API)), bare, script)
        guarded = replay(cassettes, name)
        client = guarded.install(make_v1(twpolicy.API, guard=empty_guard()))

        def run_one(step):
            before = len(guarded.requests)
            result = normalize(perform(client, step))
            return result, [wire(r) for r in guarded.requests[before:]]

        check_without_consent(bare_steps, run_one)


class TestReplayV2:
    @pytest.mark.parametrize("name", sorted(v2_scenarios("client")))
    def test_same_results_and_requests_as_tweepy(self, cassettes, name):
        """With consent, Client returns what tweepy.Client returns and sends the same requests."""
        script = v2_scenarios("client")[name]
        bare = replay(cassettes, name)
        expected = run_sync(bare.install(make_v2(tweepy.Client)), bare, script)
        guarded = replay(cassettes, name)
        client = guarded.install(make_v2(twpolicy.Client, guard=consenting_guard()))
        assert expected == run_sync(client, guarded, script)

    @pytest.mark.parametrize("name", sorted(v2_scenarios("client")))
    def test_without_consent_only_writes_are_refused(self, cassettes, name):
        """Without consent exactly the write calls raise ConsentRequired, sending nothing."""
        script = v2_scenarios("client")[name]
        bare = replay(cassettes, name)
        bare_steps = run_sync(bare.install(make_v2(tweepy.Client)), bare, script)
        guarded = replay(cassettes, name)
        client = guarded.install(make_v2(twpolicy.Client, guard=empty_guard()))

        def run_one(step):
            before = len(guarded.requests)
            result = normalize(perform(client, step))
            return result, [wire(r) for r in guarded.requests[before:]]

        check_without_consent(bare_steps, run_one)

    @pytest.mark.parametrize("return_type", [dict, tweepy.Response])
    def test_paginator(self, cassettes, return_type):
        """tweepy.Paginator drives a guarded client exactly as a bare one."""
        results = []
        for cls in (tweepy.Client, twpolicy.Client):
            transport = replay(cassettes, "test_client_search_recent_tweets.yaml")
            client = transport.install(make_v2(cls, return_type=return_type))
            pages = tweepy.Paginator(client.search_recent_tweets, "Tweepy", limit=1)
            results.append((normalize(list(pages)), [wire(r) for r in transport.requests]))
        assert results[0] == results[1]
        assert results[0][0]

    def test_raw_responses(self, cassettes):
        """return_type=requests.Response gives the same raw responses."""
        bodies = []
        for cls in (tweepy.Client, twpolicy.Client):
            transport = replay(cassettes, "test_client_get_tweet.yaml")
            client = transport.install(make_v2(cls, return_type=tweepy.client.requests.Response))
            response = client.get_tweet(1293593516040269825)
            bodies.append((type(response), response.status_code, response.content))
        assert bodies[0] == bodies[1]


class TestReplayAsync:
    @pytest.mark.parametrize("name", sorted(v2_scenarios("asyncclient")))
    def test_same_results_and_requests_as_tweepy(self, cassettes, name, loop):
        """With consent, AsyncClient returns what tweepy's AsyncClient returns."""
        script = v2_scenarios("asyncclient")[name]
        bare = replay(cassettes, name)
        expected = loop.run_until_complete(
            run_async(bare.install(make_v2(TweepyAsyncClient)), bare, script)
        )
        guarded = replay(cassettes, name)
        client = guarded.install(make_v2(twpolicy.AsyncClient, guard=consenting_guard()))
        assert expected == loop.run_until_complete(run_async(client, guarded, script))

    @pytest.mark.parametrize("name", sorted(v2_scenarios("asyncclient")))
    def test_without_consent_only_writes_are_refused(self, cassettes, name, loop):
        """Without consent exactly the write coroutines raise ConsentRequired, sending nothing."""
        script = v2_scenarios("asyncclient")[name]
        bare = replay(cassettes, name)
        bare_steps = loop.run_until_complete(
            run_async(bare.install(make_v2(TweepyAsyncClient)), bare, script)
        )
        guarded = replay(cassettes, name)
        client = guarded.install(make_v2(twpolicy.AsyncClient, guard=empty_guard()))

        def run_one(step):
            _, name, args, kwargs = step
            before = len(guarded.requests)

            async def one():
                try:
                    return await getattr(client, name)(*args, **kwargs)
                except tweepy.TweepyException as exc:
                    return exc

            result = normalize(loop.run_until_complete(one()))
            return result, [wire(r) for r in guarded.requests[before:]]

        check_without_consent(bare_steps, run_one)


def responder(routes):
    """A transport answering ``{(method, path): document}``; a value may be a RecordedResponse."""

    def respond(request):
        found = routes.get((request.method, request.path))
        if found is None or isinstance(found, RecordedResponse):
            return found
        return RecordedResponse.json(found)

    return ReplayTransport(respond)


ME = {("GET", "/2/users/me"): {"data": {"id": USER, "name": "Dev", "username": "TweepyDev"}}}
POSTED = {("POST", "/2/tweets"): {"data": {"id": "1", "text": "hello"}}}
UPDATED = {("POST", "/1.1/statuses/update.json"): {"id": 1, "id_str": "1", "text": "hello"}}
VERIFIED = {("GET", "/1.1/account/verify_credentials.json"): {"id": int(USER), "id_str": USER}}


def granted(*scopes, **kwargs):
    """A guard whose ledger holds USER's consent for ``scopes``."""
    recorder = kwargs.pop("recorder", None)
    guard = twpolicy.Guard(
        ledger=kwargs.pop("ledger", None) or twpolicy.open_ledger("memory://"),
        sinks=[] if recorder is None else [recorder],
    )
    guard.consent.grant(USER, list(scopes), **NOTICE, **kwargs)
    return guard


class TestDropIn:
    @pytest.mark.parametrize(
        ("ours", "theirs"),
        [
            ("Client", tweepy.Client),
            ("API", tweepy.API),
            ("StreamingClient", tweepy.StreamingClient),
            ("AsyncClient", TweepyAsyncClient),
            ("AsyncStreamingClient", tweepy.asynchronous.AsyncStreamingClient),
        ],
    )
    def test_signature_is_tweepys_plus_three_keywords(self, ours, theirs):
        """Constructors take tweepy's parameters, keyword-only guard, acting_user_id, automated."""
        cls = getattr(twpolicy, ours)
        assert issubclass(cls, theirs)
        mine = dict(inspect.signature(cls).parameters)
        for name in ("guard", "acting_user_id", "automated"):
            assert inspect.Parameter.KEYWORD_ONLY == mine.pop(name).kind
        assert list(inspect.signature(theirs).parameters.values()) == list(mine.values())

    def test_import_does_not_load_aiohttp(self):
        """Importing twpolicy works without the async extra; the async classes load on use."""
        code = (
            "import sys, twpolicy; assert 'aiohttp' not in sys.modules; "
            "twpolicy.AsyncClient; assert 'aiohttp' in sys.modules"
        )
        subprocess.run([sys.executable, "-c", code], check=True)

    @pytest.mark.parametrize("name", ["AsyncClient", "AsyncStreamingClient"])
    def test_without_the_async_extra_the_error_names_it(self, name):
        """Without aiohttp, the async classes name the extra that brings it."""
        code = (
            "import sys; sys.modules['aiohttp'] = None; import twpolicy\n"
            f"try:\n    twpolicy.{name}\n"
            "except twpolicy.ConfigurationError as exc:\n    print(exc)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        )
        assert f"twpolicy.{name} needs aiohttp" in result.stdout
        assert "pip install 'twpolicy[async]'" in result.stdout

    def test_refusal_is_a_tweepy_exception_that_explains_itself(self):
        """ConsentRequired is caught by `except tweepy.TweepyException` and names the fix."""
        transport = responder(POSTED)
        client = transport.install(make_v2(twpolicy.Client, guard=empty_guard()))
        with pytest.raises(tweepy.TweepyException) as info:
            client.create_tweet(text="hello")
        message = str(info.value)
        assert isinstance(info.value, twpolicy.ConsentRequired)
        for part in ("tweet.write", USER, "I.C.1.a", "grant"):
            assert part in message
        assert "hello" not in message
        assert [] == transport.requests

    def test_default_guard_is_resolved_at_call_time(self):
        """A default guard set after the client was built is the one asked."""
        transport = responder(POSTED)
        client = transport.install(make_v2(twpolicy.Client))
        with pytest.raises(twpolicy.ConsentRequired):
            client.create_tweet(text="hello")
        twpolicy.set_default_guard(granted("tweet.write"))
        assert "1" == client.create_tweet(text="hello").data["id"]

    def test_bad_guard_is_a_type_error(self):
        """Passing something that is not a Guard fails at construction."""
        with pytest.raises(TypeError, match=r"twpolicy\.Guard"):
            twpolicy.Client(guard=twpolicy.open_ledger("memory://"))

    @pytest.mark.parametrize("mode", ["warn", "monitor"])
    def test_non_enforcing_modes_send_and_log(self, mode):
        """warn and monitor let the write through and still log the deny."""
        recorder = DecisionRecorder()
        guard = twpolicy.Guard(
            ledger=twpolicy.open_ledger("memory://"), mode=mode, sinks=[recorder]
        )
        transport = responder(POSTED)
        client = transport.install(make_v2(twpolicy.Client, guard=guard))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client.create_tweet(text="hello")
        assert ["POST"] == [r.method for r in transport.requests]
        assert ["no_consent_record"] == [d.reason for d in recorder.denied]
        assert (mode == "warn") == any(
            issubclass(w.category, twpolicy.TwPolicyWarning) for w in caught
        )

    def test_every_request_is_decided_once(self):
        """Reads are decided on too, one decision per request, named by the route pattern."""
        recorder = DecisionRecorder()
        transport = responder(
            {
                ("GET", "/2/tweets/20"): {
                    "data": {"id": "20", "text": "x", "edit_history_tweet_ids": ["20"]}
                }
            }
        )
        client = transport.install(make_v2(twpolicy.Client, guard=empty_guard(recorder)))
        client.get_tweet(20)
        assert ["GET /2/tweets/:id"] == [d.operation for d in recorder]
        assert recorder.decisions[0].allowed

    def test_rate_limit_retry_is_decided_again(self):
        """tweepy's retry after a 429 is decided afresh; the single-use consent is spent once."""
        answers = [
            RecordedResponse(429, "Too Many Requests", (("x-rate-limit-reset", "0"),), b"{}"),
            RecordedResponse.json({"data": {"id": "1", "text": "hello"}}, 201),
        ]
        transport = ReplayTransport(lambda request: answers.pop(0))
        ledger = twpolicy.open_ledger("memory://")
        recorder = DecisionRecorder()
        content = twpolicy.content_sha256({"text": "hello"})
        guard = granted("tweet.write", ledger=ledger, content_sha256=content, recorder=recorder)
        client = transport.install(make_v2(twpolicy.Client, guard=guard, wait_on_rate_limit=True))
        assert "1" == client.create_tweet(text="hello").data["id"]
        assert 2 == len(transport.requests)
        assert 2 == len(recorder)
        assert all(d.allowed for d in recorder)
        assert ["used"] == [e.type.value for e in ledger.events() if e.type.value == "used"]


class TestUnknownRoutes:
    def test_v2_unknown_route_is_refused_before_sending(self):
        """client.request to a route the catalog does not know raises UnknownRoute naming it."""
        transport = responder({})
        client = transport.install(make_v2(twpolicy.Client, guard=granted("tweet.write")))
        with pytest.raises(twpolicy.UnknownRoute, match="POST /2/made/up"):
            client.request("POST", "/2/made/up", json={"x": 1}, user_auth=True)
        assert [] == transport.requests

    def test_v1_unknown_route_from_a_cassette(self, cassettes):
        """geo/similar_places (no tweepy 4.17 method) goes out bare, and is refused guarded."""
        kwargs = {"lat": 37.7821120598956, "long": -122.400612831116}
        kwargs["name"] = "South of Market Child Care"
        bare = replay(cassettes, "testgeoapis.json")
        bare.install(make_v1(tweepy.API)).request("GET", "geo/similar_places", **kwargs)
        assert 1 == len(bare.requests)
        guarded = replay(cassettes, "testgeoapis.json")
        api = guarded.install(make_v1(twpolicy.API, guard=consenting_guard()))
        with pytest.raises(twpolicy.UnknownRoute, match=r"GET /1\.1/geo/similar_places\.json"):
            api.request("GET", "geo/similar_places", **kwargs)
        assert [] == guarded.requests


class TestLocation:
    def test_v2_place_needs_geo_write(self):
        """create_tweet(place_id=...) needs geo.write as well as tweet.write."""
        transport = responder(POSTED)
        client = transport.install(make_v2(twpolicy.Client, guard=granted("tweet.write")))
        with pytest.raises(twpolicy.ConsentRequired, match=r"geo\.write") as info:
            client.create_tweet(text="hello", place_id="5a110d312052166f")
        assert "I.C.5" == info.value.decision.clause
        assert [] == transport.requests
        client = transport.install(
            make_v2(twpolicy.Client, guard=granted("tweet.write", "geo.write"))
        )
        client.create_tweet(text="hello", place_id="5a110d312052166f")
        assert {"text": "hello", "geo": {"place_id": "5a110d312052166f"}} == transport.requests[
            0
        ].json()

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"lat": 37.78},
            {"long": -122.4},
            {"place_id": "5a110d312052166f"},
            {"display_coordinates": True},
        ],
    )
    def test_v1_geotag_needs_geo_write(self, kwargs):
        """update_status with any location parameter needs geo.write."""
        transport = responder(UPDATED)
        api = transport.install(make_v1(twpolicy.API, guard=granted("tweet.write")))
        with pytest.raises(twpolicy.ConsentRequired, match=r"geo\.write"):
            api.update_status("hello", **kwargs)
        assert [] == transport.requests
        api = transport.install(make_v1(twpolicy.API, guard=granted("tweet.write", "geo.write")))
        api.update_status("hello", **kwargs)
        assert 1 == len(transport.requests)

    def test_stray_geotag_on_any_v1_call(self):
        """A stray lat= on a read is a geotag too: it needs geo.write and an acting user."""
        routes = {("GET", "/1.1/statuses/show.json"): {"id": 1, "id_str": "1"}}
        transport = responder(routes)
        api = transport.install(make_v1(twpolicy.API, guard=granted("tweet.write")))
        with pytest.raises(twpolicy.ConsentRequired, match=r"geo\.write"):
            api.get_status(1, lat=37.78, long=-122.4)
        assert [] == transport.requests
        api.get_status(1)
        assert 1 == len(transport.requests)

    def test_location_lookups_are_not_geotags(self):
        """reverse_geocode's own lat/long are a lookup: no consent needed."""
        routes = {("GET", "/1.1/geo/reverse_geocode.json"): {"result": {"places": []}}}
        transport = responder(routes)
        api = transport.install(make_v1(twpolicy.API, guard=empty_guard()))
        api.reverse_geocode(lat=30.2, long=-97.7)
        assert 1 == len(transport.requests)

    def test_geo_responses_never_enter_the_cache(self, cassettes):
        """With tweepy's cache on, geo_id asks the API each time; other reads are cached."""
        transport = ReplayTransport(Cassette.load(cassettes / "testgeoapis.json"), repeat=True)
        api = transport.install(
            make_v1(twpolicy.API, guard=empty_guard(), cache=tweepy.MemoryCache())
        )
        for _ in range(2):
            api.geo_id(place_id="1ffd3558f2e98349")
            assert not api.cached_result
        assert 2 == len(transport.requests)
        assert 0 == api.cache.count()


class RacedLedger:
    """Delegates to a ledger; another process claims the record just before this one."""

    def __init__(self, inner):
        self.inner = inner

    def check(self, *args, **kwargs):
        return self.inner.check(*args, **kwargs)

    def claim(self, record_id, claim, *, until):
        self.inner.claim(record_id, "another-process", until=until)  # it wins
        return self.inner.claim(record_id, claim, until=until)

    def use(self, record_id, *, claim=None):
        return self.inner.use(record_id, claim=claim)

    def release_claim(self, record_id, claim, *, reason=""):
        return self.inner.release_claim(record_id, claim, reason=reason)


class TestContentBoundConsent:
    def test_matching_content_goes_through_once(self):
        """A consent bound to the post's hash lets exactly that post through, once."""
        ledger = twpolicy.open_ledger("memory://")
        content = twpolicy.content_sha256({"text": "hello"})
        guard = granted("tweet.write", ledger=ledger, content_sha256=content)
        transport = responder(POSTED)
        client = transport.install(make_v2(twpolicy.Client, guard=guard))
        with pytest.raises(twpolicy.ConsentRequired):
            client.create_tweet(text="hello, edited")
        client.create_tweet(text="hello")
        assert ["used"] == [e.type.value for e in ledger.events() if e.type.value == "used"]
        with pytest.raises(twpolicy.ConsentRequired):
            client.create_tweet(text="hello")
        assert [{"text": "hello"}] == [r.json() for r in transport.requests]

    def test_a_consent_spent_by_another_process_is_refused(self):
        """Losing the race for a single-use consent refuses the post and sends nothing."""

        ledger = twpolicy.open_ledger("memory://")
        content = twpolicy.content_sha256({"text": "hello"})
        ledger.grant(USER, ["tweet.write"], content_sha256=content, **NOTICE)
        recorder = DecisionRecorder()
        guard = twpolicy.Guard(ledger=RacedLedger(ledger), sinks=[recorder])
        transport = responder(POSTED)
        client = transport.install(make_v2(twpolicy.Client, guard=guard))
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.create_tweet(text="hello")
        assert "single_use_consent_taken" == info.value.decision.reason
        assert [] == transport.requests
        assert ["deny"] == [d.effect.value for d in recorder]

    def test_a_ledger_that_cannot_hold_single_use_consent_fails_closed(self):
        """A custom ledger without claim/use cannot spend a single-use consent: refused."""

        class CheckOnly:
            def __init__(self, inner):
                self.inner = inner

            def check(self, *args, **kwargs):
                return self.inner.check(*args, **kwargs)

        ledger = twpolicy.open_ledger("memory://")
        content = twpolicy.content_sha256({"text": "hello"})
        ledger.grant(USER, ["tweet.write"], content_sha256=content, **NOTICE)
        guard = twpolicy.Guard(ledger=CheckOnly(ledger))
        transport = responder(POSTED)
        client = transport.install(make_v2(twpolicy.Client, guard=guard))
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.create_tweet(text="hello")
        assert "obligation_failed" == info.value.decision.reason
        assert [] == transport.requests

    def test_v1_parameters_are_hashed_as_sent(self):
        """For v1.1 the hash covers the parameters as the strings tweepy sends."""
        content = twpolicy.content_sha256({"status": "hello", "lat": "1.5", "long": "2.5"})
        guard = granted("tweet.write", "geo.write", content_sha256=content)
        transport = responder(UPDATED)
        api = transport.install(make_v1(twpolicy.API, guard=guard))
        api.update_status("hello", lat=1.5, long=2.5)
        with pytest.raises(twpolicy.ConsentRequired):
            api.update_status("hello", lat=1.5, long=2.6)
        assert 1 == len(transport.requests)

    def test_decision_carries_the_hash_not_the_text(self):
        """The decision log names the content by hash only."""
        recorder = DecisionRecorder()
        transport = responder(POSTED)
        client = transport.install(
            make_v2(twpolicy.Client, guard=granted("tweet.write", recorder=recorder))
        )
        client.create_tweet(text="secret words")
        record = json.dumps(recorder.decisions[0].to_record())
        assert twpolicy.content_sha256({"text": "secret words"}) in record
        assert "secret words" not in record


class TestActingUser:
    def test_oauth2_user_is_looked_up_once(self):
        """Without a token prefix the user is looked up through tweepy's own get_me, once."""
        transport = responder({**ME, **POSTED})
        client = transport.install(
            twpolicy.Client("oauth2-user-token", guard=granted("tweet.write"))
        )
        client.create_tweet(text="hello", user_auth=False)
        client.create_tweet(text="hello", user_auth=False)
        assert ["/2/users/me", "/2/tweets", "/2/tweets"] == [r.path for r in transport.requests]

    def test_route_user_is_confirmed_by_the_token_owner(self):
        """A route naming a user is the application's word: one lookup confirms it."""
        liked = {("POST", f"/2/users/{USER}/likes"): {"data": {"liked": True}}}
        transport = responder({**ME, **liked})
        client = transport.install(
            twpolicy.Client("oauth2-user-token", guard=granted("like.write"))
        )
        client.request("POST", f"/2/users/{USER}/likes", json={"tweet_id": "1"})
        client.request("POST", f"/2/users/{USER}/likes", json={"tweet_id": "2"})
        assert ["/2/users/me", f"/2/users/{USER}/likes", f"/2/users/{USER}/likes"] == [
            r.path for r in transport.requests
        ]

    def test_route_user_who_is_not_the_token_owner_is_refused(self):
        """A like routed for another user than the token's owner is refused, nothing sent."""
        other = "2244994945"
        transport = responder({**ME, ("POST", f"/2/users/{other}/likes"): {"data": {}}})
        guard = granted("like.write")
        guard.consent.grant(other, ["like.write"], **NOTICE)  # the other user consented
        client = transport.install(twpolicy.Client("oauth2-user-token", guard=guard))
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.request("POST", f"/2/users/{other}/likes", json={"tweet_id": "1"})
        assert "actor_mismatch" == info.value.decision.reason
        assert ["/2/users/me"] == [r.path for r in transport.requests]

    def test_async_oauth2_user_is_looked_up_once(self, loop):
        """AsyncClient finds an OAuth 2.0 user through tweepy's own cached lookup, once."""
        transport = responder({**ME, **POSTED})
        client = transport.install(
            twpolicy.AsyncClient("oauth2-async-token", guard=granted("tweet.write"))
        )

        async def post_twice():
            await client.create_tweet(text="hello", user_auth=False)
            await client.create_tweet(text="hello", user_auth=False)

        loop.run_until_complete(post_twice())
        assert ["/2/users/me", "/2/tweets", "/2/tweets"] == [r.path for r in transport.requests]

    def test_explicit_acting_user_is_confirmed_once(self):
        """acting_user_id= is the application's word: one lookup of the token owner confirms it."""
        transport = responder({**ME, **POSTED})
        client = transport.install(
            twpolicy.Client("oauth2-user-token", guard=granted("tweet.write"), acting_user_id=USER)
        )
        client.create_tweet(text="hello", user_auth=False)
        client.create_tweet(text="hello", user_auth=False)
        assert ["/2/users/me", "/2/tweets", "/2/tweets"] == [r.path for r in transport.requests]

    def test_failed_lookup_refuses(self):
        """If the user cannot be found out, the write is refused (fail closed), nothing posted."""
        unauthorized = RecordedResponse(401, "Unauthorized", (), b'{"title": "Unauthorized"}')
        transport = responder({("GET", "/2/users/me"): unauthorized, **POSTED})
        client = transport.install(twpolicy.Client("bad-token", guard=granted("tweet.write")))
        with pytest.raises(twpolicy.ConsentRequired) as info:
            client.create_tweet(text="hello", user_auth=False)
        assert info.value.decision.reason in {"no_acting_user", "actor_unverified"}
        assert ["/2/users/me"] == [r.path for r in transport.requests]

    def test_v1_lookup_once(self):
        """A v1.1 token without a user prefix: verify_credentials once, then remembered."""
        transport = responder({**VERIFIED, **UPDATED})
        api = transport.install(
            twpolicy.API(tweepy.OAuth1UserHandler("k", "s", "", ""), guard=granted("tweet.write"))
        )
        api.update_status("hello")
        api.update_status("hello")
        paths = [r.path for r in transport.requests]
        assert ["/1.1/account/verify_credentials.json"] + ["/1.1/statuses/update.json"] * 2 == paths

    def test_v1_learns_from_the_applications_own_lookup(self, cassettes):
        """An app that called verify_credentials itself causes no second lookup."""
        name = "testsendanddeletedirectmessage.json"
        script = v1_scenarios()[name]
        empty_token = tweepy.OAuth1UserHandler("k", "s", "", "")
        bare = replay(cassettes, name)
        expected = run_sync(bare.install(tweepy.API(empty_token)), bare, script)
        guarded = replay(cassettes, name)
        api = guarded.install(twpolicy.API(empty_token, guard=consenting_guard()))
        assert expected == run_sync(api, guarded, script)


class StreamDenied:
    """A rule refusing every stream payload that carries the word in its bytes."""

    id = "test.stream"
    clause = "I.B.7"
    error = twpolicy.StandaloneGeoError

    def evaluate(self, action, guard):
        if action.kind is twpolicy.ActionKind.STREAM_DATA and b"refuse" in action.payload:
            return twpolicy.Outcome.deny("test", "refused for the test.", "none.")
        return None


STREAM = (
    b'{"data": {"id": "1", "text": "one", "edit_history_tweet_ids": ["1"]}}\n\n'
    b'{"data": {"id": "2", "text": "refuse", "edit_history_tweet_ids": ["2"]}}\n'
)


def stream_guard(recorder):
    return twpolicy.Guard(
        ledger=twpolicy.open_ledger("memory://"),
        rules=[*twpolicy.default_rules(), StreamDenied()],
        sinks=[recorder],
    )


class TestStreams:
    def stream_transport(self):
        answered = []

        def respond(request):
            if request.path.endswith("/stream") and not answered:
                answered.append(request)
                return RecordedResponse(200, "OK", (), STREAM)
            return None

        return ReplayTransport(respond)

    @pytest.mark.parametrize("override", [False, True])
    def test_payloads_pass_the_guard_before_callbacks(self, override):
        """Each payload is decided on first; a refused one never reaches on_tweet."""
        seen = []

        class Listener(twpolicy.StreamingClient):
            def on_tweet(self, tweet):
                seen.append(tweet.id)

            def on_closed(self, response):
                self.disconnect()

            def on_exception(self, exception):
                raise AssertionError(exception)

        if override:

            class Listener(Listener):  # a subclass overriding on_data
                def on_data(self, raw_data):
                    super().on_data(raw_data)

        recorder = DecisionRecorder()
        client = Listener("bearer", guard=stream_guard(recorder))
        transport = self.stream_transport()
        transport.install(client)
        client.filter()
        assert [1] == seen
        kinds = [(d.action_kind.value, d.effect.value) for d in recorder]
        assert [("api_call", "allow"), ("stream_data", "allow"), ("stream_data", "deny")] == kinds
        assert "GET /2/tweets/search/stream" == recorder.decisions[1].operation

    def test_async_payloads_pass_the_guard(self, loop):
        """The async stream decides on each payload before its callbacks."""
        seen = []

        class Listener(twpolicy.AsyncStreamingClient):
            async def on_tweet(self, tweet):
                seen.append(tweet.id)

            async def on_data(self, raw_data):
                await super().on_data(raw_data)

            async def on_closed(self, response):
                self.disconnect()

        recorder = DecisionRecorder()
        client = Listener("bearer", guard=stream_guard(recorder))
        self.stream_transport().install(client)

        async def run():
            await client.sample()

        loop.run_until_complete(run())
        assert [1] == seen
        assert ["allow", "allow", "deny"] == [d.effect.value for d in recorder]

    def test_rules_are_app_level(self):
        """Stream rule management needs no user consent."""
        routes = {("POST", "/2/tweets/search/stream/rules"): {"data": [{"id": "1", "value": "x"}]}}
        transport = responder(routes)
        client = transport.install(twpolicy.StreamingClient("bearer", guard=empty_guard()))
        client.add_rules(tweepy.StreamRule("x"))
        assert 1 == len(transport.requests)

import asyncio
import threading
from datetime import datetime, timezone

import pytest
import requests
import tweepy
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule
from tweepy.asynchronous import AsyncClient

import twpolicy
from payload_shapes import kind_of, unseen_keys
from twpolicy import ConfigurationError
from twpolicy.testing import (
    DEFAULT_USER_ID,
    DecisionLog,
    FakeXAPI,
    TwPolicyOptions,
    fresh_guard,
)

OTHER = "1500000000000000002"
SF = "5a110d312052166f"
DOGPATCH = "1ffd3558f2e98349"


def ids(objects):
    """The IDs of tweepy objects (which hold them as integers), as strings."""
    return [str(obj.id) for obj in objects or ()]


APP = "app-only-bearer"


def credentials(fake):
    """A bearer token and OAuth 1.0a credentials of the fake's user, as client arguments."""
    return {
        "bearer_token": APP,
        "consumer_key": "key",
        "consumer_secret": "secret",
        "access_token": fake.access_token(),
        "access_token_secret": "token-secret",
    }


def make_client(fake, **kwargs):
    """A plain tweepy.Client with the fake user's credentials, on the fake."""
    return fake.install(tweepy.Client(**{**credentials(fake), **kwargs}))


def make_api(fake, **kwargs):
    """A plain tweepy.API with OAuth 1.0a credentials of the fake's user, on the fake."""
    auth = tweepy.OAuth1UserHandler("key", "secret", fake.access_token(), "token-secret")
    return fake.install(tweepy.API(auth, **kwargs))


@pytest.fixture(name="fake")
def _fake():
    """A fresh fake X API."""
    return FakeXAPI(app_tokens=[APP])


@pytest.fixture(name="client")
def _client(fake):
    """A tweepy.Client on the fake."""
    return make_client(fake)


@pytest.fixture(name="api")
def _api(fake):
    """A tweepy.API (v1.1) on the fake."""
    return make_api(fake)


class TestTransport:
    def test_requests_session_is_answered_by_the_fake(self, fake, client):
        """A plain tweepy.Client talks to the fake, which records the request."""
        tweet_id = client.create_tweet(text="hello").data["id"]
        [request] = fake.requests
        assert ("POST", "POST /2/tweets", 201) == (request.method, request.route, request.status)
        assert {"text": "hello"} == request.json
        assert DEFAULT_USER_ID == request.user_id
        assert tweet_id in fake.tweets

    def test_other_hosts_never_reach_the_network(self, fake, client):
        """A request to any other host fails with a connection error naming the fake."""
        with pytest.raises(requests.ConnectionError, match="never reach the network"):
            client.session.get("https://example.com/")

    def test_api_survives_session_close(self, fake, api):
        """tweepy.API closes its session after every call; the fake keeps answering."""
        api.update_status("one")
        api.update_status("two")
        assert ["two", "one"] == [status.text for status in api.user_timeline()]

    def test_async_client(self, fake):
        """AsyncClient requests go through real aiohttp machinery to the fake."""
        client = fake.install(AsyncClient(**credentials(fake)))

        async def scenario():
            created = await client.create_tweet(text="async hello")
            return await client.get_tweet(created.data["id"], expansions="author_id")

        fetched = asyncio.run(scenario())
        assert "async hello" == fetched.data.text
        assert [DEFAULT_USER_ID] == ids(fetched.includes["users"])
        # A second event loop works too: nothing is bound to the first one.
        assert 1 == len(asyncio.run(client.get_users_tweets(DEFAULT_USER_ID)).data)

    def test_async_other_hosts_are_refused(self, fake):
        """The aiohttp connector refuses hosts other than X's."""
        import aiohttp  # noqa: PLC0415

        session = fake.install(AsyncClient(bearer_token=APP)).session

        async def scenario():
            async with session.request("GET", "https://example.com/") as response:
                return response.status

        with pytest.raises(aiohttp.ClientConnectionError, match="never reach the network"):
            asyncio.run(scenario())

    def test_async_chunked_body(self, fake):
        """A streamed (chunked) request body reaches the fake whole."""
        session = fake.install(AsyncClient(bearer_token=APP)).session

        async def chunks():
            yield b'{"text": "in '
            yield b'two parts"}'

        async def scenario():
            headers = {"Authorization": f'OAuth oauth_token="{fake.access_token()}"'}
            headers["Content-Type"] = "application/json"
            url = "https://api.twitter.com/2/tweets"
            async with session.request("POST", url, data=chunks(), headers=headers) as response:
                return response.status, await response.json()

        status, body = asyncio.run(scenario())
        assert (201, "in two parts") == (status, body["data"]["text"])

    def test_async_errors_are_tweepy_errors(self, fake):
        """An error answer reaches AsyncClient as tweepy's exception, with the API's message."""
        client = fake.install(AsyncClient(bearer_token=APP))
        with pytest.raises(tweepy.Forbidden, match="Application-Only is forbidden"):
            asyncio.run(client.get_me(user_auth=False))

    def test_install_refuses_other_objects(self, fake):
        """Installing on something that is not a tweepy client is a configuration error."""
        with pytest.raises(ConfigurationError, match="object"):
            fake.install(object())


class TestTweets:
    def test_create_then_get(self, fake, client):
        """A created tweet can be read back, with fields and expansions."""
        tweet_id = client.create_tweet(text="hi #tests @another_account").data["id"]
        response = client.get_tweet(
            tweet_id,
            tweet_fields=["author_id", "created_at", "entities", "public_metrics"],
            expansions=["author_id", "entities.mentions.username"],
        )
        assert DEFAULT_USER_ID == str(response.data.author_id)
        assert [{"start": 3, "end": 9, "tag": "tests"}] == response.data.entities["hashtags"]
        assert {DEFAULT_USER_ID, OTHER} == set(ids(response.includes["users"]))

    def test_unknown_tweet_is_an_error_entry(self, client):
        """A lookup of an unknown ID answers 200 with a resource-not-found error, as X does."""
        response = client.get_tweet("20")
        assert response.data is None
        assert ["Could not find tweet with id: [20]."] == [e["detail"] for e in response.errors]

    def test_lookup_of_several(self, fake, client):
        """A multi-ID lookup returns the ones found and errors for the rest."""
        found = fake.add_tweet("seeded")
        response = client.get_tweets([found, "20"])
        assert [found] == ids(response.data)
        assert ["20"] == [error["value"] for error in response.errors]

    def test_delete(self, client):
        """A deleted tweet is gone."""
        tweet_id = client.create_tweet(text="short-lived").data["id"]
        assert {"deleted": True} == client.delete_tweet(tweet_id).data
        assert client.get_tweet(tweet_id).data is None

    def test_delete_someone_elses(self, fake, client):
        """Deleting another user's tweet is forbidden."""
        with pytest.raises(tweepy.Forbidden, match="not allowed to delete"):
            client.delete_tweet(fake.add_tweet("not yours"))

    def test_write_on_unknown_tweet_is_404(self, client):
        """Writes that name a tweet that does not exist answer 404."""
        with pytest.raises(tweepy.NotFound, match="Could not find tweet"):
            client.like("20")

    def test_duplicate_and_too_long(self, client):
        """Duplicates are forbidden and over-long text is refused, as on X."""
        client.create_tweet(text="same")
        with pytest.raises(tweepy.Forbidden, match="duplicate"):
            client.create_tweet(text="same")
        with pytest.raises(tweepy.BadRequest, match="too long"):
            client.create_tweet(text="x" * 281)

    def test_reply_quote_and_geo(self, fake, client):
        """Replies, quotes and places are kept and expanded."""
        parent = fake.add_tweet("parent")
        reply = client.create_tweet(
            text="reply", in_reply_to_tweet_id=parent, quote_tweet_id=parent, place_id=DOGPATCH
        ).data["id"]
        response = client.get_tweet(
            reply,
            tweet_fields=["referenced_tweets", "in_reply_to_user_id", "conversation_id", "geo"],
            expansions=["referenced_tweets.id", "geo.place_id", "in_reply_to_user_id"],
            place_fields=["full_name", "country_code"],
        )
        assert {"quoted", "replied_to"} == {ref["type"] for ref in response.data.referenced_tweets}
        assert (OTHER, parent) == tuple(
            map(str, (response.data.in_reply_to_user_id, response.data.conversation_id))
        )
        assert {"place_id": DOGPATCH} == response.data.geo
        assert ["Dogpatch, San Francisco"] == [p.full_name for p in response.includes["places"]]
        assert [parent] == ids(response.includes["tweets"])

    def test_unknown_field_is_bad_request(self, client):
        """An unknown field name is refused with X's invalid-request error."""
        with pytest.raises(tweepy.BadRequest, match="is not one of"):
            client.get_tweet("20", tweet_fields=["colour"])

    def test_search_paginates(self, fake, client):
        """Search pages through meta.next_token until every match was returned, newest first."""
        made = [fake.add_tweet(f"needle {n}") for n in range(25)]
        fake.add_tweet("haystack")
        pages = list(tweepy.Paginator(client.search_recent_tweets, "needle", max_results=10))
        assert [10, 10, 5] == [page.meta["result_count"] for page in pages]
        assert made[::-1] == [str(tweet.id) for page in pages for tweet in page.data]
        assert "next_token" not in pages[-1].meta

    def test_search_operators(self, fake, client):
        """from:, is:retweet and negation narrow a search."""
        mine = client.create_tweet(text="topic from me").data["id"]
        fake.add_tweet("topic from them")
        client.retweet(fake.add_tweet("topic to retweet"))
        found = client.search_recent_tweets("topic from:twpolicy_tester -is:retweet")
        assert [mine] == ids(found.data)

    def test_bad_page_size_and_token(self, client):
        """max_results out of range and unknown tokens are refused."""
        with pytest.raises(tweepy.BadRequest, match="max_results"):
            client.search_recent_tweets("x", max_results=5)
        forged = "not-one-of-ours"
        with pytest.raises(tweepy.BadRequest, match="next_token"):
            client.search_recent_tweets("x", next_token=forged)

    def test_timelines(self, fake, client):
        """User, mention and home timelines hold the right tweets."""
        own = client.create_tweet(text="mine").data["id"]
        theirs = fake.add_tweet("hey @twpolicy_tester")
        assert [own] == ids(client.get_users_tweets(DEFAULT_USER_ID).data)
        assert [theirs] == ids(client.get_users_mentions(DEFAULT_USER_ID).data)
        assert [own] == ids(client.get_home_timeline().data)
        client.follow_user(OTHER)
        assert [theirs, own] == ids(client.get_home_timeline().data)

    def test_since_and_until(self, fake, client):
        """Timelines and search keep only tweets strictly between since_id and until_id."""
        first, second, third = (fake.add_tweet(f"@twpolicy_tester n{n}") for n in range(3))
        mentions = client.get_users_mentions(DEFAULT_USER_ID, since_id=first, until_id=third)
        assert [second] == ids(mentions.data)
        assert [third] == ids(client.search_recent_tweets("n", since_id=second).data)
        with pytest.raises(tweepy.BadRequest, match="since_id"):
            client.get_users_tweets(OTHER, since_id="yesterday")

    def test_hide_reply(self, fake, client):
        """Replies to the user's own conversation can be hidden; others cannot."""
        root = client.create_tweet(text="root").data["id"]
        reply = fake.add_tweet("a reply", reply_to=root)
        assert {"hidden": True} == client.hide_reply(reply).data
        with pytest.raises(tweepy.Forbidden, match="hide replies"):
            client.hide_reply(fake.add_tweet("another", reply_to=fake.add_tweet("theirs")))

    @settings(max_examples=25)
    @given(text=st.text(min_size=1, max_size=280).filter(str.strip))
    def test_any_text_round_trips(self, text):
        """Whatever the text, it comes back as it was sent, through HTTP and JSON."""
        fake = FakeXAPI(app_tokens=[APP])
        client = make_client(fake)
        tweet_id = client.create_tweet(text=text).data["id"]
        assert text == client.get_tweet(tweet_id).data.text


class TestAuthentication:
    def test_app_only_cannot_act(self, fake):
        """An app-only bearer token cannot use a user-context route."""
        client = fake.install(tweepy.Client(bearer_token=APP))
        with pytest.raises(tweepy.Forbidden, match="Application-Only is forbidden"):
            client.create_tweet(text="hi", user_auth=False)

    @pytest.mark.parametrize("token", ["not-a-token-the-fake-gave", "None", ""])
    def test_unknown_bearer_token_is_unauthorized(self, fake, token):
        """A bearer token the fake never gave out is answered 401, not taken as app-only."""
        client = fake.install(tweepy.Client(bearer_token=token or "x"))
        client.bearer_token = token
        with pytest.raises(tweepy.Unauthorized):
            client.get_tweet("20")
        assert [401] == [r.status for r in fake.requests]

    def test_the_fakes_own_app_token(self):
        """app_token() is accepted without being registered."""
        fake = FakeXAPI()
        tweet_id = fake.add_tweet("public")
        client = fake.install(tweepy.Client(bearer_token=fake.app_token()))
        assert "public" == client.get_tweet(tweet_id).data.text

    def test_no_credentials(self, fake):
        """Without credentials every request is unauthorized."""
        client = fake.install(tweepy.Client())
        with pytest.raises(tweepy.Unauthorized):
            client.get_tweet("20")

    def test_cannot_act_as_someone_else(self, fake, client):
        """A route naming another user than the authenticated one is forbidden."""
        with pytest.raises(tweepy.Forbidden, match="not the same as the authenticated user"):
            client.request(
                "POST", f"/2/users/{OTHER}/likes", json={"tweet_id": "1"}, user_auth=True
            )

    def test_oauth2_user_context(self, fake):
        """An OAuth 2.0 user token acts as its user; tweepy looks the user up first."""
        client = fake.install(tweepy.Client(bearer_token=fake.user_token(OTHER)))
        tweet_id = fake.add_tweet("like me", author_id=DEFAULT_USER_ID)
        client.like(tweet_id, user_auth=False)
        assert [OTHER] == [r.user_id for r in fake.calls("POST /2/users/:id/likes")]
        fake.assert_called("GET /2/users/me", times=1)

    def test_unknown_oauth1_user(self, fake):
        """An access token for an unknown user is an invalid token."""
        api = fake.install(tweepy.API(tweepy.OAuth1UserHandler("k", "s", "99-x", "t")))
        with pytest.raises(tweepy.Unauthorized, match="89 - Invalid or expired token"):
            api.verify_credentials()


class TestRelationships:
    def test_likes(self, fake, client):
        """Likes show on both sides and in public metrics, and can be undone."""
        tweet_id = fake.add_tweet("likeable")
        client.like(tweet_id)
        assert [DEFAULT_USER_ID] == ids(client.get_liking_users(tweet_id).data)
        assert [tweet_id] == ids(client.get_liked_tweets(DEFAULT_USER_ID).data)
        metrics = client.get_tweet(tweet_id, tweet_fields="public_metrics").data.public_metrics
        assert 1 == metrics["like_count"]
        assert {"liked": False} == client.unlike(tweet_id).data
        assert client.get_liking_users(tweet_id).data is None

    def test_retweets(self, fake, client):
        """A retweet is a tweet of its own that references the original."""
        original = fake.add_tweet("worth sharing")
        assert {"retweeted": True} == client.retweet(original).data
        [retweet] = client.get_users_tweets(DEFAULT_USER_ID, tweet_fields="referenced_tweets").data
        assert "RT @another_account: worth sharing" == retweet.text
        assert [("retweeted", original)] == [(r.type, str(r.id)) for r in retweet.referenced_tweets]
        assert [DEFAULT_USER_ID] == ids(client.get_retweeters(original).data)
        client.unretweet(original)
        assert client.get_users_tweets(DEFAULT_USER_ID).data is None

    def test_follows(self, fake, client):
        """Following a protected account is pending; others are followed at once."""
        locked = fake.add_user(username="locked", protected=True)
        assert {"following": False, "pending_follow": True} == client.follow_user(locked).data
        assert {"following": True, "pending_follow": False} == client.follow_user(OTHER).data
        assert [OTHER] == ids(client.get_users_following(DEFAULT_USER_ID).data)
        assert [DEFAULT_USER_ID] == ids(client.get_users_followers(OTHER).data)
        client.unfollow_user(OTHER)
        assert client.get_users_following(DEFAULT_USER_ID).data is None

    def test_mutes_and_bookmarks(self, fake, client):
        """Mutes and bookmarks are private lists of the acting user."""
        client.mute(OTHER)
        assert [OTHER] == ids(client.get_muted().data)
        client.unmute(OTHER)
        assert client.get_muted().data is None
        tweet_id = fake.add_tweet("keep for later")
        fake_token_client = fake.install(tweepy.Client(bearer_token=fake.user_token()))
        fake_token_client.bookmark(tweet_id)
        assert [tweet_id] == ids(fake_token_client.get_bookmarks().data)
        assert client.get_blocked().data is None

    def test_lists(self, fake, client):
        """Lists can be created, filled, followed, pinned, read and deleted."""
        list_id = client.create_list("Friends", private=True).data["id"]
        client.add_list_member(list_id, OTHER)
        tweet_id = fake.add_tweet("list content")
        assert [OTHER] == ids(client.get_list_members(list_id).data)
        assert [tweet_id] == ids(client.get_list_tweets(list_id).data)
        client.pin_list(list_id)
        assert [list_id] == ids(client.get_pinned_lists().data)
        client.follow_list(list_id)
        assert [list_id] == ids(client.get_followed_lists(DEFAULT_USER_ID).data)
        info = client.get_list(list_id, list_fields=["member_count", "private", "owner_id"])
        assert (1, True, DEFAULT_USER_ID) == (
            info.data.member_count,
            info.data.private,
            info.data.owner_id,
        )
        assert {"updated": True} == client.update_list(list_id, description="close").data
        assert {"deleted": True} == client.delete_list(list_id).data
        assert client.get_pinned_lists().data is None
        with pytest.raises(tweepy.NotFound):
            client.get_list(list_id)

    def test_direct_messages(self, fake, client):
        """DMs create conversations whose events the participants can read."""
        sent = client.create_direct_message(participant_id=OTHER, text="psst").data
        assert f"{DEFAULT_USER_ID}-{OTHER}" == sent["dm_conversation_id"]
        client.create_direct_message(dm_conversation_id=sent["dm_conversation_id"], text="again")
        events = client.get_direct_message_events(
            dm_event_fields=["sender_id", "dm_conversation_id"], expansions="sender_id"
        )
        assert ["again", "psst"] == [event.text for event in events.data]
        assert [DEFAULT_USER_ID] == ids(events.includes["users"])
        group = client.create_direct_message_conversation(text="hi all", participant_ids=[OTHER])
        history = client.get_direct_message_events(
            dm_conversation_id=group.data["dm_conversation_id"]
        )
        assert ["MessageCreate", "ParticipantsJoin"] == [e.event_type for e in history.data]

    def test_reads_about_unknown_users(self, client):
        """A timeline of an unknown user answers 200 with a resource-not-found error."""
        response = client.get_users_tweets("20")
        assert response.data is None
        assert ["Could not find user with id: [20]."] == [e["detail"] for e in response.errors]

    def test_users(self, fake, client):
        """Users are found by ID and username; unknown ones are error entries."""
        assert "another_account" == client.get_user(id=OTHER).data.username
        assert [OTHER] == ids([client.get_user(username="ANOTHER_account").data])
        response = client.get_users(usernames=["another_account", "nobody_here"])
        assert [OTHER] == ids(response.data)
        assert ["nobody_here"] == [e["value"] for e in response.errors]
        me = client.get_me(user_fields=["public_metrics", "created_at"]).data
        assert 0 == me.public_metrics["followers_count"]


class TestV1:
    def test_update_status_with_location(self, fake, api):
        """A v1.1 status with coordinates and a place keeps both, as X renders them."""
        status = api.update_status("here", lat=37.76, long=-122.39, place_id=DOGPATCH)
        assert "Dogpatch, San Francisco" == status.place.full_name
        assert [-122.39, 37.76] == status.coordinates["coordinates"]
        assert [37.76, -122.39] == status.geo["coordinates"]
        assert str(status.id) == status.id_str

    def test_show_lookup_and_missing(self, fake, api):
        """show and lookup find statuses; an unknown one is a 404 with code 144."""
        tweet_id = fake.add_tweet("seeded")
        assert "seeded" == api.get_status(tweet_id).text
        assert [tweet_id] == [s.id_str for s in api.lookup_statuses([tweet_id, "20"])]
        with pytest.raises(tweepy.NotFound, match="144 - No status found"):
            api.get_status("20")

    def test_extended_mode(self, fake, api):
        """tweet_mode=extended answers full_text instead of text."""
        tweet_id = fake.add_tweet("long enough")
        status = api.get_status(tweet_id, tweet_mode="extended")
        assert "long enough" == status.full_text
        assert not hasattr(status, "text")

    def test_timelines_page_by_max_id(self, fake, api):
        """Timelines go newest first and page with count and max_id."""
        made = [fake.add_tweet(f"n{n}") for n in range(5)]
        first = api.user_timeline(user_id=OTHER, count=2)
        second = api.user_timeline(user_id=OTHER, count=2, max_id=first[-1].id - 1)
        assert made[::-1][:4] == [s.id_str for s in [*first, *second]]

    def test_retweet_and_favorite(self, fake, api):
        """Retweets and favorites change perspective flags; doing one twice is an error."""
        tweet_id = fake.add_tweet("popular")
        retweet = api.retweet(tweet_id)
        assert tweet_id == retweet.retweeted_status.id_str
        with pytest.raises(tweepy.Forbidden, match="327"):
            api.retweet(tweet_id)
        assert api.create_favorite(tweet_id).favorited
        with pytest.raises(tweepy.Forbidden, match="139"):
            api.create_favorite(tweet_id)
        status = api.get_status(tweet_id)
        assert (True, True, 1, 1) == (
            status.retweeted,
            status.favorited,
            status.retweet_count,
            status.favorite_count,
        )
        assert [tweet_id] == [s.id_str for s in api.get_favorites()]

    def test_friendships(self, fake, api):
        """Following shows in friendships/show, friend and follower IDs and the home timeline."""
        api.create_friendship(screen_name="another_account")
        source, _ = api.get_friendship(target_id=OTHER)
        assert (True, False) == (source.following, source.followed_by)
        assert [int(OTHER)] == api.get_friend_ids()
        assert [int(DEFAULT_USER_ID)] == api.get_follower_ids(user_id=OTHER)
        theirs = fake.add_tweet("from a friend")
        assert [theirs] == [s.id_str for s in api.home_timeline()]
        api.destroy_friendship(user_id=OTHER)
        assert [] == api.get_friend_ids()

    def test_blocks_and_mutes(self, api):
        """Blocking ends following; mutes are recorded."""
        api.create_friendship(user_id=OTHER)
        api.create_block(user_id=OTHER)
        assert [] == api.get_friend_ids()
        assert "another_account" == api.create_mute(user_id=OTHER).screen_name
        with pytest.raises(tweepy.Forbidden, match="158"):
            api.create_block(user_id=DEFAULT_USER_ID)

    def test_geo(self, api):
        """Places are found by ID, name and point, smallest first."""
        assert "San Francisco, CA" == api.geo_id(SF).full_name
        assert [DOGPATCH, SF] == ids(api.reverse_geocode(lat=37.76, long=-122.39))
        assert ["c3f37afa9efcf94b"] == ids(api.search_geo(query="austin"))
        with pytest.raises(tweepy.NotFound):
            api.geo_id("0000000000000000")
        with pytest.raises(tweepy.BadRequest, match="Invalid coordinates"):
            api.reverse_geocode(lat=91, long=0)

    def test_direct_messages(self, fake, api):
        """v1.1 DMs can be sent, listed, shown and deleted."""
        sent = api.send_direct_message(OTHER, "v1 secret")
        assert "v1 secret" == sent.message_create["message_data"]["text"]
        assert [sent.id] == ids(api.get_direct_messages())
        assert sent.id == api.get_direct_message(sent.id).id
        api.delete_direct_message(sent.id)
        assert [] == api.get_direct_messages()

    def test_users_and_search(self, fake, api):
        """verify_credentials, users/show, users/lookup and search/tweets answer."""
        assert DEFAULT_USER_ID == api.verify_credentials().id_str
        assert OTHER == api.get_user(screen_name="another_account").id_str
        assert [OTHER] == [u.id_str for u in api.lookup_users(user_id=[OTHER, "20"])]
        tweet_id = fake.add_tweet("findable words")
        assert [tweet_id] == [s.id_str for s in api.search_tweets("findable")]

    @pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")
    def test_media_upload(self, api, tmp_path):
        """A simple upload returns a media ID that a status can carry."""
        image = tmp_path / "pixel.png"
        image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
        media = api.media_upload(str(image))
        status = api.update_status("with media", media_ids=[media.media_id])
        assert status.id

    def test_destroy_status(self, fake, api):
        """Only the author can delete a status."""
        status = api.update_status("to delete")
        assert status.id == api.destroy_status(status.id).id
        with pytest.raises(tweepy.Forbidden, match="183"):
            api.destroy_status(fake.add_tweet("not mine"))


def exercise_tweets(fake, client, theirs):
    """Every v2 tweet route, through tweepy.Client."""
    mine = client.create_tweet(text="v2 tweet", quote_tweet_id=theirs).data["id"]
    client.get_tweet(mine)
    client.get_tweets([mine, theirs])
    client.search_recent_tweets("tweet")
    client.search_all_tweets("tweet")
    client.get_quote_tweets(theirs)
    client.hide_reply(fake.add_tweet("reply", reply_to=mine))
    client.get_users_tweets(DEFAULT_USER_ID)
    client.get_users_mentions(DEFAULT_USER_ID)
    client.get_home_timeline()
    client.delete_tweet(mine)


def exercise_people(fake, client, oauth2, theirs):
    """Every v2 route about likes, retweets, bookmarks, users, follows, mutes and blocks."""
    client.like(theirs)
    client.unlike(theirs)
    client.get_liking_users(theirs)
    client.get_liked_tweets(DEFAULT_USER_ID)
    client.retweet(theirs)
    client.unretweet(theirs)
    client.get_retweeters(theirs)
    oauth2.bookmark(theirs)
    oauth2.get_bookmarks()
    oauth2.remove_bookmark(theirs)
    client.get_me()
    client.get_user(id=OTHER)
    client.get_users(ids=[OTHER])
    client.get_user(username="another_account")
    client.get_users(usernames=["another_account"])
    client.follow_user(OTHER)
    client.get_users_followers(OTHER)
    client.get_users_following(DEFAULT_USER_ID)
    client.unfollow_user(OTHER)
    client.mute(OTHER)
    client.get_muted()
    client.unmute(OTHER)
    client.get_blocked()


def exercise_lists(client):
    """Every v2 list route."""
    list_id = client.create_list("List").data["id"]
    client.get_list(list_id)
    client.get_owned_lists(DEFAULT_USER_ID)
    client.update_list(list_id, name="Renamed")
    client.add_list_member(list_id, OTHER)
    client.get_list_members(list_id)
    client.get_list_memberships(OTHER)
    client.get_list_tweets(list_id)
    client.remove_list_member(list_id, OTHER)
    client.follow_list(list_id)
    client.get_list_followers(list_id)
    client.get_followed_lists(DEFAULT_USER_ID)
    client.unfollow_list(list_id)
    client.pin_list(list_id)
    client.get_pinned_lists()
    client.unpin_list(list_id)
    client.delete_list(list_id)


def exercise_messages(client):
    """Every v2 DM route."""
    sent = client.create_direct_message(participant_id=OTHER, text="hi").data
    client.create_direct_message(dm_conversation_id=sent["dm_conversation_id"], text="again")
    client.create_direct_message_conversation(text="all", participant_ids=[OTHER])
    client.get_direct_message_events()
    client.get_direct_message_events(participant_id=OTHER)
    client.get_direct_message_events(dm_conversation_id=sent["dm_conversation_id"])


def exercise_v1(fake, client, api, theirs, tmp_path):
    """Every v1.1 route, through tweepy.API."""
    status = api.update_status("v1 status")
    api.get_status(status.id)
    api.lookup_statuses([status.id])
    api.user_timeline()
    api.home_timeline()
    api.mentions_timeline()
    api.search_tweets("status")
    api.retweet(theirs)
    api.unretweet(theirs)
    api.create_favorite(theirs)
    api.get_favorites()
    api.destroy_favorite(theirs)
    api.verify_credentials()
    api.get_user(user_id=OTHER)
    api.lookup_users(user_id=[OTHER])
    api.create_friendship(user_id=OTHER)
    api.get_friendship(target_id=OTHER)
    api.get_friend_ids()
    api.get_follower_ids()
    api.get_friends()
    api.get_followers()
    api.destroy_friendship(user_id=OTHER)
    api.create_block(user_id=OTHER)
    api.destroy_block(user_id=OTHER)
    api.create_mute(user_id=OTHER)
    api.destroy_mute(user_id=OTHER)
    api.geo_id(SF)
    api.search_geo(query="san")
    api.reverse_geocode(lat=30.3, long=-97.7)
    dm = api.send_direct_message(OTHER, "v1 dm")
    api.get_direct_messages()
    api.get_direct_message(dm.id)
    api.delete_direct_message(dm.id)
    image = tmp_path / "clip.gif"
    image.write_bytes(b"GIF89a" + bytes(32))
    media = api.media_upload(str(image), chunked=True)
    api.get_media_upload_status(media.media_id)
    api.destroy_status(status.id)
    # GET /1.1/users/lookup is the same handler as POST, which tweepy uses.
    client.session.get(
        "https://api.twitter.com/1.1/users/lookup.json",
        params={"user_id": OTHER},
        headers={"Authorization": f"Bearer {APP}"},
    )


def exercise_compliance(client):
    """Every batch compliance route and both compliance streams."""
    job = client.create_compliance_job(type="tweets").data
    client.get_compliance_job(job["id"])
    client.get_compliance_jobs(type="tweets")
    for kind in ("tweets", "users"):
        client.session.get(
            f"https://api.twitter.com/2/{kind}/compliance/stream",
            params={"partition": "1"},
            headers={"Authorization": f"Bearer {APP}"},
        )


class TestEveryRoute:
    @pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")
    def test_every_route_answers_a_tweepy_method(self, fake, client, api, tmp_path):
        """Each route the fake knows is reached by some tweepy method, and answers it."""
        oauth2 = fake.install(tweepy.Client(bearer_token=fake.user_token()))
        theirs = fake.add_tweet("@twpolicy_tester quote me", place_id=SF)
        exercise_tweets(fake, client, theirs)
        exercise_people(fake, client, oauth2, theirs)
        exercise_lists(client)
        exercise_messages(client)
        exercise_v1(fake, client, api, theirs, tmp_path)
        exercise_compliance(client)
        answered = {r.route for r in fake.requests if r.status < 400}
        assert set() == set(FakeXAPI.routes) - answered
        assert [] == [(r.route, r.status) for r in fake.requests if r.status >= 400]

    def test_routes_are_named_as_decisions_name_operations(self, fake):
        """A recorded request's route is the operation of the guard's decision about it."""
        log = DecisionLog()
        with fresh_guard(TwPolicyOptions(granted=["tweet.write"]), sinks=[log]) as guard:
            api = fake.api(guard=guard)
            api.update_status("v1.1")
            api.destroy_status(api.user_timeline()[0].id)
            fake.client(guard=guard).create_tweet(text="v2")
        assert [d.operation for d in log.decisions] == [r.route for r in fake.requests]
        assert "POST /1.1/statuses/destroy/:id.json" == fake.requests[2].route

    def test_routes_are_named_as_the_endpoint_catalog_names_them(self):
        """Each route has the name of the catalog entry the guard finds for it, but one."""
        catalog = twpolicy.endpoint_catalog()
        found = {route: catalog.lookup(*route.split(" ", 1)) for route in FakeXAPI.routes}
        assert {
            "GET /1.1/users/lookup.json": None,  # tweepy sends it as a POST only
        } == {
            route: endpoint and endpoint.operation
            for route, endpoint in found.items()
            if endpoint is None or endpoint.operation != route
        }


class TestReplay:
    def test_cassette_answers_what_it_recorded(self, fake, corpus):
        """A recorded interaction answers as recorded; other requests reach the fake's state."""
        cassette = corpus / "tweepy+tweepy" / "cassettes" / "test_client_get_tweet.yaml"
        transport = fake.replay(cassette)
        client = fake.client(guard=twpolicy.Guard())
        recorded = client.get_tweet(1293593516040269825)
        assert "Say hello to the new #TwitterAPI" in recorded.data.text
        assert [] == transport.unplayed
        seeded = fake.add_tweet("from the fake's own state")
        assert "from the fake's own state" == client.get_tweet(seeded).data.text
        assert ["GET /2/tweets/:id"] * 2 == [r.route for r in fake.requests]

    def test_guarded_client_refuses_before_the_recording(self, fake, corpus):
        """A guarded write without consent never reaches the cassette."""
        cassette = (
            corpus / "tweepy+tweepy" / "cassettes" / "test_client_create_and_delete_tweet.yaml"
        )
        transport = fake.replay(cassette)
        client = fake.client(guard=twpolicy.Guard(ledger=twpolicy.open_ledger("memory://")))
        with pytest.raises(twpolicy.ConsentRequired):
            client.create_tweet(text="Test Tweet")
        assert [] == fake.requests
        assert 2 == len(transport.unplayed)


class TestClientFactories:
    def test_clients_act_for_me_on_the_fake(self, fake):
        """client(), api() and async_client() are twpolicy's clients with the fake's credentials."""
        guard = twpolicy.Guard(ledger=twpolicy.open_ledger("memory://"))
        guard.consent.grant(DEFAULT_USER_ID, "tweet.write", notice="n", method="m", evidence="e")
        client, api = fake.client(guard=guard), fake.api(guard=guard)
        async_client = fake.async_client(guard=guard)
        assert isinstance(client, twpolicy.Client)
        assert isinstance(async_client, twpolicy.AsyncClient)
        client.create_tweet(text="v2")
        api.update_status("v1.1")
        asyncio.run(async_client.create_tweet(text="async"))
        assert {DEFAULT_USER_ID} == {r.user_id for r in fake.requests}
        assert 3 == len(fake.tweets)


class TestLimitsAndFailures:
    def test_rate_limit_headers(self, fake, client):
        """Every answer carries x-rate-limit headers, counting down per route and user."""
        first = client.request("GET", "/2/tweets/20")
        second = client.request("GET", "/2/tweets/20")
        assert "900" == first.headers["x-rate-limit-limit"]
        assert 1 == int(first.headers["x-rate-limit-remaining"]) - int(
            second.headers["x-rate-limit-remaining"]
        )

    def test_exhausted_limit(self, fake, client):
        """An exhausted limit answers 429 with the reset time."""
        fake.exhaust_rate_limit("POST /2/tweets")
        with pytest.raises(tweepy.TooManyRequests) as info:
            client.create_tweet(text="too many")
        assert info.value.reset_time > 0
        assert [429] == [r.status for r in fake.calls("POST /2/tweets")]

    def test_a_spent_limit_is_lifted_when_the_clock_passes_the_reset(self):
        """As the fake's clock passes the reset time, the route answers again, afresh."""
        now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
        fake = FakeXAPI(clock=lambda: now[0], app_tokens=[APP])
        client = make_client(fake)
        fake.exhaust_rate_limit("POST /2/tweets")
        with pytest.raises(tweepy.TooManyRequests) as info:
            client.create_tweet(text="too many")
        reset = int(info.value.response.headers["x-rate-limit-reset"])
        assert int(now[0].timestamp()) + 15 * 60 == reset
        now[0] = datetime.fromtimestamp(reset - 1, timezone.utc)
        with pytest.raises(tweepy.TooManyRequests):
            client.create_tweet(text="still too many")
        now[0] = datetime.fromtimestamp(reset, timezone.utc)
        answer = client.request("POST", "/2/tweets", json={"text": "again"}, user_auth=True)
        assert int(answer.headers["x-rate-limit-remaining"]) == (
            int(answer.headers["x-rate-limit-limit"]) - 1
        )
        assert int(answer.headers["x-rate-limit-reset"]) == reset + 15 * 60

    def test_limits_can_be_off(self):
        """With rate_limits=False a route never runs out, unless exhausted on purpose."""
        fake = FakeXAPI(rate_limits=False, app_tokens=[APP])
        client = make_client(fake)
        for number in range(205):
            client.create_tweet(text=f"tweet {number}")
        assert 205 == len(fake.tweets)
        fake.exhaust_rate_limit("POST /2/tweets")
        with pytest.raises(tweepy.TooManyRequests):
            client.create_tweet(text="one more")

    def test_injected_failure_then_success(self, fake, client):
        """fail() makes the next requests fail, then the route answers again."""
        fake.fail("POST /2/tweets", status=503, times=1)
        with pytest.raises(tweepy.TwitterServerError, match="503"):
            client.create_tweet(text="retry me")
        assert client.create_tweet(text="retry me").data["id"]

    def test_unknown_route_lists_known_ones(self, fake, client):
        """A route the fake does not know answers 404 listing the routes it knows."""
        with pytest.raises(tweepy.NotFound, match="does not answer GET /2/spaces") as info:
            client.request("GET", "/2/spaces")
        assert "GET /2/tweets/:id" in str(info.value)
        assert [None] == [r.route for r in fake.requests]


class TestRecording:
    def test_assert_called_reports_what_was_sent(self, fake, client):
        """assert_called fails with the list of requests actually sent."""
        client.create_tweet(text="one")
        fake.assert_called("POST /2/tweets", times=1)
        with pytest.raises(AssertionError, match=r"POST /2/tweets -> 201"):
            fake.assert_called("POST /2/users/:id/likes")
        fake.assert_not_called("DELETE /2/tweets/:id")
        with pytest.raises(AssertionError, match="expected no POST /2/tweets"):
            fake.assert_not_called("POST /2/tweets")

    def test_unknown_route_names_are_errors(self, fake):
        """Asking about a route the fake does not have is an error, not an empty list."""
        with pytest.raises(ConfigurationError, match="no route"):
            fake.calls("GET /2/made-up")

    def test_reset_requests_keeps_state(self, fake, client):
        """reset_requests forgets requests, not tweets."""
        tweet_id = client.create_tweet(text="kept").data["id"]
        fake.reset_requests()
        assert [] == fake.requests
        assert "kept" == client.get_tweet(tweet_id).data.text

    def test_concurrent_requests(self, fake):
        """Requests from many threads get distinct IDs and are all recorded."""
        client = make_client(fake)

        def post(n):
            client.create_tweet(text=f"thread {n}")

        threads = [threading.Thread(target=post, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert 16 == len(fake.tweets)
        assert 16 == len(fake.calls("POST /2/tweets"))

    def test_seeding_validates(self, fake):
        """Seeding with unknown users, places or taken usernames is refused."""
        with pytest.raises(ConfigurationError, match="add_user"):
            fake.add_tweet("x", author_id="20")
        with pytest.raises(ConfigurationError, match="add_place"):
            fake.add_tweet("x", place_id="nowhere")
        with pytest.raises(ConfigurationError, match="taken"):
            fake.add_user(username="another_account")


class TestShapes:
    """The fake's payloads use only keys seen on the same kind of object in real recordings."""

    def test_v2_payloads(self, fake, corpus):
        """v2 tweets, users and places with every field are shaped like recorded ones."""
        client = make_client(fake, return_type=dict)
        parent = fake.add_tweet("parent", place_id=SF)
        tweet_id = client.create_tweet(text="@another_account #x", quote_tweet_id=parent)
        body = client.get_tweet(
            tweet_id["data"]["id"],
            tweet_fields=sorted(
                ["attachments", "author_id", "conversation_id", "created_at", "edit_controls",
                 "entities", "geo", "in_reply_to_user_id", "lang", "possibly_sensitive",
                 "public_metrics", "referenced_tweets", "reply_settings", "source"]
            ),
            user_fields=["created_at", "description", "location", "pinned_tweet_id",
                         "profile_image_url", "protected", "public_metrics", "url", "verified"],
            place_fields=["country", "country_code", "full_name", "geo", "name", "place_type"],
            expansions=["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id",
                        "geo.place_id"],
        )  # fmt: skip
        assert {"tweet_v2", "user_v2"} <= {
            kind_of(body["data"]),
            kind_of(body["includes"]["users"][0]),
        }
        assert {} == unseen_keys(body, corpus)

    def test_v1_payloads(self, fake, corpus):
        """v1.1 statuses, users and places are shaped like recorded ones."""
        api = make_api(fake, parser=tweepy.parsers.JSONParser())
        original = fake.add_tweet("quoted", place_id=DOGPATCH, coordinates=(-122.39, 37.76))
        status = api.update_status("look", attachment_url=f"https://x.com/a/status/{original}")
        retweet = api.retweet(original)
        places = api.reverse_geocode(lat=37.76, long=-122.39)
        user = api.verify_credentials()
        for payload in (status, retweet, places, user):
            assert {} == unseen_keys(payload, corpus)
        assert "tweet_v1" == kind_of(status["quoted_status"])
        assert "place_v1" == kind_of(retweet["retweeted_status"]["place"])


class FakeApiMachine(RuleBasedStateMachine):
    """The fake X API agrees with a simple model under any sequence of writes."""

    tweets = Bundle("tweets")

    def __init__(self):
        super().__init__()
        self.fake = FakeXAPI(app_tokens=[APP])
        self.client = make_client(self.fake)
        self.alive: set[str] = set()
        self.liked: list[str] = []  # newest first

    @rule(target=tweets, text=st.text(min_size=1, max_size=40).filter(str.strip))
    def create(self, text):
        try:
            tweet_id = self.client.create_tweet(text=text).data["id"]
        except tweepy.Forbidden:  # a duplicate of a live tweet of ours
            assert any(self.fake.tweets[t].text == text for t in self.alive)
            return multiple()
        self.alive.add(tweet_id)
        return tweet_id

    @rule(tweet_id=tweets)
    def delete(self, tweet_id):
        if tweet_id in self.alive:
            assert {"deleted": True} == self.client.delete_tweet(tweet_id).data
            self.alive.discard(tweet_id)
            if tweet_id in self.liked:
                self.liked.remove(tweet_id)
        else:
            with pytest.raises(tweepy.NotFound):
                self.client.delete_tweet(tweet_id)

    @rule(tweet_id=tweets)
    def like(self, tweet_id):
        if tweet_id in self.alive:
            self.client.like(tweet_id)
            if tweet_id not in self.liked:
                self.liked.insert(0, tweet_id)
        else:
            with pytest.raises(tweepy.NotFound):
                self.client.like(tweet_id)

    @rule(tweet_id=tweets)
    def unlike(self, tweet_id):
        self.client.unlike(tweet_id)
        if tweet_id in self.liked:
            self.liked.remove(tweet_id)

    @invariant()
    def reads_agree_with_the_model(self):
        mine = self.client.get_users_tweets(DEFAULT_USER_ID, max_results=100).data
        assert sorted(self.alive, key=int, reverse=True) == ids(mine)
        assert self.liked == ids(self.client.get_liked_tweets(DEFAULT_USER_ID).data)


FakeApiMachine.TestCase.settings = settings(max_examples=15, stateful_step_count=12, deadline=None)
TestFakeApiMachine = FakeApiMachine.TestCase


class TestExpectations:
    def test_every_write_keeps_its_arguments(self, fake, client, api):
        """A write's JSON body (v2) or form parameters (v1.1) are kept for assertions."""
        client.create_tweet(text="hello", reply_settings="following")
        api.update_status("hi there", lat=1.5, long=2.5)
        [v2] = fake.calls("POST /2/tweets")
        assert {"text": "hello", "reply_settings": "following"} == v2.json
        [v1] = fake.calls("POST /1.1/statuses/update.json")
        assert {"status": "hi there", "lat": "1.5", "long": "2.5"} == dict(v1.params)

    def test_unexpected_requests(self, fake, client):
        """Requests to unannounced routes, or beyond the announced count, are unexpected."""
        fake.expect("POST /2/tweets", times=1)
        fake.expect("GET /2/tweets/:id")
        tweet_id = fake.add_tweet("seeded")
        client.create_tweet(text="one")
        assert [] == fake.unexpected_requests()
        fake.assert_all_requests_expected()
        client.create_tweet(text="two")
        client.get_tweet(tweet_id)
        client.get_tweet(tweet_id)
        client.like(tweet_id)
        unexpected = fake.unexpected_requests()
        assert ["POST /2/tweets", "POST /2/users/:id/likes"] == [r.route for r in unexpected]
        with pytest.raises(AssertionError, match=r"2 request\(s\) the test did not expect"):
            fake.assert_all_requests_expected()

    def test_expect_names_a_known_route(self, fake):
        """A typo in a route name is an error, not an expectation that never matches."""
        with pytest.raises(twpolicy.ConfigurationError, match="no route"):
            fake.expect("POST /2/tweet")

"""The fake X API's refusals: each bad request gets the status and error X gives it.

Requests go straight to `FakeXAPI.handle`, so each test states the exact request and the
answer, including the error codes tweepy turns into exceptions.
"""

import json
import urllib.parse
from datetime import datetime, timezone

import pytest

from twpolicy.testing import DEFAULT_USER_ID, FakeXAPI

OTHER = "1500000000000000002"
API = "https://api.twitter.com"


@pytest.fixture(name="fake")
def _fake():
    """A fresh fake X API."""
    return FakeXAPI()


def send(fake, method, path, *, params=None, body=None, form=None, token=None, app=False):
    """Send one request as ``me`` (or app-only); return the status and the decoded body."""
    url = f"{API}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    bearer = fake.app_token() if app else (token or fake.user_token())
    headers = {"Authorization": f"Bearer {bearer}"}
    data = b""
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    elif form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        data = urllib.parse.urlencode(form).encode()
    status, _, raw = fake.handle(method, url, headers, data)
    return status, (json.loads(raw) if raw else None)


def v1_code(answer):
    """The status and X's v1.1 error code of an answer."""
    status, body = answer
    return status, body["errors"][0]["code"]


class TestV1Refusals:
    def test_update_status_without_text_or_media(self, fake):
        """A status with neither text nor media is refused as a missing parameter (170)."""
        assert (400, 170) == v1_code(send(fake, "POST", "/1.1/statuses/update.json", form={}))

    def test_update_status_too_long(self, fake):
        """A status over the length limit is refused (186)."""
        answer = send(fake, "POST", "/1.1/statuses/update.json", form={"status": "x" * 300})
        assert (403, 186) == v1_code(answer)

    def test_update_status_duplicate(self, fake):
        """Posting the same text twice is refused the second time (187)."""
        form = {"status": "once only"}
        assert 200 == send(fake, "POST", "/1.1/statuses/update.json", form=form)[0]
        assert (403, 187) == v1_code(send(fake, "POST", "/1.1/statuses/update.json", form=form))

    def test_timeline_filters_retweets_and_replies(self, fake):
        """include_rts=false drops retweets and exclude_replies drops replies."""
        original = fake.add_tweet("original", author_id=OTHER)
        reply = fake.add_tweet("a reply", author_id=OTHER, reply_to=original)
        status, body = send(fake, "POST", f"/1.1/statuses/retweet/{original}.json")
        assert 200 == status
        retweet = body["id_str"]
        path = "/1.1/statuses/user_timeline.json"
        mine = send(fake, "GET", path, params={"user_id": DEFAULT_USER_ID})[1]
        assert [retweet] == [t["id_str"] for t in mine]
        no_rts = send(fake, "GET", path, params={"user_id": DEFAULT_USER_ID, "include_rts": "0"})
        assert [] == no_rts[1]
        theirs = send(fake, "GET", path, params={"user_id": OTHER, "exclude_replies": "true"})
        assert reply not in [t["id_str"] for t in theirs[1]]
        assert original in [t["id_str"] for t in theirs[1]]

    def test_unknown_user(self, fake):
        """A user ID nobody has is 404 with code 50."""
        answer = send(fake, "GET", "/1.1/users/show.json", params={"user_id": "42"})
        assert (404, 50) == v1_code(answer)

    def test_show_user_needs_a_name(self, fake):
        """users/show without user_id or screen_name is refused (403, code 50)."""
        assert (403, 50) == v1_code(send(fake, "GET", "/1.1/users/show.json"))

    def test_lookup_with_no_match(self, fake):
        """users/lookup that matches nobody is 404 with code 17."""
        answer = send(fake, "GET", "/1.1/users/lookup.json", params={"screen_name": "nobody_x"})
        assert (404, 17) == v1_code(answer)

    def test_search_needs_a_query(self, fake):
        """search/tweets without q is refused (25)."""
        assert (400, 25) == v1_code(send(fake, "GET", "/1.1/search/tweets.json"))

    def test_unfavorite_what_was_never_liked(self, fake):
        """Taking back a like that was never given is 404 (144)."""
        tweet = fake.add_tweet("hello", author_id=OTHER)
        answer = send(fake, "POST", "/1.1/favorites/destroy.json", form={"id": tweet})
        assert (404, 144) == v1_code(answer)

    def test_unretweet_what_was_never_retweeted(self, fake):
        """Undoing a retweet that does not exist answers the original tweet, unchanged."""
        tweet = fake.add_tweet("hello", author_id=OTHER)
        before = set(fake.tweets)
        status, body = send(fake, "POST", f"/1.1/statuses/unretweet/{tweet}.json")
        assert (200, tweet) == (status, body["id_str"])
        assert before == set(fake.tweets)

    def test_following_a_protected_account_is_only_requested(self, fake):
        """Following a protected account does not add it to what the user follows."""
        private = fake.add_user(username="private_one", protected=True)
        answer = send(fake, "POST", "/1.1/friendships/create.json", form={"user_id": private})
        assert 200 == answer[0]
        assert private not in fake.following.get(DEFAULT_USER_ID, [])

    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/1.1/geo/search.json", {"lat": "north", "long": "1"}),
            ("/1.1/geo/search.json", {"lat": "91", "long": "1"}),
        ],
    )
    def test_invalid_coordinates(self, fake, path, params):
        """Coordinates that are not numbers, or off the globe, are refused (3)."""
        assert (400, 3) == v1_code(send(fake, "GET", path, params=params))

    @pytest.mark.parametrize("path", ["/1.1/geo/search.json", "/1.1/geo/reverse_geocode.json"])
    def test_geo_needs_a_point_or_query(self, fake, path):
        """A geo lookup with neither a point nor a query is refused (25)."""
        assert (400, 25) == v1_code(send(fake, "GET", path))

    def test_dm_to_unknown_user(self, fake):
        """A direct message to nobody is 404 (108)."""
        event = {"event": {"message_create": {"target": {"recipient_id": "42"}}}}
        answer = send(fake, "POST", "/1.1/direct_messages/events/new.json", body=event)
        assert (404, 108) == v1_code(answer)

    def test_dm_body_that_is_not_json(self, fake):
        """A JSON body that does not parse is read as no body: the recipient is unknown."""
        answer = send(fake, "POST", "/1.1/direct_messages/events/new.json", body=b"{oops")
        assert (404, 108) == v1_code(answer)

    def test_unknown_dm(self, fake):
        """Showing a message that does not exist is 404 (34)."""
        answer = send(fake, "GET", "/1.1/direct_messages/events/show.json", params={"id": "1"})
        assert (404, 34) == v1_code(answer)

    def test_dm_list_pages_with_a_cursor(self, fake):
        """A page shorter than the messages carries next_cursor; the last page has none."""
        for n in range(3):
            event = {
                "event": {
                    "type": "message_create",
                    "message_create": {
                        "target": {"recipient_id": OTHER},
                        "message_data": {"text": f"message {n}"},
                    },
                }
            }
            assert 200 == send(fake, "POST", "/1.1/direct_messages/events/new.json", body=event)[0]
        path = "/1.1/direct_messages/events/list.json"
        first = send(fake, "GET", path, params={"count": "2"})[1]
        assert 2 == len(first["events"])
        rest = send(fake, "GET", path, params={"count": "2", "cursor": first["next_cursor"]})[1]
        assert 1 == len(rest["events"])
        assert "next_cursor" not in rest

    def test_media_upload_commands(self, fake):
        """APPEND answers nothing, FINALIZE and STATUS of an unknown media ID are refused (324)."""
        upload = "/1.1/media/upload.json"
        assert (200, {}) == send(fake, "POST", upload, form={"command": "APPEND"})
        finalize = {"command": "FINALIZE", "media_id": "9"}
        assert (400, 324) == v1_code(send(fake, "POST", upload, form=finalize))
        assert (400, 324) == v1_code(send(fake, "GET", upload, params={"media_id": "9"}))

    def test_app_only_cannot_use_user_routes(self, fake):
        """An app-only token on a v1.1 user-context route is 403 (220)."""
        answer = send(fake, "GET", "/1.1/account/verify_credentials.json", app=True)
        assert (403, 220) == v1_code(answer)

    def test_injected_failure_on_v1(self, fake):
        """An injected failure on a v1.1 route answers in v1.1's error format (131)."""
        fake.fail("GET /1.1/statuses/home_timeline.json", status=500)
        answer = send(fake, "GET", "/1.1/statuses/home_timeline.json")
        assert (500, 131) == v1_code(answer)

    def test_exhausted_v1_limit(self, fake):
        """A spent v1.1 rate limit answers 429 with code 88."""
        fake.exhaust_rate_limit("GET /1.1/statuses/home_timeline.json")
        assert (429, 88) == v1_code(send(fake, "GET", "/1.1/statuses/home_timeline.json"))

    def test_oauth1_without_a_token(self, fake):
        """OAuth 1.0a credentials that name no token are 401."""
        headers = {"Authorization": 'OAuth oauth_consumer_key="k"'}
        status, _, _ = fake.handle("GET", f"{API}/2/users/me", headers, b"")
        assert 401 == status


class TestV2Refusals:
    def test_lookup_of_too_many_ids(self, fake):
        """A lookup of more than 100 IDs is refused, naming the parameter."""
        ids = ",".join(str(n) for n in range(1, 102))
        status, body = send(fake, "GET", "/2/tweets", params={"ids": ids})
        assert 400 == status
        assert "ids" in json.dumps(body)

    def test_lookup_of_no_usernames(self, fake):
        """A lookup by usernames with an empty list is refused, naming the parameter."""
        status, body = send(fake, "GET", "/2/users/by", params={"usernames": ""})
        assert 400 == status
        assert "usernames" in json.dumps(body)

    def test_post_without_text_or_media(self, fake):
        """A tweet with no text and no media is refused, naming the field."""
        status, body = send(fake, "POST", "/2/tweets", body={})
        assert 400 == status
        assert "text" in json.dumps(body)

    def test_post_in_a_community(self, fake):
        """A tweet posted to a community echoes its community_id."""
        status, body = send(fake, "POST", "/2/tweets", body={"text": "hi", "community_id": "77"})
        assert (201, "77") == (status, body["data"]["community_id"])

    def test_search_needs_a_query(self, fake):
        """A recent search without a query is refused, naming the parameter."""
        status, body = send(fake, "GET", "/2/tweets/search/recent", params={"query": ""})
        assert 400 == status
        assert "query" in json.dumps(body)

    def test_list_member_of_unknown_user(self, fake):
        """Adding a user who does not exist to a list is 404."""
        list_id = send(fake, "POST", "/2/lists", body={"name": "mine"})[1]["data"]["id"]
        answer = send(fake, "POST", f"/2/lists/{list_id}/members", body={"user_id": "42"})
        assert 404 == answer[0]

    def test_list_member_needs_user_id(self, fake):
        """Adding a member without user_id is refused, naming the field."""
        list_id = send(fake, "POST", "/2/lists", body={"name": "mine"})[1]["data"]["id"]
        status, body = send(fake, "POST", f"/2/lists/{list_id}/members", body={})
        assert 400 == status
        assert "user_id" in json.dumps(body)

    def test_list_members_are_not_duplicated(self, fake):
        """Adding a member twice keeps one; removing a non-member changes nothing."""
        list_id = send(fake, "POST", "/2/lists", body={"name": "mine"})[1]["data"]["id"]
        for _ in range(2):
            send(fake, "POST", f"/2/lists/{list_id}/members", body={"user_id": OTHER})
        assert [OTHER] == fake.lists[list_id].members
        path = f"/2/lists/{list_id}/members/{DEFAULT_USER_ID}"
        assert (200, {"data": {"is_member": False}}) == send(fake, "DELETE", path)
        assert [OTHER] == fake.lists[list_id].members

    def test_someone_elses_list_cannot_be_changed(self, fake):
        """Changing a list one does not own is 403."""
        theirs = send(
            fake, "POST", "/2/lists", body={"name": "theirs"}, token=fake.user_token(OTHER)
        )
        list_id = theirs[1]["data"]["id"]
        answer = send(fake, "POST", f"/2/lists/{list_id}/members", body={"user_id": OTHER})
        assert 403 == answer[0]

    def test_follow_a_list_twice(self, fake):
        """Following a list twice lists the follower once; unfollowing twice is harmless."""
        list_id = send(fake, "POST", "/2/lists", body={"name": "mine"})[1]["data"]["id"]
        path = f"/2/users/{DEFAULT_USER_ID}/followed_lists"
        for _ in range(2):
            assert 200 == send(fake, "POST", path, body={"list_id": list_id})[0]
        assert [DEFAULT_USER_ID] == fake.lists[list_id].followers
        for _ in range(2):
            assert 200 == send(fake, "DELETE", f"{path}/{list_id}")[0]
        assert [] == fake.lists[list_id].followers

    def test_owned_lists_with_their_owner(self, fake):
        """Lists expanded with owner_id include their owner."""
        send(fake, "POST", "/2/lists", body={"name": "mine"})
        path = f"/2/users/{DEFAULT_USER_ID}/owned_lists"
        body = send(fake, "GET", path, params={"expansions": "owner_id"})[1]
        assert [DEFAULT_USER_ID] == [u["id"] for u in body["includes"]["users"]]

    def test_dm_without_text(self, fake):
        """A direct message with neither text nor attachments is refused, naming the field."""
        path = f"/2/dm_conversations/with/{OTHER}/messages"
        status, body = send(fake, "POST", path, body={})
        assert 400 == status
        assert "text" in json.dumps(body)

    def test_dm_into_an_unknown_conversation(self, fake):
        """A message into a conversation the user is not in is 404."""
        answer = send(fake, "POST", "/2/dm_conversations/123/messages", body={"text": "hi"})
        assert 404 == answer[0]

    def test_group_conversation_needs_participants(self, fake):
        """A conversation that is not a group with participants is refused."""
        status, body = send(
            fake, "POST", "/2/dm_conversations", body={"conversation_type": "Group"}
        )
        assert 400 == status
        assert "participant_ids" in json.dumps(body)

    def test_dm_events_filtered_by_type(self, fake):
        """event_types keeps only the events of the types asked for."""
        path = f"/2/dm_conversations/with/{OTHER}/messages"
        assert 201 == send(fake, "POST", path, body={"text": "hi"})[0]
        created = send(fake, "GET", "/2/dm_events", params={"event_types": "MessageCreate"})[1]
        assert 1 == len(created["data"])
        joined = send(fake, "GET", "/2/dm_events", params={"event_types": "ParticipantsJoin"})[1]
        assert "data" not in joined

    def test_tweet_fields_attachments_and_coordinates(self, fake):
        """A tweet with media and exact coordinates renders its attachments and point."""
        tweet = fake.add_tweet("at a point", author_id=OTHER, coordinates=(-122.4, 37.7))
        fake.tweets[tweet].media_ids = ("55",)
        params = {"tweet.fields": "attachments,geo"}
        data = send(fake, "GET", f"/2/tweets/{tweet}", params=params)[1]["data"]
        assert {"media_keys": ["3_55"]} == data["attachments"]
        assert {"type": "Point", "coordinates": [-122.4, 37.7]} == data["geo"]["coordinates"]

    def test_pinned_tweet_expansion(self, fake):
        """A user's pinned tweet is rendered and included when expanded."""
        tweet = fake.add_tweet("pinned", author_id=OTHER)
        fake.users[OTHER].pinned_tweet_id = tweet
        params = {"user.fields": "pinned_tweet_id", "expansions": "pinned_tweet_id"}
        body = send(fake, "GET", f"/2/users/{OTHER}", params=params)[1]
        assert tweet == body["data"]["pinned_tweet_id"]
        assert [tweet] == [t["id"] for t in body["includes"]["tweets"]]

    def test_empty_path_parameter_is_no_route(self, fake):
        """A path whose parameter segment is empty matches no route (404)."""
        assert 404 == send(fake, "GET", "/2/users//followers")[0]

    def test_search_from_and_to(self, fake):
        """The to: operator finds replies to that user; an unknown name finds nothing."""
        mine = fake.add_tweet("mine", author_id=DEFAULT_USER_ID)
        reply = fake.add_tweet("to you", author_id=OTHER, reply_to=mine)
        found = send(fake, "GET", "/2/tweets/search/recent", params={"query": "to:twpolicy_tester"})
        assert [reply] == [t["id"] for t in found[1]["data"]]
        nobody = send(fake, "GET", "/2/tweets/search/recent", params={"query": "to:nobody_here"})
        assert 0 == nobody[1]["meta"]["result_count"]


class TestSeeding:
    def test_add_tweet_with_a_time(self, fake):
        """A tweet seeded with created_at keeps that time."""
        at = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
        tweet = fake.add_tweet("dated", author_id=OTHER, created_at=at)
        assert at == fake.tweets[tweet].created_at

    def test_repr_counts_state(self, fake):
        """The repr names the user and counts users, tweets and requests."""
        fake.add_tweet("one", author_id=OTHER)
        assert f"<FakeXAPI me={DEFAULT_USER_ID} 2 users, 1 tweets, 0 requests>" == repr(fake)

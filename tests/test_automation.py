"""Automated contact needs the recipient's opt-in (RU.automation), through the fake X API."""

import contextlib
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
import tweepy
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from twpolicy._clients._contact import mentions
from twpolicy._stores._windows import fingerprint, jaccard, normalise_text
from twpolicy.testing import DEFAULT_USER_ID, FakeXAPI, fresh_guard

OTHER = "1500000000000000002"  # the fake's second account, @another_account
ME = DEFAULT_USER_ID
WORKER = Path(__file__).with_name("automation_worker.py")


@pytest.fixture(name="fake")
def _fake():
    return FakeXAPI()


@pytest.fixture(name="guard")
def _guard():
    with fresh_guard() as guard:
        guard.consent.grant(
            ME, ["tweet.write", "dm.write"], notice="n1", method="ui_explicit", evidence="e1"
        )
        yield guard


def opt_in(guard, user_id=OTHER):
    guard.consent.grant(
        user_id, ["automated.write"], notice="bot-optin", method="dm_keyword", evidence="dm:1"
    )


class TestOptIn:
    def test_reply_without_the_authors_opt_in_is_refused_and_nothing_sent(self, fake, guard):
        """The replied-to Tweet's author is looked up once; without their opt-in, no reply."""
        tweet = fake.add_tweet("hello bot", author_id=OTHER)
        bot = fake.client(automated=True, guard=guard)
        with pytest.raises(twpolicy.ConsentRequired) as refused:
            bot.create_tweet(text="hi!", in_reply_to_tweet_id=tweet)
        fake.assert_not_called("POST /2/tweets")
        assert refused.value.decision.reason == "no_automated_opt_in"
        assert refused.value.decision.clause == "RU.automation.a"
        assert f"guard.consent.grant('{OTHER}', ['automated.write']" in str(refused.value)
        fake.assert_called("GET /2/tweets/:id", times=1)

    def test_reply_with_the_authors_opt_in_is_sent(self, fake, guard):
        tweet = fake.add_tweet("hello bot", author_id=OTHER)
        opt_in(guard)
        bot = fake.client(automated=True, guard=guard)
        bot.create_tweet(text="hi!", in_reply_to_tweet_id=tweet)
        bot.create_tweet(text="hi again", in_reply_to_tweet_id=tweet)
        fake.assert_called("POST /2/tweets", times=2)
        fake.assert_called("GET /2/tweets/:id", times=1)  # the author is cached

    def test_revoke_refuses_the_next_reply(self, fake, guard):
        tweet = fake.add_tweet("hello bot", author_id=OTHER)
        opt_in(guard)
        bot = fake.client(automated=True, guard=guard)
        bot.create_tweet(text="hi!", in_reply_to_tweet_id=tweet)
        guard.consent.revoke(OTHER, ["automated.write"], reason="said stop")
        with pytest.raises(twpolicy.ConsentRequired, match="opted out"):
            bot.create_tweet(text="hi!!", in_reply_to_tweet_id=tweet)
        fake.assert_called("POST /2/tweets", times=1)

    def test_not_automated_needs_no_opt_in(self, fake, guard):
        tweet = fake.add_tweet("hello", author_id=OTHER)
        fake.client(guard=guard).create_tweet(text="hi", in_reply_to_tweet_id=tweet)
        fake.assert_called("POST /2/tweets", times=1)
        fake.assert_not_called("GET /2/tweets/:id")

    def test_mentions_are_resolved_once_and_need_opt_in(self, fake, guard):
        bot = fake.client(automated=True, guard=guard)
        with pytest.raises(twpolicy.ConsentRequired, match=OTHER):
            bot.create_tweet(text="thanks @Another_Account!")
        fake.assert_not_called("POST /2/tweets")
        opt_in(guard)
        bot.create_tweet(text="thanks @another_account!")
        fake.assert_called("POST /2/tweets", times=1)
        fake.assert_called("GET /2/users/by", times=1)

    def test_unknown_handle_is_refused(self, fake, guard):
        bot = fake.client(automated=True, guard=guard)
        with pytest.raises(twpolicy.ConsentRequired, match="@nobody_here") as refused:
            bot.create_tweet(text="hey @nobody_here")
        assert refused.value.decision.reason == "recipient_unknown"
        fake.assert_not_called("POST /2/tweets")

    def test_own_thread_and_plain_posts_need_no_opt_in(self, fake, guard):
        bot = fake.client(automated=True, guard=guard)
        mine = bot.create_tweet(text="a thread").data["id"]
        bot.create_tweet(text="more", in_reply_to_tweet_id=mine)
        fake.assert_called("POST /2/tweets", times=2)

    def test_dm_needs_participant_opt_in(self, fake, guard):
        bot = fake.client(automated=True, guard=guard)
        with pytest.raises(twpolicy.ConsentRequired, match=r"automated\.write"):
            bot.create_direct_message(participant_id=OTHER, text="hello")
        fake.assert_not_called("POST /2/dm_conversations/with/:participant_id/messages")
        opt_in(guard)
        bot.create_direct_message(participant_id=OTHER, text="hello")
        conversation = f"{ME}-{OTHER}"
        bot.create_direct_message(dm_conversation_id=conversation, text="again")
        fake.assert_called("POST /2/dm_conversations/with/:participant_id/messages", times=1)
        fake.assert_called("POST /2/dm_conversations/:dm_conversation_id/messages", times=1)

    def test_group_conversation_by_id_is_refused(self, fake, guard):
        opt_in(guard)
        bot = fake.client(automated=True, guard=guard)
        with pytest.raises(twpolicy.ConsentRequired, match="recipient") as refused:
            bot.create_direct_message(dm_conversation_id="1234567", text="hello")
        assert refused.value.decision.reason == "recipient_unknown"
        fake.assert_not_called("POST /2/dm_conversations/:dm_conversation_id/messages")

    def test_automated_block(self, fake, guard):
        client = fake.client(guard=guard)
        with twpolicy.automated(), pytest.raises(twpolicy.ConsentRequired):
            client.create_direct_message(participant_id=OTHER, text="hello")
        client.create_direct_message(participant_id=OTHER, text="on command")
        fake.assert_called("POST /2/dm_conversations/with/:participant_id/messages", times=1)

    def test_v1_reply_and_dm(self, fake, guard):
        tweet = fake.add_tweet("hello", author_id=OTHER)
        api = fake.api(automated=True, guard=guard)
        with pytest.raises(twpolicy.ConsentRequired, match=r"automated\.write"):
            api.update_status("hi", in_reply_to_status_id=tweet)
        with pytest.raises(twpolicy.ConsentRequired, match=r"automated\.write"):
            api.send_direct_message(OTHER, "hello")
        fake.assert_not_called("POST /1.1/statuses/update.json")
        fake.assert_not_called("POST /1.1/direct_messages/events/new.json")
        opt_in(guard)
        api.update_status("hi", in_reply_to_status_id=tweet)
        api.send_direct_message(OTHER, "hello")
        fake.assert_called("POST /1.1/statuses/update.json", times=1)
        fake.assert_called("POST /1.1/direct_messages/events/new.json", times=1)

    def test_async_reply(self, fake, guard, loop):
        tweet = fake.add_tweet("hello", author_id=OTHER)
        bot = fake.async_client(automated=True, guard=guard)
        with pytest.raises(twpolicy.ConsentRequired):
            loop.run_until_complete(bot.create_tweet(text="hi", in_reply_to_tweet_id=tweet))
        fake.assert_not_called("POST /2/tweets")
        opt_in(guard)
        loop.run_until_complete(bot.create_tweet(text="hi", in_reply_to_tweet_id=tweet))
        fake.assert_called("POST /2/tweets", times=1)

    def test_rejects_non_bool(self, fake, guard):
        with pytest.raises(TypeError, match="automated"):
            fake.client(automated="yes", guard=guard)


class TestMentions:
    @given(st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True))
    def test_a_mention_is_found(self, handle):
        assert mentions(f"hi @{handle}!") == (handle.lower(),)

    @given(st.from_regex(r"[A-Za-z0-9_]{1,15}", fullmatch=True))
    def test_an_email_is_not_a_mention(self, handle):
        assert mentions(f"write to me{handle}@example.com") == ()


def test_revoke_in_another_process_refuses_the_next_contact(fake, tmp_path):
    """An opt-out recorded by another process refuses the next DM here (cache_ttl=0).

    With the default cache_ttl (1 s), another process's revoke is seen within a second; the
    cross-process invalidation of the ledger is another issue's work.
    """
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    ledger = twpolicy.open_ledger(url, cache_ttl=0)
    ledger.grant(ME, ["dm.write"], notice="n", method="ui_explicit", evidence="e")
    ledger.grant(OTHER, ["automated.write"], notice="n", method="dm_keyword", evidence="e")
    guard = twpolicy.Guard(ledger=ledger, quotas=twpolicy.open_quotas("memory://"))
    bot = fake.client(automated=True, guard=guard)
    bot.create_direct_message(participant_id=OTHER, text="one")
    subprocess.run(  # our own worker
        [sys.executable, str(WORKER), "revoke", url, OTHER], check=True, timeout=60
    )
    with pytest.raises(twpolicy.ConsentRequired, match="opted out"):
        bot.create_direct_message(participant_id=OTHER, text="two")
    fake.assert_called("POST /2/dm_conversations/with/:participant_id/messages", times=1)


class TestOptOut:
    @pytest.mark.parametrize(
        "text", ["STOP", "stop please", "@bot Unsubscribe!", "opt out", "Opt-Out.", "cancel"]
    )
    def test_opt_out_words(self, text):
        assert twpolicy.opt_out_keyword(text) is not None

    @pytest.mark.parametrize("text", ["stopwatch", "thanks!", "", "nonstop fun", "@stop_bot hi"])
    def test_not_opt_out(self, text):
        assert twpolicy.opt_out_keyword(text) is None

    def test_custom_vocabulary(self):
        assert twpolicy.opt_out_keyword("Basta!", ["basta"]) == "basta"
        assert twpolicy.opt_out_keyword("stop", ["basta"]) is None

    def test_record_opt_out_refuses_the_next_dm(self, fake, guard):
        opt_in(guard)
        bot = fake.client(automated=True, guard=guard)
        bot.create_direct_message(participant_id=OTHER, text="hello")
        events = twpolicy.record_opt_out(guard, OTHER, text="STOP", evidence="dm_event:42")
        assert [e.type.value for e in events] == ["revoked"]
        assert "dm_event:42" in events[0].reason
        with pytest.raises(twpolicy.ConsentRequired, match="opted out"):
            bot.create_direct_message(participant_id=OTHER, text="hello again")
        fake.assert_called("POST /2/dm_conversations/with/:participant_id/messages", times=1)

    def test_no_opt_out_word_records_nothing(self, guard):
        opt_in(guard)
        assert twpolicy.record_opt_out(guard, OTHER, text="thanks", evidence="dm_event:1") == ()
        assert guard.consent.check(OTHER, "automated.write") is not None

    def test_opt_out_with_nothing_to_withdraw_is_on_record(self, guard):
        (event,) = twpolicy.record_opt_out(guard, OTHER, evidence="settings-page:7")
        assert event.user_id == OTHER
        assert "settings-page:7" in event.reason

    def test_evidence_is_required(self, guard):
        with pytest.raises(twpolicy.ConfigurationError, match="evidence"):
            twpolicy.record_opt_out(guard, OTHER, text="stop", evidence="")

    def test_hook_records_mentions_and_dms_but_not_the_bots_own(self, guard):
        opt_in(guard)
        opt_in(guard, "1500000000000000003")
        hook = twpolicy.OptOutHook(guard, bot_user_id=ME)
        assert hook({"data": {"id": "9", "author_id": ME, "text": "reply STOP to leave"}}) == ()
        assert hook({"data": {"id": "10", "author_id": OTHER, "text": "@bot nice"}}) == ()
        assert guard.consent.check(OTHER, "automated.write") is not None
        (event,) = hook({"data": {"id": "11", "author_id": OTHER, "text": "@bot stop"}})
        assert "tweet:11" in event.reason
        dm = {"id": "12", "event_type": "MessageCreate", "sender_id": "1500000000000000003"}
        (event,) = hook({**dm, "text": "unsubscribe"})
        assert "dm_event:12" in event.reason
        assert guard.consent.check(OTHER, "automated.write") is None
        assert guard.consent.check("1500000000000000003", "automated.write") is None

    def test_hook_needs_a_ledger(self):
        with pytest.raises(twpolicy.ConfigurationError, match="Ledger"):
            twpolicy.OptOutHook(twpolicy.Guard())


def capped(**limits):
    """The default rules, with the bulk caps ``limits`` (kind: (count, window))."""
    return [
        twpolicy.rules.bulk_limit(limits) if rule.id == "automation.bulk_limit" else rule
        for rule in twpolicy.default_rules()
    ]


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture(name="clock")
def _clock():
    return Clock()


def guard_with(clock, ledger_url="memory://", windows_url="memory://", **limits):
    ledger = twpolicy.open_ledger(ledger_url, cache_ttl=0, clock=clock)
    for user in (ME, OTHER):
        ledger.grant(
            user,
            ["tweet.write", "follows.write", "like.write", "dm.write", "list.write"],
            notice="n",
            method="ui_explicit",
            evidence="e",
        )
    return twpolicy.Guard(
        ledger=ledger,
        quotas=twpolicy.open_quotas("memory://"),
        windows=twpolicy.open_windows(windows_url, clock=clock),
        rules=capped(**limits),
        clock=clock,
    )


class TestBulkLimit:
    def test_follows_over_the_cap_are_refused_until_the_window_frees(self, fake, clock):
        guard = guard_with(clock, follows=(3, timedelta(hours=1)))
        client = fake.client(guard=guard)
        targets = [fake.add_user(username=f"t{n}") for n in range(5)]
        for target in targets[:3]:
            client.follow_user(target)
            clock.now += timedelta(minutes=1)
        with pytest.raises(twpolicy.BulkLimitExceeded) as refused:
            client.follow_user(targets[3])
        fake.assert_called("POST /2/users/:id/following", times=3)  # nothing more sent
        decision = refused.value.decision
        assert (decision.reason, decision.clause) == ("bulk_limit", "RU.automation.c")
        assert "frees a slot at 2026-01-01T01:00:00+00:00" in str(refused.value)
        assert "spread the actions out" in decision.remediation
        clock.now = datetime(2026, 1, 1, 1, 0, 1, tzinfo=timezone.utc)  # the first one left
        client.follow_user(targets[3])
        fake.assert_called("POST /2/users/:id/following", times=4)

    def test_a_failed_send_is_not_counted(self, fake, clock):
        guard = guard_with(clock, likes=(1, timedelta(hours=1)))
        client = fake.client(guard=guard)
        tweet = fake.add_tweet("like me", author_id=OTHER)
        fake.fail("POST /2/users/:id/likes", status=503)
        with pytest.raises(tweepy.TweepyException):
            client.like(tweet)
        client.like(tweet)  # the failed one gave its count back
        assert guard.windows.usage(f"likes:{ME}", timedelta(hours=1)).used == 1

    def test_a_retry_is_neither_counted_again_nor_refused_for_its_first_try(self, clock):
        """tweepy's retry after a rate-limit wait is decided within the first try's permit."""
        guard = guard_with(clock, follows=(1, timedelta(hours=1)))
        follow = twpolicy.Action(
            kind="api_call",
            operation="POST /2/users/:id/following",
            category="write",
            acting_user_id=ME,
            scopes={"follows.write"},
            facts={"token_owner": ME},
        )
        first = guard.permit(follow)
        with first, guard.permit(follow, within=first):  # the first try took the one slot
            pass
        assert guard.windows.usage(f"follows:{ME}", timedelta(hours=1)).used == 1
        with pytest.raises(twpolicy.BulkLimitExceeded), guard.permit(follow):
            pass  # a new action, not a retry: refused

    def test_caps_are_per_account(self, fake, clock):
        guard = guard_with(clock, dms=(1, timedelta(hours=1)))
        mine = fake.client(guard=guard)
        theirs = fake.client(guard=guard, access_token=fake.access_token(OTHER))
        mine.create_direct_message(participant_id=OTHER, text="hi")
        theirs.create_direct_message(participant_id=ME, text="hi back")
        with pytest.raises(twpolicy.BulkLimitExceeded):
            mine.create_direct_message(participant_id=OTHER, text="again")

    def test_unlikes_over_the_cap_are_refused(self, fake, clock):
        guard = guard_with(clock, unlikes=(2, timedelta(hours=1)))
        client = fake.client(guard=guard)
        tweets = [fake.add_tweet(f"t{n}", author_id=OTHER) for n in range(3)]
        for tweet in tweets:
            client.like(tweet)
        client.unlike(tweets[0])
        client.unlike(tweets[1])
        with pytest.raises(twpolicy.BulkLimitExceeded, match="2 unlikes") as refused:
            client.unlike(tweets[2])
        (capped_by,) = [o for o in refused.value.decision.outcomes if o.reason == "bulk_limit"]
        assert capped_by.facts["window"] == "unlikes"
        fake.assert_called("DELETE /2/users/:id/likes/:tweet_id", times=2)
        assert "bulk_limit({'unlikes': (LIMIT, timedelta(...))})" in str(refused.value)

    def test_list_removals_over_the_cap_are_refused(self, fake, clock):
        guard = guard_with(clock, list_removals=(1, timedelta(hours=1)))
        client = fake.client(guard=guard)
        list_id = client.create_list("friends").data["id"]
        members = [fake.add_user(username=f"m{n}") for n in range(2)]
        for member in members:
            client.add_list_member(list_id, member)
        client.remove_list_member(list_id, members[0])
        with pytest.raises(twpolicy.BulkLimitExceeded):
            client.remove_list_member(list_id, members[1])
        fake.assert_called("DELETE /2/lists/:id/members/:user_id", times=1)

    def test_unretweets_and_v1_unlikes_are_capped(self, fake, clock):
        guard = guard_with(
            clock, unretweets=(0, timedelta(hours=1)), unlikes=(0, timedelta(hours=1))
        )
        tweet = fake.add_tweet("rt me", author_id=OTHER)
        with pytest.raises(twpolicy.BulkLimitExceeded, match="unretweets"):
            fake.client(guard=guard).unretweet(tweet)
        with pytest.raises(twpolicy.BulkLimitExceeded, match="unlikes"):
            fake.api(guard=guard).destroy_favorite(tweet)
        assert fake.requests == []

    @pytest.mark.parametrize(
        ("payload", "members"),
        [
            ({"list_id": "1", "user_id": "1,2,3"}, 3),
            ({"list_id": "1", "screen_name": "a, b", "user_id": "3"}, 3),
            ({"list_id": "1", "user_id": ["1", "2"]}, 2),
            ({"list_id": "1"}, 1),
        ],
    )
    def test_a_batch_of_members_counts_each_member(self, clock, payload, members):
        guard = guard_with(clock, list_additions=(3, timedelta(hours=1)))
        batch = twpolicy.Action(
            kind="api_call",
            operation="POST /1.1/lists/members/create_all.json",
            category="write",
            acting_user_id=ME,
            scopes={"list.write"},
            facts={"token_owner": ME},
            payload=payload,
        )
        with guard.permit(batch):
            pass
        key = f"list_additions:{ME}"
        assert guard.windows.usage(key, timedelta(hours=1)).used == members
        if members == 2:  # two more would make four, over the cap of three
            with (
                pytest.raises(twpolicy.BulkLimitExceeded, match="of 2 accounts"),
                guard.permit(attrs.evolve(batch, payload={"list_id": "1", "user_id": "8,9"})),
            ):
                pass
            assert guard.windows.usage(key, timedelta(hours=1)).used == members

    def test_unknown_cap_is_a_configuration_error(self):
        with pytest.raises(twpolicy.ConfigurationError, match="bulk cap"):
            twpolicy.rules.bulk_limit({"pokes": (1, timedelta(hours=1))})

    def test_warn_mode_counts_and_sends(self, fake, clock):
        guard = guard_with(clock, follows=(1, timedelta(hours=1)))
        guard = twpolicy.Guard(
            ledger=guard.consent,
            quotas=guard.quotas,
            windows=guard.windows,
            rules=guard.rules,
            clock=clock,
            rule_modes={"automation.bulk_limit": "monitor"},
        )
        client = fake.client(guard=guard)
        client.follow_user(fake.add_user(username="a1"))
        client.follow_user(fake.add_user(username="a2"))
        fake.assert_called("POST /2/users/:id/following", times=2)


SALE = "Our spring sale starts today: everything in the shop is twenty percent off until Sunday"


class TestDuplicates:
    def test_near_identical_text_from_a_second_account_is_refused(self, fake, clock):
        guard = guard_with(clock)
        mine = fake.client(guard=guard)
        theirs = fake.client(guard=guard, access_token=fake.access_token(OTHER))
        mine.create_tweet(text=SALE + " https://t.co/aaa")
        with pytest.raises(twpolicy.DuplicateContent) as refused:
            theirs.create_tweet(text="@friend " + SALE.upper() + "!! https://t.co/bbb")
        fake.assert_called("POST /2/tweets", times=1)
        decision = refused.value.decision
        assert decision.reason == "duplicate_content"
        assert f"account {ME} posted near-identical text" in decision.message
        assert "post it after 2026-01-02T00:00:00+00:00" in decision.remediation
        clock.now += timedelta(days=1, seconds=1)
        theirs.create_tweet(text=SALE)
        fake.assert_called("POST /2/tweets", times=2)

    def test_different_text_and_the_same_account_pass(self, fake, clock):
        guard = guard_with(clock)
        mine = fake.client(guard=guard)
        theirs = fake.client(guard=guard, access_token=fake.access_token(OTHER))
        mine.create_tweet(text=SALE)
        theirs.create_tweet(text="Good morning, the cafe on the corner is open again from today")
        mine.create_tweet(text=SALE + " (reminder)")
        fake.assert_called("POST /2/tweets", times=3)

    @pytest.mark.parametrize(
        ("other", "duplicate"),
        [
            (SALE.replace("shop", "store"), True),  # one word: 0.84
            (SALE.replace("twenty", "thirty").replace("Sunday", "Monday"), True),
            ("Spring sale! Twenty percent off everything in the shop, today until Sunday", True),
            ("Our summer fair opens tomorrow: every stall in the market has free samples", False),
            ("Good morning everyone, the weather in Lisbon is lovely today", False),
        ],
    )
    def test_similarity_threshold(self, other, duplicate):
        score = jaccard(fingerprint(SALE), fingerprint(other))
        assert (score >= twpolicy.rules.DUPLICATE_THRESHOLD) is duplicate, score

    @given(st.text(min_size=1, max_size=280))
    def test_normalising_case_space_urls_and_mentions_keeps_identity(self, text):
        noisy = f"@someone  {text.upper()}   https://t.co/xyz"
        if normalise_text(text) == normalise_text(text.upper()):
            assert jaccard(fingerprint(text), fingerprint(noisy)) == 1.0


class TestSharedDMMedia:
    def test_shared_upload_needs_the_users_agreement(self, fake, guard):
        guard.consent.grant(ME, ["media.write"], notice="n", method="ui_explicit", evidence="e")
        api = fake.api(guard=guard)
        api.simple_upload("a.png", file=b"png")  # not shared: no agreement needed
        with pytest.raises(twpolicy.ConsentRequired, match=r"I\.C\.1\.f") as refused:
            api.simple_upload("a.png", file=b"png", shared=True)
        assert "dm.media.shared" in refused.value.decision.message
        fake.assert_called("POST /1.1/media/upload.json", times=1)
        guard.consent.grant(
            ME,
            ["dm.media.shared"],
            notice=twpolicy.Notice.from_text(
                "dm-media-shared-v1", "Anyone with the link can view it."
            ),
            method="ui_explicit",
            evidence="dialog:7",
        )
        api.simple_upload("a.png", file=b"png", shared=True)
        fake.assert_called("POST /1.1/media/upload.json", times=2)


class TestReadReceipts:
    def test_read_receipts_need_the_users_notice(self, fake, guard):
        api = fake.api(guard=guard)
        with pytest.raises(twpolicy.ConsentRequired, match=r"I\.C\.5") as refused:
            api.mark_direct_message_read("123", OTHER)
        assert "dm.read_receipts" in refused.value.decision.message
        assert fake.requests == []  # nothing on the wire
        guard.consent.grant(
            ME,
            ["dm.read_receipts"],
            notice=twpolicy.Notice.from_text("receipts-v1", "People see when you read DMs."),
            method="ui_explicit",
            evidence="settings:3",
        )
        with contextlib.suppress(tweepy.TweepyException):  # the fake has no mark_read route
            api.mark_direct_message_read("123", OTHER)
        assert [r.path for r in fake.requests] == ["/1.1/direct_messages/mark_read.json"]


class TestRuleEdges:
    """What the rules say without a store, in reprs, and when a window fills under them."""

    POST = twpolicy.Action(
        kind="api_call",
        operation="POST /2/tweets",
        category="write",
        acting_user_id=ME,
        scopes={"tweet.write"},
        payload={"text": SALE},
    )

    def test_reprs(self):
        assert repr(twpolicy.rules.bulk_limit()) == "twpolicy.rules.bulk_limit()"
        assert repr(twpolicy.rules.no_duplicates()) == "twpolicy.rules.no_duplicates()"
        assert (
            repr(twpolicy.rules.require_recipient_opt_in())
            == "twpolicy.rules.require_recipient_opt_in()"
        )

    @pytest.mark.parametrize(
        "value",
        [(-1, timedelta(hours=1)), (1.5, timedelta(hours=1)), (1, 3600), (1, timedelta(0))],
    )
    def test_malformed_caps_are_configuration_errors(self, value):
        with pytest.raises(twpolicy.ConfigurationError, match="bulk cap 'likes'"):
            twpolicy.rules.bulk_limit({"likes": value})

    def test_without_a_window_ledger_writes_are_refused(self):
        context = twpolicy.RuleContext(now=datetime(2026, 1, 1, tzinfo=timezone.utc))
        for rule in (twpolicy.rules.bulk_limit(), twpolicy.rules.no_duplicates()):
            outcome = rule.evaluate(self.POST, context)
            assert outcome.reason == "no_window_store"
            assert "open_windows(url)" in outcome.remediation

    def test_without_a_ledger_automated_contact_is_refused(self):
        action = attrs.evolve(self.POST, facts={"automated": True, "automated_recipients": OTHER})
        context = twpolicy.RuleContext(now=datetime(2026, 1, 1, tzinfo=timezone.utc))
        outcome = twpolicy.rules.require_recipient_opt_in().evaluate(action, context)
        assert outcome.reason == "no_consent_ledger"

    @pytest.mark.parametrize("payload", [{"text": "   "}, {"media": {"media_ids": ["1"]}}, "x"])
    def test_posts_without_text_are_not_compared(self, payload):
        context = twpolicy.RuleContext(now=datetime(2026, 1, 1, tzinfo=timezone.utc))
        rule = twpolicy.rules.no_duplicates()
        assert rule.evaluate(attrs.evolve(self.POST, payload=payload), context) is None

    def test_refusals_when_the_window_filled_between_check_and_count(self, clock):
        windows = twpolicy.open_windows("memory://", clock=clock)
        bulk = twpolicy.rules.bulk_limit({"follows": (1, timedelta(hours=1))})
        count = twpolicy.CountAction(f"follows:{ME}", ME, 3600, limit=1)
        windows.reserve(count.window_key, account=ME, window=timedelta(hours=1), limit=1)
        verdict = windows.reserve(count.window_key, account=ME, window=timedelta(hours=1), limit=1)
        outcome = bulk.refusal(count, verdict)
        assert (outcome.reason, outcome.facts["used"]) == ("bulk_limit", 1)
        assert "a follows action would be a bulk action" in outcome.message
        content = twpolicy.CountAction("content", OTHER, 86400, content=fingerprint(SALE))
        windows.reserve("content", account=ME, window=timedelta(days=1), content=content.content)
        verdict = windows.reserve(
            "content", account=OTHER, window=timedelta(days=1), content=content.content
        )
        outcome = twpolicy.rules.no_duplicates().refusal(content, verdict)
        assert (outcome.reason, outcome.facts["other_account"]) == ("duplicate_content", ME)


class TestCapsFromTheConfigFile:
    def test_a_cap_set_in_toml_refuses_like_one_set_in_python(self, fake, tmp_path):
        path = tmp_path / "twpolicy.toml"
        path.write_text(
            '[twpolicy]\n[twpolicy.bulk_limits]\nfollows = { max = 1, window = "12h" }\n',
            encoding="utf-8",
        )
        guard = twpolicy.Guard.from_config(path)
        guard.consent.grant(ME, ["follows.write"], notice="n", method="ui_explicit", evidence="e")
        client = fake.client(guard=guard)
        client.follow_user(fake.add_user(username="first"))
        with pytest.raises(twpolicy.BulkLimitExceeded, match="1 follows"):
            client.follow_user(fake.add_user(username="second"))
        fake.assert_called("POST /2/users/:id/following", times=1)
        (rule,) = [r for r in guard.rules if r.id == "automation.bulk_limit"]
        assert rule.limits["follows"] == (1, timedelta(hours=12))
        assert rule.limits["likes"] == twpolicy.rules.BULK_LIMITS["likes"]  # the rest: defaults

    @pytest.mark.parametrize(
        "value",
        [
            "3",
            "{ max = 3 }",
            '{ max = 3, window = "1d", burst = 2 }',
            '{ max = "3", window = "1d" }',
            '{ max = -1, window = "1d" }',
            '{ max = 3, window = "1 day" }',
            '{ max = 3, window = "d" }',
            "{ max = 3, window = 86400 }",
        ],
    )
    def test_a_malformed_cap_stops_the_file(self, tmp_path, value):
        path = tmp_path / "twpolicy.toml"
        path.write_text(f"[twpolicy.bulk_limits]\nfollows = {value}\n", encoding="utf-8")
        with pytest.raises(twpolicy.ConfigurationError, match="bulk"):
            twpolicy.Guard.from_config(path)

    def test_an_unknown_kind_stops_the_file(self, tmp_path):
        path = tmp_path / "twpolicy.toml"
        path.write_text(
            '[twpolicy.bulk_limits]\nfollow = { max = 3, window = "1d" }\n', encoding="utf-8"
        )
        with pytest.raises(twpolicy.ConfigurationError, match="unknown bulk cap 'follow'"):
            twpolicy.Guard.from_config(path)

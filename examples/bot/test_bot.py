"""The bot's tests: only twpolicy's public pytest fixtures, no network, no credentials."""

import pytest
from bot import REPLY, HelpBot

import twpolicy

ASKER = "1500000000000000002"  # the fake X API's other account, who writes the mentions


@pytest.fixture
def mentions(twpolicy_fake_api):
    """Two mentions of the acting user: one asks for help, one does not."""
    fake = twpolicy_fake_api
    question = fake.add_tweet("@twpolicy_tester help, how do I export my data?")
    chatter = fake.add_tweet("@twpolicy_tester nice weather today")
    return question, chatter


@pytest.fixture
def bot(twpolicy_client, twpolicy_options, twpolicy_guard):
    """The bot, over a guarded client on the fake X API."""
    return HelpBot(twpolicy_client, twpolicy_options.acting_user_id, twpolicy_guard)


@pytest.fixture
def asker_opted_in(twpolicy_guard):
    """The asker asked for automated answers (say, by replying "yes" to a prompt)."""
    twpolicy_guard.consent.grant(
        ASKER, ["automated.write"], notice="bot-optin-v1", method="reply_keyword", evidence="t:1"
    )


@pytest.mark.twpolicy(granted=["tweet.write", "like.write"])
@pytest.mark.usefixtures("asker_opted_in")
def test_answers_help_requests_with_consent(bot, mentions, twpolicy_fake_api, twpolicy_decisions):
    """With consent, the bot likes and answers the question, and only the question."""
    question, chatter = mentions
    report = bot.run_once()

    assert [question] == report.liked == report.replied
    assert [question, chatter] == report.seen
    [post] = twpolicy_fake_api.assert_called("POST /2/tweets", times=1)
    assert {"text": REPLY, "reply": {"in_reply_to_tweet_id": question}} == post.json
    twpolicy_decisions.assert_allowed(operation="POST /2/tweets", reason="recipients_opted_in")
    twpolicy_decisions.assert_allowed(operation="POST /2/users/:id/likes", reason="consent_active")
    twpolicy_decisions.assert_no_denials()


def test_without_consent_nothing_is_sent(bot, mentions, twpolicy_fake_api, twpolicy_decisions):
    """Without consent, both writes are refused under I.C.1.a and never reach the API."""
    question, _ = mentions
    report = bot.run_once()

    assert [] == report.liked == report.replied
    expected = (question, "I.C.1.a", "no_consent_record")
    assert [expected, expected] == report.refused
    twpolicy_fake_api.assert_not_called("POST /2/tweets")
    twpolicy_fake_api.assert_not_called("POST /2/users/:id/likes")
    twpolicy_decisions.assert_denied(operation="POST /2/tweets", clause="I.C.1.a")
    twpolicy_decisions.assert_denied(operation="POST /2/users/:id/likes", clause="I.C.1.a")


@pytest.mark.twpolicy(granted=["like.write"])
def test_consent_covers_only_what_was_granted(bot, mentions, twpolicy_decisions):
    """Consent to like is not consent to reply."""
    question, _ = mentions
    report = bot.run_once()

    assert ([question], []) == (report.liked, report.replied)
    twpolicy_decisions.assert_denied(operation="POST /2/tweets", reason="no_consent_record")


@pytest.mark.usefixtures("asker_opted_in")
def test_revoked_consent_stops_the_bot(
    bot, mentions, twpolicy_consent, twpolicy_fake_api, twpolicy_decisions
):
    """Once the user revokes consent, the next run refuses instead of posting."""
    question, _ = mentions
    twpolicy_consent.grant("tweet.write", "like.write")
    assert [question] == bot.run_once().replied

    twpolicy_consent.revoke()
    newer = twpolicy_fake_api.add_tweet("@twpolicy_tester help again?")
    report = bot.run_once(since_id=question)
    assert [] == report.replied
    assert [newer, newer] == [tweet for tweet, _, _ in report.refused]
    twpolicy_fake_api.assert_called("POST /2/tweets", times=1)
    assert 2 == len(twpolicy_decisions.assert_denied(clause="I.C.1.a", reason="no_consent_record"))


@pytest.mark.twpolicy(mode="monitor", strict=False)
def test_monitor_mode_lets_writes_through(bot, mentions, twpolicy_fake_api, twpolicy_decisions):
    """In monitor mode the writes go ahead; the denies are still on record."""
    question, _ = mentions
    assert [question] == bot.run_once().replied
    twpolicy_fake_api.assert_called("POST /2/tweets", times=1)
    assert 2 == len(twpolicy_decisions.denied)


@pytest.mark.twpolicy(granted=["tweet.write", "like.write"])
def test_no_automated_reply_without_the_askers_opt_in(
    bot, mentions, twpolicy_fake_api, twpolicy_decisions
):
    """The user consented to the bot, but the asker never asked for automated replies."""
    question, _ = mentions
    report = bot.run_once()

    assert ([question], []) == (report.liked, report.replied)
    assert [(question, "RU.automation.a", "no_automated_opt_in")] == report.refused
    twpolicy_fake_api.assert_not_called("POST /2/tweets")
    twpolicy_decisions.assert_denied(rule="automation.opt_in", reason="no_automated_opt_in")


@pytest.mark.twpolicy(granted=["tweet.write", "like.write"])
@pytest.mark.usefixtures("asker_opted_in")
def test_stop_opts_the_asker_out_at_once(bot, mentions, twpolicy_fake_api, twpolicy_decisions):
    """A mention saying "stop" is recorded as an opt-out; the next answer is refused."""
    question, _ = mentions
    assert [question] == bot.run_once().replied

    stop = twpolicy_fake_api.add_tweet("@twpolicy_tester STOP")
    again = twpolicy_fake_api.add_tweet("@twpolicy_tester help, one more question?")
    report = bot.run_once(since_id=question)
    assert [stop] == report.opted_out
    assert [] == report.replied
    assert [(again, "RU.automation.a", "no_automated_opt_in")] == report.refused
    twpolicy_fake_api.assert_called("POST /2/tweets", times=1)
    twpolicy_decisions.assert_denied(rule="automation.opt_in", reason="no_automated_opt_in")


@pytest.mark.twpolicy(granted=["tweet.write", "like.write"])
@pytest.mark.usefixtures("asker_opted_in")
def test_a_spent_rate_limit_is_not_sent_into_again(
    bot, mentions, twpolicy_fake_api, twpolicy_decisions
):
    """X answers the like 429; the guard refuses the next like before it is sent."""
    question, _ = mentions
    twpolicy_fake_api.exhaust_rate_limit("POST /2/users/:id/likes")
    report = bot.run_once()

    assert [question] == report.replied  # the reply has a window of its own
    assert [(question, "I.B.5", "x_rate_limited")] == report.refused
    with pytest.raises(twpolicy.RateLimited):
        bot.client.like(question)
    twpolicy_fake_api.assert_called("POST /2/users/:id/likes", times=1)  # only the 429
    twpolicy_decisions.assert_denied(rule="ratelimit.respect", reason="rate_limit_spent")

"""A small bot that answers mentions on behalf of the user who runs it.

For each new mention that asks for help, it likes the mention and replies with a link. Both
are writes on the user's behalf, so the Developer Policy (I.C.1.a) needs the user's recorded
consent: ``like.write`` for the likes, ``tweet.write`` for the replies. The replies are
automated, so the restricted-use page's automation rules also need the *asker's* opt-in
(``automated.write``, recorded for them): the bot handles mentions inside
``twpolicy.automated()``, and a mention saying "stop" records the asker's opt-out, which
refuses every later automated reply to them. The bot uses `twpolicy.Client` instead of
`tweepy.Client`; that one changed import is what makes a write without consent fail
*before* anything is sent, with an error naming the clause. The bot reports such refusals
instead of retrying them. When X answers 429 (a rate limit spent), the bot reports it too and
moves on: twpolicy keeps the window, and refuses the bot's next send into it, with this or
any other token of the user, until X resets it (I.B.5).

Run it with credentials in the environment (``TWITTER_*``) and a consent ledger:

    TWPOLICY_CONFIG=twpolicy.toml python bot.py
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import tweepy

import twpolicy

HELP_WORDS = ("help", "how do i", "?")
REPLY = "Thanks for asking! The answers are in our guide: https://example.org/guide"


@dataclass
class Report:
    """What one run of the bot did."""

    seen: list[str] = field(default_factory=list)
    liked: list[str] = field(default_factory=list)
    replied: list[str] = field(default_factory=list)
    opted_out: list[str] = field(default_factory=list)  # tweet IDs that said "stop"
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # tweet, clause, reason
    newest_id: str | None = None


class HelpBot:
    """Likes and answers the mentions of ``user_id`` that ask for help."""

    def __init__(self, client: twpolicy.Client, user_id: str, guard: twpolicy.Guard) -> None:
        self.client = client
        self.user_id = user_id
        self.opt_outs = twpolicy.OptOutHook(guard, bot_user_id=user_id)

    def run_once(self, since_id: str | None = None) -> Report:
        """Handle the mentions newer than ``since_id``; return what was done."""
        report = Report(newest_id=since_id)
        response = self.client.get_users_mentions(
            self.user_id, since_id=since_id, tweet_fields=["author_id"]
        )
        for mention in reversed(response.data or []):  # oldest first
            tweet_id = str(mention.id)
            report.seen.append(tweet_id)
            report.newest_id = tweet_id
            if self.opt_outs(mention):  # "stop": recorded at once, never answered
                report.opted_out.append(tweet_id)
                continue
            if not any(word in mention.text.lower() for word in HELP_WORDS):
                continue
            self._act(report, tweet_id, "liked", lambda t=tweet_id: self.client.like(t))
            with twpolicy.automated():  # an automated reply: the asker must have opted in
                self._act(
                    report,
                    tweet_id,
                    "replied",
                    lambda t=tweet_id: self.client.create_tweet(text=REPLY, in_reply_to_tweet_id=t),
                )
        return report

    @staticmethod
    def _act(report: Report, tweet_id: str, done: str, action) -> None:
        try:
            action()
        except twpolicy.PolicyViolation as refusal:
            decision = refusal.decision
            report.refused.append((tweet_id, decision.clause, decision.reason))
        except tweepy.TooManyRequests:  # X's own refusal: its window is now known to the guard
            report.refused.append((tweet_id, "I.B.5", "x_rate_limited"))
        else:
            getattr(report, done).append(tweet_id)


def main() -> None:  # pragma: no cover  # needs real credentials
    """Run the bot once with credentials from the environment."""
    user_id = os.environ["TWITTER_USER_ID"]
    client = twpolicy.Client(
        bearer_token=os.environ["TWITTER_BEARER_TOKEN"],
        consumer_key=os.environ["TWITTER_API_KEY"],
        consumer_secret=os.environ["TWITTER_API_SECRET"],
        access_token=os.environ["TWITTER_ACCESS_TOKEN"],
        access_token_secret=os.environ["TWITTER_ACCESS_TOKEN_SECRET"],
        acting_user_id=user_id,
    )
    guard = twpolicy.get_default_guard()
    report = HelpBot(client, user_id, guard).run_once(os.environ.get("SINCE_ID"))
    print(f"liked {len(report.liked)}, replied {len(report.replied)}")
    for tweet_id, clause, reason in report.refused:
        print(f"refused for {tweet_id} under {clause}: {reason}")


if __name__ == "__main__":  # pragma: no cover
    main()

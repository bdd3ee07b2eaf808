"""A separate process for the automation tests: records an opt-out, or competes for caps."""

import sys
from datetime import timedelta

import twpolicy
from twpolicy.testing import FakeXAPI


def guard_on(consent_url: str, windows_url: str) -> twpolicy.Guard:
    """A guard on the shared stores, with a follow cap of 5 an hour."""
    rules = [
        twpolicy.rules.bulk_limit({"follows": (5, timedelta(hours=1))})
        if rule.id == "automation.bulk_limit"
        else rule
        for rule in twpolicy.default_rules()
    ]
    return twpolicy.Guard(
        ledger=twpolicy.open_ledger(consent_url, cache_ttl=0),
        quotas=twpolicy.open_quotas("memory://"),
        windows=twpolicy.open_windows(windows_url),
        rules=rules,
    )


def follow(consent_url: str, windows_url: str, tries: int) -> int:
    """Try ``tries`` follows of distinct accounts; return how many were sent."""
    fake = FakeXAPI()
    guard = guard_on(consent_url, windows_url)
    client = fake.client(guard=guard)
    me = fake.me
    sent = 0
    for n in range(tries):
        target = fake.add_user(username=f"target_{n}")
        try:
            client.follow_user(target)
        except twpolicy.BulkLimitExceeded:
            continue
        sent += 1
    assert len(fake.calls("POST /2/users/:id/following")) == sent, me
    return sent


def post(consent_url: str, windows_url: str, user_id: str, text: str) -> int:
    """Post ``text`` as ``user_id``; 1 if it was sent, 0 if refused as a duplicate."""
    fake = FakeXAPI(me=user_id)
    client = fake.client(guard=guard_on(consent_url, windows_url))
    try:
        client.create_tweet(text=text)
    except twpolicy.DuplicateContent:
        return 0
    return len(fake.calls("POST /2/tweets"))


def spend(consent_url: str, windows_url: str) -> int:
    """Post into an exhausted window: X's 429 is recorded in the shared store."""
    import tweepy  # noqa: PLC0415  # this command only

    fake = FakeXAPI()
    fake.exhaust_rate_limit("POST /2/tweets")
    client = fake.client(guard=guard_on(consent_url, windows_url))
    try:
        client.create_tweet(text="into a spent window")
    except tweepy.TooManyRequests:
        return 429
    return 200


def main(argv: list[str]) -> None:
    command, url, *rest = argv
    if command == "revoke":
        (user,) = rest
        ledger = twpolicy.open_ledger(url, cache_ttl=0)
        twpolicy.record_opt_out(ledger, user, text="STOP", evidence="dm_event:1")
        ledger.close()
    elif command == "follow":
        windows, tries = rest
        print(follow(url, windows, int(tries)))  # noqa: T201  # the parent reads it
    elif command == "post":
        windows, user, text = rest
        print(post(url, windows, user, text))  # noqa: T201  # ditto
    elif command == "spend":
        (windows,) = rest
        print(spend(url, windows))  # noqa: T201  # the parent reads it
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

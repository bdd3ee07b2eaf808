"""Eight processes, each with its own client, race for one single-use consent on SQLite.

Exactly one post goes out and the consent is used once; every other process is refused with
`twpolicy.ConsentRequired` (it lost the claim, or found the consent already spent) and sends
nothing. The processes start together at a barrier.
"""

import multiprocessing

import pytest

import twpolicy
from twpolicy.testing._replay import RecordedResponse, ReplayTransport

USER = "1072250532645998596"
CONTENT = {"text": "one post, once"}
RACERS = 8


def race(url, barrier, results):
    """One process: its own ledger connection, guard and client; post when all are ready."""
    guard = twpolicy.Guard(ledger=twpolicy.open_ledger(url, cache_ttl=0))
    posted = RecordedResponse.json({"data": {"id": "1", "text": CONTENT["text"]}}, 201)
    transport = ReplayTransport(lambda request: posted)
    client = twpolicy.Client(
        "bearer", "key", "secret", f"{USER}-token", "token-secret", guard=guard
    )
    transport.install(client)
    barrier.wait(120)
    try:
        client.create_tweet(**CONTENT)
    except twpolicy.ConsentRequired as refused:
        outcome = refused.decision.reason
    else:
        outcome = "posted"
    results.put((outcome, len(transport.requests)))


@pytest.mark.slow
def test_one_post_goes_out(tmp_path):
    url = f"sqlite:///{tmp_path / 'consent.db'}"
    with twpolicy.open_ledger(url) as ledger:
        ledger.grant(
            USER,
            ["tweet.write"],
            content_sha256=twpolicy.content_sha256(CONTENT),
            notice="preview-v1",
            method="ui_explicit",
            evidence="race",
        )
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(RACERS)
    results = context.Queue()
    racers = [context.Process(target=race, args=(url, barrier, results)) for _ in range(RACERS)]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=240) for _ in racers]
    for racer in racers:
        racer.join(60)
        assert 0 == racer.exitcode
    posted = [sent for outcome, sent in outcomes if outcome == "posted"]
    refused = [(outcome, sent) for outcome, sent in outcomes if outcome != "posted"]
    assert [1] == posted
    assert len(refused) == RACERS - 1
    assert {sent for _, sent in refused} == {0}
    assert {outcome for outcome, _ in refused} <= {
        "single_use_consent_taken",
        "single_use_consent_spent",
        "no_consent_record",
    }
    with twpolicy.open_ledger(url) as ledger:
        kinds = [event.type.value for event in ledger.events()]
    assert 1 == kinds.count("used")
    assert kinds.count("claimed") == 1 + kinds.count("released")

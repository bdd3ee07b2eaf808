"""A synthetic corpus: one small payload document for every family the walker recognises.

Written by the project (no real person's content), so every payload family is exercised on a
fresh clone; the shared corpus of real recordings (tests/corpus.py) is an extra layer on top.
Built from tests/payloads.py and `twpolicy.strategies` examples drawn with a fixed seed.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import payloads as p
from twpolicy import strategies as tws

USER = "1000000000000000001"
TWEET = "1100000000000000001"


def _drawn() -> list[Any]:
    """A few documents from `twpolicy.strategies`, drawn reproducibly."""
    found: list[Any] = []

    @seed(20261202)
    @settings(
        max_examples=3,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.tuples(tws.tweets("v1.1"), tws.tweets("v2"), tws.users("v1.1"), tws.places("v2")))
    def draw(values: tuple[Any, ...]) -> None:
        found.extend(values)

    draw()
    return found


def documents() -> list[tuple[str, Any]]:
    """Every synthetic document, each with a name saying what it stands for."""
    mention_v1 = {"screen_name": "example", "id_str": USER, "id": int(USER), "indices": [0, 8]}
    photo = {
        "id_str": "1200000000000000001",
        "media_url_https": "https://pbs.twimg.com/media/x.jpg",
        "indices": [9, 32],
        "type": "photo",
    }
    tweet_v1 = p.tweet_v1()
    tweet_v1["entities"] = {"user_mentions": [mention_v1], "media": [photo]}
    tweet_v2 = p.tweet_v2()
    poll = {"id": "1300000000000000001", "options": [], "voting_status": "closed"}
    space = {"id": "1Spaceid", "state": "live", "host_ids": [USER]}
    list_v2 = {"id": "1400000000000000001", "owner_id": USER, "member_count": 3}
    list_v1 = {"id_str": "1400000000000000002", "full_name": "@example/list", "slug": "list"}
    media_v2 = {"media_key": "3_1200000000000000001", "type": "photo"}
    mention_v2 = {"username": "example", "start": 0, "end": 8, "id": USER}
    response = {
        "data": [{**tweet_v2, "entities": {"mentions": [mention_v2]}}],
        "includes": {
            "users": [p.user_v2()],
            "places": [p.place_v2()],
            "media": [media_v2],
            "polls": [poll],
        },
        "meta": {"result_count": 1},
    }
    flattened = {**p.tweet_v2(), "author": p.user_v2()}
    documents = [
        ("tweet v1.1 with entities", tweet_v1),
        ("v2 response with expansions", response),
        ("twarc2-flattened tweet", flattened),
        ("activity", p.activity()),
        ("geo result", p.geo_result()),
        ("trends", p.trends()),
        ("geometry", {"type": "Point", "coordinates": [0.5, 51.5]}),
        (
            "legacy direct message",
            {"id": 1, "id_str": "1", "text": "hi", "sender": p.user_v1(), "recipient_id": 2},
        ),
        (
            "v1.1 DM events page",
            {"events": [{"type": "message_create", "id": "1", "message_create": {}}]},
        ),
        (
            "v2 DM event",
            {"id": "1", "text": "hi", "event_type": "MessageCreate", "dm_conversation_id": "1-2"},
        ),
        ("v2 space", {"data": space}),
        ("v2 list", {"data": list_v2}),
        ("v1.1 list", list_v1),
        ("v1.1 search page", {"statuses": [p.tweet_v1()], "search_metadata": {"count": 1}}),
        ("account settings", {"screen_name": "example", "sleep_time": {"enabled": False}}),
        ("rate limits", {"resources": {"geo": {}}, "rate_limit_context": {}}),
        ("delete notice", {"delete": {"status": {"id_str": TWEET, "user_id_str": USER}}}),
        ("scrub_geo notice", {"scrub_geo": {"user_id_str": USER, "up_to_status_id_str": TWEET}}),
        ("withheld notice", {"status_withheld": {"id": TWEET, "withheld_in_countries": ["DE"]}}),
        ("compliance event", {"user_suspend": {"id": USER}}),
        ("batch compliance line", {"id": TWEET, "action": "delete", "reason": "deleted"}),
        ("stream control message", {"limit": {"track": 1}}),
        ("user stream envelope", {"event": {"type": "follow"}, "target": p.user_v1()}),
        ("object with location keys only", {"coordinates": [0.5, 51.5]}),
    ]
    documents += [(f"twpolicy.strategies example {n}", v) for n, v in enumerate(_drawn())]
    return documents

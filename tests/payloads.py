"""Synthetic payloads of every family, and hypothesis strategies that build them.

Everything here is made up (example names, IDs of the form 10000000000000000NN), in the shapes
recorded API payloads have (see the shared corpus), so tests can say exactly what a payload
holds without quoting anyone's data.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

POINT = {"type": "Point", "coordinates": [-0.1275, 51.5072]}  # GeoJSON: [longitude, latitude]
LEGACY_POINT = {"type": "Point", "coordinates": [51.5072, -0.1275]}  # v1 `geo`: [lat, long]
BOX = {
    "type": "Polygon",
    "coordinates": [[[-0.5, 51.3], [-0.5, 51.7], [0.3, 51.7], [0.3, 51.3]]],
}


def place_v1(place_id: str = "0a1b2c3d4e5f6a7b", name: str = "Exampleton") -> dict[str, Any]:
    """A v1.1 place, as a Tweet's ``place`` or ``geo/id`` holds it."""
    return {
        "id": place_id,
        "url": f"https://api.example/1.1/geo/id/{place_id}.json",
        "place_type": "city",
        "name": name,
        "full_name": f"{name}, EX",
        "country_code": "EX",
        "country": "Exampleland",
        "bounding_box": copy.deepcopy(BOX),
        "attributes": {},
    }


def place_v2(place_id: str = "0a1b2c3d4e5f6a7b") -> dict[str, Any]:
    """A v2 place, as ``includes.places`` holds it."""
    return {
        "id": place_id,
        "full_name": "Exampleton, EX",
        "name": "Exampleton",
        "country": "Exampleland",
        "country_code": "EX",
        "place_type": "city",
        "geo": {"type": "Feature", "bbox": [-0.5, 51.3, 0.3, 51.7], "properties": {}},
    }


def user_v1(user_id: str = "1000000000000000001", location: str = "Exampleton") -> dict[str, Any]:
    """A v1.1 user."""
    return {
        "id": int(user_id),
        "id_str": user_id,
        "name": "Example User",
        "screen_name": f"example_{user_id[-2:]}",
        "location": location,
        "description": "A made-up account.",
        "followers_count": 3,
        "geo_enabled": True,
        "profile_location": None,
    }


def user_v2(user_id: str = "1000000000000000001", location: str = "Exampleton") -> dict[str, Any]:
    """A v2 user."""
    return {
        "id": user_id,
        "name": "Example User",
        "username": f"example_{user_id[-2:]}",
        "location": location,
    }


def tweet_v1(
    tweet_id: str = "1000000000000000010",
    *,
    coordinates: Any = None,
    geo: Any = None,
    place: Any = None,
    user: Any = None,
    **extra: Any,
) -> dict[str, Any]:
    """A v1.1 Tweet; location only where asked for."""
    tweet = {
        "created_at": "Mon Jan 01 00:00:00 +0000 2024",
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": "An example post.",
        "user": user if user is not None else user_v1(),
        "coordinates": coordinates,
        "geo": geo,
        "place": place,
        "entities": {"hashtags": [], "urls": [], "user_mentions": []},
        "lang": "en",
    }
    tweet.update(extra)
    return tweet


def tweet_v2(
    tweet_id: str = "1000000000000000010", *, geo: Any = None, **extra: Any
) -> dict[str, Any]:
    """A v2 Tweet; ``geo`` only where asked for."""
    tweet: dict[str, Any] = {
        "id": tweet_id,
        "text": "An example post.",
        "author_id": "1000000000000000001",
        "edit_history_tweet_ids": [tweet_id],
    }
    if geo is not None:
        tweet["geo"] = geo
    tweet.update(extra)
    return tweet


def response_v2(
    tweets: list[dict[str, Any]],
    *,
    places: list[dict[str, Any]] = (),  # type: ignore[assignment]  # a read-only default
    users: list[dict[str, Any]] = (),  # type: ignore[assignment]  # a read-only default
) -> dict[str, Any]:
    """A v2 response page: ``data`` and, when given, ``includes``."""
    response: dict[str, Any] = {"data": tweets, "meta": {"result_count": len(tweets)}}
    includes = {key: list(value) for key, value in (("places", places), ("users", users)) if value}
    if includes:
        response["includes"] = includes
    return response


def geo_result() -> dict[str, Any]:
    """A ``geo/reverse_geocode`` response: the echoed query point, and places."""
    return {
        "query": {
            "url": "https://api.example/1.1/geo/reverse_geocode.json?lat=51.5&long=-0.12",
            "type": "reverse_geocode",
            "params": {"accuracy": 0, "coordinates": copy.deepcopy(POINT)},
        },
        "result": {"places": [place_v1(), place_v1("1b2c3d4e5f6a7b8c", "Samplebury")]},
    }


def trends() -> list[dict[str, Any]]:
    """A ``trends/place`` response."""
    return [
        {
            "trends": [{"name": "#example", "url": "https://example.com/", "tweet_volume": 5}],
            "as_of": "2024-01-01T00:00:00Z",
            "locations": [{"name": "Exampleton", "woeid": 1234567}],
        }
    ]


def activity(*, point: bool = True) -> dict[str, Any]:
    """A Gnip activity-streams post with its place (and point)."""
    post: dict[str, Any] = {
        "id": "tag:search.twitter.com,2005:1000000000000000010",
        "objectType": "activity",
        "verb": "post",
        "body": "An example post.",
        "actor": {
            "objectType": "person",
            "id": "id:twitter.com:1000000000000000001",
            "preferredUsername": "example_01",
            "displayName": "Example User",
            "location": {"objectType": "place", "displayName": "Exampleton"},
        },
        "object": {"objectType": "note", "id": "object:search.twitter.com,2005:1"},
        "location": {
            "objectType": "place",
            "displayName": "Exampleton, EX",
            "name": "Exampleton",
            "country_code": "Exampleland",
            "twitter_country_code": "EX",
            "geo": copy.deepcopy(BOX),
        },
    }
    if point:
        post["geo"] = copy.deepcopy(LEGACY_POINT)
    return post


# ---------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------

# Filler keys are drawn from letters no known key can be spelled with (no e, i, l, o, t ...),
# so filler never looks like a Tweet, a user or a location.
FILLER_KEYS = st.text(alphabet="abcdfghjkmqrsvwyz", min_size=1, max_size=6)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()


def filler(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Arbitrary JSON whose keys never name anything a payload walker knows."""
    return st.recursive(
        SCALARS,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(FILLER_KEYS, children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


#: Location data that can stand on its own.
LOCATIONS = st.sampled_from(
    [
        ("coordinates", POINT),
        ("place", place_v1()),
        ("bounding_box", BOX),
        ("lat", 51.5072),
        ("woeid", 1234567),
        ("place_id", "0a1b2c3d4e5f6a7b"),
        ("location", "Exampleton"),
    ]
)


#: Payloads that are location on their own: places, points, trends, geo endpoint answers.
STANDALONE = st.sampled_from(
    [place_v1, place_v2, trends, geo_result, lambda: copy.deepcopy(POINT)]
).map(lambda build: build())


@st.composite
def whole_tweets(draw: st.DrawFn) -> Any:
    """A whole Tweet (v1.1, v2 with its places, or an activity) with its own location."""
    family = draw(st.sampled_from(["v1", "v2", "activity"]))
    if family == "activity":
        return activity(point=draw(st.booleans()))
    if family == "v2":
        place_id = draw(st.sampled_from(["0a1b2c3d4e5f6a7b", "1b2c3d4e5f6a7b8c"]))
        geo: dict[str, Any] = {"place_id": place_id}
        if draw(st.booleans()):
            geo["coordinates"] = copy.deepcopy(POINT)
        return response_v2([tweet_v2(geo=geo)], places=[place_v2(place_id)], users=[user_v2()])
    exact = draw(st.booleans())
    return tweet_v1(
        coordinates=copy.deepcopy(POINT) if exact else None,
        geo=copy.deepcopy(LEGACY_POINT) if exact else None,
        place=place_v1() if draw(st.booleans()) or not exact else None,
        user=user_v1(location=draw(st.sampled_from(["", "Exampleton"]))),
    )

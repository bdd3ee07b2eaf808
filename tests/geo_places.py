"""Places, guards and checks shared by the tests of location judged by owner (I.B.7).

A place with a generated ID, name and full name, the same place as v1.1 carries it, a name
rewritten as an application might, and a guard whose only concern is location.
"""

import copy
import string

from hypothesis import strategies as st

import twpolicy
from twpolicy import Action, Guard
from twpolicy.strategies import places

SF = "5a110d312052166f"  # the fake X API's San Francisco


def location_guard():
    """The built-in rules but consent for non-public content: these tests are about location."""
    return Guard(rules=[r for r in twpolicy.default_rules() if r.id != "nonpublic.consent"])


def decide(guard, payload):
    return guard.check(Action(kind="store", operation="test", payload=payload))


def geo_allowed(guard, payload):
    """Whether ``geo.standalone`` lets ``payload`` be stored (other rules aside)."""
    decision = decide(guard, payload)
    return decision.allowed or decision.rule != "geo.standalone"


WORDS = st.text(alphabet=string.ascii_letters, min_size=4, max_size=12)
REGIONS = st.sampled_from(["CA", "NY", "EX", "Île-de-France", "Bayern"])
PLACE_IDS = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)
GENERATIONS = st.sampled_from(["v1.1", "v2"])


@st.composite
def named_places(draw):
    """A place (v2 shape, from the strategy) with a generated ID, name and full name."""
    place = draw(places("v2"))
    name = draw(WORDS)
    place.update(id=draw(PLACE_IDS), name=name, full_name=f"{name}, {draw(REGIONS)}")
    return place


def v1_place(place):
    """The same place as a v1.1 status carries it."""
    west, south, east, north = place["geo"]["bbox"]
    return {
        "id": place["id"],
        "url": f"https://api.twitter.com/1.1/geo/id/{place['id']}.json",
        "place_type": place["place_type"],
        "name": place["name"],
        "full_name": place["full_name"],
        "country_code": place["country_code"],
        "country": place["country"],
        "bounding_box": {
            "type": "Polygon",
            "coordinates": [[[west, south], [west, north], [east, north], [east, south]]],
        },
        "attributes": {},
    }


def respaced(name):
    """``name`` as an application might rewrite it: other case, other spacing."""
    return "  " + " ,  ".join(part.strip().upper() for part in name.split(",")) + " "


def v1_tweet(base, point, place=None, tweet_id=None):
    """A whole v1.1 Tweet (from the strategy) carrying ``point`` (lat, long) and ``place``,
    without the statuses it quotes or retweets (which carry location of their own)."""
    tweet = copy.deepcopy(base)
    lat, lng = point
    tweet["text"] = tweet.get("text") or "hello"
    tweet["coordinates"] = {"type": "Point", "coordinates": [lng, lat]}
    tweet["geo"] = {"type": "Point", "coordinates": [lat, lng]}
    tweet["place"] = place
    for key in ("retweeted_status", "quoted_status"):
        tweet.pop(key, None)
    if tweet_id is not None:
        tweet["id"], tweet["id_str"] = int(tweet_id), tweet_id
    return tweet

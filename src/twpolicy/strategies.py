"""Hypothesis strategies for X API payloads and twpolicy's own records.

Property tests of code that handles Twitter Content need payloads shaped like the real ones:
v1.1 statuses with an embedded ``user`` and ``place``, v2 tweets with ``includes``, DM events,
compliance messages. These strategies build them with the keys the real API sends (checked
against a corpus of recorded payloads), IDs as decimal strings, and v1.1 integer ``id`` values
below 2**53 next to their ``id_str``.

``hypothesis.strategies.from_type(twpolicy.ConsentRecord)`` works without importing this
module: twpolicy registers it through Hypothesis' ``hypothesis`` entry point.

Example::

    from hypothesis import given
    from twpolicy import strategies as tws


    @given(tws.tweets("v1.1", location=True))
    def test_strip_location(status): ...
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, TypeAlias

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from twpolicy._payloads._walker import Kind, is_whole
from twpolicy._scopes import SCOPES, validate_scopes
from twpolicy._stores._consent import ConsentRecord, Notice, validate_user_id

__all__ = [
    "Api",
    "api_responses",
    "compliance_events",
    "consent_records",
    "dm_events",
    "ids",
    "places",
    "tweets",
    "users",
]

#: Which version of the X API a payload comes from.
Api: TypeAlias = Literal["v1.1", "v2"]

Json: TypeAlias = dict[str, Any]

#: The largest integer a JSON number keeps exactly in JavaScript (and in v1.1 ``id`` fields).
_MAX_SAFE = 2**53 - 1

_EPOCH = datetime(2006, 3, 21, tzinfo=timezone.utc)  # the first tweet
_LATEST = datetime(2030, 1, 1, tzinfo=timezone.utc)
_SPAN = timedelta(days=3650)
_V1_TIME = "%a %b %d %H:%M:%S +0000 %Y"
_LANGS = ("en", "es", "fr", "de", "ja", "pt", "ar", "und")
_SOURCES = (
    ("Twitter for iPhone", "http://twitter.com/download/iphone"),
    ("Twitter Web App", "https://mobile.twitter.com"),
    ("tweepy-bot", "https://www.tweepy.org"),
)
_PLACE_TYPES = ("poi", "neighborhood", "city", "admin", "country")
_COUNTRIES = (("US", "United States"), ("FR", "France"), ("JP", "Japan"), ("MW", "Malawi"))
#: A feature flag: forced on, forced off, or either.
_FLAG: dict[bool | None, st.SearchStrategy[bool]] = {
    None: st.booleans(),
    True: st.sampled_from((True,)),
    False: st.sampled_from((False,)),
}
_WITHHELD_REASONS = ("deleted", "suspended", "protected", "deactivated", "scrub_geo")


def _check_api(api: str) -> Api:
    if api not in ("v1.1", "v2"):
        raise InvalidArgument(f"api must be 'v1.1' or 'v2', got {api!r}")
    return api  # type: ignore[return-value]  # narrowed by the check above


def ids() -> st.SearchStrategy[str]:
    """Tweet, user and DM IDs: decimal strings of positive integers below 2**53."""
    return st.integers(min_value=1, max_value=_MAX_SAFE).map(str)


def _times() -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=_EPOCH.replace(tzinfo=None),
        max_value=_LATEST.replace(tzinfo=None),
        timezones=st.just(timezone.utc),
    ).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))


def _v1_time(moment: datetime) -> str:
    return moment.strftime(_V1_TIME)


def _v2_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# Content: a character that prints, more than links or an ID (anything less does not make a
# Tweet whole, I.B.7).
_text = st.text(min_size=1, max_size=280).filter(
    lambda text: is_whole(Kind.TWEET_V2, {"text": text})
)
_short = st.text(max_size=50)
_handles = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=15)
_tags = st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=20)
_counts = st.integers(min_value=0, max_value=10**8)
_colours = st.text(alphabet="0123456789ABCDEF", min_size=6, max_size=6)
_tokens = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=16, max_size=48)
_place_ids = st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)
_longitudes = st.floats(min_value=-180, max_value=180, allow_nan=False)
_latitudes = st.floats(min_value=-90, max_value=90, allow_nan=False)


@st.composite
def _bounding_box(draw: st.DrawFn) -> tuple[float, float, float, float]:
    west, east = sorted((draw(_longitudes), draw(_longitudes)))
    south, north = sorted((draw(_latitudes), draw(_latitudes)))
    return west, south, east, north


@st.composite
def _v1_place(draw: st.DrawFn, *, place_id: str | None = None, nested: bool = False) -> Json:
    west, south, east, north = draw(_bounding_box())
    code, country = draw(st.sampled_from(_COUNTRIES))
    pid = place_id or draw(_place_ids)
    name = draw(_short)
    place: Json = {
        "id": pid,
        "url": f"https://api.twitter.com/1.1/geo/id/{pid}.json",
        "place_type": draw(st.sampled_from(_PLACE_TYPES)),
        "name": name,
        "full_name": name,
        "country_code": code,
        "country": country,
        "bounding_box": {
            "type": "Polygon",
            "coordinates": [
                [[west, south], [west, north], [east, north], [east, south], [west, south]]
            ],
        },
        "attributes": {},
    }
    if not nested:
        place["contained_within"] = draw(st.lists(_v1_place(nested=True), max_size=1))
    if draw(st.booleans()):
        place["centroid"] = [(west + east) / 2, (south + north) / 2]
    return place


@st.composite
def _v2_place(draw: st.DrawFn, *, place_id: str | None = None) -> Json:
    west, south, east, north = draw(_bounding_box())
    code, country = draw(st.sampled_from(_COUNTRIES))
    name = draw(_short)
    return {
        "id": place_id or draw(_place_ids),
        "full_name": name,
        "name": name,
        "country": country,
        "country_code": code,
        "place_type": draw(st.sampled_from(_PLACE_TYPES)),
        "geo": {"type": "Feature", "bbox": [west, south, east, north], "properties": {}},
    }


def places(api: Api = "v2") -> st.SearchStrategy[Json]:
    """Places, as in a v1.1 status's ``place`` or a v2 response's ``includes.places``.

    Args:
        api: ``"v1.1"`` (with ``bounding_box`` and ``url``) or ``"v2"`` (GeoJSON ``geo``).
    """
    return _v1_place() if _check_api(api) == "v1.1" else _v2_place()


@st.composite
def _v1_user(
    draw: st.DrawFn, *, user_id: str | None = None, screen_name: str | None = None
) -> Json:
    uid = user_id or draw(ids())
    handle = screen_name or draw(_handles)
    banner = draw(st.booleans())
    user: Json = {
        "id": int(uid),
        "id_str": uid,
        "name": draw(_short),
        "screen_name": handle,
        "location": draw(st.one_of(st.just(""), _short)),
        "description": draw(st.text(max_size=160)),
        "url": draw(st.one_of(st.none(), st.just(f"https://t.co/{handle}"))),
        "entities": {"description": {"urls": []}},
        "protected": draw(st.booleans()),
        "followers_count": draw(_counts),
        "friends_count": draw(_counts),
        "listed_count": draw(_counts),
        "created_at": _v1_time(draw(_times())),
        "favourites_count": draw(_counts),
        "utc_offset": None,
        "time_zone": None,
        "geo_enabled": draw(st.booleans()),
        "verified": draw(st.booleans()),
        "statuses_count": draw(_counts),
        "lang": None,
        "contributors_enabled": False,
        "is_translator": False,
        "is_translation_enabled": False,
        "profile_background_color": draw(_colours),
        "profile_background_image_url": None,
        "profile_background_image_url_https": None,
        "profile_background_tile": False,
        "profile_image_url": f"http://pbs.twimg.com/profile_images/{uid}/avatar_normal.jpg",
        "profile_image_url_https": f"https://pbs.twimg.com/profile_images/{uid}/avatar_normal.jpg",
        "profile_link_color": draw(_colours),
        "profile_sidebar_border_color": draw(_colours),
        "profile_sidebar_fill_color": draw(_colours),
        "profile_text_color": draw(_colours),
        "profile_use_background_image": True,
        "has_extended_profile": False,
        "default_profile": draw(st.booleans()),
        "default_profile_image": False,
        "following": False,
        "follow_request_sent": False,
        "notifications": False,
        "translator_type": "none",
    }
    if banner:
        user["profile_banner_url"] = f"https://pbs.twimg.com/profile_banners/{uid}/1"
    if draw(st.booleans()):
        user["withheld_in_countries"] = draw(st.lists(st.sampled_from(["DE", "FR", "TR"])))
    return user


@st.composite
def _v2_user(draw: st.DrawFn, *, user_id: str | None = None) -> Json:
    uid = user_id or draw(ids())
    user: Json = {"id": uid, "name": draw(_short), "username": draw(_handles)}
    optional: Json = {
        "created_at": _v2_time(draw(_times())),
        "description": draw(st.text(max_size=160)),
        "location": draw(_short),
        "pinned_tweet_id": draw(ids()),
        "profile_image_url": f"https://pbs.twimg.com/profile_images/{uid}/avatar_normal.jpg",
        "protected": draw(st.booleans()),
        "public_metrics": {
            "followers_count": draw(_counts),
            "following_count": draw(_counts),
            "tweet_count": draw(_counts),
            "listed_count": draw(_counts),
        },
        "url": draw(st.sampled_from(["", "https://t.co/abc"])),
        "verified": draw(st.booleans()),
    }
    chosen = draw(st.sets(st.sampled_from(sorted(optional))))
    user.update({key: optional[key] for key in sorted(chosen)})
    return user


def users(api: Api = "v2") -> st.SearchStrategy[Json]:
    """Users: a v1.1 user object (every profile field) or a v2 user with optional fields.

    Args:
        api: ``"v1.1"`` or ``"v2"``.
    """
    return _v1_user() if _check_api(api) == "v1.1" else _v2_user()


def _v1_entities(draw: st.DrawFn) -> Json:
    hashtags = draw(st.lists(_tags, max_size=3))
    return {
        "hashtags": [{"text": tag, "indices": [0, len(tag) + 1]} for tag in hashtags],
        "symbols": [],
        "user_mentions": [],
        "urls": [],
    }


@st.composite
def _v1_tweet(
    draw: st.DrawFn,
    *,
    location: bool | None = None,
    retweet: bool | None = False,
    quote: bool | None = False,
    extended: bool | None = None,
    tweet_id: str | None = None,
) -> Json:
    tid = tweet_id or draw(ids())
    user = draw(_v1_user())
    created = draw(_times())
    is_extended = draw(_FLAG[extended])
    text = draw(_text)
    name, url = draw(st.sampled_from(_SOURCES))
    status: Json = {
        "created_at": _v1_time(created),
        "id": int(tid),
        "id_str": tid,
        "text": text,
        "truncated": False,
        "entities": _v1_entities(draw),
        "source": f'<a href="{url}" rel="nofollow">{name}</a>',
        "in_reply_to_status_id": None,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id": None,
        "in_reply_to_user_id_str": None,
        "in_reply_to_screen_name": None,
        "user": user,
        "geo": None,
        "coordinates": None,
        "place": None,
        "contributors": None,
        "is_quote_status": False,
        "retweet_count": draw(_counts),
        "favorite_count": draw(_counts),
        "favorited": False,
        "retweeted": False,
        "lang": draw(st.sampled_from(_LANGS)),
    }
    if draw(st.booleans()):
        reply_to = draw(_v1_user())
        status.update(
            in_reply_to_status_id=int(draw(ids())),
            in_reply_to_user_id=reply_to["id"],
            in_reply_to_user_id_str=reply_to["id_str"],
            in_reply_to_screen_name=reply_to["screen_name"],
        )
        status["in_reply_to_status_id_str"] = str(status["in_reply_to_status_id"])
    if draw(_FLAG[location]):
        place = draw(_v1_place())
        status["place"] = place
        if draw(st.booleans()):
            lon, lat = draw(_longitudes), draw(_latitudes)
            status["geo"] = {"type": "Point", "coordinates": [lat, lon]}
            status["coordinates"] = {"type": "Point", "coordinates": [lon, lat]}
    if is_extended:
        # The compatibility rendering of a long tweet: truncated text, the whole in extended_tweet.
        status["truncated"] = True
        status["text"] = text[:139] + "…"
        status["extended_tweet"] = {
            "full_text": text,
            "display_text_range": [0, len(text)],
            "entities": status["entities"],
        }
    if draw(_FLAG[quote]):
        quoted = draw(_v1_tweet(location=None, retweet=False, quote=False))
        status.update(
            is_quote_status=True,
            quoted_status_id=quoted["id"],
            quoted_status_id_str=quoted["id_str"],
            quoted_status=quoted,
        )
    if draw(_FLAG[retweet]):
        original = draw(_v1_tweet(location=location, retweet=False, quote=quote))
        status.update(
            text=f"RT @{original['user']['screen_name']}: {original['text']}"[:140],
            retweeted_status=original,
            is_quote_status=original["is_quote_status"],
            place=None,
            geo=None,
            coordinates=None,
        )
        status.pop("extended_tweet", None)
        status.update(truncated=False)
        if "quoted_status" in original:
            status.update(
                quoted_status_id=original["quoted_status_id"],
                quoted_status_id_str=original["quoted_status_id_str"],
            )
            status.pop("quoted_status", None)
    return status


@st.composite
def _v2_tweet(
    draw: st.DrawFn,
    *,
    location: bool | None = None,
    retweet: bool | None = False,
    quote: bool | None = False,
    tweet_id: str | None = None,
) -> Json:
    tid = tweet_id or draw(ids())
    tweet: Json = {"id": tid, "text": draw(_text), "edit_history_tweet_ids": [tid]}
    name, _ = draw(st.sampled_from(_SOURCES))
    optional: Json = {
        "author_id": draw(ids()),
        "created_at": _v2_time(draw(_times())),
        "conversation_id": tid,
        "lang": draw(st.sampled_from(_LANGS)),
        "possibly_sensitive": draw(st.booleans()),
        "reply_settings": draw(st.sampled_from(["everyone", "mentionedUsers", "following"])),
        "source": name,
        "public_metrics": {
            "retweet_count": draw(_counts),
            "reply_count": draw(_counts),
            "like_count": draw(_counts),
            "quote_count": draw(_counts),
        },
        "entities": {
            "hashtags": [
                {"start": 0, "end": len(tag) + 1, "tag": tag}
                for tag in draw(st.lists(_tags, min_size=1, max_size=3))
            ]
        },
    }
    chosen = draw(st.sets(st.sampled_from(sorted(optional))))
    tweet.update({key: optional[key] for key in sorted(chosen)})
    referenced = []
    if draw(_FLAG[retweet]):
        referenced.append({"type": "retweeted", "id": draw(ids())})
        tweet["text"] = "RT @" + draw(_handles) + ": " + tweet["text"]
    if draw(_FLAG[quote]):
        referenced.append({"type": "quoted", "id": draw(ids())})
    if referenced:
        tweet["referenced_tweets"] = referenced
    if draw(_FLAG[location]):
        geo: Json = {"place_id": draw(_place_ids)}
        if draw(st.booleans()):
            geo["coordinates"] = {
                "type": "Point",
                "coordinates": [draw(_longitudes), draw(_latitudes)],
            }
        tweet["geo"] = geo
    return tweet


def tweets(
    api: Api = "v2",
    *,
    location: bool | None = None,
    retweet: bool | None = None,
    quote: bool | None = None,
    extended: bool | None = None,
) -> st.SearchStrategy[Json]:
    """Tweets: v1.1 statuses (with ``user``, ``place``, ...) or v2 tweet objects.

    Each flag forces a feature on (``True``), off (``False``), or lets Hypothesis choose
    (``None``).

    Args:
        api: ``"v1.1"`` or ``"v2"``.
        location: with location: v1.1 ``place`` (and sometimes ``geo``/``coordinates``; on
            the retweeted status for a retweet, as the API sends it), v2 ``geo.place_id`` (and
            sometimes ``geo.coordinates``).
        retweet: a retweet: v1.1 ``retweeted_status``, v2 ``referenced_tweets`` ``retweeted``.
        quote: a quote tweet: v1.1 ``quoted_status``, v2 ``referenced_tweets`` ``quoted``.
        extended: v1.1 only: a long tweet in compatibility mode (``extended_tweet``).
    """
    if _check_api(api) == "v1.1":
        return _v1_tweet(location=location, retweet=retweet, quote=quote, extended=extended)
    if extended is not None:
        raise InvalidArgument("extended= applies to v1.1 tweets only")
    return _v2_tweet(location=location, retweet=retweet, quote=quote)


@st.composite
def _v1_dm_event(draw: st.DrawFn) -> Json:
    return {
        "type": "message_create",
        "id": draw(ids()),
        "created_timestamp": str(int(draw(_times()).timestamp() * 1000)),
        "message_create": {
            "target": {"recipient_id": draw(ids())},
            "sender_id": draw(ids()),
            "message_data": {
                "text": draw(_text),
                "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
            },
        },
    }


@st.composite
def _v2_dm_event(draw: st.DrawFn) -> Json:
    event_type = draw(st.sampled_from(["MessageCreate", "ParticipantsJoin", "ParticipantsLeave"]))
    event: Json = {
        "id": draw(ids()),
        "event_type": event_type,
        "dm_conversation_id": draw(ids()),
        "created_at": _v2_time(draw(_times())),
    }
    if event_type == "MessageCreate":
        event["text"] = draw(_text)
        event["sender_id"] = draw(ids())
    else:
        event["participant_ids"] = draw(st.lists(ids(), min_size=1, max_size=3, unique=True))
    return event


def dm_events(api: Api = "v2") -> st.SearchStrategy[Json]:
    """Direct Message events: v1.1 ``message_create`` events or v2 ``dm_events`` items.

    Args:
        api: ``"v1.1"`` or ``"v2"``.
    """
    return _v1_dm_event() if _check_api(api) == "v1.1" else _v2_dm_event()


def _id_pair(name: str, value: str) -> Json:
    return {name: int(value), f"{name}_str": value}


@st.composite
def _v1_compliance(draw: st.DrawFn) -> Json:
    kind = draw(st.sampled_from(["delete", "scrub_geo", "status_withheld", "user_withheld"]))
    countries = draw(st.lists(st.sampled_from(["DE", "FR", "TR", "IN"]), min_size=1, unique=True))
    if kind == "delete":
        status = _id_pair("id", draw(ids())) | _id_pair("user_id", draw(ids()))
        when = str(int(draw(_times()).timestamp() * 1000))
        return {"delete": {"status": status, "timestamp_ms": when}}
    if kind == "scrub_geo":
        body = _id_pair("user_id", draw(ids())) | _id_pair("up_to_status_id", draw(ids()))
        return {"scrub_geo": body}
    if kind == "status_withheld":
        body = {"id": int(draw(ids())), "user_id": int(draw(ids()))}
        return {"status_withheld": body | {"withheld_in_countries": countries}}
    return {"user_withheld": {"id": int(draw(ids())), "withheld_in_countries": countries}}


@st.composite
def _v2_compliance(draw: st.DrawFn) -> Json:
    event: Json = {
        "id": draw(ids()),
        "action": "delete",
        "created_at": _v2_time(draw(_times())),
        "reason": draw(st.sampled_from(_WITHHELD_REASONS)),
    }
    if draw(st.booleans()):
        event["redacted_at"] = _v2_time(draw(_times()))
    return event


def compliance_events(api: Api | None = None) -> st.SearchStrategy[Json]:
    """Compliance events an application must act on (Developer Policy I.C.3).

    Args:
        api: ``"v1.1"`` for stream messages (``delete``, ``scrub_geo``, ``status_withheld``,
            ``user_withheld``), ``"v2"`` for rows of a compliance job's result file, ``None``
            for either.
    """
    if api is None:
        return st.one_of(_v1_compliance(), _v2_compliance())
    return _v1_compliance() if _check_api(api) == "v1.1" else _v2_compliance()


def _includes(draw: st.DrawFn, items: list[Json]) -> dict[str, list[Json]]:
    """The expansions of ``items``: authors, places and referenced tweets, each once."""
    found: dict[str, dict[str, Json]] = {"users": {}, "places": {}, "tweets": {}}
    known = {item.get("id") for item in items}
    for item in items:
        author = item.get("author_id")
        if author is not None and author not in found["users"]:
            found["users"][author] = draw(_v2_user(user_id=author))
        place = (item.get("geo") or {}).get("place_id")
        if place is not None and place not in found["places"]:
            found["places"][place] = draw(_v2_place(place_id=place))
        for ref in item.get("referenced_tweets", ()):
            if ref["id"] not in known and ref["id"] not in found["tweets"]:
                found["tweets"][ref["id"]] = draw(_v2_tweet(tweet_id=ref["id"], location=False))
    return {kind: list(objects.values()) for kind, objects in found.items() if objects}


@st.composite
def _responses(draw: st.DrawFn, data: st.SearchStrategy[Json] | None, *, many: bool | None) -> Json:
    if data is None:
        data = _v2_tweet(location=None, retweet=None, quote=None)
    plural = draw(_FLAG[many])
    items = draw(st.lists(data, min_size=1, max_size=5)) if plural else [draw(data)]
    body: Json = {"data": items if plural else items[0]}
    includes = _includes(draw, items)
    if includes:
        body["includes"] = includes
    if plural:
        meta: Json = {"result_count": len(items)}
        numeric = [int(i["id"]) for i in items if str(i.get("id", "")).isdigit()]
        if numeric:
            meta.update(newest_id=str(max(numeric)), oldest_id=str(min(numeric)))
        if draw(st.booleans()):
            meta["next_token"] = draw(_tokens)
        body["meta"] = meta
    return body


def api_responses(
    data: st.SearchStrategy[Json] | None = None, *, many: bool | None = None
) -> st.SearchStrategy[Json]:
    """Whole v2 response bodies: ``data``, the ``includes`` its expansions name, and ``meta``.

    ``includes.users`` holds every ``author_id``, ``includes.places`` every ``geo.place_id``,
    ``includes.tweets`` every referenced tweet not already in ``data``; a list response has
    ``meta.result_count``, ``newest_id``/``oldest_id`` and sometimes ``next_token``.

    Args:
        data: the strategy for each item of ``data``; v2 tweets by default.
        many: a list response (``True``), a single object (``False``), or either (``None``).
    """
    return _responses(data, many=many)


_NOTICES = ("post-dialog", "settings-page", "onboarding")
_METHODS = ("ui_explicit", "oauth_consent_screen", "reply_keyword", "dm_keyword")
_hex64 = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
_labels = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1)


@st.composite
def _notices(draw: st.DrawFn) -> Notice:
    return Notice(
        id=draw(st.sampled_from(_NOTICES)),
        version=draw(st.sampled_from(["", "1", "3"])),
        url=draw(st.sampled_from(["", "https://example.org/privacy"])),
        sha256=draw(st.none() | _hex64),
        language=draw(st.sampled_from(["", "en", "fr"])),
    )


@st.composite
def _consent_records(
    draw: st.DrawFn, user_id: str | None, scopes: frozenset[str] | None
) -> ConsentRecord:
    granted = draw(_times())
    expires: datetime | None = None
    if draw(st.booleans()):
        expires = granted + draw(st.timedeltas(min_value=timedelta(seconds=1), max_value=_SPAN))
    return ConsentRecord(
        record_id=str(draw(st.uuids(version=4))),
        user_id=user_id or draw(ids()),
        scopes=scopes or frozenset(draw(st.sets(st.sampled_from(sorted(SCOPES)), min_size=1))),
        granted_at=granted,
        notice=draw(_notices()),
        method=draw(st.sampled_from(_METHODS)),
        evidence=draw(_labels),
        expires_at=expires,
        content_sha256=draw(st.none() | _hex64),
        app_user_id=draw(st.none() | _labels),
    )


def consent_records(
    *, user_id: str | int | None = None, scopes: Iterable[str] | str | None = None
) -> st.SearchStrategy[ConsentRecord]:
    """`twpolicy.ConsentRecord` objects with valid user IDs, known scopes and UTC times.

    Some expire, some are bound to one content hash; none is revoked (revocation belongs to
    the ledger, not the record).

    Args:
        user_id: fix the consenting user; any ID when ``None``.
        scopes: fix the scopes; a non-empty subset of `twpolicy.SCOPES` when ``None``.

    Raises:
        twpolicy.ConfigurationError: ``user_id`` or ``scopes`` is not valid.
    """
    uid = None if user_id is None else validate_user_id(user_id)
    return _consent_records(uid, None if scopes is None else validate_scopes(scopes))

"""I.B.7: an object is whole by what its content fields hold, judged by their values.

Text that prints nothing (whitespace, invisible and format characters, controls, combining
marks on their own), text that is only links (without the media they link to) and text that
is only an ID do not make a Tweet, user or DM whole: location kept with such an object
stands alone.
"""

import copy

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import twpolicy
from corpus import load
from twpolicy import Guard, StandaloneGeoError, check_storable, find_geo
from twpolicy.strategies import tweets

POINT = {"type": "Point", "coordinates": [-122.4194, 37.7749]}

# Pieces of text that print nothing of their own.
BLANK_PIECES = st.sampled_from(
    [
        " ",
        "\t",
        "\n",
        "\u3000",
        "\u200b",
        "\u200c",
        "\u200d",
        "\u2060",
        "\ufeff",
        "\u00ad",
        "\u034f",
        "\u115f",
        "\u3164",
        "\uffa0",
        "\u2800",
        "\ufe0f",
        "\U000e0041",
        "\x00",
        "\x1b",
        "\u0301",
        "\u202e",
        "\u061c",
    ]
)
LINKS = st.sampled_from(
    ["https://t.co/abcDEF123", "http://example.com/a?b=c", "www.example.com", "HTTPS://T.CO/x"]
)
IDS = st.integers(10**9, 2**64 - 1).map(str)


@st.composite
def blank_texts(draw: st.DrawFn) -> str:
    """A text with no content of its own: blanks, with perhaps links or one ID among them."""
    pieces = draw(st.lists(BLANK_PIECES, max_size=6))
    extra = draw(
        st.one_of(st.none(), st.lists(LINKS, min_size=1, max_size=3), IDS.map(lambda i: [i]))
    )
    for item in extra or []:
        pieces.insert(draw(st.integers(0, len(pieces))), item)
        pieces.insert(draw(st.integers(0, len(pieces))), " ")
    return "".join(pieces)


CONTENT_V1 = ("text", "full_text")


def _guard() -> Guard:
    return Guard(rules=[r for r in twpolicy.default_rules() if r.id != "nonpublic.consent"])


def _reduce(tweet: dict, blank: str) -> dict:
    """Every content field of ``tweet`` replaced by ``blank``, media and nested Tweets gone."""
    reduced = copy.deepcopy(tweet)
    for key in ("retweeted_status", "quoted_status", "extended_entities", "attachments"):
        reduced.pop(key, None)
    if isinstance(reduced.get("entities"), dict):
        reduced["entities"].pop("media", None)
    for key in CONTENT_V1:
        if key in reduced:
            reduced[key] = blank
    reduced["text"] = blank
    if "extended_tweet" in reduced:
        reduced["extended_tweet"] = {"full_text": blank}
    if "note_tweet" in reduced:
        reduced["note_tweet"] = {"text": blank}
    return reduced


def _located(tweet: dict) -> bool:
    return any(tweet.get(key) for key in ("coordinates", "geo", "place"))


class TestBlankValues:
    @settings(max_examples=60)
    @given(tweets("v1.1", location=True), blank_texts())
    def test_v1_tweets_with_blank_text_stand_alone(self, tweet, blank):
        reduced = _reduce(tweet, blank)
        assume(_located(reduced))
        with pytest.raises(StandaloneGeoError):
            check_storable(reduced, guard=_guard())
        assert any(finding.standalone for finding in find_geo(reduced))

    @settings(max_examples=60)
    @given(tweets("v2", location=True), blank_texts())
    def test_v2_tweets_with_blank_text_stand_alone(self, tweet, blank):
        reduced = _reduce(tweet, blank)
        assume(_located(reduced))
        with pytest.raises(StandaloneGeoError):
            check_storable(reduced, guard=_guard())

    @settings(max_examples=40)
    @given(
        st.lists(BLANK_PIECES, max_size=6).map("".join),
        st.sampled_from(["screen_name", "username"]),
    )
    def test_users_with_blank_names_stand_alone(self, blank, handle):
        user = {"id_str": "12", handle: blank, "name": blank, "location": "Paris, France"}
        with pytest.raises(StandaloneGeoError):
            check_storable(user, guard=_guard())

    @settings(max_examples=40)
    @given(blank_texts())
    def test_dms_with_blank_text_stand_alone(self, blank):
        dm = {
            "id": "1",
            "type": "message_create",
            "message_create": {
                "sender_id": "2",
                "target": {"recipient_id": "3"},
                "message_data": {
                    "text": blank,
                    "attachment": {
                        "type": "location",
                        "location": {"shared_coordinate": {"coordinates": POINT}},
                    },
                },
            },
        }
        assert any(finding.standalone for finding in find_geo(dm))

    @pytest.mark.parametrize(
        "text",
        [
            "\u200b",
            "\u2060\ufeff",
            "\u3164",
            "\u2800",
            "\x00",
            "\u0301",
            "https://t.co/abc",
            "1445880548472328192",
        ],
    )
    def test_instances(self, text):
        with pytest.raises(StandaloneGeoError):
            check_storable({"id_str": "1", "text": text, "coordinates": POINT}, guard=_guard())
        with pytest.raises(StandaloneGeoError):
            check_storable(
                {
                    "id": "1",
                    "text": "x",
                    "note_tweet": {"text": text},
                    "geo": {"coordinates": POINT},
                }
                | {"text": text},
                guard=_guard(),
            )

    @settings(max_examples=40)
    @given(LINKS, st.sampled_from(["entities", "extended_entities", "attachments"]))
    def test_links_to_media_are_content(self, link, container):
        key = "media_keys" if container == "attachments" else "media"
        item = "3_1" if container == "attachments" else {"id_str": "5", "media_url": link}
        tweet = {"id_str": "1", "text": link, container: {key: [item]}, "coordinates": POINT}
        assert check_storable(tweet, guard=_guard()).allowed

    @pytest.mark.parametrize(
        "text", ["1", "2024", ".", "é", "🙂", "12345 6789", "see https://t.co/x"]
    )
    def test_short_texts_are_content(self, text):
        assert check_storable(
            {"id_str": "1", "text": text, "coordinates": POINT}, guard=_guard()
        ).allowed


def test_corpus_geotagged_tweets_blanked_stand_alone(corpus):
    """Every geotagged corpus Tweet, whole: storable; its text made blank: refused."""
    checked = 0
    guard = _guard()
    for doc in load(corpus):
        tweet = doc.value
        if doc.error is not None or not isinstance(tweet, dict) or "data" in tweet:
            continue
        if not ({"id_str", "id"} & set(tweet)) or not _located(tweet):
            continue
        for blank in ("\u200b", "https://t.co/x", "\u3164 1445880548472328192"):
            reduced = _reduce(tweet, blank)
            reduced.pop("user", None)
            with pytest.raises(StandaloneGeoError):
                check_storable(reduced, guard=guard)
            checked += 1
    assert checked > 40

"""The one table of payload shapes: every kind of object, its IDs, references, children, location.

Three readers work from it and from nothing else: the walker (`twpolicy._payloads._walker`)
expands objects through its child slots and reads IDs and references from its fields; the
fast ID path (`twpolicy._payloads._fastids`) compiles decoders and extraction code from it;
and the ID-only check (`twpolicy._payloads._ids`) accepts exactly the keys it names as
holding Tweet, User or DM IDs. A shape added or corrected here reaches all three.

Paths are dotted (``entities.mentions``); in ID fields and references a ``*`` stands for
every element of a list (``referenced_tweets.*.id``), and a field ending in ``_str`` (or
``_string``) is read together with its numeric twin (``id_str`` with ``id``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from typing import Final, Literal, TypeAlias

import attrs

__all__ = [
    "CONTENT_FAMILY",
    "CONTENT_KINDS",
    "EXPORT_KEYS",
    "FAMILIES",
    "FIELD_KINDS",
    "ID_KEYS",
    "LOCATION_FIELDS",
    "LOOSE_KEYS",
    "SHAPES",
    "Family",
    "GeoKind",
    "Kind",
    "Shape",
    "Signature",
    "Slot",
    "leaf",
    "loose_key",
    "twin",
]

Segment: TypeAlias = "str | int"
#: Keys and list indexes leading from one JSON value to another.
Path: TypeAlias = "tuple[Segment, ...]"
#: Object keys only, leading into nested objects.
Keys: TypeAlias = "tuple[str, ...]"

#: What an ID names: the three that may leave (Developer Policy I.F.2), and the others.
Family: TypeAlias = Literal["tweet", "user", "dm", "place", "media", "poll"]
#: The families whose IDs may be distributed, in the order ``IdKind`` lists them.
FAMILIES: Final[tuple[Family, ...]] = ("tweet", "user", "dm")


class Kind(str, enum.Enum):
    """The payload families the walker recognises."""

    TWEET_V1 = "tweet_v1"
    """A v1.1 (or older) Tweet: ``id_str``, ``text``/``full_text``, an embedded ``user``."""
    TWEET_V2 = "tweet_v2"
    """A v2 Tweet: string ``id``, ``text``, references by ID (``author_id``, ...)."""
    TWEET_FLAT = "tweet_flattened"
    """A twarc2-flattened v2 Tweet: expansions inlined (``author``, ``geo`` place, ...)."""
    ACTIVITY = "activity"
    """A Gnip activity-streams activity (a Tweet or a Retweet)."""
    USER_V1 = "user_v1"
    USER_V2 = "user_v2"
    ACTOR = "actor"
    """A Gnip activity-streams person."""
    MENTION = "mention"
    """A user mentioned in a Tweet's entities (v1.1 ``user_mentions``, v2 ``mentions``)."""
    PLACE = "place"
    """A place: v1.1 (``bounding_box``), v2 (``geo`` Feature) or activity streams."""
    TREND_LOCATION = "trend_location"
    """A trends location (``woeid``, ``name``, ...)."""
    GEOMETRY = "geometry"
    """A GeoJSON object (Point, Polygon, Feature, ...) outside any place or Tweet field."""
    DM_V1 = "dm_v1"
    """A legacy direct message (``sender``, ``recipient``, ``text``)."""
    DM_EVENT_V1 = "dm_event_v1"
    """A v1.1 DM event (``type: message_create``)."""
    DM_EVENT_V2 = "dm_event_v2"
    """A v2 DM event (``event_type``, ``dm_conversation_id``)."""
    MEDIA = "media"
    POLL = "poll"
    SPACE = "space"
    LIST = "list"
    RESPONSE_V2 = "response_v2"
    """A v2 response or stream message: ``data``, ``includes``, ``errors``, ``meta``."""
    PAGE = "page"
    """A v1.1 or premium response wrapping many objects: search results, cursored pages,
    ``statuses/lookup`` maps, collections, DM event lists."""
    ENVELOPE = "envelope"
    """A stream or webhook wrapper: user- and site-stream events, Account Activity."""
    GEO_RESULT = "geo_result"
    """A geo endpoint's response: ``query`` (echoing the request's point) and ``result``."""
    TRENDS = "trends"
    """A trends response entry: ``trends`` and the ``locations`` they are for."""
    ACCOUNT_SETTINGS = "account_settings"
    """``account/settings``: the account's options, and its ``trend_location``."""
    RATE_LIMITS = "rate_limits"
    """``application/rate_limit_status``: route names only (its ``geo`` key is no location)."""
    DELETE = "delete"
    """A deletion notice: v1.1 stream ``delete``, v2 compliance ``delete``/``user_delete``."""
    SCRUB_GEO = "scrub_geo"
    """A notice to delete a user's location data up to a Tweet (v1.1 and v2)."""
    WITHHELD = "withheld"
    """A withholding notice for a Tweet or user."""
    COMPLIANCE = "compliance"
    """Another v2 compliance event, or a batch compliance result line."""
    CONTROL = "control"
    """A stream control message: ``limit``, ``disconnect``, ``warning``, ``friends``, ..."""
    OTHER = "other"
    """An object of no known family that holds location-like keys."""

    def __str__(self) -> str:
        return self.value


class GeoKind(str, enum.Enum):
    """What sort of location datum sits at a pointer."""

    POINT = "point"
    """Exact coordinates: a GeoJSON Point, ``lat``/``long``, a DM's shared coordinate."""
    PLACE = "place"
    """A place object (its name, country, bounding box ...)."""
    BOUNDING_BOX = "bounding_box"
    """An area without its place: a Polygon, a ``bbox``, a Feature."""
    GEOMETRY = "geometry"
    """Other GeoJSON shapes (lines, collections)."""
    PLACE_REFERENCE = "place_reference"
    """A place ID standing for a place (v2 ``geo.place_id``)."""
    PROFILE_LOCATION = "profile_location"
    """A user's own description of where they are (``location``, ``profile_location``)."""
    DERIVED_LOCATION = "derived_location"
    """A location inferred by an enrichment (Gnip ``profileLocations``)."""
    TREND_LOCATION = "trend_location"
    """A place trends are reported for (``woeid``)."""
    GEO_QUERY = "geo_query"
    """A geo endpoint's echo of the point it was asked about."""

    def __str__(self) -> str:
        return self.value


def _keys(text: str) -> frozenset[str]:
    return frozenset(text.split())


def twin(field: str) -> str | None:
    """The numeric twin of a string ID field (``id_str`` → ``id``), or ``None`` if it has none."""
    for suffix in ("_string", "_str"):
        if field.endswith(suffix):
            return field.removesuffix(suffix)
    return None


def leaf(dotted: str) -> str:
    """The key an ID path ends at: ``referenced_tweets.*.id`` → ``id``, ``host_ids.*`` → itself."""
    return next(segment for segment in reversed(dotted.split(".")) if segment != "*")


@attrs.frozen
class Slot:
    """Where a kind keeps objects of its own, and what they are.

    Attributes:
        path: the keys leading to the slot; a dict there is one object, a list holds many.
        kind: what its objects are; ``None``: recognise each by its keys.
        usually: with ``kind=None``, what the objects are in practice: the fast ID path reads
            them as that kind when they carry its `Signature`, and leaves the payload to the
            walker when they do not.
    """

    path: Keys
    kind: Kind | None
    usually: Kind | None = None


def _slot(dotted: str, kind: Kind | None, usually: Kind | None = None) -> Slot:
    return Slot(tuple(dotted.split(".")), kind, usually)


def _at(dotted: str, kind: GeoKind | None) -> tuple[Keys, GeoKind | None]:
    return tuple(dotted.split(".")), kind


@attrs.frozen
class Signature:
    """What makes the walker recognise an object as a kind where no slot says what it is.

    An object with every ``required`` key, holding a value of its type (``object``: any), none
    of the ``excluded`` keys and no key its kind does not know is recognised as that kind.
    Only the fast ID path reads signatures; a test holds the walker's recognition to them.
    """

    required: tuple[tuple[str, type], ...]
    excluded: frozenset[str] = frozenset()


@attrs.frozen
class Shape:
    """Everything known about one kind of object.

    Attributes:
        family: what the object's own ID names; ``None`` if nothing (or several things).
        notice: a deletion, withholding or compliance notice. The IDs it names are of content
            to act on, never a dataset: they are not dehydrated.
        ids: where its own ID is, in order of preference.
        tagged: its ID is a tag URI (``tag:search.twitter.com,2005:123``) ending in the number.
        references: the IDs it refers to without embedding the object, and what they name.
        children: its child slots.
        inert: keys whose values hold nothing to find; any key neither inert nor a slot is
            searched for objects, unless ``search_rest`` is false.
        whole: for content, where its content is (dotted paths): it is whole only when one of
            them holds a string with a non-blank character. Key presence is not enough
            (``"text": ""``, ``None``, ``"user": None`` or ``"extended_tweet": {}``); without
            content, an object that carries location is "reduced to its ID plus its
            location" (I.B.7).
        location: where it keeps location data, and what sort (``None``: read it off the value).
        signature: how it is recognised where no slot tells (for the fast ID path).
        known: the keys that are not searched: the inert ones and those slots start with.
        slots: the slots as the walk reads them: grouped by first key, each group's branches
            (the rest of the path, the path, the kind) in the reverse of the order they are
            visited, as they go on the walk's stack.
        visits: the slots in the order the walk visits their objects.
    """

    family: Family | None = None
    notice: bool = False
    ids: tuple[str, ...] = ("id_str",)
    tagged: bool = False
    references: tuple[tuple[str, Family], ...] = ()
    children: tuple[Slot, ...] = ()
    inert: frozenset[str] = frozenset()
    search_rest: bool = True
    whole: tuple[str, ...] | None = None
    location: tuple[tuple[Keys, GeoKind | None], ...] = ()
    signature: Signature | None = None
    known: frozenset[str] = attrs.field(init=False)
    slots: tuple[tuple[str, tuple[tuple[Keys, Keys, Kind | None], ...]], ...] = attrs.field(
        init=False
    )
    visits: tuple[Slot, ...] = attrs.field(init=False)

    @known.default
    def _known(self) -> frozenset[str]:
        return self.inert | {slot.path[0] for slot in self.children}

    @slots.default
    def _slots(self) -> tuple[tuple[str, tuple[tuple[Keys, Keys, Kind | None], ...]], ...]:
        groups: dict[str, list[tuple[Keys, Keys, Kind | None]]] = {}
        for slot in reversed(self.children):
            groups.setdefault(slot.path[0], []).append((slot.path[1:], slot.path, slot.kind))
        return tuple((first, tuple(branches)) for first, branches in groups.items())

    @visits.default
    def _visits(self) -> tuple[Slot, ...]:
        # The walk pushes the branches of `slots` in order and pops them in reverse.
        by_path = {slot.path: slot for slot in self.children}
        pushed = [by_path[path] for _, branches in self.slots for _, path, _ in branches]
        return tuple(reversed(pushed))

    def ids_of(self, family: Family) -> Iterator[str]:
        """The ID fields of this kind that name ``family``: its own, then its references."""
        if self.family == family and not self.notice:
            yield from self.ids
        yield from (dotted for dotted, target in self.references if target == family)


_TWEET_V1_INERT: Final = _keys(
    """
    created_at id id_str text full_text source truncated in_reply_to_status_id
    in_reply_to_status_id_str in_reply_to_user_id in_reply_to_user_id_str
    in_reply_to_screen_name coordinates geo contributors is_quote_status quoted_status_id
    quoted_status_id_str quoted_status_permalink quote_count reply_count retweet_count
    favorite_count favorited retweeted possibly_sensitive possibly_sensitive_appealable
    filter_level lang timestamp_ms display_text_range withheld_in_countries withheld_copyright
    withheld_scope scopes matching_rules metadata current_user_retweet entities
    extended_entities extended_tweet user retweeted_status quoted_status place
    collection_source __twarc
    """
)
_USER_V1_INERT: Final = _keys(
    """
    id id_str name screen_name location profile_location description url entities protected
    followers_count fast_followers_count normal_followers_count friends_count listed_count
    created_at favourites_count utc_offset time_zone geo_enabled verified statuses_count
    media_count lang status contributors_enabled is_translator is_translation_enabled
    profile_background_color profile_background_image_url profile_background_image_url_https
    profile_background_tile profile_image_url profile_image_url_https profile_banner_url
    profile_link_color profile_sidebar_border_color profile_sidebar_fill_color
    profile_text_color profile_use_background_image has_extended_profile default_profile
    default_profile_image following follow_request_sent notifications translator_type
    withheld_in_countries pinned_tweet_ids pinned_tweet_ids_str has_custom_timelines
    advertiser_account_type advertiser_account_service_levels business_profile_state
    require_some_consent muting blocking blocked_by live_following email
    needs_phone_verification suspended derived
    """
)
# v2 Tweets, and the twarc-flattened ones (whose inlined expansions are child slots).
_TWEET_V2_INERT: Final = _keys(
    """
    id text author_id created_at conversation_id in_reply_to_user_id referenced_tweets
    attachments geo context_annotations entities public_metrics non_public_metrics
    organic_metrics promoted_metrics possibly_sensitive lang source reply_settings withheld
    edit_history_tweet_ids edit_controls note_tweet community_id display_text_range
    media_metadata scopes article __twarc author in_reply_to_user matching_rules
    """
)
_USER_V2_INERT: Final = _keys(
    """
    id name username created_at description entities location pinned_tweet_id
    profile_image_url profile_banner_url protected public_metrics url verified verified_type
    withheld most_recent_tweet_id connection_status subscription_type receives_your_dm
    affiliation is_identity_verified parody verified_followers_count __twarc
    """
)
_TWEET_V2_REFERENCES: Final[tuple[tuple[str, Family], ...]] = (
    ("author_id", "user"),
    ("in_reply_to_user_id", "user"),
    ("conversation_id", "tweet"),
    ("referenced_tweets.*.id", "tweet"),
    ("edit_history_tweet_ids.*", "tweet"),
    ("geo.place_id", "place"),
    ("attachments.media_keys.*", "media"),
    ("attachments.poll_ids.*", "poll"),
)
_MENTIONS_V1: Final = (_slot("entities.user_mentions", Kind.MENTION),)
_MEDIA_V1: Final = (
    _slot("entities.media", Kind.MEDIA),
    _slot("extended_entities.media", Kind.MEDIA),
)
_USER_DESCRIPTION: Final = (_slot("entities.description.mentions", Kind.MENTION),)

#: The table: every kind of object the walker recognises, and what it holds where.
SHAPES: Final[Mapping[Kind, Shape]] = {
    Kind.TWEET_V1: Shape(
        family="tweet",
        references=(
            ("in_reply_to_status_id_str", "tweet"),
            ("in_reply_to_user_id_str", "user"),
            ("quoted_status_id_str", "tweet"),
            ("current_user_retweet.id_str", "tweet"),
        ),
        children=(
            _slot("user", Kind.USER_V1),
            _slot("place", Kind.PLACE),
            _slot("retweeted_status", Kind.TWEET_V1),
            _slot("quoted_status", Kind.TWEET_V1),
            *_MENTIONS_V1,
            *_MEDIA_V1,
            _slot("extended_tweet.entities.user_mentions", Kind.MENTION),
            _slot("extended_tweet.entities.media", Kind.MEDIA),
            _slot("extended_tweet.extended_entities.media", Kind.MEDIA),
        ),
        inert=_TWEET_V1_INERT,
        whole=("text", "full_text", "extended_tweet.full_text", "extended_tweet.text"),
        location=(
            _at("coordinates", GeoKind.POINT),
            _at("geo", GeoKind.POINT),
            _at("place", GeoKind.PLACE),
        ),
    ),
    Kind.TWEET_V2: Shape(
        family="tweet",
        references=_TWEET_V2_REFERENCES,
        children=(
            _slot("entities.mentions", Kind.MENTION),
            _slot("note_tweet.entities.mentions", Kind.MENTION),
        ),
        inert=_TWEET_V2_INERT,
        whole=("text", "note_tweet.text"),
        location=(_at("geo", None),),
        # A string id and a text (`classify`); an id_str makes it a v1.1 Tweet, an embedded
        # author a flattened one.
        signature=Signature((("id", str), ("text", object)), _keys("id_str author")),
    ),
    Kind.TWEET_FLAT: Shape(
        family="tweet",
        references=_TWEET_V2_REFERENCES,
        children=(
            _slot("author", Kind.USER_V2),
            _slot("in_reply_to_user", Kind.USER_V2),
            _slot("geo", Kind.PLACE),
            _slot("entities.mentions", Kind.MENTION),
            _slot("referenced_tweets", Kind.TWEET_FLAT),
            _slot("attachments.media", Kind.MEDIA),
            _slot("attachments.poll", Kind.POLL),
        ),
        inert=_TWEET_V2_INERT,
        whole=("text", "note_tweet.text"),
        location=(_at("geo", None),),
    ),
    Kind.ACTIVITY: Shape(
        family="tweet",
        tagged=True,
        children=(
            _slot("actor", Kind.ACTOR),
            _slot("object", None),
            _slot("twitter_quoted_status", Kind.ACTIVITY),
            _slot("twitter_entities.user_mentions", Kind.MENTION),
            _slot("long_object.twitter_entities.user_mentions", Kind.MENTION),
            _slot("location", Kind.PLACE),
        ),
        inert=_keys(
            """
            id body link postedTime verb objectType generator provider favoritesCount
            retweetCount twitter_lang twitter_filter_level display_text_range twitter_entities
            twitter_extended_entities long_object inReplyTo geo gnip actor object
            twitter_quoted_status location
            """
        ),
        whole=("body", "long_object.body"),
        location=(
            _at("location", GeoKind.PLACE),
            _at("geo", GeoKind.POINT),
            _at("gnip.profileLocations", GeoKind.DERIVED_LOCATION),
        ),
    ),
    Kind.USER_V1: Shape(
        family="user",
        children=(_slot("status", Kind.TWEET_V1), _slot("profile_location", Kind.PLACE)),
        inert=_USER_V1_INERT,
        whole=("screen_name", "name"),
        location=(
            _at("location", GeoKind.PROFILE_LOCATION),
            _at("profile_location", GeoKind.PROFILE_LOCATION),
            _at("derived.locations", GeoKind.DERIVED_LOCATION),
        ),
    ),
    Kind.USER_V2: Shape(
        family="user",
        references=(("pinned_tweet_id", "tweet"),),
        children=_USER_DESCRIPTION,
        inert=_USER_V2_INERT,
        whole=("username", "name"),
        location=(_at("location", GeoKind.PROFILE_LOCATION),),
    ),
    Kind.ACTOR: Shape(
        family="user",
        tagged=True,
        inert=_keys(
            """
            id objectType displayName preferredUsername link links image summary postedTime
            languages location twitterTimeZone utcOffset verified favoritesCount
            followersCount friendsCount listedCount statusesCount
            """
        ),
        whole=("preferredUsername", "displayName"),
        location=(_at("location", GeoKind.PROFILE_LOCATION),),
    ),
    Kind.MENTION: Shape(
        family="user",
        # twarc2-flattened Tweets expand their mentions into whole users.
        references=(("pinned_tweet_id", "tweet"),),
        children=_USER_DESCRIPTION,
        inert=_USER_V2_INERT | _USER_V1_INERT | _keys("indices start end"),
        whole=("username", "screen_name"),
        location=(_at("location", GeoKind.PROFILE_LOCATION),),
    ),
    Kind.PLACE: Shape(
        family="place", children=(_slot("contained_within", Kind.PLACE),), search_rest=False
    ),
    Kind.TREND_LOCATION: Shape(search_rest=False),
    Kind.GEOMETRY: Shape(search_rest=False),
    Kind.DM_V1: Shape(
        family="dm",
        references=(("sender_id_str", "user"), ("recipient_id_str", "user")),
        children=(_slot("sender", Kind.USER_V1), _slot("recipient", Kind.USER_V1), *_MENTIONS_V1),
        inert=_keys(
            """
            id id_str text created_at sender_id sender_id_str sender_screen_name recipient_id
            recipient_id_str recipient_screen_name entities sender recipient
            """
        ),
        whole=("text",),
    ),
    Kind.DM_EVENT_V1: Shape(
        family="dm",
        references=(
            ("message_create.sender_id", "user"),
            ("message_create.target.recipient_id", "user"),
        ),
        children=(_slot("message_create.message_data.entities.user_mentions", Kind.MENTION),),
        inert=_keys("type id created_timestamp message_create initiated_via"),
        whole=("message_create.message_data.text",),
        location=(_at("message_create.message_data.attachment.location", None),),
    ),
    Kind.DM_EVENT_V2: Shape(
        family="dm",
        ids=("id", "dm_event_id"),
        references=(
            ("sender_id", "user"),
            ("participant_ids.*", "user"),
            ("referenced_tweets.*.id", "tweet"),
        ),
        inert=_keys(
            """
            id text event_type dm_conversation_id dm_event_id created_at sender_id
            participant_ids referenced_tweets attachments entities
            """
        ),
        whole=("text",),
    ),
    Kind.MEDIA: Shape(
        family="media",
        ids=("media_key", "id_str", "media_id_string"),
        children=(_slot("additional_media_info.source_user", Kind.USER_V1),),
        inert=_keys(
            """
            id id_str media_key type indices url display_url expanded_url media_url
            media_url_https preview_image_url sizes original_info video_info variants
            duration_ms height width alt_text ext_alt_text ext_media_availability
            ext_media_color features source_status_id source_status_id_str source_user_id
            source_user_id_str public_metrics non_public_metrics organic_metrics
            promoted_metrics image video processing_info media_id media_id_string size
            expires_after_secs description_source
            """
        ),
    ),
    Kind.POLL: Shape(family="poll", search_rest=False),
    Kind.SPACE: Shape(
        references=(
            ("creator_id", "user"),
            ("host_ids.*", "user"),
            ("speaker_ids.*", "user"),
            ("invited_user_ids.*", "user"),
        ),
        search_rest=False,
    ),
    Kind.LIST: Shape(references=(("owner_id", "user"),), children=(_slot("user", Kind.USER_V1),)),
    Kind.RESPONSE_V2: Shape(
        children=(
            _slot("data", None, usually=Kind.TWEET_V2),
            _slot("includes.tweets", Kind.TWEET_V2),
            _slot("includes.users", Kind.USER_V2),
            _slot("includes.places", Kind.PLACE),
            _slot("includes.media", Kind.MEDIA),
            _slot("includes.polls", Kind.POLL),
        ),
        inert=_keys("data includes meta errors matching_rules __twarc title detail type"),
        # Response keys only, one of them `data` (`classify`); a `type` may make it GeoJSON.
        signature=Signature((("data", object),), _keys("type")),
    ),
    Kind.PAGE: Shape(),
    Kind.ENVELOPE: Shape(),
    Kind.GEO_RESULT: Shape(
        children=(_slot("result.places", Kind.PLACE),),
        inert=_keys("query result"),
        location=(_at("query", GeoKind.GEO_QUERY),),
    ),
    Kind.TRENDS: Shape(
        children=(_slot("locations", Kind.TREND_LOCATION),),
        inert=_keys("trends as_of created_at woeid"),
        location=(_at("woeid", GeoKind.TREND_LOCATION),),
    ),
    Kind.ACCOUNT_SETTINGS: Shape(),
    Kind.RATE_LIMITS: Shape(search_rest=False),
    Kind.DELETE: Shape(
        notice=True,
        ids=(
            "delete.status.id_str",
            "delete.direct_message.id_str",
            "delete.tweet.id",
            "user_delete.user.id",
        ),
        references=(
            ("delete.status.user_id_str", "user"),
            ("delete.direct_message.user_id_str", "user"),
            ("delete.tweet.author_id", "user"),
        ),
    ),
    Kind.SCRUB_GEO: Shape(
        notice=True,
        ids=("scrub_geo.user_id_str", "scrub_geo.user.id"),
        references=(
            ("scrub_geo.up_to_status_id_str", "tweet"),
            ("scrub_geo.up_to_status_id_string", "tweet"),
            ("scrub_geo.up_to_tweet_id", "tweet"),
        ),
    ),
    Kind.WITHHELD: Shape(
        notice=True,
        ids=(
            "status_withheld.id_str",
            "user_withheld.id_str",
            "withheld.tweet.id",
            "user_withheld.user.id",
        ),
        references=(
            ("status_withheld.user_id_str", "user"),
            ("withheld.tweet.author_id", "user"),
        ),
    ),
    Kind.COMPLIANCE: Shape(notice=True),
    Kind.CONTROL: Shape(),
    Kind.OTHER: Shape(),
}

#: What each kind of content (Tweets, users, DMs, in every form) is: its location is its own.
CONTENT_FAMILY: Final[Mapping[Kind, Family]] = {
    kind: shape.family
    for kind, shape in SHAPES.items()
    if shape.family in FAMILIES and not shape.notice
}
CONTENT_KINDS: Final = frozenset(CONTENT_FAMILY)

#: Where each kind keeps location data, and what sort (``None``: read it off the value).
LOCATION_FIELDS: Final[Mapping[Kind, tuple[tuple[Keys, GeoKind | None], ...]]] = {
    kind: shape.location for kind, shape in SHAPES.items() if shape.location
}

#: Location-like keys of objects of no known family, and what their values are.
LOOSE_KEYS: Final[Mapping[str, GeoKind | None]] = {
    "coordinates": GeoKind.POINT,
    "geo": GeoKind.POINT,
    "place": GeoKind.PLACE,
    "places": GeoKind.PLACE,
    "bounding_box": GeoKind.BOUNDING_BOX,
    "bbox": GeoKind.BOUNDING_BOX,
    "geometry": None,
    "centroid": GeoKind.POINT,
    "polylines": GeoKind.GEOMETRY,
    "place_id": GeoKind.PLACE_REFERENCE,
    "location": GeoKind.PROFILE_LOCATION,
    "profile_location": GeoKind.PROFILE_LOCATION,
    "locations": GeoKind.DERIVED_LOCATION,
    "profileLocations": GeoKind.DERIVED_LOCATION,
    "woeid": GeoKind.TREND_LOCATION,
    "trend_location": GeoKind.TREND_LOCATION,
    "lat": GeoKind.POINT,
    "long": GeoKind.POINT,
    "lon": GeoKind.POINT,
    "lng": GeoKind.POINT,
    "latitude": GeoKind.POINT,
    "longitude": GeoKind.POINT,
    "shared_coordinate": GeoKind.POINT,
    "shared_place": GeoKind.PLACE,
    # Other spellings of a point or an area.
    "coords": GeoKind.POINT,
    "latlong": GeoKind.POINT,
    "latlng": GeoKind.POINT,
    "lat_long": GeoKind.POINT,
    "lat_lng": GeoKind.POINT,
    "geocode": GeoKind.POINT,
    "geolocation": GeoKind.POINT,
    "geo_location": GeoKind.POINT,
    "point": GeoKind.POINT,
    "contained_within": GeoKind.PLACE,
    # A place's attributes (v1.1 ``place.attributes``, and the ``attribute:street_address``
    # query parameters of geo/search), and the address parts of a place.
    "attributes": GeoKind.PLACE,
    "street_address": GeoKind.PLACE,
    "locality": GeoKind.PLACE,
    "region": GeoKind.PLACE,
    "iso3": GeoKind.PLACE,
    "postal_code": GeoKind.PLACE,
    "postcode": GeoKind.PLACE,
    "zip": GeoKind.PLACE,
    "zipcode": GeoKind.PLACE,
    "zip_code": GeoKind.PLACE,
    "address": GeoKind.PLACE,
    "city": GeoKind.PLACE,
    "country": GeoKind.PLACE,
    "country_code": GeoKind.PLACE,
    "place_type": GeoKind.PLACE,
    "place_name": GeoKind.PLACE,
}


def loose_key(key: object) -> str | None:
    """The `LOOSE_KEYS` entry ``key`` spells, or ``None``: case and a namespace do not count.

    ``"attribute:street_address"`` and ``"Street_Address"`` are ``"street_address"``.
    """
    if type(key) is not str:
        return None
    if key in LOOSE_KEYS:
        return key
    norm = key.rpartition(":")[2].strip().lower().replace("-", "_")
    return norm if norm in LOOSE_KEYS else None


#: The keys an export may name its own lists of IDs by: ``ids``, ``tweet_ids``, ``user_id``...
EXPORT_KEYS: Final = frozenset(
    {"ids"} | {f"{family}_{suffix}" for family in FAMILIES for suffix in ("id", "ids")}
)


def fields(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


#: The ID fields an outbound value may carry, and the kind of ID each names. A bare ID is
#: counted as a Tweet ID whatever its field says;
#: a field naming Tweet IDs contradicts an export said to be of users or DMs.
FIELD_KINDS: Final[Mapping[str, str]] = {
    **dict.fromkeys(
        fields(
            """
            tweet_id tweet_ids status_id status_ids conversation_id in_reply_to_status_id
            in_reply_to_tweet_id quoted_status_id quoted_tweet_id retweeted_status_id
            retweeted_tweet_id referenced_tweet_id referenced_tweet_ids pinned_tweet_id
            pinned_tweet_ids edit_history_tweet_ids most_recent_tweet_id up_to_status_id
            up_to_tweet_id source_status_id newest_id oldest_id since_id max_id until_id
            """
        ),
        "tweets",
    ),
    **dict.fromkeys(
        fields(
            """
            user_id user_ids author_id author_ids in_reply_to_user_id sender_id recipient_id
            participant_ids from_user_id to_user_id follower_ids following_ids friend_ids
            member_ids owner_id creator_id host_ids speaker_ids invited_user_ids
            mentioned_user_ids source_user_id for_user_id target_user_id
            """
        ),
        "users",
    ),
    **dict.fromkeys(
        fields("dm_id dm_ids dm_event_id dm_event_ids direct_message_id direct_message_ids"),
        "dms",
    ),
}


def _id_keys() -> frozenset[str]:
    found = set(EXPORT_KEYS) | set(FIELD_KINDS)
    for shape in SHAPES.values():
        for family in FAMILIES:
            for dotted in shape.ids_of(family):
                found.add(leaf(dotted))
                found.add(twin(leaf(dotted)) or leaf(dotted))
    return frozenset(found)


#: Every key that holds Tweet, User or DM IDs and nothing else: the keys of the table's ID
#: fields and references to those families (``id``, ``id_str``, ``author_id``,
#: ``edit_history_tweet_ids``...), their numeric twins, and `EXPORT_KEYS`.
ID_KEYS: Final = _id_keys()

"""The v2 routes of users, and of what they own or share with each other.

Lookups of users; follows, mutes and blocks; Lists (members, followers, pins, their
timelines); and DM conversations, one-to-one and group.
"""

from __future__ import annotations

import functools

from twpolicy.testing._fakeapi import _v2
from twpolicy.testing._fakeapi._routing import Call, Reply, RouteGroup, invalid, missing
from twpolicy.testing._fakeapi._state import DMEvent, FakeXState, Json, XList, toggle

ROUTES = RouteGroup()


# -- users ----------------------------------------------------------------------------------------


@ROUTES.route("GET", "/2/users/me", user_context=True, limit=75)
def me(state: FakeXState, call: Call) -> Json:
    return _v2.users_body(state, call, [state.users[call.user_id or ""]], many=False)


@ROUTES.route("GET", "/2/users/:id", "/2/users", "/2/users/by/username/:username", "/2/users/by")
def get_users(state: FakeXState, call: Call) -> Json:
    body = functools.partial(_v2.users_body, state, call)
    if call.route.startswith("GET /2/users/by"):
        return _v2.lookup(call, "username", "user", state.user_by_name, body)
    return _v2.lookup(call, "id", "user", state.users.get, body)


# -- follows, mutes, blocks -----------------------------------------------------------------------


def _users_page(state: FakeXState, call: Call, user_ids: list[str]) -> Json:
    found, meta = _v2.page(call, [state.users[u] for u in user_ids], maximum=1000)
    return _v2.users_body(state, call, found, meta=meta)


@ROUTES.route("POST", "/2/users/:id/following", "/2/users/:id/muting", acting="id", limit=50)
@ROUTES.route(
    "DELETE",
    "/2/users/:source_user_id/following/:target_user_id",
    "/2/users/:source_user_id/muting/:target_user_id",
    acting="source_user_id",
    limit=50,
)
def follow_or_mute(state: FakeXState, call: Call) -> Json:
    """Follow or mute a user (``POST``), or stop (``DELETE``)."""
    key = call.route.split("/")[4]  # "following" or "muting": "POST /2/users/:id/following"
    relation = state.following if key == "following" else state.muting
    if call.method == "DELETE":
        toggle(relation, call.args["source_user_id"], call.args["target_user_id"], on=False)
        return {"data": {key: False}}
    target = _v2.existing_user(state, str(_v2.body_field(call, "target_user_id")), "target_user_id")
    if key == "muting":
        toggle(relation, call.args["id"], target.id, on=True)
        return {"data": {"muting": True}}
    if not target.protected:  # a protected account approves its followers first
        toggle(relation, call.args["id"], target.id, on=True)
    return {"data": {"following": not target.protected, "pending_follow": target.protected}}


@ROUTES.route("GET", "/2/users/:id/followers", limit=15)
def followers(state: FakeXState, call: Call) -> Json:
    _v2.subject(state, call)
    found = [u for u, followed in state.following.items() if call.args["id"] in followed]
    return _users_page(state, call, found)


@ROUTES.route("GET", "/2/users/:id/following", limit=15)
def following(state: FakeXState, call: Call) -> Json:
    _v2.subject(state, call)
    return _users_page(state, call, state.following.get(call.args["id"], []))


@ROUTES.route("GET", "/2/users/:id/muting", acting="id", limit=15)
def muted(state: FakeXState, call: Call) -> Json:
    return _users_page(state, call, state.muting.get(call.args["id"], []))


@ROUTES.route("GET", "/2/users/:id/blocking", acting="id", limit=15)
def blocked(state: FakeXState, call: Call) -> Json:
    return _users_page(state, call, state.blocking.get(call.args["id"], []))


# -- Lists ----------------------------------------------------------------------------------------


def _lists_page(state: FakeXState, call: Call, lists: list[XList]) -> Json:
    found, meta = _v2.page(call, lists)
    return _v2.lists_body(state, call, found, many=True, meta=meta)


def _lists_of(state: FakeXState, list_ids: list[str]) -> list[XList]:
    """The Lists of ``list_ids`` that still exist, in that order."""
    return [state.lists[i] for i in list_ids if i in state.lists]


@ROUTES.route("GET", "/2/lists/:id", limit=75)
def get_list(state: FakeXState, call: Call) -> Json:
    return _v2.lists_body(state, call, [_v2.existing_list(state, call.args["id"])], many=False)


@ROUTES.route("GET", "/2/users/:id/owned_lists", limit=15)
def owned_lists(state: FakeXState, call: Call) -> Json:
    owned = [lst for lst in state.lists.values() if lst.owner_id == call.args["id"]]
    return _lists_page(state, call, owned)


@ROUTES.route("POST", "/2/lists", user_context=True, limit=300)
def create_list(state: FakeXState, call: Call) -> Reply:
    name = str(_v2.body_field(call, "name"))
    body = call.json
    lst = XList(
        state.new_id(),
        name,
        call.user_id or "",
        state.clock(),
        description=str(body.get("description", "")),
        private=bool(body.get("private", False)),
    )
    state.lists[lst.id] = lst
    return Reply(201, {"data": {"id": lst.id, "name": lst.name}})


@ROUTES.route("PUT", "/2/lists/:id", user_context=True, limit=300)
def update_list(state: FakeXState, call: Call) -> Json:
    lst = _v2.existing_list(state, call.args["id"], owner=call.user_id)
    body = call.json if isinstance(call.json, dict) else {}
    lst.name = str(body.get("name", lst.name))
    lst.description = str(body.get("description", lst.description))
    lst.private = bool(body.get("private", lst.private))
    return {"data": {"updated": True}}


@ROUTES.route("DELETE", "/2/lists/:id", user_context=True, limit=300)
def delete_list(state: FakeXState, call: Call) -> Json:
    _v2.existing_list(state, call.args["id"], owner=call.user_id)
    del state.lists[call.args["id"]]
    for collection in (state.pinned_lists, state.followed_lists):
        for ids in collection.values():
            if call.args["id"] in ids:
                ids.remove(call.args["id"])
    return {"data": {"deleted": True}}


@ROUTES.route("POST", "/2/lists/:id/members", user_context=True, limit=300)
def add_list_member(state: FakeXState, call: Call) -> Json:
    lst = _v2.existing_list(state, call.args["id"], owner=call.user_id)
    user = _v2.existing_user(state, str(_v2.body_field(call, "user_id")), "user_id")
    if user.id not in lst.members:
        lst.members.append(user.id)
    return {"data": {"is_member": True}}


@ROUTES.route("DELETE", "/2/lists/:id/members/:user_id", user_context=True, limit=300)
def remove_list_member(state: FakeXState, call: Call) -> Json:
    lst = _v2.existing_list(state, call.args["id"], owner=call.user_id)
    if call.args["user_id"] in lst.members:
        lst.members.remove(call.args["user_id"])
    return {"data": {"is_member": False}}


@ROUTES.route("GET", "/2/lists/:id/members", limit=900)
def list_members(state: FakeXState, call: Call) -> Json:
    lst = _v2.existing_list(state, call.args["id"])
    found, meta = _v2.page(call, [state.users[u] for u in lst.members], maximum=100)
    return _v2.users_body(state, call, found, meta=meta)


@ROUTES.route("GET", "/2/users/:id/list_memberships", limit=75)
def list_memberships(state: FakeXState, call: Call) -> Json:
    joined = [lst for lst in state.lists.values() if call.args["id"] in lst.members]
    return _lists_page(state, call, joined)


@ROUTES.route("POST", "/2/users/:id/followed_lists", acting="id", limit=50)
def follow_list(state: FakeXState, call: Call) -> Json:
    lst = _v2.existing_list(state, str(_v2.body_field(call, "list_id")))
    toggle(state.followed_lists, call.args["id"], lst.id, on=True)
    if call.args["id"] not in lst.followers:
        lst.followers.append(call.args["id"])
    return {"data": {"following": True}}


@ROUTES.route("DELETE", "/2/users/:id/followed_lists/:list_id", acting="id", limit=50)
def unfollow_list(state: FakeXState, call: Call) -> Json:
    toggle(state.followed_lists, call.args["id"], call.args["list_id"], on=False)
    lst = state.lists.get(call.args["list_id"])
    if lst is not None and call.args["id"] in lst.followers:
        lst.followers.remove(call.args["id"])
    return {"data": {"following": False}}


@ROUTES.route("GET", "/2/lists/:id/followers", limit=180)
def list_followers(state: FakeXState, call: Call) -> Json:
    lst = _v2.existing_list(state, call.args["id"])
    found, meta = _v2.page(call, [state.users[u] for u in lst.followers])
    return _v2.users_body(state, call, found, meta=meta)


@ROUTES.route("GET", "/2/users/:id/followed_lists", limit=15)
def followed_lists(state: FakeXState, call: Call) -> Json:
    return _lists_page(state, call, _lists_of(state, state.followed_lists.get(call.args["id"], [])))


@ROUTES.route("POST", "/2/users/:id/pinned_lists", acting="id", limit=50)
def pin_list(state: FakeXState, call: Call) -> Json:
    lst = _v2.existing_list(state, str(_v2.body_field(call, "list_id")))
    toggle(state.pinned_lists, call.args["id"], lst.id, on=True)
    return {"data": {"pinned": True}}


@ROUTES.route("DELETE", "/2/users/:id/pinned_lists/:list_id", acting="id", limit=50)
def unpin_list(state: FakeXState, call: Call) -> Json:
    toggle(state.pinned_lists, call.args["id"], call.args["list_id"], on=False)
    return {"data": {"pinned": False}}


@ROUTES.route("GET", "/2/users/:id/pinned_lists", acting="id", limit=15)
def pinned_lists(state: FakeXState, call: Call) -> Json:
    pinned = _lists_of(state, state.pinned_lists.get(call.args["id"], []))
    return _v2.lists_body(state, call, pinned, many=True, meta={"result_count": len(pinned)})


@ROUTES.route("GET", "/2/lists/:id/tweets", limit=900)
def list_tweets(state: FakeXState, call: Call) -> Json:
    lst = _v2.existing_list(state, call.args["id"])
    tweets = [t for t in state.visible_tweets() if t.author_id in lst.members]
    found, meta = _v2.page(call, tweets)
    return _v2.tweets_body(state, call, found, meta=meta)


# -- direct messages ------------------------------------------------------------------------------


def _send(state: FakeXState, call: Call, conversation: str, recipient: str | None) -> Reply:
    body = call.json if isinstance(call.json, dict) else {}
    message = body.get("message", body)
    text = message.get("text")
    if not text and not message.get("attachments"):
        raise invalid("text", "", "The `text` field is required unless media is attached")
    event = state.send_dm(conversation, call.user_id, text or "", recipient)
    return Reply(201, {"data": {"dm_conversation_id": conversation, "dm_event_id": event.id}})


@ROUTES.route(
    "POST", "/2/dm_conversations/with/:participant_id/messages", user_context=True, limit=200
)
def send_dm_to(state: FakeXState, call: Call) -> Reply:
    recipient = _v2.existing_user(state, call.args["participant_id"], "participant_id")
    return _send(state, call, state.conversation_id(call.user_id or "", recipient.id), recipient.id)


@ROUTES.route(
    "POST", "/2/dm_conversations/:dm_conversation_id/messages", user_context=True, limit=200
)
def send_dm_in(state: FakeXState, call: Call) -> Reply:
    conversation = call.args["dm_conversation_id"]
    if not any(e.conversation_id == conversation for e in state.dms_of(call.user_id)):
        raise missing("dm_conversation", "id", conversation)
    return _send(state, call, conversation, None)


@ROUTES.route("POST", "/2/dm_conversations", user_context=True, limit=200)
def create_dm_conversation(state: FakeXState, call: Call) -> Reply:
    body = call.json if isinstance(call.json, dict) else {}
    participants = [str(p) for p in body.get("participant_ids", ())]
    if body.get("conversation_type") != "Group" or not participants:
        raise invalid("participant_ids", "", "A Group conversation needs participant_ids")
    for participant in participants:
        _v2.existing_user(state, participant, "participant_ids")
    conversation = state.new_id()
    joined = DMEvent(
        state.new_id(),
        "ParticipantsJoin",
        conversation,
        state.clock(),
        participant_ids=(call.user_id or "", *participants),
    )
    state.dm_events.insert(0, joined)
    return _send(state, call, conversation, None)


def _render_dm(event: DMEvent, fields: frozenset[str]) -> Json:
    out: Json = {"id": event.id, "event_type": event.event_type}
    if event.text is not None:
        out["text"] = event.text
    optional: Json = {
        "created_at": _v2.timestamp(event.created_at),
        "dm_conversation_id": event.conversation_id,
        "sender_id": event.sender_id,
        "participant_ids": list(event.participant_ids),
    }
    for name in sorted(fields & optional.keys()):
        if optional[name]:
            out[name] = optional[name]
    return out


def _dm_events_body(state: FakeXState, call: Call, events: list[DMEvent]) -> Json:
    types = set(call.params.get("event_types", "").split(",")) - {""}
    if types:
        events = [e for e in events if e.event_type in types]
    found, meta = _v2.page(call, events)
    fields = _v2.wanted(call, "dm_event.fields", _v2.DM_FIELDS)
    expansions = _v2.wanted(call, "expansions", _v2.EXPANSIONS["dm"])
    body: Json = {"meta": meta}
    if found:
        body["data"] = [_render_dm(e, fields) for e in found]
        people = {
            uid
            for e in found
            for uid in (
                ([e.sender_id] if "sender_id" in expansions else [])
                + (list(e.participant_ids) if "participant_ids" in expansions else [])
            )
            if uid in state.users
        }
        if people:
            body["includes"] = {"users": _v2.included_users(state, call, sorted(people))}
    return body


@ROUTES.route("GET", "/2/dm_events", user_context=True, limit=300)
def dm_events(state: FakeXState, call: Call) -> Json:
    return _dm_events_body(state, call, state.dms_of(call.user_id))


def _conversation_events(state: FakeXState, call: Call, conversation: str) -> Json:
    events = [e for e in state.dms_of(call.user_id) if e.conversation_id == conversation]
    return _dm_events_body(state, call, events)


@ROUTES.route(
    "GET", "/2/dm_conversations/with/:participant_id/dm_events", user_context=True, limit=300
)
def dm_events_with(state: FakeXState, call: Call) -> Json:
    conversation = state.conversation_id(call.user_id or "", call.args["participant_id"])
    return _conversation_events(state, call, conversation)


@ROUTES.route(
    "GET", "/2/dm_conversations/:dm_conversation_id/dm_events", user_context=True, limit=300
)
def dm_events_in(state: FakeXState, call: Call) -> Json:
    return _conversation_events(state, call, call.args["dm_conversation_id"])

"""The ID hook's fast reader learns exactly what the reader it replaced learned.

`read_body` reads a v2 page for its three kinds of ID with the fast ID path's readers bound
once (`twpolicy._payloads._seen._fast`), stopping at the first kind refused. The reader it
replaced, kept below as the oracle, called `fast_ids` once per kind and then the walker.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corpus import load
from test_payloads_fastids import _pages, planted
from twpolicy import strategies as tws
from twpolicy._payloads._fastids import fast_ids
from twpolicy._payloads._seen import ExactIds, IdEvidence, _fast, read_body, read_document


def oracle(body: object, evidence: IdEvidence) -> None:
    """The previous `read_body`: `fast_ids` per kind, all three taken or the walker."""
    data = body.encode() if type(body) is str else body
    if isinstance(data, bytearray):
        data = bytes(data)
    if not isinstance(data, bytes):
        return
    fast = [fast_ids(data, kind) for kind in ("tweets", "users", "dms")]
    if fast[0] is not None and fast[1] is not None and fast[2] is not None:
        evidence.learn(fast[0], fast[1], fast[2])
        return
    try:
        document = json.loads(data)
    except ValueError:
        return
    read_document(document, evidence)


def held(exact: ExactIds) -> set[int]:
    return set(exact._sorted) | exact._pending  # what it holds, merged or not


def learned(body: object, read: Any) -> tuple[set[int], set[int], set[int]]:
    evidence = IdEvidence()
    read(body, evidence)
    return held(evidence.tweets), held(evidence.users), held(evidence.dms)


def agrees(body: object) -> bool:
    """Assert the reader learns what the oracle learns; return whether the fast path took it."""
    assert learned(body, oracle) == learned(body, read_body)
    data = body.encode() if isinstance(body, str) else body
    return isinstance(data, bytes) and _fast(data) is not None


@pytest.mark.corpus
def test_every_corpus_payload(corpus):
    """Every corpus document, parsed or not, teaches what it taught before."""
    taken = sum(agrees(document.raw) for document in load(corpus))
    assert taken > 20


@given(page=_pages() | planted(tws.api_responses() | _pages(clean=True)))
def test_generated_pages(page):
    """Pages with keys and values the fast path refuses, planted anywhere, as before."""
    agrees(json.dumps(page).encode())


@given(page=tws.api_responses())
def test_strategy_responses_take_the_fast_path(page):
    assert agrees(json.dumps(page))


@given(
    page=_pages(clean=True),
    kind=st.sampled_from(["tweets", "users"]),
    bad=st.sampled_from(["012", "x1", "18446744073709551616", "1\n2", "٣"]),
)
def test_one_bad_id_sends_the_page_to_the_walker(page, kind, bad):
    """An ID that is no decimal ID, of any kind, leaves the page to the walker (as before)."""
    page = copy.deepcopy(page)
    page.setdefault("includes", {})["users" if kind == "users" else "tweets"] = [
        {"id": bad, "username": "u", "name": "n"}
        if kind == "users"
        else {"id": bad, "text": "t", "edit_history_tweet_ids": [bad]}
    ]
    body = json.dumps(page).encode()
    assert _fast(body) is None
    agrees(body)


@given(body=st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes(body):
    agrees(body)


def test_bodies_of_every_carrier():
    """Text, bytearray, and what is no body at all, as before."""
    page = b'{"data": {"id": "5", "text": "t", "author_id": "6", "edit_history_tweet_ids": []}}'
    for body in (page, page.decode(), bytearray(page), 12, None, b"", b"[]"):
        agrees(body)
    assert ({5}, {6}, set()) == learned(page, read_body)

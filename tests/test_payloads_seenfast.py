"""One decode for three kinds: the page is taken, and each family read, as by `fast_ids`.

`twpolicy._payloads._seenfast` generates one struct for the three families of ID; it must
take a page exactly where each kind's own fast path takes it, and give each family's IDs in
the same order, with the same repeats.
"""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given

from corpus import load
from test_payloads_fastids import _pages, planted
from twpolicy import strategies as tws
from twpolicy._payloads._fastids import _extracted
from twpolicy._payloads._seenfast import FAMILIES, all_kinds

KINDS = ("tweets", "users", "dms")
MADE = all_kinds()


def agrees(line: bytes) -> bool:
    """Assert the one decode reads ``line`` as the three fast paths do; return if it took it."""
    assert MADE is not None
    decoder, extracts = MADE
    each = [_extracted(line, kind) for kind in KINDS]
    try:
        page = decoder.decode(line)
    except msgspec.DecodeError:
        assert None in each  # refused only where one kind's own path refuses
        return False
    for extract, own in zip(extracts, each, strict=True):
        out: list[object] = []
        if extract is not None:
            extract(page, out.append, out.extend)
        assert own == out
    return True


def test_the_three_families_in_order():
    assert ("tweet", "user", "dm") == FAMILIES
    assert MADE is not None


@pytest.mark.corpus
def test_every_corpus_payload(corpus):
    """Every corpus document: taken where the three take it, each family read the same."""
    taken = sum(agrees(document.raw) for document in load(corpus))
    assert taken > 100  # 128 when written: every page the three paths all take


@given(page=_pages() | planted(tws.api_responses() | _pages(clean=True)))
def test_generated_pages(page):
    agrees(json.dumps(page).encode())


@given(page=tws.api_responses() | _pages(clean=True))
def test_clean_pages_are_taken(page):
    assert agrees(json.dumps(page).encode())

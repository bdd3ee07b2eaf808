"""The corpus-wide invariants, over the project's synthetic corpus (tests/synthetic.py).

These are the checks the shared corpus of real recordings runs (test_walker, test_geo,
test_redistribution, test_dehydrate_cli: class TestCorpus and friends), over one written
document per payload family, so a fresh clone exercises every family.
"""

import collections
import json

import pytest

import synthetic
import twpolicy
from corpus import resolve
from test_geo import covers, reference_locations, without
from test_redistribution import reference_ids
from twpolicy import find_geo, strip_geo
from twpolicy._payloads._fastids import fast_ids
from twpolicy._payloads._ids import ids_in
from twpolicy._payloads._walker import Kind, walk
from twpolicy.exceptions import PayloadError

DOCUMENTS = synthetic.documents()
NAMES = [name for name, _ in DOCUMENTS]


def test_every_family_occurs():
    """Every family the walker knows is recognised somewhere in the synthetic corpus."""
    found = collections.Counter(node.kind for _, doc in DOCUMENTS for node in walk(doc))
    assert set() == {kind for kind in Kind if not found[kind]}


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=NAMES)
class TestEveryDocument:
    def test_pointers_resolve(self, name, document):
        """Every node's pointer leads to that very object."""
        for node in walk(document):
            assert node.value is resolve(document, node.pointer), node.pointer

    def test_walk_output_is_json_serialisable(self, name, document):
        """Node kinds and pointers are plain strings."""
        sample = [(n.kind.value, n.pointer) for n in walk(document)]
        assert sample == [tuple(pair) for pair in json.loads(json.dumps(sample))]

    def test_every_location_datum_is_found(self, name, document):
        """find_geo covers every location the plain key reading sees, and nothing else."""
        found = [f.pointer for f in find_geo(document)]
        reference = reference_locations(document)
        assert [] == [p for p in reference if not any(covers(f, p) for f in found)]
        assert [] == [f for f in found if not any(covers(f, p) for p in reference)]

    def test_strip_leaves_none_and_changes_nothing_else(self, name, document):
        """strip_geo equals the payload with exactly the found pointers taken out."""
        found = [f.pointer for f in find_geo(document)]
        stripped = strip_geo(document)
        assert [] == find_geo(stripped)
        assert (None if "" in found else without(document, found)) == stripped

    @pytest.mark.parametrize("kind", ["tweets", "users", "dms"])
    def test_dehydrate_matches_the_reference_walk(self, name, document, kind):
        """dehydrate finds exactly the reference walk's IDs, each once."""
        try:
            got = twpolicy.dehydrate(document, kind=kind)
        except PayloadError:
            return
        assert len(set(got)) == len(got)
        assert reference_ids(document, kind) == set(got)

    @pytest.mark.parametrize("kind", ["tweets", "users", "dms"])
    def test_dehydrate_fast_path_equals_the_walker(self, name, document, kind):
        """Where dehydrate's fast path takes a document, it gives the walker's IDs exactly."""
        fast = fast_ids(json.dumps(document).encode(), kind)
        if fast is not None:
            assert list(ids_in(document, kind)) == fast

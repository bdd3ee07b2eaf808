"""The exporter's tests: only twpolicy's public pytest fixtures, no network, no credentials."""

import pytest
from exporter import collect_ids, export_ids


@pytest.fixture
def tweets(twpolicy_fake_api):
    """250 tweets about open data, and one about something else."""
    fake = twpolicy_fake_api
    made = [fake.add_tweet(f"open data release {n}") for n in range(250)]
    fake.add_tweet("closed for lunch")
    return made[::-1]  # newest first, as search answers


def test_collects_every_page(twpolicy_client, tweets, twpolicy_fake_api):
    """All matching IDs are collected, newest first, page by page."""
    assert tweets == collect_ids(twpolicy_client, "open data")
    assert 3 == len(twpolicy_fake_api.calls("GET /2/tweets/search/recent"))


def test_limit(twpolicy_client, tweets):
    """The limit is respected without reading more pages than needed."""
    assert tweets[:120] == collect_ids(twpolicy_client, "open data", limit=120)


def test_writes_only_ids(twpolicy_client, twpolicy_guard, twpolicy_decisions, tweets, tmp_path):
    """The file holds one ID per line and no tweet text; the export is on record."""
    output = tmp_path / "dataset.txt"
    ids = collect_ids(twpolicy_client, "open data")
    decision = export_ids(ids, output, recipient="university-lab", guard=twpolicy_guard)

    lines = output.read_text(encoding="ascii").splitlines()
    assert ids == lines
    assert all(line.isdigit() for line in lines)
    assert "open data" not in output.read_text(encoding="ascii")
    assert decision.allowed
    twpolicy_decisions.assert_allowed(operation="export tweet ids", recipient="university-lab")

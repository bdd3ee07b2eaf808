"""The exporter's tests: only twpolicy's public pytest fixtures, no network, no credentials."""

import pytest
from exporter import Dataset, collect_ids, export

import twpolicy


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


def test_limit(twpolicy_client, tweets, twpolicy_fake_api):
    """The limit is respected without reading more pages than needed."""
    assert tweets[:120] == collect_ids(twpolicy_client, "open data", limit=120)
    assert 2 == len(twpolicy_fake_api.calls("GET /2/tweets/search/recent"))


def test_writes_only_ids(twpolicy_client, twpolicy_guard, twpolicy_decisions, tweets, tmp_path):
    """The file holds one ID per line and no tweet text; the IDs count against the quota."""
    output = tmp_path / "dataset.txt"
    ids = collect_ids(twpolicy_client, "open data")
    assert 250 == export(Dataset(ids, "university-lab"), output)

    text = output.read_text(encoding="ascii")
    assert ids == text.splitlines()
    assert "open data" not in text
    twpolicy_decisions.assert_allowed(recipient="university-lab", count=250)
    usage = {u.quota: u.used for u in twpolicy_guard.quotas.usage("university-lab")}
    assert 250 == usage["tweet_ids"]


def test_anything_but_ids_is_refused(twpolicy_decisions, tmp_path):
    """Tweet text among the IDs is refused under I.F.2, and no file appears."""
    output = tmp_path / "dataset.txt"
    with pytest.raises(twpolicy.RedistributionError, match=r"I\.F\.2"):
        export(Dataset(["20", "open data release 1"], "university-lab"), output)
    assert not output.exists()
    assert not output.with_suffix(".txt.partial").exists()
    twpolicy_decisions.assert_denied(clause="I.F.2", recipient="university-lab")

"""The lazily loaded async clients: without the ``async`` extra, the error names the extra
to install; any other failure to import is raised as it is."""

import importlib
import importlib.util

import pytest

import twpolicy


@pytest.fixture(name="broken_import")
def _broken_import(monkeypatch):
    """Make the async clients' module fail to import, as tweepy.asynchronous does without
    its extras, and forget any AsyncClient loaded before."""
    monkeypatch.delitem(vars(twpolicy), "AsyncClient", raising=False)
    real = importlib.import_module

    def fail(name, *args, **kwargs):
        if name == "twpolicy._clients._async":
            raise RuntimeError("tweepy.asynchronous needs aiohttp")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fail)
    return monkeypatch


def test_a_missing_extra_is_named(broken_import):
    """Without aiohttp, twpolicy.AsyncClient says to install twpolicy[async]."""
    real = importlib.util.find_spec
    broken_import.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "aiohttp" else real(name, *a)
    )
    with pytest.raises(twpolicy.ConfigurationError) as caught:
        _ = twpolicy.AsyncClient
    assert (
        "twpolicy.AsyncClient needs aiohttp (the 'async' extra): pip install 'twpolicy[async]'"
        == str(caught.value)
    )
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_other_import_failures_are_raised_as_they_are(broken_import):
    """With every extra installed, an import failure is not blamed on the extra."""
    with pytest.raises(RuntimeError, match=r"tweepy\.asynchronous needs aiohttp"):
        _ = twpolicy.AsyncClient

"""Shared fixtures: every test starts with a fresh default guard and a clean environment."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import twpolicy

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

PROJECT = Path(__file__).resolve().parent.parent

#: Set by tests/test_clause_mutations.py in a child pytest: the id of a rule that every guard
#: built in that run leaves out, to show the catalog's named tests fail without it.
DISABLED_RULE_ENV = "TWPOLICY_TEST_DISABLE_RULE"


def _disable_rule(rule_id: str) -> None:
    original = twpolicy.Guard.__init__

    def without(self, *, rules=None, rule_modes=None, **kwargs):
        kept = [
            r for r in (twpolicy.rules.default() if rules is None else rules) if r.id != rule_id
        ]
        modes = {k: v for k, v in (rule_modes or {}).items() if k != rule_id}
        original(self, rules=kept, rule_modes=modes, **kwargs)

    twpolicy.Guard.__init__ = without


if os.environ.get(DISABLED_RULE_ENV):
    _disable_rule(os.environ[DISABLED_RULE_ENV])


@pytest.fixture(autouse=True)
def _fresh_default_guard(monkeypatch):
    """Restore the process-wide default guard and its configuration after each test."""
    monkeypatch.delenv(twpolicy._guard.CONFIG_ENV, raising=False)
    twpolicy.set_default_guard(None)
    yield
    twpolicy.set_default_guard(None)


@pytest.fixture(name="corpus")
def _corpus() -> Path:
    """The shared corpus of recorded payloads; skips (an error in CI) when absent."""
    path = Path(os.environ.get("TWPOLICY_CORPUS", PROJECT.parent / "shared" / "corpus"))
    if not (path / "SOURCES.tsv").is_file():
        require(f"corpus of recorded payloads not found at {path} (set TWPOLICY_CORPUS)")
    return path


@pytest.fixture(name="postgres_url")
def _postgres_url():
    """A PostgreSQL URL whose tables go to a fresh schema, dropped after the test.

    Skips (an error in CI) when TWPOLICY_TEST_POSTGRES_URL names no server.
    """
    base = os.environ.get("TWPOLICY_TEST_POSTGRES_URL")
    if not base:
        require("no PostgreSQL server to test against (set TWPOLICY_TEST_POSTGRES_URL)")
    schema = f"twpolicy_test_{uuid.uuid4().hex[:12]}"
    yield f"{base}{'&' if '?' in base else '?'}schema={schema}"
    import psycopg  # noqa: PLC0415  # only tests that use PostgreSQL need it

    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def require(reason: str) -> None:
    """Skip for want of ``reason``; in CI (``CI`` set), where nothing may be missing, fail."""
    __tracebackhide__ = True
    if os.environ.get("CI"):
        pytest.fail(f"CI needs this test to run: {reason}")
    pytest.skip(reason)


@pytest.fixture(name="loop", scope="session")
def _loop():
    """One event loop for every async test: tweepy's alru caches warn when the loop changes."""
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


#: Every storage backend, for the conformance tests of the ledgers.
BACKENDS = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


@pytest.fixture(name="url_for")
def _url_for(request, tmp_path):
    """Build the URL of a fresh, empty store for a backend name."""

    def url_for(backend):
        if backend == "memory":
            return "memory://"
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'store-{uuid.uuid4().hex[:8]}.db'}"
        return request.getfixturevalue("postgres_url")

    return url_for

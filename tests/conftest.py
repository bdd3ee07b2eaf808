"""Shared fixtures: every test starts with a fresh default guard and a clean environment."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import socket
import subprocess
import tempfile
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


@pytest.fixture(autouse=True)
def _no_registered_secrets():
    """Forget the API secrets clients registered (process-wide) after each test."""
    yield
    twpolicy._stores._secrets.process_secrets().clear()


#: Where the shared layers live when they are present (a checkout next to ``shared/``).
SHARED = PROJECT.parent / "shared"


def corpus_path() -> Path:
    """The shared corpus of recorded payloads, from TWPOLICY_CORPUS or next to the clone."""
    return Path(os.environ.get("TWPOLICY_CORPUS", SHARED / "corpus"))


def seeds_path() -> Path:
    """The shared policy documents (seeds), from TWPOLICY_SEEDS or next to the clone."""
    return Path(os.environ.get("TWPOLICY_SEEDS", SHARED / "seeds"))


def _postgres_bin() -> Path | None:
    """The directory of PostgreSQL's server binaries (initdb, pg_ctl), or ``None``."""
    found = shutil.which("initdb")
    candidates = [Path(found).parent] if found else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0],
        reverse=True,
    )
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def _missing() -> dict[str, str]:
    """What optional parts of the suite's world are missing here (by fixture), each with why."""
    missing: dict[str, str] = {}
    if not (corpus_path() / "SOURCES.tsv").is_file():
        missing["corpus"] = f"no corpus of recorded payloads at {corpus_path()} (TWPOLICY_CORPUS)"
    if not seeds_path().is_dir():
        missing["seeds"] = f"no policy documents at {seeds_path()} (TWPOLICY_SEEDS)"
    if not os.environ.get("TWPOLICY_TEST_POSTGRES_URL") and _postgres_bin() is None:
        missing["postgres_url"] = (
            "PostgreSQL's server binaries (initdb, pg_ctl) are not installed and "
            "TWPOLICY_TEST_POSTGRES_URL names no server"
        )
    return missing


#: The optional layers, reported one line each: the fixtures by which a test needs them.
_LAYERS = {"shared": ("corpus", "seeds"), "postgresql": ("postgres_url",)}
#: Markers that stand for a fixture (parametrized backends ask for the server at run time).
_MARKERS = {"corpus": "corpus", "postgresql": "postgres_url"}


def _needed(item: pytest.Item) -> set[str]:
    needed = set(getattr(item, "fixturenames", ()))
    needed |= {fixture for mark, fixture in _MARKERS.items() if item.get_closest_marker(mark)}
    return needed


_NOT_RUN = pytest.StashKey[list[str]]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out the tests of a missing optional layer, to be reported in one line each.

    Outside CI a fresh clone has neither the shared corpus and seeds nor a database server:
    their tests are not run, and the summary says so once per layer instead of once per
    test. In CI (``CI`` set) nothing is left out, so a missing layer fails its tests (see
    `require`).
    """
    if os.environ.get("CI"):
        return
    missing = _missing()
    not_run: list[str] = []
    for layer, fixtures in _LAYERS.items():
        absent = [name for name in fixtures if name in missing]
        left_out = [item for item in items if _needed(item) & set(absent)]
        if left_out:
            chosen = set(left_out)
            items[:] = [item for item in items if item not in chosen]
            config.hook.pytest_deselected(items=left_out)
            why = "; ".join(missing[name] for name in absent)
            not_run.append(f"{layer} layer not run ({len(left_out)} tests): {why}")
    config.stash[_NOT_RUN] = not_run


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """One line per optional layer that was not run."""
    for line in config.stash.get(_NOT_RUN, []):
        terminalreporter.write_line(line, yellow=True)


@pytest.fixture(name="corpus")
def _corpus() -> Path:
    """The shared corpus of recorded payloads; fails in CI when absent."""
    path = corpus_path()
    if not (path / "SOURCES.tsv").is_file():
        require(f"corpus of recorded payloads not found at {path} (set TWPOLICY_CORPUS)")
    return path


@pytest.fixture(name="seeds")
def _seeds() -> Path:
    """The shared policy documents; fails in CI when absent."""
    path = seeds_path()
    if not path.is_dir():
        require(f"policy documents not found at {path} (set TWPOLICY_SEEDS)")
    return path


@pytest.fixture(name="postgres_server", scope="session")
def _postgres_server(tmp_path_factory):
    """The URL of a PostgreSQL server: TWPOLICY_TEST_POSTGRES_URL's, or a throwaway one.

    The throwaway server is started with the installed binaries (initdb, pg_ctl) on a free
    loopback port and a data directory of its own, and stopped at the end of the session.
    """
    base = os.environ.get("TWPOLICY_TEST_POSTGRES_URL")
    if base:
        yield base
        return
    pgbin = _postgres_bin()
    if pgbin is None:
        require(
            "no PostgreSQL server to test against (install PostgreSQL or set "
            "TWPOLICY_TEST_POSTGRES_URL)"
        )
    root = Path(tempfile.mkdtemp(prefix="twpolicy-pg."))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = root / "data"
    run = functools.partial(subprocess.run, check=True, capture_output=True)
    try:
        run([*as_user, str(pgbin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
        run([
            *as_user, str(pgbin / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"),
            "-w", "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {root}", "start",
        ])  # fmt: skip
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start a throwaway PostgreSQL server: {exc.stderr!r}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, str(pgbin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(name="postgres_url")
def _postgres_url(postgres_server):
    """A PostgreSQL URL whose tables go to a fresh schema, dropped after the test."""
    base = postgres_server
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

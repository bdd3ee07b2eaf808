"""twpolicy's pytest plugin: fixtures, the ``twpolicy`` marker, ``--twpolicy-strict``, a summary.

pytest loads this module through the ``pytest11`` entry point in every run where twpolicy is
installed, so it imports nothing but pytest and the standard library: twpolicy (and tweepy)
are imported only when a test asks for a fixture. Like Hypothesis'
``_hypothesis_pytestplugin``, it lives outside the package so that loading it cannot import
twpolicy, and coverage of twpolicy is measured honestly. Disable it with ``-p no:twpolicy``.

The fixtures are thin: the work is done by `twpolicy.testing`, which other test runners can
use directly.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from twpolicy import API, AsyncClient, Client, Guard, Sink
    from twpolicy.testing import ConsentHelper, DecisionLog, FakeXAPI, TwPolicyOptions

__all__ = [
    "TwPolicyFactory",
    "twpolicy_api",
    "twpolicy_async_client",
    "twpolicy_client",
    "twpolicy_consent",
    "twpolicy_decisions",
    "twpolicy_factory",
    "twpolicy_fake_api",
    "twpolicy_guard",
    "twpolicy_options",
]

DOCS = "https://twpolicy.readthedocs.io/en/latest/testing/"
_DECISION_LOGGER = "twpolicy.decisions"
_COLLECTOR = pytest.StashKey["_Collector"]()
_RECENT = 4096  # how many decision IDs to remember, to count a decision seen twice once
#: The collectors of the pytest sessions running in this process, innermost last: only the
#: innermost counts, so a session run inside a test (pytester) is not counted twice.
_ACTIVE: list[_Collector] = []


class _Collector(logging.Handler):
    """Receives the decisions of the run, to count them and to enforce strict mode.

    Two sources feed it: the sink of every ``twpolicy_guard`` (all its decisions), and the
    ``twpolicy.decisions`` logger, so that guards the tests build themselves count too (their
    denies, logged at ``WARNING``; their allows only if the application set the logger to
    ``INFO``: the plugin leaves logging as it finds it). A decision both sources report is
    counted once. Listening needs nothing of twpolicy imported.
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.totals: Counter[tuple[str, str, bool]] = Counter()
        self._mutex = threading.Lock()
        self._current: list[dict[str, Any]] | None = None
        self._expected: set[str] = set()
        self._recent: dict[str, None] = {}  # decision IDs seen lately, oldest first
        self._logger = logging.getLogger(_DECISION_LOGGER)

    def install(self) -> None:
        _ACTIVE.append(self)
        self._logger.addHandler(self)

    def uninstall(self) -> None:
        _ACTIVE.remove(self)
        self._logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        decision = getattr(record, "decision", None)
        if isinstance(decision, dict):
            self.collect(decision)

    def sink(self, decision: Any) -> None:
        """A guard's sink: receives `twpolicy.Decision` objects."""
        self.collect(decision.to_record())

    def collect(self, decision: dict[str, Any]) -> None:
        if _ACTIVE[-1] is not self:
            return  # a pytest session nested in this one (pytester) counts its own
        with self._mutex:
            if decision["decision_id"] in self._recent:
                return
            self._recent[decision["decision_id"]] = None
            if len(self._recent) > _RECENT:
                del self._recent[next(iter(self._recent))]
            key = (decision["clause"] or "(no clause)", decision["effect"], decision["enforced"])
            self.totals[key] += 1
            if self._current is not None:
                self._current.append(decision)

    def start(self) -> None:
        with self._mutex:
            self._current = []
            self._expected = set()

    def stop(self) -> None:
        with self._mutex:
            self._current = None

    def unexpected_denies(self) -> list[dict[str, Any]]:
        """The denies recorded since `start` that no assertion expected."""
        with self._mutex:
            return [
                d
                for d in self._current or ()
                if d["effect"] == "deny" and d["decision_id"] not in self._expected
            ]

    def expect(self, decision_id: str) -> None:
        with self._mutex:
            self._expected.add(decision_id)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--twpolicy-strict`` and the suite-wide ini settings."""
    group = parser.getgroup("twpolicy", "twpolicy: policy checks in tests")
    group.addoption(
        "--twpolicy-strict",
        action="store_true",
        default=None,
        dest="twpolicy_strict",
        help="fail every test during which a policy deny was recorded that the test did not "
        "expect (with twpolicy_decisions.assert_denied), even in warn or monitor mode.",
    )
    parser.addini("twpolicy_strict", "like --twpolicy-strict, for the whole suite", type="bool")
    parser.addini("twpolicy_mode", "default mode of twpolicy_guard (enforce, warn, monitor)")
    parser.addini("twpolicy_granted", "consent scopes granted to the acting user", type="args")
    parser.addini("twpolicy_acting_user_id", "the user twpolicy's clients act for")


#: ``pytest.raises``' context manager class and its own ``__exit__``, while patched.
_RAISES: list[tuple[type[Any], Any]] = []


def _patch_raises() -> None:
    """Count a refusal caught by ``pytest.raises(<a PolicyViolation>)`` as expected.

    The test says it expects the refusal by catching it, so strict mode must not fail it.
    ``pytest.raises`` offers no hook, so its context manager's ``__exit__`` is wrapped: when
    it swallows an exception carrying a twpolicy decision, that decision is expected.
    """
    if _RAISES:
        return
    cls = type(pytest.raises(Exception))  # noqa: PT011  # only its type is wanted
    original = cls.__dict__.get("__exit__")
    if original is None:  # pragma: no cover  # every pytest this plugin supports has one
        return

    def __exit__(self: Any, exc_type: Any, exc_val: Any, exc_tb: Any) -> bool:  # noqa: N807  # the method it replaces
        __tracebackhide__ = True
        swallowed = bool(original(self, exc_type, exc_val, exc_tb))
        decision_id = getattr(getattr(exc_val, "decision", None), "decision_id", None)
        if swallowed and isinstance(decision_id, str) and _ACTIVE:
            _ACTIVE[-1].expect(decision_id)
        return swallowed

    cls.__exit__ = __exit__  # type: ignore[method-assign]  # see the docstring
    _RAISES.append((cls, original))


def _unpatch_raises() -> None:
    if _RAISES and not _ACTIVE:
        cls, original = _RAISES.pop()
        cls.__exit__ = original


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker and start listening for decisions."""
    config.addinivalue_line(
        "markers",
        "twpolicy(*, mode='enforce', rule_modes=None, granted=(), acting_user_id=None, "
        "strict=None, cassette=None, assert_all_requests_expected=False): configure"
        f" twpolicy's fixtures for this test. See {DOCS}",
    )
    collector = _Collector()
    collector.install()
    config.stash[_COLLECTOR] = collector
    _patch_raises()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop listening for decisions."""
    collector = config.stash.get(_COLLECTOR, None)
    if collector is not None:
        collector.uninstall()
    _unpatch_raises()


def _strict(item: pytest.Item) -> bool:
    for marker in item.iter_markers("twpolicy"):
        if isinstance(marker.kwargs.get("strict"), bool):
            return bool(marker.kwargs["strict"])
    option = item.config.getoption("twpolicy_strict")
    return bool(item.config.getini("twpolicy_strict") if option is None else option)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item,
    nextitem: pytest.Item | None,  # noqa: ARG001  # the hook's signature
) -> Generator[None, object, object]:
    """Attribute the decisions logged while a test runs to that test."""
    collector = item.config.stash[_COLLECTOR]
    collector.start()
    try:
        return (yield)
    finally:
        collector.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In strict mode, fail a passing test that recorded an unexpected deny."""
    report: pytest.TestReport = yield
    if call.when != "call" or not report.passed or not _strict(item):
        return report
    unexpected = item.config.stash[_COLLECTOR].unexpected_denies()
    if unexpected:
        lines = [
            (
                f"--twpolicy-strict: {len(unexpected)} policy deny(s) recorded during "
                f"{item.nodeid} (catch them with pytest.raises(...) or assert them with "
                "twpolicy_decisions.assert_denied(...) if they are expected, or mark the test "
                "@pytest.mark.twpolicy(strict=False)):"
            )
        ]
        verbose = item.config.get_verbosity() > 0
        for d in unexpected:
            lines.append(
                f"  {d['operation']} refused under {d['clause']} [{d['rule']}: {d['reason']}] "
                f"(mode {d['mode']})"
            )
            if verbose:
                lines.append(f"    {d['message']}")
                if d.get("remediation"):
                    lines.append(f"    remedy: {d['remediation']}")
        if not verbose:
            lines.append("  (run with -v for each refusal's message and remedy)")
            # The decision logger's records (a JSON object each) would repeat the above.
            report.sections = [
                (title, _without_decision_records(content)) if "log" in title else (title, content)
                for title, content in report.sections
            ]
        report.outcome = "failed"
        report.longrepr = "\n".join(lines)
    return report


def _without_decision_records(captured: str) -> str:
    return "\n".join(line for line in captured.splitlines() if f" {_DECISION_LOGGER}:" not in line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Show how many decisions each clause had over the run."""
    collector = terminalreporter.config.stash.get(_COLLECTOR, None)
    if collector is None or not collector.totals:
        return
    rows: dict[str, Counter[str]] = {}
    for (clause, effect, enforced), count in collector.totals.items():
        row = rows.setdefault(clause, Counter())
        row[effect] += count
        if effect == "deny" and not enforced:
            row["unenforced"] += count
    terminalreporter.write_sep("-", "twpolicy decisions per clause")
    terminalreporter.write_line(f"{'clause':<16}{'allowed':>9}{'denied':>9}  (not enforced)")
    for clause in sorted(rows):
        row = rows[clause]
        terminalreporter.write_line(
            f"{clause:<16}{row['allow']:>9}{row['deny']:>9}  ({row['unenforced']})"
        )


def _marker_layers(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """The ini settings, then module, class and test markers: later layers win."""
    config = request.config
    suite: dict[str, Any] = {}
    if mode := config.getini("twpolicy_mode"):
        suite["mode"] = mode
    if granted := config.getini("twpolicy_granted"):
        suite["granted"] = granted
    if user := config.getini("twpolicy_acting_user_id"):
        suite["acting_user_id"] = user
    layers = [suite]
    for marker in reversed(list(request.node.iter_markers("twpolicy"))):
        if marker.args:
            message = f"@pytest.mark.twpolicy takes keyword arguments only, got {marker.args!r}"
            raise TypeError(message)
        layers.append(dict(marker.kwargs))
    return layers


@pytest.fixture
def twpolicy_options(request: pytest.FixtureRequest) -> TwPolicyOptions:
    """The test's twpolicy settings: ini, then module, class and test ``twpolicy`` markers."""
    from twpolicy import ConfigurationError  # noqa: PLC0415  # imported only when used
    from twpolicy.testing import TwPolicyOptions  # noqa: PLC0415  # ditto

    try:
        return TwPolicyOptions.merge(_marker_layers(request))
    except (TypeError, ConfigurationError) as exc:
        pytest.fail(f"bad @pytest.mark.twpolicy or twpolicy_* ini setting: {exc}", pytrace=False)


@pytest.fixture
def _twpolicy_log(request: pytest.FixtureRequest) -> DecisionLog:
    """The decision log ``twpolicy_guard`` sends its decisions to."""
    from twpolicy.testing import DecisionLog  # noqa: PLC0415  # imported only when used

    return DecisionLog(on_expected=request.config.stash[_COLLECTOR].expect)


@pytest.fixture
def twpolicy_decisions(twpolicy_guard: Guard, _twpolicy_log: DecisionLog) -> DecisionLog:  # noqa: ARG001  # requesting the guard installs it as the default
    """Every decision ``twpolicy_guard`` (the default guard) makes, with assertion helpers."""
    return _twpolicy_log


@pytest.fixture
def twpolicy_guard(
    request: pytest.FixtureRequest,
    twpolicy_options: TwPolicyOptions,
    _twpolicy_log: DecisionLog,
) -> Iterator[Guard]:
    """A fresh guard (in-memory ledgers, the marker's mode), the default guard for the test."""
    from twpolicy.testing import fresh_guard  # noqa: PLC0415  # imported only when used

    collector = request.config.stash[_COLLECTOR]
    with fresh_guard(twpolicy_options, sinks=[_twpolicy_log, collector.sink]) as guard:
        yield guard


@pytest.fixture
def twpolicy_consent(
    request: pytest.FixtureRequest, twpolicy_guard: Guard, twpolicy_options: TwPolicyOptions
) -> ConsentHelper:
    """Grant or revoke the acting user's consent in one line: ``twpolicy_consent.grant(...)``."""
    from twpolicy.testing import ConsentHelper  # noqa: PLC0415  # imported only when used

    return ConsentHelper(
        twpolicy_guard.consent,
        user_id=twpolicy_options.acting_user_id,
        evidence=f"pytest {request.node.nodeid}",
    )


@pytest.fixture
def twpolicy_fake_api(
    request: pytest.FixtureRequest, twpolicy_options: TwPolicyOptions
) -> Iterator[FakeXAPI]:
    """A fresh fake X API whose authenticated user is the acting user.

    With ``@pytest.mark.twpolicy(cassette="...")`` (a path relative to the test module), the
    requests the cassette recorded are answered from it. With
    ``assert_all_requests_expected=True``, the test fails at teardown if a request reached
    the fake that no ``twpolicy_fake_api.expect(route)`` announced.
    """
    from twpolicy.testing import FakeXAPI  # noqa: PLC0415  # imported only when used

    fake = FakeXAPI(me=twpolicy_options.acting_user_id)
    if twpolicy_options.cassette is not None:
        fake.replay(request.path.parent / twpolicy_options.cassette)
    yield fake
    if twpolicy_options.assert_all_requests_expected:
        try:
            fake.assert_all_requests_expected()
        except AssertionError as exc:
            pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def twpolicy_client(
    twpolicy_fake_api: FakeXAPI, twpolicy_guard: Guard, twpolicy_options: TwPolicyOptions
) -> Client:
    """A `twpolicy.Client` on the fake X API, acting for the acting user, on ``twpolicy_guard``."""
    return twpolicy_fake_api.client(
        guard=twpolicy_guard, acting_user_id=twpolicy_options.acting_user_id
    )


@pytest.fixture
def twpolicy_async_client(
    twpolicy_fake_api: FakeXAPI, twpolicy_guard: Guard, twpolicy_options: TwPolicyOptions
) -> AsyncClient:
    """A `twpolicy.AsyncClient` on the fake X API (needs the ``async`` extra: aiohttp)."""
    try:
        return twpolicy_fake_api.async_client(
            guard=twpolicy_guard, acting_user_id=twpolicy_options.acting_user_id
        )
    except ImportError as exc:
        pytest.fail(
            f"twpolicy_async_client needs aiohttp ({exc}): pip install 'twpolicy[async]'",
            pytrace=False,
        )


@pytest.fixture
def twpolicy_api(
    twpolicy_fake_api: FakeXAPI, twpolicy_guard: Guard, twpolicy_options: TwPolicyOptions
) -> API:
    """A `twpolicy.API` (v1.1) on the fake X API, acting for the acting user."""
    return twpolicy_fake_api.api(
        guard=twpolicy_guard, acting_user_id=twpolicy_options.acting_user_id
    )


class TwPolicyFactory:
    """Builds fresh guards and fake X APIs inside a test: the ``twpolicy_factory`` fixture.

    For ``@given`` tests: hypothesis runs the test body many times per fixture setup, so a
    function-scoped fixture would be shared by every example (and hypothesis' health check
    refuses it). This factory is session-scoped and keeps no state; each example builds its
    own guard and fake. Their decisions count in ``--twpolicy-strict`` like the fixtures'.
    """

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    @contextlib.contextmanager
    def guard(self, *, sinks: Iterable[Sink] = (), **options: Any) -> Iterator[Guard]:
        """A fresh guard, the default guard for the ``with`` block.

        ``options`` are the ``twpolicy`` marker's (``mode``, ``rule_modes``, ``granted``,
        ``acting_user_id``); ``sinks`` receive its decisions too (a `DecisionLog`, say).
        """
        from twpolicy.testing import TwPolicyOptions, fresh_guard  # noqa: PLC0415  # when used

        with fresh_guard(TwPolicyOptions(**options), sinks=[*sinks, self._sink]) as guard:
            yield guard

    def fake_api(self, **options: Any) -> FakeXAPI:
        """A fresh `twpolicy.testing.FakeXAPI` (``me``, ``clock``, ``rate_limits``, ...)."""
        from twpolicy.testing import FakeXAPI  # noqa: PLC0415  # imported only when used

        return FakeXAPI(**options)


@pytest.fixture(scope="session")
def twpolicy_factory(request: pytest.FixtureRequest) -> TwPolicyFactory:
    """Fresh guards and fake X APIs on demand, usable under hypothesis' ``@given``."""
    return TwPolicyFactory(request.config.stash[_COLLECTOR].sink)

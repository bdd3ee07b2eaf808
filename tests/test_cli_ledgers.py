"""``consent``, ``replay`` and ``report`` on the outputs they rarely see: JSON grants, empty
histories, reasons, unchanged and export decisions, empty ledgers and long periods."""

import io
import json
import re
import warnings
from datetime import date, datetime, timedelta, timezone

import pytest

import twpolicy
from twpolicy import Action, ActionKind, DecisionFile, Guard, rules
from twpolicy._cli._main import main

USER = "2244994945"
NOTICE = ["--notice", "post-dialog", "--method", "ui_explicit", "--evidence", "req-1"]
GRANT = {"notice": twpolicy.Notice("post-dialog-v1"), "method": "ui_explicit", "evidence": "r1"}


def run(*argv, capsys):
    out = io.StringIO()
    code = main([str(a) for a in argv], out=out)
    return code, out.getvalue(), capsys.readouterr().err


def post(user=USER):
    return Action(
        kind=ActionKind.API_CALL,
        operation="POST /2/tweets",
        category="write",
        acting_user_id=user,
        scopes={"tweet.write"},
    )


def export(recipient, count=2):
    return Action(
        kind=ActionKind.EXPORT,
        operation="share",
        recipient=recipient,
        count=count,
        facts={"content": "tweet_ids"},
        payload=[str(n) for n in range(1, count + 1)],
    )


class Clock:
    """A clock that moves on by ``step`` at each reading."""

    def __init__(self, start, step):
        self.now, self.step = start, step

    def __call__(self):
        self.now += self.step
        return self.now


class TestConsent:
    def test_grant_as_json(self, tmp_path, capsys):
        """A grant with --format json prints the record as stored."""
        db = f"sqlite:///{tmp_path / 'consent.db'}"
        code, out, _ = run(
            "consent", "grant", USER, "tweet.write", *NOTICE, "--consent-db", db,
            "--format", "json", capsys=capsys,
        )  # fmt: skip
        assert 0 == code
        record = json.loads(out)
        assert (USER, ["tweet.write"]) == (record["user_id"], record["scopes"])
        with twpolicy.open_ledger(db, create=False) as ledger:
            assert [record["record_id"]] == [s.record.record_id for s in ledger.status(USER)]

    def test_show_with_nothing_recorded(self, tmp_path, capsys):
        """Showing a user with no consent says so, and is not an error."""
        db = f"sqlite:///{tmp_path / 'consent.db'}"
        twpolicy.open_ledger(db).close()
        code, out, _ = run("consent", "show", "12", "--consent-db", db, capsys=capsys)
        assert (0, "no consent recorded for user 12\n") == (code, out)

    def test_history_shows_the_reason_of_a_revocation(self, tmp_path, capsys):
        """A revocation's reason is shown in the user's history."""
        db = f"sqlite:///{tmp_path / 'consent.db'}"
        run("consent", "grant", USER, "tweet.write", *NOTICE, "--consent-db", db, capsys=capsys)
        run(
            "consent",
            "revoke",
            USER,
            "--reason",
            "asked by email",
            "--consent-db",
            db,
            capsys=capsys,
        )
        code, out, _ = run("consent", "history", USER, "--consent-db", db, capsys=capsys)
        assert 0 == code
        assert out.rstrip().endswith("revoked tweet.write (asked by email)")

    def test_history_of_a_used_consent(self, tmp_path, capsys):
        """A single-use consent's history ends with its use, which names no scopes."""
        db = f"sqlite:///{tmp_path / 'consent.db'}"
        with twpolicy.open_ledger(db) as ledger:
            record = ledger.grant(USER, ["tweet.write"], content_sha256="a" * 64, **GRANT)
            ledger.use(record.record_id)
        code, out, _ = run("consent", "history", USER, "--consent-db", db, capsys=capsys)
        assert 0 == code
        assert out.rstrip().endswith(f"{record.record_id}  used")


@pytest.fixture(name="site")
def _site(tmp_path):
    """A log of exports to a registered recipient, decided under a configuration that
    has no quota rule; and a configuration with the default rules and a quota ledger."""
    quotas = f"sqlite:///{tmp_path / 'quotas.db'}"
    with twpolicy.open_quotas(quotas) as ledger:
        ledger.register("lab", entity="uni")
    log = tmp_path / "decisions.jsonl"
    guard = Guard(
        rules=[rules.recipient_quota()],
        quotas=twpolicy.open_quotas(quotas),
        sinks=[DecisionFile(log)],
        mode="monitor",
    )
    guard.check(export("lab"))
    guard.check(export("stranger"))
    (tmp_path / "now.toml").write_text(f'[twpolicy]\nmode = "enforce"\nquota_ledger = "{quotas}"\n')
    return tmp_path


class TestReplay:
    def test_unchanged_decisions_are_listed_with_all(self, site, capsys):
        """--all lists decisions that stay as they were, marked as the same, with recipients."""
        code, out, _ = run(
            "replay", site / "decisions.jsonl", "--config", site / "now.toml", "--all",
            capsys=capsys,
        )  # fmt: skip
        lines = [line for line in out.splitlines() if line.startswith("same")]
        assert 0 == code
        assert ["- -> lab", "- -> stranger"] == [
            re.search(r"share  (.*?): was", line)[1] for line in lines
        ]
        assert "2 unchanged" in out

    def test_quiet_lists_nothing_that_cannot_be_replayed(self, site, capsys):
        """With --quiet, records that cannot be replayed are counted, not listed."""
        log = site / "decisions.jsonl"
        record = json.loads(log.read_text().splitlines()[0])
        record["scopes"] = "tweet.write"
        log.write_text(json.dumps(record) + "\n")
        code, _, err = run(
            "replay", log, "--config", site / "now.toml", "--quiet", "--format", "json",
            "--output", site / "out.json", capsys=capsys,
        )  # fmt: skip
        assert (2, "") == (code, err)
        assert 1 == json.loads((site / "out.json").read_text())["not_replayable"]


class TestReport:
    def report(self, log, *options, capsys):
        code, out, err = run("report", log, "--format", "json", *options, capsys=capsys)
        return code, json.loads(out), err

    def html(self, log, *options, capsys):
        code, out, err = run("report", log, *options, capsys=capsys)
        assert 0 == code, err
        return out

    def test_a_period_longer_than_the_axis_shows_only_days_with_decisions(self, tmp_path, capsys):
        """Over 400 days, the axis has a slot only for each day that had decisions."""
        log = tmp_path / "long.jsonl"
        start = datetime(2024, 1, 1, tzinfo=timezone.utc)
        clock = Clock(start, timedelta(days=300))
        guard = Guard(sinks=[DecisionFile(log)], mode="monitor", clock=clock)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", twpolicy.TwPolicyWarning)
            for _ in range(3):
                guard.check(post())
        page = self.html(log, capsys=capsys)
        days = sorted(set(re.findall(r'data-day="([^"]+)"', page)))
        assert 3 == len(days)
        assert date.fromisoformat(days[-1]) - date.fromisoformat(days[0]) > timedelta(days=400)
        # The axis is labelled at its first, middle and last slot: the three decision days.
        labels = re.findall(r'text-anchor="middle">(\d{4}-\d\d-\d\d)</text>', page)
        assert days == labels[:3]

    def test_exports_without_a_quota_ledger(self, site, capsys):
        """Without --quota-db, the IDs exported per recipient are still tabled from the log."""
        page = self.html(site / "decisions.jsonl", capsys=capsys)
        assert "IDs exported (allowed decisions in the log)" in page
        assert "No quota ledger given (--quota-db)" in page

    def test_a_quota_ledger_with_no_recipients(self, tmp_path, capsys):
        """An empty quota ledger, and a log with no exports, show no recipients."""
        empty = f"sqlite:///{tmp_path / 'empty-quotas.db'}"
        twpolicy.open_quotas(empty).close()
        log = tmp_path / "empty.jsonl"
        log.write_text("")
        page = self.html(log, "--quota-db", empty, capsys=capsys)
        assert "The quota ledger has no recipients." in page

    def test_a_consent_ledger_with_no_grants(self, site, capsys):
        """An empty consent ledger is said to hold no grants or revocations."""
        empty = f"sqlite:///{site / 'empty-consent.db'}"
        twpolicy.open_ledger(empty).close()
        page = self.html(site / "decisions.jsonl", "--consent-db", empty, capsys=capsys)
        assert "The consent ledger holds no grants or revocations." in page

    def test_spent_consents_are_not_counted_as_grants(self, tmp_path, capsys):
        """Using a single-use consent adds no grant or revocation to the consent chart."""
        db = f"sqlite:///{tmp_path / 'consent.db'}"
        with twpolicy.open_ledger(db) as ledger:
            record = ledger.grant(USER, ["tweet.write"], content_sha256="a" * 64, **GRANT)
            ledger.use(record.record_id)
        log = tmp_path / "empty.jsonl"
        log.write_text("")
        _, figures, _ = self.report(log, "--consent-db", db, capsys=capsys)
        (day,) = figures["consent_events_per_day"].values()
        assert {"granted": 1} == {k: v for k, v in day.items() if v}

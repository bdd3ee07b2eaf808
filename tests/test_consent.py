import hashlib
import io
import json
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twpolicy
from conftest import BACKENDS
from twpolicy import ConsentEventType, ConsentRecord, Notice
from twpolicy._cli._main import main
from twpolicy._stores._consent import LedgerTampered
from twpolicy._stores._consent._events import COLUMNS, GENESIS, Row
from twpolicy._stores._consent._verify import verify_rows
from twpolicy._stores._sql import _ChangeMarker

USER = "2244994945"
OTHER = "783214"
NOTICE = {"notice": "post-dialog-v1", "method": "ui_explicit", "evidence": "req-1"}
START = datetime(2030, 1, 1, 12, tzinfo=timezone.utc)
CONTENT = hashlib.sha256(b"hello world").hexdigest()
WORKER = Path(__file__).with_name("consent_worker.py")
PROJECT = Path(__file__).resolve().parent.parent


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self, start=START):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


class FakeTimer:
    """A monotonic timer for the cache that moves only when told to."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture(name="clock")
def _clock():
    """A fake wall clock starting at START."""
    return FakeClock()


@pytest.fixture(name="timer")
def _timer():
    """A fake monotonic timer for the cache."""
    return FakeTimer()


@pytest.fixture(name="url", params=BACKENDS)
def _url(request, url_for):
    """A fresh ledger URL on each backend."""
    return url_for(request.param)


@pytest.fixture(name="ledger")
def _ledger(url, clock, timer):
    """A fresh ledger on each backend, with fake clocks."""
    with twpolicy.open_ledger(url, clock=clock, timer=timer) as ledger:
        yield ledger


@pytest.fixture(
    name="shared_url", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
)
def _shared_url(request, url_for):
    """A fresh URL of a backend that several processes can share."""
    return url_for(request.param)


def events_of(ledger):
    """Every event of the ledger, as dicts."""
    return [event.to_dict() for event in ledger.events()]


class TestNotice:
    def test_from_text_hashes_what_was_shown(self):
        """Notice.from_text records the SHA-256 of the UTF-8 text shown."""
        text = "We will post this Tweet for you: «bonjour»"
        notice = Notice.from_text("post-dialog", text, version="3", url="https://ex.test/n")
        assert hashlib.sha256(text.encode()).hexdigest() == notice.sha256
        assert ("post-dialog", "3", "https://ex.test/n") == (notice.id, notice.version, notice.url)

    def test_a_string_is_a_notice_id(self, ledger):
        """notice='id' is shorthand for Notice('id')."""
        record = ledger.grant(USER, "tweet.write", **NOTICE)
        assert Notice("post-dialog-v1") == record.notice

    @pytest.mark.parametrize(
        "make",
        [
            lambda: Notice(""),
            lambda: Notice("n", sha256="ABC"),
            lambda: Notice("n", sha256="a" * 63),
            lambda: Notice("n", version=3),
            lambda: Notice.from_text("n", ""),
        ],
    )
    def test_bad_notices(self, make):
        """An empty ID, a malformed hash or a non-string field is a ConfigurationError."""
        with pytest.raises(twpolicy.ConfigurationError):
            make()


utc_offsets = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
aware = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001  # hypothesis wants naive bounds
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001  # ... and adds the timezones
    timezones=utc_offsets,
)
records = st.builds(
    ConsentRecord,
    record_id=st.uuids().map(str),
    user_id=st.integers(1, 2**64).map(str),
    scopes=st.frozensets(st.sampled_from(sorted(twpolicy.SCOPES)), min_size=1),
    granted_at=aware,
    notice=st.builds(
        Notice,
        id=st.text(min_size=1).filter(str.strip),
        version=st.text(),
        url=st.text(),
        sha256=st.none() | st.binary().map(lambda b: hashlib.sha256(b).hexdigest()),
        language=st.text(max_size=5),
    ),
    method=st.text(min_size=1).filter(str.strip),
    evidence=st.text(min_size=1).filter(str.strip),
    expires_at=st.none() | aware,
    content_sha256=st.none() | st.binary().map(lambda b: hashlib.sha256(b).hexdigest()),
    app_user_id=st.none() | st.text(min_size=1).filter(str.strip),
)


class TestRecord:
    @given(record=records)
    def test_receipt_round_trip(self, record):
        """A record survives to_receipt, JSON and from_receipt unchanged."""
        receipt = json.loads(json.dumps(record.to_receipt()))
        assert record == ConsentRecord.from_receipt(receipt)

    def test_receipt_is_kantara_v1_1(self, ledger):
        """The receipt has the Kantara CR v1.1 fields, one EXPLICIT purpose per scope."""
        notice = Notice.from_text("n", "text", url="https://ex.test/privacy", language="en")
        record = ledger.grant(
            USER, ["tweet.write", "like.write"], notice=notice, method="ui", evidence="r"
        )
        receipt = record.to_receipt(
            jurisdiction="EU", controller={"piiController": "Example Ltd"}, service="Poster"
        )
        assert "KI-CR-v1.1.0" == receipt["version"]
        assert record.record_id == receipt["consentReceiptID"]
        assert USER == receipt["piiPrincipalId"]
        assert int(START.timestamp()) == receipt["consentTimestamp"]
        assert "https://ex.test/privacy" == receipt["policyUrl"]
        assert [{"piiController": "Example Ltd"}] == receipt["piiControllers"]
        (service,) = receipt["services"]
        assert "Poster" == service["service"]
        assert [["like.write"], ["tweet.write"]] == [
            p["purposeCategory"] for p in service["purposes"]
        ]
        assert {"EXPLICIT"} == {p["consentType"] for p in service["purposes"]}

    @pytest.mark.parametrize(
        "change",
        [
            lambda r: r.pop("twpolicy"),
            lambda r: r.update(version="KI-CR-v1.0.0"),
            lambda r: r.update(consentReceiptID="someone-else"),
            lambda r: r["twpolicy"].update(user_id="not a number"),
            lambda r: r["twpolicy"].pop("scopes"),
        ],
    )
    def test_from_receipt_refuses_others(self, change):
        """A receipt that is not one of ours, or whose parts disagree, is refused."""
        record = ConsentRecord(
            record_id="r1", user_id=USER, scopes={"tweet.write"}, granted_at=START, **NOTICE
        )
        receipt = record.to_receipt()
        change(receipt)
        with pytest.raises(twpolicy.ConfigurationError):
            ConsentRecord.from_receipt(receipt)


class TestLedger:
    """The conformance suite: every backend behaves the same."""

    def test_grant_then_check(self, ledger):
        """A grant is returned by check for each of its scopes, with what was recorded."""
        notice = Notice.from_text("post-dialog", "We will post for you.", version="2")
        record = ledger.grant(
            USER,
            ["tweet.write", "like.write"],
            notice=notice,
            method="ui_explicit",
            evidence="request 7f3a",
            app_user_id="u-17",
        )
        assert record == ledger.check(USER, "tweet.write")
        assert record == ledger.check(USER, "like.write")
        assert (notice, "ui_explicit", "request 7f3a") == (
            record.notice,
            record.method,
            record.evidence,
        )
        assert START == record.granted_at

    def test_check_is_per_user_and_scope(self, ledger):
        """Consent covers its own user and scopes only."""
        ledger.grant(USER, "tweet.write", **NOTICE)
        assert ledger.check(USER, "dm.write") is None
        assert ledger.check(OTHER, "tweet.write") is None

    def test_newest_active_record_wins(self, ledger, clock):
        """With several records covering a scope, check returns the newest."""
        ledger.grant(USER, "tweet.write", **NOTICE)
        clock.advance(seconds=1)
        newer = ledger.grant(USER, ["tweet.write", "like.write"], **NOTICE)
        assert newer == ledger.check(USER, "tweet.write")

    def test_partial_revoke(self, ledger):
        """Revoking one scope leaves the record's other scopes in force."""
        record = ledger.grant(USER, ["tweet.write", "like.write"], **NOTICE)
        (event,) = ledger.revoke(USER, "tweet.write", reason="user asked")
        assert (ConsentEventType.REVOKED, record.record_id) == (event.type, event.record_id)
        assert (frozenset({"tweet.write"}), "user asked", False) == (
            event.scopes,
            event.reason,
            event.closes,
        )
        assert ledger.check(USER, "tweet.write") is None
        assert record == ledger.check(USER, "like.write")
        (state,) = ledger.status(USER)
        assert ("active", {"like.write"}, {"tweet.write"}) == (
            state.status,
            state.active_scopes,
            state.revoked_scopes,
        )

    def test_revoke_everything(self, ledger):
        """revoke(user) withdraws every scope of every record, each in its own event."""
        first = ledger.grant(USER, ["tweet.write"], **NOTICE)
        second = ledger.grant(USER, ["like.write", "dm.write"], **NOTICE)
        kept = ledger.grant(OTHER, ["tweet.write"], **NOTICE)
        events = ledger.revoke(USER)
        assert [first.record_id, second.record_id] == [e.record_id for e in events]
        assert all(e.closes for e in events)
        assert ["revoked", "revoked"] == [s.status for s in ledger.status(USER)]
        assert ledger.check(USER, "dm.write") is None
        assert kept == ledger.check(OTHER, "tweet.write")

    def test_opt_out_without_consent_is_recorded(self, ledger):
        """A revoke that finds nothing to withdraw still puts the opt-out on the record."""
        (event,) = ledger.revoke(USER, "automated.write", reason="replied STOP")
        assert ("", frozenset({"automated.write"}), "replied STOP") == (
            event.record_id,
            event.scopes,
            event.reason,
        )
        assert [event] == list(ledger.history(USER))
        (everything,) = ledger.revoke(OTHER)
        assert everything.scopes is None

    def test_expiry(self, ledger, clock):
        """A record lapses at expires_at; expire() puts the lapse on the record, once."""
        record = ledger.grant(USER, "like.write", expires_at=START + timedelta(hours=1), **NOTICE)
        assert record == ledger.check(USER, "like.write", at=START + timedelta(minutes=59))
        assert ledger.check(USER, "like.write", at=START + timedelta(hours=1)) is None
        assert () == ledger.expire()
        clock.advance(hours=2)
        assert ledger.check(USER, "like.write") is None
        assert "expired" == ledger.status(USER)[0].status
        (event,) = ledger.expire()
        assert (ConsentEventType.EXPIRED, record.record_id, True) == (
            event.type,
            event.record_id,
            event.closes,
        )
        assert () == ledger.expire()

    def test_check_before_the_grant(self, ledger):
        """A record does not cover a time before it was granted."""
        ledger.grant(USER, "tweet.write", **NOTICE)
        assert ledger.check(USER, "tweet.write", at=START - timedelta(seconds=1)) is None
        assert "pending" == ledger.status(USER, at=START - timedelta(seconds=1))[0].status

    def test_content_bound_consent_is_single_use(self, ledger):
        """A content-bound record covers that content only, and use() spends it."""
        bound = ledger.grant(USER, "tweet.write", content_sha256=CONTENT, **NOTICE)
        assert ledger.check(USER, "tweet.write") is None
        assert ledger.check(USER, "tweet.write", content_sha256="0" * 64) is None
        assert bound == ledger.check(USER, "tweet.write", content_sha256=CONTENT)
        event = ledger.use(bound.record_id)
        assert (ConsentEventType.USED, True, "") == (event.type, event.closes, event.reason)
        assert ledger.check(USER, "tweet.write", content_sha256=CONTENT) is None
        assert "spent" == ledger.status(USER)[0].status

    def test_content_bound_record_is_preferred(self, ledger, clock):
        """With a general and a content-bound record, the bound one is returned, to be spent."""
        bound = ledger.grant(USER, "tweet.write", content_sha256=CONTENT, **NOTICE)
        clock.advance(seconds=1)
        general = ledger.grant(USER, "tweet.write", **NOTICE)
        assert bound == ledger.check(USER, "tweet.write", content_sha256=CONTENT)
        ledger.use(bound.record_id)
        assert general == ledger.check(USER, "tweet.write", content_sha256=CONTENT)

    def test_using_a_general_record_keeps_it(self, ledger):
        """use() of a record not bound to content logs the use and changes nothing."""
        general = ledger.grant(USER, "tweet.write", **NOTICE)
        assert not ledger.use(general.record_id).closes
        assert general == ledger.check(USER, "tweet.write")

    def test_late_use_is_noted(self, ledger):
        """A use of a general record no longer active is recorded with a note saying so."""
        general = ledger.grant(USER, "tweet.write", **NOTICE)
        ledger.revoke(USER)
        late = ledger.use(general.record_id)
        assert "not active" in late.reason
        assert ledger.verify()

    def test_single_use_cannot_be_spent_twice(self, ledger):
        """A second use of a content-bound record is refused and appends nothing."""
        bound = ledger.grant(USER, "tweet.write", content_sha256=CONTENT, **NOTICE)
        ledger.use(bound.record_id)
        before = events_of(ledger)
        with pytest.raises(twpolicy.ConfigurationError, match="no longer active"):
            ledger.use(bound.record_id)
        assert before == events_of(ledger)

    def test_use_of_unknown_record(self, ledger):
        """use() of a record the ledger does not hold is an error and writes nothing."""
        with pytest.raises(twpolicy.ConfigurationError, match="no record"):
            ledger.use("no-such-record")
        assert [] == events_of(ledger)

    def test_history_and_events(self, ledger):
        """history() lists one user's events in order; events() lists everyone's."""
        record = ledger.grant(USER, ["tweet.write", "like.write"], **NOTICE)
        ledger.grant(OTHER, "tweet.write", **NOTICE)
        ledger.revoke(USER, "like.write")
        ledger.use(record.record_id)
        history = ledger.history(USER)
        assert [1, 3, 4] == [e.seq for e in history]
        assert ["granted", "revoked", "used"] == [e.type.value for e in history]
        assert record == history[0].record
        assert [1, 2, 3, 4] == [e.seq for e in ledger.events()]
        assert [3, 4] == [e.seq for e in ledger.events(after=2)]
        chain = list(ledger.events())
        assert GENESIS == chain[0].prev_hash
        assert [e.hash for e in chain[:-1]] == [e.prev_hash for e in chain[1:]]

    def test_verify_an_intact_ledger(self, ledger):
        """verify() passes on an untouched ledger and names its head."""
        assert ledger.verify()
        ledger.grant(USER, "tweet.write", **NOTICE)
        ledger.revoke(USER)
        result = ledger.verify()
        assert (True, 2, ()) == (result.ok, result.events, result.problems)
        assert list(ledger.events())[-1].hash == result.head

    def test_export_subject(self, ledger):
        """export_subject() gives one user's records, statuses, receipts and events as JSON."""
        record = ledger.grant(USER, ["tweet.write", "like.write"], app_user_id="u-1", **NOTICE)
        ledger.revoke(USER, "like.write")
        ledger.grant(OTHER, "tweet.write", **NOTICE)
        export = json.loads(json.dumps(ledger.export_subject(USER)))
        assert {"twitter_user_id": USER, "app_user_ids": ["u-1"]} == export["subject"]
        (entry,) = export["records"]
        assert ("active", ["tweet.write"], ["like.write"]) == (
            entry["status"],
            entry["active_scopes"],
            entry["revoked_scopes"],
        )
        assert record == ConsentRecord.from_receipt(entry["receipt"])
        assert [1, 2] == [e["seq"] for e in export["events"]]
        assert OTHER not in json.dumps(export)

    @pytest.mark.parametrize(
        ("user", "scopes", "extra"),
        [
            ("@jack", ["tweet.write"], {}),
            ("12x", ["tweet.write"], {}),
            ("0012", ["tweet.write"], {}),
            (12.0, ["tweet.write"], {}),
            (True, ["tweet.write"], {}),
            (USER, ["tweet.delete.everything"], {}),
            (USER, [], {}),
            (USER, ["tweet.write"], {"expires_at": datetime(2031, 1, 1)}),  # noqa: DTZ001
            (USER, ["tweet.write"], {"expires_at": START}),
            (USER, ["tweet.write"], {"expires_at": START - timedelta(days=1)}),
            (USER, ["tweet.write"], {"content_sha256": "not-a-hash"}),
            (USER, ["tweet.write"], {"content_sha256": CONTENT.upper()}),
            (USER, ["tweet.write"], {"method": " "}),
            (USER, ["tweet.write"], {"evidence": ""}),
            (USER, ["tweet.write"], {"notice": 3}),
            (USER, ["tweet.write"], {"app_user_id": ""}),
        ],
    )
    def test_bad_grants_write_nothing(self, ledger, user, scopes, extra):
        """Bad IDs, scopes, times, hashes and texts raise ConfigurationError and write nothing."""
        with pytest.raises(twpolicy.ConfigurationError):
            ledger.grant(user, scopes, **{**NOTICE, **extra})
        assert [] == events_of(ledger)

    @pytest.mark.parametrize(
        ("user", "scopes", "reason"),
        [("jack", None, ""), (USER, ["nope"], ""), (USER, [], ""), (USER, None, 3)],
    )
    def test_bad_revokes_write_nothing(self, ledger, user, scopes, reason):
        """A bad user ID, scope or reason in revoke() raises and writes nothing."""
        with pytest.raises(twpolicy.ConfigurationError):
            ledger.revoke(user, scopes, reason=reason)
        assert [] == events_of(ledger)

    @pytest.mark.parametrize(
        ("user", "scope", "at"),
        [
            ("jack", "tweet.write", None),
            (USER, "tweet.delete", None),
            (USER, "tweet.write", datetime(2030, 1, 1)),  # noqa: DTZ001
        ],
    )
    def test_bad_checks(self, ledger, user, scope, at):
        """check() refuses a bad user ID, an unknown scope and a naive datetime."""
        with pytest.raises(twpolicy.ConfigurationError):
            ledger.check(user, scope, at=at)

    def test_a_revoke_is_seen_at_once_in_this_process(self, ledger):
        """A revoke clears this process's cache: the next check already misses."""
        ledger.grant(USER, "tweet.write", **NOTICE)
        assert ledger.check(USER, "tweet.write") is not None  # now cached
        ledger.revoke(USER)
        assert ledger.check(USER, "tweet.write") is None

    def test_a_grant_is_seen_at_once_in_this_process(self, ledger):
        """A cached 'no consent' is forgotten when this process records a grant."""
        assert ledger.check(USER, "tweet.write") is None  # now cached
        ledger.grant(USER, "tweet.write", **NOTICE)
        assert ledger.check(USER, "tweet.write") is not None

    @pytest.mark.parametrize(
        "text",
        ["«ç» 🙂 日本語", 'quote " backslash \\ slash /', "tab\t newline\n nul\x00 bell\x07", " "],
    )
    def test_any_text_survives_and_verifies(self, ledger, text):
        """Free text in notices, evidence and reasons round-trips and hashes alike everywhere."""
        notice = Notice(f"n{text}", version=text, url=text, language=text)
        record = ledger.grant(
            USER, "tweet.write", notice=notice, method=f"m{text}", evidence=f"e{text}"
        )
        ledger.revoke(USER, reason=text)
        history = ledger.history(USER)
        assert record == history[0].record
        assert text == history[1].reason
        assert ledger.verify()

    def test_threads_share_a_ledger(self, ledger):
        """Threads writing through one ledger object keep one gapless, verifiable chain."""

        def work(n):
            user = str(100 + n)
            for _ in range(25):
                ledger.grant(user, "tweet.write", **NOTICE)
                assert ledger.check(user, "tweet.write") is not None
                ledger.revoke(user)
                assert ledger.check(user, "tweet.write") is None

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(work, range(4)))
        assert list(range(1, 201)) == [e.seq for e in ledger.events()]
        assert ledger.verify()

    def test_integer_user_ids(self, ledger):
        """An int user ID is taken as its decimal string everywhere."""
        record = ledger.grant(int(USER), "tweet.write", **NOTICE)
        assert USER == record.user_id
        assert record == ledger.check(int(USER), "tweet.write")

    def test_repr_and_url(self, ledger, url):
        """The repr names the ledger and its cache TTL."""
        assert ledger.url in repr(ledger)
        assert "cache_ttl" in repr(ledger)


class TestPersistence:
    def test_reopen_keeps_everything(self, shared_url, clock):
        """A ledger reopened from its URL has every event and the same state."""
        with twpolicy.open_ledger(shared_url, clock=clock) as ledger:
            record = ledger.grant(USER, ["tweet.write", "like.write"], **NOTICE)
            ledger.revoke(USER, "like.write")
            before = events_of(ledger)
        with twpolicy.open_ledger(shared_url, clock=clock) as ledger:
            assert before == events_of(ledger)
            assert record == ledger.check(USER, "tweet.write")
            assert ledger.check(USER, "like.write") is None
            assert ledger.verify()

    def test_events_are_append_only_in_the_store(self, shared_url):
        """The store itself refuses to change or delete events."""
        with twpolicy.open_ledger(shared_url) as ledger:
            ledger.grant(USER, "tweet.write", **NOTICE)
        with raw(shared_url) as sql:
            for statement in (
                "UPDATE twpolicy_consent_events SET user_id = '1'",
                "DELETE FROM twpolicy_consent_events",
            ):
                with pytest.raises(Exception, match="append-only"):
                    sql(statement)


class raw:  # noqa: N801  # reads like the context manager it is
    """A raw SQL connection to a ledger URL, to tamper with it as an attacker would."""

    def __init__(self, url):
        self.url = url

    def __enter__(self):
        if self.url.startswith("sqlite"):
            self.connection = sqlite3.connect(self.url.removeprefix("sqlite:///"))
            self.connection.isolation_level = None

            def sql(statement, params=()):
                return self.connection.execute(statement, params).fetchall()

        else:
            import psycopg  # noqa: PLC0415  # only PostgreSQL runs need it

            base, schema = self.url.rsplit("schema=", 1)
            self.connection = psycopg.connect(base.rstrip("?&"), autocommit=True)
            self.connection.execute(f"SET search_path TO {schema}")

            def sql(statement, params=()):
                cursor = self.connection.execute(statement.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []

        return sql

    def __exit__(self, *exc):
        self.connection.close()


def drop_append_only(sql, url):
    """Remove the store's append-only guard, as a determined tamperer would."""
    if url.startswith("sqlite"):
        sql("DROP TRIGGER twpolicy_consent_events_no_update")
        sql("DROP TRIGGER twpolicy_consent_events_no_delete")
    else:
        sql("DROP TRIGGER twpolicy_consent_events_no_change ON twpolicy_consent_events")


class TestTampering:
    @pytest.fixture(name="filled")
    def _filled(self, shared_url):
        """A ledger with five events, closed again."""
        with twpolicy.open_ledger(shared_url) as ledger:
            record = ledger.grant(USER, ["tweet.write", "like.write"], **NOTICE)
            ledger.grant(OTHER, "tweet.write", **NOTICE)
            ledger.revoke(USER, "like.write")
            ledger.use(record.record_id)
            ledger.revoke(OTHER)
            assert ledger.verify()
        return shared_url

    @pytest.mark.parametrize(
        ("statements", "expected"),
        [
            (
                [
                    (
                        "UPDATE twpolicy_consent_events SET body = replace(body, 'req-1', 'req-2')"
                        " WHERE seq = 1"
                    )
                ],
                "event 1 does not match its hash",
            ),
            (
                ["UPDATE twpolicy_consent_events SET user_id = '1' WHERE seq = 2"],
                "event 2 does not match its hash",
            ),
            (["DELETE FROM twpolicy_consent_events WHERE seq = 3"], "events are missing"),
            (["DELETE FROM twpolicy_consent_events WHERE seq = 5"], "removed from the end"),
            (
                [
                    "UPDATE twpolicy_consent_events SET seq = 99 WHERE seq = 2",
                    "UPDATE twpolicy_consent_events SET seq = 2 WHERE seq = 3",
                    "UPDATE twpolicy_consent_events SET seq = 3 WHERE seq = 99",
                ],
                "does not chain",
            ),
        ],
    )
    def test_verify_finds_tampering(self, filled, statements, expected):
        """A changed, removed or reordered event fails verify, which says which event."""
        with raw(filled) as sql:
            drop_append_only(sql, filled)
            for statement in statements:
                sql(statement)
        with twpolicy.open_ledger(filled) as ledger:
            result = ledger.verify()
        assert not result
        assert any(expected in problem for problem in result.problems), result.problems
        assert "TAMPERED" in result.explain()

    def test_cli_verify_exits_1_on_tampering(self, filled, capsys):
        """`twpolicy consent verify` exits 0 on an intact ledger and 1 on a tampered one."""
        assert 0 == main(["consent", "verify", "--db", filled])
        with raw(filled) as sql:
            drop_append_only(sql, filled)
            sql("DELETE FROM twpolicy_consent_events WHERE seq = 2")
        out = io.StringIO()
        assert 1 == main(["consent", "verify", "--db", filled], out=out)
        assert "event 3 comes after event 1" in out.getvalue()

    def test_unreadable_event_fails_closed(self, filled):
        """An event whose body no longer parses makes reads of its user refuse, naming it."""
        with raw(filled) as sql:
            drop_append_only(sql, filled)
            sql("UPDATE twpolicy_consent_events SET body = '{' WHERE seq = 1")
        with twpolicy.open_ledger(filled) as ledger:
            with pytest.raises(LedgerTampered, match="event 1 does not match its hash") as info:
                ledger.check(USER, "tweet.write")
            assert (USER, 1) == (info.value.user_id, info.value.seq)
            assert isinstance(info.value, twpolicy.StoreUnavailable)
            assert ledger.check(OTHER, "tweet.write") is None  # revoked, and intact
            assert any("event 1 cannot be read" in p for p in ledger.verify().problems)

    def test_inserted_event_without_head(self, filled):
        """An event appended behind twpolicy's back fails verify, and blocks new writes."""
        with raw(filled) as sql:
            (row,) = sql(f"SELECT {COLUMNS} FROM twpolicy_consent_events WHERE seq = 5")  # noqa: S608  # test SQL
            sql(
                f"INSERT INTO twpolicy_consent_events ({COLUMNS})"  # noqa: S608  # test SQL
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (6, *row[1:7], row[8], "f" * 64, *row[9:]),
            )
        with twpolicy.open_ledger(filled) as ledger:
            result = ledger.verify()
            with pytest.raises(twpolicy.StoreUnavailable, match="Nothing was written"):
                ledger.grant(USER, "dm.write", **NOTICE)
        assert not result
        assert any("without going through twpolicy" in p for p in result.problems)


# -- properties --------------------------------------------------------------------------------

USERS = (USER, OTHER)
SOME_SCOPES = ("tweet.write", "like.write", "dm.write")
contents = st.sampled_from([None, CONTENT, "ab" * 32])
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("grant"),
            st.sampled_from(USERS),
            st.frozensets(st.sampled_from(SOME_SCOPES), min_size=1),
            contents,
            st.none() | st.integers(1, 100),
        ),
        st.tuples(
            st.just("revoke"),
            st.sampled_from(USERS),
            st.none() | st.frozensets(st.sampled_from(SOME_SCOPES), min_size=1),
        ),
        st.tuples(st.just("use"), st.integers(0, 30)),
        st.tuples(st.just("wait"), st.integers(1, 60)),
        st.tuples(st.just("expire")),
    ),
    max_size=30,
)


@attrs.define
class ModelRecord:
    """The test's own idea of a record: granted scopes minus withdrawn ones."""

    record: ConsentRecord
    scopes: set
    ended: str | None = None

    def status(self, now):
        """The status the ledger should report for this record at ``now``."""
        expires = self.record.expires_at
        if self.ended:
            return self.ended
        return "expired" if expires is not None and expires <= now else "active"


def model_check(model, user, scope, content, at):
    """The record the model says check() should return."""
    general = None
    for entry in reversed(model):
        record = entry.record
        if (
            entry.ended
            or record.user_id != user
            or scope not in entry.scopes
            or not (record.expires_at is None or at < record.expires_at)
        ):
            continue
        if record.content_sha256 is None:
            general = general or record
        elif record.content_sha256 == content:
            return record
    return general


def model_grant(ledger, clock, model, *grant):
    user, scopes, content, minutes = grant
    expires = None if minutes is None else clock() + timedelta(minutes=minutes)
    record = ledger.grant(user, scopes, content_sha256=content, expires_at=expires, **NOTICE)
    model.append(ModelRecord(record, set(scopes)))


def model_revoke(ledger, clock, model, user, scopes):
    ledger.revoke(user, scopes)
    for entry in model:
        if entry.record.user_id == user and not entry.ended:
            entry.scopes -= set(scopes or entry.scopes)
            entry.ended = None if entry.scopes else "revoked"


def model_use(ledger, clock, model, index):
    if model:
        entry = model[index % len(model)]
        bound = entry.record.content_sha256 is not None
        if bound and (entry.ended or entry.status(clock()) != "active"):
            with pytest.raises(twpolicy.ConfigurationError):
                ledger.use(entry.record.record_id)
            return
        ledger.use(entry.record.record_id)
        if not entry.ended and bound:
            entry.ended = "spent"


def model_wait(ledger, clock, model, minutes):
    clock.advance(minutes=minutes)


def model_expire(ledger, clock, model):
    ledger.expire()
    for entry in model:
        if entry.status(clock()) == "expired":
            entry.ended = "expired"


MODEL_STEPS = {
    "grant": model_grant,
    "revoke": model_revoke,
    "use": model_use,
    "wait": model_wait,
    "expire": model_expire,
}


def run_against_model(ledger, clock, ops):
    """Apply ops to the ledger and to a simple model, comparing every check after each."""
    model = []
    for name, *args in ops:
        MODEL_STEPS[name](ledger, clock, model, *args)
        for user in USERS:
            for scope in SOME_SCOPES:
                for content in (None, CONTENT):
                    expected = model_check(model, user, scope, content, clock())
                    assert expected == ledger.check(user, scope, content_sha256=content)
    return model


def assert_statuses(ledger, model, now):
    """Every record's status and active scopes are what the model says."""
    for user in USERS:
        states = {s.record.record_id: s for s in ledger.status(user)}
        mine = [entry for entry in model if entry.record.user_id == user]
        assert {e.record.record_id for e in mine} == set(states)
        for entry in mine:
            state = states[entry.record.record_id]
            assert entry.status(now) == state.status
            expected = entry.scopes if state.status == "active" else set()
            assert expected == set(state.active_scopes)


class TestProperties:
    @given(ops=operations)
    def test_memory_ledger_matches_a_simple_model(self, ops):
        """Any sequence of grants, revokes, uses and expiries: check() agrees with the model."""
        clock = FakeClock()
        with twpolicy.open_ledger("memory://", clock=clock) as ledger:
            model = run_against_model(ledger, clock, ops)
            assert_statuses(ledger, model, clock())
            assert ledger.verify()

    @settings(max_examples=15)
    @given(ops=operations)
    def test_sqlite_ledger_matches_a_simple_model(self, ops):
        """The same holds on SQLite, through its cache and its open-records query."""
        clock = FakeClock()
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{directory}/c.db"
            with twpolicy.open_ledger(url, clock=clock, timer=FakeTimer()) as ledger:
                model = run_against_model(ledger, clock, ops)
                assert ledger.verify()
            with twpolicy.open_ledger(url, clock=clock) as reopened:
                assert_statuses(reopened, model, clock())

    @given(ops=operations, data=st.data())
    def test_verify_detects_any_single_change(self, ops, data):
        """Changing a field of, removing, or swapping any event makes verify() fail."""
        clock = FakeClock()
        ledger = twpolicy.open_ledger("memory://", clock=clock)
        first = [("grant", user, {"tweet.write"}, None, None) for user in USERS]
        run_against_model(ledger, clock, first + ops[:8])
        rows = list(ledger._store.rows)
        head = (rows[-1].seq, rows[-1].hash)
        assert verify_rows(rows, head)
        kind = data.draw(st.sampled_from(["change", "remove", "swap"]))
        index = data.draw(st.integers(0, len(rows) - 1))
        if kind == "remove":
            del rows[index]
        elif kind == "swap":
            other = data.draw(st.integers(0, len(rows) - 1).filter(lambda i: i != index))
            rows[index], rows[other] = rows[other], rows[index]
        else:
            field = data.draw(st.sampled_from(Row._fields))
            old = getattr(rows[index], field)
            if isinstance(old, bool):
                new = not old
            elif isinstance(old, int):
                new = data.draw(st.integers(0, 1000).filter(lambda v: v != old))
            else:
                new = data.draw(st.text(max_size=70).filter(lambda v: v != old))
            rows[index] = rows[index]._replace(**{field: new})
        assert not verify_rows(rows, head)


# -- caching across processes ------------------------------------------------------------------


class NotWatching:
    """A store's change watcher that cannot tell (a PostgreSQL server it cannot LISTEN to)."""

    def poll(self):
        return False, frozenset()

    def close(self):
        pass


def blind(ledger):
    """Make ``ledger`` unable to hear of changes, so that only its TTL bounds staleness."""
    ledger._changes = NotWatching()
    return ledger


def refused_soon(ledger, user=USER, scope="tweet.write"):
    """Check until ``ledger`` refuses (its cache timer stands still, so only a notification
    can make it): the number of checks it took, or a failure after 30 s of real time."""
    deadline = time.monotonic() + 30
    checks = 0
    while ledger.check(user, scope) is not None:
        checks += 1
        assert time.monotonic() < deadline, "the change was never noticed"
    return checks


class TestCache:
    def test_revoke_elsewhere_is_seen_at_once(self, shared_url, timer):
        """Another ledger's revoke is seen here without waiting for the TTL: on SQLite at the
        very next check (data_version), on PostgreSQL once its NOTIFY arrives."""
        with (
            twpolicy.open_ledger(shared_url) as writer,
            twpolicy.open_ledger(shared_url, timer=timer) as reader,
        ):
            writer.grant(USER, "tweet.write", **NOTICE)
            assert reader.check(USER, "tweet.write") is not None
            writer.revoke(USER)
            checks = refused_soon(reader)
            if shared_url.startswith("sqlite"):
                assert 0 == checks
            assert 0 == timer.now  # the TTL never ran out

    def test_a_grant_elsewhere_is_seen_at_once(self, shared_url, timer):
        """A grant elsewhere reaches a cached "no consent" just as fast."""
        with (
            twpolicy.open_ledger(shared_url) as writer,
            twpolicy.open_ledger(shared_url, timer=timer) as reader,
        ):
            assert reader.check(USER, "tweet.write") is None
            writer.grant(USER, "tweet.write", **NOTICE)
            deadline = time.monotonic() + 30
            while reader.check(USER, "tweet.write") is None:
                assert time.monotonic() < deadline

    def test_without_notifications_the_ttl_bounds_staleness(self, shared_url, timer):
        """A store that cannot say it changed is read again once the TTL has passed."""
        with (
            twpolicy.open_ledger(shared_url) as writer,
            blind(twpolicy.open_ledger(shared_url, timer=timer)) as reader,
        ):
            writer.grant(USER, "tweet.write", **NOTICE)
            assert reader.check(USER, "tweet.write") is not None
            writer.revoke(USER)
            timer.now += 0.999
            assert reader.check(USER, "tweet.write") is not None  # stale, within the bound
            timer.now += 0.001
            assert reader.check(USER, "tweet.write") is None

    def test_the_ttl_starts_before_the_read(self, shared_url, timer):
        """The TTL counts from before the store is read, so a slow read does not stretch it."""
        with (
            twpolicy.open_ledger(shared_url) as writer,
            blind(twpolicy.open_ledger(shared_url, timer=timer)) as reader,
        ):
            writer.grant(USER, "tweet.write", **NOTICE)
            store = reader._store
            reading = store.reading

            def slow_reading(**kwargs):
                timer.now += 0.4  # the read takes 0.4 s
                return reading(**kwargs)

            store.reading = slow_reading
            assert reader.check(USER, "tweet.write") is not None
            store.reading = reading
            writer.revoke(USER)
            timer.now += 0.6  # 1 s after the read began
            assert reader.check(USER, "tweet.write") is None

    def test_ttl_zero_reads_the_store_every_time(self, shared_url, timer):
        """With cache_ttl=0 a revoke elsewhere is seen by the very next check."""
        with (
            twpolicy.open_ledger(shared_url) as writer,
            blind(twpolicy.open_ledger(shared_url, cache_ttl=0, timer=timer)) as reader,
        ):
            writer.grant(USER, "tweet.write", **NOTICE)
            assert reader.check(USER, "tweet.write") is not None
            writer.revoke(USER)
            assert reader.check(USER, "tweet.write") is None

    def test_ttl_from_the_url(self, shared_url, timer):
        """?cache_ttl= in the URL sets the bound."""
        url = f"{shared_url}{'&' if '?' in shared_url else '?'}cache_ttl=5"
        with (
            twpolicy.open_ledger(shared_url) as writer,
            blind(twpolicy.open_ledger(url, timer=timer)) as reader,
        ):
            assert 5.0 == reader.cache_ttl
            writer.grant(USER, "tweet.write", **NOTICE)
            reader.check(USER, "tweet.write")
            writer.revoke(USER)
            timer.now += 4.9
            assert reader.check(USER, "tweet.write") is not None
            timer.now += 0.1
            assert reader.check(USER, "tweet.write") is None

    def test_default_ttl(self, tmp_path):
        """The default bound is 1 s on shared stores; memory:// is never stale."""
        with twpolicy.open_ledger(f"sqlite:///{tmp_path}/c.db") as ledger:
            assert 1.0 == ledger.cache_ttl
        assert twpolicy.open_ledger("memory://").cache_ttl == float("inf")

    @pytest.mark.slow
    def test_revoke_in_another_process(self, shared_url, timer):
        """A revoke by a separate process reaches this one's checks without the TTL."""
        with twpolicy.open_ledger(shared_url, timer=timer) as ledger:
            ledger.grant(USER, "tweet.write", **NOTICE)
            assert ledger.check(USER, "tweet.write") is not None
            done = subprocess.run(
                [sys.executable, str(WORKER), "revoke", shared_url, USER],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            assert "done\n" == done.stdout
            checks = refused_soon(ledger)
            if shared_url.startswith("sqlite"):
                assert 0 == checks
            assert 0 == timer.now

    @pytest.mark.parametrize(
        ("kwargs", "suffix"),
        [
            ({"cache_ttl": -1}, ""),
            ({"cache_ttl": float("nan")}, ""),
            ({"cache_ttl": True}, ""),
            ({"cache_ttl": "1"}, ""),
            ({}, "?cache_ttl=soon"),
            ({}, "?cache_ttl=-2"),
            ({"cache_ttl": 1}, "?cache_ttl=1"),
        ],
    )
    def test_bad_ttls(self, tmp_path, kwargs, suffix):
        """A negative, non-numeric or twice-given TTL is a ConfigurationError."""
        with pytest.raises(twpolicy.ConfigurationError, match="cache_ttl"):
            twpolicy.open_ledger(f"sqlite:///{tmp_path}/c.db{suffix}", **kwargs)


_HOLD_A_WRITE = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
connection.execute("UPDATE twpolicy_consent_head SET seq = seq WHERE one = 1")
print("holding", flush=True)
sys.stdin.readline()  # killed before this returns
"""


def _plain_commit(path):
    """One commit by a plain sqlite3 connection (a writer that is not twpolicy)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
        other.execute("INSERT INTO scratch VALUES (1)")
    finally:
        other.close()


def _checkpoint(path, mode):
    """A checkpoint by another connection; TRUNCATE and RESTART make the next writer wrap
    the WAL back to its first frame."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    finally:
        other.close()


@pytest.fixture(name="sqlite_path")
def _sqlite_path(tmp_path):
    """A SQLite ledger file's path (not yet created)."""
    return tmp_path / "consent.db"


class TestCacheFreshness:
    """A cached grant is never served after another connection or process revoked it, and a
    file deleted or replaced under the reader is refused at the next check (I.C.1)."""

    def test_the_marker_reads_the_header_sqlite_wrote(self, sqlite_path):
        """The change marker's header is the first 96 bytes of the ``-shm`` file."""
        with twpolicy.open_ledger(f"sqlite:///{sqlite_path}") as ledger:
            ledger.grant(USER, "tweet.write", **NOTICE)
            assert ledger.check(USER, "tweet.write") is not None
            marker = ledger._store._database._marker
            assert Path(f"{sqlite_path}-shm").read_bytes()[:96] == marker.read()

    @pytest.mark.parametrize("mode", ["PASSIVE", "RESTART", "TRUNCATE"])
    def test_a_revoke_after_a_checkpoint_is_seen_at_once(self, sqlite_path, mode, monkeypatch):
        """A checkpoint, then a revoke written from the WAL's first frame again (the WAL
        wrapped): the next cached check refuses."""
        monkeypatch.setattr(_ChangeMarker, "recheck", 1e9)  # the header alone decides
        url = f"sqlite:///{sqlite_path}"
        with twpolicy.open_ledger(url) as writer, twpolicy.open_ledger(url) as reader:
            for _ in range(3):
                writer.grant(USER, "tweet.write", **NOTICE)
                assert reader.check(USER, "tweet.write") is not None
                _checkpoint(sqlite_path, mode)
                assert reader.check(USER, "tweet.write") is not None
                writer.revoke(USER)
                assert reader.check(USER, "tweet.write") is None

    def test_a_writer_killed_mid_transaction(self, sqlite_path, monkeypatch):
        """A writer killed (SIGKILL) inside its transaction changes nothing the reader
        serves; the next revoke by another process is seen by the next check."""
        monkeypatch.setattr(_ChangeMarker, "recheck", 1e9)
        url = f"sqlite:///{sqlite_path}"
        with twpolicy.open_ledger(url) as reader:
            reader.grant(USER, "tweet.write", **NOTICE)
            assert reader.check(USER, "tweet.write") is not None
            holder = subprocess.Popen(
                [sys.executable, "-c", _HOLD_A_WRITE, str(sqlite_path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            try:
                assert "holding\n" == holder.stdout.readline()
                assert reader.check(USER, "tweet.write") is not None
                holder.send_signal(signal.SIGKILL)
                holder.wait(timeout=60)
            finally:
                holder.kill()
                holder.wait(timeout=60)
                holder.stdin.close()
                holder.stdout.close()
            assert reader.check(USER, "tweet.write") is not None
            done = subprocess.run(
                [sys.executable, str(WORKER), "revoke", url, USER],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            )
            assert "done\n" == done.stdout
            assert reader.check(USER, "tweet.write") is None

    def test_a_file_renamed_over_the_reader_is_refused(self, sqlite_path, tmp_path):
        """A ledger file renamed over the path (where the user never consented, and with
        its own WAL index) is refused by the next cached check, not served from the cache."""
        url = f"sqlite:///{sqlite_path}"
        other = tmp_path / "other.db"
        with twpolicy.open_ledger(f"sqlite:///{other}") as elsewhere:
            elsewhere.grant(OTHER, "tweet.write", **NOTICE)
        with twpolicy.open_ledger(url) as reader:
            reader.grant(USER, "tweet.write", **NOTICE)
            assert reader.check(USER, "tweet.write") is not None
            for suffix in ("-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
            other.replace(sqlite_path)
            with twpolicy.open_ledger(url) as writer:  # a fresh -shm, not the mapped one
                writer.revoke(OTHER)
            with pytest.raises(twpolicy.StoreUnavailable, match="replaced by another file"):
                reader.check(USER, "tweet.write")

    def test_a_ledger_reopened_on_a_put_back_file_sees_revokes(
        self, sqlite_path, tmp_path, monkeypatch
    ):
        """After a file is put back while two ledgers in this process had it open, the one
        reopened reads the new file's header (not the old one's), while the other still
        holds the old: a revoke there is seen by its next check."""
        monkeypatch.setattr(_ChangeMarker, "recheck", 1e9)  # the header alone decides
        url = f"sqlite:///{sqlite_path}"
        other = tmp_path / "other.db"
        with twpolicy.open_ledger(f"sqlite:///{other}") as elsewhere:
            elsewhere.grant(USER, "tweet.write", **NOTICE)
        with twpolicy.open_ledger(url) as stale, twpolicy.open_ledger(url) as reader:
            stale.grant(OTHER, "tweet.write", **NOTICE)
            assert reader.check(OTHER, "tweet.write") is not None
            for suffix in ("-wal", "-shm"):
                Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
            other.replace(sqlite_path)
            with pytest.raises(twpolicy.StoreUnavailable, match="replaced"):
                reader.check(OTHER, "tweet.write")
            reader.close()
            assert reader.check(USER, "tweet.write") is not None
            with twpolicy.open_ledger(url) as writer:
                writer.revoke(USER)
            assert reader.check(USER, "tweet.write") is None

    def test_a_deleted_file_is_refused_by_the_cached_check(self, sqlite_path):
        """Deleting the file under a reader whose cache holds a grant: the next check
        refuses, even with nothing written since."""
        with twpolicy.open_ledger(f"sqlite:///{sqlite_path}") as reader:
            reader.grant(USER, "tweet.write", **NOTICE)
            assert reader.check(USER, "tweet.write") is not None
            assert reader.check(USER, "tweet.write") is not None  # a cache hit
            sqlite_path.unlink()
            with pytest.raises(twpolicy.StoreUnavailable, match="was deleted while open"):
                reader.check(USER, "tweet.write")

    @settings(max_examples=30, deadline=None)
    @given(
        st.lists(
            st.sampled_from(["grant", "revoke", "plain", "passive", "truncate", "thread", "check"]),
            min_size=1,
            max_size=14,
        )
    )
    def test_the_cache_never_serves_a_stale_grant(self, ops):
        """Whatever other connections commit or checkpoint, and whichever thread polls, each
        cached check answers as a fresh read of the store does."""
        with (
            tempfile.TemporaryDirectory() as directory,
            pytest.MonkeyPatch.context() as patch,
        ):
            patch.setattr(_ChangeMarker, "recheck", 1e9)  # the header alone decides
            path = Path(directory) / "consent.db"
            url = f"sqlite:///{path}"
            with (
                twpolicy.open_ledger(url) as writer,
                twpolicy.open_ledger(url) as reader,
                twpolicy.open_ledger(url, cache_ttl=0) as truth,
            ):
                for op in ops:
                    if op == "grant":
                        writer.grant(USER, "tweet.write", **NOTICE)
                    elif op == "revoke":
                        writer.revoke(USER)
                    elif op == "plain":
                        _plain_commit(path)
                    elif op in {"passive", "truncate"}:
                        _checkpoint(path, op.upper())
                    elif op == "thread":  # another thread polls (and may refill the cache)
                        with ThreadPoolExecutor(1) as pool:
                            pool.submit(reader.check, USER, "tweet.write").result()
                    expected = truth.check(USER, "tweet.write") is not None
                    assert expected == (reader.check(USER, "tweet.write") is not None)

    def test_threads_polling_while_a_commit_lands(self, sqlite_path, monkeypatch):
        """A poll without the lock that finds the header another thread just stored gets
        that thread's version, never the one before it."""
        monkeypatch.setattr(_ChangeMarker, "recheck", 1e9)
        url = f"sqlite:///{sqlite_path}"
        with twpolicy.open_ledger(url) as writer, twpolicy.open_ledger(url) as reader:
            writer.grant(USER, "tweet.write", **NOTICE)
            assert reader.check(USER, "tweet.write") is not None
            database = reader._store._database
            before = database.changes()
            writer.revoke(USER)
            marker = database._marker
            asked = marker.asked
            tokens = []

            def asked_then_poll(header):
                asked(header)
                tokens.append(database.changes())  # as if another thread polled right now

            monkeypatch.setattr(marker, "asked", asked_then_poll)
            after = database.changes()
            assert [after] == tokens
            assert before != after
            assert reader.check(USER, "tweet.write") is None


# -- failures ----------------------------------------------------------------------------------


class TestFailClosed:
    @pytest.mark.parametrize(
        "url",
        ["redis://localhost/0", "consent.db", "sqlite://host/x.db", "sqlite:///", "memory://x"],
    )
    def test_bad_urls(self, url):
        """A URL of an unknown scheme or shape is a ConfigurationError."""
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.open_ledger(url)

    def test_corrupt_sqlite_file(self, tmp_path):
        """A file that is not a SQLite database is StoreUnavailable naming it; not overwritten."""
        path = tmp_path / "consent.db"
        path.write_bytes(b"this is not a database" * 100)
        with pytest.raises(twpolicy.StoreUnavailable, match=r"consent\.db.*corrupt"):
            twpolicy.open_ledger(f"sqlite:///{path}")
        assert b"this is not a database" * 100 == path.read_bytes()

    def test_damaged_sqlite_schema(self, tmp_path):
        """A ledger whose first page is damaged is StoreUnavailable, and no write goes through."""
        path = tmp_path / "consent.db"
        with twpolicy.open_ledger(f"sqlite:///{path}") as ledger:
            ledger.grant(USER, "tweet.write", **NOTICE)
        data = bytearray(path.read_bytes())
        data[100:4096] = b"\xff" * (4096 - 100)
        path.write_bytes(bytes(data))
        with pytest.raises(twpolicy.StoreUnavailable, match="corrupt"):
            twpolicy.open_ledger(f"sqlite:///{path}").grant(USER, "like.write", **NOTICE)

    def test_newer_schema(self, shared_url):
        """A ledger written by a newer twpolicy is refused, saying to upgrade."""
        twpolicy.open_ledger(shared_url).close()
        with raw(shared_url) as sql:
            sql("UPDATE twpolicy_schema SET version = 7, migrated_by = 'twpolicy 9.0'")
        with pytest.raises(
            twpolicy.StoreUnavailable, match=r"schema version 7.*twpolicy 9\.0.*pip install -U"
        ):
            twpolicy.open_ledger(shared_url)

    def test_missing_file_is_not_created_for_reading(self, tmp_path):
        """create=False refuses a ledger that does not exist instead of creating an empty one."""
        path = tmp_path / "absent.db"
        with pytest.raises(twpolicy.StoreUnavailable, match="there is no consent ledger"):
            twpolicy.open_ledger(f"sqlite:///{path}", create=False)
        assert not path.exists()

    def test_missing_directory(self, tmp_path):
        """A ledger in a directory that does not exist is StoreUnavailable saying so."""
        with pytest.raises(twpolicy.StoreUnavailable, match="exists"):
            twpolicy.open_ledger(f"sqlite:///{tmp_path}/no/such/dir/c.db")

    def test_unreachable_postgresql(self):
        """A PostgreSQL server that does not answer is StoreUnavailable naming the host."""
        with pytest.raises(twpolicy.StoreUnavailable, match=r"127\.0\.0\.1:1/.*server is running"):
            twpolicy.open_ledger("postgresql://nobody:secret@127.0.0.1:1/none")

    def test_password_never_shown(self):
        """Errors and reprs hide the password of a PostgreSQL URL."""
        with pytest.raises(twpolicy.StoreUnavailable) as info:
            twpolicy.open_ledger("postgresql://nobody:s3cr3t@127.0.0.1:1/none")
        assert "s3cr3t" not in str(info.value)

    def test_guard_denies_when_the_store_fails(self, tmp_path):
        """A ledger that cannot be read makes the consent rule deny with rule_error."""
        path = tmp_path / "consent.db"
        ledger = twpolicy.open_ledger(f"sqlite:///{path}", cache_ttl=0)
        ledger.grant(USER, "tweet.write", **NOTICE)
        guard = twpolicy.Guard(ledger=ledger)
        action = twpolicy.Action(
            kind="api_call",
            operation="POST /2/tweets",
            category="write",
            acting_user_id=USER,
            scopes={"tweet.write"},
        )
        assert guard.check(action).allowed
        with raw(f"sqlite:///{path}") as sql:
            sql("DROP TABLE twpolicy_consent_events")
        decision = guard.check(action)
        assert (False, "rule_error") == (decision.allowed, decision.reason)
        assert "consent ledger" in decision.message
        with pytest.raises(twpolicy.StoreUnavailable):
            ledger.grant(USER, "like.write", **NOTICE)


class TestGuardConfig:
    def test_config_opens_a_sqlite_ledger(self, tmp_path, monkeypatch):
        """consent_ledger in the TOML config names the ledger the default guard uses."""
        monkeypatch.chdir(tmp_path)
        config = tmp_path / "twpolicy.toml"
        config.write_text('[twpolicy]\nconsent_ledger = "sqlite:///consent.db?cache_ttl=0.5"\n')
        monkeypatch.setenv("TWPOLICY_CONFIG", str(config))
        ledger = twpolicy.get_default_guard().consent
        assert isinstance(ledger, twpolicy.Ledger)
        assert 0.5 == ledger.cache_ttl
        ledger.grant(USER, "tweet.write", **NOTICE)
        assert (tmp_path / "consent.db").is_file()


# -- the command line --------------------------------------------------------------------------


class TestCli:
    @pytest.fixture(name="db")
    def _db(self, tmp_path, monkeypatch):
        """A SQLite ledger URL, also set as TWPOLICY_CONSENT_DB."""
        url = f"sqlite:///{tmp_path / 'consent.db'}"
        monkeypatch.setenv("TWPOLICY_CONSENT_DB", url)
        return url

    def run(self, *argv):
        out = io.StringIO()
        code = main(["consent", *argv], out=out)
        return code, out.getvalue()

    def test_grant_show_revoke_history(self, db, tmp_path):
        """The commands record, show and withdraw consent in the ledger the app uses."""
        notice = tmp_path / "notice.txt"
        notice.write_text("We will post on your behalf.", encoding="utf-8")
        code, out = self.run(
            "grant", USER, "tweet.write", "like.write", "--notice", "post-dialog",
            "--notice-version", "3", "--notice-file", str(notice), "--method", "ui_explicit",
            "--evidence", "request 7", "--expires-at", "2999-01-01T00:00:00Z",
        )  # fmt: skip
        assert 0 == code
        (record_id,) = re.findall(r"recorded consent (\S+)", out)
        with twpolicy.open_ledger(db) as ledger:
            record = ledger.check(USER, "tweet.write")
        assert record_id == record.record_id
        assert hashlib.sha256(b"We will post on your behalf.").hexdigest() == record.notice.sha256
        assert datetime(2999, 1, 1, tzinfo=timezone.utc) == record.expires_at
        code, out = self.run("show", USER)
        assert (0, True) == (code, f"{record_id}  active" in out)
        code, out = self.run("revoke", USER, "like.write", "--reason", "asked by email")
        assert "revoked like.write" in out
        code, out = self.run("history", USER, "--format", "json")
        assert ["granted", "revoked"] == [e["type"] for e in json.loads(out)]
        assert "asked by email" == json.loads(out)[1]["reason"]
        code, out = self.run("revoke", OTHER)
        assert "the opt-out is recorded" in out

    def test_show_json_and_export(self, db):
        """show --format json and export print JSON for tools."""
        self.run("grant", USER, "dm.write", "--notice", "n", "--method", "m", "--evidence", "e")
        code, out = self.run("show", USER, "--format", "json")
        assert ["active"] == [s["status"] for s in json.loads(out)]
        code, out = self.run("export", USER)
        export = json.loads(out)
        assert (0, USER) == (code, export["subject"]["twitter_user_id"])
        assert "KI-CR-v1.1.0" == export["records"][0]["receipt"]["version"]

    def test_verify_ok(self, db):
        """verify exits 0 and reports the head on an intact ledger."""
        self.run("grant", USER, "dm.write", "--notice", "n", "--method", "m", "--evidence", "e")
        code, out = self.run("verify")
        assert (0, True) == (code, out.startswith("ledger intact: 1 events"))
        code, out = self.run("verify", "--format", "json")
        assert (True, 1) == (json.loads(out)["ok"], json.loads(out)["events"])

    def test_progress_goes_to_stderr(self, db, capsys, monkeypatch):
        """--progress reports on stderr and leaves stdout clean."""
        monkeypatch.setattr(twpolicy._cli._common, "PROGRESS_DELAY", 0)
        monkeypatch.setattr(twpolicy._cli._common, "PROGRESS_INTERVAL", 0)
        self.run("grant", USER, "dm.write", "--notice", "n", "--method", "m", "--evidence", "e")
        _, out = self.run("verify", "--progress", "--format", "json")
        assert json.loads(out)["ok"]
        assert "verify: 1 events" in capsys.readouterr().err

    def test_no_db(self, monkeypatch, capsys):
        """Without --db or TWPOLICY_CONSENT_DB the command exits 2 saying what to do."""
        monkeypatch.delenv("TWPOLICY_CONSENT_DB", raising=False)
        assert 2 == self.run("show", USER)[0]
        assert "pass --consent-db URL" in capsys.readouterr().err

    @pytest.mark.parametrize(
        "argv",
        [
            ["grant", "jack", "tweet.write", "--notice", "n", "--method", "m", "--evidence", "e"],
            ["grant", USER, "no.scope", "--notice", "n", "--method", "m", "--evidence", "e"],
            ["grant", USER, "tweet.write", "--notice", "n", "--method", "m", "--evidence", "e",
             "--expires-at", "2999-01-01"],
            ["grant", USER, "tweet.write", "--notice", "n", "--method", "m", "--evidence", "e",
             "--expires-at", "tomorrow"],
            ["grant", USER, "tweet.write", "--notice", "n", "--method", "m", "--evidence", "e",
             "--notice-file", "/no/such/file"],
            ["revoke", "jack"],
            ["show", USER, "--db", "redis://x"],
        ],
    )  # fmt: skip
    def test_bad_input_exits_2_and_writes_nothing(self, db, argv, capsys):
        """Bad IDs, scopes, times, files and URLs exit 2 with a message; nothing is written."""
        self.run("revoke", OTHER)
        assert 2 == self.run(*argv)[0]
        assert capsys.readouterr().err.startswith("twpolicy: ")
        with twpolicy.open_ledger(db) as ledger:
            assert 1 == len(list(ledger.events()))

    def test_reading_a_missing_ledger(self, tmp_path, capsys):
        """Reading commands do not create a ledger that is not there."""
        url = f"sqlite:///{tmp_path / 'typo.db'}"
        assert 3 == self.run("verify", "--db", url)[0]  # a store that cannot be used
        assert "there is no consent ledger" in capsys.readouterr().err
        assert not (tmp_path / "typo.db").exists()

    def test_usage_errors_exit_2(self):
        """argparse usage errors exit 2."""
        with pytest.raises(SystemExit) as info:
            main(["consent", "grant", USER])
        assert 2 == info.value.code


# -- many processes ----------------------------------------------------------------------------


def replay(events):
    """The test's own replay of an event log: record ID to (user, scopes left, content, ended)."""
    state = {}
    for event in events:
        rid = event["record_id"]
        if event["type"] == "granted":
            record = event["record"]
            state[rid] = [event["user_id"], set(record["scopes"]), record["content_sha256"], False]
        elif rid and not state[rid][3]:
            entry = state[rid]
            if event["type"] == "revoked":
                entry[1] -= set(event["scopes"])
                entry[3] = not entry[1]
            elif event["type"] == "used":
                entry[3] = entry[2] is not None
            else:
                entry[3] = True
    return state


@pytest.mark.slow
class TestManyProcesses:
    PROCESSES = 8
    OPS = 1000
    USERS = 24

    def args(self, seed):
        return [str(seed), str(self.OPS), str(self.USERS)]

    def test_concurrent_writers_keep_one_consistent_chain(self, shared_url):
        """8 processes x 1,000 mixed operations: one gapless chain, equal to a serial replay."""
        workers = [
            subprocess.Popen(
                [sys.executable, str(WORKER), "mixed", shared_url, *self.args(seed)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for seed in range(self.PROCESSES)
        ]  # fmt: skip
        try:
            outputs = [worker.communicate(timeout=300)[0] for worker in workers]
        finally:  # a failure here must not leave processes and pipes to the next test
            for worker in workers:
                worker.kill()
                worker.communicate()
        assert [0] * self.PROCESSES == [worker.returncode for worker in workers]
        reports = [json.loads(out) for out in outputs]
        with twpolicy.open_ledger(shared_url, cache_ttl=0) as ledger:
            events = events_of(ledger)
            assert sum(r["appended"] for r in reports) == len(events)
            assert list(range(1, len(events) + 1)) == [e["seq"] for e in events]
            assert ledger.verify()
            state = replay(events)
            order = {e["record_id"]: e["seq"] for e in events if e["type"] == "granted"}
            for user in (str(1000 + i) for i in range(self.USERS)):
                for scope in ("tweet.write", "like.write", "follows.write", "dm.write"):
                    covering = [
                        rid
                        for rid, (owner, scopes, content, ended) in state.items()
                        if owner == user and scope in scopes and not ended and content is None
                    ]
                    newest = max(covering, key=order.__getitem__, default=None)
                    found = ledger.check(user, scope)
                    assert newest == (found.record_id if found else None)
                statuses = {s.record.record_id: s.status for s in ledger.status(user)}
                for rid, (owner, _, _, ended) in state.items():
                    if owner == user:
                        assert ended == (statuses[rid] != "active"), rid

    @pytest.mark.parametrize("kills", [3])
    def test_sigkill_loses_no_acknowledged_grant(self, shared_url, kills):
        """A writer killed mid-stream loses no grant that returned, and the chain verifies."""
        acknowledged = []
        for _ in range(kills):
            worker = subprocess.Popen(
                [sys.executable, str(WORKER), "grant", shared_url],
                stdout=subprocess.PIPE,
                text=True,
            )
            acknowledged.extend(worker.stdout.readline().strip() for _ in range(150))
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=60)
            acknowledged.extend(line.strip() for line in worker.stdout if line.strip())
            worker.stdout.close()
            assert -signal.SIGKILL == worker.returncode
        with twpolicy.open_ledger(shared_url) as ledger:
            stored = {e.record_id for e in ledger.events()}
            assert set(acknowledged) <= stored
            assert ledger.verify()
            ledger.grant(USER, "tweet.write", **NOTICE)
            assert ledger.verify()


# -- documentation -----------------------------------------------------------------------------


def python_blocks(page):
    """The ```python blocks of a docs page."""
    text = (PROJECT / "docs" / page).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


class TestDocs:
    @pytest.mark.parametrize("page", ["consent.md", "storage.md"])
    def test_examples_run(self, page, tmp_path, monkeypatch):
        """Every Python example of the page runs as written."""
        monkeypatch.chdir(tmp_path)
        namespace = {}
        for block in python_blocks(page):
            exec(compile(block, page, "exec"), namespace)  # noqa: S102  # our own docs

    def test_scope_table_matches_scopes(self):
        """docs/consent.md lists every scope with its clause."""
        text = (PROJECT / "docs" / "consent.md").read_text(encoding="utf-8")
        rows = dict(re.findall(r"^\| `([a-z._]+)` \| ([A-Za-z0-9.]+) \|", text, flags=re.MULTILINE))
        assert {name: scope.clause for name, scope in twpolicy.SCOPES.items()} == rows

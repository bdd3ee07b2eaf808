"""Each check a read makes of one user's events, caught one at a time: rows changed with
their hashes recomputed (as anyone who read the code can), index entries removed, rolled
back or keyed behind the ledger's back, and keys that do not belong.

The attacks use SQLite with the append-only triggers dropped; tests/test_stores_integrity.py
runs the broad attacks on every backend.
"""

import pytest

import twpolicy
from test_consent import NOTICE, OTHER, USER, drop_append_only, raw
from twpolicy import ConfigurationError, StoreUnavailable
from twpolicy._stores._consent import LedgerTampered
from twpolicy._stores._consent._events import COLUMNS, GENESIS, event_hash, row_from_db
from twpolicy._stores._consent._key import ConsentKey, key_from_setting, resolve_key

KEY = "correct horse battery staple 42"
OTHER_KEY = "another key entirely, also long"


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch):
    """No consent key but the one a test passes."""
    monkeypatch.delenv("TWPOLICY_CONSENT_KEY", raising=False)


@pytest.fixture(name="url")
def _url(tmp_path):
    """A fresh SQLite consent ledger."""
    return f"sqlite:///{tmp_path / 'consent.db'}"


def fill(url, key=None):
    """USER: granted (1), revoked (3). OTHER: granted (2) and (4)."""
    with twpolicy.open_ledger(url, key=key) as ledger:
        ledger.grant(USER, "tweet.write", **NOTICE)
        ledger.grant(OTHER, "tweet.write", **NOTICE)
        ledger.revoke(USER, reason="asked by email")
        ledger.grant(OTHER, "like.write", **NOTICE)


def row(sql, seq):
    (values,) = sql(f"SELECT {COLUMNS} FROM twpolicy_consent_events WHERE seq = ?", (seq,))  # noqa: S608  # test SQL
    return row_from_db(values)


def rewrite(sql, seq, **changes):
    """Change event ``seq`` and recompute its hash; return the new hash."""
    changed = row(sql, seq)._replace(**changes)
    digest = event_hash(changed.prev_hash, changed[:7], changed.user_prev, changed.key_id)
    sql(
        "UPDATE twpolicy_consent_events SET record_id = ?, closes = ?, body = ?, key_id = ?,"
        " mac = ?, hash = ? WHERE seq = ?",
        (
            changed.record_id,
            int(changed.closes),
            changed.body,
            changed.key_id,
            changed.mac,
            digest,
            seq,
        ),
    )
    return digest


def tamper(url, attack):
    with raw(url) as sql:
        drop_append_only(sql, url)
        attack(sql)


def refused(ledger, user, message):
    with pytest.raises(LedgerTampered, match=message) as caught:
        ledger.check(user, "tweet.write")
    return caught.value


class TestIndex:
    def test_an_index_entry_removed(self, url):
        """A user whose index entry was deleted is refused, naming their first event."""
        fill(url)
        tamper(
            url, lambda sql: sql("DELETE FROM twpolicy_consent_subjects WHERE user_id = ?", (USER,))
        )
        with twpolicy.open_ledger(url) as ledger:
            error = refused(ledger, USER, "the ledger's index has no entry for them, yet event 1")
            assert (USER, 1) == (error.user_id, error.seq)
            assert ledger.check(OTHER, "tweet.write") is not None

    def test_an_index_entry_keyed_on_an_unkeyed_ledger(self, url):
        """An index entry carrying a key ID on a ledger without one is refused."""
        fill(url)
        tamper(
            url,
            lambda sql: sql(
                "UPDATE twpolicy_consent_subjects SET key_id = ? WHERE user_id = ?",
                ("0123456789abcdef", USER),
            ),
        )
        with twpolicy.open_ledger(url) as ledger:
            refused(ledger, USER, "index entry for them is keyed, but the ledger's head is not")

    def test_an_index_rolled_back_under_a_running_process(self, url):
        """A process that read a user's events notices when their index entry moves back."""
        fill(url)
        with twpolicy.open_ledger(url) as ledger:
            assert ledger.check(USER, "tweet.write") is None  # read up to event 3

            def roll_back(sql):
                first = row(sql, 1)
                sql("DELETE FROM twpolicy_consent_events WHERE seq = 3")
                sql(
                    "UPDATE twpolicy_consent_subjects SET seq = 1, hash = ?, count = 1"
                    " WHERE user_id = ?",
                    (first.hash, USER),
                )

            tamper(url, roll_back)
            refused(ledger, USER, "the ledger's index moved back from event 3")

    def test_a_last_event_changed_under_a_running_process(self, url):
        """A process that read a user's last event notices when it is rewritten in place."""
        fill(url)
        with twpolicy.open_ledger(url) as ledger:
            assert ledger.check(USER, "tweet.write") is None

            def rewrite_last(sql):
                digest = rewrite(sql, 3, body=row(sql, 3).body.replace("asked", "never asked"))
                sql(
                    "UPDATE twpolicy_consent_subjects SET hash = ? WHERE user_id = ?",
                    (digest, USER),
                )

            tamper(url, rewrite_last)
            refused(ledger, USER, "event 3, their last, changed since this process checked it")


class TestEvents:
    def test_an_event_that_cannot_be_read(self, url):
        """An event whose body was replaced (hash recomputed) is refused, not raised as is."""
        fill(url)
        tamper(url, lambda sql: rewrite(sql, 3, body="not an event"))
        with twpolicy.open_ledger(url) as ledger:
            refused(ledger, USER, "event 3 cannot be read: it was changed")

    def test_a_keyed_event_on_an_unkeyed_ledger(self, url):
        """An event claiming a key on a ledger whose head has none is refused."""
        fill(url)
        tamper(url, lambda sql: rewrite(sql, 3, key_id="0123456789abcdef", mac="0" * 64))
        with twpolicy.open_ledger(url) as ledger:
            refused(ledger, USER, "event 3 is keyed, but the ledger's head is not")

    def test_an_event_without_a_mac_after_keyed_ones(self, url):
        """On a keyed ledger, an event stripped of its MAC is refused."""
        fill(url, KEY)
        tamper(url, lambda sql: rewrite(sql, 3, key_id="", mac=""))
        with twpolicy.open_ledger(url, key=KEY) as ledger:
            refused(ledger, USER, "event 3 carries no MAC, after their keyed events")

    def test_an_event_keyed_with_another_key(self, url):
        """On a keyed ledger, an event naming another key is refused, quoting its key ID."""
        fill(url, KEY)
        other = ConsentKey(OTHER_KEY.encode()).key_id
        tamper(url, lambda sql: rewrite(sql, 3, key_id=other))
        with twpolicy.open_ledger(url, key=KEY) as ledger:
            refused(ledger, USER, f"event 3 is keyed with another key \\(key id {other}\\)")

    def test_the_raw_log_fails_closed_on_an_unreadable_event(self, url):
        """events() stops at an unreadable event, naming it and the command that checks."""
        fill(url)
        tamper(url, lambda sql: rewrite(sql, 3, body="not an event"))
        with twpolicy.open_ledger(url) as ledger, pytest.raises(StoreUnavailable) as caught:
            list(ledger.events())
        assert "consent ledger event 3 cannot be read" in str(caught.value)
        assert "run `twpolicy consent verify`" in str(caught.value)


class TestVerify:
    def test_a_body_stored_as_a_number(self, url):
        """A body replaced by a number (SQLite lets any type in) fails its hash, quietly."""
        fill(url)
        tamper(url, lambda sql: sql("UPDATE twpolicy_consent_events SET body = 42 WHERE seq = 3"))
        with twpolicy.open_ledger(url) as ledger:
            problems = ledger.verify().problems
        assert "event 3 does not match its hash: it was changed" in problems

    def test_a_record_granted_twice(self, url):
        """verify reports a grant that reuses a record ID granted before."""
        fill(url)

        def reuse(sql):
            rewrite(sql, 4, record_id=row(sql, 2).record_id)

        tamper(url, reuse)
        with twpolicy.open_ledger(url) as ledger:
            result = ledger.verify()
        assert not result
        assert any(
            "event 4 (granted) grants a record ID granted before" in p for p in result.problems
        )

    def test_a_grant_that_says_it_closes(self, url):
        """verify reports a grant marked as closing its own record."""
        fill(url)
        tamper(url, lambda sql: rewrite(sql, 1, closes=True))
        with twpolicy.open_ledger(url) as ledger:
            problems = ledger.verify().problems
        assert "event 1 (granted) is a grant marked as closing its record" in problems

    def test_an_opt_out_that_says_it_closes(self, url):
        """verify reports an opt-out (a revoke of nothing) marked as closing a record."""
        fill(url)
        with twpolicy.open_ledger(url) as ledger:
            (opt_out,) = ledger.revoke("999")
        assert "" == opt_out.record_id
        tamper(url, lambda sql: rewrite(sql, opt_out.seq, closes=True))
        with twpolicy.open_ledger(url) as ledger:
            problems = ledger.verify().problems
        assert f"event {opt_out.seq} (revoked) closes no record but says it does" in problems

    def test_past_fifty_problems_only_a_count(self, url):
        """verify lists the first 50 problems and counts the rest."""
        with twpolicy.open_ledger(url) as ledger:
            for n in range(60):
                ledger.grant(str(1000 + n), "tweet.write", **NOTICE)
        tamper(url, lambda sql: sql("UPDATE twpolicy_consent_events SET body = body || ' '"))
        with twpolicy.open_ledger(url) as ledger:
            problems = ledger.verify().problems
        assert 51 == len(problems)
        assert "event 1 does not match its hash: it was changed" == problems[0]
        assert problems[-1].startswith("... and ")
        assert problems[-1].endswith(" more problems")

    def test_an_anchor_at_event_0_with_another_hash(self, url):
        """An anchor naming event 0 must name the genesis hash."""
        fill(url)
        with twpolicy.open_ledger(url) as ledger:
            assert ledger.verify(expect_head=f"0:{GENESIS}")
            result = ledger.verify(expect_head="0:" + "f" * 64)
        assert ["the anchor names event 0 with a hash other than the genesis"] == list(
            result.problems
        )


class TestKeys:
    def test_a_key_given_as_bytes_or_as_a_key(self):
        """A key passed as bytes, or as a ConsentKey, is that key."""
        key = resolve_key(KEY.encode())
        assert key.key_id == resolve_key(KEY).key_id
        assert key is resolve_key(key)

    def test_a_key_of_another_type(self):
        """A key that is neither text nor bytes is refused, naming its type."""
        with pytest.raises(ConfigurationError, match="must be text or bytes, got int"):
            resolve_key(12345678901234567890)

    def test_a_key_file_that_cannot_be_read(self, tmp_path):
        """consent_key = "file:..." naming a missing file says which file, not the key."""
        path = tmp_path / "missing.key"
        with pytest.raises(ConfigurationError, match=f"cannot read the consent key from {path}"):
            key_from_setting(f"file:{path}", "twpolicy.toml")

    @pytest.mark.parametrize("url", ["memory://", "sqlite"])
    def test_sealing_twice(self, url, tmp_path):
        """Sealing an empty keyed ledger, then again once it holds events, keeps it intact."""
        if url == "sqlite":
            url = f"sqlite:///{tmp_path / 'sealed.db'}"
        with twpolicy.open_ledger(url, key=KEY) as ledger:
            first = ledger.seal()
            ledger.grant(USER, "tweet.write", **NOTICE)
            second = ledger.seal()
            assert (True, True) == (first.ok, second.ok)
            assert ledger.key_id == first.key_id == second.key_id
            assert ledger.check(USER, "tweet.write") is not None

    def test_sealing_needs_a_key(self):
        """seal() without a key says how to give one."""
        with (
            twpolicy.open_ledger("memory://") as ledger,
            pytest.raises(ConfigurationError, match="sealing needs a consent key"),
        ):
            ledger.seal()

    def test_using_no_record(self):
        """use() of an empty record ID is refused before anything is written."""
        with (
            twpolicy.open_ledger("memory://") as ledger,
            pytest.raises(ConfigurationError, match="record_id must be a non-empty string"),
        ):
            ledger.use("")

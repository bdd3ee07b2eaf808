"""The action window ledger on every backend: counts, duplicates, releases, many processes."""

import contextlib
import hashlib
import json
import sqlite3
import string
import subprocess
import sys
import threading
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twpolicy
from conftest import BACKENDS
from twpolicy._stores import _windows as windows_module
from twpolicy._stores._sql import Schema, open_database, parse_url
from twpolicy._stores._windows import (
    BANDS,
    SCHEMA,
    band_keys,
    fingerprint,
    jaccard,
    normalise_text,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
WORKER = Path(__file__).with_name("automation_worker.py")
SHARED = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
SALE = "Our spring sale starts today: everything in the shop is twenty percent off until Sunday"


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture(name="clock")
def _clock():
    return Clock()


@pytest.fixture(name="url", params=BACKENDS)
def _url(request, url_for):
    return url_for(request.param)


@pytest.fixture(name="shared", params=SHARED)
def _shared(request, url_for):
    return url_for(request.param)


@pytest.fixture(name="windows")
def _windows(url, clock):
    ledger = twpolicy.open_windows(url, clock=clock)
    yield ledger
    ledger.close()


class TestCounts:
    def test_reserve_counts_up_to_the_limit(self, windows):
        granted = [windows.reserve("follows:1", account="1", window=HOUR, limit=2) for _ in "abc"]
        assert [v.granted for v in granted] == [True, True, False]
        assert granted[2].usage.used == 2
        assert granted[2].usage.frees_at == T0 + HOUR
        assert windows.usage("follows:1", HOUR).used == 2
        assert windows.usage("follows:2", HOUR) == twpolicy.WindowLedger._usage(
            [], "follows:2", HOUR
        )

    def test_the_window_slides(self, windows, clock):
        windows.reserve("likes:1", account="1", window=HOUR, limit=1)
        clock.now += HOUR + timedelta(seconds=1)
        assert windows.usage("likes:1", HOUR).used == 0
        assert windows.reserve("likes:1", account="1", window=HOUR, limit=1).granted

    def test_release_gives_the_count_back_once(self, windows):
        verdict = windows.reserve("dms:1", account="1", window=HOUR, limit=1)
        assert windows.release(verdict.reservation_id)
        assert not windows.release(verdict.reservation_id)
        assert not windows.release("no-such-reservation")
        assert windows.usage("dms:1", HOUR).used == 0

    def test_excluding_a_retrys_first_try(self, windows):
        verdict = windows.reserve("posts:1", account="1", window=HOUR, limit=1)
        excluded = frozenset({verdict.reservation_id})
        assert windows.usage("posts:1", HOUR, excluding=excluded).used == 0

    def test_force_counts_over_the_limit(self, windows):
        windows.reserve("follows:1", account="1", window=HOUR, limit=0, force=True)
        assert windows.usage("follows:1", HOUR).used == 1

    @pytest.mark.parametrize("limit", [-1, 1.5, "3", True])
    def test_a_malformed_limit_is_refused(self, windows, limit):
        with pytest.raises(twpolicy.ConfigurationError, match="count >= 0"):
            windows.reserve("follows:1", account="1", window=HOUR, limit=limit)

    def test_url_and_repr(self, windows, url):
        assert windows.url in repr(windows)
        assert windows.url.split(":", 1)[0] == url.split(":", 1)[0]


class TestContent:
    def test_similar_text_of_another_account_is_refused(self, windows):
        mine = fingerprint(SALE)
        assert windows.reserve("content", account="1", window=HOUR, content=mine, threshold=0.5)
        theirs = fingerprint(SALE.replace("shop", "store"))
        verdict = windows.reserve(
            "content", account="2", window=HOUR, content=theirs, threshold=0.5
        )
        assert not verdict.granted
        assert verdict.similar_account == "1"
        assert verdict.similarity > 0.8
        assert verdict.similar_frees_at == T0 + HOUR
        hit = windows.similar("content", theirs, HOUR, account="2", threshold=0.5)
        assert hit is not None
        assert hit[0] == "1"

    def test_the_same_account_and_unrelated_text_pass(self, windows):
        mine = fingerprint(SALE)
        windows.reserve("content", account="1", window=HOUR, content=mine, threshold=0.5)
        assert windows.similar("content", mine, HOUR, account="1", threshold=0.5) is None
        other = fingerprint("Good morning, the cafe on the corner is open again from today")
        assert windows.similar("content", other, HOUR, account="2", threshold=0.5) is None
        assert windows.reserve("content", account="2", window=HOUR, content=other, threshold=0.5)

    def test_released_content_no_longer_refuses(self, windows):
        mine = fingerprint(SALE)
        verdict = windows.reserve("content", account="1", window=HOUR, content=mine, threshold=0.5)
        windows.release(verdict.reservation_id)
        assert windows.similar("content", mine, HOUR, account="2", threshold=0.5) is None

    def test_old_content_leaves_the_window(self, windows, clock):
        mine = fingerprint(SALE)
        windows.reserve("content", account="1", window=HOUR, content=mine, threshold=0.5)
        clock.now += HOUR + timedelta(seconds=1)
        assert windows.reserve("content", account="2", window=HOUR, content=mine, threshold=0.5)


class TestStore:
    def test_damaged_rows_are_a_store_error(self, tmp_path, clock):
        path = tmp_path / "windows.db"
        windows = twpolicy.open_windows(f"sqlite:///{path}", clock=clock)
        windows.reserve("follows:1", account="1", window=HOUR, limit=5)
        windows.reserve("content", account="1", window=HOUR, content=fingerprint(SALE))
        windows.close()
        with sqlite3.connect(path) as db:
            db.execute("UPDATE twpolicy_window_events SET fingerprint = 'not json'")
        windows = twpolicy.open_windows(f"sqlite:///{path}", clock=clock)
        with pytest.raises(twpolicy.StoreUnavailable, match="damaged"):
            windows.similar("content", fingerprint(SALE), HOUR, account="2", threshold=0.5)
        with pytest.raises(twpolicy.StoreUnavailable, match="damaged"):
            windows.reserve("content", account="2", window=HOUR, content=fingerprint(SALE))
        windows.close()
        with sqlite3.connect(path) as db:
            db.execute("UPDATE twpolicy_window_events SET at_ms = 'not a time'")
        windows = twpolicy.open_windows(f"sqlite:///{path}", clock=clock)
        for count in (
            lambda: windows.usage("follows:1", HOUR),
            lambda: windows.reserve("follows:1", account="1", window=HOUR, limit=5),
        ):
            with pytest.raises(twpolicy.StoreUnavailable, match="damaged"):
                count()
        windows.close()

    @pytest.mark.parametrize("backend", SHARED)
    def test_band_entries_of_schema_3_get_their_account(self, backend, url_for, clock):
        """Band entries made before they named their account are given it when migrated."""
        url = url_for(backend)
        old = Schema(component=SCHEMA.component, what=SCHEMA.what, migrations=SCHEMA.migrations[:3])
        database = open_database(parse_url(url, what="action window ledger"), old, create=True)
        content = fingerprint(SALE)
        with database.write() as tx:
            for event_id, account in (("e1", "1"), ("e2", "2")):
                tx.execute(
                    "INSERT INTO twpolicy_window_events (event_id, window_key, account, at_ms,"
                    " fingerprint) VALUES (?, 'content', ?, ?, ?)",
                    (event_id, account, int(T0.timestamp() * 1000), json.dumps(list(content))),
                )
                tx.executemany(
                    "INSERT INTO twpolicy_window_bands (window_key, band, event_id)"
                    " VALUES ('content', ?, ?)",
                    [(band, event_id) for band in band_keys(content)],
                )
        database.close()
        windows = twpolicy.open_windows(url, clock=clock)
        with windows._store.transaction(write=False) as tx:
            assert {"e2": BANDS} == tx.shared("content", band_keys(content), "1")
        hit = windows.similar("content", content, HOUR, account="1", threshold=0.5)
        assert hit is not None
        assert hit[0] == "2"
        windows.close()

    def test_unknown_scheme(self):
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.open_windows("redis://localhost")

    def test_threads_of_one_process_share_a_cap(self, shared, clock):
        windows = twpolicy.open_windows(shared, clock=clock)
        granted = []

        def take():
            ledger = twpolicy.open_windows(shared, clock=clock)
            granted.extend(
                ledger.reserve("follows:1", account="1", window=HOUR, limit=7).granted
                for _ in range(5)
            )
            ledger.close()

        threads = [threading.Thread(target=take) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert granted.count(True) == 7
        assert windows.usage("follows:1", HOUR).used == 7
        windows.close()


def run_workers(argvs):
    procs = [
        subprocess.Popen(  # our own worker
            [sys.executable, str(WORKER), *argv], stdout=subprocess.PIPE, text=True
        )
        for argv in argvs
    ]
    outputs = [proc.communicate(timeout=180)[0] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    return [int(out.strip()) for out in outputs]


@pytest.mark.slow
class TestAcrossProcesses:
    """8 processes on one SQLite file or PostgreSQL database cannot exceed a cap together."""

    def test_eight_processes_cannot_exceed_a_cap(self, shared, tmp_path):
        consent = f"sqlite:///{tmp_path / 'consent.db'}"
        ledger = twpolicy.open_ledger(consent)
        ledger.grant("1500000000000000001", ["follows.write"], notice="n", method="m", evidence="e")
        sent = run_workers([["follow", consent, shared, "3"]] * 8)
        assert sum(sent) == 5  # the cap, of 24 tries

    def test_eight_accounts_post_one_duplicate_once(self, shared, tmp_path):
        consent = f"sqlite:///{tmp_path / 'consent.db'}"
        ledger = twpolicy.open_ledger(consent)
        users = [f"16000000000000000{n:02d}" for n in range(10, 18)]
        for user in users:
            ledger.grant(user, ["tweet.write"], notice="n", method="m", evidence="e")
        texts = [f"{SALE} #{n}" for n in range(8)]  # near-identical, never byte-identical
        sent = run_workers(
            [["post", consent, shared, u, t] for u, t in zip(users, texts, strict=True)]
        )
        assert sum(sent) == 1


class TestIndex:
    @pytest.mark.parametrize(
        "other",
        [
            SALE.replace("shop", "store"),
            SALE.replace("twenty", "thirty").replace("Sunday", "Monday"),
            "Spring sale! Twenty percent off everything in the shop, today until Sunday",
            SALE.upper() + " https://t.co/x",
        ],
    )
    def test_near_duplicates_are_found_through_the_index(self, windows, other):
        windows.reserve("content", account="1", window=HOUR, content=fingerprint(SALE))
        hit = windows.similar("content", fingerprint(other), HOUR, account="2", threshold=0.5)
        assert hit is not None
        assert hit[0] == "1"

    def test_unrelated_posts_are_not_read(self, windows, monkeypatch):
        """Of 150 unrelated posts in the window, the check reads (almost) none."""
        words = [
            "river",
            "stone",
            "apple",
            "cloud",
            "music",
            "paper",
            "light",
            "garden",
            "window",
            "bridge",
            "forest",
        ]
        for n in range(150):
            text = " ".join(words[(n * 7 + k * 3) % len(words)] + str(n * k) for k in range(12))
            windows.reserve("content", account=str(n), window=HOUR, content=fingerprint(text))
        read = []
        original = twpolicy.WindowLedger._similar

        def counting(rows, *args):
            read.append(len(rows))
            return original(rows, *args)

        monkeypatch.setattr(twpolicy.WindowLedger, "_similar", staticmethod(counting))
        query = fingerprint("A quiet morning at the harbour, boats and gulls and fresh bread")
        assert windows.similar("content", query, HOUR, account="q", threshold=0.5) is None
        assert read == [0]

    def test_a_band_shared_by_two_posts_outlives_one_of_them(self, windows):
        content = fingerprint(SALE)
        first = windows.reserve("content", account="1", window=HOUR, content=content)
        windows.reserve("content", account="1", window=HOUR, content=content)
        windows.release(first.reservation_id)
        hit = windows.similar("content", content, HOUR, account="2", threshold=0.5)
        assert hit is not None

    def test_an_account_alone_keeps_no_index_until_another_posts(self, windows):
        """One account's posts are indexed only when another account's need them.

        The memory store keeps no band entries while one account alone has posted (no check
        reads them); the first post or check of another account finds every earlier copy.
        """
        content = fingerprint(SALE)
        for _ in range(3):
            windows.reserve("content", account="1", window=HOUR, content=content)
        if windows.url == "memory://":
            assert "content" not in windows._store.bands  # the store's own bookkeeping
        hit = windows.similar("content", content, HOUR, account="2", threshold=0.5)
        assert hit is not None
        assert hit[0] == "1"
        verdict = windows.reserve("content", account="2", window=HOUR, content=content)
        assert not verdict.granted
        cafe = fingerprint("Good morning, the cafe is open again today")
        assert windows.reserve("content", account="2", window=HOUR, content=cafe).granted
        assert windows.similar("content", cafe, HOUR, account="3", threshold=0.5)[0] == "2"
        assert windows.similar("content", content, HOUR, account="3", threshold=0.5)[0] == "1"

    def test_no_content_has_no_candidates(self, windows):
        windows.reserve("content", account="1", window=HOUR, content=fingerprint(SALE))
        assert windows.similar("content", (), HOUR, account="2", threshold=0.5) is None

    def test_no_backend_reads_the_accounts_own_band_hits(self, windows):
        """Every backend counts only other accounts' band hits, whoever posts the most.

        An account may repeat itself; reading its own posts on each post would make a busy
        account's every check cost its whole window (the memory, SQLite and PostgreSQL stores
        must agree).
        """
        sale, cafe = fingerprint(SALE), fingerprint("Good morning, the cafe is open again today")
        own = [windows.reserve("content", account="1", window=HOUR, content=sale) for _ in range(5)]
        theirs = windows.reserve("content", account="2", window=HOUR, content=sale, force=True)
        windows.reserve("content", account="3", window=HOUR, content=cafe)
        store = windows._store  # the backend's own transaction, below the public API
        with store.transaction(write=False) as tx:
            assert {theirs.reservation_id: BANDS} == tx.shared("content", band_keys(sale), "1")
            by_two = tx.shared("content", band_keys(sale), "2")
            assert {v.reservation_id: BANDS for v in own} == by_two
            assert {} == tx.shared("content", band_keys(cafe), "3")
            assert {} == tx.shared("content", (), "1")
            assert {} == tx.shared("elsewhere", band_keys(sale), "1")
            found = tx.candidates("content", band_keys(sale), 0, "1")
            assert [theirs.reservation_id] == [row[0] for row in found]

    def test_a_reserve_after_a_clean_check_searches_again_only_if_needed(self, windows, clock):
        """The memory store skips a search whose answer cannot have changed, and only that."""
        searched = []
        store = windows._store
        original = store.transaction

        def counting(**kwargs):
            with original(**kwargs) as tx:
                real = tx.candidates

                def candidates(*args):
                    searched.append(args[0])
                    return real(*args)

                tx.candidates = candidates
                yield tx

        windows._store.transaction = contextlib.contextmanager(counting)
        sale, cafe = fingerprint(SALE), fingerprint("Good morning, the cafe is open again today")
        assert windows.similar("content", sale, HOUR, account="1", threshold=0.5) is None
        assert windows.reserve("content", account="1", window=HOUR, content=sale, threshold=0.5)
        memory = windows.url == "memory://"
        assert len(searched) == (1 if memory else 2)
        # Another account's post lands between the check and the reserve: searched, refused.
        assert windows.similar("content", sale, HOUR, account="2", threshold=0.5) is not None
        assert windows.similar("content", cafe, HOUR, account="2", threshold=0.5) is None
        windows.reserve("content", account="3", window=HOUR, content=cafe, force=True)
        assert not windows.reserve("content", account="2", window=HOUR, content=cafe).granted
        # A check of other content, of an earlier time, or by another account does not count.
        searched.clear()
        assert windows.similar("content", cafe, HOUR, account="3", threshold=0.5) is None
        assert windows.reserve("content", account="3", window=HOUR, content=sale, force=True)
        assert windows.similar("content", cafe, HOUR, account="3", threshold=0.5) is None
        clock.now -= timedelta(minutes=1)
        assert windows.reserve("content", account="3", window=HOUR, content=cafe)
        assert windows.similar("content", cafe, HOUR, account="3", threshold=0.5) is None
        assert windows.reserve("content", account="4", window=HOUR, content=cafe, threshold=0.9)
        assert len(searched) == 5  # the force and nothing else went unsearched

    def test_band_keys(self):
        assert band_keys(()) == ()
        keys = band_keys(fingerprint(SALE))
        assert len(keys) == BANDS
        assert all(0 <= key < 2**56 for key in keys)
        assert keys == band_keys(fingerprint(SALE.upper()))

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=400, unique=True))
    def test_numpys_signature_is_pythons(self, shingles):
        content = tuple(sorted(shingles))
        assert windows_module._minima_numpy(content) == windows_module._minima_python(content)

    @settings(max_examples=100, deadline=None)
    @given(st.text(min_size=1, max_size=300))
    def test_band_keys_are_those_stored_before(self, text):
        # The keys stores already hold were made this way: any change must give the same.
        content = fingerprint(text)
        if not content:
            return
        minima = windows_module._minima_python(content)
        stored = {
            int.from_bytes(
                hashlib.blake2b(
                    f"{band}:{':'.join(map(str, minima[band * 3 : band * 3 + 3]))}".encode(),
                    digest_size=7,
                ).digest(),
                "big",
            )
            for band in range(BANDS)
        }
        assert band_keys.__wrapped__(content) == tuple(sorted(stored))

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.text(max_size=300), st.text(string.printable, max_size=300)))
    def test_fingerprints_are_those_stored_before(self, text):
        # The fast paths (ASCII folded at once, 5-gram hashes remembered) change no value.
        decomposed = unicodedata.normalize("NFKD", text)
        hidden = {"Mn", "Me", "Cf"}
        visible = "".join(c for c in decomposed if unicodedata.category(c) not in hidden)
        folded = unicodedata.normalize("NFKC", visible).casefold()
        if text.isascii():
            assert folded == text.lower()
        norm = normalise_text(text)
        grams = {norm[i : i + 5] for i in range(max(1, len(norm) - 4))}
        stored = {
            int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "big")
            for g in grams
        }
        assert fingerprint(text) == tuple(sorted(stored))
        assert fingerprint(text) == tuple(sorted(stored))  # and again, from remembered hashes

    def test_remembered_gram_hashes_are_bounded(self, monkeypatch):
        monkeypatch.setattr(windows_module, "_GRAM_SLOTS", 8)
        monkeypatch.setattr(windows_module, "_GRAM_HASHES", {})
        first = fingerprint("abcdefgh")  # 4 grams
        assert len(windows_module._GRAM_HASHES) == 4
        sale = fingerprint(SALE)  # more than 8 would be held: emptied first
        assert "abcde" not in windows_module._GRAM_HASHES
        assert fingerprint("abcdefgh") == first  # emptied again, the same values
        assert set(windows_module._GRAM_HASHES) == {"abcde", "bcdef", "cdefg", "defgh"}
        assert fingerprint(SALE) == sale

    def test_band_keys_without_numpy_are_the_same(self, monkeypatch):
        with_numpy = band_keys.__wrapped__(fingerprint(SALE))
        monkeypatch.setattr(windows_module, "_numpy", lambda: None)
        assert band_keys.__wrapped__(fingerprint(SALE)) == with_numpy

    def test_numpy_missing_is_none(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "numpy", None)
        assert windows_module._numpy.__wrapped__() is None


_WORD = st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=10)
_SPACE = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u2003", " \u3000 "])
_INVISIBLE = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])


@st.composite
def _disguised(draw, words):
    """``words`` made to look new: case, spacing, invisible characters, accents, wide forms."""
    out = []
    for word in words:
        letters = []
        for letter in word:
            char = letter.upper() if draw(st.booleans()) else letter
            if draw(st.integers(0, 9)) == 0:
                char = chr(ord(char) + 0xFEE0)  # the full-width form
            if draw(st.integers(0, 9)) == 0:
                char += "\u0301"  # a combining acute accent
            if draw(st.integers(0, 9)) == 0:
                char += draw(_INVISIBLE)
            letters.append(char)
        out.append("".join(letters))
    text = "".join(word + draw(_SPACE) for word in out)
    if draw(st.booleans()):
        text = f"@{draw(st.from_regex(r'[a-z0-9_]{1,15}', fullmatch=True))} {text}"
    if draw(st.booleans()):
        text += f" https://t.co/{draw(st.from_regex(r'[A-Za-z0-9]{1,12}', fullmatch=True))}"
    return text


class TestAdversarialDuplicates:
    @given(data=st.data(), words=st.lists(_WORD, min_size=6, max_size=20))
    @settings(deadline=None)
    def test_disguised_copies_are_the_same_text(self, data, words):
        """Case, spacing, zero-width characters, accents, wide forms, URLs and mentions aside."""
        original = " ".join(words)
        copy = data.draw(_disguised(words))
        assert normalise_text(copy) == normalise_text(original)
        assert jaccard(fingerprint(original), fingerprint(copy)) == 1.0

    @given(data=st.data(), words=st.lists(_WORD, min_size=6, max_size=20))
    @settings(max_examples=40, deadline=None)
    def test_disguised_copies_are_refused_from_another_account(self, data, words):
        windows = twpolicy.open_windows("memory://", clock=lambda: T0)
        original = fingerprint(" ".join(words))
        windows.reserve("content", account="1", window=HOUR, content=original, threshold=0.5)
        copy = fingerprint(data.draw(_disguised(words)))
        verdict = windows.reserve("content", account="2", window=HOUR, content=copy, threshold=0.5)
        assert not verdict.granted
        assert verdict.similar_account == "1"

    @given(words=st.lists(_WORD, min_size=6, max_size=20), at=st.integers(0, 5), how=_SPACE)
    @settings(deadline=None)
    def test_a_word_spelt_out_or_dotted_is_the_word(self, words, at, how):
        original = " ".join(words)
        index = at % len(words)
        for joiner in (" ", ".", "-", "\u200b"):
            spelt = [*words[:index], joiner.join(words[index]), *words[index + 1 :]]
            assert normalise_text(how.join(spelt)) == normalise_text(original)


class TestAdversarialBursts:
    @given(
        steps=st.lists(
            st.tuples(st.integers(0, 3), st.integers(0, 40 * 60)), min_size=1, max_size=40
        )
    )
    @settings(max_examples=30, deadline=None)
    def test_no_window_ever_holds_more_than_the_cap(self, tmp_path_factory, steps):
        """Four ledgers on one SQLite file (as four processes), bursts at any times."""
        path = tmp_path_factory.mktemp("bursts") / "windows.db"
        clock = Clock()
        ledgers = [twpolicy.open_windows(f"sqlite:///{path}", clock=clock) for _ in range(4)]
        granted = []
        for which, seconds in steps:
            clock.now += timedelta(seconds=seconds)
            verdict = ledgers[which].reserve("follows:1", account="1", window=HOUR, limit=5)
            if verdict.granted:
                granted.append(clock.now)
        for ledger in ledgers:
            ledger.close()
        for start in granted:  # every window that opens with a granted follow
            assert sum(start <= t < start + HOUR for t in granted) <= 5

import contextlib
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import twpolicy
from conftest import BACKENDS
from twpolicy._stores._quotas import HYDRATED_OBJECTS, SCHEMA, TWEET_IDS, SqlQuotaStore
from twpolicy._stores._sql import open_database, parse_url

T0 = datetime(2024, 3, 1, 12, 30, 15, tzinfo=timezone.utc)
MONTH = 1_500_000
DAY = 50_000
APPROVAL = {"approved_by": "dpo@example.org", "reference": "IRB-2024-117"}


class FakeClock:
    """A clock that only moves when told."""

    def __init__(self, start=T0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture(name="clock")
def _clock():
    """A fake clock at T0."""
    return FakeClock()


SHARED = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]
WORKER = Path(__file__).with_name("quota_worker.py")


@pytest.fixture(name="backend", params=BACKENDS)
def _backend(request, url_for):
    """The URL of an empty quota store of each kind."""
    return url_for(request.param)


@pytest.fixture(name="shared", params=SHARED)
def _shared(request, url_for):
    """The URL of an empty quota store that several processes can share."""
    return url_for(request.param)


@pytest.fixture(name="quotas")
def _quotas(backend, clock):
    """An empty quota ledger on each backend, reading the fake clock."""
    ledger = twpolicy.open_quotas(backend, clock=clock)
    yield ledger
    ledger.close()


class TestRecipients:
    def test_unregistered_is_standard_and_its_own_entity(self, quotas):
        """A recipient nobody registered is capped like any other and counted on its own."""
        recipient = quotas.recipient("lab-a")
        assert twpolicy.Standing.STANDARD == recipient.standing
        assert "lab-a" == recipient.entity
        assert not recipient.registered

    def test_register_and_read_back(self, quotas, clock):
        """A registration is kept with who approved it, the reference, and when."""
        made = quotas.register(
            "alice", entity="uni-x", standing="academic_noncommercial", **APPROVAL
        )
        assert made == quotas.recipient("alice")
        assert twpolicy.Standing.ACADEMIC_NONCOMMERCIAL == made.standing
        assert clock.now == made.registered_at
        assert (made,) == quotas.recipients()

    def test_register_replaces(self, quotas):
        """Registering again replaces the standing (e.g. an exemption withdrawn)."""
        quotas.register("alice", standing="written_permission", **APPROVAL)
        quotas.register("alice")
        assert twpolicy.Standing.STANDARD == quotas.recipient("alice").standing

    @pytest.mark.parametrize("standing", ["academic_noncommercial", "written_permission"])
    @pytest.mark.parametrize("missing", ["approved_by", "reference"])
    def test_exemption_needs_approval(self, quotas, standing, missing):
        """An exempt standing without an approver and a reference is refused."""
        approval = {k: v for k, v in APPROVAL.items() if k != missing}
        with pytest.raises(twpolicy.ConfigurationError, match=missing):
            quotas.register("alice", standing=standing, **approval)
        assert not quotas.recipient("alice").registered

    @pytest.mark.parametrize("name", ["", "  ", "a\nb", None, 7])
    def test_bad_names(self, quotas, name):
        """Recipient names are printable, non-empty strings."""
        with pytest.raises(twpolicy.ConfigurationError):
            quotas.register(name)

    def test_unknown_standing(self, quotas):
        """A standing outside the three is refused, naming the choices."""
        with pytest.raises(twpolicy.ConfigurationError, match="academic_noncommercial"):
            quotas.register("alice", standing="friend_of_twitter")


class TestTweetIds:
    def test_up_to_the_limit(self, quotas):
        """1,500,000 Tweet IDs fit in 30 days; one more does not, and is not counted."""
        assert quotas.reserve("lab", tweet_ids=MONTH - 1).granted
        assert quotas.reserve("lab", tweet_ids=1).granted
        refused = quotas.reserve("lab", tweet_ids=1)
        assert not refused.granted
        assert ("tweet_ids",) == refused.exceeded
        assert refused.reservation_id is None
        assert 0 == quotas.remaining("lab")

    def test_remaining_and_usage(self, quotas, clock):
        """remaining() and usage() report counts, limits and when they reset."""
        quotas.reserve("lab", tweet_ids=1000)
        assert MONTH - 1000 == quotas.remaining("lab")
        assert DAY == quotas.remaining("lab", "hydrated_objects")
        usage = {u.quota: u for u in quotas.usage("lab")}
        assert 1000 == usage["tweet_ids"].used
        assert usage["hydrated_objects"].resets_at is None
        bucket = clock.now.replace(minute=0, second=0)
        assert bucket + timedelta(days=30, hours=1) == quotas.resets_at("lab")

    def test_30_day_boundary(self, quotas, clock):
        """Counts leave at resets_at exactly: refused one second before, allowed at it."""
        quotas.reserve("lab", tweet_ids=MONTH)
        reset = quotas.resets_at("lab")
        clock.now = reset - timedelta(days=1)
        assert not quotas.reserve("lab", tweet_ids=1).granted
        clock.now = reset - timedelta(seconds=1)
        assert not quotas.reserve("lab", tweet_ids=1).granted
        clock.now = reset
        assert MONTH == quotas.remaining("lab")
        assert quotas.reserve("lab", tweet_ids=MONTH).granted

    def test_rolling_not_calendar(self, quotas, clock):
        """The window rolls: IDs sent on day 1 and day 20 leave on different days."""
        quotas.reserve("lab", tweet_ids=MONTH // 2)
        clock.advance(days=19)
        quotas.reserve("lab", tweet_ids=MONTH // 2)
        clock.advance(days=11, hours=1)
        assert MONTH // 2 == quotas.remaining("lab")
        clock.advance(days=19)
        assert MONTH == quotas.remaining("lab")

    def test_entity_counts_its_recipients_together(self, quotas):
        """Two recipients of one entity share the 30-day cap."""
        quotas.register("alice", entity="acme")
        quotas.register("bob", entity="acme")
        assert quotas.reserve("alice", tweet_ids=MONTH).granted
        assert not quotas.reserve("bob", tweet_ids=1).granted
        assert quotas.reserve("carol", tweet_ids=1).granted

    @pytest.mark.parametrize("standing", ["academic_noncommercial", "written_permission"])
    def test_exempt_standing_lifts_the_cap(self, quotas, standing):
        """An exempt recipient may receive more, is still counted, and has no limit."""
        quotas.register("uni", standing=standing, **APPROVAL)
        assert quotas.reserve("uni", tweet_ids=MONTH).granted
        granted = quotas.reserve("uni", tweet_ids=MONTH)
        assert granted.granted
        assert quotas.remaining("uni") is None
        assert 2 * MONTH == next(u for u in granted.usage if u.quota == "tweet_ids").used

    def test_exemption_never_lifts_the_daily_cap(self, quotas):
        """The 50,000 hydrated objects a day apply to academic recipients too."""
        quotas.register("uni", standing="academic_noncommercial", **APPROVAL)
        assert quotas.reserve("uni", hydrated_objects=DAY).granted
        assert not quotas.reserve("uni", hydrated_objects=1).granted


class TestHydrated:
    def test_24_hour_boundary(self, quotas, clock):
        """50,000 objects a day; they leave 24 hours and one bucket after they were counted."""
        assert quotas.reserve("alice", hydrated_objects=DAY).granted
        reset = quotas.resets_at("alice", "hydrated_objects")
        assert timedelta(days=1) < reset - clock.now <= timedelta(days=1, minutes=15)
        clock.now = reset - timedelta(seconds=1)
        assert not quotas.reserve("alice", hydrated_objects=1).granted
        clock.now = reset
        assert quotas.reserve("alice", hydrated_objects=DAY).granted

    def test_per_recipient_not_per_entity(self, quotas):
        """The daily object cap is per recipient, even within one entity."""
        quotas.register("alice", entity="acme")
        quotas.register("bob", entity="acme")
        assert quotas.reserve("alice", hydrated_objects=DAY).granted
        assert quotas.reserve("bob", hydrated_objects=DAY).granted


class TestReservations:
    def test_batch_is_all_or_nothing(self, quotas):
        """A batch over one limit counts nothing against the other."""
        refused = quotas.reserve("alice", tweet_ids=10, hydrated_objects=DAY + 1)
        assert ("hydrated_objects",) == refused.exceeded
        assert MONTH == quotas.remaining("alice")

    def test_release_gives_back(self, quotas):
        """A failed send's reservation is released; a second release does nothing."""
        reservation = quotas.reserve("alice", tweet_ids=500, hydrated_objects=20)
        assert quotas.release(reservation.reservation_id)
        assert MONTH == quotas.remaining("alice")
        assert DAY == quotas.remaining("alice", "hydrated_objects")
        assert not quotas.release(reservation.reservation_id)
        assert not quotas.release("no-such-reservation")

    def test_release_after_the_window_changes_nothing(self, quotas, clock):
        """Releasing a reservation whose bucket left the window takes nothing from newer ones."""
        old = quotas.reserve("alice", tweet_ids=7)
        clock.advance(days=31)
        quotas.reserve("alice", tweet_ids=5)
        quotas.release(old.reservation_id)
        assert MONTH - 5 == quotas.remaining("alice")

    def test_force_counts_over_the_limit(self, quotas):
        """force (monitor mode) counts a batch that goes out anyway and reports the excess."""
        quotas.reserve("alice", tweet_ids=MONTH)
        forced = quotas.reserve("alice", tweet_ids=10, force=True)
        assert not forced.granted
        assert forced.reservation_id is not None
        assert MONTH + 10 == next(u for u in forced.usage if u.quota == "tweet_ids").used

    def test_empty_batch(self, quotas):
        """A batch of nothing is granted and records nothing."""
        empty = quotas.reserve("alice")
        assert empty.granted
        assert empty.reservation_id is None

    @pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
    def test_bad_counts(self, quotas, bad):
        """Counts are non-negative integers."""
        with pytest.raises(twpolicy.ConfigurationError):
            quotas.reserve("alice", tweet_ids=bad)

    def test_naive_time_is_refused(self, quotas):
        """A time without a timezone cannot be placed in a window."""
        with pytest.raises(twpolicy.ConfigurationError, match="timezone"):
            quotas.reserve("alice", tweet_ids=1, at=datetime(2024, 1, 1))  # noqa: DTZ001

    def test_unknown_quota_name(self, quotas):
        """remaining() names the quotas it knows."""
        with pytest.raises(twpolicy.ConfigurationError, match="tweet_ids"):
            quotas.remaining("alice", "tweets_per_fortnight")

    def test_a_failed_transaction_changes_nothing(self, quotas, monkeypatch):
        """If anything fails inside a reservation, its counts and pruning are undone."""
        quotas.reserve("alice", tweet_ids=5)
        store = quotas._store
        original = store.transaction

        class Failing:
            def __init__(self, txn):
                self._txn = txn

            def __getattr__(self, name):
                return getattr(self._txn, name)

            def save_reservation(self, *args):
                raise RuntimeError("disk full")

        @contextlib.contextmanager
        def failing(**kwargs):
            with original(**kwargs) as txn:
                yield Failing(txn)

        monkeypatch.setattr(store, "transaction", failing)
        with pytest.raises(RuntimeError, match="disk full"):
            quotas.reserve("alice", tweet_ids=7, hydrated_objects=3)
        monkeypatch.undo()
        assert MONTH - 5 == quotas.remaining("alice")
        assert DAY == quotas.remaining("alice", "hydrated_objects")

    def test_threads_never_exceed(self, quotas):
        """Concurrent reservations from many threads never count past the limit."""
        granted = []

        def worker():
            granted.extend(quotas.reserve("alice", hydrated_objects=300).granted for _ in range(50))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert DAY // 300 == sum(granted)
        assert DAY - DAY // 300 * 300 == quotas.remaining("alice", "hydrated_objects")


# A reservation: (seconds after T0, tweet IDs).
_steps = st.lists(
    st.tuples(st.integers(0, 90 * 86400), st.integers(0, 10**6)), min_size=1, max_size=30
)


class TestLeases:
    """A reservation whose job may die unseen (a driver killed) is leased: it runs out."""

    def test_a_lease_that_runs_out_releases(self, quotas, clock):
        """Once the lease is up, the next reservation finds the dead job's count released."""
        dead = quotas.reserve("alice", tweet_ids=700)
        assert quotas.lease(dead.reservation_id, clock.now + timedelta(hours=1))
        clock.advance(minutes=59)
        assert MONTH - 705 == _then(quotas, 5)  # still counted
        clock.advance(minutes=1)
        assert MONTH - 5 == _then(quotas, 0)  # released by this reservation
        assert not quotas.commit(dead.reservation_id)  # too late: nothing to make final
        assert not quotas.lease(dead.reservation_id, None)

    def test_expire_and_commit_before(self, quotas, clock):
        """`expire` releases what ran out; a commit (or an unleased one) is never released."""
        leased = [quotas.reserve("alice", tweet_ids=n) for n in (1, 10, 100)]
        unleased = quotas.reserve("alice", tweet_ids=1000)
        for reservation in leased:
            assert quotas.lease(reservation.reservation_id, clock.now + timedelta(minutes=5))
        assert quotas.commit(leased[0].reservation_id)
        assert quotas.lease(leased[1].reservation_id, None)  # confirmed: no lease
        assert 0 == quotas.expire()
        assert 1 == quotas.expire(clock.now + timedelta(minutes=5))
        assert 0 == quotas.expire(clock.now + timedelta(days=2))
        assert MONTH - 1011 == quotas.remaining("alice")
        assert not quotas.lease("no-such-reservation", clock.now)
        assert quotas.release(unleased.reservation_id)

    def test_a_lease_needs_a_timezone(self, quotas, clock):
        """A naive time is refused; the lease set before stays."""
        kept = quotas.reserve("alice", tweet_ids=3)
        quotas.lease(kept.reservation_id, clock.now + timedelta(minutes=1))
        with pytest.raises(twpolicy.ConfigurationError):
            quotas.lease(kept.reservation_id, datetime(2030, 1, 1))  # noqa: DTZ001  # naive: refused
        assert 1 == quotas.expire(clock.now + timedelta(minutes=1))

    @pytest.mark.parametrize("kind", SHARED)
    def test_a_ledger_of_version_one_gains_leases(self, kind, url_for, clock):
        """A ledger made before leases is migrated on open: its reservations stay, unleased."""
        url = url_for(kind)
        first = attrs.evolve(SCHEMA, migrations=SCHEMA.migrations[:1])
        store = SqlQuotaStore(open_database(parse_url(url), first))
        entry = ("tweet_ids", "alice", TWEET_IDS.bucket_of(clock.now), 40)
        with store.transaction() as txn:  # what version 1 wrote for a reservation
            txn.add(*entry)
            txn.save_reservation("r-1", clock.now, [entry])
        store.close()
        with twpolicy.open_quotas(url, clock=clock) as quotas:
            assert MONTH - 40 == quotas.remaining("alice")
            assert 0 == quotas.expire(clock.now + timedelta(days=1))
            assert quotas.lease("r-1", clock.now)
            assert 1 == quotas.expire()
            assert MONTH == quotas.remaining("alice")


def _then(quotas, amount):
    """Reserve ``amount`` for alice; what remains of her Tweet ID quota after."""
    reservation = quotas.reserve("alice", tweet_ids=amount)
    return next(u for u in reservation.usage if u.quota == "tweet_ids").remaining


class TestOnlyOverCounts:
    @given(steps=_steps, probe=st.integers(0, 120 * 86400))
    def test_count_brackets_the_exact_window(self, steps, probe):
        """The bucketed count is never below the exact rolling count, nor over by a bucket."""
        clock = FakeClock()
        quotas = twpolicy.open_quotas("memory://", clock=clock)
        quotas.register("uni", standing="academic_noncommercial", **APPROVAL)
        sent = []
        for offset, amount in sorted(steps):
            at = T0 + timedelta(seconds=offset)
            quotas.reserve("uni", tweet_ids=amount, at=at)
            sent.append((at, amount))
        now = T0 + timedelta(seconds=max(probe, *(offset for offset, _ in steps)))
        used = next(u for u in quotas.usage("uni", at=now) if u.quota == "tweet_ids").used
        window = TWEET_IDS.window
        exact = sum(n for at, n in sent if now - window < at <= now)
        slack = sum(n for at, n in sent if now - window - TWEET_IDS.bucket < at <= now)
        assert exact <= used <= slack


def worker(*args):
    """Start a quota worker process."""
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class TestSharedStores:
    def test_counts_and_recipients_persist(self, shared, clock):
        """A reopened ledger has the same counts and registrations."""
        with twpolicy.open_quotas(shared, clock=clock) as quotas:
            quotas.register("uni", entity="u", standing="academic_noncommercial", **APPROVAL)
            quotas.reserve("uni", tweet_ids=123, hydrated_objects=4)
        with twpolicy.open_quotas(shared, clock=clock) as quotas:
            assert twpolicy.Standing.ACADEMIC_NONCOMMERCIAL == quotas.recipient("uni").standing
            assert 123 == quotas.usage("uni")[0].used
            assert DAY - 4 == quotas.remaining("uni", "hydrated_objects")

    @pytest.mark.slow
    def test_processes_never_exceed_a_limit(self, shared):
        """Four processes racing for the daily cap get exactly what fits, never more."""
        procs = [worker("race", shared, "lab", 20, 1000) for _ in range(4)]
        granted = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert 0 == proc.returncode, err
            granted.append(int(out))
        assert DAY // 1000 == sum(granted)
        with twpolicy.open_quotas(shared) as quotas:
            assert 0 == quotas.remaining("lab", "hydrated_objects")

    @pytest.mark.slow
    def test_killed_writer_loses_nothing_it_acknowledged(self, shared):
        """kill -9 during reservations: every acknowledged batch stays counted, none is torn."""
        proc = worker("forever", shared, "lab", 7)
        acknowledged = 0
        for line in proc.stdout:
            acknowledged += line == "ok\n"
            if acknowledged == 25:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
        with twpolicy.open_quotas(shared) as quotas:
            used = quotas.usage("lab")[0].used
            assert 0 == used % 7
            assert 25 * 7 <= used <= 27 * 7
            assert quotas.reserve("lab", tweet_ids=1).granted

    def test_shares_a_store_with_the_consent_ledger(self, shared):
        """The quota and consent ledgers can live in one SQLite file or PostgreSQL schema."""
        with twpolicy.open_ledger(shared) as consent, twpolicy.open_quotas(shared) as quotas:
            quotas.reserve("lab", tweet_ids=3)
            consent.grant("12", ["tweet.write"], notice="n", method="m", evidence="e")
            assert MONTH - 3 == quotas.remaining("lab")
            assert consent.check("12", "tweet.write") is not None

    def test_corrupt_file_is_unavailable(self, tmp_path):
        """A SQLite file that is not a database fails closed with StoreUnavailable."""
        path = tmp_path / "quotas.db"
        path.write_bytes(b"not a database at all" * 100)
        with pytest.raises(twpolicy.StoreUnavailable, match="quota ledger"):
            twpolicy.open_quotas(f"sqlite:///{path}")

    def test_guard_from_config(self, tmp_path):
        """quota_ledger in the TOML config opens the guard's quota ledger."""
        path = tmp_path / "twpolicy.toml"
        path.write_text(f'[twpolicy]\nquota_ledger = "sqlite:///{tmp_path / "q.db"}"\n')
        guard = twpolicy.Guard.from_config(path)
        assert guard.quotas.url.startswith("sqlite:///")
        guard.quotas.close()


class TestSpecs:
    def test_policy_figures(self):
        """The limits are the policy's: 1,500,000 per 30 days and 50,000 per 24 hours."""
        assert (MONTH, timedelta(days=30), "I.F.2.b.i") == (
            TWEET_IDS.limit,
            TWEET_IDS.window,
            TWEET_IDS.clause,
        )
        assert (DAY, timedelta(days=1), "I.F.2.a") == (
            HYDRATED_OBJECTS.limit,
            HYDRATED_OBJECTS.window,
            HYDRATED_OBJECTS.clause,
        )

    def test_unknown_url(self):
        """An unknown ledger URL is a configuration error naming what is expected."""
        with pytest.raises(twpolicy.ConfigurationError, match="sqlite"):
            twpolicy.open_quotas("redis://localhost")


# ---------------------------------------------------------------------------------------
# Names as people mean them, counts that follow the recipient, and the requester's cap
# ---------------------------------------------------------------------------------------

SPACES = ["", " ", "  ", "\t", "\n", "\u00a0", "\u3000", " \u2003"]
# Characters that print as nothing: Unicode's default-ignorable code points, and blanks.
INVISIBLE = [
    *"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180e\u180f\u200b\u200c\u200d",
    *"\u200e\u200f\u202a\u202e\u2060\u2061\u2064\u206f\u2800\u3164\ufe00\ufe0f\ufeff",
    *"\uffa0\ufff0\U0001bca0\U0001d173\U000e0001\U000e0020\U000e0100\U000e0fff",
]


def fullwidth(text):
    """``text`` with ASCII letters and digits in their full-width forms (NFKC undoes it)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


@st.composite
def spellings(draw):
    """A recipient's name and another way of writing the same name."""
    words = draw(
        st.lists(
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789@.-", min_size=1, max_size=8),
            min_size=1,
            max_size=3,
        )
    )
    name = " ".join(words)
    other = draw(st.sampled_from([" ", "  ", "\u00a0", "\u3000"])).join(words)
    case = draw(st.sampled_from([str.upper, str.title, str.swapcase, str.lower]))
    other = case(other)
    if draw(st.booleans()):
        other = fullwidth(other)
    other = draw(st.sampled_from(SPACES)) + other + draw(st.sampled_from(SPACES))
    return name, other


class TestNames:
    @given(pair=spellings())
    def test_one_recipient_however_written(self, pair):
        """Case, surrounding and repeated spaces, and compatibility forms name one recipient."""
        name, other = pair
        quotas = twpolicy.open_quotas("memory://")
        quotas.reserve(other, tweet_ids=7, hydrated_objects=3)
        assert MONTH - 7 == quotas.remaining(name)
        assert DAY - 3 == quotas.remaining(name, "hydrated_objects")
        quotas.register(other, entity=other.upper())
        assert quotas.recipient(name).entity == quotas.recipient(other).name

    def test_names_on_every_backend(self, quotas):
        """Stores keep the normalised name: a reopened or shared store agrees."""
        quotas.register("  Acme\u3000Research ", entity="ACME")
        quotas.reserve("acme research", tweet_ids=5)
        assert "acme research" == quotas.recipient("ACME RESEARCH").name
        assert "acme" == quotas.recipient("acme research").entity
        assert MONTH - 5 == quotas.remaining("\uff21cme research")

    @given(text=st.text(max_size=20))
    def test_normal_names_are_stable(self, text):
        """Normalising twice changes nothing; what is refused holds nothing printable."""
        try:
            once = twpolicy._stores._quotas.normal_name(text)
        except twpolicy.ConfigurationError:
            return
        assert once == twpolicy._stores._quotas.normal_name(once)
        assert once == once.strip()
        assert once.isprintable()

    @given(
        pair=spellings(),
        hidden=st.sampled_from(INVISIBLE),
        where=st.integers(min_value=0),
    )
    def test_invisible_characters_never_make_another_recipient(self, pair, hidden, where):
        """A character that prints as nothing, anywhere in a name, is refused or changes nothing.

        Default-ignorable code points (Hangul fillers, joiners, variation selectors, tags)
        pass `str.isprintable`: each would make a look-alike recipient with fresh caps.
        """
        name, other = pair
        at = where % (len(other) + 1)
        hidden_name = other[:at] + hidden + other[at:]
        quotas = twpolicy.open_quotas("memory://")
        quotas.reserve(name, tweet_ids=MONTH)
        try:
            reservation = quotas.reserve(hidden_name, tweet_ids=1)
        except twpolicy.ConfigurationError:
            return  # refused
        assert not reservation.granted, f"{hidden_name!r} was counted apart from {name!r}"

    @pytest.mark.parametrize("name", ["a\tb", "zero\u200bwidth", "bom\ufeff", "\u200b"])
    def test_hidden_characters_are_refused(self, quotas, name):
        """Invisible and control characters would make look-alike names: refused."""
        with pytest.raises(twpolicy.ConfigurationError):
            quotas.reserve(name, tweet_ids=1)


# Each move: ("register", recipient, entity), ("reserve", recipient, IDs) or ("wait", "", days).
_moves = st.lists(
    st.one_of(
        st.tuples(
            st.just("register"),
            st.sampled_from(["ana", "bob"]),
            st.sampled_from(["lab", "uni", "solo", None]),
        ),
        st.tuples(
            st.just("reserve"), st.sampled_from(["ana", "bob", "Ana "]), st.integers(0, 900_000)
        ),
        st.tuples(st.just("wait"), st.just(""), st.integers(0, 40)),
    ),
    min_size=1,
    max_size=12,
)


class TestCountsFollowTheRecipient:
    @given(moves=_moves)
    def test_moving_entity_never_resets_a_window(self, moves):
        """However a recipient is moved between entities, no recipient and no entity receives
        more than 1,500,000 Tweet IDs in any 30 days."""
        clock = FakeClock()
        quotas = twpolicy.open_quotas("memory://", clock=clock)
        entity = {"ana": "ana", "bob": "bob"}
        sent = []  # (time, recipient, entity then, amount)
        for move, name, arg in moves:
            if move == "register":
                quotas.register(name, entity=arg)
                entity[name] = name if arg is None else arg
            elif move == "reserve":
                who = name.strip().lower()
                if quotas.reserve(name, tweet_ids=arg).granted:
                    sent.append((clock.now, who, entity[who], arg))
            else:
                clock.advance(days=arg)
        for at, _, _, _ in sent:
            window = [s for s in sent if at - timedelta(days=30) < s[0] <= at]
            for key in ("ana", "bob"):
                assert sum(n for _, who, _, n in window if who == key) <= MONTH
            for place in {e for _, _, e, _ in window}:
                assert sum(n for _, _, e, n in window if e == place) <= MONTH

    def test_the_instance(self, quotas):
        """Re-registering under another entity no longer makes the window's count vanish."""
        quotas.register("ana", entity="lab")
        quotas.reserve("ana", tweet_ids=MONTH - 10)
        quotas.register("ana", entity="ana-alone")
        assert 10 == quotas.remaining("ana")
        assert 10 == quotas.remaining("ana-alone")  # the new entity carries ana's count
        assert quotas.remaining("lab") == 10  # ... and the old one keeps it

    def test_registering_after_exporting(self, quotas):
        """Counts made before a recipient was registered go with it into its entity."""
        quotas.reserve("ana", tweet_ids=1000)
        quotas.register("ana", entity="lab")
        quotas.register("bob", entity="lab")
        assert MONTH - 1000 == quotas.remaining("bob")


class TestRequester:
    def test_counted_per_user_of_the_service(self, quotas):
        """Hydrated objects count against the person who asked, across recipients."""
        assert quotas.reserve("lab", hydrated_objects=DAY - 5, requested_by="Ana").granted
        refused = quotas.reserve("uni", hydrated_objects=6, requested_by="ana ")
        assert ("requested_objects",) == refused.exceeded
        assert DAY == quotas.remaining("uni", "hydrated_objects")
        assert 5 == quotas.remaining("ana", "requested_objects")
        assert quotas.reserve("uni", hydrated_objects=6, requested_by="bob").granted

    def test_released_with_the_rest(self, quotas):
        """A released reservation gives back the requester's count too."""
        reservation = quotas.reserve("lab", hydrated_objects=10, requested_by="ana")
        assert quotas.release(reservation.reservation_id)
        assert DAY == quotas.remaining("ana", "requested_objects")
        assert DAY == quotas.remaining("lab", "hydrated_objects")

    def test_the_usage_names_the_requester(self, quotas):
        """usage(..., requested_by=) adds the requester's quota, keyed by the normal name."""
        quotas.reserve("lab", hydrated_objects=4, requested_by="ANA")
        usage = quotas.usage("lab", requested_by="ana")
        assert ["tweet_ids", "hydrated_objects", "requested_objects"] == [u.quota for u in usage]
        assert ("ana", 4, "I.F.2.a") == (usage[-1].key, usage[-1].used, usage[-1].clause)

    def test_public_cannot_be_registered(self, quotas):
        """twpolicy.PUBLIC is one standard entity whatever the spelling."""
        with pytest.raises(twpolicy.ConfigurationError, match="cannot be registered"):
            quotas.register(twpolicy.PUBLIC.upper())

import json
import logging
import uuid
import warnings
from datetime import datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy import Action, ActionKind, Effect, Guard, Mode, Outcome

USER = "2244994945"
NOTICE = {"notice": "post-dialog-v1", "method": "ui_explicit", "evidence": "req-1"}


def post(**changes):
    """A v2 write on USER's behalf (deleting a Tweet).

    Not one the bulk caps count, so `Guard.enforce` can decide it (a counted write obliges
    a `CountAction`, which only `Guard.permit` carries out).
    """
    fields = {
        "kind": ActionKind.API_CALL,
        "operation": "DELETE /2/tweets/:id",
        "category": "write",
        "acting_user_id": USER,
        "scopes": {"tweet.write"},
    }
    fields.update(changes)
    return Action(**fields)


@pytest.fixture(name="recorder")
def _recorder(twpolicy_decisions):
    """The decisions of ``guard`` (the plugin's twpolicy_decisions)."""
    return twpolicy_decisions


class Clock:
    """A clock the test moves."""

    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture(name="guard")
def _guard(twpolicy_guard):
    """An enforcing guard with an empty in-memory ledger, recording its decisions."""
    return twpolicy_guard


@attrs.frozen
class Exploding:
    """A rule that always raises."""

    id = "test.exploding"
    clause = "I.B.7"
    error = twpolicy.StandaloneGeoError

    def evaluate(self, action, guard):
        raise RuntimeError("secret tweet text that must not be logged")


@attrs.frozen
class AlwaysDeny:
    """A rule that refuses everything."""

    id = "test.deny"
    clause = "I.F.2"
    error = twpolicy.RedistributionError

    def evaluate(self, action, guard):
        return Outcome.deny("nope", "refused for the test.", "do not do that.")


class TestConsent:
    def test_default_deny_explains_itself(self, guard):
        """Without a consent record the write is denied with a reason and a remediation."""
        decision = guard.check(post())
        assert not decision.allowed
        assert Effect.DENY == decision.effect
        assert "consent.required" == decision.rule
        assert "I.C.1.a" == decision.clause
        assert "no_consent_record" == decision.reason
        assert USER in decision.message
        assert "grant" in decision.remediation

    def test_enforce_raises_consent_required_naming_the_fix(self, guard):
        """enforce() raises ConsentRequired carrying the decision and the fix."""
        with pytest.raises(twpolicy.ConsentRequired) as info:
            guard.enforce(post())
        assert "I.C.1.a" in str(info.value)
        assert "tweet.write" in str(info.value)
        assert info.value.decision.reason == "no_consent_record"

    def test_consent_allows(self, guard):
        """A recorded consent for every scope lets the write through."""
        record = guard.consent.grant(USER, ["tweet.write"], **NOTICE)
        decision = guard.enforce(post())
        assert decision.allowed
        assert "consent_active" == decision.reason
        assert record.record_id in decision.outcomes[-1].facts["consent_record_ids"]
        assert "consent.required" == decision.rule

    def test_every_scope_is_needed(self, guard):
        """Consent for one scope does not cover another; the missing scope's clause is cited."""
        guard.consent.grant(USER, ["tweet.write"], **NOTICE)
        decision = guard.check(post(scopes={"tweet.write", "geo.write"}))
        assert "no_consent_record" == decision.reason
        assert "I.C.5" == decision.clause
        assert "geo.write" in decision.message

    def test_revoked_consent_denies(self, guard):
        """A revoke takes effect on the next check."""
        guard.consent.grant(USER, ["tweet.write"], **NOTICE)
        guard.consent.revoke(USER)
        assert not guard.check(post()).allowed

    def test_no_acting_user(self, guard):
        """A write with no known acting user is refused, not guessed."""
        decision = guard.check(post(acting_user_id=None))
        assert "no_acting_user" == decision.reason

    def test_no_ledger(self):
        """A guard without a ledger refuses writes (fail closed)."""
        decision = Guard().check(post())
        assert "no_consent_ledger" == decision.reason
        assert not decision.allowed

    def test_reads_need_no_consent(self, guard):
        """An action that needs no scope is not asked about consent."""
        decision = guard.check(post(operation="GET /2/tweets", category="public_read", scopes=()))
        assert decision.allowed
        assert "endpoint.known" == decision.rule


class TestSingleUseConsent:
    """A single-use consent that does not cover the action says why, and re-asks the user."""

    DIGEST = "c" * 64

    def assert_reasks(self, decision, reason):
        assert not decision.allowed
        assert reason == decision.reason
        assert "I.C.1.a" == decision.clause
        assert "single-use consent" in decision.message
        assert f"content_sha256={self.DIGEST!r}" in decision.remediation
        assert "ask again" in decision.remediation

    def test_spent(self, guard):
        """Used once, the consent does not cover the same content again."""
        guard.consent.grant(USER, ["tweet.write"], content_sha256=self.DIGEST, **NOTICE)
        with guard.permit(post(content_sha256=self.DIGEST)):
            pass
        decision = guard.check(post(content_sha256=self.DIGEST))
        self.assert_reasks(decision, "single_use_consent_spent")
        assert "already used" in decision.message

    def test_expired(self):
        """Past its expiry, the consent covers nothing, and the refusal says it lapsed."""
        now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
        ledger = twpolicy.open_ledger("memory://", clock=lambda: now[0])
        guard = Guard(ledger=ledger, clock=lambda: now[0])
        expires = datetime(2026, 1, 2, tzinfo=timezone.utc)
        ledger.grant(
            USER, ["tweet.write"], content_sha256=self.DIGEST, expires_at=expires, **NOTICE
        )
        assert guard.check(post(content_sha256=self.DIGEST)).allowed
        now[0] = expires
        self.assert_reasks(
            guard.check(post(content_sha256=self.DIGEST)), "single_use_consent_expired"
        )

    def test_mismatch_names_the_content_asked_for(self, guard):
        """Other content (edited text, an added geotag) is not what the user approved."""
        guard.consent.grant(USER, ["tweet.write"], content_sha256="d" * 64, **NOTICE)
        decision = guard.check(post(content_sha256=self.DIGEST))
        self.assert_reasks(decision, "single_use_consent_mismatch")
        assert "different content" in decision.message
        assert "d" * 64 not in decision.remediation

    def test_taken_by_another_action(self, guard):
        """Held by another action in progress, the consent is not shared."""
        guard.consent.grant(USER, ["tweet.write"], content_sha256=self.DIGEST, **NOTICE)
        with guard.permit(post(content_sha256=self.DIGEST)):
            decision = guard.check(post(content_sha256=self.DIGEST))
        self.assert_reasks(decision, "single_use_consent_taken")

    def test_a_general_consent_still_covers(self, guard):
        """A spent single-use consent does not hide a general one."""
        guard.consent.grant(USER, ["tweet.write"], content_sha256=self.DIGEST, **NOTICE)
        guard.consent.grant(USER, ["tweet.write"], **NOTICE)
        for _ in range(2):
            with guard.permit(post(content_sha256=self.DIGEST)):
                pass
        assert guard.check(post(content_sha256=self.DIGEST)).allowed

    def test_revoked_is_no_consent(self, guard):
        """A withdrawn single-use consent is simply no consent."""
        guard.consent.grant(USER, ["tweet.write"], content_sha256=self.DIGEST, **NOTICE)
        guard.consent.revoke(USER)
        assert "no_consent_record" == guard.check(post(content_sha256=self.DIGEST)).reason

    def test_a_ledger_without_status_keeps_the_general_reason(self):
        """A custom ledger with only check() gets the general refusal."""

        class CheckOnly:
            def check(self, user_id, scope, *, content_sha256=None, at=None):
                return None

        decision = Guard(ledger=CheckOnly()).check(post(content_sha256=self.DIGEST))
        assert "no_consent_record" == decision.reason

    def test_shell_remedy_names_the_content(self, tmp_path):
        """With a ledger a shell can reach, the command re-grants for the same hash."""
        url = f"sqlite:///{tmp_path / 'consent.db'}"
        with twpolicy.open_ledger(url) as ledger:
            ledger.grant(USER, ["tweet.write"], content_sha256="d" * 64, **NOTICE)
            decision = Guard(ledger=ledger).check(post(content_sha256=self.DIGEST))
        assert f"--content-sha256 {self.DIGEST}" in decision.remediation
        assert "--consent-db" in decision.remediation


class TestUnknownRoute:
    def test_unknown_route_is_refused(self, guard):
        """An API call the catalog could not classify is denied, naming the route."""
        with pytest.raises(twpolicy.UnknownRoute, match="POST /2/made/up"):
            guard.enforce(post(operation="POST /2/made/up", category=None))

    def test_other_kinds_are_not_routes(self, guard):
        """Only API calls are checked against the catalog."""
        decision = guard.check(Action(kind="store", operation="save"))
        assert decision.allowed
        assert "no_rule_applies" == decision.reason


class TestModes:
    @pytest.mark.parametrize("mode", ["warn", "monitor"])
    def test_non_enforcing_modes_proceed_and_log(self, mode, recorder):
        """warn and monitor let the action proceed and still record the deny."""
        guard = Guard(ledger=twpolicy.open_ledger("memory://"), mode=mode, sinks=[recorder])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            decision = guard.enforce(post())
        assert decision.allowed
        assert not decision.enforced
        assert Effect.DENY == decision.effect
        assert Mode(mode) == decision.mode
        assert [decision] == recorder.decisions
        assert (mode == "warn") == any(
            issubclass(w.category, twpolicy.TwPolicyWarning) for w in caught
        )

    def test_warning_explains(self):
        """The warn-mode warning carries the same explanation as the error would."""
        guard = Guard(ledger=twpolicy.open_ledger("memory://"), mode="warn")
        with pytest.warns(twpolicy.TwPolicyWarning, match="I.C.1.a"):
            guard.enforce(post())

    def test_per_rule_mode(self, recorder):
        """A per-rule mode overrides the guard's mode for that rule only."""
        guard = Guard(
            ledger=twpolicy.open_ledger("memory://"),
            rule_modes={"consent.required": "monitor"},
            sinks=[recorder],
        )
        assert guard.enforce(post()).allowed
        with pytest.raises(twpolicy.UnknownRoute):
            guard.enforce(post(category=None))

    def test_enforced_deny_wins_over_monitored_deny(self):
        """When several rules deny, an enforced one decides."""
        guard = Guard(
            ledger=twpolicy.open_ledger("memory://"),
            rules=[*twpolicy.default_rules(), AlwaysDeny()],
            rule_modes={"consent.required": "monitor"},
        )
        decision = guard.check(post())
        assert "test.deny" == decision.rule
        assert {"consent.required", "test.deny", "endpoint.known"} == {
            o.rule for o in decision.outcomes
        }

    def test_policy_version_reflects_modes(self):
        """Changing a rule's mode changes the policy version stamped on decisions."""
        a = Guard(mode="enforce").policy_version
        b = Guard(mode="warn").policy_version
        assert a != b
        assert a.startswith(f"twpolicy {twpolicy.__version__}+rules.")

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"mode": "audit"},
            {"rule_modes": {"no.such.rule": "warn"}},
            {"rule_modes": {"consent.required": "loud"}},
            {"rules": [AlwaysDeny(), AlwaysDeny()]},
        ],
    )
    def test_bad_configuration(self, kwargs):
        """Unknown modes, unknown rule ids and duplicate rules are configuration errors."""
        with pytest.raises(twpolicy.ConfigurationError):
            Guard(**kwargs)


class TestFailClosed:
    def test_rule_error_is_a_deny(self, recorder):
        """A rule that raises denies with reason rule_error, never allows."""
        guard = Guard(rules=[Exploding()], sinks=[recorder])
        decision = guard.check(Action(kind="store", operation="save"))
        assert not decision.allowed
        assert "rule_error" == decision.reason
        with pytest.raises(twpolicy.StandaloneGeoError):
            guard.enforce(Action(kind="store", operation="save"))

    def test_rule_error_does_not_leak_the_exception_text(self, recorder):
        """A foreign exception's message (it may quote payload text) is not repeated."""
        guard = Guard(rules=[Exploding()], sinks=[recorder])
        decision = guard.check(Action(kind="store", operation="save"))
        assert "secret" not in json.dumps(decision.to_record())
        assert "RuntimeError" in decision.message

    def test_store_failure_denies(self):
        """A ledger that raises StoreUnavailable makes writes refused, with its message."""

        class Broken:
            def check(self, *args, **kwargs):
                raise twpolicy.StoreUnavailable("consent store /x/y.db is unreadable")

        decision = Guard(ledger=Broken()).check(post())
        assert "rule_error" == decision.reason
        assert "unreadable" in decision.message

    def test_failing_sink_does_not_change_the_decision(self, caplog):
        """A sink that raises is reported; the decision stands."""

        def bad_sink(decision):
            raise OSError("disk full")

        guard = Guard(ledger=twpolicy.open_ledger("memory://"), sinks=[bad_sink])
        with caplog.at_level(logging.ERROR, logger="twpolicy"):
            decision = guard.check(post())
        assert not decision.allowed
        assert "decision sink" in caplog.text


class TestDecisionLog:
    def test_every_decision_is_logged_as_json(self, guard, caplog):
        """Allows and denies both reach the twpolicy.decisions logger as JSON records."""
        with caplog.at_level(logging.INFO, logger="twpolicy.decisions"):
            denied = guard.check(post())
            guard.consent.grant(USER, ["tweet.write"], **NOTICE)
            allowed = guard.check(post())
        records = [json.loads(r.getMessage()) for r in caplog.records]
        assert [denied.decision_id, allowed.decision_id] == [r["decision_id"] for r in records]
        assert ["WARNING", "INFO"] == [r.levelname for r in caplog.records]
        assert records[0] == caplog.records[0].decision

    def test_decision_fields(self, guard):
        """A decision carries ids, timing, version and the action's summary."""
        decision = guard.check(post(content_sha256="ab" * 32, count=1))
        record = decision.to_record()
        assert record["operation"] == "DELETE /2/tweets/:id"
        assert record["content_sha256"] == "ab" * 32
        assert record["policy_version"] == guard.policy_version
        assert decision.evaluation_ns > 0
        assert decision.timestamp.tzinfo is not None
        assert len({guard.check(post()).decision_id for _ in range(5)}) == 5

    def test_clock_is_injectable(self):
        """Decisions are stamped with the guard's clock."""
        moment = datetime(2030, 1, 2, tzinfo=timezone.utc)
        guard = Guard(clock=lambda: moment)
        assert moment == guard.check(post()).timestamp

    @given(
        text=st.text(min_size=12).filter(lambda t: t.strip() == t and len(set(t)) > 6),
        nested=st.dictionaries(st.sampled_from(["text", "full_text", "dm"]), st.text()),
    )
    @example(text="endpoint.kno", nested={})  # part of a rule's id: not the payload's doing
    @example(text="Do not post without consent", nested={"text": "Do not post"})
    def test_payload_text_is_never_logged(self, text, nested):
        """Whatever the payload holds, no part of its text reaches the decision record."""
        guard = Guard(ledger=twpolicy.open_ledger("memory://"))
        payload = {"text": text, "nested": nested, "token": text[::-1]}
        for make in (
            lambda p: post(payload=p),
            lambda p: post(payload=p, category=None),
            lambda p: Action(kind="export", operation="dehydrate", payload=p, recipient="lab"),
        ):
            # A text the record holds anyway (a rule's id, a clause's words) proves nothing.
            empty = "\x00".join(_strings(guard.check(make({"text": ""})).to_record()))
            assume(text not in empty and text[::-1] not in empty)
            values = "\x00".join(_strings(guard.check(make(payload)).to_record()))
            assert text not in values
            assert text[::-1] not in values

    def test_payload_is_not_part_of_equality_or_repr(self):
        """Two actions differing only in payload are equal, and the repr hides it."""
        assert post(payload={"text": "a"}) == post(payload={"text": "b"})
        assert "secret" not in repr(post(payload={"text": "secret"}))


class TestConfig:
    def write(self, tmp_path, text):
        path = tmp_path / "twpolicy.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def test_loads_mode_and_rule_modes(self, tmp_path):
        """A [twpolicy] table sets the default mode and per-rule modes."""
        path = self.write(
            tmp_path,
            '[twpolicy]\nmode = "warn"\nconsent_ledger = "memory://"\n'
            '[twpolicy.rules]\n"endpoint.known" = "enforce"\n',
        )
        guard = Guard.from_config(path)
        assert Mode.WARN == guard.mode
        assert Mode.ENFORCE == guard.mode_of("endpoint.known")
        assert Mode.WARN == guard.mode_of("consent.required")

    def test_pyproject_table(self, tmp_path):
        """A pyproject.toml with [tool.twpolicy] works too."""
        path = self.write(tmp_path, '[tool.twpolicy]\nmode = "monitor"\n')
        assert Mode.MONITOR == Guard.from_config(path).mode

    def test_default_guard_reads_the_environment(self, tmp_path, monkeypatch):
        """TWPOLICY_CONFIG configures the default guard."""
        path = self.write(tmp_path, '[twpolicy]\nmode = "monitor"\n')
        monkeypatch.setenv("TWPOLICY_CONFIG", str(path))
        assert Mode.MONITOR == twpolicy.get_default_guard().mode

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("[twpolicy\nmode=", "not valid TOML"),
            ('mode = "warn"\n', "no \\[twpolicy\\] table"),
            ('[twpolicy]\nmode = "loud"\n', "unknown mode"),
            ('[twpolicy]\nmod = "warn"\n', "unknown key 'mod'"),
            ("[twpolicy]\nmode = 3\n", "must be a str"),
            ('[twpolicy]\n[twpolicy.rules]\n"consent.required" = "noisy"\n', "rules.consent"),
            ('[twpolicy]\n[twpolicy.rules]\n"no.such" = "warn"\n', "unknown rule"),
            ('[twpolicy]\nconsent_ledger = "redis://x"\n', "unknown consent ledger URL"),
        ],
    )
    def test_bad_files_are_configuration_errors(self, tmp_path, text, match):
        """A bad file raises ConfigurationError saying what is wrong."""
        with pytest.raises(twpolicy.ConfigurationError, match=match):
            Guard.from_config(self.write(tmp_path, text))

    def test_bad_file_leaves_the_default_guard_alone(self, tmp_path, monkeypatch):
        """A bad config raises on use, and a later fix is picked up: nothing half-applied."""
        path = self.write(tmp_path, '[twpolicy]\nmode = "loud"\n')
        monkeypatch.setenv("TWPOLICY_CONFIG", str(path))
        with pytest.raises(twpolicy.ConfigurationError):
            twpolicy.get_default_guard()
        path.write_text('[twpolicy]\nmode = "warn"\n', encoding="utf-8")
        assert Mode.WARN == twpolicy.get_default_guard().mode

    def test_missing_file(self, tmp_path):
        """A missing file is a ConfigurationError naming it."""
        with pytest.raises(twpolicy.ConfigurationError, match="cannot read"):
            Guard.from_config(tmp_path / "absent.toml")

    def test_binary_file(self, tmp_path):
        """A file that is not text is a ConfigurationError."""
        path = tmp_path / "junk.toml"
        path.write_bytes(b"\xff\xfe\x00junk")
        with pytest.raises(twpolicy.ConfigurationError):
            Guard.from_config(path)


class TestDefaultGuard:
    def test_default_guard_refuses_writes_until_consent(self):
        """The default guard enforces with an empty in-memory ledger."""
        guard = twpolicy.get_default_guard()
        assert guard is twpolicy.get_default_guard()
        with pytest.raises(twpolicy.ConsentRequired):
            guard.enforce(post())
        guard.consent.grant(USER, "tweet.write", **NOTICE)
        assert guard.enforce(post()).allowed

    def test_set_default_guard(self):
        """set_default_guard replaces it; None rebuilds a fresh one."""
        mine = Guard(mode="monitor")
        twpolicy.set_default_guard(mine)
        assert mine is twpolicy.get_default_guard()
        twpolicy.set_default_guard(None)
        assert mine is not twpolicy.get_default_guard()


class TestPermit:
    def test_refuses_like_enforce(self, guard):
        """A permit refuses exactly what enforce refuses, and lets the rest through."""
        with pytest.raises(twpolicy.ConsentRequired), guard.permit(post()):
            pytest.fail("the block must not run")
        guard.consent.grant(USER, ["tweet.write"], **NOTICE)
        with guard.permit(post()) as permit:
            pass
        assert ["endpoint.known", "consent.required"] == [o.rule for o in permit.decision.outcomes]

    def test_unobserved_allow_builds_no_decision(self):
        """With no sink and the decision logger quiet, an allow leaves no trace and no cost."""
        guard = Guard(ledger=twpolicy.open_ledger("memory://"))
        read = post(operation="GET /2/tweets", category="public_read", scopes=())
        before = twpolicy._guard._IDS.next()
        with guard.permit(read) as permit:
            pass
        after = twpolicy._guard._IDS.next()
        assert permit.decision is None
        assert int(before[-12:], 16) + 1 == int(after[-12:], 16)

    def test_unobserved_write_builds_its_decision_only_when_asked(self):
        """A held allow nobody observes builds no record, unless `Permit.decision` is read."""
        clock = Clock()
        guard = Guard(ledger=twpolicy.open_ledger("memory://", clock=clock), clock=clock)
        guard.consent.grant(USER, ["tweet.write"], **NOTICE)
        write = post(operation="POST /2/tweets")
        before = twpolicy._guard._IDS.next()
        with guard.permit(write) as permit:
            decided_at = clock.now
            clock.now += timedelta(seconds=5)
        after = twpolicy._guard._IDS.next()
        assert int(before[-12:], 16) + 1 == int(after[-12:], 16)
        assert permit.held.counted  # the count was reserved all the same
        decision = permit.decision
        assert decision is permit.decision  # built once
        assert decision.allowed
        assert decision.timestamp == decided_at
        assert decision.evaluation_ns > 0
        assert "automation.bulk_limit" in [o.rule for o in decision.outcomes]
        observed = Guard(ledger=guard.consent, clock=clock, sinks=[lambda d: None])
        with observed.permit(write) as seen:
            pass
        assert [o.rule for o in seen.decision.outcomes] == [o.rule for o in decision.outcomes]

    def test_observed_allow_is_logged(self, guard, recorder, caplog):
        """A sink, or the logger at INFO, receives allows from a permit as from check."""
        read = post(operation="GET /2/tweets", category="public_read", scopes=())
        with guard.permit(read):
            pass
        assert ["allow"] == [d.effect.value for d in recorder]
        quiet = Guard(ledger=twpolicy.open_ledger("memory://"))
        with caplog.at_level(logging.INFO, logger="twpolicy.decisions"), quiet.permit(read):
            pass
        assert 1 == len(caplog.records)

    def test_warns_in_warn_mode(self):
        """A deny in warn mode warns and lets the block run."""
        guard = Guard(ledger=twpolicy.open_ledger("memory://"), mode="warn")
        ran = []
        with pytest.warns(twpolicy.TwPolicyWarning, match="I.C.1.a"), guard.permit(post()):
            ran.append(True)
        assert [True] == ran

    def test_single_use_consent_is_spent_only_on_success(self, guard):
        """A failure gives a claimed single-use consent back; success spends it, once."""
        digest = "a" * 64
        guard.consent.grant(USER, ["tweet.write"], content_sha256=digest, **NOTICE)
        bound = post(content_sha256=digest)
        with pytest.raises(OSError, match="timeout"), guard.permit(bound):
            raise OSError("timeout")
        with guard.permit(bound) as permit:
            permit.fail("HTTP 503")
        with guard.permit(bound):
            pass
        kinds = [e.type.value for e in guard.consent.events()]
        assert ["granted", "claimed", "released", "claimed", "released", "claimed", "used"] == kinds
        with pytest.raises(twpolicy.ConsentRequired), guard.permit(bound):
            pass

    def test_a_retry_within_the_first_try_is_decided_afresh(self, guard):
        """A retry holds the first try's claim, but a revoke meanwhile refuses it."""
        digest = "b" * 64
        guard.consent.grant(USER, ["tweet.write"], content_sha256=digest, **NOTICE)
        bound = post(content_sha256=digest)
        with guard.permit(bound) as first:
            with guard.permit(bound, within=first) as retry:
                pass
            assert retry.decision.allowed
            assert [] == retry.held.claims  # the first try holds it
            guard.consent.revoke(USER)
            with pytest.raises(twpolicy.ConsentRequired), guard.permit(bound, within=first):
                pass
            first.fail("the retry was refused")
        kinds = [e.type.value for e in guard.consent.events()]
        assert ["granted", "claimed", "revoked"] == kinds


class TestCheckIsPure:
    @settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        kind=st.sampled_from(["api_call", "export", "store", "stream_data"]),
        scopes=st.sets(st.sampled_from(["tweet.write", "like.write", "geo.write"])),
        bound=st.booleans(),
        recipient=st.sampled_from([None, "lab", "uni"]),
        count=st.integers(min_value=0, max_value=2_000_000),
        content=st.sampled_from(["tweet_ids", "user_ids", "objects", None]),
    )
    def test_check_changes_no_store(self, kind, scopes, bound, recipient, count, content):  # noqa: PLR0917
        """Whatever the action, check() leaves the consent and quota ledgers as they were."""
        guard = Guard(
            ledger=twpolicy.open_ledger("memory://"), quotas=twpolicy.open_quotas("memory://")
        )
        digest = "c" * 64
        guard.consent.grant(USER, ["tweet.write", "like.write"], **NOTICE)
        guard.consent.grant(USER, ["tweet.write"], content_sha256=digest, **NOTICE)
        guard.quotas.reserve("lab", tweet_ids=10)
        facts = {} if content is None else {"content": content}
        action = Action(
            kind=kind,
            operation="POST /2/tweets" if kind == "api_call" else "export",
            category="write" if kind == "api_call" else None,
            acting_user_id=USER,
            scopes=scopes,
            content_sha256=digest if bound else None,
            recipient=recipient,
            count=count,
            facts=facts,
            payload=[str(n) for n in range(min(count, 5))],
        )
        events = [e.to_dict() for e in guard.consent.events()]
        usage = {name: [u.used for u in guard.quotas.usage(name)] for name in ("lab", "uni")}
        guard.check(action)
        guard.check(action)
        assert events == [e.to_dict() for e in guard.consent.events()]
        assert usage == {
            name: [u.used for u in guard.quotas.usage(name)] for name in ("lab", "uni")
        }


class TestDecisionIds:
    def test_uuid_shaped_and_unique(self, guard):
        """Decision ids parse as UUIDs and never repeat."""
        ids = [guard.check(post()).decision_id for _ in range(50)]
        assert len(set(ids)) == 50
        assert all(str(uuid.UUID(i)) == i for i in ids)

    def test_a_forked_child_draws_a_new_prefix(self):
        """After reset (what a forked child runs) the prefix differs, so ids stay unique."""
        ids = twpolicy._guard._DecisionIds()
        first = ids.next()
        ids.reset()
        assert first[:24] != ids.next()[:24]

    def test_equal_allows_are_shared(self):
        """Outcome.allow returns one object for equal reason and facts."""
        a = Outcome.allow("route_known", facts={"category": "write"})
        assert a is Outcome.allow("route_known", facts={"category": "write"})
        assert a is not Outcome.allow("route_known", facts={"category": "app"})
        unhashable = {"x": [1]}
        assert Outcome.allow("odd", facts=unhashable) == Outcome.allow("odd", facts=unhashable)


@attrs.frozen
class Counting:
    """A rule that counts its evaluations; static when told so."""

    calls: list = attrs.field(factory=list)
    static: bool = True
    id = "test.counting"
    clause = "I.B.7"
    error = twpolicy.StandaloneGeoError

    def evaluate(self, action, guard):
        self.calls.append(action)
        return Outcome.allow("counted")

    def static_for(self, action):
        return self.static


class TestStaticOutcomes:
    def read(self):
        return post(operation="GET /2/tweets", category="public_read", scopes=())

    def test_static_outcomes_are_reused_for_the_same_action(self, recorder):
        """An action every rule calls static is evaluated once; decisions stay fresh."""
        rule = Counting()
        guard = Guard(rules=[*twpolicy.default_rules(), rule], sinks=[recorder])
        action = self.read()
        decisions = [guard.check(action) for _ in range(3)]
        assert 1 == len(rule.calls)
        assert 3 == len({d.decision_id for d in decisions})
        guard.check(self.read())
        assert 2 == len(rule.calls)

    @pytest.mark.parametrize("static", [False, None])
    def test_other_rules_are_evaluated_every_time(self, static):
        """A rule that is not static (or cannot say) is asked every time."""
        rule = Counting(static=bool(static))
        rules = [NoStatic(rule)] if static is None else [*twpolicy.default_rules(), rule]
        guard = Guard(rules=rules)
        action = self.read()
        for _ in range(3):
            guard.check(action)
        assert 3 == len(rule.calls)

    def test_writes_are_never_reused(self):
        """consent.required is static only for actions without scopes."""
        guard = Guard(ledger=twpolicy.open_ledger("memory://"))
        action = post()
        assert not guard.check(action).allowed
        guard.consent.grant(USER, ["tweet.write"], **NOTICE)
        assert guard.check(action).allowed

    def test_a_rule_error_is_not_reused(self):
        """An outcome from a rule that raised is evaluated again next time."""
        calls = []

        @attrs.frozen
        class Flaky:
            id = "test.flaky"
            clause = "I.B.7"
            error = twpolicy.StandaloneGeoError

            def evaluate(self, action, guard):
                calls.append(1)
                if len(calls) == 1:
                    raise RuntimeError("transient")
                return Outcome.allow("fine")

            def static_for(self, action):
                return True

        guard = Guard(rules=[Flaky()])
        action = self.read()
        assert "rule_error" == guard.check(action).reason
        assert guard.check(action).allowed
        assert guard.check(action).allowed
        assert 2 == len(calls)


@attrs.frozen
class NoStatic:
    """Wraps a rule, hiding its static_for."""

    inner: Counting
    id = "test.nostatic"
    clause = "I.B.7"
    error = twpolicy.StandaloneGeoError

    def evaluate(self, action, guard):
        return self.inner.evaluate(action, guard)


def _strings(value):
    """Every string value in a JSON document (keys are the record's own vocabulary)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)

"""``twpolicy decisions`` and ``twpolicy replay`` on a decision log written by a real guard."""

import gzip
import io
import json
import warnings
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy import Action, ActionKind, DecisionFile, Guard
from twpolicy._cli._main import main

START = datetime(2026, 11, 30, 9, tzinfo=timezone.utc)
GRANT = {"notice": twpolicy.Notice("post-dialog-v1"), "method": "ui_explicit", "evidence": "r1"}


def run(*argv, capsys):
    out = io.StringIO()
    code = main([str(a) for a in argv], out=out)
    return code, out.getvalue(), capsys.readouterr().err


class Clock:
    """Ten minutes on at every reading: decisions spread over days, deterministically."""

    def __init__(self):
        self.now = START

    def __call__(self):
        self.now += timedelta(minutes=10)
        return self.now


def post(user):
    return Action(
        kind=ActionKind.API_CALL,
        operation="POST /2/tweets",
        category="write",
        acting_user_id=user,
        scopes={"tweet.write"},
    )


def export(recipient, count, content="tweet_ids"):
    return Action(
        kind=ActionKind.EXPORT,
        operation="share",
        recipient=recipient,
        count=count,
        facts={"content": content},
        payload=[str(n) for n in range(1, count + 1)],
    )


@pytest.fixture(name="site")
def _site(tmp_path):
    """A log written in warn mode by a guard with a consent ledger and quota ledger on disk.

    User 12 consented; 13 and 14 did not (warned); one unknown route is refused (enforced);
    one export of IDs is allowed, one of hydrated objects warned.
    """
    clock = Clock()
    consent = f"sqlite:///{tmp_path / 'consent.db'}"
    quotas = f"sqlite:///{tmp_path / 'quotas.db'}"
    ledger = twpolicy.open_ledger(consent, clock=clock)
    quota_ledger = twpolicy.open_quotas(quotas)
    quota_ledger.register("lab", entity="uni")
    ledger.grant("12", ["tweet.write"], **GRANT)
    log = tmp_path / "decisions.jsonl"
    guard = Guard(
        ledger=ledger,
        quotas=quota_ledger,
        mode="warn",
        rule_modes={"endpoint.known": "enforce"},
        sinks=[DecisionFile(log)],
        clock=clock,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", twpolicy.TwPolicyWarning)
        for user in ("12", "13", "12", "14"):
            guard.check(post(user))
        guard.check(Action(kind=ActionKind.API_CALL, operation="GET /2/nowhere"))
        clock.now += timedelta(days=1)
        guard.check(export("lab", 3))
        guard.check(export("stranger", 2, "objects"))
    for name, mode in (("strict", "enforce"), ("loose", "monitor")):
        (tmp_path / f"{name}.toml").write_text(
            f'[twpolicy]\nmode = "{mode}"\nconsent_ledger = "{consent}"\n'
            f'quota_ledger = "{quotas}"\n'
        )
    return tmp_path


def decisions(site, *options, capsys):
    code, out, _ = run(
        "decisions", site / "decisions.jsonl", *options, "--format", "json", capsys=capsys
    )
    report = json.loads(out)
    return code, [(d["acting_user_id"] or d["recipient"], d["reason"]) for d in report["decisions"]]


class TestDecisions:
    def test_the_table_lists_every_decision_and_counts(self, site, capsys):
        code, out, _ = run("decisions", site / "decisions.jsonl", capsys=capsys)
        assert 0 == code
        assert "7 decisions matched (3 allowed, 1 refused, 3 warned)" in out
        assert "unknown_route" in out
        assert "-> stranger" in out

    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            (["--user", "13"], [("13", "no_consent_record")]),
            (["--user", "13", "--user", "14"], [("13", "no_consent_record"),
                                                ("14", "no_consent_record")]),
            (["--reason", "unknown_route"], [(None, "unknown_route")]),
            (["--rule", "endpoint.known"], [(None, "unknown_route")]),
            (["--status", "refused"], [(None, "unknown_route")]),
            (["--effect", "allow"], [("12", "consent_active"), ("12", "consent_active"),
                                     ("lab", "within_quota")]),
            (["--recipient", "stranger"], [("stranger", "hydrated_objects")]),
            (["--clause", "I.F"], [("lab", "within_quota"), ("stranger", "hydrated_objects")]),
            (["--clause", "I.F.2.b"], [("lab", "within_quota")]),
            (["--clause", "I.F.2.a"], []),
            (["--since", "2026-12-01T00:00:00Z"], [("lab", "within_quota"),
                                                  ("stranger", "hydrated_objects")]),
            (["--until", "2026-11-30T10:10:00Z"], [("12", "consent_active"),
                                                  ("13", "no_consent_record")]),
            (["--user", "12", "--status", "warned"], []),
        ],
    )  # fmt: skip
    def test_filters(self, site, options, expected, capsys):
        code, found = decisions(site, *options, capsys=capsys)
        assert 0 == code
        assert expected == found

    def test_jsonl_output_is_a_log_the_commands_read_again(self, site, capsys):
        code, out, _ = run(
            "decisions", site / "decisions.jsonl", "--status", "warned", "--format", "jsonl",
            capsys=capsys,
        )  # fmt: skip
        assert 0 == code
        (site / "warned.jsonl.gz").write_bytes(gzip.compress(out.encode()))
        _, again = decisions(site, "--status", "warned", capsys=capsys)
        smaller = json.loads(
            run("decisions", site / "warned.jsonl.gz", "--format", "json", capsys=capsys)[1]
        )
        assert 3 == smaller["matched"] == smaller["warned"]
        assert len(again) == smaller["matched"]

    def test_records_that_are_not_decisions_are_skipped_and_exit_2(self, site, capsys):
        log = site / "decisions.jsonl"
        log.write_text(
            log.read_text() + '{"decision_id": "x"}\nnot json\n{"decision_id": "y", '
            '"timestamp": "yesterday", "effect": "deny", "allowed": true}\n'
        )
        code, out, err = run("decisions", log, "--format", "json", capsys=capsys)
        assert 2 == code
        report = json.loads(out)
        assert (7, 3, 10) == (report["matched"], report["unreadable"], report["read"])
        assert "line 8: not a decision record (no timestamp)" in err
        assert "timestamp is not an ISO time" in err

    def test_a_missing_file_exits_2_and_the_others_are_read(self, site, capsys):
        code, out, err = run(
            "decisions", site / "absent.jsonl", site / "decisions.jsonl", capsys=capsys
        )
        assert 2 == code
        assert "cannot read" in err
        assert "7 decisions matched" in out

    def test_a_bad_time_is_a_usage_error(self, site, capsys):
        code, _, err = run(
            "decisions", site / "decisions.jsonl", "--since", "last week", capsys=capsys
        )
        assert 2 == code
        assert "--since" in err

    def test_quiet_writes_nothing_but_the_exit_code(self, site, capsys):
        code, out, err = run("decisions", site / "decisions.jsonl", "-q", capsys=capsys)
        assert (0, "", "") == (code, out, err)


class TestReplay:
    def replay(self, site, config, *options, capsys):
        code, out, err = run(
            "replay", site / "decisions.jsonl", "--config", site / config, "--format", "json",
            *options, capsys=capsys,
        )  # fmt: skip
        return code, json.loads(out), err

    def test_a_stricter_configuration_refuses_what_was_let_through(self, site, capsys):
        code, report, _ = self.replay(site, "strict.toml", capsys=capsys)
        assert 1 == code
        assert 0 == report["widening"]
        narrowed = {(c["acting_user_id"] or c["recipient"]) for c in report["changes"]}
        assert {"13", "14", "stranger"} == narrowed
        for change in report["changes"]:
            assert ("narrowing", "warned", "refused") == (
                change["change"], change["was"]["status"], change["now"]["status"]
            )  # fmt: skip
        assert 4 == report["unchanged"]  # consented posts, the allowed export, the refusal

    def test_a_looser_configuration_is_flagged_as_widening(self, site, capsys):
        code, report, _ = self.replay(site, "loose.toml", capsys=capsys)
        assert 1 == code
        ((change),) = report["changes"]
        assert ("widening", "GET /2/nowhere") == (change["change"], change["operation"])
        assert ("refused", "warned") == (change["was"]["status"], change["now"]["status"])
        code, out, _ = run(
            "replay", site / "decisions.jsonl", "--config", site / "loose.toml", capsys=capsys
        )
        assert "WIDENS" in out
        assert "1 WIDENING" in out

    def test_the_same_configuration_changes_nothing(self, site, capsys):
        config = site / "same.toml"
        config.write_text(
            (site / "strict.toml").read_text().replace('"enforce"', '"warn"')
            + '[twpolicy.rules]\n"endpoint.known" = "enforce"\n'
        )
        code, report, _ = self.replay(site, "same.toml", capsys=capsys)
        assert (0, 7, 7, []) == (code, report["replayed"], report["unchanged"], report["changes"])

    def test_the_stores_are_read_as_of_the_recorded_time(self, site, capsys):
        """The stores as they are now, at the recorded time.

        A consent granted after the decision does not cover it (the clock is the recorded
        time); one revoked since no longer covers it (the store is read as it is now).
        """
        ledger = twpolicy.open_ledger(f"sqlite:///{site / 'consent.db'}")
        ledger.grant("13", ["tweet.write"], **GRANT)
        ledger.revoke("12", ["tweet.write"], reason="user asked")
        code, report, _ = self.replay(site, "strict.toml", "--user", "13", capsys=capsys)
        assert (1, 1, "narrowing") == (code, report["narrowing"], report["changes"][0]["change"])
        code, report, _ = self.replay(site, "strict.toml", "--user", "12", capsys=capsys)
        assert (1, 2, 2) == (code, report["replayed"], report["narrowing"])

    def test_replay_writes_no_decision_log(self, site, capsys):
        config = site / "logging.toml"
        config.write_text((site / "strict.toml").read_text() + 'decision_log = "replayed.jsonl"\n')
        self.replay(site, "logging.toml", capsys=capsys)
        assert not (site / "replayed.jsonl").exists()

    def test_records_without_the_action_are_not_replayable(self, site, capsys):
        log = site / "decisions.jsonl"
        first = json.loads(log.read_text().splitlines()[0])
        del first["scopes"]
        log.write_text(log.read_text() + json.dumps(first) + "\n")
        code, report, err = self.replay(site, "strict.toml", capsys=capsys)
        assert 2 == code
        assert 1 == report["not_replayable"]
        assert "scopes" in err

    def test_a_missing_configuration_is_a_usage_error(self, site, capsys):
        code, _, err = run(
            "replay", site / "decisions.jsonl", "--config", site / "absent.toml", capsys=capsys
        )
        assert 2 == code
        assert "cannot read twpolicy config" in err


RECORDS = st.lists(
    st.fixed_dictionaries(
        {
            "clause": st.sampled_from(["I.C.1.a", "I.C.2", "I.F.2", "I.F.2.b.i", ""]),
            "rule": st.sampled_from(["consent.required", "endpoint.known", "redistribution.quota"]),
            "reason": st.sampled_from(["a", "b", "c"]),
            "acting_user_id": st.sampled_from([None, "12", "13"]),
            "recipient": st.sampled_from([None, "lab"]),
            "operation": st.sampled_from(["POST /2/tweets", "share"]),
            "status": st.sampled_from(["allowed", "warned", "refused"]),
            "minute": st.integers(0, 3 * 24 * 60),
        }
    ),
    max_size=20,
)
FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "--clause": st.lists(st.sampled_from(["I.C", "I.F.2", "I.C.2", "I"]), min_size=1),
        "--rule": st.lists(st.sampled_from(["consent.required", "endpoint.known"]), min_size=1),
        "--reason": st.lists(st.sampled_from(["a", "b"]), min_size=1),
        "--user": st.lists(st.sampled_from(["12", "13"]), min_size=1),
        "--recipient": st.lists(st.just("lab"), min_size=1),
        "--status": st.lists(st.sampled_from(["allowed", "warned", "refused"]), min_size=1),
        "--effect": st.lists(st.sampled_from(["allow", "deny"]), min_size=1),
        "--since": st.integers(0, 3 * 24 * 60),
        "--until": st.integers(0, 3 * 24 * 60),
    },
)


def _as_record(n, spec):
    status = spec["status"]
    return {
        "decision_id": str(n),
        "timestamp": (START + timedelta(minutes=spec["minute"])).isoformat(),
        "effect": "allow" if status == "allowed" else "deny",
        "allowed": status != "refused",
        **{k: v for k, v in spec.items() if k not in ("status", "minute")},
    }


def _expected(spec, filters):
    """The filters' meaning, written out plainly."""
    for option, values in filters.items():
        if option in ("--since", "--until"):
            if option == "--since" and spec["minute"] < values:
                return False
            if option == "--until" and spec["minute"] >= values:
                return False
            continue
        field = {
            "--clause": "clause", "--rule": "rule", "--reason": "reason",
            "--user": "acting_user_id", "--recipient": "recipient", "--status": "status",
        }.get(option)  # fmt: skip
        if option == "--effect":
            effect = "allow" if spec["status"] == "allowed" else "deny"
            if effect not in values:
                return False
        elif option == "--clause":
            parts = spec["clause"].split(".")
            prefixes = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
            if not prefixes & set(values):
                return False
        elif spec[field] not in values:
            return False
    return True


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=RECORDS, filters=FILTERS)
def test_filters_keep_exactly_the_matching_decisions(specs, filters, tmp_path, capsys):
    """Any log, any combination of filters: the command keeps what the filters mean."""
    log = tmp_path / "generated.jsonl"
    log.write_text("".join(json.dumps(_as_record(n, s)) + "\n" for n, s in enumerate(specs)))
    argv = []
    for option, values in filters.items():
        if option in ("--since", "--until"):
            argv += [option, (START + timedelta(minutes=values)).isoformat()]
        else:
            for value in values:
                argv += [option, value]
    code, out, _ = run("decisions", log, *argv, "--format", "json", capsys=capsys)
    assert 0 == code
    kept = [d["decision_id"] for d in json.loads(out)["decisions"]]
    assert [str(n) for n, s in enumerate(specs) if _expected(s, filters)] == kept

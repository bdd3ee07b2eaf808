"""Every command: one dialect, one exit-code table, no traceback whatever the arguments.

Closed standard streams, arguments that are not UTF-8, times at the edge of the calendar,
missing, read-only, damaged and in-memory stores, deprecated spellings, --quiet and
--format json.
"""

import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import twpolicy
from twpolicy._cli._main import build_parser, main

USER = "2244994945"
GRANT = ["--notice", "n", "--method", "m", "--evidence", "e"]
RECORD = json.dumps({"id": 30, "id_str": "30", "text": "x"}) + "\n"


def cli(*argv, env=None, **kwargs):
    """Run the installed command in a child process: (exit code, stdout, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "twpolicy", *argv],
        capture_output=True,
        check=False,
        env={**os.environ, **(env or {})},
        **kwargs,
    )
    out = done.stdout.decode("utf-8", "replace") if done.stdout is not None else ""
    err = done.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err
    return done.returncode, out, err


def run(*argv, capsys):
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture(autouse=True)
def _no_store_variables(monkeypatch):
    for name in ("TWPOLICY_CONSENT_DB", "TWPOLICY_QUOTA_DB", "TWPOLICY_COMPLIANCE_DB"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="data")
def _data(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(RECORD)
    return path


class TestStreams:
    def test_closed_stdin_does_not_break_file_inputs(self, data, tmp_path):
        close = {"preexec_fn": lambda: os.close(0)}  # `<&-`
        assert 0 == cli("scan", str(data), **close)[0]
        assert 0 == cli("dehydrate", str(data), str(tmp_path / "ids"), **close)[0]
        code, _, err = cli("scan", "-", **close)
        assert (2, True) == (code, "standard input is closed" in err)

    def test_closed_stdout(self, data, tmp_path):
        close = {"preexec_fn": lambda: os.close(1), "stdout": None}
        done = subprocess.run(
            [sys.executable, "-m", "twpolicy", "scan", str(data)],
            stderr=subprocess.PIPE,
            check=False,
            **close,
        )
        assert (2, True) == (done.returncode, b"standard output is closed" in done.stderr)
        assert b"Traceback" not in done.stderr
        report = tmp_path / "report.txt"
        done = subprocess.run(
            [sys.executable, "-m", "twpolicy", "scan", "-o", str(report), str(data)],
            stderr=subprocess.PIPE,
            check=False,
            **close,
        )
        assert 0 == done.returncode
        assert "1 record" in report.read_text()

    def test_progress_is_never_drawn_off_a_terminal(self, data):
        code, out, err = cli("scan", str(data))
        assert (0, "") == (code, err)
        assert "\r" not in out + err
        assert "\x1b" not in out + err


class TestArguments:
    @settings(max_examples=40, deadline=None)
    @given(
        option=st.sampled_from(["--notice", "--method", "--evidence", "--app-user-id"]),
        value=st.binary(min_size=1, max_size=8).filter(lambda b: not _utf8(b)),
    )
    def test_argument_values_that_are_not_utf8_are_usage_errors(
        self, tmp_path_factory, option, value
    ):
        db = tmp_path_factory.mktemp("c") / "c.db"
        values = {"--notice": "n", "--method": "m", "--evidence": "e", "--app-user-id": "a"}
        values[option] = os.fsdecode(value)  # as Linux hands Python undecodable bytes
        argv = ["consent", "grant", USER, "tweet.write", "--consent-db", f"sqlite:///{db}"]
        argv += [part for pair in values.items() for part in pair]
        with contextlib.redirect_stderr(io.StringIO()) as err:
            try:
                code = main(argv, out=io.StringIO())
            except SystemExit as exc:  # argparse's own usage error (a value that reads as "-x")
                code = exc.code
        assert 2 == code
        assert f"argument {option}" in err.getvalue()
        assert not db.exists()

    def test_non_utf8_arguments_through_the_console_script(self, tmp_path):
        db = f"sqlite:///{tmp_path / 'c.db'}".encode()
        code, out, err = cli(
            "consent", "grant", USER, "tweet.write", "--notice", b"\xff", "--method", "m",
            "--evidence", "e", "--consent-db", db,
        )  # fmt: skip
        assert (2, "") == (code, out)
        assert "--notice" in err
        assert not (tmp_path / "c.db").exists()

    def test_a_file_name_that_is_not_utf8_is_read_and_shown(self, tmp_path):
        name = os.fsencode(tmp_path) + b"/\xff.jsonl"
        with open(name, "w") as handle:  # noqa: PTH123  # a bytes path
            handle.write(RECORD)
        code, out, _ = cli("scan", name)
        assert 0 == code
        assert "\\xff.jsonl" in out
        code, out, _ = cli("scan", "--format", "json", name)
        assert json.loads(out)["files"][0]["file"].endswith("\\xff.jsonl")

    @settings(max_examples=60, deadline=None)
    @given(
        when=st.datetimes(timezones=st.timezones() | st.just(None)),
        offset=st.integers(-(24 * 60 - 1), 24 * 60 - 1),
        option=st.sampled_from(["--at", "--expires-at"]),
    )
    def test_any_time_is_accepted_or_a_usage_error(self, tmp_path_factory, when, offset, option):
        folder = tmp_path_factory.mktemp("t")
        url = f"sqlite:///{folder / 'c.db'}"
        text = when.isoformat()
        if when.tzinfo is None and offset:
            sign = "+" if offset > 0 else "-"
            text += f"{sign}{abs(offset) // 60:02}:{abs(offset) % 60:02}"
        if option == "--at":
            assert 0 == main(["consent", "grant", USER, "dm.write", *GRANT, "--consent-db", url])
            argv = ["consent", "show", USER, "--at", text, "--consent-db", url]
        else:
            argv = ["consent", "grant", USER, "dm.write", *GRANT, "--expires-at", text]
            argv += ["--consent-db", url]
        with contextlib.redirect_stderr(io.StringIO()) as err:
            code = main(argv, out=io.StringIO())
        assert code in (0, 2), err.getvalue()
        assert code == 0 or option in err.getvalue()

    def test_the_extreme_times_of_the_report(self, tmp_path, capsys):
        url = f"sqlite:///{tmp_path / 'c.db'}"
        run("consent", "grant", USER, "dm.write", *GRANT, "--consent-db", url, capsys=capsys)
        for text in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2030-01-01"):
            code, _, err = run("consent", "show", USER, "--at", text, "--consent-db", url,
                               capsys=capsys)  # fmt: skip
            assert (2, True) == (code, "--at" in err)

    @pytest.mark.parametrize("mib", ["0", "-1", "65537", "1e3", "x", str(2**70)])
    def test_max_record_mib_is_checked(self, data, mib, capsys):
        for command in (["scan", str(data)], ["dehydrate", str(data), "-"]):
            with pytest.raises(SystemExit) as info:
                main([*command, "--max-record-mib", mib])
            assert 2 == info.value.code
            assert "--max-record-mib" in capsys.readouterr().err


def _utf8(value):
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@contextlib.contextmanager
def _read_only(path):
    """Make ``path`` read-only even for root (chattr +i), or by mode for other users."""
    if os.geteuid() == 0 and shutil.which("chattr"):
        subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        path.chmod(0o444)
        path.parent.chmod(0o555)
        try:
            yield
        finally:
            path.parent.chmod(0o755)
            path.chmod(0o644)


class TestStores:
    @pytest.mark.parametrize(
        "argv",
        [
            ["consent", "show", USER, "--consent-db"],
            ["consent", "history", USER, "--consent-db"],
            ["consent", "verify", "--consent-db"],
            ["consent", "export", USER, "--consent-db"],
            ["quotas", "show", "uni", "--quota-db"],
            ["quotas", "list", "--quota-db"],
        ],
    )
    def test_reading_commands_never_create_a_store(self, tmp_path, argv, capsys):
        code, out, err = run(*argv, f"sqlite:///{tmp_path / 'typo.db'}", capsys=capsys)
        assert (3, "") == (code, out)
        assert "there is no" in err
        assert [] == list(tmp_path.iterdir())

    @pytest.mark.parametrize(
        "argv",
        [
            ["consent", "grant", USER, "tweet.write", *GRANT, "--consent-db", "memory://"],
            ["consent", "revoke", USER, "--consent-db", "memory://"],
            ["consent", "show", USER, "--consent-db", "memory://"],
            ["quotas", "register", "uni", "--quota-db", "memory://"],
            ["quotas", "list", "--quota-db", "MEMORY://"],
            ["dehydrate", "--recipient", "uni", "--quota-db", "memory://", "-", "-"],
        ],
    )
    def test_memory_stores_are_refused(self, argv, capsys):
        code, out, err = run(*argv, capsys=capsys)
        assert (2, "") == (code, out)
        assert "memory:// would keep nothing" in err

    @pytest.mark.parametrize(
        ("argv", "store"),
        [
            (["consent", "grant", "jack", "tweet.write", *GRANT], "--consent-db"),
            (["consent", "grant", USER, "no.scope", *GRANT], "--consent-db"),
            (["consent", "revoke", "jack"], "--consent-db"),
            (["quotas", "register", "uni", "--standing", "written_permission"], "--quota-db"),
            (["quotas", "register", " "], "--quota-db"),
        ],
    )
    def test_refused_writes_create_nothing(self, tmp_path, argv, store, capsys):
        code, _, err = run(*argv, store, f"sqlite:///{tmp_path / 's.db'}", capsys=capsys)
        assert 2 == code
        assert err.startswith("twpolicy: ")
        assert [] == list(tmp_path.iterdir())

    def test_one_dialect_with_environment_variables(self, tmp_path, data, monkeypatch, capsys):
        monkeypatch.setenv("TWPOLICY_CONSENT_DB", f"sqlite:///{tmp_path / 'c.db'}")
        monkeypatch.setenv("TWPOLICY_QUOTA_DB", f"sqlite:///{tmp_path / 'q.db'}")
        assert 0 == run("consent", "grant", USER, "dm.write", *GRANT, capsys=capsys)[0]
        assert 0 == run("quotas", "register", "uni", capsys=capsys)[0]
        code, _, err = run("dehydrate", "--recipient", "uni", str(data), str(tmp_path / "o"),
                           capsys=capsys)  # fmt: skip
        assert (0, "30\n") == (code, (tmp_path / "o").read_text())
        assert "1 unique Tweet ID from 1 record" in err

    @pytest.mark.parametrize(
        ("old", "new", "argv"),
        [
            ("--db", "--consent-db", ["consent", "verify"]),
            ("--ledger", "--quota-db", ["quotas", "list"]),
        ],
    )
    def test_old_spellings_still_work_and_say_so(self, tmp_path, old, new, argv, capsys):
        url = f"sqlite:///{tmp_path / 's.db'}"
        twpolicy.open_ledger(url).close() if new == "--consent-db" else twpolicy.open_quotas(
            url
        ).close()
        code, _, err = run(*argv, old, url, capsys=capsys)
        assert 0 == code
        assert f"{old} is deprecated" in err
        assert f"use {new}" in err

    def test_dehydrate_charges_only_an_existing_ledger(self, tmp_path, data, capsys):
        url = f"sqlite:///{tmp_path / 'typo.db'}"
        code, _, err = run("dehydrate", "--recipient", "uni", "--quota-db", url, str(data),
                           str(tmp_path / "o"), capsys=capsys)  # fmt: skip
        assert 3 == code
        assert "`twpolicy quotas register uni --quota-db" in err
        assert not (tmp_path / "o").exists()
        assert not (tmp_path / "typo.db").exists()

    def test_read_only_stores(self, tmp_path, capsys):
        consent, quotas = tmp_path / "c.db", tmp_path / "q.db"
        run("consent", "grant", USER, "dm.write", *GRANT, "--consent-db", f"sqlite:///{consent}",
            capsys=capsys)  # fmt: skip
        run("quotas", "register", "uni", "--quota-db", f"sqlite:///{quotas}", capsys=capsys)
        with _read_only(consent), _read_only(quotas):
            code, out, err = run("consent", "grant", USER, "tweet.write", *GRANT,
                                 "--consent-db", f"sqlite:///{consent}", capsys=capsys)  # fmt: skip
            assert (3, "") == (code, out)
            assert "could not write" in err
            code, _, err = run("quotas", "register", "lab", "--quota-db", f"sqlite:///{quotas}",
                               capsys=capsys)  # fmt: skip
            assert (3, True) == (code, "could not write" in err)
            code, out, _ = run("quotas", "list", "--quota-db", f"sqlite:///{quotas}",
                               "--format", "json", capsys=capsys)  # fmt: skip
            assert code in (0, 3)
            assert code == 3 or ["uni"] == [r["recipient"] for r in json.loads(out)]

    @pytest.mark.parametrize(
        ("column", "value"),
        [("registered_at", "yesterday"), ("standing", "royalty"), ("name", None)],
    )
    def test_a_damaged_quota_row_is_store_unavailable(self, tmp_path, column, value, capsys):
        path = tmp_path / "q.db"
        run("quotas", "register", "uni", "--quota-db", f"sqlite:///{path}", capsys=capsys)
        with sqlite3.connect(path) as connection:
            if value is None:
                connection.execute("DROP TABLE twpolicy_quota_recipients")
            else:
                connection.execute(f"UPDATE twpolicy_quota_recipients SET {column} = ?", (value,))  # noqa: S608  # the column is a test parameter
        connection.close()
        for argv in (["quotas", "list"], ["quotas", "show", "uni"]):
            code, out, err = run(*argv, "--quota-db", f"sqlite:///{path}", capsys=capsys)
            assert (3, "") == (code, out)
            assert err.startswith("twpolicy: ")

    def test_damaged_counts(self, tmp_path, capsys):
        path = tmp_path / "q.db"
        with twpolicy.open_quotas(f"sqlite:///{path}") as quotas:
            quotas.reserve("uni", tweet_ids=5)
        with sqlite3.connect(path) as connection:
            connection.execute("UPDATE twpolicy_quota_buckets SET units = 'many'")
        connection.close()
        code, _, err = run("quotas", "show", "uni", "--quota-db", f"sqlite:///{path}",
                           capsys=capsys)  # fmt: skip
        assert (3, True) == (code, "damaged" in err)


class TestReports:
    @pytest.fixture(name="stores")
    def _stores(self, tmp_path, monkeypatch, capsys):
        monkeypatch.setenv("TWPOLICY_CONSENT_DB", f"sqlite:///{tmp_path / 'c.db'}")
        monkeypatch.setenv("TWPOLICY_QUOTA_DB", f"sqlite:///{tmp_path / 'q.db'}")
        run("consent", "grant", USER, "dm.write", *GRANT, capsys=capsys)
        run("quotas", "register", "uni", capsys=capsys)

    COMMANDS = (
        ["clauses"],
        ["consent", "show", USER],
        ["consent", "history", USER],
        ["consent", "verify"],
        ["consent", "export", USER],
        ["consent", "revoke", "12"],
        ["quotas", "show", "uni"],
        ["quotas", "list"],
        ["quotas", "register", "lab"],
    )

    @pytest.mark.parametrize("argv", COMMANDS)
    def test_json_quiet_and_output_everywhere(self, stores, data, tmp_path, argv, capsys):
        code, out, _ = run(*argv, "--format", "json", capsys=capsys)
        assert 0 == code
        json.loads(out)
        assert (0, "", "") == run(*argv, "--quiet", capsys=capsys)
        report = tmp_path / "report.json"
        code, out, _ = run(*argv, "--format", "json", "--output", str(report), capsys=capsys)
        assert (0, "") == (code, out)
        json.loads(report.read_text())

    def test_scan_json_quiet_and_output(self, data, tmp_path, capsys):
        code, out, _ = run("scan", "--format", "json", str(data), capsys=capsys)
        assert (0, 1) == (code, json.loads(out)["totals"]["records"])
        assert (0, "", "") == run("scan", "--quiet", str(data), capsys=capsys)

    def test_dehydrate_json_summary(self, data, capsys):
        code, out, err = run("dehydrate", "--format", "json", str(data), "-", capsys=capsys)
        assert (0, "30\n") == (code, out)
        summary = json.loads(err)
        assert (1, 1, []) == (summary["records"], summary["unique_ids"], summary["skipped"])
        assert (0, "30\n", "") == run("dehydrate", "--quiet", str(data), "-", capsys=capsys)


def _choices(parser):
    return list(parser._subparsers._group_actions[0].choices)


class TestParser:
    """Only the command being run is imported; --help and typos see them all."""

    ALL = (
        "clauses",
        "consent",
        "scan",
        "dehydrate",
        "quotas",
        "decisions",
        "replay",
        "report",
        "comply",
        "compliance",
    )

    def test_without_arguments_every_command_is_added(self):
        """build_parser() lists every command, in the order of --help."""
        assert list(self.ALL) == _choices(build_parser())

    @pytest.mark.parametrize("argv", [["--help"], ["scna"], [], ["--version"]])
    def test_no_command_named_adds_every_command(self, argv):
        """Options before a command, or a misspelt one, get the full parser."""
        assert list(self.ALL) == _choices(build_parser(argv))

    @pytest.mark.parametrize(
        ("argv", "expected"),
        [(["scan", "x"], ["scan"]), (["compliance", "show"], ["comply", "compliance"])],
    )
    def test_a_named_command_is_added_alone(self, argv, expected):
        """Running a command imports its module only."""
        assert expected == _choices(build_parser(argv))

    def test_misspelt_command_lists_the_choices(self, capsys):
        """A typo is a usage error that lists every command."""
        with pytest.raises(SystemExit) as info:
            main(["scna"])
        assert 2 == info.value.code
        assert "dehydrate" in capsys.readouterr().err

    def test_arguments_default_to_the_command_line(self, monkeypatch):
        """Without argv, main reads sys.argv, and adds the command it names."""
        monkeypatch.setattr(sys, "argv", ["twpolicy", "clauses", "--format", "json"])
        out = io.StringIO()
        assert 0 == main(out=out)
        assert json.loads(out.getvalue())

"""The command line's last lines of defence: exit codes and messages for errors, closed
streams, interrupts and inputs that are not what they claim to be."""

import argparse
import gzip
import io
import json
import sys

import pytest

import twpolicy
from twpolicy import Action, ActionKind, DecisionFile, Guard
from twpolicy._clauses import coverage_markdown
from twpolicy._cli import _common, _main
from twpolicy._cli._main import main

USER = "2244994945"
#: The least a decision record holds.
DECISION = {
    "decision_id": "d",
    "timestamp": "2026-01-01T00:00:00Z",
    "effect": "deny",
    "allowed": False,
}


def run(*argv, capsys, out=None):
    out = io.StringIO() if out is None else out
    code = main([str(a) for a in argv], out=out)
    written = out.getvalue() if isinstance(out, io.StringIO) else ""
    return code, written, capsys.readouterr().err


class Failing(io.StringIO):
    """An output whose every write raises ``error``."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def write(self, text):
        raise self.error


@pytest.fixture(name="log")
def _log(tmp_path):
    """A decision log of two decisions: one write refused for want of consent, one export."""
    path = tmp_path / "decisions.jsonl"
    guard = Guard(mode="monitor", sinks=[DecisionFile(path)])
    guard.check(
        Action(
            kind=ActionKind.API_CALL,
            operation="POST /2/tweets",
            category="write",
            acting_user_id=USER,
            scopes={"tweet.write"},
        )
    )
    guard.check(
        Action(
            kind=ActionKind.EXPORT,
            operation="share",
            recipient="lab",
            count=1,
            facts={"content": "tweet_ids"},
            payload=["1"],
        )
    )
    return path


class TestMainErrors:
    def test_clauses_as_markdown(self, capsys):
        """``clauses --format markdown`` prints the coverage table the docs include."""
        assert (0, coverage_markdown(), "") == run("clauses", "--format", "markdown", capsys=capsys)

    def test_a_refusal_exits_1_with_its_explanation(self, monkeypatch, capsys):
        """A PolicyViolation escaping a command exits 1 and prints the decision's explanation."""
        decision = Guard().check(
            Action(
                kind=ActionKind.API_CALL,
                operation="DELETE /2/tweets/:id",
                category="write",
                acting_user_id=USER,
                scopes={"tweet.write"},
            )
        )
        assert not decision.allowed

        def refuse(args, out):
            raise twpolicy.ConsentRequired(decision)

        monkeypatch.setattr(_main, "_run_clauses", refuse)
        code, _, err = run("clauses", capsys=capsys)
        assert 1 == code
        assert decision.explain() + "\n" == err

    def test_a_closed_pipe_exits_2_quietly(self, capsys):
        """A reader that goes away (``| head``) ends the command with one line, no traceback."""
        code, _, err = run("clauses", capsys=capsys, out=Failing(BrokenPipeError()))
        assert 2 == code
        assert "twpolicy: the output was closed before everything was written\n" == err

    def test_an_interrupt_exits_130(self, capsys):
        """Ctrl-C exits 130 and says files being written were left alone."""
        code, _, err = run("clauses", capsys=capsys, out=Failing(KeyboardInterrupt()))
        assert 130 == code
        assert "interrupted; files being written were left as they were" in err

    def test_an_internal_error_is_reported_without_a_traceback(self, monkeypatch, capsys):
        """An unexpected exception exits 4 and asks for a report, without a traceback."""
        monkeypatch.delenv("TWPOLICY_DEBUG", raising=False)
        code, _, err = run("clauses", capsys=capsys, out=Failing(RuntimeError("boom")))
        assert 4 == code
        assert "internal error (RuntimeError: boom)" in err
        assert "TWPOLICY_DEBUG=1 shows the traceback" in err
        assert "Traceback" not in err

    def test_debug_shows_the_traceback(self, monkeypatch, capsys):
        """With TWPOLICY_DEBUG set, an internal error prints its traceback too."""
        monkeypatch.setenv("TWPOLICY_DEBUG", "1")
        code, _, err = run("clauses", capsys=capsys, out=Failing(RuntimeError("boom")))
        assert 4 == code
        assert "Traceback" in err
        assert "RuntimeError: boom" in err


class TestClosedStreams:
    def test_standard_input_closed(self, monkeypatch, capsys):
        """Reading ``-`` when the shell closed standard input is an input error naming the fix."""
        monkeypatch.setattr(sys, "stdin", None)
        code, out, err = run("decisions", "-", "--format", "json", capsys=capsys)
        assert 2 == code
        assert "standard input is closed; name a file instead of -" in err
        assert 0 == json.loads(out)["read"]

    def test_standard_output_closed(self, monkeypatch, log, capsys):
        """A report to a closed standard output is refused, naming --output."""
        monkeypatch.setattr(sys, "stdout", None)
        code = main(["decisions", str(log)])
        assert 2 == code
        assert "standard output is closed; name a file with --output" in capsys.readouterr().err

    def test_an_output_that_cannot_be_written(self, log, tmp_path, capsys):
        """An --output in a directory that does not exist is an input error naming it."""
        target = tmp_path / "missing" / "report.json"
        code, _, err = run("decisions", log, "--output", target, capsys=capsys)
        assert 2 == code
        assert f"cannot write {target}" in err

    def test_a_missing_input_beside_an_existing_output(self, log, tmp_path, capsys):
        """A missing input is not mistaken for the output; the others are still reported."""
        target = tmp_path / "report.json"
        target.write_text("old")
        code, _, err = run(
            "decisions", tmp_path / "absent.jsonl", log, "--format", "json", "-o", target,
            capsys=capsys,
        )  # fmt: skip
        assert 2 == code
        assert "cannot read" in err
        assert 2 == json.loads(target.read_text())["matched"]

    def test_warnings_with_standard_error_closed(self, monkeypatch):
        """With standard error closed, a warning is dropped rather than raising."""
        monkeypatch.setattr(sys, "stderr", None)
        _common.warn("twpolicy: nobody will read this")

    def test_quiet_says_nothing_of_records_it_skips(self, log, capsys):
        """With --quiet, records that are not decisions only show in the exit code."""
        log.write_text(log.read_text() + "[]\n")
        assert (2, "", "") == run("decisions", log, "--quiet", capsys=capsys)


class TestArguments:
    @pytest.mark.parametrize(("text", "expected"), [("1", 1), ("64", 64), ("65536", 65536)])
    def test_mebibytes_in_range(self, text, expected):
        """A whole number of MiB from 1 to 65536 is taken as it is."""
        assert expected == _common.mebibytes(text)

    @pytest.mark.parametrize(
        ("text", "message"),
        [("0", "must be from 1 to 65536, got 0"), ("lots", "'lots' is not a whole number")],
    )
    def test_mebibytes_out_of_range(self, text, message):
        """Zero, too much or not a number is a usage error saying which."""
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            _common.mebibytes(text)

    def test_a_store_url_that_is_not_text(self, monkeypatch, capsys):
        """A store URL from the environment that is not UTF-8 is refused, not passed on."""
        monkeypatch.setenv("TWPOLICY_CONSENT_DB", "sqlite:///\udcff.db")
        code, _, err = run("consent", "show", USER, capsys=capsys)
        assert 2 == code
        assert "the consent ledger URL" in err
        assert "is not UTF-8 text" in err

    def test_progress_messages_go_around_the_bar(self, capsys):
        """A message written while a bar is shown still reaches standard error."""
        bar = _common.Progress("reading", 10, show=True)
        try:
            bar.write("twpolicy: a warning\n")
        finally:
            bar.close()
        assert "twpolicy: a warning" in capsys.readouterr().err


class TestDecisionLogsThatAreNot:
    def decisions(self, path, capsys, *options):
        code, out, err = run("decisions", path, "--format", "json", *options, capsys=capsys)
        return code, json.loads(out), err

    @pytest.mark.parametrize(
        ("record", "why"),
        [
            ([1, 2], "not a decision record (a JSON object)"),
            (
                {**DECISION, "effect": "maybe"},
                "not a decision record (effect or allowed malformed)",
            ),
            ({**DECISION, "rule": 7}, "not a decision record (rule is not text)"),
        ],
    )
    def test_records_of_the_wrong_shape(self, tmp_path, record, why, capsys):
        """A record that is JSON but not a decision is skipped, saying what is wrong with it."""
        path = tmp_path / "log.jsonl"
        path.write_text(json.dumps(record) + "\n")
        code, report, err = self.decisions(path, capsys)
        assert (2, 1, 0) == (code, report["unreadable"], report["matched"])
        assert f"line 1: {why}; skipped" in err

    def test_only_the_first_twenty_are_listed(self, tmp_path, capsys):
        """Past twenty unreadable records, the rest are counted but not listed."""
        path = tmp_path / "log.jsonl"
        path.write_text("[]\n" * 25)
        code, report, err = self.decisions(path, capsys)
        assert (2, 25) == (code, report["unreadable"])
        assert 20 == err.count("skipped")

    def test_the_table_counts_what_was_skipped(self, log, capsys):
        """The table's summary line counts records that are not decisions."""
        log.write_text(log.read_text() + "[]\n")
        code, out, _ = run("decisions", log, capsys=capsys)
        assert 2 == code
        assert "3 records read from 1 file(s), 1 not decisions (skipped)" in out

    def test_a_zstd_log(self, tmp_path, capsys):
        """A zstd-compressed log is refused with the command that makes it readable."""
        path = tmp_path / "log.jsonl.zst"
        path.write_bytes(b"(\xb5/\xfd" + b"\0" * 20)
        code, report, err = self.decisions(path, capsys)
        assert (2, 0) == (code, report["read"])
        assert "decompress it first (zstd -d)" in err

    def test_a_directory(self, tmp_path, capsys):
        """A directory named as a log is an input error, and reading goes on."""
        code, report, err = self.decisions(tmp_path, capsys)
        assert (2, 0) == (code, report["read"])
        assert "Is a directory" in err

    def test_a_gzip_log_with_a_bad_checksum(self, log, tmp_path, capsys):
        """A gzip log whose checksum fails is read, then reported as possibly damaged."""
        data = bytearray(gzip.compress(log.read_bytes()))
        data[-8] ^= 0xFF  # the CRC-32 of the trailer
        path = tmp_path / "log.jsonl.gz"
        path.write_bytes(bytes(data))
        code, report, err = self.decisions(path, capsys)
        assert (2, 2) == (code, report["matched"])
        assert "the gzip checksum does not match" in err

import gzip
import io
import json
import os
import signal
import subprocess
import sys

import pytest

import twpolicy
from twpolicy._cli._dehydrate import IdReader
from twpolicy._cli._main import main

PAGE = {
    "data": [
        {
            "id": "21",
            "text": "...",
            "author_id": "5",
            "conversation_id": "21",
            "referenced_tweets": [{"type": "quoted", "id": "20"}],
            "entities": {"mentions": [{"start": 0, "end": 2, "username": "g", "id": "7"}]},
        }
    ],
    "includes": {
        "tweets": [{"id": "20", "text": "...", "author_id": "7"}],
        "users": [{"id": "5", "username": "e", "name": "E", "pinned_tweet_id": "19"}],
    },
    "__twarc": {"url": "https://api.twitter.com/2/tweets/search/all", "version": "2.14.0"},
}
V1 = {"id": 30, "id_str": "30", "text": "x", "user": {"id": 1, "id_str": "1", "screen_name": "a"}}


def jsonl(*payloads):
    """JSON Lines text of ``payloads``."""
    return "".join(json.dumps(p) + "\n" for p in payloads)


@pytest.fixture(name="dataset")
def _dataset(tmp_path):
    """Write a JSON Lines file and return its path."""

    def write(text, name="in.jsonl"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def run(*argv, stdin=None, capsys=None, monkeypatch=None):
    """Run `twpolicy dehydrate` in-process; return (code, stdout, stderr)."""
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    out = io.StringIO()
    code = main(["dehydrate", *map(str, argv)], out=out)
    return code, out.getvalue(), capsys.readouterr().err


class TestCommand:
    def test_unique_ids_in_order(self, dataset, tmp_path, capsys):
        """Every Tweet ID of every line, once, first seen first, and a summary on stderr."""
        source = dataset(jsonl(PAGE, V1, PAGE))
        code, _, err = run(source, tmp_path / "ids.txt", capsys=capsys)
        assert 0 == code
        assert "21\n20\n19\n30\n" == (tmp_path / "ids.txt").read_text()
        assert "4 unique Tweet IDs from 3 records" in err

    @pytest.mark.parametrize(("kind", "expected"), [("users", "5\n7\n1\n"), ("dms", "")])
    def test_kinds(self, dataset, tmp_path, capsys, kind, expected):
        """--kind picks User or DM IDs."""
        code, _, _ = run("--kind", kind, dataset(jsonl(PAGE, V1)), tmp_path / "o", capsys=capsys)
        assert 0 == code
        assert expected == (tmp_path / "o").read_text()

    def test_stdin_to_stdout(self, capsys, monkeypatch):
        """`-` reads stdin and writes stdout; progress and summary stay on stderr."""
        code, out, err = run("-", "-", stdin=jsonl(PAGE), capsys=capsys, monkeypatch=monkeypatch)
        assert (0, "21\n20\n19\n") == (code, out)
        assert "21" not in err

    def test_bad_lines_are_reported_and_skipped(self, dataset, tmp_path, capsys):
        """A bad line is named by its number and skipped; later lines are still read."""
        lossy = {"id": 1.5e17, "text": "x", "user": {"id": 1, "screen_name": "a"}}
        source = dataset(jsonl(PAGE) + "{not json\n\n" + jsonl(lossy, V1) + "7\n")
        code, _, err = run(source, tmp_path / "o", capsys=capsys)
        assert 2 == code  # written, but unreadable records were skipped
        assert "21\n20\n19\n30\n" == (tmp_path / "o").read_text()
        assert "line 2: " in err
        assert "line 4: " in err
        assert "line 6: skipped: a JSON int" in err
        assert "3 unreadable records skipped" in err

    def test_strict_stops_at_the_first_bad_line(self, dataset, tmp_path, capsys):
        """--strict stops at the first bad line, exits 2 and writes nothing."""
        source = dataset(jsonl(PAGE) + "{not json\n" + jsonl(V1))
        code, _, err = run("--strict", source, tmp_path / "o", capsys=capsys)
        assert 2 == code
        assert "line 2: " in err
        assert not (tmp_path / "o").exists()
        assert [] == list(tmp_path.glob(".dehydrate-*"))

    def test_refuses_to_write_over_its_input(self, dataset, capsys):
        """The input is never the output."""
        source = dataset(jsonl(PAGE))
        code, _, err = run(source, source, capsys=capsys)
        assert 2 == code
        assert "refusing to write over the input" in err
        assert jsonl(PAGE) == source.read_text()

    def test_missing_input(self, tmp_path, capsys):
        """An unreadable input is a usage error naming the file."""
        code, _, err = run(tmp_path / "absent.jsonl", tmp_path / "o", capsys=capsys)
        assert 2 == code
        assert "absent.jsonl" in err

    def test_progress_only_when_asked_or_a_tty(self, dataset, tmp_path, capsys, monkeypatch):
        """Progress goes to stderr with --progress; off a TTY it is silent otherwise."""
        monkeypatch.setattr(twpolicy._cli._common, "PROGRESS_DELAY", 0)
        monkeypatch.setattr(twpolicy._cli._common, "PROGRESS_INTERVAL", 0)
        source = dataset(jsonl(PAGE))
        _, _, quiet = run(source, tmp_path / "a", capsys=capsys)
        _, _, loud = run("--progress", source, tmp_path / "b", capsys=capsys)
        assert "\r" not in quiet
        assert "dehydrate: " in loud.split("\r")[1]
        assert "1 records" in loud

    def test_recipient_needs_a_ledger(self, dataset, tmp_path, capsys):
        """--recipient and --ledger go together."""
        code, _, err = run(
            "--recipient", "lab", dataset(jsonl(PAGE)), tmp_path / "o", capsys=capsys
        )
        assert 2 == code
        assert "--quota-db" in err

    def test_recipient_is_charged(self, dataset, tmp_path, capsys):
        """With a recipient, the run is decided by the guard and counted."""
        source = dataset(jsonl(PAGE))
        url = f"sqlite:///{tmp_path / 'quotas.db'}"
        twpolicy.open_quotas(url).close()
        code, _, _ = run(
            "--recipient", "lab", "--ledger", url, source, tmp_path / "o", capsys=capsys
        )
        assert 0 == code
        assert "21\n20\n19\n" == (tmp_path / "o").read_text()

    def test_over_quota_writes_nothing(self, dataset, tmp_path, capsys):
        """A run that would exceed the recipient's 30-day cap is refused whole (exit 1)."""
        url = f"sqlite:///{tmp_path / 'quotas.db'}"
        with twpolicy.open_quotas(url) as quotas:
            quotas.reserve("lab", tweet_ids=1_500_000 - 2)
        argv = ("--recipient", "lab", "--ledger", url, dataset(jsonl(PAGE)), tmp_path / "o")
        code, _, err = run(*argv, capsys=capsys)
        assert 1 == code
        assert "I.F.2.b.i" in err
        assert "Nothing was written" in err
        assert not (tmp_path / "o").exists()
        assert [] == list(tmp_path.glob(".dehydrate-*"))
        with twpolicy.open_quotas(url) as quotas:
            assert 2 == quotas.remaining("lab")

    @pytest.mark.parametrize("kind", ["users", "dms"])
    def test_unproven_user_and_dm_ids_count_as_tweet_ids(self, kind, dataset, tmp_path, capsys):
        """IDs read off Users or DMs that no guarded client read as such count as Tweet IDs:
        refused past a full cap; an academic standing is the remedy, as written."""
        url = f"sqlite:///{tmp_path / 'quotas.db'}"
        with twpolicy.open_quotas(url) as quotas:
            quotas.reserve("lab", tweet_ids=1_500_000)
        dm = {"data": [{"id": "31", "event_type": "MessageCreate", "text": "hi", "sender_id": "5"}]}
        source = dataset(jsonl(PAGE if kind == "users" else dm))
        argv = ("--kind", kind, "--recipient", "lab", "--ledger", url, source, tmp_path / "o")
        code, _, err = run(*argv, capsys=capsys)
        assert 1 == code, err
        assert not (tmp_path / "o").exists()
        with twpolicy.open_quotas(url) as quotas:
            quotas.register(
                "lab",
                standing="academic_noncommercial",
                approved_by="dpo@uni.example",
                reference="IRB-1",
            )
        code, _, err = run(*argv, capsys=capsys)
        assert 0 == code, err
        assert (tmp_path / "o").read_text().split()

    def test_tweet_ids_are_counted_against_the_cap(self, dataset, tmp_path, capsys):
        """The same full cap refuses Tweet IDs, so the test above can fail."""
        url = f"sqlite:///{tmp_path / 'quotas.db'}"
        with twpolicy.open_quotas(url) as quotas:
            quotas.reserve("lab", tweet_ids=1_500_000)
        argv = ("--recipient", "lab", "--ledger", url, dataset(jsonl(PAGE)), tmp_path / "o")
        assert 1 == run(*argv, capsys=capsys)[0]

    def test_academic_recipient_is_not_capped(self, dataset, tmp_path, capsys):
        """An academic recipient's run goes through past the cap, and is still counted."""
        url = f"sqlite:///{tmp_path / 'quotas.db'}"
        with twpolicy.open_quotas(url) as quotas:
            quotas.register(
                "uni", standing="academic_noncommercial", approved_by="dpo", reference="IRB-7"
            )
            quotas.reserve("uni", tweet_ids=1_500_000)
        argv = ("--recipient", "uni", "--ledger", url, dataset(jsonl(PAGE)), tmp_path / "o")
        assert 0 == run(*argv, capsys=capsys)[0]
        with twpolicy.open_quotas(url) as quotas:
            assert 1_500_003 == quotas.usage("uni")[0].used

    @pytest.mark.slow
    def test_killed_run_leaves_no_output(self, tmp_path):
        """kill -9 in the middle of a run leaves no OUTFILE, whole or partial."""
        outfile = tmp_path / "ids.txt"
        proc = subprocess.Popen(
            [sys.executable, "-m", "twpolicy", "dehydrate", "-", str(outfile)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # Far more than a pipe holds: once written, the command has read most of it.
        proc.stdin.write(jsonl(PAGE, V1).encode() * 4000)
        proc.stdin.flush()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdin.close()
        proc.stderr.close()
        assert not outfile.exists()

    def test_console_script(self, dataset, tmp_path):
        """The installed command streams IDs to stdout and nothing else."""
        source = dataset(jsonl(PAGE, V1))
        done = subprocess.run(
            [sys.executable, "-m", "twpolicy", "dehydrate", str(source), "-"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert (0, "21\n20\n19\n30\n") == (done.returncode, done.stdout)


class TestInputs:
    def test_gzip_and_concatenated_json(self, tmp_path, capsys):
        """gzip-compressed input, and pretty-printed records one after another, are read."""
        source = tmp_path / "in.json.gz"
        source.write_bytes(gzip.compress((json.dumps(PAGE, indent=2) + json.dumps(V1)).encode()))
        code, _, _ = run(source, tmp_path / "o", capsys=capsys)
        assert 0 == code
        assert "21\n20\n19\n30\n" == (tmp_path / "o").read_text()

    def test_ids_are_unique_within_a_record(self):
        """A record naming one ID twice yields it once."""
        reader = IdReader("tweets")
        page = {"data": [{"id": "5", "text": "a"}, {"id": "5", "text": "b"}]}
        assert [["5"]] == list(reader.new_ids(io.BytesIO(jsonl(page, page).encode())))


class TestQuotasCommand:
    def test_register_show_list(self, tmp_path, capsys):
        """Recipients are registered, shown with their usage, and listed, as JSON."""
        ledger = ("--ledger", f"sqlite:///{tmp_path / 'q.db'}")
        assert 0 == main(
            [
                "quotas",
                "register",
                *ledger,
                "uni",
                "--entity",
                "uni.example",
                "--standing",
                "academic_noncommercial",
                "--approved-by",
                "dpo",
                "--reference",
                "IRB-7",
            ],
            out=io.StringIO(),
        )
        with twpolicy.open_quotas(ledger[1]) as quotas:
            quotas.reserve("uni", tweet_ids=10)
        out = io.StringIO()
        assert 0 == main(["quotas", "show", *ledger, "uni", "--format", "json"], out=out)
        shown = json.loads(out.getvalue())
        assert ("academic_noncommercial", "IRB-7") == (shown["standing"], shown["reference"])
        tweets = shown["quotas"][0]
        assert (10, None, "uni.example") == (tweets["used"], tweets["limit"], tweets["counted_for"])
        out = io.StringIO()
        assert 0 == main(["quotas", "list", *ledger, "--format", "json"], out=out)
        assert ["uni"] == [r["recipient"] for r in json.loads(out.getvalue())]

    def test_exemption_without_approval_is_refused(self, tmp_path, capsys):
        """An exempt standing with no approver is a usage error."""
        argv = ["quotas", "register", "--ledger", f"sqlite:///{tmp_path / 'q.db'}", "uni"]
        assert 2 == main([*argv, "--standing", "written_permission"], out=io.StringIO())
        assert "--approved-by" in capsys.readouterr().err

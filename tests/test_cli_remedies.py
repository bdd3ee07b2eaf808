"""Every remedy that names a command runs as written.

Each test provokes a refusal or an error, copies every `twpolicy ...` command out of its
message exactly as printed, runs it in a shell with the installed console script on PATH,
and checks that it both succeeds and fixes what was refused.
"""

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import twpolicy
from twpolicy import Action, ActionKind
from twpolicy._cli._main import main

USER = "2244994945"
COMMAND = re.compile(r"`(twpolicy [^`]+)`")


def commands(text):
    found = COMMAND.findall(text)
    assert found, f"no command in: {text}"
    return found


def shell(command, cwd):
    """Run ``command`` as a person would paste it: bash, the installed script on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name in ("TWPOLICY_CONSENT_DB", "TWPOLICY_QUOTA_DB"):
        env.pop(name, None)
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert (0, "") == (done.returncode, done.stderr), command
    return done


@pytest.fixture(name="elsewhere")
def _elsewhere(tmp_path):
    """A directory other than the application's: remedies must not depend on its cwd."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def test_consent_refusal(tmp_path, elsewhere, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = "sqlite:///consent.db"  # relative, as applications often write it
    with twpolicy.open_ledger(url) as ledger:
        guard = twpolicy.Guard(ledger=ledger)
        action = Action(
            kind=ActionKind.API_CALL,
            operation="POST /2/tweets",
            category="write",
            acting_user_id=USER,
            scopes={"tweet.write"},
        )
        decision = guard.check(action)
        assert decision.denied
        for command in commands(decision.remediation):
            shell(command, elsewhere)
    with twpolicy.open_ledger(url) as ledger:
        assert twpolicy.Guard(ledger=ledger).check(action).allowed


def test_quota_refusal(tmp_path, elsewhere):
    url = f"sqlite:///{tmp_path / 'quotas.db'}"
    with twpolicy.open_quotas(url) as quotas:
        quotas.reserve("lab's team", tweet_ids=1_500_000)
        action = Action(
            kind=ActionKind.EXPORT,
            operation="export",
            recipient="lab's team",
            count=10,
            facts={"content": "tweet_ids"},
            payload=[str(n) for n in range(1, 11)],
        )
        decision = twpolicy.Guard(quotas=quotas).check(action)
        assert decision.denied
        assert "approved_by" not in decision.remediation
        for command in commands(decision.remediation):
            shell(command, elsewhere)
    with twpolicy.open_quotas(url) as quotas:
        assert twpolicy.Guard(quotas=quotas).check(action).allowed


def test_dehydrate_without_a_ledger(tmp_path, elsewhere, capsys):
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"id": 30, "id_str": "30", "text": "x"}) + "\n")
    url = f"sqlite:///{tmp_path / 'new quotas.db'}"
    argv = ["dehydrate", "--recipient", "lab", "--quota-db", url, str(data), str(tmp_path / "o")]
    assert 3 == main(argv, out=io.StringIO())
    for command in commands(capsys.readouterr().err):
        shell(command, elsewhere)
    assert 0 == main(argv, out=io.StringIO())
    assert "30\n" == (tmp_path / "o").read_text()


def test_no_command_in_a_remedy_is_left_incomplete():
    """Source check: no message suggests a bare `twpolicy consent grant USER SCOPE` again."""
    source = Path(twpolicy.__file__).parent
    for path in source.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"`twpolicy consent grant [^`]*`", text):
            assert "--notice" in match[0], f"{path}: {match[0]}"

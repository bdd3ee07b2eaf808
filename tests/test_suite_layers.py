"""The suite's optional layers: left out in one line when missing, required in CI."""

import os
import subprocess
import sys

from conftest import PROJECT

TEST = "tests/test_clauses.py::TestCatalog::test_every_numbered_clause_of_the_2017_policy"


def run(tmp_path, **env):
    environ = {k: v for k, v in os.environ.items() if k not in {"CI", "TWPOLICY_SEEDS"}}
    environ.update(TWPOLICY_SEEDS=str(tmp_path / "no-seeds"), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST],
        cwd=PROJECT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_missing_layer_is_one_line(tmp_path):
    """Without the seeds, their test is not run, said once, and the run passes."""
    result = run(tmp_path)
    assert 0 != result.returncode  # nothing ran: pytest's "no tests ran" (5)
    [line] = [line for line in result.stdout.splitlines() if "layer not run" in line]
    assert line.startswith("shared layer not run (1 tests): ")
    assert f"no policy documents at {tmp_path / 'no-seeds'} (TWPOLICY_SEEDS)" in line
    assert "SKIPPED" not in result.stdout


def test_ci_requires_every_layer(tmp_path):
    """With CI set, a missing layer fails its tests instead."""
    result = run(tmp_path, CI="true")
    assert 1 == result.returncode
    assert "CI needs this test to run: policy documents not found" in result.stdout

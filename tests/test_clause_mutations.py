"""The mutation check behind every `enforced` clause: its named tests fail without its rule.

For each rule an enforced clause names, the tests the catalog lists for it are run in a child
pytest in which every guard leaves that rule out (tests/conftest.py reads
``TWPOLICY_TEST_DISABLE_RULE``); each clause must see at least one of them fail there. They
pass in this run's suite, so a failure is the rule's absence, not a broken test.
"""

import os
import re
import subprocess
import sys
from collections import defaultdict

import pytest

import twpolicy
from conftest import DISABLED_RULE_ENV, PROJECT


def _by_rule():
    tests = defaultdict(set)
    for clause in twpolicy.clauses():
        if clause.status is twpolicy.ClauseStatus.ENFORCED:
            for rule, node_ids in clause.tests.items():
                tests[rule].update(node_ids)
    return dict(sorted(tests.items()))


BY_RULE = _by_rule()


def _run(node_ids, disabled=None):
    env = {k: v for k, v in os.environ.items() if k != DISABLED_RULE_ENV}
    if disabled is not None:
        env[DISABLED_RULE_ENV] = disabled
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *node_ids],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    failed = set(re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, re.MULTILINE))
    return result, failed


def test_every_enforced_clause_names_tests():
    """There is something to mutate: enforced clauses, each rule with tests."""
    assert BY_RULE
    assert all(BY_RULE.values())


@pytest.mark.parametrize("rule_id", sorted(BY_RULE))
def test_named_tests_fail_without_the_rule(rule_id):
    """Without ``rule_id`` in the guard, every enforced clause naming it loses a test."""
    node_ids = sorted(BY_RULE[rule_id])
    result, failed = _run(node_ids, disabled=rule_id)
    assert result.returncode != 0, result.stdout[-2000:]
    for clause in twpolicy.clauses():
        named = set(clause.tests.get(rule_id, ()))
        if clause.status is twpolicy.ClauseStatus.ENFORCED and named:
            assert named & failed, (clause.ref, rule_id, result.stdout[-2000:])


def test_the_named_tests_pass_with_every_rule():
    """The same tests pass with the guard whole, so the failures above are the rule's absence."""
    node_ids = sorted(set().union(*BY_RULE.values()))
    result, failed = _run(node_ids)
    assert result.returncode == 0, result.stdout[-2000:]
    assert not failed

import json
import re
import subprocess
import sys
from io import StringIO

import pytest

import twpolicy
from conftest import PROJECT
from twpolicy._clauses import Source, coverage_markdown
from twpolicy._cli._main import main

POLICY_2017 = "000_b1fe14da0fe4288f.txt"
RESTRICTED = {
    "RU.sensitive-information",
    "RU.off-twitter-matching",
    "RU.redistribution",
    "RU.multiple-applications",
    "RU.automation",
    "RU.measuring",
    "RU.surveillance",
}
ROMAN = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii"]


def numbered_items(text):
    """Every numbered item of the 2017 policy, read from its HTML lists.

    A deliberately plain reading, independent of the catalog: parts (I, II) and lettered
    sections come from the headings, list items from <ol>/<li> nesting (1, 2 ...; a, b ...;
    i, ii ...). The Definitions section (II.G) holds no rules and is left out.
    """
    body = text[text.index("Guiding Principles</strong>¶") :]
    token = re.compile(
        r"<strong>\s*(?P<part>I{1,2})\.|(?P<section>\b[A-H])\.\s*\n[^¶<]{2,80}¶|<ol>|</ol>|<li>"
    )
    refs, part, section, counters = [], "I", None, []
    for match in token.finditer(body):
        if match["part"]:
            part, section = match["part"], None
        elif match["section"]:
            section, counters = match["section"], []
        elif match[0] == "<ol>":
            counters.append(0)
        elif match[0] == "</ol>":
            counters.pop()
        elif section and counters:
            counters[-1] += 1
            labels = [
                str(n) if depth == 0 else "abcdefghij"[n - 1] if depth == 1 else ROMAN[n - 1]
                for depth, n in enumerate(counters)
            ]
            if not (part == "II" and section == "G"):
                refs.append(".".join([part, section, *labels]))
    return refs


@pytest.fixture(name="catalog")
def _catalog():
    """The clause catalog."""
    return twpolicy.clauses()


class TestCatalog:
    def test_every_numbered_clause_of_the_2017_policy(self, catalog, seeds):
        """The catalog holds exactly the numbered items of the policy's lists, in order."""
        path = seeds / POLICY_2017
        expected = numbered_items(path.read_text(encoding="utf-8"))
        assert len(expected) > 100
        assert expected == [c.ref for c in catalog if c.source is Source.DEVELOPER_POLICY]

    def test_every_restricted_use_section(self, catalog):
        """Each section of the restricted-use page is in the catalog."""
        assert RESTRICTED == {c.ref for c in catalog if c.source is Source.RESTRICTED_USES}

    def test_refs_are_unique(self, catalog):
        """No clause is listed twice."""
        refs = [c.ref for c in catalog]
        assert len(set(refs)) == len(refs)

    def test_enforced_only_with_a_rule(self, catalog):
        """A clause is marked enforced only when a built-in rule implements it."""
        rule_ids = {rule.id for rule in twpolicy.default_rules()}
        for clause in catalog:
            assert set(clause.rules) <= rule_ids, clause.ref
            if clause.status is twpolicy.ClauseStatus.ENFORCED:
                assert clause.rules, clause.ref

    def test_every_rule_is_listed_under_its_clause(self, catalog):
        """Each built-in rule appears in the catalog entry of the clause it names."""
        by_ref = {c.ref: c for c in catalog}
        for rule in twpolicy.default_rules():
            assert rule.id in by_ref[rule.clause].rules

    def test_out_of_scope_says_why(self, catalog):
        """Every out-of-scope clause carries its reason."""
        for clause in catalog:
            if clause.status is twpolicy.ClauseStatus.OUT_OF_SCOPE:
                assert clause.note.strip(), clause.ref

    def test_text_fits_a_table(self, catalog):
        """No catalog text breaks the Markdown table it is rendered in."""
        for clause in catalog:
            for text in (clause.title, clause.summary, clause.note):
                assert "|" not in text
                assert "\n" not in text

    def test_docs_page_is_in_sync(self):
        """docs/policy-coverage.md is exactly what `twpolicy clauses --format markdown` prints."""
        page = (PROJECT / "docs" / "policy-coverage.md").read_text(encoding="utf-8")
        assert coverage_markdown() == page


class TestCommand:
    def run(self, *argv):
        out = StringIO()
        assert main(["clauses", *argv], out=out) == 0
        return out.getvalue()

    def test_table(self, catalog):
        """The table lists every clause and a count per status."""
        text = self.run()
        for clause in catalog:
            assert clause.ref in text
        assert f"{len(catalog)} clauses:" in text

    def test_json(self, catalog):
        """--format json gives one object per clause."""
        records = json.loads(self.run("--format", "json"))
        assert [c.ref for c in catalog] == [r["ref"] for r in records]
        assert {"ref", "source", "title", "summary", "status", "rules", "note"} == set(records[0])

    def test_status_filter(self):
        """--status keeps only clauses of that status."""
        records = json.loads(self.run("--format", "json", "--status", "enforced"))
        assert records
        assert {"enforced"} == {r["status"] for r in records}

    def test_console_script(self):
        """The installed `twpolicy` command runs the same code."""
        result = subprocess.run(
            [sys.executable, "-m", "twpolicy", "clauses", "--status", "enforced"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "I.C.1.a" in result.stdout

    def test_usage_error(self, capsys):
        """An unknown option is a usage error (exit code 2)."""
        with pytest.raises(SystemExit) as info:
            main(["clauses", "--format", "yaml"])
        assert info.value.code == 2

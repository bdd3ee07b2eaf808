import json
import re
import subprocess
import sys
from io import StringIO

import pytest

import twpolicy
from conftest import PROJECT
from twpolicy._clauses import Source, coverage_markdown
from twpolicy._cli._main import build_parser, main

POLICY_2017 = "000_b1fe14da0fe4288f.txt"
RESTRICTED_PAGE = "004_0fd07da50aeeb737.txt"
SECTIONS = {
    "RU.sensitive-information",
    "RU.off-twitter-matching",
    "RU.redistribution",
    "RU.multiple-applications",
    "RU.automation",
    "RU.measuring",
    "RU.surveillance",
}
#: Words that make a paragraph of the restricted-use page rule-bearing.
NORMATIVE = re.compile(
    r"\b(never|require[sd]?|requiring|must|prohibit(?:ed)?|not permitted|permit(?:ted)?|only"
    r"|do not|don\u2019t|should|best way)\b"
)
#: A fragment after ", " that continues the bullet before it rather than starting one.
CONTINUES = re.compile(r"^(or|and|including|such as|except|do|please|generally-available)\b")
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


#: Every built-in rule: the default set, and those built from configuration.
BUILT_IN = (
    *twpolicy.default_rules(),
    twpolicy.rules.one_key_per_use_case(twpolicy.open_keys("memory://"), key="k", use_case="u"),
    twpolicy.rules.require_recipient_terms(),
    twpolicy.rules.user_token_thresholds(twpolicy.open_user_tokens("memory://")),
)


def restricted_items(text):
    """Every rule-bearing paragraph and bullet of the restricted-use page, as text.

    A plain reading of the flattened page, independent of the catalog. Its first bracket
    holds the paragraphs, joined by ``.&&`` (a comma inside a paragraph, a paragraph break
    after a full stop or colon); the page's footer (law enforcement, cookies) is left out and
    a paragraph counts when it has a normative word. Its third bracket holds the bullets,
    joined by ", " (so a fragment that continues a phrase is joined back); a nested list's
    items come after the parent that already holds their text, so a bullet found whole in an
    earlier one is not an item of its own; the site's footer links end the list.
    """
    body = text[1 : text.index("][more about")]
    body = body[: body.index("for additional information for law enforcement")]
    paragraphs = [
        part.strip().replace(".&& ", ", ") for part in re.split(r"(?<=[.:])\.&&\s*", body)
    ]
    start = text.index("][health") + 2
    fragments = text[start : text.index(", twitter.com, status", start)].split(", ")
    bullets: list[str] = []
    for fragment in fragments:
        one_word = len(fragment.split()) == 1 and fragment != "tweets"
        if bullets and (CONTINUES.match(fragment) or one_word):
            bullets[-1] += ", " + fragment
        else:
            bullets.append(fragment)
    bullets = [b for i, b in enumerate(bullets) if not any(b in a for a in bullets[:i])]
    return [p for p in paragraphs if p and NORMATIVE.search(p)], bullets


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

    def test_every_item_of_the_restricted_use_page(self, catalog, seeds):
        """Each rule-bearing paragraph and bullet of the page has exactly one entry, in order."""
        path = seeds / RESTRICTED_PAGE
        paragraphs, bullets = restricted_items(path.read_text(encoding="utf-8"))
        assert (len(paragraphs), len(bullets)) == (17, 25)
        entries = [c for c in catalog if c.source is Source.RESTRICTED_USES]
        matched = {}
        for item in paragraphs + bullets:
            owners = [c.ref for c in entries if c.quote and item.startswith(c.quote)]
            assert len(owners) == 1, (item[:60], owners)
            matched[owners[0]] = item
        assert sorted(matched) == sorted(c.ref for c in entries)
        order = [c.ref for c in entries]
        for items in (paragraphs, bullets):
            refs = [next(r for r, i in matched.items() if i == item) for item in items]
            assert refs == sorted(refs, key=order.index)

    def test_every_restricted_use_section(self, catalog):
        """Each section of the restricted-use page keeps its section ref."""
        assert SECTIONS <= {c.ref for c in catalog if c.source is Source.RESTRICTED_USES}

    def test_restricted_items_reading(self):
        """The reading joins a bullet's own commas and drops a nested list's repeated items."""
        text = (
            "[you must a.&& b..&& intro:.&& footer..&& for additional information for law "
            "enforcement.][more about x][][health (a), never do x, aggressive, or y, "
            "public data. tweets display name, tweets, display name, twitter.com, status]"
        )
        assert restricted_items(text) == (
            ["you must a, b."],
            ["health (a)", "never do x, aggressive, or y", "public data. tweets display name"],
        )

    def test_refs_are_unique(self, catalog):
        """No clause is listed twice."""
        refs = [c.ref for c in catalog]
        assert len(set(refs)) == len(refs)

    def test_enforced_only_with_a_rule(self, catalog):
        """A clause is marked enforced only when a built-in rule implements it."""
        rule_ids = {rule.id for rule in BUILT_IN}
        for clause in catalog:
            assert set(clause.rules) <= rule_ids, clause.ref
            if clause.status is twpolicy.ClauseStatus.ENFORCED:
                assert clause.rules, clause.ref

    def test_every_rule_is_listed_under_its_clause(self, catalog):
        """Each built-in rule appears in the catalog entry of the clause it names."""
        by_ref = {c.ref: c for c in catalog}
        for rule in BUILT_IN:
            assert rule.id in by_ref[rule.clause].rules

    def test_enforced_names_its_mutation_tests(self, catalog):
        """An enforced clause names, for every rule, tests that exist (mutation-checked)."""
        for clause in catalog:
            if clause.status is twpolicy.ClauseStatus.ENFORCED:
                assert set(clause.tests) == set(clause.rules), clause.ref
                for node_ids in clause.tests.values():
                    assert node_ids, clause.ref
                    for node_id in node_ids:
                        path, *names = node_id.split("::")
                        source = (PROJECT / path).read_text(encoding="utf-8")
                        assert all(f" {n}(" in source or f"class {n}" in source for n in names)
            else:
                assert not clause.tests, clause.ref

    def test_assisted_names_tools_that_exist(self, catalog):
        """An assisted clause names its tools: public names of twpolicy, or its commands."""
        commands = set(build_parser()._subparsers._group_actions[0].choices)
        for clause in catalog:
            if clause.status is not twpolicy.ClauseStatus.ASSISTED:
                continue
            assert clause.tools, clause.ref
            assert "planned" not in clause.note, clause.ref
            for tool in clause.tools:
                if tool.startswith("twpolicy "):
                    assert tool.split()[1] in commands, (clause.ref, tool)
                else:
                    target = twpolicy
                    for part in tool.split("."):
                        target = getattr(target, part)

    def test_legend_gives_each_status_its_meaning(self):
        """The coverage page's legend says something different for every status."""
        meanings = [s.meaning for s in twpolicy.ClauseStatus]
        assert len(set(meanings)) == len(meanings)
        for status in twpolicy.ClauseStatus:
            assert f"| `{status.value}` | {status.meaning} |" in coverage_markdown()

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
        assert {
            "ref",
            "source",
            "title",
            "summary",
            "status",
            "rules",
            "note",
            "tests",
            "tools",
            "quote",
        } == set(records[0])

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

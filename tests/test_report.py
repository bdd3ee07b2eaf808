"""``twpolicy report``: the figures match the log, the page is self-contained, and a real
headless browser (Debian's chromium) renders it with its charts."""

import io
import json
import os
import shutil
import subprocess
from collections import Counter, defaultdict
from html.parser import HTMLParser
from pathlib import Path

import pytest

import review_sample
from conftest import require
from twpolicy._cli._main import main


def run(*argv, capsys):
    out = io.StringIO()
    code = main([str(a) for a in argv], out=out)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture(name="sample", scope="module")
def _sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("review")
    return review_sample.build(folder)


def stores(sample):
    return ["--consent-db", sample["consent"], "--quota-db", sample["quotas"]]


def from_log(path):
    """The figures, computed here from the raw lines, independently of the command."""
    per_clause = defaultdict(Counter)
    totals = Counter()
    reasons = Counter()
    for line in Path(path).read_text().splitlines():
        r = json.loads(line)
        status = "refused" if not r["allowed"] else "warned" if r["effect"] == "deny" else "allowed"
        totals[status] += 1
        per_clause[r["clause"]][(r["timestamp"][:10], status)] += 1
        if r["effect"] == "deny":
            reasons[r["reason"]] += 1
    return totals, per_clause, reasons


class Page(HTMLParser):
    """The bars, cards and figures of a page, by their data attributes; also what it loads."""

    def __init__(self, text):
        super().__init__()
        self.chart = None
        self.bars = defaultdict(list)
        self.cards = {}
        self.figures = {}
        self.caps = {}
        self.tags = Counter()
        self.links = []
        self._card = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags[tag] += 1
        for key in ("src", "href", "xlink:href", "action"):
            if key in a:
                self.links.append(a[key])
        if tag == "svg":
            self.chart = a.get("data-chart")
        if tag == "rect" and "data-count" in a:
            key = a.get("data-day") or a.get("data-row")
            self.bars[self.chart].append((key, a["data-series"], int(a["data-count"])))
        if tag == "line" and "data-limit" in a:
            self.caps[a["data-row"]] = int(a["data-limit"])
        if "data-total" in a:
            self._card = a["data-total"]
        if "data-figure" in a:
            self.figures[a["data-figure"]] = a

    def handle_data(self, data):
        if self._card and data.strip():
            self.cards[self._card] = int(data.strip().replace(",", ""))
            self._card = None


class TestFigures:
    def test_json_figures_match_the_log(self, sample, capsys):
        code, out, _ = run("report", sample["log"], *stores(sample), "--format", "json",
                           capsys=capsys)  # fmt: skip
        assert 0 == code
        figures = json.loads(out)
        totals, per_clause, reasons = from_log(sample["log"])
        assert sum(totals.values()) == figures["decisions"]
        for status in ("allowed", "warned", "refused"):
            assert totals[status] == figures[status]
        for clause, days in figures["per_clause_per_day"].items():
            for day, counts in days.items():
                for status, n in counts.items():
                    assert per_clause[clause][(day, status)] == n
        top = {r["reason"]: r["total"] for r in figures["top_refusal_reasons"]}
        assert dict(reasons) == top
        assert all(r["remediation"] for r in figures["top_refusal_reasons"])
        assert 0 < figures["writes_with_consent"] < figures["writes"]
        events = figures["consent_events_per_day"]
        assert 8 == sum(d.get("granted", 0) for d in events.values())
        assert 1 == sum(d.get("revoked", 0) for d in events.values())
        lab_a = next(q for q in figures["quotas"] if q["recipient"] == "lab-a"
                     and q["quota"] == "tweet_ids")  # fmt: skip
        assert 1_500_000 == lab_a["limit"]
        assert lab_a["used"] <= lab_a["limit"]

    def test_filters_narrow_the_figures(self, sample, capsys):
        code, out, _ = run("report", sample["log"], "--clause", "I.F", "--format", "json",
                           capsys=capsys)  # fmt: skip
        figures = json.loads(out)
        assert 0 == code
        assert {"I.F.2", "I.F.2.b.i"} == set(figures["per_clause_per_day"])
        assert figures["consent_events_per_day"] is None  # no --consent-db: not shown

    def test_a_missing_store_is_exit_3(self, sample, tmp_path, capsys):
        code, _, err = run("report", sample["log"], "--quota-db",
                           f"sqlite:///{tmp_path / 'absent.db'}", capsys=capsys)  # fmt: skip
        assert 3 == code
        assert "absent.db" in err
        assert not (tmp_path / "absent.db").exists()


class TestPage:
    @pytest.fixture(name="page")
    def _page(self, sample, tmp_path, capsys):
        target = tmp_path / "report.html"
        code, out, _ = run("report", sample["log"], *stores(sample), "-o", target,
                           capsys=capsys)  # fmt: skip
        assert (0, "") == (code, out)
        return target

    def test_the_bars_add_up_to_the_log(self, page, sample):
        parsed = Page(page.read_text())
        totals, per_clause, reasons = from_log(sample["log"])
        for status in ("allowed", "warned", "refused"):
            assert totals[status] == parsed.cards[status]
        for clause, counts in per_clause.items():
            bars = parsed.bars[f"clause {clause}"]
            assert dict(counts) == {(day, s): n for day, s, n in bars}
        by_reason = Counter()
        for reason, _, n in parsed.bars["refusal reasons"]:
            by_reason[reason] += n
        assert reasons == by_reason
        assert 1_500_000 == parsed.caps["lab-a \u00b7 tweet_ids"]

    def test_the_page_loads_nothing(self, page):
        text = page.read_text()
        parsed = Page(text)
        assert [] == parsed.links
        assert 0 == parsed.tags["script"] + parsed.tags["link"] + parsed.tags["img"]
        assert "default-src 'none'" in text
        assert "url(" not in text
        assert 7 == parsed.tags["svg"]  # three clauses, reasons, coverage, consent, quotas

    def test_log_values_are_escaped(self, tmp_path, capsys):
        log = tmp_path / "evil.jsonl"
        record = {
            "decision_id": "1", "timestamp": "2026-11-20T10:00:00+00:00", "effect": "deny",
            "allowed": False, "clause": "<script>alert(1)</script>", "rule": "r",
            "reason": '"><img src=x>', "remediation": "<b>bold</b>", "operation": "x",
        }  # fmt: skip
        log.write_text(json.dumps(record) + "\n")
        code, out, _ = run("report", log, capsys=capsys)
        assert 0 == code
        assert "<script>" not in out
        assert "<img" not in out
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
        assert [] == Page(out).links

    def test_an_empty_log_still_makes_a_page(self, tmp_path, capsys):
        (tmp_path / "empty.jsonl").write_text("")
        code, out, _ = run("report", tmp_path / "empty.jsonl", capsys=capsys)
        assert 0 == code
        assert "The log holds no decisions." in out


def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        require("Debian's chromium is not installed (apt-get install chromium)")
    return found


def browse(page, *options, tmp_path):
    """Run headless chromium on ``page``; its stdout."""
    home = tmp_path / "chromium-home"  # a profile of its own: no state shared between runs
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={home}", "--no-first-run", "--disable-extensions",
         *options, page.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "HOME": str(home)},
    )  # fmt: skip
    assert 0 == done.returncode, done.stderr[-2000:]
    return done.stdout


#: Runs in a copy of the page (the page itself runs no script): the size of every chart and
#: bar as laid out, and any error, written into the document for --dump-dom to show.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message)));
document.addEventListener("DOMContentLoaded", () => {
  const charts = [...document.querySelectorAll("svg.chart")].map(svg => {
    const box = svg.getBoundingClientRect();
    const bars = [...svg.querySelectorAll("rect.bar")];
    return {chart: svg.dataset.chart, width: box.width, height: box.height, bars: bars.length,
            drawn: bars.filter(b => b.getBBox().width > 0 && b.getBBox().height > 0).length,
            count: bars.reduce((n, b) => n + Number(b.dataset.count), 0)};
  });
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({charts, errors: window.__errors,
                                    width: document.body.scrollWidth});
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.slow
class TestInABrowser:
    @pytest.fixture(name="page")
    def _page(self, sample, tmp_path, capsys):
        target = tmp_path / "report.html"
        code, _, _ = run("report", sample["log"], *stores(sample), "-o", target, capsys=capsys)
        assert 0 == code
        return target

    def test_chromium_renders_the_charts_and_their_numbers(self, page, sample, tmp_path):
        """The page as chromium built it holds every bar, with the log's numbers."""
        dom = browse(page, "--dump-dom", tmp_path=tmp_path)
        parsed = Page(dom)
        totals, per_clause, _ = from_log(sample["log"])
        assert 7 == parsed.tags["svg"]
        for status in ("allowed", "warned", "refused"):
            assert totals[status] == parsed.cards[status]
        for clause, counts in per_clause.items():
            assert dict(counts) == {(d, s): n for d, s, n in parsed.bars[f"clause {clause}"]}

    def test_every_chart_is_laid_out_and_no_error_is_raised(self, page, sample, tmp_path):
        probed = tmp_path / "probed.html"
        text = page.read_text()
        # The page's policy forbids scripts; the probe's copy lifts it to measure the layout.
        text = text.replace("default-src 'none'", "default-src 'none'; script-src 'unsafe-inline'")
        probed.write_text(text.replace("</head>", PROBE + "</head>"))
        dom = browse(probed, "--dump-dom", "--window-size=1200,900", tmp_path=tmp_path)
        start = dom.index('<pre id="probe">') + len('<pre id="probe">')
        probe = json.loads(dom[start : dom.index("</pre>", start)].replace("&quot;", '"'))
        assert [] == probe["errors"]
        assert 7 == len(probe["charts"])
        for chart in probe["charts"]:
            assert chart["width"] > 500, chart
            assert chart["height"] > 40, chart
            assert chart["bars"] == chart["drawn"] > 0, chart
        assert probe["width"] <= 1200  # nothing overflows the window sideways
        totals, _, _ = from_log(sample["log"])
        clause_bars = sum(c["count"] for c in probe["charts"] if c["chart"].startswith("clause"))
        assert sum(totals.values()) == clause_bars

    def test_a_screenshot_shows_the_page(self, page, tmp_path):
        shot = tmp_path / "shot.png"
        browse(page, f"--screenshot={shot}", "--window-size=1150,1600", tmp_path=tmp_path)
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (1150, 1600) == (width, height)
        assert len(data) > 50_000  # charts and text, not a blank page

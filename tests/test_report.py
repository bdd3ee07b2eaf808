"""``twpolicy report``: the figures match the log, the page is self-contained, and a real
headless browser (Debian's chromium) renders it with its charts."""

import io
import json
import os
import shutil
import subprocess
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

import review_sample
import twpolicy
from conftest import require
from twpolicy._cli._main import main


def run(*argv, capsys):
    out = io.StringIO()
    code = main([str(a) for a in argv], out=out)
    return code, out.getvalue(), capsys.readouterr().err


def compliance_sample(folder):
    """A compliance ledger with events in every state: applied three days ago, one removal
    reversed, three pending for 30 hours (overdue) and two for 2 hours."""
    url = f"sqlite:///{folder / 'compliance.db'}"
    now = datetime.now(timezone.utc)
    dataset = folder / "tweets.jsonl"
    dataset.write_text('{"id": "1", "author_id": "9"}\n{"id": "2", "author_id": "7"}\n')
    event, kind = twpolicy.ComplianceEvent, twpolicy.ComplianceEventType
    with twpolicy.open_compliance(url) as ledger:
        old = [event(type=kind.TWEET_DELETE, object_id=str(n)) for n in (1, 2, 3)]
        old.append(event(type=kind.USER_PROTECT, object_id="7"))
        ledger.record(old, at=now - timedelta(days=3))
        twpolicy.apply_compliance(ledger, twpolicy.JsonLinesApplier(dataset))
        ledger.record(
            [event(type=kind.USER_UNPROTECT, object_id="7")],
            at=now - timedelta(days=2),
        )
        late = [event(type=kind.TWEET_DELETE, object_id=str(n)) for n in (10, 11)]
        late.append(event(type=kind.USER_DELETE, object_id="20"))
        ledger.record(late, at=now - timedelta(hours=30))
        ledger.record(
            [event(type=kind.TWEET_DELETE, object_id="12"),
             event(type=kind.DM_DELETE, object_id="30")],
            at=now - timedelta(hours=2),
        )  # fmt: skip
    return url


@pytest.fixture(name="sample", scope="module")
def _sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("review")
    return {**review_sample.build(folder), "compliance": compliance_sample(folder)}


def stores(sample):
    return ["--consent-db", sample["consent"], "--quota-db", sample["quotas"],
            "--compliance-db", sample["compliance"]]  # fmt: skip


def from_ledger(url):
    """The compliance figures, read here from the ledger, independently of the command."""
    by_type = defaultdict(Counter)
    with twpolicy.open_compliance(url, create=False) as ledger:
        statuses = ledger.status()
    for s in statuses:
        by_type[s.event.type.value]["overdue" if s.overdue else s.state] += 1
    oldest = max((s for s in statuses if s.state == "pending"), key=lambda s: s.age)
    return by_type, oldest


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
        if "data-compliance" in a:
            self._card = f"compliance {a['data-compliance']}"
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

    def test_compliance_figures_match_the_ledger(self, sample, capsys):
        code, out, _ = run("report", sample["log"], *stores(sample), "--format", "json",
                           capsys=capsys)  # fmt: skip
        assert 0 == code
        figures = json.loads(out)["compliance"]
        by_type, oldest = from_ledger(sample["compliance"])
        assert {"pending": 2, "overdue": 3, "applied": 4, "reversed": 1} == figures["counts"]
        assert {k: dict(v) for k, v in by_type.items()} == {
            kind: {s: n for s, n in states.items() if n}
            for kind, states in figures["by_type"].items()
        }
        assert {"pending": 1, "overdue": 2, "applied": 3} == {
            s: n for s, n in figures["by_type"]["tweet_delete"].items() if n
        }
        assert 10 == figures["events"]
        first = figures["oldest_pending"]
        assert oldest.key == first["key"]
        assert first["overdue"] is True
        assert 24 * 3600 == first["allowed_s"]
        assert first["age_s"] >= 30 * 3600  # arrived 30 hours before the report was made

    def test_compliance_without_pending_events(self, tmp_path, capsys):
        url = f"sqlite:///{tmp_path / 'c.db'}"
        with twpolicy.open_compliance(url):
            pass  # an empty ledger
        (tmp_path / "empty.jsonl").write_text("")
        code, out, _ = run("report", tmp_path / "empty.jsonl", "--compliance-db", url,
                           "--format", "json", capsys=capsys)  # fmt: skip
        assert 0 == code
        figures = json.loads(out)["compliance"]
        assert {"pending": 0, "overdue": 0, "applied": 0, "reversed": 0} == figures["counts"]
        assert figures["oldest_pending"] is None
        code, out, _ = run("report", tmp_path / "empty.jsonl", "--compliance-db", url,
                           capsys=capsys)  # fmt: skip
        assert "The compliance ledger holds no events." in out

    def test_the_compliance_db_comes_from_the_environment(self, sample, capsys, monkeypatch):
        monkeypatch.setenv("TWPOLICY_COMPLIANCE_DB", sample["compliance"])
        code, out, _ = run("report", sample["log"], "--format", "json", capsys=capsys)
        assert 0 == code
        assert 3 == json.loads(out)["compliance"]["counts"]["overdue"]

    def test_filters_narrow_the_figures(self, sample, capsys):
        code, out, _ = run("report", sample["log"], "--clause", "I.F", "--format", "json",
                           capsys=capsys)  # fmt: skip
        figures = json.loads(out)
        assert 0 == code
        assert {"I.F.2", "I.F.2.b.i"} == set(figures["per_clause_per_day"])
        assert figures["consent_events_per_day"] is None  # no --consent-db: not shown
        assert figures["compliance"] is None  # no --compliance-db: not shown

    def test_a_missing_store_is_exit_3(self, sample, tmp_path, capsys):
        code, _, err = run("report", sample["log"], "--quota-db",
                           f"sqlite:///{tmp_path / 'absent.db'}", capsys=capsys)  # fmt: skip
        assert 3 == code
        assert "absent.db" in err
        assert not (tmp_path / "absent.db").exists()

    def test_a_missing_compliance_db_is_exit_3_and_not_created(self, sample, tmp_path, capsys):
        code, _, err = run("report", sample["log"], "--compliance-db",
                           f"sqlite:///{tmp_path / 'gone.db'}", capsys=capsys)  # fmt: skip
        assert 3 == code
        assert "gone.db" in err
        assert not (tmp_path / "gone.db").exists()


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

    def test_the_compliance_section_matches_the_ledger(self, page, sample):
        parsed = Page(page.read_text())
        by_type, oldest = from_ledger(sample["compliance"])
        states = Counter()
        for counts in by_type.values():
            states.update(counts)
        for state in ("pending", "overdue", "applied", "reversed"):
            assert states[state] == parsed.cards[f"compliance {state}"]
        bars = {(kind, s): n for kind, s, n in parsed.bars["compliance events"]}
        assert {(k, s): n for k, c in by_type.items() for s, n in c.items()} == bars
        figure = parsed.figures["compliance-oldest"]
        assert oldest.key == figure["data-key"]
        assert str(24 * 3600) == figure["data-allowed-s"]
        assert 24 * 60 == parsed.caps["oldest pending (minutes)"]
        [(_, state, minutes)] = parsed.bars["compliance clock"]
        assert "overdue" == state
        assert minutes >= 30 * 60

    def test_the_page_loads_nothing(self, page):
        text = page.read_text()
        parsed = Page(text)
        assert [] == parsed.links
        assert 0 == parsed.tags["script"] + parsed.tags["link"] + parsed.tags["img"]
        assert "default-src 'none'" in text
        assert "url(" not in text
        # three clauses, reasons, coverage, consent, quotas, compliance clock and events
        assert 9 == parsed.tags["svg"]

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
        assert 9 == parsed.tags["svg"]
        for status in ("allowed", "warned", "refused"):
            assert totals[status] == parsed.cards[status]
        for clause, counts in per_clause.items():
            assert dict(counts) == {(d, s): n for d, s, n in parsed.bars[f"clause {clause}"]}
        by_type, _ = from_ledger(sample["compliance"])
        assert {(k, s): n for k, c in by_type.items() for s, n in c.items()} == {
            (k, s): n for k, s, n in parsed.bars["compliance events"]
        }

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
        assert 9 == len(probe["charts"])
        for chart in probe["charts"]:
            assert chart["width"] > 500, chart
            assert chart["height"] > 40, chart
            assert chart["bars"] == chart["drawn"] > 0, chart
        assert probe["width"] <= 1200  # nothing overflows the window sideways
        totals, _, _ = from_log(sample["log"])
        clause_bars = sum(c["count"] for c in probe["charts"] if c["chart"].startswith("clause"))
        assert sum(totals.values()) == clause_bars
        by_type, _ = from_ledger(sample["compliance"])
        events = next(c for c in probe["charts"] if c["chart"] == "compliance events")
        assert sum(sum(c.values()) for c in by_type.values()) == events["count"]
        assert any(c["chart"] == "compliance clock" for c in probe["charts"])

    def test_a_screenshot_shows_the_page(self, page, tmp_path):
        shot = tmp_path / "shot.png"
        browse(page, f"--screenshot={shot}", "--window-size=1150,1600", tmp_path=tmp_path)
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (1150, 1600) == (width, height)
        assert len(data) > 50_000  # charts and text, not a blank page

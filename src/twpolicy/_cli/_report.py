"""``twpolicy report``: one HTML page a compliance reviewer opens, from a log and the stores.

The page is self-contained: inline CSS and inline SVG charts, no script, no font, no image
fetched; a Content-Security-Policy forbids any request, so it looks the same offline, in a
mail attachment or years later. Every chart has its numbers in a table beside it (a reviewer
would rather look, an auditor would rather read), and every bar carries its count in a
``data-count`` attribute, so a test can check the page against the log.

``--format json`` writes the same figures as JSON, for a dashboard or a diff.
"""

from __future__ import annotations

import argparse
import html
import json
import os
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any, TextIO

import attrs

from twpolicy._cli._common import (
    COMPLIANCE,
    CONSENT,
    QUOTA,
    StoreKind,
    add_report_options,
    add_store_option,
    store_url,
)
from twpolicy._cli._decisions import (
    DecisionLog,
    LogEntry,
    add_log_files,
    add_log_filters,
    log_filter,
    status_of,
)
from twpolicy._stores._compliance import open_compliance
from twpolicy._stores._consent import open_ledger
from twpolicy._stores._quotas import open_quotas
from twpolicy._version import __version__

__all__ = ["Figures", "register", "render_html"]

STATUSES = ("allowed", "warned", "refused")
COLOURS = {"allowed": "#2e7d32", "warned": "#e6a100", "refused": "#c62828"}
#: How many refusal reasons the page lists.
TOP_REASONS = 10
#: The compliance ledger's states, as ``twpolicy compliance status`` names them (an overdue
#: event is a pending one past its 24 hours, counted once, as overdue).
COMPLIANCE_STATES = ("pending", "overdue", "applied", "reversed")
COMPLIANCE_COLOURS = {
    "pending": "#e6a100", "overdue": "#c62828", "applied": "#2e7d32", "reversed": "#777",
}  # fmt: skip
#: Longest period drawn day by day; a longer one shows only the days with decisions.
MAX_DAYS = 400


@attrs.define
class Figures:
    """Everything the page shows, computed in one pass over the log and one over each store."""

    decisions: int = 0
    totals: Counter[str] = attrs.field(factory=Counter)
    first: datetime | None = None
    last: datetime | None = None
    policy_versions: Counter[str] = attrs.field(factory=Counter)
    per_clause: dict[str, dict[str, Counter[str]]] = attrs.field(
        factory=lambda: defaultdict(lambda: defaultdict(Counter))
    )
    reasons: dict[tuple[str, str, str], Counter[str]] = attrs.field(
        factory=lambda: defaultdict(Counter)
    )
    remedies: dict[tuple[str, str, str], str] = attrs.field(factory=dict)
    writes: int = 0
    writes_with_consent: int = 0
    exports: Counter[str] = attrs.field(factory=Counter)
    consent_events: dict[str, Counter[str]] | None = None
    quotas: list[dict[str, Any]] | None = None
    compliance: dict[str, Any] | None = None

    def add(self, entry: LogEntry) -> None:
        """Count one decision."""
        record = entry.record
        status = status_of(record)
        self.decisions += 1
        self.totals[status] += 1
        self.first = entry.at if self.first is None else min(self.first, entry.at)
        self.last = entry.at if self.last is None else max(self.last, entry.at)
        self.policy_versions[str(record.get("policy_version") or "unknown")] += 1
        clause = str(record.get("clause") or "(no clause)")
        self.per_clause[clause][_day(entry.at)][status] += 1
        if record["effect"] == "deny":
            key = (str(record.get("reason")), str(record.get("rule")), clause)
            self.reasons[key][status] += 1
            self.remedies[key] = str(record.get("remediation") or "")
        if record.get("category") == "write":
            self.writes += 1
            self.writes_with_consent += any(
                isinstance(o, dict) and o.get("rule") == "consent.required"
                and o.get("effect") == "allow"
                for o in record.get("rules") or ()
            )  # fmt: skip
        if record.get("recipient") and record.get("action") == "export" and record["allowed"]:
            self.exports[str(record["recipient"])] += int(record.get("count") or 0)

    def days(self) -> list[str]:
        """The days on the charts' axis: every day of the period, or those with decisions."""
        seen = sorted({day for days in self.per_clause.values() for day in days})
        if self.first is None or self.last is None:
            return seen
        first, last = self.first.date(), self.last.date()
        if (last - first).days >= MAX_DAYS:
            return seen
        return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]

    def top_reasons(self) -> list[dict[str, Any]]:
        """The refusal reasons (refused or warned), most frequent first."""
        ranked = sorted(self.reasons.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        return [
            {
                "reason": reason,
                "rule": rule,
                "clause": clause,
                "refused": counts["refused"],
                "warned": counts["warned"],
                "total": counts["refused"] + counts["warned"],
                "remediation": self.remedies[(reason, rule, clause)],
            }
            for (reason, rule, clause), counts in ranked[:TOP_REASONS]
        ]

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON-serialisable data (what ``--format json`` writes)."""
        return {
            "decisions": self.decisions,
            **{status: self.totals[status] for status in STATUSES},
            "first": None if self.first is None else self.first.isoformat(),
            "last": None if self.last is None else self.last.isoformat(),
            "policy_versions": dict(self.policy_versions),
            "per_clause_per_day": {
                clause: {day: {s: days[day][s] for s in STATUSES} for day in sorted(days)}
                for clause, days in sorted(self.per_clause.items())
            },
            "top_refusal_reasons": self.top_reasons(),
            "writes": self.writes,
            "writes_with_consent": self.writes_with_consent,
            "exports_per_recipient": dict(sorted(self.exports.items())),
            "consent_events_per_day": self.consent_events,
            "quotas": self.quotas,
            "compliance": self.compliance,
        }


def _day(when: datetime) -> str:
    return when.astimezone(timezone.utc).date().isoformat()


def _consent_events(url: str) -> dict[str, Counter[str]]:
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    with open_ledger(url, create=False) as ledger:
        for event in ledger.events():
            kind = event.type.value
            if kind in ("granted", "revoked", "expired"):
                per_day[_day(event.at)][kind] += 1
    return {day: per_day[day] for day in sorted(per_day)}


def _quota_use(url: str, seen: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    with open_quotas(url, create=False) as quotas:
        names = sorted({r.name for r in quotas.recipients()} | set(seen))
        for name in names:
            for usage in quotas.usage(name):
                rows.append(  # noqa: PERF401  # one row per recipient and quota
                    {
                        "recipient": name,
                        "quota": usage.quota,
                        "clause": usage.clause,
                        "counted_for": usage.key,
                        "used": usage.used,
                        "limit": usage.limit,
                    }
                )
    return rows


def _compliance(url: str) -> dict[str, Any]:
    """Deletion compliance now: events by state and type, and the oldest pending event."""
    with open_compliance(url, create=False) as ledger:
        now = ledger.now()
        statuses = ledger.status(at=now)
    counts = dict.fromkeys(COMPLIANCE_STATES, 0)
    by_type: dict[str, dict[str, int]] = {}
    for status in statuses:
        state = "overdue" if status.overdue else status.state
        counts[state] += 1
        row = by_type.setdefault(status.event.type.value, dict.fromkeys(COMPLIANCE_STATES, 0))
        row[state] += 1
    pending = [s for s in statuses if s.state == "pending"]
    oldest = min(pending, key=lambda s: (s.arrived_at, s.key), default=None)
    return {
        "at": now.isoformat(),
        "events": len(statuses),
        "counts": counts,
        "by_type": dict(sorted(by_type.items())),
        "oldest_pending": None
        if oldest is None
        else {
            "key": oldest.key,
            "type": oldest.event.type.value,
            "arrived_at": oldest.arrived_at.isoformat(),
            "deadline": oldest.deadline.isoformat(),
            "age_s": round(oldest.age.total_seconds()),
            "allowed_s": round((oldest.deadline - oldest.arrived_at).total_seconds()),
            "overdue": oldest.overdue,
        },
    }


# -- the page --------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
 color:#1b1b1b;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:20px;margin:32px 0 8px;
 border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:16px;margin:18px 0 4px}
.meta{color:#555}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:120px}
.card b{display:block;font-size:24px}.allowed{color:#2e7d32}.warned{color:#a86f00}
.refused{color:#c62828}table{border-collapse:collapse;background:#fff;margin:6px 0 12px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
svg{background:#fff;border:1px solid #ddd;border-radius:4px;display:block;margin:6px 0;
 width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:#333}.legend span{margin-right:14px}
.legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
.remedy{font-size:13px;color:#333;max-width:560px}.none{color:#777;font-style:italic}
details{margin:4px 0 12px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _legend(names: Sequence[str], colours: dict[str, str]) -> str:
    items = "".join(f'<span><i style="background:{colours[n]}"></i>{_e(n)}</span>' for n in names)
    return f'<div class="legend">{items}</div>'


def _nice(top: int) -> int:
    """A round axis maximum at or above ``top``."""
    if top <= 5:  # noqa: PLR2004
        return max(top, 1)
    step = 10 ** (len(str(top)) - 1)
    for mult in (1, 2, 2.5, 5, 10):
        if top <= mult * step:
            return int(mult * step)
    return top  # pragma: no cover


def _svg_open(chart: str, width: int, height: int) -> str:
    return (
        f'<svg class="chart" data-chart="{_e(chart)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(chart)}">'
    )


def _stacked_days(
    chart: str, days: list[str], counts: dict[str, Counter[str]], series: Sequence[str],
    colours: dict[str, str],
) -> str:  # fmt: skip
    """Bars per day, stacked by series, with a y axis and the first, middle and last day."""
    width, height, left, bottom, top_pad = 1000, 190, 44, 26, 10
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    top = _nice(max((sum(counts.get(d, Counter()).values()) for d in days), default=1))
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.75, 1.0)
    parts = [_svg_open(chart, width, height)]
    for tick in (0, top // 2, top):
        y = top_pad + plot_h - plot_h * tick / top
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>'
        )
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        y = top_pad + plot_h
        for name in series:
            n = counts.get(day, Counter())[name]
            if not n:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colours[name]}" data-day="{day}" data-series="{_e(name)}" '
                f'data-count="{n}"><title>{day}: {n} {_e(name)}</title></rect>'
            )
    for i in sorted({0, len(days) // 2, len(days) - 1}) if days else ():
        x = left + i * slot + slot / 2
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{days[i]}</text>')
    parts.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{top_pad + plot_h}" y2="{top_pad + plot_h}" '
        'stroke="#999"/></svg>'
    )
    return "".join(parts)


def _hbars(chart: str, rows: list[tuple[str, dict[str, int]]], series: Sequence[str],
           colours: dict[str, str], cap: dict[str, int | None] | None = None) -> str:  # fmt: skip
    """Horizontal bars, one per row, stacked by series; ``cap`` draws a limit line per row."""
    width, row_h, label_w = 1000, 24, 280
    height = row_h * len(rows) + 24
    plot_w = width - label_w - 170
    shared = max([sum(v.values()) for _, v in rows] + [1])
    parts = [_svg_open(chart, width, height)]
    for i, (label, values) in enumerate(rows):
        y = 10 + i * row_h
        # With caps, each row is drawn against its own cap (quotas differ by orders of
        # magnitude); without, every row shares one scale.
        top = max(sum(values.values()), (cap or {}).get(label) or 0, 1) if cap else shared
        short = label if len(label) <= 44 else label[:43] + "\u2026"  # noqa: PLR2004
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_e(short)}</text>')
        x = float(label_w)
        for name in series:
            n = values.get(name, 0)
            if not n:
                continue
            w = max(plot_w * n / top, 1.0)
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}"'
                f' fill="{colours[name]}" data-row="{_e(label)}" data-series="{_e(name)}" '
                f'data-count="{n}"><title>{_e(label)}: {n} {_e(name)}</title></rect>'
            )
            x += w
        limit = (cap or {}).get(label)
        end = x
        if limit:
            lx = label_w + plot_w * limit / top
            end = max(end, lx)
            parts.append(
                f'<line class="cap" x1="{lx:.1f}" x2="{lx:.1f}" y1="{y}" y2="{y + row_h - 2}" '
                f'stroke="#111" stroke-width="2" data-row="{_e(label)}" data-limit="{limit}"/>'
            )
        total = sum(values.values())
        note = f"{total:,}" + (f" / {limit:,}" if limit else "")
        parts.append(f'<text x="{end + 6:.1f}" y="{y + 15}">{note}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: object, *, numeric: bool) -> str:
    if numeric and isinstance(value, int):
        return f'<td class="n">{value:,}</td>'
    return f"<td>{_e(value)}</td>"


def _table(head: Sequence[str], rows: list[list[Any]], numeric: set[int]) -> str:
    cells = "".join(f'<th{" class=n" if i in numeric else ""}>{_e(h)}</th>' for i, h in
                    enumerate(head))  # fmt: skip
    body = [
        "<tr>" + "".join(_cell(v, numeric=i in numeric) for i, v in enumerate(row)) + "</tr>"
        for row in rows
    ]
    return f"<table><tr>{cells}</tr>{''.join(body)}</table>"


def _section_clauses(fig: Figures) -> Iterator[str]:
    yield "<h2>Decisions per clause per day</h2>"
    yield _legend(STATUSES, COLOURS)
    if not fig.decisions:
        yield '<p class="none">The log holds no decisions.</p>'
        return
    days = fig.days()
    ranked = sorted(fig.per_clause.items(), key=lambda kv: (-_total(kv[1]), kv[0]))
    for clause, per_day in ranked:
        sums = Counter[str]()
        for counts in per_day.values():
            sums.update(counts)
        yield (
            f'<h3 data-clause="{_e(clause)}">{_e(clause)}: '
            + ", ".join(f'<span class="{s}">{sums[s]:,} {s}</span>' for s in STATUSES)
            + "</h3>"
        )
        yield _stacked_days(f"clause {clause}", days, per_day, STATUSES, COLOURS)
        rows = [[day, *(per_day[day][s] for s in STATUSES)] for day in sorted(per_day)]
        yield "<details><summary>numbers</summary>"
        yield _table(["day (UTC)", *STATUSES], rows, {1, 2, 3})
        yield "</details>"


def _total(per_day: dict[str, Counter[str]]) -> int:
    return sum(sum(c.values()) for c in per_day.values())


def _section_reasons(fig: Figures) -> Iterator[str]:
    yield "<h2>Top refusal reasons and their remedies</h2>"
    top = fig.top_reasons()
    if not top:
        yield '<p class="none">Nothing was refused or warned about.</p>'
        return
    yield _legend(("refused", "warned"), COLOURS)
    rows = [(r["reason"], {"refused": r["refused"], "warned": r["warned"]}) for r in top]
    yield _hbars("refusal reasons", rows, ("refused", "warned"), COLOURS)
    yield _table(
        ["reason", "rule", "clause", "refused", "warned", "remedy"],
        [[r["reason"], r["rule"], r["clause"], r["refused"], r["warned"], r["remediation"]]
         for r in top],
        {3, 4},
    )  # fmt: skip


def _section_consent(fig: Figures) -> Iterator[str]:
    yield "<h2>Consent</h2>"
    if fig.writes:
        share = fig.writes_with_consent / fig.writes
        yield (
            f'<p data-figure="consent-coverage" data-covered="{fig.writes_with_consent}" '
            f'data-writes="{fig.writes}"><b>{share:.0%}</b> of writes on a user\'s behalf '
            f"({fig.writes_with_consent:,} of {fig.writes:,}) were covered by a recorded "
            "consent.</p>"
        )
        yield _hbars(
            "consent coverage",
            [("writes", {"covered": fig.writes_with_consent,
                         "not covered": fig.writes - fig.writes_with_consent})],
            ("covered", "not covered"),
            {"covered": COLOURS["allowed"], "not covered": COLOURS["refused"]},
        )  # fmt: skip
    else:
        yield '<p class="none">The log holds no writes on a user\'s behalf.</p>'
    if fig.consent_events is None:
        yield (
            '<p class="none">No consent ledger given (--consent-db): grants and '
            "revocations are not shown.</p>"
        )
        return
    yield "<h3>Grants and revocations per day</h3>"
    colours = {"granted": COLOURS["allowed"], "revoked": COLOURS["refused"], "expired": "#777"}
    yield _legend(tuple(colours), colours)
    events = fig.consent_events
    if not events:
        yield '<p class="none">The consent ledger holds no grants or revocations.</p>'
        return
    first, last = date.fromisoformat(min(events)), date.fromisoformat(max(events))
    days = (
        [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        if (last - first).days < MAX_DAYS
        else sorted(events)
    )
    yield _stacked_days("consent events", days, events, tuple(colours), colours)
    rows = [[day, *(events[day][k] for k in colours)] for day in sorted(events)]
    yield "<details><summary>numbers</summary>"
    yield _table(["day (UTC)", *colours], rows, {1, 2, 3}) + "</details>"


def _section_quotas(fig: Figures) -> Iterator[str]:
    yield "<h2>Quota use per recipient</h2>"
    if fig.quotas is None:
        if fig.exports:
            yield _table(
                ["recipient", "IDs exported (allowed decisions in the log)"],
                [[name, n] for name, n in sorted(fig.exports.items())],
                {1},
            )
        yield (
            '<p class="none">No quota ledger given (--quota-db): use against the caps is '
            "not shown.</p>"
        )
        return
    if not fig.quotas:
        yield '<p class="none">The quota ledger has no recipients.</p>'
        return
    colour = {"used": "#1f5fa8"}
    rows = [(f"{q['recipient']} \u00b7 {q['quota']}", {"used": q["used"]}) for q in fig.quotas]
    caps = {f"{q['recipient']} \u00b7 {q['quota']}": q["limit"] for q in fig.quotas}
    yield (
        '<p class="meta">Bars: units counted in the rolling window now; black line: the '
        "cap (none drawn when the recipient's standing lifts it).</p>"
    )
    yield _hbars("quota use", rows, ("used",), colour, caps)
    yield _table(
        ["recipient", "quota", "clause", "counted for", "used", "limit"],
        [[q["recipient"], q["quota"], q["clause"], q["counted_for"], q["used"],
          "no limit" if q["limit"] is None else q["limit"]] for q in fig.quotas],
        {4, 5},
    )  # fmt: skip


def _hours(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours}h{rest // 60:02d}m"


def _section_compliance(fig: Figures) -> Iterator[str]:
    yield "<h2>Deletion compliance (I.C.3)</h2>"
    data = fig.compliance
    if data is None:
        yield (
            '<p class="none">No compliance ledger given (--compliance-db): pending, applied '
            "and overdue deletions are not shown.</p>"
        )
        return
    counts = data["counts"]
    yield (
        '<div class="cards">'
        + "".join(
            f'<div class="card" data-compliance="{s}"><b style="color:'
            f'{COMPLIANCE_COLOURS[s]}">{counts[s]:,}</b>{s}</div>'
            for s in COMPLIANCE_STATES
        )
        + "</div>"
    )
    if not data["events"]:
        yield '<p class="none">The compliance ledger holds no events.</p>'
        return
    oldest = data["oldest_pending"]
    if oldest is None:
        yield (
            f'<p data-figure="compliance-oldest" data-age-s="" data-allowed-s="">Nothing is '
            f"pending at {_e(data['at'][:16])} UTC: every removal is applied or reversed.</p>"
        )
    else:
        state = "overdue" if oldest["overdue"] else "pending"
        verdict = (
            f"<b class=refused>overdue</b> by {_hours(oldest['age_s'] - oldest['allowed_s'])}"
            if oldest["overdue"]
            else f"{_hours(oldest['allowed_s'] - oldest['age_s'])} left"
        )
        yield (
            f'<p data-figure="compliance-oldest" data-age-s="{oldest["age_s"]}" '
            f'data-allowed-s="{oldest["allowed_s"]}" data-key="{_e(oldest["key"])}">'
            f"Oldest pending event: {_e(oldest['type'])} <code>{_e(oldest['key'])}</code>, "
            f"arrived {_e(oldest['arrived_at'][:16])} UTC, pending for "
            f"{_hours(oldest['age_s'])} of the {_hours(oldest['allowed_s'])} allowed: "
            f"{verdict}.</p>"
        )
        yield (
            '<p class="meta">Bar: minutes the oldest pending event has waited; black line: '
            "its deadline.</p>"
        )
        label = "oldest pending (minutes)"
        yield _hbars(
            "compliance clock",
            [(label, {state: oldest["age_s"] // 60 or 1})],
            (state,),
            COMPLIANCE_COLOURS,
            {label: oldest["allowed_s"] // 60},
        )
    yield "<h3>Events by type and state</h3>"
    yield _legend(COMPLIANCE_STATES, COMPLIANCE_COLOURS)
    by_type = data["by_type"]
    yield _hbars(
        "compliance events",
        [(kind, {s: n for s, n in states.items() if n}) for kind, states in by_type.items()],
        COMPLIANCE_STATES,
        COMPLIANCE_COLOURS,
    )
    yield _table(
        ["type", *COMPLIANCE_STATES],
        [[kind, *(states[s] for s in COMPLIANCE_STATES)] for kind, states in by_type.items()],
        {1, 2, 3, 4},
    )


def render_html(fig: Figures, *, sources: Sequence[str], generated: datetime) -> str:
    """The page, as one string."""
    period = (
        f"{fig.first:%Y-%m-%d %H:%M} to {fig.last:%Y-%m-%d %H:%M} UTC"
        if fig.first is not None and fig.last is not None
        else "no decisions"
    )
    versions = ", ".join(f"{_e(v)} ({n:,})" for v, n in fig.policy_versions.most_common())
    cards = "".join(
        f'<div class="card" data-total="{s}"><b class="{s}">{fig.totals[s]:,}</b>{s}</div>'
        for s in STATUSES
    )
    body = "\n".join(
        [
            *_section_clauses(fig),
            *_section_reasons(fig),
            *_section_consent(fig),
            *_section_quotas(fig),
            *_section_compliance(fig),
        ]
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>twpolicy review: {_e(period)}</title><style>{_CSS}</style></head>
<body><main>
<h1>Policy decisions: review</h1>
<p class="meta">{fig.decisions:,} decisions, {_e(period)}. Policy versions: {versions or "-"}.
<br>From {_e(", ".join(sources))}; generated {generated:%Y-%m-%d %H:%M} UTC by twpolicy
{_e(__version__)}.</p>
<div class="cards"><div class="card" data-total="decisions"><b>{fig.decisions:,}</b>decisions
</div>{cards}</div>
{body}
</main></body></html>
"""


def _optional_store(args: argparse.Namespace, kind: StoreKind) -> str | None:
    """The store's URL when its option or variable names one; the page goes without else."""
    if getattr(args, kind.dest, None) or os.environ.get(kind.env):
        return store_url(args, kind)
    return None


def _run(args: argparse.Namespace, out: TextIO) -> int:
    keep = log_filter(args)
    consent, quotas = _optional_store(args, CONSENT), _optional_store(args, QUOTA)
    compliance = _optional_store(args, COMPLIANCE)
    log = DecisionLog(args.files, quiet=args.quiet)
    fig = Figures()
    for entry in log:
        if keep(entry):
            fig.add(entry)
    if consent is not None:
        fig.consent_events = _consent_events(consent)
    if quotas is not None:
        fig.quotas = _quota_use(quotas, sorted(fig.exports))
    if compliance is not None:
        fig.compliance = _compliance(compliance)
    if args.format == "json":
        json.dump(fig.to_json(), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        names = [n if n != "-" else "standard input" for n in args.files]
        out.write(render_html(fig, sources=names, generated=datetime.now(timezone.utc)))
    return log.exit


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``twpolicy report`` to the command line."""
    parser = subparsers.add_parser(
        "report",
        help="one self-contained HTML page with charts from a decision log and the stores",
        description="Write one HTML page (no script, nothing fetched when viewed) with the "
        "decisions per clause per day, the top refusal reasons with their remedies, consent "
        "grants and revocations (--consent-db) and the share of writes covered by consent, "
        "quota use per recipient against the caps (--quota-db), and deletion compliance: "
        "pending, applied, reversed and overdue events against the 24-hour clock "
        "(--compliance-db). --format json writes "
        "the same figures as JSON. The stores are only read. Exit code 0, or 2 when a file "
        "or record could not be read.",
    )
    add_log_files(parser)
    add_store_option(parser, CONSENT, extra="; only read, optional")
    add_store_option(parser, QUOTA, extra="; only read, optional")
    add_store_option(parser, COMPLIANCE, extra="; only read, optional")
    add_log_filters(parser)
    add_report_options(parser, ("html", "json"))
    parser.set_defaults(run=_run)

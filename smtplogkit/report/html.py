"""HTML rendering of a :class:`~smtplogkit.report.model.Report`.

The document is self-contained: CSS is inline, figures are base64 PNG data
URIs, there is no script, and a Content-Security-Policy forbids loading
anything else, so the file opens the same offline as online.  Every text
taken from a log or a finding goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from .. import __version__
from ..findings.base import is_empty
from ..findings.overview import overview_lines
from .model import FUNNEL_CAPTION, FUNNEL_HEADERS, Report, Transcript, describe_scope, format_evidence, format_time

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232a; margin: 0; }
main { max-width: 1040px; margin: 0 auto; padding: 1.5em 2em 4em; }
h1 { font-size: 1.7em; margin-bottom: .2em; }
h2 { border-bottom: 2px solid #d6dde5; padding-bottom: .2em; margin-top: 2em; }
.meta { color: #5b6673; margin-top: 0; }
nav a { margin-right: 1em; }
.summary p { font-size: 1.08em; margin: .4em 0; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #d6dde5; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #eef2f6; }
td { overflow-wrap: anywhere; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td details ul { margin: .3em 0; padding-left: 1.2em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; }
figcaption { color: #5b6673; font-size: .9em; }
.finding { border: 1px solid #d6dde5; border-left: 5px solid #c8553d; border-radius: 4px; padding: .3em 1em .8em; margin: 1em 0; }
.finding h3 { margin: .5em 0; }
.confidence { font-weight: normal; color: #5b6673; font-size: .85em; }
.next-step { background: #fff6e0; padding: .4em .7em; border-radius: 3px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15em 1em; margin: .5em 0; }
dt { font-weight: 600; }
dd { margin: 0; }
pre { background: #f6f8fa; border: 1px solid #d6dde5; padding: .6em .8em; overflow-x: auto; font-size: .85em; }
pre .client { color: #0b5394; }
pre .server { color: #1d232a; }
pre .local { color: #7a5c00; }
.muted { color: #5b6673; }
"""

SECTIONS = [
    ("summary", "Summary"),
    ("timeline", "Timeline"),
    ("funnel", "Stage funnel"),
    ("findings", "Findings"),
    ("affected", "Affected networks and identities"),
    ("examples", "Example transcripts"),
    ("data", "How the data was read"),
]
DIRECTION_MARKS = {"client": "C:", "server": "S:", "local": "--"}


def render_html(report: Report) -> str:
    """Return the whole HTML document."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{escape(report.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{_body(report)}\n</main>\n</body>\n</html>\n"
    )


def render_fragment(report: Report) -> str:
    """Return the report as an HTML fragment for a Jupyter output cell."""
    return f"<div class=\"smtplogkit-report\"><style>{_scoped_css()}</style>{_body(report)}</div>"


def _scoped_css() -> str:
    lines = []
    for line in CSS.strip().splitlines():
        selector, _, rule = line.partition("{")
        if selector.strip() in ("body", "main"):
            continue
        scoped = ", ".join(f".smtplogkit-report {part.strip()}" for part in selector.split(","))
        lines.append(f"{scoped} {{{rule}")
    return "\n".join(lines)


def _body(report: Report) -> str:
    generated = format_time(report.generated, "UTC")
    parts = [
        f"<h1>{escape(report.title)}</h1>",
        f"<p class=\"meta\">Generated {escape(generated)} by smtplogkit {escape(__version__)}; "
        f"times are shown in {escape(report.tz)}.</p>",
        "<nav>" + "".join(f"<a href=\"#{key}\">{escape(name)}</a>" for key, name in SECTIONS) + "</nav>",
        _section("summary", "Summary", "".join(f"<p>{escape(sentence)}</p>" for sentence in report.summary),
                 css="summary"),
        _section("timeline", "Timeline", _timeline(report)),
        _section("funnel", "Stage funnel", _funnel(report)),
        _section("findings", "Findings", _findings(report)),
        _section("affected", "Affected networks and identities", _affected(report)),
        _section("examples", "Example transcripts", _transcripts(report)),
        _section("data", "How the data was read", _reading(report)),
    ]
    return "\n".join(parts)


def _section(key: str, heading: str, content: str, css: str = "") -> str:
    klass = f" class=\"{css}\"" if css else ""
    return f"<section id=\"{key}\"{klass}>\n<h2>{escape(heading)}</h2>\n{content}\n</section>"


def _figure(report: Report, name: str, caption: str) -> str:
    png = report.figures.get(name)
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return (f"<figure><img src=\"data:image/png;base64,{data}\" alt=\"{escape(caption)}\">"
            f"<figcaption>{escape(caption)}</figcaption></figure>")


class _Markup(str):
    """A table cell's content that is HTML already, with every text in it escaped."""


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    """Return an HTML table; long words in cells wrap, so the table fits the page."""
    head = "".join(f"<th>{escape(str(header))}</th>" for header in headers)
    body = []
    for row in rows:
        cells = []
        for value in row:
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if isinstance(value, _Markup):
                cells.append(f"<td>{value}</td>")
            elif numeric:
                cells.append(f"<td class=\"num\">{escape(_format(value))}</td>")
            else:
                cells.append(f"<td>{escape(_format(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if value is None:
        return ""
    return str(value)


def _timeline(report: Report) -> str:
    note = f"<p>{escape(report.timeline_note)}</p>" if report.timeline_note else ""
    if report.timeline.empty:
        return note
    caption = f"Failed sessions per {report.timeline_bin} bin, stacked by cause ({report.tz})."
    daily = report.timeline.resample("1D").sum()
    rows = [[f"{day:%Y-%m-%d}", *[int(v) for v in values]] for day, values in zip(daily.index, daily.to_numpy())]
    return (_figure(report, "timeline", caption)
            + _figure(report, "hour_weekday", f"Failed sessions by weekday and hour of day ({report.tz}).")
            + note + "<p>Failed sessions per day and cause:</p>" + _table(["day", *map(str, daily.columns)], rows))


def _funnel(report: Report) -> str:
    if report.funnel.empty:
        return "<p>No session reached any stage.</p>"
    rows = [[str(stage), int(row.reached), int(row.passed), f"{row.share:.0%}", int(row.failed_here)]
            for stage, row in report.funnel.iterrows()]
    return (_figure(report, "funnel", FUNNEL_CAPTION)
            + _table(FUNNEL_HEADERS, rows))


def _findings(report: Report) -> str:
    if not report.findings:
        lines = "".join(f"<p>{escape(line)}</p>" for line in overview_lines(report.overview))
        return "<p>The diagnosis found no external blocker with enough evidence.</p>" + lines
    return "\n".join(_finding(report, finding) for finding in report.findings)


def _finding(report: Report, finding: dict[str, Any]) -> str:
    scope = describe_scope(finding.get("scope") or {}, report.tz)
    parts = [f"<article class=\"finding\"><h3>{escape(finding['kind'])} "
             f"<span class=\"confidence\">confidence {finding['confidence']:.2f}</span></h3>"]
    if finding.get("summary"):
        parts.append(f"<p>{escape(str(finding['summary']))}</p>")
    if scope:
        parts.append(f"<p><strong>Scope:</strong> {escape(scope)}</p>")
    if not is_empty(finding.get("threshold")):
        parts.append("<p><strong>Threshold:</strong></p>" + _value(finding["threshold"]))
    if not is_empty(finding.get("evidence")):
        parts.append("<p><strong>Evidence:</strong></p>" + _value(finding["evidence"]))
    if finding["examples"]:
        links = []
        for example in finding["examples"]:
            label = escape(f"{example.get('source')}:{example.get('line')}")
            links.append(f"<a href=\"#{escape(example['anchor'])}\">{label}</a>" if example.get("anchor") else label)
        unlinked = sum(1 for example in finding["examples"] if not example.get("anchor"))
        note = ""
        if unlinked and report.transcripts:
            note = (f" <span class=\"muted\">({unlinked} of {len(finding['examples'])} without a transcript in "
                    f"this report; see Example transcripts)</span>")
        parts.append("<p><strong>Examples:</strong> " + ", ".join(links) + note + "</p>")
    if finding.get("figure"):
        parts.append(_figure(report, finding["figure"], f"The evidence behind the {finding['kind']} finding."))
    if finding.get("next_step"):
        parts.append(f"<p class=\"next-step\"><strong>Next step:</strong> {escape(str(finding['next_step']))}</p>")
    parts.append("</article>")
    return "".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        items = "".join(f"<dt>{escape(str(key))}</dt><dd>{escape(format_evidence(item))}</dd>"
                        for key, item in value.items() if not is_empty(item))
        return f"<dl>{items}</dl>"
    if isinstance(value, (list, tuple)):
        return "<ul>" + "".join(f"<li>{escape(format_evidence(item))}</li>" for item in value
                                if not is_empty(item)) + "</ul>"
    return f"<p>{escape(format_evidence(value))}</p>"


def _affected(report: Report) -> str:
    if not report.affected:
        return "<p>The sessions carry no network, identity or host labels.</p>"
    parts = []
    for label, table in report.affected.items():
        rows = [[str(value), int(row.sessions), int(row.failed),
                 f"{row.failure_rate:.0%} ({row.rate_low:.0%} to {row.rate_high:.0%})", row.top_cause]
                for value, row in table.iterrows()]
        parts.append(f"<h3>By {escape(label)}</h3>"
                     + _table([label, "sessions", "failed", "failure rate (95% interval)", "most common cause"], rows))
        if label == "network":
            parts.append(_figure(report, "network_rates", "Failure rate by network with 95% Wilson intervals."))
    return "\n".join(parts)


def _transcripts(report: Report) -> str:
    if not report.transcripts:
        return "<p>No example sessions to show (the report was built without events, or nothing failed).</p>"
    parts = [transcript_html(transcript) for transcript in report.transcripts]
    note = f"<p>{escape(report.transcripts_note)}</p>" if report.transcripts_note else ""
    return (note + "<p>C: client command, S: server reply, --: client-side event. Credentials are redacted.</p>"
            + "\n".join(parts))


def transcript_html(transcript: Transcript) -> str:
    """Return one session's transcript as an HTML heading and ``<pre>`` block."""
    lines = []
    for line, direction, text in transcript.rows:
        mark = DIRECTION_MARKS.get(direction, "  ")
        number = f"{line:>6}" if line is not None else " " * 6
        lines.append(f"<span class=\"{escape(direction)}\">{number} {mark} {escape(text)}</span>")
    if transcript.omitted:
        lines.append(f"<span class=\"muted\">... {transcript.omitted} more events</span>")
    location = f"{transcript.source}:{transcript.line}"
    return (f"<h3 id=\"{escape(transcript.anchor)}\">{escape(location)}</h3>"
            f"<p class=\"muted\">{escape(transcript.heading)}</p><pre>" + "\n".join(lines) + "</pre>")


def _reading(report: Report) -> str:
    reading = report.reading
    totals = reading["totals"]
    facts = {
        "files read": len(reading["files"]),
        "formats": ", ".join(reading["formats"]) or "none recognised",
        "lines": f"{totals['lines']:,} ({totals['parsed']:,} parsed, {totals['noise']:,} noise, "
                 f"{totals['unrecognised']:,} unrecognised)",
        "sessions": f"{totals['sessions']:,} read, {report.totals['sessions']:,} in the report",
        "first session": reading["first"] or "none",
        "last session": reading["last"] or "none",
        "sessions without a time": f"{reading['untimed']:,}",
        "timestamps without an offset read as": reading["read_tz"],
    }
    if reading["window"]:
        facts["time window"] = f"{reading['window'].get('start', 'open')} to {reading['window'].get('end', 'open')}"
    parts = ["<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts.items()) + "</dl>"]
    rows = [[entry.get("source"), entry.get("format") or "not recognised", int(entry.get("lines") or 0),
             int(entry.get("parsed") or 0), int(entry.get("noise") or 0), int(entry.get("unrecognised") or 0),
             int(entry.get("sessions") or 0), _warnings_cell(entry.get("warnings") or [])]
            for entry in reading["files"]]
    parts.append(_table(["file", "format", "lines", "parsed", "noise", "unrecognised", "sessions", "warnings"], rows))
    if reading["skipped"]:
        parts.append("<p>Skipped:</p>" + _table(["path", "reason"], [list(item) for item in reading["skipped"]]))
    return "\n".join(parts)


def _warnings_cell(warnings: list[str]) -> str:
    """Return one warning as text, and several folded in a ``<details>`` element that names their count."""
    if len(warnings) < 2:
        return "".join(warnings)
    items = "".join(f"<li>{escape(warning)}</li>" for warning in warnings)
    return _Markup(f"<details><summary>{len(warnings)} warnings</summary><ul>{items}</ul></details>")

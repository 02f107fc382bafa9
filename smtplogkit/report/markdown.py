"""Markdown rendering of a :class:`~smtplogkit.report.model.Report`.

It carries the same sections and tables as the HTML version.  Figures are
written as PNG files next to the Markdown when a folder is given, because
many Markdown viewers refuse ``data:`` images.  Log text sits in fenced code
blocks, and table cells have their pipes escaped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import __version__
from ..findings.base import is_empty
from ..findings.overview import overview_lines
from .model import FUNNEL_CAPTION, FUNNEL_HEADERS, Report, describe_scope, format_evidence, format_time

DIRECTION_MARKS = {"client": "C:", "server": "S:", "local": "--"}


def render_markdown(report: Report, figure_dir: str | None = None, figure_link: str | None = None) -> str:
    """Return the report as Markdown, writing figures to ``figure_dir`` when given."""
    links = _write_figures(report, figure_dir, figure_link)
    parts = [
        f"# {_text(report.title)}",
        f"Generated {format_time(report.generated, 'UTC')} by smtplogkit {__version__}; "
        f"times are shown in {report.tz}.",
        "## Summary\n\n" + "\n".join(_text(sentence) for sentence in report.summary),
        "## Timeline\n\n" + _timeline(report, links),
        "## Stage funnel\n\n" + _funnel(report, links),
        "## Findings\n\n" + _findings(report, links),
        "## Affected networks and identities\n\n" + _affected(report, links),
        "## Example transcripts\n\n" + _transcripts(report),
        "## How the data was read\n\n" + _reading(report),
    ]
    return "\n\n".join(parts) + "\n"


def _write_figures(report: Report, figure_dir: str | None, figure_link: str | None) -> dict[str, str]:
    if not figure_dir:
        return {}
    folder = Path(figure_dir)
    folder.mkdir(parents=True, exist_ok=True)
    links = {}
    for name, png in report.figures.items():
        (folder / f"{name}.png").write_bytes(png)
        links[name] = f"{figure_link or figure_dir}/{name}.png"
    return links


def _image(links: dict[str, str], name: str, caption: str) -> str:
    return f"![{caption}]({links[name]})\n\n" if name in links else ""


def _text(value: Any) -> str:
    """Return text safe for Markdown prose: no raw HTML, no accidental emphasis."""
    text = str(value)
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def _cell(value: Any) -> str:
    if isinstance(value, float):
        text = f"{value:.3g}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    elif value is None:
        text = ""
    else:
        text = _text(value)
    return text.replace("\n", " ")


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _fence(lines: list[str]) -> str:
    body = "\n".join(lines)
    fence = "```"
    while fence in body:
        fence += "`"
    return f"{fence}text\n{body}\n{fence}"


def _timeline(report: Report, links: dict[str, str]) -> str:
    note = _text(report.timeline_note) + "\n\n" if report.timeline_note else ""
    if report.timeline.empty:
        return note.strip()
    daily = report.timeline.resample("1D").sum()
    rows = [[f"{day:%Y-%m-%d}", *[int(v) for v in values]] for day, values in zip(daily.index, daily.to_numpy())]
    return (_image(links, "timeline", f"Failed sessions per {report.timeline_bin}, by cause")
            + _image(links, "hour_weekday", "Failed sessions by weekday and hour")
            + note + "Failed sessions per day and cause:\n\n" + _table(["day", *map(str, daily.columns)], rows))


def _funnel(report: Report, links: dict[str, str]) -> str:
    if report.funnel.empty:
        return "No session reached any stage."
    rows = [[str(stage), int(row.reached), int(row.passed), f"{row.share:.0%}", int(row.failed_here)]
            for stage, row in report.funnel.iterrows()]
    return _image(links, "funnel", "Stage funnel") + _table(FUNNEL_HEADERS, rows)


def _findings(report: Report, links: dict[str, str]) -> str:
    if not report.findings:
        lines = [_text(line) for line in overview_lines(report.overview)]
        return "\n\n".join(["The diagnosis found no external blocker with enough evidence.", *lines])
    return "\n\n".join(_finding(finding, links, report.tz) for finding in report.findings)


def _finding(finding: dict[str, Any], links: dict[str, str], tz: str) -> str:
    lines = [f"### {_text(finding['kind'])} (confidence {finding['confidence']:.2f})", ""]
    if finding.get("summary"):
        lines += [_text(finding["summary"]), ""]
    scope = describe_scope(finding.get("scope") or {}, tz)
    if scope:
        lines.append(f"- **Scope:** {_text(scope)}")
    if not is_empty(finding.get("threshold")):
        lines.append(f"- **Threshold:** {_inline(finding['threshold'])}")
    evidence = None if is_empty(finding.get("evidence")) else finding["evidence"]
    if isinstance(evidence, dict):
        lines.append("- **Evidence:**")
        lines += [f"  - {_text(key)}: {_inline(value)}" for key, value in evidence.items() if not is_empty(value)]
    elif isinstance(evidence, (list, tuple)):
        lines.append("- **Evidence:**")
        lines += [f"  - {_inline(value)}" for value in evidence if not is_empty(value)]
    elif evidence is not None:
        lines.append(f"- **Evidence:** {_text(evidence)}")
    if finding["examples"]:
        examples = ", ".join(f"`{example.get('source')}:{example.get('line')}`" for example in finding["examples"])
        lines.append(f"- **Examples:** {examples}")
    if finding.get("next_step"):
        lines.append(f"- **Next step:** {_text(finding['next_step'])}")
    if finding.get("figure") in links:
        lines += ["", _image(links, finding["figure"], f"Evidence for {finding['kind']}").strip()]
    return "\n".join(lines)


def _inline(value: Any) -> str:
    return _text(format_evidence(value))


def _affected(report: Report, links: dict[str, str]) -> str:
    if not report.affected:
        return "The sessions carry no network, identity or host labels."
    parts = []
    for label, table in report.affected.items():
        rows = [[str(value), int(row.sessions), int(row.failed),
                 f"{row.failure_rate:.0%} ({row.rate_low:.0%} to {row.rate_high:.0%})", row.top_cause]
                for value, row in table.iterrows()]
        parts.append(f"### By {label}\n\n"
                     + _table([label, "sessions", "failed", "failure rate (95% interval)", "most common cause"], rows))
        if label == "network":
            parts.append(_image(links, "network_rates", "Failure rate by network").strip())
    return "\n\n".join(part for part in parts if part)


def _transcripts(report: Report) -> str:
    if not report.transcripts:
        return "No example sessions to show (the report was built without events, or nothing failed)."
    parts = ["C: client command, S: server reply, --: client-side event. Credentials are redacted."]
    if report.transcripts_note:
        parts.insert(0, _text(report.transcripts_note))
    for transcript in report.transcripts:
        lines = []
        for line, direction, text in transcript.rows:
            number = f"{line:>6}" if line is not None else " " * 6
            lines.append(f"{number} {DIRECTION_MARKS.get(direction, '  ')} {text}")
        if transcript.omitted:
            lines.append(f"... {transcript.omitted} more events")
        parts.append(f"### `{transcript.source}:{transcript.line}`\n\n{_text(transcript.heading)}\n\n{_fence(lines)}")
    return "\n\n".join(parts)


def _reading(report: Report) -> str:
    reading = report.reading
    totals = reading["totals"]
    facts = [
        f"- Files read: {len(reading['files'])}; formats: {', '.join(reading['formats']) or 'none recognised'}",
        f"- Lines: {totals['lines']:,} ({totals['parsed']:,} parsed, {totals['noise']:,} noise, "
        f"{totals['unrecognised']:,} unrecognised)",
        f"- Sessions: {totals['sessions']:,} read, {report.totals['sessions']:,} in the report",
        f"- First session: {reading['first'] or 'none'}; last session: {reading['last'] or 'none'}; "
        f"sessions without a time: {reading['untimed']:,}",
        f"- Timestamps without an offset read as {reading['read_tz']}",
    ]
    if reading["window"]:
        facts.append(f"- Time window: {reading['window'].get('start', 'open')} to {reading['window'].get('end', 'open')}")
    rows = [[entry.get("source"), entry.get("format") or "not recognised", int(entry.get("lines") or 0),
             int(entry.get("parsed") or 0), int(entry.get("noise") or 0), int(entry.get("unrecognised") or 0),
             int(entry.get("sessions") or 0), "; ".join(entry.get("warnings") or [])] for entry in reading["files"]]
    parts = ["\n".join(facts),
             _table(["file", "format", "lines", "parsed", "noise", "unrecognised", "sessions", "warnings"], rows)]
    if reading["skipped"]:
        parts.append("Skipped:\n\n" + _table(["path", "reason"], [list(item) for item in reading["skipped"]]))
    return "\n\n".join(parts)

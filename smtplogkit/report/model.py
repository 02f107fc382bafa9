"""The incident report's content, computed once and rendered as HTML or Markdown.

:func:`build_report` turns sessions, their events and the diagnosis findings
into a :class:`Report`: plain tables, sentences and PNG figures.  The
renderers in :mod:`.html` and :mod:`.markdown` only lay that content out, so
the two versions show the same content.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..analysis import failed_mask, stage_funnel, wilson_interval
from ..findings.base import format_number, is_empty
from ..redact import redact_text
from . import figures

logger = logging.getLogger(__name__)

# Labels the affected-population section breaks failures down by, when present.
AFFECTED_LABELS = ("network", "environment", "worker", "identity", "host")
MAX_TABLE_ROWS = 20
# Table row for sessions without a value for the label.
MISSING_LABEL = "(none)"
MAX_TRANSCRIPTS = 12
MAX_EXAMPLES_PER_FINDING = 3
MAX_TRANSCRIPT_EVENTS = 60
# Column headers of the stage funnel table, for the columns of analysis.stage_funnel.
FUNNEL_HEADERS = ["stage", "reached (passed or failed here)", "passed (got beyond it)",
                  "share of attempts that passed", "failed at this stage"]
FUNNEL_CAPTION = ("Sessions that passed each protocol stage (a skipped stage, such as STARTTLS on a plain "
                  "connection, counts as passed once a session got beyond it), and those that failed there.")


@dataclass
class Transcript:
    """The redacted commands and replies of one example session."""

    session_id: str
    source: str
    line: int | None
    heading: str
    rows: list[tuple[int | None, str, str]] = field(default_factory=list)
    omitted: int = 0

    @property
    def anchor(self) -> str:
        """HTML id of this transcript, for links from findings."""
        return "session-" + "".join(ch if ch.isalnum() else "-" for ch in self.session_id)


@dataclass
class Report:
    """An incident report: summary, timeline, funnel, findings, examples and inputs.

    Build it with :func:`build_report`; render it with :meth:`to_html` or
    :meth:`to_markdown`.  Every text that comes from a log has been passed
    through :func:`smtplogkit.redact.redact_text`.
    """

    title: str
    generated: datetime
    tz: str
    summary: list[str]
    totals: dict[str, Any]
    timeline: Any
    timeline_bin: str
    funnel: Any
    findings: list[dict[str, Any]]
    affected: dict[str, Any]
    transcripts: list[Transcript]
    reading: dict[str, Any]
    figures: dict[str, bytes] = field(default_factory=dict)
    example_sessions: int = 0
    # Top failure causes and why none qualified, when the diagnosis found no blocker (Findings.overview).
    overview: dict[str, Any] = field(default_factory=dict)

    @property
    def transcripts_note(self) -> str:
        """Return the sentence saying how many of the findings' example sessions have a transcript, or "".

        The sentence is empty when every example session has one.
        """
        if self.example_sessions <= len(self.transcripts):
            return ""
        return (f"Showing {len(self.transcripts)} of the {self.example_sessions} example sessions of the findings, "
                f"because the report shows at most {MAX_TRANSCRIPTS} transcripts and takes each finding's first "
                "example first. The other examples are named by file and line in their finding.")

    @property
    def timeline_note(self) -> str:
        """Return the sentence on failures the timeline cannot show, or "" when it shows them all.

        A failed session without a start time (a log that prints no dates)
        has no place on the time axis, so the note counts those sessions.
        """
        failed, untimed = self.totals["failed"], self.totals.get("failed_untimed", 0)
        if not failed:
            return "No session failed."
        if untimed == failed:
            return f"{_sessions(untimed)} failed at times the logs do not give, so none is on the timeline."
        if untimed:
            return (f"{_sessions(untimed)} of the {failed:,} failed at times the logs do not give "
                    "and are not on the timeline.")
        return ""

    def to_html(self) -> str:
        """Return the report as one self-contained HTML document."""
        from .html import render_html

        return render_html(self)

    def to_markdown(self, figure_dir: str | None = None, figure_link: str | None = None) -> str:
        """Return the report as Markdown.

        Parameters
        ----------
        figure_dir
            When given, the figures are written there as PNG files and linked
            from the Markdown; otherwise the Markdown carries the tables only.
        figure_link
            Folder name used in the links (default: ``figure_dir`` as given).
        """
        from .markdown import render_markdown

        return render_markdown(self, figure_dir, figure_link)

    def write(self, path: str, *, markdown: bool = False) -> str:
        """Write the report to ``path`` (HTML, or Markdown with PNG figures beside it).

        Returns the path written.
        """
        from pathlib import Path

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if markdown:
            figure_dir = target.with_name(target.stem + "_figures")
            text = self.to_markdown(str(figure_dir), figure_dir.name)
        else:
            text = self.to_html()
        target.write_text(text, encoding="utf-8")
        return str(target)

    def _repr_html_(self) -> str:
        from .html import render_fragment

        return render_fragment(self)


def build_report(sessions, events=None, findings=None, *, title: str = "SMTP incident report",
                 tz: str | None = None) -> Report:
    """Build an incident report from sessions, their events and diagnosis findings.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Rows from :func:`smtplogkit.read_logs`; ``attrs["files"]`` feeds the
        section on how the data was read.
    events : pandas.DataFrame, optional
        Rows from :func:`smtplogkit.read_events` for the same inputs; without
        them the report has no example transcripts.
    findings : list, optional
        Findings from :func:`smtplogkit.diagnose` (objects with ``to_dict()``
        or plain dicts).  ``None`` runs the diagnosis on ``sessions``; pass
        ``[]`` to skip it.
    title : str
        Report title.
    tz : str, optional
        Zone to show times in (default: the zone the logs were read in,
        ``sessions.attrs["tz"]``).

    Returns
    -------
    Report
    """
    zone = str(tz or sessions.attrs.get("tz") or "UTC")
    enriched = enrich_sessions(sessions, events, zone)
    if findings is None:
        findings = run_diagnosis(enriched, tz=zone)
    overview = dict(getattr(findings, "overview", None) or {})
    finding_dicts = sorted((finding_dict(f) for f in findings), key=lambda f: -float(f.get("confidence") or 0))

    failed = failed_mask(enriched)
    timeline, timeline_bin = failures_timeline(enriched, failed, zone)
    affected = affected_tables(enriched, failed)
    transcripts = example_transcripts(enriched, events, finding_dicts)
    _link_examples(finding_dicts, enriched, transcripts)

    report = Report(
        title=title,
        generated=datetime.now(timezone.utc),
        tz=zone,
        summary=summary_sentences(enriched, failed, finding_dicts, affected, zone, overview),
        totals=_totals(enriched, failed),
        timeline=timeline,
        timeline_bin=timeline_bin,
        funnel=stage_funnel(enriched),
        findings=finding_dicts,
        affected=affected,
        transcripts=transcripts,
        reading=reading_details(enriched, zone),
        overview=overview,
    )
    if events is not None and len(enriched):
        report.example_sessions = len(example_session_ids(enriched, finding_dicts))
    report.figures = _draw_figures(report, enriched)
    return report


def enrich_sessions(sessions, events=None, tz: str = "UTC"):
    """Return the sessions with the diagnosis's context columns (network, bursts, token age...).

    Token refreshes are taken from ``events`` when given.  An empty frame
    comes back unchanged.
    """
    from ..enrichment import enrich, token_refreshes

    if not len(sessions):
        return sessions
    refreshes = token_refreshes(events) if events is not None and len(events) else None
    return enrich(sessions, tz=tz, refreshes=refreshes)


def run_diagnosis(sessions, *, tz: str = "UTC") -> list:
    """Return the findings of :func:`smtplogkit.diagnose` on the sessions (none for an empty frame).

    Pass sessions from :func:`enrich_sessions` so token refreshes found in
    the events are used.  The result is the diagnosis's ``Findings``, so an
    empty one keeps its ``overview``.
    """
    from ..diagnosis import diagnose

    if not len(sessions):
        return []
    return diagnose(sessions, tz=tz)


def finding_dict(finding: Any) -> dict[str, Any]:
    """Return a finding as a plain dict with every report field present.

    Accepts objects with ``to_dict()`` (the findings of
    :func:`smtplogkit.diagnose`) and plain dicts.  Examples are normalised to
    dicts with ``source``, ``line`` and, when known, ``session_id``.
    """
    if hasattr(finding, "to_dict"):
        data = dict(finding.to_dict())
    elif isinstance(finding, Mapping):
        data = dict(finding)
    else:
        data = dict(vars(finding))
    if not data.get("examples") and getattr(finding, "examples", None):
        data["examples"] = list(finding.examples)
    data["examples"] = [_example_dict(example) for example in data.get("examples") or []]
    data.setdefault("scope", {})
    data.setdefault("threshold", {})
    data.setdefault("evidence", {})
    data.setdefault("next_step", "")
    data["kind"] = str(data.get("kind") or "finding")
    data["confidence"] = float(data.get("confidence") or 0.0)
    return redact_value(data)


def redact_value(value: Any) -> Any:
    """Return ``value`` with :func:`redact_text` applied to every string inside it."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(item) for item in value]
    return value


def _example_dict(example: Any) -> dict[str, Any]:
    if isinstance(example, Mapping):
        data = dict(example)
    elif isinstance(example, (tuple, list)) and len(example) >= 2:
        data = {"source": example[0], "line": example[1]}
    else:
        data = {name: getattr(example, name, None) for name in ("source", "line", "session_id")}
    line = data.get("line")
    data["line"] = int(line) if line is not None and not _is_missing(line) else None
    return data


def failures_timeline(sessions, failed, tz: str) -> tuple[Any, str]:
    """Return failed sessions per time bin and cause, and the bin width.

    The bin width comes from :func:`timeline_bin`, so a bar chart stays
    readable from an hour of data to a month.
    """
    import pandas as pd

    rows = sessions.loc[failed & sessions["start"].notna(), ["start", "cause"]]
    if rows.empty:
        return pd.DataFrame(), "1h"
    start = rows["start"].dt.tz_convert(tz)
    freq = timeline_bin(start.max() - start.min())
    cause = rows["cause"].astype("string").fillna("unknown")
    table = (pd.DataFrame({"bin": start.dt.floor(freq), "cause": cause})
             .groupby(["bin", "cause"]).size().unstack(fill_value=0))
    full = pd.date_range(table.index.min(), table.index.max(), freq=freq)
    table = table.reindex(full, fill_value=0)
    table = table[table.sum().sort_values(ascending=False).index]
    return table, freq


def timeline_bin(span) -> str:
    """Return the time bin for a span of data: 1 h up to 3 days, 6 h up to 3 weeks, else 1 day."""
    import pandas as pd

    if span <= pd.Timedelta(days=3):
        return "1h"
    if span <= pd.Timedelta(days=21):
        return "6h"
    return "1D"


def affected_tables(sessions, failed) -> dict[str, Any]:
    """Return, per label column, sessions, failures, failure rate and top cause per value.

    Only labels from :data:`AFFECTED_LABELS` that have values are included.
    Each table is sorted by failures, largest first, and contains at most
    :data:`MAX_TABLE_ROWS` rows.
    """
    import pandas as pd

    tables = {}
    for label in AFFECTED_LABELS:
        if label not in sessions.columns or not sessions[label].notna().any():
            continue
        frame = pd.DataFrame({"value": sessions[label].astype("string").fillna(MISSING_LABEL),
                              "failed": failed, "cause": sessions["cause"].astype("string")})
        rows = []
        for value, group in frame.groupby("value"):
            total, failures = len(group), int(group["failed"].sum())
            low, high = wilson_interval(failures, total)  # total > 0 for every group
            causes = group.loc[group["failed"], "cause"].value_counts()
            rows.append({label: value, "sessions": total, "failed": failures, "failure_rate": failures / total,
                         "rate_low": low, "rate_high": high,
                         "top_cause": causes.index[0] if len(causes) else ""})
        table = pd.DataFrame(rows).set_index(label).sort_values(["failed", "sessions"], ascending=False)
        tables[label] = table.head(MAX_TABLE_ROWS)
    return tables


def example_transcripts(sessions, events, findings: list[dict[str, Any]]) -> list[Transcript]:
    """Return the redacted transcripts of the findings' example sessions (at most :data:`MAX_TRANSCRIPTS`).

    Without findings (or when their examples are not in ``sessions``), the
    first failed session of each of the three most common causes is shown.
    """
    if events is None or not len(sessions):
        return []
    chosen = example_session_ids(sessions, findings)
    if not chosen:
        failed = sessions[failed_mask(sessions)]
        for cause in failed["cause"].astype("string").value_counts().index[:3]:
            chosen.append(str(failed.loc[failed["cause"].astype("string") == cause, "session_id"].iloc[0]))

    by_session = events[events["session_id"].isin(chosen[:MAX_TRANSCRIPTS])]
    indexed = sessions.set_index("session_id")
    transcripts = []
    for session_id in chosen[:MAX_TRANSCRIPTS]:
        row = indexed.loc[session_id]
        rows = events_in_log_order(by_session[by_session["session_id"] == session_id])
        transcripts.append(session_transcript(session_id, row, rows))
    return transcripts


def example_session_ids(sessions, findings: list[dict[str, Any]]) -> list[str]:
    """Return the ids of the findings' example sessions found in ``sessions``, without repeats.

    The first example of every finding comes before any second one, so each
    finding keeps a transcript when :data:`MAX_TRANSCRIPTS` cuts the list.
    """
    chosen: list[str] = []
    for rank in range(MAX_EXAMPLES_PER_FINDING):
        for finding in findings:
            if rank >= len(finding["examples"]):
                continue
            session_id = _find_session(sessions, finding["examples"][rank])
            if session_id and session_id not in chosen:
                chosen.append(session_id)
    return chosen


def events_in_log_order(rows):
    """Return one session's event rows in log order: file by file as they were read, then by line.

    A session cut by log rotation has events in two files, and each file's line numbers start at 1.
    """
    files = {name: rank for rank, name in enumerate(dict.fromkeys(rows["source"]))}
    ordered = rows.assign(_file=rows["source"].map(files)).sort_values(["_file", "line"], kind="stable")
    return ordered.drop(columns="_file")


def session_transcript(session_id: str, row, rows) -> Transcript:
    """Return the transcript of one session.

    Parameters
    ----------
    session_id : str
        The session's ``session_id``.
    row : pandas.Series
        The session's row from :func:`smtplogkit.read_logs`.
    rows : pandas.DataFrame
        The session's rows from :func:`smtplogkit.read_events`, in line order.
    """
    heading = f"{row['cause']} at {row['failure_stage']}"
    if not _is_missing(row.get("identity")):
        heading += f", identity {row['identity']}"
    if not _is_missing(row.get("host")):
        port = "" if _is_missing(row.get("port")) else f":{row['port']}"
        heading += f", {row['host']}{port}"
    lines: list[tuple[int | None, str, str]] = []
    for line, direction, text in rows[["line", "direction", "text"]].itertuples(index=False):
        entry = (None if _is_missing(line) else int(line), str(direction), redact_text(str(text)))
        if lines and lines[-1] == entry:
            continue  # one line read as two events (an MTA's failed connect is its attempt and its error)
        lines.append(entry)
    omitted = max(0, len(lines) - MAX_TRANSCRIPT_EVENTS)
    return Transcript(session_id=session_id, source=str(row["source"]),
                      line=None if _is_missing(row["line"]) else int(row["line"]),
                      heading=redact_text(heading), rows=lines[:MAX_TRANSCRIPT_EVENTS], omitted=omitted)


def _find_session(sessions, example: dict[str, Any]) -> str | None:
    session_id = example.get("session_id")
    if session_id and (sessions["session_id"] == session_id).any():
        return str(session_id)
    if example.get("source") is None or example.get("line") is None:
        return None
    match = sessions[(sessions["source"] == str(example["source"])) & (sessions["line"] == example["line"])]
    return str(match["session_id"].iloc[0]) if len(match) else None


def _link_examples(findings: list[dict[str, Any]], sessions, transcripts: list[Transcript]) -> None:
    anchors = {transcript.session_id: transcript.anchor for transcript in transcripts}
    for finding in findings:
        for example in finding["examples"]:
            session_id = _find_session(sessions, example)
            example["anchor"] = anchors.get(session_id) if session_id else None


def _totals(sessions, failed) -> dict[str, Any]:
    start = sessions["start"].dropna()
    end = sessions["end"].dropna()
    first = start.min() if len(start) else None
    last = start.max() if len(start) else None
    if len(end):
        last = end.max()
    untimed = int((failed & sessions["start"].isna()).sum())
    return {"sessions": int(len(sessions)), "failed": int(failed.sum()), "failed_untimed": untimed,
            "first": first, "last": last}


def reading_details(sessions, tz: str) -> dict[str, Any]:
    """Return how the data was read: per-file line counts, skipped files, time span, sessions without a time, zone."""
    files = [redact_value(dict(entry)) for entry in sessions.attrs.get("files", [])]
    totals = {key: sum(int(entry.get(key) or 0) for entry in files)
              for key in ("lines", "parsed", "noise", "unrecognised", "sessions")}
    start = sessions["start"].dropna()
    return {
        "files": files,
        "skipped": [tuple(item) for item in sessions.attrs.get("skipped", [])],
        "totals": totals,
        "first": format_time(start.min(), tz) if len(start) else None,
        "last": format_time(start.max(), tz) if len(start) else None,
        "untimed": len(sessions) - len(start),
        "read_tz": sessions.attrs.get("tz", "UTC"),
        "shown_tz": tz,
        "window": dict(sessions.attrs.get("window", {})),
        "formats": sorted({str(entry["format"]) for entry in files if entry.get("format")}),
    }


def format_time(value: Any, tz: str) -> str:
    """Return a timestamp as ``YYYY-MM-DD HH:MM`` in ``tz``, with the zone name."""
    import pandas as pd

    if value is None or _is_missing(value):
        return "unknown time"
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    stamp = stamp.tz_convert(tz)
    return f"{stamp:%Y-%m-%d %H:%M} {tz}"


def _is_missing(value: Any) -> bool:
    import pandas as pd

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _draw_figures(report: Report, sessions) -> dict[str, bytes]:
    """Draw the report's figures as PNG bytes; a finding's figure is named after its position."""
    from .. import plots

    drawn = {"timeline": figures.timeline_figure(report.timeline, tz=report.tz)}
    if len(sessions):
        drawn["funnel"] = plots.plot_stage_funnel(sessions, ax=figures.new_axes((8, 4.5)))
    if report.totals["failed"] > report.totals["failed_untimed"]:
        drawn["hour_weekday"] = plots.plot_hour_weekday(sessions, tz=report.tz, ax=figures.new_axes((10, 3.8)))
    if "network" in report.affected and len(report.affected["network"]) > 1:
        drawn["network_rates"] = plots.plot_failure_rate_by(sessions, "network", ax=figures.new_axes((8, 4.5)))
    for index, finding in enumerate(report.findings):
        figure = finding_figure(finding, sessions)
        if figure is not None:
            finding["figure"] = f"finding-{index}"
            drawn[finding["figure"]] = figure
    return {name: figures.figure_png(figure) for name, figure in drawn.items()}


def finding_figure(finding: dict[str, Any], sessions):
    """Draw the figure that shows a finding's threshold, for the kinds that have one.

    A rate limit's figure plots the burst variable its evidence names
    (``evidence["burst_threshold"]["variable"]``, per identity or per
    network), so the axis is the one the threshold is about.  A rate limit
    without a burst threshold (a quota that ran out) gets no figure.

    Returns
    -------
    matplotlib.figure.Figure or None
    """
    from .. import plots

    threshold = finding.get("threshold") or {}
    evidence = finding.get("evidence") or {}
    if finding["kind"] == "rate_limit":
        step = evidence.get("burst_threshold") if isinstance(evidence, Mapping) else None
        variable = step.get("variable") if isinstance(step, Mapping) else None
        if variable not in sessions.columns:
            return None
        unit = "per_minute" if str(variable).endswith("_1m") else "per_10_minutes"
        return plots.plot_burst_rate(sessions, column=variable, threshold=threshold.get(unit),
                                     ax=figures.new_axes((8, 4.5)))
    if finding["kind"] == "token_expiry" and "token_age_s" in sessions.columns:
        return plots.plot_token_age(sessions, threshold=threshold.get("token_age_s"), ax=figures.new_axes((8, 4.5)))
    return None


def summary_sentences(sessions, failed, findings: list[dict[str, Any]], affected: dict[str, Any],
                      tz: str, overview: Mapping[str, Any] | None = None) -> list[str]:
    """Return the three summary sentences: what failed since when, who is affected, and the likely blocker.

    ``overview`` is the diagnosis's ``Findings.overview``; without findings,
    the third sentence uses it to say why no failure qualified.
    """
    total, failures = len(sessions), int(failed.sum())
    if not total:
        return ["No SMTP sessions were found in the logs read.",
                "No network, identity or host can be named as affected.",
                "Check the section on how the data was read for files that were skipped or not recognised."]
    untimed = int(sessions["start"].isna().sum())
    if untimed < total:
        span = f"between {format_time(sessions['start'].min(), tz)} and {format_time(sessions['start'].max(), tz)}"
        if untimed:
            # Sessions without a start (smtplib's debug level 1, an openssl transcript) are outside that span.
            span += f", or at times the logs do not give ({untimed:,} of the {total:,})"
    else:
        span = "at times the logs do not give"
    if not failures:
        return [f"All {total:,} SMTP sessions {span} succeeded.",
                "No network, identity or host is affected.",
                "No external blocker was found."]

    rows = sessions[failed]
    pairs = rows.groupby([rows["cause"].astype("string"), rows["failure_stage"].astype("string")]).size()
    (cause, stage), count = pairs.idxmax(), int(pairs.max())
    since = rows.loc[(rows["cause"].astype("string") == cause), "start"].min()
    seen = f", first seen {format_time(since, tz)}" if since is not None and not _is_missing(since) else ""
    first = (f"{failures:,} of {total:,} SMTP sessions ({failures / total:.0%}) failed {span}; "
             f"the most common failure is {cause} at the {stage} stage ({_sessions(count)}){seen}.")
    return [first, _whom_sentence(affected), _blocker_sentence(findings, cause, stage, tz, overview or {})]


def _sessions(count: int) -> str:
    return f"{count:,} session" + ("" if count == 1 else "s")


def _whom_sentence(affected: dict[str, Any]) -> str:
    parts = []
    for label in ("network", "identity", "host"):
        table = affected.get(label)
        if table is None:
            continue
        known = table[table.index != MISSING_LABEL]
        hit = known[known["failed"] > 0]
        if hit.empty:
            continue  # a label that no failure carries is left out
        names = ", ".join(str(value) for value in hit.index[:4]) + (", ..." if len(hit) > 4 else "")
        unlabelled = int(table.loc[MISSING_LABEL, "failed"]) if MISSING_LABEL in table.index else 0
        if unlabelled:
            # Without this count, "1 of 1 networks" reads as if every failure had a network.
            verb = "names" if unlabelled == 1 else "name"
            names += f"; {unlabelled:,} failed session{'' if unlabelled == 1 else 's'} {verb} no {label}"
        plural = "identities" if label == "identity" else f"{label}s"
        parts.append(f"{len(hit)} of {len(known)} {plural} ({names})")
    if not parts:
        if any(affected.get(label) is not None for label in ("network", "identity", "host")):
            return "No network, identity or host is known for the failed sessions."
        return "The logs carry no network, identity or host labels to say whom the failures hit."
    listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
    return f"The failures hit {listed}."


def _blocker_sentence(findings: list[dict[str, Any]], cause: str, stage: str, tz: str,
                      overview: Mapping[str, Any]) -> str:
    if not findings:
        return (f"No external blocker met the diagnosis's evidence thresholds{_shortfall(overview)}; "
                f"start from the {cause} sessions at {stage} shown below.")
    # The likely blocker is the first finding of the Findings section, the most confident one,
    # so the summary and the list agree.  A finding behind more failed sessions is named beside it.
    top = max(findings, key=lambda f: f["confidence"])
    scope = describe_scope(top.get("scope") or {}, tz)
    where = f" ({scope})" if scope else ""
    step = str(top.get("next_step") or "").rstrip(".")
    widest = max(findings, key=_failures_explained)
    wider = ""
    if widest is not top and _failures_explained(widest) > _failures_explained(top):
        wider = (f" {widest['kind']} (confidence {widest['confidence']:.2f}) explains more failed sessions: "
                 f"{_failures_explained(widest):,} against {_failures_explained(top):,}.")
    named = (top, widest) if wider else (top,)
    # Each other finding's kind once, in the order of the list.
    others = list(dict.fromkeys(f["kind"] for f in findings if not any(f is n for n in named)))
    also = f" Also found: {', '.join(others)}." if others else ""
    return (f"The likely blocker is {top['kind']}{where}, with confidence {top['confidence']:.2f}"
            + (f"; next step: {step}." if step else ".") + wider + also)


def _shortfall(overview: Mapping[str, Any]) -> str:
    """Return ", because ..." naming the largest share any host or network lost to one cause, or ""."""
    best = None
    for item in overview.get("top_causes") or []:
        for scope, group in (item.get("largest_share") or {}).items():
            if group and (best is None or group["share"]["rate"] > best[2]["share"]["rate"]):
                best = (item["cause"], scope, group)
    if best is None:
        return ""
    cause, scope, group = best
    thresholds = overview["thresholds"]
    share = group["share"]
    bound = (share.get("ci95") or [None])[0]
    if bound is not None and bound >= thresholds["min_share"]:
        # The share was enough: another condition failed (too few sessions, or nothing to compare with).
        return (f", although {group['value']} lost {share['rate']:.1%} of its sessions to {cause}: each finding "
                f"also needs at least {thresholds['min_sessions']} failures and a contrast with other networks, "
                "hosts or times, which smtplogkit diagnose --overview details")
    low = f", at least {bound:.1%} with 95% confidence" if bound is not None else ""
    return (f", because no {scope} lost enough of its sessions to one cause: the largest share was "
            f"{share['rate']:.1%} ({cause} at {group['value']}{low}), and a finding needs at least "
            f"{thresholds['min_share']:.0%} with 95% confidence")


def _failures_explained(finding: Mapping[str, Any]) -> int:
    evidence = finding.get("evidence") or {}
    value = evidence.get("failures", 0) if isinstance(evidence, Mapping) else 0
    return int(value) if isinstance(value, (int, float)) else 0


def describe_scope(scope: Mapping[str, Any], tz: str = "UTC") -> str:
    """Return a finding's scope as a short phrase (``networks office; ports 25; from ... to ...``)."""
    parts = []
    for key in ("networks", "identities", "hosts", "ports"):
        values = scope.get(key) or []
        if isinstance(values, (str, int)):
            values = [values]
        if values:
            shown = ", ".join(str(value) for value in list(values)[:4]) + (", ..." if len(values) > 4 else "")
            parts.append(f"{key} {shown}")
    if scope.get("start") or scope.get("end"):
        start = format_time(scope["start"], tz) if scope.get("start") else "?"
        end = format_time(scope["end"], tz) if scope.get("end") else "?"
        parts.append(f"from {start} to {end}")
    return "; ".join(redact_text(part) for part in parts)


def format_evidence(value: Any) -> str:
    """Return one evidence value as text.

    A rate (a dict with ``count``, ``total``, ``rate`` and optionally
    ``ci95``) reads ``294/294 = 100% (95% CI 98.7% to 100%)``; other dicts
    read ``key: value; ...`` without the empty values; numbers read as
    :func:`smtplogkit.findings.base.format_number` writes them.
    """
    if isinstance(value, Mapping) and {"count", "total", "rate"} <= set(value):
        text = f"{value['count']:,}/{value['total']:,} = {_percent(value['rate'])}"
        bounds = value.get("ci95")
        if isinstance(bounds, (list, tuple)) and len(bounds) == 2 and None not in bounds:
            text += f" (95% CI {_percent(bounds[0])} to {_percent(bounds[1])})"
        return text
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {format_evidence(item)}" for key, item in value.items() if not is_empty(item))
    if isinstance(value, (list, tuple)):
        return ", ".join(format_evidence(item) for item in value if not is_empty(item))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    return "" if value is None else str(value)


def _percent(value: Any) -> str:
    if value is None or _is_missing(value):
        return "n/a"
    return f"{float(value):.1%}".replace(".0%", "%")

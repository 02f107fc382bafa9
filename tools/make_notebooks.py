#!/usr/bin/env python3
"""Write the investigation notebooks in notebooks/ from the cell lists below.

Run ``python tools/make_notebooks.py`` after changing a cell here; the
notebooks are stored without outputs, so the diff stays readable.  Every
notebook starts with a cell tagged ``parameters`` for papermill.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

PARAMETERS = '''\
# Parameters (papermill: -p logs my/logs/ -p tz Europe/Berlin)
logs = None  # folder, file, glob or {label} template; None reads the bundled sample data
template = "{network}/{worker}/*.log"  # labels taken from paths under a logs folder; "" for none
labels = {}  # constant labels added to every session, e.g. {"env": "prod"}
tz = "UTC"  # zone of timestamps printed without an offset, and of the times shown
start = None  # start of the time window (ISO 8601, e.g. "2026-12-01T00:00"); None leaves it open
end = None  # end of the time window, exclusive; None leaves it open'''

LOAD = '''\
%matplotlib inline
import pandas as pd

import smtplogkit
from smtplogkit.report import load_logs
from smtplogkit.report.model import run_diagnosis, finding_dict

loaded = load_logs(logs, template=template, labels=labels, tz=tz, start=start, end=end, progress=True)
sessions, events = loaded.sessions, loaded.events
print(f"{len(sessions):,} sessions and {len(events):,} events from {len(sessions.attrs['files'])} files")'''

READING = '''\
pd.DataFrame(sessions.attrs["files"])[["source", "format", "lines", "parsed", "noise", "unrecognised", "sessions"]]'''

EXPLORE = '''\
from smtplogkit.widgets import FilterPanel, SessionBrowser

panel = FilterPanel(sessions, tz=tz)
browser = SessionBrowser(sessions, events, tz=tz)
panel.link(browser)
panel'''


def md(text: str):
    return nbformat.v4.new_markdown_cell(text)


def code(text: str, tags: list[str] | None = None):
    cell = nbformat.v4.new_code_cell(text)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def header(title: str, intro: str) -> list:
    return [
        md(f"# {title}\n\n{intro}\n\nSet the parameters below (or pass them with papermill) to read your own "
           "logs; by default the notebook reads the sample data bundled with smtplogkit."),
        code(PARAMETERS, ["parameters"]),
        code(LOAD),
    ]


def findings_cells(kinds: list[str], heading: str) -> list:
    kinds_literal = ", ".join(f'"{kind}"' for kind in kinds)
    return [
        md(f"## {heading}\n\nThe diagnosis's findings of these kinds, with their evidence and next step."),
        code(f'''\
findings = [finding_dict(f) for f in run_diagnosis(sessions)]
relevant = [f for f in findings if f["kind"] in ({kinds_literal})]
pd.DataFrame(relevant, columns=["kind", "confidence", "scope", "threshold", "evidence", "next_step"])'''),
    ]


def triage() -> list:
    return [
        *header("Triage: what fails, at which stage, since when",
                "A first look at a set of SMTP logs: how the files were read, which failures dominate, where in "
                "the protocol sessions stop, and when each kind of failure started."),
        md("## How the data was read\n\nLines per file: parsed, noise (lines without evidence) and "
           "unrecognised (lines no parser understood)."),
        code(READING),
        md("## What fails\n\nSessions per failure stage and cause, most common first."),
        code('''\
(sessions.groupby(["failure_stage", "cause"], observed=True).size()
 .rename("sessions").sort_values(ascending=False).head(20).to_frame())'''),
        md("## At which stage\n\nHow many sessions reached each protocol stage and how many failed there."),
        code('''\
from smtplogkit.report.figures import funnel_figure, timeline_figure
from smtplogkit.report.model import failed_mask, failures_timeline, stage_funnel

funnel = stage_funnel(sessions)
funnel_figure(funnel)'''),
        code("funnel"),
        md("## Since when\n\nFailed sessions over time by cause, and the first and last time each cause was seen."),
        code('''\
failed = failed_mask(sessions)
timeline, bin_width = failures_timeline(sessions, failed, tz)
timeline_figure(timeline, tz=tz)'''),
        code('''\
(sessions[failed].assign(cause=lambda f: f["cause"].astype("string"))
 .groupby("cause")["start"].agg(first_seen="min", last_seen="max", sessions="count")
 .sort_values("sessions", ascending=False))'''),
        md("## Explore\n\nFilter by network, identity, stage, cause and time; pick a session below the panel to "
           "read its redacted transcript."),
        code(EXPLORE),
        code("browser"),
    ]


def network_firewall() -> list:
    return [
        *header("Network and firewalls",
                "Failures before the SMTP greeting (DNS, TCP connect, TLS) point at the network path: egress "
                "firewalls, ISP blocks on port 25, TLS mode mismatches or certificate problems. This notebook "
                "compares networks and destinations."),
        md("## Network-level failures by network and destination\n\nSessions that failed at the dns, connect or "
           "tls stage, per network, destination host and port."),
        code('''\
network_stages = ["dns", "connect", "tls", "greeting"]
early = sessions[sessions["failure_stage"].astype("string").isin(network_stages)]
by = [column for column in ("network", "host", "port") if column in sessions.columns]
early.groupby([*by, "cause"], observed=True, dropna=False).size().rename("sessions").to_frame()'''),
        md("## Failure rate by network\n\nWith 95% Wilson intervals: a network whose interval sits well above "
           "the others fails for a reason of its own."),
        code('''\
from smtplogkit.report.figures import rate_figure
from smtplogkit.report.model import affected_tables, failed_mask

tables = affected_tables(sessions, failed_mask(sessions))
tables.get("network", pd.DataFrame())'''),
        code('''\
rate_figure(tables["network"], "network") if "network" in tables else "the sessions carry no network label"'''),
        md("## Destinations reached from each network\n\nSessions per network and port, split by whether they "
           "got past the connect stage."),
        code('''\
reached = ~sessions["failure_stage"].astype("string").isin(["dns", "connect"])
columns = [column for column in ("network", "port") if column in sessions.columns]
(sessions.assign(connected=reached).groupby([*columns, "connected"], dropna=False).size()
 .unstack(fill_value=0) if columns else "no network or port columns")'''),
        *findings_cells(["firewall_block", "isp_port_block", "dns_failure", "tls_mode_mismatch",
                         "certificate_problem", "idle_disconnect"], "Diagnosis: network blockers"),
        md("## Explore"),
        code(EXPLORE),
    ]


def rate_limits() -> list:
    return [
        *header("Rate limits and bursts",
                "Providers throttle senders that open too many connections or send too many messages in a "
                "short time (421 4.7.0, Gmail 4.7.28, Microsoft 4.7.650). This notebook looks at when throttling "
                "happens, for which identities, and how busy each identity was just before."),
        md("## Throttled sessions per identity"),
        code('''\
throttled = sessions[sessions["cause"].astype("string").isin(["rate_limited", "greylisted", "reputation_blocked"])]
(throttled.groupby(["identity", "cause"], observed=True, dropna=False).size()
 .rename("sessions").sort_values(ascending=False).to_frame())'''),
        md("## Attempts per minute and identity\n\nThe busiest minutes of each identity, with how many of those "
           "attempts were throttled."),
        code('''\
per_minute = (sessions.assign(minute=sessions["start"].dt.floor("1min"),
                              throttled=sessions["cause"].astype("string") == "rate_limited")
              .groupby(["identity", "minute"], dropna=False)
              .agg(attempts=("session_id", "size"), throttled=("throttled", "sum")))
per_minute.sort_values("attempts", ascending=False).head(20)'''),
        md("## Reply codes behind the throttling"),
        code('''\
(throttled.groupby(["reply_code", "enhanced_code", "reply_text"], dropna=False).size()
 .rename("sessions").sort_values(ascending=False).head(15).to_frame())'''),
        *findings_cells(["rate_limit", "greylisting", "reputation_block", "provider_outage"],
                        "Diagnosis: throttling and reputation"),
        md("## Explore"),
        code(EXPLORE),
    ]


def auth_tokens() -> list:
    return [
        *header("Authentication and token lifecycle",
                "AUTH failures come from wrong or empty credentials, app-password requirements, tenant policies "
                "that disable SMTP AUTH, and expired OAuth access tokens (XOAUTH2). This notebook splits them by "
                "identity and mechanism and looks at when they started."),
        md("## Authentication failures by identity, mechanism and cause"),
        code('''\
auth_causes = ["auth_failed", "app_password_required", "auth_disabled_by_policy", "oauth_token_invalid",
               "auth_mechanism_unsupported", "auth_required"]
auth = sessions[sessions["cause"].astype("string").isin(auth_causes)]
(auth.groupby(["identity", "auth_mechanism", "cause"], observed=True, dropna=False).size()
 .rename("sessions").sort_values(ascending=False).to_frame())'''),
        md("## Successes and failures per identity over time\n\nAn identity that worked and then fails in a "
           "steady rhythm often has a token that expires; one that never worked has wrong credentials."),
        code('''\
with_auth = sessions[sessions["auth_mechanism"].notna()]
(with_auth.assign(hour=with_auth["start"].dt.tz_convert(tz).dt.floor("1h"),
                  auth_ok=~with_auth["cause"].astype("string").isin(auth_causes))
 .groupby(["identity", "hour"], dropna=False)["auth_ok"].agg(["sum", "count"])
 .rename(columns={"sum": "succeeded", "count": "attempts"}).head(40))'''),
        md("## Server replies to the failed AUTH commands"),
        code('''\
(auth.groupby(["reply_code", "enhanced_code", "reply_text"], dropna=False).size()
 .rename("sessions").sort_values(ascending=False).head(15).to_frame())'''),
        *findings_cells(["token_expiry", "credentials", "auth_policy"], "Diagnosis: credentials and tokens"),
        md("## Explore"),
        code(EXPLORE),
    ]


def incident_report() -> list:
    return [
        md("# Incident report\n\nBuilds the same report as `smtplogkit report`: a summary, the timeline, the "
           "stage funnel, each finding with its evidence and next step, the affected networks and identities, "
           "example transcripts and how the data was read. It is shown below and written to `output` as one "
           "self-contained HTML file (or Markdown when `output` ends in `.md`)."),
        code(PARAMETERS + '''
title = "SMTP incident report"
output = "incident.html"  # where to write the report; "" writes nothing''', ["parameters"]),
        code('''\
from smtplogkit.report import report_from_logs

report = report_from_logs(logs, template=template, labels=labels, tz=tz, start=start, end=end, title=title,
                          progress=True)
if output:
    print("wrote", report.write(output, markdown=output.endswith(".md")))
report'''),
    ]


BUILDERS = {
    "01_triage.ipynb": triage,
    "02_network_firewall.ipynb": network_firewall,
    "03_rate_limits.ipynb": rate_limits,
    "04_auth_tokens.ipynb": auth_tokens,
    "05_incident_report.ipynb": incident_report,
}


def build(name: str):
    """Return the notebook ``name`` as an nbformat node, without outputs."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = BUILDERS[name]()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{Path(name).stem[:2]}-{index:02d}"
    return notebook


def main() -> None:
    NOTEBOOKS.mkdir(exist_ok=True)
    for name in BUILDERS:
        nbformat.write(build(name), NOTEBOOKS / name)


if __name__ == "__main__":
    main()

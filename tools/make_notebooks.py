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
template = "{network}/{worker}/*.log{,.[0-9],.[0-9][0-9],-[0-9]*}{,.gz,.bz2,.xz}"  # labels from paths under a logs folder; "" for none
labels = {}  # constant labels added to every session, e.g. {"env": "prod"}
tz = "UTC"  # zone of timestamps printed without an offset, and of the times shown
start = None  # start of the time window (ISO 8601, e.g. "2026-12-01T00:00"); None leaves it open
end = None  # end of the time window, exclusive; None leaves it open
cache = "smtplogkit-cache"  # folder for parsed sessions and events, next to this notebook's outputs; None for none
workers = 1  # processes that parse files; more read several files at once'''

# The investigation notebooks' own parameter: how many events to keep in memory.
EVENTS = '''
events = "failed"  # keeps failed sessions' events; the others are read again when shown. "all" keeps every one'''

LOAD = '''\
%matplotlib inline
import pandas as pd

from smtplogkit import analysis, plots
from smtplogkit.diagnosis import diagnose
from smtplogkit.enrichment import enrich, token_refreshes
from smtplogkit.findings import Findings
from smtplogkit.report import load_logs

loaded = load_logs(logs, template=template, labels=labels, tz=tz, start=start, end=end, progress=True,
                   cache=cache, workers=workers, events=events)
events = loaded.events
# Context columns (network, burst rates, idle gaps, token ages) that the diagnosis uses.
sessions = enrich(loaded.sessions, tz=tz, refreshes=token_refreshes(events))
failed = analysis.failed_mask(sessions)
print(f"{len(sessions):,} sessions ({int(failed.sum()):,} failed) and {len(events):,} events "
      f"from {len(sessions.attrs['files'])} files")'''

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
        code(PARAMETERS + EVENTS, ["parameters"]),
        code(LOAD),
    ]


def findings_cells(kinds: list[str], heading: str) -> list:
    kinds_literal = ", ".join(f'"{kind}"' for kind in kinds)
    return [
        md(f"## {heading}\n\nThe diagnosis's findings of these kinds, each with its scope, evidence, example "
           "sessions and next step. An empty list means the evidence did not support a finding."),
        code(f'''\
findings = diagnose(sessions, tz=tz)
Findings(f for f in findings if f.kind in ({kinds_literal}))'''),
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
(sessions[failed].groupby(["failure_stage", "cause"], observed=True).size()
 .rename("sessions").sort_values(ascending=False).head(20).to_frame())'''),
        md("## At which stage\n\nHow many sessions reached each protocol stage and how many failed there."),
        code("plots.plot_stage_funnel(sessions);"),
        code("analysis.stage_funnel(sessions)"),
        md("## Since when\n\nFailed sessions over time by cause, the weekly pattern, the first and last time "
           "each cause was seen, and the change points where a network started or stopped failing."),
        code('plots.plot_failures_over_time(sessions, freq="6h");'),
        code("plots.plot_hour_weekday(sessions, tz=tz);"),
        code("analysis.cause_first_last_seen(sessions, failed)"),
        code('analysis.change_points_by(sessions, "network", failed)'),
        md("## Diagnosis\n\nEvery finding, most confident first."),
        code("diagnose(sessions, tz=tz)"),
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
        md("## Network-level failures by network and destination\n\nFailure rate (with 95% Wilson intervals) "
           "of the dns, connect and tls stages per network, host and port."),
        code('''\
network_failed = sessions["failure_stage"].astype("string").isin(["dns", "connect", "tls"]).fillna(False)
analysis.failure_rate(sessions, ["network", "host", "port"], network_failed).sort_values("failures", ascending=False)'''),
        md("## Failure rate by network\n\nA network whose interval sits well above the others fails for a "
           "reason of its own; the association test says whether the difference is more than chance."),
        code('plots.plot_failure_rate_by(sessions, "network");'),
        code('''\
test = analysis.association(sessions, "network", network_failed)
print(analysis.describe_association(test))'''),
        md("## When each network started failing"),
        code('analysis.change_points_by(sessions, "network", network_failed)'),
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
        md("## Throttled sessions per identity and network"),
        code('''\
throttle_causes = ["rate_limited", "greylisted", "reputation_blocked"]
throttled = analysis.failed_mask(sessions, throttle_causes)
(sessions[throttled].groupby(["network", "identity", "cause"], observed=True, dropna=False).size()
 .rename("sessions").sort_values(ascending=False).to_frame())'''),
        md("## Throttling against burst rate\n\nThe share of sessions throttled against how many attempts the "
           "same identity made in the minute before, with the estimated threshold."),
        code("plots.plot_burst_rate(sessions);"),
        code('''\
burst_columns = ["burst_identity_1m", "burst_identity_10m", "burst_network_1m", "burst_network_10m", "parallel_sessions"]
sessions.groupby(throttled.rename("throttled"))[burst_columns].describe().T'''),
        md("## Reply codes behind the throttling"),
        code('''\
(sessions[throttled].groupby(["reply_code", "enhanced_code", "reply_text"], dropna=False).size()
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
                "identity and mechanism and looks at token ages."),
        md("## Authentication failures by identity, mechanism and cause"),
        code('''\
auth_causes = ["auth_failed", "app_password_required", "auth_disabled_by_policy", "oauth_token_invalid",
               "auth_mechanism_unsupported", "auth_required"]
auth_failed = analysis.failed_mask(sessions, auth_causes)
(sessions[auth_failed].groupby(["identity", "auth_mechanism", "cause"], observed=True, dropna=False).size()
 .rename("sessions").sort_values(ascending=False).to_frame())'''),
        md("## Failure rate per identity"),
        code('analysis.failure_rate(sessions[sessions["auth_mechanism"].notna()], "identity", auth_failed)'),
        md("## OAuth sign-in failures against token age\n\nSign-ins that fail only once a token is older than "
           "some age point at token expiry. When the logs carry no refresh events, token ages are estimated from "
           "the first XOAUTH2 success after a run of failures (the figure says so)."),
        code("plots.plot_token_age(sessions);"),
        code('''\
oauth = sessions[sessions["token_age_s"].notna()]
oauth.groupby(["identity", "token_age_basis"], dropna=False)["token_age_s"].describe()'''),
        md("## Server replies to the failed AUTH commands"),
        code('''\
(sessions[auth_failed].groupby(["reply_code", "enhanced_code", "reply_text"], dropna=False).size()
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
                          progress=True, cache=cache, workers=workers)
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

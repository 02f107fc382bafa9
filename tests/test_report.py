"""The incident report: content, self-containment, escaping and redaction."""

from __future__ import annotations

import base64
import bz2
import gzip
import html.parser
import json
import lzma
import re
import shutil
import subprocess
import sys
from pathlib import Path

import fleet
import pytest

from smtplogkit.report import DEFAULT_TEMPLATE, build_report, collect_paths, load_logs, report_from_logs
from smtplogkit.report.model import enrich_sessions, finding_dict, finding_figure, run_diagnosis
from smtplogkit.analysis import failed_mask, stage_funnel

SECTION_IDS = ["summary", "timeline", "funnel", "findings", "affected", "examples", "data"]
MARKDOWN_HEADINGS = ["## Summary", "## Timeline", "## Stage funnel", "## Findings",
                     "## Affected networks and identities", "## Example transcripts", "## How the data was read"]


class ResourceCollector(html.parser.HTMLParser):
    """Collect tags and every attribute that can load a resource."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.ids: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data", "action") and value is not None:
                self.urls.append(value)
            if name == "id":
                self.ids.append(value)


def parse_html(text: str) -> ResourceCollector:
    collector = ResourceCollector()
    collector.feed(text)
    return collector


def rate_limit_finding(sessions) -> dict:
    """A finding shaped like smtplogkit.diagnose's, built from the throttled sessions."""
    throttled = sessions[sessions["cause"].astype("string") == "rate_limited"]
    return {
        "kind": "rate_limit",
        "confidence": 0.9,
        "scope": {"networks": ["datacenter"], "identities": ["gamma@example.org"], "hosts": ["127.0.0.1"],
                  "ports": [], "start": throttled["start"].min().isoformat(), "end": None},
        "threshold": {"per_minute": 3},
        "evidence": {"throttled": len(throttled), "reply": "421 4.7.0 Try again later <soon>"},
        "examples": [{"source": row.source, "line": int(row.line)} for row in throttled.head(2).itertuples()],
        "next_step": "Keep gamma@example.org under 3 messages per minute.",
    }


@pytest.fixture(scope="module")
def report(fleet_loaded):
    sessions, events = fleet_loaded.sessions, fleet_loaded.events
    return build_report(sessions, events, [rate_limit_finding(sessions)], title="Fleet <test> report")


def test_html_sections_present(report):
    page = parse_html(report.to_html())
    for section in SECTION_IDS:
        assert section in page.ids


def test_markdown_sections_present(report):
    text = report.to_markdown()
    for heading in MARKDOWN_HEADINGS:
        assert heading in text


def test_html_figures_embedded(report):
    page = parse_html(report.to_html())
    images = [url for url in page.urls if url.startswith("data:image/png;base64,")]
    assert len(images) >= 2
    for url in images:
        assert base64.b64decode(url.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_html_loads_nothing_external(report):
    text = report.to_html()
    page = parse_html(text)
    assert "script" not in page.tags
    assert "link" not in page.tags
    assert "iframe" not in page.tags
    for url in page.urls:
        assert url.startswith(("#", "data:")), url
    assert not re.search(r"url\(\s*['\"]?https?:", text)
    assert "@import" not in text


def test_html_escapes_log_text(report):
    text = report.to_html()
    assert f"FROM:&lt;{fleet.THROTTLED_SENDER}&gt;" in text
    assert f"<{fleet.THROTTLED_SENDER}>" not in text
    assert "Fleet &lt;test&gt; report" in text
    assert "&lt;soon&gt;" in text


def test_summary_three_sentences(report):
    assert len(report.summary) == 3
    assert "rate_limited" in report.summary[0]
    assert "datacenter" in report.summary[1]
    assert "rate_limit" in report.summary[2]
    assert "3 messages per minute" in report.summary[2]


def test_finding_rendered_with_links(report):
    text = report.to_html()
    finding = report.findings[0]
    assert "Keep gamma@example.org under 3 messages per minute." in text
    anchors = [example["anchor"] for example in finding["examples"]]
    assert all(anchors)
    page = parse_html(text)
    for anchor in anchors:
        assert f"#{anchor}" in page.urls
        assert anchor in page.ids


def test_transcripts_show_file_and_line(report, fleet_loaded):
    sessions = fleet_loaded.sessions
    assert report.transcripts
    for transcript in report.transcripts:
        row = sessions[sessions["session_id"] == transcript.session_id].iloc[0]
        assert transcript.source == row["source"]
        assert transcript.line == row["line"]
        assert f"{transcript.source}:{transcript.line}" in report.to_markdown()
        assert transcript.rows


def test_funnel_table_rendered(report, fleet_loaded):
    funnel = stage_funnel(fleet_loaded.sessions)
    assert report.funnel.equals(funnel)
    text = report.to_markdown()
    for stage, row in funnel.iterrows():
        escaped = stage.replace("_", "\\_")
        assert f"| {escaped} | {int(row.reached):,} | {int(row.passed):,} |" in text


def test_reading_section_counts(report, fleet_loaded):
    files = fleet_loaded.sessions.attrs["files"]
    reading = report.reading
    assert len(reading["files"]) == len(files) == 3
    assert reading["totals"]["lines"] == sum(entry["lines"] for entry in files)
    assert reading["totals"]["unrecognised"] == sum(entry["unrecognised"] for entry in files)
    text = report.to_markdown()
    assert f"{reading['totals']['lines']:,} (" in text


def test_affected_by_network(report, fleet_loaded):
    table = report.affected["network"]
    sessions = fleet_loaded.sessions
    datacenter = sessions[sessions["network"] == "datacenter"]
    assert table.loc["datacenter", "sessions"] == len(datacenter)
    assert table.loc["datacenter", "failed"] == failed_mask(datacenter).sum()
    assert table.loc["datacenter", "rate_low"] <= table.loc["datacenter", "failure_rate"]


def test_secrets_absent(fleet_logs, tmp_path):
    raw = "\n".join(path.read_text() for path in fleet_logs.rglob("*.log"))
    payloads = re.findall(r"AUTH PLAIN (\S+?)\\r\\n", raw) + re.findall(r"send: '([A-Za-z0-9+/=]{16,})\\r\\n'", raw)
    decoded = "\n".join(base64.b64decode(payload).decode("utf-8", "replace") for payload in payloads)
    for secret in fleet.SECRETS:
        assert secret in raw or secret in decoded, f"fixture lost the secret {secret!r}"
    assert payloads, "fixture holds no AUTH payloads"

    report = report_from_logs(fleet_logs)
    markdown_path = tmp_path / "incident.md"
    report.write(str(markdown_path), markdown=True)
    outputs = {"html": report.to_html(), "markdown": markdown_path.read_text(), "fragment": report._repr_html_()}
    # Any 8 characters in a row of a secret count as a leak, so a secret
    # that redaction cut in two is caught as well.
    pieces = {secret[i:i + 8] for secret in [*fleet.SECRETS, *payloads] for i in range(len(secret) - 7)}
    for name, text in outputs.items():
        for piece in pieces:
            assert piece not in text, f"{piece!r} in {name}"


def test_window_selects_sessions(fleet_logs, fleet_loaded):
    starts = fleet_loaded.sessions["start"].sort_values()
    middle = starts.iloc[len(starts) // 2]
    later = load_logs(fleet_logs, start=middle.isoformat())
    assert len(later.sessions) == (starts >= middle).sum()
    assert set(later.events["session_id"]) <= set(later.sessions["session_id"])
    assert later.sessions.attrs["window"]["start"] == middle.isoformat()


def test_empty_window_report(fleet_logs):
    report = report_from_logs(fleet_logs, start="2999-01-01T00:00")
    assert report.totals["sessions"] == 0
    assert "No SMTP sessions" in report.summary[0]
    assert "<section id=\"data\">" in report.to_html()


def test_template_adds_labels(fleet_logs):
    paths = collect_paths(fleet_logs)
    assert paths[0] == str(fleet_logs / DEFAULT_TEMPLATE)
    sessions = load_logs(fleet_logs).sessions
    assert set(sessions["network"]) == {"office", "datacenter"}
    assert set(sessions["worker"]) == {"alpha", "beta", "gamma"}


@pytest.mark.parametrize("suffix, compress", [
    (".1", None), (".2.gz", gzip.compress), (".gz", gzip.compress), (".12.bz2", bz2.compress), (".xz", lzma.compress),
    ("-20261129", None), ("-20261129.gz", gzip.compress),
])
def test_template_labels_rotations(fleet_logs, tmp_path, suffix, compress):
    folder = tmp_path / "logs"
    shutil.copytree(fleet_logs, folder)
    for log in sorted(folder.glob("*/*/*.log")):
        data = log.read_bytes()
        log.unlink()
        (log.parent / (log.name + suffix)).write_bytes(compress(data) if compress else data)
    expected = load_logs(fleet_logs).sessions

    sessions = load_logs(folder).sessions

    assert len(sessions) == len(expected)
    assert sessions["network"].notna().all()
    assert sessions["worker"].notna().all()
    assert set(sessions["worker"]) == set(expected["worker"])


def test_cli_writes_html(fleet_logs, tmp_path):
    output = tmp_path / "out" / "incident.html"
    run = subprocess.run([sys.executable, "-m", "smtplogkit", "report", str(fleet_logs), "-o", str(output)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert output.is_file()
    assert str(output) in run.stdout
    assert "rate_limited" in run.stdout
    assert output.read_text().startswith("<!DOCTYPE html>")


def test_cli_writes_markdown(fleet_logs, tmp_path):
    output = tmp_path / "incident.md"
    run = subprocess.run([sys.executable, "-m", "smtplogkit", "report", str(fleet_logs), "-o", str(output),
                          "--markdown", "--label", "env=test"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    text = output.read_text()
    assert text.startswith("# SMTP incident report")
    assert (tmp_path / "incident_figures" / "timeline.png").is_file()
    assert "](incident_figures/timeline.png)" in text


def test_cli_defaults_to_sample_data(tmp_path):
    run = subprocess.run([sys.executable, "-m", "smtplogkit", "report", "-o", "incident.html"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "incident.html").is_file()
    assert "sample_data" in (tmp_path / "incident.html").read_text()



@pytest.fixture(scope="module")
def sample_report():
    return report_from_logs(None)


def test_sample_report_names_blockers(sample_report):
    """Each blocker of the sample data's ground truth that the parsed sessions show is a finding."""
    from smtplogkit.samples import sample_data_path

    truth = json.loads((sample_data_path() / "ground_truth.json").read_text())
    sessions = load_logs(None).sessions
    kinds = [finding["kind"] for finding in sample_report.findings]
    text = sample_report.to_html()
    checked = 0
    for blocker in truth["blockers"]:
        expected = blocker["expected"]["cause"]
        in_scope = sessions["network"].isin(blocker["scope"]["networks"])
        if not (in_scope & (sessions["cause"].astype("string") == expected)).any():
            continue
        checked += 1
        assert blocker["kind"] in kinds, blocker["id"]
        assert f"<h3>{blocker['kind']} " in text
    assert checked >= 2
    assert sample_report.findings[0]["kind"] in sample_report.summary[2]


def test_sample_report_reading_section(sample_report):
    from smtplogkit.samples import sample_data_path

    reading = sample_report.reading
    logs = sorted(str(path) for path in sample_data_path().rglob("*.log"))
    assert sorted(entry["source"] for entry in reading["files"]) == logs
    assert any(path.endswith("ground_truth.json") for path, _ in reading["skipped"])
    assert reading["first"].startswith("2026-03-0")


CASES = Path(__file__).parent / "cases"


def test_timeline_counts_undated_failures():
    """Failures in logs without dates are counted in the timeline, not reported as none."""
    paths = [str(CASES / "smtplib-002.log"), str(CASES / "smtplib-003.log")]
    report = report_from_logs(paths)
    assert report.totals["failed"] == 2
    assert report.totals["failed_untimed"] == 2
    expected = "2 sessions failed at times the logs do not give"
    html_text = report.to_html()
    timeline_html = html_text.split("<section id=\"timeline\">")[1].split("</section>")[0]
    assert expected in timeline_html
    assert "No session failed" not in timeline_html
    timeline_markdown = report.to_markdown().split("## Timeline")[1].split("## Stage funnel")[0]
    assert expected in timeline_markdown
    assert "hour_weekday" not in report.figures


def test_summary_counts_sessions_without_time():
    """A log without times beside a dated one: the span of times does not claim the undated sessions."""
    paths = [str(CASES / "smtplib-002.log"), str(CASES / "postfix-003.log")]
    report = report_from_logs(paths)
    sessions = load_logs(paths).sessions
    untimed = int(sessions["start"].isna().sum())
    markdown = report.to_markdown()

    assert 0 < untimed < len(sessions)
    assert f", or at times the logs do not give ({untimed} of the {len(sessions)})" in report.summary[0]
    assert report.reading["untimed"] == untimed
    assert f"sessions without a time: {untimed}" in markdown
    assert "<dt>sessions without a time</dt>" in report.to_html()


def test_timeline_notes_some_undated(fleet_loaded):
    """Dated failures are drawn, and the undated rest are counted beside the figure."""
    sessions = fleet_loaded.sessions.copy()
    failed = failed_mask(sessions)
    undated = sessions.index[failed][:3]
    sessions.loc[undated, ["start", "end"]] = None
    report = build_report(sessions, fleet_loaded.events, [])
    assert not report.timeline.empty
    assert int(report.timeline.to_numpy().sum()) == int(failed.sum()) - 3
    timeline_html = report.to_html().split("<section id=\"timeline\">")[1].split("</section>")[0]
    assert "3 sessions of the" in timeline_html
    assert "data:image/png" in timeline_html


def test_rate_limit_figure_variable():
    """The rate-limit figure plots the burst variable the finding's threshold is about."""
    loaded = load_logs(None)
    sessions = enrich_sessions(loaded.sessions, loaded.events)
    findings = [finding_dict(finding) for finding in run_diagnosis(sessions)]
    rate_limits = [finding for finding in findings if finding["kind"] == "rate_limit"]
    assert rate_limits
    for finding in rate_limits:
        step = finding["evidence"]["burst_threshold"]
        figure = finding_figure(finding, sessions)
        axes = figure.axes[0]
        window = "1 minute" if step["variable"].endswith("_1m") else "10 minutes"
        assert axes.get_xlabel() == f"attempts by the same {step['counted_per']} in the last {window}"
        plotted = [float(x) for x in axes.lines[0].get_xdata()]
        assert plotted == sorted(float(x) for x in sessions[step["variable"]].dropna().unique())


def test_rate_limit_quota_no_figure(fleet_loaded):
    """A rate limit without a burst threshold names no variable, so it gets no figure."""
    sessions = enrich_sessions(fleet_loaded.sessions, fleet_loaded.events)
    finding = finding_dict(rate_limit_finding(fleet_loaded.sessions))
    assert finding_figure(finding, sessions) is None


def test_finding_evidence_omits_empty(fleet_loaded):
    """Empty evidence fields are left out and large numbers have no exponent, in HTML and Markdown."""
    finding = {"kind": "token_expiry", "confidence": 0.9, "threshold": {"token_age_s": 3599},
               "evidence": {"failures": 12, "by_network": {}, "reply_codes": [],
                            "token_age_threshold": {"value": 4396.7, "p_value": 6.62e-71, "codes_above": {}}},
               "examples": [], "next_step": "Refresh tokens."}
    report = build_report(fleet_loaded.sessions, fleet_loaded.events, [finding])
    outputs = {"html": report.to_html().split("<section id=\"findings\">")[1].split("</section>")[0],
               "markdown": report.to_markdown().split("## Findings")[1].split("## Affected")[0]}
    for name, text in outputs.items():
        assert "by" + ("\\_" if name == "markdown" else "_") + "network" not in text, name
        assert "codes" not in text, name
        assert "4397" in text, name
        assert "6.62e-71" in text, name
        assert "e+03" not in text, name


def test_examples_beyond_cap_noted(fleet_loaded):
    """When the findings name more example sessions than get a transcript, the report states how many it shows."""
    from smtplogkit.report.model import MAX_TRANSCRIPTS

    sessions = fleet_loaded.sessions
    per_finding = 1
    count = MAX_TRANSCRIPTS + 1
    assert len(sessions) >= count * per_finding
    findings = [{"kind": f"kind{index}", "confidence": 0.5,
                 "examples": [{"source": row.source, "line": int(row.line)}
                              for row in sessions.iloc[index * per_finding:(index + 1) * per_finding].itertuples()]}
                for index in range(count)]
    report = build_report(sessions, fleet_loaded.events, findings)
    total = count * per_finding
    assert report.example_sessions == total
    assert len(report.transcripts) == MAX_TRANSCRIPTS
    sentence = f"Showing {MAX_TRANSCRIPTS} of the {total} example sessions"
    html_text = report.to_html()
    assert sentence in html_text.split("<section id=\"examples\">")[1]
    assert sentence in report.to_markdown().split("## Example transcripts")[1]
    unlinked = [f for f in report.findings if not all(example.get("anchor") for example in f["examples"])]
    assert unlinked
    assert html_text.count("without a transcript in this report") == len(unlinked)


def test_examples_all_shown_no_note(report):
    assert report.example_sessions == len(report.transcripts)
    assert "Showing" not in report.to_html()


def test_timeline_headroom(fleet_loaded):
    """The tallest stacked bar of the timeline stays below the top of the axes."""
    from smtplogkit.report.figures import timeline_figure
    from smtplogkit.report.model import failures_timeline

    sessions = fleet_loaded.sessions
    timeline, _ = failures_timeline(sessions, failed_mask(sessions), "UTC")
    tallest = int(timeline.sum(axis=1).max())
    assert tallest > 0
    bottom, top = timeline_figure(timeline, tz="UTC").axes[0].get_ylim()
    assert bottom == 0
    assert top >= tallest * 1.1
    assert top > tallest


def test_connect_failure_transcript_once(tmp_path):
    import smtplogkit
    from smtplogkit.report.model import session_transcript

    path = tmp_path / "maillog"
    path.write_text(
        "Dec  4 10:00:00 mx1 postfix/smtp[501]: connect to mx.example.org[192.0.2.9]:25: Connection timed out\n"
        "Dec  4 10:00:00 mx1 postfix/smtp[501]: 4A1B2C3D4E: to=<r@example.org>, relay=none, delay=30, "
        "delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.org[192.0.2.9]:25: Connection timed out)\n")
    sessions = smtplogkit.read_logs(path, format="postfix")
    events = smtplogkit.read_events(path, format="postfix")
    (session_id,) = sessions["session_id"]
    transcript = session_transcript(session_id, sessions.iloc[0], events[events["session_id"] == session_id])

    assert [text for _, _, text in transcript.rows] == ["connect to mx.example.org[192.0.2.9]:25: Connection timed out"]


def test_report_same_with_failed_events(tmp_path):
    # The report shows failed sessions' transcripts only, so keeping only their events changes nothing.
    every_report = report_from_logs(None, events="all")
    failed_report = report_from_logs(None, events="failed")
    failed_report.generated = every_report.generated  # the minute it was built, which may have turned over
    every = every_report.write(tmp_path / "all.html")
    failed = failed_report.write(tmp_path / "failed.html")
    assert Path(every).read_text() == Path(failed).read_text()
    assert "Example transcripts" in Path(failed).read_text()


def test_whom_sentence_skips_unhit_labels():
    import pandas as pd

    from smtplogkit.report.model import MISSING_LABEL, _whom_sentence

    networks = pd.DataFrame({"failed": [3, 0]}, index=["office", "prod"])
    identities = pd.DataFrame({"failed": [0, 2]}, index=["ci@example.com", MISSING_LABEL])
    sentence = _whom_sentence({"network": networks, "identity": identities})
    assert sentence == "The failures hit 1 of 2 networks (office)."
    assert _whom_sentence({"identity": identities}) == "No network, identity or host is known for the failed sessions."


def test_whom_sentence_counts_unlabelled_failures():
    import pandas as pd

    from smtplogkit.report.model import MISSING_LABEL, _whom_sentence

    # Sessions of one log carry a network, and those of the other logs in the folder carry none.
    networks = pd.DataFrame({"failed": [1, 8]}, index=["relay1", MISSING_LABEL])
    hosts = pd.DataFrame({"failed": [1, 0, 1]}, index=["mx.example.org", "mx.example.net", MISSING_LABEL])
    sentence = _whom_sentence({"network": networks, "host": hosts})
    assert sentence == ("The failures hit 1 of 1 networks (relay1; 8 failed sessions name no network) "
                        "and 1 of 2 hosts (mx.example.org; 1 failed session names no host).")


def test_shortfall_names_the_failed_condition():
    from smtplogkit.report.model import _shortfall

    thresholds = {"min_share": 0.4, "min_sessions": 5, "alpha": 0.01}

    def overview(share):
        group = {"value": "smtp.example.com", "share": share}
        cause = {"cause": "connect_refused", "largest_share": {"host": group}}
        return {"thresholds": thresholds, "top_causes": [cause]}

    # Every session refused, but only four: the share is enough, the count is not.
    few = _shortfall(overview({"count": 4, "total": 4, "rate": 1.0, "ci95": [0.51, 1.0]}))
    assert "lost 100.0% of its sessions to connect_refused" in few
    assert "at least 5 failures" in few
    assert "lost enough" not in few
    # A small share: the share is the reason.
    small = _shortfall(overview({"count": 4, "total": 49, "rate": 0.082, "ci95": [0.032, 0.19]}))
    assert "no host lost enough of its sessions to one cause" in small
    assert "at least 3.2% with 95% confidence" in small

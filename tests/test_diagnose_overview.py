"""diagnose on a relay's Postfix log: a named DNS blocklist, and the overview when nothing qualifies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from smtplogkit import diagnose, read_logs
from smtplogkit.findings.base import MIN_SHARE
from smtplogkit.findings.reputation_block import MIN_BLOCKLIST_SHARE, MIN_SESSIONS, listed_ip

HOSTS = [(f"mx{i}.receiver{i}.example", f"198.51.100.{10 + i}") for i in range(10)]
SPAMHAUS = ("554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org "
            "(in reply to RCPT TO command)")


def _maillog(path: Path, *, sent: int, timeouts: int, listed: int, reply: str = SPAMHAUS) -> Path:
    """Write a Postfix log in which every receiving host takes most mail and fails a few deliveries.

    ``sent``, ``timeouts`` and ``listed`` are per host: accepted deliveries,
    connection timeouts and Spamhaus rejections.  They are interleaved over
    the hour, so no host fails in a concentrated run.
    """
    lines = []
    serial = 0
    for host_index, (host, ip) in enumerate(HOSTS):
        failures = ["timeout"] * timeouts + ["listed"] * listed
        # Spread the failures evenly among the accepted deliveries.
        step = max(1, (sent + len(failures)) // max(1, len(failures)))
        ordered = ["sent"] * sent
        for k, outcome in enumerate(failures):
            ordered.insert(min(len(ordered), (k + 1) * step - 1), outcome)
        for outcome in ordered:
            serial += 1
            minute, second = divmod(serial % 3600, 60)
            stamp = f"Nov 30 10:{minute:02d}:{second:02d}"
            queue_id = f"{0xA0000 + serial:X}"
            pid = 1000 + host_index
            if outcome == "timeout":
                lines.append(f"{stamp} relay1 postfix/smtp[{pid}]: connect to {host}[{ip}]:25: Connection timed out")
                lines.append(f"{stamp} relay1 postfix/smtp[{pid}]: {queue_id}: to=<u{serial}@r{host_index}.example>, "
                             f"relay=none, delay=30, delays=0.1/0/30/0, dsn=4.4.1, status=deferred "
                             f"(connect to {host}[{ip}]:25: Connection timed out)")
                continue
            if outcome == "listed":
                status, dsn, reason = "bounced", "5.7.1", f"host {host}[{ip}] said: {reply}"
            else:
                status, dsn, reason = "sent", "2.0.0", "250 2.0.0 OK queued"
            lines.append(f"{stamp} relay1 postfix/smtp[{pid}]: {queue_id}: to=<u{serial}@r{host_index}.example>, "
                         f"relay={host}[{ip}]:25, delay=1.2, delays=0.5/0.01/0.3/0.4, dsn={dsn}, "
                         f"status={status} ({reason})")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_blocklist_finding_below_share(tmp_path):
    sessions = read_logs(_maillog(tmp_path / "maillog", sent=60, timeouts=2, listed=3))
    per_host = 3 / (60 + 2 + 3)
    assert per_host < MIN_SHARE  # no host reaches the concentration threshold on its own

    findings = diagnose(sessions)

    blocks = [f for f in findings if f.kind == "reputation_block"]
    assert len(blocks) == 1
    block = blocks[0]
    assert block.evidence["blocklist"] == "zen.spamhaus.org"
    assert block.evidence["listed_ips"] == ["203.0.113.5"]
    assert block.evidence["failures"] == 3 * len(HOSTS)
    assert block.evidence["hosts"] == len(HOSTS)
    assert "zen.spamhaus.org" in block.summary
    assert sorted(block.scope.hosts) == sorted(host for host, _ in HOSTS)


def test_blocklist_lists_ipv6_sender(tmp_path):
    reply = SPAMHAUS.replace("[203.0.113.5]", "[2001:DB8:0::5]")
    sessions = read_logs(_maillog(tmp_path / "maillog", sent=60, timeouts=2, listed=3, reply=reply))

    blocks = [f for f in diagnose(sessions) if f.kind == "reputation_block"]

    assert len(blocks) == 1
    assert blocks[0].evidence["listed_ips"] == ["2001:db8::5"]  # written the usual, compressed way
    assert "2001:db8::5" in blocks[0].summary


def test_listed_ip_skips_times_and_codes():
    text = "host mx[2001:db8::1] said: 550 5.7.1 at 12:34:56 listed at b.barracudacentral.org (fe80::7)"
    assert listed_ip(text) == "fe80::7"
    assert listed_ip("host mx[192.0.2.1] said: 554 5.7.1 blocked using zen.spamhaus.org") is None


def test_blocklist_below_minimum(tmp_path):
    # Four rejections over the whole log: fewer than MIN_SESSIONS, so they are evidence, not a finding.
    log = _maillog(tmp_path / "maillog", sent=60, timeouts=3, listed=0)
    text = log.read_text(encoding="utf-8").splitlines()
    extra = []
    for index in range(MIN_SESSIONS - 1):
        host, ip = HOSTS[index]
        extra.append(f"Nov 30 11:00:0{index} relay1 postfix/smtp[99]: B{index:04X}: to=<x{index}@r.example>, "
                     f"relay={host}[{ip}]:25, delay=1, delays=0.5/0/0.3/0.2, dsn=5.7.1, status=bounced "
                     f"(host {host}[{ip}] said: {SPAMHAUS})")
    log.write_text("\n".join(text + extra) + "\n", encoding="utf-8")

    findings = diagnose(read_logs(log))

    assert findings.kinds() == []
    listed = findings.overview["blocklists"]
    assert [item["blocklist"] for item in listed] == ["zen.spamhaus.org"]
    assert listed[0]["listed_ips"] == ["203.0.113.5"]
    assert listed[0]["sessions"] == MIN_SESSIONS - 1
    assert listed[0]["min_share_of_failures"] == MIN_BLOCKLIST_SHARE


def test_overview_names_top_causes(tmp_path):
    findings = diagnose(read_logs(_maillog(tmp_path / "maillog", sent=60, timeouts=4, listed=0)))

    assert findings.kinds() == []
    overview = findings.overview
    assert overview["failures"] == 4 * len(HOSTS)
    assert overview["thresholds"]["min_share"] == MIN_SHARE
    top = overview["top_causes"][0]
    assert top["cause"] == "connect_timeout"
    assert top["sessions"] == 4 * len(HOSTS)
    assert top["share_of_failures"]["rate"] == 1.0
    host_share = top["largest_share"]["host"]["share"]
    assert host_share["count"] == 4
    assert host_share["ci95"][0] < MIN_SHARE
    text = str(findings)
    assert "connect_timeout at connect: 40 sessions (100.0% of failures)" in text
    assert f"threshold {MIN_SHARE:.0%}" in text


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smtplogkit", "diagnose", *args], capture_output=True, text=True,
                          timeout=300, check=True)


def test_cli_overview_text_and_json(tmp_path):
    log = str(_maillog(tmp_path / "maillog", sent=60, timeouts=4, listed=0))

    text = _cli(log)
    assert "Top failure causes" in text.stdout
    assert "connect_timeout" in text.stdout

    plain = _cli(log, "--json")
    assert json.loads(plain.stdout) == []
    assert "Top failure causes" in plain.stderr

    combined = json.loads(_cli(log, "--json", "--overview").stdout)
    assert combined["findings"] == []
    assert combined["overview"]["top_causes"][0]["cause"] == "connect_timeout"


def test_report_says_why_no_finding(tmp_path):
    from smtplogkit.report import build_report

    report = build_report(read_logs(_maillog(tmp_path / "maillog", sent=60, timeouts=4, listed=0)))

    assert report.findings == []
    assert report.overview["top_causes"][0]["cause"] == "connect_timeout"
    assert "because no host lost enough of its sessions to one cause" in report.summary[2]
    assert f"a finding needs at least {MIN_SHARE:.0%} with 95% confidence" in report.summary[2]
    assert "Top failure causes" in report.to_markdown()
    assert "Top failure causes" in report.to_html()


def test_report_blocker_is_first_finding(tmp_path):
    from smtplogkit.report import build_report

    sessions = read_logs(_maillog(tmp_path / "maillog", sent=60, timeouts=4, listed=0))
    wide = {"kind": "firewall_block", "confidence": 0.85, "summary": "blocked", "evidence": {"failures": 40}}
    confident = {"kind": "token_expiry", "confidence": 0.92, "summary": "expired", "evidence": {"failures": 10}}

    report = build_report(sessions, findings=[wide, confident])

    assert report.findings[0]["kind"] == "token_expiry"
    assert report.summary[2].startswith("The likely blocker is token_expiry")
    assert "firewall_block (confidence 0.85) explains more failed sessions: 40 against 10." in report.summary[2]


def test_report_names_each_other_finding_once(tmp_path):
    from smtplogkit.report import build_report

    sessions = read_logs(_maillog(tmp_path / "maillog", sent=60, timeouts=4, listed=0))
    findings = [{"kind": "token_expiry", "confidence": 0.92, "summary": "expired", "evidence": {"failures": 10}},
                {"kind": "firewall_block", "confidence": 0.85, "summary": "blocked", "evidence": {"failures": 40}},
                {"kind": "greylisting", "confidence": 0.6, "summary": "later", "evidence": {"failures": 5}},
                {"kind": "greylisting", "confidence": 0.5, "summary": "later", "evidence": {"failures": 4}}]

    summary = build_report(sessions, findings=findings).summary[2]

    # firewall_block is named as the finding behind more failures, so not again among the others.
    assert summary.endswith(" Also found: greylisting.")
    assert summary.count("firewall_block") == 1


def test_overview_singular_counts(tmp_path):
    host, ip = HOSTS[0]
    log = tmp_path / "maillog"
    log.write_text(
        f"Nov 30 10:00:00 relay1 postfix/smtp[1000]: A0001: to=<u1@r0.example>, relay={host}[{ip}]:25, delay=1.2, "
        "delays=0.5/0.01/0.3/0.4, dsn=2.0.0, status=sent (250 2.0.0 OK queued)\n"
        f"Nov 30 10:00:01 relay1 postfix/smtp[1000]: A0002: to=<u2@r0.example>, relay={host}[{ip}]:25, delay=1.2, "
        f"delays=0.5/0.01/0.3/0.4, dsn=5.7.1, status=bounced (host {host}[{ip}] said: {SPAMHAUS})\n",
        encoding="utf-8")

    text = str(diagnose(read_logs(log)))

    assert "Top failure causes, of 1 failed session out of 2:" in text
    assert "- reputation_blocked at rcpt_to: 1 session (100.0% of failures)" in text
    assert "in 1 failed session (100.0% of failures;" in text
    assert "1 sessions" not in text

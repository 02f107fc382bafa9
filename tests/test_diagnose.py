"""diagnose on generated scenarios: each planted blocker once, with its scope and limit; nothing on healthy logs."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from scenarios import IDENTITIES, Scenario
from smtplogkit import diagnose
from smtplogkit.findings import KINDS, MIN_SESSIONS
from smtplogkit.findings._egress import is_external


def _background(seed: int) -> Scenario:
    return Scenario(seed).healthy(3000).sparse_failures()


def _dns(scenario: Scenario, count: int = 12) -> Scenario:
    for i in range(count):
        scenario.add(scenario.start + timedelta(hours=5 * i), network="dc1", identity=IDENTITIES[1],
                     host="smtp.typo.example", port=587, cause="dns_nxdomain")
    return scenario


# kind -> (plant the blocker, expected scope, expected threshold)
BLOCKERS = {
    "rate_limit": (lambda s: s.rate_limit(limit=50), {"identities": ["bulk@example.com"], "hosts": ["smtp.gmail.com"]},
                   {"per_minute": 50}),
    "firewall_block": (lambda s: s.firewall(network="dc1", host="mail.example.net", port=465),
                       {"networks": ["dc1"], "hosts": ["mail.example.net"], "ports": [465]}, {}),
    "isp_port_block": (lambda s: s.isp_port25(network="office"),
                       {"networks": ["office"], "hosts": ["mx1.partner.example", "mx2.other.example"], "ports": [25]}, {}),
    "tls_mode_mismatch": (lambda s: s.misconfigured("tls_mode_mismatch", host="mail.example.net", port=465),
                          {"networks": ["cloud"], "hosts": ["mail.example.net"], "ports": [465]}, {}),
    "certificate_problem": (lambda s: s.rewrite("certificate_invalid", host="smtp.gmail.com", network="office"),
                            {"networks": ["office"], "hosts": ["smtp.gmail.com"]}, {}),
    "token_expiry": (lambda s: s.token_expiry(lifetime=3600), {"identities": ["oauth@example.com"]},
                     {"token_age_s": 3600}),
    "credentials": (lambda s: s.credentials(identity=IDENTITIES[3]), {"identities": [IDENTITIES[3]]}, {}),
    "auth_policy": (lambda s: s.rewrite("auth_disabled_by_policy", identity=IDENTITIES[6], host="smtp.office365.com"),
                    {"identities": [IDENTITIES[6]], "hosts": ["smtp.office365.com"]}, {}),
    "greylisting": (lambda s: s.greylisting(host="mx.greylist.example", delay=300),
                    {"hosts": ["mx.greylist.example"]}, {"retry_after_s": 315}),
    "reputation_block": (lambda s: s.rewrite("reputation_blocked", host="smtp.office365.com", network="office"),
                         {"networks": ["office"], "hosts": ["smtp.office365.com"]}, {}),
    "dns_failure": (_dns, {"hosts": ["smtp.typo.example"], "networks": ["dc1"]}, {}),
    "provider_outage": (lambda s: s.outage(host="smtp.gmail.com", start_hour=50, hours=3),
                        {"networks": ["cloud", "dc1", "office"], "hosts": ["smtp.gmail.com"]}, {}),
    "idle_disconnect": (lambda s: s.idle_disconnect(idle_limit=300), {"identities": ["pool@example.com"], "networks": ["dc1"]},
                        {"idle_s": 300}),
}


def _check_scope(finding, scope: dict) -> None:
    for key, expected in scope.items():
        assert getattr(finding.scope, key) == expected, f"{finding.kind} scope {key}"


def _check_threshold(finding, threshold: dict) -> None:
    assert set(finding.threshold) == set(threshold), f"{finding.kind} threshold keys"
    for key, expected in threshold.items():
        assert finding.threshold[key] == pytest.approx(expected, rel=0.10), f"{finding.kind} {key}"


def test_blocker_kinds_covered():
    assert set(BLOCKERS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(BLOCKERS))
def test_single_blocker(kind):
    plant, scope, threshold = BLOCKERS[kind]
    findings = diagnose(plant(_background(11)).frame())
    assert findings.kinds() == [kind]
    _check_scope(findings[0], scope)
    _check_threshold(findings[0], threshold)


@pytest.mark.parametrize("seed", [21, 22, 23, 404])
def test_mixed_blockers(seed):
    scenario = Scenario(seed).healthy(4000).sparse_failures()
    scenario.rate_limit().firewall().isp_port25().token_expiry().idle_disconnect().greylisting()
    scenario.credentials(identity=IDENTITIES[3])
    scenario.outage(host="smtp.gmail.com", start_hour=50, hours=3)
    scenario.rewrite("reputation_blocked", host="smtp.office365.com", network="office")
    scenario.misconfigured("tls_mode_mismatch", host="mail.example.net", port=465)
    scenario.rewrite("certificate_invalid", host="smtp.gmail.com", network="office")
    scenario.rewrite("auth_disabled_by_policy", identity=IDENTITIES[6], host="smtp.office365.com")
    _dns(scenario)
    findings = diagnose(scenario.frame())
    assert Counter(findings.kinds()) == Counter(KINDS)
    for finding in findings:
        plant, scope, threshold = BLOCKERS[finding.kind]
        _check_scope(finding, scope)
        _check_threshold(finding, threshold)


@pytest.mark.parametrize("seed", range(8))
def test_healthy_with_noise(seed):
    scenario = Scenario(100 + seed, days=7).healthy(10000).sparse_failures(0.03)
    assert diagnose(scenario.frame()).kinds() == []


def test_healthy_log():
    assert diagnose(Scenario(5).healthy(2000).frame()).kinds() == []


def test_empty_frame():
    assert diagnose(Scenario(5).frame()).kinds() == []


def test_findings_rest_on_minimum():
    scenario = Scenario(31).healthy(4000).sparse_failures(0.05)
    scenario.rate_limit().firewall().isp_port25().token_expiry().idle_disconnect().greylisting()
    for finding in diagnose(scenario.frame()):
        assert finding.evidence["failures"] >= MIN_SESSIONS[finding.kind]
        assert len(finding.examples) >= 2


@pytest.mark.parametrize("kind", ["reputation_blocked", "auth_disabled_by_policy", "certificate_invalid"])
def test_below_minimum_not_reported(kind):
    scenario = Scenario(41).healthy(1500)
    scenario.rewrite(kind, count=4, host="smtp.office365.com", network="office")
    assert diagnose(scenario.frame()).kinds() == []


def test_raised_minimum():
    scenario = _background(12).greylisting(count=40)
    assert diagnose(scenario.frame(), min_sessions={"greylisting": 100}).kinds() == []


def test_token_expiry_says_estimated():
    scenario = _background(13).token_expiry()
    estimated = diagnose(scenario.frame())[0]
    known = diagnose(scenario.frame(), tokens=scenario.refresh_frame())[0]
    assert "estimated" in estimated.summary
    assert estimated.evidence["token_age_basis"] == "estimated"
    assert known.evidence["token_age_basis"] == "tokens_table"
    assert "estimated" not in known.summary
    assert known.confidence > estimated.confidence


def test_firewall_reports_when_it_started():
    finding = diagnose(_background(14).firewall(since_day=1.0).frame())[0]
    worked_until = finding.evidence["worked_until"]
    assert worked_until >= (Scenario().start + timedelta(days=1)).isoformat()
    assert worked_until < (Scenario().start + timedelta(days=1, hours=3)).isoformat()


def test_json_output():
    findings = diagnose(BLOCKERS["rate_limit"][0](_background(15)).frame())
    data = json.loads(findings.to_json())
    assert [item["kind"] for item in data] == ["rate_limit"]
    item = data[0]
    for key in ("kind", "confidence", "scope", "threshold", "evidence", "next_step"):
        assert key in item
    for key in ("networks", "identities", "hosts", "ports", "start", "end"):
        assert key in item["scope"]
    assert item["scope"]["start"].startswith("2026-")
    assert 0 <= item["confidence"] <= 1
    assert item["threshold"] == {"per_minute": 50}


def test_text_and_html():
    findings = diagnose(BLOCKERS["firewall_block"][0](_background(16)).frame())
    text = str(findings)
    html = findings._repr_html_()
    assert "firewall_block" in text
    assert "next step" in text
    assert "<table>" in html
    assert "firewall_block" in html
    assert ".log:" in text  # examples name source file and line


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown finding kind"):
        diagnose(Scenario(1).healthy(10).frame(), kinds=["nope"])


def test_isp_block_needs_external_hosts():
    scenario = _background(17).isp_port25(network="office", hosts=("relay1.corp", "10.1.2.3"))
    assert "isp_port_block" not in diagnose(scenario.frame()).kinds()


@pytest.mark.parametrize(("host", "external"), [
    ("mx1.partner.example", True), ("203.0.113.9", False), ("8.8.8.8", True), ("10.0.0.5", False),
    ("localhost", False), ("mail.corp", False), ("relay.local", False), ("[2001:4860::1]", True), ("::1", False),
])
def test_external_host_check(host, external):
    assert is_external(host) is external


def test_missing_hosts_and_times():
    scenario = Scenario(18).healthy(900).sparse_failures().isp_port25(count=30)
    scenario.rewrite("reputation_blocked", host="smtp.office365.com", network="office")
    for row in scenario.rows[::7]:
        row["start"] = row["end"] = None
    for row in scenario.rows[3::11]:
        row["host"] = None
    assert "reputation_block" in diagnose(scenario.frame()).kinds()


def _finding_with_gaps():
    from smtplogkit.findings.base import Finding, Scope

    evidence = {"failures": 12, "by_network": {}, "reply_codes": {}, "note": "",
                "step": {"variable": "token_age_s", "value": 4396.7, "p_value": 6.62e-71, "codes_above": {}},
                "share": 0.5}
    return Finding("token_expiry", 0.9, "summary", Scope(), evidence, [], "next", {"token_age_s": 3599})


def test_finding_text_omits_empty():
    text = str(_finding_with_gaps())
    assert "by_network" not in text
    assert "reply_codes" not in text
    assert "note" not in text
    assert "codes_above" not in text
    assert "scope:" not in text
    assert "value 4397" in text
    assert "p_value 6.62e-71" in text
    assert "share: 0.5" in text
    assert "e+" not in text


def test_finding_html_omits_empty():
    text = _finding_with_gaps()._repr_html_()
    assert "by_network" not in text
    assert "codes_above" not in text
    assert "value 4397" in text
    assert "e+" not in text


def test_token_threshold_evidence_matches():
    """The evidence's threshold value is the finding's threshold, inside the gap the data leave."""
    scenario = _background(13).token_expiry()
    finding = diagnose(scenario.frame(), tokens=scenario.refresh_frame()).to_dict()[0]
    step = finding["evidence"]["token_age_threshold"]
    assert finding["kind"] == "token_expiry"
    assert step["value"] == finding["threshold"]["token_age_s"]
    assert step["oldest_age_below_s"] <= step["value"] <= step["youngest_age_above_s"]
    assert step["chosen_from"] == "middle of the gap"
    assert "codes_above" not in step


def test_token_threshold_stated_lifetime():
    """With a stated expires_in inside the gap, the evidence names it as the threshold's source."""
    from smtplogkit.report import load_logs
    from smtplogkit.report.model import enrich_sessions, run_diagnosis

    loaded = load_logs(None)
    findings = run_diagnosis(enrich_sessions(loaded.sessions, loaded.events))
    finding = next(f.to_dict() for f in findings if f.kind == "token_expiry")
    step = finding["evidence"]["token_age_threshold"]
    assert step["value"] == finding["threshold"]["token_age_s"] == finding["evidence"]["stated_lifetime_s"]
    assert step["oldest_age_below_s"] <= step["value"] <= step["youngest_age_above_s"]
    assert step["chosen_from"].startswith("stated token lifetime")
    assert f"{step['value']} s" in finding["summary"]


CURL_RUN = """\
*   Trying [2001:db8::25]:587...
* connect to 2001:db8::25 port 587 from 2001:db8:1::7 port 40122 failed: Network is unreachable
*   Trying 192.0.2.25:587...
* Connected to smtp.example.com (192.0.2.25) port 587 (#0)
< 220 smtp.example.com ESMTP
> EHLO build01
< 250 smtp.example.com
> MAIL FROM:<ci@example.com>
< 250 2.1.0 Ok
> RCPT TO:<team@example.com>
< 250 2.1.5 Ok
> DATA
< 354 End data with <CR><LF>.<CR><LF>
< 250 2.0.0 Ok: queued
> QUIT
< 221 Bye
* Closing connection 0
"""


def test_ipv6_fallback_is_no_firewall(tmp_path):
    # Every run from office fails over IPv6 and sends over IPv4: office reaches the server, so no egress block.
    import smtplogkit

    for network, run in (("office", CURL_RUN), ("prod", CURL_RUN.split("\n", 2)[2])):
        folder = tmp_path / network / "ci"
        folder.mkdir(parents=True)
        (folder / "app.log").write_text(run * 50)
    sessions = smtplogkit.read_logs(str(tmp_path / "{network}/{worker}/app.log"), format="curl")
    office = sessions[sessions["network"] == "office"]
    assert (office["cause"] == "network_unreachable").sum() == 50
    assert (office["ip"] == "192.0.2.25").sum() == 50

    kinds = [finding.kind for finding in diagnose(sessions)]
    assert "firewall_block" not in kinds


def test_outage_without_network_labels():
    # Logs read without a template or labels: no session has a network, so a fault on the senders' side looks the same.
    frame = BLOCKERS["provider_outage"][0](_background(11)).frame()
    frame[["network", "log_host", "container"]] = None
    findings = diagnose(frame)
    outage = [finding for finding in findings if finding.kind == "provider_outage"]
    assert outage, findings.kinds()
    summary = outage[0].summary
    assert "  " not in summary
    assert " for  " not in summary
    assert "no session has a network label" in summary

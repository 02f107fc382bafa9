"""diagnose() recovers every blocker injected into the generated sample weeks, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import smtplogkit

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
TEMPLATE = "{network}/{worker}/*.log"


def iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def bundled():
    truth = json.loads((SAMPLE / "ground_truth.json").read_text())
    sessions = smtplogkit.read_logs(str(SAMPLE / TEMPLATE))
    events = smtplogkit.read_events(str(SAMPLE / TEMPLATE))
    findings = smtplogkit.diagnose(sessions, refreshes=smtplogkit.token_refreshes(events))
    return truth, {finding.kind: finding for finding in findings}, len(findings)


def test_every_blocker_found_once(bundled):
    truth, found, count = bundled
    assert sorted(found) == sorted(blocker["kind"] for blocker in truth["blockers"])
    assert count == len(truth["blockers"])


@pytest.mark.parametrize("field", ["networks", "hosts", "ports"])
def test_blocker_scope(bundled, field):
    truth, found, _ = bundled
    for blocker in truth["blockers"]:
        scope = found[blocker["kind"]].to_dict()["scope"]
        assert sorted(scope[field]) == sorted(blocker["scope"][field]), blocker["id"]


def test_blocker_start(bundled):
    truth, found, _ = bundled
    for blocker in truth["blockers"]:
        start = iso(found[blocker["kind"]].to_dict()["scope"]["start"])
        first_seen = iso(blocker["evidence"]["first_seen"]) if "first_seen" in blocker.get("evidence", {}) else iso(blocker["scope"]["start"])
        assert abs(start - first_seen) <= timedelta(hours=1), blocker["id"]


def test_blocker_threshold(bundled):
    truth, found, _ = bundled
    for blocker in truth["blockers"]:
        threshold = found[blocker["kind"]].to_dict()["threshold"]
        for name, expected in blocker["threshold"].items():
            assert threshold[name] == pytest.approx(expected, rel=0.10), f"{blocker['id']} {name}"


def test_healthy_week_has_no_findings(tmp_path):
    out = tmp_path / "healthy"
    subprocess.run([sys.executable, "-m", "smtplogkit.samples", "--scenario", "healthy", "--out", str(out)],
                   check=True, capture_output=True, timeout=300)
    sessions = smtplogkit.read_logs(str(out / TEMPLATE))
    assert len(sessions) > 500
    assert list(smtplogkit.diagnose(sessions)) == []

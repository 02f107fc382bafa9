"""Run nodemailer itself against local aiosmtpd servers and read what it prints.

Skipped when Node.js or the capture folder's node_modules is missing, or
when this machine cannot create a network namespace (``unshare -rn``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import smtplogkit
from .format_helpers import row

CAPTURE = Path(__file__).parents[2] / "tools" / "capture" / "nodemailer"
SCENARIOS = ["success", "auth_535", "implicit_port_plain_client", "rate_limited"]


def _can_run() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (CAPTURE / "node_modules" / "nodemailer").is_dir():
        return f"run 'npm install' in {CAPTURE} first"
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "cannot create a network namespace here"
    return None


@pytest.mark.skipif(_can_run() is not None, reason=str(_can_run()))
def test_live_nodemailer(tmp_path):
    run = subprocess.run([sys.executable, str(CAPTURE / "capture_nodemailer.py"), "--out", str(tmp_path),
                          *SCENARIOS], capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stderr[-2000:]

    folder = tmp_path / "nodemailer"
    expected = [json.loads(line) for line in (folder / "expected.jsonl").read_text().splitlines()]
    assert sorted(e["scenario"] for e in expected) == sorted(SCENARIOS)
    for entry in expected:
        frame = smtplogkit.read_logs(folder / entry["file"])
        assert len(frame) == entry["sessions"] == len(entry["rows"]), entry["file"]
        first_failure = next((row(frame, i) for i in range(len(frame)) if row(frame, i)["cause"] != "ok"), row(frame))
        assert (first_failure["failure_stage"], first_failure["cause"]) == (entry["failure_stage"], entry["cause"])
        for index, wanted in enumerate(entry["rows"]):
            got = row(frame, index)
            for column, value in wanted.items():
                assert got[column] == value, f"{entry['file']} session {index}: {column}"

"""Run Jakarta Mail, PHPMailer, telnet and nc against local servers and read what they print.

Each case is skipped when its client is not installed or this machine cannot
create a network namespace, in which the capture scripts run.  The capture scripts
write the logs and the labels their scenario defines; the reader must give
those labels.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import smtplogkit

TOOLS = Path(__file__).parents[2] / "tools" / "capture"
RUNS = [
    ("javamail", TOOLS / "javamail" / "capture_javamail.py", ["auth_535", "close_after_connect"],
     [Path("/usr/share/java/jakarta-mail.jar")], ["java", "keytool"]),
    ("phpmailer", TOOLS / "phpmailer" / "capture_phpmailer.py", ["greylisted", "untrusted_cert"],
     [Path("/usr/share/php/libphp-phpmailer/autoload.php")], ["php"]),
    ("telnet", TOOLS / "telnet" / "capture_telnet.py", ["relay_denied", "connect_refused"], [], ["telnet", "nc", "script"]),
]


def _missing(files: list[Path], programs: list[str]) -> list[str]:
    missing = [str(f) for f in files if not f.exists()] + [p for p in programs if shutil.which(p) is None]
    if subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False).returncode != 0:
        missing.append("network namespaces (unshare -rn)")
    return missing


@pytest.mark.parametrize(("client", "script", "scenarios", "files", "programs"), RUNS, ids=[r[0] for r in RUNS])
def test_live_client(tmp_path, client, script, scenarios, files, programs):
    missing = _missing(files, programs)
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")

    run = subprocess.run([sys.executable, str(script), "--out", str(tmp_path), *scenarios],
                         capture_output=True, text=True, timeout=240, check=False)
    assert run.returncode == 0, run.stderr[-2000:]

    entries = [json.loads(line) for line in (tmp_path / client / "expected.jsonl").read_text().splitlines()]
    assert {e["scenario"] for e in entries} == set(scenarios)
    for entry in entries:
        frame = smtplogkit.read_logs(tmp_path / client / entry["file"])
        report = frame.attrs["files"][0]
        failed = frame[frame["cause"] != "ok"]
        first = failed.iloc[0] if len(failed) else frame.iloc[0]
        assert report["format"] == client, entry["file"]
        assert report["unrecognised"] == 0, report["warnings"]
        assert len(frame) == entry["sessions"], entry["file"]
        assert (first["failure_stage"], first["cause"]) == (entry["failure_stage"], entry["cause"]), entry["file"]

"""Credentials in damaged or unusual lines: warnings, attrs, events, the CLI and the logs stay free of them."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from pathlib import Path

import smtplogkit

CAPTURE = Path(__file__).parent / "captures" / "smtplib" / "auth_535.debug2.log"
TOKEN = "ya29.a0SECRETTOKENqwertyuiop"
PASSWORD = "Plain-Passw0rd-xyz"
XOAUTH2 = base64.b64encode(f"user=alice@acme.example\x01auth=Bearer {TOKEN}\x01\x01".encode()).decode()
PLAIN = base64.b64encode(f"\0alice@acme.example\0{PASSWORD}".encode()).decode()
SECRETS = (TOKEN, PASSWORD, XOAUTH2, PLAIN, XOAUTH2[:60], PLAIN[:24])


def _damaged_log(tmp_path: Path) -> Path:
    lines = CAPTURE.read_text().splitlines()
    lines[3:3] = [
        f"\x00\x0108:10:01.100006 send: 'AUTH XOAUTH2 {XOAUTH2}\\r\\n'",
        f"password={PASSWORD} AUTH PLAIN {PLAIN} ~~~~",
        f"2026-12-05 07:59:59,000 DEBUG app: smtp command AUTH PLAIN {PLAIN}",
        XOAUTH2,
    ]
    path = tmp_path / "damaged.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_damaged_lines_leak_nothing(tmp_path, caplog):
    path = _damaged_log(tmp_path)
    with caplog.at_level(logging.DEBUG):
        sessions = smtplogkit.read_logs(path, date="2026-12-05")
        events = smtplogkit.read_events(path, date="2026-12-05")

    _assert_clean(sessions.astype(str).to_csv())
    _assert_clean(json.dumps(sessions.attrs, default=str))
    _assert_clean(events.astype(str).to_csv())
    _assert_clean(caplog.text)
    assert sessions.attrs["files"][0]["unrecognised"] + sessions.attrs["files"][0]["noise"] > 0


def test_damaged_lines_cli_leaks_nothing(tmp_path):
    path = _damaged_log(tmp_path)
    run = subprocess.run([sys.executable, "-m", "smtplogkit", "-vv", "parse", str(path), "--jsonl", "--date", "2026-12-05"],
                         capture_output=True, text=True, timeout=120, check=False)

    assert run.returncode == 0, run.stderr
    _assert_clean(run.stdout)
    _assert_clean(run.stderr)

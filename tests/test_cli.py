"""Messages of the ``smtplogkit`` command line: counts with the right noun form, and warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CASES = Path(__file__).parent / "cases"
ONE_SESSION = CASES / "smtplib-002.log"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smtplogkit", *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=cwd)


def test_parse_one_session_singular():
    run = _run("parse", str(ONE_SESSION))
    assert run.returncode == 0, run.stderr
    assert "; 1 session\n" in run.stdout
    assert "\n1 session (timestamps" in run.stdout
    assert "1 sessions" not in run.stdout


def test_parse_output_one_row(tmp_path):
    output = tmp_path / "sessions.jsonl"
    run = _run("parse", str(ONE_SESSION), "-o", str(output))
    assert run.returncode == 0, run.stderr
    assert f"wrote 1 row to {output}" in run.stderr


def test_diagnose_one_session_singular():
    run = _run("diagnose", str(ONE_SESSION))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("1 session, 0 findings\n")

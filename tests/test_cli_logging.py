"""CLI logging: one line per file with -v, no third-party debug flood with -vv, one warning style."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "office" / "support-agent"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smtplogkit", *args], capture_output=True, text=True, timeout=300,
                          check=False, cwd=cwd)


def test_verbose_counts_once():
    run = _cli("-v", "parse", str(SAMPLE))
    output = run.stdout + run.stderr
    first = sorted(SAMPLE.iterdir())[0]

    assert run.returncode == 0
    assert output.count(f"{first}: smtplib") == 1


def test_debug_report_quiet_libraries(tmp_path):
    run = _cli("-vv", "report", str(SAMPLE), "-o", str(tmp_path / "incident.html"))

    assert run.returncode == 0
    assert "matplotlib" not in run.stderr
    assert "PIL" not in run.stderr
    assert "smtplogkit: debug:" in run.stderr or "smtplogkit: info:" in run.stderr


def test_verbose_libraries_option(tmp_path):
    run = _cli("-vv", "--verbose-libraries", "report", str(SAMPLE), "-o", str(tmp_path / "incident.html"))

    assert run.returncode == 0
    assert "matplotlib" in run.stderr


def test_warnings_share_one_prefix(tmp_path):
    (tmp_path / "garbage.log").write_text("\\x00\\x01 nothing readable here\n" * 3, encoding="utf-8")
    (tmp_path / "empty").mkdir()

    logged = _cli("parse", str(tmp_path / "garbage.log"))
    printed = _cli("parse", str(tmp_path / "empty"))

    for run in (logged, printed):
        warnings = [line for line in run.stderr.splitlines() if "warning" in line.lower()]
        assert warnings, run.stderr
        assert all(line.startswith("smtplogkit: warning: ") for line in warnings), warnings

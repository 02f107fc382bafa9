"""CLI logging: one line per file with -v, no third-party debug flood with -vv, one warning style."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "office" / "support-agent"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smtplogkit", *args], capture_output=True, text=True, timeout=300,
                          check=False, cwd=cwd)


def test_verbose_counts_once():
    # diagnose prints the counts on stderr itself, so the reader's per-file INFO lines would repeat them.
    run = _cli("-v", "diagnose", str(SAMPLE))
    output = run.stdout + run.stderr
    first = sorted(SAMPLE.iterdir())[0]

    assert run.returncode == 0
    assert output.count(f"{first}: smtplib") == 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_verbose_parse_logs_each_file(workers):
    files = sorted(SAMPLE.iterdir())
    quiet = _cli("parse", str(SAMPLE), "--workers", workers, "--jsonl")
    verbose = _cli("-v", "parse", str(SAMPLE), "--workers", workers, "--jsonl")
    debug = _cli("-vv", "parse", str(SAMPLE), "--workers", workers, "--jsonl")

    assert quiet.returncode == verbose.returncode == debug.returncode == 0
    assert "smtplogkit: info:" not in quiet.stderr
    for path in files:
        assert verbose.stderr.count(f"smtplogkit: info: {path}: smtplib, ") == 1, verbose.stderr
        assert f"smtplogkit: debug: {path}: read as smtplib" in debug.stderr
    assert "smtplogkit: debug:" not in verbose.stderr
    # The log goes to stderr only: stdout has the same JSON lines with and without -v.
    assert verbose.stdout == debug.stdout == quiet.stdout
    assert all(json.loads(line) for line in verbose.stdout.splitlines())


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

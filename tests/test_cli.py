"""Messages of the ``smtplogkit`` command line: counts with the right noun form, and warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from smtplogkit import native

CASES = Path(__file__).parent / "cases"
ONE_SESSION = CASES / "smtplib-002.log"


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smtplogkit", *args], capture_output=True, text=True, timeout=120,
                          check=False, cwd=cwd)


def test_parse_one_session_singular():
    run = _run("parse", str(ONE_SESSION))
    assert run.returncode == 0, run.stderr
    assert "; 1 session\n" in run.stdout
    assert "\n1 session, 1 without a time (timestamps" in run.stdout
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


def test_empty_folder_warns(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    for command in ("parse", "diagnose"):
        run = _run(command, str(folder))
        assert run.returncode == 0, run.stderr
        assert f"warning: no files found in {folder}" in run.stderr, command
    run = _run("report", str(folder), "-o", str(tmp_path / "incident.html"))
    assert run.returncode == 0, run.stderr
    assert f"warning: no files found in {folder}" in run.stderr


def test_only_skipped_files_warns(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "README.md").write_text("not a log\n")
    run = _run("parse", str(folder))
    assert run.returncode == 0, run.stderr
    assert f"warning: no log file read from {folder}; 1 file found and skipped" in run.stderr


def test_log_folder_no_warning(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "app.log").write_bytes(ONE_SESSION.read_bytes())
    run = _run("parse", str(folder))
    assert run.returncode == 0, run.stderr
    # Only the warning that the traceback's session has no time, which the file itself causes.
    warnings = [line for line in run.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"smtplogkit: warning: {folder / 'app.log'}: its session has no time")


def _entries(cache: Path, pattern: str) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in cache.glob(pattern)}


def test_diagnose_and_report_use_cache(tmp_path):
    cache = tmp_path / "cache"
    first = _run("diagnose", "--json", "--cache", str(cache), "--workers", "2")
    assert first.returncode == 0, first.stderr
    # diagnose keeps the events of failed sessions and the notes, which its findings use.
    failed = _entries(cache, "*.failed-events.parquet")
    assert failed
    second = _run("diagnose", "--json", "--cache", str(cache))
    assert second.stdout == first.stdout
    assert _entries(cache, "*.failed-events.parquet") == failed  # read from the cache, not written again

    # The report reads the same entries: it shows only failed sessions' transcripts.
    report = _run("report", "--markdown", "-o", str(tmp_path / "incident.md"), "--cache", str(cache))
    assert report.returncode == 0, report.stderr
    assert _entries(cache, "*.failed-events.parquet") == failed
    assert not _entries(cache, "*[0-9a-f].events.parquet")


def test_invalid_time_zone_error():
    for command in ("parse", "diagnose", "report"):
        run = _run(command, str(ONE_SESSION), "--tz", "+02:00")
        assert run.returncode == 2, command
        assert "Traceback" not in run.stderr, command
        assert "smtplogkit: error: invalid time zone '+02:00'" in run.stderr, command


def test_report_output_folder_error(tmp_path):
    run = _run("report", str(ONE_SESSION), "-o", str(tmp_path))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert f"smtplogkit: error: {tmp_path}: is a folder; give a file name for the report" in run.stderr


def test_parse_output_type_checked_first(tmp_path):
    missing = tmp_path / "missing.log"
    run = _run("parse", str(missing), "-o", str(tmp_path / "sessions.txt"))
    assert run.returncode == 2
    # The output name is checked before any input is read, so a long parse does not end in this error.
    assert "unknown output type" in run.stderr
    assert "no such file" not in run.stderr


@pytest.mark.parametrize("pure", [False, True], ids=["compiled", "pure"])
def test_version_lists_compiled_modules(pure):
    env = {key: value for key, value in os.environ.items() if key != "SMTPLOGKIT_PURE_PYTHON"}
    if pure:
        env["SMTPLOGKIT_PURE_PYTHON"] = "1"
    done = subprocess.run([sys.executable, "-m", "smtplogkit", "--version"], capture_output=True, text=True,
                          env=env, check=True)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("smtplogkit ")
    states = dict(line.strip().split(": ", 1) for line in lines[2:])
    twins = {"_postfix_scan", "_postfix_episodes", "_smtplib_scan", "_nodemailer_scan"}
    assert set(states) == twins | set(native.MODULES)
    want = "turned off by SMTPLOGKIT_PURE_PYTHON" if pure else "in use"
    assert set(states.values()) == {want}


@pytest.mark.parametrize("command", ["parse", "diagnose", "report"])
def test_workers_progress_on_terminal(tmp_path, command):
    # As for one process, the bar is drawn when stderr is a terminal, and never into a pipe.
    import fcntl
    import pty
    import struct
    import termios

    sample = Path(__file__).resolve().parent.parent / "sample_data" / "office"
    extra = {"parse": ["--jsonl"], "diagnose": ["--json"], "report": ["-o", str(tmp_path / "incident.html")]}[command]
    arguments = [command, str(sample), "--workers", "2", *extra]
    command = [sys.executable, "-m", "smtplogkit", *arguments]
    controller, terminal = pty.openpty()
    try:
        # A new terminal is 0 columns wide, in which tqdm draws nothing.
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        run = subprocess.run(command, stdout=subprocess.PIPE, stderr=terminal, timeout=120, check=False)
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal is closed and drained
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(controller)
    assert run.returncode == 0
    assert b"reading logs" in drawn
    assert b"reading logs" not in run.stdout
    piped = _run(*arguments)
    assert piped.returncode == 0
    assert "reading logs" not in piped.stderr

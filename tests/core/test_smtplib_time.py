"""smtplib debuglevel 2 prints the time of day only: where the date comes from.  Debug level 1 prints no time."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date
from pathlib import Path

import smtplogkit

NIGHT = """\
23:59:58.100000 connect: to ('smtp.example.com', 587) None
23:59:58.200000 reply: b'220 ready\\r\\n'
23:59:59.900000 send: 'ehlo me\\r\\n'
00:00:00.100000 reply: b'250 ok\\r\\n'
00:00:00.200000 send: 'quit\\r\\n'
00:00:00.300000 reply: b'221 bye\\r\\n'
"""


def test_date_from_file_name(tmp_path):
    log = tmp_path / "worker-2026-03-02.log"
    log.write_text(NIGHT)
    row = smtplogkit.read_logs(log).iloc[0]
    assert row["start"].isoformat() == "2026-03-02T23:59:58.100000+00:00"


def test_midnight_rolls_date_over(tmp_path):
    log = tmp_path / "worker-2026-03-02.log"
    log.write_text(NIGHT)
    row = smtplogkit.read_logs(log).iloc[0]
    assert row["end"].isoformat() == "2026-03-03T00:00:00.300000+00:00"


def test_date_option_and_timezone():
    row = smtplogkit.read_logs(io.StringIO(NIGHT), date=date(2026, 7, 1), tz="Europe/Berlin").iloc[0]
    assert row["start"].isoformat() == "2026-07-01T21:59:58.100000+00:00"


def test_no_date_keeps_time_missing():
    frame = smtplogkit.read_logs(io.StringIO(NIGHT))
    assert frame["start"].isna().all()
    assert frame.loc[0, "failure_stage"] == "none"
    assert frame.loc[0, "port"] == 587


def test_missing_date_warns_with_fix():
    frame = smtplogkit.read_logs(io.StringIO(NIGHT))
    warnings = frame.attrs["files"][0]["warnings"]
    assert any("no timestamp" in w and "--date" in w for w in warnings)


def test_dated_file_does_not_warn(tmp_path):
    log = tmp_path / "worker-2026-03-02.log"
    log.write_text(NIGHT)
    assert not any("no timestamp" in w for w in smtplogkit.read_logs(log).attrs["files"][0]["warnings"])


LEVEL_1 = [line.split(" ", 1)[1] for line in NIGHT.splitlines(keepends=True)]  # the same lines without times
CAPTURES = Path(__file__).resolve().parents[1] / "captures"
NO_TIME = "no time because no line of"


def _no_time_warnings(frame) -> list[str]:
    return [w for report in frame.attrs["files"] for w in report["warnings"] if NO_TIME in w]


def test_level_1_warns_once_per_file(tmp_path):
    log = tmp_path / "worker.log"
    log.write_text("".join(LEVEL_1 * 3))  # three sessions
    frame = smtplogkit.read_logs(log)

    assert len(frame) == 3
    assert frame["start"].isna().all()
    assert frame["end"].isna().all()
    (warning,) = _no_time_warnings(frame)
    assert warning.startswith(f"{log}: all 3 sessions have no time")
    assert "set_debuglevel(2)" in warning
    assert not any("no timestamp" in w for w in frame.attrs["files"][0]["warnings"])  # not the warning about dates


def test_level_1_warns_for_each_file(tmp_path):
    paths = sorted(CAPTURES.glob("smtplib/*.debug1.log"))[:3]
    frame = smtplogkit.read_logs(paths)
    warnings = _no_time_warnings(frame)

    assert len(paths) == 3
    assert [w.split(": ", 1)[0] for w in warnings] == [str(path) for path in paths]
    assert all("its session has no time" in w and "set_debuglevel(2)" in w for w in warnings)


def test_level_2_does_not_warn_about_time(tmp_path):
    log = tmp_path / "worker-2026-03-02.log"
    log.write_text(NIGHT)
    undated = smtplogkit.read_logs(io.StringIO(NIGHT))

    assert _no_time_warnings(smtplogkit.read_logs(log)) == []
    assert _no_time_warnings(undated) == []  # the warning about dates covers these


def test_some_sessions_without_time(tmp_path):
    # A level 1 session, then the application switched to level 2.
    log = tmp_path / "worker-2026-03-02.log"
    log.write_text("".join(LEVEL_1) + NIGHT)
    frame = smtplogkit.read_logs(log)
    (warning,) = _no_time_warnings(frame)

    assert frame["start"].isna().tolist() == [True, False]
    assert warning.startswith(f"{log}: 1 of 2 sessions has no time")
    assert "set_debuglevel" not in warning  # the file has debug level 2 lines already


def test_transcript_without_times_warns_without_hint():
    # openssl s_client prints no time.
    path = sorted(CAPTURES.glob("openssl/*.log"))[0]
    (warning,) = _no_time_warnings(smtplogkit.read_logs(path))

    assert warning.startswith(f"{path}: its session has no time")
    assert "set_debuglevel" not in warning


def test_parse_summary_counts_sessions_without_time(tmp_path):
    log = tmp_path / "worker-2026-03-02.log"
    log.write_text("".join(LEVEL_1 * 2) + NIGHT)
    run = subprocess.run([sys.executable, "-m", "smtplogkit", "parse", str(log)], capture_output=True, text=True,
                         timeout=60, check=True)

    assert "3 sessions, 2 without a time (timestamps without an offset read as UTC)" in run.stdout


SESSION = """\
{t}.100000 connect: to ('smtp.example.com', 587) None
{t}.200000 reply: b'220 ready\\r\\n'
{t}.300000 send: 'quit\\r\\n'
{t}.400000 reply: b'221 bye\\r\\n'
"""


def test_dated_line_undoes_false_midnight(tmp_path):
    # A stray line an hour and more earlier than its neighbours reads as midnight; the next dated line sets the date back.
    log = tmp_path / "worker-2026-03-08.log"
    log.write_text(SESSION.format(t="15:37:00") + "11:02:03.45 reply: b'250-smtp.gma\n"
                   + SESSION.format(t="15:37:30") + "2026-03-08 15:37:49,331 INFO job done\n"
                   + SESSION.format(t="15:38:00"))
    frame = smtplogkit.read_logs(log)
    starts = [stamp.isoformat() for stamp in frame["start"]]
    assert starts[0] == "2026-03-08T15:37:00.100000+00:00"
    assert starts[-1] == "2026-03-08T15:38:00.100000+00:00"


def test_dated_line_before_midnight(tmp_path):
    # A logging line stamped a moment before midnight, written after the first lines past it.
    log = tmp_path / "worker-2026-03-02.log"
    log.write_text(SESSION.format(t="23:59:50") + SESSION.format(t="00:00:01")
                   + "2026-03-02 23:59:59,990 INFO job done\n" + SESSION.format(t="00:00:05"))
    starts = [stamp.isoformat() for stamp in smtplogkit.read_logs(log)["start"]]
    assert starts == ["2026-03-02T23:59:50.100000+00:00", "2026-03-03T00:00:01.100000+00:00",
                      "2026-03-03T00:00:05.100000+00:00"]

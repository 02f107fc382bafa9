"""smtplib debuglevel 2 prints the time of day only: where the date comes from."""

from __future__ import annotations

import io
from datetime import date

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

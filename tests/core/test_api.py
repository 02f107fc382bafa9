"""The public API: what ``import smtplogkit`` offers and what it costs."""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest

import smtplogkit


def test_all_is_sorted_and_exported():
    assert smtplogkit.__all__ == sorted(smtplogkit.__all__)
    for name in smtplogkit.__all__:
        assert hasattr(smtplogkit, name), name


def test_import_does_not_load_heavy_libraries():
    code = "import sys, smtplogkit; print(' '.join(m for m in ('pandas', 'matplotlib', 'scipy', 'dns', 'ipywidgets') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == ""


def test_named_format_loads_only_its_module(tmp_path):
    # Each format module compiles its patterns on import; a read with format= given pays for one.
    log = tmp_path / "maillog"
    log.write_text("Mar  2 10:00:00 relay postfix/smtp[1]: 4A1B2C3D4E: to=<a@example.org>, "
                   "relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n")
    code = ("import sys, smtplogkit; smtplogkit.read_logs(sys.argv[1], format='postfix', progress=False); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('smtplogkit.formats.') and not "
            "m.rsplit('.', 1)[1].startswith('_'))))")
    run = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["smtplogkit.formats.base", "smtplogkit.formats.postfix"]


@pytest.mark.parametrize("name", ["nosuch", "base", "_mta", "post fix"])
def test_unknown_format_names_the_known_ones(name):
    from smtplogkit import formats

    with pytest.raises(smtplogkit.FormatError, match="known formats: .*postfix"):
        formats.get(name)


def test_label_values_are_the_contract():
    assert [s.value for s in smtplogkit.Stage] == [
        "dns", "connect", "tls", "greeting", "ehlo", "starttls", "auth", "mail_from", "rcpt_to", "data", "quit", "none",
    ]
    assert len(smtplogkit.Cause) == 30


def test_date_accepts_iso_string(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("21:00:00.000001 connect: to ('smtp.example.com', 587) None\n"
                    "21:00:00.100000 reply: b'220 ready\\r\\n'\n")
    as_string = smtplogkit.read_logs(path, date="2026-12-01")
    as_date = smtplogkit.read_logs(path, date=datetime.date(2026, 12, 1))
    assert str(as_string["start"].iloc[0]) == "2026-12-01 21:00:00.000001+00:00"
    assert as_string["start"].equals(as_date["start"])
    assert smtplogkit.read_events(path, date="2026-12-01")["ts"].notna().all()


def test_date_rejects_bad_string(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("21:00:00.000001 connect: to ('smtp.example.com', 587) None\n")
    with pytest.raises(ValueError, match="invalid date '12/01/2026': expected YYYY-MM-DD"):
        smtplogkit.read_logs(path, date="12/01/2026")


def test_read_logs_invalid_time_zone(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("send: 'ehlo worker\\r\\n'\n")
    with pytest.raises(smtplogkit.SmtpLogKitError, match="invalid time zone 'Mars/Base'"):
        smtplogkit.read_logs(path, tz="Mars/Base")
    with pytest.raises(ValueError, match="invalid time zone"):
        smtplogkit.read_logs(path, tz="+02:00")


def test_label_named_like_column(tmp_path, caplog):
    # The session column keeps the values the log gives, so most of such a label is lost, with a warning.
    path = tmp_path / "app.log"
    path.write_text("connect: to ('smtp.example.net', 587) None\nsend: 'ehlo worker\\r\\n'\n")
    frame = smtplogkit.read_logs(path, labels={"host": "prod", "env": "prod"})
    assert "label 'host' has the name of a session column" in caplog.text
    assert list(frame["env"]) == ["prod"]
    assert list(frame["host"]) == ["smtp.example.net"]

    caplog.clear()
    smtplogkit.read_logs(str(tmp_path / "{cause}.log"))
    assert "label 'cause' has the name of a session column" in caplog.text

    caplog.clear()
    smtplogkit.read_events(path, labels={"env": "prod"})
    assert "session column" not in caplog.text

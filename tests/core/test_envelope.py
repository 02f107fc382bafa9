"""Envelope removal: prefixes that collectors wrap around log lines."""

from __future__ import annotations

from datetime import datetime, timezone

from smtplogkit.envelope import EnvelopeOptions, strip_envelope

OPTIONS = EnvelopeOptions(year=2026, last_month=12)


def strip(text: str):
    return strip_envelope(7, text, OPTIONS)


def test_cri_line():
    line = strip("2026-03-02T08:00:00.123456789Z stderr F send: 'ehlo host\\r\\n'")
    assert line.text == "send: 'ehlo host\\r\\n'"
    assert line.ts == datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=timezone.utc)


def test_docker_json_line():
    line = strip('{"log":"reply: b\'250 OK\\\\r\\\\n\'\\n","stream":"stderr","time":"2026-03-02T08:00:01.5Z"}')
    assert line.text == "reply: b'250 OK\\r\\n'"
    assert line.ts == datetime(2026, 3, 2, 8, 0, 1, 500000, tzinfo=timezone.utc)


def test_compose_around_docker_timestamp():
    line = strip("legacy-smtp-1 | 2016-05-02T08:07:41.044967348Z   604 Connecting to mx [2a00::1b]:25 ... failed")
    assert line.container == "legacy-smtp-1"
    assert line.text.startswith("604 Connecting")
    assert line.ts.year == 2016


def test_bsd_syslog_keeps_program_and_pid():
    line = strip("Oct 27 09:06:16 mail postfix/smtp[3288]: connect to mx[74.125.193.27]:25: Connection timed out")
    assert (line.log_host, line.program, line.pid) == ("mail", "postfix/smtp", "3288")
    assert line.ts == datetime(2026, 10, 27, 9, 6, 16, tzinfo=timezone.utc)
    assert line.text.startswith("connect to mx")


def test_syslog_year_rolls_back():
    options = EnvelopeOptions(year=2027, last_month=1)
    line = strip_envelope(1, "Dec 31 23:59:59 mail postfix/qmgr[1]: ABC: removed", options)
    assert line.ts.year == 2026


def test_iso_syslog():
    line = strip("2026-03-02T08:00:00.5+01:00 relay postfix/smtp[12]: 4F1: to=<a@example.org>, status=sent")
    assert line.program == "postfix/smtp"
    assert line.ts.utcoffset().total_seconds() == 3600


def test_iso_syslog_level_for_host():
    # boky/postfix prints an uppercase level, padded with spaces, where the host would be.
    for level in ("INFO    ", "WARNING ", "ERROR   ", "NOTICE  "):
        line = strip(f"2024-01-05T10:00:01.123456+00:00 {level}postfix/smtp[123]: 4F1A2B3C4D: removed")
        assert (line.log_host, line.program, line.pid) == (None, "postfix/smtp", "123")
        assert line.text == "4F1A2B3C4D: removed"
        assert line.ts == datetime(2024, 1, 5, 10, 0, 1, 123456, tzinfo=timezone.utc)


def test_syslog_severity_after_host():
    # rsyslog templates with %syslogseverity-text%, and BusyBox syslogd's facility.level.
    for severity in ("INFO", "info", "mail.info", "mail.warn", "local0.err"):
        line = strip(f"Dec  3 10:00:01 mx1 {severity} postfix/smtp[76]: 4F1A2B3C4D: removed")
        assert (line.log_host, line.program, line.pid) == ("mx1", "postfix/smtp", "76")
        assert line.text == "4F1A2B3C4D: removed"
        line = strip(f"2024-01-05T10:00:01+00:00 mx1 {severity} postfix/smtp[76]: 4F1A2B3C4D: removed")
        assert (line.log_host, line.program, line.pid) == ("mx1", "postfix/smtp", "76")


def test_syslog_around_container_line():
    # Docker's syslog driver forwards a container's lines as the message of its own.
    line = strip("Jan  5 10:00:06 docker-host relay[904]: 2024-01-05T10:00:06.000001+00:00 INFO    postfix/smtp[81]: x")
    assert (line.log_host, line.program, line.pid, line.text) == ("docker-host", "postfix/smtp", "81", "x")


def test_locale_month_names_agree():
    # A name that several locales share gives the same month in each.
    for name, month in [("mar", 3), ("Mar", 3), ("mars", 3), ("Mär", 3), ("mai", 5), ("Mai", 5), ("may", 5),
                        ("ago", 8), ("août", 8), ("set", 9), ("sept.", 9), ("out", 10), ("okt", 10), ("Okt", 10),
                        ("dez", 12), ("Dez", 12), ("déc.", 12), ("DIC", 12), ("janv.", 1), ("gen", 1)]:
        line = strip(f"{name} 03 10:00:01 mx1 postfix/smtp[76]: x")
        assert (line.ts.month, line.ts.day, line.program) == (month, 3, "postfix/smtp"), name


def test_unknown_month_name_is_no_stamp():
    line = strip("foo. 03 10:00:01 mx1 postfix/smtp[76]: x")
    assert line.ts is None
    assert line.program is None


def test_python_logging_prefix():
    line = strip("2026-03-02 08:00:00,123 INFO agent.mail: token refreshed, expires_in=3599")
    assert line.text == "token refreshed, expires_in=3599"
    assert line.ts.microsecond == 123000


def test_logrus_line():
    line = strip('time="2022-04-20T07:00:35Z" level=error msg="Error while dialing SMTP server: dial tcp 1.2.3.4:587: i/o timeout"')
    assert line.text == "Error while dialing SMTP server: dial tcp 1.2.3.4:587: i/o timeout"


def test_plain_line_untouched():
    line = strip("Error: Invalid login: 535 5.7.8 Username and Password not accepted")
    assert line.text == "Error: Invalid login: 535 5.7.8 Username and Password not accepted"
    assert line.ts is None


def test_python_logging_level_first():
    # Django's "verbose" formatter: "{levelname} {asctime} {module} {message}".
    line = strip("ERROR 2026-03-02 08:00:00,123 mailer Failed to send email: [Errno 111] Connection refused")
    assert line.text == "mailer Failed to send email: [Errno 111] Connection refused"
    assert line.ts == datetime(2026, 3, 2, 8, 0, 0, 123000, tzinfo=timezone.utc)


def test_level_word_without_time_untouched():
    line = strip("ERROR sending mail: [Errno 111] Connection refused")
    assert line.text == "ERROR sending mail: [Errno 111] Connection refused"
    assert line.ts is None


def test_python_logging_name_first():
    line = strip("2024-01-01 10:00:00,123 - mailer - ERROR - SMTPAuthenticationError: (535, b'5.7.8 bad')")
    assert line.text == "SMTPAuthenticationError: (535, b'5.7.8 bad')"


def test_syslog_year_from_file_name(tmp_path):
    import os

    import smtplogkit

    log = tmp_path / "relay-2025-12-31.log"
    log.write_text(
        "Dec 31 23:59:58 relay postfix/smtp[7]: 1A2B3C: to=<a@example.org>, relay=mx.example.org[192.0.2.5]:25, "
        "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n"
        "Jan  1 00:00:01 relay postfix/smtp[8]: 4D5E6F: to=<b@example.org>, relay=mx.example.org[192.0.2.5]:25, "
        "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n"
    )
    os.utime(log, (1_800_000_000, 1_800_000_000))  # a modification time in 2027, as after a copy
    starts = sorted(smtplogkit.read_logs(log)["start"].dt.year)
    assert starts == [2025, 2026]


def test_envelope_host_and_container_reach_rows():
    import io

    import pandas as pd

    import smtplogkit

    log = io.StringIO(
        "worker-1  | 2026-03-02T08:00:00.1Z 08:00:00.100000 connect: to ('smtp.example.com', 587) None\n"
        "worker-1  | 2026-03-02T08:00:00.2Z 08:00:00.200000 reply: b'421 4.7.0 Try again later\\r\\n'\n"
        "Mar  2 08:00:01 node-7 agent[42]: 08:00:01.000000 connect: to ('smtp.example.com', 465) None\n"
    )
    rows = smtplogkit.read_logs(log, format="smtplib")
    assert rows["container"].tolist() == ["worker-1", pd.NA]
    assert rows["log_host"].tolist() == [pd.NA, "node-7"]
    assert list(rows["host"]) == ["smtp.example.com", "smtp.example.com"]


def test_syslog_impossible_time_has_no_timestamp():
    for stamp in ("Dec  4 24:00:01", "Apr 31 10:00:00"):
        line = strip_envelope(1, f"{stamp} mx1 postfix/smtpd[11]: connect from a.example[192.0.2.1]",
                              EnvelopeOptions(year=2026))
        assert line.ts is None
        assert (line.program, line.text) == ("postfix/smtpd", "connect from a.example[192.0.2.1]")


def test_syslog_29_february():
    options = EnvelopeOptions(year=2028)
    assert strip_envelope(1, "Feb 29 10:00:00 mx1 app: x", options).ts == datetime(2028, 2, 29, 10, tzinfo=timezone.utc)
    options = EnvelopeOptions(year=2026)
    assert strip_envelope(1, "Feb 29 10:00:00 mx1 app: x", options).ts == datetime(2026, 3, 1, 10, tzinfo=timezone.utc)


def test_serilog_offset_after_space():
    # Serilog's default file template: "{Timestamp:yyyy-MM-dd HH:mm:ss.fff zzz} [{Level:u3}] {Message}".
    line = strip("2026-12-05 10:30:00.123 +01:00 [ERR] Failed to send notification 8812")
    assert line.text == "Failed to send notification 8812"
    assert line.ts == datetime(2026, 12, 5, 9, 30, 0, 123000, tzinfo=timezone.utc)


def test_serilog_short_levels():
    for level in ("VRB", "DBG", "INF", "WRN", "ERR", "FTL"):
        line = strip(f"2026-12-05 10:30:00.123 -05:00 [{level}] SMTP send started")
        assert line.text == "SMTP send started", level
        assert line.ts == datetime(2026, 12, 5, 15, 30, 0, 123000, tzinfo=timezone.utc), level


def test_leading_time_then_number_kept():
    # A number after the time is text, not an offset, unless it has the +hh:mm or -hhmm form.
    line = strip("2026-12-05 10:30:00 +42 retries left")
    assert line.text == "+42 retries left"
    assert line.ts == datetime(2026, 12, 5, 10, 30, 0, tzinfo=timezone.utc)


def test_slog_text_line():
    # slog's text handler quotes neither the time nor a message without spaces.
    line = strip('time=2026-03-02T08:00:31.250+01:00 level=ERROR msg=send err="dial tcp 192.0.2.7:587: i/o timeout"')
    assert line.text == 'send err="dial tcp 192.0.2.7:587: i/o timeout"'
    assert line.ts == datetime(2026, 3, 2, 7, 0, 31, 250000, tzinfo=timezone.utc)


def test_ruby_logger_line():
    line = strip("E, [2026-03-02T08:00:05.220000 #12] ERROR -- : [ActiveJob] Error performing: Net::ReadTimeout")
    assert line.text == "[ActiveJob] Error performing: Net::ReadTimeout"
    assert line.ts == datetime(2026, 3, 2, 8, 0, 5, 220000, tzinfo=timezone.utc)


def test_ruby_logger_program_name_and_old_layout():
    # The format string of older Rubies has no space before the process id.
    line = strip("W, [2014-01-02T03:04:05.123456#42]  WARN -- sidekiq: retrying")
    assert line.text == "retrying"
    assert line.ts == datetime(2014, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)


def test_ruby_logger_look_alike_untouched():
    line = strip("I, [not a time #1]  INFO -- : text")
    assert line.text == "I, [not a time #1]  INFO -- : text"
    assert line.ts is None


def test_viewer_time_column_removed():
    # A console or log viewer shows its own time of day in a column before each line.
    line = strip("19:40:11:013\t19:40:10.928404 reply: b'250-STARTTLS\\r\\n'")
    assert line.text == "19:40:10.928404 reply: b'250-STARTTLS\\r\\n'"
    assert line.ts is None
    line = strip("7:05:09.120\tError: Invalid login: 535 5.7.8 Authentication failed")
    assert line.text == "Error: Invalid login: 535 5.7.8 Authentication failed"


def test_time_of_day_without_tab_kept():
    line = strip("19:40:10.928404 reply: b'250-STARTTLS\\r\\n'")
    assert line.text == "19:40:10.928404 reply: b'250-STARTTLS\\r\\n'"

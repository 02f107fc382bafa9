"""Where smtplib sessions begin and end when the log shows no ``connect:`` line."""

from __future__ import annotations

import io
from datetime import date

import smtplogkit

# set_debuglevel() called after smtplib.SMTP(host) connected: no connect line, no greeting.
TWO_CONNECTIONS = """\
10:00:00.000001 send: 'ehlo me\\r\\n'
10:00:00.000002 reply: b'250-mail.example.com\\r\\n'
10:00:00.000003 reply: b'250 STARTTLS\\r\\n'
10:00:00.000004 send: 'STARTTLS\\r\\n'
10:00:00.000005 reply: b'220 2.0.0 Ready to start TLS\\r\\n'
10:00:00.000006 send: 'ehlo me\\r\\n'
10:00:00.000007 reply: b'250 mail.example.com\\r\\n'
10:00:00.000008 send: 'quit\\r\\n'
10:00:00.000009 reply: b'221 bye\\r\\n'
10:00:01.000001 send: 'ehlo me\\r\\n'
10:00:01.000002 reply: b'250 ok\\r\\n'
10:00:01.000004 send: 'AUTH PLAIN AHVzZXIAcGFzcw==\\r\\n'
10:00:01.000005 reply: b'535 5.7.8 Authentication credentials invalid\\r\\n'
Traceback (most recent call last):
  File "mailer.py", line 3, in <module>
    s.login("user", "pass")
smtplib.SMTPAuthenticationError: (535, b'5.7.8 Authentication credentials invalid')
10:00:02.000001 send: 'ehlo me\\r\\n'
10:00:02.000002 reply: b'250 ok\\r\\n'
10:00:02.000003 send: 'mail FROM:<a@example.com>\\r\\n'
10:00:02.000004 reply: b'421 4.7.0 Try again later, closing connection.\\r\\n'
10:00:02.000005 send: 'QUIT\\r\\n'
"""


def read(text: str):
    return smtplogkit.read_logs(io.StringIO(text), date=date(2026, 3, 2))


def test_ehlo_after_close_starts_session():
    rows = read(TWO_CONNECTIONS)
    assert rows["line"].tolist() == [1, 10, 18]
    assert rows["cause"].tolist() == ["ok", "auth_failed", "rate_limited"]


def test_quit_after_421_stays_in_session():
    rows = read(TWO_CONNECTIONS)
    assert len(rows) == 3
    assert rows.iloc[2]["failure_stage"] == "mail_from"


def test_command_after_close_is_another_attempt():
    # smtplib prints a command before it finds the connection closed: the closed session keeps its end.
    rows = read(TWO_CONNECTIONS + "10:15:00.000001 send: 'noop\\r\\n'\n"
                "smtplib.SMTPServerDisconnected: please run connect() first\n")
    assert rows["line"].tolist() == [1, 10, 18, 23]
    assert rows.iloc[2]["end"].isoformat() == "2026-03-02T10:00:02.000005+00:00"
    assert rows.iloc[3]["start"].isoformat() == "2026-03-02T10:15:00.000001+00:00"


def test_starttls_sets_tls_mode():
    rows = read(TWO_CONNECTIONS)
    assert rows.iloc[0]["tls_mode"] == "starttls"
    assert rows.iloc[1]["tls_mode"] != "starttls"


def test_last_stage_stops_before_failure():
    rows = read(TWO_CONNECTIONS)
    assert rows.iloc[1]["last_stage_reached"] == "ehlo"
    assert rows.iloc[2]["last_stage_reached"] == "ehlo"


def test_user_code_in_traceback_is_not_an_error():
    log = """\
Traceback (most recent call last):
  File "/srv/mailer.py", line 12, in send
    with smtplib.SMTP_SSL("127.0.0.1", 8025, timeout=5, context=ctx) as s:
         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "/usr/lib/python3.11/smtplib.py", line 255, in __init__
    (code, msg) = self.connect(host, port)
                  ^^^^^^^^^^^^^^^^^^^^^^^^
ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)
"""
    rows = read(log)
    report = rows.attrs["files"][0]
    assert len(rows) == 1
    assert rows.iloc[0]["cause"] == "tls_mode_mismatch"
    assert report["unrecognised"] == 0
    assert report["noise"] == 7

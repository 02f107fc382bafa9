"""smtplib format: tracebacks of the real client, read by the shared traceback reader."""

from __future__ import annotations

from pathlib import Path

import smtplogkit

from .conftest import free_port, labels, parse_excerpt, rows, run_python

SEND = """
    import smtplib

    with smtplib.SMTP("127.0.0.1", {port}, timeout=5) as client:
        client.login("app", "wrong")
"""


def test_two_tracebacks_two_sessions(tmp_path, smtp_server):
    log = run_python(SEND.format(port=free_port())) + run_python(SEND.format(port=smtp_server.port))
    frame, report = parse_excerpt(tmp_path, log)

    assert report["format"] == "smtplib"
    assert len(frame) == 2
    refused, rejected = rows(frame)
    assert labels(refused) == ("connect", "connect_refused", None, None)
    assert labels(rejected) == ("auth", "auth_failed", 535, "5.7.8")
    assert report["unrecognised"] == 0


def test_chained_traceback_one_session(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        Traceback (most recent call last):
          File "/usr/lib/python3.11/smtplib.py", line 398, in getreply
            line = self.file.readline(_MAXLINE + 1)
        TimeoutError: timed out

        During handling of the above exception, another exception occurred:

        Traceback (most recent call last):
          File "/usr/lib/python3.11/smtplib.py", line 341, in connect
            (code, msg) = self.getreply()
          File "/usr/lib/python3.11/smtplib.py", line 401, in getreply
            raise SMTPServerDisconnected("Connection unexpectedly closed: "
        smtplib.SMTPServerDisconnected: Connection unexpectedly closed: timed out
    """)

    assert len(frame) == 1


DATA = Path(__file__).parent / "data"


def test_refused_connect_after_quit_is_own_session():
    # Real smtplib 3.11 output: debug level set after connecting, a delivery ending in 221, then a refused connect.
    frame = smtplogkit.read_logs(DATA / "smtplib-quit-then-refused-2026-12-05.log")
    delivered, refused = rows(frame)
    assert labels(delivered)[:2] == ("rcpt_to", "recipient_rejected")
    assert delivered["outcome"] == "partial"
    assert labels(refused) == ("connect", "connect_refused", None, None)
    assert refused["line"] == 50  # the exception line


def test_auth_reply_timeout_is_auth():
    # The inner traceback shows only getreply; the transcript shows AUTH was waiting for its reply.
    frame = smtplogkit.read_logs(DATA / "smtplib-auth-timeout-2026-12-05.log")
    assert len(frame) == 2
    for row in rows(frame):
        assert labels(row)[:2] == ("auth", "read_timeout")
        assert row["last_stage_reached"] == "ehlo"


def test_421_without_quit_ends_session(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        08:00:00.100000 send: 'ehlo worker\\r\\n'
        08:00:00.200000 reply: b'250 ok\\r\\n'
        08:00:00.300000 send: 'mail FROM:<a@example.org>\\r\\n'
        08:00:00.400000 reply: b'421 4.7.0 Try again later, closing connection.\\r\\n'
        08:00:01.100000 send: 'ehlo worker\\r\\n'
        08:00:01.200000 reply: b'250 ok\\r\\n'
    """, name="app-2026-12-05.log")
    first, second = rows(frame)
    assert labels(first)[:2] == ("mail_from", "rate_limited")
    assert second["failure_stage"] == "none"


def test_impossible_clock_warns(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        24:00:00.100000 send: 'ehlo worker\\r\\n'
        08:00:00.200000 reply: b'250 ok\\r\\n'
    """, name="app-2026-12-05.log")
    assert len(frame) == 1
    assert any("invalid time of day '24:00:00.100000'" in w for w in report["warnings"])


def test_date_from_logging_lines(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        2026-12-04 23:59:59,100 INFO mailer: sending
        23:59:59.200000 send: 'ehlo worker\\r\\n'
        23:59:59.300000 reply: b'250 ok\\r\\n'
        23:59:59.400000 send: 'quit\\r\\n'
        23:59:59.500000 reply: b'221 bye\\r\\n'
        2026-12-05 00:00:01,000 INFO mailer: sending
        00:00:01.100000 send: 'ehlo worker\\r\\n'
        00:00:01.200000 reply: b'250 ok\\r\\n'
        00:00:01.300000 send: 'quit\\r\\n'
    """, name="app.log")
    first, second = rows(frame)
    assert str(first["start"]) == "2026-12-04 23:59:59.200000+00:00"
    assert str(second["start"]) == "2026-12-05 00:00:01.100000+00:00"
    assert not report["warnings"]


def test_viewer_time_column(tmp_path):
    # Level 2 output copied from a console that shows its own time of day, and a tab, before each line.
    text = (
        "19:39:58:753\t19:40:10.848330 send: 'ehlo [192.0.2.1]\\r\\n'\n"
        "19:40:11:013\t19:40:10.928404 reply: b'250-smtp.example.com Hello [192.0.2.1]\\r\\n'\n"
        "19:40:11:013\t19:40:10.928404 reply: b'250 AUTH LOGIN XOAUTH2\\r\\n'\n"
        "19:40:11:013\t19:40:11.200000 send: 'AUTH LOGIN Ym9iQGV4YW1wbGUuY29t\\r\\n'\n"
        "19:40:11:013\t19:40:11.300000 reply: b'535 5.7.139 Authentication unsuccessful, the user credentials "
        "were incorrect.\\r\\n'\n"
    )
    frame, report = parse_excerpt(tmp_path, text, name="excerpt-2026-12-05.log")

    assert len(frame) == 1
    (row,) = rows(frame)
    assert labels(row)[:3] == ("auth", "auth_failed", 535)
    assert row["identity"] == "bob@example.com"
    assert row["start"].isoformat() == "2026-12-05T19:40:10.848330+00:00"
    assert report["unrecognised"] == 0

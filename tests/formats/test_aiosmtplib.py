"""aiosmtplib format: tracebacks of the real client against loopback servers, and excerpts."""

from __future__ import annotations

import pytest

from smtplogkit import formats

from .conftest import free_port, labels, parse_excerpt, rows, run_python

SEND = """
    import asyncio
    from email.message import EmailMessage

    import aiosmtplib

    message = EmailMessage()
    message["From"] = "app@example.com"
    message["To"] = "{to}"
    message["Subject"] = "test"
    message.set_content("hello")
    asyncio.run(aiosmtplib.send(message, hostname="127.0.0.1", port={port}, timeout=2, {options}))
"""


def traceback_of(port: int, to: str = "user@example.org", options: str = "") -> str:
    """Return the traceback aiosmtplib prints when sending to ``port`` fails."""
    return run_python(SEND.format(port=port, to=to, options=options))


@pytest.fixture
def real_log(tmp_path, smtp_server, silent_server) -> str:
    """One file with five real failures, one after the other."""
    parts = [
        traceback_of(free_port()),
        traceback_of(smtp_server.port, options='username="app", password="wrong", start_tls=False'),
        traceback_of(smtp_server.port, to="nobody@example.org", options="start_tls=False"),
        traceback_of(smtp_server.port, options="use_tls=True"),
        traceback_of(silent_server),
    ]
    return "".join(parts)


def test_real_tracebacks(tmp_path, real_log):
    frame, report = parse_excerpt(tmp_path, real_log)

    assert report["format"] == "aiosmtplib"
    assert len(frame) == 5
    expected = [
        ("connect", "connect_refused", None, None),
        ("auth", "auth_failed", 535, "5.7.8"),
        ("rcpt_to", "recipient_rejected", 550, "5.1.1"),
        ("tls", "tls_mode_mismatch", None, None),
        ("greeting", "read_timeout", None, None),
    ]
    for row, expected_labels in zip(rows(frame), expected):
        assert labels(row) == expected_labels, row["error_text"]
    assert report["unrecognised"] == 0
    assert report["parsed"] + report["noise"] == report["lines"]


def test_real_refused_host_and_port(tmp_path):
    port = free_port()
    frame, _ = parse_excerpt(tmp_path, traceback_of(port))

    assert len(frame) == 1
    assert frame.loc[0, "host"] == "127.0.0.1"
    assert frame.loc[0, "port"] == port


def test_connect_timeout_excerpt(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        Traceback (most recent call last):
          File "/srv/app/mailer.py", line 31, in deliver
            await smtp.connect()
          File "/srv/venv/lib/python3.12/site-packages/aiosmtplib/smtp.py", line 481, in _create_connection
            raise SMTPConnectTimeoutError(
        aiosmtplib.errors.SMTPConnectTimeoutError: Timed out connecting to smtp.example.com on port 587
    """)

    assert report["format"] == "aiosmtplib"
    assert frame.loc[0, "failure_stage"] == "connect"
    assert frame.loc[0, "cause"] == "connect_timeout"
    assert frame.loc[0, "host"] == "smtp.example.com"
    assert frame.loc[0, "port"] == 587


def test_disconnect_after_starttls_frame(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        Traceback (most recent call last):
          File "/srv/venv/lib/python3.12/site-packages/aiosmtplib/smtp.py", line 1004, in starttls
            raise SMTPServerDisconnected("Connection lost")
        aiosmtplib.errors.SMTPServerDisconnected: Connection lost
    """)

    assert frame.loc[0, "failure_stage"] == "starttls"
    assert frame.loc[0, "cause"] == "server_disconnected"


def test_detect_prefers_aiosmtplib():
    sample = ['  File "/x/site-packages/aiosmtplib/smtp.py", line 1, in connect',
              "aiosmtplib.errors.SMTPReadTimeoutError: Timed out waiting for server response"]
    module, _, scores = formats.detect(sample)

    assert module.NAME == "aiosmtplib"
    assert scores["aiosmtplib"] > scores["smtplib"]

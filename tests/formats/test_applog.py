"""applog format: one line an application logged about a failed send, with no transcript."""

from __future__ import annotations

import pytest

import smtplogkit

from .conftest import labels, parse_excerpt, rows

CASES = [
    ("ERROR 2024-05-01 10:00:00,123 mailer Failed to send email: [Errno 111] Connection refused",
     ("connect", "connect_refused", None, None)),
    ("2024-05-01 10:00:00,123 ERROR mailer Failed to send email: [Errno 110] Connection timed out",
     ("connect", "connect_timeout", None, None)),
    ("ERROR:root:Could not send the mail: [Errno -2] Name or service not known", ("dns", "dns_nxdomain", None, None)),
    ("ERROR 2024-05-01 10:00:00,123 mailer Failed to send email: (535, b'5.7.8 Username and Password not accepted.')",
     ("auth", "auth_failed", 535, "5.7.8")),
    ("[WARNING] mail delivery failed: [WinError 10060] A connection attempt failed",
     ("connect", "connect_timeout", None, None)),
    ("ConnectionRefusedError: [Errno 111] Connection refused", ("connect", "connect_refused", None, None)),
    ("socket.gaierror: [Errno -3] Temporary failure in name resolution", ("dns", "dns_failure", None, None)),
    ("TimeoutError: [Errno 110] Connection timed out", ("connect", "connect_timeout", None, None)),
    ("ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
     ("tls", "tls_mode_mismatch", None, None)),
    ("Error: connect ECONNREFUSED 192.0.2.5:587", ("connect", "connect_refused", None, None)),
    ("Error: getaddrinfo ENOTFOUND smtp.example.invalid", ("dns", "dns_nxdomain", None, None)),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0][:50] for c in CASES])
def test_lone_line_one_attempt(tmp_path, text, expected):
    frame, report = parse_excerpt(tmp_path, text + "\n")

    (row,) = rows(frame)
    assert report["format"] == "applog"
    assert labels(row) == expected
    assert report["parsed"] == 1


def test_server_named_in_line(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        2024-05-01 10:00:00 ERROR [mailer] Failed to send email to a@example.net via smtp.example.net:587: [Errno 110] Connection timed out
    """)

    (row,) = rows(frame)
    assert (row["host"], row["port"]) == ("smtp.example.net", 587)
    assert str(row["start"]) == "2024-05-01 10:00:00+00:00"


def test_node_error_names_address(tmp_path):
    frame, _ = parse_excerpt(tmp_path, "Error: connect ECONNREFUSED 192.0.2.5:587\n")

    (row,) = rows(frame)
    assert (row["ip"], row["port"]) == ("192.0.2.5", 587)


def test_password_in_url_not_kept(tmp_path):
    # The password of an SMTP URL reaches no column, and is not taken for a port.
    frame, report = parse_excerpt(tmp_path, (
        "ERROR:mailer:Failed to send mail via smtp://ops.example.com:48151@smtp.example.net:587: "
        "[Errno 111] Connection refused\n"
    ))
    events = smtplogkit.read_events(tmp_path / "excerpt.log").to_json(date_format="iso")

    (row,) = rows(frame)
    assert (row["host"], row["port"]) == ("smtp.example.net", 587)
    assert "48151" not in frame.to_json(date_format="iso")
    assert "48151" not in events
    assert all("48151" not in warning for warning in report["warnings"])


def test_other_errors_not_mail(tmp_path):
    # A database's connection error names no mail: it is no SMTP failure, and the file is no applog.
    frame, report = parse_excerpt(tmp_path, (
        "2024-05-01 10:00:00,123 ERROR db Could not connect to postgres: [Errno 111] Connection refused\n"
    ))

    assert len(frame) == 0
    assert report["format"] != "applog"


def test_traceback_left_to_smtplib(tmp_path):
    _, report = parse_excerpt(tmp_path, """
        Traceback (most recent call last):
          File "/usr/lib/python3.11/smtplib.py", line 341, in connect
            self.sock = self._get_socket(host, port, self.timeout)
          File "/usr/lib/python3.11/socket.py", line 851, in create_connection
            raise exceptions[0]
        ConnectionRefusedError: [Errno 111] Connection refused
    """)

    assert report["format"] == "smtplib"

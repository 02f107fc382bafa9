"""go format: net/smtp and gomail errors, bare and in logrus, zap and log lines."""

from __future__ import annotations

import pytest

from .conftest import labels, parse_excerpt, rows

CASES = [
    ("dial tcp 203.0.113.10:25: i/o timeout", ("connect", "connect_timeout", None, None)),
    ("dial tcp 203.0.113.10:587: connect: connection refused", ("connect", "connect_refused", None, None)),
    ("dial tcp: lookup smtp.example.invalid on 127.0.0.53:53: no such host", ("dns", "dns_nxdomain", None, None)),
    ("dial tcp: lookup smtp.example.com on 127.0.0.53:53: server misbehaving", ("dns", "dns_failure", None, None)),
    ("x509: certificate signed by unknown authority", ("tls", "certificate_invalid", None, None)),
    ("tls: failed to verify certificate: x509: certificate is valid for mx.example.net, not smtp.example.com",
     ("tls", "certificate_invalid", None, None)),
    ("tls: first record does not look like a TLS handshake", ("tls", "tls_mode_mismatch", None, None)),
    ("535 5.7.8 Username and Password not accepted. Learn more at", ("auth", "auth_failed", 535, "5.7.8")),
    ("gomail: could not send email 1: 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown",
     ("rcpt_to", "recipient_rejected", 550, "5.1.1")),
    ("530 5.7.0 Must issue a STARTTLS command first.", ("mail_from", "starttls_required", 530, "5.7.0")),
    ("read tcp 10.0.0.2:50412->203.0.113.10:587: i/o timeout", ("greeting", "read_timeout", None, None)),
    ("EOF", ("greeting", "server_disconnected", None, None)),
    ("smtp: server doesn't support AUTH", ("auth", "auth_mechanism_unsupported", None, None)),
    ("unencrypted connection", ("starttls", "starttls_unavailable", None, None)),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0][:40] for c in CASES])
def test_error_kinds(tmp_path, text, expected):
    frame, report = parse_excerpt(tmp_path, text + "\n", format="go")

    assert len(frame) == 1
    assert labels(rows(frame)[0]) == expected
    assert report["parsed"] == 1


def test_wrapper_and_raw_one_session(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        latest: Pulling from drillster/drone-email
        Digest: sha256:0f3a6e1c2b4d5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4
        Status: Image is up to date for drillster/drone-email:latest
        time="2024-03-01T08:00:35Z" level=error msg="Error while dialing SMTP server: dial tcp 198.51.100.7:587: i/o timeout"
        dial tcp 198.51.100.7:587: i/o timeout
    """)

    assert report["format"] == "go"
    assert len(frame) == 1
    row = rows(frame)[0]
    assert labels(row) == ("connect", "connect_timeout", None, None)
    assert row["ip"] == "198.51.100.7"
    assert row["port"] == 587
    assert (report["parsed"], report["noise"], report["unrecognised"]) == (2, 3, 0)


def test_retries_are_sessions(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        2024/03/01 08:00:05 dial tcp 198.51.100.7:587: i/o timeout
        2024/03/01 08:00:40 dial tcp 198.51.100.7:587: i/o timeout
        2024/03/01 08:01:15 dial tcp [2001:db8::7]:587: connect: network is unreachable
    """)

    assert len(frame) == 3
    assert list(frame["cause"]) == ["connect_timeout", "connect_timeout", "network_unreachable"]
    assert str(rows(frame)[1]["start"]) == "2024-03-01 08:00:40+00:00"


def test_same_text_twice_bare_is_two(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        dial tcp 198.51.100.7:587: i/o timeout
        dial tcp 198.51.100.7:587: i/o timeout
    """)

    assert len(frame) == 2


def test_multiline_reply_and_fields(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        time="2024-03-01T08:02:00Z" level=error msg="send failed" error="535 5.7.8 Username and Password not accepted. Learn more at" host=smtp.gmail.com port=587 worker=w3
        5.7.8  https://support.google.com/mail/?p=BadCredentials a1-20020a05.41 - gsmtp
    """)

    assert len(frame) == 1
    row = rows(frame)[0]
    assert labels(row) == ("auth", "auth_failed", 535, "5.7.8")
    assert row["host"] == "smtp.gmail.com"
    assert row["port"] == 587
    assert report["parsed"] == 2


def test_zap_console_line(tmp_path):
    frame, _ = parse_excerpt(tmp_path, (
        '2024-03-01T08:03:00.123Z\tERROR\tmailer/send.go:42\tsend failed\t'
        '{"error": "x509: certificate has expired or is not yet valid", "host": "smtp.example.com"}\n'))

    row = rows(frame)[0]
    assert labels(row) == ("tls", "certificate_invalid", None, None)
    assert row["host"] == "smtp.example.com"


def test_unrelated_lines_unrecognised(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        starting worker pool size=4
        dial tcp 198.51.100.7:25: connect: connection refused
    """, format="go")

    assert len(frame) == 1
    assert report["unrecognised"] == 1


def test_unrelated_eof_not_session(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        dial tcp 198.51.100.7:587: i/o timeout
        reading config.yaml: unexpected EOF
        send mail: EOF
    """, format="go")

    assert len(frame) == 2
    assert list(frame["cause"]) == ["connect_timeout", "server_disconnected"]
    assert report["unrecognised"] == 1

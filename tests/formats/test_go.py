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


def _unrecognised_lines(report: dict) -> list[int]:
    """Return the numbers of the lines the report warns about as unrecognised."""
    return [int(w.split(": ", 1)[0].rsplit(":", 1)[1]) for w in report["warnings"] if ": unrecognised line: " in w]


def test_own_log_records_are_noise(tmp_path):
    # The standard log package with the file name flag, as a notifier service prints it.
    frame, report = parse_excerpt(tmp_path, """
        2026/03/02 08:00:00 main.go:31: [Info] notifier 1.4.2 starting, pid 3470
        2026/03/02 08:00:00 http.go:58: [Info] admin listening on :8800
        2026/03/02 08:00:12 queue.go:102: [Debug] picked job 17 (welcome email for user 412)
        2026/03/02 08:00:42 mailer.go:96: [Error] gomail: could not send email 1: dial tcp 203.0.113.5:587: i/o timeout
        2026/03/02 08:00:42 queue.go:131: [Info] job 17 failed after 30.1s, will retry in 5m0s
        2026/03/02 08:05:43 mailer.go:96: [Error] Mail Error: SMTP Connection timed out
        panic: runtime error: index out of range [3] with length 3
    """, format="go")

    (row,) = rows(frame)
    assert labels(row) == ("connect", "connect_timeout", None, None)
    assert report["noise"] == 4
    # A mail failure in words the reader does not know, and a line that is no log record, stay unrecognised.
    assert _unrecognised_lines(report) == [6, 7]
    assert report["unrecognised"] == 2


def test_levelled_lines_without_date_are_noise(tmp_path):
    # logrus on a terminal, zerolog's console writer, slog's text handler, logrus without a time.
    frame, report = parse_excerpt(tmp_path, """
        \x1b[36mINFO\x1b[0m[0000] notifier starting                              \x1b[36mversion\x1b[0m=1.4.2
        INFO[0000] connected to queue                             broker="redis:6379"
        WARN[0012] slow queue poll                                took=2.3s
        ERRO[0030] could not send email                           error="dial tcp 203.0.113.5:587: connect: connection refused"
        8:00AM INF http server listening addr=:8080
        time=2026-03-02T08:00:31.000Z level=INFO msg="job done" id=18
        level=info msg="shutting down"
        INFO shutting down
    """, format="go")

    (row,) = rows(frame)
    assert labels(row) == ("connect", "connect_refused", None, None)
    assert report["noise"] == 6
    assert _unrecognised_lines(report) == [8]  # a level word alone is no known layout


def test_prose_before_a_colon_is_no_field(tmp_path):
    # "dialing SMTP server: dial tcp ..." names no server: the address comes from the dial error.
    frame, _ = parse_excerpt(tmp_path, 'time="2022-04-20T07:00:35Z" level=error msg="Error while dialing SMTP server: '
                                       'dial tcp 192.0.2.69:587: i/o timeout"\n')

    row = rows(frame)[0]
    assert (row["host"], row["ip"], row["port"]) == (None, "192.0.2.69", 587)
    assert row["cause"] == "connect_timeout"

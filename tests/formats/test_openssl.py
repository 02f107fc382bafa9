"""openssl s_client output: certificate verification lines around the SMTP dialogue."""

from __future__ import annotations

import textwrap

import pytest

import smtplogkit

from .conftest import labels, parse_excerpt, rows


def test_expired_certificate_dates(tmp_path):
    # s_client prints the certificate's notAfter (or notBefore) date below a validity error.
    frame, report = parse_excerpt(tmp_path, """
        CONNECTED(00000003)
        depth=0 CN = mail.legacy.example
        verify error:num=10:certificate has expired
        notAfter=Jan  1 00:00:00 2026 GMT
        verify return:1
        depth=0 CN = mail.legacy.example
        verify error:num=9:certificate is not yet valid
        notBefore=Jan  1 00:00:00 2030 GMT
        verify return:1
        ---
        SSL handshake has read 1650 bytes and written 420 bytes
        Verification error: certificate has expired
        ---
        250 DSN
    """)

    (row,) = rows(frame)
    assert labels(row) == ("tls", "certificate_invalid", None, None)
    assert report["unrecognised"] == 0
    assert [w for w in report["warnings"] if "has no time" not in w] == []  # s_client prints no time


HANDSHAKE = """
    CONNECTED(00000003)
    depth=0 CN = smtp.example.net
    verify error:num=20:unable to get local issuer certificate
    verify return:1
    ---
    SSL handshake has read 1650 bytes and written 420 bytes
    ---
    250 CHUNKING
"""


@pytest.mark.parametrize("command, server", [
    ("openssl s_client -connect smtp.example.net:587 -starttls smtp", ("smtp.example.net", None, 587, "starttls")),
    ("$ openssl s_client -connect smtp.example.net:587 -starttls smtp", ("smtp.example.net", None, 587, "starttls")),
    ("# openssl s_client -connect smtp.example.net:587 -starttls smtp", ("smtp.example.net", None, 587, "starttls")),
    ("user@host:~$ openssl s_client -connect smtp.example.net:587 -starttls smtp",
     ("smtp.example.net", None, 587, "starttls")),
    ("openssl s_client -starttls smtp -crlf -connect smtp.example.net:25", ("smtp.example.net", None, 25, "starttls")),
    ("openssl s_client -host smtp.example.net -port 587 -starttls smtp", ("smtp.example.net", None, 587, "starttls")),
    ("openssl s_client -connect 192.0.2.5:465 -servername smtp.example.net",
     ("smtp.example.net", "192.0.2.5", 465, "implicit")),
    ("openssl s_client -connect [::1]:465", (None, "::1", 465, "implicit")),
    ("PS C:\\Users\\ops> openssl.exe s_client -connect [2001:db8::5]:465 -servername smtp.example.net",
     ("smtp.example.net", "2001:db8::5", 465, "implicit")),
    ("$ echo QUIT | openssl s_client -quiet smtp.example.net:465 2>&1 | tee out.txt",
     ("smtp.example.net", None, 465, "implicit")),
])
def test_command_line_names_server(tmp_path, command, server):
    # s_client prints no host or port; a paste that starts with the command line gives them.
    frame, report = parse_excerpt(tmp_path, textwrap.indent(command, "    ") + HANDSHAKE)

    (row,) = rows(frame)
    assert (row["host"], row["ip"], row["port"], row["tls_mode"]) == server
    assert labels(row) == ("tls", "certificate_invalid", None, None)
    assert (report["format"], report["noise"], report["unrecognised"]) == ("openssl", 6, 0)


def test_command_line_before_connect_failure(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        $ openssl s_client -connect smtp.example.net:465
        40C7A1B2C37F0000:error:8000006F:system library:BIO_connect:Connection refused:../crypto/bio/bio_sock2.c:114:calling connect()
        connect:errno=111
    """)

    (row,) = rows(frame)
    assert (row["host"], row["port"]) == ("smtp.example.net", 465)
    assert labels(row) == ("connect", "connect_refused", None, None)
    assert report["unrecognised"] == 0


def test_command_line_and_replies_only(tmp_path):
    # -quiet prints neither CONNECTED nor the handshake summary: the command line alone marks s_client.
    # Its -pass value and the AUTH payload stay out of every event.
    frame, report = parse_excerpt(tmp_path, """
        $ openssl s_client -connect smtp.example.net:465 -crlf -quiet -cert me.pem -pass pass:Hunter2secret
        220 smtp.example.net ESMTP
        EHLO me
        250-smtp.example.net
        250 AUTH LOGIN PLAIN
        AUTH PLAIN AGFsaWNlQGV4YW1wbGUubmV0AHNlY3JldA==
        535 5.7.8 Authentication credentials invalid
    """)
    events = smtplogkit.read_events(tmp_path / "excerpt.log").to_json(date_format="iso")

    (row,) = rows(frame)
    assert report["format"] == "openssl"
    assert (row["host"], row["port"], row["tls_mode"]) == ("smtp.example.net", 465, "implicit")
    assert labels(row) == ("auth", "auth_failed", 535, "5.7.8")
    assert "Hunter2secret" not in events
    assert "AGFsaWNl" not in events


def test_each_command_line_starts_a_run(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        $ openssl s_client -connect smtp.example.net:465 -quiet
        depth=0 CN = smtp.example.net
        verify return:1
        220 smtp.example.net ESMTP
        $ openssl s_client -connect smtp.example.net:587 -quiet
        40C7A1B2C37F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl/record/ssl3_record.c:354:
    """)

    first, second = rows(frame)
    assert (first["port"], first["cause"]) == (465, "ok")
    assert (second["port"], second["failure_stage"], second["cause"]) == (587, "tls", "tls_mode_mismatch")

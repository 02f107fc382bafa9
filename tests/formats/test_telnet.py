"""telnet and nc sessions: excerpts shaped like forum posts."""

from __future__ import annotations

import pytest

from .format_helpers import counts, excerpt, row  # noqa: F401 - excerpt is a fixture


def test_ipv6_then_ipv4_two_sessions(excerpt):
    text = """
    $ telnet smtp.example.com 587
    Trying 2001:db8::25...
    telnet: connect to address 2001:db8::25: Network is unreachable
    Trying 192.0.2.25...
    telnet: connect to address 192.0.2.25: Connection timed out
    telnet: Unable to connect to remote host: Connection timed out
    """
    frame = excerpt.sessions(text)

    assert len(frame) == 2
    first, second = row(frame, 0), row(frame, 1)
    assert (first["failure_stage"], first["cause"], first["ip"]) == ("connect", "network_unreachable", "2001:db8::25")
    assert (second["failure_stage"], second["cause"], second["ip"]) == ("connect", "connect_timeout", "192.0.2.25")
    assert (first["host"], first["port"]) == ("smtp.example.com", 587)
    assert counts(frame) == (4, 2, 0)


def test_nc_starttls_required(excerpt):
    text = """
    $ nc -v mail.example.com 25
    Connection to mail.example.com (192.0.2.10) 25 port [tcp/smtp] succeeded!
    220 mail.example.com ESMTP Postfix
    EHLO test
    250-mail.example.com
    250-STARTTLS
    250 8BITMIME
    MAIL FROM:<a@example.org>
    530 5.7.0 Must issue a STARTTLS command first
    QUIT
    221 2.0.0 Bye
    """
    frame = excerpt.sessions(text)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("mail_from", "starttls_required")
    assert (got["reply_code"], got["enhanced_code"]) == (530, "5.7.0")
    assert (got["host"], got["ip"], got["port"], got["tls_mode"]) == ("mail.example.com", "192.0.2.10", 25, "none")
    assert counts(frame) == (10, 1, 0)


def test_typed_message_and_close(excerpt):
    text = """
    Trying 192.0.2.10...
    Connected to mail.example.com.
    Escape character is '^]'.
    220 mail.example.com ESMTP
    HELO me
    250 mail.example.com
    AUTH PLAIN AG9wc0BleGFtcGxlLm9yZwBIdW50ZXIyLXNlY3JldA==
    235 2.7.0 Authentication successful
    MAIL FROM:<ops@example.org>
    250 2.1.0 Ok
    RCPT TO:<team@example.net>
    250 2.1.5 Ok
    DATA
    354 End data with <CR><LF>.<CR><LF>
    Subject: test
    QUIT
    .
    250 2.0.0 Ok: queued as 4F3A21
    QUIT
    221 2.0.0 Bye
    Connection closed by foreign host.
    """
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["messages_sent"]) == ("none", "ok", 1)
    assert got["identity"] == "ops@example.org"
    assert counts(frame) == (17, 4, 0)


def test_closed_without_reply(excerpt):
    text = """
    Trying 192.0.2.10...
    Connected to mail.example.com.
    Escape character is '^]'.
    Connection closed by foreign host.
    """
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("greeting", "server_disconnected")


def test_windows_telnet_failure(excerpt):
    text = """
    C:\\Users\\ops>telnet smtp.example.com 587
    Connecting To smtp.example.com...Could not open connection to the host, on port 587: Connect failed
    """
    frame = excerpt.sessions(text, format="telnet")

    got = row(frame)
    assert (got["failure_stage"], got["host"], got["port"]) == ("connect", "smtp.example.com", 587)
    assert counts(frame) == (1, 1, 0)


@pytest.mark.parametrize(("text", "stage", "cause"), [
    ("telnet: could not resolve smtp.example.invalid/25: Name or service not known\n", "dns", "dns_nxdomain"),
    ("nc: connect to mail.example.com port 25 (tcp) failed: Connection refused\n", "connect", "connect_refused"),
    ('nc: getaddrinfo for host "mail.example.invalid" port 25: Name or service not known\n', "dns", "dns_nxdomain"),
    ("Ncat: Version 7.94 ( https://nmap.org/ncat )\nNcat: TIMEOUT.\n", "connect", "connect_timeout"),
    ("Ncat: Version 7.94 ( https://nmap.org/ncat )\nNcat: Connection refused.\n", "connect", "connect_refused"),
])
def test_client_failures(excerpt, text, stage, cause):
    frame = excerpt.sessions(text)

    assert frame.attrs["files"][0]["format"] == "telnet"
    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == (stage, cause)
    assert counts(frame)[2] == 0


def test_shell_command_names_server_without_trying_line(excerpt):
    # A paste that keeps the command but leaves out telnet's "Trying ..." and "Connected to" lines.
    frame = excerpt.sessions("""
        telnet smtp.example.net 587
        220 ESMTP service ready at mx1.example.net
        ehlo client
        250-smtp.example.net
        250 AUTH PLAIN LOGIN
        auth login
        334 VXNlcm5hbWU6
        YXBpa2V5
        334 UGFzc3dvcmQ6
        c2VjcmV0
        451 Authentication failed: Could not authenticate
    """)

    got = row(frame)
    assert (got["host"], got["port"]) == ("smtp.example.net", 587)
    assert got["failure_stage"] == "auth"

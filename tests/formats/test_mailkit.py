"""MailKit ProtocolLogger output: excerpts shaped like bug reports."""

from __future__ import annotations

from .format_helpers import counts, excerpt, row  # noqa: F401 - excerpt is a fixture

XOAUTH2 = """
Connected to smtps://smtp.example.com:465/
S: 220 smtp.example.com ESMTP ready
C: EHLO [192.168.1.20]
S: 250-smtp.example.com at your service
S: 250-AUTH LOGIN PLAIN XOAUTH2
S: 250 SIZE 35882577
C: AUTH XOAUTH2 ********
S: 334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==
C: ********
S: 535 5.7.8 Username and Password not accepted.
MailKit.Security.AuthenticationException: 535: 5.7.8 Username and Password not accepted.
   at MailKit.Net.Smtp.SmtpClient.AuthenticateAsync(SaslMechanism mechanism, Boolean doAsync, CancellationToken cancellationToken)
   at Program.Main() in /src/Program.cs:line 42
"""


def test_xoauth2_rejected(excerpt):
    frame = excerpt.sessions(XOAUTH2)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("auth", "oauth_token_invalid")
    assert (got["reply_code"], got["enhanced_code"]) == (535, "5.7.8")
    assert (got["host"], got["port"], got["tls_mode"]) == ("smtp.example.com", 465, "implicit")
    assert got["auth_mechanism"] == "XOAUTH2"
    assert counts(frame) == (11, 2, 0)


TWO_CONNECTIONS = """
Connected to smtp://smtp.example.com:587/?starttls=always
S: 220 smtp.example.com ESMTP
C: EHLO build01
S: 250-smtp.example.com
S: 250 STARTTLS
C: STARTTLS
S: 220 2.0.0 Ready to start TLS
C: EHLO build01
S: 250 AUTH PLAIN
C: AUTH PLAIN AG9wc0BleGFtcGxlLm9yZwBIdW50ZXIyLXNlY3JldA==
S: 235 2.7.0 Authentication successful
C: MAIL FROM:<ops@example.org>
S: 250 2.1.0 Sender OK
C: RCPT TO:<team@example.net>
S: 250 2.1.5 Recipient OK
C: DATA
S: 354 Start mail input; end with <CRLF>.<CRLF>
C: From: ops@example.org
C: Subject: nightly report
C:
C: done
C: .
S: 250 2.0.0 OK queued
C: QUIT
S: 221 2.0.0 Bye
System.Net.Sockets.SocketException (10060): A connection attempt failed because the connected party did not properly respond after a period of time, or established connection failed because connected host has failed to respond.
   at MailKit.Net.SocketUtils.ConnectAsync(String host, Int32 port, IPEndPoint localEndPoint, Int32 timeout, Boolean doAsync, CancellationToken cancellationToken)
"""


def test_success_then_connect_timeout(excerpt):
    frame = excerpt.sessions(TWO_CONNECTIONS)

    assert len(frame) == 2
    sent = row(frame, 0)
    assert (sent["failure_stage"], sent["cause"], sent["messages_sent"]) == ("none", "ok", 1)
    assert (sent["port"], sent["tls_mode"], sent["identity"]) == (587, "starttls", "ops@example.org")
    failed = row(frame, 1)
    assert (failed["failure_stage"], failed["cause"]) == ("connect", "connect_timeout")
    assert counts(frame) == (21, 6, 0)


def test_plain_when_available(excerpt):
    text = """
    Connected to smtp://relay.example.net:25/?starttls=when-available
    S: 220 relay.example.net ESMTP
    C: EHLO app
    S: 250 relay.example.net
    C: MAIL FROM:<app@example.org>
    S: 550 5.7.1 Client host rejected: listed at zen.spamhaus.org
    C: QUIT
    S: 221 Bye
    """
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("mail_from", "reputation_blocked")
    assert got["tls_mode"] == "none"


def test_starttls_handshake_same_session(excerpt):
    text = """
    Connected to smtp://smtp.example.com:587/?starttls=always
    S: 220 smtp.example.com ESMTP
    C: EHLO build01
    S: 250-smtp.example.com
    S: 250 STARTTLS
    C: STARTTLS
    S: 220 2.0.0 Ready to start TLS
    MailKit.Security.SslHandshakeException: An error occurred while attempting to establish an SSL or TLS connection. The server's SSL certificate could not be validated for the following reasons: The remote certificate is invalid according to the validation procedure.
    """
    frame = excerpt.sessions(text)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["tls_mode"]) == ("tls", "certificate_invalid", "starttls")


def test_log_timestamps(excerpt):
    text = """
    2026-03-02T08:00:00Z Connected to smtp://smtp.example.com:25/?starttls=when-available
    2026-03-02T08:00:00Z S: 220 smtp.example.com ESMTP
    2026-03-02T08:00:00Z C: EHLO app
    2026-03-02T08:00:01Z S: 250 smtp.example.com
    2026-03-02T08:00:01Z C: MAIL FROM:<app@example.org>
    2026-03-02T08:00:02Z S: 451 4.7.1 Greylisted, please try again in 300 seconds
    """
    frame = excerpt.sessions(text)

    assert frame.attrs["files"][0]["format"] == "mailkit"
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("mail_from", "greylisted", 451)
    assert got["start"].isoformat() == "2026-03-02T08:00:00+00:00"
    assert got["duration_s"] == 2.0


def test_indented_connected_line(excerpt):
    # A Markdown paste can indent the first line; the log is still MailKit's, with its server.
    frame = excerpt.sessions(" " + XOAUTH2.lstrip("\n"))

    got = row(frame)
    assert frame.attrs["files"][0]["format"] == "mailkit"
    assert (got["host"], got["port"]) == ("smtp.example.com", 465)


def test_command_exception_stage_from_reply_handler(excerpt):
    # MailKit throws SmtpCommandException from the handler of the rejected reply, whose frame names the step.
    frame = excerpt.sessions("""\
        SmtpSender: Error sending message MailKit.Net.Smtp.SmtpCommandException: 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown
           at MailKit.Net.Smtp.SmtpClient.OnRecipientNotAccepted(MimeMessage message, MailboxAddress mailbox, SmtpResponse response)
           at MailKit.Net.Smtp.SmtpClient.ProcessRcptToResponse(MimeMessage message, MailboxAddress mailbox, SmtpResponse response)
           at MailKit.Net.Smtp.SmtpClient.FlushCommandQueue(MimeMessage message, MailboxAddress sender, IList`1 recipients, CancellationToken cancellationToken)
        """)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["enhanced_code"]) == ("rcpt_to", "recipient_rejected", "5.1.1")


def test_temporary_reply_timeout_not_connect(excerpt):
    # The server sent "4.4.1 Connection timed out" in reply to MAIL FROM, so it is not a TCP connect timeout.
    frame = excerpt.sessions("""\
        SmtpSender: Error sending message MailKit.Net.Smtp.SmtpCommandException: 4.4.1 Connection timed out
           at MailKit.Net.Smtp.SmtpClient.ProcessMailFromResponse(SmtpResponse response, MailboxAddress mailbox)
           at MailKit.Net.Smtp.SmtpClient.FlushCommandQueue(MailboxAddress sender, IList`1 recipients, CancellationToken cancellationToken)
        """)

    got = row(frame)
    assert (got["failure_stage"], got["enhanced_code"]) == ("mail_from", "4.4.1")

""".NET format: System.Net.Mail.SmtpClient and MailKit exceptions."""

from __future__ import annotations

import pytest

from .conftest import labels, parse_excerpt, rows

CASES = [
    ("System.Net.Mail.SmtpException: The SMTP server requires a secure connection or the client was not "
     "authenticated. The server response was: 5.7.0 Must issue a STARTTLS command first. x1sm.12 - gsmtp",
     ("mail_from", "starttls_required", 530, "5.7.0")),
    ("System.Net.Mail.SmtpFailedRecipientException: Mailbox unavailable. The server response was: 5.1.1 "
     "<nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table",
     ("rcpt_to", "recipient_rejected", 550, "5.1.1")),
    ("System.Net.Mail.SmtpException: Mailbox unavailable. The server response was: 4.7.0 Temporary "
     "recipient failure, please try again later", ("rcpt_to", "server_unavailable", 450, "4.7.0")),
    ("System.Net.Mail.SmtpException: Service not available, closing transmission channel. The server response "
     "was: 4.7.0 Too many connections from your IP, try again later", ("greeting", "rate_limited", 421, "4.7.0")),
    ("System.Net.Mail.SmtpException: Server does not support secure connections.",
     ("starttls", "starttls_unavailable", None, None)),
    ("System.Security.Authentication.AuthenticationException: The remote certificate is invalid according to "
     "the validation procedure.", ("tls", "certificate_invalid", None, None)),
    ("MailKit.Security.AuthenticationException: AuthenticationInvalidCredentials: 5.7.3 Authentication "
     "unsuccessful [AM0PR04CA0001.eurprd04.prod.outlook.com]", ("auth", "auth_failed", 535, "5.7.3")),
    ("MailKit.Net.Smtp.SmtpProtocolException: The SMTP server has unexpectedly disconnected.",
     ("greeting", "server_disconnected", None, None)),
    ("System.NotSupportedException: The SMTP server does not support authentication.",
     ("auth", "auth_mechanism_unsupported", None, None)),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0][:50] for c in CASES])
def test_error_kinds(tmp_path, text, expected):
    frame, report = parse_excerpt(tmp_path, text + "\n")

    assert report["format"] == "dotnet"
    assert len(frame) == 1
    assert labels(rows(frame)[0]) == expected


def test_message_alone_reads_reply(tmp_path):
    frame, _ = parse_excerpt(tmp_path, (
        "The SMTP server requires a secure connection or the client was not authenticated. The server response "
        "was: 5.7.57 Client not authenticated to send mail. Error: 535 5.7.139 Authentication unsuccessful, the "
        "user credentials were incorrect.\n"), format="dotnet")

    # The quoted 535 explains the 530, and its wording is a wrong password (Microsoft's 5.7.139 is policy otherwise).
    assert labels(rows(frame)[0]) == ("mail_from", "auth_failed", 530, "5.7.57")


def test_inner_exceptions_and_frames(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        Unhandled exception. System.Net.Mail.SmtpException: Failure sending mail.
         ---> System.Net.Sockets.SocketException (10060): A connection attempt failed because the connected party did not properly respond after a period of time, or established connection failed to respond. 198.51.100.9:587
           at System.Net.Sockets.Socket.Connect(EndPoint remoteEP)
           at System.Net.Mail.SmtpConnection.GetConnection(String host, Int32 port)
           --- End of inner exception stack trace ---
           at System.Net.Mail.SmtpClient.Send(MailMessage message)
        System.Net.Mail.SmtpException: Failure sending mail.
         ---> System.Net.Sockets.SocketException (11001): No such host is known.
           at System.Net.Dns.GetHostAddresses(String hostNameOrAddress)
    """)

    assert len(frame) == 2
    first, second = rows(frame)
    assert labels(first) == ("connect", "connect_timeout", None, None)
    assert first["ip"] == "198.51.100.9"
    assert first["port"] == 587
    assert labels(second) == ("dns", "dns_nxdomain", None, None)
    assert report["unrecognised"] == 0
    assert report["noise"] == 3  # frames that name no step, and the end-of-trace marker
    assert report["parsed"] == 6


def test_frame_names_the_command(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        System.Net.Mail.SmtpException: Transaction failed. The server response was: 5.7.1 Service unavailable; Client host [198.51.100.9] blocked using zen.spamhaus.org
           at System.Net.Mail.RecipientCommand.CheckResponse(SmtpStatusCode statusCode, String response)
           at System.Net.Mail.SmtpTransport.SendMail(MailAddress sender, MailAddressCollection recipients)
    """)

    assert labels(rows(frame)[0]) == ("rcpt_to", "reputation_blocked", 554, "5.7.1")


def test_mailkit_tls_explanation(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        [17:55:47 ERR] Error sending email: An error occurred while attempting to establish an SSL or TLS connection.

        When connecting to an SMTP service, port 587 is typically reserved for plain-text connections. If
        you intended to connect to SMTP on the SSL port, try connecting to port 465 instead. Otherwise,
        if you intended to use STARTTLS, make sure to use the following code:

        client.Connect ("smtp.example.com", 587, SecureSocketOptions.StartTls);
    """)

    row = rows(frame)[0]
    assert labels(row) == ("tls", "tls_mode_mismatch", None, None)
    assert (row["host"], row["port"]) == ("smtp.example.com", 587)
    assert len(frame) == 1
    assert report["parsed"] == 5


def test_two_loggers_one_session(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        fail: Shop.Mail.Sender[0]
              Sending the order confirmation failed
              System.Net.Mail.SmtpException: The operation has timed out.
                 at System.Net.Mail.SmtpClient.Send(MailMessage message)
        [10:00:01 ERR] Mail failed: The operation has timed out.
    """)

    assert len(frame) == 1  # the same timeout, logged by two loggers
    assert labels(rows(frame)[0]) == ("greeting", "read_timeout", None, None)
    assert report["unrecognised"] == 0


def test_later_log_lines_not_message(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        System.Net.Mail.SmtpException: Mailbox unavailable. The server response was: 5.7.1 Unable to relay
        Order 1182 saved
        Background queue drained
    """)

    assert len(frame) == 1
    assert labels(rows(frame)[0]) == ("rcpt_to", "policy_rejected", 550, "5.7.1")
    assert report["unrecognised"] == 2


def test_logger_sentence_then_exception(tmp_path):
    frame, report = parse_excerpt(tmp_path, """
        [09:12:44 ERR] Could not send the invoice: Failure sending mail.
        System.Net.Mail.SmtpException: Failure sending mail. ---> System.Net.Sockets.SocketException: No connection could be made because the target machine actively refused it 198.51.100.9:25
           at System.Net.Sockets.Socket.DoConnect(EndPoint endPointSnapshot, SocketAddress socketAddress)
    """)

    assert len(frame) == 1
    assert labels(rows(frame)[0]) == ("connect", "connect_refused", None, None)
    assert report["unrecognised"] == 0


def test_empty_server_response(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        System.Net.Mail.SmtpException: Syntax error, command unrecognized. The server response was:
           at System.Net.Mail.SmtpConnection.GetConnection(ServicePoint servicePoint)
    """)

    assert labels(rows(frame)[0]) == ("greeting", "server_disconnected", None, None)


def test_mailkit_reply_without_code(tmp_path):
    frame, _ = parse_excerpt(tmp_path, """
        MailKit.Net.Smtp.SmtpCommandException: 5.7.57 Client not authenticated to send mail. [SN4PR0201CA0048.namprd02.prod.outlook.com]
           at MailKit.Net.Smtp.SmtpClient.MailFromAsync(FormatOptions options, MimeMessage message, MailboxAddress mailbox, Boolean doAsync, CancellationToken cancellationToken)
    """)

    assert labels(rows(frame)[0]) == ("mail_from", "auth_required", None, "5.7.57")


def test_serilog_file_lines(tmp_path):
    # Serilog's default file sink: "yyyy-MM-dd HH:mm:ss.fff zzz [LVL] message", then the exception.
    frame, report = parse_excerpt(tmp_path, """
        2026-12-05 10:29:59.870 +01:00 [INF] Sending notification 8812 to 3 recipients
        2026-12-05 10:30:00.123 +01:00 [ERR] Failed to send notification 8812
        System.Net.Mail.SmtpException: The operation has timed out.
           at System.Net.Mail.SmtpClient.Send(MailMessage message)
    """)

    (row,) = rows(frame)
    assert labels(row) == ("greeting", "read_timeout", None, None)
    assert row["start"].isoformat() == "2026-12-05T09:30:00.123000+00:00"
    assert report["unrecognised"] == 0
    assert report["parsed"] + report["noise"] == report["lines"]

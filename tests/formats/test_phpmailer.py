"""PHPMailer SMTPDebug output: excerpts shaped like bug reports."""

from __future__ import annotations

from .format_helpers import counts, excerpt, row  # noqa: F401 - excerpt is a fixture

LEVEL_4 = (
    "2026-03-02 08:00:00\tConnection: opening to ssl://smtp.example.com:465, timeout=300, options=array()\n"
    "2026-03-02 08:00:00\tConnection: opened\n"
    '2026-03-02 08:00:00\tSMTP INBOUND: "220 smtp.example.com ESMTP ready"\n'
    "2026-03-02 08:00:00\tSERVER -> CLIENT: 220 smtp.example.com ESMTP ready\n"
    "2026-03-02 08:00:00\tCLIENT -> SERVER: EHLO web01.example.org\n"
    '2026-03-02 08:00:00\tSMTP INBOUND: "250-smtp.example.com"\n'
    '2026-03-02 08:00:00\tSMTP INBOUND: "250-AUTH LOGIN PLAIN"\n'
    '2026-03-02 08:00:00\tSMTP INBOUND: "250 8BITMIME"\n'
    "2026-03-02 08:00:00\tSERVER -> CLIENT: 250-smtp.example.com\n"
    "                   \t                  250-AUTH LOGIN PLAIN\n"
    "                   \t                  250 8BITMIME\n"
    "2026-03-02 08:00:00\tAuth method requested: UNSPECIFIED\n"
    "2026-03-02 08:00:00\tAuth methods available on the server: LOGIN,PLAIN\n"
    "2026-03-02 08:00:00\tAuth method selected: LOGIN\n"
    "2026-03-02 08:00:00\tCLIENT -> SERVER: AUTH LOGIN\n"
    "2026-03-02 08:00:00\tSERVER -> CLIENT: 334 VXNlcm5hbWU6\n"
    "2026-03-02 08:00:00\tCLIENT -> SERVER: b3BzQGV4YW1wbGUub3Jn\n"
    "2026-03-02 08:00:00\tSERVER -> CLIENT: 334 UGFzc3dvcmQ6\n"
    "2026-03-02 08:00:00\tCLIENT -> SERVER: SHVudGVyMi1zZWNyZXQ=\n"
    "2026-03-02 08:00:02\tSERVER -> CLIENT: 535 5.7.8 Error: authentication failed: authentication failure\n"
    "2026-03-02 08:00:02\tSMTP ERROR: Password command failed: 535 5.7.8 Error: authentication failed: "
    "authentication failure\n"
    "2026-03-02 08:00:02\tSMTP Error: Could not authenticate.\n"
    "2026-03-02 08:00:02\tCLIENT -> SERVER: QUIT\n"
    "2026-03-02 08:00:02\tSERVER -> CLIENT: 221 2.0.0 Bye\n"
    "2026-03-02 08:00:02\tConnection: closed\n"
    "2026-03-02 08:00:02\tSMTP connect() failed. https://github.com/PHPMailer/PHPMailer/wiki/Troubleshooting\n"
    "Mailer Error: SMTP connect() failed. https://github.com/PHPMailer/PHPMailer/wiki/Troubleshooting\n"
)


def test_level_4_auth_failure(excerpt):
    frame = excerpt.sessions(LEVEL_4)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("auth", "auth_failed")
    assert (got["reply_code"], got["enhanced_code"]) == (535, "5.7.8")
    assert (got["host"], got["port"], got["tls_mode"]) == ("smtp.example.com", 465, "implicit")
    assert (got["auth_mechanism"], got["identity"]) == ("LOGIN", "ops@example.org")
    assert got["start"].isoformat() == "2026-03-02T08:00:00+00:00"
    assert counts(frame) == (17, 10, 0)


def test_level_4_login_redacted(excerpt):
    events = excerpt.events(LEVEL_4)

    texts = " ".join(events["text"].astype(str))
    assert "b3BzQGV4YW1wbGUub3Jn" not in texts
    assert "SHVudGVyMi1zZWNyZXQ=" not in texts


CERTIFICATE = (
    "2026-03-02 08:00:00\tConnection: opening to ssl://smtp.example.com:465, timeout=300, options=array()\n"
    "2026-03-02 08:00:00\tConnection failed. Error #2: stream_socket_client(): SSL operation failed with code 1. "
    "OpenSSL Error messages:\n"
    "                   \t                  error:0A000086:SSL routines::certificate verify failed "
    "[/var/www/vendor/phpmailer/phpmailer/src/SMTP.php line 399]\n"
    "2026-03-02 08:00:00\tConnection failed. Error #2: stream_socket_client(): Failed to enable crypto "
    "[/var/www/vendor/phpmailer/phpmailer/src/SMTP.php line 399]\n"
    "2026-03-02 08:00:00\tSMTP ERROR: Failed to connect to server:  (0)\n"
    "SMTP connect() failed. https://github.com/PHPMailer/PHPMailer/wiki/Troubleshooting\n"
)


def test_certificate_failure(excerpt):
    frame = excerpt.sessions(CERTIFICATE)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("tls", "certificate_invalid")
    assert got["port"] == 465
    errors = excerpt.events(CERTIFICATE).query("verb == 'error'")["text"].tolist()
    assert "certificate verify failed" in errors[0]
    assert "line 399" not in errors[0]
    assert counts(frame) == (5, 1, 0)


HTML_OUTPUT = (
    "SERVER -&gt; CLIENT: 220 smtp.example.com ESMTP<br>\n"
    "CLIENT -&gt; SERVER: EHLO shop.example.org<br>\n"
    "SERVER -&gt; CLIENT: 250-smtp.example.com<br>\n"
    "250 STARTTLS<br>\n"
    "CLIENT -&gt; SERVER: MAIL FROM:&lt;shop@example.org&gt;<br>\n"
    "SERVER -&gt; CLIENT: 530 5.7.0 Must issue a STARTTLS command first<br>\n"
    "SMTP ERROR: MAIL FROM command failed: 530 5.7.0 Must issue a STARTTLS command first<br>\n"
)


def test_html_output(excerpt):
    frame = excerpt.sessions(HTML_OUTPUT)

    assert frame.attrs["files"][0]["format"] == "phpmailer"
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("mail_from", "starttls_required", 530)
    assert counts(frame) == (7, 0, 0)


OLD_WORDING = """
SMTP -> FROM SERVER:220 mail.example.com ESMTP Exim 4.96
SMTP -> FROM SERVER: 250-mail.example.com Hello web01 [198.51.100.8] 250-SIZE 52428800 250-AUTH PLAIN LOGIN 250 HELP
SMTP -> FROM SERVER:250 OK
SMTP -> ERROR: RCPT not accepted from server: 550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown
SMTP Error: The following recipients failed: nobody@example.net
"""


def test_old_wording_joined_reply(excerpt):
    frame = excerpt.sessions(OLD_WORDING)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("rcpt_to", "recipient_rejected")
    assert (got["reply_code"], got["enhanced_code"]) == (550, "5.1.1")
    events = excerpt.events(OLD_WORDING)
    assert list(events["reply_code"].dropna()[:5]) == [220, 250, 250, 250, 250]


# Debugoutput "html" drops the line breaks inside a reply, so its lines run together.
GLUED = """
2019-03-04 09:12:01 SERVER -&gt; CLIENT: 220-mail.example.com ESMTP Exim 4.91 #1 Mon, 04 Mar 2019 02:12:01 -0700 220-We do not authorize the use of this system to transport unsolicited, 220 and/or bulk e-mail.<br>
2019-03-04 09:12:01 CLIENT -&gt; SERVER: EHLO localhost<br>
2019-03-04 09:12:01 SERVER -&gt; CLIENT: 250-mail.example.com Hello localhost [198.51.100.7]250-SIZE 52428800250-8BITMIME250-PIPELINING250-AUTH PLAIN LOGIN250-CHUNKING250-STARTTLS250 HELP<br>
2019-03-04 09:12:01 CLIENT -&gt; SERVER: STARTTLS<br>
2019-03-04 09:12:01 SERVER -&gt; CLIENT: 220 TLS go ahead<br>
2019-03-04 09:12:01 CLIENT -&gt; SERVER: EHLO localhost<br>
2019-03-04 09:12:01 SERVER -&gt; CLIENT: 250-mail.example.com Hello localhost [198.51.100.7]250-SIZE 52428800250-AUTH PLAIN LOGIN250 HELP<br>
2019-03-04 09:12:01 CLIENT -&gt; SERVER: AUTH LOGIN<br>
2019-03-04 09:12:01 SERVER -&gt; CLIENT: 334 VXNlcm5hbWU6<br>
2019-03-04 09:12:01 CLIENT -&gt; SERVER: dXNlckBleGFtcGxlLmNvbQ==<br>
2019-03-04 09:12:01 SERVER -&gt; CLIENT: 334 UGFzc3dvcmQ6<br>
2019-03-04 09:12:01 CLIENT -&gt; SERVER: c2VjcmV0<br>
2019-03-04 09:12:03 SERVER -&gt; CLIENT: 535 Incorrect authentication data<br>
2019-03-04 09:12:03 SMTP ERROR: Password command failed: 535 Incorrect authentication data<br>
"""
GLUED_530 = """
2018-03-21 00:08:13 SERVER -&gt; CLIENT: 250 2.1.0 OK m185sm1106113ywf.52 - gsmtp<br>
2018-03-21 00:08:14 CLIENT -&gt; SERVER: RCPT TO:&lt;to@example.net&gt;<br>
2018-03-21 00:08:14 SERVER -&gt; CLIENT: 530-5.5.1 Authentication Required. Learn more at530 5.5.1 https://support.google.com/mail/?p=WantAuthError m185sm1106113ywf.52 - gsmtp<br>
"""


def test_html_glued_reply_lines(excerpt):
    frame = excerpt.sessions(GLUED)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "auth_failed", 535)
    assert got["tls_mode"] == "starttls"
    events = excerpt.events(GLUED)
    assert list(events["reply_code"].dropna()[:10]) == [220, 220, 220, 250, 250, 250, 250, 250, 250, 250]
    assert counts(frame)[2] == 0


def test_html_glued_failing_reply(excerpt):
    frame = excerpt.sessions("2018-03-21 00:08:13 CLIENT -&gt; SERVER: MAIL FROM:&lt;me@example.com&gt;<br>"
                             + GLUED_530)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("rcpt_to", "auth_required", 530)
    assert got["reply_text"].startswith("530-5.5.1 Authentication Required. Learn more at 530 5.5.1 https://")


def test_glued_split_keeps_other_replies():
    from smtplogkit.formats.phpmailer import _glued_lines

    assert _glued_lines("250-a250-b250 c") == ["250-a", "250-b", "250 c"]
    assert _glued_lines("250 2.0.0 OK 1700000250 abc") is None  # a last line first: nothing to cut
    assert _glued_lines("250-SIZE 250 KB250-X") is None  # "250 KB" would be a last line before another
    assert _glued_lines("534-5.7.14 <https://accounts.google.com/signin") is None


def test_exception_message_only(excerpt):
    text = ("Message could not be sent. Mailer Error: SMTP Error: data not accepted.SMTP server error: "
            "DATA END command failed Detail: Message rejected: spam detected SMTP code: 554 "
            "Additional SMTP info: 5.7.1\n")
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("data", "message_rejected", 554)
    assert got["enhanced_code"] == "5.7.1"
    assert counts(frame) == (1, 0, 0)


def test_message_lines_are_noise(excerpt):
    text = (
        "2026-03-02 08:00:00\tSERVER -> CLIENT: 220 smtp.example.com ESMTP\n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: EHLO web01\n"
        "2026-03-02 08:00:00\tSERVER -> CLIENT: 250 smtp.example.com\n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: MAIL FROM:<shop@example.org>\n"
        "2026-03-02 08:00:00\tSERVER -> CLIENT: 250 OK\n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: RCPT TO:<buyer@example.net>\n"
        "2026-03-02 08:00:00\tSERVER -> CLIENT: 250 Accepted\n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: DATA\n"
        "2026-03-02 08:00:00\tSERVER -> CLIENT: 354 Enter message, ending with \".\" on a line by itself\n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: Date: Mon, 2 Mar 2026 08:00:00 +0000\n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: Subject: Order 1234\n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: \n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: Thank you.\n"
        "2026-03-02 08:00:00\tCLIENT -> SERVER: .\n"
        "2026-03-02 08:00:01\tSERVER -> CLIENT: 250 OK id=1abc\n"
        "2026-03-02 08:00:01\tCLIENT -> SERVER: QUIT\n"
        "2026-03-02 08:00:01\tSERVER -> CLIENT: 221 smtp.example.com closing connection\n"
    )
    frame = excerpt.sessions(text)
    events = excerpt.events(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["messages_sent"]) == ("none", "ok", 1)
    assert (got["recipients"], got["last_stage_reached"]) == (1, "quit")
    assert "Order 1234" not in " ".join(events["text"].astype(str))
    assert counts(frame) == (12, 5, 0)


def test_php5_warning_starttls_certificate(excerpt):
    text = """
    SMTP -> FROM SERVER:220 mail.example.com ESMTP
    SMTP -> FROM SERVER: 250-mail.example.com 250-STARTTLS 250 AUTH LOGIN
    SMTP -> FROM SERVER:220 2.0.0 Ready to start TLS
    Warning: stream_socket_enable_crypto(): SSL operation failed with code 1. OpenSSL Error messages:
    error:14090086:SSL routines:ssl3_get_server_certificate:certificate verify failed in /var/www/lib/class.smtp.php on line 344
    SMTP Error: Could not connect to SMTP host.
    """
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["tls_mode"]) == ("tls", "certificate_invalid", "starttls")
    assert counts(frame) == (6, 0, 0)


LEVEL_1 = (
    "2026-03-02 08:00:00\tCLIENT -> SERVER: EHLO web01\n"
    "2026-03-02 08:00:00\tCLIENT -> SERVER: STARTTLS\n"
    "2026-03-02 08:00:00\tCLIENT -> SERVER: EHLO web01\n"
    "2026-03-02 08:00:00\tCLIENT -> SERVER: AUTH LOGIN\n"
    "2026-03-02 08:00:00\tCLIENT -> SERVER: b3BzQGV4YW1wbGUub3Jn\n"
    "2026-03-02 08:00:00\tCLIENT -> SERVER: SHVudGVyMi1zZWNyZXQ=\n"
    "2026-03-02 08:00:01\tSMTP ERROR: Password command failed: 535-5.7.8 Username and Password not accepted. "
    "For more information, go to\n"
    "                   \t                  535 5.7.8  https://support.google.com/mail/?p=BadCredentials\n"
    "2026-03-02 08:00:01\tSMTP Error: Could not authenticate.\n"
    "2026-03-02 08:00:01\tCLIENT -> SERVER: QUIT\n"
)


def test_level_1_commands_only(excerpt):
    frame = excerpt.sessions(LEVEL_1)
    events = excerpt.events(LEVEL_1)

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("auth", "auth_failed")
    assert (got["reply_code"], got["enhanced_code"]) == (535, "5.7.8")
    assert (got["identity"], got["auth_mechanism"], got["tls_mode"]) == ("ops@example.org", "LOGIN", "starttls")
    texts = " ".join(events["text"].astype(str))
    assert "b3BzQGV4YW1wbGUub3Jn" not in texts
    assert "SHVudGVyMi1zZWNyZXQ=" not in texts
    assert counts(frame) == (10, 0, 0)


# A real level 3 run against a server whose certificate the client does not trust.  After
# the failed handshake PHPMailer sends QUIT in clear text and prints the server's encrypted
# TLS alert as the reply.  Its random bytes held a line feed, so PHPMailer printed the last
# byte ("R") on an indented line of its own, and that byte happens to be readable text.
INDENT = "                   \t                  "
TLS_RECORD = "\x17\x03\x03\x00`\ufffd\x19\ufffd\x0f\ufffd\t\ufffd\n" + INDENT + "R"
RECORD_AS_REPLY = (
    "2026-12-04 23:33:22\tConnection: opening to 127.0.0.1:587, timeout=3, options=array()\n"
    "2026-12-04 23:33:22\tConnection: opened\n"
    "2026-12-04 23:33:22\tSERVER -> CLIENT: 220 mail.capture.test capture ESMTP\n"
    "2026-12-04 23:33:22\tCLIENT -> SERVER: EHLO vm\n"
    "2026-12-04 23:33:22\tSERVER -> CLIENT: 250-mail.capture.test\n"
    f"{INDENT}250-STARTTLS\n"
    f"{INDENT}250 HELP\n"
    "2026-12-04 23:33:22\tCLIENT -> SERVER: STARTTLS\n"
    "2026-12-04 23:33:22\tSERVER -> CLIENT: 220 Ready to start TLS\n"
    "2026-12-04 23:33:22\tConnection failed. Error #2: stream_socket_enable_crypto(): SSL operation failed "
    "with code 1. OpenSSL Error messages:\n"
    f"{INDENT}error:0A000086:SSL routines::certificate verify failed "
    "[/usr/share/php/libphp-phpmailer/src/SMTP.php line 467]\n"
    "2026-12-04 23:33:22\tCLIENT -> SERVER: QUIT\n"
    f"2026-12-04 23:33:22\tSERVER -> CLIENT: {TLS_RECORD}\n"
    f"2026-12-04 23:33:22\tSMTP ERROR: QUIT command failed: {TLS_RECORD}\n"
    "2026-12-04 23:33:22\tConnection: closed\n"
)


def test_tls_record_reply_readable_tail(excerpt):
    frame = excerpt.sessions(RECORD_AS_REPLY)
    events = excerpt.events(RECORD_AS_REPLY)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("tls", "certificate_invalid")
    assert counts(frame)[2] == 0
    quit_error = events[events["text"].str.startswith("QUIT command failed")]["text"].iloc[0]
    assert quit_error.endswith("<unreadable bytes>")


RESET_AFTER_STARTTLS = """
2019-01-30 09:56:22 Connection: opening to mail.example.com:587, timeout=300, options=array()
2019-01-30 09:56:22 Connection: opened
2019-01-30 09:56:22 SERVER -> CLIENT: 220 mail.example.com ESMTP
2019-01-30 09:56:22 CLIENT -> SERVER: EHLO web01
2019-01-30 09:56:22 SERVER -> CLIENT: 250-mail.example.com
2019-01-30 09:56:22 SERVER -> CLIENT: 250 STARTTLS
2019-01-30 09:56:23 CLIENT -> SERVER: STARTTLS
2019-01-30 09:56:23 SERVER -> CLIENT: 220 2.0.0 SMTP server ready
2019-01-30 09:56:23 Connection failed. Error #2: stream_socket_enable_crypto(): SSL: Connection reset by peer [/srv/app/vendor/phpmailer/phpmailer/src/SMTP.php line 406]
2019-01-30 09:56:23 SMTP Error: Could not connect to SMTP host.
2019-01-30 09:56:23 CLIENT -> SERVER: QUIT
2019-01-30 09:56:23 Connection failed. Error #8: fwrite(): send of 6 bytes failed with errno=32 Broken pipe [/srv/app/vendor/phpmailer/phpmailer/src/SMTP.php line 1024]
2019-01-30 09:56:23 SERVER -> CLIENT:
2019-01-30 09:56:23 SMTP ERROR: QUIT command failed:
2019-01-30 09:56:23 Connection: closed
"""


def test_error_text_is_the_failing_error(excerpt):
    # The errors of the QUIT that PHPMailer sends after the failure are not what failed the session.
    got = row(excerpt.sessions(RESET_AFTER_STARTTLS))

    assert (got["failure_stage"], got["cause"]) == ("tls", "connection_reset")
    assert got["error_text"].startswith("stream_socket_enable_crypto(): SSL: Connection reset by peer")


def test_message_in_uncaught_exception(excerpt):
    # PHP prints PHPMailer's exception with its class and file, then the stack trace.
    frame = excerpt.sessions("""\
        PHP Fatal error:  Uncaught PHPMailer\\PHPMailer\\Exception: SMTP Error: Could not authenticate. in /var/www/html/vendor/phpmailer/phpmailer/src/PHPMailer.php:2213
        Stack trace:
        #0 /var/www/html/vendor/phpmailer/phpmailer/src/PHPMailer.php(2002): PHPMailer\\PHPMailer\\PHPMailer->smtpConnect(Array)
        #1 /var/www/html/contact.php(41): PHPMailer\\PHPMailer\\PHPMailer->send()
        #2 {main}
          thrown in /var/www/html/vendor/phpmailer/phpmailer/src/PHPMailer.php on line 2213
        """)

    assert len(frame) == 1
    got = row(frame)
    assert got["failure_stage"] == "auth"
    assert got["error_text"] == "SMTP Error: Could not authenticate."
    assert counts(frame) == (1, 5, 0)


def test_message_in_php5_exception(excerpt):
    frame = excerpt.sessions(
        "Fatal error: Uncaught exception 'phpmailerException' with message 'SMTP Error: The following "
        "recipients failed: bob@example.org' in /home/site/lib/class.phpmailer.php:1234\n")

    got = row(frame)
    assert got["failure_stage"] == "rcpt_to"
    assert got["error_text"] == "SMTP Error: The following recipients failed: bob@example.org"


def test_message_in_apache_error_log(excerpt):
    frame = excerpt.sessions(
        "[Thu Apr 03 11:44:49.860739 2025] [php:notice] [pid 4242] [client 192.0.2.10:51308] Error sending email: "
        "SMTP Error: Could not authenticate., referer: https://vault.example.com/index.php?page=emails\n")

    assert len(frame) == 1
    got = row(frame)
    assert got["failure_stage"] == "auth"
    assert got["error_text"] == "SMTP Error: Could not authenticate."
    assert counts(frame) == (1, 0, 0)


def test_exception_repeats_transcript_error(excerpt):
    # The transcript's own error line and the exception that repeats it are one failure.
    frame = excerpt.sessions("""\
        2026-03-02 08:00:01\tSERVER -> CLIENT: 220 smtp.example.com ESMTP ready
        2026-03-02 08:00:01\tCLIENT -> SERVER: EHLO web01.example.org
        2026-03-02 08:00:01\tSERVER -> CLIENT: 250 AUTH PLAIN
        2026-03-02 08:00:01\tCLIENT -> SERVER: AUTH PLAIN AG9wcwBub3QtdGhlLXBhc3N3b3Jk
        2026-03-02 08:00:02\tSERVER -> CLIENT: 535 5.7.8 Error: authentication failed: authentication failure
        2026-03-02 08:00:02\tSMTP ERROR: Password command failed: 535 5.7.8 Error: authentication failed: authentication failure
        SMTP Error: Could not authenticate.
        PHPMailer\\PHPMailer\\Exception: SMTP Error: Could not authenticate. in /srv/app/vendor/phpmailer/phpmailer/src/PHPMailer.php:2213
        """)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "auth_failed", 535)
    assert counts(frame)[2] == 0

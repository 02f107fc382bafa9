"""Nodemailer: captured logs from real runs, and excerpts shaped like bug reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import smtplogkit
from .format_helpers import counts, excerpt, row  # noqa: F401 - excerpt is a fixture

CAPTURES = Path(__file__).parents[1] / "captures" / "nodemailer"
EXPECTED = [json.loads(line) for line in (CAPTURES / "expected.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("entry", EXPECTED, ids=[e["file"] for e in EXPECTED])
def test_capture_rows(entry):
    frame = smtplogkit.read_logs(CAPTURES / entry["file"])

    assert frame.attrs["files"][0]["format"] == "nodemailer"
    assert counts(frame)[2] == 0
    assert len(frame) == entry["sessions"] == len(entry["rows"])
    for index, expected in enumerate(entry["rows"]):
        got = row(frame, index)
        for column, value in expected.items():
            assert got[column] == value, f"session {index}: {column}"


LOGGER_POOL = """
[2026-03-02 08:00:00] DEBUG Creating transport: nodemailer (6.9.8; +https://nodemailer.com/; SMTP (pool)/6.9.8[client:6.9.8])
[2026-03-02 08:00:00] DEBUG [#1] [Kq2dY1] Resolved smtp.example.com as 203.0.113.7 [cache miss]
[2026-03-02 08:00:01] INFO  [#1] [Kq2dY1] Connection established to 203.0.113.7:587
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 220 smtp.example.com ESMTP
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] C: EHLO app01
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 250-smtp.example.com
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 250-STARTTLS
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 250 AUTH LOGIN PLAIN
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] C: STARTTLS
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 220 2.0.0 Ready to start TLS
[2026-03-02 08:00:01] INFO  [#1] [Kq2dY1] Connection upgraded with STARTTLS
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] C: EHLO app01
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 250 AUTH LOGIN PLAIN
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] SMTP handshake finished
[2026-03-02 08:00:01] DEBUG [#2] [Zp09Xa] Resolved smtp.example.com as 203.0.113.7 [cache hit]
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] C: AUTH LOGIN
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 334 VXNlcm5hbWU6
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] C: YXBwQGV4YW1wbGUuY29t
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 334 UGFzc3dvcmQ6
[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] C: /* secret */
[2026-03-02 08:00:02] DEBUG [#1] [Kq2dY1] S: 454 4.7.0 Too many login attempts, please try again later
[2026-03-02 08:00:02] INFO  [#1] [Kq2dY1] User "app@example.com" failed to authenticate
[2026-03-02 08:00:11] WARN  [#2] [Zp09Xa] Connection timeout
[2026-03-02 08:00:11] ERROR Send Error: Connection timeout
"""


def test_logger_pool_sessions(excerpt):
    frame = excerpt.sessions(LOGGER_POOL)

    assert len(frame) == 2
    auth = row(frame, 0)
    assert (auth["failure_stage"], auth["cause"]) == ("auth", "rate_limited")
    assert auth["reply_code"] == 454
    assert auth["enhanced_code"] == "4.7.0"
    assert (auth["host"], auth["ip"], auth["port"]) == ("smtp.example.com", "203.0.113.7", 587)
    assert auth["tls_mode"] == "starttls"
    assert auth["identity"] == "app@example.com"
    timeout = row(frame, 1)
    assert (timeout["failure_stage"], timeout["cause"]) == ("connect", "connect_timeout")
    assert timeout["host"] == "smtp.example.com"
    assert counts(frame) == (21, 3, 0)


def test_logger_login_payloads_redacted(excerpt):
    events = excerpt.events(LOGGER_POOL)

    texts = " ".join(events["text"].astype(str))
    assert "YXBwQGV4YW1wbGUuY29t" not in texts
    assert "secret" not in texts


OLD_BOX = """
SERVER 1:
└──220 smtp.example.com ESMTP
CLIENT 1:
└──EHLO laptop.local
SERVER 1:
└──250-smtp.example.com Hello
   250-AUTH LOGIN PLAIN
   250 8BITMIME
CLIENT 1:
└──AUTH PLAIN AHVzZXJAZXhhbXBsZS5jb20Ad3JvbmctcGFzcw==
SERVER 1:
└──535 5.7.8 Authentication credentials invalid
{ [AuthError: Invalid login - 535 5.7.8 Authentication credentials invalid] name: 'AuthError', data: '535 5.7.8 Authentication credentials invalid', stage: 'auth' }
"""


def test_old_box_form(excerpt):
    frame = excerpt.sessions(OLD_BOX)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "auth_failed", 535)
    assert got["identity"] == "user@example.com"
    assert got["auth_mechanism"] == "PLAIN"
    assert counts(frame) == (8, 5, 0)


WRAPPED_OBJECTS = """
{ type: 'server', message: '220 smtp.example.com ESMTP ready' }
{ type: 'client', message: 'EHLO [127.0.0.1]' }
{
    type: 'server',
  message: '250-smtp.example.com\\n250-SIZE 3588257
    7\\n250 AUTH PLAIN LOGIN' }
{ type: 'client', message: 'MAIL FROM:<app@example.com>' }
{
    type: 'server',
  message: '530-5.7.0 Authentication Required. Learn more at\\n530 5.7
    .0 https://support.example.com/auth' }
"""


def test_wrapped_objects(excerpt):
    frame = excerpt.sessions(WRAPPED_OBJECTS)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("mail_from", "auth_required")
    assert got["reply_code"] == 530
    assert got["enhanced_code"] == "5.7.0"
    assert counts(frame)[2] == 0


@pytest.mark.parametrize(("text", "stage", "cause", "port"), [
    ("Error: getaddrinfo ENOTFOUND smtp.example.invalid\n"
     "    at GetAddrInfoReqWrap.onlookup [as oncomplete] (node:dns:107:26) {\n"
     "  errno: -3008,\n  code: 'EDNS',\n  syscall: 'getaddrinfo',\n  hostname: 'smtp.example.invalid',\n"
     "  command: 'CONN'\n}\n", "dns", "dns_nxdomain", None),
    ("Error: connect ETIMEDOUT 203.0.113.9:587\n"
     "    at TCPConnectWrap.afterConnect [as oncomplete] (net.js:1141:16) {\n"
     "  errno: 'ETIMEDOUT',\n  code: 'ESOCKET',\n  syscall: 'connect',\n  address: '203.0.113.9',\n"
     "  port: 587,\n  command: 'CONN'\n}\n", "connect", "connect_timeout", 587),
    ("{ [Error: connect ECONNREFUSED 127.0.0.1:465] code: 'ECONNECTION', errno: 'ECONNREFUSED', "
     "syscall: 'connect', address: '127.0.0.1', port: 465, command: 'CONN' }\n", "connect", "connect_refused", 465),
    ("Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: "
     "Host: smtp.example.com. is not in the cert's altnames: DNS:*.hosting.example\n"
     "    at Object.checkServerIdentity (node:tls:316:12) {\n  reason: \"Host: smtp.example.com. is not in the "
     "cert's altnames: DNS:*.hosting.example\",\n  host: 'smtp.example.com',\n  code: 'ESOCKET',\n"
     "  command: 'CONN'\n}\n", "tls", "certificate_invalid", None),
    ("[Error: 40E7B2D8B57F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:"
     "../deps/openssl/openssl/ssl/record/ssl3_record.c:354:] { library: 'SSL routines', reason: 'wrong version "
     "number', code: 'ESOCKET', command: 'CONN' }\n", "tls", "tls_mode_mismatch", None),
    ("Error: Connection timeout\n    at SMTPConnection._formatError (/app/node_modules/nodemailer/lib/"
     "smtp-connection/index.js:784:19) {\n  code: 'ETIMEDOUT',\n  command: 'CONN'\n}\n",
     "connect", "connect_timeout", None),
    ("Error: Missing credentials for \"PLAIN\"\n    at SMTPConnection._formatError (/app/node_modules/nodemailer/"
     "lib/smtp-connection/index.js:790:19) {\n  code: 'EAUTH',\n  command: 'API'\n}\n", "auth", "client_error", None),
])
def test_error_objects(excerpt, text, stage, cause, port):
    frame = excerpt.sessions(text, name="error.log", format="nodemailer")

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == (stage, cause)
    assert got["port"] == port
    parsed, noise, unrecognised = counts(frame)
    assert (parsed, unrecognised) == (1, 0)


def test_repeated_error_one_session(excerpt):
    text = (
        "[2026-03-02 08:00:00] ERROR Send Error: Greeting never received\n"
        "Error: Greeting never received\n"
        "    at SMTPConnection._formatError (/app/node_modules/nodemailer/lib/smtp-connection/index.js:784:19) {\n"
        "  code: 'ETIMEDOUT',\n  command: 'CONN'\n}\n"
    )
    frame = excerpt.sessions(text)

    assert len(frame) == 1
    assert (row(frame)["failure_stage"], row(frame)["cause"]) == ("greeting", "read_timeout")


def test_error_with_two_line_reply(excerpt):
    # Gmail's 535 has two lines, and Node prints both in the error's message before the stack frames.
    text = (
        "[2026-03-02 08:00:00] DEBUG [q1w2e3r4t5] S: 220 smtp.gmail.com ESMTP x1 - gsmtp\n"
        "[2026-03-02 08:00:00] DEBUG [q1w2e3r4t5] C: AUTH PLAIN /* secret */\n"
        "[2026-03-02 08:00:01] DEBUG [q1w2e3r4t5] S: 535-5.7.8 Username and Password not accepted. For more "
        "information, go to\n"
        "[2026-03-02 08:00:01] DEBUG [q1w2e3r4t5] S: 535 5.7.8  https://support.google.com/mail/?p=BadCredentials x1 - gsmtp\n"
        "Error: Invalid login: 535-5.7.8 Username and Password not accepted. For more information, go to\n"
        "535 5.7.8  https://support.google.com/mail/?p=BadCredentials x1 - gsmtp\n"
        "    at SMTPConnection._formatError (/app/node_modules/nodemailer/lib/smtp-connection/index.js:798:19)\n"
        "    at SMTPConnection._actionAUTHComplete (/app/node_modules/nodemailer/lib/smtp-connection/index.js:1577:34) {\n"
        "  code: 'EAUTH',\n"
        "  response: '535-5.7.8 Username and Password not accepted. For more information, go to\\n' +\n"
        "    '535 5.7.8  https://support.google.com/mail/?p=BadCredentials x1 - gsmtp',\n"
        "  responseCode: 535,\n"
        "  command: 'AUTH PLAIN'\n"
        "}\n"
    )
    frame = excerpt.sessions(text)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "auth_failed", 535)
    assert counts(frame)[2] == 0
    assert frame.attrs["files"][0]["warnings"] == []


GMAIL_535 = ("535-5.7.8 Username and Password not accepted. Learn more at "
             "535 5.7.8  https://support.example.com/mail/?p=BadCredentials s68sm65 - gsmtp")


def test_error_object_keeps_whole_reply(excerpt):
    # Without a transcript, the error object is the only evidence.  Node.js 12 and later split the
    # long response string into pieces joined by "+".
    text = """
    Error: Invalid login: 535-5.7.8 Username and Password not accepted. Learn more at
    535 5.7.8  https://support.example.com/mail/?p=BadCredentials s68sm65 - gsmtp
        at SMTPConnection._formatError (/home/dev/app/node_modules/nodemailer/lib/smtp-connection/index.js:784:19)
        at SMTPConnection._actionAUTHComplete (/home/dev/app/node_modules/nodemailer/lib/smtp-connection/index.js:1523:34)
        at TLSSocket.emit (node:events:513:28) {
      code: 'EAUTH',
      response: '535-5.7.8 Username and Password not accepted. Learn more at\\n' +
        '535 5.7.8  https://support.example.com/mail/?p=BadCredentials s68sm65 - gsmtp',
      responseCode: 535,
      command: 'AUTH PLAIN'
    }
    """
    frame = excerpt.sessions(text)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "auth_failed", 535)
    assert got["reply_text"] == f"Invalid login: {GMAIL_535}"
    assert counts(frame) == (1, 10, 0)


def test_error_message_keeps_reply_lines(excerpt):
    # An error tracker's copy prints no fields, so the reply's second line after the message is all
    # there is of it.
    text = """
    Error: Invalid login: 535-5.7.8 Username and Password not accepted. Learn more at
    535 5.7.8  https://support.example.com/mail/?p=BadCredentials s68sm65 - gsmtp
        at SMTPConnection._formatError (/srv/app/node_modules/nodemailer/lib/smtp-connection/index.js:774:19)
    """
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "auth_failed", 535)
    assert got["reply_text"] == f"Invalid login: {GMAIL_535}"


def test_old_node_error_with_response(excerpt):
    text = """
    { [Error: Invalid login]
      code: 'EAUTH',
      response: '534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1&scc=1>\\n534-5.7.14 Please log in via your web browser and\\n534-5.7.14 then try again.\\n534 5.7.14 https://support.google.com/mail/answer/78754 x1sm123.44 - gsmtp',
      responseCode: 534 }
    """
    frame = excerpt.sessions(text)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("auth", "auth_disabled_by_policy")
    assert (got["reply_code"], got["enhanced_code"]) == (534, "5.7.14")
    assert counts(frame) == (1, 3, 0)


def test_node8_brace_error_under_pm2(excerpt):
    text = """
    0|mailer  | { Error: Invalid login: 535 5.7.3 Authentication unsuccessful
    0|mailer  |     at SMTPConnection._formatError (/srv/app/node_modules/nodemailer/lib/smtp-connection/index.js:606:19)
    0|mailer  |     at SMTPConnection._actionAUTHComplete (/srv/app/node_modules/nodemailer/lib/smtp-connection/index.js:1335:34)
    0|mailer  |   code: 'EAUTH',
    0|mailer  |   response: '535 5.7.3 Authentication unsuccessful',
    0|mailer  |   responseCode: 535,
    0|mailer  |   command: 'AUTH LOGIN' }
    """
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "auth_failed", 535)
    assert counts(frame) == (1, 6, 0)


def test_unclosed_object_string(excerpt):
    text = """
    { type: 'server',
      message: '220 smtp.example.com ESMTP' }
    { type: 'client', message: 'EHLO [127.0.0.1]' }
    { type: 'server', message: '250 AUTH LOGIN PLAIN' }
    { type: 'client',
      message: 'AUTH PLAIN ****\\* }
    { type: 'server',
      message: '534-5.7.9 Application-specific password required.\\n534 5.7.9 Learn more at https://support.example.com' }
    """
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("auth", "app_password_required", 534)
    assert counts(frame)[2] == 0


def test_impossible_logger_date_warns(excerpt):
    frame = excerpt.sessions(LOGGER_POOL.replace("[2026-03-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 220",
                                                 "[2026-13-02 08:00:01] DEBUG [#1] [Kq2dY1] S: 220"))
    assert len(frame) == 2
    (report,) = frame.attrs["files"]
    assert any("invalid timestamp '2026-13-02 08:00:01'" in w for w in report["warnings"])

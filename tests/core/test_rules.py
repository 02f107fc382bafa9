"""Stage and cause rules on replies and client errors, one table row per fact."""

from __future__ import annotations

import pytest

from smtplogkit.labels import Cause, Stage, TlsMode
from smtplogkit import rules
from smtplogkit.rules import Failure, classify

REPLIES = [
    # (stage, code, text, expected cause)
    (Stage.AUTH, 535, "535 5.7.8 Username and Password not accepted.", Cause.AUTH_FAILED),
    (Stage.AUTH, 534, "534-5.7.9 Application-specific password required.", Cause.APP_PASSWORD_REQUIRED),
    (Stage.AUTH, 535, "535 Login Fail. Please enter your authorization code to login. More information in "
     "http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=28&&no=1001256", Cause.APP_PASSWORD_REQUIRED),
    (Stage.AUTH, 534, "534-5.7.14 Please log in via your web browser", Cause.AUTH_DISABLED_BY_POLICY),
    (Stage.AUTH, 535, "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled", Cause.AUTH_DISABLED_BY_POLICY),
    (Stage.MAIL_FROM, 530, "530 5.7.0 Must issue a STARTTLS command first.", Cause.STARTTLS_REQUIRED),
    (Stage.MAIL_FROM, 451, "451 5.7.3 STARTTLS is required to send mail", Cause.STARTTLS_REQUIRED),
    (Stage.MAIL_FROM, 530, "530 5.7.0 Authentication Required.", Cause.AUTH_REQUIRED),
    (Stage.MAIL_FROM, 421, "421 4.7.0 Try again later, closing connection.", Cause.RATE_LIMITED),
    (Stage.RCPT_TO, 451, "451 4.7.651 The mail server has been temporarily rate limited due to IP reputation.", Cause.RATE_LIMITED),
    (Stage.DATA, 550, "550 5.4.5 Daily user sending quota exceeded.", Cause.RATE_LIMITED),
    (Stage.MAIL_FROM, 421, "421 4.7.0 [TS01] Messages from 198.51.100.50 temporarily deferred", Cause.REPUTATION_BLOCKED),
    (Stage.RCPT_TO, 554, "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org", Cause.REPUTATION_BLOCKED),
    (Stage.RCPT_TO, 451, "451 4.7.1 Greylisted, please try again in 300 seconds", Cause.GREYLISTED),
    (Stage.RCPT_TO, 550, "550 5.1.1 <a@example.org>: Recipient address rejected: User unknown", Cause.RECIPIENT_REJECTED),
    (Stage.RCPT_TO, 504, "504 5.5.2 <webmaster@localhost>: Sender address rejected: need fully-qualified address", Cause.SENDER_REJECTED),
    (Stage.RCPT_TO, 554, "554 5.7.1 <you@example.com>: Relay access denied", Cause.POLICY_REJECTED),
    (Stage.GREETING, 421, "421 Refused. Your reverse DNS entry does not resolve to an IP.", Cause.POLICY_REJECTED),
    (Stage.MAIL_FROM, 421, "421 4.7.0 [TSS04] Messages from 198.51.100.5 temporarily deferred due to user complaints",
     Cause.REPUTATION_BLOCKED),
    (Stage.RCPT_TO, 554, "554 IP=198.51.100.5 - A problem occurred. (Ask your postmaster for help.) (BL)",
     Cause.REPUTATION_BLOCKED),
    (Stage.AUTH, 534, "534-5.7.9 Please log in with your web browser and then try again.", Cause.AUTH_DISABLED_BY_POLICY),
    (Stage.DATA, 552, "552 5.3.4 Message size exceeds fixed limit", Cause.MESSAGE_REJECTED),
    (Stage.EHLO, 501, "501 5.5.4 Invalid Address", Cause.CLIENT_ERROR),
    (Stage.GREETING, 421, "421 4.3.2 Service not available", Cause.SERVER_UNAVAILABLE),
    (Stage.STARTTLS, 454, "454 4.7.0 TLS not available due to local problem", Cause.STARTTLS_UNAVAILABLE),
    (Stage.AUTH, 535, "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect. [SN4PR0601CA0012]",
     Cause.AUTH_FAILED),
    (Stage.AUTH, 454, "454 4.7.0 Temporary authentication failure", Cause.SERVER_UNAVAILABLE),
    (Stage.RCPT_TO, 450, "450 4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend "
     "your message at a later time.", Cause.RATE_LIMITED),
    (Stage.RCPT_TO, 450, "450-4.2.1 The user you are trying to contact is receiving mail at a rate that prevents "
     "additional messages from being delivered.", Cause.RATE_LIMITED),
]


@pytest.mark.parametrize(("stage", "code", "text", "cause"), REPLIES, ids=[r[3].value + "-" + str(r[1]) for r in REPLIES])
def test_reply_cause(stage, code, text, cause):
    assert classify(Failure(stage=stage, text=text, code=code, connected=True)) == (stage, cause)


ERRORS = [
    # (parser's stage, connected, text, expected stage, expected cause)
    (Stage.CONNECT, False, "socket.gaierror: [Errno -2] Name or service not known", Stage.DNS, Cause.DNS_NXDOMAIN),
    (Stage.CONNECT, False, "socket.gaierror: [Errno -3] Temporary failure in name resolution", Stage.DNS, Cause.DNS_FAILURE),
    (Stage.CONNECT, False, "dial tcp 203.0.113.10:25: i/o timeout", Stage.CONNECT, Cause.CONNECT_TIMEOUT),
    (Stage.CONNECT, False, "ConnectionRefusedError: [Errno 111] Connection refused", Stage.CONNECT, Cause.CONNECT_REFUSED),
    (Stage.CONNECT, False, "OSError: [Errno 101] Network is unreachable", Stage.CONNECT, Cause.NETWORK_UNREACHABLE),
    (Stage.CONNECT, False, "connect to mx.example.org[2001:db8::1a]:25: Address not available", Stage.CONNECT,
     Cause.NETWORK_UNREACHABLE),
    (Stage.AUTH, True, "SASL authentication failed; cannot authenticate to server smtp.example.com[192.0.2.5]: "
     "no mechanism available", Stage.AUTH, Cause.AUTH_MECHANISM_UNSUPPORTED),
    (Stage.CONNECT, False, "ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", Stage.TLS, Cause.TLS_MODE_MISMATCH),
    (Stage.CONNECT, False, "certificate verify failed: self-signed certificate (_ssl.c:1006)", Stage.TLS, Cause.CERTIFICATE_INVALID),
    (Stage.GREETING, True, "SMTPServerDisconnected: Connection unexpectedly closed", Stage.GREETING, Cause.SERVER_DISCONNECTED),
    (Stage.GREETING, True, "TimeoutError: timed out", Stage.GREETING, Cause.READ_TIMEOUT),
    (Stage.DATA, True, "ConnectionResetError: [Errno 104] Connection reset by peer", Stage.DATA, Cause.CONNECTION_RESET),
    (Stage.TLS, False, "javax.net.ssl.SSLHandshakeException: No appropriate protocol (protocol is disabled or cipher "
     "suites are inappropriate)", Stage.TLS, Cause.TLS_HANDSHAKE_FAILURE),
]


@pytest.mark.parametrize(("stage", "connected", "text", "want_stage", "cause"), ERRORS, ids=[e[4].value for e in ERRORS])
def test_error_cause(stage, connected, text, want_stage, cause):
    assert classify(Failure(stage=stage, text=text, connected=connected)) == (want_stage, cause)


def test_quoted_earlier_reply_outranks_failing_one():
    text = "5.7.57 Client not authenticated to send mail."
    context = "Error: 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."
    failure = Failure(stage=Stage.MAIL_FROM, text=text, code=530, enhanced="5.7.57", context=context, connected=True)
    assert classify(failure) == (Stage.MAIL_FROM, Cause.AUTH_DISABLED_BY_POLICY)


def test_plain_client_on_port_465_is_mode_mismatch():
    failure = Failure(stage=Stage.GREETING, text="java.net.SocketTimeoutException: Read timed out",
                      connected=True, port=465, tls_mode=TlsMode.NONE)
    assert classify(failure) == (Stage.GREETING, Cause.TLS_MODE_MISMATCH)


def test_read_timeout_elsewhere_stays_timeout():
    failure = Failure(stage=Stage.GREETING, text="Read timed out", connected=True, port=587, tls_mode=TlsMode.NONE)
    assert classify(failure) == (Stage.GREETING, Cause.READ_TIMEOUT)


def test_auth_without_credentials_sent():
    failure = Failure(stage=Stage.AUTH, text="535 Incorrect authentication data", code=535, connected=True,
                      mechanism="PLAIN", auth="no_challenge")
    assert classify(failure) == (Stage.AUTH, Cause.AUTH_MECHANISM_UNSUPPORTED)


def test_auth_with_placeholder_credentials():
    failure = Failure(stage=Stage.AUTH, text="535-5.7.8 Username and Password not accepted.", code=535,
                      enhanced="5.7.8", connected=True, mechanism="PLAIN", auth="empty_credentials")
    assert classify(failure) == (Stage.AUTH, Cause.CLIENT_ERROR)


def test_xoauth2_rejection_is_token_problem():
    failure = Failure(stage=Stage.AUTH, text="535 5.7.8 Username and Password not accepted.", code=535,
                      enhanced="5.7.8", connected=True, mechanism="XOAUTH2")
    assert classify(failure) == (Stage.AUTH, Cause.OAUTH_TOKEN_INVALID)


def test_unexplained_failure_is_unknown():
    failure = Failure(stage=Stage.DATA, text="something odd happened", connected=True)
    assert classify(failure) == (Stage.DATA, Cause.UNKNOWN)


def test_wrong_password_at_microsoft_outranks_later_reply():
    # The 535 quoted in the session explains the 530 at MAIL FROM, and it is a wrong password, not policy.
    context = "535 5.7.139 Authentication unsuccessful, the user credentials were incorrect."
    failure = Failure(stage=Stage.MAIL_FROM, text="530 5.7.57 Client not authenticated to send mail.", code=530,
                      connected=True, context=context)
    assert classify(failure) == (Stage.MAIL_FROM, Cause.AUTH_FAILED)


def test_temporary_auth_failure_after_xoauth2_is_server_side():
    failure = Failure(stage=Stage.AUTH, text="454 4.7.0 Temporary authentication failure", code=454, connected=True,
                      mechanism="XOAUTH2")
    assert classify(failure) == (Stage.AUTH, Cause.SERVER_UNAVAILABLE)


@pytest.mark.parametrize("name", ["quota", "greylist", "blacklist", "throttle", "dnsbl", "reputation"])
def test_address_words_decide_nothing(name):
    text = f"550 5.1.1 <{name}@example.org>: Recipient address rejected: User unknown in virtual mailbox table"
    assert classify(Failure(Stage.RCPT_TO, text, 550, "5.1.1")) == (Stage.RCPT_TO, Cause.RECIPIENT_REJECTED)


def test_replies_differing_in_address_share_cache():
    before = rules._classify.cache_info()
    for number in range(5):
        text = f"550 5.1.1 <r{number}@example.net>: Recipient address rejected: mailbox full in table"
        classify(Failure(Stage.RCPT_TO, text, 550, "5.1.1"))
    after = rules._classify.cache_info()
    assert after.hits - before.hits >= 4


def test_reply_category_digit():
    # A reply's second digit is 0 to 5, so an Exim debug line of process 292 is no reply.
    from smtplogkit import replycodes

    assert replycodes.split_reply("250 2.0.0 Ok") == (250, True, "2.0.0 Ok")
    assert replycodes.split_reply("554-5.7.1 refused") == (554, False, "5.7.1 refused")
    assert replycodes.split_reply("292 delivering 1mqjmk-00004h-Q0") is None
    assert replycodes.split_reply("560 odd") is None


def test_exim_debug_retry_lines_make_no_session(tmp_path):
    import smtplogkit

    path = tmp_path / "exim-debug.log"
    path.write_text("292 delivering 1mqjmk-00004h-Q0\n292 R: smarthost for a@example.org\n"
                    "293 T: remote_smtp_smarthost for a@example.org\n292 LOG: retry_defer MAIN\n")
    assert len(smtplogkit.read_logs(path, progress=False)) == 0

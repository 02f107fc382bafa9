"""JavaMail / Jakarta Mail debug output: excerpts shaped like bug reports."""

from __future__ import annotations

import pytest

from .format_helpers import counts, excerpt, row  # noqa: F401 - excerpt is a fixture

AUTH_FAILED = """
DEBUG: setDebug: JavaMail version 1.6.2
DEBUG: getProvider() returning javax.mail.Provider[TRANSPORT,smtp,com.sun.mail.smtp.SMTPTransport,Oracle]
DEBUG SMTP: need username and password for authentication
DEBUG SMTP: protocolConnect returning false, host=smtp.gmail.com, user=app, password=<null>
DEBUG SMTP: useEhlo true, useAuth true
DEBUG SMTP: trying to connect to host "smtp.gmail.com", port 587, isSSL false
220 smtp.gmail.com ESMTP a1sm123456wrb.11 - gsmtp
DEBUG SMTP: connected to host "smtp.gmail.com", port: 587
EHLO build-agent
250-smtp.gmail.com at your service, [198.51.100.20]
250-SIZE 35882577
250-STARTTLS
250 SMTPUTF8
DEBUG SMTP: Found extension "SIZE", arg "35882577"
DEBUG SMTP: Found extension "STARTTLS", arg ""
STARTTLS
220 2.0.0 Ready to start TLS
EHLO build-agent
250-smtp.gmail.com at your service, [198.51.100.20]
250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH
250 SMTPUTF8
DEBUG SMTP: protocolConnect login, host=smtp.gmail.com, user=alerts@example.com, password=<non-null>
DEBUG SMTP: Attempt to authenticate using mechanisms: LOGIN PLAIN DIGEST-MD5 NTLM XOAUTH2 
DEBUG SMTP: Using mechanism LOGIN
DEBUG SMTP: AUTH LOGIN command trace suppressed
DEBUG SMTP: AUTH LOGIN failed
Exception in thread "main" javax.mail.AuthenticationFailedException: 535-5.7.8 Username and Password not accepted. Learn more at
535 5.7.8  https://support.google.com/mail/?p=BadCredentials a1sm123456wrb.11 - gsmtp

\tat com.sun.mail.smtp.SMTPTransport$Authenticator.authenticate(SMTPTransport.java:947)
\tat com.sun.mail.smtp.SMTPTransport.authenticate(SMTPTransport.java:858)
\tat javax.mail.Transport.send(Transport.java:101)
""".replace("\\t", "\t")


def test_auth_failed_trace_suppressed(excerpt):
    frame = excerpt.sessions(AUTH_FAILED)

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("auth", "auth_failed")
    assert (got["reply_code"], got["enhanced_code"]) == (535, "5.7.8")
    assert (got["host"], got["port"], got["tls_mode"]) == ("smtp.gmail.com", 587, "starttls")
    assert (got["identity"], got["auth_mechanism"]) == ("alerts@example.com", "LOGIN")
    assert counts(frame) == (17, 15, 0)


CONNECT_REFUSED = """
DEBUG SMTP: trying to connect to host "mail.example.com", port 25, isSSL false
Exception in thread "main" javax.mail.MessagingException: Could not connect to SMTP host: mail.example.com, port: 25;
  nested exception is:
\tjava.net.ConnectException: Connection refused (Connection refused)
\tat com.sun.mail.smtp.SMTPTransport.openServer(SMTPTransport.java:2209)
\tat com.sun.mail.smtp.SMTPTransport.protocolConnect(SMTPTransport.java:740)
""".replace("\\t", "\t")


def test_connect_refused_nested(excerpt):
    frame = excerpt.sessions(CONNECT_REFUSED)

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("connect", "connect_refused")
    assert (got["host"], got["port"], got["tls_mode"]) == ("mail.example.com", 25, "none")
    assert counts(frame) == (2, 4, 0)


def test_connect_failure_names_host_without_trace(excerpt):
    # Pasted from the exception on: the host and port come from its message.
    frame = excerpt.sessions(CONNECT_REFUSED.split("\n", 2)[2])

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("connect", "connect_refused")
    assert (got["host"], got["port"]) == ("mail.example.com", 25)


def test_ssl_on_plain_port(excerpt):
    text = (
        'DEBUG SMTP: trying to connect to host "smtp.example.com", port 587, isSSL true\n'
        "javax.mail.MessagingException: Could not connect to SMTP host: smtp.example.com, port: 587;\n"
        "  nested exception is:\n"
        "\tjavax.net.ssl.SSLException: Unsupported or unrecognized SSL message\n"
        "\tat java.base/sun.security.ssl.SSLSocketInputRecord.handleUnknownRecord(SSLSocketInputRecord.java:451)\n"
    )
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("tls", "tls_mode_mismatch")
    assert got["tls_mode"] == "implicit"


def test_debug_auth_trace_redacted(excerpt):
    text = """
    DEBUG SMTP: trying to connect to host "smtp.example.com", port 587, isSSL false
    220 smtp.example.com ESMTP
    EHLO host
    250 AUTH LOGIN
    AUTH LOGIN
    334 VXNlcm5hbWU6
    b3BzQGV4YW1wbGUub3Jn
    334 UGFzc3dvcmQ6
    SHVudGVyMi1zZWNyZXQ=
    235 2.7.0 Accepted
    QUIT
    221 Bye
    """
    events = excerpt.events(text)
    frame = excerpt.sessions(text)

    texts = " ".join(events["text"].astype(str))
    assert "b3BzQGV4YW1wbGUub3Jn" not in texts
    assert "SHVudGVyMi1zZWNyZXQ=" not in texts
    assert (row(frame)["cause"], row(frame)["tls_mode"]) == ("ok", "none")
    assert counts(frame) == (12, 0, 0)


def test_wrapper_takes_nested_cause(excerpt):
    text = (
        'DEBUG SMTP: trying to connect to host "smtp.example.com", port 587, isSSL false\n'
        'Exception in thread "main" com.sun.mail.util.MailConnectException: Couldn\'t connect to host, port: '
        "smtp.example.com, 587; timeout -1;\n"
        "  nested exception is:\n"
        "\tjava.net.ConnectException: Connection refused (Connection refused)\n"
        "\tat com.sun.mail.util.SocketFetcher.createSocket(SocketFetcher.java:2209)\n"
    )
    frame = excerpt.sessions(text)
    events = excerpt.events(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("connect", "connect_refused")
    assert len(events.query("verb == 'error'")) == 1
    assert counts(frame) == (2, 3, 0)


def test_starttls_pkix_failure(excerpt):
    text = (
        'DEBUG SMTP: trying to connect to host "smtp.example.com", port 587, isSSL false\n'
        "220 smtp.example.com ESMTP\n"
        "EHLO app\n"
        "250-smtp.example.com\n"
        "250 STARTTLS\n"
        "STARTTLS\n"
        "220 2.0.0 Ready to start TLS\n"
        "javax.mail.MessagingException: Could not convert socket to TLS;\n"
        "  nested exception is:\n"
        "\tjavax.net.ssl.SSLHandshakeException: PKIX path building failed: "
        "sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path "
        "to requested target\n"
    )
    frame = excerpt.sessions(text)

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["tls_mode"]) == ("tls", "certificate_invalid", "starttls")


# The end of a mail.debug trace pasted without the transcript before it.
SEND_FAILED = """\
DEBUG SMTP: MessagingException while sending, THROW:
com.sun.mail.smtp.SMTPSendFailedException: 554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception
\tat com.sun.mail.smtp.SMTPTransport.issueSendCommand(SMTPTransport.java:2374)
\tat com.sun.mail.smtp.SMTPTransport.finishData(SMTPTransport.java:2095)
""".replace("\\t", "\t")


@pytest.mark.parametrize(("reply", "cause"), [
    ("554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied;", "sender_rejected"),
    ("554 DT:SPM 163 smtp14,EsCowAD3_1 1565091330,please see http://mail.163.com/help/help_spam_16.htm?ip=1",
     "message_rejected"),
])
def test_send_failed_without_transcript(excerpt, reply, cause):
    # JavaMail throws SMTPSendFailedException for DATA and the end of data, never at the greeting.
    frame = excerpt.sessions(SEND_FAILED.replace(
        "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied;", reply))

    got = row(frame)
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("data", cause, 554)


def test_send_failed_at_mail_from(excerpt):
    # The same exception thrown for MAIL FROM: a frame of SMTPTransport.mailFrom names the step.
    text = SEND_FAILED.replace("554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied;",
                               "553 5.7.1 Sender address rejected: not owned by user a@example.org").replace(
        "SMTPTransport.finishData(SMTPTransport.java:2095)", "SMTPTransport.mailFrom(SMTPTransport.java:1624)")

    got = row(excerpt.sessions(text))
    assert (got["failure_stage"], got["cause"], got["reply_code"]) == ("mail_from", "sender_rejected", 553)


GMAIL_535_FIRST = "535-5.7.8 Username and Password not accepted. For more information, go to"
GMAIL_535_LAST = "535 5.7.8  https://support.example.com/mail/?p=BadCredentials 5b1f17b1 - gsmtp"


def test_spring_wrapper_names_cause_inline(excerpt):
    # Spring's exceptions put their cause in their own message: "...; nested exception is ...".
    frame = excerpt.sessions(
        "org.springframework.mail.MailAuthenticationException: Authentication failed; nested exception is "
        f"javax.mail.AuthenticationFailedException: {GMAIL_535_FIRST}\n{GMAIL_535_LAST}\n")

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("auth", "auth_failed")
    assert (got["reply_code"], got["enhanced_code"]) == (535, "5.7.8")
    assert counts(frame) == (1, 1, 0)


def test_spring_wrapper_reply_from_caused_by(excerpt):
    # The cause on a "Caused by:" line quotes the reply that the wrapper's own message leaves out.
    frame = excerpt.sessions(
        "org.springframework.mail.MailAuthenticationException: Authentication failed\n"
        "\tat org.springframework.mail.javamail.JavaMailSenderImpl.doSend(JavaMailSenderImpl.java:402)\n"
        f"Caused by: jakarta.mail.AuthenticationFailedException: {GMAIL_535_FIRST}\n{GMAIL_535_LAST}\n"
        "\n"
        "\tat org.eclipse.angus.mail.smtp.SMTPTransport$Authenticator.authenticate(SMTPTransport.java:954)\n"
        "\t... 2 common frames omitted\n")

    assert len(frame) == 1
    got = row(frame)
    assert (got["failure_stage"], got["cause"]) == ("auth", "auth_failed")
    assert (got["reply_code"], got["enhanced_code"]) == (535, "5.7.8")
    assert counts(frame)[2] == 0

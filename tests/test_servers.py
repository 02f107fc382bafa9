"""The faulty-server catalogue behaves as each scenario says, seen by smtplib."""

from __future__ import annotations

import smtplib
import ssl

import pytest

from conftest import servers


def client_context(endpoint, *, trust: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(endpoint.ca_file) if trust else None)
    if not trust:
        context.load_default_certs()
    return context


def starttls_login(endpoint, *, trust: bool = True) -> smtplib.SMTP:
    client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=5)
    client.starttls(context=client_context(endpoint, trust=trust))
    client.login(servers.FAKE_USER, servers.FAKE_PASSWORD)
    return client


def test_success_sends_message():
    with servers.start("success") as endpoint:
        client = starttls_login(endpoint)
        refused = client.sendmail(servers.SENDER, [servers.RECIPIENT], "Subject: t\r\n\r\nbody\r\n")
        client.quit()
    assert refused == {}


def test_success_implicit_tls():
    with servers.start("success_implicit") as endpoint:
        context = client_context(endpoint)
        with smtplib.SMTP_SSL(endpoint.host, endpoint.port, timeout=5, context=context) as client:
            client.login(servers.FAKE_USER, servers.FAKE_PASSWORD)
            code, _ = client.noop()
    assert code == 250


def test_connect_refused():
    with servers.start("connect_refused") as endpoint:
        with pytest.raises(ConnectionRefusedError):
            smtplib.SMTP(endpoint.host, endpoint.port, timeout=5)


def test_implicit_port_plain_client_times_out():
    with servers.start("implicit_port_plain_client") as endpoint:
        with pytest.raises((TimeoutError, smtplib.SMTPServerDisconnected), match="timed out"):
            smtplib.SMTP(endpoint.host, endpoint.port, timeout=1)


def test_plain_port_implicit_client_wrong_version():
    with servers.start("plain_port_implicit_client") as endpoint:
        with pytest.raises(ssl.SSLError, match="WRONG_VERSION_NUMBER|wrong version number"):
            smtplib.SMTP_SSL(endpoint.host, endpoint.port, timeout=5, context=client_context(endpoint))


def test_untrusted_cert():
    with servers.start("untrusted_cert") as endpoint:
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            starttls_login(endpoint, trust=False)


def test_wrong_host_cert():
    with servers.start("wrong_host_cert") as endpoint:
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|match"):
            starttls_login(endpoint)


def test_starttls_not_offered():
    with servers.start("starttls_not_offered") as endpoint:
        client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=5)
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.starttls()
        client.quit()


def test_starttls_required_reply():
    with servers.start("starttls_required") as endpoint:
        client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=5)
        client.ehlo()
        code, message = client.mail(servers.SENDER)
        client.quit()
    assert code == 530
    assert message.decode() == servers.STARTTLS_REQUIRED_REPLY[4:]


@pytest.mark.parametrize("name, reply", [("auth_535", servers.AUTH_535_REPLY), ("auth_534", servers.AUTH_534_REPLY)])
def test_auth_rejected(name, reply):
    with servers.start(name) as endpoint:
        with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
            starttls_login(endpoint)
    assert raised.value.smtp_code == int(reply[:3])
    assert raised.value.smtp_error.decode() == reply[4:]


def test_xoauth2_rejected():
    with servers.start("xoauth2_rejected") as endpoint:
        client = smtplib.SMTP(endpoint.host, endpoint.port, timeout=5)
        client.starttls(context=client_context(endpoint))
        client.ehlo()
        token = f"user={servers.FAKE_USER}\x01auth=Bearer {servers.FAKE_TOKEN}\x01\x01"
        with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
            client.auth("XOAUTH2", lambda challenge=None: token if challenge is None else "")
    assert raised.value.smtp_code == 535


def test_rate_limited_after_one():
    with servers.start("rate_limited", rate_limit=1) as endpoint:
        client = starttls_login(endpoint)
        client.sendmail(servers.SENDER, [servers.RECIPIENT], "Subject: 1\r\n\r\nbody\r\n")
        with pytest.raises(smtplib.SMTPSenderRefused) as raised:
            client.sendmail(servers.SENDER, [servers.RECIPIENT], "Subject: 2\r\n\r\nbody\r\n")
    assert raised.value.smtp_code == 421


@pytest.mark.parametrize("name, code", [("greylisted", 451), ("unknown_recipient", 550), ("relay_denied", 554)])
def test_recipient_rejected(name, code):
    with servers.start(name) as endpoint:
        client = starttls_login(endpoint)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
            client.sendmail(servers.SENDER, [servers.RECIPIENT], "Subject: t\r\n\r\nbody\r\n")
        client.quit()
    assert raised.value.recipients[servers.RECIPIENT][0] == code


def test_no_greeting_times_out():
    with servers.start("no_greeting") as endpoint:
        with pytest.raises((TimeoutError, smtplib.SMTPServerDisconnected), match="timed out"):
            smtplib.SMTP(endpoint.host, endpoint.port, timeout=1)


def test_close_after_connect():
    with servers.start("close_after_connect") as endpoint:
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtplib.SMTP(endpoint.host, endpoint.port, timeout=5)

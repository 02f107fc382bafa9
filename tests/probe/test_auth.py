"""The AUTH step: accepted and rejected credentials, XOAUTH2, and the plain-text rule."""

from __future__ import annotations

import base64
import json

import pytest

from smtplogkit.labels import Cause, Stage
from smtplogkit.probe import ProbeError, probe, render
from smtplogkit.probe.model import secret_forms

from probe_servers import MAIL_HOST, PASSWORD, TOKEN, USER


def run(server, dns_server, cafile, **options):
    options.setdefault("timeout", 2)
    return probe(MAIL_HOST, port=server.port, nameserver=dns_server.address, cafile=cafile, **options)


def leaks(text: str, secret: str) -> list[str]:
    """Return the forms of ``secret`` (plain or base64) found in ``text``."""
    return [form for form in secret_forms(secret) if form in text]


def test_password_accepted(starttls_server, dns_server, cafile):
    result = run(starttls_server, dns_server, cafile, tls="starttls", user=USER, auth="password", secret=PASSWORD)
    auth = result.attempts[0].step(Stage.AUTH)
    assert auth.ok
    assert auth.facts["mechanism"] == "PLAIN"
    assert auth.facts["identity"] == USER
    assert auth.reply_code == 235
    assert result.ok
    assert result.verdict.endswith("AUTH ok")


def test_password_rejected(starttls_server, dns_server, cafile):
    result = run(starttls_server, dns_server, cafile, tls="starttls", user=USER, auth="password",
                 secret="wrong-password-123")
    auth = result.attempts[0].failure
    assert auth.stage is Stage.AUTH
    assert auth.cause is Cause.AUTH_FAILED
    assert auth.reply_code == 535
    assert not result.ok


def test_login_mechanism(login_only_server, dns_server, cafile):
    result = run(login_only_server, dns_server, cafile, tls="implicit", user=USER, auth="password", secret=PASSWORD)
    auth = result.attempts[0].step(Stage.AUTH)
    assert auth.ok
    assert auth.facts["mechanism"] == "LOGIN"
    assert [side for side, _ in auth.transcript] == ["C", "S", "C", "S", "C", "S"]
    assert auth.transcript[2] == ("C", "<redacted>")
    assert auth.transcript[4] == ("C", "<redacted>")


def test_xoauth2_accepted(implicit_server, dns_server, cafile):
    result = run(implicit_server, dns_server, cafile, tls="implicit", user=USER, auth="xoauth2", secret=TOKEN)
    auth = result.attempts[0].step(Stage.AUTH)
    assert auth.ok
    assert auth.facts["mechanism"] == "XOAUTH2"


def test_xoauth2_rejected(implicit_server, dns_server, cafile):
    result = run(implicit_server, dns_server, cafile, tls="implicit", user=USER, auth="xoauth2",
                 secret="ya29.expired-token")
    auth = result.attempts[0].failure
    assert auth.stage is Stage.AUTH
    assert auth.cause is Cause.OAUTH_TOKEN_INVALID
    assert '"status": "401"' in auth.detail  # the server's decoded JSON error
    assert "ya29.expired-token" not in json.dumps(result.records())


def test_plaintext_auth_refused(plain_server, dns_server, cafile):
    result = run(plain_server, dns_server, cafile, tls="auto", user=USER, auth="password", secret=PASSWORD)
    auth = result.attempts[0].step(Stage.AUTH)
    assert auth.status == "skipped"
    assert "--allow-plaintext-auth" in auth.detail
    assert auth.transcript == []
    assert not result.ok


def test_plaintext_auth_allowed(plain_server, dns_server, cafile):
    result = run(plain_server, dns_server, cafile, tls="auto", user=USER, auth="password", secret=PASSWORD,
                 allow_plaintext_auth=True)
    assert result.attempts[0].step(Stage.AUTH).ok
    assert result.ok


def test_mode_check_never_authenticates(implicit_server, dns_server, cafile):
    result = run(implicit_server, dns_server, cafile, tls="auto", user=USER, auth="password", secret=PASSWORD,
                 timeout=1)
    check = result.attempts[-1]
    assert check.mode_check
    assert check.step(Stage.AUTH) is None


def test_auth_needs_secret(monkeypatch, dns_server):
    monkeypatch.delenv("SMTPLOGKIT_PASSWORD", raising=False)
    with pytest.raises(ProbeError, match="SMTPLOGKIT_PASSWORD"):
        probe(MAIL_HOST, user=USER, auth="password", nameserver=dns_server.address)


def test_auth_needs_user(dns_server):
    with pytest.raises(ProbeError, match="user name"):
        probe(MAIL_HOST, auth="password", secret=PASSWORD, nameserver=dns_server.address)


def test_password_read_from_environment(monkeypatch, starttls_server, dns_server, cafile):
    monkeypatch.setenv("SMTPLOGKIT_PASSWORD", PASSWORD)
    result = run(starttls_server, dns_server, cafile, tls="starttls", user=USER, auth="password")
    assert result.attempts[0].step(Stage.AUTH).ok


@pytest.mark.parametrize("accepted", [True, False])
def test_secret_absent_from_output(starttls_server, dns_server, cafile, accepted):
    secret = PASSWORD if accepted else PASSWORD[::-1]
    result = run(starttls_server, dns_server, cafile, tls="starttls", user=USER, auth="password", secret=secret)
    record_text = json.dumps(result.records())
    table = render(result)
    assert leaks(record_text, secret) == []
    assert leaks(table, secret) == []
    assert leaks(repr(result), secret) == []
    payload = base64.b64encode(f"\0{USER}\0{secret}".encode()).decode()
    assert payload not in record_text
    assert USER in record_text  # the user name is kept as the identity

"""Probe attempts against real servers on loopback: TCP, TLS modes, certificates, greeting."""

from __future__ import annotations

import time

import pytest

from smtplogkit.labels import Cause, Stage, TlsMode
from smtplogkit.probe import probe

from probe_servers import MAIL_HOST


def run(server_port, dns_server, cafile, **options):
    options.setdefault("timeout", 2)
    return probe(MAIL_HOST, port=server_port, nameserver=dns_server.address, cafile=cafile, **options)


def stages(attempt):
    return [(step.stage.value, step.status) for step in attempt.steps]


def test_starttls_all_layers(starttls_server, dns_server, cafile):
    result = run(starttls_server.port, dns_server, cafile, tls="starttls")
    attempt = result.attempts[0]
    assert stages(attempt) == [("connect", "ok"), ("greeting", "ok"), ("ehlo", "ok"), ("starttls", "ok"),
                               ("tls", "ok"), ("ehlo", "ok")]
    assert result.ok
    assert result.detected_tls is TlsMode.STARTTLS
    assert result.verdict == ("DNS ok, TCP ok, greeting ok, EHLO ok, STARTTLS ok, TLS ok, "
                              "EHLO after STARTTLS ok")


def test_capabilities_before_and_after_starttls(starttls_server, dns_server, cafile):
    attempt = run(starttls_server.port, dns_server, cafile, tls="starttls").attempts[0]
    before = attempt.step(Stage.EHLO).facts["capabilities"]
    after = attempt.step(Stage.EHLO, last=True).facts["capabilities"]
    assert "STARTTLS" in before
    assert "AUTH" not in before  # this server offers AUTH only over TLS
    assert "STARTTLS" not in after
    assert set(after["AUTH"]) >= {"PLAIN", "LOGIN"}
    assert "SIZE" in after


def test_tls_facts(starttls_server, dns_server, cafile):
    tls = run(starttls_server.port, dns_server, cafile, tls="starttls").attempts[0].step(Stage.TLS)
    assert tls.facts["version"].startswith("TLSv1.")
    assert tls.facts["cipher"]
    assert tls.facts["verified"] is True
    assert tls.facts["hostname_valid"] is True
    certificate = tls.facts["certificate"]
    assert MAIL_HOST in certificate["san"]
    assert "trustme" in certificate["issuer"]
    assert certificate["not_after_ts"] > certificate["not_before_ts"]
    assert len(certificate["sha256"]) == 64


def test_implicit_tls(implicit_server, dns_server, cafile):
    result = run(implicit_server.port, dns_server, cafile, tls="implicit")
    assert stages(result.attempts[0]) == [("connect", "ok"), ("tls", "ok"), ("greeting", "ok"), ("ehlo", "ok")]
    assert result.ok
    assert result.detected_tls is TlsMode.IMPLICIT


def test_auto_finds_starttls(starttls_server, dns_server, cafile):
    result = run(starttls_server.port, dns_server, cafile, tls="auto")
    assert len(result.attempts) == 1
    assert result.attempts[0].tls_mode is TlsMode.STARTTLS
    assert result.detected_tls is TlsMode.STARTTLS
    assert result.ok


def test_auto_finds_implicit(implicit_server, dns_server, cafile):
    result = run(implicit_server.port, dns_server, cafile, tls="auto", timeout=1)
    first, check = result.attempts
    assert first.failure.stage is Stage.GREETING
    assert first.failure.cause is Cause.TLS_MODE_MISMATCH
    assert check.mode_check
    assert check.tls_mode is TlsMode.IMPLICIT
    assert check.ok
    assert result.detected_tls is TlsMode.IMPLICIT
    assert result.ok
    assert result.verdict.endswith("(implicit TLS)")


def test_implicit_on_starttls_port(starttls_server, dns_server, cafile):
    result = run(starttls_server.port, dns_server, cafile, tls="implicit")
    first, check = result.attempts
    assert first.failure.stage is Stage.TLS
    assert first.failure.cause is Cause.TLS_MODE_MISMATCH
    assert check.mode_check and check.ok
    assert not result.ok
    assert f"the server speaks STARTTLS on {starttls_server.port}, use starttls" in result.verdict
    assert result.verdict.startswith("DNS ok, TCP ok, TLS failed:")


def test_starttls_on_implicit_port(implicit_server, dns_server, cafile):
    result = run(implicit_server.port, dns_server, cafile, tls="starttls", timeout=1)
    first, check = result.attempts
    assert first.failure.stage is Stage.GREETING
    assert first.failure.cause is Cause.TLS_MODE_MISMATCH
    assert not result.ok
    assert f"the server speaks implicit TLS on {implicit_server.port}, use implicit" in result.verdict


def test_starttls_not_offered(plain_server, dns_server, cafile):
    result = run(plain_server.port, dns_server, cafile, tls="starttls")
    failure = result.attempts[0].failure
    assert failure.stage is Stage.STARTTLS
    assert failure.cause is Cause.STARTTLS_UNAVAILABLE
    assert not result.ok


def test_auto_warns_without_tls(plain_server, dns_server, cafile):
    result = run(plain_server.port, dns_server, cafile, tls="auto")
    assert result.ok
    assert result.detected_tls is TlsMode.NONE
    assert any("no STARTTLS" in warning for warning in result.warnings)


def test_tls_none_warns_when_offered(starttls_server, dns_server, cafile):
    result = run(starttls_server.port, dns_server, cafile, tls="none")
    assert [s.stage for s in result.attempts[0].steps] == [Stage.CONNECT, Stage.GREETING, Stage.EHLO]
    assert any("--tls none" in warning for warning in result.warnings)


def test_certificate_wrong_host(wrong_host_server, dns_server, cafile):
    result = run(wrong_host_server.port, dns_server, cafile, tls="starttls")
    failure = result.attempts[0].failure
    assert failure.stage is Stage.TLS
    assert failure.cause is Cause.CERTIFICATE_INVALID
    assert failure.detail.startswith(f"the certificate is not valid for {MAIL_HOST}")
    certificate = failure.facts["certificate"]
    assert certificate["san"] == ["other.probe.test"]
    assert certificate["hostname_valid"] is False
    assert len(result.attempts) == 1  # a bad certificate is no sign of a wrong TLS mode


def test_certificate_untrusted(untrusted_server, dns_server, cafile):
    result = run(untrusted_server.port, dns_server, cafile, tls="implicit")
    failure = result.attempts[0].failure
    assert failure.stage is Stage.TLS
    assert failure.cause is Cause.CERTIFICATE_INVALID
    assert "not a CA that this client trusts" in failure.detail
    assert failure.facts["certificate"]["hostname_valid"] is True
    assert "trustme" in failure.facts["certificate"]["issuer"]
    assert [s.stage for s in result.attempts[0].steps] == [Stage.CONNECT, Stage.TLS]


def test_certificate_expired(expired_server, dns_server, cafile):
    result = run(expired_server.port, dns_server, cafile, tls="implicit")
    failure = result.attempts[0].failure
    assert failure.stage is Stage.TLS
    assert failure.cause is Cause.CERTIFICATE_INVALID
    assert failure.detail.startswith("the certificate has expired")
    certificate = failure.facts["certificate"]
    assert certificate["not_after_ts"] < time.time()
    assert f"CN={MAIL_HOST}" in certificate["subject"]


def test_certificate_expiring_soon(expiring_server, dns_server, cafile):
    result = run(expiring_server.port, dns_server, cafile, tls="implicit")
    assert result.ok
    assert any(warning.startswith("the server certificate expires in 3 days") for warning in result.warnings)
    subject = result.attempts[0].step(Stage.TLS).facts["certificate"]["subject"]
    assert f"CN={MAIL_HOST}" in subject


def test_certificate_checked_against_ip(starttls_server, cafile):
    result = probe("127.0.0.1", port=starttls_server.port, tls="starttls", cafile=cafile, timeout=2)
    assert result.dns is None
    assert result.ok


def test_connection_refused(closed_port, dns_server, cafile):
    result = run(closed_port, dns_server, cafile)
    failure = result.attempts[0].failure
    assert failure.stage is Stage.CONNECT
    assert failure.cause is Cause.CONNECT_REFUSED
    assert len(result.attempts) == 1
    assert result.verdict.startswith("DNS ok, TCP failed: connection refused")


def test_connect_timeout(full_backlog, dns_server, cafile):
    result = run(full_backlog, dns_server, cafile, timeout=0.5)
    failure = result.attempts[0].failure
    if failure.cause is Cause.CONNECT_REFUSED:
        pytest.skip("this kernel answers a full listen queue with a reset, so no connect times out on loopback")
    assert failure.stage is Stage.CONNECT
    assert failure.cause is Cause.CONNECT_TIMEOUT
    assert failure.ms >= 450


def test_server_never_greets(silent_server, dns_server, cafile):
    result = run(silent_server.port, dns_server, cafile, tls="starttls", timeout=0.5)
    first, check = result.attempts
    assert first.failure.stage is Stage.GREETING
    assert first.failure.cause is Cause.READ_TIMEOUT
    assert check.failure.stage is Stage.TLS  # the implicit-TLS check got no handshake either
    assert "sent no greeting within 0.5 s" in result.verdict
    assert "an attempt with implicit TLS failed too, at TLS: no TLS handshake reply" in result.verdict


def test_server_hangs_up(hang_up_server, dns_server, cafile):
    result = run(hang_up_server.port, dns_server, cafile, tls="starttls")
    first, check = result.attempts
    assert first.failure.stage is Stage.GREETING
    assert first.failure.cause is Cause.SERVER_DISCONNECTED
    assert "closed the connection before its greeting" in first.failure.detail
    assert check.failure.stage is Stage.TLS
    assert not result.ok


def test_one_attempt_per_address(starttls_server, dns_server, cafile):
    result = probe("dual.probe.test", port=starttls_server.port, nameserver=dns_server.address, cafile=cafile,
                   tls="starttls", timeout=2)
    by_ip = {attempt.ip: attempt for attempt in result.attempts}
    assert set(by_ip) == {"::1", "127.0.0.1"}
    assert by_ip["::1"].failure.stage is Stage.CONNECT  # the server listens on IPv4 only
    assert by_ip["127.0.0.1"].failure.cause is Cause.CERTIFICATE_INVALID  # not issued for dual.probe.test
    assert len(result.verdict.splitlines()) == 2

"""The probe's decisions, on plain values: no sockets in this file."""

from __future__ import annotations

import base64
import errno
import json
from datetime import datetime, timezone

import pytest

from smtplogkit.labels import Cause, Stage, TlsMode
from smtplogkit.probe import verdict
from smtplogkit.probe.model import FAILED, OK, SKIPPED, Attempt, ProbeResult, Step, scrub, secret_forms

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def step(stage, status=OK, cause=None, detail="", transcript=(), **facts):
    return Step(stage, status, NOW, 1.0, detail or f"{stage.value} {status}", cause, list(transcript), facts)


def attempt(mode, *steps, ip="192.0.2.1", port=587, mode_check=False):
    return Attempt(1, ip, port, mode, list(steps), mode_check=mode_check)


def result(tls, *attempts, dns=None, port=587):
    probe_result = ProbeResult("p1", "mail.example.test", port, tls, None, NOW, dns=dns, attempts=list(attempts))
    return probe_result


def test_capabilities_parsed():
    lines = ["250-mail.example.test", "250-PIPELINING", "250-SIZE 35882577", "250-AUTH LOGIN PLAIN XOAUTH2",
             "250-AUTH=LOGIN", "250-STARTTLS", "250 SMTPUTF8"]
    capabilities = verdict.parse_capabilities(lines)
    assert capabilities["AUTH"] == ["LOGIN", "PLAIN", "XOAUTH2"]
    assert capabilities["SIZE"] == ["35882577"]
    assert "STARTTLS" in capabilities
    assert "PIPELINING" in capabilities
    assert "SMTPUTF8" in capabilities
    assert "mail.example.test" not in capabilities


def test_capabilities_description():
    text = verdict.describe_capabilities({"AUTH": ["PLAIN"], "STARTTLS": [], "X-UNKNOWN": []})
    assert text == "STARTTLS, AUTH PLAIN"
    assert verdict.describe_capabilities({}) == "no extensions"


@pytest.mark.parametrize(("kind", "cause"), [
    ("nxdomain", Cause.DNS_NXDOMAIN),
    ("no_answer", Cause.DNS_NXDOMAIN),
    ("servfail", Cause.DNS_FAILURE),
    ("refused", Cause.DNS_FAILURE),
    ("timeout", Cause.DNS_FAILURE),
])
def test_dns_failure_causes(kind, cause):
    got, detail = verdict.dns_failure(kind, "mail.example.test", "192.0.2.53:53", 2.0)
    assert got is cause
    assert "mail.example.test" in detail or "192.0.2.53" in detail


def test_dns_failures_worded_apart():
    texts = {kind: verdict.dns_failure(kind, "x.test", "192.0.2.53:53", 2.0)[1]
             for kind in ("nxdomain", "no_answer", "servfail", "timeout")}
    assert len(set(texts.values())) == 4
    assert "NXDOMAIN" in texts["nxdomain"]
    assert "SERVFAIL" in texts["servfail"]
    assert "2 s" in texts["timeout"]


@pytest.mark.parametrize(("number", "timed_out", "cause"), [
    (errno.ECONNREFUSED, False, Cause.CONNECT_REFUSED),
    (None, True, Cause.CONNECT_TIMEOUT),
    (errno.ETIMEDOUT, False, Cause.CONNECT_TIMEOUT),
    (errno.ENETUNREACH, False, Cause.NETWORK_UNREACHABLE),
    (errno.EHOSTUNREACH, False, Cause.NETWORK_UNREACHABLE),
    (errno.EADDRNOTAVAIL, False, Cause.NETWORK_UNREACHABLE),
    (errno.ECONNRESET, False, Cause.CONNECTION_RESET),
])
def test_connect_failure_causes(number, timed_out, cause):
    got, detail = verdict.connect_failure(number, timed_out, "192.0.2.1", 587, 5.0)
    assert got is cause
    assert "192.0.2.1" in detail


@pytest.mark.parametrize(("reason", "code", "cause"), [
    ("WRONG_VERSION_NUMBER", None, Cause.TLS_MODE_MISMATCH),
    ("RECORD_LAYER_FAILURE", None, Cause.TLS_MODE_MISMATCH),
    ("CERTIFICATE_VERIFY_FAILED", 62, Cause.CERTIFICATE_INVALID),
    ("CERTIFICATE_VERIFY_FAILED", 20, Cause.CERTIFICATE_INVALID),
    ("CERTIFICATE_VERIFY_FAILED", 10, Cause.CERTIFICATE_INVALID),
    ("TLSV1_ALERT_PROTOCOL_VERSION", None, Cause.TLS_HANDSHAKE_FAILURE),
    ("SOMETHING_NEW", None, Cause.TLS_HANDSHAKE_FAILURE),
])
def test_tls_failure_causes(reason, code, cause):
    got, _ = verdict.tls_failure(reason, code, "verify failed", server_name="mail.example.test")
    assert got is cause


def test_tls_hostname_mismatch_names_host():
    _, detail = verdict.tls_failure("CERTIFICATE_VERIFY_FAILED", 62, "Hostname mismatch", server_name="mx.test")
    assert detail == "the certificate is not valid for mx.test"


def test_invalid_certificate_description():
    detail = verdict.describe_invalid_certificate("not valid", {"san": ["other.test"], "issuer": "CN=Test CA",
                                                                "not_after": "2030-01-01T00:00:00+00:00"})
    assert "it names other.test" in detail
    assert "issuer CN=Test CA" in detail
    assert verdict.describe_invalid_certificate("not valid", {}) == "not valid"


def test_certificate_expiry_warning():
    soon = {"not_after_ts": NOW.timestamp() + 3 * 86400, "not_after": "soon"}
    later = {"not_after_ts": NOW.timestamp() + 90 * 86400, "not_after": "later"}
    assert verdict.certificate_warnings(soon, NOW.timestamp()) == ["the server certificate expires in 3 days (soon)"]
    assert verdict.certificate_warnings(later, NOW.timestamp()) == []
    assert verdict.certificate_warnings({}, NOW.timestamp()) == []


@pytest.mark.parametrize(("requested", "port", "mode"), [
    ("auto", 465, TlsMode.IMPLICIT),
    ("auto", 587, TlsMode.STARTTLS),
    ("auto", 25, TlsMode.STARTTLS),
    ("auto", 2525, TlsMode.STARTTLS),
    ("implicit", 587, TlsMode.IMPLICIT),
    ("none", 465, TlsMode.NONE),
])
def test_first_mode(requested, port, mode):
    assert verdict.first_mode(requested, port) is mode


def test_other_mode():
    assert verdict.other_mode(TlsMode.IMPLICIT) is TlsMode.STARTTLS
    assert verdict.other_mode(TlsMode.STARTTLS) is TlsMode.IMPLICIT
    assert verdict.other_mode(TlsMode.NONE) is TlsMode.IMPLICIT


def test_plaintext_answer_points_to_starttls():
    tried = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT),
                    step(Stage.TLS, FAILED, Cause.TLS_MODE_MISMATCH))
    assert verdict.points_to_other_mode(tried)


def test_closed_handshake_points_to_starttls():
    tried = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT),
                    step(Stage.TLS, FAILED, Cause.TLS_HANDSHAKE_FAILURE, ssl_reason="UNEXPECTED_EOF_WHILE_READING"))
    assert verdict.points_to_other_mode(tried)
    no_cipher = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT),
                        step(Stage.TLS, FAILED, Cause.TLS_HANDSHAKE_FAILURE, ssl_reason="NO_SHARED_CIPHER"))
    assert not verdict.points_to_other_mode(no_cipher)


def test_missing_greeting_points_to_implicit():
    tried = attempt(TlsMode.STARTTLS, step(Stage.CONNECT),
                    step(Stage.GREETING, FAILED, Cause.READ_TIMEOUT))
    assert verdict.points_to_other_mode(tried)


def test_refused_greeting_is_no_mode_signal():
    refused = attempt(TlsMode.STARTTLS, step(Stage.CONNECT),
                      step(Stage.GREETING, FAILED, Cause.SERVER_UNAVAILABLE,
                           transcript=[("S", "421 4.3.2 Service not available")]))
    assert not verdict.points_to_other_mode(refused)


def test_bad_certificate_is_no_mode_signal():
    tried = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT), step(Stage.TLS, FAILED, Cause.CERTIFICATE_INVALID))
    assert not verdict.points_to_other_mode(tried)


def test_success_is_no_mode_signal():
    assert not verdict.points_to_other_mode(attempt(TlsMode.STARTTLS, step(Stage.CONNECT)))


def test_mode_check_confirms_implicit():
    check = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT), step(Stage.TLS),
                    step(Stage.GREETING, transcript=[("S", "220 hi")]), mode_check=True)
    assert verdict.mode_check_confirms(check)
    failed = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT), step(Stage.TLS, FAILED, Cause.TLS_HANDSHAKE_FAILURE),
                     mode_check=True)
    assert not verdict.mode_check_confirms(failed)


def test_failed_check_note():
    check = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT),
                    step(Stage.TLS, FAILED, Cause.TLS_HANDSHAKE_FAILURE, "no reply"), mode_check=True)
    assert verdict.failed_check_note(check) == "an attempt with implicit TLS failed too, at TLS: no reply"


def test_spoken_mode_from_capabilities():
    with_starttls = attempt(TlsMode.STARTTLS, step(Stage.CONNECT), step(Stage.GREETING, transcript=[("S", "220 hi")]),
                            step(Stage.EHLO, capabilities={"STARTTLS": []}))
    plain = attempt(TlsMode.STARTTLS, step(Stage.CONNECT), step(Stage.GREETING, transcript=[("S", "220 hi")]),
                    step(Stage.EHLO, capabilities={"AUTH": ["PLAIN"]}))
    assert verdict.spoken_mode(with_starttls) is TlsMode.STARTTLS
    assert verdict.spoken_mode(plain) is TlsMode.NONE
    assert verdict.spoken_mode(attempt(TlsMode.STARTTLS, step(Stage.CONNECT, FAILED))) is None


def test_mode_warnings():
    assert "registered for implicit TLS" in verdict.mode_warnings(TlsMode.STARTTLS, 465, "auto")[0]
    assert "no STARTTLS" in verdict.mode_warnings(TlsMode.NONE, 587, "auto")[0]
    assert "--tls none" in verdict.mode_warnings(TlsMode.STARTTLS, 587, "none")[0]
    assert verdict.mode_warnings(TlsMode.STARTTLS, 587, "auto") == []
    assert verdict.mode_warnings(TlsMode.IMPLICIT, 2465, "auto") == []


def test_auth_refused_in_plaintext():
    assert verdict.auth_block_reason(encrypted=False, allow_plaintext=False).startswith("credentials not sent")
    assert verdict.auth_block_reason(encrypted=False, allow_plaintext=True) is None
    assert verdict.auth_block_reason(encrypted=True, allow_plaintext=False) is None


def test_mechanism_choice():
    assert verdict.choose_mechanism("password", ["LOGIN", "PLAIN"]) == "PLAIN"
    assert verdict.choose_mechanism("password", ["LOGIN", "XOAUTH2"]) == "LOGIN"
    assert verdict.choose_mechanism("password", ["XOAUTH2"]) is None
    assert verdict.choose_mechanism("xoauth2", ["PLAIN", "XOAUTH2"]) == "XOAUTH2"
    assert verdict.choose_mechanism("xoauth2", ["PLAIN"]) is None


def test_oauth_error_decoded():
    document = {"status": "401", "schemes": "Bearer"}
    challenge = "334 " + base64.b64encode(json.dumps(document).encode()).decode()
    assert json.loads(verdict.oauth_error(challenge)) == document
    assert verdict.oauth_error("334 VXNlcm5hbWU6") is None
    assert verdict.oauth_error("535 5.7.8 no") is None


@pytest.mark.parametrize(("stage", "lines", "mechanism", "cause"), [
    (Stage.AUTH, ["535 5.7.8 Username and Password not accepted"], "PLAIN", Cause.AUTH_FAILED),
    (Stage.AUTH, ["534-5.7.9 Application-specific password required."], "PLAIN", Cause.APP_PASSWORD_REQUIRED),
    (Stage.AUTH, ["535 5.7.8 Username and Password not accepted"], "XOAUTH2", Cause.OAUTH_TOKEN_INVALID),
    (Stage.GREETING, ["554 5.7.1 Service unavailable; client host blocked using Spamhaus"], None,
     Cause.REPUTATION_BLOCKED),
    (Stage.EHLO, ["421 4.7.0 Too many connections, try again later"], None, Cause.RATE_LIMITED),
    (Stage.STARTTLS, ["454 4.7.0 TLS not available due to local problem"], None, Cause.STARTTLS_UNAVAILABLE),
])
def test_reply_failure_uses_rules(stage, lines, mechanism, cause):
    assert verdict.reply_failure(stage, lines, mechanism=mechanism) is cause


def test_burst_needs_confirmation():
    with pytest.raises(ValueError, match="--i-own-this-server"):
        verdict.check_burst(5, 10, confirmed=False)


@pytest.mark.parametrize(("sessions", "rate"), [
    (0, 10), (verdict.BURST_MAX_SESSIONS + 1, 10), (5, 0), (5, verdict.BURST_MAX_RATE_PER_MINUTE + 1),
])
def test_burst_limits(sessions, rate):
    with pytest.raises(ValueError):
        verdict.check_burst(sessions, rate, confirmed=True)


def test_burst_offsets():
    assert verdict.burst_offsets(4, 30) == [0.0, 2.0, 4.0, 6.0]


def test_throttle_onset():
    good = attempt(TlsMode.NONE, step(Stage.CONNECT), step(Stage.EHLO))
    throttled = attempt(TlsMode.NONE, step(Stage.CONNECT),
                        step(Stage.EHLO, FAILED, Cause.RATE_LIMITED, "421 4.7.0 slow down"))
    text = verdict.throttle_onset([good, good, throttled, throttled])
    assert text.startswith("session 3 of 4 failed first, at EHLO")
    assert "rate_limited" in text
    assert "2 sessions before it succeeded" in text
    assert verdict.throttle_onset([good, good]).startswith("all 2 sessions succeeded")


def test_verdict_layers_until_failure():
    tried = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT),
                    step(Stage.TLS, FAILED, Cause.TLS_MODE_MISMATCH,
                         "the server speaks STARTTLS on 587, use starttls"),
                    step(Stage.GREETING))
    text = verdict.layered_verdict(result("implicit", tried, dns=step(Stage.DNS)))
    assert text == "DNS ok, TCP ok, TLS failed: the server speaks STARTTLS on 587, use starttls"


def test_verdict_dns_failure_alone():
    dns = step(Stage.DNS, FAILED, Cause.DNS_NXDOMAIN, "x.test does not exist")
    assert verdict.layered_verdict(result("auto", dns=dns)) == "DNS failed: x.test does not exist"


def test_verdict_per_address_when_different():
    refused = attempt(TlsMode.STARTTLS, step(Stage.CONNECT, FAILED, Cause.CONNECT_REFUSED, "refused"), ip="::1")
    good = attempt(TlsMode.STARTTLS, step(Stage.CONNECT), ip="127.0.0.1")
    lines = verdict.layered_verdict(result("starttls", refused, good)).splitlines()
    assert lines == ["::1: TCP failed: refused", "127.0.0.1: TCP ok"]


def test_verdict_same_outcome_shared():
    first = attempt(TlsMode.STARTTLS, step(Stage.CONNECT, FAILED, Cause.CONNECT_TIMEOUT, "timed out"), ip="192.0.2.1")
    second = attempt(TlsMode.STARTTLS, step(Stage.CONNECT, FAILED, Cause.CONNECT_TIMEOUT, "timed out"), ip="192.0.2.2")
    assert verdict.layered_verdict(result("starttls", first, second)) == "TCP failed: timed out"


def test_auto_verdict_uses_confirmed_check():
    first = attempt(TlsMode.STARTTLS, step(Stage.CONNECT), step(Stage.GREETING, FAILED, Cause.TLS_MODE_MISMATCH))
    check = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT), step(Stage.TLS),
                    step(Stage.GREETING, transcript=[("S", "220 hi")]), mode_check=True)
    probe_result = result("auto", first, check)
    assert verdict.chosen_attempts(probe_result) == [check]
    assert verdict.layered_verdict(probe_result) == "TCP ok, TLS ok, greeting ok (implicit TLS)"
    assert probe_result.ok


def test_explicit_mode_judged_by_its_attempt():
    first = attempt(TlsMode.STARTTLS, step(Stage.CONNECT), step(Stage.GREETING, FAILED, Cause.TLS_MODE_MISMATCH))
    check = attempt(TlsMode.IMPLICIT, step(Stage.CONNECT), step(Stage.TLS),
                    step(Stage.GREETING, transcript=[("S", "220 hi")]), mode_check=True)
    probe_result = result("starttls", first, check)
    assert verdict.chosen_attempts(probe_result) == [first]
    assert not probe_result.ok


def test_skipped_auth_is_not_ok():
    skipped = attempt(TlsMode.NONE, step(Stage.CONNECT), step(Stage.AUTH, SKIPPED, detail="not encrypted"))
    probe_result = result("none", skipped)
    assert not probe_result.ok
    assert verdict.layered_verdict(probe_result) == "TCP ok, AUTH skipped: not encrypted"


def test_scrub_removes_secret_forms():
    secret = "Tr0ub4dor&3-horse"
    payload = base64.b64encode(b"\0alice\0" + secret.encode()).decode()
    record = {"detail": f"sent {secret}", "transcript": [["C", f"AUTH PLAIN {payload}"]],
              "facts": {"raw": base64.b64encode(secret.encode()).decode()}}
    cleaned = scrub(record, secret_forms(secret))
    text = json.dumps(cleaned)
    assert secret not in text
    assert payload not in text
    assert base64.b64encode(secret.encode()).decode() not in text

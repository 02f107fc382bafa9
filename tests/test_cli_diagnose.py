"""``smtplogkit diagnose`` on logs written by real smtplib clients against a throttling aiosmtpd server."""

from __future__ import annotations

import contextlib
import json
import smtplib
import socket
import subprocess
import sys
import time
import warnings
from collections import defaultdict, deque
from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from smtplogkit.findings import MIN_SESSIONS

LIMIT = 20  # messages per identity per minute before the server throttles
CASES = Path(__file__).parent / "cases"


class ThrottlingHandler:
    """Accept mail, but throttle an identity's MAIL FROM beyond LIMIT per minute like a provider does."""

    def __init__(self) -> None:
        self.sent: dict[str, deque] = defaultdict(deque)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        login = session.auth_data.login.decode() if session.auth_data else "anonymous"
        now = time.monotonic()
        recent = self.sent[login]
        recent.append(now)
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) > LIMIT:
            return "421 4.7.0 Try again later, closing connection."
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 OK queued"


def _authenticate(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=isinstance(auth_data, LoginPassword))


def _free_port() -> int:
    # aiosmtpd's Controller checks readiness by connecting to its port, so port 0 cannot be used.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def smtp_server():
    controller = Controller(ThrottlingHandler(), hostname="127.0.0.1", port=_free_port(), authenticator=_authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield controller.hostname, controller.port
    finally:
        controller.stop()


def _send(log: Path, host: str, port: int, user: str, count: int) -> None:
    """Send ``count`` messages, one connection each, with smtplib's debug output appended to ``log``."""
    with log.open("a", encoding="utf-8") as handle, contextlib.redirect_stderr(handle), warnings.catch_warnings():
        # aiosmtpd warns about its own deprecated attribute on the shared stderr; keep it out of the client log.
        warnings.simplefilter("ignore", DeprecationWarning)
        for _ in range(count):
            try:
                with smtplib.SMTP(timeout=5) as client:
                    client.set_debuglevel(2)
                    client.connect(host, port)
                    client.ehlo("client.test")
                    client.login(user, "not-a-real-secret")
                    client.sendmail(user, ["rcpt@example.org"], b"Subject: test\r\n\r\nhello\r\n")
            except smtplib.SMTPException as error:
                handle.write(f"{type(error).__name__}: {error}\n")  # as the application would log it


def _diagnose(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smtplogkit", "diagnose", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_finds_throttle(tmp_path, smtp_server):
    host, port = smtp_server
    today = date.today().isoformat()
    (tmp_path / "office").mkdir()
    (tmp_path / "dc1").mkdir()
    _send(tmp_path / "office" / f"worker-{today}.log", host, port, "bulk@example.com", 3 * LIMIT)
    _send(tmp_path / "dc1" / f"worker-{today}.log", host, port, "calm@example.com", LIMIT // 2)

    run = _diagnose(str(tmp_path / "{network}" / "*.log"), "--json")
    assert run.returncode == 0, run.stderr
    findings = json.loads(run.stdout)
    assert [f["kind"] for f in findings] == ["rate_limit"]
    finding = findings[0]
    assert finding["scope"]["identities"] == ["bulk@example.com"]
    assert finding["scope"]["networks"] == ["office"]
    assert finding["threshold"]["per_minute"] == pytest.approx(LIMIT, rel=0.1)
    assert finding["evidence"]["failures"] == 2 * LIMIT
    assert "421 4.7.0" in finding["evidence"]["reply_codes"]
    assert "not-a-real-secret" not in run.stdout


def test_cli_text_output(tmp_path, smtp_server):
    host, port = smtp_server
    log = tmp_path / f"worker-{date.today().isoformat()}.log"
    _send(log, host, port, "bulk@example.com", 2 * LIMIT)
    run = _diagnose(str(log), "--label", "network=prod")
    assert run.returncode == 0, run.stderr
    assert "rate_limit (confidence" in run.stdout
    assert "networks prod" in run.stdout
    assert "next step:" in run.stdout


def test_cli_healthy_log(tmp_path, smtp_server):
    host, port = smtp_server
    log = tmp_path / f"worker-{date.today().isoformat()}.log"
    _send(log, host, port, "calm@example.com", LIMIT // 2)
    run = _diagnose(str(log), "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == []


def test_real_cases_respect_minimum():
    run = _diagnose(str(CASES), "--json")
    assert run.returncode == 0, run.stderr
    for finding in json.loads(run.stdout):
        assert finding["evidence"]["failures"] >= MIN_SESSIONS[finding["kind"]]


def test_cli_reads_smtplib_refreshes():
    """The CLI takes token ages from the refresh lines the smtplib parser keeps as notes."""
    run = _diagnose("--json")
    assert run.returncode == 0, run.stderr
    findings = json.loads(run.stdout)
    expiry = [finding for finding in findings if finding["kind"] == "token_expiry"]
    assert expiry
    assert expiry[0]["evidence"]["token_age_basis"] == "refresh_events"
    assert "stated_lifetime_s" in expiry[0]["evidence"]

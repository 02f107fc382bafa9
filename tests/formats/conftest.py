"""Helpers for the format tests: parse an excerpt, run a real SMTP server on loopback."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import smtplogkit


def parse_excerpt(tmp_path: Path, text: str, format: str = "auto", name: str = "excerpt.log"):
    """Write ``text`` to a file and read it as a user would; return the frame and the file report."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    frame = smtplogkit.read_logs(path, format=format)
    return frame, frame.attrs["files"][0]


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RejectingHandler:
    """An aiosmtpd handler that rejects recipients whose local part starts with ``nobody``."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued"


def _reject_all(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=False, handled=False)


@pytest.fixture
def smtp_server():
    """Start an aiosmtpd server on 127.0.0.1 that offers AUTH without TLS and rejects every login."""
    controller = Controller(RejectingHandler(), hostname="127.0.0.1", port=free_port(),
                            authenticator=_reject_all, auth_require_tls=False)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def starttls_server():
    """Start an aiosmtpd server on 127.0.0.1 that offers STARTTLS and demands it before MAIL FROM."""
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    controller = Controller(RejectingHandler(), hostname="127.0.0.1", port=free_port(), require_starttls=True,
                            tls_context=context)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
def silent_server():
    """Listen on 127.0.0.1 and accept connections without ever sending a greeting."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    yield listener.getsockname()[1]
    listener.close()


def run_python(script: str, timeout: float = 30) -> str:
    """Run a Python script in a fresh interpreter and return what it wrote to stderr."""
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                         timeout=timeout, check=False)
    assert run.returncode != 0, f"the script was expected to fail, but it printed: {run.stdout}{run.stderr}"
    return run.stderr


def rows(frame) -> list[dict]:
    """Return the frame's rows as dicts, with missing values as ``None``."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def labels(row: dict) -> tuple:
    """Return a row's (failure_stage, cause, reply_code, enhanced_code)."""
    code = row["reply_code"]
    return row["failure_stage"], row["cause"], int(code) if code is not None else None, row["enhanced_code"]

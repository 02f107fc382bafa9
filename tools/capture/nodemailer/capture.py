"""Capture real nodemailer log output against local aiosmtpd servers.

Each scenario starts the servers it needs on 127.0.0.1, runs ``send.js``
(nodemailer with ``logger: true, debug: true``) and saves what nodemailer
printed on stdout and stderr, in the order printed, to
``tests/captures/nodemailer/<scenario>.log``.  The labels each log must get
are written next to them in ``expected.jsonl``.

The script runs itself inside a new network namespace (``unshare -rn``), so
the servers can listen on the real submission ports (25, 465, 587) without
clashing with anything on the host, and no packet can leave the machine.

Usage::

    cd tools/capture/nodemailer && npm install
    ../../../.venv/bin/python capture.py            # all scenarios
    ../../../.venv/bin/python capture.py success    # some of them
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[2] / "tests" / "captures" / "nodemailer"
HOST = "127.0.0.1"
USER = "capture-user@example.com"
PASSWORD = "c4pture-Secret-pw!"  # fake; the tests check it never reaches a DataFrame
ACCESS_TOKEN = "ya29.a0AfB_byCaptureFakeToken0123456789abcdefGHIJKLmnop"  # fake, same reason


@dataclass
class Scenario:
    """One nodemailer run and the session labels its log must get."""

    name: str
    server: str  # "starttls", "implicit", "plain", "silent" or "none"
    port: int
    transport: dict[str, Any]
    expected: list[dict[str, Any]]  # one dict of column values per session; the logs give no port for a TLS failure before "Connection established"
    messages: int = 1
    to: str = "rcpt@example.com"
    trust_ca: bool = True
    server_options: dict[str, Any] = field(default_factory=dict)


def _fail(stage: str, cause: str, code: int | None = None, enhanced: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"failure_stage": stage, "cause": cause, "reply_code": code, "enhanced_code": enhanced, **extra}


OK = {"failure_stage": "none", "cause": "ok", "reply_code": None, "enhanced_code": None}
LOGIN = {"user": USER, "pass": PASSWORD}

SCENARIOS = [
    Scenario("success", "starttls", 587, {"host": HOST, "port": 587, "auth": LOGIN},
             [{**OK, "port": 587, "tls_mode": "starttls", "identity": USER, "messages_sent": 1}]),
    Scenario("connect-refused", "none", 2525, {"host": HOST, "port": 2525},
             [_fail("connect", "connect_refused", port=2525)]),
    Scenario("implicit-tls-to-starttls-port", "starttls", 587, {"host": HOST, "port": 587, "secure": True},
             [_fail("tls", "tls_mode_mismatch", tls_mode="implicit")]),
    Scenario("plain-to-implicit-tls-port", "implicit", 465,
             {"host": HOST, "port": 465, "secure": False, "greetingTimeout": 1500},
             [_fail("greeting", "tls_mode_mismatch", port=465)]),
    Scenario("untrusted-certificate", "implicit", 465, {"host": HOST, "port": 465, "secure": True},
             [_fail("tls", "certificate_invalid", tls_mode="implicit")], trust_ca=False),
    Scenario("auth-535", "starttls", 587, {"host": HOST, "port": 587, "auth": LOGIN},
             [_fail("auth", "auth_failed", 535, "5.7.8", identity=USER)],
             server_options={"auth_rejection": "535 5.7.8 Username and Password not accepted"}),
    Scenario("auth-534-app-password", "starttls", 587, {"host": HOST, "port": 587, "auth": LOGIN},
             [_fail("auth", "app_password_required", 534, "5.7.9", identity=USER)],
             server_options={"auth_rejection": "534 5.7.9 Application-specific password required"}),
    Scenario("xoauth2-rejected", "starttls", 587,
             {"host": HOST, "port": 587, "auth": {"type": "OAuth2", "user": USER, "accessToken": ACCESS_TOKEN}},
             [_fail("auth", "oauth_token_invalid", 535, "5.7.8", identity=USER)],
             server_options={"xoauth2": True}),
    Scenario("rate-limit-421", "plain", 25, {"host": HOST, "port": 25, "ignoreTLS": True},
             [{**OK, "messages_sent": 1}, {**OK, "messages_sent": 1},
              _fail("mail_from", "rate_limited", 421, "4.7.0")],
             messages=3, server_options={"mail_limit": 2}),
    Scenario("greylisted-451", "plain", 25, {"host": HOST, "port": 25, "ignoreTLS": True},
             [_fail("rcpt_to", "greylisted", 451, "4.7.1")],
             server_options={"rcpt_reply": "451 4.7.1 Greylisted, please retry in 300 seconds"}),
    Scenario("recipient-550", "plain", 25, {"host": HOST, "port": 25, "ignoreTLS": True},
             [_fail("rcpt_to", "recipient_rejected", 550, "5.1.1")],
             to="nobody@example.com",
             server_options={"rcpt_reply": "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"}),
    Scenario("no-greeting", "silent", 25, {"host": HOST, "port": 25, "greetingTimeout": 1500},
             [_fail("greeting", "read_timeout", port=25)]),
]


class Handler:
    """aiosmtpd handler whose replies the scenario chooses."""

    # aiosmtpd offers an AUTH mechanism for every handler attribute named
    # auth_<MECHANISM>, so no other attribute may start with "auth_".

    def __init__(self, mail_limit: int | None = None, rcpt_reply: str | None = None,
                 auth_rejection: str | None = None) -> None:
        self.mail_limit = mail_limit
        self.rcpt_reply = rcpt_reply
        self.rejected_auth_reply = auth_rejection
        self.transactions = 0

    async def handle_MAIL(self, server, session, envelope, address, options):
        self.transactions += 1
        if self.mail_limit is not None and self.transactions > self.mail_limit:
            return "421 4.7.0 Try again later, closing connection."
        envelope.mail_from = address
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued"


class OAuthHandler(Handler):
    """Handler that offers XOAUTH2 and rejects every token the way Gmail does."""

    async def auth_XOAUTH2(self, server, args):  # noqa: N802 - aiosmtpd finds AUTH mechanisms by this name
        from aiosmtpd.smtp import AuthResult

        error = {"status": "400", "schemes": "Bearer", "scope": "https://mail.google.com/"}
        await server.challenge_auth(json.dumps(error).encode())
        return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")


def _authenticator(handler: Handler):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def check(server, session, envelope, mechanism, auth_data):
        if handler.rejected_auth_reply:
            return AuthResult(success=False, handled=False, message=handler.rejected_auth_reply)
        good = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == PASSWORD
        return AuthResult(success=good)

    return check


class Silent:
    """A TCP listener that accepts connections and never sends a byte."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_server((HOST, port))
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def stop(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def _start_server(scenario: Scenario, certs: dict[str, Any]):
    if scenario.server == "none":
        return None
    if scenario.server == "silent":
        return Silent(scenario.port)

    from aiosmtpd.controller import Controller

    options = dict(scenario.server_options)
    handler = OAuthHandler(**options) if options.pop("xoauth2", False) else Handler(**options)
    kwargs: dict[str, Any] = {"hostname": HOST, "port": scenario.port, "ready_timeout": 10,
                              "authenticator": _authenticator(handler), "auth_require_tls": True}
    if scenario.server == "starttls":
        kwargs["tls_context"] = certs["server"]
    elif scenario.server == "implicit":
        kwargs["ssl_context"] = certs["server"]
        kwargs["auth_require_tls"] = False
    controller = Controller(handler, server_hostname="mail.example.test", **kwargs)
    controller.start()
    return controller


def _certificates(folder: Path) -> dict[str, Any]:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert(HOST, "localhost", "mail.example.test")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return {"server": server, "ca_file": str(ca_file)}


def run(scenario: Scenario, certs: dict[str, Any]) -> str:
    """Run one scenario and return what nodemailer printed."""
    server = _start_server(scenario, certs)
    try:
        options = {"transport": scenario.transport, "messages": scenario.messages, "to": scenario.to}
        if scenario.trust_ca:
            options["caFile"] = certs["ca_file"]
        done = subprocess.run(["node", str(HERE / "send.js"), json.dumps(options)], cwd=HERE,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60, check=False)
        # Stack frames name the folder this script ran in; a fixed one keeps the fixtures stable.
        return done.stdout.replace(str(HERE), "/srv/app")
    finally:
        if server is not None:
            server.stop()
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="scenarios to run (default: all)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder for the logs and expected.jsonl (default {OUT})")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    unknown = set(args.names) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}; known: {', '.join(s.name for s in SCENARIOS)}")
    if not args.inside:
        # Re-run inside a private network namespace with only loopback up.
        command = (f"ip link set lo up && exec {shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))}"
                   f" --inside --out {shlex.quote(str(args.out))} {' '.join(args.names)}")
        return subprocess.run(["unshare", "-rn", "sh", "-c", command], check=False).returncode

    wanted = [s for s in SCENARIOS if not args.names or s.name in args.names]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nodemailer-capture-") as folder:
        certs = _certificates(Path(folder))
        for scenario in wanted:
            text = run(scenario, certs)
            (out / f"{scenario.name}.log").write_text(text)
            print(f"{scenario.name}: {len(text.splitlines())} lines")

    expected_file = out / "expected.jsonl"
    known = {}
    if expected_file.exists():
        for line in expected_file.read_text().splitlines():
            entry = json.loads(line)
            known[entry["file"]] = entry
    for scenario in wanted:
        known[f"{scenario.name}.log"] = {"file": f"{scenario.name}.log", "sessions": scenario.expected}
    order = [f"{s.name}.log" for s in SCENARIOS]
    lines = [json.dumps(known[name]) for name in order if name in known]
    expected_file.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    if shutil.which("node") is None:
        sys.exit("node is not installed; install Node.js 18 or newer first")
    sys.exit(main())

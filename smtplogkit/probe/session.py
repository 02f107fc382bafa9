"""One probe attempt on the wire: TCP connect, TLS, greeting, EHLO, STARTTLS, AUTH.

This module owns the sockets.  It records each step with its timing and
transcript and calls :mod:`smtplogkit.probe.verdict` to interpret each result.
Credentials are written to the socket only; every transcript entry that
would carry them is ``<redacted>``.
"""

from __future__ import annotations

import base64
import logging
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import replycodes as rc
from ..labels import Cause, Stage, TlsMode
from ..redact import REDACTED
from . import certs, verdict
from .model import FAILED, OK, SKIPPED, Attempt, Step

logger = logging.getLogger(__name__)

MAX_REPLY_BYTES = 64 * 1024  # RFC 5321 allows 512-byte lines; a reply this long is not SMTP


@dataclass(slots=True)
class Settings:
    """Settings shared by every attempt of one probe run.

    ``secret`` is the password or XOAUTH2 token; it is only ever written to
    the socket.  ``server_name`` is the name certificates are validated
    against (the host, or the MX exchange).
    """

    port: int
    server_name: str
    tls: str = "auto"
    timeout: float = 10.0
    ehlo_name: str = field(default_factory=socket.gethostname)
    cafile: str | None = None
    auth: str | None = None
    user: str | None = None
    secret: str | None = field(default=None, repr=False)
    allow_plaintext_auth: bool = False


class _ReadError(Exception):
    """A reply could not be read: ``kind`` is timeout, closed, reset or not_smtp."""

    def __init__(self, kind: str, text: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.text = text


class _Timer:
    def __init__(self) -> None:
        self.started = datetime.now(timezone.utc)
        self._clock = time.perf_counter()

    @property
    def ms(self) -> float:
        return (time.perf_counter() - self._clock) * 1000


def run_attempt(number: int, ip: str, settings: Settings, mode: TlsMode, *, mode_check: bool = False,
                burst_index: int | None = None) -> Attempt:
    """Connect to ``ip`` in TLS ``mode`` and run every step until one fails.

    A mode check (an attempt in the other TLS mode) stops after EHLO and
    never authenticates.
    """
    attempt = Attempt(number, ip, settings.port, mode, mode_check=mode_check, burst_index=burst_index)
    sock = _connect(attempt, settings)
    if sock is None:
        return attempt
    conversation = _Conversation(sock, attempt, settings)
    try:
        conversation.run(with_auth=not mode_check,
                         require_starttls=settings.tls == "starttls" and not mode_check)
    finally:
        conversation.close()
    return attempt


def _connect(attempt: Attempt, settings: Settings) -> socket.socket | None:
    family = socket.AF_INET6 if ":" in attempt.ip else socket.AF_INET
    timer = _Timer()
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(settings.timeout)
    try:
        sock.connect((attempt.ip, attempt.port))
    except (TimeoutError, OSError) as error:
        sock.close()
        timed_out = isinstance(error, TimeoutError) and error.errno is None
        cause, detail = verdict.connect_failure(error.errno, timed_out, attempt.ip, attempt.port, settings.timeout,
                                                error.strerror or str(error))
        attempt.steps.append(Step(Stage.CONNECT, FAILED, timer.started, timer.ms, detail, cause,
                                  facts={"errno": error.errno}))
        logger.info("connect to %s port %d failed: %s", attempt.ip, attempt.port, detail)
        return None
    local = sock.getsockname()
    attempt.steps.append(Step(Stage.CONNECT, OK, timer.started, timer.ms,
                              f"connected to {attempt.ip} port {attempt.port}",
                              facts={"local_address": f"{local[0]}:{local[1]}"}))
    return sock


class _Conversation:
    """The SMTP dialogue of one attempt, on a plain or TLS socket."""

    def __init__(self, sock: socket.socket, attempt: Attempt, settings: Settings) -> None:
        self.sock = sock
        self.attempt = attempt
        self.settings = settings
        self.buffer = b""
        self.encrypted = False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def run(self, *, with_auth: bool, require_starttls: bool) -> None:
        """Run the steps in protocol order, stopping at the first failure."""
        mode = self.attempt.tls_mode
        if mode is TlsMode.IMPLICIT and not self.handshake():
            return
        if not self.greeting():
            return
        capabilities = self.ehlo()
        if capabilities is None:
            return
        if mode is TlsMode.STARTTLS:
            if "STARTTLS" in capabilities:
                if not self.starttls() or not self.handshake():
                    return
                capabilities = self.ehlo()
                if capabilities is None:
                    return
            elif require_starttls:
                self._step(Stage.STARTTLS, FAILED, _Timer(), "the server does not offer STARTTLS in its EHLO reply",
                           Cause.STARTTLS_UNAVAILABLE)
                return
        if with_auth and self.settings.auth:
            self.authenticate(capabilities)
        self.quit()

    # Steps ---------------------------------------------------------------

    def handshake(self) -> bool:
        """Run the TLS step; return whether the connection is now encrypted and verified."""
        timer = _Timer()
        settings = self.settings
        context = _client_context(settings.cafile)
        try:
            tls_sock = context.wrap_socket(self.sock, server_hostname=settings.server_name)
        except ssl.SSLCertVerificationError as error:
            cause, detail = verdict.tls_failure(error.reason, error.verify_code, error.verify_message,
                                                server_name=settings.server_name)
            facts = {"verify_code": error.verify_code, "verify_message": error.verify_message, "verified": False}
            facts["certificate"] = inspect_certificate(self.attempt.ip, settings, self.attempt.tls_mode)
            detail = verdict.describe_invalid_certificate(detail, facts["certificate"])
            self._step(Stage.TLS, FAILED, timer, detail, cause, facts=facts)
            return False
        except ssl.SSLError as error:
            cause, detail = verdict.tls_failure(error.reason, None, str(error))
            self._step(Stage.TLS, FAILED, timer, detail, cause, facts={"ssl_reason": error.reason})
            return False
        except TimeoutError:
            cause, detail = verdict.tls_failure(None, None, "", timed_out=True, timeout=settings.timeout)
            self._step(Stage.TLS, FAILED, timer, detail, cause)
            return False
        except OSError as error:
            cause, detail = verdict.tls_failure(None, None, error.strerror or str(error))
            self._step(Stage.TLS, FAILED, timer, detail, cause, facts={"errno": error.errno})
            return False

        self.sock = tls_sock
        self.buffer = b""
        self.encrypted = True
        self._record_tls(tls_sock, timer)
        return True

    def _record_tls(self, tls_sock: ssl.SSLSocket, timer: _Timer) -> None:
        """Add the successful TLS step with the protocol, cipher and certificate."""
        server_name = self.settings.server_name
        cipher = tls_sock.cipher()
        certificate = certs.facts_from_dict(tls_sock.getpeercert() or {}, tls_sock.getpeercert(binary_form=True))
        facts: dict[str, Any] = {
            "version": tls_sock.version(),
            "cipher": cipher[0] if cipher else None,
            "bits": cipher[2] if cipher else None,
            "verified": True,
            "hostname_valid": True,
            "server_name": server_name,
            "certificate": certificate,
        }
        detail = (f"{facts['version']} {facts['cipher']}; certificate valid for {server_name} until "
                  f"{certificate.get('not_after', '?')}, subject {certificate.get('subject') or '-'}, "
                  f"issuer {certificate.get('issuer') or '-'}")
        self._step(Stage.TLS, OK, timer, detail, facts=facts)

    def greeting(self) -> bool:
        """Run the greeting step: read the server's first reply."""
        timer = _Timer()
        try:
            lines = self._read_reply()
        except _ReadError as error:
            cause, detail = verdict.read_failure(error.kind, Stage.GREETING, self.settings.timeout, error.text)
            self._step(Stage.GREETING, FAILED, timer, detail, cause)
            return False
        transcript = [("S", line) for line in lines]
        if _code(lines) != rc.SERVICE_READY:
            cause = verdict.reply_failure(Stage.GREETING, lines, port=self.settings.port)
            self._step(Stage.GREETING, FAILED, timer, f"the server refused the session: {' '.join(lines)}", cause,
                       transcript)
            return False
        self._step(Stage.GREETING, OK, timer, lines[0], transcript=transcript)
        return True

    def ehlo(self) -> dict[str, list[str]] | None:
        """Run an EHLO step and return the capabilities, or ``None`` when it failed."""
        lines = self._command(Stage.EHLO, f"EHLO {self.settings.ehlo_name}")
        if lines is None:
            return None
        capabilities = verdict.parse_capabilities(lines)
        step = self.attempt.steps[-1]
        upgraded = self.encrypted and self.attempt.tls_mode is TlsMode.STARTTLS
        step.facts.update(capabilities=capabilities, after_starttls=upgraded)
        step.detail = verdict.describe_capabilities(capabilities)
        return capabilities

    def starttls(self) -> bool:
        """Run the STARTTLS step: the command and its 220 reply."""
        return self._command(Stage.STARTTLS, "STARTTLS", expect=rc.SERVICE_READY) is not None

    def authenticate(self, capabilities: dict[str, list[str]]) -> None:
        """Run the AUTH step with the mechanism that fits the credentials."""
        settings = self.settings
        timer = _Timer()
        facts = {"identity": settings.user}
        block_reason = verdict.auth_block_reason(self.encrypted, settings.allow_plaintext_auth)
        if block_reason is not None:
            self._step(Stage.AUTH, SKIPPED, timer, block_reason, facts=facts)
            return

        offered = capabilities.get("AUTH", [])
        mechanism = verdict.choose_mechanism(settings.auth or "password", offered)
        if mechanism is None:
            detail = (f"the server offers AUTH {' '.join(offered)}, none of which fits {settings.auth}" if offered
                      else "the server does not offer AUTH on this connection")
            self._step(Stage.AUTH, FAILED, timer, detail, Cause.AUTH_MECHANISM_UNSUPPORTED, facts=facts)
            return

        facts["mechanism"] = mechanism
        try:
            transcript, lines = self._auth_exchange(mechanism)
        except _ReadError as error:
            cause, detail = verdict.read_failure(error.kind, Stage.AUTH, settings.timeout, error.text)
            self._step(Stage.AUTH, FAILED, timer, detail, cause, facts=facts)
            return
        if _code(lines) == rc.AUTH_SUCCEEDED:
            self._step(Stage.AUTH, OK, timer, f"{mechanism} as {settings.user}: {lines[-1]}", None, transcript, facts)
            return

        server_errors = (verdict.oauth_error(text) for side, text in transcript if side == "S")
        context = "\n".join(error for error in server_errors if error)
        cause = verdict.reply_failure(Stage.AUTH, lines, mechanism=mechanism, context=context, port=settings.port)
        detail = f"{mechanism} as {settings.user} rejected: {' '.join(lines)}"
        if context:
            detail += f" (server error {context})"
        self._step(Stage.AUTH, FAILED, timer, detail, cause, transcript, facts)

    def _auth_exchange(self, mechanism: str) -> tuple[list[tuple[str, str]], list[str]]:
        """Send the credentials and return the redacted transcript and the final reply."""
        user = (self.settings.user or "").encode()
        secret = (self.settings.secret or "").encode()
        transcript: list[tuple[str, str]] = []
        if mechanism == "PLAIN":
            payload = _b64(b"\0" + user + b"\0" + secret)
            lines = self._exchange(transcript, f"AUTH PLAIN {payload}", "AUTH PLAIN " + REDACTED)
        elif mechanism == "XOAUTH2":
            payload = _b64(b"user=" + user + b"\x01auth=Bearer " + secret + b"\x01\x01")
            lines = self._exchange(transcript, f"AUTH XOAUTH2 {payload}", "AUTH XOAUTH2 " + REDACTED)
            if _code(lines) == rc.AUTH_CHALLENGE:
                # The 334 reply carries a JSON error, and an empty line requests the final reply.
                lines = self._exchange(transcript, "", "")
        else:
            lines = self._exchange(transcript, "AUTH LOGIN", "AUTH LOGIN")
            if _code(lines) == rc.AUTH_CHALLENGE:
                lines = self._exchange(transcript, _b64(user), REDACTED)
            if _code(lines) == rc.AUTH_CHALLENGE:
                lines = self._exchange(transcript, _b64(secret), REDACTED)
        return transcript, lines

    def quit(self) -> None:
        """Send QUIT and read the reply, ignoring errors: every step that matters is done."""
        try:
            self._send("QUIT")
            self._read_reply()
        except (_ReadError, OSError):
            pass

    # Wire ------------------------------------------------------------------

    def _command(self, stage: Stage, command: str, expect: int = rc.OK) -> list[str] | None:
        timer = _Timer()
        transcript: list[tuple[str, str]] = []
        try:
            lines = self._exchange(transcript, command, command)
        except _ReadError as error:
            cause, detail = verdict.read_failure(error.kind, stage, self.settings.timeout, error.text)
            self._step(stage, FAILED, timer, detail, cause, transcript)
            return None
        if _code(lines) != expect:
            cause = verdict.reply_failure(stage, lines, port=self.settings.port)
            self._step(stage, FAILED, timer, " ".join(lines), cause, transcript)
            return None
        self._step(stage, OK, timer, lines[-1], None, transcript)
        return lines

    def _exchange(self, transcript: list[tuple[str, str]], command: str, shown: str) -> list[str]:
        transcript.append(("C", shown))
        try:
            self._send(command)
        except OSError as error:
            raise _ReadError("reset", error.strerror or str(error)) from error
        lines = self._read_reply()
        transcript.extend(("S", line) for line in lines)
        return lines

    def _send(self, command: str) -> None:
        self.sock.sendall(command.encode("utf-8") + b"\r\n")

    def _read_reply(self) -> list[str]:
        """Read one complete reply (all its lines) and return the lines."""
        lines = []
        while True:
            line = self._read_line()
            parts = rc.split_reply(line)
            if parts is None:
                raise _ReadError("not_smtp", line[:80])
            lines.append(line)
            if parts[1]:
                return lines

    def _read_line(self) -> str:
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_REPLY_BYTES:
                raise _ReadError("not_smtp", repr(self.buffer[:80]))
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError as error:
                raise _ReadError("timeout") from error
            except OSError as error:
                raise _ReadError("reset", error.strerror or str(error)) from error
            if not chunk:
                if self.buffer:
                    raise _ReadError("not_smtp", repr(self.buffer[:80]))
                raise _ReadError("closed")
            self.buffer += chunk
        raw, self.buffer = self.buffer.split(b"\n", 1)
        text = raw.rstrip(b"\r").decode("utf-8", "replace")
        if any(ord(char) < 32 and char != "\t" for char in text):
            raise _ReadError("not_smtp", repr(raw[:80]))
        return text

    def _step(self, stage: Stage, status: str, timer: _Timer, detail: str, cause: Cause | None = None,
              transcript: list[tuple[str, str]] | None = None, facts: dict[str, Any] | None = None) -> Step:
        step = Step(stage, status, timer.started, timer.ms, detail, cause, transcript or [], facts or {})
        self.attempt.steps.append(step)
        if status == FAILED:
            logger.info("%s port %d: %s failed: %s", self.attempt.ip, self.attempt.port, stage.value, detail)
        return step


def inspect_certificate(ip: str, settings: Settings, mode: TlsMode) -> dict[str, Any]:
    """Return the facts of a certificate that failed validation, read over a second connection.

    The failed handshake closed the first connection, so this one repeats it
    without validation just to read the certificate; nothing else is sent.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    probe_attempt = Attempt(0, ip, settings.port, mode)
    try:
        sock = socket.create_connection((ip, settings.port), timeout=settings.timeout)
    except OSError as error:
        return {"note": f"certificate not read: {error}"}
    conversation = _Conversation(sock, probe_attempt, settings)
    try:
        if mode is TlsMode.STARTTLS:
            conversation._read_reply()
            conversation._exchange([], f"EHLO {settings.ehlo_name}", "")
            conversation._exchange([], "STARTTLS", "")
        tls_sock = context.wrap_socket(conversation.sock, server_hostname=settings.server_name)
        conversation.sock = tls_sock
        der = tls_sock.getpeercert(binary_form=True)
    except (_ReadError, OSError) as error:
        return {"note": f"certificate not read: {error}"}
    finally:
        conversation.close()
    return certs.facts_from_der(der, settings.server_name) if der else {"note": "the server sent no certificate"}


def _client_context(cafile: str | None) -> ssl.SSLContext:
    """Return a context that validates like a careful mail client: system CAs, host name checked."""
    return ssl.create_default_context(cafile=cafile)


def _code(lines: list[str]) -> int | None:
    parts = rc.split_reply(lines[-1]) if lines else None
    return parts[0] if parts else None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")

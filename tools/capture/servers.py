"""A catalogue of faulty SMTP servers on 127.0.0.1, for captures and tests.

Each scenario is a server that fails one way (or succeeds), started as a
context manager that yields an :class:`Endpoint`::

    with start("auth_535") as endpoint:
        smtplib.SMTP(endpoint.host, endpoint.port)...

The SMTP servers are aiosmtpd ``Controller`` threads with trustme
certificates.  The two that must not speak SMTP at all (``no_greeting``,
``close_after_connect``) are plain socket threads, and ``connect_refused``
yields a port that nothing listens on.  aiosmtpd's ``Controller`` binds the
port it is given and cannot report a port the kernel chose, so a free port is
found first by binding port 0 and closing the socket again.

The credentials the servers accept are fake (:data:`FAKE_USER`,
:data:`FAKE_PASSWORD`, :data:`FAKE_TOKEN`); captures assert that they never
appear in a client's output.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
SERVER_NAME = "mail.capture.test"  # the name in the certificates that verify
WRONG_NAME = "mail.other.test"  # the only name in the wrong-host certificate
FAKE_USER = "capture-user@capture.test"
FAKE_PASSWORD = "fake-password-7f3a9c"
FAKE_TOKEN = "fake-oauth-token-51b2e8"
SENDER = "sender@capture.test"
RECIPIENT = "rcpt@capture.test"

STARTTLS_REQUIRED_REPLY = "530 5.7.0 Must issue a STARTTLS command first"
AUTH_535_REPLY = "535 5.7.8 Authentication credentials invalid"
AUTH_534_REPLY = "534 5.7.9 Application-specific password required"
RATE_LIMIT_REPLY = "421 4.7.0 Try again later, closing connection"
GREYLIST_REPLY = "451 4.7.1 Greylisted, please try again in 300 seconds"
UNKNOWN_RECIPIENT_REPLY = "550 5.1.1 Recipient address rejected: User unknown"
RELAY_DENIED_REPLY = "554 5.7.1 Relay access denied"
# Gmail's XOAUTH2 error challenge has this shape: a JSON object with the HTTP
# status, in base64, after which the server waits for an empty line.
XOAUTH2_ERROR = {"status": "401", "schemes": "Bearer", "scope": "https://mail.capture.test/"}

CLOSE_DELAY = 0.2  # seconds close_after_connect waits before closing

# aiosmtpd 1.4 sends this reply without an enhanced status code.
_AIOSMTPD_STARTTLS_REPLY = "530 Must issue a STARTTLS command first"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a started scenario listens and what a client needs to reach it.

    ``tls`` is ``"implicit"`` (TLS from the first byte), ``"starttls"``
    (STARTTLS offered) or ``"none"``.  ``ca_file`` is the PEM file of the CA
    that signed the server certificate.  Clients that should trust the
    server load it, and clients of the ``untrusted_cert`` scenario do not.
    """

    scenario: str
    host: str
    port: int
    tls: str
    ca_file: Path | None = None
    server_name: str = SERVER_NAME


@dataclass(frozen=True, slots=True)
class Scenario:
    """One catalogue entry: how the server behaves and what it is for."""

    name: str
    description: str
    tls: str
    starter: Callable[..., contextlib.AbstractContextManager[Endpoint]] = field(repr=False)

    def start(self, port: int | None = None, **options: Any) -> contextlib.AbstractContextManager[Endpoint]:
        """Start the server on ``port`` (a free port when ``None``)."""
        return self.starter(self, port, **options)


def free_port(host: str = HOST) -> int:
    """Return a TCP port on ``host`` that nothing listens on at the moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


# Certificates ----------------------------------------------------------------

class Certificates:
    """A trustme CA with a server certificate per host name, written to a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ca = trustme.CA()
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self._contexts: dict[str, ssl.SSLContext] = {}

    def server_context(self, name: str) -> ssl.SSLContext:
        """Return a server SSL context whose certificate names ``name`` and 127.0.0.1."""
        if name not in self._contexts:
            subjects = [name, HOST] if name == SERVER_NAME else [name]
            certificate = self.ca.issue_cert(*subjects)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            certificate.configure_cert(context)
            self._contexts[name] = context
        return self._contexts[name]


_certificates: Certificates | None = None
_certificates_lock = threading.Lock()


def certificates() -> Certificates:
    """Return the process-wide certificates, created on first use in a temporary folder."""
    global _certificates
    with _certificates_lock:
        if _certificates is None:
            folder = Path(tempfile.mkdtemp(prefix="smtplogkit-certs-"))
            _certificates = Certificates(folder)
        return _certificates


# aiosmtpd servers ------------------------------------------------------------

class _FaultySMTP(SMTP):
    """aiosmtpd's SMTP with the replies that real servers send.

    The STARTTLS demand gets its enhanced code (``530 5.7.0``, as Postfix and
    Gmail send it), and a 421 reply closes the connection, as RFC 5321
    section 3.8 requires.
    """

    async def push(self, status: Any) -> None:
        if status == _AIOSMTPD_STARTTLS_REPLY:
            status = STARTTLS_REQUIRED_REPLY
        await super().push(status)
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else status
        if text.startswith("421"):
            self.transport.close()


class _FaultyController(Controller):
    def factory(self) -> SMTP:
        return _FaultySMTP(self.handler, **self.SMTP_kwargs)


class Handler:
    """aiosmtpd handler whose replies a scenario chooses.

    ``rcpt_reply`` rejects every recipient with that reply; ``rate_limit``
    accepts that many messages (counted over all connections), then answers
    MAIL FROM with :data:`RATE_LIMIT_REPLY`.  ``login_reply`` rejects every
    credential with that reply, and XOAUTH2 always fails with the JSON error
    challenge.  Accepted messages are kept in ``messages``.  No attribute
    name starts with ``auth_``: aiosmtpd offers every such member as a SASL
    mechanism.
    """

    def __init__(self, *, rcpt_reply: str | None = None, rate_limit: int | None = None,
                 login_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.rate_limit = rate_limit
        self.login_reply = login_reply
        self.messages: list[Envelope] = []

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if self.rate_limit is not None and len(self.messages) >= self.rate_limit:
            return RATE_LIMIT_REPLY
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 2.0.0 OK queued"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: Any) -> AuthResult:
        """Accept the fake user and password, unless the scenario rejects all."""
        if self.login_reply is not None:
            return AuthResult(success=False, handled=False, message=self.login_reply)
        valid = (isinstance(auth_data, LoginPassword) and auth_data.login == FAKE_USER.encode()
                 and auth_data.password == FAKE_PASSWORD.encode())
        return AuthResult(success=valid, handled=False)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """Answer XOAUTH2 as Gmail does for a bad token: an error challenge, then 535."""
        if len(args) < 2:
            await server.challenge_auth("", encode_to_b64=False)  # the client sends the token now
        challenge = json.dumps(XOAUTH2_ERROR, separators=(",", ":"))
        await server.challenge_auth(base64.b64encode(challenge.encode()), encode_to_b64=False)
        return AuthResult(success=False, handled=False, message=AUTH_535_REPLY)


@contextlib.contextmanager
def _aiosmtpd(scenario: Scenario, port: int | None, *, cert_name: str = SERVER_NAME, starttls: bool = True,
              require_starttls: bool = False, auth: bool = True, **handler_options: Any) -> Iterator[Endpoint]:
    certs = certificates()
    context = certs.server_context(cert_name)
    handler = Handler(**handler_options)
    port = port or free_port()
    kwargs: dict[str, Any] = {
        "server_hostname": SERVER_NAME,
        "ident": "capture ESMTP",
        "require_starttls": require_starttls,
        # Over implicit TLS aiosmtpd does not count the connection as TLS, so
        # AUTH would never be offered if it required TLS.
        "auth_require_tls": scenario.tls != "implicit",
    }
    if auth:
        kwargs["authenticator"] = handler.authenticate
    else:
        kwargs["auth_exclude_mechanism"] = ["LOGIN", "PLAIN", "XOAUTH2"]
    if scenario.tls == "implicit":
        controller = _FaultyController(handler, hostname=HOST, port=port, ssl_context=context, **kwargs)
    else:
        if starttls:
            kwargs["tls_context"] = context
        controller = _FaultyController(handler, hostname=HOST, port=port, **kwargs)
    controller.start()
    logger.info("scenario %s listening on %s:%d", scenario.name, HOST, port)
    try:
        yield Endpoint(scenario.name, HOST, port, scenario.tls, certs.ca_file)
    finally:
        controller.stop()


# Servers that do not speak SMTP -----------------------------------------------

class _SocketServer:
    """A listening socket whose accepted connections get one fixed treatment.

    ``hold`` keeps each connection open and silent until the server stops (a
    server that never greets); otherwise each connection is closed at once.
    """

    def __init__(self, port: int, *, hold: bool) -> None:
        self.hold = hold
        self.listener = socket.create_server((HOST, port))
        self.listener.settimeout(0.2)
        self.stopping = threading.Event()
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, name=f"capture-socket-{port}", daemon=True)

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.hold:
                self.connections.append(connection)
            else:
                # A short wait lets a TLS client's ClientHello arrive first, so
                # the close always resets it (unread data) instead of racing it.
                self.stopping.wait(CLOSE_DELAY)
                connection.close()

    def __enter__(self) -> _SocketServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stopping.set()
        self.thread.join(timeout=2)
        for connection in self.connections:
            connection.close()
        self.listener.close()


@contextlib.contextmanager
def _socket_server(scenario: Scenario, port: int | None, *, hold: bool) -> Iterator[Endpoint]:
    port = port or free_port()
    with _SocketServer(port, hold=hold):
        yield Endpoint(scenario.name, HOST, port, scenario.tls, certificates().ca_file)


@contextlib.contextmanager
def _closed_port(scenario: Scenario, port: int | None) -> Iterator[Endpoint]:
    # NOTE: another process may bind the port between this check and the
    # client's connect; on loopback in a test run that is unlikely.
    yield Endpoint(scenario.name, HOST, port or free_port(), scenario.tls, certificates().ca_file)


def _entry(name: str, tls: str, description: str, starter: Callable[..., Any], **options: Any) -> Scenario:
    def start_with_options(scenario: Scenario, port: int | None, **extra: Any):
        return starter(scenario, port, **{**options, **extra})

    return Scenario(name, description, tls, start_with_options)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    _entry("success", "starttls", "STARTTLS and AUTH PLAIN/LOGIN; accepts the fake credentials and the message",
           _aiosmtpd),
    _entry("success_implicit", "implicit", "implicit TLS and AUTH PLAIN/LOGIN; accepts the fake credentials",
           _aiosmtpd),
    _entry("connect_refused", "none", "a closed port: the connection is refused", _closed_port),
    _entry("implicit_port_plain_client", "implicit",
           "implicit TLS, for a client that speaks plain SMTP and waits for a greeting", _aiosmtpd),
    _entry("plain_port_implicit_client", "starttls",
           "plain SMTP with STARTTLS, for a client that starts TLS at once", _aiosmtpd),
    _entry("untrusted_cert", "starttls", "STARTTLS with a certificate from a CA the client does not trust",
           _aiosmtpd),
    _entry("wrong_host_cert", "starttls", f"STARTTLS with a certificate for {WRONG_NAME} only", _aiosmtpd,
           cert_name=WRONG_NAME),
    _entry("starttls_not_offered", "none", "plain SMTP without STARTTLS or AUTH", _aiosmtpd, starttls=False,
           auth=False),
    _entry("starttls_required", "starttls", f"answers MAIL and AUTH before STARTTLS with {STARTTLS_REQUIRED_REPLY!r}",
           _aiosmtpd, require_starttls=True),
    _entry("auth_535", "starttls", f"rejects every credential with {AUTH_535_REPLY!r}", _aiosmtpd,
           login_reply=AUTH_535_REPLY),
    _entry("auth_534", "starttls", f"rejects every credential with {AUTH_534_REPLY!r}", _aiosmtpd,
           login_reply=AUTH_534_REPLY),
    _entry("xoauth2_rejected", "starttls", "XOAUTH2 fails: 334 with a base64 JSON error, then 535 5.7.8",
           _aiosmtpd, login_reply=AUTH_535_REPLY),
    _entry("rate_limited", "starttls", f"after rate_limit messages (default 0), MAIL gets {RATE_LIMIT_REPLY!r}",
           _aiosmtpd, rate_limit=0),
    _entry("greylisted", "starttls", f"every RCPT gets {GREYLIST_REPLY!r}", _aiosmtpd, rcpt_reply=GREYLIST_REPLY),
    _entry("unknown_recipient", "starttls", f"every RCPT gets {UNKNOWN_RECIPIENT_REPLY!r}", _aiosmtpd,
           rcpt_reply=UNKNOWN_RECIPIENT_REPLY),
    _entry("relay_denied", "starttls", f"every RCPT gets {RELAY_DENIED_REPLY!r}", _aiosmtpd,
           rcpt_reply=RELAY_DENIED_REPLY),
    _entry("no_greeting", "none", "accepts the connection and never sends the 220 greeting", _socket_server,
           hold=True),
    _entry("close_after_connect", "none", "accepts the connection and closes it at once", _socket_server,
           hold=False),
)}


def start(name: str, port: int | None = None, **options: Any) -> contextlib.AbstractContextManager[Endpoint]:
    """Start the scenario called ``name``; see :data:`SCENARIOS`.

    Parameters
    ----------
    name
        A key of :data:`SCENARIOS`.
    port
        Port to listen on; a free port when ``None``.  Ports below 1024
        (465, 587) need root or ``net.ipv4.ip_unprivileged_port_start``.
    options
        Handler options that override the scenario's, such as
        ``rate_limit=1`` for ``rate_limited``.

    Raises
    ------
    KeyError
        When ``name`` is not a scenario.
    """
    return SCENARIOS[name].start(port, **options)

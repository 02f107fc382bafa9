"""Loopback servers for the probe tests: SMTP in every TLS mode, DNS, and broken peers.

Every server listens on 127.0.0.1.  An autouse guard makes any connection or
datagram to another address, or to port 53 anywhere, fail the test, so no test
can reach a real resolver or mail server even by mistake.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "alice@probe.test"
PASSWORD = "Corr3ct-Horse-Battery-Staple"
TOKEN = "ya29.good-token-for-tests"
MAIL_HOST = "mail.probe.test"
OAUTH_ERROR = {"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"}


class NetworkGuardError(PermissionError):
    """A test tried to reach an address outside loopback, or a DNS port."""


def _check_destination(address, blocked: list[str]) -> None:
    if not isinstance(address, tuple):
        return  # a Unix socket path
    host, port = address[0], address[1]
    if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
        blocked.append(f"{host} port {port}")
        raise NetworkGuardError(f"test tried to reach {host} port {port}, outside loopback")
    if port == 53:
        blocked.append(f"{host} port {port}")
        raise NetworkGuardError(f"test tried to reach a DNS server on {host} port 53")


@pytest.fixture(autouse=True)
def network_guard(request, monkeypatch):
    """Block any connect or datagram that leaves loopback or goes to port 53, and fail the test if one was tried.

    Libraries may swallow the error (dnspython turns it into a failed
    lookup), so the check at teardown is what makes a stray query fail the
    test.  Tests that try on purpose carry the ``leaves_loopback`` mark and
    get the list of blocked destinations from the fixture.
    """
    blocked: list[str] = []
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_sendto = socket.socket.sendto

    def connect(self, address):
        _check_destination(address, blocked)
        return original_connect(self, address)

    def connect_ex(self, address):
        _check_destination(address, blocked)
        return original_connect_ex(self, address)

    def sendto(self, data, *args):
        _check_destination(args[-1], blocked)
        return original_sendto(self, data, *args)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    yield blocked
    if request.node.get_closest_marker("leaves_loopback") is None:
        assert not blocked, f"the test tried to leave loopback: {blocked}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Certificates -------------------------------------------------------------

@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def cafile(ca, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def server_context(ca: trustme.CA, *names: str, **validity) -> ssl.SSLContext:
    """Return a server context with a certificate for ``names``; ``validity`` sets not_before and not_after."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names, common_name=names[0], **validity).configure_cert(context)
    return context


# SMTP servers -------------------------------------------------------------

def _authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword):
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=False)
    return AuthResult(success=False, handled=False)


class Handler:
    """aiosmtpd handler that also offers XOAUTH2, answering a bad token as Gmail does."""

    async def auth_XOAUTH2(self, server, args):
        if len(args) < 2:
            return AuthResult(success=False, handled=False)
        decoded = base64.b64decode(args[1]).decode()
        if f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01" == decoded:
            return AuthResult(success=True, auth_data=USER)
        challenge = base64.b64encode(json.dumps(OAUTH_ERROR).encode()).decode()
        await server.push(f"334 {challenge}")
        await server._reader.readline()
        await server.push("535 5.7.8 Username and Password not accepted")
        return AuthResult(success=False, handled=True)

    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def start_smtp(**parameters) -> Controller:
    """Start an aiosmtpd server on a free loopback port; aiosmtpd names itself MAIL_HOST."""
    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port(), server_hostname=MAIL_HOST,
                            authenticator=_authenticator, **parameters)
    controller.start()
    return controller


@pytest.fixture(scope="session")
def starttls_server(ca) -> Iterator[Controller]:
    """Plain greeting, STARTTLS with a certificate for MAIL_HOST and 127.0.0.1, AUTH only after TLS."""
    controller = start_smtp(tls_context=server_context(ca, MAIL_HOST, "127.0.0.1"), auth_require_tls=True)
    yield controller
    controller.stop()


@pytest.fixture(scope="session")
def implicit_server(ca) -> Iterator[Controller]:
    """TLS from the first byte, as on port 465."""
    controller = start_smtp(ssl_context=server_context(ca, MAIL_HOST, "127.0.0.1"), auth_require_tls=False)
    yield controller
    controller.stop()


@pytest.fixture(scope="session")
def plain_server() -> Iterator[Controller]:
    """No TLS at all, AUTH offered in clear text."""
    controller = start_smtp(auth_require_tls=False)
    yield controller
    controller.stop()


@pytest.fixture(scope="session")
def wrong_host_server(ca) -> Iterator[Controller]:
    """STARTTLS with a trusted certificate for another name."""
    controller = start_smtp(tls_context=server_context(ca, "other.probe.test"))
    yield controller
    controller.stop()


@pytest.fixture(scope="session")
def untrusted_server() -> Iterator[Controller]:
    """Implicit TLS with a certificate from a CA the client does not trust."""
    controller = start_smtp(ssl_context=server_context(trustme.CA(), MAIL_HOST, "127.0.0.1"))
    yield controller
    controller.stop()


@pytest.fixture(scope="session")
def expired_server(ca) -> Iterator[Controller]:
    """Implicit TLS with a trusted certificate that expired yesterday."""
    now = datetime.now(timezone.utc)
    context = server_context(ca, MAIL_HOST, not_before=now - timedelta(days=90), not_after=now - timedelta(days=1))
    controller = start_smtp(ssl_context=context)
    yield controller
    controller.stop()


@pytest.fixture(scope="session")
def expiring_server(ca) -> Iterator[Controller]:
    """Implicit TLS with a valid certificate that expires in three days."""
    now = datetime.now(timezone.utc)
    context = server_context(ca, MAIL_HOST, not_before=now - timedelta(days=1), not_after=now + timedelta(days=3, hours=1))
    controller = start_smtp(ssl_context=context)
    yield controller
    controller.stop()


# Broken peers -------------------------------------------------------------

class SilentServer:
    """Accepts TCP connections and never sends a byte; with ``hang_up`` it closes each one at once."""

    def __init__(self, hang_up: bool = False) -> None:
        self.hang_up = hang_up
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.hang_up:
                connection.close()
                continue
            self.connections.append(connection)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        for connection in self.connections:
            connection.close()
        self.sock.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture
def hang_up_server() -> Iterator[SilentServer]:
    server = SilentServer(hang_up=True)
    yield server
    server.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port that was just free, so connecting to it is refused."""
    return free_port()


def filled_listener() -> tuple[socket.socket, list[socket.socket]]:
    """Return a listener on 127.0.0.1 whose listen queue is full, and the sockets that fill it.

    The kernel drops new SYNs to it, so connect times out.  Linux keeps
    backlog + 1 connections queued; the fillers take those places.
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    return listener, fillers


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port whose listen queue is full, so the kernel drops new SYNs and connect times out."""
    listener, fillers = filled_listener()
    yield listener.getsockname()[1]
    for filler in fillers:
        filler.close()
    listener.close()


# DNS responder ------------------------------------------------------------

@dataclass
class DnsResponder:
    """A UDP DNS responder on 127.0.0.1 built on dnspython's message parsing.

    ``zone`` maps a name to what it answers: a dict of record type to
    record texts, or one of ``"nxdomain"``, ``"servfail"``, ``"refused"`` and
    ``"drop"`` (no answer at all, so the client times out).  Names not in
    the zone get NXDOMAIN.  ``queries`` lists each (name, type) received.
    """

    zone: dict[str, object]
    queries: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self._answer(dns.message.from_wire(data))
            if reply is not None:
                self.sock.sendto(reply.to_wire(), peer)

    def _answer(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        entry = self.zone.get(name, "nxdomain")
        if entry == "drop":
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        if entry == "nxdomain":
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif entry == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif entry == "refused":
            response.set_rcode(dns.rcode.REFUSED)
        else:
            records = entry.get(rdtype, [])
            if records:
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rdtype, records))
        return response

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.sock.close()


ZONE = {
    MAIL_HOST: {"A": ["127.0.0.1"]},
    "dual.probe.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
    "wrong.probe.test": {"A": ["127.0.0.1"]},
    "noaddress.probe.test": {"TXT": ['"no address here"']},
    "nomx.probe.test": {"A": ["127.0.0.1"]},
    "nullmx.probe.test": {"MX": ["0 ."], "A": ["127.0.0.1"]},
    "probe.test": {"MX": ["20 backup.probe.test.", "10 mail.probe.test."]},
    "gone.probe.test": "nxdomain",
    "broken.probe.test": "servfail",
    "closed.probe.test": "refused",
    "slow.probe.test": "drop",
}


@pytest.fixture
def dns_server() -> Iterator[DnsResponder]:
    responder = DnsResponder(dict(ZONE))
    yield responder
    responder.close()


class ThrottlingHandler(Handler):
    """Answers EHLO normally for the first ``allowed`` sessions, then with a throttling 421."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        if self.sessions > self.allowed:
            return ["421 4.7.0 Too many connections from your IP, try again later"]
        return responses


@pytest.fixture
def throttling_server() -> Iterator[Controller]:
    """Plain SMTP that starts throttling at the fourth session."""
    controller = Controller(ThrottlingHandler(3), hostname="127.0.0.1", port=free_port(), server_hostname=MAIL_HOST)
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture(scope="session")
def login_only_server(ca) -> Iterator[Controller]:
    """Implicit TLS offering AUTH LOGIN only."""
    controller = start_smtp(ssl_context=server_context(ca, MAIL_HOST, "127.0.0.1"), auth_require_tls=False,
                            auth_exclude_mechanism=["PLAIN", "XOAUTH2"])
    yield controller
    controller.stop()

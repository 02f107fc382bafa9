"""A small fleet of real smtplib clients talking to a local aiosmtpd server.

:func:`write_fleet_logs` runs Python's smtplib with ``set_debuglevel(2)``
against an aiosmtpd server on 127.0.0.1 and writes each worker's debug output
to ``{network}/{worker}/YYYY-MM-DD.log``, the layout of the bundled sample
data.  The server throttles one sender (421 4.7.0 at MAIL FROM), rejects one
recipient (550 5.1.1) and accepts only the right password, so the logs hold
successes, authentication failures, rate limits and real AUTH payloads that
carry the secrets below.  Application lines with secrets in other shapes are
written between the SMTP sessions.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import logging
import smtplib
import socket
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

PASSWORD = "Tr0ub4dor&3-horse-battery"
WRONG_PASSWORD = "n0t-the-Passw0rd-42"
OAUTH_TOKEN = "ya29.a0AfH6SMBx3Kq9LmPzT7vW2yR5uN8cJ4dE6fG1hI0kL"
URL_SECRET = "s3cr3t-in-url-77"
API_KEY = "sk_live_9f8e7d6c5b4a39281706"
SECRETS = [PASSWORD, WRONG_PASSWORD, OAUTH_TOKEN, URL_SECRET, API_KEY]
THROTTLED_SENDER = "bulk@example.org"


@dataclass
class Plan:
    """One worker's sends: how many of each kind, on which network."""

    network: str
    worker: str
    good: int = 0
    bad_password: int = 0
    throttled: int = 0
    bad_recipient: int = 0


class Handler:
    """aiosmtpd handler that throttles one sender and rejects unknown recipients."""

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if address == THROTTLED_SENDER:
            return "421 4.7.0 Try again later, closing connection"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued"


def authenticate(server, session, envelope, mechanism, auth_data):
    """Accept any user whose password is :data:`PASSWORD`."""
    password = getattr(auth_data, "password", b"")
    # handled=False makes aiosmtpd send the 535 reply itself.
    return AuthResult(success=password == PASSWORD.encode(), handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _send(port: int, user: str, password: str, sender: str, recipient: str, mechanism: str) -> None:
    client = smtplib.SMTP(timeout=10)
    client.set_debuglevel(2)
    try:
        client.connect("127.0.0.1", port)
        client.ehlo("worker.test")
        if mechanism == "LOGIN":
            client.user, client.password = user, password
            client.auth("LOGIN", client.auth_login)
        else:
            client.login(user, password)
        client.sendmail(sender, [recipient], f"From: {sender}\r\nSubject: test\r\n\r\nhello\r\n")
    except smtplib.SMTPException:
        pass
    finally:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()


def _secret_lines() -> str:
    return (f"INFO mailer: connecting with smtp://mailer:{URL_SECRET}@127.0.0.1\n"
            f"DEBUG config: password={PASSWORD} api_key={API_KEY}\n"
            f"DEBUG oauth: Authorization: Bearer {OAUTH_TOKEN}\n")


def run_plan(port: int, plan: Plan) -> str:
    """Run one worker's sends and return its debug output."""
    output = io.StringIO()
    user = f"{plan.worker}@example.org"
    sends = ([(user, PASSWORD, user, "to@example.net", "PLAIN")] * plan.good
             + [(user, WRONG_PASSWORD, user, "to@example.net", "LOGIN")] * plan.bad_password
             + [(user, PASSWORD, THROTTLED_SENDER, "to@example.net", "PLAIN")] * plan.throttled
             + [(user, PASSWORD, user, "nobody@example.net", "PLAIN")] * plan.bad_recipient)
    for index, send in enumerate(sends):
        if index == 1:
            output.write(_secret_lines())
        with contextlib.redirect_stderr(output):
            _send(port, *send)
    return output.getvalue()


DEFAULT_PLANS = [
    Plan("office", "alpha", good=3, bad_password=2),
    Plan("office", "beta", good=2, bad_recipient=1),
    Plan("datacenter", "gamma", good=1, throttled=4),
]


def write_fleet_logs(root: Path, plans: list[Plan] = DEFAULT_PLANS) -> Path:
    """Write one debug log per worker under ``root`` and return ``root``."""
    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    # aiosmtpd 1.4 logs on stderr, inside the captured debug output, that
    # Session.login_data is deprecated; that line is no part of a client log.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    try:
        for plan in plans:
            folder = root / plan.network / plan.worker
            folder.mkdir(parents=True, exist_ok=True)
            day = datetime.datetime.now().date().isoformat()
            (folder / f"{day}.log").write_text(run_plan(port, plan), encoding="utf-8")
    finally:
        controller.stop()
    return root

"""Replies of the simulated servers: Gmail, Microsoft 365 and the Postfix relay.

Each provider gives the reply lines for every step of a session, worded as
the real service words them, and a typical round-trip time.  Replies are
lists of lines with their code (``["250-smtp.gmail.com ...", "250 SMTPUTF8"]``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import fake

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def multiline(code: int, texts: list[str]) -> list[str]:
    """Return reply lines ``code-text`` ... ``code text``."""
    return [f"{code}{' ' if i == len(texts) - 1 else '-'}{text}" for i, text in enumerate(texts)]


@dataclass
class Provider:
    """Base of the simulated servers; subclasses fill in the wording."""

    name: str
    host: str
    addresses: tuple[str, ...]
    rtt: float  # seconds for one command and its reply

    def session(self, rng: random.Random) -> str:
        """Return a per-connection id the server quotes in its replies."""
        return ""

    def greeting(self, sid: str, when: float) -> list[str]:
        raise NotImplementedError

    def ehlo(self, sid: str, client_ip: str, secured: bool) -> list[str]:
        raise NotImplementedError

    def starttls(self, sid: str) -> list[str]:
        return ["220 2.0.0 Ready to start TLS"]

    def auth_ok(self, sid: str) -> list[str]:
        return ["235 2.7.0 Authentication successful"]

    def mail_ok(self, sid: str) -> list[str]:
        return ["250 2.1.0 Ok"]

    def rcpt_ok(self, sid: str) -> list[str]:
        return ["250 2.1.5 Ok"]

    def data_go(self, sid: str) -> list[str]:
        return ["354 End data with <CR><LF>.<CR><LF>"]

    def data_ok(self, sid: str, message_id: str, when: float, queue_id: str = "") -> list[str]:
        raise NotImplementedError

    def quit(self, sid: str) -> list[str]:
        return ["221 2.0.0 Bye"]


class Gmail(Provider):
    """smtp.gmail.com on 587: STARTTLS, then PLAIN, LOGIN or XOAUTH2."""

    def session(self, rng: random.Random) -> str:
        return fake.gmail_session(rng)

    def greeting(self, sid: str, when: float) -> list[str]:
        return [f"220 smtp.gmail.com ESMTP {sid} - gsmtp"]

    def ehlo(self, sid: str, client_ip: str, secured: bool) -> list[str]:
        middle = ["AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH"] if secured else ["STARTTLS"]
        return multiline(250, [f"smtp.gmail.com at your service, [{client_ip}]", "SIZE 35882577", "8BITMIME",
                               *middle, "ENHANCEDSTATUSCODES", "PIPELINING", "CHUNKING", "SMTPUTF8"])

    def auth_ok(self, sid: str) -> list[str]:
        return ["235 2.7.0 Accepted"]

    def oauth_challenge(self) -> list[str]:
        """Return the 334 with base64 JSON that Gmail sends for a token it rejects."""
        return ["334 " + fake.b64('{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}')]

    def auth_failed(self, sid: str) -> list[str]:
        return ["535-5.7.8 Username and Password not accepted. For more information, go to",
                f"535 5.7.8  https://support.google.com/mail/?p=BadCredentials {sid} - gsmtp"]

    def rate_limited(self, sid: str) -> list[str]:
        """Return Gmail's reply to MAIL FROM when the mailbox sends too fast."""
        return ["421-4.7.0 Try again later, closing connection. (MAIL)",
                "421-4.7.0  For more information, go to",
                f"421 4.7.0  https://support.google.com/mail/answer/7040934 {sid} - gsmtp"]

    def mail_ok(self, sid: str) -> list[str]:
        return [f"250 2.1.0 OK {sid} - gsmtp"]

    def rcpt_ok(self, sid: str) -> list[str]:
        return [f"250 2.1.5 OK {sid} - gsmtp"]

    def data_go(self, sid: str) -> list[str]:
        return [f"354  Go ahead {sid} - gsmtp"]

    def data_ok(self, sid: str, message_id: str, when: float, queue_id: str = "") -> list[str]:
        return [f"250 2.0.0 OK  {int(when)} {sid} - gsmtp"]

    def quit(self, sid: str) -> list[str]:
        return [f"221 2.0.0 closing connection {sid} - gsmtp"]


class Microsoft365(Provider):
    """smtp.office365.com on 587: STARTTLS, then LOGIN or XOAUTH2."""

    def session(self, rng: random.Random) -> str:
        region = rng.choice(("AM0PR02", "AM6PR04", "DB7PR03", "VI1PR08", "FR2P281"))
        return f"{region}CA{rng.randint(1, 9999):04d}|{region}MB{rng.randint(1000, 9999)}"

    def greeting(self, sid: str, when: float) -> list[str]:
        front = sid.split("|")[0]
        return [f"220 {front}.outlook.office365.com Microsoft ESMTP MAIL Service ready at {rfc2822(when)}"]

    def ehlo(self, sid: str, client_ip: str, secured: bool) -> list[str]:
        front = sid.split("|")[0]
        middle = ["AUTH LOGIN XOAUTH2"] if secured else ["STARTTLS"]
        return multiline(250, [f"{front}.outlook.office365.com Hello [{client_ip}]", "SIZE 157286400", "PIPELINING",
                               "DSN", "ENHANCEDSTATUSCODES", *middle, "8BITMIME", "BINARYMIME", "CHUNKING",
                               "SMTPUTF8"])

    def starttls(self, sid: str) -> list[str]:
        return ["220 2.0.0 SMTP server ready"]

    def mail_ok(self, sid: str) -> list[str]:
        return ["250 2.1.0 Sender OK"]

    def rcpt_ok(self, sid: str) -> list[str]:
        return ["250 2.1.5 Recipient OK"]

    def data_go(self, sid: str) -> list[str]:
        return ["354 Start mail input; end with <CRLF>.<CRLF>"]

    def data_ok(self, sid: str, message_id: str, when: float, queue_id: str = "") -> list[str]:
        back = sid.split("|")[1]
        return [f"250 2.0.0 OK {message_id} [Hostname={back}.eurprd0{back[-1]}.prod.outlook.com]"]

    def quit(self, sid: str) -> list[str]:
        return ["221 2.0.0 Service closing transmission channel"]


class PostfixRelay(Provider):
    """The internal Postfix relay on port 25: STARTTLS offered, no AUTH."""

    def greeting(self, sid: str, when: float) -> list[str]:
        return [f"220 {self.host} ESMTP Postfix (Debian/GNU)"]

    def ehlo(self, sid: str, client_ip: str, secured: bool) -> list[str]:
        items = ["PIPELINING", "SIZE 20480000", "VRFY", "ETRN"] + ([] if secured else ["STARTTLS"])
        items += ["ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"]
        return multiline(250, [self.host, *items])

    def data_ok(self, sid: str, message_id: str, when: float, queue_id: str = "") -> list[str]:
        return [f"250 2.0.0 Ok: queued as {queue_id}"]


def rfc2822(when: float) -> str:
    """Return ``Mon, 2 Mar 2026 08:00:01 +0000`` for an epoch time (UTC)."""
    import time

    t = time.gmtime(when)
    return f"{DAYS[t.tm_wday]}, {t.tm_mday} {MONTHS[t.tm_mon - 1]} {t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


GMAIL = Gmail("gmail", "smtp.gmail.com", ("142.250.102.108", "142.250.102.109", "74.125.140.108"), 0.021)
M365 = Microsoft365("m365", "smtp.office365.com", ("52.97.183.130", "52.98.207.34", "40.99.213.226"), 0.034)
RELAY = PostfixRelay("relay", "relay.internal", ("10.20.0.25",), 0.0012)
PROVIDERS = {p.name: p for p in (GMAIL, M365, RELAY)}

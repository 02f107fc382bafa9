"""The simulation: jobs arrive, workers send, and servers and blockers reply.

Each worker is simulated on its own clock with its own random stream, so the
output depends only on the seed, the scale and the scenario.  Workers send
one message per connection and retry failed sends with back-off; the billing
worker sends its daily invoice run as a batch.  Every session the blockers
touch is recorded, and those records become the evidence in the ground
truth.
"""

from __future__ import annotations

import heapq
import io
import math
import os
import random
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from pathlib import Path
from typing import TextIO

from . import fake, maillog
from .fleet import (CONNECT_TIMEOUT, CUSTOMER_DOMAINS, DAY, DAYS, EGRESS, GREYLIST_DELAY, GREYLIST_MX,
                    RATE_LIMIT_PER_MINUTE, REFRESH_AFTER, TOKEN_LIFETIME, WEEK_START, Instance, Scenario, at, fleet)
from .nodelog import NodeTranscript, creating_transport, sending_using
from .providers import RELAY, rfc2822
from .pylog import (AUTH_FRAMES, CONNECT_FRAMES, PLAIN_SOCKET_FRAMES, SEND_FRAMES, SSL_FRAMES, Frame, Transcript,
                    traceback)

HOURLY = (0.2, 0.15, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 3.2, 3.4, 3.0, 2.2, 2.8, 3.2, 3.0, 2.6, 1.8, 1.0, 0.7,
          0.5, 0.4, 0.3, 0.25)
WEEKDAY = (1.15, 1.05, 1.0, 1.0, 0.9, 0.25, 0.2)
RETRIES = (30.0, 60.0, 120.0)  # back-off before the 2nd, 3rd and 4th attempt
TOPICS = ("your refund request", "the login problem you reported", "your question about seats",
          "the export that did not finish", "changing your billing address", "the API rate limits",
          "moving your workspace", "the missing invoice")
ANSWERS = (
    "We have looked into it and the fix is now live on your account.",
    "I have passed this to our engineers; you will hear from us within a day.",
    "You can change this yourself under Settings, then Account.",
    "The change is done; it may take a few minutes to show.",
)


@dataclass
class Evidence:
    """Sessions a blocker touched."""

    times: list[float] = field(default_factory=list)
    identities: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    workers: set[str] = field(default_factory=set)

    def add(self, t: float, identity: str | None, host: str, worker: str) -> None:
        self.times.append(t)
        if identity:
            self.identities.add(identity)
        self.hosts.add(host)
        self.workers.add(worker)


@dataclass
class Outputs:
    """Line counts and last timestamps of the written files, and evidence per blocker."""

    files: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    last: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Evidence] = field(default_factory=lambda: defaultdict(Evidence))
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


FLUSH_LINES = 20000  # a worker writes out its buffered lines once it has this many
MAX_QUEUE_AGE = 6 * 3600  # an interactive job still waiting after this long is dropped
WEEK_END = WEEK_START + DAYS * DAY


def day_of(t: float) -> str:
    """Return ``YYYY-MM-DD`` of an epoch time."""
    g = time.gmtime(int(t))
    return f"{g.tm_year}-{g.tm_mon:02d}-{g.tm_mday:02d}"


def arrivals(rng: random.Random, per_day: float, scale: float) -> list[float]:
    """Return job arrival times over the week, with business-hours load."""
    total = sum(HOURLY)
    times: list[float] = []
    for day in range(DAYS):
        mean = per_day * WEEKDAY[day] * scale
        count = _poisson(rng, mean)
        for _ in range(count):
            hour = rng.choices(range(24), weights=HOURLY)[0] if total else 0
            times.append(at(day, hour) + rng.uniform(0, 3600))
    times.sort()
    return times


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, int(round(rng.gauss(mean, math.sqrt(mean)))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Mail:
    """One message to send: envelope, headers and body."""

    __slots__ = ("sender", "to", "subject", "lines", "label", "message_id", "date")

    def __init__(self, sender: str, to: str, subject: str, lines: list[str], label: str) -> None:
        self.sender, self.to, self.subject, self.lines, self.label = sender, to, subject, lines, label
        self.message_id = ""
        self.date = 0.0


def first_name(address: str) -> str:
    local = address.split("@")[0]
    return local.split(".")[0].capitalize() if "." in local else "there"


def support_mail(rng: random.Random, identity: str) -> Mail:
    to = fake.person(rng, CUSTOMER_DOMAINS)
    ticket = rng.randint(40000, 69999)
    topic = rng.choice(TOPICS)
    lines = [f"Hi {first_name(to)},", "", f"Thanks for writing to us about {topic}.", rng.choice(ANSWERS), "",
             "If anything is still unclear, just reply to this message.", "", "Acme Support", f"Ticket #{ticket}"]
    return Mail(identity, to, f"Re: [#{ticket}] {topic.capitalize()}", lines, f"ticket={ticket}")


def invoice_mail(rng: random.Random, identity: str, number: int) -> Mail:
    to = fake.person(rng, CUSTOMER_DOMAINS)
    amount = rng.choice((29, 49, 99, 149, 249, 499)) * rng.choice((1, 1, 1, 2, 3, 5))
    invoice = f"INV-2026-{number:06d}"
    lines = [f"Hello {first_name(to)},", "", f"your invoice {invoice} for {amount}.00 EUR is ready:",
             f"https://billing.acme.example/i/{fake.hexid(rng, 20)}", "", "Payment is due within 14 days.", "",
             "Acme Billing"]
    return Mail(identity, to, f"Your Acme invoice {invoice}", lines, f"invoice={invoice}")


def welcome_mail(rng: random.Random, identity: str) -> Mail:
    to = fake.person(rng, CUSTOMER_DOMAINS)
    lines = [f"Welcome to Acme, {first_name(to)}!", "", "Your workspace is ready. Sign in here:",
             f"https://app.acme.example/start/{fake.hexid(rng, 24)}", "", "The Acme team"]
    return Mail(identity, to, "Welcome to Acme", lines, f"user_id={rng.randint(100000, 999999)}")


# ---------------------------------------------------------------------------
# Python workers (smtplib)


class PythonWorker:
    """A Python worker that sends through smtplib with debuglevel 2."""

    def __init__(self, inst: Instance, world: World) -> None:
        self.inst = inst
        self.world = world
        self.rng = world.rng_for(inst)
        self.tr = Transcript(self.rng, "agent.mail" if inst.worker == "support-agent" else "billing.mail")
        self.app = "/app/agent/mailer.py" if inst.worker == "support-agent" else "/app/billing/notify.py"
        self.function = "deliver" if inst.worker == "support-agent" else "send_invoice"
        self.token: str | None = None
        self.token_at = -1e18
        self.secret = fake.app_password(self.rng) if inst.auth == "plain" else fake.password(self.rng)
        self.sent: deque[float] = world.sent_window[inst.identity or inst.key]

    # Blockers -------------------------------------------------------------

    def firewalled(self, t: float) -> bool:
        fw = self.world.scenario.firewall
        return fw is not None and fw[0] == self.inst.network and fw[1] == self.inst.port and t >= fw[2]

    def implicit(self, t: float) -> bool:
        it = self.world.scenario.implicit_tls
        return it is not None and (it[0], it[1]) == (self.inst.network, self.inst.worker) and t >= it[2]

    def refresh_broken(self, t: float) -> bool:
        tb = self.world.scenario.token_break
        return tb is not None and (tb.network, tb.worker) == (self.inst.network, self.inst.worker) \
            and tb.deployed <= t < tb.fixed

    def rate_limited(self, t: float) -> bool:
        window = self.sent
        while window and window[0] <= t - 60:
            window.popleft()
        return len(window) >= RATE_LIMIT_PER_MINUTE

    # Lines ----------------------------------------------------------------

    def start(self, t: float, version: str) -> None:
        self.tr.t = t
        inst = self.inst
        self.tr.log("INFO", f"{inst.worker} {version} starting, network={inst.network} "
                            f"smtp={inst.provider.host}:{inst.port} identity={inst.identity}",
                    name="agent.main" if inst.worker == "support-agent" else "billing.main")
        if inst.auth == "xoauth2":
            self.refresh()

    def refresh(self) -> None:
        self.tr.t += self.rng.uniform(0.08, 0.35)
        self.token = fake.google_token(self.rng)
        self.token_at = self.tr.t
        self.tr.log("INFO", f"token refreshed, expires_in=3599 identity={self.inst.identity}")

    def app_frame(self, implicit: bool = False, step: str = "connect") -> Frame:
        inst = self.inst
        if step == "connect":
            cls = "SMTP_SSL" if implicit else "SMTP"
            extra = ", context=self.tls" if implicit else ""
            call = f"smtplib.{cls}(self.host, self.port, local_hostname=self.helo, timeout=30{extra})"
            return Frame(self.app, 71 if inst.worker == "support-agent" else 44, self.function,
                         f"with {call} as smtp:", call)
        if step == "auth":
            return Frame(self.app, 76, self.function, 'smtp.auth("XOAUTH2", self.oauth_string)')
        return Frame(self.app, 52, self.function, "smtp.send_message(msg)")

    def session(self, mail: Mail, attempt: int) -> str:
        """Send ``mail`` in one connection; return ``ok`` or the failure."""
        tr, inst, prov, rng = self.tr, self.inst, self.inst.provider, self.rng
        world = self.world
        implicit = self.implicit(tr.t)
        tr.log("INFO", f"sending {mail.label} to=<{mail.to}> attempt={attempt}")
        tr.t += rng.uniform(0.0005, 0.003)
        begin = tr.t  # the session starts with the first connect line
        tr.connect(prov.host, inst.port, implicit)

        if self.firewalled(tr.t):
            tr.t += CONNECT_TIMEOUT + rng.uniform(0.0005, 0.004)
            self.fail_log(mail, attempt)
            tr.raw(traceback([self.app_frame(), *CONNECT_FRAMES, *PLAIN_SOCKET_FRAMES], "TimeoutError: timed out"))
            world.evidence("firewall_block", begin, inst)
            return "connect_timeout"
        if implicit:
            tr.t += prov.rtt * rng.uniform(1.5, 3.0)
            self.fail_log(mail, attempt)
            tr.raw(traceback([self.app_frame(implicit=True), *SSL_FRAMES],
                             "ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)"))
            world.evidence("tls_mode_mismatch", begin, inst)
            return "tls_mode_mismatch"

        sid = prov.session(rng)
        rtt = prov.rtt
        ip = EGRESS[inst.network]
        tr.reply(prov.greeting(sid, tr.t), rtt * rng.uniform(2.0, 4.0), greeting=True)
        tr.send(f"ehlo {inst.pod}")
        tr.reply(prov.ehlo(sid, ip, False), rtt * rng.uniform(0.9, 1.5))
        tr.send("STARTTLS")
        tr.reply(prov.starttls(sid), rtt * rng.uniform(0.9, 1.5))
        tr.t += rtt * 2 + rng.uniform(0.003, 0.012)  # TLS handshake
        tr.send(f"ehlo {inst.pod}")
        tr.reply(prov.ehlo(sid, ip, True), rtt * rng.uniform(0.9, 1.5))

        user = inst.identity or ""
        if inst.auth == "xoauth2":
            tr.send(f"AUTH XOAUTH2 {fake.xoauth2_payload(user, self.token or '')}")
            if tr.t - self.token_at >= TOKEN_LIFETIME:
                tr.reply(prov.oauth_challenge(), rtt * rng.uniform(3, 6))
                tr.send("")
                tr.reply(prov.auth_failed(sid), rtt * rng.uniform(1, 2))
                self.quit(sid, closed=False)
                self.fail_log(mail, attempt)
                tr.raw(traceback([self.app_frame(step="auth"), *AUTH_FRAMES],
                                 f"smtplib.SMTPAuthenticationError: {_reply_tuple(prov.auth_failed(sid))}"))
                world.evidence("token_expiry", begin, inst)
                return "oauth_token_invalid"
            tr.reply(prov.auth_ok(sid), rtt * rng.uniform(3, 6))
        elif inst.auth == "plain":
            tr.send(f"AUTH PLAIN {fake.plain_payload(user, self.secret)}")
            tr.reply(prov.auth_ok(sid), rtt * rng.uniform(3, 6))
        elif inst.auth == "login":
            tr.send(f"AUTH LOGIN {fake.b64(user)}")
            tr.reply(["334 UGFzc3dvcmQ6"], rtt * rng.uniform(1, 2))
            tr.send(fake.b64(self.secret))
            tr.reply(prov.auth_ok(sid), rtt * rng.uniform(3, 6))

        body = self.message(mail)
        tr.send(f"mail FROM:<{mail.sender}> size={len(body)}")
        if inst.provider.name == "gmail" and self.rate_limited(tr.t):
            replies = prov.rate_limited(sid)
            tr.reply(replies, rtt * rng.uniform(1, 2))
            self.quit(sid, closed=True)
            self.fail_log(mail, attempt)
            tr.raw(traceback([self.app_frame(step="send"), *SEND_FRAMES],
                             f"smtplib.SMTPSenderRefused: {_reply_tuple(replies, mail.sender)}"))
            world.evidence("rate_limit", begin, inst)
            return "rate_limited"
        tr.reply(prov.mail_ok(sid), rtt * rng.uniform(1, 2))
        tr.send(f"rcpt TO:<{mail.to}>")
        tr.reply(prov.rcpt_ok(sid), rtt * rng.uniform(1, 2))
        tr.send("data")
        tr.reply(prov.data_go(sid), rtt * rng.uniform(1, 2), data=True)
        tr.send_body(_dot_terminated(body))
        tr.reply(prov.data_ok(sid, mail.message_id, tr.t), rng.uniform(0.12, 0.45), data=True)
        self.sent.append(tr.t)
        self.quit(sid, closed=False)
        tr.t += rng.uniform(0.0005, 0.002)
        tr.log("INFO", f"sent {mail.label} in {tr.t - begin:.2f}s")
        world.outputs.counts["messages"] += 1
        return "ok"

    def quit(self, sid: str, closed: bool) -> None:
        self.tr.send("QUIT")
        if not closed:
            self.tr.reply(self.inst.provider.quit(sid), self.inst.provider.rtt * self.rng.uniform(0.9, 1.4))

    def fail_log(self, mail: Mail, attempt: int) -> None:
        self.tr.t += self.rng.uniform(0.0002, 0.001)
        self.tr.log("ERROR", f"send failed {mail.label} attempt={attempt}")

    def message(self, mail: Mail) -> bytes:
        """Return the message as ``send_message`` flattens an ``EmailMessage`` built with ``set_content``."""
        t = self.tr.t
        mail.date = t
        mail.message_id = f"<{int(t * 100)}.{self.rng.randint(7, 60)}.{self.rng.randint(10**18, 10**19 - 1)}@{self.inst.pod}>"
        message = EmailMessage()
        message["From"] = mail.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = _mail_date(t)
        message["Message-ID"] = mail.message_id
        message.set_content("\n".join(mail.lines) + "\n")
        buffer = io.BytesIO()
        BytesGenerator(buffer, policy=message.policy.clone(linesep="\r\n")).flatten(message, linesep="\r\n")
        return buffer.getvalue()

    # Work loops -------------------------------------------------------------

    def run_interactive(self, jobs: list[float]) -> None:
        """Send each job when it arrives and retry failures with back-off, up to four attempts."""
        inst, tr, rng = self.inst, self.tr, self.rng
        events = self.world.restarts(inst)
        queue: list[tuple[float, int, int, Mail]] = []
        arrived: dict[Mail, float] = {}
        for n, t in enumerate(jobs):
            mail = support_mail(rng, inst.identity or "")
            arrived[mail] = t
            queue.append((t, n, 1, mail))
        heapq.heapify(queue)
        serial = len(jobs)

        tr.t = WEEK_START
        self.token_at = WEEK_START - rng.uniform(0, 3000)  # the token in hand when the week starts
        self.token = fake.google_token(rng)

        while queue:
            due, _, attempt, mail = heapq.heappop(queue)
            start = max(due, tr.t)
            if start >= WEEK_END:
                break  # the logs were collected at the end of the week
            while events and events[0][0] <= start:
                when, version = events.pop(0)
                self.start(max(when, tr.t), version)
            tr.t = max(start, tr.t)

            if inst.auth == "xoauth2" and tr.t - self.token_at >= REFRESH_AFTER and not self.refresh_broken(tr.t):
                self.refresh()
            if tr.t - arrived[mail] > MAX_QUEUE_AGE:
                tr.log("WARNING", f"dropping {mail.label} after {(tr.t - arrived[mail]) / 3600:.0f}h in the queue")
                continue
            result = self.session(mail, attempt)
            if len(tr.lines) >= FLUSH_LINES:
                self.world.collect(inst, tr.lines)
            if result == "ok":
                continue

            if attempt <= len(RETRIES):
                delay = RETRIES[attempt - 1] * rng.uniform(0.8, 1.2)
                tr.t += rng.uniform(0.001, 0.004)
                tr.log("WARNING", f"retrying {mail.label} in {delay:.0f}s")
                serial += 1
                heapq.heappush(queue, (tr.t + delay, serial, attempt + 1, mail))
            else:
                tr.t += rng.uniform(0.001, 0.004)
                tr.log("ERROR", f"giving up on {mail.label} after {attempt} attempts")
        self.world.collect(inst, tr.lines)

    def run_batches(self, scale: float) -> None:
        """Send the invoice run each weekday morning, one connection per invoice."""
        inst, tr, rng = self.inst, self.tr, self.rng
        assert inst.batch is not None
        hour, minute, size = inst.batch
        tr.t = WEEK_START
        left: list[Mail] = []
        number = 4100 if inst.network == "prod" else 900100
        bursty_days = self.world.scenario.burst.get(inst.key, [])
        for day in range(5):
            tr.t = max(tr.t, at(day, hour, minute, rng.uniform(0, 40)))
            count = max(1, int(round(size * scale * rng.uniform(0.85, 1.15))))
            run = left + [invoice_mail(rng, inst.identity or "", number + i) for i in range(count)]
            number += count
            left = []
            tr.log("INFO", f"invoice run started, {len(run)} invoices", name="billing.batch")
            pace = 0.0 if day in bursty_days else inst.pace
            consecutive, sent, throttled, queue = 0, 0, 0, deque((mail, 1) for mail in run)
            while queue:
                mail, attempt = queue.popleft()
                result = self.session(mail, attempt)
                if len(tr.lines) >= FLUSH_LINES:
                    self.world.collect(inst, tr.lines)
                if result == "ok":
                    sent += 1
                    consecutive = 0
                    tr.t += pace * rng.uniform(0.9, 1.1) if pace else rng.uniform(0.01, 0.05)
                    continue
                consecutive += 1
                if result == "rate_limited":
                    tr.t += rng.uniform(0.001, 0.004)
                    tr.log("WARNING", f"requeued {mail.label}, pausing 20s")
                    tr.t += 20 * rng.uniform(0.95, 1.05)
                    throttled += 1
                    if throttled >= 3:  # the worker's adaptive pacing kicks in
                        pace = max(pace, 2.0)
                    queue.appendleft((mail, attempt + 1))
                    continue
                if consecutive >= 5:
                    left = [mail] + [m for m, _ in queue]
                    tr.t += rng.uniform(0.001, 0.004)
                    tr.log("ERROR", f"aborting invoice run after {consecutive} failed sends in a row, "
                                    f"{len(left)} invoices left for the next run", name="billing.batch")
                    break
                if attempt < 3:
                    delay = RETRIES[attempt - 1] * rng.uniform(0.8, 1.2)
                    tr.t += rng.uniform(0.001, 0.004)
                    tr.log("WARNING", f"retrying {mail.label} in {delay:.0f}s")
                    tr.t += delay
                    queue.appendleft((mail, attempt + 1))
                else:
                    tr.log("ERROR", f"giving up on {mail.label} after {attempt} attempts")
            else:
                tr.t += rng.uniform(0.01, 0.05)
                tr.log("INFO", f"invoice run finished, {sent} sent", name="billing.batch")
        self.world.collect(inst, tr.lines)


def _mail_date(t: float) -> str:
    text = rfc2822(t)  # email.utils.format_datetime pads the day to two digits
    day, rest = text.split(", ", 1)
    number, rest = rest.split(" ", 1)
    return f"{day}, {int(number):02d} {rest}"


def _dot_terminated(body: bytes) -> bytes:
    return body.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def _reply_tuple(lines: list[str], sender: str | None = None) -> str:
    code = int(lines[-1][:3])
    message = b"\n".join(text[4:].strip(" \t\r\n").encode() for text in lines)
    return repr((code, message, sender)) if sender is not None else repr((code, message))


# ---------------------------------------------------------------------------
# Node workers (nodemailer) and the relay


class NodeWorker:
    """A Node.js worker that sends through nodemailer with ``logger`` and ``debug`` on."""

    def __init__(self, inst: Instance, world: World) -> None:
        self.inst = inst
        self.world = world
        self.rng = world.rng_for(inst)
        self.tr = NodeTranscript(self.rng)
        self.dns_until = -1.0

    def session(self, mail: Mail) -> None:
        tr, inst, prov, rng = self.tr, self.inst, self.inst.provider, self.rng
        tr.line("DEBUG", sending_using(), cid=False)
        tr.cid = fake.nodemailer_id(rng)
        address = rng.choice(prov.addresses)
        hit = tr.t < self.dns_until
        if not hit:
            self.dns_until = tr.t + 300
        tr.tick(0.001, 0.02 if hit else 0.06)
        tr.line("DEBUG", f"Resolved {prov.host} as {address} [cache {'hit' if hit else 'miss'}]")
        tr.t += prov.rtt * rng.uniform(1, 2)
        tr.line("INFO", f"Connection established to {address}:{inst.port}")
        sid = prov.session(rng)
        rtt = prov.rtt
        ip = EGRESS[inst.network] if prov is not RELAY else "10.20.3.14"

        tr.server(prov.greeting(sid, tr.t), rtt * rng.uniform(1, 3))
        tr.client(f"EHLO {inst.pod}")
        tr.server(prov.ehlo(sid, ip, False), rtt * rng.uniform(0.9, 1.5))
        tr.client("STARTTLS")
        tr.server(prov.starttls(sid), rtt * rng.uniform(0.9, 1.5))
        tr.t += rtt * 2 + rng.uniform(0.003, 0.012)
        tr.line("INFO", "Connection upgraded with STARTTLS")
        tr.client(f"EHLO {inst.pod}")
        tr.server(prov.ehlo(sid, ip, True), rtt * rng.uniform(0.9, 1.5))
        tr.line("DEBUG", "SMTP handshake finished")

        if inst.auth == "login":
            tr.client("AUTH LOGIN")
            tr.server(["334 VXNlcm5hbWU6"], rtt * rng.uniform(1, 2))
            tr.client(fake.b64(inst.identity or ""))
            tr.server(["334 UGFzc3dvcmQ6"], rtt * rng.uniform(1, 2))
            tr.client(fake.b64("/* secret */"))
            tr.server(prov.auth_ok(sid), rtt * rng.uniform(3, 6))
            tr.line("INFO", f'User "{inst.identity}" authenticated')

        mail.date = tr.t
        mail.message_id = f"<{fake.uuid_like(rng)}@acme.example>"
        source = [f"From: {mail.sender}", f"To: {mail.to}", f"Subject: {mail.subject}",
                  f"Message-ID: {mail.message_id}", "Content-Transfer-Encoding: 7bit", f"Date: {_mail_date(tr.t)}",
                  "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "", *mail.lines]
        tr.line("INFO", f"Sending message {mail.message_id} to <{mail.to}>", cid=False)
        tr.client(f"MAIL FROM:<{mail.sender}>")
        tr.server(prov.mail_ok(sid), rtt * rng.uniform(1, 2))
        tr.client(f"RCPT TO:<{mail.to}>")
        tr.server(prov.rcpt_ok(sid), rtt * rng.uniform(1, 2))
        tr.client("DATA")
        tr.server(prov.data_go(sid), rtt * rng.uniform(1, 2))

        for text in source:
            tr.line("DEBUG", text)
        tr.line("DEBUG", ".")
        # nodemailer counts the body with LF line ends and adds CRs when it encodes (see the captures)
        size = sum(len(text) + 2 for text in source[:9]) + len("\n".join(mail.lines)) + 2
        tr.line("INFO", f"<{size + len(mail.lines) - 1 + 3} bytes encoded mime message (source size {size} bytes)>")

        queue_id = ""
        accepted_at = tr.t + (rng.uniform(0.02, 0.08) if prov is RELAY else rng.uniform(0.3, 1.2))
        if prov is RELAY:
            # Postfix's size counts the Received: header it adds, about 210 bytes here
            queue_id = self.world.relay.receive(tr.t - rtt * 8, accepted_at, mail, size + 200 + len(mail.to))
        tr.server(prov.data_ok(sid, mail.message_id, accepted_at, queue_id), accepted_at - tr.t)
        tr.tick(0.0005, 0.003)
        tr.line("DEBUG", 'Closing connection to the server using "end"')
        self.world.outputs.counts["messages"] += 1

    def run(self, jobs: list[float]) -> None:
        tr, rng = self.tr, self.rng
        tr.t = WEEK_START
        for due in jobs:
            tr.t = max(tr.t, due)
            self.session(welcome_mail(rng, self.inst.identity or "onboarding@acme.example"))
            if len(tr.lines) >= FLUSH_LINES:
                self.world.collect(self.inst, tr.lines)
        self.world.collect(self.inst, tr.lines)


class Relay:
    """The Postfix relay in prod: accepts from the onboarding mailer, delivers to recipients' MX hosts."""

    MX = {
        "example.com": ("mx.example.com", "192.0.2.41"),
        "example.net": ("mail.example.net", "198.51.100.61"),
        "example.org": ("mx01.example.org", "203.0.113.90"),
        "contoso.example": ("contoso-example.mail.protection.outlook.com", "52.101.68.14"),
        **GREYLIST_MX,
    }

    def __init__(self, world: World) -> None:
        self.world = world
        self.rng = random.Random(f"{world.seed}:relay")
        self.lines: list[tuple[float, str]] = []
        self.passed: set[tuple[str, str]] = set()
        self.grey_first: dict[tuple[str, str], float] = {}
        self.smtpd_pid = 21873
        self.qmgr_pid = 1187
        self.cleanup_pid = 21880
        self.next_pid = 21890

    def _pid(self) -> int:
        self.next_pid += self.rng.randint(1, 9)
        return self.next_pid

    def log(self, t: float, program: str, pid: int, text: str) -> None:
        self.lines.append((t, maillog.line(t, "relay", program, pid, text)))

    def receive(self, t: float, accepted: float, mail: Mail, size: int) -> str:
        """Log the relay's side of one submission; return the queue id it printed."""
        rng = self.rng
        if rng.random() < 0.08:
            self.smtpd_pid = self._pid()
        client = "unknown[10.20.3.14]"
        qid = fake.postfix_queue_id(rng)
        pid = self.smtpd_pid
        self.log(t, "smtpd", pid, f"connect from {client}")
        self.log(t + 0.02, "smtpd", pid, f"Anonymous TLS connection established from {client}: TLSv1.3 with cipher "
                                         "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
                                         "server-signature ECDSA (prime256v1) server-digest SHA256")
        self.log(t + 0.03, "smtpd", pid, f"{qid}: client={client}")
        self.log(accepted - 0.01, "cleanup", self.cleanup_pid, f"{qid}: message-id={mail.message_id}")
        self.log(accepted, "qmgr", self.qmgr_pid, f"{qid}: from=<{mail.sender}>, size={size}, nrcpt=1 (queue active)")
        # nodemailer closes with "end", not QUIT, so the counts stop at data
        self.log(accepted + 0.05, "smtpd", pid, f"disconnect from {client} ehlo=2 starttls=1 mail=1 rcpt=1 data=1 "
                                                "commands=6")
        self.deliver(qid, mail, size, received=t + 0.03, active=accepted, attempt=1)
        return qid

    def deliver(self, qid: str, mail: Mail, size: int, received: float, active: float, attempt: int) -> None:
        rng, world = self.rng, self.world
        domain = mail.to.split("@")[1]
        mx, ip = self.MX[domain]
        pid = self._pid() if rng.random() < 0.3 else self.next_pid
        a = active - received
        b = rng.uniform(0.004, 0.02)
        c = rng.uniform(0.15, 0.6)
        d = rng.uniform(0.1, 0.5)
        end = active + b + c + d

        self.log(active + b + c * 0.8, "smtp", pid, f"Untrusted TLS connection established to {mx}[{ip}]:25: TLSv1.3 "
                                                     "with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange "
                                                     "X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256")
        grey = world.scenario.greylist
        triplet = (mail.sender, mail.to)
        timing = (f"delay={maillog.delay_text(end - received)}, delays={maillog.delay_text(a)}/"
                  f"{maillog.delay_text(b)}/{maillog.delay_text(c)}/{maillog.delay_text(d)}")

        if grey and domain == grey[0] and active >= grey[1] and triplet not in self.passed:
            first = self.grey_first.setdefault(triplet, active)
            if active - first < GREYLIST_DELAY:
                self.log(end, "smtp", pid, f"{qid}: to=<{mail.to}>, relay={mx}[{ip}]:25, {timing}, dsn=4.7.1, "
                                           f"status=deferred (host {mx}[{ip}] said: 451 4.7.1 Greylisting in action, "
                                           "please come back later (in reply to RCPT TO command))")
                world.evidence_relay("greylisting", active, mx)
                retry = end + GREYLIST_DELAY + rng.uniform(5, 420)
                self.log(retry, "qmgr", self.qmgr_pid, f"{qid}: from=<{mail.sender}>, size={size}, nrcpt=1 (queue active)")
                self.deliver(qid, mail, size, received, retry, attempt + 1)
                return
            self.passed.add(triplet)

        if rng.random() < 0.012:
            self.log(end, "smtp", pid, f"{qid}: to=<{mail.to}>, relay={mx}[{ip}]:25, {timing}, dsn=5.1.1, "
                                       f"status=bounced (host {mx}[{ip}] said: 550 5.1.1 <{mail.to}>: Recipient "
                                       "address rejected: User unknown (in reply to RCPT TO command))")
            self.bounce(qid, mail, end)
            self.log(end + 0.0045, "qmgr", self.qmgr_pid, f"{qid}: removed")
            return
        else:
            self.log(end, "smtp", pid, f"{qid}: to=<{mail.to}>, relay={mx}[{ip}]:25, {timing}, dsn=2.0.0, "
                                       f"status=sent (250 2.0.0 Ok: queued as {fake.hexid(rng, 10, upper=True)})")
        self.log(end + 0.001, "qmgr", self.qmgr_pid, f"{qid}: removed")

    def bounce(self, qid: str, mail: Mail, t: float) -> None:
        rng = self.rng
        notice = fake.postfix_queue_id(rng)
        pid = self._pid()
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(int(t)))
        self.log(t + 0.002, "cleanup", self.cleanup_pid, f"{notice}: message-id=<{stamp}.{notice}@relay.internal>")
        self.log(t + 0.003, "bounce", pid, f"{qid}: sender non-delivery notification: {notice}")
        self.log(t + 0.004, "qmgr", self.qmgr_pid, f"{notice}: from=<>, size={rng.randint(2450, 2900)}, nrcpt=1 (queue active)")
        mx, ip = "acme-example.mail.protection.outlook.com", "52.101.73.11"
        c, d = rng.uniform(0.2, 0.5), rng.uniform(0.2, 0.6)
        self.log(t + 0.01 + c + d, "smtp", self._pid(),
                 f"{notice}: to=<{mail.sender}>, relay={mx}[{ip}]:25, delay={maillog.delay_text(c + d + 0.01)}, "
                 f"delays=0.01/0/{maillog.delay_text(c)}/{maillog.delay_text(d)}, dsn=2.6.0, status=sent "
                 f"(250 2.6.0 <{stamp}.{notice}@relay.internal> [InternalId={rng.randint(10**12, 10**13)}, "
                 f"Hostname=AM9PR04MB{rng.randint(1000, 9999)}.eurprd04.prod.outlook.com] Queued mail for delivery)")
        self.log(t + 0.012 + c + d, "qmgr", self.qmgr_pid, f"{notice}: removed")


# ---------------------------------------------------------------------------


class World:
    """Everything one run shares: the scenario, random streams, the relay and the outputs."""

    def __init__(self, scenario: Scenario, seed: int, scale: float, root: Path) -> None:
        self.scenario = scenario
        self.seed = seed
        self.scale = scale
        self.root = root
        self.outputs = Outputs()
        self._handles: dict[str, TextIO] = {}
        self._day: dict[str, str] = {}
        self.sent_window: dict[str, deque[float]] = defaultdict(deque)
        self.relay = Relay(self)
        self.instances = fleet()

    def rng_for(self, inst: Instance) -> random.Random:
        return random.Random(f"{self.seed}:{inst.network}:{inst.worker}")

    def restarts(self, inst: Instance) -> list[tuple[float, str]]:
        tb = self.scenario.token_break
        if tb is None or (tb.network, tb.worker) != (inst.network, inst.worker):
            return []
        return [(tb.deployed, tb.bad_version), *[(t, tb.bad_version) for t in tb.restarts], (tb.fixed, tb.good_version)]

    def evidence(self, kind: str, t: float, inst: Instance) -> None:
        self.outputs.evidence[kind].add(t, inst.identity, inst.provider.host, inst.worker)

    def evidence_relay(self, kind: str, t: float, host: str) -> None:
        self.outputs.evidence[kind].add(t, None, host, "relay")

    def collect(self, inst: Instance, lines: list[tuple[float, str]]) -> None:
        """Write a worker's lines to its day files and empty the list.

        A session stays in the file of the day it started, even when it runs
        past midnight, so the day carries over between calls.
        """
        day = self._day.get(inst.key)
        for t, text in lines:
            if day is None or _opens_unit(text):
                day = day_of(t)
            self.write(f"{inst.network}/{inst.worker}/{day}.log", t, text)
        if day is not None:
            self._day[inst.key] = day
        lines.clear()

    def write(self, name: str, t: float, text: str) -> None:
        """Append one line to the file ``name`` under the output folder."""
        handle = self._handles.get(name)
        if handle is None:
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = self._handles[name] = open(path, "w", encoding="utf-8", newline="\n")
        handle.write(text)
        handle.write("\n")
        self.outputs.files[name] += 1
        self.outputs.last[name] = t

    def close(self) -> None:
        """Close every file and set its modification time to its last line, as a log file would have."""
        for name, handle in self._handles.items():
            handle.close()
            last = self.outputs.last[name]
            os.utime(self.root / name, (last, last))
        self._handles.clear()

    def run(self) -> Outputs:
        """Simulate every worker in turn, write the relay log, close the files and return the outputs."""
        for inst in self.instances:
            if inst.library == "smtplib":
                worker = PythonWorker(inst, self)
                if inst.batch:
                    worker.run_batches(self.scale)
                else:
                    worker.run_interactive(arrivals(random.Random(f"{self.seed}:{inst.key}:load"), inst.per_day, self.scale))
            else:
                worker = NodeWorker(inst, self)
                worker.tr.t = WEEK_START
                worker.tr.line("DEBUG", creating_transport(), cid=False)
                worker.run(arrivals(random.Random(f"{self.seed}:{inst.key}:load"), inst.per_day, self.scale))
        # Relay lines are logged out of order (deliveries and retries come later), so they wait for a sort.
        for t, text in sorted(self.relay.lines, key=lambda item: item[0]):
            if t < WEEK_END:
                self.write(f"prod/relay/{day_of(t)}.log", t, text)
        self.close()
        return self.outputs


UNIT_OPENERS = (": sending ", " starting, ", ": token refreshed", ": invoice run started", ": dropping ")


def _opens_unit(text: str) -> bool:
    """Tell whether a line starts a new unit (a send or a start-up).

    Other lines, such as a traceback or the retry notice after a failed
    send, stay in the file of the unit they follow.
    """
    if text.startswith("["):
        return "Sending mail using" in text or "Creating transport" in text
    return text[:4].isdigit() and text[4:5] == "-" and any(opener in text for opener in UNIT_OPENERS)

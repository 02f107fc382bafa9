"""Failed Postfix attempts kept as fields (formats/_postfix_attempts.py) give the rows of the general code.

When the reader wants rows, a failed attempt keeps its failure as fields
and takes its failure columns from an earlier attempt with the same
failure.  The generated logs below repeat each failure in other
surroundings: every failure kind, the same reason on another port or TLS
mode or after a message was sent, several recipients over one connection,
cached connections, LMTP sockets, and clocks that step back.  Each read is
compared with the rows built from every session's events, which is the
general code.
"""

from __future__ import annotations

import random

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

import smtplogkit
from smtplogkit import sessions
from smtplogkit.formats import _mta
from smtplogkit.formats.base import ParseContext
from smtplogkit.labels import Stage, TlsMode
from smtplogkit.records import TLS_OK, Line
from smtplogkit.formats import _postfix_attempts as attempts

from test_fast_paths import POSTFIX_INPUTS, _filler, _general_frame, by_line  # the same directory, which pytest puts on the path

# One relay listens on three ports, so the same reason comes on each.
RELAYS = [("mx.example.org", "198.51.100.10", "25"), ("mx.example.net", "198.51.100.20", "25"),
          ("smtp.example.com", "203.0.113.7", "465"), ("smtp.example.com", "203.0.113.7", "587"),
          ("smtp.example.com", "203.0.113.7", "25"), ("mx6.example.com", "2001:db8::25", "25")]
LMTP = ("mail.example", "private/dovecot-lmtp", None)

# Reasons of a delivery record after a connection, with {host} and {ip} filled in.  The RCPT TO
# rejections name the recipient, so some reasons repeat and some do not.
CONNECTED_REASONS = [
    "host {host}[{ip}] said: 421 4.7.0 [TS01] Messages temporarily deferred due to user complaints "
    "(in reply to MAIL FROM command)",
    "host {host}[{ip}] said: 554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using "
    "zen.spamhaus.org (in reply to RCPT TO command)",
    "host {host}[{ip}] said: 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
    "host {host}[{ip}] said: 450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted (in reply to RCPT TO command)",
    "host {host}[{ip}] said: 421-4.7.28 Our system has detected an unusual rate of unsolicited mail "
    "(in reply to end of DATA command)",
    "host {host}[{ip}] said: 552 Message size exceeds fixed limit (in reply to end of DATA command)",
    "host {host}[{ip}] said: 530 Must issue a STARTTLS command first (in reply to MAIL FROM command)",
    "host {host}[{ip}] said: 535 5.7.8 Error: authentication failed (in reply to AUTH command)",
    "host {host}[{ip}] said: 451 Temporary local problem - please try later",
    "host {host}[{ip}] refused to talk to me: 554 5.7.1 Access denied",
    "lost connection with {host}[{ip}] while receiving the initial server greeting",
    "lost connection with {host}[{ip}] while performing the EHLO handshake",
    "conversation with {host}[{ip}] timed out while sending end of data -- message may be sent more than once",
    "conversation with {host}[{ip}] timed out while receiving the initial server greeting",
    "TLS is required, but was not offered by host {host}[{ip}]",
    "SASL authentication failed; server {host}[{ip}] said: 535 5.7.8 Error: authentication failed",
    "Cannot start TLS: handshake failure",
    "Server certificate not verified",
    "connect to {host}[{ip}]:25: Connection refused",
    "Host or domain name not found. Name service error for name=example.invalid type=MX: Host not found",
    "delivery temporarily suspended: lost connection with {host}[{ip}] while receiving the initial server greeting",
    "unusual reason text that names no failure",
]
# Failures an smtp process logs with the queue id before the delivery record, with no DSN code.
EARLY_REASONS = [
    "lost connection with {host}[{ip}] while sending RCPT TO",
    "conversation with {host}[{ip}] timed out while receiving the initial server greeting",
    "host {host}[{ip}] said: 451 Temporary local problem - please try later (in reply to MAIL FROM command)",
]
CONNECT_ERRORS = ["Connection timed out", "Connection refused", "Network is unreachable", "No route to host"]
# Reasons of a record with relay=none.
UNCONNECTED_REASONS = [
    "connect to {host}[{ip}]:25: Connection timed out",
    "Host or domain name not found. Name service error for name=example.invalid type=MX: Host not found, try again",
    "Host or domain name not found. Name service error for name=example.invalid type=A: Host not found",
    "delivery temporarily suspended: connect to {host}[{ip}]:25: Connection refused",
]


# The process whose lines are written without their syslog envelope.
BARE_PID = 305


class _Writer:
    """Lines of a few smtp and lmtp processes, with a clock that now and then steps back."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.lines = _filler(450)  # past the sample, which the reader strips before the prefilter runs
        self.second = 0
        self.queue = 0

    def stamp(self) -> str:
        rng = self.rng
        self.second += rng.choice([0, 0, 1, 2])
        if rng.random() < 0.03:
            self.second = max(self.second - rng.randint(1, 90), 0)  # the clock steps back
        second = self.second % 3600
        return f"Dec  4 21:{second // 60:02d}:{second % 60:02d}"

    def add(self, pid: int, text: str, service: str = "smtp") -> None:
        if pid == BARE_PID:
            self.lines.append(text)  # no syslog envelope: no time, host or process id
            return
        self.lines.append(f"{self.stamp()} mx1 postfix/{service}[{pid}]: {text}")

    def qid(self) -> str:
        self.queue += 1
        return f"{0x30000 + self.queue:X}C"

    def record(self, pid: int, qid: str, rcpt: str, relay: str, dsn: str, status: str, reason: str,
               service: str = "smtp") -> None:
        conn = " conn_use=2," if self.rng.random() < 0.15 else ""
        self.add(pid, f"{qid}: to=<{rcpt}>, relay={relay},{conn} delay=1.5, delays=0.1/0/0.7/0.7, dsn={dsn}, "
                      f"status={status} ({reason})", service)


def _relay_text(host: str, ip: str, port: str | None) -> str:
    return f"{host}[{ip}]:{port}" if port else f"{host}[{ip}]"


def _dsn_status(reason: str, rng: random.Random) -> tuple[str, str]:
    if " 5" in reason[:60] and "said: 5" in reason:
        return rng.choice(["5.7.1", "5.1.1", "5.0.0"]), "bounced"
    return rng.choice(["4.4.2", "4.7.0", "4.0.0"]), "deferred"


def _step(writer: _Writer, pid: int) -> None:
    """Write one attempt (or a few) of process ``pid``."""
    rng = writer.rng
    host, ip, port = rng.choice(RELAYS)
    qid = writer.qid()
    rcpt = f"r{rng.randint(0, 40)}@example.org"
    roll = rng.random()

    if roll < 0.15:  # an attempt that went well
        writer.add(pid, f"Trusted TLS connection established to {host}[{ip}]:{port}: TLSv1.3 with cipher X")
        writer.record(pid, qid, rcpt, _relay_text(host, ip, port), "2.0.0", "sent", "250 2.0.0 Ok: queued")
        return
    if roll < 0.6:  # a connection, maybe TLS, then one or more delivery records
        if rng.random() < 0.6:
            writer.add(pid, f"Verified TLS connection established to {host}[{ip}]:{port}: TLSv1.3 with cipher X")
        relay = _relay_text(host, ip, port)
        first = rcpt
        if rng.random() < 0.3:  # a message sent before the failure, over the same connection
            writer.record(pid, qid, rcpt, relay, "2.0.0", "sent", "250 2.0.0 Ok: queued")
            first = f"s{rng.randint(0, 40)}@example.org"
        reason = rng.choice(CONNECTED_REASONS).format(host=host, ip=ip, rcpt=first)
        dsn, status = _dsn_status(reason, rng)
        if rng.random() < 0.2:  # the failure logged on its own first, without a DSN code
            early = rng.choice([reason, *(text.format(host=host, ip=ip) for text in EARLY_REASONS)])
            writer.add(pid, f"{qid}: {early}")
        writer.record(pid, qid, first, relay, dsn, status, reason)
        for n in range(rng.choice([0, 0, 1, 2, 3])):  # more recipients of the same connection
            other = f"m{n}{rng.randint(0, 9)}@example.org"
            kind = rng.random()
            if kind < 0.4:
                writer.record(pid, qid, other, relay, dsn, status, reason)  # the last reason again
            elif kind < 0.8:
                reason = rng.choice(CONNECTED_REASONS).format(host=host, ip=ip, rcpt=other)
                dsn, status = _dsn_status(reason, rng)
                writer.record(pid, qid, other, relay, dsn, status, reason)
            else:
                writer.record(pid, qid, other, relay, "2.0.0", "sent", "250 2.0.0 Ok: queued")
        if rng.random() < 0.05:
            writer.add(pid, f"{qid}: enabling PIX workarounds for {host}[{ip}]:25")
        return
    if roll < 0.8:  # connection attempts that failed, then the record that names the last one
        tried = [rng.choice(RELAYS) for _ in range(rng.choice([1, 1, 2, 3]))]
        for h, i, _ in tried:
            writer.add(pid, f"connect to {h}[{i}]:25: {rng.choice(CONNECT_ERRORS)}")
        last = writer.lines[-1].split(": ", 1)[1]
        if rng.random() < 0.85:
            reason = last
        else:  # a reason that names none of the attempts
            reason = rng.choice(UNCONNECTED_REASONS).format(host=host, ip=ip)
        if rng.random() < 0.1:
            reason = "delivery temporarily suspended: " + reason
        for n in range(rng.choice([1, 1, 1, 2])):
            writer.record(pid, qid, f"c{n}{rng.randint(0, 9)}@example.org", "none", rng.choice(["4.4.1", "4.4.3"]),
                          "deferred", reason)
        return
    if roll < 0.88:  # a record with relay=none and no line of its own before it
        reason = rng.choice(UNCONNECTED_REASONS).format(host=host, ip=ip)
        writer.record(pid, qid, rcpt, "none", rng.choice(["4.4.1", "4.4.3", "5.4.4"]), "deferred", reason)
        return
    if roll < 0.94:  # a TLS failure, then the record
        writer.add(pid, "warning: TLS library problem: error:0A000086:SSL routines::certificate verify failed")
        if rng.random() < 0.5:
            writer.add(pid, f"SSL_connect error to {host}[{ip}]:{port}: -1")
        else:
            writer.add(pid, f"server certificate verification failed for {host}[{ip}]:{port}: num=10:certificate has expired")
            if rng.random() < 0.5:
                writer.add(pid, f"Trusted TLS connection established to {host}[{ip}]:{port}: TLSv1.3 with cipher X")
        reason = rng.choice(["Cannot start TLS: handshake failure", "Server certificate not verified",
                             f"lost connection with {host}[{ip}] while performing the TLS handshake"])
        writer.record(pid, qid, rcpt, _relay_text(host, ip, port), "4.7.5", "deferred", reason)
        return
    # An LMTP delivery over a socket.
    lmtp_host, socket, _ = LMTP
    reason = rng.choice([f"host {lmtp_host}[{socket}] said: 452 4.2.2 <{rcpt}> Mailbox is full (in reply to end of DATA command)",
                         f"lost connection with {lmtp_host}[{socket}] while receiving the initial server greeting",
                         f"host {lmtp_host}[{socket}] said: 451 4.3.0 Temporary internal failure (in reply to RCPT TO command)"])
    relay = _relay_text(lmtp_host, socket, None)
    writer.record(pid, qid, rcpt, relay, "4.2.2", "deferred", reason, "lmtp")
    if rng.random() < 0.3:
        writer.record(pid, qid, f"l{rng.randint(0, 9)}@example.org", relay, "2.0.0", "sent", "250 2.0.0 Saved", "lmtp")


def _maillog(seed: int, steps: int) -> str:
    writer = _Writer(seed)
    for _ in range(steps):
        _step(writer, writer.rng.randint(300, 305))
    return "\n".join(writer.lines) + "\n"


def _count_calls(monkeypatch, module, name: str) -> list[int]:
    """Count the calls of ``module.name`` from here on, in a one-item list."""
    calls = [0]
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def _read_compared(path) -> pd.DataFrame:
    """Read ``path`` as rows, check the frame against the rows built from events, and return it."""
    fast = smtplogkit.read_logs(path, format="postfix", progress=False, cache="")
    general = _general_frame(path, format="postfix", progress=False)
    pd.testing.assert_frame_equal(by_line(fast), by_line(general), check_exact=True)
    assert fast.attrs == general.attrs
    return fast


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_failure_rows_equal_general_rows(tmp_path, monkeypatch, seed):
    path = tmp_path / "maillog-2026-12-04"
    path.write_text(_maillog(seed, 3000))
    built = _count_calls(monkeypatch, attempts, "failure_row")
    computed = _count_calls(monkeypatch, attempts, "_failure_columns")
    fast = _read_compared(path)
    failed = int((fast["outcome"] != "ok").sum())
    assert failed > 1500
    # Most failed attempts were built from fields, and many took their failure columns from an earlier one.
    assert built[0] > failed // 2
    assert computed[0] < built[0] // 2


@pytest.mark.parametrize("seed", [6, 7])
def test_failure_rows_with_nothing_kept(tmp_path, monkeypatch, seed):
    # Each failure kept is forgotten at the next, so nearly every row computes its failure columns.
    monkeypatch.setattr(attempts, "MAX_FAILURES_KEPT", 1)
    monkeypatch.setattr(attempts, "_FAILURE_COLUMNS", {})
    monkeypatch.setattr(attempts, "_CONNECT_FAILURE_COLUMNS", {})
    path = tmp_path / "maillog-2026-12-04"
    path.write_text(_maillog(seed, 1500))
    built = _count_calls(monkeypatch, attempts, "failure_row")
    computed = _count_calls(monkeypatch, attempts, "_failure_columns")
    _read_compared(path)
    assert built[0] > 500
    assert computed[0] > built[0] * 3 // 4


@pytest.mark.parametrize("path", POSTFIX_INPUTS, ids=lambda p: p.name)
def test_failure_rows_on_fixtures(path):
    _read_compared(path)


# (port, TLS mode, message sent first, stage, reason, DSN code, seconds from connection to failure)
SINGLE_FAILURES = [
    (25, TlsMode.STARTTLS, False, Stage.RCPT_TO, "host h[192.0.2.1] said: 550 5.1.1 User unknown (in reply to RCPT TO command)",
     "5.1.1", 2),
    (25, None, True, Stage.RCPT_TO, "host h[192.0.2.1] said: 450 Greylisted (in reply to RCPT TO command)", "4.2.0", 2),
    (465, None, False, Stage.GREETING, "lost connection with h[192.0.2.1] while receiving the initial server greeting",
     "4.4.2", 30),
    (465, TlsMode.IMPLICIT, False, Stage.TLS, "Cannot start TLS: handshake failure", None, 1),
    (587, TlsMode.STARTTLS, False, Stage.DATA, "conversation with h[192.0.2.1] timed out while sending end of data",
     "4.4.2", -3),  # the clock stepped back
    (None, None, False, Stage.DNS, "Host or domain name not found. Name service error for name=x type=MX: Host not found",
     "5.4.4", 0),
]


@pytest.mark.parametrize("port, mode, sent, stage, reason, dsn, seconds", SINGLE_FAILURES)
def test_single_failure_columns_equal_local_row(port, mode, sent, stage, reason, dsn, seconds):
    ctx = ParseContext("maillog")
    start = datetime(2026, 12, 4, 21, 0, 5, tzinfo=timezone.utc)
    failed_at = start + timedelta(seconds=seconds)
    first = Line(10, "connected", start, "mx1")
    attempt = _mta.connected(ctx, first, "h", "192.0.2.1", port, **({"tls_mode": mode} if mode else {}))
    stamps = [(Stage.CONNECT, start)]
    passed = {Stage.CONNECT}
    if mode is not None:
        attempt.add(_mta.local_event(first, TLS_OK, "tls", attempt.key))
        stamps.append((Stage.TLS, start))
        passed.add(Stage.TLS)
    if sent:
        sent_line = Line(11, "sent", start + timedelta(seconds=1), "mx1")
        _mta.add_sent(ctx, sent_line, attempt, "250 2.0.0 Ok")
        stamps.append((Stage.DATA, sent_line.ts))
        passed.add(Stage.DATA)
    failure = Line(12, "record", failed_at, "mx1")
    if stage is Stage.DNS:
        _mta.add_note(ctx, failure, attempt, "a note, which adds no stage")
        attempt.add(ctx.error(failure, reason, attempt.key, stage=stage.value, enhanced=dsn))
        stamps.append((None, failed_at))
    elif stage is Stage.TLS:
        attempt.add(ctx.error(failure, reason, attempt.key, stage=stage.value, enhanced=dsn, connected=True))
    else:
        _mta.add_reply_failure(ctx, failure, attempt, reason, stage, dsn)
    stamps.append((None, failed_at))
    attempt.annotate(queue_id="4F2B1C0A3D", recipients=1)
    expected = sessions.local_row(attempt.events)

    error = attempt.events[-1]
    columns = sessions.local_failure_columns(stage, error.text, error.code, error.enhanced, True, passed,
                                             1 if sent else 0, mode, port)
    assert columns == {name: expected[name] for name in sessions.FAILURE_COLUMNS}
    attrs = {"host": "h", "ip": "192.0.2.1", "port": port, "tls_mode": mode, "log_host": "mx1",
             "queue_id": "4F2B1C0A3D", "recipients": 1}
    row = sessions.failure_row(10, attrs, stamps, 1 if sent else 0, columns)
    assert row == expected
    assert list(row) == list(expected)  # the same column order as well


def test_connect_failure_columns_equal_local_row():
    ctx = ParseContext("maillog")
    line = Line(10, "connect to", datetime(2026, 12, 4, 21, 0, 5, tzinfo=timezone.utc), "mx1")
    text = "connect to h[192.0.2.1]:25: Connection timed out"
    attempt = _mta.connect_failure(ctx, line, text, "h", "192.0.2.1", 25)
    attempt.set_enhanced("4.4.1")
    expected = sessions.local_row(attempt.events)
    columns = sessions.local_failure_columns(Stage.CONNECT, text, None, "4.4.1", False, set(), 0, None, 25)
    assert columns == {name: expected[name] for name in sessions.FAILURE_COLUMNS}
    assert columns["cause"] == "connect_timeout"


# Delivery records of one message over one connection whose reasons change the failure's stage, so the
# attempt's events are made by the second failure.  Each list is one process's lines after the stamp.
CHANGING_FAILURES = {
    "connect then dns": [
        "connect to mx.example.org[198.51.100.10]:25: Connection timed out",
        "4A1B2C3D4E: to=<a@example.org>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred "
        "(connect to mx.example.org[198.51.100.10]:25: Connection timed out)",
        "4A1B2C3D4E: to=<b@example.org>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.3, status=deferred "
        "(Host or domain name not found. Name service error for name=example.org type=MX: Host not found, try again)",
        "4A1B2C3D4E: to=<c@example.org>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.3, status=deferred "
        "(Host or domain name not found. Name service error for name=example.org type=MX: Host not found, try again)",
    ],
    "tls then connect": [
        "Trusted TLS connection established to mx.example.org[198.51.100.10]:25: TLSv1.3 with cipher X",
        "4A2B2C3D4E: to=<a@example.org>, relay=mx.example.org[198.51.100.10]:25, delay=1, delays=0/0/0/1, dsn=4.7.5, "
        "status=deferred (Cannot start TLS: handshake failure)",
        "4A2B2C3D4E: to=<b@example.org>, relay=mx.example.org[198.51.100.10]:25, delay=1, delays=0/0/0/1, dsn=4.4.1, "
        "status=deferred (connect to mx.example.org[198.51.100.10]:25: Connection refused)",
        "4A2B2C3D4E: to=<c@example.org>, relay=mx.example.org[198.51.100.10]:25, delay=1, delays=0/0/0/1, dsn=4.4.1, "
        "status=deferred (connect to mx.example.org[198.51.100.10]:25: Connection refused)",
    ],
}


@pytest.mark.parametrize("name", sorted(CHANGING_FAILURES))
def test_failure_stage_changes_on_later_record(tmp_path, name):
    lines = _filler(450) + [f"Dec  4 21:10:0{n} mx1 postfix/smtp[400]: {text}"
                            for n, text in enumerate(CHANGING_FAILURES[name])]
    path = tmp_path / "maillog-2026-12-04"
    path.write_text("\n".join(lines) + "\n")
    fast = _read_compared(path)
    assert len(fast) == 1

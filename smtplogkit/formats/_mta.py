"""Helpers shared by the MTA log readers (Postfix, Exim, Sendmail).

An MTA logs a delivery attempt across several lines, and often learns the
queue id, the status or the DSN code only after the connection attempt was
logged.  :class:`Attempt` keeps the events of one connection attempt until
the reader knows everything about it, then yields them followed by a
:class:`~smtplogkit.records.SessionEnd`.  Readers hold only the attempts in
flight, so memory grows with the connections open at one time, not with the
file.

MTA readers also define ``records(lines, ctx)``, which yields
``("delivery", dict)`` for each recipient delivery record and
``("signal", dict)`` for each sign that a server protected itself (rate
limits, too many connections, postscreen rejections).
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import replycodes as rc
from ..labels import Cause, Stage
from ..records import CONNECT, CONNECTED, ERROR, LOCAL, NOTE, SENT, Event, Line, SessionEnd, SessionRow
from ..rules import Failure, classify
from ..sessions import local_row
from .base import ParseContext, _with_envelope

# "(in reply to X command)" in Postfix, "after X" in Exim: the command a
# failing reply answered.  Longest names first so "end of DATA" wins over DATA.
COMMAND_STAGES: tuple[tuple[str, Stage], ...] = (
    ("end of data", Stage.DATA),
    ("mail from", Stage.MAIL_FROM),
    ("rcpt to", Stage.RCPT_TO),
    ("starttls", Stage.STARTTLS),
    ("data", Stage.DATA),
    ("bdat", Stage.DATA),
    ("ehlo", Stage.EHLO),
    ("helo", Stage.EHLO),
    ("lhlo", Stage.EHLO),
    ("auth", Stage.AUTH),
    ("xclient", Stage.EHLO),
    ("quit", Stage.QUIT),
    ("rset", Stage.QUIT),
)

# Stage of the activity a broken connection interrupted, as Postfix names it
# in "lost connection with H while <activity>".
ACTIVITY_STAGES: tuple[tuple[str, Stage], ...] = (
    ("initial server greeting", Stage.GREETING),
    ("ehlo", Stage.EHLO),
    ("helo", Stage.EHLO),
    ("lhlo", Stage.EHLO),
    ("starttls", Stage.STARTTLS),
    ("tls handshake", Stage.TLS),
    ("sasl", Stage.AUTH),
    ("auth", Stage.AUTH),
    ("mail from", Stage.MAIL_FROM),
    ("rcpt to", Stage.RCPT_TO),
    ("data command", Stage.DATA),
    ("message body", Stage.DATA),
    ("end of data", Stage.DATA),
    ("bdat", Stage.DATA),
    ("quit", Stage.QUIT),
)

REPLY_IN_TEXT_RE = re.compile(r"(?:^|:\s|said:\s|\s)([245]\d\d)[ -](?:([245]\.\d{1,3}\.\d{1,3})\s)?")
SENT_STATUSES = frozenset({"sent", "delivered"})


def command_stage(command: str) -> Stage | None:
    """Return the stage of an SMTP command name as MTAs print it ("RCPT TO", "end of DATA")."""
    lowered = command.lower()
    for name, stage in COMMAND_STAGES:
        if lowered.startswith(name):
            return stage
    return None


def activity_stage(activity: str) -> Stage | None:
    """Return the stage of a "while <activity>" phrase ("receiving the initial server greeting")."""
    lowered = activity.lower()
    for name, stage in ACTIVITY_STAGES:
        if name in lowered:
            return stage
    return None


def reply_in(text: str) -> tuple[int | None, str | None]:
    """Return the SMTP reply code and enhanced code quoted in a reason text, if any."""
    match = REPLY_IN_TEXT_RE.search(text)
    if match is None:
        return None, None
    code = int(match.group(1))
    enhanced = match.group(2) or rc.find_enhanced(text[match.end(1):match.end(1) + 16])
    return code, enhanced


def local_event(line: Line, kind: str, text: str, key: int, **attrs: Any) -> Event:
    """Return a local event without passing its text through credential redaction.

    Use it for texts an MTA writes about its own delivery attempt:
    connection results, delivery records and the replies quoted in them.
    MTAs do not log what their client sent to AUTH, so these texts carry no
    credentials, and skipping redaction saves most of the per-event cost on
    large maillogs.
    """
    return Event(line.number, LOCAL, text, key, line.ts, kind, None, None, _with_envelope(line, attrs))


_keys = itertools.count(1)


def new_key() -> int:
    """Return a session key no other attempt in this process uses."""
    return next(_keys)


@dataclass(slots=True)
class Attempt:
    """The events of one connection attempt, held until the attempt is complete.

    ``recipients`` counts the recipients whose delivery records this
    connection produced; ``queue_id`` is set once a line names the message.
    """

    key: int
    events: list[Event] = field(default_factory=list)
    host: str | None = None
    ip: str | None = None
    queue_id: str | None = None
    recipients: int = 0
    failed: bool = False
    connected: bool = False
    reason: str | None = None
    addresses: set[str] = field(default_factory=set)
    sent: bool = False
    rejected: int = 0  # recipients whose delivery records report a rejected RCPT TO
    rows: bool = False  # the reader wants rows, not events (ParseContext.rows_wanted)

    def failed_at(self) -> str | None:
        """Return the stage of the attempt's first failure, if it failed."""
        for event in self.events:
            if event.verb == ERROR:
                return event.attrs.get("stage")
        return None

    def add(self, event: Event) -> None:
        """Append one event of this attempt."""
        self.events.append(event)

    def annotate(self, **attrs: Any) -> None:
        """Set session attributes (queue id, recipients) on the attempt's first event."""
        if self.events:
            first = self.events[0].attrs
            for name, value in attrs.items():
                if value is not None:
                    first[name] = value

    def set_enhanced(self, enhanced: str | None) -> None:
        """Give the attempt's failure the DSN code that the delivery record reports."""
        if enhanced is None:
            return
        for event in self.events:
            if event.verb == ERROR and event.enhanced is None:
                event.enhanced = enhanced
                return

    def finish(self) -> Iterator[Event | SessionEnd | SessionRow]:
        """Yield the attempt's row when the reader wants rows, else its events and the marker that ends its session."""
        self.annotate(queue_id=self.queue_id, recipients=self.recipients or None,
                      recipients_rejected=self.rejected or None)
        if self.rows:
            row = local_row(self.events)
            if row is not None:
                yield SessionRow(row)
                return
        yield from self.events
        yield SessionEnd(self.key)


def shared(text: str | None) -> str | None:
    """Return one string object per distinct relay name or address."""
    # Relay names and addresses repeat across a maillog; one string object
    # per distinct value keeps the session table's memory down.
    return sys.intern(text) if text else text


def connect_failure(ctx: ParseContext, line: Line, text: str, host: str | None, ip: str | None,
                    port: int | None, stage: Stage = Stage.CONNECT, **attrs: Any) -> Attempt:
    """Return an attempt that failed before any SMTP reply (DNS, TCP)."""
    host, ip = shared(host), shared(ip)
    attempt = Attempt(new_key(), host=host, ip=ip, failed=True, reason=text, rows=ctx.rows_wanted)
    attempt.add(local_event(line, CONNECT, text, attempt.key, host=host, ip=ip, port=port, **attrs))
    attempt.add(ctx.error(line, text, attempt.key, stage=stage.value))
    return attempt


def connected(ctx: ParseContext, line: Line, host: str | None, ip: str | None, port: int | None,
              **attrs: Any) -> Attempt:
    """Return an attempt whose TCP connection was established."""
    host, ip = shared(host), shared(ip)
    attempt = Attempt(new_key(), host=host, ip=ip, connected=True, rows=ctx.rows_wanted)
    attempt.add(local_event(line, CONNECTED, f"connected to {host}[{ip}]", attempt.key, host=host, ip=ip, port=port,
                            **attrs))
    return attempt


def add_reply_failure(ctx: ParseContext, line: Line, attempt: Attempt, text: str, stage: Stage,
                      enhanced: str | None = None) -> None:
    """Record a failing server reply (quoted in a reason) as the attempt's error."""
    code, quoted = reply_in(text)
    attempt.failed = True
    attempt.reason = attempt.reason or text
    attempt.add(ctx.error(line, text, attempt.key, stage=stage.value, code=code, enhanced=quoted or enhanced,
                          connected=True))


def add_sent(ctx: ParseContext, line: Line, attempt: Attempt, text: str) -> None:
    """Record a message accepted over this connection."""
    if not attempt.sent:
        attempt.sent = True
        attempt.add(local_event(line, SENT, text, attempt.key))


def add_note(ctx: ParseContext, line: Line, attempt: Attempt, text: str) -> None:
    """Keep a line in the attempt's transcript without changing its outcome."""
    attempt.add(local_event(line, NOTE, text, attempt.key))


def classify_reason(status: str, reason: str, stage: Stage | None, connected: bool,
                    enhanced: str | None = None) -> tuple[str, str, int | None]:
    """Return (stage, cause, reply code) for one delivery record's reason text."""
    code, quoted = reply_in(reason)
    if status in SENT_STATUSES:
        return Stage.NONE.value, Cause.OK.value, code
    failure = Failure(stage=stage or Stage.CONNECT, text=reason, code=code, enhanced=quoted or enhanced,
                      connected=connected)
    found_stage, cause = classify(failure)
    return found_stage.value, cause.value, code


DELAY_COLUMNS = ("delay_before_qmgr", "delay_in_qmgr", "delay_conn_setup", "delay_transmission")


def split_delays(value: str | None) -> dict[str, float | None]:
    """Split Postfix's ``delays=a/b/c/d`` into named columns (seconds)."""
    parts = (value or "").split("/")
    result: dict[str, float | None] = {}
    for index, name in enumerate(DELAY_COLUMNS):
        try:
            result[name] = float(parts[index])
        except (IndexError, ValueError):
            result[name] = None
    return result

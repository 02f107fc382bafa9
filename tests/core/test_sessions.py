"""Session rows built from event sequences: stages, failures, outcomes, timings."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from smtplogkit.formats.base import ParseContext
from smtplogkit.records import CONNECT, CONNECTED, Line
from smtplogkit.sessions import build_session

START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


class Transcript:
    """Build events the way a parser does, one line per call."""

    def __init__(self) -> None:
        self.ctx = ParseContext("test.log")
        self.events = []
        self.number = 0

    def _line(self, text: str) -> Line:
        self.number += 1
        return Line(self.number, text, START + timedelta(seconds=self.number))

    def c(self, text: str) -> "Transcript":
        self.events.append(self.ctx.client(self._line(text), text, 1))
        return self

    def s(self, text: str) -> "Transcript":
        self.events.append(self.ctx.server(self._line(text), text, 1))
        return self

    def connect(self, port: int = 587) -> "Transcript":
        self.events.append(self.ctx.local(self._line("connect"), CONNECT, "connect", 1, host="smtp.example.com", port=port))
        self.events.append(self.ctx.local(self._line("connected"), CONNECTED, "connected", 1))
        return self

    def row(self) -> dict:
        return build_session(self.events)


def test_successful_session():
    row = (Transcript().connect().s("220 ready").c("EHLO me").s("250-hello").s("250 STARTTLS")
           .c("STARTTLS").s("220 go ahead").c("EHLO me").s("250 hello").c("MAIL FROM:<a@example.com>").s("250 ok")
           .c("RCPT TO:<b@example.org>").s("250 ok").c("DATA").s("354 go").c(".").s("250 queued").c("QUIT").s("221 bye")
           .row())
    assert row["failure_stage"] == "none"
    assert row["cause"] == "ok"
    assert row["outcome"] == "ok"
    assert row["messages_sent"] == 1
    assert row["tls_mode"] == "starttls"
    assert row["last_stage_reached"] == "quit"
    assert row["connect_s"] == 1.0


def test_pipelined_replies_match_commands():
    row = (Transcript().connect().s("220 ready").c("EHLO me").s("250 PIPELINING")
           .c("MAIL FROM:<a@example.com>").c("RCPT TO:<b@example.org>").c("DATA")
           .s("250 2.1.0 ok").s("550 5.1.1 <b@example.org>: Recipient address rejected: User unknown").s("554 5.5.1 no valid recipients")
           .row())
    assert row["failure_stage"] == "rcpt_to"
    assert row["cause"] == "recipient_rejected"
    assert row["reply_code"] == 550
    assert row["enhanced_code"] == "5.1.1"


def test_partial_when_one_recipient_rejected():
    row = (Transcript().connect().s("220 ready").c("EHLO me").s("250 ok").c("MAIL FROM:<a@example.com>").s("250 ok")
           .c("RCPT TO:<b@example.org>").s("550 5.1.1 user unknown").c("RCPT TO:<c@example.org>").s("250 ok")
           .c("DATA").s("354 go").c(".").s("250 queued").row())
    assert row["outcome"] == "partial"
    assert row["recipients"] == 2
    assert row["recipients_rejected"] == 1


def test_helo_after_rejected_ehlo_recovers():
    row = (Transcript().connect().s("220 ready").c("EHLO me").s("502 5.5.2 command not recognized")
           .c("HELO me").s("250 ok").c("QUIT").s("221 bye").row())
    assert row["failure_stage"] == "none"


def test_greeting_rejection():
    row = Transcript().connect().s("554 5.7.1 no SMTP service here").row()
    assert row["failure_stage"] == "greeting"
    assert row["outcome"] == "permanent"


def test_auth_challenge_continues_exchange():
    row = (Transcript().connect().s("220 ready").c("EHLO me").s("250 AUTH LOGIN").c("AUTH LOGIN")
           .s("334 VXNlcm5hbWU6").c("YWxpY2U=").s("334 UGFzc3dvcmQ6").c("c2VjcmV0").s("535 5.7.8 bad credentials").row())
    assert row["failure_stage"] == "auth"
    assert row["cause"] == "auth_failed"
    assert row["outcome"] == "permanent"


def test_rate_limit_is_transient():
    row = (Transcript().connect().s("220 ready").c("EHLO me").s("250 ok").c("MAIL FROM:<a@example.com>")
           .s("421 4.7.0 Try again later, closing connection.").row())
    assert row["cause"] == "rate_limited"
    assert row["outcome"] == "transient"


def test_starttls_timings_in_wire_order():
    # One second per line: connect and connected, then each command and reply.
    row = (Transcript().connect().s("220 ready").c("EHLO me").s("250 ok").c("STARTTLS").s("220 go ahead")
           .c("EHLO me").s("250 ok").c("AUTH PLAIN dXNlcgB1c2VyAHBhc3M=").s("235 ok").row())
    assert row["tls_mode"] == "starttls"
    assert row["connect_s"] == 1.0  # from the connect line to the connection
    assert (row["greeting_s"], row["ehlo_s"], row["starttls_s"]) == (1.0, 2.0, 2.0)
    assert row["tls_s"] == 1.0  # from the 220 to STARTTLS until the client spoke again
    assert row["auth_s"] == 3.0
    assert row["duration_s"] == 10.0

"""Shared reading of prefixed SMTP transcripts (``C:``/``S:``, ``>``/``<``).

MailKit's ``ProtocolLogger`` and hand-written transcripts in bug reports use
the same shape: one prefix for what the client sent and one for what the
server replied.  :class:`Transcript` turns those lines into events, keeps
the body of a message (between the 354 reply and the lone ``.``) out of the
events, and opens a new session when a greeting follows commands.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .. import replycodes as rc
from ..labels import TlsMode
from ..records import Event, Line
from .base import ParseContext


class Transcript:
    """State of one file of prefixed transcript lines."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.session = 0
        self.open = False
        self.greeted = False
        self.commands = 0
        self.last_verb: str | None = None
        self.in_body = False
        self.starttls = False
        self.plain_unless_starttls = False

    def new_session(self) -> int:
        """Start a new session and return its key."""
        self.session += 1
        self.open = True
        self.greeted = False
        self.commands = 0
        self.last_verb = None
        self.in_body = False
        self.starttls = False
        self.plain_unless_starttls = False
        return self.session

    def key(self) -> int:
        """Return the current session's key, starting one if none is open."""
        if not self.open:
            self.new_session()
        return self.session

    def server(self, line: Line, reply: str, **attrs: Any) -> Iterator[Event]:
        """Yield the event for one reply line, or count the line as unrecognised."""
        reply = reply.strip()
        if reply.startswith(("220 ", "220-")) and self.greeted and self.commands and self.last_verb != "STARTTLS":
            self.new_session()  # a greeting after commands: the client connected again
        event = self.ctx.server(line, reply, self.key(), **attrs)
        if event is None:
            self.ctx.unrecognised(line)
            return
        self.greeted = True
        if event.code == rc.START_MAIL_INPUT:
            self.in_body = True
        yield event

    def client(self, line: Line, command: str, **attrs: Any) -> Iterator[Event]:
        """Yield the event for one command line; message body lines are noise."""
        if self.in_body:
            if command.strip() == ".":
                self.in_body = False
            self.ctx.noise(line)
            return
        event = self.ctx.client(line, command, self.key(), **attrs)
        self.commands += 1
        if event.verb:
            self.last_verb = event.verb
        if event.verb == "STARTTLS":
            self.starttls = True
            event.attrs["tls_mode"] = TlsMode.STARTTLS
        elif event.verb == "QUIT":
            self.mark_plain(event)
        yield event

    def mark_plain(self, event: Event) -> None:
        """Record on ``event`` that the session stayed plain, if the client said it would unless STARTTLS came."""
        if self.plain_unless_starttls and not self.starttls:
            event.attrs.setdefault("tls_mode", TlsMode.NONE)

"""Reading Python tracebacks: which SMTP step raised, and with what reply.

smtplib, aiosmtplib and Django all surface failures as exceptions, and users
paste the traceback.  The frames tell the step (``create_connection`` is the
TCP connect, ``getreply`` under ``connect`` is the greeting, ``login`` is
AUTH), and the exception's arguments carry the server's reply.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import replycodes as rc
from ..labels import Stage
from ..records import Event, Line, SessionEnd
from . import _errors
from ._errors import ErrorSessions, Record
from .base import ParseContext

FRAME_RE = re.compile(r'^\s*File "([^"]+)", line \d+, in (\S+)')
EXCEPTION_RE = re.compile(
    r"^(?:[\w.]+\.)?(\w*(?:Error|Exception|Refused|Disconnected|Timeout|gaierror|herror|timeout|Exit))(?:: ?(.*))?$"
)
TRACEBACK_NOISE = (
    "Traceback (most recent call last):",
    "During handling of the above exception",
    "The above exception was the direct cause",
)
CHAIN_MARKERS = TRACEBACK_NOISE[1:]
# Sentry and similar tools print the exception first, then elide frames.
ELIDED_FRAMES_RE = re.compile(r"^\s*(?:\(\d+ additional frame\(s\) were not displayed\)|\.\.\.|\[\.\.\.\])\s*$")
# An exception logged by its repr, as Celery does: "raised unexpected: SMTPAuthenticationError(535, b'...')".
REPR_RE = re.compile(r"(?:^|\s|: )(?:[\w.]+\.)?(?P<name>SMTP\w+|\w+Error)\((?P<args>.+)\)\s*$")
MARKER_RE = re.compile(r"^\s+[\^~]+\s*$")
REPLY_TUPLE_RE = re.compile(r"\(\s*([2-5]\d\d),\s*b?(['\"])(.*?)\2")  # an SMTP code, not an errno such as 111

# Frame function names, innermost wins.
FRAME_STAGES: dict[str, Stage] = {
    "getaddrinfo": Stage.DNS,
    "create_connection": Stage.CONNECT,
    "_get_socket": Stage.CONNECT,
    "_create_connection": Stage.CONNECT,
    "connect": Stage.GREETING,
    # Reading a reply; alone (the inner part of a chained traceback) it is the
    # greeting, under ehlo, mail, rcpt... the outer frame names the step.
    "getreply": Stage.GREETING,
    "_connect": Stage.GREETING,
    "ehlo": Stage.EHLO,
    "helo": Stage.EHLO,
    "ehlo_or_helo_if_needed": Stage.EHLO,
    "_ehlo_or_helo_if_needed": Stage.EHLO,
    "starttls": Stage.STARTTLS,
    "wrap_socket": Stage.TLS,
    "do_handshake": Stage.TLS,
    "_create_connection_transport": Stage.TLS,
    "feed_ssldata": Stage.TLS,
    "_do_handshake": Stage.TLS,
    "_start_handshake": Stage.TLS,
    "_on_handshake_complete": Stage.TLS,
    "login": Stage.AUTH,
    "auth": Stage.AUTH,
    "auth_login": Stage.AUTH,
    "auth_plain": Stage.AUTH,
    "auth_crammd5": Stage.AUTH,
    "_auth_login": Stage.AUTH,
    "_auth_plain": Stage.AUTH,
    "mail": Stage.MAIL_FROM,
    "rcpt": Stage.RCPT_TO,
    "data": Stage.DATA,
    "quit": Stage.QUIT,
}

# Frames that make a reply read the server's greeting, not the reply to a command.
GREETING_FRAMES = frozenset({"connect", "_connect"})

# Exception classes that name the step themselves.
EXCEPTION_STAGES: dict[str, Stage] = {
    "SMTPAuthenticationError": Stage.AUTH,
    "SMTPSenderRefused": Stage.MAIL_FROM,
    "SMTPRecipientsRefused": Stage.RCPT_TO,
    "SMTPRecipientRefused": Stage.RCPT_TO,
    "SMTPDataError": Stage.DATA,
    "SMTPHeloError": Stage.EHLO,
    "SMTPConnectError": Stage.GREETING,
    "gaierror": Stage.DNS,
    "herror": Stage.DNS,
    "ConnectionRefusedError": Stage.CONNECT,
    "SSLError": Stage.TLS,
    "SSLCertVerificationError": Stage.TLS,
    "SSLZeroReturnError": Stage.TLS,
    "SMTPConnectTimeoutError": Stage.CONNECT,
    "SMTPReadTimeoutError": Stage.GREETING,
}


def is_traceback_noise(text: str) -> bool:
    """Return whether a line is traceback scaffolding (header, frame, source line, elided frames)."""
    stripped = text.strip()
    return (stripped.startswith(TRACEBACK_NOISE) or FRAME_RE.match(text) is not None or stripped.startswith("raise ")
            or ELIDED_FRAMES_RE.match(text) is not None)


def frame_stage(functions: list[str]) -> Stage | None:
    """Return the step named by the innermost frame that names one."""
    stage = None
    for name in functions:
        if name in FRAME_STAGES:
            candidate = FRAME_STAGES[name]
            if candidate is Stage.GREETING and stage is not None and stage is not Stage.GREETING:
                continue  # "connect" is an outer frame around a deeper step
            stage = candidate
    return stage


RAISE_RE = re.compile(r"^\s*raise (\w+)\((.*)\)\s*$")


def raise_to_exception(text: str) -> str | None:
    """Turn a ``raise Name("message")`` source line into ``Name: message``.

    Pasted tracebacks are often cut before the exception line; the last
    ``raise`` shown is then the best evidence of what was raised.
    """
    match = RAISE_RE.match(text)
    if not match:
        return None
    return f"{match.group(1)}: {match.group(2).strip().strip(chr(34) + chr(39))}"



def parse_exception(text: str) -> dict[str, Any] | None:
    """Read a final traceback line such as ``smtplib.SMTPAuthenticationError: (535, b'...')``.

    Returns ``{"name", "message", "code", "reply", "stage"}`` or ``None`` when
    the line is not an exception.  ``reply`` is the server's text with the
    bytes-literal quoting removed.
    """
    match = EXCEPTION_RE.match(text.strip())
    if match:
        name, message = match.group(1), (match.group(2) or "").strip()
    else:
        match = REPR_RE.search(text.strip())
        if not match:
            return None
        name, message = match.group("name"), f"({match.group('args')})"
    result: dict[str, Any] = {"name": name, "message": message, "code": None, "reply": None,
                              "stage": EXCEPTION_STAGES.get(name)}
    reply = REPLY_TUPLE_RE.search(message)
    if reply:
        result["code"] = int(reply.group(1))
        result["reply"] = literal_text(reply.group(3))
    return result


def literal_text(text: str) -> str:
    """Return the text of a string or bytes literal's body as Python printed it (``\\'`` and ``\\n`` escapes read)."""
    try:
        value = ast.literal_eval(f"'{text}'")
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text


@dataclass(slots=True)
class RaisedException:
    """One exception read from a traceback, with the frames printed above it.

    ``line`` is the exception line, or the last ``raise`` line of a
    traceback cut before it (``from_raise``).  ``chained`` is set when a
    "direct cause" or "during handling" marker came before it, so it belongs
    to the same failure as the exception before the marker.
    """

    line: Line
    name: str
    message: str
    code: int | None
    reply: str | None
    stage: Stage | None
    frames: list[str] = field(default_factory=list)
    frame_lines: list[Line] = field(default_factory=list)
    chained: bool = False
    from_raise: bool = False

    @property
    def frame_stage(self) -> Stage | None:
        """The step named by the innermost frame that names one."""
        return frame_stage(self.frames)

    @property
    def text(self) -> str:
        """``Name: message``, as the exception line printed it."""
        return f"{self.name}: {self.message}" if self.message else self.name


class TracebackReader:
    """Read Python tracebacks line by line, in either order.

    :meth:`feed` takes one line and yields ``(kind, line, exception)``
    items, where ``kind`` is ``"exception"``, ``"noise"`` or ``"other"``
    (a line that is not part of a traceback, for the caller to read).  A
    ``raise`` line is held back until the next line shows whether the
    exception line follows it; :meth:`finish` releases it at the end.
    """

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.frame_lines: list[Line] = []
        self.pending_raise: tuple[Line, str] | None = None
        self.chained = False
        self.after_frame = False

    def feed(self, line: Line) -> Iterator[tuple[str, Line, RaisedException | None]]:
        """Yield what ``line`` (and a held-back ``raise`` line) turned out to be."""
        text = line.text
        frame = FRAME_RE.match(text)
        after_frame, self.after_frame = self.after_frame, frame is not None
        if frame:
            yield from self._release_raise()
            self.frames.append(frame.group(2))
            self.frame_lines.append(line)
            yield "noise", line, None
            return
        raised = raise_to_exception(text)
        if raised is not None and self.frames:
            yield from self._release_raise()
            self.pending_raise = (line, raised)
            return
        if self.frames and text[:1] in (" ", "\t") and (after_frame or MARKER_RE.match(text)):
            # The source line under a frame, or the ^^^^ marker under it (Python 3.11+).  User code
            # such as "SMTP_SSL(host, 465, timeout=5)" must not be read as an exception.
            self.after_frame = False
            yield "noise", line, None
            return
        if is_traceback_noise(text):
            yield from self._release_raise()
            stripped = text.strip()
            if stripped.startswith(CHAIN_MARKERS):
                self.chained = True
            if stripped.startswith("Traceback"):
                self.frames, self.frame_lines = [], []
            yield "noise", line, None
            return

        exception = parse_exception(text)
        if exception is None:
            yield from self._release_raise()
            if self.frames and text.startswith((" ", "\t")):
                yield "noise", line, None  # a source line under a frame
            else:
                yield "other", line, None
            return
        if self.pending_raise is not None:
            yield "noise", self.pending_raise[0], None  # the exception line follows its raise line
            self.pending_raise = None
        yield "exception", line, self._take(line, exception, from_raise=False)

    def finish(self) -> Iterator[tuple[str, Line, RaisedException | None]]:
        """Yield the held-back ``raise`` line, if any, as an exception."""
        yield from self._release_raise()

    def _release_raise(self) -> Iterator[tuple[str, Line, RaisedException | None]]:
        if self.pending_raise is None:
            return
        line, text = self.pending_raise
        self.pending_raise = None
        exception = parse_exception(text)
        if exception is None:
            yield "noise", line, None
            return
        yield "exception", line, self._take(line, exception, from_raise=True)

    def _take(self, line: Line, exception: dict[str, Any], *, from_raise: bool) -> RaisedException:
        raised = RaisedException(line, exception["name"], exception["message"], exception["code"], exception["reply"],
                                 exception["stage"], self.frames, self.frame_lines, self.chained, from_raise)
        self.frames, self.frame_lines, self.chained = [], [], False
        return raised


def parse_errors(lines: Iterable[Line], ctx: ParseContext,
                 adjust: Callable[[RaisedException, Record], None] | None = None,
                 other: Callable[[Line, ErrorSessions], list[Event | SessionEnd] | None] | None = None,
                 ) -> Iterator[Event | SessionEnd]:
    """Turn tracebacks of a program that prints no transcript into one session per failure.

    An exception chained to the one before it ("The above exception was the
    direct cause ...") and a ``raise`` line repeating the open exception are
    part of the same session.  ``adjust`` lets a format correct a record from
    what it knows about its library's exceptions.  ``other`` reads a line
    that is not part of a traceback (a framework's own log lines) and
    returns its events, or ``None`` when it cannot read it either.
    """
    reader = TracebackReader()

    def read(line: Line, sessions: ErrorSessions) -> Iterator[Event | SessionEnd]:
        yield from _error_items(reader.feed(line), sessions, adjust, other)

    def finish(sessions: ErrorSessions) -> Iterator[Event | SessionEnd]:
        yield from _error_items(reader.finish(), sessions, adjust, other)

    yield from _errors.run(lines, ctx, read, finish)


def _error_items(items, sessions: ErrorSessions, adjust, other) -> Iterator[Event | SessionEnd]:
    for kind, line, exception in items:
        if kind == "noise":
            sessions.ctx.noise(line)
        elif kind == "exception":
            yield from add_exception(line, exception, sessions, adjust)
        else:
            produced = other(line, sessions) if other is not None else None
            if produced is not None:
                yield from produced
            elif _errors.is_tool_noise(line.text):
                sessions.ctx.noise(line)
            else:
                sessions.ctx.unrecognised(line)


def add_exception(line: Line, exception: RaisedException, sessions: ErrorSessions,
                  adjust: Callable[[RaisedException, Record], None] | None = None) -> Iterator[Event | SessionEnd]:
    """Add one exception to the open session if it is the same failure, else start a session."""
    open_record = sessions.record
    repeats_open = open_record is not None and open_record.text.split(":", 1)[0] == exception.name
    if open_record is not None and (exception.chained or (exception.from_raise and repeats_open)):
        # The same failure seen again: a chained cause or effect, or the raise line under a Sentry-style trace.
        if exception.chained:
            open_record.text += "\n" + exception.text
            _describe(open_record, exception)
            if adjust is not None:
                adjust(exception, open_record)
        if not sessions.attach(line, evidence=exception.chained):
            sessions.ctx.noise(line)
        return
    record = Record(line, exception.text, exception.message or exception.name, exception=True)
    _describe(record, exception)
    if adjust is not None:
        adjust(exception, record)
    yield from sessions.add(record)


def _describe(record: Record, exception: RaisedException) -> None:
    stage = exception.stage or exception.frame_stage
    if stage is Stage.STARTTLS and "SSL" in exception.name:
        stage = Stage.TLS
    record.set_stage(stage, _errors.NAMED if exception.stage else _errors.SHOWN)
    if exception.code is not None and record.code is None:
        record.code = exception.code
        record.reply = exception.reply
        record.enhanced = rc.find_enhanced((exception.reply or "")[:16])
        record.set_stage(_errors.guess_stage(exception.code, exception.reply or ""), _errors.GUESSED)
    if stage not in (None, Stage.DNS, Stage.CONNECT) or exception.code is not None:
        record.connected = True

"""Python ``smtplib`` debug output (``set_debuglevel(1)`` and ``(2)``), with tracebacks.

Notes
-----
smtplib prints to stderr: ``connect: to ('host', 587) None`` when a plain
connection opens, ``connect: ('host', 465)`` for ``SMTP_SSL``, then
``send: '...'`` with the repr of each command and ``reply: b'...'`` for each
reply line, followed by a ``reply: retcode (250); Msg: b'...'`` summary that
repeats them (counted as noise).  Debug level 2 prefixes each line with the
time of day only (``21:12:03.123456``); the date comes from the envelope, the
``date`` option or the file name, and the day rolls over at midnight.

The message body is sent as one ``send: b'...'`` line; it is kept as a short
placeholder, not as text.  A traceback after the transcript belongs to the
session it ends; a traceback with no transcript is a session of its own.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from datetime import time

from ..labels import Stage, TlsMode
from ..records import CONNECT, ERROR, Event, Line
from . import _python
from .base import ParseContext

NAME = "smtplib"
DESCRIPTION = "Python smtplib debug output (debuglevel 1 and 2) and smtplib tracebacks"
CLIENT = "python-smtplib"
PRIORITY = 10

DEBUG_RE = re.compile(r"^(?:(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? )?(send|reply|connect|connect fail|data):\s?(.*)$")
CONNECT_TO_RE = re.compile(r"^to \('([^']*)', (\d+)\)")
CONNECT_SSL_RE = re.compile(r"^\('([^']*)', (\d+)\)$")
SIGNATURE_RE = re.compile(r"(?:^|\s)(?:send: [b]?['\"]|reply: b['\"]|reply: retcode \(|connect: to \()")


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like smtplib debug output or tracebacks."""
    hits = sum(1 for text in sample if SIGNATURE_RE.search(text))
    smtplib_trace = sum(1 for text in sample if "smtplib" in text and ("File " in text or "SMTP" in text))
    score = hits / max(len(sample), 1)
    if smtplib_trace and not hits:
        score = max(score, 0.4)
    elif not hits and any(text.startswith("Traceback (most recent call last)") for text in sample):
        score = 0.2  # a Python traceback of unknown origin: smtplib's reader knows them best
    return min(1.0, score * 2 + (0.3 if hits else 0))


def _literal(text: str) -> str:
    """Return the string that a ``repr`` of str or bytes printed."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text.strip("b'\"")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


class _State:
    def __init__(self) -> None:
        self.session = 0
        self.opened = False
        self.in_body = False
        self.frames: list[str] = []
        self.traceback_at: Line | None = None
        self.pending_raise: tuple[Line, str] | None = None
        self.ssl_connect: tuple[str, str] | None = None


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event]:
    """Turn smtplib debug lines and tracebacks into events."""
    state = _State()
    for line in lines:
        match = DEBUG_RE.match(line.text)
        if match:
            if match.group(1) is not None and line.ts is None:
                clock = time(int(match.group(1)), int(match.group(2)), int(match.group(3)),
                             int((match.group(4) or "0").ljust(6, "0")))
                line.ts = ctx.time_of_day(None, clock, line)
            yield from _debug_line(line, match.group(5), match.group(6), state, ctx)
            continue
        yield from _other_line(line, state, ctx)
    if state.pending_raise is not None:
        yield from _exception(*state.pending_raise, state, ctx)


def _new_session(state: _State) -> None:
    state.session += 1
    state.opened = True
    state.in_body = False
    state.frames = []


def _debug_line(line: Line, kind: str, payload: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    if kind == "connect":
        target = CONNECT_TO_RE.match(payload)
        ssl_target = CONNECT_SSL_RE.match(payload)
        if target or ssl_target:
            found = target or ssl_target
            if target and state.ssl_connect == (found.group(1), found.group(2)):
                # SMTP_SSL prints "connect: ('h', 465)" and then, from the
                # plain _get_socket it calls, "connect: to ('h', 465) None".
                state.ssl_connect = None
                ctx.noise(line)
                return
            _new_session(state)
            state.ssl_connect = (found.group(1), found.group(2)) if ssl_target else None
            mode = TlsMode.IMPLICIT if ssl_target else TlsMode.NONE
            yield ctx.local(line, CONNECT, line.text, state.session, host=found.group(1), port=int(found.group(2)),
                            tls_mode=mode)
        else:
            ctx.noise(line)  # the greeting repeated after connect() returns
        return
    if kind == "connect fail":
        yield ctx.error(line, f"connect failed: {payload}", state.session, stage=Stage.CONNECT)
        return
    if kind == "data":
        ctx.noise(line)  # repeats the reply to DATA or to the end of data
        return

    if not state.opened:
        _new_session(state)
    state.ssl_connect = None
    if kind == "send":
        text = _literal(payload)
        if state.in_body:
            state.in_body = False
            yield ctx.client(line, ".", state.session, body_bytes=len(text))
            return
        for command in text.split("\r\n"):
            if command:
                event = ctx.client(line, command, state.session)
                if event.verb == "STARTTLS":
                    event.attrs["tls_mode"] = TlsMode.STARTTLS
                yield event
        return

    if payload.startswith("retcode"):
        ctx.noise(line)
        return
    reply = _literal(payload)
    event = ctx.server(line, reply, state.session)
    if event is None:
        ctx.unrecognised(line)
        return
    if event.code == 354:
        state.in_body = True
    yield event


def _other_line(line: Line, state: _State, ctx: ParseContext) -> Iterator[Event]:
    text = line.text
    frame = _python.FRAME_RE.match(text)
    if frame:
        state.frames.append(frame.group(2))
        state.traceback_at = state.traceback_at or line
        ctx.noise(line)
        return
    raised = _python.raise_to_exception(text)
    if raised is not None and state.frames:
        state.pending_raise = (line, raised)
        return
    if _python.is_traceback_noise(text):
        if text.strip().startswith("Traceback"):
            state.frames = []
            state.traceback_at = line
        ctx.noise(line)
        return

    if _python.parse_exception(text) is None:
        if state.frames and text.startswith((" ", "\t")):
            ctx.noise(line)  # a source line under a frame
        else:
            ctx.unrecognised(line)
        return
    if state.pending_raise is not None:
        ctx.noise(state.pending_raise[0])  # the exception line itself follows
        state.pending_raise = None
    yield from _exception(line, text, state, ctx)


def _exception(line: Line, text: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    exception = _python.parse_exception(text)
    assert exception is not None
    state.pending_raise = None
    stage = exception["stage"] or _python.frame_stage(state.frames)
    if not state.opened:
        _new_session(state)
    if stage is Stage.STARTTLS and "SSL" in exception["name"]:
        stage = Stage.TLS
    message = f"{exception['name']}: {exception['message']}"
    attrs = {"connected": True} if stage not in (None, Stage.DNS, Stage.CONNECT) else {}
    yield ctx.error(line, message, state.session, stage=stage.value if stage else None, code=exception["code"],
                    **attrs)
    state.frames = []

"""Tracebacks of aiosmtplib, the asyncio SMTP client.

Notes
-----
aiosmtplib logs no transcript; failures reach the log as tracebacks through
``aiosmtplib/smtp.py``, ``protocol.py`` and asyncio's ``base_events.py``
and ``sslproto.py``.  Its exceptions carry more than smtplib's:
``SMTPConnectTimeoutError("Timed out connecting to smtp.x on port 587")``
is a TCP connect timeout, but ``"Timed out waiting for server ready
message"`` is a greeting that never came; ``SMTPConnectError("Error
connecting to smtp.x on port 587: [Errno 111] Connect call failed ...")``
quotes the ``OSError`` behind it (DNS, refused, TLS), so the stage comes
from that text, not from the class; ``SMTPReadTimeoutError`` and
``SMTPServerDisconnected`` say nothing about the step, which the innermost
frame (``ehlo``, ``starttls``, ``auth_login``, ``mail``, ...) tells.
Response errors print as ``(535, '5.7.8 ...')`` with a str, not bytes.

Python chains the low-level error and aiosmtplib's own ("The above
exception was the direct cause of the following exception"); the two are
one session.  A TLS failure raised inside asyncio's ``sslproto`` frames
(``ssl.SSLError: [SSL: WRONG_VERSION_NUMBER]``) is the TLS step.  Files
are claimed by this format when they show aiosmtplib frames, module names
or the exception names only aiosmtplib uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ..labels import Stage
from ..records import Event, Line, SessionEnd
from . import _python
from ._errors import GUESSED, NAMED, SHOWN, Record
from .base import ParseContext

NAME = "aiosmtplib"
DESCRIPTION = "aiosmtplib (asyncio) tracebacks, with asyncio TLS errors"
CLIENT = "python-aiosmtplib"

SIGNATURE_RE = re.compile(r"aiosmtplib|SMTPConnectTimeoutError|SMTPReadTimeoutError|SMTPConnectResponseError|"
                          r"Timed out connecting to \S+ on port \d+|Error connecting to \S+ on port \d+")
TARGET_RE = re.compile(r"(?:connecting to|Error connecting to) (?P<host>\S+) on port (?P<port>\d+)")
GENERIC_EXCEPTIONS = frozenset({"SMTPReadTimeoutError", "SMTPTimeoutError", "SMTPServerDisconnected",
                                "SMTPResponseException", "SMTPException"})


DETECT_SIGNS = (SIGNATURE_RE,)


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like aiosmtplib tracebacks."""
    hits = sum(1 for text in sample if SIGNATURE_RE.search(text))
    if not hits:
        return 0.0
    return min(1.0, 0.6 + hits / max(len(sample), 1))


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn aiosmtplib tracebacks into one session per failed attempt."""
    return _python.parse_errors(lines, ctx, adjust=adjust)


def adjust(exception: _python.RaisedException, record: Record) -> None:
    """Correct a record from what aiosmtplib's exception classes and messages mean."""
    target = TARGET_RE.search(exception.message)
    if target:
        record.attrs.setdefault("host", target.group("host"))
        record.attrs.setdefault("port", int(target.group("port")))

    name, message = exception.name, exception.message
    if name == "SMTPConnectTimeoutError":
        waiting = "server ready message" in message
        _force(record, Stage.GREETING if waiting else Stage.CONNECT, connected=waiting)
    elif name == "SMTPConnectError":
        # The OSError text decides (DNS, refused, TLS); only a lost connection means it was up.
        lost = re.search(r"Connection lost|Unexpected EOF|Server not connected", message) is not None
        tls = re.search(r"\[SSL|ssl|certificate|handshake", message) is not None
        if tls:
            _force(record, Stage.TLS, connected=True)
        elif lost:
            _force(record, Stage.GREETING, connected=True)
        else:
            _force(record, Stage.CONNECT, connected=False)
    elif name in GENERIC_EXCEPTIONS:
        frame = exception.frame_stage
        if frame is not None:
            record.set_stage(frame, SHOWN)
        else:
            record.set_stage(Stage.GREETING, GUESSED)
        record.connected = True


def _force(record: Record, stage: Stage, *, connected: bool) -> None:
    # The message outranks the class's usual stage, whatever set it first.
    record.stage, record.weight = stage, NAMED
    record.connected = connected

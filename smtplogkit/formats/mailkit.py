"""MailKit's ``ProtocolLogger`` output, with the MailKit exceptions printed after it.

Notes
-----
``new SmtpClient(new ProtocolLogger("smtp.log"))`` writes ``Connected to
smtp://host:587/?starttls=when-available`` when a connection opens, then
``C: `` before each line the client sent and ``S: `` before each reply line.
The URI scheme gives the TLS mode: ``smtps://`` is implicit TLS,
``?starttls=always`` demands STARTTLS, ``when-available`` uses it if
offered and ``false`` never does.  MailKit 4 can put a timestamp before the
prefix (``LogTimestamps``), which the envelope reader removes.  MailKit
replaces AUTH secrets with ``********`` since version 3; older logs show the
base64 payloads, which are redacted here.

A failed ``Send`` usually follows with the exception: ``MailKit.Security.
AuthenticationException: 535: 5.7.8 ...``, ``MailKit.Net.Smtp.
SmtpCommandException: ...``, ``MailKit.Security.SslHandshakeException:
...``, ``System.Net.Sockets.SocketException (10060): ...`` and ``   at``
stack frames (noise).  MailKit logs nothing before a connection is made,
so a connect exception (or a TLS one not after STARTTLS) that follows a
finished transcript belongs to a new connection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..labels import Stage, TlsMode
from ..records import CONNECTED, Event, Line
from ._transcript import Transcript
from .base import ParseContext

NAME = "mailkit"
DESCRIPTION = "MailKit ProtocolLogger output (Connected to smtp://..., C:/S: lines) and MailKit exceptions"
CLIENT = "mailkit"
PRIORITY = 6
# Sessions follow one another; one ends when the next begins (see base.parse_items).
SESSIONS_IN_ORDER = True

CONNECTED_RE = re.compile(r"^\s*Connected to (smtps?)://(\[[^\]]+\]|[^:/\s]+)(?::(\d+))?/?(?:\?starttls=([\w-]+))?", re.I)
PREFIX_RE = re.compile(r"^([CS]): ?(.*)$")
EXCEPTION_RE = re.compile(r"^(?:Unhandled exception\. |---> |\s*)?((?:[A-Z]\w*\.)+\w*Exception)(?: \((\d+)\))?: (.*)$")
FRAME_RE = re.compile(r"^\s+at \S|^\s*--- End of (?:inner exception|stack trace)")
EXCEPTION_STAGES: dict[str, Stage] = {
    "AuthenticationException": Stage.AUTH,
    "SslHandshakeException": Stage.TLS,
    "SocketException": Stage.CONNECT,
}
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


DETECT_SIGNS = (CONNECTED_RE, "MailKit.")  # detect scores 0 without a connect line or "MailKit."


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like MailKit protocol logs."""
    connected = sum(1 for text in sample if CONNECTED_RE.match(text))
    prefixed = sum(1 for text in sample if PREFIX_RE.match(text))
    mailkit = sum(1 for text in sample if "MailKit." in text)
    if not connected and not mailkit:
        return 0.0
    if not connected and not prefixed:
        return 0.2  # MailKit exceptions without a protocol log are the dotnet reader's
    return min(1.0, 0.7 + (connected + prefixed + mailkit) / max(len(sample), 1))


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event]:
    """Turn MailKit protocol log lines and exceptions into events."""
    transcript = Transcript(ctx)
    for line in lines:
        yield from _line(line, transcript, ctx)


def _line(line: Line, transcript: Transcript, ctx: ParseContext) -> Iterator[Event]:
    text = line.text
    connected = CONNECTED_RE.match(text)
    if connected:
        yield _connected(line, connected, transcript, ctx)
        return
    prefixed = PREFIX_RE.match(text)
    if prefixed:
        if prefixed.group(1) == "S":
            yield from transcript.server(line, prefixed.group(2))
        else:
            yield from transcript.client(line, prefixed.group(2))
        return
    if FRAME_RE.match(text):
        ctx.noise(line)
        return
    exception = EXCEPTION_RE.match(text)
    if exception:
        yield _exception(line, exception, transcript, ctx)
        return
    ctx.unrecognised(line)


def _connected(line: Line, match: re.Match, transcript: Transcript, ctx: ParseContext) -> Event:
    key = transcript.new_session()
    scheme, host = match.group(1).lower(), match.group(2).strip("[]")
    port = int(match.group(3)) if match.group(3) else DEFAULT_PORTS[scheme]
    attrs: dict[str, Any] = {"host": host, "port": port}
    starttls = (match.group(4) or "").lower()
    if scheme == "smtps":
        attrs["tls_mode"] = TlsMode.IMPLICIT
    elif starttls == "always":
        attrs["tls_mode"] = TlsMode.STARTTLS
    else:
        transcript.plain_unless_starttls = True  # "when-available" and "false": plain unless STARTTLS follows
    return ctx.local(line, CONNECTED, line.text, key, **attrs)


def _exception(line: Line, match: re.Match, transcript: Transcript, ctx: ParseContext) -> Event:
    name = match.group(1)
    short = name.rsplit(".", 1)[-1]
    message = match.group(3).strip()
    stage = EXCEPTION_STAGES.get(short)
    if short == "AuthenticationException" and name.startswith("System.Security"):
        stage = Stage.TLS  # .NET's SslStream raises this for a failed TLS handshake
    handshake = stage is Stage.CONNECT or (stage is Stage.TLS and transcript.last_verb != "STARTTLS")
    if handshake and transcript.open and transcript.greeted:
        transcript.new_session()  # the next connection failed before the logger printed anything
    code_match = re.match(r"^(\d{3}):? ", message)
    code = int(code_match.group(1)) if code_match else None
    attrs: dict[str, Any] = {}
    if stage is not None and stage is not Stage.TLS:
        attrs["connected"] = True
    event = ctx.error(line, f"{short}: {message}", transcript.key(), stage=stage.value if stage else None,
                      code=code, **attrs)
    transcript.mark_plain(event)
    return event

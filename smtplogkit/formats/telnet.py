"""Hand-typed SMTP sessions in ``telnet``, ``nc`` (netcat) and ``ncat``.

Notes
-----
What a terminal shows: the client program's own lines (``Trying
192.0.2.10...``, ``Connected to mail.example.com.``, ``Escape character is
'^]'.``, ``Connection to mail.example.com 25 port [tcp/smtp] succeeded!``,
``Ncat: Connected to 192.0.2.10:25.``), then the replies and the typed
commands with no prefix at all, then ``Connection closed by foreign host.``
A line that starts with a reply code is the server's; any other line is
what the user typed, and lines typed after the 354 reply up to the lone
``.`` are the message (noise).  Each ``Trying`` line is one connection
attempt, so telnet's fallback from IPv6 to IPv4 gives two sessions.  The
port comes from a pasted shell command (``$ telnet mail.example.com 587``)
or from nc's own lines; telnet itself never prints it.  Failures read
``telnet: Unable to connect to remote host: Connection refused``, ``nc:
connect to host port 25 (tcp) failed: Connection timed out`` or ``Ncat:
TIMEOUT.``.  A close after the 221 reply to QUIT, or after a 421 that
announced it, is not a failure (nc reports it as ``nc: write failed (0/2):
Broken pipe`` when the user types on).  A session that connected and shows
no reply at all ends as a server disconnection at the greeting, because
telnet and nc return to the shell only when the server closes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from .. import replycodes as rc
from ..labels import Stage, TlsMode
from ..literals import could_match, sign_literals
from ..records import CONNECT, CONNECTED, LOCAL, NOTE, Event, Line
from ._transcript import Transcript
from .base import ParseContext

NAME = "telnet"
DESCRIPTION = "SMTP sessions typed in telnet, nc or ncat (Trying..., Connected to..., bare commands and replies)"
CLIENT = "telnet"
PRIORITY = 3
# Sessions follow one another; one ends when the next begins (see base.parse_items).
SESSIONS_IN_ORDER = True

SHELL_RE = re.compile(r"^(?:[\w@.~:/\\-]*[$#>] ?)?(telnet|nc|ncat|netcat)(?: -[\w]+)* (\[?[\w.:-]+\]?) (\d+)\s*$")
TRYING_RE = re.compile(r"^Trying (\[?[\w.:]+\]?)\.\.\.$")
CONNECTED_RE = re.compile(r"^Connected to ([\w.:-]+?)\.?(?: \(([\w.:]+)\))?\.?$")
NC_OK_RE = re.compile(r"^Connection to (\S+) (?:\(([\w.:]+)\) )?(\d+) port \[[^\]]*\] succeeded!$")
NC_OPEN_RE = re.compile(r"^(\S+) \[([\w.:]+)\] (\d+) \([\w-]*\) open$")
NCAT_OK_RE = re.compile(r"^Ncat: Connected to (\[?[\w.:]+?\]?):(\d+)\.$")
FAILURE_RES = (
    re.compile(r"^telnet: (?:Unable to connect to remote host|connect to address [\w.:]+|could not resolve \S+): (.*)$"),
    re.compile(r'^nc: (?:connect to \S+ port (\d+) \(tcp\) failed|getaddrinfo(?: for host "[^"]*" port \d+)?): (.*)$'),
    re.compile(r"^Ncat: (.*(?:refused|TIMEOUT|timed out|resolve|unreachable|reset).*)$", re.I),
    # Windows telnet prints both on one line: "Connecting To host...Could not open connection ...".
    re.compile(r"^(?:Connecting To \S+?\.\.\.)?Could not open connection to the host, on port (\d+): (.*)$"),
)
NOISE_LINES = ("Escape character is", "Ncat: Version", "^]", "telnet>", "Connection closed.")
CLOSED_RE = re.compile(r"^Connection closed by (?:foreign|remote) host\.?$|^nc: (?:write|read) failed \(\d+/\d+\): (.*)$")


_CODE_FIRST = frozenset("2345")


def _any_of(*patterns: re.Pattern[str]) -> re.Pattern[str]:
    """Return one pattern that matches where one of ``patterns`` matches: one call, not one per pattern.

    Each keeps its case rule in a group of its own.  A back-reference's
    number would change, and other flags would apply to every pattern.
    """
    parts = []
    for pattern in patterns:
        if pattern.flags & ~(re.IGNORECASE | re.UNICODE) or re.search(r"\\[1-9]|\(\?P=", pattern.pattern):
            raise ValueError(f"cannot join {pattern.pattern!r} to other patterns")
        parts.append(f"(?{'i' if pattern.flags & re.IGNORECASE else ''}:{pattern.pattern})")
    return re.compile("|".join(parts))


# A telnet or nc line of its own, not an SMTP reply or command.
MARKER_RE = _any_of(TRYING_RE, CONNECTED_RE, NC_OK_RE, NC_OPEN_RE, NCAT_OK_RE, SHELL_RE, CLOSED_RE, *FAILURE_RES)
# A marker line contains one of these: the patterns' literals, the shell command's program and the space after
# it, and the start of "Escape character is".
MARKER_LITERALS = sign_literals((TRYING_RE, CONNECTED_RE, NC_OK_RE, NC_OPEN_RE, NCAT_OK_RE, CLOSED_RE, *FAILURE_RES,
                                 "telnet ", "nc ", "ncat ", "netcat ", "Escape character is"))


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like a telnet or nc session."""
    markers = 0
    if could_match(MARKER_LITERALS, "\n".join(sample)):
        markers = sum(1 for text in sample if text.startswith("Escape character is") or MARKER_RE.match(text))
    if markers:
        return min(1.0, 0.6 + markers / max(len(sample), 1))
    # A reply starts with its code's first digit, 2 to 5: a cheaper test than the pattern's.
    replies = sum(1 for text in sample
                  if text.lstrip()[:1] in _CODE_FIRST and rc.split_reply(text.strip()) is not None)
    if replies and replies * 3 >= len(sample):
        return 0.25  # bare commands and replies: a session pasted without telnet's own lines
    return 0.0


class _Telnet(Transcript):
    def __init__(self, ctx: ParseContext) -> None:
        super().__init__(ctx)
        self.target: dict[str, Any] = {}
        self.last_code: int | None = None
        self.connecting = False
        self.connect_failed = False
        self.silent_since: Line | None = None  # the connect line of a session that has no reply yet
        self.pending_end: Event | None = None

    def new_session(self) -> int:
        """Start a session, ending the previous one first."""
        self.pending_end = self.end_silent()
        return super().new_session()

    def end_silent(self) -> Event | None:
        """Return an error for a session that connected and ended with no reply and no error."""
        line, self.silent_since = self.silent_since, None
        if line is None:
            return None
        # nc and telnet exit when the server closes; a transcript with no reply ends that way.
        return self.ctx.error(line, "connection closed before any reply", self.session,
                              stage=Stage.GREETING.value, connected=True)


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event]:
    """Turn a telnet or nc session into events."""
    state = _Telnet(ctx)
    for line in lines:
        for event in _line(line, state, ctx):
            if state.pending_end is not None:
                yield state.pending_end
                state.pending_end = None
            if event.direction != LOCAL or event.verb != CONNECTED:
                state.silent_since = None
            yield event
    if state.pending_end is not None:
        yield state.pending_end
    end = state.end_silent()
    if end is not None:
        yield end


def _line(line: Line, state: _Telnet, ctx: ParseContext) -> Iterator[Event]:
    text = line.text.rstrip()
    stripped = text.strip()
    for handler in (_shell, _connecting, _connected, _failure, _closed):
        events = handler(line, stripped, state, ctx)
        if events is not None:
            yield from events
            return
    if stripped.startswith(NOISE_LINES):
        ctx.noise(line)
        return
    if rc.split_reply(stripped) is not None:
        # A paste that leaves out telnet's "Trying ..." line: the reply opens the session the shell command named.
        attrs = state.target if not state.open else {}
        for event in state.server(line, stripped, **attrs):
            state.last_code = event.code
            yield event
        return
    yield from state.client(line, stripped)


def _shell(line: Line, text: str, state: _Telnet, ctx: ParseContext) -> list[Event] | None:
    match = SHELL_RE.match(text)
    if not match:
        return None
    state.target = {"host": match.group(2).strip("[]"), "port": int(match.group(3))}
    state.open = False
    ctx.noise(line)
    return []


def _connecting(line: Line, text: str, state: _Telnet, ctx: ParseContext) -> list[Event] | None:
    match = TRYING_RE.match(text)
    if not match:
        return None
    key = state.new_session()
    state.connecting = True
    state.connect_failed = False
    return [ctx.local(line, CONNECT, text, key, ip=match.group(1).strip("[]"), **state.target)]


def _connected(line: Line, text: str, state: _Telnet, ctx: ParseContext) -> list[Event] | None:
    attrs: dict[str, Any] = dict(state.target)
    match = CONNECTED_RE.match(text)
    if match:
        attrs["host"] = attrs.get("host") or match.group(1)
    elif (match := NC_OK_RE.match(text)) or (match := NC_OPEN_RE.match(text)):
        attrs.update(host=match.group(1), port=int(match.group(3)))
        if match.group(2):
            attrs["ip"] = match.group(2)
    elif match := NCAT_OK_RE.match(text):
        attrs.update(ip=match.group(1).strip("[]"), port=int(match.group(2)))
    else:
        return None
    if not state.connecting:
        state.new_session()
    state.connecting = False
    attrs["tls_mode"] = TlsMode.NONE  # telnet and nc speak plain text
    event = ctx.local(line, CONNECTED, text, state.key(), **attrs)
    state.silent_since = line
    return [event]


def _failure(line: Line, text: str, state: _Telnet, ctx: ParseContext) -> list[Event] | None:
    for pattern in FAILURE_RES:
        match = pattern.match(text)
        if match:
            if not state.connecting and state.open and state.connect_failed:
                ctx.noise(line)  # telnet's summary after the failure of its last address
                return []
            if not state.connecting:
                state.new_session()
            state.connect_failed = True
            attrs: dict[str, Any] = dict(state.target)
            port = next((g for g in match.groups()[:-1] if g and g.isdigit()), None)
            if port:
                attrs["port"] = int(port)
            state.connecting = False
            return [ctx.error(line, text, state.key(), stage=Stage.CONNECT.value, **attrs)]
    return None


def _closed(line: Line, text: str, state: _Telnet, ctx: ParseContext) -> list[Event] | None:
    if not CLOSED_RE.match(text):
        return None
    key = state.key()
    state.open = False
    if state.last_code in (rc.CLOSING, rc.SERVICE_UNAVAILABLE):
        return [ctx.local(line, NOTE, text, key)]  # the server said it would close
    return [ctx.error(line, text, key, connected=True)]

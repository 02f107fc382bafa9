"""swaks (Swiss Army Knife for SMTP) transcripts.

Notes
-----
swaks marks every line with a direction prefix.  ``=== `` starts its own
notes (``=== Trying host:port...``, ``=== Connected to host.``, ``=== TLS
started with cipher ...``).  `` -> `` and ``<-  `` mark commands and replies
in clear text, and `` ~> `` and ``<~  `` the same inside TLS.  ``<** `` and
``<~* `` mark replies it treats as errors, and ``*** `` its own errors
(``*** TLS startup failed (...)``, ``*** Remote host closed connection
unexpectedly.``).  An error it cannot pin to a reply (a timeout waiting for
the server) is printed as ``<** Timeout (30 secs) waiting for server
response``.

The message body is printed line by line after the 354 reply, with the
client prefix; those lines up to the ``.`` are noise.  ``*** Error
connecting to host:port:`` is followed by a tab-indented ``***`` line with
the socket error, and the two are read as one error.  swaks has no
timestamps; each ``=== Trying`` line starts a session.

A reply that never came (``<** Timeout ...``) fails the step of the last
command sent, or the greeting when none was, on a connection that was open.
A paste that starts in the middle of a session shows no ``Connected`` line,
but its commands show that the connection was open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ..labels import Stage, TlsMode
from ..records import CONNECT, CONNECTED, TLS_OK, Event, Line
from ..sessions import VERB_STAGES
from .base import ParseContext

NAME = "swaks"
DESCRIPTION = "swaks transcripts (=== / -> / <- / ~> / <~ / *** prefixes)"
CLIENT = "swaks"
PRIORITY = 5
# Sessions follow one another; one ends when the next begins (see base.parse_items).
SESSIONS_IN_ORDER = True

PREFIX_RE = re.compile(r"^(===|\*\*\*| ->| ~>|<- |<~ |<\*\*|<~\*) ?(.*)$")
TRYING_RE = re.compile(r"^Trying (\S+?):(\d+)\.\.\.$")
CONNECTED_RE = re.compile(r"^Connected to (\S+?)\.?$")
ERROR_CONNECTING_RE = re.compile(r"^Error connecting to (\S+?):(\d+):?$")

# swaks errors and the step at which each one stops the session.
ERROR_STAGES: tuple[tuple[str, Stage], ...] = (
    ("TLS startup failed", Stage.TLS),
    ("Host did not advertise STARTTLS", Stage.STARTTLS),
    ("STARTTLS attempted but failed", Stage.TLS),
    ("No authentication type succeeded", Stage.AUTH),
    ("Error connecting", Stage.CONNECT),
    ("Could not resolve", Stage.DNS),
)
# Errors that only repeat the one printed before them.
REPEATED_ERRORS = ("STARTTLS attempted but failed",)
NOTE_NOISE = ("TLS no local certificate", "TLS peer DN", "TLS peer certificate", "Connection closed with remote host",
              "TLS client certificate", "Local certificate", "TLS local DN")


# detect's strong starts each begin with a prefix that PREFIX_RE matches.
DETECT_SIGNS = (PREFIX_RE,)


def detect(sample: list[str]) -> float:
    """Score the share of sample lines that carry a swaks prefix."""
    hits = sum(1 for text in sample if PREFIX_RE.match(text))
    strong = sum(1 for text in sample if text.startswith(("=== Trying ", "*** TLS startup failed", " -> EHLO",
                                                          " ~> EHLO", "<-  220")))
    score = hits / max(len(sample), 1)
    return min(1.0, score + (0.3 if strong else 0.0))


class _State:
    def __init__(self) -> None:
        self.session = 0
        self.started = False
        self.in_body = False
        self.greeted = False
        self.tls = False
        self.connect_error: Line | None = None
        self.connected = False  # a Connected note, a command or a reply was seen in this session
        self.last_stage: Stage | None = None  # the step of the last command sent


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event]:
    """Turn swaks transcript lines into events."""
    state = _State()
    for line in lines:
        match = PREFIX_RE.match(line.text.rstrip())
        if match is None:
            if state.in_body:
                ctx.noise(line)  # a body line that lost its prefix when pasted
            else:
                ctx.unrecognised(line)
            continue
        prefix, payload = match.group(1), match.group(2)
        if prefix == "===":
            yield from _note(line, payload, state, ctx)
        elif prefix == "***":
            yield from _error(line, payload, state, ctx)
        elif prefix in (" ->", " ~>"):
            yield from _command(line, payload, state, ctx)
        else:
            yield from _reply(line, prefix, payload, state, ctx)


def _ensure_session(state: _State) -> None:
    if not state.started:
        state.session += 1
        state.started = True


def _note(line: Line, payload: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    trying = TRYING_RE.match(payload)
    if trying:
        state.session += 1
        state.started, state.in_body, state.greeted, state.tls = True, False, False, False
        state.connected, state.last_stage = False, None
        yield ctx.local(line, CONNECT, payload, state.session, host=trying.group(1), port=int(trying.group(2)))
        return
    _ensure_session(state)
    if CONNECTED_RE.match(payload):
        state.connected = True
        yield ctx.local(line, CONNECTED, payload, state.session)
    elif payload.startswith("TLS started"):
        state.tls = True
        mode = TlsMode.STARTTLS if state.greeted else TlsMode.IMPLICIT
        yield ctx.local(line, TLS_OK, payload, state.session, tls_mode=mode)
    elif payload.startswith(NOTE_NOISE):
        ctx.noise(line)
    else:
        ctx.noise(line)  # other notes (DNS lookups, proxy set-up) carry no failure evidence


def _error(line: Line, payload: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    _ensure_session(state)
    text = payload.strip()
    if ERROR_CONNECTING_RE.match(text):
        state.connect_error = line  # the socket error follows on its own line
        ctx.noise(line)
        return
    if payload.startswith(("\t", " ")) and state.connect_error is not None:
        state.connect_error = None
        yield ctx.error(line, text, state.session, stage=Stage.CONNECT)
        return
    if text.startswith(REPEATED_ERRORS):
        ctx.noise(line)
        return
    stage = next((stage for marker, stage in ERROR_STAGES if text.startswith(marker)), None)
    if text.startswith("TLS startup failed") and not state.greeted:
        yield ctx.error(line, text, state.session, stage=Stage.TLS, tls_mode=TlsMode.IMPLICIT)
        return
    yield ctx.error(line, text, state.session, stage=stage)


def _command(line: Line, payload: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    _ensure_session(state)
    state.connected = True
    if state.in_body:
        if payload.strip() == ".":
            state.in_body = False
            state.last_stage = Stage.DATA
            yield ctx.client(line, ".", state.session)
        else:
            ctx.noise(line)
        return
    event = ctx.client(line, payload, state.session)
    # The lone "." that ends the message, in a paste that starts after the 354 reply.
    stage = Stage.DATA if payload.strip() == "." else VERB_STAGES.get(event.verb or "")
    if stage is not None and stage is not Stage.NONE:
        state.last_stage = stage
    yield event


def _reply(line: Line, prefix: str, payload: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    _ensure_session(state)
    event = ctx.server(line, payload, state.session)
    if event is None:
        # "<** Timeout (30 secs) waiting for server response" and the like: no reply to the last command.
        if state.connected:
            stage = state.last_stage or Stage.GREETING
            yield ctx.error(line, payload.strip(), state.session, stage=stage.value, connected=True)
        else:
            yield ctx.error(line, payload.strip(), state.session)
        return
    state.connected = True
    if not state.greeted and not event.attrs.get("continued"):
        state.greeted = True
    if event.code == 354:
        state.in_body = True
    yield event

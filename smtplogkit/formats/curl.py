"""curl ``--verbose`` output for ``smtp://`` and ``smtps://`` URLs.

Notes
-----
curl prints its own notes with ``* `` (``*   Trying 192.0.2.1:587...``,
``* Connected to host (192.0.2.1) port 587 (#0)``), replies with ``< `` and
commands with ``> ``.  A failed transfer ends with ``curl: (N) message``.
N is the exit code: 67 login denied, 7 failed to connect, 35 TLS handshake
failed, 60 certificate problem, 28 timed out.  The exit code
names the step, so it sets the error's stage.

Without ``--silent`` the progress meter goes to the same stream: its header
lines, its rows, and row fragments glued in front of the next verbose line
(``  0     0 ...     0*   Trying``) because each row ends with a carriage
return, not a newline.  The fragments are cut off and the rows are noise.
TLS record traces (``} [5 bytes data]``, ``* TLSv1.3 (OUT), TLS handshake``)
and certificate details are noise.  curl does not print the message body or
the ``.`` that ends it; the session builder expects the final reply after a
354 anyway.  Each ``Trying`` line starts a session (one per address tried).
A transfer's sessions end with the transfer: at curl's exit message,
``Connection #0 ... left intact`` or the next transfer's host, so runs
appended to one log are sessions of their own.

``Trying`` names only the address.  curl names the host in ``Connected to
host (address) port N``, and on failure in ``Failed to connect to host port
N after T ms: reason`` (as a note and as the exit message) or ``Could not
resolve host: host``; curl 8 also prints ``Host host:port was resolved.``
before trying.  That host goes on every address tried for the same transfer.
curl tries IPv4 and IPv6 addresses in parallel (happy eyeballs), so its notes
about one attempt follow the ``Trying`` of another: ``connect to ::1 port 587
failed: Connection refused`` and ``ipv4 connect timeout after 1000ms, move
on!`` go to the attempt with that address or address family.  The final
failure goes to every attempt that has no error of its own yet.  An
attempt still in flight when another address connects is dropped without a
word: a session without failure and with outcome ``unknown``, whose
transcript notes the drop.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterable, Iterator

from ..labels import Stage, TlsMode
from ..records import CONNECT, CONNECTED, NOTE, TLS_OK, Event, Line, SessionEnd
from .base import ParseContext

NAME = "curl"
DESCRIPTION = "curl --verbose output for smtp:// and smtps:// transfers"
CLIENT = "curl"
PRIORITY = 5

MARKER_RE = re.compile(r"(\*\s|<\s|>\s|<$|>$|\}\s\[|\{\s\[|curl: \()")
PROGRESS_RE = re.compile(r"^[\d\s:.%kMGT-]*$")
PROGRESS_HEADER_RE = re.compile(r"^\s*(?:% Total\s+% Received|Dload\s+Upload)")
TRYING_RE = re.compile(r"^Trying (\[[^\]]+\]|[^\s:]+)(?::(\d+))?\.\.\.")
CONNECTED_RE = re.compile(r"^Connected to (\S+) \(([^)]+)\) port (\d+)")
# "connect to 192.0.2.1 port 587 failed: ..." (7.x) or "... port 587 from 10.0.0.2 port 40000 failed: ..." (8.x).
ATTEMPT_FAILED_RE = re.compile(r"^connect to (\S+) port (\d+)(?: from \S+ port \d+)? failed")
FAMILY_TIMEOUT_RE = re.compile(r"^ipv([46]) connect timeout after")
# The host as the URL names it, before the connection: "Failed to connect to smtp.example.com port 587 after
# 3 ms: ...", "Could not resolve host: smtp.example.com", "Host smtp.example.com:587 was resolved." (curl 8)
# and "Rebuilt URL to: smtp://smtp.example.com/" (before 7.62).
TARGET_RES: tuple[re.Pattern, ...] = (
    re.compile(r"Failed to connect to (?P<host>\S+) port (?P<port>\d+)"),
    re.compile(r"Could not resolve host: (?P<host>[^\s:]+)"),
    re.compile(r"^Host (?P<host>\S+?):(?P<port>\d+) was resolved"),
    re.compile(r"^Rebuilt URL to: \w+://(?:[^@/]*@)?(?P<host>\[[^\]]+\]|[^:/]+)(?::(?P<port>\d+))?"),
)
EXIT_RE = re.compile(r"^curl: \((\d+)\) (.*)$")

# curl exit codes (libcurl's CURLE_* numbers) and the step each one reports.
EXIT_STAGES: dict[int, Stage] = {
    5: Stage.DNS,  # could not resolve proxy
    6: Stage.DNS,  # could not resolve host
    7: Stage.CONNECT,  # failed to connect
    35: Stage.TLS,  # TLS handshake failed
    51: Stage.TLS,  # peer certificate or fingerprint not accepted (older curl)
    58: Stage.TLS,  # problem with the local client certificate
    60: Stage.TLS,  # certificate problem
    64: Stage.STARTTLS,  # requested TLS level failed (STARTTLS not offered)
    67: Stage.AUTH,  # login denied
    77: Stage.TLS,  # problem with the CA certificate
    83: Stage.TLS,  # issuer check failed
    90: Stage.TLS,  # public key pinning mismatch
    91: Stage.TLS,  # invalid certificate status
}
# Notes that report a failure (curl repeats them in the exit message) and
# their stage when the note names one.
ERROR_NOTES: tuple[tuple[str, Stage | None], ...] = (
    ("connect to ", Stage.CONNECT),
    ("ipv4 connect timeout", Stage.CONNECT),
    ("ipv6 connect timeout", Stage.CONNECT),
    ("Could not resolve host", Stage.DNS),
    ("SSL certificate problem", Stage.TLS),
    ("SSL: no alternative certificate subject name", Stage.TLS),
    ("SSL: certificate subject name", Stage.TLS),
    ("STARTTLS not supported", Stage.STARTTLS),
    ("response reading failed", None),
    ("Operation timed out", None),
    ("Connection timed out", None),
    ("Recv failure", None),
    ("Send failure", None),
)
ERROR_NOTE_RE = re.compile(r"^(?:OpenSSL/[\d.]+: )?error:[0-9A-F]{8}:|^\w+ failed: \d{3}$")


# A line that scores starts with one of these once a progress meter's row is cut off its front.
STRONG_STARTS = ("*   Trying ", "* Connected to ", "curl: (", "* Rebuilt URL")
DETECT_SIGNS = STRONG_STARTS


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like curl's verbose output."""
    hits = 0
    strong = 0
    for text in sample:
        body = _strip_progress(text)
        if body is None:
            continue
        if MARKER_RE.match(body):
            hits += 1
        if body.startswith(STRONG_STARTS):
            strong += 1
    if not strong:
        return 0.0
    return min(1.0, hits / max(len(sample), 1) + 0.4)


def _strip_progress(text: str) -> str | None:
    """Return the line without a leading progress-meter row, or ``None`` for a progress row."""
    if PROGRESS_HEADER_RE.match(text) or PROGRESS_RE.match(text):
        return None
    match = MARKER_RE.search(text)
    if match and match.start() > 0 and PROGRESS_RE.match(text[:match.start()]):
        return text[match.start():]
    return text


class _State:
    def __init__(self) -> None:
        self.session = 0
        self.started = False
        self.greeted = False
        self.tls_started = False
        self.after_exit = False
        self.host: str | None = None  # the host the current transfer connects to, once curl names it
        self.port: int | None = None
        self.attempts: dict[str, int] = {}  # address tried in the current transfer -> its session
        self.failed: set[int] = set()  # sessions of the current transfer with an error of their own
        self.connected: int | None = None  # the session of the address that connected in this transfer
        self.first = 1  # the first session of the current transfer
        self.ended: range | None = None  # sessions of a transfer that ended on the current line

    def end_transfer(self) -> None:
        """Forget the transfer's host and addresses, and end its sessions."""
        self.host = self.port = None
        self.end_sessions()

    def end_sessions(self) -> None:
        """End the current transfer's sessions: the next event starts a new one."""
        if self.started:
            self.ended = range(self.first, self.session + 1)
            self.first = self.session + 1
        self.started = self.greeted = self.tls_started = False
        self.attempts = {}
        self.failed = set()
        self.connected = None


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event]:
    """Turn curl verbose lines into events."""
    state = _State()
    for line in lines:
        if state.ended is not None:
            yield from map(SessionEnd, state.ended)
            state.ended = None
        body = _strip_progress(line.text.rstrip())
        if body is None:
            ctx.noise(line)
            continue
        if body.startswith("* "):
            state.after_exit = False
            yield from _note(line, body[2:].strip(), state, ctx)
        elif body.startswith("<"):
            yield from _reply(line, body[1:].strip(), state, ctx)
        elif body.startswith(">"):
            _ensure_session(state)
            yield ctx.client(line, body[1:].strip(), state.session)
        elif body.startswith(("} [", "{ [")):
            ctx.noise(line)  # TLS record trace
        elif EXIT_RE.match(body):
            yield from _exit(line, body, state, ctx)
        elif state.after_exit:
            ctx.noise(line)  # the advice curl prints after some exit messages
        else:
            ctx.unrecognised(line)


def _ensure_session(state: _State) -> None:
    if not state.started:
        state.session += 1
        state.started = True


def _note(line: Line, note: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    trying = TRYING_RE.match(note)
    if trying:
        yield _trying(line, note, trying, state, ctx)
        return
    if note.startswith(("Host ", "Rebuilt URL to")) and _target(note):
        state.end_transfer()  # a new transfer starts by naming its host
        yield from _name_host(line, note, state, ctx)
        return
    if note.startswith("Failed to connect to "):
        yield from _name_host(line, note, state, ctx)  # the exit message repeats the failure
        return
    _ensure_session(state)
    connected = CONNECTED_RE.match(note)
    if connected:
        state.session = state.connected = state.attempts.get(connected.group(2), state.session)
        yield ctx.local(line, CONNECTED, note, state.session, host=connected.group(1), ip=connected.group(2),
                        port=int(connected.group(3)))
        target = (connected.group(1), int(connected.group(3)))
        dropped = yield from _drop_racing(line, target, connected.group(2), state, ctx)
        yield from _name_host(line, note, state, ctx, target=target, skip={state.session, *dropped})
        return
    if note.startswith("Connection #") and "left intact" in note:
        state.end_transfer()
        ctx.noise(line)
        return
    if note.startswith("SSL connection using"):
        yield ctx.local(line, TLS_OK, note, state.session)
        return
    if "TLS handshake, Client hello" in note and not state.greeted and not state.tls_started:
        state.tls_started = True
        yield ctx.local(line, NOTE, note, state.session, tls_mode=TlsMode.IMPLICIT)
        return
    for marker, stage in ERROR_NOTES:
        if note.startswith(marker):
            if marker == "connect to " and "failed" not in note:
                break
            yield _attempt_error(line, note, stage, state, ctx)
            return
    if ERROR_NOTE_RE.match(note):
        stage = Stage.TLS if "error:" in note else None
        if stage is None:
            ctx.noise(line)  # "MAIL failed: 530" repeats the reply before it
            return
        yield ctx.error(line, note, state.session, stage=stage)
        return
    ctx.noise(line)  # connection bookkeeping, TLS trace, certificate details


def _trying(line: Line, note: str, trying: re.Match, state: _State, ctx: ParseContext) -> Event:
    """Start a session for one address tried, with the transfer's host when curl named it before."""
    if state.greeted:
        state.end_sessions()  # a new connection after one that got a reply
    state.session += 1
    state.started, state.greeted, state.tls_started = True, False, False
    address = trying.group(1).strip("[]")
    port = int(trying.group(2)) if trying.group(2) else None
    state.attempts[address] = state.session
    return ctx.local(line, CONNECT, note, state.session, host=state.host, ip=address, port=port)


def _drop_racing(line: Line, target: tuple[str, int], address: str, state: _State,
                 ctx: ParseContext) -> Generator[Event, None, set[int]]:
    """Note on every other address of the transfer still in flight that curl dropped it once one connected.

    Such an attempt is no failure: curl gave up on it because another
    address connected first, and the message went out.  Its row has no
    failure and outcome ``unknown`` (it reached no server), and the note
    in its transcript gives the reason.  Return the sessions dropped.
    """
    host, port = target
    dropped = set()
    for other, session in state.attempts.items():
        if session != state.connected and session not in state.failed:
            state.failed.add(session)  # so that no later error of the transfer lands on it
            dropped.add(session)
            text = f"attempt dropped: {host} ({address}) connected first, {other} had not connected"
            yield ctx.local(line, NOTE, text, session, host=host, port=port)
    return dropped


def _attempt_error(line: Line, note: str, stage: Stage | None, state: _State, ctx: ParseContext) -> Event:
    """Return the error of a note, in the session of the attempt it names when it names one."""
    session = state.session
    attempt = ATTEMPT_FAILED_RE.match(note)
    family = FAMILY_TIMEOUT_RE.match(note)
    if attempt:
        session = state.attempts.get(attempt.group(1), session)
    elif family:
        ipv6 = family.group(1) == "6"
        candidates = [s for address, s in state.attempts.items() if (":" in address) == ipv6 and s not in state.failed]
        session = candidates[-1] if candidates else session
    state.failed.add(session)
    host, port = _target(note) or (None, None)
    return ctx.error(line, note, session, stage=stage, host=host, port=port)


def _name_host(line: Line, note: str, state: _State, ctx: ParseContext, *,
               target: tuple[str, int | None] | None = None, skip: set[int] = frozenset()) -> Iterator[Event]:
    """Keep the host a note names and give it to every address tried so far in this transfer but those in ``skip``."""
    host, port = target or _target(note) or (None, None)
    state.host = host
    if port is not None:
        state.port = port
    for session in state.attempts.values():
        if session not in skip:
            yield ctx.local(line, NOTE, note, session, host=host, port=port)


def _target(text: str) -> tuple[str, int | None] | None:
    """Return the host and port (``None`` when not printed) that a curl message names, or ``None``."""
    for pattern in TARGET_RES:
        match = pattern.search(text)
        if match:
            port = match.groupdict().get("port")
            return match.group("host").strip("[]"), int(port) if port else None
    return None


def _reply(line: Line, reply: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    _ensure_session(state)
    if not reply:
        ctx.noise(line)
        return
    event = ctx.server(line, reply, state.session)
    if event is None:
        ctx.unrecognised(line)
        return
    state.greeted = True
    yield event


def _exit(line: Line, body: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    _ensure_session(state)
    match = EXIT_RE.match(body)
    code = int(match.group(1))
    state.after_exit = True
    host, port = _target(body) or (state.host, state.port)
    # Before a connection, every address still in flight when curl gave up failed with the transfer.
    sessions = [s for s in state.attempts.values() if s not in state.failed] or [state.session]
    if state.connected is not None:
        sessions = [state.connected]
    for session in sessions:
        yield ctx.error(line, body, session, stage=EXIT_STAGES.get(code), curl_exit=code, host=host, port=port)
    state.end_transfer()

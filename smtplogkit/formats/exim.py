"""Exim mainlog and Exim debug output (``exim -d``): remote deliveries as sessions.

Notes
-----
Mainlog lines start with a date and time (taken off by the envelope reader)
and, for a message, its id (``1bPxwi-0001xA-Te``; Exim 4.97 and later print
longer ids).  The flag after the id shows what happened to one recipient:
``=>`` delivered, ``->`` another recipient delivered over the same
connection, ``**`` bounced, ``==`` deferred.  Failures carry ``H=host [ip]``
and the server's reply after ``SMTP error from remote mail server after
<command>:``, which gives the stage, or ``defer (errno): text`` for a failure
below SMTP (111 is ECONNREFUSED, 110 ETIMEDOUT).  A host tried and given up
before the next MX host is logged on its own line (``H=host [ip] Connection
refused``); the ``==`` line that follows repeats the last host's error and is
not a session of its own.  ``retry time not reached`` means Exim did not try
at all: it annotates the message and is no session.  A failed AUTH at a
smarthost is logged as ``<authenticator> authenticator failed H=host [ip]
<reply>`` and then ``defer (-42): authentication required but
authentication attempt(s) failed``, which repeats that failure (-42 is the
errno Exim gives a delivery whose required AUTH failed).  A ``**`` line for a
recipient rejected at RCPT TO and a ``=>`` line for one delivered, to the
same host and in either order, are one connection: a partial delivery,
with the rejected recipients counted.  A delivery line's ``X=`` field names
the TLS cipher, so the attempt negotiated TLS (STARTTLS unless the port is
465).

Debug output prefixes each line with the process id.  ``Connecting to H
[ip]:25 ... failed: <error>`` and ``... connected`` open an attempt;
``SMTP>>`` and ``SMTP<<`` lines are its commands and replies.  ``LOG: MAIN``
introduces a copy of the main-log line the process writes, which repeats the
attempt's error, so the copy is noise when the attempt already contains it.
Server-side lines (``<=`` arrivals, ``SMTP connection from``, rejections) are
noise to the session table.

Pasted excerpts are often cut.  When a transcript lacks its failing reply,
the main-log copy that names the attempt's address gives the failure, at
the stage of the command its ``after ...`` names.  Retry lines (``Retry
rule:``, ``no retry data available``, with or without the process id) are
noise that marks the file as Exim's.  ``added retry item for T:host:ip:
errno=N`` becomes a failed attempt when the excerpt has none to that
address, and ``all host address lookups ... failed`` a DNS failure.
``retry time not reached for any host`` means that no host was tried: no
session, and one warning per file.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..labels import Cause, Stage, TlsMode
from ..records import CONNECT, TLS_OK, Event, Line, SessionEnd
from . import _mta
from .base import ParseContext, hit_score

NAME = "exim"
# Its session rows carry the queue id of the message an attempt delivered (a queue_id column).
QUEUE_IDS = True
DESCRIPTION = "Exim mainlog and exim -d debug output: remote deliveries"
CLIENT = "exim"
PRIORITY = 20

MESSAGE_ID = r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}"
MESSAGE_RE = re.compile(rf"^({MESSAGE_ID}) (.*)$")
DELIVERY_RE = re.compile(r"^(=>|->|\*\*|==) (\S+)(?: <([^>]*)>)?(.*)$")
HOST_RE = re.compile(r"\bH=(\S+) \[([^\]]+)\](?::(\d+))?")
TLS_FIELD_RE = re.compile(r"\bX=(\S+)")
# The command a failure came "after", as Exim names it.
AFTER_COMMAND = r"(?:pipelined )?(end of data|MAIL FROM|RCPT TO|DATA|EHLO|HELO|STARTTLS|AUTH|initial connection|QUIT|[A-Z]+)\b"
SMTP_ERROR_RE = re.compile(rf"SMTP error from remote mail server after {AFTER_COMMAND}(?::?<[^>]*>)?[^:]*: (.*)$", re.IGNORECASE)
# No reply came in time: "SMTP timeout after RCPT TO:<a@example.net>", "... after end of data (1234 bytes written)".
SMTP_TIMEOUT_RE = re.compile(rf"SMTP timeout after {AFTER_COMMAND}", re.IGNORECASE)
DEFER_RE = re.compile(r"\b(?:routing )?defer \((-?\d+)\)(?::\s*|\s+)(.*)$")
AUTHENTICATOR_FAILED_RE = re.compile(r"^\S+ authenticator failed H=(\S+) \[([^\]]+)\](?::(\d+))?:? (.*)$")
STANDALONE_HOST_RE = re.compile(r"^(?:H=)?(\S+) \[([^\]]+)\](?::(\d+))?:? (.*)$")
DEBUG_RE = re.compile(r"^\s*(\d+) (.*)$")
CONNECTING_RE = re.compile(r"^Connecting to (\S+) \[([^\]]+)\]:(\d+)(?: from \S+)? \.\.\. ?(.*)$")
SIGNATURE_RE = re.compile(rf"^{MESSAGE_ID} (?:=>|->|\*\*|==|<=|Completed|SMTP error|H=)|^\s*\d+ (?:Connecting to |LOG: (?:\w+ )*MAIN|\s*SMTP(?:<<|>>))")
# Lines of exim -d about retry rules and the retry database, with or without the process id in front.
# They show that Exim is deciding whether to try a host; an excerpt may contain nothing else.
RETRY_LINE_RE = re.compile(
    r"^(?:Retry rule: |no retry data available|no (?:host|message) retry record|(?:host |message )?retry record "
    r"(?:too old|exists)|(?:host(?:\+message)? )?retry time not reached|retry time not reached for any host|"
    r"all hosts(?: for '[^']*')? have been fail(?:ed|ing) |all host address lookups(?: for '[^']*')? failed|"
    r"checking (?:retry )?status of \S+$|\S+ \[[^\]]+\](?::\d+)? (?:retry-)?status = |Processing retry items|"
    r"retry for [RT]:|added retry (?:delete-)?item for [RT]:|deleted retry information for |No configured retry item "
    r"for |failing_interval=|on queue longer than maximum retry|no retry rule found|SMTP timeout$)")
# "added retry item for T:mx.example.net:192.0.2.5:2525: errno=111 more_errno=0,A flags=2": Exim records the
# failure of a host it tried (the port appears only when it is not 25).
RETRY_ITEM_RE = re.compile(r"^added retry item for T:([^:\s]+):(\S+?): errno=(-?\d+) more_errno=(\d+)(?:,([AM]))?")
HOSTS_SKIPPED_RE = re.compile(r"retry time not reached for any host|all hosts(?: for '[^']*')? have been fail")
LOOKUPS_FAILED_RE = re.compile(r"^all host address lookups(?: for '([^']*)')? failed (permanently|temporarily)")
RTEF_CTOUT = 0x100  # the bit of more_errno that marks a connect timeout (the high byte Exim prints)
# Lines of Exim's SMTP server (rejections, connections from clients), which
# name a host like client-side failures do but print no message id.
SERVER_SIDE_RE = re.compile(r" from \[| from \S+ \[|\brejected\b|\bF=<|\bWarning:")
RETRY_NOT_REACHED = "retry time not reached"
AUTH_FAILED_ERRNO = "-42"  # Exim's errno for a delivery whose required AUTH failed
ERRNO_TEXT = {"111": "Connection refused", "110": "Connection timed out", "101": "Network is unreachable",
              "113": "No route to host"}


# A line of SIGNATURE_RE (whose two-character marks, " =>" and the like, follow a space) or of RETRY_LINE_RE.
DETECT_SIGNS = (" =>", " ->", " **", " ==", " <=", " Completed", " SMTP error", " H=", "Connecting to ", "LOG: ",
                "SMTP<<", "SMTP>>", RETRY_LINE_RE)


def detect(sample: list[str]) -> float:
    """Score how much of the sample reads as Exim mainlog or debug lines."""
    hits = sum(1 for text in sample if SIGNATURE_RE.search(text) or RETRY_LINE_RE.match(_debug_body(text)))
    return hit_score(hits, sample)


def _debug_body(text: str) -> str:
    """Return a debug line without the process id in front."""
    debug = DEBUG_RE.match(text)
    return debug.group(2).strip() if debug else text.strip()


@dataclass(slots=True)
class _Debug:
    """One exim process in debug output: its current attempt and a pending ``LOG:`` copy."""

    attempt: _mta.Attempt | None = None
    log_copy: bool = False


@dataclass(slots=True)
class _State:
    debug: dict[str, _Debug] = field(default_factory=dict)
    # Per message id: the attempt still open (more recipients may join it).
    open: dict[str, _mta.Attempt] = field(default_factory=dict)
    # Addresses of the hosts an attempt of this file went to, so that a retry item repeats no attempt.
    tried: set[str] = field(default_factory=set)
    skipped_warned: bool = False


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn Exim mainlog and debug lines into one session per connection attempt."""
    state = _State()
    for line in lines:
        text = line.text
        debug = DEBUG_RE.match(text)
        if debug and not MESSAGE_RE.match(text):
            yield from _debug_line(line, debug.group(1), debug.group(2), state, ctx)
            continue
        if RETRY_LINE_RE.match(text.strip()):
            yield from _retry_line(line, text.strip(), None, state, ctx)  # debug output pasted without process ids
            continue
        yield from _main_line(line, text, state, ctx)
    for attempt in state.open.values():
        yield from attempt.finish()
    for process in state.debug.values():
        if process.attempt is not None:
            yield from process.attempt.finish()


def _debug_line(line: Line, pid: str, text: str, state: _State, ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    process = state.debug.setdefault(pid, _Debug())
    body = text.strip()
    if body.startswith("LOG: "):
        process.log_copy = True
        ctx.noise(line)
        return
    if process.log_copy:
        process.log_copy = False
        attempt = process.attempt
        if attempt is not None and attempt.failed:
            ctx.noise(line)  # the main-log copy of the error the attempt already contains
            return
        if attempt is not None and _names_attempt(body, attempt):
            # The excerpt lacks the failing reply (its middle was cut), and the copy names it.
            _add_failure(ctx, line, attempt, body[HOST_RE.search(body).end():].lstrip(": "))
            return
        if HOSTS_SKIPPED_RE.search(body):
            _warn_untried(line, state, ctx)  # "== a@example.net ... defer (-53): retry time not reached for any host"
        yield from _main_line(line, body, state, ctx)
        return

    match = CONNECTING_RE.match(body)
    if match:
        if process.attempt is not None:
            yield from process.attempt.finish()
        host, ip, port, outcome = match.groups()
        state.tried.add(ip)
        if outcome.startswith("failed:"):
            error = outcome[len("failed:"):].strip()
            process.attempt = _mta.connect_failure(ctx, line, f"{host} [{ip}]:{port} {error}", host, ip, int(port))
        else:
            process.attempt = _mta.connected(ctx, line, host, ip, int(port))
        return

    attempt = process.attempt
    if attempt is not None and body.startswith("SMTP>>"):
        attempt.add(ctx.client(line, body[len("SMTP>>"):].strip(), attempt.key))
        return
    if attempt is not None and body.startswith("SMTP<<"):
        event = ctx.server(line, body[len("SMTP<<"):].strip(), attempt.key)
        if event is not None:
            attempt.add(event)
            attempt.failed = attempt.failed or event.code >= 400
            return
    if RETRY_LINE_RE.match(body):
        yield from _retry_line(line, body, process, state, ctx)
        return
    ctx.noise(line)


def _retry_line(line: Line, body: str, process: _Debug | None, state: _State,
                ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Read a debug line about retries: the failure of a host tried, a failed lookup, or hosts left untried."""
    attempt = process.attempt if process is not None else None
    if body == "SMTP timeout":
        if attempt is not None and not attempt.failed:
            # No reply came in time; the command the attempt is at names the stage.
            attempt.failed, attempt.reason = True, body
            attempt.add(ctx.error(line, body, attempt.key, connected=True))
        else:
            ctx.noise(line)  # without its attempt, the timeout may be the connection's or a reply's
        return
    item = RETRY_ITEM_RE.match(body)
    if item is not None:
        attempt = _retry_attempt(item, line, state, ctx)
        if attempt is None:
            ctx.noise(line)
            return
        yield from attempt.finish()
        return
    lookups = LOOKUPS_FAILED_RE.match(body)
    if lookups is not None:
        domain, outcome = lookups.groups()
        cause = Cause.DNS_NXDOMAIN if outcome == "permanently" else Cause.DNS_FAILURE
        failed = _mta.Attempt(_mta.new_key(), host=domain, failed=True, reason=body, rows=ctx.rows_wanted)
        failed.add(_mta.local_event(line, CONNECT, body, failed.key, host=domain))
        failed.add(ctx.error(line, body, failed.key, stage=Stage.DNS.value, cause=cause.value))
        yield from failed.finish()
        return
    if HOSTS_SKIPPED_RE.match(body):
        _warn_untried(line, state, ctx)
    ctx.noise(line)


def _warn_untried(line: Line, state: _State, ctx: ParseContext) -> None:
    """Warn once per file that Exim left every host untried, so a delivery gave no session."""
    if not state.skipped_warned:
        state.skipped_warned = True
        ctx.warn(line, "Exim tried no host (the retry time of every host was not reached, or every host has been "
                       "failing for too long), so this delivery made no connection attempt and gives no session; "
                       "the failures that set the retry times come from earlier attempts")


# The stage, cause and row text that a retry item's errno means for the attempt that failed.
RETRY_ERRNOS: dict[int, tuple[Stage, Cause, str]] = {
    111: (Stage.CONNECT, Cause.CONNECT_REFUSED, "Connection refused"),
    101: (Stage.CONNECT, Cause.NETWORK_UNREACHABLE, "Network is unreachable"),
    113: (Stage.CONNECT, Cause.NETWORK_UNREACHABLE, "No route to host"),
    -37: (Stage.TLS, Cause.TLS_HANDSHAKE_FAILURE, "TLS session failed to start"),
    -38: (Stage.STARTTLS, Cause.STARTTLS_UNAVAILABLE, "TLS required but not started"),
    -42: (Stage.AUTH, Cause.AUTH_FAILED, "authentication required but authentication attempt(s) failed"),
}
# Exim's errnos for a 4xx reply to one command; the reply code minus 400 is the high byte of more_errno.
RETRY_REPLY_ERRNOS = {-44: (Stage.RCPT_TO, "RCPT TO"), -45: (Stage.MAIL_FROM, "MAIL FROM"), -46: (Stage.DATA, "DATA")}


def _retry_attempt(item: re.Match, line: Line, state: _State, ctx: ParseContext) -> _mta.Attempt | None:
    """Return the failed attempt a retry item reports, or ``None`` when the item adds nothing to the excerpt."""
    host, rest, errno_text, more_text, letter = item.groups()
    ip, port = _key_address(rest)
    errno, high = int(errno_text), int(more_text)
    if letter is None:
        high = (high >> 8) & 255  # printed whole, without the A or M that marks the split form

    if ip is None or ip in state.tried:
        return None  # the attempt is in the excerpt already, or the key names no address
    if errno in RETRY_REPLY_ERRNOS and high:
        stage, command = RETRY_REPLY_ERRNOS[errno]
        state.tried.add(ip)
        attempt = _mta.connected(ctx, line, host, ip, port)
        _mta.add_reply_failure(ctx, line, attempt, f"{400 + high} reply to {command} (its text is not in the excerpt)",
                               stage)
        return attempt

    if errno == 110 and high & (RTEF_CTOUT >> 8):
        stage, cause, text = Stage.CONNECT, Cause.CONNECT_TIMEOUT, "Connection timed out"
    elif errno in RETRY_ERRNOS:
        stage, cause, text = RETRY_ERRNOS[errno]
    else:
        return None  # a timeout after connecting, or an errno that names no step

    state.tried.add(ip)
    message = f"{host} [{ip}]: {text} (errno {errno}, from Exim's retry item)"
    if stage is Stage.CONNECT:
        attempt = _mta.connect_failure(ctx, line, message, host, ip, port)
    else:
        attempt = _mta.connected(ctx, line, host, ip, port)
        attempt.failed, attempt.reason = True, message
        attempt.add(ctx.error(line, message, attempt.key, stage=stage.value, connected=True))
    attempt.events[-1].attrs["cause"] = cause.value
    return attempt


def _key_address(rest: str) -> tuple[str | None, int | None]:
    """Split the address part of a retry key ("192.0.2.5", "192.0.2.5:2525", "2001:db8::5") into address and port."""
    for candidate, port in ((rest, None), *([tuple(rest.rsplit(":", 1))] if ":" in rest else [])):
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if port is None:
            return candidate, None
        return (candidate, int(port)) if port.isdigit() else (None, None)
    return None, None


def _names_attempt(copy: str, attempt: _mta.Attempt) -> bool:
    """Return whether a main-log copy reports a failure of ``attempt``: same address, and an SMTP error or timeout."""
    host = HOST_RE.search(copy)
    if host is None or host.group(2) != attempt.ip:
        return False
    return SMTP_ERROR_RE.search(copy) is not None or SMTP_TIMEOUT_RE.search(copy) is not None


def _main_line(line: Line, text: str, state: _State, ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    match = MESSAGE_RE.match(text)
    if match is None:
        yield from _host_line(line, None, text, state, ctx)
        return
    message_id, rest = match.groups()
    delivery = DELIVERY_RE.match(rest)
    if delivery is None:
        if rest == "Completed" or rest.startswith(("<=", "Frozen", "removed", "Message is frozen")):
            yield from _close(state, message_id)
            ctx.noise(line)
            return
        yield from _host_line(line, message_id, rest, state, ctx)
        return
    flag, address, original, details = delivery.groups()
    yield from _delivery(line, message_id, flag, details, state, ctx)


def _close(state: _State, message_id: str) -> Iterator[Event | SessionEnd]:
    attempt = state.open.pop(message_id, None)
    if attempt is not None:
        yield from attempt.finish()


def _host_line(line: Line, message_id: str | None, text: str, state: _State,
               ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Read a per-host failure line: ``H=host [ip] Connection refused``, ``SMTP error from ...``."""
    auth_failure = AUTHENTICATOR_FAILED_RE.match(text)
    if auth_failure is not None and message_id is not None:
        yield from _close(state, message_id)
        host_name, ip, port, reply = auth_failure.groups()
        attempt = _mta.connected(ctx, line, host_name, ip, int(port) if port else None)
        _mta.add_reply_failure(ctx, line, attempt, reply, Stage.AUTH)
        attempt.queue_id = message_id
        state.open[message_id] = attempt
        return
    smtp_error = SMTP_ERROR_RE.search(text)
    host = HOST_RE.search(text) or STANDALONE_HOST_RE.match(text)
    if smtp_error is None and (host is None or message_id is None and SERVER_SIDE_RE.search(text)):
        ctx.noise(line)
        return
    if message_id is not None:
        yield from _close(state, message_id)
    host_name, ip = (host.group(1), host.group(2)) if host else (None, None)
    port = int(host.group(3)) if host and host.group(3) else None
    if smtp_error is not None:
        attempt = _mta.connected(ctx, line, host_name, ip, port)
        _add_smtp_error(ctx, line, attempt, smtp_error)
    else:
        error = host.group(4) if host.re is STANDALONE_HOST_RE else text[host.end():].lstrip(": ")
        attempt = _failure_attempt(ctx, line, error, host_name, ip, port)
    attempt.queue_id = message_id
    if message_id is None:
        yield from attempt.finish()
        return
    state.open[message_id] = attempt


def _after_stage(command: str) -> Stage:
    """Return the stage of the command a failure came after ("RCPT TO", "end of data", "initial connection")."""
    if command.lower() == "initial connection":
        return Stage.GREETING
    return _mta.command_stage(command) or Stage.MAIL_FROM


def _add_smtp_error(ctx: ParseContext, line: Line, attempt: _mta.Attempt, smtp_error: re.Match) -> None:
    command, reply = smtp_error.groups()
    _mta.add_reply_failure(ctx, line, attempt, reply, _after_stage(command))
    attempt.reason = smtp_error.group(0)


def _failure_attempt(ctx: ParseContext, line: Line, error: str, host: str | None, ip: str | None,
                     port: int | None) -> _mta.Attempt:
    """Return the attempt for an error without a reply: refused, timed out, closed, TLS."""
    lowered = error.lower()
    after_connect = ("tls" in lowered or "ssl" in lowered or "certificate" in lowered or "greeting" in lowered
                     or "closed connection in response to initial connection" in lowered
                     or SMTP_TIMEOUT_RE.search(error) is not None)
    if not after_connect:
        return _mta.connect_failure(ctx, line, error, host, ip, port)
    attempt = _mta.connected(ctx, line, host, ip, port)
    _add_failure(ctx, line, attempt, error)
    return attempt


def _add_failure(ctx: ParseContext, line: Line, attempt: _mta.Attempt, error: str) -> None:
    """Record the failure of a connected attempt: a reply, a timeout after a command, a TLS or greeting error."""
    smtp_error = SMTP_ERROR_RE.search(error)
    if smtp_error is not None:
        _add_smtp_error(ctx, line, attempt, smtp_error)
        return
    lowered = error.lower()
    timeout = SMTP_TIMEOUT_RE.search(error)
    if timeout is not None:
        stage = _after_stage(timeout.group(1))  # the command named, not the last one the excerpt shows
    elif "tls" in lowered or "ssl" in lowered or "certificate" in lowered:
        stage = Stage.TLS
    elif "closed connection in response to initial connection" in lowered or "greeting" in lowered:
        stage = Stage.GREETING
    else:
        stage = None
    attempt.failed, attempt.reason = True, error
    attempt.add(ctx.error(line, error, attempt.key, stage=stage.value if stage else None, connected=True))


def _delivery(line: Line, message_id: str, flag: str, details: str, state: _State,
              ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    host = HOST_RE.search(details)
    open_attempt = state.open.get(message_id)
    if RETRY_NOT_REACHED in details or host is None and "T=" not in details:
        return  # no connection attempt of its own: a routing or retry note on the message

    same_host = open_attempt is not None and host is not None and open_attempt.ip == host.group(2)
    if flag in ("=>", "->"):
        if same_host and (not open_attempt.failed or _rejected_recipients_only(open_attempt)):
            # Another recipient of the same connection, which may have had others rejected.
            open_attempt.recipients += 1
            _mta.add_sent(ctx, line, open_attempt, details.strip())
            return
        yield from _close(state, message_id)
        attempt = _connected(ctx, line, host.group(1) if host else None, host.group(2) if host else None,
                             int(host.group(3)) if host and host.group(3) else None, details)
        attempt.queue_id, attempt.recipients = message_id, 1
        _mta.add_sent(ctx, line, attempt, details.strip())
        state.open[message_id] = attempt
        return

    smtp_error = SMTP_ERROR_RE.search(details)
    defer = DEFER_RE.search(details)
    if smtp_error:
        error = smtp_error.group(0)
    elif defer:
        error = _defer_text(defer)
    else:
        error = details.strip()
    auth_defer = defer is not None and defer.group(1) == AUTH_FAILED_ERRNO
    if open_attempt is not None and open_attempt.failed and (
            _same_error(open_attempt.reason, error)
            or auth_defer and open_attempt.failed_at() == Stage.AUTH.value):
        open_attempt.recipients += 1
        return  # the summary of the host line just read
    rcpt_rejected = smtp_error is not None and _mta.command_stage(smtp_error.group(1)) is Stage.RCPT_TO
    if same_host and rcpt_rejected and (open_attempt.sent or _rejected_recipients_only(open_attempt)):
        # A recipient the server rejected on a connection that delivered, or rejected, others: a partial delivery.
        open_attempt.recipients += 1
        open_attempt.rejected += 1
        if not open_attempt.failed:
            _add_smtp_error(ctx, line, open_attempt, smtp_error)
        return
    yield from _close(state, message_id)
    host_name, ip = (host.group(1), host.group(2)) if host else (None, None)
    port = int(host.group(3)) if host and host.group(3) else None
    if smtp_error is not None:
        attempt = _connected(ctx, line, host_name, ip, port, details)
        _add_smtp_error(ctx, line, attempt, smtp_error)
    elif auth_defer:
        # No authenticator line came before (a filtered log), so the errno alone names the step and cause.
        attempt = _mta.connected(ctx, line, host_name, ip, port)
        attempt.failed, attempt.reason = True, error
        attempt.add(ctx.error(line, error, attempt.key, stage=Stage.AUTH.value, connected=True,
                              cause=Cause.AUTH_FAILED.value))
    else:
        attempt = _failure_attempt(ctx, line, error, host_name, ip, port)
    attempt.queue_id, attempt.recipients = message_id, 1
    if smtp_error is not None and _mta.command_stage(smtp_error.group(1)) is Stage.RCPT_TO:
        attempt.rejected = 1
    state.open[message_id] = attempt


def _connected(ctx: ParseContext, line: Line, host: str | None, ip: str | None, port: int | None,
               details: str) -> _mta.Attempt:
    """Return a connected attempt; a delivery line's ``X=`` field (the TLS cipher) means TLS was negotiated."""
    cipher = TLS_FIELD_RE.search(details)
    if cipher is None:
        return _mta.connected(ctx, line, host, ip, port)
    # Exim's smtp transport uses STARTTLS unless configured to connect with TLS, which only port 465 expects.
    mode = TlsMode.IMPLICIT if port == 465 else TlsMode.STARTTLS
    attempt = _mta.connected(ctx, line, host, ip, port, tls_mode=mode)
    attempt.add(_mta.local_event(line, TLS_OK, f"TLS {cipher.group(1)}", attempt.key))
    return attempt


def _rejected_recipients_only(attempt: _mta.Attempt) -> bool:
    """Return whether an attempt's only failures are rejected recipients (RCPT TO), so the connection went on."""
    return attempt.failed and attempt.rejected > 0 and attempt.failed_at() == Stage.RCPT_TO.value


def _defer_text(defer: re.Match) -> str:
    errno, text = defer.groups()
    text = HOST_RE.sub("", text).strip(" :") or ERRNO_TEXT.get(errno, f"errno {errno}")
    return text


def _same_error(previous: str | None, error: str) -> bool:
    if not previous:
        return False
    return previous in error or error in previous


def records(lines: Iterable[Line], ctx: ParseContext) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``("delivery", row)`` for each ``=>``, ``->``, ``**`` and ``==`` line."""
    senders: dict[str, str] = {}
    auth_replies: dict[str, str] = {}  # per message id: the reply of its last failed authenticator
    for line in lines:
        match = MESSAGE_RE.match(line.text.strip())
        if match is None:
            continue
        message_id, rest = match.groups()
        auth_failure = AUTHENTICATOR_FAILED_RE.match(rest)
        if auth_failure is not None:
            auth_replies[message_id] = auth_failure.group(4)
            continue
        if rest.startswith("<= "):
            senders[message_id] = rest[3:].split(" ", 1)[0]
            continue
        if rest == "Completed":
            senders.pop(message_id, None)
            auth_replies.pop(message_id, None)
            continue
        delivery = DELIVERY_RE.match(rest)
        if delivery is None:
            continue
        flag, address, original, details = delivery.groups()
        status = {"=>": "sent", "->": "sent", "**": "bounced", "==": "deferred"}[flag]
        host = HOST_RE.search(details)
        smtp_error = SMTP_ERROR_RE.search(details)
        defer = DEFER_RE.search(details)
        stage = None
        timeout = SMTP_TIMEOUT_RE.search(details)
        if smtp_error:
            stage = _mta.command_stage(smtp_error.group(1))
        elif timeout is not None:
            stage = _after_stage(timeout.group(1))
        elif defer is not None and defer.group(1) == AUTH_FAILED_ERRNO:
            stage = Stage.AUTH
        elif status != "sent" and host is not None:
            stage = Stage.CONNECT
        elif status != "sent":
            stage = Stage.DNS if "unrouteable" in details.lower() else None
        reason = details.strip() if status != "sent" else None
        connected = smtp_error is not None or timeout is not None or stage is Stage.AUTH
        evidence = reason or ""
        if stage is Stage.AUTH and message_id in auth_replies:
            evidence = auth_replies[message_id]  # the server's reply, which errno -42 only sums up
        failure_stage, cause, code = _mta.classify_reason(status, evidence, stage, connected)
        if stage is Stage.AUTH and cause == Cause.UNKNOWN.value:
            cause = Cause.AUTH_FAILED.value
        yield "delivery", {
            "line": line.number, "ts": line.ts, "log_host": line.log_host, "queue_id": message_id,
            "sender": senders.get(message_id), "recipient": address, "orig_recipient": original,
            "relay_host": host.group(1) if host else None, "relay_ip": host.group(2) if host else None,
            "relay_port": int(host.group(3)) if host and host.group(3) else None, "status": status,
            "reason": reason, "reply_code": code, "failure_stage": failure_stage, "cause": cause,
            "session": RETRY_NOT_REACHED not in details and (host is not None or "T=" in details),
        }

"""``openssl s_client`` output, with or without ``-starttls smtp``.

Notes
-----
s_client starts with ``CONNECTED(00000003)`` (the socket's file descriptor)
and prints no host or port.  The certificate check follows as ``depth=N
subject`` lines, each with ``verify return:1`` or ``verify error:num=20:unable
to get local issuer certificate``.  Without ``-verify_return_error`` the
handshake goes on after a failed check.  The failed check is still the
session's failure, because a mail client that verifies would stop there.
OpenSSL errors look like
``40E0...0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version
number:../ssl/record/ssl3_record.c:350:``; socket errors like
``connect:errno=111`` or ``write:errno=104``.

The handshake summary (certificate chain, PEM block, ``---`` separators,
``SSL handshake has read``, ``Verify return code``, session tickets) is noise,
except ``New, TLSv1.3, Cipher is ...`` which marks the end of a successful
handshake.  After it comes the SMTP dialogue.  s_client echoes only what the
server sends, so a dialogue piped in on stdin shows replies without commands.
The command behind each reply is then inferred from the reply itself: a
multi-line 250 follows EHLO, 334, 235 and 535 follow AUTH, 354 follows DATA,
and the enhanced codes X.1.0 and X.1.5 follow MAIL and RCPT.  Other replies
take the next command in the usual order EHLO, AUTH, MAIL, RCPT, DATA, QUIT.  Commands that do appear (typed at
a terminal, which echoes them) are read as such.

``-starttls smtp`` consumes the greeting and the first EHLO reply, but the
last line of that reply can show up after the handshake summary.  A log that
ends right after ``CONNECTED`` means the server sent nothing before s_client
was stopped, and is read as a greeting timeout.

s_client never prints the server it connects to, so the host and port come
from the command line when the paste includes it, with or without a shell
prompt (``$ ``, ``# ``, ``user@host:~$ ``, ``PS C:\\> ``): ``-connect
host:port`` anywhere among the options, ``-host h -port p``, or the target
argument of OpenSSL 3 (``s_client host:port``).  An IP address there goes
to ``ip``, and ``-servername`` then names the host.  ``-starttls`` gives the
TLS mode ``starttls``, its absence ``implicit``.  The command line gives no
event of its own (it is noise), so no secret typed on it (``-pass``,
``-psk``) reaches a row.  Each command line starts a new run; its server
stays in force for the sessions after it until the next command line.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from typing import Any

from .. import replycodes as rc
from ..labels import Stage, TlsMode
from ..records import CONNECTED, TLS_OK, Event, Line
from .base import COMMAND_RE, ParseContext

NAME = "openssl"
DESCRIPTION = "openssl s_client output, with -starttls smtp and piped SMTP dialogues"
CLIENT = "openssl-s_client"
PRIORITY = 5
# Sessions follow one another; one ends when the next begins (see base.parse_items).
SESSIONS_IN_ORDER = True

CONNECTED_RE = re.compile(r"^CONNECTED\([0-9A-Fa-f]+\)$")
VERIFY_ERROR_RE = re.compile(r"^verify error:num=(\d+):(.*)$")
OPENSSL_ERROR_RE = re.compile(r"^(?:[0-9A-F]{8,16}|\d+):error:([0-9A-F]{8}):([^:]*):([^:]*):([^:]*)")
ERRNO_RE = re.compile(r"^(\w+):errno=(\d+)$")
NEW_CIPHER_RE = re.compile(r"^New, (\S+), Cipher is (\S+)")
SMTP_VERBS = frozenset({"EHLO", "HELO", "LHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT", "RSET", "NOOP", "STARTTLS",
                        "VRFY", "BDAT"})
# Linux errno numbers that s_client prints bare, with their strerror text.
ERRNO_TEXT = {
    101: "Network is unreachable",
    104: "Connection reset by peer",
    110: "Connection timed out",
    111: "Connection refused",
    113: "No route to host",
}
NOISE_PREFIXES = (
    "---", "depth=", "verify return:", "Certificate chain", "Server certificate", "subject=", "issuer=",
    "No client certificate CA names sent", "Client Certificate Types", "Requested Signature Algorithms",
    "Shared Requested Signature Algorithms", "Peer signing digest", "Peer signature type", "Server Temp Key",
    "SSL handshake has read", "Verification: OK", "Verification error", "Server public key is",
    "Secure Renegotiation", "Compression:", "Expansion:", "No ALPN negotiated", "ALPN protocol",
    "Early data was not sent", "Verify return code", "no peer certificate available", "Post-Handshake New Session",
    "SSL-Session:", "read R BLOCK", "closed", "DONE", "-----BEGIN", "-----END", "Acceptable client certificate",
    "Start Time:", "Timeout   :", "Max Early Data", "Extended master secret", "Protocol  :", "Cipher    :",
    "Session-ID", "Master-Key", "Resumption PSK", "PSK identity", "SRP username", "TLS session ticket",
    "Reused, TLS", "RENEGOTIATING", "KEYUPDATE", "Shared Signature Algorithms", "Supported Elliptic",
    "notAfter=", "notBefore=",  # the validity date s_client prints below an expired or not yet valid certificate
)
PEM_LINE_RE = re.compile(r"^[A-Za-z0-9+/]{40,}={0,2}$|^[A-Za-z0-9+/]{1,76}={1,2}$")
CHAIN_LINE_RE = re.compile(r"^\s*(?:\d+ s:|[iav]:)")
# Order of commands in a typical dialogue, used when a reply does not name its command.
DIALOGUE = ("EHLO", "AUTH", "MAIL", "RCPT", "DATA", ".", "QUIT")
# The command line as pasted: an optional shell prompt ("$ ", "# ", "user@host:~$ ", "PS C:\\> "), possibly
# other words ("sudo", "timeout 5", "echo QUIT |") or a path, then "openssl s_client" and its arguments.
COMMAND_LINE_RE = re.compile(r"^(?:.*[\s|;&$#>%/\\])?openssl(?:\.exe)? +s_client(?: +(.*))?$")
# s_client's default port when the target names none.
DEFAULT_PORT = 4433
# Options whose value could look like a target ("host:port") but names something else.
VALUE_OPTIONS = frozenset({"-proxy", "-bind", "-name", "-xmpphost", "-verify_hostname", "-CAfile", "-CApath", "-cert",
                           "-key", "-pass", "-psk", "-psk_identity", "-sess_in", "-sess_out", "-keylogfile",
                           "-alpn", "-nextprotoneg", "-cipher", "-ciphersuites", "-curves", "-groups", "-sigalgs",
                           "-starttls", "-servername", "-host", "-port", "-connect", "-unix", "-msgfile", "-proxy_user",
                           "-proxy_pass", "-srpuser", "-srppass", "-chainCAfile", "-verify", "-Verify"})
TARGET_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+)(?::(\d{1,5}))?$")
IP_RE = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}$|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$")


# Lines that detect counts contain one of these: what the patterns match, the starts, and "s_client".
DETECT_SIGNS = (CONNECTED_RE, VERIFY_ERROR_RE, OPENSSL_ERROR_RE, "SSL handshake has read", "verify return:",
                "Verify return code", "s_client")


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like openssl s_client output."""
    strong = sum(1 for text in sample if CONNECTED_RE.match(text) or VERIFY_ERROR_RE.match(text)
                 or text.startswith(("SSL handshake has read", "verify return:", "Verify return code"))
                 or "s_client" in text and COMMAND_LINE_RE.match(text.strip()))
    errors = sum(1 for text in sample if OPENSSL_ERROR_RE.match(text))
    if not strong and not errors:
        return 0.0
    return min(1.0, 0.5 + (strong + errors) / max(len(sample), 1))


def command_target(text: str) -> dict[str, Any] | None:
    """Return the server a pasted ``openssl s_client`` command line names, or ``None`` for another line.

    The result contains ``host`` and/or ``ip``, ``port`` and ``tls_mode``; it is
    empty for a command line that names no server.
    """
    match = COMMAND_LINE_RE.match(text.strip())
    if match is None:
        return None
    words = _arguments(match.group(1) or "")
    target: dict[str, Any] = {}
    options: dict[str, str] = {}
    previous = None
    for word in words:
        if previous in VALUE_OPTIONS:
            options.setdefault(previous, word)
            previous = None
            continue
        if word.startswith("-"):
            previous = word.split("=", 1)[0] if word.startswith("--") else word
            continue
        previous = None
        options.setdefault("target", word)  # OpenSSL 3 takes the server as an argument too
    address = options.get("-connect") or options.get("target")
    host, port = _split_target(address) if address else (None, None)
    if options.get("-host"):
        host = options["-host"]
    if options.get("-port", "").isdigit():
        port = int(options["-port"])
    if host is None and port is None:
        return target
    if host is not None:
        target["ip" if IP_RE.match(host) else "host"] = host
    if options.get("-servername") and "host" not in target:
        target["host"] = options["-servername"]
    target["port"] = port if port is not None else DEFAULT_PORT
    target["tls_mode"] = TlsMode.STARTTLS if "-starttls" in options else TlsMode.IMPLICIT
    return target


def _arguments(text: str) -> list[str]:
    """Return the words of s_client's arguments, up to a pipe or the end of the command, without redirections."""
    try:
        words = shlex.split(text, comments=False)
    except ValueError:  # an unbalanced quote in a pasted line
        words = text.split()
    arguments = []
    for word in words:
        if word in ("|", "||", "&&", ";", "&") or word.startswith("|"):
            break
        if re.match(r"^\d?[<>]", word):
            continue  # a redirection: "< commands.txt", "2>&1"
        arguments.append(word)
    return arguments


def _split_target(address: str) -> tuple[str | None, int | None]:
    match = TARGET_RE.match(address)
    if match is None:
        return None, None
    port = match.group(2)
    return match.group(1).strip("[]") or None, int(port) if port else None


class _State:
    def __init__(self) -> None:
        self.session = 0
        self.started = False
        self.handshake_done = False
        self.output_after_connect = False
        self.connected_line: Line | None = None
        self.last_verb: str | None = None
        self.open_command: bool = False
        self.in_reply = False
        self.in_body = False
        self.echoed = False
        self.greeted = False
        self.target_given = False  # whether the session's first event carries the command line's server


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event]:
    """Turn s_client output into events."""
    state = _State()
    target: dict[str, Any] = {}  # the server of the last command line, for every run until the next one
    for line in lines:
        text = line.text.rstrip()
        if "s_client" in text:
            named = command_target(text)
            if named is not None:
                yield from _silent_end(state, ctx)
                state.__init__()  # a new run: the next line starts its session
                target = named
                ctx.noise(line)
                continue
        if CONNECTED_RE.match(text):
            yield from _silent_end(state, ctx)
            state.__init__()
            state.session = line.number
            state.started = True
            state.connected_line = line
            yield _with_target(ctx.local(line, CONNECTED, text, state.session), state, target)
            continue
        if not state.started:
            state.started = True
            state.session = line.number
        state.output_after_connect = True
        for event in _line(line, text, state, ctx):
            yield _with_target(event, state, target)
    yield from _silent_end(state, ctx)


def _with_target(event: Event, state: _State, target: dict[str, Any]) -> Event:
    """Give the first event of a session the server the command line named."""
    if not state.target_given and target:
        state.target_given = True
        for key, value in target.items():
            event.attrs.setdefault(key, value)
    return event


def _silent_end(state: _State, ctx: ParseContext) -> Iterator[Event]:
    """Report a session whose output stops right after CONNECTED."""
    if state.connected_line is not None and not state.output_after_connect:
        message = "s_client printed nothing after CONNECTED: no greeting or handshake before the read timed out"
        yield ctx.error(state.connected_line, message, state.session, stage=Stage.GREETING, inferred=True)


def _line(line: Line, text: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    verify = VERIFY_ERROR_RE.match(text)
    if verify:
        yield ctx.error(line, text, state.session, stage=Stage.TLS, connected=True)
        return
    error = OPENSSL_ERROR_RE.match(text)
    if error:
        system = error.group(2) == "system library" or "connect" in error.group(3).lower()
        stage = Stage.CONNECT if system and not state.connected_line else Stage.TLS
        yield ctx.error(line, text, state.session, stage=stage)
        return
    errno = ERRNO_RE.match(text)
    if errno:
        yield from _errno(line, errno.group(1), int(errno.group(2)), state, ctx)
        return
    if text.startswith("Didn't find STARTTLS"):
        yield ctx.error(line, text, state.session, stage=Stage.STARTTLS, connected=True)
        return
    cipher = NEW_CIPHER_RE.match(text)
    if cipher:
        if cipher.group(2) != "(NONE)":
            state.handshake_done = True
            yield ctx.local(line, TLS_OK, text, state.session)
        else:
            ctx.noise(line)
        return
    if text.startswith(NOISE_PREFIXES) or text.startswith(" ") or CHAIN_LINE_RE.match(text) or PEM_LINE_RE.match(text):
        ctx.noise(line)
        return
    yield from _dialogue(line, text, state, ctx)


def _errno(line: Line, operation: str, number: int, state: _State, ctx: ParseContext) -> Iterator[Event]:
    text = f"{operation}:errno={number}"
    if number in ERRNO_TEXT:
        text += f" ({ERRNO_TEXT[number]})"
    if operation == "connect":
        stage = Stage.CONNECT
    elif not state.handshake_done:
        stage = Stage.TLS
    else:
        stage = None
    yield ctx.error(line, text, state.session, stage=stage)


def _dialogue(line: Line, text: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    if state.in_body:
        if text == ".":
            state.in_body = False
            state.open_command, state.last_verb = True, "."
            yield ctx.client(line, ".", state.session)
        else:
            ctx.noise(line)
        return
    parts = rc.split_reply(text)
    if parts is None:
        command = COMMAND_RE.match(text)
        if command and command.group(1).upper() in SMTP_VERBS:
            state.open_command, state.last_verb = True, command.group(1).upper()
            state.echoed = True
            yield ctx.client(line, text, state.session)
        else:
            ctx.unrecognised(line)
        return

    code, last, rest = parts
    if not state.open_command and not state.in_reply:
        verb = _infer_command(code, last, rest, state)
        if verb is not None:
            attrs = {"initial_response": True} if verb == "AUTH" else {}
            yield ctx.client(line, verb, state.session, inferred=True, **attrs)
            state.last_verb = verb
            state.echoed = False
    state.in_reply = not last
    event = ctx.server(line, text, state.session)
    if last:
        state.open_command = False
        state.greeted = True
    if code == rc.START_MAIL_INPUT and last:
        # A typed DATA is echoed, and so is the body after it, up to the "."
        # line.  A piped body is not echoed, and only the final reply follows.
        state.in_body = state.echoed
    yield event


def _infer_command(code: int, last: bool, rest: str, state: _State) -> str | None:
    """Return the command a reply most likely replies to, or ``None`` for a greeting."""
    previous = state.last_verb
    if code == rc.SERVICE_READY and previous is None and not state.greeted:
        return None
    if not last or (code == rc.OK and previous is None):
        return "EHLO"

    # Replies that only one command gets.
    if code == rc.AUTH_CHALLENGE:
        return None if previous == "AUTH" else "AUTH"
    if code in (rc.AUTH_SUCCEEDED, rc.AUTH_INVALID, rc.AUTH_TOO_WEAK, rc.ENCRYPTION_REQUIRED):
        return "AUTH"
    if code == rc.START_MAIL_INPUT:
        return "DATA"
    if code == rc.CLOSING:
        return "QUIT"

    # Enhanced codes whose subject names the address checked (RFC 3463).
    enhanced = rc.find_enhanced(rest[:12])
    if enhanced is not None:
        subject_detail = enhanced.split(".", 1)[1]
        if subject_detail == "1.0":
            return "MAIL"
        if subject_detail in ("1.5", "1.1", "1.2", "1.3"):
            return "RCPT"

    # Otherwise the next command in the usual order.
    if previous == "DATA":
        return "."
    if previous == "RCPT":
        return "RCPT" if code >= 400 else "DATA"
    if previous in (None, "EHLO", "AUTH", "."):
        return "MAIL"
    if previous == "MAIL":
        return "RCPT"
    return previous

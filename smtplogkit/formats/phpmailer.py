"""PHPMailer's ``SMTPDebug`` output (levels 1 to 4, old and new wording) and its error messages.

Notes
-----
PHPMailer 6 (``$mail->SMTPDebug = SMTP::DEBUG_SERVER``, level 2) prints
``SERVER -> CLIENT: 220 ...`` and ``CLIENT -> SERVER: EHLO ...``; level 3
adds ``Connection: opening to host:port, timeout=300, options=array()``,
``Connection: opened`` and ``Connection failed. Error #2:
stream_socket_client(): ...``; level 4 adds ``SMTP INBOUND: "..."`` lines,
which repeat the replies and are counted as noise.  Every line of the
message is printed as ``CLIENT -> SERVER:`` too, between the 354 reply and
the lone ``.``; those lines are noise.  Failed commands add
``SMTP ERROR: MAIL FROM command failed: 550 ...``.  The default
``Debugoutput`` prefixes each line with a UTC ``YYYY-MM-DD HH:MM:SS`` and a
tab, which the envelope reader takes off.  A multi-line reply is printed
once with its further lines indented, and pasted copies often lose the
indent.  The
``html`` output ends each line with ``<br>`` and escapes ``<``, ``>`` and
quotes as HTML entities.  A host written ``ssl://host`` in the ``Connection:
opening`` line is implicit TLS.

After a failed STARTTLS handshake PHPMailer sends QUIT in clear text and
prints the server's TLS alert record as the reply and in ``QUIT command
failed``.  The record's bytes are replaced by ``<unreadable bytes>``.  Under
TLS 1.3 the alert is encrypted, so its bytes can contain line feeds, and the
indented lines after such a reply are noise even when they read as text.

PHPMailer 5.0 to 5.2 printed ``SMTP -> FROM SERVER:`` with a multi-line reply
joined on one line (split again here), and ``SMTP -> ERROR: Password not
accepted from server: 534-5.7.14 ...`` for a rejected command; level 1 shows
no client commands, so the step comes from the wording of the error.

The messages applications print after a failure are read too:
``SMTP connect() failed``, ``SMTP Error: Could not authenticate.`` and
PHPMailer 6's exception text, which runs its parts together: ``SMTP Error:
data not accepted.SMTP server error: DATA END command failed Detail: ...
SMTP code: 552 Additional SMTP info: 5.3.4``.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from collections.abc import Iterable, Iterator
from typing import Any

from .. import replycodes as rc
from ..labels import Stage, TlsMode
from ..records import CONNECT, CONNECTED, NOTE, Event, Line
from ..redact import REDACTED, auth_payload_note, redact_text
from .base import ParseContext

NAME = "phpmailer"
DESCRIPTION = "PHPMailer SMTPDebug output (levels 1-4, PHPMailer 5 and 6 wording) and PHPMailer error messages"
CLIENT = "phpmailer"
PRIORITY = 5
# Sessions follow one another; one ends when the next begins (see base.parse_items).
SESSIONS_IN_ORDER = True

SERVER_RE = re.compile(r"^(?:SERVER -> CLIENT|SMTP -> FROM SERVER):\s?(.*)$")
CLIENT_RE = re.compile(r"^(?:CLIENT -> SERVER|SMTP -> TO SERVER):\s?(.*)$")
OPENING_RE = re.compile(r"^Connection: opening to (?:(ssl|tls|tcp)://)?(\[[^\]]+\]|[^\s:,]+):(\d+)(.*)$")
OLD_ERROR_RE = re.compile(r"^SMTP -> ERROR: (.*)$")
NEW_ERROR_RE = re.compile(r"^SMTP ERROR: (.*)$")
CONNECTION_FAILED_RE = re.compile(r"^Connection failed\. (?:Error #\d+: )?(.*?)(?: \[[^\]]*line \d+\])?$")
PHP_WARNING_RE = re.compile(r"^(?:PHP )?(?:Warning|Fatal error|Notice): (.*?)(?: in \S+ on line \d+)?$")
EXCEPTION_CODE_RE = re.compile(r"SMTP code: (\d{3})")
TIMED_OUT_RE = re.compile(r"^SMTP -> get_lines\(\): (?:select )?(?:timed-out|timelimit reached)")
REPLY_START_RE = re.compile(r"(?<=\s)(?=[2-5]\d\d[ -])")
UNREADABLE = "<unreadable bytes>"  # put in place of a TLS record's bytes in a reply or error
APP_PREFIX_RE = re.compile(r"^(?:.*?Mailer Error:\s*|Message could not be sent\.?\s*(?:Mailer Error:)?\s*)")

# Starts of PHPMailer's error messages (its English language strings) that applications print.
PHPMAILER_ERRORS = ("SMTP Error:", "The following From address failed", "The following recipients failed",
                    "SMTP server error:", "Could not authenticate", "Could not connect to SMTP host")
# The same messages inside another program's line: an exception print (``PHPMailer\\PHPMailer\\Exception:
# SMTP Error: ...``, PHP 5's ``Uncaught exception 'phpmailerException' with message '...'``) or an
# application's or web server's log line (``Error sending email: SMTP Error: ...``).
EMBEDDED_ERROR_RE = re.compile(r"(?:^|(?<=[\s'\"(:]))(?=" + "|".join(
    re.escape(start) for start in (*PHPMAILER_ERRORS, "SMTP connect() failed")) + ")")
# The text such a line adds after the message: PHP's " in /path/file.php:123" or " in ... on line 123",
# the closing quote of PHP 5's message, and Apache's ", referer: ...".
EMBEDDED_TAIL_RE = re.compile(r"(?:['\"]? in (?:/|[A-Za-z]:\\|\S+\.php)\S*(?: on line \d+)?|, referer: \S*|['\"])\s*$")
# PHP's stack trace after an uncaught exception.
PHP_TRACE_RE = re.compile(r"^(?:Stack trace:|#\d+ \S|thrown in \S)")
NOISE_PREFIXES = (
    "SMTP INBOUND:", "SMTP -> get_lines()", "SMTP -> FROM SERVER: ", "Connection: closed", "Auth method",
    "Requested auth method", "SMTP NOTICE:", "Auth methods available", "Server -> Client", "CLIENT -> SMTP:",
    "Connection: closing due to error",
    "SMTP -> get_lines", "Invalid address:",
)

# The step each PHPMailer error names, from the wording of versions 5 and 6.
ERROR_STAGES: tuple[tuple[re.Pattern, Stage], ...] = (
    (re.compile(r"DATA END command|DATA command|data not accepted|DATA not accepted", re.I), Stage.DATA),
    (re.compile(r"RCPT(?: TO)? (?:command|not accepted)|recipients failed", re.I), Stage.RCPT_TO),
    (re.compile(r"MAIL(?: FROM)? (?:command|not accepted)|from address failed", re.I), Stage.MAIL_FROM),
    (re.compile(r"(?:AUTH|Username|Password) (?:command|not accepted)|Could not authenticate|authentication", re.I),
     Stage.AUTH),
    (re.compile(r"STARTTLS", re.I), Stage.STARTTLS),
    (re.compile(r"(?:EHLO|HELO) (?:command|not accepted)", re.I), Stage.EHLO),
    (re.compile(r"Failed to connect to server|Could not connect to SMTP host|connect\(\) failed|stream_socket_client",
                re.I), Stage.CONNECT),
)


class _State:
    def __init__(self) -> None:
        self.session = 0
        self.open = False
        self.greeted = False
        self.commands = 0
        self.last_verb: str | None = None
        self.reply_continues = False
        self.in_record = False  # inside a TLS record printed as a reply
        self.options_depth = 0  # open "array (" levels of PHP's var_export of the stream options
        self.in_body = False
        self.credential_lines = 0
        self.credential_mechanism = ""
        self.last_ts: datetime | None = None
        self.repeating = False  # inside an error message printed a second time
        self.errors: list[str] = []
        self.last_error: Event | None = None

    def new_session(self) -> None:
        self.session += 1
        self.open = True
        self.greeted = False
        self.commands = 0
        self.last_verb = None
        self.reply_continues = False
        self.errors = []
        self.last_error = None

    def key(self) -> int:
        if not self.open:
            self.new_session()
        return self.session


SIGNATURES = ("SERVER -> CLIENT:", "CLIENT -> SERVER:", "SMTP -> FROM SERVER:", "SMTP -> ERROR:",
              "Connection: opening to", "SMTP connect() failed", "SMTP ERROR:", "SMTP INBOUND:", "SMTP Error: ",
              "SMTP server error:")
# The signatures as they appear in a line before _clean: the html output escapes "<", ">", "&" and quotes
# (htmlspecialchars), so each is cut before its first such character.
DETECT_SIGNS = tuple(sorted({re.split(r"[<>&\"']", signature)[0] for signature in SIGNATURES}))


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like PHPMailer debug output."""
    hits = sum(1 for text in sample if any(s in _clean(text) for s in SIGNATURES))
    if not hits:
        return 0.0
    return min(1.0, 0.6 + hits / max(len(sample), 1))


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event]:
    """Turn PHPMailer debug lines and error messages into events."""
    state = _State()
    for line in lines:
        yield from _line(line, state, ctx)


def _clean(text: str) -> str:
    if text.rstrip().endswith(("<br>", "<br />", "<br/>")):
        text = html.unescape(re.sub(r"<br\s*/?>\s*$", "", text.rstrip()))
    return text.strip()


def _line(line: Line, state: _State, ctx: ParseContext) -> Iterator[Event]:
    raw = line.text
    text = _clean(raw)
    if not raw[:1].isspace():
        state.in_record = False
    if not raw[:1].isspace() and not text.startswith(("error:", ",")):
        state.repeating = False
        if state.last_error is not None and not _is_error_line(text):
            state.last_error = None
    if state.options_depth:
        state.options_depth += text.count("array (") - (1 if text.startswith(")") else 0)
        ctx.noise(line)  # PHP's var_export of the stream options
        return

    server = SERVER_RE.match(text)
    if server and not server.group(1).strip():
        yield from _no_reply(line, state, ctx)
        return
    if server:
        yield from _server(line, server.group(1), state, ctx)
        return
    if TIMED_OUT_RE.match(text) or text == 'SMTP INBOUND: ""':
        yield _read_failure(line, text, state, ctx)
        return
    if state.in_record and raw[:1].isspace():
        # An encrypted record can contain line feeds, and the part after one can read as text.
        ctx.noise(line)
        return
    if state.reply_continues and raw[:1].isspace() and _readable(text) != text:
        ctx.noise(line)
        return
    if state.reply_continues and re.match(r"^[2-5]\d\d[ -]", text):
        yield from _server(line, text, state, ctx)  # a further line of a multi-line reply
        return
    client = CLIENT_RE.match(text)
    if client:
        yield from _client(line, client.group(1), state, ctx)
        return
    opening = OPENING_RE.match(text)
    if opening:
        yield from _opening(line, opening, state, ctx)
        return
    if text.startswith("Connection: opened"):
        state.last_ts = line.ts
        yield ctx.local(line, CONNECTED, text, state.key())
        return
    yield from _message(line, text, state, ctx)


def _opening(line: Line, match: re.Match, state: _State, ctx: ParseContext) -> Iterator[Event]:
    state.new_session()
    scheme, host, port, rest = match.group(1), match.group(2).strip("[]"), int(match.group(3)), match.group(4)
    attrs: dict[str, Any] = {"host": host, "port": port}
    if scheme == "ssl":
        attrs["tls_mode"] = TlsMode.IMPLICIT
    if rest.rstrip().endswith("array ("):
        state.options_depth = 1
    yield ctx.local(line, CONNECT, line.text, state.session, **attrs)


def _server(line: Line, reply: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    reply = reply.strip()
    if reply.startswith(("220 ", "220-")) and not state.reply_continues and state.greeted \
            and state.commands and state.last_verb != "STARTTLS":
        state.new_session()  # a new connection in a log without "Connection: opening" lines
    pieces = [p.strip() for p in REPLY_START_RE.split(reply) if p.strip()]
    # PHPMailer 5 joined the lines of a multi-line reply: "250-a 250-b 250 c".
    code = reply[:3]
    if len(pieces) > 1 and all(p[:3] == code for p in pieces):
        replies = pieces
    else:
        replies = _glued_lines(reply) or [reply]
    for text in replies:
        event = ctx.server(line, text, state.key())
        if event is None and _readable(text) != text:
            ctx.noise(line)  # the server's TLS record, read as a reply after a failed handshake
            state.reply_continues = True  # its further lines follow, indented
            state.in_record = True
            return
        if event is None:
            ctx.unrecognised(line)
            return
        if event.code == rc.SERVICE_READY and state.greeted and not state.commands:
            # Level 1 shows no commands, so a second 220 is the reply to STARTTLS.
            event.attrs["tls_mode"] = TlsMode.STARTTLS
        state.greeted = True
        state.credential_lines = 0  # with replies shown, the 334 challenges mark the credentials
        state.reply_continues = bool(event.attrs.get("continued"))
        state.in_body = event.code == rc.START_MAIL_INPUT
        yield event


def _glued_lines(reply: str) -> list[str] | None:
    """Return the lines of a multi-line reply printed without line breaks, or None for any other reply.

    Debugoutput ``html`` drops the line breaks of a reply, so its lines run
    together: ``250-mx Hello [192.0.2.1]250-SIZE 52428800250 HELP``.  The
    reply is cut before each later ``NNN-`` or ``NNN `` of its own code, and
    taken as glued only when every piece but the last continues (``NNN-``).
    """
    code = reply[:3]
    if reply[3:4] != "-" or not code.isdigit():
        return None
    starts = [match.start() for match in re.finditer(f"(?={code}[ -])", reply) if match.start() > 0]
    if not starts:
        return None
    pieces = [reply[begin:end].strip() for begin, end in zip([0, *starts], [*starts, len(reply)])]
    if any(piece[3:4] != "-" for piece in pieces[:-1]):
        return None
    return pieces


def _read_failure(line: Line, text: str, state: _State, ctx: ParseContext) -> Event:
    """Return the error for level 4's record of a read that timed out or found the connection closed."""
    reason = "timed out waiting for a reply" if TIMED_OUT_RE.match(text) else "connection closed: empty read (EOF)"
    stage = None if state.greeted else Stage.GREETING
    return _error(line, f"{reason} ({text})", state, ctx, stage, connected=True)


def _no_reply(line: Line, state: _State, ctx: ParseContext) -> Iterator[Event]:
    """Handle ``SERVER -> CLIENT:`` with nothing after it: the read found no reply."""
    if state.errors:
        ctx.noise(line)  # level 4 printed the reason just before
        return
    # NOTE: level 3 does not say why nothing came.  PHPMailer waits its Timelimit on a silent
    # server but returns at once on a closed one, so a gap of 2 s or more is read as a timeout.
    started = state.last_ts
    waited = (line.ts - started).total_seconds() if line.ts and started else None
    reason = "timed out waiting for a reply" if waited is not None and waited >= 2 else "connection closed before a reply"
    stage = None if state.greeted else Stage.GREETING
    yield _error(line, f"{reason} (empty SERVER -> CLIENT line)", state, ctx, stage, connected=True)


def _client(line: Line, command: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    if state.in_body:
        # PHPMailer prints every line of the message as CLIENT -> SERVER, up to the lone ".".
        state.in_body = command.strip() != "."
        ctx.noise(line)
        return
    if state.credential_lines:
        yield _credential(line, command, state, ctx)
        return
    event = ctx.client(line, command, state.key())
    state.commands += 1
    if event.verb == "AUTH" and not event.attrs.get("initial_response"):
        # Level 1 shows no replies, so no 334 marks which lines are credentials: PHPMailer sends
        # the user name and the password for LOGIN, one line for PLAIN and CRAM-MD5.
        state.credential_mechanism = str(event.attrs.get("mechanism", ""))
        state.credential_lines = 2 if state.credential_mechanism == "LOGIN" else 1
    state.reply_continues = False
    if event.verb:
        state.last_verb = event.verb
    if event.verb == "STARTTLS":
        event.attrs["tls_mode"] = TlsMode.STARTTLS
    yield event


def _credential(line: Line, command: str, state: _State, ctx: ParseContext) -> Event:
    attrs: dict[str, Any] = {}
    if state.credential_mechanism == "LOGIN" and state.credential_lines == 2:
        identity, _ = auth_payload_note("LOGIN", command.strip())
        if identity:
            attrs["identity"] = identity
    state.credential_lines -= 1
    return ctx.client(line, REDACTED, state.key(), **attrs)


def _message(line: Line, text: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    state.reply_continues = False
    openssl_line = re.match(r"^error:[0-9A-Fa-f]{8}:", text) is not None
    # ErrorInfo keeps the newlines of the server's reply, so its later parts start with "," or a space.
    continued = line.text[:1].isspace() or line.text[:1] == "," or openssl_line
    if continued and state.repeating and text:
        ctx.noise(line)  # the rest of an error message printed again
        return
    if continued and state.last_error is not None and state.last_error.text.endswith(UNREADABLE):
        ctx.noise(line)  # the rest of a TLS record quoted in the error
        return
    if continued and state.last_error is not None and text:
        # PHP puts OpenSSL's messages on lines of their own; PHPMailer indents them.
        extra = CONNECTION_FAILED_RE.match(f"Connection failed. {text}").group(1)
        extra = _readable(re.sub(r" in \S+ on line \d+$", "", extra))
        state.last_error.text = f"{state.last_error.text} {redact_text(extra)}"
        return
    for pattern in (OLD_ERROR_RE, NEW_ERROR_RE, CONNECTION_FAILED_RE):
        match = pattern.match(text)
        if match:
            yield _error(line, match.group(1), state, ctx)
            return
    warning = PHP_WARNING_RE.match(text)
    if warning and "stream_socket_enable_crypto" in text:
        # PHPMailer calls stream_socket_enable_crypto() only in startTLS(), after the 220 reply.
        yield _error(line, warning.group(1).strip(), state, ctx, Stage.TLS)
        return
    if warning and ("stream_socket" in text or "fsockopen" in text or "SSL" in text):
        yield _error(line, warning.group(1).strip(), state, ctx, from_wording=False)
        return
    message = APP_PREFIX_RE.sub("", text)
    if message.startswith("SMTP connect() failed"):
        if state.open and state.errors:
            ctx.noise(line)  # the summary after the real reason
            return
        yield _error(line, message, state, ctx)
        return
    if message.startswith(PHPMAILER_ERRORS):
        if message in state.errors:
            state.repeating = True
            ctx.noise(line)  # the application prints ErrorInfo again
            return
        yield _error(line, message, state, ctx)
        return
    embedded = _embedded_error(text)
    if embedded is not None:
        if embedded in state.errors:
            ctx.noise(line)  # the same message, printed by the application or PHP as well
            return
        yield _error(line, embedded, state, ctx)
        return
    if PHP_TRACE_RE.match(text):
        ctx.noise(line)
        return
    if message.startswith(("Message has been sent", "Message sent")):
        ctx.noise(line)  # the application's own success line; the transcript shows the 250
        return
    if text.startswith(NOISE_PREFIXES) or not text:
        ctx.noise(line)
        return
    if text.startswith("SMTP "):
        yield ctx.local(line, NOTE, text, state.key())
        return
    ctx.unrecognised(line)


def _embedded_error(text: str) -> str | None:
    """Return the PHPMailer message inside another program's line, without what that line adds after it."""
    match = EMBEDDED_ERROR_RE.search(text)
    if match is None:
        return None
    message = text[match.start():]
    tail = EMBEDDED_TAIL_RE.search(message)
    if tail is not None:
        message = message[:tail.start()]
    return message.strip() or None


def _error(line: Line, message: str, state: _State, ctx: ParseContext, stage: Stage | None = None, *,
           from_wording: bool = True, connected: bool = False) -> Event:
    """Return the error event for a message, with the given stage or else the one its wording names."""
    if stage is None and from_wording:
        stage = _stage(message)
    code = _reply_code(message)
    state.errors.append(message)
    attrs: dict[str, Any] = {}
    if connected or (stage is not None and stage not in (Stage.CONNECT, Stage.DNS)):
        attrs["connected"] = True
    event = ctx.error(line, _readable(message), state.key(), stage=stage.value if stage else None, code=code,
                      **attrs)
    state.last_error = event
    return event


def _stage(message: str) -> Stage | None:
    for pattern, stage in ERROR_STAGES:
        if pattern.search(message):
            return stage
    return None


def _reply_code(message: str) -> int | None:
    """Return the reply code an error message quotes, if any."""
    match = EXCEPTION_CODE_RE.search(message)
    if match:
        return int(match.group(1))
    match = re.search(r"(?:: |\s)([45]\d\d)(?=[ -](?:[245]\.\d|\w))", message)
    if match and rc.is_failure(int(match.group(1))):
        return int(match.group(1))
    return None


def _is_error_line(text: str) -> bool:
    if any(p.match(text) for p in (OLD_ERROR_RE, NEW_ERROR_RE, CONNECTION_FAILED_RE, PHP_WARNING_RE)):
        return True
    return APP_PREFIX_RE.sub("", text).startswith(PHPMAILER_ERRORS)


def _readable(text: str) -> str:
    """Return ``text`` cut before the first unreadable byte (a TLS record read as a reply)."""
    for index, char in enumerate(text):
        if char == "\ufffd" or (ord(char) < 32 and char != "\t"):
            return f"{text[:index].rstrip()} {UNREADABLE}"
    return text

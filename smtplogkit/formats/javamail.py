"""JavaMail and Jakarta Mail debug output (``mail.debug=true``) with the Java exceptions after it.

Notes
-----
``session.setDebug(true)`` prints ``DEBUG SMTP:`` notes, and between them
the raw protocol trace: commands and replies on lines of their own, with no
prefix, and the whole message after ``DATA`` up to the lone ``.`` (counted as
noise).  A session starts at ``DEBUG SMTP: trying to connect to host "h",
port 465, isSSL false``; ``isSSL true`` is implicit TLS.  The greeting is
printed before ``DEBUG SMTP: connected to host``.  The AUTH exchange is
hidden unless ``mail.debug.auth`` is set (``DEBUG SMTP: AUTH LOGIN command
trace suppressed`` then ``AUTH LOGIN succeeded`` or ``failed``); the user
name comes from ``DEBUG SMTP: protocolConnect login, host=..., user=...``.

``DEBUG SMTP: exception reading response, THROW:`` is printed when the
connection is open but no reply arrives; the Java exception on the next line
gives the reason (``java.net.SocketTimeoutException: Read timed out``).  Exceptions
span several lines: a multi-line server reply continues the message, and
``nested exception is:`` (or ``Caused by:``) introduces the cause on a line
that starts with a tab.  The cause is added to the wrapper's text rather than
counted as a second error, because the wrapper alone (``Couldn't connect to
host, port: h, 587; timeout -1``) can mislead.  ``\\tat`` frames and ``... 12 more`` are noise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from .. import replycodes as rc
from ..labels import Stage, TlsMode
from ..records import CONNECT, CONNECTED, NOTE, Event, Line
from ..redact import redact_text
from .base import ParseContext

NAME = "javamail"
DESCRIPTION = "JavaMail / Jakarta Mail debug output (DEBUG SMTP: lines, raw trace) and Java exceptions"
CLIENT = "javamail"
PRIORITY = 5
# Sessions follow one another; one ends when the next begins (see base.parse_items).
SESSIONS_IN_ORDER = True

TRYING_RE = re.compile(r'^DEBUG SMTP: trying to connect to host "([^"]*)", port (\d+), isSSL (true|false)')
CONNECTED_RE = re.compile(r'^DEBUG SMTP: connected to host "([^"]*)", port: (\d+)')
COULD_NOT_RE = re.compile(r'^DEBUG SMTP: could not connect to host "([^"]*)", port: (\d+), response: (-?\d+)')
LOGIN_RE = re.compile(r"^DEBUG SMTP: protocolConnect login, host=[^,]*, user=([^,]*), password=")
MECHANISM_RE = re.compile(r"^DEBUG SMTP: Using mechanism (\S+)")
AUTH_RESULT_RE = re.compile(r"^DEBUG SMTP: AUTH (\S+) (succeeded|failed)")
THROW_RE = re.compile(r"^DEBUG SMTP: (?:exception reading response|MessagingException while sending|"
                      r"IOException while sending|exception while .*?), THROW:\s*$")
EXCEPTION_RE = re.compile(
    r'^(?:Exception in thread "[^"]*" |Caused by: )?((?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error))(?:: ?(.*))?$'
)
FRAME_RE = re.compile(r"^\s*(?:at [\w$.<>/]+\(|\.\.\. \d+ (?:more|common frames omitted))")
# The cause that Spring's exceptions name in their own message: "MailAuthenticationException: Authentication
# failed; nested exception is javax.mail.AuthenticationFailedException: 535-5.7.8 ...".
NESTED_RE = re.compile(r";\s*nested exception is:?\s*(?:[a-z_$][\w$]*\.)+([A-Z][\w$]*(?:Exception|Error))(?::\s?(.*))?$")
REPLY_START_RE = re.compile(r"^(\d{3})([ -])")
COMMAND_RE = re.compile(r"^(?:(?:EHLO|HELO|STARTTLS|AUTH|DATA|QUIT|RSET|NOOP|BDAT)\b|MAIL FROM:|RCPT TO:)", re.I)

# "Could not connect to SMTP host: mail.example.com, port: 25;" in a MessagingException.
HOST_PORT_RE = re.compile(r"Could not connect to SMTP host: ([^\s,;]+), port: (\d+)")

EXCEPTION_STAGES: dict[str, Stage] = {
    "AuthenticationFailedException": Stage.AUTH,
    "SMTPAddressFailedException": Stage.RCPT_TO,
    "SMTPSenderFailedException": Stage.MAIL_FROM,
    "UnknownHostException": Stage.DNS,
    "ConnectException": Stage.CONNECT,
    "NoRouteToHostException": Stage.CONNECT,
    "SSLHandshakeException": Stage.TLS,
    "SSLException": Stage.TLS,
    "SunCertPathBuilderException": Stage.TLS,
    "CertPathValidatorException": Stage.TLS,
}


class _State:
    def __init__(self) -> None:
        self.session = 0
        self.open = False
        self.greeted = False
        self.in_body = False
        self.implicit = False
        self.starttls = False
        self.awaiting_exception: Stage | None | bool = False
        self.auth_failed: tuple[Line, str] | None = None
        self.error: Event | None = None
        self.challenged = False
        self.quoted_reply: str | None = None
        self.nested = False
        self.send_failed: Event | None = None  # an SMTPSendFailedException whose stage is a guess (_exception)

    def new_session(self) -> int:
        self.session += 1
        self.open = True
        self.greeted = False
        self.in_body = False
        self.implicit = False
        self.starttls = False
        self.awaiting_exception = False
        self.auth_failed = None
        self.error = None
        self.send_failed = None
        self.challenged = False
        self.quoted_reply = None
        return self.session

    def key(self) -> int:
        return self.session if self.open else self.new_session()


DEBUG_STARTS = ("DEBUG SMTP:", "DEBUG: setDebug: Jakarta Mail", "DEBUG: setDebug: JavaMail", "DEBUG: getProvider()")
PACKAGE_RE = re.compile(r"\b(?:javax|jakarta)\.mail\.|com\.sun\.mail\.")
DETECT_SIGNS = (*DEBUG_STARTS, PACKAGE_RE)


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like JavaMail debug output."""
    hits = sum(1 for text in sample if text.startswith(DEBUG_STARTS))
    java = sum(1 for text in sample if PACKAGE_RE.search(text))
    if not hits and not java:
        return 0.0
    return min(1.0, 0.6 + (hits + java) / max(len(sample), 1))


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event]:
    """Turn JavaMail debug lines and exceptions into events."""
    state = _State()
    for line in lines:
        yield from _line(line, state, ctx)
    yield from _flush_auth_failure(state, ctx)


def _line(line: Line, state: _State, ctx: ParseContext) -> Iterator[Event]:
    text = line.text
    if state.in_body:
        if text.strip() == ".":
            state.in_body = False
        ctx.noise(line)
        return
    if text.startswith("DEBUG"):
        yield from _debug(line, text, state, ctx)
        return
    if FRAME_RE.match(text):
        if state.send_failed is not None and ".SMTPTransport.mailFrom(" in text:
            state.send_failed.attrs["stage"] = Stage.MAIL_FROM.value  # see _exception
        ctx.noise(line)
        return
    exception = EXCEPTION_RE.match(text.strip())
    if exception:
        yield from _exception(line, exception, state, ctx)
        return
    if text.strip() == "nested exception is:":
        state.nested = True
        ctx.noise(line)
        return
    yield from _trace(line, text, state, ctx)


def _debug(line: Line, text: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    trying = TRYING_RE.match(text)
    if trying:
        yield from _flush_auth_failure(state, ctx)
        key = state.new_session()
        state.implicit = trying.group(3) == "true"
        attrs: dict[str, Any] = {"host": trying.group(1), "port": int(trying.group(2))}
        if state.implicit:
            attrs["tls_mode"] = TlsMode.IMPLICIT
        yield ctx.local(line, CONNECT, text, key, **attrs)
        return
    connected = CONNECTED_RE.match(text)
    if connected:
        yield ctx.local(line, CONNECTED, text, state.key(), port=int(connected.group(2)))
        return
    could_not = COULD_NOT_RE.match(text)
    if could_not:
        response = int(could_not.group(3))
        code = response if rc.is_failure(response) else None
        yield _error(line, text[len("DEBUG SMTP: "):], state, ctx, Stage.GREETING, code=code, connected=True)
        return
    if THROW_RE.match(text):
        state.awaiting_exception = None if state.greeted else Stage.GREETING
        ctx.noise(line)
        return
    login = LOGIN_RE.match(text)
    if login:
        yield ctx.local(line, NOTE, text, state.key(), identity=login.group(1) or None)
        return
    mechanism = MECHANISM_RE.match(text)
    if mechanism:
        yield ctx.local(line, NOTE, text, state.key(), mechanism=mechanism.group(1).upper())
        return
    result = AUTH_RESULT_RE.match(text)
    if result and result.group(2) == "failed":
        state.auth_failed = (line, text[len("DEBUG SMTP: "):])  # kept until the exception gives the reply
        return
    if text.startswith("DEBUG SMTP: EOF"):
        # The server closed the connection while Jakarta Mail waited for a reply.
        stage = None if state.greeted else Stage.GREETING
        yield _error(line, "connection closed: EOF", state, ctx, stage, connected=True)
        return
    if text.startswith("DEBUG SMTP: got bad greeting"):
        if state.error is not None:
            ctx.noise(line)  # repeats the EOF or reply just read
            return
        yield _error(line, text[len("DEBUG SMTP: "):], state, ctx, Stage.GREETING, connected=True)
        return
    if text.startswith("DEBUG SMTP: STARTTLS required but not supported"):
        yield _error(line, text[len("DEBUG SMTP: "):], state, ctx, Stage.STARTTLS, connected=True)
        return
    ctx.noise(line)  # extension list, provider set-up, address verification


def _trace(line: Line, text: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    stripped = text.strip()
    if state.quoted_reply is not None and stripped[:3] == state.quoted_reply:
        # A further line of the reply quoted in an exception message, not a new reply.
        if stripped[3:4] != "-":
            state.quoted_reply = None
        ctx.noise(line)
        return
    parts = rc.split_reply(stripped)
    if parts is not None:
        event = ctx.server(line, stripped, state.key())
        state.greeted = True
        state.challenged = event.code == rc.AUTH_CHALLENGE
        if event.code == rc.START_MAIL_INPUT:
            state.in_body = True
        yield event
        return
    if COMMAND_RE.match(stripped) or state.challenged:
        state.challenged = False
        event = ctx.client(line, stripped, state.key())
        if event.verb == "STARTTLS":
            state.starttls = True
            event.attrs["tls_mode"] = TlsMode.STARTTLS
        elif event.verb == "QUIT":
            _mark_plain(event, state)
        yield event
        return
    if state.error is not None and stripped:
        ctx.noise(line)  # a further line of the exception's message
        return
    ctx.unrecognised(line)


def _exception(line: Line, match: re.Match, state: _State, ctx: ParseContext) -> Iterator[Event]:
    name = match.group(1).rsplit(".", 1)[-1]
    message = (match.group(2) or "").strip()
    cause = state.nested or line.text.lstrip().startswith("Caused by:")
    state.nested = False
    wrapper = state.error
    if cause and wrapper is not None and wrapper.code is None:
        # The cause is more specific than the wrapper ("Couldn't connect to host ... timeout -1"), so the
        # wrapper's text gets it, and the rules read both.
        wrapper.text = f"{wrapper.text}; caused by {name}: {redact_text(message)}"
        stage = EXCEPTION_STAGES.get(name)
        if stage is not None and "stage" not in wrapper.attrs:
            wrapper.attrs["stage"] = stage.value
        _take_reply(wrapper, message, state)
        ctx.noise(line)
        return
    # A wrapper that names its cause in its own message is read by that cause (the innermost one).
    nested = NESTED_RE.search(message)
    while nested is not None:
        name, message = nested.group(1), (nested.group(2) or "").strip()
        nested = NESTED_RE.search(message)
    stage = EXCEPTION_STAGES.get(name) or _message_stage(message)
    guessed = name == "SMTPSendFailedException" and stage is None and not state.greeted
    if guessed:
        # Without a transcript: JavaMail throws it for MAIL FROM, DATA and the end of data, never at
        # the greeting.  DATA is taken until a frame of SMTPTransport.mailFrom follows.
        stage = Stage.DATA
    if name == "SocketTimeoutException" and "connect timed out" in message:
        stage = Stage.CONNECT
    if state.awaiting_exception is not False:
        stage = stage or state.awaiting_exception
        state.awaiting_exception = False
    code_match = re.match(r"^(\d{3})([ -])", message)
    code = int(code_match.group(1)) if code_match else None
    if state.auth_failed is not None:
        stage = stage or Stage.AUTH
        if code is None:
            yield from _flush_auth_failure(state, ctx)
        else:
            ctx.noise(state.auth_failed[0])
            state.auth_failed = None
    connected = stage not in (None, Stage.DNS, Stage.CONNECT, Stage.TLS) or state.greeted
    target = HOST_PORT_RE.search(message)  # a trace pasted without the "trying to connect" line names them here
    found = {"host": target.group(1), "port": int(target.group(2))} if target else {}
    text = f"{match.group(1).rsplit('.', 1)[-1]}: {(match.group(2) or '').strip()}".rstrip(": ")
    event = _error(line, text, state, ctx, stage, code=code, connected=connected, **found)
    # Set once the error has its session, since a new session starts with none.
    state.quoted_reply = code_match.group(1) if code_match and code_match.group(2) == "-" else None
    state.send_failed = event if guessed else None
    yield event


def _take_reply(wrapper: Event, message: str, state: _State) -> None:
    """Give a wrapper exception the reply code and enhanced code its cause quotes (``535-5.7.8 ...``)."""
    code_match = REPLY_START_RE.match(message)
    if code_match is None:
        return
    wrapper.code = int(code_match.group(1))
    wrapper.enhanced = wrapper.enhanced or rc.find_enhanced(message)
    wrapper.attrs["connected"] = True
    state.quoted_reply = code_match.group(1) if code_match.group(2) == "-" else None


def _flush_auth_failure(state: _State, ctx: ParseContext) -> Iterator[Event]:
    if state.auth_failed is None:
        return
    line, text = state.auth_failed
    state.auth_failed = None
    yield _error(line, text, state, ctx, Stage.AUTH, connected=True)


def _error(line: Line, text: str, state: _State, ctx: ParseContext, stage: Stage | None, *,
           code: int | None = None, connected: bool = False, **found: Any) -> Event:
    attrs: dict[str, Any] = {"connected": True, **found} if connected else found
    event = ctx.error(line, text, state.key(), stage=stage.value if stage else None, code=code, **attrs)
    _mark_plain(event, state)
    state.error = event
    return event


def _mark_plain(event: Event, state: _State) -> None:
    if state.open and not state.implicit and not state.starttls:
        event.attrs.setdefault("tls_mode", TlsMode.NONE)


def _message_stage(message: str) -> Stage | None:
    """Return the step a MessagingException's own wording names, if any."""
    if message.startswith(("Got bad greeting", "Could not connect to SMTP host")):
        return Stage.GREETING if "bad greeting" in message else None
    if "STARTTLS" in message and "convert socket" not in message:
        return Stage.STARTTLS
    return None

"""Errors from Symfony Mailer and SwiftMailer, bare or in Monolog and Laravel logs.

Notes
-----
Both libraries throw a ``TransportException`` whose message quotes the
reply: ``Expected response code "250" but got code "530", with message "530
5.7.0 Must issue a STARTTLS command first."`` (SwiftMailer prints the
expected code without quotes).  The server's reply ends with CRLF, so the
closing quote often lands on the next line (``" in /path/File.php:383``),
which is read as part of the error.  An empty response (``got an empty
response``, or ``got code ""``) means the server closed the connection.

The step comes from the stack trace when there is one: SwiftMailer and
Symfony print ``#0 path(line): Class->method('argument', ...)``, innermost
first, and ``executeCommand('MAIL FROM:<user...', ...)`` or
``doRcptToCommand(...)`` names the command that drew the reply.  Without a
trace the expected code gives it where it can (``354`` is DATA, ``235`` and
``334`` are AUTH, ``250/251/252`` is RCPT TO, ``220`` the greeting), else
the reply's code and text.  Connection errors quote PHP's stream functions:
``Connection could not be established with host "smtp.x:587":
stream_socket_client(): php_network_getaddresses: getaddrinfo ... failed``,
``stream_socket_client(): SSL operation failed with code 1`` (implicit
TLS), ``stream_socket_enable_crypto(): ...`` (after STARTTLS).

Monolog's envelope (``[2017-07-29 14:46:32] channel.ERROR: ``) is removed
before this parser runs; Laravel repeats the message inside a JSON context
on the same line and prints ``[stacktrace]`` and ``[previous exception]``
blocks that end with ``"}``, all read as part of the one error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .. import replycodes as rc
from ..labels import Stage
from ..records import Event, Line, SessionEnd
from . import _errors
from ._errors import GUESSED, NAMED, ErrorSessions, Record
from .base import ParseContext

NAME = "symfony"
DESCRIPTION = "Symfony Mailer and SwiftMailer exceptions, bare or in Monolog and Laravel logs"
CLIENT = "php-symfony-mailer"

EXPECTED_RE = re.compile(
    r'Expected response code "?(?P<expected>[\d/]+)"? but got (?:an empty response|code "(?P<code>\d*)", '
    r'with message "(?P<message>[^"]*)"?)'
)
# SwiftMailer's and Symfony Mailer's AUTH failures.  The second lists the server's mechanisms, none of them the client's.
AUTH_RE = re.compile(r'Failed to authenticate on SMTP server with username "(?P<user>[^"]*)"'
                     r"|Failed to find an authenticator supported by the SMTP server")
AUTHENTICATOR_RE = re.compile(r'Authenticator "?(?P<mechanism>[\w-]+)"? returned "?(?:Swift_TransportException: ?)?'
                              r'Expected response code "?[\d/]+"? but got code "(?P<code>\d+)"')
CONNECT_RE = re.compile(r'Connection could not be established with host (?:"(?P<target>[^"]+)"|(?P<bare>[^\s\[]+?))\s*(?::|\[|$)')
TIMEOUT_RE = re.compile(r'Connection to "?(?P<target>[^"\s]+?)"? (?:has )?timed out', re.IGNORECASE)
CLOSED_RE = re.compile(r'Connection to "?(?P<target>[^"\s]+?)"? has been closed unexpectedly')
TLS_RE = re.compile(r"Unable to connect with (?:STARTTLS|TLS encryption)|stream_socket_enable_crypto\(\)")
STREAM_RE = re.compile(r"stream_socket_client\(\): (?P<rest>.*)")
# A stack frame as PHP prints it ("#3 /srv/app/Smtp.php(42): ...->executeCommand(...)"), and as Symfony's
# debug page does ("at Swift_Transport_EsmtpTransport->executeCommand(' . ', array('250')) in File.php line 270").
FRAME_RE = re.compile(r"^\s*#\d+ (?:\S+\(\d+\): |\[internal function\]: )?(?P<call>.*)$"
                      r"|^\s*at (?P<page_call>\S+(?:->|::)\w+\(.*\)) in \S+ line \d+\s*$")
COMMAND_ARG_RE = re.compile(r"executeCommand\('(?P<command>[^']*)")
TARGET_RE = re.compile(r"^(?:(?:ssl|tls|tcp)://)?(?P<host>[^:/\s]+)(?::(?P<port>\d+))?")
CONTINUATION_RE = re.compile(r'^\s*"? in \S+:\d+\s*$|^\s*in \S+ line \d+\s*$|^\s*Stack trace:\s*$|^\s*\[stacktrace\]\s*$|^\s*"\}\s*$|^\s*#\d+ \{main\}')
PREVIOUS_RE = re.compile(r"^\s*\[previous exception\] (?P<rest>.*)$")
OPENSSL_RE = re.compile(r"^\s*error:[0-9A-Fa-f]+:")

EXPECTED_STAGES: dict[str, Stage] = {
    "220": Stage.GREETING, "354": Stage.DATA, "235": Stage.AUTH, "334": Stage.AUTH,
    "250/251/252": Stage.RCPT_TO, "221": Stage.QUIT,
}
COMMAND_STAGES: tuple[tuple[str, Stage], ...] = (
    ("MAIL FROM", Stage.MAIL_FROM), ("RCPT TO", Stage.RCPT_TO), ("DATA", Stage.DATA), ("EHLO", Stage.EHLO),
    ("HELO", Stage.EHLO), ("STARTTLS", Stage.STARTTLS), ("AUTH", Stage.AUTH), ("QUIT", Stage.QUIT),
    ("\\r\\n.\\r\\n", Stage.DATA), (".\\r\\n", Stage.DATA),
    (".", Stage.DATA),  # the end of data, its CRLFs shown as spaces on Symfony's debug page: ' . '
)
METHOD_STAGES: tuple[tuple[str, Stage], ...] = (
    ("doMailFromCommand", Stage.MAIL_FROM), ("doRcptToCommand", Stage.RCPT_TO), ("doDataCommand", Stage.DATA),
    ("doHeloCommand", Stage.EHLO), ("doEhloCommand", Stage.EHLO), ("Authenticator->authenticate", Stage.AUTH),
    ("AuthHandler->afterEhlo", Stage.AUTH), ("handleAuth", Stage.AUTH), ("startTLS", Stage.TLS),
    ("stream_socket_enable_crypto", Stage.TLS), ("stream_socket_client", Stage.CONNECT),
)

SIGNATURE_RE = re.compile(r"Expected response code|Swift_|Symfony\\\\+Component\\\\+Mailer|TransportException|"
                          r"Failed to authenticate on SMTP server|Connection could not be established with host|"
                          r'Connection to "[^"]+" (?:timed out|has been closed unexpectedly)')
# The console handler of Symfony's Monolog bridge (messenger:consume -vv): the time of day, the level
# padded to nine characters, the channel.  And the blocks and comments a console command prints
# (" [OK] Consuming messages ...", " // Quit the worker with CONTROL-C.").  Monolog's file lines are
# dated by their envelope.
APP_LAYOUT_RE = re.compile(r"^\d\d:\d\d:\d\d (?:DEBUG|INFO|NOTICE|WARNING|ERROR|CRITICAL|ALERT|EMERGENCY) +\[[\w.-]+\] "
                           r"|^ ?\[(?:OK|NOTE|INFO|WARNING|CAUTION|ERROR)\] | ?// \S")
# PHP's stream functions appear in every PHP mailer's errors, so files with PHPMailer's own lines are left to it.
PHP_STREAM_RE = re.compile(r"stream_socket_(?:client|enable_crypto)\(\)")
PHPMAILER_RE = re.compile(r"^(?:SMTP ERROR:|Connection: opening to|SERVER -> CLIENT:|CLIENT -> SERVER:)|phpmailer", re.IGNORECASE)
DETECT_SIGNS = (SIGNATURE_RE, PHP_STREAM_RE)


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like Symfony Mailer or SwiftMailer errors."""
    if any(PHPMAILER_RE.search(text) for text in sample):
        return 0.0
    hits = sum(1 for text in sample if SIGNATURE_RE.search(text))
    if hits:
        return min(1.0, 0.45 + hits / max(len(sample), 1))
    return 0.2 if any(PHP_STREAM_RE.search(text) for text in sample) else 0.0


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn Symfony Mailer and SwiftMailer errors into one session per failed attempt."""
    return _errors.run(lines, ctx, _read_line)


def _read_line(line: Line, sessions: ErrorSessions) -> Iterator[Event | SessionEnd]:
    text = line.text
    frame = FRAME_RE.match(text)
    if frame and sessions.record is not None:
        stage = _frame_stage(frame.group("call") or frame.group("page_call"))
        sessions.attach(line, stage=stage, evidence=False)
        return
    previous = PREVIOUS_RE.match(text) or OPENSSL_RE.match(text)
    if previous and sessions.record is not None:
        # A previous exception (Laravel) or the OpenSSL error queue PHP prints on the next line.
        rest = previous.groupdict().get("rest") or text.strip()
        sessions.record.text += "\n" + rest
        _describe(sessions.record, rest)
        sessions.attach(line)
        return
    if CONTINUATION_RE.match(text):
        if not sessions.attach(line, evidence=False):
            sessions.ctx.noise(line)
        return
    record = read_error(line)
    if record is not None:
        yield from sessions.add(record)
        return
    if frame or _errors.is_tool_noise(text) or _errors.is_app_record(line, APP_LAYOUT_RE):
        sessions.ctx.noise(line)
        return
    sessions.ctx.unrecognised(line)


def _frame_stage(call: str) -> Stage | None:
    command = COMMAND_ARG_RE.search(call)
    if command:
        argument = command.group("command").strip().upper()
        for prefix, stage in COMMAND_STAGES:
            if argument.startswith(prefix):
                return stage
    for name, stage in METHOD_STAGES:
        if name in call:
            return stage
    return None


def read_error(line: Line) -> Record | None:
    """Return the record for a line that carries a Symfony or SwiftMailer error, or ``None``."""
    text = line.text
    if not (EXPECTED_RE.search(text) or AUTH_RE.search(text) or CONNECT_RE.search(text) or TIMEOUT_RE.search(text)
            or CLOSED_RE.search(text) or TLS_RE.search(text) or STREAM_RE.search(text)):
        return None
    record = Record(line, text, _key(text))
    _describe(record, text)
    return record


def _key(text: str) -> str:
    """Return the message without Laravel's JSON context, for recognising it again."""
    return text.split(' {"exception"', 1)[0].strip().rstrip('"')


def _describe(record: Record, text: str) -> None:
    """Fill a record's stage, reply code and endpoint from one message."""
    auth = AUTH_RE.search(text)
    if auth:
        record.set_stage(Stage.AUTH, NAMED)
        record.connected = True
        if auth.group("user"):
            record.attrs.setdefault("identity", auth.group("user"))
        failing = AUTHENTICATOR_RE.search(text)
        if failing:
            record.attrs.setdefault("mechanism", failing.group("mechanism").upper())

    for expected in EXPECTED_RE.finditer(text):  # the first reply with a code is the one recorded
        record.connected = True
        code = expected.group("code")
        if code:
            if record.code is None:
                record.code = int(code)
                message = expected.group("message") or ""
                record.reply = message.strip() or None
                record.enhanced = rc.find_enhanced(message[:16])
                record.set_stage(_errors.guess_stage(record.code, message), GUESSED)
        record.set_stage(EXPECTED_STAGES.get(expected.group("expected")), NAMED)

    target = CONNECT_RE.search(text) or TIMEOUT_RE.search(text) or CLOSED_RE.search(text)
    if target:
        found = TARGET_RE.match(target.group("target") or target.groupdict().get("bare") or "")
        if found:
            record.attrs.setdefault("host", found.group("host"))
            if found.group("port"):
                record.attrs.setdefault("port", int(found.group("port")))
            if found.group(0).startswith("ssl://"):
                record.attrs.setdefault("tls_mode", "implicit")
    if TLS_RE.search(text) or "SSL operation failed" in text:
        record.set_stage(Stage.TLS, NAMED)
        record.connected = True
    elif CONNECT_RE.search(text) or STREAM_RE.search(text):
        record.set_stage(Stage.CONNECT, NAMED)
    elif TIMEOUT_RE.search(text) or CLOSED_RE.search(text):
        record.set_stage(Stage.GREETING, GUESSED)
        record.connected = True

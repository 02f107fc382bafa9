"""Errors from Ruby's ``Net::SMTP``, as ActionMailer, ActiveJob and scripts print them.

Notes
-----
Ruby prints an exception as ``Class: message`` (irb, ``rescue => e; puts
"#{e.class}: #{e.message}"``), as ``Class (message):`` (Rails' ActiveJob and
request logs), or as ``path:line:in `method': message (Class)`` followed by
``\\tfrom path:line:in `method'`` lines (an uncaught exception; Ruby 3.4
quotes ``'Net::SMTP#method'`` instead).  Scripts often print only the
message: ``SSL_connect returned=1 errno=0 peeraddr=1.2.3.4:587
state=error: wrong version number`` names neither the class nor the step.

``Net::SMTP`` keeps the server's reply in the message with its code
(``535-5.7.8 Username and Password not accepted.``); a multi-line reply
goes on over the next lines (``535 5.7.8  https://...``), which are read as
part of the same error.  The class names the step for
``Net::SMTPAuthenticationError`` (AUTH), ``Net::OpenTimeout`` (TCP or TLS
connect), ``OpenSSL::SSL::SSLError`` (TLS) and ``SocketError`` (DNS); for
``Net::SMTPFatalError`` and ``Net::SMTPServerBusy`` the innermost
backtrace frame of ``net/smtp.rb`` tells the command (``mailfrom``,
``rcptto``, ``data``), else the reply's code and text.  ``Net::ReadTimeout``
and ``EOFError`` with no frame are put at the greeting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ..labels import Stage
from ..records import Event, Line, SessionEnd
from . import _errors
from ._errors import GUESSED, NAMED, SHOWN, ErrorSessions, Record
from .base import ParseContext

NAME = "ruby"
DESCRIPTION = "Ruby Net::SMTP and ActionMailer errors and backtraces"
CLIENT = "ruby-net-smtp"

CLASS_RE = re.compile(
    r"(?P<cls>Net::SMTP\w+|Net::ReadTimeout|Net::OpenTimeout|Net::WriteTimeout|OpenSSL::SSL::SSLError|"
    r"Errno::E[A-Z]+|SocketError|Socket::ResolutionError|EOFError|Timeout::Error|IOError)\b"
)
SSL_CONNECT_RE = re.compile(r"SSL_connect(?: SYSCALL)? returned=\d+ errno=\d+(?: peeraddr=(?P<peer>\S+))? state=[^:]*: ?(?P<reason>.*)$")
FULL_MESSAGE_RE = re.compile(r"^(?P<path>\S+):\d+:in [`'](?P<method>[^']+)': (?P<msg>.*) \((?P<cls>[\w:]+)\)$")
FRAME_RE = re.compile(r"^\s*(?:from |\[\S*\] )?(?P<path>\S+\.rb):\d+:in [`'](?P<method>[^']+)'")
REPLY_LINE_RE = re.compile(r"^\s*(?P<code>[2-5]\d\d)[ -]\S")
CLOSING_RE = re.compile(r"^\s*\)?:?\s*$|^\s*\):\s*$")
CONNECT_FOR_RE = re.compile(r'connect\(2\) for "?(?P<host>[^" ]+)"? port (?P<port>\d+)')
OPEN_TCP_RE = re.compile(r"Failed to open TCP connection to (?P<host>[^:\s]+):(?P<port>\d+)")
MESSAGES: tuple[tuple[str, Stage, int, bool], ...] = (
    (r"execution expired", Stage.CONNECT, GUESSED, False),
    (r"getaddrinfo|Name or service not known|nodename nor servname", Stage.DNS, NAMED, False),
    (r"Connection refused - connect\(2\)", Stage.CONNECT, NAMED, False),
    (r"end of file reached", Stage.GREETING, GUESSED, True),
)

CLASS_STAGES: dict[str, tuple[Stage, int, bool]] = {
    "Net::SMTPAuthenticationError": (Stage.AUTH, NAMED, True),
    "Net::OpenTimeout": (Stage.CONNECT, NAMED, False),
    "Net::ReadTimeout": (Stage.GREETING, GUESSED, True),
    "Net::WriteTimeout": (Stage.DATA, GUESSED, True),
    "OpenSSL::SSL::SSLError": (Stage.TLS, NAMED, True),
    "SocketError": (Stage.DNS, NAMED, False),
    "Socket::ResolutionError": (Stage.DNS, NAMED, False),
    "Errno::ECONNREFUSED": (Stage.CONNECT, NAMED, False),
    "Errno::ETIMEDOUT": (Stage.CONNECT, NAMED, False),
    "Errno::EHOSTUNREACH": (Stage.CONNECT, NAMED, False),
    "Errno::ENETUNREACH": (Stage.CONNECT, NAMED, False),
    "Errno::ECONNRESET": (Stage.GREETING, GUESSED, True),
    "Errno::EPIPE": (Stage.DATA, GUESSED, True),
    "EOFError": (Stage.GREETING, GUESSED, True),
}

# net/smtp.rb methods, innermost frame first.
FRAME_STAGES: dict[str, Stage] = {
    "authenticate": Stage.AUTH, "check_auth_response": Stage.AUTH, "check_auth_continue": Stage.AUTH,
    "auth_login": Stage.AUTH, "auth_plain": Stage.AUTH, "auth_cram_md5": Stage.AUTH, "auth_xoauth2": Stage.AUTH,
    "mailfrom": Stage.MAIL_FROM, "rcptto": Stage.RCPT_TO, "rcptto_list": Stage.RCPT_TO, "data": Stage.DATA,
    "starttls": Stage.STARTTLS, "tlsconnect": Stage.TLS, "ssl_socket_connect": Stage.TLS, "connect_nonblock": Stage.TLS,
    "helo": Stage.EHLO, "ehlo": Stage.EHLO, "do_helo": Stage.EHLO, "tcp_socket": Stage.CONNECT,
}

# Rails' own records where the log has no dates (its development log): requests, views, ActionMailer
# and ActiveJob, after any tags ("[ActiveJob] [ActionMailer::MailDeliveryJob] [job id] ").
RAILS_RECORD_RE = re.compile(
    r"^(?:\[[^\]]*\] )*\s*(?:Started (?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) |Processing by \S+ as "
    r"|Completed \d{3} |Redirected to |Rendering |Rendered |Parameters: \{|Delivered mail |Skipped delivery of mail "
    r"|\S+#\S+: processed outbound mail in |(?:Enqueued|Performing|Performed) \S+ \(Job ID: )")

SIGNATURE_RE = re.compile(r"Net::SMTP|Net::(?:Read|Open)Timeout|OpenSSL::SSL::SSLError|SSL_connect returned=|"
                          r"net/smtp\.rb|action_?mailer|ActionMailer|Errno::E[A-Z]+|SocketError: getaddrinfo|"
                          r"EOFError: end of file reached")


DETECT_SIGNS = (SIGNATURE_RE,)


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like Ruby SMTP errors."""
    hits = sum(1 for text in sample if SIGNATURE_RE.search(text))
    if not hits:
        return 0.0
    return min(1.0, 0.45 + hits / max(len(sample), 1))


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn Ruby error lines and backtraces into one session per failed attempt."""
    return _errors.run(lines, ctx, _read_line)


def _read_line(line: Line, sessions: ErrorSessions) -> Iterator[Event | SessionEnd]:
    text = line.text
    frame = FRAME_RE.match(text)
    if frame and not FULL_MESSAGE_RE.match(text.strip()):
        stage = _frame_stage(frame.group("path"), frame.group("method"))
        if not sessions.attach(line, stage=stage, evidence=False):
            sessions.ctx.noise(line)
        return
    record = sessions.record
    reply = REPLY_LINE_RE.match(text)
    if reply and record is not None and record.code == int(reply.group("code")) and CLASS_RE.search(text) is None:
        record.text += "\n" + text.strip()  # the next line of a multi-line reply
        sessions.attach(line)
        return
    found = read_error(line)
    if found is not None:
        yield from sessions.add(found)
        return
    if CLOSING_RE.match(text) and sessions.attach(line, evidence=False):
        return  # the "):" that closes Rails' "Class (message" form
    if _errors.is_tool_noise(text) or _errors.is_app_record(line, RAILS_RECORD_RE):
        sessions.ctx.noise(line)  # Logger, Sidekiq and syslog lines are dated by their envelope
        return
    sessions.ctx.unrecognised(line)


def _frame_stage(path: str, method: str) -> Stage | None:
    if "smtp" not in path and "socket" not in path and "ssl" not in path:
        return None
    # "block in rcptto_list", "block (2 levels) in start", Ruby 3.4's "Net::SMTP#rcptto"
    name = re.sub(r"^block (?:\(\d+ levels\) )?in ", "", method)
    name = name.rsplit("#", 1)[-1].rsplit(".", 1)[-1]
    return FRAME_STAGES.get(name)


def read_error(line: Line) -> Record | None:
    """Return the record for a line that carries a Ruby SMTP error, or ``None``."""
    text = line.text
    full = FULL_MESSAGE_RE.match(text.strip())
    if full:
        record = _record(line, text, full.group("cls"), full.group("msg"))
        record.set_stage(_frame_stage(full.group("path"), full.group("method")), SHOWN)
        return record
    match = CLASS_RE.search(text)
    if match:
        # NOTE: Net::HTTP raises Net::ReadTimeout and Net::OpenTimeout too; in a log that
        # mixes HTTP and SMTP clients those are read as SMTP failures, even under net/http.rb frames.
        return _record(line, text, match.group("cls"), _message_after(text, match.end()))
    ssl = SSL_CONNECT_RE.search(text)
    if ssl:
        return _record(line, text, "OpenSSL::SSL::SSLError", ssl.group(0))
    for pattern, stage, weight, connected in MESSAGES:
        if re.search(pattern, text, re.IGNORECASE):
            record = Record(line, text, re.search(pattern, text, re.IGNORECASE).group(0), stage, weight,
                            connected=connected)
            _read_endpoint(record, text)
            return record
    return None


def _message_after(text: str, end: int) -> str:
    rest = text[end:].lstrip()
    if rest.startswith(":"):
        return rest[1:].strip()
    if rest.startswith("("):
        return rest[1:].rstrip("):").strip()
    return rest.strip()


def _record(line: Line, text: str, cls: str, message: str) -> Record:
    key = message if len(message) > 8 else cls
    record = Record(line, text, key, exception=True)
    if cls in CLASS_STAGES:
        stage, weight, connected = CLASS_STAGES[cls]
        record.set_stage(stage, weight)
        record.connected = connected
    reply = _errors.find_reply(message) if cls.startswith("Net::SMTP") else None
    if reply is not None:
        record.code, record.enhanced = reply
        record.reply = message
        record.connected = True
        record.set_stage(_errors.guess_stage(record.code, message), GUESSED)
    if cls == "Net::SMTPUnsupportedCommand" and "STARTTLS" in message.upper():
        record.set_stage(Stage.STARTTLS, NAMED)
        record.connected = True
    _read_endpoint(record, text)
    return record


def _read_endpoint(record: Record, text: str) -> None:
    ssl = SSL_CONNECT_RE.search(text)
    connect = CONNECT_FOR_RE.search(text) or OPEN_TCP_RE.search(text)
    if connect:
        record.attrs.update(host=connect.group("host"), port=int(connect.group("port")))
    elif ssl and ssl.group("peer"):
        record.attrs.update(_errors.find_endpoint(ssl.group("peer") + " "))

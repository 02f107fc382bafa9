"""An application's own log line about a failed send, with a socket error or reply in it and no transcript.

Notes
-----
Bug reports often quote one line: what a web application or job logged
when sending failed, such as ``Failed to send email: [Errno 111]
Connection refused`` inside Python logging, or the last line of an
exception without its traceback (``ConnectionRefusedError: [Errno 111]
Connection refused``, ``socket.gaierror: [Errno -2] Name or service not
known``, ``ssl.SSLError: [SSL: WRONG_VERSION_NUMBER] ...``, Node.js's
``Error: connect ECONNREFUSED 192.0.2.5:587``).  smtplib's own exception
lines (``SMTPAuthenticationError: (535, b'...')``) are the ``smtplib``
format's; this format reads the rest.

A line counts when it carries one of these pieces of evidence:

* a Python ``OSError`` number (``[Errno 111]``, ``[Errno -2]``,
  ``[WinError 10060]``): refused, timed out and unreachable are the TCP
  connect, name lookup errors the DNS step;
* a Node.js system error code (``ECONNREFUSED``, ``ENOTFOUND``,
  ``ETIMEDOUT`` after ``connect``), with the same steps;
* OpenSSL's ``[SSL: REASON]``: the TLS handshake;
* an SMTP reply as Python prints it (``(535, b'5.7.8 ...')``) or an
  smtplib exception name: the step the reply or the name implies.

The bare exception lines need nothing more.  A sentence of the
application's needs a word about mail next to the evidence (``mail``,
``smtp``, ``recipient`` and the like), so that a database's connection
error is not read as an SMTP failure.  ``host:port`` in the line (``via
smtp.example.net:587``) gives the server.  Python logging's level-first
layout (``ERROR 2024-05-01 10:00:00,123 mailer ...``) is an envelope,
removed before this format reads the line.  Each line is one attempt, unless the
same error comes again within two seconds (see
:mod:`smtplogkit.formats._errors`).  Detection scores at most 0.3 and
stops at a traceback, so any format with signs of its own wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from .. import replycodes as rc
from ..labels import Stage
from ..literals import could_match, sign_literals
from ..records import Event, Line, SessionEnd
from ..redact import redact_text
from . import _errors, _python
from ._errors import GUESSED, NAMED, ErrorSessions, Record
from .base import ParseContext

NAME = "applog"
DESCRIPTION = "one-line application errors about a failed send (Python OSError and ssl errors, Node.js error codes)"
CLIENT = "application"
PRIORITY = 0
# Evidence from the line alone names a step; the best score stays under the formats with signs of their own.
SCORE = 0.3

ERRNO_RE = re.compile(r"\[(?:Errno|WinError) (-?\d+)\]")
NODE_CODE_RE = re.compile(r"\b(?:(connect|getaddrinfo|read|write|queryA|querySrv) )?"
                          r"(ECONNREFUSED|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ENETUNREACH)\b")
SSL_REASON_RE = re.compile(r"\[SSL: [A-Z0-9_]+\]|\bSSLError\b|\bSSLCertVerificationError\b")
REPLY_TUPLE_RE = re.compile(r"\(\s*([45]\d\d),\s*b?(['\"])(.*?)\2")
SMTP_EXCEPTION_RE = re.compile(r"\b(SMTP\w*(?:Error|Refused|Disconnected))\b")
# The last line of a Python exception of the socket and ssl modules, or of Node.js's system errors.
BARE_EXCEPTION_RE = re.compile(
    r"^(?:(?:builtins|socket|ssl|OSError)\.)?(?:ConnectionRefusedError|ConnectionResetError|ConnectionAbortedError|"
    r"TimeoutError|BrokenPipeError|OSError|gaierror|herror|timeout|SSLError|SSLCertVerificationError|SSLEOFError|"
    r"SSLZeroReturnError): \S|^Error: (?:connect|getaddrinfo|read|write) E[A-Z_]+\b")
TRACEBACK_RE = re.compile(r"^Traceback \(most recent call last\)|^\s*File \"[^\"]+\", line \d+|^\s+at .+\(.*:\d+:\d+\)$")

# Operating system error numbers (Linux, macOS and Windows) and the step each one stops.
ERRNO_STAGES: dict[int, Stage] = {
    111: Stage.CONNECT, 61: Stage.CONNECT, 10061: Stage.CONNECT,  # connection refused
    110: Stage.CONNECT, 60: Stage.CONNECT, 10060: Stage.CONNECT,  # connection timed out
    101: Stage.CONNECT, 113: Stage.CONNECT, 51: Stage.CONNECT, 65: Stage.CONNECT, 10051: Stage.CONNECT,
    10065: Stage.CONNECT,  # network or host unreachable
    99: Stage.CONNECT, 49: Stage.CONNECT,  # cannot assign requested address
    -2: Stage.DNS, -3: Stage.DNS, -5: Stage.DNS, -9: Stage.DNS, 8: Stage.DNS, 11001: Stage.DNS,
    11004: Stage.DNS,  # getaddrinfo: name unknown, lookup failed
}
NODE_STAGES = {"ECONNREFUSED": Stage.CONNECT, "EHOSTUNREACH": Stage.CONNECT, "ENETUNREACH": Stage.CONNECT,
               "ENOTFOUND": Stage.DNS, "EAI_AGAIN": Stage.DNS}


# A line with evidence (_evidence) contains one of these literals or the start of a reply tuple.  One
# search of the whole sample for them costs 0.4 ms on 400 lines of an smtplib log, reading each line 11.6 ms.
_EVIDENCE_LITERALS = sign_literals((ERRNO_RE, NODE_CODE_RE, SSL_REASON_RE, SMTP_EXCEPTION_RE, BARE_EXCEPTION_RE))
_REPLY_TUPLE_START_RE = re.compile(r"\(\s*[45]\d\d,")


def detect(sample: list[str]) -> float:
    """Score a sample that contains application error lines this format reads and no traceback."""
    whole = "\n".join(sample)
    if not (could_match(_EVIDENCE_LITERALS, whole) or _REPLY_TUPLE_START_RE.search(whole)):
        return 0.0
    if any(TRACEBACK_RE.match(text) for text in sample):
        return 0.0  # a traceback's frames name the step; the smtplib, django and aiosmtplib readers know them
    hits = sum(1 for text in sample if _evidence(text) is not None)
    return SCORE if hits else 0.0


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn each application error line into the session of one failed attempt."""
    return _errors.run(lines, ctx, _read_line)


def _read_line(line: Line, sessions: ErrorSessions) -> Iterator[Event | SessionEnd]:
    record = read_error(line)
    if record is not None:
        yield from sessions.add(record)
        return
    if _errors.is_tool_noise(line.text) or _errors.is_app_record(line):
        sessions.ctx.noise(line)
        return
    sessions.ctx.unrecognised(line)


def read_error(line: Line) -> Record | None:
    """Return the record of a line that reports a failed send, or ``None``."""
    text = line.text.strip()
    evidence = _evidence(text)
    if evidence is None:
        return None
    stage, weight, key = evidence
    attrs = _errors.find_endpoint(redact_text(text))  # a password in a URL is no host or port
    record = Record(line, text, key, stage, weight, connected=stage not in (None, Stage.DNS, Stage.CONNECT),
                    attrs=attrs)
    reply = REPLY_TUPLE_RE.search(text)
    if reply is not None:
        record.code = int(reply.group(1))
        record.reply = _python.literal_text(reply.group(3))
        record.enhanced = rc.find_enhanced(record.reply[:16])
        record.connected = True
        record.set_stage(_errors.guess_stage(record.code, record.reply), GUESSED)
    return record


def _evidence(text: str) -> tuple[Stage | None, int, str] | None:
    """Return (stage, weight of that evidence, key text) for a line this format reads, or ``None``."""
    text = text.strip()
    if not text or text[0] == "{":
        return None  # JSON records are the jsonlines format's
    bare = BARE_EXCEPTION_RE.match(text) is not None
    if not bare and not (_errors.MAIL_WORDS_RE.search(text) and _errors.FAILURE_WORDS_RE.search(text)):
        return None
    errno = ERRNO_RE.search(text)
    if errno is not None:
        return ERRNO_STAGES.get(int(errno.group(1))), NAMED, text[errno.start():]
    node = NODE_CODE_RE.search(text)
    if node is not None:
        operation, code = node.groups()
        stage = NODE_STAGES.get(code) or (Stage.CONNECT if operation == "connect" else None)
        return stage, NAMED, text[node.start():]
    ssl = SSL_REASON_RE.search(text)
    if ssl is not None:
        return Stage.TLS, NAMED, text[ssl.start():]
    name = SMTP_EXCEPTION_RE.search(text)
    if name is not None:
        return _python.EXCEPTION_STAGES.get(name.group(1)), NAMED, text[name.start():]
    reply = REPLY_TUPLE_RE.search(text)
    if reply is not None:
        return None, 0, text[reply.start():]  # read_error guesses the step from the reply
    if bare:
        name = text.split(":", 1)[0].rsplit(".", 1)[-1]
        return (Stage.DNS if name in ("gaierror", "herror") else None), NAMED, text
    return None

"""Errors from Go's ``net/smtp`` and gomail, bare or inside logrus, zap and ``log`` lines.

Notes
-----
Go programs print no SMTP transcript, only the error value: ``dial tcp
1.2.3.4:587: i/o timeout`` (TCP connect), ``dial tcp: lookup smtp.x on
127.0.0.53:53: no such host`` (DNS), ``x509: certificate signed by unknown
authority`` and ``tls: first record does not look like a TLS handshake``
(TLS), ``read tcp 10.0.0.2:50412->1.2.3.4:587: i/o timeout`` (a reply that
never came), ``EOF`` (the server closed the connection), and the server's
reply itself as ``textproto.Error`` (``535 5.7.8 Username and Password not
accepted``).  A multi-line reply is joined with newlines, so its second line
(``5.7.8  https://support.google.com/...``) arrives as a line of its own and
is read as part of the error before it.  gomail adds ``gomail: could not send
email 1:`` in front.

Applications usually log the error through logrus (``time=... level=error
msg="..." error="..."``, its envelope removed before this parser runs), zap
(tab-separated console lines or JSON, the latter read by the ``jsonlines``
format) or the standard ``log`` package (``2022/04/20 07:00:35 ...``), and
often print it raw as well; see :mod:`smtplogkit.formats._errors` for how
the two prints become one session.  Lines of ``docker pull`` and compose
output around the program's own lines count as noise.

Only the step the error names is known: a reply quoted without its command
gets the step its code and text usually answer (``535`` at AUTH, ``5.1.1``
at RCPT TO), and a read timeout or ``EOF`` with nothing else is put at the
greeting, where net/smtp first reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ..labels import Stage
from ..records import Event, Line, SessionEnd
from . import _errors
from ._errors import GUESSED, NAMED, ErrorSessions, Record
from .base import ParseContext

NAME = "go"
DESCRIPTION = "Go net/smtp and gomail errors, bare or in logrus, zap and log lines"
CLIENT = "go-net-smtp"

_END = r'(?="|\\"|\t|$)'
DIAL_RE = re.compile(r'dial (?:tcp[46]?|udp) (?P<addr>[^\s"]+?): (?P<rest>[^"\t]+?)' + _END)
LOOKUP_RE = re.compile(r'dial tcp[46]?: lookup (?P<host>[^\s:"]+)(?: on [^\s"]+)?: (?P<rest>[^"\t]+?)' + _END)
IO_RE = re.compile(r'(?:read|write) tcp[46]? (?P<local>[^\s"]+)->(?P<remote>[^\s"]+): (?P<rest>[^"\t]+?)' + _END)
TLS_RE = re.compile(r'(?:tls: |x509: |remote error: tls: )[^"\t]+?' + _END)
REPLY_RE = re.compile(r'(?:^|: |msg="|error="|err="|"error": ")(?P<code>[45]\d\d)[ -](?P<text>[^"\t]*?)' + _END)
EOF_RE = re.compile(r'(?:^|: |error="|err="|"error": ")(?P<eof>(?:unexpected )?EOF)' + _END)
NET_SMTP_RE = re.compile(r"(?P<text>smtp: server doesn't support AUTH|unencrypted connection|wrong host name"
                         r"|gomail: invalid address[^\"\t]*|i/o timeout|context deadline exceeded)" + _END)
# Errors any Go code returns: read as SMTP failures only alone on a line or next to a word about mail.
GENERIC_CORES = frozenset({"EOF", "unexpected EOF", "i/o timeout", "context deadline exceeded"})
SMTP_CONTEXT_RE = re.compile(r"smtp|mail|send|deliver|dial", re.IGNORECASE)
REPLY_CONTINUATION_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\s{1,2}\S")
FIELD_RE = re.compile(r'\b(host|smtp_host|server|port|worker|identity|user|username)(?:=|": ?)("(?:[^"\\]|\\.)*"|[^\s",}]+)')
SIGNATURE_RE = re.compile(r"dial tcp|read tcp .*->|write tcp .*->|x509: |tls: first record|gomail: |net/smtp\.\(|"
                          r"smtp: server doesn't support|unencrypted connection")


# The levelled lines of Go loggers that print no date: logrus on a terminal ("INFO[0042] text", its
# level cut to four letters and coloured), logrus and slog without a time ("level=info msg=..."), and
# zerolog's console writer ("3:04PM INF text").
_ANSI = r"(?:\x1b\[[\d;]*m)?"
APP_LAYOUT_RE = re.compile(rf"^{_ANSI}(?:PANI|FATA|ERRO|WARN|INFO|DEBU|TRAC){_ANSI}\[[^\]]*\] "
                           rf"|^level=\w+ msg="
                           rf"|^{_ANSI}\d{{1,2}}:\d\d(?:AM|PM){_ANSI} {_ANSI}(?:TRC|DBG|INF|WRN|ERR|FTL|PNC)\b")

# Weaker signs: logrus fields around a reply (the envelope has removed logrus' own
# prefix), and the bare second line of a reply that textproto joined with "\n".
WEAK_SIGNATURE_RE = re.compile(r'(?:^|\s)(?:error|err)="[45]\d\d[ -]|^[245]\.\d{1,3}\.\d{1,3}  \S')


# A line of SIGNATURE_RE or WEAK_SIGNATURE_RE: the second's alternatives need 'err="' or two spaces.
DETECT_SIGNS = (SIGNATURE_RE, 'err="', 'error="', "  ")


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like Go SMTP errors."""
    texts = [text for text in sample if not text.lstrip().startswith("{")]
    hits = sum(1 for text in texts if SIGNATURE_RE.search(text))
    if hits:
        return min(1.0, 0.4 + hits / max(len(texts), 1))
    return 0.3 if any(WEAK_SIGNATURE_RE.search(text) for text in texts) else 0.0


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn Go error lines into one session per failed attempt."""
    return _errors.run(lines, ctx, _read_line)


def _read_line(line: Line, sessions: ErrorSessions) -> Iterator[Event | SessionEnd]:
    record = read_error(line)
    if record is not None:
        yield from sessions.add(record)
        return
    text = line.text
    if REPLY_CONTINUATION_RE.match(text.strip()) and sessions.attach(line):
        return  # the second line of a multi-line reply inside the error before it
    if _errors.is_tool_noise(text) or _errors.is_app_record(line, APP_LAYOUT_RE):
        sessions.ctx.noise(line)
        return
    sessions.ctx.unrecognised(line)


def read_error(line: Line) -> Record | None:
    """Return the record for a line that carries a Go SMTP error, or ``None``."""
    text = line.text
    fields = _fields(text)
    match = LOOKUP_RE.search(text)
    if match:
        return Record(line, text, match.group(0), Stage.DNS, NAMED, attrs={"host": match.group("host"), **fields})
    match = DIAL_RE.search(text)
    if match:
        return Record(line, text, match.group(0), Stage.CONNECT, NAMED,
                      attrs={**_errors.find_endpoint(match.group("addr") + " "), **fields})
    match = TLS_RE.search(text)
    if match:
        return Record(line, text, match.group(0), Stage.TLS, NAMED, connected=True, attrs=fields)
    match = IO_RE.search(text)
    if match:
        return Record(line, text, match.group(0), Stage.GREETING, GUESSED, connected=True,
                      attrs={**_errors.find_endpoint(match.group("remote") + " "), **fields})
    match = REPLY_RE.search(text)
    if match:
        code, reply = int(match.group("code")), match.group("text")
        record = Record(line, text, f"{code} {reply}", code=code, connected=True, attrs=fields, reply=f"{code} {reply}")
        record.set_stage(_errors.guess_stage(code, reply), GUESSED)
        return record
    match = NET_SMTP_RE.search(text) or EOF_RE.search(text)
    if match is None:
        return None
    core = match.group(1)
    if core in GENERIC_CORES and text.strip() != core and not SMTP_CONTEXT_RE.search(text):
        return None  # an EOF or timeout of some other part of the program
    return _net_smtp_error(line, text, core, fields)


def _net_smtp_error(line: Line, text: str, core: str, fields: dict) -> Record:
    stage, connected = Stage.GREETING, True
    if core.startswith("smtp: server doesn't support AUTH"):
        stage = Stage.AUTH
    elif core == "unencrypted connection":
        stage = Stage.STARTTLS  # PlainAuth refuses to send a password when STARTTLS was not offered
    elif core in ("i/o timeout", "context deadline exceeded"):
        stage, connected = Stage.CONNECT, False
    elif core.startswith(("gomail: invalid address", "wrong host name")):
        stage, connected = Stage.NONE, False
    return Record(line, text, core, stage, GUESSED, connected=connected, attrs=fields)


def _fields(text: str) -> dict:
    """Return the fields (logrus ``key=value``, zap ``"key": value``) that name the server or the worker."""
    found = {}
    for key, value in FIELD_RE.findall(text):
        value = value.strip('"')
        if key in ("smtp_host", "server"):
            key = "host"
        elif key in ("user", "username"):
            key = "identity"
        if key == "port":
            if not value.isdigit():
                continue
            found[key] = int(value)
        else:
            found.setdefault(key, value)
    return found

"""Exceptions from .NET's ``System.Net.Mail.SmtpClient`` and from MailKit.

Notes
-----
Neither client writes a transcript unless asked (MailKit's protocol log is
the ``mailkit`` format).  What reaches the log is ``Exception.ToString()``:
a header ``Namespace.ClassException: message``, inner exceptions after
`` ---> `` (on the same line in .NET Framework, on a line of their own in
.NET Core and later), then ``   at Namespace.Class.Method(...)`` frames,
innermost first.  Often only the message is pasted.

``SmtpClient`` replaces the server's reply code with a fixed sentence and
quotes the rest after ``The server response was:``, so the code is read
back from the sentence: "The SMTP server requires a secure connection or
the client was not authenticated." is reply 530 (``SmtpStatusCode.
MustIssueStartTlsFirst``), "Mailbox unavailable." is 550, or 450 when the
quoted enhanced code starts with 4 (both codes share the sentence), and so
on for every sentence of ``SmtpException.GetMessageForStatus``.  MailKit
prefixes the reply with the ``SmtpStatusCode`` name instead
(``AuthenticationInvalidCredentials: 5.7.3 Authentication unsuccessful``);
its ``SmtpCommandException`` gives the reply text alone.  MailKit's
``SslHandshakeException`` explains itself over several lines (the port
that is "typically reserved for plain-text connections", or the
certificate's errors); those lines are read as part of the message.

The step comes from the innermost frame that names one (``MailCommand``,
``RecipientCommand``, ``SmtpClient.AuthenticateAsync``, ``Socket.Connect``,
``SslStream.AuthenticateAsClient``), else from the exception class or the
sentence.  "The operation has timed out." with nothing else is
``SmtpClient.Timeout`` expiring on a connected socket, and is put at the
greeting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from ..labels import Stage
from ..records import Event, Line, SessionEnd
from . import _errors
from ._errors import GUESSED, NAMED, ErrorSessions, Record
from .base import ParseContext

NAME = "dotnet"
DESCRIPTION = ".NET System.Net.Mail.SmtpClient and MailKit exceptions and stack traces"
CLIENT = "dotnet"

HEADER_RE = re.compile(
    r"(?P<cls>\b(?:System|MailKit|MimeKit)(?:\.\w+)*\.\w*Exception)(?: \((?P<errno>[\dx, A-F]+)\))?: (?P<msg>.*)$"
)
INNER_RE = re.compile(r"^\s*---> (?P<rest>.*)$")
FRAME_RE = re.compile(r"^\s+at (?P<where>[\w.`<>\[\]+|]+)[(\s]")
END_OF_TRACE_RE = re.compile(r"^\s*--- End of (?:inner exception |stack trace)")
CONSOLE_LOGGER_RE = re.compile(r"^(?:fail|crit|warn|info|dbug|trce): [\w.]+\[\d+\]\s*$")
SERVER_RESPONSE_RE = re.compile(r"The server response was:\s?(?P<reply>.*)$")
MAILKIT_STATUS_RE = re.compile(r"^(?P<status>[A-Z][A-Za-z]+): (?P<reply>.*)$")
# Messages that MailKit spreads over several lines, and lines that start a new log entry instead.
MULTILINE_MESSAGE_RE = re.compile(r"establish an SSL or TLS connection|following (?:reasons|errors):?\s*$")
NEW_ENTRY_RE = re.compile(r"^(?:\[|\d{4}-\d\d-\d\d|\d\d:\d\d:\d\d|(?:fail|crit|warn|info|dbug|trce):|"
                          r"(?:DEBUG|INFO|WARN|WARNING|ERROR|FATAL)\b)")
REPLY_CONTINUATION_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}\s{1,2}\S")
CONNECT_CALL_RE = re.compile(r'Connect \("(?P<host>[^"]+)", (?P<port>\d+)')
PORT_HINT_RE = re.compile(r"\bport (?P<port>\d{2,5}) is typically reserved")


@dataclass(frozen=True, slots=True)
class Sentence:
    """A fixed message of a .NET mail client, with the reply code and stage it implies."""

    pattern: str
    code: int | None = None
    stage: Stage | None = None
    weight: int = NAMED
    connected: bool = False


# SmtpException.GetMessageForStatus (System.Net.Mail) and the other fixed
# messages of SmtpClient, SslStream and MailKit.  The code is the reply that
# the sentence replaces; the stage, where given, is the step that throws it.
SENTENCES: tuple[Sentence, ...] = (
    Sentence(r"requires a secure connection or the client was not authenticated", 530, Stage.MAIL_FROM),
    Sentence(r"^Mailbox unavailable\.", 550),
    Sentence(r"^Transaction failed\.", 554),
    Sentence(r"^Service not available, closing transmission channel", 421),
    Sentence(r"^Insufficient system storage", 452),
    Sentence(r"^Error in processing", 451),
    Sentence(r"^Exceeded storage allocation", 552, Stage.DATA, GUESSED),
    Sentence(r"^Mailbox name not allowed", 553),
    Sentence(r"^User not local; please try a different path", 551, Stage.RCPT_TO, GUESSED),
    Sentence(r"^Syntax error in parameters or arguments", 501),
    Sentence(r"^Syntax error, command unrecognized", 500),
    Sentence(r"^Command not implemented", 502),
    Sentence(r"^Bad sequence of commands", 503),
    Sentence(r"^Command parameter not implemented", 504),
    Sentence(r"^Client does not have permission to submit mail to this server", 454, Stage.MAIL_FROM, GUESSED),
    Sentence(r"^Client does not have permission to Send As this sender", 550, Stage.MAIL_FROM),
    Sentence(r"^Server does not support secure connections", None, Stage.STARTTLS, NAMED, True),
    Sentence(r"^The operation has timed out", None, Stage.GREETING, GUESSED, True),
    Sentence(r"^Unable to (?:read|write) data (?:from|to) the transport connection", None, Stage.GREETING, GUESSED, True),
    Sentence(r"^Unable to connect to the remote server", None, Stage.CONNECT),
    Sentence(r"^The remote name could not be resolved", None, Stage.DNS),
    Sentence(r"remote certificate is invalid|certificate could not be validated|RemoteCertificate", None, Stage.TLS, NAMED, True),
    Sentence(r"establish an SSL or TLS connection|remote party has closed the transport stream|"
             r"handshake failed|Authentication failed, see inner exception", None, Stage.TLS, NAMED, True),
    Sentence(r"^The SMTP server has unexpectedly disconnected", None, Stage.GREETING, GUESSED, True),
    Sentence(r"does not support authentication|No compatible authentication mechanisms", None, Stage.AUTH, NAMED, True),
    Sentence(r"^Failure sending mail"),
    Sentence(r"^Unable to send to (?:a|all) recipients?", None, Stage.RCPT_TO),
)

# MailKit.Net.Smtp.SmtpStatusCode names, as MailKit's AuthenticationException prints them.
MAILKIT_STATUS: dict[str, int] = {
    "ServiceNotAvailable": 421, "MailboxBusy": 450, "ErrorInProcessing": 451, "LocalErrorInProcessing": 451,
    "InsufficientStorage": 452, "TemporaryAuthenticationFailure": 454, "CommandUnrecognized": 500,
    "SyntaxError": 501, "CommandNotImplemented": 502, "BadCommandSequence": 503,
    "CommandParameterNotImplemented": 504, "AuthenticationRequired": 530, "AuthenticationMechanismTooWeak": 534,
    "AuthenticationInvalidCredentials": 535, "EncryptionRequiredForAuthenticationMechanism": 538,
    "MailboxUnavailable": 550, "UserNotLocalTryAlternatePath": 551, "ExceededStorageAllocation": 552,
    "MailboxNameNotAllowed": 553, "TransactionFailed": 554, "PasswordTransitionNeeded": 432,
}

# Exception classes that name the step.
CLASS_STAGES: dict[str, Stage] = {
    "SmtpFailedRecipientException": Stage.RCPT_TO,
    "SmtpFailedRecipientsException": Stage.RCPT_TO,
    "AuthenticationException": Stage.AUTH,  # MailKit.Security; System.Security.Authentication's is TLS, see below
    "SslHandshakeException": Stage.TLS,
    "ServiceNotAuthenticatedException": Stage.MAIL_FROM,
}

# Method or type names in frames, and the step they run (innermost frame wins).
FRAME_STAGES: tuple[tuple[str, Stage], ...] = (
    ("Dns.GetHostAddresses", Stage.DNS),
    ("Dns.GetHostEntry", Stage.DNS),
    ("SslStream", Stage.TLS),
    ("TlsStream", Stage.TLS),
    ("SslState", Stage.TLS),
    ("Socket.Connect", Stage.CONNECT),
    ("Socket.DoConnect", Stage.CONNECT),
    ("Socket.<ConnectAsync", Stage.CONNECT),
    ("TcpClient.Connect", Stage.CONNECT),
    ("SocketUtils.Connect", Stage.CONNECT),
    ("StartTlsCommand", Stage.STARTTLS),
    ("EHelloCommand", Stage.EHLO),
    ("HelloCommand", Stage.EHLO),
    ("AuthCommand", Stage.AUTH),
    ("MailCommand", Stage.MAIL_FROM),
    ("RecipientCommand", Stage.RCPT_TO),
    ("DataStopCommand", Stage.DATA),
    ("DataCommand", Stage.DATA),
    ("SmtpClient.Authenticate", Stage.AUTH),
    ("SmtpClient.<Authenticate", Stage.AUTH),
    ("SmtpClient.MailFrom", Stage.MAIL_FROM),
    ("SmtpClient.<MailFrom", Stage.MAIL_FROM),
    # MailKit's handlers of the reply, innermost when it throws SmtpCommandException.
    ("SmtpClient.ProcessMailFromResponse", Stage.MAIL_FROM),
    ("SmtpClient.OnSenderNotAccepted", Stage.MAIL_FROM),
    ("SmtpClient.ProcessRcptToResponse", Stage.RCPT_TO),
    ("SmtpClient.OnRecipientNotAccepted", Stage.RCPT_TO),
    ("SmtpClient.OnMessageNotAccepted", Stage.DATA),
    ("SmtpClient.RcptTo", Stage.RCPT_TO),
    ("SmtpClient.<RcptTo", Stage.RCPT_TO),
    ("SmtpClient.MessageData", Stage.DATA),
    ("SmtpClient.<MessageData", Stage.DATA),
    ("SmtpClient.Bdat", Stage.DATA),
    ("SmtpClient.<Bdat", Stage.DATA),
    ("SmtpClient.Ehlo", Stage.EHLO),
    ("SmtpClient.<Ehlo", Stage.EHLO),
)

SIGNATURE_RE = re.compile(
    r"System\.Net\.Mail\.|MailKit\.|System\.Net\.Sockets\.SocketException|The server response was:|"
    r"^(?:Unhandled exception\. )?System\.[\w.]*Exception: |remote certificate is invalid|"
    r"SmtpException|Failure sending mail\.|SecureSocketOptions|^\s+at System\.Net\."
)
DETECT_SIGNS = (SIGNATURE_RE, "requires a secure connection")


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like .NET mail exceptions."""
    hits = sum(1 for text in sample if SIGNATURE_RE.search(text))
    # The substring test first: it is cheap, and _sentence tries every sentence pattern.
    sentences = sum(1 for text in sample if "requires a secure connection" in text and _sentence(text.strip()) is not None)
    if not hits and not sentences:
        return 0.0
    return min(1.0, 0.45 + (hits + sentences) / max(len(sample), 1))


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn .NET exception text into one session per failed attempt."""
    reader = _Reader()
    return _errors.run(lines, ctx, reader.read)


class _Reader:
    """Line-by-line state: whether the open record's frames have started."""

    def __init__(self) -> None:
        self.in_frames: Record | None = None
        self.in_logger_entry = False
        # The time of the last dated log entry.  The undated lines after it, such as the
        # exception and frames that Serilog writes below the message, are part of that entry.
        self.entry_ts: datetime | None = None

    def read(self, line: Line, sessions: ErrorSessions) -> Iterator[Event | SessionEnd]:
        text = line.text
        indented = text.startswith(" ")
        dated = line.ts is not None
        if dated:
            self.entry_ts = line.ts
        elif self.entry_ts is not None:
            line.ts = self.entry_ts
        if not indented:
            self.in_logger_entry = False
        frame = FRAME_RE.match(text)
        if frame:
            self._frame(line, frame.group("where"), sessions)
            return
        if END_OF_TRACE_RE.match(text) or CONSOLE_LOGGER_RE.match(text):
            self.in_logger_entry = self.in_logger_entry or CONSOLE_LOGGER_RE.match(text) is not None
            if not sessions.attach(line, evidence=False):
                sessions.ctx.noise(line)
            return

        inner = INNER_RE.match(text)
        if inner and sessions.record is not None and _extend(sessions, line, inner.group("rest")):
            return
        record = read_error(line)
        if record is not None:
            self.in_frames = None
            yield from sessions.add(record)
            return
        if sessions.record is not None and self._continues(sessions.record, text):
            # A further line of a multi-line message (MailKit explains its TLS errors at length).
            sessions.record.text += "\n" + text.strip()
            _read_details(sessions.record, text)
            sessions.attach(line)
            return
        if self.in_logger_entry and indented:
            sessions.ctx.noise(line)  # the application's own message under "fail: Category[0]"
            return
        if _errors.is_tool_noise(text):
            sessions.ctx.noise(line)
            return
        if dated and not indented:
            yield sessions.ctx.note(line)  # the application's own log entry, as smtplib's reader keeps it
            return
        sessions.ctx.unrecognised(line)

    def _continues(self, record: Record, text: str) -> bool:
        """Return whether a line goes on with the open record's message rather than the log."""
        if self.in_frames is record or NEW_ENTRY_RE.match(text):
            return False
        if REPLY_CONTINUATION_RE.match(text.strip()):
            return record.reply is not None  # the second line of a quoted multi-line reply
        return MULTILINE_MESSAGE_RE.search(record.text) is not None

    def _frame(self, line: Line, where: str, sessions: ErrorSessions) -> None:
        stage = next((s for name, s in FRAME_STAGES if name in where), None)
        if sessions.attach(line, stage=stage, evidence=False):
            self.in_frames = sessions.record
        else:
            sessions.ctx.noise(line)


def _sentence(message: str) -> Sentence | None:
    for sentence in SENTENCES:
        if re.search(sentence.pattern, message, re.IGNORECASE):
            return sentence
    return None


def read_error(line: Line) -> Record | None:
    """Return the record for a line that starts a .NET exception or quotes its message."""
    text = line.text
    header = HEADER_RE.search(text)
    if header:
        message = header.group("msg")
        record = Record(line, text, _key(message), exception=True)
        _describe(record, header.group("cls"), message)
        for part in message.split(" ---> ")[1:]:
            _describe_inner(record, part)
            record.key = _inner_message(part)
        return record

    # A message pasted without its exception class, perhaps after a logger's words.
    for start in _message_starts(text):
        sentence = _sentence(text[start:])
        if sentence is not None:
            record = Record(line, text, _key(text[start:]))
            _describe(record, None, text[start:])
            return record
    return None


def _message_starts(text: str) -> Iterator[int]:
    yield 0
    for match in re.finditer(r"(?:: |\] |\t)", text):
        yield match.end()


def _key(message: str) -> str:
    return message.split(" ---> ")[0].strip()


def _describe(record: Record, cls: str | None, message: str) -> None:
    """Fill a record's code, stage and endpoint from an exception class and message."""
    message = message.split(" ---> ")[0].strip()
    short = cls.rsplit(".", 1)[-1] if cls else ""
    if short == "AuthenticationException" and cls and cls.startswith("System.Security"):
        record.set_stage(Stage.TLS, NAMED)  # SslStream's handshake failure
        record.connected = True
    elif short in CLASS_STAGES:
        record.set_stage(CLASS_STAGES[short], NAMED)
    if short == "SocketException":
        record.set_stage(Stage.CONNECT, GUESSED)

    sentence = _sentence(message)
    reply = SERVER_RESPONSE_RE.search(message)
    quoted = reply.group("reply") if reply else ""
    status = MAILKIT_STATUS_RE.match(message)
    if sentence is not None:
        record.set_stage(sentence.stage, sentence.weight)
        record.connected = record.connected or sentence.connected or sentence.code is not None
        if reply is not None and not quoted.strip():
            # "... The server response was:" with nothing after it: the server sent no reply.
            record.set_stage(Stage.GREETING, GUESSED)
            record.connected = True
        elif sentence.code is not None and record.code is None:
            record.code = _class_from_enhanced(sentence.code, quoted)
    elif status and status.group("status") in MAILKIT_STATUS:
        record.code = MAILKIT_STATUS[status.group("status")]
        quoted = status.group("reply")
        record.connected = True
    elif short in ("SmtpCommandException", "SmtpProtocolException") or _errors.find_reply(message):
        # NOTE: MailKit prints no reply code, so a temporary reply whose text names a timeout ("4.4.1
        # Connection timed out", the server's own next hop) is read as read_timeout at that step.
        quoted = message
        found = _errors.find_reply(message)
        if found is not None:
            record.code = found[0]
        record.connected = True

    if quoted and record.reply is None:
        record.reply = quoted
    if record.code is not None or quoted:
        record.enhanced = record.enhanced or _enhanced(quoted or message)
        record.set_stage(_errors.guess_stage(record.code, quoted or message), GUESSED)
    _read_details(record, message)


def _describe_inner(record: Record, text: str) -> None:
    header = HEADER_RE.search(text)
    if header:
        _describe(record, header.group("cls"), header.group("msg"))
    else:
        _describe(record, None, text)


def _extend(sessions: ErrorSessions, line: Line, rest: str) -> bool:
    """Add an inner exception line (`` ---> Class: message``) to the open record."""
    record = sessions.record
    if record is None or HEADER_RE.search(rest) is None and _sentence(rest) is None:
        return False
    record.text += " ---> " + rest.strip()
    record.key = _inner_message(rest)  # the innermost message separates this failure from the next
    _describe_inner(record, rest)
    sessions.attach(line)
    return True


def _inner_message(text: str) -> str:
    header = HEADER_RE.search(text)
    return (header.group("msg") if header else text).strip()


def _read_details(record: Record, text: str) -> None:
    endpoint = _errors.find_endpoint(text)
    call = CONNECT_CALL_RE.search(text)
    if call:
        endpoint = {"host": call.group("host"), "port": int(call.group("port"))}
    hint = PORT_HINT_RE.search(text)
    if hint and "port" not in endpoint:
        endpoint["port"] = int(hint.group("port"))
    for name, value in endpoint.items():
        record.attrs.setdefault(name, value)


def _enhanced(text: str) -> str | None:
    from .. import replycodes as rc

    return rc.find_enhanced(text[:24])


def _class_from_enhanced(code: int, quoted: str) -> int:
    """Return 450 for "Mailbox unavailable." when the quoted reply is transient (4.x.x)."""
    enhanced = _enhanced(quoted)
    if code == 550 and enhanced is not None and enhanced.startswith("4."):
        return 450
    return code

"""Sessions for senders that print errors only, with no SMTP transcript.

Go's net/smtp, .NET, Ruby, PHP mailers and structured application logs print
one error per failed attempt, often twice: once through a logging wrapper and
once raw, or as a message followed by its stack trace.  Each format module
turns a line into a :class:`Record` (one printed error) or a detail of the
record before it (a stack frame that names the SMTP step).  This module
groups records into sessions, one per attempt, and yields their events.

Two records are the same attempt when one contains the other's key text (the
most specific part of the error, such as ``dial tcp 1.2.3.4:587: i/o
timeout``), no other error came between them, and their timestamps, when
both have one, are at most :data:`SAME_ERROR_SECONDS` apart.  Two whole
exception prints (class, message and inner exceptions) are the same attempt
only when their keys are equal.  The same text
printed twice with the same kind of envelope (both bare, or both with a
timestamp) is two attempts: that is what a retry loop prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import replycodes as rc
from ..labels import Stage
from ..records import NOTE, Event, Line, SessionEnd
from .base import ParseContext

# A wrapper and the raw error are printed in the same instant; a retry is not.
SAME_ERROR_SECONDS = 2.0
# Lines between a message and the last line that still belongs to it
# (a .NET or PHP stack trace runs to a few dozen frames).
MAX_RECORD_LINES = 80

# Strength of the evidence for a record's stage: a frame or the command text
# beats the exception class, which beats a guess from the reply.
GUESSED, NAMED, SHOWN = 1, 2, 3

HOST_PORT_RE = re.compile(r"(?<![\w.-])\[?((?:\d{1,3}\.){3}\d{1,3}|[0-9a-f:]*:[0-9a-f:]+|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\]?:(\d{2,5})\b")
IP_RE = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}$|^[0-9a-f:]*:[0-9a-f:]+$", re.IGNORECASE)
REPLY_IN_TEXT_RE = re.compile(r"(?<![\d.])([2-5]\d\d)[ -]((?:[245]\.\d{1,3}\.\d{1,3})?.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class StageHint:
    """A row of :data:`REPLY_STAGE_HINTS`: a reply that shows the step that drew it."""

    stage: Stage
    pattern: str
    codes: frozenset[int] | None = None
    regex: re.Pattern = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern, re.IGNORECASE))


# Which step a failing reply most likely answered, for logs that print the
# reply without the command.  Tried in order; the first match wins.
REPLY_STAGE_HINTS: tuple[StageHint, ...] = (
    # Gmail names the command it rejects: "421 4.7.0 Try again later, closing connection. (MAIL)".
    StageHint(Stage.MAIL_FROM, r"\(MAIL\)"),
    StageHint(Stage.RCPT_TO, r"\(RCPT\)"),
    StageHint(Stage.EHLO, r"\(EHLO\)"),
    # "530 5.7.0 Must issue a STARTTLS command first" comes at MAIL FROM
    # (or AUTH, which a client without TLS usually does not try).
    StageHint(Stage.MAIL_FROM, r"starttls|\b5\.7\.57\b|not authenticated|authentication required", frozenset({530, 550, 553, 554})),
    StageHint(Stage.AUTH, r".", frozenset({334, 432, 534, 535, 538})),
    StageHint(Stage.AUTH, r"\b5\.7\.(?:8|9|14|139|3)\b|username and password|authentication (?:unsuccessful|failed)"),
    StageHint(Stage.MAIL_FROM, r"\b5\.1\.[78]\b|\b5\.7\.60\b|sender address rejected|send as|envelope sender|"
              r"sender (?:is )?not (?:allowed|authori[sz]ed|permitted)"),
    StageHint(Stage.RCPT_TO, r"\b[45]\.1\.(?:1|2|3|6|10)\b|\b[45]\.2\.[12]\b|recipient|user unknown|mailbox unavailable|no such user|relay"),
    StageHint(Stage.DATA, r"\b5\.3\.4\b|\b5\.2\.3\b|\b5\.6\.\d+\b|message (?:size|too (?:big|large))|spam|content", frozenset({552, 554, 550})),
    StageHint(Stage.DATA, r".", frozenset({552})),
    # A server that is closing or busy usually replies 421 as soon as the client connects.
    StageHint(Stage.GREETING, r".", frozenset({421})),
)


def guess_stage(code: int | None, text: str) -> Stage | None:
    """Return the step a failing reply most likely answered, or ``None``.

    Without a reply code (a client that prints only the reply's text) only
    the rows that need no code apply.
    """
    for hint in REPLY_STAGE_HINTS:
        if hint.codes is not None and code not in hint.codes:
            continue
        if hint.regex.search(text):
            return hint.stage
    return None


def find_reply(text: str) -> tuple[int, str | None] | None:
    """Return ``(code, enhanced)`` of the first SMTP reply quoted in ``text``, or ``None``.

    Only codes 4xx and 5xx followed by a space or hyphen count, so port
    numbers and byte counts are not taken for replies.
    """
    for match in REPLY_IN_TEXT_RE.finditer(text):
        code = int(match.group(1))
        if code >= 400:
            return code, rc.find_enhanced(match.group(2)[:16])
    return None


def find_endpoint(text: str) -> dict[str, Any]:
    """Return ``host`` or ``ip``, and ``port``, from the first ``host:port`` in ``text``."""
    match = HOST_PORT_RE.search(text)
    if not match:
        return {}
    name, port = match.group(1), int(match.group(2))
    if ":" in name and not re.search(r"[0-9a-f]:[0-9a-f]*:", name, re.IGNORECASE):
        return {}
    key = "ip" if IP_RE.match(name) else "host"
    return {key: name, "port": port}


@dataclass(slots=True)
class Record:
    """One printed error, with what the reader learnt from it.

    ``key`` is the most specific part of the text, used to recognise the same
    error printed again.  ``before`` contains evidence lines printed ahead of the error (the frames of
    a Python traceback).  ``reply`` is the server's reply the error quotes,
    when the reader can cut it out.  The session's error text is then the
    reply, so that the client's own words ("Mailbox unavailable.") do not
    decide the cause, and the whole line is kept as a note.  ``exception``
    marks a whole exception print, as opposed to a logger's sentence that
    quotes one.
    """

    line: Line
    text: str
    key: str = ""
    stage: Stage | None = None
    weight: int = 0
    code: int | None = None
    enhanced: str | None = None
    connected: bool = False
    attrs: dict[str, Any] = field(default_factory=dict)
    before: list[Line] = field(default_factory=list)
    reply: str | None = None
    exception: bool = False

    def __post_init__(self) -> None:
        self.key = (self.key or self.text).strip()
        if self.code is not None and self.enhanced is None:
            self.enhanced = rc.find_enhanced(self.text)

    def set_stage(self, stage: Stage | None, weight: int) -> None:
        """Record ``stage`` unless a stage from stronger evidence is already known."""
        if stage is not None and weight > self.weight:
            self.stage, self.weight = stage, weight


@dataclass(slots=True)
class _Open:
    key: int
    primary: Record
    records: list[Record]
    notes: list[Line] = field(default_factory=list)
    last_line: int = 0


def same_error(first: Record, second: Record) -> bool:
    """Return whether two records are one error printed twice."""
    if first.code is not None and second.code is not None and first.code != second.code:
        return False
    if first.line.ts is not None and second.line.ts is not None:
        if abs((second.line.ts - first.line.ts).total_seconds()) > SAME_ERROR_SECONDS:
            return False
    if first.text == second.text and (first.line.ts is None) == (second.line.ts is None):
        return False
    a, b = first.key.lower(), second.key.lower()
    if first.exception and second.exception and a != b:
        # Two whole exception prints with different innermost messages: "Failure sending
        # mail." over a socket timeout, then over an unknown host, is two failures.
        return False
    return bool(a and b) and (a in second.text.lower() or b in first.text.lower())


class ErrorSessions:
    """Group records into sessions and yield each session's events when it closes.

    A new record joins the open session when :func:`same_error` finds that
    it repeats one of the session's records.  Otherwise the open session is
    closed and the record starts the next one.
    """

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.current: _Open | None = None
        self.count = 0

    @property
    def record(self) -> Record | None:
        """The main record of the open session, if one is open."""
        return self.current.primary if self.current is not None else None

    def add(self, record: Record) -> Iterator[Event | SessionEnd]:
        """Add one printed error: to the open session if it repeats it, else to a new one."""
        current = self.current
        if current is not None and record.line.number - current.last_line <= MAX_RECORD_LINES:
            if any(same_error(old, record) for old in current.records):
                self._merge(current, record)
                return
        yield from self.close()
        self.count += 1
        self.current = _Open(self.count, record, [record], last_line=record.line.number)

    def attach(self, line: Line, *, stage: Stage | None = None, weight: int = SHOWN, evidence: bool = True,
               **attrs: Any) -> bool:
        """Add a detail line (a frame, a continuation) to the open session.

        Returns ``False`` when no session is open or the line is too far from
        it, so the caller can count the line itself.  A line that shows
        nothing new (``evidence=False`` and no stage) is counted as noise.
        """
        current = self.current
        if current is None or line.number - current.last_line > MAX_RECORD_LINES:
            return False
        current.last_line = line.number
        current.primary.set_stage(stage, weight)
        for name, value in attrs.items():
            if value is not None:
                current.primary.attrs.setdefault(name, value)
        if evidence or stage is not None:
            current.notes.append(line)
        else:
            self.ctx.noise(line)
        return True

    def close(self) -> Iterator[Event | SessionEnd]:
        """Yield the events of the open session, if any, and close it."""
        current = self.current
        if current is None:
            return
        self.current = None
        primary = current.primary
        error_line = primary.line
        for line in sorted({ln.number: ln for ln in self._lines(current)}.values(), key=lambda ln: ln.number):
            if line is error_line:
                if primary.reply is not None:
                    yield self.ctx.local(line, NOTE, primary.text, current.key)
                yield self._error_event(current)
            else:
                yield self.ctx.local(line, NOTE, line.text, current.key)
        yield SessionEnd(current.key)

    def _lines(self, current: _Open) -> Iterable[Line]:
        for record in current.records:
            yield from record.before
            yield record.line
        yield from current.notes

    def _merge(self, current: _Open, record: Record) -> None:
        current.records.append(record)
        current.last_line = record.line.number
        primary = current.primary
        quotes_reply = record.code is not None and primary.code is None
        if quotes_reply or (record.exception and not primary.exception and primary.code is None):
            # The record that quotes the server's reply, or else the whole exception
            # print rather than a logger's sentence, carries the most evidence.
            record.set_stage(primary.stage, primary.weight)
            record.attrs = {**primary.attrs, **record.attrs}
            record.connected = record.connected or primary.connected
            current.primary = record
            return
        primary.set_stage(record.stage, record.weight)
        primary.connected = primary.connected or record.connected
        primary.enhanced = primary.enhanced or record.enhanced
        for name, value in record.attrs.items():
            primary.attrs.setdefault(name, value)

    def _error_event(self, current: _Open) -> Event:
        primary = current.primary
        attrs = dict(primary.attrs)
        if primary.connected:
            attrs["connected"] = True
        stage = primary.stage.value if primary.stage is not None else None
        text = primary.text
        if primary.reply is not None:
            reply = primary.reply.strip()
            code = str(primary.code) if primary.code is not None else ""
            text = reply if reply.startswith(code) else f"{code} {reply}".strip()
        return self.ctx.error(primary.line, text, current.key, stage=stage, code=primary.code,
                              enhanced=primary.enhanced, **attrs)


def run(lines: Iterable[Line], ctx: ParseContext,
        read: Callable[[Line, ErrorSessions], Iterable[Event | SessionEnd] | None],
        finish: Callable[[ErrorSessions], Iterable[Event | SessionEnd]] | None = None) -> Iterator[Event | SessionEnd]:
    """Drive a format's line reader over a file and close the last session.

    ``read`` handles one line: it adds records or details to the sessions
    and counts the lines it cannot use, and may yield events.  ``finish``,
    if given, runs after the last line (for a reader that keeps a line back).
    """
    sessions = ErrorSessions(ctx)
    for line in lines:
        produced = read(line, sessions)
        if produced is not None:
            yield from produced
    if finish is not None:
        yield from finish(sessions)
    yield from sessions.close()


# Lines that container tooling prints around an application's own output.
DOCKER_NOISE_RE = re.compile(
    r"^(?:[\w.-]+: Pulling from \S+|[0-9a-f]{12}: (?:Pulling fs layer|Waiting|Verifying Checksum|Download complete|"
    r"Pull complete|Already exists|Downloading|Extracting)|Digest: sha256:[0-9a-f]+|Status: (?:Image is up to date|"
    r"Downloaded newer image) for \S+|Unable to find image .* locally|Using default tag: \S+|"
    r"(?:Creating|Starting|Stopping|Removing|Attaching to|Recreating) \S+|\S+ exited with code \d+)"
)


def is_tool_noise(text: str) -> bool:
    """Return whether a line is container tooling output around the application's log."""
    return DOCKER_NOISE_RE.match(text.strip()) is not None


# Words of a log record about sending mail, and words of a failure.  An application's own record with
# both may report an SMTP failure in words that no reader reads, so it stays unrecognised and gets a warning.
MAIL_WORDS_RE = re.compile(r"smtp|mail|\bmx\b|starttls|\brcpt\b|recipient|sender|\b[45]\d\d[ -][245]\.\d", re.IGNORECASE)
FAILURE_WORDS_RE = re.compile(r"error|fail|refused|timed? ?out|reject|denied|invalid|unable|could ?n[o']t|cannot|can't"
                              r"|exception|bounce|defer|unreachable|reset by|\b[45]\d\d[ -]", re.IGNORECASE)


# A structured logger's JSON object with a time or level field: zap, Sidekiq, Monolog's JsonFormatter.
JSON_RECORD_RE = re.compile(r'^\s*\{.*"(?:ts|time|timestamp|@timestamp|datetime|level|lvl|severity|level_name)"\s*:')


def is_app_record(line: Line, layout: re.Pattern | None = None) -> bool:
    """Return whether a line is one of the application's own log records that reports no SMTP failure.

    Such a record has a time from its envelope (a logger's date, syslog,
    Docker), is a structured logger's JSON object, or matches ``layout``,
    a format's pattern for its framework's levelled lines that carry no
    date.  A record that names mail and a failure is not one: the reader
    could not read it, so it is unrecognised.
    """
    text = line.text
    if line.ts is None and (layout is None or layout.match(text) is None) and JSON_RECORD_RE.match(text) is None:
        return False
    return not (MAIL_WORDS_RE.search(text) and FAILURE_WORDS_RE.search(text))

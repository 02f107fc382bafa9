"""msmtp: its log file (``logfile``/``syslog`` lines) and its messages on stderr.

Notes
-----
With ``logfile`` set, msmtp writes one line per run: ``host=H tls=on auth=on
user=U from=F recipients=R,S mailsize=N smtpstatus=250 smtpmsg='...'
exitcode=EX_OK``, or ``errormsg='...'`` when it failed.  Values with spaces
are quoted with single quotes.  The line names no port and no stage; the
stage comes from the wording of ``errormsg`` (``cannot connect to``,
``authentication failed``, ``recipient address ... not accepted``...) and the
reply in ``smtpmsg``.  The user name is kept as ``identity``; msmtp never logs
the password.

The log file's own time stamp (``Dec 04 21:00:01`` before ``host=``) has no
year.  It is read as a syslog time is: the year comes from a date in the file
name or else from the file's modification time.  A syslog envelope's time,
when there is one, comes first.  NOTE: a stamp in another form, set with
msmtp's ``logfile_time_format``, is not read.

On stderr msmtp prints the failed step (``msmtp: cannot connect to H, port
P: <error>``, ``msmtp: authentication failed (method PLAIN)``, ``msmtp:
envelope from address A not accepted by the server``), then the server's
reply with one ``msmtp: server message: <reply line>`` per line of it, and
finally ``msmtp: could not send mail (account ...)``, which ends the run (one
session).  A reply printed before the message that names its step is read too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ..labels import Stage, TlsMode
from ..records import CONNECT, Event, Line, SessionEnd
from ..envelope import EnvelopeOptions, syslog_time
from . import _mta
from .base import ParseContext, hit_score

NAME = "msmtp"
DESCRIPTION = "msmtp log file lines (host= tls= auth= ... exitcode=) and msmtp stderr messages"
CLIENT = "msmtp"
PRIORITY = 20

FIELD_RE = re.compile(r"(\w+)=('(?:[^']|'\\'')*'|\S*)")
LOGFILE_RE = re.compile(r"\bhost=\S+ .*\bexitcode=\w+")
DETECT_SIGNS = (LOGFILE_RE, "msmtp: ")
# The stamp that starts a log file line ("Dec 04 21:00:01"), in the group layout that envelope.syslog_time reads.
LOGFILE_TIME_RE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +(\d{1,2}) (\d\d):(\d\d):(\d\d)()\s")
STDERR_RE = re.compile(r"^msmtp: (.*)$")
CONNECT_RE = re.compile(r"cannot connect to (\S+?), port (\d+): (.*)$")
LOCATE_RE = re.compile(r"cannot locate host (\S+?): (.*)$")
# msmtp's error messages (src/smtp.c, src/net.c) and the stage each one names.
ERROR_STAGES: tuple[tuple[str, Stage], ...] = (
    ("cannot locate host", Stage.DNS),
    ("cannot connect to", Stage.CONNECT),
    ("network is unreachable", Stage.CONNECT),
    ("cannot get initial ok message", Stage.GREETING),
    ("tls certificate", Stage.TLS),
    ("tls handshake", Stage.TLS),
    ("cannot read from tls", Stage.TLS),
    ("does not support tls", Stage.STARTTLS),
    ("starttls", Stage.STARTTLS),
    ("does not support authentication", Stage.AUTH),
    ("authentication method", Stage.AUTH),
    ("authentication failed", Stage.AUTH),
    ("envelope from address", Stage.MAIL_FROM),
    ("recipient address", Stage.RCPT_TO),
    ("did not accept the mail", Stage.DATA),
    ("command ehlo failed", Stage.EHLO),
    ("command helo failed", Stage.EHLO),
    ("network read error", Stage.GREETING),
    ("timeout", Stage.GREETING),
)


def detect(sample: list[str]) -> float:
    """Score how much of the sample reads as msmtp log or stderr lines."""
    hits = sum(1 for text in sample if LOGFILE_RE.search(text) or text.startswith("msmtp: "))
    return hit_score(hits, sample)


def _fields(text: str) -> dict[str, str]:
    return {name: value[1:-1] if value.startswith("'") else value for name, value in FIELD_RE.findall(text)}


def _stage(error: str) -> Stage | None:
    lowered = error.lower()
    for phrase, stage in ERROR_STAGES:
        if phrase in lowered:
            return stage
    return None


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn msmtp log and stderr lines into one session per msmtp run."""
    run: _Run | None = None
    for line in lines:
        text = line.text
        if LOGFILE_RE.search(text):
            if run is not None:
                yield from run.finish(ctx)
                run = None
            yield from _logfile_line(line, text, ctx).finish()
            continue
        match = STDERR_RE.match(text)
        if match is None:
            ctx.noise(line)
            continue
        message = match.group(1)
        if message.startswith("could not send mail"):
            ctx.noise(line)  # the summary that ends a failed run
            if run is not None:
                yield from run.finish(ctx)
                run = None
            continue
        run = run or _Run()
        _stderr_message(line, message, run, ctx)
    if run is not None:
        yield from run.finish(ctx)


class _Run:
    """One msmtp run read from stderr: its attempt, and a failed step waiting for the reply that follows it."""

    def __init__(self) -> None:
        self.attempt = _mta.Attempt(_mta.new_key())
        self.step: tuple[Line, str, Stage] | None = None  # the message that named the step, not yet recorded
        self.reply: list[str] = []  # the lines of the server's reply, from its "server message:" lines
        self.reply_line: Line | None = None

    def add_reply(self, line: Line, text: str) -> None:
        """Keep one line of the server's reply."""
        if not self.reply:
            self.reply_line = line
        self.reply.append(text.strip())

    def record_step(self, ctx: ParseContext) -> None:
        """Record the failed step, with the reply quoted before or after it, if any."""
        if self.step is None:
            return
        line, message, stage = self.step
        self.step = None
        if self.reply:
            _mta.add_reply_failure(ctx, self.reply_line or line, self.attempt, " ".join(self.reply), stage)
            self.reply = []
        self.attempt.add(ctx.error(line, message, self.attempt.key, stage=stage.value,
                                   connected=stage not in (Stage.DNS, Stage.CONNECT)))

    def finish(self, ctx: ParseContext) -> Iterator[Event | SessionEnd]:
        """Yield the run's events once it is over."""
        self.record_step(ctx)
        yield from self.attempt.finish()


def _logfile_line(line: Line, text: str, ctx: ParseContext) -> _mta.Attempt:
    stamp = LOGFILE_TIME_RE.match(text) if line.ts is None else None
    if stamp is not None:
        line.ts = syslog_time(stamp, ctx.envelope or EnvelopeOptions(tz=ctx.options.tz), line.number)
    fields = _fields(text)
    attempt = _mta.Attempt(_mta.new_key(), host=fields.get("host"))
    recipients = [r for r in fields.get("recipients", "").split(",") if r]
    attrs = {"tls_mode": TlsMode.STARTTLS if fields.get("tls") == "on" else TlsMode.NONE}
    if fields.get("user"):
        attrs["identity"] = fields["user"]
    # msmtp writes the lines of a multi-line reply joined by a literal "\n"; Postfix joins them by a space.
    error = _one_line(fields.get("errormsg"))
    status = fields.get("smtpstatus")
    reply = _one_line(fields.get("smtpmsg"))
    stage = _stage(error or "") if error else None
    if stage in (Stage.DNS, Stage.CONNECT):
        attempt.add(ctx.local(line, CONNECT, text, attempt.key, host=fields.get("host"), **attrs))
        attempt.add(ctx.error(line, error, attempt.key, stage=stage.value))
    else:
        attempt.add(ctx.local(line, "connected", text, attempt.key, host=fields.get("host"), **attrs))
        if error or (status and not status.startswith("2")):
            failure_text = reply or error or ""
            _mta.add_reply_failure(ctx, line, attempt, failure_text, stage or Stage.DATA)
            if error and reply:
                attempt.add(ctx.error(line, error, attempt.key, stage=(stage or Stage.DATA).value, connected=True))
        else:
            _mta.add_sent(ctx, line, attempt, reply or "sent")
    attempt.recipients = len(recipients)
    return attempt


def _one_line(value: str | None) -> str | None:
    """Return a logged field with each escaped line break (``\\n`` between reply lines) replaced by a space."""
    return value.replace("\\n", " ") if value else value


def _stderr_message(line: Line, message: str, run: _Run, ctx: ParseContext) -> None:
    attempt = run.attempt
    match = CONNECT_RE.search(message)
    if match:
        host, port, error = match.groups()
        attempt.add(ctx.local(line, CONNECT, message, attempt.key, host=host, port=int(port)))
        attempt.add(ctx.error(line, message, attempt.key, stage=Stage.CONNECT.value))
        return
    match = LOCATE_RE.search(message)
    if match:
        attempt.add(ctx.local(line, CONNECT, message, attempt.key, host=match.group(1)))
        attempt.add(ctx.error(line, message, attempt.key, stage=Stage.DNS.value))
        return
    if message.startswith("server message: "):
        # One line per line of the reply.  It usually follows the message that names the failed
        # step, which waits in run.step until the reply is complete.
        run.add_reply(line, message[len("server message: "):])
        return
    stage = _stage(message)
    if stage is None:
        _mta.add_note(ctx, line, attempt, message)
        return
    run.record_step(ctx)  # an earlier step of the same run, with its reply
    run.step = (line, message, stage)
    if run.reply:
        run.record_step(ctx)  # the reply came first, so it belongs to this step

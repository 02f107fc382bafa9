"""Structured application logs: one JSON object per line with SMTP fields.

Notes
-----
Applications that log through zap, pino, winston, structlog, Serilog's JSON
formatter or logrus' JSON formatter write one object per line.  Field names
differ by library and by application, so each fact is looked up under the
names in :data:`FIELDS`, compared in lower case.  Objects nested one level
deep, such as ``{"smtp": {"host": ...}}``, are read as ``smtp.host``.  Values of
other fields are ignored, and credentials are never read: a field named
``password`` or ``token`` is not in the table.

A line with a ``command`` and a reply ``code`` (nodemailer's error object
logged whole: ``"command": "AUTH PLAIN", "responseCode": 535``) becomes the
command and the reply, so the session builder finds the step as in a
transcript.  A line with only an error text gets its step and reply from
the readers of the error-only formats (Go, .NET, Ruby, Symfony, Python
exceptions), since applications log those errors' texts.  A line reporting
a sent message (a 2xx reply, or a message such as "sent" or "delivered")
closes its session as a success.

Lines that share an identifier (``session``, ``messageId``, ``request_id``
and the others under ``session`` in :data:`FIELDS`) form one session;
``attempt`` or ``retry`` fields, when present, split them.  Lines without
one form a session per failure, the same failure logged twice (a wrapper
and its cause) counting once, and informational lines before it
("connecting to smtp.x:587") lend it their server and port.  Fields under
``labels`` (``worker``, ``network``, ...) are kept as columns of the row.
Lines that are not JSON objects count as unrecognised, or as noise when
they are container tooling output.  A file whose messages are transcript
lines (``S: 250 OK``, as nodemailer logs through pino) scores low, so that
a transcript format claims it.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from .. import replycodes as rc
from ..envelope import parse_timestamp
from ..labels import Stage
from ..records import NOTE, SENT, Event, Line, SessionEnd
from ..sessions import VERB_STAGES
from . import _errors, _python, dotnet, go, ruby, symfony
from ._errors import Record, same_error
from .base import ParseContext

NAME = "jsonlines"
DESCRIPTION = "JSON-lines application logs with SMTP fields (zap, pino, winston, structlog, Serilog)"
CLIENT = None

# The names each fact is read from, in order of preference (compared in lower case).
FIELDS: dict[str, tuple[str, ...]] = {
    "time": ("timestamp", "time", "ts", "@timestamp", "datetime", "date", "@t", "t"),
    "level": ("level", "severity", "lvl", "levelname", "log.level", "@l"),
    "message": ("msg", "message", "event", "@m", "@mt", "text"),
    "error": ("error", "err", "error.message", "err.message", "exception", "@x", "error_message", "errormessage",
              "exc_info", "reason", "failure"),
    "host": ("smtp_host", "smtphost", "smtp.host", "mail_host", "mailhost", "smtp_server", "smtpserver", "host",
             "server", "relay", "mx", "remote_host", "err.host", "error.host"),
    "ip": ("ip", "remote_ip", "remote_addr", "peer", "address", "err.address", "error.address"),
    "port": ("port", "smtp_port", "smtpport", "smtp.port", "err.port", "error.port"),
    "code": ("response_code", "responsecode", "reply_code", "smtp_code", "smtpcode", "status_code", "code",
             "err.responsecode", "error.responsecode", "err.code", "error.code"),
    "response": ("response", "reply", "smtp_response", "server_response", "last_response", "err.response",
                 "error.response"),
    "command": ("command", "smtp_command", "cmd", "err.command", "error.command"),
    "stage": ("stage", "step", "phase", "smtp_stage"),
    "session": ("session", "session_id", "sessionid", "connection_id", "connectionid", "conn_id", "request_id",
                "requestid", "req_id", "reqid", "trace_id", "traceid", "correlation_id", "correlationid", "job_id",
                "jobid", "message_id", "messageid", "msgid"),
    "attempt": ("attempt", "retry", "try", "attempt_number"),
    "identity": ("identity", "smtp_user", "smtpuser", "auth_user", "username", "user"),
    "tls": ("tls_mode", "tls", "secure", "starttls"),
}
# Fields kept as extra columns of the session row.
LABELS = ("worker", "network", "env", "environment", "region", "zone", "queue", "provider", "tenant", "pod", "node",
          "service", "app", "instance", "pool")

STAGE_WORDS: dict[str, Stage] = {
    **{stage.value: stage for stage in Stage},
    "resolve": Stage.DNS, "lookup": Stage.DNS, "connection": Stage.CONNECT, "ssl": Stage.TLS,
    "handshake": Stage.TLS, "banner": Stage.GREETING, "helo": Stage.EHLO, "login": Stage.AUTH,
    "authentication": Stage.AUTH, "mail": Stage.MAIL_FROM, "sender": Stage.MAIL_FROM, "rcpt": Stage.RCPT_TO,
    "recipient": Stage.RCPT_TO, "message": Stage.DATA, "body": Stage.DATA,
}
SENT_RE = re.compile(r"\b(?:message |mail |email )?(?:sent|delivered|accepted for delivery|queued as)\b", re.IGNORECASE)
# Words, and numbers: pino's and bunyan's 50 and 60, Monolog's 400 (error) to 600 (emergency).
FAILED_LEVELS = frozenset({"error", "err", "fatal", "critical", "crit", "alert", "emerg", "emergency", "panic", "dpanic",
                           "50", "60", "400", "500", "550", "600"})
SMTP_KEYS = frozenset(name for key in ("host", "port", "code", "response", "command", "error") for name in FIELDS[key])
# A message that is one line of an SMTP transcript: "S: 250 OK", "[Jx8a] C: EHLO host", "<- 220 ...".
TRANSCRIPT_RE = re.compile(r"^(?:\[[\w-]+\] )?(?:[SC]: |<- |-> |<<< |>>> )")
MAX_OPEN_SESSIONS = 10_000
# Informational lines without an identifier kept for the failure that may follow them.
MAX_PENDING_LINES = 5
ERROR_READERS = (go.read_error, dotnet.read_error, ruby.read_error, symfony.read_error)


DETECT_SIGNS = ("{",)  # only a line that starts with "{" is read as a JSON object


def detect(sample: list[str]) -> float:
    """Score the share of JSON objects in the sample, when they have SMTP fields."""
    objects = [record for record in (_load(text) for text in sample) if record is not None]
    if not objects:
        return 0.0
    smtp = sum(1 for record in objects if SMTP_KEYS & record.keys() or _mentions_smtp(record))
    if not smtp:
        return 0.0
    transcript = sum(1 for record in objects if TRANSCRIPT_RE.match(_text(_field(record, "message")) or ""))
    if transcript * 4 >= len(objects):
        return 0.25  # a transcript logged as JSON (nodemailer through pino): a transcript format reads it better
    return min(1.0, 0.3 + 0.6 * len(objects) / len(sample) + 0.3 * smtp / len(objects))


def _mentions_smtp(record: dict[str, Any]) -> bool:
    return any(isinstance(value, str) and re.search(r"\bsmtp\b|\bmail\b", value, re.IGNORECASE)
               for value in record.values())


def _load(text: str) -> dict[str, Any] | None:
    """Return the line's JSON object, flattened one level (``{"a": {"b": 1}}`` gives ``a.b``)."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    flat: dict[str, Any] = {}
    for key, item in value.items():
        key = str(key).lower()
        if isinstance(item, dict):
            for inner, inner_value in item.items():
                flat.setdefault(f"{key}.{str(inner).lower()}", inner_value)
                flat.setdefault(str(inner).lower(), inner_value)
        flat[key] = item
    return flat


def _field(record: dict[str, Any], name: str) -> Any:
    for key in FIELDS[name]:
        value = record.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn JSON log lines into sessions: one per identifier, else one per failure."""
    reader = _Reader(ctx)
    for line in lines:
        record = _load(line.text)
        if record is None:
            if _errors.is_tool_noise(line.text):
                ctx.noise(line)
            else:
                ctx.unrecognised(line)
            continue
        yield from reader.read(line, record)
    yield from reader.finish()


class _Reader:
    """Session bookkeeping across lines."""

    def __init__(self, ctx: ParseContext) -> None:
        self.ctx = ctx
        self.open_ids: OrderedDict[Any, None] = OrderedDict()
        self.anonymous = 0
        self.anonymous_key: tuple[str, int] | None = None
        self.last: Record | None = None
        self.pending: list[tuple[Line, dict[str, Any]]] = []

    def read(self, line: Line, record: dict[str, Any]) -> Iterator[Event | SessionEnd]:
        _set_time(line, record, self.ctx)
        facts = _facts(record)
        if not facts["smtp"]:
            self.ctx.noise(line)
            return
        key = _session_key(facts)
        if key is not None:
            yield from self._keyed(line, facts, key)
        else:
            yield from self._anonymous(line, facts)

    def finish(self) -> Iterator[Event | SessionEnd]:
        for line, _ in self.pending:
            self.ctx.noise(line)  # an attempt the log shows neither failing nor succeeding
        self.pending = []
        return iter(())

    def _hold(self, line: Line, facts: dict[str, Any]) -> None:
        """Keep an informational line for the next failure, dropping older lines it contradicts."""
        attrs = _attrs(facts)
        kept = []
        for earlier, info in self.pending:
            other = _attrs(info)
            if any(name in other and other[name] != value for name, value in attrs.items() if name != "labels"):
                self.ctx.noise(earlier)  # an earlier attempt's server, not the next one's
            else:
                kept.append((earlier, info))
        kept.append((line, facts))
        while len(kept) > MAX_PENDING_LINES:
            self.ctx.noise(kept.pop(0)[0])
        self.pending = kept

    def _keyed(self, line: Line, facts: dict[str, Any], key: Any) -> Iterator[Event | SessionEnd]:
        self.open_ids[key] = None
        self.open_ids.move_to_end(key)
        yield from _events(line, facts, key, self.ctx)
        while len(self.open_ids) > MAX_OPEN_SESSIONS:
            oldest, _ = self.open_ids.popitem(last=False)
            yield SessionEnd(oldest)

    def _anonymous(self, line: Line, facts: dict[str, Any]) -> Iterator[Event | SessionEnd]:
        if facts["kind"] == "info":
            self._hold(line, facts)
            return
        # The most specific part of the error (the Go dial error inside a wrapper's message)
        # recognises the same failure logged twice.
        found = _read_error_text(line, facts["error"] or facts["text"]) if facts["kind"] == "error" else None
        key = found.key if found is not None else facts["key"]
        current = Record(line, facts["text"], key, code=facts["code"])
        if self.last is not None and facts["kind"] == "error" and same_error(self.last, current):
            yield self.ctx.local(line, NOTE, facts["text"], self.anonymous_key)  # the same failure logged again
            return
        if self.anonymous_key is not None:
            yield SessionEnd(self.anonymous_key)
        self.anonymous += 1
        self.anonymous_key = ("line", self.anonymous)
        for earlier, info in self.pending:
            yield self.ctx.local(earlier, NOTE, info["text"], self.anonymous_key, **_attrs(info))
        self.pending = []
        yield from _events(line, facts, self.anonymous_key, self.ctx)
        self.last = current if facts["kind"] == "error" else None


def _set_time(line: Line, record: dict[str, Any], ctx: ParseContext) -> None:
    if line.ts is not None:
        return
    value = _field(record, "time")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        line.ts = datetime.fromtimestamp(seconds, timezone.utc)
    elif isinstance(value, str):
        line.ts = parse_timestamp(value.replace("Z", "+00:00"), ctx.options.tz)


def _facts(record: dict[str, Any]) -> dict[str, Any]:
    """Read every fact of one JSON line into a plain dict."""
    message = _text(_field(record, "message"))
    error = _text(_field(record, "error"))
    response = _text(_field(record, "response"))
    command = _text(_field(record, "command"))
    code = _reply_code(_field(record, "code"), response)
    error_code = _field(record, "code") if isinstance(_field(record, "code"), str) and code is None else None
    parts = [part for part in (message, error, response) if part]
    text = ": ".join(_dedupe(parts + ([f"[{error_code}]"] if error_code else [])))
    level = str(_field(record, "level") or "").lower()

    facts: dict[str, Any] = {
        "text": text, "key": error or response or message, "command": command, "code": code,
        "response": response, "error": error, "stage": _stage(_field(record, "stage")),
        "session": _field(record, "session"), "attempt": _field(record, "attempt"),
        "host": _text(_field(record, "host")), "ip": _text(_field(record, "ip")),
        "port": _port(_field(record, "port")), "identity": _text(_field(record, "identity")),
        "tls": _text(_field(record, "tls")),
        "labels": {name: record[name] for name in LABELS if isinstance(record.get(name), (str, int, float))},
    }
    facts["smtp"] = bool(SMTP_KEYS & record.keys() or _mentions_smtp(record))
    failed = (code is not None and code >= 400) or bool(error) or level in FAILED_LEVELS
    if failed and text:
        facts["kind"] = "error"
    elif (code is not None and code < 400 and command) or SENT_RE.search(message or ""):
        facts["kind"] = "sent"
    else:
        facts["kind"] = "info"
    return facts


def _dedupe(parts: list[str]) -> list[str]:
    kept: list[str] = []
    for part in parts:
        if not any(part in other for other in kept):
            kept = [other for other in kept if other not in part] + [part]
    return kept


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("message") or value.get("msg")  # its other fields are read one by one
        if value is None:
            return None
    if isinstance(value, list):
        value = " ".join(str(item) for item in value)
    return str(value).strip() or None


def _reply_code(value: Any, response: str | None) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 200 <= value < 600:
        return int(value)
    if isinstance(value, str) and value.isdigit() and 200 <= int(value) < 600:
        return int(value)
    if response:
        parts = rc.split_reply(response.strip().split("\n")[0])
        if parts is not None:
            return parts[0]
    return None


def _port(value: Any) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _stage(value: Any) -> Stage | None:
    if not isinstance(value, str):
        return None
    return STAGE_WORDS.get(value.strip().lower().replace("-", "_").replace(" ", "_"))


def _session_key(facts: dict[str, Any]) -> Any:
    if facts["session"] is None:
        return None
    return ("id", str(facts["session"]), str(facts["attempt"]) if facts["attempt"] is not None else None)


def _attrs(facts: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    host, ip = facts["host"], facts["ip"]
    if host and _errors.IP_RE.match(host):
        host, ip = None, ip or host
    for name, value in (("host", host), ("ip", ip), ("port", facts["port"]), ("identity", facts["identity"])):
        if value is not None:
            attrs[name] = value
    tls = (facts["tls"] or "").lower()
    if tls in ("implicit", "ssl", "smtps", "true"):
        attrs["tls_mode"] = "implicit"
    elif tls in ("starttls", "none"):
        attrs["tls_mode"] = tls
    if facts["labels"]:
        attrs["labels"] = facts["labels"]
    return attrs


def _events(line: Line, facts: dict[str, Any], key: Any, ctx: ParseContext) -> Iterator[Event]:
    """Yield the events of one JSON line in session ``key``."""
    attrs = _attrs(facts)
    kind = facts["kind"]
    if facts["command"] and facts["code"] is not None:
        # The command and the reply it drew, as a transcript would show them.  Loggers drop
        # the AUTH payload, so a reply to AUTH is not taken for a mechanism rejected unseen.
        yield ctx.client(line, facts["command"], key, initial_response=True, **attrs)
        reply = (facts["response"] or str(facts["code"])).split("\n")[0]
        if not reply.startswith(str(facts["code"])):
            reply = f"{facts['code']} {reply}"
        # The field contains the whole reply, so its first line is read as the final one.
        reply = re.sub(r"^(\d{3})-", r"\1 ", reply)
        server = ctx.server(line, reply, key)
        if server is not None:
            yield server
            if kind == "sent":
                yield ctx.local(line, SENT, facts["text"], key)
            return
    if kind == "sent":
        yield ctx.local(line, SENT, facts["text"], key, **attrs)
        return
    if kind == "info":
        yield ctx.local(line, NOTE, facts["text"], key, **attrs)
        return
    yield _error_event(line, facts, key, attrs, ctx)


def _error_event(line: Line, facts: dict[str, Any], key: Any, attrs: dict[str, Any], ctx: ParseContext) -> Event:
    """Return the error event of a failure line, its step read from the error text where the fields lack it."""
    found = _read_error_text(line, facts["error"] or facts["text"])
    stage = facts["stage"] or _command_stage(facts["command"])
    code = facts["code"]
    connected = False
    if found is not None:
        stage = stage or found.stage
        code = code if code is not None else found.code
        connected = found.connected
        for name, value in found.attrs.items():
            attrs.setdefault(name, value)
    if code is not None and stage is None:
        stage = _errors.guess_stage(code, facts["response"] or facts["text"])
    if connected or code is not None:
        attrs["connected"] = True
    return ctx.error(line, facts["text"], key, stage=stage.value if stage else None, code=code, **attrs)


def _command_stage(command: str | None) -> Stage | None:
    if not command:
        return None
    verb = command.split()[0].upper()
    return VERB_STAGES.get(verb) if verb not in ("RSET", "NOOP") else None


def _read_error_text(line: Line, text: str) -> Record | None:
    """Return what the error-only formats read from an error text, or ``None``."""
    probe = Line(line.number, text, line.ts)
    for read in ERROR_READERS:
        found = read(probe)
        if found is not None:
            return found
    exception = _python.parse_exception(text)
    if exception is not None and (exception["stage"] is not None or exception["code"] is not None):
        record = Record(probe, text, code=exception["code"])
        record.set_stage(exception["stage"] or _errors.guess_stage(exception["code"], exception["reply"] or ""),
                         _errors.NAMED)
        record.connected = exception["code"] is not None
        return record
    return None

"""Sendmail maillog (``sendmail``/``sm-mta`` syslog lines): remote deliveries as sessions.

Notes
-----
Each delivery record is ``QID: to=<r>, ..., delay=HH:MM:SS, xdelay=...,
mailer=esmtp, relay=host. [ip], dsn=4.0.0, stat=Deferred: <reason>``.
Sendmail puts the reason in ``stat=``: ``Deferred: Connection timed out with
H.``, ``Deferred: Connection refused by H.``, ``Deferred: 421 4.7.0 ...``,
``User unknown``, ``Sent (<reply>)``.  It does not log which SMTP command a
reply responded to, so the stage comes from the wording (a connection error is
``connect``, ``Name server: ... host name lookup failure`` is ``dns``) and
otherwise from the DSN code: X.1.x recipient codes are ``rcpt_to``, message
and content codes (X.3.4, X.6.x) are ``data``, and the rest ``mail_from``.
Several ``to=`` lines with one relay in one process are one connection.
``STARTTLS=client, relay=H, ..., verify=FAIL`` notes a TLS handshake on the
way; ``QID: from=<...>`` and the server-side ``ruleset=`` rejections are noise
to the session table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..labels import Stage
from ..records import Event, Line, SessionEnd
from . import _mta
from .base import ParseContext, hit_score

NAME = "sendmail"
# Its session rows carry the queue id of the message an attempt delivered (a queue_id column).
QUEUE_IDS = True
DESCRIPTION = "Sendmail maillog (sendmail, sm-mta): remote deliveries"
CLIENT = "sendmail"
PRIORITY = 20

QID_LINE_RE = re.compile(r"^([0-9A-Za-z]{12,16}): (.*)$")
FIELD_RE = re.compile(r"(\w+)=((?:[^,(]|\([^)]*\))*)(?:, |$)")
RELAY_RE = re.compile(r"^(\S*?)\.? ?(?:\[([^\]]+)\])?(?: \(may be forged\))?$")
SIGNATURE_RE = re.compile(r"^[0-9A-Za-z]{12,16}: (?:to=.*\bstat=|from=.*\bnrcpts=)")
CONNECT_WORDS = ("connection timed out", "connection refused", "network is unreachable", "no route to host",
                 "connection reset")


DETECT_SIGNS = (SIGNATURE_RE,)


def detect(sample: list[str]) -> float:
    """Score how much of the sample reads as Sendmail delivery lines."""
    hits = sum(1 for text in sample if SIGNATURE_RE.search(text))
    return hit_score(hits, sample)


def _fields(text: str) -> dict[str, str]:
    head, found, stat = text.partition(", stat=")
    fields = {name: value.strip() for name, value in FIELD_RE.findall(head)}
    if found:
        fields["stat"] = stat.strip()  # the last field, and free text that may hold commas
    return fields


def _relay(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    match = RELAY_RE.match(value)
    if match is None:
        return value, None
    return match.group(1) or None, match.group(2)


def _stage(stat: str, dsn: str | None) -> Stage:
    lowered = stat.lower()
    if any(word in lowered for word in CONNECT_WORDS):
        return Stage.CONNECT
    if "name server" in lowered or "host unknown" in lowered or "host name lookup" in lowered:
        return Stage.DNS
    if "user unknown" in lowered:
        return Stage.RCPT_TO
    subject = dsn.split(".")[1:2] if dsn else []
    if subject == ["1"]:
        return Stage.RCPT_TO
    if subject == ["6"] or (dsn or "").endswith(".3.4"):
        return Stage.DATA
    # NOTE: Sendmail does not log the command a reply responds to; other
    # replies are counted at MAIL FROM, which may be wrong for some.
    return Stage.MAIL_FROM


@dataclass(slots=True)
class _Process:
    open: _mta.Attempt | None = None
    key: tuple[str, str | None] | None = None


@dataclass(slots=True)
class _State:
    processes: dict[Any, _Process] = field(default_factory=dict)


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn Sendmail delivery records into one session per connection."""
    state = _State()
    for line in lines:
        match = QID_LINE_RE.match(line.text)
        if match is None or not match.group(2).startswith("to="):
            ctx.noise(line)
            continue
        qid, rest = match.groups()
        fields = _fields(rest)
        stat = fields.get("stat", "")
        if fields.get("mailer") in ("local", "prog", "*file*"):
            ctx.noise(line)
            continue
        process = state.processes.setdefault((line.log_host, line.pid), _Process())
        host, ip = _relay(fields.get("relay"))
        key = (qid, fields.get("relay"))
        if process.open is not None and process.key == key:
            process.open.recipients += 1
            continue
        if process.open is not None:
            yield from process.open.finish()
        process.open, process.key = _attempt(ctx, line, qid, stat, fields.get("dsn"), host, ip), key
    for process in state.processes.values():
        if process.open is not None:
            yield from process.open.finish()


def _attempt(ctx: ParseContext, line: Line, qid: str, stat: str, dsn: str | None, host: str | None,
             ip: str | None) -> _mta.Attempt:
    reason = stat.split(":", 1)[1].strip() if stat.startswith("Deferred:") else stat
    if stat.startswith("Sent"):
        attempt = _mta.connected(ctx, line, host, ip, None)
        _mta.add_sent(ctx, line, attempt, stat)
    else:
        stage = _stage(stat, dsn)
        enhanced = dsn if dsn and not dsn.startswith("2") else None
        if stage in (Stage.CONNECT, Stage.DNS):
            attempt = _mta.connect_failure(ctx, line, reason, host, ip, None, stage=stage)
            attempt.set_enhanced(enhanced)
        else:
            attempt = _mta.connected(ctx, line, host, ip, None)
            _mta.add_reply_failure(ctx, line, attempt, reason, stage, enhanced)
    attempt.queue_id = qid
    attempt.recipients = 1
    return attempt


def _seconds(value: str | None) -> float | None:
    """Return Sendmail's ``[days+]HH:MM:SS`` delay in seconds."""
    if not value:
        return None
    days, _, clock = value.rpartition("+")
    try:
        hours, minutes, seconds = (int(part) for part in clock.split(":"))
    except ValueError:
        return None
    return (int(days) if days else 0) * 86400 + hours * 3600 + minutes * 60 + seconds


def records(lines: Iterable[Line], ctx: ParseContext) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``("delivery", row)`` for each ``to=`` record."""
    # NOTE: senders are kept for the whole file, because Sendmail logs no
    # line that marks a queue id as finished.
    senders: dict[str, str] = {}
    for line in lines:
        match = QID_LINE_RE.match(line.text)
        if match is None:
            continue
        qid, rest = match.groups()
        fields = _fields(rest)
        if rest.startswith("from="):
            senders[qid] = fields.get("from", "").strip("<>")
            continue
        if not rest.startswith("to="):
            continue
        stat = fields.get("stat", "")
        if stat.startswith("Sent"):
            status = "sent"
        elif stat.startswith("Deferred"):
            status = "deferred"
        else:
            status = "bounced"
        host, ip = _relay(fields.get("relay"))
        stage = None if status == "sent" else _stage(stat, fields.get("dsn"))
        failure_stage, cause, code = _mta.classify_reason(status, stat, stage, stage not in (Stage.CONNECT, Stage.DNS, None),
                                                          fields.get("dsn"))
        yield "delivery", {
            "line": line.number, "ts": line.ts, "log_host": line.log_host, "queue_id": qid,
            "sender": senders.get(qid), "recipient": fields.get("to", "").strip("<>"), "relay_host": host,
            "relay_ip": ip, "delay": _seconds(fields.get("delay")), "dsn": fields.get("dsn"), "status": status,
            "reason": stat or None, "reply_code": code, "failure_stage": failure_stage, "cause": cause,
            "session": fields.get("mailer") not in ("local", "prog", "*file*"),
        }

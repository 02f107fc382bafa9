"""Records written by ``smtplogkit probe -o FILE.jsonl``, read back as sessions.

Notes
-----
Each line is one JSON object with ``"tool": "smtplogkit-probe"`` and a
``record`` kind: ``step`` (one timed protocol step), ``attempt`` (the end of
one connection attempt) or ``probe`` (the summary of a run).  Every attempt
becomes one session: its connect, TLS and reply steps are replayed as events,
so the session builder times them as it does for any log.  A failed step's
recorded ``cause`` is kept as the session's cause, since the probe saw the
structured error (an errno, an OpenSSL reason, a DNS rcode) that a log line
would only paraphrase.

A DNS step is written once per run, before the attempts.  A failed one is a
session of its own, because there is nothing to connect to.  A successful one
adds nothing to the attempts' rows, so it counts as noise, as do the run
summaries.
The ``network`` label of the run becomes a column.  Transcripts are already
free of credentials; they pass through the usual redaction once more.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from ..labels import Stage
from ..records import CONNECT, CONNECTED, NOTE, TLS_OK, Event, Line, SessionEnd
from .base import ParseContext

NAME = "probe"
DESCRIPTION = "smtplogkit probe records (JSONL): one session per probe attempt"
CLIENT = "smtplogkit-probe"
PRIORITY = 20

TOOL = "smtplogkit-probe"
SIGNATURE = f'"tool": "{TOOL}"'


def detect(sample: list[str]) -> float:
    """Score the share of sample lines that are probe records."""
    if not sample:
        return 0.0
    hits = sum(1 for text in sample if text.startswith("{") and SIGNATURE in text and _record(text) is not None)
    return hits / len(sample)


def _record(text: str) -> dict[str, Any] | None:
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("tool") != TOOL:
        return None
    return record


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn probe records into events, one session per attempt."""
    for line in lines:
        record = _record(line.text)
        if record is None:
            ctx.unrecognised(line)
            continue
        kind = record.get("record")
        if kind == "step":
            yield from _step(line, record, ctx)
        elif kind == "attempt":
            yield SessionEnd(_session(record))
        elif kind == "probe":
            ctx.noise(line)
        else:
            ctx.unrecognised(line)


def _session(record: dict[str, Any]) -> tuple[str, Any, Any]:
    return (str(record.get("probe_id")), record.get("run"), record.get("attempt"))


def _times(record: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    try:
        started = datetime.fromisoformat(record["ts"])
    except (KeyError, TypeError, ValueError):
        return None, None
    ms = record.get("ms")
    ended = started + timedelta(milliseconds=ms) if isinstance(ms, (int, float)) else started
    return started, ended


def _step(line: Line, record: dict[str, Any], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    try:
        stage = Stage(record.get("step"))
    except ValueError:
        ctx.unrecognised(line)
        return
    status = record.get("status")
    session = _session(record)
    started, ended = _times(record)
    if stage is Stage.DNS:
        if status != "failed":
            ctx.noise(line)  # the addresses it found appear as each attempt's ip
            return
        line.ts = started
        yield ctx.error(line, record.get("detail") or "DNS lookup failed", session, stage=stage.value,
                        cause=record.get("cause"), host=record.get("host"), port=record.get("port"),
                        **_labels(record))
        line.ts = ended
        yield SessionEnd(session)
        return

    if stage is Stage.CONNECT:
        line.ts = started
        yield ctx.local(line, CONNECT, f"connect to {record.get('ip')} port {record.get('port')}", session,
                        host=record.get("server_name") or record.get("host"), ip=record.get("ip"),
                        port=record.get("port"), tls_mode=record.get("tls_mode"), **_labels(record))
    yield from _replay(line, record, stage, session, started, ended, ctx)


def _replay(line: Line, record: dict[str, Any], stage: Stage, session: Any, started: datetime | None,
            ended: datetime | None, ctx: ParseContext) -> Iterator[Event]:
    """Yield the events of one step: its transcript, then its outcome."""
    status = record.get("status")
    cause = record.get("cause")
    facts = record.get("facts") or {}
    last_server: Event | None = None
    for side, text in record.get("transcript") or []:
        line.ts = started if side == "C" else ended
        if side == "C":
            attrs = {"identity": facts.get("identity")} if stage is Stage.AUTH and facts.get("identity") else {}
            yield ctx.client(line, text, session, **attrs)
            continue
        event = ctx.server(line, text, session)
        if event is not None:
            last_server = event
            yield event
    line.ts = ended

    if status == "ok":
        if stage is Stage.CONNECT:
            yield ctx.local(line, CONNECTED, record.get("detail") or "connected", session)
        elif stage is Stage.TLS:
            yield ctx.local(line, TLS_OK, record.get("detail") or "TLS established", session)
        return
    if status == "skipped":
        yield ctx.local(line, NOTE, f"{stage.value} skipped: {record.get('detail')}", session)
        return
    if last_server is not None and last_server.code is not None and last_server.code >= 400:
        last_server.attrs["cause"] = cause  # the failing reply carries the failure
        return
    connected = stage not in (Stage.DNS, Stage.CONNECT)
    yield ctx.error(line, record.get("detail") or f"{stage.value} failed", session, stage=stage.value, cause=cause,
                    **({"connected": True} if connected else {}))


def _labels(record: dict[str, Any]) -> dict[str, Any]:
    network = record.get("network")
    return {"labels": {"network": network}} if network else {}

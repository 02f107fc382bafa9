"""Postfix delivery attempts kept as a few fields instead of events until the reader needs them.

The general code of :mod:`smtplogkit.formats.postfix` keeps each attempt's
events (:class:`smtplogkit.formats._mta.Attempt`) and builds its row with
:func:`smtplogkit.sessions.local_row`.  When the reader wants rows, most
attempts never need their events: one that went well is a connection,
perhaps a TLS line and a ``status=sent`` record (:class:`PlainAttempt`),
and one that failed adds a single failure (:class:`PlainAttempt` with
:attr:`PlainAttempt.failure`, or :class:`ConnectFailure`).  Their rows are
built from the fields, and a failure seen before takes its failure columns
from a cache.  Anything else the parser does to such an attempt makes its
events first, the same events the general code would have made, and from
then on it behaves exactly as an :class:`~smtplogkit.formats._mta.Attempt`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from .. import replycodes as rc
from ..labels import Stage, TlsMode
from ..records import CONNECT, CONNECTED, SENT, TLS_OK, Event, Line, PlainSession, SessionEnd, SessionRow
from ..redact import redact_text
from ..sessions import failure_row, local_failure_columns, plain_row
from . import _mta
from .base import ParseContext


class _FieldsFirst:
    """Base of the attempts kept as fields, whose events are made the first time they are needed."""

    __slots__ = ()

    @property
    def events(self) -> list[Event]:
        """The attempt's events, made from its fields the first time they are needed."""
        if self._events is None:
            self.make_events()
        return self._events


class PlainAttempt(_FieldsFirst):
    """A connection attempt that went well so far, kept as a few fields instead of events.

    Most attempts in a relay's log are a TLS line and a ``status=sent``
    record.  The Postfix parser's quick path keeps those as this object, and
    :meth:`finish` yields a :class:`SessionRow` for them when the reader
    wants rows.  Anything else the parser does to it (a note, a failure)
    goes through :attr:`events`, which turns the fields into the events
    :func:`_mta.connected` and :func:`_mta.add_sent` would have made, so from
    then on it behaves exactly as an :class:`_mta.Attempt`.

    When the reader wants rows, the attempt's first failure is kept as the
    arguments of :func:`add_failure_events` (:attr:`failure`) until a row or
    the events are needed, and a failure seen before gives its row without
    events (:meth:`_failure_row`).
    """

    __slots__ = ("key", "line", "host", "ip", "port", "tls_mode", "tls_line", "sent_line", "sent_text", "queue_id",
                 "recipients", "addresses", "sent", "failed", "connected", "reason", "rejected", "rows", "_events",
                 "failure")

    def __init__(self, ctx: ParseContext, line: Line, host: str | None, ip: str | None, port: int | None,
                 tls_mode: TlsMode | None) -> None:
        self.key = _mta.new_key()
        self.line = line
        self.host, self.ip = _mta.shared(host), _mta.shared(ip)
        self.port = port
        self.tls_mode = tls_mode
        self.tls_line = line if tls_mode is not None else None
        self.sent_line: Line | None = None
        self.sent_text = ""
        self.queue_id: str | None = None
        self.recipients = 0
        self.addresses: set[str] = set()
        self.sent = False
        self.failed = False
        self.connected = True
        self.reason: str | None = None
        self.rejected = 0
        self.rows = ctx.rows_wanted
        self._events: list[Event] | None = None
        # (ctx, line, reason, stage, dsn) of a failure not yet made an event.
        self.failure: tuple[ParseContext, Line, str, Stage, str | None] | None = None

    def make_events(self) -> None:
        """Make the attempt's events from its fields, unless they are made already."""
        if self._events is None:
            attrs: dict[str, Any] = {"host": self.host, "ip": self.ip, "port": self.port}
            if self.tls_mode is not None:
                attrs["tls_mode"] = self.tls_mode
            events = [_mta.local_event(self.line, CONNECTED, f"connected to {self.host}[{self.ip}]", self.key, **attrs)]
            if self.tls_line is not None:
                events.append(_mta.local_event(self.tls_line, TLS_OK, self.tls_line.text, self.key))
            if self.sent_line is not None:
                events.append(_mta.local_event(self.sent_line, SENT, self.sent_text, self.key))
            self._events = events
            if self.failure is not None:
                ctx, line, reason, stage, dsn = self.failure
                self.failure = None
                add_failure_events(ctx, line, self, reason, stage, dsn)

    def mark_sent(self, line: Line, text: str) -> None:
        """Record a message accepted over this connection, as :func:`_mta.add_sent` does."""
        if not self.sent:
            self.sent = True
            if self._events is None and self.failure is None:
                self.sent_line, self.sent_text = line, text
            else:
                self.events.append(_mta.local_event(line, SENT, text, self.key))

    def keep_failure(self, ctx: ParseContext, line: Line, reason: str, stage: Stage, dsn: str | None) -> bool:
        """Record the attempt's first failure as :func:`add_failure_events` would, without making its event yet.

        Return False, having changed nothing, when the reader wants events,
        the events are made already, or the attempt failed before.
        """
        if not self.rows or self._events is not None or self.failed:
            return False
        self.failed = True
        self.reason = self.reason or reason
        self.failure = (ctx, line, reason, stage, dsn)
        return True

    def failed_at(self) -> str | None:
        """Return the stage of the attempt's first failure, if it failed."""
        if self.failure is not None:
            return self.failure[3].value
        return _mta.Attempt.failed_at(self)

    def set_enhanced(self, enhanced: str | None) -> None:
        """Give the attempt's failure the DSN code that the delivery record reports, if it has none."""
        failure = self.failure
        if failure is None:
            _mta.Attempt.set_enhanced(self, enhanced)
        elif enhanced is not None and failure_enhanced(failure[2], failure[3], failure[4]) is None:
            self.failure = (*failure[:4], enhanced)

    def finish(self) -> Iterator[Event | SessionEnd | SessionRow | PlainSession]:
        """Yield the attempt's record or row, or else its events and the marker that ends its session."""
        if self._events is None and self.rows and self.failure is not None:
            yield SessionRow(self._failure_row())
            return
        if self._events is None and self.rows:
            line, tls, sent = self.line, self.tls_line, self.sent_line
            tls_at = tls.ts if tls is not None else None
            sent_at = sent.ts if sent is not None else None
            tls_mode = str(self.tls_mode) if self.tls_mode is not None else None
            if line.ts is not None and (tls is None or tls_at is not None) and (sent is None or sent_at is not None):
                yield PlainSession(line.number, line.ts, tls_at, sent_at, self.host, self.ip, self.port, tls_mode,
                                   line.log_host, line.container, self.queue_id, self.recipients)
                return
            yield SessionRow(self.row())
            return
        yield from _mta.Attempt.finish(self)

    def row(self) -> dict[str, Any]:
        """Return the session row the attempt's events would give."""
        line = self.line
        attrs: dict[str, Any] = {"host": self.host, "ip": self.ip, "port": self.port, "tls_mode": self.tls_mode,
                                 "log_host": line.log_host, "container": line.container, "queue_id": self.queue_id,
                                 "recipients": self.recipients or None}
        stamps = [(Stage.CONNECT, line.ts)]
        if self.tls_line is not None:
            stamps.append((Stage.TLS, self.tls_line.ts))
        if self.sent_line is not None:
            stamps.append((Stage.DATA, self.sent_line.ts))
        return plain_row(line.number, attrs, stamps, 1 if self.sent_line is not None else 0)

    def _failure_row(self) -> dict[str, Any]:
        """Return the row :func:`sessions.local_row` gives the attempt's events, without making them.

        The failure columns depend only on the key below, so an attempt whose
        failure was seen before reuses the columns computed then.
        """
        _, failure_line, reason, stage, dsn = self.failure
        tls, sent = self.tls_line, self.sent_line
        # The TLS mode is set exactly when a TLS line started the attempt.
        key = (reason, stage, dsn, self.port, self.tls_mode, sent is not None)
        columns = _FAILURE_COLUMNS.get(key)
        if columns is None:
            passed = {Stage.CONNECT}
            if tls is not None:
                passed.add(Stage.TLS)
            if sent is not None:
                passed.add(Stage.DATA)
            columns = _failure_columns(reason, stage, dsn, True, passed, 1 if sent is not None else 0,
                                       self.tls_mode, self.port)
            _keep_columns(_FAILURE_COLUMNS, key, columns)
        line = self.line
        attrs = {"host": self.host, "ip": self.ip, "port": self.port, "tls_mode": self.tls_mode,
                 "log_host": _first_set(line.log_host, tls, sent, failure_line, "log_host"),
                 "container": _first_set(line.container, tls, sent, failure_line, "container"),
                 "queue_id": self.queue_id, "recipients": self.recipients or None,
                 "recipients_rejected": self.rejected or None}
        stamps: list[tuple[Stage | None, datetime | None]] = [(Stage.CONNECT, line.ts)]
        if tls is not None:
            stamps.append((Stage.TLS, tls.ts))
        if sent is not None:
            stamps.append((Stage.DATA, sent.ts))
        stamps.append((None, failure_line.ts))
        return failure_row(line.number, attrs, stamps, 1 if sent is not None else 0, columns)

    add = _mta.Attempt.add
    annotate = _mta.Attempt.annotate


class ConnectFailure(_FieldsFirst):
    """A connection attempt that failed before any SMTP reply, kept as a few fields instead of events.

    Used when the reader wants rows, in place of
    :func:`_mta.connect_failure`.  :attr:`events` makes the events that
    function makes, with the DSN code a delivery record gave, and anything
    that adds an event goes through them, so from then on it behaves
    exactly as an :class:`_mta.Attempt`.  :meth:`finish` builds the row from
    the fields when the same failure was seen before.
    """

    __slots__ = ("key", "ctx", "line", "host", "ip", "port", "stage", "enhanced", "queue_id", "recipients",
                 "addresses", "sent", "failed", "connected", "reason", "rejected", "rows", "_events")

    def __init__(self, ctx: ParseContext, line: Line, text: str, host: str | None, ip: str | None, port: int | None,
                 stage: Stage = Stage.CONNECT) -> None:
        self.key = _mta.new_key()
        self.ctx = ctx
        self.line = line
        self.host, self.ip = _mta.shared(host), _mta.shared(ip)
        self.port = port
        self.stage = stage
        self.enhanced: str | None = None
        self.queue_id: str | None = None
        self.recipients = 0
        self.addresses: set[str] = set()
        self.sent = False
        self.failed = True
        self.connected = False
        self.reason = text
        self.rejected = 0
        self.rows = ctx.rows_wanted
        self._events: list[Event] | None = None

    def make_events(self) -> None:
        """Make the attempt's events from its fields, unless they are made already."""
        if self._events is None:
            line, text = self.line, self.reason
            self._events = [
                _mta.local_event(line, CONNECT, text, self.key, host=self.host, ip=self.ip, port=self.port),
                self.ctx.error(line, text, self.key, stage=self.stage.value, enhanced=self.enhanced),
            ]

    def failed_at(self) -> str | None:
        """Return the stage of the attempt's first failure."""
        if self._events is None:
            return self.stage.value
        return _mta.Attempt.failed_at(self)

    def set_enhanced(self, enhanced: str | None) -> None:
        """Give the attempt's failure the DSN code that the delivery record reports, if it has none."""
        if self._events is not None:
            _mta.Attempt.set_enhanced(self, enhanced)
        elif self.enhanced is None:
            self.enhanced = enhanced

    def finish(self) -> Iterator[Event | SessionEnd | SessionRow]:
        """Yield the attempt's row, or else its events and the marker that ends its session."""
        if self._events is None and self.rows:
            key = (self.reason, self.stage, self.enhanced, self.port)
            columns = _CONNECT_FAILURE_COLUMNS.get(key)
            if columns is None:
                columns = _failure_columns(self.reason, self.stage, self.enhanced, False, set(), 0, None, self.port)
                _keep_columns(_CONNECT_FAILURE_COLUMNS, key, columns)
            line = self.line
            attrs = {"host": self.host, "ip": self.ip, "port": self.port, "log_host": line.log_host,
                     "container": line.container, "queue_id": self.queue_id,
                     "recipients": self.recipients or None, "recipients_rejected": self.rejected or None}
            yield SessionRow(failure_row(line.number, attrs, [(None, line.ts)], 0, columns))
            return
        yield from _mta.Attempt.finish(self)

    add = _mta.Attempt.add
    annotate = _mta.Attempt.annotate


# The failure columns of the failed attempts seen, by the keys PlainAttempt._failure_row and
# ConnectFailure.finish make.  A maillog repeats its failures, but a reason can name a recipient, so the
# number kept is bounded.
_FAILURE_COLUMNS: dict[tuple, dict[str, Any]] = {}
_CONNECT_FAILURE_COLUMNS: dict[tuple, dict[str, Any]] = {}
MAX_FAILURES_KEPT = 16384


def _keep_columns(cache: dict[tuple, dict[str, Any]], key: tuple, columns: dict[str, Any]) -> None:
    """Store failure columns in ``cache`` under ``key``, first emptying the cache when it is full."""
    if len(cache) >= MAX_FAILURES_KEPT:
        cache.clear()
    cache[key] = columns


def _failure_columns(reason: str, stage: Stage, dsn: str | None, connected: bool, passed: set[Stage],
                     messages_sent: int, tls_mode: TlsMode | None, port: int | None) -> dict[str, Any]:
    """Return the failure columns of an attempt whose only error is the one :func:`add_failure_events` adds.

    A :class:`ConnectFailure`'s error is the same as that of a CONNECT or DNS failure there.
    """
    if stage in (Stage.CONNECT, Stage.DNS, Stage.TLS):
        code = None
    else:
        code = _mta.reply_in(reason)[0]
    enhanced = failure_enhanced(reason, stage, dsn)
    return local_failure_columns(stage, redact_text(reason), code, enhanced, connected, passed, messages_sent,
                                 tls_mode, port)


def _first_set(value: Any, tls: Line | None, sent: Line | None, failure: Line, name: str) -> Any:
    """Return ``value``, or else the first of the later lines' ``name`` fields that is set, as local_row merges attrs."""
    if value is not None:
        return value
    for line in (tls, sent, failure):
        if line is not None and getattr(line, name) is not None:
            return getattr(line, name)
    return None


def add_failure_events(ctx: ParseContext, line: Line, attempt: _mta.Attempt, reason: str, stage: Stage,
                        dsn: str | None) -> None:
    """Add the error event of a failure that the attempt did not have yet."""
    if type(attempt) is PlainAttempt or type(attempt) is ConnectFailure:
        # Made before the lines below change the reason, which a ConnectFailure's events are made from.
        attempt.make_events()
    if stage in (Stage.CONNECT, Stage.DNS):
        attempt.failed = True
        attempt.reason = reason
        attempt.add(ctx.error(line, reason, attempt.key, stage=stage.value, enhanced=dsn))
        return
    if stage is Stage.TLS:
        attempt.failed = True
        attempt.reason = reason
        attempt.add(ctx.error(line, reason, attempt.key, stage=stage.value, enhanced=dsn, connected=True))
        return
    _mta.add_reply_failure(ctx, line, attempt, reason, stage, dsn)


def failure_enhanced(reason: str, stage: Stage, dsn: str | None) -> str | None:
    """Return the enhanced code :func:`add_failure_events` gives the error event of this failure."""
    if stage in (Stage.CONNECT, Stage.DNS, Stage.TLS):
        return dsn
    code, quoted = _mta.reply_in(reason)
    enhanced = quoted or dsn
    if code is not None and enhanced is None:
        enhanced = rc.find_enhanced(reason)  # as ParseContext.error does
    return enhanced

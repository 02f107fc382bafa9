"""The two record types every format parser deals in.

A :class:`Line` is one input line after its envelope (syslog, journald,
Kubernetes, Docker, Python logging prefixes) has been taken off.  An
:class:`Event` is one fact a parser reads from it: a command the client sent,
a reply the server gave, or a local fact such as a connection attempt or an
exception.  The session builder turns the events of one session into a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

CLIENT = "client"
SERVER = "server"
LOCAL = "local"

# Kinds of local events, stored in ``Event.verb``.
CONNECT = "connect"  # attempt to open TCP; attrs may carry host, ip, port, tls_mode
CONNECTED = "connected"  # TCP connection established
TLS_OK = "tls_ok"  # TLS handshake finished (implicit, or after STARTTLS)
ERROR = "error"  # an error the client printed; attrs may carry stage and code
NOTE = "note"  # anything else worth keeping in the transcript
SENT = "sent"  # the client reports a message accepted (no transcript of it)


@dataclass(slots=True)
class Line:
    """One input line with its envelope removed.

    ``number`` is 1-based in the file as read (after decompression).
    ``ts`` is the envelope's timestamp, if any, already timezone-aware.
    ``program`` and ``pid`` come from a syslog or journald envelope.
    """

    number: int
    text: str
    ts: datetime | None = None
    log_host: str | None = None
    container: str | None = None
    program: str | None = None
    pid: str | None = None


@dataclass(slots=True)
class Event:
    """One fact read from a log, already free of credentials.

    ``session`` is a key the parser chooses; events with the same key in one
    file form one session.  ``verb`` is the SMTP command for client events
    (``"EHLO"``, ``"MAIL"``, ...) and the local event kind for local events.
    ``attrs`` carries what the line states about the session: ``host``,
    ``ip``, ``port``, ``tls_mode``, ``client``, ``stage`` (for errors whose
    stage the format knows), ``mechanism``, ``identity`` and similar.
    ``labels`` is a dict of extra columns the line gives (``{"worker": "w1"}``).
    """

    line: int
    direction: str
    text: str
    session: Any = 0
    ts: datetime | None = None
    verb: str | None = None
    code: int | None = None
    enhanced: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SessionEnd:
    """Marker a parser yields when a session can have no more events.

    The reader then builds the session's row at once and frees its events,
    so memory grows with the sessions in flight, not with the file.  A
    parser whose sessions follow one another need not yield it: with
    ``SESSIONS_IN_ORDER`` in its module, each of its sessions ends at the
    first event of the next (see :func:`smtplogkit.formats.base.parse_items`).
    Every session still open at the end of the file is built then.
    """

    session: Any


@dataclass(slots=True)
class SessionRow:
    """A finished session's row, which a parser built itself instead of yielding its events.

    Parsers may yield it only when :attr:`ParseContext.rows_wanted
    <smtplogkit.formats.base.ParseContext.rows_wanted>` is true (the reader
    keeps no events).  ``row`` contains the columns :func:`smtplogkit.sessions.build_session`
    returns; the reader adds the file's columns as for any other session.
    """

    row: dict[str, Any]


class PlainSession(NamedTuple):
    """A connection attempt that had no failure, as the few fields its row needs.

    MTA readers yield it in place of a :class:`SessionRow` when
    :attr:`ParseContext.rows_wanted <smtplogkit.formats.base.ParseContext.rows_wanted>`
    is true and the attempt was a connection, optionally TLS, and optionally
    accepted messages, with a timestamp for each.  The reader turns many of
    them into columns at once (:mod:`smtplogkit.plainrows`).
    """

    line: int
    connected_at: datetime
    tls_at: datetime | None
    sent_at: datetime | None
    host: str | None
    ip: str | None
    port: int | None
    tls_mode: str | None
    log_host: str | None
    container: str | None
    queue_id: str | None
    recipients: int


class PlainBatch(list):
    """Several :class:`PlainSession` records at once, which saves the reader a step per session.

    A parser that ends many attempts without failure (the Postfix reader's
    raw lines) yields them in batches, under the same conditions as
    :class:`PlainSession`.
    """

    __slots__ = ()

"""Python ``smtplib`` debug output (``set_debuglevel(1)`` and ``(2)``), with tracebacks.

Notes
-----
smtplib prints to stderr: ``connect: to ('host', 587) None`` when a plain
connection opens, ``connect: ('host', 465)`` for ``SMTP_SSL``, then
``send: '...'`` with the repr of each command and ``reply: b'...'`` for each
reply line, followed by a ``reply: retcode (250); Msg: b'...'`` summary that
repeats them (counted as noise).  ``SMTP_SSL`` prints both connect lines,
``connect: ('host', 465)`` then ``connect: to ('host', 465) None``; they
open one session.  Debug level 2 prefixes each line with the
time of day only (``21:12:03.123456``); the date comes from the envelope, the
``date`` option, the last dated line of the application's own logging, or
the file name, and the day rolls over at midnight.  A line with an envelope
takes the envelope's time, often whole seconds, because tracebacks and
other lines around the transcript carry only that one.

The message body is sent as one ``send: b'...'`` line; it is kept as a short
placeholder, not as text.  A traceback after the transcript belongs to the
session it ends; a traceback with no transcript is a session of its own, and
so is each later traceback unless it is chained to the one before ("The
above exception was the direct cause ...").  Tracebacks are read by
:class:`smtplogkit.formats._python.TracebackReader`, shared with the
``django`` and ``aiosmtplib`` formats.
Lines of the application's own logging (``2026-03-02 08:00:00,123 INFO
agent.mail: token refreshed``) interleave with the transcript; once the
envelope has removed their timestamp and level, they become notes outside
any session.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from typing import Any
from datetime import datetime, time, timedelta

from ..labels import Stage, TlsMode
from ..records import CONNECT, Event, Line, SessionRow
from . import _python
from ..sessions import finish_row, walk_events
from ._templates import (MASKED_PARTS, Masked, RowTemplate, SessionGroups, TailContext, TailTemplate, as_lines,
                         count_noise, make_tail_template, make_template, number_of, text_of, without_address)
from ..envelope import EnvelopeOptions
from ..envelope import strip_envelope as _strip_envelope
from ..inputs import RawBlock, block_array
from .base import ParseContext, compiled

NAME = "smtplib"
DESCRIPTION = "Python smtplib debug output (debuglevel 1 and 2) and smtplib tracebacks"
CLIENT = "python-smtplib"
PRIORITY = 10
# Sessions follow one another; one ends when the next begins (see base.parse_items).
SESSIONS_IN_ORDER = True
# Appended to the reader's warning about a file whose sessions have no time at all.
NO_TIME_HINT = ("smtplib prints no time at debug level 1 or in a traceback, and set_debuglevel(2) puts the time of "
                "day in front of every debug line")
# The prefilter flags debug lines with a time of day, which have no envelope; the reader then hands
# them over raw, as (number, text) tuples.
RAW_LINES = True

DEBUG_RE = re.compile(r"^(?:(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? )?(send|reply|connect|connect fail|data):\s?(.*)$")
CONNECT_TO_RE = re.compile(r"^to \('([^']*)', (\d+)\)")
CONNECT_SSL_RE = re.compile(r"^\('([^']*)', (\d+)\)$")
SMTPLIB_TRACE_RE = re.compile(r"(?<!aio)smtplib(?:\.py|\.SMTP|\.\w*Error|\.\w*Refused|\.\w*Disconnected)|File .*smtplib|^SMTP\w+(?:Error|Refused|Disconnected):")
SIGNATURE_RE = re.compile(r"(?:^|\s)(?:send: [b]?['\"]|reply: b['\"]|reply: retcode \(|connect: to \()")


DETECT_SIGNS = (SIGNATURE_RE, SMTPLIB_TRACE_RE, "Traceback (most recent call last)")


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like smtplib debug output or tracebacks.

    A transcript scores at least 0.3.  Tracebacks alone score 0.4 (through
    smtplib) or 0.2 (of unknown origin), so that the ``django`` and
    ``aiosmtplib`` formats, which score 0.6 and more on their own signs,
    claim the tracebacks of those libraries.
    """
    hits = sum(1 for text in sample if SIGNATURE_RE.search(text))
    if hits:
        return min(1.0, hits / max(len(sample), 1) * 2 + 0.3)
    if any(SMTPLIB_TRACE_RE.search(text) for text in sample):
        return 0.4
    if any(text.startswith("Traceback (most recent call last)") for text in sample):
        return 0.2  # a Python traceback of unknown origin: smtplib's reader knows them best
    return 0.0


def strip_envelope(number: int, text: str, options: EnvelopeOptions) -> Line:
    """Return the :class:`Line` for one raw line, as :func:`smtplogkit.envelope.strip_envelope` does.

    A line that opens with a digit and has a colon third (``08:00:00.1 ...``)
    can carry no envelope: every envelope pattern that starts with a digit
    needs four of them, and a compose service name cannot hold a colon.
    The exception is a viewer's time-of-day column, which a tab ends
    (``19:40:11:013\t08:00:00.1 ...``).
    """
    if text[2:3] == ":" and text[:1].isdigit() and "\t" not in text[5:20]:
        return Line(number, text)
    return _strip_envelope(number, text, options)


# For prefilter: one debug level 2 line, its time of day and its kind, in RE2 syntax.
QUICK_LINE = (r"^(?P<stamp>(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6}) "
              r"(?P<kind>reply: retcode|reply:|send:|data:|connect: b'|connect: b\"|connect fail:|connect:)")
QUICK_KINDS = ("reply: retcode", "reply:", "send:", "data:", "connect: b'", 'connect: b"', "connect fail:", "connect:")
# The table of noise lines that may be left out (row: the line's kind index + 1) after a given line
# (column: that line's kind index + 1, and 0 for a line that is no debug line).  A retcode summary
# needs a reply line before it, because that line opened the session, marked it as replied to and
# reset the SMTP_SSL connect pair.  A data line needs a reply, send or data line before it, for the
# connect pair.  A repeated greeting (``connect: b'...'``) needs any debug line.
_DROPPABLE = [[False] * (len(QUICK_KINDS) + 1) for _ in range(len(QUICK_KINDS) + 1)]
for _kind, _before in (("reply: retcode", ("reply: retcode", "reply:")),
                       ("data:", ("reply: retcode", "reply:", "send:", "data:")),
                       ("connect: b'", QUICK_KINDS), ('connect: b"', QUICK_KINDS)):
    for _previous in _before:
        _DROPPABLE[QUICK_KINDS.index(_kind) + 1][QUICK_KINDS.index(_previous) + 1] = True
PREFILTER_MIN = 64
# The compiled prefilter (see base.compiled), which reads a block's bytes, and the kinds it looks for.
SCAN = compiled("_smtplib_scan")
_KIND_BYTES = tuple(kind.encode() for kind in QUICK_KINDS)
# QUICK_LINE's time of day with the space after it, and where the kind starts.
QUICK_STAMP = r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{6} "
_KIND_START = 16


def prefilter(block: list[str], raw: bool = False) -> tuple[Any, ...]:
    """Return the positions in ``block`` of the lines :func:`parse` must see, and how many others are noise.

    The lines left out are retcode summaries, ``data:`` lines and repeated
    greetings that :func:`parse` would count as noise.  A line is left out
    only where that changes nothing.  The lines on both sides must be debug
    lines with a time of day, and the three times must not go backwards, so
    the day cannot roll over at the line.  The line before must have done
    what the left-out line would (opened the session, marked it as replied
    to, reset the SMTP_SSL connect pair, ended a pending traceback).  A block
    is read at once with pyarrow: one RE2 match for the time of day, then
    each kind's prefix after it, which is what matching QUICK_LINE would
    find (its kinds are tried in order, so an earlier kind wins).  The
    compiled scanner (:data:`SCAN`), when built, reads a block's bytes
    instead and gives the same result, with the kept lines' texts as a
    fourth item.

    With ``raw``, a third item flags each kept debug line with a time of
    day, which :func:`strip_envelope` hands on as it is; the reader then
    hands those to :func:`parse` as ``(number, text)`` tuples.
    """
    data = getattr(block, "data", None)
    if SCAN is not None and data is not None:
        return SCAN.scan(data, len(block), _KIND_BYTES, _DROPPABLE, raw, isinstance(block, RawBlock))
    if len(block) < PREFILTER_MIN:
        return range(len(block)), 0
    import numpy as np
    import pyarrow.compute as pc

    lines = block_array(block)
    codes = np.zeros(len(block), dtype=np.intp)  # 0: not a debug line, else the kind's index + 1
    heads = pc.utf8_slice_codeunits(lines, _KIND_START, _KIND_START + max(map(len, QUICK_KINDS)))
    for index in range(len(QUICK_KINDS) - 1, -1, -1):
        codes[pc.starts_with(heads, QUICK_KINDS[index]).to_numpy(zero_copy_only=False)] = index + 1
    codes[~pc.match_substring_regex(lines, QUICK_STAMP).to_numpy(zero_copy_only=False)] = 0
    stamps = pc.utf8_slice_codeunits(lines, 0, _KIND_START - 1)
    ordered = pc.less_equal(stamps[:-1], stamps[1:]).to_numpy(zero_copy_only=False)  # compared for debug lines only
    drop = np.zeros(len(block), dtype=bool)
    drop[1:-1] = (np.array(_DROPPABLE)[codes[1:-1], codes[:-2]] & (codes[2:] > 0) & ordered[:-1] & ordered[1:])
    kept = np.flatnonzero(~drop)
    if raw:
        return kept.tolist(), len(block) - len(kept), (codes[kept] > 0).tolist()
    return kept.tolist(), len(block) - len(kept)


def _literal(text: str) -> str:
    """Return the string that a ``repr`` of str or bytes printed.

    Escapes are decoded with the codec machinery rather than
    ``ast.literal_eval``, which compiles each line and is twenty times slower.
    """
    text = text.strip()
    is_bytes = text[:1] == "b"
    inner = text[2:-1] if is_bytes else text[1:-1]
    if len(text) < 2 or text[-1:] not in ("'", '"'):
        return text
    if "\\" not in inner:
        return inner
    if inner.endswith("\\r\\n") and "\\" not in inner[:-4] and inner.isascii():
        return inner[:-4] + "\r\n"  # the usual line: plain ASCII ending in CRLF, decoded as the codecs would
    if is_bytes:
        raw = codecs.escape_decode(inner.encode("latin-1", "backslashreplace"))[0]
        return raw.decode("utf-8", "replace")
    return inner.encode("latin-1", "backslashreplace").decode("unicode_escape")


class _State:
    def __init__(self) -> None:
        self.session = 0
        self.opened = False
        self.in_body = False
        self.failed: _python.RaisedException | None = None
        self.tracebacks = _python.TracebackReader()
        self.ssl_connect: tuple[str, str] | None = None
        self.closed = False
        self.sent = False  # the session sent a command
        self.replied = False  # the server replied in this session


def parse(lines: Iterable[Line], ctx: ParseContext, *, quick: bool = True,
          templates: bool = True) -> Iterator[Event | SessionRow]:
    """Turn smtplib debug lines and tracebacks into events.

    Lines of debug level 2's usual shape (``HH:MM:SS.ffffff reply: b'...'``,
    ``send:``, ``data:``) are read on a quick path, with string slices and
    without a ``time`` object.  Every other line, and every line while a
    traceback is pending, is read with DEBUG_RE.  Both then go through the
    same handling.  ``quick=False`` reads every line with DEBUG_RE (for
    tests that compare the two readings).

    When the reader keeps no events (``ctx.rows_wanted``), a quick parse
    yields :class:`SessionRow` records in place of events, and reuses the
    row of a session whose lines repeat an earlier session's
    (:class:`_Segments`).  ``templates=False`` turns that reuse off.
    """
    state = _State()
    if not (quick and ctx.rows_wanted):
        # Raw lines come only to a reader that keeps no events, which takes the quick path.
        yield from _parse_lines(lines if quick else as_lines(lines), ctx, state, quick)
        return
    groups = SessionGroups()
    segments = _Segments(ctx, state, groups, enabled=templates)
    yield from groups.collect(_parse_lines(segments.feed(lines), ctx, state, quick), segments)


def _parse_lines(lines: Iterable[Line], ctx: ParseContext, state: _State, quick: bool) -> Iterator[Event]:
    """Yield the events of ``lines``, each line read as :func:`parse` describes."""
    tracebacks = state.tracebacks
    match_debug = DEBUG_RE.match
    clocks: dict[str, tuple[int, int, int, int] | bool] = {}
    day_clock = ctx.clock
    tz = ctx.options.tz
    seen_day = year = month = mday = None
    server, client, noise = ctx.server, ctx.client, ctx.noise
    quick_kinds = _QUICK_KINDS if quick else {}
    for line in lines:
        text = line.text
        payload = None
        kind = quick_kinds.get(text[15:23])
        if kind is not None and tracebacks.pending_raise is None and "\n" not in text:
            clock = clocks.get(text[:9])
            if clock is None:
                clock = clocks[text[:9]] = _read_clock(text[:9]) or False
            fraction = text[9:15]
            if clock and fraction.isdecimal():
                if line.ts is None:
                    hour, minute, second, whole = clock
                    micro = int(fraction)
                    day = day_clock.day
                    if day is None or day_clock.seen is not None or line.number >= day_clock.turn:
                        line.ts = ctx.time_of_day(None, time(hour, minute, second, micro), line)
                    else:
                        # ParseContext.time_of_day, without making a time object.
                        seconds = whole + micro / 1e6
                        if seconds + 3600 < day_clock.seconds:
                            day = day_clock.day = day + _ONE_DAY
                        day_clock.seconds = seconds
                        if day is not seen_day:
                            seen_day, year, month, mday = day, day.year, day.month, day.day
                        line.ts = datetime(year, month, mday, hour, minute, second, micro, tz)
                payload = text[23:] if kind == "reply" else text[22:]
        if payload is None:
            match = match_debug(text)
            if not match:
                yield from _traceback_items(tracebacks.feed(line), state, ctx)
                continue
            if tracebacks.pending_raise is not None:
                yield from _traceback_items(tracebacks.finish(), state, ctx)
            hour, minute, second, fraction, kind, payload = match.groups()
            if hour is not None:
                try:
                    clock = time(int(hour), int(minute), int(second), int(fraction.ljust(6, "0")) if fraction else 0)
                except ValueError:  # "24:00:00" and the like: a clock no day shows
                    ctx.warn(line, f"invalid time of day {text[:15]!r}, line read without a time")
                else:
                    if line.ts is None:
                        line.ts = ctx.time_of_day(None, clock, line)

        # One debug line, read either way.  Replies, data lines and commands are read here rather than in
        # _debug_line, because they are most of the lines.
        if kind == "reply":
            state.ssl_connect = None
            if not state.opened:
                _new_session(state)
            state.replied = True
            if payload.startswith("retcode"):
                noise(line)  # the summary that repeats the reply lines
                continue
            if payload[:2] == "b'" and payload[-5:] == "\\r\\n'" and payload.count("\\") == 2 and payload.isascii():
                reply = payload[2:-5]  # _literal's usual case; server() drops the CRLF anyway
            else:
                reply = _literal(payload)
            event = server(line, reply, state.session)
            if event is None:
                ctx.unrecognised(line)
                continue
            code = event.code
            if code == 354:
                state.in_body = True
            elif code in (221, 421) and not event.attrs.get("continued"):
                state.closed = True  # the server closes the connection after these replies
            yield event
            continue
        if kind == "data":
            state.ssl_connect = None
            noise(line)  # repeats the reply to DATA or to the end of data
            continue
        if kind != "send":
            yield from _debug_line(line, kind, payload, state, ctx)
            continue
        # A command line: what _starts_connection and _sent do, with one plain command read at once.
        state.ssl_connect = None
        if _starts_connection(state, kind, payload):
            _new_session(state)
        if (payload[:1] == "'" and payload[-5:] == "\\r\\n'" and payload.count("\\") == 2
                and payload.isascii() and not state.in_body):
            command = payload[1:-5]
            if command:
                state.sent = True
                event = client(line, command, state.session)
                if event.verb == "STARTTLS":
                    event.attrs["tls_mode"] = TlsMode.STARTTLS
                elif event.verb == "QUIT":
                    state.closed = True
                yield event
            continue
        yield from _sent(line, payload, state, ctx)
    yield from _traceback_items(tracebacks.finish(), state, ctx)


# The quick path's line kinds, keyed by text[15:23] of "HH:MM:SS.ffffff kind: payload": the
# space after the fraction, the kind, its colon, the space DEBUG_RE's "\s?" takes and the payload's
# first character (or the space before a reply's payload).
_QUICK_KINDS = {" reply: ": "reply", " send: '": "send", " send: b": "send", ' send: "': "send", " data: (": "data"}
_ONE_DAY = timedelta(days=1)


def _read_clock(hms: str) -> tuple[int, int, int, int] | None:
    """Return (hour, minute, second, seconds since midnight) for ``HH:MM:SS.``, or None if it is not one."""
    if len(hms) != 9 or hms[2] != ":" or hms[5] != ":" or hms[8] != ".":
        return None
    hour, minute, second = hms[:2], hms[3:5], hms[6:8]
    if not (hour.isdecimal() and minute.isdecimal() and second.isdecimal()):
        return None
    hour, minute, second = int(hour), int(minute), int(second)
    if hour > 23 or minute > 59 or second > 59:
        return None  # time() would refuse it; the general path warns
    return hour, minute, second, hour * 3600 + minute * 60 + second


def _new_session(state: _State) -> None:
    state.session += 1
    state.opened = True
    state.closed = False
    state.in_body = False
    state.failed = None
    state.sent = False
    state.replied = False


def _starts_connection(state: _State, kind: str, payload: str) -> bool:
    """Return whether a line begins a new connection that printed no ``connect:`` line.

    ``set_debuglevel`` is often called after ``smtplib.SMTP(host)`` has
    connected, so no ``connect:`` line or greeting is printed.  smtplib opens
    every connection with EHLO or HELO, so one sent after QUIT, after a 221 or
    421 reply, or after an exception belongs to the next connection.  So
    does any other command after QUIT or a 221 or 421 reply: smtplib prints
    it and then finds the connection closed ("please run connect() first"),
    which is another attempt, not more of the closed session.  The QUIT a
    ``with`` block sends after a 421 still belongs to the closed one.
    """
    if not state.opened:
        return True
    if kind != "send" or not (state.closed or state.failed is not None):
        return False
    command = payload.lstrip("b'\"").lower()
    if command.startswith(("ehlo", "helo")):
        return True
    return state.closed and not command.startswith("quit") and not state.in_body


def _debug_line(line: Line, kind: str, payload: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    if kind != "connect":
        state.ssl_connect = None
    if kind == "connect":
        target = CONNECT_TO_RE.match(payload)
        ssl_target = CONNECT_SSL_RE.match(payload)
        if target or ssl_target:
            found = target or ssl_target
            if target and state.ssl_connect == (found.group(1), found.group(2)):
                # SMTP_SSL prints "connect: ('h', 465)" and then, from the
                # plain _get_socket it calls, "connect: to ('h', 465) None".
                state.ssl_connect = None
                ctx.noise(line)
                return
            _new_session(state)
            state.ssl_connect = (found.group(1), found.group(2)) if ssl_target else None
            mode = TlsMode.IMPLICIT if ssl_target else TlsMode.NONE
            yield ctx.local(line, CONNECT, line.text, state.session, host=found.group(1), port=int(found.group(2)),
                            tls_mode=mode)
        else:
            ctx.noise(line)  # the greeting repeated after connect() returns
        return
    if kind == "connect fail":
        yield ctx.error(line, f"connect failed: {payload}", state.session, stage=Stage.CONNECT)
        return
    if kind == "data":
        ctx.noise(line)  # repeats the reply to DATA or to the end of data
        return

    # "send": the main loop reads replies and most commands itself.
    if _starts_connection(state, kind, payload):
        _new_session(state)
    yield from _sent(line, payload, state, ctx)


def _sent(line: Line, payload: str, state: _State, ctx: ParseContext) -> Iterator[Event]:
    """Yield the client events of one ``send:`` line: its commands, or the end of the message body."""
    text = _literal(payload)
    if state.in_body:
        state.in_body = False
        yield ctx.client(line, ".", state.session, body_bytes=len(text))
        return
    for command in text.split("\r\n"):
        if command:
            state.sent = True
            event = ctx.client(line, command, state.session)
            if event.verb == "STARTTLS":
                event.attrs["tls_mode"] = TlsMode.STARTTLS
            elif event.verb == "QUIT":
                state.closed = True
            yield event


def _traceback_items(items, state: _State, ctx: ParseContext) -> Iterator[Event]:
    for kind, line, exception in items:
        if kind == "noise":
            ctx.noise(line)
        elif kind == "other" and line.ts is not None:
            yield ctx.note(line)  # the application's own logging between transcripts
        elif kind == "other":
            ctx.unrecognised(line)
        else:
            yield from _exception(line, exception, state, ctx)


def _exception(line: Line, exception: _python.RaisedException, state: _State, ctx: ParseContext) -> Iterator[Event]:
    failed = state.failed
    if failed is not None and exception.from_raise and exception.name == failed.name:
        ctx.noise(line)  # the raise line under a traceback printed after its exception (Sentry's order)
        return
    stage = exception.stage or exception.frame_stage
    if stage is Stage.GREETING and state.sent and not _python.GREETING_FRAMES.intersection(exception.frames):
        # Only getreply was shown (the inner part of a chained traceback), so the
        # reply read was the reply to the last command sent, whose step the session records.
        stage = None
    if (not state.opened or (failed is not None and not exception.chained)
            or (state.replied and stage in (Stage.DNS, Stage.CONNECT))):
        # An exception after another one, not chained to it, is another attempt,
        # and so is a failed connect after the server had replied.
        _new_session(state)
    if stage is Stage.STARTTLS and "SSL" in exception.name:
        stage = Stage.TLS
    attrs = {"connected": True} if stage not in (None, Stage.DNS, Stage.CONNECT) else {}
    state.failed = exception
    yield ctx.error(line, exception.text, state.session, stage=stage.value if stage else None, code=exception.code,
                    **attrs)


# Segments --------------------------------------------------------------------------------------

# text[15:23] of the lines a segment may hold: the quick path's kinds and connect lines.
_SEGMENT_HEADS = frozenset((*_QUICK_KINDS, " connect"))
# The key part of a segment's line that the parser counts as noise whatever its text: a retcode
# summary, a data line, or the greeting repeated after connect() returns (``connect: b'...'``,
# which neither connect pattern matches).  An object, so it equals no line's text.
_NOISE = object()


_PARTS_CACHE_SIZE = 4096


def _reply_part(tail: str) -> Any:
    """Return the key part of a segment's ``reply:`` line, from its text after the time of day.

    A retcode summary gives :data:`_NOISE`.  A reply of the quick path's
    usual shape (``b'...\\r\\n'``, ASCII, no other escape) whose code is
    2xx or 3xx other than 334 gives the
    :class:`~smtplogkit.formats._templates.Masked` part for its code and
    separator.  :class:`~smtplogkit.formats._templates.Masked` decides when a
    template may be stored under such a key.  Any other reply gives its
    text after the time of day.
    """
    payload = tail[8:]
    if payload[:7] == "retcode":
        return _NOISE
    if payload[:2] == "b'":
        part = MASKED_PARTS.get(payload[2:6])
        if part is not None and payload[-5:] == "\\r\\n'" and payload.count("\\") == 2 and payload.isascii():
            return part
    return tail



def _send_part(tail: str) -> str:
    """Return the key part of a ``send: '...'`` line: its text after the time of day, MAIL FROM and RCPT TO addresses left out.

    Each command of the line (pipelining sends several) loses its address
    (see :func:`~smtplogkit.formats._templates.without_address`) when the
    line's only escapes are the ``\\r\\n`` that end its commands.
    """
    payload = tail[8:-1]
    if (tail[:8] != " send: '" or tail[-5:] != "\\r\\n'"
            or payload.count("\\") != 2 * payload.count(_ESCAPED_CRLF)):
        return tail
    commands = payload.split(_ESCAPED_CRLF)
    for index, command in enumerate(commands):
        command = without_address(command)
        if command is not None:
            commands[index] = command
    return " send: '" + _ESCAPED_CRLF.join(commands) + "'"


_ESCAPED_CRLF = "\\r\\n"  # as repr() prints a CRLF


_ABSENT = object()  # an AUTH state the context did not hold


def _tail_start(parts: tuple[Any, ...]) -> int | None:
    """Return the position of a segment's first 4xx or 5xx reply, from its key parts, or None."""
    for index, part in enumerate(parts):
        if type(part) is str and part[:10] in (" reply: b'", ' reply: b"') and part[10:11] in ("4", "5"):
            return index
    return None


def _full_parts(lines: list[Line | tuple[int, str]], parts: tuple[Any, ...]) -> list[Any]:
    """Return ``parts`` with each masked reply's part replaced by the line's text after the time of day."""
    return [text_of(line)[15:] if type(part) is Masked else part for line, part in zip(lines, parts)]


class _Segments:
    """Cut debug level 2 lines into segments, one connection each, and reuse the rows of repeated ones.

    A segment starts at a ``HH:MM:SS.ffffff connect: to (...)`` line that
    opens a new session: no ``SMTP_SSL`` connect line came before it, no
    raise line is held back, and the day is known.  It runs to the line
    before the next such connect line, or to the end of the file.  Every
    line in it must be a quick-path line or a connect line, without an
    envelope, with a time of day no earlier than the line before.  A line of
    any other kind ends the segment, whose lines are then read as usual.

    A segment's key has one part per line (:func:`_reply_part`): the text
    after the time of day, one shared part for the lines that are noise
    whatever their text (retcode summaries, ``data:`` lines, repeated
    greetings), and for a 2xx or 3xx reply (not 334) of the usual shape a
    :class:`~smtplogkit.formats._templates.Masked` part without its text.
    A MAIL FROM or RCPT TO command sent alone gives its text without the
    address (:func:`_send_part`).
    The first segment with a key is read as usual, with no template made,
    because most keys that never repeat belong to failures whose replies
    carry ids.  The second is read through the usual path too, and its row
    becomes the key's :class:`~smtplogkit.formats._templates.RowTemplate`
    if its lines made exactly one session, warned about nothing and left no
    exception or ``SMTP_SSL`` connect pending.  A row with a failure keeps
    its template under the key with every reply text instead, because the
    failure's cause may depend on any of them.  Every segment
    starts from the same parser state (a new session, nothing pending), so
    a later segment with the same key reads to the same events and the same
    parser state, apart from line numbers and times.  Its row is the
    template's, with its own line number and times, and the day rolls over
    as :meth:`ParseContext.time_of_day` would roll it: at the first line
    only, because the times in a segment do not go backwards.

    A failing segment whose key is new may still start like an earlier
    one: its lines before the first 4xx or 5xx reply (its tail) may repeat,
    with every reply text.  The second segment with those lines makes a
    :class:`~smtplogkit.formats._templates.TailTemplate`, and a later one
    reads only its tail (:meth:`_apply_tail`).
    """

    def __init__(self, ctx: ParseContext, state: _State, groups: SessionGroups, *, enabled: bool = True) -> None:
        self.ctx = ctx
        self.state = state
        self.groups = groups
        self.enabled = enabled
        # The events of a segment being read through the usual path, else None.
        self.capture: list[Event] | None = None
        self.clocks: dict[str, tuple[int, int, int, int] | None] = {}
        self.parts: dict[str, Any] = {}  # the key part of each line text after the time of day
        self.scratch: TailContext | None = None  # for reading tails (_apply_tail), its caches kept warm

    def _part(self, tail: str) -> Any:
        """Return the key part of a segment's line from its text after the time of day, and remember it.

        Only the texts of lines that a segment may hold are remembered, so
        :meth:`feed` takes a remembered text as one of them.
        """
        head = tail[:8]
        if head == " reply: ":
            part = _reply_part(tail)
        elif head == " data: (" or (head == " connect" and tail[10:11] == "b"):
            part = _NOISE
        else:
            part = _send_part(tail) if head == " send: '" else tail
        if len(self.parts) >= _PARTS_CACHE_SIZE:
            self.parts.clear()
        self.parts[tail] = part
        return part

    def _clock(self, text: str) -> tuple[int, int, int, int] | None:
        """Return the clock of a ``HH:MM:SS.ffffff`` stamp in ASCII digits, or None."""
        hms = text[:9]
        clock = self.clocks.get(hms, False)
        if clock is False:
            clock = self.clocks[hms] = _read_clock(hms) if hms.isascii() else None
        if clock is None or not text[9:15].isdecimal():
            return None
        return clock

    def _opens(self, undated: bool, text: str) -> bool:
        """Return whether a line with ``text``, and without a time from an envelope if ``undated``, starts a segment."""
        state, clock = self.state, self.ctx.clock
        return (text[15:28] == " connect: to " and undated and "\n" not in text
                and self._clock(text) is not None and state.ssl_connect is None
                and state.tracebacks.pending_raise is None and clock.day is not None and clock.seen is None
                and self.groups.worth_trying)

    def feed(self, lines: Iterable[Line | tuple[int, str]]) -> Iterator[Line]:
        """Yield the lines the usual path must read; keep the others back as segments.

        A line may come raw, as a ``(number, text)`` tuple: a debug line
        with a time of day and no envelope (see :func:`prefilter`).  It
        becomes a :class:`Line` only if the usual path reads it.
        """
        segment: list[Line | tuple[int, str]] | None = None
        parts: list[str] = []
        last = ""
        heads = _SEGMENT_HEADS
        clocks = self.clocks
        known = self.parts
        lines = iter(lines)
        for line in lines:
            if type(line) is tuple:
                text = line[1]
                undated = True
            else:
                text = line.text
                undated = line.ts is None
            if segment is not None:
                # The usual line: a text after the time of day that a segment held before (only
                # eligible ones are remembered), a valid clock seen before, times in order.
                stamp = text[:15]
                part = known.get(text[15:])
                if (part is not None and undated and stamp >= last and clocks.get(stamp[:9])
                        and stamp[9:].isdecimal()):
                    segment.append(line)
                    parts.append(part)
                    last = stamp
                    continue
                head = text[15:23]
                eligible = (head in heads and undated and text[:15] >= last and "\n" not in text
                            and (head != " connect" or text[23:25] == ": ") and text[9:15].isdecimal())
                if eligible:
                    clock = clocks.get(text[:9], False)  # False: not read yet
                    eligible = (self._clock(text) if clock is False else clock) is not None
                if eligible:
                    if text[15:28] != " connect: to ":
                        segment.append(line)
                        tail = text[15:]
                        part = known.get(tail)
                        if part is None:
                            part = self._part(tail)
                        parts.append(part)
                        last = text[:15]
                        continue
                    yield from self._close(segment, tuple(parts))
                else:
                    yield from as_lines(segment)  # read as usual: the line ends the segment
                segment = None
            if text[15:28] == " connect: to " and self.enabled and self._opens(undated, text):
                segment, parts, last = [line], [text[15:]], text[:15]
                continue
            yield Line(*line) if type(line) is tuple else line
            if not (self.enabled and self.groups.worth_trying):
                for line in lines:  # no more segments in this file
                    yield Line(*line) if type(line) is tuple else line
                return
        if segment is not None:
            yield from self._close(segment, tuple(parts))

    def _close(self, segment: list[Line | tuple[int, str]], key: tuple[str, ...]) -> Iterator[Line]:
        """Add the row of a finished segment, from its template or from reading its lines."""
        if number_of(segment[-1]) >= self.ctx.clock.turn:
            # The segment reaches a file of a chain dated by its own name: its lines are dated on the usual path.
            yield from as_lines(segment)
            return
        groups = self.groups
        template, full, new_key = groups.templates.get(key), key, False  # the usual case, without a call
        if template is None:
            template, full, new_key = groups.find(key, lambda: tuple(_full_parts(segment, key)))
        if template is not None:
            groups.hits += 1
            self._apply(template, segment)
            return

        # No template for the whole segment: one for its lines before the first failing line, if any.
        start = _tail_start(key)
        settled, tail_key, split = yield from groups.settle_tail(
            start, lambda: _full_parts(segment[:start], key[:start]),
            lambda template: self._apply_tail(template, segment), segment, new_key)
        if settled:
            return

        segment = list(as_lines(segment))
        ctx, state = self.ctx, self.state
        before = (state.session, ctx.unrecognised_lines, len(ctx.warnings), ctx.undated_lines)
        session = before[0] + 1
        noise: list[int] = []
        events: list[Event] = []
        at_tail = None  # the parser's state at the tail, and the events and noise before it
        self.capture = events
        try:
            for index, line in enumerate(segment):
                if index == split:
                    at_tail = self._tail_state(before), len(events), list(noise)
                count = ctx.noise_lines
                yield line
                if ctx.noise_lines != count:
                    noise.extend([index] * (ctx.noise_lines - count))
        finally:
            self.capture = None

        if (events and state.session == session and (ctx.unrecognised_lines, len(ctx.warnings), ctx.undated_lines)
                == before[1:] and state.failed is None and state.ssl_connect is None
                and state.tracebacks.pending_raise is None and all(event.session == session for event in events)):
            end_state = (state.opened, state.closed, state.in_body, state.sent, state.replied)
            row, template = make_template(segment, events, noise, end_state)
            if full is key:
                full = tuple(_full_parts(segment, key))  # the masked key was new, so full was not needed yet
            groups.add_built(session, row, template, key, full)
            if at_tail is not None and at_tail[0] is not None:
                parser_state, count, noise_before = at_tail
                tail = make_tail_template(segment, events[:count], noise_before, split, parser_state)
                if tail is not None:
                    groups.store(tail_key, tail)
            return
        groups.add_events(events)

    def _tail_state(self, before: tuple) -> tuple | None:
        """Return what a tail template records of the parser's state at a segment's tail, or None if it cannot.

        It can when the segment's lines so far opened exactly one session,
        warned about nothing, and left no exception or ``SMTP_SSL`` connect
        pending.  ``before`` is as in :meth:`_close`.
        """
        state, ctx = self.state, self.ctx
        session = before[0] + 1
        if (state.session != session or (ctx.unrecognised_lines, len(ctx.warnings), ctx.undated_lines) != before[1:]
                or state.failed is not None or state.ssl_connect is not None
                or state.tracebacks.pending_raise is not None):
            return None
        return (state.opened, state.closed, state.in_body, state.sent, state.replied,
                ctx._awaiting_auth.get(session, _ABSENT), ctx._login_user_due.get(session, _ABSENT))

    def _apply_tail(self, tail: TailTemplate, segment: list[Line | tuple[int, str]]) -> bool:
        """Add the row of a segment from a tail template and a reading of its tail; return whether it could.

        The tail is read with a state and a context of its own, set as the
        usual path's would be at the tail, the day and the clock included.
        Only when it reads as the template's tail did (its events all of the
        session, no new session, nothing unrecognised, undated or warned
        about, nothing left pending) do the row, the counts and the state go
        to the file's reading.  Else nothing changed, and the caller reads
        the segment as usual.
        """
        ctx, state = self.ctx, self.state
        session = state.session + 1
        opened, closed, in_body, sent, replied, awaiting, login_due = tail.parser_state
        clock, clocks = ctx.clock, self.clocks
        day = clock.day
        first, last = text_of(segment[0]), text_of(segment[tail.split - 1])
        if clocks[first[:9]][3] + int(first[9:15]) / 1e6 + 3600 < clock.seconds:
            day = day + _ONE_DAY  # as _apply rolls the day over: at the first line only

        scratch = self.scratch
        if scratch is None:
            scratch = self.scratch = TailContext(ctx.source, ctx.options, file_date=ctx.file_date, loud=False)
        scratch.reset()
        scratch.clock.day, scratch.clock.seconds = day, clocks[last[:9]][3] + int(last[9:15]) / 1e6
        if awaiting is not _ABSENT:
            scratch._awaiting_auth[session] = awaiting
        if login_due is not _ABSENT:
            scratch._login_user_due[session] = login_due
        reading = _State()
        reading.session = session
        reading.opened, reading.closed, reading.in_body, reading.sent, reading.replied = (opened, closed, in_body,
                                                                                          sent, replied)
        lines = [Line(*line) if type(line) is tuple else Line(line.number, line.text) for line in segment[tail.split:]]
        events = list(_parse_lines(lines, scratch, reading, True))
        if (reading.session != session or reading.failed is not None or reading.ssl_connect is not None
                or reading.tracebacks.pending_raise is not None or scratch.unrecognised_lines or scratch.warnings
                or scratch.undated_lines or scratch.clock.seen is not None
                or any(event.session != session for event in events)):
            return False

        count_noise(ctx, segment, tail.noise)
        for line in scratch.noise_at:
            ctx.noise(line)
        state.session = session
        state.opened, state.closed, state.in_body, state.sent, state.replied = (
            reading.opened, reading.closed, reading.in_body, reading.sent, reading.replied)
        state.failed = None
        state.ssl_connect = None
        clock.day, clock.seconds = scratch.clock.day, scratch.clock.seconds
        for name in ("_awaiting_auth", "_login_user_due"):
            value = getattr(scratch, name).get(session, _ABSENT)
            if value is not _ABSENT:
                getattr(ctx, name)[session] = value
        year, month, mday = day.year, day.month, day.day
        tz = ctx.options.tz

        def stamp(index: int) -> datetime:
            line = segment[index]
            text = line[1] if type(line) is tuple else line.text
            hour, minute, second, _ = clocks[text[:9]]
            return datetime(year, month, mday, hour, minute, second, int(text[9:15]), tz)

        builder = tail.start(stamp)
        walk_events(builder, events)
        self.groups.add_row(session, finish_row(builder, number_of(segment[tail.line_index])))
        return True

    def _apply(self, template: RowTemplate, segment: list[Line | tuple[int, str]]) -> None:
        """Add the row of a segment that repeats a template's, and leave the state as reading it would."""
        ctx, state = self.ctx, self.state
        state.session += 1
        state.opened, state.closed, state.in_body, state.sent, state.replied = template.end_state
        state.failed = None
        state.ssl_connect = None
        if template.noise:
            count_noise(ctx, segment, template.noise)
        clock = ctx.clock
        day = clock.day
        first, last = text_of(segment[0]), text_of(segment[-1])
        if self.clocks[first[:9]][3] + int(first[9:15]) / 1e6 + 3600 < clock.seconds:
            day = clock.day = day + _ONE_DAY
        clock.seconds = self.clocks[last[:9]][3] + int(last[9:15]) / 1e6
        year, month, mday = day.year, day.month, day.day
        tz = ctx.options.tz
        clocks = self.clocks

        def stamp(index: int) -> datetime:
            line = segment[index]
            text = line[1] if type(line) is tuple else line.text
            hour, minute, second, _ = clocks[text[:9]]
            return datetime(year, month, mday, hour, minute, second, int(text[9:15]), tz)

        def micros(index: int) -> int:
            # Every line of the segment gets the same day and zone from stamp(), so these differ as its times do.
            line = segment[index]
            text = line[1] if type(line) is tuple else line.text
            return clocks[text[:9]][3] * 1_000_000 + int(text[9:15])

        row = template.instantiate_at(number_of(segment[template.line_index]), stamp, micros)
        self.groups.add_row(state.session, row)

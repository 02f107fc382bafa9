"""Read one session's events again from its file, for a transcript that was not kept in memory.

A week of logs has millions of events, and a notebook that keeps them all
may not fit in memory.  ``load_logs(..., events="failed")`` keeps the events
of failed sessions only.  :func:`session_events` gets the events of any
other session when its transcript is wanted.  It reads the session's file
from the line the session starts on, parses with the format the session was
read with, and stops as soon as that session ends.  It starts
:data:`LOOKBACK` lines early, because a session's first line may depend on
the lines before it.  Formats whose sessions never end before the end of
the file (nodemailer: no
:class:`~smtplogkit.records.SessionEnd`, and no ``SESSIONS_IN_ORDER``, see
:func:`smtplogkit.formats.base.parse_items`) are read up to the first line
:data:`SLACK` later than the session's span.  A
log without times is read to the end.

Reading from the middle of a file gives the same lines, directions and texts
as reading the whole file (a test compares both on every fixture).  Times
may differ for logs that print the time of day only: their date came from an
earlier line.
"""

from __future__ import annotations

import itertools
import logging
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from . import formats
from .envelope import WallClock, strip_envelope
from .errors import InputError
from .formats.base import ParseOptions, parse_items
from .inputs import ROTATED_RE, Chain, Decoded, Source, dated_copy, group_rotations, open_blocks
from .reader import (ReadResult, _Counted, _envelope_options, _parse_context, _resolve_tz, as_date,
                     events_frame)
from .records import PlainBatch, PlainSession, SessionEnd, SessionRow
from .rotations import SESSION_ID_RE, locate

logger = logging.getLogger(__name__)

# Lines read before the session's first one, because its first event may depend on a line before it (a
# traceback's first lines, a "SERVER 1:" heading).  Sessions that start in those lines are left out.
LOOKBACK = 1000
# How far past a session's own span a log may go back in time (threads, clock steps).  A parser that
# ends its sessions only at the end of the file is stopped once a line is that much later.
SLACK = timedelta(minutes=10)
# A session that reaches this close to the end of a rotated copy, with no newer file to read on into, may
# have been cut there.  MTA logs interleave other processes' lines after a session's last one.
# NOTE: a guess.  A busy relay may log more lines than this after a session cut by the rotation, and such a
# session then passes as whole unless its times show the cut.
TAIL = 200


def session_events(sessions, session_id: str, *, tz: str | tzinfo | None = None, date: date | str | None = None):
    """Return the events of one session, read again from its file.

    Parameters
    ----------
    sessions : pandas.DataFrame
        Rows from :func:`smtplogkit.read_logs` (or ``load_logs``) that
        include the session.
    session_id : str
        The session's ``session_id``.
    tz, date
        As given to the read that made ``sessions``; they only change the
        ``ts`` column.

    Returns
    -------
    pandas.DataFrame
        The session's rows in the columns of :func:`smtplogkit.read_events`,
        in the order the parser made them.  Empty when the file has
        changed since: no session starts on that line any more, or the one
        that does starts at another time.  ``attrs["complete"]`` is False
        when the events end before the session's span.  It is False too
        when they reach the last :data:`TAIL` lines of a rotated copy with
        no newer file after it, because the session may go on in a file
        that has moved.  Both cases log a warning.

    Raises
    ------
    InputError
        When ``session_id`` is not in ``sessions``, or its file cannot be
        opened (a stream, or a file moved or deleted since).
    """
    match = sessions[sessions["session_id"] == session_id]
    if match.empty:
        raise InputError(session_id, "session not found in the sessions given; pass the frame it came from")
    row = match.iloc[0]
    parsed = SESSION_ID_RE.match(session_id)
    first = int(row["line"]) if row["line"] is not None and str(row["line"]) != "<NA>" else None
    if parsed is None or first is None:
        raise InputError(session_id, "missing line number, so there is no place to start reading")
    rank = int((parsed["suffix"] or "#1")[1:])
    path = Path(str(row["source"]))
    if not path.is_file():
        raise InputError(str(path), "file not found: moved or deleted since it was read; read it where it is now")
    module = formats.get(str(row["format"]))
    zone = _resolve_tz(tz)
    source = _from_file(str(row["source"]), path)
    envelope = _envelope_options(source, zone)
    ctx = _parse_context(source, ParseOptions(tz=zone, date=as_date(date)))
    ctx.rows_wanted = False
    ctx.envelope = envelope
    ctx.loud = False
    strip = getattr(module, "strip_or_noise", None) or getattr(module, "strip_envelope", strip_envelope)
    start = max(1, first - LOOKBACK)
    exhausted: list[bool] = []  # gets an item once every line has been read
    blocks = _blocks_from(open_blocks(source, Decoded()), start, exhausted, envelope.clock)
    counted = _Counted([], blocks, strip, envelope, start=start - 1)
    items = parse_items(module, counted, ctx)
    try:
        found, _ = _find(items, first, rank, _span(row))
        # A session whose last line is among the file's last lines may have gone on in the next file.
        at_end = bool(exhausted) and bool(found) and max(event.line for event in found) > counted.total - TAIL
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a parser stopped early closes its file now, not when it is collected
        if isinstance(source, Chain):
            source.opened = None
    complete = True
    if found and not _same_start(row, found):
        logger.warning("%s: the session on line %d is not the one read before; the file changed since it was read",
                       path, first)
        found = []
    elif found:
        # A session still open at the end of a rotated copy with no newer file read after it went on in one.
        cut = at_end and not isinstance(source, Chain) and _rotated_copy(path.name)
        complete = not cut and _complete(row, found)
        if not complete:
            logger.warning("%s: session %s was read again up to the end of its file only; it may go on in a "
                           "newer rotation that is not there now", path, session_id)
    else:
        logger.warning("%s: no session starts on line %d any more; the file changed since it was read", path, first)
    result = ReadResult()
    result.events = [(event.ts, session_id, *_place(source, event.line), event.direction, event.verb, event.code,
                      event.enhanced, event.text) for event in found]
    frame = events_frame(result)
    frame.attrs["complete"] = complete
    return frame


def _times(row, events: list[Any]):
    """Return the row's start and end and the first and last times of ``events``, as UTC timestamps or None."""
    import pandas as pd

    stamps = [event.ts for event in events if event.ts is not None]
    values = [row["start"], row["end"], stamps[0] if stamps else None, stamps[-1] if stamps else None]
    return [None if value is None or pd.isna(value) else pd.Timestamp(value).tz_convert("UTC") for value in values]


def _same_start(row, events: list[Any]) -> bool:
    """Return False when ``events`` start at another time of day than the session row: another session.

    Whole days apart still count as the same start, because a log that prints
    only the time of day may get its date from a line before the part read.
    """
    start, _, first, _ = _times(row, events)
    if start is None or first is None:
        return True
    seconds = abs((first - start).total_seconds()) % 86400
    return min(seconds, 86400 - seconds) < 0.001


def _complete(row, events: list[Any]) -> bool:
    """Return False when ``events`` end before the end of the session's span."""
    start, end, first, last = _times(row, events)
    if None in (start, end, first, last):
        return True
    return (last - first) >= (end - start) - timedelta(milliseconds=1)


def _from_file(name: str, path: Path) -> Source:
    """Return what to read for a session that starts in the file ``name``: the file, and its newer rotations.

    The whole read joined the rotations of one log into a stream, and a
    session cut by a rotation goes on in the next file.
    """
    siblings = [Source(str(Path(name).parent / other.name), other) for other in sorted(path.parent.iterdir())
                if other.is_file()]
    for source in group_rotations(siblings):
        if isinstance(source, Chain):
            names = [part.name for part in source.parts]
            if name in names and names[-1] != name:
                parts = source.parts[names.index(name):]
                return Chain(f"{parts[0].name} to {parts[-1].name}", source.path, parts=parts)
    return Source(name, path)


def _place(source: Source, number: int) -> tuple[str, int]:
    """Return the file and line number in it of line ``number`` of what :func:`_from_file` gave."""
    return locate(source, number) if isinstance(source, Chain) else (source.name, number)


def _blocks_from(blocks, first: int, exhausted: list[bool], clock: WallClock | None = None):
    """Yield the blocks of lines from line ``first`` on (the first line is 1); append to ``exhausted`` at the end.

    ``clock``, if given, reads the stamps of the lines before ``first``, to
    find where the wall clock stepped back in an hour the zone repeats.
    """
    skipped = 0
    for block in blocks:
        if skipped + len(block) < first:
            if clock is not None:
                clock.see(block, skipped + 1)
            skipped += len(block)
            continue
        if clock is not None and first - 1 - skipped > 0:
            clock.see(block[:first - 1 - skipped], skipped + 1)
        yield block[first - 1 - skipped:]
        yield from blocks
        break
    exhausted.append(True)


def _span(row) -> timedelta | None:
    """Return how long a session lasted, from its row's start and end, or None when either is missing."""
    import pandas as pd

    start, end = row["start"], row["end"]
    if pd.isna(start) or pd.isna(end):
        return None
    return (end - start).to_pytimedelta()


def _rotated_copy(name: str) -> bool:
    """Return True for the name of a rotated copy of a log (``maillog.1``, ``maillog-20261129.gz``)."""
    return bool(ROTATED_RE.match(name)) or dated_copy(name) is not None


def _find(items, first: int, rank: int, span: timedelta | None = None) -> tuple[list[Any], bool]:
    """Return the events of the ``rank``-th session to end of those whose first event is on line ``first``.

    The second item is True when that session was still open where the
    reading stopped.

    With ``span``, the session's duration, reading stops at the first event
    more than ``span`` and :data:`SLACK` after the first event on line
    ``first``: by then the session has had all its events.
    """
    grouped: dict[Any, list[Any]] = {}
    seen = 0
    until: datetime | None = None
    for item in items:
        kind = type(item)
        if span is not None and kind is not SessionEnd and kind not in (PlainSession, PlainBatch, SessionRow):
            ts = item.ts
            if until is None:
                if item.line == first and ts is not None:
                    until = ts + span + SLACK
            elif ts is not None and ts > until:
                break
        if kind is SessionEnd:
            events = grouped.pop(item.session, None)
            if events and events[0].line == first:
                seen += 1
                if seen == rank:
                    return events, False
            continue
        if kind in (PlainSession, PlainBatch, SessionRow) or item.session is None:
            continue
        grouped.setdefault(item.session, []).append(item)
    # Sessions still open at the end of the file end in the order they started, as the reader ends them.
    left = [events for events in sorted(grouped.values(), key=lambda evs: evs[0].line) if events[0].line == first]
    found = next(itertools.islice(left, rank - 1 - seen, None), []) if rank - 1 - seen >= 0 else []
    return found, bool(found)

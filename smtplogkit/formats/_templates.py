"""Row templates: a session's row built once and reused for later sessions that print the same lines.

A client that sends the same message to the same server many times logs
the same transcript many times, with only the times changed.  A parser
that keeps a session's lines as one segment can read the first segment of
each kind through its general path, build the row from the events, and
keep the row as a :class:`RowTemplate`.  A later segment with the same
key (its texts without times, less any text the parser does not read,
and less the text of success replies when the row has no failure: see
:class:`Masked`) then gets a copy of that row with its own line number
and times, without making events at all.

The parser decides what a segment is and which part of each line goes into
the key.  It must make sure that two segments with equal keys, read from
the same parser state, give the same events apart from line numbers and
times.  The template keeps, for each time column, the position in the
segment of the line whose time that column was computed from, so the copy
takes its times from the same lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..labels import STAGE_ORDER, Cause, Stage
from ..records import SERVER, Event, Line, SessionRow
from ..sessions import TIMED_COLUMNS, SessionState, build_session, copy_state, walk_events
from .base import DayClock, ParseContext

# Templates kept per file.  The store is emptied when it is full, so a log
# whose sessions never repeat keeps at most this many rows in memory.
MAX_TEMPLATES = 1024
# A file stops looking for repeated segments after this many segments that
# were not repeats, when they outnumber the repeats.
MAX_MISSES = 64
_ONE_SECOND = timedelta(seconds=1)


@dataclass(slots=True)
class RowTemplate:
    """The row of one segment, and the positions in the segment that its line and time columns come from."""

    row: dict[str, Any]
    line_index: int
    start_index: int | None
    end_index: int | None
    reached: tuple[tuple[Stage, int], ...]
    noise: tuple[int, ...]
    end_state: Any
    indexes: tuple[int, ...] = ()  # every position above that a time comes from, once each
    timed: tuple[tuple[int, int, str], ...] = ()  # (position, stage order, column) of each timed stage reached
    columns: tuple[str, ...] = ()  # the columns of ``timed``

    def instantiate(self, lines: list[Line], stamp: Callable[[int], datetime]) -> dict[str, Any]:
        """Return the row for a segment with the same key: a copy with ``lines``' number and times.

        ``stamp(i)`` returns the time of ``lines[i]``, as the parser would have set it.
        """
        return self.instantiate_at(lines[self.line_index].number, stamp)

    def instantiate_at(self, number: int, stamp: Callable[[int], datetime],
                       micros: Callable[[int], int] | None = None) -> dict[str, Any]:
        """Return the row for a segment with the same key, as :meth:`instantiate` does, from its row's line number.

        ``number`` is the number of the segment's line at :attr:`line_index`.
        A parser whose segment's times all share one day and one time zone
        may pass ``micros(i)``: the time of ``lines[i]`` in microseconds
        since the start of that day.  The durations then come from those
        integers, and ``stamp`` is called for the start and end times only.
        Both ways give equal rows, because datetimes with one ``tzinfo``
        subtract as wall times do.
        """
        row = self.row.copy()
        row["line"] = number
        start_index, end_index = self.start_index, self.end_index
        if micros is None:
            times = {index: stamp(index) for index in self.indexes}  # several stages are often reached on one line
            unit: Any = _ONE_SECOND
            start = None if start_index is None else times[start_index]
            end = None if end_index is None else times[end_index]
        else:
            times = {index: micros(index) for index in self.indexes}
            unit = 1_000_000
            start = None if start_index is None else stamp(start_index)
            if end_index is None:
                end = None
            elif end_index == start_index:
                end = start
            else:
                end = stamp(end_index)
        row["start"] = start
        row["end"] = end
        if start is None:
            return row  # the template's time columns are all None already
        first = times[start_index]
        if len(set(times.values())) == 1 and end is not None:
            # Every stage was reached at the same time, as on a log that prints whole seconds, so
            # each timed stage took 0 seconds, whichever order the stages are taken in.
            for column in self.columns:
                row[column] = 0.0
            row["duration_s"] = 0.0
            return row
        # As sessions.build_session computes them: each timed stage's seconds since the stage
        # reached before it, in the order of the times, and equal times in stage order.  The
        # stages are kept in the order of their lines, then of the stages, which is that order
        # whenever each later line has a later time.  A timedelta divided by one second is its
        # total_seconds(), and microseconds divided by 1,000,000 give the same float.
        passed = [(times[index], order, column) for index, order, column in self.timed]
        timed = self.timed
        for number in range(1, len(timed)):
            if timed[number][0] != timed[number - 1][0] and passed[number][0] <= passed[number - 1][0]:
                passed.sort()
                break
        previous = first
        for reached, _, column in passed:
            row[column] = max((reached - previous) / unit, 0.0)
            previous = reached
        row["duration_s"] = None if end is None else (times[end_index] - first) / unit
        return row


def make_template(lines: list[Line], events: list[Event], noise: list[int],
                  end_state: Any) -> tuple[dict[str, Any], RowTemplate | None]:
    """Build the row of one segment's session, and the template for its repeats if one can be made.

    ``events`` are all the events the segment's lines gave, all of one
    session, and ``noise`` the positions of the lines counted as noise.
    No template is made unless every line with a time has its own time
    object and every event's time is its line's, because the template
    records times by the position of the line they came from.  A segment
    with the same key must have a time on the same lines.
    """
    times: dict[str, Any] = {}
    row = build_session(events, times)
    position = {}
    for index, line in enumerate(lines):
        if line.ts is None:
            continue
        if id(line.ts) in position:
            return row, None
        position[id(line.ts)] = index
    by_number = {line.number: index for index, line in enumerate(lines)}
    for event in events:
        index = by_number.get(event.line)
        if index is None or event.ts is not lines[index].ts:
            return row, None
    start, end = times["start"], times["end"]
    reached = tuple((stage, position.get(id(ts))) for stage, ts in times["reached"].items())
    if any(index is None for _, index in reached) or (start is not None and id(start) not in position) or (
            end is not None and id(end) not in position):
        return row, None
    template = RowTemplate(
        row=row.copy(),
        line_index=by_number[events[0].line],
        start_index=None if start is None else position[id(start)],
        end_index=None if end is None else position[id(end)],
        reached=reached,
        noise=tuple(noise),
        end_state=end_state,
    )
    template.indexes = tuple(sorted({index for _, index in reached} | {
        index for index in (template.start_index, template.end_index) if index is not None}))
    positions = dict(reached)
    template.timed = tuple(sorted((positions[stage], STAGE_ORDER[stage], column) for stage, column in TIMED_COLUMNS
                                  if stage in positions))
    template.columns = tuple(column for _, _, column in template.timed)
    return row, template


@dataclass(slots=True)
class TailTemplate:
    """A failing segment's state before its tail, for later segments whose lines up to the tail are the same.

    The tail starts at the first line that may fail (a 4xx or 5xx reply,
    an error line).  Its text often carries an id, so a whole segment
    seldom repeats, but the lines before it do.  A
    later segment with the same lines before its tail (its key, with
    every reply text kept) starts from this state.  Its tail is read by
    the parser, from the parser's state at the tail, and the tail's events
    go to the row builder from the builder's state at the tail.  Its row
    is therefore the one the whole segment would give, while only the
    tail's lines are read.

    ``builder`` is never changed.  :meth:`start` returns a copy with the
    times of the new segment.
    """

    split: int  # position of the tail's first line
    line_index: int  # position of the line of the session's first event
    noise: tuple[int, ...]  # positions before the tail of the lines counted as noise
    builder: SessionState  # after the events before the tail
    first_index: int | None
    last_index: int | None
    reached: tuple[tuple[Stage, int], ...]
    parser_state: Any  # the parser's own record of its state at the tail

    def start(self, stamp: Callable[[int], datetime]) -> SessionState:
        """Return a copy of the builder's state with the times of a new segment.

        ``stamp`` is as for :meth:`RowTemplate.instantiate`.
        """
        state = copy_state(self.builder)
        state.first_ts = None if self.first_index is None else stamp(self.first_index)
        state.last_ts = None if self.last_index is None else stamp(self.last_index)
        state.reached_at = {stage: stamp(index) for stage, index in self.reached}
        return state


def make_tail_template(lines: list[Line], events: list[Event], noise: list[int], split: int,
                       parser_state: Any) -> TailTemplate | None:
    """Return the :class:`TailTemplate` of a segment's ``lines`` before position ``split``, or None.

    ``events`` are the events of those lines and ``noise`` the positions
    of those counted as noise.  As in :func:`make_template`, every line
    with a time must have its own time object, from which its events take
    their times, because the template records times by line position.
    """
    if not events:
        return None
    position = {}
    for index, line in enumerate(lines[:split]):
        if line.ts is None:
            continue
        if id(line.ts) in position:
            return None
        position[id(line.ts)] = index
    by_number = {line.number: index for index, line in enumerate(lines[:split])}
    for event in events:
        index = by_number.get(event.line)
        if index is None or event.ts is not lines[index].ts:
            return None
    builder = SessionState()
    walk_events(builder, events)
    times = [builder.first_ts, builder.last_ts, *builder.reached_at.values()]
    if any(ts is not None and id(ts) not in position for ts in times):
        return None
    return TailTemplate(
        split=split,
        line_index=by_number[events[0].line],
        noise=tuple(noise),
        builder=builder,
        first_index=None if builder.first_ts is None else position[id(builder.first_ts)],
        last_index=None if builder.last_ts is None else position[id(builder.last_ts)],
        reached=tuple((stage, position[id(ts)]) for stage, ts in builder.reached_at.items()),
        parser_state=parser_state,
    )


class TailContext(ParseContext):
    """Parse context for reading a segment's tail on its own, which keeps the lines it counts as noise.

    One context serves every tail of a file, so its reply and command
    caches stay warm.  :meth:`reset` clears the rest before each tail.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.noise_at: list[Line] = []

    def noise(self, line: Line) -> None:
        """Count a line that carries no evidence, and keep it for the file's own count."""
        self.noise_lines += 1
        self.noise_at.append(line)

    def reset(self) -> None:
        """Clear the counts, warnings, clock and AUTH states of the last tail, and keep the caches."""
        self.noise_lines = self.unrecognised_lines = self.undated_lines = 0
        self.warnings = []
        self.noise_at = []
        self.clock = DayClock()
        self._awaiting_auth.clear()
        self._login_user_due.clear()


class Masked:
    """A key part for a success reply whose text was left out: the reply's code and the character after it.

    A parser may leave the text of a 2xx or 3xx reply (not 334) out of a
    segment's key.  A session row never shows such a text unless the
    session failed, and then the failure's classification reads every
    reply text of the session.  So a template stored under a key with such
    parts must come from a row without a failure (:func:`failed`), and a
    parser that finds no template under that key looks for one under the
    key with the texts kept.  Two segments with the same masked key read to
    the same events apart from those texts, line numbers and times, so if
    one has no failure, neither has the other.  Each prefix has one
    instance (:func:`masked`), which equals no string and hashes fast.
    """

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"Masked({self.prefix!r})"


_MASKED: dict[str, Masked] = {}


def masked(prefix: str) -> Masked:
    """Return the key part for a success reply that starts with ``prefix`` (code and separator)."""
    part = _MASKED.get(prefix)
    if part is None:
        part = _MASKED[prefix] = Masked(prefix)
    return part


def maskable(reply: str) -> bool:
    """Return whether a reply line's text may be left out of a key.

    It may if it starts with a code from 200 to 399 other than 334, in ASCII
    digits, and a space or hyphen.  Its code and whether it is the last line
    then come from those four characters alone, as
    :func:`smtplogkit.replycodes.split_reply` reads them.
    """
    return (reply[3:4] in _SEPARATORS and reply[:1] in _SUCCESS and reply[1:3].isdecimal() and reply[1:3].isascii()
            and reply[:3] != "334")


_SEPARATORS = (" ", "-")
_SUCCESS = ("2", "3")
# The part for each first four characters that maskable() accepts, for parsers that look a
# reply up once instead of testing it.
MASKED_PARTS: dict[str, Masked] = {
    prefix: masked(prefix) for prefix in (f"{code}{separator}" for code in range(200, 400) for separator in _SEPARATORS)
    if maskable(prefix)}


# A MAIL FROM or RCPT TO command, and its address in angle brackets: no space, quote or backslash.
_ADDRESS_COMMAND_RE = re.compile(r"(?:MAIL FROM|RCPT TO):<([^<>\s\"'\\]+)>", re.IGNORECASE)


def without_address(command: str) -> str | None:
    """Return a MAIL FROM or RCPT TO command with the address between its angle brackets left out, or None.

    A key part may leave the address out.  The parsers read such a command
    to its verb alone (:meth:`~smtplogkit.formats.base.ParseContext.client`).
    A session's row contains no client command's text, and the classification
    of its failure reads only replies and errors.  A reply that quotes the
    address keeps it in its own part.  So a sender whose messages each go
    to another recipient still repeats its keys.  None for any other command, and for an address with a space, a
    quote or a backslash, which a debug log's escaping could turn into more
    than one command.
    """
    match = _ADDRESS_COMMAND_RE.match(command)
    if match is None:
        return None
    return command[:match.start(1)] + command[match.end(1):]


def as_lines(lines: Iterable[Line | tuple[int, str]]) -> Iterator[Line]:
    """Yield each line as a :class:`Line`.

    A parser that reads raw lines gets some as ``(number, text)`` tuples
    (see ``RAW_LINES`` in :mod:`smtplogkit.reader`): lines without an
    envelope, whose :class:`Line` has only a number and a text.
    """
    for line in lines:
        yield Line(*line) if type(line) is tuple else line


def text_of(line: Line | tuple[int, str]) -> str:
    """Return the text of a :class:`Line` or of a raw ``(number, text)`` line."""
    return line[1] if type(line) is tuple else line.text


def number_of(line: Line | tuple[int, str]) -> int:
    """Return the number of a :class:`Line` or of a raw ``(number, text)`` line."""
    return line[0] if type(line) is tuple else line.number


def failed(row: dict[str, Any]) -> bool:
    """Return whether a session row records a failure, whose columns may come from any reply text."""
    return row["reply_text"] is not None or row["error_text"] is not None or row["cause"] != _OK_CAUSE


_OK_CAUSE = Cause.OK.value
_TAIL = object()  # the first part of a tail template's key, which no other key starts with


def count_noise(ctx: ParseContext, lines: list[Line | tuple[int, str]], positions: tuple[int, ...]) -> None:
    """Count the lines at ``positions`` as noise, as :meth:`ParseContext.noise` would one by one."""
    if type(ctx).noise is ParseContext.noise and not ctx.cut_lines:
        ctx.noise_lines += len(positions)  # the plain context only counts them
        return
    for index in positions:
        line = lines[index]
        ctx.noise(Line(*line) if type(line) is tuple else line)


class SessionGroups:
    """Events grouped by session as :func:`smtplogkit.reader.read` groups them, and rows made from templates.

    A parser that reads segments groups its own events when the reader keeps
    no events.  Template rows and rows built from events then come out in
    the reader's order: by the line of the session's first event, and for
    equal lines in the order the sessions began.
    """

    def __init__(self) -> None:
        self.grouped: dict[Any, list[Event] | dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0
        self.templates: dict[Any, RowTemplate | TailTemplate] = {}
        self.seen: set[Any] = set()

    def add(self, event: Event) -> None:
        """Add one event of a session."""
        events = self.grouped.get(event.session)
        if events is None:
            self.grouped[event.session] = [event]
        else:
            events.append(event)

    def add_row(self, session: Any, row: dict[str, Any]) -> None:
        """Add the finished row of a session that has no other events."""
        self.grouped[session] = row

    def add_built(self, session: Any, row: dict[str, Any], template: RowTemplate | None, key: Any,
                  full: Any) -> None:
        """Add the row a segment's events built, and keep its template, if any, for later segments.

        A row with a failure keeps its template under ``full``, the key with
        every reply text, because its cause may depend on any of them.  Such
        a key seldom repeats, so it counts as a miss, as a missing template
        does.
        """
        self.add_row(session, row)
        if template is not None:
            self.store(full if failed(row) else key, template)
        if template is None or failed(row):
            self.misses += 1

    def add_events(self, events: list[Event]) -> None:
        """Add the events of a segment read as usual, and count it as a miss."""
        self.misses += 1
        for event in events:
            if event.session is not None:  # a note outside any session matters to read_events only
                self.add(event)

    def store(self, key: Any, template: RowTemplate | TailTemplate) -> None:
        """Keep a template for the segments with ``key``."""
        if len(self.templates) >= MAX_TEMPLATES:
            self.templates.clear()
        self.templates[key] = template

    def first_sight(self, key: Any) -> bool:
        """Return whether no segment had ``key`` before, and remember that one has now.

        A segment whose key is new is read as usual, without the work of
        making a template: most such keys never come back (a failure with a
        queue id in its reply).  The second segment with a key makes its
        template.  The set is emptied when it contains as many keys as the
        template store can.
        """
        seen = self.seen
        if key in seen:
            return False
        if len(seen) >= MAX_TEMPLATES:
            seen.clear()
        seen.add(key)
        return True

    def find(self, key: Any, full_key: Callable[[], Any]) -> tuple[Any, Any, bool]:
        """Look up the template of a segment with ``key``, then under the key with every reply text.

        ``full_key()`` returns the latter, which is computed only when the
        key was seen before (see :meth:`first_sight`).  Returns the
        :class:`RowTemplate` or None, the key with every reply text (``key``
        itself when it was not computed), and whether ``key`` is new.
        """
        template = self.templates.get(key)
        if template is not None:
            return template, key, False
        if self.first_sight(key):
            return None, key, True
        full = full_key()  # a failing session's template is kept under the key with every reply text
        return (self.templates.get(full) if full != key else None), full, False

    def find_tail(self, start: int | None, prefix: Callable[[], list[Any]]) -> tuple[Any, Any, int | None]:
        """Look up the tail template of a segment without a template of its own, whose tail starts at ``start``.

        ``prefix()`` returns the key parts of the lines before the tail,
        with every reply text kept.  Returns the tail key, the
        :class:`TailTemplate` if there is one, and ``start`` again if the
        segment should make the key's template: the key's second segment,
        as for :meth:`first_sight`.  A segment with no tail (``start`` None)
        gets three Nones.
        """
        if start is None:
            return None, None, None
        key = (_TAIL, *prefix())
        template = self.templates.get(key)
        if template is not None:
            return key, template, None
        return key, None, None if self.first_sight(key) else start

    def use_tail(self, tail: Any, read: Callable[[Any], bool]) -> bool:
        """Read a segment's tail with its :class:`TailTemplate`, count a hit or a miss, and return whether it read.

        ``read(tail)`` reads the tail and returns False, having changed
        nothing, when the tail does not read as the template's; the caller
        then reads the whole segment as usual.
        """
        if read(tail):
            self.hits += 1
            return True
        self.misses += 1
        return False

    def settle_tail(self, start: int | None, prefix: Callable[[], list[Any]], read: Callable[[Any], bool],
                    segment: list[Any], new_key: bool) -> Generator[Line, None, tuple[bool, Any, int | None]]:
        """Read a segment through its tail template, or as usual when its key is new; return whether that settled it.

        Yields the segment's lines for the usual path when the tail did not
        read as the template's, or when the segment has no template and its
        key is new (its second segment makes the template).  Returns whether
        the segment is settled, and the tail key and split of
        :meth:`find_tail` for a caller that reads it itself.
        """
        tail_key, tail, split = self.find_tail(start, prefix)
        if tail is not None:
            if not self.use_tail(tail, read):
                yield from as_lines(segment)  # the tail did not read as the template's: read it all as usual
            return True, tail_key, split
        if new_key and split is None:
            self.misses += 1
            yield from as_lines(segment)  # a key not seen before is read as usual; its second makes the template
            return True, tail_key, split
        return False, tail_key, split

    @property
    def worth_trying(self) -> bool:
        """Whether segments still repeat often enough to be worth keeping."""
        return self.misses < MAX_MISSES or self.hits >= self.misses

    def collect(self, events: Iterable[Event], segments: Any) -> Iterator[Event | SessionRow]:
        """Group a parser's events by session, yield those of no session, then yield every session's row.

        While ``segments.capture`` is a list, the segment reader is reading a
        segment for a template, so the events go to that list instead.
        """
        grouped = self.grouped
        for event in events:
            capture = segments.capture
            if capture is not None:
                capture.append(event)
                continue
            session = event.session
            if session is None:
                yield event  # an application line outside any session
                continue
            found = grouped.get(session)  # as add(), in place
            if found is None:
                grouped[session] = [event]
            else:
                found.append(event)
        yield from self.rows()

    def rows(self) -> Iterator[SessionRow]:
        """Yield every session's row, in the reader's order."""
        entries = sorted(self.grouped.values(), key=_first_line)
        self.grouped = {}
        for entry in entries:
            if type(entry) is dict:
                yield SessionRow(entry)
                continue
            failing = False
            for event in entry:
                code = event.code
                if code is not None and (code >= 400 or code == 334) and event.direction == SERVER:
                    failing = True
                    break
            yield SessionRow(build_session(entry, failing_reply=failing))


def _first_line(entry: list[Event] | dict[str, Any]) -> int:
    return entry["line"] if type(entry) is dict else entry[0].line

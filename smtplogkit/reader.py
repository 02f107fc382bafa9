"""``read_logs`` and ``read_events``: from paths to DataFrames.

For each input file: decode it (:mod:`smtplogkit.inputs`), remove envelopes
(:mod:`smtplogkit.envelope`), pick a format, run its parser, group the events
into sessions and build one row per session (:mod:`smtplogkit.sessions`).
Line counts per file are kept in ``DataFrame.attrs["files"]``.
"""

from __future__ import annotations

import functools
import gc
import itertools
import logging
import operator
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone, tzinfo
from typing import Any

from . import formats
from .envelope import EnvelopeOptions, strip_envelope, watch_repeated_hours
from .errors import FormatError, OptionError
from .formats.base import MAX_LINE_WARNINGS, ParseContext, ParseOptions, parse_items
from .inputs import (TEMPLATE_RE, Chain, Decoded, RawBlock, Source, TextBlock, block_after, expand, group_rotations,
                     log_skipped, name_date, open_blocks)
from .plainrows import FileColumns, plain_columns, record_row
from .labels import Cause
from .records import NOTE, Event, Line, PlainBatch, PlainSession, SessionEnd, SessionRow
from .redact import excerpt
from .progress import with_block_progress
from .rotations import ChainContext, ChainCounted, read_chain
from .sessions import build_session

logger = logging.getLogger(__name__)

SAMPLE_LINES = 400
# Session rows are turned into a typed DataFrame every CHUNK_ROWS rows, because
# a row dict costs several times the memory of the same row in a DataFrame.
CHUNK_ROWS = 50_000
MIN_CONFIDENCE = 0.05
GC_THRESHOLD = 1_000_000
# ``keep_events`` value that keeps the events of failed sessions, every note and every line outside a session.
FAILED_EVENTS = "failed"

SESSION_COLUMNS = [
    "session_id", "source", "line", "format", "start", "end", "host", "ip", "port", "tls_mode",
    "client", "last_stage_reached", "failure_stage", "cause", "outcome", "reply_code",
    "enhanced_code", "reply_text", "error_text", "auth_mechanism", "identity", "messages_sent",
    "recipients", "recipients_rejected", "connect_s", "tls_s", "greeting_s", "ehlo_s",
    "starttls_s", "auth_s", "mail_from_s", "rcpt_to_s", "data_s", "duration_s", "log_host", "container",
]
EVENT_COLUMNS = ["ts", "session_id", "source", "line", "direction", "verb", "reply_code", "enhanced_code", "text"]


@dataclass(slots=True)
class FileReport:
    """The per-file report: the format an input was read as and where every line went."""

    source: str
    format: str | None = None
    confidence: float = 0.0
    encoding: str | None = None
    compression: str | None = None
    lines: int = 0
    parsed: int = 0
    noise: int = 0
    unrecognised: int = 0
    sessions: int = 0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the report as a plain dict, for ``DataFrame.attrs`` and JSON."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class ReadResult:
    """Rows read from all inputs, before they become DataFrames."""

    sessions: list[dict[str, Any]] = field(default_factory=list)
    frames: list[Any] = field(default_factory=list)  # DataFrames of earlier session rows
    events: list[tuple] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _resolve_tz(tz: str | tzinfo | None) -> tzinfo:
    if tz is None:
        return timezone.utc
    if isinstance(tz, str):
        if tz.upper() == "UTC":
            return timezone.utc
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise OptionError(f"invalid time zone {tz!r}: expected an IANA zone name such as Europe/Berlin, "
                              "or UTC") from error
    return tz


def as_date(value: Any) -> date | None:
    """Return ``value`` (a date, a datetime or an ISO ``YYYY-MM-DD`` string) as a date; None stays None.

    Raises
    ------
    ValueError
        For a string that is not an ISO date, or a value of another type.
    """
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"invalid date {value!r}: expected YYYY-MM-DD") from None
    raise ValueError(f"invalid date {value!r}: expected a datetime.date or a YYYY-MM-DD string")


def read(paths: Any, *, format: str = "auto", labels: dict[str, Any] | None = None, tz: str | tzinfo | None = None,
         date: date | str | None = None, keep_events: bool | str = False, progress: bool | None = None) -> ReadResult:
    """Read every input and return session rows, event rows and per-file reports.

    ``keep_events`` is False, True, or :data:`FAILED_EVENTS` to keep only
    the events of failed sessions, notes and lines outside any session.
    That limits memory to the events the report's transcripts and the
    token refreshes use.
    """
    date = as_date(date)
    _check_label_names(paths, labels)
    expansion = expand(paths)
    result = ReadResult(skipped=expansion.skipped)
    log_skipped(expansion.skipped)
    zone = _resolve_tz(tz)
    for source in group_rotations(expansion.sources):
        _read_source(source, result, format=format, labels=labels or {}, tz=zone, day=date, keep_events=keep_events,
                     progress=progress)
    return result


def _check_label_names(paths: Any, labels: dict[str, Any] | None) -> None:
    """Warn about a label, given or from a ``{name}`` template, that has a session column's name.

    The session column keeps the values the log gives and the label fills only the
    rows without one, so most of the label would be lost without a word.
    """
    names = list(labels or {})
    for path in paths if isinstance(paths, (list, tuple)) else [paths]:
        if isinstance(path, (str, os.PathLike)):
            names.extend(TEMPLATE_RE.findall(os.fspath(path)))
    for name in dict.fromkeys(names):
        if name in SESSION_COLUMNS:
            logger.warning("label %r has the name of a session column, which keeps the values the logs give "
                           "(the label fills only rows without one); choose another name, such as %s_label",
                           name, name)


def _envelope_options(source: Source, tz: tzinfo) -> EnvelopeOptions:
    """Return how to read this file's envelope timestamps.

    Syslog lines carry no year.  A date in the file name
    (``relay/2026-03-02.log``) gives it most reliably, because copying or
    checking out a file resets its modification time.  The month after the
    named one still counts as that year, for a daily file that runs past the
    end of a month.  Without a date in the name, the modification time gives
    the last line's year and month.  When ``tz`` shows an hour twice in
    those years, the options get a clock of their own for this file
    (:class:`~smtplogkit.envelope.WallClock`).
    """
    # NOTE: a Chain gets one year for all of its files, from its newest file's name or modification time.
    # A dated copy whose year differs from that (maillog-20251205 next to a live maillog copied a year
    # later) has its classic syslog stamps dated in the newest file's year, unlike when it is read alone.
    options = EnvelopeOptions(tz=tz)
    named = name_date(source.name)
    if named is not None:
        options.year = named.year + (1 if named.month == 12 else 0)
        options.last_month = named.month % 12 + 1
    elif source.path is not None:
        try:
            mtime = datetime.fromtimestamp(source.path.stat().st_mtime, tz)
            options.year, options.last_month = mtime.year, mtime.month
        except OSError:
            pass
    return watch_repeated_hours(options)


def _read_source(source: Source, result: ReadResult, *, format: str, labels: dict[str, Any], tz: tzinfo,
                 day: date | None, keep_events: bool, progress: bool | None = None,
                 share: tuple[int, int] | None = None) -> None:
    # Parsing makes millions of short-lived objects (lines, events, rows) and
    # few reference cycles, so collecting generation 0 every GC_THRESHOLD
    # allocations instead of every 700 saves time and frees the same memory.
    # Rows waiting for their chunk survive many collections; a million
    # rather than 50,000 saved 5 to 10% on the benchmark maillog.
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], GC_THRESHOLD), *thresholds[1:])
    try:
        options: dict[str, Any] = {"share": share} if share is not None else {}
        read_file = _read_chain if isinstance(source, Chain) else _read_one
        read_file(source, result, format=format, labels=labels, tz=tz, day=day, keep_events=keep_events,
                  progress=progress, **options)
    finally:
        gc.set_threshold(*thresholds)


def _read_one(source: Source, result: ReadResult, *, format: str, labels: dict[str, Any], tz: tzinfo,
              day: date | None, keep_events: bool, progress: bool | None = None,
              share: tuple[int, int] | None = None) -> None:
    """Parse one source and add its session rows, events and report to ``result``.

    ``share`` is ``(k, n)`` to read only share k of n of a file whose format
    can be read in shares (``SHARES`` in its module): the report then counts
    only the lines this share reads (see :func:`merge_share_reports`).
    """
    report = FileReport(source.name)
    decoded = Decoded()
    envelope = _envelope_options(source, tz)
    blocks = iter(with_block_progress(open_blocks(source, decoded), source.name, progress))
    head, blocks = _split_head(blocks, SAMPLE_LINES)
    sample: list[Line] = [strip_envelope(number, text, envelope) for number, text in enumerate(head, 1)]
    report.encoding = decoded.encoding  # known once the head is read
    module = _choose_format(source, sample, format, report)
    # A format may bring a faster envelope reader for its own common form.
    # Its strip_or_noise, if any, returns None for a line it recognises as
    # noise from the raw text, before a Line is made.  Its prefilter, if any,
    # picks the lines of a whole block the parser must see.  Its prefilter_state,
    # if any, makes a state from the sample, which the prefilter keeps across blocks.
    strip = getattr(module, "strip_envelope", strip_envelope)
    skipping = getattr(module, "strip_or_noise", None)
    prefilter = getattr(module, "prefilter", None)
    start_state = getattr(module, "prefilter_state", None)
    if prefilter is not None and start_state is not None:
        # A prefilter that needs to know what came before a block keeps it in a state of its own per file.
        prefilter = functools.partial(prefilter, state=start_state(sample))
    if share is not None and prefilter is not None:
        prefilter = functools.partial(prefilter, share=share)
    if prefilter is not None and getattr(module, "RAW_LINES", False) and not keep_events:
        # The parser reads some lines without a Line object; only when rows, not events, are wanted.
        prefilter = functools.partial(prefilter, raw=True)
    report.encoding, report.compression = decoded.encoding, decoded.compression
    if module is None:
        # Every non-blank line of an unread file is unrecognised, not only the sample's.
        report.lines = len(sample)
        report.unrecognised = sum(1 for line in sample if line.text.strip())
        for number, text in enumerate(itertools.chain.from_iterable(blocks), len(sample) + 1):
            report.lines += 1
            report.unrecognised += bool(strip(number, text, envelope).text.strip())
        report.noise = report.lines - report.unrecognised
        report.warnings.extend(decoded.warnings)
        result.files.append(report)
        return

    ctx = _parse_context(source, ParseOptions(tz=tz, date=day))
    ctx.rows_wanted = not keep_events
    if share is not None and not getattr(module, "SHARES", False):
        raise ValueError(f"{source.name}: the {module.NAME} format cannot be read in shares")
    ctx.share = share
    ctx.envelope = envelope
    counted = _Counted(sample, blocks, skipping or strip, envelope, prefilter, cuts=_cut_lines(source, decoded),
                       marks=ctx.cut_lines)
    if isinstance(source, Chain):
        counted = ChainCounted(counted, source)  # counts each file's lines for its own report
    grouped: dict[Any, list[Event]] = {}
    builder = _SessionRows(source, module, {**labels, **source.labels}, result, keep_events)
    add = builder.add
    for event in parse_items(module, counted, ctx):
        kind = type(event)
        if kind is SessionEnd:
            events = grouped.pop(event.session, None)
            if events:
                add(events)
            continue
        if kind is PlainSession:
            builder.add_plain(event)
            continue
        if kind is PlainBatch:
            builder.add_batch(event)
            continue
        if kind is SessionRow:
            builder.add_row(event.row)
            continue
        session = event.session
        if session is None:
            builder.add_free(event)  # an application line outside any session
            continue
        events = grouped.get(session)
        if events is None:
            grouped[session] = [event]
        else:
            events.append(event)
    # Sessions still open at the end of the file, in the order they started.
    for events in sorted(grouped.values(), key=lambda evs: evs[0].line):
        builder.add(events)
    builder.finish()

    report.lines = counted.total
    report.noise = ctx.noise_lines + counted.blank + counted.skipped
    report.unrecognised = ctx.unrecognised_lines
    if share is not None and share[0] > 0:
        # Blank lines, and lines of no session process, belong to the first share.
        report.noise = ctx.noise_lines
        decoded.warnings = []
    report.parsed = report.lines - report.noise - report.unrecognised
    report.sessions = builder.count
    unshown = ctx.unrecognised_lines - MAX_LINE_WARNINGS
    if unshown > 0 and not isinstance(ctx, ChainContext):  # a chain notes this per file (see rotations)
        message = (f"{source.name}: {unshown} more unrecognised line{'s' if unshown > 1 else ''} not shown "
                   f"({ctx.unrecognised_lines} in all)")
        ctx.warnings.append(message)
        logger.warning("%s", message)
    if builder.undated and ctx.undated_lines:
        message = (f"{source.name}: {builder.undated} of {builder.count} sessions have no timestamp because the log "
                   f"prints the time of day without a date; pass --date YYYY-MM-DD (date= in Python) or put the "
                   f"date in the file name")
        ctx.warnings.append(message)
        logger.warning("%s", message)
    elif builder.undated:
        # No line of these sessions carries a time at all, as in smtplib's debug level 1 or an openssl transcript.
        message = _no_time_message(source.name, builder.undated, builder.count, getattr(module, "NO_TIME_HINT", None))
        ctx.warnings.append(message)
        logger.warning("%s", message)
    _warn_cut_lines(ctx, counted, own_only=share is not None and share[0] > 0)
    report.encoding, report.compression = decoded.encoding, decoded.compression
    report.warnings.extend(decoded.warnings + ctx.warnings)
    if share is None:
        log_file_counts(report)
    else:  # a share counts only part of the file, so parallel.merge_shares logs the merged counts
        logger.debug("%s: share %d of %d read", source.name, share[0] + 1, share[1])
    result.files.append(report)


def log_file_counts(report: FileReport) -> None:
    """Log one INFO line with a file's format and line and session counts, as the CLI's ``-v`` shows them."""
    logger.info("%s: %s, %d line%s: %d parsed, %d noise, %d unrecognised; %d session%s", report.source,
                report.format, report.lines, "" if report.lines == 1 else "s", report.parsed, report.noise,
                report.unrecognised, report.sessions, "" if report.sessions == 1 else "s")


def _no_time_message(name: str, undated: int, count: int, hint: str | None) -> str:
    """Return the warning about ``undated`` of a file's ``count`` sessions having no time; ``hint`` only if all have none."""
    if undated == count:
        subject = "its session has" if count == 1 else f"all {count} sessions have"
    else:
        subject = f"{undated} of {count} sessions {'has' if undated == 1 else 'have'}"
    them = "it" if undated == 1 else "them"
    message = (f"{name}: {subject} no time because no line of {them} carries one, so the timeline and the findings "
               f"that need times leave {them} out")
    return f"{message}; {hint}" if hint and undated == count else message


def _cut_lines(source: Source, decoded: Decoded) -> Callable[[], Collection[int]]:
    """Return a function that gives the numbers of the lines known so far to end a file without a line end.

    For a :class:`Chain` these are numbers in the joined stream, one at most per file.
    """
    if isinstance(source, Chain):
        def chain_cuts() -> Collection[int]:
            reading = source.reading
            if reading is None:
                return ()
            return {start + part.cut - 1 for start, part in zip(reading.starts, reading.decoded) if part.cut}
        return chain_cuts
    return lambda: () if decoded.cut is None else (decoded.cut,)


def _warn_cut_lines(ctx: ParseContext, counted: _Counted, own_only: bool = False) -> None:
    """Warn about each last line without a line end that the parser counted as noise or unrecognised.

    Such a line was most likely cut short because the log was copied or
    read while it was being written.  A line the parser read counts as
    parsed and gets no warning.  ``own_only`` is for a share after the
    first of a file read in shares.  It then skips a line that was dropped
    before any parser saw it, which the first share warns about.
    """
    for number, counted_as in sorted(ctx.cut_lines.items()):
        if counted_as == "parsed" or own_only and number in counted.cut_skipped:
            continue
        text = excerpt(counted.cut_texts.get(number, ""))
        message = (f"the file's last line has no line end and was not read (counted as {counted_as}); "
                   f"the log was probably copied or read while it was being written: {text!r}")
        ctx.warn(Line(number, text), message)


def merge_share_reports(reports: list[FileReport]) -> FileReport:
    """Return the report of a whole file from the reports of its shares, first share first.

    The first share counts every line of the file, and the blank lines and
    lines of no session process as its own.  Every other share counts only
    the noise and unrecognised lines among its own.  So the line count is
    the first share's, and the noise, unrecognised and session counts add
    up.
    """
    first = reports[0]
    merged = FileReport(first.source, first.format, first.confidence, first.encoding, first.compression, first.lines)
    merged.noise = sum(report.noise for report in reports)
    merged.unrecognised = sum(report.unrecognised for report in reports)
    merged.parsed = merged.lines - merged.noise - merged.unrecognised
    merged.sessions = sum(report.sessions for report in reports)
    for report in reports:
        merged.warnings.extend(warning for warning in report.warnings if warning not in merged.warnings)
    return merged


def _parse_context(source: Source, options: ParseOptions) -> ParseContext:
    """Return the parse context for a file, or for a chain of rotations one that counts lines per file."""
    if isinstance(source, Chain):
        return ChainContext(source.name, options, chain=source)  # dates each file by its own name
    return ParseContext(source.name, options, file_date=name_date(source.name))


def _read_chain(chain: Chain, result: ReadResult, **options: Any) -> None:
    read_chain(chain, result, _read_one, **options)


class _StartedLines:
    """The line numbers sessions started on, one bit per line, so that memory stays small for large files."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._again: dict[Any, int] = {}  # lines (or None) more than one session started on, and how many did

    def add(self, line: int | None) -> int:
        """Record a session starting on ``line`` and return how many sessions started on it before."""
        if type(line) is not int or line < 0:
            count = self._again.get(line, 0)
            self._again[line] = count + 1
            return count
        index, mask = line >> 3, 1 << (line & 7)
        bits = self._bits
        if index >= len(bits):
            bits.extend(bytes(max(index + 1 - len(bits), len(bits))))  # at least doubled, as lists grow
        if not bits[index] & mask:
            bits[index] |= mask
            return 0
        count = self._again.get(line, 1)
        self._again[line] = count + 1
        return count

    def add_new(self, lines: list[int]) -> bool:
        """Record sessions starting on ``lines`` and return True if no session started on any of them before.

        If one did, or if a line number is not an int of 0 or more, record
        nothing and return False.  The caller then uses :meth:`add` for each.
        """
        import numpy as np

        if not lines or not all(type(line) is int for line in lines):
            return False
        numbers = np.array(lines, dtype=np.int64)
        if numbers.min() < 0 or len(np.unique(numbers)) != len(numbers):
            return False
        index = numbers >> 3
        mask = np.left_shift(1, numbers & 7).astype(np.uint8)
        size = int(index.max()) + 1
        if size > len(self._bits):
            self._bits.extend(bytes(max(size - len(self._bits), len(self._bits))))  # as add grows it
        bits = np.frombuffer(self._bits, dtype=np.uint8)
        try:
            if (bits[index] & mask).any():
                return False
            np.bitwise_or.at(bits, index, mask)
        finally:
            del bits  # a bytearray cannot grow while a view of it exists
        return True


class _SessionRows:
    """Turn each finished session's events into a row of the result."""

    def __init__(self, source: Source, module, labels: dict[str, Any], result: ReadResult, keep_events: bool) -> None:
        self.source = source
        self.module = module
        self.labels = labels
        self.result = result
        self.keep_events = keep_events
        self.started = _StartedLines()
        self.count = 0
        self.undated = 0
        self.format_name = module.NAME
        self.default_client = getattr(module, "CLIENT", None)
        self.file_columns = FileColumns(source.name, module.NAME, self.default_client, tuple(labels.items()))
        # A label named like a session column is set only where the row leaves it empty,
        # which the column-wise rows of plain sessions do not check.
        self.plain_ok = not any(name in _SESSION_COLUMN_SET or name == "queue_id" for name in labels)
        # Rows of earlier inputs still waiting for their chunk, and whether this one added plain records.
        # _rows_frame puts a chunk's plain records after its dicts.  So a chunk with plain records ends
        # with this input, and its chunks are cut where a read of this input alone cuts them.  The rows
        # then come in the order of a read of each input on its own (workers, cache).
        self.before = len(result.sessions)
        self.plain = False

    def add(self, events: list[Event]) -> None:
        """Build the row for one session and append it (and its events) to the result.

        With ``keep_events="failed"``, a session without failure keeps only
        its note events (token refreshes and the like).
        """
        row = build_session(events)
        session_id = self.add_row(row)
        if self.keep_events:
            name = self.source.name
            every = self.keep_events != FAILED_EVENTS or row.get("cause") not in (None, Cause.OK.value)
            for event in events:
                if every or event.verb == NOTE:
                    self.result.events.append((event.ts, session_id, name, event.line, event.direction, event.verb,
                                               event.code, event.enhanced, event.text))

    def add_plain(self, record: PlainSession) -> None:
        """Append a session without failure, kept as its record until the rows become a DataFrame."""
        if not self.plain_ok:
            self.add_row(record_row(record))
            return
        self.plain = True
        self._append((record, self._session_id(record.line), self.file_columns))

    def add_batch(self, records: list[PlainSession]) -> None:
        """Append many sessions without failure at once, as :meth:`add_plain` would one by one."""
        if not self.plain_ok:
            for record in records:
                self.add_plain(record)
            return
        lines = [record.line for record in records]
        if self.started.add_new(lines):
            name = self.source.name
            ids = [f"{name}:{line}" for line in lines]
        else:
            session_id = self._session_id
            ids = [session_id(line) for line in lines]
        self.plain = True
        self.result.sessions.extend(zip(records, ids, itertools.repeat(self.file_columns, len(records))))
        self.count += len(records)
        self._end_chunk(CHUNK_ROWS)

    def _session_id(self, line: int) -> str:
        """Return a session id for a session starting on ``line`` that no earlier session of the file has."""
        before = self.started.add(line)
        return f"{self.source.name}:{line}" if not before else f"{self.source.name}:{line}#{before + 1}"

    def _append(self, row: Any) -> None:
        sessions = self.result.sessions
        sessions.append(row)
        if len(sessions) - self.before >= CHUNK_ROWS:
            self._end_chunk(CHUNK_ROWS)
        self.count += 1

    def _end_chunk(self, size: int) -> None:
        """Turn the waiting rows into a frame if this input added ``size`` of them or more."""
        if len(self.result.sessions) - self.before >= size:
            self.result.frames.append(_rows_frame(self.result.sessions))
            self.result.sessions = []
            self.before = 0

    def finish(self) -> None:
        """End the input's last chunk if it contains plain records (see ``before`` in ``__init__``)."""
        if self.plain:
            self._end_chunk(1)

    def add_row(self, row: dict[str, Any]) -> str:
        """Append one session's row, with the file's columns added, and return its session id."""
        name = self.source.name
        session_id = self._session_id(row["line"])
        row["session_id"] = session_id
        row["source"] = name
        row["format"] = self.format_name
        row["client"] = row.get("client") or self.default_client
        for label, value in self.labels.items():
            if row.get(label) is None:
                row[label] = value
        self._append(row)
        if row.get("start") is None:
            self.undated += 1
        return session_id

    def add_free(self, event: Event) -> None:
        """Keep an event that belongs to no session (kept for ``read_events`` only)."""
        if self.keep_events:
            self.result.events.append((event.ts, None, self.source.name, event.line, event.direction, event.verb,
                                       event.code, event.enhanced, event.text))


class _Counted:
    """Iterate over lines: the sample, then the rest with their envelopes removed; count them, skip blank ones.

    ``strip`` may return None for a line the format recognises as noise.
    Such lines are counted in ``skipped``.  ``prefilter``, if given, takes a
    block of raw lines and returns the positions of the lines the parser must
    see, and how many of the others are noise.  The other lines it leaves out
    count as parsed.  It may return a third item, a flag per position: a
    flagged line reaches the parser as a ``(number, text)`` tuple, with its
    envelope, and never blank (see ``RAW_LINES`` in formats.postfix).  A
    fourth item, if any, contains the kept lines' texts, which saves decoding
    them again.

    ``cuts``, if given, returns the numbers of the lines known so far that
    end a file without a line end (see ``Decoded.cut``).  Such a line never
    goes through the prefilter: it reaches the parser as a :class:`Line`,
    and ``marks`` (the parse context's ``cut_lines``) records it as parsed
    until the parser counts it as noise or unrecognised.  ``cut_texts``
    keeps its text for the warning.  With ``cuts``, blocks are read one
    ahead, so that a file's last block is known before its lines are
    handed on.

    One generator does the numbering, the envelope and the blank-line test,
    so each line resumes one Python frame, not three.
    """

    def __init__(self, sample: list[Line], blocks: Iterator[list[str]], strip, envelope: EnvelopeOptions,
                 prefilter=None, start: int = 0, cuts: Callable[[], Collection[int]] | None = None,
                 marks: dict[int, str] | None = None) -> None:
        self._sample = sample
        self._start = start  # lines before the first one given, so that numbers match the whole file's
        self._blocks = blocks
        self._strip = strip
        self._envelope = envelope
        self._prefilter = prefilter
        self._cuts = cuts
        self._marks = marks if marks is not None else {}
        self.cut_texts: dict[int, str] = {}
        self.cut_skipped: set[int] = set()  # those that strip returned None for
        self.total = 0
        self.blank = 0
        self.skipped = 0
        # (number of a block's first line, lines the prefilter counted as parsed), for per-file counts of a chain
        self.passed: list[tuple[int, int]] = []

    def __iter__(self) -> Iterator[Line]:
        blank = 0
        skipped = 0
        number = self._start
        cuts, marks = self._cuts, self._marks
        try:
            known = cuts() if cuts is not None else ()
            for line in self._sample:
                number += 1
                if not line.text.strip():
                    blank += 1
                    continue
                if line.number in known:
                    marks[line.number] = "parsed"
                    self.cut_texts[line.number] = line.text
                yield line
            strip, envelope, prefilter = self._strip, self._envelope, self._prefilter
            clock = envelope.clock
            for block in self._blocks if cuts is None else _read_ahead(self._blocks):
                cut = None
                if cuts is not None and number + len(block) in cuts():
                    cut, block = block[-1], _without_last(block)
                if prefilter is None:
                    for number, text in enumerate(block, number + 1):
                        line = strip(number, text, envelope)
                        if line is None:
                            skipped += 1  # noise the format recognised from the raw text
                            continue
                        if not line.text.strip():
                            blank += 1
                            continue
                        yield line
                elif block:
                    first = number + 1
                    if clock is not None:
                        # The prefilter leaves most lines unread, so the clock reads every stamp first.
                        clock.see(block, first)
                    positions, noise, *raw = prefilter(block)
                    skipped += noise
                    if len(block) > len(positions) + noise:
                        self.passed.append((first, len(block) - len(positions) - noise))
                    if len(raw) > 1:
                        texts = raw[1]
                    elif isinstance(block, RawBlock):
                        texts = block.lines_at(positions)
                    else:
                        texts = [block[p] for p in positions]
                    # Lines the prefilter flagged go to the parser as (number, text), without a Line.
                    flags = raw[0] if raw else itertools.repeat(False)
                    for position, text, whole in zip(positions, texts, flags):
                        number = first + position
                        if whole:
                            yield number, text
                            continue
                        line = strip(number, text, envelope)
                        if line is None:
                            skipped += 1
                            continue
                        if not line.text.strip():
                            blank += 1
                            continue
                        yield line
                    number = first + len(block) - 1
                if cut is None:
                    continue
                number += 1
                line = strip(number, cut, envelope)
                if line is None:
                    skipped += 1
                    marks[number] = "noise"
                    self.cut_texts[number] = cut
                    self.cut_skipped.add(number)
                elif not line.text.strip():
                    blank += 1
                else:
                    marks[number] = "parsed"
                    self.cut_texts[number] = line.text
                    yield line
        finally:
            self.total = number
            self.blank = blank
            self.skipped = skipped


def _read_ahead(blocks: Iterable[Sequence[str]]) -> Iterator[Sequence[str]]:
    """Yield each block once the next one has been read, so that what the input records at its end is known."""
    iterator = iter(blocks)
    block = next(iterator, _END)
    while block is not _END:
        following = next(iterator, _END)
        yield block
        block = following


_END = object()


def _without_last(block: Sequence[str]) -> Sequence[str]:
    """Return a block without its last line, keeping the bytes of a :class:`RawBlock` or :class:`TextBlock`."""
    if len(block) < 2:
        return []
    data = getattr(block, "data", None)
    if data is None:
        return block[:-1]
    data = data[:data.rfind(b"\n")]
    if isinstance(block, RawBlock):
        return RawBlock(data)
    rest = TextBlock(block[:-1])
    rest.data = data
    return rest


def _split_head(blocks: Iterator[list[str]], size: int) -> tuple[list[str], Iterator[list[str]]]:
    """Return the first ``size`` lines of ``blocks`` and an iterator over the blocks of the rest."""
    head: list[str] = []
    for block in blocks:
        room = size - len(head)
        if len(block) <= room:
            head.extend(block)
            continue
        head.extend(block[:room])
        return head, itertools.chain((block_after(block, room),), blocks)
    return head, iter(())


def source_format(source: Source, format: str = "auto", tz: str | tzinfo | None = None):
    """Return the format module a file would be read with, from its first lines, or None; log nothing."""
    if format != "auto":
        return formats.get(format)
    envelope = _envelope_options(source, _resolve_tz(tz))
    blocks = open_blocks(source, Decoded())
    try:
        head, _ = _split_head(blocks, SAMPLE_LINES)
    finally:
        blocks.close()
    texts = [line.text for line in (strip_envelope(n, text, envelope) for n, text in enumerate(head, 1))
             if line.text.strip()]
    module, score, _ = formats.detect(texts) if texts else (None, 0.0, None)
    return module if module is not None and score >= MIN_CONFIDENCE else None


def _choose_format(source: Source, sample: list[Line], format: str, report: FileReport):
    texts = [line.text for line in sample if line.text.strip()]
    if format != "auto":
        module = formats.get(format)
        report.format, report.confidence = module.NAME, 1.0
        logger.debug("%s: read as %s, the format given", source.name, module.NAME)
        return module
    if not texts:
        if report.encoding != "binary":  # a binary file has its own warning
            message = f"{source.name}: empty input, no lines to read"
            report.warnings.append(message)
            logger.warning("%s", message)
        return None
    module, score, _ = formats.detect(texts)
    if module is None or score < MIN_CONFIDENCE:
        message = f"{source.name}: no known log format recognised; pass --format to choose one (see 'smtplogkit formats')"
        report.warnings.append(message)
        logger.warning("%s", message)
        return None
    if score < 0.3:
        message = f"{source.name}: format guessed as {module.NAME} with low confidence ({score:.2f})"
        report.warnings.append(message)
        logger.warning("%s", message)
    report.format, report.confidence = module.NAME, round(score, 3)
    logger.debug("%s: read as %s, detected from %d lines with confidence %.2f", source.name, module.NAME,
                 len(texts), score)
    return module


def sessions_frame(result: ReadResult, tz: str | tzinfo | None = None):
    """Return the sessions DataFrame for a :class:`ReadResult`, with fixed dtypes."""
    import pandas as pd

    if len(result.frames) == 1 and not result.sessions:
        frame = result.frames[0]  # one file's rows, already typed: no copy
    else:
        frame = _rows_frame(result.sessions)
        if result.frames:
            frame = apply_session_dtypes(pd.concat([*result.frames, frame], ignore_index=True))
    frame.attrs.update(files=[f.as_dict() for f in result.files], skipped=list(result.skipped),
                       tz=str(_resolve_tz(tz)))
    return frame


def _rows_frame(rows: list[Any]):
    """Return session rows as a DataFrame with the fixed column order and dtypes.

    ``rows`` holds row dicts and, for plain sessions, ``(record, session_id,
    file_columns)`` tuples (:mod:`smtplogkit.plainrows`).  Each column is built straight in its final dtype, which
    is several times faster than ``DataFrame.from_records`` inferring dtypes
    (string columns become Arrow arrays) that :func:`apply_session_dtypes`
    then replaces.  The values are the same either way.
    """
    import numpy as np
    import pandas as pd

    if not rows:
        return apply_session_dtypes(pd.DataFrame(columns=SESSION_COLUMNS))
    extra: dict[str, None] = {}  # label and queue id columns, in order of first appearance
    known = _SESSION_COLUMN_SET  # the session columns and the extra ones seen so far
    dicts: list[dict[str, Any]] = []
    plain: list[tuple] = []
    files = None
    for row in rows:
        if type(row) is dict:
            dicts.append(row)
            if not row.keys() <= known:
                for name in row:
                    if name not in known:
                        extra[name] = None
                known = _SESSION_COLUMN_SET.union(extra)
            continue
        plain.append(row)
        if row[0].queue_id is not None and "queue_id" not in extra:
            extra["queue_id"] = None
            known = _SESSION_COLUMN_SET.union(extra)
        if row[2] is not files:  # the rows of one file share one FileColumns
            files = row[2]
            for name, _ in files.labels:
                extra[name] = None
            known = _SESSION_COLUMN_SET.union(extra)
    names = [*SESSION_COLUMNS, *extra]
    targets = _session_targets(list(extra))
    parts = []
    if dicts:
        parts.append(_typed_frame(pd, _dict_columns(dicts, extra), names, targets))
    if plain:
        parts.append(_typed_frame(pd, plain_columns(plain, names, targets), names, targets))
    if len(parts) == 1:
        return apply_session_dtypes(parts[0])
    # Rows built from dicts come first: putting them back in the order the
    # sessions ended cost a fifth of building the frame.
    return apply_session_dtypes(pd.concat(parts, ignore_index=True))


def _dict_columns(rows: list[dict[str, Any]], extra: dict[str, None]) -> dict[str, Any]:
    try:
        # Every row has every session column, so one itemgetter call per row
        # and one transposition replace a dict lookup per cell.
        values: dict[str, Any] = dict(zip(SESSION_COLUMNS, map(list, zip(*map(_SESSION_GETTER, rows)))))
    except KeyError:
        values = {name: [row.get(name) for row in rows] for name in SESSION_COLUMNS}
    for name in extra:
        values[name] = [row.get(name) for row in rows]
    return values


def _typed_frame(pd, values: dict[str, Any], names: list[str], targets: dict[str, Any]):
    return pd.DataFrame({name: _column(pd, values[name], name, targets[name]) for name in names})


def _column(pd, values: list[Any], column: str, target: Any):
    """Return one column's values as an array of ``target`` dtype, as :func:`_convert` would."""
    import numpy as np

    if isinstance(values, pd.api.extensions.ExtensionArray) and values.dtype == target:
        return values  # made in its dtype already (plainrows)
    if column in ("start", "end"):
        return pd.to_datetime(values, utc=True).astype(target)
    if target == "float64":
        return np.array(values, dtype="float64")
    if target == "Int64":
        if column in ("messages_sent", "recipients", "recipients_rejected"):
            values = [0 if value is None else value for value in values]
        return pd.array(values, dtype="Int64")
    if isinstance(target, pd.CategoricalDtype):
        return _categorical(pd, values, target)
    if isinstance(target, pd.StringDtype) and target.storage == "pyarrow":
        return _string_array(pd, values, target)
    return pd.array(values, dtype=target)


def _categorical(pd, values: list[Any], target: Any):
    """Return values as a categorical of ``target`` dtype, as ``pd.Categorical`` would, by looking up codes in a dict.

    A value that is not one of the categories, or is missing, gets code -1
    (missing), as ``pd.Categorical`` gives it.
    """
    import numpy as np

    # Keyed by the dtype object: hashing a CategoricalDtype hashes its categories every time.
    known = _CATEGORY_CODES.get(id(target))
    if known is None or known[0] is not target:
        known = _CATEGORY_CODES[id(target)] = (target, {category: code for code, category
                                                         in enumerate(target.categories)})
    codes = known[1]
    try:
        found = np.fromiter(map(codes.get, values, itertools.repeat(-1)), dtype=np.int32, count=len(values))
    except TypeError:  # a value that cannot be a dict key
        return pd.Categorical(values, dtype=target)
    return pd.Categorical.from_codes(found, dtype=target)


_CATEGORY_CODES: dict[int, tuple[Any, dict[Any, int]]] = {}


def _string_array(pd, values: list[Any], target: Any):
    """Return strings (or None) as a pandas string array, through pyarrow, which is several times faster.

    The array is built with the C library's allocator.  pyarrow's default
    one (mimalloc) hands large freed blocks back to the system at once.  So
    each of the many multi-megabyte buffers these columns grow through was
    fresh memory to fault in, about a tenth of a 1M-line maillog's read.
    """
    import pyarrow as pa

    try:
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string(), from_pandas=True,
                                                   memory_pool=pa.system_memory_pool()))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.array(values, dtype=target)  # values that are not strings, such as a label given as a number


_SESSION_COLUMN_SET = frozenset(SESSION_COLUMNS)
_SESSION_GETTER = operator.itemgetter(*SESSION_COLUMNS)


def apply_session_dtypes(frame):
    """Return ``frame`` with the session columns in order and their fixed dtypes.

    Label columns (anything not in :data:`SESSION_COLUMNS`) follow, as strings.
    Frames read from different files, processes or a cache compare equal only
    because they all pass through here.
    """
    import pandas as pd

    extra = tuple(c for c in frame.columns if c not in _SESSION_COLUMN_SET)
    targets = _session_targets(extra)
    if (len(frame.columns) == len(targets) and all(frame.columns == list(targets))
            and isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1
            and all(dtype is target or dtype == target for dtype, target in zip(frame.dtypes, targets.values()))):
        # Built in its final shape (:func:`_rows_frame`, the cache): a new frame object, no column looked at again.
        return frame.copy(deep=False)
    frame = frame.copy(deep=False)  # copy-on-write: the caller's frame is never changed
    for column in SESSION_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[[*SESSION_COLUMNS, *extra]]
    for column, target in targets.items():
        if frame[column].dtype == target:
            continue  # already right
        frame[column] = _convert(frame[column], column, target)
    return frame.reset_index(drop=True)


def _session_targets(extra: Iterable[str]) -> dict[str, Any]:
    """Return the dtype of each session column and of the ``extra`` (label) columns, in column order.

    The dict is shared between calls with the same ``extra``: do not change it.
    """
    return _targets(tuple(extra))


@functools.lru_cache(maxsize=64)
def _targets(extra: tuple[str, ...]) -> dict[str, Any]:
    import pandas as pd

    from .labels import cause_dtype, outcome_dtype, stage_dtype, tls_mode_dtype

    kinds: dict[str, Any] = {"start": "datetime64[ns, UTC]", "end": "datetime64[ns, UTC]"}
    kinds.update({c: "Int64" for c in ("line", "port", "reply_code", "messages_sent", "recipients",
                                        "recipients_rejected")})
    kinds.update(last_stage_reached=stage_dtype(), failure_stage=stage_dtype(), cause=cause_dtype(),
                 outcome=outcome_dtype(), tls_mode=tls_mode_dtype())
    kinds.update({c: "float64" for c in SESSION_COLUMNS if c.endswith("_s")})
    text = pd.StringDtype()  # missing values are pd.NA, as in the other nullable columns
    kinds.update({c: text for c in ("session_id", "source", "format", "host", "ip", "client", "enhanced_code",
                                    "reply_text", "error_text", "auth_mechanism", "identity", "log_host",
                                    "container")})
    targets = {column: kinds[column] for column in SESSION_COLUMNS}
    targets.update({column: text for column in extra})
    return targets


def _convert(values, column: str, target: Any):
    import pandas as pd

    if column in ("start", "end"):
        return pd.to_datetime(values, utc=True).astype(target)
    if target == "float64":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    plain = values.astype(object)
    if target == "Int64":
        filler = 0 if column in ("messages_sent", "recipients", "recipients_rejected") else None
        return pd.array(plain.where(plain.notna(), filler), dtype="Int64")
    return plain.where(plain.notna(), None).astype(target)


def events_frame(result: ReadResult):
    """Return the events DataFrame for a :class:`ReadResult`."""
    import pandas as pd

    frame = pd.DataFrame.from_records(result.events, columns=EVENT_COLUMNS)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    frame["line"] = pd.array(frame["line"], dtype="Int64")
    frame["reply_code"] = pd.array(frame["reply_code"], dtype="Int64")
    for column in ("session_id", "source", "direction", "verb", "enhanced_code", "text"):
        frame[column] = frame[column].astype("string")
    frame.attrs.update(files=[f.as_dict() for f in result.files], skipped=list(result.skipped))
    return frame


def read_logs(paths: Any, *, format: str = "auto", labels: dict[str, Any] | None = None,
              tz: str | tzinfo | None = None, date: date | str | None = None, workers: int = 1,
              cache: str | os.PathLike | None = None, progress: bool | None = None):
    """Read SMTP logs into a sessions DataFrame, one row per connection attempt.

    Parameters
    ----------
    paths
        A file, folder, glob, ``{label}`` template (``"logs/{network}/*.log"``),
        open text stream, or a list of these.  Folders are searched
        recursively; files that are not logs (README, JSON, notebooks) that
        a folder or pattern finds are skipped and listed in
        ``df.attrs["skipped"]``, while a file named on its own is read.  A
        file a pattern matches brings its rotations along, with its labels.  Rotations of one log
        (``maillog.2.gz``, ``maillog.1``, ``maillog``) are parsed as one
        stream, oldest first, so a session cut by a rotation is one row; its
        ``session_id``, ``source`` and ``line`` name the file and line where
        it started.
    format
        A format name from ``smtplogkit formats``, or ``"auto"`` to detect it
        per file (once for a chain of rotations).
    labels
        Constant labels added as columns to every row (``{"network": "prod"}``).
    tz
        Zone for timestamps printed without an offset (default UTC).
    date
        Date for logs that print only the time of day (smtplib debuglevel 2),
        when neither the envelope nor the file name gives one: a
        ``datetime.date`` or a ``"YYYY-MM-DD"`` string.
    workers
        Processes to parse files in; above 1, files are shared out among them
        (a chain of rotations is one unit).  When workers outnumber the
        units, a large maillog or chain of its rotations (16 MiB or more) is
        read by all of them at once, each building the sessions of the smtp
        processes whose id ends in its digits.  That gives the rows of a
        single-process read, in the order of their first lines.
    cache
        A folder for a Parquet cache of parsed sessions, one entry per file
        or chain of rotations, keyed by path, size and modification time.
    progress
        Show a tqdm progress bar per file; by default on when stderr is a
        terminal or in a Jupyter kernel.  With ``workers`` above 1 or a
        ``cache``, one bar counts the files as each is parsed by a worker or
        loaded from the cache, and each file parsed in this process has its
        own bar over its lines as well.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`SESSION_COLUMNS`, then the labels.  Stages,
        causes and outcomes are categoricals with fixed categories.
        ``df.attrs["files"]`` contains per-file line counts (parsed, noise,
        unrecognised) and warnings.
    """
    if workers < 1:
        raise ValueError(f"invalid workers {workers!r}: expected 1 or more")
    if cache is not None and os.fspath(cache) == "":
        cache = None  # "" means no cache, as in load_logs
    if workers > 1 or cache is not None:
        _check_label_names(paths, labels)
        from . import parallel

        expansion = expand(paths)
        log_skipped(expansion.skipped)
        options = {"format": format, "labels": labels or {}, "tz": tz, "date": as_date(date)}
        parts = parallel.read_frames(group_rotations(expansion.sources), options, workers=workers, cache_dir=cache,
                                     progress=progress)
        return parallel.combine(parts, expansion.skipped, tz)
    result = read(paths, format=format, labels=labels, tz=tz, date=date, progress=progress)
    return sessions_frame(result, tz)


def read_events(paths: Any, *, format: str = "auto", labels: dict[str, Any] | None = None,
                tz: str | tzinfo | None = None, date: date | str | None = None, progress: bool | None = None):
    """Read SMTP logs into an events DataFrame: one row per command, reply or local fact.

    Takes the arguments of :func:`read_logs` except ``workers`` and
    ``cache``: events are read in one process and not cached.  Columns: ``ts``,
    ``session_id``, ``source``, ``line``, ``direction`` (client, server,
    local), ``verb``, ``reply_code``, ``enhanced_code``, ``text``.  Text is
    already free of credentials.
    """
    result = read(paths, format=format, labels=labels, tz=tz, date=date, keep_events=True, progress=progress)
    return events_frame(result)

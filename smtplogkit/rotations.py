"""Reading a chain of rotated logs as one stream, with line accounting per file.

Log rotation cuts a log at an arbitrary line, so one SMTP session can start
at the end of ``maillog.1`` and end at the start of ``maillog``.  The reader
parses a :class:`~smtplogkit.inputs.Chain` as one stream, with line numbers
counted across its files, so the parser's session state carries over the
cut.  This module tallies which file each line came from.  Afterwards it
turns the result back into per-file terms.  A session's ``session_id``,
``source`` and ``line`` name the file and line where it started, and each
event names its own file and line.  Every file gets its own report, whose
counts add up to its lines.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .formats.base import MAX_LINE_WARNINGS, ParseContext
from .inputs import Chain, ChainReading, Decoded, name_date
from .records import Line
from .redact import excerpt

logger = logging.getLogger(__name__)

SESSION_ID_RE = re.compile(r"^(?P<name>.*):(?P<line>\d+)(?P<suffix>#\d+)?$")


@dataclass
class ChainContext(ParseContext):
    """A :class:`ParseContext` that also counts noise and unrecognised lines per file of a chain.

    Warnings about a line name its file and its line number in that file.
    A log that prints only the time of day is dated file by file as each
    file would be read on its own: the first file by the date in its name,
    and every later file whose name carries a date (``app.log-20260302``)
    by that date from its first line on.  A file without a date in its name
    (the live ``app.log``) goes on from the day its older sibling reached.
    """

    chain: Chain | None = None

    def __post_init__(self) -> None:
        self.file_date = name_date(self.chain.parts[0].name)
        self._dated: set[int] = set()
        self.chain.opened = self._opened
        reading = self.chain.reading
        if reading is not None:  # the reader opened some files before it made this context
            for index, start in enumerate(reading.starts):
                self._opened(index, start)

    def _opened(self, index: int, start: int) -> None:
        """Queue the date in the name of the file ``index`` of the chain, which starts on line ``start``."""
        day = name_date(self.chain.parts[index].name) if index > 0 else None
        if day is None or index in self._dated:
            return
        self._dated.add(index)
        clock = self.clock
        clock.turns.append((start, day))
        clock.turn = min(clock.turn, start)

    def noise(self, line: Line) -> None:
        """Count a line that carries no evidence, in its file too."""
        self.noise_lines += 1
        if self.cut_lines and line.number in self.cut_lines:
            self.cut_lines[line.number] = "noise"
        reading = self.chain.reading
        reading.noise[reading.part_of(line.number)] += 1

    def unrecognised(self, line: Line) -> None:
        """Count a line the parser could not read, warning for the first few of each file."""
        self.unrecognised_lines += 1
        reading = self.chain.reading
        part = reading.part_of(line.number)
        reading.unrecognised[part] += 1
        if self.cut_lines and line.number in self.cut_lines:
            self.cut_lines[line.number] = "unrecognised"
            return  # the reader's warning about the cut last line states how it was counted
        if reading.unrecognised[part] <= MAX_LINE_WARNINGS:
            self.warn(line, f"unrecognised line: {excerpt(line.text)!r}")

    def warn(self, line: Line, message: str) -> None:
        """Record a warning about one line, under its file's name."""
        name, number = locate(self.chain, line.number)
        text = f"{name}:{number}: {message}"
        self.chain.reading.warnings[self.chain.reading.part_of(line.number)].append(text)
        logger.warning("%s", text)


class ChainCounted:
    """Pass the reader's lines on to the parser and count how many come from each file of a chain.

    Lines that never reach the parser (blank, or dropped as noise before a
    :class:`Line` is made) are each file's lines less the ones counted here.
    ``total``, ``blank`` and ``skipped`` are those of the wrapped iterable.
    """

    def __init__(self, counted, chain: Chain) -> None:
        self._counted = counted
        self._chain = chain

    def __getattr__(self, name: str) -> Any:
        return getattr(self._counted, name)

    def __iter__(self) -> Iterator[Line]:
        reading = self._chain.reading
        starts, yielded = reading.starts, reading.yielded
        part = 0
        for line in self._counted:
            number = line[0] if type(line) is tuple else line.number  # a raw (number, text) line, or a Line
            # Files are opened as the reader reaches them, so ``starts`` grows while this runs.
            while part + 1 < len(starts) and number >= starts[part + 1]:
                part += 1
            yielded[part] += 1
            yield line
        # Lines a format's prefilter counted as parsed never reached the parser; blocks never span two files.
        for first, count in getattr(self._counted, "passed", ()):
            reading.passed[reading.part_of(first)] += count


def locate(chain: Chain, number: int) -> tuple[str, int]:
    """Return the file name and the line number in that file of line ``number`` of the chain."""
    reading = chain.reading
    part = reading.part_of(number)
    return chain.parts[part].name, number - reading.starts[part] + 1


def relocate_rows(chain: Chain, rows: list[dict[str, Any]]) -> None:
    """Rewrite the ``session_id``, ``source`` and ``line`` of session rows to name the file each session started in."""
    for row in rows:
        if row.get("line") is None:
            continue
        name, number = locate(chain, int(row["line"]))
        row["session_id"] = _session_id(row["session_id"], name, number)
        row["source"], row["line"] = name, number


def relocate_frame(chain: Chain, frame):
    """Return a sessions frame with ``session_id``, ``source`` and ``line`` in per-file terms, as :func:`relocate_rows`.

    The three columns come back with object dtype; ``reader.apply_session_dtypes`` restores theirs.
    """
    import pandas as pd

    rows = frame[["session_id", "source", "line"]].astype(object).to_dict("records")
    for row in rows:
        if pd.isna(row["line"]):
            row["line"] = None
    relocate_rows(chain, rows)
    frame = frame.copy()
    for column in ("session_id", "source", "line"):
        frame[column] = pd.Series([row[column] for row in rows], index=frame.index, dtype=object)
    return frame


def relocate_events(chain: Chain, events: list[tuple]) -> list[tuple]:
    """Return event tuples (as ``reader.EVENT_COLUMNS``) whose source and line name each event's own file and line."""
    relocated = []
    for ts, session_id, _, number, *rest in events:
        name, local = locate(chain, number)
        match = SESSION_ID_RE.match(session_id) if session_id is not None else None
        if match is not None:
            started, started_line = locate(chain, int(match["line"]))
            session_id = _session_id(session_id, started, started_line)
        relocated.append((ts, session_id, name, local, *rest))
    return relocated


def _session_id(session_id: str | None, name: str, number: int) -> str | None:
    """Return a chain's session id (``chain-name:line`` with an optional ``#n``) for the file ``name``.

    An id of another form is returned as it is, so a session's row and events keep the same id.
    """
    match = SESSION_ID_RE.match(session_id or "")
    if match is None:
        return session_id
    return f"{name}:{number}{match['suffix'] or ''}"


def part_counts(chain: Chain, total: int, own_only: bool = False) -> list[dict[str, int]]:
    """Return each file's ``lines``, ``parsed``, ``noise`` and ``unrecognised`` after a read of ``total`` lines.

    ``own_only`` is for a share after the first of a chain read in shares
    (see ``reader.merge_share_reports``): its noise is only the noise lines
    the parser counted among its own lines.
    """
    reading: ChainReading = chain.reading
    counts = []
    for part in range(len(chain.parts)):
        if part >= len(reading.starts):
            counts.append({"lines": 0, "parsed": 0, "noise": 0, "unrecognised": 0})
            continue
        end = reading.starts[part + 1] if part + 1 < len(reading.starts) else total + 1
        lines = end - reading.starts[part]
        yielded = reading.yielded[part]
        unrecognised = reading.unrecognised[part]
        noise = reading.noise[part] if own_only else lines - yielded - reading.passed[part] + reading.noise[part]
        counts.append({"lines": lines, "parsed": lines - noise - unrecognised, "noise": noise,
                       "unrecognised": unrecognised})
    return counts


def read_chain(chain: Chain, result, read_one: Callable[..., None], **options: Any) -> None:
    """Read rotations of one log as one stream with ``read_one``, then add sessions, events and reports per file.

    ``result`` is the reader's ``ReadResult``.  Sessions cut by a rotation
    become one session, named after the file and line where it started.  A
    chain in no known format is read file by file, which gives each file the
    report it would get on its own.
    """
    from .reader import FileReport, ReadResult, _rows_frame, apply_session_dtypes

    joined = ReadResult()
    try:
        read_one(chain, joined, **options)
    finally:
        chain.opened = None  # the read's parse context no longer listens
    (report,) = joined.files
    if report.format is None:
        for part in chain.parts:
            read_one(part, result, **options)
        return

    if any(type(row) is not dict for row in joined.sessions):
        # Plain session records become rows only in a frame.
        joined.frames.append(_rows_frame(joined.sessions))
        joined.sessions = []
    relocate_rows(chain, joined.sessions)
    frames = [apply_session_dtypes(relocate_frame(chain, frame)) for frame in joined.frames]
    if frames and result.sessions:
        result.frames.append(_rows_frame(result.sessions))  # keeps the rows in reading order
        result.sessions = []
    result.frames.extend(frames)
    result.sessions.extend(joined.sessions)
    result.events.extend(relocate_events(chain, joined.events))

    started = Counter(row["source"] for row in joined.sessions)
    for frame in frames:
        started.update(frame["source"].tolist())
    reading = chain.reading
    share = options.get("share")
    own_only = share is not None and share[0] > 0
    for index, (part, counts) in enumerate(zip(chain.parts, part_counts(chain, report.lines, own_only))):
        decoded = reading.decoded[index] if index < len(reading.decoded) else Decoded()
        line_warnings = reading.warnings[index] if index < len(reading.warnings) else []
        # Warnings about the whole chain (its format, undated sessions) go to each of its files.
        warnings = [*line_warnings, *report.warnings] if own_only else [*decoded.warnings, *line_warnings, *report.warnings]
        unshown = counts["unrecognised"] - MAX_LINE_WARNINGS
        if unshown > 0:
            note = (f"{part.name}: {unshown} more unrecognised line{'s' if unshown > 1 else ''} not shown "
                    f"({counts['unrecognised']} in all)")
            warnings.append(note)
            logger.warning("%s", note)
        result.files.append(FileReport(part.name, report.format, report.confidence, decoded.encoding,
                                       decoded.compression, sessions=started[part.name], warnings=warnings,
                                       **counts))

"""The parse context and transcript helpers that every format parser shares.

A format module defines ``NAME``, ``DESCRIPTION``, ``CLIENT`` (the program
that writes it), ``detect(sample) -> float`` (0 to 1, from a list of
envelope-free line texts) and ``parse(lines, ctx) -> Iterator[Event]``.
``parse`` reports each line it cannot use through :meth:`ParseContext.noise`
or :meth:`ParseContext.unrecognised`; every other non-blank line counts as
parsed.  A module whose sessions come strictly one after another sets
``SESSIONS_IN_ORDER = True``, and the reader ends each of them when the
next begins (:func:`parse_items`).
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

from .. import replycodes as rc
from ..native import load_all, pure_python
from ..records import CLIENT, ERROR, LOCAL, NOTE, SERVER, Event, Line, SessionEnd
from ..redact import REDACTED, auth_payload_note, excerpt, redact_command, redact_text
from ..sessions import auth_attrs

logger = logging.getLogger(__name__)

MAX_LINE_WARNINGS = 5
NO_TURN = 1 << 62  # DayClock.turn when no file of a chain is waiting to be dated by its name
COMMAND_RE = re.compile(r"^\s*([A-Za-z]{4,8}|\.)\b")


@dataclass(slots=True)
class ParseOptions:
    """Settings that a caller passes to every parser."""

    tz: tzinfo = timezone.utc
    date: date | None = None


@dataclass
class ParseContext:
    """Per-file state a parser reports to, and helpers it calls.

    ``noise`` and ``unrecognised`` count lines; the first few unrecognised
    lines are logged as warnings with file and line number.
    """

    source: str
    options: ParseOptions = field(default_factory=ParseOptions)
    noise_lines: int = 0
    unrecognised_lines: int = 0
    blank_lines: int = 0
    warnings: list[str] = field(default_factory=list)
    file_date: date | None = None
    _awaiting_auth: dict[Any, bool] = field(default_factory=dict)
    _login_user_due: dict[Any, bool] = field(default_factory=dict)
    clock: DayClock = field(default_factory=lambda: DayClock())
    # The results of the pure part of client() and server() for each text seen,
    # so that a log that repeats the same commands and replies reads each once.
    _replies: dict[str, tuple | None] = field(default_factory=dict)
    _commands: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    kinds: Counter = field(default_factory=Counter)
    undated_lines: int = 0
    # True when the reader keeps no events, so a parser may yield a SessionRow
    # it built itself in place of a session's events and SessionEnd.
    rows_wanted: bool = False
    # (k, n) when this process reads share k of n of a file (see formats.postfix.SHARES).
    share: tuple[int, int] | None = None
    # How the file's envelopes are read, for a parser that gets some lines raw (see reader._Counted).
    envelope: Any = None
    # False while a file is read again (reread.session_events): its warnings were logged the first time.
    loud: bool = True
    # The numbers of the lines that end a file without a line end, each with how it was counted: "parsed"
    # until the parser counts it as "noise" or "unrecognised".  Set by the reader (reader._Counted).
    cut_lines: dict[int, str] = field(default_factory=dict)

    def noise(self, line: Line) -> None:
        """Count a line that the format prints but that carries no evidence."""
        self.noise_lines += 1
        if self.cut_lines and line.number in self.cut_lines:
            self.cut_lines[line.number] = "noise"

    def unrecognised(self, line: Line) -> None:
        """Count a line that the parser could not read, warning for the first few."""
        self.unrecognised_lines += 1
        if self.cut_lines and line.number in self.cut_lines:
            self.cut_lines[line.number] = "unrecognised"
            return  # the reader's warning about the cut last line states how it was counted
        if self.unrecognised_lines <= MAX_LINE_WARNINGS:
            message = f"{self.source}:{line.number}: unrecognised line: {excerpt(line.text)!r}"
            self.warnings.append(message)
            if self.loud:
                logger.warning("%s", message)

    def warn(self, line: Line, message: str) -> None:
        """Record a warning about one line."""
        text = f"{self.source}:{line.number}: {message}"
        self.warnings.append(text)
        if self.loud:
            logger.warning("%s", text)

    # Transcript helpers --------------------------------------------------

    def client(self, line: Line, command: str, session: Any, **attrs: Any) -> Event:
        """Return a client event for one command line, with credentials removed.

        AUTH commands get ``mechanism``, ``identity`` and ``auth_note`` attrs;
        a line sent while the server waits for an AUTH continuation is replaced
        by ``<redacted>`` whatever it holds.
        """
        command = command.rstrip("\r\n")
        if self._awaiting_auth.get(session):
            self._awaiting_auth[session] = False
            if self._login_user_due.pop(session, False):
                # The first AUTH LOGIN response is the user name, which may be kept (the password may not).
                identity, _ = auth_payload_note("LOGIN", command.strip())
                if identity:
                    attrs = {"identity": identity, **attrs}
            return Event(line.number, CLIENT, redact_command(command, in_auth=True), session, line.ts, "AUTH-DATA",
                         attrs=_with_envelope(line, attrs))

        known = self._commands.get(command)
        if known is not None:
            verb, text = known
        else:
            match = COMMAND_RE.match(command)
            verb = match.group(1).upper() if match else None
            text = redact_command(command)
            if verb != "AUTH" and text == command:  # never keep a text that contained a credential
                if len(self._commands) >= TEXT_CACHE_SIZE:
                    self._commands.clear()
                self._commands[command] = (verb, text)
        if verb == "AUTH":
            parts = command.split()
            mechanism = parts[1] if len(parts) > 1 else ""
            payload = parts[2] if len(parts) > 2 else None
            attrs = {**auth_attrs(mechanism, payload), "initial_response": payload is not None, **attrs}
            self._login_user_due[session] = mechanism.upper() == "LOGIN" and payload is None
        if line.log_host is not None or line.container is not None:
            _with_envelope(line, attrs)
        return Event(line.number, CLIENT, text, session, line.ts, verb, attrs=attrs)

    def server(self, line: Line, reply: str, session: Any, **attrs: Any) -> Event | None:
        """Return a server event for one reply line, or ``None`` if it is not a reply.

        A continuation line (``250-...``) gets ``attrs["continued"] = True``.
        A 334 reply moves the session into the AUTH continuation state.
        """
        reply = reply.rstrip("\r\n")
        known = self._replies.get(reply, _UNSEEN)
        if known is _UNSEEN:
            known = _read_reply(reply)
            if len(self._replies) >= TEXT_CACHE_SIZE:
                self._replies.clear()
            self._replies[reply] = known
        if known is None:
            return None
        code, last, enhanced, text = known
        if not last:
            attrs["continued"] = True
        if code == rc.AUTH_CHALLENGE:
            self._awaiting_auth[session] = True
        elif last:
            self._awaiting_auth[session] = False
        if line.log_host is not None or line.container is not None:
            _with_envelope(line, attrs)
        return Event(line.number, SERVER, text, session, line.ts, None, code, enhanced, attrs=attrs)

    def error(self, line: Line, text: str, session: Any, *, stage: str | None = None, code: int | None = None,
              enhanced: str | None = None, **attrs: Any) -> Event:
        """Return a local error event; ``stage`` is given when the format states it."""
        if stage is not None:
            attrs["stage"] = stage
        if code is not None and enhanced is None:
            enhanced = rc.find_enhanced(text)
        return Event(line.number, LOCAL, redact_text(text), session, line.ts, ERROR, code, enhanced,
                     attrs=_with_envelope(line, attrs))

    def local(self, line: Line, kind: str, text: str, session: Any, **attrs: Any) -> Event:
        """Return a local event of ``kind`` (see :mod:`smtplogkit.records`)."""
        return Event(line.number, LOCAL, redact_text(text), session, line.ts, kind, attrs=_with_envelope(line, attrs))

    def note(self, line: Line, text: str | None = None) -> Event:
        """Return an application line (a token refresh, a job start) as a note outside any session.

        Notes appear in :func:`smtplogkit.read_events` with no session id, where
        enrichment finds token refreshes, and never become session rows.
        """
        if line.ts is not None:
            if line.number >= self.clock.turn:
                self.turn_day(line.number)
            ts = line.ts
            self.clock.seen = ts.date()  # dates the time-of-day lines that follow
            self.clock.seen_seconds = ts.hour * 3600 + ts.minute * 60 + ts.second + ts.microsecond / 1e6
        return Event(line.number, LOCAL, redact_text(line.text if text is None else text), None, line.ts, NOTE)

    def time_of_day(self, session_key: Any, clock: time, line: Line) -> datetime | None:
        """Return a timestamp for a log that prints only the time of day.

        The date comes from the line's envelope, else the ``date`` option,
        else the date of the last dated application line (a note, such as
        Python logging's ``2026-12-05 08:00:01,123 INFO ...``), else a date in
        the file name.  When the clock goes backwards by more than an hour,
        the date moves on by a day (a log that runs past midnight), and a
        later dated line moves it on too.  A dated line also moves it back
        when the clock ran more than an hour past the line's own time.  That
        happens after a single line out of order by more than an hour, which
        reads as midnight.  Returns ``None`` when no date is known.
        """
        if line.ts is not None:
            return line.ts
        state = self.clock
        if line.number >= state.turn:
            self.turn_day(line.number)
        seconds = clock.hour * 3600 + clock.minute * 60 + clock.second + clock.microsecond / 1e6
        day = state.day
        seen, state.seen = state.seen, None
        if seen is not None and self.options.date is None and (
                day is None or seen > day
                or (day - seen).days * 86400 + state.seconds - state.seen_seconds > _DRIFT_SECONDS):
            # The dated line is ahead of the clock, or the clock is more than an hour ahead of it
            # because a line out of order moved the date on a day.
            day = seen
        elif day is not None:
            if seconds + 3600 < state.seconds:
                day = state.day = day + timedelta(days=1)
        else:
            day = self.options.date or self.file_date
        if day is None:
            self.undated_lines += 1
            return None
        state.day, state.seconds = day, seconds
        return datetime.combine(day, clock, tzinfo=self.options.tz)

    def turn_day(self, number: int) -> None:
        """Start the day clock afresh for the file of a chain that line ``number`` is in, dated by its name.

        Each file of a chain of rotations whose name carries a date
        (``app.log-20260302``) is dated as it would be read on its own:
        by its own name, not by the date its older sibling reached.  The
        reader queues such a file's first line number and date in
        ``clock.turns`` (see :class:`smtplogkit.rotations.ChainContext`).
        """
        state = self.clock
        turns = state.turns
        while turns and turns[0][0] <= number:
            _, self.file_date = turns.pop(0)
            state.day, state.seconds, state.seen = None, 0.0, None
        state.turn = turns[0][0] if turns else NO_TURN


@dataclass(slots=True)
class DayClock:
    """The date and time of day of the last line that :meth:`ParseContext.time_of_day` dated.

    ``day`` is None until a line has been dated.  ``seen`` is the date of a
    dated application line not yet used.  A parser with its own quick
    reading of the time of day keeps these fields as ``time_of_day`` would,
    and calls ``time_of_day`` whenever ``seen`` is set, so both readings
    agree on the date.
    """

    day: date | None = None
    seconds: float = 0.0
    seen: date | None = None
    seen_seconds: float = 0.0  # the time of day of the dated line that set ``seen``
    # The first line of the next file of a chain that is dated by its own name, and the queue of
    # such files as (first line, date), in line order.  Every reading of a line at or after
    # ``turn`` goes through ``time_of_day``, which starts the clock afresh for that file.
    turn: int = NO_TURN
    turns: list[tuple[int, date]] = field(default_factory=list)


TEXT_CACHE_SIZE = 4096
_UNSEEN = object()
# How far the day clock may run ahead of a dated line before that line's date is taken.
_DRIFT_SECONDS = 3600


def _read_reply(reply: str) -> tuple[int, bool, str | None, str] | None:
    """Return (code, is_last_line, enhanced code, redacted text) for one reply line, or None."""
    stripped = reply.strip()
    parts = rc.split_reply(stripped)
    if parts is None:
        return None
    code, last, rest = parts
    enhanced = rc.find_enhanced(rest[:12]) if code >= 400 or rest[:1].isdigit() else None
    return code, last, enhanced, redact_text(stripped)


def hit_score(hits: int, sample: list[str]) -> float:
    """Return a format's detection score for ``hits`` telltale lines in ``sample``.

    No hit scores 0; any hit scores 0.5 plus the share of the sample that hit,
    at most 1, so a few telltale lines among others still win over formats
    that saw none.
    """
    if not hits:
        return 0.0
    return min(1.0, 0.5 + hits / max(len(sample), 1))


def _with_envelope(line: Line, attrs: dict[str, Any]) -> dict[str, Any]:
    """Add the host and container that the line's envelope named, for the session row."""
    if line.log_host is not None:
        attrs.setdefault("log_host", line.log_host)
    if line.container is not None:
        attrs.setdefault("container", line.container)
    return attrs


def _seconds(value: time) -> float:
    return value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6


__all__ = ["ParseContext", "ParseOptions", "REDACTED"]


def parse_items(module: Any, lines: Any, ctx: ParseContext) -> Iterator[Any]:
    """Return what a format module's ``parse`` yields for ``lines``, with the ends of sessions it leaves out.

    A format whose sessions come one after another, each over before the
    next begins, declares it with ``SESSIONS_IN_ORDER = True``: its parser never
    yields an event for a session once an event of a later one has come.
    Such a session then ends at the first event of the next, so the reader
    builds its row and frees its events at once, and memory keeps one
    session's events instead of the file's.
    """
    items = module.parse(lines, ctx)
    if not getattr(module, "SESSIONS_IN_ORDER", False):
        return items
    return _end_in_order(items)


def _end_in_order(items: Iterable[Any]) -> Iterator[Any]:
    """Yield ``items``, and a :class:`SessionEnd` for the open session before the first event of another."""
    current = None
    try:
        for item in items:
            if type(item) is Event:  # rows a parser built itself pass as they are
                session = item.session
                if session != current and session is not None:
                    if current is not None:
                        yield SessionEnd(current)
                    current = session
            yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a reader that stops early closes the parser, and with it the file, now


def compiled(name: str) -> Any:
    """Return the compiled module ``smtplogkit.formats.<name>``, or None if it is not built or is turned off.

    ``setup.py`` builds these modules when a C compiler is available.  Each
    has a Python counterpart that gives the same results.  Setting
    ``SMTPLOGKIT_PURE_PYTHON=1`` turns them all off, to compare or to rule
    them out.  A build older than its ``.pyx`` source is not used, with a
    warning.
    """
    if pure_python():
        COMPILED[name] = "turned off by SMTPLOGKIT_PURE_PYTHON"
        return None
    try:
        module = importlib.import_module(f"{__package__}.{name}")
    except ImportError:
        COMPILED[name] = "not built"
        return None
    built = Path(module.__file__)
    source = built.with_name(f"{name}.pyx")
    if stale(built, source):
        # An edited .pyx next to an old build (an editable install): the build would not match the source.
        checkout = source.parents[2]
        # Once per process.  A reader that starts a pool warns for every stale build first
        # (check_builds), and its forked workers inherit that it did.
        if name in _WARNED:
            return None
        _WARNED.add(name)
        logger.warning("%s is newer than its build %s, so smtplogkit uses its Python code instead. Rebuild with "
                       "'%s -m pip install -e %s' (or 'make install' in %s)", source, built.name, sys.executable,
                       checkout, checkout)
        COMPILED[name] = "older than its source, not used"
        return None
    COMPILED[name] = "in use"
    return module


# The state compiled() found for each requested module: "in use", or why the Python code runs instead.
COMPILED: dict[str, str] = {}
# The modules whose stale build compiled() has warned about in this process.
_WARNED: set[str] = set()


def check_builds() -> None:
    """Look at every compiled module that has its ``.pyx`` source here, and warn for each stale build.

    The reader calls this before it starts worker processes, so that a
    stale build gives one warning, not one per worker.  It also imports
    the modules compiled whole, for their own check.
    """
    for source in sorted(Path(__file__).parent.glob("_*.pyx")):
        compiled(source.stem)
    load_all()  # the modules compiled whole (smtplogkit.native)


def stale(built: Path, source: Path) -> bool:
    """Return whether ``source`` exists and was changed after ``built`` was made."""
    return source.exists() and source.stat().st_mtime > built.stat().st_mtime

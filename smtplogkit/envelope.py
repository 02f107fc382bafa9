"""Removal of log envelopes: the prefixes that collectors wrap around a line.

Recognised envelopes, which may nest (docker compose around a timestamped
container line, for example):

* docker compose: ``service-1  | text``, giving ``container``, and pm2's
  ``0|app  | text``, giving the app name as ``container``;
* Docker json-file objects: ``{"log": "...", "stream": ..., "time": ...}``;
* Kubernetes CRI: ``2026-03-02T08:00:00.123456789Z stderr F text``;
* ``docker logs -t`` timestamps: ``2026-03-02T08:00:00.123456789Z text``;
* syslog and ``journalctl`` (``Mar  2 08:00:00 host prog[pid]: text``, and
  the ISO 8601 form ``2026-03-02T08:00:00+01:00 host prog[pid]: text``),
  giving ``log_host``, ``program`` and ``pid``.  The month may be named in
  another locale (:data:`LOCALE_MONTHS`).  A severity may come between
  host and tag (``host INFO prog[pid]:``, BusyBox's ``host mail.info
  prog[pid]:``), and in the ISO form an uppercase level may take the host's
  place (``2026-03-02T08:00:00.123456+00:00 INFO    prog[pid]: text``, as
  the boky/postfix image logs);
* logrus key-value lines (``time="..." level=error msg="..."``), and Go
  slog's text handler, which leaves the time unquoted;
* Ruby's ``Logger`` (``I, [2026-03-02T08:00:00.123456 #42]  INFO -- : text``);
* Monolog (``[2017-07-29 14:46:32] channel.ERROR: text``);
* Python logging: a leading ``YYYY-MM-DD HH:MM:SS,mmm`` with an optional
  level and logger name, ``basicConfig``'s ``LEVEL:logger:text``, and the
  level before the time (``ERROR 2024-05-01 10:00:00,123 text``, as
  Django's ``verbose`` formatter starts a line);
* Serilog's file sink: ``YYYY-MM-DD HH:MM:SS.fff +01:00 [ERR] text``;
* Go's ``log`` package: a leading ``YYYY/MM/DD HH:MM:SS`` (with optional
  microseconds);
* a column with the time of day and a tab, which a console, an IDE or a
  log viewer puts before each line it shows (``19:40:11:013\t...``).  It
  has no date, so it gives no timestamp, and the line's own time, if any,
  stays.

A bare leading date and time is taken as the line's timestamp and removed, so
format parsers see the message only and read the time from ``Line.ts``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from .records import Line

MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
# journalctl prints the month in the reader's locale: the German names that differ from the English ones.
MONTHS.update({"Mär": 3, "Mrz": 3, "Mai": 5, "Okt": 10, "Dez": 12})
# Month abbreviations of other locales, which journalctl prints in lower case and, in French,
# with a dot ("janv.").  They are read without the dot and in any case.  Each month lists its
# names in English, French (with and without accents), Spanish, Italian, Portuguese, Dutch and
# German.  A name that several languages share is the same month in each ("mar", "mai", "ago").
LOCALE_MONTHS: dict[str, int] = {
    name: number
    for number, names in enumerate([
        "jan janv ene gen",
        "feb févr fevr fév fev",
        "mar mars mär mrz mrt",
        "apr avr avril abr",
        "may mai mag mei",
        "jun juin giu",
        "jul juil lug",
        "aug août aout ago",
        "sep sept set",
        "oct okt ott out",
        "nov",
        "dec déc dic dez",
    ], 1)
    for name in names.split()
}
# The first three letters of each name, in lower case: a quick test before the pattern.
MONTH_HEADS = frozenset(name[:3] for name in LOCALE_MONTHS)


def month_number(name: str) -> int | None:
    """Return the month (1 to 12) that a syslog stamp's month name gives (``Dec``, ``Okt``, ``déc.``, ``ene``), or None."""
    number = MONTHS.get(name)
    if number is None:
        number = LOCALE_MONTHS.get(name.rstrip(".").lower())
    return number

COMPOSE_RE = re.compile(r"^([A-Za-z0-9][\w.-]*)\s+\|\s?(.*)$")
PM2_RE = re.compile(r"^\d+\|([\w.@-]+)\s*\| ?(.*)$")
CRI_RE = re.compile(r"^(\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)) (stdout|stderr) ([FP]) ?(.*)$")
# Severity words some collectors print before the syslog tag: rsyslog templates with
# %syslogseverity-text% (uppercase or not), and BusyBox syslogd's facility.level ("mail.info").
LEVELS = ("EMERG", "ALERT", "CRIT", "ERR", "ERROR", "WARNING", "WARN", "NOTICE", "INFO", "DEBUG")
_SEVERITY = (r"(?i:(?:(?:kern|user|mail|daemon|auth|authpriv|syslog|lpr|news|uucp|cron|ftp|local[0-7])\.)?"
             r"(?:emerg|alert|crit|err|error|warning|warn|notice|info|debug))")
# An ISO 8601 syslog line, with a host or, in its place, an uppercase level padded with spaces
# (boky/postfix's "2024-01-05T10:00:01.123456+00:00 INFO    postfix/smtp[123]: ...").  A
# severity may follow the host.
ISO_SYSLOG_RE = re.compile(
    rf"^(\d{{4}}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?) (?:(?:{'|'.join(LEVELS)}) +|(\S+) (?:{_SEVERITY} +)?)"
    r"([\w./@-]+?)(?:\[(\d+)\])?: (.*)$"
)
_MONTH_NAME = rf"(?:{'|'.join(MONTHS)}|(?i:{'|'.join(sorted(LOCALE_MONTHS, key=len, reverse=True))})\.?)"
BSD_SYSLOG_RE = re.compile(
    rf"^({_MONTH_NAME}) +(\d{{1,2}}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? (\S+) (?:{_SEVERITY} +)?"
    r"([\w./@-]+?)(?:\[(\d+)\])?: ?(.*)$"
)
# The offset may follow a space, as in Serilog's default "yyyy-MM-dd HH:mm:ss.fff zzz" timestamps.
LEADING_TS_RE = re.compile(
    r"^(\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?: ?(?:Z|[+-]\d\d:?\d\d))?)(?:\s+|$)(.*)$"
)
OFFSET_SPACE_RE = re.compile(r" (?=(?:Z|[+-]\d\d:?\d\d)$)")
PY_LEVEL_RE = re.compile(
    r"^(?:-\s+)?\[?(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\]?\s*(?:-\s+|:\s*)?(?:(?:\[[\w.-]+\]|[\w]+(?:\.[\w]+)+|[\w-]+):?\s+-?\s*)?(.*)$"
)
# Serilog's three-letter levels ("{Level:u3}"), which count only in brackets, where no message word looks like them.
SERILOG_LEVEL_RE = re.compile(r"^\[(?:VRB|DBG|INF|WRN|ERR|FTL)\] ?(.*)$")
# The logging cookbook's "%(asctime)s - %(name)s - %(levelname)s - %(message)s".
PY_NAME_FIRST_RE = re.compile(r"^-\s+[\w.-]+\s+-\s+(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\s+-\s+(.*)$")
PY_BASIC_RE = re.compile(r"^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL):[\w.]+:(.*)$")
# "%(levelname)s %(asctime)s ...": the level, then the time (Django's "verbose" formatter).
PY_LEVEL_FIRST_RE = re.compile(r"^(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL) +(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?) +(.*)$")
MONOLOG_RE = re.compile(r"^\[(\d{4}-\d\d-\d\d[ T][\d:.]+[^\]]*)\] [\w.-]+\.(?:DEBUG|INFO|NOTICE|WARNING|ERROR|CRITICAL|ALERT|EMERGENCY): (.*)$")
# logrus quotes the time and the message.  slog's text handler quotes neither unless it contains a space.
LOGRUS_RE = re.compile(r'^time=(?:"([^"]+)"|(\S+)) level=(\w+) msg=(?:"((?:[^"\\]|\\.)*)"|(\S*))(.*)$')
# Ruby's Logger::Formatter: severity letter, ISO time, process id, level, program name.  The space before
# the "#" is optional, as in the format string of older Rubies.
# A console's or viewer's time of day in a column of its own, before a tab.  Its fraction may follow a colon.
TIME_COLUMN_RE = re.compile(r"^(?:[01]?\d|2[0-3]):[0-5]\d:[0-5]\d(?:[.:,]\d{1,9})?\t(.*)$")
RUBY_LOGGER_RE = re.compile(r"^[DIWEFAU], \[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) ?#\d+\] +"
                            r"(?:DEBUG|INFO|WARN|ERROR|FATAL|ANY|UNKNOWN) -- [^:]*: ?(.*)$")


@dataclass(slots=True)
class EnvelopeOptions:
    """How to read envelope timestamps.

    ``tz`` is the zone of timestamps that carry no offset.  ``year`` is the
    year of the last line of a syslog file without years (from the file's
    modification time); earlier lines whose month is later than the last
    line's belong to the year before.  ``clock``, when set, tells which pass
    of a repeated hour a classic syslog stamp is in.  It follows the lines
    of one file, so each file needs options of its own.
    """

    tz: tzinfo = timezone.utc
    year: int | None = None
    last_month: int | None = None
    clock: WallClock | None = None  # set by watch_repeated_hours when ``tz`` repeats an hour in these years


_PAST_MICROSECONDS_RE = re.compile(r"^(.*?\.\d{6})\d+(.*)$")


@lru_cache(maxsize=4096)
def parse_timestamp(text: str, tz: tzinfo) -> datetime | None:
    """Parse an ISO 8601 timestamp, reading it in ``tz`` when it has no offset.

    Fractions past microseconds (Docker and CRI print nanoseconds) are cut.
    Results are cached, because lines of one second share a stamp.
    """
    text = text.replace(",", ".").replace("/", "-")
    match = _PAST_MICROSECONDS_RE.match(text)
    if match:
        text = match.group(1) + match.group(2)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    return value


def iso_time(text: str, options: EnvelopeOptions, number: int | None = None) -> datetime | None:
    """Return the time of an ISO 8601 stamp, as :func:`parse_timestamp` reads it.

    A stamp without an offset in an hour ``options.tz`` shows twice is read
    in the pass that ``options.clock`` finds line ``number`` in, as
    :func:`syslog_time` reads a classic stamp.
    """
    value = parse_timestamp(text, options.tz)
    if value is not None and options.clock is not None and number is not None and value.tzinfo is options.tz:
        return options.clock.resolve(value, number)
    return value


def syslog_time(match: re.Match, options: EnvelopeOptions, number: int | None = None) -> datetime | None:
    """Return the time of a classic syslog stamp, or None for one no clock shows (``Apr 31``, ``24:00:01``).

    ``match`` has the month name, day, hours, minutes, seconds and fraction as groups 1 to 6.
    ``number`` is the line's number in its file: with it, a stamp in an hour
    the zone shows twice is read in the pass ``options.clock`` finds it in
    (see :class:`WallClock`); without it, in the first pass.
    """
    month = month_number(match.group(1))
    year = _year(month, options)
    micro = int((match.group(6) or "0")[:6].ljust(6, "0"))
    day, clock = int(match.group(2)), (int(match.group(3)), int(match.group(4)), int(match.group(5)), micro)
    try:
        if month == 2 and day == 29:  # in a year inferred wrongly, the day after 28 February
            value = (datetime(year, 2, 28, *clock) + timedelta(days=1)).replace(tzinfo=options.tz)
        else:
            value = datetime(year, month, day, *clock, tzinfo=options.tz)
    except ValueError:
        return None
    if options.clock is not None and number is not None:
        return options.clock.resolve(value, number)
    return value


def _year(month: int, options: EnvelopeOptions) -> int:
    """Return the year of a classic syslog stamp in ``month``: the last line's, or the year before for a later month."""
    year = options.year or datetime.now(timezone.utc).year
    if options.last_month is not None and month > options.last_month:
        year -= 1
    return year


@lru_cache(maxsize=64)
def repeated_hours(tz: tzinfo, year: int) -> tuple[tuple[datetime, datetime, timedelta, timedelta], ...]:
    """Return the wall-clock spans of ``year`` that ``tz`` shows twice, as the clocks go back.

    Each span is (first naive wall time, end, offset in the first pass,
    offset in the second pass).  A fixed offset repeats nothing.
    """
    if isinstance(tz, timezone):
        return ()
    spans = []
    step = timedelta(hours=6)
    instant = datetime(year - 1, 12, 30, tzinfo=timezone.utc)
    offset = instant.astimezone(tz).utcoffset()
    while instant.year <= year:
        following = instant + step
        next_offset = following.astimezone(tz).utcoffset()
        if next_offset is not None and offset is not None and next_offset < offset:
            # Whole seconds since the epoch: the offset changes after low, at or before high.
            low, high = int(instant.timestamp()), int(following.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if datetime.fromtimestamp(middle, tz).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            high = datetime.fromtimestamp(high, timezone.utc)
            start = (high + next_offset).replace(tzinfo=None)
            if start.year == year:
                spans.append((start, (high + offset).replace(tzinfo=None), offset, next_offset))
        instant, offset = following, next_offset
    return tuple(spans)


# A stamp in a repeated hour this much earlier than the latest one before it starts the second pass.
STEP_BACK = timedelta(minutes=1)


class _Span:
    """One repeated hour as a file's lines show it: the latest first-pass stamp, and the line the second pass starts on."""

    __slots__ = ("start", "end", "first", "second", "top", "jump")

    def __init__(self, start: datetime, end: datetime, first: timedelta, second: timedelta) -> None:
        self.start, self.end = start, end
        self.first, self.second = timezone(first), timezone(second)
        self.top: datetime | None = None
        self.jump: int | None = None


class WallClock:
    """The pass of a repeated hour that each local stamp of one file falls in: classic syslog, or ISO 8601 without an offset.

    When the clocks go back, the zone shows an hour twice (in New York on
    1 November 2026, 01:00 to 02:00 first as EDT, then as EST), and a
    stamp in it names two instants.  A log written in order shows the wall
    clock step back, from 01:59:59 to 01:00:00: its lines from there on
    are in the second pass.  The clock watches the stamps of that hour in
    the order of the file's lines: :meth:`observe` takes one line, and
    :meth:`see` a whole block of raw lines.  It records the line where a
    stamp is more than :data:`STEP_BACK` earlier than the latest one before
    it.  A stamp of the hour on that line or a later one is read in the
    second pass, any other in the first.  The pass depends on the line's
    number only, so a line read again later, or by one of several shares
    of the file, gets the same time.

    Times in a repeated hour get a fixed offset (``-04:00`` or ``-05:00``)
    rather than the zone, so that subtracting and comparing them with the
    zone's times gives the real intervals.

    NOTE: a file that starts in the second pass shows no step back, so its
    stamps of the hour are read in the first pass.  Where a prefilter drops
    lines, stamps inside another envelope are observed only on the lines it
    keeps.
    """

    def __init__(self, options: EnvelopeOptions, spans: list[_Span]) -> None:
        self._options = options
        self._spans = spans
        self._open = list(spans)  # those whose second pass has not started yet
        self._seen = 0  # the last line observed
        self.days = frozenset(day for span in spans for day in ((span.start.month, span.start.day),
                                                                (span.end.month, span.end.day)))

    def resolve(self, value: datetime, number: int) -> datetime:
        """Return ``value``, the time of line ``number`` in the zone, in the pass of the repeated hour it is in."""
        if (value.month, value.day) not in self.days:
            return value
        wall = value.replace(tzinfo=None)
        for span in self._spans:
            if span.start <= wall < span.end:
                if number > self._seen:
                    self.observe(number, wall)
                second = span.jump is not None and number >= span.jump
                return wall.replace(tzinfo=span.second if second else span.first)
        return value

    def observe(self, number: int, wall: datetime) -> None:
        """Follow the wall clock to line ``number``, whose naive stamp is ``wall``; lines come in the file's order."""
        self._seen = number
        for span in self._open:
            if span.start <= wall < span.end:
                if span.top is not None and wall < span.top - STEP_BACK:
                    span.jump = number
                    self._open.remove(span)
                elif span.top is None or wall > span.top:
                    span.top = wall
                return

    def see(self, block, first: int) -> None:
        """Observe the classic syslog stamps of a block of raw lines, the first of which is line ``first``.

        Only a block whose first or last stamps come near an hour still in
        its first pass is read line by line, so the other blocks cost two
        stamps each.
        """
        if not self._open or not len(block):
            return
        if first + len(block) - 1 <= self._seen:
            return
        last = first + len(block) - 1
        low, high = _edge_walls(block, self._options)
        if low is None and high is None:
            # No line starts with a classic stamp.  Stamps inside other envelopes (docker
            # compose around syslog) are observed as strip_envelope reads the lines.
            return
        if (low is None or high is None or high < low
                or any(low < span.end and high >= span.start for span in self._open)):
            for number, text in enumerate(block, first):
                if number > self._seen and self._open:
                    wall = classic_wall(text, self._options)
                    if wall is not None:
                        self.observe(number, wall)
        # The block's lines count as observed even when it was not read, so that a
        # share, which reads only some of them later, never observes them itself.
        self._seen = max(self._seen, last)


def watch_repeated_hours(options: EnvelopeOptions) -> EnvelopeOptions:
    """Give ``options`` a :class:`WallClock` when its zone shows an hour twice in the years its stamps can be in."""
    year = options.year or datetime.now(timezone.utc).year
    spans = [_Span(*span) for candidate in (year - 1, year) for span in repeated_hours(options.tz, candidate)]
    options.clock = WallClock(options, spans) if spans else None
    return options


def classic_wall(text: str, options: EnvelopeOptions) -> datetime | None:
    """Return the naive time of a line that starts with a classic syslog stamp (``Nov  1 01:30:00``), or None."""
    if len(text) < 15 or text[3] != " " or text[9] != ":" or text[12] != ":":
        return None
    month = MONTHS.get(text[:3])
    if month is None:
        return None
    try:
        return datetime(_year(month, options), month, int(text[4:6]), int(text[7:9]), int(text[10:12]),
                        int(text[13:15]))
    except ValueError:
        return None


def _edge_walls(block, options: EnvelopeOptions) -> tuple[datetime | None, datetime | None]:
    """Return the naive times of the first and last classic syslog stamps among a block's first and last four lines."""
    data = getattr(block, "data", None)
    if isinstance(data, bytes):  # a block kept as bytes: read its ends without decoding it
        heads = [raw.decode("utf-8", "replace") for raw in data[:4096].split(b"\n", 4)[:4]]
        tails = [raw.decode("utf-8", "replace") for raw in data[-4096:].rsplit(b"\n", 4)[-4:]]
    else:
        heads, tails = block[:4], block[-4:]
    low = next((wall for wall in (classic_wall(text, options) for text in heads) if wall is not None), None)
    high = next((wall for wall in (classic_wall(text, options) for text in reversed(tails)) if wall is not None),
                None)
    return low, high


def strip_envelope(number: int, text: str, options: EnvelopeOptions) -> Line:
    """Return the :class:`Line` for one raw input line, its envelopes removed."""
    line = Line(number, text)
    if text:
        # Most lines of most logs carry no envelope: rule out each kind by its
        # first character before trying the patterns (the tests of _strip_once).
        first = text[0]
        if not (first == "{" or first in MONTHS_FIRST and _month_head(text) or first == "t" or first == "["
                or (first.isdigit() and len(text) >= 19 and text[4] in "-/")
                or (first.isdigit() and ":" in text[1:3] and "\t" in text[5:20])
                or (first in "DIWEC" and (":" in text[:9] or " " in text[4:9]))
                or (first in "DIWEFAU" and text[1:4] == ", [")
                or "|" in text[:64]):
            return line
    for _ in range(4):
        if not _strip_once(line, options):
            break
    return line


def _strip_once(line: Line, options: EnvelopeOptions) -> bool:
    text = line.text
    if not text:
        return False
    first = text[0]

    if first == "{" and text.startswith('{"log"'):
        return _strip_docker_json(line, options)

    if first.isdigit() and _strip_digit_prefix(line, options):
        return True

    if first.isdigit() and ":" in text[1:3] and "\t" in text[5:20]:
        match = TIME_COLUMN_RE.match(text)
        if match:
            line.text = match.group(1)
            return True

    if first in MONTHS_FIRST and _month_head(text):
        match = BSD_SYSLOG_RE.match(text)
        if match:
            line.ts = line.ts or syslog_time(match, options, line.number)
            line.log_host, line.program, line.pid = match.group(7), match.group(8), match.group(9)
            line.text = match.group(10)
            return True

    if first == "t" and text.startswith("time="):
        match = LOGRUS_RE.match(text)
        if match:
            line.ts = line.ts or iso_time(match.group(1) or match.group(2), options, line.number)
            message = match.group(4).replace('\\"', '"') if match.group(4) is not None else match.group(5)
            line.text = message + match.group(6)
            return True

    if text[1:4] == ", [":
        match = RUBY_LOGGER_RE.match(text)
        if match:
            line.ts = line.ts or iso_time(match.group(1), options, line.number)
            line.text = match.group(2)
            return True

    if first == "[":
        match = MONOLOG_RE.match(text)
        if match:
            line.ts = line.ts or iso_time(match.group(1).split(" ", 2)[0] + "T" + match.group(1).split(" ")[1] if " " in match.group(1) else match.group(1), options, line.number)
            line.text = match.group(2)
            return True

    if first in "DIWEC" and ":" in text[:9]:
        match = PY_BASIC_RE.match(text)
        if match:
            line.text = match.group(1)
            return True

    if first in "DIWEC" and " " in text[4:9]:
        match = PY_LEVEL_FIRST_RE.match(text)
        if match:
            line.ts = line.ts or iso_time(match.group(1), options, line.number)
            line.text = match.group(2)
            return True

    if "|" in text[:64] and line.container is None:
        match = COMPOSE_RE.match(text) or PM2_RE.match(text)
        if match:
            line.container = match.group(1)
            line.text = match.group(2)
            return True
    return False


MONTHS_FIRST = frozenset(m[0] for m in MONTHS) | frozenset(head[0] for head in MONTH_HEADS) | frozenset(
    head[0].upper() for head in MONTH_HEADS)


def _month_head(text: str) -> bool:
    """Return whether ``text`` may start with a month name of a syslog stamp (see :data:`MONTH_HEADS`)."""
    head = text[:3]
    return head in MONTHS or head.lower() in MONTH_HEADS


def _strip_docker_json(line: Line, options: EnvelopeOptions) -> bool:
    try:
        record = json.loads(line.text)
    except ValueError:
        return False
    if not isinstance(record, dict) or not isinstance(record.get("log"), str):
        return False
    line.text = record["log"].rstrip("\r\n")
    if isinstance(record.get("time"), str):
        line.ts = line.ts or iso_time(record["time"], options, line.number)
    return True


def _strip_digit_prefix(line: Line, options: EnvelopeOptions) -> bool:
    text = line.text
    if len(text) < 19 or text[4] not in "-/":
        return False

    match = CRI_RE.match(text)
    if match:
        line.ts = line.ts or iso_time(match.group(1), options, line.number)
        line.text = match.group(4)
        return True

    match = ISO_SYSLOG_RE.match(text)
    if match and not (match.group(2) or "x")[0].isdigit():
        line.ts = line.ts or iso_time(match.group(1), options, line.number)
        line.log_host = match.group(2) or line.log_host  # without a host of its own, the outer envelope's stays
        line.program, line.pid = match.group(3), match.group(4)
        line.text = match.group(5)
        return True

    match = LEADING_TS_RE.match(text)
    if match:
        stamp = OFFSET_SPACE_RE.sub("", match.group(1))  # fromisoformat takes no space before the offset
        line.ts = line.ts or iso_time(stamp, options, line.number)
        rest = match.group(2)
        named = PY_NAME_FIRST_RE.match(rest) if rest[:1] == "-" else None
        if named:
            line.text = named.group(1)
            return True
        level = PY_LEVEL_RE.match(rest)
        serilog = SERILOG_LEVEL_RE.match(rest) if rest[:1] == "[" else None
        if serilog:
            rest = serilog.group(1)
        elif level and rest[:1] in "-[DIWECF" and _looks_like_level(rest):
            rest = level.group(1)
        line.text = rest
        return True
    return False


def _looks_like_level(text: str) -> bool:
    head = text.lstrip("-[ ")
    return head.startswith(("DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL"))

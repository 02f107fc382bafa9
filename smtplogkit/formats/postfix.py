"""Postfix maillog: ``postfix/smtp`` and ``postfix/lmtp`` delivery attempts as sessions.

Notes
-----
Postfix logs through syslog, so lines arrive in one of three forms: the
classic form without a year (``Dec  4 21:00:00 host postfix/smtp[123]:
...``), the ISO 8601 form of newer syslog daemons, or as ``journalctl``
prints them.  The year of classic lines comes from a date in the file name
or else from the file's modification time, and lines of a later month than
the last line's belong to the year before.  ``-- Boot ...`` and ``-- Logs begin ...`` separators from journalctl
are noise.

One Postfix delivery attempt spreads over several lines of one ``smtp``
process.  ``connect to H[ip]:port: Connection timed out`` is one failed
connection attempt and names no queue id.  The delivery record that follows
from the same process id (``QID: to=<r>, relay=..., dsn=4.4.1,
status=deferred (connect to ...)``) gives the queue id and the DSN code.  It
repeats the last attempt's error rather than being an attempt of its own.
Recipients of one message delivered over one connection produce one delivery
record each and are one session with a recipient count.  A record with no
connection attempt of its own (``postfix/error`` "delivery temporarily
suspended", ``postfix/retry``, local delivery) is a delivery record but no
session.

The reason's ``(in reply to X command)`` gives the failure stage;
``lost connection with H while <activity>`` and ``conversation with H timed
out while <activity>`` give it through the activity.  ``Host or domain name
not found`` is a DNS session.  TLS failures (``SSL_connect error``,
``Cannot start TLS: handshake failure``, ``server certificate verification
failed``) are ``tls`` failures; ``TLS is required, but was not offered`` is
``starttls``.

Connection caching lets one connection carry several messages; each
(queue id, relay) pair is then a session of its own.  Lines of the server
side (``smtpd``, ``postscreen``, ``anvil``), of other Postfix daemons and of
other programs (dovecot, amavis, opendkim) are noise to the session table;
:func:`records` reads the server side's rate limits and rejections as
signals, and every delivery record.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from typing import Any

from .. import envelope
from ..envelope import MONTHS, EnvelopeOptions
from ..inputs import RawBlock, block_array

from ..labels import Stage, TlsMode
from ..records import TLS_OK, Event, Line, PlainBatch, SessionEnd, SessionRow
from . import _mta, _postfix_lean as _lean
from ._postfix_attempts import ConnectFailure, PlainAttempt, add_failure_events
from .base import ParseContext, compiled, hit_score

NAME = "postfix"
# Its session rows carry the queue id of the message an attempt delivered (a queue_id column).
QUEUE_IDS = True
DESCRIPTION = "Postfix maillog (syslog, ISO 8601 syslog, journalctl): smtp/lmtp delivery attempts"
CLIENT = "postfix"
PRIORITY = 20
# A file can be read in shares by several processes (see _parse).
SHARES = True

# A queue id: short (hexadecimal), or long (enable_long_queue_ids).  A long one is the time in
# Postfix's base-52 alphabet (digits and letters without vowels, "z" included), then "z", then the
# inode number in base 51 (without "z"): the separator is the last "z".
QID = r"(?:[0-9A-F]{5,15}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{8,15}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]{1,12})"
QID_LINE_RE = re.compile(rf"^({QID}): (.*)$")
STATUS_RE = re.compile(
    r"^to=<([^>]*)>,(?: orig_to=<([^>]*)>,)? relay=([^,]*),(?: conn_use=(\d+),)? delay=([\d.]+),"
    r"(?: delays=([\d./]+),)? dsn=(\d\.\d{1,3}\.\d{1,3}), status=(\w+)(?: \((.*)\))?$"
)
RELAY_RE = re.compile(r"^(.*?)\[([^\]]*)\](?::(\d+))?$")
CONNECT_TO_RE = re.compile(r"^connect to (\S+?)\[([^\]]*)\](?::(\d+))?: (.*)$")
HOST_SAID_RE = re.compile(r"^host (\S+?)\[([^\]]*)\] said: (.*?)(?: \(in reply to (.+?) command\))?$")
REFUSED_RE = re.compile(r"^host (\S+?)\[([^\]]*)\] refused to talk to me: (.*)$")
BROKEN_RE = re.compile(r"^(?:lost connection|conversation) with (\S+?)\[([^\]]*)\] (?:timed out )?while (.*)$")
TLS_ESTABLISHED_RE = re.compile(r"^(?:Trusted|Untrusted|Anonymous|Verified) TLS connection established to (\S+?)\[([^\]]*)\]:(\d+): ")
SSL_CONNECT_RE = re.compile(r"^SSL_connect error to (\S+?)\[([^\]]*)\]:(\d+): (.*)$")
CERT_FAILED_RE = re.compile(r"^(?:server )?certificate verification failed for (\S+?)\[([^\]]*)\]:(\d+): (.*)$")
TLS_REQUIRED_RE = re.compile(r"^TLS is required, but (?:was not offered by )?host (\S+?)\[([^\]]*)\]")
SASL_RE = re.compile(r"^SASL authentication failed; (?:server|cannot authenticate to server) (\S+?)\[([^\]]*)\]")
DNS_RE = re.compile(r"Host or domain name not found|Name service error for name=|Host not found")
SUSPENDED = "delivery temporarily suspended: "
# Beginnings of smtp lines that name no queue id, tested before the queue id
# pattern because they are the most common such lines.
NON_QUEUE_PREFIXES = ("connect to ", "Trusted TLS", "Untrusted TLS", "Anonymous TLS", "Verified TLS", "SSL_connect",
                      "certificate verification", "server certificate verification", "warning: ")
SIGNATURE_RE = re.compile(
    rf"^{QID}: (?:to=<[^>]*>,.* status=|from=<[^>]*>, (?:size=\d+, nrcpt=|status=expired)|client=|message-id=|removed$)|^connect to \S+?\[[^\]]*\]:\d+: |^NOQUEUE: |^(?:dis)?connect from \S+\["
    r"|^(?:Trusted|Untrusted|Anonymous|Verified) TLS connection established to |^< \S+?\[[^\]]*\]:\d+: [2-5]\d\d[ -]"
)
# A line of the SMTP dialogue that "smtp -v" or debug_peer_list logs: a command sent (">") or a
# reply line received ("<"), each after the peer.
TRANSCRIPT_RE = re.compile(r"^([<>]) (\S+?)\[([^\]]*)\]:(\d+): (.*)$")
REPLY_RE = re.compile(r"^([2-5])\d\d(?:[ -]|$)")
# The commands whose replies a transcript shows, by their first word.  Any other line the client
# sends (an AUTH LOGIN user name or password, a message line) leaves the last command in place,
# so that no such text is kept.
COMMAND_VERBS = {"EHLO": "EHLO", "HELO": "HELO", "LHLO": "LHLO", "STARTTLS": "STARTTLS", "AUTH": "AUTH",
                 "MAIL": "MAIL FROM", "RCPT": "RCPT TO", "DATA": "DATA", "BDAT": "BDAT", ".": "end of DATA",
                 "QUIT": "QUIT", "RSET": "RSET", "XCLIENT": "XCLIENT", "XFORWARD": "XFORWARD", "NOOP": "NOOP"}

# Postfix tries at most smtp_mx_address_limit addresses per delivery (5 by
# default).  Far more attempts waiting for a delivery record in one process
# mean the records are missing, as in a filtered log, so past this many the
# oldest are ended.
MAX_WAITING = 16
# Delivery agents whose records are SMTP or LMTP connection attempts.
SESSION_SERVICES = frozenset({"smtp", "lmtp"})
# Delivery agents whose records have no connection attempt of their own.
RECORD_SERVICES = frozenset({"error", "retry", "local", "virtual", "pipe", "discard"})
# Server-side lines that show a relay protecting itself.
SIGNAL_RES: tuple[tuple[str, re.Pattern], ...] = (
    # smtpd enforcing anvil's counters: "warning: Connection rate limit exceeded: 31 from H[ip] for service smtp".
    ("rate_limit", re.compile(r"^warning: .+? (?:rate|concurrency) limit exceeded: \d+ from ")),
    # postscreen "NOQUEUE: reject: CONNECT from [ip]:port: too many connections", and smtpd's 421 reply text.
    ("too_many_connections", re.compile(r"too many connections", re.IGNORECASE)),
    ("postscreen_reject", re.compile(r"^NOQUEUE: reject: (?:RCPT|CONNECT) from \[")),
    ("postscreen_test_failed", re.compile(r"^(?:PREGREET|HANGUP|COMMAND PIPELINING|COMMAND TIME LIMIT|COMMAND COUNT LIMIT|COMMAND LENGTH LIMIT|BARE NEWLINE|NON-SMTP COMMAND|DNSBL rank \d+)\b.*? from \[")),
    ("smtpd_reject", re.compile(r"^(?:NOQUEUE|" + QID + r"): (?:milter-)?reject: \S+ from ")),
)
BRACKETED_RE = re.compile(r"\[([0-9A-Fa-f:.]+)\]")


def _split_syslog(text: str, options: EnvelopeOptions) -> tuple | None:
    """Split a common syslog line by position into (ts, host, program, pid, message), or return None.

    ``Mmm dd hh:mm:ss host prog[pid]: text`` and its ISO 8601 variant are
    read without a regular expression, and the timestamp of consecutive
    lines, which mostly share one second, is parsed once.  Lines with a
    level in the host's place, or a second envelope inside the message,
    go to the general reader (None).
    """
    if len(text) <= 20:
        return None
    if text[3] == " " and text[15] == " " and text[:3] in MONTHS:
        stamp, rest = text[:15], text[16:]
    elif text[4] == "-" and text[10] == "T":
        space = text.find(" ", 19)
        stamp, rest = text[:space], text[space + 1:]
        if rest[:rest.find(" ")] in _LEVELS:
            return None  # a level in the host's place (boky/postfix): the general reader reads it
    else:
        return None
    host_end = rest.find(" ")
    tag_end = rest.find(": ", host_end + 1)
    if host_end <= 0 or tag_end <= 0:
        return None
    tag = rest[host_end + 1:tag_end]
    if " " in tag:
        return None
    ts = _stamp(stamp, options.year, options.last_month, options.tz)
    if ts is None:
        return None
    message = rest[tag_end + 2:]
    if (message[4:5] == "-" or message[3:4] == " ") and _NESTED_RE.match(message):
        return None  # another envelope inside (a container's log forwarded to syslog): the general reader reads both
    bracket = tag.find("[")
    if bracket > 0 and tag[-1] == "]":
        program, pid = tag[:bracket], tag[bracket + 1:-1]
    else:
        program, pid = tag, None
    return ts, rest[:host_end], program, pid, message


_LEVELS = frozenset(envelope.LEVELS)


def strip_envelope(number: int, text: str, options: EnvelopeOptions) -> Line:
    """Return the :class:`Line` for a raw maillog line, reading the common syslog forms quickly.

    Any form :func:`_split_syslog` does not read goes to the general envelope
    reader, which gives the same result more slowly.
    """
    parts = _split_syslog(text, options)
    if parts is None:
        return envelope.strip_envelope(number, text, options)
    ts, host, program, pid, message = parts
    return Line(number, message, ts, host, None, program, pid)


def strip_or_noise(number: int, text: str, options: EnvelopeOptions) -> Line | None:
    """Return the :class:`Line` for a raw maillog line, or None for a line of a process never analysed.

    The reader counts a None as a noise line without making a ``Line``,
    because the lines of smtpd, postscreen, anvil, bounce, amavis, opendkim
    and dovecot are about half of a relay's log.  A line is skipped only when
    :func:`_split_syslog` reads its envelope, so the parser would see the same
    program and count it as noise too.
    """
    parts = _split_syslog(text, options)
    if parts is None:
        return envelope.strip_envelope(number, text, options)
    ts, host, program, pid, message = parts
    analysed = _ANALYSED.get(program)
    if analysed is None:
        analysed = _ANALYSED[program] = _analysed(program)
    if not analysed or analysed == _WITH_PID and not _is_pid(pid):
        return None
    return Line(number, message, ts, host, None, program, pid)


def _analysed(program: str) -> int:
    """Return whether :func:`parse` reads any line of ``program`` (else it counts them all as noise).

    The result is 0 (no), 1 (yes) or :data:`_WITH_PID`: yes for a line
    whose tag has a process id, as a syslog name of its own needs (see
    :func:`_program_service`).
    """
    service, needs_pid = _program_service(program)
    if not (service in SESSION_SERVICES or service in RECORD_SERVICES or service in ("qmgr", "cleanup")):
        return 0
    if needs_pid:
        return _WITH_PID
    return 1


_WITH_PID = 2
_ANALYSED: dict[str, int] = {}


# Regular expressions for :func:`prefilter`, in RE2 syntax.  A stamp matches
# _DAY and _TIME only if :func:`_split_syslog` reads it and it parses: days
# past the 28th are left out for the months without them, and 29 February
# (whose validity depends on the year) is not matched at all.
_DAY = (r"(?:(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?: [1-9]|0[1-9]|1\d|2[0-8])"
        r"|(?:Jan|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (?:29|30)|(?:Jan|Mar|May|Jul|Aug|Oct|Dec) 31)")
_TIME = r"(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
# Postfix daemons whose lines the parser counts without reading, by name.
NOISE_SERVICES = ("smtpd", "postscreen", "anvil", "bounce", "master", "pickup", "tlsmgr", "scache", "proxymap",
                  "verify", "dnsblog", "tlsproxy", "trivial-rewrite", "postsuper", "postqueue", "sendmail",
                  "postdrop", "flush", "showq", "spawn", "oqmgr", "postlog", "policyd-spf")
_COUNTED_SERVICES = (*sorted(RECORD_SERVICES), "qmgr", "cleanup")
# The daemons a syslog name of its own may tag as Postfix's (see _program_service).
POSTFIX_SERVICES = frozenset({*SESSION_SERVICES, *NOISE_SERVICES, *_COUNTED_SERVICES})
# A syslog tag that does not start with "postfix": RE2 has no lookahead, so
# each way of leaving the word early is spelled out, the empty tag included.
_OTHER_TAG = "|".join([f"{'postfix'[:i]}[^ {'postfix'[i]}][^ ]*" for i in range(7)]
                      + ["postfix"[:i] for i in range(7)])
# The tag of a Postfix daemon's line, under any syslog name: NAME/DAEMON[pid].
_DAEMON_TAG = r"[^ \[]+/"
# A line whose envelope strip_or_noise reads, unless NESTED matches it too.
STAMPED = rf"^{_DAY} {_TIME} [^ ]+ [^ ]*: ."
# A stamped line whose message starts with another stamp: a container's log forwarded to
# syslog, as Docker's syslog driver does.  _split_syslog leaves it to the general reader.
NESTED = rf"^{_DAY} {_TIME} [^ ]+ [^ ]*: (?:{_DAY} {_TIME} |\d{{4}}-\d\d-\d\dT)"
_NESTED_RE = re.compile(rf"(?:{_DAY} {_TIME} |\d{{4}}-\d\d-\d\dT)", re.ASCII)
# A line to leave out: its envelope reads, and its tag is another program's
# or a Postfix daemon's whose lines the parser only counts.  A tag of
# another program's shape that names smtp or lmtp with a process id is
# Postfix's after all (see _program_service), so prefilter keeps the lines
# that SESSION_TAG matches.
SKIPPED = (rf"^{_DAY} {_TIME} [^ ]+ (?:{_DAEMON_TAG}(?:"
           + "|".join(re.escape(s) for s in (*NOISE_SERVICES, *_COUNTED_SERVICES))
           + rf")\[\d+\]|{_OTHER_TAG}): .")
SESSION_TAG = rf"^{_DAY} {_TIME} [^ ]+ {_DAEMON_TAG}(?:smtp|lmtp)\[\d+\]: ."
# Of the lines left out, those the parser counts as parsed.
PARSED_TAG = (rf"^.{{15}} [^ ]+ {_DAEMON_TAG}(?:(?:" + "|".join(sorted(RECORD_SERVICES))
              + r")\[\d+\]: |(?:qmgr|cleanup)\[\d+\]: " + QID + ": )")
# Blocks shorter than this go through the parser line by line.
PREFILTER_MIN = 64
# A TLS line or a status=sent record of an smtp or lmtp process, with an
# envelope strip_or_noise reads: the prefilter can hand these over raw.
RAW_LINE = _lean.line_pattern(_DAY, _TIME, QID)
RAW_LINES = True
# The compiled prefilter, or None to use pyarrow's regular expressions (see base.compiled).
SCAN = compiled("_postfix_scan")
# The class that reads raw lines (see _parse): the compiled twin of _lean.Episodes, when it is built.
EPISODES = getattr(compiled("_postfix_episodes"), "Episodes", _lean.Episodes)


def _agent_of_shares(shares: tuple[int, ...], count: int) -> str:
    """Return an RE2 expression for the lines of smtp and lmtp processes that ``shares`` of ``count`` read (see _share_of)."""
    digits = "".join(str(digit) for digit in range(10) if digit % count in shares)
    return rf"^{_DAY} {_TIME} [^ ]+ {_DAEMON_TAG}(?:smtp|lmtp)\[\d*[{digits}]\]: "


def prefilter(block: list[str], share: tuple[int, int] | None = None, raw: bool = False) -> tuple[Any, ...]:
    """Return the positions in ``block`` of the lines :func:`parse` must see, and how many others are noise.

    When the compiled scanner is built (:data:`SCAN`, from
    ``_postfix_scan.pyx``) and the block keeps its bytes, one pass over them
    gives the result.  With ``raw``, it adds a fourth item, the kept lines
    as strings.  Otherwise a block of raw lines is matched at once with
    pyarrow's regular expressions (RE2), which give the same result.  A line
    is left out only when :func:`strip_or_noise` would read its envelope
    and :func:`parse` would count it without reading it.  Lines of other
    programs, and of Postfix daemons the parser does not
    analyse, are noise.  A qmgr or cleanup line about a queue id, and a line
    of ``error``, ``retry`` or another record-only agent, counts as parsed.
    Every other line, including any with an unusual envelope, goes to the
    parser, so the result is the same with or without this filter.

    For share k of n of a file (see :func:`_parse`), the lines of smtp and
    lmtp processes that other shares read are left out too.  The first
    share keeps everything else; the other shares keep only their own
    processes' lines and lines with an unusual envelope, and the noise count
    they return is not used.

    With ``raw``, a third item flags each kept line that matches
    :data:`RAW_LINE`; the reader hands those to :func:`parse` as
    ``(number, text)`` tuples.
    """
    data = getattr(block, "data", None)
    if SCAN is not None and data is not None:
        index, count = share or (0, 1)
        return SCAN.scan(data, len(block), index, count, raw, isinstance(block, RawBlock))
    if len(block) < PREFILTER_MIN:
        return range(len(block)), 0
    import numpy as np
    import pyarrow.compute as pc

    array = block_array(block)  # values may end with their LF, so the expressions do not use "$"
    index, count = share or (0, 1)
    flat = pc.invert(pc.match_substring_regex(array, NESTED))  # a line with one envelope only
    if index > 0:
        usual = pc.and_(pc.match_substring_regex(array, STAMPED), flat)
        skip = pc.and_(usual, pc.invert(pc.match_substring_regex(array, _agent_of_shares((index,), count))))
        skip = skip.to_numpy(zero_copy_only=False)
        return _kept(array, np.flatnonzero(~skip), 0, raw)
    skip = pc.and_(pc.and_(pc.match_substring_regex(array, SKIPPED), flat),
                   pc.invert(pc.match_substring_regex(array, SESSION_TAG)))
    parsed = pc.sum(pc.and_(skip, pc.match_substring_regex(array, PARSED_TAG))).as_py() or 0
    noise = (pc.sum(skip).as_py() or 0) - parsed
    if count > 1:
        # Left out too, but neither noise nor this share's: counted as parsed, as the other share reads them.
        others = tuple(range(1, count))
        skip = pc.or_(skip, pc.and_(pc.match_substring_regex(array, _agent_of_shares(others, count)), flat))
    skip = skip.to_numpy(zero_copy_only=False)
    return _kept(array, np.flatnonzero(~skip), noise, raw)


def _kept(array, positions, noise: int, raw: bool) -> tuple[Any, ...]:
    """Return what :func:`prefilter` returns for the kept ``positions`` of a block's ``array``."""
    if not raw:
        return positions.tolist(), noise
    import pyarrow as pa
    import pyarrow.compute as pc

    whole = pc.match_substring_regex(array.take(pa.array(positions)), RAW_LINE)
    return positions.tolist(), noise, whole.to_numpy(zero_copy_only=False).tolist()


@lru_cache(maxsize=1024)
def _stamp(stamp: str, year: int | None, last_month: int | None, tz: tzinfo) -> datetime | None:
    """Return the time of a syslog or ISO 8601 stamp, or None to leave it to the general reader.

    Classic stamps of an hour that ``tz`` shows twice go to the general
    reader.  The same stamp names another instant in the second pass, and
    only the file's :class:`~smtplogkit.envelope.WallClock` finds the pass,
    from the line's number.  So such a stamp's time must not be cached here.
    """
    if stamp[4] == "-":
        return envelope.parse_timestamp(stamp, tz)
    month = MONTHS[stamp[:3]]
    year = year or datetime.now(timezone.utc).year
    if last_month is not None and month > last_month:
        year -= 1  # a line from December in a file last written in January
    try:
        value = datetime(year, month, int(stamp[4:6]), int(stamp[7:9]), int(stamp[10:12]), int(stamp[13:15]),
                         tzinfo=tz)
    except ValueError:
        return None
    if type(tz) is not timezone and value.replace(fold=1).utcoffset() < value.utcoffset():
        return None  # in an hour the zone repeats
    return value


def detect(sample: list[str]) -> float:
    """Score how much of the sample reads as Postfix log messages."""
    hits = sum(1 for text in sample if SIGNATURE_RE.search(text))
    return hit_score(hits, sample)


@dataclass(slots=True)
class _Process:
    """One smtp or lmtp process: its attempts waiting for a queue id and the open one."""

    waiting: list[_mta.Attempt] = field(default_factory=list)
    open: _mta.Attempt | None = None
    open_relay: str | None = None
    tls_problem: str | None = None
    command: str | None = None  # the last command of a transcript (see _transcript_line), None before the greeting
    failed_reply: tuple | None = None  # a transcript's failing reply that no record has reported yet

    def close_open(self) -> Iterator[Event | SessionEnd]:
        if self.open is not None:
            yield from self.open.finish()
            self.open = None
            self.open_relay = None

    def close_all(self) -> Iterator[Event | SessionEnd]:
        yield from self.close_open()
        for attempt in self.waiting:
            yield from attempt.finish()
        self.waiting = []


def _service(line: Line) -> str | None:
    """Return the Postfix daemon name of a line, ``""`` for another program, None if unknown."""
    program = line.program
    if program is None:
        return None
    service, needs_pid = _program_service(program)
    return "" if needs_pid and not _is_pid(line.pid) else service


@lru_cache(maxsize=1024)
def _program_service(program: str) -> tuple[str, bool]:
    """Return the Postfix daemon a syslog program name names (``""`` for none), and whether that needs a process id.

    A name that starts with ``postfix`` is Postfix's (``postfix/smtp``,
    ``postfix-out/smtp``, ``postfix/submission/smtpd``): its last part is
    the daemon.  Postfix's ``syslog_name`` may be anything, though
    (``example.com/smtp``, ``mta2/smtpd``).  Another name counts only as
    ``NAME/DAEMON`` with a non-empty ``NAME`` and a daemon from
    :data:`POSTFIX_SERVICES`, and only on a line whose tag gives a process
    id in ASCII digits (``[76]``), as Postfix's daemons log it.  So
    ``sshd[12]``, ``dovecot/imap[40]`` and ``amavis[7]`` stay other
    programs.
    """
    if program.startswith("postfix"):
        return program.rsplit("/", 1)[-1], False
    name, _, service = program.rpartition("/")
    if name and service in POSTFIX_SERVICES:
        return service, True
    return "", False


def _is_pid(pid: str | None) -> bool:
    """Return whether a syslog tag's process id is one or more ASCII digits."""
    return pid is not None and pid.isascii() and pid.isdigit()


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn Postfix smtp/lmtp log lines into the events of one session per connection attempt.

    The reader collects garbage less often while a parser runs (see
    ``reader.GC_THRESHOLD``).
    """
    yield from _parse(lines, ctx)


def _parse(lines: Iterable[Line | tuple[int, str]], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    # An smtp or lmtp process's lines depend on each other, but never on another
    # process's.  So share k of n reads the processes whose id's last digit is
    # k modulo n, and the first share also reads every line of no such process.
    share, shares = ctx.share or (0, 1)
    processes: dict[tuple, _Process] = {}
    services: dict[str | None, tuple] = {}  # syslog program -> (daemon, needs a process id), computed once per name
    # Raw lines (see RAW_LINE) of a process whose state the general code does
    # not hold build its current attempt as an Episode.  `general` maps the
    # other processes' raw keys to their keys in `processes`.
    general: dict[str, tuple] = {}
    options = ctx.envelope or EnvelopeOptions()
    lean = EPISODES(lambda stamp: _stamp(stamp, options.year, options.last_month, options.tz))
    for line in lines:
        if type(line) is tuple:
            status = lean.take(line[0], line[1], general)
            if status == _lean.TAKEN:
                continue
            if status == _lean.GENERAL:
                number, text = line
                name, body = _lean.process_key(text)
                process = processes[general[name]]
                if process.waiting or not text.startswith(_lean.TLS_HEADS, body):
                    line = strip_envelope(number, text, options)
                    handled = yield from _quick_agent_line(line, process, ctx)
                    if not handled:
                        yield from _agent_line(line, process, ctx)
                    continue
                # A new connection with nothing waiting: the general code's state ends here.
                yield from _unreported_failure(process, ctx)
                yield from process.close_open()
                del general[name]
                status = lean.take(number, text, general)
            if status == _lean.REFUSED:
                name, _ = _lean.process_key(line[1])
                yield from _to_general(name, lean.current.pop(name, None), line, processes, general, ctx, options)
            elif status == _lean.FULL:
                yield lean.ended
                lean.ended = PlainBatch()
            continue

        if line.text[-1:] in _BLANKS:
            line.text = line.text.rstrip(" \t")  # pasted or edited logs carry trailing blanks; the patterns end at $
        program = line.program
        known = services.get(program)
        if known is None:
            known = services[program] = _program_service(program) if program is not None else (None, False)
        service, needs_pid = known
        if needs_pid and not _is_pid(line.pid):
            service = ""  # another syslog name without a process id: not a Postfix daemon (see _program_service)
        if service is None:
            service = _guess_service(line.text)
        if shares > 1 and _share_of(line, service, shares) != share:
            continue
        if service == "" and program is None and not line.text.startswith("-- "):
            # No syslog envelope and not a Postfix message: not a maillog line
            # (journalctl's "-- Boot ..." separators excepted).
            ctx.unrecognised(line)
            continue
        if service in SESSION_SERVICES:
            key = (line.log_host, line.program, line.pid)
            process = processes.get(key)
            if process is None:
                process = processes[key] = _Process()
            name = _lean.key_of(*key)
            if name not in general:
                episode = lean.current.pop(name, None)
                if episode is not None:
                    yield from _to_general(name, episode, None, processes, general, ctx, options)
                general[name] = key
            handled = False
            if _maybe_quick(line.text):
                handled = yield from _quick_agent_line(line, process, ctx)
            if not handled:
                yield from _agent_line(line, process, ctx)
        elif service in RECORD_SERVICES or service in ("qmgr", "cleanup") and QID_LINE_RE.match(line.text):
            pass  # delivery records and message facts: read by records()
        else:
            ctx.noise(line)
    for process in processes.values():
        yield from _unreported_failure(process, ctx)
        yield from process.close_all()
    ended = lean.finish()
    if ended:
        yield ended


def _to_general(name: str, episode: _lean.Episode | None, raw: tuple[int, str] | None,
                processes: dict[tuple, _Process], general: dict[str, tuple], ctx: ParseContext,
                options: EnvelopeOptions) -> Iterator[Event | SessionEnd]:
    """Hand a process over to the general code: replay its episode's lines, if any, then the raw line ``raw``, if any.

    The process's state in the general code is empty while it builds
    episodes, so replaying the lines gives the state the general code would
    have reached reading them itself.
    """
    process = None
    for number, text in [*(episode.lines if episode is not None else ()), *([raw] if raw is not None else [])]:
        line = strip_envelope(number, text, options)
        if process is None:
            key = (line.log_host, line.program, line.pid)
            process = processes.get(key)
            if process is None:
                process = processes[key] = _Process()
            general[name] = key
            if episode is not None and episode.tls_at is not None and process.open is None and not process.waiting:
                # The episode's TLS line: the attempt _quick_agent_line would start, from the fields read already.
                process.waiting.append(PlainAttempt(ctx, line, episode.host, episode.ip, episode.port,
                                                    TlsMode(episode.tls_mode)))
                continue
        handled = yield from _quick_agent_line(line, process, ctx)
        if not handled:
            yield from _agent_line(line, process, ctx)


def _share_of(line: Line, service: str | None, shares: int) -> int:
    """Return the share that reads a line: by the last digit of an smtp or lmtp process's id, else the first.

    The last digit alone decides, so that the prefilter can tell the
    shares apart with a regular expression.  Shares past the tenth would
    read nothing, so :func:`smtplogkit.parallel.share_count` makes at most ten.
    """
    pid = line.pid
    if service in SESSION_SERVICES and pid and pid.isdigit():
        return int(pid[-1]) % shares
    return 0


def _guess_service(text: str) -> str:
    """Return the daemon a line without a syslog envelope most likely came from."""
    if text.startswith(("connect to ", "SSL_connect error", "Trusted TLS", "Untrusted TLS", "Anonymous TLS", "Verified TLS")):
        return "smtp"
    match = QID_LINE_RE.match(text)
    if match and match.group(2).startswith(("to=<", "host ", "lost connection with", "conversation with")):
        return "smtp"
    return ""


_BLANKS = (" ", "\t")
TLS_PREFIXES = ("Trusted TLS", "Untrusted TLS", "Anonymous TLS", "Verified TLS")


def _maybe_quick(text: str) -> bool:
    """Return False for a line :func:`_quick_agent_line` surely does not handle, checked without calling it."""
    return text.startswith(TLS_PREFIXES) or "status=sent" in text


def _quick_agent_line(line: Line, process: _Process, ctx: ParseContext) -> Iterator[Event | SessionEnd | SessionRow]:
    """Handle a TLS line or a ``status=sent`` record the way :func:`_agent_line` would, and return True.

    Return False, having changed nothing, for any other line or state; the
    caller then passes the line to :func:`_agent_line`.  Attempts made here
    are :class:`PlainAttempt`.
    """
    text = line.text
    if text.startswith(TLS_PREFIXES):
        match = TLS_ESTABLISHED_RE.match(text)
        if match is None:
            return False
        host, ip, port = match.groups()
        waiting = process.waiting
        if waiting:
            last = waiting[-1]
            if last.connected and last.ip == ip and last.queue_id is None:
                return False  # established after a verification failure: a note to that attempt
        if process.open is not None:
            yield from process.close_open()
        waiting.append(PlainAttempt(ctx, line, host, ip, _port(port), _tls_mode(port)))
        return True

    if "status=sent" not in text or text.startswith(NON_QUEUE_PREFIXES):
        return False
    match = QID_LINE_RE.match(text)
    status = STATUS_RE.match(match.group(2)) if match else None
    if status is None or status.group(8) != "sent":
        return False
    qid, recipient, relay, reason = match.group(1), status.group(1), status.group(3), status.group(9) or ""

    # Another recipient of the open attempt (see _status_line).
    open_attempt = process.open
    if (open_attempt is not None and open_attempt.queue_id == qid and process.open_relay in (relay, None)
            and recipient not in open_attempt.addresses):
        if type(open_attempt) is not PlainAttempt:
            return False
        open_attempt.recipients += 1
        open_attempt.addresses.add(recipient)
        open_attempt.mark_sent(line, reason)
        process.failed_reply = None
        return True

    relay_match = RELAY_RE.match(relay)
    if relay_match is None:
        return False
    host, ip, port = relay_match.groups()
    if "/" in ip:
        ip = None  # an LMTP or SMTP socket path such as private/dovecot-lmtp
    waiting = process.waiting
    found = None
    for index in range(len(waiting) - 1, -1, -1):
        candidate = waiting[index]
        if candidate.connected and (ip is None or candidate.ip == ip):
            if type(candidate) is not PlainAttempt:
                return False
            found = index
            break

    if process.open is not None:
        yield from process.close_open()
    attempt = waiting.pop(found) if found is not None else None
    yield from _finish_waiting(process, qid, None)
    if attempt is None:
        attempt = PlainAttempt(ctx, line, host, ip, _port(port), None)
    attempt.queue_id = qid
    attempt.recipients = 1
    attempt.addresses.add(recipient)
    attempt.mark_sent(line, reason)
    process.open, process.open_relay = attempt, relay
    process.failed_reply = None
    return True


def _agent_line(line: Line, process: _Process, ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    text = line.text
    if not text.startswith(NON_QUEUE_PREFIXES):
        match = QID_LINE_RE.match(text)
        if match:
            process.failed_reply = None  # the record or the given-up host reports the attempt
            yield from _queue_line(line, match.group(1), match.group(2), process, ctx)
            return

    if text[:2] in _TRANSCRIPT_HEADS:
        match = TRANSCRIPT_RE.match(text)
        if match:
            yield from _transcript_line(line, match, process, ctx)
            return

    match = CONNECT_TO_RE.match(text)
    if match:
        if process.open is not None:
            yield from process.close_open()
        host, ip, port, error = match.groups()
        if ctx.rows_wanted:
            process.waiting.append(ConnectFailure(ctx, line, text, host, ip, _port(port)))
        else:
            process.waiting.append(_mta.connect_failure(ctx, line, text, host, ip, _port(port)))
        if len(process.waiting) > MAX_WAITING:
            yield from process.waiting.pop(0).finish()
        return

    match = TLS_ESTABLISHED_RE.match(text)
    if match:
        host, ip, port = match.groups()
        last = process.waiting[-1] if process.waiting else None
        if last is not None and last.connected and last.ip == ip and last.queue_id is None:
            _mta.add_note(ctx, line, last, text)  # established after a verification failure
            return
        if process.open is not None:
            yield from process.close_open()
        attempt = _mta.connected(ctx, line, host, ip, _port(port), tls_mode=_tls_mode(port))
        attempt.add(_mta.local_event(line, TLS_OK, text, attempt.key))
        process.waiting.append(attempt)
        return

    match = SSL_CONNECT_RE.match(text) or CERT_FAILED_RE.match(text)
    if match:
        if process.open is not None:
            yield from process.close_open()
        host, ip, port, error = match.groups()
        detail = f"{text}; {process.tls_problem}" if process.tls_problem else text
        process.tls_problem = None
        attempt = _mta.connected(ctx, line, host, ip, _port(port), tls_mode=_tls_mode(port))
        attempt.failed = True
        attempt.reason = text
        attempt.add(ctx.error(line, detail, attempt.key, stage=Stage.TLS.value, connected=True))
        process.waiting.append(attempt)
        return

    if text.startswith("warning: TLS library problem:"):
        process.tls_problem = text[len("warning: TLS library problem:"):].strip()
        return
    ctx.noise(line)


_TRANSCRIPT_HEADS = ("> ", "< ")


def _transcript_line(line: Line, match: re.Match, process: _Process,
                     ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Follow one line of an ``smtp -v`` or debug_peer_list transcript.

    The delivery record that follows a failing reply reports the attempt,
    so the reply is only kept until then.  When the log has no such record
    (an excerpt), the next greeting or the end of the log makes the reply
    the failure of a session (see :func:`_unreported_failure`).  A failing
    reply counts as parsed, any other transcript line as noise.
    """
    direction, host, ip, port, content = match.groups()
    if direction == ">":
        verb = COMMAND_VERBS.get(content.split(" ", 1)[0].split(":", 1)[0].upper())
        if verb is not None:
            process.command = verb
        ctx.noise(line)
        return
    reply = REPLY_RE.match(content)
    if reply is None:
        ctx.noise(line)
        return
    failed = process.failed_reply
    if process.command is None and failed is not None and failed[4][3:4] != "-":
        yield from _unreported_failure(process, ctx)  # a new greeting: the failure before it had no record
    if reply.group(1) in "45":
        process.failed_reply = (line, host, ip, port, content, process.command)
        return
    if process.command in ("QUIT", "RSET"):
        if process.command == "QUIT":
            process.command = None  # the next reply is a new connection's greeting
    else:
        process.failed_reply = None  # the dialogue went on, as after a HELO that replaced a rejected EHLO
    ctx.noise(line)


def _unreported_failure(process: _Process, ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """End the session of a transcript's failing reply that no delivery record reported, if there is one.

    The reason is worded as Postfix words a record's, so it gives the stage
    and cause a record would.
    """
    failed, process.failed_reply, process.command = process.failed_reply, None, None
    if failed is None:
        return
    line, host, ip, port, reply, command = failed
    if command is None:
        reason = f"host {host}[{ip}] refused to talk to me: {reply}"
    else:
        reason = f"host {host}[{ip}] said: {reply} (in reply to {command} command)"
    stage = _describe(reason)[0]
    attempt = _take_connected(process, ip) or _mta.connected(ctx, line, host, ip, _port(port))
    _add_failure(ctx, line, attempt, reason, stage, None)
    yield from attempt.finish()


def _port(value: str | None) -> int | None:
    return int(value) if value else None


def _tls_mode(port: str | None) -> TlsMode:
    # Postfix's smtp client uses STARTTLS unless smtp_tls_wrappermode is set,
    # which is only useful on port 465.
    return TlsMode.IMPLICIT if port == "465" else TlsMode.STARTTLS


def _queue_line(line: Line, qid: str, rest: str, process: _Process, ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    status = STATUS_RE.match(rest)
    if status:
        yield from _status_line(line, qid, status, process, ctx)
        return
    kind = _describe(rest)
    if kind is None:
        ctx.noise(line)  # "enabling PIX workarounds", notifications, and similar
        return
    stage, host, ip = kind

    if rest.startswith("Cannot start TLS") or rest.startswith("Server certificate not verified"):
        tls_attempt = _last_tls_failure(process)
        if tls_attempt is not None:
            tls_attempt.queue_id = tls_attempt.queue_id or qid
            _mta.add_note(ctx, line, tls_attempt, rest)
            return
    if process.open is not None:
        yield from process.close_open()
    attempt = _take_connected(process, ip) or PlainAttempt(ctx, line, host, ip, None, None)
    _add_failure(ctx, line, attempt, rest, stage, None)
    attempt.queue_id = qid
    if process.waiting:
        yield from _finish_waiting(process, qid, None)
    process.open = attempt
    process.open_relay = ip


def _last_tls_failure(process: _Process) -> _mta.Attempt | None:
    for attempt in reversed(process.waiting):
        if attempt.failed and attempt.connected:
            return attempt
    return None


@lru_cache(maxsize=4096)
def _describe(reason: str) -> tuple[Stage, str | None, str | None] | None:
    """Return (stage, host, ip) of a failure reason, or None if it names no failure.

    Cached because a maillog repeats the same reasons for many attempts.
    """
    if reason.startswith(SUSPENDED):
        reason = reason[len(SUSPENDED):]
    match = HOST_SAID_RE.match(reason)
    if match:
        stage = _mta.command_stage(match.group(4) or "") or Stage.MAIL_FROM
        return stage, match.group(1), match.group(2)
    match = REFUSED_RE.match(reason)
    if match:
        return Stage.GREETING, match.group(1), match.group(2)
    match = BROKEN_RE.match(reason)
    if match:
        return _mta.activity_stage(match.group(3)) or Stage.DATA, match.group(1), match.group(2)
    match = CONNECT_TO_RE.match(reason)
    if match:
        return Stage.CONNECT, match.group(1), match.group(2)
    match = TLS_REQUIRED_RE.match(reason)
    if match:
        return Stage.STARTTLS, match.group(1), match.group(2)
    match = SASL_RE.match(reason)
    if match:
        return Stage.AUTH, match.group(1), match.group(2)
    if reason.startswith(("Cannot start TLS", "Server certificate not verified")):
        return Stage.TLS, None, None
    if DNS_RE.search(reason):
        return Stage.DNS, None, None
    return None


def _add_failure(ctx: ParseContext, line: Line, attempt: _mta.Attempt, reason: str, stage: Stage,
                 dsn: str | None) -> None:
    if attempt.failed and (attempt.reason == reason or attempt.failed_at() == stage.value):
        attempt.set_enhanced(dsn)  # the delivery record repeats the failure in its own words
        return
    if type(attempt) is PlainAttempt and attempt.keep_failure(ctx, line, reason, stage, dsn):
        return
    add_failure_events(ctx, line, attempt, reason, stage, dsn)


def _take_connected(process: _Process, ip: str | None) -> _mta.Attempt | None:
    """Remove and return a waiting attempt that reached ``ip`` (a TLS line came first)."""
    for index in range(len(process.waiting) - 1, -1, -1):
        attempt = process.waiting[index]
        if attempt.connected and (ip is None or attempt.ip == ip):
            del process.waiting[index]
            return attempt
    return None


def _finish_waiting(process: _Process, qid: str, dsn: str | None) -> Iterator[Event | SessionEnd]:
    """End the waiting attempts, which the delivery record just named, as sessions of ``qid``."""
    for attempt in process.waiting:
        attempt.queue_id = qid
        if dsn is not None and not attempt.connected:
            attempt.set_enhanced(dsn)
        yield from attempt.finish()
    process.waiting = []


def _status_line(line: Line, qid: str, status: re.Match, process: _Process,
                 ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    recipient, relay, state, reason, dsn = status.group(1), status.group(3), status.group(8), status.group(9) or "", status.group(7)
    dsn_code = dsn if not dsn.startswith("2") else None

    # More records of one message and relay are recipients of the same
    # connection, unless a recipient comes again: that is a new attempt.
    open_attempt = process.open
    if (open_attempt is not None and open_attempt.queue_id == qid and process.open_relay in (relay, None)
            and recipient not in open_attempt.addresses):
        open_attempt.recipients += 1
        open_attempt.addresses.add(recipient)
        _record_outcome(ctx, line, open_attempt, state, reason, dsn_code)
        return
    if process.open is not None:
        yield from process.close_open()

    relay_match = RELAY_RE.match(relay)
    if relay_match is None:  # relay=none: no connection was made
        matching = [a for a in process.waiting if a.reason is not None and a.reason == _strip_suspended(reason)]
        attempt = matching[-1] if matching else None
        if attempt is not None:
            process.waiting.remove(attempt)
            attempt.queue_id = qid
            attempt.set_enhanced(dsn_code)
            yield from _finish_waiting(process, qid, dsn_code)
        else:
            yield from _finish_waiting(process, qid, dsn_code)
            attempt = _attempt_from_reason(ctx, line, reason, dsn_code)
            if attempt is None:
                ctx.noise(line)
                return
            attempt.queue_id = qid
        attempt.recipients = 1
        attempt.addresses.add(recipient)
        process.open, process.open_relay = attempt, relay
        return

    host, ip, port = relay_match.groups()
    if "/" in ip:
        ip = None  # an LMTP or SMTP socket path such as private/dovecot-lmtp
    attempt = _take_connected(process, ip)
    if process.waiting:
        yield from _finish_waiting(process, qid, None)
    if attempt is None:
        attempt = PlainAttempt(ctx, line, host, ip, _port(port), None)  # the events of _mta.connected
    attempt.queue_id = qid
    attempt.recipients = 1
    attempt.addresses.add(recipient)
    _record_outcome(ctx, line, attempt, state, reason, dsn_code)
    process.open, process.open_relay = attempt, relay


def _strip_suspended(reason: str) -> str:
    return reason[len(SUSPENDED):] if reason.startswith(SUSPENDED) else reason


def _attempt_from_reason(ctx: ParseContext, line: Line, reason: str, dsn: str | None) -> _mta.Attempt | None:
    """Return the attempt a delivery record describes when no earlier line logged it."""
    described = _describe(reason)
    if described is None:
        return None
    stage, host, ip = described
    if stage in (Stage.CONNECT, Stage.DNS):
        match = CONNECT_TO_RE.match(reason)
        port = _port(match.group(3)) if match else None
        if ctx.rows_wanted:
            attempt = ConnectFailure(ctx, line, reason, host, ip, port, stage=stage)
        else:
            attempt = _mta.connect_failure(ctx, line, reason, host, ip, port, stage=stage)
        attempt.set_enhanced(dsn)
        return attempt
    attempt = _mta.connected(ctx, line, host, ip, None)
    _add_failure(ctx, line, attempt, reason, stage, dsn)
    return attempt


def _record_outcome(ctx: ParseContext, line: Line, attempt: _mta.Attempt, state: str, reason: str,
                    dsn: str | None) -> None:
    if state == "sent":
        _mta.add_sent(ctx, line, attempt, reason)
        return
    described = _describe(reason)
    if described is None:
        _mta.add_note(ctx, line, attempt, reason)
        return
    if described[0] is Stage.RCPT_TO:
        attempt.rejected += 1
    _add_failure(ctx, line, attempt, reason, described[0], dsn)


# Delivery records and server-side signals ------------------------------------------


@dataclass(slots=True)
class _Message:
    sender: str | None = None
    size: int | None = None
    nrcpt: int | None = None
    message_id: str | None = None
    client: str | None = None


FROM_RE = re.compile(r"^from=<([^>]*)>, (?:size=(\d+), nrcpt=(\d+)|status=(\w+))")
CLIENT_RE = re.compile(r"^client=([^,]+)")


def records(lines: Iterable[Line], ctx: ParseContext) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``("delivery", row)`` per recipient delivery record and ``("signal", row)`` per server-side signal.

    Message facts (sender, size, message-id, client) are kept per queue id
    until qmgr logs ``removed``, so memory grows with the messages in the
    queue, not with the file.
    """
    messages: dict[tuple, _Message] = {}
    for line in lines:
        service = _service(line)
        text = line.text
        if text[-1:] in _BLANKS:
            text = text.rstrip(" \t")
        if service is None:
            service = _guess_service(text) or "smtpd"
        if service == "":
            continue
        match = QID_LINE_RE.match(text)
        if match is None:
            signal = _signal(line, service, text)
            if signal is not None:
                yield "signal", signal
            continue

        qid, rest = match.groups()
        key = (line.log_host, qid)
        if service == "qmgr":
            if rest == "removed":
                messages.pop(key, None)
                continue
            found = FROM_RE.match(rest)
            if found:
                message = messages.setdefault(key, _Message())
                message.sender = found.group(1)
                if found.group(2):
                    message.size, message.nrcpt = int(found.group(2)), int(found.group(3))
                elif found.group(4) == "expired":
                    yield "delivery", _expired_row(line, qid, message)
            continue
        if service == "cleanup" and rest.startswith("message-id="):
            messages.setdefault(key, _Message()).message_id = rest[len("message-id="):].strip() or None
            continue
        if service == "smtpd" and rest.startswith("client="):
            messages.setdefault(key, _Message()).client = CLIENT_RE.match(rest).group(1)
            continue
        status = STATUS_RE.match(rest)
        if status:
            yield "delivery", _delivery_row(line, service, qid, status, messages.get(key))
            continue
        signal = _signal(line, service, text)
        if signal is not None:
            yield "signal", signal


def _delivery_row(line: Line, service: str, qid: str, status: re.Match, message: _Message | None) -> dict[str, Any]:
    recipient, orig_to, relay, conn_use, delay, delays, dsn, state, reason = status.groups()
    reason = reason or ""
    relay_match = RELAY_RE.match(relay)
    host, ip, port = relay_match.groups() if relay_match else (None, None, None)
    if ip is not None and "/" in ip:
        ip = None  # an LMTP or SMTP socket path such as private/dovecot-lmtp
    connected = relay_match is not None
    described = _describe(reason)
    stage = described[0] if described else None
    failure_stage, cause, code = _mta.classify_reason(state, reason, stage, connected and stage not in (Stage.CONNECT, Stage.DNS),
                                                      dsn if not dsn.startswith("2") else None)
    row = {
        "line": line.number,
        "ts": line.ts,
        "log_host": line.log_host,
        "program": line.program,
        "pid": line.pid,
        "queue_id": qid,
        "message_id": message.message_id if message else None,
        "sender": message.sender if message else None,
        "recipient": recipient,
        "orig_recipient": orig_to,
        "relay": relay,
        "relay_host": host if connected else None,
        "relay_ip": ip,
        "relay_port": _port(port),
        "conn_use": int(conn_use) if conn_use else None,
        "delay": float(delay),
        **_mta.split_delays(delays),
        "dsn": dsn,
        "status": state,
        "reason": reason or None,
        "reply_code": code,
        "failure_stage": failure_stage,
        "cause": cause,
        "session": service in SESSION_SERVICES and not reason.startswith(SUSPENDED),
    }
    return row


def _expired_row(line: Line, qid: str, message: _Message) -> dict[str, Any]:
    return {
        "line": line.number, "ts": line.ts, "log_host": line.log_host, "program": line.program, "pid": line.pid,
        "queue_id": qid, "message_id": message.message_id, "sender": message.sender, "status": "expired",
        "reason": "returned to sender", "session": False,
    }


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _signal(line: Line, service: str, text: str) -> dict[str, Any] | None:
    if service not in ("smtpd", "postscreen", "anvil", "cleanup") and not service.endswith("smtpd"):
        return None
    for kind, pattern in SIGNAL_RES:
        match = pattern.search(text)
        if match is None:
            continue
        ips = [found for found in BRACKETED_RE.findall(text) if _is_ip(found)]
        return {
            "line": line.number, "ts": line.ts, "log_host": line.log_host, "program": line.program,
            "pid": line.pid, "kind": kind, "client_ip": ips[0] if ips else None, "text": text,
        }
    return None

"""Nodemailer's transcripts and the error objects Node.js prints for a failed send.

Notes
-----
Nodemailer has printed its SMTP transcript in three shapes over the years,
and users paste all of them:

* ``logger: true, debug: true`` in current versions writes one line per log call
  through a small bunyan-like logger: ``[2026-03-02 08:00:00] DEBUG [sid] C:
  EHLO ...`` and ``... S: 250-...``.  The time is UTC, cut to seconds.  The
  ``[sid]`` is a random id per SMTP connection (pooled connections also get
  ``[#1]``); lines without one (``Sending message <id> to <rcpt>``, ``Send
  Error: ...``) belong to the connection that was last active.  Nodemailer
  prints ``/* secret */`` in place of the password inside AUTH payloads and
  logs every line of the message body; body lines are counted as noise.
* Older versions print a header ``SERVER 1:`` or ``CLIENT 1:`` and
  then the data after ``└──``, with the further lines of a multi-line reply
  indented by three spaces.
* Older versions also emit ``log`` events, which applications print with
  ``transport.on('log', console.log)`` as ``{ type: 'server', message:
  '...' }`` objects.  A multi-line reply is one JavaScript string
  with ``\\n`` escapes, and terminals wrap long ones in the middle of a word,
  so a wrapped line is joined to the one before it without a space.

Failures end with an error object.  Node.js prints it as ``Error: Invalid
login: 535 ...`` followed by ``at`` stack frames and ``{ code: 'EAUTH',
response: ..., responseCode: 535, command: 'AUTH PLAIN' }``.  An OpenSSL
message that ends in a newline gives the bracketed form ``[Error:
...wrong version number...\\n] { code: 'ESOCKET', command: 'CONN' }``, and
older Node.js versions printed ``{ Error: ...`` and ``{ [Error: ...] code:
... }``.  The
object's ``command`` field names the step that failed (``CONN`` is the
connection, TLS handshake and greeting) and ``responseCode`` the reply.  The
same error is often printed three times (the logger's ``WARN`` line, its
``Send Error:`` line and the application's ``console.error``); repeats are
counted as noise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..labels import Stage, TlsMode
from ..records import CONNECT, CONNECTED, NOTE, SENT, TLS_OK, Event, Line, SessionRow
from ..envelope import EnvelopeOptions
from ..envelope import strip_envelope as _strip_envelope
from ..inputs import RawBlock
from ..sessions import finish_row, walk_events
from ._templates import (Masked, RowTemplate, SessionGroups, TailContext, TailTemplate, as_lines, count_noise,
                         make_tail_template, make_template, maskable, masked, number_of, text_of,
                         without_address)
from .base import ParseContext, compiled, hit_score

NAME = "nodemailer"
DESCRIPTION = "Nodemailer logger/debug output (all versions), its log-event objects and Node.js error objects"
CLIENT = "nodemailer"
PRIORITY = 5
# The prefilter flags logger lines without an envelope, which the reader then hands over raw.
RAW_LINES = True

LOGGER_RE = re.compile(
    r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) ?"
    r"(?:\[#(\w+)\] )?(?:\[([\w-]+)\] )?(?:(C|S): ?)?(.*)$"
)
BOX_HEADER_RE = re.compile(r"^(SERVER|CLIENT) (\d+):\s*$")
BOX_DATA = "└──"
EVENT_OBJECT_RE = re.compile(r"^\s*\{?\s*type: '(server|client|\w+)',?\s*(?:message: '(.*))?$")
MESSAGE_FIELD_RE = re.compile(r"^\s*message: '(.*)$")
# "Error: text" and "Error [ERR_TLS_CERT_ALTNAME_INVALID]: text", after any "{ [" or "[".
ERROR_NAME_RE = re.compile(r"^(\w*Error)(?: \[([A-Z_\d]+)\])?: (.*)$")
FIELD_RE = re.compile(r"^\s*\{?\s*(\w+): (.*?),?\s*(?:\})?$")
REPLY_LINE_RE = re.compile(r"^[2-5]\d\d[ -]")  # a line of a server reply, as Node prints it in a message
FRAME_RE = re.compile(r"^\s+at \S")
RESOLVED_RE = re.compile(r"^Resolved (\S+) as (\S+)")
ESTABLISHED_RE = re.compile(r"^(Secure c|C)onnection established to (\S+?):(\d+)$")
USER_RE = re.compile(r'^User "([^"]*)" (authenticated|failed to authenticate)')
SEND_ERROR_RE = re.compile(r"^Send [Ee]rror(?: for <[^>]*>)?: (.*)$")
ADDRESS_PORT_RE = re.compile(r"\b(?:connect|read|write) [A-Z]+ (\[?[\w.:-]+?\]?):(\d+)\b")
REPLY_IN_TEXT_RE = re.compile(r"(?:^|: |- )([45]\d\d)\b|\b([45]\d\d)[ -][245]\.\d")
QUOTED_RE = re.compile(r"^'(.*)'$|^\"(.*)\"$")

NOISE_PREFIXES = (
    "Creating transport:", "Sending mail using", "SMTP handshake finished", "Closing connection to the server",
    "Sending message <", "Connection closed", "Discarded ", "Server closed the idle connection",
)

# The error object's ``command`` field, and phrases of nodemailer's own messages, name the failed step.
COMMAND_STAGES: dict[str, Stage] = {
    "EHLO": Stage.EHLO, "HELO": Stage.EHLO, "LHLO": Stage.EHLO, "STARTTLS": Stage.STARTTLS,
    "AUTH": Stage.AUTH, "API": Stage.AUTH, "MAIL FROM": Stage.MAIL_FROM, "RCPT TO": Stage.RCPT_TO,
    "DATA": Stage.DATA, "BDAT": Stage.DATA,
}
MESSAGE_STAGES: tuple[tuple[re.Pattern, Stage], ...] = (
    (re.compile(r"^Invalid login|^Missing credentials|authentication|^Can't create new access token", re.I), Stage.AUTH),
    (re.compile(r"^Mail command failed"), Stage.MAIL_FROM),
    (re.compile(r"^Recipient command failed|all recipients were rejected"), Stage.RCPT_TO),
    (re.compile(r"^Data command failed|^Message failed"), Stage.DATA),
    (re.compile(r"^Greeting never received|^Invalid greeting"), Stage.GREETING),
    (re.compile(r"^Connection timeout"), Stage.CONNECT),
)
TLS_WORDS = re.compile(r"SSL routines|wrong version number|certificate|\bTLS\b|handshake", re.I)
# Words in lower case for the case-insensitive patterns above: in ASCII text, every match of a
# pattern contains one of its words.  Python's re searches such alternations slowly, so _found
# looks for the words first.
_NEEDLES: dict[re.Pattern, tuple[str, ...]] = {
    MESSAGE_STAGES[0][0]: ("invalid login", "missing credentials", "authentication", "can't create new access token"),
    TLS_WORDS: ("ssl routines", "wrong version number", "certificate", "tls", "handshake"),
}


@dataclass
class _Session:
    key: Any
    transcript: bool = False
    greeted: bool = False
    last_verb: str | None = None
    errors: dict[str, Event] = field(default_factory=dict)


@dataclass
class _ErrorObject:
    line: Line
    name: str
    message: str
    session: Any
    open_bracket: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    in_message: bool = True  # no stack frame or field read yet: further lines of a reply may follow
    more: list[str] = field(default_factory=list)  # the further lines of a multi-line reply in the message
    continued: str | None = None  # the field whose string value goes on over the next lines ("'...' +")


@dataclass
class _LogObject:
    """A ``{ type: ..., message: '...' }`` object being read; ``message`` is None until its field starts."""

    line: Line
    kind: str = ""
    message: str | None = None


class _State:
    def __init__(self) -> None:
        self.counter = 0
        self.current: _Session | None = None
        self.by_key: dict[Any, _Session] = {}
        self.box_direction: str | None = None
        self.log_object: _LogObject | None = None
        self.error: _ErrorObject | None = None

    def session(self, key: Any | None = None) -> _Session:
        if key is None:
            if self.current is None:
                self.current = self._new(("nodemailer", self._next()))
            return self.current
        if key not in self.by_key:
            self.by_key[key] = _Session(key)
        self.current = self.by_key[key]
        return self.current

    def fresh(self) -> _Session:
        self.current = self._new(("nodemailer", self._next()))
        return self.current

    def _new(self, key: Any) -> _Session:
        session = _Session(key)
        self.by_key[key] = session
        return session

    def _next(self) -> int:
        self.counter += 1
        return self.counter


LOGGER_SIGNS = ("] C: ", "] S: ", "Creating transport", "Connection established")
OBJECT_SIGN_RE = re.compile(r"type: '(?:server|client)'")
ERROR_SIGN_RE = re.compile(
    r"code: '(?:EAUTH|ESOCKET|ECONNECTION|ETIMEDOUT|EENVELOPE|EMESSAGE|EDNS|ETLS|EPROTOCOL)'|"
    r"command: '(?:CONN|API|AUTH \w+)'|^Error: Invalid login: \d{3}|\[AuthError: |Greeting never received")
# A box header line is "SERVER 12:" or "CLIENT 12:".
DETECT_SIGNS = (*LOGGER_SIGNS, "SERVER ", "CLIENT ", BOX_DATA, OBJECT_SIGN_RE, ERROR_SIGN_RE)


def detect(sample: list[str]) -> float:
    """Score how much of the sample looks like nodemailer output."""
    logger_lines = sum(1 for text in sample if LOGGER_RE.match(text) and any(sign in text for sign in LOGGER_SIGNS))
    box = sum(1 for text in sample if BOX_HEADER_RE.match(text) or text.startswith(BOX_DATA))
    objects = sum(1 for text in sample if OBJECT_SIGN_RE.search(text))
    errors = sum(1 for text in sample if ERROR_SIGN_RE.search(text))
    hits = logger_lines + box + objects + errors
    return hit_score(hits, sample)


def strip_envelope(number: int, text: str, options: EnvelopeOptions) -> Line:
    """Return the :class:`Line` for one raw line, as :func:`smtplogkit.envelope.strip_envelope` does.

    A logger line (``[2026-03-02 08:00:00] DEBUG ...``) opens with a bracket,
    so the general function tries the Monolog pattern on it.  That pattern
    needs a ``channel.LEVEL:`` word after the bracket, which a level word
    followed by a space is not, so such lines carry no envelope.
    """
    if text.find("]") == 20 and text[:1] == "[" and text[20:28] in _LEVEL_WORDS:
        return Line(number, text)
    return _strip_envelope(number, text, options)


_LEVEL_WORDS = frozenset(("] TRACE ", "] DEBUG ", "] INFO  ", "] WARN  ", "] ERROR ", "] FATAL "))


# For prefilter: the level words of a logger line (its bytes 22 to 27) as little-endian words, those
# whose lines may be noise and the others.
_QUIET_WORDS = tuple(int.from_bytes(word.encode(), "little") for word in ("TRACE ", "DEBUG ", "INFO  "))
_LOUD_WORDS = tuple(int.from_bytes(word.encode(), "little") for word in ("WARN  ", "ERROR ", "FATAL "))
_HEAD_BYTES = 48  # six words: the head and an id up to byte 45, with the space after it
_SID_WIDTH = 16  # connection ids longer than this are left to the parser
_EVERY_BYTE = 0x0101010101010101
_DIGIT_HIGH, _DIGIT_ZERO = 0xF0 * _EVERY_BYTE, 0x30 * _EVERY_BYTE
_LOW, _SIX, _HIGH = 0x0F * _EVERY_BYTE, 0x06 * _EVERY_BYTE, 0xF0 * _EVERY_BYTE
_SPAN_MASKS = tuple((1 << (8 * length)) - 1 for length in range(9))  # the first 0 to 8 bytes of a word


def _stamp_words() -> tuple[tuple[int, int, int], ...]:
    """Return, for the words at bytes 0, 8 and 16 of a logger line, the masks of its digits and marks, and the marks.

    The stamp ``[YYYY-MM-DD HH:MM:SS]`` and the space after it fill bytes 0 to 21.
    """
    shape = "[dddd-dd-dd dd:dd:dd] "
    words = []
    for at in (0, 8, 16):
        digits = marks = values = 0
        for index, char in enumerate(shape[at:at + 8]):
            if char == "d":
                digits |= 0xFF << (8 * index)
            else:
                marks |= 0xFF << (8 * index)
                values |= ord(char) << (8 * index)
        words.append((digits, marks, values))
    return tuple(words)


_STAMP_WORDS = _stamp_words()
# Any line that may start a log object or a bracketed error message, in RE2 syntax; see _may_open.
_OPENER_RE2 = r"type: '|\{|\[[^ \[\]:]*Error"


class PrefilterState:
    """The record :func:`prefilter` keeps of a file's lines before the block it reads.

    ``opened`` is True once a line that may open a log object or a
    bracketed error message has been seen, in the sample or in a block.
    From then on the parser's state may hold such an object, which takes in
    the lines that follow, and no line is left out.
    """

    __slots__ = ("opened",)

    def __init__(self, opened: bool = False) -> None:
        self.opened = opened


def prefilter_state(sample: list[Line]) -> PrefilterState:
    """Return the :class:`PrefilterState` of a file whose first lines (envelopes removed) are ``sample``."""
    return PrefilterState(any(_may_open(line.text) for line in sample))


def _may_open(text: str) -> bool:
    """Return whether a line, envelope removed, may open a log object or a bracketed error message.

    A logger line never does (LOGGER_RE reads it first), nor does a stack
    frame.  Any other line may if it contains ``type: '``, a brace, or a
    bracket before a word that ends in ``Error``: a superset of what
    :func:`_start_object` and :func:`_start_error` take.
    """
    if LOGGER_RE.match(text) or FRAME_RE.match(text):
        return False
    return "type: '" in text or "{" in text or _BRACKETED_ERROR_RE.search(text) is not None


def _may_open_raw(text: str) -> bool:
    """Return whether a raw line, envelope and all, may open what :func:`_may_open` describes.

    Only a logger line that :func:`strip_envelope` hands on as it is, and a
    line that opens with white space (no envelope does), keep their text.
    Any other line is tested as a whole, envelope included, so a brace in
    the envelope (a Docker JSON envelope has one) counts too.
    """
    if text.find("]") == 20 and text[:1] == "[" and text[20:28] in _LEVEL_WORDS:
        return _may_open(text)
    if text[:1].isspace() and FRAME_RE.match(text):
        return False
    return "type: '" in text or "{" in text or _BRACKETED_ERROR_RE.search(text) is not None


_BRACKETED_ERROR_RE = re.compile(r"\[[^ \[\]:]*Error")
# The compiled block reader (see base.compiled).
SCAN = compiled("_nodemailer_scan")


def prefilter(block: list[str], state: PrefilterState | None = None,
              raw: bool = False) -> tuple[Any, ...]:
    """Return the positions in ``block`` of the lines :func:`parse` must see, and how many others are noise.

    The lines left out are ones the parser counts as noise without any
    change to its state, so the result is the same with or without them:

    * stack frames (``at ...`` after 2 to 8 spaces);
    * TRACE, DEBUG and INFO logger lines with a valid stamp whose message
      the quick path counts as noise (the message body, lifecycle notes).
      Such a line must follow a logger line of the same connection id, or
      for a line without an id, any logger line.  That line before has made
      the connection current and finished any error object.

    Both hold only while no log object or bracketed error message can be
    open, since either takes in the lines that follow.  So ``state``
    (:func:`prefilter_state`, one per file) records whether any line so far
    may have opened one (:func:`_may_open_raw`), and from the first such
    line on, every line is kept.  Without a state, every line is kept.

    The block is read as bytes with numpy, at fixed positions from each
    line's start: a logger line's head is ASCII, so up to its message its
    characters are its bytes.  The compiled scanner (:data:`SCAN`), when
    built, reads the bytes line by line instead, with the same result, and
    adds the kept lines' texts as a fourth item.  With ``raw``, a third item flags each kept
    logger line that :func:`strip_envelope` would hand on as it is, and the
    reader hands those to :func:`parse` as ``(number, text)`` tuples.
    """
    count = len(block)
    data = getattr(block, "data", None)
    if SCAN is not None and data is not None and state is not None and not state.opened and count:
        texts = isinstance(block, RawBlock)  # a TextBlock holds its strings already
        positions, noise, flags, kept_texts, opener = SCAN.scan(data, count, _NOTE_START_BYTES, raw, texts)
        if opener is not None:
            state.opened = True
        return (positions, noise, flags, kept_texts) if raw and texts else (positions, noise, flags)[:3 if raw else 2]
    lines = getattr(block, "lines", None)
    if lines is not None:
        lines()  # decoded whole and kept, so the reader picks the kept lines from a list
    if state is None or state.opened or not count:
        return range(count), 0
    if data is None:
        try:
            data = "\n".join(block).encode("utf-8")
        except UnicodeEncodeError:  # a line with an undecodable byte kept as a lone surrogate
            state.opened = any(_may_open_raw(text) for text in block)
            return range(count), 0
    import numpy as np

    drop, logger, opener = _droppable(data, count)
    if opener is not None:
        state.opened = True
        drop[opener:] = False  # from the first line that may open an object on, every line is kept
    kept = np.flatnonzero(~drop)
    if raw:
        return kept.tolist(), count - len(kept), logger[kept].tolist()
    return kept.tolist(), count - len(kept)


def _word(text: bytes) -> int:
    """Return up to 8 bytes as a little-endian integer, the first byte lowest."""
    return int.from_bytes(text[:8].ljust(8, b"\0"), "little")


def _mask(length: int) -> int:
    """Return the mask of the first ``length`` bytes of a little-endian word."""
    return (1 << (8 * length)) - 1


def _droppable(data: bytes, count: int):
    """Return which lines of a block :func:`prefilter` may leave out, which are logger lines, and the first opener.

    ``data`` contains the block's ``count`` lines joined by LF.  A logger
    line here is one that :func:`strip_envelope` hands on as it is, with
    ASCII digits in its stamp.  The first opener is the index of the first
    line that may open an object (as :func:`_may_open_raw` tests), or None.
    The flags for leaving lines out do not take it into account.

    Each line's first 48 bytes are read as six little-endian words.  Past a
    line's end come its LF and the next line (or zero bytes).  No pattern
    compared contains an LF or a zero byte, so a line too short for a
    pattern never matches it.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    u64 = np.uint64
    starts = np.empty(count, dtype=np.int64)
    starts[0] = 0
    starts[1:] = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10) + 1
    lengths = np.empty(count, dtype=np.int64)
    lengths[:-1] = starts[1:] - starts[:-1] - 1
    lengths[-1] = len(data) - starts[-1]
    head_bytes = _heads(data, starts, _HEAD_BYTES)
    head = head_bytes.view("<u8")  # head[:, k] contains bytes 8k to 8k + 7

    logger = np.ones(count, dtype=bool)
    for word, (digits, marks, values) in zip(head.T, _STAMP_WORDS):
        logger &= (word & u64(marks | (_DIGIT_HIGH & digits))) == u64(values | (_DIGIT_ZERO & digits))
        logger &= (((word & u64(_LOW & digits)) + u64(_SIX & digits)) & u64(_HIGH & digits)) == 0
    level = (head[:, 2] >> u64(48)) | ((head[:, 3] & u64(_mask(4))) << u64(16))  # bytes 22 to 27
    quiet = (level == u64(_QUIET_WORDS[0])) | (level == u64(_QUIET_WORDS[1])) | (level == u64(_QUIET_WORDS[2]))
    loud = (level == u64(_LOUD_WORDS[0])) | (level == u64(_LOUD_WORDS[1])) | (level == u64(_LOUD_WORDS[2]))
    logger &= quiet | loud
    quiet &= logger
    # A stack frame: "at ", after 2, 4, 6 or 8 spaces (nested errors indent theirs), and a printable
    # ASCII character, which FRAME_RE and the quick path read as a frame.
    frames = np.zeros(count, dtype=bool)
    for indent in (2, 4, 6, 8):
        lead = head_bytes[:, indent:indent + 4].copy().view("<u4")[:, 0]
        after = lead >> np.uint32(24)
        frames |= (((head[:, 0] & u64(_mask(indent))) == u64(_word(b" " * indent)))
                   & ((lead & np.uint32(0xFFFFFF)) == np.uint32(_word(b"at "))) & (after >= 33) & (after <= 126))

    # A connection id after "[" at 28 (not "#", which LOGGER_RE takes for a pool id) up to the first
    # "]", which a space must follow.  LOGGER_RE reads an id with other characters as no id, which
    # leaves the current connection as it is.  An id longer than _SID_WIDTH is left to the parser.
    byte28 = (head[:, 3] >> u64(32)) & u64(0xFF)
    byte29 = (head[:, 3] >> u64(40)) & u64(0xFF)
    close = np.zeros(count, dtype=np.int64)  # the first "]" of bytes 30 to 45, or 0
    for column in range(29 + _SID_WIDTH, 29, -1):
        close[head_bytes[:, column] == 93] = column
    rows = np.arange(count)
    has_id = (logger & (byte28 == u64(91)) & (byte29 != u64(35)) & (close > 0) & (close + 2 <= lengths)
              & (head_bytes[rows, close + 1] == 32))
    # The same "[id] " as the line before: bytes 28 to close + 1 equal.
    span = np.clip(close + 2 - 32, 0, 16)  # bytes of the span in words 4 and 5
    same = has_id[1:] & has_id[:-1] & (close[1:] == close[:-1])
    same &= ((head[1:, 3] ^ head[:-1, 3]) & u64(_mask(8) ^ _mask(4))) == 0
    span_masks = np.array(_SPAN_MASKS, dtype=np.uint64)
    same &= ((head[1:, 4] ^ head[:-1, 4]) & span_masks[np.minimum(span[1:], 8)]) == 0
    same &= ((head[1:, 5] ^ head[:-1, 5]) & span_masks[np.maximum(span[1:] - 8, 0)]) == 0

    # The first 8 bytes of the message, after "] " or at 28.  A message that starts as a reply, a
    # command or a note of _NOTE_STARTS does (or may: 8 bytes decide, which keeps some noise too).
    message = _heads(data, starts + np.where(has_id, close + 2, 28), 8).view("<u8")[:, 0]
    two = message & u64(_mask(2))
    read = (two == u64(_word(b"S:"))) | (two == u64(_word(b"C:")))
    for start in {start.encode()[:8] for start in _NOTE_STARTS}:
        read |= (message & u64(_mask(len(start)))) == u64(_word(start))
    quiet_id = quiet & has_id & ~read
    quiet_bare = quiet & (byte28 != u64(91)) & ~read

    drop = frames.copy()
    drop[1:] |= (quiet_id[1:] & same) | (quiet_bare[1:] & logger[:-1])
    candidates = np.flatnonzero(drop & ~frames)
    if len(candidates):
        drop[candidates] = _valid_stamps(head[candidates, 0], head[candidates, 1], head[candidates, 2])

    # Logger lines and frames never open an object, so only the other lines are searched.
    others = np.flatnonzero(~logger & ~frames)
    opener = None
    if len(others):
        ends = starts + lengths + 1
        offsets = np.empty(count + 1, dtype=np.int64)
        offsets[:-1], offsets[-1] = starts, ends[-1]
        lines = pa.Array.from_buffers(pa.large_string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(data + b"\n")])
        taken = lines.take(pa.array(others))
        # Any other frame, indented with spaces and tabs, opens nothing either.
        hinted = pc.and_(pc.match_substring_regex(taken, _OPENER_RE2),
                         pc.invert(pc.match_substring_regex(taken, r"^[ \t]+at [!-~]")))
        hinted = hinted.to_numpy(zero_copy_only=False)
        if hinted.any():
            opener = int(others[np.argmax(hinted)])
    return drop, logger, opener


def _heads(data: bytes, offsets, width: int):
    """Return an array of the ``width`` bytes from each offset into ``data``, with zero bytes past its end."""
    import numpy as np

    raw = np.frombuffer(data, dtype=np.uint8)
    last = len(data) - width  # the last offset whose bytes lie inside the data
    if last >= 0:
        windows = np.lib.stride_tricks.as_strided(raw, shape=(last + 1, width), strides=(1, 1))
        heads = windows[np.minimum(offsets, last)]
    else:
        heads = np.empty((len(offsets), width), dtype=np.uint8)
    late = np.flatnonzero(offsets > last)
    if len(late):
        first = int(offsets[late].min())
        tail = np.zeros(int(offsets[late].max()) - first + width, dtype=np.uint8)
        rest = raw[first:]
        tail[:len(rest)] = rest
        windows = np.lib.stride_tricks.as_strided(tail, shape=(len(tail) - width + 1, width), strides=(1, 1))
        heads[late] = windows[offsets[late] - first]
    return heads


def _valid_stamps(first, second, third):
    """Return whether each stamp, given as the words at bytes 0, 8 and 16 of its line, is a valid time.

    Its digits are known to be ASCII digits.  A stamp no calendar has
    (month 13, 30 February, hour 24) sends a line to the general path,
    which warns about it.
    """
    import numpy as np

    def digit(word, at):
        return ((word >> np.uint64(8 * at)) & np.uint64(0x0F)).astype(np.int64)

    year = digit(first, 1) * 1000 + digit(first, 2) * 100 + digit(first, 3) * 10 + digit(first, 4)
    month = digit(first, 6) * 10 + digit(first, 7)
    day = digit(second, 1) * 10 + digit(second, 2)
    hour = digit(second, 4) * 10 + digit(second, 5)
    minute = digit(second, 7) * 10 + digit(third, 0)
    seconds = digit(third, 2) * 10 + digit(third, 3)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    days = np.array(_MONTH_DAYS)[np.clip(month, 0, 12)] + ((month == 2) & leap)
    return ((year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= days) & (hour < 24) & (minute < 60)
            & (seconds < 60))


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse(lines: Iterable[Line], ctx: ParseContext, *, quick: bool = True,
          templates: bool = True) -> Iterator[Event | SessionRow]:
    """Turn nodemailer transcript and error lines into events.

    Logger lines with a connection id (``[...] DEBUG [sid] S: 250 OK``) take
    a quick path: the line's head up to the connection id is read once
    (:func:`_read_head`) and looked up after that, and the rest is handled as
    :func:`_logger_line` would.  Any other line, and every line while an
    error or log object is being read, takes the general path.
    ``quick=False`` sends every line down the general path (for tests that
    compare the two).

    When the reader keeps no events (``ctx.rows_wanted``), a quick parse
    yields :class:`SessionRow` records in place of events, and reuses the
    row of a connection whose lines repeat an earlier connection's
    (:class:`_Segments`).  ``templates=False`` turns that reuse off.

    NOTE: this parser yields no SessionEnd, so a reader that keeps events
    holds every session's events until the end of the file (about 140 MiB
    more for a 236,000-line file).  A session cannot safely end earlier
    with what the parser sees now: the prefilter drops the "Connection
    closed" lines, a pool id (``[#1]``) comes back on a later connection,
    and an error printed after a close belongs to the connection that was
    last active.
    """
    state = _State()
    if not (quick and ctx.rows_wanted):
        # Raw lines come only to a reader that keeps no events, which takes the quick path.
        yield from _parse_lines(lines if quick else as_lines(lines), ctx, state, quick)
        return
    groups = SessionGroups()
    segments = _Segments(ctx, state, groups, enabled=templates)
    yield from groups.collect(_parse_lines(segments.feed(lines), ctx, state, quick), segments)


def _parse_lines(lines: Iterable[Line], ctx: ParseContext, state: _State, quick: bool,
                 finish: bool = True, heads: dict[str, tuple | None] | None = None,
                 bare_heads: dict[str, tuple | None] | None = None) -> Iterator[Event]:
    """Yield the events of ``lines``, each line read as :func:`parse` describes.

    With ``finish=False``, a log object or error object still open after
    the last line stays open in ``state``, as more lines may follow.
    ``heads`` and ``bare_heads`` keep the heads read so far (:func:`_read_head`
    with either pattern), for a caller that reads many short runs of lines.
    """
    by_key = state.by_key
    heads = {} if heads is None else heads
    bare_heads = {} if bare_heads is None else bare_heads
    server, client, noise = ctx.server, ctx.client, ctx.noise
    for line in lines:
        text = line.text
        error = state.error
        if (quick and error is not None and not error.open_bracket and state.log_object is None
                and text.startswith("    at ") and not text[7:8].isspace()):
            noise(line)  # a stack frame of the error object being read, as _error_detail counts it
            continue
        if quick and error is not None and state.log_object is None:
            if _error_detail(line, error, ctx):
                continue  # another line of the error object, as _line would read it first
            # The line ends the error object, as _line would find before it reads the line.
            yield from _finish_error(state, ctx)
            error = None
        if quick and state.log_object is None and error is None and text[:1] == "[" and "\n" not in text:
            session = None
            head = None
            end = text.find("] ", 27) + 2
            if end > 2:
                head = heads.get(text[:end], _UNREAD)
                if head is _UNREAD:
                    if len(heads) >= HEAD_CACHE_SIZE:
                        heads.clear()
                    head = heads[text[:end]] = _read_head(text[:end])
            if head is not None:
                level, ts, sid = head
                session = by_key.get(sid)
                if session is None:
                    session = by_key[sid] = _Session(sid)
                state.current = session
            else:
                # A logger line without a connection id ("Sending mail using ...", "ERROR Send Error: ...").
                bare, end = _bare_head(text, bare_heads)
                if bare is not None:
                    level, ts = bare
                    session = state.session()
            if session is not None:
                line.ts = line.ts or ts
                direction = text[end:end + 2]
                if direction == "S:" or direction == "C:":
                    message = text[end + 3:] if text[end + 2:end + 3] == " " else text[end + 2:]
                    if direction == "S:":
                        event = server(line, message, session.key)
                        if event is None:
                            if message.strip():
                                ctx.unrecognised(line)
                            else:
                                noise(line)
                            continue
                        session.greeted = True
                    else:
                        event = client(line, message, session.key)
                        session.last_verb = event.verb
                        if event.verb == "STARTTLS":
                            event.attrs["tls_mode"] = TlsMode.STARTTLS
                    session.transcript = True
                    yield event
                    continue
                message = text[end:]
                if level in ("WARN", "ERROR", "FATAL"):
                    yield from _logged_error(line, message, session, ctx)
                elif message.startswith(_NOTE_STARTS):
                    event = _note_event(line, message, session, ctx)
                    if event is not None:
                        yield event
                else:
                    noise(line)  # lifecycle notes and the lines of the message body
                continue
        yield from _line(line, state, ctx)
    if finish:
        yield from _flush_object(state, ctx)
        yield from _finish_error(state, ctx)


HEAD_CACHE_SIZE = 4096
# The prefixes of the messages that _logger_note reads.  It counts every other message as noise.
_NOTE_STARTS = ("Resolved ", "Connection established to ", "Secure connection established to ",
                "Connection upgraded with STARTTLS", 'User "')
# Their first 8 bytes, which the compiled prefilter compares, as _droppable does.
_NOTE_START_BYTES = tuple(sorted({start.encode()[:8] for start in _NOTE_STARTS}))
_LEVELS = {"TRACE": "TRACE", "DEBUG": "DEBUG", "INFO ": "INFO", "WARN ": "WARN", "ERROR": "ERROR", "FATAL": "FATAL"}
HEAD_RE = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) ?\[([\w-]+)\] ")
_UNREAD = object()


BARE_HEAD_RE = re.compile(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] (TRACE|DEBUG|INFO |WARN |ERROR|FATAL)")


def _bare_head(text: str, heads: dict[str, Any]) -> tuple[tuple | None, int]:
    """Return the level and time of a logger line without a connection id, and where its message starts.

    The first item is None for any other line.  ``heads`` keeps the heads
    read so far, since a log repeats them.
    """
    bare = heads.get(text[:27], _UNREAD)
    if bare is _UNREAD:
        bare = heads[text[:27]] = _read_head(text[:27], BARE_HEAD_RE)
    start = 28 if text[27:28] == " " else 27
    if bare is None or text[start:start + 1] == "[" or text[start:start + 2] in ("C:", "S:"):
        return None, start
    return bare, start


def _read_head(head: str, pattern: re.Pattern = HEAD_RE) -> tuple | None:
    """Return (level, time, connection id) for a logger line's head, or None to leave the line to the general path.

    ``head`` runs to the first ``"] "`` after the level.  It qualifies when
    LOGGER_RE would read it as stamp, level and ``[sid]`` with no pool id.
    With ``pattern=BARE_HEAD_RE``, ``head`` is the first 27 characters (stamp
    and level) and the result is (level, time).
    """
    match = pattern.fullmatch(head)
    if match is None:
        return None
    try:
        ts = datetime.fromisoformat(match.group(1)).replace(tzinfo=timezone.utc)
    except ValueError:
        return None  # the general path warns about it
    return _LEVELS[match.group(2)], ts, *match.groups()[2:]


def _line(line: Line, state: _State, ctx: ParseContext) -> Iterator[Event]:
    text = line.text
    if state.log_object is not None:
        used = yield from _continue_object(line, state, ctx)
        if used:
            return
    if state.error is not None:
        if _error_detail(line, state.error, ctx):
            return
        yield from _finish_error(state, ctx)

    match = LOGGER_RE.match(text)
    if match:
        yield from _logger_line(line, match, state, ctx)
        return
    continued_reply = state.box_direction and text.startswith("   ") and not FRAME_RE.match(text)
    if BOX_HEADER_RE.match(text) or text.startswith(BOX_DATA) or continued_reply:
        yield from _box_line(line, state, ctx)
        return
    if EVENT_OBJECT_RE.match(text) or text.strip() == "{":
        yield from _start_object(line, state, ctx)
        return
    if _start_error(line, state):
        return
    yield from _other_line(line, state, ctx)


# The bunyan-like logger --------------------------------------------------------

def _logger_line(line: Line, match: re.Match, state: _State, ctx: ParseContext) -> Iterator[Event]:
    if line.ts is None:
        try:
            line.ts = datetime.fromisoformat(match.group(1)).replace(tzinfo=timezone.utc)
        except ValueError:  # a stamp no calendar has, such as month 13
            ctx.warn(line, f"invalid timestamp {match.group(1)!r}, line read without a time")
    level, cid, sid, direction, message = match.group(2).strip(), match.group(3), match.group(4), match.group(5), match.group(6)
    key = sid or (f"#{cid}" if cid else None)
    session = state.session(key) if key else state.session()

    if direction == "S":
        yield from _server(line, message, session, ctx)
        return
    if direction == "C":
        yield from _client(line, message, session, ctx)
        return
    if level in ("WARN", "ERROR", "FATAL"):
        yield from _logged_error(line, message, session, ctx)
        return
    yield from _logger_note(line, message, session, ctx)


def _logger_note(line: Line, message: str, session: _Session, ctx: ParseContext) -> Iterator[Event]:
    event = _note_event(line, message, session, ctx)
    if event is not None:
        yield event


def _note_event(line: Line, message: str, session: _Session, ctx: ParseContext) -> Event | None:
    """Return the event of a logger note (resolved, connected, upgraded, user), or None for noise."""
    resolved = RESOLVED_RE.match(message)
    if resolved:
        session.transcript = True
        return ctx.local(line, CONNECT, message, session.key, host=resolved.group(1), ip=resolved.group(2))
    established = ESTABLISHED_RE.match(message)
    if established:
        session.transcript = True
        attrs: dict[str, Any] = {"ip": established.group(2), "port": int(established.group(3))}
        if established.group(1).startswith("Secure"):
            attrs["tls_mode"] = TlsMode.IMPLICIT  # TLS was set up before any SMTP
        return ctx.local(line, CONNECTED, message, session.key, **attrs)
    if message.startswith("Connection upgraded with STARTTLS"):
        return ctx.local(line, TLS_OK, message, session.key, tls_mode=TlsMode.STARTTLS)
    user = USER_RE.match(message)
    if user:
        return ctx.local(line, NOTE, message, session.key, identity=user.group(1) or None)
    ctx.noise(line)  # lifecycle notes and the lines of the message body
    return None


def _logged_error(line: Line, message: str, session: _Session, ctx: ParseContext) -> Iterator[Event]:
    sent_error = SEND_ERROR_RE.match(message)
    if sent_error:
        message = sent_error.group(1)
    if not message.strip() or message.strip() in session.errors:
        ctx.noise(line)  # the logger repeats an error it printed already
        return
    if message.startswith("Failed STARTTLS upgrade"):
        yield ctx.local(line, NOTE, message, session.key)
        return
    yield _error_event(line, message, session, ctx, {})


# Old "SERVER 1:" / "└──" form --------------------------------------------------

def _box_line(line: Line, state: _State, ctx: ParseContext) -> Iterator[Event]:
    text = line.text
    header = BOX_HEADER_RE.match(text)
    if header:
        state.box_direction = header.group(1)
        ctx.noise(line)
        return
    data = text[len(BOX_DATA):] if text.startswith(BOX_DATA) else text.strip()
    if state.box_direction == "SERVER":
        yield from _server(line, data, state, ctx)
    else:
        yield from _client(line, data, state.session(), ctx)


# "{ type: 'server', message: '...' }" objects ----------------------------------

def _start_object(line: Line, state: _State, ctx: ParseContext) -> Iterator[Event]:
    match = EVENT_OBJECT_RE.match(line.text)
    if match is None:
        ctx.noise(line)  # a lone "{": the fields follow on their own lines
        state.log_object = _LogObject(line)
        return
    state.log_object = _LogObject(line, match.group(1), match.group(2))
    yield from _close_object_if_done(state, ctx)


def _continue_object(line: Line, state: _State, ctx: ParseContext) -> Iterator[Event]:
    """Add one line to the object being read; return whether the line was part of it."""
    log_object = state.log_object
    text = line.text
    if log_object.message is None:
        typed = re.match(r"^\s*type: '(\w+)',?\s*$", text)
        message = MESSAGE_FIELD_RE.match(text)
        if typed:
            log_object.kind = typed.group(1)
            ctx.noise(line)
            return True
        if message:
            log_object.message = message.group(1)
            yield from _close_object_if_done(state, ctx)
            return True
        state.log_object = None
        return False
    if EVENT_OBJECT_RE.match(text) or text.strip() == "{":
        # The string never closed (a pasted copy with the secret cut out): the next object starts here.
        yield from _flush_object(state, ctx)
        return False
    # A terminal wrapped the string: the next piece follows without a space.
    log_object.message += text.lstrip()
    yield from _close_object_if_done(state, ctx)
    return True


def _close_object_if_done(state: _State, ctx: ParseContext) -> Iterator[Event]:
    log_object = state.log_object
    if log_object.message is None:
        return
    end = re.search(r"(?<!\\)'\s*,?\s*\}?\s*$", log_object.message)
    if end is None:
        return
    log_object.message = log_object.message[:end.start()]
    yield from _flush_object(state, ctx)


def _flush_object(state: _State, ctx: ParseContext) -> Iterator[Event]:
    log_object = state.log_object
    state.log_object = None
    if log_object is None or log_object.message is None:
        return
    text = log_object.message.replace("\\'", "'").replace('\\"', '"')
    for part in text.split("\\n"):
        if log_object.kind == "server":
            yield from _server(log_object.line, part, state, ctx)
        elif log_object.kind == "client":
            yield from _client(log_object.line, part, state.session(), ctx)


# Commands and replies -----------------------------------------------------------

def _server(line: Line, reply: str, state: _State | _Session, ctx: ParseContext) -> Iterator[Event]:
    """Yield the event for one reply line.

    Given the parser state rather than a session (the old forms, which print
    no connection id), a greeting after commands opens a new session.
    """
    if isinstance(state, _State):
        session = state.session()
        if reply.startswith(("220 ", "220-")) and session.greeted and session.last_verb not in (None, "STARTTLS"):
            session = state.fresh()
    else:
        session = state
    event = ctx.server(line, reply, session.key)
    if event is None:
        if reply.strip():
            ctx.unrecognised(line)
        else:
            ctx.noise(line)
        return
    session.greeted = True
    session.transcript = True
    yield event


def _client(line: Line, command: str, session: _Session, ctx: ParseContext) -> Iterator[Event]:
    event = ctx.client(line, command, session.key)
    session.transcript = True
    session.last_verb = event.verb
    if event.verb == "STARTTLS":
        event.attrs["tls_mode"] = TlsMode.STARTTLS
    yield event


# Error objects -------------------------------------------------------------------

def _start_error(line: Line, state: _State) -> bool:
    """Start reading a printed error object if the line opens one; return whether it did."""
    text = line.text.strip()
    if text.startswith("{ "):
        text = text[2:]  # older Node.js opened the object before the error: "{ Error: ..." or "{ [Error: ...]"
    bracketed = text.startswith("[")
    named = ERROR_NAME_RE.match(text[1:] if bracketed else text)
    if named is None or not (line.text.startswith(("Error", "[", "{ ")) or named.group(1) != "Error"):
        return False

    message, rest, open_bracket = named.group(3), "", False
    if bracketed:
        close = message.find("]")
        if close >= 0:
            message, rest = message[:close], message[close + 1:]
        else:
            open_bracket = True  # the message ends with a newline: "] {" follows on its own line
    message = message.strip()

    session = state.current
    if session is None or (session.errors and message not in session.errors and not session.transcript):
        session = state.fresh()
    state.error = _ErrorObject(line, named.group(1), message, session.key, open_bracket=open_bracket)
    if named.group(2):
        state.error.fields["node_code"] = named.group(2)
    for field_match in re.finditer(r"(\w+): ('[^']*'|\d+)", rest):
        state.error.fields[field_match.group(1)] = _unquote(field_match.group(2))
    return True


def _error_detail(line: Line, error: _ErrorObject, ctx: ParseContext) -> bool:
    """Read one line that belongs to a printed error object; return whether it did."""
    text = line.text
    stripped = text.strip()
    if error.open_bracket:
        if stripped.startswith("]"):
            error.open_bracket = False
        elif stripped:
            error.message = f"{error.message} {stripped}".strip()
        ctx.noise(line)
        return True
    if error.in_message and REPLY_LINE_RE.match(text):
        # A multi-line reply in the message ("Invalid login: 535-5.7.8 ... go to" and then
        # "535 5.7.8  https://..."): its further lines come before the stack frames.
        error.more.append(stripped)
        ctx.noise(line)
        return True
    error.in_message = False
    if error.continued is not None and stripped[:1] in ("'", '"'):
        # Node.js splits a long string value into quoted pieces joined by "+", one per line.
        piece = stripped.rstrip(",").rstrip()
        name, error.continued = error.continued, None
        if piece.endswith("+"):
            piece, error.continued = piece[:-1].rstrip(), name
        error.fields[name] = error.fields.get(name, "") + _unquote(piece)
        ctx.noise(line)
        return True
    error.continued = None
    if FRAME_RE.match(text) or stripped in ("}", "{", "},", "]", "],") or stripped.startswith("] {"):
        ctx.noise(line)
        return True
    field_match = FIELD_RE.match(text) if text[:1] in (" ", "{", "\t") else None
    if field_match:
        name, value = field_match.group(1), field_match.group(2).rstrip(",").rstrip()
        if len(text) - len(text.lstrip()) <= 2 and name not in error.fields:
            if value.endswith("+"):  # the first piece of a string that goes on over the next lines
                value, error.continued = value[:-1].rstrip(), name
            error.fields[name] = _unquote(value)
        ctx.noise(line)
        return True
    if text.startswith((" ", "\t")):
        ctx.noise(line)  # nested errors (one per rejected recipient) repeat the reply
        return True
    return False


def _finish_error(state: _State, ctx: ParseContext) -> Iterator[Event]:
    error = state.error
    if error is None:
        return
    state.error = None
    session = state.by_key.get(error.session) or state.session()
    earlier = session.errors.get(error.message)
    if earlier is None:
        yield _error_event(error.line, error.message, session, ctx, error.fields, name=error.name, more=error.more)
        return
    # The logger printed this error already, without the object's fields, so add the stage and code they give.
    ctx.noise(error.line)
    stage = _error_stage(error.message, error.fields, session)
    if stage is not None and "stage" not in earlier.attrs:
        earlier.attrs["stage"] = stage.value
    if earlier.code is None and error.fields.get("responseCode", "").isdigit():
        earlier.code = int(error.fields["responseCode"])


def _error_event(line: Line, message: str, session: _Session, ctx: ParseContext, fields: dict[str, str],
                 name: str = "Error", more: list[str] | None = None) -> Event:
    attrs: dict[str, Any] = {}
    stage = _error_stage(message, fields, session)
    if stage is not None and stage not in (Stage.DNS, Stage.CONNECT):
        attrs["connected"] = True

    where = ADDRESS_PORT_RE.search(message)
    if where:
        attrs["ip"] = where.group(1).strip("[]")
        attrs["port"] = int(where.group(2))
    elif fields.get("port", "").isdigit():
        attrs["port"] = int(fields["port"])
    tls_failure = _found(TLS_WORDS, message) or "SSL" in fields.get("library", "")
    if tls_failure and fields.get("command", "CONN") == "CONN" and not session.greeted:
        attrs["tls_mode"] = TlsMode.IMPLICIT  # a TLS error before any greeting: TLS was spoken first

    full = _whole_message(message, more or [], fields.get("response", ""))
    code = fields.get("responseCode", "")
    reply_code = int(code) if code.isdigit() else _reply_code(full)

    text = full
    if fields.get("node_code"):
        text = f"{name} [{fields['node_code']}]: {full}"
    elif name != "Error":
        text = f"{name}: {full}"
    event = ctx.error(line, text, session.key, stage=stage.value if stage else None, code=reply_code, **attrs)
    session.errors[message.strip()] = event
    return event


def _whole_message(message: str, more: list[str], response: str) -> str:
    """Return an error's message with every line of the reply it quotes, joined by spaces.

    The message shows the reply's further lines after its first line
    (``more``), and the object's ``response`` field contains the whole reply,
    its lines separated by ``\\n``.  Old versions print ``Invalid login``
    alone, and the reply is only in the field.
    """
    whole = " ".join([message, *more]) if more else message
    response = " ".join(part.strip() for part in response.split("\\n") if part.strip())
    if not response:
        return whole
    start = message.find(response[:12])
    if start < 0:
        return f"{message}: {response}"
    from_field = message[:start] + response
    return from_field if len(from_field) > len(whole) else whole


def _error_stage(message: str, fields: dict[str, str], session: _Session) -> Stage | None:
    command = fields.get("command", "").upper()
    if command:
        for prefix, stage in COMMAND_STAGES.items():
            if command.startswith(prefix):
                if stage is Stage.STARTTLS and _found(TLS_WORDS, message):
                    return Stage.TLS
                return stage
    for pattern, stage in MESSAGE_STAGES:
        if _found(pattern, message):
            return stage
    return None


def _found(pattern: re.Pattern, text: str) -> bool:
    """Return whether ``pattern.search(text)`` finds a match, testing an ASCII text for the pattern's words first."""
    needles = _NEEDLES.get(pattern)
    if needles is not None and text.isascii():
        lower = text.lower()
        for needle in needles:
            if needle in lower:
                break
        else:
            return False  # re.IGNORECASE matches ASCII text as its lower case, which has none of the words
    return pattern.search(text) is not None


def _reply_code(message: str) -> int | None:
    match = REPLY_IN_TEXT_RE.search(message)
    return int(match.group(1) or match.group(2)) if match else None


def _unquote(value: str) -> str:
    match = QUOTED_RE.match(value.strip())
    if match:
        return match.group(1) if match.group(1) is not None else match.group(2)
    return value.strip()


def _other_line(line: Line, state: _State, ctx: ParseContext) -> Iterator[Event]:
    text = line.text.strip()
    if text.startswith("Message sent:"):
        session = state.current
        if session is not None and session.transcript:
            ctx.noise(line)
            return
        session = state.fresh()
        session.transcript = True
        yield ctx.local(line, SENT, text, session.key)
        return
    if text == "Connection secured":  # old versions, after the 220 reply to STARTTLS
        yield ctx.local(line, TLS_OK, text, state.session().key, tls_mode=TlsMode.STARTTLS)
        return
    if text.startswith(NOISE_PREFIXES) or FRAME_RE.match(line.text) or text in ("}", "{", "]"):
        ctx.noise(line)
        return
    ctx.unrecognised(line)


# Segments --------------------------------------------------------------------------------------



def _tail_start(parts: list[Any]) -> int | None:
    """Return the position of the first line that may fail, from the segment's key parts, or None.

    Such a line is a 4xx or 5xx reply, an error-level logger line, or a
    line that is no logger line (an error object's).
    """
    for index, part in enumerate(parts):
        if type(part) is tuple or (type(part) is str and part[:3] == "S: " and part[3:4] in ("4", "5")):
            return index
    return None


def _full_parts(lines: list[Line | tuple[int, str]], parts: list[Any]) -> list[Any]:
    """Return ``parts`` with each masked reply's part replaced by the reply's text.

    Only a logger line with a connection id gives a masked part, so its
    message follows the id.
    """
    return [part if type(part) is not Masked else text_of(line)[text_of(line).find("] ", 27) + 2:]
            for line, part in zip(lines, parts)]


# Key parts of lines whose text does not change what the parser makes of them.  They are plain
# objects, not strings or tuples, so they equal no other part and hash fast.
_NOISE = object()  # a logger line the quick path counts as noise
_SENT = object()  # "Message sent: <id>" after a transcript, which is noise
# HEAD_RE after its first 22 characters, the stamp and "] ".
_SID_TAIL_RE = re.compile(r"(TRACE|DEBUG|INFO |WARN |ERROR|FATAL) ?\[([\w-]+)\] ")


class _Segments:
    """Cut logger lines into segments, one connection each, and reuse the rows of repeated ones.

    A segment starts at a logger line with a connection id not seen before
    (``[...] DEBUG [sid] ...``), read while no error or log object is open.
    It takes every following line up to the next logger line of another
    connection, or the end of the file: the connection's lines, lines without
    a connection id, and printed error objects.  A line with an envelope or
    an embedded newline ends the segment, whose lines are then read as usual.

    A segment's key has one part per line.  A logger line that the quick
    path reads (of the segment's connection, or without a connection id)
    gives its message without time and id.  An error-level message drops a
    ``Send error for <id>:`` prefix, as the parser does, and a message the
    quick path counts as noise (message body, lifecycle notes) gives only
    :data:`_NOISE`.  A 2xx or 3xx reply (not 334) gives a
    :class:`~smtplogkit.formats._templates.Masked` part without its text,
    and a MAIL FROM or RCPT TO command its text without the address
    (:func:`~smtplogkit.formats._templates.without_address`).
    ``Message sent: <id>`` gives :data:`_SENT`, and any other line its
    whole text.  The first segment with a key is read as usual, with no
    template made, because most keys that never repeat belong to failures
    whose replies carry ids.  The second is read through the usual path
    too.  It becomes the key's template if its events all belong to its
    connection, nothing was warned about and no error object was left open.
    Also, every line whose key part leaves text out must have been read
    while no log object or bracketed error message was open.  Under those
    conditions the parser's handling of such a line depends only on its
    key part, or for a masked reply on its code alone.  So a later segment
    with the same key, started from the same state, reads to the same
    events apart from line numbers, times and success reply texts.  A row
    with a failure keeps its template under the key with every reply text
    instead, because the failure's cause may depend on any of them.  The
    row of the second segment is kept as a copy's is (see below).

    A failing segment whose key is new may still start like an earlier
    one: its lines before the first 4xx or 5xx reply, error-level line or
    error object line (its tail) may repeat, with every reply text.  The
    second segment with those lines makes a
    :class:`~smtplogkit.formats._templates.TailTemplate`, and a later one
    reads only its tail (:meth:`_apply_tail`).

    A connection id may come back after its row was copied (pooled or
    interleaved connections).  Its segment's lines are then read again, from
    a fresh parser state as at the segment's start, and its row is replaced
    by the events, which the new lines join.
    """

    def __init__(self, ctx: ParseContext, state: _State, groups: SessionGroups, *, enabled: bool = True) -> None:
        self.ctx = ctx
        self.state = state
        self.groups = groups
        self.enabled = enabled
        self.capture: list[Event] | None = None
        # The lines of each connection whose row was copied from a template, for reading them again:
        # raw (number, text) tuples, which the garbage collector stops tracking once it has seen
        # them, and Line objects no parser has read.
        self.copied: dict[str, list[Line | tuple[int, str]]] = {}
        self.heads: dict[str, tuple | None] = {}
        self.bare_heads: dict[str, tuple | None] = {}
        self.times: dict[str, datetime] = {}
        self.stamps: dict[str, bool] = {}
        self.parts: dict[str, dict[str, Any]] = {level: {} for level in _LEVELS.values()}
        # For reading the tails of segments (_apply_tail): a context kept between tails, whose
        # reply and command caches stay warm, and the heads _parse_lines has read.
        self.scratch: TailContext | None = None
        self.tail_heads: dict[str, tuple | None] = {}

    def _read(self, text: str) -> tuple[Any, Any]:
        """Return a line's session key (None if it names none) and its key part.

        The key part of a line with a head that the quick path reads (with a
        connection id or without one) is a string or a tuple that does not
        start with None.  The key part of ``Message sent: <id>`` is
        :data:`_SENT`, and that of any other line is ``(None, text)``.
        """
        if text[:1] != "[" or "\n" in text:
            return None, _SENT if text.startswith("Message sent: ") else (None, text)
        end = text.find("] ", 27) + 2
        head = None
        if end > 2:
            head = self.heads.get(text[:end], _UNREAD)
            if head is _UNREAD:
                if len(self.heads) >= HEAD_CACHE_SIZE:
                    self.heads.clear()
                head = self.heads[text[:end]] = self._read_sid_head(text[:end])
        if head is not None:
            return head[1], self._part(head[0], text[end:])
        bare = self.bare_heads.get(text[:27], _UNREAD)
        if bare is _UNREAD:
            bare = self.bare_heads[text[:27]] = _read_head(text[:27], BARE_HEAD_RE)
        end = 28 if text[27:28] == " " else 27
        if bare is not None and text[end:end + 1] != "[" and text[end:end + 2] not in ("C:", "S:"):
            return None, self._part(bare[0], text[end:])
        match = LOGGER_RE.match(text)
        if match is None:
            return None, (None, text)
        return match.group(4) or (f"#{match.group(3)}" if match.group(3) else None), (None, text)

    def _part(self, level: str, message: str) -> Any:
        """Return the key part of a logger line that the quick path reads, from its level and message.

        Lines with and without a connection id share parts, because within a
        segment both belong to the segment's connection.  The level matters
        only as error or not.
        """
        known = self.parts[level].get(message)
        if known is None:
            if len(self.parts[level]) >= HEAD_CACHE_SIZE:
                self.parts[level].clear()
            known = self.parts[level][message] = self._read_part(level, message)
        return known

    def _read_sid_head(self, head: str) -> tuple[str, str] | None:
        """Return (level, connection id) when :func:`_read_head` reads ``head``, else None.

        The stamp and ``] `` fill the first 22 characters of every head that
        HEAD_RE matches, so the stamp and the rest are checked apart and each
        part is looked up in its own cache.  The rest carries the connection
        id, which changes with every connection, so only that check runs
        again for a new connection.
        """
        stamp = self.stamps.get(head[:22])
        if stamp is None:
            if len(self.stamps) >= HEAD_CACHE_SIZE:
                self.stamps.clear()
            stamp = self.stamps[head[:22]] = _read_head(head[:22] + "DEBUG [x] ") is not None
        if not stamp:
            return None
        match = _SID_TAIL_RE.fullmatch(head, 22)
        return None if match is None else (_LEVELS[match.group(1)], match.group(2))

    @staticmethod
    def _read_part(level: str, message: str) -> Any:
        """Compute the key part that :meth:`_part` caches."""
        if level in ("WARN", "ERROR", "FATAL"):
            sent_error = SEND_ERROR_RE.match(message)
            return "!", sent_error.group(1) if sent_error else message
        if message[:2] not in ("S:", "C:") and not message.startswith(_NOTE_STARTS):
            return _NOISE
        if message[:3] == "S: " and maskable(message[3:7]):
            return masked(message[3:7])  # a success reply: see _templates.Masked
        if message[:3] == "C: ":
            command = without_address(message[3:])
            if command is not None:
                return f"C: {command}"
        return message

    def _stamp(self, text: str) -> datetime:
        """Return the time of a line with a logger head, as the quick path reads it."""
        ts = self.times.get(text[1:20])
        if ts is None:
            if len(self.times) >= HEAD_CACHE_SIZE:
                self.times.clear()
            ts = self.times[text[1:20]] = datetime.fromisoformat(text[1:20]).replace(tzinfo=timezone.utc)
        return ts

    def feed(self, lines: Iterable[Line | tuple[int, str]]) -> Iterator[Line]:
        """Yield the lines the usual path must read; keep the others back as segments.

        A line may come raw, as a ``(number, text)`` tuple: a logger line
        without an envelope (see :func:`prefilter`).  It becomes a
        :class:`Line` only if the usual path reads it.
        """
        segment: list[Line | tuple[int, str]] | None = None
        parts: list[Any] = []
        own = None
        read, heads, part_of, known_parts = self._read, self.heads, self._part, self.parts
        read_sid_head, bare_heads = self._read_sid_head, self.bare_heads
        lines = iter(lines)
        for line in lines:
            if type(line) is tuple:
                text = line[1]
                single = plain = True  # no envelope and no newline
            else:
                text = line.text
                single = "\n" not in text
                plain = line.ts is None and line.log_host is None and line.container is None
            # A logger line that the quick path reads, with a connection id or without one, is read
            # here as _read would, and so is a line that is no logger line; _read reads the others.
            if single and text[:1] == "[":
                end = text.find("] ", 27) + 2
                head = heads.get(text[:end], _UNREAD) if end > 2 else None
                if head is _UNREAD:
                    if len(heads) >= HEAD_CACHE_SIZE:
                        heads.clear()
                    head = heads[text[:end]] = read_sid_head(text[:end])
                if head is not None:
                    key = head[1]
                    message = text[end:]
                    part = known_parts[head[0]].get(message)
                    if part is None:
                        part = part_of(head[0], message)
                else:
                    bare, start = _bare_head(text, bare_heads)
                    if bare is not None:
                        key = None
                        message = text[start:]
                        part = known_parts[bare[0]].get(message)
                        if part is None:
                            part = part_of(bare[0], message)
                    else:
                        key, part = read(text)
            else:
                # What _read gives for a line that is no logger line (an error object's, say).
                key, part = None, (_SENT if text[:14] == "Message sent: " else (None, text))
            if segment is not None:
                if key is not None and key != own:
                    yield from self._close(segment, parts, own)
                    segment = None
                elif single and plain:
                    segment.append(line)
                    parts.append(part)
                    continue
                else:
                    yield from as_lines(segment)  # read as usual: the line ends the segment
                    segment = None
            if key is not None and key in self.copied:
                self._read_again(key)
            if key is not None and (type(part) is not tuple or part[0] is not None) and self._opens(plain, key):
                segment, parts, own = [line], [part], key
                continue
            yield Line(*line) if type(line) is tuple else line
            if not (self.enabled and self.groups.worth_trying):
                # No more segments in this file.  The copied connections are read again now, so
                # that no later line needs to be checked for their connection ids.
                for key in list(self.copied):
                    self._read_again(key)
                for line in lines:  # no more segments in this file
                    yield Line(*line) if type(line) is tuple else line
                return
        if segment is not None:
            yield from self._close(segment, parts, own)

    def _opens(self, plain: bool, key: Any) -> bool:
        """Return whether a quick-path line with a connection id, and without an envelope if ``plain``, starts a segment."""
        state = self.state
        return (self.enabled and key not in state.by_key and state.error is None and state.log_object is None
                and state.box_direction is None and plain and self.groups.worth_trying)

    def _close(self, segment: list[Line], parts: list[Any], own: str) -> Iterator[Line]:
        """Add the row of a finished segment from its template, or read its lines as usual."""
        groups = self.groups
        key = tuple(parts)
        template, full, new_key = groups.templates.get(key), key, False  # the usual case, without a call
        if template is None:
            template, full, new_key = groups.find(key, lambda: tuple(_full_parts(segment, parts)))
        if template is not None:
            groups.hits += 1
            self._apply(template, segment, own)
            return

        # No template for the whole segment: one for its lines before the first failing line, if any.
        start = _tail_start(parts)
        settled, tail_key, split = yield from groups.settle_tail(
            start, lambda: _full_parts(segment[:start], parts[:start]),
            lambda template: self._apply_tail(template, segment, own), segment, new_key)
        if settled:
            return

        segment = list(as_lines(segment))
        ctx, state = self.ctx, self.state
        before = (state.counter, len(state.by_key), ctx.unrecognised_lines, len(ctx.warnings))
        heads = [part is not _SENT and (type(part) is not tuple or part[0] is not None) for part in parts]
        for line, head in zip(segment, heads):
            if head:
                line.ts = self._stamp(line.text).replace()  # a time object of the line's own, for make_template
        noise: list[int] = []
        events: list[Event] = []
        at_tail = None  # the parser's state at the tail, and the events and noise before it
        if split is not None and (own in ctx._awaiting_auth or own in ctx._login_user_due):
            split = None  # the tail template records these for the segment's connection only
        plain = True  # every line whose key part leaves text out was read with nothing open
        self.capture = events
        try:
            for index, line in enumerate(segment):
                if index == split:
                    at_tail = self._tail_state(own, before), len(events), list(noise)
                if heads[index] or parts[index] is _SENT:
                    error = state.error
                    if state.log_object is not None or (error is not None and error.open_bracket):
                        plain = False
                count = ctx.noise_lines
                yield line
                if ctx.noise_lines != count:
                    noise.extend([index] * (ctx.noise_lines - count))
        finally:
            self.capture = None

        if (plain and events and all(event.session == own for event in events)
                and (state.counter, len(state.by_key), ctx.unrecognised_lines, len(ctx.warnings))
                == (before[0], before[1] + 1, *before[2:])
                and state.error is None and state.log_object is None and state.box_direction is None
                and all(head == (line.ts is not None) for line, head in zip(segment, heads))):
            # The segment reads as a copy would, so its row is kept as a copy's is: built now, with
            # the lines kept in case the connection comes back.
            row, template = make_template(segment, events, noise, None)
            if full is key:
                full = tuple(_full_parts(segment, parts))  # the masked key was new, so full was not needed yet
            groups.add_built(own, row, template, key, full)
            if at_tail is not None and at_tail[0] is not None:
                parser_state, count, noise_before = at_tail
                tail = make_tail_template(segment, events[:count], noise_before, split, parser_state)
                if tail is not None:
                    groups.store(tail_key, tail)
            self.copied[own] = [(line.number, line.text) for line in segment]
            return
        groups.add_events(events)

    def _tail_state(self, own: str, before: tuple) -> tuple | None:
        """Return what a tail template records of the parser's state at a segment's tail, or None if it cannot.

        It can when the segment's connection is the only new session and the
        current one, and no error, log object or old-form reply is open.  The
        connection has no error yet, because a later line may change an
        earlier error's event.  ``before`` is as in :meth:`_close`.
        """
        state, ctx = self.state, self.ctx
        session = state.by_key.get(own)
        if (session is None or state.current is not session or session.errors or state.error is not None
                or state.log_object is not None or state.box_direction is not None
                or (state.counter, len(state.by_key), ctx.unrecognised_lines, len(ctx.warnings))
                != (before[0], before[1] + 1, *before[2:])):
            return None
        return (session.transcript, session.greeted, session.last_verb, ctx._awaiting_auth.get(own, _UNREAD),
                ctx._login_user_due.get(own, _UNREAD))

    def _apply_tail(self, tail: TailTemplate, segment: list[Line | tuple[int, str]], own: str) -> bool:
        """Add the row of a segment from a tail template and a reading of its tail; return whether it could.

        The tail is read with a state and a context of its own, set as the
        usual path's would be at the tail.  Only when it reads as the
        template's tail did (its events all of the connection, no new
        session, nothing unrecognised or warned about, nothing left open) do
        the row, the counts and the state go to the file's reading.  Else
        nothing changed, and the caller reads the segment as usual.
        """
        ctx = self.ctx
        if own in ctx._awaiting_auth or own in ctx._login_user_due:
            return False  # the template was made from a connection without these
        transcript, greeted, last_verb, awaiting, login_due = tail.parser_state
        session = _Session(own, transcript, greeted, last_verb)
        state = _State()
        state.by_key[own] = state.current = session
        scratch = self.scratch
        if scratch is None:
            scratch = self.scratch = TailContext(ctx.source, ctx.options, file_date=ctx.file_date, loud=False)
        scratch.reset()
        if awaiting is not _UNREAD:
            scratch._awaiting_auth[own] = awaiting
        if login_due is not _UNREAD:
            scratch._login_user_due[own] = login_due
        lines = [Line(*line) if type(line) is tuple else Line(line.number, line.text) for line in segment[tail.split:]]
        events = list(_parse_lines(lines, scratch, state, True, finish=False, heads=self.tail_heads,
                                   bare_heads=self.bare_heads))
        if len(self.tail_heads) >= HEAD_CACHE_SIZE:
            self.tail_heads.clear()
        if (state.counter or len(state.by_key) != 1 or state.current is not session or state.error is not None
                or state.log_object is not None or state.box_direction is not None or scratch.unrecognised_lines
                or scratch.warnings or any(event.session != own for event in events)):
            return False

        count_noise(ctx, segment, tail.noise)
        for line in scratch.noise_at:
            ctx.noise(line)
        self.state.by_key[own] = self.state.current = session
        for name in ("_awaiting_auth", "_login_user_due"):
            value = getattr(scratch, name).get(own, _UNREAD)
            if value is not _UNREAD:
                getattr(ctx, name)[own] = value
        self.copied[own] = segment
        times, read_stamp = self.times, self._stamp

        def stamp(index: int) -> datetime:
            line = segment[index]
            text = line[1] if type(line) is tuple else line.text
            return times.get(text[1:20]) or read_stamp(text)

        builder = tail.start(stamp)
        walk_events(builder, events)
        self.groups.add_row(own, finish_row(builder, number_of(segment[tail.line_index])))
        return True

    def _apply(self, template: RowTemplate, segment: list[Line | tuple[int, str]], own: str) -> None:
        """Add the row of a segment that repeats a template's, and leave the state as reading it would."""
        session = _Session(own)  # a placeholder until the connection's lines are read again, if ever
        self.state.by_key[own] = session
        self.state.current = session
        self.copied[own] = segment  # lines no parser has read: no time is set on them
        if template.noise:
            count_noise(self.ctx, segment, template.noise)
        times, read_stamp = self.times, self._stamp

        def stamp(index: int) -> datetime:
            line = segment[index]
            text = line[1] if type(line) is tuple else line.text
            return times.get(text[1:20]) or read_stamp(text)

        self.groups.add_row(own, template.instantiate_at(number_of(segment[template.line_index]), stamp))

    def _read_again(self, own: str) -> None:
        """Replace a copied row by the events of its segment, for a connection whose lines come back."""
        # A segment's lines have no time, host or container from an envelope, and the parser reads
        # nothing else of a line but its number and text.
        segment = [Line(*line) if type(line) is tuple else Line(line.number, line.text)
                   for line in self.copied.pop(own)]
        ctx = self.ctx
        fresh_ctx = ParseContext(ctx.source, ctx.options)  # its line counts are dropped: they were counted
        fresh = _State()
        events = list(_parse_lines(segment, fresh_ctx, fresh, True))
        self.groups.grouped[own] = events
        self.state.by_key[own] = fresh.by_key[own]
        for name in ("_awaiting_auth", "_login_user_due"):
            if own in getattr(fresh_ctx, name):
                getattr(ctx, name)[own] = getattr(fresh_ctx, name)[own]

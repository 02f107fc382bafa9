"""Postfix delivery attempts that went well, read from raw lines without a :class:`Line` per line.

Most smtp lines of a relay's maillog are of two shapes: a TLS connection
established, and a ``status=sent`` delivery record.  The prefilter
(:func:`smtplogkit.formats.postfix.prefilter`) matches both shapes with
:data:`LINE` and hands such lines to the parser as ``(number, text)``
tuples.  While an smtp process has nothing else going on, the parser keeps
its current attempt as an :class:`Episode` and ends it as a
:class:`~smtplogkit.records.PlainSession`, which is what the general code
would yield for it.  A line of any other shape, or a sequence the episode
does not cover, hands the episode's lines back to the general code
(:attr:`Episode.lines`), which replays them, so the result is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..records import PlainBatch, PlainSession

# The results of Episodes.take for a raw line.
TAKEN = 0    # added to its process's episode
FULL = 1     # added, and ``ended`` contains a batch of records to yield
GENERAL = 2  # not read: the general code reads the process's lines
REFUSED = 3  # not read: the process (its episode, if any) must go to the general code with this line
# Records of ended episodes are yielded this many at a time.
BATCH = 4096

# A syslog tag of an smtp or lmtp process (under any syslog name), and the shapes of the two kinds of
# lines, in RE2 syntax for pyarrow.  Brackets are allowed only around the
# address, so that splitting at the first "[" and "]" reads the fields as
# the parser's regular expressions do.  Values end with their LF.
_TAG = r"[^ \[]+/(?:smtp|lmtp)\[\d+\]: "
_TLS = r"(?:Trusted|Untrusted|Anonymous|Verified) TLS connection established to [^ \[\]]+\[[^\[\]]*\]:\d+: "
_SENT = (r"{qid}: to=<[^>]*>,(?: orig_to=<[^>]*>,)? relay=[^ ,\[\]]+\[[^,\[\]]*\](?::\d+)?,(?: conn_use=\d+,)?"
         r" delay=[\d.]+,(?: delays=[\d./]+,)? dsn=\d\.\d{{1,3}}\.\d{{1,3}}, status=sent(?: \(.*\))?\n?$")


def line_pattern(day: str, time: str, qid: str) -> str:
    """Return the RE2 expression for a raw line this module reads, given the stamp's and queue id's expressions."""
    return rf"^{day} {time} [^ ]+ {_TAG}(?:{_TLS}|{_SENT.format(qid=qid)})"


TLS_HEADS = ("Trusted TLS", "Untrusted TLS", "Anonymous TLS", "Verified TLS")
_MODES = {"465": "implicit"}  # any other port: STARTTLS, as in postfix._tls_mode


class Episode:
    """One smtp process's current attempt: a TLS line, then the records of one message it sent.

    ``queue_id`` is None while the attempt waits for its delivery record.
    """

    __slots__ = ("number", "ts", "tls_at", "sent_at", "host", "ip", "port", "tls_mode", "log_host", "queue_id",
                 "relay", "recipients", "addresses", "text", "more")

    def __init__(self, number: int, ts: datetime, tls_at: datetime | None, host: str, ip: str | None,
                 port: int | None, tls_mode: str | None, log_host: str, text: str) -> None:
        self.number = number
        self.ts = ts
        self.tls_at = tls_at
        self.sent_at: datetime | None = None
        self.host = host
        self.ip = ip
        self.port = port
        self.tls_mode = tls_mode
        self.log_host = log_host
        self.queue_id: str | None = None
        self.relay: str | None = None
        self.recipients = 0
        self.addresses: set[str] | None = None
        self.text = text
        self.more: list[tuple[int, str]] | None = None  # the lines after the first, as (number, text)

    @property
    def lines(self) -> list[tuple[int, str]]:
        """The episode's raw lines, which the general code replays if the process needs it."""
        return [(self.number, self.text), *(self.more or ())]

    def add_line(self, number: int, text: str) -> None:
        """Keep a later line of the episode for :attr:`lines`."""
        if self.more is None:
            self.more = [(number, text)]
        else:
            self.more.append((number, text))

    def record(self) -> PlainSession:
        """Return the record the general code yields for this attempt."""
        return PlainSession(self.number, self.ts, self.tls_at, self.sent_at, self.host, self.ip, self.port,
                            self.tls_mode, self.log_host, None, self.queue_id, self.recipients)


class Episodes:
    """The current episode of each smtp process the general code does not hold, and the records of those that ended.

    :meth:`take` takes a raw line and follows what the general code's quick
    path does with it.  ``ended`` collects the records of finished episodes
    until the parser yields them.  ``stamp_of`` returns the time of a
    syslog stamp; each stamp is read once while it recurs.  A stamp it
    returns None for (one in an hour the zone repeats, whose time depends
    on the line, or of a day no calendar has) is never kept, and its line
    is refused: the general code reads it.

    ``_postfix_episodes.pyx`` is a compiled twin of this class, with the
    same methods and results.
    """

    def __init__(self, stamp_of: Callable[[str], datetime | None]) -> None:
        self.current: dict[str, Episode] = {}
        self.ended = PlainBatch()
        self.stamp_of = stamp_of
        self.stamps: dict[str, datetime | None] = {}  # the times of recent syslog stamps

    def take(self, number: int, text: str, general: dict[str, tuple]) -> int:
        """Read raw line ``number`` unless its process is in ``general``; return TAKEN, FULL, GENERAL or REFUSED."""
        name, body = process_key(text)
        if name in general:
            return GENERAL
        stamp = text[:15]
        stamps = self.stamps
        ts = stamps.get(stamp)
        if ts is None:
            ts = self.stamp_of(stamp)
            if ts is None:
                return REFUSED
            if len(stamps) > 4096:
                stamps.clear()
            stamps[stamp] = ts
        if not self.read(name, body, number, text, ts):
            return REFUSED
        return FULL if len(self.ended) >= BATCH else TAKEN

    def read(self, name: str, body: int, number: int, text: str, ts: datetime) -> bool:
        """Add a raw line of process ``name`` to its episode, and return True.

        Return False, having changed nothing, for a TLS line while the
        process's attempt waits for its record: the general code then reads
        the episode and the line (a note, or two attempts waiting).
        """
        current = self.current
        episode = current.get(name)
        if text.startswith(TLS_HEADS, body):
            if episode is not None:
                if episode.queue_id is None:
                    return False
                self.ended.append(episode.record())
            host, ip, port, mode = tls_fields(text, body)
            current[name] = Episode(number, ts, ts, host, ip, port, mode, name[:name.find(" ")], text)
            return True

        qid, recipient, relay, host, ip, port = sent_fields(text, body)
        if episode is not None:
            if episode.queue_id is None:
                if ip is None or episode.ip == ip:
                    episode.queue_id, episode.relay, episode.sent_at = qid, relay, ts
                    episode.recipients = 1
                    episode.addresses = {recipient}
                    episode.add_line(number, text)
                    return True
                episode.queue_id = qid  # ended by this record, though it sent nothing
            elif episode.queue_id == qid and episode.relay == relay and recipient not in episode.addresses:
                episode.recipients += 1  # another recipient over the same connection
                episode.addresses.add(recipient)
                episode.add_line(number, text)
                return True
            self.ended.append(episode.record())
        episode = current[name] = Episode(number, ts, None, host, ip, port, None, name[:name.find(" ")], text)
        episode.queue_id, episode.relay, episode.sent_at = qid, relay, ts
        episode.recipients = 1
        episode.addresses = {recipient}
        return True

    def finish(self) -> PlainBatch:
        """End every current episode and return the records not yet taken."""
        self.ended.extend(episode.record() for episode in self.current.values())
        self.current = {}
        return self.ended


def process_key(text: str) -> tuple[str, int]:
    """Return a raw line's host and syslog tag (``"mx1 postfix/smtp[123]"``) and where its message starts."""
    tag_end = text.find(": ", text.find(" ", 16))
    return text[16:tag_end], tag_end + 2


def key_of(log_host: str | None, program: str | None, pid: str | None) -> str:
    """Return the key :func:`process_key` gives for a line with these envelope fields."""
    return f"{log_host} {program}[{pid}]"


def tls_fields(text: str, body: int) -> tuple[str, str, int, str]:
    """Return the host, address, port and TLS mode of a TLS line whose message starts at ``body``."""
    start = text.find(" established to ", body) + 16
    opening = text.find("[", start)
    closing = text.find("]", opening)
    port = text[closing + 2:text.find(":", closing + 2)]
    return text[start:opening], text[opening + 1:closing], int(port), _MODES.get(port, "starttls")


def sent_fields(text: str, body: int) -> tuple[str, str, str, str, str | None, int | None]:
    """Return the queue id, recipient, relay, relay host, address and port of a ``status=sent`` record."""
    colon = text.find(": to=<", body)
    closing = text.find(">", colon + 6)
    at = closing + 2
    if text.startswith(" orig_to=<", at):
        at = text.find(">", at + 10) + 2
    at += 7  # " relay="
    relay = text[at:text.find(",", at)]
    opening = relay.find("[")
    end = relay.find("]", opening)
    ip: str | None = relay[opening + 1:end]
    if "/" in ip:
        ip = None  # an LMTP or SMTP socket path such as private/dovecot-lmtp
    port = int(relay[end + 2:]) if len(relay) > end + 1 else None
    return text[body:colon], text[colon + 6:closing], relay, relay[:opening], ip, port

# cython: language_level=3, boundscheck=False, wraparound=False
"""The compiled twin of :class:`smtplogkit.formats._postfix_lean.Episodes`.

Same methods, same state, same records: the Postfix parser uses this class
when :func:`smtplogkit.formats.base.compiled` finds it, and the Python one
otherwise.  Most lines of a relay's
smtp processes pass through :meth:`Episodes.take`, so running it without
the interpreter's per-operation cost is most of what this module is for.
The field readers follow ``_postfix_lean.tls_fields`` and ``sent_fields``:
the raw lines they read matched the prefilter's shapes, so every search
below finds what it looks for.
"""

from cpython.unicode cimport PyUnicode_Tailmatch

from ..records import PlainBatch, PlainSession
from ._postfix_lean import BATCH, FULL, GENERAL, REFUSED, TAKEN


cdef class Episode:
    """One smtp process's current attempt, as ``_postfix_lean.Episode``."""

    cdef public Py_ssize_t number
    cdef public object ts, tls_at, sent_at, ip, port, tls_mode, queue_id, relay
    cdef public str host, log_host, text
    cdef public Py_ssize_t recipients
    # The second line and the first recipient are kept as fields: most
    # episodes have no third line and one recipient, so they need no list
    # and no set.  ``more`` and ``addresses`` hold the rest.
    cdef Py_ssize_t number2
    cdef str text2, address
    cdef list more
    cdef set addresses

    @property
    def lines(self) -> list:
        """The episode's raw lines, which the general code replays if the process needs it."""
        if self.text2 is None:
            return [(self.number, self.text)]
        return [(self.number, self.text), (self.number2, self.text2), *(self.more or ())]

    cdef inline void add_line(self, Py_ssize_t number, str text):
        if self.text2 is None:
            self.number2, self.text2 = number, text
        elif self.more is None:
            self.more = [(number, text)]
        else:
            self.more.append((number, text))

    cdef inline bint has_address(self, str address):
        return address == self.address or (self.addresses is not None and address in self.addresses)

    cdef inline void add_address(self, str address):
        if self.address is None:
            self.address = address
        elif self.addresses is None:
            self.addresses = {address}
        else:
            self.addresses.add(address)

    def record(self):
        """Return the record the general code yields for this attempt."""
        return _record(self)


cdef object _tuple_new = tuple.__new__


cdef inline object _record(Episode episode):
    """Return the episode's PlainSession, made without the named tuple's Python-level constructor."""
    return _tuple_new(PlainSession, (episode.number, episode.ts, episode.tls_at, episode.sent_at, episode.host,
                                     episode.ip, episode.port, episode.tls_mode, episode.log_host, None,
                                     episode.queue_id, episode.recipients))


cdef Episode _new(Py_ssize_t number, object ts, object tls_at, str host, object ip, object port, object tls_mode,
                  str name, str text):
    cdef Episode episode = Episode.__new__(Episode)
    episode.number = number
    episode.ts = ts
    episode.tls_at = tls_at
    episode.sent_at = None
    episode.host = host
    episode.ip = ip
    episode.port = port
    episode.tls_mode = tls_mode
    episode.log_host = name[:name.find(" ")]
    episode.queue_id = None
    episode.relay = None
    episode.recipients = 0
    episode.text = text
    return episode


cdef inline bint _tls_head(str text, Py_ssize_t body):
    """Whether the message at ``body`` starts with one of _postfix_lean.TLS_HEADS."""
    if body >= len(text):
        return False
    cdef Py_UCS4 first = text[body]
    if first == "T":
        return text.startswith("Trusted TLS", body)
    if first == "U":
        return text.startswith("Untrusted TLS", body)
    if first == "A":
        return text.startswith("Anonymous TLS", body)
    if first == "V":
        return text.startswith("Verified TLS", body)
    return False


cdef inline Py_ssize_t _find(str text, Py_UCS4 char, Py_ssize_t start):
    """Return the position of ``char`` at or after ``start``, or -1 (also for a negative ``start``)."""
    if start < 0:
        return -1  # the search before found nothing: never read before the text
    cdef Py_ssize_t size = len(text)
    while start < size:
        if text[start] == char:
            return start
        start += 1
    return -1


cdef class Episodes:
    """The current episode of each smtp process the general code does not hold, as ``_postfix_lean.Episodes``."""

    cdef public dict current
    cdef public object ended
    cdef public object stamp_of
    cdef public dict stamps
    cdef str last_stamp
    cdef object last_ts

    def __init__(self, stamp_of):
        self.current = {}
        self.ended = PlainBatch()
        self.stamp_of = stamp_of
        self.stamps = {}

    def take(self, Py_ssize_t number, str text, dict general) -> int:
        """Read raw line ``number`` unless ``general`` holds its process; return TAKEN, FULL, GENERAL or REFUSED."""
        cdef Py_ssize_t tag_end = _find(text, ":", _find(text, " ", 16))
        while 0 <= tag_end < len(text) - 1 and text[tag_end + 1] != " ":
            tag_end = _find(text, ":", tag_end + 1)  # the first ": " after the host, as _postfix_lean.process_key
        if tag_end < 0 or tag_end >= len(text) - 1:
            raise ValueError(f"not a raw Postfix line: {text[:80]!r}")
        name = text[16:tag_end]
        if name in general:
            return GENERAL
        if self.last_stamp is not None and PyUnicode_Tailmatch(text, self.last_stamp, 0, 15, -1) == 1:
            ts = self.last_ts  # consecutive lines mostly share their second
        else:
            stamp = text[:15]
            ts = self.stamps.get(stamp)
            if ts is None:
                ts = self.stamp_of(stamp)
                if ts is None:
                    return REFUSED  # a time the general code reads: never kept, as in _postfix_lean
                if len(self.stamps) > 4096:
                    self.stamps.clear()
                self.stamps[stamp] = ts
            self.last_stamp, self.last_ts = stamp, ts
        if not self._read(name, tag_end + 2, number, text, ts):
            return REFUSED
        return FULL if len(self.ended) >= BATCH else TAKEN

    def read(self, str name, Py_ssize_t body, Py_ssize_t number, str text, ts) -> bool:
        """Add a raw line of process ``name`` to its episode, as ``_postfix_lean.Episodes.read``."""
        return self._read(name, body, number, text, ts)

    cdef bint _read(self, str name, Py_ssize_t body, Py_ssize_t number, str text, ts) except -1:
        cdef Episode episode = self.current.get(name)
        cdef Py_ssize_t start, opening, closing, colon, at
        if _tls_head(text, body):
            if episode is not None:
                if episode.queue_id is None:
                    return False
                self.ended.append(_record(episode))
            start = text.find(" established to ", body) + 16
            opening = _find(text, "[", start)
            closing = _find(text, "]", opening)
            port = text[closing + 2:_find(text, ":", closing + 2)]
            self.current[name] = _new(number, ts, ts, text[start:opening], text[opening + 1:closing], int(port),
                                      "implicit" if port == "465" else "starttls", name, text)
            return True

        # A status=sent record: the fields _postfix_lean.sent_fields reads.
        colon = text.find(": to=<", body)
        closing = _find(text, ">", colon + 6)
        at = closing + 2
        if text.startswith(" orig_to=<", at):
            at = _find(text, ">", at + 10) + 2
        at += 7  # " relay="
        relay = text[at:_find(text, ",", at)]
        opening = relay.find("[")
        end = relay.find("]", opening)
        ip = relay[opening + 1:end]
        if "/" in ip:
            ip = None  # an LMTP or SMTP socket path such as private/dovecot-lmtp
        port = int(relay[end + 2:]) if len(relay) > end + 1 else None
        qid = text[body:colon]
        recipient = text[colon + 6:closing]

        if episode is not None:
            if episode.queue_id is None:
                if ip is None or episode.ip == ip:
                    episode.queue_id, episode.relay, episode.sent_at = qid, relay, ts
                    episode.recipients = 1
                    episode.add_address(recipient)
                    episode.add_line(number, text)
                    return True
                episode.queue_id = qid  # ended by this record, though it sent nothing
            elif episode.queue_id == qid and episode.relay == relay and not episode.has_address(recipient):
                episode.recipients += 1  # another recipient over the same connection
                episode.add_address(recipient)
                episode.add_line(number, text)
                return True
            self.ended.append(_record(episode))
        episode = _new(number, ts, None, relay[:opening], ip, port, None, name, text)
        self.current[name] = episode
        episode.queue_id, episode.relay, episode.sent_at = qid, relay, ts
        episode.recipients = 1
        episode.add_address(recipient)
        return True

    def finish(self):
        """End every current episode and return the records not yet taken."""
        self.ended.extend([_record(episode) for episode in self.current.values()])
        self.current = {}
        return self.ended

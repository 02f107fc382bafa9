# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The Postfix prefilter as compiled code: one pass over a block's bytes, without regular expressions.

:func:`smtplogkit.formats.postfix.prefilter` matches a block of raw lines
against four RE2 expressions with pyarrow.  :func:`scan` gives the same
result by reading each line's bytes once: the syslog stamp and tag by
position, then, for an smtp or lmtp line, whether its message has one of
the two shapes :mod:`smtplogkit.formats._postfix_lean` reads.  Each check
below names the part of the expression it implements, and
``tests/formats/test_postfix_scan.py`` compares both on every sample log
and on lines made to sit on each expression's edges.

The bytes are ASCII or UTF-8.  The expressions' character classes exclude
only ASCII characters, so a byte of a multi-byte character falls on the
same side of each class as its character does, and reading bytes gives the
same matches as reading characters.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.string cimport memchr, memcmp

from ._bytes cimport decode, digit, line_end, text_t

# What a line's syslog tag names (see _tag_kind).
cdef enum Tag:
    OTHER_PROGRAM = 0   # not a Postfix tag (postfix._program_service): noise
    NOISE_SERVICE = 1   # a Postfix daemon whose lines are only counted as noise
    RECORD_SERVICE = 2  # a delivery agent whose lines count as parsed
    QUEUE_SERVICE = 3   # qmgr or cleanup: parsed when about a queue id, else noise
    SESSION_SERVICE = 4 # smtp or lmtp
    UNUSUAL = 5         # any other Postfix tag: the parser reads it

# The daemon names of postfix.NOISE_SERVICES and RECORD_SERVICES; the test
# checks that these tuples equal the Python module's.
NOISE_NAMES = (b"smtpd", b"postscreen", b"anvil", b"bounce", b"master", b"pickup", b"tlsmgr", b"scache", b"proxymap",
               b"verify", b"dnsblog", b"tlsproxy", b"trivial-rewrite", b"postsuper", b"postqueue", b"sendmail",
               b"postdrop", b"flush", b"showq", b"spawn", b"oqmgr", b"postlog", b"policyd-spf")
RECORD_NAMES = (b"discard", b"error", b"local", b"pipe", b"retry", b"virtual")
QUEUE_NAMES = (b"qmgr", b"cleanup")


cdef inline int _month(text_t s) noexcept:
    """Return the month (1 to 12) that three bytes name, or 0."""
    cdef unsigned char a = s[0], b = s[1], c = s[2]
    if a == b"J":
        if b == b"a" and c == b"n":
            return 1
        if b == b"u" and c == b"n":
            return 6
        if b == b"u" and c == b"l":
            return 7
    elif a == b"F" and b == b"e" and c == b"b":
        return 2
    elif a == b"M" and b == b"a":
        if c == b"r":
            return 3
        if c == b"y":
            return 5
    elif a == b"A":
        if b == b"p" and c == b"r":
            return 4
        if b == b"u" and c == b"g":
            return 8
    elif a == b"S" and b == b"e" and c == b"p":
        return 9
    elif a == b"O" and b == b"c" and c == b"t":
        return 10
    elif a == b"N" and b == b"o" and c == b"v":
        return 11
    elif a == b"D" and b == b"e" and c == b"c":
        return 12
    return 0


cdef inline bint _stamp(text_t s, Py_ssize_t n) noexcept:
    """Whether a line starts with ``{_DAY} {_TIME} `` (postfix._DAY and _TIME): a stamp that parses."""
    if n < 16 or s[3] != b" " or s[6] != b" " or s[15] != b" ":
        return False
    cdef int month = _month(s)
    if month == 0:
        return False
    cdef unsigned char d0 = s[4], d1 = s[5]
    cdef bint day
    if d0 == b" " or d0 == b"0":
        day = 49 <= d1 <= 57
    elif d0 == b"1":
        day = digit(d1)
    elif d0 == b"2":
        day = 48 <= d1 <= 56 or (d1 == b"9" and month != 2)
    elif d0 == b"3":
        day = (d1 == b"0" and month != 2) or (d1 == b"1" and month in (1, 3, 5, 7, 8, 10, 12))
    else:
        day = False
    if not day:
        return False
    cdef unsigned char h0 = s[7], h1 = s[8]
    if not ((h0 == b"0" or h0 == b"1") and digit(h1) or h0 == b"2" and 48 <= h1 <= 51):
        return False
    return (s[9] == b":" and 48 <= s[10] <= 53 and digit(s[11])
            and s[12] == b":" and 48 <= s[13] <= 53 and digit(s[14]))


cdef inline bint _qid_char(unsigned char c) noexcept:
    """A character of the inode part of postfix's long queue ids: digits and letters without vowels (nor "z")."""
    if digit(c):
        return True
    if 66 <= c <= 90:  # B to Z
        return c != b"E" and c != b"I" and c != b"O" and c != b"U"
    if 98 <= c <= 121:  # b to y
        return c != b"e" and c != b"i" and c != b"o" and c != b"u"
    return False


cdef Py_ssize_t _qid_colon(text_t s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Return the end of ``{QID}: `` at ``i`` (postfix.QID), or -1."""
    cdef Py_ssize_t j = i
    cdef unsigned char c
    while j < n:  # [0-9A-F]{5,15}
        c = s[j]
        if not (digit(c) or 65 <= c <= 70):
            break
        j += 1
    if 5 <= j - i <= 15 and j + 1 < n and s[j] == b":" and s[j + 1] == b" ":
        return j + 2
    # [...z]{8,15}z[...]{1,12}: the time part may hold a "z", so the separator is the run's last "z".
    cdef Py_ssize_t last_z = -1
    j = i
    while j < n and (_qid_char(s[j]) or s[j] == b"z"):
        if s[j] == b"z":
            last_z = j
        j += 1
    if last_z < 0 or not (8 <= last_z - i <= 15) or not (1 <= j - last_z - 1 <= 12):
        return -1
    if j + 1 < n and s[j] == b":" and s[j + 1] == b" ":
        return j + 2
    return -1


cdef struct Name:
    const char* text  # held by the module's tuples of names
    Py_ssize_t size
    Tag kind

# The service names as C data, the most frequent first (qmgr and cleanup: a sixth of a relay's lines),
# so that classifying a tag touches no Python object.
cdef Name _NAMES[64]
cdef int _NAME_COUNT = 0


cdef int _add_names(tuple names, Tag kind) except -1:
    global _NAME_COUNT
    cdef bytes name
    for name in names:
        if _NAME_COUNT == 64:
            raise ValueError("more service names than _NAMES holds")
        _NAMES[_NAME_COUNT] = Name(PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name), kind)
        _NAME_COUNT += 1
    return 0


_add_names(QUEUE_NAMES, QUEUE_SERVICE)
_add_names(NOISE_NAMES, NOISE_SERVICE)
_add_names(RECORD_NAMES, RECORD_SERVICE)


cdef Tag _tag_kind(text_t s, Py_ssize_t n):
    """Classify a syslog tag as SKIPPED, SESSION_TAG, PARSED_TAG and RAW_LINE's ``[^ \\[]+/(?:...)\\[\\d+\\]`` read it.

    A tag that starts with "postfix" is Postfix's: an unusual one goes to
    the parser.  Any other is Postfix's only as ``NAME/DAEMON[pid]`` with a
    daemon of the tables and a process id of digits (postfix._program_service);
    else it is another program's.
    """
    cdef bint ours = n >= 7 and memcmp(s, b"postfix", 7) == 0
    cdef Tag unusual = UNUSUAL if ours else OTHER_PROGRAM
    cdef Py_ssize_t bracket = 7 if ours else 0
    while bracket < n and s[bracket] != b"[":
        bracket += 1
    if bracket >= n or s[n - 1] != b"]" or n - bracket < 3:
        return unusual
    cdef Py_ssize_t i
    for i in range(bracket + 1, n - 1):
        if not digit(s[i]):
            return unusual
    cdef Py_ssize_t lowest = 7 if ours else 1  # another name has one byte or more before the slash
    cdef Py_ssize_t slash = bracket - 1
    while slash >= lowest and s[slash] != b"/":
        slash -= 1
    if slash < lowest:
        return unusual
    cdef text_t service = s + slash + 1
    cdef Py_ssize_t size = bracket - slash - 1
    if size == 4 and (memcmp(service, b"smtp", 4) == 0 or memcmp(service, b"lmtp", 4) == 0):
        return SESSION_SERVICE
    for i in range(_NAME_COUNT):
        if _NAMES[i].size == size and memcmp(service, _NAMES[i].text, size) == 0:
            return _NAMES[i].kind
    return unusual


cdef Py_ssize_t _run_until(text_t s, Py_ssize_t i, Py_ssize_t n, bytes stops) noexcept:
    """Return the position of the first byte at or after ``i`` that is in ``stops``, or ``n``."""
    cdef text_t stop = <text_t>PyBytes_AS_STRING(stops)
    cdef Py_ssize_t count = PyBytes_GET_SIZE(stops)
    cdef Py_ssize_t k
    while i < n:
        for k in range(count):
            if s[i] == stop[k]:
                return i
        i += 1
    return n


cdef inline bint _starts(text_t s, Py_ssize_t i, Py_ssize_t n, bytes word) noexcept:
    """Whether ``word`` is at position ``i``."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(word)
    cdef text_t w = <text_t>PyBytes_AS_STRING(word)
    cdef Py_ssize_t k
    if i + size > n:
        return False
    for k in range(size):
        if s[i + k] != w[k]:
            return False
    return True


cdef inline Py_ssize_t _digits(text_t s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Return the end of the run of ASCII digits at ``i``."""
    while i < n and digit(s[i]):
        i += 1
    return i


cdef bint _tls_line(text_t s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Whether the message at ``i`` is _postfix_lean._TLS."""
    if _starts(s, i, n, b"Trusted "):
        i += 8
    elif _starts(s, i, n, b"Untrusted "):
        i += 10
    elif _starts(s, i, n, b"Anonymous "):
        i += 10
    elif _starts(s, i, n, b"Verified "):
        i += 9
    else:
        return False
    if not _starts(s, i, n, b"TLS connection established to "):
        return False
    i += 30
    cdef Py_ssize_t j = _run_until(s, i, n, b" []")  # [^ \[\]]+\[
    if j == i or j >= n or s[j] != b"[":
        return False
    j = _run_until(s, j + 1, n, b"[]")  # [^\[\]]*\]
    if j >= n or s[j] != b"]" or not _starts(s, j + 1, n, b":"):
        return False
    cdef Py_ssize_t k = _digits(s, j + 2, n)  # :\d+:
    return k > j + 2 and _starts(s, k, n, b": ")


cdef bint _sent_line(text_t s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Whether the message at ``i`` is _postfix_lean._SENT: a status=sent record."""
    i = _qid_colon(s, i, n)
    if i < 0 or not _starts(s, i, n, b"to=<"):
        return False
    i = _run_until(s, i + 4, n, b">")  # [^>]*>,
    if not _starts(s, i, n, b">,"):
        return False
    i += 2
    if _starts(s, i, n, b" orig_to=<"):
        i = _run_until(s, i + 10, n, b">")
        if not _starts(s, i, n, b">,"):
            return False
        i += 2
    if not _starts(s, i, n, b" relay="):
        return False
    i += 7
    cdef Py_ssize_t j = _run_until(s, i, n, b" ,[]")  # [^ ,\[\]]+\[
    if j == i or j >= n or s[j] != b"[":
        return False
    j = _run_until(s, j + 1, n, b",[]")  # [^,\[\]]*\]
    if j >= n or s[j] != b"]":
        return False
    i = j + 1
    if _starts(s, i, n, b":"):  # (?::\d+)?
        j = _digits(s, i + 1, n)
        if j == i + 1:
            return False
        i = j
    if not _starts(s, i, n, b","):
        return False
    i += 1
    if _starts(s, i, n, b" conn_use="):
        j = _digits(s, i + 10, n)
        if j == i + 10 or not _starts(s, j, n, b","):
            return False
        i = j + 1
    if not _starts(s, i, n, b" delay="):
        return False
    i += 7
    j = i
    while j < n and (digit(s[j]) or s[j] == b"."):
        j += 1
    if j == i or not _starts(s, j, n, b","):
        return False
    i = j + 1
    if _starts(s, i, n, b" delays="):
        i += 8
        j = i
        while j < n and (digit(s[j]) or s[j] == b"." or s[j] == b"/"):
            j += 1
        if j == i or not _starts(s, j, n, b","):
            return False
        i = j + 1
    if not _starts(s, i, n, b" dsn=") or i + 6 >= n or not digit(s[i + 5]) or s[i + 6] != b".":
        return False
    i += 7
    j = _digits(s, i, n)  # \d{1,3}\.\d{1,3}
    if not (1 <= j - i <= 3) or not _starts(s, j, n, b"."):
        return False
    i = j + 1
    j = _digits(s, i, n)
    if not (1 <= j - i <= 3) or not _starts(s, j, n, b", status=sent"):
        return False
    i = j + 13
    if i == n:  # (?: \(.*\))?\n?$ over a line without its LF
        return True
    return n - i >= 3 and _starts(s, i, n, b" (") and s[n - 1] == b")"


cdef class _Line:
    """The parts of one line that every check needs, found once."""

    cdef Py_ssize_t tag_start, tag_end, body   # the tag is s[tag_start:tag_end]; the message starts at body
    cdef bint stamped                           # STAMPED matches
    cdef bint colon_space                       # the tag is followed by ": " (body within the line or at its end)


cdef bint _split(text_t s, Py_ssize_t n, _Line parts) noexcept:
    """Find the host and tag of a line whose stamp parses; return False if the line has no such envelope.

    ``[^ ]+ [^ ]*: .`` after the stamp: a host, a space, then a run of
    bytes without spaces that ends with ":", a space and a byte that is
    not a line end.
    """
    parts.stamped = False
    parts.colon_space = False
    if not _stamp(s, n):
        return False
    cdef Py_ssize_t i = 16
    while i < n and s[i] != b" ":
        i += 1
    if i == 16 or i >= n:
        return False
    cdef Py_ssize_t tag_start = i + 1
    cdef Py_ssize_t j = tag_start
    while j < n and s[j] != b" ":
        j += 1
    if j >= n or j == tag_start or s[j - 1] != b":":
        return False
    parts.tag_start = tag_start
    parts.tag_end = j - 1
    parts.body = j + 1
    parts.colon_space = True
    parts.stamped = j + 1 < n and s[j + 1] != b"\n"
    return True


cdef bint _nested(text_t s, Py_ssize_t i, Py_ssize_t n) noexcept:
    """Whether the message at ``i`` starts with another stamp (postfix.NESTED): ``{_DAY} {_TIME} `` or ``\\d{4}-\\d\\d-\\d\\dT``."""
    if _stamp(s + i, n - i):
        return True
    return (n - i >= 11 and digit(s[i]) and digit(s[i + 1]) and digit(s[i + 2]) and digit(s[i + 3])
            and s[i + 4] == b"-" and digit(s[i + 5]) and digit(s[i + 6]) and s[i + 7] == b"-"
            and digit(s[i + 8]) and digit(s[i + 9]) and s[i + 10] == b"T")


cdef inline bint _pid_in(text_t s, Py_ssize_t tag_end, bytes digits) noexcept:
    """Whether the last digit of the process id (the byte before the tag's "]") is in ``digits``."""
    return memchr(PyBytes_AS_STRING(digits), s[tag_end - 2], PyBytes_GET_SIZE(digits)) != NULL


def scan(bytes data, Py_ssize_t count, int share_index=0, int share_count=1, bint raw=False, bint texts=False):
    """Return what :func:`smtplogkit.formats.postfix.prefilter` returns for a block whose lines, joined by LF, are ``data``.

    ``count`` is the number of lines in the block.  With ``raw``, a list of
    flags follows, one per kept line: True for a :data:`RAW_LINE`.  With
    ``raw`` and ``texts``, the kept lines follow as strings, decoded from
    ASCII (or from UTF-8 if ``data`` is not all ASCII).
    """
    cdef text_t buf = <text_t>PyBytes_AS_STRING(data)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t start = 0, end, index = 0, noise = 0
    cdef bint keep, utf8 = not data.isascii()
    cdef Tag kind
    cdef text_t s
    cdef Py_ssize_t n
    cdef _Line parts = _Line()
    cdef list positions = [], flags = [], kept_texts = []
    cdef bytes mine = "".join([str(d) for d in range(10) if d % share_count == share_index]).encode()
    cdef bytes others = "".join([str(d) for d in range(10) if d % share_count != 0]).encode()
    while index < count:
        s = buf + start
        end = line_end(buf, start, size)
        n = end - start
        keep = True
        if _split(s, n, parts):
            kind = _tag_kind(s + parts.tag_start, parts.tag_end - parts.tag_start)
            if parts.stamped and _nested(s, parts.body, n):
                parts.stamped = False  # an envelope inside another: every share keeps it, as an unusual one
                kind = UNUSUAL
            if share_index > 0:
                # Only this share's smtp and lmtp processes, and lines with an unusual envelope.
                keep = not parts.stamped or (kind == SESSION_SERVICE and _pid_in(s, parts.tag_end, mine))
            elif parts.stamped and kind != SESSION_SERVICE and kind != UNUSUAL:
                keep = False
                if kind == RECORD_SERVICE or (kind == QUEUE_SERVICE and _qid_colon(s, parts.body, n) >= 0):
                    pass  # counted as parsed
                else:
                    noise += 1
            elif share_count > 1 and kind == SESSION_SERVICE and _pid_in(s, parts.tag_end, others):
                keep = False
        if keep:
            positions.append(index)
            if raw:
                flags.append(parts.colon_space and kind == SESSION_SERVICE
                             and (_tls_line(s, parts.body, n) or _sent_line(s, parts.body, n)))
            if raw and texts:
                kept_texts.append(decode(s, n, utf8))
        start = end + 1
        index += 1
    result = [positions, noise]
    if raw:
        result.append(flags)
    if raw and texts:
        result.append(kept_texts)
    return tuple(result)

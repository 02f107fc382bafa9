# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The nodemailer prefilter's block reading as compiled code: one pass over a block's bytes.

:func:`smtplogkit.formats.nodemailer._droppable` reads each line's first
48 bytes as numpy words, and pyarrow searches the other lines for a
possible opener.  :func:`droppable` gives the same three results (which
lines may be left out, which are logger lines, the first opener) from the
bytes, line by line; :func:`smtplogkit.formats.nodemailer.prefilter` then
applies them as before.  The comments name the part of ``_droppable`` each
check implements.  ``tests/formats/test_nodemailer_scan.py`` compares the
two.

Bytes past a line's end are never read here: the numpy version reads them
(the LF and the next line), but no pattern it compares contains an LF, so
a line too short for a pattern fails it either way.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memchr, memcmp

from ._bytes cimport decode, digit, line_end, text_t

cdef enum:
    SID_WIDTH = 16  # nodemailer._SID_WIDTH: connection ids longer than this are left to the parser

# The level words at bytes 22 to 27 of a logger line: those whose lines may be noise, and the others.
QUIET = (b"TRACE ", b"DEBUG ", b"INFO  ")
LOUD = (b"WARN  ", b"ERROR ", b"FATAL ")
DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


cdef inline bint _at(text_t s, Py_ssize_t n, Py_ssize_t i, bytes word) noexcept:
    """Whether ``word`` is at position ``i`` of the line."""
    cdef Py_ssize_t size = PyBytes_GET_SIZE(word)
    return i + size <= n and memcmp(s + i, PyBytes_AS_STRING(word), size) == 0


cdef inline int _number(text_t s, Py_ssize_t i, Py_ssize_t count) noexcept:
    cdef int value = 0
    cdef Py_ssize_t k
    for k in range(count):
        value = value * 10 + (s[i + k] - 48)
    return value


cdef bint _logger_head(text_t s, Py_ssize_t n) noexcept:
    """Whether bytes 0 to 21 are ``[dddd-dd-dd dd:dd:dd] `` with ASCII digits (_STAMP_WORDS)."""
    cdef const char* shape = b"[dddd-dd-dd dd:dd:dd] "
    cdef Py_ssize_t i
    if n < 22:
        return False
    for i in range(22):
        if shape[i] == b"d":
            if not digit(s[i]):
                return False
        elif s[i] != <unsigned char>shape[i]:
            return False
    return True


cdef bint _valid_stamp(text_t s) noexcept:
    """Whether a logger line's stamp is a time a calendar has (_valid_stamps)."""
    cdef int year = _number(s, 1, 4), month = _number(s, 6, 2), day = _number(s, 9, 2)
    cdef int hour = _number(s, 12, 2), minute = _number(s, 15, 2), second = _number(s, 18, 2)
    if year < 1 or month < 1 or month > 12 or day < 1 or hour >= 24 or minute >= 60 or second >= 60:
        return False
    cdef int days = DAYS[month]
    if month == 2 and (year % 4 == 0 and year % 100 != 0 or year % 400 == 0):
        days += 1
    return day <= days


cdef bint _frame(text_t s, Py_ssize_t n) noexcept:
    """Whether a line is "at " after 2, 4, 6 or 8 spaces, then a printable ASCII character (``frames``)."""
    cdef Py_ssize_t indent, i
    cdef bint spaces
    for indent in range(2, 10, 2):
        if indent + 4 > n:
            return False
        spaces = True
        for i in range(indent):
            if s[i] != b" ":
                spaces = False
                break
        if spaces and s[indent] == b"a" and s[indent + 1] == b"t" and s[indent + 2] == b" " \
                and 33 <= s[indent + 3] <= 126:
            return True
    return False


cdef bint _opener(text_t s, Py_ssize_t n) noexcept:
    """Whether a line matches _OPENER_RE2 (``type: '``, a brace, or ``[...Error``) and is no indented frame."""
    cdef Py_ssize_t i = 0, j, k
    # ^[ \t]+at [!-~]: an indented frame opens nothing.
    while i < n and (s[i] == b" " or s[i] == b"\t"):
        i += 1
    if i > 0 and i + 3 < n and s[i] == b"a" and s[i + 1] == b"t" and s[i + 2] == b" " and 33 <= s[i + 3] <= 126:
        return False
    if memchr(s, b"{", n) != NULL:
        return True
    for i in range(n):
        if s[i] == b"t" and i + 7 <= n and memcmp(s + i, b"type: '", 7) == 0:
            return True
        if s[i] == b"[":
            # \[[^ \[\]:]*Error: "Error" inside the run of allowed bytes after the bracket.
            j = i + 1
            while j < n and s[j] != b" " and s[j] != b"[" and s[j] != b"]" and s[j] != b":":
                j += 1
            for k in range(i + 1, j - 4):
                if memcmp(s + k, b"Error", 5) == 0:
                    return True
    return False


cdef Py_ssize_t _read_block(text_t buf, Py_ssize_t size, Py_ssize_t count, tuple note_starts, char* drops,
                            char* loggers, Py_ssize_t* starts):
    """Fill each line's drop and logger flags and start; return the first opener's index, or -1."""
    cdef Py_ssize_t index, start = 0, end, n, close, at, previous_close = -1, opener = -1
    cdef text_t s
    cdef text_t previous = NULL
    cdef bint logger, quiet, frame, has_id, read, drop, previous_logger = False, previous_id = False
    cdef bytes level, start_word
    for index in range(count):
        s = buf + start
        end = line_end(buf, start, size)
        starts[index] = start
        n = end - start
        logger = quiet = has_id = False
        close = 0
        if _logger_head(s, n) and n >= 28:
            for level in QUIET:
                if memcmp(s + 22, PyBytes_AS_STRING(level), 6) == 0:
                    logger = quiet = True
                    break
            else:
                for level in LOUD:
                    if memcmp(s + 22, PyBytes_AS_STRING(level), 6) == 0:
                        logger = True
                        break
        frame = _frame(s, n)
        if logger:
            # A connection id: "[" at 28, not "#", up to the first "]" of bytes 30 to 45, then a space.
            if n > 29 and s[28] == b"[" and s[29] != b"#":
                for at in range(30, min(30 + SID_WIDTH, n)):
                    if s[at] == b"]":
                        close = at
                        break
                has_id = close > 0 and close + 2 <= n and s[close + 1] == b" "
            # The first 8 bytes of the message: a reply, a command or a note the parser reads.
            at = close + 2 if has_id else 28
            read = _at(s, n, at, b"S:") or _at(s, n, at, b"C:")
            if not read:
                for start_word in note_starts:
                    if _at(s, n, at, start_word):
                        read = True
                        break
            quiet = quiet and not read
        drop = frame
        if not drop and quiet and index > 0:
            if has_id:
                # The same "[id] " as the line before: bytes 28 to close + 1 equal.
                drop = (previous_id and previous_close == close
                        and memcmp(previous + 28, s + 28, close + 2 - 28) == 0)
            elif n <= 28 or s[28] != b"[":
                drop = previous_logger
            if drop:
                drop = _valid_stamp(s)
        drops[index] = drop
        loggers[index] = logger
        if opener < 0 and not logger and not frame and _opener(s, n):
            opener = index
        previous, previous_logger, previous_id, previous_close = s, logger, has_id, close
        start = end + 1
    starts[count] = size + 1
    return opener


cdef class _Buffers:
    """The per-line arrays of one block, freed with the object."""

    cdef char* drops
    cdef char* loggers
    cdef Py_ssize_t* starts

    def __cinit__(self, Py_ssize_t count):
        self.drops = <char*>PyMem_Malloc(count + 1)
        self.loggers = <char*>PyMem_Malloc(count + 1)
        self.starts = <Py_ssize_t*>PyMem_Malloc((count + 1) * sizeof(Py_ssize_t))
        if self.drops == NULL or self.loggers == NULL or self.starts == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self.drops)
        PyMem_Free(self.loggers)
        PyMem_Free(self.starts)


def droppable(bytes data, Py_ssize_t count, tuple note_starts):
    """Return what ``nodemailer._droppable`` returns for a block, as lists: drop flags, logger flags, first opener.

    ``note_starts`` are the first 8 bytes of each of nodemailer._NOTE_STARTS.
    """
    cdef _Buffers arrays = _Buffers(count)
    cdef Py_ssize_t opener = _read_block(<text_t>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), count, note_starts,
                                         arrays.drops, arrays.loggers, arrays.starts)
    return ([bool(arrays.drops[i]) for i in range(count)], [bool(arrays.loggers[i]) for i in range(count)],
            None if opener < 0 else opener)


def scan(bytes data, Py_ssize_t count, tuple note_starts, bint raw=False, bint texts=False):
    """Return the kept positions, the noise count, the raw flags, the kept texts and the first opener of a block.

    As ``nodemailer.prefilter`` applies ``_droppable``: from the first opener
    on, every line is kept.  The flags are None without ``raw``, the texts
    None without ``texts``; the texts are decoded from ASCII, or from UTF-8
    if ``data`` is not all ASCII.
    """
    cdef _Buffers arrays = _Buffers(count)
    cdef text_t buf = <text_t>PyBytes_AS_STRING(data)
    cdef Py_ssize_t opener = _read_block(buf, PyBytes_GET_SIZE(data), count, note_starts, arrays.drops,
                                         arrays.loggers, arrays.starts)
    cdef Py_ssize_t cut = count if opener < 0 else opener, index
    cdef list positions = [], flags = [], kept_texts = []
    cdef bint utf8 = texts and not data.isascii()
    for index in range(count):
        if index < cut and arrays.drops[index]:
            continue
        positions.append(index)
        if raw:
            flags.append(arrays.loggers[index] != 0)
        if texts:
            kept_texts.append(decode(buf + arrays.starts[index], arrays.starts[index + 1] - 1 - arrays.starts[index],
                                     utf8))
    return (positions, count - len(positions), flags if raw else None, kept_texts if texts else None,
            None if opener < 0 else opener)

# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The smtplib prefilter as compiled code: one pass over a block's bytes.

:func:`smtplogkit.formats.smtplib.prefilter` finds with pyarrow which lines
of a block are debug lines with a time of day (and of which kind), then
leaves out the retcode summaries, ``data:`` lines and repeated greetings
that change nothing.  :func:`scan` gives the same result from the bytes,
and the kept lines as strings, so the reader does not decode them again.
``tests/formats/test_smtplib_scan.py`` compares both.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.string cimport memcmp

from ._bytes cimport decode, digit, line_end, text_t

# The length of ``HH:MM:SS.ffffff `` (smtplib.QUICK_STAMP), where the kind starts.
cdef enum:
    KIND_START = 16


cdef inline bint _stamped(text_t s, Py_ssize_t n) noexcept:
    """Whether a line starts with smtplib.QUICK_STAMP: a time of day with microseconds, then a space."""
    if n < KIND_START:
        return False
    if not ((s[0] == b"0" or s[0] == b"1") and digit(s[1]) or s[0] == b"2" and 48 <= s[1] <= 51):
        return False
    if s[2] != b":" or not 48 <= s[3] <= 53 or not digit(s[4]) or s[5] != b":" or not 48 <= s[6] <= 53:
        return False
    if not digit(s[7]) or s[8] != b".":
        return False
    cdef Py_ssize_t i
    for i in range(9, 15):
        if not digit(s[i]):
            return False
    return s[15] == b" "


cdef int _kind(text_t s, Py_ssize_t n, tuple kinds) noexcept:
    """Return the index + 1 of the first of ``kinds`` at KIND_START, or 0."""
    cdef bytes kind
    cdef Py_ssize_t size, index = 0
    for kind in kinds:
        index += 1
        size = PyBytes_GET_SIZE(kind)
        if KIND_START + size <= n and memcmp(s + KIND_START, PyBytes_AS_STRING(kind), size) == 0:
            return index
    return 0


def scan(bytes data, Py_ssize_t count, tuple kinds, list droppable, bint raw=False, bint texts=False):
    """Return what :func:`smtplogkit.formats.smtplib.prefilter` returns for a block whose lines, joined by LF, are ``data``.

    ``kinds`` are smtplib.QUICK_KINDS as bytes, ``droppable`` is
    smtplib._DROPPABLE.  With ``raw``, the flags of the kept lines follow;
    with ``raw`` and ``texts``, the kept lines too, as strings.
    """
    cdef text_t buf = <text_t>PyBytes_AS_STRING(data)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t* starts = <Py_ssize_t*>PyMem_Malloc((count + 1) * sizeof(Py_ssize_t))
    cdef int* codes = <int*>PyMem_Malloc((count + 1) * sizeof(int))  # + 1: never a request for 0 bytes
    if starts == NULL or codes == NULL:
        PyMem_Free(starts)
        PyMem_Free(codes)
        raise MemoryError()
    cdef Py_ssize_t index, start = 0, n, end
    cdef text_t s
    cdef list positions = [], flags = [], kept_texts = []
    cdef bint utf8 = not data.isascii()
    cdef bint drop
    try:
        for index in range(count):
            s = buf + start
            end = line_end(buf, start, size)
            starts[index] = start
            n = end - start
            codes[index] = _kind(s, n, kinds) if _stamped(s, n) else 0
            start = end + 1
        starts[count] = size + 1
        for index in range(count):
            drop = False
            if 0 < index < count - 1 and codes[index] and codes[index - 1] and codes[index + 1]:
                # Left out only between debug lines whose times do not go backwards.
                drop = (droppable[codes[index]][codes[index - 1]]
                        and memcmp(buf + starts[index - 1], buf + starts[index], 15) <= 0
                        and memcmp(buf + starts[index], buf + starts[index + 1], 15) <= 0)
            if drop:
                continue
            positions.append(index)
            if raw:
                flags.append(codes[index] > 0)
                if texts:
                    s = buf + starts[index]
                    n = starts[index + 1] - 1 - starts[index]
                    kept_texts.append(decode(s, n, utf8))
    finally:
        PyMem_Free(starts)
        PyMem_Free(codes)
    result = [positions, count - len(positions)]
    if raw:
        result.append(flags)
        if texts:
            result.append(kept_texts)
    return tuple(result)

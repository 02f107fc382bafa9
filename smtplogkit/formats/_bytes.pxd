# The byte-level helpers the compiled prefilters share (inline, so each module compiles them in).

from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeUTF8
from libc.string cimport memchr

ctypedef const unsigned char* text_t


cdef inline bint digit(unsigned char c) noexcept:
    """Whether a byte is an ASCII digit."""
    return 48 <= c <= 57


cdef inline object decode(text_t s, Py_ssize_t n, bint utf8):
    """Return ``n`` bytes as a string: from UTF-8 if the block is not all ASCII, else from ASCII."""
    if utf8:
        return PyUnicode_DecodeUTF8(<const char*>s, n, NULL)
    return PyUnicode_DecodeASCII(<const char*>s, n, NULL)


cdef inline Py_ssize_t line_end(text_t buf, Py_ssize_t start, Py_ssize_t size) noexcept:
    """Return where the line at ``start`` ends: the position of its LF, or ``size`` for the block's last line."""
    cdef const void* newline = memchr(buf + start, 10, size - start)
    return size if newline == NULL else <text_t>newline - buf

"""Postfix maillog lines, in classic syslog form (``Mar  2 08:14:03 relay postfix/smtp[2215]: ...``).

One message shows up as lines from several daemons joined by its queue id:
``smtpd`` (connect, ``client=``, disconnect with command counts),
``cleanup`` (``message-id=``), ``qmgr`` (``from=..., nrcpt=... (queue
active)`` and ``removed``) and ``smtp`` (``to=..., relay=..., delay=...,
delays=a/b/c/d, dsn=..., status=...``).  A deferred recipient comes back
through ``qmgr`` at the next retry.

Classic syslog stamps carry no year.  Readers take it from the date in the
file name (``relay/2026-03-02.log``); the generator also sets each file's
modification time to its last line, for tools that look there.
"""

from __future__ import annotations

import time

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def syslog_stamp(t: float) -> str:
    """Return ``Mar  2 08:14:03`` (day of month padded with a space)."""
    g = time.gmtime(int(t))
    return f"{MONTHS[g.tm_mon - 1]} {g.tm_mday:2d} {g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d}"


def delay_text(seconds: float) -> str:
    """Format a delay as Postfix does: two significant digits below 10 s, whole seconds above."""
    if seconds < 0.005:
        return "0"
    if seconds >= 10:
        return str(int(round(seconds)))
    if seconds >= 1:
        return f"{seconds:.1f}".rstrip("0").rstrip(".")
    return f"{seconds:.2f}".rstrip("0").rstrip(".")


def line(t: float, host: str, program: str, pid: int, text: str) -> str:
    """Return one maillog line."""
    return f"{syslog_stamp(t)} {host} postfix/{program}[{pid}]: {text}"

"""Tracebacks and error pages of Django's SMTP e-mail backend.

Notes
-----
Django sends mail through ``smtplib`` and prints no transcript unless the
backend's debug level is raised (that output is the ``smtplib`` format).
What users paste is a traceback through ``django/core/mail/backends/smtp.py``
ending in an ``smtplib`` exception, often wrapped in Django's own logging
(``Internal Server Error: /path``, runserver's ``"POST /path HTTP/1.1"
500`` line), or the text of the debug error page, where the exception is
split over ``Exception Type:`` and ``Exception Value:`` lines and
``Exception Location:`` names the function that raised it.  Error trackers
such as Sentry print the exception first and the frames after it, with
``(11 additional frame(s) were not displayed)``; both orders are read.

The file is claimed by this format only when it shows Django (frames, log
lines or the error page); a bare ``smtplib.SMTPRecipientsRefused: {...}``
line with no sign of Django is left to the ``smtplib`` format, which reads
it the same way.  ``SMTPRecipientsRefused`` lists every refused recipient
with its reply; the first reply gives the code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ..records import Event, Line, SessionEnd
from . import _python
from ._errors import SHOWN, ErrorSessions
from .base import ParseContext

NAME = "django"
DESCRIPTION = "Django e-mail backend tracebacks and debug error pages (smtplib underneath)"
CLIENT = "python-django"

DJANGO_RE = re.compile(r"django[/\\.](?:core[/\\.]mail|request|contrib)|Internal Server Error: /|Django Version:")
DETECT_SIGNS = (DJANGO_RE,)  # detect scores a sample only if a line matches it
SMTPLIB_DEBUG_RE = re.compile(r"(?:^|\s)(?:send: [b]?['\"]|reply: b['\"]|reply: retcode \()")
LOG_NOISE_RE = re.compile(
    r"^(?:Internal Server Error: /|\[[^\]]+\] \"[A-Z]+ \S+ HTTP/[\d.]+\" \d{3}|\"[A-Z]+ \S+ HTTP/[\d.]+\" \d{3}|"
    r"(?:Request Method|Request URL|Django Version|Exception Location|Python Executable|Python Version|"
    r"Python Path|Server time|Raised during|Traceback Switch to copy-and-paste view|Environment):)"
)
PAGE_TYPE_RE = re.compile(r"^Exception Type: (?P<name>\w+)")
PAGE_VALUE_RE = re.compile(r"^Exception Value:\s*(?P<value>.*)$")
PAGE_LOCATION_RE = re.compile(r"^Exception Location: .*, line \d+, in (?P<function>\w+)")


def detect(sample: list[str]) -> float:
    """Score a sample that shows Django and a Python exception, and no smtplib transcript."""
    if any(SMTPLIB_DEBUG_RE.search(text) for text in sample):
        return 0.0
    django = sum(1 for text in sample if DJANGO_RE.search(text))
    exceptions = sum(1 for text in sample if _python.parse_exception(text) is not None or "Exception Value:" in text)
    if not django or not exceptions:
        return 0.0
    return min(1.0, 0.6 + django / max(len(sample), 1))


def parse(lines: Iterable[Line], ctx: ParseContext) -> Iterator[Event | SessionEnd]:
    """Turn Django tracebacks and error pages into one session per failed attempt."""
    page = _ErrorPage()
    return _python.parse_errors(lines, ctx, other=page.read)


class _ErrorPage:
    """The copy-and-paste text of Django's debug error page."""

    def __init__(self) -> None:
        self.name: str | None = None

    def read(self, line: Line, sessions: ErrorSessions) -> list[Event | SessionEnd] | None:
        text = line.text.strip()
        kind = PAGE_TYPE_RE.match(text)
        if kind:
            self.name = kind.group("name")
            sessions.ctx.noise(line)
            return []
        value = PAGE_VALUE_RE.match(text)
        if value and self.name is not None:
            exception = _python.parse_exception(f"{self.name}: {value.group('value')}")
            self.name = None
            if exception is not None:
                raised = _python.RaisedException(line, exception["name"], exception["message"], exception["code"],
                                                 exception["reply"], exception["stage"])
                return list(_python.add_exception(line, raised, sessions))
        location = PAGE_LOCATION_RE.match(text)
        if location and sessions.record is not None:
            stage = _python.frame_stage([location.group("function")])
            sessions.attach(line, stage=stage, weight=SHOWN, evidence=stage is not None)
            return []
        if LOG_NOISE_RE.match(text):
            sessions.ctx.noise(line)
            return []
        return None

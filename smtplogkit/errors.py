"""Exceptions raised by smtplogkit.

::

    SmtpLogKitError
    ├── InputError          an input cannot be opened or decoded
    ├── FormatError         an unknown format name, or no format fits an input
    └── OptionError         an invalid reading option, such as an unknown time zone
"""

from __future__ import annotations


class SmtpLogKitError(Exception):
    """Root of every exception smtplogkit raises on purpose."""


class InputError(SmtpLogKitError, OSError):
    """An input path cannot be found, opened or decoded."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class FormatError(SmtpLogKitError, ValueError):
    """A format name is unknown, or no format parser fits an input."""


class OptionError(SmtpLogKitError, ValueError):
    """A reading option has an invalid value, such as an unknown time zone name."""

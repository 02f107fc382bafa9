"""Exceptions raised by smtplogkit.

::

    SmtpLogKitError
    ├── InputError          an input cannot be opened or decoded
    ├── FormatError         an unknown format name, or no format fits an input
    └── OptionError         an invalid reading option, such as an unknown time zone
"""

from __future__ import annotations

from typing import Any


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


def require_pandas_frame(frame: Any, argument: str, function: str) -> None:
    """Raise TypeError when ``frame`` is a Dask DataFrame or Series, which ``function`` cannot compute on.

    The type is recognised by its module name, so dask is never imported
    here: without dask installed, no frame can be one.
    """
    module = type(frame).__module__ or ""
    if module == "dask" or module.startswith(("dask.", "dask_expr")):
        raise TypeError(f"{function}() needs a pandas DataFrame as {argument}, not a {type(frame).__name__} "
                        f"from {module}; call .compute() on it first, after filtering it to the sessions "
                        f"you need, so the result fits in memory")

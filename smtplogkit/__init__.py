"""smtplogkit: find out why outgoing mail fails, from SMTP client and MTA logs.

``read_logs`` turns log files into a pandas DataFrame with one row per SMTP
connection attempt, tagged with the stage at which it failed and the cause.
pandas and the other heavy libraries load when first used, so importing
smtplogkit stays quick.
"""

from __future__ import annotations

from .errors import FormatError, InputError, SmtpLogKitError
from .deliveries import read_deliveries, read_signals
from .labels import Cause, Outcome, Stage, TlsMode
from .reader import read_events, read_logs

__all__ = [
    "Cause",
    "FormatError",
    "InputError",
    "Outcome",
    "SmtpLogKitError",
    "Stage",
    "TlsMode",
    "read_deliveries",
    "read_events",
    "read_logs",
    "read_signals",
]

__version__ = "0.1.0"

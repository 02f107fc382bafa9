"""smtplogkit: find out why outgoing mail fails, from SMTP client and MTA logs.

``read_logs`` turns log files into a pandas DataFrame with one row per SMTP
connection attempt, tagged with the stage at which it failed and the cause.
pandas and the other heavy libraries load when first used, so importing
smtplogkit stays quick.
"""

from __future__ import annotations

from . import native

native.install()  # before the compiled modules load: see smtplogkit/native.py

from .errors import FormatError, InputError, OptionError, SmtpLogKitError
from .deliveries import link_sessions, read_deliveries, read_signals
from .labels import Cause, Outcome, Stage, TlsMode
from .reader import SESSION_COLUMNS, read_events, read_logs

# Names loaded on first use, so that importing smtplogkit does not load pandas or scipy.
_LAZY = {
    "diagnose": ("smtplogkit.diagnosis", "diagnose"),
    "enrich": ("smtplogkit.enrichment", "enrich"),
    "token_refreshes": ("smtplogkit.enrichment", "token_refreshes"),
    "session_events": ("smtplogkit.reread", "session_events"),
    "Finding": ("smtplogkit.findings", "Finding"),
    "Findings": ("smtplogkit.findings", "Findings"),
}

__all__ = [
    "Cause",
    "Finding",
    "Findings",
    "FormatError",
    "InputError",
    "OptionError",
    "Outcome",
    "SESSION_COLUMNS",
    "SmtpLogKitError",
    "Stage",
    "TlsMode",
    "diagnose",
    "enrich",
    "link_sessions",
    "read_deliveries",
    "read_events",
    "read_logs",
    "read_signals",
    "session_events",
    "token_refreshes",
]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'smtplogkit' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

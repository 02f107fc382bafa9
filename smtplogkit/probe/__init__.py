"""Live layered probe of an SMTP server: DNS, TCP, TLS, greeting, EHLO, AUTH.

``probe("mail.example.com", port=587)`` runs each step from this machine,
times it, and returns a :class:`ProbeResult` with the steps and a verdict
such as "DNS ok, TCP ok, TLS failed: ...".  The decisions live in
:mod:`smtplogkit.probe.verdict`, which does no I/O; the other modules own the
sockets.  dnspython is imported only when a lookup runs.
"""

from __future__ import annotations

from .model import Attempt, ProbeResult, Step
from .runner import PASSWORD_ENV, TOKEN_ENV, ProbeError, burst_probe, probe, repeat_probe
from .table import render

__all__ = [
    "PASSWORD_ENV",
    "TOKEN_ENV",
    "Attempt",
    "ProbeError",
    "ProbeResult",
    "Step",
    "burst_probe",
    "probe",
    "render",
    "repeat_probe",
]

"""tls_mode_mismatch: the client's TLS mode does not match the port.

Covers implicit TLS spoken to a STARTTLS port (587, 25), STARTTLS or plain
text spoken to an implicit-TLS port (465), and a server that demands
STARTTLS the client never sent.  Minimum evidence: at least
``MIN_SESSIONS`` such sessions to one host and port in one TLS mode, at
least 40% of the sessions to that host and port in that mode between the
first and last of them, more often than elsewhere (Fisher p < 0.01).
"""

from __future__ import annotations

from .base import Context, Finding
from ._explicit import explicit_findings, names

KIND = "tls_mode_mismatch"
MIN_SESSIONS = 5
CAUSES = ("tls_mode_mismatch", "starttls_required")


def _advice(port: int | None, mode: str | None, cause: str) -> str:
    if cause == "starttls_required":
        return "Turn STARTTLS on in the client (or use implicit TLS on 465); the server refuses mail over plain text."
    if port == 465:
        return "Port 465 expects TLS from the first byte: set the client to implicit TLS (SMTPS), or switch to STARTTLS on 587."
    return f"Port {port} expects plain text upgraded with STARTTLS: switch the client to STARTTLS, or use implicit TLS on 465."


def detect(ctx: Context) -> list[Finding]:
    """Report each host and port where the client uses the wrong TLS mode."""
    def describe(key, rows, rates):
        host, port, _ = key
        mode = rows["tls_mode"].astype("string").mode()
        cause = str(rows["cause"].astype("string").mode().iloc[0])
        mode_text = str(mode.iloc[0]) if len(mode) else "unknown"
        return (f"TLS mode {mode_text} does not match {host}:{port} ({len(rows)} sessions, "
                f"{names(sorted(rows['network'].dropna().unique()))})",
                _advice(int(port) if port == port else None, mode_text, cause))

    return explicit_findings(ctx, kind=KIND, causes=CAUSES, by=["host", "port", "tls_mode"],
                             minimum=ctx.minimum(KIND, MIN_SESSIONS), base=0.92, describe=describe)

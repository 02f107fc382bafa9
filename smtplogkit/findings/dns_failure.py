"""dns_failure: the client cannot resolve the mail server's name.

Minimum evidence: at least ``MIN_SESSIONS`` DNS failures (NXDOMAIN or
resolver errors) for one host name, at least 40% of that name's lookups
between the first and last failure, more often than elsewhere (Fisher
p < 0.01).  When other networks resolve the same name, the scope names the
failing networks: their resolver is then the suspect.
"""

from __future__ import annotations

from .base import Context, Finding
from ._explicit import explicit_findings

KIND = "dns_failure"
MIN_SESSIONS = 5
CAUSES = ("dns_nxdomain", "dns_failure")


def detect(ctx: Context) -> list[Finding]:
    """Report each host name that does not resolve, and from where."""
    def describe(key, rows, rates):
        host = key
        failing = sorted(rows["network"].dropna().unique())
        fine = [n for n, rate in rates.items() if n not in failing and rate.total and rate.count == 0]
        if fine:
            return (f"{host} does not resolve from {', '.join(failing)} but does from {', '.join(fine)}",
                    f"Check the DNS resolver used on {', '.join(failing)} (dig {host} @RESOLVER): it fails or "
                    "filters the name there.")
        nxdomain = (rows["cause"].astype("string") == "dns_nxdomain").all()
        if nxdomain:
            return (f"{host} does not exist in DNS (NXDOMAIN)",
                    f"Fix the configured server name {host} (a typo, or a record that was removed).")
        return (f"lookups of {host} fail", f"Check the resolver and the name {host} with dig from the sending host.")

    return explicit_findings(ctx, kind=KIND, causes=CAUSES, by="host", minimum=ctx.minimum(KIND, MIN_SESSIONS),
                             base=0.9, describe=describe)

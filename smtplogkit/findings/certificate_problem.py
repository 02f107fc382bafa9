"""certificate_problem: the client rejects the server's TLS certificate.

Minimum evidence: at least ``MIN_SESSIONS`` sessions to one host failing
certificate verification, at least 40% of that host's sessions between the
first and last such failure, more often than elsewhere (Fisher p < 0.01).
When other networks reach the same host with working TLS, the summary
states it: a TLS-inspecting proxy on the failing networks is then likely.
"""

from __future__ import annotations

from .base import Context, Finding
from ._explicit import explicit_findings, names

KIND = "certificate_problem"
MIN_SESSIONS = 5
CAUSES = ("certificate_invalid",)


def detect(ctx: Context) -> list[Finding]:
    """Report each host whose certificate clients reject."""
    def describe(key, rows, rates):
        host = names(sorted(rows["host"].dropna().unique()))
        failing = set(rows["network"].dropna())
        fine = [n for n, rate in rates.items() if n not in failing and rate.total and rate.count == 0]
        if fine:
            return (f"TLS certificate of {host} rejected from {names(sorted(failing))} while {names(sorted(fine))} "
                    "verify it",
                    f"Compare the certificate {host} presents on {names(sorted(failing))} with the one seen elsewhere "
                    "(openssl s_client -connect HOST:PORT -starttls smtp): a TLS-inspecting proxy or a wrong DNS answer "
                    "on that network is likely; add the proxy's CA to the trust store or exempt SMTP from inspection.")
        return (f"TLS certificate of {host} rejected by clients",
                f"Check the certificate {host} presents (expiry, host name, chain) with openssl s_client; renew or fix "
                "it on the server, or connect with the host name the certificate names. Do not turn verification off.")

    return explicit_findings(ctx, kind=KIND, causes=CAUSES, by="host", minimum=ctx.minimum(KIND, MIN_SESSIONS),
                             base=0.9, describe=describe)

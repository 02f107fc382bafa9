"""reputation_block: a provider rejects mail because of the sending IP's or domain's reputation.

Minimum evidence: at least ``MIN_SESSIONS`` sessions rejected for
reputation (blocklists, Spamhaus, Microsoft/Yahoo blocks, Gmail "unsolicited
mail") at one host, making at least 40% of that host's sessions between the
first and last rejection, and more often than elsewhere (Fisher p < 0.01).
"""

from __future__ import annotations

from .base import Context, Finding
from ._explicit import explicit_findings, names

KIND = "reputation_block"
MIN_SESSIONS = 5
CAUSES = ("reputation_blocked",)


def detect(ctx: Context) -> list[Finding]:
    """Report each host that blocks the sender on reputation, narrowed to the networks it blocks."""
    def describe(key, rows, rates):
        hosts = names(sorted(rows["host"].dropna().unique()))
        networks = names(sorted(rows["network"].dropna().unique()))
        return (f"{hosts} rejects mail from {networks} on reputation",
                f"Look up the egress IP of {networks} on the blocklist named in the reply, fix the cause (open relay, "
                f"compromised account, missing SPF/DKIM), then ask {hosts} to delist it; meanwhile send through "
                "another egress or a relay with a good reputation.")

    return explicit_findings(ctx, kind=KIND, causes=CAUSES, by="host", minimum=ctx.minimum(KIND, MIN_SESSIONS),
                             base=0.9, describe=describe)

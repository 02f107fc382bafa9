"""greylisting: a receiving server defers first attempts and accepts retries.

Minimum evidence: at least ``MIN_SESSIONS`` greylisting deferrals from one
host, at least 10% of that host's sessions between the first and last
deferral, and more often there than elsewhere (Fisher p < 0.01).  The
retry delay is the median time from a deferral to the next accepted session
of the same identity (or network) at that host.
"""

from __future__ import annotations

import pandas as pd

from ..analysis import failed_mask
from .base import Context, Finding
from ._explicit import explicit_findings, names

KIND = "greylisting"
MIN_SESSIONS = 5
CAUSES = ("greylisted",)
MIN_SHARE = 0.1


def _retry_delays(sessions: pd.DataFrame, deferred: pd.DataFrame) -> list[float]:
    ok = sessions[sessions["cause"].astype("string") == "ok"].sort_values("start")
    delays = []
    for _, row in deferred.iterrows():
        sender = row["identity"] if pd.notna(row["identity"]) else None
        later = ok[(ok["host"] == row["host"]) & (ok["start"] > row["start"])]
        later = later[later["identity"] == sender] if sender is not None else later[later["network"] == row["network"]]
        if len(later):
            delays.append((later["start"].iloc[0] - row["start"]).total_seconds())
    return delays


def detect(ctx: Context) -> list[Finding]:
    """Report each host that greylists, with the retry delay that got mail through."""
    def describe(key, rows, rates):
        return (f"{names(sorted(rows['host'].dropna().unique()))} greylisted {len(rows)} deliveries; retries are accepted",
                "Nothing is broken if the sender retries: keep the messages queued and retry after the delay shown "
                "(do not treat 4xx replies as final), or ask the receiving site to allowlist the sending IP.")

    found = explicit_findings(ctx, kind=KIND, causes=CAUSES, by="host", minimum=ctx.minimum(KIND, MIN_SESSIONS),
                              base=0.9, describe=describe, min_share=MIN_SHARE)
    for finding in found:
        deferred = ctx.sessions[failed_mask(ctx.sessions, CAUSES) & ctx.sessions["host"].isin(finding.scope.hosts)]
        delays = _retry_delays(ctx.sessions, deferred)
        if delays:
            median = float(pd.Series(delays).median())
            finding.threshold = {"retry_after_s": round(median)}
            finding.evidence["retried_and_accepted"] = len(delays)
    return found

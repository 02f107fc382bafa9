"""greylisting: a receiving server defers first attempts and accepts retries.

Minimum evidence: at least ``MIN_SESSIONS`` greylisting deferrals from one
host, at least 10% of that host's sessions between the first and last
deferral, and more often there than elsewhere (Fisher p < 0.01).  The
retry delay is the shortest time from a deferral to the accepted retry of the
same message (the MTA's queue id), since the greylist window is at most that
long.  Without queue ids it is the median time to the next accepted session of
the same identity (or network) at that host, because other messages of that
sender make the shortest such time meaningless.
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


def _retry_delays(sessions: pd.DataFrame, deferred: pd.DataFrame) -> tuple[list[float], bool]:
    """Return the retry delays and whether they were matched by queue id."""
    ok = sessions[sessions["cause"].astype("string") == "ok"].sort_values("start")
    by_queue = "queue_id" in sessions.columns and deferred["queue_id"].notna().all()
    delays = []
    for _, row in deferred.iterrows():
        later = ok[(ok["host"] == row["host"]) & (ok["start"] > row["start"])]
        if by_queue:
            later = later[later["queue_id"] == row["queue_id"]]
        elif pd.notna(row["identity"]):
            later = later[later["identity"] == row["identity"]]
        else:
            later = later[later["network"] == row["network"]]
        if len(later):
            delays.append((later["start"].iloc[0] - row["start"]).total_seconds())
    return delays, by_queue


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
        delays, by_queue = _retry_delays(ctx.sessions, deferred)
        if delays:
            delay = pd.Series(delays)
            finding.threshold = {"retry_after_s": round(float(delay.min() if by_queue else delay.median()))}
            finding.evidence["retried_and_accepted"] = len(delays)
            finding.evidence["retry_delay_median_s"] = round(float(delay.median()))
    return found

"""rate_limit: a provider throttles a mailbox or a sending network.

Minimum evidence: at least ``MIN_SESSIONS`` throttle replies (Gmail 4.7.28,
Microsoft 4.7.650/651, "421 4.7.0 try again later", quotas) at one host,
and either a burst threshold (a step in the throttle rate along attempts per
1 or 10 minutes by identity or by network, Fisher p < 0.01, with at least
40% throttled above it) or throttles making at least 40% of that host's
sessions between the first and last throttle (a quota that runs out).
"""

from __future__ import annotations

import math

import pandas as pd

from ..analysis import Threshold, estimate_threshold
from .base import Context, Finding, clusters, confidence, earned, examples, scope_of
from ._explicit import cluster_evidence, names

KIND = "rate_limit"
MIN_SESSIONS = 5
CAUSES = ("rate_limited",)
FEATURES = {
    "burst_identity_1m": ("per_minute", "identity"),
    "burst_identity_10m": ("per_10_minutes", "identity"),
    "burst_network_1m": ("per_minute", "network"),
    "burst_network_10m": ("per_10_minutes", "network"),
}


def _best_threshold(ctx: Context, rows: pd.DataFrame, mask: pd.Series) -> tuple[str, Threshold] | None:
    """Return the burst variable whose step separates throttled from accepted sessions best."""
    best: tuple[str, Threshold] | None = None
    codes = (rows["reply_code"].astype("string").fillna("") + " " + rows["enhanced_code"].astype("string").fillna("")).str.strip()
    for feature in FEATURES:
        if feature not in rows.columns:
            continue
        found = estimate_threshold(rows[feature], mask.loc[rows.index], variable=feature, codes=codes,
                                   min_side=ctx.minimum(KIND, MIN_SESSIONS))
        if found is None or found.p_value >= ctx.alpha or found.above.low < ctx.min_share:
            continue
        if best is None or found.p_value < best[1].p_value:
            best = (feature, found)
    return best


def detect(ctx: Context) -> list[Finding]:
    """Report each throttling host, with the burst rate above which it throttles."""
    minimum = ctx.minimum(KIND, MIN_SESSIONS)
    mask = ctx.of_causes(CAUSES)
    found = []
    for cluster in clusters(ctx, mask, "host", minimum=minimum):
        host_rows = ctx.sessions[(ctx.sessions["host"] == cluster.key).fillna(False)]
        best = _best_threshold(ctx, host_rows, mask)
        if best is None and not earned(ctx, cluster, minimum):
            continue
        rows = cluster.failures
        if best is not None:
            rows = rows[rows[best[0]] >= best[1].cut]  # the throttles the burst threshold explains
        evidence = {**cluster_evidence(cluster), "failures": len(rows)}
        threshold: dict = {}
        senders = names(sorted(rows["identity"].dropna().unique())) or names(sorted(rows["network"].dropna().unique()))
        if best is not None:
            feature, step = best
            unit, basis = FEATURES[feature]
            limit = math.floor(step.value)
            threshold = {unit: limit}
            evidence["burst_threshold"] = {**step.as_dict(), "counted_per": basis}
            window = "minute" if unit == "per_minute" else "10 minutes"
            summary = f"{cluster.key} throttles {senders} above {limit} attempts per {window} per {basis}"
            step_text = (f"Keep each {basis} under {limit} messages per {window} at {cluster.key}: queue and pace "
                         "sends, reuse one connection for several messages, and back off when a 4xx throttle reply "
                         "comes.")
            p_value = step.p_value
        else:
            summary = f"{cluster.key} throttles {senders} (a quota ran out; no burst threshold)"
            step_text = (f"Check the sending quota of {senders} at {cluster.key} (daily or hourly limits) and spread the "
                         "volume over more time or more accounts, or ask the provider for a higher limit.")
            p_value = cluster.p_value
        found.append(Finding(KIND, confidence(len(rows), p_value, 0.9), summary, scope_of(rows), evidence,
                             examples(rows), step_text, threshold))
        ctx.claim(rows.index)
    return found

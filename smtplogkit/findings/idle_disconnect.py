"""idle_disconnect: connections die when they sit idle longer than a timeout.

Minimum evidence: at least ``MIN_SESSIONS`` sessions to one host that ended
with the server (or something on the path) closing, resetting or going
silent, and a step in that rate along the idle gap since the identity's
previous attempt (Fisher p < 0.01), fitted on the senders whose own
failures show that step, with at least 40% failing above it and
at least ``MIN_SESSIONS`` failures above it.
"""

from __future__ import annotations

import math

from ..analysis import estimate_threshold
from .base import Context, Finding, confidence, examples, scope_of
from ._explicit import names, reply_codes

KIND = "idle_disconnect"
MIN_SESSIONS = 5
CAUSES = ("server_disconnected", "connection_reset", "read_timeout")


def _senders_with_step(ctx: Context, rows, mask):
    """Return a mask of rows from senders whose own disconnects step up with the idle gap.

    Other senders open a fresh connection per message (or hit a disconnect
    by chance), so their long gaps without failures would dilute the step.
    """
    senders = rows["identity"].astype("string").fillna("@" + rows["network"].astype("string"))
    keep = set()
    failures = senders[mask.loc[rows.index]].value_counts()
    for sender in failures[failures >= 2].index:  # one disconnect is chance, not a pattern
        own = rows[senders == sender]
        step = estimate_threshold(own["idle_gap_s"], mask.loc[own.index], min_side=3)
        if step is not None and step.p_value < ctx.alpha:
            keep.add(sender)
    return senders.isin(keep)


def detect(ctx: Context) -> list[Finding]:
    """Report each host where sessions die after an idle gap, with the gap."""
    if "idle_gap_s" not in ctx.sessions.columns:
        return []
    minimum = ctx.minimum(KIND, MIN_SESSIONS)
    mask = ctx.of_causes(CAUSES)
    found = []
    for host in sorted(ctx.sessions.loc[mask, "host"].dropna().unique()):
        rows = ctx.sessions[(ctx.sessions["host"] == host).fillna(False) & ctx.sessions["idle_gap_s"].notna()]
        rows = rows[_senders_with_step(ctx, rows, mask)]
        step = estimate_threshold(rows["idle_gap_s"], mask.loc[rows.index], variable="idle_gap_s", min_side=minimum)
        if step is None or step.p_value >= ctx.alpha or step.above.low < ctx.min_share or step.above.count < minimum:
            continue
        failing = rows[mask.loc[rows.index] & (rows["idle_gap_s"] >= step.cut)]
        limit = math.floor(step.value)
        networks = names(sorted(failing["network"].dropna().unique()))
        summary = f"connections to {host} from {networks} die after more than {limit} s idle"
        next_step = (f"Close pooled connections idle for more than {limit} s (or send NOOP and reconnect on error) "
                     f"before reusing them; if a NAT or firewall on {networks} drops idle flows, raise its timeout.")
        evidence = {"failures": len(failing), "idle_gap_threshold": step.as_dict(), "reply_codes": reply_codes(failing)}
        found.append(Finding(KIND, confidence(len(failing), step.p_value, 0.8), summary, scope_of(failing), evidence,
                             examples(failing), next_step, {"idle_s": limit}))
        ctx.claim(failing.index)
    return found

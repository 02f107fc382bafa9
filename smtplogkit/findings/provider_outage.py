"""provider_outage: a mail server fails for every network for a while, then recovers.

Minimum evidence: for one host, a time segment found by change points
(Fisher p < 0.001 at each boundary) in which at least ``MIN_SESSIONS``
sessions fail to connect, are dropped, time out or get "service not
available", making at least 40% of that host's sessions in the segment;
healthy sessions before or after the segment; and every network with at
least three sessions in the segment failing in at least half of them.
Sessions another finding explains (firewall, idle disconnects) are left
out first.
"""

from __future__ import annotations

from ..analysis import Rate, change_points
from .base import Context, Finding, confidence, examples, scope_of
from ._egress import in_window
from ._explicit import names, reply_codes

KIND = "provider_outage"
MIN_SESSIONS = 10
CAUSES = ("server_unavailable", "connect_timeout", "connect_refused", "connection_reset", "server_disconnected",
          "read_timeout", "tls_handshake_failure")


def _segments(points: list) -> list[tuple]:
    """Pair each 'starts' change point with the next 'stops' one (or the end of the log)."""
    segments = []
    for i, point in enumerate(points):
        if point.direction != "starts":
            continue
        stop = next((p for p in points[i + 1:] if p.direction == "stops"), None)
        segments.append((point, stop))
    return segments


def detect(ctx: Context) -> list[Finding]:
    """Report each window in which a host failed for everyone."""
    minimum = ctx.minimum(KIND, MIN_SESSIONS)
    mask = ctx.of_causes(CAUSES)
    unclaimed = ctx.sessions[~ctx.sessions.index.isin(list(ctx.claimed))]
    found = []
    for host in sorted(unclaimed.loc[mask.loc[unclaimed.index], "host"].dropna().unique()):
        rows = unclaimed[(unclaimed["host"] == host).fillna(False)]
        points = change_points(rows["start"], mask.loc[rows.index], min_size=minimum // 2, alpha=1e-3)
        for start_point, stop_point in _segments(points):
            end = stop_point.time if stop_point is not None else rows["start"].max()
            segment = in_window(rows, start_point.time, end)
            if stop_point is not None:
                segment = segment[segment["start"] < end]
            failing = segment[mask.loc[segment.index]]
            rate = Rate.of(len(failing), len(segment))
            if rate.count < minimum or rate.low < ctx.min_share:
                continue
            by_network = {str(n): Rate.of(int(mask.loc[g.index].sum()), len(g)) for n, g in segment.groupby("network", observed=True)}
            if any(r.total >= 3 and r.rate < 0.5 for r in by_network.values()):
                continue
            evidence = {"failures": rate.count, "failure_share_in_window": rate.as_dict(),
                        "before": start_point.before.as_dict(), "p_value": float(f"{start_point.p_value:.3g}"),
                        "by_network": {n: r.as_dict() for n, r in by_network.items()}, "reply_codes": reply_codes(failing)}
            if stop_point is not None:
                evidence["after"] = stop_point.after.as_dict()
            networks = sorted(by_network)
            until = f"until {stop_point.time.isoformat()}" if stop_point is not None else "until the end of the log"
            summary = f"{host} failed for {names(networks)} from {start_point.time.isoformat()} {until}"
            if len(networks) < 2:
                summary += " (seen from one network only, so a fault on that network looks the same)"
            next_step = (f"Check the status page of the provider behind {host} for this window and keep retrying "
                         "with backoff; if it persists, fail over to a second relay.")
            base = 0.8 if len(networks) >= 2 else 0.55
            found.append(Finding(KIND, confidence(rate.count, start_point.p_value, base), summary,
                                 scope_of(failing, start=start_point.time, end=end), evidence, examples(failing),
                                 next_step))
            ctx.claim(failing.index)
    return found

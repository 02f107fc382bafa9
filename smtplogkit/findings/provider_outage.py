"""provider_outage: a mail server fails for every network for a while, then recovers.

Minimum evidence: for one host, a run of time segments between change
points (Fisher p < 0.001 at each boundary) in which at least ``MIN_SESSIONS``
sessions fail to connect, are dropped, time out or get "service not
available", making at least 40% of that host's sessions in the segment;
healthy sessions before or after the segment; and every network with at
least three sessions in the segment failing in at least half of them.
Sessions another finding explains (firewall, idle disconnects) are left
out first.
"""

from __future__ import annotations

import pandas as pd

from ..analysis import Rate, change_points
from .base import Context, Finding, confidence, examples, scope_of
from ._egress import in_window
from ._explicit import names, reply_codes

KIND = "provider_outage"
MIN_SESSIONS = 10
CAUSES = ("server_unavailable", "connect_timeout", "connect_refused", "connection_reset", "server_disconnected",
          "read_timeout", "tls_handshake_failure")


def _outage_windows(rows: pd.DataFrame, failed: pd.Series, points: list, min_share: float) -> list[tuple]:
    """Return (start, stop, before, after) for each run of failing segments between change points.

    Adjacent segments whose failure share clears ``min_share`` merge into one
    window.  ``stop`` is None when the window lasts to the end of the log;
    ``before`` and ``after`` are the rates of the neighbouring segments.
    """
    times = [rows["start"].min(), *[p.time for p in points], None]
    segments = []
    for begin, end in zip(times[:-1], times[1:]):
        inside = (rows["start"] >= begin) & ((rows["start"] < end) if end is not None else True)
        part = failed[inside.fillna(False)]
        rate = Rate.of(int(part.sum()), len(part))
        segments.append((begin, end, rate, rate.total > 0 and rate.low >= min_share))
    windows = []
    i = 0
    while i < len(segments):
        if not segments[i][3]:
            i += 1
            continue
        j = i
        while j + 1 < len(segments) and segments[j + 1][3]:
            j += 1
        before = segments[i - 1][2] if i > 0 else None
        after = segments[j + 1][2] if j + 1 < len(segments) else None
        if before is not None or after is not None:  # healthy sessions before or after
            windows.append((segments[i][0], segments[j][1], before, after))
        i = j + 1
    return windows


def detect(ctx: Context) -> list[Finding]:
    """Report each window in which a host failed for everyone."""
    minimum = ctx.minimum(KIND, MIN_SESSIONS)
    mask = ctx.of_causes(CAUSES)
    unclaimed = ctx.sessions[~ctx.sessions.index.isin(list(ctx.claimed)) & ctx.sessions["start"].notna()]
    found = []
    for host in sorted(unclaimed.loc[mask.loc[unclaimed.index], "host"].dropna().unique()):
        rows = unclaimed[(unclaimed["host"] == host).fillna(False)]
        failed = mask.loc[rows.index]
        points = change_points(rows["start"], failed, min_size=minimum // 2, alpha=1e-3)
        p_value = min((p.p_value for p in points), default=1.0)
        for begin, stop, before, after in _outage_windows(rows, failed, points, ctx.min_share):
            end = stop if stop is not None else rows["start"].max()
            segment = in_window(rows, begin, end)
            if stop is not None:
                segment = segment[segment["start"] < stop]
            failing = segment[mask.loc[segment.index]]
            rate = Rate.of(len(failing), len(segment))
            if rate.count < minimum:
                continue
            by_network = {str(n): Rate.of(int(mask.loc[g.index].sum()), len(g)) for n, g in segment.groupby("network", observed=True)}
            if any(r.total >= 3 and r.rate < 0.5 for r in by_network.values()):
                continue
            evidence = {"failures": rate.count, "failure_share_in_window": rate.as_dict(),
                        "p_value": float(f"{p_value:.3g}"),
                        "by_network": {n: r.as_dict() for n, r in by_network.items()}, "reply_codes": reply_codes(failing)}
            if before is not None:
                evidence["before"] = before.as_dict()
            if after is not None:
                evidence["after"] = after.as_dict()
            networks = sorted(by_network)
            start = failing["start"].min()
            until = f"until {stop.isoformat()}" if stop is not None else "until the end of the log"
            if networks:
                summary = f"{host} failed for {names(networks)} from {start.isoformat()} {until}"
            else:
                summary = f"{host} failed from {start.isoformat()} {until}"
            if len(networks) == 1:
                summary += " (seen from one network only, so a fault on that network looks the same)"
            elif not networks:
                summary += (" (no session has a network label, so a fault on the senders' network looks the same;"
                            " label the logs by network to tell them apart)")
            next_step = (f"Check the status page of the provider behind {host} for this window and keep retrying "
                         "with backoff; if it persists, fail over to a second relay.")
            base = 0.8 if len(networks) >= 2 else 0.55
            found.append(Finding(KIND, confidence(rate.count, p_value, base), summary,
                                 scope_of(failing, end=end), evidence, examples(failing), next_step))
            ctx.claim(failing.index)
    return found

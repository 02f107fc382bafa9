"""firewall_block: egress from some networks to a host and port is dropped or refused while other networks reach it.

Minimum evidence: for one host and port, at least ``MIN_SESSIONS``
connection timeouts, refusals or unreachable errors from a network, making at
least 40% of that network's attempts there between the first and last
failure; at least ``MIN_WORKING`` connections from other networks to the
same host and port established in that window; Fisher's test (the blocked
network against the others) p < 0.01.  Blocked networks with the same port
and the same set of hosts form one finding.  A network whose failures all
went to IPv6 addresses while it connected to the host over IPv4 is left
out (see :func:`_reached_over_ipv4`).
"""

from __future__ import annotations

import pandas as pd

from ..analysis import Rate, change_points, fisher_p
from .base import Context, Finding, confidence, examples, scope_of
from ._egress import CONNECT_CAUSES, connected, in_window, outcome_words, window_rate
from ._explicit import names

KIND = "firewall_block"
MIN_SESSIONS = 5
MIN_WORKING = 3


def _blocked_cells(ctx: Context, minimum: int) -> list[dict]:
    """Return one record per (network, host, port) that is blocked while others get through."""
    sessions = ctx.sessions
    mask = ctx.of_causes(CONNECT_CAUSES)
    reached = connected(sessions)
    cells = []
    for (host, port), target in sessions[sessions["port"].notna()].groupby(["host", "port"], observed=True):
        for network, own in target.groupby("network", observed=True):
            rate, failing = window_rate(own, mask)
            if rate.count < minimum or rate.low < ctx.min_share:
                continue
            if _reached_over_ipv4(own, failing, reached):
                continue
            others = in_window(target[target["network"] != network], failing["start"].min(), failing["start"].max())
            working = int(reached.loc[others.index].sum())
            if working < MIN_WORKING:
                continue
            other_rate = Rate.of(int(mask.loc[others.index].sum()), len(others))
            p_value = fisher_p(rate.count, rate.total, other_rate.count, other_rate.total)
            if p_value >= ctx.alpha:
                continue
            since = [p for p in change_points(own["start"], mask.loc[own.index]) if p.direction == "starts"]
            cells.append({"network": network, "host": host, "port": int(port), "rate": rate, "others": other_rate,
                          "p_value": p_value, "failing": failing, "since": since[0].time if since else None})
    return cells


def _reached_over_ipv4(own: pd.DataFrame, failing: pd.DataFrame, reached: pd.Series) -> bool:
    """Return True when every failure went to an IPv6 address and the network connected over IPv4 meanwhile.

    A client that tries IPv6 first and falls back to IPv4 (curl, Happy
    Eyeballs) logs each failed IPv6 attempt.  If the same network reached the
    host over IPv4, no firewall blocks the path: its IPv6 route is missing,
    and the mail went out.
    """
    failing_ips = failing["ip"].astype("string")
    if failing_ips.isna().any() or not failing_ips.str.contains(":", regex=False).all():
        return False
    window = in_window(own, failing["start"].min(), failing["start"].max())
    ipv4 = ~window["ip"].astype("string").str.contains(":", regex=False).fillna(True)
    return bool((reached.loc[window.index] & ipv4).any())


def detect(ctx: Context) -> list[Finding]:
    """Report each network-to-host:port path that a firewall blocks."""
    minimum = ctx.minimum(KIND, MIN_SESSIONS)
    cells = _blocked_cells(ctx, minimum)
    by_target: dict[tuple, list[dict]] = {}
    for cell in cells:
        by_target.setdefault((cell["host"], cell["port"]), []).append(cell)
    groups: dict[tuple, list[dict]] = {}
    for (host, port), blocked in by_target.items():
        networks = tuple(sorted(c["network"] for c in blocked))
        groups.setdefault((port, networks), []).extend(blocked)

    found = []
    for (port, networks), blocked in groups.items():
        failing = pd.concat([c["failing"] for c in blocked])
        hosts = sorted({c["host"] for c in blocked})
        p_value = max(c["p_value"] for c in blocked)
        evidence = {"failures": len(failing),
                    "blocked": {f"{c['network']} -> {c['host']}:{c['port']}": c["rate"].as_dict() for c in blocked},
                    "other_networks": {f"{c['host']}:{c['port']}": c["others"].as_dict() for c in blocked},
                    "p_value": float(f"{p_value:.3g}")}
        since = [c["since"] for c in blocked if c["since"] is not None]
        if since:
            evidence["worked_until"] = min(since).isoformat()
        summary = (f"connections from {names(list(networks))} to {names(hosts)} port {port} are "
                   f"{outcome_words(failing)} while other networks reach them")
        next_step = (f"Open egress from {names(list(networks))} to {names(hosts)} on TCP port {port} in the firewall or "
                     "security group (timeouts mean a rule drops the packets, refusals that a rule or proxy rejects "
                     "them), or route mail through a network that reaches the server.")
        found.append(Finding(KIND, confidence(len(failing), p_value, 0.85), summary, scope_of(failing), evidence,
                             examples(failing), next_step))
        ctx.claim(failing.index)
    return found
